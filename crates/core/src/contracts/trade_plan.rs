use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Side;
use crate::{Price, Quantity, Symbol};

/// How an entry is to be executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "price", rename_all = "snake_case")]
pub enum Entry {
    /// Market order at the next tradable price.
    Market,
    /// Market-on-open.
    Moo,
    /// Limit order at the price.
    Limit(Price),
}

/// A protective stop attached to a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopSpec {
    /// Stop trigger price.
    pub price: Price,
    /// How the stop was derived (`chandelier`, `swing_low`, `avwap_atr`, …).
    pub method: String,
    /// True when the stop may only move in the position's favour.
    pub ratchet: bool,
}

/// A fully specified trade: what to do, how much, and how it is protected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradePlan {
    pub symbol: Symbol,
    pub side: Side,
    pub entry: Entry,
    pub qty: Quantity,
    pub stop: Option<StopSpec>,
    /// Exit rule in words/tags (`close_below_avwap_2d`, `trend_flip`, …).
    pub exit: Option<String>,
    /// Last date the position may be held.
    pub time_stop: Option<NaiveDate>,
}
