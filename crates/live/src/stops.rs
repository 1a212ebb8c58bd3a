//! The stop manager of the day: stops canceled to make room for a sell or because the
//! position is gone (steps 7, 9, 11), the trailing stops ratcheted and replaced in one step
//! so no moment is without one (step 12), and — when a run fails after reaching the broker —
//! every held position given its stop back before the run exits.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde_json::json;
use systrade_backtest::dec;
use systrade_broker::{Broker, BrokerOrder, OrderRequest, OrderStatus, Position, RetryPolicy};
use systrade_core::Symbol;
use systrade_core::contracts::Side;
use systrade_store::{Ledger, LedgerOrder, StopRow};

use crate::day::{DayRun, boundary, qty_text, retry};
use crate::desk::{DayDecision, StopPlan};
use crate::logs::Logs;
use crate::orders::{restore_request, stop_record, stop_request};
use crate::submit::replace_once;
use crate::sync::merge;

impl<B: Broker + ?Sized> DayRun<'_, B> {
    /// Cancels the open stops of `symbols` and records it as step `step`.
    pub(crate) fn cancel_stops_for(
        &mut self,
        (step, name): (u8, &str),
        symbols: &BTreeSet<Symbol>,
    ) -> anyhow::Result<()> {
        let mut canceled = Vec::new();
        if !symbols.is_empty() {
            let open = self.call("open_orders", |b| b.open_orders())?;
            for o in open
                .iter()
                .filter(|o| o.order_type.is_stop() && symbols.contains(&o.symbol))
            {
                let c = self.call("cancel", |b| b.cancel(&o.client_order_id))?;
                self.note_stop(
                    &o.symbol,
                    "canceled",
                    json!({"client_order_id": o.client_order_id, "why": name}),
                );
                canceled.push(c);
            }
        }
        let mut updates = Vec::new();
        for c in &canceled {
            if let Some(o) = self.ledger.order(&c.client_order_id)? {
                updates.push(merge(&o, c));
            }
        }
        let book = self.x.name;
        self.step(step, name, |w| {
            for u in &updates {
                w.upsert_order(u)?;
            }
            for c in &canceled {
                w.set_stop(book, &c.symbol, None)?;
            }
            Ok(())
        })
    }

    /// Step 12: one stop per held position at today's level — ratcheted by the strategy,
    /// replaced in one step, untouched when the data is not good (`data_ok = 0`).
    pub(crate) fn trailing_stops(
        &mut self,
        dd: &DayDecision,
        held: &[Position],
    ) -> anyhow::Result<()> {
        let held_map: BTreeMap<Symbol, Decimal> =
            held.iter().map(|p| (p.symbol.clone(), p.qty)).collect();
        let open = self.call("open_orders", |b| b.open_orders())?;
        let mut rows: BTreeMap<Symbol, Option<StopRow>> = BTreeMap::new();
        let mut orders: Vec<LedgerOrder> = Vec::new();
        for (sym, level) in &dd.stop_levels {
            if !held_map.contains_key(sym) {
                self.note_stop(sym, "not_open", json!({"level": level}));
            }
        }
        for (sym, qty) in &held_map {
            let Some(plan) = dd.stops.get(sym) else {
                continue;
            };
            let existing: Vec<&BrokerOrder> = open
                .iter()
                .filter(|o| &o.symbol == sym && o.order_type.is_stop())
                .collect();
            let level = match *plan {
                StopPlan::Skip => {
                    self.note_stop(
                        sym,
                        "skip",
                        json!({"why": "data_ok = 0: the stop in force is left as it is", "open_stops": existing.len()}),
                    );
                    continue;
                }
                StopPlan::NoLevel => {
                    self.note_stop(
                        sym,
                        "rejected",
                        json!({"why": "no stop level could be computed"}),
                    );
                    continue;
                }
                StopPlan::Level(level) => dec(level),
            };
            // Units a working sell (an exit or trim not filled yet: a venue that queues
            // market orders for the open) will take are not the stop's to protect.
            let qty = protected_qty(*qty, &open, sym);
            if qty <= Decimal::ZERO {
                self.note_stop(
                    sym,
                    "not_open",
                    json!({"why": "a working sell takes the whole position", "level": qty_text(level)}),
                );
                continue;
            }
            let req = stop_request(self.x.name, self.x.market_day, sym, qty, level)?;
            if let Some(one) = in_force(&existing, &req) {
                self.note_stop(
                    sym,
                    "unchanged",
                    json!({"level": qty_text(level), "qty": qty_text(qty)}),
                );
                rows.insert(
                    sym.clone(),
                    Some(StopRow {
                        level,
                        qty,
                        client_order_id: one.client_order_id.clone(),
                        market_day: one.session,
                    }),
                );
                continue;
            }
            self.place_stop(sym, &req, &existing, &mut rows, &mut orders)?;
        }
        let book = self.x.name;
        let carried = dd.carried.clone();
        self.step(12, "trailing_stops", |w| {
            for o in &orders {
                w.upsert_order(o)?;
            }
            for (s, r) in &rows {
                w.set_stop(book, s, r.as_ref())?;
            }
            match &carried {
                Some(c) => w.save_carried(book, c),
                None => Ok(()),
            }
        })?;
        boundary(12);
        Ok(())
    }

    /// Puts `qty` of `sym` under a stop at `level` ([`put_stop`]); previewed under a dry run.
    fn place_stop(
        &mut self,
        sym: &Symbol,
        req: &OrderRequest,
        existing: &[&BrokerOrder],
        rows: &mut BTreeMap<Symbol, Option<StopRow>>,
        orders: &mut Vec<LedgerOrder>,
    ) -> anyhow::Result<()> {
        let (qty, level) = (req.qty, req.order_type.stop_price().unwrap_or_default());
        let put = put_stop(
            &mut *self.broker,
            (&mut *self.logs, self.policy),
            self.ledger,
            self.x.name,
            req,
            existing,
        )?;
        let preview = self.x.dry_run;
        if put.rejected() {
            self.note_stop(
                sym,
                "rejected",
                json!({"level": qty_text(level), "qty": qty_text(qty), "why": put.placed.reason,
                       "preview": preview}),
            );
        } else {
            self.note_stop(
                sym,
                "placed",
                json!({"level": qty_text(level), "qty": qty_text(qty),
                "replaced": existing.first().map(|o| o.client_order_id.clone()), "preview": preview}),
            );
            rows.insert(sym.clone(), Some(stop_row(req)));
        }
        orders.extend(put.records);
        Ok(())
    }

    /// After a failure at the broker: every held position of a strategy with stops that has
    /// none gets one back (today's level, else the last one the ledger knew), recorded in the
    /// ledger. Returns what to tell the user; never fails itself.
    pub(crate) fn protect_after_failure(&mut self) -> String {
        if !self.desk.uses_stops() {
            return "the strategy defines no protective stops".into();
        }
        match self.restore_stops() {
            Ok(done) if done.is_empty() => {
                "every held position still has its protective stop at the broker".into()
            }
            Ok(done) => {
                format!(
                    "before stopping, the run put the protective stop back on {}",
                    done.join(", ")
                )
            }
            Err(e) => {
                self.logs.write(
                    "errors",
                    None,
                    "stops_not_restored",
                    json!({"error": format!("{e:#}")}),
                );
                format!(
                    "WARNING: the run could not check or restore the protective stops ({e:#}); protect the held positions at the broker by hand"
                )
            }
        }
    }

    fn restore_stops(&mut self) -> anyhow::Result<Vec<String>> {
        let (name, day) = (self.x.name, self.x.market_day);
        let held = self.call("positions", |b| b.positions())?;
        let open = self.call("open_orders", |b| b.open_orders())?;
        let recorded = self.ledger.stops(name)?;
        let carried = self.ledger.carried(name)?;
        let mut done = Vec::new();
        let mut orders = Vec::new();
        let mut rows = Vec::new();
        for p in held.iter().filter(|p| p.qty > Decimal::ZERO) {
            if open
                .iter()
                .any(|o| o.symbol == p.symbol && o.order_type.is_stop())
            {
                continue;
            }
            let level = self
                .levels
                .get(&p.symbol)
                .copied()
                .or_else(|| recorded.get(&p.symbol).map(|r| r.level))
                .or_else(|| carried.tickers.get(&p.symbol).and_then(|(s, _)| s.map(dec)));
            let Some(level) = level else {
                done.push(format!("{} (NO LEVEL KNOWN: protect it by hand)", p.symbol));
                continue;
            };
            let qty = protected_qty(p.qty, &open, &p.symbol);
            if qty <= Decimal::ZERO {
                continue;
            }
            let req = restore_request(name, day, &p.symbol, qty, level)?;
            let placed =
                replace_once(&mut *self.broker, &req, None, &mut *self.logs, self.policy)?.order();
            orders.push(stop_record(name, &req, &placed));
            self.logs.write(
                "errors",
                Some(p.symbol.as_str()),
                "stop_restored",
                json!({"client_order_id": req.client_order_id, "level": qty_text(level),
                       "qty": qty_text(qty), "status": placed.status}),
            );
            if placed.status == OrderStatus::Rejected {
                done.push(format!(
                    "{} (REJECTED: {}; protect it by hand)",
                    p.symbol,
                    placed.reason.unwrap_or_default()
                ));
            } else {
                done.push(format!(
                    "{} ({} at {})",
                    p.symbol,
                    qty_text(p.qty),
                    qty_text(level)
                ));
                rows.push((p.symbol.clone(), stop_row(&req)));
            }
        }
        if !orders.is_empty() {
            self.ledger.write(self.run_id, |w| {
                for o in &orders {
                    w.upsert_order(o)?;
                }
                for (s, r) in &rows {
                    w.set_stop(name, s, Some(r))?;
                }
                Ok(())
            })?;
        }
        Ok(done)
    }
}

/// What a stop on `sym` must cover: the long units held less those working sells that are
/// not stops will take when they fill (a venue that queues market orders for the open
/// reserves them now; a stop on them would be refused).
pub fn protected_qty(held: Decimal, open: &[BrokerOrder], sym: &Symbol) -> Decimal {
    let selling: Decimal = open
        .iter()
        .filter(|o| &o.symbol == sym && o.side == Side::Sell && !o.order_type.is_stop())
        .map(BrokerOrder::remaining)
        .sum();
    (held.abs() - selling).max(Decimal::ZERO)
}

/// The one stop already in force as `req` asks — the same order (its id names the day, the
/// level and the quantity; the venue may have rounded the price onto its grid), or one on
/// exactly its quantity at exactly its level — if that is what the broker has.
pub fn in_force<'o>(existing: &[&'o BrokerOrder], req: &OrderRequest) -> Option<&'o BrokerOrder> {
    match existing {
        [one]
            if one.remaining() == req.qty
                && (one.client_order_id == req.client_order_id
                    || one.order_type.stop_price() == req.order_type.stop_price()) =>
        {
            Some(one)
        }
        _ => None,
    }
}

/// The stop row the ledger keeps for the stop `req`.
pub fn stop_row(req: &OrderRequest) -> StopRow {
    StopRow {
        level: req.order_type.stop_price().unwrap_or_default(),
        qty: req.qty,
        client_order_id: req.client_order_id.clone(),
        market_day: req.session,
    }
}

/// What [`put_stop`] did.
pub struct StopPut {
    /// The stop as the broker has it.
    pub placed: BrokerOrder,
    /// The ledger records to write: the new stop first, then the stops it replaced.
    pub records: Vec<LedgerOrder>,
}

impl StopPut {
    pub fn rejected(&self) -> bool {
        self.placed.status == OrderStatus::Rejected
    }
}

/// The one stop manager's move, used by the daily run and approvals alike: the position's
/// stop becomes `req` — extra stops canceled, the first existing one replaced in one step at
/// the broker (a rejection leaves it working), or a new one placed; found by its id on a
/// re-run. The records say what the ledger must now hold.
pub fn put_stop<B: Broker + ?Sized>(
    broker: &mut B,
    (logs, policy): (&mut Logs, RetryPolicy),
    ledger: &Ledger,
    book: &str,
    req: &OrderRequest,
    existing: &[&BrokerOrder],
) -> anyhow::Result<StopPut> {
    let mut records = Vec::new();
    for extra in existing.iter().skip(1) {
        let c = retry(policy, logs, "cancel", || {
            broker.cancel(&extra.client_order_id)
        })?;
        if let Some(o) = ledger.order(&extra.client_order_id)? {
            records.push(merge(&o, &c));
        }
    }
    let first = existing
        .first()
        .map(|o| &o.client_order_id)
        .filter(|id| **id != req.client_order_id);
    let placed = replace_once(broker, req, first, logs, policy)?.order();
    records.insert(0, stop_record(book, req, &placed));
    if let Some(id) = first
        && placed.status != OrderStatus::Rejected
        && let Some(o) = ledger.order(id)?
    {
        // The old stop as the broker has it now: replaced (canceled), or — when the new
        // one was found already placed by an earlier run — whatever became of it.
        let now = retry(policy, logs, "order", || broker.order(id))?;
        records.push(match now {
            Some(b) if !b.status.is_open() => LedgerOrder {
                note: Some(format!("replaced by {}", req.client_order_id)),
                ..merge(&o, &b)
            },
            Some(b) => merge(&o, &b),
            None => LedgerOrder {
                status: OrderStatus::Canceled,
                note: Some(format!("replaced by {}", req.client_order_id)),
                ..o
            },
        });
    }
    Ok(StopPut { placed, records })
}

#[cfg(test)]
mod tests {
    use super::*;
    use systrade_broker::{OrderType, TimeInForce};
    use systrade_core::contracts::ClientOrderId;

    fn stop(id: &ClientOrderId, level: &str, qty: &str) -> BrokerOrder {
        BrokerOrder {
            client_order_id: id.clone(),
            broker_id: "v-1".into(),
            symbol: Symbol::new("ATOMUSDT").unwrap(),
            side: Side::Sell,
            qty: qty.parse().unwrap(),
            order_type: OrderType::Stop {
                stop: level.parse().unwrap(),
            },
            tif: TimeInForce::Gtc,
            session: "2022-03-31".parse().unwrap(),
            status: OrderStatus::Accepted,
            filled_qty: Decimal::ZERO,
            avg_price: None,
            reason: None,
        }
    }

    #[test]
    fn test_a_stop_the_venue_rounded_is_still_the_one_in_force_and_another_level_is_not() {
        let sym = Symbol::new("ATOMUSDT").unwrap();
        let day = "2022-03-31".parse().unwrap();
        let level: Decimal = "26.54912558".parse().unwrap();
        let qty: Decimal = "82.1".parse().unwrap();
        let req = stop_request("trend", day, &sym, qty, level).unwrap();
        // The same order, its price on the venue's cent grid: a rerun must not replace it
        // with itself (the ledger would call it canceled while the venue works it).
        let rounded = stop(&req.client_order_id, "26.55", "82.1");
        assert!(in_force(&[&rounded], &req).is_some());
        // Another day's stop at exactly this level and quantity is in force too.
        let other = ClientOrderId("st-other".into());
        assert!(in_force(&[&stop(&other, "26.54912558", "82.1")], &req).is_some());
        // Another level, or another quantity, or two stops: not in force.
        assert!(in_force(&[&stop(&other, "26.55", "82.1")], &req).is_none());
        assert!(in_force(&[&stop(&req.client_order_id, "26.55", "80")], &req).is_none());
        assert!(in_force(&[&rounded, &rounded], &req).is_none());
    }
}
