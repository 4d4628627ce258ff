//! The `wait=true` orchestration of starts and stops: a request goes to the supervisor and
//! is answered at once; the wait for RUNNING (or a stopped state) follows the published
//! snapshots, without blocking other calls. Group and all-process calls send their requests
//! in order and gather the results as supervisord's `make_allfunc` does. It decides which
//! processes a call names nowhere: callers pass the views.

use super::faults::{Fault, FaultCode};
use super::lookup::key_of;
use super::Api;
use crate::process::state::State;
use crate::supervisor::{Control, ProcKey, ProcessView, Reply};

/// What a process request is for: the control to send and the state that ends a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Up to RUNNING (`startProcess`).
    Start,
    /// Down to a stopped state (`stopProcess`).
    Stop,
}

impl Goal {
    fn control(self, key: ProcKey, reply: Reply) -> Control {
        match self {
            Goal::Start => Control::Start(key, reply),
            Goal::Stop => Control::Stop(key, reply),
        }
    }

    /// Whether `process` is one a group/all call acts on (supervisord's isNotRunning /
    /// isRunning); a start also takes a crash loop's BACKOFF, as startProcess does.
    pub fn applies_to(self, process: &ProcessView) -> bool {
        let running = matches!(
            process.state,
            State::Starting { .. } | State::Running { .. } | State::Backoff { .. }
        );
        let delayed = process.state.retry().is_some_and(|retry| retry.crash_loop);
        match self {
            Goal::Start => !running || delayed,
            Goal::Stop => running,
        }
    }

    /// The fault of a process a list call does not act on: already started, or not
    /// running.
    pub fn refusal(self) -> FaultCode {
        match self {
            Goal::Start => FaultCode::AlreadyStarted,
            Goal::Stop => FaultCode::NotRunning,
        }
    }
}

/// Sends the request for one process; the answer comes at once (a wait is separate).
async fn request(api: &Api, process: &ProcessView, goal: Goal) -> Result<(), Fault> {
    let namespec = process.namespec();
    let key = key_of(process);
    api.handle
        .request(move |reply| goal.control(key, reply))
        .await
        .map_err(|refusal| Fault::refused(refusal, &namespec))
}

/// Waits until `process` reached `goal`: RUNNING for a start (leaving STARTING any other way
/// is ABNORMAL_TERMINATION), a stopped state for a stop.
async fn wait_for(api: &Api, process: &ProcessView, goal: Goal) -> Result<(), Fault> {
    let key = key_of(process);
    let namespec = process.namespec();
    // Woken by changes of this process alone, not by every publish.
    let changes = api.handle.changes_of(&key);
    loop {
        let next = changes.next();
        tokio::pin!(next);
        next.as_mut().enable();
        let view = api.handle.snapshot().process(&key.0, &key.1).cloned();
        match (goal, view) {
            // vigil: held back until its dependencies are ready, or on its way to the
            // spawner (what the last run left must not answer yet).
            (Goal::Start, Some(view)) if view.start_pending || !view.waiting_for.is_empty() => {}
            // Snapshots can merge steps: RUNNING reached and left counts as started.
            (Goal::Start, Some(view)) if view.reached_running => return Ok(()),
            // As supervisord's onwait: a spawn error first, then any state but STARTING.
            (Goal::Start, Some(view)) if !view.spawnerr.is_empty() => {
                return Err(Fault::with(FaultCode::SpawnError, namespec))
            }
            (Goal::Start, Some(view)) if matches!(view.state, State::Starting { .. }) => {}
            (Goal::Start, _) => return Err(Fault::with(FaultCode::AbnormalTermination, namespec)),
            (Goal::Stop, Some(view)) if view.start_pending || !view.state.is_stopped() => {}
            (Goal::Stop, _) => return Ok(()),
        }
        if changes.ended() {
            return Err(Fault::bare(FaultCode::ShutdownState));
        }
        next.await;
    }
}

/// `startProcess`/`stopProcess` of one process: the request, then with `wait` its wait.
pub async fn one(api: &Api, process: &ProcessView, goal: Goal, wait: bool) -> Result<(), Fault> {
    request(api, process, goal).await?;
    if wait {
        wait_for(api, process, goal).await?;
    }
    Ok(())
}

/// Each process a call acted on, with how it went, in the order supervisord reports them.
pub type Results = Vec<(ProcessView, Result<(), Fault>)>;

/// A group or all-processes start/stop as supervisord's `make_allfunc`: requests go out in
/// order to the processes the goal [applies to](Goal::applies_to); refusals are reported
/// first, then each accepted request once its wait is over (the waits run together, so
/// these come in completion order).
pub async fn many(api: &Api, processes: Vec<ProcessView>, goal: Goal, wait: bool) -> Results {
    let mut results = Vec::new();
    let mut accepted = Vec::new();
    for process in processes.into_iter().filter(|p| goal.applies_to(p)) {
        match request(api, &process, goal).await {
            Ok(()) => accepted.push(process),
            Err(fault) => results.push((process, Err(fault))),
        }
    }
    if !wait {
        results.extend(accepted.into_iter().map(|process| (process, Ok(()))));
        return results;
    }
    // As supervisord, each result is added when its wait is over (completion order).
    let mut waits = tokio::task::JoinSet::new();
    for process in accepted {
        let api = api.clone();
        waits.spawn(async move {
            let outcome = wait_for(&api, &process, goal).await;
            (process, outcome)
        });
    }
    while let Some(joined) = waits.join_next().await {
        if let Ok(entry) = joined {
            results.push(entry);
        }
    }
    results
}
