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
}
