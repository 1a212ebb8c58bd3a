//! Alpaca (trading API v2, stocks and crypto, paper and live hosts), laid out as
//! NautilusTrader's adapters are: `models` holds the venue's JSON exactly as sent (decimals
//! as strings), `parse` turns it into systrade's broker types — and back, for requests.
//!
//! Reference: `../shared/spec/broker-apis.md` §1; recorded payloads in
//! `../shared/data/broker-fixtures/alpaca`.

pub mod models;
pub mod parse;
