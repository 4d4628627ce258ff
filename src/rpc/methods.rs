//! The `supervisor.*` and `system.*` methods, with supervisord's argument shapes, return
//! shapes, fault codes and texts. Reads come from the supervisor's snapshot; changes go to
//! the supervisor as requests; `wait=true` calls wait on snapshots without blocking others.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::codec::Value;
use super::faults::{Fault, FaultCode};
use crate::auth::Access;
use crate::logs::stream::{LogStream, ReadError};
use crate::process::state::{Health, State};
use crate::supervisor::{Control, Handle, ProcKey, ProcessView, Refusal, SupervisorState};

mod fleet;

/// supervisord's API version (`getAPIVersion`).
pub const API_VERSION: &str = "3.0";
/// The supervisord version whose API vigil serves (`getSupervisorVersion`).
pub const SUPERVISOR_VERSION: &str = "4.3.0";

/// Re-reads the config as a start would; the error is the text of every problem.
pub type Reread = Arc<dyn Fn() -> Result<crate::config::Config, String> + Send + Sync>;

/// What the methods work on.
#[derive(Clone)]
pub struct Api {
    /// Loads the config file again (`reloadConfig`).
    pub reread: Reread,
    /// The supervisor.
    pub handle: Handle,
    /// `[supervisord] identifier`.
    pub identification: String,
    /// The main log (`readLog`, `clearLog`).
    pub main_log: Arc<LogStream>,
    /// The sampler's latest figures (`vigil.getProcessStats`, `/metrics`).
    pub samples: crate::sampler::Reader,
    /// Where `sendRemoteCommEvent` publishes (and `/metrics` reads the pool queues).
    pub events: crate::events::Publisher,
}

/// What a method does, for the read-only account: it may call every method that [`Reads`],
/// and gets UNAUTHORIZED from every one that [`Changes`] something.
///
/// [`Reads`]: Effect::Reads
/// [`Changes`]: Effect::Changes
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    /// Status, info, logs, stats, crash records, `system.*`: nothing changes.
    Reads,
    /// Processes, groups, logs, the config, the daemon or event listeners change.
    Changes,
}

/// One entry of the method table.
struct Method {
    name: &'static str,
    /// `[return, params…]`.
    signature: &'static [&'static str],
    help: &'static str,
    effect: Effect,
}

/// A method that only reads.
const fn reads(
    name: &'static str,
    signature: &'static [&'static str],
    help: &'static str,
) -> Method {
    Method {
        name,
        signature,
        help,
        effect: Effect::Reads,
    }
}

/// A method that changes something.
const fn changes(
    name: &'static str,
    signature: &'static [&'static str],
    help: &'static str,
) -> Method {
    Method {
        name,
        signature,
        help,
        effect: Effect::Changes,
    }
}

/// Every method, sorted by name: what it does (the first word: the one place that decides
/// what the read-only account may call), its name, signature and help text.
const METHODS: &[Method] = &[
    changes("supervisor.addProcessGroup", &["boolean", "string"], "Update the config for a running process from config file."),
    changes("supervisor.clearAllProcessLogs", &["array"], "Clear all process log files"),
    changes("supervisor.clearLog", &["boolean"], "Clear the main log."),
    changes("supervisor.clearProcessLog", &["boolean", "string"], "Clear the stdout and stderr logs for the named process and reopen them."),
    changes("supervisor.clearProcessLogs", &["boolean", "string"], "Clear the stdout and stderr logs for the named process and reopen them."),
    reads("supervisor.getAPIVersion", &["string"], "Return the version of the RPC API used by supervisord"),
    reads("supervisor.getAllConfigInfo", &["array"], "Get info about all available process configurations. Each struct represents a single process (i.e. groups get flattened)."),
    reads("supervisor.getAllProcessInfo", &["array"], "Get info about all processes"),
    reads("supervisor.getIdentification", &["string"], "Return identifying string of supervisord"),
    reads("supervisor.getPID", &["int"], "Return the PID of supervisord"),
    reads("supervisor.getProcessInfo", &["struct", "string"], "Get info about a process named name"),
    reads("supervisor.getState", &["struct"], "Return current state of supervisord as a struct"),
    reads("supervisor.getSupervisorVersion", &["string"], "Return the version of the supervisor package in use by supervisord"),
    reads("supervisor.getVersion", &["string"], "Return the version of the RPC API used by supervisord"),
    reads("supervisor.readLog", &["string", "int", "int"], "Read length bytes from name's log starting at offset"),
    reads("supervisor.readMainLog", &["string", "int", "int"], "Read length bytes from name's log starting at offset"),
    reads("supervisor.readProcessLog", &["string", "string", "int", "int"], "Read length bytes from name's stdout log starting at offset"),
    reads("supervisor.readProcessStderrLog", &["string", "string", "int", "int"], "Read length bytes from name's stderr log starting at offset"),
    reads("supervisor.readProcessStdoutLog", &["string", "string", "int", "int"], "Read length bytes from name's stdout log starting at offset"),
    changes("supervisor.reloadConfig", &["array"], "Reload the configuration."),
    changes("supervisor.removeProcessGroup", &["boolean", "string"], "Remove a stopped process from the active configuration."),
    changes("supervisor.restart", &["boolean"], "Restart the supervisor process"),
    changes("supervisor.sendProcessStdin", &["boolean", "string", "string"], "Send a string of chars to the stdin of the process name."),
    changes("supervisor.sendRemoteCommEvent", &["boolean", "string", "string"], "Send an event that will be received by event listener subprocesses subscribing to the RemoteCommunicationEvent."),
    changes("supervisor.shutdown", &["boolean"], "Shut down the supervisor process"),
    changes("supervisor.signalAllProcesses", &["array", "string"], "Send a signal to all processes in the process list"),
    changes("supervisor.signalProcess", &["boolean", "string", "string"], "Send an arbitrary UNIX signal to the process named by name"),
    changes("supervisor.signalProcessGroup", &["array", "string", "string"], "Send a signal to all processes in the group named 'name'"),
    changes("supervisor.startAllProcesses", &["array", "boolean"], "Start all processes listed in the configuration file"),
    changes("supervisor.startProcess", &["boolean", "string", "boolean"], "Start a process"),
    changes("supervisor.startProcessGroup", &["array", "string", "boolean"], "Start all processes in the group named 'name'"),
    changes("supervisor.stopAllProcesses", &["array", "boolean"], "Stop all processes in the process list"),
    changes("supervisor.stopProcess", &["boolean", "string", "boolean"], "Stop a process named by name"),
    changes("supervisor.stopProcessGroup", &["array", "string", "boolean"], "Stop all processes in the process group named 'name'"),
    reads("supervisor.tailProcessLog", &["array", "string", "int", "int"], "Provides a more efficient way to tail the (stdout) log than readProcessStdoutLog()."),
    reads("supervisor.tailProcessStderrLog", &["array", "string", "int", "int"], "Provides a more efficient way to tail the (stderr) log than readProcessStderrLog()."),
    reads("supervisor.tailProcessStdoutLog", &["array", "string", "int", "int"], "Provides a more efficient way to tail the (stdout) log than readProcessStdoutLog()."),
    reads("system.listMethods", &["array"], "Return an array listing the available methods"),
    reads("system.methodHelp", &["string", "string"], "Return a string showing the method's documentation"),
    reads("system.methodSignature", &["array", "string"], "Return an array describing the method signature in the form [rtype, ptype, ptype...]"),
    reads("system.multicall", &["array", "array"], "Process an array of calls, and return an array of results."),
    reads("vigil.getAllProcessStats", &["array"], "Get what every process uses (CPU, memory, threads, fds, uptime) and its restart and crash counts"),
    reads("vigil.getCrashLoopState", &["struct", "string"], "Get whether a process is in a crash loop, its recent crashes and the wait before its next start"),
    reads("vigil.getCrashes", &["array", "string", "int"], "Get the newest crash records of a process (limit 0 = all kept), with the last lines of its output"),
    reads("vigil.getProcessStats", &["struct", "string"], "Get what one process uses (CPU, memory, threads, fds, uptime) and its restart and crash counts"),
    changes("vigil.rollingRestart", &["array", "string", "int", "boolean"], "Restart a group a batch of processes at a time, each batch RUNNING (and healthy) before the next"),
    changes("vigil.startProcesses", &["array", "array", "boolean"], "Start several processes (or group:*) together, waiting for all of them"),
    changes("vigil.stopProcesses", &["array", "array", "boolean"], "Stop several processes (or group:*) together, waiting for all of them"),
    changes("vigil.updateProcessGroup", &["boolean", "string"], "Apply the reread config to one group, restarting only the members that changed"),
];

type Outcome = Result<Value, Fault>;

/// Runs one call for a caller with `access`.
pub async fn call(api: &Api, access: Access, method: &str, params: &[Value]) -> Outcome {
    if !ANSWERED_DURING_STARTUP.contains(&method) {
        api.handle.ready().await;
    }
    if method == "system.multicall" {
        return multicall(api, access, params).await;
    }
    dispatch(api, access, method, params).await
}

/// Methods that need nothing of the process table, answered even while the supervisor is
/// still opening log files at start-up; every other call waits until it is ready.
const ANSWERED_DURING_STARTUP: &[&str] = &[
    "supervisor.getState",
    "supervisor.getPID",
    "supervisor.getIdentification",
    "supervisor.getAPIVersion",
    "supervisor.getVersion",
    "supervisor.getSupervisorVersion",
    "system.listMethods",
    "system.methodHelp",
    "system.methodSignature",
];

/// `system.multicall`: each call in order; a success is returned bare (not in a 1-element
/// array, unlike the XML-RPC spec), a failure as `{faultCode, faultString}`.
async fn multicall(api: &Api, access: Access, params: &[Value]) -> Outcome {
    let [Value::Array(calls)] = params else {
        return Err(Fault::bare(FaultCode::IncorrectParameters));
    };
    let mut results = Vec::with_capacity(calls.len());
    for call in calls {
        let outcome = match (call.member("methodName"), call.member("params")) {
            (Some(Value::String(name)), _) if name == "system.multicall" => {
                Err(Fault::bare(FaultCode::IncorrectParameters))
            }
            (Some(Value::String(name)), Some(Value::Array(args))) => {
                dispatch(api, access, name, args).await
            }
            (Some(Value::String(name)), None) => dispatch(api, access, name, &[]).await,
            _ => Err(Fault::bare(FaultCode::IncorrectParameters)),
        };
        results.push(match outcome {
            Ok(value) => value,
            Err(fault) => Value::record([
                ("faultCode", Value::Int(fault.code.code())),
                ("faultString", Value::from(fault.to_string())),
            ]),
        });
    }
    Ok(Value::Array(results))
}

/// Runs one method of the table (none outside it); the read-only account's calls of a
/// method that changes something are refused before anything is looked at.
async fn dispatch(api: &Api, access: Access, method: &str, params: &[Value]) -> Outcome {
    let Some(entry) = find_method(method) else {
        return Err(Fault::bare(FaultCode::UnknownMethod));
    };
    if access == Access::ReadOnly && entry.effect == Effect::Changes {
        return Err(Fault::with(
            FaultCode::Unauthorized,
            format!("{method} changes the supervisor and this account is read-only"),
        ));
    }
    let Some((namespace, name)) = method.split_once('.') else {
        return Err(Fault::bare(FaultCode::UnknownMethod));
    };
    match namespace {
        "system" => system(name, params),
        "supervisor" | "vigil" => {
            if api.handle.snapshot().state != SupervisorState::Running {
                return Err(Fault::bare(FaultCode::ShutdownState));
            }
            if namespace == "vigil" {
                return vigil(api, name, params).await;
            }
            supervisor(api, name, params).await
        }
        _ => Err(Fault::bare(FaultCode::UnknownMethod)),
    }
}

/// The table's entry for `method`.
fn find_method(method: &str) -> Option<&'static Method> {
    METHODS.iter().find(|entry| entry.name == method)
}

fn system(name: &str, params: &[Value]) -> Outcome {
    match (name, params) {
        ("listMethods", []) => Ok(Value::Array(
            METHODS
                .iter()
                .map(|entry| Value::from(entry.name))
                .collect(),
        )),
        ("methodHelp", [Value::String(method)]) => find_method(method)
            .map(|entry| Value::from(entry.help))
            .ok_or_else(|| Fault::bare(FaultCode::SignatureUnsupported)),
        ("methodSignature", [Value::String(method)]) => find_method(method)
            .map(|entry| Value::Array(entry.signature.iter().map(|t| Value::from(*t)).collect()))
            .ok_or_else(|| Fault::bare(FaultCode::SignatureUnsupported)),
        ("listMethods" | "methodHelp" | "methodSignature", _) => {
            Err(Fault::bare(FaultCode::IncorrectParameters))
        }
        _ => Err(Fault::bare(FaultCode::UnknownMethod)),
    }
}

async fn supervisor(api: &Api, name: &str, params: &[Value]) -> Outcome {
    let args = Args(params);
    match name {
        "getAPIVersion" | "getVersion" => args.none().map(|()| Value::from(API_VERSION)),
        "getSupervisorVersion" => args.none().map(|()| Value::from(SUPERVISOR_VERSION)),
        "getIdentification" => args
            .none()
            .map(|()| Value::from(api.identification.clone())),
        "getState" => {
            args.none()?;
            let state = api.handle.snapshot().state;
            Ok(Value::record([
                ("statecode", Value::Int(state.code())),
                ("statename", Value::from(state.name())),
            ]))
        }
        "getPID" => args
            .none()
            .map(|()| Value::Int(i64::from(std::process::id()))),
        "readLog" | "readMainLog" => {
            let (offset, length) = args.two_ints()?;
            read(&api.main_log, offset, length)
        }
        "clearLog" => {
            args.none()?;
            api.main_log.clear().map_err(read_fault)?;
            Ok(Value::Bool(true))
        }
        "shutdown" => {
            args.none()?;
            api.handle.send(Control::Shutdown);
            Ok(Value::Bool(true))
        }
        "restart" => {
            args.none()?;
            // The same path as SIGHUP: re-read the config, keep the fleet if it is bad.
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGHUP);
            Ok(Value::Bool(true))
        }
        "getProcessInfo" => {
            let namespec = args.string()?;
            let process = find_process(api, &namespec)?;
            Ok(process_info(&process))
        }
        "getAllProcessInfo" => {
            args.none()?;
            Ok(Value::Array(
                api.handle
                    .snapshot()
                    .processes
                    .iter()
                    .map(process_info)
                    .collect(),
            ))
        }
        "startProcess" => {
            let (namespec, wait) = args.string_and_wait()?;
            match split_namespec(&namespec) {
                (group, None) => start_group(api, &group, wait).await,
                _ => {
                    let process = find_process(api, &namespec)?;
                    start_one(api, &process, wait)
                        .await
                        .map(|()| Value::Bool(true))
                }
            }
        }
        "startProcessGroup" => {
            let (group, wait) = args.string_and_wait()?;
            start_group(api, &group, wait).await
        }
        "startAllProcesses" => {
            let wait = args.wait_only()?;
            many(api, in_start_order(api, None), Goal::Start, wait).await
        }
        "stopProcess" => {
            let (namespec, wait) = args.string_and_wait()?;
            match split_namespec(&namespec) {
                (group, None) => stop_group(api, &group, wait).await,
                _ => {
                    let process = find_process(api, &namespec)?;
                    stop_one(api, &process, wait)
                        .await
                        .map(|()| Value::Bool(true))
                }
            }
        }
        "stopProcessGroup" => {
            let (group, wait) = args.string_and_wait()?;
            stop_group(api, &group, wait).await
        }
        "stopAllProcesses" => {
            // supervisord stops in priority order here too (ascending, like a start).
            let wait = args.wait_only()?;
            many(api, in_start_order(api, None), Goal::Stop, wait).await
        }
        // As supervisord: the name is checked before the signal, and group/all calls act on
        // signallable processes only, each reporting its own BAD_SIGNAL.
        "signalProcess" => {
            let (namespec, signal) = args.two_strings()?;
            match split_namespec(&namespec) {
                (group, None) => signal_many(api, group_processes(api, &group)?, &signal).await,
                _ => {
                    let process = find_process(api, &namespec)?;
                    signal_one(api, &process, &signal)
                        .await
                        .map(|()| Value::Bool(true))
                }
            }
        }
        "signalProcessGroup" => {
            let (group, signal) = args.two_strings()?;
            signal_many(api, group_processes(api, &group)?, &signal).await
        }
        "signalAllProcesses" => {
            let signal = args.string()?;
            signal_many(api, in_start_order(api, None), &signal).await
        }
        "readProcessStdoutLog" | "readProcessLog" | "readProcessStderrLog" => {
            let (namespec, offset, length) = args.string_and_two_ints()?;
            let process = find_process(api, &namespec)?;
            read(stream_of(&process, name.contains("Stderr")), offset, length)
        }
        "tailProcessStdoutLog" | "tailProcessLog" | "tailProcessStderrLog" => {
            let (namespec, offset, length) = args.string_and_two_ints()?;
            let process = find_process(api, &namespec)?;
            let tail = stream_of(&process, name.contains("Stderr"))
                .tail(offset, length)
                .map_err(read_fault)?;
            Ok(Value::Array(vec![
                Value::from(String::from_utf8_lossy(&tail.data).into_owned()),
                Value::Int(i64::try_from(tail.offset).unwrap_or(i64::MAX)),
                Value::Bool(tail.overflow),
            ]))
        }
        "clearProcessLogs" | "clearProcessLog" => {
            let namespec = args.string()?;
            let process = find_process(api, &namespec)?;
            clear_logs(&process)?;
            Ok(Value::Bool(true))
        }
        "reloadConfig" => {
            args.none()?;
            let reread = Arc::clone(&api.reread);
            let config = tokio::task::spawn_blocking(move || reread())
                .await
                .map_err(|err| Fault::with(FaultCode::Failed, err.to_string()))?
                .map_err(|text| Fault::with(FaultCode::CantReread, text))?;
            let (reply, answer) = tokio::sync::oneshot::channel();
            if !api.handle.send(Control::Reread(Box::new(config), reply)) {
                return Err(Fault::bare(FaultCode::ShutdownState));
            }
            let diff = answer
                .await
                .map_err(|_| Fault::bare(FaultCode::ShutdownState))?;
            let names =
                |list: Vec<String>| Value::Array(list.into_iter().map(Value::from).collect());
            Ok(Value::Array(vec![Value::Array(vec![
                names(diff.added),
                names(diff.changed),
                names(diff.removed),
            ])]))
        }
        "addProcessGroup" | "removeProcessGroup" => {
            let group = args.string()?;
            let request = group.clone();
            let add = name == "addProcessGroup";
            api.handle
                .request(move |reply| {
                    if add {
                        Control::AddGroup(request, reply)
                    } else {
                        Control::RemoveGroup(request, reply)
                    }
                })
                .await
                .map_err(|refusal| refusal_fault(refusal, &group))?;
            Ok(Value::Bool(true))
        }
        "getAllConfigInfo" => {
            args.none()?;
            let (reply, answer) = tokio::sync::oneshot::channel();
            if !api.handle.send(Control::ConfigInfo(reply)) {
                return Err(Fault::bare(FaultCode::ShutdownState));
            }
            let infos = answer
                .await
                .map_err(|_| Fault::bare(FaultCode::ShutdownState))?;
            Ok(Value::Array(infos.iter().map(config_info).collect()))
        }
        "sendRemoteCommEvent" => {
            let [Value::String(kind), Value::String(data)] = params else {
                return Err(Fault::bare(FaultCode::IncorrectParameters));
            };
            api.events
                .publish(crate::events::Event::remote_communication(kind, data));
            Ok(Value::Bool(true))
        }
        "sendProcessStdin" => {
            let [Value::String(namespec), Value::String(chars)] = params else {
                return Err(Fault::bare(FaultCode::IncorrectParameters));
            };
            let process = find_process(api, namespec)?;
            let key = key_of(&process);
            let bytes = chars.as_bytes().to_vec();
            api.handle
                .request(move |reply| Control::SendStdin(key, bytes, reply))
                .await
                .map_err(|refusal| refusal_fault(refusal, namespec))?;
            Ok(Value::Bool(true))
        }
        "clearAllProcessLogs" => {
            args.none()?;
            let results = api
                .handle
                .snapshot()
                .processes
                .iter()
                .map(|process| result_entry(process, clear_logs(process)))
                .collect();
            Ok(Value::Array(results))
        }
        _ => Err(Fault::bare(FaultCode::UnknownMethod)),
    }
}

/// vigil's own methods: what supervisord's API cannot express.
async fn vigil(api: &Api, name: &str, params: &[Value]) -> Outcome {
    let args = Args(params);
    match name {
        "getProcessStats" => {
            let namespec = args.string()?;
            let process = find_process(api, &namespec)?;
            Ok(process_stats(&process, &api.samples.borrow()))
        }
        "getCrashes" => {
            let (namespec, limit) = args.string_and_optional_int()?;
            let process = find_process(api, &namespec)?;
            let limit = usize::try_from(limit.max(0)).unwrap_or(usize::MAX);
            let history = Arc::clone(&process.crashes);
            let (group, name) = (process.group.clone(), process.name.clone());
            // The first read loads the crash file.
            let records = tokio::task::spawn_blocking(move || history.newest(&group, &name, limit))
                .await
                .map_err(|err| Fault::with(FaultCode::Failed, err.to_string()))?;
            Ok(Value::Array(records.iter().map(crash_record).collect()))
        }
        "startProcesses" => fleet::act_on_list(api, params, Goal::Start).await,
        "stopProcesses" => fleet::act_on_list(api, params, Goal::Stop).await,
        "rollingRestart" => fleet::rolling_restart(api, params).await,
        "getCrashLoopState" => {
            let namespec = args.string()?;
            Ok(crash_loop_state(&find_process(api, &namespec)?))
        }
        "getAllProcessStats" => {
            args.none()?;
            let samples = Arc::clone(&api.samples.borrow());
            Ok(Value::Array(
                api.handle
                    .snapshot()
                    .processes
                    .iter()
                    .map(|process| process_stats(process, &samples))
                    .collect(),
            ))
        }
        "updateProcessGroup" => {
            let group = args.string()?;
            let (reply, answer) = tokio::sync::oneshot::channel();
            if !api.handle.send(Control::StaleMembers(group.clone(), reply)) {
                return Err(Fault::bare(FaultCode::ShutdownState));
            }
            let stale = answer
                .await
                .map_err(|_| Fault::bare(FaultCode::ShutdownState))?
                .map_err(|refusal| refusal_fault(refusal, &group))?;
            let snapshot = api.handle.snapshot();
            for (group_name, process_name) in &stale {
                if let Some(process) = snapshot.process(group_name, process_name) {
                    match stop_one(api, process, true).await {
                        Ok(()) => {}
                        Err(fault) if fault.code == FaultCode::NotRunning => {}
                        Err(fault) => return Err(fault),
                    }
                }
            }
            let request = group.clone();
            api.handle
                .request(move |reply| Control::ReplaceMembers(request, reply))
                .await
                .map_err(|refusal| refusal_fault(refusal, &group))?;
            Ok(Value::Bool(true))
        }
        _ => Err(Fault::bare(FaultCode::UnknownMethod)),
    }
}

/// Positional arguments with supervisord's defaults and INCORRECT_PARAMETERS on misuse.
struct Args<'a>(&'a [Value]);

impl Args<'_> {
    fn none(&self) -> Result<(), Fault> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Fault::bare(FaultCode::IncorrectParameters))
        }
    }

    fn string(&self) -> Result<String, Fault> {
        match self.0 {
            [Value::String(s)] => Ok(s.clone()),
            _ => Err(Fault::bare(FaultCode::IncorrectParameters)),
        }
    }

    fn two_strings(&self) -> Result<(String, String), Fault> {
        match self.0 {
            [Value::String(a), b] => Ok((a.clone(), scalar_text(b)?)),
            _ => Err(Fault::bare(FaultCode::IncorrectParameters)),
        }
    }

    /// `(name, wait=True)`.
    fn string_and_wait(&self) -> Result<(String, bool), Fault> {
        match self.0 {
            [Value::String(s)] => Ok((s.clone(), true)),
            [Value::String(s), wait] => Ok((s.clone(), truthy(wait)?)),
            _ => Err(Fault::bare(FaultCode::IncorrectParameters)),
        }
    }

    /// `(wait=True)`.
    fn wait_only(&self) -> Result<bool, Fault> {
        match self.0 {
            [] => Ok(true),
            [wait] => truthy(wait),
            _ => Err(Fault::bare(FaultCode::IncorrectParameters)),
        }
    }

    /// `(name, n=0)`.
    fn string_and_optional_int(&self) -> Result<(String, i64), Fault> {
        match self.0 {
            [Value::String(s)] => Ok((s.clone(), 0)),
            [Value::String(s), Value::Int(n)] => Ok((s.clone(), *n)),
            _ => Err(Fault::bare(FaultCode::IncorrectParameters)),
        }
    }

    fn two_ints(&self) -> Result<(i64, i64), Fault> {
        match self.0 {
            [Value::Int(a), Value::Int(b)] => Ok((*a, *b)),
            _ => Err(Fault::bare(FaultCode::IncorrectParameters)),
        }
    }

    fn string_and_two_ints(&self) -> Result<(String, i64, i64), Fault> {
        match self.0 {
            [Value::String(s), Value::Int(a), Value::Int(b)] => Ok((s.clone(), *a, *b)),
            _ => Err(Fault::bare(FaultCode::IncorrectParameters)),
        }
    }
}

fn truthy(value: &Value) -> Result<bool, Fault> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Int(n) => Ok(*n != 0),
        _ => Err(Fault::bare(FaultCode::IncorrectParameters)),
    }
}

/// A signal given as a name or a number (`signalProcess(name, 'HUP')` or `(name, 1)`).
fn scalar_text(value: &Value) -> Result<String, Fault> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Int(n) => Ok(n.to_string()),
        _ => Err(Fault::bare(FaultCode::IncorrectParameters)),
    }
}

fn parse_signal(text: &str) -> Result<i32, Fault> {
    crate::config::value::signal(text)
        .map(|signal| signal as i32)
        .map_err(|_| Fault::with(FaultCode::BadSignal, text))
}

/// `group:name` → (group, Some(name)); `group:*` and `group:` → (group, None); `name` →
/// (name, Some(name)).
fn split_namespec(namespec: &str) -> (String, Option<String>) {
    match namespec.split_once(':') {
        Some((group, "" | "*")) => (group.to_string(), None),
        Some((group, name)) => (group.to_string(), Some(name.to_string())),
        None => (namespec.to_string(), Some(namespec.to_string())),
    }
}

fn find_process(api: &Api, namespec: &str) -> Result<ProcessView, Fault> {
    let snapshot = api.handle.snapshot();
    match split_namespec(namespec) {
        (group, Some(name)) => snapshot
            .process(&group, &name)
            .cloned()
            .ok_or_else(|| Fault::with(FaultCode::BadName, namespec)),
        (_, None) => Err(Fault::with(FaultCode::BadName, namespec)),
    }
}

fn group_processes(api: &Api, group: &str) -> Result<Vec<ProcessView>, Fault> {
    let snapshot = api.handle.snapshot();
    if !snapshot.groups.iter().any(|(name, _)| name == group) {
        return Err(Fault::with(FaultCode::BadName, group));
    }
    Ok(in_start_order(api, Some(group)))
}

/// Processes (of one group, or all) in start order: groups by priority, then processes.
fn in_start_order(api: &Api, only: Option<&str>) -> Vec<ProcessView> {
    let snapshot = api.handle.snapshot();
    snapshot
        .groups
        .iter()
        .filter(|(group, _)| only.is_none_or(|only| only == group.as_str()))
        .flat_map(|(group, names)| {
            names
                .iter()
                .filter_map(|name| snapshot.process(group, name))
                .cloned()
        })
        .collect()
}

fn key_of(process: &ProcessView) -> ProcKey {
    (process.group.clone(), process.name.clone())
}

/// One `getAllConfigInfo` entry, with supervisord's keys (`none`/`auto` for unset/AUTO).
fn config_info(info: &crate::supervisor::ConfigInfo) -> Value {
    use crate::config::{LogTarget, StreamLog};
    let process = &info.config;
    let optional = |text: Option<String>| Value::from(text.unwrap_or_else(|| "none".into()));
    let target = |log: &StreamLog| match &log.target {
        LogTarget::Auto => Value::from("auto"),
        LogTarget::None | LogTarget::Syslog => Value::from("none"),
        LogTarget::File(path) => Value::from(path.display().to_string()),
    };
    let bytes = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
    Value::record([
        ("autostart", Value::Bool(process.autostart)),
        (
            "directory",
            optional(process.directory.as_ref().map(|d| d.display().to_string())),
        ),
        (
            "uid",
            process
                .user
                .as_ref()
                .map_or(Value::from("none"), |u| Value::Int(i64::from(u.uid))),
        ),
        ("command", Value::from(process.command.clone())),
        (
            "exitcodes",
            Value::Array(
                process
                    .exitcodes
                    .iter()
                    .map(|c| Value::Int(i64::from(*c)))
                    .collect(),
            ),
        ),
        ("group", Value::from(process.group.clone())),
        ("group_prio", Value::Int(i64::from(info.group_priority))),
        ("inuse", Value::Bool(info.in_use)),
        ("killasgroup", Value::Bool(process.killasgroup)),
        ("name", Value::from(process.name.clone())),
        ("process_prio", Value::Int(i64::from(process.priority))),
        ("redirect_stderr", Value::Bool(process.redirect_stderr)),
        (
            "startretries",
            Value::Int(process.startretries.map_or(-1, i64::from)),
        ),
        ("startsecs", bytes(process.startsecs)),
        (
            "stdout_capture_maxbytes",
            bytes(process.stdout.capture_maxbytes),
        ),
        (
            "stdout_events_enabled",
            Value::Bool(process.stdout.events_enabled),
        ),
        ("stdout_logfile", target(&process.stdout)),
        (
            "stdout_logfile_backups",
            Value::Int(i64::from(process.stdout.backups)),
        ),
        ("stdout_logfile_maxbytes", bytes(process.stdout.maxbytes)),
        ("stdout_syslog", Value::Bool(process.stdout.syslog)),
        ("stopsignal", Value::Int(process.stopsignal as i64)),
        ("stopwaitsecs", bytes(process.stopwaitsecs)),
        (
            "stderr_capture_maxbytes",
            bytes(process.stderr.capture_maxbytes),
        ),
        (
            "stderr_events_enabled",
            Value::Bool(process.stderr.events_enabled),
        ),
        ("stderr_logfile", target(&process.stderr)),
        (
            "stderr_logfile_backups",
            Value::Int(i64::from(process.stderr.backups)),
        ),
        ("stderr_logfile_maxbytes", bytes(process.stderr.maxbytes)),
        ("stderr_syslog", Value::Bool(process.stderr.syslog)),
        ("serverurl", optional(process.serverurl.clone())),
    ])
}

/// getProcessInfo's struct, keys in supervisord's order.
pub fn process_info(process: &ProcessView) -> Value {
    let now = SystemTime::now();
    let epoch = |time: Option<SystemTime>| -> i64 {
        time.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| {
                i64::try_from(d.as_secs())
                    .unwrap_or(i64::MAX)
                    .min(i64::from(i32::MAX))
            })
    };
    let path = |stream: &LogStream| {
        stream
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    let stdout = path(&process.stdout);
    Value::record([
        ("name", Value::from(process.name.clone())),
        ("group", Value::from(process.group.clone())),
        ("start", Value::Int(epoch(process.start))),
        ("stop", Value::Int(epoch(process.stop))),
        ("now", Value::Int(epoch(Some(now)))),
        ("state", Value::Int(i64::from(process.state.code()))),
        ("statename", Value::from(process.state.name())),
        ("spawnerr", Value::from(process.spawnerr.clone())),
        ("exitstatus", Value::Int(i64::from(process.exitstatus))),
        ("logfile", Value::from(stdout.clone())),
        ("stdout_logfile", Value::from(stdout)),
        ("stderr_logfile", Value::from(path(&process.stderr))),
        (
            "pid",
            Value::Int(i64::from(process.state.pid().unwrap_or(0))),
        ),
        ("description", Value::from(description(process, now))),
    ])
}

/// `vigil.getProcessStats`'s struct: the sampler's figures for the current child (zeros and
/// `sampled: false` before the first sample or without a child), plus the counts.
pub fn process_stats(process: &ProcessView, samples: &crate::sampler::Samples) -> Value {
    let sample = samples.of(process);
    let int = |value: u64| Value::Int(i64::try_from(value).unwrap_or(i64::MAX));
    let (own, tree) = sample.map_or_else(Default::default, |s| (s.own, s.tree));
    Value::record([
        ("name", Value::from(process.name.clone())),
        ("group", Value::from(process.group.clone())),
        ("statename", Value::from(process.state.name())),
        (
            "pid",
            Value::Int(i64::from(process.state.pid().unwrap_or(0))),
        ),
        ("sampled", Value::Bool(sample.is_some())),
        (
            "uptime",
            Value::Double(sample.map_or(0.0, |s| s.uptime(SystemTime::now()))),
        ),
        (
            "cpu_percent",
            Value::Double(sample.map_or(0.0, |s| s.cpu_percent)),
        ),
        (
            "tree_cpu_percent",
            Value::Double(sample.map_or(0.0, |s| s.tree_cpu_percent)),
        ),
        ("cpu_seconds", Value::Double(own.cpu_seconds)),
        ("tree_cpu_seconds", Value::Double(tree.cpu_seconds)),
        ("rss", int(own.resident_bytes)),
        ("tree_rss", int(tree.resident_bytes)),
        ("vms", int(own.virtual_bytes)),
        ("tree_vms", int(tree.virtual_bytes)),
        ("threads", int(own.threads)),
        ("tree_threads", int(tree.threads)),
        ("fds", int(own.open_fds)),
        ("tree_fds", int(tree.open_fds)),
        (
            "tree_processes",
            int(sample.map_or(0, |s| s.tree_size as u64)),
        ),
        ("restarts", int(process.tally.restarts())),
        ("crashes", int(process.tally.crashes)),
        (
            "memory_limit",
            int(process.config.memory_limit.unwrap_or(0)),
        ),
        ("crash_loop", Value::Bool(process.crash_loop.is_some())),
        (
            "health",
            Value::from(process.health.map_or("", Health::name)),
        ),
        (
            "restart_delay",
            Value::Double(process.restart_delay().as_secs_f64()),
        ),
    ])
}

/// One record of `vigil.getCrashes`; a missing exit code is -1 and a missing signal empty,
/// as XML-RPC has no null that every client accepts.
fn crash_record(record: &crate::logs::crashes::CrashRecord) -> Value {
    let int = |value: u64| Value::Int(i64::try_from(value).unwrap_or(i64::MAX));
    Value::record([
        ("time", Value::from(record.time.clone())),
        ("unix_time", Value::Double(record.unix_time)),
        ("name", Value::from(record.name.clone())),
        ("group", Value::from(record.group.clone())),
        ("pid", Value::Int(i64::from(record.pid))),
        (
            "exit_code",
            Value::Int(i64::from(record.exit_code.unwrap_or(-1))),
        ),
        (
            "signal",
            Value::from(record.signal.clone().unwrap_or_default()),
        ),
        ("core_dumped", Value::Bool(record.core_dumped)),
        ("description", Value::from(record.description.clone())),
        ("ran_seconds", Value::Double(record.ran_seconds)),
        ("restarts", int(record.restarts)),
        ("recent_crashes", int(record.recent_crashes as u64)),
        ("crash_loop", Value::Bool(record.crash_loop)),
        (
            "next_start_seconds",
            Value::Double(record.next_start_seconds.unwrap_or(0.0)),
        ),
        ("stream", Value::from(record.stream.clone())),
        ("tail", Value::from(record.tail.clone())),
    ])
}

/// `vigil.getCrashLoopState`'s struct: the detector's view and its settings.
fn crash_loop_state(process: &ProcessView) -> Value {
    let int = |value: u64| Value::Int(i64::try_from(value).unwrap_or(i64::MAX));
    let policy = &process.config.crash_loop;
    let looping = process.crash_loop;
    let next_start_in = match (process.state, process.retry) {
        (State::Backoff, Some(retry)) => retry
            .at
            .saturating_duration_since(std::time::Instant::now())
            .as_secs_f64(),
        _ => 0.0,
    };
    let unix = |at: SystemTime| crate::timefmt::epoch_seconds(at).unwrap_or(0.0);
    Value::record([
        ("name", Value::from(process.name.clone())),
        ("group", Value::from(process.group.clone())),
        ("statename", Value::from(process.state.name())),
        ("crash_loop", Value::Bool(looping.is_some())),
        (
            "since",
            Value::Double(looping.map_or(0.0, |l| unix(l.since))),
        ),
        ("recent_crashes", int(process.recent_crashes as u64)),
        (
            "restarts_in_loop",
            int(u64::from(looping.map_or(0, |l| l.restarts))),
        ),
        (
            "restart_delay",
            Value::Double(process.restart_delay().as_secs_f64()),
        ),
        ("next_start_in", Value::Double(next_start_in)),
        ("threshold", int(u64::from(policy.threshold))),
        ("window", Value::Double(policy.window.as_secs_f64())),
        ("reset", Value::Double(policy.reset.as_secs_f64())),
        ("giveup", int(u64::from(policy.giveup.unwrap_or(0)))),
        ("crashes", int(process.tally.crashes)),
    ])
}

/// supervisord's `description`: uptime when RUNNING, the spawn error when FATAL/BACKOFF, the
/// stop time when STOPPED/EXITED, else empty. vigil adds the crash loop: `, crash loop` after
/// the uptime, `crash loop` while STARTING, and in its BACKOFF `crash loop: 7 crashes in 60s,
/// next start in 16s`; health: `, unhealthy` after the uptime, `unhealthy` while the failed
/// process is being stopped; and `waiting for db` while `depends_on` holds a start back.
pub fn description(process: &ProcessView, now: SystemTime) -> String {
    match process.state {
        State::Running { pid } => {
            let up = process
                .start
                .and_then(|start| now.duration_since(start).ok())
                .map_or(0, |d| d.as_secs());
            let looping = if process.crash_loop.is_some() {
                ", crash loop"
            } else {
                ""
            };
            let health = if process.health == Some(Health::Unhealthy) {
                ", unhealthy"
            } else {
                ""
            };
            format!(
                "pid {pid}, uptime {}{health}{looping}",
                crate::timefmt::uptime(up)
            )
        }
        State::Starting { .. } if process.crash_loop.is_some() => "crash loop".to_string(),
        // vigil: a stop because the health check failed says so while it lasts.
        State::Stopping { .. } if process.health == Some(Health::Unhealthy) => {
            "unhealthy".to_string()
        }
        State::Backoff if process.retry.is_some_and(|r| r.crash_loop) => {
            let wait = process.retry.map_or(0, |retry| {
                let left = retry
                    .at
                    .saturating_duration_since(std::time::Instant::now());
                left.as_secs() + u64::from(left.subsec_nanos() > 0)
            });
            format!(
                "crash loop: {} crashes in {}s, next start in {wait}s",
                process.recent_crashes,
                process.config.crash_loop.window.as_secs_f64()
            )
        }
        State::Fatal | State::Backoff => {
            if process.spawnerr.is_empty() {
                format!("unknown error (try \"tail {}\")", process.name)
            } else {
                process.spawnerr.clone()
            }
        }
        State::Stopped if !process.waiting_for.is_empty() => {
            format!("waiting for {}", process.waiting_for.join(", "))
        }
        State::Stopped | State::Exited => match (process.start, process.stop) {
            (Some(_), Some(stop)) => crate::timefmt::month_day_clock(stop),
            (Some(_), None) => crate::timefmt::month_day_clock(now),
            _ => "Not started".to_string(),
        },
        _ => String::new(),
    }
}

fn refusal_fault(refusal: Refusal, namespec: &str) -> Fault {
    match refusal {
        Refusal::BadName => Fault::with(FaultCode::BadName, namespec),
        Refusal::AlreadyStarted => Fault::with(FaultCode::AlreadyStarted, namespec),
        Refusal::NotRunning => Fault::with(FaultCode::NotRunning, namespec),
        Refusal::SpawnError(error) => {
            if error.starts_with("can't find command") {
                Fault::with(FaultCode::NoFile, error)
            } else if error.contains("is not executable")
                || error.contains("is a directory")
                || error.starts_with("no permission")
            {
                Fault::with(FaultCode::NotExecutable, error)
            } else {
                Fault::with(FaultCode::SpawnError, namespec)
            }
        }
        Refusal::Failed(text) => Fault::with(FaultCode::Failed, format!("{namespec}: {text}")),
        Refusal::ShuttingDown => Fault::bare(FaultCode::ShutdownState),
        Refusal::StdinClosed => Fault::with(FaultCode::NoFile, namespec),
        Refusal::AlreadyAdded => Fault::with(FaultCode::AlreadyAdded, namespec),
        Refusal::StillRunning => Fault::with(FaultCode::StillRunning, namespec),
    }
}

/// What a process request is for: the control to send and the state that ends a wait.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Goal {
    Start,
    Stop,
}

impl Goal {
    fn control(self, key: ProcKey, reply: crate::supervisor::Reply) -> Control {
        match self {
            Goal::Start => Control::Start(key, reply),
            Goal::Stop => Control::Stop(key, reply),
        }
    }

    /// Whether `process` is one a group/all call acts on (supervisord's isNotRunning /
    /// isRunning); a start also takes a crash loop's BACKOFF, as startProcess does.
    fn applies_to(self, process: &ProcessView) -> bool {
        let running = matches!(
            process.state,
            State::Starting { .. } | State::Running { .. } | State::Backoff
        );
        let delayed = process.retry.is_some_and(|retry| retry.crash_loop);
        match self {
            Goal::Start => !running || delayed,
            Goal::Stop => running,
        }
    }
}

/// Sends the request for one process; the answer comes at once (a wait is separate).
async fn request(api: &Api, process: &ProcessView, goal: Goal) -> Result<(), Fault> {
    let namespec = process.namespec();
    let key = key_of(process);
    api.handle
        .request(move |reply| goal.control(key, reply))
        .await
        .map_err(|refusal| refusal_fault(refusal, &namespec))
}

/// Waits until `process` reached `goal`: RUNNING for a start (leaving STARTING any other way
/// is ABNORMAL_TERMINATION), a stopped state for a stop.
async fn wait_for(api: &Api, process: &ProcessView, goal: Goal) -> Result<(), Fault> {
    let key = key_of(process);
    let namespec = process.namespec();
    let mut snapshots = api.handle.watch();
    loop {
        let view = snapshots
            .borrow_and_update()
            .process(&key.0, &key.1)
            .cloned();
        match (goal, view) {
            // vigil: held back until its dependencies are ready.
            (Goal::Start, Some(view)) if !view.waiting_for.is_empty() => {}
            // Snapshots can merge steps: RUNNING reached and left counts as started.
            (Goal::Start, Some(view)) if view.reached_running => return Ok(()),
            // As supervisord's onwait: a spawn error first, then any state but STARTING.
            (Goal::Start, Some(view)) if !view.spawnerr.is_empty() => {
                return Err(Fault::with(FaultCode::SpawnError, namespec))
            }
            (Goal::Start, Some(view)) if matches!(view.state, State::Starting { .. }) => {}
            (Goal::Start, _) => return Err(Fault::with(FaultCode::AbnormalTermination, namespec)),
            (Goal::Stop, Some(view)) if !view.state.is_stopped() => {}
            (Goal::Stop, _) => return Ok(()),
        }
        if snapshots.changed().await.is_err() {
            return Err(Fault::bare(FaultCode::ShutdownState));
        }
    }
}

/// `startProcess`/`stopProcess` of one process.
async fn start_one(api: &Api, process: &ProcessView, wait: bool) -> Result<(), Fault> {
    one(api, process, Goal::Start, wait).await
}

async fn stop_one(api: &Api, process: &ProcessView, wait: bool) -> Result<(), Fault> {
    one(api, process, Goal::Stop, wait).await
}

async fn one(api: &Api, process: &ProcessView, goal: Goal, wait: bool) -> Result<(), Fault> {
    request(api, process, goal).await?;
    if wait {
        wait_for(api, process, goal).await?;
    }
    Ok(())
}

async fn signal_one(api: &Api, process: &ProcessView, signal: &str) -> Result<(), Fault> {
    let number = parse_signal(signal)?;
    let namespec = process.namespec();
    let key = key_of(process);
    api.handle
        .request(move |reply| Control::Signal(key, number, reply))
        .await
        .map_err(|refusal| refusal_fault(refusal, &namespec))
}

async fn start_group(api: &Api, group: &str, wait: bool) -> Outcome {
    let processes = group_processes(api, group)?;
    many(api, processes, Goal::Start, wait).await
}

async fn stop_group(api: &Api, group: &str, wait: bool) -> Outcome {
    let processes = group_processes(api, group)?;
    many(api, processes, Goal::Stop, wait).await
}

/// A group or all-processes start/stop as supervisord's `make_allfunc`: requests go out in
/// order; refusals are reported first, then each accepted request once its wait is over
/// (the waits run together, so these come in completion order).
async fn many(api: &Api, processes: Vec<ProcessView>, goal: Goal, wait: bool) -> Outcome {
    let mut results = Vec::new();
    let mut accepted = Vec::new();
    for process in processes.into_iter().filter(|p| goal.applies_to(p)) {
        match request(api, &process, goal).await {
            Ok(()) => accepted.push(process),
            Err(fault) => results.push(result_entry(&process, Err(fault))),
        }
    }
    if !wait {
        results.extend(accepted.iter().map(|process| result_entry(process, Ok(()))));
        return Ok(Value::Array(results));
    }
    // As supervisord, each result is added when its wait is over (completion order).
    let mut waits = tokio::task::JoinSet::new();
    for process in accepted {
        let api = api.clone();
        waits.spawn(async move {
            let outcome = wait_for(&api, &process, goal).await;
            result_entry(&process, outcome)
        });
    }
    while let Some(joined) = waits.join_next().await {
        if let Ok(entry) = joined {
            results.push(entry);
        }
    }
    Ok(Value::Array(results))
}

async fn signal_many(api: &Api, processes: Vec<ProcessView>, signal: &str) -> Outcome {
    let mut results = Vec::with_capacity(processes.len());
    let signallable = processes.iter().filter(|p| {
        matches!(
            p.state,
            State::Running { .. } | State::Starting { .. } | State::Stopping { .. }
        )
    });
    for process in signallable {
        results.push(result_entry(
            process,
            signal_one(api, process, signal).await,
        ));
    }
    Ok(Value::Array(results))
}

/// One entry of a result list: `{name, group, status, description}`.
fn result_entry(process: &ProcessView, outcome: Result<(), Fault>) -> Value {
    let (status, description) = match outcome {
        Ok(()) => (FaultCode::Success.code(), "OK".to_string()),
        Err(fault) => (fault.code.code(), fault.to_string()),
    };
    Value::record([
        ("name", Value::from(process.name.clone())),
        ("group", Value::from(process.group.clone())),
        ("status", Value::Int(status)),
        ("description", Value::from(description)),
    ])
}

fn stream_of(process: &ProcessView, stderr: bool) -> &LogStream {
    if stderr {
        &process.stderr
    } else {
        &process.stdout
    }
}

fn read(stream: &LogStream, offset: i64, length: i64) -> Outcome {
    let bytes = stream.read(offset, length).map_err(read_fault)?;
    Ok(Value::from(String::from_utf8_lossy(&bytes).into_owned()))
}

fn read_fault(error: ReadError) -> Fault {
    match error {
        ReadError::NoFile => Fault::bare(FaultCode::NoFile),
        ReadError::BadArguments => Fault::bare(FaultCode::BadArguments),
        ReadError::Failed(text) => Fault::with(FaultCode::Failed, text),
    }
}

fn clear_logs(process: &ProcessView) -> Result<(), Fault> {
    for stream in [&process.stdout, &process.stderr] {
        match stream.clear() {
            Ok(()) | Err(ReadError::NoFile) => {}
            Err(error) => return Err(read_fault(error)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespecs_split_like_supervisord() {
        assert_eq!(split_namespec("web"), ("web".into(), Some("web".into())));
        assert_eq!(
            split_namespec("g:web_1"),
            ("g".into(), Some("web_1".into()))
        );
        assert_eq!(split_namespec("g:*"), ("g".into(), None));
        assert_eq!(split_namespec("g:"), ("g".into(), None));
    }

    #[test]
    fn the_method_list_is_sorted_and_complete_for_what_is_served() {
        let names: Vec<&str> = METHODS.iter().map(|entry| entry.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        assert!(
            names.contains(&"system.multicall") && names.contains(&"supervisor.getAllProcessInfo")
        );
    }

    /// The read-only account's methods, written out: a new method lands in the table with
    /// `reads(` or `changes(`, and this list makes the choice a reviewed one.
    const READ_ONLY_METHODS: &[&str] = &[
        "supervisor.getAPIVersion",
        "supervisor.getAllConfigInfo",
        "supervisor.getAllProcessInfo",
        "supervisor.getIdentification",
        "supervisor.getPID",
        "supervisor.getProcessInfo",
        "supervisor.getState",
        "supervisor.getSupervisorVersion",
        "supervisor.getVersion",
        "supervisor.readLog",
        "supervisor.readMainLog",
        "supervisor.readProcessLog",
        "supervisor.readProcessStderrLog",
        "supervisor.readProcessStdoutLog",
        "supervisor.tailProcessLog",
        "supervisor.tailProcessStderrLog",
        "supervisor.tailProcessStdoutLog",
        "system.listMethods",
        "system.methodHelp",
        "system.methodSignature",
        "system.multicall",
        "vigil.getAllProcessStats",
        "vigil.getCrashLoopState",
        "vigil.getCrashes",
        "vigil.getProcessStats",
    ];

    #[test]
    fn the_methods_that_only_read_are_exactly_the_read_only_set() {
        let reading: Vec<&str> = METHODS
            .iter()
            .filter(|entry| entry.effect == Effect::Reads)
            .map(|entry| entry.name)
            .collect();
        assert_eq!(reading, READ_ONLY_METHODS);
        // Everything that starts, stops, signals, writes or clears, reloads or ends changes.
        for entry in METHODS
            .iter()
            .filter(|entry| entry.effect == Effect::Changes)
        {
            let name = entry.name.split_once('.').map_or("", |(_, name)| name);
            assert!(
                [
                    "add", "clear", "reload", "remove", "restart", "rolling", "send", "shutdown",
                    "signal", "start", "stop", "update",
                ]
                .iter()
                .any(|verb| name.starts_with(verb)),
                "{} is classified as changing but reads like a read",
                entry.name
            );
        }
        let changing = METHODS.len() - reading.len();
        assert_eq!(
            changing, 24,
            "every start, stop, signal, clear, add, remove, reload, restart, shutdown and send"
        );
    }
}
