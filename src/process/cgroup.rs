//! vigil's cgroup v2 per program (`[supervisord] cgroup_root=`): where vigild may create
//! cgroups ([`Cgroups::detect`], once at start), each process's cgroup
//! `<root>/<group>/<name>` (made on the preparation's thread), and what reaches a whole
//! cgroup: a signal to every member (`cgroup.procs`) and `cgroup.kill` (or, on kernels
//! before 5.14, SIGKILL to every member), so a `setsid` or double-forked escapee is stopped
//! with its program. Writes to cgroupfs are in-kernel and do not wait on a disk.

use std::path::{Path, PathBuf};

use crate::config::controls::{CgroupFile, CgroupLimits};

/// Where vigild creates its programs' cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroups {
    /// `<root>`: the cgroup every program's cgroup is under.
    root: PathBuf,
    /// Whether the kernel has `cgroup.kill` (5.14 and later).
    kill_file: bool,
    /// The controllers the root may hand down (its `cgroup.controllers`).
    controllers: Vec<String>,
}

/// A cgroup limit the kernel refused.
#[derive(Debug)]
pub struct LimitRefused {
    /// The limit.
    pub limit: CgroupFile,
    /// Why.
    pub error: std::io::Error,
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
}

impl Cgroups {
    /// The cgroup root for `setting`: a path, or `auto` (a `vigil` cgroup under the one
    /// vigild runs in), on the cgroup v2 hierarchy; made and tested for writing. Blocking
    /// (reads /proc, makes directories): at start only.
    pub fn detect(setting: &str) -> Result<Cgroups, Unavailable> {
        let mount = cgroup2_mount().ok_or(Unavailable::NoHierarchy)?;
        let root = if setting.trim().eq_ignore_ascii_case("auto") {
            let own = own_cgroup().ok_or(Unavailable::OwnCgroup)?;
            mount.join(own.trim_start_matches('/')).join("vigil")
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
        let probe = root.join(format!(".probe-{}", std::process::id()));
        std::fs::create_dir(&probe).map_err(not_writable)?;
        let kill_file = probe.join("cgroup.kill").exists();
        let _ = std::fs::remove_dir(&probe);
        let controllers = std::fs::read_to_string(root.join("cgroup.controllers"))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        Ok(Cgroups {
            root,
            kill_file,
            controllers,
        })
    }

    /// The controllers the root may hand down (`memory cpu pids`…).
    pub fn controllers(&self) -> &[String] {
        &self.controllers
    }

    /// The options of `limits` whose controller the root does not have: they are not
    /// applied (said once at start).
    pub fn missing(&self, limits: &CgroupLimits) -> Vec<&'static str> {
        limits
            .files()
            .into_iter()
            .filter(|file| !self.controllers.iter().any(|c| c == file.controller))
            .map(|file| file.option)
            .collect()
    }

    /// Writes `limits` into the cgroup `dir` (made by [`Cgroups::make`]), each after its
    /// controller is enabled for it (in the root's and its group's
    /// `cgroup.subtree_control`); those whose controller the root lacks are left out.
    /// Blocking: on the preparation's thread.
    pub fn apply_limits(&self, dir: &Path, limits: &CgroupLimits) -> Result<(), LimitRefused> {
        for limit in limits.files() {
            if !self.controllers.iter().any(|c| c == limit.controller) {
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

    /// The root (for the guardian, which kills everything under it if vigild dies).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// What the guardian kills if vigild dies: the root, and everything under it.
    pub fn kill_target(&self) -> PathBuf {
        self.root.clone()
    }

    /// Kills every process in the cgroup tree `root` (the guardian, once vigild is gone):
    /// `cgroup.kill` of the root reaches every cgroup under it; else each member of each.
    pub fn kill_tree(root: &Path) {
        if std::fs::write(root.join("cgroup.kill"), "1").is_ok() {
            return;
        }
        let mut dirs = vec![root.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            signal_members(&dir, libc::SIGKILL);
            if let Ok(entries) = std::fs::read_dir(&dir) {
                dirs.extend(
                    entries
                        .filter_map(Result::ok)
                        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
                        .map(|entry| entry.path()),
                );
            }
        }
    }

    /// Whether the kernel has `cgroup.kill`.
    pub fn has_kill_file(&self) -> bool {
        self.kill_file
    }

    /// The cgroup of process `name` of `group`.
    pub fn dir_of(&self, group: &str, name: &str) -> PathBuf {
        self.root.join(group).join(name)
    }

    /// Makes the cgroup `dir` if needed; returns its `cgroup.procs`, which the child
    /// writes itself into. Blocking: on the preparation's thread.
    pub fn make(dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        Ok(dir.join("cgroup.procs"))
    }

    /// Kills every process in the cgroup `dir` (and under it): `cgroup.kill` where the
    /// kernel has it, else SIGKILL to each member.
    pub fn kill(&self, dir: &Path) {
        if self.kill_file && std::fs::write(dir.join("cgroup.kill"), "1").is_ok() {
            return;
        }
        signal_members(dir, libc::SIGKILL);
    }

    /// Whether any process is left in the cgroup `dir`.
    pub fn populated(dir: &Path) -> bool {
        std::fs::read_to_string(dir.join("cgroup.events"))
            .is_ok_and(|events| events.lines().any(|line| line.trim() == "populated 1"))
    }

    /// Removes the (empty) cgroup `dir` and its group's directory when that is empty too.
    pub fn remove(dir: &Path) {
        if std::fs::remove_dir(dir).is_ok() {
            if let Some(group) = dir.parent() {
                let _ = std::fs::remove_dir(group);
            }
        }
    }
}

/// Sends `signal` to every process in the cgroup `dir` (its `cgroup.procs`).
pub fn signal_members(dir: &Path, signal: libc::c_int) {
    let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
        return;
    };
    for pid in procs
        .lines()
        .filter_map(|line| line.trim().parse::<i32>().ok())
    {
        if pid > 1 {
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
