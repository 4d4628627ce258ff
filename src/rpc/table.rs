//! The method table: every `supervisor.*`, `system.*` and `vigil.*` method as a [`Method`]
//! variant, declared once with its wire name, signature, help text and whether it reads or
//! changes something. `system.listMethods`, `methodHelp`/`methodSignature`, the read-only
//! rule and the dispatch's exhaustive `match` all come from this one list, so they cannot
//! drift apart. It holds no behaviour: what a method does is in `methods/`.

use std::str::FromStr;

/// What a method does, for the read-only account: it may call every method that [`Reads`],
/// and gets UNAUTHORIZED from every one that [`Changes`] something.
///
/// [`Reads`]: Effect::Reads
/// [`Changes`]: Effect::Changes
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Status, info, logs, stats, crash records, `system.*`: nothing changes.
    Reads,
    /// Processes, groups, logs, the config, the daemon or event listeners change.
    Changes,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
struct Entry {
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
) -> Entry {
    Entry {
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
) -> Entry {
    Entry {
        name,
        signature,
        help,
        effect: Effect::Changes,
    }
}

/// A name that is not in the table (UNKNOWN_METHOD).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown method {0}")]
pub struct UnknownMethod(pub String);

/// Declares [`Method`] from rows `Variant => reads|changes("wire.name", [signature], "help")`:
/// the variants (documented by their help text), [`Method::ALL`] in row order, the row of
/// each, and parsing from the wire name.
macro_rules! method_table {
    ($($variant:ident => $effect:ident($name:literal, [$($ty:literal),*], $help:literal),)*) => {
        /// One XML-RPC method, parsed once from its wire name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Method {
            $(#[doc = $help] $variant,)*
        }

        impl Method {
            /// Every method, in the table's (sorted) order: `system.listMethods`'s answer.
            pub const ALL: &'static [Method] = &[$(Method::$variant,)*];

            /// This method's row.
            const fn entry(self) -> Entry {
                match self {
                    $(Method::$variant => $effect($name, &[$($ty),*], $help),)*
                }
            }
        }

        impl FromStr for Method {
            type Err = UnknownMethod;

            fn from_str(name: &str) -> Result<Self, UnknownMethod> {
                match name {
                    $($name => Ok(Method::$variant),)*
                    _ => Err(UnknownMethod(name.to_string())),
                }
            }
        }
    };
}

// Sorted by wire name. The first word of each row (`reads` or `changes`) is the one place
// that decides what the read-only account may call, plain calls and multicall alike.
method_table! {
    AddProcessGroup => changes("supervisor.addProcessGroup", ["boolean", "string"],
        "Update the config for a running process from config file."),
    ClearAllProcessLogs => changes("supervisor.clearAllProcessLogs", ["array"],
        "Clear all process log files"),
    ClearLog => changes("supervisor.clearLog", ["boolean"],
        "Clear the main log."),
    ClearProcessLog => changes("supervisor.clearProcessLog", ["boolean", "string"],
        "Clear the stdout and stderr logs for the named process and reopen them."),
    ClearProcessLogs => changes("supervisor.clearProcessLogs", ["boolean", "string"],
        "Clear the stdout and stderr logs for the named process and reopen them."),
    GetApiVersion => reads("supervisor.getAPIVersion", ["string"],
        "Return the version of the RPC API used by supervisord"),
    GetAllConfigInfo => reads("supervisor.getAllConfigInfo", ["array"],
        "Get info about all available process configurations. Each struct represents a single process (i.e. groups get flattened)."),
    GetAllProcessInfo => reads("supervisor.getAllProcessInfo", ["array"],
        "Get info about all processes"),
    GetIdentification => reads("supervisor.getIdentification", ["string"],
        "Return identifying string of supervisord"),
    GetPid => reads("supervisor.getPID", ["int"],
        "Return the PID of supervisord"),
    GetProcessInfo => reads("supervisor.getProcessInfo", ["struct", "string"],
        "Get info about a process named name"),
    GetState => reads("supervisor.getState", ["struct"],
        "Return current state of supervisord as a struct"),
    GetSupervisorVersion => reads("supervisor.getSupervisorVersion", ["string"],
        "Return the version of the supervisor package in use by supervisord"),
    GetVersion => reads("supervisor.getVersion", ["string"],
        "Return the version of the RPC API used by supervisord"),
    ReadLog => reads("supervisor.readLog", ["string", "int", "int"],
        "Read length bytes from name's log starting at offset"),
    ReadMainLog => reads("supervisor.readMainLog", ["string", "int", "int"],
        "Read length bytes from name's log starting at offset"),
    ReadProcessLog => reads("supervisor.readProcessLog", ["string", "string", "int", "int"],
        "Read length bytes from name's stdout log starting at offset"),
    ReadProcessStderrLog => reads("supervisor.readProcessStderrLog", ["string", "string", "int", "int"],
        "Read length bytes from name's stderr log starting at offset"),
    ReadProcessStdoutLog => reads("supervisor.readProcessStdoutLog", ["string", "string", "int", "int"],
        "Read length bytes from name's stdout log starting at offset"),
    ReloadConfig => changes("supervisor.reloadConfig", ["array"],
        "Reload the configuration."),
    RemoveProcessGroup => changes("supervisor.removeProcessGroup", ["boolean", "string"],
        "Remove a stopped process from the active configuration."),
    Restart => changes("supervisor.restart", ["boolean"],
        "Restart the supervisor process"),
    SendProcessStdin => changes("supervisor.sendProcessStdin", ["boolean", "string", "string"],
        "Send a string of chars to the stdin of the process name."),
    SendRemoteCommEvent => changes("supervisor.sendRemoteCommEvent", ["boolean", "string", "string"],
        "Send an event that will be received by event listener subprocesses subscribing to the RemoteCommunicationEvent."),
    Shutdown => changes("supervisor.shutdown", ["boolean"],
        "Shut down the supervisor process"),
    SignalAllProcesses => changes("supervisor.signalAllProcesses", ["array", "string"],
        "Send a signal to all processes in the process list"),
    SignalProcess => changes("supervisor.signalProcess", ["boolean", "string", "string"],
        "Send an arbitrary UNIX signal to the process named by name"),
    SignalProcessGroup => changes("supervisor.signalProcessGroup", ["array", "string", "string"],
        "Send a signal to all processes in the group named 'name'"),
    StartAllProcesses => changes("supervisor.startAllProcesses", ["array", "boolean"],
        "Start all processes listed in the configuration file"),
    StartProcess => changes("supervisor.startProcess", ["boolean", "string", "boolean"],
        "Start a process"),
    StartProcessGroup => changes("supervisor.startProcessGroup", ["array", "string", "boolean"],
        "Start all processes in the group named 'name'"),
    StopAllProcesses => changes("supervisor.stopAllProcesses", ["array", "boolean"],
        "Stop all processes in the process list"),
    StopProcess => changes("supervisor.stopProcess", ["boolean", "string", "boolean"],
        "Stop a process named by name"),
    StopProcessGroup => changes("supervisor.stopProcessGroup", ["array", "string", "boolean"],
        "Stop all processes in the process group named 'name'"),
    TailProcessLog => reads("supervisor.tailProcessLog", ["array", "string", "int", "int"],
        "Provides a more efficient way to tail the (stdout) log than readProcessStdoutLog()."),
    TailProcessStderrLog => reads("supervisor.tailProcessStderrLog", ["array", "string", "int", "int"],
        "Provides a more efficient way to tail the (stderr) log than readProcessStderrLog()."),
    TailProcessStdoutLog => reads("supervisor.tailProcessStdoutLog", ["array", "string", "int", "int"],
        "Provides a more efficient way to tail the (stdout) log than readProcessStdoutLog()."),
    ListMethods => reads("system.listMethods", ["array"],
        "Return an array listing the available methods"),
    MethodHelp => reads("system.methodHelp", ["string", "string"],
        "Return a string showing the method's documentation"),
    MethodSignature => reads("system.methodSignature", ["array", "string"],
        "Return an array describing the method signature in the form [rtype, ptype, ptype...]"),
    Multicall => reads("system.multicall", ["array", "array"],
        "Process an array of calls, and return an array of results."),
    GetAllProcessStats => reads("vigil.getAllProcessStats", ["array"],
        "Get what every process uses (CPU, memory, threads, fds, uptime) and its restart and crash counts"),
    GetCrashLoopState => reads("vigil.getCrashLoopState", ["struct", "string"],
        "Get whether a process is in a crash loop, its recent crashes and the wait before its next start"),
    GetCrashes => reads("vigil.getCrashes", ["array", "string", "int"],
        "Get the newest crash records of a process (limit 0 = all kept), with the last lines of its output"),
    GetDaemonInfo => reads("vigil.getDaemonInfo", ["struct"],
        "Get the running vigild's version, pid, handovers to a new image so far and config reloads"),
    GetProcessConfig => reads("vigil.getProcessConfig", ["array", "string"],
        "Get the effective config of a process (every option after defaults and expansions) as [option, value] pairs"),
    GetProcessStats => reads("vigil.getProcessStats", ["struct", "string"],
        "Get what one process uses (CPU, memory, threads, fds, uptime) and its restart and crash counts"),
    GetSchedules => reads("vigil.getSchedules", ["array"],
        "Get every schedule (schedule=, restart_schedule=) with its next time and the runs it skipped"),
    ReadPreviousLog => reads("vigil.readPreviousLog", ["string", "string", "string"],
        "Read the last output of a process's run before the current one (channel stdout or stderr)"),
    Reexec => changes("vigil.reexec", ["boolean", "string"],
        "Hand the fleet to a new vigild image of a binary (empty: the running one, read again from disk) without restarting any program"),
    ReloadProcess => changes("vigil.reloadProcess", ["array", "string", "boolean"],
        "Send a process (group:*, or all) its reloadsignal for a graceful reload; with wait, a ready=notify program's RELOADING=1 then READY=1 is waited for"),
    RollingRestart => changes("vigil.rollingRestart", ["array", "string", "int", "boolean"],
        "Restart a group a batch of processes at a time, each batch RUNNING (and healthy) before the next"),
    RotateLogs => changes("vigil.rotateLogs", ["array", "string"],
        "Rotate the log files of a process, of a group (group:*) or of all now, whatever their size"),
    RotateMainLog => changes("vigil.rotateMainLog", ["boolean"],
        "Rotate the main log now, whatever its size"),
    ScaleGroup => changes("vigil.scaleGroup", ["boolean", "string", "int"],
        "Run a numprocs program's group with n processes: new members start, the highest-numbered stop, the rest keep running"),
    StartProcesses => changes("vigil.startProcesses", ["array", "array", "boolean"],
        "Start several processes (or group:*) together, waiting for all of them"),
    StopProcesses => changes("vigil.stopProcesses", ["array", "array", "boolean"],
        "Stop several processes (or group:*) together, waiting for all of them"),
    UpdateProcessGroup => changes("vigil.updateProcessGroup", ["boolean", "string"],
        "Apply the reread config to one group, restarting only the members that changed"),
}

impl Method {
    /// The wire name (`supervisor.getProcessInfo`).
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    /// `system.methodSignature`'s answer: `[return, params…]`.
    pub fn signature(self) -> &'static [&'static str] {
        self.entry().signature
    }

    /// `system.methodHelp`'s answer.
    pub fn help(self) -> &'static str {
        self.entry().help
    }

    /// Whether it reads or changes something (the read-only rule).
    pub fn effect(self) -> Effect {
        self.entry().effect
    }

    /// Whether it is refused with SHUTDOWN_STATE while the supervisor is not running:
    /// every `supervisor.*` and `vigil.*` method; `system.*` always answers.
    pub fn needs_running_supervisor(self) -> bool {
        !self.name().starts_with("system.")
    }

    /// Methods that need nothing of the process table, answered even while the supervisor
    /// is still opening log files at start-up; every other call waits until it is ready.
    pub fn answered_during_startup(self) -> bool {
        matches!(
            self,
            Method::GetState
                | Method::GetPid
                | Method::GetIdentification
                | Method::GetApiVersion
                | Method::GetVersion
                | Method::GetSupervisorVersion
                | Method::ListMethods
                | Method::MethodHelp
                | Method::MethodSignature
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_method_list_is_sorted_and_complete_for_what_is_served() {
        let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        assert!(
            names.contains(&"system.multicall") && names.contains(&"supervisor.getAllProcessInfo")
        );
        assert_eq!(names.len(), 58);
    }

    #[test]
    fn every_name_parses_back_to_its_method() {
        for method in Method::ALL {
            assert_eq!(method.name().parse::<Method>(), Ok(*method));
            assert!(!method.signature().is_empty(), "{}", method.name());
            assert!(!method.help().is_empty());
        }
        assert_eq!(
            "supervisor.nope".parse::<Method>(),
            Err(UnknownMethod("supervisor.nope".into()))
        );
        assert!("getPID".parse::<Method>().is_err());
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
        "vigil.getDaemonInfo",
        "vigil.getProcessConfig",
        "vigil.getProcessStats",
        "vigil.getSchedules",
        "vigil.readPreviousLog",
    ];

    #[test]
    fn the_methods_that_only_read_are_exactly_the_read_only_set() {
        let reading: Vec<&str> = Method::ALL
            .iter()
            .filter(|m| m.effect() == Effect::Reads)
            .map(|m| m.name())
            .collect();
        assert_eq!(reading, READ_ONLY_METHODS);
        // Everything that starts, stops, signals, writes or clears, reloads or ends changes.
        for method in Method::ALL.iter().filter(|m| m.effect() == Effect::Changes) {
            let name = method.name().split_once('.').map_or("", |(_, name)| name);
            assert!(
                [
                    "add", "clear", "reexec", "reload", "remove", "restart", "rolling", "rotate",
                    "scale", "send", "shutdown", "signal", "start", "stop", "update",
                ]
                .iter()
                .any(|verb| name.starts_with(verb)),
                "{} is classified as changing but reads like a read",
                method.name()
            );
        }
        let changing = Method::ALL.len() - reading.len();
        assert_eq!(
            changing, 29,
            "every start, stop, signal, clear, rotate, add, remove, reload, restart, shutdown and send"
        );
    }

    #[test]
    fn only_the_version_and_state_calls_answer_during_startup() {
        let early: Vec<&str> = Method::ALL
            .iter()
            .filter(|m| m.answered_during_startup())
            .map(|m| m.name())
            .collect();
        assert_eq!(
            early,
            [
                "supervisor.getAPIVersion",
                "supervisor.getIdentification",
                "supervisor.getPID",
                "supervisor.getState",
                "supervisor.getSupervisorVersion",
                "supervisor.getVersion",
                "system.listMethods",
                "system.methodHelp",
                "system.methodSignature",
            ]
        );
        assert!(!Method::Multicall.answered_during_startup());
        assert!(!Method::ListMethods.needs_running_supervisor());
        assert!(Method::GetCrashes.needs_running_supervisor());
    }
}
