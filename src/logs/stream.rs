//! One log stream (a child's stdout or stderr, or the main log): its file, an in-memory ring
//! of its last bytes, and supervisord's read and tail semantics over both.
//!
//! Every byte has a stream offset (bytes written since the stream was opened, counting what
//! the file already held). Offsets given to [`LogStream::read`] are offsets in the current
//! file, as supervisord's `readProcessStdoutLog` uses them; [`LogStream::tail`] uses stream
//! offsets, which equal file offsets until the first rotation and keep counting after it,
//! so a tail continues across a rotation. Bytes are served from the ring when it holds them,
//! else from the current file and the one rotation moved to `name.1`.

use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::file::{read_file_at, LogFile, Rotation, Written};
use super::ring::Ring;

/// Why a read could not be served (supervisord's NO_FILE, BAD_ARGUMENTS, FAILED).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The stream has no log file (NONE, syslog, or the file could not be opened).
    #[error("NO_FILE")]
    NoFile,
    /// An offset/length combination supervisord rejects.
    #[error("BAD_ARGUMENTS")]
    BadArguments,
    /// Reading the file failed.
    #[error("FAILED: {0}")]
    Failed(String),
}

/// The result of a tail call: data, the offset to pass next time, and whether bytes were
/// skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    /// The bytes.
    pub data: Vec<u8>,
    /// Where the next call continues (the stream's length).
    pub offset: u64,
    /// More bytes were available than `length`, or some were no longer available.
    pub overflow: bool,
}

/// Most bytes one `read` returns: above supervisord's default 50 MB `logfile_maxbytes`, so a
/// whole default log still comes in one call, while a call on a huge unrotated file cannot
/// make vigild hold all of it at once (a client reads on from the offset it got to).
pub const READ_CAP: u64 = 64 << 20;

struct State {
    file: Option<LogFile>,
    /// The file this stream is to write, until its first child's start opens (creates) it.
    unopened: Option<Unopened>,
    /// The last bytes; its end is always the stream's length.
    ring: Ring,
    /// Stream offset of the current file's first byte.
    file_start: u64,
    /// The file the last rotation produced (`name.1`) and its first byte's stream offset.
    previous_file: Option<(PathBuf, u64)>,
    write_failed: bool,
    /// Reopening a removed or replaced file failed, and was reported.
    reopen_failed: bool,
}

/// A log file named but not opened (created) yet.
struct Unopened {
    path: PathBuf,
    rotation: Rotation,
    /// supervisord would have the file already: it names an AUTO log with `mkstemp`, which
    /// creates it, so until it is opened a read answers as for an empty file, not NO_FILE.
    reads_as_empty: bool,
}

/// A log stream shared by the thread that writes it and the readers.
///
/// The supervisor task must not call methods that lock the state (a writer stuck on a slow
/// disk holds the lock); [`LogStream::path`] needs no lock.
pub struct LogStream {
    label: String,
    /// The file's path; changes only when the main log is given a new `logfile`.
    path: Mutex<Option<PathBuf>>,
    /// Writes may block for long: the file is a pipe, FIFO or terminal (`/dev/stdout`), whose
    /// reader may stop reading. Known once the file is open.
    may_block: AtomicBool,
    state: Mutex<State>,
    /// Woken after every write, for followers (`tail -f`).
    grown: tokio::sync::Notify,
}

impl LogStream {
    /// A stream writing to `file` (or only to memory when `None`), keeping the last
    /// `ring_bytes` bytes in memory. `label` names it in error messages.
    pub fn new(label: impl Into<String>, file: Option<LogFile>, ring_bytes: usize) -> Self {
        let existing = file.as_ref().map_or(0, LogFile::len);
        let mut ring = Ring::new(ring_bytes);
        ring.skip_to(existing);
        LogStream {
            label: label.into(),
            path: Mutex::new(file.as_ref().map(|f| f.path().to_path_buf())),
            may_block: AtomicBool::new(file.as_ref().is_some_and(|f| !f.is_readable())),
            state: Mutex::new(State {
                file,
                unopened: None,
                ring,
                file_start: 0,
                previous_file: None,
                write_failed: false,
                reopen_failed: false,
            }),
            grown: tokio::sync::Notify::new(),
        }
    }

    /// A stream that is to write `path` but does not open it yet: a child's log is created
    /// when its program is first started ([`LogStream::open`], on the start's preparation
    /// thread), as supervisord creates it at spawn, so making a fleet's table touches no
    /// disk. Until then reads answer as for a missing file, or with `reads_as_empty` (an
    /// AUTO log, which supervisord creates when it names it) as for an empty one.
    pub fn unopened(
        label: impl Into<String>,
        (path, rotation): (PathBuf, Rotation),
        ring_bytes: usize,
        reads_as_empty: bool,
    ) -> Self {
        let stream = LogStream::new(label, None, ring_bytes);
        *stream.path.lock().unwrap_or_else(PoisonError::into_inner) = Some(path.clone());
        stream.lock().unopened = Some(Unopened {
            path,
            rotation,
            reads_as_empty,
        });
        stream
    }

    /// Opens (creating) the file of an [`LogStream::unopened`] stream, and closes it again
    /// until the child writes; nothing to do for a stream that is open or has no file. A
    /// failure leaves the stream unopened, for the next start to try again. Locks the state
    /// and touches the disk: never on the supervisor task.
    pub fn open(&self) -> std::io::Result<()> {
        self.open_in(&mut self.lock(), false)
    }

    /// Opens the file of an unopened stream in `state` (see [`State::open_unopened`]) and
    /// records whether its writes may block.
    fn open_in(&self, state: &mut State, only_existing: bool) -> std::io::Result<()> {
        state.open_unopened(&self.label, only_existing)?;
        if let Some(file) = &state.file {
            self.may_block.store(!file.is_readable(), Ordering::Relaxed);
        }
        Ok(())
    }

    /// For a read of an unopened stream: the file an earlier run left, if there is one.
    fn open_existing(&self, state: &mut State) {
        if let Err(err) = self.open_in(state, true) {
            tracing::debug!("could not open the {} log to read it: {err}", self.label);
        }
    }

    /// Resolves after the next write; create it before reading, so no write is missed.
    pub fn grown(&self) -> tokio::sync::futures::Notified<'_> {
        self.grown.notified()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a write may block for long (the target is not a regular file), so its writer
    /// needs a thread of its own.
    pub fn may_block(&self) -> bool {
        self.may_block.load(Ordering::Relaxed)
    }

    /// The log file's path, if the stream has one (its own lock, never held while writing).
    pub fn path(&self) -> Option<PathBuf> {
        self.with_path(|path| path.map(Path::to_path_buf))
    }

    /// `read` of the log file's path, without copying it: a fleet-wide answer reads every
    /// stream's path.
    pub fn with_path<T>(&self, read: impl FnOnce(Option<&Path>) -> T) -> T {
        read(
            self.path
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_deref(),
        )
    }

    /// Writes to `file` from now on (none: memory only), as a reload's new `logfile` asks
    /// of the main log; what was written before stays readable from memory.
    pub fn retarget(&self, file: Option<LogFile>) {
        *self.path.lock().unwrap_or_else(PoisonError::into_inner) =
            file.as_ref().map(|f| f.path().to_path_buf());
        let mut state = self.lock();
        let len = file.as_ref().map_or(0, LogFile::len);
        self.may_block.store(
            file.as_ref().is_some_and(|f| !f.is_readable()),
            Ordering::Relaxed,
        );
        state.unopened = None;
        state.file = file;
        state.write_failed = false;
        state.reopen_failed = false;
        state.started_new_file(len);
    }

    /// Bytes written to the stream so far (including what the file held when opened).
    pub fn total(&self) -> u64 {
        self.lock().ring.end()
    }

    /// Appends `bytes` to the file and the ring; returns the stream offset after them. A
    /// failing file is reported once and the bytes still reach the ring.
    pub fn append(&self, bytes: &[u8]) -> u64 {
        let mut state = self.lock();
        if bytes.is_empty() {
            return state.ring.end();
        }
        state.follow_path(false, &self.label);
        let rotation_failed = state.rotate_if_due();
        let written = state.file.as_mut().map(|file| file.write(bytes));
        let mut report = None;
        match written {
            Some(Ok(written)) => state.stored(written),
            Some(Err(err)) => {
                if !state.write_failed {
                    report = Some(err);
                }
                state.write_failed = true;
            }
            None => {}
        }
        state.ring.push(bytes);
        let end = state.ring.end();
        drop(state);
        self.grown.notify_waiters();
        // Reported without the lock: for the main log, this line comes back through
        // `append` (and, the failure being recorded, is not reported again).
        if let Some(err) = report {
            tracing::error!("could not write the {} log: {err}", self.label);
        }
        if let Some(err) = rotation_failed {
            tracing::error!("could not rotate the {} log: {err}", self.label);
        }
        end
    }

    /// Moves what `pipe` holds into the file without copying it through user space (the
    /// ring then starts over empty: reads come from the files). Gives the bytes moved and
    /// the stream offset after them; `Ok(None)`: splice cannot serve this stream, use
    /// [`LogStream::append`]; `Ok(Some((0, _)))`: the pipe is at its end. `nonblocking`: as
    /// for [`LogFile::splice_from`].
    pub fn splice_from(
        &self,
        pipe: BorrowedFd<'_>,
        max: usize,
        nonblocking: bool,
    ) -> std::io::Result<Option<(usize, u64)>> {
        let mut state = self.lock();
        state.follow_path(false, &self.label);
        if let Some(err) = state.rotate_if_due() {
            drop(state);
            tracing::error!("could not rotate the {} log: {err}", self.label);
            state = self.lock();
        }
        let Some(file) = state.file.as_mut() else {
            return Ok(None);
        };
        let Some(written) = file.splice_from(pipe, max, nonblocking)? else {
            return Ok(None);
        };
        state.stored(written);
        let end = state.ring.end() + written.bytes as u64;
        state.ring.skip_to(end);
        drop(state);
        self.grown.notify_waiters();
        Ok(Some((written.bytes, end)))
    }

    /// Closes the file until the next write: a quiet or ended child's log holds no fd (see
    /// [`LogFile::rest`]). Locks the state: never on the supervisor task.
    pub fn rest(&self) {
        if let Some(file) = self.lock().file.as_mut() {
            file.rest();
        }
    }

    /// Reopens the file (external rotation, SIGUSR2).
    pub fn reopen(&self) -> std::io::Result<()> {
        let mut state = self.lock();
        let Some(file) = state.file.as_mut() else {
            return Ok(());
        };
        let len = file.reopen()?;
        state.started_new_file(len);
        Ok(())
    }

    /// Opens the file afresh if it was removed or replaced since it was opened (at every
    /// spawn, as supervisord opens a child's logs; writes also look, once a second). When
    /// that fails the old file is kept, and the error reported once.
    pub fn reopen_if_replaced(&self) {
        self.lock().follow_path(true, &self.label);
    }

    /// Rotates the file now (vigil.rotateLogs, vigil.rotateMainLog): true when it did, false
    /// when there was nothing to rotate (no child has had the file yet, it is empty, or it
    /// is no regular file); NO_FILE for a stream without a file. Tails go on across it as
    /// across a rotation at `maxbytes`.
    pub fn rotate_now(&self) -> Result<bool, ReadError> {
        let mut state = self.lock();
        if state.unopened.is_some() {
            return Ok(false);
        }
        let Some(file) = state.file.as_mut() else {
            return Err(ReadError::NoFile);
        };
        if !file.rotate_now().map_err(failed)? {
            return Ok(false);
        }
        state.stored(Written {
            bytes: 0,
            rotated: true,
        });
        Ok(true)
    }

    /// Empties the file and the ring (clearLog, clearProcessLogs).
    pub fn clear(&self) -> Result<(), ReadError> {
        let mut state = self.lock();
        if state.unopened.is_some() {
            // No child has had the file yet: supervisord has nothing to clear either.
            return Ok(());
        }
        let Some(file) = state.file.as_mut() else {
            return Err(ReadError::NoFile);
        };
        file.clear().map_err(failed)?;
        state.ring.clear();
        state.file_start = state.ring.end();
        state.previous_file = None;
        Ok(())
    }

    /// The `count` bytes before stream offset `end`, as far as they are still held (a crash
    /// record's tail: what one child wrote, though the next may have written since).
    pub fn bytes_before(&self, end: u64, count: usize) -> Vec<u8> {
        Self::before(&self.lock(), end, count)
    }

    /// [`LogStream::bytes_before`], waiting at most `patience` for the stream: a writer stuck
    /// on a stalled target (a FIFO nobody reads) holds it for as long as that lasts, and
    /// what reads after an exit must not wait forever. `None` when the stream stayed busy.
    pub fn bytes_before_within(
        &self,
        end: u64,
        count: usize,
        patience: std::time::Duration,
    ) -> Option<Vec<u8>> {
        let deadline = std::time::Instant::now() + patience;
        loop {
            match self.state.try_lock() {
                Ok(state) => return Some(Self::before(&state, end, count)),
                Err(std::sync::TryLockError::Poisoned(poisoned)) => {
                    return Some(Self::before(&poisoned.into_inner(), end, count));
                }
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    fn before(state: &State, end: u64, count: usize) -> Vec<u8> {
        let end = end.min(state.ring.end());
        let from = end.saturating_sub(count as u64);
        match state.since(from, end - from) {
            // Bytes from `from` on may be gone: keep only what starts before `end`.
            Ok((mut bytes, start)) => {
                bytes.truncate(usize::try_from(end.saturating_sub(start)).unwrap_or(usize::MAX));
                bytes
            }
            Err(_) => Vec::new(),
        }
    }

    /// supervisord's `readProcessStdoutLog(offset, length)` / `readLog` semantics, at most
    /// [`READ_CAP`] bytes per call:
    /// `offset >= 0` reads `length` bytes (0 = to the end) of the current file from there;
    /// `offset < 0` with `length == 0` gives the last `-offset` bytes of the stream (across a
    /// rotation when they are still held); other combinations are BAD_ARGUMENTS.
    pub fn read(&self, offset: i64, length: i64) -> Result<Vec<u8>, ReadError> {
        let mut state = self.lock();
        self.open_existing(&mut state);
        let Some(file) = &state.file else {
            return match &state.unopened {
                Some(unopened) if unopened.reads_as_empty => {
                    read_range(offset, length).map(|_| Vec::new())
                }
                _ => Err(ReadError::NoFile),
            };
        };
        match read_range(offset, length)? {
            ReadRange::Last(wanted) => {
                let wanted = wanted.min(READ_CAP);
                let from = state.ring.end().saturating_sub(wanted);
                state.since(from, wanted).map(|(bytes, _)| bytes)
            }
            ReadRange::From(offset, length) => {
                let start = state.file_start + offset.min(file.len());
                let limit = if length == 0 {
                    READ_CAP
                } else {
                    length.min(READ_CAP)
                };
                state.since(start, limit).map(|(bytes, _)| bytes)
            }
        }
    }

    /// What follows stream offset `from`, at most `max` bytes, for a follower that must miss
    /// nothing still held (`/logtail`): unlike [`LogStream::tail`], a follower far behind
    /// gets the oldest bytes it missed first; `overflow` when some were no longer held. The
    /// returned offset is where the next call continues.
    pub fn after(&self, from: u64, max: u64) -> Result<Tail, ReadError> {
        let mut state = self.lock();
        self.open_existing(&mut state);
        let from = from.min(state.ring.end());
        let (data, start) = state.since(from, max)?;
        Ok(Tail {
            offset: start + data.len() as u64,
            overflow: start > from,
            data,
        })
    }

    /// supervisord's `tailProcessStdoutLog(offset, length)`: if more than `length` bytes
    /// follow `offset`, the last `length` bytes with `overflow`; else everything after
    /// `offset`; the returned offset is where the next call continues.
    pub fn tail(&self, offset: i64, length: i64) -> Result<Tail, ReadError> {
        let mut state = self.lock();
        self.open_existing(&mut state);
        if state.file.is_none() {
            return Ok(Tail {
                data: Vec::new(),
                offset: 0,
                overflow: false,
            });
        }
        if offset < 0 || length < 0 {
            return Err(ReadError::BadArguments);
        }
        let (offset, length) = (offset.unsigned_abs(), length.unsigned_abs());
        let end = state.ring.end();
        let from = offset.min(end).max(end.saturating_sub(length));
        let (data, start) = state.since(from, length)?;
        let lost = start > from;
        Ok(Tail {
            data,
            offset: end,
            overflow: lost || end.saturating_sub(offset) > length,
        })
    }
}

/// What a `read` asks for, by supervisord's rules.
enum ReadRange {
    /// The last bytes of the stream (a negative offset with length 0).
    Last(u64),
    /// `length` bytes (0: to the end) of the current file from `offset`.
    From(u64, u64),
}

/// `offset`/`length` of a read as a [`ReadRange`]; other combinations are BAD_ARGUMENTS.
fn read_range(offset: i64, length: i64) -> Result<ReadRange, ReadError> {
    match (offset, length) {
        (o, 0) if o < 0 => Ok(ReadRange::Last(o.unsigned_abs())),
        (o, l) if o >= 0 && l >= 0 => Ok(ReadRange::From(o.unsigned_abs(), l.unsigned_abs())),
        _ => Err(ReadError::BadArguments),
    }
}

impl State {
    /// Opens the file of an unopened stream (see [`LogStream::open`]); `only_existing`: only
    /// if it exists already (a read takes what an earlier run left there, as supervisord
    /// reads it by path, but creates nothing).
    fn open_unopened(&mut self, label: &str, only_existing: bool) -> std::io::Result<()> {
        let Some(unopened) = self.unopened.take() else {
            return Ok(());
        };
        let (path, rotation) = (&unopened.path, unopened.rotation);
        if only_existing && !path.exists() {
            self.unopened = Some(unopened);
            return Ok(());
        }
        if rotation.maxbytes > 0 && LogFile::is_unrotatable(path) {
            tracing::warn!(
                "the {label} log {} is not a regular file: rotation (logfile_maxbytes) is switched off for it",
                path.display()
            );
        }
        match LogFile::open(path, rotation) {
            Ok(mut file) => {
                let len = file.len();
                // Opened (created, as supervisord does) and closed until the child writes: a
                // fleet's logs hold fds only while output flows.
                file.rest();
                self.file = Some(file);
                if self.ring.end() == 0 {
                    self.ring.skip_to(len);
                }
                self.started_new_file(len);
                Ok(())
            }
            Err(err) => {
                self.unopened = Some(unopened);
                Err(err)
            }
        }
    }

    /// Reopens a file that was removed or replaced (see [`LogFile::reopen_if_replaced`]);
    /// when that fails the old file stays in use and the first failure is reported. (The
    /// report only queues a main-log line: it never waits on the main log's stream, and the
    /// main log itself never reopens by path.)
    fn follow_path(&mut self, now_anyway: bool, label: &str) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        match file.reopen_if_replaced(now_anyway) {
            Ok(reopened) => {
                self.reopen_failed = false;
                if let Some(len) = reopened {
                    self.started_new_file(len);
                }
            }
            Err(err) => {
                if !std::mem::replace(&mut self.reopen_failed, true) {
                    tracing::error!("could not reopen the {label} log: {err}");
                }
            }
        }
    }

    /// The file was opened afresh and holds `len` bytes: the stream's next byte follows
    /// them. Where the old file went (logrotate, `rm`) is unknown.
    fn started_new_file(&mut self, len: u64) {
        self.file_start = self.ring.end().saturating_sub(len);
        self.previous_file = None;
    }

    /// `*_logfile_rotate`: the rotation due before the next bytes. A failure is given back
    /// to be reported once the lock is released (the main log's report comes back through
    /// `append`); the bytes go on into the current file.
    fn rotate_if_due(&mut self) -> Option<std::io::Error> {
        let file = self.file.as_mut()?;
        match file.rotate_if_due(std::time::SystemTime::now) {
            Ok(true) => {
                self.stored(Written {
                    bytes: 0,
                    rotated: true,
                });
                None
            }
            Ok(false) => None,
            Err(err) => Some(err),
        }
    }

    fn stored(&mut self, written: Written) {
        self.write_failed = false;
        if written.rotated {
            let end = self.ring.end() + written.bytes as u64;
            let previous = self.file.as_ref().and_then(LogFile::previous_path);
            self.previous_file = previous.map(|path| (path, self.file_start));
            self.file_start = end;
        }
    }

    /// At most `limit` bytes from stream offset `from` on: from the ring when it holds them,
    /// else from the previous and current files; with the stream offset the result starts
    /// at, which is past `from` when those bytes are no longer available.
    fn since(&self, from: u64, limit: u64) -> Result<(Vec<u8>, u64), ReadError> {
        let cap = |mut bytes: Vec<u8>| {
            bytes.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            bytes
        };
        if let Some(bytes) = self.ring.since(from) {
            return Ok((cap(bytes), from));
        }
        let Some(file) = self.file.as_ref().filter(|file| file.is_readable()) else {
            let start = self.ring.start();
            return Ok((cap(self.ring.since(start).unwrap_or_default()), start));
        };
        let mut bytes = Vec::new();
        let mut from = from;
        let mut first = from;
        if from < self.file_start {
            match &self.previous_file {
                Some((path, start)) => {
                    if from < *start {
                        from = *start;
                        first = from;
                    }
                    let wanted = (self.file_start - from).min(limit);
                    bytes = read_file_at(path, from - start, wanted).map_err(failed)?;
                }
                None => first = self.file_start,
            }
            from = self.file_start;
        }
        let left = limit.saturating_sub(bytes.len() as u64);
        bytes.extend(file.read_at(from - self.file_start, left).map_err(failed)?);
        Ok((bytes, first))
    }
}

fn failed(err: std::io::Error) -> ReadError {
    ReadError::Failed(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::file::Rotation;

    fn stream(dir: &std::path::Path, rotation: Rotation, ring: usize) -> LogStream {
        let file = LogFile::open(&dir.join("x.log"), rotation).expect("open");
        LogStream::new("x stdout", Some(file), ring)
    }

    const NO_ROTATION: Rotation = Rotation {
        maxbytes: 0,
        backups: 0,
        every: None,
        compress: None,
    };

    #[test]
    fn one_read_returns_at_most_the_cap_and_the_next_goes_on_from_there() {
        let dir = tempfile::tempdir().expect("dir");
        let log = stream(dir.path(), NO_ROTATION, 1024);
        let chunk = vec![b'x'; 1 << 20];
        let whole = READ_CAP / (1 << 20);
        for _ in 0..whole {
            log.append(&chunk);
        }
        log.append(b"0123456789");
        let first = log.read(0, 0).expect("read to the end");
        assert_eq!(first.len() as u64, READ_CAP, "capped");
        let rest = log
            .read(i64::try_from(READ_CAP).expect("fits"), 0)
            .expect("read on");
        assert_eq!(rest, b"0123456789");
    }

    #[test]
    fn tail_matches_supervisords_verified_examples() {
        let dir = tempfile::tempdir().expect("dir");
        let log = stream(dir.path(), NO_ROTATION, 0);
        log.append(b"hello\n");
        let tail = log.tail(0, 3).expect("tail");
        assert_eq!(
            (tail.data.as_slice(), tail.offset, tail.overflow),
            (&b"lo\n"[..], 6, true)
        );
        let tail = log.tail(0, 100).expect("tail");
        assert_eq!(
            (tail.data.as_slice(), tail.offset, tail.overflow),
            (&b"hello\n"[..], 6, false)
        );
        let tail = log.tail(6, 100).expect("tail");
        assert_eq!((tail.data.len(), tail.offset), (0, 6));
    }

    #[test]
    fn read_offsets_and_lengths_follow_the_reference_table() {
        let dir = tempfile::tempdir().expect("dir");
        for ring in [0, 1 << 20] {
            let sub = tempfile::tempdir_in(dir.path()).expect("dir");
            let log = stream(sub.path(), NO_ROTATION, ring);
            log.append(b"0123456789");
            assert_eq!(log.read(2, 0).expect("to end"), b"23456789", "ring {ring}");
            assert_eq!(log.read(2, 3).expect("slice"), b"234", "ring {ring}");
            assert_eq!(log.read(-4, 0).expect("last"), b"6789", "ring {ring}");
            assert_eq!(
                log.read(-40, 0).expect("whole"),
                b"0123456789",
                "ring {ring}"
            );
            assert_eq!(log.read(-1, 2), Err(ReadError::BadArguments));
            assert_eq!(log.read(1, -2), Err(ReadError::BadArguments));
        }
        let none = LogStream::new("n", None, 10);
        assert_eq!(none.read(0, 0), Err(ReadError::NoFile));
        let tail = none.tail(0, 10).expect("no fault");
        assert_eq!((tail.data.len(), tail.offset, tail.overflow), (0, 0, false));
    }

    #[test]
    fn a_tail_continues_across_a_rotation_from_the_ring() {
        let dir = tempfile::tempdir().expect("dir");
        let rotation = Rotation {
            maxbytes: 10,
            backups: 2,
            every: None,
            compress: None,
        };
        let log = stream(dir.path(), rotation, 1 << 20);
        log.append(b"first-line\n");
        let tail = log.tail(0, 1000).expect("tail");
        assert_eq!(tail.data, b"first-line\n");
        log.append(b"second-line\n");
        // Each write reached maxbytes and rotated the file; the returned offset keeps counting.
        let tail = log.tail(tail.offset as i64, 1000).expect("tail");
        assert_eq!(tail.data, b"second-line\n");
        assert_eq!(tail.offset, 23);
        assert!(!tail.overflow);
        // A ring too small: the bytes come back from the rotated files (x.log.1 holds the
        // second line; the first, in x.log.2, is beyond the last rotation: overflow).
        let sub = tempfile::tempdir_in(dir.path()).expect("dir");
        let small = stream(sub.path(), rotation, 4);
        small.append(b"first-line\n");
        small.append(b"second-line\n");
        let tail = small.tail(0, 1000).expect("tail");
        assert_eq!(
            (tail.data.as_slice(), tail.overflow),
            (&b"second-line\n"[..], true)
        );
        assert_eq!(
            log.read(-100, 0).expect("last"),
            b"first-line\nsecond-line\n"
        );
        let backup = |n: u32| std::fs::read(dir.path().join(format!("x.log.{n}"))).expect("backup");
        assert_eq!(backup(1), b"second-line\n");
        assert_eq!(backup(2), b"first-line\n");
    }

    #[test]
    fn clear_empties_file_and_ring() {
        let dir = tempfile::tempdir().expect("dir");
        let log = stream(dir.path(), NO_ROTATION, 100);
        log.append(b"abc");
        log.clear().expect("clear");
        assert_eq!(log.read(0, 0).expect("read"), b"");
        log.append(b"d");
        assert_eq!(log.read(0, 0).expect("read"), b"d");
        assert_eq!(std::fs::read(dir.path().join("x.log")).expect("file"), b"d");
    }

    #[test]
    fn a_bounded_read_reads_no_more_than_asked() {
        let dir = tempfile::tempdir().expect("dir");
        let log = stream(dir.path(), NO_ROTATION, 4);
        log.append(&vec![b'x'; 1 << 20]);
        assert_eq!(log.read(10, 5).expect("read").len(), 5);
        assert_eq!(log.read(10, 0).expect("to the end").len(), (1 << 20) - 10);
    }

    #[test]
    fn reads_fall_back_to_the_file_beyond_the_ring() {
        let dir = tempfile::tempdir().expect("dir");
        let log = stream(dir.path(), NO_ROTATION, 4);
        log.append(b"0123456789");
        assert_eq!(log.read(0, 3).expect("file"), b"012");
        assert_eq!(log.read(-8, 0).expect("file"), b"23456789");
        log.append(b"abc");
        assert_eq!(log.bytes_before(10, 100), b"0123456789");
        assert_eq!(log.bytes_before(10, 4), b"6789");

        let memory_only = LogStream::new("test", None, 4);
        memory_only.append(b"first");
        memory_only.append(b"next");
        assert_eq!(
            memory_only.bytes_before(5, 5),
            b"",
            "the first child's bytes left the ring: none of the next child's instead"
        );
    }

    #[test]
    fn an_unopened_log_touches_no_disk_until_opened_and_reads_as_supervisord_would() {
        let dir = tempfile::tempdir().expect("dir");
        let named = |file: &str, reads_as_empty| {
            let path = dir.path().join(file);
            let stream =
                LogStream::unopened("x stdout", (path.clone(), NO_ROTATION), 64, reads_as_empty);
            (path, stream)
        };
        let (path, explicit) = named("explicit.log", false);
        assert!(!path.exists());
        assert_eq!(explicit.read(0, 0), Err(ReadError::NoFile));
        assert_eq!(explicit.tail(0, 100).map(|tail| tail.data), Ok(Vec::new()));
        assert_eq!(explicit.clear(), Ok(()));
        assert!(!path.exists(), "reads and clears create nothing");
        explicit.open().expect("open");
        assert!(path.exists(), "opening creates the file");
        explicit.append(b"one\n");
        assert_eq!(explicit.read(0, 0), Ok(b"one\n".to_vec()));
        assert_eq!(std::fs::read(&path).expect("read"), b"one\n");

        let (path, auto) = named("auto.log", true);
        assert_eq!(
            auto.read(-100, 0),
            Ok(Vec::new()),
            "an AUTO log reads as empty"
        );
        assert_eq!(auto.read(-1, 5), Err(ReadError::BadArguments));
        assert!(!path.exists());

        // A file an earlier run left is read where it is, continuing its offsets.
        std::fs::write(dir.path().join("left.log"), b"earlier\n").expect("write");
        let (_, left) = named("left.log", false);
        assert_eq!(left.read(0, 0), Ok(b"earlier\n".to_vec()));
        left.open().expect("open");
        left.append(b"later\n");
        assert_eq!(left.read(0, 0), Ok(b"earlier\nlater\n".to_vec()));
        assert_eq!(left.total(), 14);
    }

    #[test]
    fn an_unopened_log_that_cannot_be_created_stays_unopened_for_the_next_try() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("later").join("x.log");
        let stream = LogStream::unopened("x stdout", (path.clone(), NO_ROTATION), 64, false);
        assert!(stream.open().is_err(), "its directory is missing");
        std::fs::create_dir(dir.path().join("later")).expect("mkdir");
        stream.open().expect("the next start opens it");
        assert!(path.exists());
    }

    #[test]
    fn a_follower_far_behind_gets_every_byte_in_order_a_chunk_at_a_time() {
        let dir = tempfile::tempdir().expect("dir");
        let log = stream(dir.path(), NO_ROTATION, 16);
        let text: Vec<u8> = (0..10_000u32)
            .flat_map(|n| format!("{n}\n").into_bytes())
            .collect();
        log.append(&text);
        let mut got = Vec::new();
        let mut offset = 0;
        loop {
            let chunk = log.after(offset, 1000).expect("after");
            assert!(chunk.data.len() <= 1000);
            assert!(!chunk.overflow);
            if chunk.data.is_empty() {
                break;
            }
            got.extend(chunk.data);
            offset = chunk.offset;
        }
        assert_eq!(got, text);
        assert_eq!(offset, log.total());
    }

    #[test]
    fn a_read_that_opens_an_unopened_log_knows_whether_its_writes_may_block() {
        let stream = LogStream::unopened(
            "x stdout",
            (std::path::PathBuf::from("/dev/null"), NO_ROTATION),
            64,
            false,
        );
        assert!(!stream.may_block(), "not known before the file is open");
        let _ = stream.tail(0, 10);
        assert!(
            stream.may_block(),
            "a device: its writer needs a thread of its own"
        );
    }
}
