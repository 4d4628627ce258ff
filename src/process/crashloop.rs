//! vigil's crash-loop detector: counts a process's crashes in a sliding window and, once
//! they reach the threshold, says how long each restart waits (doubling per crash) until
//! one run lasts `crashloop_reset`. supervisord restarts a crashing program at once,
//! forever; this is the one default in which vigil differs.
//!
//! Pure like the state machine that owns it: times come in as arguments.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use super::handover::CrashLoopRecord;
use crate::config::CrashLoopPolicy;

/// Crash times remembered at most, however short the restarts.
const MAX_REMEMBERED: usize = 1024;

/// A crash loop in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Looping {
    /// When the loop was detected.
    pub since: SystemTime,
    /// The wait chosen at the last crash (each crash in the loop doubles it, up to
    /// `restart_delay_max`, before it is used).
    pub delay: Duration,
    /// Delayed restarts so far in this loop (what `crashloop_giveup` counts).
    pub restarts: u32,
}

/// What to do after a crash that autorestart would restart at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not in a loop: restart now, as supervisord does.
    Now,
    /// In a loop: restart after this wait.
    After(Duration),
    /// `crashloop_giveup` restarts have not helped: stop trying (FATAL).
    GiveUp,
}

/// One process's recent crashes and loop state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrashLoop {
    /// Crash times inside the window, oldest first.
    recent: VecDeque<Instant>,
    looping: Option<Looping>,
}

impl CrashLoop {
    /// Counts a crash at `now`; true when this crash starts a loop.
    pub fn crashed(&mut self, policy: &CrashLoopPolicy, now: Instant, wall: SystemTime) -> bool {
        if policy.threshold == 0 {
            return false;
        }
        while self
            .recent
            .front()
            .is_some_and(|at| now.duration_since(*at) >= policy.window)
        {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        // A zero restart_delay lets crashes come as fast as spawns: keep the count bounded.
        if self.recent.len() > MAX_REMEMBERED {
            self.recent.pop_front();
        }
        match &mut self.looping {
            Some(looping) => {
                looping.delay = looping.delay.saturating_mul(2).min(policy.delay_max);
                false
            }
            None if self.recent.len() >= policy.threshold as usize => {
                self.looping = Some(Looping {
                    since: wall,
                    delay: policy.delay,
                    restarts: 0,
                });
                true
            }
            None => false,
        }
    }

    /// How the restart after the crash just counted happens; a delayed restart counts
    /// towards `crashloop_giveup`.
    pub fn restart(&mut self, policy: &CrashLoopPolicy) -> Verdict {
        match &mut self.looping {
            None => Verdict::Now,
            Some(looping) if policy.giveup.is_some_and(|n| looping.restarts >= n) => {
                Verdict::GiveUp
            }
            Some(looping) => {
                looping.restarts = looping.restarts.saturating_add(1);
                Verdict::After(looping.delay)
            }
        }
    }

    /// Ends the loop and forgets past crashes (a run lasted `crashloop_reset`, or the
    /// process was stopped by hand); true if a loop was in progress.
    pub fn end(&mut self) -> bool {
        self.recent.clear();
        self.looping.take().is_some()
    }

    /// The loop in progress, if any.
    pub fn looping(&self) -> Option<Looping> {
        self.looping
    }

    /// Crashes counted in the window at the last crash.
    pub fn recent_crashes(&self) -> usize {
        self.recent.len()
    }

    /// The detector as a handover record, its times as seconds before `now`.
    pub fn to_record(&self, now: Instant) -> CrashLoopRecord {
        CrashLoopRecord {
            recent_ago: self
                .recent
                .iter()
                .map(|at| now.saturating_duration_since(*at).as_secs_f64())
                .collect(),
            looping: self.looping.map(|looping| {
                (
                    crate::timefmt::epoch_seconds(looping.since).unwrap_or(0.0),
                    looping.delay.as_secs_f64(),
                    looping.restarts,
                )
            }),
        }
    }

    /// The detector a handover record describes, its times taken back from `now`.
    pub fn from_record(record: &CrashLoopRecord, now: Instant) -> CrashLoop {
        CrashLoop {
            recent: record
                .recent_ago
                .iter()
                .filter_map(|ago| now.checked_sub(seconds(*ago)))
                .take(MAX_REMEMBERED)
                .collect(),
            looping: record.looping.map(|(since, delay, restarts)| Looping {
                since: SystemTime::UNIX_EPOCH + seconds(since),
                delay: seconds(delay),
                restarts,
            }),
        }
    }
}

/// A count of seconds from a handover record; what is not a finite, non-negative number is 0.
pub(super) fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> CrashLoopPolicy {
        CrashLoopPolicy {
            threshold: 3,
            window: Duration::from_secs(60),
            delay: Duration::from_secs(1),
            delay_max: Duration::from_secs(5),
            reset: Duration::from_secs(600),
            giveup: None,
        }
    }

    fn crash_at(
        detector: &mut CrashLoop,
        policy: &CrashLoopPolicy,
        base: Instant,
        secs: u64,
    ) -> bool {
        detector.crashed(policy, base + Duration::from_secs(secs), SystemTime::now())
    }

    #[test]
    fn the_threshold_th_crash_in_the_window_starts_the_loop() {
        let (policy, base) = (policy(), Instant::now());
        let mut detector = CrashLoop::default();
        assert!(!crash_at(&mut detector, &policy, base, 0));
        assert_eq!(detector.restart(&policy), Verdict::Now);
        assert!(!crash_at(&mut detector, &policy, base, 10));
        assert_eq!(detector.restart(&policy), Verdict::Now);
        assert!(crash_at(&mut detector, &policy, base, 20));
        assert_eq!(detector.recent_crashes(), 3);
        assert_eq!(
            detector.restart(&policy),
            Verdict::After(Duration::from_secs(1))
        );
    }

    #[test]
    fn crashes_outside_the_window_do_not_count() {
        let (policy, base) = (policy(), Instant::now());
        let mut detector = CrashLoop::default();
        for secs in [0, 40, 80, 120] {
            assert!(!crash_at(&mut detector, &policy, base, secs), "at {secs}s");
        }
        assert_eq!(detector.recent_crashes(), 2);
        assert!(detector.looping().is_none());
    }

    #[test]
    fn the_delay_doubles_per_crash_up_to_the_maximum() {
        let (policy, base) = (policy(), Instant::now());
        let mut detector = CrashLoop::default();
        let mut delays = Vec::new();
        for secs in 0..8 {
            crash_at(&mut detector, &policy, base, secs);
            if let Verdict::After(delay) = detector.restart(&policy) {
                delays.push(delay.as_secs());
            }
        }
        assert_eq!(delays, [1, 2, 4, 5, 5, 5]);
        assert_eq!(detector.looping().map(|l| l.restarts), Some(6));
    }

    #[test]
    fn giveup_after_that_many_delayed_restarts() {
        let policy = CrashLoopPolicy {
            giveup: Some(2),
            ..policy()
        };
        let base = Instant::now();
        let mut detector = CrashLoop::default();
        let verdicts: Vec<Verdict> = (0..5)
            .map(|secs| {
                crash_at(&mut detector, &policy, base, secs);
                detector.restart(&policy)
            })
            .collect();
        let s = Duration::from_secs;
        assert_eq!(
            verdicts,
            [
                Verdict::Now,
                Verdict::Now,
                Verdict::After(s(1)),
                Verdict::After(s(2)),
                Verdict::GiveUp
            ]
        );
    }

    #[test]
    fn ending_the_loop_starts_counting_afresh() {
        let (policy, base) = (policy(), Instant::now());
        let mut detector = CrashLoop::default();
        for secs in 0..3 {
            crash_at(&mut detector, &policy, base, secs);
        }
        assert!(detector.end());
        assert!(!detector.end());
        assert!(!crash_at(&mut detector, &policy, base, 4));
        assert_eq!(detector.restart(&policy), Verdict::Now);
    }

    #[test]
    fn threshold_zero_is_supervisords_behaviour() {
        let policy = CrashLoopPolicy {
            threshold: 0,
            ..policy()
        };
        let base = Instant::now();
        let mut detector = CrashLoop::default();
        for secs in 0..20 {
            assert!(!crash_at(&mut detector, &policy, base, secs));
            assert_eq!(detector.restart(&policy), Verdict::Now);
        }
    }
}
