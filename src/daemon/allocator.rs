//! The C allocator's settings for vigild. A `getAllProcessInfo` or `/metrics` answer at
//! 10,000 programs is a buffer of 10-25 MB, built and freed in one call. glibc serves such
//! a buffer with `mmap`, but after freeing it raises its mmap threshold to that size, so the
//! next big answers come from the heap and stay there once freed: RSS grew by a third over
//! 20 status calls and 10 scrapes (`benches/compare.py --only scale`). A fixed threshold
//! keeps big buffers in `mmap`, returned to the system when freed.
//!
//! It only sets allocator parameters, before any thread starts; it owns nothing else.

/// Allocations from this size up always get their own mapping (glibc's starting default,
/// which it would otherwise raise as big buffers are freed).
const MMAP_THRESHOLD: i32 = 256 * 1024;

/// Fixes glibc's mmap threshold (and with it the trim threshold) so memory from big answers
/// is returned once they are sent. Other C libraries keep their own behaviour.
pub fn return_big_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}
