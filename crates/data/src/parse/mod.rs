//! Reading one file: detect its kind from the header, parse it with structural checks, and
//! apply value checks, adjustment and the bad-row policy to price files.

mod prices;
mod reference;

use std::path::{Path, PathBuf};

use csv::StringRecord;
use systrade_core::id::sha256_hex;
use systrade_core::{Market, Symbol};

use crate::adjust::Adjust;
use crate::error::{DataError, Location};
use crate::layout::{self, FileKind, PriceFormat, RateUnit};
use crate::series::{CorporateAction, Interval, PriceSeries};
use crate::validate::BadRowPolicy;

pub use reference::{IndexWeight, RateSeries, SectorRow};

/// How to read files; every field has the command line's default.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// Force a price layout (`None`: decided by the header).
    pub format: Option<PriceFormat>,
    /// Force the market (`None`: Binance → crypto, Yahoo B3 → b3, else by calendar fit).
    pub market: Option<Market>,
    pub adjust: Adjust,
    pub on_bad_row: BadRowPolicy,
    /// Trust the last Binance candle as complete (default: it is the still-open candle).
    pub trust_last_candle: bool,
    /// The last row is a candle still open (a download knows it): flagged `partial_candle`
    /// in any layout.
    pub last_candle_open: bool,
    /// Override the symbol (price files) or series name (rate files) taken from the file name.
    pub name: Option<String>,
    /// Unit of a `date,value` rate file whose header does not say.
    pub rate_unit: Option<RateUnit>,
}

/// What a file contained.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Prices(Box<PriceSeries>),
    Rates(Vec<RateSeries>),
    Sectors(Vec<SectorRow>),
    CashEvents(Vec<CorporateAction>),
    IndexWeights {
        index: String,
        rows: Vec<IndexWeight>,
    },
    /// Recognised, but not market data (e.g. a data manifest): nothing to import.
    Ignored(String),
}

impl Content {
    /// A short name of the kind, for provenance.
    pub fn kind(&self) -> &'static str {
        match self {
            Content::Prices(_) => "prices",
            Content::Rates(_) => "rates",
            Content::Sectors(_) => "sectors",
            Content::CashEvents(_) => "cash_events",
            Content::IndexWeights { .. } => "index_weights",
            Content::Ignored(_) => "ignored",
        }
    }
}

/// One parsed file with its provenance.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFile {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    /// Data rows read (header excluded).
    pub rows_read: u64,
    pub content: Content,
}

/// A sequence of records with their line numbers, from a CSV or a spreadsheet.
pub(crate) struct Records<'a> {
    path: &'a Path,
    inner: RecordsInner<'a>,
}

enum RecordsInner<'a> {
    Csv(csv::Reader<&'a [u8]>),
    Rows(std::vec::IntoIter<(u64, StringRecord)>),
}

impl<'a> Records<'a> {
    /// Reads the next record into `rec`; returns its line, or `None` at the end.
    pub(crate) fn next_into(&mut self, rec: &mut StringRecord) -> Result<Option<u64>, DataError> {
        match &mut self.inner {
            RecordsInner::Csv(r) => match r.read_record(rec) {
                Ok(true) => {
                    // Trimmed here, only when a field needs it (the reader's own trim
                    // rebuilds every record).
                    if needs_trim(rec) {
                        rec.trim();
                    }
                    Ok(Some(rec.position().map(|p| p.line()).unwrap_or(0)))
                }
                Ok(false) => Ok(None),
                Err(e) => Err(csv_error(self.path, &e)),
            },
            RecordsInner::Rows(it) => Ok(it.next().map(|(line, r)| {
                *rec = r;
                line
            })),
        }
    }
}

/// True when a field may start or end with whitespace (ASCII, or any non-ASCII character,
/// which may be Unicode whitespace: `StringRecord::trim` decides those).
fn needs_trim(rec: &StringRecord) -> bool {
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_whitespace() || !b.is_ascii());
    rec.iter()
        .any(|f| edge(f.as_bytes().first()) || edge(f.as_bytes().last()))
}

fn csv_error(path: &Path, e: &csv::Error) -> DataError {
    let line = e.position().map(|p| p.line());
    let problem = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("row has {len} fields, the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "text is not valid UTF-8".to_string(),
        _ => format!("malformed CSV: {e}"),
    };
    DataError::structural(
        Location {
            file: path.to_path_buf(),
            line,
            symbol: None,
        },
        problem,
    )
}

/// Reads and parses one file (CSV, or `.xlsx`/`.xls`/`.ods` with the `excel` feature).
pub fn parse_file(path: &Path, opts: &ParseOptions) -> Result<ParsedFile, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_bytes(path, &bytes, opts)
}

/// Parses file contents already in memory; `path` names the file in messages and decides
/// the symbol.
pub fn parse_bytes(
    path: &Path,
    bytes: &[u8],
    opts: &ParseOptions,
) -> Result<ParsedFile, DataError> {
    let at = |line: Option<u64>| Location {
        file: path.to_path_buf(),
        line,
        symbol: None,
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(DataError::structural(at(None), "empty file"));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (header, mut records) = if matches!(ext.as_str(), "xlsx" | "xls" | "xlsm" | "ods") {
        spreadsheet_records(path, bytes)?
    } else {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::Headers)
            .from_reader(bytes);
        let header = rdr.headers().map_err(|e| csv_error(path, &e))?.clone();
        (
            header,
            Records {
                path,
                inner: RecordsInner::Csv(rdr),
            },
        )
    };
    let cols: Vec<&str> = header.iter().collect();
    let kind = layout::detect(&cols, opts.format).map_err(|problem| {
        DataError::structural(
            at(Some(1)),
            format!("{problem} (header: {})", cols.join(",")),
        )
    })?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("")
        .to_string();
    let mut rows_read = 0u64;
    let content = match kind {
        FileKind::Prices { format, cols } => {
            let (sym_text, hint) = symbol_from_stem(&stem);
            let sym_text = opts.name.clone().unwrap_or(sym_text);
            let symbol = Symbol::new(&sym_text).map_err(|e| {
                DataError::structural(at(None), format!("file name does not give a symbol: {e}"))
            })?;
            let series = prices::parse_prices(
                path,
                &mut records,
                format,
                &cols,
                symbol,
                hint,
                opts,
                &mut rows_read,
            )?;
            Content::Prices(Box::new(series))
        }
        FileKind::Manifest => Content::Ignored("data manifest (file list), not market data".into()),
        other => {
            reference::parse_reference(path, &mut records, other, &stem, opts, &mut rows_read)?
        }
    };
    Ok(ParsedFile {
        path: path.to_path_buf(),
        sha256: sha256_hex(bytes),
        bytes: bytes.len() as u64,
        rows_read,
        content,
    })
}

#[cfg(feature = "excel")]
fn spreadsheet_records<'a>(
    path: &'a Path,
    bytes: &[u8],
) -> Result<(StringRecord, Records<'a>), DataError> {
    let mut rows = crate::excel::rows(path, bytes)?.into_iter();
    let header = rows.next().map(|(_, r)| r).ok_or_else(|| {
        DataError::structural(
            Location {
                file: path.to_path_buf(),
                line: None,
                symbol: None,
            },
            "empty sheet",
        )
    })?;
    let rest: Vec<_> = rows.collect();
    Ok((
        header,
        Records {
            path,
            inner: RecordsInner::Rows(rest.into_iter()),
        },
    ))
}

#[cfg(not(feature = "excel"))]
fn spreadsheet_records<'a>(
    path: &'a Path,
    _bytes: &[u8],
) -> Result<(StringRecord, Records<'a>), DataError> {
    Err(DataError::Usage(format!(
        "{}: spreadsheets need systrade built with the `excel` feature",
        path.display()
    )))
}

/// The symbol and an interval hint from a file name: `BTCUSDT_1d` → (`BTCUSDT`, 1d),
/// `DBB_1min_2023-07-10_to_2025-07-08` → (`DBB`, 1min), `AAPL` → (`AAPL`, none).
pub fn symbol_from_stem(stem: &str) -> (String, Option<Interval>) {
    let mut parts = stem.splitn(3, '_');
    let first = parts.next().unwrap_or(stem);
    match parts.next().and_then(Interval::parse) {
        Some(iv) if !first.is_empty() => (first.to_string(), Some(iv)),
        _ => (stem.to_string(), None),
    }
}

/// Parses a number cell: empty, unparseable, NaN and infinite values are refused with a
/// message (callers turn it into a structural error naming file and line).
pub fn parse_num(s: &str) -> Result<f64, String> {
    if s.is_empty() {
        return Err("empty value".into());
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_nan() => Err(format!("NaN value {s:?}")),
        Ok(v) if v.is_infinite() => Err(format!("infinite value {s:?}")),
        Ok(v) => Ok(v),
        Err(_) => Err(format!("unparseable number {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_symbol_from_stem() {
        assert_eq!(
            symbol_from_stem("BTCUSDT_1d"),
            ("BTCUSDT".into(), Some(Interval::Daily))
        );
        assert_eq!(
            symbol_from_stem("DBB_1min_2023-07-10_to_2025-07-08"),
            ("DBB".into(), Some(Interval::Seconds(60)))
        );
        assert_eq!(symbol_from_stem("BRK.B"), ("BRK.B".into(), None));
        assert_eq!(
            symbol_from_stem("cdi_daily_2015"),
            ("cdi_daily_2015".into(), None)
        );
    }

    #[test]
    fn test_fields_are_trimmed_as_the_reader_would() {
        // Spaces, tabs and Unicode whitespace (no-break, ideographic) around fields.
        let padded = "date , open,high,low,close,volume\n\
                      2024-01-02 , 1.5,2,1,\t1.75 ,100\n\
                      \u{a0}2024-01-03,1.5,2,1,1.8\u{3000},100\n\
                      2024-01-04,1.5,2,1,1.9,100\n";
        let plain = "date,open,high,low,close,volume\n\
                     2024-01-02,1.5,2,1,1.75,100\n\
                     2024-01-03,1.5,2,1,1.8,100\n\
                     2024-01-04,1.5,2,1,1.9,100\n";
        let opts = ParseOptions::default();
        let a = parse_bytes(Path::new("X.csv"), padded.as_bytes(), &opts).unwrap();
        let b = parse_bytes(Path::new("X.csv"), plain.as_bytes(), &opts).unwrap();
        assert_eq!(a.content, b.content);
        assert_eq!(a.rows_read, 3);
        let mut rec = StringRecord::from(vec!["a", "b"]);
        assert!(!needs_trim(&rec));
        for f in [" a", "a\t", "\u{a0}a", "é"] {
            rec = StringRecord::from(vec!["x", f]);
            assert!(needs_trim(&rec), "{f:?}");
        }
    }

    #[test]
    fn test_parse_num() {
        assert_eq!(parse_num("43.968750"), Ok(43.96875));
        assert!(parse_num("NaN").unwrap_err().contains("NaN"));
        assert!(parse_num("nan").is_err());
        assert!(parse_num("inf").unwrap_err().contains("infinite"));
        assert!(parse_num("").unwrap_err().contains("empty"));
        assert!(parse_num("1,5").is_err());
    }
}
