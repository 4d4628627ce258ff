//! The methods about supervisord itself and its config: versions, identification, state and
//! pid, shutdown and restart, `reloadConfig`, adding and removing groups (and vigil's
//! `updateProcessGroup`), `getAllConfigInfo`, and `sendRemoteCommEvent`. Changes go to the
//! supervisor as `Control`s; nothing here touches a process directly.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::Outcome;
use crate::rpc::args::Args;
use crate::rpc::codec::Value;
use crate::rpc::faults::{Fault, FaultCode};
use crate::rpc::wait::{self, Goal};
use crate::rpc::{render, Api, API_VERSION, SUPERVISOR_VERSION};
use crate::supervisor::{Control, Reply};

/// `getAPIVersion()` / `getVersion()`.
pub(super) fn api_version(args: Args<'_>) -> Outcome {
    args.none().map(|()| Value::from(API_VERSION))
}

/// `getSupervisorVersion()`.
pub(super) fn supervisor_version(args: Args<'_>) -> Outcome {
    args.none().map(|()| Value::from(SUPERVISOR_VERSION))
}

/// `getIdentification()`.
pub(super) fn identification(api: &Api, args: Args<'_>) -> Outcome {
    args.none()
        .map(|()| Value::from(api.identification.clone()))
}

/// `getState()`: `{statecode, statename}`.
pub(super) fn state(api: &Api, args: Args<'_>) -> Outcome {
    args.none()?;
    let state = api.handle.snapshot().state;
    Ok(Value::record([
        ("statecode", Value::Int(state.code())),
        ("statename", Value::from(state.name())),
    ]))
}

/// `getPID()`.
pub(super) fn pid(args: Args<'_>) -> Outcome {
    args.none()
        .map(|()| Value::Int(i64::from(std::process::id())))
}

/// `vigil.getDaemonInfo()`: the vigild running now: its vigil version, pid, the handovers
/// to a new image so far (`vigilctl reexec` waits for that count to grow), config reloads
/// and the newest handover record version it reads.
pub(super) fn daemon_info(api: &Api, args: Args<'_>) -> Outcome {
    args.none()?;
    let snapshot = api.handle.snapshot();
    let count = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
    Ok(Value::record([
        ("version", Value::from(env!("CARGO_PKG_VERSION"))),
        ("pid", Value::Int(i64::from(std::process::id()))),
        ("reexecs", count(snapshot.reexecs)),
        ("config_reloads", count(snapshot.config_reloads)),
        (
            "handover_version",
            Value::Int(i64::from(crate::handover::VERSION)),
        ),
    ]))
}

/// `shutdown()`.
pub(super) fn shutdown(api: &Api, args: Args<'_>) -> Outcome {
    args.none()?;
    api.handle.send(Control::Shutdown);
    Ok(Value::Bool(true))
}

/// `restart()`: the same path as SIGHUP: re-read the config, keep the fleet if it is bad.
pub(super) fn restart(args: Args<'_>) -> Outcome {
    args.none()?;
    let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGHUP);
    Ok(Value::Bool(true))
}

/// Asks the supervisor something and awaits the answer; a supervisor that has gone is
/// SHUTDOWN_STATE.
pub(super) async fn ask<T>(
    api: &Api,
    make: impl FnOnce(oneshot::Sender<T>) -> Control,
) -> Result<T, Fault> {
    let (reply, answer) = oneshot::channel();
    if !api.handle.send(make(reply)) {
        return Err(Fault::bare(FaultCode::ShutdownState));
    }
    answer
        .await
        .map_err(|_| Fault::bare(FaultCode::ShutdownState))
}

/// `reloadConfig()`: the config file read again (off the runtime), its groups compared
/// with those in use: `[[added, changed, removed]]`. A config that does not load is
/// CANT_REREAD with every problem.
pub(super) async fn reload_config(api: &Api, args: Args<'_>) -> Outcome {
    args.none()?;
    let config = reread(api, None).await?;
    let diff = ask(api, |reply| Control::Reread(Box::new(config), reply)).await?;
    Ok(render::group_diff(diff))
}

/// The config file read again off the runtime, with the scaled groups at their sizes (as
/// long as the file allows) and `asked` besides; CANT_REREAD with every problem.
pub(in crate::rpc) async fn reread(
    api: &Api,
    asked: Option<crate::config::Asked>,
) -> Result<crate::config::Config, Fault> {
    let reread = Arc::clone(&api.reread);
    let scaling = crate::config::Scaling {
        kept: api.handle.snapshot().scales.to_vec(),
        asked,
    };
    tokio::task::spawn_blocking(move || reread(&scaling))
        .await
        .map_err(|err| Fault::with(FaultCode::Failed, err.to_string()))?
        .map_err(|errors| Fault::with(FaultCode::CantReread, errors.to_string()))
}

/// `addProcessGroup(name)` (with [`Control::AddGroup`]) and `removeProcessGroup(name)`
/// (with [`Control::RemoveGroup`]).
pub(super) async fn change_group(
    api: &Api,
    args: Args<'_>,
    control: fn(String, Reply) -> Control,
) -> Outcome {
    let group = args.string()?;
    let request = group.to_string();
    api.handle
        .request(move |reply| control(request, reply))
        .await
        .map_err(|refusal| Fault::refused(refusal, group))?;
    Ok(Value::Bool(true))
}

/// `getAllConfigInfo()`: every process config, in use or not.
pub(super) async fn all_config_info(api: &Api, args: Args<'_>) -> Outcome {
    args.none()?;
    let infos = ask(api, Control::ConfigInfo).await?;
    Ok(Value::Array(
        infos.iter().map(render::config_info).collect(),
    ))
}

/// `sendRemoteCommEvent(type, data)`: a REMOTE_COMMUNICATION event for the listeners.
pub(super) fn send_remote_comm_event(api: &Api, args: Args<'_>) -> Outcome {
    let (kind, data) = args.two_strings()?;
    api.events
        .publish(crate::events::Event::remote_communication(kind, data));
    Ok(Value::Bool(true))
}

/// `vigil.updateProcessGroup(name)`: applies the reread config to one group: the members
/// whose config changed are stopped (waiting), then the group's members are replaced, so
/// only those restart.
pub(super) async fn update_process_group(api: &Api, args: Args<'_>) -> Outcome {
    let group = args.string()?;
    let _under_way = api.sequences.begin(format!("an update of {group}"));
    let request = group.to_string();
    let stale = ask(api, |reply| Control::StaleMembers(request, reply))
        .await?
        .map_err(|refusal| Fault::refused(refusal, group))?;
    replace_members(api, group, &stale).await?;
    Ok(Value::Bool(true))
}

/// Stops the `stale` members of `group` through the normal stop path (waiting), then gives
/// the group its latest members: unchanged ones keep running, new ones start.
pub(super) async fn replace_members(
    api: &Api,
    group: &str,
    stale: &[crate::supervisor::ProcKey],
) -> Result<(), Fault> {
    let snapshot = api.handle.snapshot();
    for (group_name, process_name) in stale {
        if let Some(process) = snapshot.process(group_name, process_name) {
            match wait::one(api, process, Goal::Stop, true).await {
                Ok(()) => {}
                Err(fault) if fault.code == FaultCode::NotRunning => {}
                Err(fault) => return Err(fault),
            }
        }
    }
    let request = group.to_string();
    api.handle
        .request(move |reply| Control::ReplaceMembers(request, reply))
        .await
        .map_err(|refusal| Fault::refused(refusal, group))
}
