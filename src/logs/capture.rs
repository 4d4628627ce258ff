//! Copies a child's stdout or stderr pipe into its [`LogSink`] in large chunks, on its own
//! task, so a chatty child never waits on the supervisor and never loses a byte.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;

use super::sink::LogSink;

/// Bytes read from a pipe at a time.
const CHUNK: usize = 128 * 1024;

/// Starts copying `pipe` into `sink` until the write end is closed by every holder (the child
/// and any grandchildren that inherited it). `label` names the stream in error messages.
pub fn spawn(
    pipe: OwnedFd,
    sink: Arc<LogSink>,
    label: String,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let mut receiver = pipe::Receiver::from_owned_fd(pipe)?;
    Ok(tokio::spawn(async move {
        let mut buffer = vec![0u8; CHUNK];
        let mut reported = false;
        loop {
            match receiver.read(&mut buffer).await {
                Ok(0) => break,
                Ok(n) => {
                    if let Err(err) = sink.write(&buffer[..n]) {
                        if !reported {
                            tracing::error!("could not write {label} log: {err}");
                            reported = true;
                        }
                    }
                }
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    tracing::error!("could not read {label} pipe: {err}");
                    break;
                }
            }
        }
    }))
}
