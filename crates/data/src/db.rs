//! The market-data store: SQLite with a migration-managed schema, imports with provenance.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use systrade_core::{Bar, DailyBar, Market, Ohlcv, Symbol};

use crate::error::DataError;
use crate::layout::RateUnit;
use crate::parse::{Content, ParseOptions, ParsedFile};
use crate::series::{ActionKind, Bars, CorporateAction, Interval, PriceSeries, ts_text};
use crate::time::parse_row_time;
use crate::validate::{Flag, FlaggedRow};

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// What happened to one dataset in an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// First import of this dataset.
    New,
    /// Same file (sha256) with the same options: nothing written.
    Unchanged,
    /// The file or the options differ from the last import: the dataset was replaced.
    Changed,
    /// Recognised but not market data.
    Ignored,
}

/// One line of an import report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportLine {
    pub file: String,
    pub dataset: String,
    pub status: ImportStatus,
    pub rows_read: u64,
    pub rows_stored: u64,
    pub rows_flagged: u64,
    pub rows_skipped: u64,
    /// Flag name → rows flagged (kept out of decisions).
    pub flags: BTreeMap<String, u64>,
    /// For `changed`: what changed.
    pub detail: Option<String>,
}

/// Metadata of a stored price series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstrumentInfo {
    pub symbol: Symbol,
    pub interval: Interval,
    pub market: Market,
    pub format: String,
    pub source_basis: String,
    pub adjust: String,
}

/// The latest provenance record of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance {
    pub dataset: String,
    pub source_file: String,
    pub sha256: String,
    pub rows_read: u64,
    pub rows_stored: u64,
    pub rows_flagged: u64,
    pub rows_skipped: u64,
    pub notes: Vec<String>,
}

/// The vendor rows a fetch stored for a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// `alpaca`, `coinbase`, `binance`, `yahoo`, `alphavantage`.
    pub provider: String,
    /// The rows as a CSV in the vendor's layout (the file an import of them would read).
    pub csv: String,
    /// The last row was a candle still open when it was fetched (flagged `partial_candle`).
    pub open_last: bool,
    /// The earliest date a fetch asked for (`YYYY-MM-DD`).
    pub since: String,
}

/// A market-data database.
pub struct MarketDb {
    conn: Connection,
    path: PathBuf,
}

pub(crate) fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> DataError + '_ {
    move |source| DataError::Db {
        path: path.to_path_buf(),
        source,
    }
}

/// Five REAL columns starting at `first`: open, high, low, close, volume.
fn ohlcv_at(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Ohlcv> {
    Ok(Ohlcv {
        open: r.get(first)?,
        high: r.get(first + 1)?,
        low: r.get(first + 2)?,
        close: r.get(first + 3)?,
        volume: r.get(first + 4)?,
    })
}

fn interval_s(iv: Interval) -> i64 {
    i64::from(iv.seconds())
}

fn interval_from_s(s: i64) -> Interval {
    if s == 86_400 {
        Interval::Daily
    } else {
        Interval::Seconds(s.clamp(1, i64::from(u32::MAX)) as u32)
    }
}

impl MarketDb {
    /// Opens (creating if needed) a database and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, DataError> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| DataError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let mut conn = Connection::open(path).map_err(db_err(path))?;
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
            .map_err(db_err(path))?;
        embedded::migrations::runner()
            // One transaction for every pending migration and its history row: a process killed
            // half-way leaves the file as it was, never a change applied but not recorded.
            .set_grouped(true)
            .run(&mut conn)
            .map_err(|e| DataError::Migration {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        Ok(MarketDb {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Opens an existing database for reading without changing it. Databases made by other
    /// tools need only `prices(ticker, date, open, high, low, close, volume)`.
    pub fn open_existing(path: &Path) -> Result<Self, DataError> {
        if !path.is_file() {
            return Err(DataError::NotFound(format!(
                "{}: no such database",
                path.display()
            )));
        }
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(db_err(path))?;
        let db = MarketDb {
            conn,
            path: path.to_path_buf(),
        };
        if !db.has_table("prices")? {
            return Err(DataError::Usage(format!(
                "{}: not a market database (no prices table)",
                path.display()
            )));
        }
        Ok(db)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    fn has_table(&self, name: &str) -> Result<bool, DataError> {
        self.conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .map_err(db_err(&self.path))
    }

    /// Writes parsed files in one transaction: either every dataset is stored or none is.
    pub fn import(
        &mut self,
        files: &[ParsedFile],
        opts: &ParseOptions,
    ) -> Result<Vec<ImportLine>, DataError> {
        let path = self.path.clone();
        let e = db_err(&path);
        let tx = self.conn.transaction().map_err(&e)?;
        let options = import_options(opts)?;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut report = Vec::new();
        for f in files {
            report.push(import_one(&tx, f, &options, &now).map_err(&e)?);
        }
        tx.commit().map_err(&e)?;
        Ok(report)
    }

    /// Stores a downloaded price series as an import of its rendered file `parsed`, and the
    /// vendor's rows as fetched (`fetched`), in one transaction: a fetch killed at any
    /// instant leaves the series as it was or as it is now, never half of each.
    pub fn store_fetched(
        &mut self,
        parsed: &ParsedFile,
        opts: &ParseOptions,
        fetched: &Fetched,
    ) -> Result<ImportLine, DataError> {
        let path = self.path.clone();
        let e = db_err(&path);
        let tx = self.conn.transaction().map_err(&e)?;
        let options = import_options(opts)?;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let line = import_one(&tx, parsed, &options, &now).map_err(&e)?;
        tx.execute(
            "INSERT INTO fetched (dataset, provider, csv, open_last, since, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(dataset) DO UPDATE SET provider = excluded.provider, csv = excluded.csv, open_last = excluded.open_last, since = excluded.since, fetched_at = excluded.fetched_at",
            params![line.dataset, fetched.provider, fetched.csv, fetched.open_last, fetched.since, now],
        )
        .map_err(&e)?;
        tx.commit().map_err(&e)?;
        Ok(line)
    }

    /// The vendor rows last fetched for `dataset` (`prices:AAPL@1d`), if any.
    pub fn fetched(&self, dataset: &str) -> Result<Option<Fetched>, DataError> {
        if !self.has_table("fetched")? {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT provider, csv, open_last, since FROM fetched WHERE dataset = ?1",
                [dataset],
                |r| {
                    Ok(Fetched {
                        provider: r.get(0)?,
                        csv: r.get(1)?,
                        open_last: r.get(2)?,
                        since: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(db_err(&self.path))
    }

    /// Every stored price series, sorted by symbol then interval.
    pub fn instruments(&self) -> Result<Vec<InstrumentInfo>, DataError> {
        let e = db_err(&self.path);
        if !self.has_table("instruments")? {
            // A foreign database: daily series only, market unknown until inferred.
            let mut st = self
                .conn
                .prepare("SELECT DISTINCT ticker FROM prices ORDER BY ticker")
                .map_err(&e)?;
            let tickers: Vec<String> = st
                .query_map([], |r| r.get(0))
                .map_err(&e)?
                .collect::<Result<_, _>>()
                .map_err(&e)?;
            return tickers
                .into_iter()
                .map(|t| {
                    Ok(InstrumentInfo {
                        symbol: self.symbol(&t)?,
                        interval: Interval::Daily,
                        market: Market::Us,
                        format: "sqlite".into(),
                        source_basis: "unknown (foreign database)".into(),
                        adjust: "unknown".into(),
                    })
                })
                .collect();
        }
        let mut st = self
            .conn
            .prepare("SELECT ticker, interval_s, market, format, source_basis, adjust FROM instruments ORDER BY ticker, interval_s DESC")
            .map_err(&e)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .map_err(&e)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&e)?;
        rows.into_iter()
            .map(|(t, iv, m, format, source_basis, adjust)| {
                Ok(InstrumentInfo {
                    symbol: self.symbol(&t)?,
                    interval: interval_from_s(iv),
                    market: m.parse().map_err(|_| {
                        DataError::Usage(format!(
                            "{}: unknown market {m:?} for {t}",
                            self.path.display()
                        ))
                    })?,
                    format,
                    source_basis,
                    adjust,
                })
            })
            .collect()
    }

    fn symbol(&self, t: &str) -> Result<Symbol, DataError> {
        Symbol::new(t).map_err(|err| DataError::Usage(format!("{}: {err}", self.path.display())))
    }

    /// The daily bars of a symbol, oldest first; a bad stored value is an error naming it.
    pub fn daily_bars(&self, symbol: &Symbol) -> Result<Vec<DailyBar>, DataError> {
        let e = db_err(&self.path);
        let foreign = !self.has_table("instruments")?;
        let mut st = self
            .conn
            .prepare_cached("SELECT date, open, high, low, close, volume FROM prices WHERE ticker = ?1 ORDER BY date")
            .map_err(&e)?;
        let rows = st
            .query_map([symbol.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    [
                        r.get::<_, Option<f64>>(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ],
                ))
            })
            .map_err(&e)?;
        let mut out = Vec::new();
        for row in rows {
            let (date, v) = row.map_err(&e)?;
            let bad = |what: &str| {
                DataError::Usage(format!(
                    "{} table prices [{symbol}] date {date}: {what}",
                    self.path.display()
                ))
            };
            let d = parse_row_time(&date)
                .map(|t| t.daily_date(Market::Us))
                .ok_or_else(|| bad("unparseable date"))?;
            let [Some(open), Some(high), Some(low), Some(close), Some(volume)] = v else {
                return Err(bad("missing value"));
            };
            let ohlcv = Ohlcv {
                open,
                high,
                low,
                close,
                volume,
            };
            if [open, high, low, close, volume]
                .iter()
                .any(|x| !x.is_finite())
            {
                return Err(bad("non-finite value"));
            }
            if let Some(prev) = out.last().map(|b: &DailyBar| b.ts)
                && d <= prev
            {
                return Err(bad("duplicate date"));
            }
            let mut ohlcv = ohlcv;
            if foreign {
                // Another tool's database was never imported: its rows get the checks an
                // import gives, and a row with a value problem (a holiday's zero-volume
                // placeholder) is kept out of decisions as `--on-bad-row flag` keeps it.
                if crate::validate::check_row(&ohlcv).is_some() {
                    continue;
                }
                crate::validate::repair_noise(&mut ohlcv);
            }
            out.push(Bar::new(d, ohlcv));
        }
        if out.is_empty() {
            return Err(DataError::NotFound(format!(
                "{}: unknown symbol {symbol} (no daily prices)",
                self.path.display()
            )));
        }
        Ok(out)
    }

    /// Intraday bars of a symbol at one interval, oldest first.
    pub fn intraday_bars(
        &self,
        symbol: &Symbol,
        interval: Interval,
    ) -> Result<Vec<systrade_core::IntradayBar>, DataError> {
        let e = db_err(&self.path);
        let mut st = self
            .conn
            .prepare_cached("SELECT ts, open, high, low, close, volume FROM prices_intraday WHERE ticker = ?1 AND interval_s = ?2 ORDER BY ts")
            .map_err(&e)?;
        let rows = st
            .query_map(params![symbol.as_str(), interval_s(interval)], |r| {
                Ok((r.get::<_, String>(0)?, ohlcv_at(r, 1)?))
            })
            .map_err(&e)?;
        let mut out = Vec::new();
        for row in rows {
            let (ts, v) = row.map_err(&e)?;
            let t = parse_row_time(&ts).ok_or_else(|| {
                DataError::Usage(format!(
                    "{} table prices_intraday [{symbol}]: unparseable ts {ts:?}",
                    self.path.display()
                ))
            })?;
            out.push(Bar::new(t.utc(), v));
        }
        Ok(out)
    }

    /// Rows flagged at import for a series.
    pub fn flagged_rows(
        &self,
        symbol: &Symbol,
        interval: Interval,
    ) -> Result<Vec<FlaggedRow>, DataError> {
        let e = db_err(&self.path);
        if !self.has_table("instruments")? {
            return self.foreign_flags(symbol, interval);
        }
        if !self.has_table("flagged_rows")? {
            return Ok(vec![]);
        }
        let mut st = self
            .conn
            .prepare_cached("SELECT line, ts, flag, detail, open, high, low, close, volume FROM flagged_rows WHERE ticker = ?1 AND interval_s = ?2 ORDER BY ts")
            .map_err(&e)?;
        let rows = st
            .query_map(params![symbol.as_str(), interval_s(interval)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    ohlcv_at(r, 4)?,
                ))
            })
            .map_err(&e)?;
        let mut out = Vec::new();
        for row in rows {
            let (line, ts, flag, detail, values) = row.map_err(&e)?;
            let flag = Flag::parse(&flag).ok_or_else(|| {
                DataError::Usage(format!("{}: unknown flag {flag:?}", self.path.display()))
            })?;
            out.push(FlaggedRow {
                line: line as u64,
                ts,
                flag,
                detail,
                values,
            });
        }
        Ok(out)
    }

    /// The rows of another tool's `prices` table that an import would flag (kept out of
    /// [`MarketDb::daily_bars`]); the row number stands for the line.
    fn foreign_flags(
        &self,
        symbol: &Symbol,
        interval: Interval,
    ) -> Result<Vec<FlaggedRow>, DataError> {
        if interval != Interval::Daily {
            return Ok(vec![]);
        }
        let e = db_err(&self.path);
        let mut st = self
            .conn
            .prepare_cached("SELECT date, open, high, low, close, volume FROM prices WHERE ticker = ?1 ORDER BY date")
            .map_err(&e)?;
        let rows = st
            .query_map([symbol.as_str()], |r| {
                Ok((r.get::<_, String>(0)?, ohlcv_at(r, 1)?))
            })
            .map_err(&e)?;
        let mut out = Vec::new();
        for (i, row) in rows.enumerate() {
            let (ts, values) = row.map_err(&e)?;
            if let Some((flag, detail)) = crate::validate::check_row(&values) {
                out.push(FlaggedRow {
                    line: i as u64 + 1,
                    ts,
                    flag,
                    detail,
                    values,
                });
            }
        }
        Ok(out)
    }

    /// Corporate actions of a ticker, by date.
    pub fn actions(&self, ticker: &str) -> Result<Vec<CorporateAction>, DataError> {
        let e = db_err(&self.path);
        if !self.has_table("corporate_actions")? {
            return Ok(vec![]);
        }
        let mut st = self
            .conn
            .prepare_cached("SELECT date, kind, value, per_shares FROM corporate_actions WHERE ticker = ?1 ORDER BY date, kind")
            .map_err(&e)?;
        let rows = st
            .query_map([ticker], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, f64>(2)?,
                    r.get::<_, Option<f64>>(3)?,
                ))
            })
            .map_err(&e)?;
        let mut out = Vec::new();
        for row in rows {
            let (d, k, value, per_shares) = row.map_err(&e)?;
            let kind = ActionKind::ALL
                .into_iter()
                .find(|a| a.as_str() == k)
                .ok_or_else(|| {
                    DataError::Usage(format!(
                        "{}: unknown action kind {k:?}",
                        self.path.display()
                    ))
                })?;
            let date = NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| {
                DataError::Usage(format!("{}: bad action date {d:?}", self.path.display()))
            })?;
            out.push(CorporateAction {
                ticker: ticker.to_string(),
                date,
                kind,
                value,
                per_shares,
            });
        }
        Ok(out)
    }

    /// The latest provenance of a dataset (e.g. `prices:AAPL@1d`).
    pub fn provenance(&self, dataset: &str) -> Result<Option<Provenance>, DataError> {
        let e = db_err(&self.path);
        if !self.has_table("imports")? {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT dataset, source_file, sha256, rows_read, rows_stored, rows_flagged, rows_skipped, notes FROM imports WHERE dataset = ?1 ORDER BY id DESC LIMIT 1",
                [dataset],
                |r| {
                    let notes: String = r.get(7)?;
                    Ok(Provenance {
                        dataset: r.get(0)?,
                        source_file: r.get(1)?,
                        sha256: r.get(2)?,
                        rows_read: r.get::<_, i64>(3)? as u64,
                        rows_stored: r.get::<_, i64>(4)? as u64,
                        rows_flagged: r.get::<_, i64>(5)? as u64,
                        rows_skipped: r.get::<_, i64>(6)? as u64,
                        notes: serde_json::from_str(&notes).unwrap_or_default(),
                    })
                },
            )
            .optional()
            .map_err(e)
    }

    /// A rate series with its unit.
    pub fn rates(&self, series: &str) -> Result<(RateUnit, Vec<(NaiveDate, f64)>), DataError> {
        let e = db_err(&self.path);
        let unit: Option<String> = self
            .conn
            .query_row(
                "SELECT unit FROM rate_series WHERE series = ?1",
                [series],
                |r| r.get(0),
            )
            .optional()
            .map_err(&e)?;
        let unit = unit.ok_or_else(|| {
            DataError::NotFound(format!(
                "{}: unknown rate series {series}",
                self.path.display()
            ))
        })?;
        let mut st = self
            .conn
            .prepare_cached("SELECT date, value FROM rates WHERE series = ?1 ORDER BY date")
            .map_err(&e)?;
        let pts = st
            .query_map([series], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?))
            })
            .map_err(&e)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&e)?;
        let pts = pts
            .into_iter()
            .map(|(d, v)| NaiveDate::parse_from_str(&d, "%Y-%m-%d").map(|d| (d, v)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| {
                DataError::Usage(format!("{}: rates {series}: {err}", self.path.display()))
            })?;
        Ok((RateUnit::parse(&unit).unwrap_or(RateUnit::Unspecified), pts))
    }

    /// Sector of every ticker that has one.
    pub fn sectors(&self) -> Result<BTreeMap<String, String>, DataError> {
        let e = db_err(&self.path);
        if !self.has_table("sectors")? {
            return Ok(BTreeMap::new());
        }
        let mut st = self
            .conn
            .prepare("SELECT ticker, sector FROM sectors")
            .map_err(&e)?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(&e)?;
        rows.collect::<Result<_, _>>().map_err(e)
    }
}

/// The import options as stored in provenance (canonical JSON). `last_candle_open` shows
/// only when set, so imports made before it existed compare equal.
fn import_options(opts: &ParseOptions) -> Result<String, DataError> {
    let mut options = serde_json::json!({
        "adjust": opts.adjust.as_str(),
        "format": opts.format.map(|f| f.as_str()),
        "market": opts.market.map(|m| m.as_str()),
        "on_bad_row": opts.on_bad_row,
        "trust_last_candle": opts.trust_last_candle,
    });
    if opts.last_candle_open {
        options["last_candle_open"] = serde_json::Value::Bool(true);
    }
    Ok(systrade_core::json::to_canonical_string(&options)?)
}

/// Imports one parsed file inside `tx`: its report line, the dataset replaced unless the
/// same content was imported with the same options before.
fn import_one(
    tx: &rusqlite::Transaction<'_>,
    f: &ParsedFile,
    options: &str,
    now: &str,
) -> rusqlite::Result<ImportLine> {
    let file = f.path.display().to_string();
    let stem = f
        .path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("")
        .to_string();
    let datasets: Vec<String> = match &f.content {
        Content::Prices(p) => vec![format!("prices:{}@{}", p.symbol, p.interval)],
        Content::Rates(rs) => rs.iter().map(|r| format!("rates:{}", r.name)).collect(),
        Content::Sectors(_) => vec![format!("sectors:{stem}")],
        Content::CashEvents(_) => vec![format!("cash_events:{stem}")],
        Content::IndexWeights { index, .. } => vec![format!("index_weights:{index}")],
        Content::Ignored(why) => {
            return Ok(ImportLine {
                file,
                dataset: String::new(),
                status: ImportStatus::Ignored,
                rows_read: f.rows_read,
                rows_stored: 0,
                rows_flagged: 0,
                rows_skipped: 0,
                flags: BTreeMap::new(),
                detail: Some(why.clone()),
            });
        }
    };
    let dataset = datasets.join(",");
    let last: Option<(String, String, String)> = tx
        .query_row(
            "SELECT sha256, options, source_file FROM imports WHERE dataset = ?1 ORDER BY id DESC LIMIT 1",
            [&dataset],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (status, detail) = match last {
        None => (ImportStatus::New, None),
        Some((sha, o, _)) if sha == f.sha256 && o == options => (ImportStatus::Unchanged, None),
        Some((sha, _, src)) if sha != f.sha256 => (
            ImportStatus::Changed,
            Some(format!(
                "content changed since the last import from {src} (sha256 {}… → {}…); dataset replaced",
                &sha[..12.min(sha.len())],
                &f.sha256[..12]
            )),
        ),
        Some(_) => (
            ImportStatus::Changed,
            Some("same file, different import options; dataset replaced".into()),
        ),
    };
    let (stored, flagged, skipped, notes) = match &f.content {
        Content::Prices(p) => (
            p.bars.len() as u64,
            p.flagged.len() as u64,
            p.skipped.len() as u64,
            p.notes.clone(),
        ),
        Content::Rates(rs) => (rs.iter().map(|r| r.points.len() as u64).sum(), 0, 0, vec![]),
        Content::Sectors(rows) => (rows.len() as u64, 0, 0, vec![]),
        Content::CashEvents(ev) => (ev.len() as u64, 0, 0, vec![]),
        Content::IndexWeights { rows, .. } => (rows.len() as u64, 0, 0, vec![]),
        Content::Ignored(_) => (0, 0, 0, vec![]),
    };
    let line = ImportLine {
        file: file.clone(),
        dataset: dataset.clone(),
        status,
        rows_read: f.rows_read,
        rows_stored: stored,
        rows_flagged: flagged,
        rows_skipped: skipped,
        flags: match &f.content {
            Content::Prices(p) => p.flagged.iter().fold(BTreeMap::new(), |mut m, r| {
                *m.entry(r.flag.as_str().to_string()).or_insert(0) += 1;
                m
            }),
            _ => BTreeMap::new(),
        },
        detail,
    };
    if status == ImportStatus::Unchanged {
        return Ok(line);
    }
    tx.execute(
        "INSERT INTO imports (dataset, source_file, sha256, bytes, kind, options, rows_read, rows_stored, rows_flagged, rows_skipped, notes, imported_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            dataset,
            file,
            f.sha256,
            f.bytes as i64,
            f.content.kind(),
            options,
            f.rows_read as i64,
            stored as i64,
            flagged as i64,
            skipped as i64,
            serde_json::to_string(&notes).unwrap_or_default(),
            now
        ],
    )?;
    let import_id = tx.last_insert_rowid();
    write_content(tx, &f.content, &dataset, &stem, import_id)?;
    Ok(line)
}

fn write_content(
    tx: &rusqlite::Transaction<'_>,
    content: &Content,
    dataset: &str,
    stem: &str,
    import_id: i64,
) -> rusqlite::Result<()> {
    match content {
        Content::Prices(p) => write_prices(tx, p, dataset, import_id),
        Content::Rates(rs) => {
            for r in rs {
                tx.execute("DELETE FROM rates WHERE series = ?1", [&r.name])?;
                tx.execute(
                    "INSERT INTO rate_series (series, unit) VALUES (?1, ?2) ON CONFLICT(series) DO UPDATE SET unit = excluded.unit",
                    [&r.name, r.unit.as_str()],
                )?;
                let mut st = tx.prepare_cached(
                    "INSERT INTO rates (series, date, value) VALUES (?1, ?2, ?3)",
                )?;
                for (d, v) in &r.points {
                    st.execute(params![r.name, d.to_string(), v])?;
                }
            }
            Ok(())
        }
        Content::Sectors(rows) => {
            let mut st = tx.prepare_cached(
                "INSERT INTO sectors (ticker, sector, subsector, name, source) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(ticker) DO UPDATE SET sector = excluded.sector, subsector = excluded.subsector, name = excluded.name, source = excluded.source",
            )?;
            for r in rows {
                st.execute(params![
                    r.symbol.as_str(),
                    r.sector,
                    r.subsector,
                    r.name,
                    stem
                ])?;
            }
            Ok(())
        }
        Content::CashEvents(events) => {
            tx.execute("DELETE FROM corporate_actions WHERE source = ?1", [dataset])?;
            insert_actions(tx, events, dataset)
        }
        Content::IndexWeights { index, rows } => {
            tx.execute("DELETE FROM index_weights WHERE index_name = ?1", [index])?;
            let mut st = tx.prepare_cached(
                "INSERT INTO index_weights (index_name, ticker, name, kind, theoretical_qty, weight_pct) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for r in rows {
                st.execute(params![
                    index,
                    r.ticker.as_str(),
                    r.name,
                    r.kind,
                    r.theoretical_qty,
                    r.weight_pct
                ])?;
            }
            Ok(())
        }
        Content::Ignored(_) => Ok(()),
    }
}

fn insert_actions(
    tx: &rusqlite::Transaction<'_>,
    events: &[CorporateAction],
    source: &str,
) -> rusqlite::Result<()> {
    let mut st = tx.prepare_cached(
        "INSERT INTO corporate_actions (ticker, date, kind, value, per_shares, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for a in events {
        st.execute(params![
            a.ticker,
            a.date.to_string(),
            a.kind.as_str(),
            a.value,
            a.per_shares,
            source
        ])?;
    }
    Ok(())
}

/// Makes a series' stored rows those of `rows` by writing only what differs: a re-import or
/// a fetch's top-up of a long series rewrites its new and changed bars, not all of them.
/// `select` reads `(key, o, h, l, c, v)` by `?1` ticker and `?2` interval; `upsert` and
/// `delete` take `?1` ticker, `?2` interval, `?3` key (and `?4..?8` the values).
fn write_diff(
    tx: &rusqlite::Transaction<'_>,
    rows: impl Iterator<Item = (String, Ohlcv)>,
    select: &str,
    upsert: &str,
    delete: &str,
    (t, iv): (&str, i64),
) -> rusqlite::Result<()> {
    let mut old: std::collections::HashMap<String, Ohlcv> = std::collections::HashMap::new();
    {
        let mut st = tx.prepare_cached(select)?;
        let found = st.query_map(params![t, iv], |r| {
            Ok((r.get::<_, String>(0)?, ohlcv_at(r, 1)?))
        })?;
        for row in found {
            let (k, v) = row?;
            old.insert(k, v);
        }
    }
    let mut put = tx.prepare_cached(upsert)?;
    for (k, v) in rows {
        if old.remove(&k).is_some_and(|o| o == v) {
            continue;
        }
        put.execute(params![t, iv, k, v.open, v.high, v.low, v.close, v.volume])?;
    }
    let mut del = tx.prepare_cached(delete)?;
    for k in old.keys() {
        del.execute(params![t, iv, k])?;
    }
    Ok(())
}

fn write_prices(
    tx: &rusqlite::Transaction<'_>,
    p: &PriceSeries,
    dataset: &str,
    import_id: i64,
) -> rusqlite::Result<()> {
    let t = p.symbol.as_str();
    let iv = interval_s(p.interval);
    match &p.bars {
        Bars::Daily(bars) => {
            let rows = bars.iter().map(|b| (b.ts.to_string(), b.ohlcv()));
            write_diff(
                tx,
                rows,
                "SELECT date, open, high, low, close, volume FROM prices WHERE ticker = ?1 AND ?2 = ?2",
                "INSERT OR REPLACE INTO prices (ticker, date, open, high, low, close, volume) VALUES (?1, ?3, ?4, ?5, ?6, ?7, ?8)",
                "DELETE FROM prices WHERE ticker = ?1 AND date = ?3",
                (t, iv),
            )?;
        }
        Bars::Intraday(bars) => {
            let rows = bars.iter().map(|b| (ts_text(b.ts), b.ohlcv()));
            write_diff(
                tx,
                rows,
                "SELECT ts, open, high, low, close, volume FROM prices_intraday WHERE ticker = ?1 AND interval_s = ?2",
                "INSERT OR REPLACE INTO prices_intraday (ticker, interval_s, ts, open, high, low, close, volume) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                "DELETE FROM prices_intraday WHERE ticker = ?1 AND interval_s = ?2 AND ts = ?3",
                (t, iv),
            )?;
        }
    }
    tx.execute(
        "INSERT INTO instruments (ticker, interval_s, market, format, source_basis, adjust) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(ticker, interval_s) DO UPDATE SET market = excluded.market, format = excluded.format,
            source_basis = excluded.source_basis, adjust = excluded.adjust",
        params![t, iv, p.market.as_str(), p.format.as_str(), p.format.source_basis(), p.adjust.as_str()],
    )?;
    tx.execute(
        "DELETE FROM flagged_rows WHERE ticker = ?1 AND interval_s = ?2",
        params![t, iv],
    )?;
    let mut st = tx.prepare_cached(
        "INSERT INTO flagged_rows (ticker, interval_s, ts, line, flag, detail, open, high, low, close, volume, import_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    for r in &p.flagged {
        let v = r.values;
        st.execute(params![
            t,
            iv,
            r.ts,
            r.line as i64,
            r.flag.as_str(),
            r.detail,
            v.open,
            v.high,
            v.low,
            v.close,
            v.volume,
            import_id
        ])?;
    }
    tx.execute("DELETE FROM corporate_actions WHERE source = ?1", [dataset])?;
    insert_actions(tx, &p.actions, dataset)
}
