//! Log files: where child output and the daemon's own log are written.
//!
//! [`sink::LogSink`] is one log destination (a rotated file, a plain file, or nothing) that
//! can be reopened for external logrotate; [`capture`] moves bytes from a child's pipe into a
//! sink off the supervisor task; [`mainlog`] formats the daemon's log with supervisord's line
//! format. This module knows bytes and files, never process states.

pub mod capture;
pub mod mainlog;
pub mod sink;
