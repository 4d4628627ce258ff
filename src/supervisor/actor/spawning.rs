//! Starting children: autostart in priority order, the queue of starts, each start's
//! preparation on a blocking thread ([`Preparer`]), its hand-over to the spawner as it has
//! room, the spawner's answers (a child, or a spawn error) taken as they come, and recording
//! each new child (pid, captures, stdin). The actor never waits for a start: a child that
//! ends before its start's outcome is carried out has its exit kept until then.

use super::*;
use crate::config::ProcessConfig;
use crate::process::preparer::{Job, Preparer, Ticket as Preparation};

/// Starts on their way at once (being prepared, waiting for the spawner, or handed to it),
/// at most; further starts wait in the queue.
const STARTS_IN_FLIGHT: usize = 128;

/// A start still preparing after this long no longer holds up the outcomes of the starts
/// after it (their order is kept only among starts that prepare in the usual time).
const SLOW_PREPARATION: Duration = Duration::from_secs(1);

/// Who a start is for.
pub(super) enum InFlight {
    /// A process's child.
    Process(ProcKey),
    /// A health probe's child, and who waits for it.
    Probe(oneshot::Sender<Result<ProbeChild, ProbeRefusal>>),
}

/// Where a start is.
enum Stage {
    /// Being prepared on a blocking thread since `since`.
    Preparing { ticket: Preparation, since: Instant },
    /// Its preparation failed (or took too long): a spawn error.
    Unprepared(spawn::SpawnError),
    /// Prepared; with the spawner, or waiting for it to have room.
    Prepared {
        prepared: Box<spawn::Prepared>,
        launch: Launch,
    },
}

/// A prepared start and the spawner.
enum Launch {
    /// Waiting for the spawner to have room.
    Waiting,
    /// Sent to `helper` as its `order`th request; its answer has not come. A helper
    /// answers in the order it was sent requests, which need not be the starts' order.
    Sent { helper: usize, order: u64 },
    /// The spawner's answer.
    Answered(Result<i32, LaunchError>),
}

/// One start on its way, in the order starts were asked for.
pub(super) struct Flight {
    start: InFlight,
    config: Arc<ProcessConfig>,
    stage: Stage,
}

impl Stage {
    /// The start's outcome if it is in (the child, or why there is none), else the stage
    /// back.
    fn outcome(
        self,
        config: &ProcessConfig,
    ) -> Result<Result<spawn::Child, spawn::SpawnError>, Stage> {
        match self {
            Stage::Unprepared(error) => Ok(Err(error)),
            Stage::Prepared {
                prepared,
                launch: Launch::Answered(result),
            } => Ok(prepared.finish(config, result)),
            stage => Err(stage),
        }
    }

    /// Still preparing after [`SLOW_PREPARATION`].
    fn is_slow(&self, now: Instant) -> bool {
        matches!(self, Stage::Preparing { since, .. }
            if now.saturating_duration_since(*since) >= SLOW_PREPARATION)
    }

    /// When a preparing start next needs a look: when it becomes slow, then when it is
    /// given up.
    fn next_look(&self, now: Instant) -> Option<Instant> {
        let Stage::Preparing { since, .. } = self else {
            return None;
        };
        let slow = since.checked_add(SLOW_PREPARATION)?;
        if now < slow {
            Some(slow)
        } else {
            since.checked_add(Preparer::TIMEOUT)
        }
    }
}

impl Supervisor {
    /// Starts those of `keys` whose program has `autostart`, in the order given, except
    /// those the statefile says were stopped by hand.
    pub(super) fn start_autostart(&mut self, keys: Vec<ProcKey>) {
        self.plan_schedules(&keys);
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

    /// Begins the queued starts while there is room; one that was cancelled meanwhile (a
    /// stop, a shutdown) is dropped.
    pub(super) fn launch_queued(&mut self) {
        while self.preparer.has_room() && self.in_flight.len() < STARTS_IN_FLIGHT {
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
                self.start_settled(&key, None);
                continue;
            }
            self.begin_start(key);
        }
    }

    /// Sends `key`'s start to be prepared, if its state allows a start; a missing fcgi
    /// socket is a spawn error at once.
    fn begin_start(&mut self, key: ProcKey) {
        let Some(entry) = self.table.entries.get(&key) else {
            return;
        };
        if !entry.process.state().can_start() {
            self.start_settled(&key, None);
            return;
        }
        let config = Arc::clone(&entry.config);
        let logs = vec![Arc::clone(&entry.stdout_log), Arc::clone(&entry.stderr_log)];
        let socket = if config.fcgi_socket.is_some() {
            let copy = self
                .table
                .fcgi_sockets
                .get(&config.program)
                .and_then(|fd| fd.try_clone().ok());
            if copy.is_none() {
                let error = spawn::SpawnError::NoFcgiSocket {
                    program: config.program.clone(),
                };
                let _ = self.apply(&key, Input::SpawnFailed { error });
                self.start_settled(&key, None);
                return;
            }
            copy
        } else {
            None
        };
        self.prepare(InFlight::Process(key), config, socket, logs);
    }

    /// Has `start` of `config` prepared on a blocking thread (with its `logs` created); its
    /// result comes back as [`Control::Prepared`].
    pub(super) fn prepare(
        &mut self,
        start: InFlight,
        config: Arc<ProcessConfig>,
        fcgi_socket: Option<std::os::fd::OwnedFd>,
        logs: Vec<Arc<crate::logs::stream::LogStream>>,
    ) {
        let cgroup = match (&start, &self.table.cgroups) {
            (InFlight::Process(key), Some(cgroups)) => self
                .table
                .cgroup_of(key)
                .map(|dir| (dir, Arc::clone(cgroups))),
            _ => None,
        };
        let job = Job {
            cgroup,
            config: Arc::clone(&config),
            base_env: Arc::clone(&self.base_env),
            umask: self.child_umask(),
            fcgi_socket,
            logs,
        };
        let myself = self.myself.clone();
        let ticket = self.preparer.prepare(job, move |ticket, result| {
            if let Some(myself) = myself.upgrade() {
                let _ = myself.send(Control::Prepared(ticket, result.map(Box::new)));
            }
        });
        self.in_flight.push_back(Flight {
            start,
            config,
            stage: Stage::Preparing {
                ticket,
                since: Instant::now(),
            },
        });
    }

    /// A preparation is back: its start goes to the spawner (or fails); a result for a
    /// start given up meanwhile is dropped, closing its pipes.
    pub(super) fn prepared(
        &mut self,
        ticket: Preparation,
        result: Result<Box<spawn::Prepared>, spawn::SpawnError>,
    ) {
        let flight = self.in_flight.iter_mut().find(
            |flight| matches!(flight.stage, Stage::Preparing { ticket: t, .. } if t == ticket),
        );
        // A start given up meanwhile released its preparation's slot then.
        if let Some(flight) = flight {
            self.preparer.released();
            flight.stage = match result {
                Ok(prepared) => Stage::Prepared {
                    prepared,
                    launch: Launch::Waiting,
                },
                Err(error) => Stage::Unprepared(error),
            };
        }
        self.progress_starts();
    }

    /// Gives up the starts that have been preparing for longer than
    /// [`Preparer::TIMEOUT`], as spawn errors (the hung thread no longer holds a slot), and
    /// lets the starts after a slow one go on.
    pub(super) fn expire_preparations(&mut self, now: Instant) {
        if self.in_flight.is_empty() {
            return;
        }
        for flight in &mut self.in_flight {
            if let Stage::Preparing { since, .. } = flight.stage {
                if now.saturating_duration_since(since) >= Preparer::TIMEOUT {
                    tracing::warn!(
                        "giving up the start of {}: not prepared after {}s",
                        flight.config.name,
                        Preparer::TIMEOUT.as_secs()
                    );
                    flight.stage = Stage::Unprepared(spawn::SpawnError::PrepareTimedOut {
                        seconds: Preparer::TIMEOUT.as_secs(),
                    });
                    self.preparer.released();
                }
            }
        }
        self.progress_starts();
    }

    /// When a start still preparing next needs a look (it becomes slow, or is given up).
    pub(super) fn preparation_deadline(&self) -> Option<Instant> {
        let now = Instant::now();
        self.in_flight
            .iter()
            .filter_map(|flight| flight.stage.next_look(now))
            .min()
    }

    /// Hands prepared starts to the spawner while it has room, carries out the outcomes
    /// that are in, and begins queued starts.
    fn progress_starts(&mut self) {
        for flight in &mut self.in_flight {
            if !self.spawner.has_room() {
                break;
            }
            if let Stage::Prepared {
                prepared,
                launch: launch @ Launch::Waiting,
            } = &mut flight.stage
            {
                *launch = match self.spawner.submit(prepared.plan()) {
                    Ticket::Done(result) => Launch::Answered(result),
                    Ticket::Sent(helper) => {
                        self.submissions += 1;
                        Launch::Sent {
                            helper,
                            order: self.submissions,
                        }
                    }
                };
            }
        }
        self.record_answered();
        self.launch_queued();
    }

    /// Takes the spawner's answers to the starts in flight, then moves the rest on.
    pub(super) fn take_answers(&mut self) {
        for (helper, result) in self.spawner.answers(Instant::now()) {
            // The answer is to the oldest request that helper has not answered.
            let sent = self
                .in_flight
                .iter_mut()
                .filter_map(|flight| match &mut flight.stage {
                    Stage::Prepared {
                        launch: launch @ Launch::Sent { .. },
                        ..
                    } => match *launch {
                        Launch::Sent { helper: h, order } if h == helper => Some((order, launch)),
                        _ => None,
                    },
                    _ => None,
                })
                .min_by_key(|(order, _)| *order)
                .map(|(_, launch)| launch);
            match sent {
                Some(launch) => *launch = Launch::Answered(result),
                // Never expected: a child nobody asked for is not left running.
                None => {
                    if let Ok(pid) = result {
                        self.abandon(pid);
                    }
                }
            }
        }
        self.progress_starts();
    }

    /// Carries out the outcomes of the oldest starts, up to the first still on its way.
    /// Outcomes are taken in the order the starts were asked for, whichever helper answers
    /// first, so children are recorded (and `spawned:` logged) in priority order, as
    /// supervisord starts them.
    fn record_answered(&mut self) {
        let now = Instant::now();
        let mut at = 0;
        while let Some(flight) = self.in_flight.remove(at) {
            match flight.stage.outcome(&flight.config) {
                Ok(outcome) => self.launched(flight.start, outcome),
                Err(stage) => {
                    let slow = stage.is_slow(now);
                    self.in_flight.insert(at, Flight { stage, ..flight });
                    if !slow {
                        break;
                    }
                    at += 1;
                }
            }
        }
        if self.in_flight.is_empty() {
            // Every start is recorded: the exits kept were of orphans after all.
            for (pid, outcome) in std::mem::take(&mut self.early_exits) {
                tracing::info!("reaped unknown pid {pid} ({})", outcome.describe());
            }
        }
    }

    /// The outcome of a start: the child is recorded (or the spawn error is), then a stop
    /// that came meanwhile is carried out and the `startProcess` callers are answered. A
    /// start by hand whose command cannot be run is refused and changes nothing, as
    /// supervisord's `startProcess` checks the command first.
    fn launched(&mut self, start: InFlight, outcome: Result<spawn::Child, spawn::SpawnError>) {
        let key = match start {
            InFlight::Probe(reply) => {
                let started = outcome
                    .map_err(ProbeRefusal::from)
                    .and_then(|child| self.probe_started(child));
                let pid = started.as_ref().ok().map(|probe| probe.pid);
                let _ = reply.send(started);
                if let Some((pid, outcome)) =
                    pid.and_then(|pid| Some((pid, self.take_early_exit(pid)?)))
                {
                    self.child_exited(pid, outcome);
                }
                return;
            }
            InFlight::Process(key) => key,
        };
        let Some(entry) = self.table.entries.get(&key) else {
            if let Ok(child) = outcome {
                self.abandon(child.pid);
            }
            return;
        };
        let (cancelled, by_hand) = entry
            .pending_start
            .as_ref()
            .map_or((false, false), |p| (p.cancelled, !p.callers.is_empty()));
        match outcome {
            Ok(child) => {
                let pid = child.pid;
                self.record_spawn(&key, child);
                if let Some(outcome) = self.take_early_exit(pid) {
                    self.ended_before_recorded(&key, (pid, outcome), cancelled);
                    return;
                }
            }
            Err(error) if by_hand && !cancelled && error.is_preflight() => {
                self.start_settled(&key, Some(error));
                return;
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
        self.start_settled(&key, None);
    }

    /// `key`'s child, just recorded, that a sweep reaped before its start's answer was
    /// taken (orphans come to vigild, so SIGCHLD may sweep with `waitpid(-1)`). A stop or
    /// shutdown that came meanwhile is carried out without a signal (no child is left, and
    /// its pid may be someone else's by now), the start is settled, and only then is the
    /// exit handled, so that autorestart can start the process again (a pending start
    /// refuses a second one).
    fn ended_before_recorded(
        &mut self,
        key: &ProcKey,
        (pid, outcome): (i32, ExitOutcome),
        cancelled: bool,
    ) {
        if cancelled || !matches!(self.mood, Mood::Running) {
            self.table.pids.remove(&pid);
            if self.apply(key, Input::GiveUp).is_err() {
                let _ = self.apply(key, Input::Stop);
            }
            self.table.pids.insert(pid, key.clone());
        }
        self.start_settled(key, None);
        self.child_exited(pid, outcome);
    }

    /// Keeps the exit of a child whose start's answer has not been taken; when
    /// [`EARLY_EXITS_KEPT`] are kept, the oldest (most likely an orphan's: answers come
    /// within the spawner's timeout) goes as an unknown pid's, so a flood of orphan exits
    /// never pushes out the newest.
    pub(super) fn keep_early_exit(&mut self, pid: i32, outcome: ExitOutcome) {
        if self.early_exits.len() >= EARLY_EXITS_KEPT {
            if let Some((old, ended)) = self.early_exits.pop_front() {
                tracing::info!("reaped unknown pid {old} ({})", ended.describe());
            }
        }
        self.early_exits.push_back((pid, outcome));
    }

    /// The kept exit of `pid`, taken.
    fn take_early_exit(&mut self, pid: i32) -> Option<ExitOutcome> {
        let at = self.early_exits.iter().position(|(kept, _)| *kept == pid)?;
        self.early_exits.remove(at).map(|(_, outcome)| outcome)
    }

    /// Ends `key`'s pending start: its callers get SPAWN_ERROR when the start failed at
    /// once (or was `refused`), else success (a wait then follows the state).
    fn start_settled(&mut self, key: &ProcKey, refused: Option<spawn::SpawnError>) {
        self.view.touch(key);
        let Some(entry) = self.table.entries.get_mut(key) else {
            return;
        };
        let Some(pending) = entry.pending_start.take() else {
            return;
        };
        let outcome = match (
            refused,
            entry.process.spawnerr(),
            entry.process.state().pid(),
        ) {
            (Some(error), ..) => Err(Refusal::SpawnError(error)),
            (None, Some(error), None) if !pending.cancelled => {
                Err(Refusal::SpawnError(error.clone()))
            }
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
            self.start_settled(&key, None);
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
        self.note_oom_kills(key);
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
            (child.stdout, child.stderr),
            [None, None],
            pid,
            self.strip_ansi,
            (&self.events, &self.myself),
        );
        if let Some(fd) = child.notification {
            let (myself, key) = (self.myself.clone(), key.clone());
            let watched = crate::process::notification_fd::watch(fd, move || {
                if let Some(supervisor) = myself.upgrade() {
                    let _ = supervisor.send(Control::ChildReady(key, pid));
                }
            });
            if let Err(err) = watched {
                tracing::error!("cannot watch the notification fd of pid {pid}: {err}");
            }
        }
        if !self.early_notices.is_empty() {
            self.replay_notices(pid);
        }
    }
}
