//! Per-trade analytics (spec §5): R-multiple, MAE and MFE in price and in R, stop
//! efficiency `(exit − worst)/(best − worst)`, from the prices seen while the trade was held.

/// How a trade's stops were managed: `intraday` (every session held had intraday bars),
/// `daily` (none had) or `mixed`.
pub fn stop_mode(intraday_days: u32, daily_days: u32) -> &'static str {
    match (intraday_days > 0, daily_days > 0) {
        (true, false) => "intraday",
        (true, true) => "mixed",
        _ => "daily",
    }
}

/// A closed (or marked) long trade's numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TradeStats {
    /// Initial risk per share: entry − initial stop.
    pub risk_per_share: f64,
    /// `(exit − entry) / risk_per_share`.
    pub r_multiple: f64,
    /// Maximum adverse excursion: entry − the lowest price seen (≥ 0).
    pub mae: f64,
    /// Maximum favourable excursion: the highest price seen − entry (≥ 0).
    pub mfe: f64,
    pub mae_r: f64,
    pub mfe_r: f64,
    /// `(exit − worst)/(best − worst)`: 1 exits at the best price seen, 0 at the worst;
    /// `None` when nothing moved (best = worst).
    pub stop_efficiency: Option<f64>,
}

/// The numbers of a long trade entered at `entry` with `initial_stop` below it, exited (or
/// marked) at `exit`, having seen prices between `worst` and `best`.
pub fn stats(entry: f64, initial_stop: f64, exit: f64, worst: f64, best: f64) -> TradeStats {
    let risk = entry - initial_stop;
    let worst = worst.min(entry).min(exit);
    let best = best.max(entry).max(exit);
    let mae = entry - worst;
    let mfe = best - entry;
    let per_r = |x: f64| if risk > 0.0 { x / risk } else { f64::NAN };
    TradeStats {
        risk_per_share: risk,
        r_multiple: per_r(exit - entry),
        mae,
        mfe,
        mae_r: per_r(mae),
        mfe_r: per_r(mfe),
        stop_efficiency: (best > worst).then(|| (exit - worst) / (best - worst)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn test_hand_computed_trade() {
        // Entry 100, stop 95 (1R = 5), low 97, high 110, exit 106.
        let s = stats(100.0, 95.0, 106.0, 97.0, 110.0);
        assert_eq!(s.r_multiple, 1.2);
        assert_eq!((s.mae, s.mfe), (3.0, 10.0));
        assert_eq!((s.mae_r, s.mfe_r), (0.6, 2.0));
        assert_eq!(s.stop_efficiency, Some(9.0 / 13.0));
    }

    proptest! {
        #[test]
        fn prop_efficiency_in_unit_range_and_excursions_bound_the_result(
            entry in 1.0f64..1000.0, risk in 0.01f64..50.0,
            down in 0.0f64..100.0, up in 0.0f64..100.0, at in 0.0f64..1.0,
        ) {
            let worst = (entry - down).max(0.01);
            let best = entry + up;
            let exit = worst + at * (best - worst);
            let s = stats(entry, entry - risk, exit, worst, best);
            if let Some(e) = s.stop_efficiency {
                prop_assert!((-1e-9..=1.0 + 1e-9).contains(&e));
            }
            prop_assert!(s.mae >= 0.0 && s.mfe >= 0.0);
            prop_assert!(s.r_multiple <= s.mfe_r + 1e-9 && s.r_multiple >= -s.mae_r - 1e-9);
        }
    }
}
