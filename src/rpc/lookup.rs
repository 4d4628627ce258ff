//! Finding the processes a call names in the latest snapshot: one process by namespec, a
//! group's members, everything in start order; BAD_NAME (with the name as given) when there
//! is none. It reads snapshots only and sends nothing to the supervisor.

use super::faults::{Fault, FaultCode};
use super::Api;
use crate::namespec::Namespec;
use crate::supervisor::{ProcKey, ProcessView, Snapshot};

/// The one process `spec` names in `snapshot`; none for a whole group (the web page and
/// `/logtail` look processes up with this too).
pub fn in_snapshot<'s>(snapshot: &'s Snapshot, spec: &Namespec) -> Option<&'s ProcessView> {
    match spec {
        Namespec::Process { group, name } => snapshot.process(group, name),
        Namespec::Group(_) => None,
    }
}

/// The one process `namespec` names; a group spec (`g:*`) or an unknown name is BAD_NAME.
pub fn process(api: &Api, namespec: &str) -> Result<ProcessView, Fault> {
    in_snapshot(&api.handle.snapshot(), &Namespec::parse(namespec))
        .cloned()
        .ok_or_else(|| Fault::with(FaultCode::BadName, namespec))
}

/// The processes `namespec` names: a group's members in start order, or the one process.
pub fn named(api: &Api, namespec: &str) -> Result<Vec<ProcessView>, Fault> {
    match Namespec::parse(namespec) {
        Namespec::Group(group) => group_members(api, &group),
        Namespec::Process { .. } => process(api, namespec).map(|process| vec![process]),
    }
}

/// The members of `group` in start order; an unknown group is BAD_NAME.
pub fn group_members(api: &Api, group: &str) -> Result<Vec<ProcessView>, Fault> {
    let snapshot = api.handle.snapshot();
    if !snapshot.groups.iter().any(|(name, _)| name == group) {
        return Err(Fault::with(FaultCode::BadName, group));
    }
    Ok(in_start_order(api, Some(group)))
}

/// Processes (of one group, or all) in start order: groups by priority, then processes.
pub fn in_start_order(api: &Api, only: Option<&str>) -> Vec<ProcessView> {
    let snapshot = api.handle.snapshot();
    snapshot
        .groups
        .iter()
        .filter(|(group, _)| only.is_none_or(|only| only == group.as_str()))
        .flat_map(|(group, names)| {
            names
                .iter()
                .filter_map(|name| snapshot.process(group, name))
                .cloned()
        })
        .collect()
}

/// The supervisor's key of `process`.
pub fn key_of(process: &ProcessView) -> ProcKey {
    (process.group.clone(), process.name.clone())
}
