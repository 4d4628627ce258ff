//! `vigilctl help [command]`: the list of commands, and each command's help: supervisorctl's
//! own text for its commands (so the muscle memory of `help restart` carries over), vigil's
//! for its additions. Only text: what a command does is in its own file.

/// supervisorctl's commands and their help, as supervisorctl 4.3 prints it.
const SUPERVISORCTL: &[(&str, &str)] = &[
    ("add", "add <name> [...]\tActivates any updates in config for process/group"),
    ("avail", "avail\t\t\tDisplay all configured processes"),
    ("clear", "clear <name>\t\tClear a process' log files.\nclear <name> <name>\tClear multiple process' log files\nclear all\t\tClear all process' log files"),
    ("exit", "exit\tExit the supervisor shell."),
    ("fg", "fg <process>\tConnect to a process in foreground mode\n\t\tCtrl-C to exit"),
    ("help", "help\t\tPrint a list of available actions\nhelp <action>\tPrint help for <action>"),
    ("maintail", "maintail -f \tContinuous tail of supervisor main log file (Ctrl-C to exit)\nmaintail -100\tlast 100 *bytes* of supervisord main log file\nmaintail\tlast 1600 *bytes* of supervisor main log file"),
    ("pid", "pid\t\t\tGet the PID of supervisord.\npid <name>\t\tGet the PID of a single child process by name.\npid all\t\t\tGet the PID of every child process, one per line."),
    ("quit", "quit\tExit the supervisor shell."),
    ("reload", "reload \t\tRestart the remote supervisord."),
    ("remove", "remove <name> [...]\tRemoves process/group from active config"),
    ("reread", "reread \t\t\tReload the daemon's configuration files without add/remove"),
    ("restart", "restart <name>\t\tRestart a process\nrestart <gname>:*\tRestart all processes in a group\nrestart <name> <name>\tRestart multiple processes or groups\nrestart all\t\tRestart all processes\nNote: restart does not reread config files. For that, see reread and update."),
    ("shutdown", "shutdown \tShut the remote supervisord down."),
    ("signal", "signal <signal name> <name>\t\tSignal a process\nsignal <signal name> <gname>:*\t\tSignal all processes in a group\nsignal <signal name> <name> <name>\tSignal multiple processes or groups\nsignal <signal name> all\t\tSignal all processes"),
    ("start", "start <name>\t\tStart a process\nstart <gname>:*\t\tStart all processes in a group\nstart <name> <name>\tStart multiple processes or groups\nstart all\t\tStart all processes"),
    ("status", "status <name>\t\tGet status for a single process\nstatus <gname>:*\tGet status for all processes in a group\nstatus <name> <name>\tGet status for multiple named processes\nstatus\t\t\tGet all process status info"),
    ("stop", "stop <name>\t\tStop a process\nstop <gname>:*\t\tStop all processes in a group\nstop <name> <name>\tStop multiple processes or groups\nstop all\t\tStop all processes"),
    ("tail", "tail [-f] <name> [stdout|stderr] (default stdout)\nEx:\ntail -f <name>\t\tContinuous tail of named process stdout\n\t\t\tCtrl-C to exit.\ntail -100 <name>\tlast 100 *bytes* of process stdout\ntail <name> stderr\tlast 1600 *bytes* of process stderr"),
    ("update", "update\t\t\tReload config and add/remove as necessary, and will restart affected programs\nupdate all\t\tReload config and add/remove as necessary, and will restart affected programs\nupdate <gname> [...]\tUpdate specific groups"),
    ("version", "version\t\t\tShow the version of the remote supervisord process"),
];

/// vigil's own commands.
const VIGIL: &[(&str, &str)] = &[
    ("completions", "completions bash|zsh|fish\tPrint vigilctl's completion script for the shell"),
    ("manpage", "manpage\t\t\tPrint vigilctl's man page (roff, for man -l)"),
    ("config", "config <name>\t\tShow a process's effective config (every option after defaults)"),
    ("crashes", "crashes <name> [-n N] [--json]\tWhy a program keeps crashing: its crash records (newest\n\t\t\tfirst) with the last lines of output, and its crash loop"),
    ("reexec", "reexec [--binary PATH]\tHand the fleet to a new vigild (the same binary, read again\n\t\t\tfrom disk, or PATH) without restarting any program"),
    ("reload-program", "reload-program <name> [...]\tSend the processes their reloadsignal (graceful reload)\nreload-program <gname>:*\tReload a group's processes\nreload-program all\t\tReload every process with a reloadsignal\nreload-program --no-wait ...\tDo not wait for a ready=notify program's READY=1"),
    ("rotate", "rotate <name>|<gname>:*|all\tRotate the processes' log files now\nrotate --main\t\t\tRotate the main log now"),
    ("scale", "scale <gname> <n>\tRun a numprocs program's group with n processes: new members\n\t\t\tstart, the highest-numbered stop, the rest keep running"),
    ("schedules", "schedules [--json]\tEvery schedule=/restart_schedule=, its next time and the runs skipped"),
    ("top", "top\t\t\tA live view of the fleet: state, health, CPU, memory, uptime, restarts;\n\t\t\tsort (1-7 < > i), filter (/), details (Enter), start/stop/restart (s x r)"),
    ("wait", "wait <name> [...] [--timeout S]\tWait until the processes are RUNNING (and ready)"),
];

/// Every command `vigilctl` knows, sorted.
pub fn commands() -> Vec<&'static str> {
    let mut names: Vec<&str> = SUPERVISORCTL
        .iter()
        .chain(VIGIL)
        .map(|(name, _)| *name)
        .collect();
    names.sort_unstable();
    names
}

/// The help of `command`, or None for a command vigilctl does not know.
pub fn of(command: &str) -> Option<&'static str> {
    SUPERVISORCTL
        .iter()
        .chain(VIGIL)
        .find(|(name, _)| *name == command)
        .map(|(_, text)| *text)
}

/// What `command` does, in a few words (its help's first line without the usage), for
/// completions and the man page.
pub fn summary(command: &str) -> String {
    of(command)
        .and_then(|text| text.lines().next())
        .and_then(|line| line.rsplit('\t').next())
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// `help` alone: the commands, as supervisorctl's header introduces them.
pub fn list() -> String {
    format!(
        "default commands (type help <topic>):\n=====================================\n{}",
        commands().join("  ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_its_help_and_supervisorctls_read_as_its_own() {
        for command in commands() {
            assert!(
                of(command).is_some_and(|text| !text.is_empty()),
                "{command}"
            );
        }
        assert!(of("restart")
            .is_some_and(|text| text.starts_with("restart <name>\t\tRestart a process")));
        assert!(commands().contains(&"fg") && commands().contains(&"crashes"));
        assert_eq!(of("nope"), None);
    }
}
