//! Covariance with gaps: each pair uses the observations both assets have
//! (spec/trend-following.md §3, "pairwise complete observations").
//!
//! [`SampleCovariance`] keeps the covariance as the centred returns themselves: a product Σw
//! costs two passes over the returns (rows × assets) instead of one over the assets² matrix,
//! and building it costs one pass instead of rows × assets². [`pairwise_covariance`] writes
//! the whole matrix out from it, for methods that need the entries.

use nalgebra::{DMatrix, DVector};

use crate::PortfolioError;

/// Columns whose sums one pass over the rows accumulates together.
const LANES: usize = 8;

/// A covariance a sizing method reads through products: the entries of a built matrix, or
/// the returns they come from.
pub trait Covariance {
    /// Number of assets.
    fn dim(&self) -> usize;
    /// Entry (i, i).
    fn variance_of(&self, i: usize) -> f64;
    /// The product Σw.
    fn times(&self, w: &[f64]) -> Vec<f64>;
    /// wᵀΣw.
    fn quadratic(&self, w: &[f64]) -> f64;
    /// The number of assets, or why the covariance cannot be used (not square, not
    /// symmetric, a variance that is not positive).
    fn check(&self) -> Result<usize, PortfolioError>;
}

impl Covariance for DMatrix<f64> {
    fn dim(&self) -> usize {
        self.nrows()
    }
    fn variance_of(&self, i: usize) -> f64 {
        self[(i, i)]
    }
    fn times(&self, w: &[f64]) -> Vec<f64> {
        (self * DVector::from_column_slice(w)).as_slice().to_vec()
    }
    fn quadratic(&self, w: &[f64]) -> f64 {
        crate::portfolio_variance(self, w)
    }
    fn check(&self) -> Result<usize, PortfolioError> {
        crate::check_cov(self)
    }
}

/// The sample covariance (ddof 1, scaled by `annualise`) of return columns with missing
/// values (`None`), each pair over the rows where both are present — held as the columns.
///
/// A column without gaps is centred once on its mean (every pair of two such columns shares
/// all rows, so that is each pair's mean); their block is `XᵀX/(n−1)` of the centred rows and
/// is never written out. A column with a gap keeps its whole row of the matrix, each entry
/// summed in two passes over the rows it shares with the other column.
#[derive(Debug, Clone)]
pub struct SampleCovariance {
    k: usize,
    rows: usize,
    annualise: f64,
    /// Each asset's place among the complete columns (`None` for a column with a gap).
    place: Vec<Option<usize>>,
    /// The complete columns' centred values, row-major (row t holds every complete column).
    by_row: Vec<f64>,
    /// The assets of the complete columns, in order.
    complete: Vec<usize>,
    /// Each column with a gap: its asset and its row of the (annualised) matrix.
    gapped: Vec<(usize, Vec<f64>)>,
    /// The (annualised) variances.
    diag: Vec<f64>,
}

impl SampleCovariance {
    /// The covariance of `columns` (all of one length). A pair with fewer than two common
    /// rows is an error naming it (the matrix would be undefined there).
    pub fn new(columns: &[Vec<Option<f64>>], annualise: f64) -> Result<Self, PortfolioError> {
        let k = columns.len();
        if k == 0 {
            return Err(PortfolioError::Empty);
        }
        let n = columns[0].len();
        if columns.iter().any(|c| c.len() != n) {
            return Err(PortfolioError::Input("columns of different lengths".into()));
        }
        // The complete columns and each one's place among them.
        let mut place: Vec<Option<usize>> = vec![None; k];
        let mut complete = Vec::new();
        for (i, col) in columns.iter().enumerate() {
            if n >= 2 && col.iter().all(Option::is_some) {
                place[i] = Some(complete.len());
                complete.push(i);
            }
        }
        let c = complete.len();
        // Each complete column centred on its mean, written row by row, and its variance:
        // Σ x² from −0.0 in row order, as the matrix's.
        let mut by_row = vec![0.0; n * c];
        let mut diag = vec![0.0; k];
        for (p, &i) in complete.iter().enumerate() {
            let col = &columns[i];
            let mean = col.iter().flatten().sum::<f64>() / n as f64;
            let mut s = -0.0;
            for (t, x) in col.iter().flatten().enumerate() {
                let d = x - mean;
                by_row[t * c + p] = d;
                s += d * d;
            }
            diag[i] = s / (n as f64 - 1.0) * annualise;
        }
        // Rows of the columns with gaps (each pair of two such columns computed once).
        let gaps: Vec<usize> = (0..k).filter(|i| place[*i].is_none()).collect();
        // Each asset's place among the columns with a gap.
        let mut gap_of: Vec<Option<usize>> = vec![None; k];
        for (a, g) in gaps.iter().enumerate() {
            gap_of[*g] = Some(a);
        }
        let mut gapped: Vec<(usize, Vec<f64>)> = gaps.iter().map(|g| (*g, vec![0.0; k])).collect();
        for (a, &g) in gaps.iter().enumerate() {
            for j in 0..k {
                // A pair with an earlier gapped column was filled from that column's row.
                if gap_of[j].is_some() && j < g {
                    continue;
                }
                let v = gapped_pair(&columns[g], &columns[j], (g.min(j), g.max(j)))? * annualise;
                gapped[a].1[j] = v;
                if let Some(b) = gap_of[j].filter(|b| *b != a) {
                    gapped[b].1[g] = v;
                }
            }
            diag[g] = gapped[a].1[g];
        }
        Ok(SampleCovariance {
            k,
            rows: n,
            annualise,
            place,
            by_row,
            complete,
            gapped,
            diag,
        })
    }

    /// Σ_t a_t·b_t of complete column `p` with every complete column from `p` on, each sum
    /// from −0.0 (as `Iterator::sum`) in row order, eight columns at a time in registers.
    fn dots(&self, p: usize) -> Vec<f64> {
        let c = self.complete.len();
        let n = self.rows;
        let a: Vec<f64> = (0..n).map(|t| self.by_row[t * c + p]).collect();
        let mut acc = vec![-0.0; c - p];
        for (b, out) in acc.chunks_mut(LANES).enumerate() {
            let j0 = p + b * LANES;
            let mut r = [-0.0f64; LANES];
            if out.len() == LANES {
                for (t, x) in a.iter().enumerate() {
                    let row = &self.by_row[t * c + j0..t * c + j0 + LANES];
                    for l in 0..LANES {
                        r[l] += x * row[l];
                    }
                }
            } else {
                for (t, x) in a.iter().enumerate() {
                    let row = &self.by_row[t * c + j0..t * c + j0 + out.len()];
                    for (s, y) in r.iter_mut().zip(row) {
                        *s += x * y;
                    }
                }
            }
            out.copy_from_slice(&r[..out.len()]);
        }
        acc
    }

    /// The whole matrix. Each entry is the textbook per-pair formula's, to the bit.
    pub fn to_matrix(&self) -> DMatrix<f64> {
        let k = self.k;
        let n = self.rows as f64;
        // Row i of the upper triangle among complete columns; each entry on its own, so rows
        // may run in parallel without changing a bit.
        let row = |p: usize| -> Vec<f64> {
            self.dots(p)
                .iter()
                .map(|d| d / (n - 1.0) * self.annualise)
                .collect()
        };
        let c = self.complete.len();
        let rows: Vec<Vec<f64>> = if c >= 64 {
            use rayon::prelude::*;
            (0..c).into_par_iter().map(row).collect()
        } else {
            (0..c).map(row).collect()
        };
        let mut out = DMatrix::zeros(k, k);
        for (p, r) in rows.iter().enumerate() {
            let i = self.complete[p];
            for (q, v) in (p..c).zip(r) {
                let j = self.complete[q];
                out[(i, j)] = *v;
                out[(j, i)] = *v;
            }
        }
        for (g, r) in &self.gapped {
            for (j, v) in r.iter().enumerate() {
                out[(*g, j)] = *v;
                out[(j, *g)] = *v;
            }
        }
        out
    }
}

impl Covariance for SampleCovariance {
    fn dim(&self) -> usize {
        self.k
    }

    fn variance_of(&self, i: usize) -> f64 {
        self.diag[i]
    }

    fn times(&self, w: &[f64]) -> Vec<f64> {
        let c = self.complete.len();
        let mut out = vec![0.0; self.k];
        if c > 0 {
            // u = X w over the complete columns, then Xᵀu.
            let wc: Vec<f64> = self.complete.iter().map(|i| w[*i]).collect();
            let mut acc = vec![0.0; c];
            for row in self.by_row.chunks_exact(c) {
                let u = dot(row, &wc);
                for (a, x) in acc.iter_mut().zip(row) {
                    *a += x * u;
                }
            }
            let s = self.annualise / (self.rows as f64 - 1.0);
            for (p, i) in self.complete.iter().enumerate() {
                out[*i] = acc[p] * s;
            }
        }
        for (g, r) in &self.gapped {
            // The gapped column's row, and its column for every complete asset.
            out[*g] = dot(r, w);
            for (j, x) in r.iter().enumerate() {
                if self.place[j].is_some() {
                    out[j] += x * w[*g];
                }
            }
        }
        out
    }

    fn quadratic(&self, w: &[f64]) -> f64 {
        dot(&self.times(w), w)
    }

    fn check(&self) -> Result<usize, PortfolioError> {
        if let Some(i) = (0..self.k).find(|i| !(self.diag[*i].is_finite() && self.diag[*i] > 0.0)) {
            return Err(PortfolioError::BadCovariance(format!(
                "variance of asset {i} is {}",
                self.diag[i]
            )));
        }
        Ok(self.k)
    }
}

/// Σ aᵢbᵢ, summed in eight lanes (so the compiler vectorises it), then the lanes in order.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut lanes = [0.0f64; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            lanes[l] += x[l] * y[l];
        }
    }
    let mut s = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    lanes.iter().sum::<f64>() + s
}

/// Sample covariance (ddof 1) of columns with missing values (`None`), each pair over the
/// rows where both are present, scaled by `annualise`, as a matrix. A pair with fewer than
/// two common rows is an error naming it. Nothing is allocated per pair; each entry equals
/// the textbook per-pair formula, to the bit.
pub fn pairwise_covariance(
    columns: &[Vec<Option<f64>>],
    annualise: f64,
) -> Result<DMatrix<f64>, PortfolioError> {
    Ok(SampleCovariance::new(columns, annualise)?.to_matrix())
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
        /// The products read from the returns equal the written-out matrix's (to rounding),
        /// the variances to the bit, gaps or not; the same inputs fail both ways.
        #[test]
        fn prop_products_equal_the_matrix(
            cols in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::option::weighted(0.97, -0.2f64..0.2), 12),
                1..20),
            w in proptest::collection::vec(-1.0f64..1.0, 20),
        ) {
            let Ok(cov) = SampleCovariance::new(&cols, 252.0) else {
                proptest::prop_assert!(naive(&cols, 252.0).is_none());
                return Ok(());
            };
            let m = cov.to_matrix();
            let k = cols.len();
            let w = &w[..k];
            let want = m.times(w);
            let got = cov.times(w);
            let scale: f64 = m.iter().map(|x| x.abs()).fold(0.0, f64::max);
            for i in 0..k {
                proptest::prop_assert_eq!(cov.variance_of(i).to_bits(), m[(i, i)].to_bits());
                proptest::prop_assert!((got[i] - want[i]).abs() <= 1e-12 * scale.max(1e-300) * k as f64);
            }
            let (q, qm) = (cov.quadratic(w), m.quadratic(w));
            proptest::prop_assert!((q - qm).abs() <= 1e-12 * scale.max(1e-300) * (k * k) as f64);
            proptest::prop_assert_eq!(cov.dim(), k);
        }

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
