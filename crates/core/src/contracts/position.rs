use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Fill;
use crate::{Money, Symbol};

/// Who manages a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionSource {
    System,
    Paper,
    Manual,
}

/// A position's life in the ledger, from its first fill to its last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionRecord {
    pub source: PositionSource,
    pub symbol: Symbol,
    pub opened: NaiveDate,
    pub closed: Option<NaiveDate>,
    pub fills: Vec<Fill>,
    /// Realised plus unrealised PnL net of fees.
    pub pnl: Money,
    /// PnL in units of initial risk (entry − initial stop); `None` without a stop.
    pub r_multiple: Option<f64>,
    pub tags: Vec<String>,
    pub notes: String,
}
