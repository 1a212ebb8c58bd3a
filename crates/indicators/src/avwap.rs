use crate::{Indicator, IndicatorError, Series, check_len};

/// One bar's contribution to a VWAP.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HlcVolume {
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

/// Anchored VWAP: `Σ tp·v / Σ v` from the anchor bar (the first bar fed) through the current
/// bar, `tp = (h + l + c)/3`. `None` while no volume has traded.
#[derive(Debug, Clone, Default)]
pub struct Avwap {
    pv: f64,
    v: f64,
}

impl Avwap {
    pub fn new() -> Self {
        Avwap::default()
    }
}

impl Indicator for Avwap {
    type Input = HlcVolume;

    fn update(&mut self, b: HlcVolume) -> Option<f64> {
        let tp = (b.high + b.low + b.close) / 3.0;
        self.pv += tp * b.volume;
        self.v += b.volume;
        (self.v > 0.0).then(|| self.pv / self.v)
    }

    fn reset(&mut self) {
        *self = Avwap::default();
    }
}

/// Batch anchored VWAP: `None` before `anchor` (an index into the slices) and while no
/// volume has traded since it.
pub fn avwap(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    volume: &[f64],
    anchor: usize,
) -> Result<Series, IndicatorError> {
    check_len("avwap", high.len(), low.len())?;
    check_len("avwap", high.len(), close.len())?;
    check_len("avwap", high.len(), volume.len())?;
    let mut a = Avwap::new();
    Ok((0..high.len())
        .map(|i| {
            if i < anchor {
                None
            } else {
                a.update(HlcVolume {
                    high: high[i],
                    low: low[i],
                    close: close[i],
                    volume: volume[i],
                })
            }
        })
        .collect())
}
