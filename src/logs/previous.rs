//! The output of a process's run before the current one (vigil `previous_tail_bytes`, as
//! `kubectl logs --previous`): when a child has exited and its output is drained, the last
//! bytes it wrote to each stream are kept here, replacing the run before. Read by
//! `vigil.readPreviousLog`, `vigilctl tail --previous` and the process's web page. Memory
//! only: at most `previous_tail_bytes` per stream and process.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

/// One ended run's last output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previous {
    /// The child's pid.
    pub pid: i32,
    /// When its output was all read (just after it ended).
    pub ended: SystemTime,
    /// The last bytes of its stdout.
    pub stdout: Vec<u8>,
    /// The last bytes of its stderr (empty when merged into stdout).
    pub stderr: Vec<u8>,
}

/// Where a process's previous run is kept; shared by the supervisor's entry (which writes
/// it, off the supervisor task) and the published views (which read it).
#[derive(Debug, Default)]
pub struct PreviousRun {
    kept: Mutex<Option<Arc<Previous>>>,
}

impl PreviousRun {
    /// Keeps `run` in place of the one before.
    pub fn keep(&self, run: Previous) {
        *self.kept.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(run));
    }

    /// The run kept, if a run has ended since the process was put in use.
    pub fn get(&self) -> Option<Arc<Previous>> {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
