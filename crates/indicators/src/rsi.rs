use crate::{Indicator, IndicatorError, Series, check_window};

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
        let inv_n = 1.0 / n;
        // Branch-free (a move's sign is a coin flip): adding +0.0 leaves the other sum
        // exactly as TA-Lib's if/else would.
        self.gain += d.max(0.0);
        self.loss += (-d).max(0.0);
        if self.count < self.n {
            return None;
        }
        // The first average divides the sums; later ones multiply by the reciprocal (as
        // Wilder smoothing does here), halving the recursion's latency.
        if self.count == self.n {
            self.loss /= n;
            self.gain /= n;
        } else {
            self.loss *= inv_n;
            self.gain *= inv_n;
        }
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

/// Batch RSI: the same operations as [`Rsi`] in tight loops (bit-identical): the first `n`
/// changes seed the averages, then a branch-free Wilder recursion.
pub fn rsi(values: &[f64], n: usize) -> Result<Series, IndicatorError> {
    check_window("rsi", n, 1)?;
    let len = values.len();
    let (nf, nm1, inv_n) = (n as f64, n as f64 - 1.0, 1.0 / n as f64);
    let mut out = vec![f64::NAN; len.min(n + 1)];
    if len <= n {
        return Ok(Series::from_nan_values(out));
    }
    out.reserve(len - out.len());
    // Up and down moves; a zero of either sign adds nothing, as in the streaming form.
    let up = |d: f64| if d > 0.0 { d } else { 0.0 };
    let down = |d: f64| if d < 0.0 { -d } else { 0.0 };
    let value = |gain: f64, loss: f64| {
        let total = gain + loss;
        if total == 0.0 {
            50.0
        } else {
            100.0 * (gain / total)
        }
    };
    let (mut gain, mut loss) = (0.0f64, 0.0f64);
    for w in values[..=n].windows(2) {
        let d = w[1] - w[0];
        gain += up(d);
        loss += down(d);
    }
    gain /= nf;
    loss /= nf;
    out[n] = value(gain, loss);
    out.extend(values[n..].windows(2).map(|w| {
        let d = w[1] - w[0];
        gain = (gain * nm1 + up(d)) * inv_n;
        loss = (loss * nm1 + down(d)) * inv_n;
        value(gain, loss)
    }));
    Ok(Series::from_nan_values(out))
}
