use crate::ring::Ring;
use crate::{Indicator, IndicatorError, Series, check_window, run};

/// Pivot highs: bar `i` is a pivot when its high is strictly greater than the highs of the
/// `k` bars on each side. That is known only at bar `i + k`, so the value at bar `t` is
/// `Some(high[t − k])` when bar `t − k` is confirmed as a pivot at `t` — aligned to when it
/// can be known, never earlier.
#[derive(Debug, Clone)]
pub struct PivotHigh {
    k: usize,
    ring: Ring<f64>,
    sign: f64,
}

impl PivotHigh {
    pub fn new(k: usize) -> Result<Self, IndicatorError> {
        check_window("pivot", k, 1)?;
        Ok(PivotHigh {
            k,
            ring: Ring::new(2 * k + 1),
            sign: 1.0,
        })
    }
}

impl Indicator for PivotHigh {
    type Input = f64;

    fn update(&mut self, x: f64) -> Option<f64> {
        self.ring.push(self.sign * x);
        if !self.ring.is_full() {
            return None;
        }
        let mid = self.ring.back(self.k);
        let is_pivot = (0..self.ring.cap())
            .filter(|&j| j != self.k)
            .all(|j| self.ring.back(j) < mid);
        is_pivot.then_some(self.sign * mid)
    }

    fn reset(&mut self) {
        self.ring.clear();
    }
}

/// Pivot lows: the mirror of [`PivotHigh`] on lows (strictly less than the `k` bars on each
/// side), with the same confirmation alignment.
#[derive(Debug, Clone)]
pub struct PivotLow {
    inner: PivotHigh,
}

impl PivotLow {
    pub fn new(k: usize) -> Result<Self, IndicatorError> {
        let mut inner = PivotHigh::new(k)?;
        inner.sign = -1.0;
        Ok(PivotLow { inner })
    }
}

impl Indicator for PivotLow {
    type Input = f64;

    fn update(&mut self, x: f64) -> Option<f64> {
        self.inner.update(x)
    }

    fn reset(&mut self) {
        self.inner.reset();
    }
}

/// Batch pivot highs (aligned to confirmation, see [`PivotHigh`]).
pub fn pivot_high(high: &[f64], k: usize) -> Result<Series, IndicatorError> {
    Ok(run(PivotHigh::new(k)?, high.iter().copied()))
}

/// Batch pivot lows (aligned to confirmation).
pub fn pivot_low(low: &[f64], k: usize) -> Result<Series, IndicatorError> {
    Ok(run(PivotLow::new(k)?, low.iter().copied()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_pivot_confirmed_k_bars_later() {
        let h = [1.0, 2.0, 5.0, 3.0, 2.0, 6.0, 6.0, 1.0, 0.5];
        let p = pivot_high(&h, 2).unwrap();
        assert_eq!(p.get(4), Some(5.0), "bar 2 confirmed at bar 4");
        assert!(
            p.iter().enumerate().all(|(i, v)| i == 4 || v.is_none()),
            "equal highs at 5/6 are not strict pivots: {p:?}"
        );
        let l = pivot_low(&[5.0, 4.0, 1.0, 4.0, 5.0], 2).unwrap();
        assert_eq!(l.get(4), Some(1.0));
    }
}
