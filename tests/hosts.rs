//! vigilctl against several vigilds at once (`-s A -s B`, `[vigilctl] servers=`): a host
//! column, actions on `host:name` or on every host with the name, crashes merged newest
//! first, and servers that are down or hung reported while the others are served.

use crate::support::certs::Certs;
use crate::support::*;

/// Two real vigilds, one on TLS, with `app` and `crasher` on both and `solo` on the first.
fn two_hosts(certs: &Certs) -> (Vigild, Vigild, u16, u16) {
    // b's crasher ends a second and a half after a's: the newest record is b's.
    let programs = |lasts: &str| {
        format!(
            "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
             [program:app]\ncommand=/bin/sleep 600\nstartsecs=0\n\n\
             [program:slow]\ncommand=/bin/sleep 600\nstartsecs=2\nautostart=false\n\n\
             [program:crasher]\ncommand=/bin/sh -c 'echo boom from crasher >&2; sleep {lasts}; exit 3'\nstartsecs=0\nautorestart=false\n"
        )
    };
    let (a_port, b_port) = (free_port(), free_port());
    let a = Workspace::new();
    a.config(&format!(
        "[inet_http_server]\nport=127.0.0.1:{a_port}\nusername=admin\npassword=s3cret\n\
         tls_cert={}\ntls_key={}\n\n{}\n[program:solo]\ncommand=/bin/sleep 600\nstartsecs=0\n",
        certs.file("server.pem"),
        certs.file("server.key"),
        programs("0.2")
    ));
    let b = Workspace::new();
    b.config(&format!(
        "[inet_http_server]\nport=127.0.0.1:{b_port}\nusername=admin\npassword=s3cret\n\n{}",
        programs("1.7")
    ));
    // a's clock text is ten hours ahead of b's: merged by text, b's newer crash would come
    // last. (POSIX zones, which need no tzdata.)
    let (a, b) = (
        Vigild::start_wrapped(a, &["/usr/bin/env", "TZ=<+05>-5"], &[]),
        Vigild::start_wrapped(b, &["/usr/bin/env", "TZ=<-05>+5"], &[]),
    );
    wait_listening(a_port);
    wait_listening(b_port);
    (a, b, a_port, b_port)
}

#[test]
fn vigilctl_shows_and_acts_on_several_servers_and_reports_those_that_do_not_answer() {
    let certs = Certs::new();
    let (a, b, a_port, b_port) = two_hosts(&certs);
    // A client file as a user keeps it: the servers by name, TLS and auth for all.
    let client = a.ws.write(
        "client.conf",
        &format!(
            "[supervisorctl]\nusername=admin\npassword=s3cret\ncacert={}\n\n\
             [vigilctl]\nservers =\n    a = https://127.0.0.1:{a_port}\n    b = http://127.0.0.1:{b_port}\n",
            certs.file("ca.pem")
        ),
    );
    let ctl = |args: &[&str]| run_client(vigilctl_bin(), &client, args);
    let both_running = wait_until(|| {
        let out = ctl(&["status", "app"]).1;
        out.lines().filter(|l| l.contains("RUNNING")).count() == 2
    });
    assert!(both_running, "{:?}", ctl(&["status"]));
    let (code, out) = ctl(&["status", "app", "solo"]);
    assert_eq!(code, 0, "{out}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    for (host, name) in [("a", "app"), ("a", "solo"), ("b", "app")] {
        assert!(
            rows.iter().any(|r| r[..3] == [host, name, "RUNNING"]),
            "{host} {name}: {out}"
        );
    }
    assert_eq!(rows.len(), 3, "{out}");
    let (_, json) = ctl(&["status", "--json", "app"]);
    let json: serde_json::Value = serde_json::from_str(&json).expect("json");
    let hosts: Vec<&str> = json
        .as_array()
        .map(|rows| rows.iter().filter_map(|r| r["host"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(hosts, ["a", "b"], "{json}");

    // -s takes a name of the list (one server: every single-server command) or a URL.
    let pid = |host: &str| {
        let out = ctl(&["-s", host, "pid", "app"]).1;
        out.trim().parse::<i32>().unwrap_or(0)
    };
    let before = (pid("a"), pid("b"));
    assert!(
        before.0 > 0 && before.1 > 0 && before.0 != before.1,
        "{before:?}"
    );
    let (code, out) = ctl(&["restart", "app"]);
    assert_eq!(code, 0, "{out}");
    for host in ["a", "b"] {
        assert!(out.contains(&format!("{host}  app: stopped")), "{out}");
        assert!(out.contains(&format!("{host}  app: started")), "{out}");
    }
    let after = (pid("a"), pid("b"));
    assert!(
        after.0 != before.0 && after.1 != before.1,
        "{before:?} {after:?}"
    );
    // host:name acts on that host only.
    let (code, out) = ctl(&["stop", "b:app"]);
    assert_eq!((code, out.trim()), (0, "b  app: stopped"));
    assert_eq!(pid("a"), after.0);
    assert!(ctl(&["-s", "b", "status", "app"]).1.contains("STOPPED"));
    // Already started on a is no failure; a name no host has is.
    let (code, out) = ctl(&["start", "app"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("a  app: ERROR (already started)") && out.contains("b  app: started"),
        "{out}"
    );
    let (code, out) = ctl(&["stop", "nosuch"]);
    assert_eq!((code, out.trim()), (1, "nosuch: ERROR (no such process)"));

    // Crashes from both hosts, newest first, each with its host.
    let crashed = wait_until(|| {
        let (_, json) = ctl(&["crashes", "crasher", "--json"]);
        serde_json::from_str::<serde_json::Value>(&json)
            .ok()
            .and_then(|v| v.as_array().map(Vec::len))
            == Some(2)
    });
    assert!(crashed, "{:?}", ctl(&["crashes", "crasher"]));
    let (code, json) = ctl(&["crashes", "crasher", "--json"]);
    assert_eq!(code, 0, "{json}");
    let records: serde_json::Value = serde_json::from_str(&json).expect("json");
    let records = records.as_array().cloned().unwrap_or_default();
    let hosts: Vec<&str> = records.iter().filter_map(|r| r["host"].as_str()).collect();
    assert_eq!(hosts, ["b", "a"], "newest first: {json}");
    let times: Vec<f64> = records
        .iter()
        .filter_map(|r| r["unix_time"].as_f64())
        .collect();
    assert!(times[0] > times[1], "{times:?}");
    let texts: Vec<&str> = records.iter().filter_map(|r| r["time"].as_str()).collect();
    assert!(texts.len() == 2 && texts[0] < texts[1], "{texts:?}");
    let (_, report) = ctl(&["crashes", "crasher"]);
    assert!(
        report.contains("a  crasher: not in a crash loop")
            && report.contains("b  crasher: not in a crash loop")
            && report.matches("| boom from").count() == 2
            && report.contains("  a  pid ")
            && report.contains("  b  pid "),
        "{report}"
    );

    // A server that is down and one that accepts and never answers: reported, the others
    // served, the exit code says so.
    let down = free_port();
    let hung = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let hung_url = format!(
        "http://127.0.0.1:{}",
        hung.local_addr().expect("addr").port()
    );
    let down_url = format!("http://127.0.0.1:{down}");
    let (code, out) = ctl(&[
        "-t", "2", "-s", "a", "-s", &down_url, "-s", &hung_url, "-s", "b", "status", "app",
    ]);
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains(&format!(
            "127.0.0.1:{down}: ERROR ({down_url} refused connection)"
        )) && out.contains("no answer within 2 s")
            && ["a ", "b "].iter().all(|host| out
                .lines()
                .any(|l| l.starts_with(host) && l.contains(" app ") && l.contains("RUNNING"))),
        "{out}"
    );
    let (code, out) = ctl(&["-s", "a", "-s", &down_url, "restart", "solo"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("solo: started"), "{out}");
    // Starts that wait longer than -t for their programs (startsecs=2, -t 1) are not cut
    // short, as with one server.
    let (code, out) = ctl(&["-t", "1", "start", "slow"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("a  slow: started") && out.contains("b  slow: started"),
        "{out}"
    );
    // A server name that is also a group name (solo is a program of a): refused, not guessed.
    let named = a.ws.write(
        "named.conf",
        &format!(
            "[supervisorctl]\nusername=admin\npassword=s3cret\ncacert={}\n\n\
             [vigilctl]\nservers = solo = https://127.0.0.1:{a_port}, b = http://127.0.0.1:{b_port}\n",
            certs.file("ca.pem")
        ),
    );
    let (code, out) = run_client(vigilctl_bin(), &named, &["stop", "solo:solo"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("solo is a server and a group"), "{out}");
    assert!(ctl(&["-s", "a", "status", "solo"]).1.contains("RUNNING"));
    // A name a server may not have.
    let bad = a.ws.write(
        "bad.conf",
        "[vigilctl]\nservers = all = http://127.0.0.1:1\n",
    );
    let (code, out) = run_client(vigilctl_bin(), &bad, &["status"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("[vigilctl] servers=") && out.contains("may not be \"all\""),
        "{out}"
    );
    // What works on one server only says so.
    let (code, out) = ctl(&["maintail"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("maintail talks to one server; name it with one -s"),
        "{out}"
    );
    drop((a, b));
}
