//! `vigilctl top` in a real terminal (tmux): rows with their figures and the crash-loop
//! badge, sorting, the filter, the detail pane's stderr and crash records, start/stop/restart
//! with the confirmation, over inet with basic auth and over the unix socket, and the
//! terminal given back (cooked mode, the shell's screen) on `q` and on Ctrl-C.

use crate::support::{free_port, vigilctl_bin, wait_status, Tmux, Vigild, Workspace};

/// The shell's prompt in the terminal, so a return to it can be seen.
const PROMPT: &str = "top-test$ ";

/// A table line without the selection mark and the indent.
fn cells(line: &str) -> &str {
    line.trim_start().trim_start_matches("> ").trim_start()
}

/// The row of the table that shows `spec`, from its name on.
fn row<'a>(screen: &'a str, spec: &str) -> Option<&'a str> {
    let name = format!("{spec} ");
    screen
        .lines()
        .map(cells)
        .find(|line| line.starts_with(&name))
}

/// Where on the screen `spec`'s row is (its line number).
fn row_at(screen: &str, spec: &str) -> usize {
    let name = format!("{spec} ");
    screen
        .lines()
        .position(|line| cells(line).starts_with(&name))
        .unwrap_or(usize::MAX)
}

/// After leaving top: the shell runs commands again, in cooked mode (raw mode undone).
fn assert_terminal_restored(tmux: &Tmux) {
    tmux.wait_for(PROMPT.trim_end());
    tmux.keys(&[
        "clear; stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo",
        "Enter",
    ]);
    let screen = tmux.wait_screen("stty's answer", |s| {
        s.lines()
            .any(|l| l.trim() == "icanon" || l.trim() == "-icanon")
    });
    let words: Vec<&str> = screen.lines().map(str::trim).collect();
    assert!(
        words.contains(&"icanon") && words.contains(&"echo"),
        "raw mode left on:\n{screen}"
    );
}

#[test]
fn top_shows_sorts_filters_details_and_acts_in_a_real_terminal() {
    let port = free_port();
    let ws = Workspace::new();
    ws.config(&format!(
        "sample_interval=1\n\n[inet_http_server]\nport=127.0.0.1:{port}\nusername=admin\npassword=s3cret\n\n\
         [unix_http_server]\nfile={{dir}}/vigil.sock\n\n\
         [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         [supervisorctl]\nserverurl=http://127.0.0.1:{port}\nusername=admin\npassword=s3cret\n\n\
         [program:web]\ncommand=sleep 600\n\n\
         [program:burner]\ncommand=sh -c 'while :; do :; done'\n\n\
         [program:flaky]\ncommand=sh -c 'echo database refused us >&2; exit 3'\nstartsecs=0\nautorestart=true\n"
    ));
    let vigild = Vigild::start(ws, &[]);
    wait_status(&vigild, "web", &["RUNNING"]);
    let config = vigild.ws.path().join("supervisord.conf");
    let top = format!("{} -c {} top", vigilctl_bin().display(), config.display());
    let tmux = Tmux::start(
        "top",
        &format!("env PS1='{PROMPT}' bash --norc --noprofile"),
    );
    tmux.wait_for(PROMPT.trim_end());
    tmux.keys(&[&top, "Enter"]);

    // Rows with figures (burner's CPU measured), the crash loop badged, sorted by name.
    let screen = tmux.wait_screen("every row measured and flaky in a crash loop", |s| {
        row(s, "flaky").is_some_and(|r| r.contains("CRASH LOOP"))
            && row(s, "burner").is_some_and(|r| r.contains("RUNNING") && !r.contains(" - "))
    });
    assert!(
        screen.contains(&format!("vigil top  http://127.0.0.1:{port}")),
        "{screen}"
    );
    assert!(row_at(&screen, "burner") < row_at(&screen, "flaky"));
    assert!(row_at(&screen, "flaky") < row_at(&screen, "web"));

    // Sort by CPU (column 4), largest first: the busy loop comes first. (Pressed twice: the
    // first press sorts smallest first, so the order tells the two apart.)
    tmux.keys(&["4", "4"]);
    let screen = tmux.wait_screen("CPU% sorted largest first", |s| {
        row_at(s, "burner") < row_at(s, "web") && row_at(s, "web") < usize::MAX
    });
    let cpu: f64 = row(&screen, "burner")
        .and_then(|r| r.split_whitespace().nth(2))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    assert!(cpu > 1.0, "burner's CPU: {screen}");
    // Restarts (column 7), largest first: the crash-looping program on top.
    tmux.keys(&["7", "7"]);
    tmux.wait_screen("RESTARTS sorted largest first", |s| {
        row_at(s, "flaky") < row_at(s, "burner") && row_at(s, "burner") < usize::MAX
    });

    // The filter, by name; Esc clears it.
    tmux.keys(&["/", "fla"]);
    tmux.wait_for("filter: fla_");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_screen("only flaky", |s| {
        row(s, "web").is_none() && row(s, "flaky").is_some()
    });
    assert!(row(&screen, "burner").is_none(), "{screen}");

    // The detail pane: the stderr line that explains the crash, and the crash records.
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_screen("flaky's stderr and crashes", |s| {
        s.contains("last stderr lines:") && s.contains("exit status 3")
    });
    assert!(screen.contains("database refused us"), "{screen}");
    // One Esc at a time: two in one write read as Alt+Esc.
    tmux.keys(&["Escape"]);
    tmux.wait_screen("the pane closed", |s| !s.contains("last stderr lines:"));
    tmux.keys(&["Escape"]);
    tmux.wait_screen("every row again", |s| {
        row(s, "web").is_some() && !s.contains("last stderr lines:")
    });

    // Filter by state, then stop (asked first: n keeps it running), start, restart.
    tmux.keys(&["/", "running", "Enter", "1"]);
    tmux.wait_screen("burner then web", |s| {
        row(s, "flaky").is_none() && row(s, "web").is_some()
    });
    tmux.keys(&["End"]);
    let web_pid = vigild.pid_of("web");
    tmux.keys(&["x"]);
    tmux.wait_for("stop web? (y/n)");
    tmux.keys(&["n"]);
    tmux.wait_for("stop web: cancelled");
    assert_eq!(vigild.pid_of("web"), web_pid, "n keeps it running");
    tmux.keys(&["x"]);
    tmux.wait_for("stop web? (y/n)");
    tmux.keys(&["y"]);
    wait_status(&vigild, "web", &["STOPPED"]);
    tmux.keys(&["Escape"]);
    tmux.wait_screen("the filter cleared", |s| row(s, "flaky").is_some());
    tmux.keys(&["End"]);
    tmux.wait_screen("web STOPPED", |s| {
        row(s, "web").is_some_and(|r| r.contains("STOPPED"))
    });
    tmux.keys(&["s"]);
    wait_status(&vigild, "web", &["RUNNING"]);
    let started = vigild.pid_of("web");
    tmux.keys(&["r"]);
    tmux.wait_for("restart web? (y/n)");
    tmux.keys(&["y"]);
    assert!(
        crate::support::wait_until(|| {
            let pid = vigild.pid_of("web");
            pid != 0 && pid != started
        }),
        "restart gave web a new pid"
    );

    // q gives the terminal back.
    tmux.keys(&["q"]);
    assert_terminal_restored(&tmux);

    // Over the unix socket (no auth there), left with Ctrl-C.
    let unix = format!(
        "clear; {} -s unix://{}/vigil.sock top",
        vigilctl_bin().display(),
        vigild.ws.path().display()
    );
    tmux.keys(&[&unix, "Enter"]);
    tmux.wait_screen("top over the unix socket", |s| {
        s.contains("vigil top  unix://") && row(s, "web").is_some()
    });
    tmux.keys(&["C-c"]);
    assert_terminal_restored(&tmux);
}

#[test]
fn top_needs_a_terminal_and_takes_no_arguments() {
    let (vigild, port) = Vigild::with_inet_server("[program:web]\ncommand=sleep 600\n");
    crate::support::wait_listening(port);
    let url = format!("http://127.0.0.1:{port}");
    let (code, text) = vigild.vigilctl(&["-s", &url, "top"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("top needs a terminal"), "{text}");
    let (code, text) = vigild.vigilctl(&["-s", &url, "top", "web"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("top takes no arguments"), "{text}");
}
