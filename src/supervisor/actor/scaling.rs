//! vigil `scaleGroup` in the actor: the groups run at another size than their file gives,
//! kept while the file still gives the `numprocs` it gave when they were scaled (looked at
//! after every reread and restart: a change in the file wins), remembered in the statefile
//! and published for the next reread. Stopping the members a scale drops and starting the
//! new ones is `update`'s member-by-member path (`groups.rs`).

use super::*;
use crate::config::{GroupConfig, Scaled};

impl Supervisor {
    /// Takes the scales the statefile remembers that the config in use still allows (at
    /// start: vigild loaded the config with them).
    pub(super) fn take_saved_scales(&mut self) {
        self.scales = self.state.scales().to_vec();
        self.keep_scales();
    }

    /// Drops the scales whose group is gone from the latest config or whose `numprocs` in
    /// the file has changed since (the file wins), saying so.
    pub(super) fn keep_scales(&mut self) {
        let config = Arc::clone(&self.config);
        let before = self.scales.len();
        self.scales.retain(|scaled| {
            let group = config.groups.iter().find(|g| g.name == scaled.group);
            let file = group.and_then(|g| g.numprocs);
            // Read at the scaled size from the same program (a reread that raced the scale
            // was not: the file wins then too).
            let applied = group.is_some_and(|g| {
                g.processes.len() == scaled.numprocs as usize
                    && g.processes.iter().all(|p| p.program == scaled.program)
            });
            let kept = file == Some(scaled.file_numprocs) && applied;
            if !kept {
                tracing::info!(
                    "scale: {} goes back to the file's numprocs ({}): it changed since the group was scaled to {}",
                    scaled.group,
                    file.map_or_else(|| "group removed".to_string(), |n| n.to_string()),
                    scaled.numprocs
                );
            }
            kept
        });
        if self.scales.len() != before || self.view_scales_stale() {
            self.remember_scales();
        }
    }

    /// `vigil.scaleGroup`: `group` (the active group read again at its new size) becomes
    /// the one later updates and adds come from, and `scaled` is remembered (or forgotten,
    /// back at the file's size); answers the members to stop before the members are
    /// replaced.
    pub(super) fn scale(
        &mut self,
        group: GroupConfig,
        scaled: Scaled,
    ) -> Result<Vec<ProcKey>, Refusal> {
        if self.table.group(&group.name).is_none() {
            return Err(Refusal::BadName);
        }
        let mut config = (*self.config).clone();
        match config.groups.iter_mut().find(|g| g.name == group.name) {
            Some(latest) => *latest = group.clone(),
            None => config.groups.push(group.clone()),
        }
        self.config = Arc::new(config);
        self.scales.retain(|s| s.group != scaled.group);
        tracing::info!(
            "scale: {} to {} processes (numprocs={} in the file)",
            scaled.group,
            scaled.numprocs,
            scaled.file_numprocs
        );
        if scaled.numprocs != scaled.file_numprocs {
            self.scales.push(scaled);
        }
        self.remember_scales();
        Ok(self.table.stale_members(&group.name, &group))
    }

    /// Publishes the scales and saves them in the statefile.
    fn remember_scales(&mut self) {
        self.scales.sort_by(|a, b| a.group.cmp(&b.group));
        self.state.set_scales(&self.scales);
        self.view.rescale(self.scales.clone());
    }

    /// Whether the published scales differ from the actor's.
    fn view_scales_stale(&self) -> bool {
        self.view.scales() != self.scales.as_slice()
    }
}
