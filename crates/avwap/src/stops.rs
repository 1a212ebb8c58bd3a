//! Structural stops (spec §4): the initial stop, intraday higher lows confirmed on
//! `bar_minutes` bars, the daily swing-low fallback, and the ratchet — a stop only ever
//! moves up. Every level carries the instant it takes effect: no stop is submitted or moved
//! before `stop_submit_after` New York time.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use systrade_core::IntradayBar;
use systrade_indicators::{Indicator, PivotLow};

use crate::intraday::{bar_end, ny_instant};

/// Where a stop level came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopSource {
    /// The entry's initial stop (swing low or AVWAP − k·ATR).
    Initial,
    /// A confirmed intraday higher low.
    Intraday,
    /// The latest daily pivot low (sessions without intraday data).
    Daily,
}

impl StopSource {
    pub fn as_str(self) -> &'static str {
        match self {
            StopSource::Initial => "initial",
            StopSource::Intraday => "intraday",
            StopSource::Daily => "daily",
        }
    }

    pub fn parse(s: &str) -> Option<StopSource> {
        match s {
            "initial" => Some(StopSource::Initial),
            "intraday" => Some(StopSource::Intraday),
            "daily" => Some(StopSource::Daily),
            _ => None,
        }
    }
}

/// One level of a stop path, in force from `effective` on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StopPoint {
    pub effective: DateTime<Utc>,
    pub level: f64,
    pub source: StopSource,
}

/// A position's stop levels in time order; each is above the one before (the ratchet).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StopPath {
    points: Vec<StopPoint>,
}

impl StopPath {
    /// A path starting at the initial stop.
    pub fn new(initial: StopPoint) -> StopPath {
        StopPath {
            points: vec![initial],
        }
    }

    /// A path from recorded points (the exit simulator's input), in the order given.
    pub fn from_points(points: Vec<StopPoint>) -> StopPath {
        StopPath { points }
    }

    pub fn points(&self) -> &[StopPoint] {
        &self.points
    }

    /// The latest level (whether or not in force yet).
    pub fn current(&self) -> Option<StopPoint> {
        self.points.last().copied()
    }

    /// The level in force at `t`: the last point effective at or before it.
    pub fn in_force_at(&self, t: DateTime<Utc>) -> Option<StopPoint> {
        self.points.iter().rev().find(|p| p.effective <= t).copied()
    }

    /// Moves the stop to `p` when it is higher than the latest level (the ratchet); returns
    /// whether it moved. A lower or equal level is ignored: risk never loosens.
    pub fn raise(&mut self, p: StopPoint) -> bool {
        if self.points.last().is_some_and(|last| p.level <= last.level) {
            return false;
        }
        self.points.push(p);
        true
    }
}

/// The first instant a stop order may be submitted or moved on `day`.
pub fn submit_from(day: NaiveDate, after: NaiveTime) -> Option<DateTime<Utc>> {
    ny_instant(day, after)
}

/// Confirmed pivot lows of one session's bars: `(j, level)` where bar `j` confirms the
/// pivot at `j − k` (its low below the `k` bars on each side).
pub fn confirmed_lows(bars: &[IntradayBar], k: usize) -> Vec<(usize, f64)> {
    let Ok(mut pl) = PivotLow::new(k) else {
        return Vec::new();
    };
    bars.iter()
        .enumerate()
        .filter_map(|(j, b)| pl.update(b.low).map(|v| (j, v)))
        .collect()
}

/// The instant a higher low confirmed by a bar opening at `ts` may move the stop: the
/// bar's close, but never before the session's submission time.
pub fn raise_effective(
    ts: DateTime<Utc>,
    minutes: u32,
    submit_from: DateTime<Utc>,
) -> DateTime<Utc> {
    bar_end(ts, minutes).max(submit_from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn test_the_ratchet_never_lowers_and_levels_apply_from_their_instant() {
        let mut p = StopPath::new(StopPoint {
            effective: at("2024-07-10T13:45:00Z"),
            level: 10.0,
            source: StopSource::Initial,
        });
        assert!(!p.raise(StopPoint {
            effective: at("2024-07-10T14:00:00Z"),
            level: 9.5,
            source: StopSource::Intraday
        }));
        assert!(p.raise(StopPoint {
            effective: at("2024-07-10T14:00:00Z"),
            level: 10.5,
            source: StopSource::Intraday
        }));
        assert!(
            p.in_force_at(at("2024-07-10T13:40:00Z")).is_none(),
            "before 09:45"
        );
        assert_eq!(
            p.in_force_at(at("2024-07-10T13:59:00Z")).unwrap().level,
            10.0
        );
        assert_eq!(
            p.in_force_at(at("2024-07-10T14:00:00Z")).unwrap().level,
            10.5
        );
    }

    #[test]
    fn test_confirmed_lows_need_k_bars_each_side() {
        let bar = |low: f64| IntradayBar {
            ts: at("2024-07-10T13:30:00Z"),
            open: low + 1.0,
            high: low + 2.0,
            low,
            close: low + 1.0,
            volume: 1.0,
        };
        let bars: Vec<IntradayBar> = [5.0, 4.0, 3.0, 3.5, 4.0, 3.2, 3.6, 3.9]
            .into_iter()
            .map(bar)
            .collect();
        // Bar 2 (3.0) is confirmed at bar 4; bar 5 (3.2) at bar 7.
        assert_eq!(confirmed_lows(&bars, 2), vec![(4, 3.0), (7, 3.2)]);
    }
}
