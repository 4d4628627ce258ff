//! Local-time formatting for log lines and reports, via the C library's `localtime_r` (which
//! honours `TZ` like Python's `time.localtime`), and the short sizes status outputs show.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::RotateEvery;

/// Broken-down local time of `when`.
fn local(when: SystemTime) -> (libc::tm, u32) {
    let since = when.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = libc::time_t::try_from(since.as_secs()).unwrap_or(libc::time_t::MAX);
    // SAFETY: `tm` is plain old data, fully written by localtime_r before use; both pointers
    // are valid for the duration of the call.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&raw const secs, &raw mut tm);
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

/// Local time to the second: `2026-11-24 16:05:09` (a schedule's next time).
pub fn clock_seconds(when: SystemTime) -> String {
    let mut text = log_timestamp(when);
    text.truncate(19);
    text
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

/// The first local midnight (`Daily`) or top of the hour (`Hourly`) after `when`, as the
/// C library's `mktime` finds it (so a day with a DST change has 23 or 25 hours).
pub fn next_boundary(when: SystemTime, every: RotateEvery) -> SystemTime {
    let (mut tm, _) = local(when);
    tm.tm_sec = 0;
    tm.tm_min = 0;
    match every {
        RotateEvery::Daily => {
            tm.tm_hour = 0;
            tm.tm_mday += 1;
        }
        RotateEvery::Hourly => tm.tm_hour += 1,
    }
    tm.tm_isdst = -1;
    // SAFETY: `tm` is a valid, initialised broken-down time; mktime normalises it in place.
    let secs = unsafe { libc::mktime(&raw mut tm) };
    let at = u64::try_from(secs).map_or(when, |secs| {
        UNIX_EPOCH + std::time::Duration::from_secs(secs)
    });
    if at > when {
        at
    } else {
        // A clock set back across the hour (DST's end): the next hour of real time.
        when + std::time::Duration::from_secs(3600)
    }
}

/// glibc syslog(3)'s time, `%h %e %T` in local time: `Dec  3 14:27:44`.
pub fn syslog_timestamp(when: SystemTime) -> String {
    let (tm, _) = local(when);
    format!(
        "{} {:>2} {:02}:{:02}:{:02}",
        month_name(tm.tm_mon),
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// `Jan` … `Dec` for a `tm_mon`.
fn month_name(month: libc::c_int) -> &'static str {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    usize::try_from(month)
        .ok()
        .and_then(|m| MONTHS.get(m))
        .copied()
        .unwrap_or("Jan")
}

/// supervisord's stop time in status lines: local `%b %d %I:%M %p`, e.g. `Nov 24 04:05 PM`.
pub fn month_day_clock(when: SystemTime) -> String {
    let (tm, _) = local(when);
    let month = month_name(tm.tm_mon);
    let hour12 = match tm.tm_hour % 12 {
        0 => 12,
        h => h,
    };
    let meridiem = if tm.tm_hour < 12 { "AM" } else { "PM" };
    format!(
        "{month} {:02} {hour12:02}:{:02} {meridiem}",
        tm.tm_mday, tm.tm_min
    )
}

/// Python's `str(timedelta)` for whole seconds: `0:00:18`, `1 day, 0:00:01`, `5 days, 7:18:14`.
pub fn uptime(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    let clock = format!("{}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
    match days {
        0 => clock,
        1 => format!("1 day, {clock}"),
        n => format!("{n} days, {clock}"),
    }
}

/// Seconds since the epoch (None before it), as Prometheus and JSON clients want times.
pub fn epoch_seconds(when: SystemTime) -> Option<f64> {
    when.duration_since(UNIX_EPOCH)
        .ok()
        .map(|elapsed| elapsed.as_secs_f64())
}

/// `512B`, `10.5K`, `3.2M`, `1.0G`.
pub fn bytes(bytes: i64) -> String {
    let mut value = bytes as f64;
    for unit in ["B", "K", "M", "G"] {
        if value < 1024.0 || unit == "G" {
            return if unit == "B" {
                format!("{bytes}B")
            } else {
                format!("{value:.1}{unit}")
            };
        }
        value /= 1024.0;
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn boundaries_are_the_next_local_midnight_and_hour() {
        let now = SystemTime::now();
        for (every, longest) in [(RotateEvery::Hourly, 3600), (RotateEvery::Daily, 25 * 3600)] {
            let at = next_boundary(now, every);
            let ahead = at.duration_since(now).expect("ahead").as_secs();
            assert!(ahead <= longest, "{every:?}: {ahead}s ahead");
            let (tm, _) = local(at);
            assert_eq!((tm.tm_min, tm.tm_sec), (0, 0), "{every:?}");
            if every == RotateEvery::Daily {
                assert_eq!(tm.tm_hour, 0);
            }
            // From the boundary itself, the next one is a whole period on.
            let next = next_boundary(at, every);
            assert!(next > at);
        }
    }

    #[test]
    fn timestamps_have_supervisords_shape() {
        let stamp = log_timestamp(UNIX_EPOCH + Duration::from_millis(1_700_000_000_042));
        assert_eq!(stamp.len(), "2023-11-14 22:13:20,042".len());
        assert!(stamp.ends_with(",042"), "{stamp}");
        let rfc = rfc3339(UNIX_EPOCH + Duration::from_millis(1_700_000_000_042));
        assert_eq!(rfc.len(), "2023-11-14T22:13:20.042+00:00".len(), "{rfc}");
        assert_eq!(&rfc[19..23], ".042", "{rfc}");
    }

    #[test]
    fn uptimes_read_like_python_timedeltas() {
        assert_eq!(uptime(18), "0:00:18");
        assert_eq!(uptime(86_401), "1 day, 0:00:01");
        assert_eq!(
            uptime(5 * 86_400 + 7 * 3600 + 18 * 60 + 14),
            "5 days, 7:18:14"
        );
    }

    #[test]
    fn stop_times_have_supervisords_shape() {
        let text = month_day_clock(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        assert_eq!(text.len(), "Nov 14 10:13 PM".len(), "{text}");
        assert!(text.ends_with("AM") || text.ends_with("PM"), "{text}");
    }
}
