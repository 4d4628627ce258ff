//! The Prometheus text format (version 0.0.4) written straight into buffers, one per metric
//! family, so a scrape formats each series once and allocates per family, not per series.
//! It knows the format only (HELP, TYPE, samples, escaping); which series exist is
//! [`super`]'s business.
//!
//! Written by hand rather than with the `prometheus` crate's `TextEncoder`: that encoder
//! takes protobuf `MetricFamily` values, so each series cost a `Metric` and a `LabelPair`
//! with two owned strings per label; at 10,000 programs (330,000 series) a scrape took
//! 611 ms of vigild's CPU (`benches/compare.py --only scale`, see `docs/ARCHITECTURE.md`).

use std::fmt::Write;

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (resets when vigild restarts).
    Counter,
    /// Any value.
    Gauge,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// One family of an [`Exposition`], as returned by [`Exposition::family`].
#[derive(Debug, Clone, Copy)]
pub struct Family(usize);

struct Body {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    series: String,
}

/// One scrape's families, filled in any order and written out in the order they were made.
#[derive(Default)]
pub struct Exposition {
    families: Vec<Body>,
}

impl Exposition {
    /// A new family (its name and help are constants: nothing to escape but the help).
    pub fn family(&mut self, name: &'static str, help: &'static str, kind: Kind) -> Family {
        self.families.push(Body {
            name,
            help,
            kind,
            series: String::new(),
        });
        Family(self.families.len() - 1)
    }

    /// One series of `family`: its labels (values escaped here) and value.
    pub fn sample(&mut self, family: Family, labels: &[(&str, &str)], value: f64) {
        let Some(body) = self.families.get_mut(family.0) else {
            return;
        };
        let out = &mut body.series;
        out.push_str(body.name);
        let mut separator = '{';
        for (name, value) in labels {
            out.push(separator);
            out.push_str(name);
            out.push_str("=\"");
            escape_into(out, value, true);
            out.push('"');
            separator = ',';
        }
        if !labels.is_empty() {
            out.push('}');
        }
        out.push(' ');
        write_value(out, value);
        out.push('\n');
    }

    /// The whole text: every family with series, in order, then the HELP and TYPE lines of
    /// those without (so dashboards can tell a metric vigil has from one it lacks).
    pub fn finish(self) -> String {
        let size = self
            .families
            .iter()
            .map(|body| body.series.len() + body.help.len() + 2 * body.name.len() + 24)
            .sum();
        let mut text = String::with_capacity(size);
        let (present, empty): (Vec<&Body>, Vec<&Body>) = self
            .families
            .iter()
            .partition(|body| !body.series.is_empty());
        for body in present.into_iter().chain(empty) {
            text.push_str("# HELP ");
            text.push_str(body.name);
            text.push(' ');
            escape_into(&mut text, body.help, false);
            text.push_str("\n# TYPE ");
            text.push_str(body.name);
            text.push(' ');
            text.push_str(body.kind.name());
            text.push('\n');
            text.push_str(&body.series);
        }
        text
    }
}

/// A sample value as Prometheus reads it (`1`, `0.5`, `+Inf`, `NaN`).
fn write_value(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{value}");
    }
}

/// Escapes `\` and newlines (and `"` in label values), as the format asks.
fn escape_into(out: &mut String, text: &str, quotes: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quotes => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_with_series_come_first_and_labels_are_escaped() {
        let mut exposition = Exposition::default();
        let empty = exposition.family("a_empty", "Nothing yet.", Kind::Gauge);
        let up = exposition.family("b_up", "Up \\ or\ndown.", Kind::Gauge);
        let total = exposition.family("c_total", "Counted.", Kind::Counter);
        exposition.sample(up, &[("name", "x\"y\\z\nw"), ("g", "h")], 1.0);
        exposition.sample(total, &[], 0.5);
        exposition.sample(up, &[("name", "n")], f64::INFINITY);
        let _ = empty;
        assert_eq!(
            exposition.finish(),
            "# HELP b_up Up \\\\ or\\ndown.\n# TYPE b_up gauge\n\
             b_up{name=\"x\\\"y\\\\z\\nw\",g=\"h\"} 1\nb_up{name=\"n\"} +Inf\n\
             # HELP c_total Counted.\n# TYPE c_total counter\nc_total 0.5\n\
             # HELP a_empty Nothing yet.\n# TYPE a_empty gauge\n"
        );
    }
}
