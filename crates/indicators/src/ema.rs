use crate::{Indicator, IndicatorError, Series, check_window, run};

/// Exponential moving average, α = 2/(n+1), seeded with the SMA of the first `n` values;
/// first `n − 1` undefined (TA-Lib's default compatibility).
#[derive(Debug, Clone)]
pub struct Ema {
    n: usize,
    k: f64,
    count: usize,
    seed_sum: f64,
    value: f64,
}

impl Ema {
    pub fn new(n: usize) -> Result<Self, IndicatorError> {
        check_window("ema", n, 1)?;
        Ok(Ema {
            n,
            k: 2.0 / (n as f64 + 1.0),
            count: 0,
            seed_sum: 0.0,
            value: 0.0,
        })
    }
}

impl Indicator for Ema {
    type Input = f64;

    fn update(&mut self, x: f64) -> Option<f64> {
        self.count += 1;
        if self.count < self.n {
            self.seed_sum += x;
            return None;
        }
        if self.count == self.n {
            self.seed_sum += x;
            self.value = self.seed_sum / self.n as f64;
        } else {
            self.value += (x - self.value) * self.k;
        }
        Some(self.value)
    }

    fn reset(&mut self) {
        self.count = 0;
        self.seed_sum = 0.0;
        self.value = 0.0;
    }
}

/// Batch EMA: the same operations as [`Ema`] in a tight loop (bit-identical).
pub fn ema(values: &[f64], n: usize) -> Result<Series, IndicatorError> {
    check_window("ema", n, 1)?;
    let k = 2.0 / (n as f64 + 1.0);
    let warm = (n - 1).min(values.len());
    let mut out = Vec::with_capacity(values.len());
    let mut seed = 0.0;
    out.extend(values[..warm].iter().map(|&x| {
        seed += x;
        f64::NAN
    }));
    let Some(&first) = values.get(n - 1) else {
        return Ok(Series::from_nan_values(out));
    };
    let mut v = (seed + first) / n as f64;
    out.push(v);
    out.extend(values[n..].iter().map(|&x| {
        v += (x - v) * k;
        v
    }));
    Ok(Series::from_nan_values(out))
}

/// Wilder's smoothing, α = 1/n, seeded with the SMA of the first `n` values, computed as
/// TA-Lib does for ATR and RSI, `(prev·(n−1) + x)·(1/n)`, except that the division is a
/// multiplication by the reciprocal: it halves the latency of the recursion and moves values
/// by about one ulp per step (TA-Lib parity stays ~1e-15 relative).
#[derive(Debug, Clone)]
pub struct Wilder {
    n: usize,
    inv_n: f64,
    count: usize,
    seed_sum: f64,
    value: f64,
}

impl Wilder {
    pub fn new(n: usize) -> Result<Self, IndicatorError> {
        check_window("wilder", n, 1)?;
        Ok(Wilder {
            n,
            inv_n: 1.0 / n as f64,
            count: 0,
            seed_sum: 0.0,
            value: 0.0,
        })
    }

    /// The current value, if defined.
    pub fn value(&self) -> Option<f64> {
        (self.count >= self.n).then_some(self.value)
    }
}

impl Indicator for Wilder {
    type Input = f64;

    fn update(&mut self, x: f64) -> Option<f64> {
        self.count += 1;
        if self.count < self.n {
            self.seed_sum += x;
            return None;
        }
        if self.count == self.n {
            self.seed_sum += x;
            self.value = self.seed_sum / self.n as f64;
        } else {
            self.value = (self.value * (self.n as f64 - 1.0) + x) * self.inv_n;
        }
        Some(self.value)
    }

    fn reset(&mut self) {
        self.count = 0;
        self.seed_sum = 0.0;
        self.value = 0.0;
    }
}

/// Batch Wilder smoothing.
pub fn wilder(values: &[f64], n: usize) -> Result<Series, IndicatorError> {
    Ok(run(Wilder::new(n)?, values.iter().copied()))
}
