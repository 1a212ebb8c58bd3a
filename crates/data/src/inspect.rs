//! What a dataset holds: spans, rows, flags, splits, and gaps against the market calendar.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use systrade_core::{Calendar, Market};

use crate::db::{InstrumentInfo, MarketDb};
use crate::error::DataError;
use crate::series::{ActionKind, Bars, CorporateAction, Interval, PriceSeries, ts_text};
use crate::validate::FlaggedRow;

/// A run of consecutive trading sessions with no data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GapRun {
    /// First missing session.
    pub from: NaiveDate,
    /// Last missing session.
    pub to: NaiveDate,
    /// Number of missing sessions.
    pub sessions: usize,
}

/// A hole in a 24/7 intraday series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hole {
    /// Open time of the last bar before the hole.
    pub after: String,
    /// Open time of the first bar after it.
    pub before: String,
    /// Bars missing in between.
    pub bars: u64,
}

/// Coverage of a series against its market calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gaps {
    /// Trading sessions from the first to the last bar.
    pub expected_sessions: usize,
    /// Sessions with at least one bar.
    pub sessions_with_data: usize,
    /// Sessions with none (placeholder rows that were flagged count as missing).
    pub missing_sessions: usize,
    /// Dates with bars although the calendar says the market was closed.
    pub off_calendar_dates: usize,
    /// The longest runs of missing sessions (at most 10, longest first).
    pub runs: Vec<GapRun>,
    /// For 24/7 intraday series: grid bars missing between the first and the last bar.
    pub missing_bars: Option<u64>,
    /// For 24/7 intraday series: the largest hole.
    pub largest_hole: Option<Hole>,
}

/// One line per series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesReport {
    pub symbol: String,
    pub interval: String,
    pub market: Market,
    pub format: String,
    pub source_basis: String,
    pub adjust: String,
    pub rows: usize,
    pub first: Option<String>,
    pub last: Option<String>,
    /// Flag name → rows kept out of decisions.
    pub flagged: BTreeMap<String, usize>,
    pub flagged_rows: Vec<FlaggedRow>,
    pub skipped: usize,
    pub gaps: Gaps,
    /// Split ex-dates with their ratio.
    pub splits: Vec<(NaiveDate, f64)>,
    pub dividends: usize,
    pub notes: Vec<String>,
    /// The last bar against the market's last completed session (set by [`mark_stale`]).
    pub freshness: Option<Freshness>,
}

/// A series' last bar against the market's last completed session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Freshness {
    /// The market's last completed session at the time of the check.
    pub last_session: NaiveDate,
    /// Sessions after the last bar up to and including `last_session` (0: up to date).
    pub stale_by: usize,
}

/// The last session of `market` that has closed at `now` (crypto: yesterday, UTC).
pub fn last_completed_session(market: Market, now: DateTime<Utc>) -> NaiveDate {
    let local = now.with_timezone(&market.tz());
    let today = local.date_naive();
    if market == Market::Crypto {
        return today.pred_opt().unwrap_or(today);
    }
    let cal = market.calendar();
    match cal.session(today) {
        Some(s) if local.time() >= s.close => today,
        _ => cal.previous_trading_day(today),
    }
}

/// Sets each report's [`Freshness`] at `now`.
pub fn mark_stale(reports: &mut [SeriesReport], now: DateTime<Utc>) {
    for r in reports {
        let Some(last) = r
            .last
            .as_deref()
            .and_then(|l| l.get(..10))
            .and_then(|d| d.parse::<NaiveDate>().ok())
        else {
            continue;
        };
        let session = last_completed_session(r.market, now);
        let stale_by = match last.succ_opt() {
            Some(next) if next <= session => r.market.calendar().trading_days(next, session).len(),
            _ => 0,
        };
        r.freshness = Some(Freshness {
            last_session: session,
            stale_by,
        });
    }
}

/// Missing sessions of daily dates against a calendar.
pub fn daily_gaps(dates: &[NaiveDate], cal: &dyn Calendar) -> Gaps {
    let (Some(&first), Some(&last)) = (dates.first(), dates.last()) else {
        return Gaps {
            expected_sessions: 0,
            sessions_with_data: 0,
            missing_sessions: 0,
            off_calendar_dates: 0,
            runs: vec![],
            missing_bars: None,
            largest_hole: None,
        };
    };
    let expected = cal.trading_days(first, last);
    let have: std::collections::BTreeSet<NaiveDate> = dates.iter().copied().collect();
    let mut runs: Vec<GapRun> = Vec::new();
    let mut missing = 0;
    let mut current: Option<GapRun> = None;
    for d in &expected {
        if have.contains(d) {
            if let Some(run) = current.take() {
                runs.push(run);
            }
        } else {
            missing += 1;
            match &mut current {
                Some(run) => {
                    run.to = *d;
                    run.sessions += 1;
                }
                None => {
                    current = Some(GapRun {
                        from: *d,
                        to: *d,
                        sessions: 1,
                    })
                }
            }
        }
    }
    runs.extend(current);
    runs.sort_by(|a, b| b.sessions.cmp(&a.sessions).then(a.from.cmp(&b.from)));
    runs.truncate(10);
    let off = have.iter().filter(|d| !cal.is_trading_day(**d)).count();
    Gaps {
        expected_sessions: expected.len(),
        sessions_with_data: expected.len() - missing,
        missing_sessions: missing,
        off_calendar_dates: off,
        runs,
        missing_bars: None,
        largest_hole: None,
    }
}

/// Coverage of intraday bars: sessions by market date, and for 24/7 markets the grid holes.
pub fn intraday_gaps(ts: &[DateTime<Utc>], interval: Interval, market: Market) -> Gaps {
    let mut dates: Vec<NaiveDate> = ts.iter().map(|t| market.local_date(*t)).collect();
    dates.dedup();
    let mut g = daily_gaps(&dates, market.calendar());
    if market == Market::Crypto {
        let step = i64::from(interval.seconds());
        let mut total = 0u64;
        let mut largest: Option<Hole> = None;
        for w in ts.windows(2) {
            let (a, b) = (
                interval.bucket(w[0]).timestamp(),
                interval.bucket(w[1]).timestamp(),
            );
            let missing = ((b - a) / step - 1).max(0) as u64;
            total += missing;
            if missing > 0 && largest.as_ref().is_none_or(|h| missing > h.bars) {
                largest = Some(Hole {
                    after: ts_text(w[0]),
                    before: ts_text(w[1]),
                    bars: missing,
                });
            }
        }
        g.missing_bars = Some(total);
        g.largest_hole = largest;
    }
    g
}

fn count_flags(rows: &[FlaggedRow]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry(r.flag.as_str().to_string()).or_insert(0) += 1;
    }
    m
}

fn split_list(actions: &[CorporateAction]) -> (Vec<(NaiveDate, f64)>, usize) {
    let splits = actions
        .iter()
        .filter(|a| a.kind == ActionKind::Split)
        .map(|a| (a.date, a.value))
        .collect();
    let dividends = actions
        .iter()
        .filter(|a| a.kind != ActionKind::Split)
        .count();
    (splits, dividends)
}

fn gaps_of(bars: &Bars, interval: Interval, market: Market) -> Gaps {
    match bars {
        Bars::Daily(b) => {
            let d: Vec<NaiveDate> = b.iter().map(|x| x.ts).collect();
            daily_gaps(&d, market.calendar())
        }
        Bars::Intraday(b) => {
            let t: Vec<DateTime<Utc>> = b.iter().map(|x| x.ts).collect();
            intraday_gaps(&t, interval, market)
        }
    }
}

/// The report of a series read straight from files.
pub fn report_series(p: &PriceSeries) -> SeriesReport {
    let (splits, dividends) = split_list(&p.actions);
    let span = p.bars.span();
    SeriesReport {
        symbol: p.symbol.to_string(),
        interval: p.interval.to_string(),
        market: p.market,
        format: p.format.as_str().to_string(),
        source_basis: p.format.source_basis().to_string(),
        adjust: p.adjust.as_str().to_string(),
        rows: p.bars.len(),
        first: span.as_ref().map(|s| s.0.clone()),
        last: span.map(|s| s.1),
        flagged: count_flags(&p.flagged),
        flagged_rows: p.flagged.clone(),
        skipped: p.skipped.len(),
        gaps: gaps_of(&p.bars, p.interval, p.market),
        splits,
        dividends,
        notes: p.notes.clone(),
        freshness: None,
    }
}

/// The report of a stored series.
pub fn report_stored(db: &MarketDb, info: &InstrumentInfo) -> Result<SeriesReport, DataError> {
    let bars = match info.interval {
        Interval::Daily => Bars::Daily(db.daily_bars(&info.symbol)?),
        iv => Bars::Intraday(db.intraday_bars(&info.symbol, iv)?),
    };
    let flagged = db.flagged_rows(&info.symbol, info.interval)?;
    let (splits, dividends) = split_list(&db.actions(info.symbol.as_str())?);
    let prov = db.provenance(&format!("prices:{}@{}", info.symbol, info.interval))?;
    let span = bars.span();
    Ok(SeriesReport {
        symbol: info.symbol.to_string(),
        interval: info.interval.to_string(),
        market: info.market,
        format: info.format.clone(),
        source_basis: info.source_basis.clone(),
        adjust: info.adjust.clone(),
        rows: bars.len(),
        first: span.as_ref().map(|s| s.0.clone()),
        last: span.map(|s| s.1),
        flagged: count_flags(&flagged),
        flagged_rows: flagged,
        skipped: prov.as_ref().map(|p| p.rows_skipped as usize).unwrap_or(0),
        gaps: gaps_of(&bars, info.interval, info.market),
        splits,
        dividends,
        notes: prov.map(|p| p.notes).unwrap_or_default(),
        freshness: None,
    })
}

/// A fixed-width text table of reports, for people.
pub fn render_table(reports: &[SeriesReport]) -> String {
    let mut out = format!(
        "{:<12} {:>5} {:<6} {:>7} {:<20} {:<20} {:>7} {:>8} {:>8}  {}\n",
        "symbol",
        "ivl",
        "market",
        "rows",
        "first",
        "last",
        "flagged",
        "missing",
        "off-cal",
        "largest gap / splits"
    );
    for r in reports {
        let flagged: usize = r.flagged.values().sum();
        let mut tail = Vec::new();
        if let Some(run) = r.gaps.runs.first() {
            tail.push(format!(
                "gap {}..{} ({} sessions)",
                run.from, run.to, run.sessions
            ));
        }
        if let Some(h) = &r.gaps.largest_hole {
            tail.push(format!("hole {} bars after {}", h.bars, h.after));
        }
        if !r.splits.is_empty() {
            let s: Vec<String> = r.splits.iter().map(|(d, k)| format!("{d} x{k}")).collect();
            tail.push(format!("splits {}", s.join(", ")));
        }
        if let Some(f) = r.freshness.as_ref().filter(|f| f.stale_by > 0) {
            tail.insert(
                0,
                format!(
                    "STALE by {} session{} (last completed session {})",
                    f.stale_by,
                    if f.stale_by == 1 { "" } else { "s" },
                    f.last_session
                ),
            );
        }
        out.push_str(&format!(
            "{:<12} {:>5} {:<6} {:>7} {:<20} {:<20} {:>7} {:>8} {:>8}  {}\n",
            r.symbol,
            r.interval,
            r.market.as_str(),
            r.rows,
            r.first.as_deref().unwrap_or("-"),
            r.last.as_deref().unwrap_or("-"),
            flagged,
            r.gaps.missing_sessions,
            r.gaps.off_calendar_dates,
            tail.join("; ")
        ));
    }
    out
}

/// Flagged rows of reports, one line each, for people.
pub fn render_flags(reports: &[SeriesReport], limit: usize) -> String {
    let mut out = String::new();
    for r in reports.iter().filter(|r| !r.flagged_rows.is_empty()) {
        let counts: Vec<String> = r.flagged.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push_str(&format!(
            "{} ({}): {}\n",
            r.symbol,
            r.interval,
            counts.join(", ")
        ));
        for f in r.flagged_rows.iter().take(limit) {
            out.push_str(&format!(
                "  line {:>6}  {}  {}: {}\n",
                f.line, f.ts, f.flag, f.detail
            ));
        }
        if r.flagged_rows.len() > limit {
            out.push_str(&format!(
                "  … {} more (use --symbol {} or --json)\n",
                r.flagged_rows.len() - limit,
                r.symbol
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use systrade_core::calendar::us::Nyse;

    #[test]
    fn test_the_last_completed_session_and_how_stale_a_series_is() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // Monday 2024-07-08 before the open: Friday; after the close: Monday.
        assert_eq!(
            last_completed_session(Market::Us, t("2024-07-08T13:00:00Z")),
            d(2024, 7, 5)
        );
        assert_eq!(
            last_completed_session(Market::Us, t("2024-07-08T20:30:00Z")),
            d(2024, 7, 8)
        );
        // The 4th of July: the 3rd (an early close that has closed).
        assert_eq!(
            last_completed_session(Market::Us, t("2024-07-04T20:00:00Z")),
            d(2024, 7, 3)
        );
        assert_eq!(
            last_completed_session(Market::Crypto, t("2024-07-08T00:30:00Z")),
            d(2024, 7, 7)
        );
        let mut r = vec![SeriesReport {
            symbol: "SPY".into(),
            interval: "1d".into(),
            market: Market::Us,
            format: "generic".into(),
            source_basis: String::new(),
            adjust: "split".into(),
            rows: 1,
            first: Some("2024-07-01".into()),
            last: Some("2024-07-02".into()),
            flagged: BTreeMap::new(),
            flagged_rows: vec![],
            skipped: 0,
            gaps: daily_gaps(&[], &Nyse),
            splits: vec![],
            dividends: 0,
            notes: vec![],
            freshness: None,
        }];
        // Wednesday the 3rd, the 5th and Monday the 8th are missing (the 4th is a holiday).
        mark_stale(&mut r, t("2024-07-08T21:00:00Z"));
        assert_eq!(r[0].freshness.as_ref().map(|f| f.stale_by), Some(3));
        assert!(
            render_table(&r).contains("STALE by 3 sessions (last completed session 2024-07-08)")
        );
        r[0].last = Some("2024-07-08".into());
        mark_stale(&mut r, t("2024-07-08T21:00:00Z"));
        assert_eq!(r[0].freshness.as_ref().map(|f| f.stale_by), Some(0));
        assert!(!render_table(&r).contains("STALE"));
    }

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn test_daily_gaps_skip_holidays_and_find_runs() {
        // 2024-07-04 is a holiday: not a gap. 2024-07-09..10 are missing.
        let dates = [
            d(2024, 7, 1),
            d(2024, 7, 2),
            d(2024, 7, 3),
            d(2024, 7, 5),
            d(2024, 7, 8),
            d(2024, 7, 11),
            d(2024, 7, 12),
            d(2024, 7, 13),
        ];
        let g = daily_gaps(&dates, &Nyse);
        assert_eq!(g.missing_sessions, 2);
        assert_eq!(
            g.runs,
            vec![GapRun {
                from: d(2024, 7, 9),
                to: d(2024, 7, 10),
                sessions: 2
            }]
        );
        assert_eq!(g.off_calendar_dates, 1, "a Saturday bar");
    }
}
