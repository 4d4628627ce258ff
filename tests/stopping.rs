//! Priority order, stop signals, SIGKILL escalation and process groups.

use nix::sys::signal::Signal;

use crate::support::{
    alive, line_time, lines_with, session_members, wait_until, Vigild, Workspace,
};

#[test]
fn start_low_priority_first_and_stop_in_reverse() {
    let mut vigild = Vigild::with_config(
        "[program:late]\ncommand=/bin/sleep 100\npriority=300\nstartsecs=0\n\n\
         [program:early]\ncommand=/bin/sleep 100\npriority=100\nstartsecs=0\n\n\
         [program:middle]\ncommand=/bin/sleep 100\nstartsecs=0\n\n\
         [group:grouped]\nprograms=middle\npriority=200\n",
    );
    let log = vigild.wait_log_count("entered RUNNING state", 3);
    let order: Vec<&str> = lines_with(&log, "spawned: '")
        .iter()
        .map(|l| l.split('\'').nth(1).unwrap_or_default())
        .collect();
    assert_eq!(order, ["early", "middle", "late"], "{log}");
    let log = vigild.shutdown();
    let stops: Vec<&str> = lines_with(&log, "stopped: ")
        .iter()
        .map(|l| {
            l.split("stopped: ")
                .nth(1)
                .unwrap_or_default()
                .split(' ')
                .next()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(stops, ["late", "middle", "early"], "{log}");
}

#[test]
fn a_child_that_ignores_the_stop_signal_is_killed_after_stopwaitsecs() {
    let ws = Workspace::new();
    ws.write(
        "stubborn.sh",
        "#!/bin/sh\ntrap '' TERM\nwhile true; do sleep 0.1; done\n",
    );
    ws.config(
        "[program:stubborn]\ncommand=/bin/sh {dir}/stubborn.sh\nstartsecs=0\nstopwaitsecs=1\n",
    );
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("success: stubborn entered RUNNING state");
    let log = vigild.shutdown();
    let kill = lines_with(&log, "WARN killing 'stubborn' (");
    assert_eq!(kill.len(), 1, "{log}");
    assert!(kill[0].ends_with("with SIGKILL"), "{log}");
    let stopped = lines_with(&log, "stopped: stubborn (terminated by SIGKILL)");
    assert_eq!(stopped.len(), 1, "{log}");
    let term = lines_with(&log, "received SIGTERM")[0];
    assert!(
        line_time(kill[0]) - line_time(term) >= 0.99,
        "SIGKILL only after stopwaitsecs: {log}"
    );
}

#[test]
fn stopsignal_is_sent_first() {
    let ws = Workspace::new();
    ws.write(
        "graceful.sh",
        "#!/bin/sh\ntrap 'echo got-int; exit 0' INT\necho ready\nwhile true; do sleep 0.1; done\n",
    );
    ws.config(
        "[program:graceful]\ncommand=/bin/sh {dir}/graceful.sh\nstartsecs=0\nstopsignal=INT\n\
         stdout_logfile={dir}/graceful.out\n",
    );
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("success: graceful entered RUNNING state");
    // Stopped only once its trap is set (startsecs=0 is RUNNING before the shell has run).
    assert!(wait_until(|| vigild.ws.read("graceful.out") == "ready\n"));
    let log = vigild.shutdown();
    assert!(
        log.contains("INFO stopped: graceful (exit status 0)"),
        "{log}"
    );
    assert_eq!(vigild.ws.read("graceful.out"), "ready\ngot-int\n");
}

/// Runs `script` (which writes its grandchild's pid to `{dir}/grandchild.pid`) with the
/// given extra options, shuts vigild down, and returns the grandchild's pid, the log, and
/// the (exited) vigild, whose drop kills whatever is left of its session: keep it until the
/// assertions are done.
fn grandchild_after_shutdown(script: &str, options: &str) -> (i32, String, Vigild) {
    let ws = Workspace::new();
    ws.write("family.sh", script);
    ws.config(&format!(
        "[program:family]\ncommand=/bin/sh {{dir}}/family.sh\nstartsecs=0\nstopwaitsecs=1\n{options}\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("success: family entered RUNNING state");
    let grandchild = vigild.ws.wait_pid("grandchild.pid");
    let log = vigild.shutdown();
    (grandchild, log, vigild)
}

/// A parent that ignores TERM, with a grandchild.
const STUBBORN_FAMILY: &str =
    "#!/bin/sh\ntrap '' TERM\nsleep 1000 &\necho $! > {dir}/grandchild.pid\nwhile true; do sleep 0.1; done\n";

#[test]
fn killasgroup_kills_grandchildren() {
    let (grandchild, log, _vigild) = grandchild_after_shutdown(STUBBORN_FAMILY, "killasgroup=true");
    assert!(
        log.contains("stopped: family (terminated by SIGKILL)"),
        "{log}"
    );
    assert!(
        wait_until(|| !alive(grandchild)),
        "grandchild {grandchild} survived killasgroup"
    );
}

#[test]
fn without_killasgroup_the_grandchild_is_left_like_supervisord_does() {
    // The contrast case: only the group signals reach grandchildren.
    let (grandchild, _, _vigild) = grandchild_after_shutdown(STUBBORN_FAMILY, "");
    assert!(
        alive(grandchild),
        "a plain SIGKILL of the parent must not reach the grandchild"
    );
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(grandchild), Signal::SIGKILL);
}

#[test]
fn stopasgroup_sends_the_stop_signal_to_the_group() {
    let script = "#!/bin/sh\nsleep 1000 &\necho $! > {dir}/grandchild.pid\nwait\n";
    let (grandchild, log, _vigild) = grandchild_after_shutdown(script, "stopasgroup=true");
    assert!(
        !log.contains("with SIGKILL"),
        "TERM to the group is enough: {log}"
    );
    assert!(
        wait_until(|| !alive(grandchild)),
        "grandchild survived stopasgroup"
    );
}

#[test]
fn sigterm_stops_everything_and_leaves_no_process_behind() {
    let ws = Workspace::new();
    ws.write("tree.sh", "#!/bin/sh\nsleep 1000 &\nsleep 1000 &\nwait\n");
    ws.config(
        "[program:tree]\ncommand=/bin/sh {dir}/tree.sh\nstartsecs=0\nstopasgroup=true\n\n\
         [program:workers]\ncommand=/bin/sleep 1000\nprocess_name=%(program_name)s_%(process_num)02d\n\
         numprocs=3\nstartsecs=0\n\n\
         [program:backoff]\ncommand=/bin/sh -c \"exit 1\"\nstartretries=100\n",
    );
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log_count("entered RUNNING state", 4);
    // After the second quick exit, `backoff` waits 2 s in BACKOFF: shut down in that window.
    vigild.wait_log_count("exited: backoff", 2);
    let sid = vigild.pid();
    assert!(
        session_members(sid).len() >= 7,
        "vigild, tree + 2 sleeps, 3 workers"
    );
    let log = vigild.shutdown();
    // BACKOFF gives up silently at shutdown (supervisord's give_up): no retry, no stop.
    let after_term = log.split("received SIGTERM").nth(1).unwrap_or_default();
    assert!(
        !after_term.contains("spawned: 'backoff'") && !after_term.contains("stopped: backoff"),
        "{log}"
    );
    assert!(
        wait_until(|| session_members(sid).is_empty()),
        "left behind: {:?}",
        session_members(sid)
    );
}

#[test]
fn shutdown_stops_a_whole_priority_level_at_once() {
    // Each program notes the SIGTERM it ignores. `a` and `b` share a priority level in
    // separate groups: both must get it while the other still runs (supervisord stops them
    // one group after the other). `first`, a lower level, waits until both are gone.
    let ws = Workspace::new();
    ws.write(
        "stubborn.sh",
        "#!/bin/sh\ntrap 'echo term' TERM\necho up\nwhile :; do sleep 0.1; done\n",
    );
    let program = |name: &str, priority: u32| {
        format!(
            "[program:{name}]\ncommand=/bin/sh {{dir}}/stubborn.sh\nstartsecs=0\npriority={priority}\n\
             stopwaitsecs=60\nstdout_logfile={{dir}}/{name}.log\n\n"
        )
    };
    ws.config(&format!(
        "{}{}{}",
        program("first", 100),
        program("a", 500),
        program("b", 500)
    ));
    let vigild = Vigild::start(ws, &[]);
    vigild.wait_log_count("entered RUNNING state", 3);
    let got = |name: &str| std::fs::read_to_string(vigild.ws.path().join(format!("{name}.log")));
    assert!(wait_until(|| ["first", "a", "b"]
        .iter()
        .all(|name| got(name).is_ok_and(|log| log.contains("up")))));
    vigild.signal(Signal::SIGTERM);
    assert!(
        wait_until(|| ["a", "b"]
            .iter()
            .all(|name| got(name).is_ok_and(|log| log.contains("term")))),
        "both programs of the level got SIGTERM: {}",
        vigild.log()
    );
    assert!(
        !got("first").unwrap_or_default().contains("term"),
        "a lower level waits until the higher one has stopped"
    );
    // The fixture's session guard kills what is left.
}
