//! vigil's end of systemd's sd_notify protocol for programs with `ready=notify`: one
//! datagram socket per vigild in the abstract namespace (its name is the children's
//! `NOTIFY_SOCKET`), and a thread of its own that receives each message with its sender's
//! credentials (`SO_PASSCRED`), finds the sender's ancestry in `/proc` (so `systemd-notify`
//! run by a program's shell counts for the program), and hands the notice to the
//! supervisor, which decides which process it is about. Descriptors that come with a
//! message (`systemd-notify`'s barrier, `FDSTORE=1`) are closed at once, which is what
//! lets `systemd-notify` return.
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
    _place: Place,
}

/// A notice's place in the bounded queue.
#[derive(Debug)]
struct Place(Arc<AtomicUsize>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Binds the socket and starts the thread that receives on it.
pub fn start(handle: Handle) -> io::Result<()> {
    let fd = socket(
        AddressFamily::Unix,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // Unique on the host even for vigilds that are PID 1 of their own namespaces but share
    // a network namespace (abstract names live there).
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!("vigil/{}/{nanos:08x}/notify", std::process::id());
    bind(fd.as_raw_fd(), &UnixAddr::new_abstract(name.as_bytes())?)?;
    setsockopt(&fd, sockopt::PassCred, &true)?;
    let _ = SOCKET_NAME.set(format!("@{name}"));
    std::thread::Builder::new()
        .name("vigil notify".into())
        .spawn(move || receive(&fd, &handle))?;
    Ok(())
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
    let mut buffer = vec![0u8; MAX_MESSAGE + 1];
    loop {
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
        let notified = Notified {
            ancestry: ancestry(sender, &units),
            notice,
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

/// `pid`, its parent, its parent's parent… up to [`MAX_ANCESTRY`], stopping below PID 1
/// and vigild itself.
fn ancestry(pid: i32, units: &procfs::Units) -> Vec<i32> {
    let own = i32::try_from(std::process::id()).unwrap_or(0);
    let mut chain = vec![pid];
    let mut at = pid;
    while chain.len() < MAX_ANCESTRY {
        let Some(parent) = procfs::stats_of(&[at], units).first().map(|stat| stat.ppid) else {
            break;
        };
        if parent <= 1 || parent == own {
            break;
        }
        chain.push(parent);
        at = parent;
    }
    chain
}
