//! The guardian: a small process forked at start-up that outlives vigild by a moment. vigild
//! tells it, through a pipe, the process group of each child it starts and forgets each one
//! it reaps; when the pipe closes because vigild died (`kill -9`, the OOM killer), it kills
//! every group still listed, so no grandchild of a managed program runs on unsupervised, and
//! with `cgroup_root` every process in vigild's cgroups, so an escapee that left its process
//! group (`setsid`) goes too. (The children themselves die with vigild through
//! `PR_SET_PDEATHSIG`.) At a normal exit every group is already forgotten and the cgroups
//! are empty: it just leaves.
//!
//! vigild never waits for the guardian: the pipe is non-blocking, and what a stalled
//! guardian has not read yet waits in vigild as a set of changes (a group started and reaped
//! meanwhile cancels out), so it is bounded by the groups that changed, not by the churn.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// vigild's end of the pipe, or nothing when the guardian could not start.
pub struct Guardian {
    pipe: Option<File>,
    pid: libc::pid_t,
    /// Bytes of changes already put in order, not yet taken by the pipe.
    unsent: Vec<u8>,
    /// Groups started and groups reaped since `unsent` was made.
    added: BTreeSet<i32>,
    removed: BTreeSet<i32>,
}

impl Guardian {
    /// Forks the guardian, which also kills everything under `cgroup_root` (vigil's
    /// cgroups) if vigild dies. Call only while vigild is single-threaded (before the
    /// runtime).
    pub fn fork(cgroup_root: Option<std::path::PathBuf>) -> Guardian {
        let absent = Guardian::none();
        let Ok((read, write)) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) else {
            tracing::warn!("could not create the guardian's pipe");
            return absent;
        };
        // SAFETY: vigild is single-threaded here (the caller's duty), so the child may run
        // ordinary Rust code.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => {
                drop(write);
                guard(read, cgroup_root.as_deref())
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                let nonblocking = nix::fcntl::fcntl(
                    write.as_raw_fd(),
                    nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
                );
                if let Err(err) = nonblocking {
                    tracing::warn!("could not make the guardian's pipe non-blocking: {err}");
                }
                Guardian {
                    pipe: Some(File::from(write)),
                    pid: child.as_raw(),
                    ..absent
                }
            }
            Err(err) => {
                tracing::warn!("could not fork the guardian: {err}");
                absent
            }
        }
    }

    /// No guardian: what vigild goes on with when none could be forked, and what the
    /// supervisor's unit tests use (they must not fork).
    pub fn none() -> Guardian {
        Guardian {
            pipe: None,
            pid: 0,
            unsent: Vec::new(),
            added: BTreeSet::new(),
            removed: BTreeSet::new(),
        }
    }

    /// For a handover (`vigilctl reexec`): writes what the guardian has not been told yet,
    /// waiting up to `limit` for a stalled one, and returns its pipe's fd and its pid for the
    /// next vigild (the pipe stays open across the exec, so the guardian sees no end of
    /// vigild). None without a guardian, or when it would not take the rest in time.
    pub fn hand_over(&mut self, limit: std::time::Duration) -> Option<(i32, i32)> {
        let end = std::time::Instant::now() + limit;
        loop {
            self.send();
            let pipe = self.pipe.as_ref()?;
            if self.unsent.is_empty() && self.added.is_empty() && self.removed.is_empty() {
                return Some((pipe.as_raw_fd(), self.pid));
            }
            if std::time::Instant::now() > end {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// The guardian a vigild handed over: its pipe (inherited across the exec) and pid.
    pub fn adopt(pipe: OwnedFd, pid: i32) -> Guardian {
        Guardian {
            pipe: Some(File::from(pipe)),
            pid,
            unsent: Vec::new(),
            added: BTreeSet::new(),
            removed: BTreeSet::new(),
        }
    }

    /// The guardian's pid, for the reaper to watch (none when there is no guardian).
    pub fn pid(&self) -> Option<libc::pid_t> {
        self.pipe.is_some().then_some(self.pid)
    }

    /// Whether `pid` is the guardian (vigild reaps it, as its parent).
    pub fn is_guardian(&self, pid: libc::pid_t) -> bool {
        self.pipe.is_some() && pid == self.pid
    }

    /// Child `pgid` (its process group) started.
    pub fn watch(&mut self, pgid: i32) {
        // Reaped and started again before the guardian heard of the reaping: it keeps it.
        if !self.removed.remove(&pgid) {
            self.added.insert(pgid);
        }
        self.send();
    }

    /// Child `pgid` was reaped: its group is not ours to kill any more.
    pub fn forget(&mut self, pgid: i32) {
        // Started and reaped before the guardian heard of the start: nothing to tell.
        if !self.added.remove(&pgid) {
            self.removed.insert(pgid);
        }
        self.send();
    }

    /// Writes what the pipe takes without waiting; the rest waits for the next change.
    fn send(&mut self) {
        let Some(pipe) = &mut self.pipe else {
            self.added.clear();
            self.removed.clear();
            return;
        };
        if self.unsent.is_empty() {
            for pgid in std::mem::take(&mut self.removed) {
                self.unsent
                    .extend_from_slice(format!("-{pgid}\n").as_bytes());
            }
            for pgid in std::mem::take(&mut self.added) {
                self.unsent
                    .extend_from_slice(format!("+{pgid}\n").as_bytes());
            }
        }
        while !self.unsent.is_empty() {
            match pipe.write(&self.unsent) {
                Ok(written) => {
                    self.unsent.drain(..written);
                }
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                // A stalled guardian: the rest goes with a later change.
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    tracing::warn!(
                        "the guardian is gone: grandchildren may outlive a crash of vigild"
                    );
                    self.pipe = None;
                    self.unsent.clear();
                    return;
                }
            }
        }
    }
}

/// The guardian's life: follow the list until the pipe's end, then kill what is left.
fn guard(read: OwnedFd, cgroup_root: Option<&std::path::Path>) -> ! {
    // SAFETY: plain system calls; fds this forked copy owns.
    let read = unsafe {
        // Out of vigild's process group (a Ctrl-C meant for vigild), and deaf to the
        // signals that stop vigild: it leaves when vigild does.
        libc::setpgid(0, 0);
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
            libc::signal(signal, libc::SIG_IGN);
        }
        // Keep only the pipe (at fd 3): the guardian must not hold vigild's sockets open.
        if read.as_raw_fd() != 3 && libc::dup2(read.as_raw_fd(), 3) < 0 {
            libc::_exit(1);
        }
        libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
        std::mem::forget(read);
        File::from_raw_fd(3)
    };
    let mut groups = std::collections::HashSet::new();
    for line in BufReader::new(read).lines() {
        let Ok(line) = line else { break };
        let (sign, number) = line.split_at(line.len().min(1));
        match (sign, number.parse::<i32>()) {
            ("+", Ok(pgid)) if pgid > 1 => {
                groups.insert(pgid);
            }
            ("-", Ok(pgid)) => {
                groups.remove(&pgid);
            }
            _ => {}
        }
    }
    for pgid in groups {
        // SAFETY: a plain system call.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
    if let Some(root) = cgroup_root {
        super::cgroup::Cgroups::kill_tree(root);
    }
    // SAFETY: leaves without running vigild's exit handlers (this is a forked copy).
    unsafe { libc::_exit(0) }
}
