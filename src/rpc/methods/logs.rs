//! The methods about logs: the main log (`readLog`, `clearLog`) and each process's stdout
//! and stderr (`readProcess*Log`, `tailProcess*Log`, `clearProcessLogs`,
//! `clearAllProcessLogs`), with supervisord's offset/length rules (in `LogStream`) and its
//! faults. Reads are served from the streams; nothing goes to the supervisor.

use super::Outcome;
use crate::logs::stream::{LogStream, ReadError};
use crate::rpc::args::Args;
use crate::rpc::codec::Value;
use crate::rpc::faults::Fault;
use crate::rpc::{lookup, render, Api};
use crate::supervisor::ProcessView;

/// Which of a process's streams a call reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Channel {
    /// stdout (also stderr's, with `redirect_stderr`).
    Stdout,
    /// stderr.
    Stderr,
}

impl Channel {
    fn of(self, process: &ProcessView) -> &LogStream {
        match self {
            Channel::Stdout => &process.stdout,
            Channel::Stderr => &process.stderr,
        }
    }
}

/// `readLog(offset, length)` / `readMainLog(offset, length)`.
pub(super) fn read_main(api: &Api, args: Args<'_>) -> Outcome {
    let (offset, length) = args.two_ints()?;
    read_stream(&api.main_log, offset, length)
}

/// `clearLog()`.
pub(super) fn clear_main(api: &Api, args: Args<'_>) -> Outcome {
    args.none()?;
    api.main_log.clear()?;
    Ok(Value::Bool(true))
}

/// `readProcessStdoutLog(name, offset, length)` and its stderr twin.
pub(super) fn read(api: &Api, args: Args<'_>, channel: Channel) -> Outcome {
    let (namespec, offset, length) = args.string_and_two_ints()?;
    let process = lookup::process(api, namespec)?;
    read_stream(channel.of(&process), offset, length)
}

/// `tailProcessStdoutLog(name, offset, length)` and its stderr twin:
/// `[data, offset, overflow]`.
pub(super) fn tail(api: &Api, args: Args<'_>, channel: Channel) -> Outcome {
    let (namespec, offset, length) = args.string_and_two_ints()?;
    let process = lookup::process(api, namespec)?;
    let tail = channel.of(&process).tail(offset, length)?;
    Ok(render::tail(&tail))
}

/// `clearProcessLogs(name)`.
pub(super) fn clear(api: &Api, args: Args<'_>) -> Outcome {
    let process = lookup::process(api, args.string()?)?;
    clear_process(&process)?;
    Ok(Value::Bool(true))
}

/// `clearAllProcessLogs()`: a result per process.
pub(super) fn clear_all(api: &Api, args: Args<'_>) -> Outcome {
    args.none()?;
    let results = api
        .handle
        .snapshot()
        .processes
        .iter()
        .map(|process| render::result_entry(process, &clear_process(process)))
        .collect();
    Ok(Value::Array(results))
}

fn read_stream(stream: &LogStream, offset: i64, length: i64) -> Outcome {
    let bytes = stream.read(offset, length)?;
    Ok(Value::from(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Both streams of `process` emptied; a stream without a file is no failure.
fn clear_process(process: &ProcessView) -> Result<(), Fault> {
    for stream in [&process.stdout, &process.stderr] {
        match stream.clear() {
            Ok(()) | Err(ReadError::NoFile) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}
