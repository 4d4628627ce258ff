//! vigil's `essential` programs: when one ends for good with nobody having asked (FATAL, or
//! EXITED with no restart coming), vigild says why in the main log, stops everything in
//! the usual order and exits with that process's status. It decides only that; the stop
//! itself is the ordinary shutdown (`shutdown.rs`), and a stop by hand never gets here
//! (it ends in STOPPED).

use super::*;
use crate::supervisor::Ending;

impl Supervisor {
    /// After `key`'s step: ends vigild if the step left an essential process in a final
    /// state nobody asked for ([`Step::unasked_end`]). `exited` is the exit the step
    /// handled, if it handled one.
    pub(super) fn essential_check(
        &mut self,
        key: &ProcKey,
        unasked_end: Option<StateKind>,
        exited: Option<ExitOutcome>,
    ) {
        let Some(end) = unasked_end else {
            return;
        };
        if !matches!(self.mood, Mood::Running) || self.ending != Ending::Asked {
            return;
        }
        let Some(entry) = self.table.entries.get(key).filter(|e| e.config.essential) else {
            return;
        };
        let (status, what) = match (end, exited) {
            (StateKind::Fatal, _) => (1, "entered FATAL state".to_string()),
            (_, Some(outcome)) => (
                outcome.shell_status(),
                format!("exited ({})", outcome.describe()),
            ),
            (_, None) => (1, "exited".to_string()),
        };
        tracing::warn!(
            "essential program {} {what}: stopping everything, vigild exits with status {status}",
            entry.config.name
        );
        self.ending = Ending::Essential { status };
        self.begin_stop(Mood::ShuttingDown);
    }
}
