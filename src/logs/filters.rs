//! Transformations of child output on its way to the log, each keeping state across pipe
//! reads so a token or escape split between two reads is handled: capture mode
//! (`<!--XSUPERVISOR:BEGIN-->` … `<!--XSUPERVISOR:END-->`), ANSI stripping and line
//! timestamps.

use std::time::SystemTime;

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
