//! The single owner of fleet state: one tokio task holding the process table, timers and the
//! supervisor's mood, driven by [`Control`] messages (requests, reaped exits, signals).
//!
//! Nobody else mutates process state; others hold a [`Handle`] and send messages. The task
//! never does blocking work beyond a fork/exec and opening log files.

mod actor;
mod table;
mod timers;

use tokio::sync::mpsc;

use crate::config::Config;
use crate::process::exit::ExitOutcome;

/// A message to the supervisor task.
#[derive(Debug)]
pub enum Control {
    /// Stop everything in reverse priority order, then end the task (SIGTERM/INT/QUIT).
    Shutdown,
    /// Stop everything, then start again from this config in the same process (SIGHUP).
    Restart(Box<Config>),
    /// Reopen every child log file (SIGUSR2).
    ReopenLogs,
    /// The reaper collected a child.
    ChildExited {
        /// Its pid.
        pid: i32,
        /// How it ended.
        outcome: ExitOutcome,
    },
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

/// Starts the supervisor task (and the reaper feeding it) for `config` and begins the
/// autostart of its programs. `base_env` is the environment children inherit before their
/// own settings. The task ends after a [`Control::Shutdown`] has stopped every process.
pub fn start(
    config: Config,
    base_env: Vec<(String, String)>,
) -> std::io::Result<(Handle, tokio::task::JoinHandle<()>)> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let handle = Handle { sender };
    let reaper_handle = handle.clone();
    crate::process::reaper::start(move |pid, outcome| {
        reaper_handle.send(Control::ChildExited { pid, outcome });
    })?;
    let actor = actor::Supervisor::new(&config, base_env);
    let task = tokio::spawn(actor.run(receiver));
    Ok((handle, task))
}
