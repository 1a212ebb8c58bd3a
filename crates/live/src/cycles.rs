//! The AVWAP system's execution cycles (spec/avwap.md §3–§4): `systrade run --cycle
//! open|intraday|close`. Each is locked per book, idempotent (every order has a client order
//! id derived from the book, the session, the symbol and its purpose, and is looked up at the
//! broker before it is sent) and crash-safe (the broker is reconciled with the book at the
//! start of every cycle: fills are booked in the ledger exactly once, filled entries become
//! positions, positions the broker closed become trades):
//! - **open** (before the open, or at it): the previous session's scan (refused as
//!   `stale_watchlist` when the data is not that session's), sized and gated, sent as
//!   marketable orders; no stop before `stop_submit_after` (09:45 New York), said per
//!   position;
//! - **intraday** (during the session): each position's stop raised to a confirmed
//!   five-minute higher low among the bars completed by now, and put at the broker — exactly
//!   one stop per position at the level in force, re-checked every cycle;
//! - **close** (after the close): the AVWAP and time exits decided and sent for the next
//!   open, the daily swing-low fallback for positions without intraday bars, the next
//!   session's scan, `trades.csv` and the cycle summary.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use systrade_avwap::exits::{ExitReason, Tracker};
use systrade_avwap::intraday::{ny_local, session_bars};
use systrade_avwap::stops::{StopPath, StopPoint, StopSource, confirmed_lows, submit_from};
use systrade_backtest::{dec, f};
use systrade_broker::{Broker, BrokerOrder, OrderRequest, OrderStatus, OrderType, TimeInForce};
use systrade_config::run::BrokerKind;
use systrade_config::{ReadOptions, StrategyKind};
use systrade_core::contracts::{ClientOrderId, Side};
use systrade_core::fsio::write_atomic;
use systrade_core::{Market, Symbol};
use systrade_risk::gates::GateContext;
use systrade_store::{Book, BookKind, Ledger, Purpose, RunStart};

use crate::avwap_book::{AvwapBook, Closed, Held, Origin, PendingEntry, trades_csv};
use crate::day::{policy_of, retry};
use crate::desk::{AvwapDesk, Desk};
use crate::lock::RunLock;
use crate::logs::Logs;
use crate::orders::{order_record, stop_request};
use crate::stops::put_stop;
use crate::submit::place_once;
use crate::sync::FillSync;
use crate::{BadInput, bad, venue};

/// Which cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cycle {
    Open,
    Intraday,
    Close,
    /// The cycle due at the instant (a scheduler calling every few minutes): the close after
    /// the close; else the open until it ran today; else an intraday cycle during the session.
    Auto,
}

impl Cycle {
    pub fn as_str(self) -> &'static str {
        match self {
            Cycle::Open => "open",
            Cycle::Intraday => "intraday",
            Cycle::Close => "close",
            Cycle::Auto => "auto",
        }
    }
}

/// What `systrade run --cycle` was asked to do for one AVWAP config.
pub struct CycleRequest<'a> {
    pub config: &'a Path,
    pub cycle: Cycle,
    pub now: DateTime<Utc>,
    pub data: Option<&'a Path>,
    pub read: &'a ReadOptions,
    pub broker: Option<BrokerKind>,
    pub live: bool,
    /// Run a cycle already completed at this instant again.
    pub force: bool,
}

/// One cycle; returns its summary (`None`: skipped — a closed market, or already run).
pub fn run_cycle(
    home: &Path,
    r: &CycleRequest<'_>,
    connector: &dyn venue::Connector,
) -> anyhow::Result<Option<PathBuf>> {
    let (mut desk, _) = Desk::load(r.config, r.data, r.read, None, r.now)?;
    run_loaded(home, r, &mut desk, connector)
}

/// One cycle of `r.config`: an AVWAP config's, or every AVWAP bucket's of a portfolio —
/// each as its own book, with the bucket's name, account, capital and limits, as the daily
/// run makes its other buckets books. Returns the summaries written.
pub fn run_cycles(
    home: &Path,
    r: &CycleRequest<'_>,
    connector: &dyn venue::Connector,
) -> anyhow::Result<Vec<PathBuf>> {
    if StrategyKind::of(r.config).map_err(BadInput)? != StrategyKind::Portfolio {
        return Ok(run_cycle(home, r, connector)?.into_iter().collect());
    }
    let buckets: Vec<_> = crate::desk::BucketBook::of_portfolio(r.config)?
        .into_iter()
        .filter(|(_, b)| b.in_cycles())
        .collect();
    if buckets.is_empty() {
        return Err(bad(format!(
            "{}: no AVWAP bucket: --cycle runs a portfolio's AVWAP buckets; its other buckets run once a day, without --cycle",
            r.config.display()
        )));
    }
    let mut out = Vec::new();
    for (config, b) in &buckets {
        let (mut desk, _) = Desk::load(config, r.data, r.read, None, r.now)?;
        desk.apply_bucket(config, b)?;
        let one = CycleRequest {
            config,
            cycle: r.cycle,
            now: r.now,
            data: r.data,
            read: r.read,
            broker: r.broker,
            live: r.live,
            force: r.force,
        };
        out.extend(
            run_loaded(home, &one, &mut desk, connector)
                .with_context(|| format!("bucket {}", b.name))?,
        );
    }
    Ok(out)
}

/// [`run_cycle`] on a config already loaded (a scheduler keeps it between cycles; its clock
/// is set to `r.now`).
pub fn run_loaded(
    home: &Path,
    r: &CycleRequest<'_>,
    desk: &mut Desk,
    connector: &dyn venue::Connector,
) -> anyhow::Result<Option<PathBuf>> {
    match desk {
        Desk::Avwap(a) => a.now = Some(r.now),
        Desk::Sheet(l) => {
            l.now = Some(r.now);
            return crate::twap::run_cycle(home, r, desk, connector);
        }
        _ => {}
    }
    let desk = &*desk;
    let Desk::Avwap(a) = desk else {
        return Err(bad(format!(
            "{}: --cycle is for AVWAP configs (strategy = \"avwap\") and sheet books that work their orders as TWAP slices; other strategies run once a day without it",
            r.config.display()
        )));
    };
    let (day, time) = ny_local(r.now);
    let name = crate::strategy_name(r.config, a.l.cfg.run.name.as_deref());
    let cal = Market::Us.calendar();
    let stamp = r.now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let Some(session) = cal.session(day) else {
        println!("market_closed [{name}]: {day} is not a New York trading day; nothing to do");
        return Ok(None);
    };
    let opened = home
        .join(format!("runs/{name}/{day}/cycle_open.json"))
        .exists();
    let cycle = match r.cycle {
        Cycle::Auto if time >= session.close => Cycle::Close,
        Cycle::Auto if !opened => Cycle::Open,
        Cycle::Auto if time >= session.open => Cycle::Intraday,
        Cycle::Auto => {
            println!(
                "nothing due [{name}]: the open cycle of {day} ran; intraday cycles start at {} New York",
                session.open.format("%H:%M")
            );
            return Ok(None);
        }
        c => c,
    };
    match cycle {
        Cycle::Intraday if time < session.open || time >= session.close => {
            return Err(bad(format!(
                "{}: an intraday cycle runs during the session ({}–{} New York); it is {} there",
                r.config.display(),
                session.open.format("%H:%M"),
                session.close.format("%H:%M"),
                time.format("%H:%M")
            )));
        }
        Cycle::Open if time >= session.close => {
            return Err(bad(format!(
                "{}: the open cycle of {day} runs before the close ({} New York); it is {} there — run the close cycle",
                r.config.display(),
                session.close.format("%H:%M"),
                time.format("%H:%M")
            )));
        }
        Cycle::Close if time < session.close => {
            return Err(bad(format!(
                "{}: the close cycle decides on the session's close: run it after {} New York (it is {} there)",
                r.config.display(),
                session.close.format("%H:%M"),
                time.format("%H:%M")
            )));
        }
        _ => {}
    }
    let folder = home.join(format!("runs/{name}/{day}"));
    let label = match cycle {
        Cycle::Intraday => format!("intraday_{}", time.format("%H%M")),
        c => c.as_str().to_string(),
    };
    let summary = folder.join(format!("cycle_{label}.json"));
    let Some(_lock) = lock_unless_ran(home, (&name, day), &label, &summary, r.force)? else {
        return Ok(None);
    };
    let mut ledger = Ledger::open(&home.join("ledger.sqlite"))?;
    let account = a.l.cfg.run.account.clone();
    let Started {
        run_id,
        mut logs,
        venue,
    } = start_cycle(
        home,
        &mut ledger,
        (&name, &account, day),
        (&label, &stamp),
        r.broker.unwrap_or(a.l.cfg.run.broker),
    )?;
    let mut c = CycleRun {
        desk,
        a,
        ledger: &mut ledger,
        logs: &mut logs,
        name: &name,
        account: &account,
        day,
        now: r.now,
        stamp: &stamp,
        run_id: &run_id,
        live: r.live,
        home,
        events: Vec::new(),
    };
    let result = (|| -> anyhow::Result<Value> {
        let mut broker = connector.connect(&venue, desk, day)?;
        if broker.is_live() {
            let id = retry(policy_of(desk), c.logs, "account", || broker.account())?.id;
            venue::confirm_live(r.live, &id, broker.kind())?;
        }
        c.cycle(&mut *broker, cycle)
    })();
    match result {
        Ok(v) => {
            write_atomic(
                &summary,
                format!("{}\n", systrade_core::json::to_canonical_string(&v)?).as_bytes(),
            )?;
            ledger.finish_run(&run_id, None, &stamp)?;
            Ok(Some(summary))
        }
        Err(e) => {
            let why = systrade_core::redact::redact(&format!("{e:#}"));
            let _ = ledger.finish_run(&run_id, Some(&why), &stamp);
            Err(e.context(format!(
                "the {label} cycle of {name} for {day} stopped; orders already at the broker are found by their ids when it runs again"
            )))
        }
    }
}

/// The book's lock for the `label` cycle of `day` — `None` (said on stdout) when the cycle
/// already completed (its summary exists) and `force` does not ask to run it again.
pub(crate) fn lock_unless_ran(
    home: &Path,
    (name, day): (&str, NaiveDate),
    label: &str,
    summary: &Path,
    force: bool,
) -> anyhow::Result<Option<RunLock>> {
    let (lock, _) = RunLock::acquire(&home.join(format!("locks/{name}.lock")))?;
    if summary.exists() && !force {
        println!(
            "already_ran [{name}]: the {label} cycle of {day} completed ({}); --force-run runs it again",
            summary.display()
        );
        return Ok(None);
    }
    Ok(Some(lock))
}

/// An intraday cycle's run, recorded as started in the ledger.
pub(crate) struct Started {
    pub run_id: String,
    pub logs: Logs,
    pub venue: venue::Venue,
}

/// Records the start of the `label` cycle of book `name` on `day` (its attempt numbered after
/// the day's earlier runs) and opens its logs in the day's folder.
pub(crate) fn start_cycle(
    home: &Path,
    ledger: &mut Ledger,
    (name, account, day): (&str, &str, NaiveDate),
    (label, stamp): (&str, &str),
    broker: BrokerKind,
) -> anyhow::Result<Started> {
    let attempt = ledger.runs_for_day(name, day)? + 1;
    let run_id = format!("{name}-{day}-{label}-{attempt}");
    let logs = Logs::new(
        &home.join(format!("runs/{name}/{day}/logs")),
        &run_id,
        name,
        stamp,
    );
    let venue = venue::Venue::new(broker, home, account);
    ledger.start_run(&RunStart {
        run_id: &run_id,
        strategy: name,
        market_day: day,
        broker: venue.kind.as_str(),
        account,
        dry_run: false,
        now: stamp,
    })?;
    Ok(Started {
        run_id,
        logs,
        venue,
    })
}

struct CycleRun<'a> {
    desk: &'a Desk,
    a: &'a AvwapDesk,
    ledger: &'a mut Ledger,
    logs: &'a mut Logs,
    name: &'a str,
    account: &'a str,
    day: NaiveDate,
    now: DateTime<Utc>,
    stamp: &'a str,
    run_id: &'a str,
    live: bool,
    home: &'a Path,
    /// What the cycle did, for its summary.
    events: Vec<Value>,
}

impl CycleRun<'_> {
    fn note(&mut self, file: &str, sym: Option<&Symbol>, what: &str, detail: Value) {
        self.logs
            .write(file, sym.map(Symbol::as_str), what, detail.clone());
        let mut e = json!({"event": what, "symbol": sym.map(Symbol::as_str)});
        if let (Value::Object(m), Value::Object(d)) = (&mut e, detail) {
            m.extend(d);
        }
        self.events.push(e);
    }

    fn cycle<B: Broker + ?Sized>(&mut self, broker: &mut B, cycle: Cycle) -> anyhow::Result<Value> {
        let policy = policy_of(self.desk);
        // The ledger learns what the broker did (fills exactly once, adopted orders).
        let sync = FillSync::collect(
            broker,
            self.ledger,
            self.name,
            self.account,
            self.logs,
            policy,
        )?;
        let (name, account) = (self.name, self.account);
        self.ledger.step(self.run_id, 1, "sync", self.stamp, |w| {
            w.set_book(&Book {
                strategy: name.to_string(),
                kind: BookKind::System,
                account: account.to_string(),
            })?;
            sync.book(w, name, account)
        })?;
        sync.log(self.logs);
        let mut book = AvwapBook::load(self.home, self.name)?;
        let unknown = self.reconcile(broker, &mut book)?;
        match cycle {
            Cycle::Open => self.open(broker, &mut book, &unknown)?,
            Cycle::Intraday | Cycle::Auto => {}
            Cycle::Close => self.close(broker, &mut book)?,
        }
        if cycle != Cycle::Close {
            self.stops(broker, &mut book)?;
        }
        book.save(self.home, self.name)?;
        let folder = self.home.join(format!("runs/{}", self.name));
        write_atomic(
            &folder.join("trades.csv"),
            trades_csv(&book.closed).as_bytes(),
        )?;
        let equity = retry(policy, self.logs, "account", || broker.account())?.equity;
        let (day, run_id) = (self.day, self.run_id);
        self.ledger.step(run_id, 9, "persist", self.stamp, |w| {
            w.record_equity(name, day, equity)?;
            if cycle == Cycle::Close {
                w.mark_done(name, day)?;
            }
            Ok(())
        })?;
        Ok(json!({
            "strategy": self.name,
            "cycle": cycle.as_str(),
            "session": self.day,
            "now": self.stamp,
            "equity": equity.to_string(),
            "held": book.held.iter().map(|(s, h)| json!({
                "symbol": s, "qty": h.qty, "entry_day": h.tracker.entry_day,
                "entry_price": h.tracker.entry_price,
                "stop": h.tracker.path.current().map(|p| p.level),
                "stop_in_force": h.tracker.path.in_force_at(self.now).map(|p| p.level),
                "pending_exit": h.tracker.pending.map(|p| p.as_str()),
            })).collect::<Vec<_>>(),
            "unknown_positions": unknown.iter().collect::<Vec<_>>(),
            "events": self.events,
        }))
    }

    /// The book against the broker: filled entries become positions, positions the broker
    /// no longer holds become trades (their exit fill found in the ledger). Positions the
    /// book does not know are returned: they block new risk.
    fn reconcile<B: Broker + ?Sized>(
        &mut self,
        broker: &mut B,
        book: &mut AvwapBook,
    ) -> anyhow::Result<BTreeSet<Symbol>> {
        let policy = policy_of(self.desk);
        let exits = self.a.l.params.exits.clone();
        for (sym, p) in std::mem::take(&mut book.pending) {
            let o = retry(policy, self.logs, "order", || {
                broker.order(&p.client_order_id)
            })?;
            match o {
                Some(o) if o.filled_qty > Decimal::ZERO && !o.status.is_open() => {
                    let price = f(o.avg_price.unwrap_or_default());
                    let anchor_index = self.anchor_index(&sym, p.origin.anchor_date)?;
                    let path = StopPath::new(StopPoint {
                        effective: submit_from(p.session, exits.stop_submit_after)
                            .context("no New York time for the stop")?,
                        level: p.origin.initial_stop,
                        source: StopSource::Initial,
                    });
                    self.note(
                        "order_fills",
                        Some(&sym),
                        "entered",
                        json!({"qty": o.filled_qty.to_string(), "price": price, "initial_stop": p.origin.initial_stop}),
                    );
                    book.held.insert(
                        sym,
                        Held {
                            qty: o.filled_qty.trunc().to_string().parse().unwrap_or(0),
                            origin: p.origin,
                            entry_order: p.client_order_id,
                            tracker: Tracker::new(p.session, price, anchor_index, path),
                            exit_order: None,
                            closed_through: None,
                        },
                    );
                }
                Some(o) if o.status.is_open() => {
                    book.pending.insert(sym, p);
                }
                other => {
                    self.note(
                        "errors",
                        Some(&sym),
                        "entry_not_filled",
                        json!({"client_order_id": p.client_order_id,
                               "status": other.map(|o| o.status.as_str().to_string())}),
                    );
                }
            }
        }
        let held_at_broker: BTreeMap<Symbol, Decimal> =
            retry(policy, self.logs, "positions", || broker.positions())?
                .into_iter()
                .map(|p| (p.symbol, p.qty))
                .collect();
        let fills = self.ledger.fills(Some(self.name))?;
        for sym in book.held.keys().cloned().collect::<Vec<_>>() {
            if held_at_broker.get(&sym).is_some_and(|q| !q.is_zero()) {
                continue;
            }
            let Some(h) = book.held.remove(&sym) else {
                continue;
            };
            let exit = fills
                .iter()
                .filter(|fl| {
                    fl.symbol == sym && fl.side == Side::Sell && fl.date >= h.tracker.entry_day
                })
                .max_by_key(|fl| fl.date);
            let Some(fl) = exit else {
                bail!(
                    "{sym}: the broker holds none, the book held {} since {}, and no sell fill explains it; reconcile the account by hand",
                    h.qty,
                    h.tracker.entry_day
                );
            };
            let price = f(fl.price);
            let reason = match self.ledger.order(&fl.client_order_id)? {
                Some(o) if o.purpose == Purpose::Stop => {
                    let level = o.stop_price.map(f);
                    let source = h
                        .tracker
                        .path
                        .points()
                        .iter()
                        .rev()
                        .find(|p| level.is_some_and(|l| (p.level - l).abs() < 1e-6))
                        .map_or(StopSource::Initial, |p| p.source);
                    ExitReason::Stop(source)
                }
                _ => h.tracker.pending.unwrap_or(ExitReason::EndOfData),
            };
            // The exit simulator replays the bars against the recorded stop path: its exit
            // must be the broker's (parity), and its tracker gives the trade's analytics.
            let (replayed, simulated) = systrade_avwap::exits::replay(
                &self.a.l.panels[&sym],
                self.a.l.sessions.get(&sym),
                &systrade_avwap::exits::Recorded {
                    entry_day: h.tracker.entry_day,
                    entry_price: h.tracker.entry_price,
                    anchor_index: h.tracker.anchor_index,
                    path: h.tracker.path.clone(),
                },
                fl.date,
                &exits,
                Market::Us.calendar(),
            );
            let parity = simulated.is_some_and(|x| {
                x.day == fl.date && x.reason == reason && (x.price - price).abs() < 1e-6
            });
            self.note(
                if parity { "order_fills" } else { "errors" },
                Some(&sym),
                if parity { "exited" } else { "exit_parity_mismatch" },
                json!({"date": fl.date, "price": price, "exit_reason": reason.as_str(),
                       "simulated": simulated.map(|x| json!({"date": x.day, "price": x.price, "exit_reason": x.reason.as_str()}))}),
            );
            let tracker = Tracker {
                path: h.tracker.path.clone(),
                pending: h.tracker.pending,
                ..replayed
            };
            book.closed.push(Closed {
                symbol: sym,
                exit_day: fl.date,
                exit_price: price,
                exit_reason: reason,
                exit_order: fl.client_order_id.clone(),
                simulated,
                held: Held { tracker, ..h },
            });
        }
        let known: BTreeSet<&Symbol> = book.held.keys().chain(book.pending.keys()).collect();
        let unknown: BTreeSet<Symbol> = held_at_broker
            .iter()
            .filter(|(s, q)| !q.is_zero() && !known.contains(s))
            .map(|(s, _)| s.clone())
            .collect();
        for s in &unknown {
            self.note(
                "errors",
                Some(s),
                "unknown_position",
                json!({"qty": held_at_broker[s].to_string(),
                       "why": "the broker holds it and the AVWAP book does not: no new risk until it is reconciled"}),
            );
        }
        Ok(unknown)
    }

    fn anchor_index(&self, sym: &Symbol, anchor_date: NaiveDate) -> anyhow::Result<usize> {
        self.a
            .l
            .panels
            .get(sym)
            .and_then(|p| p.index_of(anchor_date))
            .ok_or_else(|| {
                bad(format!(
                    "{sym}: its anchor session {anchor_date} is not in the data any more"
                ))
            })
    }

    /// The open cycle's entries: the previous session's candidates, sized at their last
    /// close (the marketable order's reference), gated, sent.
    fn open<B: Broker + ?Sized>(
        &mut self,
        broker: &mut B,
        book: &mut AvwapBook,
        unknown: &BTreeSet<Symbol>,
    ) -> anyhow::Result<()> {
        let policy = policy_of(self.desk);
        let l = &self.a.l;
        let cal = Market::Us.calendar();
        let scan_day = cal.previous_trading_day(self.day);
        let scan = match l.scan(scan_day) {
            Ok(s) => s,
            Err(e) => {
                self.note(
                    "errors",
                    None,
                    "stale_watchlist",
                    json!({"why": e.to_string(), "entries": 0}),
                );
                eprintln!("{}: {e}; no entries today (stops are kept)", self.name);
                return Ok(());
            }
        };
        let folder = self.home.join(format!("runs/{}/{}", self.name, self.day));
        systrade_systems::avwap::write_scan(&scan, &folder)?;
        let account = retry(policy, self.logs, "account", || broker.account())?;
        let equity = f(account.equity);
        let closes = |s: &Symbol| {
            l.panels
                .get(s)
                .and_then(|p| p.index_of(scan_day).map(|t| p.bars[t].close))
        };
        // The marketable order's reference: the session's first print once the open has
        // traded (the one-minute bars have it), else the previous close.
        let now = self.now;
        let day = self.day;
        let reference = |s: &Symbol| {
            l.sessions
                .get(s)
                .and_then(|x| x.get(&day))
                .and_then(|m| m.first())
                .filter(|m| m.ts + chrono::Duration::minutes(1) <= now)
                .map(|m| m.open)
                .or_else(|| closes(s))
        };
        let mut positions: BTreeMap<Symbol, f64> = BTreeMap::new();
        for (s, h) in &book.held {
            positions.insert(
                s.clone(),
                h.qty as f64 * closes(s).unwrap_or(h.tracker.entry_price),
            );
        }
        for s in book.pending.keys().chain(unknown.iter()) {
            positions.insert(s.clone(), closes(s).unwrap_or(0.0).max(1.0));
        }
        let entries_today = self
            .ledger
            .orders_for_day(self.name, self.day)?
            .iter()
            .filter(|o| {
                o.purpose == Purpose::Entry
                    && !matches!(o.status, OrderStatus::Rejected | OrderStatus::Canceled)
            })
            .count();
        let kill_switch = crate::gates::kill_switch(self.home, &l.cfg.run);
        let live = broker.is_live();
        let ctx = GateContext {
            as_of: self.day,
            equity,
            kill_switch,
            live,
            live_confirmed: live && crate::day::live_confirmed(self.live, &account.id),
            positions,
            entries_today,
            mismatched: self
                .ledger
                .unresolved_mismatches(self.name)?
                .into_iter()
                .chain(unknown.iter().cloned())
                .collect(),
            cash_mismatch: self.ledger.cash_mismatch(self.name)?.is_some(),
            ..GateContext::default()
        };
        let rows = scan.candidates().into_iter().cloned().collect();
        let plan = systrade_avwap::backtest::plan_entries(
            &l.panels,
            rows,
            self.day,
            &reference,
            &ctx,
            &l.cfg.safety,
            &l.params,
        );
        // `[decisions] mode = "shadow"`: only the hard gates (kill switch, live confirmation,
        // enable date, data, reconciliation) block; the others are recorded.
        let shadow = !l.cfg.decisions.enforced();
        for c in plan {
            let sym = c.row.symbol.clone();
            let soft_only = !c.gates.is_empty() && c.gates.iter().all(|g| !g.is_hard());
            let goes = c.outcome == "entered" || (shadow && soft_only);
            let detail = json!({"outcome": c.outcome, "qty": c.qty, "stop": c.stop,
                                "ref_price": c.entry_price, "score": c.row.score,
                                "enforced": !shadow, "sent": goes});
            let decision = if c.outcome == "entered" {
                "ALLOW"
            } else {
                "BLOCK"
            };
            self.note("decisions", Some(&sym), decision, detail);
            let (true, Some(qty), Some(stop), Some(basis), Some(budget), Some(anchor)) =
                (goes, c.qty, c.stop, c.basis, c.budget, c.row.anchor)
            else {
                continue;
            };
            let req = OrderRequest {
                client_order_id: ClientOrderId::for_book(
                    self.name,
                    self.day,
                    &sym,
                    Side::Buy,
                    "avwap entry",
                )?,
                symbol: sym.clone(),
                side: Side::Buy,
                qty: Decimal::from(qty),
                order_type: OrderType::Market,
                tif: TimeInForce::Day,
                session: self.day,
            };
            // Written ahead: a cycle killed after the send finds the order by its id.
            let anchor_date = l.panels[&sym].bars[anchor.index].ts;
            book.pending.insert(
                sym,
                PendingEntry {
                    client_order_id: req.client_order_id.clone(),
                    session: self.day,
                    qty,
                    origin: Origin {
                        scan_date: scan_day,
                        anchor_kind: anchor.kind.as_str().into(),
                        anchor_date,
                        initial_stop: stop,
                        stop_basis: basis.as_str().into(),
                        budget,
                    },
                },
            );
            book.save(self.home, self.name)?;
            let placed = place_once(broker, &req, self.logs, policy)?.order();
            let record = order_record(self.name, &req, &placed, Purpose::Entry, c.entry_price);
            self.ledger
                .step(self.run_id, 2, "entries", self.stamp, |w| {
                    w.upsert_order(&record)
                })?;
        }
        // Entries the broker filled at once (a paper account at the open) are positions now.
        let _ = self.reconcile(broker, book)?;
        Ok(())
    }

    /// Raises each position's stop to the higher lows confirmed on today's completed
    /// five-minute bars, then puts exactly one stop per position at the broker at the level
    /// in force — never before `stop_submit_after`.
    fn stops<B: Broker + ?Sized>(
        &mut self,
        broker: &mut B,
        book: &mut AvwapBook,
    ) -> anyhow::Result<()> {
        let policy = policy_of(self.desk);
        let l = &self.a.l;
        let p = &l.params.exits;
        let cal = Market::Us.calendar();
        let submit =
            submit_from(self.day, p.stop_submit_after).context("no New York time for the stop")?;
        let gated = self.now < submit;
        let open = retry(policy, self.logs, "open_orders", || broker.open_orders())?;
        for (sym, h) in &mut book.held {
            if h.exit_order.is_some() {
                continue;
            }
            if !gated && let Some(minutes) = l.sessions.get(sym).and_then(|s| s.get(&self.day)) {
                let done: Vec<_> = minutes
                    .iter()
                    .filter(|m| m.ts + chrono::Duration::minutes(1) <= self.now)
                    .copied()
                    .collect();
                let five = session_bars(&done, p.bar_minutes, cal);
                let bars = five.get(&self.day).map(Vec::as_slice).unwrap_or(&[]);
                let complete: Vec<_> = bars
                    .iter()
                    .filter(|b| {
                        b.ts + chrono::Duration::minutes(i64::from(p.bar_minutes)) <= self.now
                    })
                    .copied()
                    .collect();
                if let Some(level) = confirmed_lows(&complete, p.intraday_pivot_k)
                    .into_iter()
                    .map(|(_, v)| v)
                    .reduce(f64::max)
                    && h.tracker.path.raise(StopPoint {
                        effective: self.now,
                        level,
                        source: StopSource::Intraday,
                    })
                {
                    self.logs.write(
                        "stop_updates",
                        Some(sym.as_str()),
                        "raised",
                        json!({"level": level, "source": "intraday", "effective": self.stamp}),
                    );
                    self.events
                        .push(json!({"event": "raised", "symbol": sym, "level": level}));
                }
            }
            let existing: Vec<&BrokerOrder> = open
                .iter()
                .filter(|o| &o.symbol == sym && o.order_type.is_stop())
                .collect();
            let from_earlier = h.tracker.entry_day < self.day;
            if gated && !(from_earlier && existing.is_empty()) {
                let why = format!(
                    "no stop order before {} New York (stop_submit_after); {}",
                    p.stop_submit_after.format("%H:%M"),
                    if existing.is_empty() {
                        "the first cycle after it places it"
                    } else {
                        "the stop in force stays"
                    }
                );
                self.logs.write(
                    "stop_updates",
                    Some(sym.as_str()),
                    "time_gated",
                    json!({"why": why}),
                );
                self.events
                    .push(json!({"event": "time_gated", "symbol": sym, "why": why}));
                continue;
            }
            // In force now; a position carried from an earlier session without its stop gets
            // the latest level at once (protection before the time gate).
            let level = if gated {
                h.tracker
                    .path
                    .points()
                    .iter()
                    .rev()
                    .find(|x| x.effective < submit)
                    .copied()
            } else {
                h.tracker.path.in_force_at(self.now)
            }
            .or(h.tracker.path.current());
            let Some(level) = level else { continue };
            let req = stop_request(
                self.name,
                self.day,
                sym,
                Decimal::from(h.qty),
                dec(level.level),
            )?;
            if crate::stops::in_force(&existing, &req).is_some() {
                continue;
            }
            let put = put_stop(
                broker,
                (self.logs, policy),
                self.ledger,
                self.name,
                &req,
                &existing,
            )?;
            let row = crate::stops::stop_row(&req);
            let records = put.records.clone();
            let rejected = put.rejected();
            let (name, sym2) = (self.name, sym.clone());
            self.ledger.step(self.run_id, 3, "stops", self.stamp, |w| {
                for r in &records {
                    w.upsert_order(r)?;
                }
                if !rejected {
                    w.set_stop(name, &sym2, Some(&row))?;
                }
                Ok(())
            })?;
            let what = if rejected {
                "stop_rejected"
            } else {
                "stop_placed"
            };
            self.logs.write("stop_updates", Some(sym.as_str()), what,
                json!({"level": level.level, "source": level.source.as_str(), "client_order_id": req.client_order_id}));
            self.events
                .push(json!({"event": what, "symbol": sym, "level": level.level}));
        }
        Ok(())
    }

    /// The close: exits decided on today's close go out for the next open; the daily
    /// fallback raises stops of positions without intraday bars for the next session.
    fn close<B: Broker + ?Sized>(
        &mut self,
        broker: &mut B,
        book: &mut AvwapBook,
    ) -> anyhow::Result<()> {
        let policy = policy_of(self.desk);
        let l = &self.a.l;
        let cal = Market::Us.calendar();
        let next = cal.next_trading_day(self.day);
        let mut exits: Vec<(Symbol, ExitReason)> = Vec::new();
        for (sym, h) in &mut book.held {
            let panel = &l.panels[sym];
            let Some(t) = panel.index_of(self.day) else {
                let why = format!(
                    "no bar for {} in the data: the close-based exits wait (stops are kept)",
                    self.day
                );
                self.logs.write(
                    "errors",
                    Some(sym.as_str()),
                    "stale_data",
                    json!({"why": why}),
                );
                self.events
                    .push(json!({"event": "stale_data", "symbol": sym, "why": why}));
                continue;
            };
            if h.tracker.pending.is_some() || h.closed_through.is_some_and(|d| d >= self.day) {
                continue;
            }
            let bar = panel.bars[t];
            let minutes = l
                .sessions
                .get(sym)
                .and_then(|s| s.get(&self.day))
                .is_some_and(|m| !m.is_empty());
            if minutes {
                h.tracker.intraday_days += 1;
            } else {
                h.tracker.daily_days += 1;
            }
            h.tracker.worst = h.tracker.worst.min(bar.low);
            h.tracker.best = h.tracker.best.max(bar.high);
            h.tracker
                .at_close(panel, t, minutes, &l.params.exits, cal, true);
            h.closed_through = Some(self.day);
            if let Some(reason) = h.tracker.pending {
                exits.push((sym.clone(), reason));
            }
        }
        for (sym, reason) in exits {
            let h = book.held.get_mut(&sym).context("held position")?;
            let open = retry(policy, self.logs, "open_orders", || broker.open_orders())?;
            let stops: Vec<&BrokerOrder> = open
                .iter()
                .filter(|o| o.symbol == sym && o.order_type.is_stop())
                .collect();
            let mut canceled = Vec::new();
            for s in stops {
                canceled.push(retry(policy, self.logs, "cancel", || {
                    broker.cancel(&s.client_order_id)
                })?);
            }
            let req = OrderRequest {
                client_order_id: ClientOrderId::for_book(
                    self.name,
                    next,
                    &sym,
                    Side::Sell,
                    &format!("avwap exit {}", reason.as_str()),
                )?,
                symbol: sym.clone(),
                side: Side::Sell,
                qty: Decimal::from(h.qty),
                order_type: OrderType::Market,
                tif: TimeInForce::Day,
                session: next,
            };
            let placed = place_once(broker, &req, self.logs, policy)?.order();
            let record = order_record(self.name, &req, &placed, Purpose::Exit, None);
            let mut records = vec![record];
            for c in &canceled {
                if let Some(o) = self.ledger.order(&c.client_order_id)? {
                    records.push(crate::sync::merge(&o, c));
                }
            }
            let name = self.name;
            self.ledger.step(self.run_id, 4, "exits", self.stamp, |w| {
                for r in &records {
                    w.upsert_order(r)?;
                }
                w.set_stop(name, &sym, None)
            })?;
            h.exit_order = Some(req.client_order_id.clone());
            self.note(
                "desired_trades",
                Some(&sym),
                "exit_next_open",
                json!({"exit_reason": reason.as_str(), "session": next, "qty": h.qty}),
            );
        }
        // The next session's candidates.
        match l.scan(self.day) {
            Ok(scan) => {
                let folder = self.home.join(format!("runs/{}/{}", self.name, self.day));
                systrade_systems::avwap::write_scan(&scan, &folder)?;
            }
            Err(e) => self.note(
                "errors",
                None,
                "stale_watchlist",
                json!({"why": e.to_string()}),
            ),
        }
        Ok(())
    }
}
