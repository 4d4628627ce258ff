//! `/metrics`: the Prometheus text format, rendered at scrape time from the supervisor's
//! snapshot and the sampler's latest samples. Nothing is registered ahead of time, so a
//! removed program's series disappear with it and no series is ever stale.

use std::sync::Arc;

use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::TextEncoder;

use crate::process::state::{ExitReason, Health, State};
use crate::sampler::{Samples, Usage};
use crate::supervisor::Snapshot;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The API version vigil serves (`getSupervisorVersion`), for `vigil_build_info`.
const SUPERVISOR_API: &str = "4.3.0";

/// Every state a process can be in, for `vigil_process_state`.
const STATES: [State; 8] = [
    State::Stopped,
    State::Starting { pid: 0 },
    State::Running { pid: 0 },
    State::Backoff,
    State::Stopping { pid: 0 },
    State::Exited,
    State::Fatal,
    State::Unknown { pid: 0 },
];

/// The whole exposition for one scrape. A family with no series yet (no health checks, no
/// listener pools) still gets its HELP and TYPE lines, so dashboards and alerts can tell a
/// metric vigil has from one it lacks.
pub fn render(snapshot: &Snapshot, samples: &Samples, pool_queues: &[(String, usize)]) -> String {
    let mut families = Families::default();
    process_families(&mut families, snapshot, samples);
    daemon_families(&mut families, snapshot, samples, pool_queues);
    let (present, empty): (Vec<MetricFamily>, Vec<MetricFamily>) = families
        .0
        .into_iter()
        .partition(|family| !family.get_metric().is_empty());
    let mut text = String::new();
    if let Err(err) = TextEncoder::new().encode_utf8(&present, &mut text) {
        tracing::error!("could not render /metrics: {err}");
    }
    for family in empty {
        let kind = match family.get_field_type() {
            MetricType::COUNTER => "counter",
            _ => "gauge",
        };
        let name = family.name();
        text.push_str(&format!(
            "# HELP {name} {}\n# TYPE {name} {kind}\n",
            family.help()
        ));
    }
    text
}

fn process_families(families: &mut Families, snapshot: &Snapshot, samples: &Samples) {
    let state = families.add(
        "vigil_process_state",
        "The process's state: 1 for the current one, 0 for the others.",
        MetricType::GAUGE,
    );
    let up = families.add(
        "vigil_process_up",
        "1 when the process is RUNNING, else 0.",
        MetricType::GAUGE,
    );
    let start_time = families.add(
        "vigil_process_start_time_seconds",
        "When the process was last started, in seconds since the epoch.",
        MetricType::GAUGE,
    );
    let cpu = families.add(
        "vigil_process_cpu_seconds_total",
        "User and system CPU time of the process (scope=process) or of its whole process tree (scope=tree).",
        MetricType::COUNTER,
    );
    let resident = families.add(
        "vigil_process_resident_memory_bytes",
        "Resident memory of the process or of its process tree.",
        MetricType::GAUGE,
    );
    let virtual_memory = families.add(
        "vigil_process_virtual_memory_bytes",
        "Virtual memory of the process or of its process tree.",
        MetricType::GAUGE,
    );
    let threads = families.add(
        "vigil_process_threads",
        "Threads of the process or of its process tree.",
        MetricType::GAUGE,
    );
    let fds = families.add(
        "vigil_process_open_fds",
        "Open file descriptors of the process or of its process tree.",
        MetricType::GAUGE,
    );
    let restarts = families.add(
        "vigil_process_restarts_total",
        "Times the process was started again after its first start.",
        MetricType::COUNTER,
    );
    let exits = families.add(
        "vigil_process_exits_total",
        "Exits of the process by reason: expected, unexpected, signal, stopped, memory_limit, unhealthy.",
        MetricType::COUNTER,
    );
    let last_exit = families.add(
        "vigil_process_last_exit_code",
        "Exit status of the last exit (supervisord's exitstatus).",
        MetricType::GAUGE,
    );
    let crashes = families.add(
        "vigil_process_crashes_total",
        "Exits vigil did not ask for, with a status not in exitcodes or by a signal.",
        MetricType::COUNTER,
    );
    let healthy = families.add(
        "vigil_process_healthy",
        "1 while the process passes its health check, else 0 (programs with a health check).",
        MetricType::GAUGE,
    );
    let crashloop = families.add(
        "vigil_process_crashloop",
        "1 while the process is in a crash loop, else 0.",
        MetricType::GAUGE,
    );
    let delay = families.add(
        "vigil_process_restart_delay_seconds",
        "Seconds the next start waits: the pending one in BACKOFF, else during a crash loop the last wait chosen (the next crash doubles it), else 0.",
        MetricType::GAUGE,
    );
    let memory_limit = families.add(
        "vigil_process_memory_limit_bytes",
        "The process tree's memory_limit (programs with one).",
        MetricType::GAUGE,
    );
    let log_bytes = families.add(
        "vigil_log_bytes_total",
        "Bytes of output the process wrote to each of its log streams.",
        MetricType::COUNTER,
    );
    for process in &snapshot.processes {
        let labels = [
            ("group", process.group.as_str()),
            ("name", process.name.as_str()),
        ];
        for candidate in STATES {
            let current = candidate.code() == process.state.code();
            let with_state = [labels[0], labels[1], ("state", candidate.name())];
            families.gauge(state, &with_state, f64::from(u8::from(current)));
        }
        let running = matches!(process.state, State::Running { .. });
        families.gauge(up, &labels, f64::from(u8::from(running)));
        if let Some(started) = process.start.and_then(crate::timefmt::epoch_seconds) {
            families.gauge(start_time, &labels, started);
        }
        if let Some(sample) = samples.of(process) {
            for (scope, usage) in [("process", &sample.own), ("tree", &sample.tree)] {
                let scoped = [labels[0], labels[1], ("scope", scope)];
                families.counter(cpu, &scoped, usage.cpu_seconds);
                usage_gauges(
                    families,
                    [resident, virtual_memory, threads, fds],
                    &scoped,
                    usage,
                );
            }
        }
        families.counter(restarts, &labels, process.tally.restarts() as f64);
        for reason in ExitReason::ALL {
            let with_reason = [labels[0], labels[1], ("reason", reason.label())];
            families.counter(exits, &with_reason, process.tally.exits(reason) as f64);
        }
        families.gauge(last_exit, &labels, f64::from(process.exitstatus));
        families.counter(crashes, &labels, process.tally.crashes as f64);
        families.gauge(
            crashloop,
            &labels,
            if process.crash_loop.is_some() {
                1.0
            } else {
                0.0
            },
        );
        families.gauge(delay, &labels, process.restart_delay().as_secs_f64());
        if let Some(limit) = process.config.memory_limit {
            families.gauge(memory_limit, &labels, limit as f64);
        }
        if let Some(health) = process.health {
            let value = if health == Health::Healthy { 1.0 } else { 0.0 };
            families.gauge(healthy, &labels, value);
        }
        let mut streams = vec![("stdout", &process.stdout)];
        if !Arc::ptr_eq(&process.stdout, &process.stderr) {
            streams.push(("stderr", &process.stderr));
        }
        for (stream, log) in streams {
            let with_stream = [labels[0], labels[1], ("stream", stream)];
            families.counter(log_bytes, &with_stream, log.total() as f64);
        }
    }
}

fn daemon_families(
    families: &mut Families,
    snapshot: &Snapshot,
    samples: &Samples,
    pool_queues: &[(String, usize)],
) {
    let build = families.add(
        "vigil_build_info",
        "vigil's version and the supervisord API version it serves.",
        MetricType::GAUGE,
    );
    families.gauge(
        build,
        &[
            ("version", env!("CARGO_PKG_VERSION")),
            ("supervisor_api", SUPERVISOR_API),
        ],
        1.0,
    );
    let count = families.add(
        "vigil_supervisor_processes",
        "Processes vigild manages.",
        MetricType::GAUGE,
    );
    families.gauge(count, &[], snapshot.processes.len() as f64);
    let reloads = families.add(
        "vigil_config_reloads_total",
        "Config reloads (reloadConfig, SIGHUP) since vigild started.",
        MetricType::COUNTER,
    );
    families.counter(reloads, &[], snapshot.config_reloads as f64);
    let queue = families.add(
        "vigil_event_listener_queue_depth",
        "Events waiting in each event listener pool's queue.",
        MetricType::GAUGE,
    );
    for (pool, depth) in pool_queues {
        families.gauge(queue, &[("pool", pool.as_str())], *depth as f64);
    }
    let pass = families.add(
        "vigil_sampler_pass_cpu_seconds",
        "CPU time the sampler's last pass over every process took.",
        MetricType::GAUGE,
    );
    let interval = families.add(
        "vigil_sampler_interval_seconds",
        "Seconds between sampler passes (0: the sampler is off).",
        MetricType::GAUGE,
    );
    families.gauge(interval, &[], samples.interval.as_secs_f64());
    let Some(daemon) = &samples.daemon else {
        return;
    };
    families.gauge(pass, &[], samples.pass_cpu_seconds);
    let cpu = families.add(
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
        MetricType::COUNTER,
    );
    families.counter(cpu, &[], daemon.own.cpu_seconds);
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
    .map(|(name, help)| families.add(name, help, MetricType::GAUGE));
    usage_gauges(families, gauges, &[], &daemon.own);
    if let Some(limit) = max_fds() {
        let max = families.add(
            "process_max_fds",
            "Maximum number of open file descriptors.",
            MetricType::GAUGE,
        );
        families.gauge(max, &[], limit);
    }
    if let Some(started) = crate::timefmt::epoch_seconds(daemon.started) {
        let start = families.add(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            MetricType::GAUGE,
        );
        families.gauge(start, &[], started);
    }
}

/// Resident memory, virtual memory, threads and fds, into these four families.
fn usage_gauges(
    families: &mut Families,
    [resident, virtual_memory, threads, fds]: [usize; 4],
    labels: &[(&str, &str)],
    usage: &Usage,
) {
    families.gauge(resident, labels, usage.resident_bytes as f64);
    families.gauge(virtual_memory, labels, usage.virtual_bytes as f64);
    families.gauge(threads, labels, usage.threads as f64);
    families.gauge(fds, labels, usage.open_fds as f64);
}

fn max_fds() -> Option<f64> {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .ok()
        .map(|(soft, _)| soft as f64)
}

/// The families of one exposition, addressed by index while they fill.
#[derive(Default)]
struct Families(Vec<MetricFamily>);

impl Families {
    fn add(&mut self, name: &str, help: &str, kind: MetricType) -> usize {
        let mut family = MetricFamily::default();
        family.set_name(name.to_string());
        family.set_help(help.to_string());
        family.set_field_type(kind);
        self.0.push(family);
        self.0.len() - 1
    }

    fn gauge(&mut self, family: usize, labels: &[(&str, &str)], value: f64) {
        let mut gauge = Gauge::default();
        gauge.set_value(value);
        let mut metric = Metric::from_gauge(gauge);
        metric.set_label(label_pairs(labels));
        self.push(family, metric);
    }

    fn counter(&mut self, family: usize, labels: &[(&str, &str)], value: f64) {
        let mut counter = Counter::default();
        counter.set_value(value);
        let mut metric = Metric::default();
        metric.set_counter(counter);
        metric.set_label(label_pairs(labels));
        self.push(family, metric);
    }

    fn push(&mut self, family: usize, metric: Metric) {
        if let Some(family) = self.0.get_mut(family) {
            family.mut_metric().push(metric);
        }
    }
}

fn label_pairs(labels: &[(&str, &str)]) -> Vec<LabelPair> {
    labels
        .iter()
        .map(|(name, value)| {
            let mut pair = LabelPair::default();
            pair.set_name((*name).to_string());
            pair.set_value((*value).to_string());
            pair
        })
        .collect()
}
