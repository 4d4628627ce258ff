//! Child log files: rotation without loss, AUTO cleanup, ANSI stripping, timestamps,
//! capture mode, markers, non-seekable targets and slow disks.

use std::fs;
use std::path::Path;

use crate::support::{lines_with, stat_fields, wait_until, Vigild, Workspace, CONTROL_SECTIONS};

/// `name`, `name.1` … as they exist, oldest first.
fn rotated_files(dir: &Path, name: &str) -> Vec<String> {
    let mut backups: Vec<u32> = fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            file.strip_prefix(&format!("{name}."))?.parse().ok()
        })
        .collect();
    backups.sort_unstable_by(|a, b| b.cmp(a));
    let mut files: Vec<String> = backups.iter().map(|n| format!("{name}.{n}")).collect();
    files.push(name.to_string());
    files
}

/// Runs `seq 1 count` through a log with `maxbytes`/`backups`; returns (the kept files in
/// order, their concatenation).
fn rotate_numbered_lines(count: u32, maxbytes: &str, backups: u32) -> (Vec<String>, String) {
    let mut vigild = Vigild::with_config(&format!(
        "[program:counter]\ncommand=seq 1 {count}\nstartsecs=0\nautorestart=false\n\
         stdout_logfile={{dir}}/counter.log\nstdout_logfile_maxbytes={maxbytes}\nstdout_logfile_backups={backups}\n"
    ));
    vigild.wait_log("exited: counter (exit status 0; expected)");
    let expected_total: usize = (1..=count).map(|n| n.to_string().len() + 1).sum();
    let dir = vigild.ws.path().to_path_buf();
    let total = || -> usize {
        rotated_files(&dir, "counter.log")
            .iter()
            .map(|f| fs::metadata(dir.join(f)).map_or(0, |m| m.len() as usize))
            .sum()
    };
    if backups >= 1000 {
        assert!(wait_until(|| total() == expected_total), "bytes missing");
    }
    vigild.shutdown();
    let files = rotated_files(&dir, "counter.log");
    let text: String = files
        .iter()
        .map(|f| fs::read_to_string(dir.join(f)).expect("read"))
        .collect();
    (files, text)
}

#[test]
fn rotation_keeps_every_line_exactly_once() {
    let count = 100_000;
    let (files, text) = rotate_numbered_lines(count, "64KB", 1000);
    assert!(files.len() >= 4, "several rotations expected: {files:?}");
    let numbers: Vec<u32> = text
        .lines()
        .map(|l| l.parse().expect("a number per line"))
        .collect();
    assert_eq!(
        numbers,
        (1..=count).collect::<Vec<_>>(),
        "every line once, in order"
    );
}

#[test]
fn rotation_keeps_no_more_than_backups_old_files() {
    let count = 100_000;
    let (files, text) = rotate_numbered_lines(count, "64KB", 3);
    assert_eq!(files.len(), 4, "counter.log plus 3 backups: {files:?}");
    // What is kept is the end of the stream, each line once (the oldest kept file may start
    // in the middle of a line).
    let numbers: Vec<u32> = text
        .lines()
        .skip(1)
        .map(|l| l.parse().expect("number"))
        .collect();
    assert_eq!(numbers.last(), Some(&count));
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "contiguous");
}

#[test]
fn zero_backups_truncate_in_place() {
    let (files, text) = rotate_numbered_lines(20_000, "16KB", 0);
    assert_eq!(files, ["counter.log"], "no backup files");
    assert!(text.len() < 16 * 1024 + 128 * 1024, "{} bytes", text.len());
    assert!(text.ends_with("20000\n"));
}

#[test]
fn auto_logs_are_removed_at_shutdown_and_stale_ones_at_startup() {
    let ws = Workspace::new();
    ws.write("old-stdout---supervisor-abcdefgh.log", "stale");
    ws.write("old-stdout---supervisor-abcdefgh.log.1", "stale");
    ws.write("unrelated.log", "keep");
    ws.config("[program:auto]\ncommand=/bin/sh -c \"echo hi; sleep 1000\"\nstartsecs=0\n");
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("success: auto entered RUNNING state");
    let dir = vigild.ws.path().to_path_buf();
    let autos = || -> Vec<String> {
        fs::read_dir(&dir)
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("---supervisor-"))
            .collect()
    };
    let during = autos();
    assert_eq!(
        during.len(),
        2,
        "only this run's stdout and stderr: {during:?}"
    );
    assert!(during.iter().all(|n| n.starts_with("auto-")), "{during:?}");
    vigild.shutdown();
    assert!(autos().is_empty(), "{:?}", autos());
    assert_eq!(vigild.ws.read("unrelated.log"), "keep");
}

#[test]
fn nocleanup_keeps_auto_logs() {
    let ws = Workspace::new();
    ws.write("old-stdout---supervisor-abcdefgh.log", "stale");
    ws.config("[program:auto]\ncommand=/bin/sleep 1000\nstartsecs=0\n");
    let mut vigild = Vigild::start(ws, &["-k"]);
    vigild.wait_log("success: auto entered RUNNING state");
    vigild.shutdown();
    let count = fs::read_dir(vigild.ws.path())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("---supervisor-"))
        .count();
    assert_eq!(count, 3, "the stale file and this run's two");
}

/// Runs one program printing `printf` text; returns its stdout log after it exited.
fn logged(options: &str, supervisord: &str, printf: &str) -> String {
    let ws = Workspace::new();
    ws.write("print.sh", &format!("#!/bin/sh\nprintf '{printf}'\n"));
    stdout_log_of(ws, "/bin/sh {dir}/print.sh", options, supervisord)
}

/// Runs `command` once as program `p` in `ws`; returns its stdout log after it exited.
fn stdout_log_of(ws: Workspace, command: &str, options: &str, supervisord: &str) -> String {
    ws.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nlogfile={{dir}}/vigild.log\npidfile={{dir}}/vigild.pid\nchildlogdir={{dir}}\n{supervisord}\n\n\
             [program:p]\ncommand={command}\nstartsecs=0\nautorestart=false\n\
             stdout_logfile={{dir}}/p.log\n{options}\n"
        ),
    );
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("exited: p (exit status 0; expected)");
    vigild.shutdown();
    vigild.ws.read("p.log")
}

#[test]
fn strip_ansi_removes_escape_sequences() {
    let colored = "\\033[1;31mred\\033[0m plain\\n";
    assert_eq!(logged("", "strip_ansi=true", colored), "red plain\n");
    assert_eq!(
        logged("", "", colored),
        "\u{1b}[1;31mred\u{1b}[0m plain\n",
        "off by default"
    );
}

#[test]
fn timestamps_prefix_each_line_when_asked() {
    let log = logged("stdout_logfile_timestamps=true", "", "one\\ntwo\\n");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    for (line, text) in lines.iter().zip(["one", "two"]) {
        let (stamp, rest) = line.split_once(' ').expect("stamp and text");
        assert_eq!(rest, text);
        assert_eq!(
            stamp.len(),
            "2026-11-24T16:05:09.123+00:00".len(),
            "{stamp}"
        );
        assert_eq!(&stamp[10..11], "T", "{stamp}");
    }
}

#[test]
fn capture_mode_routes_blocks_out_of_the_log() {
    let text = "before <!--XSUPERVISOR:BEGIN-->secret<!--XSUPERVISOR:END--> after\\n";
    assert_eq!(
        logged("stdout_capture_maxbytes=1KB", "", text),
        "before  after\n"
    );
    assert!(
        logged("", "", text).contains("secret"),
        "capture mode is off by default"
    );
}

#[test]
fn log_markers_tell_runs_apart() {
    let log = logged("log_markers=true", "", "work\\n");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert!(
        lines[0].starts_with("==> vigil: spawned 'p' with pid "),
        "{log}"
    );
    assert_eq!(lines[1], "work");
    assert!(
        lines[2].starts_with("==> vigil: exited 'p' (exit status 0) at "),
        "{log}"
    );
}

#[test]
fn dev_stdout_works_with_the_default_maxbytes() {
    let mut vigild = Vigild::with_config(
        "[program:container]\ncommand=/bin/sh -c \"for i in 1 2 3; do echo line-$i; done\"\nstartsecs=0\n\
         autorestart=false\nstdout_logfile=/dev/stdout\n",
    );
    let log = vigild.wait_log("exited: container (exit status 0; expected)");
    assert!(
        wait_until(|| vigild.ws.read("vigild.stdout") == "line-1\nline-2\nline-3\n"),
        "{}",
        vigild.ws.read("vigild.stdout")
    );
    assert_eq!(
        lines_with(&log, "is not a regular file: rotation").len(),
        1,
        "{log}"
    );
    assert!(!log.contains("Illegal seek"), "{log}");
    vigild.shutdown();
}

#[test]
fn a_child_that_closes_stdout_keeps_running_and_stderr_still_flows() {
    let mut vigild = Vigild::with_config(
        "[program:quiet]\ncommand=/bin/sh -c \"exec 1>&-; sleep 0.3; echo still-here >&2; exec sleep 1000\"\n\
         startsecs=1\nstderr_logfile={dir}/quiet.err\n",
    );
    vigild.wait_log("success: quiet entered RUNNING state");
    assert!(wait_until(|| vigild.ws.read("quiet.err") == "still-here\n"));
    let log = vigild.shutdown();
    assert!(
        log.contains("stopped: quiet (terminated by SIGTERM)"),
        "{log}"
    );
}

#[test]
fn a_slow_disk_stalls_only_its_own_stream() {
    let ws = Workspace::new();
    let fifo = ws.path().join("slow.log");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    // Our read end keeps the FIFO open for vigild's writer, and we never read: a disk that
    // has stopped.
    let _reader = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .expect("open fifo");
    ws.config(
        "[program:flood]\ncommand=/bin/sh -c \"yes flood\"\nstartsecs=0\nstdout_logfile={dir}/slow.log\n\
         stdout_logfile_maxbytes=0\n\n\
         [program:ticker]\ncommand=/bin/sh -c \"while true; do echo tick; sleep 0.05; done\"\nstartsecs=0\n\
         stdout_logfile={dir}/ticker.log\n\n\
         [program:crasher]\ncommand=/bin/sh -c \"sleep 0.2; exit 1\"\nstartsecs=0\n",
    );
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("success: flood entered RUNNING state");
    let ticks = |v: &Vigild| v.ws.read("ticker.log").matches("tick").count();
    let before = ticks(&vigild);
    let (cpu_before, since) = (cpu_seconds(vigild.pid()), std::time::Instant::now());
    assert!(
        wait_until(|| ticks(&vigild) > before + 20),
        "other logs must keep flowing"
    );
    // The supervisor keeps working: the crasher keeps being restarted.
    vigild.wait_log_count("spawned: 'crasher'", 5);
    // The stalled stream waits for room; it does not retry in a loop (it spun a whole core).
    let share = (cpu_seconds(vigild.pid()) - cpu_before) / since.elapsed().as_secs_f64();
    assert!(share < 0.5, "vigild used {share:.2} of a core");
    let log = vigild.shutdown();
    assert!(log.contains("stopped: flood"), "{log}");
}

use std::os::unix::fs::OpenOptionsExt;

/// user + system CPU seconds `pid` has used.
fn cpu_seconds(pid: i32) -> f64 {
    let fields = stat_fields(pid).expect("vigild's stat");
    let ticks: f64 = fields[11..13]
        .iter()
        .map(|t| t.parse::<f64>().expect("tick count"))
        .sum();
    let per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .expect("CLK_TCK");
    ticks / per_second as f64
}

#[test]
fn stdout_and_stderr_sharing_one_file_never_overwrite_each_other() {
    let mut vigild = Vigild::with_config(
        "[program:both]\ncommand=/bin/sh -c \"for i in $(seq 1 300); do echo out-$i; echo err-$i >&2; done\"\n\
         startsecs=0\nautorestart=false\nstdout_logfile={dir}/both.log\nstderr_logfile={dir}/both.log\n",
    );
    vigild.wait_log("exited: both (exit status 0; expected)");
    let complete = |text: &str| {
        (1..=300).all(|i| {
            text.lines().any(|l| l == format!("out-{i}"))
                && text.lines().any(|l| l == format!("err-{i}"))
        })
    };
    assert!(
        wait_until(|| complete(&vigild.ws.read("both.log"))),
        "{}",
        vigild.ws.read("both.log")
    );
    assert_eq!(vigild.ws.read("both.log").lines().count(), 600);
    vigild.shutdown();
}

#[test]
fn writes_follow_an_external_truncation() {
    let mut vigild = Vigild::with_config(
        "[program:ticker]\ncommand=/bin/sh -c \"i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.02; done\"\n\
         startsecs=0\nstdout_logfile={dir}/ticker.log\nstdout_logfile_maxbytes=0\n",
    );
    vigild.wait_log("success: ticker entered RUNNING state");
    assert!(wait_until(
        || vigild.ws.read("ticker.log").lines().count() > 5
    ));
    // logrotate's copytruncate.
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(vigild.ws.path().join("ticker.log"))
        .expect("truncate");
    assert!(wait_until(
        || vigild.ws.read("ticker.log").lines().count() > 5
    ));
    let text = vigild.ws.read("ticker.log");
    assert!(
        !text.contains('\0'),
        "no hole of NUL bytes after the truncation: {text:?}"
    );
    vigild.shutdown();
}

/// What the child's stderr is, as `readlink /proc/self/fd/2` shows it, with `options`.
fn stderr_target(options: &str) -> String {
    stdout_log_of(
        Workspace::new(),
        "/bin/readlink /proc/self/fd/2",
        options,
        "",
    )
}

#[test]
fn discarded_output_goes_to_dev_null_without_a_pipe() {
    assert_eq!(stderr_target("stderr_logfile=NONE"), "/dev/null\n");
    // Anything that reads the stream keeps the pipe: a file, events, capture mode.
    for options in [
        "stderr_logfile=AUTO",
        "stderr_logfile=NONE\nstderr_events_enabled=true",
        "stderr_logfile=NONE\nstderr_capture_maxbytes=1KB",
    ] {
        let target = stderr_target(options);
        assert!(target.starts_with("pipe:["), "{options}: {target}");
    }
}

#[test]
fn a_full_log_is_survived_reported_once_and_resumed_when_there_is_room() {
    // RLIMIT_FSIZE stands in for a full disk: past 64 KiB, every write of a file fails.
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:chatty]\ncommand=/bin/sh -c 'i=0; while :; do i=$((i+1)); echo \"line $i\"; done'\n\
         startsecs=0\nstdout_logfile={{dir}}/chatty.log\nstdout_logfile_maxbytes=0\n"
    ));
    let vigild = Vigild::start_wrapped(ws, &["prlimit", "--fsize=65536"], &[]);
    let log = vigild.wait_log("could not write the chatty stdout log");
    let pid = lines_with(&log, "spawned: 'chatty' with pid ")[0]
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    let path = vigild.ws.path().join("chatty.log");
    // It goes on writing into a file that cannot grow: the child runs on, one report.
    let (_, status) = vigild.vigilctl(&["status", "chatty"]);
    assert!(
        status.contains("RUNNING") && status.contains(&format!("pid {pid}")),
        "{status}"
    );
    assert_eq!(
        vigild
            .log()
            .matches("could not write the chatty stdout log")
            .count(),
        1,
        "reported once"
    );
    // Room again (the file emptied): writing resumes.
    let (code, out) = vigild.vigilctl(&["clear", "chatty"]);
    assert_eq!((code, out.trim()), (0, "chatty: cleared"));
    assert!(
        wait_until(|| std::fs::read_to_string(&path).is_ok_and(|text| text.lines().count() > 100)),
        "no writes after the clear"
    );
}

#[test]
fn a_log_whose_directory_vanishes_keeps_its_child_writing() {
    let ws = Workspace::new();
    fs::create_dir(ws.path().join("logs")).expect("mkdir");
    ws.config(
        "[program:writer]\ncommand=/bin/sh -c \"while [ ! -e {dir}/go ]; do sleep 0.05; done; \
         yes line | head -n 800000; touch {dir}/done; exec sleep 1000\"\nstartsecs=0\n\
         stdout_logfile={dir}/logs/out.log\nstdout_logfile_maxbytes=1KB\nstdout_logfile_backups=2\n",
    );
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("success: writer entered RUNNING state");
    fs::remove_dir_all(vigild.ws.path().join("logs")).expect("rm logs");
    vigild.ws.write("go", "");
    // 4 MB is more than the pipes hold: the child finishes only if the relay goes on.
    assert!(
        wait_until(|| vigild.ws.path().join("done").exists()),
        "the child stalled on its stdout"
    );
    let log = vigild.wait_log("could not write the");
    assert_eq!(lines_with(&log, "could not write the").len(), 1, "{log}");
    let log = vigild.shutdown();
    assert!(log.contains("stopped: writer"), "{log}");
}

/// Log files of vigild's that were removed while it holds them open (`… (deleted)`).
fn deleted_files_held(pid: i32) -> Vec<String> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.filter_map(Result::ok)
                .filter_map(|fd| fs::read_link(fd.path()).ok())
                .map(|target| target.display().to_string())
                .filter(|target| target.ends_with(" (deleted)") && target.contains(".log"))
                .collect()
        })
        .unwrap_or_default()
}

/// The pid of `name`'s child, as supervisorctl tells it, once it has one.
fn child_pid(vigild: &Vigild, name: &str) -> i32 {
    let mut pid = 0;
    let found = wait_until(|| {
        pid = vigild.ctl(&["pid", name]).1.trim().parse().unwrap_or(0);
        pid > 0
    });
    assert!(found, "{name} never had a pid");
    pid
}

/// A program writing a numbered line every 20 ms into `w.log`, plain or rotating.
fn ticking_program(rotating: bool) -> String {
    let rotation = if rotating {
        "stdout_logfile_maxbytes=1MB\nstdout_logfile_backups=2\n"
    } else {
        "stdout_logfile_maxbytes=0\n"
    };
    format!(
        "{CONTROL_SECTIONS}[program:w]\n\
         command=sh -c 'n=0; while true; do n=$((n+1)); echo \"tick $$ $n\"; sleep 0.02; done'\n\
         startsecs=0\nstdout_logfile={{dir}}/w.log\n{rotation}"
    )
}

/// How the file goes away: removed, or moved aside as logrotate's `create` mode does.
#[derive(Clone, Copy, Debug)]
enum Removal {
    Rm,
    Mv,
}

impl Removal {
    fn apply(self, dir: &Path) {
        let log = dir.join("w.log");
        match self {
            Removal::Rm => fs::remove_file(&log).expect("rm w.log"),
            Removal::Mv => fs::rename(&log, dir.join("w.log.moved")).expect("mv w.log"),
        }
    }
}

#[test]
fn a_log_removed_while_stopped_is_created_again_at_the_next_start() {
    for (rotating, removal) in [(false, Removal::Rm), (true, Removal::Mv)] {
        let vigild = Vigild::with_config(&ticking_program(rotating));
        let dir = vigild.ws.path().to_path_buf();
        let first = child_pid(&vigild, "w");
        let written = |needle: String| {
            wait_until(|| fs::read_to_string(dir.join("w.log")).is_ok_and(|t| t.contains(&needle)))
        };
        assert!(written(format!("tick {first} ")));
        let (code, out) = vigild.ctl(&["stop", "w"]);
        assert_eq!(code, 0, "{out}");
        removal.apply(&dir);
        let (code, out) = vigild.ctl(&["start", "w"]);
        assert_eq!(code, 0, "{out}");
        let second = child_pid(&vigild, "w");
        assert_ne!(first, second);
        // The new child's output lands in a new w.log at once, not in the removed inode.
        let new_file = written(format!("tick {second} 1\n"));
        assert!(new_file, "no new w.log ({rotating:?}, {removal:?})");
        let text = fs::read_to_string(dir.join("w.log")).expect("w.log");
        assert!(!text.contains(&format!("tick {first} ")), "{text}");
        assert_eq!(deleted_files_held(vigild.pid()), Vec::<String>::new());
        let (code, out) = vigild.ctl(&["tail", "w"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains(&format!("tick {second} ")), "{out}");
    }
}

#[test]
fn a_log_removed_while_running_is_created_again_within_seconds() {
    for (rotating, removal) in [(true, Removal::Rm), (false, Removal::Mv)] {
        let vigild = Vigild::with_config(&ticking_program(rotating));
        let dir = vigild.ws.path().to_path_buf();
        let pid = child_pid(&vigild, "w");
        let written = |needle: String| {
            wait_until(|| fs::read_to_string(dir.join("w.log")).is_ok_and(|t| t.contains(&needle)))
        };
        assert!(written(format!("tick {pid} 3\n")));
        removal.apply(&dir);
        // The tail answers from what vigild holds while the file is gone.
        let (code, out) = vigild.ctl(&["tail", "w"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains(&format!("tick {pid} ")), "{out}");
        let recreated = written("tick".into());
        assert!(
            recreated,
            "w.log never came back ({rotating:?}, {removal:?})"
        );
        assert!(
            wait_until(|| deleted_files_held(vigild.pid()).is_empty()),
            "still writing into {:?}",
            deleted_files_held(vigild.pid())
        );
        let (code, out) = vigild.ctl(&["tail", "w"]);
        assert_eq!(code, 0, "{out}");
        let last = fs::read_to_string(dir.join("w.log")).expect("w.log");
        let last_line = last.lines().last().expect("a line").to_string();
        assert!(
            wait_until(|| vigild.ctl(&["tail", "w"]).1.contains(&last_line)),
            "tail does not follow the new file: {out}"
        );
        // The child was never restarted for it.
        assert_eq!(child_pid(&vigild, "w"), pid);
    }
}

/// How many of `pid`'s open fds name `path`.
fn fds_on(pid: i32, path: &Path) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |fds| {
        fds.filter_map(Result::ok)
            .filter(|fd| fs::read_link(fd.path()).is_ok_and(|target| target == path))
            .count()
    })
}

#[test]
fn a_quiet_programs_logs_hold_no_fd_and_its_next_output_lands_all_the_same() {
    // Both streams logged; the program writes once, stays quiet, then writes again.
    let ws = Workspace::new();
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:app]\n\
         command=sh -c 'echo first; echo oops >&2; while [ ! -f {{dir}}/go ]; do sleep 0.1; done; echo second; exec sleep 1000'\n\
         startsecs=0\nstdout_logfile={{dir}}/app.out\nstderr_logfile={{dir}}/app.err\n"
    ));
    let out = ws.path().join("app.out");
    let err = ws.path().join("app.err");
    let vigild = Vigild::start(ws, &[]);
    assert!(wait_until(
        || fs::read_to_string(&out).is_ok_and(|t| t.contains("first"))
    ));
    assert!(
        wait_until(|| fds_on(vigild.pid(), &out) == 0 && fds_on(vigild.pid(), &err) == 0),
        "the quiet program's log files stayed open: {} and {} fds",
        fds_on(vigild.pid(), &out),
        fds_on(vigild.pid(), &err)
    );
    // Removed while at rest: the next output creates it again, as a spawn would.
    fs::remove_file(&out).expect("rm app.out");
    fs::write(vigild.ws.path().join("go"), "").expect("go");
    assert!(
        wait_until(|| fs::read_to_string(&out).is_ok_and(|t| t == "second\n")),
        "the output after the rest did not reach a new app.out: {:?}",
        fs::read_to_string(&out)
    );
    let (code, tail) = vigild.vigilctl(&["tail", "app"]);
    assert!(code == 0 && tail.contains("second"), "{code} {tail}");
    assert_eq!(fs::read_to_string(&err).expect("app.err"), "oops\n");
}

#[test]
fn a_log_is_created_by_its_programs_first_start_and_a_log_that_cannot_be_is_a_spawn_error() {
    let ws = Workspace::new();
    fs::create_dir(ws.path().join("a_directory")).expect("mkdir");
    ws.config(&format!(
        "{CONTROL_SECTIONS}[program:later]\ncommand=sh -c 'echo hello; exec sleep 60'\nautostart=false\n\
         startsecs=0\nstdout_logfile={{dir}}/later.log\n\n\
         [program:blocked]\ncommand=sleep 60\nstartretries=0\nstdout_logfile={{dir}}/a_directory\n",
    ));
    let vigild = Vigild::start(ws, &[]);
    let dir = vigild.ws.path().to_path_buf();
    // As supervisord: a log that cannot be opened at spawn is a spawn error, and a program
    // that never started has no log file yet (tail answers "no log file").
    let log = vigild.wait_log("gave up: blocked entered FATAL state");
    assert!(
        log.contains("spawnerr: unknown error making dispatchers for 'blocked': EISDIR"),
        "{log}"
    );
    assert!(!dir.join("later.log").exists(), "created before any start");
    let (_, out) = vigild.ctl(&["tail", "later"]);
    assert!(out.contains("ERROR (no log file)"), "{out}");
    let (code, out) = vigild.ctl(&["start", "later"]);
    assert_eq!(code, 0, "{out}");
    assert!(wait_until(
        || fs::read_to_string(dir.join("later.log")).is_ok_and(|text| text == "hello\n")
    ));
    let (code, out) = vigild.ctl(&["tail", "later"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("hello"), "{out}");
}
