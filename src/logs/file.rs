//! One log file on disk with supervisord's size-based rotation (`name`, `name.1` … `name.N`),
//! done by the file-rotate crate; it also knows its current length, so readers can map
//! offsets, and reports when a write rotated the file.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};

/// Rotation settings of a log file (`*_logfile_maxbytes`, `*_logfile_backups`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate once the file has grown past this size; 0 = never.
    pub maxbytes: u64,
    /// Rotated files to keep (`name.1` … `name.N`); 0 = truncate in place.
    pub backups: u32,
}

enum Target {
    Plain(File),
    Rotating(Box<FileRotate<AppendCount>>),
}

/// An open log file.
pub struct LogFile {
    path: PathBuf,
    rotation: Rotation,
    target: Target,
    len: u64,
}

impl LogFile {
    /// Opens (creating if needed) `path` for appending. Rotation is switched off for targets
    /// that are not regular files (`/dev/stdout`, a pipe), where it cannot work.
    pub fn open(path: &Path, rotation: Rotation) -> io::Result<Self> {
        // Open once ourselves: a bad path is reported here (file-rotate would only drop the
        // bytes), and the file exists from the start, as with supervisord.
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let metadata = file.metadata()?;
        let len = if metadata.is_file() {
            metadata.len()
        } else {
            0
        };
        let target = if rotation.maxbytes == 0 || !metadata.is_file() {
            Target::Plain(file)
        } else {
            let mut options = OpenOptions::new();
            options.read(true).create(true).append(true);
            Target::Rotating(Box::new(FileRotate::new(
                path,
                AppendCount::new(usize::try_from(rotation.backups).unwrap_or(usize::MAX)),
                ContentLimit::BytesSurpassed(
                    usize::try_from(rotation.maxbytes).unwrap_or(usize::MAX),
                ),
                Compression::None,
                Some(options),
            )))
        };
        Ok(LogFile {
            path: path.to_path_buf(),
            rotation,
            target,
            len,
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

    /// Bytes in the current file.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the current file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `bytes`; returns true when the file was rotated first (the bytes then start a
    /// new, empty file).
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<bool> {
        match &mut self.target {
            Target::Plain(file) => {
                file.write_all(bytes)?;
                self.len += bytes.len() as u64;
                Ok(false)
            }
            Target::Rotating(file) => {
                // file-rotate's BytesSurpassed rotates before a write once the file has passed
                // the limit; mirror that test to know where the new file starts.
                let rotated = self.len > self.rotation.maxbytes;
                file.write_all(bytes)?;
                file.flush()?;
                self.len = if rotated { 0 } else { self.len } + bytes.len() as u64;
                Ok(rotated)
            }
        }
    }

    /// Closes and reopens the file (after an external logrotate); returns the new length.
    pub fn reopen(&mut self) -> io::Result<u64> {
        *self = LogFile::open(&self.path, self.rotation)?;
        Ok(self.len)
    }

    /// Empties the file (supervisord's clearLog / clearProcessLogs).
    pub fn clear(&mut self) -> io::Result<()> {
        if std::fs::metadata(&self.path).is_ok_and(|m| m.is_file()) {
            OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&self.path)?;
        }
        *self = LogFile::open(&self.path, self.rotation)?;
        Ok(())
    }

    /// Reads up to `length` bytes of the current file from `offset`.
    pub fn read_at(&self, offset: u64, length: u64) -> io::Result<Vec<u8>> {
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut bytes = Vec::new();
        file.take(length).read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}
