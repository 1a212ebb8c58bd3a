use crate::{Indicator, Series, run};

/// Simple return `cₜ/cₜ₋₁ − 1`; the first bar has none.
#[derive(Debug, Clone, Default)]
pub struct SimpleReturn {
    prev: Option<f64>,
}

impl SimpleReturn {
    pub fn new() -> Self {
        SimpleReturn::default()
    }
}

impl Indicator for SimpleReturn {
    type Input = f64;

    fn update(&mut self, x: f64) -> Option<f64> {
        let out = self.prev.map(|p| x / p - 1.0);
        self.prev = Some(x);
        out
    }

    fn reset(&mut self) {
        self.prev = None;
    }
}

/// Log return `ln(cₜ/cₜ₋₁)`; the first bar has none.
#[derive(Debug, Clone, Default)]
pub struct LogReturn {
    prev: Option<f64>,
}

impl LogReturn {
    pub fn new() -> Self {
        LogReturn::default()
    }
}

impl Indicator for LogReturn {
    type Input = f64;

    fn update(&mut self, x: f64) -> Option<f64> {
        let out = self.prev.map(|p| (x / p).ln());
        self.prev = Some(x);
        out
    }

    fn reset(&mut self) {
        self.prev = None;
    }
}

/// Batch simple returns.
pub fn simple_return(values: &[f64]) -> Series {
    run(SimpleReturn::new(), values.iter().copied())
}

/// Batch log returns.
pub fn log_return(values: &[f64]) -> Series {
    run(LogReturn::new(), values.iter().copied())
}
