//! Reaps every child (and, when vigild is PID 1 or a subreaper, every orphan) when SIGCHLD
//! arrives; nothing polls on a tick.
//!
//! The supervisor calls this from its own task, never concurrently with a spawn: std's
//! `Command::spawn` waits for a child whose exec failed, and a concurrent `waitpid(-1)` could
//! steal that status.

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
