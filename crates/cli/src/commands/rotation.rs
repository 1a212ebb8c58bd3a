//! `systrade backtest --config` for rotation configs (bucket A, the W3 top-N momentum): the
//! run, its artifacts, `--split`/`--stress`, and the tear sheet.

use std::path::Path;

use systrade_systems::rotation::{headline, load, returns, tearsheet, write_backtest};

use crate::args::BacktestArgs;
use crate::exit::BadInput;

/// `systrade backtest --config bucket_a.toml`.
pub fn backtest(config: &Path, a: &BacktestArgs) -> anyhow::Result<()> {
    if a.momentum.any() {
        return Err(BadInput(
            "--db, --cdi, --cohorts, --beta-overlay and --book apply to momentum configs".into(),
        )
        .into());
    }
    super::backtest::check_range_text(a)?;
    let l = load(config, a.data.as_deref(), &a.read.options())?;
    let b = &l.cfg.backtest;
    let t0 = std::time::Instant::now();
    let r = l.run_with(
        &l.cfg.rotation,
        a.cash.unwrap_or(b.cash),
        (a.start.or(b.start), a.end.or(b.end)),
    )?;
    let secs = t0.elapsed().as_secs_f64();
    let ranges = super::backtest::range_reports(a, &returns(&r), l.periods_per_year())?;
    write_backtest(&l, &r, &a.out)?;
    ranges.emit(&a.out)?;
    let mut sheet = tearsheet(&l, &r, config);
    ranges.add_tables(&mut sheet);
    let report = systrade_systems::tearsheet::emit(&sheet, &a.out, a.plots)?;
    println!(
        "{} ({}) {}; ran in {secs:.3} s",
        config.display(),
        l.source.display(),
        headline(&l, &r)
    );
    println!(
        "wrote {} (tear sheet: {})",
        a.out.display(),
        report.display()
    );
    Ok(())
}
