//! vigil's remembered state (`[supervisord] statefile=`): the processes stopped by hand, so
//! they stay stopped across a vigild restart or a reboot until started by hand
//! (Supervisor/supervisor#877), and the groups scaled at runtime (`vigil.scaleGroup`), so
//! they keep their size while the file's `numprocs` is unchanged.
//!
//! The actor owns the state; a writer task saves the latest version of it, atomically
//! (temporary file, then rename), so the actor never waits for the disk and a crash
//! mid-write leaves the old file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::config::Scaled;

/// What the file holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Saved {
    /// Namespecs (`group:name`, or `name`) stopped by hand.
    stopped_by_hand: BTreeSet<String>,
    /// Groups run with another `numprocs` than their file's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    scales: Vec<Scaled>,
}

/// The remembered state and where it is saved.
pub struct StateFile {
    saved: Saved,
    saver: Option<watch::Sender<Saved>>,
}

impl StateFile {
    /// The state saved at `path` (empty when the file is missing or unreadable, which is
    /// logged); with `None`, nothing is remembered.
    pub fn open(path: Option<&Path>) -> Self {
        let Some(path) = path else {
            return StateFile {
                saved: Saved::default(),
                saver: None,
            };
        };
        let saved = load(path);
        let (saver, latest) = watch::channel(saved.clone());
        tokio::spawn(save_changes(path.to_path_buf(), latest));
        StateFile {
            saved,
            saver: Some(saver),
        }
    }

    /// Whether `namespec` was stopped by hand (and not started by hand since).
    pub fn stopped_by_hand(&self, namespec: &str) -> bool {
        self.saved.stopped_by_hand.contains(namespec)
    }

    /// Records a stop (`true`) or start (`false`) by hand of `namespec` (nothing without a
    /// statefile: then nothing is remembered, as in supervisord).
    pub fn set(&mut self, namespec: &str, stopped: bool) {
        if self.saver.is_none() {
            return;
        }
        let changed = if stopped {
            self.saved.stopped_by_hand.insert(namespec.to_string())
        } else {
            self.saved.stopped_by_hand.remove(namespec)
        };
        if changed {
            self.save();
        }
    }

    /// The scaled groups remembered.
    pub fn scales(&self) -> &[Scaled] {
        &self.saved.scales
    }

    /// Records the scaled groups (nothing without a statefile).
    pub fn set_scales(&mut self, scales: &[Scaled]) {
        if self.saver.is_some() && self.saved.scales != scales {
            self.saved.scales = scales.to_vec();
            self.save();
        }
    }

    fn save(&self) {
        if let Some(saver) = &self.saver {
            saver.send_replace(self.saved.clone());
        }
    }
}

/// The scaled groups the statefile at `path` remembers, for vigild's first config load.
pub fn saved_scales(path: &Path) -> Vec<Scaled> {
    load(path).scales
}

fn load(path: &Path) -> Saved {
    match std::fs::read_to_string(path) {
        Ok(text) => match serde_json::from_str::<Saved>(&text) {
            Ok(saved) => saved,
            Err(err) => {
                tracing::warn!(
                    "ignoring the statefile {}: not vigil's format ({err})",
                    path.display()
                );
                Saved::default()
            }
        },
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Saved::default(),
        Err(err) => {
            tracing::warn!("could not read the statefile {}: {err}", path.display());
            Saved::default()
        }
    }
}

/// Saves each new version of the state; versions that come while a save runs collapse into
/// the latest.
async fn save_changes(path: PathBuf, mut latest: watch::Receiver<Saved>) {
    while latest.changed().await.is_ok() {
        let saved = latest.borrow_and_update().clone();
        let target = path.clone();
        let written = tokio::task::spawn_blocking(move || write_atomically(&target, &saved)).await;
        if let Ok(Err(err)) = written {
            tracing::error!("could not save the statefile {}: {err}", path.display());
        }
    }
}

fn write_atomically(path: &Path, saved: &Saved) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(saved).map_err(std::io::Error::other)?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = std::fs::File::create(&temporary)?;
    std::io::Write::write_all(&mut file, (text + "\n").as_bytes())?;
    // On disk before it replaces the old file: the state must survive a power loss too.
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_by_hand_is_saved_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vigil.state");
        let mut state = StateFile::open(Some(&path));
        state.set("web", true);
        state.set("workers:worker_0", true);
        state.set("web", false);
        let mut saved = BTreeSet::new();
        for _ in 0..200 {
            saved = load(&path).stopped_by_hand;
            if saved.len() == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(saved, BTreeSet::from(["workers:worker_0".to_string()]));
        let again = StateFile::open(Some(&path));
        assert!(again.stopped_by_hand("workers:worker_0") && !again.stopped_by_hand("web"));
    }
}
