//! One strategy's market day: the 14 steps of spec/daily-run.md §2, over any [`Broker`].
//!
//! Crash safety: the book a day is decided on is stored in the ledger at step 3, so a re-run
//! decides exactly the same; orders are found again at the broker by their stable client
//! order ids, so nothing is submitted twice; each step's ledger writes are one transaction.
//! A run that fails after it reached the broker puts every held position's stop back before
//! it exits ([`DayRun::protect_after_failure`]).
//!
//! The steps live beside this file, one concept each: [`crate::gates`] (5–6),
//! [`crate::submit`] (7–9), [`crate::stops`] (11–12 and protection), [`crate::reconcile`]
//! (13) and [`crate::summary`] (14).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use systrade_backtest::{dec, f};
use systrade_broker::{Account, Broker, BrokerError, Position, RetryPolicy, with_retries};
use systrade_core::fsio::write_atomic;
use systrade_core::{DailyBar, Symbol};
use systrade_store::{Book, BookKind, Ledger, RunStart, StoreError, Writer};

use systrade_config::run::BrokerKind;

use crate::desk::{DayBook, DayDecision, DecideCtx, Desk};
use crate::logs::Logs;
use crate::sync::FillSync;

/// What a day's run needs besides the config.
pub struct DayInputs<'a> {
    pub home: &'a Path,
    pub config: &'a Path,
    pub name: &'a str,
    pub market_day: NaiveDate,
    pub folder: &'a Path,
    /// The venue the book trades at, and the account there.
    pub broker: BrokerKind,
    pub account: &'a str,
    pub now: &'a str,
    pub stamp_artifacts: bool,
    pub dry_run: bool,
    pub live: bool,
}

/// One day of one book at its broker: what every step works with.
pub struct DayRun<'a, B: Broker + ?Sized> {
    pub desk: &'a Desk,
    pub broker: &'a mut B,
    pub ledger: &'a mut Ledger,
    pub logs: &'a mut Logs,
    pub policy: RetryPolicy,
    pub x: &'a DayInputs<'a>,
    pub run_id: &'a str,
    /// What happened to stops, per symbol, for the logs and the summary.
    pub stop_log: Vec<(Symbol, &'static str, Value)>,
    /// Today's protective stop levels once decided (what a failed run puts back).
    pub levels: BTreeMap<Symbol, Decimal>,
}

/// The account as the broker reported it at step 2, with the live-trading confirmation.
pub struct Connected {
    pub account: Account,
    pub live: bool,
    pub live_confirmed: bool,
}

/// Step 4's outcome with the marks it was decided on.
pub struct Decided {
    pub dd: DayDecision,
    /// The last close before the day of each symbol.
    pub closes: BTreeMap<Symbol, f64>,
    /// Cash plus each position at its last close.
    pub equity: f64,
}

/// The test hook that kills the run at a step boundary (crash-safety tests).
pub(crate) fn boundary(step: u8) {
    if std::env::var("SYSTRADE_CRASH_AFTER_STEP")
        .ok()
        .and_then(|v| v.parse::<u8>().ok())
        == Some(step)
    {
        eprintln!("fault hook: killing the run after step {step}");
        std::process::abort();
    }
}

/// A broker call with the book's retry policy; each retry is logged.
pub fn retry<T>(
    policy: RetryPolicy,
    logs: &mut Logs,
    what: &str,
    op: impl FnMut() -> Result<T, BrokerError>,
) -> anyhow::Result<T> {
    with_retries(policy, op, |n, e| {
        logs.write(
            "errors",
            None,
            "broker_retry",
            json!({"call": what, "attempt": n, "error": e.to_string()}),
        )
    })
    .with_context(|| {
        format!("broker call `{what}` failed (after retries where retrying made sense)")
    })
}

pub use systrade_core::money::decimal_text as qty_text;

/// The last close before `day` of each symbol.
fn closes_before(data: &BTreeMap<Symbol, Vec<DailyBar>>, day: NaiveDate) -> BTreeMap<Symbol, f64> {
    data.iter()
        .filter_map(|(s, bars)| {
            let i = bars.partition_point(|b| b.ts < day);
            i.checked_sub(1).map(|k| (s.clone(), bars[k].close))
        })
        .collect()
}

/// The book's retry policy.
pub fn policy_of(desk: &Desk) -> RetryPolicy {
    RetryPolicy {
        max_retries: desk.run_cfg().max_retries,
        base_delay: Duration::from_millis(desk.run_cfg().retry_base_ms),
    }
}

/// Runs the day; returns the daily summary's path. `connect` reaches the book's broker (step
/// 2); a run that fails is recorded as failed, alerts, and leaves every held position
/// protected.
pub fn run_day<B: Broker + ?Sized>(
    desk: &Desk,
    mut ledger: Ledger,
    x: &DayInputs<'_>,
    connect: impl FnOnce() -> anyhow::Result<Box<B>>,
) -> anyhow::Result<PathBuf> {
    let attempt = ledger.runs_for_day(x.name, x.market_day)? + 1;
    let run_id = format!(
        "{}-{}-{attempt}{}",
        x.name,
        x.market_day,
        if x.dry_run { "-dry" } else { "" }
    );
    let ts = if x.stamp_artifacts {
        x.now.to_string()
    } else {
        format!("{}T00:00:00Z", x.market_day)
    };
    let mut logs = Logs::new(&x.folder.join("logs"), &run_id, x.name, &ts);
    if !x.dry_run {
        // We hold the book's lock: a run still `running` was killed.
        for (id, step) in ledger.abort_running(x.name, x.now)? {
            logs.write(
                "errors",
                None,
                "run_aborted",
                json!({"run_id": id, "last_step": step,
                       "why": "the run was killed; this run finishes its day"}),
            );
        }
    }
    ledger.start_run(&RunStart {
        run_id: &run_id,
        strategy: x.name,
        market_day: x.market_day,
        broker: x.broker.as_str(),
        account: x.account,
        dry_run: x.dry_run,
        now: x.now,
    })?;
    match attempt_day(desk, &mut ledger, &mut logs, x, &run_id, connect) {
        Ok(p) => {
            ledger.finish_run(&run_id, None, x.now)?;
            Ok(p)
        }
        Err(e) => {
            logs.write(
                "errors",
                None,
                "run_failed",
                json!({"error": format!("{e:#}")}),
            );
            let why = systrade_core::redact::redact(&format!("{e:#}"));
            let _ = ledger.finish_run(&run_id, Some(&why), x.now);
            crate::notify::deliver(
                desk.run_cfg(),
                &[crate::notify::error_alert(
                    x.name,
                    &x.market_day.to_string(),
                    vec![format!("the run stopped: {why}")],
                )],
                &mut logs,
            );
            Err(e.context(format!(
                "the daily run of {} for {} stopped; nothing of this step was written — fix the cause and run again (orders already at the broker are found by their ids)",
                x.name, x.market_day
            )))
        }
    }
}

/// `--live` was given and SYSTRADE_LIVE_CONFIRM names the account `id`.
pub(crate) fn live_confirmed(live: bool, id: &str) -> bool {
    live && std::env::var("SYSTRADE_LIVE_CONFIRM").is_ok_and(|v| !v.is_empty() && v == id)
}

/// Steps 1 and 2, then the day at the broker; a failure after the broker was reached puts
/// the held positions' stops back first.
fn attempt_day<B: Broker + ?Sized>(
    desk: &Desk,
    ledger: &mut Ledger,
    logs: &mut Logs,
    x: &DayInputs<'_>,
    run_id: &str,
    connect: impl FnOnce() -> anyhow::Result<Box<B>>,
) -> anyhow::Result<PathBuf> {
    // 1. The config is loaded and checked.
    ledger.step(run_id, 1, "load_config", x.now, |w| {
        w.set_book(&Book {
            strategy: x.name.to_string(),
            // A sheet book rebalanced daily stays a sheet book (its sheets may also be
            // staged by hand).
            kind: if matches!(desk, Desk::Sheet(_)) {
                BookKind::Sheet
            } else {
                BookKind::System
            },
            account: x.account.to_string(),
        })
    })?;
    boundary(1);
    // 2. Connect to the broker (the account is validated below, before any work). A live
    //    account without its confirmation stops here: nothing is sent, not even a stop.
    let mut broker = connect()?;
    if broker.is_live() && !x.dry_run {
        let id = retry(policy_of(desk), logs, "account", || broker.account())?.id;
        crate::venue::confirm_live(x.live, &id, broker.kind())?;
    }
    let mut run = DayRun {
        desk,
        broker: &mut *broker,
        ledger,
        logs,
        policy: policy_of(desk),
        x,
        run_id,
        stop_log: Vec::new(),
        levels: BTreeMap::new(),
    };
    match run.steps() {
        Ok(p) => Ok(p),
        Err(e) if x.dry_run => Err(e),
        Err(e) => {
            let protected = run.protect_after_failure();
            Err(e.context(protected))
        }
    }
}

impl<B: Broker + ?Sized> DayRun<'_, B> {
    /// Records what happened to a symbol's stop, in the logs at once (sequence numbers follow
    /// the order things happened) and for the summary.
    pub fn note_stop(&mut self, sym: &Symbol, status: &'static str, detail: Value) {
        self.logs
            .write("stop_updates", Some(sym.as_str()), status, detail.clone());
        self.stop_log.push((sym.clone(), status, detail));
    }

    /// A broker call with retries.
    pub fn call<T>(
        &mut self,
        what: &str,
        mut op: impl FnMut(&mut B) -> Result<T, BrokerError>,
    ) -> anyhow::Result<T> {
        let broker = &mut *self.broker;
        retry(self.policy, self.logs, what, || op(broker))
    }

    /// One step's ledger writes in one transaction, recorded as done.
    pub fn step<T>(
        &mut self,
        n: u8,
        name: &str,
        f: impl FnOnce(&Writer<'_>) -> Result<T, StoreError>,
    ) -> anyhow::Result<T> {
        Ok(self.ledger.step(self.run_id, n, name, self.x.now, f)?)
    }

    /// Steps 2–14.
    fn steps(&mut self) -> anyhow::Result<PathBuf> {
        let connected = self.validate_account()?;
        let book = self.pull_data(&connected.account)?;
        let decided = self.decide(&book)?;
        let gated = self.gate(&book, &decided, &connected)?;
        self.build_orders(&gated)?;
        self.send(&gated)?;
        let held = self.refresh(&decided.closes)?;
        self.trailing_stops(&decided.dd, &held)?;
        let recon = self.reconcile()?;
        self.persist(&decided, &gated, &recon)
    }

    /// Step 2: the account must exist and may trade; a live one needs its confirmation.
    fn validate_account(&mut self) -> anyhow::Result<Connected> {
        let account = self.call("account", |b| b.account())?;
        if account.trading_blocked {
            bail!("broker account {} is blocked for trading", account.id);
        }
        let live = self.broker.is_live();
        let live_confirmed = live_confirmed(self.x.live, &account.id);
        self.step(2, "connect_broker", |_| Ok(()))?;
        boundary(2);
        Ok(Connected {
            account,
            live,
            live_confirmed,
        })
    }

    /// Books the broker's new fills and adopted orders as step `n`; returns how many fills.
    pub fn ingest_fills(&mut self, n: u8, name: &str) -> anyhow::Result<usize> {
        let (book, account) = (self.x.name, self.x.account);
        let sync = FillSync::collect(
            &mut *self.broker,
            self.ledger,
            book,
            account,
            self.logs,
            self.policy,
        )?;
        self.step(n, name, |w| sync.book(w, book, account))?;
        sync.log(self.logs);
        Ok(sync.new.len())
    }

    /// Step 3: data through T−1 (the view cannot reach later bars) and the day's book, kept
    /// in the ledger so a re-run decides the same.
    fn pull_data(&mut self, account: &Account) -> anyhow::Result<DayBook> {
        let (name, day) = (self.x.name, self.x.market_day);
        self.ingest_fills(3, "pull_data")?;
        let book: DayBook = match self.ledger.day_book(name, day)? {
            Some(text) => serde_json::from_str(&text)
                .with_context(|| format!("the ledger's book of {day} is unreadable"))?,
            None => {
                let universe: BTreeSet<&Symbol> = self.desk.bars().keys().collect();
                let positions = self.call("positions", |b| b.positions())?;
                let carried = self.ledger.carried(name)?;
                DayBook {
                    cash: account.cash,
                    positions: positions
                        .into_iter()
                        .filter(|p| universe.contains(&p.symbol))
                        .map(|p| (p.symbol, p.qty))
                        .collect(),
                    stopped_out: self.ledger.stop_outs(name)?,
                    carried: carried.tickers,
                    last_decided: carried.last_decided,
                }
            }
        };
        let text = systrade_core::json::to_canonical_string(&book)?;
        self.step(3, "pull_data", |w| w.save_day_book(name, day, &text))?;
        boundary(3);
        Ok(book)
    }

    /// Step 4: signals → targets, the backtest's own step on this book.
    fn decide(&mut self, book: &DayBook) -> anyhow::Result<Decided> {
        let (name, day) = (self.x.name, self.x.market_day);
        let closes = closes_before(self.desk.bars(), day);
        // The engine's marking: cash plus each position at its last close.
        let held_value: f64 = book
            .positions
            .iter()
            .map(|(s, q)| f(*q) * closes.get(s).copied().unwrap_or(0.0))
            .sum();
        let equity = f(book.cash) + held_value;
        let dd = self.desk.decide(
            book,
            &DecideCtx {
                name,
                day,
                folder: self.x.folder,
                equity,
                closes: &closes,
            },
            self.ledger,
            self.logs,
        )?;
        self.levels = dd
            .stops
            .iter()
            .filter_map(|(s, p)| match p {
                crate::desk::StopPlan::Level(l) => Some((s.clone(), dec(*l))),
                _ => None,
            })
            .collect();
        self.step(4, "signals_targets", |w| match &dd.formation {
            Some((month, date, state)) => w.save_formation(name, month, *date, state),
            None => Ok(()),
        })?;
        boundary(4);
        Ok(Decided { dd, closes, equity })
    }

    /// Step 10: positions from the broker after the orders (stops are sized on what is held
    /// now); step 11: the stops of products now flat go.
    fn refresh(&mut self, closes: &BTreeMap<Symbol, f64>) -> anyhow::Result<Vec<Position>> {
        self.ingest_fills(10, "refresh_positions")?;
        let held: Vec<Position> = self.call("positions", |b| b.positions())?;
        write_atomic(
            &self.x.folder.join("snapshots/post_refresh_positions.csv"),
            positions_csv(&held, closes).as_bytes(),
        )?;
        boundary(10);
        let held_syms: BTreeSet<&Symbol> = held.iter().map(|p| &p.symbol).collect();
        let open = self.call("open_orders", |b| b.open_orders())?;
        let flat: BTreeSet<Symbol> = open
            .iter()
            .filter(|o| o.order_type.is_stop() && !held_syms.contains(&o.symbol))
            .map(|o| o.symbol.clone())
            .collect();
        self.cancel_stops_for((11, "post_exit_cleanup"), &flat)?;
        boundary(11);
        Ok(held)
    }
}

fn positions_csv(held: &[Position], closes: &BTreeMap<Symbol, f64>) -> String {
    let mut out = String::from("symbol,qty,last_close,value\n");
    let mut rows: Vec<&Position> = held.iter().collect();
    rows.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    for p in rows {
        let c = closes.get(&p.symbol).copied().unwrap_or(0.0);
        out.push_str(&format!(
            "{},{},{},{:.2}\n",
            p.symbol,
            qty_text(p.qty),
            systrade_core::json::shortest(c),
            f(p.qty) * c
        ));
    }
    out
}
