//! vigil's `depends_on`: which processes a process needs before it starts, and which need
//! it before it stops. A name stands for a group in use (all its processes) or a program
//! (all its `numprocs` processes). The config was checked for unknown names and cycles.

use super::table::{ProcKey, Table};
use crate::process::state::{Health, State};

/// The processes `key` depends on.
pub fn dependencies(table: &Table, key: &ProcKey) -> Vec<ProcKey> {
    let Some(entry) = table.entries.get(key) else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    for name in &entry.config.depends_on {
        match table.group(name) {
            Some(group) => keys.extend(group.keys.iter().cloned()),
            None => keys.extend(
                table
                    .start_order()
                    .filter(|k| {
                        table
                            .entries
                            .get(*k)
                            .is_some_and(|e| e.config.program == *name)
                    })
                    .cloned(),
            ),
        }
    }
    keys.retain(|k| k != key);
    keys
}

/// The processes that depend on `key`, in start order.
pub fn dependents(table: &Table, key: &ProcKey) -> Vec<ProcKey> {
    table
        .start_order()
        .filter(|other| dependencies(table, other).contains(key))
        .cloned()
        .collect()
}

/// Whether `key` can be depended on: RUNNING, and healthy when it has a health check.
pub fn ready(table: &Table, key: &ProcKey) -> bool {
    table.entries.get(key).is_some_and(|entry| {
        matches!(entry.process.state, State::Running { .. })
            && matches!(entry.process.health, None | Some(Health::Healthy))
    })
}

/// The dependencies of `key` that are not ready yet, as namespecs.
pub fn waiting_for(table: &Table, key: &ProcKey) -> Vec<String> {
    dependencies(table, key)
        .iter()
        .filter(|dep| !ready(table, dep))
        .filter_map(|dep| table.entries.get(dep))
        .map(|entry| entry.config.namespec())
        .collect()
}
