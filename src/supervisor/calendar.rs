//! vigil `schedule=` / `restart_schedule=`: when each scheduled process's next start or
//! restart is due ([`Plan`], kept in its table entry) and one queue of those times by
//! monotonic deadline ([`Calendar`]) that the actor waits on beside its timers. A deadline
//! is at most [`NAP`] away, so a wall clock that jumps (NTP, a suspend) is looked at again
//! within a minute; a time already past when vigild starts or wakes is not replayed, the
//! next one is planned. It decides no state: the actor acts on what comes due.

use std::time::{Duration, Instant, SystemTime};

use super::table::ProcKey;
use super::timers::Deadlines;
use crate::config::schedule::Kind;
use crate::config::Schedules;
use crate::process::machine::Clock;

/// The longest wait before the wall clock is looked at again.
pub const NAP: Duration = Duration::from_secs(60);

/// One scheduled process's next times and what its schedule skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Plan {
    /// When `schedule=` next starts it.
    pub next_start: Option<SystemTime>,
    /// When `restart_schedule=` next restarts it.
    pub next_restart: Option<SystemTime>,
    /// Runs not started (or restarts not made) because the last was still going.
    pub skipped: u64,
}

impl Plan {
    /// The planned time of `kind`.
    pub fn next(&self, kind: Kind) -> Option<SystemTime> {
        match kind {
            Kind::Start => self.next_start,
            Kind::Restart => self.next_restart,
        }
    }

    fn set(&mut self, kind: Kind, at: Option<SystemTime>) {
        match kind {
            Kind::Start => self.next_start = at,
            Kind::Restart => self.next_restart = at,
        }
    }
}

/// A planned time in the queue (looked at no later than [`NAP`] after it was armed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The process.
    pub key: ProcKey,
    /// Start or restart.
    pub kind: Kind,
    /// The wall-clock time planned; an entry whose plan says otherwise is stale.
    pub wall: SystemTime,
}

/// The queue of planned times, earliest deadline first.
#[derive(Debug, Default)]
pub struct Calendar {
    deadlines: Deadlines<Due>,
}

impl Calendar {
    /// Plans `schedules`' next start and restart after `now` into `plan` and the queue.
    pub fn plan(&mut self, key: &ProcKey, schedules: &Schedules, plan: &mut Plan, now: Clock) {
        for kind in Kind::ALL {
            let next = schedules
                .get(kind)
                .and_then(|expression| expression.next_after(now.wall, schedules.zone));
            plan.set(kind, next);
            if let Some(wall) = next {
                self.arm(key.clone(), kind, wall, now);
            }
        }
    }

    /// Plans the time after `due` (or after now, when vigild fell behind) for `due`'s kind.
    pub fn plan_next(&mut self, due: &Due, schedules: &Schedules, plan: &mut Plan, now: Clock) {
        let after = due.wall.max(now.wall);
        let next = schedules
            .get(due.kind)
            .and_then(|expression| expression.next_after(after, schedules.zone));
        plan.set(due.kind, next);
        if let Some(wall) = next {
            self.arm(due.key.clone(), due.kind, wall, now);
        }
    }

    /// Queues `wall` again: a look that came before it (a nap, a clock set back).
    pub fn rearm(&mut self, due: Due, now: Clock) {
        self.arm(due.key, due.kind, due.wall, now);
    }

    fn arm(&mut self, key: ProcKey, kind: Kind, wall: SystemTime, now: Clock) {
        let wait = wall.duration_since(now.wall).unwrap_or_default().min(NAP);
        self.deadlines.arm(now.now + wait, Due { key, kind, wall });
    }

    /// The next deadline, if anything is planned.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.next_deadline()
    }

    /// Removes and returns what is due at `now`, in order; the caller drops stale entries
    /// (whose plan no longer says `wall`), re-arms early ones and acts on the rest.
    pub fn pop_due(&mut self, now: Instant) -> Vec<Due> {
        self.deadlines.pop_due(now)
    }

    /// Drops everything (a restart rebuilds the table and plans afresh).
    pub fn clear(&mut self) {
        self.deadlines.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::schedule::{cron_expression, Zone};

    fn clock(base: Instant, wall: SystemTime, secs: u64) -> Clock {
        Clock {
            now: base + Duration::from_secs(secs),
            wall: wall + Duration::from_secs(secs),
        }
    }

    #[test]
    fn a_plan_naps_at_most_a_minute_and_comes_due_at_its_wall_time() {
        let base = Instant::now();
        // 2026-12-03 16:00:00 UTC.
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_313_600);
        let schedules = Schedules {
            start: Some(cron_expression("*/5 * * * *").expect("cron")),
            restart: Some(cron_expression("30 * * * * *").expect("cron")),
            zone: Zone::Named(chrono_tz::UTC),
        };
        let key = ("g".to_string(), "job".to_string());
        let mut plan = Plan::default();
        let mut calendar = Calendar::default();
        calendar.plan(&key, &schedules, &mut plan, clock(base, wall, 0));
        assert_eq!(plan.next_start, Some(wall + Duration::from_secs(300)));
        assert_eq!(plan.next_restart, Some(wall + Duration::from_secs(30)));
        // The restart is due in 30 s; the start's look naps a minute.
        assert_eq!(
            calendar.next_deadline(),
            Some(base + Duration::from_secs(30))
        );
        let due = calendar.pop_due(base + Duration::from_secs(30));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].kind, Kind::Restart);
        calendar.plan_next(&due[0], &schedules, &mut plan, clock(base, wall, 30));
        assert_eq!(plan.next_restart, Some(wall + Duration::from_secs(90)));
        let due = calendar.pop_due(base + Duration::from_secs(60));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].kind, Kind::Start, "a nap, not yet the start's time");
        assert!(due[0].wall > wall + Duration::from_secs(60));
    }

    #[test]
    fn a_run_missed_while_behind_is_not_replayed() {
        let base = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_313_600);
        let schedules = Schedules {
            start: Some(cron_expression("* * * * *").expect("cron")),
            restart: None,
            zone: Zone::Named(chrono_tz::UTC),
        };
        let key = ("g".to_string(), "job".to_string());
        let mut plan = Plan::default();
        let mut calendar = Calendar::default();
        calendar.plan(&key, &schedules, &mut plan, clock(base, wall, 0));
        let due = calendar.pop_due(base + Duration::from_secs(60)).remove(0);
        // Looked at ten minutes late (a suspend): the next run is after now.
        calendar.plan_next(&due, &schedules, &mut plan, clock(base, wall, 600));
        assert_eq!(plan.next_start, Some(wall + Duration::from_secs(660)));
    }
}
