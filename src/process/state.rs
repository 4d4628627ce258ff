//! supervisord's process states, each carrying what exists only in it: the child's pid and
//! health while there is a child, the scheduled retry in BACKOFF, the reason of a stop in
//! STOPPING.
//!
//! These are plain values; only [`super::machine::Process::apply`] moves a process from
//! one to another.

use std::time::{Duration, Instant};

use super::tally::ExitReason;

/// The state of one process, with the data that belongs to that state alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Stopped by request, or never started.
    Stopped,
    /// Spawned, waiting for `startsecs`.
    Starting {
        /// Child pid.
        pid: i32,
        /// vigil: the health check's verdict, for programs with one.
        health: Option<Health>,
    },
    /// Up for longer than `startsecs`.
    Running {
        /// Child pid.
        pid: i32,
        /// vigil: the health check's verdict, for programs with one.
        health: Option<Health>,
    },
    /// Exited (or failed to spawn) too quickly, or (vigil) crashed in a crash loop; a retry
    /// is scheduled.
    Backoff {
        /// The start attempt that is scheduled.
        retry: Retry,
    },
    /// Stop signal sent, waiting for the exit.
    Stopping {
        /// Child pid.
        pid: i32,
        /// Why the stop was asked for (decides the exit's reason and whether it respawns).
        reason: ExitReason,
        /// vigil: the last health verdict of the child being stopped.
        health: Option<Health>,
    },
    /// Exited from RUNNING.
    Exited,
    /// Gave up after `startretries` (or vigil's `crashloop_giveup`).
    Fatal,
    /// Signalling failed unexpectedly; the child may still be there.
    Unknown {
        /// The pid that could not be signalled.
        pid: i32,
        /// Why it was being stopped, if it was.
        reason: ExitReason,
    },
}

/// A state without its data: what events, metrics and state codes speak of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateKind {
    /// STOPPED
    Stopped,
    /// STARTING
    Starting,
    /// RUNNING
    Running,
    /// BACKOFF
    Backoff,
    /// STOPPING
    Stopping,
    /// EXITED
    Exited,
    /// FATAL
    Fatal,
    /// UNKNOWN
    Unknown,
}

impl StateKind {
    /// Every state, in supervisord's code order (for `vigil_process_state`).
    pub const ALL: [StateKind; 8] = [
        StateKind::Stopped,
        StateKind::Starting,
        StateKind::Running,
        StateKind::Backoff,
        StateKind::Stopping,
        StateKind::Exited,
        StateKind::Fatal,
        StateKind::Unknown,
    ];

    /// supervisord's numeric state code.
    pub fn code(self) -> i32 {
        match self {
            StateKind::Stopped => 0,
            StateKind::Starting => 10,
            StateKind::Running => 20,
            StateKind::Backoff => 30,
            StateKind::Stopping => 40,
            StateKind::Exited => 100,
            StateKind::Fatal => 200,
            StateKind::Unknown => 1000,
        }
    }

    /// supervisord's state name, e.g. `RUNNING`.
    pub fn name(self) -> &'static str {
        match self {
            StateKind::Stopped => "STOPPED",
            StateKind::Starting => "STARTING",
            StateKind::Running => "RUNNING",
            StateKind::Backoff => "BACKOFF",
            StateKind::Stopping => "STOPPING",
            StateKind::Exited => "EXITED",
            StateKind::Fatal => "FATAL",
            StateKind::Unknown => "UNKNOWN",
        }
    }

    /// The child is gone and has not been replaced (a pool listener's event comes back).
    pub fn child_gone(self) -> bool {
        matches!(
            self,
            StateKind::Exited | StateKind::Stopped | StateKind::Backoff | StateKind::Fatal
        )
    }
}

impl State {
    /// Which state this is, without its data.
    pub fn kind(self) -> StateKind {
        match self {
            State::Stopped => StateKind::Stopped,
            State::Starting { .. } => StateKind::Starting,
            State::Running { .. } => StateKind::Running,
            State::Backoff { .. } => StateKind::Backoff,
            State::Stopping { .. } => StateKind::Stopping,
            State::Exited => StateKind::Exited,
            State::Fatal => StateKind::Fatal,
            State::Unknown { .. } => StateKind::Unknown,
        }
    }

    /// supervisord's numeric state code.
    pub fn code(self) -> i32 {
        self.kind().code()
    }

    /// supervisord's state name, e.g. `RUNNING`.
    pub fn name(self) -> &'static str {
        self.kind().name()
    }

    /// The live child's pid, if any.
    pub fn pid(self) -> Option<i32> {
        match self {
            State::Starting { pid, .. }
            | State::Running { pid, .. }
            | State::Stopping { pid, .. }
            | State::Unknown { pid, .. } => Some(pid),
            _ => None,
        }
    }

    /// The same state with its child's pid replaced (a `MAINPID=`); states without a
    /// child are returned as they are.
    #[must_use]
    pub fn with_pid(self, new: i32) -> State {
        match self {
            State::Starting { health, .. } => State::Starting { pid: new, health },
            State::Running { health, .. } => State::Running { pid: new, health },
            State::Stopping { reason, health, .. } => State::Stopping {
                pid: new,
                reason,
                health,
            },
            State::Unknown { reason, .. } => State::Unknown { pid: new, reason },
            other => other,
        }
    }

    /// The pid of a child that is starting or running (what a health verdict, a memory
    /// limit or `signalProcess` may act on).
    pub fn live_pid(self) -> Option<i32> {
        match self {
            State::Starting { pid, .. } | State::Running { pid, .. } => Some(pid),
            _ => None,
        }
    }

    /// vigil: the current child's health, for programs with a health check.
    pub fn health(self) -> Option<Health> {
        match self {
            State::Starting { health, .. }
            | State::Running { health, .. }
            | State::Stopping { health, .. } => health,
            _ => None,
        }
    }

    /// The start scheduled in BACKOFF.
    pub fn retry(self) -> Option<Retry> {
        match self {
            State::Backoff { retry } => Some(retry),
            _ => None,
        }
    }

    /// supervisord's STOPPED_STATES: nothing is running and nothing is scheduled.
    pub fn is_stopped(self) -> bool {
        matches!(
            self,
            State::Stopped | State::Exited | State::Fatal | State::Unknown { .. }
        )
    }

    /// A start asked for by hand (`startProcess`, the page's button) is taken from here: a
    /// stopped state, or (vigil) a crash loop's BACKOFF, whose delay it cuts short.
    pub fn takes_start_by_hand(self) -> bool {
        match self {
            State::Backoff { retry } => retry.crash_loop,
            other => matches!(other, State::Stopped | State::Exited | State::Fatal),
        }
    }

    /// A stop (`stopProcess`) is taken from here: supervisord's RUNNING_STATES.
    pub fn takes_stop(self) -> bool {
        matches!(
            self,
            State::Starting { .. } | State::Running { .. } | State::Backoff { .. }
        )
    }

    /// A start request is allowed from here (not already starting, running or stopping).
    pub fn can_start(self) -> bool {
        matches!(
            self,
            State::Stopped | State::Exited | State::Fatal | State::Backoff { .. }
        )
    }
}

/// What the health check says of the current child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// No verdict yet.
    Starting,
    /// The last probes passed.
    Healthy,
    /// `healthcheck_retries` probes in a row failed.
    Unhealthy,
}

impl Health {
    /// `starting`, `healthy`, `unhealthy`.
    pub fn name(self) -> &'static str {
        match self {
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// A start attempt scheduled from BACKOFF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// When it happens.
    pub at: Instant,
    /// The wait that was chosen.
    pub delay: Duration,
    /// vigil's crash-loop delay (a start by hand may cut it short), not supervisord's
    /// start-up back-off.
    pub crash_loop: bool,
}
