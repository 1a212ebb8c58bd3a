//! Momentum cohorts on the real B3 files: no look-ahead (formation uses data through the
//! month-end close, trades at the next open) and identical reruns.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use systrade_core::{DailyBar, Market, Symbol};
use systrade_pipeline::momentum::{Inputs, Limits, MomentumParams, MomentumResult, Panel, run};
use systrade_testkit::{raw_daily, shared};

fn load() -> Option<BTreeMap<Symbol, Vec<DailyBar>>> {
    let dir = shared("data/br_b3_daily_yahoo/daily")?;
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        let sym = name.strip_suffix(".csv").unwrap();
        out.insert(
            Symbol::new(sym).unwrap(),
            raw_daily(&format!("data/br_b3_daily_yahoo/daily/{name}")),
        );
    }
    Some(out)
}

fn backtest(data: &BTreeMap<Symbol, Vec<DailyBar>>, p: &MomentumParams) -> MomentumResult {
    backtest_to(data, p, None)
}

fn backtest_to(
    data: &BTreeMap<Symbol, Vec<DailyBar>>,
    p: &MomentumParams,
    end: Option<NaiveDate>,
) -> MomentumResult {
    backtest_limited(data, p, end, Limits::default())
}

/// A bucket's limits that bite on this data: a position limit below the book's size and a
/// drawdown throttle and block within its drawdowns.
fn tight() -> Limits {
    Limits {
        max_positions: Some(12),
        drawdown_throttle: Some(0.05),
        drawdown_scale: 0.5,
        drawdown_block: Some(0.12),
    }
}

fn backtest_limited(
    data: &BTreeMap<Symbol, Vec<DailyBar>>,
    p: &MomentumParams,
    end: Option<NaiveDate>,
    limits: Limits,
) -> MomentumResult {
    // Sectors by the first letter (a stand-in map), a flat CDI and the equal-weight index.
    let sectors: BTreeMap<Symbol, String> = data
        .keys()
        .map(|s| (s.clone(), s.as_str()[..1].to_string()))
        .collect();
    let panel = Panel::new(data, &sectors);
    let cdi = vec![0.0004; panel.len()];
    let bench = panel.equal_weight_returns();
    run(
        &Inputs {
            panel: &panel,
            cdi: &cdi,
            bench: &bench,
            bench_name: "ew".into(),
            calendar: Market::B3.calendar(),
            start: None,
            end,
            warnings: Vec::new(),
            limits,
        },
        p,
    )
    .unwrap()
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[test]
fn test_no_look_ahead() {
    let Some(data) = load() else { return };
    let p = MomentumParams {
        beta_overlay: true,
        ..MomentumParams::default()
    };
    for limits in [Limits::default(), tight()] {
        no_look_ahead_with(&data, &p, limits);
    }
}

/// The no-look-ahead check of one set of limits (a bucket's position limit and drawdown rules
/// read only the NAV and the ranks through the formation's close).
fn no_look_ahead_with(data: &BTreeMap<Symbol, Vec<DailyBar>>, p: &MomentumParams, limits: Limits) {
    let full = backtest_limited(data, p, None, limits);
    if limits != Limits::default() {
        assert!(
            full.summary
                .warnings
                .iter()
                .any(|w| w.contains("safety.max_positions 12:"))
                && full
                    .summary
                    .warnings
                    .iter()
                    .any(|w| w.contains("new risk scaled by")),
            "the limits bite"
        );
    }
    for cut in [d("2018-08-01"), d("2021-03-15"), d("2024-01-02")] {
        for how in ["delete", "scale"] {
            let changed: BTreeMap<Symbol, Vec<DailyBar>> = data
                .iter()
                .map(|(s, bars)| {
                    let v = bars
                        .iter()
                        .filter(|b| how == "scale" || b.ts < cut)
                        .map(|b| {
                            let mut b = *b;
                            if b.ts >= cut {
                                b.open *= 1.9;
                                b.high *= 1.9;
                                b.low *= 1.9;
                                b.close *= 1.9;
                            }
                            b
                        })
                        .collect();
                    (s.clone(), v)
                })
                .collect();
            let other = backtest_limited(&changed, p, None, limits);
            // Every formation whose close is before the cut is the same, weights and rows.
            let before = |r: &MomentumResult| -> Vec<String> {
                r.formations
                    .iter()
                    .filter(|f| f.date < cut)
                    .map(|f| format!("{:?}", (f.date, &f.rows, &f.weights, f.beta_p, f.stress)))
                    .collect()
            };
            assert_eq!(before(&full), before(&other), "{how} from {cut}");
            // And so is every daily return before the cut.
            let rets = |r: &MomentumResult| -> Vec<(NaiveDate, u64)> {
                r.series
                    .iter()
                    .filter(|x| x.date < cut)
                    .map(|x| (x.date, x.ret.to_bits()))
                    .collect()
            };
            assert_eq!(rets(&full), rets(&other), "{how} from {cut}");
        }
    }
}

#[test]
fn test_reruns_are_identical_and_d10_is_long_only() {
    let Some(data) = load() else { return };
    let p = MomentumParams::default();
    let a = backtest(&data, &p);
    let b = backtest(&data, &p);
    assert!(a == b, "reruns differ");
    let a = backtest_limited(&data, &p, None, tight());
    let b = backtest_limited(&data, &p, None, tight());
    assert!(a == b, "limited reruns differ");
    let d10 = backtest(
        &data,
        &MomentumParams {
            book: systrade_pipeline::momentum::BookKind::D10,
            ..p
        },
    );
    for f in &d10.formations {
        assert!(f.weights.values().all(|w| *w > 0.0));
        let gross: f64 = f.weights.values().sum();
        // Each started cohort holds gross 1 and the portfolio is their mean.
        let started = f.cohorts.iter().filter(|c| c.started).count() as f64;
        assert!((gross - started / 3.0).abs() < 1e-9, "{}: {gross}", f.date);
    }
}

/// What a run through a close says about the next open is what the longer run did there:
/// the daily run's targets (weights after a formation, the VT scale every day).
#[test]
fn test_next_open_is_the_next_rows_weights_and_scale() {
    let Some(data) = load() else { return };
    let p = MomentumParams {
        book: systrade_pipeline::momentum::BookKind::Ls,
        ..MomentumParams::default()
    };
    let full = backtest(&data, &p);
    let dates: Vec<NaiveDate> = full.series.iter().map(|r| r.date).collect();
    // A month-end close (the next open trades), the day after it, and a mid-month day.
    let f = full
        .formations
        .iter()
        .find(|f| f.date > d("2020-01-01") && f.failed.is_none())
        .unwrap();
    let k = dates.iter().position(|x| *x == f.date).unwrap();
    for (i, formation) in [(k, true), (k + 1, false), (k + 11, false)] {
        let cut = backtest_to(&data, &p, Some(dates[i]));
        let n = &cut.next;
        assert_eq!((n.after, n.formation), (dates[i], formation));
        let row = &full.series[i + 1];
        assert_eq!(
            n.scale.to_bits(),
            row.scale.to_bits(),
            "scale after {}",
            dates[i]
        );
        assert_eq!(n.overlay_h.to_bits(), row.overlay_h.to_bits());
        assert_eq!(n.weights, f.weights, "weights in force after {}", dates[i]);
        let long: f64 = n.weights.values().filter(|w| **w > 0.0).sum();
        assert!((long - row.long_gross).abs() < 1e-12);
    }
}
