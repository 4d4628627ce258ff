//! The log pipeline (issue 22): supervisord's syslog copies of program output and of the
//! main log, datagram for datagram as supervisord 4.3 sends them (checked side by side with
//! the real supervisord in a mount namespace whose `/dev/log` is the test's socket, as
//! root), on a socket the test binds (`syslog_socket=`).

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::*;

/// Programs whose output goes to syslog: both streams by `*_syslog=true`, and the
/// deprecated `stdout_logfile=syslog`.
const PROGRAMS: &str = "[program:out]\n\
    command=/bin/sh -c 'printf \"hello\\nworld\\n\"; printf \"oops\\n\" >&2; exec sleep 100000'\n\
    stdout_syslog=true\nstderr_syslog=true\nstdout_logfile=NONE\nstderr_logfile=NONE\n\
    startsecs=0\n\n\
    [program:old]\ncommand=/bin/sh -c 'echo deprecated form; exec sleep 100000'\n\
    stdout_logfile=syslog\nstartsecs=0\n";

/// A socket bound at `path` that the test reads datagrams from.
fn receiver(path: &Path) -> UnixDatagram {
    let socket = UnixDatagram::bind(path).expect("bind the syslog socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    socket
}

/// Datagrams from `socket` until every one of `wanted` has been seen in one (60 s at most).
fn receive_until(socket: &UnixDatagram, wanted: &[&str]) -> Vec<String> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buffer = vec![0u8; 65536];
    while Instant::now() < deadline
        && !wanted
            .iter()
            .all(|w| got.iter().any(|g: &String| g.contains(w)))
    {
        if let Ok(n) = socket.recv(&mut buffer) {
            got.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
        }
    }
    for w in wanted {
        assert!(
            got.iter().any(|g| g.contains(w)),
            "no datagram with {w:?}: {got:#?}"
        );
    }
    got
}

/// `<14>Dec  3 14:27:44 supervisord: …` with the time and pids made `T` and `N`.
fn normalized(datagram: &str) -> String {
    let time = regex::Regex::new(r"^<(\d+)>[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d ").expect("re");
    let stamp = regex::Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}").expect("re");
    let pid = regex::Regex::new(r"pid \d+").expect("re");
    let text = time.replace(datagram, "<$1>T ");
    let text = stamp.replace_all(&text, "STAMP");
    pid.replace_all(&text, "pid N").into_owned()
}

/// The datagrams the test looks for: the main log's warning about the deprecated spelling,
/// then those compared byte for byte: program lines and the main log's spawn lines.
const WANTED: [&str; 7] = [
    "For [program:old], stdout_logfile=syslog but this is deprecated",
    "supervisord: out hello",
    "supervisord: out world",
    "supervisord: out oops",
    "supervisord: old deprecated form",
    "INFO spawned: 'out' with pid",
    "INFO success: old entered RUNNING state",
];

fn config_text(socket_option: &str) -> String {
    format!(
        "[supervisord]\nlogfile=syslog\npidfile={{dir}}/d.pid\nchildlogdir={{dir}}\n{socket_option}\n\n{PROGRAMS}"
    )
}

#[test]
fn syslog_copies_are_one_datagram_per_line_framed_as_glibc_frames_supervisords() {
    let ws = Workspace::new();
    let socket = receiver(&ws.path().join("log.sock"));
    ws.write(
        "supervisord.conf",
        &config_text("syslog_socket={dir}/log.sock"),
    );
    let vigild = Vigild::start(ws, &[]);
    let got = receive_until(&socket, &WANTED);
    let framing =
        regex::Regex::new(r"^<14>[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d supervisord: ").expect("re");
    let main_line = regex::Regex::new(r"supervisord: \d{4}-\d\d-\d\d ").expect("re");
    for datagram in &got {
        assert!(framing.is_match(datagram), "{datagram:?}");
        // Program lines come bare, main-log lines as the log file has them.
        let main_log = main_line.is_match(datagram);
        assert_eq!(datagram.ends_with('\n'), main_log, "{datagram:?}");
    }
    for line in ["out hello", "out world", "out oops", "old deprecated form"] {
        let exact: Vec<_> = got
            .iter()
            .filter(|g| g.ends_with(&format!("supervisord: {line}")))
            .collect();
        assert_eq!(exact.len(), 1, "{line}: {got:#?}");
    }
    // The deprecated spelling is said, as supervisord says it.
    assert!(
        got.iter().any(|g| g.contains(
            "For [program:old], stdout_logfile=syslog but this is deprecated and will be removed.  Use stdout_syslog=true to enable syslog instead."
        )),
        "{got:#?}"
    );
    drop(vigild);

    // The same config under the real supervisord, whose syslog(3) writes to /dev/log: a
    // mount namespace gives it a /dev of the test's own (root only).
    if !nix::unistd::Uid::effective().is_root() || !Path::new("/usr/bin/unshare").exists() {
        eprintln!("skipped the side-by-side part: it needs root and util-linux's unshare");
        return;
    }
    let ws = Workspace::new();
    let dev = ws.path().join("dev");
    std::fs::create_dir(&dev).expect("mkdir dev");
    let made = std::process::Command::new("mknod")
        .arg(dev.join("null"))
        .args(["c", "1", "3"])
        .status()
        .expect("mknod");
    assert!(made.success());
    let theirs = receiver(&dev.join("log"));
    let config = ws.write("supervisord.conf", &config_text(""));
    let script = format!("mount --bind {} /dev && exec \"$0\" \"$@\"", dev.display());
    let _supervisord = Supervisord::start_wrapped(
        &ws,
        &["/usr/bin/unshare", "--mount", "/bin/sh", "-c", &script],
        &config,
    );
    let reference = receive_until(&theirs, &WANTED);
    // vigild's warning names the file and line too: compared by presence only.
    for wanted in &WANTED[1..] {
        let ours: Vec<String> = got
            .iter()
            .filter(|g| g.contains(wanted))
            .map(|g| normalized(g))
            .collect();
        let supervisords: Vec<String> = reference
            .iter()
            .filter(|g| g.contains(wanted))
            .map(|g| normalized(g))
            .collect();
        assert_eq!(ours, supervisords, "{wanted}");
    }
}

#[test]
fn a_missing_syslog_socket_drops_lines_says_so_once_and_children_run_on() {
    let ws = Workspace::new();
    ws.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nlogfile={{dir}}/vigild.log\npidfile={{dir}}/d.pid\nchildlogdir={{dir}}\n\
             syslog_socket={{dir}}/nobody.sock\n\n{CONTROL_SECTIONS}\
             [program:chatty]\ncommand=/bin/sh -c 'while :; do echo line; done'\n\
             stdout_syslog=true\nstdout_logfile=NONE\nstartsecs=0\n"
        ),
    );
    let mut vigild = Vigild::start(ws, &[]);
    let log = vigild.wait_log("syslog: cannot send to");
    assert!(log.contains("nobody.sock"), "{log}");
    assert!(log.contains("lines are dropped until it answers"), "{log}");
    // Said once, however many lines are lost; the program keeps running and vigild answers.
    let (code, out) = vigild.vigilctl(&["status", "chatty"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("RUNNING"), "{out}");
    let socket = receiver(&vigild.ws.path().join("nobody.sock"));
    // Once it answers, lines flow again and the main log says how many were lost.
    let got = receive_until(&socket, &["supervisord: chatty line"]);
    assert!(!got.is_empty());
    let log = vigild.wait_log("takes lines again;");
    assert_eq!(lines_with(&log, "syslog: cannot send to").len(), 1, "{log}");
    vigild.shutdown();
}
