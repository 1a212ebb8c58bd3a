use crate::moments::Moments1;
use crate::returns::SimpleReturn;
use crate::{Indicator, IndicatorError, Series, check_window, run};

/// Sample standard deviation (ddof 1) of the last `n` simple returns, × √annualisation.
/// Input: closes. First defined at bar `n` (it needs `n` returns).
#[derive(Debug, Clone)]
pub struct RollingVol {
    ret: SimpleReturn,
    m: Moments1,
    scale: f64,
}

impl RollingVol {
    /// `periods_per_year` is 252 for exchanges, 365 for crypto (1 for no annualisation).
    pub fn new(n: usize, periods_per_year: f64) -> Result<Self, IndicatorError> {
        check_window("rolling_vol", n, 2)?;
        Ok(RollingVol {
            ret: SimpleReturn::new(),
            m: Moments1::new(n),
            scale: periods_per_year.sqrt(),
        })
    }
}

impl Indicator for RollingVol {
    type Input = f64;

    fn update(&mut self, close: f64) -> Option<f64> {
        let r = self.ret.update(close)?;
        self.m.push(r);
        self.m
            .is_full()
            .then(|| (self.m.m2() / (self.m.len() as f64 - 1.0)).sqrt() * self.scale)
    }

    fn reset(&mut self) {
        self.ret.reset();
        self.m.clear();
    }
}

/// Batch rolling volatility of closes.
pub fn rolling_vol(
    closes: &[f64],
    n: usize,
    periods_per_year: f64,
) -> Result<Series, IndicatorError> {
    Ok(run(
        RollingVol::new(n, periods_per_year)?,
        closes.iter().copied(),
    ))
}
