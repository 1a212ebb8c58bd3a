//! Price bars.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Open, high, low, close and volume of one interval. Analytics use `f64`; prices that reach
/// a broker or the ledger are converted to exact decimals at that boundary.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ohlcv {
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

impl Ohlcv {
    /// True when every field is finite, prices are positive, volume is non-negative and the
    /// range is consistent: `high ≥ max(open, close) ≥ min(open, close) ≥ low > 0`.
    pub fn is_valid(&self) -> bool {
        let fin = [self.open, self.high, self.low, self.close, self.volume]
            .iter()
            .all(|v| v.is_finite());
        fin && self.low > 0.0
            && self.volume >= 0.0
            && self.high >= self.open.max(self.close)
            && self.open.min(self.close) >= self.low
    }

    /// Typical price `(h + l + c) / 3`.
    pub fn typical(&self) -> f64 {
        (self.high + self.low + self.close) / 3.0
    }
}

/// One bar keyed by `ts`: a market date for daily bars, a UTC open time for intraday bars.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bar<T = NaiveDate> {
    /// The bar's key: its market date (daily) or the UTC instant its interval opens (intraday).
    pub ts: T,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

/// A daily bar; `ts` is the market's own local date (never shifted by time zones).
pub type DailyBar = Bar<NaiveDate>;
/// An intraday bar; `ts` is the UTC open time of its interval.
pub type IntradayBar = Bar<DateTime<Utc>>;

impl<T: Copy> Bar<T> {
    /// Builds a bar from a key and its values.
    pub fn new(ts: T, v: Ohlcv) -> Self {
        Bar {
            ts,
            open: v.open,
            high: v.high,
            low: v.low,
            close: v.close,
            volume: v.volume,
        }
    }

    /// The bar's values without its key.
    pub fn ohlcv(&self) -> Ohlcv {
        Ohlcv {
            open: self.open,
            high: self.high,
            low: self.low,
            close: self.close,
            volume: self.volume,
        }
    }
}

/// The mean volume of the `n` bars before `day` (`bars` in date order); `None` with fewer.
pub fn mean_volume_before(bars: &[DailyBar], day: NaiveDate, n: usize) -> Option<f64> {
    let before = bars.partition_point(|b| b.ts < day);
    let window = bars.get(before.checked_sub(n)?..before)?;
    Some(window.iter().map(|b| b.volume).sum::<f64>() / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_mean_volume_is_of_the_n_bars_strictly_before_the_day() {
        let d = |i: u32| NaiveDate::from_ymd_opt(2024, 1, i).unwrap();
        let bars: Vec<DailyBar> = (1..=5)
            .map(|i| {
                let v = Ohlcv {
                    open: 1.0,
                    high: 1.0,
                    low: 1.0,
                    close: 1.0,
                    volume: f64::from(i) * 10.0,
                };
                DailyBar::new(d(i), v)
            })
            .collect();
        // Before the 4th: bars 2 and 3 (20, 30); the day's own bar is not counted.
        assert_eq!(mean_volume_before(&bars, d(4), 2), Some(25.0));
        assert_eq!(mean_volume_before(&bars, d(9), 5), Some(30.0));
        assert_eq!(
            mean_volume_before(&bars, d(3), 3),
            None,
            "two bars before the 3rd"
        );
    }

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
    fn test_valid_and_invalid_ranges() {
        assert!(v(10.0, 11.0, 9.0, 10.5, 100.0).is_valid());
        assert!(!v(10.0, 9.0, 11.0, 10.0, 1.0).is_valid(), "high < low");
        assert!(!v(10.0, 11.0, 10.2, 10.1, 1.0).is_valid(), "low > close");
        assert!(!v(0.0, 1.0, 0.0, 1.0, 1.0).is_valid(), "zero price");
        assert!(!v(1.0, 1.0, 1.0, f64::NAN, 1.0).is_valid(), "NaN");
        assert!(!v(1.0, 1.0, 1.0, 1.0, -1.0).is_valid(), "negative volume");
    }
}
