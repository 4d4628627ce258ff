//! One log file on disk with supervisord's size-based rotation (`name`, `name.1` … `name.N`):
//! after a write that brings the file to `maxbytes`, the file-rotate crate shifts the
//! backups and starts a new file. vigil also rotates on demand ([`LogFile::rotate_now`])
//! and, with `*_logfile_rotate`, before the first write after each local midnight or hour. Bytes arrive by `write` or, zero-copy, by `splice` from a
//! child's pipe; the file knows its length and reports rotations, so readers can map offsets.
//!
//! The file also knows which inode it holds: a file removed or replaced behind vigild's back
//! (`rm`, logrotate's `create` mode) is noticed by [`LogFile::reopen_if_replaced`] and opened
//! afresh at its path, as supervisord opens its logs at every spawn.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::fs::FileExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};

use super::backups;
use crate::config::{Compress, RotateEvery};
use crate::timefmt::next_boundary;

/// Rotation settings of a log file (`*_logfile_maxbytes`, `*_logfile_backups`, vigil's
/// `*_logfile_rotate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate once the file reaches this size; 0 = never.
    pub maxbytes: u64,
    /// Rotated files to keep (`name.1` … `name.N`); 0 = truncate in place.
    pub backups: u32,
    /// Also rotate at every local midnight or hour: before the first write after it.
    pub every: Option<RotateEvery>,
    /// Compress the backups, in the background (`backups.rs`).
    pub compress: Option<Compress>,
}

impl Rotation {
    /// The compression of backups, when there are backups to compress.
    fn compressed(&self) -> Option<Compress> {
        self.compress.filter(|_| self.backups > 0)
    }

    /// Queues the compression of `path`'s waiting backup.
    fn compress_later(&self, path: &Path, compress: Compress) {
        backups::compress_later(backups::Job {
            path: path.to_path_buf(),
            backups: self.backups,
            compress,
        });
    }
}

/// What a write did besides storing the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Bytes stored.
    pub bytes: usize,
    /// The file reached `maxbytes` and was rotated after these bytes: the next byte starts
    /// a new file.
    pub rotated: bool,
}

/// How often a write looks at the file's path to see whether the file was removed or
/// replaced: one `stat` a second at most, however fast the output flows.
pub const PATH_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// A log file: open while it has output to take, closed at rest (see [`LogFile::rest`]).
pub struct LogFile {
    path: PathBuf,
    rotation: Rotation,
    /// Open for reading too, so a tail reads what the file holds even after it was removed;
    /// `None` at rest, opened again at its path by the next write.
    file: Option<File>,
    /// Device and inode of `file`, to tell whether `path` still names it (regular files).
    identity: Option<(u64, u64)>,
    /// When `path` was last compared with `identity`.
    checked: Instant,
    /// Whether writes look at the path at all (the main log follows supervisord: it is
    /// reopened on SIGUSR2 or a reload only).
    checks_path: bool,
    /// Regular files are written at explicit offsets (splice cannot append); devices and
    /// pipes (`/dev/stdout`) are written as streams and never rotated.
    seekable: bool,
    /// Whether the file rotates at `maxbytes` (a regular file with a limit).
    rotates: bool,
    len: u64,
    /// With `every`: the midnight or hour after which the next write first rotates.
    due: Option<SystemTime>,
}

impl LogFile {
    /// Opens (creating if needed) `path`, continuing after what it holds. Rotation is
    /// switched off for targets that cannot be rotated (see [`LogFile::is_unrotatable`]).
    pub fn open(path: &Path, rotation: Rotation) -> io::Result<Self> {
        let file = open_for_writing(path)?;
        let metadata = file.metadata()?;
        let seekable = metadata.is_file() && !LogFile::is_unrotatable(path);
        // What the file holds was written before its last change: the first write after
        // the boundary that followed it rotates (a vigild restarted after midnight too).
        let written_at = metadata
            .modified()
            .ok()
            .filter(|_| metadata.len() > 0)
            .unwrap_or_else(SystemTime::now);
        let due = rotation.every.map(|every| next_boundary(written_at, every));
        if let Some(compress) = rotation.compressed() {
            // A backup the last run did not finish compressing (or had no room to queue).
            if backups::pending_path(path).exists() {
                rotation.compress_later(path, compress);
            }
        }
        Ok(LogFile {
            path: path.to_path_buf(),
            rotation,
            file: Some(file),
            identity: seekable.then(|| (metadata.dev(), metadata.ino())),
            checked: Instant::now(),
            checks_path: true,
            seekable,
            rotates: seekable && rotation.maxbytes > 0,
            len: if seekable { metadata.len() } else { 0 },
            due,
        })
    }

    /// Whether `path` is something rotation cannot work on: a tty, a pipe, or a device
    /// path such as `/dev/stdout` (which cannot be renamed even when it points at a file).
    pub fn is_unrotatable(path: &Path) -> bool {
        path.starts_with("/dev")
            || path.starts_with("/proc")
            || std::fs::metadata(path).is_ok_and(|m| !m.is_file())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the last rotation moved the previous file (`name.1`), if rotation keeps one
    /// plain (compressed backups are not read back: reads and tails use the live file).
    pub fn previous_path(&self) -> Option<PathBuf> {
        (self.seekable && self.rotation.backups > 0 && self.rotation.compress.is_none())
            .then(|| PathBuf::from(format!("{}.1", self.path.display())))
    }

    /// Whether the file can be read back (a regular file, not `/dev/stdout`).
    pub fn is_readable(&self) -> bool {
        self.seekable
    }

    /// Bytes in the current file.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the current file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Closes the file until the next write, so a quiet program costs no fd for its log
    /// (a regular file only: a FIFO or terminal is kept, reopening it could block). The
    /// main log never rests. The next write opens the file at its path again, as
    /// supervisord opens a child's logs at every spawn.
    pub fn rest(&mut self) {
        if self.seekable && self.checks_path {
            self.file = None;
        }
    }

    /// Whether the file is open (not at rest).
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    /// The open file; at rest, opened again at its path (a file removed or replaced
    /// meanwhile is created or taken as it is now).
    fn open_file(&mut self) -> io::Result<&File> {
        if self.file.is_none() {
            let file = open_for_writing(&self.path)?;
            let metadata = file.metadata()?;
            self.identity = Some((metadata.dev(), metadata.ino()));
            self.checked = Instant::now();
            self.len = metadata.len();
            self.file = Some(file);
        }
        self.file
            .as_ref()
            .ok_or_else(|| io::Error::other("the log file is not open"))
    }

    /// Appends `bytes`, rotating afterwards if the file reached `maxbytes`.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<Written> {
        self.follow_external_changes()?;
        let (seekable, len) = (self.seekable, self.len);
        let mut file = self.open_file()?;
        if seekable {
            file.write_all_at(bytes, len)?;
        } else {
            file.write_all(bytes)?;
        }
        self.stored(bytes.len())
    }

    /// Moves up to `max` bytes from `pipe` into the file without copying them through user
    /// space. `Ok(None)` means splice cannot serve this pair (the caller reads and writes
    /// instead); `Ok(Some(0 bytes))` means the pipe's writers are all gone. `nonblocking`:
    /// an empty pipe (or a full FIFO target) fails with `WouldBlock` rather than waits.
    pub fn splice_from(
        &mut self,
        pipe: BorrowedFd<'_>,
        max: usize,
        nonblocking: bool,
    ) -> io::Result<Option<Written>> {
        self.follow_external_changes()?;
        // Never past `maxbytes`: the file rotates exactly at its size limit (a file opened
        // already at or over it rotates first). While a rotation waits (the last backup is
        // still being compressed), the file grows at full speed, not a byte at a time.
        let max = if self.rotates {
            if self.len >= self.rotation.maxbytes {
                self.stored(0)?;
            }
            match self.rotation.maxbytes.checked_sub(self.len) {
                Some(room) if room > 0 => max.min(usize::try_from(room).unwrap_or(usize::MAX)),
                _ => max,
            }
        } else {
            max
        };
        let target = self.open_file()?.as_raw_fd();
        let mut offset = libc::loff_t::try_from(self.len).unwrap_or(libc::loff_t::MAX);
        let out_offset: *mut libc::loff_t = if self.seekable {
            &raw mut offset
        } else {
            std::ptr::null_mut()
        };
        // SAFETY: both fds are open for the call; `out_offset` is null or points at a live
        // local; the kernel moves pages between them and touches no user memory.
        let moved = unsafe {
            libc::splice(
                pipe.as_raw_fd(),
                std::ptr::null_mut(),
                target,
                out_offset,
                max,
                if nonblocking {
                    libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK
                } else {
                    libc::SPLICE_F_MOVE
                },
            )
        };
        if moved < 0 {
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(libc::EINVAL | libc::ENOSYS) => Ok(None),
                _ => Err(err),
            };
        }
        let moved = usize::try_from(moved).unwrap_or(0);
        // The bytes are in the file whatever the rotation does: a rotation that fails here is
        // tried again, and its error returned, by the next call before it moves anything.
        Ok(Some(self.stored(moved).unwrap_or(Written {
            bytes: moved,
            rotated: false,
        })))
    }

    /// Writes go at the file's real end even if something else changed it (another process
    /// appending, logrotate's copytruncate): one fstat per write.
    fn follow_external_changes(&mut self) -> io::Result<()> {
        if self.seekable {
            self.len = self.open_file()?.metadata()?.len();
        }
        Ok(())
    }

    /// Accounts for `bytes` just stored; rotates when the file reached `maxbytes`.
    fn stored(&mut self, bytes: usize) -> io::Result<Written> {
        self.len += bytes as u64;
        let rotated = self.rotates && self.len >= self.rotation.maxbytes && self.rotate()?;
        Ok(Written { bytes, rotated })
    }

    /// Shifts `name` → `name.1` … (dropping what exceeds `backups`) and starts a new file;
    /// with compression, renames `name` to the file that waits to be compressed and leaves
    /// the rest to `backups.rs` (false, and no rotation, while the last one still waits).
    /// The rotator is made only here: it scans the directory for existing backups, and
    /// holding one per file would cost an fd and a scan per log at startup.
    fn rotate(&mut self) -> io::Result<bool> {
        // file-rotate panics when the directory has gone; report it instead.
        if !self.path.parent().is_some_and(Path::is_dir) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "cannot rotate {}: its directory is gone",
                    self.path.display()
                ),
            ));
        }
        if let Some(compress) = self.rotation.compressed() {
            let pending = backups::pending_path(&self.path);
            if pending.exists() {
                // The last backup still waits; queued again if its job was lost.
                if backups::needs_queueing(&self.path) {
                    self.rotation.compress_later(&self.path, compress);
                }
                return Ok(false);
            }
            std::fs::rename(&self.path, &pending)?;
            self.rotation.compress_later(&self.path, compress);
        } else {
            let mut options = OpenOptions::new();
            options.read(true).create(true).append(true);
            let mut rotator = FileRotate::new(
                &self.path,
                AppendCount::new(usize::try_from(self.rotation.backups).unwrap_or(usize::MAX)),
                ContentLimit::None,
                Compression::None,
                Some(options),
            );
            rotator.rotate()?;
        }
        let file = open_for_writing(&self.path)?;
        let metadata = file.metadata()?;
        self.identity = Some((metadata.dev(), metadata.ino()));
        self.file = Some(file);
        self.len = 0;
        Ok(true)
    }

    /// Rotates now, whatever the size (vigil's rotate on demand): `name` → `name.1` … as
    /// at `maxbytes`. False when there was nothing to rotate: the file is empty, or not a
    /// regular file (`/dev/stdout`).
    pub fn rotate_now(&mut self) -> io::Result<bool> {
        if !self.seekable {
            return Ok(false);
        }
        self.follow_external_changes()?;
        if self.len == 0 {
            return Ok(false);
        }
        self.rotate()
    }

    /// With `*_logfile_rotate`: rotates when `now` is past the midnight or hour that came
    /// after the file's last rotation (before the write that follows, so each file holds
    /// one period's output); true when it did. An empty file, or one that is no regular
    /// file, is left as it is. `now` is passed in so tests can move the clock, and asked
    /// only of a file that rotates on time (this runs before every write).
    pub fn rotate_if_due(&mut self, now: impl FnOnce() -> SystemTime) -> io::Result<bool> {
        let (Some(every), Some(due)) = (self.rotation.every, self.due) else {
            return Ok(false);
        };
        let now = now();
        if now < due {
            return Ok(false);
        }
        self.due = Some(next_boundary(now, every));
        self.rotate_now()
    }

    /// The same file, never reopened by [`LogFile::reopen_if_replaced`] (the main log).
    pub fn without_path_checks(mut self) -> Self {
        self.checks_path = false;
        self
    }

    /// Closes and reopens the file (after an external logrotate); returns the new length.
    pub fn reopen(&mut self) -> io::Result<u64> {
        let checks_path = self.checks_path;
        *self = LogFile::open(&self.path, self.rotation)?;
        self.checks_path = checks_path;
        Ok(self.len)
    }

    /// Reopens the file (creating it) when its path no longer names the file held open: it
    /// was removed, or moved and replaced. Looks at most once per [`PATH_CHECK_INTERVAL`]
    /// unless `now_anyway` (a spawn). `Ok(Some(len))`: reopened, the new file holds `len`
    /// bytes. Targets that are not regular files are never reopened.
    pub fn reopen_if_replaced(&mut self, now_anyway: bool) -> io::Result<Option<u64>> {
        let Some(identity) = self.identity.filter(|_| self.checks_path) else {
            return Ok(None);
        };
        // At rest, the next write looks first: the file it opens must be the one counted.
        if !now_anyway && self.file.is_some() && self.checked.elapsed() < PATH_CHECK_INTERVAL {
            return Ok(None);
        }
        self.checked = Instant::now();
        match std::fs::metadata(&self.path) {
            Ok(metadata) if (metadata.dev(), metadata.ino()) == identity => Ok(None),
            Ok(_) => self.reopen().map(Some),
            Err(err) if err.kind() == io::ErrorKind::NotFound => self.reopen().map(Some),
            Err(err) => Err(err),
        }
    }

    /// Empties the file (supervisord's clearLog / clearProcessLogs).
    pub fn clear(&mut self) -> io::Result<()> {
        if self.seekable {
            self.open_file()?.set_len(0)?;
        }
        self.len = 0;
        Ok(())
    }

    /// Reads up to `length` bytes of the current file from `offset`. Streams that are not
    /// regular files (`/dev/stdout`) cannot be read back.
    pub fn read_at(&self, offset: u64, length: u64) -> io::Result<Vec<u8>> {
        if !self.seekable {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the log is not a regular file",
            ));
        }
        let Some(file) = &self.file else {
            // At rest: by its path.
            return read_file_at(
                &self.path,
                offset,
                length.min(self.len.saturating_sub(offset)),
            );
        };
        // Through the open descriptor: a file removed since it was opened still answers.
        let wanted = length.min(self.len.saturating_sub(offset));
        let mut bytes = vec![0; usize::try_from(wanted).unwrap_or(usize::MAX)];
        let mut filled = 0;
        while filled < bytes.len() {
            match file.read_at(&mut bytes[filled..], offset + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                // Opened write-only (see `open_for_writing`): by its path instead.
                Err(err) if err.raw_os_error() == Some(libc::EBADF) => {
                    return read_file_at(&self.path, offset, length);
                }
                Err(err) => return Err(err),
            }
        }
        bytes.truncate(filled);
        Ok(bytes)
    }
}

/// Opens `path` for writing at explicit offsets, keeping what it holds (not `O_APPEND`:
/// splice refuses append-mode files); readable too where the target allows it, so the file
/// can be read back through the open descriptor.
fn open_for_writing(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    match options.clone().read(true).open(path) {
        Ok(file) => Ok(file),
        // A write-only target (a device or FIFO the daemon may only write to).
        Err(err) if err.kind() == io::ErrorKind::PermissionDenied => options.open(path),
        Err(err) => Err(err),
    }
}

/// Reads up to `length` bytes of the file at `path` from `offset`.
pub fn read_file_at(path: &Path, offset: u64, length: u64) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    file.take(length).read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_ROTATION: Rotation = Rotation {
        maxbytes: 0,
        backups: 0,
        every: None,
        compress: None,
    };

    #[test]
    fn a_file_at_rest_holds_no_fd_reads_by_its_path_and_opens_again_to_write() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("app.log");
        let mut file = LogFile::open(&path, NO_ROTATION).expect("open");
        file.write(b"one\n").expect("write");
        file.rest();
        assert!(!file.is_open());
        assert_eq!(file.read_at(0, 100).expect("read at rest"), b"one\n");
        file.write(b"two\n").expect("write after rest");
        assert!(file.is_open());
        assert_eq!(file.len(), 8);
        assert_eq!(std::fs::read(&path).expect("read"), b"one\ntwo\n");
        // Removed at rest: the next look at the path opens a new, empty file.
        file.rest();
        std::fs::remove_file(&path).expect("rm");
        assert_eq!(file.reopen_if_replaced(false).expect("look"), Some(0));
        file.write(b"three\n").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"three\n");
    }

    #[test]
    fn a_timed_rotation_comes_before_the_first_write_after_the_boundary() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("app.log");
        let hourly = Rotation {
            maxbytes: 0,
            backups: 3,
            every: Some(RotateEvery::Hourly),
            compress: None,
        };
        let mut file = LogFile::open(&path, hourly).expect("open");
        let now = SystemTime::now();
        let boundary = next_boundary(now, RotateEvery::Hourly);
        assert!(!file.rotate_if_due(|| now).expect("look"), "not due yet");
        file.write(b"this hour\n").expect("write");
        // The injected clock: a second past the top of the hour.
        let later = boundary + Duration::from_secs(1);
        assert!(file.rotate_if_due(|| later).expect("look"));
        assert_eq!(
            std::fs::read(dir.path().join("app.log.1")).expect("backup"),
            b"this hour\n"
        );
        file.write(b"next hour\n").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"next hour\n");
        assert!(
            !file.rotate_if_due(|| later).expect("look"),
            "once per boundary"
        );
        // An empty file at the next boundary is left alone; the one after still comes.
        let mut empty = LogFile::open(&dir.path().join("quiet.log"), hourly).expect("open");
        assert!(!empty
            .rotate_if_due(|| later + Duration::from_secs(7200))
            .expect("look"));
        assert!(!dir.path().join("quiet.log.1").exists());
    }

    #[test]
    fn the_main_log_never_rests() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("vigild.log");
        let mut file = LogFile::open(&path, NO_ROTATION)
            .expect("open")
            .without_path_checks();
        file.rest();
        assert!(file.is_open());
    }
}
