//! `vigilctl`: supervisorctl's commands, output and exit codes, over the same XML-RPC API
//! (so it works against vigild and Python supervisord alike), plus `status --json`, `status
//! -l` and `crashes` from vigil's own methods, and `wait` for processes to be RUNNING.
//!
//! It shares nothing with the daemon but the wire format: every fact comes from an API call.

pub mod client;
mod config;
mod crashes;
mod fleet;
mod groups;
mod help;
mod hosts;
mod logs;
mod processes;
mod reexec;
mod schedules;
mod shell;
mod top;
mod wait;

use std::path::PathBuf;

use client::{Client, ClientError};

use crate::namespec;
use crate::rpc::codec::Value;
use crate::rpc::faults::FaultCode;

/// supervisorctl's LSB exit codes.
mod exit {
    /// Generic failure.
    pub const GENERIC: i32 = 1;
    /// Invalid arguments.
    pub const INVALID_ARGS: i32 = 2;
    /// status: a process is not running.
    pub const NOT_RUNNING_STATUS: i32 = 3;
    /// status: unknown name or the server is unreachable; else connection refused.
    pub const UNKNOWN: i32 = 4;
    /// A program is dead (spawn error, abnormal termination, not running).
    pub const NOT_RUNNING: i32 = 7;
}

/// Where to connect and what to run.
#[derive(Debug, Clone, Default)]
pub struct CtlOptions {
    /// `-c FILE`: read `[supervisorctl]` from here (else the supervisord search path).
    pub configuration: Option<PathBuf>,
    /// `-s URL` (or a name from `[vigilctl] servers=`), once or more: several servers make
    /// `status`, `start`, `stop`, `restart` and `crashes` act on all of them.
    pub serverurl: Vec<String>,
    /// `-u USER`.
    pub username: Option<String>,
    /// `-p PASSWORD`.
    pub password: Option<String>,
    /// `-i`: the interactive shell after the command.
    pub interactive: bool,
    /// `-r FILE`: the shell's history file.
    pub history_file: Option<PathBuf>,
    /// `-t SECONDS` (vigil): how long connecting and each answer may take; `None` waits
    /// forever, as supervisorctl does.
    pub timeout: Option<std::time::Duration>,
    /// `--cacert FILE` (vigil): the CA certificates `https://` servers are checked against.
    pub cacert: Option<PathBuf>,
    /// `--client-cert FILE --client-key FILE` (vigil): for servers with `tls_client_ca`.
    pub client_identity: Option<(PathBuf, PathBuf)>,
    /// The command and its arguments; none starts the interactive shell.
    pub command: Vec<String>,
}

/// Every command, with what it does in a few words, for completions and the man page.
pub fn commands() -> Vec<(&'static str, String)> {
    help::commands()
        .into_iter()
        .map(|name| (name, help::summary(name)))
        .collect()
}

/// The commands, for `vigilctl --help` (`help <command>` tells more).
pub fn commands_help() -> String {
    format!(
        "Commands (vigilctl help <command> tells more):\n  {}",
        help::commands().join("  ")
    )
}

/// Runs one command; returns the exit code.
pub fn run(options: &CtlOptions) -> i32 {
    let Setup {
        mut servers,
        section,
        default_server,
    } = match setup(options) {
        Ok(found) => found,
        Err(message) => {
            eprintln!("Error: {message}");
            return exit::INVALID_ARGS;
        }
    };
    if servers.len() > 1 {
        return hosts::run(&servers, &options.command, options.interactive);
    }
    let Some((_, client)) = servers.pop() else {
        return exit::INVALID_ARGS;
    };
    let mut ctl = Ctl {
        client,
        exit: 0,
        default_server,
    };
    if let Some((command, args)) = options.command.split_first() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ctl.dispatch(command, &args);
        if !options.interactive {
            return ctl.exit;
        }
    }
    let prompt = section
        .as_ref()
        .map_or("supervisor", |s| s.prompt.as_str())
        .to_string();
    let history = options
        .history_file
        .clone()
        .or_else(|| section.and_then(|s| s.history_file));
    shell::run(&mut ctl, &prompt, history)
}

/// Why vigilctl could not work out which server to talk to (shown as `Error: …`, exit 2).
#[derive(Debug, thiserror::Error)]
enum SetupError {
    /// The current directory, which relative config paths need, is unreadable.
    #[error("{0}")]
    CurrentDir(#[source] std::io::Error),
    /// The config file has errors.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigErrors),
    /// A TLS file (`--cacert`, `--client-cert`, `--client-key`) does not serve.
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
}

/// What vigilctl talks to: each server with the name it shows, the config's
/// `[supervisorctl]` section if there is one, and whether the one server is supervisorctl's
/// default for want of anything naming one.
struct Setup {
    servers: Vec<(String, Client)>,
    section: Option<crate::config::CtlConfig>,
    default_server: bool,
}

fn setup(options: &CtlOptions) -> Result<Setup, SetupError> {
    use crate::config::{NamedServer, DEFAULT_SERVERURL};
    let cwd = std::env::current_dir().map_err(SetupError::CurrentDir)?;
    let env: Vec<(String, String)> = std::env::vars().collect();
    let file = if let Some(file) = &options.configuration {
        Some(file.clone())
    } else {
        let exe = std::env::current_exe().unwrap_or_default();
        crate::config::search_path(&exe, &cwd)
            .into_iter()
            .find(|p| p.is_file())
    };
    let section = match file {
        Some(file) => crate::config::load_ctl(&file, &cwd, &env)?,
        None => None,
    };
    let listed = section.as_ref().map_or(&[][..], |s| s.servers.as_slice());
    // `-s` takes a URL or a name from the list.
    let named: Vec<NamedServer> = if options.serverurl.is_empty() {
        if listed.is_empty() {
            let url = section
                .as_ref()
                .map_or(DEFAULT_SERVERURL, |s| s.serverurl.as_str());
            vec![NamedServer::by_address(url)]
        } else {
            listed.to_vec()
        }
    } else {
        options
            .serverurl
            .iter()
            .map(|given| {
                listed
                    .iter()
                    .find(|server| &server.name == given)
                    .cloned()
                    .unwrap_or_else(|| NamedServer::by_address(given))
            })
            .collect()
    };
    let username = options
        .username
        .clone()
        .or_else(|| section.as_ref().and_then(|s| s.username.clone()));
    let password = options
        .password
        .clone()
        .or_else(|| section.as_ref().and_then(|s| s.password.clone()));
    let tls = if named
        .iter()
        .any(|server| server.url.starts_with("https://"))
    {
        let wanted = crate::tls::client::ClientTls {
            cacert: options
                .cacert
                .clone()
                .or_else(|| section.as_ref().and_then(|s| s.cacert.clone())),
            identity: options
                .client_identity
                .clone()
                .or_else(|| section.as_ref().and_then(|s| s.client_identity.clone())),
        };
        Some(crate::tls::client::config(&wanted)?)
    } else {
        None
    };
    let mut named = named;
    let mut seen = std::collections::HashSet::new();
    named.retain(|server| seen.insert(server.url.clone()));
    let default_server = named.len() == 1
        && options.serverurl.is_empty()
        && named.iter().all(|server| server.url == DEFAULT_SERVERURL);
    let servers = named
        .into_iter()
        .map(|server| {
            let client = Client {
                serverurl: server.url,
                credentials: username
                    .clone()
                    .map(|user| (user, password.clone().unwrap_or_default())),
                timeout: options.timeout,
                tls: tls.clone(),
            };
            (server.name, client)
        })
        .collect();
    Ok(Setup {
        servers,
        section,
        default_server,
    })
}

struct Ctl {
    client: Client,
    exit: i32,
    /// Whether the server is supervisorctl's default (no `-s`, no `[supervisorctl]`).
    default_server: bool,
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Int(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn int(value: Option<&Value>) -> i64 {
    match value {
        Some(Value::Int(n)) => *n,
        _ => 0,
    }
}

/// An XML-RPC value as JSON (`--json` output); struct members come out sorted by name.
fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        Value::Int(n) => Json::from(*n),
        Value::Bool(b) => Json::from(*b),
        Value::Double(n) => Json::from(*n),
        Value::String(s) | Value::Base64(s) | Value::DateTime(s) => Json::from(s.as_str()),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Struct(members) => Json::Object(
            members
                .iter()
                .map(|(key, value)| (key.clone(), to_json(value)))
                .collect(),
        ),
        // Only vigild's own answers are pre-encoded; nothing parsed is.
        Value::Nil | Value::Encoded(_) => Json::Null,
    }
}

fn array(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        _ => Vec::new(),
    }
}

/// supervisorctl's words for a connect that failed with `err`.
fn connect_words(err: &std::io::Error) -> &'static str {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file",
        std::io::ErrorKind::PermissionDenied => "permission denied",
        _ => "refused connection",
    }
}

/// The exit code a result's fault `code` sets, as supervisorctl's
/// `set_exitstatus_from_xmlrpc_fault` (None: success, or the `ignored` refusal).
fn exit_for_fault(code: i64, ignored: FaultCode) -> Option<i32> {
    let dead = [
        FaultCode::SpawnError,
        FaultCode::AbnormalTermination,
        FaultCode::NotRunning,
    ];
    if code == ignored.code() || code == FaultCode::Success.code() {
        None
    } else if dead.iter().any(|f| f.code() == code) {
        Some(exit::NOT_RUNNING)
    } else {
        Some(exit::GENERIC)
    }
}

const STOPPED_STATES: [&str; 4] = ["STOPPED", "EXITED", "FATAL", "UNKNOWN"];

impl Ctl {
    fn dispatch(&mut self, command: &str, args: &[&str]) {
        // Unknown commands and help need no server.
        match command {
            "help" => {
                let Some(topic) = args.first() else {
                    println!("{}", help::list());
                    return;
                };
                if let Some(text) = help::of(topic) {
                    println!("{text}");
                } else {
                    println!("*** No help on {topic}");
                    self.exit = exit::GENERIC;
                }
                return;
            }
            "exit" | "quit" => return,
            _ if help::of(command).is_none() => {
                println!("*** Unknown syntax: {command}");
                self.exit = exit::GENERIC;
                return;
            }
            _ => {}
        }
        if !self.upcheck(command == "status") {
            return;
        }
        match command {
            "status" => self.status(args),
            "start" => self.start(args),
            "stop" => self.stop_like(args, "stop"),
            "restart" if args.contains(&"--rolling") => self.rolling_restart(args),
            "restart" => {
                if args.is_empty() {
                    println!("Error: restart requires a process name");
                    println!("{}", help::of("restart").unwrap_or_default());
                    self.exit = exit::GENERIC;
                    return;
                }
                self.stop_like(args, "stop");
                self.start(args);
            }
            "signal" => self.signal(args),
            "reload-program" => self.reload_program(args),
            "clear" => self.stop_like(args, "clear"),
            "pid" => self.pid(args),
            "version" => self.simple("supervisor.getSupervisorVersion"),
            "shutdown" => match self.client.call("supervisor.shutdown", &[]) {
                Ok(_) => println!("Shut down"),
                Err(err) => self.fail(&err),
            },
            "reload" => match self.client.call("supervisor.restart", &[]) {
                Ok(_) => println!("Restarted supervisord"),
                Err(err) => self.fail(&err),
            },
            "avail" => self.avail(),
            "reread" => {
                if let Some((added, changed, removed)) = self.reread() {
                    let mut lines: Vec<(String, &str)> = added
                        .into_iter()
                        .map(|n| (n, "available"))
                        .chain(changed.into_iter().map(|n| (n, "changed")))
                        .chain(removed.into_iter().map(|n| (n, "disappeared")))
                        .collect();
                    lines.sort();
                    if lines.is_empty() {
                        println!("No config updates to processes");
                    }
                    for (name, what) in lines {
                        println!("{name}: {what}");
                    }
                }
            }
            "update" => self.update(args),
            "add" | "remove" => self.add_remove(command, args),
            "tail" => self.tail(args),
            "fg" => self.fg(args),
            "maintail" => self.maintail(args),
            "crashes" => self.crashes(args),
            "wait" => self.wait(args),
            "rotate" => self.rotate(args),
            "schedules" => self.schedules(args),
            "scale" => self.scale(args),
            "config" => self.config(args),
            "top" => self.top(args),
            "reexec" => self.reexec(args),
            other => {
                println!("*** Unknown syntax: {other}");
                self.exit = exit::GENERIC;
            }
        }
    }

    /// supervisorctl's upcheck: the server answers with API version 3.0.
    fn upcheck(&mut self, for_status: bool) -> bool {
        let outcome = self.client.call("supervisor.getVersion", &[]);
        let fail_code = |code: i32| if for_status { exit::UNKNOWN } else { code };
        match outcome {
            Ok(Value::String(version)) if version == crate::rpc::API_VERSION => true,
            Ok(_) => {
                println!("Sorry, this version of vigilctl expects to talk to a server with API version 3.0");
                self.exit = fail_code(5);
                false
            }
            Err(ClientError::Connect(err)) => {
                println!("{}", self.connect_failure(&err));
                self.exit = fail_code(if err.kind() == std::io::ErrorKind::NotFound {
                    exit::NOT_RUNNING
                } else {
                    exit::UNKNOWN
                });
                false
            }
            Err(ClientError::Unauthorized) => {
                let next = if self.client.credentials.is_some() {
                    "the username or password is wrong (-u/-p, or username= and password= in [supervisorctl])"
                } else {
                    "give -u USER -p PASSWORD, or username= and password= in [supervisorctl]"
                };
                println!("Server requires authentication: {next}");
                self.exit = fail_code(exit::GENERIC);
                false
            }
            Err(err) => {
                println!("ERROR: {err}");
                self.exit = fail_code(exit::GENERIC);
                false
            }
        }
    }

    /// supervisorctl's words for a failed connect, then what to do next, on one line.
    fn connect_failure(&self, err: &std::io::Error) -> String {
        let url = &self.client.serverurl;
        let which = if self.default_server {
            "no -s and no [supervisorctl] serverurl, so this is supervisorctl's default; -c FILE or -s URL names the server"
        } else {
            "-c FILE or -s URL names another server"
        };
        let words = connect_words(err);
        match err.kind() {
            std::io::ErrorKind::PermissionDenied => format!(
                "{url} {words}: run vigilctl as a user who may open the socket \
                 (root, or the owner chown= in [unix_http_server] gives it)"
            ),
            _ => format!("{url} {words}: is vigild running? ({which})"),
        }
    }

    fn fail(&mut self, err: &ClientError) {
        println!("ERROR: {err}");
        self.exit = exit::GENERIC;
    }

    fn simple(&mut self, method: &str) {
        match self.client.call(method, &[]) {
            Ok(value) => println!("{}", text(Some(&value))),
            Err(err) => self.fail(&err),
        }
    }

    /// supervisorctl's `set_exitstatus_from_xmlrpc_fault`.
    fn exit_from_fault(&mut self, code: i64, ignored: FaultCode) {
        if let Some(failed) = exit_for_fault(code, ignored) {
            self.exit = failed;
        }
    }

    fn process_infos(&mut self) -> Option<Vec<Value>> {
        match self.client.call("supervisor.getAllProcessInfo", &[]) {
            Ok(value) => Some(array(value)),
            Err(err) => {
                self.fail(&err);
                None
            }
        }
    }

    /// `vigil.getAllProcessStats` by namespec, or None (with a note) from a daemon that does
    /// not offer it, such as Python supervisord.
    fn process_stats(&mut self) -> Option<std::collections::HashMap<String, Value>> {
        if let Ok(value) = self.client.call("vigil.getAllProcessStats", &[]) {
            Some(
                array(value)
                    .into_iter()
                    .map(|stats| {
                        let spec =
                            namespec::of(&text(stats.member("group")), &text(stats.member("name")));
                        (spec, stats)
                    })
                    .collect(),
            )
        } else {
            eprintln!("(this server offers no process stats: showing the plain status)");
            None
        }
    }
}

fn double(value: Option<&Value>) -> f64 {
    match value {
        Some(Value::Double(n)) => *n,
        Some(Value::Int(n)) => *n as f64,
        _ => 0.0,
    }
}
