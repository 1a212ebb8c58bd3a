//! Coinbase Advanced Trade (v3 brokerage, spot), laid out as NautilusTrader's adapters are:
//! `models` holds the venue's JSON exactly as sent (decimals as strings, enums in
//! SCREAMING_SNAKE_CASE), `parse` turns it into systrade's broker types — and back, for
//! requests.
//!
//! Reference: `../shared/spec/broker-apis.md` §2; recorded payloads in
//! `../shared/data/broker-fixtures/coinbase`.

pub mod jwt;
pub mod models;
pub mod parse;
