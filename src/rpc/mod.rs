//! supervisord's XML-RPC API: the wire format ([`codec`]), the fault codes and the mapping
//! of typed errors onto them ([`faults`]), the method table ([`table`]), argument decoding
//! ([`args`]), finding the processes a call names ([`lookup`]), wire rendering
//! ([`render`]), the `wait=true` orchestration ([`wait`]) and the methods themselves
//! ([`methods`]), which map `supervisor.*`, `system.*` and `vigil.*` calls onto the
//! supervisor. No transport here: the http module carries the bytes. How a process is
//! described to a person is shared with the web page, in [`crate::present`].

pub mod args;
pub mod codec;
pub mod faults;
pub mod lookup;
pub mod methods;
pub mod render;
pub mod table;
pub mod wait;

use std::sync::Arc;

use crate::config::{Config, ConfigErrors};
use crate::logs::stream::LogStream;
use crate::supervisor::Handle;

/// supervisord's API version (`getAPIVersion`).
pub const API_VERSION: &str = "3.0";
/// The supervisord version whose API vigil serves (`getSupervisorVersion`).
pub const SUPERVISOR_VERSION: &str = "4.3.0";

/// Re-reads the config as a start would, with these groups scaled; the error holds every
/// problem found.
pub type Reread =
    Arc<dyn Fn(&crate::config::Scaling) -> Result<Config, ConfigErrors> + Send + Sync>;

/// What the methods work on.
#[derive(Clone)]
pub struct Api {
    /// Loads the config file again (`reloadConfig`).
    pub reread: Reread,
    /// The supervisor.
    pub handle: Handle,
    /// `[supervisord] identifier`.
    pub identification: String,
    /// The main log (`readLog`, `clearLog`).
    pub main_log: Arc<LogStream>,
    /// The sampler's latest figures (`vigil.getProcessStats`, `/metrics`).
    pub samples: crate::sampler::Reader,
    /// Where `sendRemoteCommEvent` publishes (and `/metrics` reads the pool queues).
    pub events: crate::events::Publisher,
    /// What `vigil.reexec` runs the new binary with.
    pub relaunch: Arc<crate::handover::Relaunch>,
    /// The calls made of several steps that are under way (a rolling restart, a group's
    /// update, a scale), which a reexec must not cut in two.
    pub sequences: Arc<Sequences>,
}

/// The multi-step calls under way, by what they are (`rolling restart of web`).
#[derive(Debug, Default)]
pub struct Sequences(std::sync::Mutex<Vec<String>>);

impl Sequences {
    /// `what` is under way until the guard is dropped.
    pub fn begin(self: &Arc<Self>, what: String) -> Sequence {
        self.lock().push(what.clone());
        Sequence(Arc::clone(self), what)
    }

    /// The first call under way, if any.
    pub fn first(&self) -> Option<String> {
        self.lock().first().cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One multi-step call under way, for as long as it lives.
pub struct Sequence(Arc<Sequences>, String);

impl Drop for Sequence {
    fn drop(&mut self) {
        let mut under_way = self.0.lock();
        if let Some(at) = under_way.iter().position(|what| *what == self.1) {
            under_way.remove(at);
        }
    }
}
