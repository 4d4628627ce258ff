//! The read-only account (`readonly_username` / `readonly_password`) against a real vigild:
//! over XML-RPC (Python's xmlrpc.client, multicall included) every read works and every
//! change is refused with UNAUTHORIZED; the real supervisorctl (and vigilctl) can show
//! status and tails but not start, stop or shut down; the web page has no actions for it and refuses its posts.
//! In each, nothing changed and the full account still does everything.

use crate::support::*;

/// Both accounts of a server: the full one (`thepassword`, as SHA-1) and the read-only one.
const ACCOUNTS: &str = "username=admin\npassword={SHA}82ab876d1387bfafe46cc1c8a2ef074eae50cb1d\n\
    readonly_username=viewer\nreadonly_password=look\n";

const FLEET: &str = "[program:web]\ncommand=/bin/sh -c 'echo hello-from-web; exec sleep 1000'\n\
    startsecs=0\nstdout_logfile={dir}/web.out\n\n\
    [program:idle]\ncommand=/bin/sleep 1000\nautostart=false\n";

/// vigild with both accounts on its inet port (returned) and on a unix socket, `web`
/// RUNNING with its line of output logged, `idle` STOPPED.
fn fleet() -> (Vigild, u16) {
    let port = free_port();
    let vigild = Vigild::with_config(&format!(
        "[unix_http_server]\nfile={{dir}}/vigil.sock\n{ACCOUNTS}\n{}{FLEET}",
        control_with(port, ACCOUNTS)
    ));
    vigild.wait_log("success: web entered RUNNING state");
    assert!(
        wait_until(|| vigild.ws.read("web.out").contains("hello-from-web")),
        "web's output is logged"
    );
    (vigild, port)
}

/// `(state, pid)` of `name` as the full account's `supervisorctl status` shows it.
fn state_of(vigild: &Vigild, name: &str) -> (String, String) {
    let (_, out) = vigild.ctl(&["-u", "admin", "-p", "thepassword", "status", name]);
    let words: Vec<&str> = out.split_whitespace().collect();
    let state = words.get(1).copied().unwrap_or_default().to_string();
    let pid = match words.get(2) {
        Some(&"pid") => words.get(3).copied().unwrap_or_default(),
        _ => "",
    };
    (state, pid.trim_end_matches(',').to_string())
}

/// Every method that only reads, with arguments it answers successfully.
const READS: &[(&str, &str)] = &[
    ("supervisor.getAPIVersion", "[]"),
    ("supervisor.getAllConfigInfo", "[]"),
    ("supervisor.getAllProcessInfo", "[]"),
    ("supervisor.getIdentification", "[]"),
    ("supervisor.getPID", "[]"),
    ("supervisor.getProcessInfo", r#"["web"]"#),
    ("supervisor.getState", "[]"),
    ("supervisor.getSupervisorVersion", "[]"),
    ("supervisor.getVersion", "[]"),
    ("supervisor.readLog", "[0, 100]"),
    ("supervisor.readMainLog", "[0, 100]"),
    ("supervisor.readProcessLog", r#"["web", 0, 100]"#),
    ("supervisor.readProcessStdoutLog", r#"["web", 0, 100]"#),
    ("supervisor.tailProcessLog", r#"["web", 0, 100]"#),
    ("supervisor.tailProcessStderrLog", r#"["web", 0, 100]"#),
    ("supervisor.tailProcessStdoutLog", r#"["web", 0, 100]"#),
    ("supervisor.readProcessStderrLog", r#"["web", 0, 100]"#),
    ("system.listMethods", "[]"),
    ("system.methodHelp", r#"["supervisor.getState"]"#),
    ("system.methodSignature", r#"["supervisor.getState"]"#),
    ("system.multicall", "[[]]"),
    ("vigil.getAllProcessStats", "[]"),
    ("vigil.getCrashLoopState", r#"["web"]"#),
    ("vigil.getCrashes", r#"["web", 0]"#),
    ("vigil.getDaemonInfo", "[]"),
    ("vigil.getProcessConfig", r#"["web"]"#),
    ("vigil.getProcessStats", r#"["web"]"#),
    ("vigil.getSchedules", "[]"),
    ("vigil.readPreviousLog", r#"["web", "stdout"]"#),
];

/// Every method that changes something, with arguments that would change the fleet if the
/// call were let through (shutdown and restart last).
const CHANGES: &[(&str, &str)] = &[
    ("supervisor.addProcessGroup", r#"["web"]"#),
    ("supervisor.clearAllProcessLogs", "[]"),
    ("supervisor.clearLog", "[]"),
    ("supervisor.clearProcessLog", r#"["web"]"#),
    ("supervisor.clearProcessLogs", r#"["web"]"#),
    ("supervisor.reloadConfig", "[]"),
    ("supervisor.removeProcessGroup", r#"["idle"]"#),
    ("supervisor.sendProcessStdin", r#"["web", "x\n"]"#),
    ("supervisor.sendRemoteCommEvent", r#"["kind", "data"]"#),
    ("supervisor.signalAllProcesses", r#"["TERM"]"#),
    ("supervisor.signalProcess", r#"["web", "TERM"]"#),
    ("supervisor.signalProcessGroup", r#"["web", "TERM"]"#),
    ("supervisor.startAllProcesses", "[false]"),
    ("supervisor.startProcess", r#"["idle", false]"#),
    ("supervisor.startProcessGroup", r#"["idle", false]"#),
    ("supervisor.stopAllProcesses", "[false]"),
    ("supervisor.stopProcess", r#"["web", false]"#),
    ("supervisor.stopProcessGroup", r#"["web", false]"#),
    ("vigil.reexec", r#"[""]"#),
    ("vigil.reloadProcess", r#"["web", false]"#),
    ("vigil.rollingRestart", r#"["web", 1, false]"#),
    ("vigil.rotateLogs", r#"["web"]"#),
    ("vigil.rotateMainLog", "[]"),
    ("vigil.scaleGroup", r#"["web", 3]"#),
    ("vigil.startProcesses", r#"[["idle"], false]"#),
    ("vigil.stopProcesses", r#"[["web"], false]"#),
    ("vigil.updateProcessGroup", r#"["web"]"#),
    ("supervisor.restart", "[]"),
    ("supervisor.shutdown", "[]"),
];

/// A JSON object of `calls`' names and arguments, for the script.
fn calls_json(calls: &[(&str, &str)]) -> String {
    let members: Vec<String> = calls
        .iter()
        .map(|(name, args)| format!("\"{name}\": {args}"))
        .collect();
    format!("{{{}}}", members.join(", "))
}

/// The fault string the read-only account gets from `method` (code 403).
fn refusal(method: &str) -> String {
    format!("UNAUTHORIZED: {method} changes the supervisor and this account is read-only")
}

const XMLRPC_SCRIPT: &str = r#"
import json, sys, xmlrpc.client
port, reads, changes = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
def proxy(user, password):
    return xmlrpc.client.ServerProxy("http://%s:%s@127.0.0.1:%s/RPC2" % (user, password, port))
viewer, admin = proxy("viewer", "look"), proxy("admin", "thepassword")
def outcome(method, args, who=viewer):
    try:
        getattr(who, method)(*args)
        return "ok"
    except xmlrpc.client.Fault as f:
        return "%d %s" % (f.faultCode, f.faultString)
    except xmlrpc.client.ProtocolError as e:
        return "http %d" % e.errcode
def web():
    info = admin.supervisor.getProcessInfo("web")
    return info["statename"], info["pid"]
before = web()
print("methods:", json.dumps(sorted(viewer.system.listMethods())))
print("wrong password:", outcome("supervisor.getState", [], proxy("viewer", "nope")))
print("full password, read-only name:", outcome("supervisor.getState", [], proxy("viewer", "thepassword")))
for method, args in reads.items():
    print("read", method, outcome(method, args))
for method, args in changes.items():
    print("change", method, outcome(method, args))
print("multicall:", json.dumps(viewer.system.multicall([
    {"methodName": "supervisor.getState", "params": []},
    {"methodName": "supervisor.stopProcess", "params": ["web"]},
    {"methodName": "supervisor.readProcessStdoutLog", "params": ["web", 0, 100]},
])))
print("web unchanged:", web() == before, web()[0])
print("idle:", admin.supervisor.getProcessInfo("idle")["statename"])
print("groups:", sorted(p["group"] for p in admin.supervisor.getAllProcessInfo()))
print("web log:", json.dumps(admin.supervisor.readProcessStdoutLog("web", 0, 100)))
print("main log kept:", "entered RUNNING state" in admin.supervisor.readMainLog(0, 0))
print("full account:", json.dumps(admin.system.multicall([
    {"methodName": "supervisor.stopProcess", "params": ["web"]},
    {"methodName": "supervisor.startProcess", "params": ["web"]},
])), web()[0], web() != before)
"#;

#[test]
fn over_xmlrpc_the_read_only_account_reads_everything_and_changes_nothing() {
    let (mut vigild, port) = fleet();
    let output = run_python(
        XMLRPC_SCRIPT,
        &[&port.to_string(), &calls_json(READS), &calls_json(CHANGES)],
    );
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut every_method: Vec<&str> = READS.iter().chain(CHANGES).map(|(m, _)| *m).collect();
    every_method.sort_unstable();
    let mut expected = vec![
        format!(
            "methods: {}",
            serde_json::to_string(&every_method).unwrap_or_default()
        )
        .replace("\",\"", "\", \""),
        "wrong password: http 401".to_string(),
        "full password, read-only name: http 401".to_string(),
    ];
    expected.extend(READS.iter().map(|(method, _)| format!("read {method} ok")));
    expected.extend(
        CHANGES
            .iter()
            .map(|(method, _)| format!("change {method} 403 {}", refusal(method))),
    );
    expected.extend([
        "multicall: [{\"statecode\": 1, \"statename\": \"RUNNING\"}, {\"faultCode\": 403, \
         \"faultString\": \"UNAUTHORIZED: supervisor.stopProcess changes the supervisor and this \
         account is read-only\"}, \"hello-from-web\\n\"]"
            .to_string(),
        "web unchanged: True RUNNING".to_string(),
        "idle: STOPPED".to_string(),
        "groups: ['idle', 'web']".to_string(),
        "web log: \"hello-from-web\\n\"".to_string(),
        "main log kept: True".to_string(),
        "full account: [true, true] RUNNING True".to_string(),
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, expected);
    assert!(alive(vigild.pid()), "vigild still runs");
    vigild.shutdown();
}

#[test]
fn supervisorctl_as_the_read_only_user_shows_status_and_tails_but_cannot_act() {
    let (mut vigild, _port) = fleet();
    let viewer = ["-u", "viewer", "-p", "look"];
    let as_viewer = |args: &[&str]| {
        let argv: Vec<&str> = viewer.iter().chain(args).copied().collect();
        vigild.ctl(&argv)
    };
    let web_before = state_of(&vigild, "web");
    assert_eq!(web_before.0, "RUNNING");

    let (code, out) = as_viewer(&["status"]);
    assert_eq!(code, 3, "idle is not running: {out}");
    assert!(
        out.contains("web") && out.contains("RUNNING") && out.contains("STOPPED"),
        "{out}"
    );
    let (code, out) = as_viewer(&["tail", "web"]);
    assert_eq!((code, out.as_str()), (0, "hello-from-web\n\n"));
    let (code, out) = as_viewer(&["maintail"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("entered RUNNING state"), "{out}");

    for args in [
        &["start", "idle"][..],
        &["stop", "web"],
        &["restart", "web"],
        &["signal", "TERM", "web"],
        &["clear", "web"],
        &["start", "all"],
        &["stop", "all"],
        &["remove", "idle"],
        &["shutdown"],
    ] {
        let (code, out) = as_viewer(args);
        assert_ne!(code, 0, "{args:?}: {out}");
        assert!(out.contains("403"), "{args:?} names the refusal: {out}");
    }
    // Over the unix socket too.
    let socket = format!("unix://{}/vigil.sock", vigild.ws.path().display());
    let (code, out) = as_viewer(&["-s", &socket, "stop", "web"]);
    assert_ne!(code, 0, "{out}");
    let (code, out) = as_viewer(&["-s", &socket, "shutdown"]);
    assert!(code != 0 && out.contains("read-only"), "{out}");

    assert!(alive(vigild.pid()), "vigild still runs");
    assert_eq!(state_of(&vigild, "web"), web_before, "web untouched");
    assert_eq!(state_of(&vigild, "idle").0, "STOPPED");
    assert_eq!(as_viewer(&["tail", "web"]).1, "hello-from-web\n\n");

    // vigilctl shows the refusal's text.
    for (args, method) in [
        (&["stop", "web"][..], "stopProcess"),
        (&["start", "idle"], "startProcess"),
    ] {
        let argv: Vec<&str> = viewer.iter().chain(args).copied().collect();
        let (code, out) = vigild.vigilctl(&argv);
        let name = args[1];
        assert_eq!(
            (code, out),
            (
                1,
                format!(
                    "{name}: ERROR ({})\n",
                    refusal(&format!("supervisor.{method}"))
                )
            )
        );
    }
    assert_eq!(state_of(&vigild, "web"), web_before, "web untouched");

    // The full account is as it was.
    let (code, out) = vigild.ctl(&["-u", "admin", "-p", "thepassword", "stop", "web"]);
    assert_eq!((code, out.as_str()), (0, "web: stopped\n"));
    let (_, out) = vigild.ctl(&["-u", "viewer", "-p", "wrong", "status"]);
    assert!(out.contains("Server requires authentication"), "{out}");
    vigild.shutdown();
}

#[test]
fn the_page_shows_the_read_only_user_no_actions_and_refuses_its_posts() {
    let (mut vigild, port) = fleet();
    let viewer = Some(("viewer", "look"));
    let viewer_auth = "Authorization: Basic dmlld2VyOmxvb2s=";
    let web_before = state_of(&vigild, "web");

    let (status, page) = http_get(port, "/", viewer);
    assert_eq!(status, 200);
    assert!(page.contains("href=\"/process/web\""), "{page}");
    assert!(page.contains("read-only"), "{page}");
    assert!(
        !page.contains("<button") && !page.contains("name=\"token\""),
        "no actions: {page}"
    );
    let (status, page) = http_get(port, "/process/web", viewer);
    assert_eq!(status, 200);
    assert!(
        !page.contains("<button") && page.contains("/logtail/web"),
        "{page}"
    );
    // What it reads: the JSON API, the tails, the metrics.
    for path in [
        "/api/status",
        "/api/tail/web",
        "/logtail/web",
        "/mainlogtail",
        "/metrics",
    ] {
        if path.contains("logtail") {
            // A tail follows forever: only its answer's start is read.
            assert_eq!(
                first_status(port, path, viewer_auth),
                200,
                "{path} for the viewer"
            );
        } else {
            assert_eq!(http_get(port, path, viewer).0, 200, "{path} for the viewer");
        }
    }

    // The viewer holding the full account's token (from its page) still cannot act.
    let (_, admin_page) = http_get(port, "/", Some(("admin", "thepassword")));
    let token = crate::web::token_of(&admin_page);
    for action in [
        "stop&name=web",
        "restart&name=web",
        "start&name=idle",
        "stopall",
    ] {
        let form = format!("token={token}&action={action}");
        let (status, response) = http_post(
            port,
            "/action",
            &form,
            &[viewer_auth, "Origin: http://127.0.0.1"],
        );
        assert_eq!(status, 403, "{action}: {response}");
        assert!(response.contains("read-only"), "{response}");
    }
    // Nor post to the API.
    let (status, _) = http_post(port, "/api/status", "", &[viewer_auth]);
    assert_eq!(status, 403, "a POST under /api/ is a change");
    assert_eq!(state_of(&vigild, "web"), web_before, "web untouched");
    assert_eq!(state_of(&vigild, "idle").0, "STOPPED");

    // The full account's actions work as before.
    let (status, _) = http_post(
        port,
        "/action",
        &format!("token={token}&action=stop&name=web"),
        &["Authorization: Basic YWRtaW46dGhlcGFzc3dvcmQ="],
    );
    assert_eq!(status, 303);
    assert!(wait_until(|| state_of(&vigild, "web").0 == "STOPPED"));
    vigild.shutdown();
}

/// The status code of `GET path` (with `authorization`), from the first line only: for
/// answers that stream without end.
fn first_status(port: u16, path: &str, authorization: &str) -> u16 {
    use std::io::{BufRead, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("read timeout");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{authorization}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).expect("send request");
    let mut line = String::new();
    let _ = std::io::BufReader::new(stream).read_line(&mut line);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// Calls `method(args)` with an `Authorization: Bearer token` header from Python's
/// xmlrpc.client; its result as JSON text, or the fault's string.
fn bearer_call(port: u16, token: &str, method: &str, args: &str) -> String {
    let setup = format!(
        "proxy = xmlrpc.client.ServerProxy('http://127.0.0.1:{port}/RPC2', headers=[('Authorization', 'Bearer {token}')])"
    );
    py_outcome(&setup, method, args)
}

#[test]
fn bearer_tokens_give_full_or_read_only_access_and_metrics_takes_a_token_file() {
    let (port, metrics) = (free_port(), free_port());
    let ws = Workspace::new();
    // Written as Prometheus and secret stores write them: a trailing newline, spaces.
    ws.write("full.token", "full-t0ken\n");
    ws.write("view.token", "  view-t0ken \n");
    ws.write("scrape.token", "scrape-t0ken\n");
    ws.config(&format!(
        "[inet_http_server]\nport=127.0.0.1:{port}\nusername=admin\npassword=s3cret\n\
         token_file={{dir}}/full.token\nreadonly_token_file={{dir}}/view.token\n\n\
         [metrics]\nport=127.0.0.1:{metrics}\nbearer_token_file={{dir}}/scrape.token\n\n\
         [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         [program:web]\ncommand=/bin/sleep 600\nstartsecs=0\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    wait_listening(port);
    wait_listening(metrics);
    // The read-only token reads and may not change anything; the full one may.
    assert!(bearer_call(port, "view-t0ken", "supervisor.getState", "").contains("RUNNING"));
    let refused = bearer_call(port, "view-t0ken", "supervisor.stopProcess", "'web'");
    assert!(refused.starts_with("FAULT"), "{refused}");
    let state = || bearer_call(port, "full-t0ken", "supervisor.getProcessInfo", "'web'");
    assert!(
        state().contains("\"statename\": \"RUNNING\""),
        "{}",
        state()
    );
    assert_eq!(
        bearer_call(port, "full-t0ken", "supervisor.stopProcess", "'web'"),
        "true"
    );
    assert!(
        state().contains("\"statename\": \"STOPPED\""),
        "{}",
        state()
    );
    assert_eq!(
        bearer_call(port, "wrong", "supervisor.getState", ""),
        "HTTP 401"
    );
    // Basic auth still works beside the tokens.
    let (status, _) = http_get(port, "/metrics", Some(("admin", "s3cret")));
    assert_eq!(status, 200);
    // The metrics listener: its token, as Prometheus' bearer_token_file sends it.
    assert_eq!(
        first_status(metrics, "/metrics", "Authorization: Bearer scrape-t0ken"),
        200
    );
    assert_eq!(
        first_status(metrics, "/metrics", "Authorization: Bearer other"),
        401
    );
    assert_eq!(first_status(metrics, "/metrics", "X-None: none"), 401);
    vigild.shutdown();

    // A token file that cannot be read stops the start, naming file, section and option.
    let ws = Workspace::new();
    ws.config(&format!(
        "[metrics]\nport=127.0.0.1:{metrics}\nbearer_token_file={{dir}}/missing.token\n"
    ));
    let output = ws.run_vigild(&["-c", "supervisord.conf"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("[metrics] bearer_token_file=")
            && stderr.contains("missing.token: cannot read"),
        "{stderr}"
    );
}
