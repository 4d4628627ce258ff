//! The low-level start of a child: `clone(CLONE_VM | CLONE_VFORK)` then `execve`, the way
//! glibc's `posix_spawn` does it. The child borrows vigild's memory until it execs, so a
//! start costs no copy of vigild's page tables however large the fleet has grown (a plain
//! fork copied them, and every spawn got slower as the fleet grew).
//!
//! Everything the child touches is prepared here beforehand. The child makes
//! async-signal-safe system calls only, never allocates, and reports a failed step through
//! memory it shares with the parent (which is suspended until the child execs or exits).

use std::ffi::{c_char, c_int, c_void, CString};
use std::io;
use std::os::fd::RawFd;

use super::controls::{self, ChildControls, Control};

/// A command ready to start: every byte the child needs, built before the clone.
#[derive(Debug)]
pub struct Launch {
    /// The resolved executable.
    pub program: CString,
    /// argv, argv[0] included.
    pub argv: Vec<CString>,
    /// The whole environment, as `KEY=value`.
    pub env: Vec<CString>,
    /// Working directory to change to.
    pub directory: Option<CString>,
    /// umask to set.
    pub umask: Option<libc::mode_t>,
    /// User to switch to.
    pub identity: Option<Identity>,
    /// What becomes the child's fds 0, 1 and 2.
    pub stdio: [RawFd; 3],
    /// vigil `ready=fd:N`: (this fd, the number N the child gets it at).
    pub notification: Option<(RawFd, RawFd)>,
    /// vigil's resource controls (limits, priorities, affinity, `no_new_privs`).
    pub controls: ChildControls,
    /// vigil `cgroup_root`: the `cgroup.procs` of the process's cgroup, which the child
    /// writes itself into first, so its whole tree lives there.
    pub cgroup_procs: Option<CString>,
}

/// The ids a child switches to, resolved before the start.
#[derive(Debug, Clone)]
pub struct Identity {
    /// User id.
    pub uid: libc::uid_t,
    /// Primary group id.
    pub gid: libc::gid_t,
    /// Supplementary groups.
    pub groups: Vec<libc::gid_t>,
}

/// The step that failed, so the caller can word supervisord's `spawnerr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The clone itself (no child was made).
    Clone,
    /// Setting up the child's fds 0-2.
    Stdio,
    /// `chdir` to the program's directory.
    Chdir,
    /// Switching to the program's user.
    Identity,
    /// `execve` of the program.
    Exec,
    /// vigil: applying one of the program's resource controls.
    Control(Control),
}

impl Stage {
    /// The stage as a number, for the child's report and the spawner's reply.
    pub fn code(self) -> c_int {
        match self {
            Stage::Clone => 1,
            Stage::Stdio => 2,
            Stage::Chdir => 3,
            Stage::Identity => 4,
            Stage::Exec => 5,
            Stage::Control(control) => CONTROL_CODES + control.code(),
        }
    }

    /// The stage for `code`; `None` for 0 (no failure).
    pub fn from_code(code: c_int) -> Option<Stage> {
        if code >= CONTROL_CODES {
            return Control::from_code(code - CONTROL_CODES).map(Stage::Control);
        }
        [
            Stage::Clone,
            Stage::Stdio,
            Stage::Chdir,
            Stage::Identity,
            Stage::Exec,
        ]
        .into_iter()
        .find(|stage| stage.code() == code)
    }
}

/// Where the codes of [`Stage::Control`] begin.
const CONTROL_CODES: c_int = 100;

/// A start that failed, with the OS error of the failed step.
#[derive(Debug)]
pub struct LaunchError {
    /// Which step failed.
    pub stage: Stage,
    /// Its error.
    pub error: io::Error,
    /// The child that failed (it has exited with 127 and must be reaped by its parent).
    pub pid: Option<i32>,
}

/// The child's stack: it only makes system calls.
const CHILD_STACK: usize = 64 * 1024;

/// What the child reads, and writes back when a step fails.
struct Shared<'a> {
    launch: &'a Launch,
    argv: *const *const c_char,
    envp: *const *const c_char,
    /// 0, or the failed [`Stage`] as `stage_code`.
    failed: c_int,
    errno: c_int,
    /// vigild's pid: the child's parent, whose death must take the child with it.
    supervisor: libc::pid_t,
    /// `cpu_affinity`'s set, built before the clone.
    cpus: libc::cpu_set_t,
}

/// Starts `launch`; returns the child's pid (also its process group id). `extra_flags`
/// are added to the clone flags (`CLONE_PARENT` from the spawner helper).
pub fn launch(launch: &Launch, extra_flags: c_int) -> Result<i32, LaunchError> {
    let argv = null_terminated(&launch.argv);
    let envp = null_terminated(&launch.env);
    // From a helper (CLONE_PARENT) the child's parent is the helper's parent: vigild.
    // SAFETY: plain system calls without arguments.
    let supervisor = unsafe {
        if extra_flags & libc::CLONE_PARENT != 0 {
            libc::getppid()
        } else {
            libc::getpid()
        }
    };
    let mut shared = Shared {
        launch,
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        failed: 0,
        errno: 0,
        supervisor,
        cpus: controls::cpu_set(&launch.controls.cpus),
    };
    let mut stack = vec![0u8; CHILD_STACK];
    // The stack grows down from its end, 16-byte aligned as the ABI asks.
    let top = (stack.as_mut_ptr() as usize + CHILD_STACK) & !15;

    // SAFETY: the signal sets are local and initialised by sigfillset/pthread_sigmask.
    // Every signal is blocked while the child shares our memory, so none of vigild's
    // handlers can run in it before it has reset them.
    let mut previous: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&raw mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &raw const all, &raw mut previous);
    }
    // SAFETY: `child_main` only reads `shared` (alive until clone returns: CLONE_VFORK
    // suspends this thread until the child execs or exits) and runs on `stack`, which
    // outlives the call for the same reason.
    let pid = unsafe {
        libc::clone(
            child_main,
            top as *mut c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | extra_flags | libc::SIGCHLD,
            std::ptr::addr_of_mut!(shared).cast::<c_void>(),
        )
    };
    let clone_error = io::Error::last_os_error();
    // SAFETY: restores the mask saved above.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, &raw const previous, std::ptr::null_mut());
    }
    drop(stack);
    if pid < 0 {
        return Err(LaunchError {
            stage: Stage::Clone,
            error: clone_error,
            pid: None,
        });
    }
    // SAFETY: the child wrote these before exiting; read them as memory changed behind
    // the compiler's back.
    let (failed, errno) = unsafe {
        (
            std::ptr::read_volatile(&raw const shared.failed),
            std::ptr::read_volatile(&raw const shared.errno),
        )
    };
    match Stage::from_code(failed) {
        None => Ok(pid),
        Some(stage) => Err(LaunchError {
            stage,
            error: io::Error::from_raw_os_error(errno),
            pid: Some(pid),
        }),
    }
}

fn null_terminated(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// Runs in the child, on its own stack, in vigild's memory.
extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Shared` that `launch` passed; the parent is suspended.
    let shared = unsafe { &mut *arg.cast::<Shared<'_>>() };
    let failed = match prepare_and_exec(shared) {
        Err(stage) => stage,
        Ok(never) => match never {},
    };
    shared.failed = failed.code();
    // SAFETY: errno is thread-local to the (shared) thread; reading it is always valid.
    shared.errno = unsafe { *libc::__errno_location() };
    // SAFETY: leaves the child at once, without running vigild's exit handlers.
    unsafe { libc::_exit(127) }
}

/// Puts `fd` at `target`, open across exec: `dup2`, or, when it is there already, clearing
/// close-on-exec (a `dup2` onto itself would keep it). Async-signal-safe.
///
/// # Safety
/// Plain system calls on descriptors the caller owns.
unsafe fn move_fd(fd: RawFd, target: RawFd) -> bool {
    let moved = if fd == target {
        // SAFETY: see the function's contract.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }
    } else {
        // SAFETY: see the function's contract.
        unsafe { libc::dup2(fd, target) }
    };
    moved >= 0
}

/// Moves the calling process into the cgroup whose `cgroup.procs` is `procs` ("0" is the
/// writer itself). Async-signal-safe.
///
/// # Safety
/// Plain system calls on a path the parent keeps alive.
unsafe fn join_cgroup(procs: &CString) -> bool {
    // SAFETY: see the function's contract.
    unsafe {
        let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return false;
        }
        let written = libc::write(fd, c"0".as_ptr().cast(), 1) == 1;
        libc::close(fd);
        written
    }
}

/// The child's steps, in supervisord's order; returns only on failure.
fn prepare_and_exec(shared: &Shared<'_>) -> Result<std::convert::Infallible, Stage> {
    let launch = shared.launch;
    // SAFETY (for the calls below): plain async-signal-safe system calls on memory the
    // parent prepared and keeps alive.
    unsafe {
        // vigild's handlers must never run in the child; caught signals go back to their
        // default. SIGPIPE stays ignored, as under Python supervisord.
        for signal in 1..=64 {
            let mut action: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &raw mut action) == 0
                && action.sa_sigaction != libc::SIG_DFL
                && action.sa_sigaction != libc::SIG_IGN
            {
                action.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(signal, &raw const action, std::ptr::null_mut());
            }
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        // vigild ignores SIGXFSZ for its own logs; its children get the default back.
        libc::signal(libc::SIGXFSZ, libc::SIG_DFL);
        libc::setpgid(0, 0);
        if let Some(procs) = &launch.cgroup_procs {
            if !join_cgroup(procs) {
                return Err(Stage::Control(Control::Cgroup));
            }
        }
        // vigild keeps 0-2 open, so a stdio source is never below its target (see
        // `keep_standard_fds_open`). The notification fd comes after stdio: N is at least
        // 3, and a stdio source it replaces has been copied already.
        let moves = (0..).zip(launch.stdio).map(|(target, fd)| (fd, target));
        for (fd, target) in moves.chain(launch.notification) {
            if !move_fd(fd, target) {
                return Err(Stage::Stdio);
            }
        }
        if let Some(mask) = launch.umask {
            libc::umask(mask);
        }
        // vigil's controls while vigild's privileges hold (a negative nice, a raised hard
        // limit, a realtime I/O class need them).
        controls::apply(&launch.controls, &shared.cpus).map_err(Stage::Control)?;
        // The user first, then its directory, as supervisord does: a directory the user
        // cannot enter fails. Raw system calls: glibc's wrappers would synchronise the ids
        // of every thread of the process whose memory the child borrows (vigild's).
        if let Some(id) = &launch.identity {
            if libc::getuid() == 0 {
                if libc::syscall(libc::SYS_setgroups, id.groups.len(), id.groups.as_ptr()) != 0 {
                    return Err(Stage::Identity);
                }
                if libc::syscall(libc::SYS_setresgid, id.gid, id.gid, id.gid) != 0 {
                    return Err(Stage::Identity);
                }
            }
            if libc::syscall(libc::SYS_setresuid, id.uid, id.uid, id.uid) != 0 {
                return Err(Stage::Identity);
            }
        }
        if let Some(dir) = &launch.directory {
            if libc::chdir(dir.as_ptr()) != 0 {
                return Err(Stage::Chdir);
            }
        }
        // vigil: a child dies with vigild (kill -9 included), never running unsupervised.
        // Set after the user switch, which would clear it; a vigild already gone by now
        // is caught by the parent check.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != shared.supervisor {
            libc::_exit(0);
        }
        // Inherited descriptors above stderr are closed, as supervisord closes them. Every fd
        // vigild and its helper open is close-on-exec anyway (and those inherited at start
        // are marked so), so kernels without close_range (before 5.9) lose nothing.
        // A `ready=fd:N` notification fd stays.
        match launch.notification.and_then(|(_, n)| u32::try_from(n).ok()) {
            Some(kept) => {
                if kept > 3 {
                    libc::syscall(libc::SYS_close_range, 3u32, kept - 1, 0u32);
                }
                libc::syscall(libc::SYS_close_range, kept + 1, u32::MAX, 0u32);
            }
            None => {
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&raw mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &raw const empty, std::ptr::null_mut());
        controls::apply_last(&launch.controls).map_err(Stage::Control)?;
        libc::execve(launch.program.as_ptr(), shared.argv, shared.envp);
    }
    Err(Stage::Exec)
}

/// Makes sure fds 0-2 are open (on /dev/null when they are not) and marks every other fd
/// vigild inherited close-on-exec, so no child ever gets them. Run once at start-up, while
/// vigild is single-threaded; everything opened later is close-on-exec already.
pub fn tidy_inherited_fds() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only queries; open/dup2 on fds this process owns.
        unsafe {
            if libc::fcntl(fd, libc::F_GETFD) < 0 {
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if null >= 0 && null != fd {
                    libc::dup2(null, fd);
                    libc::close(null);
                }
            }
        }
    }
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<c_int> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: sets a flag on an fd number; a closed one (the directory read above) fails.
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
}
