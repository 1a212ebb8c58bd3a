//! Brokers: the [`Broker`] trait every venue implements (designed on the real Alpaca and
//! Coinbase APIs: client order ids, partial fills, rejects, rate limits, stops that reserve
//! quantity), the persisted [`paper::PaperBroker`], retries with backoff, and fault injection
//! for tests.

pub mod faults;
pub mod http;
pub mod paper;
pub use systrade_core::rate;
mod retry;
mod types;
pub mod venue;

pub use faults::{FaultKind, Faults};
pub use paper::{PaperBroker, PaperConfig};
pub use retry::{RetryPolicy, with_retries};
pub use types::{
    Account, BrokerFill, BrokerOrder, OrderRequest, OrderStatus, OrderType, Position, Preview,
    TimeInForce,
};

use systrade_core::contracts::ClientOrderId;

/// What can go wrong talking to a broker. Business rejections (not enough cash or quantity,
/// an unknown symbol) are not errors: the order comes back with status `rejected` and a
/// reason, as the venues answer.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("rate limited by the broker (HTTP 429)")]
    RateLimited,
    #[error("broker server error (HTTP {status}): {message}")]
    Server { status: u16, message: String },
    #[error("timed out waiting for the broker's answer")]
    Timeout,
    /// No answer at all: the connection failed (the venue down, DNS, TLS).
    #[error("cannot reach the broker: {0}")]
    Unreachable(String),
    #[error("client_order_id {0} must be unique: the broker already has it")]
    Duplicate(ClientOrderId),
    #[error("order {0} not found at the broker")]
    NotFound(ClientOrderId),
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The venue refused who we are (401): the message names the variables to check,
    /// never their values.
    #[error("{0}")]
    Credentials(String),
    #[error("broker state {path}: {message}")]
    Storage { path: String, message: String },
}

impl BrokerError {
    /// Worth trying again after a pause (rate limits, 5xx, timeouts).
    pub fn retryable(&self) -> bool {
        match self {
            BrokerError::RateLimited | BrokerError::Timeout | BrokerError::Unreachable(_) => true,
            BrokerError::Server { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// A brokerage account as systrade uses it. Every call may fail with a transport error
/// ([`BrokerError::retryable`]); callers wrap them in [`with_retries`].
pub trait Broker {
    /// `paper`, `alpaca`, `coinbase`…
    fn kind(&self) -> &str;
    /// True when orders move real money (they then need the live confirmation gate).
    fn is_live(&self) -> bool;
    fn account(&mut self) -> Result<Account, BrokerError>;
    /// Non-zero positions, by symbol.
    fn positions(&mut self) -> Result<Vec<Position>, BrokerError>;
    /// Orders still working (accepted or partially filled), oldest first.
    fn open_orders(&mut self) -> Result<Vec<BrokerOrder>, BrokerError>;
    /// One order by its client order id, in any state.
    fn order(&mut self, id: &ClientOrderId) -> Result<Option<BrokerOrder>, BrokerError>;
    /// Executions on or after `since` (all when `None`), oldest first.
    fn fills(&mut self, since: Option<chrono::NaiveDate>) -> Result<Vec<BrokerFill>, BrokerError>;
    /// Places an order. A second order with the same client order id is refused with
    /// [`BrokerError::Duplicate`], so a re-run day never trades twice.
    fn submit(&mut self, req: &OrderRequest) -> Result<BrokerOrder, BrokerError>;
    fn cancel(&mut self, id: &ClientOrderId) -> Result<BrokerOrder, BrokerError>;
    /// Cancels `id` and places `new` as one step: when `new` is rejected the old order stays,
    /// so a protective stop is never lost between cancel and replace.
    fn replace(
        &mut self,
        id: &ClientOrderId,
        new: &OrderRequest,
    ) -> Result<BrokerOrder, BrokerError>;
    /// What `submit` would do, without doing it (`--dry-run`), as if the working orders
    /// `freeing` were canceled first (a replace, or stops canceled to make room for a sell).
    fn preview(
        &mut self,
        req: &OrderRequest,
        freeing: &[ClientOrderId],
    ) -> Result<Preview, BrokerError>;
}
