//! `vigild --check-config --migrate`: what a supervisord.conf does differently under vigil.
//! From the raw sections: Python plugins vigil cannot load (`[rpcinterface:x]` beyond
//! supervisor's, `[ctlplugin:x]`), result handlers and plugin options vigil does natively,
//! and the options only vigil acts on; from the loaded config: vigil's defaults beyond
//! supervisord's (crash-loop damping, the sampler, the page and `/metrics` on the inet port)
//! and the paths vigild will use. Reads the files only; what is running on the host (a
//! live supervisord on the same pidfile or socket) is the caller's to look at.

use std::path::Path;

use super::diagnostic::{Diagnostic, Location};
use super::ini::{RawDoc, RawSection};
use super::known::{self, Origin};
use super::{AutoRestart, Config, CrashLoopPolicy, MainLog, ResultHandler};

/// supervisord's own factory for the `supervisor` namespace, which vigil serves natively.
const MAIN_RPCINTERFACE: &str = "supervisor.rpcinterface:make_main_rpcinterface";

/// How much a finding matters for the move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// supervisord does it and vigil does not, or does it otherwise: the move needs a look.
    Differs,
    /// An option only vigil acts on (supervisord ignores it).
    VigilOption,
    /// Something vigil does beyond supervisord by default, or does natively.
    Note,
    /// A file or socket vigild will use.
    Path,
}

impl FindingKind {
    /// The word the report starts the line with.
    pub fn label(self) -> &'static str {
        match self {
            FindingKind::Differs => "Differs",
            FindingKind::VigilOption => "Vigil option",
            FindingKind::Note => "Note",
            FindingKind::Path => "Path",
        }
    }
}

/// One line of the report, located where the config says it.
#[derive(Debug, Clone)]
pub struct Finding {
    /// How much it matters.
    pub kind: FindingKind,
    /// Where and what.
    pub diagnostic: Diagnostic,
}

/// The findings for `file` (as loaded into `config`, when it loaded), in file order then
/// kind; a file that cannot be read has none (the load's errors say why).
pub fn findings(file: &Path, env: &[(String, String)], config: Option<&Config>) -> Vec<Finding> {
    let env: std::collections::BTreeMap<String, String> = env.iter().cloned().collect();
    let mut found = match super::resolve::read_doc(file, &env) {
        Ok((doc, _, _)) => from_sections(&doc),
        Err(_) => Vec::new(),
    };
    if let Some(config) = config {
        found.extend(from_config(config));
    }
    found
}

fn finding(kind: FindingKind, at: Location, message: impl Into<String>) -> Finding {
    Finding {
        kind,
        diagnostic: Diagnostic::new(at, message),
    }
}

fn from_sections(doc: &RawDoc) -> Vec<Finding> {
    let mut found = Vec::new();
    for section in &doc.sections {
        let (kind, name) = section
            .name
            .split_once(':')
            .unwrap_or((section.name.as_str(), ""));
        match kind {
            "rpcinterface" => found.extend(rpcinterface(section, name)),
            "ctlplugin" => found.push(finding(
                FindingKind::Note,
                section.location(None),
                "a supervisorctl plugin: Python's supervisorctl on this file still loads it; \
                 vigilctl does not offer its commands",
            )),
            "metrics" => found.push(finding(
                FindingKind::VigilOption,
                section.location(None),
                "vigil's own section (a /metrics listener); supervisord ignores it",
            )),
            "vigilctl" => found.push(finding(
                FindingKind::VigilOption,
                section.location(None),
                "vigil's own section (the servers vigilctl talks to); supervisord ignores it",
            )),
            _ => found.extend(options(section, kind)),
        }
    }
    found
}

fn rpcinterface(section: &RawSection, name: &str) -> Option<Finding> {
    let factory = section.get("supervisor.rpcinterface_factory")?;
    let at = section.location(Some(factory));
    if name == "supervisor" && factory.value.trim() == MAIN_RPCINTERFACE {
        return None;
    }
    Some(if name == "supervisor" {
        finding(
            FindingKind::Differs,
            at,
            "vigil serves the supervisor namespace itself, not this factory's",
        )
    } else {
        finding(
            FindingKind::Differs,
            at,
            format!(
                "vigil cannot load Python factories: the {name}.* methods will be missing \
                 (vigil serves supervisor.*, system.* and its own vigil.*)"
            ),
        )
    })
}

fn options(section: &RawSection, kind: &str) -> Vec<Finding> {
    let Some(known) = known::options(kind) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for option in &section.options {
        let origin = known
            .iter()
            .find(|(name, _)| *name == option.key)
            .map(|(_, origin)| *origin);
        let at = section.location(Some(option));
        match origin {
            Some(Origin::Vigil) => found.push(finding(
                FindingKind::VigilOption,
                at,
                "vigil acts on it; supervisord ignores it",
            )),
            Some(Origin::Plugin) => found.push(finding(
                FindingKind::Note,
                at,
                "the supervisord-dependent-startup plugin's option, done natively by vigil",
            )),
            Some(Origin::Supervisord)
                if option.key == "result_handler"
                    && ResultHandler::named(&option.value)
                        .is_some_and(|handler| handler != ResultHandler::Default) =>
            {
                found.push(finding(
                    FindingKind::Note,
                    at,
                    "done natively by vigil (no Python import)",
                ));
            }
            _ => {}
        }
    }
    found
}

fn from_config(config: &Config) -> Vec<Finding> {
    let at = || Location::file(&config.file);
    let mut found = Vec::new();
    // One note per crash-loop policy in use, naming the processes it damps.
    let mut policies: Vec<(&CrashLoopPolicy, Vec<String>)> = Vec::new();
    for process in config
        .groups
        .iter()
        .flat_map(|group| group.processes.iter())
    {
        if process.crash_loop.threshold == 0 || process.autorestart == AutoRestart::Never {
            continue;
        }
        let name = crate::namespec::of(&process.group, &process.name);
        match policies
            .iter_mut()
            .find(|(policy, _)| **policy == process.crash_loop)
        {
            Some((_, names)) => names.push(name),
            None => policies.push((&process.crash_loop, vec![name])),
        }
    }
    for (policy, names) in policies {
        let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
        let more = names.len() - shown.len();
        found.push(finding(
            FindingKind::Note,
            at(),
            format!(
                "crash-loop damping applies to {} process{} ({}{}): after {} crashes \
                 within {}s vigil waits {}s, then twice as long each time (up to {}s), \
                 before a restart, where supervisord restarts at once; \
                 crashloop_threshold=0 on a program switches it off",
                names.len(),
                if names.len() == 1 { "" } else { "es" },
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                },
                policy.threshold,
                policy.window.as_secs_f64(),
                policy.delay.as_secs_f64(),
                policy.delay_max.as_secs_f64(),
            ),
        ));
    }
    let interval = config.supervisord.sample_interval.as_secs_f64();
    if interval > 0.0 {
        found.push(finding(
            FindingKind::Note,
            at(),
            format!(
                "vigild measures every process every {interval}s (CPU, memory, threads, fds) \
                 for /metrics and vigilctl status -l; sample_interval=0 switches it off"
            ),
        ));
    }
    let supervisord = &config.supervisord;
    let main_log = match &supervisord.logfile {
        MainLog::File(path) => path_finding(config, "main log", path),
        MainLog::Syslog => finding(FindingKind::Path, at(), "main log: syslog (/dev/log)"),
        MainLog::Journald => finding(FindingKind::Path, at(), "main log: the journal"),
    };
    found.push(main_log);
    found.push(path_finding(config, "pidfile", &supervisord.pidfile));
    found.push(path_finding(
        config,
        "childlogdir (AUTO child logs, named as supervisord names them)",
        &supervisord.childlogdir,
    ));
    if let Some(unix) = &config.unix_http_server {
        found.push(path_finding(
            config,
            "control socket (supervisorctl and vigilctl on this file keep using it)",
            &unix.file,
        ));
    }
    if let Some(inet) = &config.inet_http_server {
        let host = if inet.host.is_empty() {
            "*"
        } else {
            &inet.host
        };
        found.push(finding(
            FindingKind::Note,
            at(),
            format!(
                "http://{host}:{}/ also serves vigil's web page and /metrics, with the same \
                 basic auth (metrics_auth=false opens /metrics alone)",
                inet.port
            ),
        ));
    }
    found
}

fn path_finding(config: &Config, what: &str, path: &Path) -> Finding {
    finding(
        FindingKind::Path,
        Location::file(&config.file),
        format!("{what}: {}", path.display()),
    )
}
