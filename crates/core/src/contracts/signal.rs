use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Symbol;

/// What kind of instrument a symbol is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetClass {
    Equity,
    Etf,
    Crypto,
    Index,
    Rate,
}

/// Direction of a signal, order or position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    /// `+1` for buys, `-1` for sells.
    pub fn sign(self) -> i8 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a signal wants to happen to the position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    Enter,
    Add,
    Hold,
    Reduce,
    Exit,
}

/// A strategy's opinion about one symbol at one decision time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub symbol: Symbol,
    pub asset_class: AssetClass,
    /// The decision time; the signal used only bars that closed strictly before it.
    pub ts: DateTime<Utc>,
    pub side: Side,
    pub intent: Intent,
    /// Strength in `[-1, 1]` (or a rank score, as the strategy documents).
    pub score: f64,
    /// Machine-readable tags explaining why (`trend_up`, `donchian_breakout`, …).
    pub rationale: Vec<String>,
}
