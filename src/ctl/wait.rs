//! `vigilctl wait NAME… [--timeout S]` (vigil): blocks until every named process is
//! RUNNING — with `ready=`, ready — for scripts and container health checks. Exit 0 when
//! all are; 1 when one is FATAL, a name is unknown, or the time runs out (each not yet
//! RUNNING is named with its state).

use std::time::{Duration, Instant};

use super::client::ClientError;
use super::{exit, text, Ctl, FaultCode, Value};
use crate::namespec::{self, Namespec};

/// How often the processes are asked about.
const POLL: Duration = Duration::from_millis(100);

impl Ctl {
    pub(super) fn wait(&mut self, args: &[&str]) {
        let Some((names, timeout)) = wait_args(args) else {
            println!("Error: wait requires process names and takes --timeout SECONDS");
            self.exit = exit::INVALID_ARGS;
            return;
        };
        let deadline = timeout.map(|limit| Instant::now() + limit);
        // Plain process names are asked about one by one, not with the whole fleet (11 MB
        // of getAllProcessInfo at 10,000 programs, every poll).
        let plain = names.iter().all(|name| {
            *name != "all" && matches!(Namespec::parse(name), Namespec::Process { .. })
        });
        loop {
            let Some(found) = self.named_infos(&names, plain) else {
                return;
            };
            let mut waiting = Vec::new();
            for (name, found) in names.iter().zip(found) {
                if found.is_empty() {
                    println!("No such process {name}");
                    self.exit = exit::GENERIC;
                    return;
                }
                for info in found {
                    let state = text(info.member("statename"));
                    let shown =
                        namespec::of(&text(info.member("group")), &text(info.member("name")));
                    if state == "FATAL" {
                        println!("{shown}: FATAL ({})", text(info.member("description")));
                        self.exit = exit::GENERIC;
                        return;
                    }
                    if state != "RUNNING" {
                        waiting.push(format!("{shown} ({state})"));
                    }
                }
            }
            if waiting.is_empty() {
                return;
            }
            if deadline.is_some_and(|at| Instant::now() >= at) {
                let seconds = timeout.map_or(0.0, |limit| limit.as_secs_f64());
                println!("not RUNNING after {seconds}s: {}", waiting.join(", "));
                self.exit = exit::GENERIC;
                return;
            }
            std::thread::sleep(POLL);
        }
    }

    /// The infos each of `names` names (empty for an unknown name), or None after a
    /// failure already reported.
    fn named_infos(&mut self, names: &[&str], plain: bool) -> Option<Vec<Vec<Value>>> {
        if plain {
            let mut found = Vec::with_capacity(names.len());
            for name in names {
                match self
                    .client
                    .call("supervisor.getProcessInfo", &[Value::from(*name)])
                {
                    Ok(info) => found.push(vec![info]),
                    Err(ClientError::Fault(code, _)) if code == FaultCode::BadName.code() => {
                        found.push(Vec::new());
                    }
                    Err(err) => {
                        self.fail(&err);
                        return None;
                    }
                }
            }
            return Some(found);
        }
        let infos = self.process_infos()?;
        Some(
            names
                .iter()
                .map(|name| {
                    let spec = Namespec::parse(name);
                    infos
                        .iter()
                        .filter(|info| {
                            *name == "all"
                                || spec.matches(
                                    &text(info.member("group")),
                                    &text(info.member("name")),
                                )
                        })
                        .cloned()
                        .collect()
                })
                .collect(),
        )
    }
}

/// The names and the `--timeout` (seconds) of `wait`'s arguments; None when there are no
/// names or the timeout is not a number.
fn wait_args<'a>(args: &[&'a str]) -> Option<(Vec<&'a str>, Option<Duration>)> {
    let mut names = Vec::new();
    let mut timeout = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let value = match arg.strip_prefix("--timeout") {
            Some("") => *rest.next()?,
            Some(value) => value.strip_prefix('=')?,
            None => {
                names.push(*arg);
                continue;
            }
        };
        timeout = Some(Duration::try_from_secs_f64(value.parse().ok()?).ok()?);
    }
    (!names.is_empty()).then_some((names, timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_a_timeout_in_either_form() {
        assert_eq!(
            wait_args(&["web", "--timeout", "2.5", "db"]),
            Some((vec!["web", "db"], Some(Duration::from_millis(2500))))
        );
        assert_eq!(
            wait_args(&["--timeout=3", "g:*"]),
            Some((vec!["g:*"], Some(Duration::from_secs(3))))
        );
        assert_eq!(wait_args(&["web"]), Some((vec!["web"], None)));
        assert_eq!(wait_args(&["--timeout", "3"]), None, "no names");
        assert_eq!(wait_args(&["web", "--timeout", "soon"]), None);
        assert_eq!(wait_args(&["web", "--timeout"]), None);
        assert_eq!(wait_args(&["web", "--timeout", "-1"]), None);
        assert_eq!(wait_args(&["web", "--timeout", "1e30"]), None, "no panic");
        assert_eq!(wait_args(&["web", "--timeout", "NaN"]), None);
    }
}
