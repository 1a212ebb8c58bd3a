//! The daily run of spec/daily-run.md as a library: a book's config loaded for its market
//! day ([`desk`]), the 14 steps over any [`systrade_broker::Broker`] ([`day`]), the venue a
//! book trades at ([`venue`]), order records ([`orders`]), the run's lock,
//! schedule gate, JSONL logs and alerts. The CLI, a dashboard and a scheduler all call it.

pub mod approvals;
pub mod avwap_book;
pub mod cycles;
pub mod day;
pub mod desk;
pub mod dry_run;
mod feed_day;
pub mod gates;
pub mod lock;
pub mod logs;
pub mod notify;
pub mod orders;
pub mod reconcile;
pub mod refresh;
pub mod schedule;
mod sheet_day;
pub mod staging;
pub mod stops;
pub mod submit;
pub mod summary;
pub mod sync;
pub mod twap;
pub mod venue;

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use systrade_core::Market;

use systrade_config::ReadOptions;
use systrade_config::run::BrokerKind;
use systrade_core::BadInput;

use lock::RunLock;
use schedule::Schedule;

/// A [`BadInput`] as an `anyhow` error (exit code 2).
pub fn bad(m: impl Into<String>) -> anyhow::Error {
    BadInput(m.into()).into()
}

/// A refusal of the ledger (`StoreError::Invalid`) is the user's input (exit 2); anything
/// else is a real failure.
pub fn refused(e: systrade_store::StoreError) -> anyhow::Error {
    match e {
        systrade_store::StoreError::Invalid(m) => bad(m),
        other => other.into(),
    }
}

/// The clock: `--now`/`SYSTRADE_NOW` (tests, replays) or the system's.
pub fn now_of(flag: Option<&str>) -> anyhow::Result<DateTime<Utc>> {
    match flag {
        Some(t) => Ok(DateTime::parse_from_rfc3339(t)
            .map_err(|e| BadInput(format!("--now {t:?}: {e} (expected RFC 3339)")))?
            .with_timezone(&Utc)),
        None => Ok(Utc::now()),
    }
}

/// The clock of commands without a `--now` flag: `SYSTRADE_NOW` when set (tests, replays),
/// else the system's.
pub fn env_now() -> anyhow::Result<DateTime<Utc>> {
    let flag = std::env::var("SYSTRADE_NOW")
        .ok()
        .filter(|t| !t.trim().is_empty());
    now_of(flag.as_deref().map(str::trim))
}

/// "Today" for a market: its own local date (UTC for crypto).
pub fn market_today(market: Market, now: DateTime<Utc>) -> NaiveDate {
    match market {
        Market::Crypto => now.date_naive(),
        Market::Us => now
            .with_timezone(&chrono_tz::America::New_York)
            .date_naive(),
        Market::B3 => now
            .with_timezone(&chrono_tz::America::Sao_Paulo)
            .date_naive(),
    }
}

/// The session a daily run at `now` trades in, and so decides for (on the bars of the
/// sessions before it):
/// - crypto: the UTC date (00:00 UTC decides on the day that just closed, T−1);
/// - a market with hours (US, B3), in its own time zone: before the open of a trading day,
///   that day (decided on the previous session); after the close, or on a closed day, the next
///   trading day (decided on the session that just closed). During a session a daily
///   strategy does not run: its decision bar is still forming.
pub fn market_session(market: Market, now: DateTime<Utc>) -> Result<NaiveDate, String> {
    if market == Market::Crypto {
        return Ok(now.date_naive());
    }
    let local = now.with_timezone(&market.tz());
    let today = local.date_naive();
    let cal = market.calendar();
    match cal.session(today) {
        Some(s) if local.time() < s.open => Ok(today),
        Some(s) if local.time() < s.close => Err(format!(
            "{} is during the {} session of {today} ({}–{} local time): a daily strategy runs before the open (deciding on the previous session) or after the close (deciding on this one), never while its decision bar is forming",
            now.format("%Y-%m-%dT%H:%M:%SZ"),
            market.as_str(),
            s.open.format("%H:%M"),
            s.close.format("%H:%M"),
        )),
        _ => Ok(cal.next_trading_day(today)),
    }
}

/// [`market_session`], or the market's today while a session trades (commands that only
/// need the book, like approvals, work at any hour; `run` refuses that hour itself).
pub fn session_or_today(market: Market, now: DateTime<Utc>) -> NaiveDate {
    market_session(market, now).unwrap_or_else(|_| market_today(market, now))
}

/// Appends an event of the run's entry (gate_skip, already_ran, stale_lock…) to
/// `<home>/logs/runs.jsonl` and prints it.
fn entry_event(home: &Path, event: &str, strategy: Option<&str>, detail: &str, now: &str) {
    println!(
        "{event}{}: {}",
        strategy.map(|s| format!(" [{s}]")).unwrap_or_default(),
        systrade_core::redact::redact(detail)
    );
    let line = systrade_core::redact::redact(
        &systrade_core::json::to_canonical_string(&json!({
            "ts": now, "event": event, "strategy": strategy, "detail": detail,
        }))
        .unwrap_or_default(),
    );
    logs::append_line(&home.join("logs/runs.jsonl"), &line);
}

/// A market day after the market's today (by `now`) cannot be run: its account would move
/// its clock into the future for good. Bad input, refused before anything is touched.
pub fn check_not_future(
    config: &Path,
    market: Market,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    // The latest session a run at `now` may trade: the next one after a close.
    let today = session_or_today(market, now);
    if day > today {
        return Err(bad(format!(
            "{}: --as-of {day} is after the {} market's next session at this time ({today}, by {}); a day can be run on or after it, never before",
            config.display(),
            market.as_str(),
            now.format("%Y-%m-%dT%H:%M:%SZ")
        )));
    }
    Ok(())
}

/// The strategy's name in the ledger: `run.name`, else the config file's stem.
pub fn strategy_name(config: &Path, configured: Option<&str>) -> String {
    configured.map(str::to_string).unwrap_or_else(|| {
        config
            .file_stem()
            .map(|s| {
                s.to_string_lossy()
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect()
            })
            .unwrap_or_else(|| "strategy".into())
    })
}

/// What `systrade run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Strategy configs, run in turn.
    pub configs: Vec<PathBuf>,
    /// The venue, overriding each config's `[run] broker`.
    pub broker: Option<BrokerKind>,
    /// The market day (default: the market's today at `now`).
    pub as_of: Option<NaiveDate>,
    pub dry_run: bool,
    pub force_run: bool,
    pub live: bool,
    /// The schedule gate (skipped with `force_run`).
    pub schedule: Schedule,
    /// Overrides each config's `data.source`.
    pub data: Option<PathBuf>,
    pub now: DateTime<Utc>,
    pub read: ReadOptions,
    /// Fetch each config's data through the decision bar first (`[data] refresh`).
    pub refresh: bool,
}

/// The daily run at the venues systrade ships ([`venue::Venues`]); returns the summaries
/// written (none for a clean skip).
pub fn run(home: &Path, a: &RunRequest) -> anyhow::Result<Vec<PathBuf>> {
    run_with(home, a, &venue::Venues)
}

/// The daily run, reaching each book's broker through `connector`.
pub fn run_with(
    home: &Path,
    a: &RunRequest,
    connector: &dyn venue::Connector,
) -> anyhow::Result<Vec<PathBuf>> {
    let now = a.now;
    let stamp = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let schedule = &a.schedule;
    if !a.force_run
        && let Some(why) = schedule.check(now)
    {
        entry_event(home, "gate_skip", None, &why, &stamp);
        return Ok(Vec::new());
    }
    for config in &a.configs {
        if systrade_config::StrategyKind::of(config).map_err(BadInput)?
            == systrade_config::StrategyKind::Avwap
        {
            return Err(BadInput(format!(
                "{}: the AVWAP system runs in execution cycles: `systrade run --config {} --cycle open|intraday|close`",
                config.display(),
                config.display()
            ))
            .into());
        }
        if systrade_config::StrategyKind::of(config).map_err(BadInput)?
            == systrade_config::StrategyKind::Sheet
            && systrade_config::book::BookConfig::load(config)
                .map_err(BadInput)?
                .signals
                .is_none()
        {
            return Err(BadInput(format!(
                "{}: a sheet book without a [signals] section has no daily run; stage its orders with `systrade orders stage` and release them with `systrade approve`, or give it `[signals] file = \"signals.csv\"` to rebalance it daily",
                config.display()
            ))
            .into());
        }
    }
    let mut books: Vec<(PathBuf, Option<desk::BucketBook>)> = Vec::new();
    for config in &a.configs {
        if systrade_config::StrategyKind::of(config).map_err(BadInput)?
            == systrade_config::StrategyKind::Portfolio
        {
            for (c, b) in desk::BucketBook::of_portfolio(config)? {
                if b.in_cycles() {
                    let why = format!(
                        "bucket {} ({}) trades in execution cycles, not in the daily run: `systrade run --config {} --cycle open|intraday|close`",
                        b.name,
                        c.display(),
                        config.display()
                    );
                    entry_event(home, "cycle_bucket", Some(&b.name), &why, &stamp);
                    println!("{why}");
                } else {
                    books.push((c, Some(b)));
                }
            }
        } else {
            books.push((config.clone(), None));
        }
    }
    let mut ran = Vec::new();
    for (config, bucket) in &books {
        ran.extend(run_one(home, a, config, bucket.as_ref(), connector)?);
    }
    if !a.dry_run {
        mail_newsletter(home, &ran, now, &stamp);
    }
    let stale: Vec<String> = ran.iter().filter_map(|r| r.all_stale.clone()).collect();
    if !stale.is_empty() {
        return Err(
            systrade_core::StaleRun(format!("ran with stale data: {}", stale.join("; "))).into(),
        );
    }
    Ok(ran.into_iter().map(|r| r.summary).collect())
}

/// A completed day of one book.
struct Ran {
    summary: PathBuf,
    name: String,
    day: NaiveDate,
    newsletter: bool,
    /// Every symbol lacked its decision bar: what to say (exit 3).
    all_stale: Option<String>,
}

/// Step 14's email: the newsletter of the books just run, when SMTP is configured. A failure
/// is reported in `<home>/logs/runs.jsonl` and on stderr; it never fails the run.
fn mail_newsletter(home: &Path, ran: &[Ran], now: DateTime<Utc>, stamp: &str) {
    let books: Vec<String> = ran
        .iter()
        .filter(|r| r.newsletter)
        .map(|r| r.name.clone())
        .collect();
    let Some(day) = ran.iter().filter(|r| r.newsletter).map(|r| r.day).max() else {
        return;
    };
    let result = (|| -> anyhow::Result<Option<String>> {
        let Some(settings) = systrade_report::email::SmtpSettings::from_env()? else {
            return Ok(None);
        };
        let ledger = systrade_store::Ledger::open(&home.join("ledger.sqlite"))?;
        let r = systrade_desk::newsletter::build(
            home,
            &ledger,
            Some(day),
            &books,
            &Default::default(),
        )?
        .render()?;
        systrade_report::email::send(&settings, &r, now.into())?;
        Ok(Some(r.subject))
    })();
    match result {
        Ok(None) => {}
        Ok(Some(subject)) => entry_event(home, "newsletter_sent", None, &subject, stamp),
        Err(e) => {
            let why = systrade_core::redact::redact(&format!("{e:#}"));
            entry_event(home, "newsletter_failed", None, &why, stamp);
            eprintln!(
                "warning: the newsletter could not be sent ({why}); the run itself completed"
            );
        }
    }
}

fn run_one(
    home: &Path,
    a: &RunRequest,
    config: &Path,
    bucket: Option<&desk::BucketBook>,
    connector: &dyn venue::Connector,
) -> anyhow::Result<Option<Ran>> {
    let now = a.now;
    let stamp = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    if a.refresh {
        refresh_before(home, a, config, &stamp)?;
    }
    let (mut l, market_day) = desk::Desk::load(config, a.data.as_deref(), &a.read, a.as_of, now)?;
    if let Some(b) = bucket {
        l.apply_bucket(config, b)?;
    }
    let l = l;
    if a.as_of.is_none() {
        market_session(l.market(), now)
            .map_err(|why| bad(format!("{}: {why}", config.display())))?;
    }
    check_not_future(config, l.market(), market_day, now)?;
    let name = strategy_name(config, l.run_cfg().name.as_deref());
    let cal = l.market().calendar();
    if !cal.is_trading_day(market_day) {
        entry_event(
            home,
            "market_closed",
            Some(&name),
            &format!("{market_day} is not a {} trading day", l.market().as_str()),
            &stamp,
        );
        return Ok(None);
    }
    let (_lock, stale) = RunLock::acquire(&home.join(format!("locks/{name}.lock")))?;
    if let Some(pid) = stale {
        entry_event(
            home,
            "stale_lock",
            Some(&name),
            &format!("the lock of pid {pid} (no longer running) was taken over"),
            &stamp,
        );
    }
    let ledger_path = home.join("ledger.sqlite");
    let ledger = systrade_store::Ledger::open(&ledger_path)?;
    let account = &l.run_cfg().account;
    if let Some(other) = ledger
        .books()?
        .into_iter()
        .find(|b| &b.account == account && b.strategy != name)
    {
        return Err(bad(format!(
            "{}: account {account:?} is already the account of book {:?}; two books cannot share one account (their positions, stops and fills would mix): set run.account",
            config.display(),
            other.strategy
        )));
    }
    if !a.force_run
        && let Some(run_id) = ledger.done(&name, market_day)?
    {
        entry_event(
            home,
            "already_ran",
            Some(&name),
            &format!("{market_day} was completed by run {run_id}; --force-run runs it again"),
            &stamp,
        );
        return Ok(None);
    }
    let venue = venue::Venue::new(
        a.broker.unwrap_or(l.run_cfg().broker),
        home,
        &l.run_cfg().account,
    );
    // A dry run works on copies: the real ledger and account stay as they are.
    let scratch = if a.dry_run {
        Some(tempfile::tempdir().context("creating a scratch folder for the dry run")?)
    } else {
        None
    };
    let (ledger, venue) = match &scratch {
        Some(dir) => {
            let l2 = dir.path().join("ledger.sqlite");
            ledger.snapshot_to(&l2)?;
            drop(ledger);
            (
                systrade_store::Ledger::open(&l2)?,
                venue.scratch_copy(dir.path())?,
            )
        }
        None => (ledger, venue),
    };
    let mut folder = home.join(format!("runs/{name}/{market_day}"));
    if a.dry_run {
        folder = folder.join("dry-run");
    }
    let ctx = day::DayInputs {
        home,
        config,
        name: &name,
        market_day,
        folder: &folder,
        broker: venue.kind,
        account: &l.run_cfg().account,
        now: &stamp,
        // With --as-of the artifacts carry no wall clock: reruns are byte-identical.
        stamp_artifacts: a.as_of.is_none(),
        dry_run: a.dry_run,
        live: a.live,
    };
    let summary = if a.dry_run {
        day::run_day(&l, ledger, &ctx, || {
            Ok(Box::new(dry_run::DryRun::new(
                connector.connect(&venue, &l, market_day)?,
            )))
        })?
    } else {
        day::run_day(&l, ledger, &ctx, || {
            connector.connect(&venue, &l, market_day)
        })?
    };
    let all_stale = stale_lines(&l, &summary, &name, market_day)?;
    Ok(Some(Ran {
        summary,
        name,
        day: market_day,
        newsletter: l.run_cfg().newsletter,
        all_stale,
    }))
}

/// Step 0 for a config with `[data] refresh`: its data fetched through the decision bar. A
/// refresh that fails is said loudly and logged; the run goes on (stops must be kept) and
/// symbols without their decision bar take no new risk.
fn refresh_before(home: &Path, a: &RunRequest, config: &Path, stamp: &str) -> anyhow::Result<()> {
    let got = refresh::refresh(&refresh::RefreshRequest {
        config,
        data: a.data.as_deref(),
        read: &a.read,
        as_of: a.as_of,
        now: a.now,
    })?;
    match got {
        None => {}
        Some(Ok(report)) => {
            for line in refresh::lines(&report) {
                println!("{line}");
            }
        }
        Some(Err(e)) => {
            let msg = format!(
                "{}: data refresh failed: {e}; deciding on the stored data (a symbol without its decision bar takes no new risk)",
                config.display()
            );
            eprintln!("{msg}");
            entry_event(home, "refresh_failed", None, &msg, stamp);
        }
    }
    Ok(())
}

/// One line on stderr per symbol decided without its decision bar; when that is every
/// symbol of the book, what exit 3 says.
fn stale_lines(
    l: &desk::Desk,
    summary: &Path,
    name: &str,
    day: NaiveDate,
) -> anyhow::Result<Option<String>> {
    let text = std::fs::read_to_string(summary)
        .with_context(|| format!("reading {}", summary.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("reading {}", summary.display()))?;
    let no_data: Vec<String> = v["no_data"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if no_data.is_empty() {
        return Ok(None);
    }
    let bars = l.bars();
    for s in &no_data {
        let last = systrade_core::Symbol::new(s)
            .ok()
            .and_then(|sym| {
                bars.get(&sym)
                    .and_then(|b| b.last())
                    .map(|b| b.ts.to_string())
            })
            .unwrap_or_else(|| "none".into());
        eprintln!(
            "stale data: {name} {day}: {s} has no decision bar (its last bar is {last}); no new risk there, its stop stays as it is"
        );
    }
    let every = !bars.is_empty() && bars.keys().all(|s| no_data.iter().any(|n| n == s.as_str()));
    Ok(every.then(|| {
        format!(
            "every symbol of {name} lacks its decision bar for {day} (nothing new decided; stops kept; summary {}) — refresh its data (`systrade data fetch`, or [data] refresh)",
            summary.display()
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(t: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc)
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn test_market_session_before_the_open_after_the_close_and_during() {
        // US, Thursday 2024-03-07 (EST, UTC−5): 08:00 local is before the open.
        assert_eq!(
            market_session(Market::Us, utc("2024-03-07T13:00:00Z")),
            Ok(d("2024-03-07"))
        );
        // 16:10 local: after the close, the run is for Friday's session.
        assert_eq!(
            market_session(Market::Us, utc("2024-03-07T21:10:00Z")),
            Ok(d("2024-03-08"))
        );
        // Friday after the close: Monday.
        assert_eq!(
            market_session(Market::Us, utc("2024-03-08T21:10:00Z")),
            Ok(d("2024-03-11"))
        );
        // Summer time (EDT, UTC−4): 16:10 local is 20:10 UTC.
        assert_eq!(
            market_session(Market::Us, utc("2024-07-10T20:10:00Z")),
            Ok(d("2024-07-11"))
        );
        // 12:00 local: the session trades; a daily strategy waits.
        let during = market_session(Market::Us, utc("2024-03-07T17:00:00Z")).unwrap_err();
        assert!(during.contains("during the us session"), "{during}");
        // A holiday (Good Friday 2024-03-29) is like a close: the next trading day.
        assert_eq!(
            market_session(Market::Us, utc("2024-03-29T15:00:00Z")),
            Ok(d("2024-04-01"))
        );
        // B3 (UTC−3, 10:00–17:00): 09:00 local, 18:00 local, 12:00 local.
        assert_eq!(
            market_session(Market::B3, utc("2024-03-07T12:00:00Z")),
            Ok(d("2024-03-07"))
        );
        assert_eq!(
            market_session(Market::B3, utc("2024-03-07T21:00:00Z")),
            Ok(d("2024-03-08"))
        );
        assert!(market_session(Market::B3, utc("2024-03-07T15:00:00Z")).is_err());
        // Crypto keeps the UTC date (00:00 UTC decides on yesterday's candle).
        assert_eq!(
            market_session(Market::Crypto, utc("2024-03-07T00:05:00Z")),
            Ok(d("2024-03-07"))
        );
        assert_eq!(
            market_session(Market::Crypto, utc("2024-03-07T15:00:00Z")),
            Ok(d("2024-03-07"))
        );
    }
}
