//! What every backtest writes for people: `report.html` (the tear sheet) and, with
//! `--plots`, its charts as SVG and PNG files in `charts/`. Built here from the engine's and
//! the momentum book's results; drawn by `systrade-report`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use systrade_backtest::research::{CostRow, SplitReport};
use systrade_backtest::walkforward::WalkForward;
use systrade_backtest::{BacktestConfig, BacktestResult, TradeRecord};
use systrade_core::{DailyBar, Symbol};
use systrade_pipeline::momentum::MomentumResult;
use systrade_report::tearsheet::{self, Performance, Table, TearSheet, pct};

use systrade_report::format::money;

pub fn opt_pct(x: Option<f64>) -> String {
    x.map(pct).unwrap_or_else(|| "n/a".into())
}

pub fn opt_num(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "n/a".into())
}

fn metric(label: &str, value: String) -> (String, String) {
    (label.to_string(), value)
}

/// The equal-weight buy-and-hold of the data (one symbol: the symbol itself): each
/// name's growth since the first date, averaged, on each date (the last close on or
/// before it; `dates` in order). `None` when no name has a price on the first date.
pub fn buy_and_hold(
    data: &BTreeMap<Symbol, Vec<DailyBar>>,
    dates: &[NaiveDate],
) -> Option<(String, Vec<f64>)> {
    let first = *dates.first()?;
    let close_on = |bars: &[DailyBar], d: NaiveDate| {
        let i = bars.partition_point(|b| b.ts <= d);
        i.checked_sub(1).map(|k| bars[k].close)
    };
    let names: Vec<(&Symbol, &Vec<DailyBar>, f64)> = data
        .iter()
        .filter_map(|(s, b)| close_on(b, first).filter(|c| *c > 0.0).map(|c| (s, b, c)))
        .collect();
    if names.is_empty() {
        return None;
    }
    // Dates in order: each name's position only moves forward (one walk per name).
    let mut at: Vec<usize> = vec![0; names.len()];
    let values = dates
        .iter()
        .map(|d| {
            names
                .iter()
                .zip(at.iter_mut())
                .map(|((_, b, c0), i)| {
                    while *i < b.len() && b[*i].ts <= *d {
                        *i += 1;
                    }
                    let close = if *i == 0 { *c0 } else { b[*i - 1].close };
                    close / c0
                })
                .sum::<f64>()
                / names.len() as f64
        })
        .collect();
    let label = if names.len() == 1 {
        format!("{} buy & hold", names[0].0)
    } else {
        format!("equal-weight buy & hold ({} names)", names.len())
    };
    Some((label, values))
}

/// The daily path of an engine run.
pub fn engine_performance(
    r: &BacktestResult,
    cfg: &BacktestConfig,
    benchmark: Option<(String, Vec<f64>)>,
) -> Performance {
    let dates: Vec<NaiveDate> = r.series.iter().map(|x| x.date).collect();
    let cash_rate = (!cfg.cash_rate.is_empty()).then(|| {
        (
            "cash rate".to_string(),
            dates
                .iter()
                .map(|d| cfg.cash_rate.get(d).copied().unwrap_or(0.0))
                .collect(),
        )
    });
    Performance {
        equity: r.series.iter().map(|x| x.equity).collect(),
        exposure: Some((
            r.series.iter().map(|x| x.gross).collect(),
            r.series
                .iter()
                .map(|x| {
                    if x.equity != 0.0 {
                        (x.equity - x.cash) / x.equity
                    } else {
                        0.0
                    }
                })
                .collect(),
        )),
        turnover: Some(r.series.iter().map(|x| x.turnover).collect()),
        dates,
        benchmark,
        cash_rate,
        periods_per_year: cfg.periods_per_year,
    }
}

/// A run's return numbers as the summary shows them: final equity, CAGR, volatility,
/// Sharpe, Sortino, max drawdown (peak → trough), Calmar, hit rate (`n/a` without returns).
pub fn return_metrics(
    final_equity: f64,
    m: Option<&systrade_metrics::Summary>,
) -> Vec<(String, String)> {
    let dd_dates = match m.map(|m| (m.max_drawdown_peak, m.max_drawdown_trough)) {
        Some((Some(p), Some(t))) => format!(" ({p} → {t})"),
        _ => String::new(),
    };
    vec![
        metric("final equity", money(final_equity)),
        metric("CAGR", opt_pct(m.and_then(|m| m.cagr))),
        metric("volatility", opt_pct(m.and_then(|m| m.annual_vol))),
        metric("Sharpe", opt_num(m.and_then(|m| m.sharpe))),
        metric("Sortino", opt_num(m.and_then(|m| m.sortino))),
        metric(
            "max drawdown",
            opt_pct(m.and_then(|m| m.max_drawdown)) + &dd_dates,
        ),
        metric("Calmar", opt_num(m.and_then(|m| m.calmar))),
        metric("hit rate (days)", opt_pct(m.and_then(|m| m.hit_rate))),
    ]
}

/// The engine summary's headline numbers.
pub fn engine_metrics(r: &BacktestResult) -> Vec<(String, String)> {
    let s = &r.summary;
    let mut out = return_metrics(s.final_equity, Some(&s.metrics));
    out.extend([
        metric("turnover", format!("{:.2}×/yr", s.annual_turnover)),
        metric("avg gross exposure", pct(s.avg_gross_exposure)),
        metric("fees", money(s.total_fees)),
        metric(
            "trades",
            format!("{} closed + {} open", s.n_trades, s.n_open_trades),
        ),
        metric("stop exits", s.n_stop_exits.to_string()),
        metric(
            "capacity (max % of volume)",
            pct(s.capacity_max_pct_of_volume),
        ),
    ]);
    out
}

/// [`engine_metrics`] and the capacity: the largest fill against its name's mean volume over
/// the 20 bars of `data` before its session (spec §4; the engine's own "max % of volume" is
/// the share of the fill session's volume).
pub fn engine_metrics_with_capacity(
    r: &BacktestResult,
    data: &BTreeMap<Symbol, Vec<DailyBar>>,
) -> Vec<(String, String)> {
    let mut out = engine_metrics(r);
    out.push(metric(
        "capacity (largest fill)",
        crate::capacity::Capacity::text(crate::capacity::of_engine_fills(&r.fills, data).as_ref()),
    ));
    out
}

/// One level of a cost grid, from either engine.
struct GridRow {
    bps: f64,
    final_equity: Option<f64>,
    metrics: [Option<f64>; 6],
    turnover: f64,
}

/// The cost grid as shown: money where the run reports it, then CAGR, vol, Sharpe,
/// Sortino, max DD, Calmar and turnover.
fn grid_table(rows: &[GridRow], note: &str) -> Table {
    let money_col = rows.iter().any(|r| r.final_equity.is_some());
    let mut header = vec!["cost (bps)"];
    if money_col {
        header.push("final equity");
    }
    header.extend([
        "CAGR",
        "vol",
        "Sharpe",
        "Sortino",
        "max DD",
        "Calmar",
        "turnover/yr",
    ]);
    Table {
        caption: "Cost grid".into(),
        header: header.into_iter().map(String::from).collect(),
        rows: rows
            .iter()
            .map(|g| {
                let [cagr, vol, sharpe, sortino, dd, calmar] = g.metrics;
                let mut row = vec![format!("{}", g.bps)];
                if money_col {
                    row.push(g.final_equity.map(money).unwrap_or_default());
                }
                row.extend([
                    opt_pct(cagr),
                    opt_pct(vol),
                    opt_num(sharpe),
                    opt_num(sortino),
                    opt_pct(dd),
                    opt_num(calmar),
                    format!("{:.2}", g.turnover),
                ]);
                row
            })
            .collect(),
        note: note.into(),
    }
}

pub fn cost_grid_table(rows: &[CostRow]) -> Table {
    let rows: Vec<GridRow> = rows
        .iter()
        .map(|g| GridRow {
            bps: g.cost_bps,
            final_equity: Some(g.final_equity),
            metrics: [g.cagr, g.vol, g.sharpe, g.sortino, g.max_dd, g.calmar],
            turnover: g.turnover_annual,
        })
        .collect();
    grid_table(
        &rows,
        "The same run with every fill charged this many bps instead.",
    )
}

pub fn splits_table(rows: &[SplitReport]) -> Table {
    Table {
        caption: "Splits (train, validation, holdout)".into(),
        header: [
            "split", "from", "to", "returns", "CAGR", "vol", "Sharpe", "Sortino", "max DD",
        ]
        .map(String::from)
        .to_vec(),
        rows: rows
            .iter()
            .map(|r| {
                let m = &r.metrics;
                vec![
                    r.split.name.clone(),
                    m.first_return_date
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                    m.last_return_date
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                    m.n_returns.to_string(),
                    opt_pct(m.cagr),
                    opt_pct(m.annual_vol),
                    opt_num(m.sharpe),
                    opt_num(m.sortino),
                    opt_pct(m.max_drawdown),
                ]
            })
            .collect(),
        note: "Metrics of the one run's daily returns inside each date range.".into(),
    }
}

/// The stress windows of `--stress`.
pub fn stress_table(rows: &[systrade_backtest::stress::StressReport]) -> Table {
    let d = |x: Option<chrono::NaiveDate>| x.map(|v| v.to_string()).unwrap_or_default();
    Table {
        caption: "Stress windows".into(),
        header: [
            "window", "from", "to", "returns", "total", "max DD", "worst day", "on", "vol",
        ]
        .map(String::from)
        .to_vec(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    if r.partial {
                        format!("{} (partial: {}..{})", r.window.name, r.covered.0, r.covered.1)
                    } else {
                        r.window.name.clone()
                    },
                    d(r.window.from),
                    d(r.window.to),
                    r.n_returns.to_string(),
                    opt_pct(Some(r.total_return)),
                    opt_pct(Some(r.max_drawdown)),
                    opt_pct(Some(r.worst.1)),
                    r.worst.0.to_string(),
                    opt_pct(r.annual_vol),
                ]
            })
            .collect(),
        note: "The one run's returns inside each crisis window: the strategy arrives with the positions its own history gave it; the drawdown is measured from the window's start.".into(),
    }
}

/// The best and the worst closed trades by PnL (ties by entry date, then symbol).
pub fn top_trades(trades: &[TradeRecord], n: usize) -> Vec<Table> {
    let mut closed: Vec<&TradeRecord> = trades.iter().filter(|t| !t.open).collect();
    if closed.is_empty() {
        return Vec::new();
    }
    closed.sort_by(|a, b| {
        b.pnl
            .total_cmp(&a.pnl)
            .then(a.entry_date.cmp(&b.entry_date))
            .then(a.symbol.cmp(&b.symbol))
    });
    let header: Vec<String> = [
        "symbol", "side", "entry", "exit", "qty", "entry px", "exit px", "PnL", "return",
    ]
    .map(String::from)
    .to_vec();
    let row = |t: &&TradeRecord| {
        vec![
            t.symbol.to_string(),
            format!("{:?}", t.side).to_lowercase(),
            t.entry_date.to_string(),
            t.exit_date.map(|d| d.to_string()).unwrap_or_default(),
            systrade_core::json::shortest(t.qty),
            systrade_report::format::price(t.entry_price),
            t.exit_price
                .map(systrade_report::format::price)
                .unwrap_or_default(),
            money(t.pnl),
            pct(t.ret),
        ]
    };
    let best: Vec<Vec<String>> = closed.iter().take(n).map(row).collect();
    let worst: Vec<Vec<String>> = closed.iter().rev().take(n).map(row).collect();
    vec![
        Table {
            caption: format!("Top {} trades", best.len()),
            header: header.clone(),
            rows: best,
            note: format!("Of {} closed round trips, after fees.", closed.len()),
        },
        Table {
            caption: format!("Worst {} trades", worst.len()),
            header,
            rows: worst,
            note: String::new(),
        },
    ]
}

/// The momentum book's daily path: NAV, the CDI, exposure after the vol-target scale.
pub fn momentum_performance(r: &MomentumResult) -> Performance {
    Performance {
        dates: r.series.iter().map(|x| x.date).collect(),
        equity: r.series.iter().map(|x| x.nav).collect(),
        benchmark: None,
        cash_rate: Some(("CDI".into(), r.series.iter().map(|x| x.cdi).collect())),
        exposure: Some((
            r.series
                .iter()
                .map(|x| (x.long_gross + x.short_gross) * x.scale)
                .collect(),
            r.series
                .iter()
                .map(|x| (x.long_gross - x.short_gross) * x.scale)
                .collect(),
        )),
        turnover: Some(r.series.iter().map(|x| x.turnover).collect()),
        periods_per_year: 252.0,
    }
}

pub fn momentum_tearsheet(r: &MomentumResult, title: String, subtitle: String) -> TearSheet {
    let s = &r.summary;
    let metrics = vec![
        metric("CAGR", opt_pct(s.cagr)),
        metric("volatility", opt_pct(s.vol)),
        metric("Sharpe over CDI", opt_num(s.sharpe)),
        metric("Sortino", opt_num(s.sortino)),
        metric("max drawdown", opt_pct(s.max_dd)),
        metric("Calmar", opt_num(s.calmar)),
        metric("hit rate (days)", opt_pct(s.hit_rate)),
        metric("turnover", format!("{:.2}×/yr", s.avg_turnover)),
        metric("costs", pct(s.total_cost) + " of NAV"),
        metric("CDI CAGR", opt_pct(s.cdi_cagr)),
        metric(
            &format!("beta to {}", s.benchmark),
            opt_num(s.beta_to_benchmark),
        ),
        metric(
            "formations",
            format!(
                "{} ({} failed, {} in stress)",
                s.formations,
                s.failed_formations.len(),
                s.stress_months
            ),
        ),
    ];
    let rows: Vec<GridRow> = r
        .cost_grid
        .iter()
        .map(|g| GridRow {
            bps: g.cost_bps,
            final_equity: None,
            metrics: [g.cagr, g.vol, g.sharpe, g.sortino, g.max_dd, g.calmar],
            turnover: g.turnover_annual,
        })
        .collect();
    let grid = grid_table(
        &rows,
        "The same book with trading costs of this many bps per unit traded.",
    );
    let cohorts = Table {
        caption: "Cohorts".into(),
        header: [
            "cohort",
            "full rebalances",
            "limited updates",
            "avg long names",
            "avg short names",
            "hard exits",
            "soft exits",
            "excess return/yr",
            "excess vol/yr",
        ]
        .map(String::from)
        .to_vec(),
        rows: s
            .per_cohort
            .iter()
            .map(|c| {
                vec![
                    c.cohort.to_string(),
                    c.full_rebalances.to_string(),
                    c.limited_updates.to_string(),
                    format!("{:.1}", c.avg_names_long),
                    format!("{:.1}", c.avg_names_short),
                    c.hard_exits.to_string(),
                    c.soft_exits.to_string(),
                    pct(c.excess_return_annual),
                    pct(c.excess_vol_annual),
                ]
            })
            .collect(),
        note: String::new(),
    };
    TearSheet {
        title,
        subtitle,
        perf: momentum_performance(r),
        metrics,
        tables: vec![grid, cohorts],
        notes: s.warnings.iter().take(10).cloned().collect(),
    }
}

/// Writes `report.html` into `out` and, with `plots`, the charts into `out/charts`; returns
/// the report's path.
pub fn emit(ts: &TearSheet, out: &Path, plots: bool) -> anyhow::Result<PathBuf> {
    tearsheet::write(ts, out, plots)
        .with_context(|| format!("writing the tear sheet into {}", out.display()))
}

/// What a walk-forward's tear sheet says about how it was run.
pub struct WalkForwardRun<'a> {
    /// What was walked forward (`sma-cross SPY`, a config's path).
    pub title: String,
    pub data: &'a Path,
    pub train: &'a str,
    pub test: &'a str,
    pub metric: &'a str,
    pub cash: f64,
    /// The costs, as the subtitle says them (`fees 10 bps`).
    pub fees: String,
}

/// The tear sheet of a walk-forward: the stitched out-of-sample equity (from --cash, one
/// session before the first test window) against buy & hold, and the windows' table.
pub fn walk_forward_sheet(
    w: &WalkForward,
    data: &BTreeMap<Symbol, Vec<DailyBar>>,
    a: &WalkForwardRun<'_>,
) -> TearSheet {
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
    let mut equity = vec![a.cash];
    for r in w.oos_returns.iter().skip(skip) {
        equity.push(equity.last().copied().unwrap_or(a.cash) * (1.0 + r));
    }
    let m = &w.oos_metrics;
    let windows = Table {
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
    TearSheet {
        title: format!("Walk-forward — {}", a.title),
        subtitle: format!(
            "{} · train {}, test {} · chosen by {} · {} · equity stitched from the test windows",
            a.data.display(),
            a.train,
            a.test,
            a.metric,
            a.fees
        ),
        perf: Performance {
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
