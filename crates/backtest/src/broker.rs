//! Fill prices and costs of the simulated broker.

use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde::{Deserialize, Serialize};

/// When an order decided after a bar's close executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillAt {
    /// The next bar's open (default).
    NextOpen,
    /// The deciding bar's own close.
    SameClose,
}

/// Trading costs. Fees are paid in cash on every fill; slippage moves the fill price against
/// the order by half the spread.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CostModel {
    /// Fee in basis points of traded notional.
    pub fee_bps: f64,
    /// Fee per unit traded.
    pub per_share: f64,
    /// Minimum fee per fill (applied when a fee is charged at all).
    pub min_fee: f64,
    /// Half-spread slippage in basis points of the price.
    pub slippage_bps: f64,
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            fee_bps: 0.0,
            per_share: 0.0,
            min_fee: 0.0,
            slippage_bps: 0.0,
        }
    }
}

/// A decimal from an analytics float: the shortest decimal that reads back to it (the price
/// as a vendor wrote it).
pub(crate) fn dec(x: f64) -> Decimal {
    format!("{x}")
        .parse::<Decimal>()
        .ok()
        .or_else(|| Decimal::from_f64(x))
        .unwrap_or(Decimal::ZERO)
}

pub(crate) fn f(x: Decimal) -> f64 {
    x.to_f64().unwrap_or(0.0)
}

impl CostModel {
    pub(crate) fn fee_rate(&self) -> Decimal {
        dec(self.fee_bps) / Decimal::from(10_000)
    }

    /// Fee of a fill of `qty` units at `price`.
    pub(crate) fn fee(&self, qty: Decimal, price: Decimal) -> Decimal {
        let raw = qty.abs() * price * self.fee_rate() + qty.abs() * dec(self.per_share);
        if raw > Decimal::ZERO {
            raw.max(dec(self.min_fee))
        } else {
            raw
        }
    }

    /// The fill price after slippage for a buy (`side > 0`) or a sell.
    pub(crate) fn slipped(&self, price: Decimal, side: i8) -> Decimal {
        let s = dec(self.slippage_bps) / Decimal::from(10_000);
        if side > 0 {
            price * (Decimal::ONE + s)
        } else {
            price * (Decimal::ONE - s)
        }
    }

    /// Validates the model (no negative costs).
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("fee_bps", self.fee_bps),
            ("per_share", self.per_share),
            ("min_fee", self.min_fee),
            ("slippage_bps", self.slippage_bps),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} must be a non-negative number, got {v}"));
            }
        }
        Ok(())
    }
}
