//! Starting one child the way supervisord does: argv split with shell rules, the command
//! looked up and checked before forking (so a missing or non-executable command becomes a
//! `spawnerr`), the environment assembled, and the child put in its own process group with
//! its user, umask and signal mask set up.
//!
//! Everything that can fail is resolved before the start; [`super::launch`] then clones and
//! execs.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::{access, pipe2, AccessFlags};

use super::cgroup::Cgroups;
use super::controls::ChildControls;
use super::launch::{Identity, Launch, LaunchError, Stage};
pub use super::spawn_error::SpawnError;
use crate::config::{value, ProcessConfig};

/// The parent's ends of a freshly spawned child.
#[derive(Debug)]
pub struct Child {
    /// Its pid (also its process group id).
    pub pid: i32,
    /// Write end of its stdin pipe (none for fcgi programs, whose fd 0 is the socket).
    pub stdin: Option<OwnedFd>,
    /// Read end of its stdout pipe (carrying stderr too with `redirect_stderr`); none when
    /// the output is discarded.
    pub stdout: Option<OwnedFd>,
    /// Read end of its stderr pipe; none with `redirect_stderr` or discarded output.
    pub stderr: Option<OwnedFd>,
    /// vigil `ready=fd:N`: the read end of its notification pipe (its fd N).
    pub notification: Option<OwnedFd>,
}

/// A child ready to be started: its [`Launch`] and the pipe ends, held until the start so
/// the fds in the plan stay valid.
#[derive(Debug)]
pub struct Prepared {
    plan: Launch,
    argv0: String,
    /// What vigild keeps: stdin's write end, the read ends of the outputs.
    stdin_write: Option<OwnedFd>,
    stdout_read: Option<OwnedFd>,
    stderr_read: Option<OwnedFd>,
    /// vigil `ready=fd:N`: the read end of the notification pipe.
    notification_read: Option<OwnedFd>,
    /// What the child gets; closed here once it has started.
    child_ends: (OwnedFd, Option<OwnedFd>, OwnedFd, Option<OwnedFd>),
}

impl Prepared {
    /// What to start.
    pub fn plan(&self) -> &Launch {
        &self.plan
    }

    /// The child, once `started` tells how the start went (the error is the `spawnerr`).
    pub fn finish(
        self,
        config: &ProcessConfig,
        started: Result<i32, LaunchError>,
    ) -> Result<Child, SpawnError> {
        let pid = started.map_err(|err| launch_error(config, &self.argv0, &self.plan, &err))?;
        // Our copies of the child's ends close here, so EOF arrives when the child (and
        // whatever inherited them) is gone.
        drop(self.child_ends);
        Ok(Child {
            pid,
            stdin: self.stdin_write,
            stdout: self.stdout_read,
            stderr: self.stderr_read,
            notification: self.notification_read,
        })
    }
}

/// Resolves everything a start of `config` needs and can fail on, and makes its pipes.
/// `base_env` is vigild's environment plus `[supervisord] environment`, `daemon_umask` the umask
/// of children whose program sets none (None: inherited); `fcgi_socket` (a copy of the
/// program's socket) becomes the child's fd 0. The error is supervisord's `spawnerr` text.
/// It reads and stats files (`environment_file`, PATH, `directory`), so the supervisor runs
/// it on a blocking thread ([`super::preparer`]); the start itself is the spawner's
/// ([`super::spawner::Spawner::submit`]).
pub fn prepare(
    config: &ProcessConfig,
    (base_env, daemon_umask): (&[(String, String)], Option<u32>),
    fcgi_socket: Option<OwnedFd>,
    cgroup: Option<(PathBuf, std::sync::Arc<Cgroups>)>,
) -> Result<Prepared, SpawnError> {
    // vigil `cgroup_root`: the process's own cgroup, made (with its limits) before the start.
    let cgroup_procs = match cgroup {
        Some((dir, cgroups)) => {
            let procs = Cgroups::make(&dir).map_err(|err| SpawnError::Cgroup {
                dir: dir.clone(),
                errno: errno_name(&err),
            })?;
            cgroups
                .apply_limits(&dir, &config.controls.cgroup)
                .map_err(|refused| SpawnError::Control {
                    what: format!("{}={}", refused.limit.option, refused.limit.value),
                    errno: errno_name(&refused.error),
                })?;
            Some(c_string(procs.as_os_str().as_bytes(), "cgroup")?)
        }
        None => None,
    };
    let argv = command_line(config)?;
    let Some(argv0) = argv.first() else {
        return Err(SpawnError::EmptyCommand);
    };
    let env = environment(config, base_env)?;
    let program = resolve_command(argv0, env.get("PATH").map(String::as_str))?;
    let identity = match &config.user {
        Some(user) => Some(identity_for(user)?),
        None => None,
    };
    if let Some(dir) = &config.directory {
        if !dir.is_dir() {
            return Err(SpawnError::Chdir {
                directory: Some(dir.clone()),
                errno: "ENOENT".into(),
            });
        }
    }

    // At loglevel=debug, supervisord copies all child output into its main log; vigil's
    // `ready=log:` reads the output for its line, whatever the log settings.
    let watched = matches!(config.ready, crate::config::Readiness::Log(_));
    let discard = |log: &crate::config::StreamLog| {
        log.is_discarded() && !tracing::enabled!(tracing::Level::DEBUG) && !watched
    };
    // An event listener's stdout is its protocol channel, whatever its log settings.
    let discard_stdout = discard(&config.stdout) && config.listener.is_none();
    let (stdout_read, stdout_write) = output_pipe(config, discard_stdout)?;
    let (stderr_read, stderr_write) = if config.redirect_stderr {
        (None, None)
    } else {
        let (read, write) = output_pipe(config, discard(&config.stderr))?;
        (read, Some(write))
    };
    let (stdin_write, stdin_source) = if let Some(socket) = fcgi_socket {
        (None, socket)
    } else {
        let (read, write) = pipe(config)?;
        (Some(write), read)
    };
    let stderr_target = stderr_write.as_ref().unwrap_or(&stdout_write).as_raw_fd();
    // vigil `ready=fd:N`: the child writes a newline to its fd N when it is ready.
    let (notification_read, notification_write) = match config.ready {
        crate::config::Readiness::Fd(target) => {
            let (read, write) = pipe(config)?;
            (Some(read), Some((write, target)))
        }
        _ => (None, None),
    };
    let plan = Launch {
        program: c_string(program.as_os_str().as_bytes(), "command")?,
        argv: argv
            .iter()
            .map(|arg| c_string(arg.as_bytes(), "command"))
            .collect::<Result<_, _>>()?,
        env: env
            .iter()
            .map(|(key, value)| c_string(format!("{key}={value}").as_bytes(), "environment"))
            .collect::<Result<_, _>>()?,
        directory: config
            .directory
            .as_ref()
            .map(|dir| c_string(dir.as_os_str().as_bytes(), "directory"))
            .transpose()?,
        // The helpers that exec children were forked with vigild's start-up umask; a reload
        // may have set another since.
        umask: config
            .umask
            .or(daemon_umask)
            .map(|mask| mask as libc::mode_t),
        identity,
        stdio: [
            stdin_source.as_raw_fd(),
            stdout_write.as_raw_fd(),
            stderr_target,
        ],
        notification: notification_write
            .as_ref()
            .map(|(write, target)| (write.as_raw_fd(), *target)),
        controls: ChildControls::prepare(&config.controls)?,
        cgroup_procs,
    };
    Ok(Prepared {
        plan,
        argv0: argv0.clone(),
        stdin_write,
        stdout_read,
        stderr_read,
        notification_read,
        child_ends: (
            stdout_write,
            stderr_write,
            stdin_source,
            notification_write.map(|(write, _)| write),
        ),
    })
}

fn c_string(bytes: &[u8], what: &'static str) -> Result<CString, SpawnError> {
    CString::new(bytes).map_err(|_| SpawnError::NulByte { what })
}

/// The command split with shell rules.
fn command_line(config: &ProcessConfig) -> Result<Vec<String>, SpawnError> {
    shlex::split(&config.command).ok_or_else(|| SpawnError::UnparsableCommand {
        command: config.command.clone(),
    })
}

/// supervisord's checks before a start request forks (`get_execv_args`): the command line
/// parses and its program exists and is executable. The error is the spawnerr text; the
/// process is left as it was.
pub fn preflight(config: &ProcessConfig, base_env: &[(String, String)]) -> Result<(), SpawnError> {
    let argv = command_line(config)?;
    let argv0 = argv.first().ok_or(SpawnError::EmptyCommand)?;
    let path = config
        .environment
        .iter()
        .rev()
        .chain(base_env.iter().rev())
        .find(|(key, _)| key == "PATH")
        .map(|(_, value)| value.as_str());
    resolve_command(argv0, path).map(|_| ())
}

/// The child's environment: vigild's plus `[supervisord] environment`, the `SUPERVISOR_*`
/// variables, then `environment_file` and finally the program's `environment`.
fn environment(
    config: &ProcessConfig,
    base_env: &[(String, String)],
) -> Result<BTreeMap<String, String>, SpawnError> {
    let mut env: BTreeMap<String, String> = base_env.iter().cloned().collect();
    env.insert("SUPERVISOR_ENABLED".into(), "1".into());
    if let Some(url) = &config.serverurl {
        env.insert("SUPERVISOR_SERVER_URL".into(), url.clone());
    }
    env.insert("SUPERVISOR_PROCESS_NAME".into(), config.name.clone());
    env.insert("SUPERVISOR_GROUP_NAME".into(), config.group.clone());
    if config.ready == crate::config::Readiness::Notify {
        if let Some(socket) = crate::notify::socket_name() {
            env.insert("NOTIFY_SOCKET".into(), socket.to_string());
        }
        if let Some(period) = config.watchdog {
            env.insert("WATCHDOG_USEC".into(), period.as_micros().to_string());
        }
    }
    if let Some(path) = &config.environment_file {
        let text =
            std::fs::read_to_string(path).map_err(|err| SpawnError::EnvironmentFileUnreadable {
                path: path.clone(),
                error: err.to_string(),
            })?;
        let pairs =
            value::environment_file(&text).map_err(|why| SpawnError::EnvironmentFileInvalid {
                path: path.clone(),
                why,
            })?;
        env.extend(pairs);
    }
    env.extend(config.environment.iter().cloned());
    Ok(env)
}

/// Finds `argv0` (in `PATH` when it has no `/`) and checks it can be executed, with
/// supervisord's messages.
fn resolve_command(argv0: &str, path_var: Option<&str>) -> Result<PathBuf, SpawnError> {
    let not_found = || SpawnError::CommandNotFound {
        argv0: argv0.to_string(),
    };
    let found = if argv0.contains('/') {
        PathBuf::from(argv0)
    } else {
        path_var
            .filter(|path| !path.is_empty())
            .unwrap_or(DEFAULT_PATH)
            .split(':')
            .map(|dir| Path::new(dir).join(argv0))
            .find(|candidate| candidate.metadata().is_ok())
            .ok_or_else(not_found)?
    };
    let metadata = found.metadata().map_err(|_| not_found())?;
    if metadata.is_dir() {
        return Err(SpawnError::CommandIsDirectory { path: found });
    }
    if metadata.permissions().mode() & 0o111 == 0 {
        return Err(SpawnError::CommandNotExecutable { path: found });
    }
    if access(&found, AccessFlags::X_OK).is_err() {
        return Err(SpawnError::NoPermission { path: found });
    }
    Ok(found)
}

/// Where commands are looked up when the environment has no usable PATH (supervisord's
/// `get_path` default).
const DEFAULT_PATH: &str = "/bin:/usr/bin:/usr/local/bin";

/// The ids to switch to for `user=`; refused when vigild cannot switch to them.
fn identity_for(user: &crate::config::UserSpec) -> Result<Identity, SpawnError> {
    let current = nix::unistd::geteuid().as_raw();
    if current != 0 && current != user.uid {
        return Err(SpawnError::NotRoot {
            user: user.name.clone(),
        });
    }
    Ok(Identity {
        uid: user.uid,
        gid: user.gid,
        groups: user.groups.clone(),
    })
}

/// The read end vigild keeps (none when the output is discarded) and the write end the
/// child gets (a pipe, or /dev/null).
fn output_pipe(
    config: &ProcessConfig,
    discarded: bool,
) -> Result<(Option<OwnedFd>, OwnedFd), SpawnError> {
    if discarded {
        let null = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .map_err(|e| dispatchers_error(config, &e))?;
        return Ok((None, OwnedFd::from(null)));
    }
    let (read, write) = pipe(config)?;
    Ok((Some(read), write))
}

fn pipe(config: &ProcessConfig) -> Result<(OwnedFd, OwnedFd), SpawnError> {
    pipe2(OFlag::O_CLOEXEC).map_err(|errno| dispatchers_error(config, &io::Error::from(errno)))
}

/// supervisord's `spawnerr` when what carries a child's output (its pipes, its log files)
/// could not be made: "too many open files" for EMFILE, else "unknown error making
/// dispatchers".
pub fn dispatchers_error(config: &ProcessConfig, err: &io::Error) -> SpawnError {
    if err.raw_os_error() == Some(libc::EMFILE) {
        SpawnError::TooManyFiles {
            name: config.name.clone(),
        }
    } else {
        SpawnError::Dispatchers {
            name: config.name.clone(),
            errno: errno_name(err),
        }
    }
}

/// supervisord's `spawnerr` for a start that failed at `err.stage`.
fn launch_error(
    config: &ProcessConfig,
    argv0: &str,
    plan: &Launch,
    err: &LaunchError,
) -> SpawnError {
    let errno = errno_name(&err.error);
    match err.stage {
        Stage::Clone if err.error.raw_os_error() == Some(libc::EAGAIN) => {
            SpawnError::TooManyProcesses {
                name: config.name.clone(),
            }
        }
        Stage::Clone | Stage::Stdio => dispatchers_error(config, &err.error),
        Stage::Chdir => SpawnError::Chdir {
            directory: config.directory.clone(),
            errno,
        },
        Stage::Identity => SpawnError::Setuid {
            uid: plan.identity.as_ref().map(|id| id.uid),
            errno,
        },
        Stage::Exec => SpawnError::Exec {
            argv0: argv0.to_string(),
            errno,
        },
        Stage::Control(control) => SpawnError::Control {
            what: control.describe(&config.controls),
            errno,
        },
    }
}

/// `ENOENT`-style name of an OS error, as supervisord prints `errno.errorcode`.
fn errno_name(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => format!("{:?}", Errno::from_raw(code)),
        None => err.to_string(),
    }
}
