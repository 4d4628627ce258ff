//! A child's stdin feeder: what vigild sends a child (`sendProcessStdin`, an event for a
//! listener) waits in a queue of at most [`STDIN_BUFFER`] bytes, and a task of its own writes
//! it to the pipe, in order, whenever the pipe is writable. A child that does not read fills
//! the queue and further sends are refused at once: no caller and no runtime thread ever
//! waits on the child.
//!
//! It owns the write end of the pipe and closes it when the last [`Feeder`] handle is dropped
//! (the child then sees the end of its input). It knows nothing of processes or their states.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::net::unix::pipe;
use tokio::sync::Notify;

/// The most bytes that may wait for one child to read them (the pipe's own buffer aside).
pub const STDIN_BUFFER: usize = 1 << 20;

/// Why bytes were not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// The queue cannot take them: the child does not read its stdin fast enough.
    #[error(
        "stdin buffer full: {waiting} bytes wait for the process to read them and {adding} \
         more would pass the limit of {STDIN_BUFFER}"
    )]
    Full {
        /// Bytes already queued.
        waiting: usize,
        /// Bytes refused.
        adding: usize,
    },
    /// The pipe is closed (the child closed its stdin, or it is gone).
    #[error("stdin is closed")]
    Closed,
}

/// A handle on one child's stdin feeder; clones share the queue.
#[derive(Debug, Clone)]
pub struct Feeder {
    handle: Arc<Handle>,
}

/// Dropped with the last [`Feeder`]: ends the writer task, which closes the pipe.
#[derive(Debug)]
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.lock().ended = true;
        self.shared.wake.notify_one();
    }
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    /// Wakes the writer: bytes queued, or the handles gone.
    wake: Notify,
    /// The pipe's fd while the writer holds it, -1 once closed (what a handover passes on).
    fd: AtomicI32,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug, Default)]
struct Queue {
    /// What waits, in order; the first chunk stays until it is written whole.
    chunks: VecDeque<Arc<Vec<u8>>>,
    /// Bytes of the first chunk already written.
    front_written: usize,
    /// Bytes in `chunks` not yet written.
    waiting: usize,
    /// A write failed: the pipe is closed for good.
    closed: bool,
    /// Every handle is gone.
    ended: bool,
}

impl Feeder {
    /// Starts the writer task for the pipe's write end `fd` on the current runtime.
    pub fn start(fd: OwnedFd) -> io::Result<Feeder> {
        Feeder::start_with(fd, Vec::new())
    }

    /// Starts the writer task for `fd` with `pending` queued first: what a handover's
    /// record says the vigild before had not written yet.
    pub fn start_with(fd: OwnedFd, pending: Vec<u8>) -> io::Result<Feeder> {
        let raw = fd.as_raw_fd();
        let pipe = pipe::Sender::from_owned_fd(fd)?;
        let mut queue = Queue::default();
        if !pending.is_empty() {
            queue.waiting = pending.len();
            queue.chunks.push_back(Arc::new(pending));
        }
        let shared = Arc::new(Shared {
            queue: Mutex::new(queue),
            wake: Notify::new(),
            fd: AtomicI32::new(raw),
        });
        let writer = Arc::clone(&shared);
        tokio::spawn(async move {
            write(&writer, pipe).await;
        });
        Ok(Feeder {
            handle: Arc::new(Handle { shared }),
        })
    }

    /// The pipe's fd while the feeder holds it open (a handover passes it on), and the bytes
    /// queued that the child has not read yet, in order (stable while pipes are frozen).
    pub fn handover(&self) -> (Option<i32>, Vec<u8>) {
        let shared = &self.handle.shared;
        let fd = shared.fd.load(Ordering::SeqCst);
        let queue = shared.lock();
        let mut pending = Vec::with_capacity(queue.waiting);
        for (at, chunk) in queue.chunks.iter().enumerate() {
            let skip = if at == 0 { queue.front_written } else { 0 };
            pending.extend_from_slice(chunk.get(skip..).unwrap_or_default());
        }
        ((fd >= 0).then_some(fd), pending)
    }

    /// Queues `bytes` for the child, or says at once why not.
    pub fn send(&self, bytes: Vec<u8>) -> Result<(), FeedError> {
        let shared = &self.handle.shared;
        let mut queue = shared.lock();
        if queue.closed {
            return Err(FeedError::Closed);
        }
        if bytes.is_empty() {
            return Ok(());
        }
        if queue.waiting + bytes.len() > STDIN_BUFFER {
            return Err(FeedError::Full {
                waiting: queue.waiting,
                adding: bytes.len(),
            });
        }
        queue.waiting += bytes.len();
        queue.chunks.push_back(Arc::new(bytes));
        drop(queue);
        shared.wake.notify_one();
        Ok(())
    }
}

/// Marks a feeder's fd closed when dropped.
struct MarkClosed<'a>(&'a AtomicI32);

impl Drop for MarkClosed<'_> {
    fn drop(&mut self) {
        self.0.store(-1, Ordering::SeqCst);
    }
}

/// The writer task: writes queued chunks in order as the pipe allows, until every handle is
/// gone or a write fails.
async fn write(shared: &Shared, pipe: pipe::Sender) {
    // Dropped before `pipe` (locals go before parameters): the fd is marked closed before
    // it is, so a handover never names a number that may be another fd's.
    let _closing = MarkClosed(&shared.fd);
    loop {
        let front = {
            let queue = shared.lock();
            if queue.ended {
                return;
            }
            queue
                .chunks
                .front()
                .map(|chunk| (Arc::clone(chunk), queue.front_written))
        };
        let Some((chunk, mut written)) = front else {
            shared.wake.notified().await;
            continue;
        };
        while written < chunk.len() {
            tokio::select! {
                ready = pipe.writable() => {
                    // A handover freezes the pipes: the bytes wait for the next vigild.
                    let Some(_operation) = crate::freeze::Operation::begin() else {
                        crate::freeze::thawed().await;
                        continue;
                    };
                    let outcome = match ready {
                        Ok(()) => pipe.try_write(&chunk[written..]),
                        Err(err) => Err(err),
                    };
                    match outcome {
                        Ok(n) => {
                            written += n;
                            let mut queue = shared.lock();
                            queue.waiting -= n;
                            queue.front_written = written;
                            if written == chunk.len() {
                                queue.chunks.pop_front();
                                queue.front_written = 0;
                            }
                        }
                        Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                        Err(err) => {
                            tracing::debug!("stdin of a child closed: {err}");
                            let mut queue = shared.lock();
                            queue.closed = true;
                            queue.chunks.clear();
                            queue.front_written = 0;
                            queue.waiting = 0;
                            return;
                        }
                    }
                }
                () = shared.wake.notified() => {
                    if shared.lock().ended {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn pipe_pair() -> (std::fs::File, OwnedFd) {
        let (read, write) = nix::unistd::pipe().expect("pipe");
        (std::fs::File::from(read), write)
    }

    #[tokio::test]
    async fn bytes_arrive_in_order_and_a_reader_that_stops_fills_the_queue() {
        let (mut read, write) = pipe_pair();
        let feeder = Feeder::start(write).expect("feeder");
        for n in 0..100u8 {
            feeder.send(vec![n; 1000]).expect("queued");
        }
        let mut got = vec![0u8; 100 * 1000];
        let reader =
            tokio::task::spawn_blocking(move || read.read_exact(&mut got).map(|()| (read, got)));
        let (read, got) = reader.await.expect("join").expect("read");
        assert!(got
            .chunks(1000)
            .enumerate()
            .all(|(n, chunk)| chunk.iter().all(|b| usize::from(*b) == n)));

        // Nobody reads now: the pipe's buffer fills, then the queue, then sends are refused.
        let piece = vec![b'x'; 64 << 10];
        let mut accepted = 0;
        let refusal = loop {
            match feeder.send(piece.clone()) {
                Ok(()) => accepted += piece.len(),
                Err(err) => break err,
            }
            assert!(accepted <= 4 * STDIN_BUFFER, "never refused");
            tokio::task::yield_now().await;
        };
        assert!(matches!(refusal, FeedError::Full { adding, .. } if adding == piece.len()));
        assert!(accepted >= STDIN_BUFFER - piece.len(), "{accepted}");

        // The reader goes away: the next write fails and the feeder says closed.
        drop(read);
        let closed = loop {
            match feeder.send(Vec::new()) {
                Err(FeedError::Closed) => break true,
                _ => tokio::task::yield_now().await,
            }
        };
        assert!(closed);
    }

    #[tokio::test]
    async fn dropping_the_last_handle_closes_the_pipe() {
        let (mut read, write) = pipe_pair();
        let feeder = Feeder::start(write).expect("feeder");
        let other = feeder.clone();
        feeder.send(b"last words".to_vec()).expect("queued");
        drop(feeder);
        other.send(b"!".to_vec()).expect("queued");
        drop(other);
        let all = tokio::task::spawn_blocking(move || {
            let mut all = Vec::new();
            read.read_to_end(&mut all).map(|_| all)
        })
        .await
        .expect("join")
        .expect("read to the end");
        // What was written before the end is there, in order; the end always comes.
        assert!(b"last words!".starts_with(&all), "{all:?}");
    }
}
