//! Event listeners with real processes: a plain Python listener records what it is sent by
//! vigild and by Python supervisord 4.3 for the same scenario, and the two records match
//! header for header and payload for payload; superlance's plugins and the shipped example
//! listeners do their jobs; a FAIL requeues; vigil's own events go only to listeners that
//! name them.

use crate::support::*;

/// The scenario's programs: the recorder, and an app that writes a capture-mode block on
/// stdout, then a non-ASCII line on stderr (events on), then runs.
fn scenario(python: &str) -> String {
    format!(
        "[eventlistener:recorder]\ncommand={python} {{dir}}/recorder.py {{dir}}/events.log\n\
         events=PROCESS_STATE,PROCESS_GROUP,SUPERVISOR_STATE_CHANGE,REMOTE_COMMUNICATION,PROCESS_COMMUNICATION,PROCESS_LOG\n\
         buffer_size=100\n\n\
         [program:app]\ncommand=/bin/sh -c 'echo \"<!--XSUPERVISOR:BEGIN-->hello<!--XSUPERVISOR:END-->\"; sleep 0.3; echo \"err-\u{fc}\" >&2; exec sleep 1000'\n\
         stdout_capture_maxbytes=1KB\nstderr_events_enabled=true\nstartsecs=2\n"
    )
}

/// Drives the scenario against a daemon serving on `port` whose workspace is `dir`, and
/// returns the recorded events with pids and lengths taken out.
fn drive(port: u16, read: &dyn Fn() -> String) -> Vec<String> {
    let wait_for = |needle: &str| {
        let mut text = String::new();
        assert!(
            wait_until(|| {
                text = read();
                text.contains(needle)
            }),
            "no {needle:?} in the recorded events:\n{text}"
        );
    };
    wait_for("eventname:PROCESS_STATE_RUNNING len:");
    wait_for("processname:app groupname:app from_state:STARTING pid:");
    call(
        port,
        "supervisor.sendRemoteCommEvent",
        "'kind', 'some data'",
    );
    wait_for("eventname:REMOTE_COMMUNICATION");
    call(port, "supervisor.stopProcess", "'app'");
    wait_for("processname:app groupname:app from_state:STOPPING");
    call(port, "supervisor.removeProcessGroup", "'app'");
    wait_for("eventname:PROCESS_GROUP_REMOVED");
    read()
        .lines()
        .map(|line| mask_digits(&mask_digits(line, "pid:"), "len:"))
        .collect()
}

/// `text` with the digits after every `key` replaced by `#`.
fn mask_digits(text: &str, key: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(key) {
        let (before, after) = rest.split_at(at + key.len());
        out.push_str(before);
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push('#');
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

#[test]
fn a_listener_gets_what_supervisord_would_send() {
    let python = venv_python().display().to_string();

    let port = free_port();
    let ws = Workspace::new();
    ws.write("recorder.py", EVENT_RECORDER);
    let config = ws.config(&format!("{}{}", control(port), scenario(&python)));
    let supervisord = Supervisord::start(&ws, &config);
    let theirs = drive(port, &|| ws.read("events.log"));
    drop(supervisord);

    let port = free_port();
    let ws = Workspace::new();
    ws.write("recorder.py", EVENT_RECORDER);
    ws.config(&format!("{}{}", control(port), scenario(&python)));
    let vigild = Vigild::start(ws, &[]);
    let ours = drive(port, &|| vigild.ws.read("events.log"));

    // Group added ×2, supervisor running, starting ×2, communication, log, running ×2,
    // remote communication, stopping, stopped, group removed.
    assert_eq!(theirs.len(), 13, "supervisord sent:\n{}", theirs.join("\n"));
    assert_eq!(
        ours,
        theirs,
        "\nvigild:\n{}\nsupervisord:\n{}",
        ours.join("\n"),
        theirs.join("\n")
    );
}

/// Path of a superlance plugin in the test venv.
fn plugin(name: &str) -> String {
    venv_python().with_file_name(name).display().to_string()
}

/// Writes an executable shell script `name` into the workspace.
fn script(ws: &Workspace, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = ws.write(name, body);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.display().to_string()
}

#[test]
fn superlance_crashmail_mails_an_unexpected_exit() {
    let ws = Workspace::new();
    let sendmail = script(&ws, "sendmail.sh", "#!/bin/sh\ncat >> {dir}/mail.txt\n");
    // crashmail runs only with a SUPERVISOR_SERVER_URL, so a server is configured.
    ws.config(&format!(
        "{}[eventlistener:crashmail]\ncommand={} -p crasher -m ops@example.com -s {sendmail}\n\
         events=PROCESS_STATE_EXITED\n\n\
         [program:crasher]\ncommand=/bin/sh -c 'sleep 1.5; exit 3'\nstartsecs=1\nautorestart=false\n",
        control(free_port()),
        plugin("crashmail")
    ));
    let vigild = Vigild::start(ws, &[]);
    let mut mail = String::new();
    assert!(
        wait_until(|| {
            mail = vigild.ws.read("mail.txt");
            mail.contains("exited unexpectedly")
        }),
        "no mail: {mail}\n{}",
        vigild.log()
    );
    assert!(
        mail.starts_with("To: ops@example.com\nSubject:  crasher crashed at"),
        "{mail}"
    );
    assert!(
        mail.contains("Process crasher in group crasher exited unexpectedly (pid ")
            && mail.ends_with(") from state RUNNING"),
        "{mail}"
    );
}

#[test]
fn superlance_memmon_restarts_a_program_over_its_limit() {
    let port = free_port();
    let python = venv_python().display().to_string();
    let vigild = Vigild::with_config(&format!(
        "{}[eventlistener:memmon]\ncommand={} -p hog=20MB\nevents=TICK_5\n\
         stderr_logfile={{dir}}/memmon.err\n\n\
         [program:hog]\ncommand={python} -c \"import time; hog = b'x' * (64 * 1024 * 1024); time.sleep(1000)\"\n",
        control(port),
        plugin("memmon")
    ));
    // memmon stops and starts it through the XML-RPC API.
    let log = vigild.wait_log_count("spawned: 'hog' with pid ", 2);
    assert!(
        log.contains("stopped: hog (terminated by SIGTERM)"),
        "{log}"
    );
    let err = vigild.ws.read("memmon.err");
    assert!(err.contains("Restarting hog"), "memmon says why: {err}");
}

#[test]
fn superlance_httpok_restarts_a_program_that_answers_500() {
    let port = free_port();
    let web_port = free_port();
    let python = venv_python().display().to_string();
    let ws = Workspace::new();
    ws.write(
        "web.py",
        "import http.server, sys\n\
         class Sick(http.server.BaseHTTPRequestHandler):\n\
         \x20   def do_GET(self):\n\
         \x20       self.send_response(500)\n\
         \x20       self.end_headers()\n\
         http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), Sick).serve_forever()\n",
    );
    ws.config(&format!(
        "{}[eventlistener:httpok]\ncommand={} -p web -t 2 http://127.0.0.1:{web_port}/\n\
         events=TICK_5\nstderr_logfile={{dir}}/httpok.err\n\n\
         [program:web]\ncommand={python} {{dir}}/web.py {web_port}\n",
        control(port),
        plugin("httpok")
    ));
    let vigild = Vigild::start(ws, &[]);
    vigild.wait_log_count("spawned: 'web' with pid ", 2);
    let mut err = String::new();
    assert!(
        wait_until(|| {
            err = vigild.ws.read("httpok.err");
            err.contains("web is in RUNNING state, restarting") && err.contains("web restarted")
        }),
        "{err}"
    );
}

#[test]
fn vigils_own_events_go_only_to_listeners_that_name_them() {
    let python = venv_python().display().to_string();
    let ws = Workspace::new();
    ws.write("recorder.py", EVENT_RECORDER);
    ws.config(&format!(
        "[eventlistener:everything]\ncommand={python} {{dir}}/recorder.py {{dir}}/everything.log\n\
         events=EVENT\nbuffer_size=100\n\n\
         [eventlistener:crashes]\ncommand={python} {{dir}}/recorder.py {{dir}}/crashes.log\n\
         events=VIGIL_CRASH,VIGIL_CRASHLOOP\n\n\
         [program:boom]\ncommand=/bin/sh -c 'sleep 1.2; echo \"fatal: disk on fire\" >&2; exit 1'\n\
         autorestart=true\ncrashloop_threshold=2\nrestart_delay=30\n"
    ));
    let vigild = Vigild::start(ws, &[]);
    let mut crashes = String::new();
    assert!(
        wait_until(|| {
            crashes = vigild.ws.read("crashes.log");
            // The loop's event comes before the second crash's record.
            crashes.contains("eventname:VIGIL_CRASHLOOP")
                && crashes.matches("eventname:VIGIL_CRASH ").count() == 2
        }),
        "{crashes}\n{}",
        vigild.log()
    );
    assert!(
        crashes.contains("'processname:boom groupname:boom state:entered\\nfatal: disk on fire'"),
        "{crashes}"
    );
    let records: Vec<&str> = crashes
        .lines()
        .filter(|line| line.contains("eventname:VIGIL_CRASH "))
        .collect();
    assert_eq!(records.len(), 2, "{crashes}");
    assert!(
        records[1].contains(r#""crash_loop":true"#)
            && records[1].contains(r#""tail":"fatal: disk on fire""#),
        "{crashes}"
    );
    assert!(
        !crashes.contains("PROCESS_STATE"),
        "only what it named: {crashes}"
    );
    let everything = vigild.ws.read("everything.log");
    assert!(
        everything.contains("eventname:PROCESS_STATE_EXITED"),
        "{everything}"
    );
    assert!(
        !everything.contains("VIGIL_"),
        "EVENT excludes vigil's own: {everything}"
    );
}

#[test]
fn a_failed_event_is_sent_again() {
    let port = free_port();
    let python = venv_python().display().to_string();
    let ws = Workspace::new();
    ws.write("recorder.py", EVENT_RECORDER);
    ws.config(&format!(
        "{}[eventlistener:picky]\ncommand={python} {{dir}}/recorder.py {{dir}}/events.log please-fail\n\
         events=REMOTE_COMMUNICATION\n",
        control(port)
    ));
    let vigild = Vigild::start(ws, &[]);
    assert!(wait_until(|| vigild
        .log()
        .contains("success: picky entered RUNNING")));
    call(
        port,
        "supervisor.sendRemoteCommEvent",
        "'note', 'please-fail'",
    );
    call(port, "supervisor.sendRemoteCommEvent", "'note', 'fine'");
    let mut events = String::new();
    assert!(
        wait_until(|| {
            events = vigild.ws.read("events.log");
            events.lines().count() >= 3
        }),
        "{events}"
    );
    let serials: Vec<&str> = events
        .lines()
        .filter_map(|line| line.split(' ').find(|w| w.starts_with("serial:")))
        .collect();
    assert_eq!(
        serials,
        ["serial:0", "serial:0", "serial:1"],
        "FAIL puts the event back at the head: {events}"
    );
    assert!(vigild.log().contains("WARN picky: event was rejected"));
}

/// Path of a shipped example listener.
fn example(name: &str) -> String {
    format!("{}/config/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_periodic_restart_example_restarts_on_its_ticks() {
    let port = free_port();
    let python = venv_python().display().to_string();
    let vigild = Vigild::with_config(&format!(
        "{}[eventlistener:periodic_restart]\ncommand={python} {} --every 1 web workers:*\n\
         events=TICK_5\nstderr_logfile={{dir}}/restart.err\n\n\
         [program:web]\ncommand=/bin/sleep 1000\n\n\
         [program:worker]\ncommand=/bin/sleep 1000\nprocess_name=%(program_name)s_%(process_num)d\nnumprocs=2\n\
         [group:workers]\nprograms=worker\n",
        control(port),
        example("periodic_restart.py")
    ));
    let log = vigild.wait_log_count("spawned: 'worker_1' with pid ", 2);
    for name in ["web", "worker_0", "worker_1"] {
        assert!(
            log.contains(&format!("stopped: {name} (terminated by SIGTERM)")),
            "{log}"
        );
    }
    let mut err = String::new();
    assert!(
        wait_until(|| {
            err = vigild.ws.read("restart.err");
            err.contains("restarted web") && err.contains("restarted workers:*")
        }),
        "{err}"
    );
}

#[test]
fn the_crash_alert_example_reports_crashes_loops_and_fatal_from_a_pool_of_two() {
    let python = venv_python().display().to_string();
    let vigild = Vigild::with_config(&format!(
        "[eventlistener:crash_alert]\ncommand={python} {} --file {{dir}}/alerts.txt\n\
         events=VIGIL_CRASH,VIGIL_CRASHLOOP,PROCESS_STATE_FATAL\n\
         process_name=%(program_name)s_%(process_num)d\nnumprocs=2\n\n\
         [program:boom]\ncommand=/bin/sh -c 'sleep 1.2; echo \"panic: out of cheese\" >&2; exit 2'\n\
         autorestart=true\ncrashloop_threshold=2\ncrashloop_giveup=1\nrestart_delay=0.5\n",
        example("crash_alert.py")
    ));
    // Three crashes (two make the loop, one more reaches crashloop_giveup=1), one loop,
    // one FATAL; the two listeners of the pool may write them in any order.
    let crash_lines = |alerts: &str| {
        alerts
            .lines()
            .filter(|line| line.starts_with("CRASH boom:boom pid "))
            .count()
    };
    let mut alerts = String::new();
    assert!(
        wait_until(|| {
            alerts = vigild.ws.read("alerts.txt");
            alerts.contains("FATAL boom:boom") && crash_lines(&alerts) == 3
        }),
        "{alerts}\n{}",
        vigild.log()
    );
    assert!(
        alerts
            .lines()
            .filter(|line| line.starts_with("CRASH boom:boom pid "))
            .all(|line| line.contains(" exit status 2 after ")
                && line.ends_with("s: panic: out of cheese")),
        "{alerts}"
    );
    assert!(
        alerts.contains("CRASH LOOP boom:boom entered: panic: out of cheese"),
        "{alerts}"
    );
}

#[test]
fn a_listener_that_answers_then_exits_is_not_sent_the_event_again() {
    let port = free_port();
    let python = venv_python().display().to_string();
    let ws = Workspace::new();
    ws.write(
        "once.py",
        "import sys\n\
         sys.stdout.write('READY\\n'); sys.stdout.flush()\n\
         header = sys.stdin.readline()\n\
         fields = dict(token.split(':', 1) for token in header.split())\n\
         payload = sys.stdin.read(int(fields['len']))\n\
         open(sys.argv[1], 'a').write(payload.split('\\n')[1] + '\\n')\n\
         sys.stdout.write('RESULT 2\\nOK'); sys.stdout.flush()\n",
    );
    ws.config(&format!(
        "{}[eventlistener:once]\ncommand={python} {{dir}}/once.py {{dir}}/seen.txt\n\
         events=REMOTE_COMMUNICATION\nstartsecs=0\nautorestart=true\n",
        control(port)
    ));
    let vigild = Vigild::start(ws, &[]);
    vigild.wait_log("success: once entered RUNNING");
    call(port, "supervisor.sendRemoteCommEvent", "'t', 'first'");
    vigild.wait_log_count("success: once entered RUNNING", 2);
    call(port, "supervisor.sendRemoteCommEvent", "'t', 'second'");
    let mut seen = String::new();
    assert!(
        wait_until(|| {
            seen = vigild.ws.read("seen.txt");
            seen.contains("second")
        }),
        "{seen}\n{}",
        vigild.log()
    );
    assert_eq!(seen, "first\nsecond\n", "each event once");
}

#[test]
fn a_dead_childs_last_output_reaches_listeners_before_its_exit() {
    let python = venv_python();
    let python = python.display();
    let port = free_port();
    let ws = Workspace::new();
    ws.write("recorder.py", EVENT_RECORDER);
    // The first child leaves a grandchild holding its stdout, which writes only once the
    // test says so; the respawned child just runs.
    ws.config(&format!(
        "{}[eventlistener:recorder]\ncommand={python} {{dir}}/recorder.py {{dir}}/events.log\n\
         events=PROCESS_STATE,PROCESS_LOG\nbuffer_size=100\n\n\
         [program:last]\ncommand=sh -c 'if [ -e {{dir}}/first-done ]; then exec sleep 1000; fi; \
         touch {{dir}}/first-done; (while [ ! -e {{dir}}/go ]; do sleep 0.01; done; echo late words) & exit 3'\n\
         startsecs=0\nautorestart=true\nstdout_events_enabled=true\n",
        control(port)
    ));
    let vigild = Vigild::start(ws, &[]);
    let dir = vigild.ws.path().to_path_buf();
    // The respawn is not held up by the old child's output, which is still to come.
    let mut second = 0;
    let respawned = wait_until(|| {
        let info = call(port, "supervisor.getProcessInfo", "'last'");
        let info: serde_json::Value = serde_json::from_str(&info).expect("json");
        second = info["pid"].as_i64().unwrap_or(0);
        second > 0
            && std::fs::read_to_string(format!("/proc/{second}/comm"))
                .is_ok_and(|comm| comm.trim() == "sleep")
    });
    assert!(respawned, "no respawn while the old output was pending");
    assert!(dir.join("first-done").exists() && !dir.join("go").exists());
    std::fs::write(dir.join("go"), "").expect("go");
    let read = || std::fs::read_to_string(dir.join("events.log")).unwrap_or_default();
    let running = format!("processname:last groupname:last from_state:STARTING pid:{second}");
    assert!(
        wait_until(|| read().contains(&running)),
        "events:\n{}",
        read()
    );
    let events = read();
    let position = |needle: &str| {
        events
            .lines()
            .position(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{events}"))
    };
    let late = position("late words");
    let exited = position("eventname:PROCESS_STATE_EXITED");
    let restarted = position(&running);
    assert!(
        late < exited && exited < restarted,
        "the last output must come before the exit, the exit before the respawn:\n{events}"
    );
}

/// vigild's peak resident memory (VmHWM), in bytes.
fn peak_rss(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

#[test]
fn a_listener_writing_megabytes_without_a_newline_is_a_protocol_error() {
    let port = free_port();
    let python = venv_python().display().to_string();
    let ws = Workspace::new();
    // Busy with an event, it answers 32 MiB without a newline instead of a RESULT line.
    ws.write(
        "flood.py",
        "import sys\n\
         sys.stdout.write('READY\\n')\n\
         sys.stdout.flush()\n\
         fields = dict(t.split(':', 1) for t in sys.stdin.readline().split())\n\
         sys.stdin.read(int(fields['len']))\n\
         for _ in range(32):\n\
         \x20   sys.stdout.buffer.write(b'x' * (1 << 20))\n\
         \x20   sys.stdout.flush()\n\
         open(sys.argv[1], 'w').write('written')\n\
         sys.stdin.read()\n",
    );
    ws.config(&format!(
        "{}[eventlistener:flood]\ncommand={python} {{dir}}/flood.py {{dir}}/written\n\
         events=REMOTE_COMMUNICATION\nstdout_logfile=NONE\n\n\
         [program:other]\ncommand=/bin/sleep 1000\nstartsecs=0\nautostart=false\n",
        control(port)
    ));
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("success: flood entered RUNNING");
    let before = peak_rss(vigild.pid());
    assert_eq!(
        call(port, "supervisor.sendRemoteCommEvent", "'note', 'go'"),
        "true"
    );
    let log = vigild.wait_log("WARN flood: wrote a result line longer than 65536 bytes");
    assert!(
        log.contains("flood: has entered the UNKNOWN state"),
        "{log}"
    );
    assert!(
        wait_until(|| vigild.ws.read("written") == "written"),
        "the listener could not write all of it"
    );
    let grown = peak_rss(vigild.pid()).saturating_sub(before);
    assert!(
        grown < 16 << 20,
        "vigild's peak RSS grew by {grown} bytes while the listener wrote 32 MiB"
    );
    // The listener runs on (as under supervisord, UNKNOWN only stops its events) and
    // vigild serves and supervises as before.
    let (_, status) = vigild.vigilctl(&["status", "flood"]);
    assert!(status.contains("RUNNING"), "{status}");
    assert_eq!(
        call(port, "supervisor.sendRemoteCommEvent", "'note', 'again'"),
        "true"
    );
    assert_eq!(
        vigild.vigilctl(&["start", "other"]),
        (0, "other: started\n".into())
    );
    vigild.shutdown();
}
