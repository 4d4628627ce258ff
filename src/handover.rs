//! `vigilctl reexec`: the record a live vigild hands its fleet over with, and the exec into
//! the new binary. The record (JSON, versioned) goes in a memfd the new image inherits; it
//! names the fds that stay open across the exec (each child's pipes, the HTTP listeners,
//! the guardian's pipe) and holds each process's runtime record. What the supervisor puts
//! in it and makes of it is the supervisor's (`supervisor/actor/reexec.rs`); this module
//! only writes, reads, checks the version and execs.

use std::ffi::CString;
use std::io::{self, Read, Seek, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::process::handover::ProcessRecord;

/// The record's format; a vigild reads the versions up to its own.
pub const VERSION: u32 = 1;

/// The command-line flag that hands a new image its record's fd.
pub const FLAG: &str = "--handover-fd";

/// What a reexec runs the new binary with: vigild's own command line (after argv\[0\],
/// without an earlier `--handover-fd`), whose config the pre-flight checks too.
#[derive(Debug, Clone, Default)]
pub struct Relaunch {
    /// The arguments.
    pub args: Vec<String>,
}

impl Relaunch {
    /// `args` as vigild was given them, without the handover flag and its fd.
    pub fn new(args: &[String]) -> Relaunch {
        let mut kept = Vec::with_capacity(args.len());
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            if arg == FLAG {
                rest.next();
            } else {
                kept.push(arg.clone());
            }
        }
        Relaunch { args: kept }
    }
}

/// Everything a new vigild needs to go on with the fleet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Handover {
    /// The record's format ([`VERSION`] when written).
    pub version: u32,
    /// The vigil version that wrote it.
    pub vigil_version: String,
    /// When the handover was asked for, in seconds since the epoch (the new image logs how
    /// long the whole handover took).
    pub asked_at: f64,
    /// When the record was made, in seconds since the epoch: the new image takes the time
    /// the exec and its start took off every timer.
    #[serde(default)]
    pub made_at: f64,
    /// Handovers so far, this one included (`vigil_reexecs_total`).
    pub reexecs: u64,
    /// Config reloads so far.
    pub reloads: u64,
    /// Every process of the fleet.
    pub processes: Vec<HandedProcess>,
    /// The guardian's pipe and pid.
    pub guardian: Option<(RawFd, i32)>,
    /// The HTTP servers' listening sockets (unix, inet, metrics).
    pub listeners: [Option<RawFd>; 3],
    /// The event listener pools: serials, queues, listeners' protocol states.
    #[serde(default)]
    pub events: crate::events::EventsRecord,
    /// The sd_notify socket (its fd and the name in the children's `NOTIFY_SOCKET`).
    #[serde(default)]
    pub notify: Option<(RawFd, String)>,
    /// The fcgi-programs' sockets, by program.
    #[serde(default)]
    pub fcgi: Vec<(String, RawFd)>,
    /// The groups run at another size than their file gives (`vigil.scaleGroup`): the new
    /// image reads the file at these sizes.
    #[serde(default)]
    pub scales: Vec<crate::config::Scaled>,
}

/// One process as handed over.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandedProcess {
    /// Its group.
    pub group: String,
    /// Its name.
    pub name: String,
    /// Its runtime record.
    pub record: ProcessRecord,
    /// The read ends of its stdout and stderr pipes, while its child has them.
    pub pipes: [Option<RawFd>; 2],
    /// The write end of its stdin pipe.
    pub stdin: Option<RawFd>,
    /// What was queued for its stdin and not written yet, base64.
    #[serde(default)]
    pub stdin_pending: String,
    /// Its stdout and stderr log files (AUTO names are chosen at random: the new image must
    /// go on with the same files).
    pub logs: [Option<PathBuf>; 2],
    /// What its streams' filters held (an unfinished JSON line, a capture-mode block).
    #[serde(default)]
    pub held: [Option<crate::logs::filters::Held>; 2],
}

/// Why a record could not be written, read or acted on.
#[derive(Debug, thiserror::Error)]
pub enum HandoverError {
    /// The memfd could not be made, written or read.
    #[error("the handover record: {0}")]
    Io(#[from] io::Error),
    /// The record is not JSON of this shape.
    #[error("the handover record cannot be read: {0}")]
    Format(#[from] serde_json::Error),
    /// A newer vigil wrote it, in a format this one does not know.
    #[error(
        "the handover record is version {found} (written by vigil {writer}); this vigil \
         ({ours}) reads up to version {VERSION}"
    )]
    TooNew {
        /// The record's version.
        found: u32,
        /// The vigil that wrote it.
        writer: String,
        /// This vigil's version.
        ours: &'static str,
    },
}

/// The fcgi sockets `handover` names, owned from here on (the new image's table takes them
/// instead of binding again).
pub fn fcgi_sockets(handover: &Handover) -> std::collections::HashMap<String, OwnedFd> {
    handover
        .fcgi
        .iter()
        // SAFETY: the vigild before us kept each socket open across the exec for us alone,
        // and this is the one place that takes them.
        .map(|(program, fd)| (program.clone(), unsafe { OwnedFd::from_raw_fd(*fd) }))
        .collect()
}

/// Writes `handover` to a memfd that an exec keeps open; returns it.
pub fn write(handover: &Handover) -> Result<OwnedFd, HandoverError> {
    // SAFETY: memfd_create takes a NUL-terminated name and flags; the fd it returns is
    // owned right below.
    let fd = unsafe { libc::memfd_create(c"vigil-handover".as_ptr(), 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error().into());
    }
    // SAFETY: `fd` is a fresh memfd nothing else owns.
    let memfd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut file = std::fs::File::from(memfd);
    file.write_all(&serde_json::to_vec(handover)?)?;
    file.rewind()?;
    Ok(OwnedFd::from(file))
}

/// Reads the record from the fd a handing-over vigild passed (and closes it).
pub fn read(fd: RawFd) -> Result<Handover, HandoverError> {
    // SAFETY: the fd was named on our command line by the vigild that exec'd us, which
    // left it open for us alone; it is owned from here on.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let mut text = Vec::new();
    file.read_to_end(&mut text)?;
    let head: serde_json::Value = serde_json::from_slice(&text)?;
    let found = head
        .get("version")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    if found > u64::from(VERSION) {
        return Err(HandoverError::TooNew {
            found: u32::try_from(found).unwrap_or(u32::MAX),
            writer: head
                .get("vigil_version")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("unknown")
                .to_string(),
            ours: env!("CARGO_PKG_VERSION"),
        });
    }
    Ok(serde_json::from_value(head)?)
}

impl Handover {
    /// Every fd the record names, which must stay open across the exec.
    pub fn fds(&self) -> Vec<RawFd> {
        let mut fds: Vec<RawFd> = self.listeners.iter().flatten().copied().collect();
        fds.extend(self.guardian.map(|(fd, _)| fd));
        fds.extend(self.notify.as_ref().map(|(fd, _)| *fd));
        fds.extend(self.fcgi.iter().map(|(_, fd)| *fd));
        for process in &self.processes {
            fds.extend(process.pipes.iter().flatten());
            fds.extend(process.stdin);
        }
        fds
    }
}

/// Replaces this process image with `binary`, given `relaunch`'s arguments and the record
/// in `record`; keeps `keep` open. Returns only if the exec failed.
pub fn exec(binary: &Path, relaunch: &Relaunch, record: &OwnedFd, keep: &[RawFd]) -> io::Error {
    for fd in keep.iter().copied().chain([record.as_raw_fd()]) {
        // SAFETY: F_GETFD/F_SETFD on an fd number; no memory is passed.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags < 0 {
            // A record naming a closed fd would hand the new image another's descriptor.
            return io::Error::other(format!("fd {fd}, which the record names, is not open"));
        }
        // SAFETY: as above.
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
        }
    }
    let program = match CString::new(binary.as_os_str().as_bytes()) {
        Ok(program) => program,
        Err(err) => return io::Error::new(io::ErrorKind::InvalidInput, err),
    };
    let mut argv: Vec<CString> = vec![program.clone()];
    for arg in &relaunch.args {
        match CString::new(arg.as_bytes()) {
            Ok(arg) => argv.push(arg),
            Err(err) => return io::Error::new(io::ErrorKind::InvalidInput, err),
        }
    }
    for arg in [FLAG.to_string(), record.as_raw_fd().to_string()] {
        if let Ok(arg) = CString::new(arg) {
            argv.push(arg);
        }
    }
    match nix::unistd::execv(&program, &argv) {
        Ok(never) => match never {},
        Err(errno) => io::Error::from(errno),
    }
}

/// The path of the binary running now, as on disk: a replaced binary (a package upgrade)
/// reads as "… (deleted)" in /proc, and the path is what a reexec runs again.
pub fn running_binary() -> io::Result<PathBuf> {
    let exe = std::fs::read_link("/proc/self/exe")?;
    let text = exe.as_os_str().as_bytes();
    Ok(match text.strip_suffix(b" (deleted)") {
        Some(path) => PathBuf::from(std::ffi::OsStr::from_bytes(path)),
        None => exe,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Handover {
        Handover {
            version: VERSION,
            vigil_version: "0.1.0".into(),
            asked_at: 1.5,
            made_at: 1.6,
            reexecs: 1,
            reloads: 0,
            processes: Vec::new(),
            guardian: Some((7, 42)),
            listeners: [Some(5), None, None],
            events: crate::events::EventsRecord::default(),
            notify: None,
            fcgi: Vec::new(),
            scales: Vec::new(),
        }
    }

    #[test]
    fn a_record_reads_back_and_names_its_fds() {
        let fd = write(&record()).expect("write");
        let raw = fd.as_raw_fd();
        std::mem::forget(fd);
        let read = read(raw).expect("read");
        assert_eq!(read.guardian, Some((7, 42)));
        assert_eq!(read.fds(), vec![5, 7]);
    }

    #[test]
    fn a_record_from_a_newer_vigil_is_refused_naming_both_versions() {
        let mut newer = serde_json::to_value(record()).expect("JSON");
        newer["version"] = serde_json::json!(VERSION + 1);
        newer["vigil_version"] = serde_json::json!("9.9.9");
        let mut file = tempfile::tempfile().expect("temp file");
        file.write_all(newer.to_string().as_bytes()).expect("write");
        file.rewind().expect("rewind");
        let raw = OwnedFd::from(file);
        let fd = raw.as_raw_fd();
        std::mem::forget(raw);
        let err = read(fd).expect_err("refused").to_string();
        assert!(err.contains("written by vigil 9.9.9"), "{err}");
        assert!(err.contains(env!("CARGO_PKG_VERSION")), "{err}");
        assert!(err.contains(&format!("version {}", VERSION + 1)), "{err}");
    }
}
