//! Compressed log backups (`*_logfile_compress=gzip|zstd`), made off the path that moves
//! child output. A rotation only renames the log to `name.rotated` and starts a new file
//! (`file.rs`); this module's one thread, at nice 10, then compresses `name.rotated` to
//! `name.1.gz.tmp` (synced), shifts the compressed backups (`name.1.gz` → `name.2.gz` …,
//! dropping what `backups` does not keep), renames the tmp file to `name.1.gz`, and only then
//! removes `name.rotated`. So a crash at any point leaves the plain file or the complete
//! compressed one, never neither; a `name.rotated` found when the log is opened again (the
//! next start) is compressed then. While one is waiting, the log does not rotate again (it
//! grows past `maxbytes` until the backup is done): the order of backups stays the order of
//! the output.
//!
//! The queue is bounded: a job that does not fit is dropped, counted and said, and the
//! log's next rotation queues its plain file again ([`needs_queueing`]); so does the one
//! after a failure (a full disk), a minute later at the soonest. This module knows files,
//! not processes.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::config::Compress;

/// Backups waiting to be compressed, at most (a fleet rotating at the same hour).
const QUEUED: usize = 16 << 10;
/// How long after a failed compression the log's plain file is queued again.
const RETRY_AFTER: Duration = Duration::from_secs(60);
/// zstd's level: its default, fast with a good ratio.
const ZSTD_LEVEL: i32 = 3;

/// One rotated log to compress.
#[derive(Debug, Clone)]
pub struct Job {
    /// The log's path (`name`); its plain backup is [`pending_path`] of it.
    pub path: PathBuf,
    /// Compressed backups to keep.
    pub backups: u32,
    /// How.
    pub compress: Compress,
}

/// Where a rotation puts the file that waits to be compressed: `name.rotated`.
pub fn pending_path(path: &Path) -> PathBuf {
    suffixed(path, ".rotated")
}

/// The `n`th compressed backup: `name.n.gz` or `name.n.zst`.
pub fn backup_path(path: &Path, n: u32, compress: Compress) -> PathBuf {
    suffixed(path, &format!(".{n}{}", extension(compress)))
}

fn extension(compress: Compress) -> &'static str {
    match compress {
        Compress::Gzip => ".gz",
        Compress::Zstd => ".zst",
    }
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The queue's producer end; the thread starts with the first job.
static QUEUE: OnceLock<Option<SyncSender<Job>>> = OnceLock::new();
/// Jobs that did not fit in the queue.
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Logs whose plain file is queued or being compressed (`None`), or whose compression
/// failed (when): what [`needs_queueing`] looks at. An entry per log at most.
static JOBS: OnceLock<Mutex<HashMap<PathBuf, Option<Instant>>>> = OnceLock::new();

fn jobs() -> std::sync::MutexGuard<'static, HashMap<PathBuf, Option<Instant>>> {
    JOBS.get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Whether `path`'s waiting plain file has no job on its way (its job was dropped, or
/// failed over a minute ago): then the caller queues it again.
pub fn needs_queueing(path: &Path) -> bool {
    match jobs().get(path) {
        None => true,
        Some(None) => false,
        Some(Some(failed)) => failed.elapsed() >= RETRY_AFTER,
    }
}

/// Queues `job` for the compressing thread; never waits.
pub fn compress_later(job: Job) {
    let queue = QUEUE.get_or_init(|| {
        let (sender, receiver) = sync_channel(QUEUED);
        let started = std::thread::Builder::new()
            .name("log backups".into())
            // The encoders keep big state on the stack (256 KiB overflowed).
            .stack_size(8 << 20)
            .spawn(move || run(&receiver));
        match started {
            Ok(_) => Some(sender),
            Err(err) => {
                tracing::error!("cannot start the thread that compresses log backups: {err}");
                None
            }
        }
    });
    let path = job.path.clone();
    jobs().insert(path.clone(), None);
    let refused = match queue {
        Some(sender) => match sender.try_send(job) {
            Ok(()) => return,
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => job,
        },
        None => job,
    };
    jobs().remove(&path);
    let dropped = DROPPED.fetch_add(1, Ordering::Relaxed) + 1;
    if dropped == 1 || dropped % 100 == 0 {
        tracing::warn!(
            "log backups: {QUEUED} wait to be compressed; {} stays plain until the next start ({dropped} so far)",
            pending_path(&refused.path).display()
        );
    }
}

fn run(receiver: &Receiver<Job>) {
    // Compression is background work: below the supervisor and the output it relays.
    // SAFETY: setpriority on this thread's own id; no memory is passed.
    unsafe {
        let thread = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, thread.unsigned_abs(), 10);
    }
    for job in receiver {
        match compress(&job) {
            Ok(()) => {
                jobs().remove(&job.path);
            }
            Err(err) => {
                jobs().insert(job.path.clone(), Some(Instant::now()));
                tracing::error!(
                    "could not compress the backup of {}: {err}; it stays as {} (tried again in a minute at the soonest)",
                    job.path.display(),
                    pending_path(&job.path).display()
                );
            }
        }
    }
}

/// Compresses `job`'s waiting file into backup 1, shifting the others (module text).
pub fn compress(job: &Job) -> io::Result<()> {
    let pending = pending_path(&job.path);
    if !pending.exists() {
        return Ok(());
    }
    let first = backup_path(&job.path, 1, job.compress);
    let tmp = suffixed(&first, ".tmp");
    {
        let mut source = File::open(&pending)?;
        let mut target = File::create(&tmp)?;
        match job.compress {
            Compress::Gzip => {
                let mut encoder =
                    flate2::write::GzEncoder::new(&mut target, flate2::Compression::default());
                io::copy(&mut source, &mut encoder)?;
                encoder.finish()?;
            }
            Compress::Zstd => {
                let mut encoder = zstd::stream::Encoder::new(&mut target, ZSTD_LEVEL)?;
                io::copy(&mut source, &mut encoder)?;
                encoder.finish()?;
            }
        }
        target.sync_all()?;
    }
    for n in (1..=job.backups).rev() {
        let from = backup_path(&job.path, n, job.compress);
        let outcome = if n == job.backups {
            std::fs::remove_file(&from)
        } else {
            std::fs::rename(&from, backup_path(&job.path, n + 1, job.compress))
        };
        match outcome {
            Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
            _ => {}
        }
    }
    std::fs::rename(&tmp, &first)?;
    std::fs::remove_file(&pending)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn backups_shift_and_decompress_to_what_was_written() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("app.log");
        for kind in [Compress::Gzip, Compress::Zstd] {
            for round in 0..3u8 {
                std::fs::write(pending_path(&path), vec![b'a' + round; 10_000]).expect("write");
                let job = Job {
                    path: path.clone(),
                    backups: 2,
                    compress: kind,
                };
                compress(&job).expect("compress");
                assert!(!pending_path(&path).exists());
            }
            let read = |n: u32| {
                let file = File::open(backup_path(&path, n, kind)).expect("backup");
                let mut bytes = Vec::new();
                match kind {
                    Compress::Gzip => flate2::read::GzDecoder::new(file)
                        .read_to_end(&mut bytes)
                        .expect("gunzip"),
                    Compress::Zstd => zstd::stream::Decoder::new(file)
                        .expect("zstd")
                        .read_to_end(&mut bytes)
                        .expect("unzstd"),
                };
                bytes
            };
            assert_eq!(read(1), vec![b'c'; 10_000], "{kind:?}: the newest is 1");
            assert_eq!(read(2), vec![b'b'; 10_000]);
            assert!(!backup_path(&path, 3, kind).exists(), "backups=2 keeps two");
        }
    }
}
