//! Order records shared by the daily run and approvals: the protective stop's request (one
//! client order id for the same stop, whoever places it) and the orders CSV.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use systrade_broker::{BrokerOrder, OrderRequest, OrderType, TimeInForce};
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};
use systrade_store::{LedgerOrder, OrderKind, Purpose};

use crate::day::qty_text;

/// A protective stop's request; its id is the daily run's for the same stop, so a run and an
/// approval never place it twice.
pub fn stop_request(
    book: &str,
    session: NaiveDate,
    sym: &Symbol,
    qty: Decimal,
    level: Decimal,
) -> anyhow::Result<OrderRequest> {
    protective(book, session, sym, qty, level, "stop")
}

/// The stop a failed run puts back on a held position: its own id (the day's stop id may
/// already be spent at the broker), the same level and quantity.
pub fn restore_request(
    book: &str,
    session: NaiveDate,
    sym: &Symbol,
    qty: Decimal,
    level: Decimal,
) -> anyhow::Result<OrderRequest> {
    protective(book, session, sym, qty, level, "restore stop")
}

fn protective(
    book: &str,
    session: NaiveDate,
    sym: &Symbol,
    qty: Decimal,
    level: Decimal,
    what: &str,
) -> anyhow::Result<OrderRequest> {
    let purpose = format!("{what} {} {}", level.normalize(), qty.normalize());
    Ok(OrderRequest {
        client_order_id: ClientOrderId::for_book(book, session, sym, Side::Sell, &purpose)?,
        symbol: sym.clone(),
        side: Side::Sell,
        qty,
        order_type: OrderType::Stop { stop: level },
        tif: TimeInForce::Gtc,
        session,
    })
}

/// The ledger's word for how an order executes.
pub fn kind_of(t: &OrderType) -> OrderKind {
    match t {
        OrderType::Market => OrderKind::Market,
        OrderType::Limit { .. } => OrderKind::Limit,
        OrderType::Stop { .. } => OrderKind::Stop,
        OrderType::StopLimit { .. } => OrderKind::StopLimit,
    }
}

/// The ledger's record of the protective stop `req` as the broker placed it (its refusal
/// reason, if any, as the note).
pub fn stop_record(book: &str, req: &OrderRequest, placed: &BrokerOrder) -> LedgerOrder {
    LedgerOrder {
        filled_qty: Decimal::ZERO,
        avg_price: None,
        ..order_record(book, req, placed, Purpose::Stop, None)
    }
}

/// The ledger's record of `req` as the broker took it, with its purpose and the price it
/// was decided at.
pub fn order_record(
    book: &str,
    req: &OrderRequest,
    placed: &BrokerOrder,
    purpose: Purpose,
    decision: Option<f64>,
) -> LedgerOrder {
    LedgerOrder {
        client_order_id: req.client_order_id.clone(),
        strategy: book.to_string(),
        market_day: req.session,
        symbol: req.symbol.clone(),
        side: req.side,
        kind: kind_of(&req.order_type),
        qty: req.qty,
        stop_price: req.order_type.stop_price(),
        purpose,
        status: placed.status,
        broker_order_id: Some(placed.broker_id.clone()),
        filled_qty: placed.filled_qty,
        avg_price: placed.avg_price,
        note: placed.reason.clone(),
        decision_price: decision.map(systrade_backtest::dec),
        limit_price: req.order_type.limit_price(),
        approval: None,
    }
}

/// The orders CSV (`orders_YYYY-MM-DD.csv` of the daily run, `orders list` piped).
pub fn orders_csv(orders: &[LedgerOrder]) -> String {
    let mut out = String::from(
        "client_order_id,book,session,symbol,side,qty,kind,stop_price,decision_price,purpose,status,approval,filled_qty,avg_price,note\n",
    );
    for o in orders {
        let note = o.note.clone().unwrap_or_default().replace([',', '\n'], ";");
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            o.client_order_id,
            o.strategy,
            o.market_day,
            o.symbol,
            o.side.as_str(),
            qty_text(o.qty),
            o.kind,
            o.stop_price.map(qty_text).unwrap_or_default(),
            o.decision_price.map(qty_text).unwrap_or_default(),
            o.purpose,
            o.status,
            o.approval.map(|a| a.as_str()).unwrap_or_default(),
            qty_text(o.filled_qty),
            o.avg_price
                .map(|p| qty_text(p.round_dp(8)))
                .unwrap_or_default(),
            note
        ));
    }
    out
}
