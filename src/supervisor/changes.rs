//! Who waits for which process to change: a `wait=true` call registers the process it waits
//! on and is woken when a publish changes that process's view, not by every publish (with
//! thousands of waiters, waking them all for each change costs the fleet per event). The
//! publisher ([`super::snapshot::View`]) tells it what changed; it holds no process state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use super::ProcKey;

/// The registry shared by the publisher and the readers.
#[derive(Debug, Default)]
pub struct Changes {
    by_key: Mutex<HashMap<ProcKey, Arc<Notify>>>,
    /// The supervisor has ended: no process will change again.
    ended: AtomicBool,
}

impl Changes {
    fn lock(&self) -> MutexGuard<'_, HashMap<ProcKey, Arc<Notify>>> {
        self.by_key.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes whoever waits on `key` (the view of `key` changed).
    pub(super) fn changed(&self, key: &ProcKey) {
        let mut by_key = self.lock();
        if let Some(notify) = by_key.get(key) {
            notify.notify_waiters();
            // Nobody holds it any more: forget it, so the registry stays as small as the
            // set of processes someone waits on.
            if Arc::strong_count(notify) == 1 {
                by_key.remove(key);
            }
        }
    }

    /// The supervisor ended: every waiter wakes, and sees it.
    pub(super) fn end(&self) {
        self.ended.store(true, Ordering::SeqCst);
        for notify in self.lock().values() {
            notify.notify_waiters();
        }
    }

    /// What wakes a reader waiting on `key`.
    pub(super) fn of(self: &Arc<Self>, key: &ProcKey) -> ProcessChanges {
        let notify = Arc::clone(self.lock().entry(key.clone()).or_default());
        ProcessChanges {
            notify,
            changes: Arc::clone(self),
        }
    }
}

/// A reader's wait on one process.
#[derive(Debug)]
pub struct ProcessChanges {
    notify: Arc<Notify>,
    changes: Arc<Changes>,
}

impl ProcessChanges {
    /// A future resolving at the next change of the process (or the supervisor's end).
    /// Make it before looking at the snapshot, and enable it, so no change is missed
    /// between the look and the wait.
    pub fn next(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    /// Whether the supervisor has ended.
    pub fn ended(&self) -> bool {
        self.changes.ended.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiter_wakes_for_its_process_only_and_at_the_end() {
        let changes = Arc::new(Changes::default());
        let key = ("g".to_string(), "a".to_string());
        let other = ("g".to_string(), "b".to_string());
        let waiting = changes.of(&key);
        {
            let next = waiting.next();
            tokio::pin!(next);
            next.as_mut().enable();
            changes.changed(&other);
            let mut context = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(
                std::future::Future::poll(next.as_mut(), &mut context).is_pending(),
                "another process's change does not wake it"
            );
            changes.changed(&key);
            next.await;
        }
        {
            let next = waiting.next();
            tokio::pin!(next);
            next.as_mut().enable();
            assert!(!waiting.ended());
            changes.end();
            next.await;
            assert!(waiting.ended());
        }
        drop(waiting);
        changes.changed(&key);
        assert!(
            changes.lock().is_empty(),
            "an unheld registration is forgotten"
        );
    }
}
