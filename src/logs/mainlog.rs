//! The daemon's own log: supervisord's line format (`2026-11-24 16:05:09,123 INFO spawned: …`)
//! written through tracing-subscriber into the rotated `logfile`, and echoed to stderr in the
//! foreground unless `silent`.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::stream::LogStream;
use crate::config::LogLevel;
use crate::timefmt::log_timestamp;

/// The tracing target that marks an error as supervisord's CRIT level.
pub const CRITICAL: &str = "vigil::critical";

/// Where main-log lines go.
pub struct MainLogWriter {
    stream: Arc<LogStream>,
    echo: bool,
}

impl io::Write for &MainLogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.echo {
            // A closed stderr must not stop the log file.
            let _ = io::stderr().write_all(buf);
        }
        self.stream.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Installs the global subscriber writing to `stream` (and to stderr when `echo`).
pub fn install(stream: Arc<LogStream>, level: LogLevel, echo: bool) {
    let writer = Arc::new(MainLogWriter { stream, echo });
    let filter = match level {
        LogLevel::Critical | LogLevel::Error => Level::ERROR,
        LogLevel::Warn => Level::WARN,
        LogLevel::Info => Level::INFO,
        LogLevel::Debug => Level::DEBUG,
        LogLevel::Trace | LogLevel::Blather => Level::TRACE,
    };
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(filter)
        .event_format(LineFormat {
            critical_only: level == LogLevel::Critical,
        })
        .with_writer(writer)
        .finish();
    // A second install (only possible in tests) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// supervisord's main-log line: timestamp, 4-letter level, message.
struct LineFormat {
    /// `loglevel=critical`: tracing has no level above ERROR, so CRIT lines are told apart
    /// by their target and the other errors are left out here.
    critical_only: bool,
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        if self.critical_only && meta.target() != CRITICAL {
            return Ok(());
        }
        let level = match *meta.level() {
            Level::ERROR if meta.target() == CRITICAL => "CRIT",
            Level::ERROR => "ERRO",
            Level::WARN => "WARN",
            Level::INFO => "INFO",
            Level::DEBUG => "DEBG",
            Level::TRACE => "TRAC",
        };
        write!(writer, "{} {level} ", log_timestamp(SystemTime::now()))?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
