//! Health checks with real processes: an HTTP child that starts answering 500 is restarted
//! after the configured failures (with a crash record and an `unhealthy` exit), a command
//! probe waits out its start period, and a TCP probe sees a listening port.

use crate::support::*;

/// Answers 200, or 500 while the file `sick` exists next to it; ignores SIGTERM, so its
/// stop lasts `stopwaitsecs` and the status shows why it is stopping.
const WEB: &str = r"
import http.server, os, signal, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
sick = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'sick')
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(500 if os.path.exists(sick) else 200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), Handler).serve_forever()
";

/// `vigil.getProcessStats(name)['health']`.
fn health(port: u16, name: &str) -> String {
    let stats: serde_json::Value =
        serde_json::from_str(&call(port, "vigil.getProcessStats", &format!("'{name}'")))
            .expect("JSON");
    stats["health"].as_str().unwrap_or_default().to_string()
}

#[test]
fn probes_decide_health_and_an_unhealthy_process_is_restarted() {
    let port = free_port();
    let web_port = free_port();
    let python = venv_python().display().to_string();
    let ws = Workspace::new();
    ws.write("web.py", WEB);
    ws.config(&format!(
        "{}[program:web]\ncommand={python} {{dir}}/web.py {web_port}\nstopwaitsecs=2\n\
         healthcheck_http=http://127.0.0.1:{web_port}/\nhealthcheck_interval=0.3\n\
         healthcheck_retries=2\nhealthcheck_timeout=1\n\n\
         [program:cmd]\ncommand=/bin/sleep 1000\nhealthcheck_command=test -f {{dir}}/ready\n\
         healthcheck_interval=0.3\nhealthcheck_retries=1\nhealthcheck_start_period=60\n\n\
         [program:tcp]\ncommand=/bin/sleep 1000\nhealthcheck_tcp=127.0.0.1:{web_port}\n\
         healthcheck_interval=0.3\n",
        control(port)
    ));
    let vigild = Vigild::start(ws, &[]);
    for name in ["web", "tcp"] {
        assert!(
            wait_until(|| health(port, name) == "healthy"),
            "{name}: {}\n{}",
            health(port, name),
            vigild.log()
        );
    }
    // The command fails but its start period has not ended: no verdict yet.
    vigild.wait_log("healthy: tcp passes its health check");
    assert_eq!(health(port, "cmd"), "starting");
    vigild.ws.write("ready", "");
    assert!(wait_until(|| health(port, "cmd") == "healthy"));

    vigild.ws.write("sick", "");
    let log = vigild.wait_log("unhealthy: web (pid ");
    assert!(
        lines_with(&log, "unhealthy: web (pid ")[0]
            .ends_with(&format!("failed its health check, restarting: GET http://127.0.0.1:{web_port}/: HTTP/1.0 500 Internal Server Error")),
        "{log}"
    );
    let mut status = String::new();
    assert!(
        wait_until(|| {
            status = vigild.vigilctl(&["status", "web"]).1;
            status.contains("STOPPING") && status.contains("unhealthy")
        }),
        "{status}"
    );
    std::fs::remove_file(vigild.ws.path().join("sick")).expect("remove sick");
    vigild.wait_log_count("spawned: 'web' with pid ", 2);
    assert!(wait_until(|| health(port, "web") == "healthy"));

    let crashes: Vec<serde_json::Value> =
        serde_json::from_str(&call(port, "vigil.getCrashes", "'web', 1")).expect("JSON");
    assert_eq!(crashes[0]["stream"], "healthcheck", "{crashes:?}");
    assert!(
        crashes[0]["tail"]
            .as_str()
            .unwrap_or_default()
            .contains("500"),
        "{crashes:?}"
    );
    let metrics = http_get(port, "/metrics", None).1;
    let labels = "group=\"web\",name=\"web\"";
    assert_eq!(
        metric_value(
            &metrics,
            &format!("vigil_process_exits_total{{{labels},reason=\"unhealthy\"}}")
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric_value(&metrics, &format!("vigil_process_healthy{{{labels}}}")),
        Some(1.0)
    );
}

#[test]
fn a_hung_probe_times_out_and_counts_as_a_failure() {
    let vigild = Vigild::with_config(
        "[program:stuck]\ncommand=/bin/sleep 1000\nstartsecs=0\n\
         healthcheck_command=sleep 600\nhealthcheck_interval=0.2\nhealthcheck_timeout=0.3\n\
         healthcheck_retries=2\n\n\
         [program:neighbour]\ncommand=/bin/sh -c 'sleep 0.5; exit 0'\nstartsecs=0\nautorestart=true\n",
    );
    let log = vigild.wait_log("unhealthy: stuck (pid ");
    assert!(
        log.contains("failed its health check, restarting: sleep 600: no answer within 0.3s"),
        "{log}"
    );
    // Meanwhile the rest of the fleet went on as usual.
    vigild.wait_log_count("spawned: 'neighbour'", 3);
    // The timed-out probes were killed: no `sleep 600` is left in vigild's session.
    let sid = vigild.pid();
    assert!(
        wait_until(|| session_members(sid).iter().all(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .map_or(true, |cmd| !cmd.contains("sleep\u{0}600"))
        })),
        "a probe outlived its timeout"
    );
}
