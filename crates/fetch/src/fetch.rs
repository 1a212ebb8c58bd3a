//! One fetch: for each symbol, only what the store lacks plus a few bars of overlap; the
//! overlap compared with what is stored, so a vendor's revision is reported and applied
//! (the whole history fetched again, since a re-adjusting vendor changes every bar before
//! a split or dividend); the series validated and stored whole; a report per symbol.

use std::collections::BTreeMap;

use chrono::{DateTime, Months, NaiveDate, NaiveTime, Utc};
use serde::Serialize;
use systrade_core::Market;
use systrade_data::{Adjust, ParseOptions};

use crate::error::FetchError;
use crate::provider::{Instrument, Vendor};
use crate::rows::{BarInterval, VendorRow};
use crate::store::{Series, Store, Stored};

/// What to fetch.
#[derive(Debug, Clone)]
pub struct Plan {
    pub interval: BarInterval,
    /// First date wanted (default: ten years of daily bars, sixty days of intraday ones,
    /// before `end`); earlier than what is stored fetches the history again.
    pub start: Option<NaiveDate>,
    /// Last date wanted (default: the provider's today in each market).
    pub end: Option<NaiveDate>,
    pub adjust: Adjust,
    /// Stored bars fetched again to catch revisions.
    pub overlap: usize,
    /// Also fetch news sentiment (Alpha Vantage).
    pub news: bool,
}

impl Default for Plan {
    fn default() -> Plan {
        Plan {
            interval: BarInterval::Day,
            start: None,
            end: None,
            adjust: Adjust::Split,
            overlap: 3,
            news: false,
        }
    }
}

/// What happened to a symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing was stored before.
    New,
    /// New bars were added.
    Updated,
    /// The vendor changed stored bars: reported and applied.
    Revised,
    /// Nothing new.
    UpToDate,
    /// The vendor has no bars for it in the range.
    NoData,
}

/// A stored bar the vendor changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Revision {
    pub time: String,
    /// `close 101.5 → 101.7; volume 900 → 1200`, or `removed by the vendor`.
    pub change: String,
}

/// One symbol's line of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SymbolReport {
    pub symbol: String,
    pub status: Status,
    /// Bars the vendor sent (overlap included).
    pub fetched: u64,
    /// Bars added to what was stored.
    pub added: u64,
    /// Bars stored now.
    pub stored: u64,
    pub first: Option<String>,
    pub last: Option<String>,
    /// The last bar is a candle still open (flagged `partial_candle`; not written to a folder).
    pub open_last: bool,
    pub revisions: Vec<Revision>,
    /// Rows kept out of decisions, by flag.
    pub flags: BTreeMap<String, u64>,
    pub notes: Vec<String>,
}

/// One symbol's news line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewsReport {
    pub symbol: String,
    pub articles: u64,
    pub new: u64,
}

/// The whole fetch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub provider: String,
    pub interval: String,
    pub store: String,
    pub symbols: Vec<SymbolReport>,
    pub news: Vec<NewsReport>,
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// Seconds spent waiting on the vendor's rate limits.
    pub waited_s: f64,
}

impl Report {
    /// The report as a person reads it: one summary line, then what needs attention.
    pub fn render(&self) -> String {
        let r = self;
        let mut out = String::new();
        let count = |s: Status| r.symbols.iter().filter(|x| x.status == s).count();
        let added: u64 = r.symbols.iter().map(|s| s.added).sum();
        let parts: Vec<String> = [
            (Status::New, "new"),
            (Status::Updated, "updated"),
            (Status::Revised, "revised"),
            (Status::UpToDate, "up to date"),
            (Status::NoData, "no data"),
        ]
        .into_iter()
        .filter(|(s, _)| count(*s) > 0)
        .map(|(s, n)| format!("{} {n}", count(s)))
        .collect();
        out.push_str(&format!(
            "fetched {} bars from {} into {}: {} symbol(s) ({}); {added} bars added; {} requests, {:.1} s waiting (rate limits, retries)\n",
            r.interval,
            r.provider,
            r.store,
            r.symbols.len(),
            parts.join(", "),
            r.requests,
            r.waited_s
        ));
        for s in &r.symbols {
            for v in s.revisions.iter().take(5) {
                out.push_str(&format!(
                    "revised by {}: {} {}: {} (applied)\n",
                    r.provider, s.symbol, v.time, v.change
                ));
            }
            if s.revisions.len() > 5 {
                out.push_str(&format!(
                    "revised by {}: {} … and {} more bars (applied)\n",
                    r.provider,
                    s.symbol,
                    s.revisions.len() - 5
                ));
            }
            if s.status == Status::NoData {
                out.push_str(&format!(
                    "no data: {} ({} has no bars for it in the range)\n",
                    s.symbol, r.provider
                ));
            }
            if s.open_last {
                out.push_str(&format!(
                    "still open: {} {} (flagged partial_candle, kept out of decisions; a folder leaves it out)\n",
                    s.symbol,
                    s.last.as_deref().unwrap_or("")
                ));
            }
            for (f, n) in &s.flags {
                if f != "partial_candle" {
                    out.push_str(&format!("flagged: {} {n} rows {f}\n", s.symbol));
                }
            }
            for n in &s.notes {
                out.push_str(&format!("note: {}: {n}\n", s.symbol));
            }
        }
        for n in &r.news {
            out.push_str(&format!(
                "news: {}: {} articles, {} new\n",
                n.symbol, n.articles, n.new
            ));
        }
        out
    }
}

fn day_start(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN).and_utc()
}

/// The instant a row key names (a date: its 00:00 UTC).
fn key_instant(key: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = NaiveDate::parse_from_str(key, "%Y-%m-%d") {
        return Some(day_start(d));
    }
    DateTime::parse_from_rfc3339(key)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What changed in a bar, in words (`None`: nothing).
fn change(old: &VendorRow, new: &VendorRow) -> Option<String> {
    if old.same_values(new) {
        return None;
    }
    let mut parts = Vec::new();
    let fields: [(&str, Option<f64>, Option<f64>); 7] = [
        ("open", Some(old.open), Some(new.open)),
        ("high", Some(old.high), Some(new.high)),
        ("low", Some(old.low), Some(new.low)),
        ("close", Some(old.close), Some(new.close)),
        ("volume", Some(old.volume), Some(new.volume)),
        ("dividend", old.dividend, new.dividend),
        ("split", old.split, new.split),
    ];
    for (name, a, b) in fields {
        if a != b {
            let show = |v: Option<f64>| v.map_or("-".to_string(), |x| x.to_string());
            parts.push(format!("{name} {} → {}", show(a), show(b)));
        }
    }
    Some(parts.join("; "))
}

/// Stored bars at or after `from` that the fetched ones changed or dropped. The last
/// stored bar does not count when it was a candle still open.
fn revisions(stored: &Stored, fetched: &[VendorRow], from: &str) -> (Vec<Revision>, bool) {
    let by_time: BTreeMap<&str, &VendorRow> =
        fetched.iter().map(|r| (r.time.as_str(), r)).collect();
    let n = stored.rows.len();
    let mut out = Vec::new();
    let mut readjusted = false;
    for (i, old) in stored.rows.iter().enumerate() {
        if old.time.as_str() < from || (i + 1 == n && stored.open_last) {
            continue;
        }
        match by_time.get(old.time.as_str()) {
            None => out.push(Revision {
                time: old.time.clone(),
                change: "removed by the vendor".into(),
            }),
            Some(new) => {
                if let Some(c) = change(old, new) {
                    out.push(Revision {
                        time: old.time.clone(),
                        change: c,
                    });
                } else if old.adj_close != new.adj_close {
                    readjusted = true;
                }
            }
        }
    }
    (out, readjusted)
}

/// The vendor's "today" in a market.
fn today(now: DateTime<Utc>, market: Market) -> NaiveDate {
    market.local_date(now)
}

struct Job {
    inst: Instrument,
    stored: Option<Stored>,
    /// The earliest date asked for, stored with the series.
    since: NaiveDate,
    /// First row key fetched again (overlap), or `None` for a whole history.
    from_key: Option<String>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

/// Runs a fetch of `inputs` (each with the market its config names, when it does) into
/// `store`; `progress` hears each symbol as it is done. Each symbol is stored as soon as it
/// is fetched: a fetch stopped halfway keeps what it stored, and the next one continues.
pub fn fetch(
    vendor: &mut dyn Vendor,
    store: &mut dyn Store,
    inputs: &[(String, Option<Market>)],
    plan: &Plan,
    opts: &ParseOptions,
    progress: &mut dyn FnMut(&SymbolReport),
) -> Result<Report, FetchError> {
    let provider = vendor.kind();
    let mut jobs: Vec<Job> = Vec::new();
    for (input, market) in inputs {
        let inst = vendor.resolve(input, *market)?;
        if jobs.iter().any(|j| j.inst.symbol == inst.symbol) {
            continue;
        }
        let stored = store.load(&inst, plan.interval, provider)?;
        let end = plan
            .end
            .unwrap_or_else(|| today(vendor.client().now(), inst.market));
        let to = day_start(end) + chrono::Duration::seconds(86_399);
        let default_start = match plan.interval {
            BarInterval::Day => end.checked_sub_months(Months::new(120)).unwrap_or(end),
            _ => end - chrono::Duration::days(60),
        };
        let start = plan.start.unwrap_or(default_start);
        // What was stored was asked for since `since`: an earlier --start backfills (the
        // whole range once), a later or no --start continues from the last bars.
        let since = stored.as_ref().and_then(|s| {
            let first = s.rows.first()?;
            s.since.or_else(|| first.time.get(..10)?.parse().ok())
        });
        let from_key = stored.as_ref().and_then(|s| {
            s.rows.first()?;
            if plan
                .start
                .is_some_and(|st| since.is_some_and(|since| st < since))
            {
                return None;
            }
            let i = s.rows.len().saturating_sub(1 + plan.overlap);
            Some(s.rows[i].time.clone())
        });
        let since = match (since, plan.start) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, _) => start,
        };
        let from = from_key
            .as_deref()
            .and_then(key_instant)
            .unwrap_or_else(|| day_start(start));
        jobs.push(Job {
            inst,
            stored,
            since,
            from_key,
            from,
            to,
        });
    }
    // Symbols that start at the same instant go out together where the vendor batches.
    let mut groups: BTreeMap<(DateTime<Utc>, DateTime<Utc>), Vec<usize>> = BTreeMap::new();
    for (i, j) in jobs.iter().enumerate() {
        groups.entry((j.from, j.to)).or_default().push(i);
    }
    let mut reports: Vec<Option<SymbolReport>> = vec![None; jobs.len()];
    for ((from, to), idx) in groups {
        for chunk in idx.chunks(vendor.batch().max(1)) {
            let insts: Vec<Instrument> = chunk.iter().map(|i| jobs[*i].inst.clone()).collect();
            let got = vendor
                .bars(&insts, plan.interval, from, to, plan.adjust)
                .map_err(|e| about(e, &insts))?;
            for (k, rows) in chunk.iter().zip(got) {
                let r = settle(vendor, store, &jobs[*k], rows, plan, opts)?;
                progress(&r);
                reports[*k] = Some(r);
            }
        }
    }
    let mut news = Vec::new();
    if plan.news {
        for j in &jobs {
            news.push(fetch_news(vendor, store, j, plan)?);
        }
    }
    let client = vendor.client();
    Ok(Report {
        provider: provider.as_str().into(),
        interval: plan.interval.as_str().into(),
        store: store.describe(),
        symbols: reports.into_iter().flatten().collect(),
        news,
        requests: client.requests(),
        waited_s: client.waited().as_secs_f64(),
    })
}

/// An error of a call about `insts`, naming them.
fn about(e: FetchError, insts: &[Instrument]) -> FetchError {
    let names: Vec<&str> = insts.iter().map(|i| i.remote.as_str()).collect();
    let who = if names.len() > 3 {
        format!("{} and {} more", names[..3].join(", "), names.len() - 3)
    } else {
        names.join(", ")
    };
    let named = |m: String| {
        if m.starts_with(&format!("{who}:")) {
            m
        } else {
            format!("{who}: {m}")
        }
    };
    match e {
        FetchError::Refused {
            provider,
            status,
            message,
        } => FetchError::Refused {
            provider,
            status,
            message: named(message),
        },
        FetchError::RateLimited { provider, message } => FetchError::RateLimited {
            provider,
            message: named(message),
        },
        FetchError::Unavailable { provider, message } => FetchError::Unavailable {
            provider,
            message: named(message),
        },
        other => other,
    }
}

/// Merges what was fetched for one job into what is stored, and stores it.
fn settle(
    vendor: &mut dyn Vendor,
    store: &mut dyn Store,
    job: &Job,
    mut rows: Vec<VendorRow>,
    plan: &Plan,
    opts: &ParseOptions,
) -> Result<SymbolReport, FetchError> {
    let provider = vendor.kind();
    let inst = &job.inst;
    let fetched = rows.len() as u64;
    let mut notes = vendor.notes(inst);
    let mut revised = Vec::new();
    let merged: Vec<VendorRow> = match (&job.stored, &job.from_key) {
        (Some(stored), Some(from_key)) => {
            rows.retain(|r| r.time.as_str() >= from_key.as_str());
            let (found, readjusted) = revisions(stored, &rows, from_key);
            if found.is_empty() && !readjusted {
                let mut m: Vec<VendorRow> = stored
                    .rows
                    .iter()
                    .filter(|r| r.time.as_str() < from_key.as_str())
                    .cloned()
                    .collect();
                m.extend(rows);
                m
            } else {
                // The vendor changed history: fetch all of it again and apply it.
                let first = stored
                    .rows
                    .first()
                    .and_then(|r| key_instant(&r.time))
                    .unwrap_or(job.from);
                let again = vendor
                    .bars(
                        std::slice::from_ref(inst),
                        plan.interval,
                        first,
                        job.to,
                        plan.adjust,
                    )?
                    .into_iter()
                    .next()
                    .unwrap_or_default();
                let everything = Stored {
                    rows: stored.rows.clone(),
                    open_last: stored.open_last,
                    since: stored.since,
                };
                let (all, _) = revisions(&everything, &again, "");
                if readjusted && all.is_empty() {
                    notes.push(format!(
                        "the vendor re-adjusted its adjusted close (a split or dividend): {} bars fetched again",
                        again.len()
                    ));
                }
                revised = all;
                again
            }
        }
        (Some(stored), None) => {
            // A backfill: the whole range again, compared where it overlaps.
            let (found, _) = revisions(stored, &rows, "");
            revised = found;
            rows
        }
        (None, _) => rows,
    };
    let old = job.stored.as_ref();
    let now = vendor.client().now();
    let open_last = merged
        .last()
        .and_then(|r| r.ends_at(plan.interval, inst.market))
        .is_some_and(|end| end > now);
    let mut report = SymbolReport {
        symbol: inst.symbol.to_string(),
        status: Status::UpToDate,
        fetched,
        added: (merged.len() as u64).saturating_sub(old.map_or(0, |s| s.rows.len() as u64)),
        stored: merged.len() as u64,
        first: merged.first().map(|r| r.time.clone()),
        last: merged.last().map(|r| r.time.clone()),
        open_last,
        revisions: revised,
        flags: BTreeMap::new(),
        notes,
    };
    if merged.is_empty() {
        report.status = Status::NoData;
        return Ok(report);
    }
    if old
        .is_some_and(|s| s.rows == merged && s.open_last == open_last && s.since == Some(job.since))
    {
        return Ok(report);
    }
    report.status = match old {
        None => Status::New,
        Some(_) if !report.revisions.is_empty() => Status::Revised,
        Some(_) => Status::Updated,
    };
    let mut o = opts.clone();
    o.market = Some(inst.market);
    let saved = store.save(
        &Series {
            inst,
            interval: plan.interval,
            provider,
            rows: &merged,
            open_last,
            since: job.since,
        },
        &o,
    )?;
    report.flags = saved.flags;
    Ok(report)
}

fn fetch_news(
    vendor: &mut dyn Vendor,
    store: &mut dyn Store,
    job: &Job,
    plan: &Plan,
) -> Result<NewsReport, FetchError> {
    let provider = vendor.kind();
    let av = vendor.news().ok_or_else(|| {
        FetchError::Usage(format!(
            "--news: {} has no news sentiment (use --provider alphavantage)",
            provider.as_str()
        ))
    })?;
    let symbol = &job.inst.symbol;
    let last = store.news_last(symbol)?;
    let from = last
        .as_deref()
        .and_then(|p| chrono::NaiveDateTime::parse_from_str(p, "%Y%m%dT%H%M%S").ok())
        .map(|t| t.and_utc())
        .unwrap_or_else(|| {
            plan.start
                .map(day_start)
                .unwrap_or(job.to - chrono::Duration::days(30))
        });
    let items = av.news_of(symbol, from, job.to)?;
    let new = store.save_news(symbol, &items)?;
    Ok(NewsReport {
        symbol: symbol.to_string(),
        articles: items.len() as u64,
        new: new as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(t: &str, c: f64) -> VendorRow {
        VendorRow::ohlcv(t.into(), c, c, c, c, 10.0)
    }

    #[test]
    fn test_revisions_name_changed_and_removed_bars_but_not_an_open_candle() {
        let stored = Stored {
            rows: vec![
                r("2024-01-01", 1.0),
                r("2024-01-02", 2.0),
                r("2024-01-03", 3.0),
                r("2024-01-04", 4.0),
            ],
            open_last: true,
            since: None,
        };
        let fetched = vec![
            r("2024-01-02", 2.5),
            r("2024-01-04", 4.4),
            r("2024-01-05", 5.0),
        ];
        let (rev, readjusted) = revisions(&stored, &fetched, "2024-01-02");
        assert!(!readjusted);
        assert_eq!(rev.len(), 2);
        assert_eq!(rev[0].time, "2024-01-02");
        assert_eq!(
            rev[0].change,
            "open 2 → 2.5; high 2 → 2.5; low 2 → 2.5; close 2 → 2.5"
        );
        assert_eq!(rev[1].change, "removed by the vendor");
        let mut a = r("2024-01-02", 2.0);
        a.adj_close = Some(1.0);
        let s = Stored {
            rows: vec![a.clone()],
            open_last: false,
            since: None,
        };
        a.adj_close = Some(0.9);
        assert_eq!(revisions(&s, &[a], ""), (vec![], true));
    }
}
