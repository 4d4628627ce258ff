//! vigilctl's interactive shell, as supervisorctl's: `status` first, then a `supervisor> `
//! prompt with line editing, history (kept in `history_file` when one is set) and tab
//! completion of command and process names.

use std::path::PathBuf;

use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use super::client::Client;
use super::{text, Ctl};
use crate::namespec::Namespec;
use crate::rpc::codec::Value;

/// Completes command names, then process names (`group:name`, `group:*`, `all`).
struct Completion {
    client: Client,
}

impl Completion {
    fn process_names(&self) -> Vec<String> {
        let Ok(Value::Array(infos)) = self.client.call("supervisor.getAllProcessInfo", &[]) else {
            return Vec::new();
        };
        let mut names = vec!["all".to_string()];
        for info in &infos {
            let group = text(info.member("group"));
            let name = text(info.member("name"));
            if group != name {
                let whole = Namespec::Group(group.clone()).to_string();
                if !names.contains(&whole) {
                    names.push(whole);
                }
            }
            names.push(crate::namespec::of(&group, &name));
        }
        names
    }
}

impl Completer for Completion {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let before = &line[..pos];
        let start = before.rfind(' ').map_or(0, |space| space + 1);
        let word = &before[start..];
        let candidates: Vec<String> = if start == 0 {
            super::help::commands()
                .into_iter()
                .map(str::to_string)
                .collect()
        } else {
            self.process_names()
        };
        Ok((
            start,
            candidates
                .into_iter()
                .filter(|c| c.starts_with(word))
                .collect(),
        ))
    }
}

impl Hinter for Completion {
    type Hint = String;
}

impl Highlighter for Completion {}

impl Validator for Completion {}

impl Helper for Completion {}

/// Runs the shell until `quit`, `exit` or end of input. Always exits 0, as supervisorctl.
pub(super) fn run(ctl: &mut Ctl, prompt: &str, history_file: Option<PathBuf>) -> i32 {
    let Ok(mut editor) = Editor::<Completion, DefaultHistory>::new() else {
        eprintln!("vigilctl: cannot start the interactive shell");
        return 1;
    };
    editor.set_helper(Some(Completion {
        client: ctl.client.clone(),
    }));
    if let Some(file) = &history_file {
        // A missing history file is normal on first use.
        let _ = editor.load_history(file);
    }
    ctl.dispatch("status", &[]);
    let prompt = format!("{prompt}> ");
    loop {
        match editor.readline(&prompt) {
            Ok(line) => {
                let words: Vec<&str> = line.split_whitespace().collect();
                let Some((command, args)) = words.split_first() else {
                    continue;
                };
                let _ = editor.add_history_entry(line.as_str());
                if matches!(*command, "quit" | "exit") {
                    break;
                }
                ctl.dispatch(command, args);
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(_) => {
                println!();
                break;
            }
        }
    }
    if let Some(file) = &history_file {
        if let Err(err) = editor.save_history(file) {
            eprintln!(
                "vigilctl: could not save history to {}: {err}",
                file.display()
            );
        }
    }
    0
}
