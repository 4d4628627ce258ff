//! The moves the arms of [`Process::apply`] share: entering RUNNING, STOPPING, BACKOFF and
//! FATAL, counting and recording crashes, feeding the watchdog, and recording each change.
//! Only the state machine calls them.

use std::time::Duration;

use super::{Clock, Process};
use crate::config::ProcessConfig;
use crate::process::announced::Announced;
use crate::process::crashloop::Verdict;
use crate::process::exit::ExitOutcome;
use crate::process::spawn_error::SpawnError;
use crate::process::state::{Health, Retry, State, StateKind};
use crate::process::step::{Change, CrashFacts, Effect, Level, Step, Timer};
use crate::process::tally::ExitReason;

impl Process {
    pub(super) fn begin_start(&mut self, clock: Clock) {
        self.signalled = false;
        self.oom_killed = false;
        self.started_at = Some(clock.now);
        self.laststart = Some(clock.wall);
        self.spawnerr = None;
        self.reached_running = false;
        self.announced = Announced::default();
        self.watchdog_due = None;
        self.watchdog_armed = false;
    }

    /// STARTING → RUNNING, saying `why` in supervisord's `success:` line; a run in a crash
    /// loop arms the timer that ends the loop once the run has lasted.
    pub(super) fn become_running(
        &mut self,
        step: &mut Step,
        config: &ProcessConfig,
        clock: Clock,
        (pid, health): (i32, Option<Health>),
        why: &str,
    ) {
        self.backoff = 0;
        self.change(step, State::Running { pid, health }, None);
        step.log(
            Level::Info,
            format!("success: {} entered RUNNING state, {why}", config.name),
        );
        self.feed_watchdog(step, config, clock);
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

    /// vigil `watchdog_sec`: the next `WATCHDOG=1` is due one period from now. One timer
    /// is armed at a time: a feed moves the deadline, and a timer that fires before it
    /// is armed again for what is left.
    pub(super) fn feed_watchdog(&mut self, step: &mut Step, config: &ProcessConfig, clock: Clock) {
        if let Some(period) = config.watchdog {
            self.watchdog_due = clock.now.checked_add(period);
            if !self.watchdog_armed {
                self.watchdog_armed = true;
                step.arm(Timer::Watchdog, period);
            }
        }
    }

    /// → STOPPING for `reason`: the stop signal (to the group with `stopasgroup`), and
    /// SIGKILL after `stopwaitsecs`.
    pub(super) fn stop_child(
        &mut self,
        step: &mut Step,
        config: &ProcessConfig,
        (pid, health): (i32, Option<Health>),
        reason: ExitReason,
    ) {
        let stopping = State::Stopping {
            pid,
            reason,
            health,
        };
        self.change(step, stopping, None);
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

    /// An exit while STARTING that is a failed start: before `startsecs`, or, for a
    /// program that says when it is ready, any exit before it did.
    pub(super) fn too_quick(&self, config: &ProcessConfig, clock: Clock) -> bool {
        if !config.ready.is_startsecs() {
            return true;
        }
        self.started_at.is_some_and(|start| {
            clock.now.duration_since(start) < Duration::from_secs(config.startsecs)
        })
    }

    /// Counts a crash in the detector; says so when it starts a loop (and returns true).
    pub(super) fn count_crash(
        &mut self,
        step: &mut Step,
        config: &ProcessConfig,
        clock: Clock,
    ) -> bool {
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
    pub(super) fn record_crash(
        &self,
        step: &mut Step,
        pid: i32,
        outcome: ExitOutcome,
        (clock, loop_began, cause): (Clock, bool, Option<ExitReason>),
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
            next_start: self.state.retry().map(|retry| retry.delay),
            cause,
        }));
    }

    /// EXITED and autorestart says start again: at once, after the crash-loop delay
    /// (BACKOFF), or not at all when `crashloop_giveup` is reached (FATAL).
    pub(super) fn restart_after_exit(
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
                self.back_off(step, clock, delay, true);
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
    pub(super) fn end_crash_loop_by_hand(&mut self, step: &mut Step, config: &ProcessConfig) {
        if self.crash_loop.end() {
            step.log(
                Level::Info,
                format!("crash loop over: {} was stopped", config.name),
            );
        }
    }

    /// Enters BACKOFF with a start scheduled after `delay`.
    pub(super) fn back_off(
        &mut self,
        step: &mut Step,
        clock: Clock,
        delay: Duration,
        crash_loop: bool,
    ) {
        // A wait beyond what an Instant can hold never comes; `at` is only shown.
        let at = clock.now.checked_add(delay).unwrap_or(clock.now);
        let retry = Retry {
            at,
            delay,
            crash_loop,
        };
        self.change(step, State::Backoff { retry }, None);
        step.arm(Timer::Retry, delay);
    }

    /// STARTING → BACKOFF, and straight on to FATAL when the retries are used up.
    pub(super) fn enter_backoff(&mut self, step: &mut Step, config: &ProcessConfig, clock: Clock) {
        self.backoff += 1;
        if config
            .startretries
            .is_some_and(|retries| self.backoff > retries)
        {
            // supervisord passes through BACKOFF on its way to FATAL.
            self.pass(step, StateKind::Backoff);
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
            self.back_off(step, clock, delay, false);
        }
    }

    /// BACKOFF → FATAL; only running out of retries says "gave up:" (a shutdown gives up
    /// silently, as supervisord's `give_up`).
    pub(super) fn give_up(&mut self, step: &mut Step) {
        self.backoff = 0;
        self.change(step, State::Fatal, None);
    }

    /// Moves to `to` and records the change.
    pub(super) fn change(&mut self, step: &mut Step, to: State, expected: Option<bool>) {
        if to.kind() == StateKind::Running {
            self.reached_running = true;
        }
        if to == State::Fatal {
            // FATAL is the alert now; a start by hand counts crashes afresh.
            self.crash_loop.end();
        }
        let pid = to.pid().or(self.state.pid());
        self.record(step, to.kind(), pid, expected);
        self.state = to;
    }

    /// Records passing through a state `kind` this step does not stay in.
    pub(super) fn pass(&self, step: &mut Step, kind: StateKind) {
        self.record(step, kind, None, None);
    }

    pub(super) fn record(
        &self,
        step: &mut Step,
        to: StateKind,
        pid: Option<i32>,
        expected: Option<bool>,
    ) {
        // After a state passed through, the next change starts from it.
        let from = step
            .changes
            .last()
            .map_or(self.state.kind(), |change| change.to);
        step.changes.push(Change {
            from,
            to,
            pid,
            expected,
            tries: self.backoff,
        });
    }
}
