//! Process trees from the parent links of every process, for the `scope="tree"` figures.

use std::collections::{HashMap, HashSet};

use sysinfo::System;

/// Who are whose children, as of the last refresh.
pub struct Trees {
    children: HashMap<i32, Vec<i32>>,
}

impl Trees {
    /// The trees of every process `system` knows.
    pub fn of(system: &System) -> Self {
        let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
        for (pid, process) in system.processes() {
            let (Some(parent), Ok(pid)) = (process.parent(), i32::try_from(pid.as_u32())) else {
                continue;
            };
            if let Ok(parent) = i32::try_from(parent.as_u32()) {
                children.entry(parent).or_default().push(pid);
            }
        }
        Trees { children }
    }

    /// `pid` followed by all its descendants.
    pub fn members(&self, pid: i32) -> Vec<i32> {
        let mut members = vec![pid];
        let mut seen: HashSet<i32> = HashSet::from([pid]);
        let mut next = 0;
        while let Some(current) = members.get(next).copied() {
            next += 1;
            for child in self.children.get(&current).into_iter().flatten() {
                if seen.insert(*child) {
                    members.push(*child);
                }
            }
        }
        members
    }
}
