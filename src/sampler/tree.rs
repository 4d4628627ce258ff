//! Process trees from the parent links of every process, for the `scope="tree"` figures.

use std::collections::{HashMap, HashSet};

/// Who are whose children, as of the last refresh.
pub struct Trees {
    children: HashMap<i32, Vec<i32>>,
}

impl Trees {
    /// The trees of `(pid, parent pid)` links.
    pub fn of(links: impl Iterator<Item = (i32, i32)>) -> Self {
        let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
        for (pid, parent) in links {
            children.entry(parent).or_default().push(pid);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_the_process_and_all_its_descendants() {
        let trees = Trees::of([(10, 1), (11, 10), (12, 10), (13, 11), (20, 1)].into_iter());
        let mut members = trees.members(10);
        assert_eq!(members.remove(0), 10, "the process itself comes first");
        members.sort_unstable();
        assert_eq!(members, [11, 12, 13]);
        assert_eq!(trees.members(20), [20]);
    }
}
