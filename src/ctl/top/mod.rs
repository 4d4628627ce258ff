//! `vigilctl top`: a live terminal view of the fleet (state, health, CPU %, RSS, uptime,
//! restarts, a crash-loop badge), sorted by any column, filtered with `/`, a process's last
//! stderr lines and crash records on Enter, start/stop/restart by key (stop and restart
//! asked first). The loop here owns the terminal: raw mode and the alternate screen on
//! entry, restored on `q`, Ctrl-C or an error (and by ratatui's panic hook on a panic).
//! What is shown is `model.rs`, how it is drawn `view.rs`, and every call to the server is
//! made by the fetcher thread (`fetch.rs`), so a slow server never freezes the keys.

mod fetch;
mod model;
mod view;

use std::io::IsTerminal;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::time::Duration;

use ratatui::crossterm::event::{self, Event, KeyEventKind};
use ratatui::DefaultTerminal;

use super::{exit, Ctl};
use fetch::{Request, Update};
use model::{Command, Model};

/// How long the loop waits for a key before looking at the fetcher's updates.
const KEY_WAIT: Duration = Duration::from_millis(100);

impl Ctl {
    /// `top`: the live view, until `q` or Ctrl-C.
    pub(super) fn top(&mut self, args: &[&str]) {
        if !args.is_empty() {
            println!("Error: top takes no arguments");
            println!("{}", super::help::of("top").unwrap_or_default());
            self.exit = exit::INVALID_ARGS;
            return;
        }
        if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
            println!("Error: top needs a terminal (for a one-off view use: status -l)");
            self.exit = exit::INVALID_ARGS;
            return;
        }
        let (requests, updates) = fetch::spawn(self.client.clone());
        let mut model = Model::new(&self.client.serverurl);
        // ratatui's panic hook (which restores the terminal) only while top runs, so the
        // shell's repeated `top`s do not stack hooks.
        let hook = std::panic::take_hook();
        let outcome = match ratatui::try_init() {
            Ok(mut terminal) => {
                let run = run(&mut terminal, &mut model, &requests, &updates);
                ratatui::try_restore().and(run)
            }
            // Raw mode may be on already when the alternate screen or the terminal failed.
            Err(err) => {
                let _ = ratatui::try_restore();
                Err(err)
            }
        };
        std::panic::set_hook(hook);
        if let Err(err) = outcome {
            println!("ERROR: top: {err}");
            self.exit = exit::GENERIC;
        }
    }
}

/// Draws and reads keys until a quit; the terminal is restored by the caller.
fn run(
    terminal: &mut DefaultTerminal,
    model: &mut Model,
    requests: &SyncSender<Request>,
    updates: &Receiver<Update>,
) -> std::io::Result<()> {
    let mut dirty = true;
    loop {
        loop {
            match updates.try_recv() {
                Ok(update) => {
                    apply(model, update);
                    dirty = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    model.message = Some("the fetcher stopped".into());
                    break;
                }
            }
        }
        if let Some(watch) = model.watch_needed() {
            if ask(model, requests, Request::Watch(watch.0.clone())) {
                model.watched(watch);
            }
            dirty = true;
        }
        if dirty {
            terminal.draw(|frame| view::draw(frame, model))?;
            dirty = false;
        }
        if !event::poll(KEY_WAIT)? {
            continue;
        }
        match event::read()? {
            Event::Key(key) if key.kind == KeyEventKind::Press => {
                match model.key(key) {
                    Some(Command::Quit) => return Ok(()),
                    Some(Command::Act(action, spec)) => {
                        model.message = Some(format!("{} {spec}…", action.verb()));
                        ask(model, requests, Request::Act(action, spec));
                    }
                    None => {}
                }
                dirty = true;
            }
            Event::Resize(..) => dirty = true,
            _ => {}
        }
    }
}

/// Hands `request` to the fetcher, or says it is busy; whether it was taken.
fn ask(model: &mut Model, requests: &SyncSender<Request>, request: Request) -> bool {
    let taken = requests.try_send(request).is_ok();
    if !taken {
        model.message = Some("busy: too many requests waiting, try again".into());
    }
    taken
}

fn apply(model: &mut Model, update: Update) {
    match update {
        Update::Fleet { rows, stats } => model.set_rows(rows, stats),
        Update::Detail(detail) => model.detail = Some(detail),
        Update::Message(text) => model.message = Some(text),
    }
}
