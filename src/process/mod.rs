//! One program instance: its state machine ([`state`]), how it ended ([`exit`]), and the
//! operating-system side of running it — spawning ([`spawn`]), signalling ([`signal`]),
//! reaping ([`reaper`]) and fcgi sockets ([`fcgi`]).
//!
//! This module reports what happened; it never schedules timers or decides restarts (that
//! is the supervisor's job).

pub mod exit;
pub mod fcgi;
pub mod launch;
pub mod reaper;
pub mod signal;
pub mod spawn;
pub mod spawner;
pub mod state;
