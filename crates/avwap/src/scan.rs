//! The daily candidate scan (spec §2): after the close of day D, for entry on D+1. Every
//! symbol gets a row with each failed condition named; the candidates are the rows that
//! failed none, sorted by score (distance above the AVWAP in ATRs, smaller first) then
//! symbol.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::NaiveDate;
use systrade_core::Symbol;
use systrade_core::calendar::Calendar;

use crate::AvwapError;
use crate::anchor::{self, Anchor};
use crate::panel::Panel;
use crate::params::{AnchorKind, ScanParams};

/// Why a symbol is not a candidate on a day. Each is a reason code in `scan_D.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Miss {
    /// No bar on the scan day.
    NoBar,
    /// Too little history for the indicators.
    Warmup,
    /// Close below `min_price`.
    Price,
    /// Average dollar volume below `min_dollar_volume`.
    Liquidity,
    /// Not close > SMA fast > SMA slow.
    Trend,
    /// No anchor in the lookback.
    NoAnchor,
    /// The anchor is the scan day: there is no AVWAP the day before to reclaim.
    AnchorToday,
    /// The close is not above the AVWAP.
    BelowAvwap,
    /// The close was already above the AVWAP the day before (no cross today).
    AlreadyAbove,
}

impl Miss {
    pub fn as_str(self) -> &'static str {
        match self {
            Miss::NoBar => "no_bar",
            Miss::Warmup => "warmup",
            Miss::Price => "price",
            Miss::Liquidity => "liquidity",
            Miss::Trend => "trend",
            Miss::NoAnchor => "no_anchor",
            Miss::AnchorToday => "anchor_today",
            Miss::BelowAvwap => "below_avwap",
            Miss::AlreadyAbove => "already_above",
        }
    }
}

/// One symbol's scan on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRow {
    pub symbol: Symbol,
    pub date: NaiveDate,
    pub anchor: Option<Anchor>,
    pub anchor_date: Option<NaiveDate>,
    pub avwap: Option<f64>,
    pub avwap_prev: Option<f64>,
    pub close: Option<f64>,
    pub close_prev: Option<f64>,
    pub sma_fast: Option<f64>,
    pub sma_slow: Option<f64>,
    pub adv: Option<f64>,
    pub atr: Option<f64>,
    /// `(close − AVWAP) / ATR`.
    pub score: Option<f64>,
    pub tags: Vec<&'static str>,
    /// Every condition that failed (empty: a candidate).
    pub misses: Vec<Miss>,
}

impl ScanRow {
    pub fn is_candidate(&self) -> bool {
        self.misses.is_empty()
    }
}

/// Scans bar `t` of one panel (the bar of the scan day).
pub fn scan_bar(panel: &Panel, t: usize, kind: AnchorKind, p: &ScanParams) -> ScanRow {
    let bars = &panel.bars;
    let b = &bars[t];
    let at = |v: &[Option<f64>]| v.get(t).copied().flatten();
    let mut row = ScanRow {
        symbol: panel.symbol.clone(),
        date: b.ts,
        anchor: None,
        anchor_date: None,
        avwap: None,
        avwap_prev: None,
        close: Some(b.close),
        close_prev: t.checked_sub(1).map(|i| bars[i].close),
        sma_fast: at(&panel.sma_fast),
        sma_slow: at(&panel.sma_slow),
        adv: at(&panel.adv),
        atr: at(&panel.atr),
        score: None,
        tags: Vec::new(),
        misses: Vec::new(),
    };
    let (Some(fast), Some(slow), Some(adv), Some(atr), Some(close_prev)) =
        (row.sma_fast, row.sma_slow, row.adv, row.atr, row.close_prev)
    else {
        row.misses.push(Miss::Warmup);
        return row;
    };
    let close = b.close;
    if close < p.min_price {
        row.misses.push(Miss::Price);
    }
    if adv < p.min_dollar_volume {
        row.misses.push(Miss::Liquidity);
    }
    if !(close > fast && fast > slow) {
        row.misses.push(Miss::Trend);
    }
    match anchor::find(panel, t, kind, p) {
        None => row.misses.push(Miss::NoAnchor),
        Some(a) => {
            row.anchor = Some(a);
            row.anchor_date = Some(bars[a.index].ts);
            let (prev, now) = anchor::avwap_pair(bars, a.index, t);
            row.avwap = now;
            row.avwap_prev = prev;
            match (prev, now) {
                (_, None) => row.misses.push(Miss::NoAnchor),
                (None, Some(_)) => row.misses.push(Miss::AnchorToday),
                (Some(prev), Some(now)) => {
                    if close <= now {
                        row.misses.push(Miss::BelowAvwap);
                    } else if close_prev > prev {
                        row.misses.push(Miss::AlreadyAbove);
                    }
                    if atr > 0.0 {
                        row.score = Some((close - now) / atr);
                    }
                }
            }
        }
    }
    if row.misses.is_empty() {
        row.tags = tags(&row, panel, t);
    }
    row
}

/// The rationale of a candidate: the conditions it met, and what makes it stand out.
fn tags(row: &ScanRow, panel: &Panel, t: usize) -> Vec<&'static str> {
    let mut tags = vec!["reclaim", "trend", "liquid"];
    if let Some(a) = row.anchor {
        tags.push(match a.kind {
            AnchorKind::SwingHigh => "anchor_swing_high",
            AnchorKind::VolumeSpike => "anchor_volume_spike",
            AnchorKind::Gap => "anchor_gap",
        });
    }
    if row.score.is_some_and(|s| s <= 0.5) {
        tags.push("tight");
    }
    if panel.avg_volume[t].is_some_and(|v| panel.bars[t].volume >= 1.5 * v) {
        tags.push("high_volume");
    }
    tags
}

/// One day's scan over every panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Scan {
    /// The scan day.
    pub as_of: NaiveDate,
    /// The latest session any symbol has a bar for, on or before `as_of`.
    pub data_date: NaiveDate,
    /// Every symbol, in symbol order.
    pub rows: Vec<ScanRow>,
}

impl Scan {
    /// The candidates, by score then symbol.
    pub fn candidates(&self) -> Vec<&ScanRow> {
        let mut c: Vec<&ScanRow> = self.rows.iter().filter(|r| r.is_candidate()).collect();
        c.sort_by(|a, b| {
            a.score
                .unwrap_or(f64::INFINITY)
                .total_cmp(&b.score.unwrap_or(f64::INFINITY))
                .then_with(|| a.symbol.cmp(&b.symbol))
        });
        c
    }
}

/// The last session on or before `day` (the day itself when it trades).
pub fn last_session_on_or_before(cal: &dyn Calendar, day: NaiveDate) -> NaiveDate {
    if cal.is_trading_day(day) {
        day
    } else {
        cal.previous_trading_day(day)
    }
}

/// The scan after the close of `as_of`. Refused as `stale_watchlist` when the data's latest
/// session is not the last session on or before `as_of` (the last session before the run
/// that trades on the next one).
pub fn scan(
    panels: &BTreeMap<Symbol, Panel>,
    as_of: NaiveDate,
    kind: AnchorKind,
    p: &ScanParams,
    cal: &dyn Calendar,
) -> Result<Scan, AvwapError> {
    let data_date = panels
        .values()
        .filter_map(|pn| pn.last_on_or_before(as_of).map(|i| pn.bars[i].ts))
        .max()
        .ok_or(AvwapError::NoData(as_of))?;
    let expected = last_session_on_or_before(cal, as_of);
    if data_date < expected {
        return Err(AvwapError::StaleWatchlist {
            data_date,
            expected,
        });
    }
    let mut scan = scan_unchecked(panels, expected, kind, p);
    scan.as_of = as_of;
    scan.data_date = data_date.min(expected);
    Ok(scan)
}

/// The scan of `day` without the freshness check (the backtest walks the data's own days).
pub fn scan_unchecked(
    panels: &BTreeMap<Symbol, Panel>,
    day: NaiveDate,
    kind: AnchorKind,
    p: &ScanParams,
) -> Scan {
    let rows = panels
        .values()
        .map(|pn| match pn.index_of(day) {
            Some(t) => scan_bar(pn, t, kind, p),
            None => no_bar(&pn.symbol, day),
        })
        .collect();
    Scan {
        as_of: day,
        data_date: day,
        rows,
    }
}

fn no_bar(symbol: &Symbol, day: NaiveDate) -> ScanRow {
    ScanRow {
        symbol: symbol.clone(),
        date: day,
        anchor: None,
        anchor_date: None,
        avwap: None,
        avwap_prev: None,
        close: None,
        close_prev: None,
        sma_fast: None,
        sma_slow: None,
        adv: None,
        atr: None,
        score: None,
        tags: Vec::new(),
        misses: vec![Miss::NoBar],
    }
}

/// A number as the artifacts print it: up to 6 decimals, trailing zeros trimmed; empty
/// when absent.
pub fn num(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => {
            let s = format!("{v:.6}");
            let s = s.trim_end_matches('0').trim_end_matches('.');
            if s == "-0" { "0".into() } else { s.to_string() }
        }
        _ => String::new(),
    }
}

/// The header of `candidates_D.csv`.
pub const CANDIDATES_HEADER: &str =
    "symbol,anchor_kind,anchor_date,avwap,close,sma50,sma200,adv20,atr14,score,tags";

/// One candidate's `candidates_D.csv` fields (no newline).
pub fn candidate_fields(r: &ScanRow) -> String {
    format!(
        "{},{},{},{},{},{},{},{},{},{},{}",
        r.symbol,
        r.anchor.map(|a| a.kind.as_str()).unwrap_or(""),
        r.anchor_date.map(|d| d.to_string()).unwrap_or_default(),
        num(r.avwap),
        num(r.close),
        num(r.sma_fast),
        num(r.sma_slow),
        num(r.adv),
        num(r.atr),
        num(r.score),
        r.tags.join(";"),
    )
}

/// `candidates_D.csv`: the candidates by score then symbol.
pub fn candidates_csv(scan: &Scan) -> String {
    let mut out = format!("{CANDIDATES_HEADER}\n");
    for r in scan.candidates() {
        let _ = writeln!(out, "{}", candidate_fields(r));
    }
    out
}

/// `scan_D.csv`: every symbol with the conditions it failed (`candidate` when none).
pub fn scan_csv(scan: &Scan) -> String {
    let mut out = String::from(
        "symbol,outcome,anchor_kind,anchor_date,avwap_prev,avwap,close_prev,close,sma50,sma200,adv20,atr14,score\n",
    );
    for r in &scan.rows {
        let outcome = if r.is_candidate() {
            "candidate".to_string()
        } else {
            r.misses
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(";")
        };
        let _ = writeln!(
            out,
            "{},{outcome},{},{},{},{},{},{},{},{},{},{},{}",
            r.symbol,
            r.anchor.map(|a| a.kind.as_str()).unwrap_or(""),
            r.anchor_date.map(|d| d.to_string()).unwrap_or_default(),
            num(r.avwap_prev),
            num(r.avwap),
            num(r.close_prev),
            num(r.close),
            num(r.sma_fast),
            num(r.sma_slow),
            num(r.adv),
            num(r.atr),
            num(r.score),
        );
    }
    out
}
