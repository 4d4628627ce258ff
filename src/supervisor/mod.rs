//! The single owner of fleet state: one tokio task holding the process table, timers and the
//! supervisor's mood, driven by [`Control`] messages (requests, reaped exits, signals).
//!
//! Nobody else mutates process state; others hold a [`Handle`] and send messages. The task
//! also reaps children, and takes the spawner's answers as they come: it waits for neither.
//! It still opens log files itself when groups are added.

mod actor;
mod calendar;
mod changes;
mod dependencies;
mod snapshot;
mod statefile;
mod table;
mod timers;

use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::Config;
use crate::process::spawner::Spawner;

pub use changes::ProcessChanges;
pub use snapshot::{ProcessView, Processes, Snapshot, SupervisorState};
pub use statefile::saved_scales;

/// A process's identity: (group name, process name).
pub type ProcKey = (String, String);

/// Why the supervisor refused a request about one process (the rpc module maps these to
/// supervisord's faults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such process.
    BadName,
    /// start: already STARTING, RUNNING or BACKOFF.
    AlreadyStarted,
    /// stop/signal: not in a state that allows it.
    NotRunning,
    /// The spawn failed at once.
    SpawnError(crate::process::spawn::SpawnError),
    /// Anything else (kill failed, process in UNKNOWN), with supervisord's text.
    Failed(String),
    /// The supervisor is shutting down or restarting.
    ShuttingDown,
    /// sendProcessStdin: the child's stdin is closed (EPIPE).
    StdinClosed,
    /// addProcessGroup: the group is already in use.
    AlreadyAdded,
    /// removeProcessGroup: a process of the group is not stopped.
    StillRunning,
    /// vigil.reloadProcess: the program has no `reloadsignal`.
    NoReloadSignal,
}

/// What `reloadConfig` found: group names added, changed and removed, each sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupDiff {
    /// Groups in the new config that are not in use.
    pub added: Vec<String>,
    /// Groups in use whose config differs in the new config.
    pub changed: Vec<String>,
    /// Groups in use that the new config no longer has.
    pub removed: Vec<String>,
}

/// One process config as `getAllConfigInfo` reports it.
#[derive(Debug, Clone)]
pub struct ConfigInfo {
    /// The process config.
    pub config: Arc<crate::config::ProcessConfig>,
    /// Its group's priority.
    pub group_priority: i32,
    /// Whether its group is in use.
    pub in_use: bool,
}

/// How the supervisor task ended.
#[derive(Debug)]
pub enum Finish {
    /// It stopped every process: vigild exits with this ending's status.
    Ended(Ending),
    /// vigil `reexec`: every process is handed over; vigild execs `binary` with the record.
    Reexec {
        /// The binary to exec.
        binary: std::path::PathBuf,
        /// The record.
        handover: Box<crate::handover::Handover>,
    },
}

/// How the supervisor task ended: what vigild's exit status reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A shutdown was asked for (SIGTERM/INT/QUIT, `supervisor.shutdown`).
    Asked,
    /// vigil `essential`: this process ended for good unasked, with this status (its exit
    /// code, 128 + the signal that killed it, or 1 for FATAL).
    Essential {
        /// vigild's exit status.
        status: u8,
    },
}

impl Ending {
    /// vigild's exit status for this ending.
    pub fn exit_status(self) -> u8 {
        match self {
            Ending::Asked => 0,
            Ending::Essential { status } => status,
        }
    }
}

/// The reply to a process request.
pub type Reply = oneshot::Sender<Result<(), Refusal>>;

/// A message to the supervisor task.
#[derive(Debug)]
pub enum Control {
    /// vigil `reexec`: hand the fleet to a new image of `binary` (which said it is
    /// `version` in its pre-flight); the answer comes once the record is made.
    Reexec {
        /// The binary to exec.
        binary: std::path::PathBuf,
        /// Its `--version`.
        version: String,
        /// The config file as the new image will read it (with the scales in effect):
        /// it must give the groups in use.
        file: Box<Config>,
        /// Answered with the outcome.
        reply: Reply,
    },
    /// vigil `reexec`: every child pipe and the notify socket are frozen (or could not be,
    /// in time); what came before is in the supervisor's queue ahead of this.
    PipesFrozen(bool),
    /// vigil `reexec`: the listener pools' state for the record (None: the freeze failed).
    Frozen(Option<crate::events::EventsRecord>),
    /// vigil `reexec`'s pre-flight: run `argv` (vigild's environment, stdout and stderr
    /// into one pipe) as a child whose exit the supervisor hands back, as a health probe's.
    RunCommand {
        /// The program and its arguments.
        argv: Vec<String>,
        /// The started child, or why it could not start.
        reply: oneshot::Sender<std::io::Result<ProbeChild>>,
    },
    /// Stop everything in reverse priority order, then end the task (SIGTERM/INT/QUIT).
    Shutdown,
    /// Stop everything, then start again from this config (and base environment for
    /// children) in the same process (SIGHUP).
    Restart(Box<Config>, Vec<(String, String)>),
    /// Reopen every child log file (SIGUSR2).
    ReopenLogs,
    /// vigil `ready=notify`: an sd_notify message, with its sender's ancestry.
    Notified(crate::notify::Notified),
    /// vigil `ready=notify`: barrier `token` came back through the notify socket: every
    /// message sent before it has been handed over (a child's last words before its exit).
    NotifyBarrier(u64),
    /// Answer at once: vigild's systemd watchdog asks whether the supervisor still runs.
    Alive(oneshot::Sender<()>),
    /// vigil `ready=log:` / `ready=fd:`: child `pid` of this process said it is ready (a
    /// matching line, a newline on its notification fd).
    ChildReady(ProcKey, i32),
    /// Start one process (`startProcess`).
    Start(ProcKey, Reply),
    /// Stop one process (`stopProcess`).
    Stop(ProcKey, Reply),
    /// Send a signal to one process (`signalProcess`).
    Signal(ProcKey, i32, Reply),
    /// vigil `reloadsignal`: send one process its reload signal (`vigil.reloadProcess`).
    Reload(ProcKey, Reply),
    /// The sampler found this process tree over its `memory_limit` (vigil).
    OverMemoryLimit {
        /// The process.
        key: ProcKey,
        /// The child that was measured (a restarted process is left alone).
        pid: i32,
        /// What its tree uses.
        resident_bytes: u64,
    },
    /// Write to one process's stdin (`sendProcessStdin`).
    SendStdin(ProcKey, Vec<u8>, Reply),
    /// Take this config as the one `addProcessGroup` adds from, and report how it differs
    /// from the groups in use (`reloadConfig`).
    Reread(Box<Config>, oneshot::Sender<GroupDiff>),
    /// Put a group of the reread config in use, autostarting it (`addProcessGroup`).
    AddGroup(String, Reply),
    /// Take a stopped group out of use (`removeProcessGroup`).
    RemoveGroup(String, Reply),
    /// Every process config of the current config, in use or not (`getAllConfigInfo`).
    ConfigInfo(oneshot::Sender<Vec<ConfigInfo>>),
    /// The members of an active group that the reread config changes or drops, which must
    /// stop before [`Control::ReplaceMembers`] (`vigil.updateProcessGroup`).
    StaleMembers(String, oneshot::Sender<Result<Vec<ProcKey>, Refusal>>),
    /// Gives an active group its reread members, keeping unchanged ones running and starting
    /// changed and new ones (`vigil.updateProcessGroup`).
    ReplaceMembers(String, Reply),
    /// vigil `scaleGroup`: the active group read again at its new size, and the scale to
    /// remember; answers the members to stop before [`Control::ReplaceMembers`].
    Scale(
        Box<crate::config::GroupConfig>,
        crate::config::Scaled,
        oneshot::Sender<Result<Vec<ProcKey>, Refusal>>,
    ),
    /// A start's preparation is back from its blocking thread (sent by the supervisor's
    /// own [`crate::process::preparer::Preparer`] jobs).
    Prepared(
        crate::process::preparer::Ticket,
        Result<Box<crate::process::spawn::Prepared>, crate::process::spawn::SpawnError>,
    ),
    /// An event listener's child `pid` ended and its output has been read: its exit is
    /// handled now, so its last answer reaches its pool before the exit does.
    ListenerDrained {
        /// The listener process (its pid is already forgotten).
        key: ProcKey,
        /// How it ended.
        outcome: crate::process::exit::ExitOutcome,
        /// Its captures, drained, for the crash record and the exit marker.
        captures: [Option<crate::logs::capture::Drained>; 2],
    },
    /// The health checker's verdict on child `pid` of `key` changed (vigil).
    Health {
        /// The process.
        key: ProcKey,
        /// The child probed (a newer child is left alone).
        pid: i32,
        /// The new verdict.
        healthy: bool,
        /// What the last probe saw.
        output: String,
    },
    /// Start `command` as a health probe of `key` (its user, directory and environment),
    /// output merged into one pipe; the supervisor reaps it and reports its exit (vigil).
    RunProbe {
        /// The process probed.
        key: ProcKey,
        /// The probe command, run with `/bin/sh -c`.
        command: String,
        /// The started probe, or why it could not start.
        reply: oneshot::Sender<Result<ProbeChild, ProbeRefusal>>,
    },
}

/// Why the supervisor could not start a health probe (the probe then counts as failed,
/// with this as its output).
#[derive(Debug, thiserror::Error)]
pub enum ProbeRefusal {
    /// The process probed is gone.
    #[error("no such process")]
    BadName,
    /// The command cannot be quoted for `/bin/sh -c`.
    #[error("the probe command cannot be quoted for /bin/sh: {0}")]
    Unquotable(String),
    /// Its start failed.
    #[error(transparent)]
    Spawn(#[from] crate::process::spawn::SpawnError),
    /// The child came without an output pipe.
    #[error("the probe has no output pipe")]
    NoOutput,
}

/// A health probe the supervisor started.
#[derive(Debug)]
pub struct ProbeChild {
    /// Its pid (and process group).
    pub pid: i32,
    /// The read end of its stdout (stderr merged).
    pub output: std::os::fd::OwnedFd,
    /// Its end, once reaped.
    pub exit: oneshot::Receiver<crate::process::exit::ExitOutcome>,
}

/// A cheap, cloneable way to talk to the supervisor task and to read its snapshots.
#[derive(Clone)]
pub struct Handle {
    sender: mpsc::UnboundedSender<Control>,
    snapshot: watch::Receiver<Arc<Snapshot>>,
    changes: Arc<changes::Changes>,
}

impl Handle {
    /// Sends `control`; returns false if the supervisor has already ended.
    pub fn send(&self, control: Control) -> bool {
        self.sender.send(control).is_ok()
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.borrow())
    }

    /// Waits until the supervisor has built its table (at once, after start-up).
    pub async fn ready(&self) {
        let mut snapshots = self.snapshot.clone();
        let _ = snapshots.wait_for(|snapshot| snapshot.ready).await;
    }

    /// A receiver that wakes on every new snapshot.
    pub fn watch(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshot.clone()
    }

    /// What wakes a reader at each change of the process `key` alone (`wait=true` calls).
    pub fn changes_of(&self, key: &ProcKey) -> ProcessChanges {
        self.changes.of(key)
    }

    /// Asks for `make(reply)` and waits for the answer.
    pub async fn request(&self, make: impl FnOnce(Reply) -> Control) -> Result<(), Refusal> {
        let (reply, answer) = oneshot::channel();
        if !self.send(make(reply)) {
            return Err(Refusal::ShuttingDown);
        }
        answer.await.unwrap_or(Err(Refusal::ShuttingDown))
    }
}

/// The supervisor's ends of a [`Handle`] made before the supervisor: what
/// [`start`] needs to serve it.
pub struct Pending {
    receiver: mpsc::UnboundedReceiver<Control>,
    snapshot: watch::Sender<Arc<Snapshot>>,
    changes: Arc<changes::Changes>,
    /// For messages the supervisor sends itself (weak: the channel still closes when every
    /// handle is gone).
    myself: mpsc::WeakUnboundedSender<Control>,
}

/// A handle to a supervisor not started yet, so the control plane can serve before the
/// supervisor has opened thousands of log files: requests queue, and calls about processes
/// wait for [`Handle::ready`].
pub fn handle() -> (Handle, Pending) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let (snapshot, readers) = watch::channel(Arc::new(Snapshot {
        state: SupervisorState::Running,
        processes: snapshot::Processes::default(),
        groups: Arc::new(Vec::new()),
        ready: false,
        config_reloads: 0,
        reexecs: 0,
        autostarted: false,
        version: 0,
        shape: 0,
        scales: Arc::default(),
    }));
    let myself = sender.downgrade();
    let changes = Arc::new(changes::Changes::default());
    (
        Handle {
            sender,
            snapshot: readers,
            changes: Arc::clone(&changes),
        },
        Pending {
            receiver,
            snapshot,
            changes,
            myself,
        },
    )
}

/// Starts the supervisor task for `config` behind `pending`'s handle and begins the
/// autostart of its programs. `base_env` is the environment children inherit before their
/// own settings. The task ends after a [`Control::Shutdown`] (or an `essential` process's
/// end) has stopped every process, with how it ended.
pub fn start(
    pending: Pending,
    config: Config,
    base_env: Vec<(String, String)>,
    children: (
        Spawner,
        crate::process::guardian::Guardian,
        Option<Arc<crate::process::cgroup::Cgroups>>,
    ),
    events: crate::events::Publisher,
    handover: Option<&crate::handover::Handover>,
) -> std::io::Result<tokio::task::JoinHandle<Finish>> {
    // Installed before the first spawn, so no child's exit can be missed.
    let sigchld = signal(SignalKind::child())?;
    let mut actor = actor::Supervisor::new(
        &config,
        base_env,
        children,
        (pending.snapshot, pending.changes, pending.myself),
        (events, handover.map(crate::handover::fcgi_sockets)),
    )?;
    if let Some(handover) = handover {
        actor.adopt(handover);
    }
    Ok(tokio::spawn(actor.run(pending.receiver, sigchld)))
}
