//! Protective stops (spec/trend-following.md §6–7).

/// The stop to hold after today's decision. A held long's stop only moves up (`max(prev,
/// new)`); on a day whose data is not trustworthy it stays exactly as it was; a flat ticker
/// has none.
pub fn ratchet_stop(
    prev: Option<f64>,
    new: Option<f64>,
    data_ok: bool,
    holding: bool,
) -> Option<f64> {
    if !holding {
        return None;
    }
    if !data_ok {
        return prev;
    }
    match (prev, new) {
        (Some(p), Some(n)) => Some(p.max(n)),
        (p, n) => p.or(n),
    }
}

/// Cooldown days left tomorrow: a stop-out today starts `days`; otherwise one fewer.
pub fn next_cooldown(left: u32, stopped_out_today: bool, days: u32) -> u32 {
    if stopped_out_today {
        days
    } else {
        left.saturating_sub(1)
    }
}

/// §7 dust handling, with the spec's defaults.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DustParams {
    /// A residual position below this notional is dust.
    pub dust_notional: f64,
    /// Close dust only when the estimated cost is at most this.
    pub dust_max_cost: f64,
}

impl Default for DustParams {
    fn default() -> Self {
        DustParams {
            dust_notional: 5.0,
            dust_max_cost: 1.0,
        }
    }
}

impl DustParams {
    /// Checks every key; the error names it.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("dust_notional", self.dust_notional),
            ("dust_max_cost", self.dust_max_cost),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name}: must be a non-negative number (got {v})"));
            }
        }
        Ok(())
    }
}

/// What to do with a small residual position (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DustAction {
    /// Not dust: at or above the dust notional.
    NotDust,
    /// Dust, and cheap enough to close.
    Close,
    /// Dust, too expensive to close: leave and report.
    Leave,
}

/// Residual positions below `dust_notional` are closed when the estimated cost is at most
/// `dust_max_cost`.
pub fn dust_action(
    notional: f64,
    estimated_cost: f64,
    dust_notional: f64,
    dust_max_cost: f64,
) -> DustAction {
    if notional.abs() == 0.0 || notional.abs() >= dust_notional {
        DustAction::NotDust
    } else if estimated_cost <= dust_max_cost {
        DustAction::Close
    } else {
        DustAction::Leave
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn prop_stops_never_loosen(levels in prop::collection::vec((1.0f64..200.0, any::<bool>()), 1..100)) {
            let mut stop: Option<f64> = None;
            for (new, ok) in levels {
                let next = ratchet_stop(stop, Some(new), ok, true);
                if let (Some(a), Some(b)) = (stop, next) {
                    prop_assert!(b >= a, "stop loosened from {} to {}", a, b);
                }
                if !ok {
                    prop_assert_eq!(next, stop, "a day without trustworthy data leaves the stop untouched");
                }
                stop = next;
            }
        }
    }

    #[test]
    fn test_cooldown_and_dust() {
        assert_eq!(next_cooldown(0, true, 7), 7);
        assert_eq!(next_cooldown(7, false, 7), 6);
        assert_eq!(next_cooldown(0, false, 7), 0);
        assert_eq!(
            ratchet_stop(Some(90.0), Some(95.0), true, false),
            None,
            "flat: no stop"
        );
        assert_eq!(dust_action(3.0, 0.5, 5.0, 1.0), DustAction::Close);
        assert_eq!(dust_action(3.0, 1.5, 5.0, 1.0), DustAction::Leave);
        assert_eq!(dust_action(6.0, 0.1, 5.0, 1.0), DustAction::NotDust);
    }
}
