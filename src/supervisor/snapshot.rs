//! A read-only picture of the fleet, published by the supervisor after every change, so
//! status calls, `/metrics` and the web page read it without asking (or locking) the actor.
//!
//! The processes are a persistent map ([`Processes`]): publishing copies it in O(1) and
//! replaces only the views that changed, a lookup by name is O(log n), and a reader that
//! follows the snapshots asks for what changed since the last one it saw
//! ([`Processes::changed_since`]) instead of rescanning the fleet.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::SystemTime;

use imbl::{OrdMap, OrdSet};
use tokio::sync::watch;

use super::changes::Changes;
use super::dependencies;
use super::table::{Entry, ProcKey, Table};

use super::calendar::Plan;
use crate::config::ProcessConfig;
use crate::config::Scaled;
use crate::logs::crashes::CrashHistory;
use crate::logs::previous::PreviousRun;
use crate::logs::stream::LogStream;
use crate::process::announced::Announced;
use crate::process::crashloop::Looping;
use crate::process::state::State;
use crate::process::tally::Tally;

/// supervisord's own state (`getState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupervisorState {
    /// Normal operation (statecode 1).
    Running,
    /// Stopping everything to start again (0).
    Restarting,
    /// Stopping everything to exit (-1).
    Shutdown,
}

impl SupervisorState {
    /// supervisord's code.
    pub fn code(self) -> i64 {
        match self {
            SupervisorState::Running => 1,
            SupervisorState::Restarting => 0,
            SupervisorState::Shutdown => -1,
        }
    }

    /// supervisord's name.
    pub fn name(self) -> &'static str {
        match self {
            SupervisorState::Running => "RUNNING",
            SupervisorState::Restarting => "RESTARTING",
            SupervisorState::Shutdown => "SHUTDOWN",
        }
    }
}

/// One process as the API shows it.
#[derive(Clone)]
pub struct ProcessView {
    /// The publish ([`Snapshot::version`]) in which this view last changed.
    pub changed: u64,
    /// Process name.
    pub name: String,
    /// Group name.
    pub group: String,
    /// Current state.
    pub state: State,
    /// Last spawn attempt.
    pub start: Option<SystemTime>,
    /// Last exit.
    pub stop: Option<SystemTime>,
    /// Last spawn error, or empty.
    pub spawnerr: String,
    /// The current spawn has reached RUNNING.
    pub reached_running: bool,
    /// Last exit status.
    pub exitstatus: i32,
    /// Its stdout stream (stderr too with redirect_stderr).
    pub stdout: Arc<LogStream>,
    /// Its stderr stream.
    pub stderr: Arc<LogStream>,
    /// vigil: spawns, exits by reason and crashes.
    pub tally: Tally,
    /// vigil: the crash loop in progress, if any.
    pub crash_loop: Option<Looping>,
    /// vigil: crashes within `crashloop_window` at the last crash.
    pub recent_crashes: usize,
    /// vigil: its crash records.
    pub crashes: Arc<CrashHistory>,
    /// vigil: the last output of the run before the current one.
    pub previous: Arc<PreviousRun>,
    /// Its config (`memory_limit` for the sampler, crash-loop settings for the API).
    pub config: Arc<ProcessConfig>,
    /// vigil: the dependencies a start is waiting for (`depends_on`), as namespecs.
    pub waiting_for: Vec<String>,
    /// vigil: a start is on its way to the spawner; the state changes once it is there.
    pub start_pending: bool,
    /// vigil `ready=notify`: what the program announced (`STATUS=`, reloading, stopping).
    pub announced: Announced,
    /// vigil `schedule=`/`restart_schedule=`: the next planned start and restart, and the
    /// runs skipped.
    pub plan: Plan,
    /// vigil `cgroup_root`: its cgroup.
    pub cgroup: Option<std::path::PathBuf>,
}

/// Equal when everything shown is equal (the publish number aside); shared parts (streams,
/// crash records, config) are equal when they are the same object.
impl PartialEq for ProcessView {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.group == other.group
            && self.state == other.state
            && self.start == other.start
            && self.stop == other.stop
            && self.spawnerr == other.spawnerr
            && self.reached_running == other.reached_running
            && self.exitstatus == other.exitstatus
            && Arc::ptr_eq(&self.stdout, &other.stdout)
            && Arc::ptr_eq(&self.stderr, &other.stderr)
            && self.tally == other.tally
            && self.crash_loop == other.crash_loop
            && self.recent_crashes == other.recent_crashes
            && Arc::ptr_eq(&self.crashes, &other.crashes)
            && Arc::ptr_eq(&self.config, &other.config)
            && self.waiting_for == other.waiting_for
            && self.start_pending == other.start_pending
            && self.announced == other.announced
            && self.plan == other.plan
            && self.cgroup == other.cgroup
    }
}

impl std::fmt::Debug for ProcessView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessView")
            .field("group", &self.group)
            .field("name", &self.name)
            .field("state", &self.state)
            .field("spawnerr", &self.spawnerr)
            .field("tally", &self.tally)
            .field("waiting_for", &self.waiting_for)
            .field("start_pending", &self.start_pending)
            .finish_non_exhaustive()
    }
}

impl ProcessView {
    /// The wait before the next start: the scheduled one in BACKOFF, else, in a crash loop,
    /// the last one chosen (the next crash doubles it), else zero.
    pub fn restart_delay(&self) -> std::time::Duration {
        match (self.state, self.crash_loop) {
            (State::Backoff { retry }, _) => retry.delay,
            (_, Some(looping)) => looping.delay,
            _ => std::time::Duration::ZERO,
        }
    }

    /// `group:name`, or `name` when they are equal (the one rule in [`crate::namespec::of`]).
    pub fn namespec(&self) -> String {
        crate::namespec::of(&self.group, &self.name)
    }
}

/// Every process by (group, name), in getAllProcessInfo's order, with an index by the publish
/// that last changed each one. Cheap to clone: both maps share their unchanged parts.
#[derive(Clone, Default)]
pub struct Processes {
    by_key: OrdMap<(String, String), Arc<ProcessView>>,
    /// (the publish that last changed it, key) of every process.
    by_change: OrdSet<(u64, (String, String))>,
}

impl Processes {
    /// The process `group`/`name`, in O(log n).
    pub fn get(&self, group: &str, name: &str) -> Option<&ProcessView> {
        self.by_key
            .get(&(group.to_string(), name.to_string()))
            .map(Arc::as_ref)
    }

    /// Every process, sorted by group then name.
    pub fn iter(&self) -> impl Iterator<Item = &ProcessView> + '_ {
        self.by_key.values().map(Arc::as_ref)
    }

    /// How many processes there are.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The processes whose view changed after publish `version`, oldest change first: what a
    /// reader that last looked at that snapshot has not seen. (Removed processes are gone
    /// from [`Processes::get`].)
    pub fn changed_since(&self, version: u64) -> impl Iterator<Item = &ProcessView> + '_ {
        let after = (version.saturating_add(1), (String::new(), String::new()));
        self.by_change
            .range(after..)
            .filter_map(|(_, key)| self.by_key.get(key).map(Arc::as_ref))
    }

    /// Puts `view` in place of the process's current view, if it differs; gives whether it did.
    pub(super) fn put(&mut self, view: ProcessView) -> bool {
        let key = (view.group.clone(), view.name.clone());
        if let Some(current) = self.by_key.get(&key) {
            if **current == view {
                return false;
            }
            self.by_change.remove(&(current.changed, key.clone()));
        }
        self.by_change.insert((view.changed, key.clone()));
        self.by_key.insert(key, Arc::new(view));
        true
    }

    /// Forgets `key`; gives whether it was there.
    pub(super) fn remove(&mut self, key: &(String, String)) -> bool {
        match self.by_key.remove(key) {
            Some(view) => {
                self.by_change.remove(&(view.changed, key.clone()));
                true
            }
            None => false,
        }
    }

    /// The keys present.
    pub(super) fn keys(&self) -> impl Iterator<Item = &(String, String)> + '_ {
        self.by_key.keys()
    }
}

impl<'a> IntoIterator for &'a Processes {
    type Item = &'a ProcessView;
    type IntoIter = Box<dyn Iterator<Item = &'a ProcessView> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// The whole fleet at one moment.
#[derive(Clone)]
pub struct Snapshot {
    /// supervisord's state.
    pub state: SupervisorState,
    /// Every process, sorted by group then name (getAllProcessInfo's order).
    pub processes: Processes,
    /// Group names in start (priority) order, each with its process names in start order.
    pub groups: Arc<Vec<(String, Vec<String>)>>,
    /// False only before the supervisor has built its table at start-up: the control plane
    /// already answers then, and calls about processes wait for this.
    pub ready: bool,
    /// Config reloads since start (`reloadConfig`, SIGHUP).
    pub config_reloads: u64,
    /// vigil `reexec`: handovers to a new vigild image since the fleet started.
    pub reexecs: u64,
    /// The autostart has been carried out (every autostart program has a start on its way
    /// or is past it): vigild's `READY=1` to its own service manager waits for it.
    pub autostarted: bool,
    /// Which publish this is (each one counts up; a view's `changed` names one).
    pub version: u64,
    /// Counts the times processes were added or removed (a reader following
    /// [`Processes::changed_since`] looks at everything again when it moves).
    pub shape: u64,
    /// vigil `scaleGroup`: the groups run with another `numprocs` than their file's (a
    /// reread applies them).
    pub scales: Arc<Vec<Scaled>>,
}

impl Snapshot {
    /// The process `group`/`name`.
    pub fn process(&self, group: &str, name: &str) -> Option<&ProcessView> {
        self.processes.get(group, name)
    }
}

/// The actor's side of the snapshot: the views it keeps up to date process by process, and
/// the channel it publishes them on. The actor says which processes it touched; a publish
/// rebuilds those views alone (and the fleet's only when its shape changed), and sends
/// nothing when nothing shown has changed.
pub(super) struct View {
    sender: watch::Sender<Arc<Snapshot>>,
    /// Readers waiting on particular processes.
    changes: Arc<Changes>,
    processes: Processes,
    groups: Arc<Vec<(String, Vec<String>)>>,
    version: u64,
    /// Processes whose view may be stale.
    touched: HashSet<ProcKey>,
    /// Processes were added or removed: every view and the groups are rebuilt.
    reshaped: bool,
    /// The processes waiting for their dependencies at the last publish (what they wait for
    /// changes with other processes' states).
    waited: Vec<ProcKey>,
    /// The supervisor's state and reload count at the last publish.
    shown: (SupervisorState, (u64, u64), bool),
    /// See [`Snapshot::shape`].
    shape: u64,
    /// See [`Snapshot::scales`].
    scales: Arc<Vec<Scaled>>,
    /// The scales changed since the last publish.
    rescaled: bool,
}

impl View {
    /// A view publishing on `sender` and waking `changes`' waiters; the first publish shows
    /// the whole table.
    pub(super) fn new(sender: watch::Sender<Arc<Snapshot>>, changes: Arc<Changes>) -> Self {
        View {
            sender,
            changes,
            processes: Processes::default(),
            groups: Arc::new(Vec::new()),
            version: 0,
            touched: HashSet::new(),
            reshaped: true,
            waited: Vec::new(),
            shown: (SupervisorState::Running, (0, 0), false),
            shape: 0,
            scales: Arc::default(),
            rescaled: false,
        }
    }

    /// The groups scaled as last published.
    pub(super) fn scales(&self) -> &[Scaled] {
        &self.scales
    }

    /// The groups scaled now; shown at the next publish.
    pub(super) fn rescale(&mut self, scales: Vec<Scaled>) {
        self.scales = Arc::new(scales);
        self.rescaled = true;
    }

    /// `key`'s view may have changed.
    pub(super) fn touch(&mut self, key: &ProcKey) {
        if !self.touched.contains(key) {
            self.touched.insert(key.clone());
        }
    }

    /// Processes were added to or removed from the table.
    pub(super) fn reshape(&mut self) {
        self.reshaped = true;
    }

    /// Publishes what changed since the last publish: O(touched) views, not O(fleet).
    pub(super) fn publish(
        &mut self,
        table: &Table,
        waiting: &[ProcKey],
        (state, (config_reloads, reexecs), autostarted): (SupervisorState, (u64, u64), bool),
    ) {
        let version = self.version + 1;
        let mut changed = false;
        if std::mem::take(&mut self.reshaped) {
            let gone: Vec<ProcKey> = self
                .processes
                .keys()
                .filter(|key| !table.entries.contains_key(*key))
                .cloned()
                .collect();
            for key in &gone {
                self.processes.remove(key);
                self.changes.changed(key);
            }
            self.touched.extend(table.entries.keys().cloned());
            self.groups = Arc::new(
                table
                    .groups
                    .iter()
                    .map(|group| {
                        let names = group.keys.iter().map(|(_, name)| name.clone()).collect();
                        (group.config.name.clone(), names)
                    })
                    .collect(),
            );
            self.shape += 1;
            changed = true;
        }
        // Who waits for dependencies, and for which, changes with any process's state.
        if !self.waited.is_empty() || !waiting.is_empty() {
            self.touched.extend(self.waited.drain(..));
            self.touched.extend(waiting.iter().cloned());
            self.waited = waiting.to_vec();
        }
        let mut woken = Vec::new();
        for key in std::mem::take(&mut self.touched) {
            let put = match table.entries.get(&key) {
                Some(entry) => self
                    .processes
                    .put(view_of(table, &key, entry, waiting, version)),
                None => self.processes.remove(&key),
            };
            if put {
                changed = true;
                woken.push(key);
            }
        }
        #[cfg(debug_assertions)]
        self.check(table, waiting);
        changed |= std::mem::take(&mut self.rescaled);
        let shown = (state, (config_reloads, reexecs), autostarted);
        if !changed && self.shown == shown {
            return;
        }
        self.version = version;
        self.shown = shown;
        self.sender.send_replace(Arc::new(Snapshot {
            state,
            processes: self.processes.clone(),
            groups: Arc::clone(&self.groups),
            ready: true,
            config_reloads,
            reexecs,
            autostarted,
            version,
            shape: self.shape,
            scales: Arc::clone(&self.scales),
        }));
        // After the send: a woken waiter finds the new snapshot.
        for key in &woken {
            self.changes.changed(key);
        }
    }
}

impl Drop for View {
    fn drop(&mut self) {
        self.changes.end();
    }
}

impl View {
    /// Debug builds (the tests) check after every publish that the views kept up to date
    /// equal views built afresh: a change the actor forgot to touch fails loudly.
    #[cfg(debug_assertions)]
    fn check(&self, table: &Table, waiting: &[ProcKey]) {
        assert_eq!(
            self.processes.len(),
            table.entries.len(),
            "views and table differ"
        );
        for (key, entry) in &table.entries {
            let fresh = view_of(table, key, entry, waiting, 0);
            let kept = self.processes.get(&key.0, &key.1);
            assert_eq!(kept, Some(&fresh), "the view of {key:?} is stale");
        }
    }
}

/// The view of `entry` (`key`), changed in publish `version`.
fn view_of(
    table: &Table,
    key: &ProcKey,
    entry: &Entry,
    waiting: &[ProcKey],
    version: u64,
) -> ProcessView {
    ProcessView {
        changed: version,
        name: entry.config.name.clone(),
        group: entry.config.group.clone(),
        state: entry.process.state(),
        start: entry.process.laststart(),
        stop: entry.process.laststop(),
        spawnerr: entry
            .process
            .spawnerr()
            .map(ToString::to_string)
            .unwrap_or_default(),
        reached_running: entry.process.reached_running(),
        exitstatus: entry.process.exitstatus(),
        stdout: Arc::clone(&entry.stdout_log),
        stderr: Arc::clone(&entry.stderr_log),
        tally: *entry.process.tally(),
        crash_loop: entry.process.crash_loop().looping(),
        recent_crashes: entry.process.crash_loop().recent_crashes(),
        crashes: Arc::clone(&entry.crashes),
        previous: Arc::clone(&entry.previous),
        config: Arc::clone(&entry.config),
        waiting_for: if waiting.contains(key) {
            dependencies::waiting_for(table, key)
        } else {
            Vec::new()
        },
        start_pending: entry.pending_start.is_some(),
        announced: entry.process.announced().clone(),
        plan: entry.plan,
        cgroup: table.cgroup_of(key),
    }
}

#[cfg(test)]
mod tests {
    use super::super::table::testing::{programs, table};
    use super::*;
    use crate::process::machine::Input;

    fn key(name: &str) -> ProcKey {
        (name.to_string(), name.to_string())
    }

    #[test]
    fn a_publish_rebuilds_only_the_touched_views_and_sends_nothing_unchanged() {
        let (_dir, mut table) = table(&programs(&["a", "b", "c"]));
        let (sender, receiver) = watch::channel(Arc::new(Snapshot {
            state: SupervisorState::Running,
            processes: Processes::default(),
            groups: Arc::new(Vec::new()),
            ready: false,
            config_reloads: 0,
            reexecs: 0,
            autostarted: false,
            version: 0,
            shape: 0,
            scales: Arc::default(),
        }));
        let mut view = View::new(sender, Arc::new(Changes::default()));
        let running = (SupervisorState::Running, (0, 0), true);
        view.publish(&table, &[], running);
        let first = Arc::clone(&receiver.borrow());
        assert_eq!(first.processes.len(), 3);
        assert_eq!(first.groups.len(), 3);
        assert_eq!(first.processes.changed_since(0).count(), 3);
        let names: Vec<&str> = first.processes.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"], "getAllProcessInfo's order");

        // Nothing touched, nothing changed: no new snapshot.
        view.publish(&table, &[], running);
        assert_eq!(receiver.borrow().version, first.version);
        // Touched but unchanged: still none.
        view.touch(&key("b"));
        view.publish(&table, &[], running);
        assert_eq!(receiver.borrow().version, first.version);

        let entry = table.entries.get_mut(&key("b")).expect("b");
        let quick_exit = Input::Exited(crate::process::exit::ExitOutcome::Exited(1));
        entry
            .process
            .drive(&entry.config, [Input::Spawned { pid: 4242 }, quick_exit]);
        view.touch(&key("b"));
        view.publish(&table, &[], running);
        let second = Arc::clone(&receiver.borrow());
        assert!(second.version > first.version);
        let changed: Vec<&str> = second
            .processes
            .changed_since(first.version)
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(changed, ["b"]);
        assert_eq!(
            second.process("b", "b").map(|p| p.spawnerr.as_str()),
            Some("Exited too quickly (process log may have details)")
        );
        // The earlier snapshot is untouched by the later publish.
        assert_eq!(
            first.process("b", "b").map(|p| p.spawnerr.as_str()),
            Some("")
        );
        assert!(second.process("b", "x").is_none());

        // A change of shape: the removed process is gone, the shape counter moves.
        table.remove_group("c");
        view.reshape();
        view.publish(&table, &[], running);
        let third = Arc::clone(&receiver.borrow());
        assert_eq!(third.processes.len(), 2);
        assert!(third.shape > second.shape);
        assert_eq!(third.groups.len(), 2);
    }
}
