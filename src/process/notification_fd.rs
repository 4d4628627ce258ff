//! vigil `ready=fd:N`, s6's notification fd: the child writes a newline to its fd N when
//! it is ready (and closes it). vigild keeps the pipe's read end and watches it on the
//! runtime, never blocking: the first newline is the readiness, end of file without one
//! (the child closed it, or died) is none. At most [`MAX_BYTES`] are read.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// What is read before a notification fd that never sends a newline is given up.
const MAX_BYTES: usize = 4096;

/// Watches `fd` (a notification pipe's read end) and calls `on_ready` at its first
/// newline.
pub fn watch(fd: OwnedFd, on_ready: impl FnOnce() + Send + 'static) -> io::Result<()> {
    set_nonblocking(&fd)?;
    // SAFETY: the AsyncFd owns the fd, which is closed only when the AsyncFd is dropped.
    let watched = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }?;
    tokio::spawn(async move {
        let mut seen = 0;
        let mut buffer = [0u8; 512];
        while seen < MAX_BYTES {
            let Ok(mut ready) = watched.readable().await else {
                return;
            };
            match ready.try_io(|fd| read(fd.get_ref(), &mut buffer)) {
                Ok(Ok(0) | Err(_)) => return,
                Ok(Ok(count)) => {
                    if buffer[..count].contains(&b'\n') {
                        on_ready();
                        return;
                    }
                    seen += count;
                }
                Err(_would_block) => {}
            }
        }
    });
    Ok(())
}

fn read(fd: &OwnedFd, buffer: &mut [u8]) -> io::Result<usize> {
    nix::unistd::read(fd.as_raw_fd(), buffer).map_err(io::Error::from)
}

fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}
