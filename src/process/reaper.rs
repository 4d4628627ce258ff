//! Reaps vigild's children, each the moment it ends, at a cost that does not grow with the
//! fleet: every child vigild starts is watched through a pidfd, and an ended child is
//! collected with `waitpid` on its own pid. A `waitpid(-1)` makes the kernel walk every
//! child of the caller (about 2 ms per call at 10,000 programs here, two calls per exit);
//! `waitpid(pid)` looks at that one child.
//!
//! A pidfd is one fd per child. A child whose pidfd could not be opened or would take the
//! fds kept free (a 32nd of the limit) is asked by its pid after a SIGCHLD: at once when no
//! watched exit explains the signal, a second later when one does. vigild is PID 1
//! or makes itself a subreaper ([`adopt_orphans`]), so its children's orphans (a daemon's
//! double fork) become its own, and only a `waitpid(-1)` finds them (a walk over every
//! child: 1.3 ms at 10,000): a SIGCHLD that no watched exit explains sweeps at once (at
//! most every [`SWEEP_GAP`]); one that came with watched exits may have hidden an orphan's,
//! so once an orphan has been seen it sweeps [`SWEEP_LATER`] after; and a sweep runs at
//! least every [`SWEEP_AT_LEAST`]. So restarts at 10,000 programs do not each pay a walk,
//! and an orphan is a zombie for a second at most (a minute, for the first one, in the
//! rare case that its death hides behind a watched one).
//! A `MAINPID=` may name a process that is not vigild's child (a launcher's daemon while
//! the launcher lives): it is watched through a pidfd too ([`Reaper::watch_main`]), and
//! when it ends without being vigild's to reap, its end is handed over as `exit status 0`,
//! the status being its parent's to know.
//! The supervisor calls this from its own task only, never concurrently with a spawn: std's
//! `Command::spawn` waits for a child whose exec failed, and a concurrent `waitpid(-1)`
//! could steal that status. This module owns no process state; it only hands exits over.

use std::collections::{HashMap, HashSet};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::exit::ExitOutcome;

/// Exits collected per readiness of the epoll instance; more are taken on the next turn.
const BATCH: usize = 64;
/// The least time between two sweeps over every child for orphans, and between two asks
/// of the unwatched children.
const SWEEP_GAP: Duration = Duration::from_millis(100);
/// How long after a SIGCHLD that came with watched exits the sweep for orphans comes.
const SWEEP_LATER: Duration = Duration::from_secs(1);
/// The longest time between two sweeps for orphans.
const SWEEP_AT_LEAST: Duration = Duration::from_secs(60);

/// Watches vigild's children and collects the ones that ended.
#[derive(Debug)]
pub struct Reaper {
    /// An epoll instance holding every watched child's pidfd (tagged with its pid).
    ready: Arc<AsyncFd<OwnedFd>>,
    /// The pidfd of each watched child; dropping one takes it out of the epoll set.
    watched: HashMap<i32, OwnedFd>,
    /// Children that could not be watched: a SIGCHLD sweeps while any remain.
    unwatched: HashSet<i32>,
    /// Watched processes that were not vigild's children when watching began (`MAINPID=`).
    foreign: HashSet<i32>,
    /// vigild is PID 1 or a subreaper: orphans become its children, unwatched.
    adopts_orphans: bool,
    /// Watched exits collected since the last SIGCHLD was handled.
    exits_since_signal: usize,
    /// When the next sweep for orphans is due.
    sweep_at: Option<Instant>,
    /// When the last one ran (at first, when the reaper was made).
    swept_at: Instant,
    /// A sweep has reaped a child that was not watched: orphans do come.
    orphans_seen: bool,
    /// When the unwatched children are to be asked, after a SIGCHLD that a watched exit
    /// explained (or one that came within [`SWEEP_GAP`] of the last ask).
    ask_at: Option<Instant>,
    /// When they were last asked.
    asked_at: Instant,
}

impl Reaper {
    /// A reaper watching nothing yet; fails only when no epoll instance can be made.
    pub fn new() -> io::Result<Reaper> {
        // SAFETY: plain system call; the fd it returns is owned right below.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh epoll fd nothing else owns.
        let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: the AsyncFd owns the epoll fd, which is closed only when it is dropped.
        let ready = unsafe { AsyncFd::register_with_interest(epoll, Interest::READABLE) }?;
        Ok(Reaper {
            ready: Arc::new(ready),
            watched: HashMap::new(),
            unwatched: HashSet::new(),
            foreign: HashSet::new(),
            adopts_orphans: adopts_orphans(),
            exits_since_signal: 0,
            sweep_at: None,
            swept_at: Instant::now(),
            orphans_seen: false,
            ask_at: None,
            asked_at: Instant::now(),
        })
    }

    /// What becomes readable when a watched child ends: the supervisor awaits it in its
    /// loop (a clone, so the wait does not hold the supervisor borrowed).
    pub fn readiness(&self) -> Arc<AsyncFd<OwnedFd>> {
        Arc::clone(&self.ready)
    }

    /// Watches `pid`, a child of vigild not reaped yet (a child that ended already is
    /// reported at once). Without a pidfd (no fd left), SIGCHLD sweeps for it instead.
    pub fn watch(&mut self, pid: i32) {
        // Reaped already, by a sweep for orphans: its exit was handed over then.
        let _ = self.watch_child(pid);
    }

    /// [`Reaper::watch`], giving back `ESRCH` when the child was reaped already.
    fn watch_child(&mut self, pid: i32) -> io::Result<()> {
        let watched = pidfd(pid)
            .and_then(|fd| {
                if leaves_room(&fd) {
                    Ok(fd)
                } else {
                    Err(io::Error::other("fds are running short"))
                }
            })
            .and_then(|fd| self.register(pid, &fd).map(|()| fd));
        match watched {
            Ok(fd) => {
                self.watched.insert(pid, fd);
            }
            Err(err) if err.raw_os_error() == Some(libc::ESRCH) => return Err(err),
            Err(err) => {
                if self.unwatched.is_empty() {
                    tracing::warn!(
                        "cannot watch pid {pid} for its exit ({err}); SIGCHLD reaps it and \
                         the others that cannot be watched, each asked by its pid"
                    );
                }
                self.unwatched.insert(pid);
            }
        }
        Ok(())
    }

    /// Watches `pid`, named by a `MAINPID=`: a child of vigild's (`child`), or a process
    /// whose parent is another, whose end is then handed over as `exit status 0`. An error
    /// when it cannot be watched: `ESRCH` when it is gone already.
    pub fn watch_main(&mut self, pid: i32, child: bool) -> io::Result<()> {
        if child {
            // Reaped already (a sweep took the orphan before its notice came): said, so
            // the caller ends the process rather than keep a pid that is gone.
            return self.watch_child(pid);
        }
        let fd = pidfd(pid)?;
        self.register(pid, &fd)?;
        self.watched.insert(pid, fd);
        self.foreign.insert(pid);
        Ok(())
    }

    fn register(&self, pid: i32, fd: &OwnedFd) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: u64::from(pid.unsigned_abs()),
        };
        // SAFETY: both fds are open and owned; `event` is a valid epoll_event.
        let done = unsafe {
            libc::epoll_ctl(
                self.ready.get_ref().as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &raw mut event,
            )
        };
        if done < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The watched children that have ended, reaped, without blocking. `drained` tells
    /// whether the epoll set had no more ready (so its readiness may be cleared).
    pub fn collect_watched(&mut self) -> (Vec<(i32, ExitOutcome)>, bool) {
        // SAFETY: epoll_event is plain data; zeroed is a valid value.
        let mut events: [libc::epoll_event; BATCH] = unsafe { std::mem::zeroed() };
        // SAFETY: the buffer holds BATCH events; timeout 0 never blocks.
        let count = unsafe {
            libc::epoll_wait(
                self.ready.get_ref().as_raw_fd(),
                events.as_mut_ptr(),
                BATCH as libc::c_int,
                0,
            )
        };
        let count = usize::try_from(count).unwrap_or(0);
        let mut ended = Vec::with_capacity(count);
        for event in &events[..count] {
            let Ok(pid) = i32::try_from(event.u64) else {
                continue;
            };
            match wait_for(pid) {
                Waited::Ended(outcome) => {
                    self.watched.remove(&pid);
                    self.foreign.remove(&pid);
                    ended.push((pid, outcome));
                }
                // Not vigild's to reap: it ended, its status is its parent's.
                Waited::Gone if self.foreign.remove(&pid) => {
                    self.watched.remove(&pid);
                    tracing::info!(
                        "pid {pid} ended while its parent was not vigild: its exit status is its parent's to know, taken as 0"
                    );
                    ended.push((pid, ExitOutcome::Exited(0)));
                }
                // Reaped elsewhere (a sweep, the spawner's own wait for a helper).
                Waited::Gone => {
                    self.watched.remove(&pid);
                }
                Waited::Running => {}
            }
        }
        self.exits_since_signal += ended.len();
        (ended, count < BATCH)
    }

    /// After a SIGCHLD (the caller has run [`Reaper::collect_watched`] first): when no
    /// watched exit explains it, the unwatched children are asked by their pids at once;
    /// when one does, they are asked [`SWEEP_LATER`] after (their exit may have hidden
    /// behind it), so restarts in a fleet short of fds pay that once a second, not each
    /// time. When orphans may come, the sweep for them, now or later (the module's text).
    pub fn after_sigchld(&mut self, now: Instant) -> Vec<(i32, ExitOutcome)> {
        let explained = std::mem::take(&mut self.exits_since_signal) > 0;
        let mut ended = Vec::new();
        if explained {
            if !self.unwatched.is_empty() {
                let later = now + SWEEP_LATER;
                self.ask_at = Some(self.ask_at.map_or(later, |at| at.min(later)));
            }
        } else if now >= self.asked_at + SWEEP_GAP {
            ended = self.ask_unwatched(now);
        } else {
            // Asked a moment ago: SIGCHLDs of stops and continues, or of orphans, must not
            // each cost a pass over the unwatched.
            let soon = self.asked_at + SWEEP_GAP;
            self.ask_at = Some(self.ask_at.map_or(soon, |at| at.min(soon)));
        }
        if self.adopts_orphans {
            let due = match (explained || !ended.is_empty(), self.orphans_seen) {
                (false, _) => Some((self.swept_at + SWEEP_GAP).max(now)),
                (true, true) => Some(now + SWEEP_LATER),
                (true, false) => None,
            };
            if let Some(due) = due {
                self.sweep_at = Some(self.sweep_at.map_or(due, |at| at.min(due)));
            }
        }
        ended.extend(self.sweep_if_due(now));
        ended
    }

    /// The unwatched children that ended, each asked by its pid.
    fn ask_unwatched(&mut self, now: Instant) -> Vec<(i32, ExitOutcome)> {
        self.ask_at = None;
        self.asked_at = now;
        let mut ended = Vec::new();
        self.unwatched.retain(|pid| match wait_for(*pid) {
            Waited::Ended(outcome) => {
                ended.push((*pid, outcome));
                false
            }
            Waited::Gone => false,
            Waited::Running => true,
        });
        ended
    }

    /// When the reaper next needs a turn: a delayed ask of the unwatched children, or a
    /// sweep for orphans (one at least every [`SWEEP_AT_LEAST`] when orphans may come).
    pub fn deadline(&self) -> Option<Instant> {
        [self.orphan_sweep_at(), self.ask_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// When the next sweep for orphans is due, if they may come.
    fn orphan_sweep_at(&self) -> Option<Instant> {
        self.adopts_orphans.then(|| {
            let at_least = self.swept_at + SWEEP_AT_LEAST;
            self.sweep_at.map_or(at_least, |at| at.min(at_least))
        })
    }

    /// What is due: the delayed ask of the unwatched children, the sweep for orphans
    /// (every child that has ended).
    pub fn sweep_if_due(&mut self, now: Instant) -> Vec<(i32, ExitOutcome)> {
        let mut ended = Vec::new();
        if self.ask_at.is_some_and(|at| at <= now) {
            ended = self.ask_unwatched(now);
        }
        if self.orphan_sweep_at().is_none_or(|at| at > now) {
            return ended;
        }
        self.sweep_at = None;
        self.swept_at = now;
        let swept = reap_ready();
        for (pid, _) in &swept {
            self.foreign.remove(pid);
            let ours = self.watched.remove(pid).is_some() | self.unwatched.remove(pid);
            self.orphans_seen |= !ours;
        }
        ended.extend(swept);
        ended
    }
}

/// Makes vigild a child subreaper (`PR_SET_CHILD_SUBREAPER`), so the orphans of its
/// children (a daemon's double fork) are re-parented to it and reaped, not to init. As PID
/// 1 this is already so. Not inherited across fork: call it in the process that runs the
/// supervisor, before it starts children.
pub fn adopt_orphans() -> io::Result<()> {
    if std::process::id() == 1 {
        return Ok(());
    }
    // SAFETY: PR_SET_CHILD_SUBREAPER takes one integer argument and touches no memory.
    let done = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if done < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether vigild is PID 1 or a child subreaper, so orphans are reparented to it.
fn adopts_orphans() -> bool {
    if std::process::id() == 1 {
        return true;
    }
    let mut flag: libc::c_int = 0;
    // SAFETY: PR_GET_CHILD_SUBREAPER writes one int through the pointer given.
    let done = unsafe { libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &raw mut flag) };
    done == 0 && flag != 0
}

/// Whether `fd` leaves a 32nd of the fd limit (at least 256) free for connections and log
/// rotation (fds are handed out lowest first, so its number tells how many are in use): a
/// fleet near its limit gets its spawn errors from pipes and log files, not from the reaper.
fn leaves_room(fd: &OwnedFd) -> bool {
    let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_or(1024, |(soft, _)| soft);
    let reserve = (limit / 32).max(256);
    u64::try_from(fd.as_raw_fd()).is_ok_and(|number| number + reserve < limit)
}

/// A pidfd for `pid` (a child not reaped yet, so the pid cannot have been reused).
fn pidfd(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain system call; flags 0 gives a blocking, close-on-exec pidfd.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = libc::c_int::try_from(fd).map_err(|_| io::Error::other("pidfd out of range"))?;
    // SAFETY: `fd` is a fresh pidfd nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

enum Waited {
    Ended(ExitOutcome),
    Running,
    Gone,
}

/// `waitpid(pid, WNOHANG)`: the kernel looks at this one child only.
fn wait_for(pid: i32) -> Waited {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: plain system call with a valid out-pointer (raw, not nix: nix cannot
        // decode deaths by real-time signals).
        let got = unsafe { libc::waitpid(pid, &raw mut status, libc::WNOHANG) };
        if got == pid {
            return ExitOutcome::from_raw_status(status).map_or(Waited::Running, Waited::Ended);
        }
        if got == 0 {
            return Waited::Running;
        }
        if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return Waited::Gone;
        }
    }
}

/// Collects every child that has already ended, without blocking.
fn reap_ready() -> Vec<(i32, ExitOutcome)> {
    let mut ended = Vec::new();
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: plain system call with a valid out-pointer. The raw call (not nix's) is used
        // because nix cannot decode deaths by real-time signals and would lose those exits.
        let pid = unsafe { libc::waitpid(-1, &raw mut status, libc::WNOHANG) };
        if pid <= 0 {
            // 0: children remain but none has ended; -1: no children (ECHILD) or EINTR.
            if pid < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
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
