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
        // The config's own spelling, not Rust's.
        "<td>stdout_logfile</td><td>AUTO</td>",
        "<td>exitcodes</td><td>0</td>",
    ] {
        assert!(page.contains(row), "{row}: {page}");
    }

    // vigilctl status -l shows them under the process.
    let (_, long) = vigild.vigilctl(&["status", "-l", "limited"]);
    assert!(
        long.contains("limits: rlimit_nofile=1024:4096 rlimit_nproc=500:600")
            && long.contains("nice=7 oom_score_adj=500 ioclass=best-effort ionice=6 cpu_affinity=0 no_new_privs=true"),
        "{long}"
    );

    // vigilctl config: the effective config, option = value.
    let (code, config) = vigild.vigilctl(&["config", "limited"]);
    assert_eq!(code, 0, "{config}");
    let line = |option: &str| {
        config
            .lines()
            .find(|line| line.split_whitespace().next() == Some(option))
            .map(|line| line.split_once(" = ").map_or("", |(_, v)| v).to_string())
    };
    assert_eq!(line("command").as_deref(), Some("/bin/sleep 1000"));
    assert_eq!(line("rlimit_nofile").as_deref(), Some("1024:4096"));
    assert_eq!(line("stdout_logfile").as_deref(), Some("AUTO"));

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

/// A cgroup v2 directory of one test's own, emptied and removed (leaves first) when
/// dropped.
pub(crate) struct TestCgroup(pub(crate) std::path::PathBuf);

impl TestCgroup {
    /// A fresh one on this host's cgroup v2 hierarchy; the reason when there is none that
    /// can be written.
    fn new(name: &str) -> Result<TestCgroup, String> {
        let mountinfo =
            std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
        let mount = mountinfo
            .lines()
            .find_map(|line| {
                let (fields, tail) = line.split_once(" - ")?;
                (tail.split_whitespace().next()? == "cgroup2").then(|| {
                    fields
                        .split_whitespace()
                        .nth(4)
                        .map(std::path::PathBuf::from)
                })?
            })
            .ok_or("no cgroup v2 hierarchy is mounted")?;
        let dir = mount.join(format!("vigil-test-{}-{name}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(TestCgroup(dir))
    }
}

impl TestCgroup {
    /// [`TestCgroup::new`], or None after saying why the test is skipped.
    pub(crate) fn or_skip(name: &str) -> Option<TestCgroup> {
        TestCgroup::new(name)
            .map_err(|why| eprintln!("skipped: no writable cgroup v2 hierarchy here ({why})"))
            .ok()
    }

    /// A config whose `[supervisord]` puts each process in a cgroup under this one
    /// (`extra` adds `[supervisord]` lines), followed by `body`.
    pub(crate) fn config(&self, extra: &str, body: &str) -> String {
        format!(
            "[supervisord]\nlogfile={{dir}}/vigild.log\npidfile={{dir}}/vigild.pid\n\
             childlogdir={{dir}}\ncgroup_root={}\n{extra}\n{body}",
            self.0.display()
        )
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = std::fs::write(self.0.join("cgroup.kill"), "1");
        let mut dirs = vec![self.0.clone()];
        let mut all = Vec::new();
        while let Some(dir) = dirs.pop() {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for entry in entries.flatten() {
                    if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        dirs.push(entry.path());
                    }
                }
            }
            all.push(dir);
        }
        for dir in all.iter().rev() {
            // Emptied just above: each goes once its processes have.
            wait_until(|| std::fs::remove_dir(dir).is_ok() || !dir.exists());
        }
    }
}

/// A program whose grandchild leaves the process group (`setsid`) and writes its pid.
const ESCAPER: &str = "[program:parent]\ncommand=/bin/sh -c \"setsid sleep 1000 & echo $! > {dir}/escapee.pid; wait\"\n\
    startsecs=0\n";

/// The escapee's pid, once it has left its parent's session.
fn escapee(vigild: &Vigild) -> i32 {
    let pid = vigild.ws.wait_pid("escapee.pid");
    let parent = vigild.pid_of("parent");
    assert!(
        wait_until(
            || stat_fields(pid).is_some_and(|f| stat_fields(parent).is_some_and(|p| f[3] != p[3]))
        ),
        "the grandchild left the process group"
    );
    pid
}

#[test]
fn a_setsid_grandchild_is_stopped_with_its_program_through_its_cgroup() {
    let Some(cgroup) = TestCgroup::or_skip("stop") else {
        return;
    };
    let port = free_port();
    let ws = Workspace::new();
    ws.write(
        "supervisord.conf",
        &cgroup.config("", &format!("{}{ESCAPER}", control(port))),
    );
    let check = ws.run_vigild(&["--check-config", "-c", "supervisord.conf"]);
    let check = String::from_utf8_lossy(&check.stdout).to_string();
    let instance = cgroup.0.join("vigil.supervisor");
    assert!(
        check.contains(&format!(
            "Host: cgroups: each process runs in a cgroup of its own under {}",
            instance.display()
        )),
        "{check}"
    );
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("cgroups: each process runs in a cgroup of its own under");
    wait_status(&vigild, "parent", &["RUNNING"]);
    let pid = escapee(&vigild);
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    let expected = instance.join("parent").join("parent");
    assert!(
        own.lines().any(|line| line.starts_with("0::")
            && expected.ends_with(line.trim_start_matches("0::").trim_start_matches('/'))),
        "{own} vs {}",
        expected.display()
    );
    let stats = call(port, "vigil.getProcessStats", "'parent'");
    assert!(
        stats.contains(&format!("\"cgroup\": \"{}\"", expected.display())),
        "{stats}"
    );
    // supervisorctl's stop (stopasgroup=false) reaches the escapee through the cgroup.
    let (code, out) = vigild.ctl(&["stop", "parent"]);
    assert_eq!((code, out.trim()), (0, "parent: stopped"));
    assert!(
        wait_until(|| !alive(pid)),
        "the setsid grandchild outlived the stop"
    );

    // A second vigild with the same identifier and root may not share the cgroup.
    let (code, out) = vigild.ctl(&["start", "parent"]);
    assert_eq!(code, 0, "{out}");
    let second = Workspace::new();
    second.write(
        "supervisord.conf",
        &cgroup.config(
            "",
            &format!("{CONTROL_SECTIONS}[program:plain]\ncommand=/bin/sleep 1000\nstartsecs=0\n"),
        ),
    );
    let mut other = Vigild::start(second, &[]);
    other.wait_log("has processes: another vigild with this identifier uses it");
    other.wait_log("processes run without cgroups of their own");
    other.shutdown();
    assert!(status_line(&vigild, "parent").contains("RUNNING"));
    vigild.shutdown();
    assert!(!instance.exists(), "vigild's exit removed its cgroups");
}

#[test]
fn what_a_program_leaves_in_its_cgroup_when_it_exits_is_killed() {
    let Some(cgroup) = TestCgroup::or_skip("exit") else {
        return;
    };
    let ws = Workspace::new();
    ws.write(
        "supervisord.conf",
        &cgroup.config(
            "",
            &format!(
                "{CONTROL_SECTIONS}[program:launcher]\ncommand=/bin/sh -c \"setsid sleep 1000 & echo $! > {{dir}}/escapee.pid; \
             while [ ! -e {{dir}}/go ]; do sleep 0.02; done\"\nstartsecs=0\nautorestart=false\n"
            ),
        ),
    );
    let mut vigild = Vigild::start(ws, &[]);
    wait_status(&vigild, "launcher", &["RUNNING"]);
    let pid = vigild.ws.wait_pid("escapee.pid");
    assert!(alive(pid));
    vigild.ws.write("go", "");
    wait_status(&vigild, "launcher", &["EXITED"]);
    assert!(
        wait_until(|| !alive(pid)),
        "the escapee outlived its program's exit"
    );
    vigild.shutdown();
}

#[test]
fn a_setsid_grandchild_dies_with_a_killed_vigild_through_the_guardian() {
    let Some(cgroup) = TestCgroup::or_skip("kill") else {
        return;
    };
    let ws = Workspace::new();
    ws.write(
        "supervisord.conf",
        &cgroup.config("", &format!("{CONTROL_SECTIONS}{ESCAPER}")),
    );
    let mut vigild = Vigild::start(ws, &[]);
    wait_status(&vigild, "parent", &["RUNNING"]);
    let pid = escapee(&vigild);
    vigild.signal(nix::sys::signal::Signal::SIGKILL);
    vigild.wait_exit();
    assert!(
        wait_until(|| !alive(pid)),
        "the setsid grandchild outlived vigild"
    );
}

#[test]
fn a_cgroup_root_that_is_no_cgroup_gives_one_warning_and_programs_run_without() {
    let ws = Workspace::new();
    let plain_dir = ws.path().join("not-a-cgroup");
    std::fs::create_dir(&plain_dir).expect("dir");
    ws.write(
        "supervisord.conf",
        &ws.fill(&format!(
            "[supervisord]\nlogfile={{dir}}/vigild.log\npidfile={{dir}}/vigild.pid\n\
             childlogdir={{dir}}\ncgroup_root={}\n\n{CONTROL_SECTIONS}\
             [program:web]\ncommand=/bin/sleep 1000\nstartsecs=0\n",
            plain_dir.display()
        )),
    );
    let mut vigild = Vigild::start(ws, &[]);
    wait_status(&vigild, "web", &["RUNNING"]);
    let log = vigild.wait_log("processes run without cgroups of their own");
    assert!(
        log.contains("it is not on the cgroup v2 hierarchy"),
        "{log}"
    );
    vigild.shutdown();
}

#[test]
fn cgroup_limits_apply_where_their_controllers_exist_and_warn_once_where_not() {
    let Some(cgroup) = TestCgroup::or_skip("limits") else {
        return;
    };
    let controllers =
        std::fs::read_to_string(cgroup.0.join("cgroup.controllers")).unwrap_or_default();
    let ws = Workspace::new();
    ws.write(
        "supervisord.conf",
        &cgroup.config(
            "",
            &format!(
                "{CONTROL_SECTIONS}[program:capped]\ncommand=/bin/sleep 1000\nstartsecs=0\nmemory_max=64MB\n\
             pids_max=10\ncpu_quota=50%%\nnumprocs=2\nprocess_name=capped_%(process_num)d\n"
            ),
        ),
    );
    let mut vigild = Vigild::start(ws, &[]);
    wait_status(&vigild, "capped:capped_0", &["RUNNING"]);
    wait_status(&vigild, "capped:capped_1", &["RUNNING"]);
    let dir = cgroup.0.join("vigil.supervisor/capped/capped_0");
    let mut applied = 0;
    for (controller, file, value) in [
        ("memory", "memory.max", "67108864"),
        ("pids", "pids.max", "10"),
        ("cpu", "cpu.max", "50000 100000"),
    ] {
        if controllers.split_whitespace().any(|c| c == controller) {
            let written = std::fs::read_to_string(dir.join(file)).expect("limit file");
            assert_eq!(written.trim(), value, "{file}");
            applied += 1;
        }
    }
    let log = vigild.log();
    if applied < 3 {
        // One warning for the program (not one per process), naming what is left out.
        let warnings = lines_with(&log, "[program:capped]");
        assert_eq!(warnings.len(), 1, "{log}");
        assert!(
            warnings[0].contains("their controllers are not available under")
                && warnings[0].contains("its processes run without them"),
            "{log}"
        );
        eprintln!(
            "this host's cgroup root hands down only [{}]: {} of 3 limits checked in their files",
            controllers.trim(),
            applied
        );
    }
    vigild.shutdown();
}

#[test]
fn cgroup_limits_without_cgroup_root_are_one_warning_and_the_program_runs() {
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:capped]\ncommand=/bin/sleep 1000\nstartsecs=0\n\
         memory_max=64MB\npids_max=10\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    wait_status(&vigild, "capped", &["RUNNING"]);
    vigild.wait_log(
        "[program:capped] memory_max, pids_max: they need a cgroup per process ([supervisord] cgroup_root=)",
    );
    vigild.shutdown();
}

#[test]
fn the_sampler_takes_a_cgrouped_process_tree_from_its_cgroup_escapees_included() {
    let Some(cgroup) = TestCgroup::or_skip("sampler") else {
        return;
    };
    let port = free_port();
    let ws = Workspace::new();
    // The escapee double-forks away: vigild adopts it, so no parent link leads to it.
    ws.write(
        "supervisord.conf",
        &cgroup.config(
            "sample_interval=0.2\n",
            &format!(
                "{}[program:forker]\ncommand=/bin/sh -c \"(setsid sleep 1000 &); exec sleep 1000\"\n\
             startsecs=0\n",
                control(port)
            ),
        ),
    );
    let mut vigild = Vigild::start(ws, &[]);
    wait_status(&vigild, "forker", &["RUNNING"]);
    let members = || {
        std::fs::read_to_string(cgroup.0.join("vigil.supervisor/forker/forker/cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    assert!(
        wait_until(|| members() == 2),
        "the escapee is in the cgroup"
    );
    let mut stats = String::new();
    assert!(
        wait_until(|| {
            stats = call(port, "vigil.getProcessStats", "'forker'");
            stats.contains("\"tree_processes\": 2")
        }),
        "the tree is the cgroup's two members: {stats}"
    );
    let (code, out) = vigild.ctl(&["stop", "forker"]);
    assert_eq!((code, out.trim()), (0, "forker: stopped"));
    assert!(wait_until(|| members() == 0), "the stop emptied the cgroup");
    vigild.shutdown();
}
