//! vigil's cgroup v2 per program (`[supervisord] cgroup_root=`): where vigild may create
//! cgroups ([`Cgroups::detect`], once at start: a cgroup of this vigild's own,
//! `<root>/vigil.<identifier>`, which no other process is in, so killing it can never reach
//! vigild or another instance), each process's cgroup `<instance>/<group>/<name>` (made
//! afresh for each start on the preparation's thread), and what reaches a whole cgroup: a
//! signal to every member (`cgroup.procs`) and `cgroup.kill` (or, on kernels before 5.14,
//! SIGKILL to every member), so a `setsid` or double-forked escapee is stopped with its
//! program. Writes to cgroupfs are in-kernel and do not wait on a disk.

use std::path::{Path, PathBuf};

use crate::config::controls::{CgroupFile, CgroupLimits};

/// Where vigild creates its programs' cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroups {
    /// This vigild's own cgroup (`<root>/vigil.<identifier>`), every program's under it.
    root: PathBuf,
    /// Whether the kernel has `cgroup.kill` (5.14 and later).
    kill_file: bool,
    /// The controllers its programs' cgroups can have (its `cgroup.controllers`, once the
    /// root handed down what it could).
    controllers: Vec<String>,
}

/// Why cgroups cannot be used on this host, said once at start.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    /// No cgroup v2 hierarchy is mounted.
    #[error("no cgroup v2 hierarchy is mounted (cgroup v1 only)")]
    NoHierarchy,
    /// vigild's own cgroup could not be read.
    #[error("cannot read vigild's own cgroup from /proc/self/cgroup")]
    OwnCgroup,
    /// The root could not be made or written (no delegation).
    #[error("cannot create cgroups under {}: {error}", root.display())]
    NotWritable {
        /// The root tried.
        root: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// Another vigild with the same identifier runs its programs there.
    #[error("{} has processes: another vigild with this identifier uses it (set [supervisord] identifier= or another cgroup_root)", dir.display())]
    InUse {
        /// The instance's cgroup.
        dir: PathBuf,
    },
}

/// A cgroup limit the kernel refused.
#[derive(Debug)]
pub struct LimitRefused {
    /// The limit.
    pub limit: CgroupFile,
    /// Why.
    pub error: std::io::Error,
}

impl Cgroups {
    /// This vigild's cgroup for `setting` (a cgroup v2 directory, or `auto`: the cgroup
    /// vigild runs in) and `identifier`: `<root>/vigil.<identifier>`, made, with the
    /// controllers the root can hand down enabled for it; refused when another vigild's
    /// processes are in it. Blocking (reads /proc, makes directories): at start only.
    pub fn detect(setting: &str, identifier: &str) -> Result<Cgroups, Unavailable> {
        Cgroups::find(setting, identifier, false)
    }

    /// The instance cgroup a vigild handed over (`vigilctl reexec`): its processes are
    /// in it, so it is populated, as [`Cgroups::detect`] refuses.
    pub fn adopt(setting: &str, identifier: &str) -> Result<Cgroups, Unavailable> {
        Cgroups::find(setting, identifier, true)
    }

    fn find(setting: &str, identifier: &str, adopting: bool) -> Result<Cgroups, Unavailable> {
        let mount = cgroup2_mount().ok_or(Unavailable::NoHierarchy)?;
        let root = if setting.trim().eq_ignore_ascii_case("auto") {
            let own = own_cgroup().ok_or(Unavailable::OwnCgroup)?;
            mount.join(own.trim_start_matches('/'))
        } else {
            PathBuf::from(setting.trim())
        };
        let not_writable = |error| Unavailable::NotWritable {
            root: root.clone(),
            error,
        };
        std::fs::create_dir_all(&root).map_err(not_writable)?;
        // A cgroup directory has cgroup.procs: a plain directory is not one.
        if !root.join("cgroup.procs").exists() {
            return Err(not_writable(std::io::Error::other(
                "it is not on the cgroup v2 hierarchy",
            )));
        }
        let instance = root.join(format!("vigil.{identifier}"));
        std::fs::create_dir_all(&instance).map_err(not_writable)?;
        if !adopting && Cgroups::populated(&instance) {
            return Err(Unavailable::InUse { dir: instance });
        }
        // What the root has, handed down to this instance's cgroup where it may (a root
        // with processes of its own may not: its children then get no controllers).
        for controller in controllers_of(&root) {
            let _ = std::fs::write(
                root.join("cgroup.subtree_control"),
                format!("+{controller}"),
            );
        }
        Ok(Cgroups {
            kill_file: instance.join("cgroup.kill").exists(),
            controllers: controllers_of(&instance),
            root: instance,
        })
    }

    /// How this host's cgroups are used, for the log and `--check-config`.
    pub fn describe(&self) -> String {
        format!(
            "each process runs in a cgroup of its own under {} (controllers: {}; cgroup.kill: {})",
            self.root.display(),
            if self.controllers.is_empty() {
                "none".to_string()
            } else {
                self.controllers.join(" ")
            },
            if self.kill_file {
                "yes"
            } else {
                "no, members are killed one by one"
            }
        )
    }

    /// This instance's cgroup (the guardian kills everything under it if vigild dies).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The controllers the programs' cgroups can have (`memory cpu pids`…).
    pub fn controllers(&self) -> &[String] {
        &self.controllers
    }

    /// The options of `limits` whose controller is not available: they are not applied
    /// (said once at start).
    pub fn missing(&self, limits: &CgroupLimits) -> Vec<&'static str> {
        limits
            .files()
            .into_iter()
            .filter(|file| !self.has(file.controller))
            .map(|file| file.option)
            .collect()
    }

    fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }

    /// The cgroup of process `name` of `group`.
    pub fn dir_of(&self, group: &str, name: &str) -> PathBuf {
        self.root.join(group).join(name)
    }

    /// Makes the cgroup `dir` afresh for a start (an empty one left by the last run is
    /// removed first, so its counters and limits start clean; one with leftovers is kept);
    /// returns its `cgroup.procs`, which the child writes itself into. Blocking: on the
    /// preparation's thread.
    pub fn make(dir: &Path) -> std::io::Result<PathBuf> {
        let _ = std::fs::remove_dir(dir);
        std::fs::create_dir_all(dir)?;
        Ok(dir.join("cgroup.procs"))
    }

    /// Writes `limits` into the cgroup `dir` (made by [`Cgroups::make`]), each after its
    /// controller is enabled for it (in the instance's and its group's
    /// `cgroup.subtree_control`, which hold no process); those whose controller is not
    /// available are left out (said at start). Blocking: on the preparation's thread.
    pub fn apply_limits(&self, dir: &Path, limits: &CgroupLimits) -> Result<(), LimitRefused> {
        for limit in limits.files() {
            if !self.has(limit.controller) {
                continue;
            }
            let enable = format!("+{}", limit.controller);
            let written = [Some(self.root.as_path()), dir.parent()]
                .into_iter()
                .flatten()
                .try_for_each(|parent| {
                    std::fs::write(parent.join("cgroup.subtree_control"), &enable)
                })
                .and_then(|()| std::fs::write(dir.join(limit.file), &limit.value));
            if let Err(error) = written {
                return Err(LimitRefused { limit, error });
            }
        }
        Ok(())
    }

    /// The OOM kills in the cgroup `dir` so far (`memory.events`' `oom_kill`), where the
    /// memory controller is on.
    pub fn oom_kills(dir: &Path) -> Option<u64> {
        let events = std::fs::read_to_string(dir.join("memory.events")).ok()?;
        events
            .lines()
            .find_map(|line| line.strip_prefix("oom_kill "))
            .and_then(|count| count.trim().parse().ok())
    }

    /// Kills every process in the cgroup `dir` (and under it): `cgroup.kill` where the
    /// kernel has it, else SIGKILL to each member.
    pub fn kill(&self, dir: &Path) {
        if self.kill_file && std::fs::write(dir.join("cgroup.kill"), "1").is_ok() {
            return;
        }
        signal_members(dir, libc::SIGKILL, 0);
    }

    /// Kills every process in the cgroup tree `root` (the guardian, once vigild is gone,
    /// with this instance's cgroup): `cgroup.kill` reaches every cgroup under it; else each
    /// member of each.
    pub fn kill_tree(root: &Path) {
        if std::fs::write(root.join("cgroup.kill"), "1").is_ok() {
            return;
        }
        let mut dirs = vec![root.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            signal_members(&dir, libc::SIGKILL, 0);
            dirs.extend(subdirectories(&dir));
        }
    }

    /// Whether any process is left in the cgroup `dir`.
    pub fn populated(dir: &Path) -> bool {
        std::fs::read_to_string(dir.join("cgroup.events"))
            .is_ok_and(|events| events.lines().any(|line| line.trim() == "populated 1"))
    }

    /// Removes this instance's cgroups, leaves first, those still holding processes left
    /// (vigild's exit, once every program has stopped).
    pub fn remove_all(&self) {
        for group in subdirectories(&self.root) {
            for process in subdirectories(&group) {
                let _ = std::fs::remove_dir(process);
            }
            let _ = std::fs::remove_dir(&group);
        }
        let _ = std::fs::remove_dir(&self.root);
    }
}

/// The cgroups right under `dir`.
fn subdirectories(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
                .map(|entry| entry.path())
                .collect()
        })
        .unwrap_or_default()
}

/// The controllers the cgroup `dir` has (its `cgroup.controllers`).
fn controllers_of(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("cgroup.controllers"))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Sends `signal` to every process in the cgroup `dir` (its `cgroup.procs`) but `except`.
pub fn signal_members(dir: &Path, signal: libc::c_int, except: i32) {
    let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
        return;
    };
    for pid in procs
        .lines()
        .filter_map(|line| line.trim().parse::<i32>().ok())
    {
        if pid > 1 && pid != except {
            // SAFETY: a plain system call.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }
}

/// Where the cgroup v2 hierarchy is mounted (`/proc/self/mountinfo`).
fn cgroup2_mount() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo.lines().find_map(|line| {
        // `id parent major:minor root mount-point options … - fstype source options`
        let (fields, tail) = line.split_once(" - ")?;
        if tail.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        fields.split_whitespace().nth(4).map(PathBuf::from)
    })
}

/// vigild's own cgroup v2 path (`0::/system.slice/vigil.service`).
fn own_cgroup() -> Option<String> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    cgroups
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(str::to_string)
}
