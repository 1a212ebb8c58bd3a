use std::collections::VecDeque;

use crate::{Indicator, IndicatorError, Series, check_window, run};

/// Rolling maximum of the last `n` values including the current one (TA-Lib MAX), in
/// amortised O(1) with a monotonic deque.
#[derive(Debug, Clone)]
pub struct RollingMax {
    n: usize,
    t: usize,
    /// (index, value), values strictly decreasing from front to back.
    q: VecDeque<(usize, f64)>,
}

impl RollingMax {
    pub fn new(n: usize) -> Result<Self, IndicatorError> {
        check_window("rolling max", n, 1)?;
        Ok(RollingMax {
            n,
            t: 0,
            q: VecDeque::with_capacity(n + 1),
        })
    }
}

impl Indicator for RollingMax {
    type Input = f64;

    fn update(&mut self, x: f64) -> Option<f64> {
        while self.q.back().is_some_and(|&(_, v)| v <= x) {
            self.q.pop_back();
        }
        self.q.push_back((self.t, x));
        if self.q.front().is_some_and(|&(i, _)| i + self.n <= self.t) {
            self.q.pop_front();
        }
        self.t += 1;
        if self.t >= self.n {
            self.q.front().map(|&(_, v)| v)
        } else {
            None
        }
    }

    fn reset(&mut self) {
        self.t = 0;
        self.q.clear();
    }
}

/// Rolling minimum of the last `n` values including the current one (TA-Lib MIN).
#[derive(Debug, Clone)]
pub struct RollingMin {
    inner: RollingMax,
}

impl RollingMin {
    pub fn new(n: usize) -> Result<Self, IndicatorError> {
        check_window("rolling min", n, 1)?;
        Ok(RollingMin {
            inner: RollingMax::new(n)?,
        })
    }
}

impl Indicator for RollingMin {
    type Input = f64;

    fn update(&mut self, x: f64) -> Option<f64> {
        self.inner.update(-x).map(|v| -v)
    }

    fn reset(&mut self) {
        self.inner.reset();
    }
}

/// Batch Donchian upper band: max(high) of the last `n` bars including the current one.
/// Strategies apply their own shift.
pub fn donchian_high(high: &[f64], n: usize) -> Result<Series, IndicatorError> {
    Ok(run(RollingMax::new(n)?, high.iter().copied()))
}

/// Batch Donchian lower band: min(low) of the last `n` bars including the current one.
pub fn donchian_low(low: &[f64], n: usize) -> Result<Series, IndicatorError> {
    Ok(run(RollingMin::new(n)?, low.iter().copied()))
}
