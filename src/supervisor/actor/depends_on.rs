//! vigil `depends_on` in the actor: holding a start until its dependencies are ready and
//! stopping dependents first. The rules on the table live in `supervisor/dependencies.rs`.

use super::*;

impl Supervisor {
    /// Resolves the dependency graph again after the groups in use changed; held starts
    /// and deferred stops of processes that are gone are dropped, the rest looked at anew.
    pub(super) fn note_dependencies(&mut self) {
        self.table.gate = dependencies::Gate::build(&self.table);
        let table = &self.table;
        self.waiting.retain(|key| table.entries.contains_key(key));
        self.stopping_after_dependents
            .retain(|key| table.entries.contains_key(key));
        self.recheck_starts.extend(self.waiting.iter().cloned());
        self.recheck_stops
            .extend(self.stopping_after_dependents.iter().cloned());
    }

    /// Whether some process in use has `depends_on`.
    pub(super) fn uses_dependencies(&self) -> bool {
        !self.table.gate.is_empty()
    }

    /// `key`'s state or health changed: the held starts of its dependents and the deferred
    /// stops of its dependencies are looked at again (and only those).
    pub(super) fn dependency_changed(&mut self, key: &ProcKey) {
        if !self.table.gate.involves(key) {
            return;
        }
        if !self.waiting.is_empty() {
            self.recheck_starts.extend(
                dependencies::dependents(&self.table, key)
                    .iter()
                    .map(|need| need.key.clone()),
            );
        }
        if !self.stopping_after_dependents.is_empty() {
            self.recheck_stops.extend(
                dependencies::dependencies(&self.table, key)
                    .iter()
                    .map(|need| need.key.clone()),
            );
        }
    }

    /// Holds the start of `key` until its dependencies are ready.
    pub(super) fn hold_start(&mut self, key: ProcKey) {
        if !self.waiting.contains(&key) {
            let names = dependencies::waiting_for(&self.table, &key);
            let verb = if names.len() == 1 { "is" } else { "are" };
            let names = match names.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
                _ => names.join(""),
            };
            tracing::info!("waiting: {} starts once {names} {verb} ready", key.1);
            // A dependency may be FATAL already: looked at on the next turn.
            self.recheck_starts.push(key.clone());
            self.waiting.push(key);
        }
    }

    /// Starts, by hand, the dependencies of `key` that are stopped (theirs first); a
    /// one-shot dependency already done is not run again.
    pub(super) fn start_dependencies_of(&mut self, key: &ProcKey) {
        if self.uses_dependencies() {
            self.start_dependencies_from(key, &mut vec![key.clone()]);
        }
    }

    /// [`Self::start_dependencies_of`], never visiting a process twice (a graph changed by
    /// an update may hold a cycle the config check could not see).
    pub(super) fn start_dependencies_from(&mut self, key: &ProcKey, seen: &mut Vec<ProcKey>) {
        for need in dependencies::dependencies(&self.table, key).to_vec() {
            let dependency = need.key.clone();
            if seen.contains(&dependency) || dependencies::met(&self.table, &need) {
                continue;
            }
            seen.push(dependency.clone());
            let stopped = self.table.entries.get(&dependency).is_some_and(|e| {
                matches!(
                    e.process.state(),
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
        if !self.uses_dependencies() {
            return true;
        }
        self.stop_dependents_from(key, &mut vec![key.clone()])
    }

    /// [`Self::stop_dependents_first`], never visiting a process twice.
    pub(super) fn stop_dependents_from(&mut self, key: &ProcKey, seen: &mut Vec<ProcKey>) -> bool {
        let mut all_stopped = true;
        for need in dependencies::dependents(&self.table, key).to_vec() {
            let dependent = need.key;
            // A dependent that only needed `key` to have exited keeps running.
            if need.wants == crate::config::Wants::Exited || seen.contains(&dependent) {
                continue;
            }
            seen.push(dependent.clone());
            self.waiting.retain(|k| *k != dependent);
            let state = self
                .table
                .entries
                .get(&dependent)
                .map(|e| e.process.state());
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

    /// vigil `depends_on`: starts the held processes whose dependencies are now ready,
    /// and stops the processes whose dependents have now stopped. Only the processes
    /// [`Self::dependency_changed`] named are looked at.
    pub(super) fn follow_dependencies(&mut self) {
        if !self.recheck_starts.is_empty() {
            let candidates: HashSet<ProcKey> = std::mem::take(&mut self.recheck_starts)
                .into_iter()
                .collect();
            let mut ready = Vec::new();
            let mut still = Vec::with_capacity(self.waiting.len());
            for key in std::mem::take(&mut self.waiting) {
                if !candidates.contains(&key) {
                    still.push(key);
                    continue;
                }
                let Some(entry) = self.table.entries.get(&key).filter(|e| e.can_start()) else {
                    // Gone, or started another way.
                    continue;
                };
                // A dependency that gave up (FATAL) will not be ready: the start fails. A
                // failed one-shot (`:exited`) keeps it waiting instead, saying why: it may
                // be run again by hand or by its schedule.
                let fatal = dependencies::dependencies(&self.table, &key)
                    .iter()
                    .filter(|need| need.wants == crate::config::Wants::Running)
                    .find(|need| {
                        self.table
                            .entries
                            .get(&need.key)
                            .is_some_and(|e| e.process.state() == State::Fatal)
                    })
                    .map(|need| need.key.clone());
                if let Some(fatal) = fatal {
                    let why = crate::process::spawn::SpawnError::DependencyFatal {
                        dependency: fatal.1,
                    };
                    tracing::warn!("not starting {}: {why}", entry.config.name);
                    self.view.touch(&key);
                    if let Some(entry) = self.table.entries.get_mut(&key) {
                        let held = Input::StartHeld { why: Some(why) };
                        let _ = entry.process.apply(held, &entry.config, Clock::now());
                    }
                    continue;
                }
                if dependencies::waiting_for(&self.table, &key).is_empty() {
                    ready.push(key);
                } else {
                    still.push(key);
                }
            }
            self.waiting = still;
            if matches!(self.mood, Mood::Running) && !ready.is_empty() {
                self.start_many(&ready);
            }
        }
        if !self.recheck_stops.is_empty() {
            let candidates: HashSet<ProcKey> = std::mem::take(&mut self.recheck_stops)
                .into_iter()
                .collect();
            let (deferred, kept): (Vec<ProcKey>, Vec<ProcKey>) =
                std::mem::take(&mut self.stopping_after_dependents)
                    .into_iter()
                    .partition(|key| candidates.contains(key));
            self.stopping_after_dependents = kept;
            for key in deferred {
                let stoppable = self.table.entries.get(&key).is_some_and(|e| {
                    matches!(
                        e.process.state(),
                        State::Starting { .. } | State::Running { .. } | State::Backoff { .. }
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
