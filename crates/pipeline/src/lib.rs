//! The daily step (DESIGN §1): strategy signals → portfolio construction → risk gates →
//! orders, as one [`systrade_strategy::Strategy`] the backtest engine drives date after date
//! and `plan`/`run` call once. Nothing here knows which mode it runs in.

pub mod momentum;
pub mod trend;

/// Errors of a step's configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    /// A bad parameter; the message names the key.
    #[error("{0}")]
    Config(String),
}
