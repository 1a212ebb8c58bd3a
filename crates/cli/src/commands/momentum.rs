//! `systrade backtest --config` and `systrade plan` for momentum-cohort configs: the flags
//! wired to `systrade_systems::momentum`, and what the commands print.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use systrade_systems::capacity::Capacity;
use systrade_systems::momentum::{AtCapital, charts, headline, load, tearsheet_of, write_backtest};
use systrade_systems::momentum_plan::{LiveBook, plan_month, write_month_plan};
use systrade_systems::trend::pct;

use crate::args::{BacktestArgs, PlanArgs, ReadArgs};

/// `systrade backtest --config momentum.toml`.
pub fn backtest(config: &Path, a: &BacktestArgs) -> anyhow::Result<()> {
    super::backtest::check_range_text(a)?;
    let l = load(
        config,
        a.data.as_deref(),
        &a.momentum.overrides(),
        &a.read.options(),
        (a.start, a.end),
    )?;
    let t0 = Instant::now();
    let r = l.run(a.start, a.end)?;
    let secs = t0.elapsed().as_secs_f64();
    // Every row is a return (the first pays the first formation's costs), as in the summary.
    let returns: Vec<(chrono::NaiveDate, f64)> = r.series.iter().map(|x| (x.date, x.ret)).collect();
    let ranges =
        super::backtest::range_reports(a, &returns, f64::from(l.market.periods_per_year()))?;
    let at = AtCapital::of(&l, &r);
    write_backtest(&r, at.as_ref(), &a.out)
        .with_context(|| format!("writing {}", a.out.display()))?;
    ranges.emit(&a.out)?;
    let mut sheet = tearsheet_of(&r, &l, config);
    if let Some(at) = &at {
        sheet.metrics.extend(at.metrics());
    }
    ranges.add_tables(&mut sheet);
    let report = systrade_systems::tearsheet::emit(&sheet, &a.out, a.plots)?;
    if a.plots {
        charts(&r, &a.out.join("charts"))?;
    }
    let s = &r.summary;
    match &at {
        Some(at) => println!(
            "{}; at a capital of {:.2}, largest fill {}; ran in {secs:.3} s",
            headline(&r, &l),
            at.capital,
            Capacity::text(at.capacity.as_ref())
        ),
        None => println!("{}; ran in {secs:.3} s", headline(&r, &l)),
    }
    for w in s.warnings.iter().take(3) {
        println!("warning: {w}");
    }
    if s.warnings.len() > 3 {
        println!(
            "… and {} more warnings in summary.json (skipped replacements and deferred exits are in logs/formations.jsonl)",
            s.warnings.len() - 3
        );
    }
    println!(
        "wrote {} (tear sheet: {})",
        a.out.display(),
        report.display()
    );
    Ok(())
}

/// `systrade plan --config momentum.toml --as-of D`.
pub fn plan(config: &Path, a: &PlanArgs) -> anyhow::Result<()> {
    let l = load(
        config,
        a.data.as_deref(),
        &a.momentum.overrides(),
        &a.read.options(),
        (None, Some(a.as_of)),
    )?;
    let live = a.live_capital.map(|capital| LiveBook {
        capital,
        holdings: a.holdings.as_deref(),
        lots: a.lots.as_deref(),
    });
    let p = plan_month(&l, a.as_of, live.as_ref())?;
    write_month_plan(&p, &a.out)?;
    let f = &p.formation;
    println!(
        "plan {} (formation {}, trade at the open of {}): {} eligible, N = {}{}",
        p.month(),
        f.date,
        f.trade_date
            .map(|d| d.to_string())
            .unwrap_or_else(|| "the next session".into()),
        f.n_eligible,
        f.n_target,
        if f.stress {
            ", stress regime (exit caps doubled)"
        } else {
            ""
        }
    );
    let long: f64 = f.weights.values().filter(|w| **w > 0.0).sum();
    let short: f64 = -f.weights.values().filter(|w| **w < 0.0).sum::<f64>();
    println!(
        "  portfolio: long {long:.4}, short {short:.4}; overlay h {:.4} (beta {:.4})",
        f.overlay_h, f.beta_p
    );
    for c in &f.checks {
        println!(
            "  cohort {}: {} — long {} names / {:.4}, short {} names / {:.4}; turnover {:.4}",
            c.cohort,
            if c.full {
                "full rebalance"
            } else {
                "limited update"
            },
            c.n_long,
            c.long_gross,
            c.n_short,
            c.short_gross,
            c.update.turnover
        );
    }
    for c in &p.cautions {
        println!("  warning: {c}");
    }
    println!("wrote {}", a.out.display());
    Ok(())
}

/// The demo's momentum run: a backtest into `bt` and the plan of the last formation with
/// 1,000,000 of capital into `plan`. Returns the headline and the plan's month.
pub fn demo(
    config: &Path,
    read: &ReadArgs,
    bt: &Path,
    plan: &Path,
) -> anyhow::Result<(String, String)> {
    let none = crate::args::MomentumArgs::default();
    let l = load(
        config,
        None,
        &none.overrides(),
        &read.options(),
        (None, None),
    )?;
    let r = l.run(None, None)?;
    write_backtest(&r, None, bt).with_context(|| format!("writing {}", bt.display()))?;
    systrade_systems::tearsheet::emit(&tearsheet_of(&r, &l, config), bt, false)?;
    let s = &r.summary;
    let headline = format!(
        "{}..{}: CAGR {}, vol {}, Sharpe over CDI {}, max drawdown {}, {} formations",
        s.period.0.map(|d| d.to_string()).unwrap_or_default(),
        s.period.1.map(|d| d.to_string()).unwrap_or_default(),
        pct(s.cagr),
        pct(s.vol),
        s.sharpe
            .map(|v| format!("{v:.2}"))
            .unwrap_or_else(|| "n/a".into()),
        pct(s.max_dd),
        s.formations
    );
    let last = r
        .formations
        .iter()
        .rev()
        .find(|f| f.failed.is_none())
        .ok_or_else(|| anyhow::anyhow!("the demo formed no month"))?;
    println!(
        "6. momentum cohorts backtest ({}) → {}\n   {headline}",
        config.display(),
        bt.display()
    );
    print!("7. ");
    let args = PlanArgs {
        config: config.to_path_buf(),
        as_of: last.date,
        positions: None,
        capital: None,
        data: None,
        no_refresh: true,
        momentum: none,
        live_capital: Some(1_000_000.0),
        holdings: None,
        lots: None,
        read: read.clone(),
        out: plan.to_path_buf(),
    };
    self::plan(config, &args)?;
    Ok((headline, last.month()))
}
