//! Target-volatility sizing with sleeve risk budgets and a conditional single-name cap
//! (spec/trend-following.md §4).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::PortfolioError;
use crate::pairwise::{Covariance, dot};

/// Parameters of §4, with the spec's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VolTargetParams {
    /// Annualised target volatility σ*.
    pub target_vol: f64,
    /// Largest sum of weights (no leverage at 1).
    pub max_gross: f64,
    /// Single-name cap when breadth `n_eff` is below the threshold.
    pub cap_narrow: f64,
    /// Single-name cap otherwise.
    pub cap_broad: f64,
    pub n_eff_threshold: f64,
    /// Tolerance of each sleeve's risk share around its budget.
    pub sleeve_tol: f64,
    /// Rounds of the sleeve solve.
    pub sleeve_rounds: usize,
    /// Rounds of the cap redistribution.
    pub cap_rounds: usize,
    /// §3: bars of daily log returns in the covariance.
    pub cov_window: usize,
    /// §3: periods per year that annualise the covariance (365 for crypto).
    pub annualization: f64,
}

impl Default for VolTargetParams {
    fn default() -> Self {
        VolTargetParams {
            target_vol: 0.25,
            max_gross: 1.0,
            cap_narrow: 0.35,
            cap_broad: 0.50,
            n_eff_threshold: 3.0,
            sleeve_tol: 0.05,
            sleeve_rounds: 50,
            cap_rounds: 20,
            cov_window: 60,
            annualization: 365.0,
        }
    }
}

impl VolTargetParams {
    /// Checks every key; the error names it.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.target_vol.is_finite() && self.target_vol > 0.0) {
            return Err(format!(
                "target_vol: must be positive (got {})",
                self.target_vol
            ));
        }
        if !(self.max_gross.is_finite() && self.max_gross > 0.0) {
            return Err(format!(
                "max_gross: must be positive (got {})",
                self.max_gross
            ));
        }
        for (name, v) in [
            ("cap_narrow", self.cap_narrow),
            ("cap_broad", self.cap_broad),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= 1.0) {
                return Err(format!("{name}: must be within (0, 1] (got {v})"));
            }
        }
        if !(self.sleeve_tol.is_finite() && self.sleeve_tol >= 0.0) {
            return Err(format!(
                "sleeve_tol: must be a non-negative number (got {})",
                self.sleeve_tol
            ));
        }
        if self.cov_window < 2 {
            return Err(format!(
                "cov_window: needs at least 2 returns (got {})",
                self.cov_window
            ));
        }
        if !(self.annualization.is_finite() && self.annualization > 0.0) {
            return Err(format!(
                "annualization: must be positive (got {})",
                self.annualization
            ));
        }
        if !(self.n_eff_threshold.is_finite() && self.n_eff_threshold >= 1.0) {
            return Err(format!(
                "n_eff_threshold: must be at least 1 (got {})",
                self.n_eff_threshold
            ));
        }
        Ok(())
    }
}

/// Weights and the diagnostics §4.6 asks for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VolTargetResult {
    pub weights: Vec<f64>,
    /// Ex-ante volatility after scaling and the leverage limit, before the cap.
    pub vol_pre_cap: f64,
    /// Ex-ante volatility of the final weights.
    pub vol_post_cap: f64,
    /// Breadth `(Σw)²/Σw²` before the cap.
    pub n_eff: f64,
    /// The cap in force.
    pub cap_used: f64,
    pub gross: f64,
    /// Each active sleeve's share of portfolio variance (final weights).
    pub sleeve_shares: BTreeMap<String, f64>,
    /// Largest |share − renormalised budget| after the sleeve solve.
    pub sleeve_residual: f64,
    pub sleeve_rounds_used: usize,
}

fn variance<C: Covariance + ?Sized>(cov: &C, w: &[f64]) -> f64 {
    cov.quadratic(w).max(0.0)
}

/// Each sleeve's share of portfolio variance: Σ_{i∈s} wᵢ(Σw)ᵢ / wᵀΣw.
fn sleeve_shares<C: Covariance + ?Sized>(
    cov: &C,
    w: &[f64],
    sleeve_of: &[usize],
    n_sleeves: usize,
) -> Vec<f64> {
    let sw = cov.times(w);
    let total = dot(w, &sw);
    let mut out = vec![0.0; n_sleeves];
    if total <= 0.0 {
        return out;
    }
    for i in 0..w.len() {
        out[sleeve_of[i]] += w[i] * sw[i] / total;
    }
    out
}

/// Sizes `raw` (≥ 0; e.g. signal/σ) to the target volatility under sleeve risk budgets, no
/// leverage and the conditional single-name cap. `cov` is annualised; `sleeve_of[i]` indexes
/// `sleeves` (name, budget). Budgets are renormalised over the sleeves that hold anything.
pub fn target_vol_weights<C: Covariance + ?Sized>(
    raw: &[f64],
    cov: &C,
    sleeve_of: &[usize],
    sleeves: &[(String, f64)],
    p: &VolTargetParams,
) -> Result<VolTargetResult, PortfolioError> {
    let n = cov.check()?;
    if raw.len() != n || sleeve_of.len() != n {
        return Err(PortfolioError::Input(format!(
            "{} raw weights and {} sleeve labels for {n} assets",
            raw.len(),
            sleeve_of.len()
        )));
    }
    if let Some(i) = raw.iter().position(|x| !x.is_finite() || *x < 0.0) {
        return Err(PortfolioError::Input(format!(
            "raw weight {i} must be finite and non-negative, got {}",
            raw[i]
        )));
    }
    if sleeve_of.iter().any(|s| *s >= sleeves.len()) {
        return Err(PortfolioError::Input(
            "a sleeve label is out of range".into(),
        ));
    }
    let empty = VolTargetResult {
        weights: vec![0.0; n],
        vol_pre_cap: 0.0,
        vol_post_cap: 0.0,
        n_eff: 0.0,
        cap_used: p.cap_narrow,
        gross: 0.0,
        sleeve_shares: BTreeMap::new(),
        sleeve_residual: 0.0,
        sleeve_rounds_used: 0,
    };
    if raw.iter().all(|x| *x == 0.0) {
        return Ok(empty);
    }

    // 1. Sleeve multipliers so each active sleeve's risk share meets its renormalised budget.
    let k = sleeves.len();
    let active: Vec<bool> = (0..k)
        .map(|s| (0..n).any(|i| sleeve_of[i] == s && raw[i] > 0.0))
        .collect();
    let budget_total: f64 = (0..k).filter(|s| active[*s]).map(|s| sleeves[s].1).sum();
    let budget: Vec<f64> = (0..k)
        .map(|s| {
            if active[s] && budget_total > 0.0 {
                sleeves[s].1 / budget_total
            } else {
                0.0
            }
        })
        .collect();
    let mut mult = vec![1.0; k];
    let weights_of =
        |mult: &[f64]| -> Vec<f64> { (0..n).map(|i| raw[i] * mult[sleeve_of[i]]).collect() };
    let mut w = weights_of(&mult);
    let mut rounds = 0;
    let mut residual = 0.0;
    for r in 0..p.sleeve_rounds {
        let shares = sleeve_shares(cov, &w, sleeve_of, k);
        residual = (0..k)
            .filter(|s| active[*s])
            .map(|s| (shares[s] - budget[s]).abs())
            .fold(0.0, f64::max);
        rounds = r;
        if residual <= p.sleeve_tol {
            break;
        }
        for s in (0..k).filter(|s| active[*s]) {
            if shares[s] > 0.0 {
                mult[s] *= (budget[s] / shares[s]).sqrt();
            }
        }
        w = weights_of(&mult);
        rounds = r + 1;
    }
    if rounds == p.sleeve_rounds {
        let shares = sleeve_shares(cov, &w, sleeve_of, k);
        residual = (0..k)
            .filter(|s| active[*s])
            .map(|s| (shares[s] - budget[s]).abs())
            .fold(0.0, f64::max);
    }

    // 2–3. Scale to the target volatility, then no leverage.
    let vol = variance(cov, &w).sqrt();
    let scale = p.target_vol / vol.max(1e-8);
    for x in &mut w {
        *x *= scale;
    }
    let gross: f64 = w.iter().sum();
    if gross > p.max_gross {
        for x in &mut w {
            *x *= p.max_gross / gross;
        }
    }
    let vol_pre_cap = variance(cov, &w).sqrt();

    // 4. Conditional single-name cap with pro-rata redistribution of the clipped excess.
    let (sum, sum_sq): (f64, f64) = (w.iter().sum(), w.iter().map(|x| x * x).sum());
    let n_eff = if sum_sq > 0.0 {
        sum * sum / sum_sq
    } else {
        0.0
    };
    let cap = if n_eff < p.n_eff_threshold {
        p.cap_narrow
    } else {
        p.cap_broad
    };
    let vol_limit = vol_pre_cap.min(p.target_vol);
    for _ in 0..p.cap_rounds {
        let excess: f64 = w.iter().map(|x| (x - cap).max(0.0)).sum();
        if excess <= 1e-15 {
            break;
        }
        for x in &mut w {
            *x = x.min(cap);
        }
        let room_gross = (p.max_gross - w.iter().sum::<f64>()).max(0.0);
        let open: Vec<usize> = (0..n).filter(|&i| w[i] > 0.0 && w[i] < cap).collect();
        let base: f64 = open.iter().map(|&i| w[i]).sum();
        if open.is_empty() || base <= 0.0 {
            break;
        }
        let give = excess.min(room_gross);
        let add: Vec<f64> = (0..n)
            .map(|i| {
                if open.contains(&i) {
                    (give * w[i] / base).min(cap - w[i])
                } else {
                    0.0
                }
            })
            .collect();
        // The largest fraction of the additions that keeps the volatility within the limit.
        let with = |t: f64| -> Vec<f64> { (0..n).map(|i| w[i] + t * add[i]).collect() };
        let mut t = 1.0;
        if variance(cov, &with(1.0)).sqrt() > vol_limit {
            let (mut lo, mut hi) = (0.0, 1.0);
            for _ in 0..60 {
                let mid = 0.5 * (lo + hi);
                if variance(cov, &with(mid)).sqrt() > vol_limit {
                    hi = mid
                } else {
                    lo = mid
                }
            }
            t = lo;
        }
        let moved: f64 = add.iter().map(|a| a * t).sum();
        w = with(t);
        if moved <= 1e-15 {
            break;
        }
    }
    // Clipping a name that hedges the others can raise the volatility above the target;
    // scaling everything down keeps the caps and the gross limit and restores it.
    let vol_clipped = variance(cov, &w).sqrt();
    if vol_clipped > p.target_vol {
        let k = p.target_vol / vol_clipped;
        for x in &mut w {
            *x *= k;
        }
    }
    let vol_post_cap = variance(cov, &w).sqrt();
    let final_shares = sleeve_shares(cov, &w, sleeve_of, k);
    Ok(VolTargetResult {
        gross: w.iter().sum(),
        weights: w,
        vol_pre_cap,
        vol_post_cap,
        n_eff,
        cap_used: cap,
        sleeve_shares: (0..k)
            .filter(|s| active[*s])
            .map(|s| (sleeves[s].0.clone(), final_shares[s]))
            .collect(),
        sleeve_residual: residual,
        sleeve_rounds_used: rounds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DMatrix;

    fn diag(v: &[f64]) -> DMatrix<f64> {
        DMatrix::from_fn(
            v.len(),
            v.len(),
            |i, j| if i == j { v[i] * v[i] } else { 0.0 },
        )
    }

    #[test]
    fn test_two_sleeves_three_assets_known_answer() {
        // Uncorrelated assets: A (majors, vol 0.6), B and C (alts, vol 0.8 and 1.0), equal raw.
        // Risk shares are wᵢ²σᵢ²/Σ; the solve must bring majors to 0.6 and alts to 0.4 (±tol).
        let cov = diag(&[0.6, 0.8, 1.0]);
        let sleeves = vec![("majors".to_string(), 0.6), ("alts".to_string(), 0.4)];
        let p = VolTargetParams {
            sleeve_tol: 1e-9,
            sleeve_rounds: 200,
            cap_narrow: 1.0,
            cap_broad: 1.0,
            max_gross: 10.0,
            ..VolTargetParams::default()
        };
        let r = target_vol_weights(&[1.0, 1.0, 1.0], &cov, &[0, 1, 1], &sleeves, &p).unwrap();
        let w = &r.weights;
        let total = w[0] * w[0] * 0.36 + w[1] * w[1] * 0.64 + w[2] * w[2];
        assert!(((w[0] * w[0] * 0.36) / total - 0.6).abs() < 1e-6, "{w:?}");
        // Inside the alts sleeve the raw 1:1 ratio is kept.
        assert!((w[1] - w[2]).abs() < 1e-12);
        assert!(
            (r.vol_post_cap - 0.25).abs() < 1e-12,
            "scaled to the target"
        );
        assert!((r.sleeve_shares["majors"] - 0.6).abs() < 1e-6);
        // Hand-derived: majors' multiplier m, alts' a: 0.36 m² / (0.36 m² + 1.64 a²) = 0.6 → m/a = sqrt(0.6·1.64/(0.4·0.36)).
        let ratio = (0.6f64 * 1.64 / (0.4 * 0.36)).sqrt();
        assert!(
            (w[0] / w[1] - ratio).abs() < 1e-6,
            "{} vs {ratio}",
            w[0] / w[1]
        );
    }

    #[test]
    fn test_no_leverage_and_narrow_cap_binds_with_few_names() {
        // Low-vol assets would need leverage to reach 25%: the gross limit binds instead.
        let cov = diag(&[0.05, 0.06, 0.30]);
        let sleeves = vec![("all".to_string(), 1.0)];
        let r = target_vol_weights(
            &[3.0, 1.0, 0.5],
            &cov,
            &[0, 0, 0],
            &sleeves,
            &VolTargetParams::default(),
        )
        .unwrap();
        assert!(r.gross <= 1.0 + 1e-12, "{r:?}");
        assert!(
            r.n_eff < 3.0 && r.cap_used == 0.35,
            "few names: narrow cap: {r:?}"
        );
        assert!(
            r.weights.iter().all(|w| *w <= 0.35 + 1e-12),
            "{:?}",
            r.weights
        );
        assert!(r.vol_post_cap <= 0.25 + 1e-9);
    }

    #[test]
    fn test_cap_redistributes_without_breaking_limits() {
        let cov = diag(&[0.5, 0.6, 0.7, 0.8, 0.9, 1.0]);
        let sleeves = vec![("all".to_string(), 1.0)];
        let r = target_vol_weights(
            &[10.0, 1.0, 1.0, 1.0, 1.0, 1.0],
            &cov,
            &[0; 6],
            &sleeves,
            &VolTargetParams::default(),
        )
        .unwrap();
        assert!(
            r.weights.iter().all(|w| *w <= r.cap_used + 1e-12),
            "{:?}",
            r.weights
        );
        assert!(
            r.gross <= 1.0 + 1e-12 && r.vol_post_cap <= 0.25 + 1e-9,
            "{r:?}"
        );
    }

    #[test]
    fn test_nothing_to_hold() {
        let r = target_vol_weights(
            &[0.0, 0.0],
            &diag(&[0.5, 0.5]),
            &[0, 0],
            &[("a".into(), 1.0)],
            &VolTargetParams::default(),
        )
        .unwrap();
        assert_eq!(r.weights, vec![0.0, 0.0]);
        assert!(
            target_vol_weights(
                &[-1.0, 0.0],
                &diag(&[0.5, 0.5]),
                &[0, 0],
                &[("a".into(), 1.0)],
                &VolTargetParams::default()
            )
            .is_err()
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// §9: whatever the covariance and the signals, the sized weights are long-only,
            /// within the gross limit, within the cap in force and within the target vol.
            #[test]
            fn prop_sizing_limits_hold(
                n in 1usize..8,
                seed in prop::collection::vec(-1.0f64..1.0, 64),
                raw in prop::collection::vec(0.0f64..2.0, 8),
                vols in prop::collection::vec(0.05f64..1.5, 8),
                target in 0.05f64..0.6,
                max_gross in 0.3f64..1.5,
                sleeves_of in prop::collection::vec(0usize..2, 8),
            ) {
                // A correlation from random factors, scaled by the vols: always PSD.
                let a = DMatrix::from_fn(n, 3, |i, j| seed[i * 3 + j]);
                let mut c = &a * a.transpose();
                for i in 0..n {
                    c[(i, i)] += 0.2;
                }
                let d: Vec<f64> = (0..n).map(|i| c[(i, i)].sqrt()).collect();
                let cov = DMatrix::from_fn(n, n, |i, j| c[(i, j)] / (d[i] * d[j]) * vols[i] * vols[j]);
                let p = VolTargetParams { target_vol: target, max_gross, ..VolTargetParams::default() };
                let sleeves = vec![("majors".to_string(), 0.6), ("alts".to_string(), 0.4)];
                let r = target_vol_weights(&raw[..n], &cov, &sleeves_of[..n], &sleeves, &p).unwrap();
                let gross: f64 = r.weights.iter().sum();
                prop_assert!(gross <= max_gross + 1e-12, "gross {}", gross);
                let vol = variance(&cov, &r.weights).sqrt();
                prop_assert!(vol <= target + 1e-9, "vol {} > {}", vol, target);
                prop_assert!((vol - r.vol_post_cap).abs() < 1e-12);
                for (w, x) in r.weights.iter().zip(&raw[..n]) {
                    prop_assert!(*w >= 0.0 && *w <= r.cap_used + 1e-12, "weight {}", w);
                    if *x == 0.0 {
                        prop_assert_eq!(*w, 0.0);
                    }
                }
                let names = r.weights.iter().filter(|w| **w > 0.0).count();
                if (1..=3).contains(&names) && r.n_eff < p.n_eff_threshold {
                    prop_assert_eq!(r.cap_used, p.cap_narrow);
                }
                prop_assert!(names > 3 || r.n_eff <= names as f64 + 1e-9);
            }
        }
    }
}
