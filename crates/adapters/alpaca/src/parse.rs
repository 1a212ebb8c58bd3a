//! The venue's JSON → systrade's broker types, and systrade's requests → the venue's JSON.
//! Nothing is guessed: a status, type, side or time in force systrade does not know is an
//! error naming the order and the value, so an unknown order fails the run loudly instead of
//! being booked as something it is not.

use chrono::{DateTime, NaiveDate};
use rust_decimal::Decimal;
use systrade_broker::venue::{ParseError, Refusal, about, split_pair};
use systrade_broker::{
    Account, BrokerError, BrokerFill, BrokerOrder, OrderRequest, OrderStatus, OrderType, Position,
    TimeInForce,
};
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};

use crate::models;

const VENUE: &str = "alpaca";

/// The quote currencies of the crypto pairs Alpaca lists (`BTC/USD`, `ETH/USDT`, …).
const QUOTES: [&str; 4] = ["USDT", "USDC", "USD", "BTC"];

/// systrade's symbol of a venue symbol: `BTC/USD` (orders, market data) and `BTCUSD`
/// (positions) are both `BTCUSD`.
pub fn symbol(what: &'static str, id: &str, venue: &str) -> Result<Symbol, ParseError> {
    Symbol::new(venue.replace('/', "")).map_err(|e| ParseError::Symbol {
        venue: VENUE,
        what,
        id: id.to_string(),
        value: venue.to_string(),
        problem: e.to_string(),
    })
}

/// The venue's symbol for an order: a crypto pair gets its slash back (`BTCUSD` →
/// `BTC/USD`); an equity is as it is.
pub fn venue_symbol(s: &Symbol, crypto: bool) -> String {
    match split_pair(s, &QUOTES) {
        Some((base, quote)) if crypto => format!("{base}/{quote}"),
        _ => s.as_str().to_string(),
    }
}

/// The venue's order status as systrade's. Every status that still works at the venue is
/// open (`accepted` until it fills or ends); `replaced` is canceled (its replacement is
/// another order).
pub fn status(id: &str, s: &str) -> Result<OrderStatus, ParseError> {
    Ok(match s {
        "new"
        | "accepted"
        | "pending_new"
        | "accepted_for_bidding"
        | "held"
        | "pending_cancel"
        | "pending_replace"
        | "done_for_day"
        | "stopped"
        | "suspended"
        | "calculated" => OrderStatus::Accepted,
        "partially_filled" => OrderStatus::PartiallyFilled,
        "filled" => OrderStatus::Filled,
        "canceled" | "replaced" => OrderStatus::Canceled,
        "expired" => OrderStatus::Expired,
        "rejected" => OrderStatus::Rejected,
        other => {
            return Err(ParseError::Unknown {
                venue: VENUE,
                what: "order",
                id: id.to_string(),
                field: "status",
                value: other.to_string(),
                known: "the statuses of broker-apis.md §1.5",
            });
        }
    })
}

fn side(what: &'static str, id: &str, s: &str) -> Result<Side, ParseError> {
    match s {
        "buy" => Ok(Side::Buy),
        "sell" => Ok(Side::Sell),
        other => Err(ParseError::Unknown {
            venue: VENUE,
            what,
            id: id.to_string(),
            field: "side",
            value: other.to_string(),
            known: "buy, sell",
        }),
    }
}

fn tif(id: &str, s: &str) -> Result<TimeInForce, ParseError> {
    TimeInForce::parse(s).ok_or_else(|| ParseError::Unknown {
        venue: VENUE,
        what: "order",
        id: id.to_string(),
        field: "time_in_force",
        value: s.to_string(),
        known: "day, gtc, ioc",
    })
}

fn order_type(o: &models::Order) -> Result<OrderType, ParseError> {
    let unknown = |field: &'static str, value: &str| ParseError::Unknown {
        venue: VENUE,
        what: "order",
        id: o.id.clone(),
        field,
        value: value.to_string(),
        known: "market, limit, stop, stop_limit with their prices",
    };
    Ok(match (o.order_type.as_str(), o.stop_price, o.limit_price) {
        ("market", _, _) => OrderType::Market,
        ("limit", _, Some(limit)) => OrderType::Limit { limit },
        ("stop", Some(stop), _) => OrderType::Stop { stop },
        ("stop_limit", Some(stop), Some(limit)) => OrderType::StopLimit { stop, limit },
        (t @ ("limit" | "stop" | "stop_limit"), _, _) => return Err(unknown("prices of", t)),
        (t, _, _) => return Err(unknown("type", t)),
    })
}

/// The venue's order as systrade's, for `session` (the venue does not say which session an
/// order was for; the caller knows the one it trades in).
pub fn order(o: &models::Order, session: NaiveDate) -> Result<BrokerOrder, ParseError> {
    let qty = o.qty.ok_or_else(|| ParseError::Unsupported {
        venue: VENUE,
        id: o.id.clone(),
        why: "a notional order (no quantity) is not one systrade places",
    })?;
    Ok(BrokerOrder {
        client_order_id: ClientOrderId(o.client_order_id.clone()),
        broker_id: o.id.clone(),
        symbol: symbol("order", &o.id, &o.symbol)?,
        side: side("order", &o.id, &o.side)?,
        qty,
        order_type: order_type(o)?,
        tif: tif(&o.id, &o.time_in_force)?,
        session,
        status: status(&o.id, &o.status)?,
        filled_qty: o.filled_qty,
        avg_price: o.filled_avg_price,
        reason: None,
    })
}

/// A position as systrade's: the units held and those open orders reserve.
pub fn position(p: &models::Position) -> Result<Position, ParseError> {
    Ok(Position {
        symbol: symbol("position", &p.symbol, &p.symbol)?,
        qty: p.qty,
        avg_price: p.avg_entry_price,
        reserved: if p.qty > Decimal::ZERO {
            (p.qty - p.qty_available).max(Decimal::ZERO)
        } else {
            Decimal::ZERO
        },
    })
}

/// The account as systrade's; `paper` comes from the host it was read from. Anything but
/// an `ACTIVE` account that is not blocked may not trade.
pub fn account(a: &models::Account, paper: bool) -> Account {
    Account {
        id: a.id.clone(),
        currency: a.currency.clone(),
        cash: a.cash,
        equity: a.equity,
        paper,
        trading_blocked: a.trading_blocked || a.account_blocked || a.status != "ACTIVE",
    }
}

/// A `FILL` activity as systrade's fill of `client_order_id` (activities name the venue's
/// order id; the caller maps it). Alpaca charges equities no commission; crypto fees come as
/// separate `CFEE` activities.
pub fn fill(
    a: &models::FillActivity,
    client_order_id: ClientOrderId,
) -> Result<BrokerFill, ParseError> {
    let at = DateTime::parse_from_rfc3339(&a.transaction_time).map_err(|_| ParseError::Time {
        venue: VENUE,
        what: "fill",
        id: a.id.clone(),
        field: "transaction_time",
        value: a.transaction_time.clone(),
    })?;
    Ok(BrokerFill {
        fill_id: a.id.clone(),
        client_order_id,
        symbol: symbol("fill", &a.id, &a.symbol)?,
        side: side("fill", &a.id, &a.side)?,
        qty: a.qty,
        price: a.price,
        fee: Decimal::ZERO,
        date: at.date_naive(),
    })
}

/// A price on the venue's grid: at most 2 decimals at $1 and above, 4 below (finer is a
/// 422). Rounded so the order is never worse for the owner than asked: a sell stop up (it
/// protects no less), a buy stop down, a buy limit down (it pays no more), a sell limit up.
pub fn round_price(p: Decimal, side: Side) -> Decimal {
    systrade_broker::venue::us_equity_price(p, side)
}

/// `POST /v2/orders` for `req`. Crypto pairs trade `gtc` or `ioc` only: a day order there
/// is sent `gtc`.
pub fn new_order(req: &OrderRequest, crypto: bool) -> models::NewOrder {
    let (kind, stop, limit) = match req.order_type {
        OrderType::Market => ("market", None, None),
        OrderType::Limit { limit } => ("limit", None, Some(limit)),
        OrderType::Stop { stop } => ("stop", Some(stop), None),
        OrderType::StopLimit { stop, limit } => ("stop_limit", Some(stop), Some(limit)),
    };
    let tif = match (req.tif, crypto) {
        (TimeInForce::Day, true) => TimeInForce::Gtc,
        (t, _) => t,
    };
    let price = |p: Decimal| round_price(p, req.side).to_string();
    models::NewOrder {
        symbol: venue_symbol(&req.symbol, crypto),
        qty: req.qty.normalize().to_string(),
        side: match req.side {
            Side::Buy => "buy",
            Side::Sell => "sell",
        },
        order_type: kind,
        time_in_force: tif.as_str(),
        limit_price: limit.map(price),
        stop_price: stop.map(price),
        client_order_id: req.client_order_id.0.clone(),
    }
}

/// The meaning of `status` with `body` for a call about `order` (`broker-apis.md` §1.1).
/// Credentials are never echoed: a 401 names the variables.
pub fn refusal(status: u16, body: &str, order: Option<&ClientOrderId>) -> Refusal {
    let message = serde_json::from_str::<models::ApiError>(body)
        .map(|e| e.message)
        .unwrap_or_else(|_| format!("HTTP {status}"));
    let id = || about(order);
    match status {
        401 => Refusal::Error(BrokerError::Credentials(
            "alpaca refused the credentials (401): check APCA_API_KEY_ID and APCA_API_SECRET_KEY"
                .into(),
        )),
        403 => Refusal::Rejected(message),
        404 => Refusal::Error(BrokerError::NotFound(id())),
        422 if message.contains("client_order_id must be unique") => {
            Refusal::Error(BrokerError::Duplicate(id()))
        }
        400 | 422 => Refusal::Rejected(message),
        429 => Refusal::Error(BrokerError::RateLimited),
        s => Refusal::Error(BrokerError::Server { status: s, message }),
    }
}
