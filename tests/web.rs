//! The web page against a real vigild: output is escaped, actions need the page's token and
//! origin, `/api/events` streams events as they happen, and (in a real headless Chromium)
//! stop and start buttons change a program's state and a crash record shows its stderr.

use std::io::{Read, Write};

use crate::support::*;

const FLEET: &str = "[program:web]\ncommand=/bin/sleep 1000\nstartsecs=0\n\n\
    [program:shouty]\ncommand=/bin/sh -c 'echo \"<script>alert(1)</script> database on fire\" >&2; sleep 1.2; exit 3'\n\
    startsecs=1\nautorestart=false\n";

/// The action token in a page.
pub fn token_of(page: &str) -> String {
    let at = page.find("name=\"token\" value=\"").expect("a token") + 20;
    page[at..at + 32].to_string()
}

#[test]
fn the_page_escapes_output_guards_actions_and_streams_events() {
    let port = free_port();
    let vigild = Vigild::with_config(&format!(
        "[supervisord]\nsample_interval=0.2\n\n{}{FLEET}",
        control(port)
    ));
    vigild.wait_log("crash: shouty");
    // The sampler's history draws the process's last hour.
    let mut page = String::new();
    assert!(
        wait_until(|| {
            page = http_get(port, "/process/web", None).1;
            page.matches("<polyline points=").count() == 2
        }),
        "{page}"
    );

    let (status, page) = http_get(port, "/process/shouty", None);
    assert_eq!(status, 200);
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt; database on fire"),
        "{page}"
    );
    assert!(!page.contains("<script>alert"), "{page}");

    let (_, index) = http_get(port, "/", None);
    let token = token_of(&index);
    let (status, _) = http_post(port, "/action", "token=wrong&action=stop&name=web", &[]);
    assert_eq!(status, 403, "no token, no action");
    let form = format!("token={token}&action=stop&name=web");
    let (status, _) = http_post(port, "/action", &form, &["Origin: http://evil.example"]);
    assert_eq!(status, 403, "another site's form");

    // Events as they happen, while the page stops a program.
    let mut events = EventStream::open(port);
    let (status, response) = http_post(port, "/action", &form, &["Origin: http://127.0.0.1"]);
    assert_eq!(status, 303, "{response}");
    assert!(
        wait_until(|| vigild.vigilctl(&["status", "web"]).1.contains("STOPPED")),
        "the form stopped it"
    );
    events.wait_for(&[
        r#""event":"PROCESS_STATE_STOPPED""#,
        r#""processname":"web""#,
        r#""note":"exit: stopped""#,
    ]);
}

/// A reader of `/api/events`.
struct EventStream {
    stream: std::net::TcpStream,
    seen: String,
}

impl EventStream {
    /// Subscribes and waits for the stream to begin.
    fn open(port: u16) -> Self {
        EventStream::open_with(port, "")
    }

    /// Subscribes with extra header lines (each ending in CRLF).
    fn open_with(port: u16, headers: &str) -> Self {
        let mut connected = None;
        assert!(
            wait_until(|| {
                connected = std::net::TcpStream::connect(("127.0.0.1", port)).ok();
                connected.is_some()
            }),
            "nothing listens on {port}"
        );
        let mut stream = connected.expect("connected above");
        stream
            .set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .expect("timeout");
        write!(
            stream,
            "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n{headers}\r\n"
        )
        .expect("subscribe");
        let mut events = EventStream {
            stream,
            seen: String::new(),
        };
        events.wait_for(&["text/event-stream"]);
        events
    }

    /// Reads until everything in `needles` has arrived.
    fn wait_for(&mut self, needles: &[&str]) {
        let found = wait_until(|| {
            let mut chunk = [0u8; 4096];
            if let Ok(n) = self.stream.read(&mut chunk) {
                self.seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
            needles.iter().all(|needle| self.seen.contains(needle))
        });
        assert!(found, "{needles:?} not in\n{}", self.seen);
    }
}

#[test]
fn api_events_tell_crash_loop_back_off_decisions() {
    let port = free_port();
    let _vigild = Vigild::with_config(&format!(
        "{}[program:looper]\ncommand=/bin/sh -c 'sleep 0.3; exit 1'\nstartsecs=0\n\
         autostart=false\nautorestart=true\ncrashloop_threshold=1\nrestart_delay=30\n",
        control(port)
    ));
    let mut events = EventStream::open(port);
    call(port, "supervisor.startProcess", "'looper'");
    events.wait_for(&[
        r#""event":"VIGIL_CRASH""#,
        r#""event":"PROCESS_STATE_BACKOFF""#,
        r#""note":"crash loop: next start in 30s, 1 crashes in 60s""#,
    ]);
}

/// Drives Chromium through chromedriver's WebDriver API: stop and start `web` with the
/// page's buttons, open `shouty`'s crash record, save a screenshot.
const BROWSER: &str = r#"
import base64, json, os, socket, subprocess, sys, tempfile, time, urllib.request
base, shot = sys.argv[1], sys.argv[2]
with socket.socket() as s:
    s.bind(('127.0.0.1', 0)); dport = s.getsockname()[1]
driver = subprocess.Popen(['chromedriver', '--port=%d' % dport],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request('http://127.0.0.1:%d%s' % (dport, path), data=data,
                                     method=method, headers={'Content-Type': 'application/json'})
    return json.load(urllib.request.urlopen(request, timeout=60))['value']
def until(what, check, seconds=20):
    end = time.time() + seconds
    while time.time() < end:
        try:
            value = check()
            if value:
                return value
        except Exception:
            pass
        time.sleep(0.1)
    raise SystemExit('timed out: ' + what)
sid = None
try:
    until('chromedriver', lambda: call('GET', '/status')['ready'])
    options = {'binary': '/usr/bin/chromium', 'args': [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run',
        '--window-size=1200,900', '--user-data-dir=' + tempfile.mkdtemp()]}
    sid = call('POST', '/session', {'capabilities': {'alwaysMatch': {
        'browserName': 'chrome', 'goog:chromeOptions': options}}})['sessionId']
    def find(css):
        element = call('POST', '/session/%s/element' % sid, {'using': 'css selector', 'value': css})
        return list(element.values())[0]
    def text(css):
        return call('GET', '/session/%s/element/%s/text' % (sid, find(css)))
    def click(css):
        call('POST', '/session/%s/element/%s/click' % (sid, find(css)), {})
    state = 'tr[data-namespec="web"] .state'
    call('POST', '/session/%s/url' % sid, {'url': base + '/'})
    until('web RUNNING', lambda: text(state) == 'RUNNING')
    def enabled(css):
        return call('GET', '/session/%s/element/%s/enabled' % (sid, find(css)))
    assert not enabled('tr[data-namespec="web"] button[value="start"]'), 'start on a running program'
    # Every group's table puts its columns at the same places.
    lefts = call('POST', '/session/%s/execute/sync' % sid, {'script':
        'return [...document.querySelectorAll("table.fleet")].map(t => '
        '[...t.querySelectorAll("th")].map(h => Math.round(h.getBoundingClientRect().left)));',
        'args': []})
    assert len(lefts) == 2 and lefts[0] == lefts[1], lefts
    click('tr[data-namespec="web"] button[value="stop"]')
    until('web STOPPED', lambda: text(state) == 'STOPPED')
    until('stop disabled once stopped', lambda: not enabled('tr[data-namespec="web"] button[value="stop"]'))
    assert enabled('tr[data-namespec="web"] button[value="start"]'), 'start on a stopped program'
    click('tr[data-namespec="web"] button[value="start"]')
    until('web RUNNING again', lambda: text(state) == 'RUNNING')
    until('crash-loop-free shouty row', lambda: text('tr[data-namespec="shouty"] .state') == 'EXITED')
    call('POST', '/session/%s/url' % sid, {'url': base + '/process/shouty'})
    click('#crashes details.crash summary')
    record = until('the crash record', lambda: text('#crashes details.crash pre'))
    assert 'database on fire' in record and '<script>alert(1)</script>' in record, record
    png = call('GET', '/session/%s/screenshot' % sid)
    open(shot, 'wb').write(base64.b64decode(png))
    # A phone-sized screen: the table turns into cards and nothing runs off to the side.
    call('POST', '/session/%s/window/rect' % sid, {'width': 390, 'height': 844})
    call('POST', '/session/%s/url' % sid, {'url': base + '/'})
    until('web on the phone', lambda: text(state) == 'RUNNING')
    fits = call('POST', '/session/%s/execute/sync' % sid, {
        'script': 'return document.documentElement.scrollWidth <= window.innerWidth + 1;',
        'args': []})
    assert fits, 'the page is wider than a phone'
    png = call('GET', '/session/%s/screenshot' % sid)
    open(shot.replace('.png', '-phone.png'), 'wb').write(base64.b64decode(png))
    print('browser test passed')
finally:
    if sid:
        try:
            call('DELETE', '/session/%s' % sid)
        except Exception:
            pass
    driver.kill()
"#;

#[test]
fn stop_start_and_a_crash_record_in_a_real_browser() {
    let port = free_port();
    let vigild = Vigild::with_config(&format!("{}{FLEET}", control(port)));
    vigild.wait_log("crash: shouty");
    let shot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/web-screenshot.png");
    let mut command = std::process::Command::new(venv_python());
    command
        .arg("-c")
        .arg(BROWSER)
        .arg(format!("http://127.0.0.1:{port}"))
        .arg(&shot);
    new_session(&mut command);
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    // The browser and its driver go with the script's session, even if the test fails.
    let _guard = SessionGuard(child.id() as i32);
    let output = child.wait_with_output().expect("browser script");
    assert!(
        output.status.success(),
        "{}{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        vigild.log()
    );
    assert!(shot.exists(), "a screenshot");
}

#[test]
fn the_page_asks_for_the_servers_credentials_and_events_tell_health() {
    let port = free_port();
    let _vigild = Vigild::with_config(&format!(
        "[inet_http_server]\nport=127.0.0.1:{port}\nusername=ops\npassword=secret\n\n\
         [program:probed]\ncommand=/bin/sleep 1000\nstartsecs=0\nautostart=false\n\
         healthcheck_command=true\nhealthcheck_interval=0.2\n"
    ));
    assert!(wait_until(|| http_get(port, "/", None).0 == 401));
    for path in ["/", "/api/status", "/process/probed", "/api/events"] {
        assert_eq!(
            http_get(port, path, None).0,
            401,
            "{path} without credentials"
        );
    }
    let (status, page) = http_get(port, "/", Some(("ops", "secret")));
    assert_eq!(status, 200);
    let token = token_of(&page);
    let mut events = EventStream::open_with(port, "Authorization: Basic b3BzOnNlY3JldA==\r\n");
    let (status, _) = http_post(
        port,
        "/action",
        &format!("token={token}&action=start&name=probed"),
        &["Authorization: Basic b3BzOnNlY3JldA=="],
    );
    assert_eq!(status, 303);
    events.wait_for(&[
        r#""event":"VIGIL_HEALTH""#,
        r#""processname":"probed""#,
        r#""state":"healthy""#,
    ]);
}

/// The `<tr>` of `namespec` in the status page.
fn row_of<'a>(page: &'a str, namespec: &str) -> &'a str {
    let start = page
        .find(&format!("<tr data-namespec=\"{namespec}\">"))
        .unwrap_or_else(|| panic!("no row for {namespec}: {page}"));
    let end = page[start..]
        .find("</tr>")
        .map_or(page.len(), |at| start + at);
    &page[start..end]
}

#[test]
fn rows_show_health_buttons_that_cannot_apply_are_disabled_and_empty_charts_say_so() {
    let port = free_port();
    let vigild = Vigild::with_config(&format!(
        "[supervisord]\nsample_interval=600\n\n{}\
         [program:web]\ncommand=/bin/sleep 1000\nstartsecs=0\nhealthcheck_command=true\n\
         healthcheck_interval=0.2\n\n\
         [program:idle]\ncommand=/bin/sleep 1000\nautostart=false\n",
        control(port)
    ));
    wait_status(&vigild, "web", &["RUNNING"]);
    let mut page = String::new();
    assert!(
        wait_until(|| {
            page = http_get(port, "/", None).1;
            row_of(&page, "web")
                .contains("<td class=\"health h-healthy\" data-label=\"health\">healthy</td>")
        }),
        "{page}"
    );
    assert!(
        page.contains("<th class=\"c-health\">Health</th>"),
        "{page}"
    );
    let web = row_of(&page, "web");
    assert!(web.contains("value=\"start\" disabled>"), "{web}");
    assert!(web.contains("value=\"stop\">"), "{web}");
    let idle = row_of(&page, "idle");
    assert!(
        idle.contains("<td class=\"health h-\" data-label=\"health\"></td>"),
        "{idle}"
    );
    assert!(idle.contains("value=\"start\">"), "{idle}");
    assert!(idle.contains("value=\"stop\" disabled>"), "{idle}");
    assert!(idle.contains("value=\"clear\">"), "{idle}");

    let (_, status) = http_get(port, "/api/status", None);
    let body = &status[status.find("\r\n\r\n").map_or(0, |at| at + 4)..];
    let rows: serde_json::Value = serde_json::from_str(body).expect("JSON");
    let of = |name: &str| {
        rows.as_array()
            .and_then(|rows| rows.iter().find(|r| r["name"] == name))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(of("web")["health"], "healthy");
    assert_eq!(
        of("web")["actions"],
        serde_json::json!(["stop", "restart", "clear"])
    );
    assert_eq!(of("idle")["health"], serde_json::Value::Null);
    assert_eq!(
        of("idle")["actions"],
        serde_json::json!(["start", "restart", "clear"])
    );

    // No sample yet (a 600 s interval): the charts have their axes and say why they are empty.
    let (_, process) = http_get(port, "/process/web", None);
    assert_eq!(process.matches("collecting data").count(), 2, "{process}");
    assert_eq!(
        process.matches("<span>60 min ago</span>").count(),
        2,
        "{process}"
    );
    assert!(
        process.contains("· <span class=\"health h-healthy\">healthy</span>"),
        "{process}"
    );
}
