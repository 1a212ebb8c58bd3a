//! The one reconciler: broker truth against the ledger, per symbol, with the invariant of one
//! protective stop per held position. Step 13 of the day and `systrade reconcile` use it; a
//! mismatch no one acknowledged blocks new risk in that symbol, never an exit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use systrade_backtest::dec;
use systrade_broker::{Broker, BrokerOrder, Faults, Position, RetryPolicy};
use systrade_config::book::BookConfig;
use systrade_config::momentum::MomentumConfig;
use systrade_config::run::RunSection;
use systrade_config::trend::TrendConfig;
use systrade_config::{ReadOptions, StrategyKind};
use systrade_core::Symbol;
use systrade_core::fsio::write_json_atomic;
use systrade_desk::artifacts::{CashLine, ReconLine, Reconciliation, StopInvariant, StopViolation};
use systrade_store::{CashCheck, CashStatus, Ledger, ReconRow, ReconStatus};

use crate::day::{DayRun, boundary, qty_text};
use crate::desk::Desk;
use crate::logs::Logs;
use crate::stops::protected_qty;
use crate::venue::Venue;
use crate::{bad, strategy_name};

/// Step 13's outcome.
pub struct Reconciled {
    pub held: Vec<Position>,
    pub rows: Vec<ReconRow>,
    /// Mismatches no one acknowledged (they block new risk in their symbol).
    pub unresolved: BTreeSet<Symbol>,
    /// Held positions whose count of open stops is not what the strategy needs.
    pub violations: Vec<StopViolation>,
    /// Exactly one stop per held position (`None`: the strategy defines no stops).
    pub one_stop_per_position: Option<bool>,
    /// The broker's cash against the ledger's.
    pub cash: CashCheck,
}

impl Reconciled {
    /// No mismatch and no stop-invariant violation.
    pub fn clean(&self) -> bool {
        self.rows.iter().all(|r| r.status == ReconStatus::Match)
            && self.violations.is_empty()
            && self.cash.status != CashStatus::Mismatch
    }

    pub fn mismatches(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.status != ReconStatus::Match)
            .count()
    }

    /// The rows that do not match, each marked when someone acknowledged it.
    pub fn mismatch_lines(&self) -> Vec<ReconLine> {
        self.rows
            .iter()
            .filter(|r| r.status != ReconStatus::Match)
            .map(|r| recon_line(r, !self.unresolved.contains(&r.symbol)))
            .collect()
    }
}

/// One reconciliation row as the artifacts show it; `acked` marks a mismatch someone
/// acknowledged.
pub fn recon_line(r: &ReconRow, acked: bool) -> ReconLine {
    ReconLine {
        symbol: r.symbol.clone(),
        status: r.status,
        broker_qty: qty_text(r.broker_qty),
        ledger_qty: qty_text(r.ledger_qty),
        stops: r.stops,
        acked: acked && r.status != ReconStatus::Match,
    }
}

/// A reconciliation report; `unresolved` are the mismatches no one acknowledged.
pub fn reconciliation(
    day: NaiveDate,
    (name, account): (&str, &str),
    cash: Decimal,
    rows: &[ReconRow],
    unresolved: &BTreeSet<Symbol>,
) -> Reconciliation {
    Reconciliation {
        as_of: day,
        strategy: name.to_string(),
        account: account.to_string(),
        broker_cash: cash.normalize().to_string(),
        rows: rows
            .iter()
            .map(|r| recon_line(r, !unresolved.contains(&r.symbol)))
            .collect(),
        cash: None,
        invariant: None,
    }
}

/// A cash check as the report shows it.
pub fn cash_line(c: &CashCheck) -> CashLine {
    CashLine {
        status: c.status.as_str().to_string(),
        broker: qty_text(c.broker),
        ledger: qty_text(c.ledger),
        difference: qty_text(c.difference),
    }
}

/// Broker positions and open stops vs the ledger's positions, per symbol.
pub fn reconcile_rows(
    ledger: &Ledger,
    name: &str,
    held: &[Position],
    open: &[BrokerOrder],
    uses_stops: bool,
) -> anyhow::Result<Vec<ReconRow>> {
    let ours = ledger.positions(name)?;
    let theirs: BTreeMap<&Symbol, Decimal> = held.iter().map(|p| (&p.symbol, p.qty)).collect();
    let symbols: BTreeSet<&Symbol> = ours.keys().chain(theirs.keys().copied()).collect();
    let mut rows = Vec::new();
    for s in symbols {
        let b = theirs.get(s).copied().unwrap_or(Decimal::ZERO);
        let l = ours.get(s).copied().unwrap_or(Decimal::ZERO);
        let stops = open
            .iter()
            .filter(|o| &o.symbol == s && o.order_type.is_stop())
            .count();
        let status = if l.is_zero() && !b.is_zero() {
            ReconStatus::MissingInLedger
        } else if b.is_zero() && !l.is_zero() {
            ReconStatus::MissingInBroker
        } else if b != l {
            ReconStatus::QtyMismatch
        } else if stops == 0 && uses_stops && protected_qty(b, open, s) > Decimal::ZERO {
            ReconStatus::StopMissing
        } else {
            ReconStatus::Match
        };
        rows.push(ReconRow {
            symbol: s.clone(),
            status,
            broker_qty: b,
            ledger_qty: l,
            stops,
        });
    }
    Ok(rows)
}

/// `systrade reconcile`: the rows and the broker's cash now (the broker is opened at `day`,
/// so a paper clock does not move past it).
pub fn reconcile_now(
    desk: &Desk,
    ledger: &Ledger,
    name: &str,
    day: NaiveDate,
    venue: &Venue,
) -> anyhow::Result<(Vec<ReconRow>, Decimal, Decimal)> {
    if !venue.exists() {
        return Err(crate::bad(format!(
            "no paper account at {}",
            venue.location()
        )));
    }
    let mut broker = venue.connect(desk, day, Faults::none())?;
    let held = broker.positions()?;
    let open = broker.open_orders()?;
    let (cash, unbooked) = cash_snapshot(
        &mut *broker,
        ledger,
        (name, &desk.run_cfg().account),
        crate::day::policy_of(desk),
        None,
    )?;
    Ok((
        reconcile_rows(ledger, name, &held, &open, desk.uses_stops())?,
        cash,
        unbooked,
    ))
}

/// One broker call, retried where that makes sense (logged when there are logs).
fn call<T>(
    policy: RetryPolicy,
    logs: &mut Option<&mut Logs>,
    what: &str,
    op: impl FnMut() -> Result<T, systrade_broker::BrokerError>,
) -> anyhow::Result<T> {
    match logs {
        Some(l) => crate::day::retry(policy, l, what, op),
        None => Ok(systrade_broker::with_retries(policy, op, |_, _| {})?),
    }
}

/// The broker's cash, and the cash effect of the fills it made that the ledger has not booked
/// yet (they are in the cash already; the next sync books them and moves the ledger's cash),
/// read as one consistent picture: the unbooked fills are listed before and after the cash,
/// and the read is repeated (up to three times) while a fill lands in between.
pub fn cash_snapshot<B: Broker + ?Sized>(
    broker: &mut B,
    ledger: &Ledger,
    (name, account): (&str, &str),
    policy: RetryPolicy,
    mut logs: Option<&mut Logs>,
) -> anyhow::Result<(Decimal, Decimal)> {
    let booked = ledger.fill_ids(account)?;
    let since = ledger.last_fill_date(name)?;
    let mut tries = 0;
    loop {
        let unbooked = |broker: &mut B,
                        logs: &mut Option<&mut Logs>|
         -> anyhow::Result<Vec<(String, Decimal)>> {
            Ok(call(policy, logs, "fills", || broker.fills(since))?
                .into_iter()
                .filter(|f| !booked.contains(&f.fill_id))
                .map(|f| {
                    let effect = systrade_store::cash_effect(f.side, f.qty, f.price, f.fee);
                    (f.fill_id, effect)
                })
                .collect())
        };
        let before = unbooked(broker, &mut logs)?;
        let cash = call(policy, &mut logs, "account", || broker.account())?.cash;
        let after = unbooked(broker, &mut logs)?;
        tries += 1;
        if before == after || tries == 3 {
            return Ok((cash, after.iter().map(|(_, e)| *e).sum()));
        }
    }
}

/// What `systrade reconcile` reconciles: a book's config, its data, the day.
pub struct ReconcileRequest<'a> {
    pub config: &'a Path,
    pub data: Option<&'a Path>,
    pub read: &'a ReadOptions,
    /// Default: the broker's own session (after a failed run the paper clock is at that
    /// day — it never goes back — which may be later than the last completed one).
    pub as_of: Option<NaiveDate>,
    pub now: DateTime<Utc>,
    /// `--broker`: the venue instead of the config's `[run] broker`.
    pub broker: Option<systrade_config::run::BrokerKind>,
}

/// The book's `[run]` section and name, from its config (checked) without loading its data:
/// the one way every command names a book.
pub fn book_of(config: &Path) -> anyhow::Result<(RunSection, String)> {
    let run = match StrategyKind::of(config).map_err(bad)? {
        StrategyKind::Momentum => MomentumConfig::load(config).map_err(bad)?.run,
        StrategyKind::Trend => TrendConfig::load(config).map_err(bad)?.run,
        StrategyKind::Sheet => BookConfig::load(config).map_err(bad)?.run,
        StrategyKind::Avwap => {
            systrade_config::avwap::AvwapConfig::load(config)
                .map_err(bad)?
                .run
        }
        StrategyKind::Rotation => {
            systrade_config::rotation::RotationConfig::load(config)
                .map_err(bad)?
                .run
        }
        StrategyKind::Portfolio => {
            return Err(crate::desk::no_daily_run(config));
        }
        StrategyKind::Feed => {
            systrade_config::feed::FeedConfig::load(config)
                .map_err(bad)?
                .run
        }
    };
    let name = strategy_name(config, run.name.as_deref());
    Ok((run, name))
}

/// `systrade reconcile`: the book against its broker now, recorded like the run's own (a new
/// mismatch blocks entries in that symbol from now on).
pub fn reconcile_book(
    home: &Path,
    ledger: &mut Ledger,
    r: &ReconcileRequest<'_>,
) -> anyhow::Result<Reconciliation> {
    let (run, name) = book_of(r.config)?;
    let venue = Venue::new(r.broker.unwrap_or(run.broker), home, &run.account);
    let day = match r.as_of {
        Some(d) => d,
        None => match venue.current_session()? {
            Some(d) => d,
            None => ledger.last_done(&name)?.ok_or_else(|| {
                bad(format!(
                    "strategy {name} has not completed a day yet; pass --as-of"
                ))
            })?,
        },
    };
    let (desk, _) = Desk::load(r.config, r.data, r.read, Some(day), r.now)?;
    crate::check_not_future(r.config, desk.market(), day, r.now)?;
    let (rows, cash, unbooked) = reconcile_now(&desk, ledger, &name, day, &venue)?;
    let stamp = r.now.format("%Y-%m-%dT%H:%M:%SZ");
    ledger.record_reconciliation(&name, day, &rows, &format!("reconcile {stamp}"))?;
    let check = ledger.write(&format!("reconcile {stamp}"), |w| {
        w.check_cash(&name, day, cash - unbooked, dec(run.cash_tolerance))
    })?;
    let unresolved = ledger.unresolved_mismatches(&name)?;
    let mut report = reconciliation(day, (&name, &run.account), cash, &rows, &unresolved);
    report.cash = Some(cash_line(&check));
    Ok(report)
}

/// `systrade reconcile --ack-cash`: the book takes the broker's cash as its own (the
/// unresolved difference moves the ledger's cash) and may take new risk again. Returns the
/// difference taken.
pub fn acknowledge_cash(ledger: &mut Ledger, config: &Path) -> anyhow::Result<Decimal> {
    let (_, name) = book_of(config)?;
    ledger.ack_cash(&name).map_err(crate::refused)
}

/// `systrade reconcile --ack SYMBOL…`: each mismatch is acknowledged and the ledger takes
/// the broker's quantity, so new entries are allowed again.
pub fn acknowledge(
    ledger: &mut Ledger,
    config: &Path,
    symbols: &[String],
    stamp: &str,
) -> anyhow::Result<Vec<(Symbol, ReconRow)>> {
    let (_, name) = book_of(config)?;
    let mut out = Vec::new();
    for s in symbols {
        let sym = Symbol::new(s.as_str()).map_err(|e| bad(e.to_string()))?;
        let row = ledger
            .ack(&name, &sym, stamp)
            .map_err(|e| bad(e.to_string()))?;
        out.push((sym, row));
    }
    Ok(out)
}

impl<B: Broker + ?Sized> DayRun<'_, B> {
    /// Step 13: broker truth vs the ledger, recorded, written as `reconciliation_D.json`;
    /// each mismatch is logged as an error.
    pub(crate) fn reconcile(&mut self) -> anyhow::Result<Reconciled> {
        let (name, day) = (self.x.name, self.x.market_day);
        let uses_stops = self.desk.uses_stops();
        let held = self.call("positions", |b| b.positions())?;
        let open = self.call("open_orders", |b| b.open_orders())?;
        let (cash, unbooked) = cash_snapshot(
            &mut *self.broker,
            self.ledger,
            (name, self.x.account),
            self.policy,
            Some(&mut *self.logs),
        )?;
        let rows = reconcile_rows(self.ledger, name, &held, &open, uses_stops)?;
        let mut violations = Vec::new();
        for p in &held {
            let n = open
                .iter()
                .filter(|o| o.symbol == p.symbol && o.order_type.is_stop())
                .count();
            // A strategy without stops must not leave stray ones either; a position a
            // working sell takes whole needs none (its stop was canceled for the sell).
            let needs = uses_stops && protected_qty(p.qty, &open, &p.symbol) > Decimal::ZERO;
            if n != usize::from(needs) {
                violations.push(StopViolation {
                    symbol: p.symbol.clone(),
                    open_stops: n,
                });
            }
        }
        let tolerance = dec(self.desk.run_cfg().cash_tolerance);
        // Fills the broker made after the ledger's last sync are in its cash already; they are
        // booked (and move the ledger's cash) at the next sync, so they are left out of both.
        let check = self.step(13, "reconcile", |w| {
            w.record_reconciliation(name, day, &rows)?;
            w.check_cash(name, day, cash - unbooked, tolerance)
        })?;
        if check.status == CashStatus::Mismatch {
            self.logs.write(
                "errors",
                None,
                "cash_mismatch",
                json!({"broker": qty_text(check.broker), "ledger": qty_text(check.ledger),
                       "difference": qty_text(check.difference),
                       "why": "the broker's cash moved by something the ledger's fills do not explain (a dividend, interest, a fee, a transfer, or a fill it never saw): no new risk until `systrade reconcile --ack-cash`"}),
            );
        }
        let unresolved = self.ledger.unresolved_mismatches(name)?;
        let mut report = reconciliation(day, (name, self.x.account), cash, &rows, &unresolved);
        report.cash = Some(cash_line(&check));
        report.invariant = Some(StopInvariant {
            one_stop_per_position: uses_stops.then_some(violations.is_empty()),
            no_stray_stops: (!uses_stops).then_some(violations.is_empty()),
            why: (!uses_stops).then(|| "the strategy defines no protective stop".to_string()),
            violations: violations.clone(),
        });
        write_json_atomic(
            &self.x.folder.join(format!("reconciliation_{day}.json")),
            &report,
        )?;
        for r in rows.iter().filter(|r| r.status != ReconStatus::Match) {
            self.logs.write(
                "errors",
                Some(r.symbol.as_str()),
                r.status.as_str(),
                json!(recon_line(r, !unresolved.contains(&r.symbol))),
            );
        }
        boundary(13);
        Ok(Reconciled {
            held,
            rows,
            unresolved,
            one_stop_per_position: uses_stops.then_some(violations.is_empty()),
            violations,
            cash: check,
        })
    }
}
