//! Programs that say when they are ready (issue 21): `ready=notify` over sd_notify (a
//! Python sender, from the program or a child of it, and the real `systemd-notify` when it
//! is installed), `ready=log:REGEX`, `ready=healthcheck`, `ready_timeout`, garbage and
//! strangers on the socket, and `depends_on` waiting for ready.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::support::*;

/// An sd_notify sender: sends `STATUS=warming up`, says so in `{dir}/<name>.said`, waits
/// for `{dir}/<name>.go` (the test's word), then sends `READY=1` with a new status, and
/// sleeps. Garbage first when asked (`garbage` as the second argument).
const SENDER: &str = r#"
import os, socket, sys, time
name = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
address = os.environ["NOTIFY_SOCKET"]
if address.startswith("@"):
    address = "\0" + address[1:]
out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
def send(data):
    out.sendto(data, address)
if len(sys.argv) > 2 and sys.argv[2] == "garbage":
    send(b"STATUS=" + b"x" * 5000)
    send(b"STATUS=\xff\xfe")
send(b"STATUS=warming up")
open(os.path.join(here, name + ".said"), "w").close()
while not os.path.exists(os.path.join(here, name + ".go")):
    time.sleep(0.02)
send(b"READY=1\nSTATUS=serving requests")
time.sleep(1000)
"#;

fn start(programs: &str) -> Vigild {
    let ws = Workspace::new();
    ws.write("sender.py", SENDER);
    ws.config(&format!("{CONTROL_SECTIONS}{programs}"));
    Vigild::start(ws, &[])
}

#[test]
fn ready_notify_holds_starting_until_ready_and_shows_the_status() {
    // startsecs=0 would make it RUNNING at once under supervisord's rule.
    let mut vigild = start(
        "[program:app]\ncommand=python3 {dir}/sender.py app\nready=notify\nstartsecs=0\n\n\
         [program:shell]\ncommand=/bin/sh -c \"python3 {dir}/sender.py shell; exit 0\"\n\
         ready=notify\nstartsecs=0\n",
    );
    for name in ["app", "shell"] {
        // The shell's sender is its child: attributed through its parent.
        let line = wait_status(&vigild, name, &["STARTING", "status: warming up"]);
        assert!(!line.contains("RUNNING"), "{line}");
        let (code, out) = vigild.vigilctl(&["wait", name, "--timeout", "0.3"]);
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains(&format!("not RUNNING after 0.3s: {name} (STARTING)")),
            "{out}"
        );
        vigild.ws.write(&format!("{name}.go"), "");
        wait_status(&vigild, name, &["RUNNING", "status: serving requests"]);
        let log = vigild.wait_log(&format!(
            "success: {name} entered RUNNING state, process is ready (ready=notify)"
        ));
        assert!(!log.contains("notify: ignored"), "{log}");
    }
    let (code, out) = vigild.vigilctl(&["wait", "app", "shell"]);
    assert_eq!((code, out.as_str()), (0, ""));
    // Group and all namespecs go through getAllProcessInfo.
    let (code, out) = vigild.vigilctl(&["wait", "app:*", "all", "--timeout", "5"]);
    assert_eq!((code, out.as_str()), (0, ""));
    let (code, out) = vigild.vigilctl(&["wait", "nope", "--timeout", "5"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("No such process nope"), "{out}");
    vigild.shutdown();
}

#[test]
fn the_real_systemd_notify_makes_a_program_ready() {
    if !Path::new("/usr/bin/systemd-notify").exists() {
        eprintln!("skipped: systemd-notify is not installed (Debian package systemd)");
        return;
    }
    let mut vigild = start(
        "[program:daemon]\ncommand=/bin/sh -c \"systemd-notify --status='booting' && \
         while [ ! -e {dir}/daemon.go ]; do sleep 0.02; done && \
         systemd-notify --ready --status='up from systemd-notify' && exec sleep 1000\"\n\
         ready=notify\nstartsecs=0\n",
    );
    wait_status(&vigild, "daemon", &["STARTING", "status: booting"]);
    vigild.ws.write("daemon.go", "");
    wait_status(
        &vigild,
        "daemon",
        &["RUNNING", "status: up from systemd-notify"],
    );
    vigild.shutdown();
}

#[test]
fn garbage_and_strangers_on_the_notify_socket_are_ignored_with_one_warning() {
    let mut vigild = start(
        "[program:noisy]\ncommand=python3 {dir}/sender.py noisy garbage\nready=notify\n\n\
         [program:target]\ncommand=/bin/sleep 1000\nready=notify\n",
    );
    wait_status(&vigild, "noisy", &["STARTING", "status: warming up"]);
    let log = vigild.wait_log("notify: ignored a message from pid");
    assert_eq!(
        lines_with(&log, "notify: ignored a message from pid").len(),
        1,
        "{log}"
    );
    assert!(log.contains("longer than 4096 bytes"), "{log}");

    // A process outside every managed tree (this test) says READY=1 for nobody.
    let target = vigild.pid_of("target");
    let environ = std::fs::read(format!("/proc/{target}/environ")).expect("environ");
    let socket = environ
        .split(|b| *b == 0)
        .find_map(|entry| entry.strip_prefix(b"NOTIFY_SOCKET="))
        .map(|value| String::from_utf8_lossy(value).into_owned())
        .expect("NOTIFY_SOCKET in the child's environment");
    let name = socket.strip_prefix('@').expect("an abstract socket");
    let stranger = UnixDatagram::unbound().expect("socket");
    let address = std::os::unix::net::SocketAddr::from_abstract_name(name).expect("address");
    stranger
        .send_to_addr(b"READY=1", &address)
        .expect("send to vigild");
    vigild.wait_log("which is no managed process nor one of its children");
    assert!(status_line(&vigild, "target").contains("STARTING"));

    vigild.ws.write("noisy.go", "");
    wait_status(&vigild, "noisy", &["RUNNING", "status: serving requests"]);
    vigild.shutdown();
}

#[test]
fn not_ready_within_ready_timeout_is_a_failed_start() {
    let port = free_port();
    let mut vigild = start(&format!(
        "[inet_http_server]\nport=127.0.0.1:{port}\n\n\
         [program:mute]\ncommand=/bin/sleep 1000\nready=notify\nready_timeout=1\n\
         startretries=0\n"
    ));
    vigild.wait_log("spawned: 'mute'");
    // vigilctl wait gives up at once on a FATAL process.
    let (code, out) = vigild.vigilctl(&["wait", "mute"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("mute: FATAL (not ready within 1s (ready=notify))"),
        "{out}"
    );
    let mut log = String::new();
    assert!(wait_until(|| {
        log = vigild.log();
        log.contains("gave up: mute entered FATAL state")
    }));
    assert!(
        log.contains("not ready: mute did not become ready within 1s (ready=notify); stopping it"),
        "{log}"
    );
    assert!(
        log.contains("stopped: mute (terminated by SIGTERM; not ready)"),
        "{log}"
    );
    let (_, metrics) = http_get(port, "/metrics", None);
    assert_eq!(
        metric_value(
            &metrics,
            r#"vigil_process_exits_total{group="mute",name="mute",reason="not_ready"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    let info = call(port, "supervisor.getProcessInfo", "'mute'");
    assert!(
        info.contains("not ready within 1s (ready=notify)"),
        "{info}"
    );
    vigild.shutdown();
}

#[test]
fn ready_log_and_ready_healthcheck_end_starting_when_the_program_is_ready() {
    let mut vigild = start(
        "[program:server]\ncommand=/bin/sh -c \"echo starting; \
         while [ ! -e {dir}/server.go ]; do sleep 0.02; done; \
         echo 'Listening on :8080' >&2; exec sleep 1000\"\n\
         ready=log:^Listening on :\\d+$\nstartsecs=0\n\n\
         [program:probed]\ncommand=/bin/sh -c \"while [ ! -e {dir}/probed.go ]; do sleep 0.02; done; \
         touch {dir}/probed.up; exec sleep 1000\"\n\
         ready=healthcheck\nstartsecs=0\nhealthcheck_command=test -e {dir}/probed.up\n\
         healthcheck_interval=0.2\nhealthcheck_start_period=60\n",
    );
    for name in ["server", "probed"] {
        let line = wait_status(&vigild, name, &["STARTING"]);
        assert!(!line.contains("RUNNING"), "{line}");
    }
    vigild.ws.write("server.go", "");
    wait_status(&vigild, "server", &["RUNNING"]);
    vigild.wait_log(
        r"success: server entered RUNNING state, process is ready (ready=log:^Listening on :\d+$)",
    );
    assert!(status_line(&vigild, "probed").contains("STARTING"));
    vigild.ws.write("probed.go", "");
    wait_status(&vigild, "probed", &["RUNNING"]);
    vigild.wait_log("success: probed entered RUNNING state, process is ready (ready=healthcheck)");
    vigild.shutdown();
}

#[test]
fn depends_on_waits_for_ready_not_for_startsecs() {
    let mut vigild = start(
        "[program:db]\ncommand=python3 {dir}/sender.py db\nready=notify\nstartsecs=0\n\
         priority=1\n\n\
         [program:web]\ncommand=/bin/sleep 1000\nstartsecs=0\ndepends_on=db\n",
    );
    wait_status(&vigild, "db", &["STARTING", "status: warming up"]);
    let web = wait_status(&vigild, "web", &["waiting for db"]);
    assert!(!web.contains("RUNNING"), "{web}");
    vigild.ws.write("db.go", "");
    wait_status(&vigild, "web", &["RUNNING"]);
    let log = vigild.log();
    let ready = log
        .find("success: db entered RUNNING state")
        .expect("db ready");
    let spawned = log.find("spawned: 'web'").expect("web spawned");
    assert!(ready < spawned, "{log}");
    vigild.shutdown();
}

#[test]
fn ready_fd_is_s6s_notification_fd_a_newline_on_fd_n() {
    let mut vigild = start(
        "[program:s6]\ncommand=/bin/sh -c \"while [ ! -e {dir}/s6.go ]; do sleep 0.02; done; \
         echo >&3; exec sleep 1000\"\nready=fd:3\nstartsecs=0\n\n\
         [program:high]\ncommand=/bin/sh -c \"while [ ! -e {dir}/high.go ]; do sleep 0.02; done; \
         echo ready >&7; exec sleep 1000\"\nready=fd:7\nstartsecs=0\n",
    );
    for (name, fd) in [("s6", 3), ("high", 7)] {
        wait_status(&vigild, name, &["STARTING"]);
        // The child has its end of the pipe at fd N.
        let pid = vigild.pid_of(name);
        let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).expect("fd N");
        assert!(target.to_string_lossy().starts_with("pipe:"), "{target:?}");
        vigild.ws.write(&format!("{name}.go"), "");
        wait_status(&vigild, name, &["RUNNING"]);
        vigild.wait_log(&format!(
            "success: {name} entered RUNNING state, process is ready (ready=fd:{fd})"
        ));
    }
    vigild.shutdown();
}

#[test]
fn a_status_is_no_readiness_the_timeout_still_comes() {
    // STATUS= messages (state-less steps) must not cancel the ready_timeout timer.
    let mut vigild = start(
        "[program:chatty]\ncommand=python3 {dir}/sender.py chatty\nready=notify\n\
         ready_timeout=2\nstartretries=0\n",
    );
    // Sent (the sender says so once it has), well before the timeout.
    assert!(wait_until(|| vigild.ws.path().join("chatty.said").exists()));
    vigild.wait_log("gave up: chatty entered FATAL state");
    let log = vigild.log();
    assert!(
        log.contains("not ready: chatty did not become ready within 2s (ready=notify)"),
        "{log}"
    );
    vigild.shutdown();
}

/// A `ready=notify` program that feeds its watchdog every 0.2 s while `{dir}/feed` exists
/// and counts the feeds in `{dir}/fed`.
const FEEDER: &str = r#"
import os, socket, time
here = os.path.dirname(os.path.abspath(__file__))
address = os.environ["NOTIFY_SOCKET"]
if address.startswith("@"):
    address = "\0" + address[1:]
out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
out.sendto(b"READY=1", address)
fed = 0
while True:
    if os.path.exists(os.path.join(here, "feed")):
        out.sendto(b"WATCHDOG=1", address)
        fed += 1
        with open(os.path.join(here, "fed"), "w") as f:
            f.write(str(fed))
    print("still here", flush=True)
    time.sleep(0.2)
"#;

#[test]
fn watchdog_sec_restarts_a_program_that_stops_feeding_its_watchdog() {
    let port = free_port();
    let ws = Workspace::new();
    ws.write("feeder.py", FEEDER);
    ws.write("feed", "");
    ws.config(&format!(
        "{CONTROL_SECTIONS}[inet_http_server]\nport=127.0.0.1:{port}\n\n\
         [program:fed]\ncommand=python3 {{dir}}/feeder.py\nready=notify\nwatchdog_sec=1\n\
         startsecs=0\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("success: fed entered RUNNING state, process is ready (ready=notify)");
    let first = vigild.pid_of("fed");
    let environ = std::fs::read(format!("/proc/{first}/environ")).expect("environ");
    assert!(
        environ
            .split(|b| *b == 0)
            .any(|entry| entry == b"WATCHDOG_USEC=1000000"),
        "the child is told its watchdog period"
    );
    // Fed for more than two periods: the same child runs on.
    assert!(wait_until(|| vigild
        .ws
        .read("fed")
        .trim()
        .parse::<u32>()
        .is_ok_and(|fed| fed >= 12)));
    assert_eq!(vigild.pid_of("fed"), first);
    assert!(!vigild.log().contains("watchdog: fed"), "{}", vigild.log());
    // Starved: restarted, counted, recorded.
    std::fs::remove_file(vigild.ws.path().join("feed")).expect("stop feeding");
    let log = vigild.wait_log(&format!(
        "watchdog: fed (pid {first}) sent no WATCHDOG=1 for 1s (watchdog_sec); restarting it"
    ));
    assert!(!log.contains("crash loop"), "{log}");
    let mut second = 0;
    assert!(wait_until(|| {
        second = vigild.pid_of("fed");
        second != first && second != 0
    }));
    let (_, metrics) = http_get(port, "/metrics", None);
    assert_eq!(
        metric_value(
            &metrics,
            r#"vigil_process_exits_total{group="fed",name="fed",reason="watchdog"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    let (_, crashes) = vigild.vigilctl(&["crashes", "fed"]);
    assert!(crashes.contains(&format!("pid {first}")), "{crashes}");
    assert!(crashes.contains("still here"), "{crashes}");
    assert!(
        crashes.contains("sent no WATCHDOG=1 within watchdog_sec"),
        "{crashes}"
    );
    vigild.shutdown();
}

#[test]
fn a_shutdown_while_a_not_ready_program_is_being_stopped_still_ends() {
    // The ready_timeout stop is under way (the program takes 1.5 s over SIGTERM) when
    // vigild is told to exit: the failed start lands in BACKOFF, which must give up.
    let mut vigild = start(
        "[program:slowstop]\ncommand=/bin/sh -c \"trap 'sleep 1.5; exit 0' TERM; \
         while :; do sleep 0.1; done\"\nready=notify\nready_timeout=1\nstopwaitsecs=10\n",
    );
    vigild.wait_log("not ready: slowstop did not become ready within 1s");
    vigild.signal(nix::sys::signal::Signal::SIGTERM);
    let status = vigild.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", vigild.log());
}

#[test]
fn the_python_sdnotify_package_and_a_c_sd_notify_caller_work_unchanged() {
    let ws = Workspace::new();
    let mut programs = String::new();
    let python = venv_python();
    let has_sdnotify = std::process::Command::new(&python)
        .args(["-c", "import sdnotify"])
        .status()
        .is_ok_and(|status| status.success());
    if has_sdnotify {
        ws.write(
            "py.py",
            "import sdnotify, time\n\
             sdnotify.SystemdNotifier().notify('READY=1\\nSTATUS=from sdnotify')\n\
             time.sleep(1000)\n",
        );
        programs.push_str(&format!(
            "[program:py]\ncommand={} {{dir}}/py.py\nready=notify\nstartsecs=0\n\n",
            python.display()
        ));
    } else {
        eprintln!("skipped the sdnotify part: the package is not in target/venv (scripts/test installs it)");
    }
    let header = Path::new("/usr/include/systemd/sd-daemon.h").exists();
    if header {
        let source = ws.write(
            "c.c",
            "#include <systemd/sd-daemon.h>\n#include <unistd.h>\n\
             int main(void) { sd_notify(0, \"READY=1\\nSTATUS=from sd_notify(3)\"); \
             for (;;) pause(); }\n",
        );
        let built = std::process::Command::new("gcc")
            .arg("-o")
            .arg(ws.path().join("c"))
            .arg(&source)
            .arg("-lsystemd")
            .status()
            .is_ok_and(|status| status.success());
        assert!(built, "gcc could not build the sd_notify(3) caller");
        programs.push_str("[program:c]\ncommand={dir}/c\nready=notify\nstartsecs=0\n\n");
    } else {
        eprintln!("skipped the sd_notify(3) part: libsystemd-dev is not installed (scripts/test installs it)");
    }
    if programs.is_empty() {
        return;
    }
    ws.config(&format!("{CONTROL_SECTIONS}{programs}"));
    let mut vigild = Vigild::start(ws, &[]);
    if has_sdnotify {
        wait_status(&vigild, "py", &["RUNNING", "status: from sdnotify"]);
    }
    if header {
        wait_status(&vigild, "c", &["RUNNING", "status: from sd_notify(3)"]);
    }
    vigild.shutdown();
}

/// Sends its arguments, one per line, as one sd_notify datagram.
const SAY: &str = r#"
import os, socket, sys
address = os.environ["NOTIFY_SOCKET"]
if address.startswith("@"):
    address = "\0" + address[1:]
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto("\n".join(sys.argv[1:]).encode(), address)
"#;

/// A launcher: forks `sleep` into a session of its own, says `MAINPID=` of it and
/// `READY=1`, and exits the moment the datagram is sent.
const LAUNCH: &str = r#"
import os, socket
daemon = os.fork()
if daemon == 0:
    os.setsid()
    os.execvp("sleep", ["sleep", "100000"])
address = os.environ["NOTIFY_SOCKET"]
if address.startswith("@"):
    address = "\0" + address[1:]
message = "MAINPID=%d\nREADY=1" % daemon
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(message.encode(), address)
os._exit(0)
"#;

/// What `/proc` says `pid` runs.
fn command_of(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
        .unwrap_or_default()
}

/// Waits until `name` is RUNNING with a pid that runs `sleep`; returns that pid.
fn wait_running_sleep(vigild: &Vigild, name: &str) -> i32 {
    let mut pid = 0;
    let seen = wait_until(|| {
        pid = vigild.pid_of(name);
        pid > 0
            && command_of(pid).starts_with("sleep")
            && status_line(vigild, name).contains("RUNNING")
    });
    assert!(
        seen,
        "{name} never ran sleep: {}\n{}",
        status_line(vigild, name),
        vigild.log()
    );
    pid
}

#[test]
fn a_launcher_that_says_mainpid_and_exits_hands_its_process_over_to_its_daemon() {
    // The launcher exits right after its datagram, so its exit races its words; the daemon
    // leaves the launcher's process group (setsid), so only the new group reaches it.
    let ws = Workspace::new();
    ws.write("launch.py", LAUNCH);
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:handover]\n\
         command=python3 {{dir}}/launch.py\n\
         process_name=%(program_name)s_%(process_num)d\nnumprocs=4\nready=notify\n\
         stopasgroup=true\nautorestart=true\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    let names: Vec<String> = (0..4).map(|n| format!("handover:handover_{n}")).collect();
    let mut daemons: Vec<i32> = names
        .iter()
        .map(|n| wait_running_sleep(&vigild, n))
        .collect();
    // Each launcher's exit is its former main pid's, not the process's.
    let log = vigild.wait_log_count("its main pid before a MAINPID=, ended (exit status 0)", 4);
    for (name, pid) in names.iter().zip(&daemons) {
        assert!(
            log.contains(&format!("{}: main pid is now {pid} (was ", &name[9..])),
            "{log}"
        );
        assert_eq!(vigild.pid_of(name), *pid, "{log}");
        assert!(status_line(&vigild, name).contains("RUNNING"), "{log}");
    }
    assert!(!log.contains("exited: handover"), "{log}");
    assert!(
        !log.contains("its parent's to know"),
        "orphans adopted: {log}"
    );
    // Its death is the process's exit, and a restart hands over again.
    kill(Pid::from_raw(daemons[0]), Signal::SIGKILL).expect("kill the daemon");
    vigild.wait_log("exited: handover_0 (terminated by SIGKILL; not expected)");
    let seen = wait_until(|| {
        let pid = vigild.pid_of("handover:handover_0");
        pid != daemons[0] && pid > 0 && command_of(pid).starts_with("sleep")
    });
    assert!(seen, "{}", vigild.log());
    daemons[0] = wait_running_sleep(&vigild, "handover:handover_0");
    // A stop reaches each daemon through its own group.
    let (code, out) = vigild.vigilctl(&["stop", "handover:*"]);
    assert_eq!(code, 0, "{out}\n{}", vigild.log());
    for pid in &daemons {
        assert!(wait_until(|| !alive(*pid)), "pid {pid} outlived its stop");
    }
    vigild.shutdown();
}

#[test]
fn a_mainpid_outside_the_tree_is_ignored_and_one_whose_parent_lives_is_watched() {
    let ws = Workspace::new();
    ws.write("say.py", SAY);
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:liar]\n\
         command=/bin/sh -c 'python3 {{dir}}/say.py MAINPID=999999999; python3 {{dir}}/say.py MAINPID=1 READY=1; exec sleep 100000'\n\
         ready=notify\n\n\
         [program:parent]\n\
         command=/bin/sh -c 'sleep 100000 & python3 {{dir}}/say.py \"MAINPID=$!\" READY=1; wait'\n\
         ready=notify\nautorestart=false\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    // Neither a process that does not exist nor one outside its tree becomes its pid.
    let liar = wait_running_sleep(&vigild, "liar");
    let log = vigild.wait_log("liar: ignored MAINPID=1: it is neither in liar's process tree");
    assert!(
        log.contains("liar: ignored MAINPID=999999999: no such process"),
        "{log}"
    );
    assert!(
        log.contains(&format!("spawned: 'liar' with pid {liar}")),
        "{log}"
    );
    // The daemon of a launcher that lives on is not vigild's child: watched all the same.
    let daemon = wait_running_sleep(&vigild, "parent");
    vigild.wait_log(&format!("parent: main pid is now {daemon}"));
    kill(Pid::from_raw(daemon), Signal::SIGKILL).expect("kill the daemon");
    wait_status(&vigild, "parent", &["EXITED"]);
    let log = vigild.wait_log("its main pid before a MAINPID=, ended");
    assert!(
        log.contains(&format!("pid {daemon} ended while its parent was not vigild: its exit status is its parent's to know, taken as 0")),
        "{log}"
    );
    assert!(
        log.contains("exited: parent (exit status 0; expected)"),
        "{log}"
    );
    vigild.shutdown();
}
