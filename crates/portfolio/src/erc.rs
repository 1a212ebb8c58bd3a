use nalgebra::{DMatrix, DVector};

use crate::{PortfolioError, check_cov};

/// Risk contributions `wᵢ(Σw)ᵢ / wᵀΣw`, summing to 1.
pub fn risk_contributions(cov: &DMatrix<f64>, w: &[f64]) -> Vec<f64> {
    let wv = DVector::from_column_slice(w);
    let sw = cov * &wv;
    let total = wv.dot(&sw);
    (0..w.len()).map(|i| w[i] * sw[i] / total).collect()
}

/// Equal-risk-contribution (risk-parity) weights: every asset contributes `1/n` of the
/// portfolio variance. Solved by Newton's method on the strictly convex
/// `½yᵀΣy − (1/n)Σ ln yᵢ`, whose minimiser has `yᵢ(Σy)ᵢ = 1/n`; then `w = y/Σy`.
pub fn erc_weights(cov: &DMatrix<f64>) -> Result<Vec<f64>, PortfolioError> {
    let n = check_cov(cov)?;
    let nf = n as f64;
    let f = |y: &DVector<f64>| 0.5 * y.dot(&(cov * y)) - y.iter().map(|v| v.ln()).sum::<f64>() / nf;
    // Start from inverse-vol, scaled so the quadratic and log terms balance.
    let mut y = DVector::from_iterator(n, (0..n).map(|i| 1.0 / cov[(i, i)].sqrt()));
    let scale = (1.0 / y.dot(&(cov * &y))).sqrt();
    y *= scale;
    for _ in 0..200 {
        let sy = cov * &y;
        let grad = &sy - DVector::from_iterator(n, y.iter().map(|v| 1.0 / (nf * v)));
        if grad.amax() <= 1e-15 * sy.amax().max(1.0) {
            break;
        }
        let mut h = cov.clone();
        for i in 0..n {
            h[(i, i)] += 1.0 / (nf * y[i] * y[i]);
        }
        let step = h
            .cholesky()
            .ok_or_else(|| PortfolioError::BadCovariance("not positive definite".into()))?
            .solve(&(-&grad));
        // Backtrack to stay positive and decrease the objective; near the optimum the
        // objective's change is below rounding, so a smaller gradient also counts as progress.
        let f0 = f(&y);
        let g0 = grad.norm();
        let grad_norm = |v: &DVector<f64>| {
            (cov * v - DVector::from_iterator(n, v.iter().map(|x| 1.0 / (nf * x)))).norm()
        };
        let mut t = 1.0;
        let mut moved = false;
        for _ in 0..60 {
            let cand = &y + &step * t;
            if cand.iter().all(|v| *v > 0.0) && (f(&cand) < f0 || grad_norm(&cand) < g0) {
                moved = cand != y;
                y = cand;
                break;
            }
            t *= 0.5;
        }
        if !moved {
            break;
        }
    }
    let total: f64 = y.iter().sum();
    let w: Vec<f64> = y.iter().map(|v| v / total).collect();
    let rc = risk_contributions(cov, &w);
    let worst = rc.iter().map(|r| (r - 1.0 / nf).abs()).fold(0.0, f64::max);
    if worst.is_nan() || worst >= 1e-10 {
        return Err(PortfolioError::Solver(format!(
            "ERC did not converge (risk contributions off by {worst:e})"
        )));
    }
    Ok(w)
}
