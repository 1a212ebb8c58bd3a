//! The anchored-VWAP system of spec/avwap.md, as a library the backtest, `scan`, `plan`
//! and the daily run's execution cycles all call.
//!
//! - [`params`]: every parameter with the spec's default;
//! - [`panel`]: one symbol's daily bars with their causal indicators (SMA, ATR, ADV, pivots);
//! - [`anchor`]: where an AVWAP starts (swing high, volume spike, gap) and its value;
//! - [`scan`]: the daily candidate scan (§2) with every condition's verdict per symbol;
//! - [`entry`]: the initial stop and the risk-sized quantity (§3);
//! - [`intraday`]: five-minute session bars built from one-minute bars;
//! - [`stops`]: the structural stops (§4): intraday higher lows, the daily swing-low
//!   fallback, the ratchet, the 09:45 submission gate;
//! - [`exits`]: the broker-independent exit simulator: bars and a stop path in, the exit out;
//! - [`analytics`]: per-trade R, MAE/MFE, stop efficiency (§5);
//! - [`backtest`]: the daily loop over history with the same scan, gates and stops.
//!
//! Nothing here reads files or talks to a broker.

pub mod analytics;
pub mod anchor;
pub mod backtest;
pub mod entry;
pub mod exits;
pub mod intraday;
pub mod panel;
pub mod params;
pub mod scan;
pub mod stops;

pub use params::{AnchorKind, AvwapParams};

/// Errors of the AVWAP system.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AvwapError {
    /// The scan's data is not the last session before the run (spec §2 freshness).
    #[error(
        "stale_watchlist: the data's latest session is {data_date}, not {expected} (the last New York session before the run); no candidates are produced from stale data"
    )]
    StaleWatchlist {
        data_date: chrono::NaiveDate,
        expected: chrono::NaiveDate,
    },
    /// No symbol has any bar on or before the scan date.
    #[error("no symbol has a daily bar on or before {0}")]
    NoData(chrono::NaiveDate),
    #[error("{0}")]
    Params(String),
}
