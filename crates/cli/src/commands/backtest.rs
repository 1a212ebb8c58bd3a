//! `systrade backtest`

use std::collections::BTreeMap;

use anyhow::Context;
use systrade_backtest::research::{
    cost_grid, parse_splits, split_reports, write_cost_grid, write_splits,
};
use systrade_backtest::{BacktestConfig, BacktestError, CostModel, Remainder, write_outputs};
use systrade_core::Symbol;
use systrade_data::DataSource;
use systrade_strategy::{SmaCross, SmaCrossParams};

use crate::args::{BacktestArgs, RemainderArg, StrategyArg};
use crate::exit::BadInput;

fn bad(e: BacktestError) -> anyhow::Error {
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

pub fn run(a: &BacktestArgs) -> anyhow::Result<()> {
    if let Some(config) = &a.config {
        return match systrade_config::StrategyKind::of(config).map_err(BadInput)? {
            systrade_config::StrategyKind::Momentum => super::momentum::backtest(config, a),
            systrade_config::StrategyKind::Trend => {
                if a.momentum.any() {
                    return Err(BadInput(
                        "--db, --cdi, --cohorts, --beta-overlay and --book apply to momentum configs".into(),
                    )
                    .into());
                }
                super::trend::backtest(config, a)
            }
            systrade_config::StrategyKind::Sheet => Err(BadInput(format!(
                "{}: strategy: unknown \"sheet\" (\"trend\" or \"momentum\")",
                config.display()
            ))
            .into()),
        };
    }
    // clap requires these without --config.
    let (Some(strategy), Some(symbol_text), Some(data_path)) = (a.strategy, &a.symbol, &a.data)
    else {
        return Err(
            BadInput("--strategy, --symbol and --data are needed without --config".into()).into(),
        );
    };
    let symbol = Symbol::new(symbol_text).map_err(|e| BadInput(e.to_string()))?;
    if let (Some(s), Some(e)) = (a.start, a.end)
        && s > e
    {
        return Err(BadInput(format!("--start {s} is after --end {e}")).into());
    }
    let size = match a.size.as_str() {
        "all" => None,
        q => Some(
            q.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x > 0.0)
                .ok_or_else(|| {
                    BadInput(format!(
                        "--size must be `all` or a positive quantity, got {q:?}"
                    ))
                })?,
        ),
    };
    let series = DataSource::open(data_path)?.daily(&symbol, &a.read.parse_options())?;
    let periods = f64::from(series.market.periods_per_year());
    let cash_rate = match &a.cash_rate {
        Some(path) => {
            let r =
                systrade_data::values::read_value_series(path, None, &["rate", "cdi", "selic"])?;
            // Forward-fill the annual rate onto the bar dates, as a per-period simple rate.
            let mut out = BTreeMap::new();
            let mut j = 0;
            for b in &series.bars {
                while j + 1 < r.dates.len() && r.dates[j + 1] <= b.ts {
                    j += 1;
                }
                if r.dates[j] <= b.ts {
                    out.insert(b.ts, (1.0 + r.values[j] / 100.0).powf(1.0 / periods) - 1.0);
                }
            }
            out
        }
        None => BTreeMap::new(),
    };
    let cfg = BacktestConfig {
        cash: a.cash.unwrap_or(100_000.0),
        fill: a.fill.fill_at(),
        costs: CostModel {
            fee_bps: a.fees_bps,
            per_share: a.per_share,
            min_fee: a.min_fee,
            slippage_bps: a.slippage_bps,
            impact_k: a.impact_k,
            borrow_bps: a.borrow_bps,
        },
        start: a.start,
        end: a.end,
        periods_per_year: periods,
        max_participation: a.max_participation,
        remainder: match a.remainder {
            RemainderArg::Carry => Remainder::Carry,
            RemainderArg::Cancel => Remainder::Cancel,
        },
        cash_rate,
        record_decisions: true,
        lot_size: a.lot_size,
        min_notional: a.min_notional,
        trade_threshold: a.trade_threshold,
    };
    let levels = cost_levels(&a.cost_grid)?;
    let splits = a
        .split
        .as_deref()
        .map(parse_splits)
        .transpose()
        .map_err(BadInput)?;
    let data: BTreeMap<Symbol, _> = [(symbol.clone(), series.bars)].into();
    // Parameters are checked once; every run (main and cost grid) starts from a fresh copy.
    let proto = match strategy {
        StrategyArg::SmaCross => SmaCross::new(SmaCrossParams {
            symbol,
            fast: a.fast,
            slow: a.slow,
            size,
        })
        .map_err(|e| BadInput(e.to_string()))?,
    };
    let strategy = || Ok(proto.clone());
    let result = systrade_backtest::run(&mut proto.clone(), &data, &cfg).map_err(bad)?;
    let split_rows = match &splits {
        Some(s) => Some(split_reports(&result, s, cfg.periods_per_year).map_err(bad)?),
        None => None,
    };
    let grid = if levels.is_empty() {
        None
    } else {
        Some(cost_grid(strategy, &data, &cfg, &levels).map_err(bad)?)
    };
    write_outputs(&result, &a.out).with_context(|| format!("writing {}", a.out.display()))?;
    if let Some(rows) = &grid {
        write_cost_grid(rows, &a.out)?;
    }
    if let Some(rows) = &split_rows {
        write_splits(rows, &a.out)?;
        for r in rows {
            let m = &r.metrics;
            println!(
                "split {}: {} returns, CAGR {}, Sharpe {}, max drawdown {}",
                r.split.name,
                m.n_returns,
                m.cagr
                    .map(|v| format!("{:.2}%", v * 100.0))
                    .unwrap_or_else(|| "n/a".into()),
                m.sharpe
                    .map(|v| format!("{v:.2}"))
                    .unwrap_or_else(|| "n/a".into()),
                m.max_drawdown
                    .map(|v| format!("{:.2}%", v * 100.0))
                    .unwrap_or_else(|| "n/a".into())
            );
        }
    }
    let s = &result.summary;
    let pct = |x: Option<f64>| {
        x.map(|v| format!("{:.2}%", v * 100.0))
            .unwrap_or_else(|| "n/a".into())
    };
    println!(
        "{} {} {}..{}: final equity {:.2} ({} trades + {} open, fees {:.2}); CAGR {}, Sharpe {}, max drawdown {}",
        s.strategy,
        symbol_text,
        s.first_date.map(|d| d.to_string()).unwrap_or_default(),
        s.last_date.map(|d| d.to_string()).unwrap_or_default(),
        s.final_equity,
        s.n_trades,
        s.n_open_trades,
        s.total_fees,
        pct(s.metrics.cagr),
        s.metrics
            .sharpe
            .map(|v| format!("{v:.2}"))
            .unwrap_or_else(|| "n/a".into()),
        pct(s.metrics.max_drawdown)
    );
    let mut tables = Vec::new();
    if let Some(rows) = &grid {
        tables.push(systrade_systems::tearsheet::cost_grid_table(rows));
    }
    if let Some(rows) = &split_rows {
        tables.push(systrade_systems::tearsheet::splits_table(rows));
    }
    tables.extend(systrade_systems::tearsheet::top_trades(&result.trades, 10));
    let dates: Vec<chrono::NaiveDate> = result.series.iter().map(|x| x.date).collect();
    let sheet = systrade_report::tearsheet::TearSheet {
        title: format!(
            "{} {} — fast {}, slow {}",
            s.strategy, symbol_text, a.fast, a.slow
        ),
        subtitle: format!(
            "{} · {} to {} · fees {} bps, slippage {} bps",
            data_path.display(),
            s.first_date.map(|d| d.to_string()).unwrap_or_default(),
            s.last_date.map(|d| d.to_string()).unwrap_or_default(),
            a.fees_bps,
            a.slippage_bps
        ),
        perf: systrade_systems::tearsheet::engine_performance(
            &result,
            &cfg,
            systrade_systems::tearsheet::buy_and_hold(&data, &dates),
        ),
        metrics: systrade_systems::tearsheet::engine_metrics(&result),
        tables,
        notes: s.warnings.iter().take(10).cloned().collect(),
    };
    let report = systrade_systems::tearsheet::emit(&sheet, &a.out, a.plots)?;
    println!(
        "wrote {} (tear sheet: {})",
        a.out.display(),
        report.display()
    );
    Ok(())
}
