//! The methods about logs: the main log (`readLog`, `clearLog`) and each process's stdout
//! and stderr (`readProcess*Log`, `tailProcess*Log`, `clearProcessLogs`,
//! `clearAllProcessLogs`), with supervisord's offset/length rules (in `LogStream`) and its
//! faults. Reads are served from the streams; nothing goes to the supervisor. Every call
//! that touches a stream runs on a blocking thread (at most [`offload::LOG_CALLS`] at once):
//! it takes the stream's lock, which a writer stuck on a slow disk may hold, and may read or
//! truncate the file.

use std::sync::Arc;

use super::Outcome;
use crate::logs::stream::{LogStream, ReadError};
use crate::offload;
use crate::rpc::args::Args;
use crate::rpc::codec::Value;
use crate::rpc::faults::{Fault, FaultCode};
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
    fn of(self, process: &ProcessView) -> Arc<LogStream> {
        match self {
            Channel::Stdout => Arc::clone(&process.stdout),
            Channel::Stderr => Arc::clone(&process.stderr),
        }
    }
}

/// Runs `work` on a blocking thread, off the runtime's workers; FAILED when too many log
/// calls run already.
pub(super) async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Fault> + Send + 'static,
) -> Result<T, Fault> {
    offload::LOG_CALLS
        .run(work)
        .await
        .map_err(|busy| Fault::with(FaultCode::Failed, busy.to_string()))?
        .unwrap_or_else(|| Err(Fault::with(FaultCode::Failed, "the log call was cancelled")))
}

/// `readLog(offset, length)` / `readMainLog(offset, length)`.
pub(super) async fn read_main(api: &Api, args: Args<'_>) -> Outcome {
    let (offset, length) = args.two_ints()?;
    read_stream(Arc::clone(&api.main_log), offset, length).await
}

/// `clearLog()`.
pub(super) async fn clear_main(api: &Api, args: Args<'_>) -> Outcome {
    args.none()?;
    let main_log = Arc::clone(&api.main_log);
    off_runtime(move || main_log.clear().map_err(Fault::from)).await?;
    Ok(Value::Bool(true))
}

/// vigil `readPreviousLog(name, channel)`: what the run before the current one wrote last
/// to `channel` (`stdout` or `stderr`); empty while no run has ended.
pub(super) fn read_previous(api: &Api, args: Args<'_>) -> Outcome {
    let (namespec, channel) = args.two_strings()?;
    let process = lookup::process(api, namespec)?;
    if !matches!(channel, "stdout" | "stderr") {
        return Err(Fault::with(FaultCode::BadArguments, channel));
    }
    let text = process.previous.get().map_or_else(String::new, |run| {
        let bytes = if channel == "stderr" {
            &run.stderr
        } else {
            &run.stdout
        };
        String::from_utf8_lossy(bytes).into_owned()
    });
    Ok(Value::from(text))
}

/// vigil `rotateMainLog()`: true (a main log without a file, `syslog`, is NO_FILE).
pub(super) async fn rotate_main(api: &Api, args: Args<'_>) -> Outcome {
    args.none()?;
    let main_log = Arc::clone(&api.main_log);
    off_runtime(move || main_log.rotate_now().map_err(Fault::from)).await?;
    Ok(Value::Bool(true))
}

/// vigil `rotateLogs(namespec)`: `all`, `group:*` or one process; a result per process.
pub(super) async fn rotate(api: &Api, args: Args<'_>) -> Outcome {
    let spec = args.string()?;
    let processes = if spec == "all" {
        lookup::in_start_order(api, None)
    } else {
        lookup::named(api, spec)?
    };
    off_runtime(move || {
        let results = processes
            .iter()
            .map(|process| render::result_entry(process, &rotate_process(process)))
            .collect();
        Ok(Value::Array(results))
    })
    .await
}

/// Both streams of `process` rotated; a stream without a file is no failure.
fn rotate_process(process: &ProcessView) -> Result<(), Fault> {
    for stream in [&process.stdout, &process.stderr] {
        match stream.rotate_now() {
            Ok(_) | Err(ReadError::NoFile) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

/// `readProcessStdoutLog(name, offset, length)` and its stderr twin.
pub(super) async fn read(api: &Api, args: Args<'_>, channel: Channel) -> Outcome {
    let (namespec, offset, length) = args.string_and_two_ints()?;
    let process = lookup::process(api, namespec)?;
    read_stream(channel.of(&process), offset, length).await
}

/// `tailProcessStdoutLog(name, offset, length)` and its stderr twin:
/// `[data, offset, overflow]`.
pub(super) async fn tail(api: &Api, args: Args<'_>, channel: Channel) -> Outcome {
    let (namespec, offset, length) = args.string_and_two_ints()?;
    let process = lookup::process(api, namespec)?;
    let stream = channel.of(&process);
    let tail = off_runtime(move || stream.tail(offset, length).map_err(Fault::from)).await?;
    Ok(render::tail(&tail))
}

/// `clearProcessLogs(name)`.
pub(super) async fn clear(api: &Api, args: Args<'_>) -> Outcome {
    let process = lookup::process(api, args.string()?)?;
    off_runtime(move || clear_process(&process)).await?;
    Ok(Value::Bool(true))
}

/// `clearAllProcessLogs()`: a result per process.
pub(super) async fn clear_all(api: &Api, args: Args<'_>) -> Outcome {
    args.none()?;
    let snapshot = api.handle.snapshot();
    off_runtime(move || {
        let results = snapshot
            .processes
            .iter()
            .map(|process| render::result_entry(process, &clear_process(process)))
            .collect();
        Ok(Value::Array(results))
    })
    .await
}

async fn read_stream(stream: Arc<LogStream>, offset: i64, length: i64) -> Outcome {
    let bytes = off_runtime(move || stream.read(offset, length).map_err(Fault::from)).await?;
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
