//! `systrade backtest`

use std::collections::BTreeMap;

use systrade_backtest::research::parse_splits;
use systrade_backtest::{BacktestConfig, CostModel, Remainder};
use systrade_core::Symbol;
use systrade_data::DataSource;
use systrade_strategy::{SmaCross, SmaCrossParams};
use systrade_systems::research::{
    cash_rate_per_period, cost_levels, research, research_sheet, write_research,
};

use crate::args::{BacktestArgs, RemainderArg, StrategyArg};
use crate::exit::BadInput;

pub fn run(a: &BacktestArgs) -> anyhow::Result<()> {
    if let Some(config) = &a.config {
        return match systrade_config::StrategyKind::of(config).map_err(BadInput)? {
            systrade_config::StrategyKind::Momentum => super::momentum::backtest(config, a),
            systrade_config::StrategyKind::Trend => {
                refuse_momentum_flags(a)?;
                super::trend::backtest(config, a)
            }
            systrade_config::StrategyKind::Avwap => super::avwap::backtest(config, a),
            systrade_config::StrategyKind::Rotation => super::rotation::backtest(config, a),
            systrade_config::StrategyKind::Portfolio => super::rotation::portfolio(config, a),
            systrade_config::StrategyKind::Feed => super::feed::backtest(config, a),
            systrade_config::StrategyKind::Sheet => Err(BadInput(format!(
                "{}: strategy: unknown \"sheet\" (\"trend\", \"momentum\", \"avwap\" or \"rotation\")",
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
        Some(path) => cash_rate_per_period(path, &series.bars, periods)?,
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
        record_decisions: systrade_backtest::KeepDecisions::All,
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
    check_range_text(a)?;
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
    let r = research(&proto, &data, &cfg, &levels, splits.as_deref())?;
    let returns: Vec<(chrono::NaiveDate, f64)> = r
        .result
        .series
        .iter()
        .skip(1)
        .map(|x| (x.date, x.ret))
        .collect();
    let ranges = RangeReports {
        splits: None,
        stress: stress_reports(a, &returns, periods)?,
    };
    write_research(&r, &a.out)?;
    ranges.emit(&a.out)?;
    let pct = |x: Option<f64>| {
        x.map(|v| format!("{:.2}%", v * 100.0))
            .unwrap_or_else(|| "n/a".into())
    };
    let num = |x: Option<f64>| x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "n/a".into());
    for s in r.splits.iter().flatten() {
        let m = &s.metrics;
        println!(
            "split {}: {} returns, CAGR {}, Sharpe {}, max drawdown {}",
            s.split.name,
            m.n_returns,
            pct(m.cagr),
            num(m.sharpe),
            pct(m.max_drawdown)
        );
    }
    let s = &r.result.summary;
    let (first, last) = (
        s.first_date.map(|d| d.to_string()).unwrap_or_default(),
        s.last_date.map(|d| d.to_string()).unwrap_or_default(),
    );
    println!(
        "{} {symbol_text} {first}..{last}: final equity {:.2} ({} trades + {} open, fees {:.2}); CAGR {}, Sharpe {}, max drawdown {}",
        s.strategy,
        s.final_equity,
        s.n_trades,
        s.n_open_trades,
        s.total_fees,
        pct(s.metrics.cagr),
        num(s.metrics.sharpe),
        pct(s.metrics.max_drawdown)
    );
    let sheet = research_sheet(
        &r,
        &cfg,
        &data,
        (
            format!(
                "{} {symbol_text} — fast {}, slow {}",
                s.strategy, a.fast, a.slow
            ),
            format!(
                "{} · {first} to {last} · fees {} bps, slippage {} bps",
                data_path.display(),
                a.fees_bps,
                a.slippage_bps
            ),
        ),
    );
    let mut sheet = sheet;
    ranges.add_tables(&mut sheet);
    let report = systrade_systems::tearsheet::emit(&sheet, &a.out, a.plots)?;
    println!(
        "wrote {} (tear sheet: {})",
        a.out.display(),
        report.display()
    );
    Ok(())
}

/// `--split` and `--stress` of a backtest: metrics per range of the run's own period
/// returns, computed before anything is written (a range outside the run is bad input).
#[derive(Debug, Default)]
pub struct RangeReports {
    pub splits: Option<Vec<systrade_backtest::research::SplitReport>>,
    pub stress: Option<Vec<systrade_backtest::stress::StressReport>>,
}

/// The momentum flags with a config of another kind: refused.
pub fn refuse_momentum_flags(a: &BacktestArgs) -> anyhow::Result<()> {
    if a.momentum.any() {
        return Err(BadInput(
            "--db, --cdi, --cohorts, --beta-overlay and --book apply to momentum configs".into(),
        )
        .into());
    }
    Ok(())
}

/// Both flags' text parses (their ranges are checked on the run's returns).
pub fn check_range_text(a: &BacktestArgs) -> anyhow::Result<()> {
    if let Some(text) = &a.split {
        parse_splits(text).map_err(|e| BadInput(format!("--split: {e}")))?;
    }
    if let Some(text) = &a.stress {
        systrade_backtest::stress::parse_stress(text)
            .map_err(|e| BadInput(format!("--stress: {e}")))?;
    }
    Ok(())
}

/// The reports `--split` and `--stress` ask for, from the run's dated returns.
pub fn range_reports(
    a: &BacktestArgs,
    returns: &[(chrono::NaiveDate, f64)],
    periods_per_year: f64,
) -> anyhow::Result<RangeReports> {
    check_range_text(a)?;
    let splits = match &a.split {
        Some(text) => {
            let splits = parse_splits(text).map_err(|e| BadInput(format!("--split: {e}")))?;
            Some(
                systrade_backtest::research::split_returns(returns, &splits, periods_per_year)
                    .map_err(|e| BadInput(format!("--split: {e}")))?,
            )
        }
        None => None,
    };
    let stress = stress_reports(a, returns, periods_per_year)?;
    Ok(RangeReports { splits, stress })
}

/// The windows of `--stress`, from the run's dated returns.
fn stress_reports(
    a: &BacktestArgs,
    returns: &[(chrono::NaiveDate, f64)],
    periods_per_year: f64,
) -> anyhow::Result<Option<Vec<systrade_backtest::stress::StressReport>>> {
    let Some(text) = &a.stress else {
        return Ok(None);
    };
    let windows = systrade_backtest::stress::parse_stress(text)
        .map_err(|e| BadInput(format!("--stress: {e}")))?;
    Ok(Some(
        systrade_backtest::stress::stress_returns(returns, &windows, periods_per_year)
            .map_err(|e| BadInput(format!("--stress: {e}")))?,
    ))
}

impl RangeReports {
    /// `splits.csv` / `stress.csv` and a line per range on the console.
    pub fn emit(&self, out: &std::path::Path) -> anyhow::Result<()> {
        let pct = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{:.2}%", 100.0 * v));
        if let Some(reports) = &self.splits {
            systrade_backtest::research::write_splits(reports, out)?;
            for r in reports {
                let m = &r.metrics;
                println!(
                    "split {}: {} returns, CAGR {}, Sharpe {}, max drawdown {}",
                    r.split.name,
                    m.n_returns,
                    pct(m.cagr),
                    m.sharpe.map_or("n/a".to_string(), |v| format!("{v:.2}")),
                    pct(m.max_drawdown)
                );
            }
        }
        if let Some(reports) = &self.stress {
            systrade_backtest::stress::write_stress(reports, out)?;
            for r in reports {
                println!(
                    "stress {}: {} returns, total {}, max drawdown {}, worst day {} on {}{}",
                    r.window.name,
                    r.n_returns,
                    pct(Some(r.total_return)),
                    pct(Some(r.max_drawdown)),
                    pct(Some(r.worst.1)),
                    r.worst.0,
                    if r.partial {
                        format!(
                            " (partial: the run covers {}..{} of it)",
                            r.covered.0, r.covered.1
                        )
                    } else {
                        String::new()
                    }
                );
            }
        }
        Ok(())
    }

    /// The tear sheet's tables for them.
    pub fn add_tables(&self, sheet: &mut systrade_report::tearsheet::TearSheet) {
        if let Some(rows) = &self.splits {
            sheet
                .tables
                .push(systrade_systems::tearsheet::splits_table(rows));
        }
        if let Some(rows) = &self.stress {
            sheet
                .tables
                .push(systrade_systems::tearsheet::stress_table(rows));
        }
    }
}
