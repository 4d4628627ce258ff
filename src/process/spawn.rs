//! Starting one child the way supervisord does: argv split with shell rules, the command
//! looked up and checked before forking (so a missing or non-executable command becomes a
//! `spawnerr`), the environment assembled, and the child put in its own process group with
//! its user, umask and signal mask set up.
//!
//! Everything that can fail is resolved before the fork. The code that runs between fork and
//! exec makes async-signal-safe system calls only.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::{access, pipe2, AccessFlags};

use crate::config::{value, ProcessConfig};

/// The parent's ends of a freshly spawned child.
#[derive(Debug)]
pub struct Child {
    /// Its pid (also its process group id).
    pub pid: i32,
    /// Write end of its stdin pipe (none for fcgi programs, whose fd 0 is the socket).
    pub stdin: Option<OwnedFd>,
    /// Read end of its stdout pipe (carrying stderr too with `redirect_stderr`).
    pub stdout: OwnedFd,
    /// Read end of its stderr pipe.
    pub stderr: Option<OwnedFd>,
}

/// Spawns `config`'s command. `base_env` is vigild's environment plus `[supervisord]
/// environment`; `fcgi_socket` becomes the child's fd 0. The error is supervisord's
/// `spawnerr` text.
pub fn spawn(
    config: &ProcessConfig,
    base_env: &[(String, String)],
    fcgi_socket: Option<BorrowedFd<'_>>,
) -> Result<Child, String> {
    let argv = shlex::split(&config.command)
        .ok_or_else(|| format!("can't parse command '{}'", config.command))?;
    let Some(argv0) = argv.first() else {
        return Err("command is empty".into());
    };
    let env = environment(config, base_env)?;
    let program = resolve_command(argv0, env.get("PATH").map(String::as_str))?;
    let identity = match &config.user {
        Some(user) => Some(Identity::for_user(user)?),
        None => None,
    };
    if let Some(dir) = &config.directory {
        if !dir.is_dir() {
            return Err(format!("couldn't chdir to {}: ENOENT", dir.display()));
        }
    }

    let mut command = Command::new(&program);
    command
        .arg0(argv0)
        .args(&argv[1..])
        .env_clear()
        .envs(&env)
        .process_group(0);
    if let Some(dir) = &config.directory {
        command.current_dir(dir);
    }
    let (stdout_read, stdout_write) = pipe(config)?;
    let stderr_read = if config.redirect_stderr {
        command.stderr(Stdio::from(
            stdout_write
                .try_clone()
                .map_err(|e| too_many_files(config, &e))?,
        ));
        None
    } else {
        let (read, write) = pipe(config)?;
        command.stderr(Stdio::from(write));
        Some(read)
    };
    command.stdout(Stdio::from(stdout_write));
    match fcgi_socket {
        Some(socket) => {
            let socket = socket
                .try_clone_to_owned()
                .map_err(|e| too_many_files(config, &e))?;
            command.stdin(Stdio::from(socket));
        }
        None => {
            command.stdin(Stdio::piped());
        }
    }
    let umask = config.umask;
    // SAFETY: the closure runs in the child between fork and exec and only makes
    // async-signal-safe system calls on data prepared before the fork; it does not allocate.
    unsafe {
        command.pre_exec(move || prepare_child(umask, identity.as_ref()));
    }
    let spawned = command.spawn();
    // Dropping the command closes our copies of the child's pipe ends, so EOF arrives when
    // the child (and whatever inherited them) is gone.
    drop(command);
    let mut child = spawned.map_err(|err| spawn_error(config, argv0, &err))?;
    let pid = i32::try_from(child.id()).map_err(|_| "pid out of range".to_string())?;
    Ok(Child {
        pid,
        stdin: child.stdin.take().map(OwnedFd::from),
        stdout: stdout_read,
        stderr: stderr_read,
    })
}

/// supervisord's checks before a start request forks (`get_execv_args`): the command line
/// parses and its program exists and is executable. The error is the spawnerr text; the
/// process is left as it was.
pub fn preflight(config: &ProcessConfig, base_env: &[(String, String)]) -> Result<(), String> {
    let argv = shlex::split(&config.command)
        .ok_or_else(|| format!("can't parse command '{}'", config.command))?;
    let argv0 = argv.first().ok_or_else(|| "command is empty".to_string())?;
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
) -> Result<BTreeMap<String, String>, String> {
    let mut env: BTreeMap<String, String> = base_env.iter().cloned().collect();
    env.insert("SUPERVISOR_ENABLED".into(), "1".into());
    if let Some(url) = &config.serverurl {
        env.insert("SUPERVISOR_SERVER_URL".into(), url.clone());
    }
    env.insert("SUPERVISOR_PROCESS_NAME".into(), config.name.clone());
    env.insert("SUPERVISOR_GROUP_NAME".into(), config.group.clone());
    if let Some(path) = &config.environment_file {
        let text = std::fs::read_to_string(path)
            .map_err(|err| format!("couldn't read environment_file {}: {err}", path.display()))?;
        let pairs = value::environment_file(&text)
            .map_err(|why| format!("bad environment_file {}: {why}", path.display()))?;
        env.extend(pairs);
    }
    env.extend(config.environment.iter().cloned());
    Ok(env)
}

/// Finds `argv0` (in `PATH` when it has no `/`) and checks it can be executed, with
/// supervisord's messages.
fn resolve_command(argv0: &str, path_var: Option<&str>) -> Result<PathBuf, String> {
    let found = if argv0.contains('/') {
        PathBuf::from(argv0)
    } else {
        path_var
            .filter(|path| !path.is_empty())
            .unwrap_or(DEFAULT_PATH)
            .split(':')
            .map(|dir| Path::new(dir).join(argv0))
            .find(|candidate| candidate.metadata().is_ok())
            .ok_or_else(|| format!("can't find command '{argv0}'"))?
    };
    let metadata = found
        .metadata()
        .map_err(|_| format!("can't find command '{argv0}'"))?;
    let shown = found.display();
    if metadata.is_dir() {
        return Err(format!("command at '{shown}' is a directory"));
    }
    if metadata.permissions().mode() & 0o111 == 0 {
        return Err(format!("command at '{shown}' is not executable"));
    }
    if access(&found, AccessFlags::X_OK).is_err() {
        return Err(format!("no permission to run command '{shown}'"));
    }
    Ok(found)
}

/// Where commands are looked up when the environment has no usable PATH (supervisord's
/// `get_path` default).
const DEFAULT_PATH: &str = "/bin:/usr/bin:/usr/local/bin";

/// The ids a child switches to, resolved before the fork.
struct Identity {
    uid: libc::uid_t,
    gid: libc::gid_t,
    groups: Vec<libc::gid_t>,
}

impl Identity {
    fn for_user(user: &crate::config::UserSpec) -> Result<Self, String> {
        let current = nix::unistd::geteuid().as_raw();
        if current != 0 && current != user.uid {
            return Err(format!(
                "can't run as user '{}': vigild is not running as root (can't drop privilege as nonroot user)",
                user.name
            ));
        }
        Ok(Identity {
            uid: user.uid,
            gid: user.gid,
            groups: user.groups.clone(),
        })
    }
}

/// Runs in the child after fork: reset the signal mask, apply umask and user.
fn prepare_child(umask: Option<u32>, identity: Option<&Identity>) -> io::Result<()> {
    // SAFETY (for the calls below): each is a plain system call, async-signal-safe, given
    // valid pointers to memory owned by this process.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        if let Some(mask) = umask {
            libc::umask(mask as libc::mode_t);
        }
        if let Some(id) = identity {
            if libc::getuid() == 0 {
                if libc::setgroups(id.groups.len(), id.groups.as_ptr()) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::setgid(id.gid) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            if libc::setuid(id.uid) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // supervisord's children inherit Python's ignored SIGPIPE (a write to a closed pipe
        // fails with EPIPE instead of killing the child); std resets it, so set it back.
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        // Inherited descriptors above stderr are closed at exec, as supervisord closes them.
        // Marking them close-on-exec (rather than closing) keeps std's exec-error pipe working.
        if libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        ) != 0
        {
            // Kernels before 5.11: mark them one by one, up to supervisord's default minfds.
            for fd in 3..1024 {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
    }
    Ok(())
}

fn pipe(config: &ProcessConfig) -> Result<(OwnedFd, OwnedFd), String> {
    pipe2(OFlag::O_CLOEXEC).map_err(|errno| too_many_files(config, &io::Error::from(errno)))
}

fn too_many_files(config: &ProcessConfig, err: &io::Error) -> String {
    if err.raw_os_error() == Some(libc::EMFILE) {
        format!("too many open files to spawn '{}'", config.name)
    } else {
        format!(
            "unknown error making dispatchers for '{}': {}",
            config.name,
            errno_name(err)
        )
    }
}

fn spawn_error(config: &ProcessConfig, argv0: &str, err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(libc::EAGAIN) => format!(
            "Too many processes in process table to spawn '{}'",
            config.name
        ),
        Some(libc::EMFILE) => too_many_files(config, err),
        _ => format!("couldn't exec {argv0}: {}", errno_name(err)),
    }
}

/// `ENOENT`-style name of an OS error, as supervisord prints `errno.errorcode`.
fn errno_name(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => format!("{:?}", Errno::from_raw(code)),
        None => err.to_string(),
    }
}
