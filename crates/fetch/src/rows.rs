//! What a vendor sends, as rows in one of the layouts `data import` reads: the file a fetch
//! stores is the file an import of the same bars would read, so both give the same database.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use systrade_core::Market;

/// The bar length a fetch asks for (`--interval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BarInterval {
    Day,
    Hour,
    FiveMinutes,
    Minute,
}

impl BarInterval {
    pub fn parse(s: &str) -> Option<BarInterval> {
        Some(match s {
            "1d" => BarInterval::Day,
            "1h" => BarInterval::Hour,
            "5m" => BarInterval::FiveMinutes,
            "1m" => BarInterval::Minute,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BarInterval::Day => "1d",
            BarInterval::Hour => "1h",
            BarInterval::FiveMinutes => "5m",
            BarInterval::Minute => "1m",
        }
    }

    pub fn seconds(self) -> i64 {
        match self {
            BarInterval::Day => 86_400,
            BarInterval::Hour => 3_600,
            BarInterval::FiveMinutes => 300,
            BarInterval::Minute => 60,
        }
    }

    /// The interval as the market database names it.
    pub fn data_interval(self) -> systrade_data::Interval {
        match self {
            BarInterval::Day => systrade_data::Interval::Daily,
            other => systrade_data::Interval::Seconds(other.seconds() as u32),
        }
    }
}

/// One bar as the vendor sent it. `time` is the key: the market date (`2024-05-01`) of a
/// daily bar, the UTC open instant (`2024-05-01T13:30:00Z`) of an intraday one — both sort
/// as text in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct VendorRow {
    pub time: String,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    /// The vendor's split- and dividend-adjusted close (Yahoo, Alpha Vantage).
    pub adj_close: Option<f64>,
    /// A cash dividend going ex on this bar (Alpha Vantage).
    pub dividend: Option<f64>,
    /// A split coefficient taking effect on this bar (Alpha Vantage; 1 when none).
    pub split: Option<f64>,
}

impl VendorRow {
    /// A bar with prices and volume only.
    pub fn ohlcv(time: String, o: f64, h: f64, l: f64, c: f64, v: f64) -> VendorRow {
        VendorRow {
            time,
            open: o,
            high: h,
            low: l,
            close: c,
            volume: v,
            adj_close: None,
            dividend: None,
            split: None,
        }
    }

    /// The same values (the time aside): exact, as the vendor sent them.
    pub fn same_values(&self, o: &VendorRow) -> bool {
        self.open == o.open
            && self.high == o.high
            && self.low == o.low
            && self.close == o.close
            && self.volume == o.volume
            && self.dividend == o.dividend
            && self.split == o.split
    }

    /// The bar's key for a daily bar on `date`.
    pub fn day_key(date: NaiveDate) -> String {
        date.format("%Y-%m-%d").to_string()
    }

    /// The key of a bar opening at `t` (UTC): its UTC date when daily (crypto days start at
    /// 00:00 UTC), else the instant.
    pub fn utc_key(t: DateTime<Utc>, interval: BarInterval) -> String {
        if interval == BarInterval::Day {
            VendorRow::day_key(t.date_naive())
        } else {
            VendorRow::instant_key(t)
        }
    }

    /// The bar's key for an intraday bar opening at `t`.
    pub fn instant_key(t: DateTime<Utc>) -> String {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    /// When the bar's period ends: an intraday bar's open plus its length; a daily bar at
    /// its market's close (16:00 New York, 18:00 São Paulo, midnight UTC for crypto).
    pub fn ends_at(&self, interval: BarInterval, market: Market) -> Option<DateTime<Utc>> {
        if interval == BarInterval::Day {
            let d = NaiveDate::parse_from_str(&self.time, "%Y-%m-%d").ok()?;
            let local = |tz: chrono_tz::Tz, h: u32| {
                tz.from_local_datetime(&d.and_time(NaiveTime::from_hms_opt(h, 0, 0)?))
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
            };
            return match market {
                Market::Us => local(chrono_tz::America::New_York, 16),
                Market::B3 => local(chrono_tz::America::Sao_Paulo, 18),
                Market::Crypto => d.succ_opt().map(|n| n.and_time(NaiveTime::MIN).and_utc()),
            };
        }
        let t = DateTime::parse_from_rfc3339(&self.time).ok()?;
        Some(t.with_timezone(&Utc) + chrono::Duration::seconds(interval.seconds()))
    }
}

/// The layout a vendor's rows are stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `timestamp,open,high,low,close,volume`: prices as the vendor adjusted them.
    Generic,
    /// `Date,Open,High,Low,Close,Adj Close,Volume`: Yahoo's split-adjusted OHLC and
    /// split+dividend adjusted close.
    Yahoo,
    /// Alpha Vantage daily adjusted: raw OHLC, adjusted close, dividends and splits.
    AlphaVantage,
}

impl Layout {
    pub fn header(self) -> &'static str {
        match self {
            Layout::Generic => "timestamp,open,high,low,close,volume",
            Layout::Yahoo => "Date,Open,High,Low,Close,Adj Close,Volume",
            Layout::AlphaVantage => {
                "timestamp,open,high,low,close,adjusted_close,volume,dividend_amount,split_coefficient"
            }
        }
    }

    /// The rows as a CSV file of this layout. Numbers are written in their shortest form
    /// that reads back to the same value.
    pub fn render(self, rows: &[VendorRow]) -> String {
        let mut out = String::with_capacity(64 * (rows.len() + 1));
        out.push_str(self.header());
        out.push('\n');
        let opt = |v: Option<f64>, default: f64| v.unwrap_or(default);
        for r in rows {
            // Writing into a String cannot fail.
            let _ = match self {
                Layout::Generic => writeln!(
                    out,
                    "{},{},{},{},{},{}",
                    r.time, r.open, r.high, r.low, r.close, r.volume
                ),
                Layout::Yahoo => writeln!(
                    out,
                    "{},{},{},{},{},{},{}",
                    r.time,
                    r.open,
                    r.high,
                    r.low,
                    r.close,
                    opt(r.adj_close, r.close),
                    r.volume
                ),
                Layout::AlphaVantage => writeln!(
                    out,
                    "{},{},{},{},{},{},{},{},{}",
                    r.time,
                    r.open,
                    r.high,
                    r.low,
                    r.close,
                    opt(r.adj_close, r.close),
                    r.volume,
                    opt(r.dividend, 0.0),
                    opt(r.split, 1.0)
                ),
            };
        }
        out
    }

    /// Reads back a file this layout rendered; anything else is refused with the line.
    pub fn read(self, text: &str) -> Result<Vec<VendorRow>, String> {
        let mut lines = text.lines();
        let header = lines.next().unwrap_or("");
        if header.trim_end() != self.header() {
            return Err(format!(
                "header {header:?} is not the layout this fetch writes ({:?})",
                self.header()
            ));
        }
        let mut rows = Vec::new();
        for (i, line) in lines.enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = i + 2;
            let cells: Vec<&str> = line.split(',').collect();
            let want = self.header().split(',').count();
            if cells.len() != want {
                return Err(format!(
                    "line {at}: {} fields, the header has {want}",
                    cells.len()
                ));
            }
            let num = |j: usize| {
                cells[j]
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| format!("line {at}: unparseable number {:?}", cells[j]))
            };
            let mut r = VendorRow::ohlcv(
                cells[0].to_string(),
                num(1)?,
                num(2)?,
                num(3)?,
                num(4)?,
                0.0,
            );
            match self {
                Layout::Generic => r.volume = num(5)?,
                Layout::Yahoo => {
                    r.adj_close = Some(num(5)?);
                    r.volume = num(6)?;
                }
                Layout::AlphaVantage => {
                    r.adj_close = Some(num(5)?);
                    r.volume = num(6)?;
                    r.dividend = Some(num(7)?);
                    r.split = Some(num(8)?);
                }
            }
            if rows.last().is_some_and(|p: &VendorRow| p.time >= r.time) {
                return Err(format!("line {at}: {} is not after the row before", r.time));
            }
            rows.push(r);
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn row(t: &str, c: f64) -> VendorRow {
        let mut r = VendorRow::ohlcv(t.into(), c, c * 1.01, c * 0.99, c, 1000.0);
        r.adj_close = Some(c * 0.5);
        r.dividend = Some(0.0);
        r.split = Some(1.0);
        r
    }

    proptest! {
        #[test]
        fn test_every_layout_reads_back_what_it_rendered(
            closes in proptest::collection::vec(1e-6f64..1e7, 1..20)
        ) {
            let rows: Vec<VendorRow> = closes
                .iter()
                .enumerate()
                .map(|(i, c)| row(&format!("2024-01-{:02}", i + 1), *c))
                .collect();
            let back = Layout::AlphaVantage.read(&Layout::AlphaVantage.render(&rows)).unwrap();
            prop_assert_eq!(&back, &rows);
            let plain: Vec<VendorRow> = rows
                .iter()
                .map(|r| VendorRow { adj_close: None, dividend: None, split: None, ..r.clone() })
                .collect();
            prop_assert_eq!(Layout::Generic.read(&Layout::Generic.render(&plain)).unwrap(), plain);
        }
    }

    #[test]
    fn test_a_foreign_header_or_unsorted_rows_are_refused() {
        assert!(
            Layout::Generic
                .read("Date,Open,High,Low,Close,Adj Close,Volume\n")
                .unwrap_err()
                .contains("header")
        );
        let text =
            "timestamp,open,high,low,close,volume\n2024-01-02,1,1,1,1,1\n2024-01-01,1,1,1,1,1\n";
        assert!(Layout::Generic.read(text).unwrap_err().contains("line 3"));
    }

    #[test]
    fn test_a_daily_bar_ends_at_its_markets_close() {
        let r = row("2024-07-01", 1.0);
        let us = r.ends_at(BarInterval::Day, Market::Us).unwrap();
        assert_eq!(us.to_rfc3339(), "2024-07-01T20:00:00+00:00");
        let c = r.ends_at(BarInterval::Day, Market::Crypto).unwrap();
        assert_eq!(c.to_rfc3339(), "2024-07-02T00:00:00+00:00");
        let i = VendorRow::ohlcv("2024-07-01T13:30:00Z".into(), 1.0, 1.0, 1.0, 1.0, 1.0);
        assert_eq!(
            i.ends_at(BarInterval::FiveMinutes, Market::Us)
                .unwrap()
                .to_rfc3339(),
            "2024-07-01T13:35:00+00:00"
        );
    }
}
