//! vigil's `depends_on` across the whole config: every name is a program or a group, and
//! no programs depend on each other in a circle. Errors point at the `depends_on` option.

use std::collections::HashSet;

use super::diagnostic::Diagnostic;
use super::ini::RawDoc;
use super::invalid::Invalid;
use super::program::program_section;
use super::{AutoRestart, Dependency, GroupConfig, Wants};

/// `depends_on` (comma-separated) or `dependent_startup_wait_for` (space-separated):
/// `name`, `name:running` or `name:exited` each.
pub(super) fn entries(text: &str) -> Result<Vec<Dependency>, Invalid> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (name, wants) = match item.rsplit_once(':') {
                None => (item, Wants::Running),
                Some((name, state)) => match state.to_ascii_lowercase().as_str() {
                    "running" => (name, Wants::Running),
                    "exited" => (name, Wants::Exited),
                    _ => return Err(Invalid::NotDependencyState(state.to_string())),
                },
            };
            Ok(Dependency {
                name: name.to_string(),
                wants,
            })
        })
        .collect()
}

/// `depends_on` names must be programs or groups, and must not depend on each other in a
/// circle; both errors point at the `depends_on` option of a program involved.
pub(super) fn check(doc: &RawDoc, groups: &[GroupConfig], errors: &mut Vec<Diagnostic>) {
    // Program → the programs it depends on (a group name stands for its members' programs).
    let mut edges: Vec<(String, Vec<String>)> = Vec::new();
    let programs_of = |name: &str| -> Option<Vec<String>> {
        if let Some(group) = groups.iter().find(|g| g.name == name) {
            let mut programs: Vec<String> =
                group.processes.iter().map(|p| p.program.clone()).collect();
            programs.dedup();
            return Some(programs);
        }
        groups
            .iter()
            .flat_map(|g| &g.processes)
            .any(|p| p.program == name)
            .then(|| vec![name.to_string()])
    };
    let location = |program: &str| {
        doc.sections
            .iter()
            .filter_map(|section| program_section(doc, &section.name))
            .find(|(_, _, name)| *name == program)
            .map(|(section, _, _)| {
                let option = section
                    .get("depends_on")
                    .or_else(|| section.get("dependent_startup_wait_for"));
                section.location(option)
            })
    };
    for process in groups.iter().flat_map(|g| &g.processes) {
        if process.depends_on.is_empty() || edges.iter().any(|(p, _)| *p == process.program) {
            continue;
        }
        let mut targets = Vec::new();
        for dependency in &process.depends_on {
            let name = dependency.name.as_str();
            if dependency.wants == Wants::Exited {
                let restarts = groups
                    .iter()
                    .flat_map(|g| &g.processes)
                    .filter(|p| p.program == name || p.group == name)
                    .find(|p| p.autorestart == AutoRestart::Always);
                if let (Some(target), Some(at)) = (restarts, location(&process.program)) {
                    errors.push(Diagnostic::new(
                        at,
                        format!(
                            "depends_on {dependency}: [program:{}] has autorestart=true, so it never stays exited",
                            target.program
                        ),
                    ));
                }
            }
            match programs_of(name) {
                Some(programs) => targets.extend(programs),
                None => {
                    if let Some(at) = location(&process.program) {
                        errors.push(Diagnostic::new(
                            at,
                            format!("depends_on names unknown program or group '{name}'"),
                        ));
                    }
                }
            }
        }
        edges.push((process.program.clone(), targets));
    }
    if let Some(cycle) = find_cycle(&edges) {
        if let Some(at) = location(&cycle[0]) {
            errors.push(Diagnostic::new(
                at,
                format!("depends_on cycle: {}", cycle.join(" -> ")),
            ));
        }
    }
}

/// A cycle in the program graph, as the programs along it with the first repeated at the
/// end (`a -> b -> a`).
fn find_cycle(edges: &[(String, Vec<String>)]) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &[(String, Vec<String>)],
        path: &mut Vec<String>,
        done: &mut HashSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        let next = edges
            .iter()
            .find(|(from, _)| from == node)
            .map(|(_, to)| to.as_slice())
            .unwrap_or_default();
        for target in next {
            if let Some(cycle) = visit(target, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = HashSet::new();
    edges
        .iter()
        .find_map(|(start, _)| visit(start, edges, &mut Vec::new(), &mut done))
}
