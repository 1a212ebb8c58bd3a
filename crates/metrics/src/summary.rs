use chrono::NaiveDate;
use serde::Serialize;

use crate::{MetricsError, cagr, hit_rate, max_drawdown, sharpe, sortino, validate};

/// The standard metrics of one return series, named as in `fixtures/metrics/*.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub periods_per_year: f64,
    /// Mean per-period risk-free rate subtracted (0 when none was given).
    pub risk_free: f64,
    pub n_returns: usize,
    pub first_return_date: Option<NaiveDate>,
    pub last_return_date: Option<NaiveDate>,
    pub cagr: Option<f64>,
    pub annual_vol: Option<f64>,
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    pub max_drawdown: Option<f64>,
    pub max_drawdown_peak: Option<NaiveDate>,
    pub max_drawdown_trough: Option<NaiveDate>,
    pub max_drawdown_recovery: Option<NaiveDate>,
    pub calmar: Option<f64>,
    pub hit_rate: Option<f64>,
}

/// Computes the summary of dated returns. `dates[i]` is the date of `returns[i]` (the end of
/// its period); the drawdown peak is `None` when it is the starting NAV.
pub fn summarize(
    dates: &[NaiveDate],
    returns: &[f64],
    rf: Option<&[f64]>,
    periods_per_year: f64,
) -> Result<Summary, MetricsError> {
    validate(returns, rf, periods_per_year)?;
    if dates.len() != returns.len() {
        return Err(MetricsError::LengthMismatch {
            what: "dates",
            a: dates.len(),
            b: returns.len(),
        });
    }
    let dd = max_drawdown(returns);
    let growth = cagr(returns, periods_per_year);
    let std = crate::std_ddof1(returns);
    let vol = std.map(|s| s * periods_per_year.sqrt());
    let at = |i: Option<usize>| i.map(|i| dates[i]);
    Ok(Summary {
        periods_per_year,
        risk_free: rf
            .map(|f| f.iter().sum::<f64>() / f.len().max(1) as f64)
            .unwrap_or(0.0),
        n_returns: returns.len(),
        first_return_date: dates.first().copied(),
        last_return_date: dates.last().copied(),
        cagr: growth,
        annual_vol: vol,
        sharpe: match rf {
            // Without a risk-free series, Sharpe shares the stdev computed for the volatility.
            None => std.and_then(|s| {
                let m = crate::mean(returns);
                (s > 1e-12 * m.abs() && s > 0.0).then(|| m / s * periods_per_year.sqrt())
            }),
            Some(_) => sharpe(returns, rf, periods_per_year),
        },
        sortino: sortino(returns, rf, periods_per_year),
        max_drawdown: dd.map(|d| d.depth),
        max_drawdown_peak: dd.and_then(|d| at(d.peak)),
        max_drawdown_trough: dd.and_then(|d| at(d.trough)),
        max_drawdown_recovery: dd.and_then(|d| at(d.recovery)),
        // The same as `calmar(returns)`, without computing CAGR and the drawdown again.
        calmar: dd
            .filter(|d| d.depth < 0.0)
            .and_then(|d| growth.map(|c| c / d.depth.abs())),
        hit_rate: hit_rate(returns),
    })
}
