//! Alpaca (trading API v2, stocks and crypto, paper and live hosts), laid out as
//! NautilusTrader's adapters are: `http` (the client: endpoint, credentials from the
//! environment, a token bucket, what an answer means), `models` holds the venue's JSON
//! exactly as sent (decimals as strings), `parse` turns it into systrade's broker types —
//! and back, for requests — and `broker` is the [`systrade_broker::Broker`] implementation.
//!
//! Reference: `../shared/spec/broker-apis.md` §1; recorded payloads in
//! `../shared/data/broker-fixtures/alpaca`.

pub mod broker;
pub mod http;
pub mod models;
pub mod parse;

pub use broker::{AlpacaBroker, Connect, ConnectError};
pub use http::{Endpoint, MissingVariable};
