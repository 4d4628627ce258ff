//! A read-only picture of the fleet, published by the supervisor after every change, so
//! status calls, `/metrics` and the web page read it without asking (or locking) the actor.

use std::sync::Arc;
use std::time::SystemTime;

use crate::config::ProcessConfig;
use crate::logs::crashes::CrashHistory;
use crate::logs::stream::LogStream;
use crate::process::crashloop::Looping;
use crate::process::state::{Health, Retry, State, Tally};

/// supervisord's own state (`getState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupervisorState {
    /// Normal operation (statecode 1).
    Running,
    /// Stopping everything to start again (0).
    Restarting,
    /// Stopping everything to exit (-1).
    Shutdown,
}

impl SupervisorState {
    /// supervisord's code.
    pub fn code(self) -> i64 {
        match self {
            SupervisorState::Running => 1,
            SupervisorState::Restarting => 0,
            SupervisorState::Shutdown => -1,
        }
    }

    /// supervisord's name.
    pub fn name(self) -> &'static str {
        match self {
            SupervisorState::Running => "RUNNING",
            SupervisorState::Restarting => "RESTARTING",
            SupervisorState::Shutdown => "SHUTDOWN",
        }
    }
}

/// One process as the API shows it.
#[derive(Clone)]
pub struct ProcessView {
    /// Process name.
    pub name: String,
    /// Group name.
    pub group: String,
    /// Current state.
    pub state: State,
    /// Last spawn attempt.
    pub start: Option<SystemTime>,
    /// Last exit.
    pub stop: Option<SystemTime>,
    /// Last spawn error, or empty.
    pub spawnerr: String,
    /// The current spawn has reached RUNNING.
    pub reached_running: bool,
    /// Last exit status.
    pub exitstatus: i32,
    /// Its stdout stream (stderr too with redirect_stderr).
    pub stdout: Arc<LogStream>,
    /// Its stderr stream.
    pub stderr: Arc<LogStream>,
    /// vigil: spawns, exits by reason and crashes.
    pub tally: Tally,
    /// The start scheduled while in BACKOFF.
    pub retry: Option<Retry>,
    /// vigil: the crash loop in progress, if any.
    pub crash_loop: Option<Looping>,
    /// vigil: crashes within `crashloop_window` at the last crash.
    pub recent_crashes: usize,
    /// vigil: its crash records.
    pub crashes: Arc<CrashHistory>,
    /// Its config (`memory_limit` for the sampler, crash-loop settings for the API).
    pub config: Arc<ProcessConfig>,
    /// vigil: the current child's health (programs with a health check).
    pub health: Option<Health>,
    /// vigil: the dependencies a start is waiting for (`depends_on`), as namespecs.
    pub waiting_for: Vec<String>,
}

impl ProcessView {
    /// The wait before the next start: the scheduled one in BACKOFF, else, in a crash loop,
    /// the last one chosen (the next crash doubles it), else zero.
    pub fn restart_delay(&self) -> std::time::Duration {
        match (self.state, self.retry, self.crash_loop) {
            (State::Backoff, Some(retry), _) => retry.delay,
            (_, _, Some(looping)) => looping.delay,
            _ => std::time::Duration::ZERO,
        }
    }

    /// `group:name`, or `name` when they are equal.
    pub fn namespec(&self) -> String {
        if self.group == self.name {
            self.name.clone()
        } else {
            format!("{}:{}", self.group, self.name)
        }
    }
}

/// The whole fleet at one moment.
#[derive(Clone)]
pub struct Snapshot {
    /// supervisord's state.
    pub state: SupervisorState,
    /// Every process, sorted by group then name (getAllProcessInfo's order).
    pub processes: Vec<ProcessView>,
    /// Group names in start (priority) order, each with its process names in start order.
    pub groups: Vec<(String, Vec<String>)>,
    /// False only before the supervisor has built its table at start-up: the control plane
    /// already answers then, and calls about processes wait for this.
    pub ready: bool,
    /// Config reloads since start (`reloadConfig`, SIGHUP).
    pub config_reloads: u64,
}

impl Snapshot {
    /// The process `group`/`name`.
    pub fn process(&self, group: &str, name: &str) -> Option<&ProcessView> {
        self.processes
            .iter()
            .find(|p| p.group == group && p.name == name)
    }
}
