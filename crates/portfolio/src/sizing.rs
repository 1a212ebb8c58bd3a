//! The trade sheet's sizing methods (spec/execution-and-buckets.md §1): weights for a set of
//! long candidates from their signal strengths and trailing daily simple returns, within a
//! maximum weight per name and the capital (the weights never sum above 1; the rest is cash).

use std::str::FromStr;

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use crate::{
    PortfolioError, erc_weights, inverse_vol_weights, min_variance_weights, sample_covariance,
};

/// How the capital is split among the candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SizingMethod {
    /// The same amount in every name.
    Equal,
    /// Amounts proportional to signal strength.
    Signal,
    /// `wᵢ ∝ 1/σᵢ`, σ the sample stdev of daily simple returns.
    InverseVol,
    /// Equal risk contribution under the sample covariance.
    RiskParity,
    /// Long-only minimum variance with box bounds `[0, max_weight]`, budget 1 (a QP).
    MinVariance,
    /// Fractional Kelly `f = kelly_fraction · μ/σ²` per name, capped.
    Kelly,
}

impl SizingMethod {
    pub const ALL: [SizingMethod; 6] = [
        SizingMethod::Equal,
        SizingMethod::Signal,
        SizingMethod::InverseVol,
        SizingMethod::RiskParity,
        SizingMethod::MinVariance,
        SizingMethod::Kelly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SizingMethod::Equal => "equal",
            SizingMethod::Signal => "signal",
            SizingMethod::InverseVol => "inverse-vol",
            SizingMethod::RiskParity => "risk-parity",
            SizingMethod::MinVariance => "min-variance",
            SizingMethod::Kelly => "kelly",
        }
    }

    /// True when the method needs return history.
    pub fn needs_returns(self) -> bool {
        !matches!(self, SizingMethod::Equal | SizingMethod::Signal)
    }
}

impl FromStr for SizingMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SizingMethod::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown sizing method {s:?} (one of {})",
                    SizingMethod::ALL.map(|m| m.as_str()).join(", ")
                )
            })
    }
}

/// Limits every method respects.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SizingLimits {
    /// Largest weight of one name (a fraction of the capital).
    pub max_weight: f64,
    /// Kelly's fraction of the full Kelly bet.
    pub kelly_fraction: f64,
}

impl Default for SizingLimits {
    fn default() -> Self {
        SizingLimits {
            max_weight: 1.0,
            kelly_fraction: 0.25,
        }
    }
}

/// Weights for the candidates (same order as `signals` and `returns`), each in
/// `[0, max_weight]`, summing to at most 1. `returns` holds one column of daily simple
/// returns per candidate, all over the same dates (ignored by `equal` and `signal`).
pub fn size(
    method: SizingMethod,
    signals: &[f64],
    returns: &[&[f64]],
    limits: SizingLimits,
) -> Result<Vec<f64>, PortfolioError> {
    let n = signals.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let cap = limits.max_weight;
    if !(cap > 0.0 && cap <= 1.0) {
        return Err(PortfolioError::Input(format!(
            "max_weight must be in (0, 1], got {cap}"
        )));
    }
    if let Some(s) = signals.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(PortfolioError::Input(format!(
            "candidates need a positive signal, got {s}"
        )));
    }
    if method.needs_returns() {
        if returns.len() != n {
            return Err(PortfolioError::Input(format!(
                "{} return columns for {n} candidates",
                returns.len()
            )));
        }
        let len = returns[0].len();
        if len < 2 || returns.iter().any(|c| c.len() != len) {
            return Err(PortfolioError::Input(
                "every candidate needs the same two or more returns".into(),
            ));
        }
        if let Some(x) = returns
            .iter()
            .flat_map(|c| c.iter())
            .find(|x| !x.is_finite())
        {
            return Err(PortfolioError::Input(format!(
                "a return is not finite: {x}"
            )));
        }
    }
    let cov = || -> Result<DMatrix<f64>, PortfolioError> { sample_covariance(returns) };
    let raw = match method {
        SizingMethod::Equal => vec![1.0 / n as f64; n],
        SizingMethod::Signal => {
            let total: f64 = signals.iter().sum();
            signals.iter().map(|s| s / total).collect()
        }
        SizingMethod::InverseVol => {
            let c = cov()?;
            inverse_vol_weights(&(0..n).map(|i| c[(i, i)].sqrt()).collect::<Vec<_>>())?
        }
        SizingMethod::RiskParity => erc_weights(&cov()?)?,
        SizingMethod::MinVariance => {
            // The cap is a bound of the QP itself; when n·cap < 1 the budget cannot be met
            // and every name sits at the cap (the rest is cash).
            if n as f64 * cap < 1.0 {
                return Ok(vec![cap; n]);
            }
            return min_variance_weights(&cov()?, &vec![0.0; n], &vec![cap; n])
                .map(|w| w.into_iter().map(|x| x.clamp(0.0, cap)).collect());
        }
        SizingMethod::Kelly => {
            let f = limits.kelly_fraction;
            if !(f > 0.0 && f <= 1.0) {
                return Err(PortfolioError::Input(format!(
                    "kelly_fraction must be in (0, 1], got {f}"
                )));
            }
            let c = cov()?;
            let w: Vec<f64> = (0..n)
                .map(|i| {
                    let mu = returns[i].iter().sum::<f64>() / returns[i].len() as f64;
                    (f * mu / c[(i, i)]).clamp(0.0, cap)
                })
                .collect();
            // Kelly sizes are absolute: capped, never topped up; scaled down to the capital.
            let total: f64 = w.iter().sum();
            return Ok(if total > 1.0 {
                w.iter().map(|x| x / total).collect()
            } else {
                w
            });
        }
    };
    Ok(cap_and_redistribute(&raw, cap))
}

/// Caps each weight at `cap`, handing the excess to the uncapped names in proportion to
/// their weights; when every name is capped the rest stays in cash.
pub fn cap_and_redistribute(raw: &[f64], cap: f64) -> Vec<f64> {
    let mut w = raw.to_vec();
    let mut capped = vec![false; w.len()];
    loop {
        let over: Vec<usize> = (0..w.len())
            .filter(|&i| !capped[i] && w[i] > cap + 1e-15)
            .collect();
        if over.is_empty() {
            break;
        }
        for &i in &over {
            capped[i] = true;
            w[i] = cap;
        }
        let fixed: f64 = (0..w.len()).filter(|&i| capped[i]).map(|i| w[i]).sum();
        let free: f64 = (0..w.len()).filter(|&i| !capped[i]).map(|i| raw[i]).sum();
        let room = (1.0 - fixed).max(0.0);
        if free <= 0.0 {
            break;
        }
        for i in (0..w.len()).filter(|&i| !capped[i]) {
            w[i] = raw[i] / free * room;
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn test_hand_checked_cases() {
        let none: [&[f64]; 0] = [];
        let lim = SizingLimits::default();
        assert_eq!(
            size(SizingMethod::Equal, &[0.5, 0.9, 0.1, 1.0], &none, lim).unwrap(),
            vec![0.25; 4]
        );
        // $ ∝ strength: 0.2/1.0, 0.3/1.0, 0.5/1.0.
        let w = size(SizingMethod::Signal, &[0.2, 0.3, 0.5], &none, lim).unwrap();
        assert!((w[0] - 0.2).abs() < 1e-15 && (w[2] - 0.5).abs() < 1e-15);
        // A cap of 0.4 on (0.2, 0.3, 0.5): 0.5 → 0.4, its 0.1 goes 2:3 to the others.
        let w = size(
            SizingMethod::Signal,
            &[0.2, 0.3, 0.5],
            &none,
            SizingLimits {
                max_weight: 0.4,
                ..lim
            },
        )
        .unwrap();
        assert!((w[0] - 0.24).abs() < 1e-12 && (w[1] - 0.36).abs() < 1e-12 && w[2] == 0.4);
        // Two names capped at 0.3: 0.6 invested, 0.4 cash.
        let w = size(
            SizingMethod::Equal,
            &[1.0, 1.0],
            &none,
            SizingLimits {
                max_weight: 0.3,
                ..lim
            },
        )
        .unwrap();
        assert_eq!(w, vec![0.3, 0.3]);
        // Inverse vol: a has twice b's stdev, so b gets twice a's weight.
        let a = [0.02, -0.02, 0.02, -0.02];
        let b = [0.01, -0.01, 0.01, -0.01];
        let w = size(SizingMethod::InverseVol, &[1.0, 1.0], &[&a, &b], lim).unwrap();
        assert!((w[0] - 1.0 / 3.0).abs() < 1e-12 && (w[1] - 2.0 / 3.0).abs() < 1e-12);
        // Kelly: μ = 0.005, σ² = 0.0001/… per name → 0.25 · μ/σ².
        let k = [0.015, -0.005, 0.015, -0.005];
        let w = size(
            SizingMethod::Kelly,
            &[1.0],
            &[&k],
            SizingLimits {
                max_weight: 1.0,
                kelly_fraction: 0.25,
            },
        )
        .unwrap();
        let var = 4.0 * 0.01f64.powi(2) / 3.0;
        assert!(
            (w[0] - (0.25 * 0.005 / var).min(1.0)).abs() < 1e-12,
            "{w:?}"
        );
        // A losing name gets nothing from Kelly.
        let lose = [-0.01, 0.0, -0.01, 0.0];
        assert_eq!(
            size(SizingMethod::Kelly, &[1.0], &[&lose], lim).unwrap(),
            vec![0.0]
        );
        assert!(size(SizingMethod::Equal, &[0.0], &none, lim).is_err());
        assert!("kelley".parse::<SizingMethod>().is_err());
        assert_eq!(
            "risk-parity".parse::<SizingMethod>(),
            Ok(SizingMethod::RiskParity)
        );
    }

    proptest! {
        /// Every method keeps each weight in [0, max_weight] and the total at or below 1.
        #[test]
        fn prop_weights_respect_the_cap_and_the_capital(
            sig in proptest::collection::vec(0.01f64..1.0, 1..8),
            seed in 0u64..1000,
            cap in 0.05f64..1.0,
        ) {
            let n = sig.len();
            let cols: Vec<Vec<f64>> = (0..n)
                .map(|i| (0..40).map(|t| {
                    let x = ((seed as f64 + 1.0) * (i as f64 + 1.3) * (t as f64 + 0.7)).sin();
                    0.001 + 0.01 * (i as f64 + 1.0) * x
                }).collect())
                .collect();
            let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
            for m in SizingMethod::ALL {
                let w = size(m, &sig, &refs, SizingLimits { max_weight: cap, kelly_fraction: 0.25 }).unwrap();
                prop_assert_eq!(w.len(), n);
                prop_assert!(w.iter().all(|x| *x >= 0.0 && *x <= cap + 1e-9), "{:?} {:?}", m, w);
                prop_assert!(w.iter().sum::<f64>() <= 1.0 + 1e-9, "{:?} {:?}", m, w);
                if m != SizingMethod::Kelly && n as f64 * cap >= 1.0 {
                    prop_assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-6, "{:?} fully invested {:?}", m, w);
                }
            }
        }
    }
}
