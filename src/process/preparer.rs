//! Preparing starts off the supervisor's task. [`spawn::prepare`] reads the
//! `environment_file` and stats the command and directory, and the program's log files are
//! created (as supervisord makes a child's dispatchers at spawn), which a slow or hung file
//! system can make wait, so each preparation runs on a blocking thread and its result is delivered
//! back tagged with a ticket. At most [`Preparer::OUTSTANDING_MAX`] run at once; the
//! supervisor gives up a start whose preparation hangs after [`Preparer::TIMEOUT`], which
//! frees its slot (the hung thread stays in tokio's blocking pool until it returns).
//!
//! It owns only the count of preparations running; what a result means is the supervisor's.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use super::spawn::{self, Prepared, SpawnError};
use crate::config::ProcessConfig;
use crate::logs::stream::LogStream;

/// One preparation's ticket: its result comes back with it.
pub type Ticket = u64;

/// What one start needs prepared.
pub struct Job {
    /// The program (or a health probe's command in its setting).
    pub config: Arc<ProcessConfig>,
    /// vigild's environment plus `[supervisord] environment`.
    pub base_env: Arc<[(String, String)]>,
    /// The umask of children whose program sets none.
    pub umask: Option<u32>,
    /// A copy of the program's fcgi socket, the child's fd 0.
    pub fcgi_socket: Option<OwnedFd>,
    /// The program's log streams, whose files are opened (created) before the spawn; none
    /// for a probe.
    pub logs: Vec<Arc<LogStream>>,
    /// vigil `cgroup_root`: the process's cgroup, made here with its limits, that the
    /// child joins.
    pub cgroup: Option<(std::path::PathBuf, Arc<super::cgroup::Cgroups>)>,
}

/// Runs preparations on blocking threads and counts those not returned yet.
#[derive(Debug, Default)]
pub struct Preparer {
    next: Ticket,
    outstanding: usize,
}

impl Preparer {
    /// Preparations running at once, at most; further starts wait in the supervisor's queue.
    pub const OUTSTANDING_MAX: usize = 64;

    /// How long a start may take to prepare before it is given up as a spawn error.
    pub const TIMEOUT: Duration = Duration::from_secs(10);

    /// Whether another preparation may begin now.
    pub fn has_room(&self) -> bool {
        self.outstanding < Self::OUTSTANDING_MAX
    }

    /// Prepares `job` on a blocking thread; `deliver` gets the ticket and the result there
    /// (it must not block: it hands the result to the supervisor's channel).
    pub fn prepare(
        &mut self,
        job: Job,
        deliver: impl FnOnce(Ticket, Result<Prepared, SpawnError>) + Send + 'static,
    ) -> Ticket {
        self.next += 1;
        self.outstanding += 1;
        let ticket = self.next;
        tokio::task::spawn_blocking(move || {
            let setting = (&*job.base_env, job.umask);
            let result = spawn::prepare(&job.config, setting, job.fcgi_socket, job.cgroup)
                .and_then(|prepared| {
                    for log in &job.logs {
                        log.open()
                            .map_err(|err| spawn::dispatchers_error(&job.config, &err))?;
                    }
                    Ok(prepared)
                });
            deliver(ticket, result);
        });
        ticket
    }

    /// A preparation no longer holds a slot: its result came back, or its start was given
    /// up (a hung thread is then left to itself).
    pub fn released(&mut self) {
        self.outstanding = self.outstanding.saturating_sub(1);
    }
}
