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

/// A journal entry's fields, in order.
type Fields = Vec<(String, Vec<u8>)>;

/// The fields of one native-protocol journal entry, in order.
fn journal_fields(mut entry: &[u8]) -> Fields {
    let mut fields = Vec::new();
    while !entry.is_empty() {
        let end = entry
            .iter()
            .position(|b| *b == b'\n')
            .expect("a field ends");
        let line = &entry[..end];
        if let Some(eq) = line.iter().position(|b| *b == b'=') {
            fields.push((
                String::from_utf8_lossy(&line[..eq]).into_owned(),
                line[eq + 1..].to_vec(),
            ));
            entry = &entry[end + 1..];
        } else {
            let key = String::from_utf8_lossy(line).into_owned();
            let size = u64::from_le_bytes(entry[end + 1..end + 9].try_into().expect("8 bytes"));
            let size = usize::try_from(size).expect("size");
            let value = entry[end + 9..end + 9 + size].to_vec();
            assert_eq!(
                entry[end + 9 + size],
                b'\n',
                "a binary field ends with a newline"
            );
            fields.push((key, value));
            entry = &entry[end + 10 + size..];
        }
    }
    fields
}

/// One journal datagram: its bytes, or the sealed memfd's that came in its place.
fn receive_entry(socket: &UnixDatagram) -> Option<(Vec<u8>, bool)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::io::{IoSliceMut, Read, Seek};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    let mut buffer = vec![0u8; 1 << 20];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let mut iov = [IoSliceMut::new(&mut buffer)];
    let received = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .ok()?;
    let mut memfd = None;
    for message in received.cmsgs().expect("cmsgs") {
        if let ControlMessageOwned::ScmRights(fds) = message {
            // SAFETY: the kernel just handed this descriptor over; it is owned here alone.
            memfd = fds.first().map(|fd| unsafe { OwnedFd::from_raw_fd(*fd) });
        }
    }
    let bytes = received.bytes;
    match memfd {
        Some(fd) => {
            // SAFETY: F_GET_SEALS on an fd we own.
            let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
            let wanted = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
            assert_eq!(seals & wanted, wanted, "the memfd is sealed");
            let mut file = std::fs::File::from(fd);
            file.rewind().expect("rewind");
            let mut content = Vec::new();
            file.read_to_end(&mut content).expect("read memfd");
            assert_eq!(bytes, 0, "the datagram that carries a memfd is empty");
            Some((content, true))
        }
        None => Some((buffer[..bytes].to_vec(), false)),
    }
}

const JOURNAL_PROGRAMS: &str = "[program:web]\n\
    command=/bin/sh -c 'echo hello; echo bad >&2; head -c 300000 /dev/zero | tr \"\\\\0\" x; echo; exec sleep 100000'\n\
    stdout_logfile=journald\nstderr_logfile=journald\nstartsecs=0\n\n\
    [program:last]\ncommand=/bin/sh -c 'printf \"tail without newline\"'\n\
    stdout_logfile=journald\nstartsecs=0\nautorestart=false\n";

#[test]
fn journald_targets_send_one_native_entry_per_line_and_big_ones_as_a_memfd() {
    let ws = Workspace::new();
    let socket = receiver(&ws.path().join("journal.sock"));
    ws.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nlogfile=journald\npidfile={{dir}}/d.pid\nchildlogdir={{dir}}\n\
             journal_socket={{dir}}/journal.sock\n\n{CONTROL_SECTIONS}{JOURNAL_PROGRAMS}"
        ),
    );
    let vigild = Vigild::start(ws, &[]);
    let mut entries: Vec<(Fields, bool)> = Vec::new();
    let wanted = |entries: &Vec<(Fields, bool)>| {
        let messages: Vec<&[u8]> = entries
            .iter()
            .filter_map(|(fields, _)| fields.iter().find(|(k, _)| k == "MESSAGE"))
            .map(|(_, v)| v.as_slice())
            .collect();
        messages.contains(&&b"tail without newline"[..])
            && messages.contains(&&b"hello"[..])
            && messages.iter().filter(|m| m.starts_with(b"xxxx")).count() == 2
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && !wanted(&entries) {
        if let Some((bytes, memfd)) = receive_entry(&socket) {
            entries.push((journal_fields(&bytes), memfd));
        }
    }
    let messages: Vec<String> = entries
        .iter()
        .filter_map(|(fields, _)| fields.iter().find(|(k, _)| k == "MESSAGE"))
        .map(|(_, v)| String::from_utf8_lossy(&v[..v.len().min(60)]).into_owned())
        .collect();
    assert!(
        wanted(&entries),
        "{messages:#?}\n{}",
        vigild.ws.read("vigild.stderr")
    );
    let pid = vigild.pid_of("web");
    let field_list = |fields: &Fields| {
        fields
            .iter()
            .map(|(k, v)| format!("{k}={}", String::from_utf8_lossy(v)))
            .collect::<Vec<_>>()
    };
    let find = |message: &[u8]| {
        entries
            .iter()
            .find(|(fields, _)| {
                fields
                    .first()
                    .is_some_and(|(k, v)| k == "MESSAGE" && v == message)
            })
            .map(|(fields, _)| field_list(fields))
    };
    assert_eq!(
        find(b"hello").expect("hello"),
        [
            "MESSAGE=hello".to_string(),
            "PRIORITY=6".into(),
            "SYSLOG_IDENTIFIER=web".into(),
            "VIGIL_PROCESS=web".into(),
            "VIGIL_GROUP=web".into(),
            format!("VIGIL_PID={pid}"),
            "VIGIL_STREAM=stdout".into(),
        ]
    );
    let bad = find(b"bad").expect("stderr line");
    assert!(
        bad.contains(&"PRIORITY=3".to_string()) && bad.contains(&"VIGIL_STREAM=stderr".to_string()),
        "{bad:?}"
    );
    // The partial line goes when its stream ends.
    let last = find(b"tail without newline").expect("the last partial line");
    assert!(last.contains(&"VIGIL_PROCESS=last".to_string()), "{last:?}");
    // A 300,000-byte line: its first 256 KiB as a memfd (too big for a datagram), the rest
    // as a datagram; nothing lost.
    let big: Vec<(usize, bool)> = entries
        .iter()
        .filter_map(|(fields, memfd)| {
            let (_, message) = fields.iter().find(|(k, _)| k == "MESSAGE")?;
            message
                .starts_with(b"xxxx")
                .then_some((message.len(), *memfd))
        })
        .collect();
    assert_eq!(big, [(256 * 1024, true), (300_000 - 256 * 1024, false)]);
    // The main log, as entries of vigild's.
    let spawned = entries
        .iter()
        .map(|(fields, _)| field_list(fields))
        .find(|fields| fields[0] == format!("MESSAGE=spawned: 'web' with pid {pid}"))
        .expect("the main log's spawn line");
    assert_eq!(spawned[1..], ["PRIORITY=6", "SYSLOG_IDENTIFIER=vigild"]);
    let critical = entries
        .iter()
        .map(|(fields, _)| field_list(fields))
        .find(|fields| fields[0].starts_with("MESSAGE=Supervisor is running as root"));
    if let Some(critical) = critical {
        assert_eq!(critical[1], "PRIORITY=2", "CRIT is the journal's crit");
    }
}

#[test]
fn a_real_systemd_journald_takes_the_entries_and_journalctl_finds_them_by_process() {
    let journald = Path::new("/lib/systemd/systemd-journald");
    if !nix::unistd::Uid::effective().is_root()
        || !journald.exists()
        || !Path::new("/usr/bin/unshare").exists()
        || !Path::new("/usr/bin/journalctl").exists()
    {
        eprintln!("skipped: needs root, util-linux's unshare and systemd's journald (scripts/test installs systemd)");
        return;
    }
    // journald in a mount namespace of its own, its /run/systemd and /run/log being
    // directories of the test's, so its socket and its files are reachable from here.
    let ws = Workspace::new();
    let (run_systemd, run_log) = (ws.path().join("run-systemd"), ws.path().join("run-log"));
    std::fs::create_dir_all(&run_systemd).expect("mkdir");
    std::fs::create_dir_all(&run_log).expect("mkdir");
    let script = format!(
        "mount --bind {} /run/systemd && mount --bind {} /run/log && exec {}",
        run_systemd.display(),
        run_log.display(),
        journald.display()
    );
    let mut command = std::process::Command::new("/usr/bin/unshare");
    command
        .args(["--mount", "/bin/sh", "-c", &script])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    new_session(&mut command);
    let child = command.spawn().expect("start journald");
    let _journald = ServerGuard(child);
    let socket = run_systemd.join("journal/socket");
    assert!(wait_until(|| socket.exists()), "journald made no socket");
    ws.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nlogfile={{dir}}/vigild.log\npidfile={{dir}}/d.pid\nchildlogdir={{dir}}\n\
             journal_socket={}\n\n{CONTROL_SECTIONS}{JOURNAL_PROGRAMS}",
            socket.display()
        ),
    );
    let mut vigild = Vigild::start(ws, &[]);
    let mut pid = 0;
    assert!(wait_until(|| {
        pid = vigild.pid_of("web");
        pid > 0
    }));
    let journal_dir = run_log.join("journal");
    let query = |filter: &str| -> Vec<serde_json::Value> {
        let output = std::process::Command::new("journalctl")
            .arg("-D")
            .arg(&journal_dir)
            .args(["--no-pager", "--all", "-o", "json", filter])
            .output()
            .expect("journalctl");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    };
    let mut found = Vec::new();
    let seen = wait_until(|| {
        found = query("VIGIL_PROCESS=web");
        found.len() >= 4
    });
    assert!(seen, "journalctl VIGIL_PROCESS=web: {found:?}");
    let hello = found
        .iter()
        .find(|entry| entry["MESSAGE"] == "hello")
        .expect("hello");
    assert_eq!(hello["PRIORITY"], "6");
    assert_eq!(hello["SYSLOG_IDENTIFIER"], "web");
    assert_eq!(hello["VIGIL_GROUP"], "web");
    assert_eq!(hello["VIGIL_PID"], pid.to_string());
    assert_eq!(hello["VIGIL_STREAM"], "stdout");
    assert_eq!(hello["_TRANSPORT"], "journal");
    let bad = found
        .iter()
        .find(|entry| entry["MESSAGE"] == "bad")
        .expect("bad");
    assert_eq!(bad["PRIORITY"], "3");
    // The memfd entry too: journald took the 256 KiB line whole.
    let long = found
        .iter()
        .filter_map(|entry| entry["MESSAGE"].as_str())
        .map(str::len)
        .max();
    assert_eq!(long, Some(256 * 1024), "{:?}", found.len());
    vigild.shutdown();
}

#[test]
fn journald_without_a_journal_is_a_warning_at_start_and_the_program_runs_on() {
    let ws = Workspace::new();
    ws.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nlogfile={{dir}}/vigild.log\npidfile={{dir}}/d.pid\nchildlogdir={{dir}}\n\
             journal_socket={{dir}}/no-journal.sock\n\n{CONTROL_SECTIONS}\
             [program:app]\ncommand=/bin/sh -c 'while :; do echo line; sleep 0.01; done'\n\
             stdout_logfile=journald\nstartsecs=0\n"
        ),
    );
    let mut vigild = Vigild::start(ws, &[]);
    let log = vigild.wait_log("entries of [app] stdout_logfile are dropped until it does");
    assert!(log.contains("no-journal.sock does not exist"), "{log}");
    let log = vigild.wait_log("journal: cannot send to");
    assert_eq!(
        lines_with(&log, "journal: cannot send to").len(),
        1,
        "{log}"
    );
    let (code, out) = vigild.vigilctl(&["status", "app"]);
    assert!(code == 0 && out.contains("RUNNING"), "{out}");
    vigild.shutdown();
}

#[test]
fn rotate_moves_logs_to_their_first_backup_now_and_output_goes_on_in_a_fresh_file() {
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:app]\n\
         command=/bin/sh -c 'echo first; while [ ! -e {{dir}}/go ]; do sleep 0.02; done; echo second; exec sleep 100000'\n\
         stdout_logfile={{dir}}/app.log\nstdout_logfile_maxbytes=0\nstartsecs=0\n\n\
         [program:quiet]\ncommand=/bin/sleep 100000\nstdout_logfile=NONE\nstartsecs=0\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    assert!(wait_until(|| vigild.ws.read("app.log") == "first\n"));
    let (code, out) = vigild.vigilctl(&["rotate", "app"]);
    assert_eq!((code, out.as_str()), (0, "app: rotated\n"));
    assert_eq!(vigild.ws.read("app.log.1"), "first\n");
    assert_eq!(vigild.ws.read("app.log"), "");
    // Output goes on in the new file, and a tail reads it there.
    vigild.ws.write("go", "");
    assert!(wait_until(|| vigild.ws.read("app.log") == "second\n"));
    let (code, out) = vigild.vigilctl(&["tail", "app"]);
    assert!(code == 0 && out.contains("second"), "{out}");
    // Backups shift as at maxbytes; an empty file and a stream without one are left be.
    let (code, out) = vigild.vigilctl(&["rotate", "all"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("app: rotated") && out.contains("quiet: rotated"),
        "{out}"
    );
    assert_eq!(vigild.ws.read("app.log.2"), "first\n");
    assert_eq!(vigild.ws.read("app.log.1"), "second\n");
    let (code, out) = vigild.vigilctl(&["rotate", "app"]);
    assert_eq!((code, out.as_str()), (0, "app: rotated\n"));
    assert!(
        !vigild.ws.path().join("app.log.3").exists(),
        "an empty log is not rotated"
    );
    // The main log too.
    let (code, out) = vigild.vigilctl(&["rotate", "--main"]);
    assert_eq!((code, out.as_str()), (0, "main log: rotated\n"));
    assert!(vigild
        .ws
        .read("vigild.log.1")
        .contains("supervisord started with pid"));
    let (code, out) = vigild.vigilctl(&["rotate", "nope"]);
    assert_eq!((code, out.as_str()), (1, "nope: ERROR (no such process)\n"));
    vigild.shutdown();
}

#[test]
fn daily_rotation_comes_at_local_midnight_on_an_injected_clock() {
    // libfaketime, preloaded into vigild itself (the `faketime` wrapper would stand between
    // the test and vigild's pid).
    let library = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|arch| arch.path().join("faketime/libfaketime.so.1"))
        .find(|path| path.exists());
    let Some(library) = library else {
        eprintln!("skipped: needs libfaketime (the faketime package, which scripts/test installs)");
        return;
    };
    // vigild and its program run 5 s before the next midnight (UTC), on a wall clock that
    // libfaketime moves forward; their monotonic clocks are left alone.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let offset = (now / 86_400 + 1) * 86_400 - 5 - now;
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:app]\n\
         command=/bin/sh -c 'echo before; while [ \"$(date +%%H)\" = 23 ]; do sleep 0.1; done; echo after; exec sleep 100000'\n\
         stdout_logfile={{dir}}/app.log\nstdout_logfile_rotate=daily\nstartsecs=0\n"
    ));
    let shift = format!("FAKETIME=+{offset}s");
    let preload = format!("LD_PRELOAD={}", library.display());
    let mut vigild = Vigild::start_wrapped(
        ws,
        &[
            "/usr/bin/env",
            "TZ=UTC",
            "FAKETIME_DONT_FAKE_MONOTONIC=1",
            &shift,
            &preload,
        ],
        &[],
    );
    assert!(
        wait_until(|| vigild.ws.read("app.log") == "after\n"),
        "app.log: {:?}\n{}",
        vigild.ws.read("app.log"),
        vigild.log()
    );
    assert_eq!(vigild.ws.read("app.log.1"), "before\n");
    vigild.shutdown();
}

/// `length` bytes from xorshift64 seeded with `seed`: output gzip cannot shrink, so its
/// compression takes long enough to be caught in the middle.
fn noise(seed: u64, length: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

fn gunzip(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).expect("open backup"))
        .read_to_end(&mut bytes)
        .expect("a complete gzip file");
    bytes
}

#[test]
fn compressed_backups_decompress_to_the_bytes_written_even_across_a_kill_of_vigild() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .subsec_nanos()
        .into();
    println!("seed {seed}");
    let data = noise(seed, 24 << 20);
    let logs = tempfile::tempdir().expect("logs dir");
    let log = logs.path().join("app.log");
    std::fs::write(logs.path().join("data"), &data).expect("data");
    std::fs::write(logs.path().join("small"), &data[..1 << 20]).expect("data");
    // Each start's commands for `app` and `z`.
    let config = |command: &str, z_command: &str| {
        let dir = logs.path().display();
        format!(
            "{CONTROL_SECTIONS}[program:app]\ncommand={command}\n\
             stdout_logfile={dir}/app.log\nstdout_logfile_maxbytes={}\n\
             stdout_logfile_backups=3\nstdout_logfile_compress=gzip\nstartsecs=0\n\n\
             [program:z]\ncommand={z_command}\n\
             stdout_logfile={dir}/z.log\nstdout_logfile_compress=zstd\nstartsecs=0\n",
            data.len()
        )
    };
    let ws = Workspace::new();
    ws.config(&config(
        &format!(
            "/bin/sh -c 'cat {}/data; exec sleep 100000'",
            logs.path().display()
        ),
        "/bin/sleep 100000",
    ));
    let mut vigild = Vigild::start(ws, &[]);
    // The 24 MiB reach maxbytes: the log is renamed to wait, and compressed in the background.
    let pending = logs.path().join("app.log.rotated");
    let tmp = logs.path().join("app.log.1.gz.tmp");
    assert!(
        wait_until(|| tmp.exists()),
        "no compression began: {:?}",
        std::fs::read_dir(logs.path())
            .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(vigild.pid()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill -9 vigild");
    vigild.wait_exit();
    // Mid-compression: the plain backup is whole, or the compressed one is complete.
    let first = logs.path().join("app.log.1.gz");
    if first.exists() {
        assert_eq!(gunzip(&first), data, "seed {seed}");
    } else {
        assert_eq!(
            std::fs::read(&pending).expect("the plain backup"),
            data,
            "seed {seed}"
        );
    }
    // The next start finishes the job.
    let ws = Workspace::new();
    ws.config(&config(
        "/bin/sleep 100000",
        &format!(
            "/bin/sh -c 'cat {}/small; exec sleep 100000'",
            logs.path().display()
        ),
    ));
    let mut vigild = Vigild::start(ws, &[]);
    assert!(
        wait_until(|| first.exists() && !pending.exists()),
        "{}",
        vigild.log()
    );
    assert_eq!(gunzip(&first), data, "seed {seed}");
    assert!(!tmp.exists());
    assert_eq!(std::fs::metadata(&log).map_or(0, |m| m.len()), 0);
    // zstd, on demand: vigilctl rotate.
    let z = logs.path().join("z.log");
    assert!(wait_until(
        || std::fs::metadata(&z).is_ok_and(|m| m.len() == 1 << 20)
    ));
    let (code, out) = vigild.vigilctl(&["rotate", "z"]);
    assert_eq!((code, out.as_str()), (0, "z: rotated\n"));
    let zst = logs.path().join("z.log.1.zst");
    assert!(wait_until(|| zst.exists()), "{}", vigild.log());
    let unpacked =
        zstd::stream::decode_all(std::fs::File::open(&zst).expect("open")).expect("zstd");
    assert_eq!(unpacked, data[..1 << 20], "seed {seed}");
    vigild.shutdown();
}

/// An event listener that answers each event with the event's own payload, as
/// supervisor-stdout's and supervisor-stdlog's listener programs do.
const ECHO_LISTENER: &str = r#"
import sys
while True:
    sys.stdout.write("READY\n"); sys.stdout.flush()
    headers = dict(x.split(":") for x in sys.stdin.readline().split())
    payload = sys.stdin.read(int(headers["len"]))
    sys.stdout.write("RESULT %d\n%s" % (len(payload.encode()), payload)); sys.stdout.flush()
"#;

#[test]
fn supervisor_stdout_and_supervisor_stdlog_handlers_relay_output_to_vigilds_own_streams() {
    let ws = Workspace::new();
    ws.write("echo.py", ECHO_LISTENER);
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:web]\n\
         command=/bin/sh -c 'echo hello; echo oops >&2; exec sleep 100000'\n\
         stdout_events_enabled=true\nstderr_events_enabled=true\nstartsecs=0\n\
         stdout_logfile=NONE\nstderr_logfile=NONE\nautostart=false\n\n\
         [eventlistener:plain]\ncommand=python3 {{dir}}/echo.py\nevents=PROCESS_LOG\n\
         result_handler=supervisor_stdout:event_handler\n\n\
         [eventlistener:colour]\ncommand=python3 {{dir}}/echo.py\nevents=PROCESS_LOG\n\
         result_handler=supervisor_stdlog:log_handler\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    for listener in ["plain", "colour"] {
        wait_status(&vigild, listener, &["RUNNING"]);
    }
    let (code, out) = vigild.vigilctl(&["start", "web"]);
    assert_eq!(code, 0, "{out}");
    let wanted_stdout = [
        "web stdout | hello\n",
        "web stderr | oops\n",
        "\x1b[36mweb | \x1b[37mhello\x1b[m\n",
    ];
    let seen = wait_until(|| {
        let stdout = vigild.ws.read("vigild.stdout");
        wanted_stdout.iter().all(|w| stdout.contains(w))
    });
    assert!(
        seen,
        "{:?}\n{}",
        vigild.ws.read("vigild.stdout"),
        vigild.log()
    );
    // supervisor-stdlog writes the stderr channel to stderr, in the colour web got first.
    assert!(
        wait_until(|| vigild
            .ws
            .read("vigild.stderr")
            .contains("\x1b[36mweb | \x1b[31moops\x1b[m\n")),
        "{:?}",
        vigild.ws.read("vigild.stderr")
    );
    let log = vigild.log();
    assert!(
        !log.contains("rejected") && !log.contains("UNKNOWN"),
        "{log}"
    );
    let ours = vigild.ws.read("vigild.stdout");
    vigild.shutdown();

    // The real supervisord with the real supervisor-stdlog handler (scripts/test installs it
    // in the venv; supervisor-stdout 0.1.1 is Python 2 code that supervisord 4 cannot import).
    let python = venv_python();
    let installed = std::process::Command::new(&python)
        .args(["-c", "import supervisor_stdlog"])
        .status()
        .is_ok_and(|status| status.success());
    if !installed {
        eprintln!("skipped the side-by-side part: supervisor-stdlog is not in target/venv");
        return;
    }
    let ws = Workspace::new();
    ws.write("echo.py", ECHO_LISTENER);
    let config = ws.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nlogfile={{dir}}/s.log\npidfile={{dir}}/s.pid\nchildlogdir={{dir}}\n\n\
             [program:web]\ncommand=/bin/sh -c 'sleep 1; echo hello; exec sleep 100000'\n\
             stdout_events_enabled=true\nstartsecs=0\nstdout_logfile=NONE\n\n\
             [eventlistener:colour]\ncommand={} {{dir}}/echo.py\nevents=PROCESS_LOG\n\
             result_handler=supervisor_stdlog:log_handler\n",
            python.display()
        ),
    );
    let _supervisord = Supervisord::start(&ws, &config);
    let line = "\x1b[36mweb | \x1b[37mhello\x1b[m\n";
    assert!(
        wait_until(|| ws.read("supervisord.stdout").contains(line)),
        "supervisord printed {:?}",
        ws.read("supervisord.stdout")
    );
    assert!(ours.contains(line));
}

#[test]
fn the_previous_runs_output_is_kept_for_tail_previous_the_api_and_the_page() {
    let port = free_port();
    let ws = Workspace::new();
    // Runs 1 and 2 exit at once (expected, restarted); run 3 stays up.
    ws.config(&format!(
        "{}[program:app]\n\
         command=/bin/sh -c 'n=$(cat {{dir}}/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > {{dir}}/n; echo \"run $n out\"; echo \"run $n err\" >&2; [ $n -ge 3 ] && exec sleep 100000; exit 0'\n\
         startsecs=0\nautorestart=true\n\n\
         [program:short]\ncommand=/bin/sh -c 'echo 0123456789; exit 0'\nstartsecs=0\n\
         autorestart=false\nprevious_tail_bytes=4\n\n\
         [program:fresh]\ncommand=/bin/sleep 100000\nstartsecs=0\n",
        control(port)
    ));
    let mut vigild = Vigild::start(ws, &[]);
    assert!(wait_until(|| vigild.ws.read("n").trim() == "3"));
    wait_status(&vigild, "app", &["RUNNING"]);
    let previous = |args: &[&str]| {
        let mut out = String::new();
        let seen = wait_until(|| {
            out = vigild.vigilctl(args).1;
            !out.is_empty()
        });
        assert!(seen, "{args:?}: nothing");
        out
    };
    assert_eq!(previous(&["tail", "--previous", "app"]), "run 2 out\n");
    assert_eq!(
        previous(&["tail", "--previous", "app", "stderr"]),
        "run 2 err\n"
    );
    // At most previous_tail_bytes, the last ones.
    wait_status(&vigild, "short", &["EXITED"]);
    assert_eq!(previous(&["tail", "--previous", "short"]), "789\n");
    // A process whose run has not ended has none.
    let (code, out) = vigild.vigilctl(&["tail", "--previous", "fresh"]);
    assert_eq!((code, out.as_str()), (0, ""));
    let answer = call(port, "vigil.readPreviousLog", "'app', 'stdout'");
    assert!(answer.contains("run 2 out"), "{answer}");
    let (status, page) = http_get(port, "/process/app", None);
    assert_eq!(status, 200);
    assert!(
        page.contains("Previous run") && page.contains("run 2 out") && page.contains("run 2 err"),
        "{page}"
    );
    vigild.shutdown();
}

#[test]
fn json_child_logs_hold_one_object_per_line_with_the_process_and_its_pid() {
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:app]\n\
         command=/bin/sh -c 'echo one; echo two; echo bad >&2; printf partial; exit 0'\n\
         stdout_logfile={{dir}}/app.json\nstderr_logfile={{dir}}/app.err.json\n\
         stdout_logfile_format=json\nstderr_logfile_format=json\nstartsecs=0\nautorestart=false\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    let log = vigild.wait_log("exited: app (exit status 0; expected)");
    let pid: i64 = log
        .split("spawned: 'app' with pid ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|pid| pid.parse().ok())
        .expect("the spawn line");
    let objects = |name: &str| -> Vec<serde_json::Value> {
        vigild
            .ws
            .read(name)
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON object per line"))
            .collect()
    };
    assert!(wait_until(|| objects("app.json").len() == 3));
    let out = objects("app.json");
    let lines: Vec<&str> = out.iter().filter_map(|o| o["line"].as_str()).collect();
    assert_eq!(lines, ["one", "two", "partial"]);
    for object in &out {
        assert_eq!(object["process"], "app");
        assert_eq!(object["pid"], pid);
        assert_eq!(object["stream"], "stdout");
        assert!(
            object["ts"].as_str().is_some_and(|ts| ts.contains('T')),
            "{object}"
        );
    }
    let err = objects("app.err.json");
    assert_eq!(err.len(), 1);
    assert_eq!(
        (err[0]["line"].as_str(), err[0]["stream"].as_str()),
        (Some("bad"), Some("stderr"))
    );
    vigild.shutdown();
}

#[test]
fn logformat_json_writes_vigilds_log_as_objects_with_the_process_fields() {
    let ws = Workspace::new();
    ws.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nlogfile={{dir}}/vigild.log\npidfile={{dir}}/d.pid\nchildlogdir={{dir}}\n\
             logformat=json\n\n{CONTROL_SECTIONS}\
             [program:app]\ncommand=/bin/sh -c 'exit 3'\nstartsecs=0\nautorestart=false\n"
        ),
    );
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("exited: app (exit status 3; not expected)");
    let objects: Vec<serde_json::Value> = vigild
        .log()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let find = |start: &str| {
        objects
            .iter()
            .find(|o| o["msg"].as_str().is_some_and(|m| m.starts_with(start)))
            .cloned()
            .expect(start)
    };
    let spawned = find("spawned: 'app' with pid ");
    let pid = spawned["pid"].as_i64().expect("pid field");
    assert_eq!(spawned["process"], "app");
    assert_eq!(spawned["level"], "INFO");
    assert!(spawned["msg"]
        .as_str()
        .is_some_and(|m| m.ends_with(&pid.to_string())));
    assert!(spawned["ts"].as_str().is_some_and(|ts| ts.contains('T')));
    let exited = find("exited: app");
    assert_eq!(
        (exited["level"].as_str(), exited["exit_status"].as_i64()),
        (Some("WARN"), Some(3))
    );
    assert_eq!(exited["pid"], pid);
    vigild.shutdown();
}

#[test]
fn the_main_log_rotates_on_demand_into_a_compressed_backup() {
    let ws = Workspace::new();
    ws.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nlogfile={{dir}}/vigild.log\npidfile={{dir}}/d.pid\nchildlogdir={{dir}}\n\
             logfile_compress=gzip\nlogfile_rotate=daily\n\n{CONTROL_SECTIONS}\
             [program:app]\ncommand=/bin/sleep 100000\nstartsecs=0\n"
        ),
    );
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("success: app entered RUNNING state");
    let (code, out) = vigild.vigilctl(&["rotate", "--main"]);
    assert_eq!((code, out.as_str()), (0, "main log: rotated\n"));
    let backup = vigild.ws.path().join("vigild.log.1.gz");
    assert!(
        wait_until(|| backup.exists()),
        "{:?}",
        std::fs::read_dir(vigild.ws.path())
            .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
    );
    let text = String::from_utf8(gunzip(&backup)).expect("utf-8");
    assert!(text.contains("supervisord started with pid"), "{text}");
    assert!(!vigild.ws.path().join("vigild.log.rotated").exists());
    vigild.shutdown();
}
