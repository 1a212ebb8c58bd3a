use nalgebra::DMatrix;
use proptest::prelude::*;
use systrade_portfolio as pf;

/// A random well-conditioned covariance: vols × correlation from a random factor model.
fn cov_strategy() -> impl Strategy<Value = DMatrix<f64>> {
    (2usize..8).prop_flat_map(|n| {
        (
            prop::collection::vec(0.05f64..0.6, n),
            prop::collection::vec(-0.9f64..0.9, n),
            prop::collection::vec(0.1f64..1.0, n),
        )
            .prop_map(move |(vol, load, idio)| {
                DMatrix::from_fn(n, n, |i, j| {
                    let rho = if i == j {
                        1.0
                    } else {
                        load[i] * load[j]
                            / ((load[i].powi(2) + idio[i]).sqrt()
                                * (load[j].powi(2) + idio[j]).sqrt())
                    };
                    rho * vol[i] * vol[j]
                })
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(120))]

    #[test]
    fn prop_min_variance_weights_sum_to_one_within_bounds_and_beat_alternatives(cov in cov_strategy(), cap in 0.3f64..1.0) {
        let n = cov.nrows();
        let cap = cap.max(1.0 / n as f64 + 0.01);
        let w = pf::min_variance_weights(&cov, &vec![0.0; n], &vec![cap; n]).unwrap();
        prop_assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        prop_assert!(w.iter().all(|x| *x >= -1e-9 && *x <= cap + 1e-9), "{:?}", w);
        let v = pf::portfolio_variance(&cov, &w);
        let eq = vec![1.0 / n as f64; n];
        prop_assert!(v <= pf::portfolio_variance(&cov, &eq) + 1e-12);
        let erc = pf::erc_weights(&cov).unwrap();
        if erc.iter().all(|x| *x <= cap) {
            prop_assert!(v <= pf::portfolio_variance(&cov, &erc) + 1e-12);
        }
    }

    #[test]
    fn prop_erc_equalises_risk(cov in cov_strategy()) {
        let w = pf::erc_weights(&cov).unwrap();
        let n = w.len() as f64;
        prop_assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        prop_assert!(w.iter().all(|x| *x > 0.0));
        for rc in pf::risk_contributions(&cov, &w) {
            prop_assert!((rc - 1.0 / n).abs() < 1e-9);
        }
    }

    #[test]
    fn prop_inverse_vol_sums_to_one(sd in prop::collection::vec(1e-4f64..5.0, 1..20)) {
        let w = pf::inverse_vol_weights(&sd).unwrap();
        prop_assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}

#[test]
fn test_infeasible_bounds_are_refused() {
    let cov = DMatrix::from_row_slice(2, 2, &[0.04, 0.0, 0.0, 0.09]);
    assert!(matches!(
        pf::min_variance_weights(&cov, &[0.0, 0.0], &[0.4, 0.4]),
        Err(pf::PortfolioError::Infeasible(_))
    ));
    assert!(pf::min_variance_weights(&cov, &[0.7, 0.7], &[1.0, 1.0]).is_err());
    let bad = DMatrix::from_row_slice(2, 2, &[0.04, 0.0, 0.0, 0.0]);
    assert!(matches!(
        pf::erc_weights(&bad),
        Err(pf::PortfolioError::BadCovariance(_))
    ));
    // Two uncorrelated assets: min variance ∝ 1/σ².
    let w = pf::min_variance_weights(&cov, &[0.0, 0.0], &[1.0, 1.0]).unwrap();
    assert!((w[0] - 0.09 / 0.13).abs() < 1e-14, "{w:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// spec/trend-following.md §9: ex-ante vol ≤ target, gross ≤ max_gross, no weight above
    /// the cap in force, whatever the inputs.
    #[test]
    fn prop_vol_target_limits_always_hold(cov in cov_strategy(), seed in prop::collection::vec(0.0f64..3.0, 8), split in 1usize..4) {
        let n = cov.nrows();
        let raw: Vec<f64> = seed[..n].to_vec();
        let sleeve_of: Vec<usize> = (0..n).map(|i| usize::from(i >= split.min(n))).collect();
        let sleeves = vec![("majors".to_string(), 0.6), ("alts".to_string(), 0.4)];
        let p = pf::VolTargetParams::default();
        let r = pf::target_vol_weights(&raw, &cov, &sleeve_of, &sleeves, &p).unwrap();
        prop_assert!(r.vol_post_cap <= p.target_vol + 1e-9, "{:?}", r);
        prop_assert!(r.gross <= p.max_gross + 1e-12, "{:?}", r);
        prop_assert!(r.weights.iter().all(|w| *w >= 0.0 && *w <= r.cap_used + 1e-12), "{:?}", r.weights);
        let ex_ante = pf::portfolio_variance(&cov, &r.weights).sqrt();
        prop_assert!((ex_ante - r.vol_post_cap).abs() < 1e-12);
        // Names with no signal get no weight.
        for (w, x) in r.weights.iter().zip(&raw) {
            if *x == 0.0 { prop_assert_eq!(*w, 0.0); }
        }
    }
}
