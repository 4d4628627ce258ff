//! Options that shape a child before exec: environment, directory, umask, user, numprocs,
//! expansions and includes.

use crate::support::{lines_with, wait_until, Vigild, Workspace};

/// Starts one program whose stdout goes to `<dir>/out`, waits for it to exit, returns output.
fn output_of(ws: Workspace, program: &str) -> (Vigild, String) {
    ws.config(&format!(
        "[unix_http_server]\nfile={{dir}}/vigil.sock\n\n[program:probe]\n{program}\nstartsecs=0\nautorestart=false\n\
         stdout_logfile={{dir}}/out\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("exited: probe");
    vigild.shutdown();
    let out = vigild.ws.read("out");
    (vigild, out)
}

#[test]
fn children_get_supervisor_variables_and_layered_environment() {
    let ws = Workspace::new();
    let conf = "command=/bin/sh -c \"env | sort\"\nenvironment=A=\"program wins\",B=\"two words\",C='%(program_name)s'";
    let text = ws.fill(&format!(
        "[supervisord]\nlogfile={{dir}}/vigild.log\npidfile={{dir}}/vigild.pid\nchildlogdir={{dir}}\n\
         environment=A=supervisord,D=from-supervisord\n\n[unix_http_server]\nfile={{dir}}/vigil.sock\n\n\
         [program:probe]\n{conf}\nstartsecs=0\nautorestart=false\nstdout_logfile={{dir}}/out\n"
    ));
    std::fs::write(ws.path().join("supervisord.conf"), text).expect("config");
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("exited: probe");
    vigild.shutdown();
    let out = vigild.ws.read("out");
    let dir = vigild.ws.path().display().to_string();
    for expected in [
        "SUPERVISOR_ENABLED=1".to_string(),
        "SUPERVISOR_PROCESS_NAME=probe".to_string(),
        "SUPERVISOR_GROUP_NAME=probe".to_string(),
        format!("SUPERVISOR_SERVER_URL=unix://{dir}/vigil.sock"),
        "A=program wins".to_string(),
        "B=two words".to_string(),
        "C=probe".to_string(),
        "D=from-supervisord".to_string(),
    ] {
        assert!(
            out.lines().any(|l| l == expected),
            "missing {expected} in:\n{out}"
        );
    }
    assert!(
        out.lines().any(|l| l.starts_with("PATH=")),
        "vigild's environment is inherited"
    );
}

#[test]
fn environment_file_is_read_at_each_start_and_a_missing_one_is_a_spawn_error() {
    let ws = Workspace::new();
    ws.write("app.env", "# settings\nCOLOR=blue\nexport SIZE=\"large\"\n");
    ws.config(
        "[program:probe]\ncommand=/bin/sh -c \"echo $COLOR-$SIZE; sleep 0.3\"\nstartsecs=0\nautorestart=true\n\
         environment_file={dir}/app.env\nstdout_logfile={dir}/out\n\n\
         [program:nofile]\ncommand=/bin/true\nenvironment_file={dir}/missing.env\nstartretries=0\n",
    );
    let vigild = Vigild::start(ws, &[]);
    assert!(
        wait_until(|| vigild.ws.read("out").contains("blue-large")),
        "{}",
        vigild.log()
    );
    vigild.ws.write("app.env", "COLOR=red\nSIZE=small\n");
    assert!(
        wait_until(|| vigild.ws.read("out").contains("red-small")),
        "not re-read: {}",
        vigild.ws.read("out")
    );
    let log = vigild.wait_log("gave up: nofile entered FATAL state");
    assert!(
        log.contains("spawnerr: couldn't read environment_file") && log.contains("missing.env"),
        "{log}"
    );
}

#[test]
fn directory_and_umask_apply_before_exec() {
    let ws = Workspace::new();
    std::fs::create_dir(ws.path().join("work")).expect("dir");
    let (_, out) = output_of(
        ws,
        "command=/bin/sh -c \"pwd; umask\"\ndirectory={dir}/work\numask=027",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].ends_with("/work"), "{out}");
    assert_eq!(lines[1], "0027", "{out}");
}

#[test]
fn a_missing_directory_is_a_spawn_error() {
    let mut vigild = Vigild::with_config(
        "[program:lost]\ncommand=/bin/true\ndirectory=/no/such/dir\nstartretries=0\n",
    );
    let log = vigild.wait_log("gave up: lost entered FATAL state");
    assert!(
        log.contains("spawnerr: couldn't chdir to /no/such/dir: ENOENT"),
        "{log}"
    );
    vigild.shutdown();
}

#[test]
fn user_switches_uid_and_groups_when_root() {
    if !nix::unistd::Uid::effective().is_root() {
        // As a normal user the same config must give a clear spawn error instead.
        let mut vigild = Vigild::with_config(
            "[program:probe]\ncommand=/usr/bin/id -u\nuser=nobody\nstartretries=0\n",
        );
        let log = vigild.wait_log("gave up: probe entered FATAL state");
        assert!(log.contains("vigild is not running as root"), "{log}");
        vigild.shutdown();
        return;
    }
    let ws = Workspace::new();
    std::fs::set_permissions(
        ws.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    let (_, out) = output_of(
        ws,
        "command=/bin/sh -c \"id -u; id -g; id -G\"\nuser=nobody",
    );
    let nobody = nix::unistd::User::from_name("nobody")
        .expect("lookup")
        .expect("nobody exists");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(nobody.uid.to_string().as_str()),
        "{out}"
    );
    assert_eq!(
        lines.get(1).copied(),
        Some(nobody.gid.to_string().as_str()),
        "{out}"
    );
    let cname = std::ffi::CString::new(nobody.name.clone()).expect("name");
    let groups: Vec<String> = nix::unistd::getgrouplist(&cname, nobody.gid)
        .expect("groups")
        .iter()
        .map(|g| g.as_raw().to_string())
        .collect();
    assert_eq!(
        lines.get(2).copied(),
        Some(groups.join(" ").as_str()),
        "supplementary groups: {out}"
    );
}

#[test]
fn numprocs_expands_names_and_commands() {
    let ws = Workspace::new();
    ws.config(
        "[program:worker]\ncommand=/bin/sh -c \"echo %(process_num)d-of-%(numprocs)d $SUPERVISOR_PROCESS_NAME; sleep 1000\"\n\
         process_name=%(program_name)s_%(process_num)02d\nnumprocs=3\nnumprocs_start=1\nstartsecs=0\n\
         stdout_logfile={dir}/%(process_num)d.out\n",
    );
    let mut vigild = Vigild::start(ws, &[]);
    let log = vigild.wait_log_count("entered RUNNING state", 3);
    for n in 1..=3 {
        assert!(log.contains(&format!("spawned: 'worker_0{n}'")), "{log}");
        let expected = format!("{n}-of-3 worker_0{n}\n");
        assert!(
            wait_until(|| vigild.ws.read(&format!("{n}.out")) == expected),
            "{n}.out"
        );
    }
    vigild.shutdown();
}

#[test]
fn includes_are_read_relative_to_the_including_file_with_their_own_here() {
    let ws = Workspace::new();
    ws.write(
        "conf.d/b.conf",
        "[program:b]\ncommand=/bin/sh -c \"echo %(here)s; sleep 1000\"\nstartsecs=0\nstdout_logfile={dir}/b.out\n",
    );
    ws.write(
        "conf.d/a.conf",
        "[program:a]\ncommand=/bin/sleep 1000\nstartsecs=0\n",
    );
    ws.config("[include]\nfiles=conf.d/*.conf nothing-matches-*.conf\n");
    let mut vigild = Vigild::start(ws, &[]);
    let log = vigild.wait_log_count("entered RUNNING state", 2);
    assert!(log.contains("no file matches via include"), "{log}");
    let here = format!("{}/conf.d\n", vigild.ws.path().display());
    assert!(
        wait_until(|| vigild.ws.read("b.out") == here),
        "{}",
        vigild.ws.read("b.out")
    );
    assert_eq!(lines_with(&log, "spawned: 'a'").len(), 1);
    vigild.shutdown();
}

#[test]
fn children_start_with_no_blocked_signals_and_only_sigpipe_ignored() {
    // supervisord's children inherit Python's ignored SIGPIPE (signal 13: bit 12 of SigIgn)
    // besides what was ignored when the daemon started (here: what this test inherited).
    // vigild blocks every signal while it starts a child; the child must not keep that mask.
    let (_, out) = output_of(
        Workspace::new(),
        "command=/bin/grep -E '^Sig(Ign|Blk)' /proc/self/status",
    );
    let mask_in = |status: &str, name: &str| {
        let line = status
            .lines()
            .find(|line| line.contains(name))
            .unwrap_or_else(|| panic!("{name} in {status}"));
        let hex = line.split_whitespace().nth(1).expect("mask");
        u64::from_str_radix(hex, 16).expect("hex mask")
    };
    let ours = std::fs::read_to_string("/proc/self/status").expect("own status");
    let inherited = mask_in(&ours, "SigIgn");
    assert_eq!(
        mask_in(&out, "SigIgn"),
        inherited | 1 << (libc::SIGPIPE - 1),
        "{out}"
    );
    assert_eq!(mask_in(&out, "SigBlk"), 0, "{out}");
}

#[test]
fn children_inherit_only_their_three_standard_fds() {
    // Other programs' pipes and log files stay with vigild (`ls` itself opens one more fd,
    // for the directory it lists).
    let ws = Workspace::new();
    let others: String = (0..5)
        .map(|n| format!("[program:other{n}]\ncommand=/bin/sleep 1000\nstartsecs=0\n\n"))
        .collect();
    ws.config(&format!(
        "{others}[program:probe]\ncommand=/bin/ls /proc/self/fd\nstartsecs=0\nautorestart=false\n\
         priority=1000\nstdout_logfile={{dir}}/out\n"
    ));
    let mut vigild = Vigild::start(ws, &[]);
    vigild.wait_log("exited: probe");
    vigild.shutdown();
    let fds: Vec<String> = vigild.ws.read("out").lines().map(String::from).collect();
    assert_eq!(fds.len(), 4, "{fds:?}");
    assert_eq!(&fds[..3], ["0", "1", "2"], "{fds:?}");
}

#[test]
fn the_directory_is_entered_as_the_programs_user() {
    // supervisord switches user before chdir: a directory the user may not enter fails
    // even though vigild (root) could.
    if !nix::unistd::Uid::effective().is_root() {
        return;
    }
    let ws = Workspace::new();
    let locked = ws.path().join("locked");
    std::fs::create_dir(&locked).expect("mkdir");
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("chmod");
    ws.config(&format!(
        "[program:probe]\ncommand=/bin/true\nuser=nobody\ndirectory={}\nstartretries=0\n",
        locked.display()
    ));
    let mut vigild = Vigild::start(ws, &[]);
    let log = vigild.wait_log("gave up: probe entered FATAL state");
    assert!(
        log.contains(&format!(
            "spawnerr: couldn't chdir to {}: EACCES",
            locked.display()
        )),
        "{log}"
    );
    vigild.shutdown();
}
