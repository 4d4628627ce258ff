//! `vigild`: the daemon. Accepts supervisord's command-line flags (they override the config
//! file), plus `--check-config` to validate a config without starting anything.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, CommandFactory, Parser};
use vigil::config::Overrides;
use vigil::daemon::{self, DaemonOptions, StartError};

/// A process supervisor that runs an unchanged supervisord.conf.
#[derive(Parser, Debug)]
#[command(name = "vigild", version, disable_version_flag = true)]
#[command(after_help = "-? is accepted for --help, as supervisord accepts it.")]
struct Args {
    /// Configuration file path (searched for like supervisord when absent).
    #[arg(short = 'c', long = "configuration", value_name = "FILE")]
    configuration: Option<PathBuf>,
    /// Run in the foreground.
    #[arg(short = 'n', long)]
    nodaemon: bool,
    /// No logs to stderr (foreground only).
    #[arg(short = 's', long)]
    silent: bool,
    /// Print the version and exit.
    #[arg(short = 'v', long)]
    version: bool,
    /// Print help (as -h).
    #[arg(short = '?', action = ArgAction::Help, hide = true)]
    question_help: Option<bool>,
    /// Run as this user (or numeric uid).
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// umask for the daemon (e.g. 022).
    #[arg(short = 'm', long)]
    umask: Option<String>,
    /// Directory to chdir to when daemonized.
    #[arg(short = 'd', long)]
    directory: Option<String>,
    /// Main log file.
    #[arg(short = 'l', long)]
    logfile: Option<String>,
    /// Rotate the main log at this size (e.g. 50MB).
    #[arg(short = 'y', long = "logfile_maxbytes", value_name = "BYTES")]
    logfile_maxbytes: Option<String>,
    /// Number of rotated main logs to keep.
    #[arg(short = 'z', long = "logfile_backups", value_name = "NUM")]
    logfile_backups: Option<String>,
    /// Log level: critical, error, warn, info, debug, trace or blather.
    #[arg(short = 'e', long)]
    loglevel: Option<String>,
    /// Pid file.
    #[arg(short = 'j', long)]
    pidfile: Option<String>,
    /// Identifier of this supervisor.
    #[arg(short = 'i', long)]
    identifier: Option<String>,
    /// Directory for AUTO child logs.
    #[arg(short = 'q', long)]
    childlogdir: Option<String>,
    /// Keep old AUTO child logs at startup.
    #[arg(short = 'k', long)]
    nocleanup: bool,
    /// Minimum number of file descriptors.
    #[arg(short = 'a', long, value_name = "NUM")]
    minfds: Option<String>,
    /// Strip ANSI escapes from child logs.
    #[arg(short = 't', long = "strip_ansi")]
    strip_ansi: bool,
    /// Minimum number of processes.
    #[arg(long, value_name = "NUM")]
    minprocs: Option<String>,
    /// Accepted for compatibility; vigild has no Python profiler.
    #[arg(long = "profile_options", value_name = "OPTS")]
    profile_options: Option<String>,
    /// Load and validate the config (as a start would), print every problem, start nothing.
    #[arg(long = "check-config")]
    check_config: bool,
    /// With --check-config, count warnings as errors.
    #[arg(long, requires = "check_config")]
    strict: bool,
    /// With --check-config, print each process the config runs, as group:process, in start
    /// order (and nothing else unless there is a problem).
    #[arg(long, requires = "check_config")]
    list: bool,
    /// With --check-config, print the resolved config and every problem as one JSON
    /// object (for CI and config management to validate and diff).
    #[arg(long, requires = "check_config", conflicts_with = "list")]
    json: bool,
    /// With --check-config, say what the config (a supervisord.conf) does differently under
    /// vigil: plugins vigil cannot load, options only vigil acts on, vigil's defaults beyond
    /// supervisord's, the paths vigild will use; exit 1 if something differs.
    #[arg(long, requires = "check_config", conflicts_with_all = ["list", "json"])]
    migrate: bool,
    /// vigil reexec: the fd of the fleet's record a vigild handing over left open (set by
    /// vigild itself, not by hand).
    #[arg(long = "handover-fd", value_name = "FD", hide = true)]
    handover_fd: Option<i32>,
    /// vigil reexec's pre-flight: print the newest handover record version this binary
    /// reads, and exit.
    #[arg(long = "handover-version", hide = true)]
    handover_version: bool,
    /// Print vigild's man page (roff, for man -l) and exit.
    #[arg(long)]
    manpage: bool,
}

impl Args {
    fn overrides(&self) -> Overrides {
        let mut values: Vec<(&'static str, String)> = Vec::new();
        let flags = [
            ("nodaemon", self.nodaemon),
            ("silent", self.silent),
            ("nocleanup", self.nocleanup),
            ("strip_ansi", self.strip_ansi),
        ];
        for (key, set) in flags {
            if set {
                values.push((key, "true".into()));
            }
        }
        let texts = [
            ("user", &self.user),
            ("umask", &self.umask),
            ("directory", &self.directory),
            ("logfile", &self.logfile),
            ("logfile_maxbytes", &self.logfile_maxbytes),
            ("logfile_backups", &self.logfile_backups),
            ("loglevel", &self.loglevel),
            ("pidfile", &self.pidfile),
            ("identifier", &self.identifier),
            ("childlogdir", &self.childlogdir),
            ("minfds", &self.minfds),
            ("minprocs", &self.minprocs),
        ];
        for (key, value) in texts {
            if let Some(value) = value {
                values.push((key, value.clone()));
            }
        }
        Overrides {
            supervisord: values,
            ..Overrides::default()
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.version {
        // The bare version, as `supervisord -v` prints it.
        println!("{}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if args.handover_version {
        println!("{}", vigil::handover::VERSION);
        return ExitCode::SUCCESS;
    }
    if args.profile_options.is_some() {
        eprintln!("Warning: --profile_options is ignored: vigild has no Python profiler");
    }
    if args.manpage {
        return match clap_mangen::Man::new(Args::command()).render(&mut std::io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("Error: {err}");
                ExitCode::from(1)
            }
        };
    }
    let handover = match args.handover_fd.map(vigil::handover::read) {
        Some(Ok(handover)) => Some(handover),
        Some(Err(err)) => {
            // The fleet's pipes and pids are unknown without the record: the guardian,
            // whose pipe closes with this process, stops the fleet.
            eprintln!("Error: reexec: {err}");
            return ExitCode::from(2);
        }
        None => None,
    };
    let options = DaemonOptions {
        config_file: args.configuration.clone(),
        overrides: args.overrides(),
        handover,
        // Not UTF-8 (a path) is kept as near as it can be; std::env::args would panic.
        args: std::env::args_os()
            .skip(1)
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect(),
    };
    if args.check_config {
        if args.json {
            return check_json(&options, args.strict);
        }
        if args.migrate {
            return migrate(&options, args.strict);
        }
        return check(&options, args.strict, args.list);
    }
    match daemon::run(&options) {
        Ok(ending) => ExitCode::from(ending.exit_status()),
        Err(StartError::Config(errors)) => {
            for error in &errors.0 {
                eprintln!("Error: {error}");
            }
            ExitCode::from(2)
        }
        Err(err) => {
            eprintln!("Error: {err}");
            ExitCode::from(2)
        }
    }
}

/// `--check-config --json`: `{"ok", "processes": [{group, name, options}], "errors",
/// "warnings": [{file, line, section, option, value, message}]}`; exit as `--check-config`.
fn check_json(options: &DaemonOptions, strict: bool) -> ExitCode {
    let report = match daemon::check_config(options) {
        Ok(report) => report,
        Err(err) => {
            println!(
                "{}",
                serde_json::json!({ "ok": false, "errors": [{ "message": err.to_string() }] })
            );
            return ExitCode::from(1);
        }
    };
    let diagnostics = |list: &[vigil::config::Diagnostic]| -> Vec<serde_json::Value> {
        list.iter()
            .map(|d| {
                let at = &d.location;
                serde_json::json!({
                    "file": at.file.display().to_string(),
                    "line": at.line,
                    "section": at.section,
                    "option": at.option,
                    "value": at.value,
                    "message": d.message,
                })
            })
            .collect()
    };
    let processes: Vec<serde_json::Value> = report
        .processes
        .iter()
        .map(|process| {
            let mut options = serde_json::Map::new();
            for (option, value) in &process.options {
                // environment names repeat: one list of them.
                match options.get_mut(*option) {
                    Some(serde_json::Value::Array(values)) => values.push(value.clone().into()),
                    Some(first) => {
                        let before = first.take();
                        *first = serde_json::Value::Array(vec![before, value.clone().into()]);
                    }
                    None => {
                        options.insert((*option).to_string(), value.clone().into());
                    }
                }
            }
            serde_json::json!({ "group": process.group, "name": process.name, "options": options })
        })
        .collect();
    let failed = !report.errors.is_empty() || (strict && !report.warnings.is_empty());
    println!(
        "{}",
        serde_json::json!({
            "ok": !failed,
            "processes": processes,
            "errors": diagnostics(&report.errors),
            "warnings": diagnostics(&report.warnings),
            "host": report.host,
        })
    );
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `--check-config --migrate`: the check's errors and warnings, then each finding, then a
/// summary; exit 1 if there is an error or something differs under vigil (or, with
/// --strict, a warning).
fn migrate(options: &DaemonOptions, strict: bool) -> ExitCode {
    let (report, findings) = match daemon::migration(options) {
        Ok(found) => found,
        Err(err) => {
            println!("Error: {err}");
            return ExitCode::from(1);
        }
    };
    for error in &report.errors {
        println!("Error: {error}");
    }
    for warning in &report.warnings {
        println!("Warning: {warning}");
    }
    for finding in &findings {
        println!("{}: {}", finding.kind.label(), finding.diagnostic);
    }
    let differences = findings
        .iter()
        .filter(|f| f.kind == vigil::config::migrate::FindingKind::Differs)
        .count();
    let failed =
        differences > 0 || !report.errors.is_empty() || (strict && !report.warnings.is_empty());
    let verdict = if failed {
        "look at the errors and differences above before the move"
    } else {
        "it runs under vigil as under supervisord, with the notes above"
    };
    println!(
        "migrate: {} processes, {} errors, {differences} differences: {verdict}",
        report.processes.len(),
        report.errors.len()
    );
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `--check-config`: exit 1 if there is an error (or, with --strict, a warning), else 0.
fn check(options: &DaemonOptions, strict: bool, list: bool) -> ExitCode {
    match daemon::check_config(options) {
        Ok(report) => {
            if list {
                for process in &report.processes {
                    println!("{}:{}", process.group, process.name);
                }
            }
            for error in &report.errors {
                println!("Error: {error}");
            }
            for warning in &report.warnings {
                println!("Warning: {warning}");
            }
            for line in &report.host {
                println!("Host: {line}");
            }
            let failed = !report.errors.is_empty() || (strict && !report.warnings.is_empty());
            if failed {
                let plural =
                    |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
                println!(
                    "config not OK: {}, {}{}",
                    plural(report.errors.len(), "error"),
                    plural(report.warnings.len(), "warning"),
                    if report.errors.is_empty() {
                        " (--strict fails on warnings)"
                    } else {
                        ""
                    }
                );
                ExitCode::from(1)
            } else {
                if !list {
                    println!("config OK");
                }
                ExitCode::SUCCESS
            }
        }
        Err(err) => {
            println!("Error: {err}");
            ExitCode::from(1)
        }
    }
}
