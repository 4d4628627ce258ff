//! vigil `ready=log:REGEX`: watches a fresh child's output, line by line, for the first
//! line that matches, and says so once. It sees the chunks a capture relays (both streams
//! share one `found` flag, so only the first match counts) and keeps at most [`MAX_LINE`]
//! bytes of a line that has not ended. It knows bytes, not states: what a match means is
//! the caller's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use regex::Regex;

/// The longest part of one line kept while its end has not come; a longer line is matched
/// on its first this many bytes.
pub const MAX_LINE: usize = 8 * 1024;

/// A chunk watcher for [`super::capture::OnOutput`]: calls `on_match` for the first line of
/// the output that `pattern` matches, unless `found` (shared by the child's two streams)
/// says a match came already; then it only passes chunks by.
pub fn watch_lines(
    pattern: Regex,
    found: Arc<AtomicBool>,
    on_match: impl FnOnce() + Send + 'static,
) -> impl FnMut(&[u8]) + Send + 'static {
    let mut partial: Vec<u8> = Vec::new();
    let mut on_match = Some(on_match);
    move |chunk: &[u8]| {
        if on_match.is_none() || found.load(Ordering::Relaxed) {
            return;
        }
        let mut rest = chunk;
        while !rest.is_empty() {
            let (line, ended, after) = match rest.iter().position(|b| *b == b'\n') {
                Some(at) => (&rest[..at], true, &rest[at + 1..]),
                None => (rest, false, &rest[rest.len()..]),
            };
            let room = MAX_LINE.saturating_sub(partial.len());
            partial.extend_from_slice(&line[..line.len().min(room)]);
            rest = after;
            if !ended {
                break;
            }
            let matched = pattern.is_match(&String::from_utf8_lossy(&partial));
            partial.clear();
            if matched && !found.swap(true, Ordering::Relaxed) {
                if let Some(tell) = on_match.take() {
                    tell();
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn the_first_matching_line_counts_once_across_chunks_and_streams() {
        let found = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicUsize::new(0));
        let pattern = Regex::new(r"^Listening on :\d+$").expect("regex");
        let counter = |hits: &Arc<AtomicUsize>| {
            let hits = Arc::clone(hits);
            move || {
                hits.fetch_add(1, Ordering::Relaxed);
            }
        };
        let mut stdout = watch_lines(pattern.clone(), Arc::clone(&found), counter(&hits));
        let mut stderr = watch_lines(pattern, Arc::clone(&found), counter(&hits));
        stdout(b"starting\nListening on");
        assert_eq!(hits.load(Ordering::Relaxed), 0, "the line has not ended");
        stdout(b" :8080\nListening on :9090\n");
        assert_eq!(hits.load(Ordering::Relaxed), 1);
        stderr(b"Listening on :1\n");
        stdout(b"Listening on :2\n");
        assert_eq!(
            hits.load(Ordering::Relaxed),
            1,
            "only the first match counts"
        );
    }

    #[test]
    fn a_line_longer_than_the_cap_is_matched_on_its_start_and_bytes_need_not_be_utf8() {
        let found = Arc::new(AtomicBool::new(false));
        let hit = Arc::new(AtomicBool::new(false));
        let seen = Arc::clone(&hit);
        let mut watch = watch_lines(Regex::new("^ready").expect("regex"), found, move || {
            seen.store(true, Ordering::Relaxed);
        });
        watch(&[b'x'; MAX_LINE * 2]);
        watch(b"ready\n\xff\xfe\n");
        assert!(!hit.load(Ordering::Relaxed), "the long line starts with x");
        watch(b"\xffready? no\nready \xff\n");
        assert!(hit.load(Ordering::Relaxed));
    }
}
