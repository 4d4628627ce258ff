//! Child output reaches its log files completely; fcgi programs get the shared socket as fd 0.

use std::io::Read;
use std::os::unix::net::UnixStream;

use crate::support::{wait_until, Vigild, Workspace};

#[test]
fn stdout_and_stderr_reach_their_files_and_nothing_is_lost() {
    let mut vigild = Vigild::with_config(
        "[program:chatty]\ncommand=/bin/sh -c \"seq 1 200000; echo oops >&2\"\nstartsecs=0\nautorestart=false\n\
         stdout_logfile={dir}/chatty.out\nstderr_logfile={dir}/chatty.err\nstdout_logfile_maxbytes=0\n",
    );
    vigild.wait_log("exited: chatty (exit status 0; expected)");
    let expected: String = (1..=200_000).map(|n| format!("{n}\n")).collect();
    assert!(wait_until(
        || vigild.ws.read("chatty.out").len() == expected.len()
    ));
    assert_eq!(vigild.ws.read("chatty.out"), expected);
    assert_eq!(vigild.ws.read("chatty.err"), "oops\n");
    vigild.shutdown();
}

#[test]
fn redirect_stderr_merges_into_stdout_in_order() {
    let mut vigild = Vigild::with_config(
        "[program:merged]\ncommand=/bin/sh -c \"echo one; echo two >&2; echo three\"\nstartsecs=0\nautorestart=false\n\
         redirect_stderr=true\nstdout_logfile={dir}/merged.out\n",
    );
    vigild.wait_log("exited: merged");
    assert!(
        wait_until(|| vigild.ws.read("merged.out") == "one\ntwo\nthree\n"),
        "{}",
        vigild.ws.read("merged.out")
    );
    vigild.shutdown();
}

#[test]
fn auto_logs_are_named_like_supervisord_in_childlogdir() {
    let mut vigild = Vigild::with_config(
        "[program:auto]\ncommand=/bin/sh -c \"echo out; echo err >&2; sleep 1000\"\nstartsecs=0\n",
    );
    vigild.wait_log("success: auto entered RUNNING state");
    let find = |stream: &str| {
        std::fs::read_dir(vigild.ws.path())
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with(&format!("auto-{stream}---supervisor-")) && n.ends_with(".log"))
    };
    let out = find("stdout").expect("AUTO stdout log");
    let err = find("stderr").expect("AUTO stderr log");
    assert_eq!(
        out.len(),
        "auto-stdout---supervisor-12345678.log".len(),
        "{out}"
    );
    assert!(wait_until(|| vigild.ws.read(&out) == "out\n"));
    assert!(wait_until(|| vigild.ws.read(&err) == "err\n"));
    vigild.shutdown();
}

const ECHO_NAME_SERVER: &str = "import os, socket\nlistener = socket.socket(fileno=0)\nwhile True:\n    conn, _ = listener.accept()\n    \
     conn.sendall(os.environ['SUPERVISOR_PROCESS_NAME'].encode())\n    conn.close()\n";

#[test]
fn fcgi_programs_share_one_socket_as_fd0() {
    let ws = Workspace::new();
    ws.write("serve.py", ECHO_NAME_SERVER);
    ws.config(
        "[fcgi-program:web]\ncommand=python3 {dir}/serve.py\nsocket=unix://{dir}/web.sock\nsocket_mode=0600\n\
         process_name=%(program_name)s_%(process_num)d\nnumprocs=2\nstartsecs=0\n",
    );
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log_count("entered RUNNING state", 2);
    let socket = vigild.ws.path().join("web.sock");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&socket).expect("socket").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let mut reply = String::new();
    UnixStream::connect(&socket)
        .expect("connect")
        .read_to_string(&mut reply)
        .expect("read");
    assert!(reply == "web_0" || reply == "web_1", "{reply}");
    vigild.shutdown();
}

#[test]
fn fcgi_programs_can_listen_on_tcp() {
    let port = crate::support::free_port();
    let ws = Workspace::new();
    ws.write("serve.py", ECHO_NAME_SERVER);
    ws.config(&format!(
        "[fcgi-program:api]\ncommand=python3 {{dir}}/serve.py\nsocket=tcp://127.0.0.1:{port}\nstartsecs=0\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("success: api entered RUNNING state");
    let mut reply = String::new();
    std::net::TcpStream::connect(("127.0.0.1", port))
        .expect("connect")
        .read_to_string(&mut reply)
        .expect("read");
    assert_eq!(reply, "api");
    vigild.shutdown();
}

#[test]
fn an_fcgi_socket_that_cannot_be_created_stops_the_start() {
    let ws = Workspace::new();
    ws.config("[fcgi-program:web]\ncommand=/bin/cat\nsocket=unix://{dir}/missing/dir/web.sock\n");
    let output = ws.run_vigild(&["-n", "-c", "supervisord.conf"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("could not create socket for fcgi-program 'web'"),
        "{stderr}"
    );
}

/// Sends `chunks` (a Python expression for a list of strings) to process `name` with
/// sendProcessStdin, one call each with a 5 s client timeout, until one faults; prints what
/// was accepted and the fault as JSON.
const SEND_STDIN: &str = "import json, socket, sys, xmlrpc.client\n\
    socket.setdefaulttimeout(5)\n\
    proxy = xmlrpc.client.ServerProxy('http://127.0.0.1:%s/RPC2' % sys.argv[1])\n\
    accepted, fault = 0, None\n\
    for chunk in eval(sys.argv[3]):\n\
    \x20   try:\n\
    \x20       proxy.supervisor.sendProcessStdin(sys.argv[2], chunk)\n\
    \x20   except xmlrpc.client.Fault as err:\n\
    \x20       fault = [err.faultCode, err.faultString]\n\
    \x20       break\n\
    \x20   accepted += len(chunk)\n\
    print(json.dumps({'accepted': accepted, 'fault': fault}))\n";

fn send_stdin(port: u16, name: &str, chunks: &str) -> serde_json::Value {
    let out = crate::support::run_python(SEND_STDIN, &[&port.to_string(), name, chunks]);
    assert!(
        out.status.success(),
        "a sendProcessStdin call failed or hung: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn send_process_stdin_queues_up_to_a_bound_and_never_blocks() {
    let port = crate::support::free_port();
    let mut vigild = Vigild::with_config(&format!(
        "{}[program:deaf]\ncommand=/bin/sleep 1000\nstartsecs=0\n\n\
         [program:echo]\ncommand=/bin/cat\nstartsecs=0\nstdout_logfile={{dir}}/echo.log\n\n\
         [program:other]\ncommand=/bin/sleep 1000\nstartsecs=0\nautostart=false\n",
        crate::support::control(port)
    ));
    vigild.wait_log("success: deaf entered RUNNING");
    vigild.wait_log("success: echo entered RUNNING");
    // A child that never reads: the pipe takes 64 KiB, vigild holds 1 MiB more, then each
    // call is refused at once with FAILED.
    let sent = send_stdin(port, "deaf", "['x' * 65536] * 100");
    let accepted = sent["accepted"].as_u64().unwrap_or(0);
    assert!(
        ((1 << 20) - 65536..=(1 << 20) + 2 * 65536).contains(&accepted),
        "{sent}"
    );
    assert_eq!(sent["fault"][0], 30, "{sent}");
    let text = sent["fault"][1].as_str().unwrap_or_default();
    assert!(
        text.starts_with("FAILED: deaf: stdin buffer full: ")
            && text.ends_with("65536 more would pass the limit of 1048576"),
        "{text}"
    );
    // The process and the rest of vigild carry on.
    let (_, status) = vigild.vigilctl(&["status", "deaf"]);
    assert!(status.contains("RUNNING"), "{status}");
    assert_eq!(
        vigild.vigilctl(&["start", "other"]),
        (0, "other: started\n".into())
    );
    assert_eq!(
        vigild.vigilctl(&["stop", "other"]),
        (0, "other: stopped\n".into())
    );
    // A child that reads gets every byte, in order.
    let sent = send_stdin(
        port,
        "echo",
        "[''.join('line %06d\\n' % n for n in range(i, i + 1000)) for i in range(0, 200000, 1000)]",
    );
    assert_eq!(sent["fault"], serde_json::Value::Null, "{sent}");
    let expected: String = (0..200_000).map(|n| format!("line {n:06}\n")).collect();
    assert_eq!(sent["accepted"].as_u64(), Some(expected.len() as u64));
    assert!(
        wait_until(|| vigild.ws.read("echo.log").len() >= expected.len()),
        "echo.log has {} of {} bytes",
        vigild.ws.read("echo.log").len(),
        expected.len()
    );
    assert!(vigild.ws.read("echo.log") == expected, "echo.log differs");
    // Stopping the deaf child is not held up by its full buffer.
    assert_eq!(
        vigild.vigilctl(&["stop", "deaf"]),
        (0, "deaf: stopped\n".into())
    );
    vigild.shutdown();
}
