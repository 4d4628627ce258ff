//! Ordered stops: a shutdown or restart of vigild stops processes level by level in
//! reverse priority, counts down what is left, reports who it waits for, and for a
//! restart builds the new table from the new config.

use super::*;

impl Supervisor {
    pub(super) fn begin_stop(&mut self, mood: Mood) {
        // Once per shutdown or restart, as supervisord's `stopping` flag.
        if matches!(self.mood, Mood::Running) {
            self.events.publish(Event::supervisor_stopping());
        }
        self.mood = mood;
        self.drop_queued_starts();
        self.stop_level.clear();
        self.stop_queue = self
            .table
            .groups
            .iter()
            .map(|group| group.config.name.clone())
            .collect();
        // The first report comes at once, then every few seconds.
        self.next_report = Some(Instant::now());
    }

    /// Stops the groups one priority level at a time, highest priority number first (all
    /// groups of a level at once); true once all are stopped.
    pub(super) fn progress_stop(&mut self) -> bool {
        while self.stop_level.is_empty() {
            let Some(last) = self.stop_queue.last() else {
                self.next_report = None;
                return true;
            };
            let priority_of =
                |name: &String| self.table.group(name).map(|active| active.config.priority);
            let level = priority_of(last);
            let in_level = self
                .stop_queue
                .iter()
                .rev()
                .take_while(|name| priority_of(name) == level)
                .count();
            let groups = self.stop_queue.split_off(self.stop_queue.len() - in_level);
            let keys: Vec<ProcKey> = groups
                .iter()
                .rev()
                .filter_map(|name| self.table.group(name))
                .flat_map(|active| active.keys.iter().rev().cloned())
                .collect();
            self.waiting.clear();
            for key in &keys {
                // As supervisord's stop_all: BACKOFF gives up (FATAL), STARTING/RUNNING stop;
                // processes already stopping or stopped refuse both, as expected. vigil:
                // a process others depend on waits until they have stopped.
                if self.apply(key, Input::GiveUp).is_err() && self.stop_dependents_first(key) {
                    let _ = self.apply(key, Input::Stop);
                }
            }
            let table = &self.table;
            self.stop_level = keys
                .into_iter()
                .filter(|key| table.entries.get(key).is_some_and(|e| !e.is_idle()))
                .collect();
        }
        false
    }

    pub(super) fn unstopped_names(&self) -> Vec<String> {
        self.table
            .start_order()
            .filter_map(|key| self.table.entries.get(key))
            .filter(|e| !e.is_idle())
            .map(|e| e.config.name.clone())
            .collect()
    }

    pub(super) fn restart_with(&mut self, config: Config, base_env: Vec<(String, String)>) {
        self.config = Arc::new(config.clone());
        self.reloads += 1;
        self.timers.clear();
        self.calendar.clear();
        self.base_env = base_env.into();
        // The old pools go with their groups (as supervisord drops them on a reload).
        for group in self
            .table
            .groups
            .iter()
            .filter(|g| g.config.pool().is_some())
        {
            self.events
                .send(Message::PoolRemoved(group.config.name.clone()));
        }
        // The old table goes first: its fcgi sockets must be closed before they are bound
        // again.
        let cgroups = self.table.cgroups.take();
        self.table = Table::default();
        self.strip_ansi = config.supervisord.strip_ansi;
        self.nocleanup = config.supervisord.nocleanup;
        let (mut table, socket_errors) = Table::build(&config, HashMap::new());
        for error in socket_errors {
            tracing::error!(target: CRITICAL, "{error}");
        }
        table.cgroups = cgroups;
        self.table = table;
        self.view.reshape();
        self.keep_scales();
        self.note_dependencies();
        self.announce_groups();
        self.events.publish(Event::supervisor_running());
        self.autostart();
    }
}
