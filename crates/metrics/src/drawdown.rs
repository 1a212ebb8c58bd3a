use serde::Serialize;

/// The worst peak-to-trough fall of the NAV built from returns (NAV₀ = 1 before the first
/// return, as empyrical). Indices are positions in the return series; `peak` is `None` when
/// the peak is the starting NAV.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Drawdown {
    /// `min_t NAVₜ / max_{s≤t} NAVₛ − 1`, in `[−1, 0]`.
    pub depth: f64,
    pub peak: Option<usize>,
    pub trough: Option<usize>,
    /// First position at or above the peak NAV after the trough; `None` if never recovered.
    pub recovery: Option<usize>,
}

/// Drawdown from the running peak after each return (0 at new highs).
pub fn drawdown_series(returns: &[f64]) -> Vec<f64> {
    let mut nav = 1.0f64;
    let mut peak = 1.0f64;
    returns
        .iter()
        .map(|r| {
            nav *= 1.0 + r;
            peak = peak.max(nav);
            nav / peak - 1.0
        })
        .collect()
}

/// The maximum drawdown with its dates; `None` for an empty series.
pub fn max_drawdown(returns: &[f64]) -> Option<Drawdown> {
    if returns.is_empty() {
        return None;
    }
    let mut nav = 1.0f64;
    let mut peak_nav = 1.0f64;
    let mut peak_at: Option<usize> = None;
    let mut worst = Drawdown {
        depth: 0.0,
        peak: None,
        trough: None,
        recovery: None,
    };
    let mut worst_peak_nav = 1.0;
    for (i, r) in returns.iter().enumerate() {
        nav *= 1.0 + r;
        if nav > peak_nav {
            peak_nav = nav;
            peak_at = Some(i);
        }
        let dd = nav / peak_nav - 1.0;
        if dd < worst.depth {
            worst = Drawdown {
                depth: dd,
                peak: peak_at,
                trough: Some(i),
                recovery: None,
            };
            worst_peak_nav = peak_nav;
        }
    }
    if let Some(t) = worst.trough {
        let mut nav_after = 1.0f64;
        for (i, r) in returns.iter().enumerate() {
            nav_after *= 1.0 + r;
            if i > t && nav_after >= worst_peak_nav {
                worst.recovery = Some(i);
                break;
            }
        }
    }
    Some(worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_drawdown_dates() {
        let r = [0.1, -0.5, 0.2, 0.8, -0.1];
        let d = max_drawdown(&r).unwrap();
        assert!((d.depth + 0.5).abs() < 1e-15);
        assert_eq!((d.peak, d.trough, d.recovery), (Some(0), Some(1), Some(3)));
        // A fall from the start is measured against NAV₀ = 1.
        let d = max_drawdown(&[-0.2, 0.1]).unwrap();
        assert_eq!((d.peak, d.trough, d.recovery), (None, Some(0), None));
        assert!((d.depth + 0.2).abs() < 1e-15);
        assert_eq!(drawdown_series(&[0.1, -0.1]).len(), 2);
    }
}
