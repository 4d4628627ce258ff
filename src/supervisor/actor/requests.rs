//! The supervisor's answers to requests about one process: start, stop, signal, stdin,
//! and the sampler's and health checker's reports (`memory_limit`, probes). Each checks the
//! state, feeds the state machine through `apply`, and never waits on anything.

use super::spawning::InFlight;
use super::*;
use crate::offload;

/// How a start request that was not refused goes on.
enum Begun {
    /// A start is on its way: the process's `pending_start` answers the caller.
    Pending,
    /// Nothing more to wait for (a start held back by `depends_on`, a process still
    /// stopping): the caller is answered after the command check.
    Answered,
}

impl Supervisor {
    /// Replies to a request after publishing its effect, so the caller's next look at the
    /// snapshot (a `wait=true` loop) already sees it.
    pub(super) fn answer(&mut self, reply: super::super::Reply, outcome: Result<(), Refusal>) {
        self.publish();
        let _ = reply.send(outcome);
    }

    /// `startProcess`: allowed from STOPPED, EXITED and FATAL, and (vigil) from a crash
    /// loop's BACKOFF, which it cuts short; a spawn that fails at once is a SPAWN_ERROR.
    /// The answer comes once the start's outcome is in (the start is never waited for).
    /// supervisord checks the command before the state: a start that begins checks it as
    /// it is prepared, any other answer waits for the check, made off the actor.
    pub(super) fn start_request(&mut self, key: &ProcKey, reply: super::super::Reply) {
        match self.begin_start_request(key) {
            Err(refusal @ (Refusal::BadName | Refusal::ShuttingDown)) => {
                self.answer(reply, Err(refusal));
            }
            Ok(Begun::Pending) => {
                if let Some(pending) = self
                    .table
                    .entries
                    .get_mut(key)
                    .and_then(|entry| entry.pending_start.as_mut())
                {
                    pending.callers.push(reply);
                }
            }
            Ok(Begun::Answered) => self.answer_after_command_check(key, reply, Ok(())),
            Err(refusal) => self.answer_after_command_check(key, reply, Err(refusal)),
        }
    }

    /// Answers `outcome` once supervisord's command check (`get_execv_args`) has passed on
    /// a blocking thread, or the check's failure (NO_FILE, NOT_EXECUTABLE) if it has not.
    fn answer_after_command_check(
        &mut self,
        key: &ProcKey,
        reply: super::super::Reply,
        outcome: Result<(), Refusal>,
    ) {
        let Some(entry) = self.table.entries.get(key) else {
            self.answer(reply, outcome);
            return;
        };
        let config = Arc::clone(&entry.config);
        let base_env = Arc::clone(&self.base_env);
        self.publish();
        match offload::COMMAND_CHECKS.slot() {
            Ok(slot) => {
                slot.spawn(move || {
                    let checked = spawn::preflight(&config, &base_env).map_err(Refusal::SpawnError);
                    let _ = reply.send(checked.and(outcome));
                });
            }
            // As many checks hang on the file system already: the answer says so.
            Err(busy) => self.answer(reply, Err(Refusal::Failed(busy.to_string()))),
        }
    }

    /// The checks and the start of [`Self::start_request`].
    fn begin_start_request(&mut self, key: &ProcKey) -> Result<Begun, Refusal> {
        if !matches!(self.mood, Mood::Running) {
            return Err(Refusal::ShuttingDown);
        }
        let entry = self.table.entries.get(key).ok_or(Refusal::BadName)?;
        if entry.pending_start.is_some() {
            return Err(Refusal::AlreadyStarted);
        }
        let state = entry.process.state();
        if !state.takes_start_by_hand() {
            return match state {
                // Still stopping: nothing is spawned; a waiting caller sees ABNORMAL_TERMINATION.
                State::Stopping { .. } => Ok(Begun::Answered),
                State::Unknown { .. } => {
                    Err(Refusal::Failed("process is in an unknown state".into()))
                }
                _ => Err(Refusal::AlreadyStarted),
            };
        }
        self.start_dependencies_of(key);
        self.start(key);
        let queued = self.waiting.contains(key);
        self.view.touch(key);
        let entry = self.table.entries.get_mut(key).ok_or(Refusal::BadName)?;
        self.state.set(&entry.config.namespec(), false);
        if queued {
            // Held back by depends_on: what the last run left must not answer a wait.
            let held = Input::StartHeld { why: None };
            let _ = entry.process.apply(held, &entry.config, Clock::now());
            return Ok(Begun::Answered);
        }
        if entry.pending_start.is_some() {
            return Ok(Begun::Pending);
        }
        match (entry.process.spawnerr(), entry.process.state().pid()) {
            (Some(error), None) => Err(Refusal::SpawnError(error.clone())),
            _ => Ok(Begun::Answered),
        }
    }

    /// The state of `key`, or BAD_NAME when there is no such process.
    fn state_of(&self, key: &ProcKey) -> Result<State, Refusal> {
        self.table
            .entries
            .get(key)
            .map(|entry| entry.process.state())
            .ok_or(Refusal::BadName)
    }

    /// `stopProcess`: allowed from STARTING, RUNNING and BACKOFF.
    pub(super) fn stop_request(&mut self, key: &ProcKey) -> Result<(), Refusal> {
        let state = self.state_of(key)?;
        if let Some(entry) = self.table.entries.get_mut(key) {
            if let Some(pending) = &mut entry.pending_start {
                // A start on its way: its child is stopped as soon as it is there.
                pending.cancelled = true;
                let namespec = entry.config.namespec();
                self.state.set(&namespec, true);
                return Ok(());
            }
        }
        if let Some(at) = self.waiting.iter().position(|k| k == key) {
            // Not started yet: a stop cancels the start (and a BACKOFF stops as usual).
            self.waiting.remove(at);
            if state.is_stopped() {
                if let Some(entry) = self.table.entries.get(key) {
                    self.state.set(&entry.config.namespec(), true);
                }
                return Ok(());
            }
        }
        if !state.takes_stop() {
            return Err(Refusal::NotRunning);
        }
        if self.stop_dependents_first(key) {
            self.apply(key, Input::Stop)
                .map_err(|_| Refusal::NotRunning)?;
        }
        if let Some(entry) = self.table.entries.get(key) {
            self.state.set(&entry.config.namespec(), true);
        }
        match self.table.entries.get(key).map(|e| e.process.state()) {
            Some(State::Unknown { .. }) => {
                Err(Refusal::Failed("could not signal the process".into()))
            }
            _ => Ok(()),
        }
    }

    /// The sampler saw `pid`'s tree over its `memory_limit`: restart it through the normal
    /// stop path, unless that child is already gone or stopping.
    pub(super) fn over_memory_limit(&mut self, key: &ProcKey, pid: i32, resident_bytes: u64) {
        let Some(entry) = self.table.entries.get(key) else {
            return;
        };
        if entry.process.state().live_pid() != Some(pid) {
            return;
        }
        tracing::warn!(
            "restarting: {} uses {resident_bytes} bytes of resident memory, over its memory_limit of {}",
            entry.config.name,
            entry.config.memory_limit.unwrap_or_default()
        );
        let _ = self.apply(key, Input::Restart(ExitReason::MemoryLimit));
        self.publish();
    }

    /// The health checker's new verdict on child `pid`: shown in the status; an unhealthy
    /// process gets a crash record with the probe's output and is restarted through the
    /// normal stop path.
    /// vigil `ready=notify`: an sd_notify message, for the process whose child is the
    /// sender or its nearest managed ancestor (by pid, so a sender that is not in a managed
    /// process's tree is ignored); only `ready=notify` programs listen.
    pub(super) fn notified(&mut self, notified: crate::notify::Notified) {
        let Some(key) = notified
            .ancestry
            .iter()
            .find_map(|pid| self.table.pids.get(pid))
            .cloned()
        else {
            // A child may say READY=1 before its start's answer is taken: kept (bounded)
            // until its spawn is recorded.
            if !self.in_flight.is_empty() {
                if self.early_notices.len() == EARLY_NOTICES_KEPT {
                    self.early_notices.pop_front();
                }
                self.early_notices.push_back(notified);
                return;
            }
            self.ignored_notices += 1;
            if self.ignored_notices == 1 || self.ignored_notices % 1000 == 0 {
                tracing::warn!(
                    "notify: ignored a message from pid {}, which is no managed process nor one of its children ({} ignored so far)",
                    notified.ancestry.first().copied().unwrap_or(0),
                    self.ignored_notices
                );
            }
            return;
        };
        let listens = self
            .table
            .entries
            .get(&key)
            .is_some_and(|entry| entry.config.ready == crate::config::Readiness::Notify);
        if listens {
            // First: a READY=1 beside it is the new main pid's.
            self.take_main_pid(&key, &notified);
            let _ = self.apply(&key, Input::Notified(notified.notice.clone()));
        }
    }

    /// The notices kept for `pid`'s spawn, now recorded; those still unknown once no start
    /// is in flight are handled (and warned about) as any stranger's.
    pub(super) fn replay_notices(&mut self, pid: i32) {
        let (mine, others): (Vec<_>, Vec<_>) = std::mem::take(&mut self.early_notices)
            .into_iter()
            .partition(|notified| notified.ancestry.contains(&pid));
        self.early_notices = others.into();
        for notified in mine {
            self.notified(notified);
        }
        if self.in_flight.is_empty() {
            for notified in std::mem::take(&mut self.early_notices) {
                self.notified(notified);
            }
        }
    }

    pub(super) fn health_report(&mut self, key: &ProcKey, pid: i32, healthy: bool, output: &str) {
        self.view.touch(key);
        let Some(entry) = self.table.entries.get_mut(key) else {
            return;
        };
        if entry.process.state().live_pid() != Some(pid) {
            return;
        }
        let name = entry.config.name.clone();
        self.events
            .publish(Event::health(&entry.config.group, &name, healthy, output));
        let verdict = if healthy {
            Health::Healthy
        } else {
            Health::Unhealthy
        };
        let _ = entry
            .process
            .apply(Input::Health(verdict), &entry.config, Clock::now());
        if healthy {
            tracing::info!("healthy: {name} passes its health check");
            let ready_when_healthy = entry.config.ready == crate::config::Readiness::HealthCheck;
            self.dependency_changed(key);
            if ready_when_healthy {
                // vigil `ready=healthcheck`: the first pass ends STARTING (later ones are
                // ignored).
                let _ = self.apply(key, Input::Ready);
            }
        } else {
            let last = output.lines().last().unwrap_or_default();
            tracing::warn!(
                "unhealthy: {name} (pid {pid}) failed its health check, restarting: {last}"
            );
            entry.record_unhealthy(pid, output);
            let _ = self.apply(key, Input::Restart(ExitReason::Unhealthy));
        }
        self.publish();
    }

    /// Starts a health probe of `key`: `/bin/sh -c command` with the program's user,
    /// directory and environment, output merged into one pipe. Its exit goes to the probe's
    /// waiter, not to any process.
    pub(super) fn run_probe(
        &mut self,
        key: &ProcKey,
        command: &str,
        reply: oneshot::Sender<Result<ProbeChild, ProbeRefusal>>,
    ) {
        let Some(entry) = self.table.entries.get(key) else {
            let _ = reply.send(Err(ProbeRefusal::BadName));
            return;
        };
        let quoted = match shlex::try_quote(command) {
            Ok(quoted) => quoted,
            Err(err) => {
                let _ = reply.send(Err(ProbeRefusal::Unquotable(err.to_string())));
                return;
            }
        };
        let mut config = (*entry.config).clone();
        config.command = format!("/bin/sh -c {quoted}");
        config.redirect_stderr = true;
        config.stdout.target = crate::config::LogTarget::Auto;
        config.fcgi_socket = None;
        self.prepare(InFlight::Probe(reply), Arc::new(config), None, Vec::new());
    }

    /// A probe's child has started: its exit goes to the probe's waiter.
    pub(super) fn probe_started(
        &mut self,
        child: spawn::Child,
    ) -> Result<ProbeChild, ProbeRefusal> {
        let output = child.stdout.ok_or(ProbeRefusal::NoOutput)?;
        let (waiter, exit) = oneshot::channel();
        self.probes.insert(child.pid, waiter);
        self.guardian.watch(child.pid);
        self.reaper.watch(child.pid);
        Ok(ProbeChild {
            pid: child.pid,
            output,
            exit,
        })
    }

    /// `signalProcess`: allowed from RUNNING, STARTING and STOPPING, to the pid only.
    pub(super) fn signal_request(&mut self, key: &ProcKey, number: i32) -> Result<(), Refusal> {
        let state = self.state_of(key)?;
        let (State::Running { pid, .. }
        | State::Starting { pid, .. }
        | State::Stopping { pid, .. }) = state
        else {
            return Err(Refusal::NotRunning);
        };
        let signal = nix::sys::signal::Signal::try_from(number)
            .map_err(|err| Refusal::Failed(err.to_string()))?;
        match signal::send(pid, signal, false) {
            Ok(_) => {
                self.view.touch(key);
                if let Some(entry) = self.table.entries.get_mut(key) {
                    let _ = entry
                        .process
                        .apply(Input::Signalled, &entry.config, Clock::now());
                }
                Ok(())
            }
            Err(errno) => Err(Refusal::Failed(errno.to_string())),
        }
    }

    /// `vigil.reloadProcess`: the program's `reloadsignal` to a STARTING or RUNNING child
    /// (its pid alone, as `signalProcess`), counted, logged and told to listeners.
    pub(super) fn reload_request(&mut self, key: &ProcKey) -> Result<(), Refusal> {
        let state = self.state_of(key)?;
        let Some(entry) = self.table.entries.get(key) else {
            return Err(Refusal::BadName);
        };
        let signal = entry.config.reload_signal.ok_or(Refusal::NoReloadSignal)?;
        let (State::Running { pid, .. } | State::Starting { pid, .. }) = state else {
            return Err(Refusal::NotRunning);
        };
        match signal::send(pid, signal, false) {
            // Gone before the signal: its exit is on its way.
            Ok(Delivery::Gone) => Err(Refusal::NotRunning),
            Ok(Delivery::Sent) => {
                let _ = self.apply(key, Input::Reloaded { signal });
                self.events
                    .publish(Event::reload(&key.0, &key.1, pid, signal));
                Ok(())
            }
            Err(errno) => Err(Refusal::Failed(errno.to_string())),
        }
    }

    /// `sendProcessStdin`: the bytes are queued for the child's stdin feeder, as supervisord
    /// buffers them, and the reply comes at once; a full queue (the child does not read) is
    /// refused with FAILED, a closed stdin with NO_FILE.
    pub(super) fn send_stdin(&mut self, key: &ProcKey, bytes: Vec<u8>, reply: super::super::Reply) {
        let Some(entry) = self.table.entries.get(key) else {
            let _ = reply.send(Err(Refusal::BadName));
            return;
        };
        // As supervisord: nothing goes to a process that is being stopped.
        let stopping = matches!(entry.process.state(), State::Stopping { .. });
        let outcome = match (entry.process.state().pid(), &entry.stdin) {
            (Some(_), Some(stdin)) if !stopping => stdin.send(bytes).map_err(|err| match err {
                FeedError::Closed => Refusal::StdinClosed,
                full @ FeedError::Full { .. } => Refusal::Failed(full.to_string()),
            }),
            _ => Err(Refusal::NotRunning),
        };
        let _ = reply.send(outcome);
    }
}
