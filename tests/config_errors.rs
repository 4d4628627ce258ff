//! A bad config stops vigild with one line per problem naming file, section, option and value;
//! unknown options only warn; `--check-config` reports without starting anything, and its
//! `--list` names the processes Python supervisord would run for the same config.

use crate::support::{run_python, Workspace};

fn stderr_of(ws: &Workspace, args: &[&str]) -> (i32, String, String) {
    let output = ws.run_vigild(args);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn bad_values_stop_the_start_with_one_located_line() {
    let cases = [
        (
            "autorestart=maybe",
            "autorestart=maybe",
            "invalid autorestart value",
        ),
        ("startsecs=abc", "startsecs=abc", "not an integer"),
        ("stopsignal=NOPE", "stopsignal=NOPE", "not a signal name"),
        (
            "numprocs=2",
            "process_name",
            "%(process_num) must be present",
        ),
        (
            "stdout_logfile=%(nope)s.log",
            "stdout_logfile=%(nope)s.log",
            "contains names (nope)",
        ),
        (
            "stopasgroup=true\nkillasgroup=false",
            "killasgroup=false",
            "cannot set stopasgroup=true",
        ),
    ];
    for (option, shown, why) in cases {
        let ws = Workspace::new();
        let conf = ws.config(&format!(
            "[program:app]\ncommand=/bin/sleep 100\n{option}\n"
        ));
        let (code, _, stderr) = stderr_of(&ws, &["-n", "-c", "supervisord.conf"]);
        assert_eq!(code, 2, "{option}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{option}: expected one line, got {stderr}");
        let line = lines[0];
        assert!(line.contains(&conf.display().to_string()), "{line}");
        assert!(line.contains("[program:app]"), "{line}");
        assert!(line.contains(shown), "{option}: {line}");
        assert!(line.contains(why), "{option}: {line}");
        assert!(
            !ws.path().join("vigild.pid").exists(),
            "nothing may start: {option}"
        );
    }
}

#[test]
fn a_missing_config_file_is_named() {
    let ws = Workspace::new();
    let (code, _, stderr) = stderr_of(&ws, &["-n", "-c", "nope.conf"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("nope.conf"), "{stderr}");
    assert!(stderr.contains("could not read config file"), "{stderr}");
}

#[test]
fn an_unreadable_include_is_named() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path().join("conf.d/broken.conf")).expect("dir");
    ws.config("[include]\nfiles=conf.d/*.conf\n");
    let (code, _, stderr) = stderr_of(&ws, &["-n", "-c", "supervisord.conf"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("conf.d/broken.conf"), "{stderr}");
}

#[test]
fn check_config_reports_every_error_and_starts_nothing() {
    let ws = Workspace::new();
    ws.config("[program:a]\ncommand=/bin/true\nstartsecs=abc\n\n[program:b]\ncommand=/bin/true\nautorestart=maybe\n");
    let (code, stdout, _) = stderr_of(&ws, &["--check-config", "-c", "supervisord.conf"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("[program:a] startsecs=abc"), "{stdout}");
    assert!(stdout.contains("[program:b] autorestart=maybe"), "{stdout}");
    assert!(
        !ws.path().join("vigild.log").exists(),
        "check-config must not start a log"
    );
}

#[test]
fn unknown_options_warn_with_a_suggestion_and_strict_fails() {
    let ws = Workspace::new();
    let conf = ws.config("[program:a]\ncommand=/bin/true\nautorestrat=true\n");
    let (code, stdout, _) = stderr_of(&ws, &["--check-config", "-c", "supervisord.conf"]);
    assert_eq!(code, 0, "{stdout}");
    let warning = stdout
        .lines()
        .find(|l| l.starts_with("Warning:"))
        .unwrap_or_else(|| panic!("no warning in {stdout}"));
    assert!(
        warning.contains(&format!("{}:", conf.display())),
        "{warning}"
    );
    assert!(
        warning.contains("[program:a] autorestrat=true"),
        "{warning}"
    );
    assert!(warning.contains("did you mean 'autorestart'"), "{warning}");
    let (strict, stdout, _) = stderr_of(
        &ws,
        &["--check-config", "--strict", "-c", "supervisord.conf"],
    );
    assert_eq!(strict, 1);
    assert!(
        stdout.ends_with("config not OK: 0 errors, 1 warning (--strict fails on warnings)\n"),
        "{stdout}"
    );
}

#[test]
fn a_config_with_unknown_options_still_runs() {
    let ws = Workspace::new();
    ws.config("[program:a]\ncommand=/bin/sleep 100\nstartsecs=0\nautorestrat=true\n");
    let mut vigild = crate::support::Vigild::start(ws, &[]);
    let log = vigild.wait_log("success: a entered RUNNING state");
    assert!(
        log.contains("unknown option 'autorestrat' is ignored (did you mean 'autorestart'?)"),
        "{log}"
    );
    vigild.shutdown();
}

#[test]
fn unknown_users_are_load_errors() {
    let ws = Workspace::new();
    ws.config("[program:a]\ncommand=/bin/true\nuser=no-such-user-here\n");
    let (code, _, stderr) = stderr_of(&ws, &["-n", "-c", "supervisord.conf"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("user=no-such-user-here: invalid user name"),
        "{stderr}"
    );
}

#[test]
fn supervisords_own_sample_config_and_the_demo_fleet_load_unchanged() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // As the README's command does: the demo keeps its logs there.
    std::fs::create_dir_all(root.join("target/demo")).expect("target/demo");
    for config in ["config/supervisord-sample.conf", "config/vigil.conf"] {
        let path = root.join(config);
        let output = std::process::Command::new(crate::support::vigild_bin())
            .arg("--check-config")
            .arg("-c")
            .arg(&path)
            .output()
            .expect("vigild");
        assert!(
            output.status.success(),
            "{config}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "config OK");
    }
}

/// Every process Python supervisord 4.3 would run for the config at `path`, as
/// `group:process`, from its own option parser (nothing is started).
const SUPERVISORD_PROCESSES: &str = r#"
import sys
from supervisor import events
from supervisor.options import ServerOptions
# vigil's own event types, made known to supervisord's parser the way a plugin registers
# its events, so a listener for VIGIL_CRASH (the demo's) does not stop the comparison.
for name in ('VIGIL_CRASH', 'VIGIL_CRASHLOOP', 'VIGIL_HEALTH', 'VIGIL_RELOAD', 'VIGIL_SCHEDULE'):
    events.register(name, type(name, (events.Event,), {}))
options = ServerOptions()
options.realize(args=['-c', sys.argv[1]])
for group in sorted(options.process_group_configs):
    for process in group.process_configs:
        print("%s:%s" % (group.name, process.name))
"#;

#[test]
fn check_config_list_names_the_processes_supervisord_would_run() {
    let ws = Workspace::new();
    ws.write(
        "conf.d/extra.conf",
        "[program:extra]\ncommand=/bin/true\nnumprocs=2\nnumprocs_start=5\n\
         process_name=%(program_name)s-%(process_num)02d\n",
    );
    let configs = [
        "[program:web]\ncommand=/bin/true\npriority=20\n\n\
         [program:workers]\ncommand=/bin/true\nnumprocs=3\nprocess_name=worker_%(process_num)d\n\
         priority=10\n\n\
         [program:a]\ncommand=/bin/true\n\n[program:b]\ncommand=/bin/true\nnumprocs=2\n\
         process_name=b%(process_num)d\n\n[group:pair]\nprograms=b,a\npriority=5\n\n\
         [eventlistener:listen]\ncommand=/bin/cat\nevents=PROCESS_STATE\nnumprocs=2\n\
         process_name=listen_%(process_num)d\n\n\
         [fcgi-program:fcgi]\ncommand=/bin/true\nsocket=unix://{dir}/fcgi.sock\nnumprocs=2\n\
         process_name=fcgi_%(process_num)d\n\n\
         [include]\nfiles={dir}/conf.d/*.conf\n",
        "[program:none]\ncommand=/bin/true\nnumprocs=0\n\n[program:one]\ncommand=/bin/true\n",
    ];
    let mut checked = 0;
    for (at, body) in configs.iter().enumerate() {
        let name = format!("list{at}.conf");
        ws.write(
            &name,
            &format!(
                "[supervisord]\nlogfile={{dir}}/vigild.log\npidfile={{dir}}/vigild.pid\n\
                 childlogdir={{dir}}\n\n{body}"
            ),
        );
        let path = ws.path().join(&name).display().to_string();
        checked += compare_lists(&ws, &path);
    }
    // The demo keeps its logs in target/demo, as the README's command makes it.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(root.join("target/demo")).expect("target/demo");
    for shipped in [
        "config/examples/container.conf",
        "config/supervisord-sample.conf",
        "config/vigil.conf",
    ] {
        let path = root.join(shipped);
        compare_lists(&ws, &path.display().to_string());
    }
    assert!(checked >= 13, "the configs run {checked} processes in all");
}

/// Compares vigild's `--check-config --list` for `path` with supervisord's processes
/// (as sets: supervisord's own start order sorts groups by priority too); returns how many.
fn compare_lists(ws: &Workspace, path: &str) -> usize {
    let (code, stdout, stderr) = stderr_of(ws, &["--check-config", "--list", "-c", path]);
    assert_eq!(code, 0, "{path}: {stdout}{stderr}");
    let mut ours: Vec<&str> = stdout.lines().collect();
    let python = run_python(SUPERVISORD_PROCESSES, &[path]);
    assert!(
        python.status.success(),
        "{path}: {}",
        String::from_utf8_lossy(&python.stderr)
    );
    let theirs = String::from_utf8_lossy(&python.stdout).into_owned();
    let mut theirs: Vec<&str> = theirs.lines().collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours, theirs, "{path}");
    ours.len()
}

#[test]
fn check_config_json_gives_every_process_with_its_options_and_located_warnings() {
    let ws = Workspace::new();
    ws.config(
        "[program:web]\ncommand=/bin/sleep 1\nnumprocs=2\nprocess_name=web_%(process_num)d\n\
         autorestrat=true\nstopsignal=INT\n",
    );
    let (code, stdout, _) = stderr_of(&ws, &["--check-config", "--json", "-c", "supervisord.conf"]);
    assert_eq!(code, 0, "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(json["ok"], true);
    let processes = json["processes"].as_array().expect("processes");
    assert_eq!(processes.len(), 2);
    let first = &processes[0];
    assert_eq!(
        (first["group"].as_str(), first["name"].as_str()),
        (Some("web"), Some("web_0"))
    );
    // Defaults and expansions resolved, in the config's own spelling.
    assert_eq!(first["options"]["startsecs"], "1");
    assert_eq!(first["options"]["stopsignal"], "SIGINT");
    assert_eq!(first["options"]["autorestart"], "unexpected");
    assert_eq!(first["options"]["stdout_logfile"], "AUTO");
    let warning = &json["warnings"][0];
    assert_eq!(warning["section"], "program:web");
    assert_eq!(warning["option"], "autorestrat");
    assert_eq!(
        warning["line"], 11,
        "the [supervisord] head takes six lines"
    );
    assert!(warning["file"]
        .as_str()
        .is_some_and(|f| f.ends_with("supervisord.conf")));
    let (strict, stdout, _) = stderr_of(
        &ws,
        &[
            "--check-config",
            "--json",
            "--strict",
            "-c",
            "supervisord.conf",
        ],
    );
    assert_eq!(strict, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(json["ok"], false);
}

/// A Debian-style supervisord.conf (a socket, conf.d includes, plugins) for `--migrate`;
/// `extra` goes into the main file.
fn debian_style_config(ws: &Workspace, extra: &str) -> String {
    ws.write(
        "conf.d/app.conf",
        "[program:app]\ncommand=sleep 600\nautorestart=true\nhealthcheck_tcp=127.0.0.1:1\n\n\
         [program:once]\ncommand=/bin/true\nautorestart=false\nstartsecs=0\n",
    );
    ws.write(
        "supervisord.conf",
        &format!(
            "[unix_http_server]\nfile={{dir}}/supervisor.sock\nchmod=0700\n\n\
             [supervisord]\nlogfile={{dir}}/supervisord.log\npidfile={{dir}}/supervisord.pid\n\
             childlogdir={{dir}}\n\n\
             [rpcinterface:supervisor]\n\
             supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
             [supervisorctl]\nserverurl=unix://{{dir}}/supervisor.sock\n\n\
             {extra}\
             [include]\nfiles = {{dir}}/conf.d/*.conf\n"
        ),
    )
    .display()
    .to_string()
}

#[test]
fn migrate_says_what_differs_under_vigil_and_what_runs_on_its_paths_now() {
    let ws = Workspace::new();
    let dir = ws.path().display().to_string();
    // A plugin vigil cannot load: exit 1, located; vigil's options and defaults as notes.
    let config = debian_style_config(
        &ws,
        "[rpcinterface:twiddler]\n\
         supervisor.rpcinterface_factory = supervisor_twiddler.rpcinterface:make_twiddler_rpcinterface\n\n\
         [ctlplugin:quick]\nsupervisor.ctl_factory = supervisor_quick:make_quick_controllerplugin\n\n",
    );
    let (code, out, _) = stderr_of(&ws, &["--check-config", "--migrate", "-c", &config]);
    assert_eq!(code, 1, "{out}");
    let twiddler = line_of(
        &out,
        &format!("Differs: {dir}/supervisord.conf:17: [rpcinterface:twiddler]"),
    );
    assert!(
        twiddler.contains("the twiddler.* methods will be missing"),
        "{out}"
    );
    let ctlplugin = line_of(
        &out,
        &format!("Note: {dir}/supervisord.conf:19: [ctlplugin:quick]"),
    );
    assert!(
        ctlplugin.contains("vigilctl does not offer its commands"),
        "{out}"
    );
    let option = line_of(
        &out,
        &format!(
            "Vigil option: {dir}/conf.d/app.conf:4: [program:app] healthcheck_tcp=127.0.0.1:1"
        ),
    );
    assert!(option.contains("supervisord ignores it"), "{out}");
    let damping = out
        .lines()
        .find(|l| l.contains("crash-loop damping"))
        .unwrap_or_default();
    assert!(
        damping.contains("applies to 1 process (app)"),
        "once has autorestart=false: {out}"
    );
    assert!(line_of(&out, "Path: ").contains("main log"), "{out}");
    assert!(
        out.contains(&format!(
            "control socket (supervisorctl and vigilctl on this file keep using it): {dir}/supervisor.sock"
        )),
        "{out}"
    );
    assert!(
        line_of(&out, "migrate: ").contains("2 processes, 0 errors, 1 differences"),
        "{out}"
    );

    // Without the plugin it runs as under supervisord: exit 0.
    let config = debian_style_config(&ws, "");
    let (code, out, _) = stderr_of(&ws, &["--check-config", "--migrate", "-c", &config]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("it runs under vigil as under supervisord"),
        "{out}"
    );
    assert!(!out.contains("Differs:"), "{out}");

    // The real supervisord running on it: its pid and socket are named.
    let supervisord = crate::support::Supervisord::start(&ws, std::path::Path::new(&config));
    let socket = ws.path().join("supervisor.sock");
    assert!(
        crate::support::wait_until(|| std::os::unix::net::UnixStream::connect(&socket).is_ok()
            && !ws.read("supervisord.pid").trim().is_empty()),
        "supervisord did not start: {}",
        ws.read("supervisord.log")
    );
    let pid = ws.read("supervisord.pid").trim().to_string();
    let (code, out, _) = stderr_of(&ws, &["--check-config", "--migrate", "-c", &config]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "names pid {pid}, which is running: stop that supervisor"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("a server answers on {dir}/supervisor.sock now")),
        "{out}"
    );
    drop(supervisord);

    // A result handler vigil does not know is an error: exit 1.
    ws.write(
        "conf.d/listener.conf",
        "[eventlistener:l]\ncommand=/bin/cat\nevents=TICK_5\nresult_handler=my.mod:handler\n",
    );
    let (code, out, _) = stderr_of(&ws, &["--check-config", "--migrate", "-c", &config]);
    assert_eq!(code, 1, "{out}");
    assert!(
        line_of(&out, "Error: ").contains("result_handler cannot be resolved"),
        "{out}"
    );
    assert!(out.contains("migrate: 0 processes, 1 errors"), "{out}");
}

/// The first line of `out` that starts with `start` (empty when none does).
fn line_of<'a>(out: &'a str, start: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_default()
}

#[test]
fn no_config_found_is_one_line_naming_where_vigild_looked_and_what_to_do() {
    let empty = tempfile::tempdir().expect("temp dir");
    let output = std::process::Command::new(crate::support::vigild_bin())
        .arg("-n")
        .current_dir(empty.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run vigild");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !stderr.starts_with("Error: no config file found") {
        eprintln!("skipped: this host has a config on the search path ({stderr})");
        return;
    }
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let here = empty.path().join("supervisord.conf");
    assert!(stderr.contains(&here.display().to_string()), "{stderr}");
    assert!(stderr.contains("/etc/vigil/vigil.conf"), "{stderr}");
    assert!(stderr.trim_end().ends_with("; use -c FILE"), "{stderr}");
}
