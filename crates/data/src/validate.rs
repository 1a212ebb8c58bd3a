//! Value checks on rows that parsed: problems a strategy must not trade on, handled by policy.

use std::fmt;

use serde::{Deserialize, Serialize};
use systrade_core::Ohlcv;

/// What to do with a row that has a value problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BadRowPolicy {
    /// Stop the import with an error naming the row.
    Fail,
    /// Drop the row (counted in provenance).
    Skip,
    /// Keep the row out of trading decisions, record it and show it in `data inspect`.
    #[default]
    Flag,
    /// Keep the row in the bars exactly as the file has it, and still record the flag (for
    /// research that must run on files as given, e.g. benchmark parity with other engines).
    Keep,
}

impl BadRowPolicy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fail" => Some(BadRowPolicy::Fail),
            "skip" => Some(BadRowPolicy::Skip),
            "flag" => Some(BadRowPolicy::Flag),
            "keep" => Some(BadRowPolicy::Keep),
            _ => None,
        }
    }
}

/// A value problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// A price is zero or negative.
    NonPositivePrice,
    /// The range does not hold: high < low, or open/close outside [low, high].
    OhlcInconsistent,
    /// Volume below zero.
    NegativeVolume,
    /// A vendor placeholder: volume 0 and open = high = low = close (no trading happened).
    ZeroVolumePlaceholder,
    /// The last candle of a live download, still open when the file was written.
    PartialCandle,
    /// `--adjust total` needs a positive adjusted close and the row has none.
    BadAdjustment,
}

impl Flag {
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::NonPositivePrice => "non_positive_price",
            Flag::OhlcInconsistent => "ohlc_inconsistent",
            Flag::NegativeVolume => "negative_volume",
            Flag::ZeroVolumePlaceholder => "zero_volume_placeholder",
            Flag::PartialCandle => "partial_candle",
            Flag::BadAdjustment => "bad_adjustment",
        }
    }

    pub fn parse(s: &str) -> Option<Flag> {
        [
            Flag::NonPositivePrice,
            Flag::OhlcInconsistent,
            Flag::NegativeVolume,
            Flag::ZeroVolumePlaceholder,
            Flag::PartialCandle,
            Flag::BadAdjustment,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A row set aside, with the values the file had (before any adjustment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlaggedRow {
    /// Line in the source file (the header is line 1).
    pub line: u64,
    /// The row's key as text (`YYYY-MM-DD` or RFC 3339 UTC).
    pub ts: String,
    pub flag: Flag,
    /// The problem in words, with the numbers (`low 8.123 > close 8.056`).
    pub detail: String,
    pub values: Ohlcv,
}

/// Relative size under which a range violation is float noise, not a data problem: vendors that
/// back-adjust prices in floating point (Yahoo auto-adjust) leave lows 1 ulp above closes.
pub const NOISE_REL: f64 = 1e-9;

fn beyond(a: f64, b: f64) -> bool {
    a > b + NOISE_REL * b.abs().max(a.abs())
}

/// Checks one row's values; the first problem found, most severe first. Range violations
/// within [`NOISE_REL`] are not problems (see [`repair_noise`]).
pub fn check_row(v: &Ohlcv) -> Option<(Flag, String)> {
    for (name, p) in [
        ("open", v.open),
        ("high", v.high),
        ("low", v.low),
        ("close", v.close),
    ] {
        if p <= 0.0 {
            return Some((
                Flag::NonPositivePrice,
                format!("{name} {p} is not positive"),
            ));
        }
    }
    if beyond(v.low, v.high) {
        return Some((
            Flag::OhlcInconsistent,
            format!("high {} < low {}", v.high, v.low),
        ));
    }
    for (name, p) in [("open", v.open), ("close", v.close)] {
        if beyond(p, v.high) {
            return Some((
                Flag::OhlcInconsistent,
                format!("{name} {p} > high {}", v.high),
            ));
        }
        if beyond(v.low, p) {
            return Some((
                Flag::OhlcInconsistent,
                format!("low {} > {name} {p}", v.low),
            ));
        }
    }
    if v.volume < 0.0 {
        return Some((
            Flag::NegativeVolume,
            format!("volume {} is negative", v.volume),
        ));
    }
    let top = v.open.max(v.high).max(v.low).max(v.close);
    let bottom = v.open.min(v.high).min(v.low).min(v.close);
    if v.volume == 0.0 && !beyond(top, bottom) {
        return Some((
            Flag::ZeroVolumePlaceholder,
            format!("volume 0 and open = high = low = close = {}", v.close),
        ));
    }
    None
}

/// Widens high and low to cover open and close when they miss by float noise only; returns
/// true when it changed anything. Call after [`check_row`] found no problem.
pub fn repair_noise(v: &mut Ohlcv) -> bool {
    let high = v.high.max(v.open).max(v.close);
    let low = v.low.min(v.open).min(v.close);
    let changed = high != v.high || low != v.low;
    v.high = high;
    v.low = low;
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(o: f64, h: f64, l: f64, c: f64, vol: f64) -> Ohlcv {
        Ohlcv {
            open: o,
            high: h,
            low: l,
            close: c,
            volume: vol,
        }
    }

    #[test]
    fn test_each_flag() {
        assert_eq!(check_row(&v(10.0, 11.0, 9.0, 10.0, 5.0)), None);
        assert_eq!(
            check_row(&v(10.0, 10.2, 10.5, 10.3, 5.0)).unwrap().1,
            "high 10.2 < low 10.5"
        );
        assert_eq!(
            check_row(&v(8.2, 8.45, 8.123, 8.056, 5.0)).unwrap().1,
            "low 8.123 > close 8.056"
        );
        assert_eq!(
            check_row(&v(-1.0, 11.0, 9.0, 10.0, 5.0)).unwrap().0,
            Flag::NonPositivePrice
        );
        assert_eq!(
            check_row(&v(10.0, 11.0, 9.0, 10.0, -5.0)).unwrap().0,
            Flag::NegativeVolume
        );
        assert_eq!(
            check_row(&v(7.0, 7.0, 7.0, 7.0, 0.0)).unwrap().0,
            Flag::ZeroVolumePlaceholder
        );
        // Adjusted in floating point, a placeholder's four prices differ by noise only.
        assert_eq!(
            check_row(&v(7.000000000000001, 7.0, 7.0, 7.0, 0.0))
                .unwrap()
                .0,
            Flag::ZeroVolumePlaceholder
        );
        // Zero volume with a real range is a quiet day, not a placeholder.
        assert_eq!(check_row(&v(7.0, 7.5, 6.9, 7.1, 0.0)), None);
    }

    #[test]
    fn test_float_noise_is_repaired_not_flagged() {
        // PETR3 2015-08-17 (Yahoo auto-adjusted): low exceeds close by one ulp.
        let mut row = v(3.0, 3.05, 2.9953591823577885, 2.995359182357788, 100.0);
        assert_eq!(check_row(&row), None);
        assert!(repair_noise(&mut row));
        assert!(row.is_valid());
        assert_eq!(row.low, 2.995359182357788);
        let mut clean = v(10.0, 11.0, 9.0, 10.0, 1.0);
        assert!(!repair_noise(&mut clean));
    }

    #[test]
    fn test_flag_names_round_trip() {
        for f in [
            Flag::NonPositivePrice,
            Flag::OhlcInconsistent,
            Flag::PartialCandle,
            Flag::BadAdjustment,
        ] {
            assert_eq!(Flag::parse(f.as_str()), Some(f));
        }
    }
}
