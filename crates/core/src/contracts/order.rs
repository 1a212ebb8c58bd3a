use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Side;
use crate::{CoreError, Price, Quantity, Symbol};

/// The idempotency key of an order: a stable hash of (strategy, decision date, symbol, side,
/// purpose). A crashed and re-run day recomputes the same id, so the broker refuses a
/// duplicate instead of filling twice.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientOrderId(pub String);

impl ClientOrderId {
    /// Derives the id from the fields that make an order the same order.
    pub fn derive(
        strategy: &str,
        decision_date: NaiveDate,
        symbol: &Symbol,
        side: Side,
        purpose: &str,
    ) -> Result<Self, CoreError> {
        let fields = serde_json::json!({
            "strategy": strategy,
            "date": decision_date,
            "symbol": symbol,
            "side": side,
            "purpose": purpose,
        });
        crate::id::stable_id("st", &fields).map(ClientOrderId)
    }

    /// The id of a book's order at a broker: [`ClientOrderId::derive`]'s, carrying the book's
    /// prefix ([`ClientOrderId::book_prefix`]) so that an order the ledger never recorded (a
    /// run killed between the broker's answer and the ledger's write) is recognised as the
    /// book's own and adopted.
    pub fn for_book(
        book: &str,
        decision_date: NaiveDate,
        symbol: &Symbol,
        side: Side,
        purpose: &str,
    ) -> Result<Self, CoreError> {
        let base = Self::derive(book, decision_date, symbol, side, purpose)?;
        let hash = base.0.trim_start_matches("st-");
        Ok(ClientOrderId(format!("{}{hash}", Self::book_prefix(book))))
    }

    /// `st-` and 8 hex digits of the book's name, then `-`: what every order id of the book
    /// starts with (44 characters in all; venues allow 48 and more).
    pub fn book_prefix(book: &str) -> String {
        let hex = crate::id::sha256_hex(book.as_bytes());
        format!("st-{}-", &hex[..8])
    }

    /// True when this id was made by [`ClientOrderId::for_book`] for `book`.
    pub fn belongs_to(&self, book: &str) -> bool {
        self.0.starts_with(&Self::book_prefix(book))
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Order type with its prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderKind {
    Market,
    Limit { limit: Price },
    Stop { stop: Price },
    StopLimit { stop: Price, limit: Price },
}

/// Time in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeInForce {
    Day,
    Gtc,
    Opg,
    Ioc,
}

/// An instruction to a broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub client_order_id: ClientOrderId,
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Quantity,
    pub kind: OrderKind,
    pub tif: TimeInForce,
    /// Why the order exists (`entry`, `rebalance`, `exit`, `protective_stop`, …).
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_client_order_id_is_stable_and_sensitive() {
        let d = NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
        let s = Symbol::new("AAPL").unwrap();
        let own = ClientOrderId::for_book("trend", d, &s, Side::Buy, "entry").unwrap();
        assert!(own.belongs_to("trend") && !own.belongs_to("trend2"));
        assert_eq!(own.0.len(), 44);
        assert_eq!(
            own,
            ClientOrderId::for_book("trend", d, &s, Side::Buy, "entry").unwrap()
        );
        let a = ClientOrderId::derive("trend", d, &s, Side::Buy, "entry").unwrap();
        assert!(!a.belongs_to("trend"));
        let b = ClientOrderId::derive("trend", d, &s, Side::Buy, "entry").unwrap();
        let c = ClientOrderId::derive("trend", d, &s, Side::Sell, "entry").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(
            a.0.starts_with("st-") && a.0.len() <= 48,
            "fits broker id limits: {a}"
        );
    }
}
