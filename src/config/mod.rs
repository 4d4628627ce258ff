//! Turns a `supervisord.conf` and its `[include]`s into a validated, typed [`Config`].
//!
//! The path is raw → resolved: [`ini`] reads the text into untyped sections with line numbers,
//! [`resolve`] and [`program`] expand `%(...)s` names and parse each value, and
//! [`depends_on`] checks the dependency graph, collecting every error (each naming file,
//! line, section, option and value) before failing. This module reads
//! files only; it never spawns or looks at running processes.

pub mod controls;
mod depends_on;
mod diagnostic;
pub mod event_types;
mod expand;
mod ini;
mod invalid;
mod known;
pub mod migrate;
mod program;
mod resolve;
pub mod schedule;
pub mod value;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::sys::signal::Signal;

pub use controls::ResourceControls;
pub use diagnostic::{ConfigErrors, Diagnostic, Location};
pub use expand::ExpandError;
pub use invalid::Invalid;
pub use schedule::Schedules;

/// A whole, validated configuration: what vigild runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The main config file (absolute), for reloads and messages.
    pub file: PathBuf,
    /// The `[supervisord]` section.
    pub supervisord: SupervisordConfig,
    /// Process groups, sorted by priority then name (start order; stop order is the reverse).
    pub groups: Vec<GroupConfig>,
    /// `[unix_http_server]`, if present.
    pub unix_http_server: Option<UnixHttpServer>,
    /// `[inet_http_server]`, if present.
    pub inet_http_server: Option<InetHttpServer>,
    /// `[supervisorctl]`, if present.
    pub supervisorctl: Option<CtlConfig>,
    /// vigil's `[metrics]`, if present.
    pub metrics_server: Option<MetricsServer>,
}

/// A config together with the warnings found while loading it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The config.
    pub config: Config,
    /// Unknown options, unmatched include globs and other things supervisord ignores.
    pub warnings: Vec<Diagnostic>,
}

/// `[supervisord]` settings, with command-line overrides already applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisordConfig {
    /// Where the main log goes.
    pub logfile: MainLog,
    /// Rotate the main log at this size (0 = never).
    pub logfile_maxbytes: u64,
    /// Rotated main-log files to keep.
    pub logfile_backups: u32,
    /// vigil: also rotate the main log at every midnight or hour (`logfile_rotate`).
    pub logfile_rotate: Option<RotateEvery>,
    /// vigil: compress the main log's rotated backups (`logfile_compress`).
    pub logfile_compress: Option<Compress>,
    /// vigil: the main log as one JSON object per line (`logformat=json`; read at start).
    pub logformat_json: bool,
    /// Lowest level written to the main log.
    pub loglevel: LogLevel,
    /// Where vigild writes its pid.
    pub pidfile: PathBuf,
    /// vigild's umask (inherited by children).
    pub umask: u32,
    /// Stay in the foreground.
    pub nodaemon: bool,
    /// With `nodaemon`, do not echo the log to stderr.
    pub silent: bool,
    /// RLIMIT_NOFILE must reach this.
    pub minfds: u64,
    /// RLIMIT_NPROC must reach this.
    pub minprocs: u64,
    /// Keep old AUTO child logs at startup.
    pub nocleanup: bool,
    /// Directory for AUTO child logs.
    pub childlogdir: PathBuf,
    /// Drop privileges to this user after startup.
    pub user: Option<UserSpec>,
    /// chdir here when daemonizing.
    pub directory: Option<PathBuf>,
    /// Strip ANSI escapes from child logs.
    pub strip_ansi: bool,
    /// Added to every child's environment.
    pub environment: Vec<(String, String)>,
    /// Name of this supervisor (API, AUTO log names, events).
    pub identifier: String,
    /// vigil: how often the sampler measures every process (`sample_interval`; zero = off).
    pub sample_interval: std::time::Duration,
    /// vigil: where the processes stopped by hand are remembered across restarts
    /// (`statefile`; None = not remembered, as supervisord).
    pub statefile: Option<PathBuf>,
    /// vigil: put each process in a cgroup of its own under this cgroup v2 directory, or
    /// under vigild's own cgroup with `auto` (`cgroup_root`; None = no cgroups).
    pub cgroup_root: Option<String>,
    /// vigil: the local syslog socket that `logfile=syslog` and `*_syslog` write to
    /// (`syslog_socket`, `/dev/log` as the C library's syslog(3)).
    pub syslog_socket: PathBuf,
    /// vigil: the journal's native socket that `journald` targets write to
    /// (`journal_socket`, `/run/systemd/journal/socket`).
    pub journal_socket: PathBuf,
}

/// Where the main log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MainLog {
    /// A file, rotated by `logfile_maxbytes`/`logfile_backups`.
    File(PathBuf),
    /// `logfile=syslog`.
    Syslog,
    /// vigil: `logfile=journald`, an entry per line.
    Journald,
}

/// supervisord's log levels, from most to least severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `critical`
    Critical,
    /// `error`
    Error,
    /// `warn`
    Warn,
    /// `info` (the default)
    Info,
    /// `debug`
    Debug,
    /// `trace`
    Trace,
    /// `blather`
    Blather,
}

/// A resolved user: name, ids and supplementary groups, looked up at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    /// The name or uid as written.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups from the group database.
    pub groups: Vec<u32>,
}

/// One group of processes: a `[program:x]` (homogeneous) or a `[group:x]` (heterogeneous).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupConfig {
    /// Group name.
    pub name: String,
    /// Start order (low first); stop order is the reverse.
    pub priority: i32,
    /// The processes, sorted by priority then name.
    pub processes: Vec<Arc<ProcessConfig>>,
    /// The `numprocs` the file gives, when the group's processes come from one program
    /// section (a `[program:x]` or a `[group:x]` of one program); a scale may run another
    /// number.
    pub numprocs: Option<u32>,
}

impl GroupConfig {
    /// The pool settings when this group is an `[eventlistener:x]` pool.
    pub fn pool(&self) -> Option<&ListenerConfig> {
        self.processes.first().and_then(|p| p.listener.as_ref())
    }
}

/// When a process that exited from RUNNING is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoRestart {
    /// Always.
    Always,
    /// Never.
    Never,
    /// When the exit status is not in `exitcodes` (the default).
    Unexpected,
}

/// Where one output stream of a child goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// A file in `childlogdir` named by vigild (the default).
    Auto,
    /// Read and discarded.
    None,
    /// A file path.
    File(PathBuf),
    /// vigil: the journal, one entry per line (`journald`).
    Journald,
}

impl std::fmt::Display for LogTarget {
    /// As a config writes it: `AUTO`, `NONE`, `journald`, a path.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogTarget::Auto => f.write_str("AUTO"),
            LogTarget::None => f.write_str("NONE"),
            LogTarget::File(path) => write!(f, "{}", path.display()),
            LogTarget::Journald => f.write_str("journald"),
        }
    }
}

/// vigil `*_logfile_rotate`: a rotation at every local midnight or hour, besides `maxbytes`
/// (whichever comes first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateEvery {
    /// At local midnight.
    Daily,
    /// At the top of every local hour.
    Hourly,
}

/// vigil `*_logfile_compress`: how rotated backups are compressed (in the background).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compress {
    /// `name.log.1.gz`.
    Gzip,
    /// `name.log.1.zst`.
    Zstd,
}

/// The log options of one stream (`stdout_*` or `stderr_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamLog {
    /// Target.
    pub target: LogTarget,
    /// Rotate at this size (0 = never).
    pub maxbytes: u64,
    /// Rotated files to keep.
    pub backups: u32,
    /// vigil: also rotate at every midnight or hour (`*_logfile_rotate`).
    pub rotate_every: Option<RotateEvery>,
    /// vigil: compress rotated backups (`*_logfile_compress`).
    pub compress: Option<Compress>,
    /// vigil: each line as a JSON object (`*_logfile_format=json`).
    pub json: bool,
    /// Capture-mode buffer size (0 = off).
    pub capture_maxbytes: u64,
    /// Emit PROCESS_LOG events.
    pub events_enabled: bool,
    /// Also send to syslog.
    pub syslog: bool,
    /// vigil: prefix each line with an RFC 3339 time (`*_logfile_timestamps`).
    pub timestamps: bool,
    /// vigil: bytes of recent output kept in memory for tails and crash records
    /// (`*_tail_bytes`).
    pub tail_bytes: usize,
}

impl StreamLog {
    /// Whether nothing ever reads this stream's output: `NONE`, with no capture mode, no
    /// PROCESS_LOG events and no syslog copy. The child then writes to /dev/null and vigild
    /// holds no pipe for it (supervisord reads and discards the bytes).
    pub fn is_discarded(&self) -> bool {
        self.target == LogTarget::None
            && self.capture_maxbytes == 0
            && !self.events_enabled
            && !self.syslog
    }
}

/// The socket an `[fcgi-program:x]` shares among its processes as their fd 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FcgiSocket {
    /// Where to listen.
    pub address: FcgiAddress,
    /// listen() backlog.
    pub backlog: i32,
    /// Owner of a unix socket file.
    pub owner: Option<(u32, u32)>,
    /// Mode of a unix socket file.
    pub mode: u32,
}

/// `tcp://host:port` or `unix:///path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FcgiAddress {
    /// A TCP listener.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// A unix socket file.
    Unix(PathBuf),
}

/// The settings only event listeners have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    /// Subscribed event type names, uppercased.
    pub events: Vec<String>,
    /// Pool queue length.
    pub buffer_size: usize,
    /// Result handler: supervisord's default, or one of the two vigil does natively.
    pub result_handler: ResultHandler,
}

/// The `result_handler`s vigil knows (it cannot import Python callables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultHandler {
    /// `supervisor.dispatchers:default_handler`: `OK` is processed, anything else rejected.
    Default,
    /// `supervisor_stdout:event_handler` (supervisor-stdout): the output on vigild's stdout.
    SupervisorStdout,
    /// `supervisor_stdlog:log_handler` (supervisor-stdlog): coloured lines on vigild's
    /// stdout and stderr.
    SupervisorStdlog,
}

impl ResultHandler {
    /// Every handler, by the name a config gives it.
    pub const ALL: [(&'static str, ResultHandler); 3] = [
        (
            "supervisor.dispatchers:default_handler",
            ResultHandler::Default,
        ),
        (
            "supervisor_stdout:event_handler",
            ResultHandler::SupervisorStdout,
        ),
        (
            "supervisor_stdlog:log_handler",
            ResultHandler::SupervisorStdlog,
        ),
    ];

    /// The handler a config's `result_handler=` names, if vigil knows it.
    pub fn named(text: &str) -> Option<ResultHandler> {
        ResultHandler::ALL
            .iter()
            .find(|(name, _)| *name == text.trim())
            .map(|(_, handler)| *handler)
    }
}

/// Everything about one process instance, fully expanded.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessConfig {
    /// Process name (`process_name` expanded).
    pub name: String,
    /// Group it belongs to.
    pub group: String,
    /// The `x` of `[program:x]`.
    pub program: String,
    /// Start order within and across groups.
    pub priority: i32,
    /// The command line as written (expanded); split at spawn time as supervisord does.
    pub command: String,
    /// Start when vigild starts.
    pub autostart: bool,
    /// Restart policy after EXITED.
    pub autorestart: AutoRestart,
    /// Seconds in STARTING before RUNNING.
    pub startsecs: u64,
    /// BACKOFF retries before FATAL; None (vigil: `startretries=-1`) retries forever.
    pub startretries: Option<u32>,
    /// vigil: the longest BACKOFF wait during start-up, in seconds (`backoff_max`; None:
    /// supervisord's 1, 2, 3 … s growth without a cap).
    pub backoff_max: Option<u64>,
    /// Expected exit codes.
    pub exitcodes: Vec<i32>,
    /// First stop signal.
    pub stopsignal: Signal,
    /// Seconds to wait before SIGKILL.
    pub stopwaitsecs: u64,
    /// Send the stop signal to the process group.
    pub stopasgroup: bool,
    /// Send SIGKILL to the process group.
    pub killasgroup: bool,
    /// Run as this user.
    pub user: Option<UserSpec>,
    /// stderr into the stdout pipe.
    pub redirect_stderr: bool,
    /// stdout logging.
    pub stdout: StreamLog,
    /// stderr logging.
    pub stderr: StreamLog,
    /// Extra environment, after `[supervisord] environment`.
    pub environment: Vec<(String, String)>,
    /// vigil: KEY=VALUE file read at each start.
    pub environment_file: Option<PathBuf>,
    /// chdir before exec.
    pub directory: Option<PathBuf>,
    /// umask before exec.
    pub umask: Option<u32>,
    /// `SUPERVISOR_SERVER_URL` for the child (AUTO already resolved).
    pub serverurl: Option<String>,
    /// The fcgi socket of an `[fcgi-program:x]`.
    pub fcgi_socket: Option<FcgiSocket>,
    /// Listener settings of an `[eventlistener:x]`.
    pub listener: Option<ListenerConfig>,
    /// vigil: write a spawn/exit marker line into the child's own logs (`log_markers`).
    pub log_markers: bool,
    /// vigil: restart the process when its process tree's resident memory exceeds this
    /// many bytes (`memory_limit`; checked by the sampler).
    pub memory_limit: Option<u64>,
    /// vigil: when crashes count as a loop and how restarts are then delayed.
    pub crash_loop: CrashLoopPolicy,
    /// vigil: what each crash record keeps (`crash_tail_lines`, `crash_history`).
    pub crash_records: CrashRecordPolicy,
    /// vigil: bytes of each stream kept from the run before the current one
    /// (`previous_tail_bytes`, 64 KiB; 0 keeps none).
    pub previous_tail_bytes: usize,
    /// vigil: the health check, if the program has one (`healthcheck_*`).
    pub health_check: Option<HealthCheck>,
    /// vigil: program or group names that must be RUNNING (and healthy), or have EXITED as
    /// expected (`name:exited`), before this process starts (`depends_on`, or the
    /// supervisord-dependent-startup plugin's `dependent_startup_wait_for`); checked to
    /// exist and to form no cycle.
    pub depends_on: Vec<Dependency>,
    /// vigil `reloadsignal`: the signal `vigil.reloadProcess` sends for a graceful reload.
    pub reload_signal: Option<Signal>,
    /// vigil `schedule`, `restart_schedule` and `schedule_timezone`.
    pub schedules: Schedules,
    /// vigil `rlimit_*`, `nice`, `oom_score_adj`, `ioclass`/`ionice`, `cpu_affinity`,
    /// `no_new_privs`: applied in the child before exec.
    pub controls: ResourceControls,
    /// vigil: when this process ends for good with nobody having asked (FATAL, or EXITED
    /// with no restart coming), vigild stops everything and exits with its status
    /// (`essential`, on the program or on its `[group:x]`).
    pub essential: bool,
    /// vigil: what ends STARTING (`ready`, default `startsecs`).
    pub ready: Readiness,
    /// vigil: how long a program with a `ready=` other than `startsecs` may take to be
    /// ready before its start counts as failed (`ready_timeout`, default 90 s).
    pub ready_timeout: std::time::Duration,
    /// vigil `watchdog_sec` (with `ready=notify`): a RUNNING process that sends no
    /// `WATCHDOG=1` for this long is restarted; the child gets `WATCHDOG_USEC`.
    pub watchdog: Option<std::time::Duration>,
}

/// One `depends_on` entry: a program or group, and what it must have done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// A program or group name.
    pub name: String,
    /// What it must have done before the dependent starts.
    pub wants: Wants,
}

/// What a dependency must have done (`name`, `name:running`, `name:exited`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wants {
    /// RUNNING, and healthy or ready as its settings say (the default).
    Running,
    /// EXITED with an expected exit code: a one-shot task done (`migrate:exited`).
    Exited,
}

impl std::fmt::Display for Dependency {
    /// As written: `db`, `migrate:exited`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.wants {
            Wants::Running => f.write_str(&self.name),
            Wants::Exited => write!(f, "{}:exited", self.name),
        }
    }
}

/// What a health probe does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// `healthcheck_command`: run with `/bin/sh -c` as the program's user, in its directory
    /// and environment; exit 0 is healthy.
    Command(String),
    /// `healthcheck_http`: `GET` of an `http://host:port/path` URL; 2xx and 3xx are healthy.
    Http {
        /// Host to connect to and send as `Host:`.
        host: String,
        /// Port.
        port: u16,
        /// Path and query.
        path: String,
    },
    /// `healthcheck_tcp=host:port`: a connection is healthy.
    Tcp {
        /// Host.
        host: String,
        /// Port.
        port: u16,
    },
}

/// vigil `ready=`: what ends a process's STARTING (→ RUNNING).
#[derive(Debug, Clone, PartialEq)]
pub enum Readiness {
    /// supervisord's rule, the default: RUNNING once the child has lived `startsecs`.
    StartSecs,
    /// `ready=notify`: the child (or one of its children) sends `READY=1` over
    /// `NOTIFY_SOCKET`, systemd's sd_notify protocol.
    Notify,
    /// `ready=fd:N`: s6's notification-fd: the child writes a newline to its fd N.
    Fd(i32),
    /// `ready=log:REGEX`: the first line of stdout or stderr that matches.
    Log(LinePattern),
    /// `ready=healthcheck`: the first passing health check.
    HealthCheck,
}

impl Readiness {
    /// Whether STARTING ends by `startsecs` (supervisord's way) rather than by the program.
    pub fn is_startsecs(&self) -> bool {
        matches!(self, Readiness::StartSecs)
    }
}

impl std::fmt::Display for Probe {
    /// The option as written: `healthcheck_http=http://127.0.0.1:8080/`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Probe::Command(command) => write!(f, "healthcheck_command={command}"),
            Probe::Http { host, port, path } => {
                write!(f, "healthcheck_http=http://{host}:{port}{path}")
            }
            Probe::Tcp { host, port } => write!(f, "healthcheck_tcp={host}:{port}"),
        }
    }
}

impl std::fmt::Display for Readiness {
    /// The option as written: `ready=notify`, `ready=fd:3`, `ready=log:Listening`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Readiness::StartSecs => write!(f, "startsecs"),
            Readiness::Notify => write!(f, "ready=notify"),
            Readiness::Fd(fd) => write!(f, "ready=fd:{fd}"),
            Readiness::Log(pattern) => write!(f, "ready=log:{}", pattern.0.as_str()),
            Readiness::HealthCheck => write!(f, "ready=healthcheck"),
        }
    }
}

/// A `ready=log:` regular expression; equal when written the same (so a reread sees no
/// change in an unchanged program).
#[derive(Debug, Clone)]
pub struct LinePattern(pub regex::Regex);

impl PartialEq for LinePattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

/// vigil's health check of one program.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    /// The probe.
    pub probe: Probe,
    /// Time between probes (`healthcheck_interval`, default 10 s).
    pub interval: std::time::Duration,
    /// How long a probe may take (`healthcheck_timeout`, default 5 s).
    pub timeout: std::time::Duration,
    /// Failures in a row that make the process unhealthy (`healthcheck_retries`, default 3).
    pub retries: u32,
    /// Failures this soon after the start do not count (`healthcheck_start_period`, 0).
    pub start_period: std::time::Duration,
}

/// vigil's crash-loop damping for one program; `threshold == 0` is supervisord's behaviour
/// (restart at once, forever).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrashLoopPolicy {
    /// Crashes within `window` that make a crash loop (`crashloop_threshold`; 0 = off).
    pub threshold: u32,
    /// The sliding window crashes are counted in (`crashloop_window`).
    pub window: std::time::Duration,
    /// The first delayed restart's wait, doubled per further crash (`restart_delay`).
    pub delay: std::time::Duration,
    /// The longest wait (`restart_delay_max`).
    pub delay_max: std::time::Duration,
    /// How long a run must last to end the loop (`crashloop_reset`).
    pub reset: std::time::Duration,
    /// Delayed restarts after which the process goes FATAL (`crashloop_giveup`; None =
    /// never).
    pub giveup: Option<u32>,
}

/// How much of each crash vigil keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashRecordPolicy {
    /// Lines of output kept with each crash (`crash_tail_lines`).
    pub tail_lines: usize,
    /// Records kept per process in memory and on disk (`crash_history`).
    pub history: usize,
}

impl ProcessConfig {
    /// `group:name`, or `name` when the two are equal, as supervisord names processes.
    pub fn namespec(&self) -> String {
        crate::namespec::of(&self.group, &self.name)
    }
}

/// `[unix_http_server]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixHttpServer {
    /// Socket path.
    pub file: PathBuf,
    /// Socket mode.
    pub chmod: u32,
    /// Socket owner (uid, gid).
    pub chown: Option<(u32, u32)>,
    /// Basic-auth credentials.
    pub auth: Option<Credentials>,
    /// vigil: the read-only account (`readonly_username` / `readonly_password`); only
    /// together with `auth`.
    pub readonly: Option<Credentials>,
}

/// `[inet_http_server]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InetHttpServer {
    /// Host to bind (empty = all interfaces).
    pub host: String,
    /// Port to bind.
    pub port: u16,
    /// Basic-auth credentials.
    pub auth: Option<Credentials>,
    /// vigil: the read-only account (`readonly_username` / `readonly_password`); only
    /// together with `auth`.
    pub readonly: Option<Credentials>,
    /// vigil: whether `/metrics` asks for the credentials too (`metrics_auth`, default true);
    /// false lets Prometheus scrape without them on a trusted interface.
    pub metrics_auth: bool,
    /// vigil: a bearer token with full access (`token_file`, read at load).
    pub token: Option<String>,
    /// vigil: a bearer token with the read-only account's rights (`readonly_token_file`).
    pub readonly_token: Option<String>,
    /// vigil: TLS (`tls_cert`, `tls_key`, `tls_client_ca`).
    pub tls: Option<TlsFiles>,
}

/// vigil's `[metrics]`: a listener of its own that serves only `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsServer {
    /// Host to bind (empty = all interfaces).
    pub host: String,
    /// Port to bind.
    pub port: u16,
    /// Basic-auth credentials, if any.
    pub auth: Option<Credentials>,
    /// A bearer token for Prometheus' `authorization`/`bearer_token_file` (`bearer_token_file`,
    /// read at load).
    pub bearer_token: Option<String>,
    /// TLS (`tls_cert`, `tls_key`, `tls_client_ca`).
    pub tls: Option<TlsFiles>,
}

/// vigil: the PEM files of a TCP server's TLS, checked at load and read again on SIGHUP or
/// SIGUSR2 (the tls module loads them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, the server's own first (`tls_cert`).
    pub cert: PathBuf,
    /// Its private key (`tls_key`).
    pub key: PathBuf,
    /// The CA whose certificates clients must show (`tls_client_ca`): mutual TLS.
    pub client_ca: Option<PathBuf>,
}

/// A username with a plain or `{SHA}` password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password as written (plain text or `{SHA}` + hex SHA-1).
    pub password: String,
}

/// supervisorctl's server when neither `-s` nor `[supervisorctl] serverurl` names one.
pub const DEFAULT_SERVERURL: &str = "http://localhost:9001";

/// `[supervisorctl]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtlConfig {
    /// Server URL.
    pub serverurl: String,
    /// Basic-auth user.
    pub username: Option<String>,
    /// Basic-auth password.
    pub password: Option<String>,
    /// Shell prompt.
    pub prompt: String,
    /// readline history file.
    pub history_file: Option<PathBuf>,
    /// vigil: the CA certificates that `https://` servers are checked against (`cacert`),
    /// instead of the system's.
    pub cacert: Option<PathBuf>,
    /// vigil: the client certificate and key for servers with `tls_client_ca`
    /// (`client_cert`, `client_key`).
    pub client_identity: Option<(PathBuf, PathBuf)>,
    /// vigil: `[vigilctl] servers=`, the servers vigilctl talks to at once, each with the
    /// name it shows (vigilctl reads that section only).
    pub servers: Vec<NamedServer>,
}

impl Default for CtlConfig {
    /// supervisorctl's defaults, for a file without `[supervisorctl]`.
    fn default() -> Self {
        CtlConfig {
            serverurl: DEFAULT_SERVERURL.into(),
            username: None,
            password: None,
            prompt: "supervisor".into(),
            history_file: None,
            cacert: None,
            client_identity: None,
            servers: Vec::new(),
        }
    }
}

/// One of `[vigilctl] servers=`: `name = URL`, or a bare URL named by its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedServer {
    /// What vigilctl shows in its host column, and takes before `:` in a name.
    pub name: String,
    /// Its URL.
    pub url: String,
}

/// What a load takes besides the file: `[supervisord]` values given on the command line
/// (they win over the file) and vigil's scaled groups.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `[supervisord]` options from vigild's flags.
    pub supervisord: Vec<(&'static str, String)>,
    /// Groups run with another `numprocs` than the file's (`vigil.scaleGroup`).
    pub scaling: Scaling,
}

/// vigil `scaleGroup`: a homogeneous group run with `numprocs` processes instead of the
/// `file_numprocs` its file gives; kept while the file still gives `file_numprocs` (a later
/// change of `numprocs` in the file wins).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Scaled {
    /// The group.
    pub group: String,
    /// The one program section its processes come from.
    pub program: String,
    /// How many processes it runs.
    pub numprocs: u32,
    /// The `numprocs` the file gave when it was scaled.
    pub file_numprocs: u32,
}

/// The scales a load applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scaling {
    /// Those in effect, each applied while the file still gives its `file_numprocs`.
    pub kept: Vec<Scaled>,
    /// The one asked for now, whatever the file gives.
    pub asked: Option<Asked>,
}

/// A scale asked for now (`vigil.scaleGroup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    /// The group.
    pub group: String,
    /// Its one program.
    pub program: String,
    /// How many processes it is to run.
    pub numprocs: u32,
}

impl Scaling {
    /// How many processes `program` in `group` runs, given `numprocs` from the file.
    pub fn numprocs(&self, group: &str, program: &str, numprocs: u32) -> u32 {
        if let Some(asked) = self
            .asked
            .as_ref()
            .filter(|asked| asked.group == group && asked.program == program)
        {
            return asked.numprocs;
        }
        self.kept
            .iter()
            .find(|s| s.group == group && s.program == program && s.file_numprocs == numprocs)
            .map_or(numprocs, |s| s.numprocs)
    }
}

/// Loads `path` (with its includes), applies `overrides` and validates everything.
///
/// `cwd` is where relative defaults (`supervisord.log`, `supervisord.pid`) go; `env` is
/// vigild's environment, the source of `%(ENV_X)s`.
pub fn load(
    path: &Path,
    overrides: &Overrides,
    cwd: &Path,
    env: &[(String, String)],
) -> Result<Loaded, ConfigErrors> {
    let file = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    resolve::load(&file, overrides, cwd, env)
}

/// Reads the `[supervisorctl]` section of `path` (if it has one) for a control client.
pub fn load_ctl(
    path: &Path,
    cwd: &Path,
    env: &[(String, String)],
) -> Result<Option<CtlConfig>, ConfigErrors> {
    resolve::load_ctl(&cwd.join(path), cwd, env)
}

/// The schemes a server URL may have: supervisord's two and vigil's TLS one.
pub const SERVER_SCHEMES: [&str; 3] = ["unix://", "http://", "https://"];

impl NamedServer {
    /// A server as vigilctl names it in its host column when nothing else names it: by the
    /// URL without its scheme (`127.0.0.1:9001`, `/run/vigil/vigil.sock`).
    pub fn by_address(url: &str) -> NamedServer {
        let name = SERVER_SCHEMES
            .iter()
            .find_map(|scheme| url.strip_prefix(scheme))
            .unwrap_or(url)
            .trim_end_matches('/');
        NamedServer {
            name: name.to_string(),
            url: url.to_string(),
        }
    }
}

/// The files supervisord tries, in order, when no `-c` is given (`exe` is argv\[0\]), with
/// the Debian package's `/etc/vigil/vigil.conf` before the system-wide supervisord ones, so
/// that `vigilctl` on a host with the package talks to the packaged vigild as
/// `supervisorctl` talks to the packaged supervisord.
pub fn search_path(exe: &Path, cwd: &Path) -> Vec<PathBuf> {
    let here = exe
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf);
    vec![
        here.join("etc/supervisord.conf"),
        here.join("supervisord.conf"),
        cwd.join("supervisord.conf"),
        cwd.join("etc/supervisord.conf"),
        PathBuf::from("/etc/vigil/vigil.conf"),
        PathBuf::from("/etc/supervisord.conf"),
        PathBuf::from("/etc/supervisor/supervisord.conf"),
    ]
}

#[cfg(test)]
mod tests;
