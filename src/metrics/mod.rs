//! `/metrics`: the Prometheus text format, rendered at scrape time from the supervisor's
//! snapshot and the sampler's latest samples. Nothing is registered ahead of time, so a
//! removed program's series disappear with it and no series is ever stale.

use std::sync::Arc;

mod text;

use crate::process::state::{Health, StateKind};
use crate::process::tally::ExitReason;
use crate::sampler::{Samples, Usage};
use crate::supervisor::Snapshot;
use text::{Exposition, Family, Kind};

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The API version vigil serves (`getSupervisorVersion`), for `vigil_build_info`.
const SUPERVISOR_API: &str = "4.3.0";

/// The whole exposition for one scrape. A family with no series yet (no health checks, no
/// listener pools) still gets its HELP and TYPE lines, so dashboards and alerts can tell a
/// metric vigil has from one it lacks.
pub fn render(snapshot: &Snapshot, samples: &Samples, pool_queues: &[(String, usize)]) -> String {
    let mut families = Exposition::default();
    process_families(&mut families, snapshot, samples);
    daemon_families(&mut families, snapshot, samples, pool_queues);
    families.finish()
}

fn process_families(families: &mut Exposition, snapshot: &Snapshot, samples: &Samples) {
    let state = families.family(
        "vigil_process_state",
        "The process's state: 1 for the current one, 0 for the others.",
        Kind::Gauge,
    );
    let up = families.family(
        "vigil_process_up",
        "1 when the process is RUNNING, else 0.",
        Kind::Gauge,
    );
    let start_time = families.family(
        "vigil_process_start_time_seconds",
        "When the process was last started, in seconds since the epoch.",
        Kind::Gauge,
    );
    let cpu = families.family(
        "vigil_process_cpu_seconds_total",
        "User and system CPU time of the process (scope=process) or of its whole process tree (scope=tree).",
        Kind::Counter,
    );
    let resident = families.family(
        "vigil_process_resident_memory_bytes",
        "Resident memory of the process or of its process tree.",
        Kind::Gauge,
    );
    let virtual_memory = families.family(
        "vigil_process_virtual_memory_bytes",
        "Virtual memory of the process or of its process tree.",
        Kind::Gauge,
    );
    let threads = families.family(
        "vigil_process_threads",
        "Threads of the process or of its process tree.",
        Kind::Gauge,
    );
    let fds = families.family(
        "vigil_process_open_fds",
        "Open file descriptors of the process or of its process tree.",
        Kind::Gauge,
    );
    let restarts = families.family(
        "vigil_process_restarts_total",
        "Times the process was started again after its first start.",
        Kind::Counter,
    );
    let exits = families.family(
        "vigil_process_exits_total",
        "Exits of the process by reason: expected, unexpected, signal, stopped, memory_limit, unhealthy, not_ready, watchdog, scheduled, oom.",
        Kind::Counter,
    );
    let last_exit = families.family(
        "vigil_process_last_exit_code",
        "Exit status of the last exit (supervisord's exitstatus).",
        Kind::Gauge,
    );
    let crashes = families.family(
        "vigil_process_crashes_total",
        "Exits vigil did not ask for, with a status not in exitcodes or by a signal.",
        Kind::Counter,
    );
    let healthy = families.family(
        "vigil_process_healthy",
        "1 while the process passes its health check, else 0 (programs with a health check).",
        Kind::Gauge,
    );
    let crashloop = families.family(
        "vigil_process_crashloop",
        "1 while the process is in a crash loop, else 0.",
        Kind::Gauge,
    );
    let delay = families.family(
        "vigil_process_restart_delay_seconds",
        "Seconds the next start waits: the pending one in BACKOFF, else during a crash loop the last wait chosen (the next crash doubles it), else 0.",
        Kind::Gauge,
    );
    let memory_limit = families.family(
        "vigil_process_memory_limit_bytes",
        "The process tree's memory_limit (programs with one).",
        Kind::Gauge,
    );
    let reloads = families.family(
        "vigil_process_reloads_total",
        "Graceful reloads sent to the process (its reloadsignal, by vigil.reloadProcess; programs with a reloadsignal).",
        Kind::Counter,
    );
    let next_start = families.family(
        "vigil_process_next_scheduled_start_timestamp_seconds",
        "When schedule= next starts the process, as a Unix time (programs with a schedule).",
        Kind::Gauge,
    );
    let next_restart = families.family(
        "vigil_process_next_scheduled_restart_timestamp_seconds",
        "When restart_schedule= next restarts the process, as a Unix time (programs with one).",
        Kind::Gauge,
    );
    let skipped = families.family(
        "vigil_process_scheduled_runs_skipped_total",
        "Scheduled starts or restarts skipped because the last run was still going (programs with a schedule).",
        Kind::Counter,
    );
    let log_bytes = families.family(
        "vigil_log_bytes_total",
        "Bytes of output the process wrote to each of its log streams.",
        Kind::Counter,
    );
    for process in &snapshot.processes {
        let labels = [
            ("group", process.group.as_str()),
            ("name", process.name.as_str()),
        ];
        for candidate in StateKind::ALL {
            let current = candidate == process.state.kind();
            let with_state = [labels[0], labels[1], ("state", candidate.name())];
            families.sample(state, &with_state, f64::from(u8::from(current)));
        }
        let running = process.state.kind() == StateKind::Running;
        families.sample(up, &labels, f64::from(u8::from(running)));
        if let Some(started) = process.start.and_then(crate::timefmt::epoch_seconds) {
            families.sample(start_time, &labels, started);
        }
        if let Some(sample) = samples.of(process) {
            for (scope, usage) in [("process", &sample.own), ("tree", &sample.tree)] {
                let scoped = [labels[0], labels[1], ("scope", scope)];
                families.sample(cpu, &scoped, usage.cpu_seconds);
                usage_gauges(
                    families,
                    [resident, virtual_memory, threads, fds],
                    &scoped,
                    usage,
                );
            }
        }
        families.sample(restarts, &labels, process.tally.restarts() as f64);
        for reason in ExitReason::ALL {
            let with_reason = [labels[0], labels[1], ("reason", reason.label())];
            families.sample(exits, &with_reason, process.tally.exits(reason) as f64);
        }
        families.sample(last_exit, &labels, f64::from(process.exitstatus));
        families.sample(crashes, &labels, process.tally.crashes as f64);
        families.sample(
            crashloop,
            &labels,
            if process.crash_loop.is_some() {
                1.0
            } else {
                0.0
            },
        );
        families.sample(delay, &labels, process.restart_delay().as_secs_f64());
        if let Some(limit) = process.config.memory_limit {
            families.sample(memory_limit, &labels, limit as f64);
        }
        if process.config.reload_signal.is_some() {
            families.sample(reloads, &labels, process.tally.reloads as f64);
        }
        if process.config.schedules.any() {
            let plan = &process.plan;
            for (family, at) in [
                (next_start, plan.next_start),
                (next_restart, plan.next_restart),
            ] {
                if let Some(at) = at.and_then(crate::timefmt::epoch_seconds) {
                    families.sample(family, &labels, at);
                }
            }
            families.sample(skipped, &labels, plan.skipped as f64);
        }
        if let Some(health) = process.state.health() {
            let value = if health == Health::Healthy { 1.0 } else { 0.0 };
            families.sample(healthy, &labels, value);
        }
        let mut streams = vec![("stdout", &process.stdout)];
        if !Arc::ptr_eq(&process.stdout, &process.stderr) {
            streams.push(("stderr", &process.stderr));
        }
        for (stream, log) in streams {
            let with_stream = [labels[0], labels[1], ("stream", stream)];
            families.sample(log_bytes, &with_stream, log.total() as f64);
        }
    }
}

fn daemon_families(
    families: &mut Exposition,
    snapshot: &Snapshot,
    samples: &Samples,
    pool_queues: &[(String, usize)],
) {
    let build = families.family(
        "vigil_build_info",
        "vigil's version and the supervisord API version it serves.",
        Kind::Gauge,
    );
    families.sample(
        build,
        &[
            ("version", env!("CARGO_PKG_VERSION")),
            ("supervisor_api", SUPERVISOR_API),
        ],
        1.0,
    );
    let count = families.family(
        "vigil_supervisor_processes",
        "Processes vigild manages.",
        Kind::Gauge,
    );
    families.sample(count, &[], snapshot.processes.len() as f64);
    let reloads = families.family(
        "vigil_config_reloads_total",
        "Config reloads (reloadConfig, SIGHUP) since vigild started.",
        Kind::Counter,
    );
    families.sample(reloads, &[], snapshot.config_reloads as f64);
    let reexecs = families.family(
        "vigil_reexecs_total",
        "Handovers of the fleet to a new vigild image (vigilctl reexec) since it started.",
        Kind::Counter,
    );
    families.sample(reexecs, &[], snapshot.reexecs as f64);
    let queue = families.family(
        "vigil_event_listener_queue_depth",
        "Events waiting in each event listener pool's queue.",
        Kind::Gauge,
    );
    for (pool, depth) in pool_queues {
        families.sample(queue, &[("pool", pool.as_str())], *depth as f64);
    }
    let refused = families.family(
        "vigil_offload_refused_total",
        "Calls refused because as many of their kind (log calls, renders, command checks) ran on blocking threads already.",
        Kind::Counter,
    );
    for kind in crate::offload::KINDS {
        families.sample(refused, &[("kind", kind.kind)], kind.refused() as f64);
    }
    let pass = families.family(
        "vigil_sampler_pass_cpu_seconds",
        "CPU time the sampler's last pass over every process took.",
        Kind::Gauge,
    );
    let interval = families.family(
        "vigil_sampler_interval_seconds",
        "Seconds between sampler passes (0: the sampler is off).",
        Kind::Gauge,
    );
    families.sample(interval, &[], samples.interval.as_secs_f64());
    let Some(daemon) = &samples.daemon else {
        return;
    };
    families.sample(pass, &[], samples.pass_cpu_seconds);
    let cpu = families.family(
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
        Kind::Counter,
    );
    families.sample(cpu, &[], daemon.own.cpu_seconds);
    let gauges = [
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
        ),
        (
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
        ),
        ("process_threads", "Number of OS threads in the process."),
        ("process_open_fds", "Number of open file descriptors."),
    ]
    .map(|(name, help)| families.family(name, help, Kind::Gauge));
    usage_gauges(families, gauges, &[], &daemon.own);
    if let Some(limit) = max_fds() {
        let max = families.family(
            "process_max_fds",
            "Maximum number of open file descriptors.",
            Kind::Gauge,
        );
        families.sample(max, &[], limit);
    }
    if let Some(started) = crate::timefmt::epoch_seconds(daemon.started) {
        let start = families.family(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            Kind::Gauge,
        );
        families.sample(start, &[], started);
    }
}

/// Resident memory, virtual memory, threads and fds, into these four families.
fn usage_gauges(
    families: &mut Exposition,
    [resident, virtual_memory, threads, fds]: [Family; 4],
    labels: &[(&str, &str)],
    usage: &Usage,
) {
    families.sample(resident, labels, usage.resident_bytes as f64);
    families.sample(virtual_memory, labels, usage.virtual_bytes as f64);
    families.sample(threads, labels, usage.threads as f64);
    families.sample(fds, labels, usage.open_fds as f64);
}

fn max_fds() -> Option<f64> {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .ok()
        .map(|(soft, _)| soft as f64)
}
