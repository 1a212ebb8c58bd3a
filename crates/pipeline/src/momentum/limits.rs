//! A book's limits at a formation — a portfolio bucket's `max_positions` and drawdown target,
//! the config's `[safety]` — done to the backtest's weights as the daily run's risk gates do
//! them to its orders: an entry beyond the position limit is not taken, and in a drawdown at
//! or beyond the throttle (block) new risk is scaled by `drawdown_scale` (by 0). What a book
//! already holds is never cut by a limit, and exits always go through.

use systrade_backtest::overlay::{Limits, RiskState};
use systrade_core::Symbol;

/// The factor on new risk at `drawdown` (a fraction below the peak, ≥ 0).
pub fn new_risk_scale(limits: &Limits, drawdown: f64) -> f64 {
    match limits.state(drawdown) {
        RiskState::Normal => 1.0,
        RiskState::Throttled => limits.drawdown_scale,
        RiskState::Blocked => 0.0,
    }
}

/// `limits` without the drawdown ones (the daily run judges a drawdown on the ledger's
/// equity, in its gates).
pub fn without_drawdown(limits: Limits) -> Limits {
    Limits {
        drawdown_throttle: None,
        drawdown_block: None,
        ..limits
    }
}

/// Limits the weights `target` proposed at a formation against those `held` (both signed,
/// by ticker index); `strength` orders the entries competing for the free places (the
/// strongest first, then the larger weight, then the symbol). Returns what was limited.
pub fn apply(
    limits: &Limits,
    tickers: &[Symbol],
    held: &[f64],
    target: &mut [f64],
    strength: impl Fn(usize) -> f64,
    drawdown: f64,
) -> Limited {
    let scale = new_risk_scale(limits, drawdown);
    let mut blocked = Vec::new();
    if let Some(n) = limits.max_positions {
        let kept = (0..target.len())
            .filter(|&i| held[i] != 0.0 && target[i] != 0.0)
            .count();
        let mut entries: Vec<usize> = (0..target.len())
            .filter(|&i| held[i] == 0.0 && target[i] != 0.0)
            .collect();
        entries.sort_by(|&a, &b| {
            strength(b)
                .total_cmp(&strength(a))
                .then(target[b].abs().total_cmp(&target[a].abs()))
                .then(tickers[a].cmp(&tickers[b]))
        });
        for &i in entries.iter().skip(n.saturating_sub(kept)) {
            target[i] = 0.0;
            blocked.push(tickers[i].clone());
        }
        blocked.sort();
    }
    if scale < 1.0 {
        for (t, h) in target.iter_mut().zip(held) {
            *t = scaled(*h, *t, scale);
        }
    }
    Limited {
        blocked,
        scale,
        drawdown,
    }
}

/// The weight `target` with its new risk against `held` scaled by `scale`: an increase on
/// the same side is scaled, a new side (from flat or across zero) is scaled whole, a
/// decrease is kept.
fn scaled(held: f64, target: f64, scale: f64) -> f64 {
    if held == 0.0 || held.signum() != target.signum() {
        target * scale
    } else if target.abs() > held.abs() {
        held + (target - held) * scale
    } else {
        target
    }
}

/// What the limits did at one formation.
#[derive(Debug, Clone, PartialEq)]
pub struct Limited {
    /// Entries not taken (position limit), by symbol.
    pub blocked: Vec<Symbol>,
    /// The factor new risk was scaled by (1: none).
    pub scale: f64,
    /// The NAV's drawdown below its peak at the formation's close.
    pub drawdown: f64,
}

impl Limited {
    /// Whether a limit changed anything.
    pub fn bit(&self) -> bool {
        !self.blocked.is_empty() || self.scale < 1.0
    }

    /// In words, for the run's warnings.
    pub fn describe(&self, limits: &Limits) -> String {
        let mut parts = Vec::new();
        if !self.blocked.is_empty() {
            parts.push(format!(
                "safety.max_positions {}: {} entries not taken ({})",
                limits.max_positions.unwrap_or(0),
                self.blocked.len(),
                self.blocked
                    .iter()
                    .map(Symbol::as_str)
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        if self.scale < 1.0 {
            parts.push(format!(
                "drawdown {:.2}% at or beyond safety.{}: new risk scaled by {}",
                self.drawdown * 100.0,
                if self.scale == 0.0 && limits.drawdown_block.is_some_and(|b| self.drawdown >= b) {
                    "drawdown_block"
                } else {
                    "drawdown_throttle"
                },
                self.scale
            ));
        }
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn syms(n: usize) -> Vec<Symbol> {
        (0..n)
            .map(|i| Symbol::new(format!("S{i:02}")).unwrap())
            .collect()
    }

    #[test]
    fn test_entries_beyond_the_limit_are_not_taken_strongest_first() {
        let t = syms(5);
        let held = [0.2, 0.0, 0.0, -0.2, 0.0];
        let mut target = [0.2, 0.2, 0.2, -0.2, -0.2];
        let strength = [0.5, 0.1, 0.4, 0.5, 0.3];
        let l = Limits {
            max_positions: Some(3),
            ..Limits::default()
        };
        let got = apply(&l, &t, &held, &mut target, |i| strength[i], 0.0);
        // Two held names keep their places; one free place goes to S02 (strength 0.4).
        assert_eq!(target, [0.2, 0.0, 0.2, -0.2, 0.0]);
        assert_eq!(got.blocked, vec![t[1].clone(), t[4].clone()]);
        assert_eq!(got.scale, 1.0);
        assert!(got.describe(&l).contains("2 entries not taken (S01 S04)"));
    }

    #[test]
    fn test_held_names_beyond_the_limit_stay_and_no_entry_is_taken() {
        let t = syms(3);
        let held = [0.3, 0.3, 0.0];
        let mut target = [0.2, 0.3, 0.3];
        let l = Limits {
            max_positions: Some(1),
            ..Limits::default()
        };
        let got = apply(&l, &t, &held, &mut target, |_| 0.0, 0.0);
        assert_eq!(target, [0.2, 0.3, 0.0]);
        assert_eq!(got.blocked, vec![t[2].clone()]);
    }

    #[test]
    fn test_throttle_and_block_scale_only_new_risk() {
        let t = syms(5);
        let held = [0.25, 0.25, 0.0, 0.25, 0.125];
        let l = Limits {
            drawdown_throttle: Some(0.1),
            drawdown_scale: 0.5,
            drawdown_block: Some(0.2),
            ..Limits::default()
        };
        let mut target = [0.5, 0.125, 0.25, -0.25, 0.0];
        let below = apply(&l, &t, &held, &mut target.clone(), |_| 0.0, 0.0999);
        assert_eq!(below.scale, 1.0);
        assert!(!below.bit());
        let got = apply(&l, &t, &held, &mut target, |_| 0.0, 0.1);
        // An add is halved, a cut kept, an entry halved, a flip's new side halved, an exit kept.
        assert_eq!(target, [0.375, 0.125, 0.125, -0.125, 0.0]);
        assert_eq!(got.scale, 0.5);
        assert!(got.describe(&l).contains("safety.drawdown_throttle"));
        let mut target = [0.5, 0.125, 0.25, -0.25, 0.0];
        let got = apply(&l, &t, &held, &mut target, |_| 0.0, 0.25);
        assert_eq!(target, [0.25, 0.125, 0.0, 0.0, 0.0]);
        assert!(got.describe(&l).contains("safety.drawdown_block"));
    }

    proptest! {
        /// Whatever the weights: never more names than the limit plus those held and kept,
        /// no weight moves away from the held one by more than the target asked, and a name
        /// held is never cut by a limit below its target's own cut.
        #[test]
        fn prop_limits_only_take_risk_away(
            pairs in proptest::collection::vec((-2i8..=2, -2i8..=2, 0u8..10), 1..30),
            max in 1usize..10,
            dd in 0.0f64..0.5,
        ) {
            let t = syms(pairs.len());
            let held: Vec<f64> = pairs.iter().map(|p| f64::from(p.0) / 10.0).collect();
            let asked: Vec<f64> = pairs.iter().map(|p| f64::from(p.1) / 10.0).collect();
            let strength: Vec<f64> = pairs.iter().map(|p| f64::from(p.2)).collect();
            let l = Limits {
                max_positions: Some(max),
                drawdown_throttle: Some(0.1),
                drawdown_scale: 0.5,
                drawdown_block: Some(0.3),
            };
            let mut target = asked.clone();
            let got = apply(&l, &t, &held, &mut target, |i| strength[i], dd);
            let kept = (0..t.len()).filter(|&i| held[i] != 0.0 && asked[i] != 0.0).count();
            let names = target.iter().filter(|x| **x != 0.0).count();
            prop_assert!(names <= max.max(kept));
            for i in 0..t.len() {
                // Between the held weight's side of zero and the target asked: never beyond it.
                prop_assert!(target[i].abs() <= asked[i].abs() + 1e-12);
                prop_assert!(target[i] == 0.0 || target[i].signum() == asked[i].signum());
                if held[i] != 0.0 && asked[i] != 0.0 && held[i].signum() == asked[i].signum()
                    && asked[i].abs() <= held[i].abs() {
                    prop_assert_eq!(target[i], asked[i]);
                }
                if asked[i] == 0.0 {
                    prop_assert_eq!(target[i], 0.0);
                }
            }
            prop_assert_eq!(got.scale, new_risk_scale(&l, dd));
        }
    }
}
