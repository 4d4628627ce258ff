//! supervisord's process state machine against real children.

use nix::sys::signal::Signal;

use crate::support::{line_time, lines_with, Vigild, Workspace};

#[test]
fn a_process_that_stays_up_for_startsecs_becomes_running() {
    let mut vigild = Vigild::with_config("[program:app]\ncommand=/bin/sleep 100\nstartsecs=1\n");
    let log = vigild.wait_log("success: app entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)");
    let spawned = lines_with(&log, "spawned: 'app' with pid ");
    assert_eq!(spawned.len(), 1, "{log}");
    let success = lines_with(&log, "success: app")[0];
    assert!(line_time(success) - line_time(spawned[0]) >= 0.99, "{log}");
    vigild.shutdown();
}

#[test]
fn quick_exits_back_off_1s_2s_then_go_fatal() {
    let mut vigild = Vigild::with_config(
        "[program:crash]\ncommand=/bin/sh -c \"exit 1\"\nstartsecs=1\nstartretries=2\n",
    );
    let log =
        vigild.wait_log("gave up: crash entered FATAL state, too many start retries too quickly");
    let spawns = lines_with(&log, "spawned: 'crash'");
    assert_eq!(spawns.len(), 3, "1 + startretries spawns: {log}");
    assert_eq!(
        lines_with(&log, "exited: crash (exit status 1; not expected)").len(),
        3,
        "{log}"
    );
    let gaps: Vec<f64> = spawns
        .windows(2)
        .map(|w| line_time(w[1]) - line_time(w[0]))
        .collect();
    assert!(
        gaps[0] >= 0.99 && gaps[1] >= 1.99,
        "back-off must wait 1 s then 2 s: {gaps:?}\n{log}"
    );
    let log = vigild.shutdown();
    assert_eq!(
        lines_with(&log, "spawned: 'crash'").len(),
        3,
        "FATAL is final: {log}"
    );
}

#[test]
fn spawn_errors_back_off_to_fatal_and_keep_the_reason() {
    let ws = Workspace::new();
    ws.write("not-executable.sh", "#!/bin/sh\nexit 0\n");
    ws.config(
        "[program:missing]\ncommand=/no/such/command\nstartretries=1\n\n\
         [program:noexec]\ncommand={dir}/not-executable.sh\nstartretries=0\n\n\
         [program:isdir]\ncommand={dir}\nstartretries=0\n\n\
         [program:pathsearch]\ncommand=no-such-command-on-path\nstartretries=0\n",
    );
    let mut vigild = Vigild::start(ws, &[]);
    let log = vigild.wait_log_count("entered FATAL state", 4);
    assert_eq!(
        lines_with(&log, "spawnerr: can't find command '/no/such/command'").len(),
        2,
        "{log}"
    );
    assert!(
        log.contains("spawnerr: command at '")
            && log.contains("not-executable.sh' is not executable"),
        "{log}"
    );
    assert!(log.contains("' is a directory"), "{log}");
    assert!(
        log.contains("spawnerr: can't find command 'no-such-command-on-path'"),
        "{log}"
    );
    assert!(!log.contains("spawned:"), "nothing could be spawned: {log}");
    vigild.shutdown();
}

/// Runs one program that exits with `code` after startsecs, and returns how often it spawned
/// by the time vigild has shut down (shutdown is processed after the exit, so a restart that
/// autorestart asked for has happened by then).
fn spawns_after_exit(autorestart: &str, exitcodes: &str, code: i32) -> usize {
    let mut vigild = Vigild::with_config(&format!(
        "[program:job]\ncommand=/bin/sh -c \"sleep 0.3; exit {code}\"\nstartsecs=0\n\
         autorestart={autorestart}\nexitcodes={exitcodes}\n"
    ));
    vigild.wait_log("exited: job (exit status");
    let log = vigild.shutdown();
    lines_with(&log, "spawned: 'job'").len()
}

#[test]
fn autorestart_follows_exitcodes() {
    assert_eq!(
        spawns_after_exit("unexpected", "0", 0),
        1,
        "expected exit: no restart"
    );
    assert!(
        spawns_after_exit("unexpected", "0", 3) >= 2,
        "unexpected exit: restart"
    );
    assert_eq!(
        spawns_after_exit("unexpected", "0,3", 3),
        1,
        "3 listed in exitcodes"
    );
    assert!(
        spawns_after_exit("true", "0", 0) >= 2,
        "autorestart=true restarts always"
    );
    assert_eq!(
        spawns_after_exit("false", "0", 1),
        1,
        "autorestart=false never restarts"
    );
}

#[test]
fn exit_messages_match_supervisord() {
    let mut vigild = Vigild::with_config(
        "[program:ok]\ncommand=/bin/sh -c \"sleep 0.2\"\nstartsecs=0\nautorestart=false\n\n\
         [program:bad]\ncommand=/bin/sh -c \"sleep 0.2; exit 4\"\nstartsecs=0\nautorestart=false\n",
    );
    let log = vigild.wait_log("exited: bad (exit status 4; not expected)");
    let log = if log.contains("exited: ok") {
        log
    } else {
        vigild.wait_log("exited: ok")
    };
    assert!(
        log.contains("INFO exited: ok (exit status 0; expected)"),
        "{log}"
    );
    assert!(
        log.contains("WARN exited: bad (exit status 4; not expected)"),
        "{log}"
    );
    vigild.shutdown();
}

#[test]
fn an_exec_failure_backs_off_to_fatal() {
    // The kernel refuses the file (ENOEXEC). supervisord's child would log "spawned:" and
    // exit 127; vigil reports the failed exec as a spawnerr, with the same BACKOFF/FATAL path.
    let ws = Workspace::new();
    let junk = ws.write("junk", "\u{1}\u{2}not a program\n");
    std::fs::set_permissions(&junk, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    ws.config("[program:junk]\ncommand={dir}/junk\nstartretries=1\n");
    let mut vigild = Vigild::start(ws, &[]);
    let log = vigild.wait_log("gave up: junk entered FATAL state");
    let failures = lines_with(&log, "spawnerr: couldn't exec ");
    assert_eq!(failures.len(), 2, "{log}");
    assert!(
        failures.iter().all(|line| line.ends_with(": ENOEXEC")),
        "{log}"
    );
    vigild.shutdown();
}

#[test]
fn children_lead_their_own_process_group() {
    let mut vigild = Vigild::with_config("[program:app]\ncommand=/bin/sleep 1000\nstartsecs=0\n");
    let log = vigild.wait_log("spawned: 'app' with pid ");
    let pid: i32 = lines_with(&log, "spawned: 'app' with pid ")[0]
        .rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("pid in log");
    let fields = crate::support::stat_fields(pid).expect("child stat");
    assert_eq!(
        fields[2],
        pid.to_string(),
        "pgrp == pid (setpgrp, as supervisord)"
    );
    assert_eq!(
        fields[3],
        vigild.pid().to_string(),
        "same session as vigild: not setsid"
    );
    assert_eq!(
        fields[1],
        vigild.pid().to_string(),
        "vigild's own child, though its spawner helper started it"
    );
    vigild.shutdown();
}

#[test]
fn a_death_by_a_real_time_signal_is_recorded() {
    let mut vigild = Vigild::with_config(
        "[program:rt]\ncommand=/bin/sleep 1000\nstartsecs=0\nautorestart=false\n",
    );
    let log = vigild.wait_log("spawned: 'rt' with pid ");
    let pid: i32 = lines_with(&log, "spawned: 'rt' with pid ")[0]
        .rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("pid in log");
    // SAFETY: plain kill(2) of our own child with a real-time signal nix has no name for.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGRTMIN() + 6) }, 0);
    let log = vigild.wait_log("exited: rt (terminated by signal");
    assert!(log.contains("not expected"), "{log}");
    vigild.shutdown();
}

#[test]
fn spawns_go_on_when_the_spawner_helper_dies() {
    let mut vigild = Vigild::with_config(
        "[program:again]\ncommand=/bin/sh -c \"sleep 0.2; exit 1\"\nstartsecs=0\nautorestart=true\n",
    );
    vigild.wait_log("spawned: 'again'");
    // The helper: vigild's child running vigild's own binary.
    let helper = std::fs::read_dir("/proc")
        .expect("proc")
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .find(|pid| {
            crate::support::stat_fields(*pid)
                .is_some_and(|fields| fields[1] == vigild.pid().to_string())
                && std::fs::read_link(format!("/proc/{pid}/exe"))
                    .is_ok_and(|exe| exe.ends_with("vigild"))
        })
        .expect("a spawner helper");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(helper), Signal::SIGKILL).expect("kill");
    let log = vigild.wait_log(&format!("the spawner helper with pid {helper} is gone"));
    let before = lines_with(&log, "spawned: 'again'").len();
    let log = vigild.wait_log_count("spawned: 'again'", before + 2);
    assert!(!log.contains("reaped unknown pid"), "{log}");
    vigild.shutdown();
}

#[test]
fn startretries_minus_one_keeps_retrying_with_backoff_max() {
    let vigild = Vigild::with_config(
        "[program:stubborn]\ncommand=/bin/sh -c 'exit 1'\nstartretries=-1\nbackoff_max=1\n",
    );
    // Past supervisord's default of 3 retries, one second apart: no FATAL.
    let log = vigild.wait_log_count("spawned: 'stubborn' with pid", 6);
    assert!(!log.contains("gave up"), "{log}");
    let spawns: Vec<f64> = lines_with(&log, "spawned: 'stubborn'")
        .iter()
        .map(|line| line_time(line))
        .collect();
    for pair in spawns.windows(2).skip(1) {
        let gap = pair[1] - pair[0];
        assert!(gap > 0.8 && gap < 2.0, "waits capped at 1 s: {spawns:?}");
    }
}
