//! `vigilctl config <name>`: one process's effective config from a running vigild
//! (`vigil.getProcessConfig`): every option after defaults and expansions, one
//! `option = value` per line.

use super::{exit, text, Ctl, Value};

impl Ctl {
    pub(super) fn config(&mut self, args: &[&str]) {
        let [name] = args else {
            println!("Error: config requires one process name (config <name>)");
            self.exit = exit::INVALID_ARGS;
            return;
        };
        match self
            .client
            .call("vigil.getProcessConfig", &[Value::from(*name)])
        {
            Ok(Value::Array(rows)) => {
                let rows: Vec<(String, String)> = rows
                    .iter()
                    .filter_map(|row| match row {
                        Value::Array(pair) => Some((text(pair.first()), text(pair.get(1)))),
                        _ => None,
                    })
                    .collect();
                let width = rows
                    .iter()
                    .map(|(option, _)| option.len())
                    .max()
                    .unwrap_or(0);
                for (option, value) in rows {
                    println!("{option:<width$} = {value}");
                }
            }
            Ok(_) => {}
            Err(err) => {
                println!("{name}: ERROR ({err})");
                self.exit = exit::GENERIC;
            }
        }
    }
}
