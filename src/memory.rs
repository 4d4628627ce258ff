//! Gives memory back to the system after an answer that needed a lot of it. A
//! `getAllProcessInfo` or a `/metrics` scrape of a big fleet builds megabytes that are freed
//! once sent, but glibc's allocator keeps freed memory for later, so vigild's RSS grew with
//! every big answer and stayed (94 → 490 MiB at 10,000 programs after 20 status calls and 10
//! scrapes, `benches/compare.py --only scale`); `malloc_trim` hands it back. This module
//! owns only that; it knows nothing of what the answers say.

use std::sync::{Mutex, PoisonError};

/// Answers at least this big trim the allocator once they are dropped (sent).
const TRIM_AFTER: usize = 1 << 20;

/// Whether a trim is running, and whether another big answer was freed since it began (so
/// it goes once more: its memory may have been freed after the heap was walked).
static TRIMMING: Mutex<(bool, bool)> = Mutex::new((false, false));

/// An answer's bytes that, once dropped, return the allocator's free memory to the system if
/// the answer was big.
pub struct Released(pub Vec<u8>);

impl AsRef<[u8]> for Released {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Released {
    fn drop(&mut self) {
        if self.0.len() >= TRIM_AFTER {
            // Freed first, so the trim can return these pages too.
            drop(std::mem::take(&mut self.0));
            trim_soon();
        }
    }
}

/// Asks for a trim off the runtime's workers (it walks the heap); one runs at a time.
fn trim_soon() {
    {
        let mut state = TRIMMING.lock().unwrap_or_else(PoisonError::into_inner);
        if state.0 {
            state.1 = true;
            return;
        }
        *state = (true, false);
    }
    let trim = || loop {
        trim_now();
        let mut state = TRIMMING.lock().unwrap_or_else(PoisonError::into_inner);
        if !std::mem::take(&mut state.1) {
            state.0 = false;
            return;
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn_blocking(trim);
        }
        Err(_) => trim(),
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_now() {
    // SAFETY: malloc_trim only returns free heap memory to the system; no pointer is passed.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_now() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_big_answer_trims_once_dropped_and_a_small_one_does_not() {
        let running = || TRIMMING.lock().expect("lock").0;
        drop(Released(vec![0; 16]));
        assert!(!running());
        drop(Released(vec![1; TRIM_AFTER]));
        // Outside a runtime the trim ran at once and is over.
        assert!(!running());
        assert_eq!(Released(b"abc".to_vec()).as_ref(), b"abc");
    }
}
