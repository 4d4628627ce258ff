//! Local-time formatting for log lines and reports, via the C library's `localtime_r` (which
//! honours `TZ` like Python's `time.localtime`).

use std::time::{SystemTime, UNIX_EPOCH};

/// Broken-down local time of `when`.
fn local(when: SystemTime) -> (libc::tm, u32) {
    let since = when.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = libc::time_t::try_from(since.as_secs()).unwrap_or(libc::time_t::MAX);
    // SAFETY: `tm` is plain old data, fully written by localtime_r before use; both pointers
    // are valid for the duration of the call.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    };
    (tm, since.subsec_millis())
}

/// supervisord's main-log timestamp: `2026-11-24 16:05:09,123`.
pub fn log_timestamp(when: SystemTime) -> String {
    let (tm, millis) = local(when);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{millis:03}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_have_supervisords_shape() {
        let stamp = log_timestamp(UNIX_EPOCH + Duration::from_millis(1_700_000_000_042));
        assert_eq!(stamp.len(), "2023-11-14 22:13:20,042".len());
        assert!(stamp.ends_with(",042"), "{stamp}");
    }
}
