//! One program instance: its states ([`state`]), the state machine that moves between
//! them ([`machine`]) and what each move does ([`step`]), with its crash-loop detector
//! ([`crashloop`]) and counts ([`tally`]), how it ended ([`exit`]), and the
//! operating-system side of running it —
//! spawning ([`spawn`] prepares a start, [`preparer`] runs that off the supervisor,
//! [`spawner`] starts it), feeding its stdin ([`stdin`]), signalling ([`signal`]), reaping
//! ([`reaper`]), fcgi sockets ([`fcgi`]) and the [`guardian`] that cleans up after a crash of
//! vigild; what a `ready=notify` program announced about itself ([`announced`]) and the
//! notification fd of a `ready=fd:N` one ([`notification_fd`]).
//!
//! The state machine decides (which state, which timer, whether to restart) without doing
//! anything; the supervisor carries its decisions out and owns the timers.

pub mod announced;
pub mod cgroup;
pub mod controls;
pub mod crashloop;
pub mod exit;
pub mod fcgi;
pub mod guardian;
pub mod handover;
pub mod launch;
pub mod machine;
pub mod notification_fd;
pub mod preparer;
pub mod reaper;
pub mod signal;
pub mod spawn;
pub mod spawn_error;
pub mod spawner;
pub mod state;
pub mod stdin;
pub mod step;
pub mod tally;
