//! vigil's `schedule=`, `restart_schedule=` and `schedule_timezone=`: cron expressions
//! (croner: 5 fields, or 6 with a leading seconds field, and the `@hourly`-style macros) and
//! the time zone they are read in, with when each is next due. vigild's local zone is named
//! once at load ([`local_zone`]: `TZ`, else `/etc/localtime`), so working out a next time
//! reads no file and no clock: the caller says "after when".

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// vigild's local time (the default), as named at load.
    Local(chrono_tz::Tz),
    /// A named IANA zone (`Europe/Paris`, `UTC`).
    Named(chrono_tz::Tz),
}

impl Default for Zone {
    fn default() -> Self {
        Zone::Local(chrono_tz::UTC)
    }
}

impl Zone {
    fn tz(self) -> chrono_tz::Tz {
        match self {
            Zone::Local(tz) | Zone::Named(tz) => tz,
        }
    }
}

impl std::fmt::Display for Zone {
    /// `local (Europe/Paris)`, `UTC`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Zone::Local(tz) => write!(f, "local ({})", tz.name()),
            Zone::Named(tz) => f.write_str(tz.name()),
        }
    }
}

/// vigild's local time zone by its IANA name: `TZ` (`Europe/Paris`, `:Europe/Paris`, or a
/// path into a zoneinfo directory), else the zone `/etc/localtime` links to; `Err` says
/// why it cannot be named (a POSIX `TZ` rule, a copied `/etc/localtime`): UTC is used then.
pub fn local_zone(tz: Option<&str>) -> Result<chrono_tz::Tz, String> {
    fn named(text: &str) -> Option<chrono_tz::Tz> {
        let text = text.trim_start_matches(':');
        let name = text.rsplit_once("zoneinfo/").map_or(text, |(_, name)| name);
        name.parse().ok()
    }
    if let Some(tz) = tz.filter(|tz| !tz.is_empty()) {
        return named(tz).ok_or_else(|| format!("TZ={tz} is not an IANA zone name"));
    }
    let link = std::fs::read_link("/etc/localtime")
        .map_err(|err| format!("/etc/localtime is not a link to a zone ({err})"))?;
    let link = link.to_string_lossy();
    named(&link).ok_or_else(|| format!("/etc/localtime links to {link}, not a known zone"))
}

/// Which of a program's schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `schedule=`: start the program unless it is still running.
    Start,
    /// `restart_schedule=`: restart the running program.
    Restart,
}

impl Kind {
    /// Both, start first.
    pub const ALL: [Kind; 2] = [Kind::Start, Kind::Restart];

    /// The option's name.
    pub fn option(self) -> &'static str {
        match self {
            Kind::Start => "schedule",
            Kind::Restart => "restart_schedule",
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

    /// The expression of `kind`, if the program has one.
    pub fn get(&self, kind: Kind) -> Option<&CronExpression> {
        match kind {
            Kind::Start => self.start.as_ref(),
            Kind::Restart => self.restart.as_ref(),
        }
    }
}

impl CronExpression {
    /// The first time strictly after `after` the expression matches in `zone`; None when it
    /// never matches again.
    pub fn next_after(&self, after: SystemTime, zone: Zone) -> Option<SystemTime> {
        let utc: DateTime<Utc> = after.into();
        let next = self
            .cron
            .find_next_occurrence(&utc.with_timezone(&zone.tz()), false)
            .ok()?;
        let seconds = u64::try_from(next.timestamp()).ok()?;
        let nanos = next.timestamp_subsec_nanos();
        SystemTime::UNIX_EPOCH.checked_add(Duration::new(seconds, nanos))
    }
}

/// A cron expression: 5 fields (minute hour day month weekday), 6 with a leading seconds
/// field, or a macro (`@yearly`, `@monthly`, `@weekly`, `@daily`, `@hourly`); one that never
/// comes (`0 0 30 2 *`) is refused.
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
    let expression = CronExpression {
        text: text.to_string(),
        cron,
    };
    if expression
        .next_after(SystemTime::now(), Zone::Named(chrono_tz::UTC))
        .is_none()
    {
        return Err(Invalid::NotCron("it never comes".to_string()));
    }
    Ok(expression)
}

/// `schedule_timezone`: `local` (vigild's, as named at load) or an IANA zone name.
pub fn zone(text: &str, local: chrono_tz::Tz) -> Result<Zone, Invalid> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("local") {
        return Ok(Zone::Local(local));
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
        let paris = zone("Europe/Paris", chrono_tz::UTC).expect("zone");
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
            "0 0 30 2 *",
        ] {
            assert!(
                matches!(cron_expression(bad), Err(Invalid::NotCron(_))),
                "{bad}"
            );
        }
        let paris: chrono_tz::Tz = "Europe/Paris".parse().expect("tz");
        assert_eq!(zone("Mars/Olympus", paris), Err(Invalid::NotTimeZone));
        assert_eq!(zone("", paris), Ok(Zone::Local(paris)));
        let local = zone("local", paris).map(|z| z.to_string());
        assert_eq!(local, Ok("local (Europe/Paris)".to_string()));
        assert_eq!(zone("UTC", paris), Ok(Zone::Named(chrono_tz::UTC)));
    }

    #[test]
    fn the_local_zone_is_named_from_tz_or_refused_with_the_reason() {
        let paris: chrono_tz::Tz = "Europe/Paris".parse().expect("tz");
        assert_eq!(local_zone(Some("Europe/Paris")), Ok(paris));
        assert_eq!(local_zone(Some(":Europe/Paris")), Ok(paris));
        let path = local_zone(Some("/usr/share/zoneinfo/Europe/Paris"));
        assert_eq!(path, Ok(paris));
        let posix = local_zone(Some("CET-1CEST"));
        assert_eq!(
            posix,
            Err("TZ=CET-1CEST is not an IANA zone name".to_string())
        );
    }
}
