//! The C allocator's settings for vigild. A `getAllProcessInfo` or `/metrics` answer at
//! 10,000 programs is a buffer of 10-25 MB, built and freed in one call. glibc serves such
//! a buffer with `mmap`, but after freeing it raises its mmap threshold to that size, so the
//! next big answers come from the heap and stay there once freed: RSS grew by a third over
//! 20 status calls and 10 scrapes (`benches/compare.py --only scale`). A fixed threshold
//! keeps big buffers in `mmap`, returned to the system when freed.
//!
//! It only sets allocator parameters, before any thread starts; it owns nothing else.

/// Allocations from this size up always get their own mapping. A 500-program
/// `getAllProcessInfo` (about 0.5 MB) stays below it and reuses heap memory call after call
/// (measured: median 0.63 ms, against 1.09 ms at a 256 KiB threshold); at 4 MiB, answers for
/// 1,000-6,500 programs stayed in the heap and RSS grew 1.2-1.45x over the calls.
const MMAP_THRESHOLD: i32 = 1024 * 1024;

/// Free memory at the top of the heap is given back beyond this (fixed along with the mmap
/// threshold; glibc's 128 KiB default would give back and fault in again the buffer of
/// every answer below the mmap threshold).
const TRIM_THRESHOLD: i32 = 4 * 1024 * 1024;

/// Fixes glibc's mmap and trim thresholds so memory from big answers is returned once they
/// are sent. Other C libraries keep their own behaviour.
pub fn return_big_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}
