//! The HTML of vigil's pages, rendered on the server from the snapshot and the samples, so
//! they work without JavaScript; every text from a process or a config goes through
//! [`escape`].

use std::fmt::Write as _;
use std::time::SystemTime;

use crate::logs::crashes::CrashRecord;
use crate::process::state::{Health, State};
use crate::sampler::Samples;
use crate::supervisor::{ProcessView, Snapshot};

/// Text made safe for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A namespec in a URL path segment.
pub fn url_segment(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            other => {
                let _ = write!(out, "%{other:02X}");
            }
        }
    }
    out
}

/// The figures a row shows, as the page and `/api/status` give them.
pub struct Row {
    /// `group:name`.
    pub namespec: String,
    /// State name.
    pub state: &'static str,
    /// supervisord's description (with vigil's additions).
    pub description: String,
    /// Pid, 0 when none.
    pub pid: i32,
    /// `0:01:02`, or empty.
    pub uptime: String,
    /// CPU % of the process tree, or empty.
    pub cpu: String,
    /// Resident memory of the tree, or empty.
    pub rss: String,
    /// Restarts so far.
    pub restarts: u64,
    /// In a crash loop.
    pub crashloop: bool,
    /// The health check's verdict (`healthy`, `unhealthy`, `unknown`), or empty.
    pub health: &'static str,
    /// The buttons that apply in this state.
    pub actions: &'static [&'static str],
}

/// The buttons that apply to a process in `state`, by the supervisor's own rules: start
/// where a start by hand is taken, stop where a stop is, restart (a stop, then a start)
/// where either is, and a log clear at any time.
pub fn actions_for(state: State) -> &'static [&'static str] {
    match (state.takes_start_by_hand(), state.takes_stop()) {
        (true, true) => &["start", "stop", "restart", "clear"],
        (true, false) => &["start", "restart", "clear"],
        (false, true) => &["stop", "restart", "clear"],
        (false, false) => &["clear"],
    }
}

impl Row {
    /// The row of `process` now.
    pub fn of(process: &ProcessView, samples: &Samples, now: SystemTime) -> Row {
        let sample = samples.of(process);
        Row {
            namespec: process.namespec(),
            state: process.state.name(),
            description: crate::present::description(process, now),
            pid: process.state.pid().unwrap_or(0),
            uptime: sample
                .map(|s| crate::timefmt::uptime(s.uptime(now).max(0.0) as u64))
                .unwrap_or_default(),
            cpu: sample
                .map(|s| format!("{:.1}", s.tree_cpu_percent))
                .unwrap_or_default(),
            rss: sample
                .map(|s| {
                    crate::timefmt::bytes(i64::try_from(s.tree.resident_bytes).unwrap_or(i64::MAX))
                })
                .unwrap_or_default(),
            restarts: process.tally.restarts(),
            crashloop: process.crash_loop.is_some(),
            health: process.state.health().map_or("", Health::name),
            actions: actions_for(process.state),
        }
    }
}

fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><link rel=\"stylesheet\" href=\"/static/vigil.css\"></head><body>",
        escape(title)
    );
}

/// A process's action buttons (only with a `token`: the read-only account gets none; those
/// that do not apply in its state disabled) and its log links.
fn actions_form(out: &mut String, token: Option<&str>, row: &Row) {
    if let Some(token) = token {
        let _ = write!(
            out,
            "<form class=\"inline\" method=\"post\" action=\"/action\">\
             <input type=\"hidden\" name=\"token\" value=\"{token}\">\
             <input type=\"hidden\" name=\"name\" value=\"{name}\">",
            token = escape(token),
            name = escape(&row.namespec),
        );
        for (action, label) in [
            ("start", "Start"),
            ("stop", "Stop"),
            ("restart", "Restart"),
            ("clear", "Clear log"),
        ] {
            let disabled = if row.actions.contains(&action) {
                ""
            } else {
                " disabled"
            };
            let _ = write!(
                out,
                "<button name=\"action\" value=\"{action}\"{disabled}>{label}</button>"
            );
        }
        out.push_str("</form>");
    }
    let _ = write!(
        out,
        "<a href=\"/logtail/{url}\">stdout</a> <a href=\"/logtail/{url}/stderr\">stderr</a>",
        url = url_segment(&row.namespec),
    );
}

/// The status page: every group (collapsible), every process with its figures and, given the
/// action `token`, its actions.
pub fn status(
    snapshot: &Snapshot,
    samples: &Samples,
    identifier: &str,
    token: Option<&str>,
) -> String {
    let now = SystemTime::now();
    let mut out = String::with_capacity(4096 + snapshot.processes.len() * 900);
    head(&mut out, &format!("vigil: {identifier}"));
    let _ = write!(
        out,
        "<header><h1>vigil</h1><span class=\"meta\">{} · {} processes · {}</span>",
        escape(identifier),
        snapshot.processes.len(),
        snapshot.state.name(),
    );
    match token {
        Some(token) => {
            let _ = write!(
                out,
                "<form class=\"inline\" method=\"post\" action=\"/action\">\
                 <input type=\"hidden\" name=\"token\" value=\"{}\">\
                 <button name=\"action\" value=\"startall\">Start all</button>\
                 <button name=\"action\" value=\"stopall\">Stop all</button>\
                 <button name=\"action\" value=\"restartall\">Restart all</button></form>",
                escape(token)
            );
        }
        None => out.push_str("<span class=\"meta\">read-only</span>"),
    }
    out.push_str("</header><main id=\"fleet\">");
    for (group, names) in snapshot.groups.iter() {
        let _ = write!(
            out,
            "<details class=\"group\" open><summary>{} <span class=\"meta\">({})</span></summary>\
             <table class=\"fleet\"><thead><tr><th class=\"c-name\">Name</th>\
             <th class=\"c-state\">State</th><th class=\"c-health\">Health</th>\
             <th class=\"c-desc\">Description</th><th class=\"c-pid\">PID</th>\
             <th class=\"c-uptime\">Uptime</th><th class=\"c-cpu\">CPU %</th>\
             <th class=\"c-rss\">RSS</th><th class=\"c-restarts\">Restarts</th>\
             <th class=\"c-actions\">Actions</th></tr></thead><tbody>",
            escape(group),
            names.len()
        );
        for name in names {
            let Some(process) = snapshot.process(group, name) else {
                continue;
            };
            let row = Row::of(process, samples, now);
            let _ = write!(
                out,
                "<tr data-namespec=\"{ns}\"><td class=\"name\"><a href=\"/process/{url}\">{name}</a>\
                 <span class=\"badge crashloop\"{hidden}>crash loop</span></td>\
                 <td data-label=\"state\"><span class=\"state s-{state}\">{state}</span></td>\
                 <td class=\"health h-{health}\" data-label=\"health\">{health}</td>\
                 <td class=\"desc\">{desc}</td><td class=\"pid num\" data-label=\"pid\">{pid}</td>\
                 <td class=\"uptime num\" data-label=\"up\">{uptime}</td>\
                 <td class=\"cpu num\" data-label=\"cpu\">{cpu}</td>\
                 <td class=\"rss num\" data-label=\"rss\">{rss}</td>\
                 <td class=\"restarts num\" data-label=\"restarts\">{restarts}</td><td class=\"actions\">",
                ns = escape(&row.namespec),
                url = url_segment(&row.namespec),
                name = escape(name),
                hidden = if row.crashloop { "" } else { " hidden" },
                state = row.state,
                health = row.health,
                desc = escape(&row.description),
                pid = if row.pid > 0 { row.pid.to_string() } else { String::new() },
                uptime = row.uptime,
                cpu = row.cpu,
                rss = row.rss,
                restarts = row.restarts,
            );
            actions_form(&mut out, token, &row);
            out.push_str("</td></tr>");
        }
        out.push_str("</tbody></table></details>");
    }
    schedules_table(&mut out, snapshot);
    out.push_str("</main><script src=\"/static/vigil.js\"></script></body></html>");
    out
}

/// The Schedules table: every schedule of every process that has one, with its next time
/// and the runs it skipped; nothing when no process has a schedule.
fn schedules_table(out: &mut String, snapshot: &Snapshot) {
    let mut rows = snapshot
        .processes
        .iter()
        .flat_map(|process| {
            crate::present::schedules(process)
                .into_iter()
                .map(move |row| (process, row))
        })
        .peekable();
    if rows.peek().is_none() {
        return;
    }
    out.push_str(
        "<section id=\"schedules\"><h2>Schedules</h2><table><thead><tr><th>Name</th>\
         <th>Option</th><th>Expression</th><th>Time zone</th><th>Next</th><th>Skipped</th>\
         <th>State</th></tr></thead><tbody>",
    );
    for (process, row) in rows {
        let namespec = process.namespec();
        let _ = write!(
            out,
            "<tr><td class=\"name\"><a href=\"/process/{url}\">{name}</a></td><td>{option}</td>\
             <td><code>{expression}</code></td><td>{zone}</td><td class=\"num\">{next}</td>\
             <td class=\"num\">{skipped}</td><td><span class=\"state s-{state}\">{state}</span></td></tr>",
            url = url_segment(&namespec),
            name = escape(&namespec),
            option = row.option,
            expression = escape(&row.expression),
            zone = escape(&row.zone),
            next = row.next.map(crate::timefmt::clock_seconds).unwrap_or_default(),
            skipped = process.plan.skipped,
            state = process.state.name(),
        );
    }
    out.push_str("</tbody></table></section>");
}

/// A process page: its figures and (given the action `token`) actions, its crash records
/// (newest first) with their output, the last output of its previous run, its effective
/// config, and its log followed live.
pub fn process(
    process: &ProcessView,
    samples: &Samples,
    crashes: &[CrashRecord],
    token: Option<&str>,
) -> String {
    let row = Row::of(process, samples, SystemTime::now());
    let mut out = String::new();
    head(&mut out, &format!("vigil: {}", row.namespec));
    let _ = write!(
        out,
        "<header><h1><a href=\"/\">vigil</a> / {ns}</h1>\
         <span class=\"meta\"><span class=\"state s-{state}\">{state}</span> {desc}</span></header><main>\
         <section><h2>Now</h2><p>pid {pid} · uptime {uptime} · CPU {cpu} % · RSS {rss} · \
         restarts {restarts}{health}{looping}</p>",
        ns = escape(&row.namespec),
        state = row.state,
        desc = escape(&row.description),
        pid = row.pid,
        uptime = row.uptime,
        cpu = row.cpu,
        rss = row.rss,
        restarts = row.restarts,
        health = if row.health.is_empty() {
            String::new()
        } else {
            format!(" · <span class=\"health h-{0}\">{0}</span>", row.health)
        },
        looping = if row.crashloop {
            " <span class=\"badge\">crash loop</span>"
        } else {
            ""
        },
    );
    actions_form(&mut out, token, &row);
    out.push_str("</section><section id=\"charts\"><h2>Last hour</h2>");
    let history = samples.history_of(process);
    let cpu: Vec<(u64, f64)> = history
        .iter()
        .map(|p| (p.at, f64::from(p.cpu_percent)))
        .collect();
    let rss: Vec<(u64, f64)> = history
        .iter()
        .map(|p| (p.at, p.resident_bytes as f64))
        .collect();
    chart(&mut out, "CPU %", &cpu, |v| format!("{v:.1} %"));
    chart(&mut out, "Memory (RSS)", &rss, |v| {
        crate::timefmt::bytes(v as i64)
    });
    out.push_str("</section><section id=\"crashes\"><h2>Crashes</h2>");
    if crashes.is_empty() {
        out.push_str("<p>No crash recorded.</p>");
    }
    for record in crashes {
        let _ = write!(
            out,
            "<details class=\"crash\"><summary>{time} · pid {pid} · {desc} after {ran:.1}s \
             · {restarts} restarts before{looping}</summary><pre>{tail}</pre></details>",
            time = escape(&record.time),
            pid = record.pid,
            desc = escape(&record.description),
            ran = record.ran_seconds,
            restarts = record.restarts,
            looping = if record.crash_loop {
                " · in crash loop"
            } else {
                ""
            },
            tail = escape(if record.tail.is_empty() {
                "(no output)"
            } else {
                &record.tail
            }),
        );
    }
    out.push_str("</section><section id=\"previous\"><h2>Previous run</h2>");
    match process.previous.get() {
        None => out.push_str("<p>No run has ended yet.</p>"),
        Some(run) => {
            let _ = write!(
                out,
                "<p>pid {pid}, ended {ended}</p>",
                pid = run.pid,
                ended = escape(&crate::timefmt::log_timestamp(run.ended)),
            );
            for (stream, bytes) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
                if !bytes.is_empty() {
                    let _ = write!(
                        out,
                        "<h3>{stream}</h3><pre class=\"previous\">{}</pre>",
                        escape(&String::from_utf8_lossy(bytes))
                    );
                }
            }
        }
    }
    let url = url_segment(&row.namespec);
    out.push_str("</section><section><h2>Log</h2>");
    let streams: &[&str] = if process.config.redirect_stderr {
        &["stdout"]
    } else {
        &["stdout", "stderr"]
    };
    for stream in streams {
        let _ = write!(
            out,
            "<h3>{stream}</h3><pre class=\"follow\" data-namespec=\"{ns}\" data-stream=\"{stream}\"></pre>",
            ns = escape(&row.namespec),
        );
    }
    let _ = write!(
        out,
        "<p>Plain streams: <a href=\"/logtail/{url}\">stdout</a> · \
         <a href=\"/logtail/{url}/stderr\">stderr</a></p></section>\
         <section><h2>Config</h2><table class=\"config\">"
    );
    for (key, value) in crate::present::config_rows(&process.config) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(key),
            escape(&value)
        );
    }
    out.push_str(
        "</table></section></main><script src=\"/static/vigil.js\"></script></body></html>",
    );
    out
}

/// A small line chart of `points` (seconds since the epoch, value) over the last hour, as
/// inline SVG (no script needed), with its scale beside it and the hour under it; before
/// two points exist, the empty frame says it is collecting data.
fn chart(out: &mut String, title: &str, points: &[(u64, f64)], label: impl Fn(f64) -> String) {
    const WIDTH: f64 = 600.0;
    const HEIGHT: f64 = 80.0;
    let max = points.iter().map(|p| p.1).fold(0.0, f64::max);
    // The plot's top, with room above the highest point; the scale names it.
    let top = if max > 0.0 { max * 1.1 } else { 1.0 };
    let _ = write!(
        out,
        "<figure class=\"chart\"><figcaption>{title}</figcaption><div class=\"plot\">\
         <div class=\"y-axis\"><span>{top}</span><span>{zero}</span></div>",
        top = if points.len() < 2 {
            String::new()
        } else {
            escape(&label(top))
        },
        zero = escape(&label(0.0)),
    );
    if points.len() < 2 {
        out.push_str(
            "<div class=\"frame empty\">collecting data: the first points come with the \
             sampler's next passes</div>",
        );
    } else {
        let now = points.last().map_or(0, |p| p.0);
        let span = crate::sampler::history::SPAN as f64;
        let coordinates: Vec<String> = points
            .iter()
            .map(|(at, value)| {
                let age = now.saturating_sub(*at) as f64;
                let x = (WIDTH * (1.0 - age / span)).clamp(0.0, WIDTH);
                let y = HEIGHT - 2.0 - value / top * (HEIGHT - 4.0);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = write!(
            out,
            "<svg class=\"frame\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" preserveAspectRatio=\"none\" \
             role=\"img\" aria-label=\"{title}\"><polyline points=\"{}\"/></svg>",
            coordinates.join(" ")
        );
    }
    out.push_str(
        "</div><div class=\"x-axis\"><span>60 min ago</span><span>30 min ago</span>\
         <span>now</span></div></figure>",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(url_segment("web:web_0"), "web%3Aweb_0");
    }
}
