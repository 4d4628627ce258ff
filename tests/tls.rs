//! TLS on `[inet_http_server]` and `[metrics]` (rustls), with certificates made by the real
//! `openssl` in the test: vigilctl and Python's xmlrpc.client and urllib over https, mutual
//! TLS, silent clients that do not hold up others, certificates reloaded on SIGUSR2 and
//! SIGHUP without dropping the listener (a bad one keeps the one in use), and the start-up
//! errors for a missing file, a key that is not the certificate's and an expired
//! certificate.

use std::io::Write;
use std::process::Command;

use nix::sys::signal::Signal;

use crate::support::certs::Certs;
use crate::support::*;

/// Python's answer to `method` over https with `ca` trusted, `auth` (`user:password@` or
/// "") in the URL: the JSON of the result, `FAULT …`, `HTTP <status>`, or `TLS …` when
/// the handshake failed.
fn py_call(port: u16, ca: &str, auth: &str, method: &str) -> String {
    let setup = format!(
        "context = ssl.create_default_context(cafile='{ca}')\n\
         proxy = xmlrpc.client.ServerProxy('https://{auth}127.0.0.1:{port}/RPC2', context=context)"
    );
    py_outcome(&setup, method, "")
}

/// `GET /metrics` over https as Python's urllib does it: the status, or `TLS …`.
fn py_metrics(port: u16, ca: &str, client: Option<(&str, &str)>) -> String {
    let client = client.map_or_else(String::new, |(cert, key)| {
        format!("context.load_cert_chain('{cert}', '{key}')\n")
    });
    let script = format!(
        "import ssl, urllib.request\n\
         context = ssl.create_default_context(cafile='{ca}')\n{client}\
         try:\n    answer = urllib.request.urlopen('https://localhost:{port}/metrics', context=context, timeout=10)\n    body = answer.read().decode()\n    print(answer.status, 'vigil_process_state' in body)\n\
         except (ssl.SSLError, ConnectionError, OSError) as err:\n    print('TLS', err)"
    );
    let output = run_python(&script, &[]);
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Whether the certificate `port` shows now is the one in the PEM file `pem`.
fn serves(port: u16, pem: &str) -> bool {
    let script = format!(
        "import ssl\n\
         shown = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(('127.0.0.1', {port})))\n\
         print(shown == ssl.PEM_cert_to_DER_cert(open('{pem}').read()))"
    );
    let output = run_python(&script, &[]);
    String::from_utf8_lossy(&output.stdout).trim() == "True"
}

/// vigilctl with `args` (no config file beyond `config`), its exit code and output.
fn vigilctl(config: &std::path::Path, args: &[&str]) -> (i32, String) {
    run_client(vigilctl_bin(), config, args)
}

#[test]
fn tls_serves_vigilctl_python_and_prometheus_clients_and_mutual_tls_asks_for_a_trusted_certificate()
{
    let certs = Certs::new();
    let (port, metrics) = (free_port(), free_port());
    let ws = Workspace::new();
    ws.config(&format!(
        "[inet_http_server]\nport=127.0.0.1:{port}\nusername=admin\npassword=s3cret\n\
         tls_cert={}\ntls_key={}\n\n\
         [metrics]\nport=127.0.0.1:{metrics}\ntls_cert={}\ntls_key={}\ntls_client_ca={}\n\n\
         [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         [program:web]\ncommand=/bin/sleep 600\nstartsecs=0\n\n\
         [program:url]\ncommand=/bin/sh -c 'echo $SUPERVISOR_SERVER_URL > url.txt; exec sleep 600'\ndirectory={{dir}}\nstartsecs=0\n",
        certs.file("server.pem"),
        certs.file("server.key"),
        certs.file("server.pem"),
        certs.file("server.key"),
        certs.file("ca.pem"),
    ));
    let vigild = Vigild::start(ws, &[]);
    wait_listening(port);
    wait_listening(metrics);
    let url = format!("https://127.0.0.1:{port}");
    // A client file naming the CA in [supervisorctl], as a user would.
    let client = vigild.ws.write(
        "client.conf",
        &format!(
            "[supervisorctl]\nserverurl={url}\nusername=admin\npassword=s3cret\ncacert={}\n",
            certs.file("ca.pem")
        ),
    );
    let blank = vigild.ws.write("blank.conf", "");
    // Children are told the TLS port's URL with its scheme.
    let told = wait_until(|| vigild.ws.read("url.txt").contains("127.0.0.1"));
    assert!(told, "{}", vigild.log());
    assert_eq!(vigild.ws.read("url.txt").trim(), url);
    let running = wait_until(|| vigilctl(&client, &["status", "web"]).1.contains("RUNNING"));
    assert!(running, "{:?}", vigilctl(&client, &["status"]));
    let (code, out) = vigilctl(&client, &["stop", "web"]);
    assert_eq!((code, out.trim()), (0, "web: stopped"));
    // --cacert on the command line does the same.
    let (code, out) = vigilctl(
        &blank,
        &[
            "-s",
            &url,
            "-u",
            "admin",
            "-p",
            "s3cret",
            "--cacert",
            &certs.file("ca.pem"),
            "start",
            "web",
        ],
    );
    assert_eq!((code, out.trim()), (0, "web: started"), "{out}");
    // Without the CA: refused, saying how to fix it, on one line.
    let (code, out) = vigilctl(
        &blank,
        &["-s", &url, "-u", "admin", "-p", "s3cret", "status"],
    );
    assert_ne!(code, 0);
    assert!(
        out.contains("not signed by a CA vigilctl trusts") && out.contains("--cacert FILE"),
        "{out}"
    );
    // Plain HTTP to the TLS port gets nothing served.
    let (code, out) = vigilctl(
        &blank,
        &[
            "-s",
            &format!("http://127.0.0.1:{port}"),
            "-u",
            "admin",
            "-p",
            "s3cret",
            "status",
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(!out.contains("RUNNING"), "{out}");

    // TLS 1.2 and 1.3 are served, TLS 1.1 is not (openssl s_client, which can offer it).
    let handshake = |version: &str| {
        let mut command = Command::new("openssl");
        command.args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            version,
        ]);
        command.args(["-cipher", "DEFAULT@SECLEVEL=0"]);
        exit_and_text(&mut command)
    };
    for version in ["-tls1_2", "-tls1_3"] {
        let (code, out) = handshake(version);
        assert_eq!(code, 0, "{version}: {out}");
        assert!(out.contains("BEGIN CERTIFICATE"), "{version}: {out}");
    }
    let (code, out) = handshake("-tls1_1");
    assert_ne!(code, 0, "TLS 1.1 was served: {out}");
    // The refusal is the server's: its alert (rustls answers handshake_failure).
    assert!(out.contains("SSL alert number"), "{out}");
    // Python's supervisorctl 4.3 refuses https:// before connecting (the README says so).
    let (code, out) = exit_and_text(Command::new(supervisorctl_bin()).args(["-s", &url, "status"]));
    assert_ne!(code, 0);
    assert!(
        out.contains("Unknown protocol for serverurl https://"),
        "{out}"
    );

    // Python's standard client over https, with basic auth in the URL and without.
    let ca = certs.file("ca.pem");
    let state = py_call(port, &ca, "admin:s3cret@", "supervisor.getState");
    assert_eq!(state, r#"{"statecode": 1, "statename": "RUNNING"}"#);
    assert_eq!(py_call(port, &ca, "", "supervisor.getState"), "HTTP 401");

    // The metrics listener asks for a client certificate signed by tls_client_ca.
    let (cert, key) = (certs.file("client.pem"), certs.file("client.key"));
    assert_eq!(py_metrics(metrics, &ca, Some((&cert, &key))), "200 True");
    let without = py_metrics(metrics, &ca, None);
    assert!(without.starts_with("TLS"), "{without}");
    let (rogue, rogue_key) = (certs.file("rogue.pem"), certs.file("rogue.key"));
    let rogue = py_metrics(metrics, &ca, Some((&rogue, &rogue_key)));
    assert!(rogue.starts_with("TLS"), "{rogue}");
    // vigilctl's own certificate for such a server, and its words without one.
    let ctl = |extra: &[&str]| {
        let metrics_url = format!("https://localhost:{metrics}");
        let mut args = vec!["-s", metrics_url.as_str(), "--cacert", ca.as_str()];
        args.extend(extra);
        args.push("version");
        let mut command = Command::new(vigilctl_bin());
        command.arg("-c").arg(&blank).args(&args);
        exit_and_text(&mut command)
    };
    let (code, out) = ctl(&[]);
    assert_ne!(code, 0);
    assert!(
        out.contains("--client-cert FILE --client-key FILE"),
        "{out}"
    );
    // (The metrics listener serves only /metrics: a call there is a 404, past TLS.)
    let (_, out) = ctl(&["--client-cert", &cert, "--client-key", &key]);
    assert!(out.contains("HTTP status 404"), "{out}");
}

#[test]
fn silent_clients_do_not_hold_up_others_and_certificates_reload_without_dropping_the_listener() {
    let certs = Certs::new();
    let (port, metrics_port) = (free_port(), free_port());
    let live = Workspace::new();
    // The files vigild reads, copied where the test can replace them.
    for name in ["server.pem", "server.key"] {
        std::fs::copy(certs.path(name), live.path().join(name)).expect("copy");
    }
    live.config(&format!(
        "[inet_http_server]\nport=127.0.0.1:{port}\ntls_cert={{dir}}/server.pem\ntls_key={{dir}}/server.key\n\n\
         [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         [program:web]\ncommand=/bin/sleep 600\nstartsecs=0\n\n\
         [metrics]\nport=127.0.0.1:{metrics_port}\n"
    ));
    let vigild = Vigild::start(live, &[]);
    wait_listening(port);
    let ca = certs.file("ca.pem");
    let url = format!("https://127.0.0.1:{port}");
    let blank = vigild.ws.write("blank.conf", "");
    let status = || {
        let mut command = Command::new(vigilctl_bin());
        command.arg("-c").arg(&blank);
        command.args(["-s", &url, "--cacert", &ca, "-t", "5", "status"]);
        exit_and_text(&mut command)
    };
    assert!(
        wait_until(|| status().1.contains("RUNNING")),
        "{:?}",
        status()
    );

    // 300 connections that never say a word, and one that starts a ClientHello and stops:
    // the next client is served all the same.
    let listening = listening_inode(port);
    assert!(listening.is_some(), "no listening socket on {port}");
    let silent_since = std::time::Instant::now();
    let mut silent: Vec<std::net::TcpStream> = (0..300)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    silent[0]
        .write_all(&[0x16, 0x03, 0x01])
        .expect("a few bytes");
    let (code, out) = status();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("RUNNING"), "{out}");
    assert_eq!(
        py_call(port, &ca, "", "supervisor.getState"),
        r#"{"statecode": 1, "statename": "RUNNING"}"#
    );
    // One silent client is kept to the end, to see the handshake's time limit close it.
    let mut last_silent = silent.pop().expect("a silent client");
    drop(silent);

    // A renewed certificate: SIGUSR2 puts it in use for new connections.
    assert!(serves(port, &certs.file("server.pem")));
    let ws = &vigild.ws;
    std::fs::copy(certs.path("server2.pem"), ws.path().join("server.pem")).expect("copy");
    std::fs::copy(certs.path("server2.key"), ws.path().join("server.key")).expect("copy");
    vigild.signal(Signal::SIGUSR2);
    vigild.wait_log("inet_http_server: reloaded the TLS certificate");
    assert!(serves(port, &certs.file("server2.pem")));
    assert_eq!(status().0, 0);

    // A key that is not the certificate's: SIGHUP reports it and keeps the one in use (the
    // config's own reload is refused too, since it checks the same files).
    std::fs::copy(certs.path("server.key"), ws.path().join("server.key")).expect("copy");
    vigild.signal(Signal::SIGHUP);
    let log = vigild.wait_log("cannot reload the TLS certificate");
    assert!(
        log.contains("does not match the certificate")
            && log.contains("keeping the one in use")
            && log.contains("could not reload the config, keeping the running one"),
        "{log}"
    );
    assert!(serves(port, &certs.file("server2.pem")));
    assert!(
        wait_until(|| status().1.contains("RUNNING")),
        "{:?}",
        status()
    );

    // A config that names other files (a renewal under a new name): SIGHUP takes them. One
    // that gives the plain [metrics] listener TLS is told that this takes a reexec.
    let plain_metrics = format!("[metrics]\nport=127.0.0.1:{metrics_port}\n");
    let config = ws.read("supervisord.conf").replace(
        &format!(
            "tls_cert={}/server.pem\ntls_key={}/server.key",
            ws.path().display(),
            ws.path().display()
        ),
        &format!(
            "tls_cert={}\ntls_key={}",
            certs.file("server.pem"),
            certs.file("server.key")
        ),
    );
    let config = config.replace(
        &plain_metrics,
        &format!(
            "{plain_metrics}tls_cert={}\ntls_key={}\n",
            certs.file("server.pem"),
            certs.file("server.key")
        ),
    );
    assert!(config.contains(&certs.file("server.key")), "{config}");
    assert!(
        config.contains(&format!("port=127.0.0.1:{metrics_port}\ntls_cert")),
        "{config}"
    );
    ws.write("supervisord.conf", &config);
    vigild.signal(Signal::SIGHUP);
    vigild.wait_log(&format!(
        "inet_http_server: reloaded the TLS certificate {}",
        certs.file("server.pem")
    ));
    assert!(serves(port, &certs.file("server.pem")));
    let log = vigild.wait_log("metrics: the config has tls_cert= now");
    assert!(log.contains("serving TLS takes `vigilctl reexec`"), "{log}");
    assert_eq!(http_get(metrics_port, "/metrics", None).0, 200);
    // The silent client's 10 s are up, or will be: vigild closes its connection.
    last_silent
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .expect("timeout");
    let mut byte = [0u8; 1];
    let read = std::io::Read::read(&mut last_silent, &mut byte);
    // Closed by the limit, not before it (by a reload, say).
    assert!(silent_since.elapsed() >= std::time::Duration::from_secs(9));
    assert!(
        matches!(read, Ok(0))
            || read
                .as_ref()
                .is_err_and(|err| err.kind() == std::io::ErrorKind::ConnectionReset),
        "{read:?}"
    );
    // All along the same listening socket: never closed, never bound again.
    assert_eq!(listening_inode(port), listening);
}

/// The inode of the socket listening on loopback `port` (from /proc/net/tcp).
fn listening_inode(port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // local_address, state (0A: LISTEN), …, inode.
        (fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&"0A"))
            .then(|| fields.get(9)?.parse().ok())
            .flatten()
    })
}

#[test]
fn a_missing_file_a_key_that_does_not_match_and_an_expired_certificate_stop_the_start() {
    let certs = Certs::new();
    let port = free_port();
    let cases = [
        (
            "inet_http_server",
            format!(
                "tls_cert={{dir}}/missing.pem\ntls_key={}",
                certs.file("server.key")
            ),
            "[inet_http_server] tls_cert=",
            "missing.pem: No such file".to_string(),
        ),
        (
            "inet_http_server",
            format!(
                "tls_cert={}\ntls_key={}",
                certs.file("server.pem"),
                certs.file("client.key")
            ),
            "[inet_http_server] tls_key=",
            format!(
                "the key in {} does not match the certificate",
                certs.file("client.key")
            ),
        ),
        (
            "metrics",
            format!(
                "tls_cert={}\ntls_key={}",
                certs.file("expired.pem"),
                certs.file("expired.key")
            ),
            "[metrics] tls_cert=",
            format!(
                "the certificate in {} expired on",
                certs.file("expired.pem")
            ),
        ),
        (
            "metrics",
            format!("tls_cert={}", certs.file("server.pem")),
            "[metrics] tls_cert=",
            "tls_cert needs tls_key".to_string(),
        ),
        (
            "inet_http_server",
            format!(
                "tls_cert={}\ntls_key={}\ntls_client_ca={}",
                certs.file("server.pem"),
                certs.file("server.key"),
                certs.file("server.key")
            ),
            "[inet_http_server] tls_client_ca=",
            "holds no PEM certificate".to_string(),
        ),
    ];
    for (section, options, location, reason) in &cases {
        let ws = Workspace::new();
        ws.config(&format!("[{section}]\nport=127.0.0.1:{port}\n{options}\n"));
        let output = ws.run_vigild(&["-c", "supervisord.conf"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(location) && stderr.contains(reason.as_str()),
            "{location} / {reason}: {stderr}"
        );
        let checked = ws.run_vigild(&["-c", "supervisord.conf", "--check-config"]);
        let report = String::from_utf8_lossy(&checked.stdout).into_owned()
            + &String::from_utf8_lossy(&checked.stderr);
        assert_ne!(checked.status.code(), Some(0), "{report}");
        assert!(report.contains(reason.as_str()), "{report}");
    }
}

#[test]
fn a_reexec_hands_the_tls_listener_over_and_the_new_image_serves_it() {
    let certs = Certs::new();
    let port = free_port();
    let vigild = Vigild::with_config(&format!(
        "{CONTROL_SECTIONS}[inet_http_server]\nport=127.0.0.1:{port}\ntls_cert={}\ntls_key={}\n\n\
         [program:sleeper]\ncommand=/bin/sleep 600\nstartsecs=0\n",
        certs.file("server.pem"),
        certs.file("server.key")
    ));
    wait_listening(port);
    let ca = certs.file("ca.pem");
    let blank = vigild.ws.write("blank.conf", "");
    let over_tls = |command: &str| {
        let url = format!("https://127.0.0.1:{port}");
        let mut vigilctl = Command::new(vigilctl_bin());
        vigilctl.arg("-c").arg(&blank);
        vigilctl.args(["-s", &url, "--cacert", &ca, command]);
        exit_and_text(&mut vigilctl)
    };
    assert!(wait_until(|| over_tls("status").1.contains("RUNNING")));
    let (listening, daemon) = (listening_inode(port), over_tls("pid").1);
    assert!(listening.is_some(), "no listening socket on {port}");
    let (code, out) = vigild.vigilctl(&["reexec"]);
    assert_eq!(code, 0, "{out}\n{}", vigild.log());
    vigild.wait_log("reexec: adopted 1 processes in");
    // The same socket, the same vigild, the certificate loaded afresh by the new image.
    let (code, out) = over_tls("status");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("RUNNING"), "{out}");
    assert_eq!(over_tls("pid").1, daemon);
    assert_eq!(listening_inode(port), listening);
    assert!(serves(port, &certs.file("server.pem")));
}

#[test]
fn a_key_root_alone_may_read_serves_after_user_and_reloads_keep_it() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: only root can start vigild with user= and a key root alone reads");
        return;
    }
    let certs = Certs::new();
    let port = free_port();
    let ws = Workspace::new();
    // The workspace open to nobody (logs, socket); the key root's alone.
    std::fs::set_permissions(
        ws.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    for name in ["server.pem", "server.key"] {
        std::fs::copy(certs.path(name), ws.path().join(name)).expect("copy");
    }
    std::fs::set_permissions(
        ws.path().join("server.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod");
    let program = |name: &str| format!("[program:{name}]\ncommand=/bin/sleep 600\nstartsecs=0\n\n");
    let config = |programs: &str| {
        format!(
            "[supervisord]\nlogfile={{dir}}/vigild.log\npidfile={{dir}}/vigild.pid\nchildlogdir={{dir}}\n\
             loglevel=info\nuser=nobody\n\n{CONTROL_SECTIONS}\
             [inet_http_server]\nport=127.0.0.1:{port}\ntls_cert={{dir}}/server.pem\ntls_key={{dir}}/server.key\n\n{programs}"
        )
    };
    ws.write("supervisord.conf", &config(&program("first")));
    let vigild = Vigild::start(ws, &[]);
    wait_listening(port);
    let ca = certs.file("ca.pem");
    let blank = vigild.ws.write("blank.conf", "");
    let over_tls = |command: &[&str]| {
        let url = format!("https://127.0.0.1:{port}");
        let mut vigilctl = Command::new(vigilctl_bin());
        vigilctl.arg("-c").arg(&blank);
        vigilctl.args(["-s", &url, "--cacert", &ca]).args(command);
        exit_and_text(&mut vigilctl)
    };
    assert!(
        wait_until(|| over_tls(&["status"]).1.contains("RUNNING")),
        "{:?}\n{}",
        over_tls(&["status"]),
        vigild.log()
    );

    // As nobody, vigild reads its config again: the key it cannot read is the one in use.
    vigild.ws.write(
        "supervisord.conf",
        &config(&(program("first") + &program("second"))),
    );
    let (code, out) = over_tls(&["update"]);
    assert_eq!(code, 0, "{out}\n{}", vigild.log());
    assert!(out.contains("second: added process group"), "{out}");
    let first = vigild.pid_of("first");
    assert!(first > 0, "{}", vigild.log());
    vigild.signal(Signal::SIGHUP);
    let log = vigild.wait_log("cannot reload the TLS certificate");
    assert!(
        log.contains("Permission denied") && log.contains("keeping the one in use"),
        "{log}"
    );
    assert!(!log.contains("could not reload the config"), "{log}");
    // supervisord's SIGHUP: every program started again, on the config just read.
    assert!(
        wait_until(|| {
            let status = vigild.vigilctl(&["status"]).1;
            status.matches("RUNNING").count() == 2 && vigild.pid_of("first") != first
        }),
        "{}",
        vigild.log()
    );
    assert!(serves(port, &certs.file("server.pem")));

    // A reexec would load the key as nobody: refused, saying so, the fleet untouched.
    let (first, daemon) = (vigild.pid_of("first"), vigild.pid());
    let (code, out) = over_tls(&["reexec"]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("could not load [inet_http_server] tls_key")
            && out.contains("Permission denied"),
        "{out}"
    );
    assert!(!vigild.log().contains("handing over"), "{}", vigild.log());
    assert_eq!((vigild.pid_of("first"), vigild.pid()), (first, daemon));
    assert_eq!(over_tls(&["status"]).0, 0);
}
