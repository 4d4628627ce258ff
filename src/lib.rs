//! vigil: a process supervisor that runs an unchanged `supervisord.conf`, with monitoring built in.
//!
//! The crate is cut by responsibility (see `../shared/DESIGN.md`); the two binaries are thin
//! wrappers around [`daemon::run`] and the control client.

/// The HTTP servers' accounts, the access a request has, constant-time secret checks.
pub mod auth;
/// Parsing, expanding and validating `supervisord.conf` into a typed `Config`.
pub mod config;
/// The vigilctl client: supervisorctl's commands over the XML-RPC API.
pub mod ctl;
/// vigild's life cycle: config, pidfile, daemonizing, signals, and running the supervisor.
pub mod daemon;
/// supervisord's events and event-listener pools (READY/RESULT protocol), and TICKs.
pub mod events;
/// The latch that freezes every child pipe while vigild hands its fleet to a new image.
pub mod freeze;
/// Entry points for the fuzz targets (`fuzz/`) and their corpus replay in the tests.
pub mod fuzzing;
/// `vigilctl reexec`: the record a vigild hands its fleet to a new image with, and the exec.
pub mod handover;
/// Health checks: probe loops per live child, verdicts to the supervisor.
pub mod health;
/// The HTTP servers: /RPC2 with basic auth on the unix socket and the inet port.
pub mod http;
/// Log files: child output capture, rotation, and the daemon's own log.
pub mod logs;
/// Memory handed back to the system after big answers.
pub mod memory;
/// Prometheus text for `/metrics`, rendered from the snapshot and the latest samples.
pub mod metrics;
/// supervisord's namespecs (`group:name`, `group:*`, `name`): parsing and display.
pub mod namespec;
/// sd_notify for `ready=notify` programs: the socket, its thread, the messages.
pub mod notify;
/// Blocking work from callers outside run on tokio's blocking threads, bounded per kind.
pub mod offload;
/// How a process is described to a person, for the XML-RPC answers and the web page alike.
pub mod present;
/// One program instance: state machine, spawning, signalling, reaping.
pub mod process;
/// supervisord's XML-RPC API: codec, faults, method table and the methods.
pub mod rpc;
/// Per-process and process-tree CPU, memory, threads and fds, read from /proc.
pub mod sampler;
/// The single owner of fleet state: process table, timers, ordered stop and restart.
pub mod supervisor;
/// Local-time formatting shared by the logs and status output.
pub mod timefmt;

/// TLS for the TCP servers and vigilctl (rustls).
pub mod tls;
/// vigil's web page: the fleet, a page per process, live updates, actions.
pub mod web;
