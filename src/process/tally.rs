//! Why a child ended ([`ExitReason`]) and what has happened to a process since it was
//! added ([`Tally`]): the counts behind `vigil_process_exits_total` and the restart counts.

use super::exit::ExitOutcome;
use crate::config::ProcessConfig;

/// Why a child ended, as `vigil_process_exits_total{reason}` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExitReason {
    /// On its own, with a code in `exitcodes`.
    Expected,
    /// On its own, with a code not in `exitcodes`.
    Unexpected,
    /// Killed by a signal vigil did not send.
    Signal,
    /// Stopped on request (stopProcess, shutdown, update).
    Stopped,
    /// Stopped by vigil because its process tree exceeded `memory_limit`.
    MemoryLimit,
    /// Stopped by vigil because it failed its health check.
    Unhealthy,
    /// Stopped by vigil because it did not become ready within `ready_timeout`.
    NotReady,
    /// Stopped by vigil because it sent no `WATCHDOG=1` within `watchdog_sec`.
    Watchdog,
    /// Stopped by vigil to be started again at a time of its `restart_schedule`.
    Scheduled,
    /// Killed by the kernel's OOM killer inside its cgroup (`memory_max`).
    Oom,
}

impl ExitReason {
    /// Every reason, in the order [`Tally::exits`] counts them.
    pub const ALL: [ExitReason; 10] = [
        ExitReason::Expected,
        ExitReason::Unexpected,
        ExitReason::Signal,
        ExitReason::Stopped,
        ExitReason::MemoryLimit,
        ExitReason::Unhealthy,
        ExitReason::NotReady,
        ExitReason::Watchdog,
        ExitReason::Scheduled,
        ExitReason::Oom,
    ];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            ExitReason::Expected => "expected",
            ExitReason::Unexpected => "unexpected",
            ExitReason::Signal => "signal",
            ExitReason::Stopped => "stopped",
            ExitReason::MemoryLimit => "memory_limit",
            ExitReason::Unhealthy => "unhealthy",
            ExitReason::NotReady => "not_ready",
            ExitReason::Watchdog => "watchdog",
            ExitReason::Scheduled => "scheduled",
            ExitReason::Oom => "oom",
        }
    }

    /// The reason for an exit vigil did not ask for; a death by a signal that
    /// `signalProcess` sent counts as a stop asked for; one the OOM killer caused says so.
    pub(super) fn of_own_exit(
        outcome: ExitOutcome,
        config: &ProcessConfig,
        (signalled, oom_killed): (bool, bool),
    ) -> Self {
        match outcome {
            ExitOutcome::Signaled { .. } if oom_killed => ExitReason::Oom,
            ExitOutcome::Signaled { .. } if signalled => ExitReason::Stopped,
            ExitOutcome::Signaled { .. } => ExitReason::Signal,
            ExitOutcome::Exited(_) if outcome.is_expected(&config.exitcodes) => {
                ExitReason::Expected
            }
            ExitOutcome::Exited(_) => ExitReason::Unexpected,
        }
    }

    /// A crash: an exit vigil did not ask for with a status not in `exitcodes`.
    pub fn is_crash(self) -> bool {
        matches!(
            self,
            ExitReason::Unexpected | ExitReason::Signal | ExitReason::Oom
        )
    }
}

/// What happened to one process since it was added: spawns, exits by reason, crashes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Children spawned.
    pub spawns: u64,
    /// Exits, indexed like [`ExitReason::ALL`].
    pub exits: [u64; ExitReason::ALL.len()],
    /// Exits that were crashes.
    pub crashes: u64,
    /// vigil `reloadsignal`: graceful reloads sent (`vigil.reloadProcess`).
    pub reloads: u64,
}

impl Tally {
    /// Starts after the first one, whatever caused them.
    pub fn restarts(&self) -> u64 {
        self.spawns.saturating_sub(1)
    }

    /// Exits for `reason`.
    pub fn exits(&self, reason: ExitReason) -> u64 {
        ExitReason::ALL
            .iter()
            .position(|r| *r == reason)
            .map_or(0, |at| self.exits[at])
    }

    pub(super) fn count_exit(&mut self, reason: ExitReason) {
        if let Some(at) = ExitReason::ALL.iter().position(|r| *r == reason) {
            self.exits[at] += 1;
        }
        if reason.is_crash() {
            self.crashes += 1;
        }
    }
}
