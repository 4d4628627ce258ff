//! vigild's own stdout and stderr for what result handlers print (`supervisor_stdout`,
//! `supervisor_stdlog`): a [`Sink`] each, so a stdout nobody reads (a full pipe, a paused
//! terminal) costs dropped output, counted and said, never a stalled event dispatcher. Each
//! writer thread starts with the first output (after vigild's forks, as the dispatcher runs
//! only then). Knows bytes, not events.

use std::io::Write as _;
use std::sync::OnceLock;

use super::sink::{Sink, QUEUE_BYTES};
use crate::events::handlers::Console;

static STDOUT: OnceLock<Sink> = OnceLock::new();
static STDERR: OnceLock<Sink> = OnceLock::new();

/// Queues `bytes` for vigild's stdout or stderr; never waits.
pub fn print(to: Console, bytes: &[u8]) {
    let (cell, name) = match to {
        Console::Stdout => (&STDOUT, "stdout"),
        Console::Stderr => (&STDERR, "stderr"),
    };
    let sink = cell.get_or_init(|| {
        let sink = Sink::new(
            QUEUE_BYTES,
            move |bytes| {
                // A closed stdout must not stop anything else.
                let _ = match to {
                    Console::Stdout => std::io::stdout().write_all(bytes),
                    Console::Stderr => std::io::stderr().write_all(bytes),
                };
            },
            dropped,
        );
        if let Err(err) = sink.start_writer(&format!("handler {name}")) {
            tracing::error!("cannot start the writer of vigild's {name}: {err}");
        }
        sink
    });
    sink.push(bytes);
}

/// What stands for `count` outputs a stalled stdout or stderr could not take.
fn dropped(count: u64) -> Vec<u8> {
    format!("vigil: {count} result handler outputs dropped\n").into_bytes()
}
