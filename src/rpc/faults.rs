//! supervisord's fault codes (`xmlrpc.Faults`) and fault strings (`NAME` or `NAME: detail`),
//! plus vigil's own codes, numbered well clear of supervisord's 1–92.

use std::fmt;

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
    pub fn code(self) -> i64 {
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
