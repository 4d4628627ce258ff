//! The listening socket of an `[fcgi-program:x]`, created once per group and handed to each
//! of its processes as fd 0.

use std::io;
use std::net::ToSocketAddrs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;

use nix::sys::socket::{
    bind, listen, setsockopt, socket, sockopt, AddressFamily, Backlog, SockFlag, SockType,
    SockaddrStorage, UnixAddr,
};

use crate::config::{FcgiAddress, FcgiSocket};

/// Creates, binds and listens on `spec`'s socket.
pub fn bind_socket(spec: &FcgiSocket) -> io::Result<OwnedFd> {
    // nix accepts values below SOMAXCONN only; SOMAXCONN itself has its own constant.
    let backlog = if spec.backlog >= libc::SOMAXCONN {
        Backlog::MAXCONN
    } else {
        Backlog::new(spec.backlog).map_err(io::Error::from)?
    };
    match &spec.address {
        FcgiAddress::Tcp { host, port } => {
            let address = (host.as_str(), *port)
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, format!("cannot resolve {host}"))
                })?;
            let family = if address.is_ipv4() {
                AddressFamily::Inet
            } else {
                AddressFamily::Inet6
            };
            let fd = socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
            setsockopt(&fd, sockopt::ReuseAddr, &true)?;
            bind(fd.as_raw_fd(), &SockaddrStorage::from(address))?;
            listen(&fd, backlog)?;
            Ok(fd)
        }
        FcgiAddress::Unix(path) => {
            // A stale socket file from an earlier run would make bind fail.
            if path.exists() {
                std::fs::remove_file(path)?;
            }
            let fd = socket(
                AddressFamily::Unix,
                SockType::Stream,
                SockFlag::SOCK_CLOEXEC,
                None,
            )?;
            bind(fd.as_raw_fd(), &UnixAddr::new(path.as_path())?)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(spec.mode))?;
            if let Some((uid, gid)) = spec.owner {
                std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
            }
            listen(&fd, backlog)?;
            Ok(fd)
        }
    }
}
