//! Portfolio construction math used by the sizing methods and strategies: sample covariance,
//! inverse-volatility weights, equal-risk-contribution weights, and long-only minimum-variance
//! weights with box bounds (a convex QP solved by clarabel, then polished exactly on its
//! active set).

mod erc;
mod min_variance;
mod pairwise;
pub mod positions;
pub mod sheet;
mod sizing;
mod vol_target;

use nalgebra::DMatrix;

pub use erc::{erc_weights, risk_contributions};
pub use min_variance::min_variance_weights;
pub use pairwise::{Covariance, SampleCovariance, pairwise_covariance};
pub use sizing::{SizingLimits, SizingMethod, cap_and_redistribute, size};
pub use vol_target::{VolTargetParams, VolTargetResult, target_vol_weights};

/// Errors of portfolio math.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PortfolioError {
    #[error("no assets")]
    Empty,
    #[error("covariance must be square and symmetric with positive variances ({0})")]
    BadCovariance(String),
    #[error("bounds are infeasible: {0}")]
    Infeasible(String),
    #[error("solver failed: {0}")]
    Solver(String),
    #[error("{0}")]
    Input(String),
}

/// Sample covariance matrix (ddof 1) of return columns (one column per asset), as a matrix.
pub fn sample_covariance(columns: &[&[f64]]) -> Result<DMatrix<f64>, PortfolioError> {
    let k = columns.len();
    if k == 0 {
        return Err(PortfolioError::Empty);
    }
    let flat = systrade_indicators::sample_covariance(columns)
        .map_err(|e| PortfolioError::Input(e.to_string()))?
        .ok_or_else(|| {
            PortfolioError::Input("covariance needs at least two observations".into())
        })?;
    Ok(DMatrix::from_row_slice(k, k, &flat))
}

/// Inverse-volatility weights `wᵢ = (1/σᵢ)/Σⱼ(1/σⱼ)`.
pub fn inverse_vol_weights(sd: &[f64]) -> Result<Vec<f64>, PortfolioError> {
    if sd.is_empty() {
        return Err(PortfolioError::Empty);
    }
    if let Some(s) = sd.iter().find(|s| !(**s > 0.0 && s.is_finite())) {
        return Err(PortfolioError::Input(format!(
            "volatility must be positive and finite, got {s}"
        )));
    }
    let inv: Vec<f64> = sd.iter().map(|s| 1.0 / s).collect();
    let total: f64 = inv.iter().sum();
    Ok(inv.iter().map(|v| v / total).collect())
}

pub(crate) fn check_cov(cov: &DMatrix<f64>) -> Result<usize, PortfolioError> {
    let n = cov.nrows();
    if n == 0 {
        return Err(PortfolioError::Empty);
    }
    if cov.ncols() != n {
        return Err(PortfolioError::BadCovariance(format!(
            "{}×{}",
            n,
            cov.ncols()
        )));
    }
    for i in 0..n {
        if !cov[(i, i)].is_finite() || cov[(i, i)] <= 0.0 {
            return Err(PortfolioError::BadCovariance(format!(
                "variance of asset {i} is {}",
                cov[(i, i)]
            )));
        }
        for j in 0..i {
            let (a, b) = (cov[(i, j)], cov[(j, i)]);
            // Equal entries pass without the tolerance's square root (a built matrix is
            // symmetric to the bit: this check runs every session of a replay).
            if a == b && a.is_finite() {
                continue;
            }
            if !a.is_finite() || (a - b).abs() > 1e-12 * (cov[(i, i)] * cov[(j, j)]).sqrt() {
                return Err(PortfolioError::BadCovariance(format!(
                    "entries ({i},{j}) and ({j},{i}) differ"
                )));
            }
        }
    }
    Ok(n)
}

/// Portfolio variance `wᵀΣw`.
pub fn portfolio_variance(cov: &DMatrix<f64>, w: &[f64]) -> f64 {
    let w = nalgebra::DVector::from_column_slice(w);
    (w.transpose() * cov * &w)[(0, 0)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_inverse_vol() {
        let w = inverse_vol_weights(&[0.1, 0.2]).unwrap();
        assert!((w[0] - 2.0 / 3.0).abs() < 1e-15 && (w[1] - 1.0 / 3.0).abs() < 1e-15);
        assert!(inverse_vol_weights(&[0.1, 0.0]).is_err());
        assert!(inverse_vol_weights(&[]).is_err());
    }
}
