//! Engine invariants on synthetic markets: accounting, fills inside the bar, fees, determinism,
//! no look-ahead.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use proptest::prelude::*;
use rust_decimal::prelude::ToPrimitive;
use systrade_backtest::lookahead::{Perturbation, check};
use systrade_backtest::{BacktestConfig, CostModel, FillAt, run, write_outputs};
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
    fn prop_accounting_fills_and_fees(seed in 0u64..1000, fast in 2usize..15, gap in 1usize..30, fee in 0.0f64..50.0, slip in 0.0f64..30.0, close_fill in any::<bool>(), fixed in any::<bool>()) {
        let (sym, data) = market(seed, 400);
        let cfg = BacktestConfig {
            fill: if close_fill { FillAt::SameClose } else { FillAt::NextOpen },
            costs: CostModel { fee_bps: fee, per_share: 0.001, min_fee: 0.5, slippage_bps: slip },
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
