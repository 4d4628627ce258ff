//! Why a start did not take: supervisord's `spawnerr`, as a type. The wording of each
//! variant is supervisord's (the text `getProcessInfo` shows and `spawnerr:` logs); the
//! variant decides the fault a refused `startProcess` gets (`rpc::faults`). This module
//! only describes; it decides nothing.

use std::path::PathBuf;

/// Why the last start of a process failed or did not stay up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    /// The command line does not split with shell rules.
    #[error("can't parse command '{command}'")]
    UnparsableCommand {
        /// The command as configured.
        command: String,
    },
    /// The command line is empty.
    #[error("command is empty")]
    EmptyCommand,
    /// A reason kept from the vigild that handed its fleet over (`vigilctl reexec`), as it
    /// was shown there.
    #[error("{0}")]
    HandedOver(String),
    /// Not found, as given or on PATH (supervisord's NO_FILE).
    #[error("can't find command '{argv0}'")]
    CommandNotFound {
        /// The program as written in the command.
        argv0: String,
    },
    /// The command names a directory (NOT_EXECUTABLE).
    #[error("command at '{}' is a directory", path.display())]
    CommandIsDirectory {
        /// Where it was found.
        path: PathBuf,
    },
    /// The command has no execute bit (NOT_EXECUTABLE).
    #[error("command at '{}' is not executable", path.display())]
    CommandNotExecutable {
        /// Where it was found.
        path: PathBuf,
    },
    /// vigild may not execute the command (NOT_EXECUTABLE).
    #[error("no permission to run command '{}'", path.display())]
    NoPermission {
        /// Where it was found.
        path: PathBuf,
    },
    /// A string handed to exec contains a NUL byte.
    #[error("can't spawn: the {what} contains a NUL byte")]
    NulByte {
        /// Which part: the command, the environment or the directory.
        what: &'static str,
    },
    /// vigil `environment_file` could not be read.
    #[error("couldn't read environment_file {}: {error}", path.display())]
    EnvironmentFileUnreadable {
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: String,
    },
    /// vigil `environment_file` has a line that is not `NAME=value`.
    #[error("bad environment_file {}: {why}", path.display())]
    EnvironmentFileInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its line.
        why: crate::config::Invalid,
    },
    /// `user=` names another user and vigild is not root.
    #[error(
        "can't run as user '{user}': vigild is not running as root (can't drop privilege as nonroot user)"
    )]
    NotRoot {
        /// The configured user.
        user: String,
    },
    /// The child could not change to its `directory`.
    #[error("couldn't chdir{}: {errno}", directory.as_ref().map(|dir| format!(" to {}", dir.display())).unwrap_or_default())]
    Chdir {
        /// The configured directory.
        directory: Option<PathBuf>,
        /// `ENOENT`-style name of the error.
        errno: String,
    },
    /// The child could not switch to its user.
    #[error("couldn't setuid{}: {errno}", uid.map(|uid| format!(" to {uid}")).unwrap_or_default())]
    Setuid {
        /// The uid it was to switch to.
        uid: Option<u32>,
        /// `ENOENT`-style name of the error.
        errno: String,
    },
    /// vigil `cgroup_root`: the process's cgroup could not be made.
    #[error("couldn't create the cgroup {}: {errno}", dir.display())]
    Cgroup {
        /// The cgroup's directory.
        dir: PathBuf,
        /// `EACCES`-style name of the error.
        errno: String,
    },
    /// vigil: the child could not apply one of its resource controls.
    #[error("couldn't apply {what}: {errno}")]
    Control {
        /// The option and its value (`rlimit_nofile=1048576`).
        what: String,
        /// `EPERM`-style name of the error.
        errno: String,
    },
    /// vigil: an `rlimit_*` above vigild's own hard limit, which vigild (not root) cannot
    /// raise.
    #[error("{option}={wanted} is above vigild's own hard limit ({own}); only a vigild with CAP_SYS_RESOURCE (root) may raise it")]
    AboveHardLimit {
        /// The option.
        option: &'static str,
        /// Its value.
        wanted: String,
        /// vigild's hard limit.
        own: String,
    },
    /// The exec itself failed.
    #[error("couldn't exec {argv0}: {errno}")]
    Exec {
        /// The program as written in the command.
        argv0: String,
        /// `ENOENT`-style name of the error.
        errno: String,
    },
    /// vigild ran out of file descriptors making the child's pipes.
    #[error("too many open files to spawn '{name}'")]
    TooManyFiles {
        /// The process.
        name: String,
    },
    /// Making the child's pipes failed otherwise (or its helper was lost).
    #[error("unknown error making dispatchers for '{name}': {errno}")]
    Dispatchers {
        /// The process.
        name: String,
        /// `ENOENT`-style name of the error, or its text.
        errno: String,
    },
    /// The process table is full (EAGAIN from clone).
    #[error("Too many processes in process table to spawn '{name}'")]
    TooManyProcesses {
        /// The process.
        name: String,
    },
    /// The fcgi program's socket could not be created.
    #[error("no socket for fcgi-program '{program}'")]
    NoFcgiSocket {
        /// The program.
        program: String,
    },
    /// The child exited before `startsecs`.
    #[error("Exited too quickly (process log may have details)")]
    ExitedTooQuickly,
    /// The child exited with a code not in `exitcodes`.
    #[error("Bad exit code {0}")]
    BadExitCode(i32),
    /// vigil: a crash loop ended in FATAL (`crashloop_giveup`).
    #[error("crash loop: gave up after {restarts} delayed restarts")]
    CrashLoopGaveUp {
        /// Delayed restarts before giving up.
        restarts: u32,
    },
    /// vigil `ready=`: the child did not say it was ready within `ready_timeout`, and was
    /// stopped as a failed start.
    #[error("not ready within {seconds}s ({how})")]
    NotReady {
        /// `ready_timeout`, in seconds.
        seconds: u64,
        /// The `ready=` it waited for, as written.
        how: String,
    },
    /// vigil `depends_on`: a dependency is FATAL, so it will never be ready.
    #[error("dependency {dependency} is FATAL")]
    DependencyFatal {
        /// The dependency's name.
        dependency: String,
    },
    /// vigil: reading the `environment_file` or looking up the command or directory did
    /// not finish in time (a hung file system); the start is given up, vigild goes on.
    #[error("couldn't prepare the start within {seconds}s (environment_file, command or directory lookup stuck)")]
    PrepareTimedOut {
        /// How long it was given.
        seconds: u64,
    },
}

impl SpawnError {
    /// An error supervisord's `startProcess` finds before anything changes (its
    /// `get_execv_args`): the command does not parse or cannot be run. A start by hand
    /// that fails so is refused and leaves the process as it was.
    pub fn is_preflight(&self) -> bool {
        matches!(
            self,
            SpawnError::UnparsableCommand { .. }
                | SpawnError::EmptyCommand
                | SpawnError::CommandNotFound { .. }
                | SpawnError::CommandIsDirectory { .. }
                | SpawnError::CommandNotExecutable { .. }
                | SpawnError::NoPermission { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_supervisords() {
        let chdir = SpawnError::Chdir {
            directory: Some("/nope".into()),
            errno: "ENOENT".into(),
        };
        assert_eq!(chdir.to_string(), "couldn't chdir to /nope: ENOENT");
        let setuid = SpawnError::Setuid {
            uid: None,
            errno: "EPERM".into(),
        };
        assert_eq!(setuid.to_string(), "couldn't setuid: EPERM");
        assert_eq!(
            SpawnError::CommandNotFound {
                argv0: "nope".into()
            }
            .to_string(),
            "can't find command 'nope'"
        );
        assert_eq!(
            SpawnError::ExitedTooQuickly.to_string(),
            "Exited too quickly (process log may have details)"
        );
    }
}
