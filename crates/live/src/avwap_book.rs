//! The AVWAP book between execution cycles: what it holds (each position with its exit
//! tracker and stop path), the entries sent and not yet filled, and the closed trades with
//! their analytics. Kept at `<home>/state/<book>/avwap.json`, written whole and atomically
//! after each cycle; the broker is the truth it is reconciled with at the start of the next.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use systrade_avwap::analytics::stats;
use systrade_avwap::exits::{ExitReason, Tracker};
use systrade_avwap::scan::num;
use systrade_core::Symbol;
use systrade_core::contracts::ClientOrderId;
use systrade_core::fsio::write_atomic;

/// Where a position came from: the scan row it was entered on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    pub scan_date: NaiveDate,
    pub anchor_kind: String,
    pub anchor_date: NaiveDate,
    pub initial_stop: f64,
    pub stop_basis: String,
    /// The risk budget the quantity was sized to.
    pub budget: f64,
}

/// An entry order sent and not yet filled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingEntry {
    pub client_order_id: ClientOrderId,
    pub session: NaiveDate,
    pub qty: u64,
    pub origin: Origin,
}

/// A held position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Held {
    pub qty: u64,
    pub origin: Origin,
    pub entry_order: ClientOrderId,
    pub tracker: Tracker,
    /// The close-based exit order sent for the next open, if any.
    #[serde(default)]
    pub exit_order: Option<ClientOrderId>,
    /// The last session whose close was applied (a close cycle run again applies nothing
    /// twice).
    #[serde(default)]
    pub closed_through: Option<NaiveDate>,
}

/// A closed trade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closed {
    pub symbol: Symbol,
    pub held: Held,
    pub exit_day: NaiveDate,
    pub exit_price: f64,
    pub exit_reason: ExitReason,
    pub exit_order: ClientOrderId,
    /// What the broker-independent exit simulator gives for this trade from the bars and
    /// the recorded stop path (`None`: no exit through the broker's exit day).
    pub simulated: Option<systrade_avwap::exits::Exit>,
}

/// The whole book.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AvwapBook {
    pub held: BTreeMap<Symbol, Held>,
    pub pending: BTreeMap<Symbol, PendingEntry>,
    pub closed: Vec<Closed>,
}

/// The book's file.
pub fn path(home: &Path, book: &str) -> PathBuf {
    home.join(format!("state/{book}/avwap.json"))
}

impl AvwapBook {
    /// The book as last saved (empty when none was).
    pub fn load(home: &Path, book: &str) -> anyhow::Result<AvwapBook> {
        let p = path(home, book);
        match std::fs::read_to_string(&p) {
            Ok(text) => serde_json::from_str(&text)
                .with_context(|| format!("{}: unreadable AVWAP book", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AvwapBook::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
        }
    }

    /// Saves the book (atomically: a crash leaves the previous one).
    pub fn save(&self, home: &Path, book: &str) -> anyhow::Result<()> {
        let p = path(home, book);
        let text = systrade_core::json::to_canonical_string(self)?;
        write_atomic(&p, format!("{text}\n").as_bytes())
            .with_context(|| format!("writing {}", p.display()))
    }
}

/// The header of the live book's `trades.csv` (the backtest's columns that a live trade has).
pub const TRADES_HEADER: &str = "symbol,scan_date,anchor_kind,anchor_date,entry_date,entry_price,qty,initial_stop,stop_basis,exit_date,exit_price,exit_reason,final_stop,pnl,r_multiple,mae,mfe,mae_r,mfe_r,stop_efficiency,holding_days,stop_mode,intraday_days,daily_days";

/// `trades.csv` of the closed trades, oldest exit first.
pub fn trades_csv(closed: &[Closed]) -> String {
    let mut out = format!("{TRADES_HEADER}\n");
    let mut rows: Vec<&Closed> = closed.iter().collect();
    rows.sort_by(|a, b| {
        (a.exit_day, &a.symbol, a.held.tracker.entry_day).cmp(&(
            b.exit_day,
            &b.symbol,
            b.held.tracker.entry_day,
        ))
    });
    for c in rows {
        let t = &c.held.tracker;
        let o = &c.held.origin;
        let s = stats(t.entry_price, o.initial_stop, c.exit_price, t.worst, t.best);
        let mode = systrade_avwap::analytics::stop_mode(t.intraday_days, t.daily_days);
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{:.2},{},{},{},{},{},{},{},{mode},{},{}",
            c.symbol,
            o.scan_date,
            o.anchor_kind,
            o.anchor_date,
            t.entry_day,
            num(Some(t.entry_price)),
            c.held.qty,
            num(Some(o.initial_stop)),
            o.stop_basis,
            c.exit_day,
            num(Some(c.exit_price)),
            c.exit_reason.as_str(),
            num(t.path.current().map(|p| p.level)),
            (c.exit_price - t.entry_price) * c.held.qty as f64,
            num(Some(s.r_multiple)),
            num(Some(s.mae)),
            num(Some(s.mfe)),
            num(Some(s.mae_r)),
            num(Some(s.mfe_r)),
            num(s.stop_efficiency),
            t.held,
            t.intraday_days,
            t.daily_days,
        );
    }
    out
}
