//! vigil's `depends_on`: which processes a process needs before it starts, and which need
//! it before it stops. A name stands for a group in use (all its processes) or a program
//! (all its `numprocs` processes); `name:exited` asks for a one-shot task done (EXITED with
//! an expected exit code) rather than RUNNING. The config was checked for unknown names and
//! cycles.

use std::collections::{HashMap, HashSet};

use super::table::{ProcKey, Table};
use crate::config::Wants;
use crate::process::state::{Health, State};

/// One process a process depends on, and what it must have done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// The dependency.
    pub key: ProcKey,
    /// RUNNING (and healthy), or EXITED as expected.
    pub wants: Wants,
}

/// The dependency graph of the processes in use, resolved to keys both ways once per
/// change of the table (`Table::gate`), so a lookup never walks the fleet.
#[derive(Debug, Default)]
pub struct Gate {
    /// What each process with `depends_on` needs.
    needs: HashMap<ProcKey, Vec<Need>>,
    /// Who needs each process, in start order.
    needed_by: HashMap<ProcKey, Vec<Need>>,
}

impl Gate {
    /// The graph of `table`'s processes, in O(processes + edges).
    pub fn build(table: &Table) -> Gate {
        let mut by_program: HashMap<&str, Vec<&ProcKey>> = HashMap::new();
        for key in table.start_order() {
            if let Some(entry) = table.entries.get(key) {
                by_program
                    .entry(entry.config.program.as_str())
                    .or_default()
                    .push(key);
            }
        }
        let mut gate = Gate::default();
        for key in table.start_order() {
            let Some(entry) = table.entries.get(key) else {
                continue;
            };
            if entry.config.depends_on.is_empty() {
                continue;
            }
            let mut seen = HashSet::new();
            let mut needs = Vec::new();
            for dependency in &entry.config.depends_on {
                let name = dependency.name.as_str();
                let keys: Vec<&ProcKey> = match table.group(name) {
                    Some(group) => group.keys.iter().collect(),
                    None => by_program.get(name).cloned().unwrap_or_default(),
                };
                for needed in keys {
                    if needed != key && seen.insert(needed) {
                        needs.push(Need {
                            key: needed.clone(),
                            wants: dependency.wants,
                        });
                    }
                }
            }
            for need in &needs {
                gate.needed_by
                    .entry(need.key.clone())
                    .or_default()
                    .push(Need {
                        key: key.clone(),
                        wants: need.wants,
                    });
            }
            gate.needs.insert(key.clone(), needs);
        }
        gate
    }

    /// Whether no process in use has `depends_on` (a plain config pays nothing for it).
    pub fn is_empty(&self) -> bool {
        self.needs.is_empty()
    }

    /// Whether `key` takes part in the graph (needs or is needed).
    pub fn involves(&self, key: &ProcKey) -> bool {
        self.needs.contains_key(key) || self.needed_by.contains_key(key)
    }
}

/// The processes `key` depends on.
pub fn dependencies<'t>(table: &'t Table, key: &ProcKey) -> &'t [Need] {
    table.gate.needs.get(key).map_or(&[], Vec::as_slice)
}

/// The processes that depend on `key`, in start order, each with what it needs of `key`.
pub fn dependents<'t>(table: &'t Table, key: &ProcKey) -> &'t [Need] {
    table.gate.needed_by.get(key).map_or(&[], Vec::as_slice)
}

/// Whether `key` can be depended on: RUNNING, and healthy when it has a health check.
pub fn ready(table: &Table, key: &ProcKey) -> bool {
    table.entries.get(key).is_some_and(|entry| {
        matches!(entry.process.state(), State::Running { .. })
            && matches!(entry.process.state().health(), None | Some(Health::Healthy))
    })
}

/// Whether `need` is met: its process RUNNING (and healthy), or EXITED with an expected
/// exit code for a `:exited` dependency.
pub fn met(table: &Table, need: &Need) -> bool {
    match need.wants {
        Wants::Running => ready(table, &need.key),
        Wants::Exited => table.entries.get(&need.key).is_some_and(|entry| {
            entry.process.state() == State::Exited
                && entry.config.exitcodes.contains(&entry.process.exitstatus())
        }),
    }
}

/// The dependencies of `key` that are not met yet, as namespecs; a one-shot dependency
/// says what it waits for (`migrate (to exit)`) or why it failed (`migrate (FATAL)`,
/// `migrate (exit status 2)`).
pub fn waiting_for(table: &Table, key: &ProcKey) -> Vec<String> {
    dependencies(table, key)
        .iter()
        .filter(|need| !met(table, need))
        .filter_map(|need| Some((need, table.entries.get(&need.key)?)))
        .map(|(need, entry)| {
            let namespec = entry.config.namespec();
            if need.wants == Wants::Running {
                return namespec;
            }
            match entry.process.state() {
                State::Fatal => format!("{namespec} (FATAL)"),
                State::Exited => {
                    format!("{namespec} (exit status {})", entry.process.exitstatus())
                }
                _ => format!("{namespec} (to exit)"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::table::testing::table;
    use super::*;
    use crate::process::machine::Input;

    fn key(group: &str, name: &str) -> ProcKey {
        (group.to_string(), name.to_string())
    }

    const FLEET: &str = "[program:db]\ncommand=/bin/true\nnumprocs=2\nprocess_name=db_%(process_num)d\n\
        stdout_logfile=NONE\nstderr_logfile=NONE\n\n\
        [program:web]\ncommand=/bin/true\ndepends_on=db\nstdout_logfile=NONE\nstderr_logfile=NONE\n\n\
        [program:worker]\ncommand=/bin/true\ndepends_on=web\nhealthcheck_command=/bin/true\n\
        stdout_logfile=NONE\nstderr_logfile=NONE\n";

    #[test]
    fn a_program_name_stands_for_all_its_processes_both_ways() {
        let (_dir, table) = table(FLEET);
        let mut deps: Vec<ProcKey> = dependencies(&table, &key("web", "web"))
            .iter()
            .map(|need| need.key.clone())
            .collect();
        deps.sort();
        assert_eq!(deps, [key("db", "db_0"), key("db", "db_1")]);
        let keys =
            |needs: &[Need]| -> Vec<ProcKey> { needs.iter().map(|n| n.key.clone()).collect() };
        assert_eq!(
            keys(dependents(&table, &key("db", "db_1"))),
            [key("web", "web")]
        );
        assert_eq!(
            keys(dependents(&table, &key("web", "web"))),
            [key("worker", "worker")]
        );
        assert!(dependencies(&table, &key("db", "db_0")).is_empty());
        assert!(dependencies(&table, &key("nope", "nope")).is_empty());
    }

    #[test]
    fn a_group_name_stands_for_its_members_and_each_dependency_counts_once() {
        let (_dir, fleet) = table(
            "[program:a]\ncommand=/bin/true\nstdout_logfile=NONE\nstderr_logfile=NONE\n\n\
             [program:b]\ncommand=/bin/true\nstdout_logfile=NONE\nstderr_logfile=NONE\n\n\
             [group:backend]\nprograms=a,b\n\n\
             [program:app]\ncommand=/bin/true\ndepends_on=backend,a\n\
             stdout_logfile=NONE\nstderr_logfile=NONE\n",
        );
        let app = key("app", "app");
        let mut deps: Vec<ProcKey> = dependencies(&fleet, &app)
            .iter()
            .map(|need| need.key.clone())
            .collect();
        deps.sort();
        assert_eq!(deps, [key("backend", "a"), key("backend", "b")]);
        let dependent: Vec<ProcKey> = dependents(&fleet, &key("backend", "a"))
            .iter()
            .map(|need| need.key.clone())
            .collect();
        assert_eq!(dependent, std::slice::from_ref(&app));
        assert!(fleet.gate.involves(&app) && fleet.gate.involves(&key("backend", "b")));
        assert!(!fleet.gate.is_empty());
        let (_plain_dir, plain) =
            table("[program:a]\ncommand=/bin/true\nstdout_logfile=NONE\nstderr_logfile=NONE\n");
        assert!(plain.gate.is_empty(), "a plain config has no graph");
    }

    #[test]
    fn a_dependency_is_ready_when_running_and_healthy_if_it_is_checked() {
        let (_dir, mut table) = table(FLEET);
        let mut waiting = waiting_for(&table, &key("web", "web"));
        waiting.sort();
        assert_eq!(waiting, ["db:db_0", "db:db_1"]);
        let mut drive = |key: ProcKey, inputs: &[Input]| {
            let entry = table.entries.get_mut(&key).expect("entry");
            entry.process.drive(&entry.config, inputs.iter().cloned());
        };
        let running = |pid| [Input::Spawned { pid }, Input::StartSecsElapsed];
        drive(key("db", "db_0"), &running(10));
        drive(key("db", "db_1"), &[Input::Spawned { pid: 11 }]);
        drive(key("web", "web"), &running(12));
        drive(key("worker", "worker"), &running(13));
        drive(key("worker", "worker"), &[Input::Health(Health::Unhealthy)]);
        assert_eq!(
            waiting_for(&table, &key("web", "web")),
            ["db:db_1"],
            "STARTING is not ready"
        );
        assert!(ready(&table, &key("web", "web")));
        assert!(
            !ready(&table, &key("worker", "worker")),
            "unhealthy is not ready"
        );
    }
}
