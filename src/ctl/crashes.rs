//! `vigilctl crashes <name>`: why a program keeps crashing, from `vigil.getCrashes` and
//! `vigil.getCrashLoopState`: each crash (newest first) with how it ended, how long it ran
//! and the last lines of its output, and whether the program is in a crash loop now.

use super::{double, exit, int, text, to_json, Ctl, Value};

/// How to call it.
pub(super) const USAGE: &str =
    "Error: crashes requires one process name (crashes <name> [-n N] [--json])";

impl Ctl {
    pub(super) fn crashes(&mut self, args: &[&str]) {
        let Some((name, limit, json)) = parse(args) else {
            println!("{USAGE}");
            self.exit = exit::INVALID_ARGS;
            return;
        };
        let call = [Value::from(name), Value::Int(limit)];
        let records = match self.client.call("vigil.getCrashes", &call) {
            Ok(Value::Array(records)) => records,
            Ok(_) => Vec::new(),
            Err(err) => {
                println!("{name}: ERROR ({err})");
                self.exit = exit::GENERIC;
                return;
            }
        };
        let state = self
            .client
            .call("vigil.getCrashLoopState", &[Value::from(name)])
            .ok();
        if json {
            let records = Value::Array(records);
            println!("{}", to_json(&records));
            return;
        }
        print!("{}", render(name, &records, state.as_ref()));
    }
}

/// `(name, limit, --json)`, or None when the arguments do not fit.
pub(super) fn parse<'a>(args: &[&'a str]) -> Option<(&'a str, i64, bool)> {
    let mut name = None;
    let mut limit = 0;
    let mut json = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match *arg {
            "--json" => json = true,
            "-n" | "--limit" => limit = rest.next()?.parse().ok()?,
            other if name.is_none() && !other.starts_with('-') => name = Some(other),
            _ => return None,
        }
    }
    Some((name?, limit, json))
}

/// The readable report: a headline about the loop, then each crash with its output.
fn render(name: &str, records: &[Value], state: Option<&Value>) -> String {
    let mut out = headline(name, state);
    if records.is_empty() {
        out.push_str("no crash records\n");
    }
    for record in records {
        out.push_str(&render_record(record, ""));
    }
    out
}

/// Whether `name` is in a crash loop now, from `vigil.getCrashLoopState`, as a line.
pub(super) fn headline(name: &str, state: Option<&Value>) -> String {
    let Some(state) = state else {
        return format!("{name}: crash-loop state unknown (vigil.getCrashLoopState failed)\n");
    };
    let member = |key: &str| state.member(key);
    let looping = matches!(member("crash_loop"), Some(Value::Bool(true)));
    if looping {
        let wait = double(member("next_start_in"));
        let next = if wait > 0.0 {
            format!(", next start in {}s", wait.ceil())
        } else {
            String::new()
        };
        format!(
            "{name}: CRASH LOOP ({} crashes in {}s, restart delay {}s{next})\n",
            int(member("recent_crashes")),
            double(member("window")),
            double(member("restart_delay")),
        )
    } else {
        format!("{name}: not in a crash loop\n")
    }
}

/// One crash record with its output; `host` (with a trailing space), when several servers
/// are shown, after the time.
pub(super) fn render_record(record: &Value, host: &str) -> String {
    let field = |key: &str| record.member(key);
    let looped = if matches!(field("crash_loop"), Some(Value::Bool(true))) {
        ", in crash loop"
    } else {
        ""
    };
    let mut out = format!(
        "\n{}  {host}pid {}  {}  after {:.1}s  ({} restarts before{looped})\n",
        text(field("time")),
        int(field("pid")),
        text(field("description")),
        double(field("ran_seconds")),
        int(field("restarts")),
    );
    let tail = text(field("tail"));
    if tail.is_empty() {
        out.push_str("    (no output)\n");
    } else {
        out.push_str(&format!("    last {} lines:\n", text(field("stream"))));
        for line in tail.lines() {
            out.push_str(&format!("    | {line}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        assert_eq!(parse(&["app"]), Some(("app", 0, false)));
        assert_eq!(parse(&["-n", "3", "app", "--json"]), Some(("app", 3, true)));
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&["a", "b"]), None);
        assert_eq!(parse(&["app", "-n", "x"]), None);
    }
}
