//! The sampler and `/metrics`: real children measured through /proc, the exposition checked
//! by the real `promtool`, scraped by a real Prometheus, `memory_limit` restarts, and the
//! same figures over XML-RPC and in `vigilctl status -l`.

use std::process::Command;

use crate::support::*;

const PROGRAMS: &str = "[supervisord]\nsample_interval=0.5\n\n\
    [program:busy]\ncommand=/bin/sh -c 'while :; do :; done'\n\n\
    [program:tree]\ncommand=/bin/sh -c 'sleep 1000 & sleep 1000 & wait'\n\n";

/// `/metrics` once the server answers.
fn scrape(port: u16) -> String {
    let mut response = (0, String::new());
    assert!(
        wait_until(|| {
            response = http_get(port, "/metrics", None);
            response.0 != 0
        }),
        "nothing answers on port {port}"
    );
    assert_eq!(response.0, 200, "{}", response.1);
    response.1
}

#[test]
fn metrics_measure_process_trees_and_pass_promtool() {
    let (vigild, port) = Vigild::with_inet_server(PROGRAMS);
    let tree = "{group=\"tree\",name=\"tree\",scope=\"tree\"}";
    let own = "{group=\"tree\",name=\"tree\",scope=\"process\"}";
    let mut metrics = String::new();
    assert!(
        wait_until(|| {
            metrics = scrape(port);
            metric_value(&metrics, &format!("vigil_process_threads{tree}")) == Some(3.0)
                && metric_value(&metrics, "vigil_process_up{group=\"busy\",name=\"busy\"}")
                    == Some(1.0)
        }),
        "the sh wrapper and its two sleeps are one tree of three threads:\n{metrics}\n{}",
        vigild.log()
    );
    let tree_rss = metric_value(
        &metrics,
        &format!("vigil_process_resident_memory_bytes{tree}"),
    );
    let own_rss = metric_value(
        &metrics,
        &format!("vigil_process_resident_memory_bytes{own}"),
    );
    assert!(
        matches!((tree_rss, own_rss), (Some(t), Some(o)) if o > 0.0 && t > o),
        "tree {tree_rss:?} vs process {own_rss:?}"
    );
    assert_eq!(
        metric_value(&metrics, "vigil_process_up{group=\"busy\",name=\"busy\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric_value(
            &metrics,
            "vigil_process_state{group=\"busy\",name=\"busy\",state=\"RUNNING\"}"
        ),
        Some(1.0)
    );
    assert!(metrics.contains("# TYPE vigil_process_cpu_seconds_total counter"));
    for family in [
        "vigil_process_healthy",
        "vigil_event_listener_queue_depth",
        "vigil_process_crashloop",
        "vigil_process_restart_delay_seconds",
        "vigil_log_bytes_total",
        "vigil_build_info",
        "vigil_supervisor_processes",
        "vigil_config_reloads_total",
        "vigil_offload_refused_total",
    ] {
        assert!(
            metrics.contains(&format!("# HELP {family} "))
                && metrics.contains(&format!("# TYPE {family} ")),
            "{family} has HELP and TYPE lines"
        );
    }
    assert!(
        metrics.contains("process_resident_memory_bytes "),
        "vigild's own metrics"
    );

    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("metrics.txt");
    std::fs::write(&file, &metrics).expect("write metrics");
    let check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).expect("open"))
        .output()
        .expect("promtool (Debian package prometheus; ./scripts/test installs it)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        check.status.success() && said.is_empty(),
        "promtool: {said}"
    );
}

#[test]
fn a_removed_programs_series_disappear() {
    let (vigild, port) = Vigild::with_inet_server(PROGRAMS);
    let series = "vigil_process_up{group=\"tree\",name=\"tree\"}";
    assert!(wait_until(
        || metric_value(&scrape(port), series) == Some(1.0)
    ));
    let script = "import sys, xmlrpc.client\n\
        s = xmlrpc.client.ServerProxy(f'http://127.0.0.1:{sys.argv[1]}/RPC2')\n\
        s.supervisor.stopProcess('tree')\n\
        print(s.supervisor.removeProcessGroup('tree'))\n";
    let out = run_python(script, &[&port.to_string()]);
    assert!(out.status.success(), "{out:?}\n{}", vigild.log());
    let metrics = scrape(port);
    assert!(!metrics.contains("name=\"tree\""), "{metrics}");
    assert!(metrics.contains("name=\"busy\""));
}

#[test]
fn metrics_auth_false_opens_metrics_alone_and_the_metrics_listener_serves_it() {
    let inet = free_port();
    let own = free_port();
    let vigild = Vigild::with_config(&format!(
        "[inet_http_server]\nport=127.0.0.1:{inet}\nusername=admin\npassword=secret\nmetrics_auth=false\n\n\
         [metrics]\nport=127.0.0.1:{own}\n\n{PROGRAMS}"
    ));
    assert!(
        wait_until(|| http_get(own, "/metrics", None).0 == 200),
        "{}",
        vigild.log()
    );
    assert_eq!(http_get(inet, "/metrics", None).0, 200);
    assert_eq!(http_get(inet, "/RPC2", None).0, 401, "the rest still asks");
    assert_eq!(
        http_get(inet, "/RPC2", Some(("admin", "secret"))).0,
        405,
        "past auth: /RPC2 takes POST only"
    );
    let (status, body) = http_get(own, "/metrics", None);
    assert_eq!(status, 200);
    assert!(body.contains("vigil_process_up{group=\"busy\",name=\"busy\"}"));
    assert_eq!(
        http_get(own, "/RPC2", None).0,
        404,
        "the metrics listener serves only /metrics"
    );

    // By default /metrics asks for the server's credentials like every other route.
    let port = free_port();
    let _locked = Vigild::with_config(&format!(
        "[inet_http_server]\nport=127.0.0.1:{port}\nusername=admin\npassword=secret\n\n{PROGRAMS}"
    ));
    assert!(wait_until(|| http_get(port, "/metrics", None).0 == 401));
    assert_eq!(http_get(port, "/metrics", Some(("admin", "secret"))).0, 200);
}

#[test]
fn a_process_tree_over_its_memory_limit_is_restarted() {
    let (vigild, port) = Vigild::with_inet_server(
        "[supervisord]\nsample_interval=0.2\n\n\
         [program:hog]\ncommand=/bin/sh -c 'python3 -c \"import time; b = bytearray(80 << 20); b[::4096] = b\\\"x\\\" * len(b[::4096]); time.sleep(1000)\"'\n\
         memory_limit=40MB\nstartsecs=0\n",
    );
    let line = vigild.wait_log("restarting: hog uses");
    assert!(line.contains("over its memory_limit of 41943040"), "{line}");
    let series = "vigil_process_exits_total{group=\"hog\",name=\"hog\",reason=\"memory_limit\"}";
    assert!(
        wait_until(|| metric_value(&scrape(port), series).is_some_and(|n| n >= 1.0)),
        "{}",
        vigild.log()
    );
    // The new child comes once the spawner has answered: polled, not read at once.
    let mut metrics = String::new();
    assert!(
        wait_until(|| {
            metrics = scrape(port);
            metric_value(
                &metrics,
                "vigil_process_restarts_total{group=\"hog\",name=\"hog\"}",
            )
            .is_some_and(|n| n >= 1.0)
        }),
        "{metrics}"
    );
    assert_eq!(
        metric_value(
            &metrics,
            "vigil_process_crashes_total{group=\"hog\",name=\"hog\"}"
        ),
        Some(0.0),
        "a restart vigil asked for is no crash"
    );
}

#[test]
fn stats_over_xmlrpc_and_in_vigilctl_status_long() {
    let vigild = Vigild::with_config(&format!("{CONTROL_SECTIONS}{PROGRAMS}"));
    let socket = vigild.ws.path().join("vigil.sock");
    let script = "import sys, time, xmlrpc.client\n\
        from supervisor.xmlrpc import SupervisorTransport\n\
        s = xmlrpc.client.ServerProxy('http://localhost', transport=SupervisorTransport(None, None, 'unix://' + sys.argv[1]))\n\
        deadline = time.time() + 20\n\
        while True:\n\
        \x20   busy = s.vigil.getProcessStats('busy')\n\
        \x20   tree = s.vigil.getProcessStats('tree')\n\
        \x20   if busy['sampled'] and busy['cpu_percent'] > 50 and busy['statename'] == 'RUNNING' and tree['tree_processes'] == 3 or time.time() > deadline: break\n\
        \x20   time.sleep(0.1)\n\
        print(busy['sampled'], busy['cpu_percent'] > 50, busy['rss'] > 0, busy['threads'], busy['restarts'])\n\
        print(tree['tree_processes'], tree['tree_rss'] > tree['rss'])\n\
        print(len(s.vigil.getAllProcessStats()))\n\
        try:\n\
        \x20   s.vigil.getProcessStats('nope')\n\
        except xmlrpc.client.Fault as f:\n\
        \x20   print(f.faultCode)\n";
    let out = run_python(script, &[&socket.display().to_string()]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        printed,
        "True True True 1 0\n3 True\n2\n10\n",
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        vigild.log()
    );

    let (code, text) = vigild.vigilctl(&["status", "-l"]);
    assert_eq!(code, 0, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("CPU%"),
        "{text}"
    );
    let busy: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(&busy[..2], ["busy", "RUNNING"], "{text}");
    let cpu: f64 = busy[2].parse().expect("CPU% column");
    assert!(cpu > 50.0, "{text}");
    assert!(
        busy[3].ends_with('M') || busy[3].ends_with('K'),
        "RSS column: {text}"
    );
    assert_eq!(busy[5], "0", "restarts column: {text}");
}

/// A real Prometheus server scraping vigild: the figures arrive through its query API.
#[test]
fn a_real_prometheus_scrapes_vigild() {
    let (vigild, port) = Vigild::with_inet_server(PROGRAMS);
    let prometheus = Prometheus::start(port);
    let query = |expr: &str| prometheus.value(expr);
    let log = || prometheus.log();
    assert!(
        wait_until(|| query("vigil_process_up{name=\"busy\"}") == Some(1.0)),
        "prometheus never saw busy up:\n{}",
        log()
    );
    assert!(
        query("vigil_process_resident_memory_bytes{name=\"busy\",scope=\"process\"}")
            .is_some_and(|rss| rss > 0.0)
    );
    assert!(
        wait_until(|| query(
            "rate(vigil_process_cpu_seconds_total{name=\"busy\",scope=\"process\"}[5s])"
        )
        .is_some_and(|rate| rate > 0.0)),
        "a busy child has a positive CPU rate:\n{}",
        log()
    );
    let restart = run_python(
        "import sys, xmlrpc.client\n\
         s = xmlrpc.client.ServerProxy(f'http://127.0.0.1:{sys.argv[1]}/RPC2')\n\
         s.supervisor.stopProcess('busy')\n\
         s.supervisor.startProcess('busy')\n",
        &[&port.to_string()],
    );
    assert!(restart.status.success(), "{restart:?}\n{}", vigild.log());
    assert!(
        wait_until(|| query("vigil_process_restarts_total{name=\"busy\"}") == Some(1.0)),
        "a restart raises vigil_process_restarts_total:\n{}",
        log()
    );
}

/// The sampler measures a child from its spawn: a long `startsecs` does not keep its CPU
/// and memory out of `/metrics` (the hour-long interval leaves only the spawn to trigger it).
#[test]
fn a_starting_process_is_measured_at_once() {
    let (vigild, port) = Vigild::with_inet_server(
        "[supervisord]\nsample_interval=3600\n\n\
         [program:slow]\ncommand=/bin/sh -c 'echo $$ > {dir}/slow.pid; exec /bin/sleep 1000'\n\
         startsecs=30\nautostart=false\n",
    );
    vigild.wait_log("supervisord started with pid");
    assert_eq!(
        call(port, "supervisor.startProcess", "'slow', False"),
        "true"
    );
    let pid = vigild.ws.wait_pid("slow.pid");
    let own = "{group=\"slow\",name=\"slow\",scope=\"process\"}";
    let mut metrics = String::new();
    assert!(
        wait_until(|| {
            metrics = scrape(port);
            metric_value(&metrics, &format!("vigil_process_threads{own}")).is_some()
        }),
        "no samples of the STARTING process:\n{metrics}\n{}",
        vigild.log()
    );
    assert_eq!(
        metric_value(
            &metrics,
            "vigil_process_state{group=\"slow\",name=\"slow\",state=\"STARTING\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    let info = call(port, "supervisor.getProcessInfo", "'slow'");
    assert!(info.contains(&format!("\"pid\": {pid}")), "{info}");
    // The figures are the child's (the sleep the shell became), read from its own /proc.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let vm_rss_kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let rss = metric_value(
        &metrics,
        &format!("vigil_process_resident_memory_bytes{own}"),
    )
    .unwrap_or(0.0);
    assert!(
        vm_rss_kib > 0.0 && (rss / 1024.0 - vm_rss_kib).abs() <= vm_rss_kib * 0.25,
        "resident {rss} bytes vs VmRSS {vm_rss_kib} KiB of pid {pid}"
    );
    assert_eq!(
        metric_value(&metrics, &format!("vigil_process_threads{own}")),
        Some(1.0)
    );
    assert!(
        metric_value(&metrics, &format!("vigil_process_cpu_seconds_total{own}")).is_some(),
        "{metrics}"
    );
}

#[test]
fn a_real_prometheus_scrapes_the_metrics_listener_with_its_bearer_token_file() {
    let metrics = free_port();
    let ws = Workspace::new();
    ws.write("scrape.token", "s3cret-scrape-token\n");
    ws.config(&format!(
        "[metrics]\nport=127.0.0.1:{metrics}\nbearer_token_file={{dir}}/scrape.token\n\n\
         [program:web]\ncommand=/bin/sleep 600\nstartsecs=0\n"
    ));
    let token_file = ws.path().join("scrape.token");
    let vigild = Vigild::start(ws, &[]);
    wait_listening(metrics);
    // One job with the token as Prometheus reads it from a file, one without.
    let prometheus = Prometheus::with_jobs(&format!(
        "  - job_name: with_token\n    authorization:\n      type: Bearer\n      credentials_file: {}\n\
         \x20   static_configs:\n      - targets: ['127.0.0.1:{metrics}']\n\
         \x20 - job_name: without\n    static_configs:\n      - targets: ['127.0.0.1:{metrics}']\n",
        token_file.display()
    ));
    assert!(
        wait_until(|| prometheus.value(r#"up{job="with_token"}"#) == Some(1.0)
            && prometheus.value(r#"up{job="without"}"#) == Some(0.0)),
        "{}",
        prometheus.log()
    );
    assert!(
        wait_until(
            || prometheus.value(r#"vigil_process_up{job="with_token",name="web"}"#) == Some(1.0)
        ),
        "{}",
        prometheus.log()
    );
    drop(vigild);
}
