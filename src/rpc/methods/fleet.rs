//! vigil's methods that act on several processes at once: start or stop a list of them
//! together (their waits run concurrently; priority and `depends_on` still order them), and
//! restart a group one batch at a time.

use std::time::{Duration, Instant};

use super::{
    find_process, group_processes, in_start_order, key_of, many, result_entry, split_namespec,
    truthy, Api, Fault, FaultCode, Goal, Outcome, ProcessView, Value,
};
use crate::process::state::{Health, State};

/// The longest wait for a batch to be healthy, whatever its checks say.
const HEALTHY_LIMIT: Duration = Duration::from_secs(600);

/// `vigil.startProcesses(names, wait=True)` / `vigil.stopProcesses(names, wait=True)`:
/// `names` are processes or `group:*`; the results come as startProcessGroup's, refusals
/// (already started, not running) included.
pub(super) async fn act_on_list(api: &Api, params: &[Value], goal: Goal) -> Outcome {
    let (names, wait) = match params {
        [Value::Array(names)] => (names, true),
        [Value::Array(names), wait] => (names, truthy(wait)?),
        _ => return Err(Fault::bare(FaultCode::IncorrectParameters)),
    };
    let mut wanted: Vec<ProcessView> = Vec::new();
    for name in names {
        let Value::String(spec) = name else {
            return Err(Fault::bare(FaultCode::IncorrectParameters));
        };
        let found = match split_namespec(spec) {
            (group, None) => group_processes(api, &group)?,
            _ => vec![find_process(api, spec)?],
        };
        for process in found {
            if !wanted.iter().any(|w| key_of(w) == key_of(&process)) {
                wanted.push(process);
            }
        }
    }
    // Requests go out in start order (stops in reverse), as a group's would.
    let order: Vec<_> = in_start_order(api, None).iter().map(key_of).collect();
    wanted.sort_by_key(|p| order.iter().position(|k| *k == key_of(p)));
    if goal == Goal::Stop {
        wanted.reverse();
    }
    let (acting, refused): (Vec<ProcessView>, Vec<ProcessView>) =
        wanted.into_iter().partition(|p| goal.applies_to(p));
    let refusal = match goal {
        Goal::Start => FaultCode::AlreadyStarted,
        Goal::Stop => FaultCode::NotRunning,
    };
    let mut results: Vec<Value> = refused
        .iter()
        .map(|p| result_entry(p, Err(Fault::with(refusal, p.namespec()))))
        .collect();
    if let Value::Array(done) = many(api, acting, goal, wait).await? {
        results.extend(done);
    }
    Ok(Value::Array(results))
}

/// `vigil.rollingRestart(group, batch, wait_healthy)`: restarts the group's processes
/// `batch` at a time (stop, then start and wait for RUNNING, and with `wait_healthy` for a
/// passing health check) before the next batch; the first batch that fails stops the roll
/// with a FAILED fault naming the process and why. Returns one result per process restarted.
pub(super) async fn rolling_restart(api: &Api, params: &[Value]) -> Outcome {
    let (group, batch, wait_healthy) = match params {
        [Value::String(group)] => (group, 1, true),
        [Value::String(group), Value::Int(batch)] => (group, *batch, true),
        [Value::String(group), Value::Int(batch), wait] => (group, *batch, truthy(wait)?),
        _ => return Err(Fault::bare(FaultCode::IncorrectParameters)),
    };
    let group = split_namespec(group).0;
    let members = group_processes(api, &group)?;
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
        restarted.extend(chunk.iter().map(|p| result_entry(p, Ok(()))));
    }
    Ok(Value::Array(restarted))
}

/// Stops `chunk`, starts it again and waits until it runs (and is healthy).
async fn restart_batch(api: &Api, chunk: &[ProcessView], wait_healthy: bool) -> Result<(), String> {
    for goal in [Goal::Stop, Goal::Start] {
        // Each step looks at the processes as they are now.
        let now: Vec<ProcessView> = chunk
            .iter()
            .filter_map(|p| find_process(api, &p.namespec()).ok())
            .collect();
        let Value::Array(results) = many(api, now, goal, true)
            .await
            .map_err(|fault| fault.to_string())?
        else {
            continue;
        };
        for result in results {
            if let (Some(Value::Int(status)), Some(name)) =
                (result.member("status"), result.member("name"))
            {
                if *status != FaultCode::Success.code() {
                    let description = match result.member("description") {
                        Some(Value::String(text)) => text.clone(),
                        _ => String::new(),
                    };
                    let name = match name {
                        Value::String(name) => name.clone(),
                        _ => String::new(),
                    };
                    return Err(format!("{name}: {description}"));
                }
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
async fn wait_until_healthy(api: &Api, chunk: &[ProcessView]) -> Result<(), String> {
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
                return Err(format!("{}: removed", process.namespec()));
            };
            if !matches!(now.state, State::Running { .. }) {
                return Err(format!("{}: {}", process.namespec(), now.state.name()));
            }
            match now.health {
                None | Some(Health::Healthy) => {}
                Some(Health::Unhealthy) => {
                    return Err(format!("{}: unhealthy", process.namespec()))
                }
                Some(Health::Starting) => pending = Some(process.namespec()),
            }
        }
        let Some(waiting) = pending else {
            return Ok(());
        };
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, snapshots.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err("the supervisor has stopped".into()),
            Err(_) => {
                return Err(format!(
                    "{waiting}: not healthy within {}s",
                    allowed.as_secs_f64()
                ))
            }
        }
    }
}
