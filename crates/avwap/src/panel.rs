//! One symbol's daily bars with the causal indicators the scan and the stops read. Every
//! value at index `t` depends only on bars `0..=t`, so computing them once over the whole
//! history sees nothing a session-by-session computation would not.

use chrono::NaiveDate;
use systrade_core::{DailyBar, Symbol};
use systrade_indicators::{Indicator, Sma};

use crate::params::ScanParams;

/// A symbol's bars and indicators, index-aligned with `bars`.
#[derive(Debug, Clone)]
pub struct Panel {
    pub symbol: Symbol,
    pub bars: Vec<DailyBar>,
    pub sma_fast: Vec<Option<f64>>,
    pub sma_slow: Vec<Option<f64>>,
    /// Wilder ATR (TA-Lib's).
    pub atr: Vec<Option<f64>>,
    /// Mean of `close · volume` over the ADV window.
    pub adv: Vec<Option<f64>>,
    /// Mean volume over the ADV window.
    pub avg_volume: Vec<Option<f64>>,
    /// At `t`: the index of the pivot high confirmed by bar `t` (it is `t − k`), if any.
    pub pivot_high_at: Vec<Option<usize>>,
    /// At `t`: the index of the pivot low confirmed by bar `t`, if any.
    pub pivot_low_at: Vec<Option<usize>>,
    /// At `t`: the most recent pivot low confirmed by bar `t` (any earlier bar).
    pub last_pivot_low: Vec<Option<usize>>,
}

impl Panel {
    /// Builds the panel; `bars` must be in date order (the data layer guarantees it).
    pub fn new(symbol: Symbol, bars: Vec<DailyBar>, p: &ScanParams) -> Panel {
        let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
        let highs: Vec<f64> = bars.iter().map(|b| b.high).collect();
        let lows: Vec<f64> = bars.iter().map(|b| b.low).collect();
        let dollar: Vec<f64> = bars.iter().map(|b| b.close * b.volume).collect();
        let vols: Vec<f64> = bars.iter().map(|b| b.volume).collect();
        let series = |values: &[f64], n: usize| -> Vec<Option<f64>> {
            match Sma::new(n) {
                Ok(mut s) => values.iter().map(|v| s.update(*v)).collect(),
                Err(_) => vec![None; values.len()],
            }
        };
        let atr = systrade_indicators::atr(&highs, &lows, &closes, p.atr_window)
            .map(|s| s.to_vec())
            .unwrap_or_else(|_| vec![None; bars.len()]);
        // A pivot confirmed at `t` is the bar `t − k`.
        let confirmed = |series: Result<systrade_indicators::Series, _>| -> Vec<Option<usize>> {
            match series {
                Ok(s) => s
                    .iter()
                    .enumerate()
                    .map(|(t, v)| v.map(|_| t - p.pivot_k))
                    .collect(),
                Err(_) => vec![None; bars.len()],
            }
        };
        let pivot_high_at = confirmed(systrade_indicators::pivot_high(&highs, p.pivot_k));
        let pivot_low_at = confirmed(systrade_indicators::pivot_low(&lows, p.pivot_k));
        let mut last = None;
        let last_pivot_low = pivot_low_at
            .iter()
            .map(|x| {
                if x.is_some() {
                    last = *x;
                }
                last
            })
            .collect();
        Panel {
            symbol,
            sma_fast: series(&closes, p.sma_fast),
            sma_slow: series(&closes, p.sma_slow),
            adv: series(&dollar, p.adv_window),
            avg_volume: series(&vols, p.adv_window),
            atr,
            pivot_high_at,
            pivot_low_at,
            last_pivot_low,
            bars,
        }
    }

    /// The index of the bar dated `date`.
    pub fn index_of(&self, date: NaiveDate) -> Option<usize> {
        self.bars.binary_search_by_key(&date, |b| b.ts).ok()
    }

    /// The index of the last bar dated on or before `date`.
    pub fn last_on_or_before(&self, date: NaiveDate) -> Option<usize> {
        self.bars.partition_point(|b| b.ts <= date).checked_sub(1)
    }

    /// The latest daily swing low known at the close of bar `t`: the most recent pivot low
    /// confirmed by then.
    pub fn swing_low(&self, t: usize) -> Option<(usize, f64)> {
        self.last_pivot_low
            .get(t)
            .copied()
            .flatten()
            .map(|i| (i, self.bars[i].low))
    }
}
