//! The supervisor task: waits on its control channel and its next timer, feeds each event to
//! the process state machine, and carries out the effects (spawn, signal, arm a timer, log).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::Signal;
use tokio::sync::{mpsc, oneshot, watch};

use super::dependencies;
use super::snapshot::View;
use super::statefile::StateFile;
use super::table::{ProcKey, Table};
use super::timers::Timers;
use super::{ConfigInfo, Control, GroupDiff, ProbeChild, Refusal, Snapshot, SupervisorState};
use crate::config::Config;
use crate::events::{Event, Message, Publisher};
use crate::logs::auto;
use crate::logs::mainlog::CRITICAL;
use crate::process::exit::ExitOutcome;
use crate::process::guardian::Guardian;
use crate::process::reaper::Reaper;
use crate::process::signal::{self, Delivery};
use crate::process::spawn;
use crate::process::spawner::Spawner;
use crate::process::state::{
    Clock, Effect, ExitReason, Health, Input, Level, Refused, State, Step, Timer,
};
use crate::process::stdin::{FeedError, Feeder};

/// How often a shutdown that is waiting for processes says so.
const WAITING_REPORT_EVERY: Duration = Duration::from_secs(3);

/// What the supervisor as a whole is doing (supervisord's "mood").
enum Mood {
    /// Normal operation: autorestarts and retries happen.
    Running,
    /// Stopping everything to start again with this config and base environment.
    Restarting(Box<Config>, Vec<(String, String)>),
    /// Stopping everything to exit.
    ShuttingDown,
}

/// The actor's state; owned by its task alone.
pub(super) struct Supervisor {
    /// The latest config read (at start, SIGHUP or reloadConfig): what groups are added from.
    config: Arc<Config>,
    /// `[supervisord] strip_ansi`.
    strip_ansi: bool,
    /// `[supervisord] nocleanup`: keep AUTO logs.
    nocleanup: bool,
    base_env: Vec<(String, String)>,
    table: Table,
    timers: Timers,
    mood: Mood,
    /// Groups still to stop during shutdown/restart, in start order: the last one goes first.
    stop_queue: Vec<String>,
    /// The processes of the priority level being stopped that have not stopped yet; each
    /// leaves as its state changes (so a shutdown costs one step per process, not a pass
    /// over its level per event).
    stop_level: HashSet<ProcKey>,
    /// When to log the next "waiting for … to die".
    next_report: Option<Instant>,
    /// Where readers get the fleet's picture, kept up to date process by process.
    view: View,
    /// The last generation handed out; global, so a re-created process never reuses the
    /// generation of a timer armed for its predecessor.
    generations: u64,
    /// What starts children.
    spawner: Spawner,
    /// What collects each child's exit.
    reaper: Reaper,
    /// Config reloads so far (reloadConfig, SIGHUP).
    reloads: u64,
    /// Where events go (listener pools).
    events: Publisher,
    /// vigil: the processes stopped by hand, remembered across restarts (`statefile`).
    state: StateFile,
    /// Health probes running, by pid: who waits for each one's exit.
    probes: HashMap<i32, oneshot::Sender<ExitOutcome>>,
    /// vigil `depends_on`: processes to start once their dependencies are ready, in the
    /// order they were asked for.
    waiting: Vec<ProcKey>,
    /// vigil `depends_on`: processes to stop once their dependents have stopped.
    stopping_after_dependents: Vec<ProcKey>,
    /// The supervisor's own channel, for work it finishes later (a listener's drained exit).
    myself: mpsc::WeakUnboundedSender<Control>,
    /// Some process in use has `depends_on` (else the dependency work is skipped: a plain
    /// config pays nothing for it).
    uses_dependencies: bool,
    /// Told of every child's process group, to kill them if vigild dies.
    guardian: Guardian,
}

impl Supervisor {
    /// The actor for `config`; fails when an fcgi socket cannot be created (supervisord
    /// refuses to start then too).
    pub(super) fn new(
        config: &Config,
        base_env: Vec<(String, String)>,
        (spawner, guardian): (Spawner, Guardian),
        (snapshot, changes, myself): (
            watch::Sender<Arc<Snapshot>>,
            Arc<super::changes::Changes>,
            mpsc::WeakUnboundedSender<Control>,
        ),
        events: Publisher,
    ) -> std::io::Result<Self> {
        let settings = &config.supervisord;
        if !settings.nocleanup {
            auto::clean(&settings.childlogdir, &settings.identifier);
        }
        let (table, socket_errors) = Table::build(config);
        if !socket_errors.is_empty() {
            return Err(std::io::Error::other(socket_errors.join("; ")));
        }
        let mut supervisor = Supervisor {
            config: Arc::new(config.clone()),
            strip_ansi: settings.strip_ansi,
            nocleanup: settings.nocleanup,
            base_env,
            table,
            timers: Timers::default(),
            mood: Mood::Running,
            stop_queue: Vec::new(),
            stop_level: HashSet::new(),
            next_report: None,
            view: View::new(snapshot, changes),
            generations: 0,
            spawner,
            reaper: Reaper::new()?,
            reloads: 0,
            events,
            state: StateFile::open(settings.statefile.as_deref()),
            probes: HashMap::new(),
            waiting: Vec::new(),
            stopping_after_dependents: Vec::new(),
            myself,
            uses_dependencies: false,
            guardian,
        };
        let helpers = supervisor.spawner.helper_pids();
        for pid in helpers.into_iter().chain(supervisor.guardian.pid()) {
            supervisor.reaper.watch(pid);
        }
        supervisor.note_dependencies();
        supervisor.publish();
        Ok(supervisor)
    }

    /// Publishes what changed in the fleet's picture since the last publish.
    fn publish(&mut self) {
        let state = match self.mood {
            Mood::Running => SupervisorState::Running,
            Mood::Restarting(..) => SupervisorState::Restarting,
            Mood::ShuttingDown => SupervisorState::Shutdown,
        };
        self.view
            .publish(&self.table, &self.waiting, (state, self.reloads));
    }

    /// Runs until a shutdown has stopped every process.
    pub(super) async fn run(
        mut self,
        mut receiver: mpsc::UnboundedReceiver<Control>,
        mut sigchld: Signal,
    ) {
        self.announce_groups();
        self.events.publish(Event::supervisor_running());
        self.autostart();
        // The autostart's spawns are seen at once, not at the loop's first event.
        self.publish();
        let exits = self.reaper.readiness();
        let mut channel_open = true;
        loop {
            let deadline = [self.timers.next_deadline(), self.next_report]
                .into_iter()
                .flatten()
                .min();
            tokio::select! {
                message = receiver.recv(), if channel_open => match message {
                    Some(control) => self.handle(control),
                    None => {
                        channel_open = false;
                        self.begin_stop(Mood::ShuttingDown);
                    }
                },
                ready = exits.readable() => {
                    let (ended, drained) = self.reaper.collect_watched();
                    if drained {
                        if let Ok(mut guard) = ready {
                            guard.clear_ready();
                        }
                    }
                    for (pid, outcome) in ended {
                        self.child_exited(pid, outcome);
                    }
                }
                _ = sigchld.recv() => {
                    for (pid, outcome) in self.reaper.sweep_if_needed() {
                        self.child_exited(pid, outcome);
                    }
                }
                () = sleep_until(deadline), if deadline.is_some() => self.fire_due(),
            }
            self.follow_dependencies();
            let finished = !matches!(self.mood, Mood::Running) && self.progress_stop();
            if finished {
                match std::mem::replace(&mut self.mood, Mood::Running) {
                    Mood::ShuttingDown => {
                        if !self.nocleanup {
                            self.table.remove_auto_logs();
                        }
                        break;
                    }
                    Mood::Restarting(config, base_env) => self.restart_with(*config, base_env),
                    Mood::Running => {}
                }
            }
            self.publish();
        }
        self.publish();
    }

    fn handle(&mut self, control: Control) {
        match control {
            Control::Shutdown => {
                if !matches!(self.mood, Mood::ShuttingDown) {
                    self.begin_stop(Mood::ShuttingDown);
                }
            }
            Control::Restart(config, base_env) => match &mut self.mood {
                Mood::Running => self.begin_stop(Mood::Restarting(config, base_env)),
                Mood::Restarting(..) => self.mood = Mood::Restarting(config, base_env),
                Mood::ShuttingDown => {
                    tracing::info!("ignoring restart request: already shutting down")
                }
            },
            Control::Start(key, reply) => {
                let outcome = self.start_request(&key);
                self.answer(reply, outcome);
            }
            Control::Stop(key, reply) => {
                let outcome = self.stop_request(&key);
                self.answer(reply, outcome);
            }
            Control::Signal(key, signal, reply) => {
                let outcome = self.signal_request(&key, signal);
                self.answer(reply, outcome);
            }
            Control::SendStdin(key, bytes, reply) => self.send_stdin(&key, bytes, reply),
            Control::ListenerDrained {
                key,
                outcome,
                captures,
            } => {
                self.view.touch(&key);
                if let Some(entry) = self.table.entries.get_mut(&key) {
                    entry.captures = captures;
                }
                self.process_ended(&key, outcome);
            }
            Control::Health {
                key,
                pid,
                healthy,
                output,
            } => self.health_report(&key, pid, healthy, &output),
            Control::RunProbe {
                key,
                command,
                reply,
            } => {
                let _ = reply.send(self.run_probe(&key, &command));
            }
            Control::OverMemoryLimit {
                key,
                pid,
                resident_bytes,
            } => self.over_memory_limit(&key, pid, resident_bytes),
            Control::Reread(config, reply) => {
                let _ = reply.send(self.reread(*config));
            }
            Control::AddGroup(name, reply) => {
                let outcome = self.add_group(&name);
                self.answer(reply, outcome);
            }
            Control::RemoveGroup(name, reply) => {
                let outcome = self.remove_group(&name);
                self.answer(reply, outcome);
            }
            Control::ConfigInfo(reply) => {
                let _ = reply.send(self.config_info());
            }
            Control::StaleMembers(name, reply) => {
                let outcome = self
                    .reread_group(&name)
                    .map(|group| self.table.stale_members(&name, &group));
                let _ = reply.send(outcome);
            }
            Control::ReplaceMembers(name, reply) => {
                let outcome = self.replace_members(&name);
                self.answer(reply, outcome);
            }
            Control::ReopenLogs => {
                let streams = self.table.streams();
                tokio::task::spawn_blocking(move || {
                    for stream in streams {
                        if let Err(err) = stream.reopen() {
                            let path = stream
                                .path()
                                .map(|p| p.display().to_string())
                                .unwrap_or_default();
                            tracing::error!("could not reopen log {path}: {err}");
                        }
                    }
                });
            }
        }
    }

    fn child_exited(&mut self, pid: i32, outcome: ExitOutcome) {
        if let Some(waiting) = self.probes.remove(&pid) {
            self.guardian.forget(pid);
            let _ = waiting.send(outcome);
            return;
        }
        if self.table.pids.contains_key(&pid) {
            self.guardian.forget(pid);
        }
        // An event listener's last answer must reach its pool before its exit does (else a
        // processed event would be sent again): its exit waits until its output is read.
        // Its pid is forgotten at once, so nothing signals it (or its successor) meanwhile.
        let listener = self
            .table
            .pids
            .get(&pid)
            .filter(|key| {
                self.table
                    .entries
                    .get(*key)
                    .is_some_and(|entry| entry.config.listener.is_some())
            })
            .cloned();
        if let (Some(key), Some(myself)) = (listener, self.myself.upgrade()) {
            self.table.pids.remove(&pid);
            let captures = self
                .table
                .entries
                .get_mut(&key)
                .map(|entry| std::mem::take(&mut entry.captures))
                .unwrap_or_default();
            tokio::task::spawn_blocking(move || {
                for drained in captures.iter().flatten() {
                    drained.wait(super::table::DRAIN_LIMIT);
                }
                let _ = myself.send(Control::ListenerDrained {
                    key,
                    outcome,
                    captures,
                });
            });
            return;
        }
        match self.table.pids.remove(&pid) {
            Some(key) => self.process_ended(&key, outcome),
            None if self.spawner.is_helper(pid) => {
                self.spawner.helper_exited(pid, &outcome.describe());
            }
            None if self.guardian.is_guardian(pid) => tracing::warn!(
                "the guardian exited ({}): grandchildren may outlive a crash of vigild",
                outcome.describe()
            ),
            None => tracing::info!("reaped unknown pid {pid} ({})", outcome.describe()),
        }
    }

    /// Handles the end of `key`'s child (its output read, for a listener).
    fn process_ended(&mut self, key: &ProcKey, outcome: ExitOutcome) {
        // Taken first: a respawn below starts new captures.
        let captures = self
            .table
            .entries
            .get_mut(key)
            .map(|entry| {
                entry.stdin = None;
                std::mem::take(&mut entry.captures)
            })
            .unwrap_or_default();
        // The child's last output may still be on its way: its events (and its crash
        // record) come before the exit's, as under supervisord, which drains first. (A
        // listener's output was read before its exit got here.)
        let held = self
            .table
            .entries
            .get(key)
            .filter(|entry| entry.config.listener.is_none())
            .and_then(|entry| entry.process.state.pid())
            .filter(|_| captures.iter().any(Option::is_some));
        if let Some(pid) = held {
            self.events.send(Message::Hold {
                group: key.0.clone(),
                name: key.1.clone(),
                pid,
            });
        }
        // An exit the state machine does not expect is only logged.
        let _ = self.apply(key, Input::Exited(outcome));
        self.view.touch(key);
        if let Some(entry) = self.table.entries.get_mut(key) {
            let crash = entry.crash_to_record.take();
            let marker = entry
                .config
                .log_markers
                .then(|| format!("exited '{}' ({})", entry.config.name, outcome.describe()));
            entry.after_exit(captures, (crash, marker, held), &self.events);
        }
    }

    /// Replies to a request after publishing its effect, so the caller's next look at the
    /// snapshot (a `wait=true` loop) already sees it.
    fn answer(&mut self, reply: super::Reply, outcome: Result<(), Refusal>) {
        self.publish();
        let _ = reply.send(outcome);
    }

    /// `startProcess`: allowed from STOPPED, EXITED and FATAL, and (vigil) from a crash
    /// loop's BACKOFF, which it cuts short; a spawn that fails at once is a SPAWN_ERROR.
    fn start_request(&mut self, key: &ProcKey) -> Result<(), Refusal> {
        if !matches!(self.mood, Mood::Running) {
            return Err(Refusal::ShuttingDown);
        }
        let entry = self.table.entries.get(key).ok_or(Refusal::BadName)?;
        // supervisord's order: the command is checked first (refused before anything
        // changes), then the state.
        spawn::preflight(&entry.config, &self.base_env).map_err(Refusal::SpawnError)?;
        match entry.process.state {
            // vigil: a start by hand cuts a crash-loop delay short.
            State::Backoff if entry.process.retry.is_some_and(|r| r.crash_loop) => {}
            State::Starting { .. } | State::Running { .. } | State::Backoff => {
                return Err(Refusal::AlreadyStarted)
            }
            // Still stopping: nothing is spawned; a waiting caller sees ABNORMAL_TERMINATION.
            State::Stopping { .. } => return Ok(()),
            State::Unknown { .. } => {
                return Err(Refusal::Failed("process is in an unknown state".into()))
            }
            State::Stopped | State::Exited | State::Fatal => {}
        }
        self.start_dependencies_of(key);
        self.start(key);
        let queued = self.waiting.contains(key);
        self.view.touch(key);
        let entry = self.table.entries.get_mut(key).ok_or(Refusal::BadName)?;
        self.state.set(&entry.config.namespec(), false);
        if queued {
            // Held back by depends_on: what the last run left must not answer a wait.
            entry.process.spawnerr = None;
            entry.process.reached_running = false;
            return Ok(());
        }
        match (&entry.process.spawnerr, entry.process.state.pid()) {
            (Some(error), None) => Err(Refusal::SpawnError(error.clone())),
            _ => Ok(()),
        }
    }

    /// `stopProcess`: allowed from STARTING, RUNNING and BACKOFF.
    fn stop_request(&mut self, key: &ProcKey) -> Result<(), Refusal> {
        let state = self
            .table
            .entries
            .get(key)
            .ok_or(Refusal::BadName)?
            .process
            .state;
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
        if !matches!(
            state,
            State::Starting { .. } | State::Running { .. } | State::Backoff
        ) {
            return Err(Refusal::NotRunning);
        }
        if self.stop_dependents_first(key) {
            self.apply(key, Input::Stop)
                .map_err(|_| Refusal::NotRunning)?;
        }
        if let Some(entry) = self.table.entries.get(key) {
            self.state.set(&entry.config.namespec(), true);
        }
        match self.table.entries.get(key).map(|e| e.process.state) {
            Some(State::Unknown { .. }) => {
                Err(Refusal::Failed("could not signal the process".into()))
            }
            _ => Ok(()),
        }
    }

    /// The sampler saw `pid`'s tree over its `memory_limit`: restart it through the normal
    /// stop path, unless that child is already gone or stopping.
    fn over_memory_limit(&mut self, key: &ProcKey, pid: i32, resident_bytes: u64) {
        let Some(entry) = self.table.entries.get(key) else {
            return;
        };
        if !matches!(entry.process.state, State::Starting { pid: p } | State::Running { pid: p } if p == pid)
        {
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
    fn health_report(&mut self, key: &ProcKey, pid: i32, healthy: bool, output: &str) {
        self.view.touch(key);
        let Some(entry) = self.table.entries.get_mut(key) else {
            return;
        };
        if !matches!(entry.process.state, State::Starting { pid: p } | State::Running { pid: p } if p == pid)
        {
            return;
        }
        let name = entry.config.name.clone();
        self.events
            .publish(Event::health(&entry.config.group, &name, healthy, output));
        if healthy {
            entry.process.health = Some(Health::Healthy);
            tracing::info!("healthy: {name} passes its health check");
        } else {
            entry.process.health = Some(Health::Unhealthy);
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
    fn run_probe(&mut self, key: &ProcKey, command: &str) -> Result<ProbeChild, String> {
        let entry = self.table.entries.get(key).ok_or("no such process")?;
        let quoted = shlex::try_quote(command).map_err(|err| err.to_string())?;
        let mut config = (*entry.config).clone();
        config.command = format!("/bin/sh -c {quoted}");
        config.redirect_stderr = true;
        config.stdout.target = crate::config::LogTarget::Auto;
        config.fcgi_socket = None;
        let prepared = spawn::prepare(&config, (&self.base_env, self.child_umask()), None)?;
        let ticket = self.spawner.submit(prepared.plan());
        let started = self.spawner.collect(ticket);
        let child = prepared.finish(&config, started)?;
        let output = child.stdout.ok_or("the probe has no output pipe")?;
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
    fn signal_request(&mut self, key: &ProcKey, number: i32) -> Result<(), Refusal> {
        let state = self
            .table
            .entries
            .get(key)
            .ok_or(Refusal::BadName)?
            .process
            .state;
        let pid = match state {
            State::Running { pid } | State::Starting { pid } | State::Stopping { pid } => pid,
            _ => return Err(Refusal::NotRunning),
        };
        let signal = nix::sys::signal::Signal::try_from(number)
            .map_err(|err| Refusal::Failed(err.to_string()))?;
        match signal::send(pid, signal, false) {
            Ok(_) => {
                self.view.touch(key);
                if let Some(entry) = self.table.entries.get_mut(key) {
                    entry.process.signalled = true;
                }
                Ok(())
            }
            Err(errno) => Err(Refusal::Failed(errno.to_string())),
        }
    }

    /// `sendProcessStdin`: the bytes are queued for the child's stdin feeder, as supervisord
    /// buffers them, and the reply comes at once; a full queue (the child does not read) is
    /// refused with FAILED, a closed stdin with NO_FILE.
    fn send_stdin(&mut self, key: &ProcKey, bytes: Vec<u8>, reply: super::Reply) {
        let Some(entry) = self.table.entries.get(key) else {
            let _ = reply.send(Err(Refusal::BadName));
            return;
        };
        // As supervisord: nothing goes to a process that is being stopped.
        let stopping = matches!(entry.process.state, State::Stopping { .. });
        let outcome = match (entry.process.state.pid(), &entry.stdin) {
            (Some(_), Some(stdin)) if !stopping => stdin.send(bytes).map_err(|err| match err {
                FeedError::Closed => Refusal::StdinClosed,
                full @ FeedError::Full { .. } => Refusal::Failed(full.to_string()),
            }),
            _ => Err(Refusal::NotRunning),
        };
        let _ = reply.send(outcome);
    }

    /// `reloadConfig`: keeps `config` for later adds; compares it with the groups in use.
    fn reread(&mut self, config: Config) -> GroupDiff {
        let mut diff = GroupDiff::default();
        for group in &config.groups {
            match self.table.group(&group.name) {
                None => diff.added.push(group.name.clone()),
                Some(active) if active.config != *group => diff.changed.push(group.name.clone()),
                Some(_) => {}
            }
        }
        for active in &self.table.groups {
            if !config.groups.iter().any(|g| g.name == active.config.name) {
                diff.removed.push(active.config.name.clone());
            }
        }
        for names in [&mut diff.added, &mut diff.changed, &mut diff.removed] {
            names.sort();
        }
        self.config = Arc::new(config);
        self.reloads += 1;
        diff
    }

    /// `addProcessGroup`: puts a group of the latest config in use and autostarts it.
    fn add_group(&mut self, name: &str) -> Result<(), Refusal> {
        if self.table.group(name).is_some() {
            return Err(Refusal::AlreadyAdded);
        }
        let config = Arc::clone(&self.config);
        let group = config
            .groups
            .iter()
            .find(|g| g.name == name)
            .ok_or(Refusal::BadName)?;
        self.view.reshape();
        for error in self.table.add_group(group) {
            tracing::error!(target: CRITICAL, "{error}");
        }
        tracing::info!("added process group {name}");
        self.note_dependencies();
        announce_group(&self.events, group);
        let keys = self
            .table
            .group(name)
            .map(|g| g.keys.clone())
            .unwrap_or_default();
        self.start_autostart(keys);
        Ok(())
    }

    /// `removeProcessGroup`: only when every process of the group is stopped.
    fn remove_group(&mut self, name: &str) -> Result<(), Refusal> {
        let group = self.table.group(name).ok_or(Refusal::BadName)?;
        let running = group
            .keys
            .iter()
            .filter_map(|key| self.table.entries.get(key))
            .any(|entry| !entry.process.state.is_stopped());
        if running {
            return Err(Refusal::StillRunning);
        }
        // A removed group's processes are forgotten: re-added, they start as configured
        // (supervisorctl's update stops, removes and adds a changed group).
        let namespecs: Vec<String> = group
            .keys
            .iter()
            .filter_map(|key| self.table.entries.get(key))
            .map(|entry| entry.config.namespec())
            .collect();
        for namespec in namespecs {
            self.state.set(&namespec, false);
        }
        self.table.remove_group(name);
        self.view.reshape();
        self.note_dependencies();
        tracing::info!("removed process group {name}");
        self.events.send(Message::PoolRemoved(name.to_string()));
        self.events.publish(Event::group_removed(name));
        Ok(())
    }

    /// The latest config's version of the active group `name`.
    fn reread_group(&self, name: &str) -> Result<crate::config::GroupConfig, Refusal> {
        if self.table.group(name).is_none() {
            return Err(Refusal::BadName);
        }
        self.config
            .groups
            .iter()
            .find(|g| g.name == name)
            .cloned()
            .ok_or(Refusal::BadName)
    }

    /// Applies the latest config to one active group member by member; the changed and
    /// dropped members must already be stopped.
    fn replace_members(&mut self, name: &str) -> Result<(), Refusal> {
        let group = self.reread_group(name)?;
        let running = self
            .table
            .stale_members(name, &group)
            .iter()
            .filter_map(|key| self.table.entries.get(key))
            .any(|entry| !entry.process.state.is_stopped());
        if running {
            return Err(Refusal::StillRunning);
        }
        let (fresh, socket_errors) = self.table.replace_members(&group);
        self.view.reshape();
        for error in socket_errors {
            tracing::error!(target: CRITICAL, "{error}");
        }
        tracing::info!("updated members of process group {name}");
        self.note_dependencies();
        match group.pool() {
            Some(pool) => self.events.send(pool_message(&group.name, pool)),
            None => self.events.send(Message::PoolRemoved(group.name.clone())),
        }
        // New members start afresh, whatever was remembered of the old ones.
        for key in &fresh {
            if let Some(entry) = self.table.entries.get(key) {
                self.state.set(&entry.config.namespec(), false);
            }
        }
        self.start_autostart(fresh);
        Ok(())
    }

    /// `getAllConfigInfo`: every process of the latest config, and whether its group is in
    /// use.
    fn config_info(&self) -> Vec<ConfigInfo> {
        let mut infos: Vec<ConfigInfo> = self
            .config
            .groups
            .iter()
            .flat_map(|group| {
                let in_use = self.table.group(&group.name).is_some();
                group.processes.iter().map(move |process| ConfigInfo {
                    config: Arc::clone(process),
                    group_priority: group.priority,
                    in_use,
                })
            })
            .collect();
        infos.sort_by(|a, b| a.config.name.cmp(&b.config.name));
        infos
    }

    /// Starts those of `keys` whose program has `autostart`, in the order given, except
    /// those the statefile says were stopped by hand.
    fn start_autostart(&mut self, keys: Vec<ProcKey>) {
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
    fn autostart(&mut self) {
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
    fn start(&mut self, key: &ProcKey) {
        self.start_many(std::slice::from_ref(key));
    }

    /// Spawns those of `keys` whose state allows a start, in order. Starts are pipelined:
    /// while the spawner execs one child, the next is prepared; each start is recorded
    /// (pid, captures, state) before the actor looks at any exit, so none is missed.
    fn start_many(&mut self, keys: &[ProcKey]) {
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
    fn record_spawn(&mut self, key: &ProcKey, child: spawn::Child) {
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
        if !entry.process.state.can_start() {
            return None;
        }
        let config = Arc::clone(&entry.config);
        let socket = match &config.fcgi_socket {
            None => None,
            Some(_) => match self.table.fcgi_sockets.get(&config.program) {
                Some(fd) => Some(fd),
                None => {
                    let error = format!("no socket for fcgi-program '{}'", config.program);
                    let _ = self.apply(key, Input::SpawnFailed { error });
                    return None;
                }
            },
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

    /// Feeds `input` to `key`'s state machine and carries out the resulting effects.
    fn apply(&mut self, key: &ProcKey, input: Input) -> Result<(), Refused> {
        let clock = Clock::now();
        self.view.touch(key);
        let Some(entry) = self.table.entries.get_mut(key) else {
            return Err(Refused::Ignored);
        };
        let was_looping = entry.process.crash_loop.looping().is_some();
        let step = entry.process.apply(input, &entry.config, clock)?;
        self.generations += 1;
        entry.generation = self.generations;
        for change in &step.changes {
            let note = match (change.to, step.exit_reason, entry.process.retry) {
                (State::Backoff, _, Some(retry)) if retry.crash_loop => Some(format!(
                    "crash loop: next start in {}s, {} crashes in {}s",
                    retry.delay.as_secs_f64(),
                    entry.process.crash_loop.recent_crashes(),
                    entry.config.crash_loop.window.as_secs_f64()
                )),
                (State::Backoff, _, Some(retry)) => Some(format!(
                    "start retry {} in {}s",
                    entry.process.backoff,
                    retry.delay.as_secs_f64()
                )),
                (
                    State::Exited | State::Stopped | State::Backoff | State::Fatal,
                    Some(reason),
                    _,
                ) => Some(format!("exit: {}", reason.label())),
                _ => None,
            };
            let event = Event::process_state(
                &entry.config.group,
                &entry.config.name,
                change.from,
                change.to,
                change.tries,
                change.expected.unwrap_or(true),
            );
            self.events.publish(event.noted(note));
        }
        if entry.process.state.is_stopped() && !self.stop_level.is_empty() {
            self.stop_level.remove(key);
        }
        if was_looping && entry.process.crash_loop.looping().is_none() {
            self.events.publish(Event::crash_loop(
                &entry.config.group,
                &entry.config.name,
                false,
                "",
            ));
        }
        self.execute(key, step, clock.now);
        Ok(())
    }

    fn execute(&mut self, key: &ProcKey, step: Step, now: Instant) {
        for effect in step.effects {
            match effect {
                Effect::Log { level, message } => log(level, &message),
                Effect::Arm { timer, after } => {
                    // A deadline beyond what an Instant can hold never fires.
                    let at = now.checked_add(after);
                    if let (Some(entry), Some(at)) = (self.table.entries.get(key), at) {
                        self.timers.arm(at, key.clone(), timer, entry.generation);
                    }
                }
                Effect::Signal { signal, to_group } => self.signal(key, signal, to_group),
                Effect::Respawn => {
                    if matches!(self.mood, Mood::Running) {
                        self.start(key);
                    }
                }
                Effect::RecordCrash(facts) => {
                    self.view.touch(key);
                    if let Some(entry) = self.table.entries.get_mut(key) {
                        entry.crash_to_record = Some(facts);
                    }
                }
            }
        }
    }

    fn signal(&mut self, key: &ProcKey, signal: nix::sys::signal::Signal, to_group: bool) {
        let Some(entry) = self.table.entries.get(key) else {
            return;
        };
        let Some(pid) = entry.process.state.pid() else {
            return;
        };
        if !self.table.pids.contains_key(&pid) {
            // Reaped already (a listener's exit waits for its output): never signal a pid
            // that may belong to someone else by now.
            return;
        }
        match signal::send(pid, signal, to_group) {
            Ok(Delivery::Sent) => {}
            Ok(Delivery::Gone) => tracing::debug!(
                "unable to signal {} (pid {pid}), it probably just exited on its own",
                entry.config.name
            ),
            Err(errno) => {
                let _ = self.apply(
                    key,
                    Input::SignalFailed {
                        error: errno.to_string(),
                    },
                );
            }
        }
    }

    fn fire_due(&mut self) {
        let now = Instant::now();
        for due in self.timers.pop_due(now) {
            let current = self.table.entries.get(&due.key).map(|e| e.generation);
            if current != Some(due.generation) {
                continue;
            }
            // Stale or inapplicable timers are simply dropped.
            let _ = match due.timer {
                Timer::StartSecs => self.apply(&due.key, Input::StartSecsElapsed),
                Timer::StopTimeout => self.apply(&due.key, Input::StopTimeout),
                Timer::CrashLoopReset => self.apply(&due.key, Input::CrashLoopReset),
                Timer::Retry => {
                    if matches!(self.mood, Mood::Running) {
                        self.start(&due.key);
                    }
                    Ok(())
                }
            };
        }
        if self.next_report.is_some_and(|at| at <= now) {
            let waiting = self.unstopped_names();
            if !waiting.is_empty() {
                tracing::info!("waiting for {} to die", waiting.join(", "));
            }
            self.next_report = Some(now + WAITING_REPORT_EVERY);
        }
    }

    /// Notes whether any process in use has `depends_on` (after the table changed).
    fn note_dependencies(&mut self) {
        self.uses_dependencies = self
            .table
            .entries
            .values()
            .any(|entry| !entry.config.depends_on.is_empty());
    }

    /// Starts, by hand, the dependencies of `key` that are stopped (theirs first).
    fn start_dependencies_of(&mut self, key: &ProcKey) {
        if self.uses_dependencies {
            self.start_dependencies_from(key, &mut vec![key.clone()]);
        }
    }

    /// [`Self::start_dependencies_of`], never visiting a process twice (a graph changed by
    /// an update may hold a cycle the config check could not see).
    fn start_dependencies_from(&mut self, key: &ProcKey, seen: &mut Vec<ProcKey>) {
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
    fn stop_dependents_first(&mut self, key: &ProcKey) -> bool {
        if !self.uses_dependencies {
            return true;
        }
        self.stop_dependents_from(key, &mut vec![key.clone()])
    }

    /// [`Self::stop_dependents_first`], never visiting a process twice.
    fn stop_dependents_from(&mut self, key: &ProcKey, seen: &mut Vec<ProcKey>) -> bool {
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
    fn follow_dependencies(&mut self) {
        if !self.waiting.is_empty() {
            let table = &self.table;
            self.waiting.retain(|key| {
                table
                    .entries
                    .get(key)
                    .is_some_and(|e| e.process.state.can_start())
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
                let why = format!("dependency {} is FATAL", fatal.1);
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

    fn begin_stop(&mut self, mood: Mood) {
        // Once per shutdown or restart, as supervisord's `stopping` flag.
        if matches!(self.mood, Mood::Running) {
            self.events.publish(Event::supervisor_stopping());
        }
        self.mood = mood;
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
    fn progress_stop(&mut self) -> bool {
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
                .filter(|key| {
                    table
                        .entries
                        .get(key)
                        .is_some_and(|e| !e.process.state.is_stopped())
                })
                .collect();
        }
        false
    }

    fn unstopped_names(&self) -> Vec<String> {
        self.table
            .start_order()
            .filter_map(|key| self.table.entries.get(key))
            .filter(|e| !e.process.state.is_stopped())
            .map(|e| e.config.name.clone())
            .collect()
    }

    /// The umask a child gets when its program sets none: `[supervisord] umask` once vigild
    /// daemonized (as supervisord applies it), else vigild's own.
    fn child_umask(&self) -> Option<u32> {
        let settings = &self.config.supervisord;
        (!settings.nodaemon).then_some(settings.umask)
    }

    fn restart_with(&mut self, config: Config, base_env: Vec<(String, String)>) {
        self.config = Arc::new(config.clone());
        self.reloads += 1;
        self.timers.clear();
        self.base_env = base_env;
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
        self.table = Table::default();
        self.strip_ansi = config.supervisord.strip_ansi;
        self.nocleanup = config.supervisord.nocleanup;
        let (table, socket_errors) = Table::build(&config);
        for error in socket_errors {
            tracing::error!(target: CRITICAL, "{error}");
        }
        self.table = table;
        self.view.reshape();
        self.note_dependencies();
        self.announce_groups();
        self.events.publish(Event::supervisor_running());
        self.autostart();
    }
}

impl Supervisor {
    /// PROCESS_GROUP_ADDED for every group in use, in start order (listener pools are set
    /// up first, so a pool hears of its own group), as at supervisord's start.
    fn announce_groups(&self) {
        for group in &self.table.groups {
            announce_group(&self.events, &group.config);
        }
    }
}

/// Sets up `group`'s pool when it is one, then publishes its PROCESS_GROUP_ADDED.
fn announce_group(events: &Publisher, group: &crate::config::GroupConfig) {
    if let Some(pool) = group.pool() {
        events.send(pool_message(&group.name, pool));
    }
    events.publish(Event::group_added(&group.name));
}

/// The message that creates or reconfigures the pool `name`.
fn pool_message(name: &str, pool: &crate::config::ListenerConfig) -> Message {
    Message::PoolAdded {
        name: name.to_string(),
        events: pool.events.clone(),
        buffer_size: pool.buffer_size,
    }
}

fn log(level: Level, message: &str) {
    match level {
        Level::Critical => tracing::error!(target: CRITICAL, "{message}"),
        Level::Warn => tracing::warn!("{message}"),
        Level::Info => tracing::info!("{message}"),
        Level::Debug => tracing::debug!("{message}"),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}
