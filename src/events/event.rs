//! supervisord's event types and their payloads, written exactly as supervisord 4.3 writes
//! them, plus vigil's own `VIGIL_CRASHLOOP` and `VIGIL_CRASH`.

use crate::process::state::StateKind;
use crate::process::step::Change;

/// Which output a log or communication event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// stdout.
    Stdout,
    /// stderr.
    Stderr,
}

impl Channel {
    /// `stdout` / `stderr`.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Stdout => "stdout",
            Channel::Stderr => "stderr",
        }
    }
}

/// What a PROCESS_STATE event says about its process, for the pools that track their own
/// listeners by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Group (pool) name.
    pub group: String,
    /// Process name.
    pub name: String,
    /// The new state.
    pub to: StateKind,
}

/// Whose child wrote the output an output event carries (PROCESS_LOG, PROCESS_COMMUNICATION),
/// so the dispatcher can let a dead child's last output pass before its exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Group name.
    pub group: String,
    /// Process name.
    pub name: String,
    /// The child's pid.
    pub pid: i32,
}

/// One event: its type name and its payload, rendered when it happened (as supervisord
/// renders the extras eagerly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// supervisord's event name, e.g. `PROCESS_STATE_RUNNING`.
    pub name: &'static str,
    /// The body written after the header line.
    pub payload: String,
    /// For PROCESS_STATE events: the process and its new state.
    pub subject: Option<Subject>,
    /// For output events: the child that wrote it.
    pub origin: Option<Origin>,
    /// vigil: what led to the event, for `/api/events` only (listeners get supervisord's
    /// payload): an exit's reason, a back-off's wait.
    pub note: Option<String>,
}

impl Event {
    /// An event a handover's record carried (queued for a listener pool): its type and
    /// payload; None for a type this vigil does not know.
    pub fn carried(name: &str, payload: String) -> Option<Event> {
        Some(Event {
            name: crate::config::event_types::known_name(name)?,
            payload,
            subject: None,
            origin: None,
            note: None,
        })
    }

    /// A process changed state: `processname:N groupname:G from_state:S` plus the extras
    /// supervisord adds per state (tries, pid, expected).
    pub fn process_state(group: &str, name: &str, change: &Change) -> Event {
        let Change {
            from,
            to,
            pid,
            expected,
            tries,
        } = *change;
        let pid = pid.unwrap_or(0);
        let extras = match to {
            StateKind::Starting | StateKind::Backoff => format!(" tries:{tries}"),
            StateKind::Running | StateKind::Stopping | StateKind::Stopped => format!(" pid:{pid}"),
            StateKind::Exited => {
                format!(" expected:{} pid:{pid}", u8::from(expected.unwrap_or(true)))
            }
            StateKind::Fatal | StateKind::Unknown => String::new(),
        };
        Event {
            name: match to {
                StateKind::Stopped => "PROCESS_STATE_STOPPED",
                StateKind::Starting => "PROCESS_STATE_STARTING",
                StateKind::Running => "PROCESS_STATE_RUNNING",
                StateKind::Backoff => "PROCESS_STATE_BACKOFF",
                StateKind::Stopping => "PROCESS_STATE_STOPPING",
                StateKind::Exited => "PROCESS_STATE_EXITED",
                StateKind::Fatal => "PROCESS_STATE_FATAL",
                StateKind::Unknown => "PROCESS_STATE_UNKNOWN",
            },
            payload: format!(
                "processname:{name} groupname:{group} from_state:{}{extras}",
                from.name()
            ),
            origin: None,
            subject: Some(Subject {
                group: group.to_string(),
                name: name.to_string(),
                to,
            }),
            note: None,
        }
    }

    /// The same event with a note for `/api/events`.
    pub fn noted(mut self, note: Option<String>) -> Event {
        self.note = note;
        self
    }

    /// A chunk of output (`*_events_enabled`).
    pub fn process_log(group: &str, name: &str, pid: i32, channel: Channel, data: &[u8]) -> Event {
        Event::plain(
            match channel {
                Channel::Stdout => "PROCESS_LOG_STDOUT",
                Channel::Stderr => "PROCESS_LOG_STDERR",
            },
            format!(
                "processname:{name} groupname:{group} pid:{pid} channel:{}\n{}",
                channel.name(),
                decoded(data)
            ),
        )
        .written_by(group, name, pid)
    }

    /// A capture-mode block (`*_capture_maxbytes`).
    pub fn process_communication(
        group: &str,
        name: &str,
        pid: i32,
        channel: Channel,
        data: &[u8],
    ) -> Event {
        Event::plain(
            match channel {
                Channel::Stdout => "PROCESS_COMMUNICATION_STDOUT",
                Channel::Stderr => "PROCESS_COMMUNICATION_STDERR",
            },
            format!(
                "processname:{name} groupname:{group} pid:{pid}\n{}",
                decoded(data)
            ),
        )
        .written_by(group, name, pid)
    }

    /// `sendRemoteCommEvent(type, data)`.
    pub fn remote_communication(kind: &str, data: &str) -> Event {
        Event::plain("REMOTE_COMMUNICATION", format!("type:{kind}\n{data}"))
    }

    /// The supervisor's main loop runs.
    pub fn supervisor_running() -> Event {
        Event::plain("SUPERVISOR_STATE_CHANGE_RUNNING", String::new())
    }

    /// A shutdown or restart begins.
    pub fn supervisor_stopping() -> Event {
        Event::plain("SUPERVISOR_STATE_CHANGE_STOPPING", String::new())
    }

    /// A group was added (at start-up or `addProcessGroup`).
    pub fn group_added(group: &str) -> Event {
        Event::plain("PROCESS_GROUP_ADDED", format!("groupname:{group}\n"))
    }

    /// A group was removed.
    pub fn group_removed(group: &str) -> Event {
        Event::plain("PROCESS_GROUP_REMOVED", format!("groupname:{group}\n"))
    }

    /// The `period` (5, 60 or 3600 s) timeslice starting at `when` began.
    pub fn tick(period: u64, when: u64) -> Option<Event> {
        let name = match period {
            5 => "TICK_5",
            60 => "TICK_60",
            3600 => "TICK_3600",
            _ => return None,
        };
        Some(Event::plain(name, format!("when:{when}")))
    }

    /// vigil: a process entered (with the crash's last line of output) or left a crash loop.
    pub fn crash_loop(group: &str, name: &str, entered: bool, detail: &str) -> Event {
        Event::plain(
            "VIGIL_CRASHLOOP",
            format!(
                "processname:{name} groupname:{group} state:{}\n{detail}",
                if entered { "entered" } else { "left" }
            ),
        )
    }

    /// vigil: a crash, with its record as a JSON line.
    pub fn crash(group: &str, name: &str, record_json: &str) -> Event {
        Event::plain(
            "VIGIL_CRASH",
            format!("processname:{name} groupname:{group}\n{record_json}"),
        )
    }

    /// vigil: a new vigild image took the fleet over (`vigilctl reexec`): the version that
    /// handed it over, this one, how many processes and how long the handover took.
    pub fn reexec(from: &str, processes: usize, took_ms: f64) -> Event {
        Event::plain(
            "VIGIL_REEXEC",
            format!(
                "from_version:{from} to_version:{} processes:{processes} took_ms:{took_ms:.0}\n",
                env!("CARGO_PKG_VERSION")
            ),
        )
    }

    /// vigil: `vigil.reloadProcess` sent a process its `reloadsignal`.
    pub fn reload(group: &str, name: &str, pid: i32, signal: nix::sys::signal::Signal) -> Event {
        Event::plain(
            "VIGIL_RELOAD",
            format!(
                "processname:{name} groupname:{group} pid:{pid} signal:{}\n",
                signal.as_str().trim_start_matches("SIG")
            ),
        )
    }

    /// vigil: a planned time of a process's `schedule=` (`action:start`) or
    /// `restart_schedule=` (`action:restart`) came, or was skipped (`action:skipped`) because
    /// the last run was still going.
    pub fn schedule(
        group: &str,
        name: &str,
        action: &str,
        planned: std::time::SystemTime,
    ) -> Event {
        Event::plain(
            "VIGIL_SCHEDULE",
            format!(
                "processname:{name} groupname:{group} action:{action} planned:{}\n",
                crate::timefmt::epoch_seconds(planned).unwrap_or(0.0)
            ),
        )
    }

    /// vigil: the health check's verdict on a process changed.
    pub fn health(group: &str, name: &str, healthy: bool, output: &str) -> Event {
        Event::plain(
            "VIGIL_HEALTH",
            format!(
                "processname:{name} groupname:{group} state:{}\n{output}",
                if healthy { "healthy" } else { "unhealthy" }
            ),
        )
    }

    /// The event as one JSON object: `event`, `time`, `fields` (the `key:value` tokens of
    /// the payload's first line), `data` (the rest; JSON when it is JSON, as a crash record)
    /// and `note` (why: `exit: unexpected`, `crash loop: next start in 4s, 6 crashes in 60s`).
    pub fn to_json(&self) -> String {
        let (head, body) = match self.payload.split_once('\n') {
            Some((head, body)) => (head, Some(body)),
            None => (self.payload.as_str(), None),
        };
        let fields: serde_json::Map<String, serde_json::Value> = head
            .split(' ')
            .filter_map(|token| token.split_once(':'))
            .map(|(key, value)| (key.to_string(), serde_json::Value::from(value)))
            .collect();
        let data = body.map(|body| {
            serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .filter(serde_json::Value::is_object)
                .unwrap_or_else(|| serde_json::Value::from(body))
        });
        let time = crate::timefmt::epoch_seconds(std::time::SystemTime::now()).unwrap_or(0.0);
        serde_json::json!({
            "event": self.name,
            "time": time,
            "fields": fields,
            "data": data,
            "note": self.note,
        })
        .to_string()
    }

    fn plain(name: &'static str, payload: String) -> Event {
        Event {
            name,
            payload,
            subject: None,
            origin: None,
            note: None,
        }
    }

    /// The same event, marked as output of `group`/`name`'s child `pid`.
    fn written_by(mut self, group: &str, name: &str, pid: i32) -> Event {
        self.origin = Some(Origin {
            group: group.to_string(),
            name: name.to_string(),
            pid,
        });
        self
    }

    /// The process this event is about (its state, or output of one of its children).
    pub fn process(&self) -> Option<(&str, &str)> {
        match (&self.subject, &self.origin) {
            (Some(subject), _) => Some((&subject.group, &subject.name)),
            (None, Some(origin)) => Some((&origin.group, &origin.name)),
            (None, None) => None,
        }
    }
}

/// Output as text, or supervisord's `Undecodable: b'…'` when it is not UTF-8.
fn decoded(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(text) => text.to_string(),
        Err(_) => format!("Undecodable: {}", python_bytes(data)),
    }
}

/// Python's `repr()` of a bytes object: `b'…'`.
fn python_bytes(data: &[u8]) -> String {
    // Python quotes with ' unless the bytes hold a ' and no ".
    let quote = if data.contains(&b'\'') && !data.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut repr = format!("b{}", char::from(quote));
    for byte in data {
        match byte {
            b'\\' => repr.push_str("\\\\"),
            b'\n' => repr.push_str("\\n"),
            b'\r' => repr.push_str("\\r"),
            b'\t' => repr.push_str("\\t"),
            byte if *byte == quote => {
                repr.push('\\');
                repr.push(char::from(quote));
            }
            0x20..=0x7e => repr.push(char::from(*byte)),
            other => repr.push_str(&format!("\\x{other:02x}")),
        }
    }
    repr.push(char::from(quote));
    repr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_supervisords() {
        let running = Event::process_state(
            "g",
            "p",
            &Change::between(StateKind::Starting, StateKind::Running, Some(7)),
        );
        assert_eq!(
            (running.name, running.payload.as_str()),
            (
                "PROCESS_STATE_RUNNING",
                "processname:p groupname:g from_state:STARTING pid:7"
            )
        );
        let exited = Event::process_state(
            "g",
            "p",
            &Change {
                expected: Some(false),
                ..Change::between(StateKind::Running, StateKind::Exited, Some(7))
            },
        );
        assert_eq!(
            exited.payload,
            "processname:p groupname:g from_state:RUNNING expected:0 pid:7"
        );
        let starting = Event::process_state(
            "g",
            "p",
            &Change {
                tries: 2,
                ..Change::between(StateKind::Backoff, StateKind::Starting, Some(9))
            },
        );
        assert_eq!(
            starting.payload,
            "processname:p groupname:g from_state:BACKOFF tries:2"
        );
        let fatal = Event::process_state(
            "g",
            "p",
            &Change {
                tries: 3,
                ..Change::between(StateKind::Backoff, StateKind::Fatal, None)
            },
        );
        assert_eq!(
            fatal.payload,
            "processname:p groupname:g from_state:BACKOFF"
        );
        assert_eq!(Event::group_added("g").payload, "groupname:g\n");
        assert_eq!(
            Event::process_log("g", "p", 7, Channel::Stderr, b"oops\n").payload,
            "processname:p groupname:g pid:7 channel:stderr\noops\n"
        );
        assert_eq!(
            Event::process_communication("g", "p", 7, Channel::Stdout, b"\xff'a").payload,
            "processname:p groupname:g pid:7\nUndecodable: b\"\\xff'a\""
        );
        assert_eq!(
            Event::remote_communication("kind", "hello").payload,
            "type:kind\nhello"
        );
        assert_eq!(
            Event::tick(60, 120).map(|e| e.payload),
            Some("when:120".into())
        );
    }
}
