//! Acting on several processes at once through vigilctl: several names start together, and a
//! rolling restart keeps a pool serving, batch by batch, stopping at the first failure.

use crate::support::*;

/// Polls the `pool` group over XML-RPC until all of its initially RUNNING pids have been
/// replaced; prints `[fewest RUNNING seen, initial pids, final pids]` as JSON. It writes
/// `watching` to the file named by argv[3] once it has the initial pids.
const WATCH_POOL: &str = r"
import json, sys, time, xmlrpc.client
proxy = xmlrpc.client.ServerProxy('http://127.0.0.1:%s/RPC2' % sys.argv[1])
size = int(sys.argv[2])
def pool():
    return [p for p in proxy.supervisor.getAllProcessInfo() if p['group'] == 'pool']
end = time.time() + 60
while time.time() < end:
    infos = pool()
    if len([p for p in infos if p['statename'] == 'RUNNING']) == size:
        break
    time.sleep(0.02)
first = {p['name']: p['pid'] for p in infos}
open(sys.argv[3], 'w').write('watching')
fewest, now = size, dict(first)
while time.time() < end:
    infos = pool()
    running = [p for p in infos if p['statename'] == 'RUNNING']
    fewest = min(fewest, len(running))
    now = {p['name']: p['pid'] for p in infos}
    if len(running) == size and all(now[n] != first[n] for n in first):
        break
    time.sleep(0.02)
print(json.dumps([fewest, first, now]))
";

/// The watcher process, killed if the test ends before it does.
struct Watcher(Option<std::process::Child>);

impl Watcher {
    /// Waits for its report.
    fn wait_output(mut self) -> Vec<u8> {
        self.0
            .take()
            .and_then(|child| child.wait_with_output().ok())
            .map(|output| output.stdout)
            .unwrap_or_default()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn pool_config(port: u16, extra: &str) -> String {
    format!(
        "{}[program:pool]\ncommand=/bin/sh -c 'if [ -f {{dir}}/broken ] && [ %(process_num)d = 2 ]; then exit 1; fi; exec sleep 1000'\n\
         process_name=pool_%(process_num)d\nnumprocs=4\nstartsecs=1\nstartretries=0\n{extra}",
        control(port)
    )
}

#[test]
fn a_rolling_restart_keeps_three_of_four_running() {
    let port = free_port();
    let vigild = Vigild::with_config(&pool_config(port, ""));
    let marker = vigild.ws.path().join("watching");
    let watcher = std::process::Command::new(venv_python())
        .arg("-c")
        .arg(WATCH_POOL)
        .args([port.to_string(), "4".into(), marker.display().to_string()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("watcher");
    let watcher = Watcher(Some(watcher));
    assert!(wait_until(|| marker.exists()), "{}", vigild.log());
    let (code, out) = vigild.vigilctl(&["restart", "--rolling", "pool:*"]);
    assert_eq!(code, 0, "{out}\n{}", vigild.log());
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "pool:pool_0: restarted",
            "pool:pool_1: restarted",
            "pool:pool_2: restarted",
            "pool:pool_3: restarted"
        ]
    );
    let output = watcher.wait_output();
    let (fewest, first, last): (usize, serde_json::Value, serde_json::Value) =
        serde_json::from_slice(&output).expect("watcher JSON");
    assert_eq!(fewest, 3, "one of four restarted at a time");
    for name in ["pool_0", "pool_1", "pool_2", "pool_3"] {
        assert_ne!(first[name], last[name], "{name} was restarted");
    }
}

#[test]
fn a_failing_batch_stops_the_roll_and_says_where() {
    let port = free_port();
    let vigild = Vigild::with_config(&pool_config(port, ""));
    vigild.wait_log_count("entered RUNNING state", 4);
    let pid_of_3 = lines_with(&vigild.log(), "spawned: 'pool_3' with pid ").len();
    vigild.ws.write("broken", "");
    let (code, out) = vigild.vigilctl(&["restart", "--rolling", "pool"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("ERROR (FAILED: rolling restart of pool stopped at batch 3 of 4: pool_2: "),
        "{out}"
    );
    assert_eq!(
        lines_with(&vigild.log(), "spawned: 'pool_3' with pid ").len(),
        pid_of_3,
        "the batch after the failure is left alone"
    );
}

#[test]
fn several_names_start_together() {
    let vigild = Vigild::with_config(&format!(
        "{CONTROL_SECTIONS}[program:a]\ncommand=/bin/sleep 1000\nstartsecs=1\nautostart=false\n\n\
         [program:b]\ncommand=/bin/sleep 1000\nstartsecs=1\nautostart=false\n\n\
         [program:c]\ncommand=/bin/sleep 1000\nstartsecs=1\nautostart=false\n"
    ));
    vigild.wait_log("supervisord started");
    let (code, out) = vigild.vigilctl(&["start", "c", "a", "b"]);
    assert_eq!(
        (code, out.lines().collect::<Vec<_>>()),
        (0, vec!["c: started", "a: started", "b: started"]),
        "in the order named"
    );
    let log = vigild.log();
    let first_success = log.find("success:").expect("a success line");
    for name in ["a", "b", "c"] {
        let spawned = log.find(&format!("spawned: '{name}'")).expect("spawned");
        assert!(
            spawned < first_success,
            "all started before any was RUNNING:\n{log}"
        );
    }
    let (code, out) = vigild.vigilctl(&["stop", "a", "b", "c", "a"]);
    assert_eq!(
        (code, out.lines().collect::<Vec<_>>()),
        (0, vec!["a: stopped", "b: stopped", "c: stopped"])
    );
}
