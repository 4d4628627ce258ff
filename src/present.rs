//! Presentation shared by the XML-RPC answers and the web page: how a process is described
//! to a person (supervisord's `description` with vigil's additions). It reads a snapshot's
//! view only; it owns no wire format and no HTML.

use std::time::SystemTime;

use crate::config::schedule::Kind;
use crate::config::ProcessConfig;
use crate::process::announced::Phase;
use crate::process::state::{Health, State};
use crate::supervisor::ProcessView;

/// supervisord's `description`: uptime when RUNNING, the spawn error when FATAL/BACKOFF, the
/// stop time when STOPPED/EXITED, else empty. vigil adds the crash loop: `, crash loop` after
/// the uptime, `crash loop` while STARTING, and in its BACKOFF `crash loop: 7 crashes in 60s,
/// next start in 16s`; health: `, unhealthy` after the uptime, `unhealthy` while the failed
/// process is being stopped; and `waiting for db` while `depends_on` holds a start back.
/// vigil `ready=notify`: what the program announced follows, `, reloading` or `, stopping`
/// and `, status: Listening on :8080` (alone while STARTING). vigil schedules: `next run at
/// 2026-12-03 17:00:00` and `next restart at …` (local time) close it.
pub fn description(process: &ProcessView, now: SystemTime) -> String {
    let mut text = supervisord_description(process, now);
    let planned = [
        ("next run at", process.plan.next(Kind::Start)),
        ("next restart at", process.plan.next(Kind::Restart)),
    ];
    for (what, at) in planned {
        if let Some(at) = at {
            if !text.is_empty() {
                text.push_str(", ");
            }
            text.push_str(what);
            text.push(' ');
            text.push_str(&crate::timefmt::clock_seconds(at));
        }
    }
    let announced = &process.announced;
    if matches!(
        process.state,
        State::Starting { .. } | State::Running { .. }
    ) {
        let parts = [
            announced.phase.map(|phase| match phase {
                Phase::Reloading => "reloading".to_string(),
                Phase::Stopping => "stopping".to_string(),
            }),
            announced
                .status
                .as_ref()
                .map(|status| format!("status: {status}")),
        ];
        for part in parts.into_iter().flatten() {
            if !text.is_empty() {
                text.push_str(", ");
            }
            text.push_str(&part);
        }
    }
    text
}

fn supervisord_description(process: &ProcessView, now: SystemTime) -> String {
    match process.state {
        State::Running { pid, health } => {
            let up = process
                .start
                .and_then(|start| now.duration_since(start).ok())
                .map_or(0, |d| d.as_secs());
            let looping = if process.crash_loop.is_some() {
                ", crash loop"
            } else {
                ""
            };
            let health = if health == Some(Health::Unhealthy) {
                ", unhealthy"
            } else {
                ""
            };
            format!(
                "pid {pid}, uptime {}{health}{looping}",
                crate::timefmt::uptime(up)
            )
        }
        State::Starting { .. } if process.crash_loop.is_some() => "crash loop".to_string(),
        // vigil: a stop because the health check failed says so while it lasts.
        State::Stopping {
            health: Some(Health::Unhealthy),
            ..
        } => "unhealthy".to_string(),
        State::Backoff { retry } if retry.crash_loop => {
            let left = retry
                .at
                .saturating_duration_since(std::time::Instant::now());
            let wait = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            format!(
                "crash loop: {} crashes in {}s, next start in {wait}s",
                process.recent_crashes,
                process.config.crash_loop.window.as_secs_f64()
            )
        }
        State::Fatal | State::Backoff { .. } => {
            if process.spawnerr.is_empty() {
                format!("unknown error (try \"tail {}\")", process.name)
            } else {
                process.spawnerr.clone()
            }
        }
        State::Stopped if !process.waiting_for.is_empty() => {
            format!("waiting for {}", process.waiting_for.join(", "))
        }
        State::Stopped | State::Exited => match (process.start, process.stop) {
            (Some(_), Some(stop)) => crate::timefmt::month_day_clock(stop),
            (Some(_), None) => crate::timefmt::month_day_clock(now),
            _ => "Not started".to_string(),
        },
        _ => String::new(),
    }
}

/// One schedule of a process as the overviews show it (`vigilctl schedules`, the page's
/// Schedules table, `vigil.getSchedules`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRow {
    /// `schedule` (a start) or `restart_schedule`.
    pub option: &'static str,
    /// The cron expression as written.
    pub expression: String,
    /// The zone it is read in (`local`, `UTC`, `Europe/Paris`).
    pub zone: String,
    /// Its next time.
    pub next: Option<SystemTime>,
}

/// The schedules of `process`, start first; none for a process without any.
pub fn schedules(process: &ProcessView) -> Vec<ScheduleRow> {
    let schedules = &process.config.schedules;
    Kind::ALL
        .into_iter()
        .filter_map(|kind| {
            Some(ScheduleRow {
                option: kind.option(),
                expression: schedules.get(kind)?.to_string(),
                zone: schedules.zone.to_string(),
                next: process.plan.next(kind),
            })
        })
        .collect()
}

/// The stream options [`config_rows`] shows, in the order of its values.
const STDOUT_OPTIONS: [&str; 8] = [
    "stdout_logfile_maxbytes",
    "stdout_logfile_backups",
    "stdout_capture_maxbytes",
    "stdout_events_enabled",
    "stdout_syslog",
    "stdout_logfile_timestamps",
    "stdout_tail_bytes",
    "stdout_logfile_format",
];

/// [`STDOUT_OPTIONS`] for stderr.
const STDERR_OPTIONS: [&str; 8] = [
    "stderr_logfile_maxbytes",
    "stderr_logfile_backups",
    "stderr_capture_maxbytes",
    "stderr_events_enabled",
    "stderr_syslog",
    "stderr_logfile_timestamps",
    "stderr_tail_bytes",
    "stderr_logfile_format",
];

/// The effective options of a process, in the config's own spelling: the page's Config
/// table, `vigil.getProcessConfig` and `vigilctl config NAME`.
pub fn config_rows(config: &ProcessConfig) -> Vec<(&'static str, String)> {
    let seconds = |d: std::time::Duration| format!("{}s", d.as_secs_f64());
    let mut rows = vec![
        ("command", config.command.clone()),
        ("group", config.group.clone()),
        ("priority", config.priority.to_string()),
        ("autostart", config.autostart.to_string()),
        (
            "autorestart",
            match config.autorestart {
                crate::config::AutoRestart::Always => "true",
                crate::config::AutoRestart::Never => "false",
                crate::config::AutoRestart::Unexpected => "unexpected",
            }
            .to_string(),
        ),
        ("startsecs", config.startsecs.to_string()),
        (
            "startretries",
            config
                .startretries
                .map_or("-1 (forever)".to_string(), |n| n.to_string()),
        ),
        (
            "exitcodes",
            config
                .exitcodes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ),
        ("stopsignal", config.stopsignal.as_str().to_string()),
        ("stopwaitsecs", config.stopwaitsecs.to_string()),
        (
            "directory",
            config
                .directory
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
        ),
        (
            "user",
            config
                .user
                .as_ref()
                .map(|u| format!("{} (uid {}, gid {})", u.name, u.uid, u.gid))
                .unwrap_or_default(),
        ),
        ("redirect_stderr", config.redirect_stderr.to_string()),
        ("stdout_logfile", config.stdout.target.to_string()),
        ("stderr_logfile", config.stderr.target.to_string()),
        (
            "crashloop",
            format!(
                "threshold {} in {}, delay {}..{}, reset {}",
                config.crash_loop.threshold,
                seconds(config.crash_loop.window),
                seconds(config.crash_loop.delay),
                seconds(config.crash_loop.delay_max),
                seconds(config.crash_loop.reset)
            ),
        ),
    ];
    rows.extend([
        ("process_name", config.name.clone()),
        ("stopasgroup", config.stopasgroup.to_string()),
        ("killasgroup", config.killasgroup.to_string()),
        (
            "umask",
            config.umask.map(|m| format!("{m:03o}")).unwrap_or_default(),
        ),
        ("serverurl", config.serverurl.clone().unwrap_or_default()),
        (
            "backoff_max",
            config
                .backoff_max
                .map(|s| s.to_string())
                .unwrap_or_default(),
        ),
        ("essential", config.essential.to_string()),
        ("ready", config.ready.to_string()),
        ("ready_timeout", seconds(config.ready_timeout)),
        ("log_markers", config.log_markers.to_string()),
        (
            "crash_tail_lines",
            config.crash_records.tail_lines.to_string(),
        ),
        ("crash_history", config.crash_records.history.to_string()),
        (
            "previous_tail_bytes",
            config.previous_tail_bytes.to_string(),
        ),
    ]);
    for (names, log) in [
        (&STDOUT_OPTIONS, &config.stdout),
        (&STDERR_OPTIONS, &config.stderr),
    ] {
        let values = [
            log.maxbytes.to_string(),
            log.backups.to_string(),
            log.capture_maxbytes.to_string(),
            log.events_enabled.to_string(),
            log.syslog.to_string(),
            log.timestamps.to_string(),
            log.tail_bytes.to_string(),
            if log.json { "json" } else { "plain" }.to_string(),
        ];
        rows.extend(names.iter().copied().zip(values));
    }
    if let Some(watchdog) = config.watchdog {
        rows.push(("watchdog_sec", seconds(watchdog)));
    }
    if let Some(listener) = &config.listener {
        rows.push(("events", listener.events.join(",")));
        rows.push(("buffer_size", listener.buffer_size.to_string()));
    }
    if let Some(limit) = config.memory_limit {
        rows.push((
            "memory_limit",
            crate::timefmt::bytes(i64::try_from(limit).unwrap_or(i64::MAX)),
        ));
    }
    if !config.depends_on.is_empty() {
        let entries: Vec<String> = config.depends_on.iter().map(ToString::to_string).collect();
        rows.push(("depends_on", entries.join(", ")));
    }
    rows.extend(config.controls.options());
    if let Some(signal) = config.reload_signal {
        rows.push(("reloadsignal", signal.as_str().to_string()));
    }
    for kind in Kind::ALL {
        if let Some(expression) = config.schedules.get(kind) {
            let zone = config.schedules.zone;
            rows.push((kind.option(), format!("{expression} ({zone} time)")));
        }
    }
    if let Some(check) = &config.health_check {
        rows.push(("healthcheck", check.probe.to_string()));
    }
    // Values may be secrets: only the names are shown.
    for (key, _) in &config.environment {
        rows.push(("environment", format!("{key}=…")));
    }
    rows
}
