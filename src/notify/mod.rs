//! vigil's end of systemd's sd_notify protocol for programs with `ready=notify`: one
//! datagram socket per vigild in the abstract namespace (its name is the children's
//! `NOTIFY_SOCKET`), and a thread of its own that receives each message with its sender's
//! credentials (`SO_PASSCRED`), finds the sender's ancestry in `/proc` (so `systemd-notify`
//! run by a program's shell counts for the program), and hands the notice to the
//! supervisor, which decides which process it is about. Descriptors that come with a
//! message (`systemd-notify`'s barrier, `FDSTORE=1`) are closed at once, which is what
//! lets `systemd-notify` return.
//!
//! A `MAINPID=` comes with what `/proc` says of the pid named (its parents, its group),
//! for the supervisor to judge. The supervisor also sends barriers through the socket
//! itself ([`barrier`]): datagrams are taken in the order they were sent, so when a
//! barrier comes back every message a child sent before its exit has been handed over.
//!
//! Nothing here blocks the supervisor: the thread waits on the socket alone, at most
//! [`QUEUED`] notices wait for the supervisor at once (more are dropped and counted), and
//! garbage (oversized, not UTF-8) is ignored with one warning per kind. It knows nothing of
//! processes or states.

mod message;

use std::io::{self, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use nix::sys::socket::{
    bind, recvmsg, setsockopt, socket, sockopt, AddressFamily, ControlMessageOwned, MsgFlags,
    SockFlag, SockType, UnixAddr, UnixCredentials,
};

pub use message::{parse, Garbage, Notice, MAX_MESSAGE};

use crate::sampler::procfs;
use crate::supervisor::{Control, Handle};

/// Notices handed to the supervisor and not yet taken, at most.
const QUEUED: usize = 1024;
/// How far up a sender's parents vigild looks for a managed process.
const MAX_ANCESTRY: usize = 16;
/// Descriptors taken (and closed) with one message; more are closed by the kernel.
const MAX_FDS: usize = 16;

/// The socket's `NOTIFY_SOCKET` value, once it is bound.
static SOCKET_NAME: OnceLock<String> = OnceLock::new();
/// The socket's fd, which a handover keeps open across its exec.
static SOCKET_FD: OnceLock<RawFd> = OnceLock::new();
/// The supervisor's own unbound, non-blocking socket for [`barrier`]s.
static BARRIER_SENDER: OnceLock<OwnedFd> = OnceLock::new();
/// What a barrier datagram says before its token.
const BARRIER: &str = "VIGIL_BARRIER=";

/// The `NOTIFY_SOCKET` value for `ready=notify` children, if the socket exists.
pub fn socket_name() -> Option<&'static str> {
    SOCKET_NAME.get().map(String::as_str)
}

/// One notice on its way to the supervisor: the sender and its parents (nearest first) and
/// what it said. Dropping it frees its place among the [`QUEUED`].
#[derive(Debug)]
pub struct Notified {
    /// The sender's pid, then its parent's, and so on.
    pub ancestry: Vec<i32>,
    /// What it said.
    pub notice: Notice,
    /// The process its `MAINPID=` names, if it said one and that process exists.
    pub main: Option<MainPid>,
    _place: Place,
}

/// The process a `MAINPID=` names, as `/proc` showed it when the notice came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MainPid {
    /// The pid named.
    pub pid: i32,
    /// Its process group (what a stop with `stopasgroup` signals).
    pub group: i32,
    /// It and its parents, nearest first, up to the one below vigild.
    pub ancestry: Vec<i32>,
    /// Its parent is vigild: vigild reaps it (an orphan it adopted, or a child of its own).
    pub child_of_vigild: bool,
}

/// A notice's place in the bounded queue.
#[derive(Debug)]
struct Place(Arc<AtomicUsize>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Binds the socket (or takes over the one a handover kept, `adopted`: its fd and name,
/// which running children have in their `NOTIFY_SOCKET`) and starts the thread that
/// receives on it.
pub fn start(handle: Handle, adopted: Option<(OwnedFd, String)>) -> io::Result<()> {
    let (fd, name) = if let Some((fd, name)) = adopted {
        (fd, name.trim_start_matches('@').to_string())
    } else {
        let fd = socket(
            AddressFamily::Unix,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        // Unique on the host even for vigilds that are PID 1 of their own namespaces but
        // share a network namespace (abstract names live there).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("vigil/{}/{nanos:08x}/notify", std::process::id());
        bind(fd.as_raw_fd(), &UnixAddr::new_abstract(name.as_bytes())?)?;
        (fd, name)
    };
    setsockopt(&fd, sockopt::PassCred, &true)?;
    let _ = SOCKET_FD.set(fd.as_raw_fd());
    let sender = socket(
        AddressFamily::Unix,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?;
    let _ = BARRIER_SENDER.set(sender);
    let _ = SOCKET_NAME.set(format!("@{name}"));
    std::thread::Builder::new()
        .name("vigil notify".into())
        .spawn(move || receive(&fd, &handle))?;
    Ok(())
}

/// vigil `reexec`: the socket's fd and name, for the handover's record.
pub fn handover() -> Option<(RawFd, String)> {
    Some((*SOCKET_FD.get()?, socket_name()?.to_string()))
}

/// Sends barrier `token` through the socket: the supervisor gets
/// [`Control::NotifyBarrier`] once every message queued before it has been handed over.
/// False when it could not be sent (no socket, the socket's queue full): nothing comes
/// back then, and the caller goes on without waiting.
pub fn barrier(token: u64) -> bool {
    let (Some(sender), Some(name)) = (BARRIER_SENDER.get(), socket_name()) else {
        return false;
    };
    let Ok(address) = UnixAddr::new_abstract(name.trim_start_matches('@').as_bytes()) else {
        return false;
    };
    let message = format!("{BARRIER}{token}");
    nix::sys::socket::sendto(
        sender.as_raw_fd(),
        message.as_bytes(),
        &address,
        MsgFlags::MSG_DONTWAIT,
    )
    .is_ok()
}

/// The token of a barrier datagram.
fn barrier_token(bytes: &[u8]) -> Option<u64> {
    std::str::from_utf8(bytes.strip_prefix(BARRIER.as_bytes())?)
        .ok()?
        .parse()
        .ok()
}

/// Counts of what was ignored, each kind warned about once.
#[derive(Default)]
struct Ignored {
    garbage: AtomicU64,
    full: AtomicU64,
}

fn receive(fd: &OwnedFd, handle: &Handle) {
    let queued = Arc::new(AtomicUsize::new(0));
    let ignored = Ignored::default();
    let units = procfs::Units::of_this_machine();
    let own = i32::try_from(std::process::id()).unwrap_or(0);
    let mut buffer = vec![0u8; MAX_MESSAGE + 1];
    loop {
        if !readable(fd) {
            continue;
        }
        // A handover freezes the socket: a notice waits in it for the next vigild, and
        // one received goes to the supervisor before the freeze is complete.
        let Some(_operation) = crate::freeze::Operation::begin() else {
            crate::freeze::thawed_blocking();
            continue;
        };
        let mut space = nix::cmsg_space!(UnixCredentials, [RawFd; MAX_FDS]);
        let mut iov = [IoSliceMut::new(&mut buffer)];
        let received = recvmsg::<()>(
            fd.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC | MsgFlags::MSG_TRUNC,
        );
        let Ok(received) = received else {
            continue;
        };
        let mut sender = None;
        if let Ok(messages) = received.cmsgs() {
            for message in messages {
                match message {
                    ControlMessageOwned::ScmCredentials(credentials) => {
                        sender = Some(credentials.pid());
                    }
                    ControlMessageOwned::ScmRights(fds) => {
                        for fd in fds {
                            // SAFETY: the kernel just gave us this descriptor; nothing
                            // else owns it, and closing it is all vigil does with it.
                            drop(unsafe { OwnedFd::from_raw_fd(fd) });
                        }
                    }
                    _ => {}
                }
            }
        }
        let length = received.bytes;
        let Some(sender) = sender else {
            continue;
        };
        if sender == own {
            // vigild's own: a barrier (nothing else of vigild's is sent here).
            if let Some(token) = barrier_token(&buffer[..length.min(buffer.len())]) {
                if !handle.send(Control::NotifyBarrier(token)) {
                    return;
                }
            }
            continue;
        }
        let notice = match parse(&buffer[..length.min(buffer.len())]) {
            Ok(notice) if length <= MAX_MESSAGE => notice,
            Ok(_) => {
                warn_once(&ignored.garbage, sender, Garbage::Oversized);
                continue;
            }
            Err(garbage) => {
                warn_once(&ignored.garbage, sender, garbage);
                continue;
            }
        };
        if queued.fetch_add(1, Ordering::Relaxed) >= QUEUED {
            queued.fetch_sub(1, Ordering::Relaxed);
            let dropped = ignored.full.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped == 1 || dropped % 1000 == 0 {
                tracing::warn!(
                    "notify: {QUEUED} messages wait for the supervisor; dropped {dropped} so far"
                );
            }
            continue;
        }
        let main = notice.mainpid.and_then(|pid| {
            let lineage = lineage(pid, own, &units);
            Some(MainPid {
                pid,
                group: lineage.group?,
                ancestry: lineage.chain,
                child_of_vigild: lineage.child_of_vigild,
            })
        });
        let notified = Notified {
            ancestry: lineage(sender, own, &units).chain,
            notice,
            main,
            _place: Place(Arc::clone(&queued)),
        };
        if !handle.send(Control::Notified(notified)) {
            return;
        }
    }
}

fn warn_once(count: &AtomicU64, sender: i32, why: Garbage) {
    let seen = count.fetch_add(1, Ordering::Relaxed) + 1;
    if seen == 1 || seen % 1000 == 0 {
        tracing::warn!(
            "notify: ignored a message from pid {sender} ({why}); {seen} ignored so far"
        );
    }
}

/// A process and its parents, as `/proc` shows them.
struct Lineage {
    /// `pid`, its parent, its parent's parent… up to [`MAX_ANCESTRY`], stopping below
    /// PID 1 and vigild itself.
    chain: Vec<i32>,
    /// `pid`'s process group; `None` when `/proc` has no such process.
    group: Option<i32>,
    /// `pid`'s parent is vigild (`own`).
    child_of_vigild: bool,
}

fn lineage(pid: i32, own: i32, units: &procfs::Units) -> Lineage {
    let mut lineage = Lineage {
        chain: vec![pid],
        group: None,
        child_of_vigild: false,
    };
    let mut at = pid;
    while lineage.chain.len() < MAX_ANCESTRY {
        let Some(stat) = procfs::stats_of(&[at], units).into_iter().next() else {
            break;
        };
        let parent = stat.ppid;
        if at == pid {
            lineage.group = Some(stat.pgrp);
            lineage.child_of_vigild = parent == own;
        }
        if parent <= 1 || parent == own {
            break;
        }
        lineage.chain.push(parent);
        at = parent;
    }
    lineage
}

/// Waits until `fd` has a datagram (false when the wait was interrupted).
fn readable(fd: &OwnedFd) -> bool {
    let mut pollfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd on the stack, for an fd this thread owns.
    unsafe { libc::poll(&raw mut pollfd, 1, -1) > 0 }
}
