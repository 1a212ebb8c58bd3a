//! Prices from `serve --data SRC…`: the last close of what is held by hand (manual trades,
//! sheet books) and the benchmark's closes the overview draws each book's curve against.
//! A symbol no source has is shown as such on the page, never as a zero.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::NaiveDate;
use systrade_core::Symbol;
use systrade_data::{DataSource, ParseOptions};

use crate::view::ViewError;

/// Where prices come from, and the benchmark.
#[derive(Debug, Clone, Default)]
pub struct Prices {
    /// Price sources (SQLite market DBs or CSV folders), searched in order.
    pub data: Vec<PathBuf>,
    /// The overview's benchmark (with `data` only).
    pub benchmark: Option<Symbol>,
    pub parse: ParseOptions,
}

/// A symbol's last close, or why there is none.
pub type Mark = Result<(NaiveDate, f64), String>;

/// A daily close series.
pub type Closes = Vec<(NaiveDate, f64)>;

impl Prices {
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The sources, opened.
    fn open(&self) -> Result<Vec<DataSource>, String> {
        self.data
            .iter()
            .map(|p| DataSource::open(p).map_err(|e| format!("--data {}: {e}", p.display())))
            .collect()
    }

    /// The daily closes of `symbol` from the first source that has it, through `as_of`.
    fn closes(
        &self,
        sources: &[DataSource],
        symbol: &Symbol,
        as_of: NaiveDate,
    ) -> Result<Closes, String> {
        for src in sources {
            if let Ok(series) = src.daily(symbol, &self.parse) {
                return Ok(series
                    .bars
                    .iter()
                    .filter(|b| b.ts <= as_of)
                    .map(|b| (b.ts, b.close))
                    .collect());
            }
        }
        Err(format!("{symbol}: no --data source has its prices"))
    }

    /// Each symbol's last close on or before `as_of`, or why there is none.
    pub fn last_closes(
        &self,
        symbols: &BTreeSet<Symbol>,
        as_of: NaiveDate,
    ) -> BTreeMap<Symbol, Mark> {
        let sources = self.open();
        symbols
            .iter()
            .map(|s| {
                let m = match &sources {
                    Ok(src) => self.closes(src, s, as_of),
                    Err(e) => Err(e.clone()),
                }
                .and_then(|c| {
                    c.last()
                        .copied()
                        .ok_or_else(|| format!("{s}: no price on or before {as_of}"))
                });
                (s.clone(), m)
            })
            .collect()
    }

    /// The benchmark's closes through `as_of` (none without `--data`).
    pub fn benchmark_closes(
        &self,
        as_of: NaiveDate,
    ) -> Result<Option<(Symbol, Closes)>, ViewError> {
        let Some(b) = &self.benchmark else {
            return Ok(None);
        };
        if self.is_empty() {
            return Ok(None);
        }
        let c = self
            .open()
            .and_then(|src| self.closes(&src, b, as_of))
            .map_err(|e| ViewError(format!("benchmark {e}")))?;
        Ok(Some((b.clone(), c)))
    }
}

/// The benchmark scaled to start where the curve starts: its close on (or before) the curve's
/// first day = the curve's first value. Points before the benchmark has a price are skipped.
pub fn scaled_to(curve: &[(NaiveDate, f64)], bench: &[(NaiveDate, f64)]) -> Vec<(NaiveDate, f64)> {
    let Some(&(d0, v0)) = curve.first() else {
        return Vec::new();
    };
    let close_on = |d: NaiveDate| -> Option<f64> {
        let i = bench.partition_point(|(t, _)| *t <= d);
        (i > 0).then(|| bench[i - 1].1)
    };
    let Some(b0) = close_on(d0).filter(|b| *b > 0.0) else {
        return Vec::new();
    };
    curve
        .iter()
        .filter_map(|(d, _)| close_on(*d).map(|c| (*d, v0 * c / b0)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_the_benchmark_starts_at_the_curve_and_carries_its_last_close_over_gaps() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let curve = [
            (d("2024-01-02"), 1000.0),
            (d("2024-01-03"), 1010.0),
            (d("2024-01-06"), 990.0),
        ];
        let bench = [
            (d("2024-01-01"), 50.0),
            (d("2024-01-03"), 55.0),
            (d("2024-01-05"), 60.0),
        ];
        let s = scaled_to(&curve, &bench);
        assert_eq!(
            s,
            vec![
                (d("2024-01-02"), 1000.0),
                (d("2024-01-03"), 1100.0),
                (d("2024-01-06"), 1200.0)
            ]
        );
        // No benchmark price by the curve's start: nothing drawn (never a zero line).
        assert!(scaled_to(&curve, &bench[2..]).is_empty());
    }
}
