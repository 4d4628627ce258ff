//! The actor's request handling on a real table and a real (idle) actor, with no process
//! started: each request's checks and refusals, as supervisord words them.

use super::*;
use crate::process::spawn::SpawnError;

/// An actor for `sections` in a fresh directory (kept alive with it); children would be
/// started in-process and nothing guards them, so the tests start none.
fn supervisor(sections: &str) -> (tempfile::TempDir, Supervisor) {
    let (dir, config) = super::super::table::testing::config(sections);
    let (_handle, pending) = super::super::handle();
    let supervisor = Supervisor::new(
        &config,
        Vec::new(),
        (Spawner::default(), Guardian::none()),
        (pending.snapshot, pending.changes, pending.myself),
        crate::events::start("test".into()),
    )
    .expect("actor");
    (dir, supervisor)
}

const IDLE: &str = "[program:idle]\ncommand=/bin/true\nautostart=false\n\
    stdout_logfile=NONE\nstderr_logfile=NONE\n\n\
    [program:missing]\ncommand=/nonexistent/vigil-test-command\nautostart=false\n\
    stdout_logfile=NONE\nstderr_logfile=NONE\n";

fn key(name: &str) -> ProcKey {
    (name.to_string(), name.to_string())
}

/// What `start_request` answered, if it has answered.
fn start(supervisor: &mut Supervisor, name: &str) -> Option<Result<(), Refusal>> {
    let (reply, mut answer) = oneshot::channel();
    supervisor.start_request(&key(name), reply);
    answer.try_recv().ok()
}

#[tokio::test]
async fn a_start_of_a_missing_command_is_refused_before_anything_changes() {
    let (_dir, mut supervisor) = supervisor(IDLE);
    let answer = start(&mut supervisor, "missing");
    assert_eq!(
        answer,
        Some(Err(Refusal::SpawnError(SpawnError::CommandNotFound {
            argv0: "/nonexistent/vigil-test-command".into()
        })))
    );
    let entry = &supervisor.table.entries[&key("missing")];
    assert_eq!(entry.process.state(), State::Stopped);
    assert!(entry.pending_start.is_none() && supervisor.in_flight.is_empty());
    assert_eq!(start(&mut supervisor, "nope"), Some(Err(Refusal::BadName)));
}

#[tokio::test]
async fn stops_and_signals_of_a_stopped_process_are_not_running() {
    let (_dir, mut supervisor) = supervisor(IDLE);
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
    let (_dir, mut supervisor) = supervisor(IDLE);
    supervisor
        .table
        .entries
        .get_mut(&key("idle"))
        .expect("idle")
        .pending_start = Some(PendingStart::default());
    supervisor.view.touch(&key("idle"));
    assert_eq!(
        start(&mut supervisor, "idle"),
        Some(Err(Refusal::AlreadyStarted))
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
    let (_dir, mut supervisor) = supervisor(IDLE);
    supervisor.begin_stop(Mood::ShuttingDown);
    assert_eq!(
        start(&mut supervisor, "idle"),
        Some(Err(Refusal::ShuttingDown))
    );
    assert!(
        supervisor.progress_stop(),
        "nothing runs: the shutdown is over at once"
    );
}
