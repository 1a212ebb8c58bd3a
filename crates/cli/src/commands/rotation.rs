//! `systrade backtest --config` for rotation configs (bucket A, the W3 top-N momentum): the
//! run, its artifacts, `--split`/`--stress`, and the tear sheet.

use std::path::Path;

use systrade_systems::rotation::{Measures, headline, load, returns, tearsheet, write_backtest};

use crate::args::BacktestArgs;
use crate::exit::BadInput;

/// `systrade backtest --config bucket_a.toml`.
pub fn backtest(config: &Path, a: &BacktestArgs) -> anyhow::Result<()> {
    super::backtest::refuse_momentum_flags(a)?;
    super::backtest::check_range_text(a)?;
    let l = load(config, a.data.as_deref(), &a.read.options())?;
    let b = &l.cfg.backtest;
    let t0 = std::time::Instant::now();
    let r = l.run_with(
        &l.cfg,
        a.cash.unwrap_or(b.cash),
        (a.start.or(b.start), a.end.or(b.end)),
    )?;
    let secs = t0.elapsed().as_secs_f64();
    let ranges = super::backtest::range_reports(a, &returns(&r), l.periods_per_year())?;
    let m = Measures::of(&l, &r)?;
    // The artifacts and the tear sheet are written side by side.
    let (written, report) = rayon::join(
        || write_backtest(&l, &r, &m, &a.out),
        || {
            let mut sheet = tearsheet(&l, &r, &m, config);
            ranges.add_tables(&mut sheet);
            systrade_systems::tearsheet::emit(&sheet, &a.out, a.plots)
        },
    );
    written?;
    let report = report?;
    ranges.emit(&a.out)?;
    println!(
        "{} ({}) {}; ran in {secs:.3} s",
        config.display(),
        l.source.display(),
        headline(&l, &r, &m)
    );
    println!(
        "wrote {} (tear sheet: {})",
        a.out.display(),
        report.display()
    );
    Ok(())
}

/// `systrade backtest --config portfolio.toml`: every bucket with its capital and limits,
/// merged.
pub fn portfolio(config: &Path, a: &BacktestArgs) -> anyhow::Result<()> {
    if a.momentum.any()
        || a.data.is_some()
        || a.cash.is_some()
        || a.start.is_some()
        || a.end.is_some()
    {
        return Err(BadInput(
            "a portfolio takes its buckets' data and capital from its file: --data, --cash, --start, --end and the momentum flags do not apply (set [backtest] start/end in it)".into(),
        )
        .into());
    }
    super::backtest::check_range_text(a)?;
    let t0 = std::time::Instant::now();
    let p = systrade_systems::buckets::backtest(config, &a.read.options())?;
    let secs = t0.elapsed().as_secs_f64();
    let rets: Vec<(chrono::NaiveDate, f64)> = {
        let mut prev = p.capital;
        p.dates
            .iter()
            .zip(&p.equity)
            .map(|(d, e)| {
                let r = (*d, e / prev - 1.0);
                prev = *e;
                r
            })
            .collect()
    };
    let ranges = super::backtest::range_reports(a, &rets, p.periods_per_year)?;
    systrade_systems::buckets::write(&p, &a.out)?;
    ranges.emit(&a.out)?;
    let mut sheet = systrade_systems::buckets::tearsheet(&p, config);
    ranges.add_tables(&mut sheet);
    let report = systrade_systems::tearsheet::emit(&sheet, &a.out, a.plots)?;
    let pct = systrade_systems::trend::pct;
    for b in &p.buckets {
        let m = b.metrics.as_ref();
        println!(
            "bucket {} ({}, {}): capital {:.2} → {:.2}; CAGR {}, Sharpe {}, max drawdown {}{}; largest fill {}",
            b.bucket.name,
            b.kind.as_str(),
            b.config.display(),
            b.capital,
            b.final_equity(),
            pct(m.and_then(|m| m.cagr)),
            m.and_then(|m| m.sharpe)
                .map_or("n/a".into(), |v| format!("{v:.2}")),
            pct(Some(b.max_drawdown)),
            if b.breach_days > 0 {
                format!(
                    "; {} sessions beyond its {:.0}% target ({})",
                    b.breach_days,
                    b.bucket.max_drawdown.unwrap_or(0.0) * 100.0,
                    b.bucket.on_breach.as_str()
                )
            } else {
                String::new()
            },
            systrade_systems::capacity::Capacity::text(b.capacity.as_ref())
        );
    }
    let m = p.metrics.as_ref();
    println!(
        "portfolio {}: capital {:.2} → {:.6}; CAGR {}, Sharpe {}, max drawdown {}; ran in {secs:.3} s",
        p.name,
        p.capital,
        p.equity.last().copied().unwrap_or(p.capital),
        pct(m.and_then(|m| m.cagr)),
        m.and_then(|m| m.sharpe)
            .map_or("n/a".into(), |v| format!("{v:.2}")),
        pct(m.and_then(|m| m.max_drawdown))
    );
    println!(
        "wrote {} (tear sheet: {})",
        a.out.display(),
        report.display()
    );
    Ok(())
}

/// `systrade plan --config bucket_a.toml`: the session's rebalance orders, or when the next
/// one trades.
pub fn plan(config: &Path, a: &crate::args::PlanArgs) -> anyhow::Result<()> {
    if a.momentum.any() || a.live_capital.is_some() {
        return Err(BadInput(
            "--db, --cdi, --cohorts, --beta-overlay, --book, --live-capital, --holdings and --lots apply to momentum configs".into(),
        )
        .into());
    }
    let l = load(config, a.data.as_deref(), &a.read.options())?;
    let holdings = match (&a.positions, a.capital) {
        (Some(p), Some(c)) => Some((p.as_path(), c)),
        (Some(_), None) => return Err(BadInput("--positions needs --capital".into()).into()),
        (None, _) => None,
    };
    let p = systrade_systems::rotation_plan::plan(&l, a.as_of, l.cfg.backtest.cash, holdings)?;
    let name = systrade_live::strategy_name(config, None);
    systrade_systems::rotation_plan::write(&a.out, &name, &p)?;
    print_rotation_plan(&p);
    println!("wrote {}", a.out.display());
    Ok(())
}

fn print_rotation_plan(p: &systrade_systems::rotation_plan::RotationPlan) {
    println!(
        "plan {} ({} book, closes through {}): equity {:.2}, cash {:.2}; {}; {} orders",
        p.as_of,
        p.book.as_str(),
        p.decided,
        p.equity,
        p.cash,
        p.when.words(p.as_of),
        p.orders.len()
    );
    for o in &p.orders {
        println!(
            "  {} {} {} at ~{:.2} ({:.2}): {}",
            match o.side {
                systrade_core::contracts::Side::Buy => "BUY",
                systrade_core::contracts::Side::Sell => "SELL",
            },
            systrade_systems::rotation_plan::qty_text(o.qty),
            o.symbol,
            o.ref_price,
            o.qty * o.ref_price,
            o.why
        );
    }
    for u in &p.unpriced {
        println!("warning: {u}");
    }
}

/// `systrade plan --config portfolio.toml`: every bucket's plan with its capital and limits.
pub fn plan_portfolio(config: &Path, a: &crate::args::PlanArgs) -> anyhow::Result<()> {
    if a.momentum.any()
        || a.live_capital.is_some()
        || a.positions.is_some()
        || a.capital.is_some()
        || a.data.is_some()
    {
        return Err(BadInput(
            "a portfolio plans each bucket on its own config's data and replayed book: leave out --data, --positions, --capital and the momentum flags".into(),
        )
        .into());
    }
    let p = systrade_systems::bucket_plan::plan(
        config,
        systrade_systems::bucket_plan::Session::On(a.as_of),
        &a.read.options(),
    )?;
    systrade_systems::bucket_plan::write(&p, &a.out)?;
    println!(
        "plan {} for portfolio {} (capital {:.2}), {} buckets:",
        p.as_of,
        p.name,
        p.capital,
        p.buckets.len()
    );
    for b in &p.buckets {
        let (n, buy, sell) = b.order_totals();
        println!(
            "  {} ({}, {}): capital {:.2}, equity {:.2}; {n} orders, buy {buy:.2}, sell {sell:.2} -> {}",
            b.bucket.name,
            b.bucket.label,
            b.kind(),
            b.capital,
            b.equity(),
            a.out.join(&b.bucket.name).display()
        );
        if let systrade_systems::bucket_plan::Planned::Rotation { plan, .. } = &b.planned {
            println!("    {}", plan.when.words(plan.as_of));
        }
        if let systrade_systems::bucket_plan::Planned::Trend { decided, .. } = &b.planned {
            for (s, why) in &decided.limited {
                println!("    held back by the bucket's limits: {s} ({why})");
            }
        }
        if let systrade_systems::bucket_plan::Planned::Momentum { plan, .. } = &b.planned {
            match (&plan.month, plan.next_formation) {
                (Some(m), _) => println!(
                    "    the {} formation (close of {}) trades at this open",
                    m.month(),
                    m.formation.date
                ),
                (None, Some(next)) => {
                    println!("    holds its books; the next formation is at the close of {next}")
                }
                (None, None) => {}
            }
            for w in &plan.warnings {
                println!("    warning: {w}");
            }
        }
        if let systrade_systems::bucket_plan::Planned::Avwap { plan, .. } = &b.planned {
            for w in &plan.warnings {
                println!("    warning: {w}");
            }
        }
    }
    println!("wrote {}", a.out.display());
    Ok(())
}
