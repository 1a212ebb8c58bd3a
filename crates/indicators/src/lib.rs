//! Technical indicators with TA-Lib's conventions (spec/indicators-and-metrics.md).
//!
//! Every indicator exists in two forms that give identical numbers:
//! - a streaming form, a struct implementing [`Indicator`] that takes one bar at a time in
//!   O(1) (for the daily step and the engine);
//! - a batch form over slices (for research) returning a [`Series`], which runs the same
//!   state machine (or, for the hot ones, the same operations in a tight loop) over the
//!   slice, so both agree to the last bit.
//!
//! Warm-up is explicit: `None` until an indicator is defined, never 0. Inputs are assumed
//! finite (the data layer rejects NaN); windows of 0 are refused with [`IndicatorError`].
//! No function here allocates per bar or performs I/O.

mod atr;
mod avwap;
mod beta;
mod covariance;
mod donchian;
mod ema;
mod linreg;
mod moments;
mod pivots;
mod returns;
mod ring;
mod rolling_vol;
mod rsi;
mod series;
mod sma;
pub mod spec;
mod stdev;

pub use atr::{Atr, TrueRange, atr, true_range};
pub use avwap::{Avwap, HlcVolume, avwap};
pub use beta::{Beta, beta};
pub use covariance::{RollingCovariance, sample_covariance};
pub use donchian::{RollingMax, RollingMin, donchian_high, donchian_low};
pub use ema::{Ema, Wilder, ema, wilder};
pub use linreg::{LinRegR2, linreg_r2};
pub use pivots::{PivotHigh, PivotLow, pivot_high, pivot_low};
pub use returns::{LogReturn, SimpleReturn, log_return, simple_return};
pub use rolling_vol::{RollingVol, rolling_vol};
pub use rsi::{Rsi, rsi};
pub use series::Series;
pub use sma::{Sma, sma};
pub use stdev::{StdDev, stdev};

/// A bar's high, low and close: the input of range-based indicators.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hlc {
    pub high: f64,
    pub low: f64,
    pub close: f64,
}

/// Errors from building an indicator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndicatorError {
    #[error("{name}: window must be at least {min}, got {window}")]
    InvalidWindow {
        name: &'static str,
        window: usize,
        min: usize,
    },
    #[error("{name}: input slices differ in length ({a} vs {b})")]
    LengthMismatch {
        name: &'static str,
        a: usize,
        b: usize,
    },
}

pub(crate) fn check_window(
    name: &'static str,
    window: usize,
    min: usize,
) -> Result<(), IndicatorError> {
    if window < min {
        Err(IndicatorError::InvalidWindow { name, window, min })
    } else {
        Ok(())
    }
}

pub(crate) fn check_len(name: &'static str, a: usize, b: usize) -> Result<(), IndicatorError> {
    if a != b {
        Err(IndicatorError::LengthMismatch { name, a, b })
    } else {
        Ok(())
    }
}

/// A streaming indicator: one update per bar, O(1) time and no allocation.
pub trait Indicator {
    /// What one bar contributes (a close, an [`Hlc`], a pair of returns, …).
    type Input;
    /// Feeds one bar; returns the value after it, or `None` during warm-up.
    fn update(&mut self, input: Self::Input) -> Option<f64>;
    /// Forgets all bars.
    fn reset(&mut self);
}

/// Runs a streaming indicator over inputs: the batch form of most indicators.
pub fn run<I: Indicator>(mut ind: I, inputs: impl IntoIterator<Item = I::Input>) -> Series {
    inputs.into_iter().map(|x| ind.update(x)).collect()
}

/// Zips high, low and close slices into [`Hlc`] inputs.
pub fn hlc(high: &[f64], low: &[f64], close: &[f64]) -> Result<Vec<Hlc>, IndicatorError> {
    check_len("hlc", high.len(), low.len())?;
    check_len("hlc", high.len(), close.len())?;
    Ok(high
        .iter()
        .zip(low)
        .zip(close)
        .map(|((&high, &low), &close)| Hlc { high, low, close })
        .collect())
}
