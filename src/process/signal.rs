//! Sending a signal to a child or to its whole process group.

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// What became of a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The kernel accepted it.
    Sent,
    /// The process (group) is already gone; its exit will be reaped normally.
    Gone,
}

/// Sends `signal` to `pid`, or to the process group `pid` leads when `to_group` is set
/// (children run in their own group, so pid == pgid).
pub fn send(pid: i32, signal: Signal, to_group: bool) -> Result<Delivery, Errno> {
    let target = if to_group { -pid } else { pid };
    match kill(Pid::from_raw(target), signal) {
        Ok(()) => Ok(Delivery::Sent),
        Err(Errno::ESRCH) => Ok(Delivery::Gone),
        Err(errno) => Err(errno),
    }
}
