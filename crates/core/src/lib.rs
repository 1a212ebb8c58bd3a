//! Domain types and contracts shared by every systrade crate.
//!
//! Nothing here knows about files formats, the command line or brokers: this crate is the
//! vocabulary (bars, symbols, markets and their calendars, orders, fills, decisions) plus the
//! two output rules every artifact obeys — deterministic JSON and atomic file writes.

pub mod bar;
pub mod calendar;
pub mod contracts;
pub mod datetext;
pub mod error;
pub mod fsio;
pub mod id;
pub mod json;
pub mod market;
pub mod money;
pub mod rate;
pub mod redact;
pub mod shortest;
pub mod symbol;
pub mod view;
pub mod vocab;

pub use bar::{Bar, DailyBar, IntradayBar, Ohlcv};
pub use calendar::{Calendar, Session};
pub use error::{BadInput, CoreError, StaleRun};
pub use market::Market;
pub use money::{Money, Price, Quantity};
pub use symbol::Symbol;
pub use view::HistoryView;
