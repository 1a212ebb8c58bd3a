//! Desired trades and their gates (spec/trend-following.md §5): every ticker gets exactly one
//! reason.

use serde::{Deserialize, Serialize};

/// Gate parameters with the spec's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateParams {
    pub min_trade_notional: f64,
    pub trade_threshold: f64,
    pub fee_taker: f64,
    pub fee_maker: f64,
    pub passive_rate: f64,
    pub max_cost_frac: f64,
    pub cooldown_days: u32,
}

impl Default for GateParams {
    fn default() -> Self {
        GateParams {
            min_trade_notional: 10.0,
            trade_threshold: 0.02,
            fee_taker: 0.006,
            fee_maker: 0.004,
            passive_rate: 0.0,
            max_cost_frac: 0.5,
            cooldown_days: 7,
        }
    }
}

impl GateParams {
    /// Checks every key; the error names it.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("min_trade_notional", self.min_trade_notional),
            ("trade_threshold", self.trade_threshold),
            ("fee_taker", self.fee_taker),
            ("fee_maker", self.fee_maker),
            ("max_cost_frac", self.max_cost_frac),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name}: must be a non-negative number (got {v})"));
            }
        }
        if !(0.0..=1.0).contains(&self.passive_rate) {
            return Err(format!(
                "passive_rate: must be within [0, 1] (got {})",
                self.passive_rate
            ));
        }
        Ok(())
    }
}

/// Why a ticker trades or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TradeReason {
    Trade,
    BelowThreshold,
    CostGate,
    Cooldown,
    StopGate,
    NoData,
    Flat,
}

impl TradeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            TradeReason::Trade => "trade",
            TradeReason::BelowThreshold => "below_threshold",
            TradeReason::CostGate => "cost_gate",
            TradeReason::Cooldown => "cooldown",
            TradeReason::StopGate => "stop_gate",
            TradeReason::NoData => "no_data",
            TradeReason::Flat => "flat",
        }
    }
}

/// What the gates look at for one ticker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DesiredInput {
    pub target_notional: f64,
    pub current_notional: f64,
    pub equity: f64,
    /// The final signal (edge scale).
    pub final_signal: f64,
    /// Annualised volatility σ (edge = final·σ/16·|delta|).
    pub sigma: f64,
    /// Days of cooldown left after a stop-out.
    pub cooldown_left: u32,
    /// The stop a new or added position would get.
    pub would_be_stop: Option<f64>,
    pub last_close: f64,
    pub data_ok: bool,
}

/// The reason and the notional to trade (0 unless the reason is `trade`). Precedence where
/// several apply: the hard blocks first (no data, cooldown, stop gate), then the economic
/// filters (threshold, cost); reductions are never blocked by cooldown or the stop gate, and
/// a full exit (target 0) always trades.
pub fn desired_trade(x: &DesiredInput, p: &GateParams) -> (TradeReason, f64) {
    let delta = x.target_notional - x.current_notional;
    if x.target_notional == 0.0 && x.current_notional == 0.0 {
        return (TradeReason::Flat, 0.0);
    }
    if x.target_notional == 0.0 {
        return (TradeReason::Trade, delta);
    }
    let adds_risk = x.target_notional.abs() > x.current_notional.abs()
        || x.target_notional.signum() != x.current_notional.signum();
    if adds_risk {
        if !x.data_ok {
            return (TradeReason::NoData, 0.0);
        }
        if x.cooldown_left > 0 {
            return (TradeReason::Cooldown, 0.0);
        }
        // No stop to protect the new risk is as bad as a stop above the price.
        if x.would_be_stop.is_none_or(|s| s >= x.last_close) {
            return (TradeReason::StopGate, 0.0);
        }
    }
    if delta.abs() < p.min_trade_notional.max(p.trade_threshold * x.equity) {
        return (TradeReason::BelowThreshold, 0.0);
    }
    if adds_risk {
        let cost =
            delta.abs() * (p.fee_taker * (1.0 - p.passive_rate) + p.fee_maker * p.passive_rate);
        let edge = x.final_signal * x.sigma / 16.0 * delta.abs();
        if cost > p.max_cost_frac * edge {
            return (TradeReason::CostGate, 0.0);
        }
    }
    (TradeReason::Trade, delta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> DesiredInput {
        DesiredInput {
            target_notional: 5_000.0,
            current_notional: 0.0,
            equity: 100_000.0,
            final_signal: 0.8,
            sigma: 0.6,
            cooldown_left: 0,
            would_be_stop: Some(90.0),
            last_close: 100.0,
            data_ok: true,
        }
    }

    #[test]
    fn test_each_reason() {
        let p = GateParams::default();
        assert_eq!(desired_trade(&base(), &p), (TradeReason::Trade, 5_000.0));
        // 2 % of 100k = 2,000: a 1,500 change is below the threshold.
        assert_eq!(
            desired_trade(
                &DesiredInput {
                    target_notional: 1_500.0,
                    ..base()
                },
                &p
            )
            .0,
            TradeReason::BelowThreshold
        );
        // Edge 0.05·0.6/16·Δ = 0.001875·Δ; cost 0.006·Δ > 0.5·edge: blocked.
        assert_eq!(
            desired_trade(
                &DesiredInput {
                    final_signal: 0.05,
                    ..base()
                },
                &p
            )
            .0,
            TradeReason::CostGate
        );
        assert_eq!(
            desired_trade(
                &DesiredInput {
                    cooldown_left: 3,
                    ..base()
                },
                &p
            )
            .0,
            TradeReason::Cooldown
        );
        assert_eq!(
            desired_trade(
                &DesiredInput {
                    would_be_stop: Some(100.0),
                    ..base()
                },
                &p
            )
            .0,
            TradeReason::StopGate
        );
        assert_eq!(
            desired_trade(
                &DesiredInput {
                    data_ok: false,
                    ..base()
                },
                &p
            )
            .0,
            TradeReason::NoData
        );
        assert_eq!(
            desired_trade(
                &DesiredInput {
                    target_notional: 0.0,
                    ..base()
                },
                &p
            )
            .0,
            TradeReason::Flat
        );
    }

    #[test]
    fn test_exits_and_reductions_are_never_blocked_by_safety_gates() {
        let p = GateParams::default();
        let held = DesiredInput {
            current_notional: 8_000.0,
            cooldown_left: 5,
            data_ok: false,
            would_be_stop: Some(500.0),
            ..base()
        };
        // A full exit trades even with tiny size, cooldown, no data and a stop above the price.
        let exit = DesiredInput {
            target_notional: 0.0,
            current_notional: 50.0,
            ..held
        };
        assert_eq!(desired_trade(&exit, &p), (TradeReason::Trade, -50.0));
        // A reduction passes the safety gates and is judged by the threshold only.
        assert_eq!(
            desired_trade(
                &DesiredInput {
                    target_notional: 5_000.0,
                    ..held
                },
                &p
            ),
            (TradeReason::Trade, -3_000.0)
        );
        assert_eq!(
            desired_trade(
                &DesiredInput {
                    target_notional: 7_000.0,
                    ..held
                },
                &p
            )
            .0,
            TradeReason::BelowThreshold
        );
    }

    #[test]
    fn test_validation_names_the_key() {
        assert!(
            GateParams {
                passive_rate: 2.0,
                ..GateParams::default()
            }
            .validate()
            .unwrap_err()
            .starts_with("passive_rate")
        );
        assert!(
            GateParams {
                fee_taker: -0.1,
                ..GateParams::default()
            }
            .validate()
            .unwrap_err()
            .starts_with("fee_taker")
        );
    }
}
