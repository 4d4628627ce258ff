//! The actor's request handling on a real table and a real (idle) actor, with no process
//! started: each request's checks and refusals, as supervisord words them.

use super::*;
use crate::process::spawn::SpawnError;

/// An actor for `sections` in a fresh directory (kept alive with it); children would be
/// started in-process and nothing guards them, so the tests start none. The [`Mailbox`]
/// carries what the actor sends itself (its preparations' results).
fn supervisor(sections: &str) -> (tempfile::TempDir, Supervisor, Mailbox) {
    let (dir, config) = super::super::table::testing::config(sections);
    let (handle, pending) = super::super::handle();
    let supervisor = Supervisor::new(
        &config,
        Vec::new(),
        (Spawner::default(), Guardian::none(), None),
        (pending.snapshot, pending.changes, pending.myself),
        (crate::events::start("test".into()), None),
    )
    .expect("actor");
    let mailbox = Mailbox {
        _handle: handle,
        receiver: pending.receiver,
    };
    (dir, supervisor, mailbox)
}

/// The actor's own channel, with a handle that keeps it open.
struct Mailbox {
    _handle: super::super::Handle,
    receiver: mpsc::UnboundedReceiver<Control>,
}

/// What `start_request` answers, handling what the actor sends itself meanwhile.
async fn start(
    supervisor: &mut Supervisor,
    mailbox: &mut Mailbox,
    name: &str,
) -> Result<(), Refusal> {
    let (reply, mut answer) = oneshot::channel();
    supervisor.start_request(&key(name), reply);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        tokio::select! {
            answered = &mut answer => return answered.expect("answered"),
            Some(control) = mailbox.receiver.recv() => supervisor.handle(control),
            () = tokio::time::sleep_until(deadline) => panic!("no answer to the start of {name}"),
        }
    }
}

const IDLE: &str = "[program:idle]\ncommand=/bin/true\nautostart=false\n\
    stdout_logfile=NONE\nstderr_logfile=NONE\n\n\
    [program:missing]\ncommand=/nonexistent/vigil-test-command\nautostart=false\n\
    stdout_logfile=NONE\nstderr_logfile=NONE\n";

fn key(name: &str) -> ProcKey {
    (name.to_string(), name.to_string())
}

/// Gives `name` a start on its way, as if its preparation or spawn had not answered yet.
fn start_on_its_way(supervisor: &mut Supervisor, name: &str) {
    supervisor
        .table
        .entries
        .get_mut(&key(name))
        .expect(name)
        .pending_start = Some(PendingStart::default());
    supervisor.view.touch(&key(name));
}

#[tokio::test]
async fn a_start_of_a_missing_command_is_refused_before_anything_changes() {
    let (_dir, mut supervisor, mut mailbox) = supervisor(IDLE);
    let missing = Err(Refusal::SpawnError(SpawnError::CommandNotFound {
        argv0: "/nonexistent/vigil-test-command".into(),
    }));
    let answer = start(&mut supervisor, &mut mailbox, "missing").await;
    assert_eq!(answer, missing);
    let entry = &supervisor.table.entries[&key("missing")];
    assert_eq!(entry.process.state(), State::Stopped);
    assert!(entry.pending_start.is_none() && supervisor.in_flight.is_empty());
    assert_eq!(
        start(&mut supervisor, &mut mailbox, "nope").await,
        Err(Refusal::BadName)
    );
    // A start the state refuses still checks the command first, as supervisord does.
    start_on_its_way(&mut supervisor, "missing");
    assert_eq!(
        start(&mut supervisor, &mut mailbox, "missing").await,
        missing
    );
}

#[tokio::test]
async fn stops_and_signals_of_a_stopped_process_are_not_running() {
    let (_dir, mut supervisor, _mailbox) = supervisor(IDLE);
    assert_eq!(
        supervisor.stop_request(&key("idle")),
        Err(Refusal::NotRunning)
    );
    assert_eq!(supervisor.stop_request(&key("nope")), Err(Refusal::BadName));
    assert_eq!(
        supervisor.signal_request(&key("idle"), libc::SIGHUP),
        Err(Refusal::NotRunning)
    );
}

#[tokio::test]
async fn a_stop_cancels_a_start_on_its_way_and_the_group_stays_in_use_meanwhile() {
    let (_dir, mut supervisor, mut mailbox) = supervisor(IDLE);
    start_on_its_way(&mut supervisor, "idle");
    assert_eq!(
        start(&mut supervisor, &mut mailbox, "idle").await,
        Err(Refusal::AlreadyStarted)
    );
    assert_eq!(supervisor.remove_group("idle"), Err(Refusal::StillRunning));
    assert_eq!(supervisor.stop_request(&key("idle")), Ok(()));
    let pending = supervisor.table.entries[&key("idle")]
        .pending_start
        .as_ref()
        .map(|p| p.cancelled);
    assert_eq!(pending, Some(true), "the child is stopped once it is there");
}

#[tokio::test]
async fn nothing_starts_once_a_shutdown_has_begun() {
    let (_dir, mut supervisor, mut mailbox) = supervisor(IDLE);
    supervisor.begin_stop(Mood::ShuttingDown);
    assert_eq!(
        start(&mut supervisor, &mut mailbox, "idle").await,
        Err(Refusal::ShuttingDown)
    );
    assert!(
        supervisor.progress_stop(),
        "nothing runs: the shutdown is over at once"
    );
}
