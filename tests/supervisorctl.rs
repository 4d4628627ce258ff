//! The real Python `supervisorctl` (and `xmlrpc.client`) against vigild: output, exit codes
//! and faults as with supervisord 4.3.

use std::process::Command;

use std::collections::BTreeMap;

use crate::support::{
    control, free_port, run_python, wait_until, Supervisord, Vigild, Workspace, CONTROL_SECTIONS,
};

fn fleet() -> Vigild {
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:web]\ncommand=/bin/sleep 1000\nstartsecs=0\n\n\
         [program:worker]\ncommand=/bin/sh -c \"echo hello from %(process_num)d; exec sleep 1000\"\n\
         process_name=%(program_name)s_%(process_num)02d\nnumprocs=2\nstartsecs=0\n\n\
         [program:idle]\ncommand=/bin/sleep 1000\nautostart=false\n\n\
         [program:missing]\ncommand=/no/such/binary\nautostart=false\n"
    ));
    let vigild = Vigild::start(ws, &[]);
    vigild.wait_log_count("entered RUNNING state", 3);
    vigild
}

/// status lines as (namespec, state, description).
fn status_lines(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .map(|line| {
            let mut parts = line
                .splitn(3, char::is_whitespace)
                .filter(|p| !p.is_empty());
            let name = parts.next().unwrap_or_default().to_string();
            let rest = line[name.len()..].trim_start();
            let (state, description) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            (
                name,
                state.to_string(),
                description.trim_start().to_string(),
            )
        })
        .collect()
}

#[test]
fn status_lists_every_process_with_supervisords_format_and_exit_codes() {
    let mut vigild = fleet();
    let (code, out) = vigild.ctl(&["status"]);
    assert_eq!(code, 3, "a STOPPED process makes status exit 3: {out}");
    let lines = status_lines(&out);
    let names: Vec<&str> = lines.iter().map(|l| l.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "idle",
            "missing",
            "web",
            "worker:worker_00",
            "worker:worker_01"
        ],
        "{out}"
    );
    let web = out
        .lines()
        .find(|l| l.starts_with("web "))
        .expect("web line");
    assert_eq!(
        &web[..33],
        format!("{:<33}", "web"),
        "name padded to 33 columns: {web:?}"
    );
    assert_eq!(&web[33..43], "RUNNING   ", "{web:?}");
    assert!(
        web[43..].starts_with("pid ") && web.contains(", uptime 0:00:"),
        "{web:?}"
    );
    assert_eq!(lines[0].1, "STOPPED");
    assert_eq!(lines[0].2, "Not started");

    let (code, out) = vigild.ctl(&["status", "web", "worker:*"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(status_lines(&out).len(), 3, "{out}");
    let (code, out) = vigild.ctl(&["status", "nosuch"]);
    assert_eq!((code, out.trim()), (4, "nosuch: ERROR (no such process)"));
    vigild.shutdown();
}

#[test]
fn start_stop_restart_by_name_group_and_all() {
    let mut vigild = fleet();
    assert_eq!(
        vigild.ctl(&["stop", "web"]),
        (0, "web: stopped\n".to_string())
    );
    let (code, out) = vigild.ctl(&["stop", "web"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "web: ERROR (not running)\n"),
        "stopping a stopped process"
    );
    assert_eq!(
        vigild.ctl(&["start", "web"]),
        (0, "web: started\n".to_string())
    );
    let (code, out) = vigild.ctl(&["start", "web"]);
    assert_eq!((code, out.as_str()), (0, "web: ERROR (already started)\n"));
    let (code, out) = vigild.ctl(&["restart", "worker:*"]);
    assert_eq!(code, 0, "{out}");
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "worker:worker_00: started",
            "worker:worker_00: stopped",
            "worker:worker_01: started",
            "worker:worker_01: stopped"
        ]
    );
    let (code, out) = vigild.ctl(&["start", "missing"]);
    assert_eq!((code, out.as_str()), (1, "missing: ERROR (no such file)\n"));
    let (code, out) = vigild.ctl(&["start", "nosuch"]);
    assert_eq!(
        (code, out.as_str()),
        (1, "nosuch: ERROR (no such process)\n")
    );
    let (code, out) = vigild.ctl(&["stop", "all"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.lines().count(),
        3,
        "web and two workers were running: {out}"
    );
    let (code, _) = vigild.ctl(&["status"]);
    assert_eq!(code, 3);
    vigild.shutdown();
}

#[test]
fn pid_tail_version_and_shutdown() {
    let mut vigild = fleet();
    let (code, out) = vigild.ctl(&["pid"]);
    assert_eq!((code, out.trim()), (0, vigild.pid().to_string().as_str()));
    let (code, out) = vigild.ctl(&["pid", "idle"]);
    assert_eq!(
        (code, out.trim()),
        (7, "0"),
        "pid of a process that is not running"
    );
    // supervisorctl prints the bytes and a newline of its own.
    assert!(wait_until(
        || vigild.ctl(&["tail", "worker:worker_01"]).1 == "hello from 1\n\n"
    ));
    let (code, out) = vigild.ctl(&["version"]);
    assert_eq!((code, out.trim()), (0, "4.3.0"));
    let (code, out) = vigild.ctl(&["shutdown"]);
    assert_eq!((code, out.trim()), (0, "Shut down"));
    assert!(vigild.wait_exit().success());
    assert!(
        !vigild.ws.path().join("vigil.sock").exists(),
        "socket removed at exit"
    );
}

#[test]
fn xmlrpc_clients_get_supervisords_faults_and_structs_over_inet_with_auth() {
    let port = crate::support::free_port();
    let ws = Workspace::new();
    ws.config(&format!(
        "[inet_http_server]\nport=127.0.0.1:{port}\nusername=admin\npassword={{SHA}}82ab876d1387bfafe46cc1c8a2ef074eae50cb1d\n\n\
         [program:web]\ncommand=/bin/sleep 1000\nstartsecs=0\n\n[program:idle]\ncommand=/bin/sleep 1000\nautostart=false\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("success: web entered RUNNING state");
    let script = format!(
        r#"
import xmlrpc.client
def fault(call):
    try:
        call()
        return None
    except xmlrpc.client.Fault as f:
        return (f.faultCode, f.faultString)
denied = xmlrpc.client.ServerProxy("http://127.0.0.1:{port}/RPC2")
try:
    denied.supervisor.getState()
    print("auth: none")
except xmlrpc.client.ProtocolError as e:
    print("auth:", e.errcode)
s = xmlrpc.client.ServerProxy("http://admin:thepassword@127.0.0.1:{port}/RPC2")
print("state:", s.supervisor.getState())
info = s.supervisor.getProcessInfo("web")
print("keys:", sorted(info.keys()))
print("web:", info["statename"], info["state"], info["description"].startswith("pid "))
print("bad_name:", fault(lambda: s.supervisor.getProcessInfo("nope")))
print("already:", fault(lambda: s.supervisor.startProcess("web")))
print("not_running:", fault(lambda: s.supervisor.stopProcess("idle")))
print("unknown:", fault(lambda: s.supervisor.nosuchMethod()))
print("bad_args:", fault(lambda: s.supervisor.readLog(-1, 5)))
print("multicall:", s.system.multicall([{{"methodName": "supervisor.getAPIVersion", "params": []}}, {{"methodName": "supervisor.nope", "params": []}}]))
print("signature:", s.system.methodSignature("supervisor.tailProcessStdoutLog"))
print("all:", [p["name"] for p in s.supervisor.getAllProcessInfo()])
"#
    );
    let output = run_python(&script, &[]);
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = [
        "auth: 401",
        "state: {'statecode': 1, 'statename': 'RUNNING'}",
        "keys: ['description', 'exitstatus', 'group', 'logfile', 'name', 'now', 'pid', 'spawnerr', 'start', 'state', 'statename', 'stderr_logfile', 'stdout_logfile', 'stop']",
        "web: RUNNING 20 True",
        "bad_name: (10, 'BAD_NAME: nope')",
        "already: (60, 'ALREADY_STARTED: web')",
        "not_running: (70, 'NOT_RUNNING: idle')",
        "unknown: (1, 'UNKNOWN_METHOD')",
        "bad_args: (3, 'BAD_ARGUMENTS')",
        "multicall: ['3.0', {'faultCode': 1, 'faultString': 'UNKNOWN_METHOD'}]",
        "signature: ['array', 'string', 'int', 'int']",
        "all: ['idle', 'web']",
    ];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, expected);
    vigild.shutdown();
}

#[test]
fn a_live_socket_refuses_a_second_daemon_and_a_stale_one_is_replaced() {
    let mut vigild = fleet();
    let second = Workspace::new();
    let socket = vigild.ws.path().join("vigil.sock");
    second.config(&format!("[unix_http_server]\nfile={}\n", socket.display()));
    let output = second.run_vigild(&["-n", "-c", "supervisord.conf"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("Another program is already listening"),
        "{stderr}"
    );
    vigild.shutdown();

    // A socket file nobody listens on (a daemon that died) is replaced.
    let stale = std::os::unix::net::UnixListener::bind(&socket).expect("stale socket");
    drop(stale);
    let stale_ws = Workspace::new();
    stale_ws.config(&format!(
        "[unix_http_server]\nfile={}\n\n[program:a]\ncommand=/bin/sleep 1000\nstartsecs=0\n",
        socket.display()
    ));
    let mut replacement = Vigild::start(stale_ws, &[]);
    replacement.wait_log("success: a entered RUNNING state");
    replacement.shutdown();
}

/// Output of a long-running command, collected by a reader thread.
struct Follower {
    child: std::process::Child,
    output: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Follower {
    fn start(vigild: &Vigild, args: &[&str]) -> Self {
        use std::io::Read;
        let mut child = Command::new(crate::support::supervisorctl_bin())
            .arg("-c")
            .arg(vigild.ws.path().join("supervisord.conf"))
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("supervisorctl");
        let output = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut stdout = child.stdout.take().expect("stdout");
        let sink = std::sync::Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                if let Ok(mut text) = sink.lock() {
                    text.push_str(&String::from_utf8_lossy(&buffer[..n]));
                }
            }
        });
        Follower { child, output }
    }

    fn text(&self) -> String {
        self.output.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn tail_f_and_maintail_f_follow_the_logs() {
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:ticker]\ncommand=/bin/sh -c \"i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.05; done\"\nstartsecs=0\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("success: ticker entered RUNNING state");
    let follower = Follower::start(&vigild, &["tail", "-f", "ticker"]);
    assert!(
        wait_until(|| follower.text().contains("==> Press Ctrl-C to exit <==")),
        "{}",
        follower.text()
    );
    // Lines written after the follow began arrive, in order.
    assert!(
        wait_until(|| follower.text().matches("tick-").count() > 20),
        "{}",
        follower.text()
    );
    let text = follower.text();
    let numbers: Vec<u32> = text
        .lines()
        .filter_map(|l| l.strip_prefix("tick-").and_then(|n| n.parse().ok()))
        .collect();
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{text}");
    let main = Follower::start(&vigild, &["maintail", "-f"]);
    assert!(
        wait_until(|| main
            .text()
            .contains("success: ticker entered RUNNING state")),
        "{}",
        main.text()
    );
    drop(follower);
    drop(main);
    vigild.shutdown();
}

#[test]
fn fg_sends_stdin_and_signal_and_clear_work() {
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:echo]\ncommand=/bin/cat\nstartsecs=0\nstdout_logfile={{dir}}/echo.log\n\n\
         [program:trap]\ncommand=/bin/sh -c \"trap 'echo got-usr1' USR1; while true; do sleep 0.05; done\"\n\
         startsecs=0\nstdout_logfile={{dir}}/trap.log\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log_count("entered RUNNING state", 2);
    // supervisorctl's fg thread only ends when log data wakes it, so its own exit is not
    // waited for: the test checks the input reached the child, then kills it.
    let mut fg = Command::new(crate::support::supervisorctl_bin())
        .arg("-c")
        .arg(vigild.ws.path().join("supervisord.conf"))
        .args(["fg", "echo"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("fg");
    if let Some(mut stdin) = fg.stdin.take() {
        use std::io::Write;
        stdin.write_all(b"hello-fg\n").expect("write to fg");
    }
    let reached = wait_until(|| vigild.ws.read("echo.log").lines().any(|l| l == "hello-fg"));
    let _ = fg.kill();
    let _ = fg.wait();
    assert!(reached, "{}", vigild.ws.read("echo.log"));

    assert_eq!(
        vigild.ctl(&["signal", "USR1", "trap"]),
        (0, "trap: signalled\n".to_string())
    );
    assert!(wait_until(|| vigild
        .ws
        .read("trap.log")
        .contains("got-usr1")));
    let (code, out) = vigild.ctl(&["signal", "NOPE", "trap"]);
    assert_eq!((code, out.as_str()), (1, "trap: ERROR (bad signal name)\n"));

    assert_eq!(
        vigild.ctl(&["clear", "trap"]),
        (0, "trap: cleared\n".to_string())
    );
    assert_eq!(vigild.ws.read("trap.log"), "");
    vigild.shutdown();
}

#[test]
fn avail_reread_update_add_and_remove() {
    let ws = Workspace::new();
    let body = |programs: &str| format!("{CONTROL_SECTIONS}{programs}");
    ws.config(&body(
        "[program:keep]\ncommand=/bin/sleep 1000\nstartsecs=0\n\n\
         [program:change]\ncommand=/bin/sleep 1000\nstartsecs=0\n\n\
         [program:drop]\ncommand=/bin/sleep 1000\nstartsecs=0\npriority=5\n",
    ));
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log_count("entered RUNNING state", 3);
    let keep_pid = vigild.ctl(&["pid", "keep"]).1;

    let (code, out) = vigild.ctl(&["avail"]);
    assert_eq!(code, 0, "{out}");
    let avail: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        avail,
        [
            vec!["change", "in", "use", "auto", "999:999"],
            vec!["drop", "in", "use", "auto", "5:5"],
            vec!["keep", "in", "use", "auto", "999:999"],
        ]
    );
    assert_eq!(
        vigild.ctl(&["reread"]),
        (0, "No config updates to processes\n".to_string())
    );

    vigild.ws.config(&body(
        "[program:keep]\ncommand=/bin/sleep 1000\nstartsecs=0\n\n\
         [program:change]\ncommand=/bin/sleep 2000\nstartsecs=0\n\n\
         [program:new]\ncommand=/bin/sleep 1000\nstartsecs=0\n",
    ));
    let (code, out) = vigild.ctl(&["reread"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "change: changed\ndrop: disappeared\nnew: available\n")
    );
    let (code, out) = vigild.ctl(&["update"]);
    assert_eq!(code, 0, "{out}");
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "change: stopped",
            "change: updated process group",
            "drop: removed process group",
            "drop: stopped",
            "new: added process group",
        ]
    );
    let (_, status) = vigild.ctl(&["status"]);
    let names: Vec<&str> = status
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["change", "keep", "new"], "{status}");
    assert!(
        wait_until(|| vigild.ctl(&["status", "change", "new"]).0 == 0),
        "started again"
    );
    assert_eq!(
        vigild.ctl(&["pid", "keep"]).1,
        keep_pid,
        "an unchanged program keeps running"
    );

    // A bad config on reread changes nothing.
    vigild.ws.config(&body(
        "[program:keep]\ncommand=/bin/sleep 1000\nstartsecs=maybe\n",
    ));
    let (code, out) = vigild.ctl(&["reread"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("ERROR: CANT_REREAD: ") && out.contains("startsecs=maybe"),
        "{out}"
    );
    assert_eq!(vigild.ctl(&["pid", "keep"]).1, keep_pid);

    let (code, out) = vigild.ctl(&["remove", "keep"]);
    assert_eq!(
        (code, out.trim()),
        (1, "ERROR: process/group still running: keep")
    );
    let (code, out) = vigild.ctl(&["add", "keep"]);
    assert_eq!(
        (code, out.trim()),
        (0, "ERROR: process group already active")
    );
    vigild.shutdown();
}

#[test]
fn reload_restarts_the_fleet_in_the_same_daemon() {
    let mut vigild = fleet();
    let before = vigild.ctl(&["pid", "web"]).1;
    assert_eq!(
        vigild.ctl(&["reload"]),
        (0, "Restarted supervisord\n".to_string())
    );
    vigild.wait_log("received SIGHUP indicating restart request");
    assert!(
        wait_until(|| {
            let (code, pid) = vigild.ctl(&["pid", "web"]);
            code == 0 && pid != before
        }),
        "web restarted with a new pid"
    );
    let (code, out) = vigild.ctl(&["pid"]);
    assert_eq!(
        (code, out.trim()),
        (0, vigild.pid().to_string().as_str()),
        "same daemon"
    );
    vigild.shutdown();
}

#[test]
fn malformed_and_oversized_requests_are_refused_and_the_daemon_lives_on() {
    let (mut vigild, port) =
        Vigild::with_inet_server("[program:web]\ncommand=/bin/sleep 1000\nstartsecs=0\n");
    vigild.wait_log("success: web entered RUNNING state");
    let post = |body: &[u8]| -> String {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let head = format!(
            "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body));
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        reply.lines().next().unwrap_or_default().to_string()
    };
    assert!(post(b"<methodCall><methodName>x").contains(" 400 "));
    assert!(post(b"\xff\xfe garbage").contains(" 400 "));
    let deep = format!(
        "<methodCall><methodName>x</methodName><params><param>{}",
        "<value><array><data>".repeat(100_000)
    );
    assert!(
        post(deep.as_bytes()).contains(" 4"),
        "deep nesting is refused"
    );
    let huge = vec![b'a'; 8 << 20];
    assert!(post(&huge).contains(" 413 "), "bodies over the limit");
    // Still serving.
    assert!(
        post(b"<methodCall><methodName>supervisor.getPID</methodName></methodCall>")
            .contains(" 200 ")
    );
    vigild.shutdown();
}

#[test]
fn the_unix_socket_gets_its_configured_mode() {
    use std::os::unix::fs::PermissionsExt;
    for (option, mode) in [("", 0o700), ("chmod=0766\n", 0o766)] {
        let ws = Workspace::new();
        ws.config(&format!(
            "[unix_http_server]\nfile={{dir}}/vigil.sock\n{option}\n[program:a]\ncommand=/bin/sleep 1000\nstartsecs=0\n"
        ));
        let mut vigild = Vigild::start(ws, &[]);
        vigild.wait_log("success: a entered RUNNING state");
        let metadata = std::fs::metadata(vigild.ws.path().join("vigil.sock")).expect("socket");
        assert_eq!(metadata.permissions().mode() & 0o777, mode, "{option:?}");
        vigild.shutdown();
    }
}

#[test]
fn calls_during_startup_wait_for_the_process_table() {
    // The control plane answers while vigild still creates 2,000 AUTO log files; a call
    // about processes made then must see them all, never an empty fleet.
    let (_vigild, port) = Vigild::with_inet_server(&format!(
        "{CONTROL_SECTIONS}\n[program:many]\ncommand=/bin/sleep 1000\nprocess_name=%(program_name)s_%(process_num)d\n\
         numprocs=1000\nautostart=false\n"
    ));
    let script = format!(
        r#"
import time, xmlrpc.client
s = xmlrpc.client.ServerProxy("http://127.0.0.1:{port}/RPC2")
deadline = time.time() + 20
while True:
    try:
        print(len(s.supervisor.getAllProcessInfo()))
        break
    except OSError:
        if time.time() > deadline:
            raise
        time.sleep(0.001)
"#
    );
    let output = run_python(&script, &[]);
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        out.trim(),
        "1000",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Every method the server on `port` lists, with its signature; None until it answers.
fn method_table(port: u16) -> Option<BTreeMap<String, serde_json::Value>> {
    let script = format!(
        "import json, xmlrpc.client\n\
         proxy = xmlrpc.client.ServerProxy('http://127.0.0.1:{port}/RPC2')\n\
         print(json.dumps({{m: proxy.system.methodSignature(m) for m in proxy.system.listMethods()}}))"
    );
    let output = run_python(&script, &[]);
    if !output.status.success() {
        return None;
    }
    serde_json::from_slice(&output.stdout).ok()
}

/// Polls `port` until its method table arrives.
fn wait_for_methods(port: u16) -> BTreeMap<String, serde_json::Value> {
    let mut table = None;
    assert!(wait_until(|| {
        table = method_table(port);
        table.is_some()
    }));
    table.unwrap_or_default()
}

#[test]
fn every_supervisord_method_is_served_with_its_signature() {
    let port = free_port();
    let ws = Workspace::new();
    let config = ws.config(&control(port));
    let supervisord = Supervisord::start(&ws, &config);
    let theirs = wait_for_methods(port);
    drop(supervisord);

    let port = free_port();
    let _vigild = Vigild::with_config(&control(port));
    let ours = wait_for_methods(port);
    assert!(theirs.len() > 30, "{theirs:?}");
    for (method, signature) in &theirs {
        assert_eq!(ours.get(method), Some(signature), "{method}");
    }
    let extra: Vec<&String> = ours.keys().filter(|m| !theirs.contains_key(*m)).collect();
    assert!(extra.iter().all(|m| m.starts_with("vigil.")), "{extra:?}");
}
