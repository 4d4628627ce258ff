//! `GET /logtail/<namespec>[/stdout|/stderr]` and `GET /mainlogtail`: a never-ending chunked
//! response that starts 1 KiB before the end of the log and follows it, as supervisord's
//! logtail handler does (`supervisorctl tail -f`, `fg`, `maintail -f`). It wakes on writes
//! instead of polling; each read is at most [`CHUNK`] bytes, on a blocking thread (one of
//! [`offload::LOG_CALLS`]), so a follower far behind neither stalls a runtime worker on the
//! stream's lock nor makes vigild hold the whole gap at once.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::logs::stream::LogStream;
use crate::namespec::Namespec;
use crate::offload;
use crate::rpc::Api;

/// How far back a follow starts.
const BACKLOG: u64 = 1024;

/// Most bytes one read of a follow takes.
const CHUNK: u64 = 1 << 20;

/// `<namespec>[/<channel>]` → (namespec, stderr); public for the fuzz target.
pub fn target(path: &str) -> (Namespec, bool) {
    let (namespec, stderr) = match path.rsplit_once('/') {
        Some((name, "stderr")) => (name, true),
        Some((name, "stdout")) => (name, false),
        _ => (path, false),
    };
    (Namespec::parse(namespec), stderr)
}

/// `/logtail/<namespec>[/<channel>]`; a whole group or an unknown name is a 404.
pub async fn process(State(api): State<Api>, Path(path): Path<String>) -> Response {
    let (namespec, stderr) = target(&path);
    api.handle.ready().await;
    let snapshot = api.handle.snapshot();
    let Some(process) = crate::rpc::lookup::in_snapshot(&snapshot, &namespec) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let stream = if stderr {
        &process.stderr
    } else {
        &process.stdout
    };
    follow(Arc::clone(stream))
}

/// `/mainlogtail`.
pub async fn main_log(State(api): State<Api>) -> Response {
    follow(Arc::clone(&api.main_log))
}

fn follow(stream: Arc<LogStream>) -> Response {
    if stream.path().is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    // `None`: not started yet (the first read starts BACKLOG before the end); the stream
    // ends after an error.
    let chunks =
        futures_util::stream::unfold((stream, Some(None::<u64>)), |(stream, offset)| async move {
            let mut offset = offset?;
            loop {
                let grown = Arc::clone(&stream);
                let grown = grown.grown();
                tokio::pin!(grown);
                grown.as_mut().enable();
                let reading = Arc::clone(&stream);
                let read = offload::LOG_CALLS
                    .run(move || {
                        let from =
                            offset.unwrap_or_else(|| reading.total().saturating_sub(BACKLOG));
                        reading.after(from, CHUNK)
                    })
                    .await;
                let tail = match read {
                    Ok(Some(Ok(tail))) => tail,
                    Ok(Some(Err(err))) => {
                        return Some((Err(std::io::Error::other(err.to_string())), (stream, None)))
                    }
                    Ok(None) => return None,
                    Err(busy) => return Some((Err(std::io::Error::other(busy)), (stream, None))),
                };
                offset = Some(tail.offset);
                if !tail.data.is_empty() {
                    return Some((Ok(Bytes::from(tail.data)), (stream, Some(offset))));
                }
                grown.await;
            }
        });
    (
        [
            (header::CONTENT_TYPE, "text/plain;charset=utf-8"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(chunks),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_may_follow_the_namespec() {
        let process = |group: &str, name: &str| Namespec::Process {
            group: group.into(),
            name: name.into(),
        };
        assert_eq!(target("g:a/stderr"), (process("g", "a"), true));
        assert_eq!(target("g:a/stdout"), (process("g", "a"), false));
        assert_eq!(target("a"), (process("a", "a"), false));
        assert_eq!(target("g:*"), (Namespec::Group("g".into()), false));
    }
}
