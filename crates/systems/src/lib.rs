//! A system: a strategy config loaded with its data, ready to run — what `backtest`,
//! `plan`, the daily run and the reports share.
//!
//! - [`trend`]: trend-following configs (spec/trend-following.md): loading, the engine's
//!   settings, the backtest with its artifacts, the tear sheet;
//! - [`momentum`]: momentum-cohort configs (spec/momentum-cohorts.md): the owner's inputs
//!   (prices, sectors, CDI, benchmark), the run, the §9 pre-export checks and the
//!   trade-ready exports (targets, orders, cohort states);
//! - [`tearsheet`]: a tear sheet assembled from an engine's or the momentum book's results;
//! - [`table`]: the small CSV files users hand to commands, read with errors that name file,
//!   line and symbol.

pub mod avwap;
pub mod bucket_plan;
pub mod buckets;
pub mod capacity;
pub mod feed;
pub mod harvest;
pub mod momentum;
pub mod momentum_plan;
pub mod plan;
pub mod research;
pub mod rotation;
pub mod rotation_plan;
pub mod sheet;
pub mod study;
pub mod table;
pub mod tearsheet;
pub mod trend;
pub mod trend_tables;

/// A [`systrade_core::BadInput`] as an `anyhow` error (exit code 2).
pub fn bad(m: impl Into<String>) -> anyhow::Error {
    systrade_core::BadInput(m.into()).into()
}
