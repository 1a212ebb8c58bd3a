//! `systrade sweep`

use std::collections::BTreeMap;

use anyhow::Context;
use systrade_backtest::shard::{Part, SweepPart, merge as merge_parts, part_files};
use systrade_backtest::sweep::{
    Combo, Grid, METRICS, PointSensitivity, SweepRow, parse_grid, parse_search, sample,
    sweep_sma_cross_part, write_sweep,
};
use systrade_backtest::{BacktestConfig, BacktestError};
use systrade_core::Symbol;
use systrade_data::DataSource;
use systrade_strategy::{SmaCross, SmaCrossParams};

use super::progress;
use crate::args::{MergeArgs, StrategyArg, SweepArgs};
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
    let part = a
        .shard
        .as_deref()
        .map(Part::parse)
        .transpose()
        .map_err(BadInput)?;
    if let Some(config) = &a.config {
        return config_sweep(config, &grid, a, part);
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
        record_decisions: systrade_backtest::KeepDecisions::None,
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
    let units = n_valid * series.len();
    let mine = part.map_or(units, |p| (0..units).filter(|k| p.has(*k)).count());
    let pb = progress(mine as u64, "backtests");
    let started = std::time::Instant::now();
    let rows = sweep_sma_cross_part(
        &series,
        &combos,
        &cfg,
        None,
        &|| pb.inc(1),
        part.unwrap_or(Part::WHOLE),
    )
    .map_err(|e| match e {
        BacktestError::Input(m) => anyhow::Error::from(BadInput(m)),
        other => other.into(),
    })?;
    pb.finish_and_clear();
    if let Some(part) = part {
        return write_part(a, None, part, units, rows, Vec::new());
    }
    let rows: Vec<SweepRow> = rows.into_iter().map(|(_, r)| r).collect();
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

/// What the sweep is, as every part of it must agree: its arguments but where the part goes
/// (`--shard`, `--out`, `--home`), and the config file's text.
pub fn run_key(config: Option<&std::path::Path>) -> anyhow::Result<String> {
    let mut kept: Vec<String> = Vec::new();
    let mut skip = false;
    for arg in std::env::args().skip(1) {
        if std::mem::take(&mut skip) {
            continue;
        }
        if matches!(arg.as_str(), "--shard" | "--out" | "--home") {
            skip = true;
            continue;
        }
        if ["--shard=", "--out=", "--home="]
            .iter()
            .any(|p| arg.starts_with(p))
        {
            continue;
        }
        kept.push(arg);
    }
    let mut text = kept.join("\u{1f}");
    if let Some(c) = config {
        text.push('\u{1e}');
        text.push_str(
            &std::fs::read_to_string(c).with_context(|| format!("reading {}", c.display()))?,
        );
    }
    Ok(systrade_core::id::sha256_hex(text.as_bytes()))
}

/// Writes this process's part of a sharded sweep.
fn write_part(
    a: &SweepArgs,
    config: Option<&std::path::Path>,
    part: Part,
    units: usize,
    rows: Vec<(usize, SweepRow)>,
    refused: Vec<(usize, String)>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&a.run.out)
        .with_context(|| format!("creating {}", a.run.out.display()))?;
    let n = rows.len();
    let path = SweepPart {
        key: run_key(config)?,
        part,
        units,
        grid: a.grid.clone(),
        metric: a.metric.clone(),
        rows,
        refused,
    }
    .write(&a.run.out)?;
    println!(
        "part {} of {}: {n} of {units} backtests; wrote {} (`systrade merge` puts the parts together)",
        part.index,
        part.count,
        path.display()
    );
    Ok(())
}

/// `systrade merge`: the parts of a sharded sweep, written as one process writes the sweep.
pub fn merge(a: &MergeArgs) -> anyhow::Result<()> {
    let files = part_files(&a.parts).map_err(|e| BadInput(e.to_string()))?;
    if files
        .first()
        .is_some_and(|f| systrade_backtest::walkforward_part::is_walkforward_part(f))
    {
        return super::walkforward::merge(files, &a.out);
    }
    let mut parts = Vec::new();
    for p in files {
        let part = SweepPart::read(&p).map_err(|e| BadInput(e.to_string()))?;
        parts.push((p, part));
    }
    let m = merge_parts(parts).map_err(|e| BadInput(e.to_string()))?;
    if m.rows.is_empty() {
        return Err(BadInput(format!(
            "the parts hold no backtest: the strategy refused every point ({})",
            m.refused.first().cloned().unwrap_or_default()
        ))
        .into());
    }
    let grid = parse_grid(&m.grid).map_err(BadInput)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let points = write_sweep(&m.rows, &grid, &m.metric, &a.out)
        .with_context(|| format!("writing {}", a.out.display()))?;
    let heat =
        systrade_systems::research::write_heatmap(&m.rows, &points, &grid, &m.metric, &a.out)?;
    println!("merged {} backtests", m.rows.len());
    for why in m.refused.iter().take(5) {
        println!("refused {why}");
    }
    report_peaks(&points, &m.metric);
    wrote(&a.out, heat);
    Ok(())
}

/// `sweep --config`: any numeric key of a strategy config.
fn config_sweep(
    config: &std::path::Path,
    grid: &Grid,
    a: &SweepArgs,
    part: Option<Part>,
) -> anyhow::Result<()> {
    a.run.refuse_engine_flags()?;
    let study =
        systrade_systems::study::Study::load(config, a.run.data.as_deref(), &a.run.read.options())?;
    let keys: Vec<&str> = grid.params.iter().map(|(k, _)| k.as_str()).collect();
    study.check_keys(&keys)?;
    let all = points(grid, &a.search)?;
    let units = all.len();
    let numbered: Vec<(usize, Combo)> = all
        .into_iter()
        .enumerate()
        .filter(|(k, _)| part.is_none_or(|p| p.has(*k)))
        .collect();
    let combos: Vec<Combo> = numbered.iter().map(|(_, c)| c.clone()).collect();
    let pb = progress(combos.len() as u64, "backtests");
    let started = std::time::Instant::now();
    let systrade_systems::study::SweepOutcome { rows, refused } =
        study.sweep(&combos, &|| pb.inc(1))?;
    pb.finish_and_clear();
    if let Some(part) = part {
        // The rows come back in the points' order, the refused ones left out.
        let mut rows = rows.into_iter();
        let mut kept = Vec::new();
        let mut no = Vec::new();
        for (k, c) in &numbered {
            match refused.iter().find(|(r, _)| r == c) {
                Some((_, why)) => no.push((*k, why.clone())),
                None => kept.extend(rows.next().map(|r| (*k, r))),
            }
        }
        return write_part(a, Some(config), part, units, kept, no);
    }
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
