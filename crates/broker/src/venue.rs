//! What every real venue's adapter shares: how a refusal reads, how a pair symbol splits,
//! which way a price is rounded onto a venue's grid.

use rust_decimal::RoundingStrategy;
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};

use crate::BrokerError;

/// What in a venue's payload (or a request for it) systrade cannot take as it is. Nothing is
/// guessed: the error names the venue, the object, its id and the value.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParseError {
    #[error("{venue} {what} {id}: {field} {value:?} is not one systrade knows ({known})")]
    Unknown {
        venue: &'static str,
        what: &'static str,
        id: String,
        field: &'static str,
        value: String,
        known: &'static str,
    },
    #[error("{venue} {what} {id}: symbol {value:?}: {problem}")]
    Symbol {
        venue: &'static str,
        what: &'static str,
        id: String,
        value: String,
        problem: String,
    },
    #[error("{venue} {what} {id}: {field} {value:?} is not an RFC 3339 time")]
    Time {
        venue: &'static str,
        what: &'static str,
        id: String,
        field: &'static str,
        value: String,
    },
    /// An order or request systrade does not place at this venue, and why.
    #[error("{venue} order {id}: {why}")]
    Unsupported {
        venue: &'static str,
        id: String,
        why: &'static str,
    },
}

/// What an answer that is not a success means: a business refusal becomes a rejected order
/// with the venue's reason, as the [`crate::Broker`] trait has it; anything else is an error.
#[derive(Debug)]
pub enum Refusal {
    /// The venue refused the order (buying power, quantity, an invalid price…).
    Rejected(String),
    Error(BrokerError),
}

impl Refusal {
    /// The refusal as an error, for calls that place no order (a lookup, a cancel): a
    /// business refusal is then an invalid request with the venue's reason.
    pub fn into_error(self) -> BrokerError {
        match self {
            Refusal::Rejected(m) => BrokerError::Invalid(m),
            Refusal::Error(e) => e,
        }
    }
}

impl From<ParseError> for BrokerError {
    fn from(e: ParseError) -> BrokerError {
        BrokerError::Invalid(e.to_string())
    }
}

/// A venue's answer read as `T`; JSON that does not fit names the venue and what it was.
pub fn from_json<T: serde::de::DeserializeOwned>(
    venue: &str,
    what: &str,
    body: &str,
) -> Result<T, BrokerError> {
    serde_json::from_str(body).map_err(|e| {
        BrokerError::Invalid(format!(
            "{venue} answered {what} with JSON systrade cannot read: {e}"
        ))
    })
}

/// `req` for a venue without stop-market orders (Coinbase spot, Alpaca crypto): a `Stop`
/// becomes a stop-limit whose limit sits `offset` (a fraction) beyond the stop — below a
/// sell's, above a buy's. Other orders are as they are.
pub fn as_stop_limit(
    req: &crate::OrderRequest,
    offset: rust_decimal::Decimal,
) -> crate::OrderRequest {
    let mut r = req.clone();
    if let crate::OrderType::Stop { stop } = req.order_type {
        let one = rust_decimal::Decimal::ONE;
        let limit = match req.side {
            Side::Sell => stop * (one - offset),
            Side::Buy => stop * (one + offset),
        };
        r.order_type = crate::OrderType::StopLimit { stop, limit };
    }
    r
}

/// The units of `symbol` a sell may use once the working orders `freeing` are canceled: the
/// long quantity less what open orders reserve, plus what the freed sells hold (a preview of
/// a sell that first cancels the stop reserving its units).
pub fn free_to_sell<B: crate::Broker + ?Sized>(
    broker: &mut B,
    symbol: &systrade_core::Symbol,
    freeing: &[ClientOrderId],
) -> Result<rust_decimal::Decimal, BrokerError> {
    let held = broker
        .positions()?
        .into_iter()
        .find(|p| &p.symbol == symbol);
    let mut free = held.map_or(rust_decimal::Decimal::ZERO, |p| p.qty - p.reserved);
    for f in freeing {
        if let Some(o) = broker.order(f)?
            && &o.symbol == symbol
            && o.side == Side::Sell
            && o.status.is_open()
        {
            free += o.remaining();
        }
    }
    Ok(free)
}

/// A variable of the environment, trimmed; `None` when unset or blank.
pub fn env_value(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The order a call was about, for errors that name it (an empty id when none).
pub fn about(order: Option<&ClientOrderId>) -> ClientOrderId {
    order
        .cloned()
        .unwrap_or_else(|| ClientOrderId(String::new()))
}

/// `BTCUSD` as base and quote, the quote one of `quotes` (tried in order: put `USDT` before
/// `USD`); `None` when no quote fits or the symbol already has a separator.
pub fn split_pair<'s>(s: &'s Symbol, quotes: &[&'static str]) -> Option<(&'s str, &'static str)> {
    let t = s.as_str();
    if t.contains(['/', '-']) {
        return None;
    }
    quotes.iter().find_map(|q| {
        t.strip_suffix(q)
            .filter(|b| !b.is_empty())
            .map(|base| (base, *q))
    })
}

/// The rounding that never makes an order worse for its owner: a sell's prices up (a sell
/// stop protects no less, a sell limit receives no less), a buy's down.
pub fn owner_rounding(side: Side) -> RoundingStrategy {
    match side {
        Side::Sell => RoundingStrategy::ToPositiveInfinity,
        Side::Buy => RoundingStrategy::ToNegativeInfinity,
    }
}

/// A US stock or ETF price on the exchanges' grid ($0.01 from $1 up, $0.0001 below), rounded
/// the way that never makes the order worse for its owner ([`owner_rounding`]).
pub fn us_equity_price(p: rust_decimal::Decimal, side: Side) -> rust_decimal::Decimal {
    let dp = if p >= rust_decimal::Decimal::ONE {
        2
    } else {
        4
    };
    p.round_dp_with_strategy(dp, owner_rounding(side))
        .normalize()
}

/// A replace done as cancel + new, for venues that cannot replace an order in one step
/// (Coinbase stop-limits; Alpaca before the order reaches the exchange). `old` is canceled
/// and confirmed gone, then `new` is placed. If `new` is refused, the old terms go back
/// under a derived id (`<old>-rb`), so a protective stop is never simply lost; the refusal
/// is returned. An old order that filled before the cancel leaves nothing to replace.
pub fn cancel_then_new<B: crate::Broker + ?Sized>(
    broker: &mut B,
    old: &crate::BrokerOrder,
    new: &crate::OrderRequest,
) -> Result<crate::BrokerOrder, BrokerError> {
    use crate::{OrderRequest, OrderStatus};
    let gone = match broker.cancel(&old.client_order_id) {
        Ok(o) => o,
        // It ended on its own meanwhile (filled, expired): read how.
        Err(BrokerError::Invalid(_)) => broker
            .order(&old.client_order_id)?
            .ok_or_else(|| BrokerError::NotFound(old.client_order_id.clone()))?,
        Err(e) => return Err(e),
    };
    if gone.status.is_open() {
        return Err(BrokerError::Invalid(format!(
            "replace {}: the venue did not cancel it (still {})",
            old.client_order_id, gone.status
        )));
    }
    if gone.status == OrderStatus::Filled {
        return Ok(refused(
            new,
            format!(
                "{} filled before it could be replaced",
                gone.client_order_id
            ),
        ));
    }
    let placed = broker.submit(new)?;
    if placed.status != OrderStatus::Rejected {
        return Ok(placed);
    }
    let back = OrderRequest {
        client_order_id: ClientOrderId(format!("{}-rb", old.client_order_id.0)),
        symbol: old.symbol.clone(),
        side: old.side,
        qty: gone.remaining(),
        order_type: old.order_type,
        tif: old.tif,
        session: new.session,
    };
    if broker.order(&back.client_order_id)?.is_none() {
        broker.submit(&back)?;
    }
    Ok(placed)
}

/// The order a business refusal leaves: rejected, with the venue's reason.
pub fn refused(req: &crate::OrderRequest, why: String) -> crate::BrokerOrder {
    crate::BrokerOrder {
        client_order_id: req.client_order_id.clone(),
        broker_id: String::new(),
        symbol: req.symbol.clone(),
        side: req.side,
        qty: req.qty,
        order_type: req.order_type,
        tif: req.tif,
        session: req.session,
        status: crate::OrderStatus::Rejected,
        filled_qty: rust_decimal::Decimal::ZERO,
        avg_price: None,
        reason: Some(why),
    }
}
