//! What the desk reads, built from the ledger and the daily runs' artifacts: the merged
//! portfolio of every book and the newsletter's content (rendered by `systrade-report`).

pub mod artifacts;
pub mod newsletter;
pub mod newsletter_plan;
pub mod orders;
pub mod portfolio;
pub mod slippage;
pub mod trades;

/// A [`systrade_core::BadInput`] as an `anyhow` error (exit code 2).
pub(crate) fn bad(m: impl Into<String>) -> anyhow::Error {
    systrade_core::BadInput(m.into()).into()
}
