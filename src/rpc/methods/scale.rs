//! `vigil.scaleGroup(name, n)`: a `numprocs` program's group (or a group of one program)
//! run with `n` processes. The config file is read again with that size (off the runtime);
//! the members kept must come out exactly as they run (else the file changed since it was
//! loaded, and `update` is the way), then the supervisor takes the group at its new size
//! and `update`'s member-by-member path stops the highest-numbered members or starts the
//! new ones (`process_num` continuing); the rest keep running untouched.

use std::collections::{BTreeSet, HashMap};

use super::daemon::{ask, replace_members, reread};
use super::Outcome;
use crate::config::{Asked, Scaled};
use crate::rpc::args::Args;
use crate::rpc::codec::Value;
use crate::rpc::faults::{Fault, FaultCode};
use crate::rpc::{lookup, Api};
use crate::supervisor::Control;

/// The most processes a group may be scaled to (a typo must not build millions of them).
const MOST: u32 = 10_000;

/// `vigil.scaleGroup(name, n)`: `true` once the dropped members have stopped and the new
/// ones have been asked to start.
pub(super) async fn scale_group(api: &Api, args: Args<'_>) -> Outcome {
    let (name, wanted) = args.string_and_int()?;
    let group = crate::namespec::Namespec::parse(name).group().to_string();
    let _under_way = api.sequences.begin(format!("a scale of {group}"));
    let numprocs = u32::try_from(wanted)
        .ok()
        .filter(|n| *n <= MOST)
        .ok_or_else(|| {
            Fault::with(
                FaultCode::BadArguments,
                format!(
                    "cannot scale {group} to {wanted}: the number of processes must be 0 to {MOST}"
                ),
            )
        })?;
    let members = lookup::group_members(api, &group)?;
    let programs: BTreeSet<&str> = members.iter().map(|p| p.config.program.as_str()).collect();
    if programs.len() > 1 {
        let names: Vec<&str> = programs.into_iter().collect();
        return Err(Fault::with(
            FaultCode::Failed,
            format!(
                "cannot scale {group}: its processes come from several programs ({}); scale a program's own group",
                names.join(", ")
            ),
        ));
    }
    // A group scaled to 0 has no members left: its scale names the program.
    let scales = api.handle.snapshot().scales.clone();
    let program = programs
        .first()
        .map(|p| (*p).to_string())
        .or_else(|| {
            scales
                .iter()
                .find(|s| s.group == group)
                .map(|s| s.program.clone())
        })
        .unwrap_or_else(|| group.clone());
    let asked = Asked {
        group: group.clone(),
        program: program.clone(),
        numprocs,
    };
    let config = reread(api, Some(asked)).await?;
    let Some(scaled_group) = config.groups.into_iter().find(|g| g.name == group) else {
        return Err(Fault::with(
            FaultCode::Failed,
            format!("cannot scale {group}: the config file no longer has it; run update"),
        ));
    };
    let file_numprocs = scaled_group
        .numprocs
        .filter(|_| u32::try_from(scaled_group.processes.len()).is_ok_and(|n| n == numprocs));
    let Some(file_numprocs) = file_numprocs else {
        return Err(Fault::with(
            FaultCode::Failed,
            format!("cannot scale {group}: its processes come from several programs, or not from [program:{program}]"),
        ));
    };
    // The members kept must be exactly what runs: else scaling would change them too.
    let fresh: HashMap<&str, &crate::config::ProcessConfig> = scaled_group
        .processes
        .iter()
        .map(|p| (p.name.as_str(), p.as_ref()))
        .collect();
    let changed: Vec<String> = members
        .iter()
        .filter(|running| {
            fresh
                .get(running.name.as_str())
                .is_some_and(|fresh| **fresh != *running.config)
        })
        .map(crate::supervisor::ProcessView::namespec)
        .collect();
    if !changed.is_empty() {
        return Err(Fault::with(
            FaultCode::Failed,
            format!(
                "cannot scale {group}: {} would change beyond their number (the config file was edited since it was loaded, or the command uses %(numprocs)d); run update",
                changed.join(", ")
            ),
        ));
    }
    let scaled = Scaled {
        group: group.clone(),
        program,
        numprocs,
        file_numprocs,
    };
    let stale = ask(api, |reply| {
        Control::Scale(Box::new(scaled_group), scaled, reply)
    })
    .await?
    .map_err(|refusal| Fault::refused(refusal, &group))?;
    replace_members(api, &group, &stale).await?;
    Ok(Value::Bool(true))
}
