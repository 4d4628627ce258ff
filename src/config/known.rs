//! The option names each kind of section knows, and whose each is (supervisord 4.3's, vigil's
//! own or a plugin's that vigil does natively), so unknown options (which supervisord silently
//! ignores) can be reported with the nearest known name as a suggestion, and a migration can
//! say which options only vigil acts on.

/// supervisord 4.3's options of `[program:x]`, `[fcgi-program:x]` and `[eventlistener:x]`.
pub const PROGRAM: &[&str] = &[
    "command",
    "process_name",
    "numprocs",
    "numprocs_start",
    "priority",
    "autostart",
    "startsecs",
    "startretries",
    "autorestart",
    "exitcodes",
    "stopsignal",
    "stopwaitsecs",
    "stopasgroup",
    "killasgroup",
    "user",
    "redirect_stderr",
    "stdout_logfile",
    "stdout_logfile_maxbytes",
    "stdout_logfile_backups",
    "stdout_capture_maxbytes",
    "stdout_events_enabled",
    "stdout_syslog",
    "stderr_logfile",
    "stderr_logfile_maxbytes",
    "stderr_logfile_backups",
    "stderr_capture_maxbytes",
    "stderr_events_enabled",
    "stderr_syslog",
    "environment",
    "directory",
    "umask",
    "serverurl",
];
/// vigil's own options of the same sections.
pub const PROGRAM_VIGIL: &[&str] = &[
    "previous_tail_bytes",
    "stdout_logfile_rotate",
    "stdout_logfile_compress",
    "stdout_logfile_format",
    "stderr_logfile_rotate",
    "stderr_logfile_compress",
    "stderr_logfile_format",
    "environment_file",
    "stdout_logfile_timestamps",
    "stderr_logfile_timestamps",
    "stdout_tail_bytes",
    "stderr_tail_bytes",
    "log_markers",
    "memory_limit",
    "crashloop_threshold",
    "crashloop_window",
    "restart_delay",
    "restart_delay_max",
    "crashloop_reset",
    "crashloop_giveup",
    "crash_tail_lines",
    "crash_history",
    "backoff_max",
    "healthcheck_command",
    "healthcheck_http",
    "healthcheck_tcp",
    "healthcheck_interval",
    "healthcheck_timeout",
    "healthcheck_retries",
    "healthcheck_start_period",
    "depends_on",
    "essential",
    "ready",
    "ready_timeout",
    "watchdog_sec",
    "reloadsignal",
    "schedule",
    "restart_schedule",
    "schedule_timezone",
    "rlimit_nofile",
    "rlimit_nproc",
    "rlimit_core",
    "rlimit_memlock",
    "rlimit_stack",
    "rlimit_as",
    "rlimit_cpu",
    "rlimit_fsize",
    "nice",
    "oom_score_adj",
    "ioclass",
    "ionice",
    "cpu_affinity",
    "no_new_privs",
    "memory_max",
    "memory_high",
    "cpu_quota",
    "cpu_weight",
    "pids_max",
];
/// The supervisord-dependent-startup plugin's program options, which vigil reads natively.
pub const DEPENDENT_STARTUP: &[&str] = &["dependent_startup", "dependent_startup_wait_for"];

/// Extra options of `[fcgi-program:x]`.
pub const FCGI: &[&str] = &["socket", "socket_backlog", "socket_owner", "socket_mode"];

/// Extra options of `[eventlistener:x]`.
pub const LISTENER: &[&str] = &["events", "buffer_size", "result_handler"];

/// supervisord 4.3's options of `[supervisord]`.
pub const SUPERVISORD: &[&str] = &[
    "logfile",
    "logfile_maxbytes",
    "logfile_backups",
    "loglevel",
    "pidfile",
    "umask",
    "nodaemon",
    "silent",
    "minfds",
    "minprocs",
    "nocleanup",
    "childlogdir",
    "user",
    "directory",
    "strip_ansi",
    "environment",
    "identifier",
];
/// vigil's own options of `[supervisord]`.
pub const SUPERVISORD_VIGIL: &[&str] = &[
    "sample_interval",
    "statefile",
    "cgroup_root",
    "syslog_socket",
    "logfile_rotate",
    "logfile_compress",
    "logformat",
    "journal_socket",
];

/// supervisord's options of `[group:x]`.
pub const GROUP: &[&str] = &["programs", "priority"];
/// vigil's own option of `[group:x]`.
pub const GROUP_VIGIL: &[&str] = &["essential"];
/// Options of `[include]`.
pub const INCLUDE: &[&str] = &["files"];
/// Options of `[unix_http_server]`.
pub const UNIX_HTTP: &[&str] = &["file", "chmod", "chown", "username", "password"];
/// Options of `[inet_http_server]`.
pub const INET_HTTP: &[&str] = &["port", "username", "password"];
/// vigil's own options of `[unix_http_server]`.
pub const UNIX_HTTP_VIGIL: &[&str] = &["readonly_username", "readonly_password"];
/// vigil's own options of `[inet_http_server]`.
pub const INET_HTTP_VIGIL: &[&str] = &[
    "metrics_auth",
    "readonly_username",
    "readonly_password",
    "token_file",
    "readonly_token_file",
    "tls_cert",
    "tls_key",
    "tls_client_ca",
];
/// Options of vigil's `[metrics]`.
pub const METRICS: &[&str] = &[
    "port",
    "username",
    "password",
    "bearer_token_file",
    "tls_cert",
    "tls_key",
    "tls_client_ca",
];
/// Options of `[supervisorctl]`.
pub const SUPERVISORCTL: &[&str] = &[
    "serverurl",
    "username",
    "password",
    "prompt",
    "history_file",
];
/// vigil's own options of `[supervisorctl]` (TLS for `https://` servers).
pub const SUPERVISORCTL_VIGIL: &[&str] = &["cacert", "client_cert", "client_key"];
/// Options of vigil's `[vigilctl]`.
pub const VIGILCTL: &[&str] = &["servers"];

/// Whose an option is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// supervisord 4.3 knows it.
    Supervisord,
    /// vigil's addition (supervisord ignores it).
    Vigil,
    /// A supervisord plugin's, which vigil does natively.
    Plugin,
}

/// The section kinds a config may have (the part of the name before `:`).
pub const SECTION_KINDS: [&str; 13] = [
    "supervisord",
    "program",
    "fcgi-program",
    "eventlistener",
    "group",
    "include",
    "unix_http_server",
    "inet_http_server",
    "supervisorctl",
    "metrics",
    "vigilctl",
    "rpcinterface",
    "ctlplugin",
];

/// Every option a section of `kind` knows, with whose it is; None for the plugin sections
/// (`rpcinterface`, `ctlplugin`: any keys, passed to the factory) and unknown kinds.
pub fn options(kind: &str) -> Option<Vec<(&'static str, Origin)>> {
    let lists: &[(&[&str], Origin)] = match kind {
        "supervisord" => &[
            (SUPERVISORD, Origin::Supervisord),
            (SUPERVISORD_VIGIL, Origin::Vigil),
        ],
        "program" => &[
            (PROGRAM, Origin::Supervisord),
            (PROGRAM_VIGIL, Origin::Vigil),
            (DEPENDENT_STARTUP, Origin::Plugin),
        ],
        "fcgi-program" => &[
            (PROGRAM, Origin::Supervisord),
            (FCGI, Origin::Supervisord),
            (PROGRAM_VIGIL, Origin::Vigil),
            (DEPENDENT_STARTUP, Origin::Plugin),
        ],
        "eventlistener" => &[
            (PROGRAM, Origin::Supervisord),
            (LISTENER, Origin::Supervisord),
            (PROGRAM_VIGIL, Origin::Vigil),
            (DEPENDENT_STARTUP, Origin::Plugin),
        ],
        "group" => &[(GROUP, Origin::Supervisord), (GROUP_VIGIL, Origin::Vigil)],
        "include" => &[(INCLUDE, Origin::Supervisord)],
        "unix_http_server" => &[
            (UNIX_HTTP, Origin::Supervisord),
            (UNIX_HTTP_VIGIL, Origin::Vigil),
        ],
        "inet_http_server" => &[
            (INET_HTTP, Origin::Supervisord),
            (INET_HTTP_VIGIL, Origin::Vigil),
        ],
        "supervisorctl" => &[
            (SUPERVISORCTL, Origin::Supervisord),
            (SUPERVISORCTL_VIGIL, Origin::Vigil),
        ],
        "metrics" => &[(METRICS, Origin::Vigil)],
        "vigilctl" => &[(VIGILCTL, Origin::Vigil)],
        _ => return None,
    };
    Some(
        lists
            .iter()
            .flat_map(|(names, origin)| names.iter().map(|name| (*name, *origin)))
            .collect(),
    )
}

/// The known option closest to `unknown`, if one is near enough to be a likely typo.
pub fn suggestion<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|candidate| (edit_distance(unknown, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, counting an adjacent swap as one edit (so `autorestrat` is 1 away).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_nearest_option() {
        assert_eq!(
            suggestion("autorestrat", PROGRAM.iter().copied()),
            Some("autorestart")
        );
        assert_eq!(
            suggestion("comand", PROGRAM.iter().copied()),
            Some("command")
        );
        assert_eq!(
            suggestion("stopwaitsec", PROGRAM.iter().copied()),
            Some("stopwaitsecs")
        );
        assert_eq!(
            suggestion("completely_different", PROGRAM.iter().copied()),
            None
        );
    }
}
