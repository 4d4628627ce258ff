//! What one sampler pass reads from `/proc`, and how it becomes [`ProcessSample`]s. The
//! meter owns what is carried from pass to pass (each process's last look: its CPU times
//! for the next percentages, its tree's members, its sample) and nothing else; it never
//! talks to the supervisor and never publishes.
//!
//! A pass costs what the managed processes cost, not what the host holds:
//! - The parent links that make the trees come from a scan of every process on the host,
//!   made as often as [`SCAN_SHARE`] of a core allows (every pass on a small host, about
//!   every two minutes with 10,000 processes). Between scans a pass reads the managed processes,
//!   the descendants found before, and the processes born since the last pass (the pids
//!   after the last one the kernel handed out, `ns_last_pid`), so a new descendant joins
//!   its tree at once and the cost follows the births, not the host. The kernel here has
//!   no `/proc/<pid>/task/<tid>/children`.
//! - A quiet process (its tree used no CPU between its last two looks) is looked at every
//!   [`QUIET_EVERY`]th pass, its last sample standing meanwhile: a process that does not
//!   run changes neither its CPU time nor, near enough, its memory or fds. A process with a
//!   `memory_limit` is looked at every pass. A look that finds a tree's CPU times and
//!   members as they were reads its `stat`s alone: its fd counts stand.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use super::procfs::{self, Stat, Units};
use super::tree::Trees;
use super::{ProcessSample, Samples, Usage};

/// The share of one core the scans of every process on the host may take: the next scan
/// comes once the time since the last one is its CPU time divided by this.
pub const SCAN_SHARE: f64 = 0.001;
/// A quiet process is looked at once in this many passes.
pub const QUIET_EVERY: u64 = 8;
/// More pids handed out than this between two passes, and the births are left to the next
/// scan (a probe per pid would cost more than the scan).
const MAX_BIRTHS: i32 = 4096;

/// A managed process to measure.
pub struct Target {
    /// Its child's pid.
    pub pid: i32,
    /// Looked at every pass, quiet or not (it has a `memory_limit` to check).
    pub every_pass: bool,
    /// vigil `cgroup_root`: its cgroup, whose members are its tree (escapees included) and
    /// whose own figures are exact.
    pub cgroup: Option<std::path::PathBuf>,
}

/// What a process's cgroup says of its tree: the members (the process first) and the CPU
/// time of every member it ever had (`cpu.stat`). Its memory stays the members' resident
/// sum: the cgroup's `memory.current` counts page cache too, which must not trip a
/// `memory_limit`.
struct CgroupReading {
    members: Vec<i32>,
    cpu_seconds: Option<f64>,
}

impl CgroupReading {
    /// Reads the cgroup `dir` of process `pid`; None when it cannot be read.
    fn of(pid: i32, dir: &std::path::Path) -> Option<CgroupReading> {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).ok()?;
        let members = std::iter::once(pid)
            .chain(
                procs
                    .lines()
                    .filter_map(|line| line.trim().parse::<i32>().ok())
                    .filter(|member| *member != pid),
            )
            .collect();
        let cpu_seconds = std::fs::read_to_string(dir.join("cpu.stat"))
            .ok()
            .and_then(|stat| {
                let usage = stat
                    .lines()
                    .find_map(|line| line.strip_prefix("usage_usec "))?;
                usage.trim().parse::<u64>().ok()
            })
            .map(|usec| usec as f64 / 1e6);
        Some(CgroupReading {
            members,
            cpu_seconds,
        })
    }
}

/// The last look at one process.
struct Look {
    at: Instant,
    own_cpu: f64,
    tree_cpu: f64,
    /// Its tree's CPU time did not change since the look before.
    quiet: bool,
    sample: ProcessSample,
    /// The rest of its tree at that look.
    descendants: Vec<i32>,
}

/// What is carried from pass to pass.
pub struct Meter {
    units: Units,
    looks: HashMap<i32, Look>,
    /// When every process on the host was last read for the parent links, and the CPU time
    /// that took.
    scanned: Option<(Instant, f64)>,
    /// vigild's children born since the last pass that were no target yet, with what was
    /// born under them: their trees at the next pass.
    newcomers: HashMap<i32, Vec<i32>>,
    /// The last pid handed out at the previous pass, and where pids wrap.
    last_pid: Option<i32>,
    pid_max: i32,
    passes: u64,
    /// The targets (their places in the pass's list) the last pass looked at; the others'
    /// samples stand from before.
    looked: Vec<usize>,
    /// Every sample, kept from pass to pass: a pass changes only the ones it looks at.
    samples: imbl::OrdMap<i32, ProcessSample>,
}

impl Default for Meter {
    fn default() -> Self {
        Meter {
            units: Units::of_this_machine(),
            looks: HashMap::new(),
            scanned: None,
            newcomers: HashMap::new(),
            last_pid: None,
            pid_max: procfs::pid_max().unwrap_or(1 << 22),
            passes: 0,
            looked: Vec::new(),
            samples: imbl::OrdMap::new(),
        }
    }
}

impl Meter {
    /// Measures `targets` (those due), their trees, and vigild itself.
    pub fn pass(&mut self, targets: &[Target]) -> Samples {
        let began = thread_cpu_seconds();
        let now = Instant::now();
        self.passes += 1;
        let scan = self.scanned.is_none_or(|(at, cost)| {
            now.duration_since(at) >= Duration::from_secs_f64(cost / SCAN_SHARE)
        });
        let daemon = i32::try_from(std::process::id()).unwrap_or_default();
        let births = self.births();
        // The births that belong to a tree, and the trees they wake (a quiet root is looked
        // at when it has a new descendant).
        let (born, woken) = if scan {
            (Vec::new(), HashSet::new())
        } else {
            self.born_into_trees(targets, births.unwrap_or_default(), daemon)
        };
        self.looked = targets
            .iter()
            .enumerate()
            .filter(|(_, target)| scan || woken.contains(&target.pid) || self.is_due(target))
            .map(|(at, _)| at)
            .collect();
        let due: Vec<i32> = self
            .looked
            .iter()
            .map(|at| targets[*at].pid)
            .chain([daemon])
            .collect();
        // A process in a cgroup of its own: its tree is the cgroup's members.
        let cgroups: HashMap<i32, CgroupReading> = self
            .looked
            .iter()
            .filter_map(|at| {
                let target = &targets[*at];
                let dir = target.cgroup.as_deref()?;
                Some((target.pid, CgroupReading::of(target.pid, dir)?))
            })
            .collect();
        let mut stats = if scan {
            let all = procfs::all_processes(&self.units);
            self.scanned = Some((now, (thread_cpu_seconds() - began).max(0.0)));
            all
        } else {
            let wanted: Vec<i32> = due
                .iter()
                .flat_map(|pid| {
                    if let Some(reading) = cgroups.get(pid) {
                        return reading.members.clone();
                    }
                    let descendants = self.looks.get(pid).map(|look| look.descendants.as_slice());
                    std::iter::once(*pid)
                        .chain(descendants.unwrap_or_default().iter().copied())
                        .collect()
                })
                .collect();
            procfs::stats_of(&wanted, &self.units)
        };
        stats.extend(born);
        let stats: HashMap<i32, Stat> = stats.into_iter().map(|stat| (stat.pid, stat)).collect();
        let trees = Trees::of(stats.values().map(|stat| (stat.pid, stat.ppid)));
        if scan {
            // vigild's children that are no target yet: their trees for the next pass.
            let known: HashSet<i32> = targets.iter().map(|target| target.pid).collect();
            self.newcomers = stats
                .values()
                .filter(|stat| stat.ppid == daemon && !known.contains(&stat.pid))
                .map(|stat| (stat.pid, trees.members(stat.pid).split_off(1)))
                .collect();
        }
        // vigild's own figures are its own (its tree would be the whole fleet again).
        let alone = Trees::of(std::iter::empty());
        let fresh: Vec<(i32, Look)> = due
            .iter()
            .filter_map(|pid| {
                let trees = if *pid == daemon { &alone } else { &trees };
                Some((
                    *pid,
                    self.look(*pid, &stats, (trees, cgroups.get(pid)), now)?,
                ))
            })
            .collect();
        let mut looks = HashMap::with_capacity(targets.len() + 1);
        for target in targets {
            if let Some(look) = self.looks.remove(&target.pid) {
                looks.insert(target.pid, look);
            }
        }
        // What is left is gone.
        for pid in self.looks.keys() {
            self.samples.remove(pid);
        }
        for (pid, look) in &fresh {
            if *pid != daemon {
                self.samples.insert(*pid, look.sample.clone());
            }
        }
        let daemon = fresh
            .iter()
            .find(|(pid, _)| *pid == daemon)
            .map(|(_, look)| look.sample.clone());
        looks.extend(fresh);
        self.looks = looks;
        Samples {
            processes: self.samples.clone(),
            daemon,
            pass_cpu_seconds: (thread_cpu_seconds() - began).max(0.0),
            ..Samples::default()
        }
    }

    /// The targets the last pass looked at, as places in its list (the others' samples
    /// are the ones from before).
    pub fn looked(&self) -> &[usize] {
        &self.looked
    }

    /// The pids handed out since the previous pass (threads' among them), oldest first;
    /// None when that is unknown or too many to probe.
    fn births(&mut self) -> Option<Vec<i32>> {
        let now = procfs::last_pid()?;
        let before = self.last_pid.replace(now)?;
        pids_after(before, now, self.pid_max)
    }

    /// Of `births`, the processes whose parent is in a tree (so a chain born since the last
    /// pass joins whole), with their stats, and the roots of the trees they joined. vigild's
    /// own new children are roots too: the snapshot the pass was given may not show them yet,
    /// so what is born under them is kept for the next pass (`newcomers`).
    fn born_into_trees(
        &mut self,
        targets: &[Target],
        births: Vec<i32>,
        daemon: i32,
    ) -> (Vec<Stat>, HashSet<i32>) {
        let mut root_of: HashMap<i32, i32> = HashMap::new();
        let mut woken = HashSet::new();
        let mut wanted = Vec::new();
        for target in targets {
            root_of.insert(target.pid, target.pid);
            if let Some(descendants) = self.newcomers.remove(&target.pid) {
                woken.insert(target.pid);
                wanted.extend(descendants);
            }
        }
        self.newcomers.clear();
        for (root, look) in self.looks.iter().filter(|(root, _)| **root != daemon) {
            root_of.insert(*root, *root);
            for member in &look.descendants {
                root_of.insert(*member, *root);
            }
        }
        let mut born = procfs::stats_of(&wanted, &self.units);
        for stat in procfs::stats_of(&births, &self.units) {
            let root = match root_of.get(&stat.ppid) {
                Some(root) => *root,
                None if stat.ppid == daemon => stat.pid,
                None => continue,
            };
            if !procfs::is_process(stat.pid) {
                continue;
            }
            root_of.insert(stat.pid, root);
            if root == stat.pid {
                self.newcomers.entry(root).or_default();
            } else if let Some(descendants) = self.newcomers.get_mut(&root) {
                descendants.push(stat.pid);
            } else {
                woken.insert(root);
                born.push(stat);
            }
        }
        (born, woken)
    }

    fn is_due(&self, target: &Target) -> bool {
        target.every_pass
            || self.looks.get(&target.pid).is_none_or(|look| {
                // The quiet ones are spread over the passes, a part of them each time.
                !look.quiet
                    || (self.passes + u64::from(target.pid.unsigned_abs())) % QUIET_EVERY == 0
            })
    }

    /// A first look at new children (a spawn, a restart): their own figures from their own
    /// `stat`, without the scan of every process on the host that trees need, so a restart
    /// costs the same with 1 or 10,000 programs. A later scan adds their trees.
    pub fn first_look(&mut self, pids: &[i32]) -> Vec<(i32, ProcessSample)> {
        let now = Instant::now();
        let stats: HashMap<i32, Stat> = procfs::stats_of(pids, &self.units)
            .into_iter()
            .map(|stat| (stat.pid, stat))
            .collect();
        let trees = Trees::of(std::iter::empty());
        let mut looked = Vec::with_capacity(pids.len());
        for pid in pids {
            if let Some(look) = self.look(*pid, &stats, (&trees, None), now) {
                looked.push((*pid, look.sample.clone()));
                self.samples.insert(*pid, look.sample.clone());
                self.looks.insert(*pid, look);
            }
        }
        looked
    }

    /// A look at `pid` from `stats` (whose parent links made `trees`), or, for a process
    /// in a cgroup of its own, from what the cgroup says.
    fn look(
        &self,
        pid: i32,
        stats: &HashMap<i32, Stat>,
        (trees, cgroup): (&Trees, Option<&CgroupReading>),
        now: Instant,
    ) -> Option<Look> {
        let stat = stats.get(&pid)?;
        let members = match cgroup {
            Some(reading) => reading.members.clone(),
            None => trees.members(pid),
        };
        let previous = self.looks.get(&pid);
        let tree_stats = || {
            members
                .iter()
                .skip(1)
                .filter_map(|member| stats.get(member))
        };
        let mut own = usage(stat);
        let mut tree = own;
        for stat in tree_stats() {
            tree.add(&usage(stat));
        }
        // Exact: the CPU of members gone too.
        if let Some(cpu) = cgroup.and_then(|reading| reading.cpu_seconds) {
            tree.cpu_seconds = cpu;
        }
        let quiet = previous.is_some_and(|look| {
            look.own_cpu.to_bits() == own.cpu_seconds.to_bits()
                && look.tree_cpu.to_bits() == tree.cpu_seconds.to_bits()
        });
        // Nothing in the tree ran since the last look and its members are the same: its fds
        // are as they were, and reading them again would double the system calls of a look
        // at a quiet process.
        let unchanged = previous.filter(|look| {
            quiet && look.descendants.as_slice() == members.get(1..).unwrap_or_default()
        });
        if let Some(look) = unchanged {
            own.open_fds = look.sample.own.open_fds;
            tree.open_fds = look.sample.tree.open_fds;
        } else {
            own.open_fds = procfs::open_fds(stat.pid);
            let others: u64 = tree_stats()
                .map(|member| procfs::open_fds(member.pid))
                .sum();
            tree.open_fds = own.open_fds + others;
        }
        let (cpu_percent, tree_cpu_percent) = if let Some(look) = previous {
            let elapsed = now.duration_since(look.at).as_secs_f64();
            (
                percent(own.cpu_seconds - look.own_cpu, elapsed),
                percent(tree.cpu_seconds - look.tree_cpu, elapsed),
            )
        } else {
            let lifetime = SystemTime::now()
                .duration_since(stat.started)
                .map_or(0.0, |d| d.as_secs_f64());
            (
                percent(own.cpu_seconds, lifetime),
                percent(tree.cpu_seconds, lifetime),
            )
        };
        Some(Look {
            at: now,
            own_cpu: own.cpu_seconds,
            tree_cpu: tree.cpu_seconds,
            quiet,
            sample: ProcessSample {
                started: stat.started,
                own,
                tree,
                cpu_percent,
                tree_cpu_percent,
                tree_size: members.len(),
            },
            descendants: members.get(1..).unwrap_or_default().to_vec(),
        })
    }
}

/// The pids handed out after `before` up to `now`, oldest first, wrapping at `pid_max`
/// (past the top, pids start again from the bottom); None when more than [`MAX_BIRTHS`].
fn pids_after(before: i32, now: i32, pid_max: i32) -> Option<Vec<i32>> {
    let span = if now >= before {
        now - before
    } else {
        pid_max - before + now
    };
    if span > MAX_BIRTHS {
        return None;
    }
    Some(if now >= before {
        (before + 1..=now).collect()
    } else {
        (before + 1..pid_max).chain(1..=now).collect()
    })
}

/// What one process uses, from its `stat` (its fd count is the look's to add).
fn usage(stat: &Stat) -> Usage {
    Usage {
        cpu_seconds: stat.cpu_seconds,
        resident_bytes: stat.resident_bytes,
        virtual_bytes: stat.virtual_bytes,
        threads: stat.threads,
        open_fds: 0,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn births_are_the_pids_after_the_last_one_wrapping_at_pid_max() {
        assert_eq!(pids_after(100, 100, 32768), Some(vec![]));
        assert_eq!(pids_after(100, 103, 32768), Some(vec![101, 102, 103]));
        assert_eq!(
            pids_after(32765, 2, 32768),
            Some(vec![32766, 32767, 1, 2]),
            "past the top, pids start again from the bottom"
        );
        assert_eq!(
            pids_after(100, 100 + MAX_BIRTHS, 1 << 22).map(|p| p.len()),
            Some(4096)
        );
        assert_eq!(
            pids_after(100, 101 + MAX_BIRTHS, 1 << 22),
            None,
            "too many to probe"
        );
    }

    #[test]
    fn a_child_born_between_passes_joins_its_tree_without_a_scan() {
        use std::os::unix::process::CommandExt;
        // Scans are kept from this test: only births may find the sleep.
        let mut meter = Meter {
            scanned: Some((Instant::now(), 1e9)),
            last_pid: procfs::last_pid(),
            ..Meter::default()
        };
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "sleep 30 & wait"])
            .process_group(0)
            .spawn()
            .expect("sh runs");
        let pid = i32::try_from(child.id()).expect("pid");
        let target = [Target {
            cgroup: None,
            pid,
            every_pass: false,
        }];
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut sizes = Vec::new();
        while Instant::now() < deadline {
            let samples = meter.pass(&target);
            let size = samples.processes.get(&pid).map_or(0, |s| s.tree_size);
            sizes.push(size);
            if size == 2 {
                break;
            }
            meter.scanned = Some((Instant::now(), 1e9));
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: kills the test's own process group (sh and its sleep).
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = child.wait();
        assert_eq!(
            sizes.last(),
            Some(&2),
            "the sleep joined sh's tree: {sizes:?}"
        );
        assert!(
            meter
                .scanned
                .is_some_and(|(_, cost)| cost.to_bits() == 1e9_f64.to_bits()),
            "no scan ran"
        );
    }

    #[test]
    fn a_look_counts_fds_afresh_once_the_tree_ran_and_keeps_them_while_it_did_not() {
        use std::io::Write;
        use std::os::unix::process::CommandExt;
        let units = Units::of_this_machine();
        // Quiet until it reads a line, then it opens 5 more fds and spins.
        let mut child = std::process::Command::new("/bin/sh")
            .args([
                "-c",
                "read line; exec 3</dev/null 4</dev/null 5</dev/null 6</dev/null 7</dev/null; \
                 while :; do :; done",
            ])
            .stdin(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("sh runs");
        let pid = i32::try_from(child.id()).expect("pid");
        let mut meter = Meter::default();
        let target = [Target {
            cgroup: None,
            pid,
            every_pass: true,
        }];
        let fds_seen = |meter: &mut Meter| {
            meter
                .pass(&target)
                .processes
                .get(&pid)
                .map(|sample| sample.own.open_fds)
        };
        let cpu = || {
            procfs::stats_of(&[pid], &units)
                .first()
                .map_or(0.0, |stat| stat.cpu_seconds)
        };
        let first = fds_seen(&mut meter).expect("measured");
        assert_eq!(fds_seen(&mut meter), Some(first), "quiet: the count stands");
        let start = cpu();
        if let Some(stdin) = child.stdin.as_mut() {
            stdin.write_all(b"go\n").expect("write");
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while cpu() <= start && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let opened = procfs::open_fds(pid);
        let after = fds_seen(&mut meter);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(after, Some(opened), "it ran: counted afresh");
        // (One of fds 3 to 7 may have been inherited already.)
        assert!(opened >= first + 4, "{first} fds, then {opened}");
    }
}
