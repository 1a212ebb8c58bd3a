use crate::moments::EqualRun;
use crate::ring::Ring;
use crate::{Indicator, IndicatorError, Series, check_window};

/// Simple moving average of the last `n` values; first `n − 1` undefined.
///
/// The arithmetic follows TA-Lib's running total (add the new value, divide, then drop the
/// oldest), so values agree with TA-Lib's SMA to ~1e-15 relative. A window of equal values
/// averages to exactly that value (a running sum would give 0.1·3/3 = 0.10000000000000002).
#[derive(Debug, Clone)]
pub struct Sma {
    ring: Ring<f64>,
    /// Sum of the newest `n − 1` values once full.
    partial: f64,
    equal: EqualRun,
}

impl Sma {
    pub fn new(n: usize) -> Result<Self, IndicatorError> {
        check_window("sma", n, 1)?;
        Ok(Sma {
            ring: Ring::new(n),
            partial: 0.0,
            equal: EqualRun::default(),
        })
    }
}

impl Indicator for Sma {
    type Input = f64;

    fn update(&mut self, x: f64) -> Option<f64> {
        let n = self.ring.cap();
        self.ring.push(x);
        self.equal.push(x);
        let total = self.partial + x;
        if self.ring.is_full() {
            // The value that leaves the window with the next bar.
            self.partial = total - self.ring.oldest().unwrap_or(0.0);
            Some(if self.equal.covers(n) {
                x
            } else {
                total / n as f64
            })
        } else {
            self.partial = total;
            None
        }
    }

    fn reset(&mut self) {
        self.ring.clear();
        self.partial = 0.0;
        self.equal.clear();
    }
}

/// Batch SMA: the same operations as [`Sma`] in a tight loop over the slice (bit-identical).
pub fn sma(values: &[f64], n: usize) -> Result<Series, IndicatorError> {
    check_window("sma", n, 1)?;
    let nf = n as f64;
    let warm = (n - 1).min(values.len());
    let mut out = Vec::with_capacity(values.len());
    let mut partial = 0.0;
    let mut run = 0usize;
    let mut prev = f64::NAN;
    out.extend(values[..warm].iter().map(|&x| {
        run = if x == prev { run + 1 } else { 1 };
        prev = x;
        partial += x;
        f64::NAN
    }));
    // Each window `w` ends at the current value; `w[0]` leaves with the next bar.
    out.extend(values.windows(n).map(|w| {
        let x = w[n - 1];
        run = if x == prev { run + 1 } else { 1 };
        prev = x;
        let total = partial + x;
        partial = total - w[0];
        if run >= n { x } else { total / nf }
    }));
    Ok(Series::from_nan_values(out))
}
