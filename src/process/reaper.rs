//! Reaps every child (and, when vigild is PID 1 or a subreaper, every orphan) when SIGCHLD
//! arrives; nothing polls on a tick.
//!
//! The supervisor calls this from its own task, never concurrently with a spawn: std's
//! `Command::spawn` waits for a child whose exec failed, and a concurrent `waitpid(-1)` could
//! steal that status.

use super::exit::ExitOutcome;

/// Collects every child that has already ended, without blocking.
pub fn reap_ready() -> Vec<(i32, ExitOutcome)> {
    let mut ended = Vec::new();
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: plain system call with a valid out-pointer. The raw call (not nix's) is used
        // because nix cannot decode deaths by real-time signals and would lose those exits.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            // 0: children remain but none has ended; -1: no children (ECHILD) or EINTR.
            if pid < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
            {
                continue;
            }
            break;
        }
        if let Some(outcome) = ExitOutcome::from_raw_status(status) {
            ended.push((pid, outcome));
        }
    }
    ended
}
