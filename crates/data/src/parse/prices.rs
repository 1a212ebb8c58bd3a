//! Price files: rows → structural checks → interval and market → adjustment → value checks.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use csv::StringRecord;
use systrade_core::{Bar, Market, Ohlcv, Symbol};

use super::{ParseOptions, Records, parse_num};
use crate::adjust::{self, AdjustInputs};
use crate::error::{DataError, Location};
use crate::layout::{PriceColumns, PriceFormat};
use crate::series::{ActionKind, Bars, CorporateAction, Interval, PriceSeries, ts_text};
use crate::time::{RowTime, parse_row_time};
use crate::validate::{BadRowPolicy, Flag, FlaggedRow, NOISE_REL, check_row, repair_noise};

struct RawRow {
    line: u64,
    time: RowTime,
    v: Ohlcv,
    adj_close: Option<f64>,
    split: Option<f64>,
    dividend: Option<f64>,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn parse_prices(
    path: &Path,
    records: &mut Records<'_>,
    format: PriceFormat,
    cols: &PriceColumns,
    symbol: Symbol,
    hint: Option<Interval>,
    opts: &ParseOptions,
    rows_read: &mut u64,
) -> Result<PriceSeries, DataError> {
    let at = |line: Option<u64>| Location {
        file: path.to_path_buf(),
        line,
        symbol: Some(symbol.to_string()),
    };
    let mut rows: Vec<RawRow> = Vec::new();
    let mut rec = StringRecord::new();
    while let Some(line) = records.next_into(&mut rec)? {
        let cell = |i: usize| rec.get(i).unwrap_or("");
        let num = |i: usize, name: &str| {
            parse_num(cell(i))
                .map_err(|p| DataError::structural(at(Some(line)), format!("{name}: {p}")))
        };
        let opt_num = |i: Option<usize>, name: &str| match i {
            Some(i) if !cell(i).is_empty() => num(i, name).map(Some),
            _ => Ok(None),
        };
        let text = cell(cols.time);
        let time = parse_row_time(text).ok_or_else(|| {
            DataError::structural(at(Some(line)), format!("unparseable date/time {text:?}"))
        })?;
        if let Some(prev) = rows.last() {
            check_order(prev.time.utc(), time.utc(), text, prev.line)
                .map_err(|p| DataError::structural(at(Some(line)), p))?;
        }
        let v = Ohlcv {
            open: num(cols.open, "open")?,
            high: num(cols.high, "high")?,
            low: num(cols.low, "low")?,
            close: num(cols.close, "close")?,
            volume: num(cols.volume, "volume")?,
        };
        let split = opt_num(cols.split, "split_coefficient")?;
        if let Some(s) = split
            && s <= 0.0
        {
            return Err(DataError::structural(
                at(Some(line)),
                format!("split_coefficient {s} is not positive"),
            ));
        }
        rows.push(RawRow {
            line,
            time,
            v,
            adj_close: opt_num(cols.adj_close, "adjusted close")?,
            split,
            dividend: opt_num(cols.dividend, "dividend")?,
        });
    }
    *rows_read = rows.len() as u64;
    if rows.is_empty() {
        return Err(DataError::structural(
            at(None),
            "no data rows after the header",
        ));
    }

    let interval = detect_interval(&rows, hint);
    let mut notes = vec![format!("source basis: {}", format.source_basis())];
    let market = match opts.market {
        Some(m) => m,
        None => {
            let m = infer_market(format, &rows);
            notes.push(format!("market inferred: {m}"));
            m
        }
    };
    if !cols.ignored.is_empty() {
        notes.push(format!("columns not used: {}", cols.ignored.join(", ")));
    }

    // Keys: market dates for daily bars (checked again: two instants may share a date).
    let keys: Vec<Key> = match interval {
        Interval::Daily => {
            let dates: Vec<NaiveDate> = rows.iter().map(|r| r.time.daily_date(market)).collect();
            for i in 1..dates.len() {
                if dates[i] <= dates[i - 1] {
                    return Err(DataError::structural(
                        at(Some(rows[i].line)),
                        format!(
                            "market date {} repeats or goes back (line {} has {})",
                            dates[i],
                            rows[i - 1].line,
                            dates[i - 1]
                        ),
                    ));
                }
            }
            dates.into_iter().map(Key::Date).collect()
        }
        Interval::Seconds(_) => rows.iter().map(|r| Key::Ts(r.time.utc())).collect(),
    };

    let inputs: Vec<AdjustInputs> = rows
        .iter()
        .map(|r| AdjustInputs {
            close: r.v.close,
            adj_close: r.adj_close,
            split: r.split,
        })
        .collect();
    let factors = adjust::factors(format, opts.adjust, &inputs);
    notes.push(format!("adjust {}: {}", opts.adjust, factors.note));

    let last = rows.len() - 1;
    let mut daily = Vec::new();
    let mut intraday = Vec::new();
    let mut flagged = Vec::new();
    let mut skipped = Vec::new();
    let mut off_grid = Vec::new();
    let mut repaired = 0usize;
    for (i, r) in rows.iter().enumerate() {
        let mut problem = check_row(&r.v);
        if problem.is_none() && i == last && opts.last_candle_open {
            problem = Some((
                Flag::PartialCandle,
                "last candle was still open when it was downloaded".into(),
            ));
        }
        if problem.is_none()
            && i == last
            && format == PriceFormat::Binance
            && !opts.trust_last_candle
        {
            problem = Some((
                Flag::PartialCandle,
                "last candle of a Binance download is still open (pass --trust-last-candle if the file was cut at a closed candle)".into(),
            ));
        }
        if problem.is_none() && factors.price[i].is_none() {
            problem = Some((
                Flag::BadAdjustment,
                format!("no positive adjusted close for close {}", r.v.close),
            ));
        }
        if let Some((flag, detail)) = problem {
            let row = FlaggedRow {
                line: r.line,
                ts: keys[i].text(),
                flag,
                detail: detail.clone(),
                values: r.v,
            };
            match opts.on_bad_row {
                BadRowPolicy::Fail => {
                    return Err(DataError::BadRow {
                        at: at(Some(r.line)),
                        problem: detail,
                    });
                }
                BadRowPolicy::Skip => {
                    skipped.push(row);
                    continue;
                }
                BadRowPolicy::Flag => {
                    flagged.push(row);
                    continue;
                }
                // Recorded, and the row stays in the bars below.
                BadRowPolicy::Keep => flagged.push(row),
            }
        }
        let mut raw = r.v;
        if repair_noise(&mut raw) {
            repaired += 1;
        }
        // Scaling by a positive factor is monotonic in floating point, so a consistent raw
        // range stays consistent after adjustment.
        let f = factors.price[i].unwrap_or(1.0);
        let v = Ohlcv {
            open: raw.open * f,
            high: raw.high * f,
            low: raw.low * f,
            close: raw.close * f,
            volume: raw.volume * factors.volume[i],
        };
        match keys[i] {
            Key::Date(d) => daily.push(Bar::new(d, v)),
            Key::Ts(ts) => {
                if ts.timestamp().rem_euclid(i64::from(interval.seconds())) != 0 {
                    off_grid.push(ts);
                }
                intraday.push(Bar::new(ts, v));
            }
        }
    }
    if repaired > 0 {
        notes.push(format!(
            "{repaired} rows had high/low off open/close by float noise (< {NOISE_REL:e} relative); high/low widened to cover them"
        ));
    }
    if let (Some(first), Some(lastg)) = (off_grid.first(), off_grid.last()) {
        notes.push(format!(
            "{} bars open off the {interval} grid ({} .. {}); aligners bucket them to the grid",
            off_grid.len(),
            ts_text(*first),
            ts_text(*lastg)
        ));
    }

    let mut actions = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let date = keys[i].date();
        if let Some(s) = r.split.filter(|s| *s != 1.0) {
            actions.push(CorporateAction {
                ticker: symbol.to_string(),
                date,
                kind: ActionKind::Split,
                value: s,
                per_shares: None,
            });
        }
        if let Some(d) = r.dividend.filter(|d| *d != 0.0) {
            actions.push(CorporateAction {
                ticker: symbol.to_string(),
                date,
                kind: ActionKind::Dividend,
                value: d,
                per_shares: None,
            });
        }
    }

    let bars = match interval {
        Interval::Daily => Bars::Daily(daily),
        Interval::Seconds(_) => Bars::Intraday(intraday),
    };
    Ok(PriceSeries {
        symbol,
        market,
        format,
        interval,
        adjust: opts.adjust,
        bars,
        flagged,
        skipped,
        actions,
        notes,
    })
}

#[derive(Clone, Copy)]
enum Key {
    Date(NaiveDate),
    Ts(chrono::DateTime<chrono::Utc>),
}

impl Key {
    fn text(&self) -> String {
        match self {
            Key::Date(d) => d.to_string(),
            Key::Ts(t) => ts_text(*t),
        }
    }

    fn date(&self) -> NaiveDate {
        match self {
            Key::Date(d) => *d,
            Key::Ts(t) => t.date_naive(),
        }
    }
}

fn check_order(
    prev: chrono::DateTime<chrono::Utc>,
    cur: chrono::DateTime<chrono::Utc>,
    text: &str,
    prev_line: u64,
) -> Result<(), String> {
    if cur == prev {
        Err(format!("duplicate date {text} (also on line {prev_line})"))
    } else if cur < prev {
        Err(format!(
            "date {text} is before the previous row's (line {prev_line}): dates must ascend"
        ))
    } else {
        Ok(())
    }
}

/// Daily when every time is a date or a local midnight at least a day apart; otherwise
/// intraday at the most common step (sparse minute bars still step by 60 s most often).
fn detect_interval(rows: &[RawRow], hint: Option<Interval>) -> Interval {
    let all_dates = rows.iter().all(|r| match r.time {
        RowTime::Date(_) => true,
        RowTime::Instant { local_midnight, .. } => local_midnight,
    });
    let mut steps: BTreeMap<i64, usize> = BTreeMap::new();
    for w in rows.windows(2) {
        let s = (w[1].time.utc() - w[0].time.utc()).num_seconds();
        *steps.entry(s).or_default() += 1;
    }
    let mode = steps
        .iter()
        .max_by_key(|(s, n)| (**n, -**s))
        .map(|(s, _)| *s);
    if all_dates && mode.is_none_or(|m| m >= 86_400) {
        return Interval::Daily;
    }
    match mode {
        Some(m) if m > 0 && m < 86_400 => Interval::Seconds(m as u32),
        _ => hint.unwrap_or(Interval::Seconds(60)),
    }
}

fn infer_market(format: PriceFormat, rows: &[RawRow]) -> Market {
    match format {
        PriceFormat::Binance => Market::Crypto,
        PriceFormat::YahooB3 => Market::B3,
        _ => {
            let dates: Vec<NaiveDate> = rows.iter().map(|r| r.time.utc().date_naive()).collect();
            crate::market_fit::infer_market(&dates)
        }
    }
}
