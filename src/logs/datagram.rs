//! Datagrams to a local unix socket that another daemon reads (the syslog socket, the
//! journal's), sent from a writer thread of their own behind a bounded queue ([`Sink`]), so
//! nothing that logs waits for that daemon: a full queue drops and counts; a socket that is
//! missing or refuses drops too, said once in the main log when it starts failing and once
//! when it takes datagrams again. A datagram too big for the socket goes, where the reader
//! allows it ([`Large::Memfd`]), as a sealed memfd passed with `SCM_RIGHTS` (the journal's
//! protocol). This module knows bytes and sockets, never what the datagrams say.

use std::io::{self, IoSlice, Write as _};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};

use super::sink::{Sink, QUEUE_BYTES};

/// How long one send may wait on a reader that does not read.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// What to do with a datagram the socket refuses as too big.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Large {
    /// Drop it (counted as a failed send); the caller keeps datagrams small.
    Drop,
    /// Send it as a sealed memfd (systemd's native journal protocol).
    Memfd,
}

/// The producers' end: cheap to call, never blocks.
pub struct DatagramSink {
    sink: Sink,
}

impl DatagramSink {
    /// Datagrams for the socket at `path`, named `what` in messages (`syslog`, `journal`);
    /// `dropped(n)` renders the datagram standing for `n` that a full queue dropped.
    pub fn new(
        what: &'static str,
        path: PathBuf,
        large: Large,
        dropped: fn(u64) -> Vec<u8>,
    ) -> Self {
        let mut writer = Writer {
            what,
            path,
            large,
            socket: None,
            failing: 0,
        };
        DatagramSink {
            sink: Sink::new(QUEUE_BYTES, move |datagram| writer.send(datagram), dropped),
        }
    }

    /// Datagrams waiting to be sent.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.sink.queued()
    }

    /// Queues one datagram.
    pub fn push(&self, datagram: &[u8]) {
        self.sink.push(datagram);
    }

    /// Starts the writer thread `name` (after vigild's forks); until then datagrams wait.
    pub fn start_writer(&self, name: &str) -> io::Result<()> {
        self.sink.start_writer(name)
    }

    /// Waits (until `deadline` at most) for the queued datagrams to be sent.
    pub fn flush(&self, deadline: Instant) {
        self.sink.flush(deadline);
    }
}

/// The writer thread's end: the socket, and what it says about failures.
struct Writer {
    what: &'static str,
    path: PathBuf,
    large: Large,
    socket: Option<UnixDatagram>,
    /// Datagrams not delivered since the last one that was.
    failing: u64,
}

impl Writer {
    fn send(&mut self, datagram: &[u8]) {
        let sent = match try_send(&mut self.socket, &self.path, datagram) {
            Err(err)
                if err.raw_os_error() == Some(libc::EMSGSIZE) && self.large == Large::Memfd =>
            {
                send_memfd(&self.path, datagram)
            }
            other => other.map(|_| ()),
        };
        match sent {
            Ok(()) => {
                let lost = std::mem::take(&mut self.failing);
                if lost > 0 {
                    tracing::warn!(
                        "{}: {} takes lines again; {lost} were dropped meanwhile",
                        self.what,
                        self.path.display()
                    );
                }
            }
            Err(err) => {
                self.failing += 1;
                if self.failing == 1 {
                    tracing::warn!(
                        "{}: cannot send to {} ({err}); lines are dropped until it answers",
                        self.what,
                        self.path.display()
                    );
                }
            }
        }
    }
}

/// Sends one datagram, making the socket first if there is none yet.
fn try_send(socket: &mut Option<UnixDatagram>, path: &Path, datagram: &[u8]) -> io::Result<usize> {
    if socket.is_none() {
        let fresh = UnixDatagram::unbound()?;
        fresh.set_write_timeout(Some(SEND_TIMEOUT))?;
        *socket = Some(fresh);
    }
    match socket {
        Some(socket) => socket.send_to(datagram, path),
        None => Err(io::Error::other("no socket")),
    }
}

/// `datagram` written to a sealed memfd, whose fd alone is sent (an empty datagram with
/// `SCM_RIGHTS`), as `sd_journal_sendv` does for entries too big for a datagram.
fn send_memfd(path: &Path, datagram: &[u8]) -> io::Result<()> {
    // SAFETY: memfd_create takes a NUL-terminated name and flags; the fd it returns is
    // owned right below.
    let fd = unsafe {
        libc::memfd_create(
            c"vigil-journal".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh memfd nothing else owns.
    let memfd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut file = std::fs::File::from(memfd);
    file.write_all(datagram)?;
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
    // SAFETY: F_ADD_SEALS on a memfd we own, with an int argument.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let socket = UnixDatagram::unbound()?;
    socket.set_write_timeout(Some(SEND_TIMEOUT))?;
    let address = UnixAddr::new(path).map_err(io::Error::from)?;
    let fds = [file.as_raw_fd()];
    sendmsg(
        socket.as_raw_fd(),
        &[IoSlice::new(&[])],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        Some(&address),
    )
    .map(|_| ())
    .map_err(io::Error::from)
}
