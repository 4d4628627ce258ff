//! Keeps a process's events back after its child exits until that child's last output has
//! passed, as supervisord drains a dead child's pipes before it records the exit: a
//! listener sees the final PROCESS_LOG/PROCESS_COMMUNICATION events (and the crash record
//! exists) before PROCESS_STATE_EXITED. The respawn is not delayed, only the events about
//! it, and never beyond a deadline. Pure bookkeeping: the dispatcher owns it and publishes
//! what it lets through.

use std::collections::HashMap;
use std::time::Instant;

use super::Event;

/// The holds in force, by process.
#[derive(Debug, Default)]
pub struct Holds {
    held: HashMap<(String, String), Held>,
}

#[derive(Debug)]
struct Held {
    /// The exited child, whose output still passes.
    pid: i32,
    /// Everything else about the process since the hold began, in order.
    waiting: Vec<Event>,
    /// When the events go out even if the child's output never ends (a grandchild holds
    /// the pipe).
    until: Instant,
}

impl Holds {
    /// Holds `group`/`name`'s events from now on until [`Holds::release`] of `pid` or
    /// `until`. A hold already in force for the process ends first: its events come back
    /// to be published.
    pub fn hold(&mut self, group: &str, name: &str, pid: i32, until: Instant) -> Vec<Event> {
        let key = (group.to_string(), name.to_string());
        let previous = self.held.insert(
            key,
            Held {
                pid,
                waiting: Vec::new(),
                until,
            },
        );
        previous.map(|held| held.waiting).unwrap_or_default()
    }

    /// Gives `event` back if it may be published now: it is about no held process, or it is
    /// the exited child's own output. Otherwise it waits for the hold to end.
    pub fn admit(&mut self, event: Event) -> Option<Event> {
        if self.held.is_empty() {
            return Some(event);
        }
        let Some((group, name)) = event.process() else {
            return Some(event);
        };
        let Some(held) = self.held.get_mut(&(group.to_string(), name.to_string())) else {
            return Some(event);
        };
        if event
            .origin
            .as_ref()
            .is_some_and(|origin| origin.pid == held.pid)
        {
            return Some(event);
        }
        held.waiting.push(event);
        None
    }

    /// The output of `group`/`name`'s child `pid` has all passed: the events held behind it.
    pub fn release(&mut self, group: &str, name: &str, pid: i32) -> Vec<Event> {
        let key = (group.to_string(), name.to_string());
        match self.held.get(&key) {
            Some(held) if held.pid == pid => self
                .held
                .remove(&key)
                .map(|held| held.waiting)
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Ends every hold whose deadline has passed; their events, in order.
    pub fn expire(&mut self, now: Instant) -> Vec<Event> {
        let due: Vec<(String, String)> = self
            .held
            .iter()
            .filter(|(_, held)| held.until <= now)
            .map(|(key, _)| key.clone())
            .collect();
        due.into_iter()
            .filter_map(|key| self.held.remove(&key))
            .flat_map(|held| held.waiting)
            .collect()
    }

    /// The earliest deadline of a hold in force (holds are few: exits whose output is still
    /// being read).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.held.values().map(|held| held.until).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Channel;
    use crate::process::state::StateKind;
    use crate::process::step::Change;
    use std::time::Duration;

    fn names(events: &[Event]) -> Vec<&str> {
        events.iter().map(|event| event.name).collect()
    }

    #[test]
    fn the_dead_childs_output_passes_and_the_rest_waits_for_it() {
        let mut holds = Holds::default();
        let until = Instant::now() + Duration::from_secs(5);
        assert!(holds.hold("g", "p", 10, until).is_empty());
        let exited = Event::process_state(
            "g",
            "p",
            &Change::between(StateKind::Running, StateKind::Exited, Some(10)),
        );
        let starting = Event::process_state(
            "g",
            "p",
            &Change::between(StateKind::Exited, StateKind::Starting, Some(11)),
        );
        assert!(holds.admit(exited).is_none());
        assert!(holds.admit(starting).is_none());
        let last_words = Event::process_log("g", "p", 10, Channel::Stderr, b"last words");
        assert!(
            holds.admit(last_words).is_some(),
            "the old child's output passes"
        );
        let new_output = Event::process_log("g", "p", 11, Channel::Stdout, b"hello");
        assert!(holds.admit(new_output).is_none(), "the new child's waits");
        let other = Event::process_log("g", "q", 12, Channel::Stdout, b"other");
        assert!(holds.admit(other).is_some(), "other processes are not held");
        assert!(
            holds.release("g", "p", 99).is_empty(),
            "another child's release"
        );
        let released = holds.release("g", "p", 10);
        assert_eq!(
            names(&released),
            [
                "PROCESS_STATE_EXITED",
                "PROCESS_STATE_STARTING",
                "PROCESS_LOG_STDOUT"
            ]
        );
        assert!(holds.next_deadline().is_none());
    }

    #[test]
    fn a_hold_ends_at_its_deadline_or_at_the_next_exit() {
        let mut holds = Holds::default();
        let now = Instant::now();
        holds.hold("g", "p", 10, now + Duration::from_secs(1));
        let exited = Event::process_state(
            "g",
            "p",
            &Change::between(StateKind::Running, StateKind::Exited, Some(10)),
        );
        assert!(holds.admit(exited.clone()).is_none());
        assert!(holds.expire(now).is_empty());
        assert_eq!(holds.next_deadline(), Some(now + Duration::from_secs(1)));
        assert_eq!(
            names(&holds.expire(now + Duration::from_secs(1))),
            ["PROCESS_STATE_EXITED"]
        );

        holds.hold("g", "p", 10, now + Duration::from_secs(1));
        assert!(holds.admit(exited).is_none());
        let earlier = holds.hold("g", "p", 11, now + Duration::from_secs(1));
        assert_eq!(names(&earlier), ["PROCESS_STATE_EXITED"]);
    }
}
