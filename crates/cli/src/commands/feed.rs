//! `systrade backtest --config` for feed configs (buckets C and D): the run, `alerts.csv`,
//! `--split`/`--stress`, and the tear sheet.

use std::path::Path;

use systrade_systems::feed::{headline, load, tearsheet, write};

use crate::args::BacktestArgs;

/// `systrade backtest --config bucket_c.toml`.
pub fn backtest(config: &Path, a: &BacktestArgs) -> anyhow::Result<()> {
    super::backtest::refuse_momentum_flags(a)?;
    super::backtest::check_range_text(a)?;
    let l = load(config, a.data.as_deref(), &a.read.options())?;
    let b = &l.cfg.backtest;
    let cash = a.cash.unwrap_or(b.cash);
    let window = (a.start.or(b.start), a.end.or(b.end));
    let t0 = std::time::Instant::now();
    let (r, verdicts) = l.run_with(&l.cfg, cash, window)?;
    let secs = t0.elapsed().as_secs_f64();
    let returns: Vec<(chrono::NaiveDate, f64)> =
        r.series.iter().skip(1).map(|x| (x.date, x.ret)).collect();
    let ppy = f64::from(l.market.periods_per_year());
    let ranges = super::backtest::range_reports(a, &returns, ppy)?;
    write(&r, &verdicts, &a.out)?;
    let engine = l.engine(&l.cfg, cash, window);
    let mut sheet = tearsheet(&l, &engine, &r, &verdicts, config);
    ranges.add_tables(&mut sheet);
    let report = systrade_systems::tearsheet::emit(&sheet, &a.out, a.plots)?;
    ranges.emit(&a.out)?;
    println!(
        "{} ({}): {}; ran in {secs:.3} s",
        config.display(),
        l.feed.display(),
        headline(&l, &r, &verdicts)
    );
    println!(
        "wrote {} (alerts.csv, tear sheet: {})",
        a.out.display(),
        report.display()
    );
    Ok(())
}
