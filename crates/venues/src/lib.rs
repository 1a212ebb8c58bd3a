//! Faithful local venues: stateful HTTP servers on 127.0.0.1 that speak a real venue's API
//! — its paths, JSON (decimals as strings), statuses, lifecycle and errors — over the paper
//! broker's engine, so an order placed here fills as it would in a backtest on the same
//! price file, at the times the venue would fill it.
//!
//! - [`alpaca`]: trading API v2 (`broker-apis.md` §1).
//! - [`coinbase`]: Advanced Trade v3 brokerage, spot (`broker-apis.md` §2).
//! - [`ib`]: the TWS API socket of IB Gateway, protobuf messages (`broker-apis.md` §3).
//!
//! The venue's clock is a session, advanced by `POST /fake/clock {"session": "YYYY-MM-DD"}`:
//! at session S the venue is before S's open; advancing to a later session plays the bars in
//! between (market orders fill at their session's open, stops trigger inside bars, day
//! orders expire). `POST /fake/faults` queues the venue's failures for the next calls (`"clear": true` drops those left)
//! (tests); `GET /fake/stats` counts the requests served.

pub mod alpaca;
pub mod coinbase;
pub mod engine;
mod faults;
pub mod ib;
pub mod market;
pub mod reply;
mod serve;

pub use faults::{Fault, FaultError};
pub use serve::{Running, serve, serve_blocking};

/// Why a venue cannot start.
#[derive(Debug, thiserror::Error)]
pub enum VenueError {
    #[error("{0}")]
    Setup(String),
    #[error("price data {path}: {message}")]
    Data { path: String, message: String },
    #[error("venue state: {0}")]
    Broker(#[from] systrade_broker::BrokerError),
    #[error("cannot listen on {addr}: {message}")]
    Listen { addr: String, message: String },
}
