//! vigilctl's commands that bring the config to the running fleet: `avail`, `reread`,
//! `update`, `add` and `remove`, as supervisorctl words their results.

use super::client::ClientError;
use super::{array, exit, int, text, Ctl, FaultCode, Value};
use crate::namespec;

impl Ctl {
    pub(super) fn avail(&mut self) {
        let infos = match self.client.call("supervisor.getAllConfigInfo", &[]) {
            Ok(value) => array(value),
            Err(err) => return self.fail(&err),
        };
        for info in infos {
            let spec = namespec::of(&text(info.member("group")), &text(info.member("name")));
            let in_use = if matches!(info.member("inuse"), Some(Value::Bool(true))) {
                "in use"
            } else {
                "avail"
            };
            let auto = if matches!(info.member("autostart"), Some(Value::Bool(true))) {
                "auto"
            } else {
                "manual"
            };
            let priority = format!(
                "{}:{}",
                int(info.member("group_prio")),
                int(info.member("process_prio"))
            );
            println!("{spec:<32} {in_use:<9} {auto:<9} {priority}");
        }
    }

    pub(super) fn reread(&mut self) -> Option<(Vec<String>, Vec<String>, Vec<String>)> {
        match self.client.call("supervisor.reloadConfig", &[]) {
            Ok(value) => {
                let lists = array(array(value).into_iter().next().unwrap_or(Value::Nil));
                let names = |v: Option<&Value>| -> Vec<String> {
                    match v {
                        Some(Value::Array(items)) => items.iter().map(|i| text(Some(i))).collect(),
                        _ => Vec::new(),
                    }
                };
                Some((
                    names(lists.first()),
                    names(lists.get(1)),
                    names(lists.get(2)),
                ))
            }
            Err(ClientError::Fault(code, description)) if code == FaultCode::CantReread.code() => {
                println!("ERROR: {description}");
                self.exit = exit::GENERIC;
                None
            }
            Err(err) => {
                self.fail(&err);
                None
            }
        }
    }

    /// supervisorctl's `do_update`; a changed group is updated member by member where the
    /// server offers `vigil.updateProcessGroup` (vigild), else stopped, removed and added.
    pub(super) fn update(&mut self, args: &[&str]) {
        let Some((added, changed, removed)) = self.reread() else {
            return;
        };
        let named: Vec<&str> = if args.contains(&"all") {
            Vec::new()
        } else {
            args.to_vec()
        };
        if !named.is_empty() {
            let mut known: Vec<String> = self
                .process_infos()
                .unwrap_or_default()
                .iter()
                .map(|info| text(info.member("group")))
                .collect();
            known.extend(added.iter().cloned());
            for group in &named {
                if !known.iter().any(|k| k == group) {
                    println!("ERROR: no such group: {group}");
                    self.exit = exit::GENERIC;
                }
            }
        }
        let wanted = |name: &str| named.is_empty() || named.contains(&name);
        for group in removed.iter().filter(|g| wanted(g)) {
            let value = Value::from(group.as_str());
            let results = self
                .client
                .call("supervisor.stopProcessGroup", std::slice::from_ref(&value))
                .map(array);
            println!("{group}: stopped");
            let failed = results.map_or(true, |results| {
                results
                    .iter()
                    .any(|r| int(r.member("status")) == FaultCode::Failed.code())
            });
            if failed {
                println!("{group}: has problems; not removing");
                self.exit = exit::GENERIC;
                continue;
            }
            if self
                .client
                .call("supervisor.removeProcessGroup", &[value])
                .is_ok()
            {
                println!("{group}: removed process group");
            }
        }
        for group in changed.iter().filter(|g| wanted(g)) {
            let value = Value::from(group.as_str());
            match self
                .client
                .call("vigil.updateProcessGroup", std::slice::from_ref(&value))
            {
                Ok(_) => println!("{group}: updated process group"),
                Err(ClientError::NotVigild { .. }) => {
                    let _ = self
                        .client
                        .call("supervisor.stopProcessGroup", std::slice::from_ref(&value));
                    println!("{group}: stopped");
                    let _ = self.client.call(
                        "supervisor.removeProcessGroup",
                        std::slice::from_ref(&value),
                    );
                    let _ = self.client.call("supervisor.addProcessGroup", &[value]);
                    println!("{group}: updated process group");
                }
                Err(err) => self.fail(&err),
            }
        }
        for group in added.iter().filter(|g| wanted(g)) {
            let _ = self
                .client
                .call("supervisor.addProcessGroup", &[Value::from(group.as_str())]);
            println!("{group}: added process group");
        }
    }

    /// vigil `scale GROUP N`: `vigil.scaleGroup`; the group's new members start, its
    /// highest-numbered stop, the rest keep running.
    pub(super) fn scale(&mut self, args: &[&str]) {
        let [group, count] = args else {
            println!("Error: scale requires a group and a number of processes (scale <group> <n>)");
            self.exit = exit::INVALID_ARGS;
            return;
        };
        let Ok(count) = count.parse::<i64>() else {
            println!("Error: scale: '{count}' is not a number of processes");
            self.exit = exit::INVALID_ARGS;
            return;
        };
        match self.client.call(
            "vigil.scaleGroup",
            &[Value::from(*group), Value::Int(count)],
        ) {
            Ok(_) => println!("{group}: scaled to {count}"),
            Err(ClientError::Fault(_, description)) => {
                println!("{group}: ERROR ({description})");
                self.exit = exit::GENERIC;
            }
            Err(err) => self.fail(&err),
        }
    }

    pub(super) fn add_remove(&mut self, command: &str, args: &[&str]) {
        let method = if command == "add" {
            "supervisor.addProcessGroup"
        } else {
            "supervisor.removeProcessGroup"
        };
        for group in args {
            match self.client.call(method, &[Value::from(*group)]) {
                Ok(_) if command == "add" => println!("{group}: added process group"),
                Ok(_) => println!("{group}: removed process group"),
                Err(ClientError::Fault(code, _)) => {
                    let message = match code {
                        c if c == FaultCode::BadName.code() => {
                            format!("no such process/group: {group}")
                        }
                        c if c == FaultCode::AlreadyAdded.code() => {
                            "process group already active".to_string()
                        }
                        c if c == FaultCode::StillRunning.code() => {
                            format!("process/group still running: {group}")
                        }
                        _ => format!("could not {command} {group}"),
                    };
                    println!("ERROR: {message}");
                    self.exit = exit::GENERIC;
                }
                Err(err) => self.fail(&err),
            }
        }
    }
}
