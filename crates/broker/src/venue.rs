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
