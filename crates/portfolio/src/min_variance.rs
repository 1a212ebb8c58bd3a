use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolver, IPSolver, SolverStatus, SupportedConeT,
};
use nalgebra::{DMatrix, DVector};

use crate::{PortfolioError, check_cov};

/// Long-only minimum-variance weights: minimise `wᵀΣw` subject to `Σw = 1` and
/// `lower ≤ w ≤ upper` (per asset). Solved as a QP by clarabel; the solution is then polished
/// by solving the KKT system exactly on its active set (kept only if it is feasible and the
/// bound multipliers have the right signs), so weights are exact to rounding.
pub fn min_variance_weights(
    cov: &DMatrix<f64>,
    lower: &[f64],
    upper: &[f64],
) -> Result<Vec<f64>, PortfolioError> {
    let n = check_cov(cov)?;
    if lower.len() != n || upper.len() != n {
        return Err(PortfolioError::Input(format!(
            "bounds for {} and {} assets, covariance for {n}",
            lower.len(),
            upper.len()
        )));
    }
    for i in 0..n {
        if lower[i].is_nan() || upper[i].is_nan() || lower[i] > upper[i] {
            return Err(PortfolioError::Infeasible(format!(
                "asset {i}: lower {} > upper {}",
                lower[i], upper[i]
            )));
        }
    }
    let (lo_sum, hi_sum): (f64, f64) = (lower.iter().sum(), upper.iter().sum());
    if lo_sum > 1.0 + 1e-12 || hi_sum < 1.0 - 1e-12 {
        return Err(PortfolioError::Infeasible(format!(
            "bounds allow total weight [{lo_sum}, {hi_sum}], not 1"
        )));
    }
    let w = solve_qp(cov, lower, upper)?;
    Ok(polish(cov, lower, upper, &w).unwrap_or(w))
}

fn solve_qp(cov: &DMatrix<f64>, lower: &[f64], upper: &[f64]) -> Result<Vec<f64>, PortfolioError> {
    let n = cov.nrows();
    // ½xᵀPx with P = 2Σ (upper triangle), constraints A x + s = b:
    // [1ᵀ] x = 1 (zero cone); [I] x ≤ upper; [−I] x ≤ −lower (non-negative cone).
    let mut p_rows = Vec::new();
    for i in 0..n {
        p_rows.push(
            (0..n)
                .map(|j| if j >= i { 2.0 * cov[(i, j)] } else { 0.0 })
                .collect::<Vec<f64>>(),
        );
    }
    let mut a_rows: Vec<Vec<f64>> = vec![vec![1.0; n]];
    for i in 0..n {
        a_rows.push((0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect());
    }
    for i in 0..n {
        a_rows.push((0..n).map(|j| if i == j { -1.0 } else { 0.0 }).collect());
    }
    let b: Vec<f64> = std::iter::once(1.0)
        .chain(upper.iter().copied())
        .chain(lower.iter().map(|l| -l))
        .collect();
    let cones = [
        SupportedConeT::ZeroConeT(1),
        SupportedConeT::NonnegativeConeT(2 * n),
    ];
    let settings = DefaultSettingsBuilder::default()
        .verbose(false)
        .max_iter(500)
        .tol_gap_abs(1e-12)
        .tol_gap_rel(1e-12)
        .tol_feas(1e-12)
        .build()
        .map_err(|e| PortfolioError::Solver(format!("settings: {e:?}")))?;
    let mut solver = DefaultSolver::new(
        &CscMatrix::from(&p_rows),
        &vec![0.0; n],
        &CscMatrix::from(&a_rows),
        &b,
        &cones,
        settings,
    )
    .map_err(|e| PortfolioError::Solver(format!("{e:?}")))?;
    solver.solve();
    match solver.solution.status {
        SolverStatus::Solved | SolverStatus::AlmostSolved => Ok(solver.solution.x.clone()),
        other => Err(PortfolioError::Solver(format!("clarabel status {other:?}"))),
    }
}

/// Exact solution on the active set guessed from `w`, if it checks out.
fn polish(cov: &DMatrix<f64>, lower: &[f64], upper: &[f64], w: &[f64]) -> Option<Vec<f64>> {
    let n = w.len();
    let tol = 1e-7;
    let at_lower: Vec<bool> = (0..n).map(|i| w[i] - lower[i] < tol).collect();
    let at_upper: Vec<bool> = (0..n)
        .map(|i| !at_lower[i] && upper[i] - w[i] < tol)
        .collect();
    let free: Vec<usize> = (0..n).filter(|&i| !at_lower[i] && !at_upper[i]).collect();
    let mut x: Vec<f64> = (0..n)
        .map(|i| {
            if at_lower[i] {
                lower[i]
            } else if at_upper[i] {
                upper[i]
            } else {
                0.0
            }
        })
        .collect();
    if free.is_empty() {
        return ((x.iter().sum::<f64>() - 1.0).abs() < 1e-12).then_some(x);
    }
    let k = free.len();
    let sff = DMatrix::from_fn(k, k, |a, b| cov[(free[a], free[b])]);
    let fixed_term = DVector::from_fn(k, |a, _| {
        (0..n)
            .filter(|j| !free.contains(j))
            .map(|j| cov[(free[a], j)] * x[j])
            .sum::<f64>()
    });
    let chol = sff.cholesky()?;
    let a = chol.solve(&DVector::from_element(k, 1.0));
    let b = chol.solve(&fixed_term);
    let fixed_sum: f64 = (0..n).filter(|j| !free.contains(j)).map(|j| x[j]).sum();
    let half_lambda = (1.0 - fixed_sum + b.sum()) / a.sum();
    for (idx, &i) in free.iter().enumerate() {
        x[i] = half_lambda * a[idx] - b[idx];
        if x[i] < lower[i] - 1e-12 || x[i] > upper[i] + 1e-12 {
            return None;
        }
    }
    // Multipliers of the bounds: gradient 2Σx − λ must push against each active bound.
    let g = cov * DVector::from_column_slice(&x);
    for i in 0..n {
        let mu = g[i] - half_lambda;
        if (at_lower[i] && mu < -1e-12) || (at_upper[i] && mu > 1e-12) {
            return None;
        }
    }
    Some(x)
}
