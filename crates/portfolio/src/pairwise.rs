//! Covariance with gaps: each pair uses the observations both assets have
//! (spec/trend-following.md §3, "pairwise complete observations").

use nalgebra::DMatrix;

use crate::PortfolioError;

/// Sample covariance (ddof 1) of columns with missing values (`None`), each pair over the
/// rows where both are present, scaled by `annualise`. A pair with fewer than two common rows
/// is an error naming it (the matrix would be undefined there).
pub fn pairwise_covariance(
    columns: &[Vec<Option<f64>>],
    annualise: f64,
) -> Result<DMatrix<f64>, PortfolioError> {
    let k = columns.len();
    if k == 0 {
        return Err(PortfolioError::Empty);
    }
    let n = columns[0].len();
    if columns.iter().any(|c| c.len() != n) {
        return Err(PortfolioError::Input("columns of different lengths".into()));
    }
    let mut out = DMatrix::zeros(k, k);
    for i in 0..k {
        for j in i..k {
            let pairs: Vec<(f64, f64)> = (0..n)
                .filter_map(|t| Some((columns[i][t]?, columns[j][t]?)))
                .collect();
            if pairs.len() < 2 {
                return Err(PortfolioError::Input(format!(
                    "assets {i} and {j} share {} observations; covariance needs 2",
                    pairs.len()
                )));
            }
            let m = pairs.len() as f64;
            let (mi, mj) = (
                pairs.iter().map(|p| p.0).sum::<f64>() / m,
                pairs.iter().map(|p| p.1).sum::<f64>() / m,
            );
            let c =
                pairs.iter().map(|(a, b)| (a - mi) * (b - mj)).sum::<f64>() / (m - 1.0) * annualise;
            out[(i, j)] = c;
            out[(j, i)] = c;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_complete_columns_equal_sample_covariance() {
        let a = [0.01, -0.02, 0.015, 0.003, -0.007];
        let b = [0.004, -0.01, 0.02, -0.001, 0.0];
        let cols = vec![
            a.iter().map(|x| Some(*x)).collect(),
            b.iter().map(|x| Some(*x)).collect(),
        ];
        let got = pairwise_covariance(&cols, 365.0).unwrap();
        let want = crate::sample_covariance(&[&a, &b]).unwrap() * 365.0;
        assert!((got - want).abs().max() < 1e-15);
    }

    #[test]
    fn test_gaps_use_common_rows_per_pair() {
        let cols = vec![
            vec![Some(1.0), Some(2.0), Some(3.0), None],
            vec![None, Some(2.0), Some(4.0), Some(8.0)],
        ];
        let c = pairwise_covariance(&cols, 1.0).unwrap();
        // Pair (0,1) uses rows 1–2 only: cov of (2,3) and (2,4) = 1·... = 0.5·2 = 1.
        assert!((c[(0, 1)] - 1.0).abs() < 1e-15);
        // Variances use each column's own rows: var(1,2,3) = 1; var(2,4,8) = 28/3.
        assert!((c[(0, 0)] - 1.0).abs() < 1e-15 && (c[(1, 1)] - 28.0 / 3.0).abs() < 1e-12);
        assert!(pairwise_covariance(&[vec![Some(1.0), None], vec![None, Some(1.0)]], 1.0).is_err());
    }
}
