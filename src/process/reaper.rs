//! Reaps every child (and, when vigild is PID 1 or a subreaper, every orphan) as soon as
//! SIGCHLD arrives, and reports each exit; nothing polls on a tick.

use tokio::signal::unix::{signal, SignalKind};

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::exit::ExitOutcome;

/// Collects every child that has already ended, without blocking.
pub fn reap_ready() -> Vec<(i32, ExitOutcome)> {
    let mut ended = Vec::new();
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => break,
            Ok(status) => ended.extend(ExitOutcome::from_wait_status(status)),
        }
    }
    ended
}

/// Starts the reaper: `on_exit(pid, outcome)` is called for each reaped child. The SIGCHLD
/// handler is installed before this returns, so no exit of a later spawn can be missed.
pub fn start<F>(on_exit: F) -> std::io::Result<tokio::task::JoinHandle<()>>
where
    F: Fn(i32, ExitOutcome) + Send + 'static,
{
    let mut sigchld = signal(SignalKind::child())?;
    Ok(tokio::spawn(async move {
        loop {
            for (pid, outcome) in reap_ready() {
                on_exit(pid, outcome);
            }
            if sigchld.recv().await.is_none() {
                break;
            }
        }
    }))
}
