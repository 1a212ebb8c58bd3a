//! Fill prices and costs of the simulated broker.

use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde::{Deserialize, Serialize};
use systrade_core::DailyBar;

/// When an order decided after a bar's close executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillAt {
    /// The next bar's open (default).
    NextOpen,
    /// The deciding bar's own close.
    SameClose,
    /// The next bar's VWAP. Daily bars carry no intraday prints, so the bar's typical price
    /// `(high + low + close)/3` stands in for it.
    NextVwap,
}

/// Trading costs. Fees are paid in cash on every fill; slippage moves the fill price against
/// the order by half the spread.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CostModel {
    /// Fee in basis points of traded notional.
    pub fee_bps: f64,
    /// Fee per unit traded.
    pub per_share: f64,
    /// Minimum fee per fill (applied when a fee is charged at all).
    pub min_fee: f64,
    /// Half-spread slippage in basis points of the price.
    pub slippage_bps: f64,
    /// Market impact coefficient k: the price moves a further `k·σ_daily·sqrt(qty/ADV)`
    /// against the order (σ and ADV over the 20 bars before the fill).
    pub impact_k: f64,
    /// Borrow cost of shorts, basis points a year of the short market value.
    pub borrow_bps: f64,
}

/// The price a protective stop at `level` executes at in `bar` when it triggers: the level,
/// or the open when the bar gapped through it. A long's (`long`) stop triggers when the low
/// reaches it, a short's when the high does.
pub fn stop_trigger(level: f64, long: bool, bar: &DailyBar) -> Option<f64> {
    if long && bar.low <= level {
        Some(bar.open.min(level))
    } else if !long && bar.high >= level {
        Some(bar.open.max(level))
    } else {
        None
    }
}

/// A decimal from an analytics float: the shortest decimal that reads back to it (the price
/// as a vendor wrote it).
pub fn dec(x: f64) -> Decimal {
    // The exact fast path builds the decimal directly; printing is the fallback.
    if let Some(e) = systrade_strategy::exact::exact(x)
        && let Ok(units) = i64::try_from(e.units)
    {
        return Decimal::new(units, e.scale);
    }
    format!("{x}")
        .parse::<Decimal>()
        .ok()
        .or_else(|| Decimal::from_f64(x))
        .unwrap_or(Decimal::ZERO)
}

pub fn f(x: Decimal) -> f64 {
    x.to_f64().unwrap_or(0.0)
}

impl CostModel {
    pub fn fee_rate(&self) -> Decimal {
        dec(self.fee_bps) / Decimal::from(10_000)
    }

    /// Fee of a fill of `qty` units at `price`.
    pub fn fee(&self, qty: Decimal, price: Decimal) -> Decimal {
        let raw = qty.abs() * price * self.fee_rate() + qty.abs() * dec(self.per_share);
        if raw > Decimal::ZERO {
            raw.max(dec(self.min_fee))
        } else {
            raw
        }
    }

    /// The fill price after half-spread slippage and `impact` (a fraction of the price) for a
    /// buy (`side > 0`) or a sell.
    pub fn slipped(&self, price: Decimal, side: i8, impact: f64) -> Decimal {
        let s = dec(self.slippage_bps) / Decimal::from(10_000) + dec(impact);
        if side > 0 {
            price * (Decimal::ONE + s)
        } else {
            price * (Decimal::ONE - s)
        }
    }

    /// Impact as a fraction of the price: `k·σ_daily·sqrt(qty/ADV)` (0 without history).
    pub fn impact(&self, qty: f64, sigma_daily: f64, adv: f64) -> f64 {
        if self.impact_k <= 0.0 || adv <= 0.0 || !sigma_daily.is_finite() {
            return 0.0;
        }
        self.impact_k * sigma_daily * (qty.abs() / adv).sqrt()
    }

    /// The fill price of an order at reference `price` (the open, or a stop's trigger) in
    /// `bar`: slippage and impact against the order (`side > 0` buys), but never outside
    /// what traded in the bar. The simulated and the paper broker both fill through this.
    pub fn fill_price(&self, price: Decimal, side: i8, impact: f64, bar: &DailyBar) -> Decimal {
        self.slipped(price, side, impact)
            .clamp(dec(bar.low).min(price), dec(bar.high).max(price))
    }

    /// The part of a buy of `qty` units at `fill_price` that `cash` pays for, fees included:
    /// a buy never spends more than there is.
    pub fn affordable(&self, qty: Decimal, fill_price: Decimal, cash: Decimal) -> Decimal {
        let unit = fill_price * (Decimal::ONE + self.fee_rate()) + dec(self.per_share);
        if unit.is_zero() {
            return qty;
        }
        let mut q = qty.min(cash.max(Decimal::ZERO) / unit);
        if self.min_fee > 0.0 && q * unit + dec(self.min_fee) > cash {
            q = ((cash - dec(self.min_fee)) / unit).max(Decimal::ZERO);
        }
        q
    }

    /// Validates the model (no negative costs).
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("fee_bps", self.fee_bps),
            ("per_share", self.per_share),
            ("min_fee", self.min_fee),
            ("slippage_bps", self.slippage_bps),
            ("impact_k", self.impact_k),
            ("borrow_bps", self.borrow_bps),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} must be a non-negative number, got {v}"));
            }
        }
        Ok(())
    }
}
