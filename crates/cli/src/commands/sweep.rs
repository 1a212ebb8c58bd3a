//! `systrade sweep`

use std::collections::BTreeMap;

use anyhow::Context;
use systrade_backtest::sweep::{METRICS, parse_grid, sweep_sma_cross, write_sweep};
use systrade_backtest::{BacktestConfig, BacktestError};
use systrade_core::Symbol;
use systrade_data::DataSource;
use systrade_strategy::{SmaCross, SmaCrossParams};

use super::progress;
use crate::args::{StrategyArg, SweepArgs};
use crate::exit::BadInput;

pub fn run(a: &SweepArgs) -> anyhow::Result<()> {
    let grid = parse_grid(&a.grid).map_err(BadInput)?;
    if !METRICS.contains(&a.metric.as_str()) {
        return Err(BadInput(format!("--metric must be one of {}", METRICS.join(", "))).into());
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
    let source = DataSource::open(&a.run.data)?;
    let opts = a.run.read.parse_options();
    let all = if a.symbols.trim() == "all" {
        source.all_daily(&opts)?
    } else {
        let mut v = Vec::new();
        for s in a
            .symbols
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let sym = Symbol::new(s).map_err(|e| BadInput(e.to_string()))?;
            v.push(source.daily(&sym, &opts)?);
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
    let combos = grid.combos();
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
    write_sweep(&rows, &grid, &a.metric, &a.run.out)
        .with_context(|| format!("writing {}", a.run.out.display()))?;
    let total: f64 = rows.iter().map(|r| r.final_equity).sum();
    let entries: usize = rows.iter().map(|r| r.entries).sum();
    let exits: usize = rows.iter().map(|r| r.exits).sum();
    println!(
        "{} backtests ({} symbols × {n_valid} combinations) in {took:.2}s: Σ final_equity {total:.6}, Σ entries {entries}, Σ exits {exits}",
        rows.len(),
        series.len()
    );
    println!(
        "wrote {}/sweep.csv and sensitivity.csv",
        a.run.out.display()
    );
    Ok(())
}
