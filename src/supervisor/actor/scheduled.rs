//! vigil `schedule=` and `restart_schedule=` in the actor: planning a new entry's times and
//! acting on the ones that came due: a start unless the last run is still going (then the
//! run is skipped and counted), a restart of a running process through the normal stop
//! path. The times and their queue live in `supervisor/calendar.rs`.

use super::*;
use crate::config::schedule::Kind;
use crate::supervisor::calendar::Due;

impl Supervisor {
    /// Plans the schedules of `keys` (entries new to the table).
    pub(super) fn plan_schedules(&mut self, keys: &[ProcKey]) {
        let now = Clock::now();
        for key in keys {
            let Some(entry) = self.table.entries.get_mut(key) else {
                continue;
            };
            if entry.config.schedules.any() {
                let config = Arc::clone(&entry.config);
                self.calendar
                    .plan(key, &config.schedules, &mut entry.plan, now);
                self.view.touch(key);
            }
        }
    }

    /// Acts on the planned times that came due, and plans the next ones.
    pub(super) fn fire_schedules(&mut self, now: Instant) {
        let clock = Clock::now();
        for due in self.calendar.pop_due(now) {
            let Some(entry) = self.table.entries.get(&due.key) else {
                continue;
            };
            if entry.plan.next(due.kind) != Some(due.wall) {
                // The process was replaced (an update) and planned afresh.
                continue;
            }
            if clock.wall < due.wall {
                self.calendar.rearm(due, clock);
                continue;
            }
            if matches!(self.mood, Mood::Running) {
                self.run_scheduled(&due);
            }
            if let Some(entry) = self.table.entries.get_mut(&due.key) {
                let config = Arc::clone(&entry.config);
                self.calendar
                    .plan_next(&due, &config.schedules, &mut entry.plan, clock);
                self.view.touch(&due.key);
            }
        }
    }

    /// One planned start or restart of `due.key`.
    fn run_scheduled(&mut self, due: &Due) {
        let key = &due.key;
        let Some(entry) = self.table.entries.get(key) else {
            return;
        };
        let name = entry.config.name.clone();
        let expression = entry
            .config
            .schedules
            .get(due.kind)
            .map(ToString::to_string)
            .unwrap_or_default();
        let state = entry.process.state();
        let busy = entry.pending_start.is_some() || self.waiting.contains(key);
        let action = match (due.kind, state) {
            (Kind::Start, State::Stopped | State::Exited | State::Fatal) if !busy => {
                tracing::info!("schedule: starting {name} (schedule={expression})");
                self.start(key);
                "start"
            }
            (Kind::Restart, State::Running { .. }) => {
                tracing::info!("schedule: restarting {name} (restart_schedule={expression})");
                let _ = self.apply(key, Input::Restart(ExitReason::Scheduled));
                "restart"
            }
            // Stopped by hand or never started: a restart has nothing to restart.
            (Kind::Restart, State::Stopped | State::Exited | State::Fatal) => return,
            (kind, state) => {
                let what = if kind == Kind::Start {
                    "run"
                } else {
                    "restart"
                };
                if self.waiting.contains(key) {
                    tracing::warn!(
                        "schedule: skipped a {what} of {name}: its last start still waits for its dependencies"
                    );
                } else {
                    tracing::warn!(
                        "schedule: skipped a {what} of {name}: it is still {} from the last one",
                        state.name()
                    );
                }
                if let Some(entry) = self.table.entries.get_mut(key) {
                    entry.plan.skipped += 1;
                }
                "skipped"
            }
        };
        self.events
            .publish(Event::schedule(&key.0, &key.1, action, due.wall));
    }
}
