//! A bad config stops vigild with one line per problem naming file, section, option and value;
//! unknown options only warn; `--check-config` reports without starting anything.

use crate::support::Workspace;

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
    let (strict, _, _) = stderr_of(
        &ws,
        &["--check-config", "--strict", "-c", "supervisord.conf"],
    );
    assert_eq!(strict, 1);
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
