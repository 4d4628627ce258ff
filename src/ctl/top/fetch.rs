//! The fetcher of `vigilctl top`: a thread of its own that polls the server once a second
//! (`getAllProcessInfo`, and `vigil.getAllProcessStats` where the server has it), the
//! watched process's stderr tail and crash records, and runs the actions keys ask for, so
//! the terminal never waits on the network. It owns the client; the view only gets
//! [`Update`]s.

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use super::model::{Action, Detail, Row};
use crate::ctl::client::{Client, ClientError};
use crate::ctl::{array, double, int, text, Value};
use crate::namespec;
use crate::rpc::faults::FaultCode;

/// How often the fleet is fetched.
const REFRESH: Duration = Duration::from_secs(1);
/// How long one call may take when the command line set no timeout.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// The stderr bytes read for the detail pane, and the lines of it shown.
const TAIL_BYTES: i64 = 4096;
const TAIL_LINES: usize = 5;
/// The crash records shown.
const CRASHES: i64 = 5;
/// supervisord's NOT_RUNNING fault: a restart's stop of a process that was not running.
const NOT_RUNNING: i64 = FaultCode::NotRunning.code();

/// What the view asks of the fetcher.
#[derive(Debug)]
pub enum Request {
    /// Fetch this process's detail with every refresh (None: no detail).
    Watch(Option<String>),
    /// Run an action now.
    Act(Action, String),
}

/// What the fetcher tells the view.
#[derive(Debug)]
pub enum Update {
    /// The fleet's rows.
    Fleet {
        /// One per process, in the server's order.
        rows: Vec<Row>,
        /// Whether the server has vigil's figures (Python supervisord has not).
        stats: bool,
    },
    /// The watched process's detail.
    Detail(Detail),
    /// An action's outcome or a failed fetch, one line.
    Message(String),
}

/// Starts the fetcher on `client`; returns where to send requests and where updates come.
/// Both queues are bounded: keys beyond 16 waiting requests are dropped, and the fetcher
/// waits for the view, which drains its queue between keys.
pub fn spawn(mut client: Client) -> (SyncSender<Request>, Receiver<Update>) {
    client.timeout = client.timeout.or(Some(CALL_TIMEOUT));
    let (request_tx, requests) = mpsc::sync_channel(16);
    let (updates, update_rx) = mpsc::sync_channel(16);
    std::thread::spawn(move || Fetcher { client, updates }.run(&requests));
    (request_tx, update_rx)
}

struct Fetcher {
    client: Client,
    updates: SyncSender<Update>,
}

impl Fetcher {
    /// Polls until the view goes away.
    fn run(&self, requests: &Receiver<Request>) {
        let mut watched: Option<String> = None;
        let mut next = Instant::now();
        loop {
            match requests.recv_timeout(next.saturating_duration_since(Instant::now())) {
                Ok(Request::Watch(spec)) => {
                    watched = spec;
                    if let Some(spec) = &watched {
                        self.send(Update::Detail(self.detail(spec)));
                    }
                    continue;
                }
                Ok(Request::Act(action, spec)) => {
                    let outcome = self.act(action, &spec);
                    self.send(Update::Message(outcome));
                    continue;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            match self.fleet() {
                Ok((rows, stats)) => self.send(Update::Fleet { rows, stats }),
                Err(err) => self.send(Update::Message(format!("cannot refresh: {err}"))),
            }
            if let Some(spec) = &watched {
                self.send(Update::Detail(self.detail(spec)));
            }
            next = Instant::now() + REFRESH;
        }
    }

    fn send(&self, update: Update) {
        // The view is gone when this fails; the next receive sees that and ends the loop.
        let _ = self.updates.send(update);
    }

    /// Every process, with vigil's figures where the server has them.
    fn fleet(&self) -> Result<(Vec<Row>, bool), ClientError> {
        let infos = array(self.client.call("supervisor.getAllProcessInfo", &[])?);
        // Python supervisord has no vigil.* methods: its rows come without figures.
        let stats: Option<HashMap<String, Value>> =
            match self.client.call("vigil.getAllProcessStats", &[]) {
                Ok(all) => Some(
                    array(all)
                        .into_iter()
                        .map(|stats| (spec_of(&stats), stats))
                        .collect(),
                ),
                Err(ClientError::NotVigild { .. }) => None,
                Err(err) => return Err(err),
            };
        let rows = infos
            .iter()
            .map(|info| {
                let spec = spec_of(info);
                let mut row = Row {
                    state: text(info.member("statename")),
                    description: text(info.member("description")),
                    ..Row::default()
                };
                if let Some(stats) = stats.as_ref().and_then(|all| all.get(&spec)) {
                    fill(&mut row, stats);
                }
                row.spec = spec;
                row
            })
            .collect();
        Ok((rows, stats.is_some()))
    }

    /// The last stderr lines and the crash records of `spec`.
    fn detail(&self, spec: &str) -> Detail {
        let tail = self.client.call(
            "supervisor.tailProcessStderrLog",
            &[Value::from(spec), Value::Int(0), Value::Int(TAIL_BYTES)],
        );
        let stderr = match tail {
            Ok(Value::Array(parts)) => last_lines(&text(parts.first()), TAIL_LINES),
            Ok(_) => Vec::new(),
            Err(err) => vec![format!("(cannot read stderr: {err})")],
        };
        let crashes = match self.client.call(
            "vigil.getCrashes",
            &[Value::from(spec), Value::Int(CRASHES)],
        ) {
            Ok(records) => array(records).iter().map(crash_line).collect(),
            Err(_) => vec!["(this server keeps no crash records)".to_string()],
        };
        Detail {
            spec: spec.to_string(),
            stderr,
            crashes,
        }
    }

    /// Runs `action` on `spec` without waiting for the new state (the next refresh shows
    /// it); a restart waits for the stop, as supervisorctl's does.
    fn act(&self, action: Action, spec: &str) -> String {
        let call = |method: &str, wait: bool| {
            self.client
                .call(method, &[Value::from(spec), Value::Bool(wait)])
        };
        let outcome = match action {
            Action::Start => call("supervisor.startProcess", false),
            Action::Stop => call("supervisor.stopProcess", false),
            Action::Restart => match call("supervisor.stopProcess", true) {
                Ok(_) | Err(ClientError::Fault(NOT_RUNNING, _)) => {
                    call("supervisor.startProcess", false)
                }
                Err(err) => Err(err),
            },
        };
        match outcome {
            Ok(_) => format!("{} {spec}: asked", action.verb()),
            Err(err) => format!("{} {spec}: ERROR ({err})", action.verb()),
        }
    }
}

fn spec_of(value: &Value) -> String {
    namespec::of(&text(value.member("group")), &text(value.member("name")))
}

/// vigil's figures into `row`; those the sampler has not measured yet stay `None`.
fn fill(row: &mut Row, stats: &Value) {
    let member = |key: &str| stats.member(key);
    row.health = text(member("health"));
    row.crash_loop = matches!(member("crash_loop"), Some(Value::Bool(true)));
    row.restarts = Some(int(member("restarts")).max(0) as u64);
    if matches!(member("sampled"), Some(Value::Bool(true))) {
        row.cpu = Some(double(member("tree_cpu_percent")));
        row.rss = Some(int(member("tree_rss")).max(0) as u64);
        row.uptime = Some(double(member("uptime")).max(0.0));
    }
}

/// One crash record as a line: when, how it ended, how long it ran, its last output line.
fn crash_line(record: &Value) -> String {
    let last = last_lines(&text(record.member("tail")), 1);
    format!(
        "{}  {}  (ran {:.1}s){}",
        text(record.member("time")),
        text(record.member("description")),
        double(record.member("ran_seconds")),
        last.first()
            .map(|line| format!("  {line}"))
            .unwrap_or_default()
    )
}

/// The last `count` non-empty lines of `text`.
fn last_lines(text: &str, count: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(count)..]
        .iter()
        .map(|line| (*line).to_string())
        .collect()
}
