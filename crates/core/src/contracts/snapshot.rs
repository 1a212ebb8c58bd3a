use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Money, Price, Quantity, Symbol};

/// One holding inside a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionLine {
    pub symbol: Symbol,
    pub qty: Quantity,
    pub avg_price: Price,
    pub mark: Price,
    pub market_value: Money,
    pub stop: Option<Price>,
}

/// The state of the whole portfolio at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortfolioSnapshot {
    pub ts: DateTime<Utc>,
    pub capital: Money,
    pub cash: Money,
    pub gross: Money,
    pub net: Money,
    /// Sorted by symbol.
    pub positions: Vec<PositionLine>,
    pub realized_pnl: Money,
    pub unrealized_pnl: Money,
    /// Current drawdown from the equity peak, as a non-positive fraction.
    pub drawdown: f64,
}
