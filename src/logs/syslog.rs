//! supervisord's syslog copy: `logfile=syslog` (the main log) and `*_syslog=true` or the
//! deprecated `*_logfile=syslog` (a program's output), sent as supervisord 4.3 sends them
//! through Python's `syslog.syslog`, that is glibc's syslog(3): one datagram per line on the
//! local socket (`/dev/log`, or `[supervisord] syslog_socket=`), framed
//! `<14>Mmm dd HH:MM:SS supervisord: <message>` (facility user, severity info, no pid, local
//! time). A program's output arrives as `<name> <line>`, no newline; a chunk of output is
//! split as supervisord splits it: its trailing newlines dropped, then one datagram per
//! `\n`-separated piece. A main-log line arrives formatted as in the log file, newline
//! included.
//!
//! Nothing waits for syslog ([`DatagramSink`]: a bounded queue, a writer thread, drops
//! counted and said); a line longer than [`MAX_MESSAGE`] goes as several datagrams, said
//! once. This module knows the framing; it knows nothing of processes.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime};

use super::datagram::{DatagramSink, Large};
use crate::timefmt::syslog_timestamp;

/// The longest message (after the header) one datagram carries; rsyslog's default
/// `maxMessageSize` is 8 KiB.
pub const MAX_MESSAGE: usize = 8000;
/// `<14>`: facility user (1) × 8 + severity info (6), what `syslog.syslog(msg)` sends.
const INFO: u8 = 14;
/// `<12>`: user, warning: vigil's own word about dropped lines.
const WARNING: u8 = 12;

/// The one syslog connection of this vigild.
static SYSLOG: OnceLock<Syslog> = OnceLock::new();

/// Producers' end of the syslog connection.
pub struct Syslog {
    sink: DatagramSink,
    /// A line had to be split (said once).
    split_said: AtomicBool,
}

/// Sets up the connection to `socket` (the first call wins: the socket is chosen at start).
/// Nothing is sent before [`start_writer`].
pub fn open(socket: &Path) -> &'static Syslog {
    SYSLOG.get_or_init(|| Syslog {
        sink: DatagramSink::new("syslog", socket.to_path_buf(), Large::Drop, dropped),
        split_said: AtomicBool::new(false),
    })
}

/// The connection, once [`open`] has run.
pub fn get() -> Option<&'static Syslog> {
    SYSLOG.get()
}

/// Starts the writer thread (after vigild's forks: a fork keeps only its caller's thread).
pub fn start_writer() -> io::Result<()> {
    match SYSLOG.get() {
        Some(syslog) => syslog.sink.start_writer("syslog"),
        None => Ok(()),
    }
}

impl Syslog {
    /// A chunk of `name`'s output, as supervisord's `<name> %(message)s` handler sends it.
    pub fn output(&self, name: &str, chunk: &[u8]) {
        let header = header(INFO, SystemTime::now());
        let mut prefix = name.as_bytes().to_vec();
        prefix.push(b' ');
        for line in lines_of(chunk) {
            self.send(&header, &prefix, line, b"");
        }
    }

    /// A main-log line (`2026-12-03 14:27:44,123 INFO message`), as supervisord's main log
    /// handler sends it when `logfile=syslog`: each line of the message formatted whole
    /// (time and level again on the lines after the first), newline included.
    pub fn log_line(&self, formatted: &[u8]) {
        let header = header(INFO, SystemTime::now());
        let mut pieces = lines_of(formatted);
        let Some(first) = pieces.next() else {
            return;
        };
        // The time (two words) and the level: what the lines after the first repeat.
        let stamp = first
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b' ')
            .nth(2)
            .map_or(&first[..0], |(at, _)| &first[..=at]);
        self.send(&header, b"", first, b"\n");
        for line in pieces {
            self.send(&header, stamp, line, b"\n");
        }
    }

    /// Waits (until `deadline` at most) for the queued datagrams to be sent.
    pub fn flush(&self, deadline: Instant) {
        self.sink.flush(deadline);
    }

    /// Queues `header prefix line suffix`, as several datagrams when `line` is too long.
    fn send(&self, header: &str, prefix: &[u8], line: &[u8], suffix: &[u8]) {
        let room = MAX_MESSAGE
            .saturating_sub(prefix.len() + suffix.len())
            .max(1);
        if line.len() > room && !self.split_said.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "syslog: a line of {} bytes goes as several datagrams of at most {MAX_MESSAGE} bytes each (said once)",
                line.len()
            );
        }
        let mut rest = line;
        loop {
            let (piece, after) = rest.split_at(cut(rest, room));
            let mut datagram =
                Vec::with_capacity(header.len() + prefix.len() + piece.len() + suffix.len());
            datagram.extend_from_slice(header.as_bytes());
            datagram.extend_from_slice(prefix);
            datagram.extend_from_slice(piece);
            datagram.extend_from_slice(suffix);
            self.sink.push(&datagram);
            if after.is_empty() {
                break;
            }
            rest = after;
        }
    }
}

/// supervisord's `message.rstrip('\n').split('\n')`.
fn lines_of(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let end = text
        .iter()
        .rposition(|b| *b != b'\n')
        .map_or(0, |at| at + 1);
    text[..end].split(|b| *b == b'\n')
}

/// Where to cut `bytes` to keep at most `room`, not inside a UTF-8 character when it can.
fn cut(bytes: &[u8], room: usize) -> usize {
    if bytes.len() <= room {
        return bytes.len();
    }
    let mut at = room;
    while at > room.saturating_sub(3) && at > 0 && bytes[at] & 0xC0 == 0x80 {
        at -= 1;
    }
    if at == 0 {
        room
    } else {
        at
    }
}

/// `<PRI>Mmm dd HH:MM:SS supervisord: `, glibc's header for an ident of `supervisord`.
fn header(priority: u8, when: SystemTime) -> String {
    format!("<{priority}>{} supervisord: ", syslog_timestamp(when))
}

/// The datagram standing for `count` that a full queue dropped.
fn dropped(count: u64) -> Vec<u8> {
    format!(
        "{}vigil: {count} syslog lines dropped",
        header(WARNING, SystemTime::now())
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_glibcs_for_the_supervisord_ident() {
        let text = header(INFO, SystemTime::now());
        let (pri, rest) = text.split_at(4);
        assert_eq!(pri, "<14>");
        // `Dec  3 14:27:44 supervisord: `: month, day padded to 2, clock.
        assert_eq!(rest.len(), "Dec  3 14:27:44 supervisord: ".len(), "{text}");
        assert!(rest.ends_with(" supervisord: "), "{text}");
        assert_eq!(&rest[6..7], " ", "{text}");
    }

    #[test]
    fn a_line_over_the_datagram_limit_goes_as_several_datagrams() {
        let syslog = open(Path::new("/nonexistent/syslog.sock"));
        let before = syslog.sink.queued();
        syslog.output("app", &vec![b'x'; 2 * MAX_MESSAGE + 10]);
        assert_eq!(
            syslog.sink.queued() - before,
            3,
            "nothing lost, nothing over the limit"
        );
        assert!(syslog.split_said.load(Ordering::Relaxed), "said (once)");
    }

    #[test]
    fn chunks_split_as_supervisord_splits_them() {
        let pieces: Vec<&[u8]> = lines_of(b"a\n\nb\n\n").collect();
        assert_eq!(pieces, [&b"a"[..], b"", b"b"]);
        let pieces: Vec<&[u8]> = lines_of(b"\n").collect();
        assert_eq!(pieces, [&b""[..]], "an empty line is still sent");
    }

    #[test]
    fn cuts_keep_utf8_characters_whole() {
        let text = "aé".repeat(4).into_bytes(); // a, then é as 2 bytes
        assert_eq!(cut(&text, 2), 1, "not inside é");
        assert_eq!(cut(&text, 3), 3);
        assert_eq!(cut(&text, 100), text.len());
    }
}
