//! The shipped dashboards and alert rules: grafana/dashboard-linter's rules checked on the
//! JSON, every query evaluated against a real Prometheus scraping a real vigild running the
//! demo fleet (`config/vigil.conf`), and the alert rules checked and unit-tested by promtool.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

/// Grafana unit ids the dashboards may use.
const UNITS: &[&str] = &[
    "short",
    "none",
    "bytes",
    "Bps",
    "s",
    "ops",
    "percent",
    "percentunit",
    "bool_on_off",
    "bool_yes_no",
];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn dashboard(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(repo(&format!("dashboards/{name}"))).expect("dashboard");
    serde_json::from_str(&text).expect("dashboard JSON")
}

/// Every PromQL expression of a dashboard (panels and variables).
fn expressions(board: &serde_json::Value) -> Vec<String> {
    let mut all = Vec::new();
    for panel in board["panels"].as_array().into_iter().flatten() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            all.extend(target["expr"].as_str().map(str::to_string));
        }
    }
    all
}

/// The lint rules (grafana/dashboard-linter's, as `../shared/reference/peers.md` lists them)
/// that one dashboard breaks.
fn lint(name: &str, board: &serde_json::Value, variables: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut problem = |text: String| problems.push(format!("{name}: {text}"));
    if !board["schemaVersion"].is_u64() || board["uid"].as_str().is_none() {
        problem("schemaVersion and uid are required".into());
    }
    let list = board["templating"]["list"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let var = |wanted: &str| list.iter().find(|v| v["name"] == wanted).cloned();
    match var("datasource") {
        Some(v) if v["type"] == "datasource" && v["query"] == "prometheus" => {}
        _ => problem("template-datasource-rule: a prometheus `datasource` variable".into()),
    }
    for wanted in variables {
        match var(wanted) {
            Some(v)
                if v["type"] == "query"
                    && v["refresh"] == 2
                    && v["query"]["query"]
                        .as_str()
                        .is_some_and(|q| q.starts_with("label_values(")) => {}
            _ => problem(format!(
                "template rules: `{wanted}` must be a label_values() query refreshed on time change"
            )),
        }
    }
    for panel in board["panels"].as_array().into_iter().flatten() {
        let title = panel["title"].as_str().unwrap_or_default();
        if title.is_empty() || panel["description"].as_str().is_none_or(str::is_empty) {
            problem(format!("panel-title-description-rule: {title:?}"));
        }
        if panel["datasource"]["uid"] != "${datasource}" {
            problem(format!("panel-datasource-rule: {title}"));
        }
        let unit = panel["fieldConfig"]["defaults"]["unit"]
            .as_str()
            .unwrap_or_default();
        if !UNITS.contains(&unit) {
            problem(format!("panel-units-rule: {title}: {unit:?}"));
        }
        let targets = panel["targets"].as_array().cloned().unwrap_or_default();
        if targets.is_empty() {
            problem(format!("panel-no-targets-rule: {title}"));
        }
        for target in targets {
            let expr = target["expr"].as_str().unwrap_or_default();
            for needed in ["job=~\"$job\"", "instance=~\"$instance\""] {
                if !expr.contains(needed) {
                    problem(format!("target-job/instance-rule: {title}: {expr}"));
                }
            }
            for window in expr.split('[').skip(1) {
                if !window.starts_with("$__rate_interval]") {
                    problem(format!("target-rate-interval-rule: {title}: {expr}"));
                }
            }
            for (at, _) in expr.match_indices("_total") {
                let start = expr[..at].rfind(|c: char| !(c.is_alphanumeric() || c == '_'));
                let before = expr[..start.map_or(0, |s| s + 1)].trim_end();
                if !(before.ends_with("rate(") || before.ends_with("increase(")) {
                    problem(format!("target-counter-agg-rule: {title}: {expr}"));
                }
            }
        }
    }
    problems
}

#[test]
fn the_dashboards_keep_the_linter_rules() {
    let mut problems = lint(
        "vigil-fleet.json",
        &dashboard("vigil-fleet.json"),
        &["job", "instance", "group"],
    );
    problems.extend(lint(
        "vigil-program.json",
        &dashboard("vigil-program.json"),
        &["job", "instance", "group", "name"],
    ));
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_lint_finds_what_it_checks() {
    let mut board = dashboard("vigil-fleet.json");
    board["panels"][0]["description"] = serde_json::Value::from("");
    board["panels"][1]["fieldConfig"]["defaults"]["unit"] = serde_json::Value::from("furlongs");
    board["panels"][2]["targets"][0]["expr"] = serde_json::Value::from(
        "vigil_process_crashes_total{job=~\"$job\",instance=~\"$instance\"}[5m]",
    );
    let problems = lint("broken", &board, &["job", "instance", "group"]);
    for rule in [
        "panel-title-description-rule",
        "panel-units-rule",
        "target-rate-interval-rule",
        "target-counter-agg-rule",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(rule)),
            "{rule}: {problems:#?}"
        );
    }
}

#[test]
fn the_alert_rules_pass_promtool_check_and_unit_tests() {
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts.test.yml"],
    ] {
        let output = Command::new("promtool")
            .args(args)
            .current_dir(repo("config"))
            .output()
            .expect("promtool (Debian package prometheus; ./scripts/test installs it)");
        assert!(
            output.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The demo fleet on free ports, its files in the workspace.
fn demo_fleet(port: u16) -> Vigild {
    let demo = std::fs::read_to_string(repo("config/vigil.conf")).expect("config/vigil.conf");
    let web = free_port();
    let config = demo
        .replace("127.0.0.1:9001", &format!("127.0.0.1:{port}"))
        .replace("8080", &web.to_string())
        .replace("%(here)s/../target/demo", "{dir}")
        .replace(
            "%(here)s/examples",
            &repo("config/examples").display().to_string(),
        )
        .replace("python3 ", &format!("{} ", venv_python().display()));
    let ws = Workspace::new();
    ws.write("supervisord.conf", &config);
    Vigild::start(ws, &[])
}

#[test]
fn every_dashboard_query_returns_data_from_the_demo_fleet() {
    let port = free_port();
    let vigild = demo_fleet(port);
    let exported: Vec<String> = {
        let mut text = String::new();
        assert!(
            wait_until(|| {
                text = http_get(port, "/metrics", None).1;
                text.contains("vigil_process_healthy{group=\"web\"")
            }),
            "the demo fleet's web never became healthy:\n{}",
            vigild.log()
        );
        text.lines()
            .filter_map(|line| line.strip_prefix("# TYPE "))
            .filter_map(|rest| rest.split(' ').next())
            .map(str::to_string)
            .collect()
    };
    let prometheus = Prometheus::start(port);
    for name in ["vigil-fleet.json", "vigil-program.json"] {
        for expr in expressions(&dashboard(name)) {
            for metric in expr
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .filter(|word| word.starts_with("vigil_"))
            {
                assert!(
                    exported.iter().any(|e| e == metric),
                    "{name} names {metric}, which vigild does not export"
                );
            }
            let query = ["$job", "$instance", "$group", "$name"]
                .iter()
                .fold(expr.clone(), |q, var| q.replace(var, ".+"))
                .replace("$__rate_interval", "10s");
            let mut answer = None;
            let has_data = wait_until(|| {
                answer = prometheus.query(&query);
                answer.as_ref().is_some_and(|a| {
                    a["status"] == "success"
                        && a["data"]["result"]
                            .as_array()
                            .is_some_and(|r| !r.is_empty())
                })
            });
            assert!(
                has_data,
                "{name}: {query}\n{answer:?}\n{}",
                prometheus.log()
            );
        }
    }
    // The alert rules parse against the same data.
    let rules = std::fs::read_to_string(repo("config/alerts.yml")).expect("alerts.yml");
    assert!(rules.contains("alert: VigilDown"));
    let answer = prometheus.query("up{job=\"vigil\"} == 0");
    assert!(
        answer.is_some_and(|a| a["status"] == "success"),
        "{}",
        prometheus.log()
    );
}

/// A host of the fleet test: `app` (a line of output, then asleep) and, on the crashing
/// host, `crasher`, which crash-loops; `/metrics` on a `[metrics]` listener of its own, over
/// TLS with `certs`.
fn fleet_host(
    metrics: u16,
    certs: Option<&crate::support::certs::Certs>,
    crashing: bool,
) -> Vigild {
    let tls = certs.map_or_else(String::new, |certs| {
        format!(
            "tls_cert={}\ntls_key={}\n",
            certs.file("server.pem"),
            certs.file("server.key")
        )
    });
    let crasher = if crashing {
        "[program:crasher]\ncommand=/bin/sh -c 'echo failing >&2; sleep 0.3; exit 1'\nstartsecs=0\n"
    } else {
        ""
    };
    Vigild::with_config(&format!(
        "[metrics]\nport=127.0.0.1:{metrics}\n{tls}\n\
         [program:app]\ncommand=/bin/sh -c 'echo up; exec /bin/sleep 600'\nstartsecs=0\n\n{crasher}"
    ))
}

/// `text` with `from` replaced by `to`, which it must contain (a change to a shipped file
/// that the test relies on fails here, not later as missing data).
fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} is gone from:\n{text}");
    text.replace(from, to)
}

/// The series of an instant query's answer.
fn series(prometheus: &Prometheus, query: &str) -> Vec<serde_json::Value> {
    prometheus
        .query(query)
        .and_then(|answer| answer["data"]["result"].as_array().cloned())
        .unwrap_or_default()
}

#[test]
fn a_prometheus_finds_three_vigilds_through_file_sd_and_tells_them_apart() {
    let certs = crate::support::certs::Certs::new();
    let ports = [free_port(), free_port(), free_port()];
    let mut hosts = [
        fleet_host(ports[0], None, false),
        fleet_host(ports[1], None, false),
        fleet_host(ports[2], Some(&certs), true),
    ];
    for port in ports {
        wait_listening(port);
    }
    let instances = ports.map(|port| format!("127.0.0.1:{port}"));
    // The shipped fleet config, at a test's pace and with the test's CA.
    let shipped = std::fs::read_to_string(repo("config/prometheus-fleet.yml")).expect("shipped");
    let config = [
        ("scrape_interval: 15s", "scrape_interval: 1s"),
        ("evaluation_interval: 15s", "evaluation_interval: 1s"),
        ("refresh_interval: 1m", "refresh_interval: 1s"),
        ("/etc/vigil/tls/ca.pem", &certs.file("ca.pem")),
    ]
    .iter()
    .fold(shipped, |text, (from, to)| replaced(&text, from, to));
    // As config/targets.json shows: plain hosts in one group, the TLS host with __scheme__.
    let targets = serde_json::json!([
        {"targets": [instances[0], instances[1]], "labels": {"env": "test"}},
        {"targets": [instances[2]], "labels": {"env": "test", "__scheme__": "https"}},
    ]);
    // The rules as shipped but for their `for:` waits, which a test cannot sit out.
    let rules = std::fs::read_to_string(repo("config/alerts.yml")).expect("alerts.yml");
    let rules = ["2m", "1m", "5m"].iter().fold(rules, |text, wait| {
        text.replace(&format!("for: {wait}"), "for: 0s")
    });
    let prometheus = Prometheus::with_files(&[
        ("prometheus.yml", config),
        ("targets.json", targets.to_string()),
        ("alerts.yml", rules),
    ]);
    let up = |wanted: f64| {
        series(&prometheus, "up{job=\"vigil\"}")
            .iter()
            .filter(|s| s["value"][1].as_str().and_then(|v| v.parse().ok()) == Some(wanted))
            .filter_map(|s| s["metric"]["instance"].as_str().map(str::to_string))
            .collect::<Vec<_>>()
    };
    let all_up = wait_until(|| up(1.0).len() == 3);
    assert!(all_up, "{:?}\n{}", up(1.0), prometheus.log());

    // Every fleet dashboard query, with the Instance variable set to each host alone.
    for expr in expressions(&dashboard("vigil-fleet.json")) {
        for instance in &instances {
            let query = expr
                .replace("$instance", instance)
                .replace("$job", ".+")
                .replace("$group", ".+")
                .replace("$__rate_interval", "10s");
            let mut answer = Vec::new();
            let answered = wait_until(|| {
                answer = series(&prometheus, &query);
                !answer.is_empty()
            });
            assert!(answered, "{query}\n{}", prometheus.log());
            // The host chosen, and only it, in every series that says which host it is of.
            for one in &answer {
                let of = one["metric"]["instance"].as_str();
                assert!(of.is_none_or(|of| of == instance), "{query}: {one}");
            }
        }
    }
    // The crash loop alerts on its host only, with its instance label.
    let firing = |alert: &str| {
        let query = format!("ALERTS{{alertname=\"{alert}\",alertstate=\"firing\"}}");
        let mut found: Vec<String> = series(&prometheus, &query)
            .iter()
            .filter_map(|s| s["metric"]["instance"].as_str().map(str::to_string))
            .collect();
        found.sort();
        found.dedup();
        found
    };
    let looping = wait_until(|| !firing("VigilCrashLooping").is_empty());
    assert!(looping, "{}", prometheus.log());
    assert_eq!(firing("VigilCrashLooping"), [instances[2].clone()]);

    // A host stopped: down, and only it; the others go on being scraped and shown.
    hosts[1].shutdown();
    let down = wait_until(|| up(0.0) == [instances[1].clone()]);
    assert!(down, "{:?}", up(0.0));
    let mut still = up(1.0);
    still.sort();
    let mut others = vec![instances[0].clone(), instances[2].clone()];
    others.sort();
    assert_eq!(still, others);
    let vigil_down = wait_until(|| firing("VigilDown") == [instances[1].clone()]);
    assert!(vigil_down, "{:?}", firing("VigilDown"));
    // The hosts table keeps the stopped host's row, with Up 0.
    let rows = series(&prometheus, "up{job=~\".+\",instance=~\".+\"}");
    assert_eq!(rows.len(), 3, "{rows:?}");
}
