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
    let report = systrade_systems::tearsheet::emit(&tearsheet_of(&w, &data, a), &a.run.out, false)?;
    println!(
        "wrote {} (tear sheet: {})",
        a.run.out.display(),
        report.display()
    );
    Ok(())
}

/// The tear sheet of a walk-forward: the stitched out-of-sample equity (from --cash, one
/// session before the first test window) against buy & hold, and the windows' table.
fn tearsheet_of(
    w: &systrade_backtest::walkforward::WalkForward,
    data: &BTreeMap<Symbol, Vec<systrade_core::DailyBar>>,
    a: &WalkforwardArgs,
) -> systrade_report::tearsheet::TearSheet {
    use systrade_systems::tearsheet::{buy_and_hold, opt_num, opt_pct};
    let first = w.oos_dates.first().copied();
    let before = first.and_then(|d| {
        data.values()
            .flat_map(|b| b.iter().map(|x| x.ts))
            .filter(|t| *t < d)
            .max()
    });
    // The equity starts at --cash one session before the first test day; without such a
    // session it starts on that day and its return is dropped.
    let (mut dates, skip) = match before {
        Some(b) => (vec![b], 0),
        None => (Vec::new(), 1),
    };
    dates.extend(&w.oos_dates);
    let mut equity = vec![a.run.cash];
    for r in w.oos_returns.iter().skip(skip) {
        equity.push(equity.last().copied().unwrap_or(a.run.cash) * (1.0 + r));
    }
    let m = &w.oos_metrics;
    let windows = systrade_report::tearsheet::Table {
        caption: "Walk-forward windows".into(),
        header: [
            "train from",
            "train to",
            "test from",
            "test to",
            "best parameters",
            "in sample",
            "out of sample",
        ]
        .map(String::from)
        .to_vec(),
        rows: w
            .windows
            .iter()
            .map(|x| {
                vec![
                    x.train_from.to_string(),
                    x.train_to.to_string(),
                    x.test_from.to_string(),
                    x.test_to.to_string(),
                    x.best
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                    opt_num(x.in_sample),
                    opt_num(x.out_of_sample),
                ]
            })
            .collect(),
        note: format!(
            "{} of the best combination on each train window, and of the same combination on the test window after it ({}).",
            w.metric,
            if w.anchored { "anchored" } else { "rolling" }
        ),
    };
    systrade_report::tearsheet::TearSheet {
        title: format!("Walk-forward — sma-cross {}", a.symbol),
        subtitle: format!(
            "{} · train {}, test {} · chosen by {} · fees {} bps · equity stitched from the test windows",
            a.run.data.display(),
            a.train,
            a.test,
            a.metric,
            a.run.fees_bps
        ),
        perf: systrade_report::tearsheet::Performance {
            benchmark: buy_and_hold(data, &dates),
            cash_rate: None,
            exposure: None,
            turnover: None,
            periods_per_year: w.oos_metrics.periods_per_year,
            dates,
            equity,
        },
        metrics: vec![
            ("out-of-sample CAGR".into(), opt_pct(m.cagr)),
            ("volatility".into(), opt_pct(m.annual_vol)),
            ("Sharpe".into(), opt_num(m.sharpe)),
            ("Sortino".into(), opt_num(m.sortino)),
            ("max drawdown".into(), opt_pct(m.max_drawdown)),
            ("Calmar".into(), opt_num(m.calmar)),
            (
                format!("mean {} in sample", w.metric),
                opt_num(w.in_sample_mean),
            ),
            (
                format!("mean {} out of sample", w.metric),
                opt_num(w.out_of_sample_mean),
            ),
            ("degradation ratio".into(), opt_num(w.degradation_ratio)),
            ("windows".into(), w.windows.len().to_string()),
        ],
        tables: vec![windows],
        notes: Vec::new(),
    }
}
