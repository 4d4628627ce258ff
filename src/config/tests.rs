//! Whole-config tests: every default against the reference, expansion rules, and the bad
//! values that must stop a load with a located error.

use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;

use super::*;

/// Loads `text` as `<tmp>/supervisord.conf`; `{dir}` stands for the temp dir.
fn load_text(text: &str) -> (tempfile::TempDir, Result<Loaded, ConfigErrors>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("supervisord.conf");
    let text = text.replace("{dir}", &dir.path().display().to_string());
    std::fs::write(&path, text).expect("write config");
    let env = vec![("HOME".to_string(), "/home/test".to_string())];
    let loaded = load(&path, &Overrides::default(), dir.path(), &env);
    (dir, loaded)
}

fn loaded(text: &str) -> (tempfile::TempDir, Config) {
    let (dir, result) = load_text(text);
    match result {
        Ok(loaded) => (dir, loaded.config),
        Err(errors) => panic!("config should load:\n{errors}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    match load_text(text).1 {
        Ok(_) => panic!("config should not load"),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn supervisord_defaults_match_the_reference() {
    let (dir, config) = loaded("[supervisord]\n");
    let s = &config.supervisord;
    let cwd = dir.path();
    let expected = SupervisordConfig {
        logfile: MainLog::File(cwd.join("supervisord.log")),
        logfile_maxbytes: 50 * 1024 * 1024,
        logfile_backups: 10,
        logfile_rotate: None,
        logfile_compress: None,
        logformat_json: false,
        loglevel: LogLevel::Info,
        pidfile: cwd.join("supervisord.pid"),
        umask: 0o22,
        nodaemon: false,
        silent: false,
        minfds: 1024,
        minprocs: 200,
        nocleanup: false,
        childlogdir: std::env::temp_dir(),
        user: None,
        directory: None,
        strip_ansi: false,
        environment: vec![],
        identifier: "supervisor".into(),
        sample_interval: std::time::Duration::from_secs(5),
        statefile: None,
        cgroup_root: None,
        syslog_socket: "/dev/log".into(),
        journal_socket: "/run/systemd/journal/socket".into(),
    };
    assert_eq!(*s, expected);
    assert!(config.unix_http_server.is_none() && config.inet_http_server.is_none());
}

#[test]
fn program_defaults_match_the_reference() {
    let (_dir, config) = loaded("[supervisord]\n[program:app]\ncommand=/bin/cat\n");
    let group = &config.groups[0];
    assert_eq!((group.name.as_str(), group.priority), ("app", 999));
    let p = &group.processes[0];
    let table: [(&str, String, String); 23] = [
        ("name", p.name.clone(), "app".into()),
        ("priority", p.priority.to_string(), "999".into()),
        ("autostart", p.autostart.to_string(), "true".into()),
        (
            "autorestart",
            format!("{:?}", p.autorestart),
            "Unexpected".into(),
        ),
        ("startsecs", p.startsecs.to_string(), "1".into()),
        (
            "startretries",
            format!("{:?}", p.startretries),
            "Some(3)".into(),
        ),
        ("exitcodes", format!("{:?}", p.exitcodes), "[0]".into()),
        (
            "stopsignal",
            format!("{:?}", p.stopsignal),
            format!("{:?}", Signal::SIGTERM),
        ),
        ("stopwaitsecs", p.stopwaitsecs.to_string(), "10".into()),
        ("stopasgroup", p.stopasgroup.to_string(), "false".into()),
        ("killasgroup", p.killasgroup.to_string(), "false".into()),
        ("user", format!("{:?}", p.user), "None".into()),
        (
            "redirect_stderr",
            p.redirect_stderr.to_string(),
            "false".into(),
        ),
        ("environment", format!("{:?}", p.environment), "[]".into()),
        ("directory", format!("{:?}", p.directory), "None".into()),
        ("umask", format!("{:?}", p.umask), "None".into()),
        ("serverurl", format!("{:?}", p.serverurl), "None".into()),
        ("log_markers", p.log_markers.to_string(), "false".into()),
        ("essential", p.essential.to_string(), "false".into()),
        ("ready", p.ready.to_string(), "startsecs".into()),
        (
            "ready_timeout",
            format!("{:?}", p.ready_timeout),
            "90s".into(),
        ),
        ("watchdog_sec", format!("{:?}", p.watchdog), "None".into()),
        (
            "memory_limit",
            format!("{:?}", p.memory_limit),
            "None".into(),
        ),
    ];
    for (option, actual, expected) in table {
        assert_eq!(actual, expected, "default of {option}");
    }
    let stream = StreamLog {
        target: LogTarget::Auto,
        maxbytes: 50 * 1024 * 1024,
        backups: 10,
        capture_maxbytes: 0,
        rotate_every: None,
        compress: None,
        json: false,
        events_enabled: false,
        syslog: false,
        timestamps: false,
        tail_bytes: 1024 * 1024,
    };
    assert_eq!(p.stdout, stream);
    assert_eq!(p.stderr, stream);
    let secs = std::time::Duration::from_secs;
    assert_eq!(
        p.crash_loop,
        crate::config::CrashLoopPolicy {
            threshold: 5,
            window: secs(60),
            delay: secs(1),
            delay_max: secs(300),
            reset: secs(600),
            giveup: None,
        }
    );
    assert_eq!(p.backoff_max, None);
    assert_eq!(
        p.crash_records,
        crate::config::CrashRecordPolicy {
            tail_lines: 50,
            history: 20,
        }
    );
}

#[test]
fn other_section_defaults_match_the_reference() {
    let (_dir, config) = loaded(
        "[supervisord]\n[unix_http_server]\nfile={dir}/s.sock\n[inet_http_server]\nport=:9001\n\
         [supervisorctl]\n[program:a]\ncommand=/bin/cat\n[group:g]\nprograms=a\n\
         [eventlistener:l]\ncommand=/bin/cat\nevents=TICK_5\n\
         [fcgi-program:f]\ncommand=/bin/cat\nsocket=unix://{dir}/f.sock\n",
    );
    let unix = config.unix_http_server.as_ref().expect("unix server");
    assert_eq!(
        (unix.chmod, unix.chown, unix.auth.clone()),
        (0o700, None, None)
    );
    let inet = config.inet_http_server.as_ref().expect("inet server");
    assert_eq!((inet.host.as_str(), inet.port), ("", 9001));
    let ctl = config.supervisorctl.as_ref().expect("ctl");
    assert_eq!(
        (ctl.serverurl.as_str(), ctl.prompt.as_str()),
        ("http://localhost:9001", "supervisor")
    );
    let g = config
        .groups
        .iter()
        .find(|g| g.name == "g")
        .expect("group g");
    assert_eq!(g.priority, 999);
    let listener = &config.groups[0];
    assert!(
        listener.pool().is_some(),
        "listener pools are groups, first by priority"
    );
    assert_eq!(listener.priority, -1);
    let settings = listener.processes[0]
        .listener
        .as_ref()
        .expect("listener settings");
    assert_eq!(settings.buffer_size, 10);
    assert_eq!(settings.result_handler, ResultHandler::Default);
    let fcgi = config
        .groups
        .iter()
        .find(|g| g.name == "f")
        .expect("fcgi group");
    let socket = fcgi.processes[0].fcgi_socket.as_ref().expect("socket");
    assert_eq!((socket.backlog, socket.mode), (libc::SOMAXCONN, 0o700));
    // serverurl=AUTO prefers the unix server.
    let a = &g.processes[0];
    assert!(
        a.serverurl
            .as_deref()
            .is_some_and(|u| u.starts_with("unix://")),
        "{a:?}"
    );
}

#[test]
fn inet_ports_accept_supervisords_forms() {
    for (port, host) in [
        ("127.0.0.1:9001", "127.0.0.1"),
        ("*:9001", ""),
        ("9001", ""),
        ("LocalHost:9001", "localhost"),
    ] {
        let (_dir, config) = loaded(&format!("[supervisord]\n[inet_http_server]\nport={port}\n"));
        let inet = config.inet_http_server.expect("inet");
        assert_eq!((inet.host.as_str(), inet.port), (host, 9001), "{port}");
    }
}

#[test]
fn expansions_follow_where_each_name_is_allowed() {
    let (dir, config) = loaded(
        "[supervisord]\n[program:web]\ncommand=/bin/echo %(program_name)s %(group_name)s %(process_num)02d %(numprocs)d %(ENV_HOME)s %(here)s\n\
         process_name=%(program_name)s-%(process_num)d\nnumprocs=2\nnumprocs_start=5\n\
         environment=PORT=80%(process_num)d\ndirectory=%(ENV_HOME)s\n\n[group:site]\nprograms=web\n",
    );
    let here = dir.path().display().to_string();
    let processes = &config.groups[0].processes;
    let names: Vec<&str> = processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["web-5", "web-6"]);
    assert_eq!(
        processes[0].command,
        format!("/bin/echo web site 05 2 /home/test {here}")
    );
    assert_eq!(
        processes[1].environment,
        vec![("PORT".to_string(), "806".to_string())]
    );
    assert_eq!(
        processes[0].directory.as_deref(),
        Some(Path::new("/home/test"))
    );
    // process_num is only for per-process options.
    let errs = errors("[supervisord]\n[program:a]\ncommand=/bin/cat\npriority=%(process_num)d\n");
    assert!(
        errs[0].contains("[program:a] priority=%(process_num)d")
            && errs[0].contains("contains names (process_num)"),
        "{errs:?}"
    );
    // A program's own environment is visible to its other per-process options.
    let (_dir, config) = loaded(
        "[supervisord]\n[program:a]\ncommand=/bin/echo %(ENV_GREETING)s\nenvironment=GREETING=hi\n",
    );
    assert_eq!(config.groups[0].processes[0].command, "/bin/echo hi");
}

#[test]
fn supervisord_environment_feeds_env_expansions() {
    let (_dir, config) = loaded(
        "[supervisord]\nenvironment=APP_ROOT=/srv/app,HOST=%(host_node_name)s\n[program:a]\ncommand=%(ENV_APP_ROOT)s/run\n",
    );
    assert_eq!(config.groups[0].processes[0].command, "/srv/app/run");
    let host = nix::unistd::gethostname()
        .expect("hostname")
        .into_string()
        .expect("utf8");
    assert!(config
        .supervisord
        .environment
        .contains(&("HOST".to_string(), host)));
}

#[test]
fn bad_values_are_located_errors() {
    let cases = [
        ("autorestart=maybe", "invalid autorestart value"),
        ("startsecs=abc", "not an integer"),
        ("stopsignal=NOPE", "not a signal name"),
        (
            "numprocs=2",
            "%(process_num) must be present within process_name",
        ),
        ("command=%(nope)s", "contains names (nope)"),
        ("exitcodes=0,300", "is not an exit code"),
        ("stdout_logfile_maxbytes=lots", "not a byte size"),
        ("umask=8", "not an octal mode"),
        ("user=no-such-user-x", "invalid user name"),
        ("stdout_logfile=/no/such/dir/out.log", "does not exist"),
        (
            "stopasgroup=true\nkillasgroup=false",
            "cannot set stopasgroup=true and killasgroup=false",
        ),
        ("process_name=a:b", "invalid name"),
        ("crashloop_threshold=-1", "must not be negative"),
        ("restart_delay=soon", "not a number of seconds"),
        (
            "restart_delay=10\nrestart_delay_max=5",
            "restart_delay_max (5s) must not be below restart_delay (10s)",
        ),
        ("crashloop_window=0", "crashloop_window must be above 0"),
        (
            "crashloop_reset=1e12",
            "crashloop_reset must be at most 31536000 seconds",
        ),
        ("crash_history=many", "not an integer"),
        ("healthcheck_http=https://x/", "https is not supported"),
        ("healthcheck_tcp=nohost", "not host:port"),
        ("healthcheck_tcp=:80", "no host"),
        (
            "healthcheck_command=true\nhealthcheck_tcp=a:1",
            "only one of healthcheck_command",
        ),
        (
            "healthcheck_tcp=a:1\nhealthcheck_interval=0",
            "must be above 0 seconds",
        ),
        (
            "healthcheck_tcp=a:1\nhealthcheck_retries=0",
            "must be at least 1",
        ),
        ("backoff_max=soon", "not an integer"),
        ("ready=soonish", "unknown readiness"),
        ("ready=log:(unclosed", "bad regular expression"),
        ("ready=fd:2", "fd:2 is out of range"),
        ("ready=fd:x", "fd:x is out of range"),
        (
            "ready=healthcheck",
            "ready=healthcheck needs a health check",
        ),
        ("ready=notify\nready_timeout=0", "must be above 0 seconds"),
        ("watchdog_sec=5", "watchdog_sec needs ready=notify"),
        (
            "ready=notify\nwatchdog_sec=never",
            "not a number of seconds",
        ),
        (
            "stdout_logfile_compress=lz4",
            "stdout_logfile_compress=lz4: not a compression (expected gzip or zstd)",
        ),
        (
            "stderr_logfile_rotate=weekly",
            "stderr_logfile_rotate=weekly: not a rotation period (expected daily or hourly)",
        ),
        (
            "reloadsignal=RELOAD",
            "reloadsignal=RELOAD: not a signal name",
        ),
        (
            "schedule=*/5 * *",
            "schedule=*/5 * *: not a cron expression: 3 fields",
        ),
        (
            "restart_schedule=61 * * * *",
            "restart_schedule=61 * * * *: not a cron expression",
        ),
        ("schedule=@fortnightly", "not a cron expression"),
        (
            "schedule=@hourly\nschedule_timezone=Mars/Olympus",
            "schedule_timezone=Mars/Olympus: unknown time zone",
        ),
        ("nice=20", "nice=20: must be between -20 and 19"),
        (
            "oom_score_adj=-1001",
            "oom_score_adj=-1001: must be between -1000 and 1000",
        ),
        ("ionice=8", "ionice=8: must be between 0 and 7"),
        (
            "ioclass=fast",
            "ioclass=fast: unknown I/O class (expected realtime, best-effort or idle)",
        ),
        (
            "cpu_affinity=0-4095",
            "cpu_affinity=0-4095: CPU 4095 does not exist (this host has CPUs 0-",
        ),
        ("cpu_affinity=three", "not a CPU list (expected e.g. 0-3,6)"),
        (
            "rlimit_nofile=4096:1024",
            "rlimit_nofile=4096:1024: the soft limit is above the hard limit",
        ),
        ("rlimit_core=huge", "rlimit_core=huge: not a byte size"),
        ("no_new_privs=maybe", "no_new_privs=maybe: not a boolean"),
        ("memory_max=100", "memory_max=100: must be at least a page"),
        ("cpu_quota=lots", "cpu_quota=lots: not a CPU share (expected e.g. 50%% or 1.5"),
        ("cpu_weight=0", "cpu_weight=0: must be between 1 and 10000"),
        ("pids_max=0", "pids_max=0: must be at least 1"),
        (
            "depends_on=db:healthy",
            "depends_on=db:healthy: unknown state 'healthy' (expected name, name:running or name:exited)",
        ),
    ];
    for (option, why) in cases {
        let errs = errors(&format!(
            "[supervisord]\n[program:app]\ncommand=/bin/cat\n{option}\n"
        ));
        assert_eq!(errs.len(), 1, "{option}: {errs:?}");
        let error = &errs[0];
        assert!(error.contains("supervisord.conf:"), "{error}");
        assert!(error.contains("[program:app]"), "{error}");
        assert!(error.contains(why), "{option}: {error}");
    }
}

#[test]
fn structural_errors() {
    let cases = [
        ("[program:a]\ncommand=/bin/cat\n", ".ini file does not include supervisord section"),
        ("[supervisord]\n[program:a]\npriority=1\n", "does not specify a command"),
        ("[supervisord]\n[group:g]\nprograms=nope\n", "names unknown program or fcgi-program nope"),
        ("[supervisord]\n[eventlistener:l]\ncommand=/bin/cat\n", "must specify events"),
        ("[supervisord]\n[eventlistener:l]\ncommand=/bin/cat\nevents=NOPE\n", "unknown event type 'NOPE'"),
        (
            "[supervisord]\n[eventlistener:l]\ncommand=/bin/cat\nevents=TICK_5\nresult_handler=my.mod:handler\n",
            "result_handler cannot be resolved",
        ),
        ("[supervisord]\n[eventlistener:l]\ncommand=/bin/cat\nevents=TICK_5\nredirect_stderr=true\n", "not allowed for event listeners"),
        ("[supervisord]\n[fcgi-program:f]\ncommand=/bin/cat\nsocket=udp://x\n", "bad socket"),
        ("[supervisord]\n[unix_http_server]\nfile=/tmp/x.sock\nusername=u\n", "incomplete authentication"),
        ("[supervisord]\n[rpcinterface:supervisor]\nx=1\n", "supervisor.rpcinterface_factory"),
        ("[supervisord]\n[include]\n", "no files setting"),
        ("[supervisord]\n[program:a]\ncommand=/bin/cat\ndepends_on=nope\n", "depends_on names unknown program or group 'nope'"),
        (
            "[supervisord]\n[program:a]\ncommand=/bin/cat\ndepends_on=b\n[program:b]\ncommand=/bin/cat\ndepends_on=g\n[program:c]\ncommand=/bin/cat\ndepends_on=a\n[group:g]\nprograms=c\n",
            "depends_on cycle: c -> a -> b -> c",
        ),
        ("[supervisord]\nloglevel=loud\n", "bad log level"),
        (
            "[supervisord]\n[program:migrate]\ncommand=/bin/true\nautorestart=true\n[program:web]\ncommand=/bin/cat\ndepends_on=migrate:exited\n",
            "[program:web] depends_on=migrate:exited: depends_on migrate:exited: [program:migrate] has autorestart=true, so it never stays exited",
        ),
    ];
    for (text, why) in cases {
        let errs = errors(text);
        assert!(errs.iter().any(|e| e.contains(why)), "{why}: {errs:?}");
    }
}

#[test]
fn unknown_options_and_sections_are_warnings() {
    let (_dir, result) = load_text("[supervisord]\nloglevl=info\n[program:a]\ncommand=/bin/cat\nautorestrat=true\n[programs:x]\n");
    let warnings: Vec<String> = result
        .expect("loads")
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(warnings.iter().any(|w| w.contains("[program:a] autorestrat=true: unknown option 'autorestrat' is ignored (did you mean 'autorestart'?)")), "{warnings:?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("did you mean 'loglevel'")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w
                .contains("unknown section [programs:x] is ignored (did you mean [program:x]?)")),
        "{warnings:?}"
    );
}

#[test]
fn overrides_win_over_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("s.conf");
    std::fs::write(&path, "[supervisord]\nloglevel=info\nidentifier=file\n").expect("write");
    let overrides = Overrides {
        supervisord: vec![("loglevel", "debug".into()), ("identifier", "cli%".into())],
        ..Overrides::default()
    };
    let config = load(&path, &overrides, dir.path(), &[])
        .expect("loads")
        .config;
    assert_eq!(config.supervisord.loglevel, LogLevel::Debug);
    assert_eq!(
        config.supervisord.identifier, "cli%",
        "flag values are not expanded"
    );
}

#[test]
fn the_search_path_is_supervisords_with_the_packages_config_before_the_system_wide_ones() {
    let paths = search_path(Path::new("/opt/vigil/bin/vigild"), Path::new("/work"));
    let expected: Vec<PathBuf> = [
        "/opt/vigil/etc/supervisord.conf",
        "/opt/vigil/supervisord.conf",
        "/work/supervisord.conf",
        "/work/etc/supervisord.conf",
        "/etc/vigil/vigil.conf",
        "/etc/supervisord.conf",
        "/etc/supervisor/supervisord.conf",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(paths, expected);
}

#[test]
fn equal_priorities_keep_supervisords_construction_order() {
    let (_dir, config) = loaded(
        "[supervisord]\n[program:zeta]\ncommand=/bin/cat\n[program:alpha]\ncommand=/bin/cat\n\
         [fcgi-program:fast]\ncommand=/bin/cat\nsocket=unix://{dir}/f.sock\n\
         [program:w]\ncommand=/bin/cat\nprocess_name=w_%(process_num)d\nnumprocs=12\n\
         [group:grouped]\nprograms=member\n[program:member]\ncommand=/bin/cat\n",
    );
    let groups: Vec<&str> = config.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(groups, ["grouped", "zeta", "alpha", "w", "fast"]);
    let workers = &config.groups[3].processes;
    let names: Vec<&str> = workers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(&names[..3], ["w_0", "w_1", "w_2"]);
    assert_eq!(names[11], "w_11");
}

#[test]
fn redirect_stderr_warns_only_about_a_real_stderr_file() {
    let warn = |stderr: &str| -> bool {
        let (_dir, result) = load_text(&format!(
            "[supervisord]\n[program:a]\ncommand=/bin/cat\nredirect_stderr=true\n{stderr}\n"
        ));
        result.expect("loads").warnings.iter().any(|w| {
            w.message
                .contains("redirect_stderr=true but stderr_logfile has also been set")
        })
    };
    assert!(warn("stderr_logfile={dir}/err.log"));
    assert!(!warn("stderr_logfile=AUTO"));
    assert!(!warn("stderr_logfile=NONE"));
}

#[test]
fn include_globs_skip_dotfiles() {
    let (dir, result) = load_text("[supervisord]\n[include]\nfiles=conf.d/*.conf\n");
    drop(result);
    let conf_d = dir.path().join("conf.d");
    std::fs::create_dir(&conf_d).expect("dir");
    std::fs::write(conf_d.join("a.conf"), "[program:a]\ncommand=/bin/cat\n").expect("a");
    std::fs::write(
        conf_d.join(".#a.conf"),
        "[program:backup]\ncommand=/bin/cat\n",
    )
    .expect("dot");
    let config = load(
        &dir.path().join("supervisord.conf"),
        &Overrides::default(),
        dir.path(),
        &[],
    )
    .expect("loads")
    .config;
    let names: Vec<&str> = config.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["a"]);
}

#[test]
fn numprocs_zero_gives_an_empty_group() {
    let (_dir, config) = loaded("[supervisord]\n[program:none]\ncommand=/bin/cat\nnumprocs=0\n");
    assert_eq!(config.groups[0].name, "none");
    assert!(config.groups[0].processes.is_empty());
}

#[test]
fn startretries_minus_one_means_forever() {
    let (_dir, config) =
        loaded("[supervisord]\n[program:app]\ncommand=/bin/cat\nstartretries=-1\nbackoff_max=30\n");
    let p = &config.groups[0].processes[0];
    assert_eq!((p.startretries, p.backoff_max), (None, Some(30)));
    let (_dir, config) =
        loaded("[supervisord]\n[program:app]\ncommand=/bin/cat\nstartretries=-5\n");
    assert_eq!(
        config.groups[0].processes[0].startretries,
        Some(0),
        "other negatives give up at once, as in supervisord"
    );
}

#[test]
fn health_checks_parse_with_docker_like_defaults() {
    let (_dir, config) = loaded(
        "[supervisord]\n[program:app]\ncommand=/bin/cat\nhealthcheck_http=http://127.0.0.1:8080/health?deep=1\n",
    );
    let check = config.groups[0].processes[0]
        .health_check
        .clone()
        .expect("a health check");
    assert_eq!(
        check.probe,
        crate::config::Probe::Http {
            host: "127.0.0.1".into(),
            port: 8080,
            path: "/health?deep=1".into()
        }
    );
    let secs = std::time::Duration::from_secs;
    assert_eq!(
        (
            check.interval,
            check.timeout,
            check.retries,
            check.start_period
        ),
        (secs(10), secs(5), 3, secs(0))
    );
}

#[test]
fn the_read_only_account_loads_beside_the_full_one_on_both_servers() {
    let (_dir, config) = loaded(
        "[supervisord]\n[unix_http_server]\nfile={dir}/s.sock\nusername=admin\npassword=pw\n\
         readonly_username=viewer\nreadonly_password=look\n\
         [inet_http_server]\nport=:9001\nusername=admin\npassword=pw\nreadonly_username=viewer\n\
         readonly_password={SHA}82AB876D1387BFAFE46CC1C8A2EF074EAE50CB1D\n",
    );
    let account = |username: &str, password: &str| {
        Some(Credentials {
            username: username.into(),
            password: password.into(),
        })
    };
    let unix = config.unix_http_server.as_ref().expect("unix server");
    assert_eq!(unix.readonly, account("viewer", "look"));
    let inet = config.inet_http_server.as_ref().expect("inet server");
    assert_eq!(
        inet.readonly,
        account("viewer", "{SHA}82AB876D1387BFAFE46CC1C8A2EF074EAE50CB1D")
    );
    assert_eq!(inet.auth, account("admin", "pw"));
}

#[test]
fn read_only_account_errors_name_the_option_and_never_the_password() {
    let full = "username=admin\npassword=pw\n";
    let cases = [
        (
            format!("{full}readonly_username=viewer\n"),
            "readonly_username=viewer: readonly_password is missing",
        ),
        (
            format!("{full}readonly_password=hush\n"),
            "readonly_password: readonly_username is missing",
        ),
        (
            "readonly_username=viewer\nreadonly_password=hush\n".to_string(),
            "readonly_username=viewer: a read-only account needs the full account (username and password) beside it",
        ),
        (
            format!("{full}readonly_username=admin\nreadonly_password=hush\n"),
            "readonly_username=admin: the full account has this username too",
        ),
        (
            format!("{full}readonly_username=\nreadonly_password=hush\n"),
            "readonly_username=: the read-only account needs a name",
        ),
        (
            format!("{full}readonly_username=viewer\nreadonly_password={{SHA}}hush\n"),
            "readonly_password: a {SHA} password is {SHA} followed by the 40 hex digits",
        ),
    ];
    for section in [
        "unix_http_server]\nfile=/tmp/x.sock",
        "inet_http_server]\nport=:9001",
    ] {
        for (options, why) in &cases {
            let errs = errors(&format!("[supervisord]\n[{section}\n{options}"));
            assert_eq!(errs.len(), 1, "{options}: {errs:?}");
            let error = &errs[0];
            let name = section.split(']').next().unwrap_or_default();
            assert!(
                error.contains("supervisord.conf:") && error.contains(&format!("[{name}] {why}")),
                "{options}: {error}"
            );
            assert!(
                !error.contains("hush"),
                "the password is not shown: {error}"
            );
        }
    }
}

#[test]
fn targets_and_probes_read_as_a_config_writes_them() {
    assert_eq!(LogTarget::Auto.to_string(), "AUTO");
    assert_eq!(LogTarget::None.to_string(), "NONE");
    assert_eq!(
        LogTarget::File("/var/log/x.log".into()).to_string(),
        "/var/log/x.log"
    );
    let http = Probe::Http {
        host: "127.0.0.1".into(),
        port: 8080,
        path: "/health".into(),
    };
    assert_eq!(
        http.to_string(),
        "healthcheck_http=http://127.0.0.1:8080/health"
    );
    let tcp = Probe::Tcp {
        host: "db".into(),
        port: 5432,
    };
    assert_eq!(tcp.to_string(), "healthcheck_tcp=db:5432");
}
