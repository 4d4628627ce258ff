//! What the fuzz targets in `fuzz/` run, one function per input vigil takes from outside:
//! a config file, an XML-RPC body, an event listener's stdout, an HTTP Authorization header
//! and request path. Each must return (not panic, not hang) whatever the bytes. The unit test below
//! replays the committed seed corpora and mutations of them, so every test run fuzzes a
//! little.

use std::path::PathBuf;

use crate::auth::Accounts;
use crate::config::{Credentials, Overrides};
use crate::events::{pool::Pool, Event};
use crate::process::state::StateKind;

/// Loads `data` as a `supervisord.conf` (written to a scratch file, as vigild reads files).
pub fn config(data: &[u8]) {
    let dir = scratch_dir();
    let path = dir.join("supervisord.conf");
    if std::fs::write(&path, data).is_ok() {
        let _ = crate::config::load(&path, &Overrides::default(), &dir, &[]);
    }
}

/// Decodes `data` as an XML-RPC call.
pub fn xmlrpc(data: &[u8]) {
    let _ = crate::rpc::codec::parse_call(data);
}

/// Feeds `data` as a listener's stdout to a pool with events waiting, in pieces.
pub fn listener_protocol(data: &[u8]) {
    let mut pool = Pool::new(
        "fuzz",
        vec!["EVENT".into()],
        3,
        crate::config::ResultHandler::Default,
    );
    let mut actions = Vec::new();
    pool.listener_started("listener", 1, &mut actions);
    pool.process_state("listener", StateKind::Running, &mut actions);
    for serial in 0..4 {
        pool.accept(
            std::sync::Arc::new(Event::remote_communication("fuzz", "data")),
            serial,
            &mut actions,
        );
    }
    for piece in data.chunks(7) {
        pool.output("listener", 1, piece, &mut actions);
        pool.dispatch("supervisor", &mut actions);
    }
}

/// Checks `data` as an Authorization header against plain and `{SHA}` accounts, and as
/// a request path: the `/logtail/` target, and the page's escaping and URL encoding.
pub fn http_auth(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = crate::http::logtail::target(&text);
    let _ = crate::web::page::escape(&text);
    let _ = crate::web::page::url_segment(&text);
    let Ok(value) = axum::http::HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(axum::http::header::AUTHORIZATION, value);
    for password in ["secret", "{SHA}e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4"] {
        let accounts = Accounts {
            full: Some(Credentials {
                username: "user".into(),
                password: password.into(),
            }),
            readonly: Some(Credentials {
                username: "viewer".into(),
                password: password.into(),
            }),
            tokens: vec![(password.into(), crate::auth::Access::ReadOnly)],
        };
        let _ = crate::http::authorized(&headers, &accounts);
    }
}

/// A directory of this process's own for scratch files.
fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vigil-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A target's entry point.
    type Target = fn(&[u8]);

    /// The targets with their corpus directories.
    const TARGETS: &[(&str, Target)] = &[
        ("config", config),
        ("xmlrpc", xmlrpc),
        ("listener_protocol", listener_protocol),
        ("http_auth", http_auth),
    ];

    /// Cheap mutations of a seed: bytes flipped, cut, doubled (a small stand-in for
    /// libFuzzer's, so each test run tries a few hundred inputs per target).
    fn mutations(seed: &[u8], rounds: usize) -> Vec<Vec<u8>> {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ seed.len() as u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state as usize) % n.max(1)
        };
        (0..rounds)
            .map(|_| {
                let mut input = seed.to_vec();
                match next(4) {
                    0 if !input.is_empty() => {
                        let at = next(input.len());
                        input[at] = input[at].wrapping_add(1 + next(255) as u8);
                    }
                    1 => input.truncate(next(input.len() + 1)),
                    2 => {
                        let copy = input.clone();
                        input.extend(copy);
                    }
                    _ => input.insert(next(input.len() + 1), next(256) as u8),
                }
                input
            })
            .collect()
    }

    #[test]
    fn the_seed_corpora_and_their_mutations_pass_every_target() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        for (name, target) in TARGETS {
            let dir = root.join(name);
            let seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
                .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
                .filter_map(Result::ok)
                .filter_map(|entry| std::fs::read(entry.path()).ok())
                .collect();
            assert!(!seeds.is_empty(), "no seeds for {name}");
            for seed in &seeds {
                target(seed);
                for input in mutations(seed, 50) {
                    target(&input);
                }
            }
        }
    }
}
