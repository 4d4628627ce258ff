//! One integration-test binary: every test runs the real `vigild` with real children in a
//! temp dir (see `support`).

// The fixture: a real vigild in its own session, wait helpers, log parsing.
mod support;

// Loading configs: errors naming file/section/option/value, warnings, --check-config.
mod config_errors;
// Options that shape a child: environment, directory, umask, user, numprocs, includes.
mod program_environment;
// The state machine against real children: startsecs, backoff, FATAL, autorestart.
mod program_lifecycle;
// Priority order, stop signals, SIGKILL escalation, process groups, clean shutdown.
mod stopping;
// Daemon behaviour: daemonizing, pidfile, signals (HUP reload, USR2 reopen), flags.
mod daemon;
// Child output reaching its log files; fcgi sockets.
mod child_io;
// Child log files: rotation, AUTO names and cleanup, filters, markers, slow disks.
mod child_logs;
// The log pipeline: syslog copies, side by side with supervisord.
mod log_pipeline;
// The real Python supervisorctl and xmlrpc.client against vigild.
mod supervisorctl;
// The read-only account: reads allowed, changes refused (XML-RPC, supervisorctl, the page).
mod readonly;
// vigilctl: the same output and exit codes as supervisorctl, against vigild and supervisord.
mod vigilctl;
// vigilctl top in a real terminal (tmux).
mod top;
// vigilctl against several vigilds at once.
mod hosts;
// TLS on the TCP servers: vigilctl, Python clients, mutual TLS, reloads, bad files.
mod tls;
// The sampler, /metrics (promtool, a real Prometheus), memory_limit, stats.
mod metrics;
// Crash loops (delays that double, reset, give-up) and crash records with their output.
mod crashloop;
// Event listeners: supervisord's protocol and payloads, side by side with supervisord.
mod events;
// Health checks: HTTP, TCP and command probes; unhealthy restarts.
mod health;
// depends_on: start order, health gates, starts and stops by hand.
mod dependencies;
// Several processes at once: starts and stops together, rolling restarts.
mod rolling;
// The web page: escaping, guarded actions, /api/events, and a real headless Chromium.
mod web;
// Grafana dashboards, alert rules, the demo fleet and a fleet of three hosts, against a real Prometheus.
mod dashboards;
// Sinks outside vigild that stop reading: an unread stderr.
mod stalled_sinks;
// Chaos: random kills, pauses, forks, closed outputs and floods against 50 programs.
mod chaos;
// vigild as a container's entrypoint: essential programs, PID 1, orphans adopted.
mod containers;
// Readiness: ready=notify (sd_notify), ready=log, ready=healthcheck, ready_timeout.
mod readiness;
// Operations: graceful reloads, scaling at runtime, schedules, one-shot tasks.
mod operations;
// Resource controls: rlimits, priorities, CPU affinity, no_new_privs.
mod resources;
// vigilctl reexec: a live vigild hands its fleet to a new image without touching it.
mod reexec;
