//! The venue's JSON → systrade's broker types, and systrade's requests → the venue's JSON.
//! Nothing is guessed: a status, configuration, side or time in force systrade does not
//! know is an error naming the order and the value.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};
use systrade_broker::venue::{ParseError, Refusal, about, owner_rounding, split_pair};
use systrade_broker::{
    BrokerError, BrokerFill, BrokerOrder, OrderRequest, OrderStatus, OrderType, TimeInForce,
};
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};

use crate::models;

const VENUE: &str = "coinbase";

/// The quote currencies of the products systrade trades (`BTC-USD`, `ETH-USDC`, …).
const QUOTES: [&str; 6] = ["USDT", "USDC", "USD", "EUR", "GBP", "BTC"];

/// systrade's symbol of a product: `BTC-USD` is `BTCUSD`.
pub fn symbol(what: &'static str, id: &str, product: &str) -> Result<Symbol, ParseError> {
    Symbol::new(product.replace('-', "")).map_err(|e| ParseError::Symbol {
        venue: VENUE,
        what,
        id: id.to_string(),
        value: product.to_string(),
        problem: e.to_string(),
    })
}

/// The product id of a symbol: `BTCUSD` → `BTC-USD` (a symbol with its dash stays).
pub fn product_id(s: &Symbol) -> String {
    match split_pair(s, &QUOTES) {
        Some((base, quote)) => format!("{base}-{quote}"),
        None => s.as_str().to_string(),
    }
}

fn side(what: &'static str, id: &str, s: &str) -> Result<Side, ParseError> {
    match s {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        other => Err(ParseError::Unknown {
            venue: VENUE,
            what,
            id: id.to_string(),
            field: "side",
            value: other.to_string(),
            known: "BUY, SELL",
        }),
    }
}

/// The order's status as systrade's. Coinbase has no partly-filled status: a working order
/// with a filled size is partly filled here.
pub fn status(o: &models::Order) -> Result<OrderStatus, ParseError> {
    Ok(match o.status.as_str() {
        "PENDING" | "QUEUED" | "OPEN" | "CANCEL_QUEUED" | "EDIT_QUEUED" => {
            if o.filled_size > Decimal::ZERO {
                OrderStatus::PartiallyFilled
            } else {
                OrderStatus::Accepted
            }
        }
        "FILLED" => OrderStatus::Filled,
        "CANCELLED" => OrderStatus::Canceled,
        "EXPIRED" => OrderStatus::Expired,
        "FAILED" => OrderStatus::Rejected,
        other => {
            return Err(ParseError::Unknown {
                venue: VENUE,
                what: "order",
                id: o.order_id.clone(),
                field: "status",
                value: other.to_string(),
                known: "PENDING, QUEUED, OPEN, CANCEL_QUEUED, EDIT_QUEUED, FILLED, CANCELLED, EXPIRED, FAILED",
            });
        }
    })
}

/// The order's type, time in force and base size from its one `order_configuration` entry.
fn configuration(o: &models::Order) -> Result<(OrderType, TimeInForce, Decimal), ParseError> {
    let unknown = |value: String| ParseError::Unknown {
        venue: VENUE,
        what: "order",
        id: o.order_id.clone(),
        field: "order_configuration",
        value,
        known: "market_market_ioc, limit_limit_gtc, sor_limit_ioc, stop_limit_stop_limit_gtc, sized in base units (a finished market order also in quote)",
    };
    let [(key, c)] = o.order_configuration.iter().collect::<Vec<_>>()[..] else {
        return Err(unknown(format!("{} entries", o.order_configuration.len())));
    };
    // A market order sized in quote currency (systrade never sends one): once it is done,
    // its base quantity is what filled; while it works, it is not known.
    let done = matches!(
        o.status.as_str(),
        "FILLED" | "CANCELLED" | "EXPIRED" | "FAILED"
    );
    let base = match (c.base_size, c.quote_size) {
        (Some(b), _) => b,
        (None, Some(_)) if key == "market_market_ioc" && done => o.filled_size,
        _ => return Err(unknown(format!("{key} without base_size"))),
    };
    let need =
        |p: Option<Decimal>, what: &str| p.ok_or_else(|| unknown(format!("{key} without {what}")));
    Ok(match key.as_str() {
        "market_market_ioc" => (OrderType::Market, TimeInForce::Ioc, base),
        "limit_limit_gtc" => (
            OrderType::Limit {
                limit: need(c.limit_price, "limit_price")?,
            },
            TimeInForce::Gtc,
            base,
        ),
        "sor_limit_ioc" => (
            OrderType::Limit {
                limit: need(c.limit_price, "limit_price")?,
            },
            TimeInForce::Ioc,
            base,
        ),
        "stop_limit_stop_limit_gtc" => (
            OrderType::StopLimit {
                stop: need(c.stop_price, "stop_price")?,
                limit: need(c.limit_price, "limit_price")?,
            },
            TimeInForce::Gtc,
            base,
        ),
        other => return Err(unknown(other.to_string())),
    })
}

/// The venue's order as systrade's, for `session` (the venue does not know sessions; the
/// caller knows the one it trades in).
pub fn order(o: &models::Order, session: NaiveDate) -> Result<BrokerOrder, ParseError> {
    let (order_type, tif, qty) = configuration(o)?;
    let filled = o.filled_size;
    Ok(BrokerOrder {
        client_order_id: ClientOrderId(o.client_order_id.clone()),
        broker_id: o.order_id.clone(),
        symbol: symbol("order", &o.order_id, &o.product_id)?,
        side: side("order", &o.order_id, &o.side)?,
        qty,
        order_type,
        tif,
        session,
        status: status(o)?,
        filled_qty: filled,
        avg_price: (filled > Decimal::ZERO).then_some(o.average_filled_price),
        reason: o
            .reject_message
            .clone()
            .filter(|m| !m.is_empty() && o.status == "FAILED"),
    })
}

/// A fill as systrade's fill of `client_order_id` (fills name the venue's order id; the
/// caller maps it), its commission as the fee, sized in base units.
pub fn fill(f: &models::Fill, client_order_id: ClientOrderId) -> Result<BrokerFill, ParseError> {
    if f.size_in_quote {
        return Err(ParseError::Unknown {
            venue: VENUE,
            what: "fill",
            id: f.trade_id.clone(),
            field: "size_in_quote",
            value: "true".into(),
            known: "fills sized in base units",
        });
    }
    let at = DateTime::parse_from_rfc3339(&f.trade_time).map_err(|_| ParseError::Time {
        venue: VENUE,
        what: "fill",
        id: f.trade_id.clone(),
        field: "trade_time",
        value: f.trade_time.clone(),
    })?;
    Ok(BrokerFill {
        fill_id: f.trade_id.clone(),
        client_order_id,
        symbol: symbol("fill", &f.trade_id, &f.product_id)?,
        side: side("fill", &f.trade_id, &f.side)?,
        qty: f.size,
        price: f.price,
        fee: f.commission,
        date: at.date_naive(),
    })
}

/// `x` on a product's increment (`base_increment` for sizes, `quote_increment` for prices),
/// toward zero for sizes (never more than asked) and as `way` says for prices.
pub fn on_increment(x: Decimal, increment: Decimal, way: RoundingStrategy) -> Decimal {
    if increment <= Decimal::ZERO {
        return x;
    }
    ((x / increment).round_dp_with_strategy(0, way) * increment).normalize()
}

/// A product's increments: sizes and prices must be multiples of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Increments {
    pub base: Decimal,
    pub quote: Decimal,
}

/// `POST /orders` for `req` on a product with `inc`. Sizes are base units rounded down to
/// the increment; prices are rounded never worse for the owner (sell up, buy down). Spot has
/// no stop-market: a `Stop` request is refused (protection is a stop-limit).
pub fn create_order(
    req: &OrderRequest,
    inc: Increments,
) -> Result<models::CreateOrder, ParseError> {
    let base_size = Some(on_increment(req.qty, inc.base, RoundingStrategy::ToZero));
    let way = owner_rounding(req.side);
    let price = |p: Decimal| Some(on_increment(p, inc.quote, way));
    let (key, config) = match (req.order_type, req.tif) {
        (OrderType::Market, _) => (
            "market_market_ioc",
            models::OrderConfig {
                base_size,
                ..Default::default()
            },
        ),
        (OrderType::Limit { limit }, TimeInForce::Ioc) => (
            "sor_limit_ioc",
            models::OrderConfig {
                base_size,
                limit_price: price(limit),
                ..Default::default()
            },
        ),
        (OrderType::Limit { limit }, _) => (
            "limit_limit_gtc",
            models::OrderConfig {
                base_size,
                limit_price: price(limit),
                post_only: Some(false),
                ..Default::default()
            },
        ),
        (OrderType::StopLimit { stop, limit }, _) => (
            "stop_limit_stop_limit_gtc",
            models::OrderConfig {
                base_size,
                limit_price: price(limit),
                stop_price: price(stop),
                stop_direction: Some(
                    match req.side {
                        Side::Sell => "STOP_DIRECTION_STOP_DOWN",
                        Side::Buy => "STOP_DIRECTION_STOP_UP",
                    }
                    .into(),
                ),
                ..Default::default()
            },
        ),
        (OrderType::Stop { .. }, _) => {
            return Err(ParseError::Unsupported {
                venue: VENUE,
                id: req.client_order_id.0.clone(),
                why: "spot has no stop-market order; protect with a stop-limit (the limit a configured offset below the stop)",
            });
        }
    };
    Ok(models::CreateOrder {
        client_order_id: req.client_order_id.0.clone(),
        product_id: product_id(&req.symbol),
        side: match req.side {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        },
        order_configuration: BTreeMap::from([(key, config)]),
    })
}

/// The meaning of an HTTP `status` with `body` for a call about `order` (`broker-apis.md`
/// §2.1). Credentials are never echoed: a 401 names the variables.
pub fn refusal(status: u16, body: &str, order: Option<&ClientOrderId>) -> Refusal {
    let e = serde_json::from_str::<models::ErrorBody>(body).ok();
    let message = e
        .as_ref()
        .map(|e| {
            if e.message.is_empty() {
                e.error.clone()
            } else {
                e.message.clone()
            }
        })
        .unwrap_or_else(|| format!("HTTP {status}"));
    let id = || about(order);
    match status {
        401 => Refusal::Error(BrokerError::Credentials(
            "coinbase refused the credentials (401): check COINBASE_API_KEY and COINBASE_API_SECRET"
                .into(),
        )),
        403 => Refusal::Error(BrokerError::Invalid(format!(
            "coinbase: permission denied ({message}): the key needs the trade and view scopes"
        ))),
        404 => Refusal::Error(BrokerError::NotFound(id())),
        400 => Refusal::Rejected(message),
        429 => Refusal::Error(BrokerError::RateLimited),
        s => Refusal::Error(BrokerError::Server { status: s, message }),
    }
}

/// The venue's order id of a create, or the refusal it answered with (HTTP 200 and
/// `"success": false`).
pub fn created(r: &models::CreateResponse) -> Result<String, Refusal> {
    match (&r.success_response, &r.error_response) {
        (Some(ok), _) if r.success => Ok(ok.order_id.clone()),
        (_, Some(f)) => Err(Refusal::Rejected(
            [
                f.new_order_failure_reason.as_deref(),
                Some(f.message.as_str()),
            ]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(": "),
        )),
        _ => Err(Refusal::Rejected(
            r.failure_reason
                .clone()
                .unwrap_or_else(|| "refused without a reason".into()),
        )),
    }
}
