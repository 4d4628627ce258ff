//! What one input to the state machine did ([`Step`]): the state changes it made and the
//! [`Effect`]s the supervisor must carry out, or why it was refused ([`Refused`]). Plain
//! values; the machine ([`super::machine`]) makes them, the supervisor carries them out.

use std::time::{Duration, SystemTime};

use nix::sys::signal::Signal;

use super::exit::ExitOutcome;
use super::state::StateKind;
use super::tally::ExitReason;

/// The timers a process can have armed (at most one at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Timer {
    /// Promote STARTING to RUNNING.
    StartSecs,
    /// vigil `ready_timeout`: a program that says when it is ready has not.
    ReadyTimeout,
    /// vigil `watchdog_sec`: time to look whether the watchdog was fed.
    Watchdog,
    /// Retry a spawn from BACKOFF.
    Retry,
    /// Escalate a stop to SIGKILL.
    StopTimeout,
    /// End a crash loop once a run has lasted `crashloop_reset`.
    CrashLoopReset,
}

/// Log severity of a supervisord message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// CRIT
    Critical,
    /// WARN
    Warn,
    /// INFO
    Info,
    /// DEBG
    Debug,
}

/// Something the supervisor must do because of a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send `signal` to the child (or to its process group).
    Signal {
        /// The signal.
        signal: Signal,
        /// Send to `-pid`.
        to_group: bool,
    },
    /// Arm `timer` to fire after `after`.
    Arm {
        /// Which timer.
        timer: Timer,
        /// When.
        after: Duration,
    },
    /// autorestart says start again now (only while the supervisor is running).
    Respawn,
    /// Write a line to the main log.
    Log {
        /// Severity.
        level: Level,
        /// supervisord's text.
        message: String,
    },
    /// vigil: keep a crash record (with the output that explains the crash).
    RecordCrash(CrashFacts),
}

/// What the state machine knows about a crash; the supervisor adds the output tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashFacts {
    /// The child that crashed.
    pub pid: i32,
    /// How it ended.
    pub outcome: ExitOutcome,
    /// When it ended.
    pub at: SystemTime,
    /// How long it ran.
    pub ran: Duration,
    /// Restarts of the process before this crash.
    pub restarts: u64,
    /// Crashes in `crashloop_window`, this one included.
    pub recent_crashes: usize,
    /// The process is in a crash loop.
    pub crash_loop: bool,
    /// This crash started the loop.
    pub loop_began: bool,
    /// The wait before the next start, when one is scheduled.
    pub next_start: Option<Duration>,
    /// vigil: why vigil stopped the process, when the crash is one vigil found (a starved
    /// watchdog) rather than an exit of its own.
    pub cause: Option<ExitReason>,
}

/// One state change, for events and metrics. A step may pass through a state it does not
/// stay in (STARTING on a spawn error, BACKOFF on the way to FATAL), so a change names
/// kinds, not states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// Old state.
    pub from: StateKind,
    /// New state.
    pub to: StateKind,
    /// The child the change is about: the new one on STARTING, RUNNING and STOPPING, the
    /// one that ended on EXITED and STOPPED.
    pub pid: Option<i32>,
    /// For EXITED: whether the exit status was expected.
    pub expected: Option<bool>,
    /// supervisord's `backoff` count at the change (the `tries` of STARTING and BACKOFF
    /// events).
    pub tries: u32,
}

#[cfg(test)]
impl Change {
    /// A change from `from` to `to` about child `pid`, for tests of what consumes changes.
    pub fn between(from: StateKind, to: StateKind, pid: Option<i32>) -> Change {
        Change {
            from,
            to,
            pid,
            expected: None,
            tries: 0,
        }
    }
}

/// What one input did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// State changes, in order.
    pub changes: Vec<Change>,
    /// Effects to carry out, in order.
    pub effects: Vec<Effect>,
    /// Why the child ended, when this step handled an exit.
    pub exit_reason: Option<ExitReason>,
}

/// Why an input was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A stop of a process that is not running (supervisord's NOT_RUNNING).
    NotRunning,
    /// The input does not apply in the current state (a stale event).
    Ignored,
}

impl Step {
    /// The final state this step left its process in, when it is one nobody asked for:
    /// FATAL, or EXITED with no restart coming (a stop by hand ends in STOPPED). What vigil's
    /// `essential` acts on.
    pub fn unasked_end(&self) -> Option<StateKind> {
        let last = self.changes.last()?.to;
        match last {
            StateKind::Fatal => Some(last),
            StateKind::Exited if !self.effects.contains(&Effect::Respawn) => Some(last),
            _ => None,
        }
    }

    pub(super) fn log(&mut self, level: Level, message: String) {
        self.effects.push(Effect::Log { level, message });
    }

    pub(super) fn arm(&mut self, timer: Timer, after: Duration) {
        self.effects.push(Effect::Arm { timer, after });
    }
}
