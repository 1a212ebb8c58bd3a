//! A trade sheet from the user's own signals (spec/execution-and-buckets.md §1): the signal
//! and position files read and checked, the prices and returns the sizing needs, and the
//! sheet's CSV. The sizing and the sheet are `systrade_portfolio::{size, sheet}`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;
use systrade_core::BadInput;
use systrade_core::Symbol;
use systrade_core::json::shortest;
use systrade_data::{DataSource, ParseOptions};
use systrade_portfolio::sheet::{Holding, Sheet, SheetInput, build_sheet, select_candidates};
use systrade_portfolio::{SizingLimits, SizingMethod};

use crate::table::Table;

fn bad(m: impl Into<String>) -> anyhow::Error {
    BadInput(m.into()).into()
}

/// Where a sheet's inputs come from.
pub struct SheetFiles<'a> {
    /// `date,symbol,signal`.
    pub signals: &'a Path,
    /// `symbol,qty[,avg_price][,last_buy][,last_loss_sale]`.
    pub positions: Option<&'a Path>,
    /// The price data folder and how to read it.
    pub data: &'a Path,
    pub parse: &'a ParseOptions,
}

/// How a sheet is sized.
pub struct SheetParams {
    /// The date of the prices (default: the latest signal date).
    pub as_of: Option<NaiveDate>,
    pub capital: f64,
    pub method: SizingMethod,
    pub max_positions: Option<usize>,
    pub max_weight: f64,
    pub kelly_fraction: f64,
    pub drift: f64,
    /// Returns the covariance-based methods look back over.
    pub lookback: usize,
    pub limit_offset: f64,
    pub qty_decimals: u32,
}

/// A sheet with the dates it was made from.
pub struct MadeSheet {
    pub sheet: Sheet,
    /// The date of the signals used.
    pub signal_date: NaiveDate,
    /// The date of the prices.
    pub as_of: NaiveDate,
}

/// `date,symbol,signal`, every date's signals by symbol.
pub fn read_signals(path: &Path) -> anyhow::Result<BTreeMap<NaiveDate, BTreeMap<Symbol, f64>>> {
    let t = Table::read(path, &["date", "symbol", "signal"], &[])?;
    let mut out: BTreeMap<NaiveDate, BTreeMap<Symbol, f64>> = BTreeMap::new();
    for (line, rec) in &t.rows {
        let raw = t.cell(rec, "symbol");
        let sym = Symbol::new(raw).map_err(|e| t.at(*line, e))?;
        let date = t.date(*line, raw, "date", t.cell(rec, "date"))?;
        let text = t.cell(rec, "signal");
        let v: f64 = text
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && (-1.0..=1.0).contains(v))
            .ok_or_else(|| {
                t.at(
                    *line,
                    format!("{sym}: signal {text:?} is not a number in [-1, 1]"),
                )
            })?;
        if out
            .entry(date)
            .or_default()
            .insert(sym.clone(), v)
            .is_some()
        {
            return Err(t.at(*line, format!("{sym}: a second signal for {date}")));
        }
    }
    if out.is_empty() {
        return Err(bad(format!("{}: no signals", t.path)));
    }
    Ok(out)
}

/// `symbol,qty[,avg_price][,last_buy][,last_loss_sale]`.
pub fn read_positions(path: &Path) -> anyhow::Result<BTreeMap<Symbol, Holding>> {
    let t = Table::read(
        path,
        &["symbol", "qty"],
        &["avg_price", "last_buy", "last_loss_sale"],
    )?;
    let mut out = BTreeMap::new();
    for (line, rec) in &t.rows {
        let raw = t.cell(rec, "symbol");
        let sym = Symbol::new(raw).map_err(|e| t.at(*line, e))?;
        let num = |col: &str, positive: bool| -> anyhow::Result<Option<f64>> {
            match t.cell(rec, col) {
                "" => Ok(None),
                x => x
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && (*v > 0.0 || (!positive && *v == 0.0)))
                    .map(Some)
                    .ok_or_else(|| {
                        t.at(
                            *line,
                            format!(
                                "{sym}: {col} {x:?} is not a {} number",
                                if positive { "positive" } else { "non-negative" }
                            ),
                        )
                    }),
            }
        };
        let qty =
            num("qty", false)?.ok_or_else(|| t.at(*line, format!("{sym}: qty is missing")))?;
        let date = |col: &str| -> anyhow::Result<Option<NaiveDate>> {
            match t.cell(rec, col) {
                "" => Ok(None),
                x => t.date(*line, raw, col, x).map(Some),
            }
        };
        let h = Holding {
            qty,
            avg_price: num("avg_price", true)?,
            last_buy: date("last_buy")?,
            last_loss_sale: date("last_loss_sale")?,
        };
        if out.insert(sym.clone(), h).is_some() {
            return Err(t.at(*line, format!("{sym}: listed twice")));
        }
    }
    Ok(out)
}

/// The trailing daily simple returns of each candidate over the last `lookback` + 1 dates
/// all of them share, up to `as_of` (the risk-based methods' input; empty for the others).
/// `bars` hold each candidate's bars up to `as_of`.
pub fn candidate_returns(
    bars: &BTreeMap<Symbol, Vec<systrade_core::DailyBar>>,
    candidates: &[(Symbol, f64)],
    method: SizingMethod,
    (lookback, lookback_key): (usize, &str),
    as_of: NaiveDate,
) -> anyhow::Result<BTreeMap<Symbol, Vec<f64>>> {
    let mut returns = BTreeMap::new();
    if !method.needs_returns() || candidates.is_empty() {
        return Ok(returns);
    }
    let mut common: Option<std::collections::BTreeSet<NaiveDate>> = None;
    for (s, _) in candidates {
        let b = bars
            .get(s)
            .ok_or_else(|| bad(format!("{s}: no prices up to {as_of}")))?;
        let d: std::collections::BTreeSet<NaiveDate> =
            b.iter().filter(|x| x.ts <= as_of).map(|x| x.ts).collect();
        common = Some(match common {
            None => d,
            Some(c) => c.intersection(&d).copied().collect(),
        });
    }
    let common: Vec<NaiveDate> = common.unwrap_or_default().into_iter().collect();
    if common.len() < lookback + 1 {
        return Err(bad(format!(
            "{}: the {} candidates share {} dates up to {as_of}; {} needs {} ({lookback_key} {} returns)",
            method.as_str(),
            candidates.len(),
            common.len(),
            method.as_str(),
            lookback + 1,
            lookback
        )));
    }
    let window = &common[common.len() - lookback - 1..];
    for (s, _) in candidates {
        let by: BTreeMap<NaiveDate, f64> = bars[s].iter().map(|b| (b.ts, b.close)).collect();
        let px: Vec<f64> = window.iter().map(|d| by[d]).collect();
        returns.insert(
            s.clone(),
            px.windows(2).map(|w| w[1] / w[0] - 1.0).collect::<Vec<_>>(),
        );
    }
    Ok(returns)
}

/// The sheet of the latest signals on or before `as_of`, sized on the prices up to `as_of`.
pub fn make_sheet(files: &SheetFiles<'_>, p: &SheetParams) -> anyhow::Result<MadeSheet> {
    let signals = read_signals(files.signals)?;
    let (&date, today) = match p.as_of {
        Some(d) => signals.range(..=d).next_back().ok_or_else(|| {
            bad(format!(
                "{}: no signals on or before --as-of {d}",
                files.signals.display()
            ))
        })?,
        None => signals
            .iter()
            .next_back()
            .ok_or_else(|| bad("no signals"))?,
    };
    let as_of = p.as_of.unwrap_or(date);
    let held = match &files.positions {
        Some(path) => read_positions(path)?,
        None => BTreeMap::new(),
    };
    if p.max_positions == Some(0) {
        return Err(bad("--max-positions must be at least 1"));
    }
    if p.lookback < 2 && p.method.needs_returns() {
        return Err(bad("--lookback must be at least 2 returns"));
    }
    let source = DataSource::open(files.data)?.listing()?;
    let mut bars = BTreeMap::new();
    let mut symbols: Vec<&Symbol> = today.keys().chain(held.keys()).collect();
    symbols.sort();
    symbols.dedup();
    for s in symbols {
        let series = source.daily(s, files.parse).with_context(|| {
            format!(
                "{s}: named in {} but not readable from {}",
                if today.contains_key(s) {
                    files.signals.display()
                } else {
                    files.positions.unwrap_or(Path::new("")).display()
                },
                files.data.display()
            )
        })?;
        let upto: Vec<_> = series.bars.into_iter().filter(|b| b.ts <= as_of).collect();
        if upto.is_empty() {
            return Err(bad(format!("{s}: no price on or before {as_of}")));
        }
        bars.insert(s.clone(), upto);
    }
    let closes: BTreeMap<Symbol, f64> = bars
        .iter()
        .map(|(s, b)| (s.clone(), b[b.len() - 1].close))
        .collect();
    let candidates = select_candidates(today, p.max_positions);
    let returns = candidate_returns(
        &bars,
        &candidates,
        p.method,
        (p.lookback, "--lookback"),
        as_of,
    )?;
    let sheet = build_sheet(&SheetInput {
        as_of,
        capital: p.capital,
        method: p.method,
        limits: SizingLimits {
            max_weight: p.max_weight,
            kelly_fraction: p.kelly_fraction,
        },
        drift: p.drift,
        limit_offset: p.limit_offset,
        qty_decimals: p.qty_decimals,
        candidates,
        returns,
        closes,
        held,
        signals: today.clone(),
    })
    .map_err(|e| bad(e.to_string()))?;
    Ok(MadeSheet {
        sheet,
        signal_date: date,
        as_of,
    })
}

/// The sheet as CSV: the columns, then what staging it needs (`last_close`, the
/// decision price, and `as_of`, the date of its prices).
pub fn sheet_csv(sh: &Sheet, as_of: NaiveDate) -> String {
    let mut out = String::from(
        "action,symbol,shares,limit_price,est_cost,signal,target_weight,wash_sale_risk,last_close,as_of\n",
    );
    for r in &sh.rows {
        out.push_str(&format!(
            "{},{},{},{},{:.2},{},{},{},{},{as_of}\n",
            r.action.as_str(),
            r.symbol,
            shortest(r.shares),
            shortest(r.limit_price),
            r.est_cost,
            r.signal.map(shortest).unwrap_or_default(),
            shortest(r.target_weight),
            u8::from(r.wash_sale_risk),
            shortest(r.last_close)
        ));
    }
    out
}
