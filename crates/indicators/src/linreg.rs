use crate::moments::Moments2;
use crate::{Indicator, IndicatorError, Series, check_window, run};

/// R² of the OLS fit of the last `n` values on time (TA-Lib `CORREL(values, index)²`).
/// A flat window has no trend: 0. Always in `[0, 1]`.
#[derive(Debug, Clone)]
pub struct LinRegR2 {
    t: f64,
    m: Moments2,
}

impl LinRegR2 {
    pub fn new(n: usize) -> Result<Self, IndicatorError> {
        check_window("linreg_r2", n, 2)?;
        Ok(LinRegR2 {
            t: 0.0,
            m: Moments2::with_exact_x(n),
        })
    }
}

impl Indicator for LinRegR2 {
    type Input = f64;

    fn update(&mut self, y: f64) -> Option<f64> {
        self.m.push(self.t, y);
        self.t += 1.0;
        if !self.m.is_full() {
            return None;
        }
        let (sxx, syy, sxy) = (self.m.m2x(), self.m.m2y(), self.m.cxy());
        if syy == 0.0 || sxx == 0.0 {
            return Some(0.0);
        }
        Some((sxy * sxy / (sxx * syy)).clamp(0.0, 1.0))
    }

    fn reset(&mut self) {
        self.t = 0.0;
        self.m.clear();
    }
}

/// Batch R² on time.
pub fn linreg_r2(values: &[f64], n: usize) -> Result<Series, IndicatorError> {
    Ok(run(LinRegR2::new(n)?, values.iter().copied()))
}
