//! supervisord's event system: the supervisor, the log captures and the API publish
//! [`Event`]s; one dispatcher task owns the listener [`pool::Pool`]s, queues each event for
//! the pools that subscribe to it, writes it to a READY listener's stdin and reads the
//! listeners' answers, which their stdout captures forward here. It also emits
//! TICK_5/TICK_60/TICK_3600.
//!
//! The dispatcher changes no process state: a listener's life (started, RUNNING, gone) reaches
//! it as messages and PROCESS_STATE events from the supervisor.

pub mod event;
pub mod handlers;
mod hold;
pub mod pool;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, mpsc, watch};

pub use event::{Channel, Event};
use hold::Holds;
use pool::{Action, Pool, Serial};

use crate::process::stdin::{FeedError, Feeder};

/// Longest a process's events wait for its exited child's last output (see [`Message::Hold`]).
const HOLD_LIMIT: Duration = Duration::from_secs(5);

/// A message to the dispatcher.
#[derive(Debug)]
pub enum Message {
    /// Something happened.
    Publish(Event),
    /// An `[eventlistener:x]` group was put in use (or its config updated): create or
    /// reconfigure its pool, before its PROCESS_GROUP_ADDED event.
    PoolAdded {
        /// Pool (group) name.
        name: String,
        /// Subscribed event types.
        events: Vec<String>,
        /// `buffer_size`.
        buffer_size: usize,
        /// `result_handler`.
        result_handler: crate::config::ResultHandler,
    },
    /// A pool's group was removed: drop it, before its PROCESS_GROUP_REMOVED event.
    PoolRemoved(String),
    /// A listener's new child: its stdin, for the events.
    ListenerStarted {
        /// Pool name.
        pool: String,
        /// Listener process name.
        name: String,
        /// Child pid.
        pid: i32,
        /// Its stdin feeder (shared with the supervisor's entry).
        stdin: Feeder,
    },
    /// `group`/`name`'s child `pid` exited: its events from now on wait until its last output
    /// has passed ([`Message::Release`]), or [`HOLD_LIMIT`]; its own output still passes.
    Hold {
        /// Group name.
        group: String,
        /// Process name.
        name: String,
        /// The exited child.
        pid: i32,
    },
    /// The exited child's output has all been read (and its crash record made).
    Release {
        /// Group name.
        group: String,
        /// Process name.
        name: String,
        /// The exited child.
        pid: i32,
    },
    /// Output a listener's child wrote on stdout (the protocol channel).
    ListenerOutput {
        /// Pool name.
        pool: String,
        /// Listener process name.
        name: String,
        /// Child pid.
        pid: i32,
        /// The bytes.
        bytes: Vec<u8>,
        /// The child's output still on its way here, shared with its capture.
        backlog: Arc<ListenerBacklog>,
    },
    /// vigil `reexec`: the pools' state for the handover's record; the dispatcher then
    /// stops, so nothing it would write is lost with the exec (pipes are frozen already).
    HandOver(tokio::sync::oneshot::Sender<EventsRecord>),
    /// vigil `reexec`: the handover was given up after [`Message::HandOver`]: go on.
    Resume,
    /// vigil `reexec`, in the new image: the pools' serials, queues and listeners' states
    /// as the record has them (after the pools and their listeners were announced).
    Adopt(EventsRecord),
}

/// The dispatcher's state as a handover's record carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EventsRecord {
    /// The daemon-wide serial.
    pub serial: Serial,
    /// Every pool.
    pub pools: Vec<pool::PoolRecord>,
}

/// The most output of one listener child that may wait for the dispatcher. A listener that
/// keeps the protocol writes one short line and result per event, so more means it floods:
/// its capture drops the rest and the pool puts it in UNKNOWN.
pub const LISTENER_BACKLOG: usize = 1 << 20;

/// One listener child's output between its capture and the dispatcher: what is queued, and
/// what was dropped because [`LISTENER_BACKLOG`] was reached.
#[derive(Debug, Default)]
pub struct ListenerBacklog {
    queued: AtomicUsize,
    dropped: AtomicUsize,
}

impl ListenerBacklog {
    /// Whether `len` more bytes may be queued; if not they count as dropped.
    pub fn admit(&self, len: usize) -> bool {
        let before = self.queued.fetch_add(len, Ordering::AcqRel);
        if before.saturating_add(len) <= LISTENER_BACKLOG {
            return true;
        }
        self.queued.fetch_sub(len, Ordering::AcqRel);
        self.dropped.fetch_add(len, Ordering::AcqRel);
        false
    }

    /// The dispatcher took `len` queued bytes; returns the bytes dropped since it last did.
    fn take(&self, len: usize) -> usize {
        self.queued.fetch_sub(len, Ordering::AcqRel);
        self.dropped.swap(0, Ordering::AcqRel)
    }
}

/// Where events and listener news go: cheap to clone for every producer.
#[derive(Clone, Debug)]
pub struct Publisher {
    sender: mpsc::UnboundedSender<Message>,
    depths: watch::Receiver<Vec<(String, usize)>>,
    feed: broadcast::Sender<Arc<str>>,
}

impl Publisher {
    /// Publishes `event` (dropped silently once the dispatcher has ended).
    pub fn publish(&self, event: Event) {
        let _ = self.sender.send(Message::Publish(event));
    }

    /// Sends any message.
    pub fn send(&self, message: Message) {
        let _ = self.sender.send(message);
    }

    /// vigil `reexec`: the pools' state for the record, once the dispatcher has handled
    /// everything sent before (None if it has ended).
    pub async fn hand_over(&self) -> Option<EventsRecord> {
        let (reply, record) = tokio::sync::oneshot::channel();
        self.send(Message::HandOver(reply));
        record.await.ok()
    }

    /// Events waiting in each pool, for `/metrics`.
    pub fn queue_depths(&self) -> Vec<(String, usize)> {
        self.depths.borrow().clone()
    }

    /// Every event from now on as one JSON object (`/api/events`): `event` (its type),
    /// `fields` (the payload's `key:value` header) and `data` (the rest; a crash record
    /// comes as an object). A reader that falls behind loses the oldest.
    pub fn feed(&self) -> broadcast::Receiver<Arc<str>> {
        self.feed.subscribe()
    }
}

/// Starts the dispatcher task on the current runtime; `identifier` is the `server:` of
/// every header.
pub fn start(identifier: String) -> Publisher {
    let (sender, receiver) = mpsc::unbounded_channel();
    let (depths_sender, depths) = watch::channel(Vec::new());
    let (feed, _) = broadcast::channel(FEED_BUFFER);
    let dispatcher = Dispatcher {
        feed: feed.clone(),
        identifier,
        pools: Vec::new(),
        serial: Serial::default(),
        stdins: HashMap::new(),
        depths: depths_sender,
        ticks: Ticks::default(),
        holds: Holds::default(),
        handed_over: false,
    };
    tokio::spawn(dispatcher.run(receiver));
    Publisher {
        sender,
        depths,
        feed,
    }
}

/// Events a slow `/api/events` reader may lag behind by before it loses the oldest.
const FEED_BUFFER: usize = 1024;

/// The dispatcher's state; owned by its task alone.
struct Dispatcher {
    identifier: String,
    /// Pools in the order their groups were added (supervisord's subscription order).
    pools: Vec<Pool>,
    /// The daemon-wide event serial.
    serial: Serial,
    /// Each live listener child's stdin feeder, by (pool, process name, pid).
    stdins: HashMap<(String, String, i32), Feeder>,
    depths: watch::Sender<Vec<(String, usize)>>,
    ticks: Ticks,
    /// The JSON feed of every event (`/api/events`).
    feed: broadcast::Sender<Arc<str>>,
    /// Events waiting for an exited child's last output.
    holds: Holds,
    /// vigil `reexec`: the pools went into a handover's record; nothing more is done.
    handed_over: bool,
}

impl Dispatcher {
    async fn run(mut self, mut receiver: mpsc::UnboundedReceiver<Message>) {
        loop {
            // Handed over: only a given-up handover's Resume brings the dispatcher back.
            while self.handed_over {
                match receiver.recv().await {
                    Some(Message::Resume) => self.handed_over = false,
                    Some(_) => {}
                    None => return,
                }
            }
            // Checked on every pass, so a stream of messages cannot delay a tick.
            for event in self.ticks.check(SystemTime::now()) {
                self.publish(event);
            }
            for event in self.holds.expire(Instant::now()) {
                self.publish(event);
            }
            self.dispatch();
            let mut wait = self.ticks.until_next(SystemTime::now());
            if let Some(deadline) = self.holds.next_deadline() {
                wait = wait.min(deadline.saturating_duration_since(Instant::now()));
            }
            tokio::select! {
                message = receiver.recv() => match message {
                    Some(message) => self.handle(message),
                    None => return,
                },
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn handle(&mut self, message: Message) {
        let mut actions = Vec::new();
        match message {
            Message::HandOver(reply) => {
                let record = EventsRecord {
                    serial: self.serial,
                    pools: self.pools.iter().map(Pool::to_record).collect(),
                };
                let _ = reply.send(record);
                self.handed_over = true;
            }
            Message::Resume => {}
            Message::Adopt(record) => {
                self.serial = record.serial;
                for handed in &record.pools {
                    if let Some(pool) = self.pools.iter_mut().find(|p| p.name == handed.name) {
                        pool.adopt(handed);
                    }
                }
            }
            Message::Publish(event) => {
                if let Some(event) = self.holds.admit(event) {
                    self.publish(event);
                }
            }
            Message::Hold { group, name, pid } => {
                let until = Instant::now() + HOLD_LIMIT;
                for event in self.holds.hold(&group, &name, pid, until) {
                    self.publish(event);
                }
            }
            Message::Release { group, name, pid } => {
                for event in self.holds.release(&group, &name, pid) {
                    self.publish(event);
                }
            }
            Message::PoolAdded {
                name,
                events,
                buffer_size,
                result_handler,
            } => match self.pools.iter_mut().find(|p| p.name == name) {
                Some(pool) => pool.configure(events, buffer_size, result_handler),
                None => self
                    .pools
                    .push(Pool::new(&name, events, buffer_size, result_handler)),
            },
            Message::PoolRemoved(name) => {
                self.pools.retain(|p| p.name != name);
                self.stdins.retain(|(pool, _, _), _| *pool != name);
            }
            Message::ListenerStarted {
                pool,
                name,
                pid,
                stdin,
            } => {
                self.stdins
                    .retain(|(p, n, _), _| !(*p == pool && *n == name));
                if let Some(found) = self.pools.iter_mut().find(|p| p.name == pool) {
                    found.listener_started(&name, pid, &mut actions);
                    self.stdins.insert((pool, name, pid), stdin);
                }
            }
            Message::ListenerOutput {
                pool,
                name,
                pid,
                bytes,
                backlog,
            } => {
                let dropped = backlog.take(bytes.len());
                if let Some(found) = self.pools.iter_mut().find(|p| p.name == pool) {
                    found.output(&name, pid, &bytes, &mut actions);
                    // What was dropped came after these bytes.
                    if dropped > 0 {
                        found.output_dropped(&name, pid, dropped, &mut actions);
                    }
                }
            }
        }
        self.carry_out(None, actions);
    }

    /// Queues `event` in every pool that subscribes to it, giving it the next serial if any
    /// does; PROCESS_STATE events also tell a pool about its own listeners.
    fn publish(&mut self, event: Event) {
        if self.feed.receiver_count() > 0 {
            let _ = self.feed.send(event.to_json().into());
        }
        let event = Arc::new(event);
        let mut serial = None;
        let mut actions = Vec::new();
        for pool in &mut self.pools {
            if pool.wants(event.name) {
                let serial = *serial.get_or_insert_with(|| self.serial.advance());
                pool.accept(Arc::clone(&event), serial, &mut actions);
            }
        }
        if let Some(subject) = &event.subject {
            if let Some(pool) = self.pools.iter_mut().find(|p| p.name == subject.group) {
                pool.process_state(&subject.name, subject.to, &mut actions);
            }
            // A listener whose child is gone lets go of its stdin (a grandchild reading it
            // then sees its end).
            if subject.to.child_gone() {
                self.stdins
                    .retain(|(p, n, _), _| !(*p == subject.group && *n == subject.name));
            }
        }
        self.carry_out(None, actions);
    }

    fn dispatch(&mut self) {
        let mut work = Vec::new();
        for pool in &mut self.pools {
            let mut actions = Vec::new();
            pool.dispatch(&self.identifier, &mut actions);
            work.push((pool.name.clone(), actions));
        }
        for (pool, actions) in work {
            self.carry_out(Some(&pool), actions);
        }
        let depths: Vec<(String, usize)> = self
            .pools
            .iter()
            .map(|p| (p.name.clone(), p.queue_depth()))
            .collect();
        self.depths.send_if_modified(|current| {
            let changed = *current != depths;
            *current = depths;
            changed
        });
    }

    fn carry_out(&self, pool: Option<&str>, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Write { name, pid, bytes } => {
                    let Some(pool) = pool else { continue };
                    let key = (pool.to_string(), name, pid);
                    let Some(stdin) = self.stdins.get(&key) else {
                        continue;
                    };
                    // Queued: a listener that does not read holds up nothing.
                    match stdin.send(bytes) {
                        Ok(()) => {}
                        Err(FeedError::Closed) => tracing::debug!(
                            "could not send an event to listener {} (pid {}): its stdin is closed",
                            key.1,
                            key.2
                        ),
                        Err(full) => tracing::warn!(
                            "could not send an event to listener {} (pid {}): {full}",
                            key.1,
                            key.2
                        ),
                    }
                }
                Action::Warn(message) => tracing::warn!("{message}"),
                Action::Error(message) => tracing::error!("{message}"),
                Action::Debug(message) => tracing::debug!("{message}"),
                Action::Print { to, bytes } => crate::logs::console::print(to, &bytes),
            }
        }
    }
}

/// The TICK periods and the timeslice each was last in (supervisord's `tick`).
#[derive(Debug, Default)]
struct Ticks {
    last: [Option<u64>; 3],
}

impl Ticks {
    const PERIODS: [u64; 3] = [5, 60, 3600];

    /// TICK events for every period whose timeslice changed since the last check; the first
    /// check only notes the current slices.
    fn check(&mut self, now: SystemTime) -> Vec<Event> {
        let seconds = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let mut due = Vec::new();
        for (at, period) in Self::PERIODS.iter().enumerate() {
            let slice = seconds - seconds % period;
            match self.last[at] {
                Some(last) if last == slice => {}
                Some(_) => {
                    self.last[at] = Some(slice);
                    due.extend(Event::tick(*period, slice));
                }
                None => self.last[at] = Some(slice),
            }
        }
        due
    }

    /// How long until the next 5-second boundary (a little after it).
    fn until_next(&self, now: SystemTime) -> Duration {
        let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let into = Duration::from_millis(u64::try_from(since.as_millis() % 5000).unwrap_or(0));
        Duration::from_secs(5).saturating_sub(into) + Duration::from_millis(5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_backlog_admits_up_to_its_bound_and_counts_the_rest() {
        let backlog = ListenerBacklog::default();
        assert!(backlog.admit(LISTENER_BACKLOG - 10));
        assert!(!backlog.admit(11), "over the bound");
        assert!(backlog.admit(10), "up to the bound");
        assert_eq!(
            backlog.take(LISTENER_BACKLOG - 10),
            11,
            "the drop is told once"
        );
        assert_eq!(backlog.take(10), 0);
        assert!(backlog.admit(LISTENER_BACKLOG), "taken bytes make room");
    }

    #[test]
    fn ticks_fire_when_the_timeslice_changes() {
        let mut ticks = Ticks::default();
        let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);
        assert!(
            ticks.check(at(3598)).is_empty(),
            "the first check only notes"
        );
        assert!(ticks.check(at(3599)).is_empty());
        let names: Vec<String> = ticks
            .check(at(3600))
            .iter()
            .map(|e| format!("{} {}", e.name, e.payload))
            .collect();
        assert_eq!(
            names,
            [
                "TICK_5 when:3600",
                "TICK_60 when:3600",
                "TICK_3600 when:3600"
            ]
        );
        assert_eq!(ticks.until_next(at(3601)), Duration::from_millis(4005));
    }
}
