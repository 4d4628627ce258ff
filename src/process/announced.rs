//! What a `ready=notify` program has said about itself since its start, over sd_notify
//! (`STATUS=`, `RELOADING=1`, `STOPPING=1`): shown in its description. The state machine
//! keeps it (a start clears it); `READY=1` itself is an input of the machine.

use crate::notify::Notice;

/// What the program announced.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Announced {
    /// Its last `STATUS=`.
    pub status: Option<String>,
    /// `RELOADING=1` until the next `READY=1`, or `STOPPING=1`.
    pub phase: Option<Phase>,
    /// Reloads it finished (`RELOADING=1`, then `READY=1`): what a `vigil.reloadProcess`
    /// with `wait` waits for.
    pub reloads_done: u64,
}

/// A phase a program says it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Phase {
    /// Reloading its configuration (`RELOADING=1`), until `READY=1`.
    Reloading,
    /// Shutting down on its own (`STOPPING=1`).
    Stopping,
}

impl Announced {
    /// Takes in one notice.
    pub fn take(&mut self, notice: &Notice) {
        if let Some(status) = &notice.status {
            self.status = Some(status.clone());
        }
        if notice.ready && self.phase == Some(Phase::Reloading) {
            self.phase = None;
            self.reloads_done += 1;
        }
        if notice.reloading {
            self.phase = Some(Phase::Reloading);
        }
        if notice.stopping {
            self.phase = Some(Phase::Stopping);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_stays_until_replaced_and_ready_ends_a_reload() {
        let mut announced = Announced::default();
        let notice = |text: &str| crate::notify::parse(text.as_bytes()).expect("parses");
        announced.take(&notice("STATUS=warming up"));
        announced.take(&notice("RELOADING=1"));
        assert_eq!(announced.status.as_deref(), Some("warming up"));
        assert_eq!(announced.phase, Some(Phase::Reloading));
        announced.take(&notice("READY=1\nSTATUS=serving"));
        assert_eq!(announced.phase, None);
        assert_eq!(announced.reloads_done, 1);
        assert_eq!(announced.status.as_deref(), Some("serving"));
        announced.take(&notice("STOPPING=1"));
        assert_eq!(announced.phase, Some(Phase::Stopping));
    }
}
