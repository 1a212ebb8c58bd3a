//! Parameters of spec/avwap.md, each with the spec's default. A config's `[scan]`, `[entry]`
//! and `[exits]` sections deserialize straight into them (unknown keys refused).

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

/// Where an anchored VWAP starts (spec §1).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum AnchorKind {
    /// The most recent daily pivot high (high above the `pivot_k` bars on each side).
    #[default]
    SwingHigh,
    /// The highest-volume day of the lookback.
    VolumeSpike,
    /// The most recent open that gapped more than `gap_min` from the previous close.
    Gap,
}

impl AnchorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AnchorKind::SwingHigh => "swing_high",
            AnchorKind::VolumeSpike => "volume_spike",
            AnchorKind::Gap => "gap",
        }
    }
}

/// The daily candidate scan (spec §1–§2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanParams {
    pub anchor: AnchorKind,
    /// Bars on each side of a daily pivot (highs for the anchor, lows for stops).
    pub pivot_k: usize,
    /// Sessions (the scan day included) an anchor may lie in.
    pub anchor_lookback: usize,
    /// The smallest open-vs-previous-close move that is a gap (a fraction: 0.03 is 3%).
    pub gap_min: f64,
    pub sma_fast: usize,
    pub sma_slow: usize,
    /// Sessions of the average dollar volume.
    pub adv_window: usize,
    pub atr_window: usize,
    /// Smallest average dollar volume over `adv_window` sessions.
    pub min_dollar_volume: f64,
    pub min_price: f64,
}

impl Default for ScanParams {
    fn default() -> Self {
        ScanParams {
            anchor: AnchorKind::SwingHigh,
            pivot_k: 3,
            anchor_lookback: 60,
            gap_min: 0.03,
            sma_fast: 50,
            sma_slow: 200,
            adv_window: 20,
            atr_window: 14,
            min_dollar_volume: 20e6,
            min_price: 5.0,
        }
    }
}

/// Entry and sizing (spec §3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EntryParams {
    /// Risk per trade: at most this much money…
    pub max_risk_abs: f64,
    /// …and at most this fraction of equity.
    pub max_risk_pct: f64,
    /// The AVWAP stop candidate is `AVWAP − atr_stop_mult · ATR`.
    pub atr_stop_mult: f64,
}

impl Default for EntryParams {
    fn default() -> Self {
        EntryParams {
            max_risk_abs: 250.0,
            max_risk_pct: 0.005,
            atr_stop_mult: 0.5,
        }
    }
}

/// System-managed exits (spec §4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExitParams {
    /// Bars on each side of an intraday pivot low.
    pub intraday_pivot_k: usize,
    /// Minutes per intraday bar the higher lows are read on.
    pub bar_minutes: u32,
    /// New York time before which no stop order is submitted or moved.
    #[serde(with = "hhmm")]
    pub stop_submit_after: NaiveTime,
    /// Consecutive closes below the AVWAP that exit.
    pub avwap_exit_days: u32,
    /// Sessions held (the entry day is the first) after which the position exits.
    pub max_hold_days: u32,
}

impl Default for ExitParams {
    fn default() -> Self {
        ExitParams {
            intraday_pivot_k: 2,
            bar_minutes: 5,
            stop_submit_after: NaiveTime::from_hms_opt(9, 45, 0).unwrap_or_default(),
            avwap_exit_days: 2,
            max_hold_days: 20,
        }
    }
}

mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let text = String::deserialize(d)?;
        NaiveTime::parse_from_str(&text, "%H:%M").map_err(|_| {
            serde::de::Error::custom(format!(
                "expected a New York time as HH:MM (e.g. \"09:45\"), got {text:?}"
            ))
        })
    }
}

/// Everything the system needs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AvwapParams {
    pub scan: ScanParams,
    pub entry: EntryParams,
    pub exits: ExitParams,
}

impl AvwapParams {
    /// Sessions of history a symbol needs before it can be a candidate.
    pub fn warmup(&self) -> usize {
        let s = &self.scan;
        s.sma_slow
            .max(s.sma_fast)
            .max(s.adv_window)
            .max(s.atr_window + 1)
            .max(2)
    }

    /// Every key in range; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        let s = &self.scan;
        for (key, v, min) in [
            ("scan.pivot_k", s.pivot_k, 1),
            ("scan.anchor_lookback", s.anchor_lookback, 2),
            ("scan.sma_fast", s.sma_fast, 1),
            ("scan.sma_slow", s.sma_slow, 1),
            ("scan.adv_window", s.adv_window, 1),
            ("scan.atr_window", s.atr_window, 1),
            ("exits.intraday_pivot_k", self.exits.intraday_pivot_k, 1),
        ] {
            if v < min {
                return Err(format!("{key}: must be at least {min} (got {v})"));
            }
            if v > 10_000 {
                return Err(format!(
                    "{key}: {v} is longer than any data can use (at most 10000 sessions)"
                ));
            }
        }
        if s.sma_fast >= s.sma_slow {
            return Err(format!(
                "scan.sma_fast: {} must be shorter than scan.sma_slow {} (the trend is close > SMA fast > SMA slow)",
                s.sma_fast, s.sma_slow
            ));
        }
        for (key, v) in [
            ("scan.gap_min", s.gap_min),
            ("scan.min_dollar_volume", s.min_dollar_volume),
            ("scan.min_price", s.min_price),
            ("entry.max_risk_abs", self.entry.max_risk_abs),
            ("entry.max_risk_pct", self.entry.max_risk_pct),
            ("entry.atr_stop_mult", self.entry.atr_stop_mult),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{key}: must be a non-negative number (got {v})"));
            }
        }
        if self.entry.max_risk_abs <= 0.0 || self.entry.max_risk_pct <= 0.0 {
            return Err("entry.max_risk_abs and entry.max_risk_pct: must be positive (a zero risk budget never trades)".into());
        }
        if self.entry.max_risk_pct > 1.0 {
            return Err(format!(
                "entry.max_risk_pct: {} is more than the whole equity (a fraction: 0.005 is 0.5%)",
                self.entry.max_risk_pct
            ));
        }
        let e = &self.exits;
        if !(1..=60).contains(&e.bar_minutes) || 60 % e.bar_minutes != 0 {
            return Err(format!(
                "exits.bar_minutes: {} must divide an hour (1, 2, 3, 5, 10, 15, 30 or 60)",
                e.bar_minutes
            ));
        }
        if e.avwap_exit_days == 0 {
            return Err("exits.avwap_exit_days: must be at least 1".into());
        }
        if e.max_hold_days == 0 {
            return Err("exits.max_hold_days: must be at least 1".into());
        }
        Ok(())
    }
}
