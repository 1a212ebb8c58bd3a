//! A research backtest of one strategy on history: the run, its splits and its cost grid,
//! written with the tear sheet (`systrade backtest --strategy …`). The splits and the grid
//! are `systrade_backtest::research`; this module puts them together.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;
use systrade_backtest::research::{
    CostRow, Split, SplitReport, cost_grid, split_reports, write_cost_grid, write_splits,
};
use systrade_backtest::{BacktestConfig, BacktestError, BacktestResult, write_outputs};
use systrade_core::{BadInput, DailyBar, Symbol};
use systrade_report::tearsheet::TearSheet;
use systrade_strategy::Strategy;

use crate::tearsheet::{
    buy_and_hold, cost_grid_table, engine_performance, splits_table, top_trades,
};

fn input(e: BacktestError) -> anyhow::Error {
    match e {
        BacktestError::Input(m) => BadInput(m).into(),
        other => other.into(),
    }
}

/// The fee levels of `--cost-grid` (`none`: no grid).
pub fn cost_levels(text: &str) -> anyhow::Result<Vec<f64>> {
    match text.trim() {
        "none" | "" => Ok(Vec::new()),
        text => text
            .split(',')
            .map(|x| {
                x.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
            })
            .collect::<Option<Vec<f64>>>()
            .ok_or_else(|| {
                BadInput(format!(
                    "--cost-grid must list non-negative bps like 0,5,10 (or none), got {text:?}"
                ))
                .into()
            }),
    }
}

/// An annual cash rate (percent, from `path`) forward-filled onto the bar dates as a simple
/// rate per period; dates before the file's first rate get none.
pub fn cash_rate_per_period(
    path: &Path,
    bars: &[DailyBar],
    periods_per_year: f64,
) -> anyhow::Result<BTreeMap<NaiveDate, f64>> {
    let r = systrade_data::values::read_value_series(path, None, &["rate", "cdi", "selic"])?;
    let mut out = BTreeMap::new();
    let mut j = 0;
    for b in bars {
        while j + 1 < r.dates.len() && r.dates[j + 1] <= b.ts {
            j += 1;
        }
        if r.dates.get(j).is_some_and(|d| *d <= b.ts) {
            out.insert(
                b.ts,
                (1.0 + r.values[j] / 100.0).powf(1.0 / periods_per_year) - 1.0,
            );
        }
    }
    Ok(out)
}

/// A research run: the backtest, its metrics per split and at each fee level.
pub struct Research {
    pub result: BacktestResult,
    pub splits: Option<Vec<SplitReport>>,
    pub grid: Option<Vec<CostRow>>,
}

/// Runs `proto` (every run — main and cost grid — from a fresh copy) over `data`.
pub fn research<S: Strategy + Clone + Sync>(
    proto: &S,
    data: &BTreeMap<Symbol, Vec<DailyBar>>,
    cfg: &BacktestConfig,
    levels: &[f64],
    splits: Option<&[Split]>,
) -> anyhow::Result<Research> {
    let result = systrade_backtest::run(&mut proto.clone(), data, cfg).map_err(input)?;
    let splits = splits
        .map(|s| split_reports(&result, s, cfg.periods_per_year))
        .transpose()
        .map_err(input)?;
    let grid = if levels.is_empty() {
        None
    } else {
        Some(cost_grid(|| Ok(proto.clone()), data, cfg, levels).map_err(input)?)
    };
    Ok(Research {
        result,
        splits,
        grid,
    })
}

/// Writes the run's outputs, its cost grid and its splits into `out`.
pub fn write_research(r: &Research, out: &Path) -> anyhow::Result<()> {
    write_outputs(&r.result, out).with_context(|| format!("writing {}", out.display()))?;
    if let Some(rows) = &r.grid {
        write_cost_grid(rows, out)?;
    }
    if let Some(rows) = &r.splits {
        write_splits(rows, out)?;
    }
    Ok(())
}

/// The run's tear sheet: equity against buy & hold, the engine's metrics, the cost grid, the
/// splits and the largest trades.
pub fn research_sheet(
    r: &Research,
    cfg: &BacktestConfig,
    data: &BTreeMap<Symbol, Vec<DailyBar>>,
    (title, subtitle): (String, String),
) -> TearSheet {
    let mut tables = Vec::new();
    if let Some(rows) = &r.grid {
        tables.push(cost_grid_table(rows));
    }
    if let Some(rows) = &r.splits {
        tables.push(splits_table(rows));
    }
    tables.extend(top_trades(&r.result.trades, 10));
    let dates: Vec<NaiveDate> = r.result.series.iter().map(|x| x.date).collect();
    TearSheet {
        title,
        subtitle,
        perf: engine_performance(&r.result, cfg, buy_and_hold(data, &dates)),
        metrics: crate::tearsheet::engine_metrics_with_capacity(&r.result, data),
        tables,
        notes: r.result.summary.warnings.iter().take(10).cloned().collect(),
    }
}

/// The heat map of a sweep over its first two grid keys: each cell the median of the metric
/// over every other key (and symbol) at that pair, the cells holding a sharp peak
/// outlined. `None` for a one-key grid.
pub fn sweep_heatmap(
    rows: &[systrade_backtest::sweep::SweepRow],
    points: &[systrade_backtest::sweep::PointSensitivity],
    grid: &systrade_backtest::sweep::Grid,
    metric: &str,
) -> Option<systrade_report::heatmap::HeatMap> {
    let [(x_name, xs), (y_name, ys), ..] = grid.params.as_slice() else {
        return None;
    };
    let at = |c: &systrade_backtest::sweep::Combo| -> Option<(usize, usize)> {
        let i = xs.iter().position(|v| Some(v) == c.get(x_name))?;
        let j = ys.iter().position(|v| Some(v) == c.get(y_name))?;
        Some((i, j))
    };
    let mut values: BTreeMap<(usize, usize), Vec<f64>> = BTreeMap::new();
    for r in rows {
        if let (Some(ij), Some(v)) = (at(&r.params), r.metric(metric)) {
            values.entry(ij).or_default().push(v);
        }
    }
    let mut cells = vec![vec![None; xs.len()]; ys.len()];
    for ((i, j), mut v) in values {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        cells[j][i] = Some(if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        });
    }
    let mut marked: Vec<(usize, usize)> = points
        .iter()
        .filter(|p| p.sharp_peak)
        .filter_map(|p| at(&p.params))
        .collect();
    marked.sort_unstable();
    marked.dedup();
    Some(systrade_report::heatmap::HeatMap {
        title: format!("{metric} by {x_name} and {y_name}"),
        x_name: x_name.clone(),
        y_name: y_name.clone(),
        xs: xs.clone(),
        ys: ys.clone(),
        cells,
        marked,
    })
}

/// Writes `heatmap.svg` of a sweep (nothing for a one-key grid); returns whether it did.
pub fn write_heatmap(
    rows: &[systrade_backtest::sweep::SweepRow],
    points: &[systrade_backtest::sweep::PointSensitivity],
    grid: &systrade_backtest::sweep::Grid,
    metric: &str,
    out: &Path,
) -> anyhow::Result<bool> {
    let Some(h) = sweep_heatmap(rows, points, grid, metric) else {
        return Ok(false);
    };
    match systrade_report::heatmap::svg(&h) {
        Ok(svg) => {
            systrade_core::fsio::write_atomic(&out.join("heatmap.svg"), svg.as_bytes())?;
            Ok(true)
        }
        // No point has the metric (e.g. every run flat): nothing to draw, said by the caller.
        Err(systrade_report::ReportError::Empty(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
