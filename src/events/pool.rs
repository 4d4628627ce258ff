//! One event-listener pool as supervisord runs it: a bounded queue of the events its
//! `events=` subscribe to, and per listener process the READY / RESULT protocol read from
//! its stdout. Pure: it returns what to write where and what to log; the dispatcher does it.

use std::collections::VecDeque;
use std::sync::Arc;

use super::event::Event;
use super::handlers::{self, Console, StdlogState, Verdict};
use crate::config::event_types::subscribes;
use crate::config::ResultHandler;
use crate::process::state::StateKind;

/// The longest protocol line (`READY`, `RESULT <n>`) and result body a listener may write;
/// more is a protocol violation (supervisord buffers without a limit), so a listener that
/// writes megabytes without a newline costs vigild at most this much.
pub const MAX_LINE: usize = 64 << 10;

/// A pool's or the daemon's serial counter: starts at 0, wraps after Python's maxint as
/// supervisord's `new_serial` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Serial(Option<u64>);

impl Serial {
    /// The next serial.
    pub fn advance(&mut self) -> u64 {
        let next = match self.0 {
            Some(last) if last < i64::MAX as u64 => last + 1,
            _ => 0,
        };
        self.0 = Some(next);
        next
    }
}

/// An event in a pool's queue, with the serials it was given when accepted.
#[derive(Debug, Clone)]
pub struct Queued {
    /// The event.
    pub event: Arc<Event>,
    /// The daemon-wide serial.
    pub serial: u64,
    /// This pool's serial.
    pub pool_serial: u64,
}

/// A listener's protocol state (supervisord's EventListenerStates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerState {
    /// Waiting for `READY\n` (after a start or a result).
    Acknowledged,
    /// May be sent an event.
    Ready,
    /// Processing an event; a `RESULT` is expected.
    Busy,
    /// Broke the protocol: gets no more events until restarted.
    Unknown,
}

impl ListenerState {
    fn name(self) -> &'static str {
        match self {
            ListenerState::Acknowledged => "ACKNOWLEDGED",
            ListenerState::Ready => "READY",
            ListenerState::Busy => "BUSY",
            ListenerState::Unknown => "UNKNOWN",
        }
    }
}

/// One listener process of the pool (its current child).
#[derive(Debug)]
struct Listener {
    name: String,
    pid: i32,
    /// The process is RUNNING (events go only to RUNNING listeners).
    running: bool,
    state: ListenerState,
    /// The event being processed while BUSY.
    event: Option<Queued>,
    /// Output not yet consumed by the protocol.
    buffer: Vec<u8>,
    /// While a RESULT is being read: its announced length and what arrived.
    result: Option<(usize, Vec<u8>)>,
}

/// What the dispatcher must do for a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write `bytes` to the stdin of listener `name` (child `pid`).
    Write {
        /// Listener process name.
        name: String,
        /// Its child.
        pid: i32,
        /// Header line and payload.
        bytes: Vec<u8>,
    },
    /// Log at WARN.
    Warn(String),
    /// Log at ERROR.
    Error(String),
    /// Log at DEBUG.
    Debug(String),
    /// Write `bytes` to vigild's own stdout or stderr (a result handler's output).
    Print {
        /// Where.
        to: Console,
        /// What.
        bytes: Vec<u8>,
    },
}

/// A queued event as a handover (`vigilctl reexec`) carries it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueuedRecord {
    /// The event's type name.
    pub name: String,
    /// Its payload.
    pub payload: String,
    /// The daemon-wide serial.
    pub serial: u64,
    /// The pool's serial.
    pub pool_serial: u64,
}

/// One listener's protocol state as a handover carries it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ListenerRecord {
    /// Listener process name.
    pub name: String,
    /// Its child.
    pub pid: i32,
    /// RUNNING (events go only to running listeners).
    pub running: bool,
    /// ACKNOWLEDGED, READY, BUSY or UNKNOWN.
    pub state: String,
    /// The event it is processing while BUSY.
    pub event: Option<QueuedRecord>,
    /// Its output not yet consumed by the protocol.
    pub buffer: Vec<u8>,
    /// A RESULT being read: its announced length and what arrived.
    pub result: Option<(usize, Vec<u8>)>,
}

/// A pool as a handover carries it: its serial, its queue and its listeners' states.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PoolRecord {
    /// The pool (group) name.
    pub name: String,
    /// Its serial counter.
    pub serial: Serial,
    /// The events waiting, oldest first.
    pub queue: Vec<QueuedRecord>,
    /// Its listeners.
    pub listeners: Vec<ListenerRecord>,
}

impl Queued {
    fn to_record(&self) -> QueuedRecord {
        QueuedRecord {
            name: self.event.name.to_string(),
            payload: self.event.payload.clone(),
            serial: self.serial,
            pool_serial: self.pool_serial,
        }
    }

    /// The queued event a record describes; None for an event type this vigil does not
    /// know (a record from another version).
    fn from_record(record: &QueuedRecord) -> Option<Queued> {
        Some(Queued {
            event: Arc::new(Event::carried(&record.name, record.payload.clone())?),
            serial: record.serial,
            pool_serial: record.pool_serial,
        })
    }
}

/// A listener pool.
#[derive(Debug)]
pub struct Pool {
    /// Pool (group) name.
    pub name: String,
    /// Subscribed event types.
    events: Vec<String>,
    /// Queue bound (`buffer_size`).
    buffer_size: usize,
    serial: Serial,
    queue: VecDeque<Queued>,
    /// Listener processes in the order they started.
    listeners: Vec<Listener>,
    /// What makes of each result (`result_handler`).
    handler: ResultHandler,
    /// supervisor-stdlog's colours and padding so far.
    stdlog: StdlogState,
}

impl Pool {
    /// An empty pool subscribed to `events`.
    pub fn new(
        name: &str,
        events: Vec<String>,
        buffer_size: usize,
        handler: ResultHandler,
    ) -> Self {
        Pool {
            name: name.to_string(),
            events,
            buffer_size: buffer_size.max(1),
            serial: Serial::default(),
            queue: VecDeque::new(),
            listeners: Vec::new(),
            handler,
            stdlog: StdlogState::default(),
        }
    }

    /// New settings after a config update; the queue and listeners stay.
    pub fn configure(&mut self, events: Vec<String>, buffer_size: usize, handler: ResultHandler) {
        self.events = events;
        self.buffer_size = buffer_size.max(1);
        self.handler = handler;
    }

    /// Events waiting to be sent.
    pub fn queue_depth(&self) -> usize {
        self.queue.len()
    }

    /// Whether the pool subscribes to events named `name`.
    pub fn wants(&self, name: &str) -> bool {
        self.events.iter().any(|sub| subscribes(sub, name))
    }

    /// Queues `event` (global `serial` already given) at the tail; a full queue drops its
    /// oldest event, as supervisord does.
    pub fn accept(&mut self, event: Arc<Event>, serial: u64, actions: &mut Vec<Action>) {
        let pool_serial = self.serial.advance();
        self.enqueue(
            Queued {
                event,
                serial,
                pool_serial,
            },
            false,
            actions,
        );
    }

    fn enqueue(&mut self, queued: Queued, head: bool, actions: &mut Vec<Action>) {
        if self.queue.len() >= self.buffer_size {
            if let Some(discarded) = self.queue.pop_front() {
                actions.push(Action::Error(format!(
                    "pool {} event buffer overflowed, discarding event {}",
                    self.name, discarded.serial
                )));
            }
        }
        if head {
            self.queue.push_front(queued);
        } else {
            self.queue.push_back(queued);
        }
    }

    /// The pool as a handover's record.
    pub fn to_record(&self) -> PoolRecord {
        PoolRecord {
            name: self.name.clone(),
            serial: self.serial,
            queue: self.queue.iter().map(Queued::to_record).collect(),
            listeners: self
                .listeners
                .iter()
                .map(|listener| ListenerRecord {
                    name: listener.name.clone(),
                    pid: listener.pid,
                    running: listener.running,
                    state: listener.state.name().to_string(),
                    event: listener.event.as_ref().map(Queued::to_record),
                    buffer: listener.buffer.clone(),
                    result: listener.result.clone(),
                })
                .collect(),
        }
    }

    /// The new image of a handover: the serial, the queue and each listener's protocol
    /// state as the record has them (the listeners, by name and pid, started already).
    pub fn adopt(&mut self, record: &PoolRecord) {
        self.serial = record.serial;
        self.queue = record
            .queue
            .iter()
            .filter_map(Queued::from_record)
            .collect();
        for handed in &record.listeners {
            let Some(listener) = self
                .listeners
                .iter_mut()
                .find(|l| l.name == handed.name && l.pid == handed.pid)
            else {
                continue;
            };
            listener.running = handed.running;
            listener.state = match handed.state.as_str() {
                "READY" => ListenerState::Ready,
                "BUSY" => ListenerState::Busy,
                "UNKNOWN" => ListenerState::Unknown,
                _ => ListenerState::Acknowledged,
            };
            listener.event = handed.event.as_ref().and_then(Queued::from_record);
            listener.buffer.clone_from(&handed.buffer);
            listener.result.clone_from(&handed.result);
        }
    }

    /// A new child of listener `name` started: it must say READY first.
    pub fn listener_started(&mut self, name: &str, pid: i32, actions: &mut Vec<Action>) {
        let fresh = Listener {
            name: name.to_string(),
            pid,
            running: false,
            state: ListenerState::Acknowledged,
            event: None,
            buffer: Vec::new(),
            result: None,
        };
        match self.listeners.iter_mut().position(|l| l.name == name) {
            Some(at) => {
                let old = std::mem::replace(&mut self.listeners[at], fresh);
                self.requeue(old.event, actions);
            }
            None => self.listeners.push(fresh),
        }
    }

    /// A pool member changed state: only RUNNING listeners get events, and one whose child
    /// is gone gives its event back.
    pub fn process_state(&mut self, name: &str, to: StateKind, actions: &mut Vec<Action>) {
        let Some(at) = self.listeners.iter().position(|l| l.name == name) else {
            return;
        };
        let listener = &mut self.listeners[at];
        listener.running = to == StateKind::Running;
        if to.child_gone() {
            let event = listener.event.take();
            self.requeue(event, actions);
        }
    }

    /// A rejected or orphaned event goes back to the head of the queue.
    fn requeue(&mut self, event: Option<Queued>, actions: &mut Vec<Action>) {
        if let Some(queued) = event {
            self.enqueue(queued, true, actions);
        }
    }

    /// Listener `name` while its child is `pid` (output of an older child is ignored).
    fn child(&mut self, name: &str, pid: i32) -> Option<&mut Listener> {
        self.listeners
            .iter_mut()
            .find(|l| l.name == name && l.pid == pid)
    }

    /// Output of listener `name`'s child `pid`: moves it through the protocol.
    pub fn output(&mut self, name: &str, pid: i32, bytes: &[u8], actions: &mut Vec<Action>) {
        let handler = self.handler;
        let Some(listener) = self
            .listeners
            .iter_mut()
            .find(|l| l.name == name && l.pid == pid)
        else {
            return;
        };
        listener.buffer.extend_from_slice(bytes);
        let mut rejected = Vec::new();
        read_protocol(
            listener,
            (handler, &mut self.stdlog),
            actions,
            &mut rejected,
        );
        for event in rejected {
            self.requeue(Some(event), actions);
        }
    }

    /// Output of listener `name`'s child `pid` was dropped on its way here (`dropped` bytes
    /// it wrote faster than they could be read): a protocol violation.
    pub fn output_dropped(
        &mut self,
        name: &str,
        pid: i32,
        dropped: usize,
        actions: &mut Vec<Action>,
    ) {
        let Some(listener) = self.child(name, pid) else {
            return;
        };
        if listener.state == ListenerState::Unknown {
            return;
        }
        let why = format!("wrote {dropped} bytes more than vigild holds for a listener");
        let rejected = violation(listener, why, actions);
        self.requeue(rejected, actions);
    }

    /// Sends queued events to READY, RUNNING listeners, oldest first, one per listener.
    pub fn dispatch(&mut self, identifier: &str, actions: &mut Vec<Action>) {
        while let Some(queued) = self.queue.pop_front() {
            let Some(listener) = self
                .listeners
                .iter_mut()
                .find(|l| l.running && l.state == ListenerState::Ready)
            else {
                self.queue.push_front(queued);
                return;
            };
            let payload = &queued.event.payload;
            // supervisord 4.3 counts characters, not bytes.
            let header = format!(
                "ver:3.0 server:{identifier} serial:{} pool:{} poolserial:{} eventname:{} len:{}\n",
                queued.serial,
                self.name,
                queued.pool_serial,
                queued.event.name,
                payload.chars().count()
            );
            let mut bytes = header.into_bytes();
            bytes.extend_from_slice(payload.as_bytes());
            actions.push(Action::Debug(format!(
                "event {} sent to listener {}",
                queued.serial, listener.name
            )));
            actions.push(Action::Write {
                name: listener.name.clone(),
                pid: listener.pid,
                bytes,
            });
            change(listener, ListenerState::Busy, actions);
            listener.event = Some(queued);
        }
    }
}

/// supervisord's `handle_listener_state_change`: consumes the listener's buffered output.
fn read_protocol(
    listener: &mut Listener,
    handler: (ResultHandler, &mut StdlogState),
    actions: &mut Vec<Action>,
    rejected: &mut Vec<Queued>,
) {
    const READY: &[u8] = b"READY\n";
    const RESULT: &[u8] = b"RESULT ";
    while !listener.buffer.is_empty() {
        match listener.state {
            ListenerState::Unknown => {
                listener.buffer.clear();
            }
            ListenerState::Acknowledged => {
                if listener.buffer.len() < READY.len() {
                    return;
                }
                if listener.buffer.starts_with(READY) {
                    listener.buffer.drain(..READY.len());
                    change(listener, ListenerState::Ready, actions);
                } else {
                    listener.buffer.clear();
                    change(listener, ListenerState::Unknown, actions);
                }
            }
            ListenerState::Ready => {
                // Output while READY is a protocol violation.
                listener.buffer.clear();
                change(listener, ListenerState::Unknown, actions);
            }
            ListenerState::Busy => match listener.result.take() {
                None => {
                    let window = &listener.buffer[..listener.buffer.len().min(MAX_LINE + 1)];
                    let Some(end) = window.iter().position(|b| *b == b'\n') else {
                        if window.len() > MAX_LINE {
                            let why = format!("wrote a result line longer than {MAX_LINE} bytes");
                            rejected.extend(violation(listener, why, actions));
                        }
                        return;
                    };
                    let line: Vec<u8> = listener.buffer.drain(..=end).collect();
                    let line = &line[..end];
                    // As supervisord: whatever follows the first 7 bytes is the length.
                    let length = line
                        .get(RESULT.len().min(line.len())..)
                        .and_then(|digits| std::str::from_utf8(digits).ok())
                        .and_then(|digits| digits.trim().parse::<usize>().ok());
                    match length {
                        Some(length) if length <= MAX_LINE => {
                            listener.result = Some((length, Vec::new()));
                        }
                        Some(length) => {
                            let why = format!(
                                "announced a result of {length} bytes, over the {MAX_LINE} allowed"
                            );
                            rejected.extend(violation(listener, why, actions));
                            return;
                        }
                        None => {
                            let why =
                                format!("bad result line: '{}'", String::from_utf8_lossy(line));
                            rejected.extend(violation(listener, why, actions));
                            return;
                        }
                    }
                }
                Some((length, mut result)) => {
                    let needed = length
                        .saturating_sub(result.len())
                        .min(listener.buffer.len());
                    result.extend(listener.buffer.drain(..needed));
                    if result.len() < length {
                        listener.result = Some((length, result));
                        return;
                    }
                    let event = listener.event.take();
                    match handlers::handle(handler.0, &result, handler.1) {
                        Verdict::Processed(output) => {
                            if let Some((to, bytes)) = output {
                                actions.push(Action::Print { to, bytes });
                            }
                            actions.push(Action::Debug(format!(
                                "{}: event was processed",
                                listener.name
                            )));
                        }
                        Verdict::Rejected => {
                            actions.push(Action::Warn(format!(
                                "{}: event was rejected",
                                listener.name
                            )));
                            rejected.extend(event);
                        }
                        Verdict::Failed(why) => {
                            actions.push(Action::Warn(format!(
                                "{}: event caused an error ({why})",
                                listener.name
                            )));
                            rejected.extend(event);
                            change(listener, ListenerState::Unknown, actions);
                            return;
                        }
                    }
                    change(listener, ListenerState::Acknowledged, actions);
                }
            },
        }
    }
}

/// A protocol violation (`why`, logged at WARN): the listener's output is dropped, it goes
/// UNKNOWN, and its event (if busy) is returned to be rejected.
fn violation(listener: &mut Listener, why: String, actions: &mut Vec<Action>) -> Option<Queued> {
    actions.push(Action::Warn(format!("{}: {why}", listener.name)));
    listener.buffer.clear();
    listener.result = None;
    change(listener, ListenerState::Unknown, actions);
    listener.event.take()
}

fn change(listener: &mut Listener, to: ListenerState, actions: &mut Vec<Action>) {
    actions.push(Action::Debug(format!(
        "{}: {} -> {}",
        listener.name,
        listener.state.name(),
        to.name()
    )));
    listener.state = to;
    if to == ListenerState::Unknown {
        actions.push(Action::Warn(format!(
            "{}: has entered the UNKNOWN state and will no longer receive events, this usually indicates the process violated the eventlistener protocol",
            listener.name
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u32) -> Arc<Event> {
        Arc::new(Event::remote_communication("t", &format!("n{n}")))
    }

    fn writes(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Write { bytes, .. } => Some(String::from_utf8_lossy(bytes).into_owned()),
                _ => None,
            })
            .collect()
    }

    fn ready_pool(buffer_size: usize) -> Pool {
        let mut pool = Pool::new(
            "listener",
            vec!["REMOTE_COMMUNICATION".into()],
            buffer_size,
            ResultHandler::Default,
        );
        let mut actions = Vec::new();
        pool.listener_started("listener", 10, &mut actions);
        pool.process_state("listener", StateKind::Running, &mut actions);
        pool.output("listener", 10, b"READY\n", &mut actions);
        pool
    }

    #[test]
    fn ready_result_ok_cycle_with_supervisords_header() {
        let mut pool = ready_pool(10);
        let mut actions = Vec::new();
        pool.accept(event(1), 0, &mut actions);
        pool.accept(event(2), 1, &mut actions);
        pool.dispatch("supervisor", &mut actions);
        assert_eq!(
            writes(&actions),
            ["ver:3.0 server:supervisor serial:0 pool:listener poolserial:0 eventname:REMOTE_COMMUNICATION len:9\ntype:t\nn1"]
        );
        assert_eq!(pool.queue_depth(), 1, "one event per listener at a time");
        let mut actions = Vec::new();
        pool.output("listener", 10, b"RESULT 2\nOKREADY\n", &mut actions);
        pool.dispatch("supervisor", &mut actions);
        assert_eq!(writes(&actions).len(), 1);
        assert!(writes(&actions)[0].contains("serial:1 pool:listener poolserial:1"));
    }

    #[test]
    fn fail_and_a_dead_listener_requeue_at_the_head() {
        let mut pool = ready_pool(10);
        let mut actions = Vec::new();
        pool.accept(event(1), 0, &mut actions);
        pool.accept(event(2), 1, &mut actions);
        pool.dispatch("s", &mut actions);
        pool.output("listener", 10, b"RESULT 4\nFAIL", &mut actions);
        assert_eq!(
            pool.queue.front().map(|q| q.serial),
            Some(0),
            "FAIL requeues at the head"
        );
        pool.output("listener", 10, b"READY\n", &mut actions);
        let mut actions = Vec::new();
        pool.dispatch("s", &mut actions);
        assert!(writes(&actions)[0].contains("serial:0 "), "redelivered");
        pool.process_state("listener", StateKind::Exited, &mut actions);
        assert_eq!(
            pool.queue.front().map(|q| q.serial),
            Some(0),
            "a dead listener's event returns"
        );
        let mut actions = Vec::new();
        pool.dispatch("s", &mut actions);
        assert!(writes(&actions).is_empty(), "not RUNNING: nothing is sent");
    }

    #[test]
    fn overflow_drops_the_oldest_with_an_error() {
        let mut pool = Pool::new("p", vec!["EVENT".into()], 2, ResultHandler::Default);
        let mut actions = Vec::new();
        for serial in 0..3 {
            pool.accept(event(serial), u64::from(serial), &mut actions);
        }
        assert_eq!(
            actions,
            [Action::Error(
                "pool p event buffer overflowed, discarding event 0".into()
            )]
        );
        assert_eq!(pool.queue_depth(), 2);
    }

    #[test]
    fn protocol_violations_make_the_listener_unknown() {
        for (setup, bad) in [(&b""[..], &b"HELLO!\n"[..]), (&b"READY\n"[..], &b"x"[..])] {
            let mut pool = Pool::new("p", vec!["EVENT".into()], 5, ResultHandler::Default);
            let mut actions = Vec::new();
            pool.listener_started("l", 1, &mut actions);
            pool.process_state("l", StateKind::Running, &mut actions);
            pool.output("l", 1, setup, &mut actions);
            pool.output("l", 1, bad, &mut actions);
            assert_eq!(pool.listeners[0].state, ListenerState::Unknown);
            assert!(actions.iter().any(
                |a| matches!(a, Action::Warn(m) if m.contains("has entered the UNKNOWN state"))
            ));
        }
        let mut pool = ready_pool(5);
        let mut actions = Vec::new();
        pool.accept(event(1), 0, &mut actions);
        pool.dispatch("s", &mut actions);
        pool.output("listener", 10, b"RESULT x\n", &mut actions);
        assert!(actions
            .iter()
            .any(|a| matches!(a, Action::Warn(m) if m == "listener: bad result line: 'RESULT x'")));
        assert_eq!(pool.queue_depth(), 1, "the event is rejected back");
    }

    #[test]
    fn a_line_or_result_over_the_limit_is_a_violation_and_the_buffer_stays_bounded() {
        let flood = vec![b'x'; 1 << 16];
        for first in [&b""[..], &b"RESULT 65537\n"[..]] {
            let mut pool = ready_pool(5);
            let mut actions = Vec::new();
            pool.accept(event(1), 0, &mut actions);
            pool.dispatch("s", &mut actions);
            let mut actions = Vec::new();
            pool.output("listener", 10, first, &mut actions);
            // Megabytes without a newline, in pipe-sized pieces.
            for _ in 0..128 {
                pool.output("listener", 10, &flood, &mut actions);
                assert!(pool.listeners[0].buffer.len() <= MAX_LINE + flood.len());
            }
            assert_eq!(pool.listeners[0].state, ListenerState::Unknown);
            assert!(pool.listeners[0].buffer.is_empty());
            let warned: Vec<&Action> = actions
                .iter()
                .filter(|a| matches!(a, Action::Warn(_)))
                .collect();
            let why = if first.is_empty() {
                "listener: wrote a result line longer than 65536 bytes"
            } else {
                "listener: announced a result of 65537 bytes, over the 65536 allowed"
            };
            assert_eq!(warned.len(), 2, "{actions:?}");
            assert_eq!(warned[0], &Action::Warn(why.into()));
            assert_eq!(pool.queue_depth(), 1, "the event is rejected back");
        }
        // Just under the limit is a line like any other.
        let mut pool = ready_pool(5);
        let mut actions = Vec::new();
        pool.accept(event(1), 0, &mut actions);
        pool.dispatch("s", &mut actions);
        let mut line = b"RESULT 2".to_vec();
        line.resize(MAX_LINE, b' ');
        line.extend_from_slice(b"\nOK");
        pool.output("listener", 10, &line, &mut actions);
        assert_eq!(pool.listeners[0].state, ListenerState::Acknowledged);
        assert_eq!(pool.queue_depth(), 0);
    }

    #[test]
    fn output_dropped_on_the_way_is_a_violation() {
        let mut pool = ready_pool(5);
        let mut actions = Vec::new();
        pool.accept(event(1), 0, &mut actions);
        pool.dispatch("s", &mut actions);
        pool.output_dropped("listener", 10, 4096, &mut actions);
        assert_eq!(pool.listeners[0].state, ListenerState::Unknown);
        assert!(actions.contains(&Action::Warn(
            "listener: wrote 4096 bytes more than vigild holds for a listener".into()
        )));
        assert_eq!(pool.queue_depth(), 1, "the event is rejected back");
    }

    #[test]
    fn serials_start_at_zero() {
        let mut serial = Serial::default();
        assert_eq!((serial.advance(), serial.advance()), (0, 1));
    }
}
