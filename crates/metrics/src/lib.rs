//! Performance metrics of a return series, with empyrical's conventions
//! (spec/indicators-and-metrics.md). Inputs are simple per-period returns; `periods_per_year`
//! is 252 for exchanges and 365 for crypto; an optional risk-free series (per-period rates
//! aligned with the returns) is subtracted where the spec says.
//!
//! A ratio whose denominator is zero (no variance, no downside, no drawdown) is `None`, never
//! infinity or NaN.

mod drawdown;
mod periods;
mod summary;

pub use drawdown::{Drawdown, drawdown_series, max_drawdown};
pub use periods::{Period, period_returns};
pub use summary::{Summary, summarize};

/// Errors of metric inputs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricsError {
    #[error("{what}: lengths differ ({a} vs {b})")]
    LengthMismatch {
        what: &'static str,
        a: usize,
        b: usize,
    },
    #[error("non-finite return at position {0}")]
    NonFinite(usize),
    #[error("periods per year must be positive, got {0}")]
    BadPeriods(f64),
}

/// Checks that returns are finite and a risk-free series (if any) is aligned.
pub fn validate(
    returns: &[f64],
    rf: Option<&[f64]>,
    periods_per_year: f64,
) -> Result<(), MetricsError> {
    if !(periods_per_year > 0.0 && periods_per_year.is_finite()) {
        return Err(MetricsError::BadPeriods(periods_per_year));
    }
    if let Some(i) = returns.iter().position(|r| !r.is_finite()) {
        return Err(MetricsError::NonFinite(i));
    }
    if let Some(rf) = rf
        && rf.len() != returns.len()
    {
        return Err(MetricsError::LengthMismatch {
            what: "risk-free series",
            a: rf.len(),
            b: returns.len(),
        });
    }
    Ok(())
}

pub(crate) fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Sample standard deviation (ddof 1), two-pass as numpy; `None` below two values. A
/// constant series is exactly 0 (the two-pass mean of equal values can miss by one ulp).
pub(crate) fn std_ddof1(xs: &[f64]) -> Option<f64> {
    std_ddof1_about(xs, mean(xs))
}

/// [`std_ddof1`] about a mean the caller already has (`mean(xs)`, bit for bit).
fn std_ddof1_about(xs: &[f64], m: f64) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    if xs.iter().all(|x| *x == xs[0]) {
        return Some(0.0);
    }
    Some((xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() as f64 - 1.0)).sqrt())
}

fn excess<'a>(returns: &'a [f64], rf: Option<&[f64]>) -> std::borrow::Cow<'a, [f64]> {
    match rf {
        Some(rf) => std::borrow::Cow::Owned(returns.iter().zip(rf).map(|(r, f)| r - f).collect()),
        None => std::borrow::Cow::Borrowed(returns),
    }
}

/// Compound annual growth: `(Π(1+r))^(P/n) − 1`; `None` for an empty series.
pub fn cagr(returns: &[f64], periods_per_year: f64) -> Option<f64> {
    if returns.is_empty() {
        return None;
    }
    let growth: f64 = returns.iter().map(|r| 1.0 + r).product();
    let years = returns.len() as f64 / periods_per_year;
    Some(growth.powf(1.0 / years) - 1.0)
}

/// Annualised volatility: `stdev(r, ddof 1)·√P`.
pub fn annual_vol(returns: &[f64], periods_per_year: f64) -> Option<f64> {
    std_ddof1(returns).map(|s| s * periods_per_year.sqrt())
}

/// Sharpe ratio: `mean(r − rf)/stdev(r − rf, ddof 1)·√P`; `None` without variance.
pub fn sharpe(returns: &[f64], rf: Option<&[f64]>, periods_per_year: f64) -> Option<f64> {
    let x = excess(returns, rf);
    let m = mean(&x);
    sharpe_ratio(m, std_ddof1_about(&x, m)?, periods_per_year)
}

/// The ratio of a mean and a standard deviation, annualised.
fn sharpe_ratio(m: f64, s: f64, periods_per_year: f64) -> Option<f64> {
    // Dispersion below 1e-12 of the mean is rounding, not risk: no ratio.
    (s > 1e-12 * m.abs() && s > 0.0).then(|| m / s * periods_per_year.sqrt())
}

/// Sortino ratio: `mean(r − rf)·P / (√mean(min(r − rf, 0)²)·√P)`; `None` without downside.
pub fn sortino(returns: &[f64], rf: Option<&[f64]>, periods_per_year: f64) -> Option<f64> {
    if returns.is_empty() {
        return None;
    }
    let x = excess(returns, rf);
    let downside = (x.iter().map(|v| v.min(0.0).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
        * periods_per_year.sqrt();
    (downside > 0.0).then(|| mean(&x) * periods_per_year / downside)
}

/// Calmar ratio: `cagr / |max_drawdown|`; `None` without a drawdown.
pub fn calmar(returns: &[f64], periods_per_year: f64) -> Option<f64> {
    let dd = max_drawdown(returns)?.depth;
    (dd < 0.0)
        .then(|| cagr(returns, periods_per_year).map(|c| c / dd.abs()))
        .flatten()
}

/// Share of positive returns among non-zero ones; `None` when all are zero.
pub fn hit_rate(returns: &[f64]) -> Option<f64> {
    let nonzero = returns.iter().filter(|r| **r != 0.0).count();
    (nonzero > 0).then(|| returns.iter().filter(|r| **r > 0.0).count() as f64 / nonzero as f64)
}

/// OLS slope of asset returns on benchmark returns (empyrical `beta`); `None` without
/// benchmark variance or with fewer than two pairs.
pub fn beta(asset: &[f64], bench: &[f64]) -> Result<Option<f64>, MetricsError> {
    if asset.len() != bench.len() {
        return Err(MetricsError::LengthMismatch {
            what: "beta",
            a: asset.len(),
            b: bench.len(),
        });
    }
    if asset.len() < 2 {
        return Ok(None);
    }
    let (ma, mb) = (mean(asset), mean(bench));
    let cov: f64 = asset
        .iter()
        .zip(bench)
        .map(|(a, b)| (a - ma) * (b - mb))
        .sum();
    let var: f64 = bench.iter().map(|b| (b - mb) * (b - mb)).sum();
    Ok((var > 0.0).then(|| cov / var))
}

/// Annualised turnover: `Σ|traded notional| / 2 / mean NAV`, scaled from the series length
/// to a year. `traded` holds each period's absolute traded notional, `nav` each period's NAV.
pub fn turnover(
    traded: &[f64],
    nav: &[f64],
    periods_per_year: f64,
) -> Result<Option<f64>, MetricsError> {
    if traded.len() != nav.len() {
        return Err(MetricsError::LengthMismatch {
            what: "turnover",
            a: traded.len(),
            b: nav.len(),
        });
    }
    if nav.is_empty() {
        return Ok(None);
    }
    let mean_nav = mean(nav);
    if mean_nav <= 0.0 {
        return Ok(None);
    }
    let one_way = traded.iter().map(|t| t.abs()).sum::<f64>() / 2.0 / mean_nav;
    Ok(Some(one_way * periods_per_year / nav.len() as f64))
}

/// Rolling Sharpe over `window` returns (`None` before the window fills or without variance).
///
/// Each value is [`sharpe`] of its window bit for bit: the same sums in the same order. Four
/// windows are summed side by side — four independent chains of additions the processor
/// overlaps, where one window alone waits on each addition in turn.
// Indexed loops: with iterators over the lanes the compiler keeps one chain at a time
// (1.8 ms for a 252-return window over 5,401 returns, against 0.32 ms indexed and 1.1 ms a
// window at a time).
#[allow(clippy::needless_range_loop)]
pub fn rolling_sharpe(returns: &[f64], window: usize, periods_per_year: f64) -> Vec<Option<f64>> {
    const LANES: usize = 4;
    if window < 2 || returns.len() < window {
        return rolling(returns, window, |w| sharpe(w, None, periods_per_year));
    }
    let starts = returns.len() + 1 - window;
    let mut out = vec![None; window - 1];
    out.reserve(starts);
    let n = window as f64;
    let mut first = 0;
    while first + LANES <= starts {
        let w: [&[f64]; LANES] = std::array::from_fn(|k| &returns[first + k..first + k + window]);
        // `Iterator::sum` of f64 starts from −0.0: so do these.
        let mut sum = [-0.0; LANES];
        for j in 0..window {
            for k in 0..LANES {
                sum[k] += w[k][j];
            }
        }
        let m = sum.map(|x| x / n);
        let mut sq = [-0.0; LANES];
        for j in 0..window {
            for k in 0..LANES {
                let d = w[k][j] - m[k];
                sq[k] += d * d;
            }
        }
        for k in 0..LANES {
            // A constant window has no dispersion (std_ddof1's exact 0): no ratio.
            let constant = w[k].iter().all(|x| *x == w[k][0]);
            out.push(if constant {
                None
            } else {
                sharpe_ratio(m[k], (sq[k] / (n - 1.0)).sqrt(), periods_per_year)
            });
        }
        first += LANES;
    }
    out.extend((first..starts).map(|i| sharpe(&returns[i..i + window], None, periods_per_year)));
    out
}

/// Rolling annualised volatility over `window` returns.
pub fn rolling_vol(returns: &[f64], window: usize, periods_per_year: f64) -> Vec<Option<f64>> {
    rolling(returns, window, |w| annual_vol(w, periods_per_year))
}

fn rolling(returns: &[f64], window: usize, f: impl Fn(&[f64]) -> Option<f64>) -> Vec<Option<f64>> {
    (0..returns.len())
        .map(|i| {
            if window == 0 || i + 1 < window {
                None
            } else {
                f(&returns[i + 1 - window..=i])
            }
        })
        .collect()
}

/// Simple returns of a NAV (or price) series: `navₜ/navₜ₋₁ − 1`, one fewer than the input.
pub fn returns_from_nav(nav: &[f64]) -> Vec<f64> {
    nav.windows(2).map(|w| w[1] / w[0] - 1.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_zero_variance_gives_none_not_inf() {
        let flat = [0.001; 50];
        assert_eq!(sharpe(&flat, None, 252.0), None);
        assert_eq!(sortino(&flat, None, 252.0), None, "no downside");
        assert_eq!(calmar(&flat, 252.0), None, "no drawdown");
        assert!(cagr(&flat, 252.0).unwrap() > 0.0);
        assert_eq!(hit_rate(&[0.0, 0.0]), None);
        assert_eq!(sharpe(&[], None, 252.0), None);
        assert_eq!(
            annual_vol(&[0.1], 252.0),
            None,
            "one return has no sample stdev"
        );
    }

    #[test]
    fn test_known_values() {
        let r = [0.1, -0.05, 0.02, 0.0];
        assert!(
            (cagr(&r, 4.0).unwrap() - (1.1 * 0.95 * 1.02 - 1.0)).abs() < 1e-15,
            "four periods = one year"
        );
        assert_eq!(hit_rate(&r), Some(2.0 / 3.0));
        assert_eq!(
            beta(&[0.02, 0.04, -0.02], &[0.01, 0.02, -0.01]).unwrap(),
            Some(2.0)
        );
        // Turnover: 50 traded each of 10 days on NAV 100 over a 250-day year: 0.25/day one-way.
        assert!(
            (turnover(&[50.0; 10], &[100.0; 10], 250.0).unwrap().unwrap() - 62.5).abs() < 1e-12
        );
    }

    #[test]
    fn test_validate_rejects_nan_and_misaligned_rf() {
        assert_eq!(
            validate(&[0.1, f64::NAN], None, 252.0),
            Err(MetricsError::NonFinite(1))
        );
        assert!(validate(&[0.1], Some(&[0.0, 0.0]), 252.0).is_err());
        assert!(validate(&[0.1], None, 0.0).is_err());
    }
}
