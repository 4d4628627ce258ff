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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load, Overrides};

    /// The table of `programs`, with no logs and no processes started.
    fn table(programs: &str) -> (tempfile::TempDir, Table) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("supervisord.conf");
        let text = format!(
            "[supervisord]\nchildlogdir={}\n\n{programs}",
            dir.path().display()
        );
        std::fs::write(&path, text).expect("write config");
        let loaded = load(&path, &Overrides::default(), dir.path(), &[]).expect("config loads");
        let (table, errors) = Table::build(&loaded.config);
        assert!(errors.is_empty(), "{errors:?}");
        (dir, table)
    }

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
        let mut deps = dependencies(&table, &key("web", "web"));
        deps.sort();
        assert_eq!(deps, [key("db", "db_0"), key("db", "db_1")]);
        assert_eq!(dependents(&table, &key("db", "db_1")), [key("web", "web")]);
        assert_eq!(
            dependents(&table, &key("web", "web")),
            [key("worker", "worker")]
        );
        assert!(dependencies(&table, &key("db", "db_0")).is_empty());
        assert!(dependencies(&table, &key("nope", "nope")).is_empty());
    }

    #[test]
    fn a_dependency_is_ready_when_running_and_healthy_if_it_is_checked() {
        let (_dir, mut table) = table(FLEET);
        let mut waiting = waiting_for(&table, &key("web", "web"));
        waiting.sort();
        assert_eq!(waiting, ["db:db_0", "db:db_1"]);
        let mut set = |key: ProcKey, state: State, health: Option<Health>| {
            let entry = table.entries.get_mut(&key).expect("entry");
            entry.process.state = state;
            entry.process.health = health;
        };
        set(key("db", "db_0"), State::Running { pid: 10 }, None);
        set(key("db", "db_1"), State::Starting { pid: 11 }, None);
        set(key("web", "web"), State::Running { pid: 12 }, None);
        set(
            key("worker", "worker"),
            State::Running { pid: 13 },
            Some(Health::Unhealthy),
        );
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
