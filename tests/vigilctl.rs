//! vigilctl gives supervisorctl's output and exit codes, against vigild and against the real
//! Python supervisord.

use std::process::{Command, Stdio};

use crate::support::{
    new_session, run_client, run_python, supervisorctl_bin, vigilctl_bin, wait_until, SessionGuard,
    Supervisord, Tmux, Vigild, Workspace, CONTROL_SECTIONS,
};

const FLEET: &str = "[program:web]\ncommand=/bin/sleep 1000\nstartsecs=0\n\n\
     [program:worker]\ncommand=/bin/sh -c \"echo hello from %(process_num)d; exec sleep 1000\"\n\
     process_name=%(program_name)s_%(process_num)02d\nnumprocs=2\nstartsecs=0\n\n\
     [program:idle]\ncommand=/bin/sleep 1000\nautostart=false\n\n\
     [program:missing]\ncommand=/no/such/binary\nautostart=false\n\n\
     [program:quick]\ncommand=/bin/sh -c \"exit 1\"\nstartsecs=1\nstartretries=0\nautostart=false\n";

/// Uptimes tick between two clients' calls; everything else must match byte for byte.
fn normalized(output: &(i32, String)) -> (i32, String) {
    let text = output
        .1
        .lines()
        .map(|line| match line.find("uptime ") {
            Some(at) => format!("{}uptime X", &line[..at]),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    (output.0, text)
}

/// Runs each command with supervisorctl, then with vigilctl, and compares them.
fn compare(config: &std::path::Path, commands: &[&[&str]]) {
    for args in commands {
        let expected = normalized(&run_client(&supervisorctl_bin(), config, args));
        let actual = normalized(&run_client(vigilctl_bin(), config, args));
        assert_eq!(
            actual, expected,
            "vigilctl {args:?} differs from supervisorctl"
        );
    }
}

#[test]
fn vigilctl_matches_supervisorctl_against_vigild() {
    let ws = Workspace::new();
    ws.config(&format!("{CONTROL_SECTIONS}{FLEET}"));
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log_count("entered RUNNING state", 3);
    let config = vigild.ws.path().join("supervisord.conf");
    assert!(wait_until(|| vigild
        .ctl(&["tail", "worker:worker_00"])
        .1
        .contains("hello from 0")));
    compare(
        &config,
        &[
            &["status"],
            &["status", "web", "worker:*"],
            &["status", "nosuch"],
            &["status", "nogroup:*"],
            &["pid"],
            &["pid", "web"],
            &["pid", "idle"],
            &["version"],
            &["avail"],
            &["tail", "worker:worker_00"],
            &["tail", "nosuch"],
            &["start", "web"],
            &["start", "missing"],
            &["start", "nosuch"],
            &["stop", "idle"],
            &["signal", "NOPE", "web"],
            &["reread"],
            &["update", "nosuch"],
            &["bogus"],
        ],
    );
    // Commands that change state: each client does the same change once.
    for client in [supervisorctl_bin(), vigilctl_bin().to_path_buf()] {
        assert_eq!(
            run_client(&client, &config, &["stop", "web"]),
            (0, "web: stopped\n".into())
        );
        assert_eq!(
            run_client(&client, &config, &["start", "web"]),
            (0, "web: started\n".into())
        );
        assert_eq!(
            run_client(&client, &config, &["signal", "HUP", "idle"]),
            (7, "idle: ERROR (not running)\n".into())
        );
    }
    let (code, json) = vigild.vigilctl(&["status", "--json"]);
    assert_eq!(code, 3, "{json}");
    let check = run_python(
        "import json,sys; rows=json.loads(sys.argv[1]); print(sorted((r['name'], r['statename']) for r in rows))",
        &[&json],
    );
    assert_eq!(
        String::from_utf8_lossy(&check.stdout).trim(),
        "[('idle', 'STOPPED'), ('missing', 'STOPPED'), ('quick', 'STOPPED'), ('web', 'RUNNING'), ('worker_00', 'RUNNING'), ('worker_01', 'RUNNING')]"
    );
    assert_eq!(vigild.vigilctl(&["shutdown"]), (0, "Shut down\n".into()));
    assert!(vigild.wait_exit().success());
    let (code, out) = run_client(vigilctl_bin(), &config, &["status"]);
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("vigil.sock no such file: is vigild running?")
            || out.contains("refused connection: is vigild running?"),
        "{out}"
    );
}

#[test]
fn vigilctl_works_against_python_supervisord() {
    let ws = Workspace::new();
    let config = ws.config(&format!("{CONTROL_SECTIONS}{FLEET}"));
    let supervisord = supervisorctl_bin().with_file_name("supervisord");
    let mut command = Command::new(&supervisord);
    command
        .args(["-n", "-c"])
        .arg(&config)
        .current_dir(ws.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    new_session(&mut command);
    let mut child = command.spawn().expect("start supervisord");
    let _guard = SessionGuard(child.id() as i32);
    assert!(
        wait_until(|| run_client(&supervisorctl_bin(), &config, &["status", "web"]).0 == 0),
        "supervisord did not come up"
    );
    compare(
        &config,
        &[
            &["status"],
            &["status", "nosuch"],
            &["pid", "idle"],
            &["version"],
            &["avail"],
            &["start", "missing"],
            &["stop", "idle"],
        ],
    );
    assert_eq!(
        run_client(vigilctl_bin(), &config, &["stop", "web"]),
        (0, "web: stopped\n".into())
    );
    assert_eq!(
        run_client(vigilctl_bin(), &config, &["start", "web"]),
        (0, "web: started\n".into())
    );
    assert_eq!(
        run_client(vigilctl_bin(), &config, &["shutdown"]),
        (0, "Shut down\n".into())
    );
    assert!(
        wait_until(|| child.try_wait().ok().flatten().is_some()),
        "supervisord did not exit"
    );
}

#[test]
fn update_restarts_only_the_changed_members_of_a_group() {
    let ws = Workspace::new();
    let body = |b_command: &str| {
        format!(
            "{CONTROL_SECTIONS}[group:site]\nprograms=a,b\n\n[program:a]\ncommand=/bin/sleep 1000\nstartsecs=0\n\n\
             [program:b]\ncommand={b_command}\nstartsecs=0\n"
        )
    };
    ws.config(&body("/bin/sleep 1000"));
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log_count("entered RUNNING state", 2);
    let pid = |v: &Vigild, name: &str| v.vigilctl(&["pid", name]).1;
    let (a_before, b_before) = (pid(&vigild, "site:a"), pid(&vigild, "site:b"));

    vigild.ws.config(&body("/bin/sleep 2000"));
    assert_eq!(
        vigild.vigilctl(&["update"]),
        (0, "site: updated process group\n".to_string())
    );
    assert!(
        wait_until(|| vigild.vigilctl(&["status", "site:b"]).0 == 0),
        "b runs again"
    );
    assert_eq!(
        pid(&vigild, "site:a"),
        a_before,
        "the unchanged member keeps running"
    );
    assert_ne!(
        pid(&vigild, "site:b"),
        b_before,
        "the changed member restarted"
    );
    assert!(vigild.vigilctl(&["status"]).1.contains("site:b"));

    // supervisorctl's update (stop group, remove, add) restarts every member, as supervisord does.
    vigild.ws.config(&body("/bin/sleep 3000"));
    let (code, _) = vigild.ctl(&["update"]);
    assert_eq!(code, 0);
    assert!(wait_until(|| vigild.ctl(&["status", "site:*"]).0 == 0));
    assert_ne!(
        pid(&vigild, "site:a"),
        a_before,
        "supervisorctl restarts the whole group"
    );
    vigild.shutdown();
}

#[test]
fn the_interactive_shell_completes_names_and_keeps_history() {
    let ws = Workspace::new();
    ws.config(&format!("{CONTROL_SECTIONS}{FLEET}"));
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log_count("entered RUNNING state", 3);
    let config = vigild.ws.path().join("supervisord.conf");
    let history = vigild.ws.path().join("history");
    let shell = format!(
        "{} -c {} -r {}",
        vigilctl_bin().display(),
        config.display(),
        history.display()
    );
    // One tmux server per shell run: a server whose last session just ended may still be
    // exiting when the next session is asked for.
    let start_shell = |run: u32| Tmux::start(&format!("shell-{run}"), &shell);
    let tmux = start_shell(1);
    tmux.wait_for("supervisor>");
    assert!(
        tmux.screen().contains("worker:worker_00"),
        "the shell starts with status"
    );
    let coloured = tmux.run(&["capture-pane", "-e", "-p", "-t", "shell"]);
    assert!(
        coloured.contains("\u{1b}[32mRUNNING"),
        "states are coloured on a terminal: {coloured:?}"
    );
    tmux.keys(&["stat", "Tab", " we", "Tab"]);
    tmux.wait_for("supervisor> status web");
    tmux.keys(&["Enter"]);
    tmux.wait_for("pid ");
    tmux.keys(&["exit", "Enter"]);
    assert!(wait_until(
        || std::fs::read_to_string(&history).is_ok_and(|h| h.contains("status web"))
    ));

    let tmux = start_shell(2);
    tmux.wait_for("supervisor>");
    tmux.keys(&["Up"]);
    tmux.wait_for("supervisor> exit");
    tmux.keys(&["Up"]);
    tmux.wait_for("supervisor> status web");
    tmux.keys(&["C-u", "quit", "Enter"]);
    vigild.shutdown();
}

/// Output with the parts that differ between any two runs (pids, uptimes, stop times)
/// replaced.
fn run_independent(output: &(i32, String)) -> (i32, String) {
    let words: Vec<String> = output
        .1
        .split(' ')
        .map(|word| {
            if word.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                "#".to_string()
            } else {
                word.to_string()
            }
        })
        .collect();
    (output.0, words.join(" "))
}

#[test]
fn supervisorctl_sees_the_same_thing_from_vigild_and_supervisord() {
    let commands: &[&[&str]] = &[
        &["status"],
        &["status", "worker:*", "nosuch"],
        &["start", "web"],
        &["stop", "web"],
        &["stop", "web"],
        &["start", "web", "missing", "nosuch"],
        &["restart", "worker:*"],
        &["signal", "USR1", "idle"],
        &["signal", "CONT", "all"],
        &["start", "quick"],
        &["clear", "web"],
        &["tail", "worker:worker_01"],
        &["tail", "idle", "stderr"],
        &["avail"],
        &["reread"],
        &["stop", "all"],
        &["status"],
    ];
    let transcript = |config: &std::path::Path| -> Vec<(i32, String)> {
        assert!(
            wait_until(
                || run_client(&supervisorctl_bin(), config, &["status", "web", "worker:*"]).0 == 0
            ),
            "the fleet did not come up"
        );
        commands
            .iter()
            .map(|args| {
                let (code, text) = run_independent(&run_client(&supervisorctl_bin(), config, args));
                // Results of several processes come in completion order, which timing decides
                // in supervisord too.
                let several = args.iter().any(|a| *a == "all" || a.ends_with(":*"));
                if several {
                    let mut lines: Vec<&str> = text.lines().collect();
                    lines.sort_unstable();
                    (code, lines.join("\n"))
                } else {
                    (code, text)
                }
            })
            .collect()
    };
    let ws = Workspace::new();
    let config = ws.config(&format!("{CONTROL_SECTIONS}{FLEET}"));
    let supervisord = Supervisord::start(&ws, &config);
    let from_supervisord = transcript(&config);
    drop(supervisord);
    let ws = Workspace::new();
    ws.config(&format!("{CONTROL_SECTIONS}{FLEET}"));
    let vigild = Vigild::start(ws, &[]);
    let from_vigild = transcript(&vigild.ws.path().join("supervisord.conf"));
    for ((args, expected), actual) in commands.iter().zip(&from_supervisord).zip(&from_vigild) {
        assert_eq!(
            actual, expected,
            "supervisorctl {args:?}: vigild differs from supervisord"
        );
    }
}

#[test]
fn vigilctl_fg_and_serverurl_flag() {
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:echo]\ncommand=/bin/cat\nstartsecs=0\nstdout_logfile={{dir}}/echo.log\n\n\
         [program:idle]\ncommand=/bin/sleep 1000\nautostart=false\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("success: echo entered RUNNING state");
    let serverurl = format!("unix://{}", vigild.ws.path().join("vigil.sock").display());
    let output = Command::new(vigilctl_bin())
        .args(["-s", &serverurl, "fg", "echo"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(b"hello-vigilctl\n")?;
            }
            child.wait_with_output()
        })
        .expect("vigilctl fg");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}");
    // The followers may still print the echo after "Exiting foreground".
    assert!(
        out.starts_with("==> Press Ctrl-C to exit <==\n") && out.contains("Exiting foreground\n"),
        "{out}"
    );
    assert!(
        wait_until(|| vigild.ws.read("echo.log") == "hello-vigilctl\n"),
        "{}",
        vigild.ws.read("echo.log")
    );
    let run = |args: &[&str]| {
        let output = Command::new(vigilctl_bin())
            .args(["-s", &serverurl])
            .args(args)
            .output()
            .expect("vigilctl");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    assert_eq!(
        run(&["fg", "idle"]),
        (1, "ERROR: process not running\n".into())
    );
    assert_eq!(
        run(&["fg", "nosuch"]),
        (1, "ERROR: bad process name supplied\n".into())
    );
    vigild.shutdown();
}

#[test]
fn a_waiting_start_does_not_hold_up_other_calls() {
    let (mut vigild, port) = Vigild::with_inet_server(
        "[program:slow]\ncommand=/bin/sleep 1000\nstartsecs=3\nautostart=false\n",
    );
    vigild.wait_log("supervisord started with pid");
    let script = format!(
        r#"
import threading, xmlrpc.client
url = "http://127.0.0.1:{port}/RPC2"
done = threading.Event()
def start():
    xmlrpc.client.ServerProxy(url).supervisor.startProcess("slow", True)
    done.set()
waiter = threading.Thread(target=start)
waiter.start()
proxy = xmlrpc.client.ServerProxy(url)
while proxy.supervisor.getProcessInfo("slow")["statename"] != "STARTING":
    pass
print("state while the start waits:", proxy.supervisor.getState()["statename"], "start done:", done.is_set())
waiter.join()
print("start done:", done.is_set(), proxy.supervisor.getProcessInfo("slow")["statename"])
"#
    );
    let output = run_python(&script, &[]);
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "state while the start waits: RUNNING start done: False",
            "start done: True RUNNING"
        ]
    );
    vigild.shutdown();
}

/// A loopback server that takes one connection, reads the request and then `behave`s on it;
/// the thread ends when the client has gone (or after the test deadline).
fn misbehaving_server(
    behave: fn(&mut std::net::TcpStream),
) -> (String, std::thread::JoinHandle<()>) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    listener.set_nonblocking(true).expect("nonblocking");
    let server = std::thread::spawn(move || {
        let mut accepted = None;
        wait_until(|| {
            accepted = listener.accept().ok();
            accepted.is_some()
        });
        let Some((mut stream, _)) = accepted else {
            return;
        };
        let timeout = Some(crate::support::DEADLINE);
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(timeout);
        let _ = stream.set_write_timeout(timeout);
        let mut request = Vec::new();
        let mut piece = [0u8; 4096];
        while !request.windows(13).any(|w| w == b"</methodCall>") {
            match stream.read(&mut piece) {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&piece[..n]),
            }
        }
        behave(&mut stream);
    });
    (url, server)
}

/// Runs `vigilctl -s url args…` and waits (up to the test deadline) for it to exit;
/// returns (exit code, stdout+stderr).
fn vigilctl_with_deadline(url: &str, args: &[&str]) -> (i32, String) {
    let mut command = Command::new(vigilctl_bin());
    command
        .args(["-s", url])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    new_session(&mut command);
    let mut child = command.spawn().expect("vigilctl");
    let _guard = SessionGuard(child.id() as i32);
    let exited = wait_until(|| child.try_wait().ok().flatten().is_some());
    assert!(exited, "vigilctl {args:?} against {url} did not exit");
    let output = child.wait_with_output().expect("vigilctl output");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), text)
}

#[test]
fn vigilctl_refuses_huge_sizes_from_the_server() {
    use std::io::Write;
    let giant_chunk: fn(&mut std::net::TcpStream) = |stream| {
        let _ = stream.write_all(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nxx",
        );
    };
    let giant_length: fn(&mut std::net::TcpStream) = |stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1099511627776\r\n\r\nxx");
    };
    let endless_body: fn(&mut std::net::TcpStream) = |stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n\r\n");
        let piece = vec![b'x'; 1 << 16];
        while stream.write_all(&piece).is_ok() {}
    };
    let endless_header: fn(&mut std::net::TcpStream) = |stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nX-Long: ");
        let piece = vec![b'x'; 1 << 16];
        while stream.write_all(&piece).is_ok() {}
    };
    for (behave, what) in [
        (
            giant_chunk,
            "the response body is larger than the 67108864 bytes",
        ),
        (
            giant_length,
            "the response body is larger than the 67108864 bytes",
        ),
        (
            endless_body,
            "the response body is larger than the 67108864 bytes",
        ),
        (
            endless_header,
            "a header line is larger than the 65536 bytes",
        ),
    ] {
        let (url, server) = misbehaving_server(behave);
        let (code, out) = vigilctl_with_deadline(&url, &["status"]);
        assert_ne!(code, 0, "{out}");
        assert!(!out.contains("panicked"), "{out}");
        assert_eq!(
            out.trim(),
            format!("ERROR: {url}: {what} vigilctl accepts"),
            "{out}"
        );
        server.join().expect("server thread");
    }
}

#[test]
fn vigilctl_gives_up_on_a_server_that_never_answers() {
    use std::io::Read;
    let (url, server) = misbehaving_server(|stream| {
        // Never answer; wait for the client to go.
        let _ = stream.read_to_end(&mut Vec::new());
    });
    let (code, out) = vigilctl_with_deadline(&url, &["-t", "1", "status"]);
    assert_eq!(
        code, 4,
        "status exits 4 when the server cannot be asked: {out}"
    );
    assert_eq!(
        out.trim(),
        format!("ERROR: {url}: no answer within 1 s (vigilctl -t sets the timeout)")
    );
    server.join().expect("server thread");

    // A start that waits longer than the timeout for its program is not cut short.
    let (mut vigild, port) = Vigild::with_inet_server(
        "[program:slow]\ncommand=/bin/sleep 1000\nstartsecs=2\nautostart=false\n",
    );
    vigild.wait_log("supervisord started with pid");
    let url = format!("http://127.0.0.1:{port}");
    assert_eq!(
        vigilctl_with_deadline(&url, &["-t", "1", "start", "slow"]),
        (0, "slow: started\n".into())
    );
    vigild.shutdown();
}

#[test]
fn output_into_a_closed_pipe_ends_vigilctl_quietly() {
    // 3,000 configured programs (none started): `avail` writes more than a pipe holds.
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:idle]\ncommand=/bin/true\nautostart=false\n\
         process_name=%(program_name)s_%(process_num)d\nnumprocs=3000\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("supervisord started with pid");
    let config = vigild.ws.path().join("supervisord.conf");
    let mut first = String::new();
    assert!(wait_until(|| {
        let piped = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!(
                "{} -c {} avail | head -1",
                vigilctl_bin().display(),
                config.display()
            ))
            .output()
            .expect("sh");
        first = String::from_utf8_lossy(&piped.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&piped.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        first.contains("idle:idle_")
    }));
    assert_eq!(first.lines().count(), 1, "{first}");
    vigild.shutdown();
}

#[test]
fn help_for_each_command_is_supervisorctls_and_mistakes_need_no_server() {
    let ws = Workspace::new();
    let config = ws.config(CONTROL_SECTIONS);
    let config = config.display().to_string();
    for command in [
        "add", "avail", "clear", "exit", "fg", "maintail", "pid", "quit", "reload", "remove",
        "reread", "restart", "shutdown", "signal", "start", "status", "stop", "tail", "update",
        "version",
    ] {
        let (_, theirs) = run_client(
            &supervisorctl_bin(),
            std::path::Path::new(&config),
            &["help", command],
        );
        let (code, ours) = run_client(
            vigilctl_bin(),
            std::path::Path::new(&config),
            &["help", command],
        );
        assert_eq!(code, 0, "{command}: {ours}");
        assert_eq!(ours.trim_end(), theirs.trim_end(), "help {command}");
    }
    let (_, list) = run_client(vigilctl_bin(), std::path::Path::new(&config), &["help"]);
    for command in [
        "fg",
        "exit",
        "quit",
        "crashes",
        "scale",
        "schedules",
        "reload-program",
    ] {
        assert!(
            list.split_whitespace().any(|w| w == command),
            "{command}: {list}"
        );
    }
    // No server runs: an unknown command is said to be one, not a connection error.
    let (code, out) = run_client(vigilctl_bin(), std::path::Path::new(&config), &["nope"]);
    assert_eq!((code, out.trim()), (1, "*** Unknown syntax: nope"));
    // An unknown option is rejected as one.
    let output = std::process::Command::new(vigilctl_bin())
        .args(["-x", "status"])
        .output()
        .expect("vigilctl");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unexpected argument '-x' found"));
    // The version, with supervisorctl's -v.
    let version = std::process::Command::new(vigilctl_bin())
        .arg("-v")
        .output()
        .expect("vigilctl");
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("vigilctl "));
    // tail without a name shows the usage, as supervisorctl does.
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("supervisord started");
    let (_, theirs) = vigild.ctl(&["tail"]);
    let (_, ours) = vigild.vigilctl(&["tail"]);
    assert!(
        ours.starts_with("Error: too few arguments\ntail [-f] <name>"),
        "{ours}"
    );
    assert!(theirs.contains("tail [-f] <name>"), "{theirs}");
    // A command without the name it needs: the error, then its help, as supervisorctl.
    for command in ["start", "stop", "restart", "clear"] {
        let theirs = vigild.ctl(&[command]);
        let ours = vigild.vigilctl(&[command]);
        assert_eq!(ours, theirs, "{command}");
    }
    vigild.shutdown();
}

#[test]
fn completions_and_man_pages_come_from_the_clap_definitions() {
    let run = |binary: &std::path::Path, args: &[&str]| {
        let output = Command::new(binary).args(args).output().expect("run");
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let ws = Workspace::new();
    let bash = ws.write(
        "vigilctl.bash",
        &run(vigilctl_bin(), &["completions", "bash"]),
    );
    // The real bash reads it and completes the first word to vigilctl's commands.
    let script = format!(
        "source {}; for word in sch reload-p fg; do COMP_WORDS=(vigilctl $word); COMP_CWORD=1; \
         _vigilctl vigilctl $word vigilctl; printf '%s\\n' \"${{COMPREPLY[@]}}\"; done",
        bash.display()
    );
    let completed = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("bash");
    let completed = String::from_utf8_lossy(&completed.stdout).into_owned();
    for command in ["schedules", "reload-program", "fg"] {
        assert!(
            completed.lines().any(|line| line == command),
            "{command}: {completed}"
        );
    }
    for shell in ["zsh", "fish"] {
        let script = run(vigilctl_bin(), &["completions", shell]);
        assert!(script.contains("reload-program"), "{shell}: {script}");
    }
    // The man pages render with the real groff.
    for (binary, args, expected) in [
        (vigilctl_bin(), &["manpage"][..], "reload-program"),
        (
            std::path::Path::new(crate::support::vigild_bin()),
            &["--manpage"][..],
            "check-config",
        ),
    ] {
        let page = ws.write("page.1", &run(binary, args));
        let rendered = Command::new("groff")
            .args(["-man", "-Tutf8"])
            .arg(&page)
            .output()
            .expect("groff");
        let rendered = String::from_utf8_lossy(&rendered.stdout);
        assert!(rendered.contains(expected), "{rendered}");
    }
}

#[test]
fn a_vigil_command_against_supervisord_says_it_needs_vigild() {
    let ws = Workspace::new();
    let config = ws.config(&format!(
        "{CONTROL_SECTIONS}[program:web]\ncommand=/bin/sleep 1000\nstartsecs=0\n"
    ));
    let _supervisord = Supervisord::start(&ws, &config);
    assert!(
        wait_until(|| run_client(vigilctl_bin(), &config, &["status", "web"]).0 == 0),
        "supervisord did not come up"
    );
    for args in [
        &["schedules"][..],
        &["config", "web"],
        &["scale", "web", "2"],
    ] {
        let (code, out) = run_client(vigilctl_bin(), &config, args);
        assert_ne!(code, 0, "{args:?}: {out}");
        assert!(
            out.contains("the server has no vigil.* methods (it is supervisord, not vigild); this command needs vigild"),
            "{args:?}: {out}"
        );
    }
    // update still falls back to supervisord's remove-and-add for a changed group.
    let (code, out) = run_client(vigilctl_bin(), &config, &["update"]);
    assert_eq!(code, 0, "{out}");
}

/// Runs vigilctl with `args` (no `-c`) in `dir`, as `prefix` (e.g. `setpriv …`) if given.
fn vigilctl_in(dir: &std::path::Path, prefix: &[&str], args: &[&str]) -> (i32, String) {
    let mut argv: Vec<&str> = prefix.to_vec();
    let binary = vigilctl_bin().display().to_string();
    argv.push(&binary);
    argv.extend(args);
    crate::support::exit_and_text(Command::new(argv[0]).args(&argv[1..]).current_dir(dir))
}

#[test]
fn the_common_mistakes_get_one_line_saying_what_to_do_next() {
    let ws = Workspace::new();
    let port = crate::support::free_port();
    ws.config(&format!(
        "[unix_http_server]\nfile={{dir}}/vigil.sock\n\n\
         {}[program:web]\ncommand=sleep 600\n",
        crate::support::control_with(port, "username=admin\npassword=s3cret\n")
    ));
    let vigild = Vigild::start(ws, &[]);
    crate::support::wait_listening(port);
    let dir = vigild.ws.path();
    let url = format!("http://127.0.0.1:{port}");

    // No config file and no -s: supervisorctl's default, and how to name the server.
    let empty = tempfile::tempdir().expect("temp dir");
    let (code, out) = vigilctl_in(empty.path(), &[], &["status"]);
    if out.starts_with("http://localhost:9001 refused connection") {
        assert_eq!(code, 4, "{out}");
        assert!(
            out.contains("so this is supervisorctl's default; -c FILE or -s URL names the server"),
            "{out}"
        );
        assert_eq!(out.lines().count(), 1, "{out}");
    } else {
        eprintln!("skipped the no-config case: this host has a config on the search path ({out})");
    }
    // A socket that is not there.
    let missing = format!("unix://{}/none.sock", dir.display());
    let (code, out) = vigilctl_in(dir, &[], &["-s", &missing, "status"]);
    assert_eq!(code, 4, "{out}");
    assert_eq!(
        out,
        format!(
            "{missing} no such file: is vigild running? (-c FILE or -s URL names another server)\n"
        )
    );
    // No password, then a wrong one.
    let (code, out) = vigilctl_in(dir, &[], &["-s", &url, "status"]);
    assert_eq!(code, 4, "{out}");
    assert_eq!(
        out,
        "Server requires authentication: give -u USER -p PASSWORD, or username= and password= in [supervisorctl]\n"
    );
    let (code, out) = vigilctl_in(
        dir,
        &[],
        &["-s", &url, "-u", "admin", "-p", "wrong", "stop", "web"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("Server requires authentication: the username or password is wrong"),
        "{out}"
    );
    // A socket this user may not open (root may open any: run as nobody).
    if nix::unistd::geteuid().is_root() {
        let socket = format!("unix://{}/vigil.sock", dir.display());
        let nobody = [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ];
        let (code, out) = vigilctl_in(
            std::path::Path::new("/"),
            &nobody,
            &["-s", &socket, "status"],
        );
        assert_eq!(code, 4, "{out}");
        assert_eq!(
            out,
            format!("{socket} permission denied: run vigilctl as a user who may open the socket (root, or the owner chown= in [unix_http_server] gives it)\n")
        );
    } else {
        eprintln!("skipped the permission case: it runs vigilctl as nobody, which needs root");
    }
}
