//! The ledger's orders as the desk shows them (`systrade orders list`, the dashboard): which
//! orders, as JSON and as a table.

use serde_json::{Value, json};
use systrade_broker::OrderStatus;
use systrade_core::money::decimal_text as qty;
use systrade_store::{Approval, Ledger, LedgerOrder};

use crate::bad;

/// Which orders to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderFilter {
    /// Staged, waiting for `systrade approve`.
    Pending,
    /// Working at the broker.
    Open,
    Status(OrderStatus),
}

impl OrderFilter {
    /// `pending`, `open` or an order status; anything else is refused, naming the choices.
    pub fn parse(s: &str) -> anyhow::Result<OrderFilter> {
        match s {
            "pending" => Ok(OrderFilter::Pending),
            "open" => Ok(OrderFilter::Open),
            s => OrderStatus::parse(s)
                .map(OrderFilter::Status)
                .ok_or_else(|| {
                    bad(format!(
                        "--status {s:?}: expected pending, open or one of {}",
                        OrderStatus::ALL.map(|x| x.as_str()).join(", ")
                    ))
                }),
        }
    }

    pub fn keeps(self, o: &LedgerOrder) -> bool {
        match self {
            OrderFilter::Pending => {
                o.status == OrderStatus::Staged && o.approval == Some(Approval::Pending)
            }
            OrderFilter::Open => o.status.is_open(),
            OrderFilter::Status(s) => o.status == s,
        }
    }
}

/// The orders of `book` (all books when `None`) that `filter` keeps, newest session first
/// (within a session, as recorded).
pub fn orders(
    ledger: &Ledger,
    book: Option<&str>,
    filter: Option<OrderFilter>,
) -> anyhow::Result<Vec<LedgerOrder>> {
    let mut rows = match book {
        Some(b) => ledger.orders(b)?,
        None => ledger.all_orders()?,
    };
    rows.retain(|o| filter.is_none_or(|f| f.keeps(o)));
    rows.sort_by_key(|o| std::cmp::Reverse(o.market_day));
    Ok(rows)
}

/// One order as JSON; decimals as text.
pub fn order_json(o: &LedgerOrder) -> Value {
    json!({
        "client_order_id": o.client_order_id, "book": o.strategy, "session": o.market_day,
        "symbol": o.symbol, "side": o.side, "qty": qty(o.qty), "kind": o.kind,
        "stop_price": o.stop_price.map(qty), "purpose": o.purpose, "status": o.status,
        "approval": o.approval, "decision_price": o.decision_price.map(qty),
        "filled_qty": qty(o.filled_qty), "avg_price": o.avg_price.map(|p| qty(p.round_dp(8))),
        "note": o.note,
    })
}

/// The orders as a fixed-width table, a header line first.
pub fn orders_table(rows: &[LedgerOrder]) -> String {
    let line = |c: [&str; 11]| {
        format!(
            "{:<35} {:<14} {:<10} {:<10} {:<4} {:>12} {:<6} {:<7} {:<16} {:<9} {:>12}\n",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10]
        )
    };
    let mut out = line([
        "client_order_id",
        "book",
        "session",
        "symbol",
        "side",
        "qty",
        "kind",
        "purpose",
        "status",
        "approval",
        "decision_px",
    ]);
    for o in rows {
        out.push_str(&line([
            &o.client_order_id.0,
            &o.strategy,
            &o.market_day.to_string(),
            o.symbol.as_str(),
            o.side.as_str(),
            &qty(o.qty),
            o.kind.as_str(),
            o.purpose.as_str(),
            o.status.as_str(),
            o.approval.map_or("-", Approval::as_str),
            &o.decision_price.map(qty).unwrap_or_else(|| "-".into()),
        ]));
    }
    out
}
