//! `systrade run` and `systrade reconcile`: the daily run of spec/daily-run.md.

mod day;
mod desk;
mod lock;
mod logs;
mod notify;
mod orders;
mod schedule;

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use systrade_core::Market;

use crate::args::{DailyRunArgs, ReconcileArgs};
use crate::exit::BadInput;
use lock::RunLock;
use schedule::Schedule;

use day::{reconcile_now, reconciliation_json};
pub use orders::{approve, orders};

/// The clock: `--now`/`SYSTRADE_NOW` (tests, replays) or the system's.
pub(crate) fn now_of(flag: Option<&str>) -> anyhow::Result<DateTime<Utc>> {
    match flag {
        Some(t) => Ok(DateTime::parse_from_rfc3339(t)
            .map_err(|e| BadInput(format!("--now {t:?}: {e} (expected RFC 3339)")))?
            .with_timezone(&Utc)),
        None => Ok(Utc::now()),
    }
}

/// The clock of commands without a `--now` flag: `SYSTRADE_NOW` when set (tests, replays),
/// else the system's.
pub(crate) fn env_now() -> anyhow::Result<DateTime<Utc>> {
    let flag = std::env::var("SYSTRADE_NOW")
        .ok()
        .filter(|t| !t.trim().is_empty());
    now_of(flag.as_deref().map(str::trim))
}

/// "Today" for a market: its own local date (UTC for crypto).
pub fn market_today(market: Market, now: DateTime<Utc>) -> NaiveDate {
    match market {
        Market::Crypto => now.date_naive(),
        Market::Us => now
            .with_timezone(&chrono_tz::America::New_York)
            .date_naive(),
        Market::B3 => now
            .with_timezone(&chrono_tz::America::Sao_Paulo)
            .date_naive(),
    }
}

/// Appends an event of the run's entry (gate_skip, already_ran, stale_lock…) to
/// `<home>/logs/runs.jsonl` and prints it.
fn entry_event(home: &Path, event: &str, strategy: Option<&str>, detail: &str, now: &str) {
    println!(
        "{event}{}: {detail}",
        strategy.map(|s| format!(" [{s}]")).unwrap_or_default()
    );
    let line = systrade_core::json::to_canonical_string(&json!({
        "ts": now, "event": event, "strategy": strategy, "detail": detail,
    }))
    .unwrap_or_default();
    logs::append_line(&home.join("logs/runs.jsonl"), &line);
}

/// The strategy's name in the ledger: `run.name`, else the config file's stem.
pub fn strategy_name(config: &Path, configured: Option<&str>) -> String {
    configured.map(str::to_string).unwrap_or_else(|| {
        config
            .file_stem()
            .map(|s| {
                s.to_string_lossy()
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect()
            })
            .unwrap_or_else(|| "strategy".into())
    })
}

/// `systrade run`.
pub fn run(home: &Path, a: &DailyRunArgs) -> anyhow::Result<()> {
    for p in run_quiet(home, a)? {
        println!("daily summary: {}", p.display());
    }
    Ok(())
}

/// The daily run; returns the summaries written (none for a clean skip).
pub fn run_quiet(home: &Path, a: &DailyRunArgs) -> anyhow::Result<Vec<PathBuf>> {
    let now = now_of(a.now.as_deref())?;
    let stamp = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let schedule = Schedule::from_flags(
        a.run_at_utc_hour,
        a.run_at.as_deref(),
        a.tz.as_deref(),
        a.gate_minutes,
    )
    .map_err(BadInput)?;
    if !a.force_run
        && let Some(why) = schedule.check(now)
    {
        entry_event(home, "gate_skip", None, &why, &stamp);
        return Ok(Vec::new());
    }
    for config in &a.config {
        if crate::config::momentum::strategy_of(config).map_err(BadInput)? == "sheet" {
            return Err(BadInput(format!(
                "{}: a sheet book has no daily run; stage its orders with `systrade orders stage` and release them with `systrade approve`",
                config.display()
            ))
            .into());
        }
    }
    let mut ran = Vec::new();
    for config in &a.config {
        ran.extend(run_one(home, a, config, now)?);
    }
    if !a.dry_run {
        mail_newsletter(home, &ran, now, &stamp);
    }
    Ok(ran.into_iter().map(|r| r.summary).collect())
}

/// A completed day of one book.
struct Ran {
    summary: PathBuf,
    name: String,
    day: NaiveDate,
    newsletter: bool,
}

/// Step 14's email: the newsletter of the books just run, when SMTP is configured. A failure
/// is reported in `<home>/logs/runs.jsonl` and on stderr; it never fails the run.
fn mail_newsletter(home: &Path, ran: &[Ran], now: DateTime<Utc>, stamp: &str) {
    let books: Vec<String> = ran
        .iter()
        .filter(|r| r.newsletter)
        .map(|r| r.name.clone())
        .collect();
    let Some(day) = ran.iter().filter(|r| r.newsletter).map(|r| r.day).max() else {
        return;
    };
    let result = (|| -> anyhow::Result<Option<String>> {
        let Some(settings) = systrade_report::email::SmtpSettings::from_env()? else {
            return Ok(None);
        };
        let ledger = systrade_store::Ledger::open(&home.join("ledger.sqlite"))?;
        let r = super::newsletter::build(home, &ledger, Some(day), &books)?.render()?;
        systrade_report::email::send(&settings, &r, now.into())?;
        Ok(Some(r.subject))
    })();
    match result {
        Ok(None) => {}
        Ok(Some(subject)) => entry_event(home, "newsletter_sent", None, &subject, stamp),
        Err(e) => {
            let why = format!("{e:#}");
            entry_event(home, "newsletter_failed", None, &why, stamp);
            eprintln!(
                "warning: the newsletter could not be sent ({why}); the run itself completed"
            );
        }
    }
}

fn run_one(
    home: &Path,
    a: &DailyRunArgs,
    config: &Path,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Ran>> {
    let stamp = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let (l, market_day) = desk::Desk::load(config, a.data.as_deref(), &a.read, a.as_of, now)?;
    let name = strategy_name(config, l.run_cfg().name.as_deref());
    let cal = l.market().calendar();
    if !cal.is_trading_day(market_day) {
        entry_event(
            home,
            "market_closed",
            Some(&name),
            &format!("{market_day} is not a {} trading day", l.market().as_str()),
            &stamp,
        );
        return Ok(None);
    }
    let (_lock, stale) = RunLock::acquire(&home.join(format!("locks/{name}.lock")))?;
    if let Some(pid) = stale {
        entry_event(
            home,
            "stale_lock",
            Some(&name),
            &format!("the lock of pid {pid} (no longer running) was taken over"),
            &stamp,
        );
    }
    let ledger_path = home.join("ledger.sqlite");
    let ledger = systrade_store::Ledger::open(&ledger_path)?;
    if !a.force_run
        && let Some(run_id) = ledger.done(&name, market_day)?
    {
        entry_event(
            home,
            "already_ran",
            Some(&name),
            &format!("{market_day} was completed by run {run_id}; --force-run runs it again"),
            &stamp,
        );
        return Ok(None);
    }
    let paper_path = home.join(format!("paper/{}.sqlite", l.run_cfg().account));
    // A dry run works on copies: the real ledger and account stay as they are.
    let scratch = if a.dry_run {
        Some(tempfile::tempdir().context("creating a scratch folder for the dry run")?)
    } else {
        None
    };
    let (ledger, paper_path) = match &scratch {
        Some(dir) => {
            let l2 = dir.path().join("ledger.sqlite");
            ledger.snapshot_to(&l2)?;
            drop(ledger);
            let p2 = dir.path().join("paper.sqlite");
            if paper_path.exists() {
                systrade_broker::paper::snapshot(&paper_path, &p2)?;
            }
            (systrade_store::Ledger::open(&l2)?, p2)
        }
        None => (ledger, paper_path),
    };
    let mut folder = home.join(format!("runs/{name}/{market_day}"));
    if a.dry_run {
        folder = folder.join("dry-run");
    }
    let ctx = day::DayInputs {
        home,
        config,
        name: &name,
        market_day,
        folder: &folder,
        paper_path: &paper_path,
        now: &stamp,
        // With --as-of the artifacts carry no wall clock: reruns are byte-identical.
        stamp_artifacts: a.as_of.is_none(),
        dry_run: a.dry_run,
        live: a.live,
    };
    let summary = day::run_day(&l, ledger, &ctx)?;
    Ok(Some(Ran {
        summary,
        name,
        day: market_day,
        newsletter: l.run_cfg().newsletter,
    }))
}

/// `systrade reconcile`.
pub fn reconcile(home: &Path, a: &ReconcileArgs) -> anyhow::Result<()> {
    let run_cfg = match crate::config::momentum::strategy_of(&a.config)
        .map_err(BadInput)?
        .as_str()
    {
        "momentum" => {
            crate::config::momentum::MomentumConfig::load(&a.config)
                .map_err(BadInput)?
                .run
        }
        _ => {
            crate::config::trend::TrendConfig::load(&a.config)
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
    let day = match a.as_of {
        Some(d) => d,
        None => ledger.last_done(&name)?.ok_or_else(|| {
            BadInput(format!(
                "strategy {name} has not completed a day yet; pass --as-of"
            ))
        })?,
    };
    let (l, _) = desk::Desk::load(&a.config, a.data.as_deref(), &a.read, Some(day), Utc::now())?;
    let (rows, cash) = reconcile_now(&l, &ledger, &name, day, home)?;
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
