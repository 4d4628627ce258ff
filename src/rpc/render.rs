//! Wire rendering: the structs supervisord's methods return (`getProcessInfo`,
//! `getAllConfigInfo`, result lists) and vigil's (stats, crash records, crash-loop state),
//! with supervisord's keys in its order. It turns views into [`Value`]s only (the process
//! infos straight into one buffer, through [`Encoder`]): no lookups,
//! no requests, no faults decided here.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::codec::{Encoder, Value};
use super::faults::{Fault, FaultCode};
use crate::present;
use crate::process::state::Health;
use crate::supervisor::ProcessView;

/// One `getAllConfigInfo` entry, with supervisord's keys (`none`/`auto` for unset/AUTO).
pub fn config_info(info: &crate::supervisor::ConfigInfo) -> Value {
    use crate::config::{LogTarget, StreamLog};
    let process = &info.config;
    let optional = |text: Option<String>| Value::from(text.unwrap_or_else(|| "none".into()));
    let target = |log: &StreamLog| match &log.target {
        LogTarget::Auto => Value::from("auto"),
        LogTarget::None => Value::from("none"),
        LogTarget::Journald => Value::from("journald"),
        LogTarget::File(path) => Value::from(path.display().to_string()),
    };
    let bytes = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
    Value::record([
        ("autostart", Value::Bool(process.autostart)),
        (
            "directory",
            optional(process.directory.as_ref().map(|d| d.display().to_string())),
        ),
        (
            "uid",
            process
                .user
                .as_ref()
                .map_or(Value::from("none"), |u| Value::Int(i64::from(u.uid))),
        ),
        ("command", Value::from(process.command.clone())),
        (
            "exitcodes",
            Value::Array(
                process
                    .exitcodes
                    .iter()
                    .map(|c| Value::Int(i64::from(*c)))
                    .collect(),
            ),
        ),
        ("group", Value::from(process.group.clone())),
        ("group_prio", Value::Int(i64::from(info.group_priority))),
        ("inuse", Value::Bool(info.in_use)),
        ("killasgroup", Value::Bool(process.killasgroup)),
        ("name", Value::from(process.name.clone())),
        ("process_prio", Value::Int(i64::from(process.priority))),
        ("redirect_stderr", Value::Bool(process.redirect_stderr)),
        (
            "startretries",
            Value::Int(process.startretries.map_or(-1, i64::from)),
        ),
        ("startsecs", bytes(process.startsecs)),
        (
            "stdout_capture_maxbytes",
            bytes(process.stdout.capture_maxbytes),
        ),
        (
            "stdout_events_enabled",
            Value::Bool(process.stdout.events_enabled),
        ),
        ("stdout_logfile", target(&process.stdout)),
        (
            "stdout_logfile_backups",
            Value::Int(i64::from(process.stdout.backups)),
        ),
        ("stdout_logfile_maxbytes", bytes(process.stdout.maxbytes)),
        ("stdout_syslog", Value::Bool(process.stdout.syslog)),
        ("stopsignal", Value::Int(process.stopsignal as i64)),
        ("stopwaitsecs", bytes(process.stopwaitsecs)),
        (
            "stderr_capture_maxbytes",
            bytes(process.stderr.capture_maxbytes),
        ),
        (
            "stderr_events_enabled",
            Value::Bool(process.stderr.events_enabled),
        ),
        ("stderr_logfile", target(&process.stderr)),
        (
            "stderr_logfile_backups",
            Value::Int(i64::from(process.stderr.backups)),
        ),
        ("stderr_logfile_maxbytes", bytes(process.stderr.maxbytes)),
        ("stderr_syslog", Value::Bool(process.stderr.syslog)),
        ("serverurl", optional(process.serverurl.clone())),
    ])
}

/// getProcessInfo's struct, keys in supervisord's order.
pub fn process_info(process: &ProcessView) -> Value {
    let mut encoder = Encoder::with_capacity(1024);
    write_process_info(&mut encoder, process, SystemTime::now());
    encoder.finish()
}

/// `getAllProcessInfo()`'s array, every process written straight into one buffer.
pub fn all_process_info<'a>(
    processes: impl Iterator<Item = &'a ProcessView>,
    count: usize,
) -> Value {
    let now = SystemTime::now();
    // About 1.1 KB a process (10.9 MB for 10,000): room at once, no doubling.
    let mut encoder = Encoder::with_capacity(count * 1280 + 64);
    encoder.begin_array();
    for process in processes {
        write_process_info(&mut encoder, process, now);
    }
    encoder.end_array();
    encoder.finish()
}

/// One process's info struct, in supervisord's member order.
fn write_process_info(encoder: &mut Encoder, process: &ProcessView, now: SystemTime) {
    let epoch = |time: Option<SystemTime>| -> i64 {
        time.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| {
                i64::try_from(d.as_secs())
                    .unwrap_or(i64::MAX)
                    .min(i64::from(i32::MAX))
            })
    };
    encoder.begin_struct();
    encoder.string("name", &process.name);
    encoder.string("group", &process.group);
    encoder.int("start", epoch(process.start));
    encoder.int("stop", epoch(process.stop));
    encoder.int("now", epoch(Some(now)));
    encoder.int("state", i64::from(process.state.code()));
    encoder.string("statename", process.state.name());
    encoder.string("spawnerr", &process.spawnerr);
    encoder.int("exitstatus", i64::from(process.exitstatus));
    process.stdout.with_path(|stdout| {
        let stdout = stdout.map(Path::to_string_lossy).unwrap_or_default();
        encoder.string("logfile", &stdout);
        encoder.string("stdout_logfile", &stdout);
    });
    process.stderr.with_path(|stderr| {
        encoder.string(
            "stderr_logfile",
            &stderr.map(Path::to_string_lossy).unwrap_or_default(),
        );
    });
    encoder.int("pid", i64::from(process.state.pid().unwrap_or(0)));
    encoder.string("description", &present::description(process, now));
    encoder.end_struct();
}

/// `vigil.getProcessStats`'s struct: the sampler's figures for the current child (zeros and
/// `sampled: false` before the first sample or without a child), plus the counts.
pub fn process_stats(process: &ProcessView, samples: &crate::sampler::Samples) -> Value {
    let sample = samples.of(process);
    let int = |value: u64| Value::Int(i64::try_from(value).unwrap_or(i64::MAX));
    let (own, tree) = sample.map_or_else(Default::default, |s| (s.own, s.tree));
    Value::record([
        ("name", Value::from(process.name.clone())),
        ("group", Value::from(process.group.clone())),
        ("statename", Value::from(process.state.name())),
        (
            "pid",
            Value::Int(i64::from(process.state.pid().unwrap_or(0))),
        ),
        ("sampled", Value::Bool(sample.is_some())),
        (
            "uptime",
            Value::Double(sample.map_or(0.0, |s| s.uptime(SystemTime::now()))),
        ),
        (
            "cpu_percent",
            Value::Double(sample.map_or(0.0, |s| s.cpu_percent)),
        ),
        (
            "tree_cpu_percent",
            Value::Double(sample.map_or(0.0, |s| s.tree_cpu_percent)),
        ),
        ("cpu_seconds", Value::Double(own.cpu_seconds)),
        ("tree_cpu_seconds", Value::Double(tree.cpu_seconds)),
        ("rss", int(own.resident_bytes)),
        ("tree_rss", int(tree.resident_bytes)),
        ("vms", int(own.virtual_bytes)),
        ("tree_vms", int(tree.virtual_bytes)),
        ("threads", int(own.threads)),
        ("tree_threads", int(tree.threads)),
        ("fds", int(own.open_fds)),
        ("tree_fds", int(tree.open_fds)),
        (
            "tree_processes",
            int(sample.map_or(0, |s| s.tree_size as u64)),
        ),
        ("restarts", int(process.tally.restarts())),
        ("crashes", int(process.tally.crashes)),
        (
            "memory_limit",
            int(process.config.memory_limit.unwrap_or(0)),
        ),
        ("crash_loop", Value::Bool(process.crash_loop.is_some())),
        (
            "health",
            Value::from(process.state.health().map_or("", Health::name)),
        ),
        (
            "restart_delay",
            Value::Double(process.restart_delay().as_secs_f64()),
        ),
        (
            "limits",
            Value::from(
                process
                    .config
                    .controls
                    .options()
                    .iter()
                    .map(|(option, value)| format!("{option}={value}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ),
        (
            "cgroup",
            Value::from(
                process
                    .cgroup
                    .as_ref()
                    .map(|dir| dir.display().to_string())
                    .unwrap_or_default(),
            ),
        ),
    ])
}

/// One record of `vigil.getCrashes`; a missing exit code is -1 and a missing signal empty,
/// as XML-RPC has no null that every client accepts.
pub fn crash_record(record: &crate::logs::crashes::CrashRecord) -> Value {
    let int = |value: u64| Value::Int(i64::try_from(value).unwrap_or(i64::MAX));
    Value::record([
        ("time", Value::from(record.time.clone())),
        ("unix_time", Value::Double(record.unix_time)),
        ("name", Value::from(record.name.clone())),
        ("group", Value::from(record.group.clone())),
        ("pid", Value::Int(i64::from(record.pid))),
        (
            "exit_code",
            Value::Int(i64::from(record.exit_code.unwrap_or(-1))),
        ),
        (
            "signal",
            Value::from(record.signal.clone().unwrap_or_default()),
        ),
        ("core_dumped", Value::Bool(record.core_dumped)),
        ("description", Value::from(record.description.clone())),
        ("ran_seconds", Value::Double(record.ran_seconds)),
        ("restarts", int(record.restarts)),
        ("recent_crashes", int(record.recent_crashes as u64)),
        ("crash_loop", Value::Bool(record.crash_loop)),
        (
            "next_start_seconds",
            Value::Double(record.next_start_seconds.unwrap_or(0.0)),
        ),
        ("stream", Value::from(record.stream.clone())),
        ("tail", Value::from(record.tail.clone())),
    ])
}

/// `vigil.getSchedules`' entries for `process`: one struct per schedule it has, with the
/// next time (Unix seconds, 0 when none) and the runs skipped.
pub fn schedules(process: &ProcessView) -> impl Iterator<Item = Value> + '_ {
    crate::present::schedules(process).into_iter().map(|row| {
        let next = row
            .next
            .and_then(crate::timefmt::epoch_seconds)
            .unwrap_or(0.0);
        Value::record([
            ("name", Value::from(process.name.clone())),
            ("group", Value::from(process.group.clone())),
            ("option", Value::from(row.option)),
            ("expression", Value::from(row.expression)),
            ("timezone", Value::from(row.zone)),
            ("next", Value::Double(next)),
            (
                "skipped",
                Value::Int(i64::try_from(process.plan.skipped).unwrap_or(i64::MAX)),
            ),
            ("statename", Value::from(process.state.name())),
        ])
    })
}

/// `vigil.getCrashLoopState`'s struct: the detector's view and its settings.
pub fn crash_loop_state(process: &ProcessView) -> Value {
    let int = |value: u64| Value::Int(i64::try_from(value).unwrap_or(i64::MAX));
    let policy = &process.config.crash_loop;
    let looping = process.crash_loop;
    let next_start_in = process.state.retry().map_or(0.0, |retry| {
        retry
            .at
            .saturating_duration_since(std::time::Instant::now())
            .as_secs_f64()
    });
    let unix = |at: SystemTime| crate::timefmt::epoch_seconds(at).unwrap_or(0.0);
    Value::record([
        ("name", Value::from(process.name.clone())),
        ("group", Value::from(process.group.clone())),
        ("statename", Value::from(process.state.name())),
        ("crash_loop", Value::Bool(looping.is_some())),
        (
            "since",
            Value::Double(looping.map_or(0.0, |l| unix(l.since))),
        ),
        ("recent_crashes", int(process.recent_crashes as u64)),
        (
            "restarts_in_loop",
            int(u64::from(looping.map_or(0, |l| l.restarts))),
        ),
        (
            "restart_delay",
            Value::Double(process.restart_delay().as_secs_f64()),
        ),
        ("next_start_in", Value::Double(next_start_in)),
        ("threshold", int(u64::from(policy.threshold))),
        ("window", Value::Double(policy.window.as_secs_f64())),
        ("reset", Value::Double(policy.reset.as_secs_f64())),
        ("giveup", int(u64::from(policy.giveup.unwrap_or(0)))),
        ("crashes", int(process.tally.crashes)),
    ])
}

/// One entry of a result list: `{name, group, status, description}`.
pub fn result_entry(process: &ProcessView, outcome: &Result<(), Fault>) -> Value {
    let (status, description) = match outcome {
        Ok(()) => (FaultCode::Success.code(), "OK".to_string()),
        Err(fault) => (fault.code.code(), fault.to_string()),
    };
    Value::record([
        ("name", Value::from(process.name.clone())),
        ("group", Value::from(process.group.clone())),
        ("status", Value::Int(status)),
        ("description", Value::from(description)),
    ])
}

/// A result list (`startProcessGroup`, `stopAllProcesses`, …).
pub fn results(results: &crate::rpc::wait::Results) -> Value {
    Value::Array(
        results
            .iter()
            .map(|(process, outcome)| result_entry(process, outcome))
            .collect(),
    )
}

/// A `tailProcess*Log` answer: `[data, offset, overflow]`.
pub fn tail(tail: &crate::logs::stream::Tail) -> Value {
    Value::Array(vec![
        Value::from(String::from_utf8_lossy(&tail.data).into_owned()),
        Value::Int(i64::try_from(tail.offset).unwrap_or(i64::MAX)),
        Value::Bool(tail.overflow),
    ])
}

/// `reloadConfig`'s answer: `[[added, changed, removed]]`.
pub fn group_diff(diff: crate::supervisor::GroupDiff) -> Value {
    let names = |list: Vec<String>| Value::Array(list.into_iter().map(Value::from).collect());
    Value::Array(vec![Value::Array(vec![
        names(diff.added),
        names(diff.changed),
        names(diff.removed),
    ])])
}
