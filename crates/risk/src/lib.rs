//! Pre-trade gates and protective stops. Exits and protective stops are never blocked.

mod desired;
pub mod gates;
mod stops;

pub use desired::{DesiredInput, GateParams, TradeReason, desired_trade};
pub use gates::{Candidate, GateContext, SafetyLimits, Verdict, evaluate};
pub use stops::{DustAction, DustParams, dust_action, next_cooldown, ratchet_stop};
