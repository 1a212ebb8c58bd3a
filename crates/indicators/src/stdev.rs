use crate::moments::Moments1;
use crate::{Indicator, IndicatorError, Series, check_window, run};

/// Population standard deviation (ddof 0) of the last `n` values (TA-Lib STDDEV, nbdev 1).
///
/// Unlike TA-Lib, which returns 0 whenever the variance is below 1e-8 in absolute terms (so
/// any series priced under ~1e-4 reads as flat), the result here is scale-free: 0 only for a
/// truly flat window.
#[derive(Debug, Clone)]
pub struct StdDev {
    m: Moments1,
}

impl StdDev {
    pub fn new(n: usize) -> Result<Self, IndicatorError> {
        check_window("stdev", n, 1)?;
        Ok(StdDev {
            m: Moments1::new(n),
        })
    }
}

impl Indicator for StdDev {
    type Input = f64;

    fn update(&mut self, x: f64) -> Option<f64> {
        self.m.push(x);
        self.m
            .is_full()
            .then(|| (self.m.m2() / self.m.len() as f64).sqrt())
    }

    fn reset(&mut self) {
        self.m.clear();
    }
}

/// Batch population standard deviation.
pub fn stdev(values: &[f64], n: usize) -> Result<Series, IndicatorError> {
    Ok(run(StdDev::new(n)?, values.iter().copied()))
}
