//! vigil `depends_on` in the actor: holding a start until its dependencies are ready and
//! stopping dependents first. The rules on the table live in `supervisor/dependencies.rs`.

use super::*;

impl Supervisor {
    /// Notes whether any process in use has `depends_on` (after the table changed).
    pub(super) fn note_dependencies(&mut self) {
        self.uses_dependencies = self
            .table
            .entries
            .values()
            .any(|entry| !entry.config.depends_on.is_empty());
    }

    /// Starts, by hand, the dependencies of `key` that are stopped (theirs first).
    pub(super) fn start_dependencies_of(&mut self, key: &ProcKey) {
        if self.uses_dependencies {
            self.start_dependencies_from(key, &mut vec![key.clone()]);
        }
    }

    /// [`Self::start_dependencies_of`], never visiting a process twice (a graph changed by
    /// an update may hold a cycle the config check could not see).
    pub(super) fn start_dependencies_from(&mut self, key: &ProcKey, seen: &mut Vec<ProcKey>) {
        for dependency in dependencies::dependencies(&self.table, key) {
            if seen.contains(&dependency) {
                continue;
            }
            seen.push(dependency.clone());
            let stopped = self.table.entries.get(&dependency).is_some_and(|e| {
                matches!(
                    e.process.state,
                    State::Stopped | State::Exited | State::Fatal
                )
            });
            if stopped && !self.waiting.contains(&dependency) {
                self.start_dependencies_from(&dependency, seen);
                self.start(&dependency);
                if let Some(entry) = self.table.entries.get(&dependency) {
                    // Started by hand, through its dependent.
                    self.state.set(&entry.config.namespec(), false);
                }
            }
        }
    }

    /// Stops the running dependents of `key` (theirs first); true when none is left
    /// running, so `key` may stop now; otherwise `key` stops once they have.
    pub(super) fn stop_dependents_first(&mut self, key: &ProcKey) -> bool {
        if !self.uses_dependencies {
            return true;
        }
        self.stop_dependents_from(key, &mut vec![key.clone()])
    }

    /// [`Self::stop_dependents_first`], never visiting a process twice.
    pub(super) fn stop_dependents_from(&mut self, key: &ProcKey, seen: &mut Vec<ProcKey>) -> bool {
        let mut all_stopped = true;
        for dependent in dependencies::dependents(&self.table, key) {
            if seen.contains(&dependent) {
                continue;
            }
            seen.push(dependent.clone());
            self.waiting.retain(|k| *k != dependent);
            let state = self.table.entries.get(&dependent).map(|e| e.process.state);
            let Some(state) = state.filter(|state| !state.is_stopped()) else {
                continue;
            };
            all_stopped = false;
            if matches!(state, State::Stopping { .. }) {
                continue;
            }
            if self.apply(&dependent, Input::GiveUp).is_err()
                && self.stop_dependents_from(&dependent, seen)
            {
                let _ = self.apply(&dependent, Input::Stop);
            }
        }
        if !all_stopped && !self.stopping_after_dependents.contains(key) {
            tracing::info!("stopping {} once its dependents have stopped", key.1);
            self.stopping_after_dependents.push(key.clone());
        }
        all_stopped
    }

    /// vigil `depends_on`: starts the waiting processes whose dependencies are now ready,
    /// and stops the processes whose dependents have now stopped.
    pub(super) fn follow_dependencies(&mut self) {
        if !self.waiting.is_empty() {
            let table = &self.table;
            self.waiting.retain(|key| {
                table
                    .entries
                    .get(key)
                    .is_some_and(super::super::table::Entry::can_start)
            });
            let (ready, still): (Vec<ProcKey>, Vec<ProcKey>) = std::mem::take(&mut self.waiting)
                .into_iter()
                .partition(|key| dependencies::waiting_for(&self.table, key).is_empty());
            self.waiting = still;
            // A dependency that gave up (FATAL) will not be ready: the start fails.
            let table = &mut self.table;
            self.waiting.retain(|key| {
                let fatal = dependencies::dependencies(table, key)
                    .into_iter()
                    .find(|dep| {
                        table
                            .entries
                            .get(dep)
                            .is_some_and(|e| e.process.state == State::Fatal)
                    });
                let Some(fatal) = fatal else {
                    return true;
                };
                let why = crate::process::spawn::SpawnError::DependencyFatal {
                    dependency: fatal.1,
                };
                tracing::warn!("not starting {}: {why}", key.1);
                if let Some(entry) = table.entries.get_mut(key) {
                    entry.process.spawnerr = Some(why);
                }
                false
            });
            if matches!(self.mood, Mood::Running) && !ready.is_empty() {
                self.start_many(&ready);
            }
        }
        if !self.stopping_after_dependents.is_empty() {
            let deferred = std::mem::take(&mut self.stopping_after_dependents);
            for key in deferred {
                let stoppable = self.table.entries.get(&key).is_some_and(|e| {
                    matches!(
                        e.process.state,
                        State::Starting { .. } | State::Running { .. } | State::Backoff
                    )
                });
                if stoppable && self.stop_dependents_first(&key) {
                    // A stop (STOPPED) while running; at shutdown BACKOFF gives up (FATAL),
                    // as supervisord's stop_all.
                    let input = if matches!(self.mood, Mood::Running) {
                        Input::Stop
                    } else {
                        Input::GiveUp
                    };
                    if self.apply(&key, input).is_err() {
                        let _ = self.apply(&key, Input::Stop);
                    }
                }
            }
        }
    }
}
