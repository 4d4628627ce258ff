//! Daemon behaviour: daemonizing, the pidfile, SIGHUP reload, SIGUSR2 reopen, flags.

use std::fs;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::support::{
    alive, free_port, lines_with, pid_namespace, stat_fields, wait_until, SessionGuard,
    Supervisord, Vigild, Workspace, CONTROL_SECTIONS,
};

#[test]
fn without_nodaemon_it_daemonizes_writes_a_pidfile_and_refuses_a_second_start() {
    let ws = Workspace::new();
    ws.config("[program:app]\ncommand=/bin/sleep 1000\nstartsecs=0\n");
    let output = ws.run_vigild(&["-c", "supervisord.conf"]);
    assert!(output.status.success(), "{output:?}");
    let pid = ws.wait_pid("vigild.pid");
    // Clean up the daemon (and its children, which share its session) whatever happens.
    let session = stat_fields(pid)
        .and_then(|f| f.get(3).and_then(|s| s.parse().ok()))
        .expect("session");
    let _guard = SessionGuard(session);
    assert_ne!(
        session, pid,
        "double fork: the daemon is not a session leader"
    );
    let fields = stat_fields(pid).expect("stat");
    assert_eq!(
        fields.get(4).map(String::as_str),
        Some("0"),
        "no controlling terminal"
    );
    assert!(wait_until(|| ws
        .read("vigild.log")
        .contains("success: app entered RUNNING state")));

    let second = ws.run_vigild(&["-c", "supervisord.conf"]);
    assert_eq!(second.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!("already running with pid {pid}")),
        "{stderr}"
    );

    kill(Pid::from_raw(pid), Signal::SIGTERM).expect("term");
    assert!(wait_until(|| !alive(pid)), "daemon did not exit");
    assert!(
        !ws.path().join("vigild.pid").exists(),
        "pidfile removed at exit"
    );
    assert!(ws
        .read("vigild.log")
        .contains("stopped: app (terminated by SIGTERM)"));
}

#[test]
fn a_stale_pidfile_does_not_block_a_start() {
    let ws = Workspace::new();
    ws.config("[program:app]\ncommand=/bin/sleep 1000\nstartsecs=0\n");
    // pid 1 is alive but is not vigild.
    fs::write(ws.path().join("vigild.pid"), "1\n").expect("pidfile");
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("success: app entered RUNNING state");
    assert_eq!(
        vigild.ws.read("vigild.pid").trim(),
        vigild.pid().to_string()
    );
    vigild.shutdown();
}

#[test]
fn sighup_reloads_and_a_bad_config_keeps_the_running_fleet() {
    let ws = Workspace::new();
    ws.config("[program:a]\ncommand=/bin/sleep 1000\nstartsecs=0\n");
    let vigild = Vigild::start(ws, &[]);
    vigild.wait_log("success: a entered RUNNING state");

    vigild
        .ws
        .config("[program:a]\ncommand=/bin/sleep 1000\nstartsecs=maybe\n");
    vigild.signal(Signal::SIGHUP);
    let log = vigild.wait_log("could not reload the config, keeping the running one");
    assert!(log.contains("[program:a] startsecs=maybe"), "{log}");
    assert!(
        !log.contains("stopped: a"),
        "a bad config must not stop anything: {log}"
    );

    vigild.ws.config(
        "[program:a]\ncommand=/bin/sleep 1000\nstartsecs=0\n\n[program:b]\ncommand=/bin/sleep 1000\nstartsecs=0\n",
    );
    vigild.signal(Signal::SIGHUP);
    let log = vigild.wait_log("success: b entered RUNNING state");
    assert!(
        log.contains("stopped: a"),
        "a restart stops everything first: {log}"
    );
    assert_eq!(lines_with(&log, "spawned: 'a'").len(), 2, "{log}");
}

#[test]
fn sigusr2_reopens_the_logs_for_logrotate() {
    let ws = Workspace::new();
    ws.config(
        "[program:talker]\ncommand=/bin/sh -c \"while true; do echo tick; sleep 0.05; done\"\nstartsecs=0\n\
         stdout_logfile={dir}/talker.log\nstdout_logfile_maxbytes=0\n",
    );
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("success: talker entered RUNNING state");
    let dir = vigild.ws.path().to_path_buf();
    assert!(wait_until(|| vigild.ws.read("talker.log").contains("tick")));
    fs::rename(dir.join("talker.log"), dir.join("talker.log.old")).expect("rotate child log");
    fs::rename(dir.join("vigild.log"), dir.join("vigild.log.old")).expect("rotate main log");
    vigild.signal(Signal::SIGUSR2);
    assert!(
        wait_until(|| vigild.ws.read("talker.log").contains("tick")),
        "child log not reopened"
    );
    assert!(
        wait_until(|| vigild
            .ws
            .read("vigild.log.old")
            .contains("received SIGUSR2")),
        "the signal is logged to the old file before the reopen"
    );
    vigild.signal(Signal::SIGTERM);
    vigild.wait_exit();
    assert!(
        vigild.ws.read("vigild.log").contains("stopped: talker"),
        "main log reopened"
    );
}

#[test]
fn command_line_flags_override_the_file() {
    let ws = Workspace::new();
    ws.config("[program:app]\ncommand=/bin/sleep 1000\nstartsecs=0\n");
    let other = ws.path().join("other.log").display().to_string();
    let mut vigild = Vigild::start(ws, &["-l", &other, "-e", "warn", "-j", "other.pid"]);
    assert!(wait_until(
        || vigild.ws.read("other.pid").trim() == vigild.pid().to_string()
    ));
    vigild.signal(Signal::SIGTERM);
    vigild.wait_exit();
    let log = vigild.ws.read("other.log");
    assert!(log.contains("CRIT") || log.contains("WARN"), "{log}");
    assert!(!log.contains("INFO"), "loglevel=warn from -e: {log}");
    assert!(
        !vigild.ws.path().join("vigild.log").exists(),
        "-l replaces logfile"
    );
}

#[test]
fn version_flag_prints_the_version() {
    let ws = Workspace::new();
    let output = ws.run_vigild(&["-v"]);
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn sigint_and_sigquit_also_shut_down_cleanly() {
    for (signal, name) in [(Signal::SIGINT, "SIGINT"), (Signal::SIGQUIT, "SIGQUIT")] {
        let mut vigild =
            Vigild::with_config("[program:app]\ncommand=/bin/sleep 1000\nstartsecs=0\n");
        vigild.wait_log("success: app entered RUNNING state");
        vigild.signal(signal);
        assert!(vigild.wait_exit().success(), "{name}");
        let log = vigild.log();
        assert!(
            log.contains(&format!("received {name} indicating exit request")),
            "{log}"
        );
        assert!(
            log.contains("stopped: app (terminated by SIGTERM)"),
            "{log}"
        );
    }
}

#[test]
fn the_main_log_rotates_by_logfile_maxbytes_and_keeps_logfile_backups() {
    let ws = Workspace::new();
    ws.write(
        "supervisord.conf",
        "[supervisord]\nlogfile={dir}/vigild.log\nlogfile_maxbytes=2KB\nlogfile_backups=2\n\
         pidfile={dir}/vigild.pid\nchildlogdir={dir}\n\n\
         [program:churn]\ncommand=/bin/sh -c \"sleep 0.01\"\nstartsecs=0\nautorestart=true\n",
    );
    let mut vigild = Vigild::start(ws, &[]);
    assert!(
        wait_until(|| vigild.ws.path().join("vigild.log.2").exists()),
        "no second backup"
    );
    vigild.signal(Signal::SIGTERM);
    vigild.wait_exit();
    let dir = vigild.ws.path();
    assert!(
        !dir.join("vigild.log.3").exists(),
        "only logfile_backups=2 files are kept"
    );
    for name in ["vigild.log.1", "vigild.log.2"] {
        let size = fs::metadata(dir.join(name)).expect("backup").len();
        assert!((2048..2048 + 200).contains(&size), "{name} is {size} bytes");
    }
}

#[test]
fn without_dash_c_the_config_is_found_in_the_working_directory() {
    let ws = Workspace::new();
    ws.config("[program:app]\ncommand=/bin/true\nstartsecs=abc\n");
    let output = ws.run_vigild(&["--check-config"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let found = ws.path().join("supervisord.conf").display().to_string();
    assert!(stdout.contains(&found), "{stdout}");
}

#[test]
fn the_log_is_echoed_to_stderr_in_the_foreground_unless_silent() {
    for (flags, echoed) in [(&[][..], true), (&["-s"][..], false)] {
        let ws = Workspace::new();
        ws.config("[program:app]\ncommand=/bin/sleep 1000\nstartsecs=0\n");
        let mut vigild = Vigild::start(ws, flags);
        vigild.wait_log("success: app entered RUNNING state");
        vigild.shutdown();
        let stderr = vigild.ws.read("vigild.stderr");
        assert_eq!(
            stderr.contains("spawned: 'app' with pid"),
            echoed,
            "{flags:?}: {stderr}"
        );
    }
}

#[test]
fn an_unreachable_minfds_refuses_to_start() {
    let ws = Workspace::new();
    ws.config("[program:app]\ncommand=/bin/true\n");
    let output = ws.run_vigild(&["-n", "-c", "supervisord.conf", "-a", "4000000000"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "The minimum number of file descriptors required to run this process is 4000000000"
        ),
        "{stderr}"
    );
}

#[test]
fn supervisord_user_drops_privileges_for_the_daemon_and_its_children() {
    if !nix::unistd::Uid::effective().is_root() {
        return; // Only root can switch users; as a user this is a load-time refusal instead.
    }
    let nobody = nix::unistd::User::from_name("nobody")
        .expect("lookup")
        .expect("nobody");
    let ws = Workspace::new();
    std::fs::set_permissions(
        ws.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    ws.write(
        "supervisord.conf",
        "[supervisord]\nlogfile={dir}/vigild.log\npidfile={dir}/vigild.pid\nchildlogdir={dir}\nuser=nobody\n\n\
         [program:probe]\ncommand=/bin/sh -c \"id -u; sleep 1000\"\nstartsecs=0\nstdout_logfile={dir}/probe.out\n",
    );
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("success: probe entered RUNNING state");
    let status = fs::read_to_string(format!("/proc/{}/status", vigild.pid())).expect("status");
    let uid_line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .expect("Uid line");
    assert!(
        uid_line
            .split_whitespace()
            .skip(1)
            .all(|id| id == nobody.uid.to_string()),
        "{uid_line}"
    );
    let expected = format!("{}\n", nobody.uid);
    assert!(
        wait_until(|| vigild.ws.read("probe.out") == expected),
        "{}",
        vigild.ws.read("probe.out")
    );
    assert!(!vigild.log().contains("Supervisor is running as root"));
    vigild.shutdown();
}

#[test]
fn as_pid_1_orphans_are_reaped() {
    let Some(pid_1) = pid_namespace() else {
        return; // A new pid namespace needs root and util-linux's unshare.
    };
    let ws = Workspace::new();
    // The subshell's `sleep` is orphaned at once and re-parented to PID 1: vigild.
    ws.config(
        "[program:orphaner]\ncommand=/bin/sh -c \"(sleep 0.2 &) && exec sleep 1000\"\nstartsecs=0\n",
    );
    let vigild = Vigild::start_wrapped(ws, pid_1, &[]);
    let log = vigild.wait_log("reaped unknown pid");
    assert!(log.contains("(exit status 0)"), "{log}");
}

#[test]
fn as_pid_1_children_that_end_before_their_start_is_recorded_are_not_lost() {
    let Some(pid_1) = pid_namespace() else {
        return; // A new pid namespace needs root and util-linux's unshare.
    };
    // As PID 1 vigild sweeps every SIGCHLD with waitpid(-1): a child that ends at once may be
    // reaped before the spawner's answer for it is taken; its exit must wait for that.
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:brief]\ncommand=/bin/true\nprocess_name=brief_%(process_num)d\n\
         numprocs=40\nstartsecs=0\nautorestart=false\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
    ));
    let vigild = Vigild::start_wrapped(ws, pid_1, &[]);
    let mut status = String::new();
    let all_exited = wait_until(|| {
        status = vigild.vigilctl(&["status"]).1;
        status
            .lines()
            .filter(|line| line.contains("EXITED"))
            .count()
            == 40
    });
    assert!(all_exited, "{status}\n{}", vigild.log());
    let log = vigild.log();
    assert_eq!(lines_with(&log, "exited: brief_").len(), 40, "{log}");
}

#[test]
fn loglevel_critical_keeps_only_crit_lines() {
    let ws = Workspace::new();
    ws.config("[program:app]\ncommand=/no/such/command\nstartretries=0\n");
    let mut vigild = Vigild::start(ws, &["-e", "critical"]);
    assert!(wait_until(
        || vigild.ws.read("vigild.pid").trim() == vigild.pid().to_string()
    ));
    vigild.signal(Signal::SIGTERM);
    vigild.wait_exit();
    let log = vigild.ws.read("vigild.log");
    for level in [" ERRO ", " WARN ", " INFO ", " DEBG "] {
        assert!(!log.contains(level), "{level} at loglevel=critical:\n{log}");
    }
    if nix::unistd::Uid::effective().is_root() {
        assert!(log.contains(" CRIT Supervisor is running as root"), "{log}");
    }
}

#[test]
fn servers_without_credentials_get_supervisords_crit_lines_before_the_start_line() {
    // The start's lines, without their times, up to supervisord's "started with pid".
    let start_lines = |log: &str| -> Vec<String> {
        log.lines()
            .filter_map(|line| line.get(24..))
            .take_while(|line| !line.starts_with("INFO supervisord started with pid"))
            .filter(|line| line.starts_with("CRIT Server"))
            .map(str::to_string)
            .collect()
    };
    let body = |port: u16| {
        format!(
            "{CONTROL_SECTIONS}[inet_http_server]\nport=127.0.0.1:{port}\n\n\
             [program:app]\ncommand=/bin/sleep 1000\nstartsecs=0\n"
        )
    };
    let ws = Workspace::new();
    let config = ws.config(&body(free_port()));
    let supervisord = Supervisord::start(&ws, &config);
    assert!(
        wait_until(|| ws
            .read("vigild.log")
            .contains("supervisord started with pid")),
        "{}",
        ws.read("vigild.log")
    );
    drop(supervisord);
    let expected = start_lines(&ws.read("vigild.log"));
    assert_eq!(expected.len(), 2, "{}", ws.read("vigild.log"));

    let vigild = Vigild::with_config(&body(free_port()));
    let log = vigild.wait_log("supervisord started with pid");
    assert_eq!(start_lines(&log), expected, "{log}");
}

#[test]
fn at_loglevel_debug_child_output_is_copied_into_the_main_log() {
    let ws = Workspace::new();
    ws.config(
        "[program:talk]\ncommand=/bin/sh -c \"echo said-something; sleep 1000\"\nstartsecs=0\n",
    );
    let mut vigild = Vigild::start(ws, &["-e", "debug"]);
    let log = vigild.wait_log("said-something");
    assert!(
        log.contains("DEBG 'talk' stdout output:\nsaid-something"),
        "{log}"
    );
    vigild.shutdown();
}

#[test]
fn a_program_stopped_by_hand_stays_stopped_across_a_restart_with_a_statefile() {
    let state = tempfile::tempdir().expect("state dir");
    let statefile = state.path().join("vigil.state");
    let programs = format!(
        "{CONTROL_SECTIONS}[program:web]\ncommand=/bin/sleep 1000\nstartsecs=0\n\n\
         [program:api]\ncommand=/bin/sleep 1000\nstartsecs=0\n"
    );
    let start = || {
        let ws = Workspace::new();
        ws.write(
            "supervisord.conf",
            &format!(
                "[supervisord]\nlogfile={{dir}}/vigild.log\npidfile={{dir}}/vigild.pid\n\
                 childlogdir={{dir}}\nstatefile={}\n\n{programs}",
                statefile.display()
            ),
        );
        let vigild = Vigild::start(ws, &[]);
        vigild.wait_log("supervisord started");
        vigild
    };

    let mut first = start();
    first.wait_log_count("entered RUNNING state", 2);
    let (code, out) = first.ctl(&["stop", "web"]);
    assert_eq!((code, out.trim()), (0, "web: stopped"));
    assert!(wait_until(
        || std::fs::read_to_string(&statefile).is_ok_and(|text| text.contains("\"web\""))
    ));
    first.shutdown();

    let mut second = start();
    let log = second.wait_log("not starting web: it was stopped by hand (statefile)");
    second.wait_log("success: api entered RUNNING state");
    assert!(!log.contains("spawned: 'web'"), "{log}");
    let (_, status) = second.ctl(&["status", "web"]);
    assert!(status.contains("STOPPED"), "{status}");
    let (code, _) = second.ctl(&["start", "web"]);
    assert_eq!(code, 0);
    assert!(wait_until(
        || std::fs::read_to_string(&statefile).is_ok_and(|text| !text.contains("\"web\""))
    ));
    second.shutdown();

    let third = start();
    third.wait_log("success: web entered RUNNING state");
}

#[test]
fn killing_vigild_takes_its_children_with_it_and_a_restart_starts_clean() {
    let programs = "[program:solo]\ncommand=/bin/sh -c 'echo $$ > {dir}/solo.pid; exec sleep 1000'\nstartsecs=0\n\n\
         [program:parent]\ncommand=/bin/sh -c 'sleep 1000 & echo $! > {dir}/grandchild.pid; wait'\nstartsecs=0\n\n\
         [program:pool]\ncommand=/bin/sh -c 'echo $$ > {dir}/pool_%(process_num)d.pid; exec sleep 1000'\n\
         process_name=pool_%(process_num)d\nnumprocs=2\nstartsecs=0\n";
    let ws = Workspace::new();
    ws.config(programs);
    let mut vigild = Vigild::start(ws, &[]);
    let files = ["solo.pid", "pool_0.pid", "pool_1.pid"];
    let pids: Vec<i32> = files.iter().map(|f| vigild.ws.wait_pid(f)).collect();
    let grandchild = vigild.ws.wait_pid("grandchild.pid");
    // Every start recorded (the guardian hears of a group then); a kill before that is the
    // window the note of 2026-12-03 describes.
    vigild.wait_log_count("entered RUNNING state", 4);
    vigild.signal(Signal::SIGKILL);
    vigild.wait_exit();
    assert!(
        wait_until(|| pids.iter().all(|pid| !alive(*pid))),
        "children outlived a kill -9 of vigild: {pids:?}"
    );
    assert!(
        wait_until(|| !alive(grandchild)),
        "a grandchild outlived a kill -9 of vigild (the guardian kills its group)"
    );

    // A new vigild on the same config starts one of each, nothing twice.
    for file in files.iter().chain(&["grandchild.pid"]) {
        fs::remove_file(vigild.ws.path().join(file)).expect("remove pid file");
    }
    let ws = Workspace::new();
    ws.config(&programs.replace("{dir}", &vigild.ws.path().display().to_string()));
    let again = Vigild::start(ws, &[]);
    let fresh: Vec<i32> = files.iter().map(|f| vigild.ws.wait_pid(f)).collect();
    again.wait_log_count("entered RUNNING state", 4);
    assert!(fresh.iter().all(|pid| alive(*pid) && !pids.contains(pid)));
    let log = again.log();
    assert_eq!(lines_with(&log, "spawned:").len(), 4, "{log}");
}

#[test]
fn vigild_killed_mid_rotation_leaves_readable_logs() {
    let ws = Workspace::new();
    ws.config(
        "[program:chatty]\ncommand=/bin/sh -c 'i=0; while :; do i=$((i+1)); echo \"line $i\"; done'\n\
         startsecs=0\nstdout_logfile={dir}/chatty.log\nstdout_logfile_maxbytes=20KB\n\
         stdout_logfile_backups=5\n",
    );
    let mut vigild = Vigild::start(ws, &[]);
    let dir = vigild.ws.path().to_path_buf();
    let path = |suffix: &str| dir.join(format!("chatty.log{suffix}"));
    assert!(
        wait_until(|| path(".3").exists()),
        "no rotation:\n{}",
        vigild.log()
    );
    vigild.signal(Signal::SIGKILL);
    vigild.wait_exit();
    // Oldest first, the kept files hold one stream: rotation cuts by size, so a line may
    // span two files, but none is lost, repeated or garbled.
    let mut text = String::new();
    let mut files = 0;
    for suffix in [".5", ".4", ".3", ".2", ".1", ""] {
        if let Ok(part) = fs::read_to_string(path(suffix)) {
            files += 1;
            text.push_str(&part);
        }
    }
    assert!(files >= 4, "the current file and at least three old ones");
    let mut lines: Vec<&str> = text.lines().collect();
    if !text.ends_with('\n') {
        lines.pop();
    }
    let numbers: Vec<u64> = lines
        .iter()
        .skip(1)
        .map(|line| {
            line.strip_prefix("line ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("not a whole line: {line:?}"))
        })
        .collect();
    assert!(numbers.len() > 100, "{} lines", numbers.len());
    assert!(
        numbers.windows(2).all(|w| w[1] == w[0] + 1),
        "the logs skip or repeat lines"
    );
}

#[test]
fn running_out_of_fds_fails_spawns_not_vigild() {
    // 150 programs need more descriptors (each keeps its stdin's write end) than the 128
    // allowed: some cannot start.
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[supervisord]\nminfds=64\n\n\
         [program:many]\ncommand=/bin/sleep 1000\nprocess_name=many_%(process_num)d\nnumprocs=150\n\
         startsecs=0\nstartretries=0\nredirect_stderr=true\nstdout_logfile=NONE\n"
    ));
    let mut vigild = Vigild::start_wrapped(ws, &["prlimit", "--nofile=128:128"], &[]);
    vigild.wait_log("spawnerr: too many open files to spawn 'many_");
    // Still serving, still supervising what did start.
    let mut status = String::new();
    assert!(
        wait_until(|| {
            status = vigild.vigilctl(&["status"]).1;
            status.contains("RUNNING")
        }),
        "{status}\n{}",
        vigild.log()
    );
    assert!(
        status.contains("FATAL") || status.contains("STOPPED"),
        "{status}"
    );
    let log = vigild.shutdown();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn children_without_a_pidfd_are_reaped_and_restarted_all_the_same() {
    // With 200 fds the reaper keeps 256 free, so no child gets a pidfd: each exit is found
    // by asking the unwatched children by pid at SIGCHLD.
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[supervisord]\nminfds=64\n\n\
         [program:w]\ncommand=/bin/sleep 1000\nprocess_name=w_%(process_num)d\nnumprocs=3\n\
         startsecs=0\nautorestart=true\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
    ));
    let vigild = Vigild::start_wrapped(ws, &["prlimit", "--nofile=200:200"], &[]);
    let warning = vigild.wait_log("cannot watch pid");
    assert!(warning.contains("SIGCHLD reaps it"), "{warning}");
    for name in ["w:w_0", "w:w_2"] {
        let mut old = 0;
        assert!(wait_until(|| {
            old = vigild.pid_of(name);
            old > 0
        }));
        kill(Pid::from_raw(old), Signal::SIGKILL).expect("kill");
        assert!(
            wait_until(|| stat_fields(old).is_none() && ![0, old].contains(&vigild.pid_of(name))),
            "{name} (pid {old}) was not reaped and restarted:\n{}",
            vigild.log()
        );
    }
    let log = vigild.log();
    assert_eq!(
        lines_with(&log, "(terminated by SIGKILL; not expected)").len(),
        2,
        "{log}"
    );
}

/// The soft limit on open files of `pid`.
fn open_files_limit(pid: i32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/limits"))
        .expect("limits")
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3)?.parse().ok())
        .expect("Max open files")
}

#[test]
fn sighup_reapplies_the_supervisord_section_and_keeps_what_cannot_be() {
    let ws = Workspace::new();
    let port = crate::support::free_port();
    let section = |name: &str, level: &str, umask: &str, minfds: u64, interval: u32| {
        format!(
            "[supervisord]\nlogfile={{dir}}/{name}.log\npidfile={{dir}}/{name}.pid\n\
             childlogdir={{dir}}/{name}-logs\nloglevel={level}\numask={umask}\nminfds={minfds}\n\
             sample_interval={interval}\n\n{}\
             [program:app]\ncommand=sh -c 'umask > {{dir}}/umask.$$; echo hello; exec sleep 1000'\n\
             startsecs=0\n",
            crate::support::control(port)
        )
    };
    for name in ["first-logs", "second-logs"] {
        fs::create_dir(ws.path().join(name)).expect("childlogdir");
    }
    ws.write(
        "supervisord.conf",
        &section("first", "info", "022", 1024, 5),
    );
    // Daemonized, so the umask applies (as supervisord, only when daemonizing); with a soft
    // fd limit that minfds can raise without privileges.
    let output = std::process::Command::new("sh")
        .args(["-c", "ulimit -Sn 4096 && exec \"$0\" -c supervisord.conf"])
        .arg(crate::support::vigild_bin())
        .current_dir(ws.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("start vigild");
    assert!(output.status.success(), "{output:?}");
    let pid = ws.wait_pid("first.pid");
    let session = stat_fields(pid)
        .and_then(|f| f.get(3).and_then(|s| s.parse().ok()))
        .expect("session");
    let _guard = SessionGuard(session);
    assert!(wait_until(|| ws
        .read("first.log")
        .contains("success: app entered RUNNING")));

    assert_eq!(open_files_limit(pid), 4096);
    let more_fds = 8192;
    ws.write(
        "supervisord.conf",
        &section("second", "debug", "077", more_fds, 1),
    );
    kill(Pid::from_raw(pid), Signal::SIGHUP).expect("hup");
    // The new log gets the restart, at the new level (child output is copied at debug).
    assert!(
        wait_until(|| {
            let log = ws.read("second.log");
            log.contains("success: app entered RUNNING") && log.contains("DEBG 'app' stdout output")
        }),
        "second.log:\n{}\nfirst.log:\n{}",
        ws.read("second.log"),
        ws.read("first.log")
    );
    let first = ws.read("first.log");
    let after_switch = first
        .split_once("the log continues in")
        .map(|(_, rest)| rest.to_string())
        .expect("the switch is logged in the old log");
    assert!(!after_switch.contains("spawned:"), "{first}");
    assert_eq!(ws.read("second.pid").trim(), pid.to_string());
    assert!(!ws.path().join("first.pid").exists(), "old pidfile left");
    let info = crate::support::call(port, "supervisor.getProcessInfo", "'app'");
    let info: serde_json::Value = serde_json::from_str(&info).expect("json");
    let child = info["pid"].as_i64().expect("pid");
    assert!(
        info["stdout_logfile"]
            .as_str()
            .is_some_and(|path| path.starts_with(&format!("{}/second-logs/", ws.path().display()))),
        "{info}"
    );
    assert!(wait_until(
        || ws.read(&format!("umask.{child}")).trim() == "0077"
    ));
    let (_, metrics) = crate::support::http_get(port, "/metrics", None);
    assert_eq!(
        crate::support::metric_value(&metrics, "vigil_sampler_interval_seconds"),
        Some(1.0)
    );
    assert_eq!(open_files_limit(pid), more_fds);

    // Values that cannot be applied keep the running ones, and say which.
    let mut bad = section("second", "debug", "077", 2_000_000_000, 1);
    bad = bad.replace(
        &format!("logfile={}/second.log", "{dir}"),
        "logfile={dir}/second-logs",
    );
    ws.write("supervisord.conf", &bad);
    kill(Pid::from_raw(pid), Signal::SIGHUP).expect("hup");
    assert!(
        wait_until(|| ws
            .read("second.log")
            .matches("success: app entered RUNNING")
            .count()
            == 2),
        "{}",
        ws.read("second.log")
    );
    let log = ws.read("second.log");
    assert!(
        log.contains(&format!(
            "could not apply logfile={0}/second-logs: opening the log file {0}/second-logs",
            ws.path().display()
        )) && log.contains(&format!("keeping {}/second.log", ws.path().display())),
        "{log}"
    );
    assert!(
        log.contains("could not apply minfds=2000000000") && log.contains("keeping minfds=8192"),
        "{log}"
    );
    assert_eq!(open_files_limit(pid), more_fds);

    kill(Pid::from_raw(pid), Signal::SIGTERM).expect("term");
    assert!(wait_until(|| !alive(pid)), "daemon did not exit");
    assert!(
        !ws.path().join("second.pid").exists(),
        "pidfile removed at exit"
    );
}
