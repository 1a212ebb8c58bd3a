//! The no-look-ahead harness every strategy's tests use (DESIGN §2): for a decision date t,
//! change or delete every bar at or after t and check that every decision made before t —
//! the decisions that may only have seen bars before t — is byte-identical.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use systrade_core::{DailyBar, Symbol};
use systrade_strategy::Strategy;

use crate::{BacktestConfig, run};

/// How the future is disturbed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Perturbation {
    /// Bars at or after t are removed.
    Delete,
    /// Bars at or after t are scaled by this factor (prices) — a different future.
    Scale(f64),
}

fn perturb(
    data: &BTreeMap<Symbol, Vec<DailyBar>>,
    t: NaiveDate,
    how: Perturbation,
) -> BTreeMap<Symbol, Vec<DailyBar>> {
    data.iter()
        .map(|(s, bars)| {
            let out: Vec<DailyBar> = match how {
                Perturbation::Delete => bars.iter().filter(|b| b.ts < t).copied().collect(),
                Perturbation::Scale(k) => bars
                    .iter()
                    .map(|b| {
                        if b.ts >= t {
                            DailyBar {
                                open: b.open * k,
                                high: b.high * k,
                                low: b.low * k,
                                close: b.close * k,
                                ..*b
                            }
                        } else {
                            *b
                        }
                    })
                    .collect(),
            };
            (s.clone(), out)
        })
        .collect()
}

/// Runs the strategy made by `make` on the full data and on data disturbed at each date in
/// `cuts`; returns a description of the first decision that changed, if any. `make` receives
/// the data the run will use, so a strategy that precomputes from its inputs at construction
/// (the classic leak) is built from the disturbed future too, and is caught.
pub fn check<S: Strategy>(
    make: impl Fn(&BTreeMap<Symbol, Vec<DailyBar>>) -> S,
    data: &BTreeMap<Symbol, Vec<DailyBar>>,
    cfg: &BacktestConfig,
    cuts: &[NaiveDate],
    how: Perturbation,
) -> Result<(), String> {
    let base = run(&mut make(data), data, cfg).map_err(|e| e.to_string())?;
    for &t in cuts {
        let changed = perturb(data, t, how);
        let other = match run(&mut make(&changed), &changed, cfg) {
            Ok(r) => r,
            // Nothing left to run on (t before the first bar) is not a leak.
            Err(_) if how == Perturbation::Delete => continue,
            Err(e) => return Err(e.to_string()),
        };
        let before = |r: &crate::BacktestResult| -> Vec<String> {
            r.decisions
                .iter()
                .filter(|(d, _)| *d < t)
                .map(|(d, x)| format!("{d} {}", serde_json::to_string(x).unwrap_or_default()))
                .collect()
        };
        let (a, b) = (before(&base), before(&other));
        if a != b {
            let i = a
                .iter()
                .zip(&b)
                .position(|(x, y)| x != y)
                .unwrap_or(a.len().min(b.len()));
            return Err(format!(
                "changing bars from {t} on changed a decision made before it: {:?} became {:?}",
                a.get(i),
                b.get(i)
            ));
        }
    }
    Ok(())
}
