//! Market data for systrade: vendor files as they come (Yahoo, Yahoo B3, AlphaVantage,
//! Binance klines, 1-minute bars, rate series, sector maps, Excel sheets), their validation,
//! adjustment, storage in SQLite, inspection against market calendars, and a deterministic
//! synthetic market for tests and the demo.
//!
//! Validation has two classes (DESIGN §7). *Structural* problems (unknown header, duplicate
//! or unsorted dates, unparseable numbers, NaN, empty file) always fail with one
//! [`DataError`] naming file, line, symbol and problem. *Value* problems (inconsistent OHLC,
//! non-positive prices, zero-volume placeholders, a partial last candle) follow
//! [`BadRowPolicy`]: fail, skip, or flag (kept out of trading decisions and reported).

pub mod adjust;
pub mod cache;
pub mod db;
pub mod error;
#[cfg(feature = "excel")]
mod excel;
pub mod folder;
pub mod import;
pub mod inspect;
pub mod layout;
pub mod market_fit;
pub mod news;
pub mod parse;
pub mod series;
pub mod source;
pub mod synth;
pub mod time;
pub mod validate;
pub mod values;

pub use adjust::Adjust;
pub use error::DataError;
pub use layout::{FileKind, PriceFormat};
pub use parse::{ParseOptions, ParsedFile, parse_file};
pub use series::{Bars, Interval, PriceSeries};
pub use source::{DailySeries, DataSource};
pub use validate::{BadRowPolicy, Flag, FlaggedRow};
