//! Market data in: `systrade data fetch` and the daily run's refresh. Bars from Alpaca
//! market data v2, Coinbase product candles, Binance klines, Yahoo's chart API and Alpha
//! Vantage (with its news sentiment), fetched incrementally with overlap, paginated and
//! rate-limited as each vendor publishes, rendered in a layout `data import` reads and
//! stored through the same validation — in the market database or a folder.

pub mod alpaca;
pub mod alphavantage;
pub mod binance;
pub mod coinbase;
pub mod error;
pub mod fetch;
pub mod http;
pub mod provider;
pub mod refresh;
pub mod rows;
pub mod store;
pub mod yahoo;

pub use error::FetchError;
pub use fetch::{Plan, Report, Status, SymbolReport, fetch};
pub use provider::{Limits, ProviderKind, Vendor, connect};
pub use rows::BarInterval;
pub use store::{DbStore, FolderStore, Store};
