//! The shared language between pipeline stages (DESIGN §4). Every type is serde-serialisable
//! and carries [`SCHEMA_VERSION`] in the artifacts that hold it.

mod allocation;
mod decision;
mod fill;
mod order;
mod position;
mod signal;
mod snapshot;
mod trade_plan;

pub use allocation::Allocation;
pub use decision::{Action, PortfolioDecision, ReasonCode};
pub use fill::Fill;
pub use order::{ClientOrderId, Order, OrderKind, TimeInForce};
pub use position::{PositionRecord, PositionSource};
pub use signal::{AssetClass, Intent, Side, Signal};
pub use snapshot::{PortfolioSnapshot, PositionLine};
pub use trade_plan::{Entry, StopSpec, TradePlan};

/// Version of the contract schema written into artifacts; bumped on any breaking change.
pub const SCHEMA_VERSION: u32 = 1;
