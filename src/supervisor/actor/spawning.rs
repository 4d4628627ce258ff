//! Starting children: autostart in priority order, the pipelined batches of spawns through
//! the spawner, and recording each new child (pid, captures, stdin) before any exit is
//! looked at.

use super::*;

impl Supervisor {
    /// Starts those of `keys` whose program has `autostart`, in the order given, except
    /// those the statefile says were stopped by hand.
    pub(super) fn start_autostart(&mut self, keys: Vec<ProcKey>) {
        let autostart: Vec<ProcKey> = keys
            .into_iter()
            .filter(|key| {
                let Some(entry) = self.table.entries.get(key) else {
                    return false;
                };
                let namespec = entry.config.namespec();
                let remembered = self.state.stopped_by_hand(&namespec);
                if entry.config.autostart && remembered {
                    tracing::info!("not starting {namespec}: it was stopped by hand (statefile)");
                }
                entry.config.autostart && !remembered
            })
            .collect();
        self.start_many(&autostart);
    }

    /// Starts every autostart process that was never started, in priority order.
    pub(super) fn autostart(&mut self) {
        let never_started: Vec<ProcKey> = self
            .table
            .start_order()
            .filter(|key| {
                self.table
                    .entries
                    .get(*key)
                    .is_some_and(|e| e.process.laststart.is_none())
            })
            .cloned()
            .collect();
        self.start_autostart(never_started);
    }

    /// Spawns `key` if its state allows a start.
    pub(super) fn start(&mut self, key: &ProcKey) {
        self.start_many(std::slice::from_ref(key));
    }

    /// Spawns those of `keys` whose state allows a start, in order. Starts are pipelined:
    /// while the spawner execs one child, the next is prepared; each start is recorded
    /// (pid, captures, state) before the actor looks at any exit, so none is missed.
    pub(super) fn start_many(&mut self, keys: &[ProcKey]) {
        let (keys, held): (Vec<ProcKey>, Vec<ProcKey>) = keys.iter().cloned().partition(|key| {
            !self.uses_dependencies || dependencies::waiting_for(&self.table, key).is_empty()
        });
        for key in held {
            if !self.waiting.contains(&key) {
                let names = dependencies::waiting_for(&self.table, &key).join(", ");
                tracing::info!("waiting: {} starts once {names} are ready", key.1);
                self.waiting.push(key);
            }
        }
        for batch in keys.chunks(Spawner::IN_FLIGHT) {
            let mut submitted = Vec::with_capacity(batch.len());
            for key in batch {
                if let Some(prepared) = self.prepare_start(key) {
                    let ticket = self.spawner.submit(prepared.plan());
                    submitted.push((key, prepared, ticket));
                }
            }
            for (key, prepared, ticket) in submitted {
                let started = self.spawner.collect(ticket);
                let Some(config) = self.table.entries.get(key).map(|e| Arc::clone(&e.config))
                else {
                    continue;
                };
                match prepared.finish(&config, started) {
                    Ok(child) => self.record_spawn(key, child),
                    Err(error) => {
                        let _ = self.apply(key, Input::SpawnFailed { error });
                    }
                }
            }
        }
    }

    /// Records a fresh child of `key`, in an order its observers rely on: the STARTING
    /// transition (and event) first, then a listener's stdin for its pool, then the captures,
    /// so no output event or protocol line about the child comes before them.
    pub(super) fn record_spawn(&mut self, key: &ProcKey, child: spawn::Child) {
        let pid = child.pid;
        self.table.pids.insert(pid, key.clone());
        self.guardian.watch(pid);
        self.reaper.watch(pid);
        self.view.touch(key);
        if let Some(entry) = self.table.entries.get_mut(key) {
            entry.stdin = child.stdin.and_then(|fd| match Feeder::start(fd) {
                Ok(feeder) => Some(feeder),
                Err(err) => {
                    tracing::error!("could not feed the stdin of '{}': {err}", entry.config.name);
                    None
                }
            });
        }
        let _ = self.apply(key, Input::Spawned { pid });
        self.view.touch(key);
        let Some(entry) = self.table.entries.get_mut(key) else {
            return;
        };
        if let (Some(stdin), true) = (&entry.stdin, entry.config.listener.is_some()) {
            self.events.send(Message::ListenerStarted {
                pool: entry.config.group.clone(),
                name: entry.config.name.clone(),
                pid,
                stdin: stdin.clone(),
            });
        }
        entry.capture_output(
            child.stdout,
            child.stderr,
            pid,
            self.strip_ansi,
            &self.events,
        );
    }

    /// What starting `key` needs, if its state allows a start; a failure to prepare is
    /// recorded as a spawn error.
    pub(super) fn prepare_start(&mut self, key: &ProcKey) -> Option<spawn::Prepared> {
        let entry = self.table.entries.get(key)?;
        if !entry.process.state.can_start() {
            return None;
        }
        let config = Arc::clone(&entry.config);
        let socket = match &config.fcgi_socket {
            None => None,
            Some(_) => {
                if let Some(fd) = self.table.fcgi_sockets.get(&config.program) {
                    Some(fd)
                } else {
                    let error = format!("no socket for fcgi-program '{}'", config.program);
                    let _ = self.apply(key, Input::SpawnFailed { error });
                    return None;
                }
            }
        };
        let prepared = spawn::prepare(
            &config,
            (&self.base_env, self.child_umask()),
            socket.map(|fd| {
                use std::os::fd::AsFd;
                fd.as_fd()
            }),
        );
        match prepared {
            Ok(prepared) => Some(prepared),
            Err(error) => {
                let _ = self.apply(key, Input::SpawnFailed { error });
                None
            }
        }
    }
}
