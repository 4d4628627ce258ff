//! `vigilctl reexec`: a live vigild hands its fleet to a new image of itself (the same pid):
//! children keep their pids and states, a writer's output arrives whole and in order, a
//! BACKOFF's timer and the crash loop carry over, a copy of the binary at another path
//! takes over, a child that dies during the handover is restarted by the new image, and a
//! refused reexec leaves the fleet as it was.

use crate::support::*;

/// A writer that prints consecutive numbers as fast as it can, a sleeper, a program never
/// started and one that went FATAL.
const FLEET: &str =
    "[program:writer]\ncommand=/bin/sh -c 'i=0; while true; do i=$((i+1)); echo $i; done'\n\
    stdout_logfile={dir}/writer.log\nstdout_logfile_maxbytes=0\nstartsecs=0\n\n\
    [program:sleeper]\ncommand=/bin/sleep 600\nstartsecs=0\n\n\
    [program:idle]\ncommand=/bin/sleep 600\nautostart=false\n\n\
    [program:broken]\ncommand=/bin/sh -c 'exit 7'\nstartretries=0\nstartsecs=1\n";

/// The pid vigilctl shows for `name`, once it has one.
fn pid(vigild: &Vigild, name: &str) -> i32 {
    let mut pid = 0;
    assert!(
        wait_until(|| {
            pid = vigild.pid_of(name);
            pid > 0
        }),
        "{name} has no pid:\n{}",
        vigild.log()
    );
    pid
}

/// Runs `vigilctl reexec ARGS`; asserts it worked.
fn reexec(vigild: &Vigild, args: &[&str]) {
    let mut argv = vec!["reexec"];
    argv.extend(args);
    let (code, out) = vigild.vigilctl(&argv);
    assert_eq!(code, 0, "{out}\n{}", vigild.log());
    assert!(out.contains("runs vigil"), "{out}");
}

#[test]
fn pids_states_and_every_line_of_a_writer_survive_a_reexec() {
    let port = free_port();
    let vigild = Vigild::with_config(&format!("{}{FLEET}", control(port)));
    wait_status(&vigild, "broken", &["FATAL"]);
    let (writer, sleeper) = (pid(&vigild, "writer"), pid(&vigild, "sleeper"));
    let broken_before = status_line(&vigild, "broken");
    let lines_before = vigild.ws.read("writer.log").lines().count();

    reexec(&vigild, &[]);

    assert_eq!(pid(&vigild, "writer"), writer);
    assert_eq!(pid(&vigild, "sleeper"), sleeper);
    assert!(status_line(&vigild, "idle").contains("STOPPED"));
    assert_eq!(status_line(&vigild, "broken"), broken_before);
    let log = vigild.wait_log("reexec: adopted 4 processes in");
    assert!(log.contains("reexec: handing over 4 processes to"), "{log}");
    assert_eq!(
        lines_with(&log, "supervisord started with pid").len(),
        2,
        "the same pid started twice, once per image: {log}"
    );
    // The writer went on writing through the handover, into the same file.
    assert!(
        wait_until(|| vigild.ws.read("writer.log").lines().count() > lines_before + 10_000),
        "the writer's output stopped"
    );
    let (_, metrics) = http_get(port, "/metrics", None);
    assert_eq!(
        metric_value(&metrics, "vigil_reexecs_total"),
        Some(1.0),
        "{metrics}"
    );
    let (code, out) = vigild.vigilctl(&["stop", "writer"]);
    assert_eq!(code, 0, "{out}");
    let text = vigild.ws.read("writer.log");
    let whole = text.rsplit_once('\n').map_or("", |(whole, _)| whole);
    let mut expected = 1u64;
    for line in whole.lines() {
        let number: u64 = line
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {line:?}"));
        assert_eq!(number, expected, "a line lost or out of order");
        expected += 1;
    }
    assert!(expected > lines_before as u64 + 10_000, "{expected} lines");
    // The new image supervises as usual: a kill -9 is restarted.
    kill(sleeper);
    assert!(wait_until(|| {
        let now = vigild.pid_of("sleeper");
        now > 0 && now != sleeper
    }));
}

/// `kill -9 pid`.
fn kill(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

#[test]
fn a_backoff_timer_and_the_crash_loop_carry_over() {
    let vigild = Vigild::with_config(&format!(
        "{CONTROL_SECTIONS}[program:looper]\ncommand=/bin/sh -c 'exit 1'\nstartsecs=0\n\
         autorestart=true\ncrashloop_threshold=2\nrestart_delay=8\n"
    ));
    wait_status(&vigild, "looper", &["BACKOFF"]);
    let (_, crashes) = vigild.vigilctl(&["crashes", "looper"]);
    assert!(crashes.contains("CRASH LOOP"), "{crashes}");
    let spawns = lines_with(&vigild.log(), "spawned: 'looper'").len();

    reexec(&vigild, &[]);

    // Still waiting out the delay: neither lost (it would never start again) nor reset
    // (it would start at once).
    let (_, crashes) = vigild.vigilctl(&["crashes", "looper"]);
    assert!(crashes.contains("looper: CRASH LOOP"), "{crashes}");
    assert!(
        status_line(&vigild, "looper").contains("BACKOFF"),
        "{}",
        vigild.log()
    );
    let log = vigild.wait_log("reexec: adopted 1 processes");
    let after = log.split("reexec: adopted").nth(1).unwrap_or_default();
    assert!(
        !after.contains("spawned: 'looper'"),
        "restarted at once: {log}"
    );
    // The timer fires in the new image: the next spawn comes.
    vigild.wait_log_count("spawned: 'looper'", spawns + 1);
}

#[test]
fn a_copy_of_the_binary_at_another_path_takes_over() {
    let vigild = Vigild::with_config(&format!(
        "{CONTROL_SECTIONS}[program:sleeper]\ncommand=/bin/sleep 600\nstartsecs=0\n"
    ));
    let sleeper = pid(&vigild, "sleeper");
    let copy = vigild.ws.path().join("bin/vigild-copy");
    std::fs::create_dir_all(copy.parent().expect("a parent")).expect("mkdir");
    std::fs::copy(vigild_bin(), &copy).expect("copy vigild");

    reexec(&vigild, &["--binary", copy.to_str().expect("utf-8")]);

    let exe = std::fs::read_link(format!("/proc/{}/exe", vigild.pid())).expect("exe link");
    assert_eq!(exe, copy);
    assert_eq!(pid(&vigild, "sleeper"), sleeper);
    assert!(vigild.log().contains(&format!(
        "reexec: handing over 1 processes to {}",
        copy.display()
    )));
}

#[test]
fn a_child_that_dies_during_the_handover_is_restarted_by_the_new_image() {
    let port = free_port();
    let vigild = Vigild::with_config(&format!(
        "{}[program:victim]\ncommand=/bin/sleep 600\nstartsecs=0\nautorestart=true\n",
        control(port)
    ));
    let victim = pid(&vigild, "victim");
    // The answer comes once the record is made: the kill lands before the new image runs.
    assert_eq!(call(port, "vigil.reexec", "''"), "true");
    kill(victim);
    vigild.wait_log("reexec: adopted 1 processes");
    assert!(wait_until(|| {
        let now = vigild.pid_of("victim");
        now > 0 && now != victim
    }));
    let log = vigild.wait_log("exited: victim (terminated by SIGKILL; not expected)");
    let (before, after) = log.split_once("reexec: adopted").expect("adopted");
    assert!(
        !before.contains("exited: victim"),
        "seen by the old image: {log}"
    );
    assert!(after.contains("spawned: 'victim'"), "{log}");
    let (_, crashes) = vigild.vigilctl(&["crashes", "victim"]);
    assert!(crashes.contains("SIGKILL"), "{crashes}");
}

#[test]
fn a_refused_reexec_leaves_the_fleet_running() {
    let vigild = Vigild::with_config(&format!(
        "{CONTROL_SECTIONS}[program:sleeper]\ncommand=/bin/sleep 600\nstartsecs=0\n"
    ));
    let sleeper = pid(&vigild, "sleeper");
    let failing = vigild
        .ws
        .write("failing-vigild", "#!/bin/sh\necho broken >&2\nexit 3\n");
    let not_executable = vigild.ws.write("plain-file", "not a program\n");
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&failing, mode).expect("chmod");
    let cases = [
        ("/no/such/vigild".to_string(), "No such file"),
        ("relative/vigild".to_string(), "is not an absolute path"),
        (
            not_executable.display().to_string(),
            "is not an executable file",
        ),
        (
            failing.display().to_string(),
            "--version: exit status 3, broken",
        ),
    ];
    for (binary, why) in cases {
        let (code, out) = vigild.vigilctl(&["reexec", "--binary", &binary]);
        assert_eq!(code, 1, "{binary}: {out}");
        assert!(out.contains(why), "{binary}: {out}");
    }
    // A config the new image would refuse: nothing is frozen, nothing handed over.
    let config = vigild.ws.path().join("supervisord.conf");
    let good = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, good.replace("startsecs=0", "startsecs=soon")).expect("write");
    let (code, out) = vigild.vigilctl(&["reexec"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the config does not pass the new binary's check"),
        "{out}"
    );
    assert!(out.contains("startsecs=soon"), "{out}");
    // A valid change not applied yet: the new image would run what the fleet does not.
    std::fs::write(&config, good.replace("/bin/sleep 600", "/bin/sleep 700")).expect("write");
    let (code, out) = vigild.vigilctl(&["reexec"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the config file differs from the groups in use (changed: sleeper)"),
        "{out}"
    );
    std::fs::write(&config, good).expect("write back");
    assert_eq!(pid(&vigild, "sleeper"), sleeper);
    assert!(
        !vigild.log().contains("reexec: handing over"),
        "{}",
        vigild.log()
    );
    // And what is not carried yet says so.
    let starting = Vigild::with_config(&format!(
        "{CONTROL_SECTIONS}[program:slow]\ncommand=/bin/sleep 600\nready=log:never printed\nready_timeout=60\n"
    ));
    wait_status(&starting, "slow", &["STARTING"]);
    let (code, out) = starting.vigilctl(&["reexec"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("slow: it is STARTING with ready=fd or ready=log: try again once it is ready"),
        "{out}"
    );
}

#[test]
fn an_fcgi_programs_socket_goes_over_and_serves_its_next_start() {
    let vigild = Vigild::with_config(&format!(
        "{CONTROL_SECTIONS}[fcgi-program:fcgi]\ncommand=/bin/sleep 600\nsocket=unix://{{dir}}/fcgi.sock\nstartsecs=0\n"
    ));
    let fcgi = pid(&vigild, "fcgi");
    let socket_inode =
        |pid: i32| std::fs::read_link(format!("/proc/{pid}/fd/0")).expect("the child's fd 0");
    let before = socket_inode(fcgi);
    reexec(&vigild, &[]);
    assert_eq!(pid(&vigild, "fcgi"), fcgi);
    // The next start gets the very socket (not one bound again, which the old one's path
    // would have refused).
    let (code, out) = vigild.vigilctl(&["restart", "fcgi"]);
    assert_eq!(code, 0, "{out}");
    let again = pid(&vigild, "fcgi");
    assert_ne!(again, fcgi);
    assert_eq!(socket_inode(again), before);
}

#[test]
fn stdin_not_yet_read_by_the_child_is_written_by_the_new_image() {
    let port = free_port();
    let vigild = Vigild::with_config(&format!(
        "{}[program:reader]\ncommand=/bin/sh -c 'while [ ! -e {{dir}}/go ]; do sleep 0.05; done; exec cat > {{dir}}/got.txt'\nstartsecs=0\n",
        control(port)
    ));
    let reader = pid(&vigild, "reader");
    // 200 KB, more than the pipe holds while the child does not read: the rest waits in
    // vigild's queue, and goes in the handover's record.
    let line = |n: usize| format!("{n:06} {}\n", "x".repeat(993));
    let sent: String = (0..200).map(line).collect();
    for chunk in sent.as_bytes().chunks(50_000) {
        let text = std::str::from_utf8(chunk).expect("ascii");
        assert_eq!(
            call(
                port,
                "supervisor.sendProcessStdin",
                &format!("'reader', {text:?}")
            ),
            "true"
        );
    }
    reexec(&vigild, &[]);
    assert_eq!(pid(&vigild, "reader"), reader);
    vigild.ws.write("go", "");
    assert!(
        wait_until(|| vigild.ws.read("got.txt").len() == sent.len()),
        "{} of {} bytes",
        vigild.ws.read("got.txt").len(),
        sent.len()
    );
    assert!(
        vigild.ws.read("got.txt") == sent,
        "the bytes came out of order"
    );
}

/// A listener that takes a while over each event (so events queue in its pool), recording
/// each header line.
const SLOW_RECORDER: &str = r"
import sys, time
out = open(sys.argv[1], 'a')
while True:
    sys.stdout.write('READY\n')
    sys.stdout.flush()
    header = sys.stdin.readline()
    fields = dict(token.split(':', 1) for token in header.split())
    payload = sys.stdin.read(int(fields['len']))
    time.sleep(0.2)
    out.write('%s %s\n' % (fields['eventname'], fields['serial']))
    out.flush()
    sys.stdout.write('RESULT 2\nOK')
    sys.stdout.flush()
";

#[test]
fn a_listener_pool_its_queue_and_its_protocol_carry_over_and_hear_vigil_reexec() {
    let ws = Workspace::new();
    ws.write("recorder.py", SLOW_RECORDER);
    ws.config(&format!(
        "{CONTROL_SECTIONS}[eventlistener:pool]\ncommand={} {{dir}}/recorder.py {{dir}}/events.txt\n\
         events=PROCESS_STATE,VIGIL_REEXEC\nbuffer_size=100\n\n\
         [program:worker]\ncommand=/bin/sleep 600\nstartsecs=0\nnumprocs=4\n\
         process_name=worker_%(process_num)d\n",
        venv_python().display()
    ));
    let vigild = Vigild::start(ws, &[]);
    wait_status(&vigild, "worker:worker_3", &["RUNNING"]);
    let listener = pid(&vigild, "pool");
    // Events to queue: each worker stopped and started again (4 events each), more than the
    // slow listener takes before the handover.
    for n in 0..4 {
        let name = format!("worker:worker_{n}");
        assert_eq!(vigild.vigilctl(&["restart", &name]).0, 0);
    }
    reexec(&vigild, &[]);
    assert_eq!(pid(&vigild, "pool"), listener, "the listener kept its pid");
    let heard = |what: &str| {
        vigild
            .ws
            .read("events.txt")
            .lines()
            .any(|l| l.starts_with(what))
    };
    assert!(
        wait_until(|| heard("VIGIL_REEXEC")),
        "{}",
        vigild.ws.read("events.txt")
    );
    let events = vigild.ws.read("events.txt");
    let serials: Vec<u64> = events
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1)?.parse().ok())
        .collect();
    let mut sorted = serials.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(serials, sorted, "each event once, in order: {events}");
    let restarts = events
        .lines()
        .filter(|l| l.starts_with("PROCESS_STATE_STOPPING"))
        .count();
    assert_eq!(restarts, 4, "no event of the restarts lost: {events}");
    assert_eq!(
        events
            .lines()
            .filter(|l| l.starts_with("PROCESS_STATE_RUNNING"))
            .count(),
        8,
        "the first starts and the restarts: {events}"
    );
}

#[test]
fn a_stop_in_progress_carries_over_and_escalates_on_time() {
    let port = free_port();
    let vigild = Vigild::with_config(&format!(
        "{}[program:stubborn]\ncommand={} -c 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(\"ignoring\", flush=True); time.sleep(600)'\n\
         startsecs=0\nstopwaitsecs=8\n",
        control(port),
        venv_python().display()
    ));
    let stubborn = pid(&vigild, "stubborn");
    assert!(
        wait_until(|| vigilctl_tail_has(&vigild, "ignoring")),
        "the program never said it ignores TERM"
    );
    assert_eq!(
        call(port, "supervisor.stopProcess", "'stubborn', False"),
        "true"
    );
    wait_status(&vigild, "stubborn", &["STOPPING"]);
    reexec(&vigild, &[]);
    assert!(status_line(&vigild, "stubborn").contains("STOPPING"));
    let log = vigild.wait_log("stopped: stubborn (terminated by SIGKILL)");
    let after = log
        .split("reexec: adopted 1 processes")
        .nth(1)
        .unwrap_or_default();
    assert!(
        after.contains("killing 'stubborn'") || after.contains("stopped: stubborn"),
        "the escalation came from the new image: {log}"
    );
    assert!(!alive(stubborn));
}

/// Whether the program's stdout tail holds `text`.
fn vigilctl_tail_has(vigild: &Vigild, text: &str) -> bool {
    vigild.vigilctl(&["tail", "stubborn"]).1.contains(text)
}

#[test]
fn a_reexec_during_a_rolling_restart_is_refused() {
    let vigild = Vigild::with_config(&format!(
        "{CONTROL_SECTIONS}[program:web]\ncommand=/bin/sleep 600\nstartsecs=2\nnumprocs=2\n\
         process_name=web_%(process_num)d\n"
    ));
    wait_status(&vigild, "web:web_1", &["RUNNING"]);
    let config = vigild.ws.path().join("supervisord.conf");
    let mut rolling = std::process::Command::new(vigilctl_bin())
        .arg("-c")
        .arg(&config)
        .args(["restart", "--rolling", "web:*"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("vigilctl restart --rolling");
    // web_0 started again: the restart is under way (web_1's turn is still to come).
    vigild.wait_log_count("spawned: 'web_0'", 2);
    let (code, out) = vigild.vigilctl(&["reexec"]);
    let finished = rolling.wait().expect("the rolling restart");
    assert!(finished.success());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("a rolling restart of web is under way: try again once it is done"),
        "{out}"
    );
}

/// A `ready=notify` program with a watchdog: READY=1, then a WATCHDOG=1 and a `STATUS=tick N`
/// every 100 ms, written to its plain sd_notify socket (the environment's `NOTIFY_SOCKET`).
const NOTIFIER: &str = r"
import os, socket, time
address = os.environ['NOTIFY_SOCKET']
if address.startswith('@'):
    address = '\0' + address[1:]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.sendto(b'READY=1', address)
tick = 0
while True:
    tick += 1
    sock.sendto(('WATCHDOG=1\nSTATUS=tick %d' % tick).encode(), address)
    time.sleep(0.1)
";

/// The `tick N` a notifier last announced, as its status line shows it.
fn tick(vigild: &Vigild) -> u32 {
    let line = status_line(vigild, "notifier");
    line.split("tick ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_ready_notify_program_with_a_watchdog_goes_on_talking_to_the_new_image() {
    let ws = Workspace::new();
    ws.write("notifier.py", NOTIFIER);
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:notifier]\ncommand={} {{dir}}/notifier.py\nready=notify\n\
         watchdog_sec=1\n",
        venv_python().display()
    ));
    let vigild = Vigild::start(ws, &[]);
    vigild.wait_log("success: notifier entered RUNNING state, process is ready (ready=notify)");
    let notifier = pid(&vigild, "notifier");
    assert!(wait_until(|| tick(&vigild) > 3));
    reexec(&vigild, &[]);
    let after = tick(&vigild);
    // Its notices reach the new image (the status moves on), and its feeds too: more than
    // two watchdog periods pass without a restart.
    assert!(
        wait_until(|| tick(&vigild) > after + 25),
        "{}",
        vigild.log()
    );
    assert_eq!(pid(&vigild, "notifier"), notifier);
    assert!(
        !vigild.log().contains("watchdog: notifier"),
        "{}",
        vigild.log()
    );
}

#[test]
fn processes_in_cgroups_of_their_own_stay_in_them_across_a_reexec() {
    let Some(cgroup) = crate::resources::TestCgroup::or_skip("reexec") else {
        return;
    };
    let ws = Workspace::new();
    ws.write(
        "supervisord.conf",
        &cgroup.config(
            "",
            &format!("{CONTROL_SECTIONS}[program:boxed]\ncommand=/bin/sleep 600\nstartsecs=0\n"),
        ),
    );
    let vigild = Vigild::start(ws, &[]);
    let boxed = pid(&vigild, "boxed");
    let dir = cgroup.0.join("vigil.supervisor/boxed/boxed");
    let members = || std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    assert!(
        wait_until(|| members().contains(&boxed.to_string())),
        "{}",
        vigild.log()
    );

    reexec(&vigild, &[]);

    assert_eq!(pid(&vigild, "boxed"), boxed);
    assert!(members().contains(&boxed.to_string()));
    assert!(
        !vigild.log().contains("processes run without cgroups"),
        "{}",
        vigild.log()
    );
    // The new image uses them: a stop kills the cgroup's members, a start makes it afresh.
    let (code, out) = vigild.vigilctl(&["restart", "boxed"]);
    assert_eq!(code, 0, "{out}");
    let again = pid(&vigild, "boxed");
    assert!(
        wait_until(|| members().contains(&again.to_string())),
        "{}",
        vigild.log()
    );
}

#[test]
fn a_json_line_begun_before_the_handover_ends_in_one_record_after_it() {
    let vigild = Vigild::with_config(&format!(
        "{CONTROL_SECTIONS}[program:half]\ncommand=/bin/sh -c 'printf \"begun before \"; \
         while [ ! -e {{dir}}/go ]; do sleep 0.05; done; printf \"and ended after\\n\"; exec sleep 600'\n\
         startsecs=0\nstdout_logfile={{dir}}/half.log\nstdout_logfile_format=json\n"
    ));
    let half = pid(&vigild, "half");
    // The first half has reached vigild (held as an unfinished line), not the file.
    assert!(wait_until(|| vigild
        .vigilctl(&["status", "half"])
        .1
        .contains("RUNNING")));
    reexec(&vigild, &[]);
    assert_eq!(pid(&vigild, "half"), half);
    vigild.ws.write("go", "");
    assert!(
        wait_until(|| vigild.ws.read("half.log").contains("ended after")),
        "{}",
        vigild.ws.read("half.log")
    );
    let log = vigild.ws.read("half.log");
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("\"line\"")).collect();
    assert_eq!(lines.len(), 1, "one record: {log}");
    assert!(
        lines[0].contains("\"line\":\"begun before and ended after\""),
        "{log}"
    );
}
