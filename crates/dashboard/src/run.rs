//! One day's run of one book: its 14 steps (spec/daily-run.md §2) and what each did, the
//! decisions (ALLOW/BLOCK with reasons), the reconciliation, stale data, errors and the alerts
//! sent — read from the run folder the daily run wrote.

use std::path::Path;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;
use systrade_desk::artifacts::{DailySummary, read};
use systrade_report::format::money;

use crate::view::ViewError;

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub n: usize,
    pub name: &'static str,
    pub what: String,
    /// Something to look at.
    pub warn: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub symbol: String,
    pub action: String,
    pub scale: String,
    pub reasons: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Recon {
    pub symbol: String,
    pub status: String,
    pub broker_qty: String,
    pub ledger_qty: String,
    pub stops: usize,
}

/// A log record, shown as its reason and its fields.
#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    pub reason: String,
    pub symbol: String,
    pub fields: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunDetail {
    pub book: String,
    pub day: String,
    pub broker: String,
    pub account: String,
    pub equity: String,
    pub dry_run: bool,
    pub steps: Vec<Step>,
    pub decisions: Vec<Decision>,
    pub recon: Vec<Recon>,
    pub violations: Vec<String>,
    pub errors: Vec<LogLine>,
    pub alerts: Vec<LogLine>,
    pub held_back: Vec<String>,
}

/// The records of `logs/<name>.jsonl` of a run folder (none when absent).
fn log_lines(dir: &Path, name: &str) -> Result<Vec<LogLine>, ViewError> {
    let p = dir.join("logs").join(format!("{name}.jsonl"));
    let Ok(text) = std::fs::read_to_string(&p) else {
        return Ok(Vec::new());
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            let v: Value = serde_json::from_str(l)
                .map_err(|e| ViewError(format!("{} line {}: {e}", p.display(), i + 1)))?;
            let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let fields: Vec<String> = v
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "reason" | "symbol" | "ts" | "run_id" | "seq" | "strategy"
                    )
                })
                .map(|(k, v)| format!("{k}={}", v.as_str().map_or(v.to_string(), str::to_string)))
                .collect();
            Ok(LogLine {
                reason: s("reason"),
                symbol: s("symbol"),
                fields: systrade_core::redact::redact(&fields.join(" ")),
            })
        })
        .collect()
}

fn decisions(dir: &Path, day: NaiveDate) -> Result<Vec<Decision>, ViewError> {
    let p = dir.join(format!("decisions_{day}.json"));
    if !p.exists() {
        return Ok(Vec::new());
    }
    let v: Value = read(&p).map_err(|e| ViewError(format!("{e:#}")))?;
    let list = v
        .get("decisions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(list
        .iter()
        .map(|d| {
            let s = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            Decision {
                symbol: s("symbol"),
                action: s("action").to_uppercase(),
                scale: d
                    .get("scale")
                    .and_then(Value::as_f64)
                    .map_or(String::new(), |x| format!("{x:.2}")),
                reasons: d
                    .get("reasons")
                    .and_then(Value::as_array)
                    .map(|r| {
                        r.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default(),
            }
        })
        .collect())
}

fn count(m: &std::collections::BTreeMap<String, usize>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The 14 steps and what the summary says each did.
fn steps(s: &DailySummary, errors: usize, alerts: usize) -> Vec<Step> {
    let o = &s.orders;
    let r = &s.reconciliation;
    let log = |k: &str| s.logs.get(k).copied().unwrap_or(0);
    let stale = s.no_data.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let step = |n, name, what: String, warn| Step {
        n,
        name,
        what,
        warn,
    };
    vec![
        step(1, "load config", format!("book {}", s.strategy), false),
        step(
            2,
            "connect and validate the account",
            format!("{} account {}", s.broker, s.account),
            false,
        ),
        step(
            3,
            "pull data",
            if stale.is_empty() {
                format!("bars through {}, none stale", s.decided_on_bars_through)
            } else {
                format!(
                    "bars through {}; no trustworthy bar: {}",
                    s.decided_on_bars_through,
                    stale.join(", ")
                )
            },
            !stale.is_empty(),
        ),
        step(
            4,
            "signals → targets",
            format!("{} desired-trade records", log("desired_trades")),
            false,
        ),
        step(
            5,
            "portfolio decisions",
            format!(
                "{} mode: {} allowed, {} blocked{}",
                s.decisions.mode,
                s.decisions.allowed,
                s.decisions.blocked.len(),
                if s.decisions.kill_switch {
                    "; kill switch set"
                } else {
                    ""
                }
            ),
            s.decisions.kill_switch || !s.decisions.blocked.is_empty(),
        ),
        step(
            6,
            "build orders",
            format!("{} planned at level {}", o.planned, o.execution_level),
            false,
        ),
        step(
            7,
            "cancel stops of what is sold",
            format!(
                "stops canceled: {}",
                s.stops.get("canceled").copied().unwrap_or(0)
            ),
            false,
        ),
        step(
            8,
            "submit",
            format!(
                "{}{}",
                count(&o.by_status),
                if o.held_back.is_empty() {
                    String::new()
                } else {
                    format!("; {} held back", o.held_back.len())
                }
            ),
            o.by_status.contains_key("rejected"),
        ),
        step(
            9,
            "dust",
            "residuals below the dust threshold closed when cheap enough".into(),
            false,
        ),
        step(
            10,
            "refresh positions",
            format!("{} positions held", s.positions),
            false,
        ),
        step(
            11,
            "post-exit cleanup",
            "stops of products now flat canceled".into(),
            false,
        ),
        step(
            12,
            "trailing stops",
            count(&s.stops),
            s.stops.contains_key("rejected"),
        ),
        step(
            13,
            "reconcile",
            format!(
                "{} mismatches, {} stop violations{}",
                r.mismatches.len(),
                r.violations.len(),
                match r.one_stop_per_position {
                    Some(true) => "; one stop per position",
                    Some(false) => "; NOT one stop per position",
                    None => "",
                }
            ),
            !r.mismatches.is_empty()
                || !r.violations.is_empty()
                || r.one_stop_per_position == Some(false),
        ),
        step(
            14,
            "persist and notify",
            format!(
                "{errors} errors logged, {alerts} notifications sent{}",
                if s.dry_run { "; dry run" } else { "" }
            ),
            errors > 0,
        ),
    ]
}

/// The run of `book` on `day`, when the home has it.
pub fn detail(home: &Path, book: &str, day: NaiveDate) -> Result<Option<RunDetail>, ViewError> {
    let dir = home.join("runs").join(book).join(day.to_string());
    let p = dir.join(format!("daily_summary_{day}.json"));
    if !p.is_file() {
        return Ok(None);
    }
    let s: DailySummary = read(&p).map_err(|e| ViewError(format!("{e:#}")))?;
    let errors = log_lines(&dir, "errors")?;
    let alerts = log_lines(&dir, "notify")?;
    Ok(Some(RunDetail {
        book: book.to_string(),
        day: day.to_string(),
        broker: s.broker.clone(),
        account: s.account.clone(),
        equity: money(s.equity),
        dry_run: s.dry_run,
        steps: steps(&s, errors.len(), alerts.len()),
        decisions: decisions(&dir, day)?,
        recon: s
            .reconciliation
            .mismatches
            .iter()
            .map(|m| Recon {
                symbol: m.symbol.to_string(),
                status: serde_json::to_value(m.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                broker_qty: m.broker_qty.clone(),
                ledger_qty: m.ledger_qty.clone(),
                stops: m.stops,
            })
            .collect(),
        violations: s
            .reconciliation
            .violations
            .iter()
            .map(|v| serde_json::to_string(v).unwrap_or_default())
            .collect(),
        errors,
        alerts,
        held_back: s
            .orders
            .held_back
            .iter()
            .map(|h| format!("{} {:?} {} {}", h.client_order_id, h.side, h.qty, h.symbol))
            .collect(),
    }))
}
