//! Sliding-window moments in O(1) per value, numerically stable.
//!
//! Updates use centred (Welford-style) formulas, so sums of huge raw values never cancel.
//! Rounding still accumulates slowly, so every `n` slides the window's moments are recomputed
//! exactly (two passes over the buffer): amortised O(1), bounded drift. A slide also
//! recomputes when its own rounding could matter: the update's absolute error is about
//! ε·(|Δ|·(|new| + |old| + |mean|) + m2_before), so when that could exceed 1e-12 of the new m2 —
//! a variance collapsing, or tiny moves on a large level — the window is summed afresh. Real
//! price windows never trip it; nearly flat ones do, at O(n). A window whose values are all
//! equal is detected exactly, so a flat window has variance exactly 0.

use crate::ring::Ring;

/// Relative precision a slide must keep, else the window is recomputed.
const PRECISION: f64 = 1e-12;

/// True when a sliding update's rounding (see the module notes) could exceed [`PRECISION`]
/// of the new sum of squared deviations.
fn imprecise(m2_new: f64, m2_old: f64, delta: f64, scale: f64) -> bool {
    f64::EPSILON * (delta.abs() * scale + m2_old) > PRECISION * m2_new
}

/// Counts how many of the latest values are equal to the newest.
#[derive(Debug, Clone, Default)]
pub(crate) struct EqualRun {
    last: Option<f64>,
    run: usize,
}

impl EqualRun {
    pub(crate) fn push(&mut self, x: f64) {
        if self.last == Some(x) {
            self.run += 1;
        } else {
            self.last = Some(x);
            self.run = 1;
        }
    }

    pub(crate) fn covers(&self, n: usize) -> bool {
        self.run >= n
    }

    pub(crate) fn clear(&mut self) {
        *self = EqualRun::default();
    }
}

/// Mean and sum of squared deviations of the last `n` values.
#[derive(Debug, Clone)]
pub(crate) struct Moments1 {
    ring: Ring<f64>,
    mean: f64,
    m2: f64,
    slides: usize,
    equal: EqualRun,
}

impl Moments1 {
    pub(crate) fn new(n: usize) -> Self {
        Moments1 {
            ring: Ring::new(n),
            mean: 0.0,
            m2: 0.0,
            slides: 0,
            equal: EqualRun::default(),
        }
    }

    pub(crate) fn push(&mut self, x: f64) {
        self.equal.push(x);
        match self.ring.push(x) {
            None => {
                let k = self.ring.len() as f64;
                let d = x - self.mean;
                self.mean += d / k;
                self.m2 += d * (x - self.mean);
            }
            Some(old) => {
                let n = self.ring.cap() as f64;
                let prev_mean = self.mean;
                let prev_m2 = self.m2;
                self.mean += (x - old) / n;
                self.m2 += (x - old) * (x - self.mean + old - prev_mean);
                self.slides += 1;
                let scale = x.abs() + old.abs() + prev_mean.abs();
                if self.slides >= self.ring.cap() || imprecise(self.m2, prev_m2, x - old, scale) {
                    self.recompute();
                }
            }
        }
        if self.equal.covers(self.ring.len()) {
            self.mean = x;
            self.m2 = 0.0;
        }
        self.m2 = self.m2.max(0.0);
    }

    fn recompute(&mut self) {
        let n = self.ring.len() as f64;
        let mean = self.ring.iter().sum::<f64>() / n;
        self.m2 = self.ring.iter().map(|v| (v - mean) * (v - mean)).sum();
        self.mean = mean;
        self.slides = 0;
    }

    pub(crate) fn is_full(&self) -> bool {
        self.ring.is_full()
    }

    pub(crate) fn len(&self) -> usize {
        self.ring.len()
    }

    pub(crate) fn m2(&self) -> f64 {
        self.m2
    }

    pub(crate) fn clear(&mut self) {
        self.ring.clear();
        self.mean = 0.0;
        self.m2 = 0.0;
        self.slides = 0;
        self.equal.clear();
    }
}

/// Means, squared deviations and co-moment of the last `n` pairs `(x, y)`.
#[derive(Debug, Clone)]
pub(crate) struct Moments2 {
    ring: Ring<(f64, f64)>,
    mx: f64,
    my: f64,
    m2x: f64,
    m2y: f64,
    cxy: f64,
    slides: usize,
    equal_x: EqualRun,
    equal_y: EqualRun,
    /// `x` values are small integers (a time index): their updates are exact.
    exact_x: bool,
}

impl Moments2 {
    pub(crate) fn new(n: usize) -> Self {
        Moments2 {
            ring: Ring::new(n),
            mx: 0.0,
            my: 0.0,
            m2x: 0.0,
            m2y: 0.0,
            cxy: 0.0,
            slides: 0,
            equal_x: EqualRun::default(),
            equal_y: EqualRun::default(),
            exact_x: false,
        }
    }

    /// Moments whose `x` is a bar index: updates of `x` are exact, only `y` is checked.
    pub(crate) fn with_exact_x(n: usize) -> Self {
        Moments2 {
            exact_x: true,
            ..Moments2::new(n)
        }
    }

    pub(crate) fn push(&mut self, x: f64, y: f64) {
        self.equal_x.push(x);
        self.equal_y.push(y);
        match self.ring.push((x, y)) {
            None => {
                let k = self.ring.len() as f64;
                let dx = x - self.mx;
                let dy = y - self.my;
                self.mx += dx / k;
                self.my += dy / k;
                self.m2x += dx * (x - self.mx);
                self.m2y += dy * (y - self.my);
                self.cxy += dx * (y - self.my);
            }
            Some((xo, yo)) => {
                let n = self.ring.cap() as f64;
                let (mx, my) = (self.mx, self.my);
                let (dx, dy) = (x - xo, y - yo);
                let (prev_m2x, prev_m2y) = (self.m2x, self.m2y);
                self.cxy += (x - mx) * (y - my) - (xo - mx) * (yo - my) - dx * dy / n;
                self.mx += dx / n;
                self.my += dy / n;
                self.m2x += dx * (x - self.mx + xo - mx);
                self.m2y += dy * (y - self.my + yo - my);
                self.slides += 1;
                let rough_x = !self.exact_x
                    && imprecise(self.m2x, prev_m2x, dx, x.abs() + xo.abs() + mx.abs());
                let rough_y = imprecise(self.m2y, prev_m2y, dy, y.abs() + yo.abs() + my.abs());
                if self.slides >= self.ring.cap() || rough_x || rough_y {
                    self.recompute();
                }
            }
        }
        let len = self.ring.len();
        if self.equal_x.covers(len) {
            self.mx = x;
            self.m2x = 0.0;
            self.cxy = 0.0;
        }
        if self.equal_y.covers(len) {
            self.my = y;
            self.m2y = 0.0;
            self.cxy = 0.0;
        }
        self.m2x = self.m2x.max(0.0);
        self.m2y = self.m2y.max(0.0);
    }

    fn recompute(&mut self) {
        let n = self.ring.len() as f64;
        let mx = self.ring.iter().map(|p| p.0).sum::<f64>() / n;
        let my = self.ring.iter().map(|p| p.1).sum::<f64>() / n;
        let (mut m2x, mut m2y, mut cxy) = (0.0, 0.0, 0.0);
        for (x, y) in self.ring.iter() {
            m2x += (x - mx) * (x - mx);
            m2y += (y - my) * (y - my);
            cxy += (x - mx) * (y - my);
        }
        (self.mx, self.my, self.m2x, self.m2y, self.cxy, self.slides) = (mx, my, m2x, m2y, cxy, 0);
    }

    pub(crate) fn is_full(&self) -> bool {
        self.ring.is_full()
    }

    pub(crate) fn m2x(&self) -> f64 {
        self.m2x
    }

    pub(crate) fn m2y(&self) -> f64 {
        self.m2y
    }

    pub(crate) fn cxy(&self) -> f64 {
        self.cxy
    }

    pub(crate) fn clear(&mut self) {
        *self = Moments2 {
            exact_x: self.exact_x,
            ..Moments2::new(self.ring.cap())
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_pass(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let m = xs.iter().sum::<f64>() / n;
        (m, xs.iter().map(|x| (x - m) * (x - m)).sum())
    }

    #[test]
    fn test_sliding_matches_two_pass_on_large_offsets() {
        // BTC-like prices (5e4) with small moves: naive sums of squares lose ~8 digits here.
        let xs: Vec<f64> = (0..500)
            .map(|i| 5e4 + ((i * 7919) % 13) as f64 * 0.5)
            .collect();
        let mut m = Moments1::new(20);
        for (i, &x) in xs.iter().enumerate() {
            m.push(x);
            if i >= 19 {
                let (_, m2) = two_pass(&xs[i - 19..=i]);
                assert!(
                    (m.m2() - m2).abs() <= 1e-9 * m2.max(1e-12),
                    "{i}: {} vs {m2}",
                    m.m2()
                );
            }
        }
    }

    #[test]
    fn test_variance_collapse_stays_accurate() {
        // A large move followed by two nearly equal values: the window's variance falls by
        // ~1e7, which a pure sliding update would get wrong in the 9th digit.
        let xs = [1.0, 1.05, 1.05000001, 1.0500000205];
        let mut m = Moments1::new(2);
        for &x in &xs {
            m.push(x);
        }
        let (_, want) = two_pass(&xs[2..]);
        assert!(
            (m.m2() - want).abs() <= 1e-12 * want,
            "{} vs {want}",
            m.m2()
        );
    }

    #[test]
    fn test_tiny_moves_on_a_sub_cent_level_stay_accurate() {
        // Found by the R² property test: prices near 2.5e-4 moving by 2e-8 after a 4e-6 move.
        let xs = [
            0.00025751942949537665,
            0.00024691490800657215,
            0.00024257328606362168,
            0.00024259492582287328,
        ];
        let mut m = Moments1::new(2);
        for &x in &xs {
            m.push(x);
        }
        let (_, want) = two_pass(&xs[2..]);
        assert!(
            (m.m2() - want).abs() <= 1e-12 * want,
            "{} vs {want}",
            m.m2()
        );
    }

    #[test]
    fn test_flat_window_is_exactly_zero() {
        let mut m = Moments1::new(5);
        for x in [1.0, 2.0, 3.0, 0.1, 0.1, 0.1, 0.1, 0.1] {
            m.push(x);
        }
        assert_eq!(m.m2(), 0.0);
    }
}
