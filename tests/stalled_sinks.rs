//! Sinks outside vigild that stop reading must not stop supervision: the main log's echo on a
//! stderr nobody reads (a stuck `docker logs`, a paused terminal, a hung log shipper).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::support::{
    control, free_port, run_python, session_members, stat_fields, wait_until, Vigild, Workspace,
};

/// Opens the FIFO at `path` for reading and writing (so neither end ever blocks the open),
/// without blocking, and fills it until it takes no more.
fn full_fifo(path: &std::path::Path) -> File {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let mut fifo = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .expect("open fifo");
    // SAFETY: F_SETPIPE_SZ on a FIFO this test owns; no memory is passed.
    unsafe {
        libc::fcntl(fifo.as_raw_fd(), libc::F_SETPIPE_SZ, 4096);
    }
    fill(&mut fifo);
    fifo
}

fn fill(fifo: &mut File) {
    let block = [b'.'; 512];
    while fifo.write(&block).is_ok_and(|n| n > 0) {}
}

/// Reads what the FIFO holds now (it is non-blocking), appending to `into`.
fn drain(fifo: &mut File, into: &mut Vec<u8>) {
    let mut buffer = vec![0; 65536];
    while let Ok(n) = fifo.read(&mut buffer) {
        if n == 0 {
            break;
        }
        into.extend_from_slice(&buffer[..n]);
    }
}

#[test]
fn an_unread_stderr_never_stalls_supervision() {
    let ws = Workspace::new();
    let port = free_port();
    let mut fifo = full_fifo(&ws.path().join("stderr.fifo"));
    ws.config(&format!(
        "{}[supervisord]\nlogfile={{dir}}/vigild.log\nloglevel=debug\n\n\
         [program:crasher]\ncommand=sh -c 'sleep 0.1; exit 1'\nstartsecs=0\nautorestart=true\n\
         crashloop_threshold=0\nstopwaitsecs=3\n\n\
         [program:victim]\ncommand=sleep 3600\nstartsecs=0\nstopwaitsecs=3\n\n\
         [program:chatter]\ncommand=sh -c 'yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -c 8000000; exec sleep 3600'\n\
         startsecs=0\nstopwaitsecs=3\n",
        control(port)
    ));
    // vigild's stderr is the full FIFO: its very first echoed line cannot be written.
    let mut vigild =
        Vigild::start_wrapped(ws, &["sh", "-c", "exec \"$0\" \"$@\" 2>stderr.fifo"], &[]);
    // The log file still receives every line; the crasher keeps crashing.
    vigild.wait_log_count("exited: crasher (exit status 1; not expected)", 20);
    let script = format!(
        "import json, os, signal, time, xmlrpc.client\n\
         proxy = xmlrpc.client.ServerProxy('http://127.0.0.1:{port}/RPC2')\n\
         info = proxy.supervisor.getProcessInfo\n\
         deadline = time.time() + 20\n\
         while info('victim')['statename'] != 'RUNNING':\n\
         \x20   assert time.time() < deadline, 'victim never RUNNING'\n\
         \x20   time.sleep(0.01)\n\
         old = info('victim')['pid']\n\
         crasher_pids = set()\n\
         began = time.time()\n\
         while time.time() - began < 1.0:\n\
         \x20   for p in proxy.supervisor.getAllProcessInfo():\n\
         \x20       if p['name'] == 'crasher' and p['pid']:\n\
         \x20           crasher_pids.add(p['pid'])\n\
         \x20   time.sleep(0.02)\n\
         os.kill(old, signal.SIGKILL)\n\
         began = time.time()\n\
         while time.time() - began < 10:\n\
         \x20   now = info('victim')\n\
         \x20   if now['statename'] == 'RUNNING' and now['pid'] not in (0, old):\n\
         \x20       break\n\
         \x20   time.sleep(0.005)\n\
         print(json.dumps({{'restart': time.time() - began, 'crasher_pids': len(crasher_pids)}}))\n"
    );
    let output = run_python(&script, &[]);
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(report.trim()).expect("json");
    let restart = report["restart"].as_f64().expect("restart");
    println!("with stderr stalled: victim RUNNING again {restart:.3}s after kill -9, {report}");
    assert!(
        restart < 1.0,
        "victim RUNNING again only after {restart:.3}s"
    );
    let pids = report["crasher_pids"].as_u64().expect("pids");
    assert!(
        pids >= 3,
        "getAllProcessInfo showed only {pids} crasher pids in a second"
    );

    // At loglevel=debug the chatter's 8 MB of output is echoed too: far more than the echo
    // may hold back. Once the reader reads again, it learns how much it missed.
    // SAFETY: F_SETPIPE_SZ on the FIFO this test owns; no memory is passed.
    unsafe {
        libc::fcntl(fifo.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20);
    }
    let mut echoed = Vec::new();
    let caught_up = wait_until(|| {
        drain(&mut fifo, &mut echoed);
        String::from_utf8_lossy(&echoed).contains(" log lines dropped\n")
    });
    assert!(caught_up, "no dropped-lines report on stderr");

    // Stalled again, SIGTERM still ends vigild within stopwaitsecs + 1 s, leaving no child.
    fill(&mut fifo);
    let asked = Instant::now();
    vigild.signal(Signal::SIGTERM);
    let status = vigild.wait_exit();
    let took = asked.elapsed();
    println!("with stderr stalled: SIGTERM to exit took {took:?}");
    assert!(status.success(), "{status:?}\n{}", vigild.log());
    assert!(
        took < Duration::from_secs(4),
        "vigild took {took:?} to stop"
    );
    assert_eq!(session_members(vigild.pid()), Vec::<i32>::new());
}

/// vigild's guardian: its child `vigild` whose fd 3 is a pipe (the spawner helpers hold
/// sockets).
fn guardian_of(vigild: i32) -> i32 {
    let mut found = 0;
    let seen = wait_until(|| {
        found = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
            .find(|pid| {
                stat_fields(*pid).is_some_and(|f| f.get(1) == Some(&vigild.to_string()))
                    && std::fs::read_link(format!("/proc/{pid}/fd/3"))
                        .is_ok_and(|target| target.display().to_string().starts_with("pipe:"))
            })
            .unwrap_or(0);
        found > 0
    });
    assert!(seen, "no guardian under vigild {vigild}");
    found
}

/// The victim's live shell and the grandchild it wrote into `grandchild.<shell pid>`.
fn live_victim(dir: &std::path::Path) -> (i32, i32) {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .find_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let shell: i32 = name.strip_prefix("grandchild.")?.parse().ok()?;
            let grandchild = std::fs::read_to_string(entry.path())
                .ok()?
                .trim()
                .parse()
                .ok()?;
            crate::support::alive(shell).then_some((shell, grandchild))
        })
        .unwrap_or((0, 0))
}

#[test]
fn a_stopped_guardian_never_stalls_supervision() {
    let ws = Workspace::new();
    ws.config(
        "[program:churn]\ncommand=true\nprocess_name=%(program_name)s_%(process_num)d\n\
         numprocs=40\nstartsecs=0\nautorestart=true\ncrashloop_threshold=0\n\n\
         [program:victim]\ncommand=sh -c 'sleep 1000 & echo $! > {dir}/grandchild.$$; wait'\n\
         startsecs=0\n",
    );
    let mut vigild = Vigild::start(ws, &[]);
    let guardian = guardian_of(vigild.pid());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(guardian), Signal::SIGSTOP).expect("stop");
    // Each start and reap is a line for the guardian: more than its pipe holds (~4,700).
    let began = Instant::now();
    vigild.wait_log_count("spawned: 'churn_", 6000);
    println!(
        "6,000 spawns with the guardian stopped: {:?}",
        began.elapsed()
    );
    // Meanwhile a respawned program's grandchild is new to the guardian.
    let mut first = (0, 0);
    assert!(wait_until(|| {
        first = live_victim(vigild.ws.path());
        first.1 > 0
    }));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(first.0), Signal::SIGKILL).expect("kill");
    let mut second = (0, 0);
    assert!(wait_until(|| {
        second = live_victim(vigild.ws.path());
        second.0 != first.0 && second.1 > 0
    }));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(guardian), Signal::SIGCONT).expect("cont");
    let caught_up = vigild.log().matches("spawned: 'churn_").count() + 500;
    vigild.wait_log_count("spawned: 'churn_", caught_up);
    // The guardian learned of the new group: with vigild killed, it kills the grandchild.
    vigild.signal(Signal::SIGKILL);
    vigild.wait_exit();
    assert!(
        wait_until(|| !crate::support::alive(second.1)),
        "the guardian missed the respawned program's group"
    );
}

#[test]
fn a_stalled_crash_record_file_holds_up_neither_crashes_nor_readers() {
    let ws = Workspace::new();
    let port = free_port();
    // The crash file is a FIFO that is full and never read: each write to it would hang.
    let _fifo = full_fifo(&ws.path().join("crasher-crashes.jsonl"));
    ws.config(&format!(
        "{}[program:crasher]\ncommand=sh -c 'echo dying >&2; sleep 0.2; exit 2'\nstartsecs=0\n\
         autorestart=true\ncrashloop_threshold=0\n",
        control(port)
    ));
    let vigild = Vigild::start(ws, &[]);
    vigild.wait_log_count("crash: crasher", 5);
    let script = format!(
        "import socket, xmlrpc.client\n\
         socket.setdefaulttimeout(5)\n\
         proxy = xmlrpc.client.ServerProxy('http://127.0.0.1:{port}/RPC2')\n\
         records = proxy.vigil.getCrashes('crasher', 0)\n\
         print(len(records), records[0]['tail'] if records else '')\n"
    );
    let output = run_python(&script, &[]);
    let answer = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "getCrashes did not answer: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let count: usize = answer
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(count >= 4, "{answer}");
    assert!(answer.contains("dying"), "{answer}");
    // Crashes go on being handled and recorded.
    vigild.wait_log_count("crash: crasher", 10);
}

/// vigild's children that run vigild's own binary: its spawner helpers and its guardian.
fn forked_copies(vigild: i32) -> Vec<i32> {
    let exe = |pid: i32| std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    let own = exe(vigild);
    std::fs::read_dir(format!("/proc/{vigild}/task"))
        .map(|tasks| {
            tasks
                .flatten()
                .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
                .flat_map(|text| {
                    text.split_whitespace()
                        .filter_map(|pid| pid.parse().ok())
                        .collect::<Vec<i32>>()
                })
                .filter(|pid| own.is_some() && exe(*pid) == own)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_stuck_spawner_helper_holds_up_nothing() {
    // One core, so one helper; stopped with SIGSTOP, it takes a start and never answers, as
    // a helper whose child hangs before its exec (a chdir into a dead NFS mount) does.
    let ws = Workspace::new();
    let port = free_port();
    ws.config(&format!(
        "{}[program:victim]\ncommand=sleep 1000\nstartsecs=0\nautorestart=true\n\n\
         [program:other]\ncommand=sleep 1000\nstartsecs=0\nautorestart=true\n",
        control(port)
    ));
    let vigild = Vigild::start_wrapped(ws, &["taskset", "-c", "0"], &[]);
    let mut victim = 0;
    assert!(wait_until(|| {
        victim = vigild.pid_of("victim");
        victim > 0 && vigild.pid_of("other") > 0
    }));
    let stopped = forked_copies(vigild.pid());
    assert!(!stopped.is_empty(), "no helper found");
    for pid in &stopped {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), Signal::SIGSTOP).expect("stop");
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(victim), Signal::SIGKILL).expect("kill");
    // The respawn is in the stuck helper's hands; the supervisor still acts on requests.
    assert!(wait_until(|| stat_fields(victim).is_none()));
    let script = format!(
        "import socket, time, xmlrpc.client\n\
         socket.setdefaulttimeout(3)\n\
         proxy = xmlrpc.client.ServerProxy('http://127.0.0.1:{port}/RPC2')\n\
         began = time.monotonic()\n\
         proxy.supervisor.stopProcess('other', False)\n\
         print(round(time.monotonic() - began, 3))\n"
    );
    let output = run_python(&script, &[]);
    let stop_took = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert!(
        output.status.success(),
        "stopProcess did not answer while a helper was stuck: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        vigild.log()
    );
    println!("stopProcess answered in {stop_took} s with the helper stuck");
    // The helper is given up after its reply timeout, and the victim is started anyway.
    let log = vigild.wait_log("is gone or stuck (no answer for 10 s)");
    assert!(
        wait_until(|| ![0, victim].contains(&vigild.pid_of("victim"))),
        "victim never restarted:\n{log}"
    );
    for pid in &stopped {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), Signal::SIGCONT);
    }
}

#[test]
fn log_reads_of_a_stalled_log_hold_up_no_one_else() {
    // The program's log is a full FIFO nobody reads: its writer blocks holding the stream.
    // Log calls on it wait for that stream, on blocking threads; the runtime's two workers
    // (where the supervisor runs) stay free for everyone else.
    let ws = Workspace::new();
    let port = free_port();
    let _fifo = full_fifo(&ws.path().join("stuck.fifo"));
    ws.config(&format!(
        "{}[program:stuck]\ncommand=sh -c 'while :; do echo filler-filler-filler; done'\n\
         startsecs=0\nstdout_logfile={{dir}}/stuck.fifo\n\n\
         [program:other]\ncommand=sleep 1000\nstartsecs=0\nautorestart=true\n",
        control(port)
    ));
    let vigild = Vigild::start(ws, &[]);
    assert!(wait_until(|| vigild.pid_of("other") > 0));
    let script = format!(
        "import socket, threading, time, xmlrpc.client\n\
         url = 'http://127.0.0.1:{port}/RPC2'\n\
         def stuck_read():\n\
         \x20   try:\n\
         \x20       xmlrpc.client.ServerProxy(url).supervisor.clearProcessLogs('stuck')\n\
         \x20   except Exception:\n\
         \x20       pass\n\
         for _ in range(4):\n\
         \x20   threading.Thread(target=stuck_read, daemon=True).start()\n\
         time.sleep(0.5)\n\
         socket.setdefaulttimeout(3)\n\
         proxy = xmlrpc.client.ServerProxy(url)\n\
         began = time.monotonic()\n\
         proxy.supervisor.stopProcess('other', False)\n\
         print(proxy.supervisor.getProcessInfo('other')['statename'], round(time.monotonic() - began, 3))\n"
    );
    let output = run_python(&script, &[]);
    let answer = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && answer.starts_with("STOPP"),
        "the supervisor stalled behind log calls on a stalled stream: {answer} {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        vigild.log()
    );
    println!("stopProcess and getProcessInfo answered with 4 log calls stuck: {answer}");
}

#[test]
fn a_hung_environment_file_holds_up_nothing() {
    // The program's environment_file is a FIFO nobody writes: reading it blocks, as a file
    // on a dead NFS mount does. Its start is prepared on a blocking thread; the supervisor
    // goes on, and gives the start up after 10 s.
    let ws = Workspace::new();
    let port = free_port();
    let fifo = ws.path().join("env.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    ws.config(&format!(
        "{}[program:hung]\ncommand=sleep 1000\nstartsecs=0\nstartretries=0\n\
         environment_file={{dir}}/env.fifo\n\n\
         [program:other]\ncommand=sleep 1000\nstartsecs=0\nautorestart=true\n",
        control(port)
    ));
    let vigild = Vigild::start(ws, &[]);
    let mut other = 0;
    assert!(
        wait_until(|| {
            other = vigild.pid_of("other");
            other > 0
        }),
        "other never started:\n{}",
        vigild.log()
    );
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(other), Signal::SIGKILL).expect("kill");
    assert!(
        wait_until(|| ![0, other].contains(&vigild.pid_of("other"))),
        "other never restarted:\n{}",
        vigild.log()
    );
    let script = format!(
        "import socket, xmlrpc.client\n\
         socket.setdefaulttimeout(3)\n\
         proxy = xmlrpc.client.ServerProxy('http://127.0.0.1:{port}/RPC2')\n\
         print(proxy.supervisor.getProcessInfo('hung')['statename'])\n\
         proxy.supervisor.stopProcess('other', False)\n"
    );
    let output = run_python(&script, &[]);
    assert!(
        output.status.success(),
        "the supervisor did not answer while a start hung: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "STOPPED");
    let log = vigild.wait_log("giving up the start of hung: not prepared after 10s");
    let restarted = log
        .find("exited: other (terminated by SIGKILL")
        .and_then(|exit| log[exit..].find("spawned: 'other'").map(|at| exit + at));
    let gave_up = log.find("giving up the start of hung");
    assert!(
        restarted.is_some() && restarted < gave_up,
        "other's restart waited for hung's preparation:\n{log}"
    );
    let (_, status) = vigild.ctl(&["status", "hung"]);
    assert!(
        status.contains("FATAL") && status.contains("couldn't prepare the start within 10s"),
        "{status}"
    );
    // Let the hung thread go (a writer that opens and closes ends its read).
    drop(
        OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo),
    );
}
