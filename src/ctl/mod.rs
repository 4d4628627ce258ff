//! `vigilctl`: supervisorctl's commands, output and exit codes, over the same XML-RPC API
//! (so it works against vigild and Python supervisord alike), plus `status --json`, `status
//! -l` and `crashes` from vigil's own methods.
//!
//! It shares nothing with the daemon but the wire format: every fact comes from an API call.

pub mod client;
mod crashes;
mod fleet;
mod shell;

use std::path::PathBuf;

use client::{Client, ClientError};

use crate::namespec::{self, Namespec};
use crate::rpc::codec::Value;
use crate::rpc::faults::FaultCode;

/// supervisorctl's LSB exit codes.
mod exit {
    /// Generic failure.
    pub const GENERIC: i32 = 1;
    /// Invalid arguments.
    pub const INVALID_ARGS: i32 = 2;
    /// status: a process is not running.
    pub const NOT_RUNNING_STATUS: i32 = 3;
    /// status: unknown name or the server is unreachable; else connection refused.
    pub const UNKNOWN: i32 = 4;
    /// A program is dead (spawn error, abnormal termination, not running).
    pub const NOT_RUNNING: i32 = 7;
}

/// Where to connect and what to run.
#[derive(Debug, Clone, Default)]
pub struct CtlOptions {
    /// `-c FILE`: read `[supervisorctl]` from here (else the supervisord search path).
    pub configuration: Option<PathBuf>,
    /// `-s URL`.
    pub serverurl: Option<String>,
    /// `-u USER`.
    pub username: Option<String>,
    /// `-p PASSWORD`.
    pub password: Option<String>,
    /// `-i`: the interactive shell after the command.
    pub interactive: bool,
    /// `-r FILE`: the shell's history file.
    pub history_file: Option<PathBuf>,
    /// `-t SECONDS` (vigil): how long connecting and each answer may take; `None` waits
    /// forever, as supervisorctl does.
    pub timeout: Option<std::time::Duration>,
    /// The command and its arguments; none starts the interactive shell.
    pub command: Vec<String>,
}

/// Runs one command; returns the exit code.
pub fn run(options: &CtlOptions) -> i32 {
    let (client, section) = match client_for(options) {
        Ok(found) => found,
        Err(message) => {
            eprintln!("Error: {message}");
            return exit::INVALID_ARGS;
        }
    };
    let mut ctl = Ctl { client, exit: 0 };
    if let Some((command, args)) = options.command.split_first() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ctl.dispatch(command, &args);
        if !options.interactive {
            return ctl.exit;
        }
    }
    let prompt = section
        .as_ref()
        .map_or("supervisor", |s| s.prompt.as_str())
        .to_string();
    let history = options
        .history_file
        .clone()
        .or_else(|| section.and_then(|s| s.history_file));
    shell::run(&mut ctl, &prompt, history)
}

/// Why vigilctl could not work out which server to talk to (shown as `Error: …`, exit 2).
#[derive(Debug, thiserror::Error)]
enum SetupError {
    /// The current directory, which relative config paths need, is unreadable.
    #[error("{0}")]
    CurrentDir(#[source] std::io::Error),
    /// The config file has errors.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigErrors),
}

/// The client for the server `options` and the config file name, with the config's
/// `[supervisorctl]` section if there is one.
fn client_for(
    options: &CtlOptions,
) -> Result<(Client, Option<crate::config::CtlConfig>), SetupError> {
    let cwd = std::env::current_dir().map_err(SetupError::CurrentDir)?;
    let env: Vec<(String, String)> = std::env::vars().collect();
    let file = if let Some(file) = &options.configuration {
        Some(file.clone())
    } else {
        let exe = std::env::current_exe().unwrap_or_default();
        crate::config::search_path(&exe, &cwd)
            .into_iter()
            .find(|p| p.is_file())
    };
    let section = match file {
        Some(file) => crate::config::load_ctl(&file, &cwd, &env)?,
        None => None,
    };
    let serverurl = options
        .serverurl
        .clone()
        .or_else(|| section.as_ref().map(|s| s.serverurl.clone()))
        .unwrap_or_else(|| "http://localhost:9001".into());
    let username = options
        .username
        .clone()
        .or_else(|| section.as_ref().and_then(|s| s.username.clone()));
    let password = options
        .password
        .clone()
        .or_else(|| section.as_ref().and_then(|s| s.password.clone()));
    let client = Client {
        serverurl,
        credentials: username.map(|user| (user, password.unwrap_or_default())),
        timeout: options.timeout,
    };
    Ok((client, section))
}

struct Ctl {
    client: Client,
    exit: i32,
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Int(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn int(value: Option<&Value>) -> i64 {
    match value {
        Some(Value::Int(n)) => *n,
        _ => 0,
    }
}

/// An XML-RPC value as JSON (`--json` output); struct members come out sorted by name.
fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        Value::Int(n) => Json::from(*n),
        Value::Bool(b) => Json::from(*b),
        Value::Double(n) => Json::from(*n),
        Value::String(s) | Value::Base64(s) | Value::DateTime(s) => Json::from(s.as_str()),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Struct(members) => Json::Object(
            members
                .iter()
                .map(|(key, value)| (key.clone(), to_json(value)))
                .collect(),
        ),
        // Only vigild's own answers are pre-encoded; nothing parsed is.
        Value::Nil | Value::Encoded(_) => Json::Null,
    }
}

fn array(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        _ => Vec::new(),
    }
}

const STOPPED_STATES: [&str; 4] = ["STOPPED", "EXITED", "FATAL", "UNKNOWN"];

impl Ctl {
    fn dispatch(&mut self, command: &str, args: &[&str]) {
        if command != "help" && !self.upcheck(command == "status") {
            return;
        }
        match command {
            "status" => self.status(args),
            "start" => self.start(args),
            "stop" => self.stop_like(args, "stop"),
            "restart" if args.contains(&"--rolling") => self.rolling_restart(args),
            "restart" => {
                if args.is_empty() {
                    println!("Error: restart requires a process name");
                    self.exit = exit::GENERIC;
                    return;
                }
                self.stop_like(args, "stop");
                self.start(args);
            }
            "signal" => self.signal(args),
            "clear" => self.stop_like(args, "clear"),
            "pid" => self.pid(args),
            "version" => self.simple("supervisor.getSupervisorVersion"),
            "shutdown" => match self.client.call("supervisor.shutdown", &[]) {
                Ok(_) => println!("Shut down"),
                Err(err) => self.fail(&err),
            },
            "reload" => match self.client.call("supervisor.restart", &[]) {
                Ok(_) => println!("Restarted supervisord"),
                Err(err) => self.fail(&err),
            },
            "avail" => self.avail(),
            "reread" => {
                if let Some((added, changed, removed)) = self.reread() {
                    let mut lines: Vec<(String, &str)> = added
                        .into_iter()
                        .map(|n| (n, "available"))
                        .chain(changed.into_iter().map(|n| (n, "changed")))
                        .chain(removed.into_iter().map(|n| (n, "disappeared")))
                        .collect();
                    lines.sort();
                    if lines.is_empty() {
                        println!("No config updates to processes");
                    }
                    for (name, what) in lines {
                        println!("{name}: {what}");
                    }
                }
            }
            "update" => self.update(args),
            "add" | "remove" => self.add_remove(command, args),
            "tail" => self.tail(args),
            "fg" => self.fg(args),
            "maintail" => self.maintail(args),
            "crashes" => self.crashes(args),
            "help" => println!(
                "default commands (type help <topic>):\n=====================================\n\
                 add  avail  clear  crashes  maintail  pid  reload  remove  reread  restart  shutdown  signal  start  status  stop  tail  update  version"
            ),
            other => {
                println!("*** Unknown syntax: {other}");
                self.exit = exit::GENERIC;
            }
        }
    }

    /// supervisorctl's upcheck: the server answers with API version 3.0.
    fn upcheck(&mut self, for_status: bool) -> bool {
        let outcome = self.client.call("supervisor.getVersion", &[]);
        let fail_code = |code: i32| if for_status { exit::UNKNOWN } else { code };
        match outcome {
            Ok(Value::String(version)) if version == crate::rpc::API_VERSION => true,
            Ok(_) => {
                println!("Sorry, this version of vigilctl expects to talk to a server with API version 3.0");
                self.exit = fail_code(5);
                false
            }
            Err(ClientError::Connect(err)) => {
                let url = &self.client.serverurl;
                if err.kind() == std::io::ErrorKind::NotFound {
                    println!("{url} no such file");
                    self.exit = fail_code(exit::NOT_RUNNING);
                } else {
                    println!("{url} refused connection");
                    self.exit = fail_code(exit::UNKNOWN);
                }
                false
            }
            Err(ClientError::Unauthorized) => {
                println!("Server requires authentication");
                self.exit = fail_code(exit::GENERIC);
                false
            }
            Err(err) => {
                println!("ERROR: {err}");
                self.exit = fail_code(exit::GENERIC);
                false
            }
        }
    }

    fn fail(&mut self, err: &ClientError) {
        println!("ERROR: {err}");
        self.exit = exit::GENERIC;
    }

    fn simple(&mut self, method: &str) {
        match self.client.call(method, &[]) {
            Ok(value) => println!("{}", text(Some(&value))),
            Err(err) => self.fail(&err),
        }
    }

    /// supervisorctl's `set_exitstatus_from_xmlrpc_fault`.
    fn exit_from_fault(&mut self, code: i64, ignored: FaultCode) {
        let dead = [
            FaultCode::SpawnError,
            FaultCode::AbnormalTermination,
            FaultCode::NotRunning,
        ];
        if code == ignored.code() || code == FaultCode::Success.code() {
        } else if dead.iter().any(|f| f.code() == code) {
            self.exit = exit::NOT_RUNNING;
        } else {
            self.exit = exit::GENERIC;
        }
    }

    fn process_infos(&mut self) -> Option<Vec<Value>> {
        match self.client.call("supervisor.getAllProcessInfo", &[]) {
            Ok(value) => Some(array(value)),
            Err(err) => {
                self.fail(&err);
                None
            }
        }
    }

    /// `vigil.getAllProcessStats` by namespec, or None (with a note) from a daemon that does
    /// not offer it, such as Python supervisord.
    fn process_stats(&mut self) -> Option<std::collections::HashMap<String, Value>> {
        if let Ok(value) = self.client.call("vigil.getAllProcessStats", &[]) {
            Some(
                array(value)
                    .into_iter()
                    .map(|stats| {
                        let spec =
                            namespec::of(&text(stats.member("group")), &text(stats.member("name")));
                        (spec, stats)
                    })
                    .collect(),
            )
        } else {
            eprintln!("(this server offers no process stats: showing the plain status)");
            None
        }
    }

    fn status(&mut self, args: &[&str]) {
        let json = args.contains(&"--json");
        let long = args.contains(&"-l") || args.contains(&"--long");
        let names: Vec<&str> = args
            .iter()
            .copied()
            .filter(|a| !matches!(*a, "--json" | "-l" | "--long"))
            .collect();
        let Some(infos) = self.process_infos() else {
            return;
        };
        let matching: Vec<&Value> = if names.is_empty() || names.contains(&"all") {
            infos.iter().collect()
        } else {
            let mut matching = Vec::new();
            for name in &names {
                let spec = Namespec::parse(name);
                let found: Vec<&Value> = infos
                    .iter()
                    .filter(|info| {
                        spec.matches(&text(info.member("group")), &text(info.member("name")))
                    })
                    .collect();
                if found.is_empty() {
                    match spec {
                        Namespec::Group(group) => println!("{group}: ERROR (no such group)"),
                        Namespec::Process { .. } => println!("{name}: ERROR (no such process)"),
                    }
                    self.exit = exit::UNKNOWN;
                }
                matching.extend(found);
            }
            matching
        };
        let stats = if long { self.process_stats() } else { None };
        if json {
            let rows = matching.iter().map(|info| to_json(info)).collect();
            println!("{}", serde_json::Value::Array(rows));
        } else if let Some(stats) = stats {
            print_long_status(&matching, &stats);
        } else {
            let specs: Vec<String> = matching
                .iter()
                .map(|i| namespec::of(&text(i.member("group")), &text(i.member("name"))))
                .collect();
            let width = specs.iter().map(String::len).max().unwrap_or(0).max(30) + 3;
            let colour = std::io::IsTerminal::is_terminal(&std::io::stdout());
            for (spec, info) in specs.iter().zip(&matching) {
                let state = text(info.member("statename"));
                let padded = format!("{state:<10}");
                let shown = if colour {
                    colourize(&state, &padded)
                } else {
                    padded
                };
                println!("{spec:<width$}{shown}{}", text(info.member("description")));
            }
        }
        if matching
            .iter()
            .any(|i| STOPPED_STATES.contains(&text(i.member("statename")).as_str()))
        {
            self.exit = exit::NOT_RUNNING_STATUS;
        }
    }

    fn start(&mut self, args: &[&str]) {
        if args.is_empty() {
            println!("Error: start requires a process name");
            self.exit = exit::INVALID_ARGS;
            return;
        }
        if args.contains(&"all") {
            match self.client.call("supervisor.startAllProcesses", &[]) {
                Ok(results) => {
                    self.results(array(results), start_result, FaultCode::AlreadyStarted);
                }
                Err(err) => self.fail(&err),
            }
            return;
        }
        if args.len() > 1 && self.together(args, true) {
            return;
        }
        for name in args {
            match Namespec::parse(name) {
                Namespec::Group(group) => match self.client.call(
                    "supervisor.startProcessGroup",
                    &[Value::from(group.as_str())],
                ) {
                    Ok(results) => {
                        self.results(array(results), start_result, FaultCode::AlreadyStarted);
                    }
                    Err(ClientError::Fault(code, _)) if code == FaultCode::BadName.code() => {
                        println!("{group}: ERROR (no such group)");
                        self.exit = exit::INVALID_ARGS;
                    }
                    Err(err) => self.fail(&err),
                },
                spec @ Namespec::Process { .. } => match self
                    .client
                    .call("supervisor.startProcess", &[Value::from(*name)])
                {
                    Ok(_) => println!("{name}: started"),
                    Err(ClientError::Fault(code, description)) => {
                        println!("{}", start_result(&spec.label(), code, &description));
                        self.exit_from_fault(code, FaultCode::AlreadyStarted);
                    }
                    Err(err) => self.fail(&err),
                },
            }
        }
    }

    /// stop and clear (their results print alike).
    fn stop_like(&mut self, args: &[&str], verb: &str) {
        if args.is_empty() {
            println!("Error: {verb} requires a process name");
            self.exit = exit::GENERIC;
            return;
        }
        let (one, group_method, all, success, ignored) = match verb {
            "stop" => (
                "supervisor.stopProcess",
                "supervisor.stopProcessGroup",
                "supervisor.stopAllProcesses",
                "stopped",
                FaultCode::NotRunning,
            ),
            _ => (
                "supervisor.clearProcessLogs",
                "",
                "supervisor.clearAllProcessLogs",
                "cleared",
                FaultCode::Success,
            ),
        };
        let render = |spec: &str, code: i64, description: &str| {
            signal_result(spec, code, description, success)
        };
        if args.contains(&"all") {
            match self.client.call(all, &[]) {
                Ok(results) => self.results(array(results), render, ignored),
                Err(err) => self.fail(&err),
            }
            return;
        }
        if verb == "stop" && args.len() > 1 && self.together(args, false) {
            return;
        }
        for name in args {
            match Namespec::parse(name) {
                Namespec::Group(group) if !group_method.is_empty() => {
                    match self
                        .client
                        .call(group_method, &[Value::from(group.as_str())])
                    {
                        Ok(results) => self.results(array(results), render, ignored),
                        Err(ClientError::Fault(code, _)) if code == FaultCode::BadName.code() => {
                            println!("{group}: ERROR (no such group)");
                            self.exit = exit::GENERIC;
                        }
                        Err(err) => self.fail(&err),
                    }
                }
                spec => match self.client.call(one, &[Value::from(*name)]) {
                    Ok(_) => println!("{name}: {success}"),
                    Err(ClientError::Fault(code, description)) => {
                        println!("{}", render(&spec.label(), code, &description));
                        self.exit_from_fault(code, ignored);
                    }
                    Err(err) => self.fail(&err),
                },
            }
        }
    }

    fn signal(&mut self, args: &[&str]) {
        let Some((signal, names)) = args.split_first() else {
            println!("Error: signal requires a signal name");
            self.exit = exit::GENERIC;
            return;
        };
        if names.is_empty() {
            println!("Error: signal requires a process name");
            self.exit = exit::GENERIC;
            return;
        }
        let render = |spec: &str, code: i64, description: &str| {
            signal_result(spec, code, description, "signalled")
        };
        for name in names {
            let call = if *name == "all" {
                self.client
                    .call("supervisor.signalAllProcesses", &[Value::from(*signal)])
            } else if let Namespec::Group(group) = Namespec::parse(name) {
                self.client.call(
                    "supervisor.signalProcessGroup",
                    &[Value::from(group.as_str()), Value::from(*signal)],
                )
            } else {
                self.client.call(
                    "supervisor.signalProcess",
                    &[Value::from(*name), Value::from(*signal)],
                )
            };
            match call {
                Ok(Value::Array(results)) => self.results(results, render, FaultCode::Success),
                Ok(_) => println!("{name}: signalled"),
                Err(ClientError::Fault(code, description)) => {
                    let spec = Namespec::parse(name);
                    println!("{}", render(&spec.label(), code, &description));
                    self.exit_from_fault(code, FaultCode::Success);
                }
                Err(err) => self.fail(&err),
            }
        }
    }

    fn results(
        &mut self,
        results: Vec<Value>,
        render: impl Fn(&str, i64, &str) -> String,
        ignored: FaultCode,
    ) {
        for result in results {
            let spec = namespec::of(&text(result.member("group")), &text(result.member("name")));
            let code = int(result.member("status"));
            println!(
                "{}",
                render(&spec, code, &text(result.member("description")))
            );
            self.exit_from_fault(code, ignored);
        }
    }

    fn pid(&mut self, args: &[&str]) {
        let Some(infos) = (if args.is_empty() {
            None
        } else {
            self.process_infos()
        }) else {
            match self.client.call("supervisor.getPID", &[]) {
                Ok(pid) => println!("{}", text(Some(&pid))),
                Err(err) => self.fail(&err),
            }
            return;
        };
        for name in args {
            let spec = Namespec::parse(name);
            let found: Vec<&Value> = infos
                .iter()
                .filter(|i| {
                    *name == "all"
                        || spec.matches(&text(i.member("group")), &text(i.member("name")))
                })
                .collect();
            if found.is_empty() {
                println!("No such process {name}");
                self.exit = exit::GENERIC;
            }
            for info in found {
                let pid = int(info.member("pid"));
                println!("{pid}");
                if pid == 0 {
                    self.exit = exit::NOT_RUNNING;
                }
            }
        }
    }

    fn avail(&mut self) {
        let infos = match self.client.call("supervisor.getAllConfigInfo", &[]) {
            Ok(value) => array(value),
            Err(err) => return self.fail(&err),
        };
        for info in infos {
            let spec = namespec::of(&text(info.member("group")), &text(info.member("name")));
            let in_use = if matches!(info.member("inuse"), Some(Value::Bool(true))) {
                "in use"
            } else {
                "avail"
            };
            let auto = if matches!(info.member("autostart"), Some(Value::Bool(true))) {
                "auto"
            } else {
                "manual"
            };
            let priority = format!(
                "{}:{}",
                int(info.member("group_prio")),
                int(info.member("process_prio"))
            );
            println!("{spec:<32} {in_use:<9} {auto:<9} {priority}");
        }
    }

    fn reread(&mut self) -> Option<(Vec<String>, Vec<String>, Vec<String>)> {
        match self.client.call("supervisor.reloadConfig", &[]) {
            Ok(value) => {
                let lists = array(array(value).into_iter().next().unwrap_or(Value::Nil));
                let names = |v: Option<&Value>| -> Vec<String> {
                    match v {
                        Some(Value::Array(items)) => items.iter().map(|i| text(Some(i))).collect(),
                        _ => Vec::new(),
                    }
                };
                Some((
                    names(lists.first()),
                    names(lists.get(1)),
                    names(lists.get(2)),
                ))
            }
            Err(ClientError::Fault(code, description)) if code == FaultCode::CantReread.code() => {
                println!("ERROR: {description}");
                self.exit = exit::GENERIC;
                None
            }
            Err(err) => {
                self.fail(&err);
                None
            }
        }
    }

    /// supervisorctl's `do_update`; a changed group is updated member by member where the
    /// server offers `vigil.updateProcessGroup` (vigild), else stopped, removed and added.
    fn update(&mut self, args: &[&str]) {
        let Some((added, changed, removed)) = self.reread() else {
            return;
        };
        let named: Vec<&str> = if args.contains(&"all") {
            Vec::new()
        } else {
            args.to_vec()
        };
        if !named.is_empty() {
            let mut known: Vec<String> = self
                .process_infos()
                .unwrap_or_default()
                .iter()
                .map(|info| text(info.member("group")))
                .collect();
            known.extend(added.iter().cloned());
            for group in &named {
                if !known.iter().any(|k| k == group) {
                    println!("ERROR: no such group: {group}");
                    self.exit = exit::GENERIC;
                }
            }
        }
        let wanted = |name: &str| named.is_empty() || named.contains(&name);
        for group in removed.iter().filter(|g| wanted(g)) {
            let value = Value::from(group.as_str());
            let results = self
                .client
                .call("supervisor.stopProcessGroup", std::slice::from_ref(&value))
                .map(array);
            println!("{group}: stopped");
            let failed = results.map_or(true, |results| {
                results
                    .iter()
                    .any(|r| int(r.member("status")) == FaultCode::Failed.code())
            });
            if failed {
                println!("{group}: has problems; not removing");
                self.exit = exit::GENERIC;
                continue;
            }
            if self
                .client
                .call("supervisor.removeProcessGroup", &[value])
                .is_ok()
            {
                println!("{group}: removed process group");
            }
        }
        for group in changed.iter().filter(|g| wanted(g)) {
            let value = Value::from(group.as_str());
            match self
                .client
                .call("vigil.updateProcessGroup", std::slice::from_ref(&value))
            {
                Ok(_) => println!("{group}: updated process group"),
                Err(ClientError::Fault(code, _)) if code == FaultCode::UnknownMethod.code() => {
                    let _ = self
                        .client
                        .call("supervisor.stopProcessGroup", std::slice::from_ref(&value));
                    println!("{group}: stopped");
                    let _ = self.client.call(
                        "supervisor.removeProcessGroup",
                        std::slice::from_ref(&value),
                    );
                    let _ = self.client.call("supervisor.addProcessGroup", &[value]);
                    println!("{group}: updated process group");
                }
                Err(err) => self.fail(&err),
            }
        }
        for group in added.iter().filter(|g| wanted(g)) {
            let _ = self
                .client
                .call("supervisor.addProcessGroup", &[Value::from(group.as_str())]);
            println!("{group}: added process group");
        }
    }

    fn add_remove(&mut self, command: &str, args: &[&str]) {
        let method = if command == "add" {
            "supervisor.addProcessGroup"
        } else {
            "supervisor.removeProcessGroup"
        };
        for group in args {
            match self.client.call(method, &[Value::from(*group)]) {
                Ok(_) if command == "add" => println!("{group}: added process group"),
                Ok(_) => println!("{group}: removed process group"),
                Err(ClientError::Fault(code, _)) => {
                    let message = match code {
                        c if c == FaultCode::BadName.code() => {
                            format!("no such process/group: {group}")
                        }
                        c if c == FaultCode::AlreadyAdded.code() => {
                            "process group already active".to_string()
                        }
                        c if c == FaultCode::StillRunning.code() => {
                            format!("process/group still running: {group}")
                        }
                        _ => format!("could not {command} {group}"),
                    };
                    println!("ERROR: {message}");
                    self.exit = exit::GENERIC;
                }
                Err(err) => self.fail(&err),
            }
        }
    }

    /// `tail [-f|-N] name [stdout|stderr]`.
    fn tail(&mut self, args: &[&str]) {
        let (follow, bytes, rest) = tail_flags(args);
        let Some(name) = rest.first() else {
            println!("Error: too few arguments");
            self.exit = exit::GENERIC;
            return;
        };
        let channel = rest.get(1).copied().unwrap_or("stdout");
        if follow {
            println!("==> Press Ctrl-C to exit <==");
            let path = format!("/logtail/{name}/{channel}");
            self.stream(&path);
            return;
        }
        let method = if channel == "stderr" {
            "supervisor.readProcessStderrLog"
        } else {
            "supervisor.readProcessStdoutLog"
        };
        match self.client.call(
            method,
            &[Value::from(*name), Value::Int(-bytes), Value::Int(0)],
        ) {
            Ok(value) => println!("{}", text(Some(&value))),
            Err(ClientError::Fault(code, _)) => {
                let why = match code {
                    c if c == FaultCode::NoFile.code() => "no log file",
                    c if c == FaultCode::BadName.code() => "no such process name",
                    _ => "unknown error reading log",
                };
                println!("{name}: ERROR ({why})");
                self.exit = exit::GENERIC;
            }
            Err(err) => self.fail(&err),
        }
    }

    /// `fg name`: the process's stdout and stderr are followed while typed lines go to its
    /// stdin, until end of input.
    fn fg(&mut self, args: &[&str]) {
        let name = match args {
            [] => {
                println!("ERROR: no process name supplied");
                self.exit = exit::GENERIC;
                return;
            }
            [name] => *name,
            _ => {
                println!("ERROR: too many process names supplied");
                self.exit = exit::GENERIC;
                return;
            }
        };
        match self
            .client
            .call("supervisor.getProcessInfo", &[Value::from(name)])
        {
            Ok(info) if text(info.member("statename")) == "RUNNING" => {}
            Ok(_) => {
                println!("ERROR: process not running");
                self.exit = exit::GENERIC;
                return;
            }
            Err(ClientError::Fault(code, _)) if code == FaultCode::BadName.code() => {
                println!("ERROR: bad process name supplied");
                self.exit = exit::GENERIC;
                return;
            }
            Err(err) => return self.fail(&err),
        }
        println!("==> Press Ctrl-C to exit <==");
        for channel in ["stdout", "stderr"] {
            let client = self.client.clone();
            let path = format!("/logtail/{name}/{channel}");
            // The followers end with the process (vigilctl exits when input ends).
            std::thread::spawn(move || {
                use std::io::Write;
                let mut out = std::io::stdout();
                let _ = client.follow(&path, |data| {
                    out.write_all(data).and_then(|()| out.flush()).is_ok()
                });
            });
        }
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
            if let Err(err) = self.client.call(
                "supervisor.sendProcessStdin",
                &[Value::from(name), Value::from(line.as_str())],
            ) {
                println!("ERROR: {err}");
                self.exit = exit::GENERIC;
                break;
            }
            line.clear();
        }
        println!("Exiting foreground");
    }

    fn maintail(&mut self, args: &[&str]) {
        let (follow, bytes, _) = tail_flags(args);
        if follow {
            println!("==> Press Ctrl-C to exit <==");
            self.stream("/mainlogtail");
            return;
        }
        match self
            .client
            .call("supervisor.readLog", &[Value::Int(-bytes), Value::Int(0)])
        {
            Ok(value) => println!("{}", text(Some(&value))),
            Err(err) => self.fail(&err),
        }
    }

    fn stream(&mut self, path: &str) {
        use std::io::Write;
        let mut stdout = std::io::stdout();
        let outcome = self.client.follow(path, |data| {
            stdout.write_all(data).and_then(|()| stdout.flush()).is_ok()
        });
        if let Err(err) = outcome {
            self.fail(&err);
        }
    }
}

/// `-f` and `-N` of tail/maintail; the default is the last 1600 bytes.
fn tail_flags<'a>(args: &[&'a str]) -> (bool, i64, Vec<&'a str>) {
    let mut follow = false;
    let mut bytes = 1600;
    let mut rest = Vec::new();
    for arg in args {
        if *arg == "-f" {
            follow = true;
        } else if let Some(n) = arg.strip_prefix('-').and_then(|n| n.parse().ok()) {
            bytes = n;
        } else {
            rest.push(*arg);
        }
    }
    (follow, bytes, rest)
}

/// A state padded for the status table, coloured for a terminal: green when running, yellow
/// while changing, red when failed.
fn colourize(state: &str, padded: &str) -> String {
    let code = match state {
        "RUNNING" => "32",
        "STARTING" | "STOPPING" | "BACKOFF" => "33",
        "FATAL" | "EXITED" | "UNKNOWN" => "31",
        _ => return padded.to_string(),
    };
    let trailing = padded.len() - state.len();
    format!("\x1b[{code}m{state}\x1b[0m{}", " ".repeat(trailing))
}

/// supervisorctl's `_startresult` (and vigil's refusal of the read-only account, shown as
/// its fault text).
fn start_result(spec: &str, code: i64, description: &str) -> String {
    let why = match code {
        c if c == FaultCode::Success.code() => return format!("{spec}: started"),
        c if c == FaultCode::BadName.code() => "no such process",
        c if c == FaultCode::NoFile.code() => "no such file",
        c if c == FaultCode::NotExecutable.code() => "file is not executable",
        c if c == FaultCode::AlreadyStarted.code() => "already started",
        c if c == FaultCode::SpawnError.code() => "spawn error",
        c if c == FaultCode::AbnormalTermination.code() => "abnormal termination",
        c if c == FaultCode::Unauthorized.code() => description,
        _ => "unknown error",
    };
    format!("{spec}: ERROR ({why})")
}

/// supervisorctl's `_signalresult` (also for stop and clear; vigil's refusal of the
/// read-only account is shown as its fault text).
fn signal_result(spec: &str, code: i64, description: &str, success: &str) -> String {
    let why = match code {
        c if c == FaultCode::Success.code() => return format!("{spec}: {success}"),
        c if c == FaultCode::BadName.code() => "no such process",
        c if c == FaultCode::BadSignal.code() => "bad signal name",
        c if c == FaultCode::NotRunning.code() => "not running",
        c if c == FaultCode::Failed.code() && success == "cleared" => "failed",
        c if c == FaultCode::Failed.code() => return description.to_string(),
        c if c == FaultCode::Unauthorized.code() => description,
        _ => "unknown error",
    };
    format!("{spec}: ERROR ({why})")
}

/// `status -l`: supervisorctl's columns plus CPU % and resident memory of the process tree,
/// uptime and restarts, with a header.
fn print_long_status(infos: &[&Value], stats: &std::collections::HashMap<String, Value>) {
    let specs: Vec<String> = infos
        .iter()
        .map(|i| namespec::of(&text(i.member("group")), &text(i.member("name"))))
        .collect();
    let width = specs.iter().map(String::len).max().unwrap_or(0).max(30) + 3;
    println!(
        "{:<width$}{:<10}{:>7} {:>9} {:>10} {:>8}  DESCRIPTION",
        "NAME", "STATE", "CPU%", "RSS", "UPTIME", "RESTARTS"
    );
    for (spec, info) in specs.iter().zip(infos) {
        let state = text(info.member("statename"));
        let figures = stats.get(spec);
        let member = |key: &str| figures.and_then(|s| s.member(key));
        let sampled = matches!(member("sampled"), Some(Value::Bool(true)));
        let (cpu, rss, uptime) = if sampled {
            (
                format!("{:.1}", double(member("tree_cpu_percent"))),
                crate::timefmt::bytes(int(member("tree_rss"))),
                crate::timefmt::uptime(double(member("uptime")).max(0.0) as u64),
            )
        } else {
            ("-".into(), "-".into(), "-".into())
        };
        println!(
            "{spec:<width$}{state:<10}{cpu:>7} {rss:>9} {uptime:>10} {:>8}  {}",
            int(member("restarts")),
            text(info.member("description"))
        );
    }
}

fn double(value: Option<&Value>) -> f64 {
    match value {
        Some(Value::Double(n)) => *n,
        Some(Value::Int(n)) => *n as f64,
        _ => 0.0,
    }
}
