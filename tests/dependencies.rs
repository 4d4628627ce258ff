//! `depends_on` with real processes: a dependency that becomes RUNNING (or healthy) late
//! delays its dependents, starting by hand starts the dependencies first, and stopping a
//! dependency stops its dependents first.

use crate::support::*;

/// The time of the first main-log line containing `needle`.
fn time_of(log: &str, needle: &str) -> f64 {
    let lines = lines_with(log, needle);
    assert!(!lines.is_empty(), "no {needle:?} in\n{log}");
    line_time(lines[0])
}

#[test]
fn dependents_start_once_their_dependencies_are_running_and_healthy() {
    let vigild = Vigild::with_config(&format!(
        "{CONTROL_SECTIONS}[program:db]\ncommand=/bin/sleep 1000\nstartsecs=2\n\n\
         [program:cache]\ncommand=/bin/sleep 1000\nstartsecs=0\n\
         healthcheck_command=test -f {{dir}}/cache-ready\nhealthcheck_interval=0.2\n\n\
         [program:app]\ncommand=/bin/sleep 1000\nstartsecs=0\ndepends_on=db,cache\n\n\
         [program:worker]\ncommand=/bin/sleep 1000\nstartsecs=0\nnumprocs=2\n\
         process_name=worker_%(process_num)d\ndepends_on=app\n"
    ));
    vigild.wait_log("waiting: app starts once db and cache are ready");
    let (_, status) = vigild.vigilctl(&["status", "app"]);
    assert!(
        status.contains("STOPPED") && status.contains("waiting for"),
        "{status}"
    );
    vigild.wait_log("success: db entered RUNNING state");
    // db is RUNNING but cache is not healthy yet: app still waits.
    assert!(!vigild.log().contains("spawned: 'app'"), "{}", vigild.log());
    vigild.ws.write("cache-ready", "");
    let log = vigild.wait_log_count("success: worker_", 2);
    let app = time_of(&log, "spawned: 'app'");
    assert!(app >= time_of(&log, "success: db entered RUNNING"), "{log}");
    assert!(
        app >= time_of(&log, "healthy: cache passes its health check"),
        "{log}"
    );
    for worker in ["worker_0", "worker_1"] {
        assert!(
            time_of(&log, &format!("spawned: '{worker}'"))
                >= time_of(&log, "success: app entered RUNNING"),
            "{log}"
        );
    }
}

#[test]
fn start_brings_dependencies_up_first_and_stop_takes_dependents_down_first() {
    let vigild = Vigild::with_config(&format!(
        "{CONTROL_SECTIONS}[program:db]\ncommand=/bin/sleep 1000\nstartsecs=1\nautostart=false\n\n\
         [program:app]\ncommand=/bin/sleep 1000\nstartsecs=0\nautostart=false\ndepends_on=db\n\n\
         [program:web]\ncommand=/bin/sleep 1000\nstartsecs=0\nautostart=false\ndepends_on=app\n"
    ));
    vigild.wait_log("supervisord started");
    // The real supervisorctl waits for RUNNING, through the dependencies' start.
    let (code, out) = vigild.ctl(&["start", "web"]);
    assert_eq!((code, out.trim()), (0, "web: started"), "{}", vigild.log());
    let log = vigild.log();
    assert!(
        time_of(&log, "spawned: 'app'") >= time_of(&log, "success: db entered RUNNING"),
        "{log}"
    );
    assert!(
        time_of(&log, "spawned: 'web'") >= time_of(&log, "success: app entered RUNNING"),
        "{log}"
    );

    let (code, out) = vigild.ctl(&["stop", "db"]);
    assert_eq!((code, out.trim()), (0, "db: stopped"), "{}", vigild.log());
    let log = vigild.log();
    let web = log.find("stopped: web").expect("web stopped");
    let app = log.find("stopped: app").expect("app stopped");
    let db = log.find("stopped: db").expect("db stopped");
    assert!(web < app && app < db, "dependents first:\n{log}");
}

#[test]
fn a_start_fails_when_its_dependency_goes_fatal() {
    let vigild = Vigild::with_config(&format!(
        "{CONTROL_SECTIONS}[program:db]\ncommand=/bin/sh -c 'exit 1'\nstartretries=0\nautostart=false\n\n\
         [program:app]\ncommand=/bin/sleep 1000\nstartsecs=0\nautostart=false\ndepends_on=db\n"
    ));
    vigild.wait_log("supervisord started");
    let (code, out) = vigild.ctl(&["start", "app"]);
    assert_eq!(
        (code, out.trim()),
        (7, "app: ERROR (spawn error)"),
        "{}",
        vigild.log()
    );
    let log = vigild.wait_log("not starting app: dependency db is FATAL");
    assert!(!log.contains("spawned: 'app'"), "{log}");
}
