//! vigilctl's commands on several processes at once against vigild: `start`/`stop`/`restart`
//! with several names act on them together (`vigil.startProcesses`/`stopProcesses`), and
//! `restart --rolling group:*` restarts a pool batch by batch (`vigil.rollingRestart`).
//! Against a server without these methods (supervisord) the plain commands fall back to
//! one name at a time.

use super::client::ClientError;
use super::processes::{signal_result, start_result};
use super::{exit, Ctl, FaultCode, Value};
use crate::namespec::{self, Namespec};

/// How to call `restart --rolling`.
const ROLLING_USAGE: &str =
    "Error: restart --rolling requires one group (restart --rolling [-b N] [--no-wait-healthy] group:*)";

impl Ctl {
    /// Starts or stops all of `names` in one call; false when the server cannot (then the
    /// caller goes name by name).
    pub(super) fn together(&mut self, names: &[&str], start: bool) -> bool {
        let method = if start {
            "vigil.startProcesses"
        } else {
            "vigil.stopProcesses"
        };
        let list = Value::Array(names.iter().map(|name| Value::from(*name)).collect());
        let Ok(Value::Array(mut results)) = self.client.call(method, &[list, Value::Bool(true)])
        else {
            return false;
        };
        // They finish in any order; show them in the order they were named.
        let rank = |result: &Value| {
            let group = super::text(result.member("group"));
            let name = super::text(result.member("name"));
            names
                .iter()
                .position(|spec| Namespec::parse(spec).matches(&group, &name))
                .unwrap_or(usize::MAX)
        };
        results.sort_by_key(rank);
        if start {
            self.results(results, start_result, FaultCode::AlreadyStarted);
        } else {
            let render = |spec: &str, code: i64, description: &str| {
                signal_result(spec, code, description, "stopped")
            };
            self.results(results, render, FaultCode::NotRunning);
        }
        true
    }

    /// `restart --rolling [-b N] [--no-wait-healthy] group[:*]`.
    pub(super) fn rolling_restart(&mut self, args: &[&str]) {
        let Some((group, batch, wait_healthy)) = parse_rolling(args) else {
            println!("{ROLLING_USAGE}");
            self.exit = exit::INVALID_ARGS;
            return;
        };
        let call = [
            Value::from(group),
            Value::Int(batch),
            Value::Bool(wait_healthy),
        ];
        match self.client.call("vigil.rollingRestart", &call) {
            Ok(Value::Array(results)) => {
                for result in results {
                    let spec = namespec::of(
                        &super::text(result.member("group")),
                        &super::text(result.member("name")),
                    );
                    println!("{spec}: restarted");
                }
            }
            Ok(_) => {}
            Err(ClientError::Fault(_, why)) => {
                println!("ERROR ({why})");
                self.exit = exit::GENERIC;
            }
            Err(err) => self.fail(&err),
        }
    }
}

/// `(group, batch, wait_healthy)` from the arguments after `--rolling`.
fn parse_rolling<'a>(args: &[&'a str]) -> Option<(&'a str, i64, bool)> {
    let mut group = None;
    let mut batch = 1;
    let mut wait_healthy = true;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match *arg {
            "--rolling" => {}
            "--no-wait-healthy" => wait_healthy = false,
            "-b" | "--batch" => batch = rest.next()?.parse().ok().filter(|n| *n > 0)?,
            other if group.is_none() && !other.starts_with('-') => group = Some(other),
            _ => return None,
        }
    }
    Some((group?, batch, wait_healthy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolling_arguments() {
        assert_eq!(
            parse_rolling(&["--rolling", "pool:*"]),
            Some(("pool:*", 1, true))
        );
        assert_eq!(
            parse_rolling(&["--rolling", "-b", "2", "--no-wait-healthy", "pool"]),
            Some(("pool", 2, false))
        );
        assert_eq!(parse_rolling(&["--rolling"]), None);
        assert_eq!(parse_rolling(&["--rolling", "-b", "0", "pool"]), None);
    }
}
