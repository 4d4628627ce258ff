//! Moves a child's stdout or stderr from its pipe into its [`LogStream`], in large chunks,
//! with optional capture-mode/ANSI/timestamp treatment. Pipes are watched by tasks on the
//! daemon's runtime, so any number of children costs a few threads; a stream whose target
//! can block (a FIFO or terminal whose reader stalls) gets a thread of its own, so it stalls
//! only itself and, through its pipe, its own child. Nothing is dropped.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::filters::{AnsiStripper, CaptureSplitter, Held, JsonLines, Timestamper};
use super::stream::LogStream;

/// Bytes read from a pipe at a time.
const CHUNK: usize = 128 * 1024;
/// Pipe buffer asked of the kernel, to absorb bursts while a write is in progress.
const PIPE_BUFFER: libc::c_int = 1 << 20;
/// Stack of a capture thread: it only copies bytes.
const STACK: usize = 256 * 1024;
/// A splice of fewer bytes than this waits [`BATCH_PAUSE`] for more first.
const BATCH_BYTES: usize = 384 * 1024;
/// The pause before a small splice: at 3 GB/s a child writes 750 KiB in it.
const BATCH_PAUSE: std::time::Duration = std::time::Duration::from_micros(250);
/// Pipes at least this big get the pause; smaller ones would fill during it.
const BATCH_PIPE: usize = PIPE_BUFFER as usize;
/// A pipe quiet for this long lets its log file rest (closed until the next write), so
/// thousands of quiet programs do not hold thousands of log fds.
const REST_AFTER: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a drain waits on its thread for more output before it hands the pipe back to
/// the runtime (streaming output arrives well within it).
const LINGER_MS: libc::c_int = 1;

/// How the output of one pipe is treated on its way to the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Treatment {
    /// Remove ANSI escape sequences (`strip_ansi`).
    pub strip_ansi: bool,
    /// Prefix lines with a time (`*_logfile_timestamps`).
    pub timestamps: bool,
    /// Capture-mode buffer size (`*_capture_maxbytes`); 0 = off.
    pub capture_maxbytes: usize,
    /// Wrap each line as JSON (`*_logfile_format=json`): the process, its child's pid and
    /// the stream's name the lines carry.
    pub json: Option<(String, i32, &'static str)>,
}

/// Receives each completed capture-mode block (PROCESS_COMMUNICATION payload).
pub type OnCapture = Box<dyn FnMut(Vec<u8>) + Send>;

/// Receives every chunk on its way to the log, after capture mode and ANSI stripping and
/// before timestamps (PROCESS_LOG events, an event listener's protocol).
pub type OnOutput = Box<dyn FnMut(&[u8]) + Send>;

/// Starts copying `pipe` into `stream` until every holder of the write end (the child and
/// whatever inherited it) has closed it. `first` (a spawn marker) is written before any
/// output. `on_output`, if any, sees every chunk (the bytes then go through user space).
/// `name` names the capture in messages.
pub fn start(
    pipe: OwnedFd,
    stream: Arc<LogStream>,
    (treatment, seed): (Treatment, Option<Held>),
    first: Option<Vec<u8>>,
    (on_capture, on_output): (OnCapture, Option<OnOutput>),
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
    let relayed = Arc::new(Relayed::default());
    let mut relay = Relay::new(stream, treatment, on_capture, name, Arc::clone(&relayed));
    relay.on_output = on_output;
    relay.splicing = relay.untreated();
    // A handed-over stream's filters go on where the vigild before left them.
    if let Some(seed) = seed {
        relay.seed(&seed);
        relay.keep_held();
    }
    let kept_filters = Arc::clone(&relay.held_slot);
    // SAFETY: F_GETPIPE_SZ on a pipe fd we own; no memory is passed.
    let capacity = unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_GETPIPE_SZ) };
    relay.pipe_capacity = usize::try_from(capacity).unwrap_or(0);
    relay.first = first;
    set_nonblocking(&pipe)?;
    let fd = Arc::new(PipeFd(AtomicI32::new(pipe.as_raw_fd())));
    let held = Arc::clone(&fd);
    let pipe = File::from(pipe);
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) if !relay.stream.may_block() => {
            runtime.spawn(async move {
                // Dropped when the task ends, which wakes whoever waits on `Drained`.
                let _done = done;
                relay.run_async(pipe, held).await;
            });
        }
        _ => {
            if relay.splicing {
                // Its target may be a FIFO: splicing straight into it could only spin while
                // it is full, so without a stage the bytes go the read/write way.
                relay.own_stage = Stage::new().ok();
                relay.splicing = relay.own_stage.is_some();
            }
            std::thread::Builder::new()
                .name(format!("log {name}"))
                .stack_size(STACK)
                .spawn(move || {
                    let _done = done;
                    relay.run_blocking(&pipe, &held);
                })?;
        }
    }
    Ok(Drained {
        done: drained,
        relayed,
        fd,
        held: kept_filters,
    })
}

/// The pipe's fd number while its capture holds it open, -1 once it is closed: what a
/// handover passes on (frozen captures never close their pipes).
#[derive(Debug)]
struct PipeFd(AtomicI32);

impl PipeFd {
    /// The capture has ended; its pipe is closed (or about to be, with the relay's task).
    fn closed(&self) {
        self.0.store(-1, Ordering::SeqCst);
    }
}

fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on an fd we own; no memory is passed.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Where one pipe's bytes go, and the treatment they get on the way.
struct Relay {
    stream: Arc<LogStream>,
    /// What the filters hold after the last drain, for a handover (only where they may).
    held_slot: Arc<Mutex<Held>>,
    splitter: Option<CaptureSplitter>,
    stripper: Option<AnsiStripper>,
    stamper: Option<Timestamper>,
    json: Option<JsonLines>,
    on_capture: OnCapture,
    on_output: Option<OnOutput>,
    /// Bytes go pipe → file untouched (zero-copy) until splice turns out not to serve.
    splicing: bool,
    /// The pipe's buffer size, which decides whether splices are batched.
    pipe_capacity: usize,
    /// At loglevel=debug supervisord also copies child output into the main log, so the
    /// bytes must pass through here.
    echo_to_main_log: bool,
    name: String,
    /// What this capture has put into the stream (crash records take their tail from it).
    relayed: Arc<Relayed>,
    /// The stage of a capture with a thread of its own (a target that can stall); other
    /// captures borrow one from `stages` per batch.
    own_stage: Option<Stage>,
    stages: &'static StagePool,
    /// The spawn marker, written before any output.
    first: Option<Vec<u8>>,
}

impl Relay {
    fn new(
        stream: Arc<LogStream>,
        treatment: Treatment,
        on_capture: OnCapture,
        name: &str,
        relayed: Arc<Relayed>,
    ) -> Self {
        let mut relay = Relay {
            stream,
            held_slot: Arc::default(),
            splitter: (treatment.capture_maxbytes > 0)
                .then(|| CaptureSplitter::new(treatment.capture_maxbytes)),
            stripper: treatment.strip_ansi.then(AnsiStripper::default),
            stamper: treatment.timestamps.then(Timestamper::default),
            json: treatment
                .json
                .as_ref()
                .map(|(process, pid, stream)| JsonLines::new(process, *pid, stream)),
            on_capture,
            on_output: None,
            splicing: false,
            pipe_capacity: 0,
            echo_to_main_log: tracing::enabled!(tracing::Level::DEBUG),
            name: name.to_string(),
            relayed,
            own_stage: None,
            stages: &STAGES,
            first: None,
        };
        relay.splicing = relay.untreated();
        relay
    }

    /// Whether the bytes may go from the pipe to the file untouched (zero-copy splice).
    /// What its filters hold now.
    fn held(&self) -> Held {
        let mut held = Held::default();
        if let Some(splitter) = &self.splitter {
            splitter.hold(&mut held);
        }
        if let Some(stripper) = &self.stripper {
            stripper.hold(&mut held);
        }
        if let Some(json) = &self.json {
            json.hold(&mut held);
        }
        if let Some(stamper) = &self.stamper {
            stamper.hold(&mut held);
        }
        held
    }

    /// Its filters take up where a handed-over stream's left off.
    fn seed(&mut self, held: &Held) {
        if let Some(splitter) = &mut self.splitter {
            splitter.seed(held);
        }
        if let Some(stripper) = &mut self.stripper {
            stripper.seed(held);
        }
        if let Some(json) = &mut self.json {
            json.seed(held);
        }
        if let Some(stamper) = &mut self.stamper {
            stamper.seed(held);
        }
    }

    /// Publishes what the filters hold, where they may hold anything.
    fn keep_held(&self) {
        if self.holds() {
            *self
                .held_slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = self.held();
        }
    }

    /// Whether a filter may hold bytes between reads (what a handover must carry).
    fn holds(&self) -> bool {
        self.splitter.is_some()
            || self.stripper.is_some()
            || self.json.is_some()
            || self.stamper.is_some()
    }

    fn untreated(&self) -> bool {
        self.splitter.is_none()
            && self.on_output.is_none()
            && self.stripper.is_none()
            && self.stamper.is_none()
            && self.json.is_none()
            && !self.echo_to_main_log
    }

    /// At the pipe's end: what a filter still holds (a JSON line without its newline).
    fn finish(&mut self) {
        if let Some(json) = &mut self.json {
            let mut out = Vec::new();
            json.finish(SystemTime::now(), &mut out);
            if !out.is_empty() {
                let end = self.stream.append(&out);
                self.relayed.wrote(out.len(), end);
            }
        }
    }

    /// Treats `bytes` and appends them to the stream.
    fn deliver(&mut self, bytes: &[u8]) {
        let mut data = Cow::Borrowed(bytes);
        if let Some(splitter) = &mut self.splitter {
            let mut log = Vec::with_capacity(data.len());
            for block in splitter.split(&data, &mut log) {
                (self.on_capture)(block);
            }
            data = Cow::Owned(log);
        }
        if let Some(stripper) = &mut self.stripper {
            let mut out = Vec::with_capacity(data.len());
            stripper.strip(&data, &mut out);
            data = Cow::Owned(out);
        }
        if let Some(on_output) = &mut self.on_output {
            on_output(&data);
        }
        if let Some(json) = &mut self.json {
            let mut out = Vec::with_capacity(data.len() + 128);
            json.wrap(&data, SystemTime::now(), &mut out);
            data = Cow::Owned(out);
        } else if let Some(stamper) = &mut self.stamper {
            let mut out = Vec::with_capacity(data.len() + 64);
            stamper.stamp(&data, SystemTime::now(), &mut out);
            data = Cow::Owned(out);
        }
        let end = self.stream.append(&data);
        self.relayed.wrote(data.len(), end);
        if self.echo_to_main_log {
            let name = self.name.as_str();
            let (process, channel) = name.rsplit_once(' ').unwrap_or((name, ""));
            tracing::debug!(
                "'{process}' {channel} output:\n{}",
                String::from_utf8_lossy(&data)
            );
        }
    }

    /// What a new child's capture does first, on a thread that may wait on the disk: the
    /// log file is opened afresh if it was removed or replaced while no child wrote to it
    /// (as supervisord opens a child's logs at every spawn), then the spawn marker.
    fn open_stream(&mut self) {
        self.stream.reopen_if_replaced();
        if let Some(first) = self.first.take() {
            self.stream.append(&first);
        }
    }

    /// The task's loop: wait until the (non-blocking) pipe is readable, then drain it on a
    /// blocking thread, until its end. A slow disk thus holds a blocking thread, never the
    /// runtime's workers (where the supervisor task runs), and an idle pipe holds nothing.
    ///
    /// The pipe is watched only while idle: registered for readiness while the task waits,
    /// deregistered while a drain runs, so a streaming child's every write does not also wake
    /// a runtime worker. A registration reports data that arrived before it.
    async fn run_async(self, pipe: File, held: Arc<PipeFd>) {
        let mut relay = self;
        // Whether the log file may be open (something was written since the spawn): only
        // then does a quiet pipe lead to a rest, so a program that never writes costs none.
        let mut wrote = relay.first.is_some();
        let opened = tokio::task::spawn_blocking(move || {
            relay.open_stream();
            relay
        });
        let Ok(opened) = opened.await else {
            return held.closed();
        };
        relay = opened;
        let mut pipe = pipe;
        loop {
            // SAFETY: the File owns the fd and is never replaced while the AsyncFd holds it.
            let watched = match unsafe { AsyncFd::register_with_interest(pipe, Interest::READABLE) }
            {
                Ok(watched) => watched,
                Err(err) => {
                    let (_, err) = err.into_parts();
                    tracing::error!("could not watch the {} pipe: {err}", relay.name);
                    return held.closed();
                }
            };
            let quiet = if wrote {
                tokio::time::timeout(REST_AFTER, watched.readable()).await
            } else {
                Ok(watched.readable().await)
            };
            let ready = if let Ok(ready) = quiet {
                ready.map(drop)
            } else {
                // Rested: wait without a limit until the child writes again.
                relay.rest_stream().await;
                watched.readable().await.map(drop)
            };
            if let Err(err) = ready {
                tracing::error!("could not watch the {} pipe: {err}", relay.name);
                return held.closed();
            }
            pipe = watched.into_inner();
            // A handover freezes the pipes: the bytes wait in the pipe for the next vigild.
            let Some(operation) = crate::freeze::Operation::begin() else {
                crate::freeze::thawed().await;
                continue;
            };
            let held_here = Arc::clone(&held);
            let job = tokio::task::spawn_blocking(move || {
                let _operation = operation;
                let end = relay.drain(&pipe);
                relay.keep_held();
                if let PipeEnd::Reached = end {
                    // Before the operation ends: a handover must not pass this fd on.
                    held_here.closed();
                    // The child is gone: its log rests, on this thread already.
                    relay.stream.rest();
                }
                (relay, pipe, end)
            });
            let Ok((back, back_pipe, end)) = job.await else {
                return held.closed();
            };
            (relay, pipe) = (back, back_pipe);
            wrote = true;
            if let PipeEnd::Reached = end {
                return held.closed();
            }
        }
    }

    /// Lets the log file rest (closed until the next write), on a blocking thread: the
    /// stream's lock may be held by a writer on a slow disk, and a close may wait on a
    /// network filesystem.
    fn rest_stream(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let stream = Arc::clone(&self.stream);
        async move {
            let _ = tokio::task::spawn_blocking(move || stream.rest()).await;
        }
    }

    /// Moves what the non-blocking `pipe` holds, and what keeps arriving while output
    /// streams, into the stream.
    fn drain(&mut self, pipe: &File) -> PipeEnd {
        let mut buffer = Vec::new();
        loop {
            // A handover's freeze: the batch written, the rest waits in the pipe.
            if crate::freeze::frozen() {
                return PipeEnd::Empty;
            }
            let moved = if self.splicing {
                // Poll before each splice, as the thread path does: splicing again straight
                // after a splice moves smaller pieces and cost a third more CPU (measured
                // with benches/compare.py --only logs).
                if !wait_readable(pipe, LINGER_MS) {
                    return PipeEnd::Empty;
                }
                self.let_pipe_fill(pipe);
                match self.splice_batch(pipe) {
                    Ok(Some(n)) => Ok(n),
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => Err(err),
                    // Not possible here, or failing (a full disk): the read/write path takes
                    // over and reports write errors while the ring keeps the output.
                    Ok(None) | Err(_) => {
                        self.splicing = false;
                        self.own_stage = None;
                        continue;
                    }
                }
            } else {
                if buffer.is_empty() {
                    buffer.resize(CHUNK, 0);
                }
                let mut reader = pipe;
                reader.read(&mut buffer).inspect(|n| {
                    if *n > 0 {
                        self.deliver(&buffer[..*n]);
                    }
                })
            };
            match moved {
                Ok(0) => {
                    self.finish();
                    return PipeEnd::Reached;
                }
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    // Streaming output refills the pipe within moments: wait for it here
                    // rather than hand the pipe back and forth.
                    if !wait_readable(pipe, LINGER_MS) {
                        return PipeEnd::Empty;
                    }
                }
                Err(err) => {
                    tracing::error!("could not read the {} pipe: {err}", self.name);
                    return PipeEnd::Reached;
                }
            }
        }
    }

    /// Moves what `pipe` holds into the file, through a [`Stage`] when one is to be had:
    /// `Ok(Some(n))` moved `n` bytes (0: the pipe's end); `Ok(None)`: the file cannot be
    /// spliced into (any staged bytes went the read/write way).
    fn splice_batch(&mut self, pipe: &File) -> io::Result<Option<usize>> {
        if let Some(stage) = self.own_stage.take() {
            let moved = self.splice_staged(pipe, &stage);
            if stage.reusable_after(&moved) {
                self.own_stage = Some(stage);
            }
            return moved;
        }
        let Some(lease) = self.stages.take() else {
            // Every stage is in use: straight from the child's pipe, as before stages (only
            // regular files come here; they never make a splice wait).
            return self.splice_into_file(pipe, PIPE_BUFFER as usize, true);
        };
        let moved = self.splice_staged(pipe, lease.stage());
        if !lease.stage().reusable_after(&moved) {
            lease.discard();
        }
        moved
    }

    /// Moves what `pipe` holds into the empty `stage`, then from there into the file. Leaves
    /// the stage empty unless it fails.
    fn splice_staged(&mut self, pipe: &File, stage: &Stage) -> io::Result<Option<usize>> {
        let staged = stage.fill(pipe)?;
        let mut left = staged;
        while left > 0 {
            match self.splice_into_file(&stage.read, left, false) {
                Ok(Some(moved)) if moved > 0 => left -= moved,
                // The file cannot take them this way (or fails, e.g. a full disk): the
                // staged bytes go through `deliver`, which reports write errors.
                _ => {
                    let mut bytes = vec![0; bytes_waiting(&stage.read)];
                    (&stage.read).read_exact(&mut bytes)?;
                    self.deliver(&bytes);
                    return Ok(None);
                }
            }
        }
        Ok(Some(staged))
    }

    /// One splice from `pipe` into the stream's file, accounted as relayed.
    fn splice_into_file(
        &mut self,
        pipe: &File,
        max: usize,
        nonblocking: bool,
    ) -> io::Result<Option<usize>> {
        let spliced = self.stream.splice_from(pipe.as_fd(), max, nonblocking)?;
        Ok(spliced.map(|(moved, end)| {
            self.relayed.wrote(moved, end);
            moved
        }))
    }

    /// While output streams, lets a roomy pipe fill a little before the next splice: each
    /// splice then moves more, and the relay sleeps and wakes far less often per gigabyte
    /// (most of its CPU above the bare page-cache copy). The pause is short enough that a
    /// pipe of `BATCH_PIPE` bytes cannot fill during it at any rate a child can write, so
    /// the child never waits for it; a small pipe (not root) gets no pause.
    fn let_pipe_fill(&self, pipe: &File) {
        if self.pipe_capacity >= BATCH_PIPE && bytes_waiting(pipe) < BATCH_BYTES {
            std::thread::sleep(BATCH_PAUSE);
        }
    }

    /// The thread's loop, for targets that may block: the same drains, waiting on this
    /// thread between them, until the pipe's end. A stalled target stalls only this thread.
    fn run_blocking(mut self, pipe: &File, held: &PipeFd) {
        self.open_stream();
        loop {
            // A handover freezes the pipes: the bytes wait in the pipe for the next vigild.
            let Some(operation) = crate::freeze::Operation::begin() else {
                crate::freeze::thawed_blocking();
                continue;
            };
            let end = self.drain(pipe);
            self.keep_held();
            if let PipeEnd::Reached = end {
                // Before the operation ends: a handover must not pass this fd on.
                held.closed();
                return;
            }
            drop(operation);
            wait_readable(pipe, -1);
        }
    }
}

/// A pipe between a child's pipe and its log file.
///
/// A splice into a file holds the source pipe's lock for the whole write: the page-cache
/// copy and any wait for writeback. Splicing straight from the child's pipe thus blocked
/// the child's writes for that long, though its pipe had room. Moving the pages into the
/// stage holds the child's pipe only for a page-reference move (no copy); the file write
/// then holds the stage alone. The relay ran about 1.2x as fast, at about 6% more CPU per
/// GB (benches/compare.py --only logs, and paired runs against the direct splice).
struct Stage {
    read: File,
    write: File,
    capacity: usize,
}

/// Most pooled stages that exist at once, two fds each (a fleet near its fd limit must not
/// lose spawns to them). Drains beyond that splice straight from the child's pipe. A capture
/// with a thread of its own (a FIFO or terminal target, rare) has its own stage besides.
const MAX_STAGES: usize = 16;

/// The stages of all captures without a thread of their own.
static STAGES: StagePool = StagePool::new(MAX_STAGES);

/// Stages lent out one batch at a time, at most `max` of them in existence.
struct StagePool {
    /// Stages not in use, and how many exist.
    state: Mutex<(Vec<Stage>, usize)>,
    max: usize,
}

impl StagePool {
    const fn new(max: usize) -> Self {
        StagePool {
            state: Mutex::new((Vec::new(), 0)),
            max,
        }
    }

    fn lock(&self) -> MutexGuard<'_, (Vec<Stage>, usize)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An idle stage, or a new one while fewer than `max` exist.
    fn take(&'static self) -> Option<StageLease> {
        let mut state = self.lock();
        let stage = match state.0.pop() {
            Some(stage) => stage,
            None if state.1 < self.max => {
                let stage = Stage::new()
                    .inspect_err(|err| tracing::debug!("no stage pipe for a log relay: {err}"))
                    .ok()?;
                state.1 += 1;
                stage
            }
            None => return None,
        };
        Some(StageLease {
            stage: Some(stage),
            pool: self,
        })
    }
}

/// A stage lent to one batch of a drain; back to its pool when dropped.
struct StageLease {
    stage: Option<Stage>,
    pool: &'static StagePool,
}

impl StageLease {
    fn stage(&self) -> &Stage {
        self.stage
            .as_ref()
            .expect("a lease holds its stage until dropped")
    }

    /// Closes a stage that may still hold bytes, rather than lend it again.
    fn discard(mut self) {
        self.stage = None;
        self.pool.lock().1 -= 1;
    }
}

impl Drop for StageLease {
    fn drop(&mut self) {
        let Some(stage) = self.stage.take() else {
            return;
        };
        let mut state = self.pool.lock();
        // A batch that panicked may have left bytes in it, for another log to get.
        if std::thread::panicking() && !stage.is_empty() {
            state.1 -= 1;
        } else {
            state.0.push(stage);
        }
    }
}

impl Stage {
    fn new() -> io::Result<Stage> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        // As for the children's pipes: bigger only as root (per-user pipe quota).
        if nix::unistd::geteuid().is_root() {
            // SAFETY: F_SETPIPE_SZ on a pipe fd we own; no memory is passed.
            unsafe {
                libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BUFFER);
            }
        }
        // SAFETY: F_GETPIPE_SZ on a pipe fd we own; no memory is passed.
        let capacity = unsafe { libc::fcntl(write.as_raw_fd(), libc::F_GETPIPE_SZ) };
        Ok(Stage {
            read: File::from(read),
            write: File::from(write),
            capacity: usize::try_from(capacity).unwrap_or(libc::PIPE_BUF),
        })
    }

    /// Whether the stage holds nothing (a failed batch may have left bytes in it).
    fn is_empty(&self) -> bool {
        bytes_waiting(&self.read) == 0
    }

    /// Whether the stage may serve another batch after one that ended in `moved`: a batch
    /// that succeeded left it empty; one that failed may have left bytes behind.
    fn reusable_after<T>(&self, moved: &io::Result<T>) -> bool {
        moved.is_ok() || self.is_empty()
    }

    /// Moves what the non-blocking `source` holds, up to the stage's size, into the empty
    /// stage: the bytes moved, 0 at the source's end, `WouldBlock` while it is empty.
    fn fill(&self, source: &File) -> io::Result<usize> {
        // SAFETY: both fds are open for the call; no offsets or user memory are passed.
        let moved = unsafe {
            libc::splice(
                source.as_raw_fd(),
                std::ptr::null_mut(),
                self.write.as_raw_fd(),
                std::ptr::null_mut(),
                self.capacity,
                libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
            )
        };
        usize::try_from(moved).map_err(|_| io::Error::last_os_error())
    }
}

/// Where a drain of a non-blocking pipe stopped.
enum PipeEnd {
    /// The pipe is empty for now.
    Empty,
    /// Every writer has closed it (or it failed): the capture is over.
    Reached,
}

/// How many bytes `pipe` holds now (0 when that cannot be told).
fn bytes_waiting(pipe: &File) -> usize {
    let mut waiting: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int to the pointer we pass, which lives on this stack.
    let result = unsafe { libc::ioctl(pipe.as_raw_fd(), libc::FIONREAD, &mut waiting) };
    if result < 0 {
        0
    } else {
        usize::try_from(waiting).unwrap_or(0)
    }
}

/// Waits up to `millis` for `pipe` to become readable.
fn wait_readable(pipe: &File, millis: libc::c_int) -> bool {
    let mut poll = libc::pollfd {
        fd: pipe.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&raw mut poll, 1, millis) > 0 }
}

/// What a capture has put into its stream: how many bytes, ending where.
#[derive(Debug, Default)]
struct Relayed {
    bytes: AtomicU64,
    end: AtomicU64,
}

impl Relayed {
    fn wrote(&self, bytes: usize, end: u64) {
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.end.store(end, Ordering::Relaxed);
    }
}

/// Tells when a capture has copied everything its pipe will ever carry, and what it copied.
#[derive(Debug)]
pub struct Drained {
    done: std::sync::mpsc::Receiver<()>,
    relayed: Arc<Relayed>,
    fd: Arc<PipeFd>,
    held: Arc<Mutex<Held>>,
}

impl Drained {
    /// Waits until the pipe is drained, at most `limit` (a grandchild may keep it open).
    pub fn wait(&self, limit: std::time::Duration) {
        let _ = self.done.recv_timeout(limit);
    }

    /// What the stream's filters hold after their last drain (stable while pipes are
    /// frozen): what a handover passes on.
    pub fn held(&self) -> Held {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The pipe's fd while the capture holds it (a handover passes it on), None once the
    /// pipe has ended.
    pub fn pipe_fd(&self) -> Option<i32> {
        let fd = self.fd.0.load(Ordering::SeqCst);
        (fd >= 0).then_some(fd)
    }

    /// Bytes the capture has put into its stream so far, and the stream offset after the
    /// last of them.
    pub fn relayed(&self) -> (u64, u64) {
        (
            self.relayed.bytes.load(Ordering::Relaxed),
            self.relayed.end.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relays `count` numbered lines, written by a thread, through `stages` into a log that
    /// rotates every 50,000 bytes (not a whole number of pages, so batches straddle the
    /// rotations); returns the kept files' contents, oldest first, and the lines.
    fn relay_numbered_lines(stages: &'static StagePool, count: u32) -> (String, String) {
        use super::super::file::{LogFile, Rotation};
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("out.log");
        let rotation = Rotation {
            maxbytes: 50_000,
            backups: 1000,
            every: None,
            compress: None,
        };
        let file = LogFile::open(&path, rotation).expect("log file");
        let stream = Arc::new(LogStream::new("test", Some(file), 1 << 16));
        let on_capture: OnCapture = Box::new(|_| {});
        let mut relay = Relay::new(
            Arc::clone(&stream),
            Treatment::default(),
            on_capture,
            "test stdout",
            Arc::default(),
        );
        relay.stages = stages;
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe");
        set_nonblocking(&read).expect("non-blocking");
        let lines: String = (1..=count).map(|n| format!("line {n}\n")).collect();
        let writer = {
            let lines = lines.clone();
            std::thread::spawn(move || {
                let mut write = File::from(write);
                std::io::Write::write_all(&mut write, lines.as_bytes()).expect("write");
            })
        };
        relay.run_blocking(&File::from(read), &PipeFd(AtomicI32::new(-1)));
        writer.join().expect("writer");
        let mut backups: Vec<u32> = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(|entry| {
                entry
                    .ok()?
                    .file_name()
                    .to_str()?
                    .strip_prefix("out.log.")?
                    .parse()
                    .ok()
            })
            .collect();
        backups.sort_unstable_by(|a, b| b.cmp(a));
        let mut files: Vec<_> = backups
            .iter()
            .map(|n| dir.path().join(format!("out.log.{n}")))
            .collect();
        files.push(path);
        let logged = files
            .iter()
            .map(|file| std::fs::read_to_string(file).expect("read log"))
            .collect();
        (logged, lines)
    }

    #[test]
    fn every_byte_reaches_the_rotating_file_through_a_stage_or_straight() {
        static ONE_STAGE: StagePool = StagePool::new(1);
        static NO_STAGE: StagePool = StagePool::new(0);
        for stages in [&ONE_STAGE, &NO_STAGE] {
            let (logged, lines) = relay_numbered_lines(stages, 300_000);
            assert!(
                logged == lines,
                "{} bytes logged of {}",
                logged.len(),
                lines.len()
            );
        }
        assert_eq!(ONE_STAGE.lock().1, 1, "the stage was not used");
    }

    #[test]
    fn the_stage_pool_stays_within_its_size_and_reuses_stages() {
        static POOL: StagePool = StagePool::new(2);
        let first = POOL.take().expect("a first stage");
        let second = POOL.take().expect("a second stage");
        assert!(
            POOL.take().is_none(),
            "a third stage beyond the pool's size"
        );
        let fd = first.stage().read.as_raw_fd();
        drop(first);
        let again = POOL.take().expect("the returned stage");
        assert_eq!(again.stage().read.as_raw_fd(), fd, "not reused");
        second.discard();
        assert!(POOL.take().is_some(), "no room after a discard");
        drop(again);
    }
}
