//! Run folder artifacts (DESIGN §6): CSVs and canonical JSON, each written atomically.

use std::fmt::Write as _;
use std::path::Path;

use chrono::NaiveDate;
use systrade_strategy::Decision;

// A backtest's files are derived artifacts a rerun rewrites byte for byte: renamed into place
// (never half a file) without waiting for the disk.
use systrade_core::fsio::write_artifact;

use crate::{BacktestError, BacktestResult};

use systrade_core::json::shortest as num;

fn opt<T: std::fmt::Display>(x: &Option<T>) -> String {
    x.as_ref().map(|v| v.to_string()).unwrap_or_default()
}

/// Writes `timeseries.csv`, `trades.csv`, `orders.csv`, `fills.csv`, `decisions.jsonl` and
/// `summary.json` into `dir`.
pub fn write_outputs(r: &BacktestResult, dir: &Path) -> Result<(), BacktestError> {
    write_engine_files(r, dir)?;
    let mut dl = String::new();
    for (date, d) in &r.decisions {
        dl.push_str(&decision_line(*date, d)?);
    }
    write_artifact(&dir.join("decisions.jsonl"), dl.as_bytes())?;
    Ok(())
}

/// One line of `decisions.jsonl` (newline included): the decision made after `date`'s close.
pub fn decision_line(date: NaiveDate, d: &Decision) -> Result<String, BacktestError> {
    let mut line = systrade_core::json::to_canonical_string(
        &serde_json::json!({"date": date, "decision": d}),
    )?;
    line.push('\n');
    Ok(line)
}

/// [`write_outputs`] but `decisions.jsonl`, for a run that wrote its decisions as it made them
/// (see [`crate::run_observed`]).
pub fn write_engine_files(r: &BacktestResult, dir: &Path) -> Result<(), BacktestError> {
    // Strategy diagnostics become extra columns, in key order (empty where a date has none).
    let extra: std::collections::BTreeSet<&str> = r
        .series
        .iter()
        .flat_map(|row| row.extra.keys().map(String::as_str))
        .collect();
    let mut ts = String::from("date,equity,cash,gross,return,n_positions,fees,turnover");
    for k in &extra {
        ts.push(',');
        ts.push_str(k);
    }
    ts.push('\n');
    for row in &r.series {
        let _ = write!(
            ts,
            "{},{},{},{},{},{},{},{}",
            row.date,
            num(row.equity),
            num(row.cash),
            num(row.gross),
            num(row.ret),
            row.n_positions,
            num(row.fees),
            num(row.turnover)
        );
        for k in &extra {
            ts.push(',');
            if let Some(v) = row.extra.get(*k) {
                ts.push_str(&num(*v));
            }
        }
        ts.push('\n');
    }
    write_artifact(&dir.join("timeseries.csv"), ts.as_bytes())?;

    let mut tr = String::from(
        "symbol,side,entry_date,entry_price,exit_date,exit_price,qty,entry_fee,exit_fee,pnl,return,open\n",
    );
    for t in &r.trades {
        let side = serde_json::to_value(t.side)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let _ = writeln!(
            tr,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            t.symbol,
            side,
            t.entry_date,
            num(t.entry_price),
            opt(&t.exit_date),
            t.exit_price.map(num).unwrap_or_default(),
            num(t.qty),
            num(t.entry_fee),
            t.exit_fee.map(num).unwrap_or_default(),
            num(t.pnl),
            num(t.ret),
            t.open
        );
    }
    write_artifact(&dir.join("trades.csv"), tr.as_bytes())?;

    let mut or = String::from("id,decided,symbol,target,reason,status\n");
    for o in &r.orders {
        let target = serde_json::to_string(&o.target)
            .unwrap_or_default()
            .replace(',', ";")
            .replace('"', "");
        let _ = writeln!(
            or,
            "{},{},{},{},{},{}",
            o.id, o.decided, o.symbol, target, o.reason, o.status
        );
    }
    write_artifact(&dir.join("orders.csv"), or.as_bytes())?;

    let mut fl =
        String::from("order_id,date,symbol,side,qty,price,fee,slippage,pct_of_volume,reason\n");
    for x in &r.fills {
        let side = if matches!(x.side, systrade_core::contracts::Side::Buy) {
            "buy"
        } else {
            "sell"
        };
        let _ = writeln!(
            fl,
            "{},{},{},{},{},{},{},{},{},{}",
            x.order_id,
            x.date,
            x.symbol,
            side,
            x.qty.normalize(),
            x.price.normalize(),
            x.fee.normalize(),
            x.slippage.normalize(),
            num(x.pct_of_volume),
            x.reason
        );
    }
    write_artifact(&dir.join("fills.csv"), fl.as_bytes())?;
    let summary = systrade_core::json::to_canonical_pretty(&r.summary)?;
    write_artifact(&dir.join("summary.json"), summary.as_bytes())?;
    Ok(())
}
