//! The venue's JSON, as Alpaca sends it: decimals as strings, times in RFC 3339 (`Z` on
//! trading objects, New York offsets on the clock).

use chrono::{Datelike, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::America::New_York;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use systrade_broker::{Account, BrokerOrder, OrderType, Position};
use systrade_core::contracts::Side;

/// `d` at `hh:mm` New York time, as the venue writes it on trading objects (UTC, `Z`).
pub fn utc_at(d: NaiveDate, hh: u32, mm: u32, ms: u32) -> String {
    let t = NaiveTime::from_hms_milli_opt(hh, mm, 0, ms).unwrap_or(NaiveTime::MIN);
    match New_York.from_local_datetime(&d.and_time(t)).earliest() {
        Some(x) => x
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string(),
        None => format!("{d}T{hh:02}:{mm:02}:00Z"),
    }
}

/// `d` at `hh:mm` New York time with its offset (the clock's form).
fn ny_at(d: NaiveDate, hh: u32, mm: u32) -> String {
    let t = NaiveTime::from_hms_opt(hh, mm, 0).unwrap_or(NaiveTime::MIN);
    match New_York.from_local_datetime(&d.and_time(t)).earliest() {
        Some(x) => x.to_rfc3339(),
        None => format!("{d}T{hh:02}:{mm:02}:00-05:00"),
    }
}

pub fn dec(d: Decimal) -> String {
    d.normalize().to_string()
}

fn price(p: f64) -> String {
    Decimal::try_from(p)
        .map(|d| dec(d.round_dp(4)))
        .unwrap_or_else(|_| "0".into())
}

/// The clock of `session`: before its open, or (`open`) at 09:45 while it trades.
pub fn clock(session: NaiveDate, open: bool) -> Value {
    if open {
        let mut next = session.succ_opt().unwrap_or(session);
        while next.weekday().number_from_monday() > 5 {
            next = next.succ_opt().unwrap_or(next);
        }
        return json!({
            "timestamp": ny_at(session, 9, 45),
            "is_open": true,
            "next_open": ny_at(next, 9, 30),
            "next_close": ny_at(session, 16, 0),
        });
    }
    json!({
        "timestamp": ny_at(session, 8, 0),
        "is_open": false,
        "next_open": ny_at(session, 9, 30),
        "next_close": ny_at(session, 16, 0),
    })
}

pub fn calendar_day(d: NaiveDate) -> Value {
    json!({"date": d.to_string(), "open": "09:30", "close": "16:00",
           "session_open": "0400", "session_close": "2000", "settlement_date": d.to_string()})
}

/// A cash account (multiplier 1: buying power is cash). A paper account's number starts
/// with `PA`.
pub fn account(uuid: &str, live: bool, a: &Account) -> Value {
    json!({
        "id": uuid,
        "account_number": if live { "310203ABCD" } else { "PA3LOCAL01" },
        "status": if a.trading_blocked { "INACTIVE" } else { "ACTIVE" },
        "crypto_status": "ACTIVE",
        "currency": a.currency,
        "cash": dec(a.cash),
        "buying_power": dec(a.cash.max(Decimal::ZERO)),
        "regt_buying_power": dec(a.cash.max(Decimal::ZERO)),
        "non_marginable_buying_power": dec(a.cash.max(Decimal::ZERO)),
        "equity": dec(a.equity),
        "last_equity": dec(a.equity),
        "portfolio_value": dec(a.equity),
        "multiplier": "1",
        "pattern_day_trader": false,
        "trading_blocked": a.trading_blocked,
        "transfers_blocked": false,
        "account_blocked": false,
        "trade_suspended_by_user": false,
        "shorting_enabled": false,
        "daytrade_count": 0,
    })
}

/// `BTCUSD` → `BTC/USD` for a pair ordered with a slash.
pub fn order_symbol(s: &str, crypto: bool) -> String {
    if crypto {
        for q in ["USDT", "USDC", "USD", "BTC"] {
            if let Some(b) = s.strip_suffix(q).filter(|b| !b.is_empty()) {
                return format!("{b}/{q}");
            }
        }
    }
    s.to_string()
}

pub fn position(p: &Position, last: Option<f64>, crypto: bool) -> Value {
    let current = last.and_then(|c| Decimal::try_from(c).ok());
    json!({
        "asset_id": format!("asset-{}", p.symbol),
        "symbol": p.symbol.as_str(),
        "exchange": if crypto { "CRYPTO" } else { "ARCA" },
        "asset_class": if crypto { "crypto" } else { "us_equity" },
        "asset_marginable": false,
        "avg_entry_price": dec(p.avg_price.round_dp(6)),
        "qty": dec(p.qty),
        "qty_available": dec(p.qty - p.reserved),
        "side": if p.qty < Decimal::ZERO { "short" } else { "long" },
        "market_value": current.map(|c| dec((c * p.qty).round_dp(4))),
        "cost_basis": dec((p.avg_price * p.qty).round_dp(4)),
        "current_price": last.map(price),
        "lastday_price": last.map(price),
    })
}

/// What else an order answer says beyond the broker's order.
pub struct OrderExtra<'a> {
    pub status: &'static str,
    pub crypto: bool,
    pub replaced_by: Option<&'a str>,
    pub replaces: Option<&'a str>,
}

pub fn order(o: &BrokerOrder, x: &OrderExtra<'_>) -> Value {
    let (kind, stop, limit) = match o.order_type {
        OrderType::Market => ("market", None, None),
        OrderType::Limit { limit } => ("limit", None, Some(limit)),
        OrderType::Stop { stop } => ("stop", Some(stop), None),
        OrderType::StopLimit { stop, limit } => ("stop_limit", Some(stop), Some(limit)),
    };
    let created = utc_at(o.session, 8, 0, 0);
    let filled = (x.status == "filled").then(|| utc_at(o.session, 9, 30, 0));
    json!({
        "id": o.broker_id,
        "client_order_id": o.client_order_id.0,
        "created_at": created,
        "updated_at": created,
        "submitted_at": created,
        "filled_at": filled,
        "expired_at": null,
        "canceled_at": null,
        "failed_at": null,
        "replaced_at": null,
        "replaced_by": x.replaced_by,
        "replaces": x.replaces,
        "asset_id": format!("asset-{}", o.symbol),
        "symbol": order_symbol(o.symbol.as_str(), x.crypto),
        "asset_class": if x.crypto { "crypto" } else { "us_equity" },
        "notional": null,
        "qty": dec(o.qty),
        "filled_qty": dec(o.filled_qty),
        "filled_avg_price": o.avg_price.map(dec),
        "order_class": "",
        "order_type": kind,
        "type": kind,
        "side": match o.side { Side::Buy => "buy", Side::Sell => "sell" },
        "time_in_force": o.tif.as_str(),
        "limit_price": limit.map(dec),
        "stop_price": stop.map(dec),
        "status": x.status,
        "extended_hours": false,
        "legs": null,
    })
}
