//! The Interactive Brokers adapter: [`IbBroker`], the [`systrade_broker::Broker`] trait on the
//! TWS API (TWS or IB Gateway, server version ≥ 213) through the maintained `ibapi` crate's
//! blocking client.
//!
//! - **connect** opens a socket to `SYSTRADE_IB_HOST:SYSTRADE_IB_PORT` (127.0.0.1:7497, TWS
//!   paper, by default; 7496 TWS live, 4002 / 4001 Gateway) as `SYSTRADE_IB_CLIENT_ID` (default
//!   1); the account is the one the gateway manages (`SYSTRADE_IB_ACCOUNT` picks one when it
//!   manages several); `DU…` accounts are paper, any other is live. The gateway's clock must be
//!   at the run's session.
//! - **orders** go out as US stocks and ETFs (`STK`, `SMART`, `USD`) with our client order id
//!   in `orderRef`; IB's order ids are the session's own. An order is found again by its
//!   `orderRef` among the open and the completed orders, so a run killed after the gateway
//!   took an order finds it instead of sending it twice.
//! - **fills** are the executions (`reqExecutions`, with their commission reports; an
//!   execution IB corrected counts once, in its last revision), read again after every
//!   reconnect — nothing a disconnect interrupted is taken as complete.
//! - **replace** is cancel + new (the old terms are put back if the new order is refused).

mod broker;
mod parse;

pub use broker::{Connect, IbBroker};
pub use parse::session_of;
