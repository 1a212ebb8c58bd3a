use serde::{Deserialize, Serialize};

use crate::Symbol;

/// The gate's verdict on a new entry or add. Exits and protective stops are never blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Allow,
    Block,
}

/// Stable reason codes for gate decisions (spec/daily-run.md §3). The code is for tests and
/// logs; people read [`ReasonCode::describe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    KillSwitch,
    LiveNotConfirmed,
    BeforeEnableDate,
    NotAllowlisted,
    RiskPerTrade,
    GrossExposure,
    MaxPositions,
    MaxNewEntries,
    Concentration,
    SectorLimit,
    DailyLossLimit,
    DrawdownThrottle,
    OrderSize,
    NoData,
    DecisionMissing,
    /// The symbol's last reconciliation found the broker and the ledger disagreeing, and no
    /// one has acknowledged it yet.
    ReconcileMismatch,
    /// The book's last cash check found the broker's cash and the ledger's disagreeing, and no
    /// one has acknowledged it yet.
    CashMismatch,
}

impl ReasonCode {
    /// Every code, in order.
    pub const ALL: [ReasonCode; 17] = [
        ReasonCode::KillSwitch,
        ReasonCode::LiveNotConfirmed,
        ReasonCode::BeforeEnableDate,
        ReasonCode::NotAllowlisted,
        ReasonCode::RiskPerTrade,
        ReasonCode::GrossExposure,
        ReasonCode::MaxPositions,
        ReasonCode::MaxNewEntries,
        ReasonCode::Concentration,
        ReasonCode::SectorLimit,
        ReasonCode::DailyLossLimit,
        ReasonCode::DrawdownThrottle,
        ReasonCode::OrderSize,
        ReasonCode::NoData,
        ReasonCode::DecisionMissing,
        ReasonCode::ReconcileMismatch,
        ReasonCode::CashMismatch,
    ];

    /// The snake_case code as logs show it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::KillSwitch => "kill_switch",
            ReasonCode::LiveNotConfirmed => "live_not_confirmed",
            ReasonCode::BeforeEnableDate => "before_enable_date",
            ReasonCode::NotAllowlisted => "not_allowlisted",
            ReasonCode::RiskPerTrade => "risk_per_trade",
            ReasonCode::GrossExposure => "gross_exposure",
            ReasonCode::MaxPositions => "max_positions",
            ReasonCode::MaxNewEntries => "max_new_entries",
            ReasonCode::Concentration => "concentration",
            ReasonCode::SectorLimit => "sector_limit",
            ReasonCode::DailyLossLimit => "daily_loss_limit",
            ReasonCode::DrawdownThrottle => "drawdown_throttle",
            ReasonCode::OrderSize => "order_size",
            ReasonCode::NoData => "no_data",
            ReasonCode::DecisionMissing => "decision_missing",
            ReasonCode::ReconcileMismatch => "reconcile_mismatch",
            ReasonCode::CashMismatch => "cash_mismatch",
        }
    }

    /// Gates that hold in shadow mode too: whether the system may trade at all.
    pub fn is_hard(self) -> bool {
        matches!(
            self,
            ReasonCode::KillSwitch
                | ReasonCode::LiveNotConfirmed
                | ReasonCode::BeforeEnableDate
                | ReasonCode::NoData
                | ReasonCode::DecisionMissing
                | ReasonCode::ReconcileMismatch
                | ReasonCode::CashMismatch
        )
    }

    /// A sentence for people.
    pub fn describe(self) -> &'static str {
        match self {
            ReasonCode::KillSwitch => "the kill switch is set: no new entries or adds",
            ReasonCode::LiveNotConfirmed => "live orders need --live and SYSTRADE_LIVE_CONFIRM",
            ReasonCode::BeforeEnableDate => "the strategy is not enabled for live trading yet",
            ReasonCode::NotAllowlisted => "the symbol is not in the strategy's allowlist",
            ReasonCode::RiskPerTrade => "entry-to-stop risk exceeds the per-trade limit",
            ReasonCode::GrossExposure => "gross exposure would exceed its limit",
            ReasonCode::MaxPositions => "the maximum number of open positions is reached",
            ReasonCode::MaxNewEntries => "the maximum number of new entries today is reached",
            ReasonCode::Concentration => "the position would exceed the symbol concentration limit",
            ReasonCode::SectorLimit => "the sector's gross exposure would exceed its limit",
            ReasonCode::DailyLossLimit => "today's loss limit is hit: no new risk today",
            ReasonCode::DrawdownThrottle => "drawdown beyond the throttle level",
            ReasonCode::OrderSize => "the order exceeds the size limits and needs approval",
            ReasonCode::NoData => "decision inputs are missing or stale",
            ReasonCode::DecisionMissing => {
                "the decision artifact is missing, invalid or for another date"
            }
            ReasonCode::ReconcileMismatch => {
                "broker and ledger disagree on this symbol: run `systrade reconcile --ack`"
            }
            ReasonCode::CashMismatch => {
                "the broker's cash differs from the ledger's: check it, then `systrade reconcile --ack-cash`"
            }
        }
    }
}

/// The gate's decision for one symbol with every reason that applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortfolioDecision {
    pub symbol: Symbol,
    pub action: Action,
    /// Empty for `Allow`; sorted and de-duplicated for `Block`.
    pub reasons: Vec<ReasonCode>,
}

impl PortfolioDecision {
    /// Allows when no reason applies, else blocks with the reasons sorted.
    pub fn from_reasons(symbol: Symbol, mut reasons: Vec<ReasonCode>) -> Self {
        reasons.sort();
        reasons.dedup();
        let action = if reasons.is_empty() {
            Action::Allow
        } else {
            Action::Block
        };
        PortfolioDecision {
            symbol,
            action,
            reasons,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_reason_codes_serialise_as_stable_snake_case() {
        assert_eq!(
            serde_json::to_string(&ReasonCode::KillSwitch).unwrap(),
            "\"kill_switch\""
        );
        let d = PortfolioDecision::from_reasons(
            Symbol::new("X").unwrap(),
            vec![
                ReasonCode::NoData,
                ReasonCode::KillSwitch,
                ReasonCode::NoData,
            ],
        );
        assert_eq!(d.action, Action::Block);
        assert_eq!(d.reasons, vec![ReasonCode::KillSwitch, ReasonCode::NoData]);
        for c in ReasonCode::ALL {
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
    }
}
