//! §6 composite beta of a name to the benchmark.

/// OLS slope of `y` on `x` over pairs where both are finite (None without variance).
fn ols(y: &[f64], x: &[f64], weights: Option<&[f64]>) -> Option<f64> {
    let mut sw = 0.0;
    let (mut mx, mut my) = (0.0, 0.0);
    for k in 0..y.len() {
        if y[k].is_finite() && x[k].is_finite() {
            let w = weights.map_or(1.0, |w| w[k]);
            sw += w;
            mx += w * x[k];
            my += w * y[k];
        }
    }
    if sw <= 0.0 {
        return None;
    }
    mx /= sw;
    my /= sw;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for k in 0..y.len() {
        if y[k].is_finite() && x[k].is_finite() {
            let w = weights.map_or(1.0, |w| w[k]);
            sxy += w * (x[k] - mx) * (y[k] - my);
            sxx += w * (x[k] - mx) * (x[k] - mx);
        }
    }
    (sxx > 0.0).then(|| sxy / sxx)
}

/// Overlapping 3-day compounded returns (NaN where any day is missing).
fn three_day(r: &[f64]) -> Vec<f64> {
    (2..r.len())
        .map(|t| (1.0 + r[t]) * (1.0 + r[t - 1]) * (1.0 + r[t - 2]) - 1.0)
        .collect()
}

/// The composite beta of daily returns `asset` to `bench` (aligned, oldest first, the last
/// `beta_window` days): the mean of the daily OLS beta, the OLS beta of overlapping 3-day
/// returns and the EWMA beta with half-life `halflife` days, shrunk toward 1:
/// `shrink · β_raw + (1 − shrink)`. None when the benchmark has no variance.
pub fn composite_beta(asset: &[f64], bench: &[f64], halflife: f64, shrink: f64) -> Option<f64> {
    let n = asset.len().min(bench.len());
    let (a, b) = (&asset[asset.len() - n..], &bench[bench.len() - n..]);
    let daily = ols(a, b, None)?;
    let three = ols(&three_day(a), &three_day(b), None)?;
    let lambda = 0.5f64.powf(1.0 / halflife);
    let w: Vec<f64> = (0..n).map(|k| lambda.powi((n - 1 - k) as i32)).collect();
    let ewma = ols(a, b, Some(&w))?;
    let raw = (daily + three + ewma) / 3.0;
    Some(shrink * raw + (1.0 - shrink))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_scaled_benchmark_has_that_beta() {
        let bench: Vec<f64> = (0..252)
            .map(|i| 0.01 * ((i * 7 % 13) as f64 - 6.0) / 6.0)
            .collect();
        // An asset exactly 1.5 × the benchmark: every estimator says 1.5 for daily returns;
        // 3-day compounding bends it a little.
        let asset: Vec<f64> = bench.iter().map(|r| 1.5 * r).collect();
        let b = composite_beta(&asset, &bench, 63.0, 1.0).unwrap();
        assert!((b - 1.5).abs() < 0.01, "{b}");
        // Shrinkage pulls toward 1.
        let s = composite_beta(&asset, &bench, 63.0, 0.67).unwrap();
        assert!((s - (0.67 * b + 0.33)).abs() < 1e-12);
        // A flat benchmark has no beta.
        assert!(composite_beta(&asset, &vec![0.0; 252], 63.0, 0.67).is_none());
    }
}
