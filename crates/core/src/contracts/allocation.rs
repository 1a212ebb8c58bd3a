use serde::{Deserialize, Serialize};

use crate::Symbol;

/// The portfolio's target for one symbol after sizing and constraints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Allocation {
    pub symbol: Symbol,
    /// Fraction of equity (negative for shorts).
    pub target_weight: f64,
    /// `target_weight × equity` in the account currency.
    pub target_notional: f64,
    /// Share of the risk budget this position uses.
    pub risk_budget_used: f64,
    /// Constraints that changed the raw target (`name_cap`, `max_gross`, `sector_cap`, …).
    pub constraints_applied: Vec<String>,
    /// Liquidity warnings (`thin_volume`, `wide_range`, …).
    pub liquidity_flags: Vec<String>,
}
