//! The process-wide latch a handover (`vigilctl reexec`) holds while vigild hands its fleet
//! to a new image: the pipes' readers and writers (`logs::capture`, `process::stdin`) stop
//! touching their pipes, keep them open, and wait; bytes wait in the kernel's pipe buffers
//! (and a writing child, once its pipe is full, waits too) until the new vigild reads on.
//! A handover that is given up thaws, and everything goes on where it stopped.
//!
//! It owns nothing but the latch and the count of pipe operations in progress; who freezes
//! and why is the supervisor's business.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

static FROZEN: AtomicBool = AtomicBool::new(false);
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
static THAWED: Notify = Notify::const_new();

/// Whether pipes are frozen now.
pub fn frozen() -> bool {
    FROZEN.load(Ordering::SeqCst)
}

/// One pipe operation (a drain, a write) in progress; the freeze waits for it to end.
/// `None` when frozen: the operation must not start.
pub struct Operation(());

impl Operation {
    /// Starts an operation, unless pipes are frozen.
    pub fn begin() -> Option<Operation> {
        ACTIVE.fetch_add(1, Ordering::SeqCst);
        if FROZEN.load(Ordering::SeqCst) {
            ACTIVE.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Operation(()))
    }
}

impl Drop for Operation {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits (on a task) while pipes are frozen; returns at once when they are not.
pub async fn thawed() {
    loop {
        let thaw = THAWED.notified();
        tokio::pin!(thaw);
        thaw.as_mut().enable();
        if !frozen() {
            return;
        }
        thaw.await;
    }
}

/// Waits (on a thread of its own) while pipes are frozen.
pub fn thawed_blocking() {
    while frozen() {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Freezes every pipe and waits, at most `limit`, for the operations in progress to end;
/// whether they did (if not, the caller should [`thaw`]).
pub async fn freeze(limit: Duration) -> bool {
    FROZEN.store(true, Ordering::SeqCst);
    let end = Instant::now() + limit;
    while ACTIVE.load(Ordering::SeqCst) > 0 {
        if Instant::now() > end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    true
}

/// Lets every pipe go on.
pub fn thaw() {
    FROZEN.store(false, Ordering::SeqCst);
    THAWED.notify_waiters();
}
