//! The test fixture: a real `vigild` on a temp dir, in a session of its own so that every
//! process it starts (children, grandchildren, orphans) can be found and killed on drop.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tempfile::TempDir;

pub mod certs;

/// How long any awaited condition may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Path of the vigild binary under test.
pub fn vigild_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vigild")
}

/// Polls `condition` until it holds or [`DEADLINE`] passes; returns whether it held.
pub fn wait_until(mut condition: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + DEADLINE;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A loopback port that was free a moment ago (for inet servers and fcgi sockets).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
}

/// A temp dir holding a config; `{dir}` in config text stands for the dir's path.
pub struct Workspace {
    /// The temp dir (removed on drop).
    pub dir: TempDir,
}

impl Workspace {
    /// A new empty workspace.
    pub fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The dir's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` (with `{dir}` replaced) to `name` in the dir and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(&path, self.fill(text)).expect("write file");
        path
    }

    /// Writes a full config: the standard `[supervisord]` section (log, pidfile and childlogdir
    /// in the dir) followed by `body`.
    pub fn config(&self, body: &str) -> PathBuf {
        self.write(
            "supervisord.conf",
            &format!(
                "[supervisord]\nlogfile={{dir}}/vigild.log\npidfile={{dir}}/vigild.pid\nchildlogdir={{dir}}\nloglevel=info\n\n{body}"
            ),
        )
    }

    /// `text` with `{dir}` replaced by the dir's path.
    pub fn fill(&self, text: &str) -> String {
        text.replace("{dir}", &self.path().display().to_string())
    }

    /// Reads a file of the dir ("" if missing).
    pub fn read(&self, name: &str) -> String {
        fs::read_to_string(self.path().join(name)).unwrap_or_default()
    }

    /// Waits until the file `name` holds a pid (written by a child) and returns it.
    pub fn wait_pid(&self, name: &str) -> i32 {
        let mut pid = None;
        let found = wait_until(|| {
            pid = self.read(name).trim().parse::<i32>().ok();
            pid.is_some()
        });
        assert!(found, "no pid in {name}");
        pid.unwrap_or_default()
    }

    /// Runs `vigild` with `args` to completion (for commands that exit by themselves).
    pub fn run_vigild(&self, args: &[&str]) -> Output {
        let mut command = Command::new(vigild_bin());
        command
            .args(args)
            .current_dir(self.path())
            .stdin(Stdio::null());
        new_session(&mut command);
        let child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn vigild");
        let guard = SessionGuard(child.id() as i32);
        let output = child.wait_with_output().expect("vigild output");
        drop(guard);
        output
    }
}

/// Puts the command in a new session, so everything it starts shares its session id.
pub fn new_session(command: &mut Command) {
    // SAFETY: setsid is async-signal-safe and touches no memory.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
}

/// Kills every process of a session on drop (the session id is the leader's pid).
pub struct SessionGuard(pub i32);

impl Drop for SessionGuard {
    fn drop(&mut self) {
        for pid in session_members(self.0) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// Live processes (not zombies) whose session id is `sid`.
pub fn session_members(sid: i32) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            stat_fields(*pid).is_some_and(|fields| {
                fields.first().map(String::as_str) != Some("Z")
                    && fields.get(3).and_then(|s| s.parse::<i32>().ok()) == Some(sid)
            })
        })
        .collect()
}

/// Fields of /proc/PID/stat after the command name: state, ppid, pgrp, session, tty_nr, …
pub fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    Some(after.split_whitespace().map(str::to_string).collect())
}

/// Whether `pid` is a live (non-zombie) process.
pub fn alive(pid: i32) -> bool {
    stat_fields(pid).is_some_and(|fields| fields.first().map(String::as_str) != Some("Z"))
}

/// A running `vigild -n` on a workspace; killed with everything it started on drop.
pub struct Vigild {
    /// Its workspace.
    pub ws: Workspace,
    child: Child,
    _guard: SessionGuard,
}

impl Vigild {
    /// Starts `vigild -n -c supervisord.conf` plus `extra` flags in `ws`.
    pub fn start(ws: Workspace, extra: &[&str]) -> Self {
        Vigild::start_wrapped(ws, &[], extra)
    }

    /// Like [`Vigild::start`], run under `wrapper` (e.g. `unshare --pid --fork`); `pid()` is
    /// then the wrapper's pid.
    pub fn start_wrapped(ws: Workspace, wrapper: &[&str], extra: &[&str]) -> Self {
        let mut argv: Vec<&str> = wrapper.to_vec();
        argv.push(vigild_bin());
        argv.extend(["-n", "-c", "supervisord.conf"]);
        argv.extend(extra);
        let mut command = Command::new(argv[0]);
        command
            .args(&argv[1..])
            .current_dir(ws.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                fs::File::create(ws.path().join("vigild.stdout")).expect("stdout file"),
            ))
            .stderr(Stdio::from(
                fs::File::create(ws.path().join("vigild.stderr")).expect("stderr file"),
            ));
        new_session(&mut command);
        let child = command.spawn().expect("spawn vigild");
        let guard = SessionGuard(child.id() as i32);
        Vigild {
            ws,
            child,
            _guard: guard,
        }
    }

    /// Writes `body` as the config and starts vigild on it.
    pub fn with_config(body: &str) -> Self {
        let ws = Workspace::new();
        ws.config(body);
        Vigild::start(ws, &[])
    }

    /// Starts vigild serving XML-RPC on a free loopback port, with `programs` as the rest
    /// of the config; returns it and the port.
    pub fn with_inet_server(programs: &str) -> (Self, u16) {
        let port = free_port();
        let vigild = Vigild::with_config(&format!(
            "[inet_http_server]\nport=127.0.0.1:{port}\n\n{programs}"
        ));
        (vigild, port)
    }

    /// vigild's pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The main log so far.
    pub fn log(&self) -> String {
        self.ws.read("vigild.log")
    }

    /// Waits until the main log contains `needle` `count` times; returns the log.
    pub fn wait_log_count(&self, needle: &str, count: usize) -> String {
        let mut log = String::new();
        let found = wait_until(|| {
            log = self.log();
            log.matches(needle).count() >= count
        });
        assert!(
            found,
            "main log never had {count} x {needle:?}; log:\n{log}\nstderr:\n{}",
            self.ws.read("vigild.stderr")
        );
        log
    }

    /// Waits until the main log contains `needle`; returns the log.
    pub fn wait_log(&self, needle: &str) -> String {
        self.wait_log_count(needle, 1)
    }

    /// Sends `signal` to vigild.
    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid()), signal).expect("signal vigild");
    }

    /// Waits for vigild to exit (failing the test after [`DEADLINE`]).
    pub fn wait_exit(&mut self) -> ExitStatus {
        let mut status = None;
        let exited = wait_until(|| {
            status = self.child.try_wait().expect("try_wait");
            status.is_some()
        });
        assert!(exited, "vigild did not exit; log:\n{}", self.log());
        status.expect("status")
    }

    /// SIGTERM, then wait for a clean exit; returns the final log.
    pub fn shutdown(&mut self) -> String {
        self.signal(Signal::SIGTERM);
        let status = self.wait_exit();
        assert!(
            status.success(),
            "vigild exited with {status:?}; log:\n{}",
            self.log()
        );
        self.log()
    }
}

impl Drop for Vigild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wall-clock time of a main-log line (`2026-11-24 18:38:18,517 INFO …`), as seconds since
/// midnight, for ordering and lower-bound checks.
pub fn line_time(line: &str) -> f64 {
    let time = line.split_whitespace().nth(1).unwrap_or_default();
    let (hms, millis) = time.split_once(',').unwrap_or((time, "0"));
    let parts: Vec<f64> = hms.split(':').filter_map(|p| p.parse().ok()).collect();
    assert_eq!(parts.len(), 3, "not a log line: {line}");
    parts[0] * 3600.0 + parts[1] * 60.0 + parts[2] + millis.parse::<f64>().unwrap_or(0.0) / 1000.0
}

/// Lines of `log` containing `needle`.
pub fn lines_with<'a>(log: &'a str, needle: &str) -> Vec<&'a str> {
    log.lines().filter(|line| line.contains(needle)).collect()
}

/// The real Python `supervisorctl` (PyPI supervisor 4.3, installed by `scripts/test` into
/// `target/venv`).
pub fn supervisorctl_bin() -> std::path::PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/venv/bin/supervisorctl");
    assert!(
        path.exists(),
        "{} is missing: run ./scripts/test, which installs it",
        path.display()
    );
    path
}

/// The venv's Python (with the `supervisor` package), for xmlrpc.client checks.
pub fn venv_python() -> std::path::PathBuf {
    supervisorctl_bin().with_file_name("python3")
}

/// Runs `script` with the venv's Python (which has `supervisor` installed), passing `args`.
pub fn run_python(script: &str, args: &[&str]) -> Output {
    Command::new(venv_python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python")
}

/// A `supervisord.conf` body that serves the API on a unix socket in the workspace, with
/// the `[supervisorctl]` and `[rpcinterface:supervisor]` sections supervisorctl needs.
pub const CONTROL_SECTIONS: &str = "[unix_http_server]\nfile={dir}/vigil.sock\n\n\
    [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
    [supervisorctl]\nserverurl=unix://{dir}/vigil.sock\n\n";

/// How long one control-client command may take: a client waiting for a state that never
/// comes (a broken build) is killed and the test fails, instead of hanging the suite.
const CLIENT_LIMIT: Duration = Duration::from_secs(90);

/// The wrapper that starts a command as PID 1 of a new pid namespace, when this test run
/// can make one (root, util-linux's `unshare`); `None` otherwise.
pub fn pid_namespace() -> Option<&'static [&'static str]> {
    let root = nix::unistd::Uid::effective().is_root();
    (root && Path::new("/usr/bin/unshare").exists())
        .then_some(&["/usr/bin/unshare", "--pid", "--fork"][..])
}

/// Runs a control client (`supervisorctl` or `vigilctl`) with `-c config`, under
/// [`CLIENT_LIMIT`] (coreutils' `timeout`; exit code 124 when it ran out); returns (exit
/// code, stdout+stderr).
pub fn run_client(client: &Path, config: &Path, args: &[&str]) -> (i32, String) {
    exit_and_text(
        Command::new("timeout")
            .arg("--kill-after=5")
            .arg(CLIENT_LIMIT.as_secs().to_string())
            .arg(client)
            .arg("-c")
            .arg(config)
            .args(args),
    )
}

/// Runs `command` with stdin from /dev/null; returns (exit code, stdout+stderr).
pub fn exit_and_text(command: &mut Command) -> (i32, String) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("run {command:?}: {err}"));
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), text)
}

/// Path of the vigilctl binary under test.
pub fn vigilctl_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_vigilctl"))
}

impl Vigild {
    /// Runs the real supervisorctl against this vigild; returns (exit code, stdout+stderr).
    pub fn ctl(&self, args: &[&str]) -> (i32, String) {
        run_client(
            &supervisorctl_bin(),
            &self.ws.path().join("supervisord.conf"),
            args,
        )
    }

    /// The pid vigilctl gives for `namespec`; 0 while it has none.
    pub fn pid_of(&self, namespec: &str) -> i32 {
        self.vigilctl(&["pid", namespec])
            .1
            .trim()
            .parse()
            .unwrap_or(0)
    }

    /// Runs vigilctl against this vigild.
    pub fn vigilctl(&self, args: &[&str]) -> (i32, String) {
        run_client(
            vigilctl_bin(),
            &self.ws.path().join("supervisord.conf"),
            args,
        )
    }
}

/// Sends `request` (a whole HTTP/1.1 request) to a loopback port; returns (status, the
/// response with its headers), or status 0 when nothing listens there (yet).
fn http_exchange(port: u16, request: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("read timeout");
    stream.write_all(request.as_bytes()).expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, response)
}

/// `GET path` on a loopback port, with basic auth when given; returns (status, body), or
/// status 0 when nothing listens there (yet).
pub fn http_get(port: u16, path: &str, auth: Option<(&str, &str)>) -> (u16, String) {
    let authorization = auth
        .map(|(user, password)| {
            let token = base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!("{user}:{password}"),
            );
            format!("Authorization: Basic {token}\r\n")
        })
        .unwrap_or_default();
    let (status, response) = http_exchange(
        port,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{authorization}Connection: close\r\n\r\n"
        ),
    );
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}

/// `POST path` of a form body on a loopback port with extra header lines; returns (status,
/// the response's headers and body).
pub fn http_post(port: u16, path: &str, form: &str, headers: &[&str]) -> (u16, String) {
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    http_exchange(
        port,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\n{extra}Connection: close\r\n\r\n{form}",
            form.len()
        ),
    )
}

/// The value of the first sample line of `metrics` that starts with `series` (a metric name
/// with its labels, as rendered).
pub fn metric_value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

/// A server a test starts beside vigild (Prometheus): its session is killed and the server
/// reaped when the test ends, even when it fails.
pub struct ServerGuard(pub Child);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        drop(SessionGuard(self.0.id() as i32));
        let _ = self.0.wait();
    }
}

/// Python supervisord on `config`, in a session of its own (killed on drop).
pub struct Supervisord {
    child: std::process::Child,
    _guard: SessionGuard,
}

impl Supervisord {
    /// Starts `supervisord -n -c config` in `ws`.
    pub fn start(ws: &Workspace, config: &std::path::Path) -> Self {
        Supervisord::start_wrapped(ws, &[], config)
    }

    /// Like [`Supervisord::start`], run under `wrapper` (e.g. `unshare --mount …`).
    pub fn start_wrapped(ws: &Workspace, wrapper: &[&str], config: &std::path::Path) -> Self {
        let binary = supervisorctl_bin().with_file_name("supervisord");
        let mut command = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut command = Command::new(first);
                command.args(rest).arg(&binary);
                command
            }
            None => Command::new(&binary),
        };
        // Its stdout and stderr in files of the workspace, for the tests that compare them.
        command
            .args(["-n", "-c"])
            .arg(config)
            .current_dir(ws.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                fs::File::create(ws.path().join("supervisord.stdout")).expect("stdout file"),
            ))
            .stderr(Stdio::from(
                fs::File::create(ws.path().join("supervisord.stderr")).expect("stderr file"),
            ));
        new_session(&mut command);
        let child = command.spawn().expect("start supervisord");
        let guard = SessionGuard(child.id() as i32);
        Supervisord {
            child,
            _guard: guard,
        }
    }
}

impl Drop for Supervisord {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until something accepts connections on the loopback `port` (a vigild just started
/// binds its inet server a moment later).
pub fn wait_listening(port: u16) {
    assert!(
        wait_until(|| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()),
        "nothing listens on port {port}"
    );
}

/// An inet server plus the `[supervisorctl]` section clients need to find it.
pub fn control(port: u16) -> String {
    control_with(port, "")
}

/// [`control`] with more `[inet_http_server]` option lines (each ending in a newline), such
/// as its accounts.
pub fn control_with(port: u16, server_options: &str) -> String {
    format!(
        "[inet_http_server]\nport=127.0.0.1:{port}\n{server_options}\n\
         [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         [supervisorctl]\nserverurl=http://127.0.0.1:{port}\n\n"
    )
}

/// Calls `method(args...)` over XML-RPC with Python's xmlrpc.client; returns its result as
/// JSON text.
pub fn call(port: u16, method: &str, args: &str) -> String {
    let script = format!(
        "import json, xmlrpc.client\n\
         proxy = xmlrpc.client.ServerProxy('http://127.0.0.1:{port}/RPC2')\n\
         print(json.dumps(proxy.{method}({args})))"
    );
    let output = run_python(&script, &[]);
    assert!(
        output.status.success(),
        "{method}({args}): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Python's xmlrpc.client calling `method(args)` on the `proxy` that the Python lines
/// `setup` bind (they may use `ssl`): the JSON of the result, `FAULT <faultString>`,
/// `HTTP <status>`, or `TLS <error>` when the connection or its handshake failed.
pub fn py_outcome(setup: &str, method: &str, args: &str) -> String {
    let script = format!(
        "import json, ssl, xmlrpc.client\n{setup}\n\
         try:\n    print(json.dumps(proxy.{method}({args})))\n\
         except xmlrpc.client.Fault as fault:\n    print('FAULT', fault.faultString)\n\
         except xmlrpc.client.ProtocolError as err:\n    print('HTTP', err.errcode)\n\
         except (ssl.SSLError, ConnectionError, OSError) as err:\n    print('TLS', err)"
    );
    let output = run_python(&script, &[]);
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A real Prometheus (Debian package `prometheus`) scraping vigild's `/metrics` on a
/// loopback port every second, on a port of its own; stopped with its session on drop.
pub struct Prometheus {
    /// Its web/API port.
    pub port: u16,
    dir: TempDir,
    _server: ServerGuard,
}

impl Prometheus {
    /// Starts one scraping `127.0.0.1:<target>` as job `vigil`.
    pub fn start(target: u16) -> Self {
        Prometheus::with_jobs(&format!(
            "  - job_name: vigil\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
        ))
    }

    /// Starts one with `jobs` (YAML list items) as its scrape configs, every second.
    pub fn with_jobs(jobs: &str) -> Self {
        Prometheus::with_files(&[(
            "prometheus.yml",
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n{jobs}"
            ),
        )])
    }

    /// Starts one on the files given (written into its own dir), the first its config, so
    /// a config may name rule files and `file_sd_configs` files beside it.
    pub fn with_files(files: &[(&str, String)]) -> Self {
        let port = free_port();
        let dir = tempfile::tempdir().expect("dir");
        for (name, text) in files {
            fs::write(dir.path().join(name), text).expect("prometheus file");
        }
        let config = dir.path().join(files[0].0);
        let mut command = Command::new("prometheus");
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                fs::File::create(dir.path().join("prometheus.log")).expect("log"),
            ));
        new_session(&mut command);
        let server = ServerGuard(
            command
                .spawn()
                .expect("prometheus (Debian package prometheus; ./scripts/test installs it)"),
        );
        Prometheus {
            port,
            dir,
            _server: server,
        }
    }

    /// The instant query's answer (`{"status": …, "data": {"result": […]}}`), or None while
    /// Prometheus does not answer.
    pub fn query(&self, expr: &str) -> Option<serde_json::Value> {
        let script = "import json, sys, urllib.parse, urllib.request\n\
            url = 'http://127.0.0.1:%s/api/v1/query?query=%s' % (sys.argv[1], urllib.parse.quote(sys.argv[2]))\n\
            try:\n\
            \x20   print(urllib.request.urlopen(url, timeout=5).read().decode())\n\
            except urllib.error.HTTPError as error:\n\
            \x20   print(error.read().decode())\n\
            except Exception:\n\
            \x20   pass\n";
        let out = run_python(script, &[&self.port.to_string(), expr]);
        serde_json::from_slice(&out.stdout).ok()
    }

    /// The first series' value of an instant query.
    pub fn value(&self, expr: &str) -> Option<f64> {
        let answer = self.query(expr)?;
        answer["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse().ok())
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

/// vigilctl's status line of `name`.
pub fn status_line(vigild: &Vigild, name: &str) -> String {
    vigild.vigilctl(&["status", name]).1
}

/// Waits until `name`'s status line contains every one of `words`.
pub fn wait_status(vigild: &Vigild, name: &str, words: &[&str]) -> String {
    let mut line = String::new();
    let seen = wait_until(|| {
        line = status_line(vigild, name);
        words.iter().all(|word| line.contains(word))
    });
    assert!(
        seen,
        "{name} never showed {words:?}: {line}\n{}",
        vigild.log()
    );
    line
}

/// A listener that appends each event (header line and payload, as Python reprs) to the
/// file named by its first argument, answering `RESULT 2\nOK`, or `RESULT 4\nFAIL` once for
/// every event whose payload contains its second argument.
pub const EVENT_RECORDER: &str = r"
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
";

/// A real terminal: a tmux server of our own (its own socket) running one session, "shell",
/// 160x40; killed on drop.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `command` in a new tmux server named after this test process and `run`.
    pub fn start(run: &str, command: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("vigil-test-{}-{run}", std::process::id()),
        };
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "shell",
            "-x",
            "160",
            "-y",
            "40",
            command,
        ]);
        tmux
    }

    /// Runs a tmux command on this server; returns its stdout+stderr.
    pub fn run(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .env("TERM", "xterm")
            .output()
            .expect("tmux");
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        text
    }

    /// What the terminal shows now.
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "shell"])
    }

    /// Types `keys` (tmux key names, or text).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "shell"];
        args.extend(keys);
        self.run(&args);
    }

    /// Waits until the screen shows `needle`; fails the test with the screen if it never does.
    pub fn wait_for(&self, needle: &str) {
        self.wait_screen(needle, |screen| screen.contains(needle));
    }

    /// Waits until `holds` is true of the screen; returns that screen (fails the test with
    /// the last screen and `what` if it never is).
    pub fn wait_screen(&self, what: &str, mut holds: impl FnMut(&str) -> bool) -> String {
        let mut screen = String::new();
        let held = wait_until(|| {
            screen = self.screen();
            holds(&screen)
        });
        assert!(held, "never saw {what}:\n{screen}");
        screen
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}
