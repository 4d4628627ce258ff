//! systemd's native journal protocol, for vigil's `*_logfile=journald` and
//! `[supervisord] logfile=journald`: one entry per line on `/run/systemd/journal/socket` (or
//! `[supervisord] journal_socket=`), each a datagram of `KEY=value` fields (a value holding
//! a newline goes as `KEY`, newline, its length as 64-bit little-endian, the bytes, newline).
//! A program's line carries `MESSAGE`, `PRIORITY` (stdout 6, stderr 3),
//! `SYSLOG_IDENTIFIER` (the process name) and vigil's `VIGIL_PROCESS`, `VIGIL_GROUP`,
//! `VIGIL_PID`, `VIGIL_STREAM`, so `journalctl VIGIL_PROCESS=web` finds it; a main-log line
//! carries its message, its level as `PRIORITY` and `SYSLOG_IDENTIFIER=vigild`. An entry
//! too big for a datagram goes as a sealed memfd, as `sd_journal_sendv` sends it.
//!
//! Lines are whole: a stream's partial line waits for its end (at most [`MAX_LINE`] bytes,
//! then it goes as it is), and what is left when the stream ends goes then. Nothing waits
//! for the journal ([`DatagramSink`]). This module knows the protocol, not processes.

use std::io;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use super::datagram::{DatagramSink, Large};

/// The longest line kept waiting for its end; longer ones go in pieces of this size
/// (bigger than a datagram, so such entries take the memfd path).
pub const MAX_LINE: usize = 256 * 1024;

/// The one journal connection of this vigild.
static JOURNAL: OnceLock<Journal> = OnceLock::new();

/// Producers' end of the journal connection.
pub struct Journal {
    sink: DatagramSink,
}

/// Sets up the connection to `socket` (the first call wins: the socket is chosen at start).
/// Nothing is sent before [`start_writer`].
pub fn open(socket: &Path) -> &'static Journal {
    JOURNAL.get_or_init(|| Journal {
        sink: DatagramSink::new("journal", socket.to_path_buf(), Large::Memfd, dropped),
    })
}

/// The connection, once [`open`] has run.
pub fn get() -> Option<&'static Journal> {
    JOURNAL.get()
}

/// Starts the writer thread (after vigild's forks).
pub fn start_writer() -> io::Result<()> {
    match JOURNAL.get() {
        Some(journal) => journal.sink.start_writer("journal"),
        None => Ok(()),
    }
}

impl Journal {
    /// A main-log line as the log file has it (`2026-12-03 14:27:44,123 INFO message`): its
    /// message, with the level as `PRIORITY` (the journal keeps its own time).
    pub fn log_line(&self, formatted: &[u8]) {
        let text = formatted.strip_suffix(b"\n").unwrap_or(formatted);
        let mut words = text.splitn(4, |b| *b == b' ');
        let (_date, _time) = (words.next(), words.next());
        let (level, message) = match (words.next(), words.next()) {
            (Some(level), Some(message)) => (level, message),
            _ => (&b"INFO"[..], text),
        };
        let priority: &[u8] = match level {
            b"CRIT" => b"2",
            b"ERRO" => b"3",
            b"WARN" => b"4",
            b"INFO" => b"6",
            _ => b"7",
        };
        let mut entry = Vec::with_capacity(message.len() + 64);
        field(&mut entry, "MESSAGE", message);
        field(&mut entry, "PRIORITY", priority);
        field(&mut entry, "SYSLOG_IDENTIFIER", b"vigild");
        self.sink.push(&entry);
    }

    /// Waits (until `deadline` at most) for the queued entries to be sent.
    pub fn flush(&self, deadline: Instant) {
        self.sink.flush(deadline);
    }
}

/// One program stream's lines on their way to the journal: the fields every entry of it
/// carries, rendered once, and the partial line waiting for its end (sent when this is
/// dropped, i.e. when the stream ends).
pub struct StreamEntries {
    journal: &'static Journal,
    fields: Vec<u8>,
    partial: Vec<u8>,
}

/// Who a stream's entries are about.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The process name.
    pub name: &'a str,
    /// Its group.
    pub group: &'a str,
    /// The child's pid.
    pub pid: i32,
    /// `stdout` or `stderr`.
    pub stream: &'a str,
}

impl StreamEntries {
    /// Entries for `origin`'s lines.
    pub fn new(journal: &'static Journal, origin: Origin<'_>) -> StreamEntries {
        let mut fields = Vec::with_capacity(128);
        let priority: &[u8] = if origin.stream == "stderr" {
            b"3"
        } else {
            b"6"
        };
        field(&mut fields, "PRIORITY", priority);
        field(&mut fields, "SYSLOG_IDENTIFIER", origin.name.as_bytes());
        field(&mut fields, "VIGIL_PROCESS", origin.name.as_bytes());
        field(&mut fields, "VIGIL_GROUP", origin.group.as_bytes());
        field(&mut fields, "VIGIL_PID", origin.pid.to_string().as_bytes());
        field(&mut fields, "VIGIL_STREAM", origin.stream.as_bytes());
        StreamEntries {
            journal,
            fields,
            partial: Vec::new(),
        }
    }

    /// A chunk of output: an entry for each line it ends.
    pub fn feed(&mut self, mut chunk: &[u8]) {
        while let Some(at) = chunk.iter().position(|b| *b == b'\n') {
            if self.partial.is_empty() {
                self.send(&chunk[..at]);
            } else {
                self.partial.extend_from_slice(&chunk[..at]);
                let line = std::mem::take(&mut self.partial);
                self.send(&line);
            }
            chunk = &chunk[at + 1..];
        }
        self.partial.extend_from_slice(chunk);
        if self.partial.len() >= MAX_LINE {
            let whole = self.partial.len() - self.partial.len() % MAX_LINE;
            let rest = self.partial.split_off(whole);
            let pieces = std::mem::replace(&mut self.partial, rest);
            self.send(&pieces);
        }
    }

    /// One entry per [`MAX_LINE`] bytes of `line`, however the line arrived.
    fn send(&self, line: &[u8]) {
        for piece in line.chunks(MAX_LINE) {
            self.send_entry(piece);
        }
    }

    fn send_entry(&self, line: &[u8]) {
        let mut entry = Vec::with_capacity(line.len() + 16 + self.fields.len());
        field(&mut entry, "MESSAGE", line);
        entry.extend_from_slice(&self.fields);
        self.journal.sink.push(&entry);
    }
}

impl Drop for StreamEntries {
    fn drop(&mut self) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.send(&line);
        }
    }
}

/// Appends one field in the native protocol's encoding.
fn field(entry: &mut Vec<u8>, key: &str, value: &[u8]) {
    entry.extend_from_slice(key.as_bytes());
    if value.contains(&b'\n') {
        entry.push(b'\n');
        entry.extend_from_slice(&u64::try_from(value.len()).unwrap_or(u64::MAX).to_le_bytes());
    } else {
        entry.push(b'=');
    }
    entry.extend_from_slice(value);
    entry.push(b'\n');
}

/// The entry standing for `count` that a full queue dropped.
fn dropped(count: u64) -> Vec<u8> {
    let mut entry = Vec::new();
    let message = format!("vigil: {count} journal entries dropped");
    field(&mut entry, "MESSAGE", message.as_bytes());
    field(&mut entry, "PRIORITY", b"4");
    field(&mut entry, "SYSLOG_IDENTIFIER", b"vigild");
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: Origin<'static> = Origin {
        name: "a",
        group: "a",
        pid: 1,
        stream: "stdout",
    };

    #[test]
    fn long_lines_go_in_pieces_of_max_line_however_they_arrive() {
        let journal = open(Path::new("/nonexistent/journal.sock"));
        let mut whole = StreamEntries::new(journal, ORIGIN);
        let before = journal.sink.queued();
        let mut line = vec![b'x'; MAX_LINE + 10];
        line.push(b'\n');
        whole.feed(&line);
        let mut split = StreamEntries::new(journal, ORIGIN);
        split.feed(&line[..100]);
        split.feed(&line[100..]);
        assert_eq!(journal.sink.queued() - before, 4, "two pieces each way");
    }

    #[test]
    fn fields_with_a_newline_go_with_their_length() {
        let mut entry = Vec::new();
        field(&mut entry, "MESSAGE", b"one line");
        field(&mut entry, "MESSAGE", b"two\nlines");
        let mut expected = b"MESSAGE=one line\nMESSAGE\n".to_vec();
        expected.extend_from_slice(&9u64.to_le_bytes());
        expected.extend_from_slice(b"two\nlines\n");
        assert_eq!(entry, expected);
    }
}
