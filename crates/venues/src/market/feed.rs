//! The bars a local data vendor serves: read raw from vendor files (so Alpha Vantage's
//! adjusted close, dividends and splits, and Yahoo's adjusted close, are served as the
//! vendor sent them), or taken from a trading venue's engine.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use systrade_core::{DailyBar, Market, Symbol};
use systrade_data::layout::{FileKind, PriceFormat, detect};
use systrade_data::parse::symbol_from_stem;
use systrade_data::time::parse_row_time;

use crate::VenueError;

/// One bar as served.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The market date of a daily bar; the UTC date of an intraday one.
    pub date: NaiveDate,
    /// When the bar opens (a daily bar: its session's open; crypto: 00:00 UTC).
    pub open_at: DateTime<Utc>,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    pub adj_close: Option<f64>,
    pub dividend: Option<f64>,
    pub split: Option<f64>,
}

/// A symbol's bars.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub market: Market,
    /// Bar length in seconds (86,400 for daily bars).
    pub interval: i64,
    pub rows: Vec<Row>,
}

impl Series {
    pub fn daily(&self) -> bool {
        self.interval == 86_400
    }
}

/// When a daily bar's session opens.
pub fn session_open(d: NaiveDate, market: Market) -> DateTime<Utc> {
    let local = |tz: chrono_tz::Tz, h: u32, m: u32| {
        let t = d.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN));
        tz.from_local_datetime(&t)
            .earliest()
            .map_or_else(|| t.and_utc(), |x| x.with_timezone(&Utc))
    };
    match market {
        Market::Us => local(chrono_tz::America::New_York, 9, 30),
        Market::B3 => local(chrono_tz::America::Sao_Paulo, 10, 0),
        Market::Crypto => d.and_time(NaiveTime::MIN).and_utc(),
    }
}

/// Bars from a trading venue's engine (prices as it loaded them).
pub fn from_daily(
    bars: &BTreeMap<Symbol, Vec<DailyBar>>,
    market: Market,
) -> BTreeMap<String, Series> {
    bars.iter()
        .map(|(s, b)| {
            let rows = b
                .iter()
                .map(|x| Row {
                    date: x.ts,
                    open_at: session_open(x.ts, market),
                    open: x.open,
                    high: x.high,
                    low: x.low,
                    close: x.close,
                    volume: x.volume,
                    adj_close: None,
                    dividend: None,
                    split: None,
                })
                .collect();
            (
                s.to_string(),
                Series {
                    market,
                    interval: 86_400,
                    rows,
                },
            )
        })
        .collect()
}

fn num(path: &Path, line: usize, s: &str) -> Result<f64, VenueError> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| VenueError::Data {
            path: path.display().to_string(),
            message: format!("line {line}: {s:?} is not a number"),
        })
}

/// Reads one vendor price file as it is (no adjustment, no checks beyond numbers).
fn read_file(path: &Path) -> Result<Option<(String, Series)>, VenueError> {
    let bad = |m: String| VenueError::Data {
        path: path.display().to_string(),
        message: m,
    };
    let mut r = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(path)
        .map_err(|e| bad(e.to_string()))?;
    let header: Vec<String> = r
        .headers()
        .map_err(|e| bad(e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    let refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let Ok(FileKind::Prices { format, cols }) = detect(&refs, None) else {
        return Ok(None);
    };
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let (symbol, _) = symbol_from_stem(stem);
    let mut rows = Vec::new();
    let mut times = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| bad(format!("line {line}: {e}")))?;
        let cell = |j: usize| rec.get(j).unwrap_or("");
        let opt = |j: Option<usize>| -> Result<Option<f64>, VenueError> {
            match j.map(cell).filter(|s| !s.trim().is_empty()) {
                Some(s) => num(path, line, s).map(Some),
                None => Ok(None),
            }
        };
        let t = parse_row_time(cell(cols.time))
            .ok_or_else(|| bad(format!("line {line}: time {:?}", cell(cols.time))))?;
        times.push(t);
        rows.push(Row {
            date: NaiveDate::MIN,
            open_at: t.utc(),
            open: num(path, line, cell(cols.open))?,
            high: num(path, line, cell(cols.high))?,
            low: num(path, line, cell(cols.low))?,
            close: num(path, line, cell(cols.close))?,
            volume: num(path, line, cell(cols.volume))?,
            adj_close: opt(cols.adj_close)?,
            dividend: opt(cols.dividend)?,
            split: opt(cols.split)?,
        });
    }
    if rows.is_empty() {
        return Ok(None);
    }
    let weekend = times.iter().any(|t| {
        use chrono::Datelike;
        t.daily_date(Market::Crypto).weekday().number_from_monday() > 5
    });
    let market = match format {
        PriceFormat::Binance => Market::Crypto,
        PriceFormat::YahooB3 => Market::B3,
        _ if weekend => Market::Crypto,
        _ => Market::Us,
    };
    // The most common step (bars off the grid after an outage do not change it).
    let mut steps: BTreeMap<i64, usize> = BTreeMap::new();
    for w in times.windows(2) {
        let s = (w[1].utc() - w[0].utc()).num_seconds();
        if s > 0 {
            *steps.entry(s).or_default() += 1;
        }
    }
    let step = steps
        .iter()
        .max_by_key(|(s, n)| (**n, std::cmp::Reverse(**s)))
        .map_or(86_400, |(s, _)| *s);
    let interval = if times.iter().all(|t| t.is_date()) || step >= 86_400 {
        86_400
    } else {
        step
    };
    for (row, t) in rows.iter_mut().zip(&times) {
        if interval == 86_400 {
            row.date = t.daily_date(market);
            row.open_at = session_open(row.date, market);
        } else {
            row.date = t.utc().date_naive();
        }
    }
    Ok(Some((
        symbol,
        Series {
            market,
            interval,
            rows,
        },
    )))
}

/// Every price file under `root`, by symbol (a file that is not prices is left out).
pub fn load(root: &Path) -> Result<BTreeMap<String, Series>, VenueError> {
    let files = systrade_data::folder::data_files(root).map_err(|e| VenueError::Data {
        path: root.display().to_string(),
        message: e.to_string(),
    })?;
    let mut out = BTreeMap::new();
    for f in files {
        if let Some((s, series)) = read_file(&f)? {
            out.insert(s, series);
        }
    }
    if out.is_empty() {
        return Err(VenueError::Data {
            path: root.display().to_string(),
            message: "no price files".into(),
        });
    }
    Ok(out)
}
