//! `vigilctl schedules [--json]`: every schedule of the fleet from `vigil.getSchedules`, one
//! line each: the process, the option (`schedule` starts it, `restart_schedule` restarts
//! it), the cron expression and its time zone, the next time (local), the runs skipped and
//! the process's state now.

use std::time::{Duration, UNIX_EPOCH};

use super::{double, exit, int, text, to_json, Ctl, Value};
use crate::namespec;

impl Ctl {
    pub(super) fn schedules(&mut self, args: &[&str]) {
        let json = match args {
            [] => false,
            ["--json"] => true,
            _ => {
                println!("Error: schedules takes no names (schedules [--json])");
                self.exit = exit::INVALID_ARGS;
                return;
            }
        };
        let rows = match self.client.call("vigil.getSchedules", &[]) {
            Ok(Value::Array(rows)) => rows,
            Ok(_) => Vec::new(),
            Err(err) => {
                self.fail(&err);
                return;
            }
        };
        if json {
            println!("{}", to_json(&Value::Array(rows)));
            return;
        }
        print!("{}", render(&rows));
    }
}

/// The table, or a line saying there is nothing scheduled.
fn render(rows: &[Value]) -> String {
    if rows.is_empty() {
        return "no process has a schedule\n".to_string();
    }
    let lines: Vec<[String; 7]> = rows
        .iter()
        .map(|row| {
            let next = Duration::try_from_secs_f64(double(row.member("next")))
                .ok()
                .filter(|next| !next.is_zero())
                .and_then(|next| UNIX_EPOCH.checked_add(next))
                .map_or_else(|| "-".to_string(), crate::timefmt::clock_seconds);
            [
                namespec::of(&text(row.member("group")), &text(row.member("name"))),
                text(row.member("option")),
                text(row.member("expression")),
                text(row.member("timezone")),
                next,
                int(row.member("skipped")).to_string(),
                text(row.member("statename")),
            ]
        })
        .collect();
    let header = [
        "NAME",
        "OPTION",
        "EXPRESSION",
        "TIME ZONE",
        "NEXT",
        "SKIPPED",
        "STATE",
    ];
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut push = |cells: &[&str]| {
        let last = cells.len() - 1;
        for (at, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if at == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  "));
            }
        }
        out.push('\n');
    };
    push(&header);
    for line in &lines {
        let cells: Vec<&str> = line.iter().map(String::as_str).collect();
        push(&cells);
    }
    out
}
