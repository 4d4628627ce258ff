//! The single owner of fleet state: one tokio task holding the process table, timers and the
//! supervisor's mood, driven by [`Control`] messages (requests, reaped exits, signals).
//!
//! Nobody else mutates process state; others hold a [`Handle`] and send messages. The task
//! also reaps children on SIGCHLD, so reaping never races a spawn. It does no blocking work
//! beyond a fork/exec and opening log files.

mod actor;
mod table;
mod timers;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::config::Config;

/// A message to the supervisor task.
#[derive(Debug)]
pub enum Control {
    /// Stop everything in reverse priority order, then end the task (SIGTERM/INT/QUIT).
    Shutdown,
    /// Stop everything, then start again from this config (and base environment for
    /// children) in the same process (SIGHUP).
    Restart(Box<Config>, Vec<(String, String)>),
    /// Reopen every child log file (SIGUSR2).
    ReopenLogs,
}

/// A cheap, cloneable way to talk to the supervisor task.
#[derive(Debug, Clone)]
pub struct Handle {
    sender: mpsc::UnboundedSender<Control>,
}

impl Handle {
    /// Sends `control`; returns false if the supervisor has already ended.
    pub fn send(&self, control: Control) -> bool {
        self.sender.send(control).is_ok()
    }
}

/// Starts the supervisor task for `config` and begins the autostart of its programs. `base_env` is the environment children inherit before their
/// own settings. The task ends after a [`Control::Shutdown`] has stopped every process.
pub fn start(
    config: Config,
    base_env: Vec<(String, String)>,
) -> std::io::Result<(Handle, tokio::task::JoinHandle<()>)> {
    let (sender, receiver) = mpsc::unbounded_channel();
    // Installed before the first spawn, so no child's exit can be missed.
    let sigchld = signal(SignalKind::child())?;
    let actor = actor::Supervisor::new(&config, base_env)?;
    let task = tokio::spawn(actor.run(receiver, sigchld));
    Ok((Handle { sender }, task))
}
