//! vigil's read-only methods about what processes use and how they crash:
//! `getProcessStats`/`getAllProcessStats` (from the sampler's latest figures),
//! `getCrashes` (crash records, read off the runtime) and `getCrashLoopState`.

use std::sync::Arc;

use super::Outcome;
use crate::rpc::args::Args;
use crate::rpc::codec::Value;
use crate::rpc::{lookup, render, Api};

/// `vigil.getProcessStats(name)`.
pub(super) fn process_stats(api: &Api, args: Args<'_>) -> Outcome {
    let process = lookup::process(api, args.string()?)?;
    Ok(render::process_stats(&process, &api.samples.borrow()))
}

/// `vigil.getAllProcessStats()`.
pub(super) fn all_process_stats(api: &Api, args: Args<'_>) -> Outcome {
    args.none()?;
    let samples = Arc::clone(&api.samples.borrow());
    Ok(Value::Array(
        api.handle
            .snapshot()
            .processes
            .iter()
            .map(|process| render::process_stats(process, &samples))
            .collect(),
    ))
}

/// `vigil.getCrashes(name, limit=0)`: the newest records first; 0 is every one kept.
pub(super) async fn crashes(api: &Api, args: Args<'_>) -> Outcome {
    let (namespec, limit) = args.string_and_optional_int()?;
    let process = lookup::process(api, namespec)?;
    let limit = usize::try_from(limit.max(0)).unwrap_or(usize::MAX);
    let history = Arc::clone(&process.crashes);
    let (group, name) = (process.group.clone(), process.name.clone());
    // The first read loads the crash file.
    let records =
        super::logs::off_runtime(move || Ok(history.newest(&group, &name, limit))).await?;
    Ok(Value::Array(
        records.iter().map(render::crash_record).collect(),
    ))
}

/// `vigil.getProcessConfig(name)`: the effective config as `[option, value]` pairs.
pub(super) fn process_config(api: &Api, args: Args<'_>) -> Outcome {
    let process = lookup::process(api, args.string()?)?;
    Ok(Value::Array(
        crate::present::config_rows(&process.config)
            .into_iter()
            .map(|(option, value)| Value::Array(vec![Value::from(option), Value::from(value)]))
            .collect(),
    ))
}

/// `vigil.getSchedules()`: every schedule of every process that has one.
pub(super) fn schedules(api: &Api, args: Args<'_>) -> Outcome {
    args.none()?;
    let snapshot = api.handle.snapshot();
    Ok(Value::Array(
        snapshot
            .processes
            .iter()
            .filter(|process| process.config.schedules.any())
            .flat_map(render::schedules)
            .collect(),
    ))
}

/// `vigil.getCrashLoopState(name)`.
pub(super) fn crash_loop_state(api: &Api, args: Args<'_>) -> Outcome {
    let process = lookup::process(api, args.string()?)?;
    Ok(render::crash_loop_state(&process))
}
