//! `vigil.scaleGroup(name, n)`: a `numprocs` program's group (or a group of one program)
//! run with `n` processes. The config file is read again with that size (off the runtime);
//! the members kept must come out exactly as they run (else the file changed since it was
//! loaded, and `update` is the way), then the supervisor takes the group at its new size
//! and `update`'s member-by-member path stops the highest-numbered members or starts the
//! new ones (`process_num` continuing); the rest keep running untouched.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::daemon::{ask, replace_members};
use super::Outcome;
use crate::config::{Scaled, Scaling};
use crate::rpc::args::Args;
use crate::rpc::codec::Value;
use crate::rpc::faults::{Fault, FaultCode};
use crate::rpc::{lookup, Api};
use crate::supervisor::Control;

/// `vigil.scaleGroup(name, n)`: `true` once the dropped members have stopped and the new
/// ones have been asked to start.
pub(super) async fn scale_group(api: &Api, args: Args<'_>) -> Outcome {
    let (name, wanted) = args.string_and_int()?;
    let group = crate::namespec::Namespec::parse(name).group().to_string();
    let numprocs = u32::try_from(wanted).map_err(|_| {
        Fault::with(
            FaultCode::BadArguments,
            format!("cannot scale {group} to {wanted}: the number of processes must be 0 or more"),
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
    let program = programs
        .first()
        .map_or_else(|| group.clone(), |p| (*p).to_string());
    let scaling = Scaling {
        kept: api.handle.snapshot().scales.to_vec(),
        asked: Some((group.clone(), program.clone(), numprocs)),
    };
    let reread = Arc::clone(&api.reread);
    let config = tokio::task::spawn_blocking(move || reread(&scaling))
        .await
        .map_err(|err| Fault::with(FaultCode::Failed, err.to_string()))?
        .map_err(|errors| Fault::with(FaultCode::CantReread, errors.to_string()))?;
    let Some(scaled_group) = config.groups.into_iter().find(|g| g.name == group) else {
        return Err(Fault::with(
            FaultCode::Failed,
            format!("cannot scale {group}: the config file no longer has it; run update"),
        ));
    };
    let Some(file_numprocs) = scaled_group.numprocs else {
        return Err(Fault::with(
            FaultCode::Failed,
            format!("cannot scale {group}: its processes come from several programs"),
        ));
    };
    // The members kept must be exactly what runs: else scaling would change them too.
    let changed: Vec<String> = members
        .iter()
        .filter(|running| {
            scaled_group
                .processes
                .iter()
                .find(|p| p.name == running.name)
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
