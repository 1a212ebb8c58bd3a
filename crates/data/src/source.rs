//! `--data SRC`: a market database, a folder of vendor files, or one file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use systrade_core::{DailyBar, Market, Symbol};

use crate::db::MarketDb;
use crate::error::DataError;
use crate::folder::{data_files, parse_all};
use crate::parse::{Content, ParseOptions, parse_file, symbol_from_stem};
use crate::series::Interval;

/// A symbol's daily bars with the market they trade on.
#[derive(Debug, Clone, PartialEq)]
pub struct DailySeries {
    pub symbol: Symbol,
    pub market: Market,
    pub bars: Vec<DailyBar>,
}

/// A [`DataSource`] listed once (see [`DataSource::listing`]).
pub enum Listing {
    Db {
        path: PathBuf,
        db: Box<MarketDb>,
        markets: BTreeMap<Symbol, Market>,
    },
    Files {
        root: PathBuf,
        /// The files whose name gives each symbol, in the folder walk's order.
        by_symbol: BTreeMap<String, Vec<PathBuf>>,
    },
}

impl Listing {
    /// The daily bars of `symbol` (see [`DataSource::daily`]).
    pub fn daily(&self, symbol: &Symbol, opts: &ParseOptions) -> Result<DailySeries, DataError> {
        match self {
            Listing::Db { path, db, markets } => {
                let market = *markets.get(symbol).ok_or_else(|| {
                    DataError::NotFound(format!("{}: unknown symbol {symbol}", path.display()))
                })?;
                Ok(DailySeries {
                    symbol: symbol.clone(),
                    market,
                    bars: db.daily_bars(symbol)?,
                })
            }
            Listing::Files { root, by_symbol } => file_daily(root, by_symbol, symbol, opts),
        }
    }

    /// The daily bars of each of `symbols`, in their order; a folder's files are read in
    /// parallel, and a parse this program already made of these very files is read back from
    /// the cache ([`crate::cache`]). On failure, the error of the first symbol (in that
    /// order) that failed.
    pub fn daily_many(
        &self,
        symbols: &[&Symbol],
        opts: &ParseOptions,
    ) -> Result<Vec<DailySeries>, (usize, DataError)> {
        let (root, by_symbol) = match self {
            Listing::Db { .. } => {
                return symbols
                    .iter()
                    .enumerate()
                    .map(|(i, s)| self.daily(s, opts).map_err(|e| (i, e)))
                    .collect();
            }
            Listing::Files { root, by_symbol } => (root, by_symbol),
        };
        let files: Vec<PathBuf> = symbols
            .iter()
            .flat_map(|s| by_symbol.get(s.as_str()).into_iter().flatten().cloned())
            .collect();
        let cache = crate::cache::cache_dir().and_then(|dir| {
            let key = crate::cache::key(root, &files, opts)?;
            Some((
                format!("{key}daily series of the files' symbols, in order\n"),
                dir,
            ))
        });
        if let Some((key, dir)) = &cache
            && let Some(series) = crate::cache::load(dir, key)
            && series.len() == symbols.len()
            && series.iter().zip(symbols).all(|(s, sym)| &s.symbol == *sym)
        {
            return Ok(series);
        }
        use rayon::prelude::*;
        let got: Vec<Result<DailySeries, DataError>> = symbols
            .par_iter()
            .map(|s| file_daily(root, by_symbol, s, opts))
            .collect();
        let out = got
            .into_iter()
            .enumerate()
            .map(|(i, r)| r.map_err(|e| (i, e)))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some((key, dir)) = &cache {
            crate::cache::store(dir, key, &out);
        }
        Ok(out)
    }
}

/// A symbol's daily bars from the first of its files that holds daily prices.
fn file_daily(
    root: &Path,
    by_symbol: &BTreeMap<String, Vec<PathBuf>>,
    symbol: &Symbol,
    opts: &ParseOptions,
) -> Result<DailySeries, DataError> {
    for p in by_symbol.get(symbol.as_str()).into_iter().flatten() {
        if let Content::Prices(s) = parse_file(p, opts)?.content
            && let Some(bars) = s.bars.daily()
        {
            return Ok(DailySeries {
                symbol: symbol.clone(),
                market: s.market,
                bars: bars.to_vec(),
            });
        }
    }
    Err(DataError::NotFound(format!(
        "{}: unknown symbol {symbol} (no daily price file named after it)",
        root.display()
    )))
}

/// Where market data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// A SQLite database (`prices` table).
    Db(PathBuf),
    /// A folder (searched recursively) or a single vendor file.
    Files(PathBuf),
}

/// The file starts with SQLite's header.
pub fn is_sqlite(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == b"SQLite format 3\0"
}

impl DataSource {
    /// Decides what `path` is: a SQLite file (by its header), else files.
    pub fn open(path: &Path) -> Result<Self, DataError> {
        if !path.exists() {
            return Err(DataError::NotFound(format!(
                "{}: no such file or folder",
                path.display()
            )));
        }
        Ok(if path.is_file() && is_sqlite(path) {
            DataSource::Db(path.to_path_buf())
        } else {
            DataSource::Files(path.to_path_buf())
        })
    }

    /// The daily bars of `symbol`. In a folder only files whose name gives that symbol are
    /// read (`AAPL.csv`, `BTCUSDT_1d.csv`); unknown symbols are an error naming the source.
    /// Loading many symbols: list the source once with [`DataSource::listing`].
    pub fn daily(&self, symbol: &Symbol, opts: &ParseOptions) -> Result<DailySeries, DataError> {
        self.listing()?.daily(symbol, opts)
    }

    /// The source listed once — a folder's files by the symbol their names give, a
    /// database's daily instruments — so loading N symbols lists (and stats) it once, not N
    /// times.
    pub fn listing(&self) -> Result<Listing, DataError> {
        Ok(match self {
            DataSource::Db(path) => {
                let db = MarketDb::open_existing(path)?;
                let markets = db
                    .instruments()?
                    .into_iter()
                    .filter(|i| i.interval == Interval::Daily)
                    .map(|i| (i.symbol, i.market))
                    .collect();
                Listing::Db {
                    path: path.clone(),
                    db: Box::new(db),
                    markets,
                }
            }
            DataSource::Files(root) => {
                let mut by_symbol: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
                for p in data_files(root)? {
                    let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                    by_symbol
                        .entry(symbol_from_stem(stem).0.to_string())
                        .or_default()
                        .push(p);
                }
                Listing::Files {
                    root: root.clone(),
                    by_symbol,
                }
            }
        })
    }

    /// Every daily series in the source, in symbol order.
    pub fn all_daily(&self, opts: &ParseOptions) -> Result<Vec<DailySeries>, DataError> {
        let mut out = Vec::new();
        match self {
            DataSource::Db(path) => {
                let db = MarketDb::open_existing(path)?;
                for info in db
                    .instruments()?
                    .into_iter()
                    .filter(|i| i.interval == Interval::Daily)
                {
                    let bars = db.daily_bars(&info.symbol)?;
                    out.push(DailySeries {
                        symbol: info.symbol,
                        market: info.market,
                        bars,
                    });
                }
            }
            DataSource::Files(root) => {
                let files = data_files(root)?;
                // A parse this program already made of these very files (crate::cache).
                let cache = crate::cache::cache_dir()
                    .and_then(|dir| Some((crate::cache::key(root, &files, opts)?, dir)));
                if let Some((key, dir)) = &cache
                    && let Some(series) = crate::cache::load(dir, key)
                {
                    return Ok(series);
                }
                for f in parse_all(&files, opts, &|_| {})? {
                    if let Content::Prices(s) = f.content
                        && let Some(bars) = s.bars.daily()
                    {
                        out.push(DailySeries {
                            symbol: s.symbol.clone(),
                            market: s.market,
                            bars: bars.to_vec(),
                        });
                    }
                }
                let out = checked(out)?;
                if let Some((key, dir)) = &cache {
                    crate::cache::store(dir, key, &out);
                }
                return Ok(out);
            }
        }
        checked(out)
    }
}

/// In symbol order, each symbol once.
fn checked(mut out: Vec<DailySeries>) -> Result<Vec<DailySeries>, DataError> {
    out.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    if let Some(w) = out.windows(2).find(|w| w[0].symbol == w[1].symbol) {
        return Err(DataError::Usage(format!(
            "symbol {} has two daily series in the source",
            w[0].symbol
        )));
    }
    Ok(out)
}
