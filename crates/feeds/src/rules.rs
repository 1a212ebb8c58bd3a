//! The caps and filters of a feed bucket (`[rules]`).

use serde::Deserialize;

/// What an alert must pass and how much it may buy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedRules {
    /// Open positions at most.
    pub max_positions: usize,
    /// One position's cost at most, as a share of equity.
    pub position_pct: f64,
    /// One entry's shares at most, as a share of the name's average daily volume over
    /// `adv_window` sessions before the fill.
    pub max_adv_pct: f64,
    pub adv_window: usize,
    /// Sessions a position is held; it is sold at the open after the last one.
    pub hold_days: u32,
    /// The protective stop, this fraction below the last close before the entry (0: none).
    pub stop_pct: f64,
    /// No entry below this last close.
    pub min_price: f64,
    /// Bucket C: candidates scored at least this.
    pub min_score: f64,
    /// Bucket C: a float of at most this many shares (0: any).
    pub max_float: f64,
    /// Bucket D: prints of at least this premium paid.
    pub min_premium: f64,
    /// Bucket D: volume at least this many times the open interest (unusual activity).
    pub min_volume_oi: f64,
    /// Bucket D: options expiring within this many calendar days of the print (0: any).
    pub max_days_to_expiry: u32,
}

impl Default for FeedRules {
    fn default() -> Self {
        FeedRules {
            max_positions: 5,
            position_pct: 0.05,
            max_adv_pct: 0.01,
            adv_window: 20,
            hold_days: 5,
            stop_pct: 0.10,
            min_price: 1.0,
            min_score: 0.0,
            max_float: 0.0,
            min_premium: 0.0,
            min_volume_oi: 1.0,
            max_days_to_expiry: 0,
        }
    }
}

impl FeedRules {
    /// Every problem names its key.
    pub fn validate(&self) -> Result<(), String> {
        let frac = |k: &str, x: f64, lo_open: bool| {
            let ok = x.is_finite() && x <= 1.0 && if lo_open { x > 0.0 } else { x >= 0.0 };
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "rules.{k}: a fraction in {}0, 1] (got {x})",
                    if lo_open { "(" } else { "[" }
                ))
            }
        };
        if self.max_positions == 0 {
            return Err("rules.max_positions: at least 1".into());
        }
        frac("position_pct", self.position_pct, true)?;
        frac("max_adv_pct", self.max_adv_pct, true)?;
        frac("stop_pct", self.stop_pct, false)?;
        if self.stop_pct >= 1.0 {
            return Err(format!("rules.stop_pct: below 1 (got {})", self.stop_pct));
        }
        if self.adv_window == 0 {
            return Err("rules.adv_window: at least 1 session".into());
        }
        if self.hold_days == 0 {
            return Err("rules.hold_days: at least 1 session".into());
        }
        for (k, x) in [
            ("min_price", self.min_price),
            ("max_float", self.max_float),
            ("min_premium", self.min_premium),
            ("min_volume_oi", self.min_volume_oi),
        ] {
            if !(x.is_finite() && x >= 0.0) {
                return Err(format!("rules.{k}: zero or more (got {x})"));
            }
        }
        if !self.min_score.is_finite() {
            return Err(format!(
                "rules.min_score: a number (got {})",
                self.min_score
            ));
        }
        Ok(())
    }
}
