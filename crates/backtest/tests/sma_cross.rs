//! `sma-cross` against every file in `../shared/fixtures/sma_cross` (vectorbt, cross-checked
//! by an independent loop and backtrader): trades and final equity to 1e-6 relative.

use std::collections::BTreeMap;
use std::path::PathBuf;

use systrade_backtest::{BacktestConfig, CostModel, FillAt, run};
use systrade_core::Symbol;
use systrade_strategy::{SmaCross, SmaCrossParams};
use systrade_testkit::{fixture_source, raw_daily, shared};

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / b.abs().max(1e-300)
    }
}

#[test]
fn test_every_sma_cross_fixture() {
    let Some(dir) = shared("fixtures/sma_cross") else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 18);
    let mut failures = Vec::new();
    for f in files {
        let fx: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let sym = fx["symbol"].as_str().unwrap();
        let (fast, slow) = (
            fx["fast"].as_u64().unwrap() as usize,
            fx["slow"].as_u64().unwrap() as usize,
        );
        let symbol = Symbol::new(sym).unwrap();
        let data: BTreeMap<Symbol, _> = [(symbol.clone(), raw_daily(&fixture_source(sym)))].into();
        let cfg = BacktestConfig {
            cash: fx["params"]["init_cash"].as_f64().unwrap(),
            fill: FillAt::NextOpen,
            costs: CostModel {
                fee_bps: fx["params"]["fees"].as_f64().unwrap() * 10_000.0,
                ..CostModel::default()
            },
            ..BacktestConfig::default()
        };
        let mut strat = SmaCross::new(SmaCrossParams {
            symbol: symbol.clone(),
            fast,
            slow,
            size: None,
        })
        .unwrap();
        let r = run(&mut strat, &data, &cfg).unwrap();
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        let mut check = |what: &str, got: f64, want: f64| {
            if rel(got, want) > 1e-6 {
                failures.push(format!("{name} {what}: expected {want}, got {got}"));
            }
        };
        check(
            "final_equity",
            r.summary.final_equity,
            fx["final_equity"].as_f64().unwrap(),
        );
        check(
            "final_cash",
            r.summary.final_cash + 1.0,
            fx["final_cash"].as_f64().unwrap() + 1.0,
        );
        check(
            "total_fees",
            r.summary.total_fees,
            fx["total_fees"].as_f64().unwrap(),
        );
        check(
            "final_qty",
            r.summary
                .final_positions
                .get(&symbol)
                .copied()
                .unwrap_or(0.0)
                + 1.0,
            fx["final_qty"].as_f64().unwrap() + 1.0,
        );
        if r.summary.n_trades != fx["n_trades"].as_u64().unwrap() as usize
            || r.summary.n_open_trades != fx["n_open_trades"].as_u64().unwrap() as usize
        {
            failures.push(format!(
                "{name}: trades {}+{} open, expected {}+{}",
                r.summary.n_trades, r.summary.n_open_trades, fx["n_trades"], fx["n_open_trades"]
            ));
            continue;
        }
        assert_eq!(
            r.summary.n_orders,
            fx["n_orders"].as_u64().unwrap() as usize,
            "{name} orders"
        );
        for (i, (t, w)) in r
            .trades
            .iter()
            .zip(fx["trades"].as_array().unwrap())
            .enumerate()
        {
            let tag = format!("trade {i}");
            if t.entry_date.to_string() != w["entry_date"].as_str().unwrap()
                || t.exit_date.map(|d| d.to_string()) != w["exit_date"].as_str().map(String::from)
                || t.open != w["open"].as_bool().unwrap()
            {
                failures.push(format!(
                    "{name} {tag}: dates/open {:?} vs {w}",
                    (t.entry_date, t.exit_date, t.open)
                ));
                continue;
            }
            let mut check = |what: &str, got: f64, want: f64| {
                if rel(got, want) > 1e-6 {
                    failures.push(format!("{name} {tag} {what}: expected {want}, got {got}"));
                }
            };
            check(
                "entry_price",
                t.entry_price,
                w["entry_price"].as_f64().unwrap(),
            );
            check("qty", t.qty, w["qty"].as_f64().unwrap());
            check("entry_fee", t.entry_fee, w["entry_fee"].as_f64().unwrap());
            if let Some(x) = w["exit_price"].as_f64() {
                check("exit_price", t.exit_price.unwrap_or(f64::NAN), x);
                check(
                    "exit_fee",
                    t.exit_fee.unwrap_or(f64::NAN),
                    w["exit_fee"].as_f64().unwrap(),
                );
            }
            // pnl relative to the trade's entry notional, return absolutely (fixture README).
            let notional = w["qty"].as_f64().unwrap() * w["entry_price"].as_f64().unwrap();
            if (t.pnl - w["pnl"].as_f64().unwrap()).abs() > 1e-6 * notional {
                failures.push(format!(
                    "{name} {tag} pnl: expected {}, got {}",
                    w["pnl"], t.pnl
                ));
            }
            if (t.ret - w["return"].as_f64().unwrap()).abs() > 1e-6 {
                failures.push(format!(
                    "{name} {tag} return: expected {}, got {}",
                    w["return"], t.ret
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches: {:#?}",
        failures.len(),
        &failures[..failures.len().min(20)]
    );
}
