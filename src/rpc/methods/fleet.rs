//! vigil's methods that act on several processes at once: start or stop a list of them
//! together (their waits run concurrently; priority and `depends_on` still order them), and
//! restart a group one batch at a time.

use std::time::{Duration, Instant};

use super::Outcome;
use crate::namespec::Namespec;
use crate::process::state::{Health, State};
use crate::rpc::args::{self, Args};
use crate::rpc::codec::Value;
use crate::rpc::faults::{Fault, FaultCode};
use crate::rpc::lookup::{self, key_of};
use crate::rpc::wait::{self, Goal};
use crate::rpc::{render, Api};
use crate::supervisor::ProcessView;

/// The longest wait for a batch to be healthy, whatever its checks say.
const HEALTHY_LIMIT: Duration = Duration::from_secs(600);

/// `vigil.startProcesses(names, wait=True)` / `vigil.stopProcesses(names, wait=True)`:
/// `names` are processes or `group:*`; the results come as startProcessGroup's, refusals
/// (already started, not running) included.
pub(super) async fn act_on_list(api: &Api, args: Args<'_>, goal: Goal) -> Outcome {
    let (names, wait) = args.list_and_wait()?;
    let mut wanted: Vec<ProcessView> = Vec::new();
    for name in names {
        for process in lookup::named(api, args::list_entry(name)?)? {
            if !wanted.iter().any(|w| key_of(w) == key_of(&process)) {
                wanted.push(process);
            }
        }
    }
    // Requests go out in start order (stops in reverse), as a group's would.
    let order: Vec<_> = lookup::in_start_order(api, None)
        .iter()
        .map(key_of)
        .collect();
    wanted.sort_by_key(|p| order.iter().position(|k| *k == key_of(p)));
    if goal == Goal::Stop {
        wanted.reverse();
    }
    let (acting, refused): (Vec<ProcessView>, Vec<ProcessView>) =
        wanted.into_iter().partition(|p| goal.applies_to(p));
    let mut results: wait::Results = refused
        .into_iter()
        .map(|p| {
            let fault = Fault::with(goal.refusal(), p.namespec());
            (p, Err(fault))
        })
        .collect();
    results.extend(wait::many(api, acting, goal, wait).await);
    Ok(render::results(&results))
}

/// `vigil.rollingRestart(group, batch, wait_healthy)`: restarts the group's processes
/// `batch` at a time (stop, then start and wait for RUNNING, and with `wait_healthy` for a
/// passing health check) before the next batch; the first batch that fails stops the roll
/// with a FAILED fault naming the process and why. Returns one result per process restarted.
pub(super) async fn rolling_restart(api: &Api, args: Args<'_>) -> Outcome {
    let (group, batch, wait_healthy) = args.group_batch_and_wait()?;
    let group = Namespec::parse(group).group().to_string();
    let members = lookup::group_members(api, &group)?;
    let _under_way = api.sequences.begin(format!("a rolling restart of {group}"));
    let batch = usize::try_from(batch.max(1)).unwrap_or(1);
    let mut restarted = Vec::new();
    for (number, chunk) in members.chunks(batch).enumerate() {
        let outcome = restart_batch(api, chunk, wait_healthy).await;
        if let Err(why) = outcome {
            return Err(Fault::with(
                FaultCode::Failed,
                format!(
                    "rolling restart of {group} stopped at batch {} of {}: {why}",
                    number + 1,
                    members.len().div_ceil(batch)
                ),
            ));
        }
        restarted.extend(chunk.iter().map(|p| render::result_entry(p, &Ok(()))));
    }
    Ok(Value::Array(restarted))
}

/// Why a batch of a rolling restart failed; shown after the batch number.
#[derive(Debug, thiserror::Error)]
enum BatchError {
    /// A stop or start of the process `name` was refused or failed.
    #[error("{name}: {fault}")]
    Refused {
        /// The process name (as in a result list).
        name: String,
        /// What went wrong.
        fault: Fault,
    },
    /// The process was removed from the config meanwhile.
    #[error("{0}: removed")]
    Removed(String),
    /// The process left RUNNING while its batch waited to be healthy.
    #[error("{namespec}: {state}")]
    Left {
        /// The process.
        namespec: String,
        /// The state it is in now.
        state: &'static str,
    },
    /// Its health check failed.
    #[error("{0}: unhealthy")]
    Unhealthy(String),
    /// Its health check did not pass within what its settings allow.
    #[error("{namespec}: not healthy within {seconds}s")]
    TooSlow {
        /// The process still starting its checks.
        namespec: String,
        /// The time allowed.
        seconds: f64,
    },
    /// The supervisor ended during the wait.
    #[error("the supervisor has stopped")]
    SupervisorGone,
}

/// Stops `chunk`, starts it again and waits until it runs (and is healthy).
async fn restart_batch(
    api: &Api,
    chunk: &[ProcessView],
    wait_healthy: bool,
) -> Result<(), BatchError> {
    for goal in [Goal::Stop, Goal::Start] {
        // Each step looks at the processes as they are now.
        let now: Vec<ProcessView> = chunk
            .iter()
            .filter_map(|p| lookup::process(api, &p.namespec()).ok())
            .collect();
        for (process, outcome) in wait::many(api, now, goal, true).await {
            if let Err(fault) = outcome {
                return Err(BatchError::Refused {
                    name: process.name,
                    fault,
                });
            }
        }
    }
    if wait_healthy {
        wait_until_healthy(api, chunk).await?;
    }
    Ok(())
}

/// Waits until every process of `chunk` with a health check passes it; fails when one is
/// unhealthy, stops running, or takes longer than its checks allow.
async fn wait_until_healthy(api: &Api, chunk: &[ProcessView]) -> Result<(), BatchError> {
    let allowed = chunk
        .iter()
        .filter_map(|p| p.config.health_check.as_ref())
        .map(|check| {
            let probe = check.interval.saturating_add(check.timeout);
            check
                .start_period
                .saturating_add(probe.saturating_mul(check.retries.saturating_add(1)))
        })
        .max()
        .unwrap_or_default()
        .min(HEALTHY_LIMIT);
    let deadline = Instant::now() + allowed;
    let mut snapshots = api.handle.watch();
    loop {
        let snapshot = std::sync::Arc::clone(&snapshots.borrow_and_update());
        let mut pending = None;
        for process in chunk {
            let Some(now) = snapshot.process(&process.group, &process.name) else {
                return Err(BatchError::Removed(process.namespec()));
            };
            if !matches!(now.state, State::Running { .. }) {
                return Err(BatchError::Left {
                    namespec: process.namespec(),
                    state: now.state.name(),
                });
            }
            match now.state.health() {
                None | Some(Health::Healthy) => {}
                Some(Health::Unhealthy) => return Err(BatchError::Unhealthy(process.namespec())),
                Some(Health::Starting) => pending = Some(process.namespec()),
            }
        }
        let Some(waiting) = pending else {
            return Ok(());
        };
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, snapshots.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(BatchError::SupervisorGone),
            Err(_) => {
                return Err(BatchError::TooSlow {
                    namespec: waiting,
                    seconds: allowed.as_secs_f64(),
                })
            }
        }
    }
}
