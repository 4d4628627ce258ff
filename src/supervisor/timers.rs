//! The supervisor's timers (startsecs, back-off retries, stop escalation) in one queue, so the
//! actor waits for exactly the next deadline instead of ticking.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::table::ProcKey;
use crate::process::step::Timer;

/// A timer that has come due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// When it was due.
    pub at: Instant,
    seq: u64,
    /// The process it belongs to.
    pub key: ProcKey,
    /// Which timer.
    pub timer: Timer,
    /// The process's generation when it was armed; a newer generation makes it stale.
    pub generation: u64,
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Armed timers, earliest first.
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<Due>>,
    seq: u64,
}

impl Timers {
    /// Arms `timer` for `key` at `at`.
    pub fn arm(&mut self, at: Instant, key: ProcKey, timer: Timer, generation: u64) {
        self.seq += 1;
        self.heap.push(Reverse(Due {
            at,
            seq: self.seq,
            key,
            timer,
            generation,
        }));
    }

    /// The next deadline, if any timer is armed.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(due)| due.at)
    }

    /// Removes and returns every timer due at `now`, in order.
    pub fn pop_due(&mut self, now: Instant) -> Vec<Due> {
        let mut due = Vec::new();
        while self.heap.peek().is_some_and(|Reverse(next)| next.at <= now) {
            if let Some(Reverse(next)) = self.heap.pop() {
                due.push(next);
            }
        }
        due
    }

    /// Drops every timer (on reload, when the table is rebuilt).
    pub fn clear(&mut self) {
        self.heap.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn key(name: &str) -> ProcKey {
        (name.to_string(), name.to_string())
    }

    #[test]
    fn timers_come_due_earliest_first_and_in_arming_order_at_one_deadline() {
        let start = Instant::now();
        let mut timers = Timers::default();
        assert_eq!(timers.next_deadline(), None);
        timers.arm(
            start + Duration::from_secs(3),
            key("c"),
            Timer::StopTimeout,
            1,
        );
        timers.arm(
            start + Duration::from_secs(1),
            key("a"),
            Timer::StartSecs,
            1,
        );
        timers.arm(start + Duration::from_secs(1), key("b"), Timer::Retry, 2);
        assert_eq!(timers.next_deadline(), Some(start + Duration::from_secs(1)));

        assert!(timers.pop_due(start).is_empty(), "nothing is due yet");
        let due = timers.pop_due(start + Duration::from_secs(2));
        let names: Vec<&str> = due.iter().map(|d| d.key.1.as_str()).collect();
        assert_eq!(
            names,
            ["a", "b"],
            "same deadline: the one armed first comes first"
        );
        assert_eq!(due[1].timer, Timer::Retry);
        assert_eq!(due[1].generation, 2);
        assert_eq!(timers.next_deadline(), Some(start + Duration::from_secs(3)));

        timers.clear();
        assert_eq!(timers.next_deadline(), None);
        assert!(timers.pop_due(start + Duration::from_secs(10)).is_empty());
    }
}
