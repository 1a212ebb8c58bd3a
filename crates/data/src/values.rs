//! Dated value files (`date,<value>[,…]`): return series and NAV curves for `systrade metrics`.

use std::path::Path;

use chrono::NaiveDate;

use crate::error::{DataError, Location};
use crate::parse::parse_num;
use crate::time::{RowTime, parse_row_time};

/// One numeric column of a dated CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueSeries {
    pub column: String,
    pub dates: Vec<NaiveDate>,
    pub values: Vec<f64>,
}

/// Reads `column` (or the only non-date column, or one named in `preferred`) from a CSV whose
/// first column is a date. Dates must ascend without repeats and values must be finite
/// numbers; each problem is an error naming file and line.
pub fn read_value_series(
    path: &Path,
    column: Option<&str>,
    preferred: &[&str],
) -> Result<ValueSeries, DataError> {
    let at = |line: Option<u64>| Location {
        file: path.to_path_buf(),
        line,
        symbol: None,
    };
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(DataError::structural(at(None), "empty file"));
    }
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes.as_slice());
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| DataError::structural(at(Some(1)), format!("malformed CSV: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    if header.len() < 2 {
        return Err(DataError::structural(
            at(Some(1)),
            "need a date column and at least one value column",
        ));
    }
    let others: Vec<&String> = header.iter().skip(1).collect();
    let idx = match column {
        Some(c) => header.iter().position(|h| h == c).ok_or_else(|| {
            DataError::structural(
                at(Some(1)),
                format!("no column {c:?}; columns: {}", header.join(", ")),
            )
        })?,
        None if others.len() == 1 => 1,
        None => match header
            .iter()
            .position(|h| preferred.contains(&h.to_ascii_lowercase().as_str()))
        {
            Some(i) if i > 0 => i,
            _ => {
                return Err(DataError::Usage(format!(
                    "{}: several value columns ({}); pick one with --column",
                    path.display(),
                    others
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        },
    };
    let mut dates = Vec::new();
    let mut values = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            DataError::structural(
                at(e.position().map(|p| p.line())),
                format!("malformed CSV: {e}"),
            )
        })?;
        let line = rec.position().map(|p| p.line());
        let dtext = rec.get(0).unwrap_or("");
        let d = match parse_row_time(dtext) {
            Some(RowTime::Date(d)) => d,
            Some(RowTime::Instant { local_date, .. }) => local_date,
            None => {
                return Err(DataError::structural(
                    at(line),
                    format!("unparseable date {dtext:?}"),
                ));
            }
        };
        if let Some(prev) = dates.last() {
            if d == *prev {
                return Err(DataError::structural(
                    at(line),
                    format!("duplicate date {d}"),
                ));
            }
            if d < *prev {
                return Err(DataError::structural(
                    at(line),
                    format!("date {d} is before the previous row's {prev}: dates must ascend"),
                ));
            }
        }
        let v = parse_num(rec.get(idx).unwrap_or(""))
            .map_err(|p| DataError::structural(at(line), format!("{}: {p}", header[idx])))?;
        dates.push(d);
        values.push(v);
    }
    if values.is_empty() {
        return Err(DataError::structural(
            at(None),
            "no data rows after the header",
        ));
    }
    Ok(ValueSeries {
        column: header[idx].clone(),
        dates,
        values,
    })
}
