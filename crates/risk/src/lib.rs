//! Pre-trade gates and protective stops. Exits and protective stops are never blocked.

mod desired;
mod stops;

pub use desired::{DesiredInput, GateParams, TradeReason, desired_trade};
pub use stops::{DustAction, DustParams, dust_action, next_cooldown, ratchet_stop};
