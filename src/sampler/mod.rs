//! Measures what every managed process costs: CPU, memory, threads, open fds and uptime, for
//! the process alone and summed over its process tree, so `/metrics`, `vigil.getProcessStats`
//! and `vigilctl status -l` can show it. It also checks `memory_limit` and tells the
//! supervisor when a process tree exceeds it; it never signals or spawns anything itself.
//!
//! One task runs a pass every `sample_interval` over every managed process (a pass reads
//! every process on the host, for the parent links of the trees), and takes a first look
//! at each child it has not measured yet as soon as the snapshot shows it (from its spawn:
//! STARTING, not only RUNNING): that child's own `stat` alone, so a new program has real
//! figures at once and a restart costs the same in any fleet. Both run on a blocking
//! thread: they read `/proc` (see [`procfs`] for why not sysinfo).

pub mod history;
mod procfs;
mod tree;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use crate::supervisor::{Control, Handle, ProcKey, ProcessView, Snapshot};
use history::History;

/// How long new children wait for their first look: by then a child has usually exec'd its
/// program (a look in its first moments sees the forked copy, and with a long
/// `sample_interval` that picture would stay), and a fleet starting up costs a look per this
/// interval rather than one per process.
const FIRST_LOOK_DELAY: Duration = Duration::from_millis(200);

/// What one process, or one process tree, uses at the moment of a pass.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// User plus system CPU time consumed so far.
    pub cpu_seconds: f64,
    /// Resident memory.
    pub resident_bytes: u64,
    /// Virtual memory.
    pub virtual_bytes: u64,
    /// Threads.
    pub threads: u64,
    /// Open file descriptors.
    pub open_fds: u64,
}

impl Usage {
    fn add(&mut self, other: &Usage) {
        self.cpu_seconds += other.cpu_seconds;
        self.resident_bytes += other.resident_bytes;
        self.virtual_bytes += other.virtual_bytes;
        self.threads += other.threads;
        self.open_fds += other.open_fds;
    }
}

/// The latest measurement of one managed process.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessSample {
    /// When the process started, as the kernel says.
    pub started: SystemTime,
    /// The process alone.
    pub own: Usage,
    /// The process and all its descendants.
    pub tree: Usage,
    /// CPU use of the process since the previous pass, in % of one core (over its lifetime
    /// on the first pass).
    pub cpu_percent: f64,
    /// The same for the whole tree.
    pub tree_cpu_percent: f64,
    /// Processes in the tree, itself included.
    pub tree_size: usize,
}

impl ProcessSample {
    /// Seconds since the process started.
    pub fn uptime(&self, now: SystemTime) -> f64 {
        now.duration_since(self.started)
            .map_or(0.0, |elapsed| elapsed.as_secs_f64())
    }
}

/// Everything the last pass measured.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    /// By pid: a restarted process has a new pid, so a stale sample is never shown for it.
    pub processes: HashMap<i32, ProcessSample>,
    /// vigild itself (the standard `process_*` metrics).
    pub daemon: Option<ProcessSample>,
    /// CPU time the last pass took.
    pub pass_cpu_seconds: f64,
    /// The interval between passes (zero: the sampler is off).
    pub interval: Duration,
    /// The last hour of each process (the same history in every pass's samples).
    pub history: Arc<Mutex<History>>,
}

impl Samples {
    /// The sample of `process`'s current child, if it has one and it has been measured.
    pub fn of(&self, process: &ProcessView) -> Option<&ProcessSample> {
        process.state.pid().and_then(|pid| self.processes.get(&pid))
    }

    /// The last hour of `process`, oldest first.
    pub fn history_of(&self, process: &ProcessView) -> Vec<history::Point> {
        let key = (process.group.clone(), process.name.clone());
        self.history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .of(&key)
    }
}

/// Where the latest [`Samples`] are read.
pub type Reader = watch::Receiver<Arc<Samples>>;

/// Starts sampling every `interval` (none at all while it is zero; a reload may change it)
/// and returns where the samples appear.
pub fn start(handle: Handle, interval: watch::Receiver<Duration>) -> Reader {
    let (publish, reader) = watch::channel(Arc::new(Samples {
        interval: *interval.borrow(),
        ..Samples::default()
    }));
    tokio::spawn(follow_interval(handle, interval, publish));
    reader
}

/// Samples at the current interval until it changes, then at the new one (none while zero).
async fn follow_interval(
    handle: Handle,
    mut interval: watch::Receiver<Duration>,
    publish: watch::Sender<Arc<Samples>>,
) {
    loop {
        let every = *interval.borrow_and_update();
        publish.send_modify(|samples| {
            if samples.interval != every {
                let mut changed = Samples::clone(samples);
                changed.interval = every;
                *samples = Arc::new(changed);
            }
        });
        if every.is_zero() {
            if interval.changed().await.is_err() {
                return;
            }
            continue;
        }
        tokio::select! {
            () = run(handle.clone(), every, &publish) => return,
            changed = interval.changed() => if changed.is_err() {
                return;
            },
        }
    }
}

/// A managed process to measure, with the limit to check it against.
struct Target {
    key: ProcKey,
    pid: i32,
    memory_limit: Option<u64>,
}

async fn run(handle: Handle, interval: Duration, publish: &watch::Sender<Arc<Samples>>) {
    let mut meter = Meter::default();
    let history = Arc::clone(&publish.borrow().history);
    let mut snapshots = handle.watch();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The last snapshot looked at: only what changed after it can hold a new child.
    let mut seen = 0;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return;
                }
                let snapshot = Arc::clone(&snapshots.borrow_and_update());
                let since = std::mem::replace(&mut seen, snapshot.version);
                if unmeasured_children(&snapshot, since, &publish.borrow()).is_empty() {
                    continue;
                }
                tokio::time::sleep(FIRST_LOOK_DELAY).await;
                // What came meanwhile is looked at too.
                let snapshot = Arc::clone(&snapshots.borrow_and_update());
                seen = snapshot.version;
                let new = unmeasured_children(&snapshot, since, &publish.borrow());
                if new.is_empty() {
                    continue;
                }
                let Some((back, looked)) = off_runtime(meter, move |m| m.first_look(&new)).await
                else {
                    return;
                };
                meter = back;
                let mut samples = Samples::clone(&publish.borrow());
                samples.processes.extend(looked);
                publish.send_replace(Arc::new(samples));
                continue;
            }
        }
        let targets = targets(&handle.snapshot());
        let pids: Vec<i32> = targets.iter().map(|t| t.pid).collect();
        let Some((back, samples)) = off_runtime(meter, move |m| m.pass(&pids)).await else {
            return;
        };
        meter = back;
        report_memory_limits(&handle, &targets, &samples);
        remember(&history, &handle.snapshot(), &targets, &samples);
        publish.send_replace(Arc::new(Samples {
            interval,
            history: Arc::clone(&history),
            ..samples
        }));
    }
}

/// Runs `measure` on `meter` on a blocking thread (it reads `/proc`) and gives the meter
/// back with the result; None if the runtime is going away.
async fn off_runtime<T: Send + 'static>(
    mut meter: Meter,
    measure: impl FnOnce(&mut Meter) -> T + Send + 'static,
) -> Option<(Meter, T)> {
    tokio::task::spawn_blocking(move || {
        let measured = measure(&mut meter);
        (meter, measured)
    })
    .await
    .ok()
}

/// Adds this pass to the history, and forgets processes no longer in the snapshot.
fn remember(history: &Mutex<History>, snapshot: &Snapshot, targets: &[Target], samples: &Samples) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let mut history = history.lock().unwrap_or_else(PoisonError::into_inner);
    for target in targets {
        if let Some(sample) = samples.processes.get(&target.pid) {
            history.record(
                &target.key,
                history::Point {
                    at: now,
                    cpu_percent: sample.tree_cpu_percent as f32,
                    resident_bytes: sample.tree.resident_bytes,
                },
            );
        }
    }
    let present: std::collections::HashSet<(&str, &str)> = snapshot
        .processes
        .iter()
        .map(|p| (p.group.as_str(), p.name.as_str()))
        .collect();
    history.retain(|(group, name)| present.contains(&(group.as_str(), name.as_str())));
}

/// The children (STARTING, RUNNING, …) of the processes changed after publish `since` that
/// the samples do not have yet.
fn unmeasured_children(snapshot: &Snapshot, since: u64, samples: &Samples) -> Vec<i32> {
    snapshot
        .processes
        .changed_since(since)
        .filter_map(|p| p.state.pid())
        .filter(|pid| *pid > 0 && !samples.processes.contains_key(pid))
        .collect()
}

/// Every process with a live child.
fn targets(snapshot: &Snapshot) -> Vec<Target> {
    snapshot
        .processes
        .iter()
        .filter_map(|p| {
            p.state.pid().filter(|pid| *pid > 0).map(|pid| Target {
                key: (p.group.clone(), p.name.clone()),
                pid,
                memory_limit: p.config.memory_limit,
            })
        })
        .collect()
}

/// Asks the supervisor to restart each process whose tree is over its `memory_limit`.
fn report_memory_limits(handle: &Handle, targets: &[Target], samples: &Samples) {
    for target in targets {
        let (Some(limit), Some(sample)) = (target.memory_limit, samples.processes.get(&target.pid))
        else {
            continue;
        };
        if sample.tree.resident_bytes > limit {
            handle.send(Control::OverMemoryLimit {
                key: target.key.clone(),
                pid: target.pid,
                resident_bytes: sample.tree.resident_bytes,
            });
        }
    }
}

/// What is carried from pass to pass: the machine's units and the previous CPU times that
/// turn into CPU percentages.
struct Meter {
    units: procfs::Units,
    previous: CpuSeen,
}

/// Per pid: when it was measured, its own CPU seconds and its tree's then.
type CpuSeen = HashMap<i32, (Instant, f64, f64)>;

impl Default for Meter {
    fn default() -> Self {
        Meter {
            units: procfs::Units::of_this_machine(),
            previous: HashMap::new(),
        }
    }
}

impl Meter {
    /// Measures `pids`, their trees, and vigild itself.
    fn pass(&mut self, pids: &[i32]) -> Samples {
        let began = thread_cpu_seconds();
        // Every process, for the parent links that make the trees.
        let stats: HashMap<i32, procfs::Stat> = procfs::all_processes(&self.units)
            .into_iter()
            .map(|stat| (stat.pid, stat))
            .collect();
        let daemon = i32::try_from(std::process::id()).unwrap_or_default();
        let (mut processes, previous) = self.measure(pids.iter().copied().chain([daemon]), &stats);
        self.previous = previous;
        let daemon = processes.remove(&daemon);
        Samples {
            processes,
            daemon,
            pass_cpu_seconds: (thread_cpu_seconds() - began).max(0.0),
            ..Samples::default()
        }
    }

    /// A first look at new children (a spawn, a restart): their own figures from their own
    /// `stat`, without the scan of every process on the host that trees need, so a restart
    /// costs the same with 1 or 10,000 programs. The next pass adds their trees.
    fn first_look(&mut self, pids: &[i32]) -> HashMap<i32, ProcessSample> {
        let stats: HashMap<i32, procfs::Stat> = procfs::stats_of(pids, &self.units)
            .into_iter()
            .map(|stat| (stat.pid, stat))
            .collect();
        let (processes, previous) = self.measure(pids.iter().copied(), &stats);
        self.previous.extend(previous);
        processes
    }

    /// The samples of `pids` from `stats` (whose parent links make the trees), and the CPU
    /// figures the next measure compares with.
    fn measure(
        &self,
        pids: impl Iterator<Item = i32>,
        stats: &HashMap<i32, procfs::Stat>,
    ) -> (HashMap<i32, ProcessSample>, CpuSeen) {
        let now = Instant::now();
        let trees = tree::Trees::of(stats.values().map(|stat| (stat.pid, stat.ppid)));
        let usage = |pid: i32| -> Option<(SystemTime, Usage)> {
            let stat = stats.get(&pid)?;
            let usage = Usage {
                cpu_seconds: stat.cpu_seconds,
                resident_bytes: stat.resident_bytes,
                virtual_bytes: stat.virtual_bytes,
                threads: stat.threads,
                open_fds: procfs::open_fds(pid),
            };
            Some((stat.started, usage))
        };
        let mut processes = HashMap::new();
        let mut previous = HashMap::new();
        for pid in pids {
            let Some((started, own)) = usage(pid) else {
                continue;
            };
            let mut tree = own;
            let members = trees.members(pid);
            for member in members.iter().skip(1) {
                if let Some((_, usage)) = usage(*member) {
                    tree.add(&usage);
                }
            }
            let (cpu_percent, tree_cpu_percent) = match self.previous.get(&pid) {
                Some((at, own_cpu, tree_cpu)) => {
                    let elapsed = now.duration_since(*at).as_secs_f64();
                    (
                        percent(own.cpu_seconds - own_cpu, elapsed),
                        percent(tree.cpu_seconds - tree_cpu, elapsed),
                    )
                }
                None => {
                    let lifetime = SystemTime::now()
                        .duration_since(started)
                        .map_or(0.0, |d| d.as_secs_f64());
                    (
                        percent(own.cpu_seconds, lifetime),
                        percent(tree.cpu_seconds, lifetime),
                    )
                }
            };
            previous.insert(pid, (now, own.cpu_seconds, tree.cpu_seconds));
            let sample = ProcessSample {
                started,
                own,
                tree,
                cpu_percent,
                tree_cpu_percent,
                tree_size: members.len(),
            };
            processes.insert(pid, sample);
        }
        (processes, previous)
    }
}

fn percent(cpu_seconds: f64, elapsed: f64) -> f64 {
    if elapsed > 0.0 {
        (cpu_seconds.max(0.0) / elapsed) * 100.0
    } else {
        0.0
    }
}

/// CPU time of the calling thread, to tell what a pass costs.
fn thread_cpu_seconds() -> f64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map_or(0.0, |t| t.tv_sec() as f64 + t.tv_nsec() as f64 / 1e9)
}
