//! A writer thread behind a bounded queue, for sinks whose writes may block for as long as
//! something outside vigild pleases: the main log's file (a stalled disk) and its echo on
//! stderr (a FIFO or terminal nobody reads). Producers never wait: a line that does not fit
//! is counted and dropped, and once the sink has caught up it gets one `N log lines
//! dropped` line in place of them. This module knows bytes, never what they say.
//!
//! The thread starts only when asked ([`Sink::start_writer`]): vigild forks (daemonizing, its
//! helpers) after its log exists and must still be single-threaded then. Until the thread
//! runs, lines wait in the queue, and a [`Sink::flush`] writes them on the caller's thread.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// Bytes a sink may have waiting before new lines are dropped.
pub const QUEUE_BYTES: usize = 4 << 20;

/// The producers' end of a sink: cheap to share, never blocks.
pub struct Sink {
    shared: Arc<Shared>,
}

/// Writes one line to the sink.
type Write = Box<dyn FnMut(&[u8]) + Send>;

struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a line arrives (for the writer) and when a write ends (for
    /// [`Sink::flush`]).
    changed: Condvar,
    limit: usize,
    /// The writing end, until the writer thread takes it.
    write: Mutex<Option<Write>>,
    /// Renders the line that stands for `n` dropped lines.
    dropped: fn(u64) -> Vec<u8>,
}

#[derive(Default)]
struct Queue {
    lines: VecDeque<Vec<u8>>,
    bytes: usize,
    dropped: u64,
    /// The writer is inside a write (the queue may be empty while a line is still on its way).
    writing: bool,
    /// The writer thread runs.
    started: bool,
}

impl Sink {
    /// A sink handing each queued line to `write`, with at most `limit` bytes waiting;
    /// `dropped(n)` renders the line that stands for `n` dropped lines. Nothing is written
    /// before [`Sink::start_writer`] or [`Sink::flush`].
    pub fn new(
        limit: usize,
        write: impl FnMut(&[u8]) + Send + 'static,
        dropped: fn(u64) -> Vec<u8>,
    ) -> Sink {
        Sink {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue::default()),
                changed: Condvar::new(),
                limit,
                write: Mutex::new(Some(Box::new(write))),
                dropped,
            }),
        }
    }

    /// Starts the thread `name` that writes from now on (once; later calls do nothing).
    pub fn start_writer(&self, name: &str) -> std::io::Result<()> {
        let Some(mut write) = self.shared.take_write() else {
            return Ok(());
        };
        self.shared.lock().started = true;
        let writer = Arc::clone(&self.shared);
        let spawned = std::thread::Builder::new()
            .name(name.to_string())
            .stack_size(256 * 1024)
            .spawn(move || loop {
                let next = writer.next(true);
                writer.write_one(&mut write, next);
            });
        if let Err(err) = spawned {
            self.shared.lock().started = false;
            return Err(err);
        }
        Ok(())
    }

    /// Queues `line`; drops it (counted) when the queue is full. Never waits on the sink.
    pub fn push(&self, line: &[u8]) {
        let mut queue = self.shared.lock();
        if queue.bytes + line.len() > self.shared.limit {
            queue.dropped += 1;
            return;
        }
        queue.bytes += line.len();
        queue.lines.push_back(line.to_vec());
        drop(queue);
        self.shared.changed.notify_all();
    }

    /// Lines waiting to be written.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.shared.lock().lines.len()
    }

    /// Lines dropped and not yet reported to the sink.
    pub fn dropped(&self) -> u64 {
        self.shared.lock().dropped
    }

    /// Waits until everything queued has been written, or `deadline` has passed (a sink that
    /// never drains must not keep vigild from exiting); without a writer thread, writes it
    /// here. Gives whether it drained.
    pub fn flush(&self, deadline: Instant) -> bool {
        if let Some(mut write) = self.shared.take_write() {
            while let Some(next) = self.shared.next(false) {
                self.shared.write_one(&mut write, Some(next));
            }
            *self
                .shared
                .write
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(write);
            return true;
        }
        let mut queue = self.shared.lock();
        while !queue.lines.is_empty() || queue.writing || queue.dropped > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !queue.started {
                return false;
            }
            queue = self
                .shared
                .changed
                .wait_timeout(queue, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

/// What the writer takes next: a line, or the count of lines dropped since the queue last ran
/// dry.
enum Next {
    Line(Vec<u8>),
    Dropped(u64),
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take_write(&self) -> Option<Write> {
        self.write
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// The next line; when the queue has run dry with lines dropped, the count of them
    /// instead (once), so the report follows everything that did fit. `wait`: until there
    /// is one (else None when there is nothing).
    fn next(&self, wait: bool) -> Option<Next> {
        let mut queue = self.lock();
        loop {
            if let Some(line) = queue.lines.pop_front() {
                queue.bytes -= line.len();
                queue.writing = true;
                return Some(Next::Line(line));
            }
            if queue.dropped > 0 {
                queue.writing = true;
                return Some(Next::Dropped(std::mem::take(&mut queue.dropped)));
            }
            if !wait {
                return None;
            }
            queue = self
                .changed
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Writes what [`Shared::next`] gave, then lets a flush know.
    fn write_one(&self, write: &mut Write, next: Option<Next>) {
        match next {
            Some(Next::Line(line)) => write(&line),
            Some(Next::Dropped(count)) => write(&(self.dropped)(count)),
            None => {}
        }
        self.lock().writing = false;
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn a_blocked_sink_drops_and_then_reports_what_it_lost() {
        let (gate_open, gate) = mpsc::channel::<()>();
        let written = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
        let into = Arc::clone(&written);
        let sink = Sink::new(
            10,
            move |line| {
                // The first write blocks until the test opens the gate.
                let _ = gate.recv();
                into.lock().expect("lock").push(line.to_vec());
            },
            |n| format!("{n} log lines dropped\n").into_bytes(),
        );
        sink.start_writer("test sink").expect("thread");
        sink.push(b"first\n");
        // The writer holds "first" (blocked); "0123\n" fits, the rest do not.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sink.shared.lock().writing {
            assert!(Instant::now() < deadline, "the writer never took a line");
            std::thread::yield_now();
        }
        sink.push(b"0123\n");
        for _ in 0..5 {
            sink.push(b"too much\n");
        }
        assert_eq!(sink.dropped(), 5);
        for _ in 0..3 {
            let _ = gate_open.send(());
        }
        assert!(
            sink.flush(Instant::now() + Duration::from_secs(10)),
            "the sink drained"
        );
        let written = written.lock().expect("lock").clone();
        assert_eq!(
            written,
            [
                b"first\n".to_vec(),
                b"0123\n".to_vec(),
                b"5 log lines dropped\n".to_vec()
            ]
        );
        assert_eq!(sink.dropped(), 0);
    }

    #[test]
    fn without_a_writer_flush_writes_on_the_callers_thread() {
        let written = Arc::new(Mutex::new(Vec::<u8>::new()));
        let into = Arc::clone(&written);
        let sink = Sink::new(
            1 << 10,
            move |line| into.lock().expect("lock").extend_from_slice(line),
            |_| Vec::new(),
        );
        sink.push(b"before the fork\n");
        assert!(written.lock().expect("lock").is_empty());
        assert!(sink.flush(Instant::now()));
        assert_eq!(*written.lock().expect("lock"), b"before the fork\n");
    }

    #[test]
    fn flush_gives_up_on_a_sink_that_never_drains() {
        let (_keep, gate) = mpsc::channel::<()>();
        let sink = Sink::new(
            1 << 10,
            move |_| {
                let _ = gate.recv();
            },
            |_| Vec::new(),
        );
        sink.start_writer("stuck sink").expect("thread");
        sink.push(b"line\n");
        assert!(!sink.flush(Instant::now() + Duration::from_millis(50)));
    }
}
