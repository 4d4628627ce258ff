//! The `[supervisord]` values vigild applies to itself rather than to its programs: the log
//! level and file, the pidfile, the umask, the fd and process limits. They are applied at
//! start-up by `daemon::run`, and again on every reload (SIGHUP, `supervisorctl reload`) by
//! [`Applied::reapply`], as supervisord's restart makes its options anew. A value that cannot
//! be applied on a reload keeps the running one, and the main log says which. The fleet is
//! not touched here: the supervisor rebuilds it from the same config.

use std::io;
use std::path::Path;
use std::sync::Arc;

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::stat::{umask, Mode};
use tokio::sync::watch;

use crate::config::{MainLog, SupervisordConfig};
use crate::logs::file::{LogFile, Rotation};
use crate::logs::mainlog::MainLogger;
use crate::logs::stream::LogStream;

/// Why a `[supervisord]` value could not be applied to vigild.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A soft limit could not be raised to `minfds`/`minprocs` (supervisord's wording).
    #[error("The minimum number of {what} required to run this process is {minimum} as per the \"{option}\" command-line argument or config file setting. The current environment will only allow you to open {hard} {what}. Either raise the number of usable {what} in your environment or lower the {option} setting in the config file to allow the process to start.")]
    Limit {
        /// `minfds` or `minprocs`.
        option: &'static str,
        /// What the limit counts.
        what: &'static str,
        /// The configured minimum.
        minimum: u64,
        /// The hard limit in the way.
        hard: u64,
    },
    /// A file could not be opened or written.
    #[error("{about}: {source}")]
    Io {
        /// What was being done, naming the file.
        about: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Where the re-applied values take effect.
pub struct Targets {
    /// The main log's level.
    pub logger: Arc<MainLogger>,
    /// The main log's stream, whose file a new `logfile` replaces.
    pub main_log: Arc<LogStream>,
    /// The sampler's interval.
    pub sample_interval: watch::Sender<std::time::Duration>,
}

/// The `[supervisord]` values in effect now.
pub struct Applied {
    current: SupervisordConfig,
}

impl Applied {
    /// The values applied at start-up.
    pub fn new(current: SupervisordConfig) -> Self {
        Applied { current }
    }

    /// The pidfile in use (removed at exit).
    pub fn pidfile(&self) -> &Path {
        &self.current.pidfile
    }

    /// Applies each value of `new` that differs from the running one; one that cannot be
    /// applied keeps the running value, with an error naming the option. Blocking (it opens
    /// files): run it off the runtime's workers.
    pub fn reapply(&mut self, new: &SupervisordConfig, targets: &Targets) {
        let current = &mut self.current;
        if new.loglevel != current.loglevel {
            targets.logger.set_level(new.loglevel);
            tracing::info!("loglevel is now {:?}", new.loglevel);
            current.loglevel = new.loglevel;
        }
        let rotation = |settings: &SupervisordConfig| Rotation {
            maxbytes: settings.logfile_maxbytes,
            backups: settings.logfile_backups,
            every: settings.logfile_rotate,
            compress: settings.logfile_compress,
        };
        if new.logfile != current.logfile || rotation(new) != rotation(current) {
            match open_main_log_file(&new.logfile, rotation(new)) {
                Ok(file) => {
                    // The old file's last line says where the log goes on (once written).
                    tracing::info!("the log continues in {}", describe(&new.logfile));
                    targets.logger.flush();
                    targets.main_log.retarget(file);
                    tracing::info!("logfile is now {}", describe(&new.logfile));
                    current.logfile = new.logfile.clone();
                    current.logfile_maxbytes = new.logfile_maxbytes;
                    current.logfile_backups = new.logfile_backups;
                    current.logfile_rotate = new.logfile_rotate;
                    current.logfile_compress = new.logfile_compress;
                }
                Err(err) => tracing::error!(
                    "could not apply logfile={}: {err}; keeping {}",
                    describe(&new.logfile),
                    describe(&current.logfile)
                ),
            }
        }
        if new.pidfile != current.pidfile {
            match write_pidfile(&new.pidfile) {
                Ok(()) => {
                    let _ = std::fs::remove_file(&current.pidfile);
                    current.pidfile.clone_from(&new.pidfile);
                }
                Err(err) => tracing::error!(
                    "could not apply pidfile={}: {err}; keeping {}",
                    new.pidfile.display(),
                    current.pidfile.display()
                ),
            }
        }
        if new.umask != current.umask {
            // As at start-up, where the umask is set when daemonizing only.
            if !current.nodaemon {
                umask(Mode::from_bits_truncate(new.umask));
            }
            current.umask = new.umask;
        }
        for limit in &LIMITS {
            let (wanted, running) = ((limit.of)(new), (limit.of)(current));
            if wanted == running {
                continue;
            }
            match limit.raise(wanted) {
                Ok(()) => (limit.set)(current, wanted),
                Err(err) => tracing::error!(
                    "could not apply {option}={wanted}: {err}; keeping {option}={running}",
                    option = limit.option
                ),
            }
        }
        if new.cgroup_root != current.cgroup_root {
            tracing::warn!(
                "cgroup_root={}: a change of cgroup_root takes effect at vigild's next start; keeping {}",
                new.cgroup_root.as_deref().unwrap_or("(none)"),
                current.cgroup_root.as_deref().unwrap_or("(none)")
            );
        }
        if new.sample_interval != current.sample_interval {
            let _ = targets.sample_interval.send(new.sample_interval);
            current.sample_interval = new.sample_interval;
        }
    }
}

/// A resource limit that a `[supervisord]` option raises.
struct Limit {
    option: &'static str,
    resource: Resource,
    what: &'static str,
    of: fn(&SupervisordConfig) -> u64,
    set: fn(&mut SupervisordConfig, u64),
}

/// `minfds` and `minprocs`.
const LIMITS: [Limit; 2] = [
    Limit {
        option: "minfds",
        resource: Resource::RLIMIT_NOFILE,
        what: "file descriptors",
        of: |settings| settings.minfds,
        set: |settings, value| settings.minfds = value,
    },
    Limit {
        option: "minprocs",
        resource: Resource::RLIMIT_NPROC,
        what: "processes",
        of: |settings| settings.minprocs,
        set: |settings, value| settings.minprocs = value,
    },
];

impl Limit {
    /// Raises the soft limit to at least `minimum`, as supervisord does.
    fn raise(&self, minimum: u64) -> Result<(), ApplyError> {
        let (soft, hard) = getrlimit(self.resource).map_err(|err| ApplyError::Io {
            about: "reading resource limits".into(),
            source: err.into(),
        })?;
        if soft >= minimum {
            return Ok(());
        }
        setrlimit(self.resource, minimum, hard.max(minimum)).map_err(|_| ApplyError::Limit {
            option: self.option,
            what: self.what,
            minimum,
            hard,
        })
    }
}

/// Raises the soft limits to at least `minfds` and `minprocs` (start-up).
pub fn raise_limits(settings: &SupervisordConfig) -> Result<(), ApplyError> {
    LIMITS
        .iter()
        .try_for_each(|limit| limit.raise((limit.of)(settings)))
}

/// Opens the main log's file (none for `syslog` and `journald`, whose lines go to a socket).
pub fn open_main_log_file(
    logfile: &MainLog,
    rotation: Rotation,
) -> Result<Option<LogFile>, ApplyError> {
    match logfile {
        MainLog::Syslog | MainLog::Journald => Ok(None),
        MainLog::File(path) => {
            LogFile::open(path, rotation)
                .map(Some)
                .map_err(|source| ApplyError::Io {
                    about: format!("opening the log file {}", path.display()),
                    source,
                })
        }
    }
}

/// Writes vigild's pid into `pidfile`.
pub fn write_pidfile(pidfile: &Path) -> Result<(), ApplyError> {
    std::fs::write(pidfile, format!("{}\n", std::process::id())).map_err(|source| ApplyError::Io {
        about: format!("writing the pidfile {}", pidfile.display()),
        source,
    })
}

fn describe(logfile: &MainLog) -> String {
    match logfile {
        MainLog::File(path) => path.display().to_string(),
        MainLog::Syslog => "syslog".into(),
        MainLog::Journald => "journald".into(),
    }
}
