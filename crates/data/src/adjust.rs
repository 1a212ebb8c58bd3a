//! Price adjustment for splits and dividends.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::layout::PriceFormat;

/// Which corporate actions to remove from the price history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Adjust {
    /// Prices as the file has them.
    None,
    /// Back-adjust for splits, so a split never looks like a crash.
    #[default]
    Split,
    /// Back-adjust for splits and dividends (total return), from the adjusted-close ratio.
    Total,
}

impl Adjust {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Adjust::None),
            "split" => Some(Adjust::Split),
            "total" => Some(Adjust::Total),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Adjust::None => "none",
            Adjust::Split => "split",
            Adjust::Total => "total",
        }
    }
}

impl fmt::Display for Adjust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Per-row multipliers for prices and volume.
#[derive(Debug, Clone, PartialEq)]
pub struct Factors {
    /// Multiplies open, high, low and close; `None` where the row cannot be adjusted.
    pub price: Vec<Option<f64>>,
    /// Multiplies volume (shares).
    pub volume: Vec<f64>,
    /// What was done, in words, for provenance.
    pub note: String,
}

/// The inputs adjustment needs from each row.
#[derive(Debug, Clone, Copy)]
pub struct AdjustInputs {
    pub close: f64,
    pub adj_close: Option<f64>,
    pub split: Option<f64>,
}

/// Computes adjustment factors. Split factors are cumulative products of the split
/// coefficients strictly after each row (the ex-date row already trades post-split); total
/// factors are `adjusted_close / close`.
pub fn factors(format: PriceFormat, adjust: Adjust, rows: &[AdjustInputs]) -> Factors {
    let n = rows.len();
    let identity = |note: String| Factors {
        price: vec![Some(1.0); n],
        volume: vec![1.0; n],
        note,
    };
    let has_splits = rows.iter().any(|r| r.split.is_some());
    let split_cum = || {
        let mut cum = vec![1.0; n];
        let mut f = 1.0;
        for i in (0..n).rev() {
            cum[i] = f;
            if let Some(s) = rows[i].split.filter(|s| *s > 0.0) {
                f *= s;
            }
        }
        cum
    };
    match (format, adjust) {
        (PriceFormat::YahooB3, _) => identity(
            "vendor already adjusted OHLC for splits and dividends; kept as written".into(),
        ),
        (PriceFormat::Yahoo, Adjust::None | Adjust::Split) => {
            identity("vendor OHLC is split-adjusted at the source; kept as written".into())
        }
        (PriceFormat::Alphavantage, Adjust::None) => identity("raw traded prices".into()),
        (_, Adjust::None) => identity("prices as written".into()),
        (_, Adjust::Split) if has_splits => {
            let cum = split_cum();
            Factors {
                price: cum.iter().map(|c| Some(1.0 / c)).collect(),
                volume: cum,
                note: "back-adjusted for splits from split_coefficient".into(),
            }
        }
        (_, Adjust::Split) => {
            identity("no split information in the file; prices as written".into())
        }
        (_, Adjust::Total) if rows.iter().any(|r| r.adj_close.is_some()) => {
            let volume = if has_splits {
                split_cum()
            } else {
                vec![1.0; n]
            };
            let price = rows
                .iter()
                .map(|r| match r.adj_close {
                    Some(a) if a > 0.0 && r.close > 0.0 => Some(a / r.close),
                    _ => None,
                })
                .collect();
            Factors {
                price,
                volume,
                note: "total-return adjusted by adjusted_close / close".into(),
            }
        }
        (_, Adjust::Total) => identity("no adjusted close in the file; prices as written".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(close: f64, adj: f64, split: f64) -> AdjustInputs {
        AdjustInputs {
            close,
            adj_close: Some(adj),
            split: Some(split),
        }
    }

    #[test]
    fn test_split_factors_apply_before_ex_date() {
        // 2:1 split on row 2: rows 0 and 1 are halved, volume doubled.
        let rows = [
            row(100.0, 50.0, 1.0),
            row(102.0, 51.0, 1.0),
            row(51.0, 51.0, 2.0),
            row(52.0, 52.0, 1.0),
        ];
        let f = factors(PriceFormat::Alphavantage, Adjust::Split, &rows);
        assert_eq!(f.price, vec![Some(0.5), Some(0.5), Some(1.0), Some(1.0)]);
        assert_eq!(f.volume, vec![2.0, 2.0, 1.0, 1.0]);
    }

    #[test]
    fn test_total_uses_adjusted_close_ratio() {
        let rows = [row(100.0, 45.0, 1.0), row(0.0, 1.0, 1.0)];
        let f = factors(PriceFormat::Alphavantage, Adjust::Total, &rows);
        assert_eq!(f.price, vec![Some(0.45), None]);
    }

    #[test]
    fn test_presplit_adjusted_sources_are_untouched() {
        let rows = [row(100.0, 45.0, 2.0)];
        for a in [Adjust::None, Adjust::Split, Adjust::Total] {
            assert_eq!(
                factors(PriceFormat::YahooB3, a, &rows).price,
                vec![Some(1.0)]
            );
        }
        assert_eq!(
            factors(PriceFormat::Yahoo, Adjust::Split, &rows).price,
            vec![Some(1.0)]
        );
    }
}
