//! vigilctl against several servers at once (`-s A -s B …`, or `[vigilctl] servers=`):
//! `status` with a host column, `start`/`stop`/`restart` of `host:name` (that host) or
//! `name` (every host that has it), and `crashes` merged newest first. The calls go to the
//! servers in parallel, a thread each, every one bounded by vigilctl's timeout (`-t`); a
//! server that does not answer is reported on a line of its own, the others are still
//! served, and the exit code says that something failed.
//!
//! It only fans calls out and prints what comes back; what a result means (its words, its
//! exit code) is the single-server commands' rule, reused from them.

use super::client::{Client, ClientError};
use super::processes::{name_column, signal_result, start_result};
use super::{
    array, connect_words, crashes, exit, exit_for_fault, help, text, to_json, Value, STOPPED_STATES,
};
use crate::namespec::{self, Namespec};
use crate::rpc::faults::FaultCode;

/// The servers, each with the name shown for it.
type Servers = [(String, Client)];

/// The commands that act on several servers.
const SEVERAL: &str = "status, start, stop, restart and crashes";

/// Runs `command` against every one of `servers`; returns the exit code.
pub(super) fn run(servers: &Servers, command: &[String], interactive: bool) -> i32 {
    let Some((command, args)) = command.split_first().filter(|_| !interactive) else {
        eprintln!(
            "Error: the shell talks to one server; name it with one -s (with several, vigilctl runs {SEVERAL})"
        );
        return exit::INVALID_ARGS;
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match command.as_str() {
        "status" => status(servers, &args),
        "start" => act(servers, &args, "start", &[Goal::Start]),
        "stop" => act(servers, &args, "stop", &[Goal::Stop]),
        "restart" => act(servers, &args, "restart", &[Goal::Stop, Goal::Start]),
        "crashes" => crashes(servers, &args),
        "help" => {
            let topic = args.first().and_then(|topic| help::of(topic));
            println!("{}", topic.map_or_else(help::list, str::to_string));
            0
        }
        other if help::of(other).is_none() => {
            println!("*** Unknown syntax: {other}");
            exit::GENERIC
        }
        other => {
            eprintln!(
                "Error: {other} talks to one server; name it with one -s (with several, vigilctl runs {SEVERAL})"
            );
            exit::INVALID_ARGS
        }
    }
}

/// `work` on each of `items` in a thread of its own; the answers in the items' order.
fn parallel<I: Sync, T: Send>(items: &[I], work: impl Fn(&I) -> T + Sync) -> Vec<T> {
    let work = &work;
    std::thread::scope(|scope| {
        let running: Vec<_> = items
            .iter()
            .map(|item| scope.spawn(move || work(item)))
            .collect();
        running
            .into_iter()
            .map(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// The host a name is aimed at (`host:name`, with a host of `servers`), if any, and the
/// name without it.
fn target<'a>(servers: &'a Servers, name: &'a str) -> (Option<&'a str>, &'a str) {
    for (host, _) in servers {
        if let Some(rest) = name
            .strip_prefix(host.as_str())
            .and_then(|rest| rest.strip_prefix(':'))
        {
            return (Some(host), rest);
        }
    }
    (None, name)
}

/// Whether `name` (as given, maybe with a host) means process `info` of `host`.
fn means(servers: &Servers, name: &str, host: &str, info: &Value) -> bool {
    let (aimed, spec) = target(servers, name);
    aimed.is_none_or(|aimed| aimed == host)
        && (spec == "all"
            || Namespec::parse(spec)
                .matches(&text(info.member("group")), &text(info.member("name"))))
}

/// The line for a server that did not answer, in supervisorctl's words for a failed
/// connect.
fn unreachable(host: &str, client: &Client, err: &ClientError) -> String {
    match err {
        ClientError::Connect(why) => {
            format!(
                "{host}: ERROR ({} {})",
                client.serverurl,
                connect_words(why)
            )
        }
        other => format!("{host}: ERROR ({other})"),
    }
}

/// The width of the host column: the longest name and two spaces.
fn host_width(servers: &Servers) -> usize {
    servers.iter().map(|(h, _)| h.len()).max().unwrap_or(0) + 2
}

/// An answer's row as JSON with its server's name as `host`.
fn with_host(value: &Value, host: &str) -> serde_json::Value {
    let mut row = to_json(value);
    if let Some(members) = row.as_object_mut() {
        members.insert("host".into(), serde_json::Value::from(host));
    }
    row
}

/// The server a `host:rest` name is aimed at when that host is also the name of a group
/// some server has: `web:app` could be either, and vigilctl will not guess.
fn ambiguous<'a>(
    servers: &'a Servers,
    listings: &[Result<Vec<Value>, ClientError>],
    name: &'a str,
) -> Option<&'a str> {
    let (Some(host), _) = target(servers, name) else {
        return None;
    };
    let is_group = listings
        .iter()
        .flatten()
        .flatten()
        .any(|info| text(info.member("group")) == host);
    is_group.then_some(host)
}

/// Says that `name` is ambiguous (see [`ambiguous`]).
fn ambiguity(name: &str, host: &str) -> String {
    format!(
        "{name}: ERROR ({host} is a server and a group: rename the server in [vigilctl] servers=)"
    )
}

/// Every host's processes, or why it did not answer.
fn listings(servers: &Servers) -> Vec<Result<Vec<Value>, ClientError>> {
    parallel(servers, |(_, client)| {
        client.call("supervisor.getAllProcessInfo", &[]).map(array)
    })
}

/// `status [--json] [name…]` with a host column.
fn status(servers: &Servers, args: &[&str]) -> i32 {
    let json = args.contains(&"--json");
    let names: Vec<&str> = args.iter().copied().filter(|a| *a != "--json").collect();
    let listings = listings(servers);
    let mut code = 0;
    for name in &names {
        if let Some(host) = ambiguous(servers, &listings, name) {
            println!("{}", ambiguity(name, host));
            return exit::INVALID_ARGS;
        }
    }
    let mut rows: Vec<(&str, Value)> = Vec::new();
    let mut failures = Vec::new();
    for ((host, client), listing) in servers.iter().zip(listings) {
        match listing {
            Ok(infos) => rows.extend(
                infos
                    .into_iter()
                    .filter(|info| {
                        names.is_empty() || names.iter().any(|n| means(servers, n, host, info))
                    })
                    .map(|info| (host.as_str(), info)),
            ),
            Err(err) => failures.push((host.as_str(), unreachable(host, client, &err))),
        }
    }
    for name in &names {
        let found = |(host, info): &(&str, Value)| means(servers, name, host, info);
        if *name != "all" && !rows.iter().any(found) && !unasked(servers, &failures, name) {
            println!("{name}: ERROR (no such process)");
            code = exit::UNKNOWN;
        }
    }
    if json {
        let rows = rows
            .iter()
            .map(|(host, info)| with_host(info, host))
            .collect();
        println!("{}", serde_json::Value::Array(rows));
    } else {
        let (specs, width) = name_column(rows.iter().map(|(_, info)| info));
        let host_width = host_width(servers);
        for (spec, (host, info)) in specs.iter().zip(&rows) {
            println!(
                "{host:<host_width$}{spec:<width$}{:<10}{}",
                text(info.member("statename")),
                text(info.member("description"))
            );
        }
    }
    for (_, failure) in &failures {
        println!("{failure}");
    }
    if !failures.is_empty() {
        code = exit::UNKNOWN;
    }
    let stopped = rows
        .iter()
        .any(|(_, info)| STOPPED_STATES.contains(&text(info.member("statename")).as_str()));
    if code == 0 && stopped {
        code = exit::NOT_RUNNING_STATUS;
    }
    code
}

/// Whether `name` may be on a server that did not answer (so "no such process" would be a
/// guess): it is aimed at one of `failures`, or at no server and some failed.
fn unasked(servers: &Servers, failures: &[(&str, String)], name: &str) -> bool {
    match target(servers, name) {
        (Some(host), _) => failures.iter().any(|(failed, _)| *failed == host),
        (None, _) => !failures.is_empty(),
    }
}

/// What a step of start/stop/restart asks of a host's processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Goal {
    Start,
    Stop,
}

impl Goal {
    /// vigil's method for a list, and supervisord's for one name.
    fn methods(self) -> (&'static str, &'static str) {
        match self {
            Goal::Start => ("vigil.startProcesses", "supervisor.startProcess"),
            Goal::Stop => ("vigil.stopProcesses", "supervisor.stopProcess"),
        }
    }

    /// A result's line, and the fault that is not a failure (already started, not running).
    fn line(self, spec: &str, code: i64, description: &str) -> String {
        match self {
            Goal::Start => start_result(spec, code, description),
            Goal::Stop => signal_result(spec, code, description, "stopped"),
        }
    }

    fn ignored(self) -> FaultCode {
        match self {
            Goal::Start => FaultCode::AlreadyStarted,
            Goal::Stop => FaultCode::NotRunning,
        }
    }
}

/// One process's result: its name, fault code (SUCCESS included) and description.
type Outcome = (String, i64, String);

/// Starts or stops `specs` on `client` (waiting, as vigilctl does), together on vigild,
/// one by one on supervisord.
fn apply(client: &Client, specs: &[String], goal: Goal) -> Result<Vec<Outcome>, ClientError> {
    if specs.is_empty() {
        return Ok(Vec::new());
    }
    let (together, one) = goal.methods();
    let list = Value::Array(
        specs
            .iter()
            .map(|spec| Value::from(spec.as_str()))
            .collect(),
    );
    match client.call(together, &[list, Value::Bool(true)]) {
        Ok(results) => Ok(array(results)
            .iter()
            .map(|result| {
                let spec =
                    namespec::of(&text(result.member("group")), &text(result.member("name")));
                let code = super::int(result.member("status"));
                (spec, code, text(result.member("description")))
            })
            .collect()),
        Err(ClientError::NotVigild { .. }) => specs
            .iter()
            .map(
                |spec| match client.call(one, &[Value::from(spec.as_str())]) {
                    Ok(_) => Ok((spec.clone(), FaultCode::Success.code(), String::new())),
                    Err(ClientError::Fault(code, why)) => Ok((spec.clone(), code, why)),
                    Err(err) => Err(err),
                },
            )
            .collect(),
        Err(err) => Err(err),
    }
}

/// `start`/`stop`/`restart name…`: each host acts on those of its processes the names mean,
/// the hosts at the same time, each taking its steps (restart: stop, then start) on its own.
fn act(servers: &Servers, args: &[&str], verb: &str, steps: &[Goal]) -> i32 {
    if args.is_empty() {
        println!("Error: {verb} requires a process name");
        println!("{}", help::of(verb).unwrap_or_default());
        return exit::INVALID_ARGS;
    }
    let listings = listings(servers);
    for name in args {
        if let Some(host) = ambiguous(servers, &listings, name) {
            println!("{}", ambiguity(name, host));
            return exit::INVALID_ARGS;
        }
    }
    let mut code = 0;
    let host_width = host_width(servers);
    // What each host has of the names; a host that does not answer is left out.
    let mut work: Vec<(&str, &Client, Vec<String>)> = Vec::new();
    let mut failures = Vec::new();
    let mut matched = vec![false; args.len()];
    for ((host, client), listing) in servers.iter().zip(listings) {
        let infos = match listing {
            Ok(infos) => infos,
            Err(err) => {
                failures.push((host.as_str(), unreachable(host, client, &err)));
                continue;
            }
        };
        let specs: Vec<String> = infos
            .iter()
            .filter(|info| {
                let hits: Vec<usize> = (0..args.len())
                    .filter(|&n| means(servers, args[n], host, info))
                    .collect();
                for &n in &hits {
                    matched[n] = true;
                }
                !hits.is_empty()
            })
            .map(|info| namespec::of(&text(info.member("group")), &text(info.member("name"))))
            .collect();
        work.push((host, client, specs));
    }
    for (name, _) in args.iter().zip(&matched).filter(|(_, found)| !**found) {
        if !unasked(servers, &failures, name) {
            println!("{name}: ERROR (no such process)");
            code = exit::GENERIC;
        }
    }
    let answers = parallel(&work, |(_, client, specs)| {
        let mut done = Vec::new();
        for &goal in steps {
            match apply(client, specs, goal) {
                Ok(outcomes) => done.push((goal, outcomes)),
                Err(err) => return (done, Some(err)),
            }
        }
        (done, None)
    });
    for ((host, client, _), (done, failed)) in work.iter().zip(answers) {
        for (goal, outcomes) in done {
            for (spec, fault, description) in outcomes {
                println!(
                    "{host:<host_width$}{}",
                    goal.line(&spec, fault, &description)
                );
                if let Some(failed) = exit_for_fault(fault, goal.ignored()) {
                    code = failed;
                }
            }
        }
        if let Some(err) = failed {
            println!("{}", unreachable(host, client, &err));
            code = exit::GENERIC;
        }
    }
    for (_, failure) in &failures {
        println!("{failure}");
        code = exit::GENERIC;
    }
    code
}

/// `crashes name [-n N] [--json]` from every host that has the program, newest first.
fn crashes(servers: &Servers, args: &[&str]) -> i32 {
    let Some((name, limit, json)) = crashes::parse(args) else {
        println!("{}", crashes::USAGE);
        return exit::INVALID_ARGS;
    };
    let (aimed, spec) = target(servers, name);
    // Only a name aimed at a host can be ambiguous: the listings are asked for then alone.
    if let Some(host) = aimed.and_then(|_| ambiguous(servers, &listings(servers), name)) {
        println!("{}", ambiguity(name, host));
        return exit::INVALID_ARGS;
    }
    let asked: Vec<&(String, Client)> = servers
        .iter()
        .filter(|(host, _)| aimed.is_none_or(|aimed| aimed == host))
        .collect();
    let answers = parallel(&asked, |(_, client)| {
        std::thread::scope(|scope| {
            let state = scope.spawn(|| {
                client
                    .call("vigil.getCrashLoopState", &[Value::from(spec)])
                    .ok()
            });
            let records = client.call("vigil.getCrashes", &[Value::from(spec), Value::Int(limit)]);
            let state = state
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (records, state)
        })
    });
    let mut code = 0;
    let mut headlines = String::new();
    let mut merged: Vec<(&str, Value)> = Vec::new();
    let mut failures = Vec::new();
    for ((host, client), (records, state)) in asked.iter().map(|s| (&s.0, &s.1)).zip(answers) {
        match records {
            Ok(records) => {
                let line = crashes::headline(spec, state.as_ref());
                headlines.push_str(&format!("{host}  {line}"));
                merged.extend(array(records).into_iter().map(|r| (host.as_str(), r)));
            }
            // This host does not run the program.
            Err(ClientError::Fault(fault, _)) if fault == FaultCode::BadName.code() => {}
            Err(err) => failures.push(unreachable(host, client, &err)),
        }
    }
    if headlines.is_empty() && failures.is_empty() {
        println!("{name}: ERROR (no such process)");
        return exit::GENERIC;
    }
    // By the epoch time: the text times carry each host's own UTC offset.
    merged.sort_by(|(_, a), (_, b)| {
        super::double(b.member("unix_time")).total_cmp(&super::double(a.member("unix_time")))
    });
    if limit > 0 {
        merged.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    if json {
        let records = merged
            .iter()
            .map(|(host, record)| with_host(record, host))
            .collect();
        println!("{}", serde_json::Value::Array(records));
    } else {
        print!("{headlines}");
        if merged.is_empty() {
            println!("no crash records");
        }
        for (host, record) in &merged {
            print!("{}", crashes::render_record(record, &format!("{host}  ")));
        }
    }
    for failure in &failures {
        println!("{failure}");
        code = exit::GENERIC;
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers() -> Vec<(String, Client)> {
        ["web1", "127.0.0.1:9002"]
            .iter()
            .map(|name| {
                let client = Client {
                    serverurl: format!("http://{name}"),
                    credentials: None,
                    timeout: None,
                    tls: None,
                };
                ((*name).to_string(), client)
            })
            .collect()
    }

    #[test]
    fn a_name_may_be_aimed_at_one_host() {
        let servers = servers();
        assert_eq!(target(&servers, "web1:app"), (Some("web1"), "app"));
        assert_eq!(
            target(&servers, "web1:pool:pool_0"),
            (Some("web1"), "pool:pool_0")
        );
        assert_eq!(
            target(&servers, "127.0.0.1:9002:app"),
            (Some("127.0.0.1:9002"), "app")
        );
        assert_eq!(target(&servers, "pool:pool_0"), (None, "pool:pool_0"));
        let info = Value::Struct(vec![
            ("group".into(), Value::from("pool")),
            ("name".into(), Value::from("pool_0")),
        ]);
        assert!(means(&servers, "pool:*", "web1", &info));
        assert!(means(&servers, "web1:pool:pool_0", "web1", &info));
        assert!(!means(
            &servers,
            "web1:pool:pool_0",
            "127.0.0.1:9002",
            &info
        ));
        assert!(means(
            &servers,
            "127.0.0.1:9002:all",
            "127.0.0.1:9002",
            &info
        ));
    }
}
