//! Trend following (spec/trend-following.md): per-ticker signals on T−1 bars. Sizing to
//! target volatility (§4) lives in `systrade-portfolio`; gates and stops in the step.

mod signal;

pub use signal::{FilterMode, SignalParams, SignalSnapshot, TickerSignal};
