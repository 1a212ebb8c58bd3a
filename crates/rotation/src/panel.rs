//! The union calendar of every name's sessions, with each name's closes and opens carried
//! forward over its gaps (NaN before its first bar, and after its last bar the last close
//! stays: a delisted name keeps its last price, as bt's forward fill).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use systrade_core::{DailyBar, Symbol};

/// Prices on the union calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub dates: Vec<NaiveDate>,
    /// In symbol order.
    pub symbols: Vec<Symbol>,
    /// `close[s][t]`: carried forward; NaN before the name's first bar.
    pub close: Vec<Vec<f64>>,
    /// `open[s][t]`: the session's open, or the carried close on a gap.
    pub open: Vec<Vec<f64>>,
}

impl Panel {
    /// Builds the panel (bars in date order, as the data layer gives them).
    pub fn new(data: &BTreeMap<Symbol, Vec<DailyBar>>) -> Panel {
        let dates: Vec<NaiveDate> = data
            .values()
            .flat_map(|b| b.iter().map(|x| x.ts))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let index: BTreeMap<NaiveDate, usize> =
            dates.iter().enumerate().map(|(i, d)| (*d, i)).collect();
        let mut close = Vec::with_capacity(data.len());
        let mut open = Vec::with_capacity(data.len());
        for bars in data.values() {
            let mut c = vec![f64::NAN; dates.len()];
            let mut o = vec![f64::NAN; dates.len()];
            for b in bars {
                if let Some(&t) = index.get(&b.ts) {
                    c[t] = b.close;
                    o[t] = b.open;
                }
            }
            let mut last = f64::NAN;
            for t in 0..dates.len() {
                if c[t].is_nan() {
                    c[t] = last;
                    o[t] = last;
                } else {
                    last = c[t];
                }
            }
            close.push(c);
            open.push(o);
        }
        Panel {
            dates,
            symbols: data.keys().cloned().collect(),
            close,
            open,
        }
    }

    /// The column of a symbol.
    pub fn column(&self, s: &str) -> Option<usize> {
        self.symbols.iter().position(|x| x.as_str() == s)
    }

    /// The simple mean of `close[s][t+1−n ..= t]` (None when any of them is missing).
    pub fn sma(&self, s: usize, t: usize, n: usize) -> Option<f64> {
        if n == 0 || t + 1 < n {
            return None;
        }
        let xs = &self.close[s][t + 1 - n..=t];
        if xs.iter().any(|x| !x.is_finite()) {
            return None;
        }
        Some(xs.iter().sum::<f64>() / n as f64)
    }

    /// 12−1 momentum: `close[t − skip] / close[t − lookback] − 1` (None when either is
    /// missing or the older is not positive).
    pub fn momentum(&self, s: usize, t: usize, lookback: usize, skip: usize) -> Option<f64> {
        if t < lookback {
            return None;
        }
        let (a, b) = (self.close[s][t - lookback], self.close[s][t - skip]);
        (a.is_finite() && b.is_finite() && a > 0.0).then(|| b / a - 1.0)
    }

    /// Daily simple returns of `s` over the `n` sessions ending at `t` (None where a close
    /// is missing).
    pub fn returns(&self, s: usize, t: usize, n: usize) -> Vec<Option<f64>> {
        let from = (t + 1).saturating_sub(n);
        (from..=t)
            .map(|i| {
                if i == 0 {
                    return None;
                }
                let (a, b) = (self.close[s][i - 1], self.close[s][i]);
                (a.is_finite() && b.is_finite() && a > 0.0).then(|| b / a - 1.0)
            })
            .collect()
    }

    /// bt's `RunMonthly` dates: the first session, then every session whose month differs
    /// from the previous one's, never the last session.
    pub fn month_starts(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let n = self.dates.len();
        if n == 0 {
            return out;
        }
        out.push(0);
        use chrono::Datelike;
        for i in 1..n.saturating_sub(1) {
            let (a, b) = (self.dates[i - 1], self.dates[i]);
            if (a.year(), a.month()) != (b.year(), b.month()) {
                out.push(i);
            }
        }
        out
    }
}
