//! One process's runtime record as a vigild handing its fleet to a new vigild writes it
//! (`vigilctl reexec`): the state with its pid, the times, the counts, the crash-loop
//! detector and the timers it has armed, with every monotonic time as seconds before the handover (an `Instant` means
//! nothing to another process image) and wall-clock times as seconds since the epoch.
//! Only the record and its checks live here; `Process::to_record`/`from_record` (in
//! `machine.rs`, which owns the fields) convert.

use serde::{Deserialize, Serialize};

use super::state::Health;

/// A process's state as handed over. UNKNOWN is not carried (a handover is refused while
/// a process is in it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "UPPERCASE")]
pub enum StateRecord {
    /// STOPPED.
    Stopped,
    /// STARTING: `started_ago` says how much of `startsecs` has passed.
    Starting {
        /// The child.
        pid: i32,
        /// The health verdict so far.
        health: Option<HealthRecord>,
    },
    /// RUNNING.
    Running {
        /// The child.
        pid: i32,
        /// The health verdict so far.
        health: Option<HealthRecord>,
    },
    /// BACKOFF: a retry due `retry_in` seconds after the handover.
    Backoff {
        /// Seconds until the retry.
        retry_in: f64,
        /// The wait that was chosen, in seconds.
        delay: f64,
        /// vigil's crash-loop delay rather than supervisord's start-up back-off.
        crash_loop: bool,
    },
    /// STOPPING: the stop signal was sent; its escalation is among the handed timers.
    Stopping {
        /// The child.
        pid: i32,
        /// Why the stop was asked for.
        reason: super::tally::ExitReason,
        /// The child's last health verdict.
        health: Option<HealthRecord>,
    },
    /// EXITED.
    Exited,
    /// FATAL.
    Fatal,
}

/// [`Health`], by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthRecord {
    /// No verdict yet.
    Starting,
    /// Passing.
    Healthy,
    /// Failing.
    Unhealthy,
}

impl From<Health> for HealthRecord {
    fn from(health: Health) -> Self {
        match health {
            Health::Starting => HealthRecord::Starting,
            Health::Healthy => HealthRecord::Healthy,
            Health::Unhealthy => HealthRecord::Unhealthy,
        }
    }
}

impl From<HealthRecord> for Health {
    fn from(health: HealthRecord) -> Self {
        match health {
            HealthRecord::Starting => Health::Starting,
            HealthRecord::Healthy => Health::Healthy,
            HealthRecord::Unhealthy => Health::Unhealthy,
        }
    }
}

/// The crash-loop detector as handed over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrashLoopRecord {
    /// Each crash still in the window, in seconds before the handover, oldest first.
    pub recent_ago: Vec<f64>,
    /// The loop in progress: when it was detected (seconds since the epoch), the wait
    /// chosen at its last crash (seconds) and its delayed restarts so far.
    pub looping: Option<(f64, f64, u32)>,
}

/// One process as handed over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessRecord {
    /// The state, with its pid where it has one.
    pub state: StateRecord,
    /// supervisord's consecutive too-quick starts.
    pub backoff: u32,
    /// Seconds since the last spawn attempt, if there was one.
    pub started_ago: Option<f64>,
    /// The last spawn attempt, in seconds since the epoch.
    pub laststart: Option<f64>,
    /// The last exit, in seconds since the epoch.
    pub laststop: Option<f64>,
    /// The last exit status.
    pub exitstatus: i32,
    /// Why the last start failed or did not stay up, as shown.
    pub spawnerr: Option<String>,
    /// The current spawn reached RUNNING.
    pub reached_running: bool,
    /// Spawns, exits by reason (in `ExitReason::ALL` order), crashes, reloads.
    pub tally: (u64, Vec<u64>, u64, u64),
    /// The crash-loop detector.
    pub crash_loop: CrashLoopRecord,
    /// vigil sent the current child a signal by request.
    pub signalled: bool,
    /// The child's process group.
    pub group: i32,
    /// The timers armed for it, each with the seconds it had left.
    #[serde(default)]
    pub timers: Vec<(super::step::Timer, f64)>,
    /// What a `ready=notify` program announced (`STATUS=`, a reload in progress).
    #[serde(default)]
    pub announced: super::announced::Announced,
    /// `watchdog_sec`: seconds until a feed is due, and whether its timer is armed.
    #[serde(default)]
    pub watchdog: (Option<f64>, bool),
}
