//! Moves a child's stdout or stderr from its pipe into its [`LogStream`]: one thread per
//! pipe, large reads, optional capture-mode/ANSI/timestamp treatment. A slow disk stalls only
//! its own stream (and, through the pipe, its own child), never the supervisor or other
//! children; nothing is dropped.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::SystemTime;

use super::filters::{AnsiStripper, CaptureSplitter, Timestamper};
use super::stream::LogStream;

/// Bytes read from a pipe at a time.
const CHUNK: usize = 128 * 1024;
/// Pipe buffer asked of the kernel, to absorb bursts while a write is in progress.
const PIPE_BUFFER: libc::c_int = 1 << 20;
/// A read at least this large means output is streaming: wait [`BATCH_PAUSE`] before the
/// next read so the pipe fills and the next read moves a large block, instead of waking for
/// every small write of the child.
const STREAMING_READ: usize = 4 * 1024;
/// How long a streaming capture lets the pipe fill (less than the pipe buffer takes to fill
/// at memory speed, so the child never waits for it).
const BATCH_PAUSE: std::time::Duration = std::time::Duration::from_millis(1);
/// Stack of a capture thread: it only copies bytes.
const STACK: usize = 256 * 1024;

/// How the output of one pipe is treated on its way to the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Treatment {
    /// Remove ANSI escape sequences (`strip_ansi`).
    pub strip_ansi: bool,
    /// Prefix lines with a time (`*_logfile_timestamps`).
    pub timestamps: bool,
    /// Capture-mode buffer size (`*_capture_maxbytes`); 0 = off.
    pub capture_maxbytes: usize,
}

/// Receives each completed capture-mode block (PROCESS_COMMUNICATION payload).
pub type OnCapture = Box<dyn FnMut(Vec<u8>) + Send>;

/// Starts copying `pipe` into `stream` until every holder of the write end (the child and
/// whatever inherited it) has closed it. `first` (a spawn marker) is written before any
/// output. `name` names the thread.
pub fn start(
    pipe: OwnedFd,
    stream: Arc<LogStream>,
    treatment: Treatment,
    first: Option<Vec<u8>>,
    mut on_capture: OnCapture,
    name: &str,
) -> io::Result<Drained> {
    // Best effort: a larger pipe means fewer stalls; the default still works. Only as root:
    // for other users, big pipes count against a per-user quota that, once used up, shrinks
    // every new pipe of that user (the children's own pipelines included).
    if nix::unistd::geteuid().is_root() {
        // SAFETY: F_SETPIPE_SZ on a pipe fd we own; no memory is passed.
        unsafe {
            libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BUFFER);
        }
    }
    let (done, drained) = std::sync::mpsc::channel::<()>();
    let name = name.to_string();
    std::thread::Builder::new()
        .name(format!("log {name}"))
        .stack_size(STACK)
        .spawn(move || {
            // Dropped when the thread ends, which wakes whoever waits on `Drained`.
            let _done = done;
            if let Some(first) = first {
                stream.append(&first);
            }
            let mut pipe = File::from(pipe);
            // At loglevel=debug supervisord also copies child output into the main log, so
            // the bytes must pass through here.
            let echo_to_main_log = tracing::enabled!(tracing::Level::DEBUG);
            if treatment == Treatment::default()
                && !echo_to_main_log
                && splice_until_end(&pipe, &stream)
            {
                return;
            }
            let mut buffer = vec![0u8; CHUNK];
            let mut splitter = (treatment.capture_maxbytes > 0)
                .then(|| CaptureSplitter::new(treatment.capture_maxbytes));
            let mut stripper = treatment.strip_ansi.then(AnsiStripper::default);
            let mut stamper = treatment.timestamps.then(Timestamper::default);
            loop {
                let n = match pipe.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(err) => {
                        tracing::error!("could not read output pipe: {err}");
                        break;
                    }
                };
                let mut data = Cow::Borrowed(&buffer[..n]);
                if let Some(splitter) = &mut splitter {
                    let mut log = Vec::with_capacity(data.len());
                    for block in splitter.split(&data, &mut log) {
                        on_capture(block);
                    }
                    data = Cow::Owned(log);
                }
                if let Some(stripper) = &mut stripper {
                    let mut out = Vec::with_capacity(data.len());
                    stripper.strip(&data, &mut out);
                    data = Cow::Owned(out);
                }
                if let Some(stamper) = &mut stamper {
                    let mut out = Vec::with_capacity(data.len() + 64);
                    stamper.stamp(&data, SystemTime::now(), &mut out);
                    data = Cow::Owned(out);
                }
                stream.append(&data);
                if echo_to_main_log {
                    let (process, channel) = name.rsplit_once(' ').unwrap_or((name.as_str(), ""));
                    tracing::debug!(
                        "'{process}' {channel} output:\n{}",
                        String::from_utf8_lossy(&data)
                    );
                }
                if (STREAMING_READ..CHUNK).contains(&n) {
                    std::thread::sleep(BATCH_PAUSE);
                }
            }
        })?;
    Ok(Drained(drained))
}

/// The zero-copy path for untreated output: pipe pages go straight into the log file.
/// Returns false when splice cannot serve this stream (the caller then reads and writes).
fn splice_until_end(pipe: &File, stream: &LogStream) -> bool {
    loop {
        // Wait for data without holding the stream's lock.
        let mut poll = libc::pollfd {
            fd: pipe.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        if unsafe { libc::poll(&mut poll, 1, -1) } < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        match stream.splice_from(pipe.as_fd(), PIPE_BUFFER as usize) {
            Ok(Some(0)) => return true,
            Ok(Some(_)) => {}
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
            // Not possible here, or failing (a full disk): the read/write path takes over and
            // reports write errors while the ring keeps the output.
            Ok(None) | Err(_) => return false,
        }
    }
}

/// Tells when a capture has copied everything its pipe will ever carry.
#[derive(Debug)]
pub struct Drained(std::sync::mpsc::Receiver<()>);

impl Drained {
    /// Waits until the pipe is drained, at most `limit` (a grandchild may keep it open).
    pub fn wait(&self, limit: std::time::Duration) {
        let _ = self.0.recv_timeout(limit);
    }
}
