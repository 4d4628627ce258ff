//! Measures what every managed process costs: CPU, memory, threads, open fds and uptime, for
//! the process alone and summed over its process tree, so `/metrics`, `vigil.getProcessStats`
//! and `vigilctl status -l` can show it. It also checks `memory_limit` and tells the
//! supervisor when a process tree exceeds it; it never signals or spawns anything itself.
//!
//! One task runs a pass every `sample_interval` over the managed processes (see [`meter`]
//! for what a pass reads and skips), and takes a first look
//! at each child it has not measured yet as soon as the snapshot shows it (from its spawn:
//! STARTING, not only RUNNING): that child's own `stat` alone, so a new program has real
//! figures at once and a restart costs the same in any fleet. Both run on the sampler's own
//! thread, at a lower CPU priority: they read `/proc` (see [`procfs`] for why not
//! sysinfo), and what a pass does over the whole fleet (the targets, the memory limits,
//! the history) is done there too, never on a runtime worker.

pub mod history;
mod meter;
pub(crate) mod procfs;
mod tree;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use crate::supervisor::{Control, Handle, ProcessView, Snapshot};
use history::History;
use meter::{Meter, Target};

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
    /// A persistent map, so a first look at one new child adds to it without a copy.
    pub processes: imbl::OrdMap<i32, ProcessSample>,
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
        self.history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .of((&process.group, &process.name))
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

async fn run(handle: Handle, interval: Duration, publish: &watch::Sender<Arc<Samples>>) {
    let Ok(measurer) = Measurer::start() else {
        tracing::error!("could not start the sampler's thread: processes are not measured");
        return;
    };
    let history = Arc::clone(&publish.borrow().history);
    let mut snapshots = handle.watch();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The last snapshot looked at: only what changed after it can hold a new child.
    let mut seen = 0;
    // The snapshot shape the history was last trimmed to.
    let mut trimmed = None;
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
                let Some(looked) = measurer.run(move |meter| meter.first_look(&new)).await else {
                    return;
                };
                let mut samples = Samples::clone(&publish.borrow());
                samples.processes.extend(looked);
                publish.send_replace(Arc::new(samples));
                continue;
            }
        }
        let snapshot = handle.snapshot();
        let (to_supervisor, kept) = (handle.clone(), Arc::clone(&history));
        // Everything a pass does over the whole fleet happens on the sampler's thread.
        let pass = measurer.run(move |meter| {
            let (targets, views) = targets(&snapshot);
            let samples = meter.pass(&targets);
            report_memory_limits(&to_supervisor, &targets, &views, &samples);
            remember(
                &kept,
                (&snapshot, &views),
                &samples,
                meter.looked(),
                &mut trimmed,
            );
            (samples, trimmed)
        });
        let Some((samples, shape)) = pass.await else {
            return;
        };
        trimmed = shape;
        publish.send_replace(Arc::new(Samples {
            interval,
            history: Arc::clone(&history),
            ..samples
        }));
    }
}

/// The sampler's own thread, which owns the [`Meter`] and runs its work at a lower CPU
/// priority (nice [`Measurer::NICE`]): a pass over 10,000 processes reads `/proc` for tens
/// of milliseconds, and on a small host a restart's work must not wait behind it. It ends
/// once its `Measurer` is dropped and the work in hand is done.
struct Measurer {
    jobs: std::sync::mpsc::SyncSender<MeterJob>,
}

/// One piece of work for the sampler's thread.
type MeterJob = Box<dyn FnOnce(&mut Meter) + Send>;

impl Measurer {
    /// The thread's nice value (0 is the rest of vigild's).
    const NICE: i32 = 10;

    fn start() -> std::io::Result<Self> {
        let (jobs, inbox) = std::sync::mpsc::sync_channel::<MeterJob>(1);
        std::thread::Builder::new()
            .name("vigil sampler".into())
            .spawn(move || {
                lower_priority(Measurer::NICE);
                let mut meter = Meter::default();
                for job in inbox {
                    job(&mut meter);
                }
            })?;
        Ok(Measurer { jobs })
    }

    /// Runs `work` on the thread and gives its result; None if the thread is gone. One
    /// runs at a time: the sampler awaits each before it asks for the next.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Meter) -> T + Send + 'static,
    ) -> Option<T> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .try_send(Box::new(move |meter| {
                let _ = reply.send(work(meter));
            }))
            .ok()?;
        answer.await.ok()
    }
}

/// Lowers the calling thread's CPU priority to `nice` (on Linux the nice value is a
/// thread's own); best effort.
fn lower_priority(nice: i32) {
    // SAFETY: gettid and setpriority take and return plain integers.
    unsafe {
        let thread = libc::gettid();
        if libc::setpriority(libc::PRIO_PROCESS, thread.unsigned_abs(), nice) != 0 {
            tracing::debug!(
                "could not lower the sampler's priority: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

/// Adds this pass's looks to the history (a process the pass did not look at has the same
/// figures as before), and forgets processes no longer in the snapshot (looked for only when
/// the snapshot's shape changed: a pass clones no name).
fn remember(
    history: &Mutex<History>,
    (snapshot, views): (&Snapshot, &[&ProcessView]),
    samples: &Samples,
    looked: &[usize],
    trimmed: &mut Option<u64>,
) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let mut history = history.lock().unwrap_or_else(PoisonError::into_inner);
    for process in looked.iter().filter_map(|at| views.get(*at)) {
        if let Some(sample) = samples.of(process) {
            history.record(
                (&process.group, &process.name),
                history::Point {
                    at: now,
                    cpu_percent: sample.tree_cpu_percent as f32,
                    resident_bytes: sample.tree.resident_bytes,
                },
            );
        }
    }
    if *trimmed != Some(snapshot.shape) {
        *trimmed = Some(snapshot.shape);
        history.retain(|group, name| snapshot.processes.get(group, name).is_some());
    }
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

/// Every process with a live child, and its view (at the same place).
fn targets(snapshot: &Snapshot) -> (Vec<Target>, Vec<&ProcessView>) {
    snapshot
        .processes
        .iter()
        .filter_map(|p| {
            p.state.pid().filter(|pid| *pid > 0).map(|pid| {
                let target = Target {
                    pid,
                    every_pass: p.config.memory_limit.is_some(),
                    cgroup: p.cgroup.clone(),
                };
                (target, p)
            })
        })
        .unzip()
}

/// Asks the supervisor to restart each process whose tree is over its `memory_limit` (the
/// targets looked at every pass: those with a limit).
fn report_memory_limits(
    handle: &Handle,
    targets: &[Target],
    views: &[&ProcessView],
    samples: &Samples,
) {
    let limited = targets
        .iter()
        .zip(views)
        .filter(|(target, _)| target.every_pass);
    for (_, process) in limited {
        let (Some(limit), Some(sample)) = (process.config.memory_limit, samples.of(process)) else {
            continue;
        };
        if sample.tree.resident_bytes > limit {
            if let Some(pid) = process.state.pid() {
                handle.send(Control::OverMemoryLimit {
                    key: (process.group.clone(), process.name.clone()),
                    pid,
                    resident_bytes: sample.tree.resident_bytes,
                });
            }
        }
    }
}
