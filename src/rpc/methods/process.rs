//! The methods about processes: their info, starting and stopping (one, a group, all, with
//! `wait`), signalling, and writing to their stdin. The names are looked up in the
//! snapshot ([`lookup`]); starts and stops are requests whose waits [`wait`] orchestrates.

use super::Outcome;
use crate::namespec::Namespec;
use crate::process::state::State;
use crate::rpc::args::{self, Args};
use crate::rpc::codec::Value;
use crate::rpc::faults::Fault;
use crate::rpc::wait::{self, Goal};
use crate::rpc::{lookup, render, Api};
use crate::supervisor::{Control, ProcessView};

/// `getProcessInfo(name)`.
pub(super) fn info(api: &Api, args: Args<'_>) -> Outcome {
    let process = lookup::process(api, args.string()?)?;
    Ok(render::process_info(&process))
}

/// `getAllProcessInfo()`: every process, sorted by group then name.
pub(super) fn all_info(api: &Api, args: Args<'_>) -> Outcome {
    args.none()?;
    let snapshot = api.handle.snapshot();
    Ok(render::all_process_info(
        snapshot.processes.iter(),
        snapshot.processes.len(),
    ))
}

/// `startProcess(name, wait=True)` / `stopProcess(name, wait=True)`: `true` for one
/// process; a `group:*` acts as the group call does and answers with its result list.
pub(super) async fn one(api: &Api, args: Args<'_>, goal: Goal) -> Outcome {
    let (namespec, wait) = args.string_and_wait()?;
    match Namespec::parse(namespec) {
        Namespec::Group(group) => group_of(api, &group, goal, wait).await,
        Namespec::Process { .. } => {
            let process = lookup::process(api, namespec)?;
            wait::one(api, &process, goal, wait).await?;
            Ok(Value::Bool(true))
        }
    }
}

/// `startProcessGroup(name, wait=True)` / `stopProcessGroup(name, wait=True)`.
pub(super) async fn group(api: &Api, args: Args<'_>, goal: Goal) -> Outcome {
    let (group, wait) = args.string_and_wait()?;
    group_of(api, group, goal, wait).await
}

async fn group_of(api: &Api, group: &str, goal: Goal, wait: bool) -> Outcome {
    let members = lookup::group_members(api, group)?;
    Ok(render::results(&wait::many(api, members, goal, wait).await))
}

/// `startAllProcesses(wait=True)` / `stopAllProcesses(wait=True)`; supervisord stops in
/// priority order here too (ascending, like a start).
pub(super) async fn all(api: &Api, args: Args<'_>, goal: Goal) -> Outcome {
    let wait = args.wait_only()?;
    let processes = lookup::in_start_order(api, None);
    Ok(render::results(
        &wait::many(api, processes, goal, wait).await,
    ))
}

// As supervisord: the name is checked before the signal, and group/all calls act on
// signallable processes only, each reporting its own BAD_SIGNAL.

/// `signalProcess(name, signal)`; a `group:*` signals the group.
pub(super) async fn signal(api: &Api, args: Args<'_>) -> Outcome {
    let (namespec, signal) = args.string_and_signal()?;
    match Namespec::parse(namespec) {
        Namespec::Group(group) => {
            signal_many(api, lookup::group_members(api, &group)?, &signal).await
        }
        Namespec::Process { .. } => {
            let process = lookup::process(api, namespec)?;
            signal_one(api, &process, &signal).await?;
            Ok(Value::Bool(true))
        }
    }
}

/// `signalProcessGroup(name, signal)`.
pub(super) async fn signal_group(api: &Api, args: Args<'_>) -> Outcome {
    let (group, signal) = args.string_and_signal()?;
    signal_many(api, lookup::group_members(api, group)?, &signal).await
}

/// `signalAllProcesses(signal)`.
pub(super) async fn signal_all(api: &Api, args: Args<'_>) -> Outcome {
    let signal = args.string()?;
    signal_many(api, lookup::in_start_order(api, None), signal).await
}

async fn signal_one(api: &Api, process: &ProcessView, signal: &str) -> Result<(), Fault> {
    let number = args::signal_number(signal)?;
    let namespec = process.namespec();
    let key = lookup::key_of(process);
    api.handle
        .request(move |reply| Control::Signal(key, number, reply))
        .await
        .map_err(|refusal| Fault::refused(refusal, &namespec))
}

async fn signal_many(api: &Api, processes: Vec<ProcessView>, signal: &str) -> Outcome {
    let mut results = Vec::with_capacity(processes.len());
    let signallable = processes.iter().filter(|p| {
        matches!(
            p.state,
            State::Running { .. } | State::Starting { .. } | State::Stopping { .. }
        )
    });
    for process in signallable {
        let outcome = signal_one(api, process, signal).await;
        results.push(render::result_entry(process, &outcome));
    }
    Ok(Value::Array(results))
}

/// `sendProcessStdin(name, chars)`.
pub(super) async fn send_stdin(api: &Api, args: Args<'_>) -> Outcome {
    let (namespec, chars) = args.two_strings()?;
    let process = lookup::process(api, namespec)?;
    let key = lookup::key_of(&process);
    let bytes = chars.as_bytes().to_vec();
    api.handle
        .request(move |reply| Control::SendStdin(key, bytes, reply))
        .await
        .map_err(|refusal| Fault::refused(refusal, namespec))?;
    Ok(Value::Bool(true))
}
