//! vigil's per-program resource controls: `rlimit_*` (each `soft` or `soft:hard`, with
//! `unlimited` and size suffixes), `nice`, `oom_score_adj`, `ioclass`/`ionice`,
//! `cpu_affinity` and `no_new_privs`, read and checked at load. What a child gets from them
//! is prepared and applied in `process/`; nothing here touches a process.

use super::expand::Names;
use super::invalid::Invalid;
use super::resolve::SectionReader;
use super::value;

/// A program's resource controls; all absent is supervisord's behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceControls {
    /// `rlimit_*`, in [`Resource::ALL`] order.
    pub rlimits: Vec<Rlimit>,
    /// `nice=-20..19`.
    pub nice: Option<i32>,
    /// `oom_score_adj=-1000..1000`.
    pub oom_score_adj: Option<i32>,
    /// `ioclass=` / `ionice=`.
    pub io: Option<IoPriority>,
    /// `cpu_affinity=0-3,6`: the CPUs, ascending.
    pub cpu_affinity: Option<Vec<u32>>,
    /// `no_new_privs=true`: `prctl(PR_SET_NO_NEW_PRIVS)` before exec.
    pub no_new_privs: bool,
    /// The limits of the process's cgroup (with `cgroup_root`).
    pub cgroup: CgroupLimits,
}

/// `memory_max`, `memory_high`, `cpu_quota`, `cpu_weight`, `pids_max`: written into the
/// process's cgroup where the controllers are enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CgroupLimits {
    /// `memory_max`: bytes (at least a page); the kernel's OOM killer acts beyond.
    pub memory_max: Option<u64>,
    /// `memory_high`: bytes; reclaim is pressed beyond.
    pub memory_high: Option<u64>,
    /// `cpu_quota=150%`: percent of one CPU.
    pub cpu_quota: Option<u32>,
    /// `cpu_weight=1..10000` (100 is the kernel's default).
    pub cpu_weight: Option<u32>,
    /// `pids_max`: processes and threads.
    pub pids_max: Option<u64>,
}

/// One cgroup limit as the kernel takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupFile {
    /// The option (`memory_max`).
    pub option: &'static str,
    /// The controller it needs (`memory`).
    pub controller: &'static str,
    /// The cgroup file (`memory.max`).
    pub file: &'static str,
    /// What is written into it (`268435456`, `150000 100000`).
    pub value: String,
}

impl CgroupLimits {
    /// The files these limits are written to, with their values.
    pub fn files(&self) -> Vec<CgroupFile> {
        let file = |option, controller, file, value: String| CgroupFile {
            option,
            controller,
            file,
            value,
        };
        let mut files = Vec::new();
        if let Some(bytes) = self.memory_max {
            files.push(file(
                "memory_max",
                "memory",
                "memory.max",
                bytes.to_string(),
            ));
        }
        if let Some(bytes) = self.memory_high {
            files.push(file(
                "memory_high",
                "memory",
                "memory.high",
                bytes.to_string(),
            ));
        }
        if let Some(percent) = self.cpu_quota {
            // Per 100 ms period, as systemd's CPUQuota= writes it.
            let quota = u64::from(percent) * 1000;
            files.push(file(
                "cpu_quota",
                "cpu",
                "cpu.max",
                format!("{quota} 100000"),
            ));
        }
        if let Some(weight) = self.cpu_weight {
            files.push(file("cpu_weight", "cpu", "cpu.weight", weight.to_string()));
        }
        if let Some(pids) = self.pids_max {
            files.push(file("pids_max", "pids", "pids.max", pids.to_string()));
        }
        files
    }
}

impl ResourceControls {
    /// Whether any control is set.
    pub fn any(&self) -> bool {
        *self != ResourceControls::default()
    }

    /// Each control set, as `(option, value)` the way a config writes it, for the page's
    /// effective config and the spawn errors.
    pub fn options(&self) -> Vec<(&'static str, String)> {
        let mut options: Vec<(&'static str, String)> = self
            .rlimits
            .iter()
            .map(|limit| (limit.resource.option(), limit.to_string()))
            .collect();
        if let Some(nice) = self.nice {
            options.push(("nice", nice.to_string()));
        }
        if let Some(score) = self.oom_score_adj {
            options.push(("oom_score_adj", score.to_string()));
        }
        match self.io {
            Some(IoPriority::Realtime(level)) => {
                options.push(("ioclass", "realtime".into()));
                options.push(("ionice", level.to_string()));
            }
            Some(IoPriority::BestEffort(level)) => {
                options.push(("ioclass", "best-effort".into()));
                options.push(("ionice", level.to_string()));
            }
            Some(IoPriority::Idle) => options.push(("ioclass", "idle".into())),
            None => {}
        }
        if let Some(cpus) = &self.cpu_affinity {
            let cpus: Vec<String> = cpus.iter().map(ToString::to_string).collect();
            options.push(("cpu_affinity", cpus.join(",")));
        }
        if self.no_new_privs {
            options.push(("no_new_privs", "true".into()));
        }
        let limits = &self.cgroup;
        for (option, bytes) in [
            ("memory_max", limits.memory_max),
            ("memory_high", limits.memory_high),
        ] {
            if let Some(bytes) = bytes {
                options.push((option, bytes.to_string()));
            }
        }
        if let Some(percent) = limits.cpu_quota {
            options.push(("cpu_quota", format!("{percent}%")));
        }
        if let Some(weight) = limits.cpu_weight {
            options.push(("cpu_weight", weight.to_string()));
        }
        if let Some(pids) = limits.pids_max {
            options.push(("pids_max", pids.to_string()));
        }
        options
    }
}

impl std::fmt::Display for Rlimit {
    /// As written: `4096`, `4096:8192`, `unlimited`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let one = |value: u64| {
            if value == u64::MAX {
                "unlimited".to_string()
            } else {
                value.to_string()
            }
        };
        match self.hard {
            Some(hard) => write!(f, "{}:{}", one(self.soft), one(hard)),
            None => f.write_str(&one(self.soft)),
        }
    }
}

/// One `rlimit_*` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    /// Which limit.
    pub resource: Resource,
    /// The soft limit (`u64::MAX` is unlimited).
    pub soft: u64,
    /// The hard limit, when given (else the inherited one stays).
    pub hard: Option<u64>,
}

/// The limits a program may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `rlimit_nofile`: open files.
    Nofile,
    /// `rlimit_nproc`: processes of the user.
    Nproc,
    /// `rlimit_core`: core file size.
    Core,
    /// `rlimit_memlock`: locked memory.
    Memlock,
    /// `rlimit_stack`: stack size.
    Stack,
    /// `rlimit_as`: address space.
    As,
    /// `rlimit_cpu`: CPU seconds.
    Cpu,
    /// `rlimit_fsize`: file size.
    Fsize,
}

impl Resource {
    /// Every limit, in the order the options are read.
    pub const ALL: [Resource; 8] = [
        Resource::Nofile,
        Resource::Nproc,
        Resource::Core,
        Resource::Memlock,
        Resource::Stack,
        Resource::As,
        Resource::Cpu,
        Resource::Fsize,
    ];

    /// The option's name.
    pub fn option(self) -> &'static str {
        match self {
            Resource::Nofile => "rlimit_nofile",
            Resource::Nproc => "rlimit_nproc",
            Resource::Core => "rlimit_core",
            Resource::Memlock => "rlimit_memlock",
            Resource::Stack => "rlimit_stack",
            Resource::As => "rlimit_as",
            Resource::Cpu => "rlimit_cpu",
            Resource::Fsize => "rlimit_fsize",
        }
    }

    /// The `RLIMIT_*` number `setrlimit` takes.
    pub fn number(self) -> i32 {
        let number = match self {
            Resource::Nofile => libc::RLIMIT_NOFILE,
            Resource::Nproc => libc::RLIMIT_NPROC,
            Resource::Core => libc::RLIMIT_CORE,
            Resource::Memlock => libc::RLIMIT_MEMLOCK,
            Resource::Stack => libc::RLIMIT_STACK,
            Resource::As => libc::RLIMIT_AS,
            Resource::Cpu => libc::RLIMIT_CPU,
            Resource::Fsize => libc::RLIMIT_FSIZE,
        };
        // The constants are small non-negative numbers on every Linux target.
        i32::try_from(number).unwrap_or(i32::MAX)
    }
}

/// `ioclass=` with its level (`ionice=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoPriority {
    /// `realtime`, level 0 (highest) to 7.
    Realtime(u8),
    /// `best-effort`, level 0 to 7 (the kernel's default class, level 4).
    BestEffort(u8),
    /// `idle`: only when no other program wants the disk.
    Idle,
}

impl IoPriority {
    /// The value `ioprio_set` takes: class in the top bits, level below.
    pub fn value(self) -> i32 {
        const CLASS_SHIFT: i32 = 13;
        match self {
            IoPriority::Realtime(level) => (1 << CLASS_SHIFT) | i32::from(level),
            IoPriority::BestEffort(level) => (2 << CLASS_SHIFT) | i32::from(level),
            IoPriority::Idle => 3 << CLASS_SHIFT,
        }
    }
}

impl std::fmt::Display for IoPriority {
    /// As `ionice -p` prints it: `realtime: prio 0`, `best-effort: prio 7`, `idle`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IoPriority::Realtime(level) => write!(f, "realtime: prio {level}"),
            IoPriority::BestEffort(level) => write!(f, "best-effort: prio {level}"),
            IoPriority::Idle => write!(f, "idle"),
        }
    }
}

/// Reads a program section's resource controls; `cpus` is how many CPUs this host has.
pub(super) fn read(reader: &mut SectionReader<'_>, names: &Names, cpus: u32) -> ResourceControls {
    let rlimits = Resource::ALL
        .into_iter()
        .filter_map(|resource| {
            reader.optional(resource.option(), names, |text| rlimit(resource, text))
        })
        .collect();
    let level = reader.optional("ionice", names, |text| ranged(text, 0, 7));
    let class = reader.optional("ioclass", names, io_class);
    let io = match (class, level) {
        (None, None) => None,
        (Some(IoClass::Idle), _) => Some(IoPriority::Idle),
        (Some(IoClass::Realtime), level) => Some(IoPriority::Realtime(level_of(level))),
        (Some(IoClass::BestEffort) | None, level) => Some(IoPriority::BestEffort(level_of(level))),
    };
    ResourceControls {
        rlimits,
        nice: reader.optional("nice", names, |text| ranged(text, -20, 19)),
        oom_score_adj: reader.optional("oom_score_adj", names, |text| ranged(text, -1000, 1000)),
        io,
        cpu_affinity: reader.optional("cpu_affinity", names, |text| cpu_list(text, cpus)),
        no_new_privs: reader.parse("no_new_privs", names, false, value::boolean),
        cgroup: CgroupLimits {
            memory_max: reader.optional("memory_max", names, at_least_a_page),
            memory_high: reader.optional("memory_high", names, at_least_a_page),
            cpu_quota: reader.optional("cpu_quota", names, percent),
            cpu_weight: reader
                .optional("cpu_weight", names, |text| ranged(text, 1, 10_000))
                .and_then(|weight| u32::try_from(weight).ok()),
            pids_max: reader.optional("pids_max", names, |text| {
                value::count::<u64>(text).and_then(|n| {
                    if n == 0 {
                        Err(Invalid::NotPositiveCount)
                    } else {
                        Ok(n)
                    }
                })
            }),
        },
    }
}

/// A memory size of at least one page (a smaller limit would stop the process at once).
fn at_least_a_page(text: &str) -> Result<u64, Invalid> {
    // SAFETY: sysconf only reads a system value.
    let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let bytes = value::byte_size(text)?;
    if bytes < page {
        return Err(Invalid::BelowAPage { page });
    }
    Ok(bytes)
}

/// `150%` (written `150%%` in the file, as every literal `%` in supervisord's configs) or
/// `1.5` CPUs: a share of one CPU in percent, above 0.
fn percent(text: &str) -> Result<u32, Invalid> {
    let text = text.trim();
    let percent = match text.strip_suffix('%') {
        Some(digits) => digits.trim().parse::<u32>().ok(),
        None => text
            .parse::<f64>()
            .ok()
            .filter(|cpus| cpus.is_finite() && *cpus > 0.0 && *cpus <= 10_000.0)
            .map(|cpus| (cpus * 100.0).round() as u32),
    };
    percent.filter(|p| *p > 0).ok_or(Invalid::NotPercent)
}

/// An `ionice=` level, 4 (the kernel's default) when only the class is given.
fn level_of(level: Option<i32>) -> u8 {
    level
        .and_then(|level| u8::try_from(level).ok())
        .unwrap_or(4)
}

/// `ioclass=`'s classes.
enum IoClass {
    Realtime,
    BestEffort,
    Idle,
}

fn io_class(text: &str) -> Result<IoClass, Invalid> {
    match text.trim().to_ascii_lowercase().as_str() {
        "realtime" | "rt" | "1" => Ok(IoClass::Realtime),
        "best-effort" | "besteffort" | "be" | "2" => Ok(IoClass::BestEffort),
        "idle" | "3" => Ok(IoClass::Idle),
        _ => Err(Invalid::NotIoClass),
    }
}

/// An integer in `low..=high`.
fn ranged(text: &str, low: i32, high: i32) -> Result<i32, Invalid> {
    let number = value::integer(text)?;
    i32::try_from(number)
        .ok()
        .filter(|n| (low..=high).contains(n))
        .ok_or(Invalid::OutOfRange { low, high })
}

/// `soft` or `soft:hard`, each a number (with a size suffix) or `unlimited`.
fn rlimit(resource: Resource, text: &str) -> Result<Rlimit, Invalid> {
    let one = |text: &str| -> Result<u64, Invalid> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("unlimited") || text.eq_ignore_ascii_case("infinity") {
            return Ok(u64::MAX);
        }
        value::byte_size(text)
    };
    let (soft, hard) = match text.split_once(':') {
        Some((soft, hard)) => (one(soft)?, Some(one(hard)?)),
        None => (one(text)?, None),
    };
    if hard.is_some_and(|hard| soft > hard) {
        return Err(Invalid::SoftAboveHard);
    }
    Ok(Rlimit {
        resource,
        soft,
        hard,
    })
}

/// `0-3,6`: CPU numbers and ranges, each below `cpus`.
fn cpu_list(text: &str, cpus: u32) -> Result<Vec<u32>, Invalid> {
    let mut list = Vec::new();
    for item in text
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let number = |text: &str| text.trim().parse::<u32>().map_err(|_| Invalid::NotCpuList);
        let (first, last) = match item.split_once('-') {
            Some((first, last)) => (number(first)?, number(last)?),
            None => (number(item)?, number(item)?),
        };
        if first > last {
            return Err(Invalid::NotCpuList);
        }
        if last >= cpus {
            return Err(Invalid::NoSuchCpu { cpu: last, cpus });
        }
        list.extend(first..=last);
    }
    if list.is_empty() {
        return Err(Invalid::NotCpuList);
    }
    list.sort_unstable();
    list.dedup();
    Ok(list)
}

/// The CPUs this host has (configured, online or not), for `cpu_affinity`; at most the
/// 1,024 a `cpu_set_t` holds.
pub(super) fn host_cpus() -> u32 {
    // SAFETY: sysconf only reads a system value.
    let configured = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
    u32::try_from(configured).unwrap_or(1).clamp(1, 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rlimits_take_soft_or_soft_hard_with_unlimited_and_sizes() {
        assert_eq!(
            rlimit(Resource::Nofile, "4096:8192"),
            Ok(Rlimit {
                resource: Resource::Nofile,
                soft: 4096,
                hard: Some(8192)
            })
        );
        let stack = rlimit(Resource::Stack, "64MB").expect("parses");
        assert_eq!((stack.soft, stack.hard), (64 << 20, None));
        let core = rlimit(Resource::Core, "unlimited").expect("parses");
        assert_eq!(core.soft, u64::MAX);
        assert_eq!(
            rlimit(Resource::Nofile, "9000:100"),
            Err(Invalid::SoftAboveHard)
        );
        assert!(rlimit(Resource::Nofile, "lots").is_err());
    }

    #[test]
    fn cpu_lists_and_io_priorities() {
        assert_eq!(cpu_list("0-1", 2), Ok(vec![0, 1]));
        assert_eq!(cpu_list("1,0,1", 2), Ok(vec![0, 1]));
        assert_eq!(
            cpu_list("0-3,6", 2),
            Err(Invalid::NoSuchCpu { cpu: 3, cpus: 2 })
        );
        assert_eq!(cpu_list("3-1", 8), Err(Invalid::NotCpuList));
        assert_eq!(cpu_list("x", 8), Err(Invalid::NotCpuList));
        assert_eq!(IoPriority::BestEffort(7).value(), (2 << 13) | 7);
        assert_eq!(IoPriority::Idle.to_string(), "idle");
        assert_eq!(
            ranged("-21", -20, 19),
            Err(Invalid::OutOfRange { low: -20, high: 19 })
        );
        assert_eq!(ranged("19", -20, 19), Ok(19));
        assert_eq!(percent("150%"), Ok(150));
        assert_eq!(percent("1.5"), Ok(150));
        assert_eq!(percent("0%"), Err(Invalid::NotPercent));
        let limits = CgroupLimits {
            cpu_quota: Some(150),
            pids_max: Some(5),
            ..CgroupLimits::default()
        };
        let files: Vec<(&str, String)> = limits
            .files()
            .into_iter()
            .map(|f| (f.file, f.value))
            .collect();
        assert_eq!(
            files,
            [
                ("cpu.max", "150000 100000".to_string()),
                ("pids.max", "5".to_string())
            ]
        );
    }
}
