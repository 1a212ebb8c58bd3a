use proptest::prelude::*;
use systrade_metrics as m;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The rolling Sharpe (four windows summed side by side) is each window's own Sharpe,
    /// bit for bit — constant stretches, zeros and a NaN included.
    #[test]
    fn prop_rolling_sharpe_is_each_windows_sharpe(
        r in prop::collection::vec(prop_oneof![
            4 => -0.1f64..0.1,
            1 => Just(0.0),
            1 => Just(0.01),
            1 => Just(-0.0),
        ], 0..120),
        window in 0usize..40,
        nan_at in prop::option::of(0usize..120),
    ) {
        let mut r = r;
        if let Some(i) = nan_at.filter(|i| *i < r.len()) {
            r[i] = f64::NAN;
        }
        let roll = m::rolling_sharpe(&r, window, 252.0);
        prop_assert_eq!(roll.len(), r.len());
        for (i, got) in roll.iter().enumerate() {
            let want = (window > 0 && i + 1 >= window)
                .then(|| m::sharpe(&r[i + 1 - window..=i], None, 252.0))
                .flatten();
            prop_assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "window {} at {}", window, i);
        }
    }

    #[test]
    fn prop_max_drawdown_in_range_and_matches_series(r in prop::collection::vec(-0.99f64..2.0, 1..400)) {
        let d = m::max_drawdown(&r).unwrap();
        prop_assert!((-1.0..=0.0).contains(&d.depth));
        let series_min = m::drawdown_series(&r).into_iter().fold(0.0f64, f64::min);
        prop_assert_eq!(d.depth, series_min);
        if let (Some(p), Some(t)) = (d.peak, d.trough) { prop_assert!(p < t); }
        if let (Some(t), Some(rec)) = (d.trough, d.recovery) { prop_assert!(t < rec); }
    }

    #[test]
    fn prop_ratios_are_finite_or_none(r in prop::collection::vec(prop_oneof![Just(0.0f64), -0.2f64..0.2], 0..200)) {
        for v in [m::sharpe(&r, None, 252.0), m::sortino(&r, None, 252.0), m::calmar(&r, 252.0), m::cagr(&r, 252.0), m::annual_vol(&r, 252.0), m::hit_rate(&r)].into_iter().flatten() {
            prop_assert!(v.is_finite());
        }
        if let Some(h) = m::hit_rate(&r) { prop_assert!((0.0..=1.0).contains(&h)); }
    }

    #[test]
    fn prop_sharpe_is_scale_invariant(r in prop::collection::vec(-0.1f64..0.1, 3..100), k in 0.1f64..10.0) {
        let scaled: Vec<f64> = r.iter().map(|x| x * k).collect();
        match (m::sharpe(&r, None, 252.0), m::sharpe(&scaled, None, 252.0)) {
            (Some(a), Some(b)) => prop_assert!((a - b).abs() <= 1e-9 * a.abs().max(1e-9)),
            (a, b) => prop_assert_eq!(a.is_none(), b.is_none()),
        }
    }
}
