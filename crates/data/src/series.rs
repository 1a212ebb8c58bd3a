//! A symbol's price history as imported, with what was set aside and why.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use systrade_core::{DailyBar, IntradayBar, Market, Symbol};

use crate::adjust::Adjust;
use crate::layout::PriceFormat;
use crate::validate::FlaggedRow;

/// Bar spacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Interval {
    /// One bar per market date.
    Daily,
    /// Intraday bars of this many seconds.
    Seconds(u32),
}

impl Interval {
    /// Seconds per bar; 86 400 for daily.
    pub fn seconds(self) -> u32 {
        match self {
            Interval::Daily => 86_400,
            Interval::Seconds(s) => s,
        }
    }

    /// Parses `1d`, `12h`, `1h`, `5m`, `1min`, `30s`.
    pub fn parse(s: &str) -> Option<Interval> {
        let s = s.trim().to_ascii_lowercase();
        let split = s.find(|c: char| !c.is_ascii_digit())?;
        let (n, unit) = s.split_at(split);
        let n: u32 = n.parse().ok().filter(|n| *n > 0)?;
        let secs = match unit {
            "d" if n == 1 => return Some(Interval::Daily),
            "s" => n,
            "m" | "min" => n.checked_mul(60)?,
            "h" => n.checked_mul(3600)?,
            _ => return None,
        };
        Some(Interval::Seconds(secs))
    }

    /// The start of the grid bucket holding `ts` (bars that open off the grid, like Binance's
    /// candles at :28 after the February 2018 outage, are aligned by this).
    pub fn bucket(self, ts: DateTime<Utc>) -> DateTime<Utc> {
        let s = i64::from(self.seconds());
        let t = ts.timestamp();
        DateTime::from_timestamp(t - t.rem_euclid(s), 0).unwrap_or(ts)
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Interval::Daily => f.write_str("1d"),
            Interval::Seconds(s) if s % 3600 == 0 => write!(f, "{}h", s / 3600),
            Interval::Seconds(s) if s % 60 == 0 => write!(f, "{}min", s / 60),
            Interval::Seconds(s) => write!(f, "{s}s"),
        }
    }
}

/// Clean bars, daily or intraday.
#[derive(Debug, Clone, PartialEq)]
pub enum Bars {
    Daily(Vec<DailyBar>),
    Intraday(Vec<IntradayBar>),
}

impl Bars {
    pub fn len(&self) -> usize {
        match self {
            Bars::Daily(b) => b.len(),
            Bars::Intraday(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The daily bars, if these are daily.
    pub fn daily(&self) -> Option<&[DailyBar]> {
        match self {
            Bars::Daily(b) => Some(b),
            Bars::Intraday(_) => None,
        }
    }

    /// First and last key as text (`YYYY-MM-DD` or RFC 3339 UTC).
    pub fn span(&self) -> Option<(String, String)> {
        match self {
            Bars::Daily(b) => Some((b.first()?.ts.to_string(), b.last()?.ts.to_string())),
            Bars::Intraday(b) => Some((ts_text(b.first()?.ts), ts_text(b.last()?.ts))),
        }
    }
}

/// The text form of an intraday key.
pub fn ts_text(ts: DateTime<Utc>) -> String {
    ts.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Kinds of corporate actions and cash events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Stock split; `value` is the ratio (2 = two-for-one).
    Split,
    /// Cash dividend per share.
    Dividend,
    /// Interest on equity (Brazilian JCP) per share.
    InterestOnEquity,
    /// Income distribution (funds) per share.
    Income,
    /// Return of capital per share.
    CapitalReturn,
    /// Subscription right (value per share as given).
    Subscription,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Split => "split",
            ActionKind::Dividend => "dividend",
            ActionKind::InterestOnEquity => "interest_on_equity",
            ActionKind::Income => "income",
            ActionKind::CapitalReturn => "capital_return",
            ActionKind::Subscription => "subscription",
        }
    }

    /// Every kind, in a fixed order.
    pub const ALL: [ActionKind; 6] = [
        ActionKind::Split,
        ActionKind::Dividend,
        ActionKind::InterestOnEquity,
        ActionKind::Income,
        ActionKind::CapitalReturn,
        ActionKind::Subscription,
    ];

    /// Maps a B3 event type (`DIVIDENDO`, `JRS CAP PRÓPRIO`, `JUROS MENSAL`, `REST CAP DIN`, …;
    /// any case) to a kind.
    pub fn from_b3_type(t: &str) -> Option<ActionKind> {
        let t = t.trim().to_uppercase();
        let starts = |p: &str| t.starts_with(p);
        Some(if starts("DIVIDEND") {
            ActionKind::Dividend
        } else if starts("JRS CAP") || starts("JUROS") || t == "JCP" {
            ActionKind::InterestOnEquity
        } else if starts("RENDIMENTO") || t == "INCOME" {
            ActionKind::Income
        } else if starts("REST") {
            ActionKind::CapitalReturn
        } else if starts("SUBSCRI") {
            ActionKind::Subscription
        } else {
            return None;
        })
    }
}

/// A split or cash event on its ex-date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorporateAction {
    pub ticker: String,
    pub date: NaiveDate,
    pub kind: ActionKind,
    pub value: f64,
    /// Cash events quoted per this many shares (B3), else `None`.
    pub per_shares: Option<f64>,
}

/// One imported price file: clean bars plus everything set aside and why.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceSeries {
    pub symbol: Symbol,
    pub market: Market,
    pub format: PriceFormat,
    pub interval: Interval,
    pub adjust: Adjust,
    /// Bars that may drive trading decisions.
    pub bars: Bars,
    /// Rows kept out of decisions under `--on-bad-row flag` (stored and reported).
    pub flagged: Vec<FlaggedRow>,
    /// Rows dropped under `--on-bad-row skip` (counted only).
    pub skipped: Vec<FlaggedRow>,
    /// Splits and dividends given by the file (AlphaVantage).
    pub actions: Vec<CorporateAction>,
    /// Facts worth knowing that are not problems (adjustment basis, off-grid bars, …).
    pub notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn test_interval_parse_and_display() {
        for (s, want) in [
            ("1d", Interval::Daily),
            ("12h", Interval::Seconds(43_200)),
            ("1min", Interval::Seconds(60)),
            ("5m", Interval::Seconds(300)),
        ] {
            assert_eq!(Interval::parse(s), Some(want), "{s}");
        }
        assert_eq!(Interval::parse("0h"), None);
        assert_eq!(Interval::parse("2d"), None);
        assert_eq!(Interval::parse("daily"), None);
        assert_eq!(Interval::Seconds(3600).to_string(), "1h");
        assert_eq!(Interval::Seconds(60).to_string(), "1min");
    }

    #[test]
    fn test_bucket_floors_to_grid() {
        let ts = Utc.with_ymd_and_hms(2018, 2, 9, 9, 28, 15).unwrap();
        assert_eq!(
            Interval::Seconds(3600).bucket(ts),
            Utc.with_ymd_and_hms(2018, 2, 9, 9, 0, 0).unwrap()
        );
    }
}
