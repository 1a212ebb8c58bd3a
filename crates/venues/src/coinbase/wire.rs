//! The venue's JSON, as Coinbase sends it: decimals as strings, enums in
//! SCREAMING_SNAKE_CASE, times in RFC 3339 UTC, lists paged by an opaque `cursor`.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use systrade_broker::{BrokerFill, BrokerOrder, OrderStatus, OrderType, Position, TimeInForce};
use systrade_core::contracts::Side;

pub fn dec(d: Decimal) -> String {
    d.normalize().to_string()
}

pub fn price(p: f64) -> String {
    Decimal::try_from(p)
        .map(|d| dec(d.round_dp(8)))
        .unwrap_or_else(|_| "0".into())
}

/// 00:00:01 UTC of `d` plus `seq` milliseconds: the session's open, in order.
fn at(d: NaiveDate, seq: usize) -> String {
    format!("{d}T00:00:01.{:03}Z", seq % 1000)
}

pub fn account(currency: &str, available: Decimal, hold: Decimal, portfolio: &str) -> Value {
    let fiat = matches!(currency, "USD" | "EUR" | "GBP");
    json!({
        "uuid": format!("acct-{}", currency.to_lowercase()),
        "name": format!("{currency} Wallet"),
        "currency": currency,
        "available_balance": {"value": dec(available), "currency": currency},
        "default": true,
        "active": true,
        "created_at": "2021-05-31T09:59:59Z",
        "updated_at": "2021-05-31T09:59:59Z",
        "deleted_at": null,
        "type": if fiat { "FIAT" } else { "CRYPTO" },
        "ready": true,
        "hold": {"value": dec(hold), "currency": currency},
        "retail_portfolio_id": portfolio,
    })
}

pub fn spot_position(asset: &str, p: &Position, px: Decimal, quote: &str) -> Value {
    let f = |d: Decimal| d.to_string().parse::<f64>().unwrap_or(0.0);
    json!({
        "asset": asset,
        "account_uuid": format!("acct-{}", asset.to_lowercase()),
        "total_balance_fiat": f(px * p.qty),
        "total_balance_crypto": f(p.qty),
        "available_to_trade_fiat": f(px * (p.qty - p.reserved)),
        "allocation": 0.0,
        "one_day_change": 0.0,
        "cost_basis": {"value": dec((p.avg_price * p.qty).round_dp(8)), "currency": quote},
        "is_cash": false,
    })
}

/// A page of `items` under `key`: `limit` (at most `max`) from the offset the `cursor`
/// carries; `has_next` and the next `cursor` when more remain.
pub fn page(key: &str, items: Vec<Value>, q: &[(String, String)], max: usize) -> Value {
    let get = |k: &str| q.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str());
    let limit = get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(49)
        .min(max);
    let from = get("cursor")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0);
    let n = items.len();
    let to = (from + limit).min(n);
    let slice: Vec<Value> = items
        .into_iter()
        .skip(from)
        .take(to.saturating_sub(from))
        .collect();
    let has_next = to < n;
    json!({
        key: slice,
        "has_next": has_next,
        "cursor": if has_next { to.to_string() } else { String::new() },
        "size": to.saturating_sub(from),
    })
}

pub fn created(o: &BrokerOrder, product: &str, config: &Value) -> Value {
    json!({
        "success": true,
        "success_response": {"order_id": o.broker_id, "product_id": product,
                             "side": side(o.side), "client_order_id": o.client_order_id.0},
        "order_configuration": config,
    })
}

pub fn failed(reason: &str, message: &str, config: &Value) -> Value {
    json!({
        "success": false,
        "failure_reason": "UNKNOWN_FAILURE_REASON",
        "order_id": "",
        "error_response": {"error": reason, "message": message, "error_details": message,
                           "preview_failure_reason": format!("PREVIEW_{reason}"),
                           "new_order_failure_reason": reason},
        "order_configuration": config,
    })
}

fn side(s: Side) -> &'static str {
    match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

fn stop_limit(
    s: Side,
    base: &str,
    stop: Decimal,
    limit: Decimal,
) -> (&'static str, Value, &'static str) {
    let direction = match s {
        Side::Sell => "STOP_DIRECTION_STOP_DOWN",
        Side::Buy => "STOP_DIRECTION_STOP_UP",
    };
    (
        "stop_limit_stop_limit_gtc",
        json!({"base_size": base, "limit_price": dec(limit), "stop_price": dec(stop),
               "stop_direction": direction}),
        "STOP_LIMIT",
    )
}

pub fn order(o: &BrokerOrder, product: &str, fees: Decimal) -> Value {
    let base = dec(o.qty);
    let (key, config, kind) = match (o.order_type, o.tif) {
        (OrderType::Market, _) => ("market_market_ioc", json!({"base_size": base}), "MARKET"),
        (OrderType::Limit { limit }, TimeInForce::Ioc) => (
            "sor_limit_ioc",
            json!({"base_size": base, "limit_price": dec(limit)}),
            "LIMIT",
        ),
        (OrderType::Limit { limit }, _) => (
            "limit_limit_gtc",
            json!({"base_size": base, "limit_price": dec(limit), "post_only": false}),
            "LIMIT",
        ),
        (OrderType::StopLimit { stop, limit }, _) => stop_limit(o.side, &base, stop, limit),
        // Spot has no stop-market: the venue never holds one.
        (OrderType::Stop { stop }, _) => stop_limit(o.side, &base, stop, stop),
    };
    let status = match o.status {
        OrderStatus::Staged | OrderStatus::Submitted => "PENDING",
        OrderStatus::Accepted | OrderStatus::PartiallyFilled => "OPEN",
        OrderStatus::Filled => "FILLED",
        OrderStatus::Canceled => "CANCELLED",
        OrderStatus::Expired => "EXPIRED",
        OrderStatus::Rejected => "FAILED",
    };
    let tif = match o.tif {
        TimeInForce::Ioc => "IMMEDIATE_OR_CANCEL",
        TimeInForce::Gtc | TimeInForce::Day => "GOOD_UNTIL_CANCELLED",
    };
    let filled_value = o.avg_price.map_or(Decimal::ZERO, |p| p * o.filled_qty);
    json!({
        "order_id": o.broker_id,
        "product_id": product,
        "user_id": "local-user",
        "order_configuration": {key: config},
        "side": side(o.side),
        "client_order_id": o.client_order_id.0,
        "status": status,
        "time_in_force": tif,
        "created_time": at(o.session, 0),
        "completion_percentage": if o.qty.is_zero() { "0".to_string() } else { dec((o.filled_qty / o.qty * Decimal::from(100)).round_dp(2)) },
        "filled_size": dec(o.filled_qty),
        "average_filled_price": dec(o.avg_price.unwrap_or_default()),
        "number_of_fills": if o.filled_qty.is_zero() { "0" } else { "1" },
        "filled_value": dec(filled_value.round_dp(8)),
        "pending_cancel": false,
        "size_in_quote": false,
        "total_fees": dec(fees),
        "size_inclusive_of_fees": false,
        "total_value_after_fees": dec((filled_value + fees).round_dp(8)),
        "trigger_status": if kind == "STOP_LIMIT" { if o.status.is_open() { "STOP_PENDING" } else { "STOP_TRIGGERED" } } else { "INVALID_ORDER_TYPE" },
        "order_type": kind,
        "reject_reason": if status == "FAILED" { "REJECT_REASON_UNSPECIFIED" } else { "" },
        "reject_message": if status == "FAILED" { o.reason.clone().unwrap_or_default() } else { String::new() },
        "settled": o.status.is_terminal(),
        "product_type": "SPOT",
        "cancel_message": "",
        "order_placement_source": "RETAIL_ADVANCED",
        "outstanding_hold_amount": "0",
        "is_liquidation": false,
        "edit_history": [],
    })
}

pub fn fill(f: &BrokerFill, o: &BrokerOrder, product: &str, seq: usize) -> Value {
    json!({
        "entry_id": format!("entry-{}", f.fill_id),
        "trade_id": f.fill_id,
        "order_id": o.broker_id,
        "trade_time": at(f.date, seq),
        "trade_type": "FILL",
        "price": dec(f.price),
        "size": dec(f.qty),
        "commission": dec(f.fee),
        "product_id": product,
        "sequence_timestamp": at(f.date, seq),
        "liquidity_indicator": if matches!(o.order_type, OrderType::Market) { "TAKER" } else { "MAKER" },
        "size_in_quote": false,
        "user_id": "local-user",
        "side": side(f.side),
        "retail_portfolio_id": "",
    })
}
