use crate::moments::Moments2;
use crate::{Indicator, IndicatorError, Series, check_len, check_window, run};

/// OLS slope of asset returns on benchmark returns over the last `n` pairs. Input:
/// `(benchmark_return, asset_return)`. `None` while the benchmark window is flat.
#[derive(Debug, Clone)]
pub struct Beta {
    m: Moments2,
}

impl Beta {
    pub fn new(n: usize) -> Result<Self, IndicatorError> {
        check_window("beta", n, 2)?;
        Ok(Beta {
            m: Moments2::new(n),
        })
    }
}

impl Indicator for Beta {
    type Input = (f64, f64);

    fn update(&mut self, (bench, asset): (f64, f64)) -> Option<f64> {
        self.m.push(bench, asset);
        (self.m.is_full() && self.m.m2x() > 0.0).then(|| self.m.cxy() / self.m.m2x())
    }

    fn reset(&mut self) {
        self.m.clear();
    }
}

/// Batch rolling beta of asset on benchmark returns (aligned slices).
pub fn beta(bench: &[f64], asset: &[f64], n: usize) -> Result<Series, IndicatorError> {
    check_len("beta", bench.len(), asset.len())?;
    Ok(run(
        Beta::new(n)?,
        bench.iter().copied().zip(asset.iter().copied()),
    ))
}
