//! Invariants of the indicators on random series.

use proptest::prelude::*;
use systrade_indicators::{self as ind, Hlc, Indicator};

fn prices() -> impl Strategy<Value = Vec<f64>> {
    // A random walk in log space from a random scale: from sub-cent coins to index levels.
    (
        prop::collection::vec(-0.08f64..0.08, 1..300),
        -12.0f64..10.0,
    )
        .prop_map(|(steps, scale)| {
            let mut p = scale.exp();
            steps
                .iter()
                .map(|s| {
                    p *= s.exp();
                    p
                })
                .collect()
        })
}

fn bars() -> impl Strategy<Value = Vec<Hlc>> {
    (
        prices(),
        prop::collection::vec((0.0f64..0.05, 0.0f64..1.0), 300),
    )
        .prop_map(|(closes, noise)| {
            closes
                .iter()
                .zip(noise)
                .map(|(&c, (w, u))| {
                    let high = c * (1.0 + w * u);
                    let low = c * (1.0 - w * (1.0 - u));
                    Hlc {
                        high: high.max(c),
                        low: low.min(c),
                        close: c,
                    }
                })
                .collect()
        })
}

fn window_max(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::MIN, f64::max)
}

fn close_enough(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()) || (a - b).abs() < 1e-300
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn prop_streaming_equals_batch(xs in prices(), n in 1usize..40) {
        let batch = ind::sma(&xs, n).unwrap();
        let mut s = ind::Sma::new(n).unwrap();
        let stream: ind::Series = xs.iter().map(|&x| s.update(x)).collect();
        prop_assert_eq!(&batch, &stream);
        // After a reset the stream starts over exactly like a fresh one.
        s.reset();
        let again: ind::Series = xs.iter().map(|&x| s.update(x)).collect();
        prop_assert_eq!(&batch, &again);
        let mut e = ind::Ema::new(n).unwrap();
        prop_assert_eq!(ind::ema(&xs, n).unwrap(), xs.iter().map(|&x| e.update(x)).collect::<ind::Series>());
        let mut r = ind::Rsi::new(n).unwrap();
        prop_assert_eq!(ind::rsi(&xs, n).unwrap(), xs.iter().map(|&x| r.update(x)).collect::<ind::Series>());
        let mut sd = ind::StdDev::new(n).unwrap();
        prop_assert_eq!(ind::stdev(&xs, n).unwrap(), xs.iter().map(|&x| sd.update(x)).collect::<ind::Series>());
    }

    #[test]
    fn prop_streaming_equals_batch_for_range_indicators(b in bars(), n in 1usize..30) {
        let (h, l, c): (Vec<f64>, Vec<f64>, Vec<f64>) = (b.iter().map(|x| x.high).collect(), b.iter().map(|x| x.low).collect(), b.iter().map(|x| x.close).collect());
        let mut a = ind::Atr::new(n).unwrap();
        prop_assert_eq!(ind::atr(&h, &l, &c, n).unwrap(), b.iter().map(|x| a.update(*x)).collect::<ind::Series>());
        // Constant stretches exercise the SMA's exact flat-window path in both forms.
        let mut flat = c.clone();
        let len = flat.len();
        for i in (0..len).step_by(7) { flat[i..(i + 4).min(len)].fill(c[i]); }
        let mut s = ind::Sma::new(n).unwrap();
        prop_assert_eq!(ind::sma(&flat, n).unwrap(), flat.iter().map(|x| s.update(*x)).collect::<ind::Series>());
        let mut r = ind::Rsi::new(n).unwrap();
        prop_assert_eq!(ind::rsi(&flat, n).unwrap(), flat.iter().map(|x| r.update(*x)).collect::<ind::Series>());
    }

    #[test]
    fn prop_sma_of_constant_is_the_constant(c in 1e-9f64..1e9, len in 1usize..200, n in 1usize..50) {
        let xs = vec![c; len];
        for (i, v) in ind::sma(&xs, n).unwrap().iter().enumerate() {
            match v {
                None => prop_assert!(i + 1 < n),
                Some(v) => prop_assert_eq!(v, c),
            }
        }
        for v in ind::stdev(&xs, n).unwrap().into_iter().flatten() {
            prop_assert_eq!(v, 0.0);
        }
    }

    #[test]
    fn prop_atr_non_negative_and_donchian_is_window_extreme(b in bars(), n in 1usize..30) {
        let (h, l, c): (Vec<f64>, Vec<f64>, Vec<f64>) = (b.iter().map(|x| x.high).collect(), b.iter().map(|x| x.low).collect(), b.iter().map(|x| x.close).collect());
        for v in ind::atr(&h, &l, &c, n).unwrap().into_iter().flatten() {
            prop_assert!(v >= 0.0);
        }
        let hi = ind::donchian_high(&h, n).unwrap().to_vec();
        let lo = ind::donchian_low(&l, n).unwrap().to_vec();
        for i in 0..b.len() {
            if i + 1 < n {
                prop_assert!(hi[i].is_none() && lo[i].is_none());
            } else {
                prop_assert_eq!(hi[i], Some(window_max(&h[i + 1 - n..=i])));
                prop_assert!(lo[i].unwrap() <= hi[i].unwrap());
            }
        }
    }

    #[test]
    fn prop_r2_in_unit_interval_and_matches_two_pass(xs in prices(), n in 2usize..40) {
        let r2 = ind::linreg_r2(&xs, n).unwrap().to_vec();
        for (i, v) in r2.iter().enumerate() {
            let Some(v) = v else { prop_assert!(i + 1 < n); continue };
            prop_assert!((0.0..=1.0).contains(v));
            let w = &xs[i + 1 - n..=i];
            let tm = (n as f64 - 1.0) / 2.0;
            let ym = w.iter().sum::<f64>() / n as f64;
            let sxy: f64 = w.iter().enumerate().map(|(t, y)| (t as f64 - tm) * (y - ym)).sum();
            let sxx: f64 = (0..n).map(|t| (t as f64 - tm).powi(2)).sum();
            let syy: f64 = w.iter().map(|y| (y - ym).powi(2)).sum();
            let want = if syy == 0.0 { 0.0 } else { sxy * sxy / (sxx * syy) };
            prop_assert!((v - want).abs() < 1e-9, "{} vs {}", v, want);
        }
    }

    #[test]
    fn prop_scale_free_stdev_rsi_r2(xs in prices(), n in 2usize..30) {
        // The same series priced 1e-7 times lower (a coin after a collapse) gives the same
        // shape: R² and RSI identical in value, stdev scaled.
        let tiny: Vec<f64> = xs.iter().map(|x| x * 1e-7).collect();
        for (a, b) in ind::linreg_r2(&xs, n).unwrap().iter().zip(ind::linreg_r2(&tiny, n).unwrap()) {
            if let (Some(a), Some(b)) = (a, b) { prop_assert!((a - b).abs() < 1e-6); }
        }
        for (a, b) in ind::rsi(&xs, n).unwrap().iter().zip(ind::rsi(&tiny, n).unwrap()) {
            if let (Some(a), Some(b)) = (a, b) { prop_assert!((a - b).abs() < 1e-6, "{} vs {}", a, b); }
        }
        for (a, b) in ind::stdev(&xs, n).unwrap().iter().zip(ind::stdev(&tiny, n).unwrap()) {
            if let (Some(a), Some(b)) = (a, b) { prop_assert!(close_enough(a * 1e-7, b, 1e-6)); }
        }
    }

    #[test]
    fn prop_rolling_vol_and_beta_match_two_pass(xs in prices(), ys in prices(), n in 2usize..30) {
        let m = xs.len().min(ys.len());
        let (xs, ys) = (&xs[..m], &ys[..m]);
        let rx: Vec<f64> = xs.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
        let ry: Vec<f64> = ys.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
        let vol = ind::rolling_vol(xs, n, 252.0).unwrap().to_vec();
        let beta = ind::beta(&rx, &ry, n).unwrap().to_vec();
        for i in 0..rx.len() {
            if i + 1 < n { continue; }
            let wx = &rx[i + 1 - n..=i];
            let wy = &ry[i + 1 - n..=i];
            let mx = wx.iter().sum::<f64>() / n as f64;
            let my = wy.iter().sum::<f64>() / n as f64;
            let vx: f64 = wx.iter().map(|x| (x - mx).powi(2)).sum();
            let cxy: f64 = wx.iter().zip(wy).map(|(x, y)| (x - mx) * (y - my)).sum();
            let want_vol = (vx / (n as f64 - 1.0)).sqrt() * 252f64.sqrt();
            prop_assert!(close_enough(vol[i + 1].unwrap(), want_vol, 1e-8) || (vol[i + 1].unwrap() - want_vol).abs() < 1e-12);
            if vx > 1e-20 {
                prop_assert!((beta[i].unwrap() - cxy / vx).abs() <= 1e-7 * (cxy / vx).abs().max(1.0));
            }
        }
    }

    #[test]
    fn prop_shorter_than_window_is_all_warmup(xs in prop::collection::vec(1.0f64..2.0, 0..10)) {
        let n = xs.len() + 1;
        prop_assert!(ind::sma(&xs, n).unwrap().iter().all(|v| v.is_none()));
        prop_assert!(ind::ema(&xs, n).unwrap().iter().all(|v| v.is_none()));
        prop_assert!(ind::rsi(&xs, n).unwrap().iter().all(|v| v.is_none()));
        prop_assert!(ind::linreg_r2(&xs, n.max(2)).unwrap().iter().all(|v| v.is_none()));
    }
}

#[test]
fn test_zero_window_is_an_error() {
    assert!(ind::sma(&[1.0], 0).is_err());
    assert!(ind::Atr::new(0).is_err());
    assert!(
        ind::linreg_r2(&[1.0, 2.0], 1).is_err(),
        "R² needs two points"
    );
    assert!(
        ind::beta(&[1.0], &[1.0, 2.0], 2).is_err(),
        "length mismatch"
    );
}

#[test]
fn test_luna_collapse_prices() {
    // LUNA in May 2022: 77 → 0.00005 within a week, then ~1e-4.
    let xs = [
        77.3, 60.1, 30.3, 17.5, 1.08, 0.00032, 0.00018, 0.00015, 0.00021, 0.00019, 0.00017, 0.00016,
    ];
    let s = ind::stdev(&xs[5..], 5).unwrap();
    assert!(
        s.iter().flatten().all(|v| v > 0.0 && v.is_finite()),
        "no TA-Lib-style collapse to 0: {s:?}"
    );
    let r = ind::rsi(&xs, 3).unwrap();
    assert!(r.iter().flatten().all(|v| (0.0..=100.0).contains(&v)));
    let lr = ind::log_return(&xs);
    assert!(lr.iter().flatten().all(|v| v.is_finite()));
    assert!((lr.get(5).unwrap() - (0.00032f64 / 1.08).ln()).abs() < 1e-12);
}

#[test]
fn test_flat_window_rsi_is_neutral() {
    let xs = [5.0; 20];
    assert_eq!(ind::rsi(&xs, 14).unwrap().get(14), Some(50.0));
    assert_eq!(ind::linreg_r2(&xs, 10).unwrap().get(19), Some(0.0));
}
