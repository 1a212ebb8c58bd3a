//! `systrade backtest --config` for trend-following configs: the run, its cost grid and its
//! tear sheet, wired from the flags.

use std::path::Path;

use systrade_backtest::BacktestError;
use systrade_systems::trend::{bad, headline, load, run_checked, tearsheet_of};

use crate::args::BacktestArgs;

/// `systrade backtest --config FILE`.
pub fn backtest(config: &Path, a: &BacktestArgs) -> anyhow::Result<()> {
    let l = load(config, a.data.as_deref(), &a.read.options())?;
    let b = &l.cfg.backtest;
    let cfg = l.engine(
        a.cash.unwrap_or(b.cash),
        a.start.or(b.start),
        a.end.or(b.end),
    );
    let levels = systrade_systems::research::cost_levels(&a.cost_grid)?;
    super::backtest::check_range_text(a)?;
    let mut ranges = super::backtest::RangeReports::default();
    let full = a.logs == crate::args::LogsArg::Full;
    let (result, secs) = run_checked(&l, &cfg, &a.out, full, |r| {
        let returns: Vec<(chrono::NaiveDate, f64)> =
            r.series.iter().skip(1).map(|x| (x.date, x.ret)).collect();
        ranges = super::backtest::range_reports(a, &returns, cfg.periods_per_year)?;
        Ok(())
    })?;
    ranges.emit(&a.out)?;
    println!(
        "{} ({} tickers from {}) {}; ran in {secs:.3} s",
        config.display(),
        l.data.len(),
        l.source.display(),
        headline(&result)
    );
    // The same config at each fee level (slippage as configured), in parallel.
    let grid = if levels.is_empty() {
        None
    } else {
        // The same strategy as the run: its universe and its [safety] limits (only the
        // result counts: no decision's per-ticker record is kept).
        let make = || {
            l.strategy()
                .map(|s| {
                    systrade_backtest::overlay::Gated::new(
                        s.keep_records(false),
                        systrade_systems::trend::limits_of(&l.cfg.safety),
                    )
                })
                .map_err(|e| BacktestError::Input(e.to_string()))
        };
        let rows =
            systrade_backtest::research::cost_grid(make, &l.data, &cfg, &levels).map_err(bad)?;
        systrade_backtest::research::write_cost_grid(&rows, &a.out)?;
        Some(rows)
    };
    let mut sheet = tearsheet_of(&l, &cfg, &result, config);
    if let Some(rows) = &grid {
        sheet
            .tables
            .insert(0, systrade_systems::tearsheet::cost_grid_table(rows));
    }
    ranges.add_tables(&mut sheet);
    let report = systrade_systems::tearsheet::emit(&sheet, &a.out, a.plots)?;
    println!(
        "wrote {} (tear sheet: {})",
        a.out.display(),
        report.display()
    );
    Ok(())
}
