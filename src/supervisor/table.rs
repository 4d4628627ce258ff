//! The process table: every configured process with its runtime record, in start order, plus
//! the pid index used to route reaped exits and the fcgi sockets each group shares.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::calendar::Plan;
use super::Control;
use crate::config::{
    Config, GroupConfig, LinePattern, LogTarget, ProcessConfig, Readiness, StreamLog,
};
use crate::events::{Channel, Event, ListenerBacklog, Message, Publisher};
use crate::logs::auto;
use crate::logs::capture::{self, Drained, OnCapture, OnOutput, Treatment};
use crate::logs::crashes::{self, CrashHistory, CrashRecord};
use crate::logs::file::Rotation;
use crate::logs::journal::{self, Origin, StreamEntries};
use crate::logs::line_watch::watch_lines;
use crate::logs::previous::{Previous, PreviousRun};
use crate::logs::stream::LogStream;
use crate::logs::syslog;
use crate::process::exit::{signal_name, ExitOutcome};
use crate::process::machine::Process;
use crate::process::stdin::Feeder;
use crate::process::step::CrashFacts;
use crate::process::tally::ExitReason;

pub use super::ProcKey;

/// One process: its config, its state record and what vigild holds open for it.
pub struct Entry {
    /// Its config.
    pub config: Arc<ProcessConfig>,
    /// Its state and counters.
    pub process: Process,
    /// Bumped on every accepted input; timers armed earlier are stale.
    pub generation: u64,
    /// The child's stdin feeder (the pipe stays open while it runs).
    pub stdin: Option<Feeder>,
    /// The running captures of the current spawn (stdout, stderr), to wait for before an
    /// exit marker or a crash record.
    pub captures: [Option<Drained>; 2],
    /// Its stdout (with stderr too under `redirect_stderr`).
    pub stdout_log: Arc<LogStream>,
    /// Its stderr.
    pub stderr_log: Arc<LogStream>,
    /// vigil: its crash records.
    pub crashes: Arc<CrashHistory>,
    /// vigil: the last output of the run before the current one (`previous_tail_bytes`).
    pub previous: Arc<PreviousRun>,
    /// The crash the state machine just reported, for [`Entry::after_exit`].
    pub crash_to_record: Option<CrashFacts>,
    /// A start handed to the spawner (or queued for it) whose child is not recorded yet.
    pub pending_start: Option<PendingStart>,
    /// vigil `schedule=`/`restart_schedule=`: when it next starts or restarts.
    pub plan: Plan,
    /// vigil `memory_max`: the OOM kills its cgroup had when its child started.
    pub oom_kills: Option<u64>,
}

/// A start on its way: until its child is recorded the process keeps its old state, but
/// nothing may start it again, and a stop or a shutdown acts once it is there.
#[derive(Debug, Default)]
pub struct PendingStart {
    /// A stop came meanwhile: the child is stopped as soon as it is recorded.
    pub cancelled: bool,
    /// `startProcess` callers, answered once the start has succeeded or failed.
    pub callers: Vec<super::Reply>,
}

impl Entry {
    /// Whether a start may begin: the state allows it and none is on its way.
    pub fn can_start(&self) -> bool {
        self.pending_start.is_none() && self.process.state().can_start()
    }

    /// Whether nothing runs or is about to: stopped, with no start on its way.
    pub fn is_idle(&self) -> bool {
        self.pending_start.is_none() && self.process.state().is_stopped()
    }

    /// Starts the capture threads that move a fresh child's output into its log streams;
    /// with `log_markers`, each stream starts with a spawn marker. Capture-mode blocks and
    /// (with `*_events_enabled`) every chunk become events; an event listener's stdout goes
    /// to its pool instead, as its protocol channel.
    /// With `ready=log:REGEX`, both streams are watched for the line, which is told to
    /// the supervisor (`myself`) as [`Control::ChildReady`].
    pub fn capture_output(
        &mut self,
        (stdout, stderr): (Option<OwnedFd>, Option<OwnedFd>),
        seeds: [Option<crate::logs::filters::Held>; 2],
        pid: i32,
        strip_ansi: bool,
        (events, myself): (&Publisher, &mpsc::WeakUnboundedSender<Control>),
    ) {
        let config = &self.config;
        let marker = config
            .log_markers
            .then(|| marker_line(&format!("spawned '{}' with pid {pid}", config.name)));
        let listener = config.listener.is_some();
        let line_seen = Arc::new(AtomicBool::new(false));
        let mut captures = [None, None];
        let streams = [
            (stdout, &self.stdout_log, &config.stdout, Channel::Stdout),
            (stderr, &self.stderr_log, &config.stderr, Channel::Stderr),
        ];
        for ((slot, seed), (pipe, log, settings, channel)) in
            captures.iter_mut().zip(seeds).zip(streams)
        {
            let Some(pipe) = pipe else { continue };
            let protocol = listener && channel == Channel::Stdout;
            let treatment = Treatment {
                // The protocol is read raw, as supervisord does.
                strip_ansi: strip_ansi && !protocol,
                timestamps: settings.timestamps,
                capture_maxbytes: if protocol {
                    0
                } else {
                    usize::try_from(settings.capture_maxbytes).unwrap_or(usize::MAX)
                },
                json: (settings.json && !protocol)
                    .then(|| (config.name.clone(), pid, channel.name())),
            };
            let (group, name) = (config.group.clone(), config.name.clone());
            let publisher = events.clone();
            let on_capture: OnCapture = Box::new(move |block: Vec<u8>| {
                publisher.publish(Event::process_communication(
                    &group, &name, pid, channel, &block,
                ));
            });
            let (group, name) = (config.group.clone(), config.name.clone());
            let publisher = events.clone();
            let mut observers: Vec<OnOutput> = Vec::new();
            if protocol {
                let backlog = Arc::new(ListenerBacklog::default());
                observers.push(Box::new(move |bytes: &[u8]| {
                    if backlog.admit(bytes.len()) {
                        publisher.send(Message::ListenerOutput {
                            pool: group.clone(),
                            name: name.clone(),
                            pid,
                            bytes: bytes.to_vec(),
                            backlog: Arc::clone(&backlog),
                        });
                    }
                }));
            } else if settings.events_enabled {
                observers.push(Box::new(move |bytes: &[u8]| {
                    publisher.publish(Event::process_log(&group, &name, pid, channel, bytes));
                }));
            }
            if let (LogTarget::Journald, false, Some(journal)) =
                (&settings.target, protocol, journal::get())
            {
                let mut entries = StreamEntries::new(
                    journal,
                    Origin {
                        name: &config.name,
                        group: &config.group,
                        pid,
                        stream: channel.name(),
                    },
                );
                observers.push(Box::new(move |bytes: &[u8]| entries.feed(bytes)));
            }
            if let (true, Some(syslog)) = (settings.syslog && !protocol, syslog::get()) {
                let name = config.name.clone();
                observers.push(Box::new(move |bytes: &[u8]| syslog.output(&name, bytes)));
            }
            if let Readiness::Log(LinePattern(pattern)) = &config.ready {
                if !protocol {
                    let key = (config.group.clone(), config.name.clone());
                    let myself = myself.clone();
                    observers.push(Box::new(watch_lines(
                        pattern.clone(),
                        Arc::clone(&line_seen),
                        move || {
                            if let Some(supervisor) = myself.upgrade() {
                                let _ = supervisor.send(Control::ChildReady(key, pid));
                            }
                        },
                    )));
                }
            }
            let on_output = all_of(observers);
            let label = format!("{} {}", config.name, channel.name());
            match capture::start(
                pipe,
                Arc::clone(log),
                (treatment, seed),
                marker.clone(),
                (on_capture, on_output),
                &label,
            ) {
                Ok(drained) => *slot = Some(drained),
                Err(err) => tracing::error!(
                    "could not capture {} of '{}': {err}",
                    channel.name(),
                    config.name
                ),
            }
        }
        self.captures = captures;
    }

    /// What follows a child's exit once `captures` (its output) are drained, as supervisord
    /// drains before it records an exit: the crash record of `crash`, then the `log_markers`
    /// line `marker`, then the release of the events held for the exited child `held`; and
    /// the run's last output kept as the previous run of the process, child `ended`.
    /// Runs off the supervisor task: a stream may be stuck on a slow disk, a grandchild may
    /// hold the pipe. The crash also goes to `events` (VIGIL_CRASH, and VIGIL_CRASHLOOP when
    /// it started a loop).
    pub fn after_exit(
        &self,
        captures: [Option<Drained>; 2],
        (crash, marker, held, ended): (
            Option<CrashFacts>,
            Option<String>,
            Option<i32>,
            Option<i32>,
        ),
        events: &Publisher,
    ) {
        let keep = self.config.previous_tail_bytes;
        let ended = ended.filter(|_| keep > 0 && captures.iter().any(Option::is_some));
        if crash.is_none() && marker.is_none() && held.is_none() && ended.is_none() {
            return;
        }
        let previous = Arc::clone(&self.previous);
        let (stdout, stderr) = (Arc::clone(&self.stdout_log), Arc::clone(&self.stderr_log));
        let config = Arc::clone(&self.config);
        let history = Arc::clone(&self.crashes);
        let events = events.clone();
        tokio::task::spawn_blocking(move || {
            for drained in captures.iter().flatten() {
                drained.wait(DRAIN_LIMIT);
            }
            let relayed = |at: usize| captures[at].as_ref().map_or((0, 0), Drained::relayed);
            if let Some(pid) = ended {
                let last = |at: usize, log: &LogStream| {
                    let (bytes, end) = relayed(at);
                    let wanted = usize::try_from(bytes).unwrap_or(usize::MAX).min(keep);
                    log.bytes_before_within(end, wanted, DRAIN_LIMIT)
                };
                // A stream stuck on a stalled target keeps the run before (said nowhere:
                // its writer's stall is reported where it happens).
                if let (Some(out), Some(err)) = (last(0, &stdout), last(1, &stderr)) {
                    previous.keep(Previous {
                        pid,
                        ended: std::time::SystemTime::now(),
                        stdout: out,
                        stderr: err,
                    });
                }
            }
            if let Some(facts) = crash {
                // stderr explains a crash best; stdout when stderr is merged into it or empty.
                let (stream, log, (bytes, end)) = match relayed(1) {
                    (0, _) => ("stdout", &stdout, relayed(0)),
                    written => ("stderr", &stderr, written),
                };
                let wanted = usize::try_from(bytes)
                    .unwrap_or(usize::MAX)
                    .min(crashes::TAIL_BYTES);
                let tail = crashes::tail_lines(
                    &log.bytes_before_within(end, wanted, DRAIN_LIMIT)
                        .unwrap_or_default(),
                    config.crash_records.tail_lines,
                );
                let record = crash_record(
                    &config,
                    &facts,
                    if tail.is_empty() { "" } else { stream },
                    tail,
                );
                tracing::warn!(
                    "crash: {} (pid {}) {} after {:.1}s, {} restarts so far; last {stream} line: {}",
                    config.name,
                    facts.pid,
                    record.description,
                    record.ran_seconds,
                    record.restarts,
                    if record.tail.is_empty() { "(none)" } else { record.last_line() }
                );
                if facts.loop_began {
                    events.publish(Event::crash_loop(
                        &config.group,
                        &config.name,
                        true,
                        record.last_line(),
                    ));
                    // Nothing restarts it (autorestart, FATAL): the loop ended with it.
                    if !facts.crash_loop {
                        events.publish(Event::crash_loop(&config.group, &config.name, false, ""));
                    }
                }
                if let Ok(json) = serde_json::to_string(&record) {
                    events.publish(Event::crash(&config.group, &config.name, &json));
                }
                history.record(record);
            }
            if let Some(what) = marker {
                let line = marker_line(&what);
                stdout.append(&line);
                if !config.redirect_stderr {
                    stderr.append(&line);
                }
            }
            if let Some(pid) = held {
                events.send(Message::Release {
                    group: config.group.clone(),
                    name: config.name.clone(),
                    pid,
                });
            }
        });
    }
}

impl Entry {
    /// Keeps a crash record of child `pid` failing its health check, with the probe's
    /// output as the tail (written off the supervisor task).
    pub fn record_unhealthy(&self, pid: i32, output: &str) {
        let now = std::time::SystemTime::now();
        let ran = self
            .process
            .started_at()
            .map_or(0.0, |start| start.elapsed().as_secs_f64());
        let record = CrashRecord {
            time: crate::timefmt::rfc3339(now),
            unix_time: crate::timefmt::epoch_seconds(now).unwrap_or(0.0),
            name: self.config.name.clone(),
            group: self.config.group.clone(),
            pid,
            exit_code: None,
            signal: None,
            core_dumped: false,
            description: "failed its health check".into(),
            ran_seconds: ran,
            restarts: self.process.tally().restarts(),
            recent_crashes: self.process.crash_loop().recent_crashes(),
            crash_loop: self.process.crash_loop().looping().is_some(),
            next_start_seconds: None,
            stream: "healthcheck".into(),
            tail: crashes::tail_lines(output.as_bytes(), self.config.crash_records.tail_lines),
        };
        let history = Arc::clone(&self.crashes);
        tokio::task::spawn_blocking(move || history.record(record));
    }
}

/// The record of a crash: the state machine's facts, the process's names, the output tail.
fn crash_record(
    config: &ProcessConfig,
    facts: &CrashFacts,
    stream: &str,
    tail: String,
) -> CrashRecord {
    let (exit_code, signal, core_dumped) = match facts.outcome {
        ExitOutcome::Exited(code) => (Some(code), None, false),
        ExitOutcome::Signaled {
            signal,
            core_dumped,
        } => (None, Some(signal_name(signal)), core_dumped),
    };
    CrashRecord {
        time: crate::timefmt::rfc3339(facts.at),
        unix_time: crate::timefmt::epoch_seconds(facts.at).unwrap_or(0.0),
        name: config.name.clone(),
        group: config.group.clone(),
        pid: facts.pid,
        exit_code,
        signal,
        core_dumped,
        description: match facts.cause {
            Some(ExitReason::Watchdog) => format!(
                "sent no WATCHDOG=1 within watchdog_sec, {}",
                facts.outcome.describe()
            ),
            Some(ExitReason::Oom) => format!(
                "killed by the OOM killer in its cgroup (memory_max), {}",
                facts.outcome.describe()
            ),
            _ => facts.outcome.describe(),
        },
        ran_seconds: facts.ran.as_secs_f64(),
        restarts: facts.restarts,
        recent_crashes: facts.recent_crashes,
        crash_loop: facts.crash_loop,
        next_start_seconds: facts.next_start.map(|d| d.as_secs_f64()),
        stream: stream.to_string(),
        tail,
    }
}

/// How long an exit marker or a crash record waits for the output (a grandchild may hold
/// the pipe).
pub const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

/// A `log_markers` line: `==> vigil: <what> at <time> <==`.
pub fn marker_line(what: &str) -> Vec<u8> {
    format!(
        "==> vigil: {what} at {} <==\n",
        crate::timefmt::rfc3339(std::time::SystemTime::now())
    )
    .into_bytes()
}

/// A group that is in use, with the config it was added with (reread compares against it).
pub struct ActiveGroup {
    /// Its config.
    pub config: GroupConfig,
    /// Its processes in start order.
    pub keys: Vec<ProcKey>,
}

/// All processes in use, in start order.
#[derive(Default)]
pub struct Table {
    /// Groups in start order (by priority; equal priorities keep the order they came in).
    /// Changed only through [`Table::place`] and the removals, which keep `group_at` true.
    pub groups: Vec<ActiveGroup>,
    /// Where each group is in `groups`, so [`Table::group`] does not scan them.
    group_at: HashMap<String, usize>,
    /// The entries.
    pub entries: HashMap<ProcKey, Entry>,
    /// Live child pid → its process.
    pub pids: HashMap<i32, ProcKey>,
    /// fcgi program name → its listening socket.
    pub fcgi_sockets: HashMap<String, OwnedFd>,
    /// Where AUTO logs go (`childlogdir`) and what names them (`identifier`).
    auto_logs: (PathBuf, String),
    /// Streams by file, so every writer of one file (stdout and stderr of a process, or
    /// several programs) goes through one stream and never overwrites another.
    files: HashMap<PathBuf, std::sync::Weak<LogStream>>,
    /// Crash histories by file, for the same reason (same-named processes of two groups, or
    /// an entry replaced by an update while its last crash is still being recorded).
    crash_files: HashMap<PathBuf, std::sync::Weak<CrashHistory>>,
    /// vigil `depends_on`, resolved: rebuilt by the supervisor after each change of the
    /// groups in use.
    pub gate: super::dependencies::Gate,
    /// vigil `cgroup_root`: where each process's cgroup is (none: no cgroups).
    pub cgroups: Option<Arc<crate::process::cgroup::Cgroups>>,
}

impl Table {
    /// The cgroup of process `key`, when vigild puts each in its own.
    pub fn cgroup_of(&self, (group, name): &ProcKey) -> Option<PathBuf> {
        self.cgroups
            .as_ref()
            .map(|cgroups| cgroups.dir_of(group, name))
    }

    /// Builds the table for `config`: every group is added (see [`Table::add_group`]); the
    /// fcgi sockets that could not be created are returned as errors.
    pub fn build(config: &Config, sockets: HashMap<String, OwnedFd>) -> (Table, Vec<String>) {
        let mut table = Table {
            auto_logs: (
                config.supervisord.childlogdir.clone(),
                config.supervisord.identifier.clone(),
            ),
            // A handover's fcgi sockets, by program: not bound again.
            fcgi_sockets: sockets,
            ..Table::default()
        };
        let mut socket_errors = Vec::new();
        for group in &config.groups {
            let active = table.make_group(group, &mut socket_errors);
            table.groups.push(active);
        }
        // Placed all at once (a stable sort keeps equal priorities in config order, as
        // `place` does one by one): one index for the fleet, not one per group.
        table.groups.sort_by_key(|active| active.config.priority);
        table.reindex_groups();
        table.gate = super::dependencies::Gate::build(&table);
        (table, socket_errors)
    }

    /// The active group `name`.
    pub fn group(&self, name: &str) -> Option<&ActiveGroup> {
        self.group_at.get(name).and_then(|at| self.groups.get(*at))
    }

    /// Rebuilds `group_at` after `groups` changed (adds and removals, which are rare).
    fn reindex_groups(&mut self) {
        self.group_at = self
            .groups
            .iter()
            .enumerate()
            .map(|(at, group)| (group.config.name.clone(), at))
            .collect();
    }

    /// Puts `group` in use: names each process's log files (each start's preparation
    /// creates them) and opens its fcgi sockets. Returns the sockets that could not
    /// be created (their programs then fail to spawn with a clear spawnerr).
    pub fn add_group(&mut self, group: &GroupConfig) -> Vec<String> {
        let mut socket_errors = Vec::new();
        let active = self.make_group(group, &mut socket_errors);
        self.place(active);
        socket_errors
    }

    /// The entries of `group`'s processes, made, and the group that lists them (not placed).
    fn make_group(&mut self, group: &GroupConfig, socket_errors: &mut Vec<String>) -> ActiveGroup {
        let keys = group
            .processes
            .iter()
            .map(|process| self.put_process(&group.name, process, socket_errors))
            .collect();
        ActiveGroup {
            config: group.clone(),
            keys,
        }
    }

    /// Inserts `group` among the active groups by priority (after equal priorities).
    fn place(&mut self, group: ActiveGroup) {
        let at = self
            .groups
            .iter()
            .position(|active| active.config.priority > group.config.priority)
            .unwrap_or(self.groups.len());
        self.groups.insert(at, group);
        self.reindex_groups();
    }

    /// A fresh entry for `process` (its logs and, once per program, its fcgi socket).
    fn put_process(
        &mut self,
        group: &str,
        process: &Arc<ProcessConfig>,
        socket_errors: &mut Vec<String>,
    ) -> ProcKey {
        let key = (group.to_string(), process.name.clone());
        if let Some(spec) = &process.fcgi_socket {
            if !self.fcgi_sockets.contains_key(&process.program) {
                match crate::process::fcgi::bind_socket(spec) {
                    Ok(fd) => {
                        self.fcgi_sockets.insert(process.program.clone(), fd);
                    }
                    Err(err) => socket_errors.push(format!(
                        "could not create socket for fcgi-program '{}': {err}",
                        process.program
                    )),
                }
            }
        }
        let stdout_log = self.stream_for(process, &process.stdout, "stdout");
        let stderr_log = if process.redirect_stderr {
            Arc::new(LogStream::new(format!("{} stderr", process.name), None, 0))
        } else {
            self.stream_for(process, &process.stderr, "stderr")
        };
        let crashes = self.crash_history_for(process);
        self.entries.insert(
            key.clone(),
            Entry {
                config: Arc::clone(process),
                process: Process::default(),
                generation: 0,
                stdin: None,
                captures: [None, None],
                stdout_log,
                stderr_log,
                crashes,
                previous: Arc::default(),
                crash_to_record: None,
                pending_start: None,
                plan: Plan::default(),
                oom_kills: None,
            },
        );
        key
    }

    /// `process`'s crash history: the one already keeping its file, if any.
    fn crash_history_for(&mut self, process: &ProcessConfig) -> Arc<CrashHistory> {
        let path = CrashHistory::path_in(&self.auto_logs.0, &process.name);
        if let Some(shared) = self
            .crash_files
            .get(&path)
            .and_then(std::sync::Weak::upgrade)
        {
            return shared;
        }
        let history = Arc::new(CrashHistory::new(
            Some(path.clone()),
            process.crash_records.history,
        ));
        self.crash_files.insert(path, Arc::downgrade(&history));
        history
    }

    /// A handover (`vigilctl reexec`): `key`'s AUTO log streams go on in the files the
    /// vigild before chose (`paths`: stdout, stderr), not in fresh random names.
    pub fn keep_auto_logs(&mut self, key: &ProcKey, paths: &[Option<PathBuf>; 2]) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        let config = Arc::clone(&entry.config);
        let streams = [
            (&config.stdout, &mut entry.stdout_log, &paths[0], "stdout"),
            (&config.stderr, &mut entry.stderr_log, &paths[1], "stderr"),
        ];
        for (log, stream, path, name) in streams {
            if let (LogTarget::Auto, Some(path)) = (&log.target, path) {
                *stream = open_log(&config, log, name, Some(path.clone()), &self.auto_logs);
            }
        }
    }

    /// The stream for one of `process`'s outputs: the one already writing that file, if any.
    fn stream_for(
        &mut self,
        process: &ProcessConfig,
        log: &StreamLog,
        stream: &str,
    ) -> Arc<LogStream> {
        if let LogTarget::File(path) = &log.target {
            if let Some(shared) = self.files.get(path).and_then(std::sync::Weak::upgrade) {
                return shared;
            }
        }
        let opened = open_log(process, log, stream, None, &self.auto_logs);
        if let LogTarget::File(path) = &log.target {
            self.files.insert(path.clone(), Arc::downgrade(&opened));
        }
        opened
    }

    /// The members of the active group `name` that `new` changes or drops (they must be
    /// stopped before [`Table::replace_members`]).
    pub fn stale_members(&self, name: &str, new: &GroupConfig) -> Vec<ProcKey> {
        let Some(active) = self.group(name) else {
            return Vec::new();
        };
        let fresh: HashMap<&str, &Arc<ProcessConfig>> =
            new.processes.iter().map(|p| (p.name.as_str(), p)).collect();
        active
            .keys
            .iter()
            .filter(|key| {
                let current = self.entries.get(*key).map(|e| &e.config);
                current != fresh.get(key.1.as_str()).copied()
            })
            .cloned()
            .collect()
    }

    /// Gives the active group `new`'s members: unchanged members keep their entry (and
    /// their running child), changed and new ones get fresh entries, dropped ones go.
    /// Returns the keys of the fresh entries and the fcgi socket errors.
    pub fn replace_members(&mut self, new: &GroupConfig) -> (Vec<ProcKey>, Vec<String>) {
        let Some(at) = self.groups.iter().position(|g| g.config.name == new.name) else {
            return (Vec::new(), Vec::new());
        };
        let old = self.groups.remove(at);
        self.reindex_groups();
        let mut socket_errors = Vec::new();
        let mut fresh = Vec::new();
        let mut keys = Vec::new();
        for process in &new.processes {
            let key = (new.name.clone(), process.name.clone());
            let unchanged = self.entries.get(&key).is_some_and(|e| e.config == *process);
            if !unchanged {
                self.entries.remove(&key);
                fresh.push(self.put_process(&new.name, process, &mut socket_errors));
            }
            keys.push(key);
        }
        let kept: std::collections::HashSet<&ProcKey> = keys.iter().collect();
        for key in old.keys.iter().filter(|key| !kept.contains(key)) {
            self.entries.remove(key);
        }
        self.place(ActiveGroup {
            config: new.clone(),
            keys,
        });
        (fresh, socket_errors)
    }

    /// Takes the group `name` out of use (its processes must be stopped), closing its fcgi
    /// sockets.
    pub fn remove_group(&mut self, name: &str) -> Option<ActiveGroup> {
        let at = self
            .groups
            .iter()
            .position(|group| group.config.name == name)?;
        let group = self.groups.remove(at);
        self.reindex_groups();
        for key in &group.keys {
            if let Some(entry) = self.entries.remove(key) {
                self.fcgi_sockets.remove(&entry.config.program);
            }
        }
        Some(group)
    }

    /// Keys of every process, in start order.
    pub fn start_order(&self) -> impl Iterator<Item = &ProcKey> {
        self.groups.iter().flat_map(|group| group.keys.iter())
    }

    /// Every log stream (for SIGUSR2).
    pub fn streams(&self) -> Vec<Arc<LogStream>> {
        self.entries
            .values()
            .flat_map(|entry| [Arc::clone(&entry.stdout_log), Arc::clone(&entry.stderr_log)])
            .collect()
    }

    /// Deletes the AUTO log files of every process (at shutdown, unless `nocleanup`).
    pub fn remove_auto_logs(&self) {
        for entry in self.entries.values() {
            let streams = [
                (&entry.config.stdout, &entry.stdout_log),
                (&entry.config.stderr, &entry.stderr_log),
            ];
            for (settings, stream) in streams {
                if let (LogTarget::Auto, Some(path)) = (&settings.target, stream.path()) {
                    auto::remove_with_backups(&path);
                }
            }
        }
    }
}

/// One observer that calls each of `observers` in turn; none when there are none (so
/// the output may skip user space).
fn all_of(mut observers: Vec<OnOutput>) -> Option<OnOutput> {
    match observers.len() {
        0 => None,
        1 => observers.pop(),
        _ => Some(Box::new(move |bytes: &[u8]| {
            for observer in &mut observers {
                observer(bytes);
            }
        })),
    }
}

fn open_log(
    process: &ProcessConfig,
    log: &StreamLog,
    stream: &str,
    auto_path: Option<PathBuf>,
    (childlogdir, identifier): &(PathBuf, String),
) -> Arc<LogStream> {
    let label = format!("{} {stream}", process.name);
    let rotation = Rotation {
        maxbytes: log.maxbytes,
        backups: log.backups,
        every: log.rotate_every,
        compress: log.compress,
    };
    let path = match &log.target {
        LogTarget::None | LogTarget::Journald => None,
        LogTarget::File(path) => Some(path.clone()),
        LogTarget::Auto => Some(
            auto_path
                .unwrap_or_else(|| auto::new_path(childlogdir, &process.name, stream, identifier)),
        ),
    };
    // Created by the first start's preparation, as supervisord creates a child's logs when
    // it spawns it: making the table touches no disk.
    Arc::new(match path {
        Some(path) => LogStream::unopened(
            label,
            (path, rotation),
            log.tail_bytes,
            matches!(log.target, LogTarget::Auto),
        ),
        None => LogStream::new(label, None, log.tail_bytes),
    })
}

/// A table built from a real config file, for the unit tests of the supervisor's parts.
#[cfg(test)]
pub mod testing {
    use super::Table;
    use crate::config::{load, Config, Overrides};

    /// The table of `sections` (a config's program and group sections; give each program
    /// `stdout_logfile=NONE` unless the test is about logs), loaded from a file in a
    /// fresh directory, which is returned too and must outlive the table's use.
    pub fn table(sections: &str) -> (tempfile::TempDir, Table) {
        let (dir, config) = config(sections);
        let (table, errors) = Table::build(&config, std::collections::HashMap::new());
        assert!(errors.is_empty(), "{errors:?}");
        (dir, table)
    }

    /// The config of `sections` (with `childlogdir` in a fresh directory), loaded from a
    /// real file there; the directory must outlive its use.
    pub fn config(sections: &str) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("supervisord.conf");
        let text = format!(
            "[supervisord]\nchildlogdir={}\n\n{sections}",
            dir.path().display()
        );
        std::fs::write(&path, text).expect("write config");
        let loaded = load(&path, &Overrides::default(), dir.path(), &[]).expect("config loads");
        (dir, loaded.config)
    }

    /// `[program:name]` running `/bin/true` with both logs NONE, for each of `names`.
    pub fn programs(names: &[&str]) -> String {
        names
            .iter()
            .map(|name| {
                format!(
                    "[program:{name}]\ncommand=/bin/true\nstdout_logfile=NONE\nstderr_logfile=NONE\n\n"
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{programs, table};
    use super::*;
    use crate::process::machine::Input;

    fn key(group: &str, name: &str) -> ProcKey {
        (group.to_string(), name.to_string())
    }

    fn group_names(table: &Table) -> Vec<&str> {
        table
            .groups
            .iter()
            .map(|g| g.config.name.as_str())
            .collect()
    }

    #[test]
    fn groups_start_by_priority_and_equal_priorities_keep_the_config_order() {
        let (_dir, table) = table(
            "[program:late]\ncommand=/bin/true\npriority=1000\nstdout_logfile=NONE\n\n\
             [program:b]\ncommand=/bin/true\nstdout_logfile=NONE\n\n\
             [program:early]\ncommand=/bin/true\npriority=1\nstdout_logfile=NONE\n\n\
             [program:a]\ncommand=/bin/true\nstdout_logfile=NONE\n",
        );
        let names = group_names(&table);
        // The default priority is 999; equal priorities keep the config order.
        assert_eq!(names.first(), Some(&"early"));
        assert_eq!(names.last(), Some(&"late"));
        for (at, name) in names.iter().enumerate() {
            let found = table.group(name).map(|g| g.config.name.as_str());
            assert_eq!(found, Some(*name), "group_at of {name} (at {at})");
        }
        let order: Vec<&str> = table.start_order().map(|k| k.1.as_str()).collect();
        assert_eq!(order, names, "one process per group, in group order");
    }

    #[test]
    fn a_group_added_later_goes_after_its_equals_and_is_found() {
        let (dir, mut table) = table(&programs(&["a", "c"]));
        let (_other, extra) = super::testing::table(&programs(&["b"]));
        let group = extra.groups[0].config.clone();
        assert!(table.add_group(&group).is_empty());
        assert_eq!(group_names(&table), ["a", "c", "b"]);
        assert_eq!(
            table.group("b").map(|g| g.keys.clone()),
            Some(vec![key("b", "b")])
        );
        assert!(table.entries.contains_key(&key("b", "b")));
        drop(dir);
    }

    #[test]
    fn removing_a_group_drops_its_entries_and_keeps_the_others_found() {
        let (_dir, mut table) = table(&programs(&["a", "b", "c"]));
        let removed = table.remove_group("a").expect("a is in use");
        assert_eq!(removed.keys, [key("a", "a")]);
        assert!(!table.entries.contains_key(&key("a", "a")));
        assert!(table.group("a").is_none());
        assert_eq!(table.group("c").map(|g| g.config.name.as_str()), Some("c"));
        assert!(table.remove_group("a").is_none(), "only once");
    }

    #[test]
    fn an_update_keeps_unchanged_members_and_renews_changed_ones() {
        let members = |second: &str| {
            format!(
                "[program:w]\ncommand=/bin/true\nprocess_name=w_%(process_num)d\nnumprocs={second}\n\
                 stdout_logfile=NONE\nstderr_logfile=NONE\n"
            )
        };
        let (_dir, mut table) = table(&members("3"));
        let kept_log = Arc::clone(&table.entries[&key("w", "w_0")].stdout_log);
        let w0 = table.entries.get_mut(&key("w", "w_0")).expect("w_0");
        w0.process.drive(&w0.config, [Input::Spawned { pid: 4242 }]);
        let (_new_dir, smaller) = super::testing::table(&members("2"));
        let new = smaller.groups[0].config.clone();
        assert_eq!(
            table.stale_members("w", &new),
            [key("w", "w_2")],
            "w_2 is dropped"
        );
        let (fresh, errors) = table.replace_members(&new);
        assert!(
            fresh.is_empty() && errors.is_empty(),
            "{fresh:?} {errors:?}"
        );
        assert!(!table.entries.contains_key(&key("w", "w_2")));
        let w0 = &table.entries[&key("w", "w_0")];
        assert_eq!(
            w0.process.state().pid(),
            Some(4242),
            "an unchanged member keeps its record"
        );
        assert!(Arc::ptr_eq(&w0.stdout_log, &kept_log));
        assert_eq!(
            table.group("w").map(|g| g.keys.clone()),
            Some(vec![key("w", "w_0"), key("w", "w_1")])
        );
    }

    #[test]
    fn two_processes_writing_one_file_share_its_stream() {
        let (dir, _) = table("");
        let shared = dir.path().join("shared.log");
        let (_dir, table) = table(&format!(
            "[program:a]\ncommand=/bin/true\nstdout_logfile={path}\nstderr_logfile=NONE\n\n\
             [program:b]\ncommand=/bin/true\nstdout_logfile={path}\nstderr_logfile=NONE\n",
            path = shared.display()
        ));
        let a = &table.entries[&key("a", "a")].stdout_log;
        let b = &table.entries[&key("b", "b")].stdout_log;
        assert!(Arc::ptr_eq(a, b), "one stream per file");
    }
}
