//! The helper process's side: answers vigild's requests, one start at a time, until vigild
//! closes its end of the socket or dies. Runs in the forked helper only; it touches none of
//! vigild's state.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

use super::wire::decode;
use super::MAX_REQUEST;
use crate::process::launch::{launch, Stage};

/// The helper's life: answer requests until vigild closes its end (or dies).
pub(super) fn serve(socket: OwnedFd, vigild: libc::pid_t) -> ! {
    // SAFETY: plain system calls without pointers.
    unsafe {
        // Gone with vigild, whatever way it ends (also if it ended before this line).
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != vigild {
            libc::_exit(0);
        }
        // Out of vigild's process group: a Ctrl-C meant for vigild must not kill it.
        libc::setpgid(0, 0);
    }
    // Keep only the socket (at fd 3): children of the helper inherit nothing else.
    // SAFETY: dup2 onto fd 3 of an fd we own; closing the rest only affects this process.
    let socket = unsafe {
        if socket.as_raw_fd() != 3 && libc::dup2(socket.as_raw_fd(), 3) < 0 {
            libc::_exit(1);
        }
        libc::fcntl(3, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
        std::mem::forget(socket);
        OwnedFd::from_raw_fd(3)
    };
    let mut buffer = vec![0u8; MAX_REQUEST];
    loop {
        let reply = match receive(&socket, &mut buffer) {
            Received::Request(length, fds) => {
                let reply = match (decode(&buffer[..length], &fds), fds.len()) {
                    (Some(plan), 3 | 4) => match launch(&plan, libc::CLONE_PARENT) {
                        Ok(pid) => [pid, 0, 0],
                        Err(err) => [
                            err.pid.unwrap_or(0),
                            err.stage.code(),
                            err.error.raw_os_error().unwrap_or(libc::EIO),
                        ],
                    },
                    _ => [0, Stage::Clone.code(), libc::EINVAL],
                };
                drop(fds);
                reply
            }
            Received::Unusable(errno) => [0, Stage::Clone.code(), errno],
            Received::Nothing => continue,
            Received::End => break,
        };
        let mut bytes = [0u8; 12];
        for (at, value) in reply.iter().enumerate() {
            bytes[at * 4..at * 4 + 4].copy_from_slice(&value.to_ne_bytes());
        }
        if nix::sys::socket::send(socket.as_raw_fd(), &bytes, MsgFlags::empty()).is_err() {
            break;
        }
    }
    // SAFETY: leaves without running vigild's exit handlers (this is a forked copy).
    unsafe { libc::_exit(0) }
}

/// What one receive brought.
enum Received {
    /// A request: its length in the buffer and the fds that came with it.
    Request(usize, Vec<OwnedFd>),
    /// A request arrived but cannot be used (truncated, fds not received): answer `errno`.
    Unusable(i32),
    /// Nothing was consumed (interrupted): receive again.
    Nothing,
    /// vigild closed its end.
    End,
}

fn receive(socket: &OwnedFd, buffer: &mut [u8]) -> Received {
    // stdio, and a `ready=fd:N` notification pipe.
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let mut iov = [IoSliceMut::new(buffer)];
    let message = match recvmsg::<()>(
        socket.as_fd().as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    ) {
        Ok(message) => message,
        Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => return Received::Nothing,
        Err(_) => return Received::End,
    };
    let truncated = message
        .flags
        .intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC);
    let mut fds = Vec::new();
    if let Ok(controls) = message.cmsgs() {
        for control in controls {
            if let ControlMessageOwned::ScmRights(received) = control {
                // SAFETY: SCM_RIGHTS gave us these fds; nothing else owns them.
                fds.extend(
                    received
                        .into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
    } else {
        return Received::Unusable(libc::EMFILE);
    }
    if truncated {
        return Received::Unusable(libc::EMSGSIZE);
    }
    if message.bytes == 0 && fds.is_empty() {
        return Received::End;
    }
    Received::Request(message.bytes, fds)
}
