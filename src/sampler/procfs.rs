//! Reads what the sampler needs straight from `/proc`: one `/proc/<pid>/stat` read per
//! process gives its parent, CPU times, threads, start time and memory, and one `stat()` of
//! `/proc/<pid>/fd` its open fds (Linux reports their count as the directory's size).
//!
//! sysinfo was the first choice; it read every process twice and every task directory on the
//! host, and a pass over 1,000 processes took 65 ms of CPU against a 50 ms budget.

use std::fs;
use std::io::Read;
use std::time::{Duration, SystemTime};

/// One process as `/proc/<pid>/stat` describes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// Its pid.
    pub pid: i32,
    /// Its parent's pid.
    pub ppid: i32,
    /// Its process group (what a signal to the group reaches).
    pub pgrp: i32,
    /// User plus system CPU time, in seconds.
    pub cpu_seconds: f64,
    /// Threads.
    pub threads: u64,
    /// Virtual memory, in bytes.
    pub virtual_bytes: u64,
    /// Resident memory, in bytes.
    pub resident_bytes: u64,
    /// When it started.
    pub started: SystemTime,
}

/// The machine constants that turn `/proc` figures into seconds and bytes.
pub struct Units {
    ticks_per_second: f64,
    page_bytes: u64,
    boot: SystemTime,
}

impl Units {
    /// Reads clock ticks, page size and boot time once.
    pub fn of_this_machine() -> Self {
        // SAFETY: sysconf only reads configuration values.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        let boot = fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|line| line.strip_prefix("btime ")?.trim().parse().ok())
            })
            .map_or(SystemTime::UNIX_EPOCH, |seconds| {
                SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
            });
        Units {
            ticks_per_second: if ticks > 0 { ticks as f64 } else { 100.0 },
            page_bytes: u64::try_from(page).unwrap_or(4096),
            boot,
        }
    }
}

/// Every process on the machine (those that vanish while being read are skipped).
pub fn all_processes(units: &Units) -> Vec<Stat> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut buffer = Vec::with_capacity(512);
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| read_stat(pid, units, &mut buffer))
        .collect()
}

/// The processes `pids` (those gone already are skipped), without reading any other.
pub fn stats_of(pids: &[i32], units: &Units) -> Vec<Stat> {
    let mut buffer = Vec::with_capacity(512);
    pids.iter()
        .filter_map(|pid| read_stat(*pid, units, &mut buffer))
        .collect()
}

fn read_stat(pid: i32, units: &Units, buffer: &mut Vec<u8>) -> Option<Stat> {
    // One `read` of a buffer big enough for the whole line: `read_to_end` would also
    // `statx` and `lseek` the file to size its buffer and `read` again to see the end,
    // which at 10,000 processes doubled the system calls of a pass.
    let mut file = fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    buffer.clear();
    buffer.resize(STAT_BUFFER, 0);
    let mut len = 0;
    loop {
        let read = file.read(&mut buffer[len..]).ok()?;
        len += read;
        if read == 0 || buffer[..len].ends_with(b"\n") {
            break;
        }
        if len == buffer.len() {
            buffer.resize(len * 2, 0);
        }
    }
    parse_stat(pid, &buffer[..len], units)
}

/// The `stat` fields read (numbered as in proc(5)).
const STAT_FIELDS: [usize; 8] = [4, 5, 14, 15, 20, 22, 23, 24];

/// Room for a `stat` line (some 300 bytes; the name is at most 64).
const STAT_BUFFER: usize = 1024;

/// Parses a `stat` line. The command name may hold spaces and parentheses, so fields are
/// counted from its last `)`.
fn parse_stat(pid: i32, line: &[u8], units: &Units) -> Option<Stat> {
    let after_name = line.iter().rposition(|b| *b == b')')? + 1;
    let text = std::str::from_utf8(line.get(after_name..)?).ok()?;
    // Field 3 (state) is the first here; field N is at index N - 3. Fields 4 to 24 are read.
    let mut fields = [0u64; 22];
    let mut seen = 0;
    for (at, field) in text.split_ascii_whitespace().enumerate().take(22) {
        // Others may be negative (tpgid is -1 without a terminal): only these are parsed.
        if STAT_FIELDS.contains(&(at + 3)) {
            fields[at] = field.parse().ok()?;
        }
        seen = at + 1;
    }
    if seen < fields.len() {
        return None;
    }
    let field = |n: usize| fields[n - 3];
    let ticks = |n: u64| n as f64 / units.ticks_per_second;
    Some(Stat {
        pid,
        ppid: i32::try_from(field(4)).ok()?,
        pgrp: i32::try_from(field(5)).ok()?,
        cpu_seconds: ticks(field(14) + field(15)),
        threads: field(20),
        started: units.boot + Duration::from_secs_f64(ticks(field(22))),
        virtual_bytes: field(23),
        resident_bytes: field(24).saturating_mul(units.page_bytes),
    })
}

/// The last pid the kernel handed out in this pid namespace (threads take pids too).
pub fn last_pid() -> Option<i32> {
    fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The highest pid plus one: where pids wrap around.
pub fn pid_max() -> Option<i32> {
    fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether `pid` is a process rather than another thread of one (`/proc/<tid>/stat` opens
/// for any thread, and gives its process's parent).
pub fn is_process(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Tgid:"))
            .and_then(|tgid| tgid.trim().parse::<i32>().ok())
            == Some(pid)
    })
}

/// Open fds of `pid`: the size Linux reports for `/proc/<pid>/fd`, or, where it reports 0
/// (kernels before 6.2), the entries counted.
pub fn open_fds(pid: i32) -> u64 {
    let path = format!("/proc/{pid}/fd");
    match fs::metadata(&path) {
        Ok(meta) if meta.len() > 0 => meta.len(),
        Ok(_) => fs::read_dir(&path).map_or(0, |entries| entries.count() as u64),
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_lines_whose_names_hold_spaces_and_parentheses() {
        let units = Units {
            ticks_per_second: 100.0,
            page_bytes: 4096,
            boot: SystemTime::UNIX_EPOCH,
        };
        let line = b"42 (a) b (c)) S 7 40 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1000 12345678 100 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let stat = parse_stat(42, line, &units).expect("parsed");
        assert_eq!(stat.ppid, 7);
        assert_eq!(stat.pgrp, 40);
        assert!((stat.cpu_seconds - 3.0).abs() < 1e-9);
        assert_eq!(stat.threads, 3);
        assert_eq!(
            stat.started,
            SystemTime::UNIX_EPOCH + Duration::from_secs(10)
        );
        assert_eq!(stat.virtual_bytes, 12_345_678);
        assert_eq!(stat.resident_bytes, 100 * 4096);
    }

    #[test]
    fn reads_this_process() {
        let units = Units::of_this_machine();
        let me = i32::try_from(std::process::id()).expect("pid");
        let stat = all_processes(&units)
            .into_iter()
            .find(|s| s.pid == me)
            .expect("this process is listed");
        assert!(stat.resident_bytes > 0 && stat.threads >= 1);
        assert!(open_fds(me) >= 3);
        let age = SystemTime::now()
            .duration_since(stat.started)
            .expect("started in the past");
        assert!(age < Duration::from_secs(3600), "{age:?}");
    }
}
