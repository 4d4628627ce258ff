//! A small helper process that starts children for vigild. A new process inherits every
//! open fd of the one that starts it and closes them all at exec; vigild holds a few fds
//! per program (pipes, log files), so with thousands of programs every spawn closed
//! thousands of fds and a fleet start grew with the square of its size. The helper is
//! forked before vigild opens anything for its children and holds a handful of fds, so a
//! spawn costs the same with 10 or 10,000 programs.
//!
//! The helper starts each child with `CLONE_PARENT`: the child is vigild's own child, so its
//! SIGCHLD, `waitpid` and process group work as if vigild had started it. Requests and
//! replies go over a `SOCK_SEQPACKET` socketpair; the child's fds 0-2 travel with the request
//! as `SCM_RIGHTS`. There is one helper per core (up to 4): each is suspended while its
//! child execs, so starts run on every core at once.
//!
//! vigild never waits for a helper: its end of each socket is non-blocking, a request is
//! sent and its answer read when the socket becomes readable ([`Spawner::waiting`]), and a
//! helper that has not answered within [`REPLY_TIMEOUT`] (a child stuck before its exec,
//! in a chdir into a hung network mount) is given up. This module knows nothing of
//! programs: the supervisor matches answers to its starts by helper and order.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use nix::sys::socket::{
    sendmsg, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType,
};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::launch::{launch, Launch, LaunchError, Stage};

mod serve;
mod wire;

use serve::serve;
use wire::encode;

/// Largest request the helper reads; a larger one (a huge environment) is started by
/// vigild itself.
const MAX_REQUEST: usize = 1 << 20;
/// How long a helper may take to answer: a child stuck before its exec (a chdir into a
/// hung network mount) holds the helper, which is then given up.
pub const REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How vigild starts children: through the helpers, or itself when there are none.
#[derive(Debug, Default)]
pub struct Spawner {
    /// The helpers (one per core, so children exec on every core at once); a helper that
    /// was lost is `None`. Without any, children are started in-process.
    helpers: Vec<Option<Helper>>,
    /// The helper the next request goes to (round-robin).
    next: usize,
    /// Answers read (or decided, for a helper lost with starts in flight) and not yet
    /// handed over by [`Spawner::answers`]: (helper index, outcome).
    answers: Vec<(usize, Result<i32, LaunchError>)>,
    /// Sockets of helpers given up, kept until the next [`Spawner::waiting`]: a
    /// [`Waiting`] made before may still hold their registration, which must not outlive
    /// the fd (its number could be reused by then).
    retired: Vec<(Option<Arc<AsyncFd<RawFd>>>, OwnedFd)>,
}

impl Drop for Spawner {
    /// At shutdown the helpers go with vigild, reaped.
    fn drop(&mut self) {
        end_helpers(&mut self.helpers);
    }
}

/// Kills and reaps `helpers` (reaped here: once ended, a helper would be an unknown pid to
/// vigild, or a zombie after vigild's exit).
fn end_helpers(helpers: &mut [Option<Helper>]) {
    for helper in helpers.iter_mut().filter_map(Option::take) {
        end_helper(helper.pid);
    }
}

/// Kills and reaps the helper `pid`.
fn end_helper(pid: libc::pid_t) {
    // SAFETY: signals our own helper process; harmless if it has already exited.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    reap(pid);
}

/// vigild's side of one helper.
#[derive(Debug)]
pub struct Helper {
    /// The socket's registration with the runtime, made at first use (the helpers are
    /// forked before the runtime exists). Declared before `socket`: it goes first.
    readiness: Option<Arc<AsyncFd<RawFd>>>,
    /// vigild's end of the socketpair (non-blocking).
    socket: OwnedFd,
    /// The helper's pid.
    pid: libc::pid_t,
    /// Largest request that fits one message.
    max_request: usize,
    /// When each request not answered yet was sent, oldest first.
    sent: VecDeque<Instant>,
}

impl Helper {
    /// Forks one helper; `None` (with a warning) when it cannot be made.
    fn fork() -> Option<Helper> {
        let (ours, theirs) = match socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        ) {
            Ok(pair) => pair,
            Err(err) => {
                tracing::warn!("could not create the spawner socket: {err}");
                return None;
            }
        };
        for fd in [&ours, &theirs] {
            set_buffer(fd, MAX_REQUEST + 4096);
        }
        // Only vigild's end: the helper's is a socket of its own and blocks.
        if let Err(err) = nix::fcntl::fcntl(
            ours.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        ) {
            tracing::warn!("could not make the spawner socket non-blocking: {err}");
            return None;
        }
        // The kernel caps the buffer (net.core.wmem_max): what it granted bounds a request.
        let max_request = nix::sys::socket::getsockopt(&ours, nix::sys::socket::sockopt::SndBuf)
            .map_or(64 * 1024, |granted| granted / 2)
            .min(MAX_REQUEST);
        let vigild = std::process::id() as libc::pid_t;
        // SAFETY: vigild is single-threaded here (checked by the caller), so the child may
        // run ordinary Rust code, allocation included.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => {
                drop(ours);
                serve(theirs, vigild)
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => Some(Helper {
                readiness: None,
                socket: ours,
                pid: child.as_raw(),
                max_request,
                sent: VecDeque::new(),
            }),
            Err(err) => {
                tracing::warn!("could not fork a spawner helper: {err}");
                None
            }
        }
    }

    /// The socket's registration with the runtime, made now if it was not yet.
    fn readiness(&mut self) -> io::Result<Arc<AsyncFd<RawFd>>> {
        if let Some(ready) = &self.readiness {
            return Ok(Arc::clone(ready));
        }
        // SAFETY: the registration is dropped before the socket it names (field order,
        // and `end_helpers` drops the whole helper), so it never outlives the fd.
        let ready = Arc::new(unsafe {
            AsyncFd::register_with_interest(self.socket.as_raw_fd(), Interest::READABLE)
        }?);
        self.readiness = Some(Arc::clone(&ready));
        Ok(ready)
    }
}

/// Why a request did not get an answer from the helper.
enum HelperFailure {
    /// The request was not delivered (too large for the socket, no memory): start this
    /// child in-process, keep the helper.
    NotSent(io::Error),
    /// The helper is gone or stuck; it may or may not have started the child.
    Lost(io::Error),
}

/// How a [`Spawner::submit`] went.
#[derive(Debug)]
pub enum Ticket {
    /// Sent to this helper: its answer comes from [`Spawner::answers`], after those of the
    /// requests sent to it before.
    Sent(usize),
    /// Already decided (started in-process, or failed).
    Done(Result<i32, LaunchError>),
}

/// What the supervisor awaits while starts are in flight: the sockets of the helpers that
/// owe answers. Owned (clones of the registrations), so the wait borrows nothing.
pub struct Waiting(Vec<Arc<AsyncFd<RawFd>>>);

impl Waiting {
    /// Whether there is anything to wait for.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Resolves once some helper's socket is readable; [`Spawner::answers`] then reads
    /// every answer there is (it reads until the sockets are empty, so clearing the
    /// readiness here loses nothing).
    pub async fn readable(&self) {
        poll_fn(|cx| {
            for socket in &self.0 {
                if let Poll::Ready(ready) = socket.poll_read_ready(cx) {
                    if let Ok(mut guard) = ready {
                        guard.clear_ready();
                    }
                    return Poll::Ready(());
                }
            }
            Poll::Pending
        })
        .await;
    }
}

impl Spawner {
    /// Forks the helpers. Must run while vigild has one thread (a fork copies only the
    /// calling thread, and a helper allocates); without helpers (threads already run, or
    /// no fork succeeds) children are started in-process.
    pub fn fork() -> Spawner {
        if thread_count() != Some(1) {
            tracing::warn!("vigild already runs threads; children are started in-process");
            return Spawner::default();
        }
        let count = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        Spawner {
            helpers: (0..count).map_while(|_| Helper::fork()).map(Some).collect(),
            next: 0,
            answers: Vec::new(),
            retired: Vec::new(),
        }
    }

    /// The helpers' pids, for the reaper to watch.
    pub fn helper_pids(&self) -> Vec<libc::pid_t> {
        self.helpers.iter().flatten().map(|h| h.pid).collect()
    }

    /// Whether `pid` is a helper (vigild reaps them, as their parent).
    pub fn is_helper(&self, pid: libc::pid_t) -> bool {
        self.helpers.iter().flatten().any(|h| h.pid == pid)
    }

    /// A helper has exited (vigild reaped it): the others go on. Its starts still in
    /// flight are answered (read from its socket, or failed) by the next
    /// [`Spawner::answers`].
    pub fn helper_exited(&mut self, pid: libc::pid_t, why: &str) {
        let index = self
            .helpers
            .iter()
            .position(|h| h.as_ref().is_some_and(|h| h.pid == pid));
        if let Some(index) = index {
            self.read_answers(index);
            self.retire(index, why);
        }
    }

    /// Stops using helper `index` (gone, or stuck: it is killed and reaped); its starts
    /// not answered fail. Once none is left, children are started in-process.
    fn retire(&mut self, index: usize, why: &str) {
        let Some(helper) = self.helpers.get_mut(index).and_then(Option::take) else {
            return;
        };
        tracing::error!(
            "the spawner helper with pid {} is gone or stuck ({why})",
            helper.pid
        );
        // It may have started a child before it was lost: the attempt fails (and is retried
        // as any failed spawn) rather than start twice.
        for _ in &helper.sent {
            self.answers.push((
                index,
                Err(LaunchError {
                    stage: Stage::Clone,
                    error: io::Error::other(format!("its spawner helper was lost ({why})")),
                    pid: None,
                }),
            ));
        }
        let Helper {
            readiness,
            socket,
            pid,
            ..
        } = helper;
        end_helper(pid);
        self.retired.push((readiness, socket));
        if self.helpers.iter().all(Option::is_none) {
            tracing::error!("no spawner helper is left: children are started in-process");
        }
    }

    /// How many started children may wait for their answer per helper: the replies queue in
    /// vigild's socket buffers, which must not fill while vigild still sends.
    pub const IN_FLIGHT: usize = 32;

    /// Whether a start can be submitted now: some helper has fewer than
    /// [`Spawner::IN_FLIGHT`] answers owed, or there are no helpers (in-process starts).
    pub fn has_room(&self) -> bool {
        let mut live = self.helpers.iter().flatten().peekable();
        live.peek().is_none() || live.any(|h| h.sent.len() < Self::IN_FLIGHT)
    }

    /// Starts `plan`, or hands it to a helper without waiting for the child: vigild goes on
    /// while the helper execs it, and reads the answer when it comes. When no helper is
    /// left, or the request cannot be sent, vigild starts the child itself.
    pub fn submit(&mut self, plan: &Launch) -> Ticket {
        let count = self.helpers.len();
        let chosen = (0..count)
            .map(|step| (self.next + step) % count)
            .find(|at| {
                self.helpers[*at]
                    .as_ref()
                    .is_some_and(|h| h.sent.len() < Self::IN_FLIGHT)
            });
        let Some(index) = chosen else {
            return Ticket::Done(reaped(launch(plan, 0)));
        };
        self.next = index + 1;
        let Some(helper) = self.helpers[index].as_mut() else {
            return Ticket::Done(reaped(launch(plan, 0)));
        };
        match send_request(&helper.socket, plan, helper.max_request) {
            Ok(()) => {
                helper.sent.push_back(Instant::now());
                Ticket::Sent(index)
            }
            Err(HelperFailure::NotSent(err)) => {
                tracing::debug!("starting a child in-process: {err}");
                Ticket::Done(reaped(launch(plan, 0)))
            }
            Err(HelperFailure::Lost(err)) => {
                self.retire(index, &err.to_string());
                // This start was not sent: it runs in-process, the lost ones fail.
                Ticket::Done(reaped(launch(plan, 0)))
            }
        }
    }

    /// What to await for answers; empty when no answer is owed.
    pub fn waiting(&mut self) -> Waiting {
        // The last `Waiting` is gone by now.
        self.retired.clear();
        let mut sockets = Vec::new();
        let mut broken = Vec::new();
        for (index, slot) in self.helpers.iter_mut().enumerate() {
            let Some(helper) = slot.as_mut().filter(|h| !h.sent.is_empty()) else {
                continue;
            };
            match helper.readiness() {
                Ok(ready) => sockets.push(ready),
                Err(err) => broken.push((index, err)),
            }
        }
        for (index, err) in broken {
            self.retire(index, &format!("its socket cannot be watched: {err}"));
        }
        Waiting(sockets)
    }

    /// Whether answers are waiting to be taken (from a helper lost with starts in flight),
    /// with no socket to wait for.
    pub fn has_answers(&self) -> bool {
        !self.answers.is_empty()
    }

    /// When the oldest start still in flight is given up, if one is.
    pub fn deadline(&self) -> Option<Instant> {
        self.helpers
            .iter()
            .flatten()
            .filter_map(|h| h.sent.front())
            .min()
            .map(|sent| *sent + REPLY_TIMEOUT)
    }

    /// Every answer that has come (or was decided) since the last call, each with the helper
    /// it was sent to, in the order the requests were sent to that helper. A helper that
    /// owes an answer for longer than [`REPLY_TIMEOUT`] is given up, its starts failed.
    pub fn answers(&mut self, now: Instant) -> Vec<(usize, Result<i32, LaunchError>)> {
        for index in 0..self.helpers.len() {
            self.read_answers(index);
            let stuck = self.helpers[index]
                .as_ref()
                .and_then(|h| h.sent.front())
                .is_some_and(|sent| now.duration_since(*sent) >= REPLY_TIMEOUT);
            if stuck {
                self.retire(
                    index,
                    &format!("no answer for {} s", REPLY_TIMEOUT.as_secs()),
                );
            }
        }
        std::mem::take(&mut self.answers)
    }

    /// Reads what helper `index` has answered so far; a broken socket retires it.
    fn read_answers(&mut self, index: usize) {
        let Some(helper) = self.helpers.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        let failure = loop {
            if helper.sent.is_empty() {
                break None;
            }
            match receive_reply(&helper.socket) {
                Ok(Some(result)) => {
                    helper.sent.pop_front();
                    self.answers.push((index, reaped(result)));
                }
                Ok(None) => break None,
                Err(err) => break Some(err),
            }
        };
        if let Some(err) = failure {
            self.retire(index, &err.to_string());
        }
    }
}

/// `result`, with a child that failed after its clone reaped (it is ours, through
/// CLONE_PARENT in the helper, and has exited with 127).
fn reaped(result: Result<i32, LaunchError>) -> Result<i32, LaunchError> {
    if let Err(LaunchError { pid: Some(pid), .. }) = &result {
        reap(*pid);
    }
    result
}

/// Sends one request to the helper.
fn send_request(socket: &OwnedFd, plan: &Launch, max_request: usize) -> Result<(), HelperFailure> {
    let request = encode(plan);
    if request.len() > max_request {
        return Err(HelperFailure::NotSent(io::Error::from_raw_os_error(
            libc::EMSGSIZE,
        )));
    }
    let mut fds = plan.stdio.to_vec();
    fds.extend(plan.notification.map(|(fd, _)| fd));
    let sent = sendmsg::<()>(
        socket.as_raw_fd(),
        &[IoSlice::new(&request)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    );
    match sent {
        Ok(_) => Ok(()),
        Err(errno @ (nix::errno::Errno::EPIPE | nix::errno::Errno::ECONNRESET)) => {
            Err(HelperFailure::Lost(errno.into()))
        }
        Err(errno) => Err(HelperFailure::NotSent(errno.into())),
    }
}

/// Reads the helper's answer to the oldest request not yet answered, if it has come.
fn receive_reply(socket: &OwnedFd) -> io::Result<Option<Result<i32, LaunchError>>> {
    let mut reply = [0u8; 12];
    let received = loop {
        match nix::sys::socket::recv(socket.as_raw_fd(), &mut reply, MsgFlags::MSG_DONTWAIT) {
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) => return Ok(None),
            Ok(count) => break count,
            Err(errno) => return Err(errno.into()),
        }
    };
    if received != reply.len() {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no reply"));
    }
    let field =
        |at: usize| i32::from_ne_bytes([reply[at], reply[at + 1], reply[at + 2], reply[at + 3]]);
    let (pid, stage, errno) = (field(0), field(4), field(8));
    Ok(Some(match Stage::from_code(stage) {
        None => Ok(pid),
        Some(stage) => Err(LaunchError {
            stage,
            error: io::Error::from_raw_os_error(errno),
            pid: (pid > 0).then_some(pid),
        }),
    }))
}

/// Waits for `pid`, a child that has just exited.
fn reap(pid: i32) {
    let mut status = 0;
    // SAFETY: waits for our own child; `status` is a local.
    while unsafe { libc::waitpid(pid, &raw mut status, 0) } < 0
        && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
    {}
}

fn thread_count() -> Option<usize> {
    std::fs::read_dir("/proc/self/task")
        .ok()
        .map(Iterator::count)
}

fn set_buffer(fd: &OwnedFd, bytes: usize) {
    let _ = nix::sys::socket::setsockopt(fd, nix::sys::socket::sockopt::SndBuf, &bytes);
    let _ = nix::sys::socket::setsockopt(fd, nix::sys::socket::sockopt::RcvBuf, &bytes);
}
