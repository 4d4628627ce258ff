//! supervisord's process state machine as a pure transition function.
//!
//! [`Process::apply`] takes one [`Input`] (a spawn result, a timer, an exit, a stop request)
//! and returns a [`Step`]: the state changes it made and the [`Effect`]s the supervisor must
//! carry out (signals, timers, a respawn, log lines). It does no I/O, so every transition of
//! supervisord's table is unit-tested here without processes.

use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;

use super::crashloop::{CrashLoop, Verdict};
use super::exit::ExitOutcome;
use super::spawn_error::SpawnError;
use crate::config::{AutoRestart, ProcessConfig};

/// The state of one process; the pid exists only in the states that have a live child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Stopped by request, or never started.
    Stopped,
    /// Spawned, waiting for `startsecs`.
    Starting {
        /// Child pid.
        pid: i32,
    },
    /// Up for longer than `startsecs`.
    Running {
        /// Child pid.
        pid: i32,
    },
    /// Exited (or failed to spawn) too quickly, or (vigil) crashed in a crash loop; a retry
    /// is scheduled.
    Backoff,
    /// Stop signal sent, waiting for the exit.
    Stopping {
        /// Child pid.
        pid: i32,
    },
    /// Exited from RUNNING.
    Exited,
    /// Gave up after `startretries` (or vigil's `crashloop_giveup`).
    Fatal,
    /// Signalling failed unexpectedly; the child may still be there.
    Unknown {
        /// The pid that could not be signalled.
        pid: i32,
    },
}

impl State {
    /// supervisord's numeric state code.
    pub fn code(self) -> i32 {
        match self {
            State::Stopped => 0,
            State::Starting { .. } => 10,
            State::Running { .. } => 20,
            State::Backoff => 30,
            State::Stopping { .. } => 40,
            State::Exited => 100,
            State::Fatal => 200,
            State::Unknown { .. } => 1000,
        }
    }

    /// supervisord's state name, e.g. `RUNNING`.
    pub fn name(self) -> &'static str {
        match self {
            State::Stopped => "STOPPED",
            State::Starting { .. } => "STARTING",
            State::Running { .. } => "RUNNING",
            State::Backoff => "BACKOFF",
            State::Stopping { .. } => "STOPPING",
            State::Exited => "EXITED",
            State::Fatal => "FATAL",
            State::Unknown { .. } => "UNKNOWN",
        }
    }

    /// The live child's pid, if any.
    pub fn pid(self) -> Option<i32> {
        match self {
            State::Starting { pid }
            | State::Running { pid }
            | State::Stopping { pid }
            | State::Unknown { pid } => Some(pid),
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

    /// A start request is allowed from here (not already starting, running or stopping).
    pub fn can_start(self) -> bool {
        matches!(
            self,
            State::Stopped | State::Exited | State::Fatal | State::Backoff
        )
    }
}

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
}

/// The timers a process can have armed (at most one at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Promote STARTING to RUNNING.
    StartSecs,
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

/// One state change, for events and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// Old state.
    pub from: State,
    /// New state.
    pub to: State,
    /// For EXITED: whether the exit status was expected.
    pub expected: Option<bool>,
    /// supervisord's `backoff` count at the change (the `tries` of STARTING and BACKOFF
    /// events).
    pub tries: u32,
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

/// Why a child ended, as `vigil_process_exits_total{reason}` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

impl ExitReason {
    /// Every reason, in the order [`Tally::exits`] counts them.
    pub const ALL: [ExitReason; 6] = [
        ExitReason::Expected,
        ExitReason::Unexpected,
        ExitReason::Signal,
        ExitReason::Stopped,
        ExitReason::MemoryLimit,
        ExitReason::Unhealthy,
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
        }
    }

    /// The reason for an exit vigil did not ask for; a death by a signal that
    /// `signalProcess` sent counts as a stop asked for.
    fn of_own_exit(outcome: ExitOutcome, config: &ProcessConfig, signalled: bool) -> Self {
        match outcome {
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
        matches!(self, ExitReason::Unexpected | ExitReason::Signal)
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

    fn count_exit(&mut self, reason: ExitReason) {
        if let Some(at) = ExitReason::ALL.iter().position(|r| *r == reason) {
            self.exits[at] += 1;
        }
        if reason.is_crash() {
            self.crashes += 1;
        }
    }
}

/// The runtime record of one process: its state plus what supervisord keeps beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Current state.
    pub state: State,
    /// Consecutive too-quick starts (supervisord's `backoff`).
    pub backoff: u32,
    /// Monotonic time of the last spawn attempt.
    pub started_at: Option<Instant>,
    /// Wall-clock time of the last spawn attempt (`start` in getProcessInfo).
    pub laststart: Option<SystemTime>,
    /// Wall-clock time of the last exit (`stop`).
    pub laststop: Option<SystemTime>,
    /// Last exit status (-1 after a signal).
    pub exitstatus: i32,
    /// Why the last start failed or did not stay up.
    pub spawnerr: Option<SpawnError>,
    /// The current spawn has reached RUNNING (a `wait=true` start is then done, even if the
    /// process has exited since).
    pub reached_running: bool,
    /// vigil: spawns, exits and crashes so far.
    pub tally: Tally,
    /// Why the stop in progress was asked for.
    pub stop_reason: ExitReason,
    /// vigil: the crash-loop detector.
    pub crash_loop: CrashLoop,
    /// vigil: `signalProcess` signalled the current child; its death by a signal is then no
    /// crash.
    pub signalled: bool,
    /// The start scheduled while in BACKOFF.
    pub retry: Option<Retry>,
    /// vigil: the current child's health, for programs with a health check.
    pub health: Option<Health>,
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
            stop_reason: ExitReason::Stopped,
            crash_loop: CrashLoop::default(),
            signalled: false,
            retry: None,
            health: None,
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
                self.health = config.health_check.as_ref().map(|_| Health::Starting);
                self.tally.spawns += 1;
                self.change(&mut step, State::Starting { pid }, None);
                step.log(
                    Level::Info,
                    format!("spawned: '{}' with pid {pid}", config.name),
                );
                step.arm(Timer::StartSecs, Duration::from_secs(config.startsecs));
            }
            (state, Input::SpawnFailed { error }) if state.can_start() => {
                self.begin_start(clock);
                self.change(&mut step, State::Starting { pid: 0 }, None);
                step.log(Level::Info, format!("spawnerr: {error}"));
                self.spawnerr = Some(error);
                self.enter_backoff(&mut step, config, clock);
            }
            (State::Starting { pid }, Input::StartSecsElapsed) => {
                self.backoff = 0;
                self.change(&mut step, State::Running { pid }, None);
                step.log(
                    Level::Info,
                    format!(
                        "success: {} entered RUNNING state, process has stayed up for > than {} seconds (startsecs)",
                        config.name, config.startsecs
                    ),
                );
                if self.crash_loop.looping().is_some() {
                    let up = self
                        .started_at
                        .map_or(Duration::ZERO, |start| clock.now.duration_since(start));
                    step.arm(
                        Timer::CrashLoopReset,
                        config.crash_loop.reset.saturating_sub(up),
                    );
                }
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
            (State::Stopping { .. } | State::Unknown { .. }, Input::Exited(outcome)) => {
                let reason = std::mem::replace(&mut self.stop_reason, ExitReason::Stopped);
                self.tally.count_exit(reason);
                step.exit_reason = Some(reason);
                match reason {
                    ExitReason::MemoryLimit | ExitReason::Unhealthy => {
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
            (State::Starting { pid }, Input::Exited(outcome)) if self.too_quick(config, clock) => {
                let reason = ExitReason::of_own_exit(outcome, config, self.signalled);
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
                    self.record_crash(&mut step, pid, outcome, clock, began);
                }
            }
            (State::Starting { pid } | State::Running { pid }, Input::Exited(outcome)) => {
                let reason = ExitReason::of_own_exit(outcome, config, self.signalled);
                self.tally.count_exit(reason);
                step.exit_reason = Some(reason);
                self.laststop = Some(clock.wall);
                self.backoff = 0;
                self.exitstatus = outcome.exit_status();
                if matches!(self.state, State::Starting { .. }) {
                    self.change(&mut step, State::Running { pid }, None);
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
                    self.record_crash(&mut step, pid, outcome, clock, began);
                }
            }
            (
                State::Starting { pid } | State::Running { pid },
                input @ (Input::Stop | Input::Restart(_)),
            ) => {
                if let Input::Restart(reason) = input {
                    self.stop_reason = reason;
                }
                self.change(&mut step, State::Stopping { pid }, None);
                let signal = config.stopsignal;
                step.log(
                    Level::Debug,
                    format!(
                        "killing {} (pid {pid}) {}with signal {}",
                        config.name,
                        if config.stopasgroup {
                            "process group "
                        } else {
                            ""
                        },
                        signal.as_str()
                    ),
                );
                step.effects.push(Effect::Signal {
                    signal,
                    to_group: config.stopasgroup,
                });
                step.arm(Timer::StopTimeout, Duration::from_secs(config.stopwaitsecs));
            }
            (State::Backoff, Input::Stop) => {
                self.change(&mut step, State::Stopped, None);
                self.end_crash_loop_by_hand(&mut step, config);
            }
            (_, Input::Stop) => return Err(Refused::NotRunning),
            (State::Stopping { pid }, Input::StopTimeout) => {
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
            (state, Input::SignalFailed { error }) if state.pid().is_some() => {
                let pid = state.pid().unwrap_or_default();
                step.log(
                    Level::Critical,
                    format!("unknown problem killing {} ({pid}):{error}", config.name),
                );
                self.change(&mut step, State::Unknown { pid }, None);
            }
            (State::Backoff, Input::GiveUp) => self.give_up(&mut step),
            _ => return Err(Refused::Ignored),
        }
        Ok(step)
    }

    fn begin_start(&mut self, clock: Clock) {
        self.signalled = false;
        self.started_at = Some(clock.now);
        self.laststart = Some(clock.wall);
        self.spawnerr = None;
        self.reached_running = false;
    }

    fn too_quick(&self, config: &ProcessConfig, clock: Clock) -> bool {
        self.started_at.is_some_and(|start| {
            clock.now.duration_since(start) < Duration::from_secs(config.startsecs)
        })
    }

    /// Counts a crash in the detector; says so when it starts a loop (and returns true).
    fn count_crash(&mut self, step: &mut Step, config: &ProcessConfig, clock: Clock) -> bool {
        let began = self
            .crash_loop
            .crashed(&config.crash_loop, clock.now, clock.wall);
        if began {
            step.log(
                Level::Warn,
                format!(
                    "crash loop: {} crashed {} times within {}s",
                    config.name,
                    self.crash_loop.recent_crashes(),
                    config.crash_loop.window.as_secs_f64()
                ),
            );
        }
        began
    }

    /// Asks the supervisor to keep a record of the crash just handled.
    fn record_crash(
        &self,
        step: &mut Step,
        pid: i32,
        outcome: ExitOutcome,
        clock: Clock,
        loop_began: bool,
    ) {
        step.effects.push(Effect::RecordCrash(CrashFacts {
            pid,
            outcome,
            at: clock.wall,
            ran: self
                .started_at
                .map_or(Duration::ZERO, |start| clock.now.duration_since(start)),
            restarts: self.tally.restarts(),
            recent_crashes: self.crash_loop.recent_crashes(),
            crash_loop: self.crash_loop.looping().is_some(),
            loop_began,
            next_start: self.retry.map(|retry| retry.delay),
        }));
    }

    /// EXITED and autorestart says start again: at once, after the crash-loop delay
    /// (BACKOFF), or not at all when `crashloop_giveup` is reached (FATAL).
    fn restart_after_exit(
        &mut self,
        step: &mut Step,
        config: &ProcessConfig,
        clock: Clock,
        verdict: Verdict,
    ) {
        let crashes = self.crash_loop.recent_crashes();
        let window = config.crash_loop.window.as_secs_f64();
        match verdict {
            Verdict::Now => step.effects.push(Effect::Respawn),
            Verdict::After(delay) => {
                self.change(step, State::Backoff, None);
                self.schedule_retry(step, clock, delay, true);
                step.log(
                    Level::Warn,
                    format!(
                        "crash loop: {} crashed {crashes} times in {window}s, next start in {}s",
                        config.name,
                        delay.as_secs_f64()
                    ),
                );
            }
            Verdict::GiveUp => {
                let restarts = self.crash_loop.looping().map_or(0, |l| l.restarts);
                self.spawnerr = Some(SpawnError::CrashLoopGaveUp { restarts });
                self.change(step, State::Fatal, None);
                step.log(
                    Level::Info,
                    format!(
                        "gave up: {} entered FATAL state, still crashing after {restarts} delayed restarts (crashloop_giveup)",
                        config.name
                    ),
                );
            }
        }
    }

    /// A stop by hand ends a crash loop: whoever stopped it is dealing with it.
    fn end_crash_loop_by_hand(&mut self, step: &mut Step, config: &ProcessConfig) {
        if self.crash_loop.end() {
            step.log(
                Level::Info,
                format!("crash loop over: {} was stopped", config.name),
            );
        }
    }

    fn schedule_retry(&mut self, step: &mut Step, clock: Clock, delay: Duration, crash_loop: bool) {
        self.retry = clock.now.checked_add(delay).map(|at| Retry {
            at,
            delay,
            crash_loop,
        });
        step.arm(Timer::Retry, delay);
    }

    /// STARTING → BACKOFF, and straight on to FATAL when the retries are used up.
    fn enter_backoff(&mut self, step: &mut Step, config: &ProcessConfig, clock: Clock) {
        self.backoff += 1;
        self.change(step, State::Backoff, None);
        if config
            .startretries
            .is_some_and(|retries| self.backoff > retries)
        {
            self.give_up(step);
            step.log(
                Level::Info,
                format!(
                    "gave up: {} entered FATAL state, too many start retries too quickly",
                    config.name
                ),
            );
        } else {
            let seconds = u64::from(self.backoff);
            let delay =
                Duration::from_secs(config.backoff_max.map_or(seconds, |max| seconds.min(max)));
            self.schedule_retry(step, clock, delay, false);
        }
    }

    /// BACKOFF → FATAL; only running out of retries says "gave up:" (a shutdown gives up
    /// silently, as supervisord's `give_up`).
    fn give_up(&mut self, step: &mut Step) {
        self.backoff = 0;
        self.change(step, State::Fatal, None);
    }

    fn change(&mut self, step: &mut Step, to: State, expected: Option<bool>) {
        if matches!(to, State::Running { .. }) {
            self.reached_running = true;
        }
        if to != State::Backoff {
            self.retry = None;
        }
        if to == State::Fatal {
            // FATAL is the alert now; a start by hand counts crashes afresh.
            self.crash_loop.end();
        }
        if to.pid().is_none() {
            // No child, no health: the next child is judged afresh.
            self.health = None;
        }
        step.changes.push(Change {
            from: self.state,
            to,
            expected,
            tries: self.backoff,
        });
        self.state = to;
    }
}

impl Step {
    fn log(&mut self, level: Level, message: String) {
        self.effects.push(Effect::Log { level, message });
    }

    fn arm(&mut self, timer: Timer, after: Duration) {
        self.effects.push(Effect::Arm { timer, after });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LogTarget, StreamLog};

    fn config() -> ProcessConfig {
        let log = StreamLog {
            target: LogTarget::None,
            maxbytes: 0,
            backups: 0,
            capture_maxbytes: 0,
            events_enabled: false,
            syslog: false,
            timestamps: false,
            tail_bytes: 0,
        };
        ProcessConfig {
            name: "app".into(),
            group: "app".into(),
            program: "app".into(),
            priority: 999,
            command: "/bin/true".into(),
            autostart: true,
            autorestart: AutoRestart::Unexpected,
            startsecs: 1,
            startretries: Some(3),
            backoff_max: None,
            exitcodes: vec![0],
            stopsignal: Signal::SIGTERM,
            stopwaitsecs: 10,
            stopasgroup: false,
            killasgroup: false,
            user: None,
            redirect_stderr: false,
            stdout: log.clone(),
            stderr: log,
            environment: vec![],
            environment_file: None,
            directory: None,
            umask: None,
            serverurl: None,
            fcgi_socket: None,
            listener: None,
            log_markers: false,
            memory_limit: None,
            crash_loop: crate::config::CrashLoopPolicy {
                threshold: 0,
                window: Duration::from_secs(60),
                delay: Duration::from_secs(1),
                delay_max: Duration::from_secs(300),
                reset: Duration::from_secs(600),
                giveup: None,
            },
            crash_records: crate::config::CrashRecordPolicy {
                tail_lines: 50,
                history: 20,
            },
            health_check: None,
            depends_on: Vec::new(),
        }
    }

    fn at(base: Instant, secs: u64) -> Clock {
        Clock {
            now: base + Duration::from_secs(secs),
            wall: SystemTime::now(),
        }
    }

    fn names(step: &Step) -> Vec<&'static str> {
        step.changes.iter().map(|c| c.to.name()).collect()
    }

    fn logs(step: &Step) -> Vec<String> {
        step.effects
            .iter()
            .filter_map(|e| match e {
                Effect::Log { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn spawn_then_startsecs_reaches_running() {
        let cfg = config();
        let base = Instant::now();
        let mut p = Process::default();
        let step = p
            .apply(Input::Spawned { pid: 42 }, &cfg, at(base, 0))
            .expect("spawn");
        assert_eq!(names(&step), ["STARTING"]);
        assert_eq!(logs(&step), ["spawned: 'app' with pid 42"]);
        assert!(step.effects.contains(&Effect::Arm {
            timer: Timer::StartSecs,
            after: Duration::from_secs(1)
        }));
        let step = p
            .apply(Input::StartSecsElapsed, &cfg, at(base, 1))
            .expect("running");
        assert_eq!(p.state, State::Running { pid: 42 });
        assert_eq!(
            logs(&step),
            ["success: app entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)"]
        );
    }

    #[test]
    fn quick_exits_back_off_linearly_then_go_fatal() {
        let cfg = ProcessConfig {
            startretries: Some(2),
            ..config()
        };
        let base = Instant::now();
        let mut p = Process::default();
        let mut delays = Vec::new();
        for attempt in 0..3 {
            p.apply(Input::Spawned { pid: 10 + attempt }, &cfg, at(base, 0))
                .expect("spawn");
            let step = p
                .apply(Input::Exited(ExitOutcome::Exited(1)), &cfg, at(base, 0))
                .expect("exit");
            assert_eq!(logs(&step)[0], "exited: app (exit status 1; not expected)");
            for effect in &step.effects {
                if let Effect::Arm {
                    timer: Timer::Retry,
                    after,
                } = effect
                {
                    delays.push(after.as_secs());
                }
            }
            if attempt == 2 {
                assert_eq!(names(&step), ["BACKOFF", "FATAL"]);
                assert!(logs(&step).contains(
                    &"gave up: app entered FATAL state, too many start retries too quickly"
                        .to_string()
                ));
            } else {
                assert_eq!(names(&step), ["BACKOFF"]);
            }
        }
        assert_eq!(delays, [1, 2]);
        assert_eq!(p.state, State::Fatal);
        assert_eq!(p.backoff, 0);
        assert_eq!(p.spawnerr, Some(SpawnError::ExitedTooQuickly));
    }

    #[test]
    fn spawn_errors_back_off_and_keep_spawnerr() {
        let cfg = ProcessConfig {
            startretries: Some(0),
            ..config()
        };
        let mut p = Process::default();
        let error = SpawnError::CommandNotFound {
            argv0: "nope".into(),
        };
        let step = p
            .apply(
                Input::SpawnFailed {
                    error: error.clone(),
                },
                &cfg,
                Clock::now(),
            )
            .expect("applies");
        assert_eq!(names(&step), ["STARTING", "BACKOFF", "FATAL"]);
        assert_eq!(p.spawnerr, Some(error));
    }

    #[test]
    fn autorestart_policies_after_running() {
        let base = Instant::now();
        let cases = [
            (AutoRestart::Unexpected, 0, false),
            (AutoRestart::Unexpected, 1, true),
            (AutoRestart::Always, 0, true),
            (AutoRestart::Never, 1, false),
        ];
        for (policy, code, respawn) in cases {
            let cfg = ProcessConfig {
                autorestart: policy,
                ..config()
            };
            let mut p = Process::default();
            p.apply(Input::Spawned { pid: 5 }, &cfg, at(base, 0))
                .expect("spawn");
            p.apply(Input::StartSecsElapsed, &cfg, at(base, 1))
                .expect("running");
            let step = p
                .apply(Input::Exited(ExitOutcome::Exited(code)), &cfg, at(base, 5))
                .expect("exit");
            assert_eq!(p.state, State::Exited);
            assert_eq!(
                step.changes.last().and_then(|c| c.expected),
                Some(code == 0)
            );
            assert_eq!(
                step.effects.contains(&Effect::Respawn),
                respawn,
                "{policy:?} {code}"
            );
        }
    }

    #[test]
    fn exit_after_startsecs_before_timer_goes_running_then_exited() {
        let cfg = config();
        let base = Instant::now();
        let mut p = Process::default();
        p.apply(Input::Spawned { pid: 5 }, &cfg, at(base, 0))
            .expect("spawn");
        let step = p
            .apply(Input::Exited(ExitOutcome::Exited(0)), &cfg, at(base, 2))
            .expect("exit");
        assert_eq!(names(&step), ["RUNNING", "EXITED"]);
    }

    #[test]
    fn stop_escalates_to_sigkill_for_the_group() {
        let cfg = ProcessConfig {
            stopasgroup: true,
            killasgroup: true,
            stopsignal: Signal::SIGINT,
            ..config()
        };
        let mut p = Process::default();
        p.apply(Input::Spawned { pid: 7 }, &cfg, Clock::now())
            .expect("spawn");
        let step = p.apply(Input::Stop, &cfg, Clock::now()).expect("stop");
        assert_eq!(p.state, State::Stopping { pid: 7 });
        assert!(step.effects.contains(&Effect::Signal {
            signal: Signal::SIGINT,
            to_group: true
        }));
        let step = p
            .apply(Input::StopTimeout, &cfg, Clock::now())
            .expect("kill");
        assert!(step.effects.contains(&Effect::Signal {
            signal: Signal::SIGKILL,
            to_group: true
        }));
        assert_eq!(logs(&step), ["killing 'app' (7) with SIGKILL"]);
        let killed = ExitOutcome::Signaled {
            signal: libc::SIGKILL,
            core_dumped: false,
        };
        let step = p
            .apply(Input::Exited(killed), &cfg, Clock::now())
            .expect("reaped");
        assert_eq!(p.state, State::Stopped);
        assert_eq!(logs(&step), ["stopped: app (terminated by SIGKILL)"]);
        assert_eq!(p.exitstatus, -1);
    }

    #[test]
    fn stop_in_backoff_goes_straight_to_stopped_and_others_refuse() {
        let cfg = config();
        let mut p = Process {
            state: State::Backoff,
            ..Process::default()
        };
        let step = p.apply(Input::Stop, &cfg, Clock::now()).expect("stop");
        assert_eq!(names(&step), ["STOPPED"]);
        assert_eq!(
            p.apply(Input::Stop, &cfg, Clock::now()),
            Err(Refused::NotRunning)
        );
        let mut fatal = Process {
            state: State::Fatal,
            ..Process::default()
        };
        assert_eq!(
            fatal.apply(Input::Stop, &cfg, Clock::now()),
            Err(Refused::NotRunning)
        );
    }

    #[test]
    fn stale_inputs_are_ignored() {
        let cfg = config();
        let mut p = Process::default();
        assert_eq!(
            p.apply(Input::StartSecsElapsed, &cfg, Clock::now()),
            Err(Refused::Ignored)
        );
        assert_eq!(
            p.apply(Input::StopTimeout, &cfg, Clock::now()),
            Err(Refused::Ignored)
        );
        let mut running = Process {
            state: State::Running { pid: 3 },
            ..Process::default()
        };
        assert_eq!(
            running.apply(Input::Spawned { pid: 4 }, &cfg, Clock::now()),
            Err(Refused::Ignored)
        );
    }

    #[test]
    fn give_up_during_shutdown() {
        let cfg = config();
        let mut p = Process {
            state: State::Backoff,
            backoff: 2,
            ..Process::default()
        };
        let step = p.apply(Input::GiveUp, &cfg, Clock::now()).expect("give up");
        assert_eq!(names(&step), ["FATAL"]);
        assert_eq!(p.backoff, 0);
    }

    #[test]
    fn tally_counts_spawns_exits_by_reason_and_crashes() {
        let cfg = config();
        let base = Instant::now();
        let mut p = Process::default();
        let run = |p: &mut Process, pid: i32, t: u64| {
            p.apply(Input::Spawned { pid }, &cfg, at(base, t))
                .expect("spawn");
            p.apply(Input::StartSecsElapsed, &cfg, at(base, t + 1))
                .expect("running");
        };
        run(&mut p, 10, 0);
        p.apply(Input::Exited(ExitOutcome::Exited(1)), &cfg, at(base, 5))
            .expect("exit");
        run(&mut p, 11, 6);
        let killed = ExitOutcome::Signaled {
            signal: 9,
            core_dumped: false,
        };
        p.apply(Input::Exited(killed), &cfg, at(base, 9))
            .expect("kill");
        run(&mut p, 12, 10);
        p.apply(Input::Stop, &cfg, at(base, 12)).expect("stop");
        p.apply(Input::Exited(ExitOutcome::Exited(0)), &cfg, at(base, 12))
            .expect("stopped");

        assert_eq!(p.tally.spawns, 3);
        assert_eq!(p.tally.restarts(), 2);
        assert_eq!(p.tally.exits(ExitReason::Unexpected), 1);
        assert_eq!(p.tally.exits(ExitReason::Signal), 1);
        assert_eq!(p.tally.exits(ExitReason::Stopped), 1);
        assert_eq!(p.tally.exits(ExitReason::Expected), 0);
        assert_eq!(p.tally.crashes, 2, "a stop asked for is no crash");
    }

    #[test]
    fn memory_limit_restart_stops_then_respawns_and_counts_its_reason() {
        let cfg = config();
        let base = Instant::now();
        let mut p = Process::default();
        p.apply(Input::Spawned { pid: 7 }, &cfg, at(base, 0))
            .expect("spawn");
        p.apply(Input::StartSecsElapsed, &cfg, at(base, 1))
            .expect("running");
        let step = p
            .apply(Input::Restart(ExitReason::MemoryLimit), &cfg, at(base, 2))
            .expect("restart");
        assert_eq!(p.state, State::Stopping { pid: 7 });
        assert!(step.effects.contains(&Effect::Signal {
            signal: Signal::SIGTERM,
            to_group: false
        }));
        let killed = ExitOutcome::Signaled {
            signal: 15,
            core_dumped: false,
        };
        let step = p
            .apply(Input::Exited(killed), &cfg, at(base, 2))
            .expect("exit");
        assert_eq!(p.state, State::Stopped);
        assert!(step.effects.contains(&Effect::Respawn));
        assert_eq!(p.tally.exits(ExitReason::MemoryLimit), 1);
        assert_eq!(p.tally.crashes, 0);
        assert_eq!(
            p.stop_reason,
            ExitReason::Stopped,
            "the next stop is a plain one"
        );
    }

    /// A config with the crash-loop detector on: 3 crashes in 60 s, delays from 1 s.
    fn looping_config() -> ProcessConfig {
        let mut cfg = ProcessConfig {
            autorestart: AutoRestart::Always,
            ..config()
        };
        cfg.crash_loop.threshold = 3;
        cfg
    }

    /// Spawns at `start` (seconds from `base`), reaches RUNNING a second later and exits
    /// with `code` at `start + 2`; returns the exit's step.
    fn run_and_exit(
        p: &mut Process,
        cfg: &ProcessConfig,
        base: Instant,
        start: u64,
        code: i32,
    ) -> Step {
        p.apply(
            Input::Spawned {
                pid: 100 + start as i32,
            },
            cfg,
            at(base, start),
        )
        .expect("spawn");
        p.apply(Input::StartSecsElapsed, cfg, at(base, start + 1))
            .expect("running");
        p.apply(
            Input::Exited(ExitOutcome::Exited(code)),
            cfg,
            at(base, start + 2),
        )
        .expect("exit")
    }

    fn retry_delay(step: &Step) -> Option<u64> {
        step.effects.iter().find_map(|e| match e {
            Effect::Arm {
                timer: Timer::Retry,
                after,
            } => Some(after.as_secs()),
            _ => None,
        })
    }

    fn crash_facts(step: &Step) -> Option<CrashFacts> {
        step.effects.iter().find_map(|e| match e {
            Effect::RecordCrash(facts) => Some(*facts),
            _ => None,
        })
    }

    #[test]
    fn below_the_threshold_crashes_restart_at_once_as_in_supervisord() {
        let cfg = ProcessConfig {
            crash_loop: crate::config::CrashLoopPolicy {
                threshold: 5,
                ..looping_config().crash_loop
            },
            ..looping_config()
        };
        let base = Instant::now();
        let mut p = Process::default();
        for run in 0..4 {
            let step = run_and_exit(&mut p, &cfg, base, run * 3, 1);
            assert_eq!(names(&step), ["EXITED"]);
            assert!(step.effects.contains(&Effect::Respawn), "run {run}");
            assert_eq!(retry_delay(&step), None);
            let facts = crash_facts(&step).expect("every crash is recorded");
            assert!(!facts.crash_loop);
            assert_eq!(facts.recent_crashes, run as usize + 1);
        }
    }

    #[test]
    fn a_crash_loop_delays_restarts_doubling_and_starts_by_hand_at_once() {
        let cfg = looping_config();
        let base = Instant::now();
        let mut p = Process::default();
        run_and_exit(&mut p, &cfg, base, 0, 1);
        run_and_exit(&mut p, &cfg, base, 3, 1);
        let step = run_and_exit(&mut p, &cfg, base, 6, 1);
        assert_eq!(names(&step), ["EXITED", "BACKOFF"]);
        assert!(!step.effects.contains(&Effect::Respawn));
        assert_eq!(retry_delay(&step), Some(1));
        assert!(logs(&step).contains(&"crash loop: app crashed 3 times within 60s".to_string()));
        assert!(logs(&step)
            .contains(&"crash loop: app crashed 3 times in 60s, next start in 1s".to_string()));
        let facts = crash_facts(&step).expect("recorded");
        assert!(facts.crash_loop);
        assert_eq!(facts.next_start, Some(Duration::from_secs(1)));
        assert_eq!(facts.ran, Duration::from_secs(2));
        assert!(p.retry.is_some_and(|r| r.crash_loop));

        let mut delays = Vec::new();
        for start in [9, 12, 15] {
            delays.push(retry_delay(&run_and_exit(&mut p, &cfg, base, start, 1)));
        }
        assert_eq!(delays, [Some(2), Some(4), Some(8)]);
        // The Retry timer or a start by hand: both are a spawn from BACKOFF.
        p.apply(Input::Spawned { pid: 9 }, &cfg, at(base, 16))
            .expect("a start from a crash-loop BACKOFF");
        assert_eq!(p.retry, None);
    }

    #[test]
    fn expected_exits_never_count_as_crashes() {
        let cfg = looping_config();
        let base = Instant::now();
        let mut p = Process::default();
        for run in 0..6 {
            let step = run_and_exit(&mut p, &cfg, base, run * 3, 0);
            assert!(step.effects.contains(&Effect::Respawn));
            assert_eq!(crash_facts(&step), None);
        }
        assert_eq!(p.crash_loop.recent_crashes(), 0);
        assert_eq!(p.tally.crashes, 0);
    }

    #[test]
    fn a_stable_run_ends_the_loop_and_a_stop_by_hand_does_too() {
        let mut cfg = looping_config();
        cfg.crash_loop.reset = Duration::from_secs(30);
        let base = Instant::now();
        let mut p = Process::default();
        for start in [0, 3, 6] {
            run_and_exit(&mut p, &cfg, base, start, 1);
        }
        p.apply(Input::Spawned { pid: 50 }, &cfg, at(base, 10))
            .expect("spawn");
        let step = p
            .apply(Input::StartSecsElapsed, &cfg, at(base, 11))
            .expect("running");
        assert!(step.effects.contains(&Effect::Arm {
            timer: Timer::CrashLoopReset,
            after: Duration::from_secs(29)
        }));
        let step = p
            .apply(Input::CrashLoopReset, &cfg, at(base, 40))
            .expect("reset");
        assert_eq!(
            logs(&step),
            ["crash loop over: app has stayed up for 30s (crashloop_reset)"]
        );
        assert!(p.crash_loop.looping().is_none());

        let step = p
            .apply(Input::Exited(ExitOutcome::Exited(1)), &cfg, at(base, 41))
            .expect("exit");
        assert!(step.effects.contains(&Effect::Respawn), "counting afresh");
        for start in [50, 53] {
            run_and_exit(&mut p, &cfg, base, start, 1);
        }
        assert_eq!(p.state, State::Backoff);
        let step = p.apply(Input::Stop, &cfg, at(base, 59)).expect("stop");
        assert_eq!(names(&step), ["STOPPED"]);
        assert_eq!(logs(&step), ["crash loop over: app was stopped"]);
        assert!(p.crash_loop.looping().is_none() && p.retry.is_none());
    }

    #[test]
    fn crashloop_giveup_goes_fatal() {
        let mut cfg = looping_config();
        cfg.crash_loop.giveup = Some(1);
        let base = Instant::now();
        let mut p = Process::default();
        for start in [0, 3, 6] {
            run_and_exit(&mut p, &cfg, base, start, 1);
        }
        let step = run_and_exit(&mut p, &cfg, base, 9, 1);
        assert_eq!(names(&step), ["EXITED", "FATAL"]);
        assert_eq!(
            p.spawnerr.as_ref().map(ToString::to_string).as_deref(),
            Some("crash loop: gave up after 1 delayed restarts")
        );
        assert!(!step.effects.contains(&Effect::Respawn));
        assert!(
            p.crash_loop.looping().is_none(),
            "FATAL ends the loop: a start by hand counts afresh"
        );
    }

    #[test]
    fn a_death_by_signalprocess_is_no_crash_and_no_restart_ends_the_loop() {
        let mut cfg = looping_config();
        cfg.autorestart = AutoRestart::Unexpected;
        let base = Instant::now();
        let mut p = Process::default();
        p.apply(Input::Spawned { pid: 5 }, &cfg, at(base, 0))
            .expect("spawn");
        p.signalled = true;
        let killed = ExitOutcome::Signaled {
            signal: 9,
            core_dumped: false,
        };
        let step = p
            .apply(Input::Exited(killed), &cfg, at(base, 2))
            .expect("exit");
        assert_eq!(crash_facts(&step), None);
        assert_eq!(p.tally.exits(ExitReason::Stopped), 1);
        assert!(
            step.effects.contains(&Effect::Respawn),
            "still supervisord's autorestart"
        );
        p.apply(Input::Spawned { pid: 6 }, &cfg, at(base, 2))
            .expect("spawn");
        assert!(!p.signalled, "each child starts unsignalled");

        p.apply(Input::StartSecsElapsed, &cfg, at(base, 3))
            .expect("running");
        p.apply(Input::Exited(ExitOutcome::Exited(1)), &cfg, at(base, 4))
            .expect("crash 1");
        run_and_exit(&mut p, &cfg, base, 5, 1);
        run_and_exit(&mut p, &cfg, base, 8, 1);
        assert!(p.crash_loop.looping().is_some());
        let mut never = looping_config();
        never.autorestart = AutoRestart::Never;
        run_and_exit(&mut p, &never, base, 12, 1);
        assert_eq!(p.state, State::Exited);
        assert!(p.crash_loop.looping().is_none(), "nothing restarts it");
    }

    #[test]
    fn quick_crashes_count_but_keep_supervisords_backoff() {
        let cfg = ProcessConfig {
            startretries: Some(10),
            ..looping_config()
        };
        let base = Instant::now();
        let mut p = Process::default();
        let mut delays = Vec::new();
        for attempt in 0..4 {
            p.apply(Input::Spawned { pid: 10 + attempt }, &cfg, at(base, 0))
                .expect("spawn");
            let step = p
                .apply(Input::Exited(ExitOutcome::Exited(1)), &cfg, at(base, 0))
                .expect("exit");
            assert!(crash_facts(&step).is_some());
            delays.push(retry_delay(&step));
        }
        assert_eq!(delays, [Some(1), Some(2), Some(3), Some(4)]);
        assert!(p.crash_loop.looping().is_some(), "counted by the detector");
        assert!(p.retry.is_some_and(|r| !r.crash_loop));
    }

    #[test]
    fn startretries_minus_one_retries_forever_with_backoff_max_capping_the_wait() {
        let cfg = ProcessConfig {
            startretries: None,
            backoff_max: Some(2),
            ..config()
        };
        let base = Instant::now();
        let mut p = Process::default();
        let mut delays = Vec::new();
        for attempt in 0..6 {
            p.apply(Input::Spawned { pid: 10 + attempt }, &cfg, at(base, 0))
                .expect("spawn");
            let step = p
                .apply(Input::Exited(ExitOutcome::Exited(1)), &cfg, at(base, 0))
                .expect("exit");
            delays.push(retry_delay(&step));
        }
        assert_eq!(
            delays,
            [Some(1), Some(2), Some(2), Some(2), Some(2), Some(2)]
        );
        assert_eq!(p.state, State::Backoff, "never FATAL");
    }
}
