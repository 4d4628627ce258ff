//! The supervisor task: waits on its control channel and its next timer, feeds each event to
//! the process state machine, and carries out the effects (spawn, signal, arm a timer, log).
//! The loop, message dispatch, exits and state changes live here; requests, groups,
//! spawning, `depends_on` and ordered stops each have a file of their own.

mod depends_on;
mod essential;
mod groups;
mod main_pid;
mod reexec;
mod requests;
mod scaling;
mod scheduled;
mod shutdown;
mod spawning;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::Signal;
use tokio::sync::{mpsc, oneshot, watch};

use super::calendar::Calendar;
use super::dependencies;
use super::snapshot::View;
use super::statefile::StateFile;
use super::table::{PendingStart, ProcKey, Table};
use super::timers::Timers;
use super::{
    ConfigInfo, Control, Ending, GroupDiff, ProbeChild, ProbeRefusal, Refusal, Snapshot,
    SupervisorState,
};
use crate::config::Config;
use crate::events::{Event, Message, Publisher};
use crate::logs::auto;
use crate::logs::mainlog::CRITICAL;
use crate::process::cgroup::Cgroups;
use crate::process::exit::ExitOutcome;
use crate::process::guardian::Guardian;
use crate::process::launch::LaunchError;
use crate::process::machine::{Clock, Input};
use crate::process::preparer::Preparer;
use crate::process::reaper::Reaper;
use crate::process::signal::{self, Delivery};
use crate::process::spawn;
use crate::process::spawner::{Spawner, Ticket};
use crate::process::state::{Health, State, StateKind};
use crate::process::stdin::{FeedError, Feeder};
use crate::process::step::{Effect, Level, Refused, Step, Timer};
use crate::process::tally::ExitReason;

/// At most this many exits of children whose start is not recorded yet are kept (the
/// starts in flight are far fewer; the rest are orphans reaped as PID 1).
const EARLY_EXITS_KEPT: usize = 1024;

/// At most this many sd_notify messages from senders whose spawn is not recorded yet are
/// kept (the oldest goes first).
const EARLY_NOTICES_KEPT: usize = 256;

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
    /// vigild's environment plus `[supervisord] environment`, shared with the preparations.
    base_env: Arc<[(String, String)]>,
    table: Table,
    timers: Timers,
    /// vigil `schedule=`/`restart_schedule=`: the planned times, by deadline.
    calendar: Calendar,
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
    /// What prepares starts off the actor.
    preparer: Preparer,
    /// Starts sent to spawner helpers so far (which a helper's next answer is to).
    submissions: u64,
    /// What starts children.
    spawner: Spawner,
    /// The starts submitted whose outcome has not been carried out, oldest first.
    in_flight: VecDeque<spawning::Flight>,
    /// Starts waiting for the spawner to have room, in the order they were asked for.
    launches: VecDeque<ProcKey>,
    /// Exits of children whose start's answer has not been taken yet (reaped by a sweep
    /// meanwhile), kept for when it is; only while starts are in flight, and bounded.
    early_exits: VecDeque<(i32, ExitOutcome)>,
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
    /// vigil `depends_on`: held starts to look at again (a dependency of theirs changed).
    recheck_starts: Vec<ProcKey>,
    /// vigil `depends_on`: deferred stops to look at again (a dependent of theirs changed).
    recheck_stops: Vec<ProcKey>,
    /// Told of every child's process group, to kill them if vigild dies.
    guardian: Guardian,
    /// How the run ends: asked for, unless an `essential` process ended it.
    ending: Ending,
    /// sd_notify messages from senders outside every managed process's tree, so far.
    ignored_notices: u64,
    /// The autostart has been carried out (the snapshot says so).
    autostarted: bool,
    /// sd_notify messages from children whose start's answer was not taken yet.
    early_notices: VecDeque<crate::notify::Notified>,
    /// `MAINPID=`: exits held for the notify socket, former main pids.
    main_pids: main_pid::MainPids,
    /// vigil `scaleGroup`: the groups run at another size than their file gives.
    scales: Vec<crate::config::Scaled>,
    /// vigil `reexec`: the handover under way, while the pipes freeze.
    handing: Option<reexec::Handing>,
    /// vigil `reexec`: handovers so far (carried from image to image).
    reexecs: u64,
    /// Controls that came during a handover's freeze, handled if it is given up.
    deferred: Vec<Control>,
    /// vigil `reexec`, in the new image: the VIGIL_REEXEC to publish when the run begins
    /// (instead of announcing groups the listeners know already).
    adopted: Option<Event>,
}

impl Supervisor {
    /// The actor for `config`; fails when an fcgi socket cannot be created (supervisord
    /// refuses to start then too).
    pub(super) fn new(
        config: &Config,
        base_env: Vec<(String, String)>,
        (spawner, guardian, cgroups): (Spawner, Guardian, Option<Arc<Cgroups>>),
        (snapshot, changes, myself): (
            watch::Sender<Arc<Snapshot>>,
            Arc<super::changes::Changes>,
            mpsc::WeakUnboundedSender<Control>,
        ),
        (events, adopted_sockets): (Publisher, Option<HashMap<String, std::os::fd::OwnedFd>>),
    ) -> std::io::Result<Self> {
        let settings = &config.supervisord;
        // An adopted fleet's AUTO logs are in use: they are not the last run's leftovers.
        if !settings.nocleanup && adopted_sockets.is_none() {
            auto::clean(&settings.childlogdir, &settings.identifier);
        }
        let (mut table, socket_errors) = Table::build(config, adopted_sockets.unwrap_or_default());
        if !socket_errors.is_empty() {
            return Err(std::io::Error::other(socket_errors.join("; ")));
        }
        table.cgroups = cgroups;
        let mut supervisor = Supervisor {
            config: Arc::new(config.clone()),
            strip_ansi: settings.strip_ansi,
            nocleanup: settings.nocleanup,
            base_env: base_env.into(),
            table,
            timers: Timers::default(),
            calendar: Calendar::default(),
            mood: Mood::Running,
            stop_queue: Vec::new(),
            stop_level: HashSet::new(),
            next_report: None,
            view: View::new(snapshot, changes),
            generations: 0,
            spawner,
            preparer: Preparer::default(),
            submissions: 0,
            in_flight: VecDeque::new(),
            launches: VecDeque::new(),
            early_exits: VecDeque::new(),
            reaper: Reaper::new()?,
            reloads: 0,
            events,
            state: StateFile::open(settings.statefile.as_deref()),
            probes: HashMap::new(),
            waiting: Vec::new(),
            stopping_after_dependents: Vec::new(),
            myself,
            recheck_starts: Vec::new(),
            recheck_stops: Vec::new(),
            guardian,
            ending: Ending::Asked,
            ignored_notices: 0,
            autostarted: false,
            early_notices: VecDeque::new(),
            main_pids: main_pid::MainPids::default(),
            scales: Vec::new(),
            handing: None,
            reexecs: 0,
            deferred: Vec::new(),
            adopted: None,
        };
        let helpers = supervisor.spawner.helper_pids();
        for pid in helpers.into_iter().chain(supervisor.guardian.pid()) {
            supervisor.reaper.watch(pid);
        }
        supervisor.note_dependencies();
        supervisor.take_saved_scales();
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
        self.view.publish(
            &self.table,
            &self.waiting,
            (state, (self.reloads, self.reexecs), self.autostarted),
        );
    }

    /// Runs until a shutdown has stopped every process, or a handover has made its record;
    /// says how it ended.
    pub(super) async fn run(
        mut self,
        mut receiver: mpsc::UnboundedReceiver<Control>,
        mut sigchld: Signal,
    ) -> super::Finish {
        // After a handover the listeners heard of the groups and of
        // SUPERVISOR_STATE_CHANGE_RUNNING from the vigild before: they hear VIGIL_REEXEC.
        if let Some(reexec) = self.adopted.take() {
            self.events.publish(reexec);
        } else {
            self.announce_groups();
            self.events.publish(Event::supervisor_running());
        }
        self.autostart();
        self.autostarted = true;
        // The autostart's spawns are seen at once, not at the loop's first event.
        self.publish();
        let exits = self.reaper.readiness();
        let mut channel_open = true;
        loop {
            let deadline = [
                self.timers.next_deadline(),
                self.calendar.next_deadline(),
                self.next_report,
                self.spawner.deadline(),
                self.preparation_deadline(),
                self.reaper.deadline(),
            ]
            .into_iter()
            .flatten()
            .min();
            let answers = self.spawner.waiting();
            // A handover's freeze: nothing changes until it is made or given up (exits wait
            // as zombies, timers come due late, for whichever image takes them).
            let live = self.handing.is_none();
            let deadline = deadline.filter(|_| live);
            tokio::select! {
                message = receiver.recv(), if channel_open => if let Some(control) = message {
                    if let Some(finish) = self.handle_or_defer(control) {
                        return finish;
                    }
                } else {
                    channel_open = false;
                    self.begin_stop(Mood::ShuttingDown);
                },
                ready = exits.readable(), if live => {
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
                _ = sigchld.recv(), if live => {
                    // Watched exits first: they tell whether the signal may be an orphan's.
                    let (watched, _) = self.reaper.collect_watched();
                    let swept = self.reaper.after_sigchld(Instant::now());
                    for (pid, outcome) in watched.into_iter().chain(swept) {
                        self.child_exited(pid, outcome);
                    }
                }
                () = answers.readable(), if live && !answers.is_empty() => self.take_answers(),
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
        super::Finish::Ended(self.ending)
    }

    /// Handles `control`, or keeps it for later while a handover freezes the pipes; the
    /// finish of the run when a handover's record is made.
    fn handle_or_defer(&mut self, control: Control) -> Option<super::Finish> {
        match control {
            Control::Frozen(events) => {
                if let Some((binary, handover)) = self.frozen(events) {
                    self.publish();
                    return Some(super::Finish::Reexec { binary, handover });
                }
                for control in std::mem::take(&mut self.deferred) {
                    self.handle(control);
                }
            }
            Control::Alive(reply) => {
                let _ = reply.send(());
            }
            Control::PipesFrozen(frozen) => self.pipes_frozen(frozen),
            // What programs said before the freeze was complete: taken in, as it changes
            // no child (no dependent waits: a handover refuses while one does).
            control @ (Control::Notified(_) | Control::NotifyBarrier(_)) => self.handle(control),
            control if self.handing.is_some() => {
                // A shutdown or restart must not be lost with the old image: it wins.
                if let (Some(handing), Control::Shutdown | Control::Restart(..)) =
                    (&mut self.handing, &control)
                {
                    handing.cancelled = Some("a shutdown or restart");
                }
                self.deferred.push(control);
            }
            control => self.handle(control),
        }
        None
    }

    fn handle(&mut self, control: Control) {
        match control {
            Control::Reexec {
                binary,
                version,
                file,
                reply,
            } => self.begin_handover(binary, version, &file, reply),
            // Only ever in a handover, which handle_or_defer takes care of.
            Control::Frozen(_) | Control::PipesFrozen(_) => {}
            Control::RunCommand { argv, reply } => {
                let _ = reply.send(self.run_command(&argv));
            }
            Control::Shutdown => {
                if !matches!(self.mood, Mood::ShuttingDown) {
                    self.begin_stop(Mood::ShuttingDown);
                }
            }
            Control::Restart(config, base_env) => match &mut self.mood {
                Mood::Running => self.begin_stop(Mood::Restarting(config, base_env)),
                Mood::Restarting(..) => self.mood = Mood::Restarting(config, base_env),
                Mood::ShuttingDown => {
                    tracing::info!("ignoring restart request: already shutting down");
                }
            },
            Control::Start(key, reply) => self.start_request(&key, reply),
            Control::Stop(key, reply) => {
                let outcome = self.stop_request(&key);
                self.answer(reply, outcome);
            }
            Control::Signal(key, signal, reply) => {
                let outcome = self.signal_request(&key, signal);
                self.answer(reply, outcome);
            }
            Control::Reload(key, reply) => {
                let outcome = self.reload_request(&key);
                self.answer(reply, outcome);
            }
            Control::SendStdin(key, bytes, reply) => self.send_stdin(&key, bytes, reply),
            Control::Prepared(ticket, result) => self.prepared(ticket, result),
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
            } => self.run_probe(&key, &command, reply),
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
            Control::Scale(group, scaled, reply) => {
                let _ = reply.send(self.scale(*group, scaled));
            }
            Control::ReplaceMembers(name, reply) => {
                let outcome = self.replace_members(&name);
                self.answer(reply, outcome);
            }
            Control::Notified(notified) => self.notified(notified),
            Control::NotifyBarrier(token) => self.barrier_returned(token),
            Control::Alive(reply) => {
                let _ = reply.send(());
            }
            Control::ChildReady(key, pid) => {
                let current = self
                    .table
                    .entries
                    .get(&key)
                    .and_then(|e| e.process.state().pid());
                if current == Some(pid) {
                    let _ = self.apply(&key, Input::Ready);
                }
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
        if self.former_main_ended(pid, outcome) || self.hold_for_notices(pid, outcome) {
            return;
        }
        self.child_ended(pid, outcome);
    }

    /// The end of `pid`, a process's child or an unknown one, once nothing holds it.
    fn child_ended(&mut self, pid: i32, outcome: ExitOutcome) {
        self.kill_leftovers(pid);
        let group = self
            .table
            .pids
            .get(&pid)
            .and_then(|key| self.table.entries.get(key))
            .and_then(|entry| entry.process.process_group());
        if let Some(group) = group {
            self.guardian.forget(group);
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
                self.take_answers();
            }
            None if self.guardian.is_guardian(pid) => tracing::warn!(
                "the guardian exited ({}): grandchildren may outlive a crash of vigild",
                outcome.describe()
            ),
            // Maybe a child whose start's answer is still to be taken: kept for it.
            None if !self.in_flight.is_empty() => {
                self.keep_early_exit(pid, outcome);
            }
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
            .and_then(|entry| entry.process.state().pid())
            .filter(|_| captures.iter().any(Option::is_some));
        if let Some(pid) = held {
            self.events.send(Message::Hold {
                group: key.0.clone(),
                name: key.1.clone(),
                pid,
            });
        }
        let ended = self
            .table
            .entries
            .get(key)
            .and_then(|entry| entry.process.state().pid());
        if self.oom_struck(key) {
            let _ = self.apply(key, Input::OomKilled);
        }
        // An exit the state machine does not expect is only logged.
        let _ = self.apply(key, Input::Exited(outcome));
        // A failed start (not ready in time) lands in BACKOFF; while everything stops,
        // that gives up at once, as a shutdown's stop_all does with BACKOFF.
        if !matches!(self.mood, Mood::Running) {
            let _ = self.apply(key, Input::GiveUp);
        }
        self.view.touch(key);
        if let Some(entry) = self.table.entries.get_mut(key) {
            let crash = entry.crash_to_record.take();
            let marker = entry
                .config
                .log_markers
                .then(|| format!("exited '{}' ({})", entry.config.name, outcome.describe()));
            entry.after_exit(captures, (crash, marker, held, ended), &self.events);
        }
    }

    /// Feeds `input` to `key`'s state machine and carries out the resulting effects.
    fn apply(&mut self, key: &ProcKey, input: Input) -> Result<(), Refused> {
        let clock = Clock::now();
        self.view.touch(key);
        let Some(entry) = self.table.entries.get_mut(key) else {
            return Err(Refused::Ignored);
        };
        let was_looping = entry.process.crash_loop().looping().is_some();
        let pid_before = entry.process.state().pid();
        let exited = match input {
            Input::Exited(outcome) => Some(outcome),
            _ => None,
        };
        let step = entry.process.apply(input, &entry.config, clock)?;
        // A new state makes the timers armed for the old one stale; a step that changes no
        // state (a STATUS= notice, a watchdog feed) leaves them be.
        if !step.changes.is_empty() {
            self.generations += 1;
            entry.generation = self.generations;
        }
        for change in &step.changes {
            let retry = entry.process.state().retry();
            let note = match (change.to, step.exit_reason, retry) {
                (StateKind::Backoff, _, Some(retry)) if retry.crash_loop => Some(format!(
                    "crash loop: next start in {}s, {} crashes in {}s",
                    retry.delay.as_secs_f64(),
                    entry.process.crash_loop().recent_crashes(),
                    entry.config.crash_loop.window.as_secs_f64()
                )),
                (StateKind::Backoff, _, Some(retry)) => Some(format!(
                    "start retry {} in {}s",
                    entry.process.backoff(),
                    retry.delay.as_secs_f64()
                )),
                (
                    StateKind::Exited | StateKind::Stopped | StateKind::Backoff | StateKind::Fatal,
                    Some(reason),
                    _,
                ) => Some(format!("exit: {}", reason.label())),
                _ => None,
            };
            let event = Event::process_state(&entry.config.group, &entry.config.name, change);
            self.events.publish(event.noted(note));
        }
        if entry.is_idle() && !self.stop_level.is_empty() {
            self.stop_level.remove(key);
        }
        if was_looping && entry.process.crash_loop().looping().is_none() {
            self.events.publish(Event::crash_loop(
                &entry.config.group,
                &entry.config.name,
                false,
                "",
            ));
        }
        let unasked_end = step.unasked_end();
        // What the step's log lines are about, as fields (`logformat=json` shows them).
        let about = About {
            pid: pid_before.or_else(|| entry.process.state().pid()),
            exit_status: step.exit_reason.map(|_| entry.process.exitstatus()),
        };
        self.execute(key, step, (clock.now, about));
        self.essential_check(key, unasked_end, exited);
        self.dependency_changed(key);
        Ok(())
    }

    fn execute(&mut self, key: &ProcKey, step: Step, (now, about): (Instant, About)) {
        for effect in step.effects {
            match effect {
                Effect::Log { level, message } => log(level, &message, &key.1, about),
                Effect::Arm { timer, after } => {
                    // A deadline beyond what an Instant can hold never fires.
                    let at = now.checked_add(after);
                    if let (Some(entry), Some(at)) = (self.table.entries.get(key), at) {
                        self.timers.arm(
                            at,
                            super::timers::Due {
                                key: key.clone(),
                                timer,
                                generation: entry.generation,
                            },
                        );
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
        let Some(pid) = entry.process.state().pid() else {
            return;
        };
        if !self.table.pids.contains_key(&pid) || self.exit_is_held(pid) {
            // Reaped already (a listener's exit waits for its output, a ready=notify one
            // for the notices before it): never signal a pid that may be someone else's.
            return;
        }
        // The child's own group as spawned; for a pid a `MAINPID=` named, the group it is
        // in now (a daemon may leave its launcher's group after saying so).
        let target = match entry.process.process_group() {
            Some(group) if to_group && group != pid => {
                nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(pid)))
                    .map_or(group, nix::unistd::Pid::as_raw)
            }
            _ => pid,
        };
        // vigil `cgroup_root`: a group signal and the final SIGKILL reach every process in
        // the cgroup, escapees from the process group included: the others through the
        // cgroup, the child itself below (so nothing gets a signal twice).
        let mut to_group = to_group;
        if let (Some(cgroups), Some(dir)) = (&self.table.cgroups, self.table.cgroup_of(key)) {
            if signal == nix::sys::signal::Signal::SIGKILL {
                cgroups.kill(&dir);
            } else if to_group {
                crate::process::cgroup::signal_members(&dir, signal as libc::c_int, pid);
                to_group = false;
            }
        }
        let target = if to_group { target } else { pid };
        match signal::send(target, signal, to_group) {
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

    /// vigil `memory_max`: the OOM kills in `key`'s cgroup as its child starts (a read of
    /// cgroupfs, which never waits on a disk; only for programs with a memory limit).
    pub(super) fn note_oom_kills(&mut self, key: &ProcKey) {
        let dir = self.table.cgroup_of(key);
        if let (Some(entry), Some(dir)) = (self.table.entries.get_mut(key), dir) {
            let limits = &entry.config.controls.cgroup;
            if limits.memory_max.is_some() || limits.memory_high.is_some() {
                entry.oom_kills = crate::process::cgroup::Cgroups::oom_kills(&dir);
            }
        }
    }

    /// Whether the OOM killer struck in `key`'s cgroup since its child started.
    fn oom_struck(&self, key: &ProcKey) -> bool {
        let before = self
            .table
            .entries
            .get(key)
            .and_then(|entry| entry.oom_kills);
        let now = self
            .table
            .cgroup_of(key)
            .filter(|_| before.is_some())
            .and_then(|dir| crate::process::cgroup::Cgroups::oom_kills(&dir));
        matches!((before, now), (Some(before), Some(now)) if now > before)
    }

    /// vigil `cgroup_root`: when a process's child ends (a stop, a crash, an exit), what
    /// is left in its cgroup (a `setsid` grandchild, a double-forked daemon) is killed, as
    /// systemd's `KillMode=control-group` does, so the next child starts in a clean cgroup
    /// and nothing runs on unsupervised.
    fn kill_leftovers(&self, pid: i32) {
        let Some(cgroups) = &self.table.cgroups else {
            return;
        };
        if let Some(dir) = self
            .table
            .pids
            .get(&pid)
            .and_then(|key| self.table.cgroup_of(key))
        {
            if crate::process::cgroup::Cgroups::populated(&dir) {
                cgroups.kill(&dir);
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
                Timer::ReadyTimeout => self.apply(&due.key, Input::ReadyTimedOut),
                Timer::Watchdog => self.apply(&due.key, Input::WatchdogDue),
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
        self.fire_schedules(now);
        if self.spawner.deadline().is_some_and(|at| at <= now) {
            self.take_answers();
        }
        for (pid, outcome) in self.reaper.sweep_if_due(now) {
            self.child_exited(pid, outcome);
        }
        self.expire_preparations(now);
        if self.next_report.is_some_and(|at| at <= now) {
            let waiting = self.unstopped_names();
            if !waiting.is_empty() {
                tracing::info!("waiting for {} to die", waiting.join(", "));
            }
            self.next_report = Some(now + WAITING_REPORT_EVERY);
        }
    }

    /// The umask a child gets when its program sets none: `[supervisord] umask` once vigild
    /// daemonized (as supervisord applies it), else vigild's own.
    fn child_umask(&self) -> Option<u32> {
        let settings = &self.config.supervisord;
        (!settings.nodaemon).then_some(settings.umask)
    }
}

/// The child and exit a state machine step's log lines are about.
#[derive(Debug, Clone, Copy)]
struct About {
    pid: Option<i32>,
    exit_status: Option<i32>,
}

/// A state machine's log line, with the process it is about as fields: the plain format
/// shows the message alone, `logformat=json` the fields too.
fn log(level: Level, message: &str, process: &str, about: About) {
    let (pid, exit_status) = (about.pid, about.exit_status);
    match level {
        Level::Critical => {
            tracing::error!(target: CRITICAL, process, pid, exit_status, "{message}");
        }
        Level::Warn => tracing::warn!(process, pid, exit_status, "{message}"),
        Level::Info => tracing::info!(process, pid, exit_status, "{message}"),
        Level::Debug => tracing::debug!(process, pid, exit_status, "{message}"),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}
