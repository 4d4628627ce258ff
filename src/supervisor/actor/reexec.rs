//! `vigilctl reexec` in the supervisor: whether the fleet can be handed over now, the
//! freeze of every child pipe, the record of every process (`crate::handover`), and, in the
//! new image, the adoption: the same processes with the same pids, states, counts and
//! timers, their pipes captured again into the same log files.
//!
//! A handover carries what this module checks for; what it does not carry (a
//! `ready=fd`/`ready=log` program still STARTING, an UNKNOWN process, starts in progress,
//! an exit held for the notify socket) refuses it with a fault that says so, and the fleet
//! goes on untouched. What was queued for a child's stdin and not written yet goes in the
//! record, for the new image to write.

use std::os::fd::FromRawFd;

use base64::Engine as _;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::*;
use crate::config::Readiness;
use crate::handover::{HandedProcess, Handover};
use crate::logs::capture::Drained;
use crate::namespec;
use crate::process::state::State;
use crate::process::stdin::Feeder;
use crate::process::step::Timer;
use crate::supervisor::{ProbeChild, Reply};

/// How long the pipes' readers and writers may take to stop for the freeze.
const FREEZE_LIMIT: Duration = Duration::from_secs(10);
/// How long a stalled guardian may take to read what it has not been told yet (the actor
/// waits that long at most, once, while the fleet is frozen anyway).
const GUARDIAN_LIMIT: Duration = Duration::from_millis(200);

/// A handover under way: the freeze is being waited for.
pub(super) struct Handing {
    /// The binary the new image runs.
    binary: PathBuf,
    /// What it said its version is, in the pre-flight.
    version: String,
    /// Who asked; answered once the record is made (or the handover given up).
    reply: Reply,
    /// When it was asked for.
    asked_at: SystemTime,
    /// Why it must be given up, if something came meanwhile that a handover would lose (a
    /// shutdown or restart asked for during the freeze).
    pub(super) cancelled: Option<&'static str>,
}

impl Supervisor {
    /// `vigil.reexec`: begins the handover to `binary`, or refuses it saying why.
    pub(super) fn begin_handover(
        &mut self,
        binary: PathBuf,
        version: String,
        file: &Config,
        reply: Reply,
    ) {
        if let Some(why) = self.handover_refusal().or_else(|| self.file_differs(file)) {
            let _ = reply.send(Err(Refusal::Failed(why)));
            return;
        }
        self.handing = Some(Handing {
            binary,
            version,
            reply,
            asked_at: SystemTime::now(),
            cancelled: None,
        });
        let myself = self.myself.clone();
        tokio::spawn(async move {
            let frozen = crate::freeze::freeze(FREEZE_LIMIT).await;
            if let Some(supervisor) = myself.upgrade() {
                let _ = supervisor.send(Control::PipesFrozen(frozen));
            }
        });
    }

    /// The pipes and the notify socket are frozen, and what they brought before has been
    /// taken in: the listener pools' state next (the dispatcher has then had every event
    /// the supervisor published), or the handover given up.
    pub(super) fn pipes_frozen(&mut self, frozen: bool) {
        let myself = self.myself.clone();
        let events = self.events.clone();
        tokio::spawn(async move {
            let record = if frozen {
                tokio::time::timeout(FREEZE_LIMIT, events.hand_over())
                    .await
                    .ok()
                    .map(Option::unwrap_or_default)
            } else {
                None
            };
            if let Some(supervisor) = myself.upgrade() {
                let _ = supervisor.send(Control::Frozen(record));
            }
        });
    }

    /// The pre-flight's commands (`binary --version`, its `--check-config`): a child of
    /// vigild like any, so its exit is the reaper's to collect, and it is handed back as a
    /// health probe's is.
    pub(super) fn run_command(&mut self, argv: &[String]) -> std::io::Result<ProbeChild> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| std::io::Error::other("no command"))?;
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let child = std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(write.try_clone()?)
            .stderr(write)
            .spawn()?;
        let pid = i32::try_from(child.id()).map_err(std::io::Error::other)?;
        let (waiter, exit) = oneshot::channel();
        self.probes.insert(pid, waiter);
        self.reaper.watch(pid);
        Ok(ProbeChild {
            pid,
            output: read,
            exit,
        })
    }

    /// Why the fleet cannot be handed over to an image that reads `file`: the groups in
    /// use must be the file's, as a reread would find them (the new image runs the file).
    fn file_differs(&self, file: &Config) -> Option<String> {
        let diff = self.diff(file);
        if diff.added.is_empty() && diff.changed.is_empty() && diff.removed.is_empty() {
            return None;
        }
        let mut parts = Vec::new();
        for (what, names) in [
            ("changed", &diff.changed),
            ("added", &diff.added),
            ("removed", &diff.removed),
        ] {
            if !names.is_empty() {
                parts.push(format!("{what}: {}", names.join(", ")));
            }
        }
        Some(format!(
            "the config file differs from the groups in use ({}): apply it first \
             (vigilctl reread and update) or undo the change",
            parts.join("; ")
        ))
    }

    /// Why the fleet cannot be handed over now, if it cannot.
    fn handover_refusal(&self) -> Option<String> {
        if self.handing.is_some() {
            return Some("a handover is in progress already".into());
        }
        if !matches!(self.mood, Mood::Running) {
            return Some("vigild is shutting down or restarting".into());
        }
        if !self.in_flight.is_empty() || !self.launches.is_empty() {
            return Some("processes are being started: try again once they are".into());
        }
        if let Some(key) = self.waiting.first() {
            return Some(format!(
                "{} waits for its dependencies: try again once it has started or been stopped",
                namespec::of(&key.0, &key.1)
            ));
        }
        if !self.stopping_after_dependents.is_empty() || !self.stop_level.is_empty() {
            return Some("processes are being stopped: try again once they are".into());
        }
        if self.spawner.helper_pids().is_empty() {
            return Some(
                "vigild starts children itself (no spawner helper): they would not survive \
                 its exec"
                    .into(),
            );
        }
        if self.main_pids.holds_an_exit() {
            return Some("an exit is being handled: try again in a moment".into());
        }

        for (key, entry) in &self.table.entries {
            let name = namespec::of(&key.0, &key.1);
            let config = &entry.config;
            let state = entry.process.state();
            let why: Option<String> = if entry.pending_start.is_some() {
                Some("it is being started".into())
            } else if matches!(state, State::Unknown { .. }) {
                Some("it is UNKNOWN: try again once it has ended".into())
            } else if matches!(state, State::Starting { .. })
                && matches!(config.ready, Readiness::Fd(_) | Readiness::Log(_))
            {
                Some("it is STARTING with ready=fd or ready=log: try again once it is ready".into())
            } else {
                None
            };
            if let Some(why) = why {
                return Some(format!("{name}: {why}"));
            }
        }
        None
    }

    /// The pipes are frozen (or could not be): the record, or the handover given up.
    /// Returns the record when the run should end for the exec.
    pub(super) fn frozen(
        &mut self,
        events: Option<crate::events::EventsRecord>,
    ) -> Option<(PathBuf, Box<Handover>)> {
        let handing = self.handing.take()?;
        let handed_events = events.is_some();
        let made = if let Some(why) = handing.cancelled {
            Err(format!("{why} was asked for meanwhile"))
        } else if let Some(events) = events {
            self.handover_record(handing.asked_at, events)
        } else {
            Err(format!(
                "the pipes' readers did not stop within {}s (a log on a stalled disk?)",
                FREEZE_LIMIT.as_secs()
            ))
        };
        match made {
            Ok(handover) => {
                // The record names their fds, which must outlive this task until the exec:
                // a guardian that saw its pipe close would kill the fleet, a feeder whose
                // last handle went would close the child's stdin, and a closed fcgi socket's
                // number could be another fd's by the time the new image takes it.
                std::mem::forget(std::mem::replace(
                    &mut self.guardian,
                    crate::process::guardian::Guardian::none(),
                ));
                for entry in self.table.entries.values_mut() {
                    std::mem::forget(entry.stdin.take());
                }
                for (_, socket) in self.table.fcgi_sockets.drain() {
                    std::mem::forget(socket);
                }
                tracing::info!(
                    "reexec: handing over {} processes to {} ({})",
                    handover.processes.len(),
                    handing.binary.display(),
                    handing.version,
                );
                let _ = handing.reply.send(Ok(()));
                Some((handing.binary, Box::new(handover)))
            }
            Err(why) => {
                crate::freeze::thaw();
                if handed_events {
                    self.events.send(crate::events::Message::Resume);
                }
                tracing::warn!("reexec: given up, the fleet goes on: {why}");
                let _ = handing.reply.send(Err(Refusal::Failed(why)));
                None
            }
        }
    }

    /// Every process's record, with the fds that stay open across the exec.
    fn handover_record(
        &mut self,
        asked_at: SystemTime,
        events: crate::events::EventsRecord,
    ) -> Result<Handover, String> {
        let clock = Clock::now();
        // A child reaped before the freeze whose end is still being handled (a listener's
        // drain) shows a pid that is gone: the record would make a ghost of it.
        for (key, entry) in &self.table.entries {
            if let Some(pid) = entry.process.state().pid() {
                let gone = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
                    == Err(nix::errno::Errno::ESRCH);
                if gone {
                    return Err(format!(
                        "{} ended during the freeze",
                        namespec::of(&key.0, &key.1)
                    ));
                }
            }
        }
        // The live timers of every process, each with the time it has left.
        let mut timers: HashMap<&ProcKey, Vec<(Timer, f64)>> = HashMap::new();
        for (at, due) in self.timers.armed() {
            let live = self
                .table
                .entries
                .get(&due.key)
                .is_some_and(|entry| entry.generation == due.generation);
            if live {
                let left = at.saturating_duration_since(clock.now).as_secs_f64();
                timers.entry(&due.key).or_default().push((due.timer, left));
            }
        }
        let mut processes = Vec::with_capacity(self.table.entries.len());
        for (key, entry) in &self.table.entries {
            let Some(mut record) = entry.process.to_record(clock) else {
                return Err(format!(
                    "{} changed state during the freeze",
                    namespec::of(&key.0, &key.1)
                ));
            };
            record.timers = timers.remove(key).unwrap_or_default();
            let pipe = |at: usize| entry.captures[at].as_ref().and_then(Drained::pipe_fd);
            let (stdin, pending) = entry
                .stdin
                .as_ref()
                .map_or((None, Vec::new()), Feeder::handover);
            processes.push(HandedProcess {
                group: key.0.clone(),
                name: key.1.clone(),
                record,
                pipes: [pipe(0), pipe(1)],
                stdin,
                stdin_pending: base64::engine::general_purpose::STANDARD.encode(pending),
                logs: [entry.stdout_log.path(), entry.stderr_log.path()],
                held: [0, 1].map(|at| entry.captures[at].as_ref().map(Drained::held)),
            });
        }
        let guardian = match self.guardian.pid() {
            Some(_) => Some(
                self.guardian
                    .hand_over(GUARDIAN_LIMIT)
                    .ok_or("the guardian did not take the last process groups in time")?,
            ),
            None => None,
        };
        Ok(Handover {
            version: crate::handover::VERSION,
            vigil_version: env!("CARGO_PKG_VERSION").into(),
            asked_at: crate::timefmt::epoch_seconds(asked_at).unwrap_or(0.0),
            made_at: crate::timefmt::epoch_seconds(SystemTime::now()).unwrap_or(0.0),
            reexecs: self.reexecs + 1,
            reloads: self.reloads,
            processes,
            guardian,
            listeners: [None; 3],
            events,
            notify: crate::notify::handover(),
            scales: self.scales.clone(),
            fcgi: self
                .table
                .fcgi_sockets
                .iter()
                .map(|(program, fd)| (program.clone(), std::os::fd::AsRawFd::as_raw_fd(fd)))
                .collect(),
        })
    }

    /// The new image: takes over the processes `handover` describes (each must be in the
    /// config, which the pre-flight checked), their pipes captured again and their timers
    /// armed for the time they had left.
    pub(in crate::supervisor) fn adopt(&mut self, handover: &Handover) {
        self.reloads = handover.reloads;
        self.reexecs = handover.reexecs;
        self.scales.clone_from(&handover.scales);
        self.view.rescale(self.scales.clone());
        // The moment the record was made, on this image's monotonic clock: the drain, the
        // exec and this start took time that every timer and uptime has lived through.
        let now = Clock::now();
        let gap = now
            .wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .ok()
            .and_then(|wall| {
                Duration::try_from_secs_f64(wall.as_secs_f64() - handover.made_at).ok()
            })
            .unwrap_or_default();
        let clock = Clock {
            now: now.now.checked_sub(gap).unwrap_or(now.now),
            wall: now.wall,
        };
        // The pools first, without PROCESS_GROUP_ADDED (the listeners heard it already).
        for group in &self.table.groups {
            if let Some(pool) = group.config.pool() {
                self.events
                    .send(super::groups::pool_message(&group.config.name, pool));
            }
        }
        let mut pipes = Vec::with_capacity(handover.processes.len());
        for handed in &handover.processes {
            let key = (handed.group.clone(), handed.name.clone());
            if !self.table.entries.contains_key(&key) {
                tracing::warn!(
                    "reexec: {} is not in the config any more; its pid is reaped when it ends",
                    namespec::of(&key.0, &key.1)
                );
                continue;
            }
            self.table.keep_auto_logs(&key, &handed.logs);
            // As a start's preparation opens them (appending to what the run wrote so far).
            if let Some(entry) = self.table.entries.get(&key) {
                for stream in [&entry.stdout_log, &entry.stderr_log] {
                    if let Err(err) = stream.open() {
                        tracing::error!(
                            "reexec: cannot open a log of {}: {err}",
                            entry.config.name
                        );
                    }
                }
            }
            self.generations += 1;
            let generation = self.generations;
            let Some(entry) = self.table.entries.get_mut(&key) else {
                continue;
            };
            entry.process = crate::process::machine::Process::from_record(&handed.record, clock);
            entry.generation = generation;
            if let Some(stdin) = owned(handed.stdin) {
                let pending = base64::engine::general_purpose::STANDARD
                    .decode(&handed.stdin_pending)
                    .unwrap_or_default();
                entry.stdin = Feeder::start_with(stdin, pending)
                    .inspect_err(|err| {
                        tracing::error!(
                            "could not feed the stdin of '{}': {err}",
                            entry.config.name
                        );
                    })
                    .ok();
            }
            let pid = entry.process.state().pid();
            if let (Some(stdin), Some(_), Some(pid)) = (&entry.stdin, &entry.config.listener, pid) {
                self.events.send(crate::events::Message::ListenerStarted {
                    pool: entry.config.group.clone(),
                    name: entry.config.name.clone(),
                    pid,
                    stdin: stdin.clone(),
                });
            }
            for (timer, left) in &handed.record.timers {
                let after = Duration::try_from_secs_f64(*left).unwrap_or_default();
                if let Some(at) = clock.now.checked_add(after) {
                    self.timers.arm(
                        at,
                        crate::supervisor::timers::Due {
                            key: key.clone(),
                            timer: *timer,
                            generation,
                        },
                    );
                }
            }
            if let Some(pid) = pid {
                self.table.pids.insert(pid, key.clone());
                self.reaper.watch(pid);
            }
            self.view.touch(&key);
            pipes.push((key, pid, handed.pipes, handed.held.clone()));
        }
        // The pools' queues and listeners' states before any listener output is read.
        self.events
            .send(crate::events::Message::Adopt(handover.events.clone()));
        let adopted = pipes.len();
        for (key, pid, [stdout, stderr], held) in pipes {
            if let Some(entry) = self.table.entries.get_mut(&key) {
                entry.capture_output(
                    (owned(stdout), owned(stderr)),
                    held,
                    pid.unwrap_or(0),
                    self.strip_ansi,
                    (&self.events, &self.myself),
                );
            }
        }
        let took = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |now| {
                (now.as_secs_f64() - handover.asked_at).max(0.0) * 1000.0
            });
        tracing::info!("reexec: adopted {adopted} processes in {took:.0} ms");
        self.adopted = Some(Event::reexec(&handover.vigil_version, adopted, took));
    }
}

/// An fd the vigild before kept open across the exec for one process alone.
fn owned(fd: Option<i32>) -> Option<std::os::fd::OwnedFd> {
    // SAFETY: the record names each fd once, for the pipe it was at the handover, and
    // nothing in this image has it yet; it is owned from here on.
    fd.map(|fd| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}
