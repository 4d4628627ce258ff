//! Raw sections → typed config: `[supervisord]`, the server sections, `[group:x]` assembly,
//! unknown-option warnings, and the [`SectionReader`] that every section parser uses to
//! expand, parse and collect located errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::diagnostic::{ConfigErrors, Diagnostic};
use super::expand::{expand, Names};
use super::ini::{self, RawDoc, RawOption, RawSection};
use super::invalid::Invalid;
use super::known;
use super::program;
use super::value;
use super::{
    Config, Credentials, CtlConfig, InetHttpServer, Loaded, LogLevel, MainLog, MetricsServer,
    NamedServer, Overrides, SupervisordConfig, TlsFiles, UnixHttpServer, UserSpec,
};

/// Where syslog(3) sends: the local syslog socket.
const SYSLOG_SOCKET: &str = "/dev/log";
/// The journal's native protocol socket.
const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// Reads options of one section: expands them with a set of names, parses them, and records a
/// located error (keeping a default) when a value is bad, so all errors are reported at once.
pub(super) struct SectionReader<'a> {
    pub section: &'a RawSection,
    pub errors: &'a mut Vec<Diagnostic>,
}

impl SectionReader<'_> {
    /// The expanded text of `key`, or `None` if absent (or unexpandable, which is recorded).
    pub fn text(&mut self, key: &str, names: &Names) -> Option<String> {
        let option = self.section.get(key)?;
        match expand(&option.value, names) {
            Ok(text) => Some(text),
            Err(why) => {
                self.fail(Some(option), why.to_string());
                None
            }
        }
    }

    /// `key` parsed by `parse`, or `default` when absent or bad (bad is recorded).
    pub fn parse<T>(
        &mut self,
        key: &str,
        names: &Names,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> T {
        let Some(text) = self.text(key, names) else {
            return default;
        };
        match parse(&text) {
            Ok(value) => value,
            Err(why) => {
                let option = self.section.get(key);
                self.fail(option, why.to_string());
                default
            }
        }
    }

    /// `key` parsed as an optional value: absent → `None`.
    pub fn optional<T>(
        &mut self,
        key: &str,
        names: &Names,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Option<T> {
        self.parse(key, names, None, |text| parse(text).map(Some))
    }

    /// Records an error about `key` (or the whole section).
    pub fn error(&mut self, key: Option<&str>, why: impl Into<String>) {
        let option = key.and_then(|k| self.section.get(k));
        self.fail(option, why.into());
    }

    /// Records an error about the secret `key`, naming the option but not its value.
    pub fn secret_error(&mut self, key: &str, why: impl Into<String>) {
        let mut location = self.section.location(self.section.get(key));
        location.value = None;
        self.errors.push(Diagnostic::new(location, why.into()));
    }

    fn fail(&mut self, option: Option<&RawOption>, why: String) {
        self.errors
            .push(Diagnostic::new(self.section.location(option), why));
    }
}

/// Everything the resolvers need besides the raw document.
pub(super) struct Context {
    /// `ENV_*`: vigild's environment plus `[supervisord] environment`.
    pub env: BTreeMap<String, String>,
    /// `platform.node()`.
    pub host_node_name: String,
    /// The `SUPERVISOR_SERVER_URL` that `serverurl=AUTO` stands for.
    pub auto_serverurl: Option<String>,
    /// vigild's working directory at startup: relative paths are taken from here, as Python's
    /// `os.path.abspath` does.
    pub cwd: PathBuf,
    /// vigil's scaled groups.
    pub scaling: super::Scaling,
    /// vigild's local time zone for schedules, or why it cannot be named (UTC then).
    pub local_zone: Result<chrono_tz::Tz, String>,
    /// The CPUs this host has (`cpu_affinity` may name only those).
    pub cpus: u32,
    /// Whether this process runs as `[supervisord] user=`, a user other than root: a vigild
    /// that gave up root, reading its config again (its TLS key may be root's alone).
    pub runs_as_user: bool,
}

impl Context {
    /// The names every option of `section` may use: `here`, `host_node_name` and `ENV_*`.
    pub fn base_names(&self, section: &RawSection) -> Names {
        let mut names = Names::default();
        names
            .environment(&self.env)
            .text("here", section.here().to_string_lossy())
            .text("host_node_name", self.host_node_name.clone());
        names
    }
}

/// Reads `file` and its includes with the names `[include] files=` may use (`ENV_*` from
/// `env`, `host_node_name`); returns the document, its warnings and the host's name.
pub(super) fn read_doc(
    file: &Path,
    env: &BTreeMap<String, String>,
) -> Result<(ini::RawDoc, Vec<Diagnostic>, String), Diagnostic> {
    let host_node_name = nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_default();
    let mut include_names = Names::default();
    include_names
        .environment(env)
        .text("host_node_name", host_node_name.clone());
    let (doc, warnings) = ini::read(file, &include_names)?;
    Ok((doc, warnings, host_node_name))
}

pub(super) fn load(
    file: &Path,
    overrides: &Overrides,
    cwd: &Path,
    env: &[(String, String)],
) -> Result<Loaded, ConfigErrors> {
    let mut process_env: BTreeMap<String, String> = env.iter().cloned().collect();
    let (doc, mut warnings, host_node_name) =
        read_doc(file, &process_env).map_err(|diagnostic| ConfigErrors(vec![diagnostic]))?;

    let mut errors = Vec::new();
    let Some(mut supervisord_section) = doc.section("supervisord").cloned() else {
        return Err(ConfigErrors(vec![Diagnostic::new(
            super::Location::file(file),
            ".ini file does not include supervisord section",
        )]));
    };
    for (key, value) in &overrides.supervisord {
        // Flag values are taken literally, not expanded.
        supervisord_section.set(RawOption {
            key: (*key).to_string(),
            value: value.replace('%', "%%"),
            line: None,
        });
    }
    let mut ctx = Context {
        env: process_env.clone(),
        host_node_name,
        auto_serverurl: None,
        cwd: cwd.to_path_buf(),
        scaling: overrides.scaling.clone(),
        local_zone: super::schedule::local_zone(
            env.iter()
                .find(|(key, _)| key == "TZ")
                .map(|(_, tz)| tz.as_str()),
        ),
        cpus: super::controls::host_cpus(),
        runs_as_user: false,
    };
    let supervisord = read_supervisord(&supervisord_section, &ctx, cwd, &mut errors);
    let euid = nix::unistd::geteuid();
    ctx.runs_as_user = !euid.is_root()
        && supervisord
            .user
            .as_ref()
            .is_some_and(|user| user.uid == euid.as_raw());
    process_env.extend(supervisord.environment.iter().cloned());
    ctx.env = process_env;

    let unix_http_server = doc
        .section("unix_http_server")
        .map(|section| read_unix_server(section, &ctx, &mut errors));
    let inet_http_server = doc
        .section("inet_http_server")
        .map(|section| read_inet_server(section, &ctx, &mut errors));
    ctx.auto_serverurl = auto_serverurl(unix_http_server.as_ref(), inet_http_server.as_ref());
    let supervisorctl = doc
        .section("supervisorctl")
        .map(|section| read_ctl(section, &ctx, &mut errors));
    let metrics_server = doc
        .section("metrics")
        .map(|section| read_metrics_server(section, &ctx, &mut errors));

    check_plugin_sections(&doc, &mut errors);
    warn_unknown(&doc, &mut warnings);

    let heterogeneous = read_group_sections(&doc, &ctx, &mut errors);
    let groups = program::read_all(&doc, &ctx, &heterogeneous, &mut errors, &mut warnings);
    // numprocs > 1 repeats per-process errors: report each once.
    let mut seen = std::collections::HashSet::new();
    errors.retain(|diagnostic| seen.insert(diagnostic.to_string()));

    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(Loaded {
        config: Config {
            file: file.to_path_buf(),
            supervisord,
            groups,
            unix_http_server,
            inet_http_server,
            supervisorctl,
            metrics_server,
        },
        warnings,
    })
}

fn read_supervisord(
    section: &RawSection,
    ctx: &Context,
    cwd: &Path,
    errors: &mut Vec<Diagnostic>,
) -> SupervisordConfig {
    let names = ctx.base_names(section);
    let mut reader = SectionReader { section, errors };
    let mut env_names = names.clone();
    env_names.text("host_node_name", ctx.host_node_name.clone());
    let environment = reader.parse(
        "environment",
        &env_names,
        Vec::new(),
        value::key_value_pairs,
    );
    let logfile = reader.parse(
        "logfile",
        &names,
        MainLog::File(cwd.join("supervisord.log")),
        |text| {
            if text.trim().eq_ignore_ascii_case("syslog") {
                Ok(MainLog::Syslog)
            } else if text.trim().eq_ignore_ascii_case("journald") {
                Ok(MainLog::Journald)
            } else {
                existing_dirpath(text, cwd).map(MainLog::File)
            }
        },
    );
    SupervisordConfig {
        logfile,
        logfile_maxbytes: reader.parse("logfile_maxbytes", &names, 50 << 20, value::byte_size),
        logfile_backups: reader.parse("logfile_backups", &names, 10, value::count),
        logfile_rotate: reader.optional("logfile_rotate", &names, value::rotate_every),
        logfile_compress: reader.optional("logfile_compress", &names, value::compress),
        logformat_json: reader.parse("logformat", &names, false, value::json_format),
        loglevel: reader.parse("loglevel", &names, LogLevel::Info, log_level),
        pidfile: reader.parse("pidfile", &names, cwd.join("supervisord.pid"), |text| {
            existing_dirpath(text, cwd)
        }),
        umask: reader.parse("umask", &names, 0o22, value::octal),
        nodaemon: reader.parse("nodaemon", &names, false, value::boolean),
        silent: reader.parse("silent", &names, false, value::boolean),
        minfds: reader.parse("minfds", &names, 1024, value::count),
        minprocs: reader.parse("minprocs", &names, 200, value::count),
        nocleanup: reader.parse("nocleanup", &names, false, value::boolean),
        childlogdir: reader.parse("childlogdir", &names, std::env::temp_dir(), |text| {
            existing_directory(text, cwd)
        }),
        user: reader.optional("user", &names, user_spec),
        directory: reader.optional("directory", &names, |text| existing_directory(text, cwd)),
        strip_ansi: reader.parse("strip_ansi", &names, false, value::boolean),
        environment,
        identifier: reader.parse("identifier", &names, "supervisor".to_string(), |text| {
            Ok(text.to_string())
        }),
        sample_interval: reader.parse(
            "sample_interval",
            &names,
            std::time::Duration::from_secs(5),
            value::seconds,
        ),
        statefile: reader.optional("statefile", &names, |text| existing_dirpath(text, cwd)),
        cgroup_root: reader
            .text("cgroup_root", &names)
            .map(|text| text.trim().to_string())
            .filter(|text| !text.is_empty()),
        syslog_socket: reader.parse(
            "syslog_socket",
            &names,
            PathBuf::from(SYSLOG_SOCKET),
            |text| Ok(absolute(Path::new(text.trim()), cwd)),
        ),
        journal_socket: reader.parse(
            "journal_socket",
            &names,
            PathBuf::from(JOURNAL_SOCKET),
            |text| Ok(absolute(Path::new(text.trim()), cwd)),
        ),
    }
}

fn read_unix_server(
    section: &RawSection,
    ctx: &Context,
    errors: &mut Vec<Diagnostic>,
) -> UnixHttpServer {
    let names = ctx.base_names(section);
    let mut reader = SectionReader { section, errors };
    let file = reader.text("file", &names);
    if file.is_none() && section.get("file").is_none() {
        reader.error(None, "section [unix_http_server] has no file value");
    }
    let file = PathBuf::from(file.unwrap_or_default().trim());
    let auth = read_credentials(&mut reader, &names);
    UnixHttpServer {
        file: absolute(&file, &ctx.cwd),
        chmod: reader.parse("chmod", &names, 0o700, value::octal),
        chown: reader.optional("chown", &names, owner),
        readonly: read_readonly(&mut reader, &names, auth.as_ref()),
        auth,
    }
}

fn read_inet_server(
    section: &RawSection,
    ctx: &Context,
    errors: &mut Vec<Diagnostic>,
) -> InetHttpServer {
    let names = ctx.base_names(section);
    let mut reader = SectionReader { section, errors };
    let (host, port) = read_port(&mut reader, &names);
    let auth = read_credentials(&mut reader, &names);
    InetHttpServer {
        host,
        port,
        readonly: read_readonly(&mut reader, &names, auth.as_ref()),
        auth,
        metrics_auth: reader.parse("metrics_auth", &names, true, value::boolean),
        token: read_token(&mut reader, &names, "token_file", &ctx.cwd),
        readonly_token: read_token(&mut reader, &names, "readonly_token_file", &ctx.cwd),
        tls: read_tls(&mut reader, &names, ctx),
    }
}

/// `tls_cert=`, `tls_key=` and `tls_client_ca=`: the first two together or neither, and
/// the files loaded once here, so a missing file, a key that is not the certificate's or
/// an expired certificate is an error naming the option and the file (`--check-config`
/// and a reexec's pre-flight see it too). A file this process may not read is taken
/// unread when it runs as `user=` (not root): a vigild that gave up root reads its config
/// again on SIGHUP, `reread` and `update`, and its key may be root's alone (the reload of
/// the certificates keeps the one in use and says why; a start loads them as root, a
/// reexec's pre-flight as the new image would).
fn read_tls(reader: &mut SectionReader<'_>, names: &Names, ctx: &Context) -> Option<TlsFiles> {
    let client_ca = read_path(reader, names, "tls_client_ca", &ctx.cwd);
    let Some((cert, key)) = read_path_pair(reader, names, ["tls_cert", "tls_key"], &ctx.cwd) else {
        if client_ca.is_some() {
            reader.error(
                Some("tls_client_ca"),
                "tls_client_ca needs tls_cert and tls_key",
            );
        }
        return None;
    };
    let files = TlsFiles {
        cert,
        key,
        client_ca,
    };
    match crate::tls::server_config(&files) {
        Ok(_) => Some(files),
        Err(err) if err.is_permission_denied() && ctx.runs_as_user => Some(files),
        Err(err) => {
            reader.error(Some(err.option()), err.to_string());
            None
        }
    }
}

/// A bearer token from the file option `key` names: its contents without the surrounding
/// whitespace (a trailing newline, as Prometheus reads `bearer_token_file`); an unreadable
/// or empty file is an error naming it.
fn read_token(
    reader: &mut SectionReader<'_>,
    names: &Names,
    key: &str,
    cwd: &Path,
) -> Option<String> {
    let path = absolute(Path::new(&reader.text(key, names)?), cwd);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
        Ok(_) => {
            reader.error(Some(key), format!("{} is empty", path.display()));
            None
        }
        Err(err) => {
            reader.error(Some(key), format!("cannot read {}: {err}", path.display()));
            None
        }
    }
}

fn read_metrics_server(
    section: &RawSection,
    ctx: &Context,
    errors: &mut Vec<Diagnostic>,
) -> MetricsServer {
    let names = ctx.base_names(section);
    let mut reader = SectionReader { section, errors };
    let (host, port) = read_port(&mut reader, &names);
    MetricsServer {
        host,
        port,
        auth: read_credentials(&mut reader, &names),
        bearer_token: read_token(&mut reader, &names, "bearer_token_file", &ctx.cwd),
        tls: read_tls(&mut reader, &names, ctx),
    }
}

/// The required `port=host:port` of a TCP server section.
fn read_port(reader: &mut SectionReader<'_>, names: &Names) -> (String, u16) {
    if reader.section.get("port").is_none() {
        let name = reader.section.name.clone();
        reader.error(None, format!("section [{name}] has no port value"));
    }
    reader.parse("port", names, (String::new(), 0), inet_address)
}

fn read_credentials(reader: &mut SectionReader<'_>, names: &Names) -> Option<Credentials> {
    let username = reader.text("username", names);
    let password = reader.text("password", names);
    match (username, password) {
        (Some(username), Some(password)) => Some(Credentials { username, password }),
        (None, None) => None,
        _ => {
            let name = reader.section.name.clone();
            reader.error(
                None,
                format!(
                    "section [{name}] contains incomplete authentication: if a username or a \
                     password is specified, both the username and password must be specified"
                ),
            );
            None
        }
    }
}

/// vigil's read-only account, `readonly_username` and `readonly_password` (plain or `{SHA}`
/// + 40 hex digits), beside the full account `full` and named differently.
fn read_readonly(
    reader: &mut SectionReader<'_>,
    names: &Names,
    full: Option<&Credentials>,
) -> Option<Credentials> {
    let username = reader.text("readonly_username", names);
    let password = reader.text("readonly_password", names);
    let (username, password) = match (username, password) {
        (None, None) => return None,
        (Some(username), Some(password)) => (username, password),
        (Some(_), None) => {
            reader.error(
                Some("readonly_username"),
                "readonly_password is missing: a read-only account needs both",
            );
            return None;
        }
        (None, Some(_)) => {
            reader.secret_error(
                "readonly_password",
                "readonly_username is missing: a read-only account needs both",
            );
            return None;
        }
    };
    let problem = if username.is_empty() {
        Some("the read-only account needs a name")
    } else if full.is_none() {
        Some(
            "a read-only account needs the full account (username and password) beside it: \
             without that every client has full access",
        )
    } else if full.is_some_and(|full| full.username == username) {
        Some("the full account has this username too: the two accounts need different names")
    } else {
        None
    };
    if let Some(why) = problem {
        reader.error(Some("readonly_username"), why);
        return None;
    }
    if let Some(hex) = password.strip_prefix("{SHA}") {
        if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            reader.secret_error(
                "readonly_password",
                "a {SHA} password is {SHA} followed by the 40 hex digits of the SHA-1 of \
                 the password",
            );
            return None;
        }
    }
    Some(Credentials { username, password })
}

fn read_ctl(section: &RawSection, ctx: &Context, errors: &mut Vec<Diagnostic>) -> CtlConfig {
    let names = ctx.base_names(section);
    let mut reader = SectionReader { section, errors };
    let cacert = read_path(&mut reader, &names, "cacert", &ctx.cwd);
    let client_identity =
        read_path_pair(&mut reader, &names, ["client_cert", "client_key"], &ctx.cwd);
    let unset = CtlConfig::default();
    CtlConfig {
        serverurl: reader.text("serverurl", &names).unwrap_or(unset.serverurl),
        username: reader.text("username", &names),
        password: reader.text("password", &names),
        prompt: reader.text("prompt", &names).unwrap_or(unset.prompt),
        history_file: reader.text("history_file", &names).map(PathBuf::from),
        cacert,
        client_identity,
        servers: Vec::new(),
    }
}

/// A file option's path, made absolute against `cwd`.
fn read_path(
    reader: &mut SectionReader<'_>,
    names: &Names,
    key: &str,
    cwd: &Path,
) -> Option<PathBuf> {
    reader
        .text(key, names)
        .map(|text| absolute(Path::new(text.trim()), cwd))
}

/// Two file options that go together (a certificate and its key): both or neither, one
/// without the other an error naming it.
fn read_path_pair(
    reader: &mut SectionReader<'_>,
    names: &Names,
    [first, second]: [&str; 2],
    cwd: &Path,
) -> Option<(PathBuf, PathBuf)> {
    match (
        read_path(reader, names, first, cwd),
        read_path(reader, names, second, cwd),
    ) {
        (Some(a), Some(b)) => Some((a, b)),
        (None, None) => None,
        (Some(_), None) => {
            reader.error(Some(first), format!("{first} needs {second}"));
            None
        }
        (None, Some(_)) => {
            reader.error(Some(second), format!("{second} needs {first}"));
            None
        }
    }
}

/// `[vigilctl] servers=`: entries one per line or between commas, each `name = URL` or a
/// bare URL (named by its address, as vigilctl shows `-s` URLs).
fn read_servers(
    section: &RawSection,
    ctx: &Context,
    errors: &mut Vec<Diagnostic>,
) -> Vec<NamedServer> {
    let names = ctx.base_names(section);
    let mut reader = SectionReader { section, errors };
    let Some(text) = reader.text("servers", &names) else {
        return Vec::new();
    };
    let mut servers: Vec<NamedServer> = Vec::new();
    for entry in text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let (listed, server) = match entry.split_once('=') {
            Some((name, url)) => {
                let (name, url) = (name.trim().to_string(), url.trim().to_string());
                (true, NamedServer { name, url })
            }
            None => (false, NamedServer::by_address(entry)),
        };
        let NamedServer { name, url } = &server;
        if listed && (name.contains(':') || name == "all") {
            // `name:process` aims a command at one server: the name must end at its colon.
            reader.error(
                Some("servers"),
                format!("{name:?}: a server's name may not be \"all\" or hold a colon"),
            );
        } else if name.is_empty() || !super::SERVER_SCHEMES.iter().any(|s| url.starts_with(s)) {
            reader.error(
                Some("servers"),
                format!("{entry:?} is not NAME = URL (unix://, http:// or https://)"),
            );
        } else if servers.iter().any(|s| s.name == *name) {
            reader.error(Some("servers"), format!("{name} is named twice"));
        } else {
            servers.push(server);
        }
    }
    servers
}

/// `SUPERVISOR_SERVER_URL` for `serverurl=AUTO`: the unix server first, else the inet one.
fn auto_serverurl(unix: Option<&UnixHttpServer>, inet: Option<&InetHttpServer>) -> Option<String> {
    if let Some(unix) = unix {
        return Some(format!("unix://{}", unix.file.display()));
    }
    inet.map(|inet| {
        let host = if inet.host.is_empty() {
            "localhost"
        } else {
            &inet.host
        };
        // vigil: a TLS port is reached over https (vigilctl; supervisorctl cannot).
        let scheme = if inet.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{host}:{}", inet.port)
    })
}

/// `[rpcinterface:x]` and `[ctlplugin:x]` must name their factory; vigil serves the
/// `supervisor` namespace natively and cannot load Python factories.
fn check_plugin_sections(doc: &RawDoc, errors: &mut Vec<Diagnostic>) {
    for section in &doc.sections {
        let required = if section.name.starts_with("rpcinterface:") {
            "supervisor.rpcinterface_factory"
        } else if section.name.starts_with("ctlplugin:") {
            "supervisor.ctl_factory"
        } else {
            continue;
        };
        if section.get(required).is_none() {
            errors.push(Diagnostic::new(
                section.location(None),
                format!("section [{}] does not specify a {required}", section.name),
            ));
        }
    }
}

/// A `[group:x]` section: its name, priority and member sections, in `programs=` order.
pub(super) struct HeterogeneousGroup {
    pub name: String,
    pub priority: i32,
    /// vigil: `essential=true` on the group, the default of its members.
    pub essential: bool,
    /// Names of the member sections (`program:a` or `fcgi-program:a`).
    pub members: Vec<String>,
}

fn read_group_sections(
    doc: &RawDoc,
    ctx: &Context,
    errors: &mut Vec<Diagnostic>,
) -> Vec<HeterogeneousGroup> {
    let mut groups = Vec::new();
    for section in &doc.sections {
        let Some(name) = section.name.strip_prefix("group:") else {
            continue;
        };
        let names = ctx.base_names(section);
        let mut reader = SectionReader { section, errors };
        if let Err(why) = value::name(name) {
            reader.error(None, format!("bad group name '{name}': {why}"));
            continue;
        }
        let priority = reader.parse("priority", &names, 999, priority);
        let essential = reader.parse("essential", &names, false, value::boolean);
        let Some(programs) = reader.text("programs", &names) else {
            if section.get("programs").is_none() {
                reader.error(
                    None,
                    format!("group section [{}] does not specify programs", section.name),
                );
            }
            continue;
        };
        let mut members = Vec::new();
        for program in value::list(&programs) {
            let as_program = format!("program:{program}");
            let as_fcgi = format!("fcgi-program:{program}");
            match (
                doc.section(&as_program).is_some(),
                doc.section(&as_fcgi).is_some(),
            ) {
                (true, true) => reader.error(
                    Some("programs"),
                    format!(
                        "[{}] name {program} is ambiguous (exists as program and fcgi-program)",
                        section.name
                    ),
                ),
                (false, false) => reader.error(
                    Some("programs"),
                    format!(
                        "[{}] names unknown program or fcgi-program {program}",
                        section.name
                    ),
                ),
                (true, false) => members.push(as_program),
                (false, true) => members.push(as_fcgi),
            }
        }
        groups.push(HeterogeneousGroup {
            name: name.to_string(),
            priority,
            essential,
            members,
        });
    }
    groups
}

/// Warns about options and sections supervisord would silently ignore.
fn warn_unknown(doc: &RawDoc, warnings: &mut Vec<Diagnostic>) {
    for section in &doc.sections {
        let kind = section.name.split(':').next().unwrap_or_default();
        if matches!(kind, "rpcinterface" | "ctlplugin") {
            continue;
        }
        let Some(known) = known::options(kind) else {
            // `[progam:app]` → did you mean `[program:app]`?
            let rest = section.name.strip_prefix(kind).unwrap_or_default();
            let hint = known::suggestion(kind, known::SECTION_KINDS.iter().copied())
                .map(|near| format!(" (did you mean [{near}{rest}]?)"))
                .unwrap_or_default();
            warnings.push(Diagnostic::new(
                section.location(None),
                format!("unknown section [{}] is ignored{hint}", section.name),
            ));
            continue;
        };
        let known: Vec<&str> = known.into_iter().map(|(name, _)| name).collect();
        for option in &section.options {
            if known.contains(&option.key.as_str()) {
                continue;
            }
            let hint = known::suggestion(&option.key, known.iter().copied())
                .map(|near| format!(" (did you mean '{near}'?)"))
                .unwrap_or_default();
            warnings.push(Diagnostic::new(
                section.location(Some(option)),
                format!("unknown option '{}' is ignored{hint}", option.key),
            ));
        }
    }
}

/// A priority: any integer that fits `i32`.
pub(super) fn priority(text: &str) -> Result<i32, Invalid> {
    i32::try_from(value::integer(text)?).map_err(|_| Invalid::PriorityOutOfRange)
}

fn log_level(text: &str) -> Result<LogLevel, Invalid> {
    Ok(match text.trim().to_ascii_lowercase().as_str() {
        "critical" => LogLevel::Critical,
        "error" => LogLevel::Error,
        "warn" => LogLevel::Warn,
        "info" => LogLevel::Info,
        "debug" => LogLevel::Debug,
        "trace" => LogLevel::Trace,
        "blather" => LogLevel::Blather,
        _ => return Err(Invalid::NotLogLevel),
    })
}

/// `user` as a name or a uid, resolved with its groups; unknown users are config errors.
pub(super) fn user_spec(text: &str) -> Result<UserSpec, Invalid> {
    use nix::unistd::{getgrouplist, Gid, Uid, User};
    let name = text.trim();
    let user = match name.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)),
        Err(_) => User::from_name(name),
    }
    .map_err(|err| Invalid::UserLookup {
        name: name.to_string(),
        error: err.to_string(),
    })?
    .ok_or_else(|| Invalid::NoSuchUser(name.to_string()))?;
    let groups = std::ffi::CString::new(user.name.clone())
        .ok()
        .and_then(|cname| getgrouplist(&cname, user.gid).ok())
        .unwrap_or_else(|| vec![user.gid]);
    Ok(UserSpec {
        name: name.to_string(),
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups: groups.into_iter().map(Gid::as_raw).collect(),
    })
}

/// `user[:group]` as used by chown and socket_owner.
pub(super) fn owner(text: &str) -> Result<(u32, u32), Invalid> {
    let (user, group) = match text.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (text, None),
    };
    let spec = user_spec(user)?;
    let gid = match group {
        None => spec.gid,
        Some(group) => match group.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => nix::unistd::Group::from_name(group)
                .map_err(|err| Invalid::GroupLookup {
                    name: group.to_string(),
                    error: err.to_string(),
                })?
                .ok_or_else(|| Invalid::NoSuchGroup(group.to_string()))?
                .gid
                .as_raw(),
        },
    };
    Ok((spec.uid, gid))
}

/// `host:port`, `*:port`, `:port` or a bare port.
fn inet_address(text: &str) -> Result<(String, u16), Invalid> {
    let text = text.trim();
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) => (host, port),
        None => ("", text),
    };
    let host = if host == "*" { "" } else { host };
    let port = port.parse::<u16>().map_err(|_| Invalid::NotInetPort)?;
    Ok((host.to_ascii_lowercase(), port))
}

/// A file path whose directory must exist, as supervisord's `existing_dirpath`.
pub(super) fn existing_dirpath(text: &str, base: &Path) -> Result<PathBuf, Invalid> {
    let path = absolute(&expand_user(text.trim()), base);
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
            Err(Invalid::NoSuchParent(path))
        }
        _ => Ok(path),
    }
}

/// A directory that must exist, as supervisord's `existing_directory`.
pub(super) fn existing_directory(text: &str, base: &Path) -> Result<PathBuf, Invalid> {
    let path = absolute(&expand_user(text.trim()), base);
    if path.is_dir() {
        Ok(path)
    } else {
        Err(Invalid::NoSuchDirectory(path))
    }
}

fn expand_user(text: &str) -> PathBuf {
    match (text.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(text),
    }
}

/// `path` made absolute against `base`.
pub(super) fn absolute(path: &Path, base: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// Reads only `[supervisorctl]` (and the includes) of `file`, as supervisorctl does: the
/// other sections are not its business.
pub(super) fn load_ctl(
    file: &Path,
    cwd: &Path,
    env: &[(String, String)],
) -> Result<Option<CtlConfig>, ConfigErrors> {
    let env: BTreeMap<String, String> = env.iter().cloned().collect();
    let (doc, _, host_node_name) =
        read_doc(file, &env).map_err(|diagnostic| ConfigErrors(vec![diagnostic]))?;
    let ctx = Context {
        env,
        host_node_name,
        auto_serverurl: None,
        cwd: cwd.to_path_buf(),
        scaling: super::Scaling::default(),
        local_zone: Ok(chrono_tz::UTC),
        cpus: 1,
        runs_as_user: false,
    };
    let mut errors = Vec::new();
    let mut ctl = doc
        .section("supervisorctl")
        .map(|section| read_ctl(section, &ctx, &mut errors));
    if let Some(section) = doc.section("vigilctl") {
        let servers = read_servers(section, &ctx, &mut errors);
        ctl.get_or_insert_with(CtlConfig::default).servers = servers;
    }
    if errors.is_empty() {
        Ok(ctl)
    } else {
        Err(ConfigErrors(errors))
    }
}
