//! `vigil.reloadProcess(name, wait=True)`: a program's `reloadsignal` for a graceful reload,
//! to one process, a group's (`group:*`) or every process that has one (`all`). The
//! signals go out first; with `wait`, the reloads a `ready=notify` program announces
//! (`RELOADING=1`, then `READY=1`) are then waited for together, each at most its
//! `ready_timeout`.

use std::time::Duration;

use super::Outcome;
use crate::config::Readiness;
use crate::namespec::Namespec;
use crate::process::state::State;
use crate::rpc::args::Args;
use crate::rpc::codec::Value;
use crate::rpc::faults::{Fault, FaultCode};
use crate::rpc::{lookup, render, Api};
use crate::supervisor::{Control, ProcKey, ProcessView};

/// `vigil.reloadProcess(name, wait=True)`: one process's refusal is a fault; a group's or
/// all's come in the result list (the group's running members without a `reloadsignal`
/// among them, `all` only those with one).
pub(super) async fn reload(api: &Api, args: Args<'_>) -> Outcome {
    let (namespec, wait) = args.string_and_wait()?;
    let processes = match Namespec::parse(namespec) {
        // `all` as supervisorctl means it; a process named all is `all:all`.
        _ if namespec == "all" => lookup::in_start_order(api, None)
            .into_iter()
            .filter(|p| p.config.reload_signal.is_some())
            .collect(),
        Namespec::Group(group) => lookup::group_members(api, &group)?,
        Namespec::Process { .. } => {
            let process = lookup::process(api, namespec)?;
            let sent = send(api, &process).await?;
            if wait {
                reloaded(api, sent).await?;
            }
            return Ok(Value::Array(vec![render::result_entry(&process, &Ok(()))]));
        }
    };
    let mut results = Vec::with_capacity(processes.len());
    let mut waits = tokio::task::JoinSet::new();
    let reloadable = processes
        .into_iter()
        .filter(|p| matches!(p.state, State::Running { .. } | State::Starting { .. }));
    for process in reloadable {
        match send(api, &process).await {
            Ok(sent) if wait && sent.announces => {
                let api = api.clone();
                waits.spawn(async move {
                    let outcome = reloaded(&api, sent).await;
                    (process, outcome)
                });
            }
            outcome => results.push(render::result_entry(&process, &outcome.map(|_| ()))),
        }
    }
    // As the group calls: each result once its wait is over.
    while let Some(joined) = waits.join_next().await {
        if let Ok((process, outcome)) = joined {
            results.push(render::result_entry(&process, &outcome));
        }
    }
    Ok(Value::Array(results))
}

/// A reload signal sent, and what its end is told by.
struct Sent {
    key: ProcKey,
    namespec: String,
    /// The child signalled.
    pid: Option<i32>,
    /// Its reloads finished before the signal.
    done_before: u64,
    /// `ready=notify`: it announces its reloads.
    announces: bool,
    limit: Duration,
}

/// Sends `process` its reload signal, noting first (from the latest view) what its end
/// will be told by.
async fn send(api: &Api, process: &ProcessView) -> Result<Sent, Fault> {
    let namespec = process.namespec();
    let key = lookup::key_of(process);
    let now = lookup::process(api, &namespec).unwrap_or_else(|_| process.clone());
    let sent = Sent {
        key: key.clone(),
        namespec: namespec.clone(),
        pid: now.state.pid(),
        done_before: now.announced.reloads_done,
        announces: now.config.ready == Readiness::Notify,
        limit: now.config.ready_timeout,
    };
    api.handle
        .request(move |reply| Control::Reload(key, reply))
        .await
        .map_err(|refusal| Fault::refused(refusal, &namespec))?;
    Ok(sent)
}

/// Waits until a `ready=notify` program has finished the reload it was sent (a reload
/// counted after the signal, by the same child); at once for other programs.
async fn reloaded(api: &Api, sent: Sent) -> Result<(), Fault> {
    if !sent.announces {
        return Ok(());
    }
    let changes = api.handle.changes_of(&sent.key);
    let over = async {
        loop {
            let next = changes.next();
            tokio::pin!(next);
            next.as_mut().enable();
            let view = api
                .handle
                .snapshot()
                .process(&sent.key.0, &sent.key.1)
                .cloned();
            match view {
                Some(view) if view.state.pid() == sent.pid && sent.pid.is_some() => {
                    if view.announced.reloads_done > sent.done_before {
                        return Ok(());
                    }
                }
                _ => {
                    return Err(Fault::with(
                        FaultCode::AbnormalTermination,
                        sent.namespec.clone(),
                    ))
                }
            }
            if changes.ended() {
                return Err(Fault::bare(FaultCode::ShutdownState));
            }
            next.await;
        }
    };
    tokio::time::timeout(sent.limit, over)
        .await
        .unwrap_or_else(|_| {
            Err(Fault::with(
                FaultCode::Failed,
                format!(
                    "{}: no RELOADING=1 then READY=1 within {}s (ready_timeout)",
                    sent.namespec,
                    sent.limit.as_secs_f64()
                ),
            ))
        })
}
