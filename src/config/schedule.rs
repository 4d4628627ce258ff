//! vigil's `schedule=`, `restart_schedule=` and `schedule_timezone=`: cron expressions
//! (croner: 5 fields, or 6 with a leading seconds field, and the `@hourly`-style macros) and
//! the time zone they are read in, with when each is next due. Pure: no clock is read here,
//! the caller says "after when".

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Local, TimeZone, Utc};
use croner::parser::{CronParser, Seconds, Year};

use super::invalid::Invalid;

/// One cron expression, equal to another when written the same (so a reread sees no change
/// in an unchanged program).
#[derive(Debug, Clone)]
pub struct CronExpression {
    text: String,
    cron: croner::Cron,
}

impl PartialEq for CronExpression {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl std::fmt::Display for CronExpression {
    /// As written in the config.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The time zone a program's cron expressions are read in (`schedule_timezone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zone {
    /// vigild's local time (`TZ`, else `/etc/localtime`), the default.
    #[default]
    Local,
    /// A named IANA zone (`Europe/Paris`, `UTC`).
    Named(chrono_tz::Tz),
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Zone::Local => f.write_str("local"),
            Zone::Named(tz) => f.write_str(tz.name()),
        }
    }
}

/// A program's schedules; both absent for a program without any.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schedules {
    /// `schedule=`: start the program at these times unless it is running.
    pub start: Option<CronExpression>,
    /// `restart_schedule=`: restart the running program at these times.
    pub restart: Option<CronExpression>,
    /// `schedule_timezone=`.
    pub zone: Zone,
}

impl Schedules {
    /// Whether the program has a schedule of either kind.
    pub fn any(&self) -> bool {
        self.start.is_some() || self.restart.is_some()
    }
}

impl CronExpression {
    /// The first time strictly after `after` the expression matches in `zone`; None when it
    /// never matches again (a date that does not exist, such as `0 0 30 2 *`).
    pub fn next_after(&self, after: SystemTime, zone: Zone) -> Option<SystemTime> {
        let utc: DateTime<Utc> = after.into();
        match zone {
            Zone::Local => self.next_in(&utc.with_timezone(&Local)),
            Zone::Named(tz) => self.next_in(&utc.with_timezone(&tz)),
        }
    }

    fn next_in<Tz: TimeZone>(&self, after: &DateTime<Tz>) -> Option<SystemTime> {
        let next = self.cron.find_next_occurrence(after, false).ok()?;
        let seconds = u64::try_from(next.timestamp()).ok()?;
        let nanos = next.timestamp_subsec_nanos();
        SystemTime::UNIX_EPOCH.checked_add(Duration::new(seconds, nanos))
    }
}

/// A cron expression: 5 fields (minute hour day month weekday), 6 with a leading seconds
/// field, or a macro (`@yearly`, `@monthly`, `@weekly`, `@daily`, `@hourly`).
pub fn cron_expression(text: &str) -> Result<CronExpression, Invalid> {
    let text = text.trim();
    let fields = text.split_whitespace().count();
    if !text.starts_with('@') && !(5..=6).contains(&fields) {
        return Err(Invalid::NotCron(format!(
            "{fields} fields (expected 5, or 6 with seconds first)"
        )));
    }
    let parser = CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build();
    let cron = parser
        .parse(text)
        .map_err(|err| Invalid::NotCron(err.to_string()))?;
    Ok(CronExpression {
        text: text.to_string(),
        cron,
    })
}

/// `schedule_timezone`: `local` or an IANA zone name.
pub fn zone(text: &str) -> Result<Zone, Invalid> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("local") {
        return Ok(Zone::Local);
    }
    text.parse::<chrono_tz::Tz>()
        .map(Zone::Named)
        .map_err(|_| Invalid::NotTimeZone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn five_and_six_fields_and_macros_parse() {
        // 2026-12-03 16:00:00 UTC.
        let base = 1_796_313_600;
        let utc = Zone::Named(chrono_tz::UTC);
        let every_five = cron_expression("*/5 * * * *").expect("parses");
        assert_eq!(every_five.next_after(at(base), utc), Some(at(base + 300)));
        let every_two_seconds = cron_expression("*/2 * * * * *").expect("parses");
        assert_eq!(
            every_two_seconds.next_after(at(base + 1), utc),
            Some(at(base + 2))
        );
        let hourly = cron_expression("@hourly").expect("parses");
        assert_eq!(hourly.next_after(at(base), utc), Some(at(base + 3600)));
        assert_eq!(every_five.to_string(), "*/5 * * * *");
    }

    #[test]
    fn a_named_zone_shifts_the_wall_clock() {
        // Daily at 09:00 in Paris is 08:00 UTC in winter.
        let base = 1_796_313_600; // 2026-12-03 16:00 UTC
        let paris = zone("Europe/Paris").expect("zone");
        let nine = cron_expression("0 9 * * *").expect("parses");
        let next = nine.next_after(at(base), paris).expect("next");
        assert_eq!(next, at(base + 16 * 3600));
    }

    #[test]
    fn bad_expressions_and_zones_say_what_is_wrong() {
        for bad in [
            "* * *",
            "61 * * * *",
            "* * * * * * *",
            "@fortnightly",
            "nope",
        ] {
            assert!(
                matches!(cron_expression(bad), Err(Invalid::NotCron(_))),
                "{bad}"
            );
        }
        assert_eq!(zone("Mars/Olympus"), Err(Invalid::NotTimeZone));
        assert_eq!(zone(""), Ok(Zone::Local));
        assert_eq!(zone("UTC"), Ok(Zone::Named(chrono_tz::UTC)));
    }
}
