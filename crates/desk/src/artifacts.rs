//! The daily run's artifacts as types: `daily_summary_D.json`, `portfolio_snapshot_D.json`
//! and the reconciliation's rows — written by the daily run, read by the newsletter, the
//! alerts and (later) the dashboard. A file that does not have this shape is an error naming
//! the file and the field, never a silent 0.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use systrade_core::Symbol;
use systrade_core::contracts::{ReasonCode, Side};
use systrade_core::vocab::{Approval, Purpose, ReconStatus};

/// `daily_summary_D.json`: one book's day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailySummary {
    pub as_of: NaiveDate,
    pub strategy: String,
    pub broker: String,
    pub account: String,
    pub dry_run: bool,
    pub decided_on_bars_through: NaiveDate,
    pub equity: f64,
    pub cash: f64,
    pub gross_exposure: f64,
    /// Positions held at the end of the day.
    pub positions: usize,
    /// The strategy's sizing of the day (its own keys: trend and momentum differ).
    pub targets: Value,
    /// Symbols without a trustworthy bar: no new risk there.
    pub no_data: Vec<Symbol>,
    pub decisions: DecisionSummary,
    pub orders: OrderSummary,
    /// Stop updates by what happened (`placed`, `unchanged`, …).
    pub stops: BTreeMap<String, usize>,
    pub reconciliation: ReconSummary,
    /// Log records written, by log.
    pub logs: BTreeMap<String, usize>,
    pub artifacts: ArtifactNames,
    /// The run that wrote it (absent with `--as-of`: reruns are byte-identical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunStamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionSummary {
    /// `enforce` or `shadow`.
    pub mode: String,
    pub kill_switch: bool,
    pub allowed: usize,
    pub blocked: Vec<BlockedOrder>,
}

/// An order the gates blocked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockedOrder {
    pub symbol: Symbol,
    pub qty: String,
    pub reasons: Vec<ReasonCode>,
    /// The reasons in words.
    pub why: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderSummary {
    pub planned: usize,
    /// The day's orders by status.
    pub by_status: BTreeMap<String, usize>,
    pub execution_level: String,
    /// Orders held back by the execution level.
    pub held_back: Vec<HeldBack>,
}

/// An order staged for approval or for the user's own hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldBack {
    pub client_order_id: String,
    pub symbol: Symbol,
    pub side: Side,
    pub qty: String,
    pub purpose: Purpose,
    pub approval: Option<Approval>,
    pub notional: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconSummary {
    pub mismatches: Vec<ReconLine>,
    /// `None` for a strategy without protective stops.
    pub one_stop_per_position: Option<bool>,
    pub violations: Vec<StopViolation>,
    /// The day's cash check (broker against ledger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cash: Option<CashLine>,
}

/// One symbol's reconciliation: broker against ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconLine {
    pub symbol: Symbol,
    pub status: ReconStatus,
    pub broker_qty: String,
    pub ledger_qty: String,
    /// Open protective stops at the broker.
    pub stops: usize,
    /// Someone acknowledged the mismatch (`systrade reconcile --ack`).
    pub acked: bool,
}

/// `reconciliation_D.json` (and `systrade reconcile --json`): every symbol either side holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reconciliation {
    pub as_of: NaiveDate,
    pub strategy: String,
    pub account: String,
    pub broker_cash: String,
    pub rows: Vec<ReconLine>,
    /// The day's cash check: the broker's cash against the ledger's (the daily run's report
    /// only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cash: Option<CashLine>,
    /// The stop invariant (the daily run's report only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invariant: Option<StopInvariant>,
}

/// The broker's cash against what the ledger expects (its anchor moved by every fill booked
/// since), as the reconciliation report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashLine {
    /// `anchored` (the first check), `match` or `mismatch`.
    pub status: String,
    pub broker: String,
    pub ledger: String,
    /// Broker minus ledger.
    pub difference: String,
}

/// Exactly one protective stop per held position — or, for a strategy without stops, none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopInvariant {
    /// `None` for a strategy without protective stops.
    pub one_stop_per_position: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_stray_stops: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    pub violations: Vec<StopViolation>,
}

/// A held position whose count of open stops is not what the strategy needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopViolation {
    pub symbol: Symbol,
    pub open_stops: usize,
}

/// The day's other artifacts, by what they hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactNames {
    pub targets: String,
    pub decisions: String,
    pub reconciliation: String,
    pub portfolio_snapshot: String,
    pub orders: String,
}

impl ArtifactNames {
    pub fn of_day(day: NaiveDate) -> ArtifactNames {
        ArtifactNames {
            targets: format!("targets_{day}.csv"),
            decisions: format!("decisions_{day}.json"),
            reconciliation: format!("reconciliation_{day}.json"),
            portfolio_snapshot: format!("portfolio_snapshot_{day}.json"),
            orders: format!("orders_{day}.csv"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStamp {
    pub run_id: String,
    pub started_utc: String,
}

/// `portfolio_snapshot_D.json`: the book at the end of the day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortfolioSnapshot {
    pub as_of: NaiveDate,
    pub strategy: String,
    pub capital: f64,
    pub cash: f64,
    pub gross: f64,
    pub net: f64,
    pub positions: Vec<SnapshotPosition>,
    pub drawdown: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotPosition {
    pub symbol: Symbol,
    pub qty: String,
    pub avg_price: String,
    pub last_close: f64,
    pub value: f64,
    /// The protective stop's level, when one is in force.
    pub stop: Option<String>,
}

/// Reads an artifact of type `T` from `path`; a missing field or a wrong type names the file
/// and the field.
pub fn read<T: DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not the daily run's artifact of this name",
            path.display()
        )
    })
}
