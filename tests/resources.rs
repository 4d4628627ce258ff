//! Resource controls with real processes (issue 24): `rlimit_*`, `nice`, `oom_score_adj`,
//! `ioclass`/`ionice`, `cpu_affinity` and `no_new_privs`, read back from `/proc/<pid>/…`,
//! `ionice -p` and `taskset -p`; a limit the kernel refuses is a spawn error with its errno.

use std::process::Command;

use crate::support::*;

/// The soft and hard columns of `name`'s line in `/proc/<pid>/limits`.
fn limits(pid: i32, name: &str) -> (String, String) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = text
        .lines()
        .find(|line| line.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in {text}"));
    let columns: Vec<&str> = line[name.len()..].split_whitespace().collect();
    (columns[0].to_string(), columns[1].to_string())
}

/// What `command args… pid` prints.
fn run(command: &str, args: &[&str], pid: i32) -> String {
    let output = Command::new(command)
        .args(args)
        .arg(pid.to_string())
        .output()
        .expect("run");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn limits_priorities_and_affinity_are_what_the_child_runs_with() {
    // A control the kernel refuses: a limit above fs.nr_open where vigild may raise limits,
    // else an OOM score below 0 (both need CAP_SYS_RESOURCE for anything less).
    let (refused, refusal) = if may_raise_limits() {
        ("rlimit_nofile=2000000:2000000", "EPERM")
    } else {
        ("oom_score_adj=-900", "EACCES")
    };
    let port = free_port();
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[inet_http_server]\nport=127.0.0.1:{port}\n\n[program:limited]\ncommand=/bin/sleep 1000\nstartsecs=0\n\
         rlimit_nofile=1024:4096\nrlimit_core=unlimited\nrlimit_stack=16MB\nrlimit_cpu=3600\n\
         rlimit_fsize=1GB:2GB\nrlimit_memlock=64KB:64KB\nrlimit_nproc=500:600\nrlimit_as=unlimited\n\
         nice=7\noom_score_adj=500\nioclass=best-effort\nionice=6\ncpu_affinity=0\n\
         no_new_privs=true\n\n\
         [program:plain]\ncommand=/bin/sleep 1000\nstartsecs=0\n\n\
         [program:refused]\ncommand=/bin/sleep 1000\nstartsecs=0\nstartretries=0\n{refused}\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    wait_status(&vigild, "limited", &["RUNNING"]);
    wait_status(&vigild, "plain", &["RUNNING"]);
    let pid = vigild.pid_of("limited");
    for (name, soft, hard) in [
        ("Max open files", "1024", "4096"),
        ("Max core file size", "unlimited", "unlimited"),
        ("Max stack size", "16777216", "unlimited"),
        ("Max cpu time", "3600", "unlimited"),
        ("Max file size", "1073741824", "2147483648"),
        ("Max locked memory", "65536", "65536"),
        ("Max processes", "500", "600"),
        ("Max address space", "unlimited", "unlimited"),
    ] {
        let (got_soft, got_hard) = limits(pid, name);
        assert_eq!(got_soft, soft, "{name}");
        if name != "Max stack size" && name != "Max cpu time" {
            assert_eq!(got_hard, hard, "{name}");
        }
    }
    let stat = stat_fields(pid).expect("stat");
    assert_eq!(stat[16], "7", "nice is field 19 of /proc/<pid>/stat");
    let oom = std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).expect("oom");
    assert_eq!(oom.trim(), "500");
    assert_eq!(run("ionice", &["-p"], pid), "best-effort: prio 6");
    let mask = run("taskset", &["-p"], pid);
    assert!(mask.ends_with("current affinity mask: 1"), "{mask}");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");

    // The page's effective config shows them.
    let (code, page) = http_get(port, "/process/limited", None);
    assert_eq!(code, 200);
    for row in [
        "<td>rlimit_nofile</td><td>1024:4096</td>",
        "<td>nice</td><td>7</td>",
        "<td>ioclass</td><td>best-effort</td>",
        "<td>cpu_affinity</td><td>0</td>",
        "<td>no_new_privs</td><td>true</td>",
    ] {
        assert!(page.contains(row), "{row}: {page}");
    }

    // A program without controls runs as vigild's children always have.
    let plain = vigild.pid_of("plain");
    assert_eq!(stat_fields(plain).expect("stat")[16], "0");
    let plain_status = std::fs::read_to_string(format!("/proc/{plain}/status")).expect("status");
    assert!(plain_status.contains("NoNewPrivs:\t0"));

    // The kernel's refusal is the spawn error, with its errno: never a run without it.
    let line = wait_status(&vigild, "refused", &["FATAL"]);
    assert!(
        line.contains(&format!("couldn't apply {refused}: {refusal}")),
        "{line}"
    );
    vigild.wait_log(&format!("spawnerr: couldn't apply {refused}: {refusal}"));
    vigild.shutdown();
}

/// Whether this test run may raise hard limits (`CAP_SYS_RESOURCE`: root, unless a
/// container dropped it, as this machine's does).
fn may_raise_limits() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("CapEff:"))?;
            u64::from_str_radix(line.trim_start_matches("CapEff:").trim(), 16).ok()
        })
        .is_some_and(|effective| effective >> 24 & 1 == 1)
}

#[test]
fn a_hard_limit_above_vigilds_is_raised_with_cap_sys_resource_else_a_clear_spawn_error() {
    let own_hard = limits(std::process::id() as i32, "Max open files").1;
    let Ok(own_hard) = own_hard.parse::<u64>() else {
        eprintln!("skipped: this test run's open-file limit is unlimited");
        return;
    };
    let raised = own_hard + 1000;
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:many]\ncommand=/bin/sleep 1000\nstartsecs=0\nstartretries=0\n\
         rlimit_nofile={raised}:{raised}\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    if may_raise_limits() {
        wait_status(&vigild, "many", &["RUNNING"]);
        let pid = vigild.pid_of("many");
        let raised = raised.to_string();
        assert_eq!(limits(pid, "Max open files"), (raised.clone(), raised));
    } else {
        eprintln!("no CAP_SYS_RESOURCE here: the raise must be refused before the start");
        let line = wait_status(&vigild, "many", &["FATAL"]);
        assert!(
            line.contains(&format!(
                "rlimit_nofile={raised}:{raised} is above vigild's own hard limit ({own_hard}); only a vigild with CAP_SYS_RESOURCE (root) may raise it"
            )),
            "{line}"
        );
    }
    vigild.shutdown();
}

#[test]
fn as_root_a_program_gets_a_negative_nice_and_the_realtime_io_class() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: nice=-5 and the realtime I/O class need root (CAP_SYS_NICE)");
        return;
    }
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:urgent]\ncommand=/bin/sleep 1000\nstartsecs=0\n\
         nice=-5\nioclass=realtime\nionice=0\n\n\
         [program:background]\ncommand=/bin/sleep 1000\nstartsecs=0\nioclass=idle\nnice=19\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    wait_status(&vigild, "urgent", &["RUNNING"]);
    wait_status(&vigild, "background", &["RUNNING"]);
    let urgent = vigild.pid_of("urgent");
    assert_eq!(stat_fields(urgent).expect("stat")[16], "-5");
    assert_eq!(run("ionice", &["-p"], urgent), "realtime: prio 0");
    let background = vigild.pid_of("background");
    assert_eq!(run("ionice", &["-p"], background), "idle");
    assert_eq!(stat_fields(background).expect("stat")[16], "19");
    vigild.shutdown();
}
