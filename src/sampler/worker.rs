//! The sampler's own thread, niced below the rest of vigild. A pass over 10,000 processes
//! reads `/proc` for tens of milliseconds; on a host with two cores, a pass on a thread of
//! the same priority as the supervisor's delays the restart of a crashed program that
//! happens to coincide with it (the restart p95 in `benches/compare.py --only scale`).
//! With the worker niced, the kernel lets the supervisor's threads run first.
//!
//! It owns only its thread; the meter and what it measures are the sampler's.

use std::sync::mpsc;

use tokio::sync::oneshot;

/// How much nicer than vigild the sampler's thread runs (raising one's own nice value
/// needs no privilege).
const NICE: libc::c_int = 10;

/// A job for the worker: measures and sends its result itself.
type Job = Box<dyn FnOnce() + Send>;

/// The sampler's thread; it ends when this is dropped.
pub struct Worker {
    jobs: mpsc::Sender<Job>,
}

impl Worker {
    /// Starts the thread; an error when the system has no thread to give.
    pub fn start() -> std::io::Result<Worker> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("vigil-sampler".into())
            .spawn(move || {
                lower_priority();
                for job in queue {
                    job();
                }
            })?;
        Ok(Worker { jobs })
    }

    /// Runs `work` on the worker and waits for its result without blocking the runtime;
    /// None if the worker is gone. The sampler awaits each job before the next, so at most
    /// one waits.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs.send(job).ok()?;
        result.await.ok()
    }
}

/// Lowers this thread's scheduling priority (a thread has its own nice value on Linux).
fn lower_priority() {
    // SAFETY: gettid has no preconditions; setpriority changes this thread's nice only.
    unsafe {
        let tid = libc::gettid();
        if let Ok(tid) = libc::id_t::try_from(tid) {
            libc::setpriority(libc::PRIO_PROCESS, tid, NICE);
        }
    }
}
