//! `[program:x]`, `[fcgi-program:x]` and `[eventlistener:x]` sections → process configs,
//! grouped into homogeneous groups or the `[group:x]` they belong to.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use nix::sys::signal::Signal;

use super::depends_on;
use super::diagnostic::Diagnostic;
use super::expand::Names;
use super::ini::{RawDoc, RawSection};
use super::invalid::Invalid;
use super::resolve::{
    absolute, existing_dirpath, owner, priority, user_spec, Context, HeterogeneousGroup,
    SectionReader,
};
use super::schedule;
use super::value;
use super::{
    AutoRestart, CrashLoopPolicy, CrashRecordPolicy, Dependency, FcgiAddress, FcgiSocket,
    GroupConfig, HealthCheck, LinePattern, ListenerConfig, LogTarget, Probe, ProcessConfig,
    Readiness, ResultHandler, Schedules, StreamLog,
};

/// Which kind of program-like section.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Program,
    Fcgi,
    Listener,
}

/// Reads every program-like section into groups as supervisord builds them: each
/// `[group:x]` (its members in `programs=` order), then every other `[program:x]`, then every
/// other `[fcgi-program:x]`, each in file order; then a stable sort by priority, so equal
/// priorities keep that order (and processes keep `process_num` order). Listener pools
/// (`[eventlistener:x]`) are groups like the others, as in supervisord.
pub(super) fn read_all(
    doc: &RawDoc,
    ctx: &Context,
    heterogeneous: &[HeterogeneousGroup],
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> Vec<GroupConfig> {
    let mut groups = Vec::new();
    for group in heterogeneous {
        let mut processes = Vec::new();
        let mut numprocs = Vec::new();
        for member in &group.members {
            if let Some((section, kind, program)) = program_section(doc, member) {
                let member_of = InGroup {
                    name: &group.name,
                    essential: group.essential,
                };
                let read = read_program(section, kind, program, &member_of, ctx, errors, warnings);
                processes.extend(read.processes);
                numprocs.push(read.numprocs);
            }
        }
        groups.push(GroupConfig {
            name: group.name.clone(),
            priority: group.priority,
            processes,
            // Only a group of one program can be scaled.
            numprocs: match numprocs[..] {
                [one] => Some(one),
                _ => None,
            },
        });
    }
    let grouped: HashSet<&str> = heterogeneous
        .iter()
        .flat_map(|g| g.members.iter().map(String::as_str))
        .collect();
    for wanted in [Kind::Program, Kind::Fcgi, Kind::Listener] {
        for section in &doc.sections {
            let Some((section, kind, program)) = program_section(doc, &section.name) else {
                continue;
            };
            if kind != wanted || grouped.contains(section.name.as_str()) {
                continue;
            }
            let own_group = InGroup {
                name: program,
                essential: false,
            };
            let read = read_program(section, kind, program, &own_group, ctx, errors, warnings);
            let group = GroupConfig {
                name: program.to_string(),
                priority: read.priority,
                processes: read.processes,
                numprocs: Some(read.numprocs),
            };
            if groups.iter().any(|g| g.name == group.name) {
                errors.push(Diagnostic::new(
                    section.location(None),
                    format!(
                        "group name '{}' is used by more than one section",
                        group.name
                    ),
                ));
            } else {
                groups.push(group);
            }
        }
    }
    for group in &mut groups {
        group.processes.sort_by_key(|process| process.priority);
        let mut seen = HashSet::new();
        for process in &group.processes {
            if !seen.insert(process.name.clone()) {
                errors.push(Diagnostic::new(
                    super::Location::file(&ctx.cwd),
                    format!(
                        "duplicate process name '{}' in group '{}'",
                        process.name, group.name
                    ),
                ));
            }
        }
    }
    groups.retain(|group| !is_dependent_startup_listener(doc, group, warnings));
    groups.sort_by_key(|group| group.priority);
    super::depends_on::check(doc, &groups, errors);
    groups
}

/// Whether `group` is the supervisord-dependent-startup plugin's listener, whose work
/// vigild does itself (`dependent_startup`, `dependent_startup_wait_for`): it is left out,
/// with a warning, so no program is started twice.
fn is_dependent_startup_listener(
    doc: &RawDoc,
    group: &GroupConfig,
    warnings: &mut Vec<Diagnostic>,
) -> bool {
    let plugin = group.processes.iter().any(|process| {
        process.listener.is_some()
            && (process.command.contains("supervisord_dependent_startup")
                || process.command.contains("supervisord-dependent-startup"))
    });
    if plugin {
        let name = format!("eventlistener:{}", group.name);
        if let Some(section) = doc.section(&name) {
            warnings.push(Diagnostic::new(
                section.location(section.get("command")),
                format!(
                    "[{name}] runs the supervisord-dependent-startup plugin, which vigild does itself (dependent_startup, dependent_startup_wait_for): the listener is not started and can be removed"
                ),
            ));
        }
    }
    plugin
}

/// The section named `name` if it is program-like, with its kind and program name.
pub(super) fn program_section<'a>(
    doc: &'a RawDoc,
    name: &'a str,
) -> Option<(&'a RawSection, Kind, &'a str)> {
    let (kind, program) = match name.split_once(':') {
        Some(("program", program)) => (Kind::Program, program),
        Some(("fcgi-program", program)) => (Kind::Fcgi, program),
        Some(("eventlistener", program)) => (Kind::Listener, program),
        _ => return None,
    };
    Some((doc.section(name)?, kind, program))
}

/// The group a program section is read into, and what the group gives its members.
struct InGroup<'a> {
    /// The group's name.
    name: &'a str,
    /// A `[group:x]`'s `essential`: the members' default.
    essential: bool,
}

/// What one program section gives its group.
struct ReadProgram {
    /// Its priority.
    priority: i32,
    /// Its processes.
    processes: Vec<Arc<ProcessConfig>>,
    /// The `numprocs` the file gives (a scale may run another number).
    numprocs: u32,
}

/// One section → its priority and processes.
fn read_program(
    section: &RawSection,
    kind: Kind,
    program: &str,
    group: &InGroup<'_>,
    ctx: &Context,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> ReadProgram {
    if let Err(why) = value::name(program) {
        errors.push(Diagnostic::new(
            section.location(None),
            format!("bad program name '{program}': {why}"),
        ));
        return ReadProgram {
            priority: 0,
            processes: Vec::new(),
            numprocs: 0,
        };
    }
    let mut names = ctx.base_names(section);
    names
        .text("program_name", program)
        .text("group_name", group.name);
    let mut reader = SectionReader { section, errors };

    let default_priority = if kind == Kind::Listener { -1 } else { 999 };
    let priority = reader.parse("priority", &names, default_priority, priority);
    let file_numprocs: u32 = reader.parse("numprocs", &names, 1, value::count);
    let numprocs = ctx.scaling.numprocs(group.name, program, file_numprocs);
    let numprocs_start: u32 = reader.parse("numprocs_start", &names, 0, value::count);
    let process_name_template = section
        .get("process_name")
        .map_or("%(program_name)s", |option| option.value.as_str());
    // numprocs=0 gives an empty group, as in supervisord.
    let mut instances = numprocs;
    if numprocs > 1 && !process_name_template.contains("%(process_num)") {
        reader.error(
            Some("process_name"),
            "%(process_num) must be present within process_name when numprocs > 1",
        );
        // One instance is enough to report the section's other errors once.
        instances = 1;
    }
    let stopasgroup = reader.parse("stopasgroup", &names, false, value::boolean);
    let killasgroup = reader.parse("killasgroup", &names, stopasgroup, value::boolean);
    if stopasgroup && !killasgroup {
        reader.error(
            Some("killasgroup"),
            "cannot set stopasgroup=true and killasgroup=false",
        );
    }
    let redirect_stderr = reader.parse("redirect_stderr", &names, false, value::boolean);
    if redirect_stderr && kind == Kind::Listener {
        reader.error(
            Some("redirect_stderr"),
            "redirect_stderr=true is not allowed for event listeners",
        );
    }
    let stderr_is_a_file = section.get("stderr_logfile").is_some_and(|option| {
        !["auto", "none", "off", "syslog", "journald"]
            .contains(&option.value.trim().to_ascii_lowercase().as_str())
    });
    if redirect_stderr && stderr_is_a_file {
        warnings.push(Diagnostic::new(
            section.location(section.get("stderr_logfile")),
            format!(
                "For [{}], redirect_stderr=true but stderr_logfile has also been set to a filename, the filename has been ignored",
                section.name
            ),
        ));
    }
    for stream in ["stdout", "stderr"] {
        let option = section.get(&format!("{stream}_logfile"));
        if is_syslog(option.map(|option| option.value.as_str())) {
            warnings.push(Diagnostic::new(
                section.location(option),
                format!(
                    "For [{}], {stream}_logfile=syslog but this is deprecated and will be removed.  Use {stream}_syslog=true to enable syslog instead.",
                    section.name
                ),
            ));
        }
    }
    if section.get("command").is_none() {
        reader.error(
            None,
            format!(
                "program section {} does not specify a command",
                section.name
            ),
        );
    }
    let user = reader.optional("user", &names, user_spec);
    let serverurl = match reader.text("serverurl", &names) {
        Some(url) if !url.trim().eq_ignore_ascii_case("auto") => Some(url.trim().to_string()),
        _ => ctx.auto_serverurl.clone(),
    };
    let fcgi_socket =
        (kind == Kind::Fcgi).then(|| read_fcgi_socket(&mut reader, &names, user.as_ref()));
    let listener = (kind == Kind::Listener).then(|| read_listener(&mut reader, &names));
    // The supervisord-dependent-startup plugin's programs (`dependent_startup=true`) say
    // autostart=false and are started by its listener once their dependencies are met:
    // vigild does that itself.
    let dependent_startup = reader.parse("dependent_startup", &names, false, value::boolean);
    let local_zone = ctx.local_zone.clone().unwrap_or(chrono_tz::UTC);
    let shared = ProcessConfig {
        name: String::new(),
        group: group.name.to_string(),
        program: program.to_string(),
        priority,
        command: String::new(),
        autostart: reader.parse("autostart", &names, true, value::boolean) || dependent_startup,
        autorestart: reader.parse("autorestart", &names, AutoRestart::Unexpected, auto_restart),
        startsecs: reader.parse("startsecs", &names, 1, value::count),
        startretries: reader.parse("startretries", &names, Some(3), start_retries),
        backoff_max: reader
            .optional("backoff_max", &names, value::count)
            .filter(|seconds| *seconds > 0),
        exitcodes: reader.parse("exitcodes", &names, vec![0], value::exit_codes),
        stopsignal: reader.parse("stopsignal", &names, Signal::SIGTERM, value::signal),
        stopwaitsecs: reader.parse("stopwaitsecs", &names, 10, value::count),
        stopasgroup,
        killasgroup,
        user,
        redirect_stderr,
        stdout: default_stream_log(),
        stderr: default_stream_log(),
        environment: Vec::new(),
        environment_file: reader
            .text("environment_file", &names)
            .map(|path| absolute(&PathBuf::from(path.trim()), &section.here())),
        directory: None,
        umask: reader.optional("umask", &names, value::octal),
        serverurl,
        fcgi_socket,
        listener,
        log_markers: reader.parse("log_markers", &names, false, value::boolean),
        memory_limit: reader
            .optional("memory_limit", &names, value::byte_size)
            .filter(|limit| *limit > 0),
        crash_loop: read_crash_loop(&mut reader, &names),
        health_check: read_health_check(&mut reader, &names),
        depends_on: read_depends_on(&mut reader, &names, dependent_startup, warnings),
        reload_signal: reader.optional("reloadsignal", &names, value::signal),
        controls: super::controls::read(&mut reader, &names, ctx.cpus),
        schedules: Schedules {
            start: reader.optional("schedule", &names, schedule::cron_expression),
            restart: reader.optional("restart_schedule", &names, schedule::cron_expression),
            zone: reader.parse(
                "schedule_timezone",
                &names,
                schedule::Zone::Local(local_zone),
                |text| schedule::zone(text, local_zone),
            ),
        },
        essential: reader.parse("essential", &names, group.essential, value::boolean),
        ready: reader.parse("ready", &names, Readiness::StartSecs, readiness),
        ready_timeout: reader.parse(
            "ready_timeout",
            &names,
            std::time::Duration::from_secs(90),
            positive_seconds,
        ),
        watchdog: reader.optional("watchdog_sec", &names, positive_seconds),
        crash_records: CrashRecordPolicy {
            tail_lines: reader.parse("crash_tail_lines", &names, 50, value::count),
            history: reader.parse("crash_history", &names, 20, value::count),
        },
        previous_tail_bytes: reader.parse("previous_tail_bytes", &names, 64 << 10, |text| {
            usize::try_from(value::byte_size(text)?).map_err(|_| Invalid::TooLarge)
        }),
    };
    if let (true, schedule::Zone::Local(_), Err(why)) = (
        shared.schedules.any(),
        shared.schedules.zone,
        &ctx.local_zone,
    ) {
        warnings.push(Diagnostic::new(
            section.location(section.get("schedule").or_else(|| section.get("restart_schedule"))),
            format!(
                "For [{}], vigild's local time zone cannot be named ({why}): its schedules run in UTC; set schedule_timezone",
                section.name
            ),
        ));
    }
    if shared.watchdog.is_some() && shared.ready != Readiness::Notify {
        reader.error(
            Some("watchdog_sec"),
            "watchdog_sec needs ready=notify (the watchdog is fed with WATCHDOG=1 over NOTIFY_SOCKET)",
        );
    }
    if shared.ready == Readiness::HealthCheck && shared.health_check.is_none() {
        reader.error(
            Some("ready"),
            "ready=healthcheck needs a health check (healthcheck_command, healthcheck_http or healthcheck_tcp)",
        );
    }

    let mut processes = Vec::new();
    for process_num in numprocs_start..numprocs_start.saturating_add(instances) {
        let mut names = names.clone();
        names
            .number("process_num", i64::from(process_num))
            .number("numprocs", i64::from(numprocs));
        let name = reader
            .parse("process_name", &names, program.to_string(), value::name)
            .clone();
        let environment = reader.parse("environment", &names, Vec::new(), value::key_value_pairs);
        let mut names = names.clone();
        names.environment(environment.iter().map(|(k, v)| (k, v)));
        let command = reader.text("command", &names).unwrap_or_default();
        let directory = reader
            .text("directory", &names)
            .map(|dir| absolute(&PathBuf::from(dir.trim()), &ctx.cwd));
        let stdout = read_stream_log(&mut reader, &names, "stdout", &ctx.cwd);
        let stderr = read_stream_log(&mut reader, &names, "stderr", &ctx.cwd);
        processes.push(Arc::new(ProcessConfig {
            name,
            command,
            stdout,
            stderr,
            environment,
            directory,
            ..shared.clone()
        }));
    }
    ReadProgram {
        priority,
        processes,
        numprocs: file_numprocs,
    }
}

/// `depends_on`, plus, for a `dependent_startup=true` program, the plugin's
/// `dependent_startup_wait_for` (`a:running b:exited`), as the plugin reads it.
fn read_depends_on(
    reader: &mut SectionReader<'_>,
    names: &Names,
    dependent_startup: bool,
    warnings: &mut Vec<Diagnostic>,
) -> Vec<Dependency> {
    let mut entries = reader.parse("depends_on", names, Vec::new(), depends_on::entries);
    let wait_for = reader.section.get("dependent_startup_wait_for");
    if dependent_startup {
        entries.extend(reader.parse(
            "dependent_startup_wait_for",
            names,
            Vec::new(),
            depends_on::entries,
        ));
    } else if wait_for.is_some() {
        warnings.push(Diagnostic::new(
            reader.section.location(wait_for),
            format!(
                "For [{}], dependent_startup_wait_for is ignored without dependent_startup=true (as the supervisord-dependent-startup plugin does); use depends_on",
                reader.section.name
            ),
        ));
    }
    entries
}

fn default_stream_log() -> StreamLog {
    StreamLog {
        target: LogTarget::Auto,
        maxbytes: 50 << 20,
        backups: 10,
        rotate_every: None,
        compress: None,
        json: false,
        capture_maxbytes: 0,
        events_enabled: false,
        syslog: false,
        timestamps: false,
        tail_bytes: DEFAULT_TAIL_BYTES,
    }
}

/// Recent output kept in memory per stream unless `*_tail_bytes` says otherwise.
pub const DEFAULT_TAIL_BYTES: usize = 1 << 20;

fn read_stream_log(
    reader: &mut SectionReader<'_>,
    names: &Names,
    stream: &str,
    cwd: &std::path::Path,
) -> StreamLog {
    let defaults = default_stream_log();
    let key = |suffix: &str| format!("{stream}_{suffix}");
    // supervisord rewrites the deprecated `*_logfile=syslog` as no file and `*_syslog=true`.
    let to_syslog = is_syslog(
        reader
            .section
            .get(&key("logfile"))
            .map(|option| option.value.as_str()),
    );
    let target = if to_syslog {
        LogTarget::None
    } else {
        reader.parse(&key("logfile"), names, defaults.target, |text| {
            log_target(text, cwd)
        })
    };
    StreamLog {
        target,
        maxbytes: reader.parse(
            &key("logfile_maxbytes"),
            names,
            defaults.maxbytes,
            value::byte_size,
        ),
        backups: reader.parse(
            &key("logfile_backups"),
            names,
            defaults.backups,
            value::count,
        ),
        rotate_every: reader.optional(&key("logfile_rotate"), names, value::rotate_every),
        compress: reader.optional(&key("logfile_compress"), names, value::compress),
        json: reader.parse(&key("logfile_format"), names, false, value::json_format),
        capture_maxbytes: reader.parse(&key("capture_maxbytes"), names, 0, value::byte_size),
        events_enabled: reader.parse(&key("events_enabled"), names, false, value::boolean),
        syslog: reader.parse(&key("syslog"), names, false, value::boolean) || to_syslog,
        timestamps: reader.parse(&key("logfile_timestamps"), names, false, value::boolean),
        tail_bytes: reader.parse(&key("tail_bytes"), names, defaults.tail_bytes, |text| {
            usize::try_from(value::byte_size(text)?).map_err(|_| Invalid::TooLarge)
        }),
    }
}

/// supervisord's `logfile_name`: NONE/OFF, AUTO, or a path whose directory exists
/// (`syslog` is rewritten before, see [`is_syslog`]); vigil's `journald`.
fn log_target(text: &str, cwd: &std::path::Path) -> Result<LogTarget, Invalid> {
    match text.trim().to_ascii_lowercase().as_str() {
        "none" | "off" => Ok(LogTarget::None),
        "auto" => Ok(LogTarget::Auto),
        "journald" => Ok(LogTarget::Journald),
        _ => existing_dirpath(text, cwd).map(LogTarget::File),
    }
}

/// Whether a `*_logfile` value is supervisord's deprecated magic name `syslog`.
fn is_syslog(text: Option<&str>) -> bool {
    text.is_some_and(|text| text.trim().eq_ignore_ascii_case("syslog"))
}

/// `startretries`: a count, or vigil's `-1` for "retry forever". Other negative numbers
/// give up at the first failure, as they do in supervisord.
fn start_retries(text: &str) -> Result<Option<u32>, Invalid> {
    match value::integer(text)? {
        -1 => Ok(None),
        negative if negative < 0 => Ok(Some(0)),
        _ => value::count(text).map(Some),
    }
}

fn auto_restart(text: &str) -> Result<AutoRestart, Invalid> {
    match text.trim().to_ascii_lowercase().as_str() {
        "unexpected" => Ok(AutoRestart::Unexpected),
        other => match value::boolean(other) {
            Ok(true) => Ok(AutoRestart::Always),
            Ok(false) => Ok(AutoRestart::Never),
            Err(_) => Err(Invalid::NotAutorestart),
        },
    }
}

fn read_fcgi_socket(
    reader: &mut SectionReader<'_>,
    names: &Names,
    user: Option<&super::UserSpec>,
) -> FcgiSocket {
    if reader.section.get("socket").is_none() {
        reader.error(
            None,
            format!("{} does not specify a socket", reader.section.name),
        );
    }
    let address = reader.parse(
        "socket",
        names,
        FcgiAddress::Unix(PathBuf::new()),
        fcgi_address,
    );
    let is_unix = matches!(address, FcgiAddress::Unix(_));
    if !is_unix
        && (reader.section.get("socket_owner").is_some()
            || reader.section.get("socket_mode").is_some())
    {
        reader.error(
            Some("socket"),
            "socket_owner and socket_mode params should only be used with a unix domain socket",
        );
    }
    let backlog =
        reader.parse(
            "socket_backlog",
            names,
            libc::SOMAXCONN,
            |text| match value::integer(text)? {
                n @ 1..=65535 => i32::try_from(n).map_err(|_| Invalid::BacklogOutOfRange),
                _ => Err(Invalid::BacklogOutOfRange),
            },
        );
    let default_owner = user.map(|user| (user.uid, user.gid));
    FcgiSocket {
        address,
        backlog,
        owner: reader
            .optional("socket_owner", names, owner)
            .or(default_owner),
        mode: reader.parse("socket_mode", names, 0o700, value::octal),
    }
}

fn fcgi_address(text: &str) -> Result<FcgiAddress, Invalid> {
    let text = text.trim();
    if let Some(path) = text.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(Invalid::RelativeUnixSocket);
        }
        return Ok(FcgiAddress::Unix(PathBuf::from(path)));
    }
    if let Some(rest) = text.strip_prefix("tcp://") {
        if let Some((host, port)) = rest.rsplit_once(':') {
            if let Ok(port) = port.parse::<u16>() {
                return Ok(FcgiAddress::Tcp {
                    host: host.to_string(),
                    port,
                });
            }
        }
    }
    Err(Invalid::NotSocket)
}

/// `healthcheck_*`: at most one probe kind, with its timing.
fn read_health_check(reader: &mut SectionReader<'_>, names: &Names) -> Option<HealthCheck> {
    let secs = std::time::Duration::from_secs;
    let mut probes = Vec::new();
    if let Some(command) = reader.text("healthcheck_command", names) {
        probes.push(Probe::Command(command.trim().to_string()));
    }
    if let Some(url) = reader.optional("healthcheck_http", names, http_url) {
        probes.push(url);
    }
    if let Some(address) = reader.optional("healthcheck_tcp", names, tcp_address) {
        probes.push(address);
    }
    if probes.len() > 1 {
        reader.error(
            Some("healthcheck_command"),
            "only one of healthcheck_command, healthcheck_http and healthcheck_tcp may be set",
        );
    }
    let probe = probes.pop()?;
    let retries = reader.parse("healthcheck_retries", names, 3, value::count);
    Some(HealthCheck {
        probe,
        interval: reader.parse("healthcheck_interval", names, secs(10), positive_seconds),
        timeout: reader.parse("healthcheck_timeout", names, secs(5), positive_seconds),
        retries: if retries == 0 {
            reader.error(
                Some("healthcheck_retries"),
                "healthcheck_retries must be at least 1",
            );
            1
        } else {
            retries
        },
        start_period: reader.parse("healthcheck_start_period", names, secs(0), value::seconds),
    })
}

/// `ready=`: `startsecs`, `notify`, `fd:N`, `log:REGEX` or `healthcheck`.
fn readiness(text: &str) -> Result<Readiness, Invalid> {
    let text = text.trim();
    if let Some(pattern) = text.strip_prefix("log:") {
        return regex::Regex::new(pattern)
            .map(|regex| Readiness::Log(LinePattern(regex)))
            .map_err(|err| Invalid::BadRegex(err.to_string()));
    }
    if let Some(fd) = text.strip_prefix("fd:") {
        return match fd.trim().parse::<i32>() {
            Ok(fd @ 3..=1023) => Ok(Readiness::Fd(fd)),
            _ => Err(Invalid::ReadyFdOutOfRange(fd.to_string())),
        };
    }
    match text.to_ascii_lowercase().as_str() {
        "startsecs" | "" => Ok(Readiness::StartSecs),
        "notify" => Ok(Readiness::Notify),
        "healthcheck" => Ok(Readiness::HealthCheck),
        _ => Err(Invalid::NotReadiness),
    }
}

/// Seconds above zero (a probe interval or timeout).
fn positive_seconds(text: &str) -> Result<std::time::Duration, Invalid> {
    match value::seconds(text)? {
        zero if zero.is_zero() => Err(Invalid::NotPositive),
        seconds if seconds > std::time::Duration::from_secs(MAX_CRASH_LOOP_SECONDS) => {
            Err(Invalid::OverAYear)
        }
        seconds => Ok(seconds),
    }
}

/// `http://host:port/path` (port 80 by default); vigil's probe speaks plain HTTP only.
fn http_url(text: &str) -> Result<Probe, Invalid> {
    let rest = text
        .trim()
        .strip_prefix("http://")
        .ok_or(Invalid::NotHttpUrl)?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], rest[at..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse()
                .map_err(|_| Invalid::BadPort(port.to_string()))?,
        ),
        None => (authority, 80),
    };
    if host.is_empty() {
        return Err(Invalid::NoUrlHost);
    }
    Ok(Probe::Http {
        host: host.to_string(),
        port,
        path,
    })
}

/// `host:port`.
fn tcp_address(text: &str) -> Result<Probe, Invalid> {
    let (host, port) = text.trim().rsplit_once(':').ok_or(Invalid::NotHostPort)?;
    let port = port
        .parse()
        .map_err(|_| Invalid::BadPort(port.to_string()))?;
    if host.is_empty() {
        return Err(Invalid::NoHost);
    }
    Ok(Probe::Tcp {
        host: host.to_string(),
        port,
    })
}

/// The longest crash-loop duration an option takes (a year), so deadlines stay computable.
const MAX_CRASH_LOOP_SECONDS: u64 = 365 * 24 * 3600;

/// vigil's crash-loop options; the defaults damp a loop of 5 crashes a minute.
fn read_crash_loop(reader: &mut SectionReader<'_>, names: &Names) -> CrashLoopPolicy {
    let secs = std::time::Duration::from_secs;
    let policy = CrashLoopPolicy {
        threshold: reader.parse("crashloop_threshold", names, 5, value::count),
        window: reader.parse("crashloop_window", names, secs(60), value::seconds),
        delay: reader.parse("restart_delay", names, secs(1), value::seconds),
        delay_max: reader.parse("restart_delay_max", names, secs(300), value::seconds),
        reset: reader.parse("crashloop_reset", names, secs(600), value::seconds),
        giveup: reader
            .optional("crashloop_giveup", names, value::count)
            .filter(|restarts| *restarts > 0),
    };
    let longest = secs(MAX_CRASH_LOOP_SECONDS);
    for (option, value) in [
        ("crashloop_window", policy.window),
        ("restart_delay", policy.delay),
        ("restart_delay_max", policy.delay_max),
        ("crashloop_reset", policy.reset),
    ] {
        if value > longest {
            reader.error(
                Some(option),
                format!("{option} must be at most {MAX_CRASH_LOOP_SECONDS} seconds (a year)"),
            );
        }
    }
    if policy.delay_max < policy.delay {
        reader.error(
            Some("restart_delay_max"),
            format!(
                "restart_delay_max ({}s) must not be below restart_delay ({}s)",
                policy.delay_max.as_secs_f64(),
                policy.delay.as_secs_f64()
            ),
        );
    }
    if policy.threshold > 0 && policy.window.is_zero() {
        reader.error(
            Some("crashloop_window"),
            "crashloop_window must be above 0 while crashloop_threshold is set",
        );
    }
    policy
}

fn read_listener(reader: &mut SectionReader<'_>, names: &Names) -> ListenerConfig {
    if reader.section.get("events").is_none() {
        reader.error(None, format!("{} must specify events", reader.section.name));
    }
    let events = reader.parse("events", names, Vec::new(), |text| {
        value::list(text)
            .into_iter()
            .map(|event| {
                let upper = event.to_ascii_uppercase();
                if super::event_types::is_known_type(&upper) {
                    Ok(upper)
                } else {
                    Err(Invalid::UnknownEventType(event))
                }
            })
            .collect()
    });
    let buffer_size = reader.parse("buffer_size", names, 10, |text| {
        match value::count::<usize>(text)? {
            0 => Err(Invalid::NoBuffer),
            size => Ok(size),
        }
    });
    let result_handler = reader.parse("result_handler", names, ResultHandler::Default, |text| {
        ResultHandler::named(text).ok_or(Invalid::ResultHandler)
    });
    ListenerConfig {
        events,
        buffer_size,
        result_handler,
    }
}
