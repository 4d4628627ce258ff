//! vigil's health checks (`healthcheck_command`, `healthcheck_http`, `healthcheck_tcp`): one
//! task follows the snapshot and runs a probe loop per live child of a program with a check;
//! each loop reports health changes to the supervisor, which shows them and restarts an
//! unhealthy process through the normal stop path. Probes are awaited here, off the
//! supervisor task, each under its timeout, so a hung probe holds up nothing else (a command
//! probe is only forked by the supervisor, which reaps every child).

mod probe;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crate::config::HealthCheck;
use crate::process::state::State;
use crate::supervisor::{Control, Handle, ProcKey, ProcessView};

/// Starts the health task for the supervisor behind `handle`.
pub fn start(handle: Handle) {
    tokio::spawn(follow(handle));
}

/// Keeps one probe loop running per live child that has a health check. Each snapshot is
/// read for what changed since the last one seen, so a publish costs the changes, not the
/// fleet; when processes were added or removed every loop is looked at.
async fn follow(handle: Handle) {
    let mut snapshots = handle.watch();
    let mut loops: HashMap<ProcKey, (i32, tokio::task::JoinHandle<()>)> = HashMap::new();
    // The version and shape of the last snapshot read.
    let mut seen: Option<(u64, u64)> = None;
    loop {
        let snapshot = Arc::clone(&snapshots.borrow_and_update());
        let since = match &seen {
            Some((version, shape)) if *shape == snapshot.shape => *version,
            _ => {
                loops.retain(|key, (_, task)| {
                    let present = snapshot.process(&key.0, &key.1).is_some();
                    if !present {
                        task.abort();
                    }
                    present
                });
                0
            }
        };
        for process in snapshot.processes.changed_since(since) {
            follow_process(&handle, &mut loops, process);
        }
        seen = Some((snapshot.version, snapshot.shape));
        if snapshots.changed().await.is_err() {
            break;
        }
    }
    for (_, task) in loops.values() {
        task.abort();
    }
}

/// Starts, keeps or ends the probe loop of `process` for its current child.
fn follow_process(
    handle: &Handle,
    loops: &mut HashMap<ProcKey, (i32, tokio::task::JoinHandle<()>)>,
    process: &ProcessView,
) {
    let key = (process.group.clone(), process.name.clone());
    let probed = match (&process.config.health_check, process.state.pid()) {
        (Some(check), Some(pid)) if !matches!(process.state, State::Stopping { .. }) => {
            Some((check, pid))
        }
        _ => None,
    };
    if let Some((pid, task)) = loops.get(&key) {
        if probed.is_some_and(|(_, probed_pid)| probed_pid == *pid) {
            return;
        }
        task.abort();
        loops.remove(&key);
    }
    if let Some((check, pid)) = probed {
        let task = tokio::spawn(probe_loop(handle.clone(), key.clone(), pid, check.clone()));
        loops.insert(key, (pid, task));
    }
}

/// Probes child `pid` of `key` every `interval` and reports each change of its health.
async fn probe_loop(handle: Handle, key: ProcKey, pid: i32, check: HealthCheck) {
    let started = Instant::now();
    let mut tracker = Tracker::default();
    loop {
        tokio::time::sleep(check.interval).await;
        let result = probe::run(&handle, &key, &check).await;
        let in_start_period = started.elapsed() < check.start_period;
        let healthy = result.is_ok();
        if let Some(now_healthy) = tracker.record(healthy, in_start_period, check.retries) {
            let output = match result {
                Ok(output) | Err(probe::Unhealthy(output)) => output,
            };
            let report = Control::Health {
                key: key.clone(),
                pid,
                healthy: now_healthy,
                output,
            };
            if !handle.send(report) {
                return;
            }
        }
    }
}

/// Consecutive failures and the health last reported, as Docker counts them: failures
/// during the start period do not count until the process has once been healthy.
#[derive(Debug, Default)]
struct Tracker {
    failures: u32,
    reported: Option<bool>,
}

impl Tracker {
    /// Records one probe; returns the new health when it changes.
    fn record(&mut self, ok: bool, in_start_period: bool, retries: u32) -> Option<bool> {
        let health = if ok {
            self.failures = 0;
            true
        } else {
            if in_start_period && self.reported.is_none() {
                return None;
            }
            self.failures = self.failures.saturating_add(1);
            if self.failures < retries {
                return None;
            }
            false
        };
        (self.reported != Some(health)).then(|| {
            self.reported = Some(health);
            health
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_changes_after_retries_failures_in_a_row() {
        let mut tracker = Tracker::default();
        assert_eq!(tracker.record(false, true, 2), None, "start period");
        assert_eq!(tracker.record(true, true, 2), Some(true));
        assert_eq!(tracker.record(false, true, 2), None, "one failure");
        assert_eq!(
            tracker.record(true, false, 2),
            None,
            "still healthy: no report"
        );
        assert_eq!(tracker.record(false, false, 2), None);
        assert_eq!(tracker.record(false, false, 2), Some(false));
        assert_eq!(tracker.record(false, false, 2), None, "reported once");
        assert_eq!(tracker.record(true, false, 2), Some(true));
    }
}
