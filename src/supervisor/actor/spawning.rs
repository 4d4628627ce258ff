//! Starting children: autostart in priority order, the queue of starts handed to the
//! spawner as it has room, its answers (a child, or a spawn error) taken as they come, and
//! recording each new child (pid, captures, stdin). The actor never waits for a start: a
//! child that ends before its start's answer is taken has its exit kept until then.

use super::*;

/// A start handed to the spawner whose answer has not come.
pub(super) enum InFlight {
    /// A process's child.
    Process(ProcKey, spawn::Prepared),
    /// A health probe's child, and who waits for it.
    Probe(
        Box<crate::config::ProcessConfig>,
        spawn::Prepared,
        oneshot::Sender<Result<ProbeChild, ProbeRefusal>>,
    ),
}

/// One submitted start, with its outcome once the spawner has given it.
pub(super) struct Flight {
    /// The helper it was sent to (none: decided at once).
    helper: Option<usize>,
    start: InFlight,
    answer: Option<Result<i32, LaunchError>>,
}

impl InFlight {
    /// What the spawner is asked to start.
    pub(super) fn plan(&self) -> &Launch {
        match self {
            InFlight::Process(_, prepared) | InFlight::Probe(_, prepared, _) => prepared.plan(),
        }
    }
}

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
                    .is_some_and(|e| e.process.laststart().is_none())
            })
            .cloned()
            .collect();
        self.start_autostart(never_started);
    }

    /// Spawns `key` if its state allows a start.
    pub(super) fn start(&mut self, key: &ProcKey) {
        self.start_many(std::slice::from_ref(key));
    }

    /// Starts those of `keys` whose state allows a start, in order: each is queued for the
    /// spawner and handed to it as soon as it has room. The process keeps its state until
    /// the spawner's answer comes (a STARTING child, or a spawn error); meanwhile nothing
    /// starts it twice.
    pub(super) fn start_many(&mut self, keys: &[ProcKey]) {
        let (keys, held): (Vec<ProcKey>, Vec<ProcKey>) = keys.iter().cloned().partition(|key| {
            !self.uses_dependencies() || dependencies::waiting_for(&self.table, key).is_empty()
        });
        for key in held {
            self.hold_start(key);
        }
        for key in keys {
            if let Some(entry) = self.table.entries.get_mut(&key).filter(|e| e.can_start()) {
                entry.pending_start = Some(PendingStart::default());
                self.view.touch(&key);
                self.launches.push_back(key);
            }
        }
        self.launch_queued();
    }

    /// Hands queued starts to the spawner while it has room; one that was cancelled
    /// meanwhile (a stop, a shutdown) is dropped.
    pub(super) fn launch_queued(&mut self) {
        while self.spawner.has_room() {
            let Some(key) = self.launches.pop_front() else {
                return;
            };
            let cancelled = self
                .table
                .entries
                .get(&key)
                .and_then(|e| e.pending_start.as_ref())
                .is_none_or(|pending| pending.cancelled);
            if cancelled || !matches!(self.mood, Mood::Running) {
                self.start_settled(&key);
                continue;
            }
            let Some(prepared) = self.prepare_start(&key) else {
                self.start_settled(&key);
                continue;
            };
            self.submit(InFlight::Process(key, prepared));
        }
    }

    /// Hands `start` to the spawner. Outcomes are taken in the order the starts were
    /// submitted, whichever helper answers first, so children are recorded (and
    /// `spawned:` logged) in priority order, as supervisord starts them.
    pub(super) fn submit(&mut self, start: InFlight) {
        let (helper, answer) = match self.spawner.submit(start.plan()) {
            Ticket::Done(result) => (None, Some(result)),
            Ticket::Sent(helper) => (Some(helper), None),
        };
        self.in_flight.push_back(Flight {
            helper,
            start,
            answer,
        });
        self.record_answered();
    }

    /// Takes the spawner's answers to the starts in flight, then hands it what is queued.
    pub(super) fn take_answers(&mut self) {
        for (helper, result) in self.spawner.answers(Instant::now()) {
            let flight = self
                .in_flight
                .iter_mut()
                .find(|flight| flight.helper == Some(helper) && flight.answer.is_none());
            match flight {
                Some(flight) => flight.answer = Some(result),
                // Never expected: a child nobody asked for is not left running.
                None => {
                    if let Ok(pid) = result {
                        self.abandon(pid);
                    }
                }
            }
        }
        self.record_answered();
        self.launch_queued();
    }

    /// Carries out the outcomes of the oldest starts, up to the first still unanswered.
    fn record_answered(&mut self) {
        while self.in_flight.front().is_some_and(|f| f.answer.is_some()) {
            let Some(Flight {
                start,
                answer: Some(result),
                ..
            }) = self.in_flight.pop_front()
            else {
                return;
            };
            self.launched(start, result);
        }
        if self.in_flight.is_empty() {
            // Every start is recorded: the exits kept were of orphans after all.
            for (pid, outcome) in self.early_exits.drain() {
                tracing::info!("reaped unknown pid {pid} ({})", outcome.describe());
            }
        }
    }

    /// The outcome of a start: the child is recorded (or the spawn error is), then a stop
    /// that came meanwhile is carried out and the `startProcess` callers are answered.
    fn launched(&mut self, start: InFlight, result: Result<i32, LaunchError>) {
        let (key, prepared) = match start {
            InFlight::Probe(config, prepared, reply) => {
                let started = prepared
                    .finish(&config, result)
                    .map_err(ProbeRefusal::from)
                    .and_then(|child| self.probe_started(child));
                let pid = started.as_ref().ok().map(|probe| probe.pid);
                let _ = reply.send(started);
                if let Some((pid, outcome)) =
                    pid.and_then(|pid| Some((pid, self.early_exits.remove(&pid)?)))
                {
                    self.child_exited(pid, outcome);
                }
                return;
            }
            InFlight::Process(key, prepared) => (key, prepared),
        };
        let Some(entry) = self.table.entries.get(&key) else {
            if let Ok(pid) = result {
                self.abandon(pid);
            }
            return;
        };
        let config = Arc::clone(&entry.config);
        let cancelled = entry.pending_start.as_ref().is_some_and(|p| p.cancelled);
        match prepared.finish(&config, result) {
            Ok(child) => {
                let pid = child.pid;
                self.record_spawn(&key, child);
                if let Some(outcome) = self.early_exits.remove(&pid) {
                    self.child_exited(pid, outcome);
                }
            }
            Err(error) => {
                let _ = self.apply(&key, Input::SpawnFailed { error });
            }
        }
        if !matches!(self.mood, Mood::Running) {
            // As a shutdown's stop_all does: BACKOFF gives up, STARTING stops.
            if self.apply(&key, Input::GiveUp).is_err() {
                let _ = self.apply(&key, Input::Stop);
            }
        } else if cancelled {
            let _ = self.apply(&key, Input::Stop);
        }
        self.start_settled(&key);
    }

    /// Ends `key`'s pending start: its callers get SPAWN_ERROR when the start failed at
    /// once, else success (a wait then follows the state).
    fn start_settled(&mut self, key: &ProcKey) {
        self.view.touch(key);
        let Some(entry) = self.table.entries.get_mut(key) else {
            return;
        };
        let Some(pending) = entry.pending_start.take() else {
            return;
        };
        let outcome = match (entry.process.spawnerr(), entry.process.state().pid()) {
            (Some(error), None) if !pending.cancelled => Err(Refusal::SpawnError(error.clone())),
            _ => Ok(()),
        };
        if entry.process.state().is_stopped() {
            self.stop_level.remove(key);
        }
        if !pending.callers.is_empty() {
            self.publish();
        }
        for caller in pending.callers {
            let _ = caller.send(outcome.clone());
        }
    }

    /// Kills a child that no process owns any more (its start's answer came after the
    /// process went away); its exit is reaped as an unknown pid's.
    fn abandon(&mut self, pid: i32) {
        let _ = signal::send(pid, nix::sys::signal::Signal::SIGKILL, true);
        self.reaper.watch(pid);
    }

    /// Drops the starts still queued (a shutdown or restart begins): their processes keep
    /// their state.
    pub(super) fn drop_queued_starts(&mut self) {
        for key in std::mem::take(&mut self.launches) {
            self.start_settled(&key);
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
    fn prepare_start(&mut self, key: &ProcKey) -> Option<spawn::Prepared> {
        let entry = self.table.entries.get(key)?;
        if !entry.process.state().can_start() {
            return None;
        }
        let config = Arc::clone(&entry.config);
        let socket = match &config.fcgi_socket {
            None => None,
            Some(_) => {
                if let Some(fd) = self.table.fcgi_sockets.get(&config.program) {
                    Some(fd)
                } else {
                    let error = spawn::SpawnError::NoFcgiSocket {
                        program: config.program.clone(),
                    };
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
