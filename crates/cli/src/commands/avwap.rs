//! `systrade scan`, and `backtest`/`plan` of an AVWAP config (the work is in
//! `systrade_systems::avwap` and `systrade_avwap`).

use std::path::Path;

use systrade_avwap::AvwapError;
use systrade_core::{Market, StaleRun};
use systrade_systems::avwap::{self, Loaded};

use crate::args::{BacktestArgs, PlanArgs, ScanArgs};
use crate::exit::BadInput;

/// A scan refusal as the exit code it deserves: stale data exits 3, the rest is input.
fn scan_error(config: &Path, e: AvwapError) -> anyhow::Error {
    match e {
        AvwapError::StaleWatchlist { .. } => StaleRun(format!(
            "{}: {e} — refresh the data (`systrade data fetch --config {}`)",
            config.display(),
            config.display()
        ))
        .into(),
        other => BadInput(format!("{}: {other}", config.display())).into(),
    }
}

pub fn scan(a: &ScanArgs) -> anyhow::Result<()> {
    if systrade_config::StrategyKind::of(&a.config).map_err(BadInput)?
        != systrade_config::StrategyKind::Avwap
    {
        return Err(BadInput(format!(
            "{}: `systrade scan` runs the anchored-VWAP scan (strategy = \"avwap\"); use `systrade plan` for other strategies",
            a.config.display()
        ))
        .into());
    }
    let l = avwap::load(&a.config, a.data.as_deref(), &a.read.options())?;
    let as_of = match a.as_of {
        Some(d) => d,
        None => {
            systrade_data::inspect::last_completed_session(Market::Us, systrade_live::env_now()?)
        }
    };
    let scan = l.scan(as_of).map_err(|e| scan_error(&a.config, e))?;
    let files = avwap::write_scan(&scan, &a.out)?;
    let n = scan.candidates().len();
    println!(
        "scan of {} after the close of {}: {n} candidate{} of {} symbols (anchor {})",
        a.config.display(),
        scan.data_date,
        if n == 1 { "" } else { "s" },
        scan.rows.len(),
        l.params.scan.anchor.as_str()
    );
    for r in scan.candidates().iter().take(20) {
        println!(
            "  {:<8} score {:>6}  avwap {}  close {}  [{}]",
            r.symbol.as_str(),
            systrade_avwap::scan::num(r.score),
            systrade_avwap::scan::num(r.avwap),
            systrade_avwap::scan::num(r.close),
            r.tags.join(",")
        );
    }
    for f in files {
        println!("wrote {}", f.display());
    }
    Ok(())
}

pub fn backtest(config: &Path, a: &BacktestArgs) -> anyhow::Result<()> {
    super::backtest::refuse_momentum_flags(a)?;
    super::backtest::check_range_text(a)?;
    let mut l = avwap::load(config, a.data.as_deref(), &a.read.options())?;
    override_window(&mut l, a);
    let t0 = std::time::Instant::now();
    let o = l.backtest();
    let secs = t0.elapsed().as_secs_f64();
    let returns: Vec<(chrono::NaiveDate, f64)> =
        o.series.iter().skip(1).map(|x| (x.date, x.ret)).collect();
    let ranges = super::backtest::range_reports(a, &returns, 252.0)?;
    avwap::write_backtest(&l, &o, &a.out)?;
    ranges.emit(&a.out)?;
    let mut sheet = avwap::tearsheet(&l, &o, format!("AVWAP — {}", config.display()))?;
    ranges.add_tables(&mut sheet);
    let report = systrade_systems::tearsheet::emit(&sheet, &a.out, a.plots)?;
    let last = o.series.last();
    println!(
        "{} ({} symbols, {} with intraday bars): {} trades, final equity {}; largest fill {}; ran in {secs:.3} s",
        config.display(),
        l.panels.len(),
        l.sessions.len(),
        o.trades.len(),
        last.map(|r| format!("{:.2}", r.equity))
            .unwrap_or_else(|| "n/a".into()),
        systrade_systems::capacity::Capacity::text(avwap::capacity(&l, &o).as_ref()),
    );
    println!(
        "wrote {} (tear sheet: {})",
        a.out.display(),
        report.display()
    );
    Ok(())
}

fn override_window(l: &mut Loaded, a: &BacktestArgs) {
    let b = &mut l.cfg.backtest;
    if let Some(c) = a.cash {
        b.cash = c;
    }
    if a.start.is_some() {
        b.start = a.start;
    }
    if a.end.is_some() {
        b.end = a.end;
    }
}

pub fn plan(config: &Path, a: &PlanArgs) -> anyhow::Result<()> {
    if a.momentum.any() || a.live_capital.is_some() || a.positions.is_some() {
        return Err(BadInput(
            "an AVWAP plan takes --capital (the account's equity); --positions, --db, --cdi, --cohorts, --beta-overlay, --book and --live-capital are for other strategies".into(),
        )
        .into());
    }
    let l = avwap::load(config, a.data.as_deref(), &a.read.options())?;
    let cal = Market::Us.calendar();
    let scan_day = cal.previous_trading_day(a.as_of);
    let scan = l.scan(scan_day).map_err(|e| scan_error(config, e))?;
    let equity = a.capital.unwrap_or(l.cfg.backtest.cash);
    let plan = avwap::plan(&l, &scan, a.as_of, equity);
    let files = avwap::write_plan(&scan, &plan, a.as_of, &a.out)?;
    let entered = plan.iter().filter(|c| c.outcome == "entered").count();
    println!(
        "plan of {} for {} (scan of {}): {entered} order{} of {} candidates at equity {equity:.2}",
        config.display(),
        a.as_of,
        scan.data_date,
        if entered == 1 { "" } else { "s" },
        plan.len()
    );
    for f in files {
        println!("wrote {}", f.display());
    }
    Ok(())
}
