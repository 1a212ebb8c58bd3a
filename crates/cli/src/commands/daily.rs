//! `systrade run` and `systrade reconcile`: the flags wired to `systrade_live`, and what the
//! commands print.

use std::path::Path;

use chrono::Utc;
use systrade_live::reconcile::{
    ReconcileRequest, acknowledge, acknowledge_cash, book_of, reconcile_book,
};
use systrade_live::schedule::Schedule;
use systrade_live::{RunRequest, now_of};

use systrade_config::run::BrokerKind;

use crate::args::{BrokerArg, DailyRunArgs, ReconcileArgs};
use crate::exit::{BadInput, existing_ledger};

/// The venue a `--broker` names.
pub fn broker_kind(b: BrokerArg) -> BrokerKind {
    match b {
        BrokerArg::Paper => BrokerKind::Paper,
        BrokerArg::Alpaca => BrokerKind::Alpaca,
        BrokerArg::Coinbase => BrokerKind::Coinbase,
        BrokerArg::Ib => BrokerKind::Ib,
    }
}

/// `systrade run`.
pub fn run(home: &Path, a: &DailyRunArgs) -> anyhow::Result<()> {
    if let Some(cycle) = a.cycle {
        return cycles(home, a, cycle);
    }
    let req = RunRequest {
        configs: a.config.clone(),
        broker: a.broker.map(broker_kind),
        as_of: a.as_of,
        dry_run: a.dry_run,
        force_run: a.force_run,
        live: a.live,
        schedule: Schedule::from_flags(
            a.run_at_utc_hour,
            a.run_at.as_deref(),
            a.tz.as_deref(),
            a.gate_minutes,
        )
        .map_err(BadInput)?,
        data: a.data.clone(),
        now: now_of(a.now.as_deref())?,
        read: a.read.options(),
        refresh: !a.no_refresh,
    };
    for p in systrade_live::run(home, &req)? {
        println!("daily summary: {}", p.display());
    }
    Ok(())
}

/// `systrade reconcile`.
pub fn reconcile(home: &Path, a: &ReconcileArgs) -> anyhow::Result<()> {
    // The config is checked before anything else.
    book_of(&a.config)?;
    let mut ledger = existing_ledger(home, "run `systrade run`")?;
    let now = systrade_live::env_now()?;
    if a.ack_cash {
        let diff = acknowledge_cash(&mut ledger, &a.config)?;
        println!(
            "acknowledged the cash difference of {} (broker minus ledger): the ledger now expects the broker's cash and new risk is allowed again",
            diff.normalize()
        );
        return Ok(());
    }
    if !a.ack.is_empty() {
        let stamp = Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        for (sym, row) in acknowledge(&mut ledger, &a.config, &a.ack, &stamp)? {
            println!(
                "acknowledged {sym} ({}: broker {}, ledger {}); the ledger now holds {} and new entries are allowed again",
                row.status,
                row.broker_qty.normalize(),
                row.ledger_qty.normalize(),
                row.broker_qty.normalize()
            );
        }
        return Ok(());
    }
    let read = a.read.options();
    let report = reconcile_book(
        home,
        &mut ledger,
        &ReconcileRequest {
            config: &a.config,
            data: a.data.as_deref(),
            read: &read,
            as_of: a.as_of,
            now,
            broker: a.broker.map(broker_kind),
        },
    )?;
    if a.json {
        println!(
            "{}",
            systrade_core::json::to_canonical_pretty(&report)?.trim_end()
        );
        return Ok(());
    }
    println!(
        "reconciliation of {} on {} (broker vs ledger):",
        report.strategy, report.as_of
    );
    for r in &report.rows {
        println!(
            "  {:<12} {:<18} broker {:>16} ledger {:>16} stops {}{}",
            r.symbol.as_str(),
            r.status.as_str(),
            r.broker_qty,
            r.ledger_qty,
            r.stops,
            if r.acked { " (acknowledged)" } else { "" }
        );
    }
    if report.rows.is_empty() {
        println!("  no positions on either side");
    }
    match &report.cash {
        Some(c) => println!(
            "cash: broker {}, ledger {} ({}{})",
            c.broker,
            c.ledger,
            c.status,
            if c.status == "mismatch" {
                format!(
                    ", difference {}: no new risk until `systrade reconcile --ack-cash`",
                    c.difference
                )
            } else {
                String::new()
            }
        ),
        None => println!("cash: broker {}", report.broker_cash),
    }
    Ok(())
}

/// `systrade run --cycle`: one AVWAP execution cycle per config (a portfolio: per AVWAP
/// bucket).
fn cycles(home: &Path, a: &DailyRunArgs, cycle: crate::args::CycleArg) -> anyhow::Result<()> {
    use systrade_live::cycles::{Cycle, CycleRequest, run_cycles};
    if a.dry_run || a.as_of.is_some() {
        return Err(BadInput(
            "--cycle runs at --now (or the clock) in New York: --as-of and --dry-run do not apply"
                .into(),
        )
        .into());
    }
    let cycle = match cycle {
        crate::args::CycleArg::Open => Cycle::Open,
        crate::args::CycleArg::Intraday => Cycle::Intraday,
        crate::args::CycleArg::Close => Cycle::Close,
        crate::args::CycleArg::Auto => Cycle::Auto,
    };
    let read = a.read.options();
    let now = now_of(a.now.as_deref())?;
    for config in &a.config {
        let r = CycleRequest {
            config,
            cycle,
            now,
            data: a.data.as_deref(),
            read: &read,
            broker: a.broker.map(broker_kind),
            live: a.live,
            force: a.force_run,
        };
        for p in run_cycles(home, &r, &systrade_live::venue::Venues)? {
            println!("{} cycle summary: {}", cycle.as_str(), p.display());
        }
    }
    Ok(())
}
