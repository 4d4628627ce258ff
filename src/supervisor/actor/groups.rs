//! Groups at run time: `reread` (the diff against a new config), `addProcessGroup`,
//! `removeProcessGroup`, `update`'s replacement of changed members, `getAllConfigInfo`,
//! and the PROCESS_GROUP_ADDED announcements with their listener pools.

use super::*;

impl Supervisor {
    /// `reloadConfig`: keeps `config` for later adds; compares it with the groups in use.
    pub(super) fn reread(&mut self, config: Config) -> GroupDiff {
        let diff = self.diff(&config);
        self.config = Arc::new(config);
        self.reloads += 1;
        self.keep_scales();
        diff
    }

    /// How `config`'s groups differ from those in use (added, changed, removed, sorted).
    pub(super) fn diff(&self, config: &Config) -> GroupDiff {
        let mut diff = GroupDiff::default();
        for group in &config.groups {
            match self.table.group(&group.name) {
                None => diff.added.push(group.name.clone()),
                Some(active) if active.config != *group => diff.changed.push(group.name.clone()),
                Some(_) => {}
            }
        }
        for active in &self.table.groups {
            if !config.groups.iter().any(|g| g.name == active.config.name) {
                diff.removed.push(active.config.name.clone());
            }
        }
        for names in [&mut diff.added, &mut diff.changed, &mut diff.removed] {
            names.sort();
        }
        diff
    }

    /// `addProcessGroup`: puts a group of the latest config in use and autostarts it.
    pub(super) fn add_group(&mut self, name: &str) -> Result<(), Refusal> {
        if self.table.group(name).is_some() {
            return Err(Refusal::AlreadyAdded);
        }
        let config = Arc::clone(&self.config);
        let group = config
            .groups
            .iter()
            .find(|g| g.name == name)
            .ok_or(Refusal::BadName)?;
        self.view.reshape();
        for error in self.table.add_group(group) {
            tracing::error!(target: CRITICAL, "{error}");
        }
        tracing::info!("added process group {name}");
        self.note_dependencies();
        announce_group(&self.events, group);
        let keys = self
            .table
            .group(name)
            .map(|g| g.keys.clone())
            .unwrap_or_default();
        self.start_autostart(keys);
        Ok(())
    }

    /// `removeProcessGroup`: only when every process of the group is stopped.
    pub(super) fn remove_group(&mut self, name: &str) -> Result<(), Refusal> {
        let group = self.table.group(name).ok_or(Refusal::BadName)?;
        let running = group
            .keys
            .iter()
            .filter_map(|key| self.table.entries.get(key))
            .any(|entry| !entry.is_idle());
        if running {
            return Err(Refusal::StillRunning);
        }
        // A removed group's processes are forgotten: re-added, they start as configured
        // (supervisorctl's update stops, removes and adds a changed group).
        let namespecs: Vec<String> = group
            .keys
            .iter()
            .filter_map(|key| self.table.entries.get(key))
            .map(|entry| entry.config.namespec())
            .collect();
        for namespec in namespecs {
            self.state.set(&namespec, false);
        }
        self.table.remove_group(name);
        self.view.reshape();
        self.note_dependencies();
        tracing::info!("removed process group {name}");
        self.events.send(Message::PoolRemoved(name.to_string()));
        self.events.publish(Event::group_removed(name));
        Ok(())
    }

    /// The latest config's version of the active group `name`.
    pub(super) fn reread_group(&self, name: &str) -> Result<crate::config::GroupConfig, Refusal> {
        if self.table.group(name).is_none() {
            return Err(Refusal::BadName);
        }
        self.config
            .groups
            .iter()
            .find(|g| g.name == name)
            .cloned()
            .ok_or(Refusal::BadName)
    }

    /// Applies the latest config to one active group member by member; the changed and
    /// dropped members must already be stopped.
    pub(super) fn replace_members(&mut self, name: &str) -> Result<(), Refusal> {
        let group = self.reread_group(name)?;
        let running = self
            .table
            .stale_members(name, &group)
            .iter()
            .filter_map(|key| self.table.entries.get(key))
            .any(|entry| !entry.is_idle());
        if running {
            return Err(Refusal::StillRunning);
        }
        let (fresh, socket_errors) = self.table.replace_members(&group);
        self.view.reshape();
        for error in socket_errors {
            tracing::error!(target: CRITICAL, "{error}");
        }
        tracing::info!("updated members of process group {name}");
        self.note_dependencies();
        match group.pool() {
            Some(pool) => self.events.send(pool_message(&group.name, pool)),
            None => self.events.send(Message::PoolRemoved(group.name.clone())),
        }
        // New members start afresh, whatever was remembered of the old ones.
        for key in &fresh {
            if let Some(entry) = self.table.entries.get(key) {
                self.state.set(&entry.config.namespec(), false);
            }
        }
        self.start_autostart(fresh);
        Ok(())
    }

    /// `getAllConfigInfo`: every process of the latest config, and whether its group is in
    /// use.
    pub(super) fn config_info(&self) -> Vec<ConfigInfo> {
        let mut infos: Vec<ConfigInfo> = self
            .config
            .groups
            .iter()
            .flat_map(|group| {
                let in_use = self.table.group(&group.name).is_some();
                group.processes.iter().map(move |process| ConfigInfo {
                    config: Arc::clone(process),
                    group_priority: group.priority,
                    in_use,
                })
            })
            .collect();
        infos.sort_by(|a, b| a.config.name.cmp(&b.config.name));
        infos
    }

    /// PROCESS_GROUP_ADDED for every group in use, in start order (listener pools are set
    /// up first, so a pool hears of its own group), as at supervisord's start.
    pub(super) fn announce_groups(&self) {
        for group in &self.table.groups {
            announce_group(&self.events, &group.config);
        }
    }
}

/// Sets up `group`'s pool when it is one, then publishes its PROCESS_GROUP_ADDED.
pub(super) fn announce_group(events: &Publisher, group: &crate::config::GroupConfig) {
    if let Some(pool) = group.pool() {
        events.send(pool_message(&group.name, pool));
    }
    events.publish(Event::group_added(&group.name));
}

/// The message that creates or reconfigures the pool `name`.
pub(super) fn pool_message(name: &str, pool: &crate::config::ListenerConfig) -> Message {
    Message::PoolAdded {
        name: name.to_string(),
        events: pool.events.clone(),
        buffer_size: pool.buffer_size,
        result_handler: pool.result_handler,
    }
}
