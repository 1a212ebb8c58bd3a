//! Steps 7–9 of the day: the one idempotent submit. An order is looked up at the broker by
//! its client order id before it is sent, so a re-run never sends it twice; a duplicate
//! refusal (an answer lost on the way) adopts what the broker has. Sells first cancel the
//! stops that reserve their units; dust goes last, after its own stop cancel.

use std::collections::BTreeSet;

use serde_json::json;
use systrade_broker::{Broker, BrokerError, BrokerOrder, OrderRequest, OrderStatus, RetryPolicy};
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};
use systrade_store::Purpose;

use crate::day::{DayRun, boundary, qty_text, retry};
use crate::gates::{Gated, Planned, ledger_order};
use crate::logs::Logs;
use crate::sync::merge;

/// What [`place_once`] did.
pub enum Placed {
    /// The broker already had the order (a re-run, or an answer lost on the way).
    Found(BrokerOrder),
    /// It was sent now.
    Sent(BrokerOrder),
}

impl Placed {
    pub fn order(self) -> BrokerOrder {
        match self {
            Placed::Found(o) | Placed::Sent(o) => o,
        }
    }
}

/// The one idempotent submit: `req` is looked up at the broker by its client order id and
/// sent only when the broker does not have it; a duplicate refusal (the answer to an earlier
/// send was lost) adopts the broker's order. Used by the daily run and approvals alike.
pub fn place_once<B: Broker + ?Sized>(
    broker: &mut B,
    req: &OrderRequest,
    logs: &mut Logs,
    policy: RetryPolicy,
) -> anyhow::Result<Placed> {
    replace_once(broker, req, None, logs, policy)
}

/// [`place_once`] for an order that takes the place of `old` at the broker (one step, so a
/// rejection leaves `old` working), or a new one when there is no `old`.
pub fn replace_once<B: Broker + ?Sized>(
    broker: &mut B,
    req: &OrderRequest,
    old: Option<&ClientOrderId>,
    logs: &mut Logs,
    policy: RetryPolicy,
) -> anyhow::Result<Placed> {
    let id = &req.client_order_id;
    if let Some(o) = retry(policy, logs, "order", || broker.order(id))? {
        return Ok(Placed::Found(o));
    }
    let sent = match old {
        Some(old) => retry(policy, logs, "replace", || broker.replace(old, req)),
        None => retry(policy, logs, "submit", || broker.submit(req)),
    };
    match sent {
        Ok(o) => Ok(Placed::Sent(o)),
        Err(e) => match e.downcast_ref::<BrokerError>() {
            Some(BrokerError::Duplicate(_)) => retry(policy, logs, "order", || broker.order(id))?
                .map(Placed::Found)
                .ok_or_else(|| {
                    anyhow::anyhow!("the broker refused {id} as a duplicate but does not have it")
                }),
            _ => Err(e),
        },
    }
}

/// The day's submit of `req` ([`place_once`]) with its log line; returns the order as the
/// broker has it.
pub fn submit_once<B: Broker + ?Sized>(
    run: &mut DayRun<'_, B>,
    req: &OrderRequest,
    purpose: Purpose,
) -> anyhow::Result<BrokerOrder> {
    let id = &req.client_order_id;
    let placed = match place_once(&mut *run.broker, req, run.logs, run.policy)? {
        Placed::Found(o) => {
            run.logs.write(
                "order_submit",
                Some(req.symbol.as_str()),
                "already_at_broker",
                json!({"client_order_id": id, "status": o.status}),
            );
            o
        }
        Placed::Sent(o) => o,
    };
    if run.x.dry_run {
        // The venue was only asked for its preview (see `crate::dry_run`).
        run.logs.write(
            "order_submit",
            Some(req.symbol.as_str()),
            "preview",
            json!({"client_order_id": id, "accepted": placed.status != OrderStatus::Rejected,
                   "why": placed.reason, "qty": qty_text(req.qty), "purpose": purpose}),
        );
        return Ok(placed);
    }
    run.logs.write(
        "order_submit",
        Some(req.symbol.as_str()),
        placed.status.as_str(),
        json!({"client_order_id": id, "side": req.side, "qty": qty_text(req.qty),
               "filled_qty": qty_text(placed.filled_qty), "avg_price": placed.avg_price.map(qty_text),
               "purpose": purpose, "why": placed.reason}),
    );
    Ok(placed)
}

impl<B: Broker + ?Sized> DayRun<'_, B> {
    /// Steps 7–9: stops of what is sold are canceled first (they reserve quantity), the
    /// orders go out, then dust after its own stop cancel.
    pub(crate) fn send(&mut self, gated: &Gated) -> anyhow::Result<()> {
        let twap = self.desk.twap();
        let (worked, go): (Vec<&Planned>, Vec<&Planned>) = gated
            .planned
            .iter()
            .filter(|p| p.goes_out())
            .partition(|p| {
                twap.is_some_and(|t| crate::twap::works(t, p.req.qty, p.decision_price, p.purpose))
            });
        self.leave_to_twap(&worked)?;
        // Only what the broker does not have yet (a re-run) moves stops.
        let mut new: Vec<&Planned> = Vec::new();
        for p in &go {
            if self
                .call("order", |b| b.order(&p.req.client_order_id))?
                .is_none()
            {
                new.push(p);
            }
        }
        let sold: BTreeSet<Symbol> = new
            .iter()
            .filter(|p| p.req.side == Side::Sell && p.purpose != Purpose::Dust)
            .map(|p| p.req.symbol.clone())
            .collect();
        self.cancel_stops_for((7, "cancel_stops_before_sells"), &sold)?;
        boundary(7);
        let (dust, main): (Vec<&Planned>, Vec<&Planned>) =
            go.into_iter().partition(|p| p.purpose == Purpose::Dust);
        self.submit_all((8, "submit_orders"), &main)?;
        boundary(8);
        let dusted: BTreeSet<Symbol> = new
            .iter()
            .filter(|p| p.purpose == Purpose::Dust)
            .map(|p| p.req.symbol.clone())
            .collect();
        self.cancel_stops_for((9, "dust_stop_cancel"), &dusted)?;
        self.submit_all((9, "dust"), &dust)?;
        boundary(9);
        Ok(())
    }

    /// Orders a sheet book works as TWAP slices stay staged in the ledger, their parents;
    /// the intraday cycles (`systrade run --cycle intraday`) send the slices.
    fn leave_to_twap(&mut self, worked: &[&Planned]) -> anyhow::Result<()> {
        let Some(t) = self.desk.twap() else {
            return Ok(());
        };
        let start = t
            .start
            .map_or("the open".to_string(), |s| s.format("%H:%M").to_string());
        let plan = format!(
            "worked as TWAP: {} limit slices over {} minutes from {start} New York (`systrade run --cycle intraday`)",
            t.slices, t.minutes
        );
        let mut notes = Vec::new();
        for p in worked {
            let Some(o) = self.ledger.order(&p.req.client_order_id)? else {
                continue;
            };
            self.logs.write(
                "order_submit",
                Some(p.req.symbol.as_str()),
                "twap_planned",
                json!({"client_order_id": p.req.client_order_id, "side": p.req.side,
                       "qty": qty_text(p.req.qty), "purpose": p.purpose, "slices": t.slices,
                       "minutes": t.minutes, "start": start}),
            );
            if o.status == OrderStatus::Staged && o.note.as_deref() != Some(plan.as_str()) {
                notes.push(systrade_store::LedgerOrder {
                    note: Some(plan.clone()),
                    ..o
                });
            }
        }
        self.step(8, "twap_planned", |w| {
            for o in &notes {
                w.upsert_order(o)?;
            }
            Ok(())
        })
    }

    /// Sends `orders` once each and records what the broker answered as one step.
    fn submit_all(&mut self, (step, name): (u8, &str), orders: &[&Planned]) -> anyhow::Result<()> {
        let mut updates = Vec::new();
        for p in orders {
            let b = submit_once(self, &p.req, p.purpose)?;
            let base = self
                .ledger
                .order(&p.req.client_order_id)?
                .unwrap_or_else(|| ledger_order(self.x, p, OrderStatus::Submitted));
            updates.push(merge(&base, &b));
        }
        self.step(step, name, |w| {
            for u in &updates {
                w.upsert_order(u)?;
            }
            Ok(())
        })
    }
}
