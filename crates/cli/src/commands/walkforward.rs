//! `systrade walkforward`

use std::collections::BTreeMap;

use anyhow::Context;
use systrade_backtest::BacktestError;
use systrade_backtest::shard::Part;
use systrade_backtest::sweep::parse_grid;
use systrade_backtest::walkforward::{Span, walk_forward, write_walk_forward};
use systrade_backtest::walkforward_part::{WalkForwardPart, merge as merge_parts};
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
    if let Some(config) = &a.config {
        return config_walk_forward(config, &grid, (train, test), a);
    }
    let (Some(StrategyArg::SmaCross), Some(symbol_text)) = (a.strategy, &a.symbol) else {
        return Err(BadInput("--strategy and --symbol are needed without --config".into()).into());
    };
    for (name, _) in &grid.params {
        if !matches!(name.as_str(), "fast" | "slow") {
            return Err(BadInput(format!(
                "sma-cross has no parameter {name:?} (it takes fast and slow)"
            ))
            .into());
        }
    }
    let symbol = Symbol::new(symbol_text).map_err(|e| BadInput(e.to_string()))?;
    let data_path = a.run.data()?;
    let series = DataSource::open(data_path)?.daily(&symbol, &a.run.read.parse_options())?;
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
    let combos = super::sweep::points(&grid, &a.search)?;
    let w = walk_forward(
        &data,
        &combos,
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
    let sheet = walk_forward_sheet(
        &w,
        &data,
        &WalkForwardRun {
            title: format!("sma-cross {symbol_text}"),
            data: data_path,
            train: &a.train,
            test: &a.test,
            metric: &a.metric,
            cash: cfg.cash,
            fees: format!("fees {} bps", cfg.costs.fee_bps),
        },
    );
    write_and_report(&w, &sheet, &a.metric, &a.run.out)
}

/// `walkforward --config`: any numeric key of a strategy config.
fn config_walk_forward(
    config: &std::path::Path,
    grid: &systrade_backtest::sweep::Grid,
    (train, test): (Span, Span),
    a: &WalkforwardArgs,
) -> anyhow::Result<()> {
    a.run.refuse_engine_flags()?;
    let study =
        systrade_systems::study::Study::load(config, a.run.data.as_deref(), &a.run.read.options())?;
    let keys: Vec<&str> = grid.params.iter().map(|(k, _)| k.as_str()).collect();
    study.check_keys(&keys)?;
    let mut valid = Vec::new();
    let mut first_refusal = None;
    for c in super::sweep::points(grid, &a.search)? {
        match study.check(&c) {
            Ok(()) => valid.push(c),
            Err(e) => {
                first_refusal.get_or_insert(e.to_string());
            }
        }
    }
    if let Some(why) = &first_refusal {
        println!("refused {why} (and any other point the strategy refuses)");
    }
    let source = match &a.run.data {
        Some(d) => d.clone(),
        None => config.to_path_buf(),
    };
    let about: BTreeMap<String, String> = [
        ("title", config.display().to_string()),
        ("data", source.display().to_string()),
        ("train", a.train.clone()),
        ("test", a.test.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let pb = super::progress(0, "train backtests");
    if let Some(text) = &a.shard {
        let part = Part::parse(text).map_err(BadInput)?;
        let r = study.walk_forward_part(
            &valid,
            (train, test, a.anchored),
            &a.metric,
            &|| pb.inc(1),
            part,
        );
        pb.finish_and_clear();
        let (folds, outcomes) = r?;
        std::fs::create_dir_all(&a.run.out)
            .with_context(|| format!("creating {}", a.run.out.display()))?;
        let path = WalkForwardPart {
            key: super::sweep::run_key(Some(config))?,
            part,
            metric: a.metric.clone(),
            anchored: a.anchored,
            periods_per_year: study.periods_per_year(),
            points: valid,
            folds,
            outcomes,
            about,
        }
        .write(&a.run.out)?;
        println!(
            "part {} of {}: wrote {} (`systrade merge` puts the parts together)",
            part.index,
            part.count,
            path.display()
        );
        return Ok(());
    }
    let w = study.walk_forward(&valid, (train, test, a.anchored), &a.metric, &|| pb.inc(1));
    pb.finish_and_clear();
    emit(&w?, &about, &a.metric, &a.run.out)
}

/// The tear sheet of a config's walk-forward.
fn config_sheet(
    w: &systrade_backtest::walkforward::WalkForward,
    about: &BTreeMap<String, String>,
    metric: &str,
) -> systrade_report::tearsheet::TearSheet {
    let get = |k: &str| about.get(k).cloned().unwrap_or_default();
    let data = std::path::PathBuf::from(get("data"));
    walk_forward_sheet(
        w,
        &BTreeMap::new(),
        &WalkForwardRun {
            title: get("title"),
            data: &data,
            train: &get("train"),
            test: &get("test"),
            metric,
            cash: 1.0,
            fees: "fees and cash as configured; equity from 1".into(),
        },
    )
}

/// `systrade merge` of walk-forward parts: the analysis one process writes.
pub fn merge(files: Vec<std::path::PathBuf>, out: &std::path::Path) -> anyhow::Result<()> {
    let mut parts = Vec::new();
    for p in files {
        let part = WalkForwardPart::read(&p).map_err(|e| BadInput(e.to_string()))?;
        parts.push((p, part));
    }
    let (w, about) = merge_parts(parts).map_err(|e| match e {
        BacktestError::Input(m) => anyhow::Error::from(BadInput(m)),
        other => other.into(),
    })?;
    let metric = w.metric.clone();
    emit(&w, &about, &metric, out)
}

/// Writes a config's analysis and its tear sheet.
fn emit(
    w: &systrade_backtest::walkforward::WalkForward,
    about: &BTreeMap<String, String>,
    metric: &str,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    let sheet = config_sheet(w, about, metric);
    write_and_report(w, &sheet, metric, out)
}

/// Writes the analysis and its tear sheet, and says what it found.
fn write_and_report(
    w: &systrade_backtest::walkforward::WalkForward,
    sheet: &systrade_report::tearsheet::TearSheet,
    metric: &str,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    write_walk_forward(w, out).with_context(|| format!("writing {}", out.display()))?;
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
            metric,
            show(x.in_sample),
            show(x.out_of_sample)
        );
    }
    println!(
        "{} windows: mean {} in sample {}, out of sample {} (ratio {}); stitched out-of-sample Sharpe {}, CAGR {}",
        w.windows.len(),
        metric,
        show(w.in_sample_mean),
        show(w.out_of_sample_mean),
        show(w.degradation_ratio),
        show(w.oos_metrics.sharpe),
        show(w.oos_metrics.cagr)
    );
    let report = systrade_systems::tearsheet::emit(sheet, out, false)?;
    println!("wrote {} (tear sheet: {})", out.display(), report.display());
    Ok(())
}
