//! Crash records: what a crash looked like (how it ended, how long the run lasted, the last
//! lines of output) kept per process in memory and as JSON lines in
//! `<childlogdir>/<name>-crashes.jsonl`, so the evidence survives a vigild restart and the
//! rotation of the process's own logs.
//!
//! The file is bounded: once it holds twice the records kept, it is rewritten with only
//! those. Records are loaded from it the first time they are needed, so a daemon with
//! thousands of programs does not read thousands of files at start-up. Processes of two
//! groups that share a name share the file (one [`CrashHistory`] for it, records told apart
//! by group).

use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

use serde::{Deserialize, Serialize};

/// Bytes of output a record keeps at most.
pub const TAIL_BYTES: usize = 16 * 1024;
/// The most of a crash file read back at start-up (a file grown by hand is cut here).
const LOAD_LIMIT: u64 = 4 * 1024 * 1024;

/// One crash, as stored and as `vigil.getCrashes` and `vigilctl crashes` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrashRecord {
    /// When the process ended, RFC 3339 in vigild's local time with its UTC offset.
    pub time: String,
    /// The same, as seconds since the epoch.
    pub unix_time: f64,
    /// Process name.
    pub name: String,
    /// Group name.
    pub group: String,
    /// The child's pid.
    pub pid: i32,
    /// Its exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that killed it, e.g. `SIGSEGV`.
    pub signal: Option<String>,
    /// A core file was written.
    pub core_dumped: bool,
    /// supervisord's wording: `exit status 1`, `terminated by SIGSEGV (core dumped)`.
    pub description: String,
    /// How long the run lasted.
    pub ran_seconds: f64,
    /// Restarts of the process before this crash.
    pub restarts: u64,
    /// Crashes within `crashloop_window`, this one included.
    pub recent_crashes: usize,
    /// The process was in a crash loop after this crash.
    pub crash_loop: bool,
    /// The wait before the next start, when one was scheduled.
    pub next_start_seconds: Option<f64>,
    /// Which output the tail comes from: `stderr`, `stdout`, or empty when there was none.
    pub stream: String,
    /// The last lines of that output (at most `crash_tail_lines` and [`TAIL_BYTES`]).
    pub tail: String,
}

impl CrashRecord {
    /// The tail's last non-empty line: the one that usually names the error.
    pub fn last_line(&self) -> &str {
        self.tail
            .lines()
            .rev()
            .find(|line| !line.trim().is_empty())
            .unwrap_or("")
    }
}

/// The last `lines` lines of `bytes` (a final newline does not start an empty line).
pub fn tail_lines(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_suffix('\n').unwrap_or(&text);
    if lines == 0 || text.is_empty() {
        return String::new();
    }
    let start = text
        .rmatch_indices('\n')
        .nth(lines - 1)
        .map_or(0, |(at, _)| at + 1);
    text[start..].to_string()
}

/// The crash records of one process.
pub struct CrashHistory {
    /// The JSON lines file, or None when records stay in memory only.
    path: Option<PathBuf>,
    /// Records kept (`crash_history`).
    keep: usize,
    state: Mutex<Option<Loaded>>,
    /// Held while the file is written, so two records' writes never interleave.
    file: Mutex<()>,
}

/// What a new record does to the file.
enum FileWrite {
    Append(String),
    Rewrite(VecDeque<CrashRecord>),
}

/// The records, once read from the file.
struct Loaded {
    records: VecDeque<CrashRecord>,
    /// Lines the file holds, to know when to compact it.
    lines_on_disk: usize,
    /// The file's last line was cut (a daemon killed mid-write): the next write compacts it.
    torn: bool,
}

impl CrashHistory {
    /// The history kept in `path` (None: memory only), `keep` records long.
    pub fn new(path: Option<PathBuf>, keep: usize) -> Self {
        CrashHistory {
            path,
            keep,
            state: Mutex::new(None),
            file: Mutex::new(()),
        }
    }

    /// `<dir>/<name>-crashes.jsonl`.
    pub fn path_in(dir: &Path, name: &str) -> PathBuf {
        dir.join(format!("{name}-crashes.jsonl"))
    }

    fn lock(&self) -> MutexGuard<'_, Option<Loaded>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The records, read from the file on first use.
    fn loaded<'a>(&self, state: &'a mut Option<Loaded>) -> &'a mut Loaded {
        state.get_or_insert_with(|| {
            let (mut records, lines_on_disk, torn) = match &self.path {
                Some(path) => read_records(path),
                None => (VecDeque::new(), 0, false),
            };
            records
                .make_contiguous()
                .sort_by(|a, b| a.unix_time.total_cmp(&b.unix_time));
            while records.len() > self.keep {
                records.pop_front();
            }
            Loaded {
                records,
                lines_on_disk,
                torn,
            }
        })
    }

    /// Keeps `record` (dropping the oldest beyond `crash_history`) and appends it to the
    /// file; a file that cannot be written is logged and the record stays in memory.
    pub fn record(&self, record: CrashRecord) {
        if self.keep == 0 {
            return;
        }
        let line = match serde_json::to_string(&record) {
            Ok(line) => line,
            Err(err) => {
                tracing::error!("could not encode a crash record of {}: {err}", record.name);
                return;
            }
        };
        let mut state = self.lock();
        let loaded = self.loaded(&mut state);
        // Records arrive in the order their drains finish; keep them in time order.
        let at = loaded
            .records
            .iter()
            .rposition(|r| r.unix_time <= record.unix_time)
            .map_or(0, |i| i + 1);
        loaded.records.insert(at, record);
        while loaded.records.len() > self.keep {
            loaded.records.pop_front();
        }
        let Some(path) = &self.path else { return };
        let write = if loaded.torn || loaded.lines_on_disk + 1 > self.keep.saturating_mul(2) {
            loaded.lines_on_disk = loaded.records.len();
            loaded.torn = false;
            FileWrite::Rewrite(loaded.records.clone())
        } else {
            loaded.lines_on_disk += 1;
            FileWrite::Append(line)
        };
        // The disk is written without the records' lock, so readers never wait for it. (Two
        // writes may land in either order; the records' time order is restored on loading,
        // and a rewrite writes all that memory holds.)
        drop(state);
        let file = match self.file.try_lock() {
            Ok(file) => file,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            // A write still hangs (a stalled disk): this record stays in memory, and the
            // next write that can go ahead rewrites the whole file.
            Err(TryLockError::WouldBlock) => {
                if let Some(loaded) = self.lock().as_mut() {
                    loaded.torn = true;
                }
                return;
            }
        };
        let written = match &write {
            FileWrite::Rewrite(records) => rewrite(path, records),
            FileWrite::Append(line) => append_line(path, line),
        };
        drop(file);
        if let Err(err) = written {
            // The next record rewrites the whole file.
            if let Some(loaded) = self.lock().as_mut() {
                loaded.torn = true;
            }
            tracing::error!("could not write crash record to {}: {err}", path.display());
        }
    }

    /// Up to `limit` records (0 = all kept) of the process `group`/`name`, newest first.
    pub fn newest(&self, group: &str, name: &str, limit: usize) -> Vec<CrashRecord> {
        let mut state = self.lock();
        let loaded = self.loaded(&mut state);
        let limit = if limit == 0 { usize::MAX } else { limit };
        loaded
            .records
            .iter()
            .rev()
            .filter(|record| record.group == group && record.name == name)
            .take(limit)
            .cloned()
            .collect()
    }
}

fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(format!("{line}\n").as_bytes())
}

/// Replaces the file with `records`, through a temporary file so a crash mid-way leaves
/// either the old or the new file.
fn rewrite(path: &Path, records: &VecDeque<CrashRecord>) -> std::io::Result<()> {
    let mut text = String::new();
    for record in records {
        text.push_str(&serde_json::to_string(record).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    let temporary = path.with_extension("jsonl.tmp");
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}

/// The records in `path` (its last [`LOAD_LIMIT`] bytes), its line count, and whether its
/// last line is cut; unreadable lines are skipped with a warning.
fn read_records(path: &Path) -> (VecDeque<CrashRecord>, usize, bool) {
    let mut text = String::new();
    // Not blocking on a FIFO put in the file's place; a regular file is read as before.
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path);
    let read = opened.and_then(|mut file| {
        let metadata = file.metadata()?;
        if !metadata.is_file() {
            return Err(std::io::Error::other("it is not a regular file"));
        }
        let size = metadata.len();
        let skipped = size > LOAD_LIMIT;
        if skipped {
            file.seek(SeekFrom::Start(size - LOAD_LIMIT))?;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        text = String::from_utf8_lossy(&bytes).into_owned();
        if skipped {
            // The first line is cut; it is not a record.
            text = text
                .split_once('\n')
                .map(|(_, rest)| rest.to_string())
                .unwrap_or_default();
        }
        Ok(())
    });
    if let Err(err) = read {
        if err.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(
                "could not read crash records from {}: {err}",
                path.display()
            );
        }
        return (VecDeque::new(), 0, false);
    }
    let torn = !text.is_empty() && !text.ends_with('\n');
    let mut records = VecDeque::new();
    let mut bad = 0;
    let mut lines = 0;
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        lines += 1;
        match serde_json::from_str(line) {
            Ok(record) => records.push_back(record),
            Err(_) => bad += 1,
        }
    }
    if bad > 0 {
        tracing::warn!(
            "skipped {bad} unreadable crash records in {}",
            path.display()
        );
    }
    (records, lines, torn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u32) -> CrashRecord {
        CrashRecord {
            time: format!("t{n}"),
            unix_time: f64::from(n),
            name: "app".into(),
            group: "app".into(),
            pid: 100 + n as i32,
            exit_code: Some(1),
            signal: None,
            core_dumped: false,
            description: "exit status 1".into(),
            ran_seconds: 1.5,
            restarts: u64::from(n),
            recent_crashes: 1,
            crash_loop: false,
            next_start_seconds: None,
            stream: "stderr".into(),
            tail: format!("line {n}\nValueError: boom {n}"),
        }
    }

    #[test]
    fn tail_lines_takes_the_last_lines() {
        assert_eq!(tail_lines(b"a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_lines(b"a\nb\nc", 5), "a\nb\nc");
        assert_eq!(tail_lines(b"", 5), "");
        assert_eq!(tail_lines(b"a\n", 0), "");
    }

    #[test]
    fn keeps_the_newest_and_reloads_them_from_a_bounded_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = CrashHistory::path_in(dir.path(), "app");
        let history = CrashHistory::new(Some(path.clone()), 3);
        for n in 1..=10 {
            history.record(record(n));
        }
        let newest: Vec<u64> = history
            .newest("app", "app", 0)
            .iter()
            .map(|r| r.restarts)
            .collect();
        assert_eq!(newest, [10, 9, 8]);
        assert_eq!(
            history.newest("app", "app", 1)[0].last_line(),
            "ValueError: boom 10"
        );
        let lines = std::fs::read_to_string(&path)
            .expect("file")
            .lines()
            .count();
        assert!(lines <= 6, "the file is compacted: {lines} lines");

        let reloaded = CrashHistory::new(Some(path), 3);
        assert_eq!(
            reloaded.newest("app", "app", 0),
            history.newest("app", "app", 0)
        );
        assert!(history.newest("other", "app", 0).is_empty());
    }

    #[test]
    fn a_cut_last_line_is_compacted_away_on_the_next_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = CrashHistory::path_in(dir.path(), "app");
        let whole = serde_json::to_string(&record(1)).expect("json");
        std::fs::write(&path, format!("{whole}\n{{\"time\": \"t2\", \"unix")).expect("write");
        let history = CrashHistory::new(Some(path.clone()), 5);
        history.record(record(3));
        let text = std::fs::read_to_string(&path).expect("file");
        assert_eq!(text.lines().count(), 2, "{text}");
        let reloaded = CrashHistory::new(Some(path), 5);
        assert_eq!(reloaded.newest("app", "app", 0).len(), 2);
    }

    #[test]
    fn out_of_order_records_are_kept_in_time_order_and_bad_lines_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = CrashHistory::path_in(dir.path(), "app");
        std::fs::write(&path, "not json\n").expect("write");
        let history = CrashHistory::new(Some(path), 5);
        history.record(record(2));
        history.record(record(1));
        let order: Vec<u64> = history
            .newest("app", "app", 0)
            .iter()
            .map(|r| r.restarts)
            .collect();
        assert_eq!(order, [2, 1]);
    }
}
