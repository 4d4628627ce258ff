//! A program's resource controls as its child applies them ([`ChildControls`]): plain
//! numbers prepared before the start, checked against vigild's own hard limits, and applied
//! by [`super::launch`] between the clone and the exec with async-signal-safe system calls
//! only ([`apply`], [`apply_last`]). Which control failed comes back as a [`Control`].

use std::ffi::c_int;

use super::spawn_error::SpawnError;
use crate::config::controls::{ResourceControls, Rlimit};

/// What the child sets on itself, in the order it does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChildControls {
    /// `(RLIMIT_*, soft, hard)`; a hard of `None` keeps the inherited one.
    pub rlimits: Vec<(c_int, u64, Option<u64>)>,
    /// `nice`.
    pub nice: Option<c_int>,
    /// `oom_score_adj`, as the text written to `/proc/self/oom_score_adj`.
    pub oom_score_adj: Option<Vec<u8>>,
    /// `ioprio_set`'s value.
    pub ioprio: Option<c_int>,
    /// `cpu_affinity`: the CPUs (empty: inherited).
    pub cpus: Vec<u32>,
    /// `no_new_privs`.
    pub no_new_privs: bool,
}

/// A control the child could not apply, for its `spawnerr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// The `rlimit_*` at this index of [`ChildControls::rlimits`].
    Rlimit(usize),
    /// `nice`.
    Nice,
    /// `oom_score_adj`.
    OomScoreAdj,
    /// `ioclass`/`ionice`.
    IoPriority,
    /// `cpu_affinity`.
    CpuAffinity,
    /// `no_new_privs`.
    NoNewPrivs,
    /// Joining the process's cgroup (`cgroup_root`).
    Cgroup,
}

impl Control {
    /// A number for the child's report: distinct for each control and each limit.
    pub fn code(self) -> c_int {
        match self {
            Control::Nice => 0,
            Control::OomScoreAdj => 1,
            Control::IoPriority => 2,
            Control::CpuAffinity => 3,
            Control::NoNewPrivs => 4,
            Control::Cgroup => 5,
            Control::Rlimit(at) => 16 + c_int::try_from(at).unwrap_or(0),
        }
    }

    /// The control for `code`.
    pub fn from_code(code: c_int) -> Option<Control> {
        match code {
            0 => Some(Control::Nice),
            1 => Some(Control::OomScoreAdj),
            2 => Some(Control::IoPriority),
            3 => Some(Control::CpuAffinity),
            4 => Some(Control::NoNewPrivs),
            5 => Some(Control::Cgroup),
            16.. => usize::try_from(code - 16).ok().map(Control::Rlimit),
            _ => None,
        }
    }

    /// The option it comes from, with its value, for the spawnerr (`nice=-5`,
    /// `ioclass=realtime ionice=0`).
    pub fn describe(self, controls: &ResourceControls) -> String {
        let option = match self {
            Control::Rlimit(at) => controls.rlimits.get(at).map(|l| l.resource.option()),
            Control::Nice => Some("nice"),
            Control::OomScoreAdj => Some("oom_score_adj"),
            Control::IoPriority => None,
            Control::CpuAffinity => Some("cpu_affinity"),
            Control::NoNewPrivs => Some("no_new_privs"),
            Control::Cgroup => return "its cgroup (cgroup_root)".to_string(),
        };
        let shown: Vec<String> = controls
            .options()
            .into_iter()
            .filter(|(name, _)| match option {
                Some(option) => *name == option,
                None => *name == "ioclass" || *name == "ionice",
            })
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        shown.join(" ")
    }
}

impl ChildControls {
    /// What `controls` make the child do; a limit above vigild's own hard limit is a spawn
    /// error unless vigild may raise it (`CAP_SYS_RESOURCE`, which root has outside a
    /// container that drops it). Reads vigild's limits and capabilities (blocking: run on
    /// the preparation's thread).
    pub fn prepare(controls: &ResourceControls) -> Result<ChildControls, SpawnError> {
        let may_raise = !controls.rlimits.is_empty() && may_raise_limits();
        for limit in &controls.rlimits {
            let own = own_hard_limit(limit.resource.number());
            let wanted = limit.hard.unwrap_or(limit.soft);
            if !may_raise && own.is_some_and(|own| wanted > own) {
                let own = Rlimit {
                    soft: own.unwrap_or(u64::MAX),
                    hard: None,
                    ..*limit
                };
                return Err(SpawnError::AboveHardLimit {
                    option: limit.resource.option(),
                    wanted: limit.to_string(),
                    own: own.to_string(),
                });
            }
        }
        Ok(ChildControls {
            rlimits: controls
                .rlimits
                .iter()
                .map(|limit| (limit.resource.number(), limit.soft, limit.hard))
                .collect(),
            nice: controls.nice,
            oom_score_adj: controls
                .oom_score_adj
                .map(|score| score.to_string().into_bytes()),
            ioprio: controls.io.map(crate::config::controls::IoPriority::value),
            cpus: controls.cpu_affinity.clone().unwrap_or_default(),
            no_new_privs: controls.no_new_privs,
        })
    }
}

/// Whether vigild has `CAP_SYS_RESOURCE` in its effective set (from `/proc/self/status`).
fn may_raise_limits() -> bool {
    const CAP_SYS_RESOURCE: u32 = 24;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("CapEff:"))?;
            u64::from_str_radix(line.trim_start_matches("CapEff:").trim(), 16).ok()
        })
        .is_some_and(|effective| effective >> CAP_SYS_RESOURCE & 1 == 1)
}

/// vigild's own hard limit of `resource` (`u64::MAX` when unlimited).
fn own_hard_limit(resource: c_int) -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given.
    let got = unsafe { libc::getrlimit(resource as _, &raw mut limit) };
    (got == 0).then_some(limit.rlim_max)
}

/// The CPU set for `cpus`, built before the clone (the child only hands it to the kernel).
pub fn cpu_set(cpus: &[u32]) -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is plain bits; CPU_ZERO/CPU_SET write within it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        for cpu in cpus {
            if let Ok(cpu) = usize::try_from(*cpu) {
                libc::CPU_SET(cpu, &mut set);
            }
        }
        set
    }
}

/// The controls set while vigild's privileges still hold (before the user switch): limits,
/// nice, OOM score, I/O priority, CPU affinity.
///
/// # Safety
/// Runs in the cloned child: async-signal-safe system calls on memory prepared beforehand.
pub unsafe fn apply(controls: &ChildControls, cpus: &libc::cpu_set_t) -> Result<(), Control> {
    // SAFETY (for the calls below): see the function's contract.
    unsafe {
        for (at, (resource, soft, hard)) in controls.rlimits.iter().enumerate() {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(*resource as _, &raw mut limit) != 0 {
                return Err(Control::Rlimit(at));
            }
            limit.rlim_cur = *soft;
            match hard {
                Some(hard) => limit.rlim_max = *hard,
                // A soft limit above the inherited hard one raises it too (vigild was
                // found able to: CAP_SYS_RESOURCE).
                None if *soft > limit.rlim_max => limit.rlim_max = *soft,
                None => {}
            }
            if libc::setrlimit(*resource as _, &raw const limit) != 0 {
                return Err(Control::Rlimit(at));
            }
        }
        if let Some(nice) = controls.nice {
            if libc::setpriority(libc::PRIO_PROCESS, 0, nice) != 0 {
                return Err(Control::Nice);
            }
        }
        if let Some(score) = &controls.oom_score_adj {
            let fd = libc::open(c"/proc/self/oom_score_adj".as_ptr(), libc::O_WRONLY);
            let written = fd >= 0 && libc::write(fd, score.as_ptr().cast(), score.len()) >= 0;
            if fd >= 0 {
                libc::close(fd);
            }
            if !written {
                return Err(Control::OomScoreAdj);
            }
        }
        if let Some(ioprio) = controls.ioprio {
            const IOPRIO_WHO_PROCESS: c_int = 1;
            if libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, ioprio) != 0 {
                return Err(Control::IoPriority);
            }
        }
        if !controls.cpus.is_empty()
            && libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), cpus) != 0
        {
            return Err(Control::CpuAffinity);
        }
    }
    Ok(())
}

/// The control set last, just before the exec: `no_new_privs`.
///
/// # Safety
/// As [`apply`].
pub unsafe fn apply_last(controls: &ChildControls) -> Result<(), Control> {
    // SAFETY: a plain prctl.
    if controls.no_new_privs && unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(Control::NoNewPrivs);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::controls::Resource;

    #[test]
    fn control_codes_round_trip_and_name_the_option() {
        for control in [
            Control::Nice,
            Control::OomScoreAdj,
            Control::IoPriority,
            Control::CpuAffinity,
            Control::NoNewPrivs,
            Control::Cgroup,
            Control::Rlimit(0),
            Control::Rlimit(7),
        ] {
            assert_eq!(Control::from_code(control.code()), Some(control));
        }
        let controls = ResourceControls {
            rlimits: vec![Rlimit {
                resource: Resource::Nofile,
                soft: 64,
                hard: Some(u64::MAX),
            }],
            nice: Some(-5),
            ..ResourceControls::default()
        };
        assert_eq!(
            Control::Rlimit(0).describe(&controls),
            "rlimit_nofile=64:unlimited"
        );
        assert_eq!(Control::Nice.describe(&controls), "nice=-5");
    }
}
