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
from supervisor.options import ServerOptions
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
    for shipped in [
        "config/examples/container.conf",
        "config/supervisord-sample.conf",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(shipped);
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
