//! The last hour of each process's CPU % and resident memory (of its tree), for the charts on
//! its web page. One point per process every [`POINT_EVERY`] at most: about 130 points of
//! 24 bytes, some 6 KB per process with the deque's slack (60 MB for 10,000).

use std::collections::{HashMap, VecDeque};

/// The time between two points of a process.
pub const POINT_EVERY: u64 = 30;
/// How far back the history goes.
pub const SPAN: u64 = 3600;
/// A process's first points come at every pass, so a chart shows from the start.
const DENSE_START: usize = 10;

/// One measurement kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Seconds since the epoch.
    pub at: u64,
    /// CPU % of the process tree over the last interval.
    pub cpu_percent: f32,
    /// Resident bytes of the process tree.
    pub resident_bytes: u64,
}

/// Every process's recent points; written by the sampler after each pass, read by the page.
#[derive(Debug, Default)]
pub struct History {
    /// By group, then process name: looked up by `&str`, so recording a pass clones no name.
    points: HashMap<String, HashMap<String, VecDeque<Point>>>,
}

impl History {
    /// Adds `point` for `key`: a new point once [`POINT_EVERY`] has passed since the last
    /// one (or while there are only a few), else the last one is brought up to date; points
    /// older than [`SPAN`] go.
    pub fn record(&mut self, (group, name): (&str, &str), point: Point) {
        let names = match self.points.get_mut(group) {
            Some(names) => names,
            None => self.points.entry(group.to_string()).or_default(),
        };
        let points = match names.get_mut(name) {
            Some(points) => points,
            None => names.entry(name.to_string()).or_default(),
        };
        let dense = points.len() < DENSE_START;
        match points.back_mut() {
            Some(last) if !dense && point.at < last.at + POINT_EVERY => {
                *last = Point {
                    at: last.at,
                    ..point
                }
            }
            _ => points.push_back(point),
        }
        while points
            .front()
            .is_some_and(|first| first.at + SPAN < point.at)
        {
            points.pop_front();
        }
    }

    /// Forgets the processes for which `keep` is false (removed from the config).
    pub fn retain(&mut self, keep: impl Fn(&str, &str) -> bool) {
        for (group, names) in &mut self.points {
            names.retain(|name, _| keep(group, name));
        }
        self.points.retain(|_, names| !names.is_empty());
    }

    /// `key`'s points, oldest first.
    pub fn of(&self, (group, name): (&str, &str)) -> Vec<Point> {
        self.points
            .get(group)
            .and_then(|names| names.get(name))
            .map(|points| points.iter().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_point_per_period_for_an_hour() {
        let key = ("g", "p");
        let mut history = History::default();
        for second in (0..=4000).step_by(5) {
            history.record(
                key,
                Point {
                    at: second,
                    cpu_percent: 1.0,
                    resident_bytes: second,
                },
            );
        }
        let points = history.of(key);
        assert!(
            points.len() <= (SPAN / POINT_EVERY) as usize + 1,
            "{}",
            points.len()
        );
        assert!(points.first().is_some_and(|p| p.at + SPAN >= 4000));
        assert_eq!(
            points.last().map(|p| p.resident_bytes),
            Some(4000),
            "kept up to date"
        );
        history.retain(|_, _| false);
        assert!(history.of(key).is_empty());
    }
}
