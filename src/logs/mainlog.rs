//! The daemon's own log: supervisord's line format (`2026-11-24 16:05:09,123 INFO spawned: …`)
//! written through tracing-subscriber into the rotated `logfile`, and echoed to stderr in the
//! foreground unless `silent`.
//!
//! Nothing that logs waits for the log: each line is queued for a [`Sink`] thread (one for
//! the file, one for stderr), so a stalled disk or an unread stderr (a FIFO, a paused
//! terminal) costs dropped lines, counted and reported, never a stalled supervisor. The
//! level can be changed while running (SIGHUP re-applies `loglevel`).

use std::fmt;
use std::io::{self, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{reload, Registry};

use super::journal::Journal;
use super::sink::{Sink, QUEUE_BYTES};
use super::stream::LogStream;
use super::syslog::Syslog;
use crate::config::LogLevel;
use crate::timefmt::{log_timestamp, rfc3339};

/// The tracing target that marks an error as supervisord's CRIT level.
pub const CRITICAL: &str = "vigil::critical";

/// How long vigild waits at exit for the main log's last lines to be written (a sink that
/// stays stalled must not keep vigild from exiting).
const FLUSH_LIMIT: Duration = Duration::from_secs(1);

/// The installed main log: where lines go and the level that lets them through.
pub struct MainLogger {
    file: Arc<Sink>,
    echo: Option<Arc<Sink>>,
    level: reload::Handle<LevelFilter, Registry>,
    critical_only: Arc<AtomicBool>,
}

impl MainLogger {
    /// Starts the writer threads; until then lines wait in their queues. Call once vigild
    /// has done its forking (daemonizing, its helpers): a fork keeps only its caller's thread.
    pub fn start_writers(&self) -> io::Result<()> {
        self.file.start_writer("main log")?;
        if let Some(echo) = &self.echo {
            echo.start_writer("main log echo")?;
        }
        super::syslog::start_writer()?;
        super::journal::start_writer()
    }

    /// Lets through what `level` asks for from now on.
    pub fn set_level(&self, level: LogLevel) {
        self.critical_only
            .store(level == LogLevel::Critical, Ordering::Relaxed);
        if let Err(err) = self.level.reload(level_filter(level)) {
            tracing::error!("could not change the log level: {err}");
        }
    }

    /// Waits (a bounded time) until every queued line has reached the file and stderr, so
    /// the last lines before an exit are not lost.
    pub fn flush(&self) {
        let deadline = Instant::now() + FLUSH_LIMIT;
        self.file.flush(deadline);
        if let Some(echo) = &self.echo {
            echo.flush(deadline);
        }
        if let Some(syslog) = super::syslog::get() {
            syslog.flush(deadline);
        }
        if let Some(journal) = super::journal::get() {
            journal.flush(deadline);
        }
    }
}

/// Where main-log lines go: a queue per sink, never a write on the caller's thread.
#[derive(Clone)]
struct MainLogWriter {
    file: Arc<Sink>,
    echo: Option<Arc<Sink>>,
    /// `logfile=syslog`: where the lines go instead of a file.
    syslog: Option<&'static Syslog>,
    /// `logfile=journald`: the same, as journal entries.
    journal: Option<&'static Journal>,
}

impl io::Write for MainLogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(echo) = &self.echo {
            echo.push(buf);
        }
        if let Some(syslog) = self.syslog {
            syslog.log_line(buf);
        }
        if let Some(journal) = self.journal {
            journal.log_line(buf);
        }
        self.file.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for MainLogWriter {
    type Writer = MainLogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The line standing for `count` lines a stalled sink could not take.
fn dropped_line(count: u64) -> Vec<u8> {
    format!(
        "{} WARN {count} log lines dropped\n",
        log_timestamp(SystemTime::now())
    )
    .into_bytes()
}

fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Critical | LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Trace | LogLevel::Blather => LevelFilter::TRACE,
    }
}

/// Installs the global subscriber writing to `stream` (and to stderr when `echo`, to
/// `syslog` and `journal` when given), each through a writer thread of its own once
/// [`MainLogger::start_writers`] is called. Without a file, `stream` keeps the tail
/// `readLog` shows.
pub fn install(
    stream: Arc<LogStream>,
    level: LogLevel,
    (echo, json): (bool, bool),
    (syslog, journal): (Option<&'static Syslog>, Option<&'static Journal>),
) -> MainLogger {
    let file = Arc::new(Sink::new(
        QUEUE_BYTES,
        move |line| {
            stream.append(line);
        },
        dropped_line,
    ));
    let echo = echo.then(|| {
        Arc::new(Sink::new(
            QUEUE_BYTES,
            // A closed stderr must not stop the log file.
            |line| {
                let _ = io::stderr().write_all(line);
            },
            dropped_line,
        ))
    });
    let writer = MainLogWriter {
        file: Arc::clone(&file),
        echo: echo.clone(),
        syslog,
        journal,
    };
    let critical_only = Arc::new(AtomicBool::new(level == LogLevel::Critical));
    let (filter, handle) = reload::Layer::new(level_filter(level));
    let subscriber = Registry::default().with(filter).with(
        tracing_subscriber::fmt::layer()
            .event_format(LineFormat {
                json,
                critical_only: Arc::clone(&critical_only),
            })
            .with_writer(writer),
    );
    // A second install (only possible in tests) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(subscriber);
    MainLogger {
        file,
        echo,
        level: handle,
        critical_only,
    }
}

/// supervisord's main-log line: timestamp, 4-letter level, message (the other fields only
/// in vigil's `logformat=json`, one object per line: `ts`, `level`, `msg` and the fields).
struct LineFormat {
    /// `logformat=json`.
    json: bool,
    /// `loglevel=critical`: tracing has no level above ERROR, so CRIT lines are told apart
    /// by their target and the other errors are left out here.
    critical_only: Arc<AtomicBool>,
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        if self.critical_only.load(Ordering::Relaxed) && meta.target() != CRITICAL {
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
        let mut fields = Fields::default();
        event.record(&mut fields);
        let now = SystemTime::now();
        if !self.json {
            return writeln!(writer, "{} {level} {}", log_timestamp(now), fields.message);
        }
        let mut object = serde_json::Map::new();
        object.insert("ts".into(), rfc3339(now).into());
        object.insert("level".into(), level.into());
        object.insert("msg".into(), fields.message.into());
        object.extend(fields.others);
        writeln!(writer, "{}", serde_json::Value::Object(object))
    }
}

/// An event's message and its other fields (`process`, `pid`, `exit_status` …).
#[derive(Default)]
struct Fields {
    message: String,
    others: serde_json::Map<String, serde_json::Value>,
}

impl tracing::field::Visit for Fields {
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.others.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.others.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.others.insert(field.name().into(), value.into());
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.others.insert(field.name().into(), value.into());
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.others.insert(field.name().into(), text.into());
        }
    }
}
