//! supervisord's fault codes (`xmlrpc.Faults`) and fault strings (`NAME` or `NAME: detail`),
//! plus vigil's own codes, numbered well clear of supervisord's 1–92; and the one mapping
//! from the typed errors the methods meet (the supervisor's [`Refusal`], a log's
//! [`ReadError`], an unknown method) to those faults, by variant. It decides no behaviour.

use std::fmt;

use super::table::UnknownMethod;
use crate::logs::stream::ReadError;
use crate::process::spawn::SpawnError;
use crate::supervisor::Refusal;

/// One of supervisord's fault codes, or one of vigil's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCode {
    /// 1: the method does not exist.
    UnknownMethod,
    /// 2: wrong number or type of arguments.
    IncorrectParameters,
    /// 3: a bad offset/length combination.
    BadArguments,
    /// 4: help or signature asked for an unknown method.
    SignatureUnsupported,
    /// 6: the supervisor is shutting down or restarting.
    ShutdownState,
    /// 10: unknown process or group.
    BadName,
    /// 11: unparseable signal.
    BadSignal,
    /// 20: no such file (command or log).
    NoFile,
    /// 21: the command is not executable.
    NotExecutable,
    /// 30: anything else.
    Failed,
    /// 40: the process left STARTING before RUNNING.
    AbnormalTermination,
    /// 50: the spawn failed.
    SpawnError,
    /// 60: already started.
    AlreadyStarted,
    /// 70: not running.
    NotRunning,
    /// 80: success (in result lists only).
    Success,
    /// 90: the group is already active.
    AlreadyAdded,
    /// 91: the group still has running processes.
    StillRunning,
    /// 92: the config cannot be re-read.
    CantReread,
    /// vigil's 403: the read-only account called a method that changes something.
    Unauthorized,
}

impl FaultCode {
    /// The number on the wire.
    pub const fn code(self) -> i64 {
        match self {
            FaultCode::UnknownMethod => 1,
            FaultCode::IncorrectParameters => 2,
            FaultCode::BadArguments => 3,
            FaultCode::SignatureUnsupported => 4,
            FaultCode::ShutdownState => 6,
            FaultCode::BadName => 10,
            FaultCode::BadSignal => 11,
            FaultCode::NoFile => 20,
            FaultCode::NotExecutable => 21,
            FaultCode::Failed => 30,
            FaultCode::AbnormalTermination => 40,
            FaultCode::SpawnError => 50,
            FaultCode::AlreadyStarted => 60,
            FaultCode::NotRunning => 70,
            FaultCode::Success => 80,
            FaultCode::AlreadyAdded => 90,
            FaultCode::StillRunning => 91,
            FaultCode::CantReread => 92,
            FaultCode::Unauthorized => 403,
        }
    }

    /// The name used in fault strings.
    pub fn name(self) -> &'static str {
        match self {
            FaultCode::UnknownMethod => "UNKNOWN_METHOD",
            FaultCode::IncorrectParameters => "INCORRECT_PARAMETERS",
            FaultCode::BadArguments => "BAD_ARGUMENTS",
            FaultCode::SignatureUnsupported => "SIGNATURE_UNSUPPORTED",
            FaultCode::ShutdownState => "SHUTDOWN_STATE",
            FaultCode::BadName => "BAD_NAME",
            FaultCode::BadSignal => "BAD_SIGNAL",
            FaultCode::NoFile => "NO_FILE",
            FaultCode::NotExecutable => "NOT_EXECUTABLE",
            FaultCode::Failed => "FAILED",
            FaultCode::AbnormalTermination => "ABNORMAL_TERMINATION",
            FaultCode::SpawnError => "SPAWN_ERROR",
            FaultCode::AlreadyStarted => "ALREADY_STARTED",
            FaultCode::NotRunning => "NOT_RUNNING",
            FaultCode::Success => "SUCCESS",
            FaultCode::AlreadyAdded => "ALREADY_ADDED",
            FaultCode::StillRunning => "STILL_RUNNING",
            FaultCode::CantReread => "CANT_REREAD",
            FaultCode::Unauthorized => "UNAUTHORIZED",
        }
    }
}

/// A fault: code plus optional detail, shown as supervisord shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The code.
    pub code: FaultCode,
    /// Text after `NAME: `, if any.
    pub detail: Option<String>,
}

impl Fault {
    /// A fault without detail (`NOT_RUNNING`).
    pub fn bare(code: FaultCode) -> Self {
        Fault { code, detail: None }
    }

    /// A fault with detail (`BAD_NAME: nope`).
    pub fn with(code: FaultCode, detail: impl Into<String>) -> Self {
        Fault {
            code,
            detail: Some(detail.into()),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(detail) => write!(f, "{}: {detail}", self.code.name()),
            None => write!(f, "{}", self.code.name()),
        }
    }
}

impl Fault {
    /// The supervisor's refusal of a request about `namespec` (a process or a group), as
    /// supervisord words it.
    pub fn refused(refusal: Refusal, namespec: &str) -> Self {
        match refusal {
            Refusal::BadName => Fault::with(FaultCode::BadName, namespec),
            Refusal::AlreadyStarted => Fault::with(FaultCode::AlreadyStarted, namespec),
            Refusal::NotRunning => Fault::with(FaultCode::NotRunning, namespec),
            Refusal::SpawnError(spawnerr) => spawn_fault(&spawnerr, namespec),
            Refusal::Failed(text) => Fault::with(FaultCode::Failed, format!("{namespec}: {text}")),
            Refusal::ShuttingDown => Fault::bare(FaultCode::ShutdownState),
            Refusal::StdinClosed => Fault::with(FaultCode::NoFile, namespec),
            Refusal::AlreadyAdded => Fault::with(FaultCode::AlreadyAdded, namespec),
            Refusal::StillRunning => Fault::with(FaultCode::StillRunning, namespec),
            Refusal::NoReloadSignal => Fault::with(
                FaultCode::Failed,
                format!("{namespec}: no reloadsignal is set for this program"),
            ),
        }
    }
}

/// A start refused because the command cannot be run: supervisord's NO_FILE and
/// NOT_EXECUTABLE (from `get_execv_args`) carry the text, any other spawn error is a
/// SPAWN_ERROR naming the process.
fn spawn_fault(spawnerr: &SpawnError, namespec: &str) -> Fault {
    match spawnerr {
        SpawnError::CommandNotFound { .. } => Fault::with(FaultCode::NoFile, spawnerr.to_string()),
        SpawnError::CommandIsDirectory { .. }
        | SpawnError::CommandNotExecutable { .. }
        | SpawnError::NoPermission { .. } => {
            Fault::with(FaultCode::NotExecutable, spawnerr.to_string())
        }
        _ => Fault::with(FaultCode::SpawnError, namespec),
    }
}

impl From<ReadError> for Fault {
    /// A log read or clear that could not be served.
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::NoFile => Fault::bare(FaultCode::NoFile),
            ReadError::BadArguments => Fault::bare(FaultCode::BadArguments),
            ReadError::Failed(text) => Fault::with(FaultCode::Failed, text),
        }
    }
}

impl From<UnknownMethod> for Fault {
    /// A name that is not in the method table.
    fn from(_: UnknownMethod) -> Self {
        Fault::bare(FaultCode::UnknownMethod)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_read_as_supervisord_shows_them() {
        assert_eq!(
            Fault::bare(FaultCode::NotRunning).to_string(),
            "NOT_RUNNING"
        );
        assert_eq!(
            Fault::with(FaultCode::BadName, "nope").to_string(),
            "BAD_NAME: nope"
        );
    }

    #[test]
    fn refusals_map_by_variant() {
        assert_eq!(
            Fault::refused(Refusal::BadName, "g:a"),
            Fault::with(FaultCode::BadName, "g:a")
        );
        assert_eq!(
            Fault::refused(Refusal::Failed("kill failed".into()), "a"),
            Fault::with(FaultCode::Failed, "a: kill failed")
        );
        assert_eq!(
            Fault::refused(Refusal::ShuttingDown, "a"),
            Fault::bare(FaultCode::ShutdownState)
        );
        assert_eq!(
            Fault::refused(Refusal::StdinClosed, "a"),
            Fault::with(FaultCode::NoFile, "a")
        );
    }

    #[test]
    fn spawn_errors_keep_supervisords_three_faults() {
        let missing = SpawnError::CommandNotFound {
            argv0: "nope".into(),
        };
        assert_eq!(
            Fault::refused(Refusal::SpawnError(missing), "a"),
            Fault::with(FaultCode::NoFile, "can't find command 'nope'")
        );
        for (error, text) in [
            (
                SpawnError::CommandIsDirectory {
                    path: "/tmp".into(),
                },
                "command at '/tmp' is a directory",
            ),
            (
                SpawnError::CommandNotExecutable {
                    path: "/etc/passwd".into(),
                },
                "command at '/etc/passwd' is not executable",
            ),
            (
                SpawnError::NoPermission {
                    path: "/root/x".into(),
                },
                "no permission to run command '/root/x'",
            ),
        ] {
            assert_eq!(
                Fault::refused(Refusal::SpawnError(error), "a"),
                Fault::with(FaultCode::NotExecutable, text)
            );
        }
        let exec = SpawnError::Exec {
            argv0: "x".into(),
            errno: "ENOENT".into(),
        };
        assert_eq!(
            Fault::refused(Refusal::SpawnError(exec), "a"),
            Fault::with(FaultCode::SpawnError, "a")
        );
    }

    #[test]
    fn log_read_errors_map_by_variant() {
        assert_eq!(
            Fault::from(ReadError::NoFile),
            Fault::bare(FaultCode::NoFile)
        );
        assert_eq!(
            Fault::from(ReadError::Failed("EIO".into())),
            Fault::with(FaultCode::Failed, "EIO")
        );
    }
}
