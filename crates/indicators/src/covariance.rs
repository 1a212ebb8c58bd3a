// Matrix updates read best with explicit (i, j) indices.
#![allow(clippy::needless_range_loop)]

use crate::ring::Ring;
use crate::{IndicatorError, check_len, check_window};

/// Sample covariance matrix (ddof 1) of columns of equal length; row-major `k × k`.
/// `None` with fewer than two observations.
pub fn sample_covariance(columns: &[&[f64]]) -> Result<Option<Vec<f64>>, IndicatorError> {
    let k = columns.len();
    let n = columns.first().map_or(0, |c| c.len());
    for c in columns {
        check_len("sample_covariance", n, c.len())?;
    }
    if n < 2 {
        return Ok(None);
    }
    let means: Vec<f64> = columns
        .iter()
        .map(|c| c.iter().sum::<f64>() / n as f64)
        .collect();
    let mut out = vec![0.0; k * k];
    for i in 0..k {
        for j in i..k {
            let s: f64 = columns[i]
                .iter()
                .zip(columns[j])
                .map(|(a, b)| (a - means[i]) * (b - means[j]))
                .sum();
            out[i * k + j] = s / (n as f64 - 1.0);
            out[j * k + i] = out[i * k + j];
        }
    }
    Ok(Some(out))
}

/// Rolling sample covariance matrix (ddof 1) of the last `n` rows of `k` values each, updated
/// in O(k²) per row with centred formulas and recomputed exactly every `n` rows.
#[derive(Debug, Clone)]
pub struct RollingCovariance {
    k: usize,
    rows: Ring<Vec<f64>>,
    mean: Vec<f64>,
    /// Co-moments Σ(xᵢ − x̄ᵢ)(xⱼ − x̄ⱼ), row-major.
    c: Vec<f64>,
    slides: usize,
}

impl RollingCovariance {
    pub fn new(n: usize, k: usize) -> Result<Self, IndicatorError> {
        check_window("covariance", n, 2)?;
        check_window("covariance assets", k, 1)?;
        Ok(RollingCovariance {
            k,
            rows: Ring::new(n),
            mean: vec![0.0; k],
            c: vec![0.0; k * k],
            slides: 0,
        })
    }

    /// Adds one row (one value per asset); returns the `k × k` sample covariance matrix once
    /// `n` rows are in.
    pub fn update(&mut self, row: &[f64]) -> Result<Option<Vec<f64>>, IndicatorError> {
        check_len("covariance row", row.len(), self.k)?;
        let k = self.k;
        match self.rows.push(row.to_vec()) {
            None => {
                let cnt = self.rows.len() as f64;
                let delta: Vec<f64> = (0..k).map(|i| row[i] - self.mean[i]).collect();
                for (m, d) in self.mean.iter_mut().zip(&delta) {
                    *m += d / cnt;
                }
                for i in 0..k {
                    for j in 0..k {
                        self.c[i * k + j] += delta[i] * (row[j] - self.mean[j]);
                    }
                }
            }
            Some(old) => {
                let n = self.rows.cap() as f64;
                for i in 0..k {
                    for j in 0..k {
                        let (mi, mj) = (self.mean[i], self.mean[j]);
                        self.c[i * k + j] += (row[i] - mi) * (row[j] - mj)
                            - (old[i] - mi) * (old[j] - mj)
                            - (row[i] - old[i]) * (row[j] - old[j]) / n;
                    }
                }
                for i in 0..k {
                    self.mean[i] += (row[i] - old[i]) / n;
                }
                self.slides += 1;
                if self.slides >= self.rows.cap() {
                    self.recompute();
                }
            }
        }
        if !self.rows.is_full() {
            return Ok(None);
        }
        let denom = self.rows.cap() as f64 - 1.0;
        Ok(Some(self.c.iter().map(|v| v / denom).collect()))
    }

    fn recompute(&mut self) {
        let (k, n) = (self.k, self.rows.len() as f64);
        for i in 0..k {
            self.mean[i] = self.rows.iter_ref().map(|r| r[i]).sum::<f64>() / n;
        }
        for i in 0..k {
            for j in 0..k {
                self.c[i * k + j] = self
                    .rows
                    .iter_ref()
                    .map(|r| (r[i] - self.mean[i]) * (r[j] - self.mean[j]))
                    .sum();
            }
        }
        self.slides = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_rolling_matches_batch() {
        let a: Vec<f64> = (0..200)
            .map(|i| ((i * 37 % 17) as f64 - 8.0) * 0.01)
            .collect();
        let b: Vec<f64> = (0..200)
            .map(|i| ((i * 11 % 13) as f64 - 6.0) * 0.02 + a[i] * 0.5)
            .collect();
        let mut rc = RollingCovariance::new(30, 2).unwrap();
        for t in 0..200 {
            let got = rc.update(&[a[t], b[t]]).unwrap();
            if t >= 29 {
                let want = sample_covariance(&[&a[t - 29..=t], &b[t - 29..=t]])
                    .unwrap()
                    .unwrap();
                for (g, w) in got.unwrap().iter().zip(&want) {
                    assert!(
                        (g - w).abs() <= 1e-12 * w.abs().max(1e-6),
                        "{t}: {g} vs {w}"
                    );
                }
            } else {
                assert!(got.is_none());
            }
        }
    }
}
