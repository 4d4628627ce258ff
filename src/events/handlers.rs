//! The result handlers a listener pool runs on each `RESULT` body, as supervisord calls its
//! `result_handler`: its default (`OK` is processed, anything else rejected), and the two
//! that container images use to relay child output to the container log, done natively
//! because vigil cannot import Python:
//!
//! - `supervisor_stdout:event_handler` (supervisor-stdout 0.1.1): `<process> <channel> | `
//!   and the data, as `print '%s %s | %s' % (...),` writes it (no newline added);
//! - `supervisor_stdlog:log_handler` (supervisor-stdlog 0.7.9): each line of the data as
//!   `ESC[<colour>m<process padded>| ESC[<channel colour>m<line>ESC[m\n`, to stderr for the
//!   stderr channel and stdout otherwise, the colours and padding as its module globals
//!   keep them (here per pool).
//!
//! Pure: it returns what to print; the dispatcher writes it without waiting.

use std::collections::HashMap;

use crate::config::ResultHandler;

/// Where a handler's output goes: vigild's own stdout or stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console {
    /// vigild's stdout.
    Stdout,
    /// vigild's stderr.
    Stderr,
}

/// What a handler made of one result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Processed, with what to print (if anything).
    Processed(Option<(Console, Vec<u8>)>),
    /// Rejected (`RejectEvent`): the event goes back to the queue.
    Rejected,
    /// The handler failed (an exception in supervisord): the listener goes UNKNOWN and the
    /// event is rejected.
    Failed(String),
}

/// supervisor-stdlog's colours, in its cycle's order.
const RAINBOWS: [u8; 10] = [36, 33, 32, 35, 34, 36, 33, 32, 35, 34];

/// What supervisor-stdlog keeps between calls: the colour given to each process, its cycle's
/// position (it moves at every call) and the padding (the longest name plus one so far).
#[derive(Debug)]
pub struct StdlogState {
    colours: HashMap<String, u8>,
    turn: usize,
    pad: usize,
}

impl Default for StdlogState {
    fn default() -> Self {
        StdlogState {
            colours: HashMap::new(),
            turn: 0,
            pad: 1,
        }
    }
}

/// Runs `handler` on a listener's result `body`.
pub fn handle(handler: ResultHandler, body: &[u8], stdlog: &mut StdlogState) -> Verdict {
    match handler {
        ResultHandler::Default if body == b"OK" => Verdict::Processed(None),
        ResultHandler::Default => Verdict::Rejected,
        ResultHandler::SupervisorStdout => match headers_and_data(body) {
            Some((headers, data)) => {
                let mut out = format!("{} {} | ", headers.process, headers.channel).into_bytes();
                out.extend_from_slice(data);
                Verdict::Processed(Some((Console::Stdout, out)))
            }
            None => Verdict::Failed("not a PROCESS_LOG payload".into()),
        },
        ResultHandler::SupervisorStdlog => {
            // Its own try/except prints the error and the event counts as processed.
            let Some((headers, data)) = headers_and_data(body) else {
                return Verdict::Processed(None);
            };
            Verdict::Processed(Some(stdlog.lines(&headers, data)))
        }
    }
}

/// The headers a PROCESS_LOG payload starts with.
struct Headers<'a> {
    process: &'a str,
    channel: &'a str,
}

/// `line, data = payload.split('\n', 1)` and `dict(x.split(':') for x in line.split())`,
/// with the `processname` and `channel` the handlers look up; `None` where Python raises.
fn headers_and_data(body: &[u8]) -> Option<(Headers<'_>, &[u8])> {
    let end = body.iter().position(|b| *b == b'\n')?;
    let line = std::str::from_utf8(&body[..end]).ok()?;
    let (mut process, mut channel) = (None, None);
    for token in line.split_whitespace() {
        let mut parts = token.split(':');
        let (Some(key), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        match key {
            "processname" => process = Some(value),
            "channel" => channel = Some(value),
            _ => {}
        }
    }
    Some((
        Headers {
            process: process?,
            channel: channel?,
        },
        &body[end + 1..],
    ))
}

impl StdlogState {
    fn lines(&mut self, headers: &Headers<'_>, data: &[u8]) -> (Console, Vec<u8>) {
        let name = headers.process;
        self.pad = self.pad.max(name.chars().count() + 1);
        // `COLORMAP.setdefault(name, next(COLORSIT))`: the cycle moves at every call.
        let next = RAINBOWS[self.turn % RAINBOWS.len()];
        self.turn += 1;
        let colour = *self.colours.entry(name.to_string()).or_insert(next);
        let channel_colour = match headers.channel {
            "stderr" => 31,
            "stdout" => 37,
            _ => 34,
        };
        let console = if headers.channel == "stderr" {
            Console::Stderr
        } else {
            Console::Stdout
        };
        let prefix = format!(
            "\x1b[{colour}m{name:<width$}| \x1b[{channel_colour}m",
            width = self.pad
        );
        let data = data.strip_suffix(b"\n").unwrap_or(data);
        let mut out = Vec::with_capacity(data.len() + 32);
        for line in data.split(|b| *b == b'\n') {
            out.extend_from_slice(prefix.as_bytes());
            out.extend_from_slice(line);
            out.extend_from_slice(b"\x1b[m\n");
        }
        (console, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYLOAD: &[u8] = b"processname:web groupname:web pid:42 channel:stdout\nGET /\nGET /x\n";

    #[test]
    fn supervisor_stdout_prefixes_the_data_once_as_its_print_does() {
        let verdict = handle(
            ResultHandler::SupervisorStdout,
            PAYLOAD,
            &mut StdlogState::default(),
        );
        assert_eq!(
            verdict,
            Verdict::Processed(Some((
                Console::Stdout,
                b"web stdout | GET /\nGET /x\n".to_vec()
            )))
        );
        let broken = handle(
            ResultHandler::SupervisorStdout,
            b"OK",
            &mut StdlogState::default(),
        );
        assert!(matches!(broken, Verdict::Failed(_)));
    }

    #[test]
    fn supervisor_stdlog_colours_pads_and_splits_lines_as_its_globals_do() {
        let mut state = StdlogState::default();
        let first = handle(ResultHandler::SupervisorStdlog, PAYLOAD, &mut state);
        assert_eq!(
            first,
            Verdict::Processed(Some((
                Console::Stdout,
                b"\x1b[36mweb | \x1b[37mGET /\x1b[m\n\x1b[36mweb | \x1b[37mGET /x\x1b[m\n".to_vec()
            )))
        );
        // A longer name widens the padding; the cycle moved at the first call.
        let other = b"processname:worker groupname:w pid:7 channel:stderr\noops\n";
        let second = handle(ResultHandler::SupervisorStdlog, other, &mut state);
        assert_eq!(
            second,
            Verdict::Processed(Some((
                Console::Stderr,
                b"\x1b[33mworker | \x1b[31moops\x1b[m\n".to_vec()
            )))
        );
        let third = handle(ResultHandler::SupervisorStdlog, PAYLOAD, &mut state);
        let Verdict::Processed(Some((_, text))) = third else {
            panic!("processed");
        };
        assert!(
            text.starts_with(b"\x1b[36mweb    | "),
            "kept colour, wider pad"
        );
    }

    #[test]
    fn the_default_handler_takes_ok_only() {
        let mut state = StdlogState::default();
        assert_eq!(
            handle(ResultHandler::Default, b"OK", &mut state),
            Verdict::Processed(None)
        );
        assert_eq!(
            handle(ResultHandler::Default, b"FAIL", &mut state),
            Verdict::Rejected
        );
    }
}
