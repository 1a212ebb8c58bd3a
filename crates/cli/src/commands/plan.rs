//! `systrade plan`: one decision of a config's daily step, written as trade-ready files
//! (the work is `systrade_systems::plan`; momentum's is `super::momentum::plan`).

use std::path::Path;

use chrono::NaiveDate;
use systrade_core::Symbol;
use systrade_pipeline::trend::DayRecord;

use crate::args::PlanArgs;
use crate::exit::BadInput;
use systrade_systems::plan::{decide, summary, write};
use systrade_systems::trend::{Loaded, load};

pub fn run(a: &PlanArgs) -> anyhow::Result<()> {
    let kind = systrade_config::StrategyKind::of(&a.config).map_err(BadInput)?;
    // Rotation configs and portfolios have no `[data] refresh` of their own.
    if !a.no_refresh
        && !matches!(
            kind,
            systrade_config::StrategyKind::Rotation | systrade_config::StrategyKind::Portfolio
        )
    {
        refresh(a)?;
    }
    match kind {
        systrade_config::StrategyKind::Momentum => {
            if a.positions.is_some() || a.capital.is_some() {
                return Err(BadInput(
                    "--positions/--capital are for trend configs; momentum takes --live-capital, --holdings and --lots".into(),
                )
                .into());
            }
            return super::momentum::plan(&a.config, a);
        }
        systrade_config::StrategyKind::Trend => {
            if a.momentum.any() || a.live_capital.is_some() {
                return Err(BadInput(
                    "--db, --cdi, --cohorts, --beta-overlay, --book and --live-capital apply to momentum configs".into(),
                )
                .into());
            }
        }
        systrade_config::StrategyKind::Avwap => return super::avwap::plan(&a.config, a),
        systrade_config::StrategyKind::Rotation => return super::rotation::plan(&a.config, a),
        systrade_config::StrategyKind::Portfolio => {
            return super::rotation::plan_portfolio(&a.config, a);
        }
        systrade_config::StrategyKind::Feed => return super::feed::plan(&a.config, a),
        systrade_config::StrategyKind::Sheet => {
            return Err(BadInput(format!(
                "{}: strategy: unknown \"sheet\" (\"trend\", \"momentum\" or \"avwap\")",
                a.config.display()
            ))
            .into());
        }
    }
    let l = load(&a.config, a.data.as_deref(), &a.read.options())?;
    let holdings = match (&a.positions, a.capital) {
        (Some(p), Some(c)) => Some((p.as_path(), c)),
        (Some(_), None) => return Err(BadInput("--positions needs --capital".into()).into()),
        (None, _) => None,
    };
    plan(&l, a.as_of, holdings, &a.out)?;
    Ok(())
}

/// A config with `[data] refresh`: its data fetched through the session before `--as-of`
/// first. A failed refresh is said loudly; the plan goes on with the data as it is.
fn refresh(a: &PlanArgs) -> anyhow::Result<()> {
    let data = a.data.as_deref().or(a.momentum.db.as_deref());
    let got = systrade_live::refresh::refresh(&systrade_live::refresh::RefreshRequest {
        config: &a.config,
        data,
        read: &a.read.options(),
        as_of: Some(a.as_of),
        now: systrade_live::env_now()?,
    })?;
    match got {
        None => {}
        Some(Ok(report)) => {
            for line in systrade_live::refresh::lines(&report) {
                println!("{line}");
            }
        }
        Some(Err(e)) => eprintln!(
            "{}: data refresh failed: {e}; planning on the data as it is",
            a.config.display()
        ),
    }
    Ok(())
}

/// Plans `as_of` (on the simulated book, or on `holdings` = a positions file and the
/// capital), writes the plan's files into `out` and prints what it did.
pub fn plan(
    l: &Loaded,
    as_of: NaiveDate,
    holdings: Option<(&Path, f64)>,
    out: &Path,
) -> anyhow::Result<DayRecord> {
    let systrade_systems::plan::Decided {
        record,
        book,
        limited,
        ..
    } = decide(l, as_of, holdings)?;
    let summary = summary(&record, book, &limited);
    write(out, &record, &summary)?;
    let d = record.as_of;
    let book = book.as_str();
    println!(
        "plan {d} ({} book, bars through {}): equity {:.2}, target gross {:.3}, ex-ante vol {:.3} (cap {}), {} orders + {} stops",
        book,
        record.decided,
        record.equity,
        record.sizing.gross,
        record.sizing.vol_post_cap,
        record.sizing.cap_used,
        summary.n_orders,
        record
            .rows
            .iter()
            .filter(|r| r.qty_after > 0.0 && r.stop.is_some())
            .count()
    );
    if !summary.no_data.is_empty() {
        println!(
            "warning: no trustworthy T-1 bar for {} (no new risk; stops left as they are)",
            Symbol::join(summary.no_data.iter().copied())
        );
    }
    for (s, why) in &limited {
        println!("held back by the limits: {s} ({why})");
    }
    println!("wrote {}", out.display());
    Ok(record)
}
