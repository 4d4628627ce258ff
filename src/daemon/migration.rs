//! What runs on the host now on the paths a config about to be moved to vigil names: a
//! supervisord (or anything) alive under its pidfile, a server answering on its control
//! socket. Only looks (a signal 0, a connect); stops nothing.

use std::os::unix::net::UnixStream;

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

use crate::config::migrate::{Finding, FindingKind};
use crate::config::{Config, Diagnostic, Location};

/// A Path finding for each path in use now.
pub fn in_use(config: &Config) -> Vec<Finding> {
    let mut found = Vec::new();
    let mut say = |message: String| {
        found.push(Finding {
            kind: FindingKind::Path,
            diagnostic: Diagnostic::new(Location::file(&config.file), message),
        });
    };
    let pidfile = &config.supervisord.pidfile;
    let pid = std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|text| text.trim().parse::<i32>().ok())
        .filter(|pid| *pid > 0);
    if let Some(pid) = pid {
        // EPERM: it runs, as a user this one may not signal (root's supervisord).
        if matches!(kill(Pid::from_raw(pid), None), Ok(()) | Err(Errno::EPERM)) {
            say(format!(
                "{} names pid {pid}, which is running: stop that supervisor (systemctl stop \
                 supervisor) before vigild starts on this config",
                pidfile.display()
            ));
        }
    }
    if let Some(unix) = &config.unix_http_server {
        match UnixStream::connect(&unix.file) {
            Ok(_) => say(format!(
                "a server answers on {} now: vigild cannot serve this socket while it does \
                 (stop it first)",
                unix.file.display()
            )),
            Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => say(format!(
                "{} is a socket this user may not open: run the check as root to see \
                 whether a server answers on it",
                unix.file.display()
            )),
            Err(_) => {}
        }
    }
    found
}
