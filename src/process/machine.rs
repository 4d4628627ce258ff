//! supervisord's process state machine as a pure transition function.
//!
//! [`Process::apply`] takes one [`Input`] (a spawn result, a timer, an exit, a stop request,
//! a health verdict) and returns a [`Step`]: the state changes it made and the [`Effect`]s
//! the supervisor must carry out (signals, timers, a respawn, log lines). It does no I/O, so
//! every transition of supervisord's table is unit-tested here without processes.
//!
//! A [`Process`]'s fields are private: `apply` is the only writer, everything else reads.
//! The moves its arms share (entering RUNNING, STOPPING, BACKOFF, FATAL; crash records;
//! the watchdog) are in `moves.rs`.

use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;

use super::announced::Announced;
use super::crashloop::{seconds, CrashLoop, Verdict};
use super::exit::ExitOutcome;
use super::handover::{ProcessRecord, StateRecord};
use super::spawn_error::SpawnError;
use super::state::{Health, Retry, State, StateKind};
use super::step::{Effect, Level, Refused, Step, Timer};
use super::tally::{ExitReason, Tally};
use crate::config::{AutoRestart, ProcessConfig, Readiness};

/// Something that happened to a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The supervisor forked and exec'd the child.
    Spawned {
        /// Its pid.
        pid: i32,
    },
    /// The spawn failed before a child ran (command missing, not executable, exec error).
    SpawnFailed {
        /// Why (supervisord's `spawnerr`).
        error: SpawnError,
    },
    /// The `startsecs` timer fired.
    StartSecsElapsed,
    /// vigil `ready=`: the program said it is ready (`READY=1`, its notification fd, a
    /// matching line, a passing health check).
    Ready,
    /// vigil `ready_timeout` passed while it was not.
    ReadyTimedOut,
    /// vigil `ready=notify`: what the current child (or one of its own) said over
    /// sd_notify; `READY=1` ends STARTING, `WATCHDOG=1` feeds the watchdog.
    Notified(crate::notify::Notice),
    /// vigil `ready=notify`: `MAINPID=` named another process (the supervisor checked it
    /// belongs to this one): it is the child from now on.
    MainPid {
        /// Its pid.
        pid: i32,
        /// Its process group.
        group: i32,
    },
    /// vigil `watchdog_sec`: a watchdog timer fired (a later `WATCHDOG=1` may have fed it
    /// since).
    WatchdogDue,
    /// The child was reaped.
    Exited(ExitOutcome),
    /// A stop was requested.
    Stop,
    /// vigil stops the process for `reason` and starts it again once it has exited (a
    /// memory limit exceeded): the normal stop path, then a respawn.
    Restart(ExitReason),
    /// `stopwaitsecs` passed without an exit.
    StopTimeout,
    /// kill() failed for a reason other than "no such process".
    SignalFailed {
        /// The error text.
        error: String,
    },
    /// Shutdown while in BACKOFF: stop retrying.
    GiveUp,
    /// The run has lasted `crashloop_reset`: a crash loop is over.
    CrashLoopReset,
    /// vigil: the health check's new verdict on the current child (an unhealthy child is
    /// then restarted with [`Input::Restart`]).
    Health(Health),
    /// vigil: `signalProcess` signalled the current child; its death by a signal is then no
    /// crash.
    Signalled,
    /// vigil `memory_max`: the OOM killer struck in the current child's cgroup (its
    /// `memory.events` say so); its death by SIGKILL is then an `oom` exit.
    OomKilled,
    /// vigil `reloadsignal`: `vigil.reloadProcess` sent `signal` to the current child.
    Reloaded {
        /// The signal sent.
        signal: nix::sys::signal::Signal,
    },
    /// vigil: a start was asked for but is held back by `depends_on` (`why` is `None`) or
    /// refused because a dependency gave up: what the last run left must not answer a
    /// `wait=true` start.
    StartHeld {
        /// Why the start cannot happen at all, when it cannot.
        why: Option<SpawnError>,
    },
}

/// The runtime record of one process: its state plus what supervisord keeps beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    state: State,
    backoff: u32,
    started_at: Option<Instant>,
    laststart: Option<SystemTime>,
    laststop: Option<SystemTime>,
    exitstatus: i32,
    spawnerr: Option<SpawnError>,
    reached_running: bool,
    tally: Tally,
    crash_loop: CrashLoop,
    signalled: bool,
    /// vigil `memory_max`: the OOM killer struck in the current child's cgroup.
    oom_killed: bool,
    announced: Announced,
    watchdog_due: Option<Instant>,
    /// A watchdog timer is armed (one at a time: a feed only moves `watchdog_due`).
    watchdog_armed: bool,
    /// The child's process group: its own pid as spawned, another after a `MAINPID=`.
    group: i32,
}

impl Default for Process {
    fn default() -> Self {
        Process {
            state: State::Stopped,
            backoff: 0,
            started_at: None,
            laststart: None,
            laststop: None,
            exitstatus: 0,
            spawnerr: None,
            reached_running: false,
            tally: Tally::default(),
            crash_loop: CrashLoop::default(),
            signalled: false,
            oom_killed: false,
            announced: Announced::default(),
            watchdog_due: None,
            watchdog_armed: false,
            group: 0,
        }
    }
}

/// What everything outside the state machine reads.
impl Process {
    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Consecutive too-quick starts (supervisord's `backoff`).
    pub fn backoff(&self) -> u32 {
        self.backoff
    }

    /// Monotonic time of the last spawn attempt (how long a child has run).
    pub fn started_at(&self) -> Option<Instant> {
        self.started_at
    }

    /// Wall-clock time of the last spawn attempt (`start` in getProcessInfo).
    pub fn laststart(&self) -> Option<SystemTime> {
        self.laststart
    }

    /// Wall-clock time of the last exit (`stop`).
    pub fn laststop(&self) -> Option<SystemTime> {
        self.laststop
    }

    /// Last exit status (-1 after a signal).
    pub fn exitstatus(&self) -> i32 {
        self.exitstatus
    }

    /// Why the last start failed or did not stay up.
    pub fn spawnerr(&self) -> Option<&SpawnError> {
        self.spawnerr.as_ref()
    }

    /// The current spawn has reached RUNNING (a `wait=true` start is then done, even if the
    /// process has exited since).
    pub fn reached_running(&self) -> bool {
        self.reached_running
    }

    /// vigil: what a `ready=notify` program said about itself since its start.
    pub fn announced(&self) -> &Announced {
        &self.announced
    }

    /// vigil: spawns, exits and crashes so far.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// vigil: the crash-loop detector.
    pub fn crash_loop(&self) -> &CrashLoop {
        &self.crash_loop
    }

    /// The process group a signal to the child's group goes to, while there is a child.
    pub fn process_group(&self) -> Option<i32> {
        self.state.pid().map(|_| self.group)
    }
}

/// A handover (`vigilctl reexec`): the record a vigild writes, the process a new one
/// makes of it.
impl Process {
    /// This process as a handover record at `clock` (without its timers, which the
    /// supervisor holds); None in UNKNOWN, which a handover does not carry.
    pub fn to_record(&self, clock: Clock) -> Option<ProcessRecord> {
        let ago = |at: Instant| clock.now.saturating_duration_since(at).as_secs_f64();
        let state = match self.state {
            State::Stopped => StateRecord::Stopped,
            State::Starting { pid, health } => StateRecord::Starting {
                pid,
                health: health.map(Into::into),
            },
            State::Running { pid, health } => StateRecord::Running {
                pid,
                health: health.map(Into::into),
            },
            State::Backoff { retry } => StateRecord::Backoff {
                retry_in: retry.at.saturating_duration_since(clock.now).as_secs_f64(),
                delay: retry.delay.as_secs_f64(),
                crash_loop: retry.crash_loop,
            },
            State::Stopping {
                pid,
                reason,
                health,
            } => StateRecord::Stopping {
                pid,
                reason,
                health: health.map(Into::into),
            },
            State::Exited => StateRecord::Exited,
            State::Fatal => StateRecord::Fatal,
            State::Unknown { .. } => return None,
        };
        let epoch = |at: Option<SystemTime>| at.and_then(crate::timefmt::epoch_seconds);
        Some(ProcessRecord {
            state,
            backoff: self.backoff,
            started_ago: self.started_at.map(ago),
            laststart: epoch(self.laststart),
            laststop: epoch(self.laststop),
            exitstatus: self.exitstatus,
            spawnerr: self.spawnerr.as_ref().map(ToString::to_string),
            reached_running: self.reached_running,
            tally: (
                self.tally.spawns,
                self.tally.exits.to_vec(),
                self.tally.crashes,
                self.tally.reloads,
            ),
            crash_loop: self.crash_loop.to_record(clock.now),
            signalled: self.signalled,
            group: self.group,
            timers: Vec::new(),
            announced: self.announced.clone(),
            watchdog: (
                self.watchdog_due
                    .map(|due| due.saturating_duration_since(clock.now).as_secs_f64()),
                self.watchdog_armed,
            ),
        })
    }

    /// The process a handover record describes, its times taken back from `clock`.
    pub fn from_record(record: &ProcessRecord, clock: Clock) -> Process {
        let back = |ago: f64| clock.now.checked_sub(seconds(ago));
        let wall = |at: Option<f64>| at.map(|at| SystemTime::UNIX_EPOCH + seconds(at));
        let state = match record.state {
            StateRecord::Stopped => State::Stopped,
            StateRecord::Starting { pid, health } => State::Starting {
                pid,
                health: health.map(Into::into),
            },
            StateRecord::Running { pid, health } => State::Running {
                pid,
                health: health.map(Into::into),
            },
            StateRecord::Backoff {
                retry_in,
                delay,
                crash_loop,
            } => State::Backoff {
                retry: Retry {
                    at: clock.now + seconds(retry_in),
                    delay: seconds(delay),
                    crash_loop,
                },
            },
            StateRecord::Stopping {
                pid,
                reason,
                health,
            } => State::Stopping {
                pid,
                reason,
                health: health.map(Into::into),
            },
            StateRecord::Exited => State::Exited,
            StateRecord::Fatal => State::Fatal,
        };
        let (spawns, exits, crashes, reloads) = &record.tally;
        let mut tally = Tally {
            spawns: *spawns,
            crashes: *crashes,
            reloads: *reloads,
            ..Tally::default()
        };
        for (kept, handed) in tally.exits.iter_mut().zip(exits) {
            *kept = *handed;
        }
        Process {
            state,
            backoff: record.backoff,
            started_at: record.started_ago.and_then(back),
            laststart: wall(record.laststart),
            laststop: wall(record.laststop),
            exitstatus: record.exitstatus,
            spawnerr: record.spawnerr.clone().map(SpawnError::HandedOver),
            reached_running: record.reached_running,
            tally,
            crash_loop: CrashLoop::from_record(&record.crash_loop, clock.now),
            signalled: record.signalled,
            oom_killed: false,
            announced: record.announced.clone(),
            watchdog_due: record.watchdog.0.map(|due| clock.now + seconds(due)),
            watchdog_armed: record.watchdog.1,
            group: record.group,
        }
    }
}

/// "Now", passed in so transitions stay pure.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Monotonic now, for durations.
    pub now: Instant,
    /// Wall-clock now, for reported times.
    pub wall: SystemTime,
}

impl Clock {
    /// The current time.
    pub fn now() -> Self {
        Clock {
            now: Instant::now(),
            wall: SystemTime::now(),
        }
    }
}

#[cfg(test)]
impl Process {
    /// Applies `inputs` in turn (refusals ignored), for tests that need a process in some
    /// state.
    pub fn drive(&mut self, config: &ProcessConfig, inputs: impl IntoIterator<Item = Input>) {
        for input in inputs {
            let _ = self.apply(input, config, Clock::now());
        }
    }
}

impl Process {
    /// Applies `input`; returns the changes and effects, or why it was refused.
    pub fn apply(
        &mut self,
        input: Input,
        config: &ProcessConfig,
        clock: Clock,
    ) -> Result<Step, Refused> {
        let mut step = Step::default();
        match (self.state, input) {
            (state, Input::Spawned { pid }) if state.can_start() => {
                self.begin_start(clock);
                self.tally.spawns += 1;
                self.group = pid;
                let health = config.health_check.as_ref().map(|_| Health::Starting);
                self.change(&mut step, State::Starting { pid, health }, None);
                step.log(
                    Level::Info,
                    format!("spawned: '{}' with pid {pid}", config.name),
                );
                if config.ready.is_startsecs() {
                    step.arm(Timer::StartSecs, Duration::from_secs(config.startsecs));
                } else {
                    step.arm(Timer::ReadyTimeout, config.ready_timeout);
                }
            }
            (state, Input::SpawnFailed { error }) if state.can_start() => {
                self.begin_start(clock);
                // supervisord passes through STARTING on its way to BACKOFF.
                self.pass(&mut step, StateKind::Starting);
                step.log(Level::Info, format!("spawnerr: {error}"));
                self.spawnerr = Some(error);
                self.enter_backoff(&mut step, config, clock);
            }
            (State::Starting { pid, health }, Input::StartSecsElapsed)
                if config.ready.is_startsecs() =>
            {
                let why = format!(
                    "process has stayed up for > than {} seconds (startsecs)",
                    config.startsecs
                );
                self.become_running(&mut step, config, clock, (pid, health), &why);
            }
            (State::Starting { pid, health }, Input::Ready) if !config.ready.is_startsecs() => {
                let why = format!("process is ready ({})", config.ready);
                self.become_running(&mut step, config, clock, (pid, health), &why);
            }
            (
                State::Starting { pid, health } | State::Running { pid, health },
                Input::Notified(notice),
            ) => {
                self.announced.take(&notice);
                let starting = self.state.kind() == StateKind::Starting;
                if notice.ready && starting && config.ready == Readiness::Notify {
                    let why = format!("process is ready ({})", config.ready);
                    self.become_running(&mut step, config, clock, (pid, health), &why);
                } else if notice.watchdog && !starting {
                    self.feed_watchdog(&mut step, config, clock);
                }
            }
            (state, Input::MainPid { pid, group }) => {
                let Some(was) = state.pid() else {
                    return Err(Refused::Ignored);
                };
                self.state = state.with_pid(pid);
                self.group = group;
                step.log(
                    Level::Info,
                    format!(
                        "{}: main pid is now {pid} (was {was}), as its MAINPID= said",
                        config.name
                    ),
                );
            }
            (State::Running { .. }, Input::WatchdogDue)
                if self.watchdog_due.is_some_and(|due| due > clock.now) =>
            {
                // Fed since the timer was armed: look again when the feed is due.
                if let Some(due) = self.watchdog_due {
                    step.arm(Timer::Watchdog, due.duration_since(clock.now));
                }
            }
            (State::Running { pid, health }, Input::WatchdogDue) if self.watchdog_armed => {
                self.watchdog_armed = false;
                self.watchdog_due = None;
                step.log(
                    Level::Warn,
                    format!(
                        "watchdog: {} (pid {pid}) sent no WATCHDOG=1 for {}s (watchdog_sec); restarting it",
                        config.name,
                        config.watchdog.map_or(0.0, |period| period.as_secs_f64())
                    ),
                );
                self.stop_child(&mut step, config, (pid, health), ExitReason::Watchdog);
            }
            (State::Starting { pid, health }, Input::ReadyTimedOut) => {
                let seconds = config.ready_timeout.as_secs();
                step.log(
                    Level::Warn,
                    format!(
                        "not ready: {} did not become ready within {seconds}s ({}); stopping it",
                        config.name, config.ready
                    ),
                );
                self.spawnerr = Some(SpawnError::NotReady {
                    seconds,
                    how: config.ready.to_string(),
                });
                self.stop_child(&mut step, config, (pid, health), ExitReason::NotReady);
            }
            (State::Running { .. }, Input::CrashLoopReset) => {
                if self.crash_loop.end() {
                    step.log(
                        Level::Info,
                        format!(
                            "crash loop over: {} has stayed up for {}s (crashloop_reset)",
                            config.name,
                            config.crash_loop.reset.as_secs_f64()
                        ),
                    );
                }
            }
            (
                State::Stopping {
                    reason: ExitReason::NotReady,
                    ..
                },
                Input::Exited(outcome),
            ) => {
                // A start that never became ready failed, as a quick exit does.
                self.tally.count_exit(ExitReason::NotReady);
                step.exit_reason = Some(ExitReason::NotReady);
                self.laststop = Some(clock.wall);
                self.exitstatus = outcome.exit_status();
                step.log(
                    Level::Warn,
                    format!(
                        "stopped: {} ({}; not ready)",
                        config.name,
                        outcome.describe()
                    ),
                );
                self.enter_backoff(&mut step, config, clock);
            }
            (
                State::Stopping { reason, .. } | State::Unknown { reason, .. },
                Input::Exited(outcome),
            ) => {
                self.tally.count_exit(reason);
                step.exit_reason = Some(reason);
                match reason {
                    ExitReason::MemoryLimit | ExitReason::Unhealthy | ExitReason::Scheduled => {
                        step.effects.push(Effect::Respawn);
                    }
                    ExitReason::Watchdog => {
                        // A hung program: a crash, recorded with the output before it.
                        if let State::Stopping { pid, .. } = self.state {
                            let cause = Some(ExitReason::Watchdog);
                            self.record_crash(&mut step, pid, outcome, (clock, false, cause));
                        }
                        step.effects.push(Effect::Respawn);
                    }
                    ExitReason::Stopped => self.end_crash_loop_by_hand(&mut step, config),
                    _ => {}
                }
                self.laststop = Some(clock.wall);
                self.exitstatus = outcome.exit_status();
                self.change(&mut step, State::Stopped, None);
                let level = if outcome.is_expected(&config.exitcodes) {
                    Level::Info
                } else {
                    Level::Warn
                };
                step.log(
                    level,
                    format!("stopped: {} ({})", config.name, outcome.describe()),
                );
            }
            (State::Starting { pid, .. }, Input::Exited(outcome))
                if self.too_quick(config, clock) =>
            {
                let reason =
                    ExitReason::of_own_exit(outcome, config, (self.signalled, self.oom_killed));
                self.tally.count_exit(reason);
                step.exit_reason = Some(reason);
                self.laststop = Some(clock.wall);
                self.spawnerr = Some(SpawnError::ExitedTooQuickly);
                step.log(
                    Level::Warn,
                    format!(
                        "exited: {} ({}; not expected)",
                        config.name,
                        outcome.describe()
                    ),
                );
                let began = reason.is_crash() && self.count_crash(&mut step, config, clock);
                self.enter_backoff(&mut step, config, clock);
                if reason.is_crash() {
                    let cause = (reason == ExitReason::Oom).then_some(reason);
                    self.record_crash(&mut step, pid, outcome, (clock, began, cause));
                }
            }
            (
                state @ (State::Starting { pid, health } | State::Running { pid, health }),
                Input::Exited(outcome),
            ) => {
                let reason =
                    ExitReason::of_own_exit(outcome, config, (self.signalled, self.oom_killed));
                self.tally.count_exit(reason);
                step.exit_reason = Some(reason);
                self.laststop = Some(clock.wall);
                self.backoff = 0;
                self.exitstatus = outcome.exit_status();
                if state.kind() == StateKind::Starting {
                    self.change(&mut step, State::Running { pid, health }, None);
                }
                let expected = outcome.is_expected(&config.exitcodes);
                let (level, verdict) = if expected {
                    (Level::Info, "expected")
                } else {
                    self.spawnerr = Some(SpawnError::BadExitCode(outcome.exit_status()));
                    (Level::Warn, "not expected")
                };
                step.log(
                    level,
                    format!(
                        "exited: {} ({}; {verdict})",
                        config.name,
                        outcome.describe()
                    ),
                );
                self.change(&mut step, State::Exited, Some(expected));
                let crashed = reason.is_crash();
                let began = crashed && self.count_crash(&mut step, config, clock);
                let restart = match config.autorestart {
                    AutoRestart::Always => true,
                    AutoRestart::Never => false,
                    AutoRestart::Unexpected => !expected,
                };
                if restart {
                    let verdict = if crashed {
                        self.crash_loop.restart(&config.crash_loop)
                    } else {
                        Verdict::Now
                    };
                    self.restart_after_exit(&mut step, config, clock, verdict);
                } else {
                    // Nothing restarts it: no loop to damp.
                    self.crash_loop.end();
                }
                if crashed {
                    let cause = (reason == ExitReason::Oom).then_some(reason);
                    self.record_crash(&mut step, pid, outcome, (clock, began, cause));
                }
            }
            (
                State::Starting { pid, health } | State::Running { pid, health },
                input @ (Input::Stop | Input::Restart(_)),
            ) => {
                let reason = match input {
                    Input::Restart(reason) => reason,
                    _ => ExitReason::Stopped,
                };
                self.stop_child(&mut step, config, (pid, health), reason);
            }
            (State::Backoff { .. }, Input::Stop) => {
                self.change(&mut step, State::Stopped, None);
                self.end_crash_loop_by_hand(&mut step, config);
            }
            (_, Input::Stop) => return Err(Refused::NotRunning),
            (State::Stopping { pid, .. }, Input::StopTimeout) => {
                step.log(
                    Level::Warn,
                    format!("killing '{}' ({pid}) with SIGKILL", config.name),
                );
                step.effects.push(Effect::Signal {
                    signal: Signal::SIGKILL,
                    to_group: config.killasgroup,
                });
                step.arm(Timer::StopTimeout, Duration::from_secs(config.stopwaitsecs));
            }
            (state, Input::SignalFailed { error }) => {
                let Some(pid) = state.pid() else {
                    return Err(Refused::Ignored);
                };
                let reason = match state {
                    State::Stopping { reason, .. } | State::Unknown { reason, .. } => reason,
                    _ => ExitReason::Stopped,
                };
                step.log(
                    Level::Critical,
                    format!("unknown problem killing {} ({pid}):{error}", config.name),
                );
                self.change(&mut step, State::Unknown { pid, reason }, None);
            }
            (State::Backoff { .. }, Input::GiveUp) => self.give_up(&mut step),
            (State::Starting { pid, .. }, Input::Health(verdict)) => {
                self.state = State::Starting {
                    pid,
                    health: Some(verdict),
                };
            }
            (State::Running { pid, .. }, Input::Health(verdict)) => {
                self.state = State::Running {
                    pid,
                    health: Some(verdict),
                };
            }
            (
                State::Starting { .. } | State::Running { .. } | State::Stopping { .. },
                Input::Signalled,
            ) => self.signalled = true,
            (
                State::Starting { pid, .. } | State::Running { pid, .. },
                Input::Reloaded { signal },
            ) => {
                self.tally.reloads += 1;
                step.log(
                    Level::Info,
                    format!(
                        "reloading: {} (sent {} to pid {pid})",
                        config.name,
                        signal.as_str()
                    ),
                );
            }
            (state, Input::OomKilled) if state.pid().is_some() => self.oom_killed = true,
            (state, Input::StartHeld { why }) if state.pid().is_none() => {
                self.spawnerr = why;
                self.reached_running = false;
            }
            _ => return Err(Refused::Ignored),
        }
        Ok(step)
    }
}

mod moves;
#[cfg(test)]
mod tests;
