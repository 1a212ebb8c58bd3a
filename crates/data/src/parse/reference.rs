//! Reference files: rate series, sector maps, cash events and index weights.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use csv::StringRecord;
use serde::Serialize;
use systrade_core::Symbol;

use super::{Content, ParseOptions, Records, parse_num};
use crate::error::{DataError, Location};
use crate::layout::{FileKind, RateUnit};
use crate::series::{ActionKind, CorporateAction};
use crate::time::{RowTime, parse_dmy, parse_row_time};

/// A dated rate series (CDI, SELIC, IPCA, …) in its own unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateSeries {
    pub name: String,
    pub unit: RateUnit,
    pub points: Vec<(NaiveDate, f64)>,
}

/// One row of a sector map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectorRow {
    pub symbol: Symbol,
    pub sector: String,
    pub subsector: Option<String>,
    pub name: Option<String>,
}

/// One constituent of an index's theoretical portfolio.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexWeight {
    pub ticker: Symbol,
    pub name: Option<String>,
    pub kind: Option<String>,
    pub theoretical_qty: Option<f64>,
    /// Weight in percent.
    pub weight_pct: f64,
}

fn date_of(t: RowTime) -> NaiveDate {
    match t {
        RowTime::Date(d) => d,
        RowTime::Instant { local_date, .. } => local_date,
    }
}

pub(super) fn parse_reference(
    path: &Path,
    records: &mut Records<'_>,
    kind: FileKind,
    stem: &str,
    opts: &ParseOptions,
    rows_read: &mut u64,
) -> Result<Content, DataError> {
    let err = |line: u64, symbol: Option<&str>, p: String| {
        DataError::structural(
            Location {
                file: path.to_path_buf(),
                line: Some(line),
                symbol: symbol.map(String::from),
            },
            p,
        )
    };
    let name = opts.name.clone().unwrap_or_else(|| stem.to_string());
    let mut rec = StringRecord::new();
    let mut n = 0u64;
    let content = match kind {
        FileKind::Rate { date, value, unit } => {
            let unit = match (unit, opts.rate_unit) {
                (RateUnit::Unspecified, Some(u)) => u,
                (u, _) => u,
            };
            let mut points = Vec::new();
            while let Some(line) = records.next_into(&mut rec)? {
                n += 1;
                let (d, v) =
                    rate_cells(&rec, date, value).map_err(|p| err(line, Some(&name), p))?;
                push_point(&mut points, d, v).map_err(|p| err(line, Some(&name), p))?;
            }
            Content::Rates(vec![RateSeries { name, unit, points }])
        }
        FileKind::RateAnnualDaily {
            date,
            annual,
            daily,
        } => {
            let (mut a, mut d) = (Vec::new(), Vec::new());
            while let Some(line) = records.next_into(&mut rec)? {
                n += 1;
                let (day, av) =
                    rate_cells(&rec, date, annual).map_err(|p| err(line, Some(&name), p))?;
                let (_, dv) =
                    rate_cells(&rec, date, daily).map_err(|p| err(line, Some(&name), p))?;
                push_point(&mut a, day, av).map_err(|p| err(line, Some(&name), p))?;
                d.push((day, dv));
            }
            Content::Rates(vec![
                RateSeries {
                    name: name.clone(),
                    unit: RateUnit::PctPerYear,
                    points: a,
                },
                RateSeries {
                    name: format!("{name}_daily"),
                    unit: RateUnit::PctPerDay,
                    points: d,
                },
            ])
        }
        FileKind::Sectors {
            symbol,
            sector,
            subsector,
            name: name_col,
        } => {
            let mut map: BTreeMap<Symbol, SectorRow> = BTreeMap::new();
            while let Some(line) = records.next_into(&mut rec)? {
                n += 1;
                let sym_text = rec.get(symbol).unwrap_or("");
                let sym = Symbol::new(sym_text).map_err(|e| err(line, None, e.to_string()))?;
                let sec = rec.get(sector).unwrap_or("").to_string();
                if sec.is_empty() {
                    return Err(err(line, Some(sym_text), "empty sector".into()));
                }
                let opt = |i: Option<usize>| {
                    i.and_then(|i| rec.get(i))
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                };
                let row = SectorRow {
                    symbol: sym.clone(),
                    sector: sec,
                    subsector: opt(subsector),
                    name: opt(name_col),
                };
                if let Some(prev) = map.get(&sym)
                    && prev.sector != row.sector
                {
                    return Err(err(
                        line,
                        Some(sym_text),
                        format!(
                            "listed twice with different sectors ({} and {})",
                            prev.sector, row.sector
                        ),
                    ));
                }
                map.insert(sym, row);
            }
            Content::Sectors(map.into_values().collect())
        }
        FileKind::CashEvents {
            date,
            value,
            kind,
            per_shares,
            ticker,
        } => {
            let mut events = Vec::new();
            while let Some(line) = records.next_into(&mut rec)? {
                n += 1;
                let t = rec.get(ticker).unwrap_or("");
                Symbol::new(t).map_err(|e| err(line, None, e.to_string()))?;
                let dtext = rec.get(date).unwrap_or("");
                let d = parse_dmy(dtext)
                    .or_else(|| parse_row_time(dtext).map(date_of))
                    .ok_or_else(|| {
                        err(
                            line,
                            Some(t),
                            format!("unparseable date {dtext:?} (expected dd/mm/yyyy)"),
                        )
                    })?;
                let v = parse_num(rec.get(value).unwrap_or(""))
                    .map_err(|p| err(line, Some(t), format!("value: {p}")))?;
                let ktext = rec.get(kind).unwrap_or("");
                let k = ActionKind::from_b3_type(ktext).ok_or_else(|| {
                    err(line, Some(t), format!("unknown cash event type {ktext:?} (expected dividendo, juros/jrs cap proprio, rendimento, restituição de capital or subscrição)"))
                })?;
                let per = match per_shares
                    .and_then(|i| rec.get(i))
                    .filter(|s| !s.is_empty())
                {
                    Some(s) => {
                        Some(parse_num(s).map_err(|p| err(line, Some(t), format!("shares: {p}")))?)
                    }
                    None => None,
                };
                events.push(CorporateAction {
                    ticker: t.to_string(),
                    date: d,
                    kind: k,
                    value: v,
                    per_shares: per,
                });
            }
            Content::CashEvents(events)
        }
        FileKind::IndexWeights {
            ticker,
            name: name_col,
            kind,
            qty,
            weight,
        } => {
            let mut rows = Vec::new();
            while let Some(line) = records.next_into(&mut rec)? {
                n += 1;
                let t = rec.get(ticker).unwrap_or("");
                let sym = Symbol::new(t).map_err(|e| err(line, None, e.to_string()))?;
                let w = parse_num(rec.get(weight).unwrap_or(""))
                    .map_err(|p| err(line, Some(t), format!("weight: {p}")))?;
                let q = match qty.and_then(|i| rec.get(i)).filter(|s| !s.is_empty()) {
                    Some(s) => Some(
                        parse_num(s).map_err(|p| err(line, Some(t), format!("quantity: {p}")))?,
                    ),
                    None => None,
                };
                let opt = |i: Option<usize>| {
                    i.and_then(|i| rec.get(i))
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                };
                rows.push(IndexWeight {
                    ticker: sym,
                    name: opt(name_col),
                    kind: opt(kind),
                    theoretical_qty: q,
                    weight_pct: w,
                });
            }
            Content::IndexWeights { index: name, rows }
        }
        FileKind::Prices { .. } | FileKind::Manifest => {
            Content::Ignored("handled elsewhere".into())
        }
    };
    *rows_read = n;
    if n == 0 {
        return Err(DataError::structural(
            Location {
                file: path.to_path_buf(),
                line: None,
                symbol: None,
            },
            "no data rows after the header",
        ));
    }
    Ok(content)
}

fn rate_cells(rec: &StringRecord, date: usize, value: usize) -> Result<(NaiveDate, f64), String> {
    let dtext = rec.get(date).unwrap_or("");
    let d = parse_row_time(dtext)
        .map(date_of)
        .ok_or_else(|| format!("unparseable date {dtext:?}"))?;
    let vtext = rec.get(value).unwrap_or("").trim_end_matches('%').trim();
    let v = parse_num(vtext)?;
    Ok((d, v))
}

fn push_point(points: &mut Vec<(NaiveDate, f64)>, d: NaiveDate, v: f64) -> Result<(), String> {
    if let Some((prev, _)) = points.last() {
        if d == *prev {
            return Err(format!("duplicate date {d}"));
        }
        if d < *prev {
            return Err(format!(
                "date {d} is before the previous row's {prev}: dates must ascend"
            ));
        }
    }
    points.push((d, v));
    Ok(())
}
