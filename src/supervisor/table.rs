//! The process table: every configured process with its runtime record, in start order, plus
//! the pid index used to route reaped exits and the fcgi sockets each group shares.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{Config, LogTarget, ProcessConfig, StreamLog};
use crate::logs::sink::{LogSink, Rotation};
use crate::process::state::Process;

/// A process's identity: (group name, process name).
pub type ProcKey = (String, String);

/// One process: its config, its state record and what vigild holds open for it.
pub struct Entry {
    /// Its config.
    pub config: Arc<ProcessConfig>,
    /// Its state and counters.
    pub process: Process,
    /// Bumped on every accepted input; timers armed earlier are stale.
    pub generation: u64,
    /// Write end of the child's stdin, kept open while it runs.
    pub stdin: Option<OwnedFd>,
    /// Where its stdout goes.
    pub stdout_log: Arc<LogSink>,
    /// Where its stderr goes.
    pub stderr_log: Arc<LogSink>,
}

/// All processes of a config, in start order.
#[derive(Default)]
pub struct Table {
    /// Keys in start order (groups by priority, processes by priority within a group).
    pub groups: Vec<(String, Vec<ProcKey>)>,
    /// The entries.
    pub entries: HashMap<ProcKey, Entry>,
    /// Live child pid → its process.
    pub pids: HashMap<i32, ProcKey>,
    /// fcgi program name → its listening socket.
    pub fcgi_sockets: HashMap<String, OwnedFd>,
}

impl Table {
    /// Builds the table for `config`, opening each process's log files and fcgi sockets.
    /// Failures are logged and leave that stream discarded or that program without a socket
    /// (it then fails to spawn with a clear spawnerr).
    pub fn build(config: &Config) -> Table {
        let mut table = Table::default();
        for group in &config.groups {
            let mut keys = Vec::new();
            for process in &group.processes {
                let key = (group.name.clone(), process.name.clone());
                if let Some(spec) = &process.fcgi_socket {
                    if !table.fcgi_sockets.contains_key(&process.program) {
                        match crate::process::fcgi::bind_socket(spec) {
                            Ok(fd) => {
                                table.fcgi_sockets.insert(process.program.clone(), fd);
                            }
                            Err(err) => tracing::error!(
                                "could not create socket for fcgi-program '{}': {err}",
                                process.program
                            ),
                        }
                    }
                }
                let stdout_log = open_log(process, &process.stdout, "stdout", config);
                let stderr_log = if process.redirect_stderr {
                    Arc::new(LogSink::discard())
                } else {
                    open_log(process, &process.stderr, "stderr", config)
                };
                table.entries.insert(
                    key.clone(),
                    Entry {
                        config: Arc::clone(process),
                        process: Process::default(),
                        generation: 0,
                        stdin: None,
                        stdout_log,
                        stderr_log,
                    },
                );
                keys.push(key);
            }
            table.groups.push((group.name.clone(), keys));
        }
        table
    }

    /// Keys of every process, in start order.
    pub fn start_order(&self) -> impl Iterator<Item = &ProcKey> {
        self.groups.iter().flat_map(|(_, keys)| keys.iter())
    }

    /// Every open log sink (for SIGUSR2).
    pub fn sinks(&self) -> Vec<Arc<LogSink>> {
        self.entries
            .values()
            .flat_map(|entry| [Arc::clone(&entry.stdout_log), Arc::clone(&entry.stderr_log)])
            .collect()
    }
}

fn open_log(
    process: &ProcessConfig,
    log: &StreamLog,
    stream: &str,
    config: &Config,
) -> Arc<LogSink> {
    let rotation = Rotation {
        maxbytes: log.maxbytes,
        backups: log.backups,
    };
    let path = match &log.target {
        LogTarget::None => return Arc::new(LogSink::discard()),
        LogTarget::Syslog => {
            tracing::warn!(
                "{stream} of '{}' goes to syslog, which vigil does not support yet: its output is discarded",
                process.name
            );
            return Arc::new(LogSink::discard());
        }
        LogTarget::File(path) => path.clone(),
        LogTarget::Auto => auto_log_path(
            &config.supervisord.childlogdir,
            &process.name,
            stream,
            &config.supervisord.identifier,
        ),
    };
    match LogSink::open(&path, rotation) {
        Ok(sink) => Arc::new(sink),
        Err(err) => {
            tracing::error!(
                "could not open {stream} log {} of '{}': {err}; its output is discarded",
                path.display(),
                process.name
            );
            Arc::new(LogSink::discard())
        }
    }
}

/// `<name>-<stream>---<identifier>-<8 random chars>.log` in `childlogdir`, as supervisord
/// names AUTO logs.
fn auto_log_path(dir: &Path, name: &str, stream: &str, identifier: &str) -> PathBuf {
    use std::hash::BuildHasher;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
    loop {
        let mut seed = std::collections::hash_map::RandomState::new().hash_one((name, stream));
        let suffix: String = (0..8)
            .map(|_| {
                let index = usize::try_from(seed % ALPHABET.len() as u64).unwrap_or(0);
                seed /= ALPHABET.len() as u64;
                char::from(ALPHABET[index])
            })
            .collect();
        let path = dir.join(format!("{name}-{stream}---{identifier}-{suffix}.log"));
        if !path.exists() {
            return path;
        }
    }
}
