//! One log destination shared by every writer of a stream (successive spawns of a process, or
//! all threads of the daemon), so rotation is done by exactly one owner.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};

/// Rotation settings of a log file (`*_logfile_maxbytes`, `*_logfile_backups`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate once the file reaches this size; 0 = never.
    pub maxbytes: u64,
    /// Rotated files to keep (`name.1` … `name.N`).
    pub backups: u32,
}

enum Target {
    Discard,
    Plain(File),
    Rotating(Box<FileRotate<AppendCount>>),
}

/// A log destination that can be written from several tasks and reopened on SIGUSR2.
pub struct LogSink {
    path: Option<PathBuf>,
    rotation: Rotation,
    target: Mutex<Target>,
}

impl LogSink {
    /// A sink that drops everything (`NONE`).
    pub fn discard() -> Self {
        LogSink {
            path: None,
            rotation: Rotation {
                maxbytes: 0,
                backups: 0,
            },
            target: Mutex::new(Target::Discard),
        }
    }

    /// Opens (creating if needed) the file at `path` for appending.
    pub fn open(path: &Path, rotation: Rotation) -> io::Result<Self> {
        Ok(LogSink {
            target: Mutex::new(open_target(path, rotation)?),
            path: Some(path.to_path_buf()),
            rotation,
        })
    }

    /// The file written to, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Appends `bytes` (rotating when the size limit is reached).
    pub fn write(&self, bytes: &[u8]) -> io::Result<()> {
        let mut target = self.target.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *target {
            Target::Discard => Ok(()),
            Target::Plain(file) => file.write_all(bytes),
            Target::Rotating(file) => file.write_all(bytes).and_then(|()| file.flush()),
        }
    }

    /// Closes and reopens the file, for external rotation (`logrotate` with `create`).
    pub fn reopen(&self) -> io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let reopened = open_target(path, self.rotation)?;
        *self.target.lock().unwrap_or_else(PoisonError::into_inner) = reopened;
        Ok(())
    }
}

fn open_target(path: &Path, rotation: Rotation) -> io::Result<Target> {
    // Open once ourselves: this reports a bad path as an error (file-rotate would only drop
    // the bytes) and creates the file before the first write, as supervisord does.
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    if rotation.maxbytes == 0 || !is_regular(&file) {
        return Ok(Target::Plain(file));
    }
    let limit = usize::try_from(rotation.maxbytes).unwrap_or(usize::MAX);
    let backups = usize::try_from(rotation.backups).unwrap_or(usize::MAX);
    let mut options = OpenOptions::new();
    options.read(true).create(true).append(true);
    Ok(Target::Rotating(Box::new(FileRotate::new(
        path,
        AppendCount::new(backups),
        ContentLimit::BytesSurpassed(limit),
        Compression::None,
        Some(options),
    ))))
}

fn is_regular(file: &File) -> bool {
    file.metadata().map(|m| m.is_file()).unwrap_or(false)
}
