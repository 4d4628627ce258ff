//! Work that callers from outside hand to tokio's blocking threads, bounded per kind. A log
//! read takes a stream's lock (which a writer stuck on a slow disk may hold) and reads the
//! file; a page or a scrape renders megabytes; a start's command check stats the file system.
//! Each runs on a blocking thread so no runtime worker waits, and at most [`Offload::max`] of
//! a kind run at once: a hung disk or a flood of callers cannot pile up threads without end
//! (tokio queues blocking work it has no thread for, unbounded). A call over the bound is
//! refused at once, counted (`vigil_offload_refused_total`) and logged once per kind.
//!
//! This module owns only the counts; what the work does and what a refusal answers are the
//! caller's.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// One kind of offloaded work and its bound.
pub struct Offload {
    /// Its name in `vigil_offload_refused_total{kind}` and in the log.
    pub kind: &'static str,
    /// How many may run at once.
    pub max: usize,
    running: AtomicUsize,
    refused: AtomicU64,
    reported: AtomicBool,
}

/// Process log calls: `readProcess*Log`, `tailProcess*Log`, `clear*Log*`, `/logtail`,
/// the web page's tail.
pub static LOG_CALLS: Offload = Offload::new("log_calls", 64);

/// Big renderings: `/metrics` and the web pages.
pub static RENDERS: Offload = Offload::new("renders", 16);

/// supervisord's command check before `startProcess` answers.
pub static COMMAND_CHECKS: Offload = Offload::new("command_checks", 64);

/// Every kind, for `/metrics`.
pub static KINDS: [&Offload; 3] = [&LOG_CALLS, &RENDERS, &COMMAND_CHECKS];

/// A call refused because as many of its kind run already (each may be stuck on the disk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many {kind} in flight ({max}); try again later")]
pub struct Busy {
    /// The kind.
    pub kind: &'static str,
    /// Its bound.
    pub max: usize,
}

/// A call's place in its kind's count, given back when the call ends (or the slot is
/// dropped unused).
pub struct Slot(&'static Offload);

impl Slot {
    /// Runs `work` on a blocking thread in this slot.
    pub fn spawn<T: Send + 'static>(
        self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> tokio::task::JoinHandle<T> {
        tokio::task::spawn_blocking(move || {
            let _slot = self;
            work()
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Offload {
    const fn new(kind: &'static str, max: usize) -> Self {
        Offload {
            kind,
            max,
            running: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
            reported: AtomicBool::new(false),
        }
    }

    /// Runs `work` on a blocking thread if fewer than `max` of this kind run; its result
    /// comes back through the handle (an error only if `work` panicked).
    ///
    /// # Errors
    /// [`Busy`] when `max` run already: nothing was started.
    pub fn spawn<T: Send + 'static>(
        &'static self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<tokio::task::JoinHandle<T>, Busy> {
        Ok(self.slot()?.spawn(work))
    }

    /// Like [`Offload::spawn`], awaiting the result (`None` if `work` panicked).
    ///
    /// # Errors
    /// [`Busy`] when `max` run already.
    pub async fn run<T: Send + 'static>(
        &'static self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Option<T>, Busy> {
        Ok(self.spawn(work)?.await.ok())
    }

    /// Calls refused since vigild started.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// A slot for one call of this kind, for a caller that must keep what the work would
    /// take when there is none.
    ///
    /// # Errors
    /// [`Busy`] when `max` run already (counted, and logged the first time).
    pub fn slot(&'static self) -> Result<Slot, Busy> {
        let taken = self
            .running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |running| {
                (running < self.max).then_some(running + 1)
            });
        if taken.is_ok() {
            return Ok(Slot(self));
        }
        self.refused.fetch_add(1, Ordering::Relaxed);
        let busy = Busy {
            kind: self.kind,
            max: self.max,
        };
        if !self.reported.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "{busy}: further refusals are only counted (vigil_offload_refused_total)"
            );
        }
        Err(busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TWO: Offload = Offload::new("test_calls", 2);

    #[tokio::test]
    async fn a_kind_runs_at_most_its_bound_and_counts_what_it_refuses() {
        let (release, held) = std::sync::mpsc::channel::<()>();
        let held = std::sync::Arc::new(std::sync::Mutex::new(held));
        let hold = || {
            let held = std::sync::Arc::clone(&held);
            move || {
                let _ = held.lock().map(|held| held.recv());
            }
        };
        let first = TWO.spawn(hold()).expect("first");
        let second = TWO.spawn(hold()).expect("second");
        let refused = TWO.spawn(|| ()).expect_err("a third is over the bound");
        assert_eq!(
            refused,
            Busy {
                kind: "test_calls",
                max: 2
            }
        );
        assert_eq!(TWO.refused(), 1);
        release.send(()).expect("release");
        release.send(()).expect("release");
        first.await.expect("first ends");
        second.await.expect("second ends");
        assert_eq!(TWO.run(|| 7).await, Ok(Some(7)), "the slots came back");
        assert_eq!(TWO.refused(), 1);
    }
}
