//! vigild's life cycle: find and load the config, refuse a second daemon, set limits and
//! umask, daemonize, drop privileges, write the pidfile, start the main log and the
//! supervisor, and turn signals into supervisor controls until shutdown.
//!
//! Everything before the tokio runtime starts is single-threaded, so forking is safe there.

mod allocator;
mod migration;
mod settings;
mod systemd;

use std::io;
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::sys::stat::{umask, Mode};
use nix::unistd::{fork, setsid, ForkResult, Gid, Pid, Uid};
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::config::{
    self, Config, ConfigErrors, Diagnostic, MainLog, Overrides, Scaling, UserSpec,
};
use crate::http;
use crate::logs::file::Rotation;
use crate::logs::mainlog::{self, MainLogger, CRITICAL};
use crate::logs::stream::LogStream;
use crate::process::spawner::Spawner;
use crate::rpc::Api;
use crate::sampler;
use crate::supervisor::{self, Control, Ending, Handle};

/// What `vigild` was asked to do on its command line.
#[derive(Debug, Clone, Default)]
pub struct DaemonOptions {
    /// `-c FILE`; without it the supervisord search path is used.
    pub config_file: Option<PathBuf>,
    /// `[supervisord]` values given as flags.
    pub overrides: Overrides,
    /// vigil `reexec`: the fleet a vigild handed over to this image (its record read from
    /// the fd `--handover-fd` named).
    pub handover: Option<crate::handover::Handover>,
    /// vigild's command line after argv\[0\], which a reexec gives the new image again.
    pub args: Vec<String>,
}

/// Why vigild could not start (or stopped early).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The config has errors (each already located).
    #[error("{0}")]
    Config(ConfigErrors),
    /// No `-c` and nothing on the search path.
    #[error("no config file found (looked for {0}); use -c FILE")]
    NoConfig(String),
    /// The pidfile names a live vigild.
    #[error("another vigild is already running with pid {pid} (pidfile {path}); stop it first or use another pidfile")]
    AlreadyRunning {
        /// Its pid.
        pid: i32,
        /// The pidfile.
        path: PathBuf,
    },
    /// A `[supervisord]` value cannot be applied: a limit (`minfds`/`minprocs`) cannot be
    /// raised, the log file cannot be opened.
    #[error("{0}")]
    Settings(#[from] settings::ApplyError),
    /// `user=` cannot be switched to.
    #[error("{0}")]
    Privileges(String),
    /// A TCP server's TLS files do not serve (changed since the config was checked).
    #[error("{0}")]
    Tls(#[from] http::TlsFailure),
    /// An operating-system call failed.
    #[error("{about}: {source}")]
    Io {
        /// What vigild was doing.
        about: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

fn io_error(about: impl Into<String>) -> impl FnOnce(io::Error) -> StartError {
    let about = about.into();
    move |source| StartError::Io { about, source }
}

/// The outcome of `--check-config`: every error and warning, as printed.
pub struct CheckReport {
    /// Errors.
    pub errors: Vec<Diagnostic>,
    /// Warnings.
    pub warnings: Vec<Diagnostic>,
    /// What this host supports of what the config asks for (`cgroup_root`).
    pub host: Vec<String>,
    /// Every process the config runs, in start order.
    pub processes: Vec<CheckedProcess>,
}

/// One process a checked config runs.
pub struct CheckedProcess {
    /// Its group.
    pub group: String,
    /// Its name.
    pub name: String,
    /// Every option after defaults and expansions, in the config's own spelling.
    pub options: Vec<(&'static str, String)>,
}

/// Loads the config exactly as a start would (includes, expansions, validation) without
/// starting anything.
pub fn check_config(options: &DaemonOptions) -> Result<CheckReport, StartError> {
    let source = ConfigSource::discover(options)?;
    Ok(checked(&source).0)
}

/// `--check-config --migrate`: the check, and what the config does differently under vigil
/// (`config::migrate`), with what runs on the host now on its pidfile and control socket.
pub fn migration(
    options: &DaemonOptions,
) -> Result<(CheckReport, Vec<config::migrate::Finding>), StartError> {
    let source = ConfigSource::discover(options)?;
    let (report, loaded) = checked(&source);
    let config = loaded.map(|loaded| loaded.config);
    let mut findings = config::migrate::findings(&source.file, &source.env, config.as_ref());
    if let Some(config) = &config {
        findings.extend(migration::in_use(config));
    }
    Ok((report, findings))
}

/// The check's report, and the config when it loaded.
fn checked(source: &ConfigSource) -> (CheckReport, Option<config::Loaded>) {
    match source.load() {
        Ok(loaded) => {
            let host = loaded
                .config
                .supervisord
                .cgroup_root
                .as_deref()
                .map(|setting| {
                    let identifier = &loaded.config.supervisord.identifier;
                    match crate::process::cgroup::Cgroups::detect(setting, identifier) {
                        Ok(cgroups) => format!("cgroups: {}", cgroups.describe()),
                        Err(why) => format!("cgroups: unavailable ({why})"),
                    }
                })
                .into_iter()
                .collect();
            let processes = loaded
                .config
                .groups
                .iter()
                .flat_map(|group| {
                    group.processes.iter().map(|process| CheckedProcess {
                        group: group.name.clone(),
                        name: process.name.clone(),
                        options: crate::present::config_rows(process),
                    })
                })
                .collect();
            let report = CheckReport {
                errors: Vec::new(),
                warnings: loaded.warnings.clone(),
                host,
                processes,
            };
            (report, Some(loaded))
        }
        Err(errors) => {
            let report = CheckReport {
                errors: errors.0,
                warnings: Vec::new(),
                host: Vec::new(),
                processes: Vec::new(),
            };
            (report, None)
        }
    }
}

/// Where the config comes from, kept to re-read it on SIGHUP.
#[derive(Debug, Clone)]
struct ConfigSource {
    file: PathBuf,
    overrides: Overrides,
    cwd: PathBuf,
    env: Vec<(String, String)>,
}

impl ConfigSource {
    fn discover(options: &DaemonOptions) -> Result<Self, StartError> {
        let cwd = std::env::current_dir().map_err(io_error("reading the current directory"))?;
        let file = if let Some(file) = &options.config_file {
            cwd.join(file)
        } else {
            // The binary's real path (argv[0] may be a bare name found on PATH).
            let exe = std::env::current_exe().unwrap_or_default();
            let candidates = config::search_path(&exe, &cwd);
            candidates
                .iter()
                .find(|path| path.is_file())
                .cloned()
                .ok_or_else(|| {
                    StartError::NoConfig(
                        candidates
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    )
                })?
        };
        Ok(ConfigSource {
            file,
            overrides: options.overrides.clone(),
            cwd,
            env: std::env::vars().collect(),
        })
    }

    fn load(&self) -> Result<config::Loaded, ConfigErrors> {
        config::load(&self.file, &self.overrides, &self.cwd, &self.env)
    }

    /// The config with `scaling`'s groups run at their scaled sizes.
    fn load_scaled(&self, scaling: &Scaling) -> Result<config::Loaded, ConfigErrors> {
        let overrides = Overrides {
            scaling: scaling.clone(),
            ..self.overrides.clone()
        };
        config::load(&self.file, &overrides, &self.cwd, &self.env)
    }

    /// The first load at start-up: with the groups the statefile remembers as scaled.
    fn load_at_start(&self) -> Result<config::Loaded, ConfigErrors> {
        let loaded = self.load()?;
        let kept = match &loaded.config.supervisord.statefile {
            Some(path) => supervisor::saved_scales(path),
            None => Vec::new(),
        };
        if kept.is_empty() {
            return Ok(loaded);
        }
        self.load_scaled(&Scaling { kept, asked: None })
    }
}

/// Runs vigild until it is shut down; says how it ended (its exit status: 0 after a
/// shutdown asked for, an `essential` process's status after its end).
pub fn run(options: &DaemonOptions) -> Result<Ending, StartError> {
    allocator::return_big_buffers();
    crate::process::launch::tidy_inherited_fds();
    // A log past a file size limit (RLIMIT_FSIZE) must fail its write (EFBIG, reported and
    // survived), not kill vigild with SIGXFSZ.
    // SAFETY: setting a signal's disposition to ignore; no handler runs.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let source = ConfigSource::discover(options)?;
    // A handed-over fleet runs the file at the sizes its groups were scaled to.
    let loaded = match &options.handover {
        Some(handover) => source.load_scaled(&Scaling {
            kept: handover.scales.clone(),
            asked: None,
        }),
        None => source.load_at_start(),
    }
    .map_err(StartError::Config)?;
    let config = loaded.config;
    let settings = &config.supervisord;
    let handover = options.handover.as_ref();
    // A handed-over fleet's vigild is this very process (the same pid, user and pidfile).
    if handover.is_none() {
        refuse_second_daemon(&settings.pidfile)?;
    }
    // supervisord's order: switch user, raise limits, open the log as that user (so a log
    // it could not rotate later fails now), daemonize, then write the pidfile (it must hold
    // the daemon's pid).
    // The servers' TLS keys are read first, as root when vigild starts as root.
    let tls = match handover {
        Some(_) => None,
        None => match http::load_tls(&config) {
            (tls, failures) if failures.is_empty() => Some(tls),
            (_, mut failures) => {
                return Err(StartError::Tls(failures.swap_remove(0)));
            }
        },
    };
    if let (Some(user), None) = (&settings.user, handover) {
        drop_privileges(user)?;
    }
    settings::raise_limits(settings)?;
    let main_log = Arc::new(LogStream::new(
        "main",
        settings::open_main_log_file(
            &settings.logfile,
            Rotation {
                maxbytes: settings.logfile_maxbytes,
                backups: settings.logfile_backups,
                every: settings.logfile_rotate,
                compress: settings.logfile_compress,
            },
        )?,
        MAIN_LOG_TAIL_BYTES,
    ));
    let (listeners, left_out) = match (handover, tls) {
        (Some(handover), _) => http::adopt(&config, handover.listeners),
        (None, tls) => (
            http::bind(&config, tls.unwrap_or_default())
                .map_err(io_error("starting the HTTP servers"))?,
            Vec::new(),
        ),
    };
    let socket_path = listeners.socket_path();
    // The socket is chosen once, at start: programs may ask for syslog after a reload.
    let syslog = crate::logs::syslog::open(&settings.syslog_socket);
    let journal = crate::logs::journal::open(&settings.journal_socket);
    let logger = FlushedAtExit(Arc::new(mainlog::install(
        Arc::clone(&main_log),
        settings.loglevel,
        (
            settings.nodaemon && !settings.silent,
            settings.logformat_json,
        ),
        (
            matches!(settings.logfile, MainLog::Syslog).then_some(syslog),
            matches!(settings.logfile, MainLog::Journald).then_some(journal),
        ),
    )));
    for server in &left_out {
        tracing::error!("{server}");
    }
    if !settings.nodaemon && handover.is_none() {
        for warning in &loaded.warnings {
            eprintln!("Warning: {warning}");
        }
        daemonize(settings.directory.as_deref(), settings.umask)?;
    }
    // After daemonizing (a fork does not inherit it), before any child starts.
    if let Err(err) = crate::process::reaper::adopt_orphans() {
        tracing::warn!("cannot become a subreaper ({err}): orphans of programs go to init");
    }
    if let Err(err) = settings::write_pidfile(&settings.pidfile) {
        tracing::error!(target: CRITICAL, "{err}");
    }
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    warn_of_a_missing_journal(&config);
    if settings.user.is_none() && Uid::effective().is_root() {
        tracing::error!(
            target: CRITICAL,
            "Supervisor is running as root.  Privileges were not dropped because no user is specified in the config file.  If you intend to run as root, you can set user=root in the config file to avoid this message."
        );
    }
    // Logged once the main log exists, in supervisord's order (it opens its servers then).
    for server in listeners.unauthenticated() {
        tracing::error!(
            target: CRITICAL,
            "Server '{server}' running without any HTTP authentication checking"
        );
    }
    // supervisord's wording, which tools grep for.
    tracing::info!(
        "supervisord started with pid {} (vigil {})",
        std::process::id(),
        env!("CARGO_PKG_VERSION")
    );

    let applied = Arc::new(Mutex::new(settings::Applied::new(settings.clone())));
    let result = serve(
        config,
        source,
        (main_log, Arc::clone(&logger.0)),
        (listeners, handover, &options.args),
        &applied,
    );
    let pidfile = applied
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .pidfile()
        .to_path_buf();
    let _ = std::fs::remove_file(&pidfile);
    if let Some(socket) = socket_path {
        let _ = std::fs::remove_file(socket);
    }
    if let Ok(Ending::Essential { status }) = result {
        tracing::info!("vigild exiting with status {status}");
    } else {
        tracing::info!("vigild exiting");
    }
    result
}

/// Flushes the main log when `run` returns, however it returns (an early start-up error
/// too), so its last lines are written before vigild exits.
struct FlushedAtExit(Arc<MainLogger>);

impl Drop for FlushedAtExit {
    fn drop(&mut self) {
        self.0.flush();
    }
}

/// vigil `cgroup_root`: where each process gets its cgroup, said once; none (with the
/// reason, and the processes run without) where this host has no writable cgroup v2.
fn cgroups_at(
    setting: &str,
    identifier: &str,
    adopting: bool,
) -> Option<crate::process::cgroup::Cgroups> {
    let found = if adopting {
        crate::process::cgroup::Cgroups::adopt(setting, identifier)
    } else {
        crate::process::cgroup::Cgroups::detect(setting, identifier)
    };
    match found {
        Ok(cgroups) => {
            tracing::info!("cgroups: {}", cgroups.describe());
            Some(cgroups)
        }
        Err(why) => {
            tracing::warn!(
                "cgroup_root={setting}: {why}; processes run without cgroups of their own"
            );
            None
        }
    }
}

/// One warning per program whose cgroup limits (`memory_max`, `cpu_quota`…) cannot be
/// applied on this host: without `cgroup_root`, or without their controller under it; the
/// processes run without them.
fn warn_unapplied_limits(config: &Config, cgroups: Option<&crate::process::cgroup::Cgroups>) {
    let mut warned = std::collections::HashSet::new();
    for process in config.groups.iter().flat_map(|group| &group.processes) {
        let limits = &process.controls.cgroup;
        let options: Vec<&str> = match cgroups {
            None => limits.files().iter().map(|file| file.option).collect(),
            Some(cgroups) => cgroups.missing(limits),
        };
        if options.is_empty() || !warned.insert(process.program.clone()) {
            continue;
        }
        let why = match cgroups {
            None => "they need a cgroup per process ([supervisord] cgroup_root=) on a writable cgroup v2 hierarchy".to_string(),
            Some(cgroups) => format!(
                "their controllers are not available under {} (its cgroup.controllers: {})",
                cgroups.root().display(),
                if cgroups.controllers().is_empty() {
                    "none".to_string()
                } else {
                    cgroups.controllers().join(" ")
                }
            ),
        };
        tracing::warn!(
            "[program:{}] {}: {why}; its processes run without them",
            process.program,
            options.join(", ")
        );
    }
}

/// Runs the supervisor and the signal source on a tokio runtime until shutdown completes.
fn serve(
    config: Config,
    source: ConfigSource,
    (main_log, logger): (Arc<LogStream>, Arc<MainLogger>),
    (listeners, handover, args): (
        http::Listeners,
        Option<&crate::handover::Handover>,
        &[String],
    ),
    applied: &Arc<Mutex<settings::Applied>>,
) -> Result<Ending, StartError> {
    // Before the runtime starts its threads: the helper is a fork of this process.
    let spawner = Spawner::fork();
    let settings = &config.supervisord;
    let cgroups = settings
        .cgroup_root
        .as_deref()
        .and_then(|setting| cgroups_at(setting, &settings.identifier, handover.is_some()))
        .map(Arc::new);
    warn_unapplied_limits(&config, cgroups.as_deref());
    // Also before the threads: it kills what vigild leaves behind if vigild dies. A
    // handed-over fleet keeps the guardian it has.
    let guardian = match handover.and_then(|handover| handover.guardian) {
        // SAFETY: the vigild before us kept the guardian's pipe open across the exec for
        // us alone; it is owned from here on.
        Some((fd, pid)) => crate::process::guardian::Guardian::adopt(
            unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) },
            pid,
        ),
        None => crate::process::guardian::Guardian::fork(
            cgroups.as_ref().map(|cgroups| cgroups.root().to_path_buf()),
        ),
    };
    // The first threads: the main log's writers (lines so far waited in their queues).
    logger
        .start_writers()
        .map_err(io_error("starting the main log"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // Log drains run as blocking jobs (see logs::capture); streams stuck on a slow disk
        // each hold one, and must not keep the others waiting. Threads exist only while used.
        .max_blocking_threads(4096)
        .enable_all()
        .build()
        .map_err(io_error("starting the runtime"))?;
    runtime.block_on(async move {
        // Handlers first: a signal during the first spawns must not kill vigild outright.
        let signals = SignalSource::install().map_err(io_error("installing signal handlers"))?;
        // A vigild that handed its fleet over held these across its exec (now handled).
        let _ = handed_signals().thread_unblock();
        let base_env = base_environment(&source.env, &config);
        let identification = config.supervisord.identifier.clone();
        // The control plane first: it answers while the supervisor opens the log files.
        let (handle, pending) = supervisor::handle();
        // Before the first spawn: `ready=notify` children get its name.
        // SAFETY: the vigild before us kept the socket open across the exec for us alone.
        let adopted = handover
            .and_then(|handover| handover.notify.clone())
            .map(|(fd, name)| (unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }, name));
        if let Err(err) = crate::notify::start(handle.clone(), adopted) {
            tracing::error!("cannot open the notify socket ({err}): ready=notify programs will not become ready");
        }
        let events = crate::events::start(identification.clone());
        let (sample_interval, interval) =
            tokio::sync::watch::channel(config.supervisord.sample_interval);
        let samples = sampler::start(handle.clone(), interval);
        crate::health::start(handle.clone());
        let reread_source = source.clone();
        let api = Api {
            reread: Arc::new(move |scaling: &Scaling| {
                reread_source
                    .load_scaled(scaling)
                    .map(|loaded| loaded.config)
            }),
            handle: handle.clone(),
            identification,
            main_log: Arc::clone(&main_log),
            samples,
            events: events.clone(),
            relaunch: Arc::new(crate::handover::Relaunch::new(args)),
            sequences: Arc::default(),
        };
        // Copies of the listening sockets, which a handover keeps open across its exec.
        let listening = listeners
            .copies()
            .map_err(io_error("keeping the HTTP servers' sockets"))?;
        let tls = listeners.tls();
        let servers =
            http::serve(listeners, api).map_err(io_error("starting the HTTP servers"))?;
        if let Some(manager) = systemd::Manager::from_env(&source.env) {
            tokio::spawn(systemd::follow(manager, handle.clone()));
        }
        let children = (spawner, guardian, cgroups.clone());
        let task = supervisor::start(pending, config, base_env, children, events, handover)
            .map_err(io_error("starting the supervisor"))?;
        let reload = Reload {
            source,
            applied: Arc::clone(applied),
            targets: Arc::new(settings::Targets {
                logger: Arc::clone(&logger),
                main_log,
                sample_interval,
            }),
            tls: Arc::new(tls),
        };
        let forwarder = tokio::spawn(signals.forward(handle, reload));
        let finished = task.await.map_err(|err| StartError::Io {
            about: "running the supervisor".into(),
            source: io::Error::other(err.to_string()),
        })?;
        forwarder.abort();
        match finished {
            supervisor::Finish::Ended(ending) => {
                // Every program has stopped: this instance's cgroups go with vigild.
                if let Some(cgroups) = &cgroups {
                    cgroups.remove_all();
                }
                Ok(ending)
            }
            supervisor::Finish::Reexec {
                binary,
                mut handover,
            } => {
                // The answer to vigil.reexec goes out before the exec, and what else was
                // being answered; new connections wait in the backlog for the new image.
                servers.drain(DRAIN_LIMIT).await;
                let relaunch = crate::handover::Relaunch::new(args);
                Err(reexec(&binary, &mut handover, &listening, &relaunch, &logger))
            }
        }
    })
}

/// The signals vigild acts on, held during a handover's exec.
fn handed_signals() -> nix::sys::signal::SigSet {
    use nix::sys::signal::Signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR2};
    let mut set = nix::sys::signal::SigSet::empty();
    for signal in [SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR2] {
        set.add(signal);
    }
    set
}

/// How long the requests being answered (`vigil.reexec`'s own among them) have before a
/// handover's exec.
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Execs `binary` with the fleet's record; returns only if that failed, after trying the
/// binary running now instead (the fleet frozen as it is, so the new image can still take
/// it): what went wrong.
fn reexec(
    binary: &std::path::Path,
    handover: &mut crate::handover::Handover,
    listening: &[Option<std::os::fd::OwnedFd>; 3],
    relaunch: &crate::handover::Relaunch,
    logger: &MainLogger,
) -> StartError {
    for (slot, fd) in handover.listeners.iter_mut().zip(listening) {
        *slot = fd.as_ref().map(std::os::fd::AsRawFd::as_raw_fd);
    }
    let record = match crate::handover::write(handover) {
        Ok(record) => record,
        Err(err) => {
            tracing::error!("reexec: {err}: vigild exits, and the guardian stops the fleet");
            logger.flush();
            return StartError::Io {
                about: "writing the handover record".into(),
                source: io::Error::other(err.to_string()),
            };
        }
    };
    let keep = handover.fds();
    logger.flush();
    // Held from here until the new image has its handlers (the mask survives the exec):
    // a SIGTERM in between must not kill vigild with its default action.
    let _ = handed_signals().thread_block();
    let failed = crate::handover::exec(binary, relaunch, &record, &keep);
    tracing::error!("reexec: cannot exec {}: {failed}", binary.display());
    // The image running now, even when its file was replaced or removed since.
    let running = Path::new("/proc/self/exe");
    tracing::error!("reexec: running this vigild's own image again instead");
    logger.flush();
    let again = crate::handover::exec(running, relaunch, &record, &keep);
    tracing::error!("reexec: cannot exec {} either: {again}", running.display());
    logger.flush();
    StartError::Io {
        about: format!("exec of {}", binary.display()),
        source: failed,
    }
}

/// vigild's environment plus `[supervisord] environment`: what every child starts from.
fn base_environment(env: &[(String, String)], config: &Config) -> Vec<(String, String)> {
    let mut merged: std::collections::BTreeMap<String, String> = env.iter().cloned().collect();
    merged.extend(config.supervisord.environment.iter().cloned());
    merged.into_iter().collect()
}

/// The signals vigild acts on, turned into supervisor controls: SIGTERM/INT/QUIT shut down,
/// SIGHUP reloads the config (a bad config keeps the running fleet), SIGUSR2 reopens logs;
/// both read the TCP servers' TLS files again.
struct SignalSource {
    term: Signal,
    int: Signal,
    quit: Signal,
    hup: Signal,
    usr2: Signal,
}

impl SignalSource {
    fn install() -> io::Result<Self> {
        Ok(SignalSource {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
            hup: signal(SignalKind::hangup())?,
            usr2: signal(SignalKind::user_defined2())?,
        })
    }

    async fn forward(mut self, handle: Handle, reload: Reload) {
        let mut shutting_down = false;
        loop {
            let name = tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.int.recv() => "SIGINT",
                _ = self.quit.recv() => "SIGQUIT",
                _ = self.hup.recv() => "SIGHUP",
                _ = self.usr2.recv() => "SIGUSR2",
            };
            match name {
                "SIGHUP" if shutting_down => {
                    tracing::warn!(
                        "ignored SIGHUP indicating restart request (shutdown in progress)"
                    );
                }
                "SIGHUP" => {
                    tracing::warn!("received SIGHUP indicating restart request");
                    let reloading = reload.clone();
                    // Scaled groups stay scaled, as long as the file allows.
                    let scaling = Scaling {
                        kept: handle.snapshot().scales.to_vec(),
                        asked: None,
                    };
                    let load = move || {
                        let loaded = reloading.load_and_apply(&scaling);
                        // The certificates the config names now (a bad config: those in use).
                        reloading.reload_tls(loaded.as_ref().map(|(config, _)| config));
                        loaded
                    };
                    match tokio::task::spawn_blocking(load).await {
                        Ok(Some((config, base_env))) => {
                            handle.send(Control::Restart(Box::new(config), base_env));
                        }
                        Ok(None) => {}
                        Err(err) => tracing::error!("could not reload the config: {err}"),
                    }
                }
                "SIGUSR2" => {
                    tracing::info!("received SIGUSR2 indicating log reopen request");
                    let reopening = reload.clone();
                    let targets = Arc::clone(&reload.targets);
                    // Off the runtime's workers: the file may sit on a stalled disk. The
                    // line above goes to the old file first, as under supervisord.
                    tokio::task::spawn_blocking(move || {
                        targets.logger.flush();
                        if let Err(err) = targets.main_log.reopen() {
                            tracing::error!("could not reopen the main log: {err}");
                        }
                        // Its lines go to the new file.
                        reopening.reload_tls(None);
                    });
                    handle.send(Control::ReopenLogs);
                }
                exit => {
                    tracing::warn!("received {exit} indicating exit request");
                    shutting_down = true;
                    handle.send(Control::Shutdown);
                }
            }
        }
    }
}

/// What a reload needs: where the config comes from, and the `[supervisord]` values in
/// effect with the places they apply to.
#[derive(Clone)]
struct Reload {
    source: ConfigSource,
    applied: Arc<Mutex<settings::Applied>>,
    targets: Arc<settings::Targets>,
    /// The TCP servers' TLS, read again from its files on SIGHUP and SIGUSR2 (None: a
    /// server on plain HTTP).
    tls: Arc<Vec<(&'static str, Option<crate::tls::Reloadable>)>>,
}

impl Reload {
    /// Reads the servers' certificates and keys again (those `config` names, after a
    /// SIGHUP's reload; else those in use); files that do not serve keep the ones in use
    /// (logged). Blocking.
    fn reload_tls(&self, config: Option<&Config>) {
        for (server, tls) in self.tls.iter() {
            match tls {
                Some(tls) => tls.reload_logged(config),
                // A listener serves plain HTTP or TLS from its start to its end.
                None if config
                    .is_some_and(|config| crate::tls::files_in(server, config).is_some()) =>
                {
                    tracing::error!(
                        "{server}: the config has tls_cert= now, but the listener serves plain \
                         HTTP; serving TLS takes `vigilctl reexec` or a restart"
                    );
                }
                None => {}
            }
        }
    }
}

impl Reload {
    /// Re-reads the config and re-applies its `[supervisord]` section to vigild; gives the
    /// config and the children's base environment for the supervisor's restart, or None (a
    /// bad config, reported, keeps everything running as it is). Blocking.
    fn load_and_apply(&self, scaling: &Scaling) -> Option<(Config, Vec<(String, String)>)> {
        match self.source.load_scaled(scaling) {
            Ok(loaded) => {
                for warning in &loaded.warnings {
                    tracing::warn!("{warning}");
                }
                self.applied
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .reapply(&loaded.config.supervisord, &self.targets);
                let base_env = base_environment(&self.source.env, &loaded.config);
                Some((loaded.config, base_env))
            }
            Err(errors) => {
                for error in &errors.0 {
                    tracing::error!(
                        "could not reload the config, keeping the running one: {error}"
                    );
                }
                None
            }
        }
    }
}

/// Recent main-log output kept in memory for `readLog`/`maintail`.
const MAIN_LOG_TAIL_BYTES: usize = 1 << 20;

/// Refuses to start when the pidfile names a live vigild.
fn refuse_second_daemon(pidfile: &Path) -> Result<(), StartError> {
    let Ok(text) = std::fs::read_to_string(pidfile) else {
        return Ok(());
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return Ok(());
    };
    let alive = matches!(kill(Pid::from_raw(pid), None), Ok(()) | Err(Errno::EPERM));
    let is_vigild = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|comm| comm.trim() == "vigild");
    if pid != std::process::id() as i32 && alive && is_vigild {
        return Err(StartError::AlreadyRunning {
            pid,
            path: pidfile.to_path_buf(),
        });
    }
    Ok(())
}

/// Double fork and setsid, so vigild has no controlling terminal and is not a session leader;
/// stdio goes to /dev/null.
fn daemonize(directory: Option<&Path>, mask: u32) -> Result<(), StartError> {
    use std::os::fd::AsRawFd;
    fork_and_leave_parent()?;
    setsid().map_err(|e| io_error("starting a new session")(e.into()))?;
    // The second child is not a session leader, so it can never acquire a terminal.
    fork_and_leave_parent()?;
    if let Some(dir) = directory {
        if let Err(err) = std::env::set_current_dir(dir) {
            tracing::error!(target: CRITICAL, "can't chdir into {}: {err}", dir.display());
        }
    }
    // As supervisord, the umask is applied when daemonizing only.
    umask(Mode::from_bits_truncate(mask));
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(io_error("opening /dev/null"))?;
    for fd in 0..=2 {
        nix::unistd::dup2(null.as_raw_fd(), fd)
            .map_err(|e| io_error("redirecting stdio")(e.into()))?;
    }
    Ok(())
}

fn fork_and_leave_parent() -> Result<(), StartError> {
    // SAFETY: no other thread exists yet (the runtime starts after daemonizing).
    match unsafe { fork() }.map_err(|e| io_error("forking")(e.into()))? {
        // SAFETY: _exit ends the parent without running atexit handlers or flushing twice.
        ForkResult::Parent { .. } => unsafe { libc::_exit(0) },
        ForkResult::Child => Ok(()),
    }
}

/// `[supervisord] user=`: switch the whole daemon to that user (root only).
fn drop_privileges(user: &UserSpec) -> Result<(), StartError> {
    let current = Uid::effective();
    if current.as_raw() == user.uid {
        return Ok(());
    }
    if !current.is_root() {
        return Err(StartError::Privileges(format!(
            "can't switch to user '{}': vigild is not running as root (can't drop privilege as nonroot user)",
            user.name
        )));
    }
    let groups: Vec<Gid> = user.groups.iter().map(|g| Gid::from_raw(*g)).collect();
    let fail = |what: &str, err: Errno| {
        StartError::Privileges(format!("could not {what} for user '{}': {err}", user.name))
    };
    nix::unistd::setgroups(&groups).map_err(|e| fail("set supplementary groups", e))?;
    nix::unistd::setgid(Gid::from_raw(user.gid)).map_err(|e| fail("set gid", e))?;
    nix::unistd::setuid(Uid::from_raw(user.uid)).map_err(|e| fail("set uid", e))?;
    Ok(())
}

/// Says at start when `journald` targets are configured and the journal's socket is not
/// there (their entries are dropped, and said so, until it is).
fn warn_of_a_missing_journal(config: &Config) {
    let socket = &config.supervisord.journal_socket;
    if socket.exists() {
        return;
    }
    let mut users: Vec<String> = config
        .groups
        .iter()
        .flat_map(|group| &group.processes)
        .flat_map(|process| {
            [("stdout", &process.stdout), ("stderr", &process.stderr)]
                .into_iter()
                .filter(|(_, log)| log.target == config::LogTarget::Journald)
                .map(|(stream, _)| format!("[{}] {stream}_logfile", process.name))
        })
        .collect();
    if config.supervisord.logfile == MainLog::Journald {
        users.insert(0, "[supervisord] logfile".into());
    }
    if !users.is_empty() {
        tracing::warn!(
            "journald: {} does not exist; the entries of {} are dropped until it does",
            socket.display(),
            users.join(", ")
        );
    }
}
