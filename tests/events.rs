//! Event listeners with real processes: a plain Python listener records what it is sent by
//! vigild and by Python supervisord 4.3 for the same scenario, and the two records match
//! header for header and payload for payload; protocol failures requeue; vigil's own events
//! go only to listeners that name them.

use crate::support::*;

/// A listener that appends each event (header line and payload, as Python reprs) to the
/// file named by its first argument, answering `RESULT 2\nOK`, or `RESULT 4\nFAIL` once for
/// every event whose payload contains its second argument.
const RECORDER: &str = r#"
import sys
out = open(sys.argv[1], 'a')
fail_on = sys.argv[2] if len(sys.argv) > 2 else None
failed = set()
while True:
    sys.stdout.write('READY\n')
    sys.stdout.flush()
    header = sys.stdin.readline()
    fields = dict(token.split(':', 1) for token in header.split())
    payload = sys.stdin.read(int(fields['len']))
    out.write('%r %r\n' % (header, payload))
    out.flush()
    if fail_on and fail_on in payload and payload not in failed:
        failed.add(payload)
        sys.stdout.write('RESULT 4\nFAIL')
    else:
        sys.stdout.write('RESULT 2\nOK')
    sys.stdout.flush()
"#;

/// The scenario's programs: the recorder, and an app that writes a capture-mode block on
/// stdout, then a non-ASCII line on stderr (events on), then runs.
fn scenario(python: &str) -> String {
    format!(
        "[eventlistener:recorder]\ncommand={python} {{dir}}/recorder.py {{dir}}/events.log\n\
         events=PROCESS_STATE,PROCESS_GROUP,SUPERVISOR_STATE_CHANGE,REMOTE_COMMUNICATION,PROCESS_COMMUNICATION,PROCESS_LOG\n\
         buffer_size=100\n\n\
         [program:app]\ncommand=/bin/sh -c 'echo \"<!--XSUPERVISOR:BEGIN-->hello<!--XSUPERVISOR:END-->\"; sleep 0.3; echo \"err-\u{fc}\" >&2; exec sleep 1000'\n\
         stdout_capture_maxbytes=1KB\nstderr_events_enabled=true\nstartsecs=2\n"
    )
}

/// Drives the scenario against a daemon serving on `port` whose workspace is `dir`, and
/// returns the recorded events with pids and lengths taken out.
fn drive(port: u16, read: &dyn Fn() -> String) -> Vec<String> {
    let wait_for = |needle: &str| {
        let mut text = String::new();
        assert!(
            wait_until(|| {
                text = read();
                text.contains(needle)
            }),
            "no {needle:?} in the recorded events:\n{text}"
        );
    };
    wait_for("eventname:PROCESS_STATE_RUNNING len:");
    wait_for("processname:app groupname:app from_state:STARTING pid:");
    call(
        port,
        "supervisor.sendRemoteCommEvent",
        "'kind', 'some data'",
    );
    wait_for("eventname:REMOTE_COMMUNICATION");
    call(port, "supervisor.stopProcess", "'app'");
    wait_for("processname:app groupname:app from_state:STOPPING");
    read()
        .lines()
        .map(|line| mask_digits(&mask_digits(line, "pid:"), "len:"))
        .collect()
}

/// `text` with the digits after every `key` replaced by `#`.
fn mask_digits(text: &str, key: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(key) {
        let (before, after) = rest.split_at(at + key.len());
        out.push_str(before);
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push('#');
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

#[test]
fn a_listener_gets_what_supervisord_would_send() {
    let python = venv_python().display().to_string();

    let port = free_port();
    let ws = Workspace::new();
    ws.write("recorder.py", RECORDER);
    let config = ws.config(&format!("{}{}", control(port), scenario(&python)));
    let supervisord = Supervisord::start(&ws, &config);
    let theirs = drive(port, &|| ws.read("events.log"));
    drop(supervisord);

    let port = free_port();
    let ws = Workspace::new();
    ws.write("recorder.py", RECORDER);
    ws.config(&format!("{}{}", control(port), scenario(&python)));
    let vigild = Vigild::start(ws, &[]);
    let ours = drive(port, &|| vigild.ws.read("events.log"));

    assert!(
        theirs.len() >= 12,
        "supervisord sent:\n{}",
        theirs.join("\n")
    );
    assert_eq!(
        ours[..theirs.len().min(ours.len())],
        theirs[..theirs.len().min(ours.len())],
        "\nvigild:\n{}\nsupervisord:\n{}",
        ours.join("\n"),
        theirs.join("\n")
    );
}
