//! Transformations of child output on its way to the log, each keeping state across pipe
//! reads so a token or escape split between two reads is handled: capture mode
//! (`<!--XSUPERVISOR:BEGIN-->` … `<!--XSUPERVISOR:END-->`), ANSI stripping and line
//! timestamps.

use std::time::SystemTime;

/// What a stream's filters hold between two reads (a token's start, a capture-mode block
/// under way, an escape sequence's state, a JSON line's unfinished part, whether a line has
/// begun): what a handover (`vigilctl reexec`) passes to the next image, so a line split
/// across the exec comes out as one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Held {
    /// Capture mode: inside a block.
    pub capturing: bool,
    /// Capture mode: a possible token start held back.
    pub held: Vec<u8>,
    /// Capture mode: the block so far.
    pub captured: Vec<u8>,
    /// ANSI stripping: 0 text, 1 after ESC, 2 inside `ESC [`.
    pub ansi: u8,
    /// JSON lines: the unfinished line.
    pub json_partial: Vec<u8>,
    /// Timestamps: the next byte starts a line.
    pub at_line_start: bool,
}

impl Default for Held {
    fn default() -> Self {
        Held {
            capturing: false,
            held: Vec::new(),
            captured: Vec::new(),
            ansi: 0,
            json_partial: Vec::new(),
            at_line_start: true,
        }
    }
}

/// Starts a block of output that goes to a PROCESS_COMMUNICATION event instead of the log.
pub const CAPTURE_BEGIN: &[u8] = b"<!--XSUPERVISOR:BEGIN-->";
/// Ends such a block.
pub const CAPTURE_END: &[u8] = b"<!--XSUPERVISOR:END-->";

/// Splits capture-mode blocks out of a stream.
#[derive(Debug)]
pub struct CaptureSplitter {
    max: usize,
    capturing: bool,
    /// A possible start of the next token, held back until more bytes arrive.
    held: Vec<u8>,
    captured: Vec<u8>,
}

impl CaptureSplitter {
    /// A splitter keeping at most `max` bytes of one block (the last ones, as supervisord's
    /// bounded capture buffer).
    pub fn new(max: usize) -> Self {
        CaptureSplitter {
            max,
            capturing: false,
            held: Vec::new(),
            captured: Vec::new(),
        }
    }

    /// Its part of what is held.
    pub fn hold(&self, held: &mut Held) {
        held.capturing = self.capturing;
        held.held.clone_from(&self.held);
        held.captured.clone_from(&self.captured);
    }

    /// Takes up where `held` left off.
    pub fn seed(&mut self, held: &Held) {
        self.capturing = held.capturing;
        self.held.clone_from(&held.held);
        self.captured.clone_from(&held.captured);
    }

    /// Moves the log part of `input` to `log` and returns every block completed in it.
    pub fn split(&mut self, input: &[u8], log: &mut Vec<u8>) -> Vec<Vec<u8>> {
        let mut data = std::mem::take(&mut self.held);
        data.extend_from_slice(input);
        let mut blocks = Vec::new();
        let mut rest = data.as_slice();
        loop {
            let token = if self.capturing {
                CAPTURE_END
            } else {
                CAPTURE_BEGIN
            };
            if let Some(at) = find(rest, token) {
                self.take(&rest[..at], log);
                if self.capturing {
                    blocks.push(std::mem::take(&mut self.captured));
                }
                self.capturing = !self.capturing;
                rest = &rest[at + token.len()..];
            } else {
                let keep = partial_suffix(rest, token);
                self.take(&rest[..rest.len() - keep], log);
                self.held = rest[rest.len() - keep..].to_vec();
                return blocks;
            }
        }
    }

    fn take(&mut self, bytes: &[u8], log: &mut Vec<u8>) {
        if !self.capturing {
            log.extend_from_slice(bytes);
            return;
        }
        self.captured.extend_from_slice(bytes);
        let excess = self.captured.len().saturating_sub(self.max);
        self.captured.drain(..excess);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Length of the longest suffix of `data` that is a proper prefix of `token`.
fn partial_suffix(data: &[u8], token: &[u8]) -> usize {
    (1..token.len().min(data.len() + 1))
        .rev()
        .find(|&n| data.ends_with(&token[..n]))
        .unwrap_or(0)
}

/// Removes ANSI escape sequences as supervisord's `stripEscapes`: from `ESC [` up to and
/// including the first terminator character.
#[derive(Debug, Default)]
pub struct AnsiStripper {
    state: AnsiState,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum AnsiState {
    #[default]
    Text,
    /// An ESC was the last byte; the next decides.
    Escape,
    /// Inside `ESC [ …`.
    Sequence,
}

const ANSI_TERMINATORS: &[u8] = b"HfABCDRsuJKhlpm";

impl AnsiStripper {
    /// Its part of what is held.
    pub fn hold(&self, held: &mut Held) {
        held.ansi = match self.state {
            AnsiState::Text => 0,
            AnsiState::Escape => 1,
            AnsiState::Sequence => 2,
        };
    }

    /// Takes up where `held` left off.
    pub fn seed(&mut self, held: &Held) {
        self.state = match held.ansi {
            1 => AnsiState::Escape,
            2 => AnsiState::Sequence,
            _ => AnsiState::Text,
        };
    }

    /// Appends `input` without escape sequences to `out`.
    pub fn strip(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &byte in input {
            self.state = match (self.state, byte) {
                (AnsiState::Text, 0x1b) => AnsiState::Escape,
                (AnsiState::Text, _) => {
                    out.push(byte);
                    AnsiState::Text
                }
                (AnsiState::Escape, b'[') => AnsiState::Sequence,
                (AnsiState::Escape, 0x1b) => {
                    out.push(0x1b);
                    AnsiState::Escape
                }
                (AnsiState::Escape, _) => {
                    out.extend_from_slice(&[0x1b, byte]);
                    AnsiState::Text
                }
                (AnsiState::Sequence, b) if ANSI_TERMINATORS.contains(&b) => AnsiState::Text,
                (AnsiState::Sequence, _) => AnsiState::Sequence,
            };
        }
    }
}

/// Wraps every line as one JSON object (vigil's `*_logfile_format=json`):
/// `{"ts":…,"stream":…,"process":…,"pid":…,"line":…}`, so a log shipper needs no parsing
/// rules. A partial line waits for its end (at most [`JSON_LINE_MAX`] bytes, then it goes as
/// it is), and what is left when the pipe ends goes then ([`JsonLines::finish`]).
#[derive(Debug)]
pub struct JsonLines {
    /// `"stream":"stdout","process":"web","pid":42`, rendered once.
    fields: String,
    partial: Vec<u8>,
}

/// The longest line kept waiting for its newline.
pub const JSON_LINE_MAX: usize = 64 << 10;

impl JsonLines {
    /// Lines of `stream` of process `process`'s child `pid`.
    pub fn new(process: &str, pid: i32, stream: &str) -> JsonLines {
        let quote = |text: &str| serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into());
        JsonLines {
            fields: format!(
                "\"stream\":{},\"process\":{},\"pid\":{pid}",
                quote(stream),
                quote(process)
            ),
            partial: Vec::new(),
        }
    }

    /// Appends to `out` an object for each line `input` ends (the lines of one chunk share
    /// its time, as the timestamper's do).
    pub fn wrap(&mut self, input: &[u8], now: SystemTime, out: &mut Vec<u8>) {
        let ts = crate::timefmt::rfc3339(now);
        for piece in input.split_inclusive(|&b| b == b'\n') {
            match piece.strip_suffix(b"\n") {
                Some(whole) if self.partial.is_empty() => self.line(&ts, whole, out),
                Some(end) => {
                    self.partial.extend_from_slice(end);
                    self.flush_partial(&ts, out);
                }
                None => {
                    self.partial.extend_from_slice(piece);
                    if self.partial.len() >= JSON_LINE_MAX {
                        self.flush_partial(&ts, out);
                    }
                }
            }
        }
    }

    /// Its part of what is held.
    pub fn hold(&self, held: &mut Held) {
        held.json_partial.clone_from(&self.partial);
    }

    /// Takes up where `held` left off.
    pub fn seed(&mut self, held: &Held) {
        self.partial.clone_from(&held.json_partial);
    }

    /// The partial line left when the pipe ended, if any.
    pub fn finish(&mut self, now: SystemTime, out: &mut Vec<u8>) {
        if !self.partial.is_empty() {
            self.flush_partial(&crate::timefmt::rfc3339(now), out);
        }
    }

    fn flush_partial(&mut self, ts: &str, out: &mut Vec<u8>) {
        let partial = std::mem::take(&mut self.partial);
        self.line(ts, &partial, out);
        self.partial = partial;
        self.partial.clear();
    }

    /// One object, written straight into `out`.
    fn line(&self, ts: &str, line: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"ts\":\"");
        out.extend_from_slice(ts.as_bytes());
        out.extend_from_slice(b"\",");
        out.extend_from_slice(self.fields.as_bytes());
        out.extend_from_slice(b",\"line\":");
        let text = String::from_utf8_lossy(line);
        if serde_json::to_writer(&mut *out, text.as_ref()).is_err() {
            out.extend_from_slice(b"\"\"");
        }
        out.extend_from_slice(b"}\n");
    }
}

/// Prefixes every line with an RFC 3339 local time (vigil's `*_logfile_timestamps`).
#[derive(Debug)]
pub struct Timestamper {
    at_line_start: bool,
}

impl Default for Timestamper {
    fn default() -> Self {
        Timestamper {
            at_line_start: true,
        }
    }
}

impl Timestamper {
    /// Its part of what is held.
    pub fn hold(&self, held: &mut Held) {
        held.at_line_start = self.at_line_start;
    }

    /// Takes up where `held` left off.
    pub fn seed(&mut self, held: &Held) {
        self.at_line_start = held.at_line_start;
    }

    /// Appends `input` to `out` with a timestamp before each line that starts in it.
    pub fn stamp(&mut self, input: &[u8], now: SystemTime, out: &mut Vec<u8>) {
        let stamp = format!("{} ", crate::timefmt::rfc3339(now));
        for line in input.split_inclusive(|&b| b == b'\n') {
            if self.at_line_start {
                out.extend_from_slice(stamp.as_bytes());
            }
            out.extend_from_slice(line);
            self.at_line_start = line.ends_with(b"\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_wrap_whole_lines_and_keep_partial_ones_for_the_end() {
        let mut json = JsonLines::new("web \"1\"", 42, "stderr");
        let now = SystemTime::UNIX_EPOCH;
        let mut out = Vec::new();
        json.wrap(b"one\ntw", now, &mut out);
        json.wrap(b"o \"q\"\n\xffpart", now, &mut out);
        json.finish(now, &mut out);
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect();
        let field = |n: usize, key: &str| lines[n][key].clone();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(field(0, "line"), "one");
        assert_eq!(field(1, "line"), "two \"q\"");
        assert_eq!(field(2, "line"), "\u{fffd}part", "not UTF-8: replaced");
        assert_eq!(field(0, "process"), "web \"1\"");
        assert_eq!(field(0, "pid"), 42);
        assert_eq!(field(0, "stream"), "stderr");
        assert!(text.starts_with("{\"ts\":\""), "ts first: {text}");
    }

    #[test]
    fn capture_blocks_leave_the_log_even_when_tokens_are_split() {
        let mut splitter = CaptureSplitter::new(1024);
        let text = b"before <!--XSUPERVISOR:BEGIN-->payload<!--XSUPERVISOR:END--> after";
        for cut in 1..text.len() {
            let mut log = Vec::new();
            let mut blocks = splitter.split(&text[..cut], &mut log);
            blocks.extend(splitter.split(&text[cut..], &mut log));
            assert_eq!(log, b"before  after", "cut at {cut}");
            assert_eq!(blocks, vec![b"payload".to_vec()], "cut at {cut}");
        }
    }

    #[test]
    fn capture_keeps_the_last_max_bytes() {
        let mut splitter = CaptureSplitter::new(4);
        let mut log = Vec::new();
        let blocks = splitter.split(
            b"<!--XSUPERVISOR:BEGIN-->abcdefgh<!--XSUPERVISOR:END-->",
            &mut log,
        );
        assert_eq!(blocks, vec![b"efgh".to_vec()]);
        assert!(log.is_empty());
    }

    #[test]
    fn ansi_sequences_are_stripped_across_reads() {
        let mut stripper = AnsiStripper::default();
        let mut out = Vec::new();
        stripper.strip(b"\x1b[1;3", &mut out);
        stripper.strip(b"1mred\x1b[0m plain \x1bx", &mut out);
        assert_eq!(out, b"red plain \x1bx");
    }

    #[test]
    fn timestamps_start_each_line() {
        let mut stamper = Timestamper::default();
        let mut out = Vec::new();
        let now = SystemTime::UNIX_EPOCH;
        stamper.stamp(b"a\nb", now, &mut out);
        stamper.stamp(b"c\n", now, &mut out);
        let text = String::from_utf8(out).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].ends_with(" a") && lines[1].ends_with(" bc"),
            "{text}"
        );
        assert!(
            lines[0].starts_with("1970-01-01T") || lines[0].starts_with("1969-12-31T"),
            "{text}"
        );
    }
}
