//! The daily run's refresh: a strategy's data source brought up to its decision bar from
//! the provider its config names, before anything is decided.

use std::path::Path;

use chrono::NaiveDate;
use systrade_core::Market;
use systrade_data::ParseOptions;
use systrade_data::source::is_sqlite;

use crate::error::FetchError;
use crate::fetch::{Plan, Report, fetch};
use crate::provider::{Limits, ProviderKind, connect};
use crate::store::{DbStore, FolderStore, Store};

/// The store a data source names: a SQLite file (or a path ending `.db`/`.sqlite` that does
/// not exist yet) is the market database; anything else a folder.
pub fn store_for(source: &Path) -> Result<Box<dyn Store>, FetchError> {
    let db_name = source
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "db" | "sqlite" | "sqlite3"));
    if (source.is_file() && is_sqlite(source)) || (!source.exists() && db_name) {
        return Ok(Box::new(DbStore::open(source)?));
    }
    if source.is_file() {
        return Err(FetchError::Usage(format!(
            "{}: a refresh writes a market database or a folder, not one vendor file",
            source.display()
        )));
    }
    Ok(Box::new(FolderStore::new(source)?))
}

/// What a refresh fetches.
pub struct Refresh<'a> {
    pub provider: ProviderKind,
    pub source: &'a Path,
    pub tickers: &'a [String],
    pub market: Option<Market>,
    /// The decision bar's date: bars through it are wanted.
    pub through: NaiveDate,
    pub opts: &'a ParseOptions,
}

/// Fetches every ticker through the decision bar into the source.
pub fn refresh(r: &Refresh<'_>) -> Result<Report, FetchError> {
    let mut vendor = connect(r.provider, Limits::default())?;
    let mut store = store_for(r.source)?;
    let plan = Plan {
        end: Some(r.through),
        adjust: r.opts.adjust,
        ..Plan::default()
    };
    let inputs: Vec<(String, Option<Market>)> =
        r.tickers.iter().map(|t| (t.clone(), r.market)).collect();
    fetch(
        vendor.as_mut(),
        store.as_mut(),
        &inputs,
        &plan,
        r.opts,
        &mut |_| {},
    )
}
