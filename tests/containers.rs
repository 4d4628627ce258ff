//! vigild as a container's entrypoint (issue 21): `essential` programs whose end is vigild's
//! exit status, orphans adopted and reaped (PID 1 of a real pid namespace, and a subreaper
//! outside one), and a clean shutdown as PID 1.

use std::fs;
use std::path::Path;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::support::*;

/// The children of `pid` (of all its threads), from `/proc`.
fn children_of(pid: i32) -> Vec<i32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect()
}

/// `pid`'s command line, its arguments joined by spaces.
fn cmdline(pid: i32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| {
            String::from_utf8_lossy(&bytes)
                .trim_end_matches('\0')
                .replace('\0', " ")
        })
        .unwrap_or_default()
}

/// A program whose child daemonizes the classic way: a subshell starts `sleep 0.7` in the
/// background and exits, so the `sleep` is orphaned at once and ends 0.7 s later.
const DOUBLE_FORK: &str = "[program:daemonizer]\n\
    command=/bin/sh -c \"(sleep 0.7 &) && exec sleep 1000\"\nstartsecs=0\n\n";

/// Waits until the orphan `sleep 0.7` is a child of `adopter` (re-parented to it), then
/// until it is gone from `/proc` altogether: reaped, not left a zombie.
fn orphan_is_adopted_and_reaped(adopter: i32, log: impl Fn() -> String) {
    let mut orphan = None;
    assert!(
        wait_until(|| {
            orphan = children_of(adopter)
                .into_iter()
                .find(|pid| cmdline(*pid) == "sleep 0.7");
            orphan.is_some()
        }),
        "the orphan never became a child of {adopter}; children {:?}\n{}",
        children_of(adopter),
        log()
    );
    let orphan = orphan.expect("found");
    assert!(
        wait_until(|| !Path::new(&format!("/proc/{orphan}")).exists()),
        "orphan {orphan} was not reaped: state {:?}\n{}",
        stat_fields(orphan).and_then(|fields| fields.first().cloned()),
        log()
    );
}

/// Runs vigild on `config` until it exits by itself; its exit code and main log.
fn run_to_its_end(config: &str, wrapper: &[&str]) -> (Option<i32>, String) {
    let ws = Workspace::new();
    ws.config(config);
    let mut vigild = Vigild::start_wrapped(ws, wrapper, &[]);
    let status = vigild.wait_exit();
    (status.code(), vigild.log())
}

#[test]
fn an_essential_programs_end_stops_everything_and_is_vigilds_exit_status() {
    // `other` starts first and is stopped by the shutdown the essential program's end
    // begins; each case is one vigild run.
    let other = "[program:other]\ncommand=/bin/sleep 1000\nstartsecs=0\npriority=1\n\n";
    let cases = [
        (
            "an exit code",
            "[program:job]\ncommand=/bin/sh -c \"sleep 0.3; exit 3\"\nstartsecs=0\n\
             autorestart=false\nessential=true\n",
            3,
            "essential program job exited (exit status 3)",
        ),
        (
            "a death by SIGKILL",
            "[program:job]\ncommand=/bin/sh -c \"sleep 0.3; kill -9 $$\"\nstartsecs=0\n\
             autorestart=false\nessential=true\n",
            137,
            "essential program job exited (terminated by SIGKILL)",
        ),
        (
            "an expected exit that autorestart=unexpected does not restart",
            "[program:job]\ncommand=/bin/sh -c \"sleep 0.3; exit 0\"\nstartsecs=0\n\
             essential=true\n",
            0,
            "essential program job exited (exit status 0)",
        ),
        (
            "FATAL",
            "[program:job]\ncommand=/no/such/vigil-command\nstartretries=0\nessential=true\n",
            1,
            "essential program job entered FATAL state",
        ),
        (
            "a member of an essential [group:x]",
            "[group:g]\nprograms=job\nessential=true\n\n\
             [program:job]\ncommand=/bin/sh -c \"sleep 0.3; exit 4\"\nstartsecs=0\n\
             autorestart=false\n",
            4,
            "essential program job exited (exit status 4)",
        ),
    ];
    for (case, program, status, line) in cases {
        let (code, log) = run_to_its_end(&format!("{other}{program}"), &[]);
        assert_eq!(code, Some(status), "{case}:\n{log}");
        assert_eq!(lines_with(&log, "essential").len(), 1, "{case}:\n{log}");
        assert!(log.contains(line), "{case}:\n{log}");
        assert!(
            log.contains(&format!("vigild exits with status {status}")),
            "{case}:\n{log}"
        );
        assert!(
            log.contains("stopped: other (terminated by SIGTERM)"),
            "{case}: the rest is stopped in the usual way:\n{log}"
        );
    }
}

#[test]
fn a_restart_a_stop_by_hand_or_a_non_essential_end_keeps_vigild_running() {
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:flaky]\ncommand=/bin/sh -c \"sleep 0.2; exit 3\"\n\
         startsecs=0\nautorestart=true\nessential=true\n\n\
         [program:served]\ncommand=/bin/sleep 1000\nstartsecs=0\nessential=true\n\n\
         [program:helper]\ncommand=/bin/sh -c \"exit 3\"\nstartsecs=0\nautorestart=false\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    // flaky restarts after each exit; helper (not essential) ends for good.
    vigild.wait_log_count("exited: flaky (exit status 3; not expected)", 3);
    vigild.wait_log("exited: helper (exit status 3; not expected)");
    let (code, out) = vigild.vigilctl(&["stop", "served"]);
    assert_eq!(code, 0, "{out}");
    vigild.wait_log("stopped: served");
    let (code, out) = vigild.vigilctl(&["stop", "flaky"]);
    assert_eq!(code, 0, "{out}");
    let (_, status) = vigild.vigilctl(&["status", "served"]);
    assert!(status.contains("STOPPED"), "{status}");
    let log = vigild.shutdown();
    assert!(!log.contains("essential"), "{log}");
}

#[test]
fn outside_pid_1_a_double_forked_grandchild_is_adopted_and_reaped() {
    let ws = Workspace::new();
    ws.config(DOUBLE_FORK);
    let mut vigild = Vigild::start(ws, &[]);
    orphan_is_adopted_and_reaped(vigild.pid(), || vigild.log());
    vigild.shutdown();
}

#[test]
fn as_pid_1_orphans_leave_no_zombie_and_sigterm_or_sigint_shut_down_cleanly() {
    let Some(pid_1) = pid_namespace() else {
        eprintln!("skipped: a new pid namespace needs root and util-linux's unshare");
        return;
    };
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let ws = Workspace::new();
        ws.config(DOUBLE_FORK);
        let mut vigild = Vigild::start_wrapped(ws, pid_1, &[]);
        // vigild is the wrapper's only child; its pid here, PID 1 in its namespace.
        let mut inner = None;
        assert!(wait_until(|| {
            inner = children_of(vigild.pid()).first().copied();
            inner.is_some_and(|pid| cmdline(pid).contains("vigild"))
        }));
        let inner = inner.expect("vigild in the namespace");
        vigild.wait_log("supervisord started with pid 1 ");
        orphan_is_adopted_and_reaped(inner, || vigild.log());
        kill(Pid::from_raw(inner), signal).expect("signal vigild");
        let status = vigild.wait_exit();
        let log = vigild.log();
        assert_eq!(status.code(), Some(0), "{signal}:\n{log}");
        assert!(
            log.contains(&format!("received {signal} indicating exit request")),
            "{log}"
        );
        assert!(log.contains("stopped: daemonizer"), "{log}");
    }
}

#[test]
fn as_pid_1_an_essential_programs_status_comes_out_of_the_namespace() {
    let Some(pid_1) = pid_namespace() else {
        eprintln!("skipped: a new pid namespace needs root and util-linux's unshare");
        return;
    };
    let (code, log) = run_to_its_end(
        "[program:job]\ncommand=/bin/sh -c \"sleep 0.3; exit 5\"\nstartsecs=0\n\
         autorestart=false\nessential=true\n",
        pid_1,
    );
    assert_eq!(code, Some(5), "{log}");
    assert!(log.contains("supervisord started with pid 1 "), "{log}");
    let (code, log) = run_to_its_end(
        "[program:job]\ncommand=/bin/sh -c \"sleep 0.3; kill -TERM $$\"\nstartsecs=0\n\
         autorestart=false\nessential=true\n",
        pid_1,
    );
    assert_eq!(code, Some(143), "{log}");
}

#[test]
fn the_shipped_container_example_is_a_clean_config() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples/container.conf");
    let output = std::process::Command::new(vigild_bin())
        .args(["--check-config", "--strict", "-c"])
        .arg(&example)
        .output()
        .expect("run vigild --check-config");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert_eq!(stdout.trim(), "config OK");
    let text = fs::read_to_string(&example).expect("example");
    assert!(text.contains("essential=true"), "{text}");
}

#[test]
fn programs_that_exit_at_once_keep_restarting_while_vigild_sweeps_for_orphans() {
    // vigild adopts orphans (a subreaper, or PID 1), so SIGCHLD sweeps with waitpid(-1) and
    // may reap a child before its start's answer is taken; autorestart must still start
    // it again (it stayed EXITED for good before the fix).
    let config =
        "[program:churn]\ncommand=/bin/true\nprocess_name=%(program_name)s_%(process_num)d\n\
        numprocs=20\nstartsecs=0\nautorestart=true\ncrashloop_threshold=0\n\
        stdout_logfile=NONE\nstderr_logfile=NONE\n";
    let wrappers: Vec<&[&str]> = std::iter::once(&[][..]).chain(pid_namespace()).collect();
    for wrapper in wrappers {
        let ws = Workspace::new();
        ws.config(config);
        let mut vigild = Vigild::start_wrapped(ws, wrapper, &[]);
        vigild.wait_log_count("spawned: 'churn_", 3000);
        // Under the wrapper, vigild is the wrapper's child (PID 1 in its namespace).
        let target = if wrapper.is_empty() {
            vigild.pid()
        } else {
            children_of(vigild.pid()).first().copied().expect("vigild")
        };
        kill(Pid::from_raw(target), Signal::SIGTERM).expect("signal vigild");
        let status = vigild.wait_exit();
        assert_eq!(status.code(), Some(0), "{wrapper:?}:\n{}", vigild.log());
    }
}

#[test]
fn under_a_service_manager_vigild_says_ready_reloading_stopping_and_keeps_the_watchdog_fed() {
    use std::os::unix::net::UnixDatagram;
    let ws = Workspace::new();
    ws.write(
        "sender.py",
        "import os, socket, time\n\
         a = os.environ['NOTIFY_SOCKET']\na = '\\0' + a[1:] if a.startswith('@') else a\n\
         s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
         s.sendto(b'STATUS=warming up', a)\n\
         while not os.path.exists(os.path.join(os.path.dirname(__file__), 'go')): time.sleep(0.02)\n\
         s.sendto(b'READY=1', a)\ntime.sleep(1000)\n",
    );
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:plain]\ncommand=/bin/sleep 1000\nstartsecs=0\n\n\
         [program:slow]\ncommand=python3 {{dir}}/sender.py\nready=notify\n"
    ));
    let manager_path = ws.path().join("manager.sock");
    let manager = UnixDatagram::bind(&manager_path).expect("manager socket");
    manager.set_nonblocking(true).expect("non-blocking");
    let socket_var = format!("NOTIFY_SOCKET={}", manager_path.display());
    let wrapper = ["/usr/bin/env", socket_var.as_str(), "WATCHDOG_USEC=1000000"];
    let mut vigild = Vigild::start_wrapped(ws, &wrapper, &[]);
    let mut said = Vec::new();
    let hear = |said: &mut Vec<String>| {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = manager.recv(&mut buffer) {
            said.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
        }
    };
    let wait_for = |said: &mut Vec<String>, what: &str| {
        let found = wait_until(|| {
            hear(said);
            said.iter().any(|m| m.contains(what))
        });
        assert!(found, "never told {what:?}; told {said:?}");
    };
    // The watchdog is fed from the start; READY waits for slow's first state.
    wait_for(&mut said, "WATCHDOG=1");
    let mut status = String::new();
    assert!(
        wait_until(|| {
            status = vigild.vigilctl(&["status", "slow"]).1;
            status.contains("STARTING") && status.contains("warming up")
        }),
        "{status}"
    );
    hear(&mut said);
    assert!(!said.iter().any(|m| m.contains("READY=1")), "{said:?}");
    vigild.ws.write("go", "");
    wait_for(&mut said, "READY=1\nSTATUS=2 running");
    // A reload: RELOADING=1, then READY=1 again once the new fleet has settled.
    said.clear();
    vigild.signal(Signal::SIGHUP);
    wait_for(&mut said, "RELOADING=1");
    vigild.ws.write("go", "");
    wait_for(&mut said, "READY=1");
    // A plain program inherits vigild's environment as under supervisord; a ready=notify
    // one gets vigild's own socket instead.
    let environ_of = |name: &str| {
        let pid = vigild.pid_of(name);
        String::from_utf8_lossy(&fs::read(format!("/proc/{pid}/environ")).expect("environ"))
            .into_owned()
    };
    let manager_text = format!("NOTIFY_SOCKET={}", manager_path.display());
    assert!(environ_of("plain").contains(&manager_text));
    assert!(!environ_of("slow").contains(&manager_text));
    said.clear();
    vigild.signal(Signal::SIGTERM);
    wait_for(&mut said, "STOPPING=1");
    assert_eq!(vigild.wait_exit().code(), Some(0));
}

#[test]
fn the_shipped_systemd_unit_passes_systemd_analyze_verify() {
    let unit =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/vigild.service"))
            .expect("packaging/vigild.service");
    for line in [
        "Type=notify",
        "KillMode=mixed",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} missing:\n{unit}");
    }
    if !Path::new("/usr/bin/systemd-analyze").exists() {
        eprintln!("skipped: systemd-analyze is not installed (Debian package systemd)");
        return;
    }
    // The unit as installed, with the binary this build made where /usr/bin/vigild goes.
    let ws = Workspace::new();
    let local = unit.replace("/usr/bin/vigild", vigild_bin());
    let path = ws.write("vigild.service", &local);
    let output = std::process::Command::new("/usr/bin/systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze");
    let said = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{said}");
    assert!(!said.contains("vigild.service"), "{said}");
    // And it would catch a mistake.
    let broken = ws.write(
        "broken.service",
        &local.replace("Type=notify", "Type=notfy"),
    );
    let output = std::process::Command::new("/usr/bin/systemd-analyze")
        .arg("verify")
        .arg(&broken)
        .output()
        .expect("systemd-analyze");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("notfy"), "{said}");
}

#[test]
fn as_pid_1_stray_signals_are_neither_fatal_nor_passed_on() {
    let Some(pid_1) = pid_namespace() else {
        eprintln!("skipped: a new pid namespace needs root and util-linux's unshare");
        return;
    };
    // The program notes every signal it gets; only the stop's SIGTERM may come.
    let ws = Workspace::new();
    ws.config(
        "[program:listener]\ncommand=/bin/sh -c \"trap 'echo usr1 >> {dir}/got' USR1; \
         trap 'echo winch >> {dir}/got' WINCH; trap 'echo hup >> {dir}/got' HUP; \
         trap 'echo term >> {dir}/got; exit 0' TERM; \
         echo up > {dir}/up; while :; do sleep 0.05; done\"\nstartsecs=0\n",
    );
    let mut vigild = Vigild::start_wrapped(ws, pid_1, &[]);
    let mut inner = None;
    assert!(wait_until(|| {
        inner = children_of(vigild.pid()).first().copied();
        inner.is_some_and(|pid| cmdline(pid).contains("vigild"))
    }));
    let inner = Pid::from_raw(inner.expect("vigild"));
    assert!(wait_until(|| vigild.ws.read("up") == "up\n"));
    for stray in [
        Signal::SIGUSR1,
        Signal::SIGWINCH,
        Signal::SIGPIPE,
        Signal::SIGALRM,
    ] {
        kill(inner, stray).expect("signal vigild");
    }
    // Then a clean stop: the program saw the stop's SIGTERM and nothing else.
    kill(inner, Signal::SIGTERM).expect("stop vigild");
    let status = vigild.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", vigild.log());
    assert_eq!(vigild.ws.read("got"), "term\n", "{}", vigild.log());
}
