//! `AUTO` log files: named as supervisord names them in `childlogdir`, and cleaned up.

use std::path::{Path, PathBuf};

/// A new, unused `<name>-<stream>---<identifier>-<8 random chars>.log` in `dir`.
pub fn new_path(dir: &Path, name: &str, stream: &str, identifier: &str) -> PathBuf {
    use std::hash::BuildHasher;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
    let base = ALPHABET.len() as u64;
    loop {
        // RandomState is seeded randomly per instance: a cheap source of random names.
        let mut seed = std::collections::hash_map::RandomState::new().hash_one((name, stream));
        let suffix: String = (0..8)
            .map(|_| {
                let index = usize::try_from(seed % base).unwrap_or(0);
                seed /= base;
                char::from(ALPHABET[index])
            })
            .collect();
        let path = dir.join(format!("{name}-{stream}---{identifier}-{suffix}.log"));
        if !path.exists() {
            return path;
        }
    }
}

/// Whether `file_name` is an AUTO log (or a rotated backup of one) of `identifier`, with
/// supervisord's pattern `.+?---<identifier>-\S+\.log\.{0,1}\d{0,4}`.
pub fn is_auto_log(file_name: &str, identifier: &str) -> bool {
    let marker = format!("---{identifier}-");
    let Some(at) = file_name.find(&marker).filter(|at| *at > 0) else {
        return false;
    };
    let rest = &file_name[at + marker.len()..];
    match rest.find(".log") {
        Some(end) if end > 0 => !rest[..end].contains(char::is_whitespace),
        _ => false,
    }
}

/// Deletes every AUTO log of `identifier` in `dir` (at startup, unless `nocleanup`).
pub fn clean(dir: &Path, identifier: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        if is_auto_log(&name.to_string_lossy(), identifier) {
            if let Err(err) = std::fs::remove_file(entry.path()) {
                tracing::warn!(
                    "could not remove old AUTO log {}: {err}",
                    entry.path().display()
                );
            }
        }
    }
}

/// Deletes `path` and its rotated backups (`path.1` …) (at shutdown, unless `nocleanup`).
pub fn remove_with_backups(path: &Path) {
    let _ = std::fs::remove_file(path);
    for n in 1.. {
        let backup = PathBuf::from(format!("{}.{n}", path.display()));
        if std::fs::remove_file(&backup).is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_supervisords_cleanup_pattern() {
        assert!(is_auto_log(
            "web-stdout---supervisor-ab12cd34.log",
            "supervisor"
        ));
        assert!(is_auto_log(
            "web-stderr---supervisor-ab12cd34.log.3",
            "supervisor"
        ));
        assert!(!is_auto_log(
            "web-stdout---other-ab12cd34.log",
            "supervisor"
        ));
        assert!(!is_auto_log("---supervisor-x.log", "supervisor"));
        assert!(!is_auto_log("web.log", "supervisor"));
    }

    #[test]
    fn new_paths_have_supervisords_shape() {
        let dir = tempfile::tempdir().expect("dir");
        let path = new_path(dir.path(), "web", "stdout", "supervisor");
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(
            name.starts_with("web-stdout---supervisor-") && name.ends_with(".log"),
            "{name}"
        );
        assert_eq!(name.len(), "web-stdout---supervisor-12345678.log".len());
        assert!(is_auto_log(name, "supervisor"));
    }
}
