//! `systrade run` and `systrade reconcile`: the flags wired to `systrade_live`, and what the
//! commands print.

use std::path::Path;

use chrono::Utc;
use systrade_config::StrategyKind;
use systrade_live::desk::Desk;
use systrade_live::reconcile::{reconcile_now, reconciliation_json};
use systrade_live::schedule::Schedule;
use systrade_live::venue::Venue;
use systrade_live::{RunRequest, now_of, strategy_name};

use crate::args::{BrokerArg, DailyRunArgs, ReconcileArgs};
use crate::exit::BadInput;

/// `systrade run`.
pub fn run(home: &Path, a: &DailyRunArgs) -> anyhow::Result<()> {
    let req = RunRequest {
        configs: a.config.clone(),
        broker: a.broker.map(|b| match b {
            BrokerArg::Paper => systrade_config::run::BrokerKind::Paper,
        }),
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
    };
    for p in systrade_live::run(home, &req)? {
        println!("daily summary: {}", p.display());
    }
    Ok(())
}

/// `systrade reconcile`.
pub fn reconcile(home: &Path, a: &ReconcileArgs) -> anyhow::Result<()> {
    let run_cfg = match StrategyKind::of(&a.config).map_err(BadInput)? {
        StrategyKind::Momentum => {
            systrade_config::momentum::MomentumConfig::load(&a.config)
                .map_err(BadInput)?
                .run
        }
        StrategyKind::Trend | StrategyKind::Sheet => {
            systrade_config::trend::TrendConfig::load(&a.config)
                .map_err(BadInput)?
                .run
        }
    };
    let name = strategy_name(&a.config, run_cfg.name.as_deref());
    let ledger_path = home.join("ledger.sqlite");
    if !ledger_path.exists() {
        return Err(BadInput(format!(
            "no ledger at {} (run `systrade run` first, or pass --home)",
            ledger_path.display()
        ))
        .into());
    }
    let mut ledger = systrade_store::Ledger::open(&ledger_path)?;
    let stamp = Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    for s in &a.ack {
        let sym = systrade_core::Symbol::new(s.as_str()).map_err(|e| BadInput(e.to_string()))?;
        let row = ledger
            .ack(&name, &sym, &stamp)
            .map_err(|e| BadInput(e.to_string()))?;
        println!(
            "acknowledged {sym} ({}: broker {}, ledger {}); the ledger now holds {} and new entries are allowed again",
            row.status,
            row.broker_qty.normalize(),
            row.ledger_qty.normalize(),
            row.broker_qty.normalize()
        );
    }
    if !a.ack.is_empty() {
        return Ok(());
    }
    let venue = Venue::new(run_cfg.broker, home, &run_cfg.account);
    // By default the broker's own session: after a failed run the paper clock is at that day
    // (it never goes back), which may be later than the last completed one.
    let day = match a.as_of {
        Some(d) => d,
        None => match venue.current_session()? {
            Some(d) => d,
            None => ledger.last_done(&name)?.ok_or_else(|| {
                BadInput(format!(
                    "strategy {name} has not completed a day yet; pass --as-of"
                ))
            })?,
        },
    };
    let (l, _) = Desk::load(
        &a.config,
        a.data.as_deref(),
        &a.read.options(),
        Some(day),
        Utc::now(),
    )?;
    systrade_live::check_not_future(&a.config, l.market(), day, systrade_live::env_now()?)?;
    let (rows, cash) = reconcile_now(&l, &ledger, &name, day, &venue)?;
    // Recorded like the run's own: a new mismatch blocks entries in that symbol from now on.
    ledger.record_reconciliation(&name, day, &rows, &format!("reconcile {stamp}"))?;
    let unresolved = ledger.unresolved_mismatches(&name)?;
    let report = reconciliation_json(day, &name, &run_cfg.account, cash, &rows, &unresolved);
    if a.json {
        println!(
            "{}",
            systrade_core::json::to_canonical_pretty(&report)?.trim_end()
        );
    } else {
        let rows = report["rows"].as_array().cloned().unwrap_or_default();
        println!("reconciliation of {name} on {day} (broker vs ledger):");
        for r in &rows {
            println!(
                "  {:<12} {:<18} broker {:>16} ledger {:>16} stops {}{}",
                r["symbol"].as_str().unwrap_or(""),
                r["status"].as_str().unwrap_or(""),
                r["broker_qty"].as_str().unwrap_or(""),
                r["ledger_qty"].as_str().unwrap_or(""),
                r["stops"],
                if r["acked"].as_bool() == Some(true) {
                    " (acknowledged)"
                } else {
                    ""
                }
            );
        }
        if rows.is_empty() {
            println!("  no positions on either side");
        }
        println!(
            "cash: broker {}",
            report["broker_cash"].as_str().unwrap_or("")
        );
    }
    Ok(())
}
