use crate::{Indicator, IndicatorError, check_window};

/// Wilder's RSI (TA-Lib): average gain and loss over the first `n` changes, then Wilder
/// smoothing; first defined at bar `n`.
///
/// A window with no movement at all (average gain + loss exactly 0) reads 50, neutral. TA-Lib
/// returns 0 there, and also whenever gain + loss is below 1e-8 in absolute terms, which makes
/// it report "oversold" for any coin priced under a cent; this RSI is scale-free.
#[derive(Debug, Clone)]
pub struct Rsi {
    n: usize,
    prev: Option<f64>,
    count: usize,
    gain: f64,
    loss: f64,
}

impl Rsi {
    pub fn new(n: usize) -> Result<Self, IndicatorError> {
        check_window("rsi", n, 1)?;
        Ok(Rsi {
            n,
            prev: None,
            count: 0,
            gain: 0.0,
            loss: 0.0,
        })
    }

    fn value(&self) -> f64 {
        let total = self.gain + self.loss;
        if total == 0.0 {
            50.0
        } else {
            100.0 * (self.gain / total)
        }
    }
}

impl Indicator for Rsi {
    type Input = f64;

    fn update(&mut self, x: f64) -> Option<f64> {
        let prev = self.prev.replace(x)?;
        let d = x - prev;
        self.count += 1;
        let n = self.n as f64;
        if self.count > self.n {
            self.loss *= n - 1.0;
            self.gain *= n - 1.0;
        }
        if d < 0.0 {
            self.loss -= d;
        } else {
            self.gain += d;
        }
        if self.count < self.n {
            return None;
        }
        self.loss /= n;
        self.gain /= n;
        Some(self.value())
    }

    fn reset(&mut self) {
        *self = Rsi {
            n: self.n,
            prev: None,
            count: 0,
            gain: 0.0,
            loss: 0.0,
        };
    }
}

/// Batch RSI: the same operations as [`Rsi`] in a tight loop (bit-identical).
pub fn rsi(values: &[f64], n: usize) -> Result<Vec<Option<f64>>, IndicatorError> {
    check_window("rsi", n, 1)?;
    let nf = n as f64;
    let mut out = Vec::with_capacity(values.len());
    let (mut gain, mut loss) = (0.0f64, 0.0f64);
    for (i, &x) in values.iter().enumerate() {
        if i == 0 {
            out.push(None);
            continue;
        }
        let d = x - values[i - 1];
        if i > n {
            loss *= nf - 1.0;
            gain *= nf - 1.0;
        }
        if d < 0.0 {
            loss -= d;
        } else {
            gain += d;
        }
        if i < n {
            out.push(None);
            continue;
        }
        loss /= nf;
        gain /= nf;
        let total = gain + loss;
        out.push(Some(if total == 0.0 {
            50.0
        } else {
            100.0 * (gain / total)
        }));
    }
    Ok(out)
}
