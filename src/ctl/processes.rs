//! vigilctl's commands on processes, one name or group at a time: `status` (with `-l` and
//! `--json`), `start`, `stop`, `restart`, `signal` and `pid`, with supervisorctl's output
//! and exit codes.

use super::client::ClientError;
use super::{array, double, exit, int, text, to_json, Ctl, FaultCode, Value, STOPPED_STATES};
use crate::namespec::{self, Namespec};

impl Ctl {
    pub(super) fn status(&mut self, args: &[&str]) {
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
            let (specs, width) = name_column(matching.iter().copied());
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

    pub(super) fn start(&mut self, args: &[&str]) {
        if args.is_empty() {
            println!("Error: start requires a process name");
            println!("{}", super::help::of("start").unwrap_or_default());
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
    pub(super) fn stop_like(&mut self, args: &[&str], verb: &str) {
        if args.is_empty() {
            // As supervisorctl: the command's help follows.
            println!("Error: {verb} requires a process name");
            println!("{}", super::help::of(verb).unwrap_or_default());
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

    pub(super) fn signal(&mut self, args: &[&str]) {
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

    /// vigil `reload-program NAME… [--no-wait]`: `vigil.reloadProcess` for each name
    /// (`group:*`, `all`), waiting for a `ready=notify` program's reload unless told not to.
    pub(super) fn reload_program(&mut self, args: &[&str]) {
        let wait = !args.contains(&"--no-wait");
        let names: Vec<&str> = args.iter().copied().filter(|a| *a != "--no-wait").collect();
        if names.is_empty() {
            println!("Error: reload-program requires a process name");
            self.exit = exit::GENERIC;
            return;
        }
        let render = |spec: &str, code: i64, description: &str| {
            signal_result(spec, code, description, "reloaded")
        };
        for name in names {
            match self.client.call(
                "vigil.reloadProcess",
                &[Value::from(name), Value::Bool(wait)],
            ) {
                Ok(Value::Array(results)) if results.is_empty() => {
                    println!("{name}: no running process with a reloadsignal");
                }
                Ok(Value::Array(results)) => self.results(results, render, FaultCode::Success),
                Ok(_) => println!("{name}: reloaded"),
                Err(ClientError::Fault(code, description)) => {
                    let spec = Namespec::parse(name);
                    println!("{}", render(&spec.label(), code, &description));
                    self.exit_from_fault(code, FaultCode::Success);
                }
                Err(err) => self.fail(&err),
            }
        }
    }

    pub(super) fn results(
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

    pub(super) fn pid(&mut self, args: &[&str]) {
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
pub(super) fn start_result(spec: &str, code: i64, description: &str) -> String {
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
pub(super) fn signal_result(spec: &str, code: i64, description: &str, success: &str) -> String {
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

/// The name column of a status listing: each process's `group:name` and the column's
/// width, supervisorctl's (the longest name, at least 30, and three spaces).
pub(super) fn name_column<'a>(infos: impl Iterator<Item = &'a Value>) -> (Vec<String>, usize) {
    let specs: Vec<String> = infos
        .map(|i| namespec::of(&text(i.member("group")), &text(i.member("name"))))
        .collect();
    let width = specs.iter().map(String::len).max().unwrap_or(0).max(30) + 3;
    (specs, width)
}

/// `status -l`: supervisorctl's columns plus CPU % and resident memory of the process tree,
/// uptime and restarts, with a header.
fn print_long_status(infos: &[&Value], stats: &std::collections::HashMap<String, Value>) {
    let (specs, width) = name_column(infos.iter().copied());
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
        // vigil's resource controls and cgroup, on a line of their own when it has any.
        let limits = text(member("limits"));
        let cgroup = text(member("cgroup"));
        if !limits.is_empty() || !cgroup.is_empty() {
            let cgroup = if cgroup.is_empty() {
                String::new()
            } else {
                format!(" cgroup={cgroup}")
            };
            println!("{:width$}limits: {limits}{cgroup}", "");
        }
    }
}
