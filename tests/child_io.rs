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
