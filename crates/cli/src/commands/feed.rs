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

/// `systrade plan --config bucket_c.toml`: the session's exits and entries.
pub fn plan(config: &Path, a: &crate::args::PlanArgs) -> anyhow::Result<()> {
    if a.momentum.any() || a.live_capital.is_some() || a.positions.is_some() || a.capital.is_some()
    {
        return Err(crate::exit::BadInput(
            "a feed bucket plans on the book its backtest replays: leave out --positions, --capital and the momentum flags".into(),
        )
        .into());
    }
    let l = load(config, a.data.as_deref(), &a.read.options())?;
    let p = systrade_systems::feed::plan(&l, &l.cfg, a.as_of, l.cfg.backtest.cash)?;
    systrade_systems::feed::write_plan(&a.out, &l.name, &p)?;
    println!(
        "plan {} (simulated book): equity {:.2}, cash {:.2}; {} alerts for this session; {} orders",
        p.as_of,
        p.equity,
        p.cash,
        p.verdicts.len(),
        p.orders.len()
    );
    for o in &p.orders {
        println!(
            "  {} {} {} at ~{:.2}{}: {}",
            match o.side {
                systrade_core::contracts::Side::Buy => "BUY",
                systrade_core::contracts::Side::Sell => "SELL",
            },
            o.qty,
            o.symbol,
            o.ref_price,
            o.stop.map(|s| format!(", stop {s:.2}")).unwrap_or_default(),
            o.why
        );
    }
    if let Some(w) = &p.stale {
        println!("warning: {w}");
    }
    for v in p.verdicts.iter().filter(|v| v.status != "entered") {
        println!(
            "  skipped {} (line {}): {} {}",
            v.symbol, v.line, v.status, v.detail
        );
    }
    println!("wrote {}", a.out.display());
    Ok(())
}
