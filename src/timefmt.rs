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

/// RFC 3339 local time with milliseconds and UTC offset: `2026-11-24T16:05:09.123+01:00`.
pub fn rfc3339(when: SystemTime) -> String {
    let (tm, millis) = local(when);
    let offset_minutes = tm.tm_gmtoff / 60;
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let offset_minutes = offset_minutes.abs();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{millis:03}{sign}{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        offset_minutes / 60,
        offset_minutes % 60
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
        let rfc = rfc3339(UNIX_EPOCH + Duration::from_millis(1_700_000_000_042));
        assert_eq!(rfc.len(), "2023-11-14T22:13:20.042+00:00".len(), "{rfc}");
        assert_eq!(&rfc[19..23], ".042", "{rfc}");
    }
}
