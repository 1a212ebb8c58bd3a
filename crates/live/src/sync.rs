//! What the broker did that the ledger must learn: new fills, status changes of working
//! orders, and orders the ledger never recorded.
//!
//! Nothing lost, nothing invented: every fill of the book's account ends up in the ledger
//! exactly once. An order carrying the book's client-id prefix that the ledger lacks (a run
//! killed between the broker's answer and the ledger's write) is adopted — recorded as the
//! broker has it — and so are its fills. A fill or a working order the book did not place
//! fails the run loudly: it is never skipped.

use systrade_broker::{Broker, BrokerFill, BrokerOrder, RetryPolicy};
use systrade_core::contracts::ClientOrderId;
use systrade_store::{Ledger, LedgerOrder, Purpose, StoreError, Writer};

use serde_json::json;

use crate::day::{qty_text, retry};
use crate::logs::Logs;

/// The broker's new fills of a book's orders, its working orders' status now, and the orders
/// it adopts.
#[derive(Default)]
pub struct FillSync {
    pub new: Vec<(BrokerFill, LedgerOrder)>,
    pub updates: Vec<LedgerOrder>,
    /// The book's orders the broker has and the ledger did not.
    pub adopted: Vec<LedgerOrder>,
}

impl FillSync {
    /// Reads what the broker did since the ledger's last fill; fails when the account holds a
    /// fill or a working order that is not the book's.
    pub fn collect<B: Broker + ?Sized>(
        broker: &mut B,
        ledger: &Ledger,
        name: &str,
        account: &str,
        logs: &mut Logs,
        policy: RetryPolicy,
    ) -> anyhow::Result<FillSync> {
        let mut adopted: Vec<LedgerOrder> = Vec::new();
        // Working orders first: an adopted stop that fired has its fills below.
        let open = retry(policy, logs, "open_orders", || broker.open_orders())?;
        for b in &open {
            if ledger.order(&b.client_order_id)?.is_none() {
                adopted.push(adopt(name, account, b)?);
            }
        }
        // Fills dated before the latest booked one were all booked then.
        let since = ledger.last_fill_date(name)?;
        let fills = retry(policy, logs, "fills", || broker.fills(since))?;
        let seen = ledger.fill_ids(account)?;
        let mut new = Vec::new();
        for fl in fills.into_iter().filter(|f| !seen.contains(&f.fill_id)) {
            let known = match ledger.order(&fl.client_order_id)? {
                Some(o) => Some(o),
                None => adopted
                    .iter()
                    .find(|o| o.client_order_id == fl.client_order_id)
                    .cloned(),
            };
            let order = match known {
                Some(o) if o.strategy == name => o,
                Some(o) => anyhow::bail!(
                    "fill {} in account {account} belongs to order {} of book {:?}, not {name:?}: two books trade in one account; give each its own run.account",
                    fl.fill_id,
                    o.client_order_id,
                    o.strategy
                ),
                None => {
                    let b = retry(policy, logs, "order", || broker.order(&fl.client_order_id))?
                        .ok_or_else(|| unknown_fill(&fl, account))?;
                    let o = adopt(name, account, &b).map_err(|_| unknown_fill(&fl, account))?;
                    adopted.push(o.clone());
                    o
                }
            };
            new.push((fl, order));
        }
        let mut updates = Vec::new();
        for o in ledger.working_orders(name)? {
            if let Some(b) = retry(policy, logs, "order", || broker.order(&o.client_order_id))? {
                updates.push(merge(&o, &b));
            }
        }
        Ok(FillSync {
            new,
            updates,
            adopted,
        })
    }

    /// Books the adopted orders, the fills and the status changes (inside the caller's
    /// transaction).
    pub fn book(&self, w: &Writer<'_>, name: &str, account: &str) -> Result<(), StoreError> {
        for o in &self.adopted {
            w.upsert_order(o)?;
        }
        for (fl, o) in &self.new {
            w.book_fill(name, account, fl, o.purpose)?;
        }
        for u in &self.updates {
            w.upsert_order(u)?;
            if u.kind.is_stop() && u.status.is_terminal() {
                // A stop that fired or went away protects nothing any more.
                w.clear_stop_order(name, &u.client_order_id)?;
            }
        }
        Ok(())
    }

    pub fn log(&self, logs: &mut Logs) {
        for o in &self.adopted {
            logs.write(
                "errors",
                Some(o.symbol.as_str()),
                "order_adopted",
                json!({"client_order_id": o.client_order_id, "kind": o.kind, "status": o.status,
                       "qty": qty_text(o.qty), "stop_price": o.stop_price.map(qty_text),
                       "why": "the broker has this order of the book and the ledger did not: a run stopped between placing and recording it"}),
            );
        }
        for (fl, o) in &self.new {
            logs.write(
                "order_submit",
                Some(fl.symbol.as_str()),
                "fill",
                json!({"client_order_id": fl.client_order_id, "purpose": o.purpose, "qty": qty_text(fl.qty),
                       "price": qty_text(fl.price), "fee": qty_text(fl.fee), "date": fl.date}),
            );
        }
    }
}

fn unknown_fill(fl: &BrokerFill, account: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "fill {} in account {account} ({} {} {} at {} on {}) is of order {}, which neither the ledger nor this book knows; nothing was booked — record the trade (`systrade trades import`) or remove it from the account, then run again",
        fl.fill_id,
        fl.side,
        qty_text(fl.qty),
        fl.symbol,
        qty_text(fl.price),
        fl.date,
        fl.client_order_id
    )
}

/// The ledger's record of an order of the book that the broker has and the ledger lacks.
fn adopt(name: &str, account: &str, b: &BrokerOrder) -> anyhow::Result<LedgerOrder> {
    if !b.client_order_id.belongs_to(name) {
        anyhow::bail!(
            "order {} ({} {} {}, {}) works in account {account} but is not book {name:?}'s (its ids start {}); cancel it at the broker or give the book its own account, then run again",
            b.client_order_id,
            b.side,
            qty_text(b.qty),
            b.symbol,
            b.status,
            ClientOrderId::book_prefix(name)
        );
    }
    let stop = b.order_type.stop_price();
    Ok(LedgerOrder {
        client_order_id: b.client_order_id.clone(),
        strategy: name.to_string(),
        market_day: b.session,
        symbol: b.symbol.clone(),
        side: b.side,
        kind: crate::orders::kind_of(&b.order_type),
        qty: b.qty,
        stop_price: stop,
        purpose: if stop.is_some() {
            Purpose::Stop
        } else {
            Purpose::Adopted
        },
        status: b.status,
        broker_order_id: Some(b.broker_id.clone()),
        filled_qty: b.filled_qty,
        avg_price: b.avg_price,
        note: Some("adopted: the broker had it, the ledger did not".into()),
        decision_price: None,
        limit_price: b.order_type.limit_price(),
        approval: None,
    })
}

/// The ledger's order updated with what the broker says.
pub fn merge(o: &LedgerOrder, b: &BrokerOrder) -> LedgerOrder {
    LedgerOrder {
        status: b.status,
        broker_order_id: Some(b.broker_id.clone()),
        filled_qty: b.filled_qty,
        avg_price: b.avg_price,
        note: b.reason.clone().or_else(|| o.note.clone()),
        ..o.clone()
    }
}
