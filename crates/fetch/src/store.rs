//! Where fetched bars land: the market database (`--db`) or a folder of vendor files
//! (`--out`). Either way the rows are rendered as the file `data import` would read and
//! parsed by the same code — validation, flags, calendars and adjustment — before anything
//! is written, and each series is written whole and at once (one transaction; a file
//! renamed into place), so a fetch killed at any instant leaves every series as it was or
//! as it is now.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use systrade_core::Symbol;
use systrade_data::db::{Fetched, MarketDb};
use systrade_data::news::NewsItem;
use systrade_data::parse::{Content, parse_bytes};
use systrade_data::{DataError, ParseOptions, ParsedFile};

use crate::error::FetchError;
use crate::provider::{Instrument, ProviderKind};
use crate::rows::{BarInterval, VendorRow};

/// A series as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub rows: Vec<VendorRow>,
    /// The last row was a candle still open when it was stored.
    pub open_last: bool,
    /// The earliest date a fetch asked for (none known: the first row's).
    pub since: Option<NaiveDate>,
}

/// What storing a series did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Saved {
    /// Bars that may drive decisions.
    pub bars: u64,
    /// Flag → rows kept out of decisions.
    pub flags: BTreeMap<String, u64>,
    pub notes: Vec<String>,
}

/// A series to store.
pub struct Series<'a> {
    pub inst: &'a Instrument,
    pub interval: BarInterval,
    pub provider: ProviderKind,
    pub rows: &'a [VendorRow],
    pub open_last: bool,
    /// The earliest date a fetch asked for.
    pub since: NaiveDate,
}

pub trait Store {
    /// `--db FILE` or `--out DIR`, for messages.
    fn describe(&self) -> String;
    fn load(
        &self,
        inst: &Instrument,
        interval: BarInterval,
        provider: ProviderKind,
    ) -> Result<Option<Stored>, FetchError>;
    /// Validates and stores a whole series, under the import options `opts`.
    fn save(&mut self, s: &Series<'_>, opts: &ParseOptions) -> Result<Saved, FetchError>;
    /// The newest article stored for `symbol` (`YYYYMMDDTHHMMSS`).
    fn news_last(&self, symbol: &Symbol) -> Result<Option<String>, FetchError>;
    /// Stores articles; returns how many were new.
    fn save_news(&mut self, symbol: &Symbol, items: &[NewsItem]) -> Result<usize, FetchError>;
}

/// The file name a series is stored under: `AAPL.csv`, `BTCUSDT_1h.csv`.
fn file_name(symbol: &Symbol, interval: BarInterval) -> String {
    match interval {
        BarInterval::Day => format!("{symbol}.csv"),
        other => format!("{symbol}_{}.csv", other.as_str()),
    }
}

/// The rows parsed as `data import` parses the same file.
fn parse(path: &Path, text: &str, opts: &ParseOptions) -> Result<(ParsedFile, Saved), FetchError> {
    let parsed = parse_bytes(path, text.as_bytes(), opts)?;
    let Content::Prices(p) = &parsed.content else {
        return Err(FetchError::Data(DataError::Usage(format!(
            "{}: the rendered rows did not read back as prices",
            path.display()
        ))));
    };
    let mut flags = BTreeMap::new();
    for f in &p.flagged {
        *flags.entry(f.flag.as_str().to_string()).or_insert(0) += 1;
    }
    let saved = Saved {
        bars: p.bars.len() as u64,
        flags,
        notes: p.notes.clone(),
    };
    Ok((parsed, saved))
}

/// The database dataset of a series (`prices:AAPL@1d`).
pub fn dataset(symbol: &Symbol, interval: BarInterval) -> String {
    format!("prices:{symbol}@{}", interval.data_interval())
}

/// `--out DIR`: one file per series in the provider's layout. A folder holds no flags, so a
/// candle still open is not written (the database keeps it, flagged). `DIR/.fetch.json`
/// says which vendor each file came from and since when (written after the file: a fetch
/// killed between the two only asks again for what it already has).
pub struct FolderStore {
    dir: PathBuf,
    manifest: BTreeMap<String, Origin>,
}

/// Where a folder's file came from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Origin {
    provider: String,
    since: NaiveDate,
}

const MANIFEST: &str = ".fetch.json";

impl FolderStore {
    pub fn new(dir: &Path) -> Result<FolderStore, FetchError> {
        std::fs::create_dir_all(dir).map_err(|source| DataError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(MANIFEST);
        let manifest = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                FetchError::Usage(format!(
                    "{}: {e} (delete it and fetch again with --start)",
                    path.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(DataError::Io { path, source }.into()),
        };
        Ok(FolderStore {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    fn news_path(&self, symbol: &Symbol) -> PathBuf {
        self.dir.join("news").join(format!("{symbol}.csv"))
    }

    fn read_news(&self, symbol: &Symbol) -> Result<Vec<NewsItem>, FetchError> {
        let path = self.news_path(symbol);
        if !path.exists() {
            return Ok(vec![]);
        }
        let mut r = csv::Reader::from_path(&path).map_err(|e| csv_err(&path, &e))?;
        let mut out = Vec::new();
        for row in r.deserialize::<NewsItem>() {
            out.push(row.map_err(|e| csv_err(&path, &e))?);
        }
        Ok(out)
    }
}

/// Writes a whole file at once (renamed into place).
fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), FetchError> {
    systrade_core::fsio::write_atomic(path, bytes)
        .map_err(|e| FetchError::Data(DataError::Usage(format!("{}: {e}", path.display()))))
}

fn csv_err(path: &Path, e: &csv::Error) -> FetchError {
    let line = e
        .position()
        .map(|p| format!(" line {}", p.line()))
        .unwrap_or_default();
    FetchError::Data(DataError::Usage(format!("{}{line}: {e}", path.display())))
}

impl Store for FolderStore {
    fn describe(&self) -> String {
        format!("--out {}", self.dir.display())
    }

    fn load(
        &self,
        inst: &Instrument,
        interval: BarInterval,
        provider: ProviderKind,
    ) -> Result<Option<Stored>, FetchError> {
        let name = file_name(&inst.symbol, interval);
        let origin = self.manifest.get(&name);
        if let Some(o) = origin.filter(|o| o.provider != provider.as_str()) {
            return Err(FetchError::Usage(format!(
                "{}: {name} was fetched from {}; one series is not mixed from two vendors (fetch {} into another --out)",
                self.dir.display(),
                o.provider,
                provider.as_str()
            )));
        }
        let path = self.dir.join(&name);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(DataError::Io { path, source }.into()),
        };
        let rows = provider.layout().read(&text).map_err(|m| {
            FetchError::Usage(format!(
                "{}: {m}; this file was not written by a {} fetch (fetch into another --out)",
                path.display(),
                provider.as_str()
            ))
        })?;
        Ok(Some(Stored {
            rows,
            open_last: false,
            since: origin.map(|o| o.since),
        }))
    }

    fn save(&mut self, s: &Series<'_>, opts: &ParseOptions) -> Result<Saved, FetchError> {
        let rows = if s.open_last {
            &s.rows[..s.rows.len().saturating_sub(1)]
        } else {
            s.rows
        };
        if rows.is_empty() {
            return Ok(Saved::default());
        }
        let path = self.dir.join(file_name(&s.inst.symbol, s.interval));
        let text = s.provider.layout().render(rows);
        let mut o = opts.clone();
        o.last_candle_open = false;
        let (_, saved) = parse(&path, &text, &o)?;
        write_whole(&path, text.as_bytes())?;
        self.manifest.insert(
            file_name(&s.inst.symbol, s.interval),
            Origin {
                provider: s.provider.as_str().to_string(),
                since: s.since,
            },
        );
        let m = self.dir.join(MANIFEST);
        let text = serde_json::to_string_pretty(&self.manifest)
            .map_err(|e| FetchError::Data(DataError::Usage(format!("{}: {e}", m.display()))))?;
        write_whole(&m, text.as_bytes())?;
        Ok(saved)
    }

    fn news_last(&self, symbol: &Symbol) -> Result<Option<String>, FetchError> {
        Ok(self
            .read_news(symbol)?
            .into_iter()
            .map(|n| n.published)
            .max())
    }

    fn save_news(&mut self, symbol: &Symbol, items: &[NewsItem]) -> Result<usize, FetchError> {
        let mut all = self.read_news(symbol)?;
        let before = all.len();
        let known: std::collections::BTreeSet<(String, String)> = all
            .iter()
            .map(|n| (n.published.clone(), n.url.clone()))
            .collect();
        all.extend(
            items
                .iter()
                .filter(|n| !known.contains(&(n.published.clone(), n.url.clone())))
                .cloned(),
        );
        all.sort_by(|a, b| (&a.published, &a.url).cmp(&(&b.published, &b.url)));
        all.dedup_by(|a, b| a.published == b.published && a.url == b.url);
        let new = all.len() - before;
        if new == 0 && self.news_path(symbol).exists() {
            return Ok(0);
        }
        let mut w = csv::Writer::from_writer(Vec::new());
        for n in &all {
            w.serialize(n)
                .map_err(|e| csv_err(&self.news_path(symbol), &e))?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| FetchError::Data(DataError::Usage(format!("news of {symbol}: {e}"))))?;
        let path = self.news_path(symbol);
        write_whole(&path, &bytes)?;
        Ok(new)
    }
}

/// `--db FILE`: the market database; the vendor rows are kept beside the series (table
/// `fetched`) so the next fetch continues from them.
pub struct DbStore {
    db: MarketDb,
}

impl DbStore {
    pub fn open(path: &Path) -> Result<DbStore, FetchError> {
        Ok(DbStore {
            db: MarketDb::open(path)?,
        })
    }
}

impl Store for DbStore {
    fn describe(&self) -> String {
        format!("--db {}", self.db.path().display())
    }

    fn load(
        &self,
        inst: &Instrument,
        interval: BarInterval,
        provider: ProviderKind,
    ) -> Result<Option<Stored>, FetchError> {
        let ds = dataset(&inst.symbol, interval);
        let Some(f) = self.db.fetched(&ds)? else {
            if let Some(p) = self.db.provenance(&ds)? {
                return Err(FetchError::Usage(format!(
                    "{}: {ds} was imported from {}, not fetched; a fetch does not write over an import (fetch into another --db)",
                    self.db.path().display(),
                    p.source_file
                )));
            }
            return Ok(None);
        };
        if f.provider != provider.as_str() {
            return Err(FetchError::Usage(format!(
                "{}: {ds} was fetched from {}; one series is not mixed from two vendors (fetch {} into another --db)",
                self.db.path().display(),
                f.provider,
                provider.as_str()
            )));
        }
        let rows = provider.layout().read(&f.csv).map_err(|m| {
            FetchError::Usage(format!(
                "{} table fetched [{ds}]: {m}",
                self.db.path().display()
            ))
        })?;
        Ok(Some(Stored {
            rows,
            open_last: f.open_last,
            since: f.since.parse().ok(),
        }))
    }

    fn save(&mut self, s: &Series<'_>, opts: &ParseOptions) -> Result<Saved, FetchError> {
        let name = file_name(&s.inst.symbol, s.interval);
        let path = PathBuf::from(format!("fetch:{}/{name}", s.provider.as_str()));
        let text = s.provider.layout().render(s.rows);
        let mut o = opts.clone();
        o.last_candle_open = s.open_last;
        let (parsed, saved) = parse(&path, &text, &o)?;
        self.db.store_fetched(
            &parsed,
            &o,
            &Fetched {
                provider: s.provider.as_str().to_string(),
                csv: text,
                open_last: s.open_last,
                since: s.since.to_string(),
            },
        )?;
        Ok(saved)
    }

    fn news_last(&self, symbol: &Symbol) -> Result<Option<String>, FetchError> {
        Ok(self.db.news(symbol)?.into_iter().map(|n| n.published).max())
    }

    fn save_news(&mut self, _symbol: &Symbol, items: &[NewsItem]) -> Result<usize, FetchError> {
        Ok(self.db.store_news(items)?)
    }
}
