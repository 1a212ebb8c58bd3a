//! The simulator. A backtest is the daily step applied date after date: after each bar closes
//! the strategy decides from a view that cannot reach later bars, orders are built from the
//! target deltas, and a simulated broker fills them at the next bar's open (or the same bar's
//! close) with fees and slippage. Cash and positions are exact decimals; analytics are f64.

mod broker;
mod engine;
pub mod lookahead;
mod outputs;
pub mod overlay;
pub mod research;
pub mod shard;
pub mod stress;
pub mod sweep;
pub mod walkforward;
pub mod walkforward_part;

pub use broker::{CostModel, FillAt, dec, f, stop_trigger};
pub use engine::{
    BacktestConfig, BacktestResult, FillRecord, KeepDecisions, KernelInputs, KernelResult,
    OrderRecord, Remainder, SeriesRow, Summary, TradeRecord, kernel_applies, run, run_observed,
    sma_cross_kernel,
};
pub use outputs::{decision_line, write_engine_files, write_outputs};

/// Errors of a backtest.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// The request cannot be run as given (bad dates, no data, bad parameters).
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Core(#[from] systrade_core::CoreError),
    #[error("writing {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}
