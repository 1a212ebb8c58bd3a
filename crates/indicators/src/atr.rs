use crate::ema::Wilder;
use crate::{Hlc, Indicator, IndicatorError, Series, check_len, run};

/// True range `max(h − l, |h − c₋₁|, |l − c₋₁|)`; the first bar has none.
#[derive(Debug, Clone, Default)]
pub struct TrueRange {
    prev_close: Option<f64>,
}

impl TrueRange {
    pub fn new() -> Self {
        TrueRange::default()
    }
}

impl Indicator for TrueRange {
    type Input = Hlc;

    fn update(&mut self, b: Hlc) -> Option<f64> {
        let out = self.prev_close.map(|pc| {
            (b.high - b.low)
                .max((b.high - pc).abs())
                .max((b.low - pc).abs())
        });
        self.prev_close = Some(b.close);
        out
    }

    fn reset(&mut self) {
        self.prev_close = None;
    }
}

/// Batch true range.
pub fn true_range(high: &[f64], low: &[f64], close: &[f64]) -> Result<Series, IndicatorError> {
    Ok(run(TrueRange::new(), crate::hlc(high, low, close)?))
}

/// Average true range: Wilder smoothing of the true range, first defined at bar `n`
/// (0-based), seeded with the mean of the first `n` true ranges, as TA-Lib.
#[derive(Debug, Clone)]
pub struct Atr {
    tr: TrueRange,
    smooth: Wilder,
}

impl Atr {
    pub fn new(n: usize) -> Result<Self, IndicatorError> {
        Ok(Atr {
            tr: TrueRange::new(),
            smooth: Wilder::new(n).map_err(|_| IndicatorError::InvalidWindow {
                name: "atr",
                window: n,
                min: 1,
            })?,
        })
    }
}

impl Indicator for Atr {
    type Input = Hlc;

    fn update(&mut self, b: Hlc) -> Option<f64> {
        let tr = self.tr.update(b)?;
        self.smooth.update(tr)
    }

    fn reset(&mut self) {
        self.tr.reset();
        self.smooth.reset();
    }
}

/// Batch ATR: the same operations as [`Atr`] in tight loops (bit-identical): the first `n`
/// true ranges seed the average, then a branch-free Wilder recursion.
pub fn atr(high: &[f64], low: &[f64], close: &[f64], n: usize) -> Result<Series, IndicatorError> {
    check_len("atr", high.len(), low.len())?;
    check_len("atr", high.len(), close.len())?;
    Atr::new(n)?;
    let len = close.len();
    let (nf, nm1, inv_n) = (n as f64, n as f64 - 1.0, 1.0 / n as f64);
    let tr = |h: f64, l: f64, pc: f64| (h - l).max((h - pc).abs()).max((l - pc).abs());
    if len <= n {
        return Ok(Series::from_nan_values(vec![f64::NAN; len]));
    }
    // Pass 1: true ranges into the output buffer (independent per bar, so it vectorises).
    let mut out = Vec::with_capacity(len);
    out.push(f64::NAN);
    out.extend(
        high[1..]
            .iter()
            .zip(&low[1..])
            .zip(&close[..len - 1])
            .map(|((&h, &l), &pc)| tr(h, l, pc)),
    );
    // Pass 2: the seed and the Wilder recursion, in place.
    let mut seed = 0.0;
    for v in &mut out[1..=n] {
        seed += *v;
        *v = f64::NAN;
    }
    let mut v = seed / nf;
    out[n] = v;
    for x in &mut out[n + 1..] {
        v = (v * nm1 + *x) * inv_n;
        *x = v;
    }
    Ok(Series::from_nan_values(out))
}
