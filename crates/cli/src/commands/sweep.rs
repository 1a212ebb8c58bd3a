//! `systrade sweep`

use std::collections::BTreeMap;

use anyhow::Context;
use systrade_backtest::sweep::{
    Combo, Grid, METRICS, PointSensitivity, parse_grid, parse_search, sample, sweep_sma_cross,
    write_sweep,
};
use systrade_backtest::{BacktestConfig, BacktestError};
use systrade_core::Symbol;
use systrade_data::DataSource;
use systrade_strategy::{SmaCross, SmaCrossParams};

use super::progress;
use crate::args::{StrategyArg, SweepArgs};
use crate::exit::BadInput;

/// The grid's points: every one, or `--search random:N` of them drawn with `--seed`.
pub fn points(grid: &Grid, search: &crate::args::SearchArgs) -> anyhow::Result<Vec<Combo>> {
    let all = grid.combos();
    Ok(match parse_search(&search.search).map_err(BadInput)? {
        None => all,
        Some(n) => sample(all, n, search.seed),
    })
}

pub fn run(a: &SweepArgs) -> anyhow::Result<()> {
    let grid = parse_grid(&a.grid).map_err(BadInput)?;
    if !METRICS.contains(&a.metric.as_str()) {
        return Err(BadInput(format!("--metric must be one of {}", METRICS.join(", "))).into());
    }
    if let Some(config) = &a.config {
        return config_sweep(config, &grid, a);
    }
    let (Some(StrategyArg::SmaCross), Some(symbols)) = (a.strategy, &a.symbols) else {
        return Err(BadInput("--strategy and --symbols are needed without --config".into()).into());
    };
    for (name, _) in &grid.params {
        if !matches!(name.as_str(), "fast" | "slow") {
            return Err(BadInput(format!(
                "sma-cross has no parameter {name:?} (it takes fast and slow)"
            ))
            .into());
        }
    }
    let source = DataSource::open(a.run.data()?)?;
    let opts = a.run.read.parse_options();
    let all = if symbols.trim() == "all" {
        source.all_daily(&opts)?
    } else {
        let mut v = Vec::new();
        let listing = source.listing()?;
        for s in symbols.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let sym = Symbol::new(s).map_err(|e| BadInput(e.to_string()))?;
            v.push(listing.daily(&sym, &opts)?);
        }
        v
    };
    if all.is_empty() {
        return Err(BadInput("no symbols to sweep".into()).into());
    }
    let periods = f64::from(all[0].market.periods_per_year());
    // Sweeps report metrics only: no decision log.
    let cfg = BacktestConfig {
        record_decisions: false,
        ..a.run.config(periods)
    };
    let series: Vec<(Symbol, BTreeMap<Symbol, _>)> = all
        .into_iter()
        .map(|s| (s.symbol.clone(), [(s.symbol, s.bars)].into()))
        .collect();
    let combos = points(&grid, &a.search)?;
    let fixed = |c: &BTreeMap<String, f64>, k: &str, default: usize| {
        c.get(k).map_or(default, |v| v.round() as usize)
    };
    let make = |sym: &Symbol, c: &BTreeMap<String, f64>| {
        SmaCross::new(SmaCrossParams {
            symbol: sym.clone(),
            fast: fixed(c, "fast", 10),
            slow: fixed(c, "slow", 30),
            size: None,
        })
        .ok()
    };
    let n_valid = combos
        .iter()
        .filter(|c| make(&series[0].0, c).is_some())
        .count();
    let pb = progress((n_valid * series.len()) as u64, "backtests");
    let started = std::time::Instant::now();
    let rows =
        sweep_sma_cross(&series, &combos, &cfg, None, &|| pb.inc(1)).map_err(|e| match e {
            BacktestError::Input(m) => anyhow::Error::from(BadInput(m)),
            other => other.into(),
        })?;
    pb.finish_and_clear();
    let took = started.elapsed().as_secs_f64();
    let points = write_sweep(&rows, &grid, &a.metric, &a.run.out)
        .with_context(|| format!("writing {}", a.run.out.display()))?;
    let heat =
        systrade_systems::research::write_heatmap(&rows, &points, &grid, &a.metric, &a.run.out)?;
    let total: f64 = rows.iter().map(|r| r.final_equity).sum();
    let entries: usize = rows.iter().map(|r| r.entries).sum();
    let exits: usize = rows.iter().map(|r| r.exits).sum();
    println!(
        "{} backtests ({} symbols × {n_valid} combinations) in {took:.2}s: Σ final_equity {total:.6}, Σ entries {entries}, Σ exits {exits}",
        rows.len(),
        series.len()
    );
    report_peaks(&points, &a.metric);
    wrote(&a.run.out, heat);
    Ok(())
}

fn wrote(out: &std::path::Path, heat: bool) {
    println!(
        "wrote {}/sweep.csv, sensitivity.csv, marginals.csv{}",
        out.display(),
        if heat {
            " and heatmap.svg"
        } else {
            " (no heat map: it needs two grid keys and a metric)"
        }
    );
}

/// Says which points are sharp peaks (a result its neighbours do not share).
fn report_peaks(points: &[PointSensitivity], metric: &str) {
    let peaks: Vec<&PointSensitivity> = points.iter().filter(|p| p.sharp_peak).collect();
    let show = |v: Option<f64>| v.map_or("n/a".to_string(), |x| format!("{x:.4}"));
    for p in peaks.iter().take(10) {
        let at: Vec<String> = p.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "sharp peak{}: {} — {metric} {} but its {} neighbours average {}",
            p.symbol
                .as_ref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default(),
            at.join(" "),
            show(p.value),
            p.neighbours,
            show(p.neighbour_mean)
        );
    }
    if peaks.len() > 10 {
        println!("… {} sharp peaks in all (sensitivity.csv)", peaks.len());
    }
}

/// `sweep --config`: any numeric key of a strategy config.
fn config_sweep(config: &std::path::Path, grid: &Grid, a: &SweepArgs) -> anyhow::Result<()> {
    a.run.refuse_engine_flags()?;
    let study =
        systrade_systems::study::Study::load(config, a.run.data.as_deref(), &a.run.read.options())?;
    let keys: Vec<&str> = grid.params.iter().map(|(k, _)| k.as_str()).collect();
    study.check_keys(&keys)?;
    let combos = points(grid, &a.search)?;
    let pb = progress(combos.len() as u64, "backtests");
    let started = std::time::Instant::now();
    let systrade_systems::study::SweepOutcome { rows, refused } =
        study.sweep(&combos, &|| pb.inc(1))?;
    pb.finish_and_clear();
    let took = started.elapsed().as_secs_f64();
    if rows.is_empty() {
        let why = refused.first().map(|(_, e)| e.clone()).unwrap_or_default();
        return Err(BadInput(format!(
            "{}: the strategy refuses every point of the grid ({why})",
            config.display()
        ))
        .into());
    }
    let points = write_sweep(&rows, grid, &a.metric, &a.run.out)
        .with_context(|| format!("writing {}", a.run.out.display()))?;
    let heat =
        systrade_systems::research::write_heatmap(&rows, &points, grid, &a.metric, &a.run.out)?;
    println!(
        "{} {} backtests of {} points in {took:.2}s",
        config.display(),
        rows.len(),
        combos.len()
    );
    for (_, why) in refused.iter().take(5) {
        println!("refused {why}");
    }
    if refused.len() > 5 {
        println!("… {} points refused in all", refused.len());
    }
    if let Some(best) = rows
        .iter()
        .filter(|r| r.metric(&a.metric).is_some())
        .max_by(|x, y| {
            x.metric(&a.metric)
                .partial_cmp(&y.metric(&a.metric))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    {
        let at: Vec<String> = best
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!(
            "best {}: {} — final equity {:.2}, CAGR {}, Sharpe {}, max drawdown {}",
            a.metric,
            at.join(" "),
            best.final_equity,
            systrade_systems::trend::pct(best.cagr),
            best.sharpe.map_or("n/a".into(), |v| format!("{v:.2}")),
            systrade_systems::trend::pct(best.max_dd)
        );
    }
    report_peaks(&points, &a.metric);
    wrote(&a.run.out, heat);
    Ok(())
}
