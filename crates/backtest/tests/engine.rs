//! Engine invariants on synthetic markets: accounting, fills inside the bar, fees, determinism,
//! no look-ahead.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use proptest::prelude::*;
use rust_decimal::prelude::ToPrimitive;
use systrade_backtest::lookahead::{Perturbation, check};
use systrade_backtest::{
    BacktestConfig, CostModel, FillAt, KeepDecisions, Remainder, decision_line, run, run_observed,
    write_outputs,
};
use systrade_core::{DailyBar, Symbol};
use systrade_data::synth::{SynthConfig, generate};
use systrade_strategy::{SmaCross, SmaCrossParams};

fn market(seed: u64, days: usize) -> (Symbol, BTreeMap<Symbol, Vec<DailyBar>>) {
    let s = generate(&SynthConfig {
        symbols: 1,
        days,
        seed,
        ..SynthConfig::default()
    })
    .unwrap()
    .remove(0);
    (s.symbol.clone(), [(s.symbol, s.bars)].into())
}

fn strategy(symbol: &Symbol, fast: usize, slow: usize, size: Option<f64>) -> SmaCross {
    SmaCross::new(SmaCrossParams {
        symbol: symbol.clone(),
        fast,
        slow,
        size,
    })
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn prop_accounting_fills_and_fees(seed in 0u64..1000, fast in 2usize..15, gap in 1usize..30, fee in 0.0f64..50.0, slip in 0.0f64..30.0, impact in 0.0f64..1.0, cap in prop::option::of(0.0005f64..0.05), carry in any::<bool>(), close_fill in any::<bool>(), fixed in any::<bool>()) {
        let (sym, data) = market(seed, 400);
        let cfg = BacktestConfig {
            fill: if close_fill { FillAt::SameClose } else { FillAt::NextOpen },
            costs: CostModel { fee_bps: fee, per_share: 0.001, min_fee: 0.5, slippage_bps: slip, impact_k: impact, borrow_bps: 0.0 },
            max_participation: cap,
            remainder: if carry { Remainder::Carry } else { Remainder::Cancel },
            ..BacktestConfig::default()
        };
        let size = fixed.then_some(100.0);
        let r = run(&mut strategy(&sym, fast, fast + gap, size), &data, &cfg).unwrap();
        let bars: BTreeMap<NaiveDate, DailyBar> = data[&sym].iter().map(|b| (b.ts, *b)).collect();
        // Every fill inside its bar's range; fees never negative; cash never below zero.
        for f in &r.fills {
            let b = bars[&f.date];
            let p = f.price.to_f64().unwrap();
            prop_assert!(p >= b.low - 1e-9 && p <= b.high + 1e-9, "fill {} outside [{}, {}]", p, b.low, b.high);
            prop_assert!(f.fee.to_f64().unwrap() >= 0.0);
            if let Some(c) = cap {
                prop_assert!(f.pct_of_volume <= c + 1e-12, "participation {} over cap {}", f.pct_of_volume, c);
            }
        }
        // Equity = cash + positions × close at every step (positions replayed from the fills).
        let mut qty = 0.0;
        let mut fills = r.fills.iter().peekable();
        for row in &r.series {
            while let Some(f) = fills.peek().filter(|f| f.date <= row.date) {
                let q = f.qty.to_f64().unwrap();
                qty += if matches!(f.side, systrade_core::contracts::Side::Buy) { q } else { -q };
                fills.next();
            }
            let want = row.cash + qty * bars[&row.date].close;
            prop_assert!((row.equity - want).abs() <= 1e-6 * want.abs().max(1.0), "{}: {} vs {}", row.date, row.equity, want);
            prop_assert!(row.cash >= -1e-6, "{}: cash {}", row.date, row.cash);
        }
    }
}

#[test]
fn test_rerun_is_byte_identical() {
    let (sym, data) = market(11, 900);
    let cfg = BacktestConfig {
        costs: CostModel {
            fee_bps: 10.0,
            slippage_bps: 5.0,
            ..CostModel::default()
        },
        ..BacktestConfig::default()
    };
    let dirs = [tempfile_dir(), tempfile_dir()];
    for d in &dirs {
        let r = run(&mut strategy(&sym, 10, 30, None), &data, &cfg).unwrap();
        write_outputs(&r, d).unwrap();
    }
    for f in [
        "timeseries.csv",
        "trades.csv",
        "orders.csv",
        "fills.csv",
        "decisions.jsonl",
        "summary.json",
    ] {
        let (a, b) = (
            std::fs::read(dirs[0].join(f)).unwrap(),
            std::fs::read(dirs[1].join(f)).unwrap(),
        );
        assert!(!a.is_empty(), "{f}");
        assert_eq!(a, b, "{f} differs between reruns");
    }
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// A run that writes its decisions as it makes them sees exactly the decisions a run keeping
/// them all returns, in order, and writes the same `decisions.jsonl`; keeping none changes
/// nothing else.
#[test]
fn test_observed_decisions_equal_the_kept_ones() {
    let (sym, data) = market(7, 600);
    let all = BacktestConfig::default();
    let kept = run(&mut strategy(&sym, 5, 20, None), &data, &all).unwrap();
    let mut seen = Vec::new();
    let mut lines = String::new();
    let none = BacktestConfig {
        record_decisions: KeepDecisions::None,
        ..BacktestConfig::default()
    };
    let observed = run_observed(
        &mut strategy(&sym, 5, 20, None),
        &data,
        &none,
        &mut |d, x| {
            seen.push((d, x.clone()));
            lines.push_str(&decision_line(d, x).unwrap());
        },
    )
    .unwrap();
    assert!(kept.decisions.len() > 500);
    assert_eq!(seen, kept.decisions);
    assert!(observed.decisions.is_empty());
    assert_eq!(observed.summary, kept.summary);
    assert_eq!(observed.fills, kept.fills);
    let dir = tempfile_dir();
    write_outputs(&kept, &dir).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("decisions.jsonl")).unwrap(),
        lines
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "systrade-bt-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn test_sma_cross_has_no_look_ahead() {
    let (sym, data) = market(5, 700);
    let dates: Vec<NaiveDate> = data[&sym].iter().map(|b| b.ts).collect();
    let cuts: Vec<NaiveDate> = [40, 120, 333, 500, 699].iter().map(|i| dates[*i]).collect();
    for fill in [FillAt::NextOpen, FillAt::SameClose] {
        let cfg = BacktestConfig {
            fill,
            costs: CostModel {
                fee_bps: 10.0,
                ..CostModel::default()
            },
            ..BacktestConfig::default()
        };
        for how in [
            Perturbation::Delete,
            Perturbation::Scale(0.5),
            Perturbation::Scale(3.0),
        ] {
            check(|_| strategy(&sym, 5, 20, None), &data, &cfg, &cuts, how).unwrap();
        }
    }
}

/// The harness must catch a strategy that peeks: this one was built with the whole history
/// and trades on tomorrow's close.
#[test]
fn test_harness_catches_a_peeking_strategy() {
    struct Peek {
        sym: Symbol,
        data: BTreeMap<Symbol, Vec<DailyBar>>,
    }
    impl systrade_strategy::Strategy for Peek {
        fn name(&self) -> &str {
            "peek"
        }
        fn universe(&self) -> Vec<Symbol> {
            vec![self.sym.clone()]
        }
        fn decide(
            &mut self,
            view: &systrade_strategy::MarketView<'_>,
            _p: &systrade_strategy::PortfolioView,
        ) -> systrade_strategy::Decision {
            let mut d = systrade_strategy::Decision::default();
            let tomorrow = self.data[&self.sym]
                .iter()
                .find(|b| b.ts >= view.cut)
                .map(|b| b.close)
                .unwrap_or(0.0);
            let t = if tomorrow > 100.0 {
                systrade_strategy::Target::Weight(1.0)
            } else {
                systrade_strategy::Target::Flat
            };
            d.set(&self.sym, t, "peek");
            d
        }
    }
    let (sym, data) = market(5, 300);
    let cuts = [data[&sym][150].ts];
    let cfg = BacktestConfig::default();
    let err = check(
        |d| Peek {
            sym: sym.clone(),
            data: d.clone(),
        },
        &data,
        &cfg,
        &cuts,
        Perturbation::Scale(10.0),
    )
    .unwrap_err();
    assert!(err.contains("changed a decision made before it"), "{err}");
}

#[test]
fn test_bad_requests() {
    let (sym, data) = market(1, 100);
    let d = |i: usize| data[&sym][i].ts;
    let cfg = BacktestConfig {
        start: Some(d(50)),
        end: Some(d(10)),
        ..BacktestConfig::default()
    };
    assert!(
        run(&mut strategy(&sym, 2, 5, None), &data, &cfg)
            .unwrap_err()
            .to_string()
            .contains("is after")
    );
    let cfg = BacktestConfig {
        start: Some(NaiveDate::from_ymd_opt(2040, 1, 1).unwrap()),
        ..BacktestConfig::default()
    };
    assert!(
        run(&mut strategy(&sym, 2, 5, None), &data, &cfg)
            .unwrap_err()
            .to_string()
            .contains("no bars")
    );
    let other = Symbol::new("NOPE").unwrap();
    assert!(
        run(
            &mut strategy(&other, 2, 5, None),
            &data,
            &BacktestConfig::default()
        )
        .unwrap_err()
        .to_string()
        .contains("unknown symbol NOPE")
    );
    assert!(
        SmaCross::new(SmaCrossParams {
            symbol: sym.clone(),
            fast: 30,
            slow: 10,
            size: None
        })
        .is_err()
    );
    let cfg = BacktestConfig {
        costs: CostModel {
            fee_bps: -1.0,
            ..CostModel::default()
        },
        ..BacktestConfig::default()
    };
    assert!(run(&mut strategy(&sym, 2, 5, None), &data, &cfg).is_err());
}

/// A strategy that follows a script: on the close of a date, this target and stop.
struct Script {
    sym: Symbol,
    plan: BTreeMap<NaiveDate, (systrade_strategy::Target, Option<f64>)>,
}

impl systrade_strategy::Strategy for Script {
    fn name(&self) -> &str {
        "script"
    }
    fn universe(&self) -> Vec<Symbol> {
        vec![self.sym.clone()]
    }
    fn decide(
        &mut self,
        view: &systrade_strategy::MarketView<'_>,
        _p: &systrade_strategy::PortfolioView,
    ) -> systrade_strategy::Decision {
        let mut d = systrade_strategy::Decision::default();
        let Some(last) = view.history(&self.sym).last() else {
            return d;
        };
        if let Some((t, stop)) = self.plan.get(&last.ts) {
            d.set(&self.sym, *t, "script");
            if let Some(s) = stop {
                d.stops.insert(self.sym.clone(), *s);
            }
        }
        d
    }
}

fn bars(rows: &[(u32, f64, f64, f64, f64)]) -> Vec<DailyBar> {
    rows.iter()
        .map(|&(day, o, h, l, c)| {
            systrade_core::Bar::new(
                NaiveDate::from_ymd_opt(2024, 1, day).unwrap(),
                systrade_core::Ohlcv {
                    open: o,
                    high: h,
                    low: l,
                    close: c,
                    volume: 1e6,
                },
            )
        })
        .collect()
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, d).unwrap()
}

#[test]
fn test_stops_fill_at_the_stop_or_at_a_gapped_open() {
    let sym = Symbol::new("S").unwrap();
    use systrade_strategy::Target;
    // Enter after day 2's close (fills at day 3's open, 100) with a stop at 95.
    let data: BTreeMap<Symbol, Vec<DailyBar>> = [(
        sym.clone(),
        bars(&[
            (2, 100.0, 101.0, 99.0, 100.0),
            (3, 100.0, 102.0, 98.0, 101.0),
            (4, 101.0, 101.5, 94.0, 96.0),
            (5, 96.0, 97.0, 95.5, 96.5),
        ]),
    )]
    .into();
    let mut s = Script {
        sym: sym.clone(),
        plan: [(day(2), (Target::Weight(1.0), Some(95.0)))].into(),
    };
    let r = run(&mut s, &data, &BacktestConfig::default()).unwrap();
    let stop = r
        .fills
        .iter()
        .find(|f| f.reason == "stop")
        .expect("stop filled");
    assert_eq!(
        (stop.date, stop.price.to_f64().unwrap()),
        (day(4), 95.0),
        "low touched 95: fill at the stop"
    );
    assert_eq!(r.summary.n_stop_exits, 1);
    assert!(r.summary.final_positions.is_empty());
    // The same with a gap: day 4 opens at 90, under the stop: fill at the open.
    let data: BTreeMap<Symbol, Vec<DailyBar>> = [(
        sym.clone(),
        bars(&[
            (2, 100.0, 101.0, 99.0, 100.0),
            (3, 100.0, 102.0, 98.0, 101.0),
            (4, 90.0, 92.0, 88.0, 91.0),
        ]),
    )]
    .into();
    let mut s = Script {
        sym: sym.clone(),
        plan: [(day(2), (Target::Weight(1.0), Some(95.0)))].into(),
    };
    let r = run(&mut s, &data, &BacktestConfig::default()).unwrap();
    let stop = r
        .fills
        .iter()
        .find(|f| f.reason == "stop")
        .expect("stop filled");
    assert_eq!(
        (stop.date, stop.price.to_f64().unwrap()),
        (day(4), 90.0),
        "gap through the stop fills at the open"
    );
    let t = &r.trades[0];
    assert!((t.pnl - (90.0 - 100.0) * t.qty).abs() < 1e-6);
}

#[test]
fn test_interest_on_cash_and_borrow_on_shorts() {
    let sym = Symbol::new("S").unwrap();
    use systrade_strategy::Target;
    let flat: Vec<(u32, f64, f64, f64, f64)> =
        (2..12).map(|d| (d, 50.0, 50.0, 50.0, 50.0)).collect();
    let data: BTreeMap<Symbol, Vec<DailyBar>> = [(sym.clone(), bars(&flat))].into();
    let cfg = BacktestConfig {
        cash_rate: (2..12).map(|d| (day(d), 0.001)).collect(),
        ..BacktestConfig::default()
    };
    let r = run(
        &mut Script {
            sym: sym.clone(),
            plan: BTreeMap::new(),
        },
        &data,
        &cfg,
    )
    .unwrap();
    assert!(
        (r.summary.final_equity - 100_000.0 * 1.001f64.powi(10)).abs() < 1e-6,
        "{}",
        r.summary.final_equity
    );
    assert!((r.summary.total_interest - (r.summary.final_equity - 100_000.0)).abs() < 1e-6);
    // Short 100 units at 50 with borrow at 252 bps a year over 252 periods: 0.5 per day.
    let cfg = BacktestConfig {
        costs: CostModel {
            borrow_bps: 252.0,
            ..CostModel::default()
        },
        ..BacktestConfig::default()
    };
    let mut s = Script {
        sym: sym.clone(),
        plan: [(day(2), (Target::Quantity(-100.0), None))].into(),
    };
    let r = run(&mut s, &data, &cfg).unwrap();
    assert_eq!(r.summary.final_positions.get(&sym).copied(), Some(-100.0));
    // Borrow is charged after each close while short: days 3..=11, nine periods.
    assert!(
        (r.summary.total_borrow - 9.0 * 5000.0 * 0.0252 / 252.0).abs() < 1e-9,
        "{}",
        r.summary.total_borrow
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(60))]

    /// The sweep kernel is the engine: same final equity, trades and metrics, bit for bit.
    #[test]
    fn prop_kernel_equals_engine(seed in 0u64..500, fast in 1usize..12, gap in 1usize..25, fee in 0.0f64..40.0, slip in 0.0f64..20.0, per_share in 0.0f64..0.01, min_fee in 0.0f64..2.0, close_fill in any::<bool>(), fixed in any::<bool>()) {
        let (sym, data) = market(seed, 350);
        let cfg = BacktestConfig {
            fill: if close_fill { FillAt::SameClose } else { FillAt::NextOpen },
            costs: CostModel { fee_bps: fee, per_share, min_fee, slippage_bps: slip, ..CostModel::default() },
            ..BacktestConfig::default()
        };
        let size = fixed.then_some(50.0);
        let slow = fast + gap;
        let engine = run(&mut strategy(&sym, fast, slow, size), &data, &cfg).unwrap();
        let closes: Vec<f64> = data[&sym].iter().map(|b| b.close).collect();
        let prefix = systrade_strategy::exact::exact_prefix(&closes).unwrap();
        let dates: Vec<NaiveDate> = data[&sym].iter().skip(1).map(|b| b.ts).collect();
        let shared = systrade_backtest::KernelInputs { prefix: &prefix, ret_dates: &dates };
        let k = systrade_backtest::sma_cross_kernel(&sym, &data, &shared, fast, slow, size, &cfg).unwrap();
        prop_assert_eq!(k.final_equity.to_bits(), engine.summary.final_equity.to_bits());
        prop_assert_eq!(k.entries, engine.trades.len());
        prop_assert_eq!(k.exits, engine.summary.n_trades);
        prop_assert_eq!(&k.metrics, &engine.summary.metrics);
    }
}

#[test]
fn test_vwap_fill_lots_and_thresholds() {
    use systrade_strategy::Target;
    let sym = Symbol::new("S").unwrap();
    let data: BTreeMap<Symbol, Vec<DailyBar>> = [(
        sym.clone(),
        bars(&[
            (2, 100.0, 101.0, 99.0, 100.0),
            (3, 100.0, 106.0, 97.0, 103.0),
            (4, 103.0, 104.0, 102.0, 103.0),
            (5, 103.0, 104.0, 102.0, 103.0),
        ]),
    )]
    .into();
    // VWAP stand-in: the next bar's typical price (106 + 97 + 103)/3 = 102.
    let cfg = BacktestConfig {
        fill: FillAt::NextVwap,
        ..BacktestConfig::default()
    };
    let r = run(
        &mut Script {
            sym: sym.clone(),
            plan: [(day(2), (Target::Quantity(10.0), None))].into(),
        },
        &data,
        &cfg,
    )
    .unwrap();
    assert_eq!(
        (r.fills[0].date, r.fills[0].price.to_f64().unwrap()),
        (day(3), 102.0)
    );
    // Lots round toward zero: 157 units in lots of 100 is 100.
    let cfg = BacktestConfig {
        lot_size: Some(100.0),
        ..BacktestConfig::default()
    };
    let r = run(
        &mut Script {
            sym: sym.clone(),
            plan: [(day(2), (Target::Quantity(157.0), None))].into(),
        },
        &data,
        &cfg,
    )
    .unwrap();
    assert_eq!(r.fills[0].qty.to_f64().unwrap(), 100.0);
    // Below the minimum notional or the equity threshold: no order; closing still trades.
    let cfg = BacktestConfig {
        min_notional: 5_000.0,
        trade_threshold: 0.01,
        ..BacktestConfig::default()
    };
    let plan = [
        (day(2), (Target::Quantity(40.0), None)),
        (day(3), (Target::Quantity(60.0), None)),
        (day(4), (Target::Flat, None)),
    ]
    .into();
    let r = run(
        &mut Script {
            sym: sym.clone(),
            plan,
        },
        &data,
        &cfg,
    )
    .unwrap();
    let statuses: Vec<&str> = r.orders.iter().map(|o| o.status.as_str()).collect();
    assert_eq!(
        statuses,
        ["below_threshold", "filled", "filled"],
        "40 units (≈4,000) is below 5,000; 60 units trade; the exit always trades"
    );
    assert!(r.summary.final_positions.is_empty());
}
