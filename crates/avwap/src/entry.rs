//! Entry and sizing (spec §3): the initial stop and the quantity that risks at most
//! `min(max_risk_abs, max_risk_pct · equity)` between the entry and the stop.

use crate::params::EntryParams;

/// Where an initial stop came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopBasis {
    /// The most recent daily pivot low.
    SwingLow,
    /// `AVWAP − atr_stop_mult · ATR`.
    AvwapAtr,
}

impl StopBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            StopBasis::SwingLow => "swing_low",
            StopBasis::AvwapAtr => "avwap_atr",
        }
    }
}

/// Why a candidate got no order before the gates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Neither stop candidate is below the entry price.
    StopAboveEntry,
    /// The risk budget does not buy one share.
    SizeZero,
    /// No price to enter at.
    NoPrice,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::StopAboveEntry => "stop_above_entry",
            Skip::SizeZero => "size_zero",
            Skip::NoPrice => "no_price",
        }
    }
}

/// A sized entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sized {
    pub stop: f64,
    pub basis: StopBasis,
    pub qty: u64,
    /// The money at risk: `qty · (entry − stop)`.
    pub risk: f64,
    /// The risk budget the quantity was sized to.
    pub budget: f64,
}

/// The initial stop for an entry at `entry`: the higher of the swing low and
/// `AVWAP − k·ATR` among those below the entry.
pub fn initial_stop(
    entry: f64,
    swing_low: Option<f64>,
    avwap: f64,
    atr: f64,
    p: &EntryParams,
) -> Result<(f64, StopBasis), Skip> {
    let options = [
        swing_low.map(|s| (s, StopBasis::SwingLow)),
        Some((avwap - p.atr_stop_mult * atr, StopBasis::AvwapAtr)),
    ];
    options
        .into_iter()
        .flatten()
        .filter(|(s, _)| s.is_finite() && *s > 0.0 && *s < entry)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .ok_or(Skip::StopAboveEntry)
}

/// The risk budget at `equity`.
pub fn risk_budget(equity: f64, p: &EntryParams) -> f64 {
    p.max_risk_abs.min(p.max_risk_pct * equity).max(0.0)
}

/// Sizes an entry at `entry` with its initial stop:
/// `shares = floor(min(max_risk_abs, max_risk_pct · equity) / (entry − stop))`.
pub fn size(
    entry: f64,
    swing_low: Option<f64>,
    avwap: f64,
    atr: f64,
    equity: f64,
    p: &EntryParams,
) -> Result<Sized, Skip> {
    if !(entry.is_finite() && entry > 0.0) {
        return Err(Skip::NoPrice);
    }
    let (stop, basis) = initial_stop(entry, swing_low, avwap, atr, p)?;
    let budget = risk_budget(equity, p);
    let per_share = entry - stop;
    let raw = (budget / per_share).floor();
    if !(raw.is_finite() && raw >= 1.0) {
        return Err(Skip::SizeZero);
    }
    let qty = raw as u64;
    Ok(Sized {
        stop,
        basis,
        qty,
        risk: qty as f64 * per_share,
        budget,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_stop_is_the_higher_candidate_below_entry_and_size_floors() {
        let p = EntryParams::default();
        // Swing low 95, AVWAP − 0.5·ATR = 98 − 1 = 97: the AVWAP stop is higher.
        let s = size(100.0, Some(95.0), 98.0, 2.0, 100_000.0, &p).unwrap();
        assert_eq!(s.basis, StopBasis::AvwapAtr);
        assert_eq!(s.stop, 97.0);
        // risk = min(250, 0.005·100k = 500) = 250; 250 / 3 = 83.3 → 83 shares.
        assert_eq!(s.qty, 83);
        assert!(s.risk <= 250.0);
        // A swing low above the AVWAP stop but below the entry wins.
        let s = size(100.0, Some(99.0), 98.0, 2.0, 10_000.0, &p).unwrap();
        assert_eq!((s.basis, s.stop), (StopBasis::SwingLow, 99.0));
        // 0.005·10k = 50 < 250: 50 / 1 = 50 shares.
        assert_eq!(s.qty, 50);
        // A swing low at or above the entry is passed over for the other.
        let s = size(100.0, Some(100.0), 98.0, 2.0, 100_000.0, &p).unwrap();
        assert_eq!(s.basis, StopBasis::AvwapAtr);
        // Both at or above the entry: skipped with a reason.
        assert_eq!(
            size(100.0, Some(101.0), 102.0, 2.0, 100_000.0, &p),
            Err(Skip::StopAboveEntry)
        );
        // A risk per share above the budget buys nothing.
        assert_eq!(
            size(1000.0, Some(500.0), 400.0, 2.0, 100_000.0, &p),
            Err(Skip::SizeZero)
        );
    }
}
