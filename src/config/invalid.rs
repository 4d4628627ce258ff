//! Why one option's value is refused. The config's parsers return these; the section
//! reader puts each in a [`super::diagnostic::Diagnostic`] with the file, section, option and
//! value, so the wording here says only what is wrong with the value.

use std::path::PathBuf;

/// What is wrong with a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// Not one of supervisord's boolean words.
    #[error("not a boolean (expected true or false)")]
    NotBoolean,
    /// vigil's `*_logfile_rotate`.
    #[error("not a rotation period (expected daily or hourly)")]
    NotRotationPeriod,
    /// vigil's `*_logfile_format`.
    #[error("not a log format (expected plain or json)")]
    NotLogFormat,
    /// vigil's `*_logfile_compress`.
    #[error("not a compression (expected gzip or zstd)")]
    NotCompression,
    /// Not a decimal integer.
    #[error("not an integer")]
    NotInteger,
    /// A count or duration below zero.
    #[error("must not be negative")]
    Negative,
    /// Beyond what the option's type holds.
    #[error("is too large")]
    TooLarge,
    /// Not `N`, `NKB`, `NMB` or `NGB`.
    #[error("not a byte size (expected e.g. 1024, 50KB, 10MB or 1GB)")]
    NotByteSize,
    /// A byte size beyond 64 bits.
    #[error("byte size is too large")]
    ByteSizeTooLarge,
    /// Not a number of seconds.
    #[error("not a number of seconds (expected e.g. 5 or 0.5)")]
    NotSeconds,
    /// Zero where a probe needs time.
    #[error("must be above 0 seconds")]
    NotPositive,
    /// Longer than the year an option may take.
    #[error("must be at most a year")]
    OverAYear,
    /// Not an octal mode.
    #[error("not an octal mode (expected e.g. 022)")]
    NotOctal,
    /// A number that is no signal.
    #[error("not a valid signal number")]
    NotSignalNumber,
    /// A name that is no signal.
    #[error("not a signal name (expected e.g. TERM, HUP, INT, QUIT, KILL, USR1, USR2)")]
    NotSignalName,
    /// An `exitcodes` item outside 0..255.
    #[error("'{0}' is not an exit code (expected numbers 0..255)")]
    NotExitCode(String),
    /// `K=v` pairs that stop halfway.
    #[error("unexpected end of key/value pairs")]
    UnfinishedPairs,
    /// A quote that is never closed.
    #[error("no closing quotation")]
    NoClosingQuotation,
    /// An `environment_file` line without `=`.
    #[error("line {line}: expected KEY=VALUE")]
    NotKeyValue {
        /// Its number, from 1.
        line: usize,
    },
    /// An `environment_file` line whose name is not a variable name.
    #[error("line {line}: '{key}' is not a variable name")]
    NotVariableName {
        /// Its number, from 1.
        line: usize,
        /// The name found.
        key: String,
    },
    /// A process or group name with blanks, `:` or `/`.
    #[error("invalid name (must not be empty or contain blanks, ':' or '/')")]
    BadName,
    /// A priority beyond 32 bits.
    #[error("priority is out of range")]
    PriorityOutOfRange,
    /// Not one of supervisord's log levels.
    #[error("bad log level (expected critical, error, warn, info, debug, trace or blather)")]
    NotLogLevel,
    /// The user database could not be asked.
    #[error("could not look up user '{name}': {error}")]
    UserLookup {
        /// The user.
        name: String,
        /// The OS error.
        error: String,
    },
    /// No such user.
    #[error("invalid user name '{0}'")]
    NoSuchUser(String),
    /// The group database could not be asked.
    #[error("could not look up group '{name}': {error}")]
    GroupLookup {
        /// The group.
        name: String,
        /// The OS error.
        error: String,
    },
    /// No such group.
    #[error("invalid group name '{0}'")]
    NoSuchGroup(String),
    /// Not a `[inet_http_server] port`.
    #[error("not a port (expected host:port, *:port, :port or port)")]
    NotInetPort,
    /// A file whose directory does not exist.
    #[error("the directory named as part of the path {} does not exist", .0.display())]
    NoSuchParent(PathBuf),
    /// A directory that does not exist.
    #[error("{} is not an existing directory", .0.display())]
    NoSuchDirectory(PathBuf),
    /// Not one of `autorestart`'s words.
    #[error("invalid autorestart value (expected true, false or unexpected)")]
    NotAutorestart,
    /// A listen backlog outside 1..65535.
    #[error("socket_backlog must be between 1 and 65535")]
    BacklogOutOfRange,
    /// A relative `unix://` socket path.
    #[error("unix socket path must be absolute (unix:///path)")]
    RelativeUnixSocket,
    /// Not an fcgi socket address.
    #[error("bad socket (expected tcp://host:port or unix:///path)")]
    NotSocket,
    /// Not a plain `http://` URL.
    #[error("not an http:// URL (https is not supported)")]
    NotHttpUrl,
    /// A port that is no number.
    #[error("bad port '{0}'")]
    BadPort(String),
    /// A URL without its host.
    #[error("no host in the URL")]
    NoUrlHost,
    /// Not `host:port`.
    #[error("not host:port")]
    NotHostPort,
    /// `host:port` without the host.
    #[error("no host (expected host:port)")]
    NoHost,
    /// A listener subscribes to an event type that does not exist.
    #[error("unknown event type '{0}'")]
    UnknownEventType(String),
    /// A listener's queue of no events.
    #[error("buffer_size must be at least 1")]
    NoBuffer,
    /// A `result_handler` vigil does not know, which would need Python.
    #[error(
        "result_handler cannot be resolved: vigil cannot import Python callables; it knows supervisor.dispatchers:default_handler, supervisor_stdout:event_handler and supervisor_stdlog:log_handler"
    )]
    ResultHandler,
    /// Not one of `ready=`'s kinds.
    #[error("unknown readiness (expected startsecs, notify, fd:N, log:REGEX or healthcheck)")]
    NotReadiness,
    /// `ready=fd:N` with N not a descriptor a child can be given.
    #[error("fd:{0} is out of range (expected 3..1023: 0, 1 and 2 are the child's stdio)")]
    ReadyFdOutOfRange(String),
    /// `ready=log:` with a pattern that does not compile.
    #[error("bad regular expression: {0}")]
    BadRegex(String),
    /// Outside the option's range.
    #[error("must be between {low} and {high}")]
    OutOfRange {
        /// The lowest value allowed.
        low: i32,
        /// The highest value allowed.
        high: i32,
    },
    /// vigil `memory_max`/`memory_high` below a page.
    #[error("must be at least a page ({page} bytes)")]
    BelowAPage {
        /// The page size.
        page: u64,
    },
    /// vigil `cpu_quota=`: not `N%`.
    #[error("not a CPU share (expected e.g. 50%% or 1.5 for one and a half CPUs)")]
    NotPercent,
    /// A count that must be at least 1.
    #[error("must be at least 1")]
    NotPositiveCount,
    /// vigil `rlimit_*=soft:hard` with the soft limit above the hard one.
    #[error("the soft limit is above the hard limit")]
    SoftAboveHard,
    /// vigil `ioclass=`: not a class.
    #[error("unknown I/O class (expected realtime, best-effort or idle)")]
    NotIoClass,
    /// vigil `cpu_affinity=`: not a list of CPUs and ranges.
    #[error("not a CPU list (expected e.g. 0-3,6)")]
    NotCpuList,
    /// vigil `cpu_affinity=` naming a CPU this host does not have.
    #[error("CPU {cpu} does not exist (this host has CPUs 0-{})", cpus - 1)]
    NoSuchCpu {
        /// The CPU named.
        cpu: u32,
        /// How many CPUs the host has.
        cpus: u32,
    },
    /// vigil `schedule=`/`restart_schedule=`: not a cron expression.
    #[error("not a cron expression: {0}")]
    NotCron(String),
    /// vigil `schedule_timezone=`: not `local` or an IANA zone name.
    #[error("unknown time zone (expected local or an IANA name such as Europe/Paris or UTC)")]
    NotTimeZone,
    /// vigil `depends_on=name:state` with a state other than running or exited.
    #[error("unknown state '{0}' (expected name, name:running or name:exited)")]
    NotDependencyState(String),
    /// A `%(name)s` expansion that fails.
    #[error(transparent)]
    Expansion(#[from] super::expand::ExpandError),
}
