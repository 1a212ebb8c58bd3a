//! Coinbase Advanced Trade (v3 brokerage, spot), laid out as NautilusTrader's adapters are:
//! `http` (the client: endpoint, the CDP key from the environment, a JWT per request from
//! `jwt`, the shared transport with Coinbase's limits), `models` holds the venue's JSON
//! exactly as sent (decimals as strings, enums in SCREAMING_SNAKE_CASE), `parse` turns it
//! into systrade's broker types — and back, for requests — and `broker` is the
//! [`systrade_broker::Broker`] implementation.
//!
//! Reference: `../shared/spec/broker-apis.md` §2; recorded payloads in
//! `../shared/data/broker-fixtures/coinbase`.

pub mod broker;
pub mod http;
pub mod jwt;
pub mod models;
pub mod parse;

pub use broker::{CoinbaseBroker, Connect};
pub use http::{Endpoint, SetupError};
