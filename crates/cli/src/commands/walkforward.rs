//! `systrade walkforward`

use std::collections::BTreeMap;

use anyhow::Context;
use systrade_backtest::BacktestError;
use systrade_backtest::sweep::parse_grid;
use systrade_backtest::walkforward::{Span, walk_forward, write_walk_forward};
use systrade_core::Symbol;
use systrade_data::DataSource;
use systrade_strategy::{SmaCross, SmaCrossParams};

use crate::args::{StrategyArg, WalkforwardArgs};
use systrade_systems::tearsheet::{WalkForwardRun, walk_forward_sheet};

use crate::exit::BadInput;

pub fn run(a: &WalkforwardArgs) -> anyhow::Result<()> {
    let grid = parse_grid(&a.grid).map_err(BadInput)?;
    let (train, test) = (
        Span::parse(&a.train).map_err(BadInput)?,
        Span::parse(&a.test).map_err(BadInput)?,
    );
    if !["cagr", "sharpe", "sortino", "max_dd", "calmar"].contains(&a.metric.as_str()) {
        return Err(BadInput(
            "--metric must be one of cagr, sharpe, sortino, max_dd, calmar".into(),
        )
        .into());
    }
    let StrategyArg::SmaCross = a.strategy;
    for (name, _) in &grid.params {
        if !matches!(name.as_str(), "fast" | "slow") {
            return Err(BadInput(format!(
                "sma-cross has no parameter {name:?} (it takes fast and slow)"
            ))
            .into());
        }
    }
    let symbol = Symbol::new(&a.symbol).map_err(|e| BadInput(e.to_string()))?;
    let series = DataSource::open(&a.run.data)?.daily(&symbol, &a.run.read.parse_options())?;
    let (Some(first), Some(last)) = (
        series.bars.first().map(|b| b.ts),
        series.bars.last().map(|b| b.ts),
    ) else {
        return Err(BadInput(format!("{symbol}: no bars")).into());
    };
    let cfg = a.run.config(f64::from(series.market.periods_per_year()));
    let data: BTreeMap<Symbol, _> = [(symbol.clone(), series.bars)].into();
    let window =
        |c: &BTreeMap<String, f64>, k: &str, d: usize| c.get(k).map_or(d, |v| v.round() as usize);
    let make = |c: &BTreeMap<String, f64>| {
        SmaCross::new(SmaCrossParams {
            symbol: symbol.clone(),
            fast: window(c, "fast", 10),
            slow: window(c, "slow", 30),
            size: None,
        })
        .ok()
    };
    // The number of windows is known only as they are formed: a spinner with a count.
    let pb = super::progress(0, "train backtests");
    let w = walk_forward(
        &data,
        &grid.combos(),
        &cfg,
        make,
        (first, last),
        train,
        test,
        a.anchored,
        &a.metric,
        &|| pb.inc(1),
    );
    pb.finish_and_clear();
    let w = w.map_err(|e| match e {
        BacktestError::Input(m) => anyhow::Error::from(BadInput(m)),
        other => other.into(),
    })?;
    write_walk_forward(&w, &a.run.out)
        .with_context(|| format!("writing {}", a.run.out.display()))?;
    let show = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "n/a".into());
    for (i, x) in w.windows.iter().enumerate() {
        let params: Vec<String> = x.best.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "window {i}: train {}..{} → test {}..{}: {} — {} in sample {}, out of sample {}",
            x.train_from,
            x.train_to,
            x.test_from,
            x.test_to,
            params.join(" "),
            a.metric,
            show(x.in_sample),
            show(x.out_of_sample)
        );
    }
    println!(
        "{} windows: mean {} in sample {}, out of sample {} (ratio {}); stitched out-of-sample Sharpe {}, CAGR {}",
        w.windows.len(),
        a.metric,
        show(w.in_sample_mean),
        show(w.out_of_sample_mean),
        show(w.degradation_ratio),
        show(w.oos_metrics.sharpe),
        show(w.oos_metrics.cagr)
    );
    let sheet = walk_forward_sheet(
        &w,
        &data,
        &WalkForwardRun {
            symbol: &a.symbol,
            data: &a.run.data,
            train: &a.train,
            test: &a.test,
            metric: &a.metric,
            cash: a.run.cash,
            fees_bps: a.run.fees_bps,
        },
    );
    let report = systrade_systems::tearsheet::emit(&sheet, &a.run.out, false)?;
    println!(
        "wrote {} (tear sheet: {})",
        a.run.out.display(),
        report.display()
    );
    Ok(())
}
