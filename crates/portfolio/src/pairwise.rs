//! Covariance with gaps: each pair uses the observations both assets have
//! (spec/trend-following.md §3, "pairwise complete observations").

use nalgebra::DMatrix;

use crate::PortfolioError;

/// Columns whose sums one pass over the rows accumulates together.
const LANES: usize = 8;

/// Sample covariance (ddof 1) of columns with missing values (`None`), each pair over the
/// rows where both are present, scaled by `annualise`. A pair with fewer than two common rows
/// is an error naming it (the matrix would be undefined there).
///
/// Nothing is allocated per pair: a complete column is centred once on its mean (every pair
/// of two complete columns shares all rows, so that is each pair's mean), and a pair with a
/// gap is summed in two passes over its common rows. Either way each sum runs in row order,
/// so the result is the same, to the bit, as the textbook per-pair formula. The complete
/// columns' products are accumulated row by row for a whole row of the matrix at once (each
/// entry its own sum, still in row order), which the compiler vectorises across the entries.
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
    // Complete columns, centred on their mean (`None` for a column with a gap).
    let centred: Vec<Option<Vec<f64>>> = columns
        .iter()
        .map(|c| {
            let xs: Vec<f64> = c.iter().map_while(|x| *x).collect();
            (xs.len() == n && n >= 2).then(|| {
                let mean = xs.iter().sum::<f64>() / n as f64;
                xs.iter().map(|x| x - mean).collect()
            })
        })
        .collect();
    // The complete columns' centred values, row-major (row t holds every complete column).
    let mut place: Vec<Option<usize>> = vec![None; k];
    let mut complete = 0;
    for (i, c) in centred.iter().enumerate() {
        if c.is_some() {
            place[i] = Some(complete);
            complete += 1;
        }
    }
    let mut by_row = vec![0.0; n * complete];
    for (i, c) in centred.iter().enumerate() {
        if let (Some(c), Some(p)) = (c, place[i]) {
            for (t, x) in c.iter().enumerate() {
                by_row[t * complete + p] = *x;
            }
        }
    }
    // Σ_t a_t·b_t of complete column i with every complete column after it, each sum from
    // −0.0 (as `Iterator::sum`) in row order.
    let dots = |i: usize| -> Vec<f64> {
        let (Some(a), Some(p)) = (&centred[i], place[i]) else {
            return Vec::new();
        };
        let mut acc = vec![-0.0; complete - p];
        // Eight columns at a time, their sums held in registers over all the rows.
        for (b, out) in acc.chunks_mut(LANES).enumerate() {
            let j0 = p + b * LANES;
            let mut r = [-0.0f64; LANES];
            if out.len() == LANES {
                for (t, x) in a.iter().enumerate() {
                    let row = &by_row[t * complete + j0..t * complete + j0 + LANES];
                    for c in 0..LANES {
                        r[c] += x * row[c];
                    }
                }
            } else {
                for (t, x) in a.iter().enumerate() {
                    let row = &by_row[t * complete + j0..t * complete + j0 + out.len()];
                    for (s, y) in r.iter_mut().zip(row) {
                        *s += x * y;
                    }
                }
            }
            out.copy_from_slice(&r[..out.len()]);
        }
        acc
    };
    // Row i of the upper triangle (entries i..k); each entry on its own, so rows may run in
    // parallel without changing a bit.
    let row = |i: usize| -> Result<Vec<f64>, PortfolioError> {
        let d = dots(i);
        let mut r = Vec::with_capacity(k - i);
        for j in i..k {
            r.push(match (place[i], place[j]) {
                (Some(pi), Some(pj)) => d[pj - pi] / (n as f64 - 1.0) * annualise,
                _ => gapped_pair(&columns[i], &columns[j], (i, j))? * annualise,
            });
        }
        Ok(r)
    };
    let rows: Vec<Vec<f64>> = if k >= 64 {
        use rayon::prelude::*;
        (0..k).into_par_iter().map(row).collect::<Result<_, _>>()?
    } else {
        (0..k).map(row).collect::<Result<_, _>>()?
    };
    let mut out = DMatrix::zeros(k, k);
    for (i, r) in rows.iter().enumerate() {
        for (j, c) in (i..k).zip(r) {
            out[(i, j)] = *c;
            out[(j, i)] = *c;
        }
    }
    Ok(out)
}

/// The sample covariance of two columns over the rows both have (two passes, row order).
fn gapped_pair(
    a: &[Option<f64>],
    b: &[Option<f64>],
    (i, j): (usize, usize),
) -> Result<f64, PortfolioError> {
    let both = || a.iter().zip(b).filter_map(|(x, y)| Some(((*x)?, (*y)?)));
    let (mut m, mut sa, mut sb) = (0usize, 0.0, 0.0);
    for (x, y) in both() {
        m += 1;
        sa += x;
        sb += y;
    }
    if m < 2 {
        return Err(PortfolioError::Input(format!(
            "assets {i} and {j} share {m} observations; covariance needs 2"
        )));
    }
    let mf = m as f64;
    let (mi, mj) = (sa / mf, sb / mf);
    Ok(both().map(|(x, y)| (x - mi) * (y - mj)).sum::<f64>() / (mf - 1.0))
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

    /// The textbook per-pair formula the fast one must equal, to the bit.
    fn naive(columns: &[Vec<Option<f64>>], annualise: f64) -> Option<Vec<f64>> {
        let k = columns.len();
        let mut out = vec![0.0; k * k];
        for i in 0..k {
            for j in i..k {
                let pairs: Vec<(f64, f64)> = (0..columns[0].len())
                    .filter_map(|t| Some((columns[i][t]?, columns[j][t]?)))
                    .collect();
                if pairs.len() < 2 {
                    return None;
                }
                let m = pairs.len() as f64;
                let mi = pairs.iter().map(|p| p.0).sum::<f64>() / m;
                let mj = pairs.iter().map(|p| p.1).sum::<f64>() / m;
                let c = pairs.iter().map(|(a, b)| (a - mi) * (b - mj)).sum::<f64>() / (m - 1.0)
                    * annualise;
                out[i * k + j] = c;
                out[j * k + i] = c;
            }
        }
        Some(out)
    }

    #[test]
    fn test_many_columns_in_parallel_equal_the_per_pair_formula() {
        let cols: Vec<Vec<Option<f64>>> = (0..80)
            .map(|i| {
                (0..40)
                    .map(|t| {
                        let x = ((i * 37 + t * 11) % 97) as f64 / 1000.0 - 0.05;
                        (i % 9 != 0 || t % 7 != 0).then_some(x)
                    })
                    .collect()
            })
            .collect();
        let got = pairwise_covariance(&cols, 252.0).unwrap();
        let want = naive(&cols, 252.0).unwrap();
        for i in 0..80 {
            for j in 0..80 {
                assert_eq!(got[(i, j)].to_bits(), want[i * 80 + j].to_bits());
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn prop_equals_the_per_pair_formula_bit_for_bit(
            cols in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::option::weighted(0.97, -0.2f64..0.2), 30),
                1..8),
        ) {
            let got = pairwise_covariance(&cols, 252.0);
            match naive(&cols, 252.0) {
                None => proptest::prop_assert!(got.is_err()),
                Some(want) => {
                    let got = got.unwrap();
                    let k = cols.len();
                    for i in 0..k {
                        for j in 0..k {
                            proptest::prop_assert_eq!(got[(i, j)].to_bits(), want[i * k + j].to_bits());
                        }
                    }
                }
            }
        }
    }
}
