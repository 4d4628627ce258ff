//! Day-to-day operations (issue 23) with real processes: graceful reloads by
//! `reloadsignal` (and a `ready=notify` program's RELOADING=1 → READY=1 waited for),
//! scaling a `numprocs` program at runtime, cron schedules (per-second expressions, never
//! minutes of waiting), and one-shot tasks others wait for (`name:exited`, the
//! supervisord-dependent-startup plugin's keys).

use crate::support::*;

/// A program that appends `reloaded` to `{dir}/<name>.reloads` at each SIGHUP (its
/// handler is in place once `{dir}/<name>.up` exists); as a
/// `ready=notify` program (`notify` as second argument) it says READY=1 at start, and at
/// each SIGHUP RELOADING=1, then after half a second writes the line and says READY=1.
const RELOADABLE: &str = r#"
import os, signal, socket, sys, time
name = sys.argv[1]
notify = len(sys.argv) > 2 and sys.argv[2] == "notify"
here = os.path.dirname(os.path.abspath(__file__))
out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
def send(data):
    address = os.environ["NOTIFY_SOCKET"]
    if address.startswith("@"):
        address = "\0" + address[1:]
    out.sendto(data, address)
pending = []
signal.signal(signal.SIGHUP, lambda *_: pending.append(1))
open(os.path.join(here, name + ".up"), "w").close()
if notify:
    send(b"READY=1")
while True:
    if pending:
        pending.pop()
        if notify:
            send(b"RELOADING=1")
            time.sleep(0.5)
        with open(os.path.join(here, name + ".reloads"), "a") as f:
            f.write("reloaded\n")
        if notify:
            send(b"READY=1")
    time.sleep(0.02)
"#;

#[test]
fn reloadsignal_reloads_running_processes_counts_logs_and_tells_listeners() {
    let port = free_port();
    let python = venv_python().display().to_string();
    let ws = Workspace::new();
    ws.write("reloadable.py", RELOADABLE);
    ws.write("recorder.py", EVENT_RECORDER);
    ws.config(&format!(
        "{CONTROL_SECTIONS}[inet_http_server]\nport=127.0.0.1:{port}\n\n\
         [eventlistener:reloads]\ncommand={python} {{dir}}/recorder.py {{dir}}/events.log\n\
         events=VIGIL_RELOAD\n\n\
         [program:web]\ncommand=python3 {{dir}}/reloadable.py web_%(process_num)d\n\
         process_name=web_%(process_num)d\nnumprocs=2\nreloadsignal=HUP\nstartsecs=0\n\n\
         [program:api]\ncommand=python3 {{dir}}/reloadable.py api notify\n\
         ready=notify\nreloadsignal=SIGHUP\n\n\
         [program:plain]\ncommand=/bin/sleep 1000\nstartsecs=0\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    for name in ["web:web_0", "web:web_1", "api", "plain"] {
        wait_status(&vigild, name, &["RUNNING"]);
    }
    // A SIGHUP before the handler is in place would end the program.
    for name in ["web_0", "web_1", "api"] {
        assert!(wait_until(|| vigild
            .ws
            .path()
            .join(format!("{name}.up"))
            .exists()));
    }
    let web_0 = vigild.pid_of("web:web_0");

    // One process; the pid stays, the program did its reload.
    let (code, out) = vigild.vigilctl(&["reload-program", "web:web_0"]);
    assert_eq!((code, out.as_str()), (0, "web:web_0: reloaded\n"));
    assert!(wait_until(
        || vigild.ws.read("web_0.reloads") == "reloaded\n"
    ));
    assert_eq!(vigild.pid_of("web:web_0"), web_0);
    vigild.wait_log(&format!("reloading: web_0 (sent SIGHUP to pid {web_0})"));

    // A ready=notify program: the call returns after its READY=1, so its work is done.
    let (code, out) = vigild.vigilctl(&["reload-program", "api"]);
    assert_eq!((code, out.as_str()), (0, "api: reloaded\n"));
    assert_eq!(
        vigild.ws.read("api.reloads"),
        "reloaded\n",
        "waited for READY=1"
    );

    // A program without reloadsignal is a clear fault; nothing is sent to it.
    let (code, out) = vigild.vigilctl(&["reload-program", "plain"]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("plain: no reloadsignal is set for this program"),
        "{out}"
    );
    assert!(status_line(&vigild, "plain").contains("RUNNING"));

    // A group, then all (only the programs with a reloadsignal).
    let (code, out) = vigild.vigilctl(&["reload-program", "web:*"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "web:web_0: reloaded\nweb:web_1: reloaded\n")
    );
    let (code, out) = vigild.vigilctl(&["reload-program", "all"]);
    assert_eq!(code, 0, "{out}");
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "api: reloaded",
            "web:web_0: reloaded",
            "web:web_1: reloaded"
        ]
    );
    assert!(wait_until(|| vigild
        .ws
        .read("web_0.reloads")
        .lines()
        .count()
        == 3));

    // The XML-RPC call itself, and what it refuses.
    let answer = call(port, "vigil.reloadProcess", "'web:web_1', False");
    assert!(answer.contains(r#""status": 80"#), "{answer}");
    let (code, out) = vigild.vigilctl(&["reload-program", "nope"]);
    assert_eq!((code, out.as_str()), (1, "nope: ERROR (no such process)\n"));

    let (_, metrics) = http_get(port, "/metrics", None);
    for (name, count) in [("web_0", 3.0), ("web_1", 3.0)] {
        assert_eq!(
            metric_value(
                &metrics,
                &format!(r#"vigil_process_reloads_total{{group="web",name="{name}"}}"#)
            ),
            Some(count),
            "{metrics}"
        );
    }
    assert_eq!(
        metric_value(
            &metrics,
            r#"vigil_process_reloads_total{group="api",name="api"}"#
        ),
        Some(2.0)
    );
    assert!(
        !metrics.contains(r#"vigil_process_reloads_total{group="plain""#),
        "only programs with a reloadsignal have the series"
    );
    let mut events = String::new();
    assert!(
        wait_until(|| {
            events = vigild.ws.read("events.log");
            events.matches("eventname:VIGIL_RELOAD").count() == 8
        }),
        "{events}"
    );
    assert!(
        events.contains(&format!(
            "processname:web_0 groupname:web pid:{web_0} signal:HUP"
        )),
        "{events}"
    );
    assert_eq!(vigild.pid_of("web:web_0"), web_0, "reloads restart nothing");
    vigild.shutdown();
}

#[test]
fn a_one_shot_task_holds_its_dependents_until_it_exited_as_expected() {
    let ws = Workspace::new();
    ws.write("broken.sh", "exit 3\n");
    ws.config(&format!(
        "{CONTROL_SECTIONS}\
         [program:migrate]\ncommand=/bin/sh -c \"while [ ! -e {{dir}}/migrate.go ]; do sleep 0.02; done; \
         touch {{dir}}/migrated\"\nstartsecs=0\nautorestart=false\npriority=1\n\n\
         [program:web]\ncommand=/bin/sh -c \"test -e {{dir}}/migrated && exec sleep 1000\"\n\
         startsecs=0\ndepends_on=migrate:exited\npriority=2\n\n\
         [program:broken]\ncommand=/bin/sh {{dir}}/broken.sh\nstartsecs=0\nautorestart=false\n\n\
         [program:after_broken]\ncommand=/bin/sleep 1000\ndepends_on=broken:exited\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    wait_status(
        &vigild,
        "web",
        &["STOPPED", "waiting for migrate (to exit)"],
    );
    // (migrate may still be STARTING when web's line is read: its spawn is reported apart.)
    wait_status(&vigild, "migrate", &["RUNNING"]);
    // A failed one-shot keeps its dependents waiting, saying why.
    wait_status(
        &vigild,
        "after_broken",
        &["STOPPED", "waiting for broken (exit status 3)"],
    );
    vigild.ws.write("migrate.go", "");
    wait_status(&vigild, "migrate", &["EXITED"]);
    // web's command fails unless the migration ran first.
    wait_status(&vigild, "web", &["RUNNING"]);
    // Starting web by hand again does not run the migration again.
    let migrate_runs = lines_with(&vigild.log(), "spawned: 'migrate'").len();
    let (code, out) = vigild.vigilctl(&["restart", "web"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        lines_with(&vigild.log(), "spawned: 'migrate'").len(),
        migrate_runs
    );
    // Running the one-shot again and stopping it leaves its :exited dependent running.
    let web = vigild.pid_of("web");
    std::fs::remove_file(vigild.ws.path().join("migrate.go")).expect("remove migrate.go");
    vigild.vigilctl(&["start", "migrate"]);
    wait_status(&vigild, "migrate", &["RUNNING"]);
    let (code, out) = vigild.vigilctl(&["stop", "migrate"]);
    assert_eq!((code, out.as_str()), (0, "migrate: stopped\n"));
    assert_eq!(vigild.pid_of("web"), web);
    assert!(status_line(&vigild, "web").contains("RUNNING"));
    // Running the failed task again, successfully, releases its dependent.
    assert!(status_line(&vigild, "after_broken").contains("STOPPED"));
    vigild.ws.write("broken.sh", "exit 0\n");
    vigild.vigilctl(&["start", "broken"]);
    wait_status(&vigild, "after_broken", &["RUNNING"]);
    vigild.shutdown();
}

#[test]
fn supervisord_dependent_startup_configs_run_natively_without_the_plugin() {
    let ws = Workspace::new();
    let config = ws.config(&format!(
        "{CONTROL_SECTIONS}\
         [eventlistener:dependentstartup]\ncommand=python -m supervisord_dependent_startup\n\
         autostart=true\nautorestart=unexpected\nstartretries=0\nexitcodes=0,3\nevents=PROCESS_STATE\n\n\
         [program:rsyslogd]\ncommand=/bin/sleep 1000\nautostart=false\ndependent_startup=true\n\
         priority=1\n\n\
         [program:wait-interfaces]\ncommand=/bin/sh -c \"while [ ! -e {{dir}}/up ]; do sleep 0.02; done\"\n\
         startsecs=0\nautostart=false\nautorestart=false\ndependent_startup=true\npriority=2\n\n\
         [program:syncd]\ncommand=/bin/sleep 1000\nautostart=false\nautorestart=true\n\
         dependent_startup=true\ndependent_startup_wait_for=rsyslogd:running wait-interfaces:exited\n\
         priority=5\n\n\
         [program:manual]\ncommand=/bin/sleep 1000\nautostart=false\n\
         dependent_startup_wait_for=rsyslogd:running\n"
    ));
    let output = ws.run_vigild(&["--check-config", "-c", &config.display().to_string()]);
    let check = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        check.contains("runs the supervisord-dependent-startup plugin, which vigild does itself"),
        "{check}"
    );
    assert!(
        check.contains("dependent_startup_wait_for is ignored without dependent_startup=true"),
        "{check}"
    );
    let mut vigild = Vigild::start(ws, &[]);
    wait_status(&vigild, "rsyslogd", &["RUNNING"]);
    wait_status(
        &vigild,
        "syncd",
        &["STOPPED", "waiting for wait-interfaces (to exit)"],
    );
    vigild.ws.write("up", "");
    wait_status(&vigild, "syncd", &["RUNNING"]);
    assert!(status_line(&vigild, "manual").contains("STOPPED"));
    // The plugin's listener is not run: nothing could start a program twice.
    let (_, status) = vigild.vigilctl(&["status"]);
    assert!(!status.contains("dependentstartup"), "{status}");
    assert_eq!(lines_with(&vigild.log(), "spawned: 'syncd'").len(), 1);
    vigild.shutdown();
}

#[test]
fn schedules_start_one_shot_jobs_restart_long_lived_programs_and_skip_overlapping_runs() {
    let port = free_port();
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[inet_http_server]\nport=127.0.0.1:{port}\n\n\
         [program:job]\ncommand=/bin/sh -c \"echo run >> {{dir}}/job.runs\"\n\
         schedule=*/2 * * * * *\nschedule_timezone=UTC\nautostart=false\nstartsecs=0\n\
         autorestart=false\n\n\
         [program:slow]\ncommand=/bin/sh -c \"echo run >> {{dir}}/slow.runs; sleep 2.5\"\n\
         schedule=* * * * * *\nautostart=false\nstartsecs=0\nautorestart=false\n\n\
         [program:nginx]\ncommand=/bin/sleep 1000\nrestart_schedule=*/2 * * * * *\nstartsecs=0\n\n\
         [program:daily]\ncommand=/bin/true\nschedule=@daily\nautostart=false\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    let first_nginx = vigild.pid_of("nginx");
    assert!(
        wait_until(|| vigild.ws.read("job.runs").lines().count() >= 2),
        "{}",
        vigild.log()
    );
    let log = vigild.wait_log("schedule: starting job (schedule=*/2 * * * * *)");
    assert!(!log.contains("spawned: 'daily'"), "not due before midnight");
    // Overlapping runs of slow are skipped and counted, never started twice.
    vigild.wait_log("schedule: skipped a run of slow: it is still RUNNING from the last one");
    // The long-lived program is restarted through the normal stop path.
    vigild.wait_log("schedule: restarting nginx (restart_schedule=*/2 * * * * *)");
    assert!(wait_until(|| vigild.pid_of("nginx") != first_nginx
        && status_line(&vigild, "nginx").contains("RUNNING")));
    let line = status_line(&vigild, "daily");
    assert!(line.contains("Not started, next run at "), "{line}");
    assert!(line.contains(" 00:00:00"), "@daily is at midnight: {line}");
    assert!(status_line(&vigild, "nginx").contains("next restart at "));

    let (_, metrics) = http_get(port, "/metrics", None);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let next = metric_value(
        &metrics,
        r#"vigil_process_next_scheduled_start_timestamp_seconds{group="job",name="job"}"#,
    )
    .expect("the next start is exported");
    assert!(next > now - 1.0 && next <= now + 3.0, "{next} vs {now}");
    let skipped = metric_value(
        &metrics,
        r#"vigil_process_scheduled_runs_skipped_total{group="slow",name="slow"}"#,
    )
    .expect("skips are counted");
    assert!(skipped >= 1.0, "{metrics}");
    assert!(
        metric_value(
            &metrics,
            r#"vigil_process_exits_total{group="nginx",name="nginx",reason="scheduled"}"#
        )
        .is_some_and(|restarts| restarts >= 1.0),
        "{metrics}"
    );
    assert!(metrics.contains(
        r#"vigil_process_next_scheduled_restart_timestamp_seconds{group="nginx",name="nginx"}"#
    ));
    // The overviews: vigilctl schedules and the page's Schedules table.
    let (code, out) = vigild.vigilctl(&["schedules"]);
    assert_eq!(code, 0, "{out}");
    let header = out.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("NAME") && header.contains("EXPRESSION") && header.contains("SKIPPED"),
        "{out}"
    );
    let job = out
        .lines()
        .find(|l| l.starts_with("job "))
        .unwrap_or_default();
    assert!(
        job.contains("schedule") && job.contains("*/2 * * * * *") && job.contains("UTC"),
        "{out}"
    );
    let nginx = out
        .lines()
        .find(|l| l.starts_with("nginx "))
        .unwrap_or_default();
    assert!(
        nginx.contains("restart_schedule") && nginx.contains("local"),
        "{out}"
    );
    let (status, page) = http_get(port, "/", None);
    assert_eq!(status, 200);
    assert!(
        page.contains("<section id=\"schedules\"><h2>Schedules</h2>"),
        "{page}"
    );
    assert!(page.contains("<code>*/2 * * * * *</code>"), "{page}");
    // slow never ran twice at once: every run began after the last had ended.
    let runs = vigild.ws.read("slow.runs").lines().count();
    let spawned = lines_with(&vigild.log(), "spawned: 'slow'").len();
    assert_eq!(runs, spawned);
    assert!(
        lines_with(&vigild.log(), "exited: slow").len() + 1 >= spawned,
        "{}",
        vigild.log()
    );
    vigild.shutdown();
}

/// The pid of each member of `group` that `vigilctl status` shows, by name.
fn member_pids(vigild: &Vigild, group: &str) -> Vec<(String, i32)> {
    let (_, status) = vigild.vigilctl(&["status"]);
    status
        .lines()
        .filter(|line| line.starts_with(&format!("{group}:")))
        .map(|line| {
            let name = line
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            let pid = line
                .split("pid ")
                .nth(1)
                .and_then(|rest| rest.split(',').next())
                .and_then(|pid| pid.parse().ok())
                .unwrap_or(0);
            (name, pid)
        })
        .collect()
}

/// Waits until `group` has exactly the members `names`, all RUNNING; returns their pids.
fn wait_members(vigild: &Vigild, group: &str, names: &[&str]) -> Vec<(String, i32)> {
    let mut members = Vec::new();
    let wanted: Vec<String> = names.iter().map(|n| format!("{group}:{n}")).collect();
    let done = wait_until(|| {
        members = member_pids(vigild, group);
        members.iter().map(|(n, _)| n).eq(wanted.iter()) && members.iter().all(|(_, pid)| *pid > 0)
    });
    assert!(
        done,
        "{group} never had {wanted:?}: {members:?}\n{}",
        vigild.log()
    );
    members
}

#[test]
fn scale_grows_and_shrinks_a_numprocs_group_leaving_the_others_running() {
    let state = tempfile::tempdir().expect("state dir");
    let statefile = state.path().join("vigil.state");
    let config = |numprocs: u32| {
        format!(
            "[supervisord]\nlogfile={{dir}}/vigild.log\npidfile={{dir}}/vigild.pid\n\
             childlogdir={{dir}}\nstatefile={}\n\n{CONTROL_SECTIONS}\
             [program:worker]\ncommand=/bin/sleep 1000\nprocess_name=worker_%(process_num)d\n\
             numprocs={numprocs}\nstartsecs=0\n\n\
             [program:a]\ncommand=/bin/sleep 1000\n\n[program:b]\ncommand=/bin/sleep 1000\n\n\
             [group:pair]\nprograms=a,b\n\n\
             [program:single]\ncommand=/bin/sleep 1000\nstartsecs=0\n",
            statefile.display()
        )
    };
    let start = |numprocs: u32| {
        let ws = Workspace::new();
        ws.write("supervisord.conf", &config(numprocs));
        let vigild = Vigild::start(ws, &[]);
        vigild.wait_log("supervisord started");
        vigild
    };
    let mut first = start(2);
    let before = wait_members(&first, "worker", &["worker_0", "worker_1"]);

    let (code, out) = first.vigilctl(&["scale", "worker", "4"]);
    assert_eq!((code, out.as_str()), (0, "worker: scaled to 4\n"));
    let grown = wait_members(
        &first,
        "worker",
        &["worker_0", "worker_1", "worker_2", "worker_3"],
    );
    assert_eq!(
        grown[..2],
        before[..],
        "the members already running are untouched"
    );

    let (code, out) = first.vigilctl(&["scale", "worker", "1"]);
    assert_eq!((code, out.as_str()), (0, "worker: scaled to 1\n"));
    let shrunk = wait_members(&first, "worker", &["worker_0"]);
    assert_eq!(shrunk[0], before[0]);
    let log = first.log();
    for gone in ["worker_1", "worker_2", "worker_3"] {
        assert!(
            log.contains(&format!("stopped: {gone} (terminated by SIGTERM)")),
            "{log}"
        );
    }

    let (code, out) = first.vigilctl(&["scale", "worker:*", "3"]);
    assert_eq!((code, out.as_str()), (0, "worker:*: scaled to 3\n"));
    let three = wait_members(&first, "worker", &["worker_0", "worker_1", "worker_2"]);
    assert_eq!(three[0], before[0]);
    assert!(wait_until(|| std::fs::read_to_string(&statefile)
        .is_ok_and(
            |text| text.contains("\"numprocs\": 3") && text.contains("\"file_numprocs\": 2")
        )));

    // A reread of the unchanged file keeps the scale: nothing to update, nothing restarted.
    let (code, out) = first.ctl(&["reread"]);
    assert_eq!((code, out.trim()), (0, "No config updates to processes"));
    let (code, out) = first.vigilctl(&["update"]);
    assert_eq!((code, out.as_str()), (0, ""));
    assert_eq!(member_pids(&first, "worker"), three);

    // What cannot be scaled says why and changes nothing.
    for (args, why) in [
        (
            ["scale", "worker", "-1"],
            "the number of processes must be 0 to 10000",
        ),
        (
            ["scale", "pair", "3"],
            "its processes come from several programs (a, b)",
        ),
        (["scale", "nope", "3"], "BAD_NAME: nope"),
        (
            ["scale", "single", "2"],
            "%(process_num) must be present within process_name when numprocs > 1",
        ),
    ] {
        let (code, out) = first.vigilctl(&args);
        assert_ne!(code, 0, "{out}");
        assert!(out.contains(why), "{args:?}: {out}");
    }
    assert_eq!(member_pids(&first, "worker"), three);
    first.shutdown();

    // The statefile remembers the size across a restart of vigild.
    let mut second = start(2);
    let remembered = wait_members(&second, "worker", &["worker_0", "worker_1", "worker_2"]);
    // Then numprocs changes in the file: the file wins, restarting nothing that did not change.
    second.ws.write("supervisord.conf", &config(5));
    let (code, out) = second.vigilctl(&["update"]);
    assert_eq!(
        (code, out.trim()),
        (0, "worker: updated process group"),
        "{out}"
    );
    let five = wait_members(
        &second,
        "worker",
        &["worker_0", "worker_1", "worker_2", "worker_3", "worker_4"],
    );
    assert_eq!(five[..3], remembered[..]);
    second.wait_log("scale: worker goes back to the file's numprocs (5)");
    assert!(wait_until(
        || std::fs::read_to_string(&statefile).is_ok_and(|text| !text.contains("file_numprocs"))
    ));
    second.shutdown();
}

#[test]
fn bad_new_options_on_reread_are_errors_naming_the_value_and_touch_nothing() {
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:web]\ncommand=/bin/sleep 1000\nstartsecs=0\nreloadsignal=HUP\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    wait_status(&vigild, "web", &["RUNNING"]);
    let pid = vigild.pid_of("web");
    vigild.ws.config(&format!(
        "{CONTROL_SECTIONS}[program:web]\ncommand=/bin/sleep 1000\nstartsecs=0\nreloadsignal=BOGUS\n\
         schedule=every tuesday\nschedule_timezone=Atlantis/Capital\n\n\
         [program:migrate]\ncommand=/bin/true\nautorestart=true\n\n\
         [program:app]\ncommand=/bin/true\ndepends_on=migrate:exited,web:healthy\n"
    ));
    let (code, out) = vigild.vigilctl(&["reread"]);
    assert_ne!(code, 0, "{out}");
    for why in [
        "[program:web] reloadsignal=BOGUS: not a signal name",
        "[program:web] schedule=every tuesday: not a cron expression",
        "[program:web] schedule_timezone=Atlantis/Capital: unknown time zone",
        "[program:app] depends_on=migrate:exited,web:healthy: unknown state 'healthy'",
    ] {
        assert!(out.contains(why), "{why}: {out}");
    }
    let (code, out) = vigild.vigilctl(&["update"]);
    assert_ne!(code, 0, "{out}");
    assert_eq!(vigild.pid_of("web"), pid, "the running fleet is untouched");
    assert!(status_line(&vigild, "web").contains("RUNNING"));
    vigild.shutdown();
}
