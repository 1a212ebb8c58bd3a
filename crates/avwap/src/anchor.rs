//! Anchors and the anchored VWAP (spec §1): `AVWAP_t = Σ tp·v / Σ v` from the anchor bar
//! through `t`, `tp = (h + l + c)/3`.

use systrade_core::DailyBar;

use crate::panel::Panel;
use crate::params::{AnchorKind, ScanParams};

/// The anchor a scan found, as an index into the panel's bars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchor {
    pub kind: AnchorKind,
    pub index: usize,
}

/// The first index of the lookback window ending at `t` (the scan day included).
fn window_start(t: usize, lookback: usize) -> usize {
    (t + 1).saturating_sub(lookback)
}

/// The anchor known at the close of bar `t`, or `None` when the lookback holds none:
/// - `swing_high`: the most recent pivot high confirmed by `t` (its `k` bars after it have
///   closed) that lies in the window;
/// - `volume_spike`: the highest-volume bar of the window (the latest of equal maxima);
/// - `gap`: the most recent bar of the window whose open moved more than `gap_min` from the
///   previous close, up or down.
pub fn find(panel: &Panel, t: usize, kind: AnchorKind, p: &ScanParams) -> Option<Anchor> {
    let bars = &panel.bars;
    if t >= bars.len() {
        return None;
    }
    let start = window_start(t, p.anchor_lookback);
    let index = match kind {
        AnchorKind::SwingHigh => (start..=t)
            .rev()
            .find_map(|c| panel.pivot_high_at[c])
            .filter(|&i| i >= start),
        AnchorKind::VolumeSpike => {
            let mut best: Option<usize> = None;
            for i in start..=t {
                if best.is_none_or(|b| bars[i].volume >= bars[b].volume) {
                    best = Some(i);
                }
            }
            best.filter(|&i| bars[i].volume > 0.0)
        }
        AnchorKind::Gap => (start.max(1)..=t).rev().find(|&i| {
            let prev = bars[i - 1].close;
            prev > 0.0 && (bars[i].open / prev - 1.0).abs() > p.gap_min
        }),
    }?;
    Some(Anchor { kind, index })
}

/// The anchored VWAP of `bars[anchor..=t]`; `None` when `t < anchor` or no volume traded.
pub fn avwap(bars: &[DailyBar], anchor: usize, t: usize) -> Option<f64> {
    if t < anchor || t >= bars.len() {
        return None;
    }
    let (mut pv, mut v) = (0.0, 0.0);
    for b in &bars[anchor..=t] {
        pv += b.ohlcv().typical() * b.volume;
        v += b.volume;
    }
    (v > 0.0).then(|| pv / v)
}

/// The AVWAP at `t − 1` and at `t` in one pass (the reclaim compares both).
pub fn avwap_pair(bars: &[DailyBar], anchor: usize, t: usize) -> (Option<f64>, Option<f64>) {
    if t < anchor || t >= bars.len() {
        return (None, None);
    }
    let (mut pv, mut v) = (0.0, 0.0);
    let mut before = None;
    for (i, b) in bars[anchor..=t].iter().enumerate() {
        if anchor + i == t {
            before = (v > 0.0 && t > anchor).then(|| pv / v);
        }
        pv += b.ohlcv().typical() * b.volume;
        v += b.volume;
    }
    (before, (v > 0.0).then(|| pv / v))
}
