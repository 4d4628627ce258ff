//! Log files: where child output and the daemon's own log are written and read back.
//!
//! [`stream::LogStream`] is one stream (a child's stdout or stderr, or the main log): its
//! rotated [`file::LogFile`], an in-memory [`ring::Ring`] of its last bytes, and supervisord's
//! read/tail semantics. [`capture`] moves bytes from a child's pipe into its stream on a
//! thread of its own, through the [`filters`] (capture mode, ANSI stripping, timestamps).
//! [`mainlog`] formats the daemon's log; [`auto`] names and cleans AUTO files; [`crashes`]
//! keeps each process's crash records; [`line_watch`] finds a `ready=log:` line;
//! [`previous`] keeps the last output of a process's run before the current one;
//! [`syslog`] sends supervisord's syslog copies and [`journal`] journal entries, each
//! through a [`datagram`] sink. This module knows bytes and files, never process states.

pub mod auto;
pub mod backups;
pub mod capture;
pub mod console;
pub mod crashes;
pub mod datagram;
pub mod file;
pub mod filters;
pub mod journal;
pub mod line_watch;
pub mod mainlog;
pub mod previous;
pub mod ring;
pub mod sink;
pub mod stream;
pub mod syslog;
