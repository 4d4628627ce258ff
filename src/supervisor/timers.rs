//! The supervisor's queues of deadlines ([`Deadlines`]): its timers (startsecs, back-off
//! retries, stop escalation) and the schedules' calendar each keep one, so the actor waits
//! for exactly the next deadline instead of ticking.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::table::ProcKey;
use crate::process::step::Timer;

/// A process timer that has come due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The process it belongs to.
    pub key: ProcKey,
    /// Which timer.
    pub timer: Timer,
    /// The process's generation when it was armed; a newer generation makes it stale.
    pub generation: u64,
}

/// The process timers.
pub type Timers = Deadlines<Due>;

/// One item and when it is due; ordered by the deadline, then by arming order.
#[derive(Debug)]
struct Armed<T> {
    at: Instant,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Armed<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<T> Eq for Armed<T> {}

impl<T> Ord for Armed<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl<T> PartialOrd for Armed<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Items by deadline, earliest first; items due at the same instant come in the order they
/// were armed.
#[derive(Debug)]
pub struct Deadlines<T> {
    heap: BinaryHeap<Reverse<Armed<T>>>,
    seq: u64,
}

impl<T> Default for Deadlines<T> {
    fn default() -> Self {
        Deadlines {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<T> Deadlines<T> {
    /// Arms `item` for `at`.
    pub fn arm(&mut self, at: Instant, item: T) {
        self.seq += 1;
        self.heap.push(Reverse(Armed {
            at,
            seq: self.seq,
            item,
        }));
    }

    /// The next deadline, if anything is armed.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(armed)| armed.at)
    }

    /// Removes and returns every item due at `now`, in order.
    pub fn pop_due(&mut self, now: Instant) -> Vec<T> {
        let mut due = Vec::new();
        while self.heap.peek().is_some_and(|Reverse(next)| next.at <= now) {
            if let Some(Reverse(next)) = self.heap.pop() {
                due.push(next.item);
            }
        }
        due
    }

    /// Every item armed and when it is due, in no order (stale ones included: the caller
    /// knows which are live); for a handover's record, once.
    pub fn armed(&self) -> impl Iterator<Item = (Instant, &T)> {
        self.heap
            .iter()
            .map(|Reverse(armed)| (armed.at, &armed.item))
    }

    /// Drops everything (on reload, when the table is rebuilt).
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

    fn due(key: ProcKey, timer: Timer, generation: u64) -> Due {
        Due {
            key,
            timer,
            generation,
        }
    }

    #[test]
    fn timers_come_due_earliest_first_and_in_arming_order_at_one_deadline() {
        let start = Instant::now();
        let mut timers = Timers::default();
        assert_eq!(timers.next_deadline(), None);
        timers.arm(
            start + Duration::from_secs(3),
            due(key("c"), Timer::StopTimeout, 1),
        );
        timers.arm(
            start + Duration::from_secs(1),
            due(key("a"), Timer::StartSecs, 1),
        );
        timers.arm(
            start + Duration::from_secs(1),
            due(key("b"), Timer::Retry, 2),
        );
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
