//! vigil `ready=notify`'s `MAINPID=`, as systemd honours it: a process moves onto the pid
//! its notice names (a launcher handing over to the daemon it forked, a daemon re-executing
//! itself), when that pid is in the process's tree or an orphan vigild adopted. The old pid
//! is then a former main pid: its exit is logged and is not the process's.
//!
//! A launcher says `MAINPID=` and exits at once, so its exit may reach vigild before its
//! words do. The exit of a `ready=notify` child therefore waits for a barrier through the
//! notify socket (`notify::barrier`): when it comes back, every message the child sent
//! before it ended has been handled.
//!
//! This file owns the barriers in flight and the former main pids; the state change itself
//! is the machine's (`Input::MainPid`), and it never reads `/proc` (the notify thread did).

use super::*;
use crate::config::Readiness;
use crate::notify::{MainPid, Notified};

/// What `MAINPID=` handling keeps between events.
#[derive(Debug, Default)]
pub(super) struct MainPids {
    /// Exits waiting for their barrier, by token: at most one per `ready=notify` child.
    held: HashMap<u64, (i32, ExitOutcome)>,
    /// Barriers sent so far (the last token).
    sent: u64,
    /// Pids that were a process's main pid until a `MAINPID=` moved it on: its key and the
    /// pid's process group. Removed when the pid ends.
    former: HashMap<i32, (ProcKey, Option<i32>)>,
}

impl MainPids {
    /// Whether an exit waits for its barrier (a handover waits for it).
    pub(super) fn holds_an_exit(&self) -> bool {
        !self.held.is_empty()
    }
}

impl Supervisor {
    /// Holds `pid`'s exit until the notify socket has handed over what came before it,
    /// when `pid` is a `ready=notify` process's child; false when it is to be handled now.
    pub(super) fn hold_for_notices(&mut self, pid: i32, outcome: ExitOutcome) -> bool {
        let notify = self
            .table
            .pids
            .get(&pid)
            .and_then(|key| self.table.entries.get(key))
            .is_some_and(|entry| entry.config.ready == Readiness::Notify);
        if !notify {
            return false;
        }
        let token = self.main_pids.sent + 1;
        if !crate::notify::barrier(token) {
            return false;
        }
        self.main_pids.sent = token;
        self.main_pids.held.insert(token, (pid, outcome));
        true
    }

    /// Whether `pid`'s exit is held (reaped, its pid not to be signalled any more).
    pub(super) fn exit_is_held(&self, pid: i32) -> bool {
        self.main_pids.held.values().any(|(held, _)| *held == pid)
    }

    /// Barrier `token` came back: the exit it held is handled now (a former main pid's,
    /// when a `MAINPID=` came before it).
    pub(super) fn barrier_returned(&mut self, token: u64) {
        if let Some((pid, outcome)) = self.main_pids.held.remove(&token) {
            if !self.former_main_ended(pid, outcome) {
                self.child_ended(pid, outcome);
            }
        }
    }

    /// The end of a former main pid: said in the log, and nothing else (its process goes
    /// on with its new pid). False when `pid` is none.
    pub(super) fn former_main_ended(&mut self, pid: i32, outcome: ExitOutcome) -> bool {
        let Some((key, group)) = self.main_pids.former.remove(&pid) else {
            return false;
        };
        let entry = self.table.entries.get(&key);
        let current = entry.and_then(|entry| entry.process.process_group());
        if let Some(group) = group.filter(|group| Some(*group) != current) {
            self.guardian.forget(group);
        }
        let name = entry.map_or(key.1.as_str(), |entry| entry.config.name.as_str());
        tracing::info!(
            "{name}: pid {pid}, its main pid before a MAINPID=, ended ({})",
            outcome.describe()
        );
        true
    }

    /// A `MAINPID=` from `key`'s tree: checked, then the process moves onto that pid.
    pub(super) fn take_main_pid(&mut self, key: &ProcKey, notified: &Notified) {
        let Some(asked) = notified.notice.mainpid else {
            return;
        };
        let Some(entry) = self.table.entries.get(key) else {
            return;
        };
        let Some(current) = entry.process.state().pid() else {
            return;
        };
        if asked == current {
            return;
        }
        let name = entry.config.name.clone();
        let refusal = match &notified.main {
            None => Some("no such process".to_string()),
            Some(main) if !self.may_become_main(main, current) => Some(format!(
                "it is neither in {name}'s process tree nor an orphan vigild adopted"
            )),
            Some(_) => None,
        };
        let (Some(main), None) = (&notified.main, refusal.as_ref()) else {
            tracing::warn!(
                "{name}: ignored MAINPID={asked}: {}",
                refusal.unwrap_or_default()
            );
            return;
        };
        let watched = self.reaper.watch_main(asked, main.child_of_vigild);
        let gone = match watched {
            Ok(()) => false,
            Err(err) if err.raw_os_error() == Some(libc::ESRCH) => true,
            Err(err) => {
                tracing::warn!("{name}: ignored MAINPID={asked}: cannot watch it ({err})");
                return;
            }
        };
        let old_group = entry.process.process_group();
        let moved = Input::MainPid {
            pid: asked,
            group: main.group,
        };
        if self.apply(key, moved).is_err() {
            return;
        }
        self.table.pids.remove(&current);
        self.table.pids.insert(asked, key.clone());
        self.main_pids
            .former
            .insert(current, (key.clone(), old_group));
        if old_group != Some(main.group) {
            self.guardian.watch(main.group);
        }
        if gone {
            // Ended between the notice and now, reaped by someone else: its end is all
            // there is to know.
            self.child_ended(asked, ExitOutcome::Exited(0));
        }
    }

    /// Whether `main` may be the main pid of a process whose child is `current`: in its
    /// tree, or an orphan vigild adopted that is none of vigild's other children.
    fn may_become_main(&self, main: &MainPid, current: i32) -> bool {
        if main.ancestry.contains(&current) {
            return true;
        }
        main.child_of_vigild
            && !self.table.pids.contains_key(&main.pid)
            && !self.probes.contains_key(&main.pid)
            && !self.spawner.is_helper(main.pid)
            && !self.guardian.is_guardian(main.pid)
    }
}
