//! Daily bars of a universe aligned on the union of their dates.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use systrade_core::{DailyBar, Symbol};

/// How many rows a missing close may be carried forward when a price at a date is needed.
pub const FFILL_LIMIT: usize = 5;

/// Closes, opens and traded values per ticker on the union calendar (`NaN` = no bar).
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub dates: Vec<NaiveDate>,
    pub tickers: Vec<Symbol>,
    pub sectors: Vec<String>,
    close: Vec<Vec<f64>>,
    open: Vec<Vec<f64>>,
    value: Vec<Vec<f64>>,
    /// Bars up to and including each row.
    count: Vec<Vec<u32>>,
}

impl Panel {
    /// Aligns `data`; `sectors` gives each ticker's sector (all tickers must be present).
    pub fn new(data: &BTreeMap<Symbol, Vec<DailyBar>>, sectors: &BTreeMap<Symbol, String>) -> Self {
        let mut dates: Vec<NaiveDate> = data.values().flatten().map(|b| b.ts).collect();
        dates.sort();
        dates.dedup();
        let n = dates.len();
        let mut p = Panel {
            tickers: data.keys().cloned().collect(),
            sectors: data
                .keys()
                .map(|s| sectors.get(s).cloned().unwrap_or_default())
                .collect(),
            close: Vec::with_capacity(data.len()),
            open: Vec::with_capacity(data.len()),
            value: Vec::with_capacity(data.len()),
            count: Vec::with_capacity(data.len()),
            dates,
        };
        for bars in data.values() {
            let (mut c, mut o, mut v, mut k) = (
                vec![f64::NAN; n],
                vec![f64::NAN; n],
                vec![f64::NAN; n],
                vec![0u32; n],
            );
            let mut j = 0;
            for b in bars {
                while p.dates[j] < b.ts {
                    j += 1;
                }
                c[j] = b.close;
                o[j] = b.open;
                v[j] = b.close * b.volume;
                k[j] = 1;
            }
            for t in 1..n {
                k[t] += k[t - 1];
            }
            p.close.push(c);
            p.open.push(o);
            p.value.push(v);
            p.count.push(k);
        }
        p
    }

    pub fn len(&self) -> usize {
        self.dates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dates.is_empty()
    }

    /// The close of ticker `i` on row `t`, if it traded.
    pub fn close(&self, i: usize, t: usize) -> Option<f64> {
        let c = self.close[i][t];
        (c.is_finite() && c > 0.0).then_some(c)
    }

    /// The open of ticker `i` on row `t`, if it traded.
    pub fn open(&self, i: usize, t: usize) -> Option<f64> {
        let o = self.open[i][t];
        (o.is_finite() && o > 0.0).then_some(o)
    }

    /// The close on row `t`, or the last one within [`FFILL_LIMIT`] rows before it.
    pub fn close_ffill(&self, i: usize, t: usize) -> Option<f64> {
        (t.saturating_sub(FFILL_LIMIT)..=t)
            .rev()
            .find_map(|k| self.close(i, k))
    }

    /// The last close at or before row `t` (however old), with its row.
    pub fn last_close(&self, i: usize, t: usize) -> Option<(usize, f64)> {
        (0..=t).rev().find_map(|k| self.close(i, k).map(|c| (k, c)))
    }

    /// Bars of ticker `i` up to and including row `t`.
    pub fn bars_through(&self, i: usize, t: usize) -> usize {
        self.count[i][t] as usize
    }

    /// Median traded value (close × volume) over the last `window` bars through row `t`.
    pub fn median_value(&self, i: usize, t: usize, window: usize) -> Option<f64> {
        let mut xs: Vec<f64> = self.value[i][..=t]
            .iter()
            .rev()
            .filter(|v| v.is_finite())
            .take(window)
            .copied()
            .collect();
        if xs.len() < window {
            return None;
        }
        xs.sort_by(f64::total_cmp);
        let m = xs.len() / 2;
        Some(if xs.len() % 2 == 1 {
            xs[m]
        } else {
            0.5 * (xs[m - 1] + xs[m])
        })
    }

    /// Close-to-close return of ticker `i` into row `t` (0 without a bar at `t`; across a gap,
    /// from the last close before it).
    pub fn ret(&self, i: usize, t: usize) -> f64 {
        if t == 0 {
            return 0.0;
        }
        match (self.close(i, t), self.last_close(i, t - 1)) {
            (Some(c), Some((_, p))) => c / p - 1.0,
            _ => 0.0,
        }
    }

    /// The equal-weight index of the universe as daily returns: the mean close-to-close return
    /// of the names that traded on a row and shortly before it (0 where none did).
    pub fn equal_weight_returns(&self) -> Vec<f64> {
        (0..self.len())
            .map(|t| {
                let rs: Vec<f64> = (0..self.tickers.len())
                    .filter(|&i| {
                        t > 0 && self.close(i, t).is_some() && self.close_ffill(i, t - 1).is_some()
                    })
                    .map(|i| self.ret(i, t))
                    .collect();
                if rs.is_empty() {
                    0.0
                } else {
                    rs.iter().sum::<f64>() / rs.len() as f64
                }
            })
            .collect()
    }

    /// Overnight (last close → open) and intraday (open → close) returns into row `t`; a
    /// missing open puts the whole move intraday… or overnight when there is no bar at all.
    pub fn split_ret(&self, i: usize, t: usize) -> (f64, f64) {
        let prev = if t == 0 {
            None
        } else {
            self.last_close(i, t - 1).map(|x| x.1)
        };
        match (prev, self.open(i, t), self.close(i, t)) {
            (Some(p), Some(o), Some(c)) => (o / p - 1.0, c / o - 1.0),
            (Some(p), None, Some(c)) => (0.0, c / p - 1.0),
            (None, Some(o), Some(c)) => (0.0, c / o - 1.0),
            _ => (0.0, 0.0),
        }
    }
}
