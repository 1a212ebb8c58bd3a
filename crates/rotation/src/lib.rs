//! Monthly ranked rotation (spec/execution-and-buckets.md §3, bucket A "safe S&P"; also the
//! plain top-N momentum of `../shared/peers` W3).
//!
//! On each rebalance date (the first session of every month, bt's `RunMonthly`) after the
//! close:
//! 1. **Regime**: risk-on when the regime symbol (SPY) closes above its `regime_sma`-day SMA;
//!    risk-off holds cash (or `cash_symbol`, e.g. a T-bill ETF). No regime symbol: always on.
//! 2. **Signal**: 12−1 momentum `close[t−skip] / close[t−lookback] − 1` on the union calendar
//!    (closes carried forward over a name's gaps); a name is eligible when it has a price, a
//!    momentum and closes above its own `trend_sma`-day SMA (0: no filter).
//! 3. **Selection**: by momentum, descending (ties by symbol); a name whose daily-return
//!    correlation over `corr_window` sessions with one already chosen exceeds `max_corr` is
//!    skipped (the later of the pair); up to `top_n`.
//! 4. **Weights**: equal, or equal risk contribution over `vol_window` sessions of returns.
//! 5. **Trades** at that close (or the next open): dropped names sold, every chosen name
//!    resized to its weight of the pre-trade value, fees included in the amount (bt's
//!    `Rebalance`).
//!
//! Pure: no I/O, no clock; the same panel gives the same bytes.

pub mod news;
pub mod panel;
pub mod run;
pub mod select;

pub use panel::Panel;
pub use run::{RotationResult, run};
pub use select::{Month, Regime, Status};

use serde::{Deserialize, Serialize};

/// How the chosen names are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    Equal,
    /// Equal risk contribution over `vol_window` sessions of daily returns.
    Erc,
}

/// When a rebalance trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fill {
    /// At the rebalance date's close, which the decision used (a market-on-close order).
    Close,
    /// At the next session's open.
    NextOpen,
}

/// The strategy's parameters, with bucket A's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RotationParams {
    /// How many names are held at most.
    pub top_n: usize,
    /// Momentum from `close[t − lookback]`…
    pub lookback: usize,
    /// …to `close[t − skip]` (the last month skipped).
    pub skip: usize,
    /// A name must close above its own SMA of this many sessions (0: no filter).
    pub trend_sma: usize,
    /// Risk-on when this symbol closes above its `regime_sma`-day SMA (empty: always on).
    pub regime_symbol: String,
    pub regime_sma: usize,
    /// What risk-off holds: this symbol at weight 1 (e.g. a T-bill ETF), or cash (empty).
    pub cash_symbol: String,
    /// The later of two chosen names correlated above this is skipped (1: no limit).
    pub max_corr: f64,
    pub corr_window: usize,
    pub weighting: Weighting,
    /// Sessions of returns behind the ERC covariance.
    pub vol_window: usize,
    /// Fee, basis points of traded notional, on every fill.
    pub fee_bps: f64,
    pub fill: Fill,
}

impl Default for RotationParams {
    fn default() -> Self {
        RotationParams {
            top_n: 3,
            lookback: 252,
            skip: 21,
            trend_sma: 200,
            regime_symbol: "SPY".into(),
            regime_sma: 200,
            cash_symbol: String::new(),
            max_corr: 0.9,
            corr_window: 126,
            weighting: Weighting::Erc,
            vol_window: 63,
            fee_bps: 10.0,
            fill: Fill::Close,
        }
    }
}

impl RotationParams {
    /// Checks every key; the error names it.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("rotation.top_n", self.top_n),
            ("rotation.lookback", self.lookback),
            ("rotation.corr_window", self.corr_window),
            ("rotation.vol_window", self.vol_window),
        ];
        for (key, v) in positive {
            if v == 0 {
                return Err(format!("{key}: must be at least 1"));
            }
        }
        if self.skip >= self.lookback {
            return Err(format!(
                "rotation.skip: {} must be below rotation.lookback ({})",
                self.skip, self.lookback
            ));
        }
        if !self.regime_symbol.is_empty() && self.regime_sma < 2 {
            return Err("rotation.regime_sma: must be at least 2 with a regime_symbol".into());
        }
        if self.trend_sma == 1 {
            return Err("rotation.trend_sma: 0 (off) or at least 2".into());
        }
        if self.corr_window < 3 && self.max_corr < 1.0 {
            return Err("rotation.corr_window: at least 3 sessions for a correlation".into());
        }
        if !(self.max_corr.is_finite() && self.max_corr > -1.0 && self.max_corr <= 1.0) {
            return Err(format!(
                "rotation.max_corr: must be in (-1, 1] (1: no limit), got {}",
                self.max_corr
            ));
        }
        if self.weighting == Weighting::Erc && self.vol_window < 2 {
            return Err("rotation.vol_window: at least 2 sessions for a covariance".into());
        }
        if !(self.fee_bps.is_finite() && (0.0..1000.0).contains(&self.fee_bps)) {
            return Err(format!(
                "rotation.fee_bps: must be in [0, 1000), got {}",
                self.fee_bps
            ));
        }
        for (key, s) in [
            ("rotation.regime_symbol", &self.regime_symbol),
            ("rotation.cash_symbol", &self.cash_symbol),
        ] {
            if !s.is_empty() {
                systrade_core::Symbol::new(s).map_err(|e| format!("{key}: {e}"))?;
            }
        }
        Ok(())
    }

    /// The sessions of history the first decision needs.
    pub fn warmup(&self) -> usize {
        self.lookback
            .max(self.trend_sma)
            .max(if self.regime_symbol.is_empty() {
                0
            } else {
                self.regime_sma
            })
    }
}

/// Errors of a rotation run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RotationError {
    #[error("{0}")]
    Input(String),
}
