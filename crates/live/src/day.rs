//! One strategy's market day: the 14 steps of spec/daily-run.md §2.
//!
//! Crash safety: the book a day is decided on is stored in the ledger at step 3, so a re-run
//! decides exactly the same; orders are found again at the broker by their stable client
//! order ids, so nothing is submitted twice; each step's ledger writes are one transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use systrade_backtest::{dec, f};
use systrade_broker::{
    Broker, BrokerError, BrokerOrder, OrderRequest, OrderStatus, OrderType, Position, RetryPolicy,
    with_retries,
};
use systrade_core::contracts::{Action, ClientOrderId, PortfolioDecision, ReasonCode, Side};
use systrade_core::fsio::{write_atomic, write_json_atomic};
use systrade_core::{DailyBar, Symbol};
use systrade_risk::{Candidate, GateContext, evaluate};
use systrade_store::{Book, BookKind, Ledger, LedgerOrder, ReconRow, RunStart, StopRow};

use systrade_config::run::BrokerKind;

use crate::desk::{DayBook, DecideCtx, Desk, StopPlan};
use crate::logs::Logs;
use crate::sync::{FillSync, merge};

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

/// An order the day wants, with the gate's verdict.
#[derive(Debug, Clone)]
struct Planned {
    req: OrderRequest,
    purpose: &'static str,
    reason: String,
    /// Reasons it was blocked (empty: it goes out).
    blocked: Vec<ReasonCode>,
    /// An entry or add (gated); exits, reductions and stops are not.
    adds_risk: bool,
    /// Held back by the execution level: `pending` (waits for `systrade approve`) or
    /// `manual` (never sent).
    hold: Option<&'static str>,
    /// The last close the order was decided on.
    decision_price: Option<Decimal>,
}

/// The test hook that kills the run at a step boundary (crash-safety tests).
fn boundary(step: u8) {
    if std::env::var("SYSTRADE_CRASH_AFTER_STEP")
        .ok()
        .and_then(|v| v.parse::<u8>().ok())
        == Some(step)
    {
        eprintln!("fault hook: killing the run after step {step}");
        std::process::abort();
    }
}

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

pub fn qty_text(q: Decimal) -> String {
    q.normalize().to_string()
}

/// The last close before `day` of each symbol.
fn closes_before(data: &BTreeMap<Symbol, Vec<DailyBar>>, day: NaiveDate) -> BTreeMap<Symbol, f64> {
    data.iter()
        .filter_map(|(s, bars)| {
            let i = bars.partition_point(|b| b.ts < day);
            i.checked_sub(1).map(|k| (s.clone(), bars[k].close))
        })
        .collect()
}

/// Books the broker's new fills of this strategy's orders; returns how many.
#[allow(clippy::too_many_arguments)]
fn ingest_fills<B: Broker + ?Sized>(
    broker: &mut B,
    ledger: &mut Ledger,
    logs: &mut Logs,
    policy: RetryPolicy,
    x: &DayInputs<'_>,
    run_id: &str,
    step: u8,
    step_name: &str,
) -> anyhow::Result<usize> {
    let sync = FillSync::collect(broker, ledger, x.name, x.account, logs, policy)?;
    ledger.step(run_id, step, step_name, x.now, |w| {
        sync.book(w, x.name, x.account)
    })?;
    sync.log(logs);
    Ok(sync.new.len())
}

fn ledger_order(x: &DayInputs<'_>, p: &Planned, status: OrderStatus) -> LedgerOrder {
    LedgerOrder {
        client_order_id: p.req.client_order_id.clone(),
        strategy: x.name.to_string(),
        market_day: x.market_day,
        symbol: p.req.symbol.clone(),
        side: p.req.side,
        kind: if p.req.order_type.is_stop() {
            "stop".into()
        } else {
            "market".into()
        },
        qty: p.req.qty,
        stop_price: p.req.order_type.stop_price(),
        purpose: p.purpose.to_string(),
        status,
        broker_order_id: None,
        filled_qty: Decimal::ZERO,
        avg_price: None,
        note: if p.blocked.is_empty() {
            None
        } else {
            Some(
                p.blocked
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            )
        },
        decision_price: p.decision_price,
        approval: p.hold.map(String::from),
    }
}

/// Runs the day; returns the daily summary's path.
pub fn run_day<B: Broker + ?Sized>(
    l: &Desk,
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
    ledger.start_run(&RunStart {
        run_id: &run_id,
        strategy: x.name,
        market_day: x.market_day,
        broker: x.broker.as_str(),
        account: &l.run_cfg().account,
        dry_run: x.dry_run,
        now: x.now,
    })?;
    match steps(l, &mut ledger, &mut logs, x, &run_id, connect) {
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
            let _ = ledger.finish_run(&run_id, Some(&format!("{e:#}")), x.now);
            crate::notify::deliver(
                l.run_cfg(),
                &[crate::notify::error_alert(
                    x.name,
                    &x.market_day.to_string(),
                    vec![format!("the run stopped: {e:#}")],
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

#[allow(clippy::too_many_lines)]
fn steps<B: Broker + ?Sized>(
    l: &Desk,
    ledger: &mut Ledger,
    logs: &mut Logs,
    x: &DayInputs<'_>,
    run_id: &str,
    connect: impl FnOnce() -> anyhow::Result<Box<B>>,
) -> anyhow::Result<PathBuf> {
    let day = x.market_day;
    let name = x.name;
    let rc = l.run_cfg();
    let policy = RetryPolicy {
        max_retries: rc.max_retries,
        base_delay: Duration::from_millis(rc.retry_base_ms),
    };
    let universe: BTreeSet<Symbol> = l.bars().keys().cloned().collect();

    // 1. The config is loaded and checked.
    ledger.step(run_id, 1, "load_config", x.now, |w| {
        w.set_book(&Book {
            strategy: name.to_string(),
            kind: BookKind::System,
            account: rc.account.clone(),
        })
    })?;
    boundary(1);

    // 2. Connect to the broker and validate the account before any work.
    let mut broker = connect()?;
    let broker = &mut *broker;
    let account = retry(policy, logs, "account", || broker.account())?;
    if account.trading_blocked {
        bail!("broker account {} is blocked for trading", account.id);
    }
    let live = broker.is_live();
    let live_confirmed = x.live
        && std::env::var("SYSTRADE_LIVE_CONFIRM").is_ok_and(|v| !v.is_empty() && v == account.id);
    ledger.step(run_id, 2, "connect_broker", x.now, |_| Ok(()))?;
    boundary(2);

    // 3. Data through T-1 (the view cannot reach later bars) and the day's book.
    ingest_fills(broker, ledger, logs, policy, x, run_id, 3, "pull_data")?;
    let book: DayBook = match ledger.day_book(name, day)? {
        Some(text) => serde_json::from_str(&text)
            .with_context(|| format!("the ledger's book of {day} is unreadable"))?,
        None => {
            let positions = retry(policy, logs, "positions", || broker.positions())?;
            let carried = ledger.carried(name)?;
            let stopped_out = ledger.stop_outs(name)?;
            DayBook {
                cash: account.cash,
                positions: positions
                    .into_iter()
                    .filter(|p| universe.contains(&p.symbol))
                    .map(|p| (p.symbol, p.qty))
                    .collect(),
                stopped_out,
                carried: carried.tickers,
                last_decided: carried.last_decided,
            }
        }
    };
    let book_text = systrade_core::json::to_canonical_string(&book)?;
    ledger.step(run_id, 3, "pull_data", x.now, |w| {
        w.save_day_book(name, day, &book_text)
    })?;
    boundary(3);

    // 4. Signals -> targets: the backtest's step on this book.
    let closes = closes_before(l.bars(), day);
    // The engine's marking: cash plus each position at its last close.
    let held_value: f64 = book
        .positions
        .iter()
        .map(|(s, q)| f(*q) * closes.get(s).copied().unwrap_or(0.0))
        .sum();
    let equity = f(book.cash) + held_value;
    let dd = l.decide(
        &book,
        &DecideCtx {
            name,
            day,
            folder: x.folder,
            equity,
            closes: &closes,
        },
        ledger,
        logs,
    )?;
    ledger.step(run_id, 4, "signals_targets", x.now, |w| {
        match &dd.formation {
            Some((month, date, state)) => w.save_formation(name, month, *date, state),
            None => Ok(()),
        }
    })?;
    boundary(4);

    // 5. Portfolio decisions for the orders that add risk.
    let mut wants = dd.wants.clone();
    // Sells first: their cash pays the buys (the backtest fills in the same order).
    wants.sort_by_key(|w| (w.delta > Decimal::ZERO, w.symbol.clone(), w.adds_risk));
    let mut planned: Vec<Planned> = Vec::new();
    for w in &wants {
        let side = if w.delta > Decimal::ZERO {
            Side::Buy
        } else {
            Side::Sell
        };
        planned.push(Planned {
            req: OrderRequest {
                client_order_id: ClientOrderId::for_book(name, day, &w.symbol, side, w.purpose)?,
                symbol: w.symbol.clone(),
                side,
                qty: w.delta.abs(),
                order_type: OrderType::Market,
                session: day,
            },
            purpose: w.purpose,
            reason: w.reason.clone(),
            blocked: Vec::new(),
            adds_risk: w.adds_risk,
            hold: None,
            decision_price: closes.get(&w.symbol).map(|c| dec(*c)),
        });
    }
    // The book after the exits and reductions, which never wait for a gate.
    let mut after: BTreeMap<Symbol, f64> = BTreeMap::new();
    for (s, q) in &book.positions {
        let reduced: Decimal = wants
            .iter()
            .filter(|w| &w.symbol == s && !w.adds_risk)
            .map(|w| w.delta)
            .sum();
        let v = f(*q + reduced) * closes.get(s).copied().unwrap_or(0.0);
        if v != 0.0 {
            after.insert(s.clone(), v);
        }
    }
    let history = ledger.equity(name)?;
    let before: Vec<f64> = history
        .iter()
        .filter(|(d, _)| *d < day)
        .map(|(_, e)| f(*e))
        .collect();
    let peak = before.iter().copied().fold(equity, f64::max);
    let own_ids: BTreeSet<&ClientOrderId> =
        planned.iter().map(|p| &p.req.client_order_id).collect();
    let entries_today = ledger
        .orders_for_day(name, day)?
        .iter()
        .filter(|o| o.purpose == "entry" && !own_ids.contains(&o.client_order_id))
        .filter(|o| {
            !matches!(
                o.status,
                OrderStatus::Rejected | OrderStatus::Staged | OrderStatus::Canceled
            )
        })
        .count();
    let kill_file = x.home.join(&rc.kill_switch_file);
    let kill_switch = kill_file.exists()
        || std::env::var("SYSTRADE_KILL_SWITCH")
            .is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes" | "on"));
    let gctx = GateContext {
        as_of: day,
        equity,
        kill_switch,
        live,
        live_confirmed,
        positions: after,
        sectors: l.sectors(),
        day_pnl: before.last().map_or(0.0, |prev| equity - prev),
        drawdown: if peak > 0.0 {
            (1.0 - equity / peak).max(0.0)
        } else {
            0.0
        },
        entries_today,
        mismatched: ledger.unresolved_mismatches(name)?,
    };
    let buys: Vec<usize> = (0..planned.len())
        .filter(|&i| planned[i].adds_risk)
        .collect();
    let candidates: Vec<Candidate> = buys
        .iter()
        .map(|&i| {
            let w = &wants[i];
            Candidate {
                symbol: w.symbol.clone(),
                qty: f(w.delta.abs()),
                price: closes.get(&w.symbol).copied().unwrap_or(0.0),
                stop: w.stop,
                entry: w.entry,
                data_ok: w.data_ok,
            }
        })
        .collect();
    let verdicts = evaluate(l.safety(), &gctx, &candidates);
    let enforced = l.decisions().enforced();
    let decisions_path = x.folder.join(format!("decisions_{day}.json"));
    let batch = json!({
        "as_of": day,
        "strategy": name,
        "mode": l.decisions().mode,
        "decisions": verdicts.iter().map(|v| json!({
            "symbol": v.decision.symbol, "action": v.decision.action,
            "reasons": v.decision.reasons, "scale": v.scale,
        })).collect::<Vec<_>>(),
    });
    write_json_atomic(&decisions_path, &batch)?;
    for v in &verdicts {
        logs.write(
            "decisions",
            Some(v.decision.symbol.as_str()),
            if v.decision.reasons.is_empty() {
                "allow"
            } else {
                v.decision.reasons[0].as_str()
            },
            json!({"action": v.decision.action, "reasons": v.decision.reasons, "scale": v.scale,
                   "enforced": enforced}),
        );
    }
    ledger.step(run_id, 5, "portfolio_decisions", x.now, |w| {
        for v in &verdicts {
            w.record_decision(name, day, &v.decision, enforced)?;
        }
        Ok(())
    })?;
    boundary(5);

    // 6. Orders: enforcement reads the decision artifact back and fails closed.
    let applied: BTreeMap<Symbol, PortfolioDecision> = if enforced {
        let path = match &l.decisions().file {
            Some(t) => systrade_config::resolve(
                x.config,
                Path::new(&t.replace("{date}", &day.to_string())),
            ),
            None => decisions_path.clone(),
        };
        match read_decisions(&path, day) {
            Ok(m) => m,
            Err(why) => {
                logs.write(
                    "errors",
                    None,
                    "decision_missing",
                    json!({"file": path.display().to_string(), "error": why}),
                );
                BTreeMap::new()
            }
        }
    } else {
        BTreeMap::new()
    };
    for (k, &i) in buys.iter().enumerate() {
        let v = &verdicts[k];
        let p = &mut planned[i];
        let mut reasons: Vec<ReasonCode> = if enforced {
            match applied.get(&p.req.symbol) {
                Some(d) if d.action == Action::Allow => Vec::new(),
                Some(d) => d.reasons.clone(),
                None => vec![ReasonCode::DecisionMissing],
            }
        } else {
            Vec::new()
        };
        // The hard gates hold in shadow mode too, and whatever the file says.
        reasons.extend(v.decision.reasons.iter().copied().filter(|r| r.is_hard()));
        reasons.sort();
        reasons.dedup();
        p.blocked = reasons;
        if p.blocked.is_empty() && v.scale < 1.0 {
            let step = l.qty_step();
            let scaled = (p.req.qty * dec(v.scale) / step).trunc() * step;
            if scaled.is_zero() {
                p.blocked = vec![ReasonCode::DrawdownThrottle];
            } else {
                p.req.qty = scaled;
            }
        }
    }
    // The execution level holds orders back: semi-auto ones above the threshold wait for
    // `systrade approve`, manual ones are never sent.
    for p in planned.iter_mut().filter(|p| p.blocked.is_empty()) {
        let notional = f(p.req.qty) * closes.get(&p.req.symbol).copied().unwrap_or(0.0);
        p.hold = l.execution().hold(notional);
    }
    // Approvals are for one session: what was not approved before it expires.
    let mut expired: Vec<LedgerOrder> = ledger
        .pending(Some(name))?
        .into_iter()
        .filter(|o| o.market_day < day)
        .collect();
    for o in &mut expired {
        o.status = OrderStatus::Expired;
        o.note = Some(format!("not approved before its session {}", o.market_day));
    }
    let staged: Vec<LedgerOrder> = planned
        .iter()
        .map(|p| {
            ledger_order(
                x,
                p,
                if p.blocked.is_empty() {
                    OrderStatus::Staged
                } else {
                    OrderStatus::Rejected
                },
            )
        })
        .collect();
    let known: BTreeSet<ClientOrderId> = ledger
        .orders_for_day(name, day)?
        .into_iter()
        .map(|o| o.client_order_id)
        .collect();
    ledger.step(run_id, 6, "build_orders", x.now, |w| {
        for o in staged
            .iter()
            .filter(|o| !known.contains(&o.client_order_id))
        {
            w.upsert_order(o)?;
        }
        for o in &expired {
            w.upsert_order(o)?;
        }
        Ok(())
    })?;
    for p in &planned {
        logs.write(
            "order_build",
            Some(p.req.symbol.as_str()),
            match (p.blocked.first(), p.hold) {
                (Some(r), _) => r.as_str(),
                (None, Some("pending")) => "awaiting_approval",
                (None, Some(_)) => "manual",
                (None, None) => p.purpose,
            },
            json!({"client_order_id": p.req.client_order_id, "side": p.req.side,
                   "qty": qty_text(p.req.qty), "purpose": p.purpose, "strategy_reason": p.reason,
                   "blocked": p.blocked, "hold": p.hold,
                   "decision_price": p.decision_price.map(qty_text)}),
        );
    }
    boundary(6);

    let go: Vec<&Planned> = planned
        .iter()
        .filter(|p| p.blocked.is_empty() && p.hold.is_none())
        .collect();
    let mut stop_log: Vec<(Symbol, &'static str, Value)> = Vec::new();

    // 7. Cancel the open stops of products about to be sold (they reserve quantity).
    let mut to_submit: Vec<&Planned> = Vec::new();
    for p in &go {
        if retry(policy, logs, "order", || {
            broker.order(&p.req.client_order_id)
        })?
        .is_none()
        {
            to_submit.push(p);
        }
    }
    cancel_stops_for(
        broker,
        ledger,
        logs,
        policy,
        x,
        run_id,
        (7, "cancel_stops_before_sells"),
        to_submit
            .iter()
            .filter(|p| p.req.side == Side::Sell && p.purpose != "dust")
            .map(|p| &p.req.symbol),
        &mut stop_log,
    )?;
    boundary(7);

    // 8. Submit (preview under --dry-run); 9. dust, after its own stop cancel.
    let main: Vec<&Planned> = go.iter().copied().filter(|p| p.purpose != "dust").collect();
    submit_all(
        broker,
        ledger,
        logs,
        policy,
        x,
        run_id,
        (8, "submit_orders"),
        &main,
    )?;
    boundary(8);
    let dust: Vec<&Planned> = go.iter().copied().filter(|p| p.purpose == "dust").collect();
    cancel_stops_for(
        broker,
        ledger,
        logs,
        policy,
        x,
        run_id,
        (9, "dust_stop_cancel"),
        to_submit
            .iter()
            .filter(|p| p.purpose == "dust")
            .map(|p| &p.req.symbol),
        &mut stop_log,
    )?;
    submit_all(broker, ledger, logs, policy, x, run_id, (9, "dust"), &dust)?;
    boundary(9);

    // 10. Refresh positions from the broker (stops are sized on what is held now).
    ingest_fills(
        broker,
        ledger,
        logs,
        policy,
        x,
        run_id,
        10,
        "refresh_positions",
    )?;
    let held: Vec<Position> = retry(policy, logs, "positions", || broker.positions())?;
    let held_map: BTreeMap<Symbol, Decimal> =
        held.iter().map(|p| (p.symbol.clone(), p.qty)).collect();
    write_atomic(
        &x.folder.join("snapshots/post_refresh_positions.csv"),
        positions_csv(&held_map, &closes).as_bytes(),
    )?;
    boundary(10);

    // 11. Post-exit cleanup: stops of products now flat.
    let open = retry(policy, logs, "open_orders", || broker.open_orders())?;
    let flat: Vec<Symbol> = open
        .iter()
        .filter(|o| o.order_type.is_stop() && !held_map.contains_key(&o.symbol))
        .map(|o| o.symbol.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    cancel_stops_for(
        broker,
        ledger,
        logs,
        policy,
        x,
        run_id,
        (11, "post_exit_cleanup"),
        flat.iter(),
        &mut stop_log,
    )?;
    boundary(11);

    // 12. Trailing stops: ratchet, cancel/replace; untouched when data_ok = 0.
    let open = retry(policy, logs, "open_orders", || broker.open_orders())?;
    let mut stop_rows: BTreeMap<Symbol, Option<StopRow>> = BTreeMap::new();
    let mut stop_orders: Vec<LedgerOrder> = Vec::new();
    for (sym, level) in &dd.stop_levels {
        if !held_map.contains_key(sym) {
            stop_log.push((sym.clone(), "not_open", json!({"level": level})));
        }
    }
    for (sym, qty) in &held_map {
        let Some(plan) = dd.stops.get(sym) else {
            continue;
        };
        let existing: Vec<&BrokerOrder> = open
            .iter()
            .filter(|o| &o.symbol == sym && o.order_type.is_stop())
            .collect();
        let level = match *plan {
            StopPlan::Skip => {
                stop_log.push((
                    sym.clone(),
                    "skip",
                    json!({"why": "data_ok = 0: the stop in force is left as it is", "open_stops": existing.len()}),
                ));
                continue;
            }
            StopPlan::NoLevel => {
                stop_log.push((
                    sym.clone(),
                    "rejected",
                    json!({"why": "no stop level could be computed"}),
                ));
                continue;
            }
            StopPlan::Level(level) => level,
        };
        let level_d = dec(level);
        let qty = qty.abs();
        if let [one] = existing.as_slice()
            && one.order_type.stop_price() == Some(level_d)
            && one.remaining() == qty
        {
            stop_log.push((
                sym.clone(),
                "unchanged",
                json!({"level": qty_text(level_d), "qty": qty_text(qty)}),
            ));
            stop_rows.insert(
                sym.clone(),
                Some(StopRow {
                    level: level_d,
                    qty,
                    client_order_id: one.client_order_id.clone(),
                    market_day: one.session,
                }),
            );
            continue;
        }
        let req = crate::orders::stop_request(name, day, sym, qty, level_d)?;
        let plan = Planned {
            req: req.clone(),
            purpose: "stop",
            reason: "protect".into(),
            blocked: Vec::new(),
            adds_risk: false,
            hold: None,
            decision_price: None,
        };
        if x.dry_run {
            let pv = retry(policy, logs, "preview", || broker.preview(&req))?;
            stop_log.push((sym.clone(), if pv.accepted { "placed" } else { "rejected" },
                json!({"preview": true, "level": qty_text(level_d), "qty": qty_text(qty), "why": pv.reason})));
            continue;
        }
        // Cancel extras, then replace the first (one step: no moment without a stop).
        for extra in existing.iter().skip(1) {
            retry(policy, logs, "cancel", || {
                broker.cancel(&extra.client_order_id)
            })?;
        }
        let placed = match retry(policy, logs, "order", || broker.order(&req.client_order_id))? {
            Some(o) => o,
            None => {
                let r = match existing.first() {
                    Some(old) => retry(policy, logs, "replace", || {
                        broker.replace(&old.client_order_id, &req)
                    }),
                    None => retry(policy, logs, "submit", || broker.submit(&req)),
                };
                match r {
                    Ok(o) => o,
                    Err(e) => match e.downcast_ref::<BrokerError>() {
                        Some(BrokerError::Duplicate(_)) => {
                            retry(policy, logs, "order", || broker.order(&req.client_order_id))?
                                .ok_or_else(|| {
                                    anyhow::anyhow!(
                                        "{sym}: the broker lost stop {}",
                                        req.client_order_id
                                    )
                                })?
                        }
                        _ => return Err(e),
                    },
                }
            }
        };
        let mut lo = ledger_order(x, &plan, placed.status);
        lo.broker_order_id = Some(placed.broker_id.clone());
        lo.note = placed.reason.clone();
        stop_orders.push(lo);
        for old in &existing {
            if let Some(o) = ledger.order(&old.client_order_id)? {
                let mut c = o.clone();
                if placed.status != OrderStatus::Rejected {
                    c.status = OrderStatus::Canceled;
                    c.note = Some(format!("replaced by {}", req.client_order_id));
                }
                stop_orders.push(c);
            }
        }
        if placed.status == OrderStatus::Rejected {
            stop_log.push((
                sym.clone(),
                "rejected",
                json!({"level": qty_text(level_d), "qty": qty_text(qty), "why": placed.reason}),
            ));
        } else {
            stop_log.push((
                sym.clone(),
                "placed",
                json!({"level": qty_text(level_d), "qty": qty_text(qty),
                "replaced": existing.first().map(|o| o.client_order_id.clone())}),
            ));
            stop_rows.insert(
                sym.clone(),
                Some(StopRow {
                    level: level_d,
                    qty,
                    client_order_id: req.client_order_id.clone(),
                    market_day: day,
                }),
            );
        }
    }
    ledger.step(run_id, 12, "trailing_stops", x.now, |w| {
        for o in &stop_orders {
            w.upsert_order(o)?;
        }
        for (s, r) in &stop_rows {
            w.set_stop(name, s, r.as_ref())?;
        }
        match &dd.carried {
            Some(c) => w.save_carried(name, c),
            None => Ok(()),
        }
    })?;
    for (sym, status, v) in &stop_log {
        logs.write("stop_updates", Some(sym.as_str()), status, v.clone());
    }
    boundary(12);

    // 13. Reconcile broker truth vs the ledger; the invariant of one stop per position.
    let held: Vec<Position> = retry(policy, logs, "positions", || broker.positions())?;
    let open = retry(policy, logs, "open_orders", || broker.open_orders())?;
    let cash = retry(policy, logs, "account", || broker.account())?.cash;
    let recon = reconcile_rows(ledger, name, &held, &open, l.uses_stops())?;
    let mut violations = Vec::new();
    for p in &held {
        let n = open
            .iter()
            .filter(|o| o.symbol == p.symbol && o.order_type.is_stop())
            .count();
        // A strategy without stops must not leave stray ones either.
        if n != usize::from(l.uses_stops()) {
            violations.push(json!({"symbol": p.symbol, "open_stops": n}));
        }
    }
    ledger.step(run_id, 13, "reconcile", x.now, |w| {
        w.record_reconciliation(name, day, &recon)
    })?;
    let unresolved = ledger.unresolved_mismatches(name)?;
    let mut recon_json = reconciliation_json(day, name, &rc.account, cash, &recon, &unresolved);
    recon_json["invariant"] = if l.uses_stops() {
        json!({"one_stop_per_position": violations.is_empty(), "violations": violations})
    } else {
        json!({"one_stop_per_position": null, "no_stray_stops": violations.is_empty(),
               "why": "the strategy defines no protective stop", "violations": violations})
    };
    write_json_atomic(
        &x.folder.join(format!("reconciliation_{day}.json")),
        &recon_json,
    )?;
    for r in recon.iter().filter(|r| r.status != "match") {
        logs.write(
            "errors",
            Some(r.symbol.as_str()),
            &r.status,
            recon_row_json(r, !unresolved.contains(&r.symbol)),
        );
    }
    boundary(13);

    // 14. Artifacts and the done flag; then notify (a failure is logged, never fatal).
    let account = retry(policy, logs, "account", || broker.account())?;
    let final_stops = ledger.stops(name)?;
    let mut gross = 0.0;
    let mut net = 0.0;
    let mut final_csv = String::from("symbol,qty,last_close,value,stop,stop_qty\n");
    let mut pos_json = Vec::new();
    for p in &held {
        let c = closes.get(&p.symbol).copied().unwrap_or(0.0);
        let v = f(p.qty) * c;
        gross += v.abs();
        net += v;
        let st = final_stops.get(&p.symbol);
        final_csv.push_str(&format!(
            "{},{},{},{:.2},{},{}\n",
            p.symbol,
            qty_text(p.qty),
            systrade_core::json::shortest(c),
            v,
            st.map(|s| qty_text(s.level)).unwrap_or_default(),
            st.map(|s| qty_text(s.qty)).unwrap_or_default()
        ));
        pos_json.push(json!({"symbol": p.symbol, "qty": qty_text(p.qty), "avg_price": qty_text(p.avg_price.round_dp(8)),
            "last_close": c, "value": v, "stop": st.map(|s| qty_text(s.level))}));
    }
    write_atomic(&x.folder.join("snapshots/final.csv"), final_csv.as_bytes())?;
    let eq_f = f(account.equity);
    let peak_now = before.iter().copied().fold(eq_f, f64::max);
    let snapshot = json!({
        "as_of": day, "strategy": name, "capital": eq_f, "cash": f(account.cash),
        "gross": gross, "net": net, "positions": pos_json,
        "drawdown": if peak_now > 0.0 { (1.0 - eq_f / peak_now).max(0.0) } else { 0.0 },
    });
    write_json_atomic(
        &x.folder.join(format!("portfolio_snapshot_{day}.json")),
        &snapshot,
    )?;
    let orders_today = ledger.orders_for_day(name, day)?;
    write_atomic(
        &x.folder.join(format!("orders_{day}.csv")),
        crate::orders::orders_csv(&orders_today).as_bytes(),
    )?;
    let awaiting: Vec<Value> = orders_today
        .iter()
        .filter(|o| o.status == OrderStatus::Staged && o.approval.is_some())
        .map(|o| {
            json!({"client_order_id": o.client_order_id, "symbol": o.symbol, "side": o.side,
                   "qty": qty_text(o.qty), "purpose": o.purpose, "approval": o.approval,
                   "notional": o.decision_price.map(|p| f(p * o.qty))})
        })
        .collect();
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for o in &orders_today {
        *by_status.entry(o.status.as_str().to_string()).or_default() += 1;
    }
    let mut stop_status: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, s, _) in &stop_log {
        *stop_status.entry(s).or_default() += 1;
    }
    let blocked: Vec<Value> = planned
        .iter()
        .filter(|p| !p.blocked.is_empty())
        .map(|p| {
            json!({"symbol": p.req.symbol, "qty": qty_text(p.req.qty), "reasons": p.blocked,
                        "why": p.blocked.iter().map(|r| r.describe()).collect::<Vec<_>>()})
        })
        .collect();
    let summary_path = x.folder.join(format!("daily_summary_{day}.json"));
    let mut summary = json!({
        "as_of": day,
        "strategy": name,
        "broker": x.broker.as_str(),
        "account": rc.account,
        "dry_run": x.dry_run,
        "decided_on_bars_through": dd.decided_through,
        "equity": eq_f,
        "cash": f(account.cash),
        "gross_exposure": if eq_f != 0.0 { gross / eq_f } else { 0.0 },
        "positions": held.len(),
        "targets": dd.targets,
        "no_data": dd.no_data,
        "decisions": {"mode": l.decisions().mode, "kill_switch": kill_switch,
                      "allowed": verdicts.iter().filter(|v| v.decision.action == Action::Allow).count(),
                      "blocked": blocked},
        "orders": {"planned": planned.len(), "by_status": by_status,
                   "execution_level": l.execution().level, "held_back": awaiting},
        "stops": stop_status,
        "reconciliation": {
            "mismatches": recon.iter().filter(|r| r.status != "match").map(|r| recon_row_json(r, !unresolved.contains(&r.symbol))).collect::<Vec<_>>(),
            "one_stop_per_position": recon_json["invariant"]["one_stop_per_position"].clone(),
            "violations": recon_json["invariant"]["violations"].clone(),
        },
        "logs": logs.counts,
        "artifacts": {
            "targets": format!("targets_{day}.csv"), "decisions": format!("decisions_{day}.json"),
            "reconciliation": format!("reconciliation_{day}.json"),
            "portfolio_snapshot": format!("portfolio_snapshot_{day}.json"),
            "orders": format!("orders_{day}.csv"),
        },
    });
    if x.stamp_artifacts
        && let Some(m) = summary.as_object_mut()
    {
        m.insert(
            "run".into(),
            json!({"run_id": run_id, "started_utc": x.now}),
        );
    }
    write_json_atomic(&summary_path, &summary)?;
    if !x.dry_run {
        ledger.step(run_id, 14, "persist_artifacts", x.now, |w| {
            w.record_equity(name, day, account.equity)?;
            w.mark_done(name, day)
        })?;
        write_atomic(&x.folder.join("done"), format!("{run_id}\n").as_bytes())?;
    }
    boundary(14);
    let alerts = crate::notify::alerts_of(&summary, &logs.errors);
    crate::notify::deliver(rc, &alerts, logs);
    println!(
        "{name} {day}{}: equity {:.2}, {} positions, orders {}, {} blocked, stops {}, reconciliation {}",
        if x.dry_run { " (dry run)" } else { "" },
        eq_f,
        held.len(),
        orders_today.len(),
        summary["decisions"]["blocked"]
            .as_array()
            .map_or(0, Vec::len),
        if stop_status.is_empty() {
            "none".to_string()
        } else {
            stop_status
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        },
        if recon.iter().all(|r| r.status == "match") && violations.is_empty() {
            "clean".to_string()
        } else {
            format!(
                "{} mismatches, {} stop-invariant violations",
                recon.iter().filter(|r| r.status != "match").count(),
                violations.len()
            )
        }
    );
    Ok(summary_path)
}

/// One reconciliation row; `acked` marks a mismatch someone acknowledged.
fn recon_row_json(r: &ReconRow, acked: bool) -> Value {
    json!({"symbol": r.symbol, "status": r.status, "broker_qty": qty_text(r.broker_qty),
           "ledger_qty": qty_text(r.ledger_qty), "stops": r.stops, "acked": acked && r.status != "match" })
}

/// A reconciliation report; `unresolved` are the mismatches no one acknowledged.
pub fn reconciliation_json(
    day: NaiveDate,
    name: &str,
    account: &str,
    cash: Decimal,
    rows: &[ReconRow],
    unresolved: &BTreeSet<Symbol>,
) -> Value {
    json!({
        "as_of": day, "strategy": name, "account": account, "broker_cash": cash.normalize().to_string(),
        "rows": rows.iter().map(|r| recon_row_json(r, !unresolved.contains(&r.symbol))).collect::<Vec<_>>(),
    })
}

/// Reads a decisions artifact: the date must be the market day and every entry valid.
fn read_decisions(
    path: &Path,
    day: NaiveDate,
) -> Result<BTreeMap<Symbol, PortfolioDecision>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("missing: {e}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("invalid JSON: {e}"))?;
    let as_of = v["as_of"].as_str().ok_or("invalid: no as_of")?;
    if as_of != day.to_string() {
        return Err(format!("for another date: {as_of}, not {day}"));
    }
    let list = v["decisions"]
        .as_array()
        .ok_or("invalid: no decisions array")?;
    let mut out = BTreeMap::new();
    for d in list {
        let pd: PortfolioDecision = serde_json::from_value(
            json!({"symbol": d["symbol"], "action": d["action"], "reasons": d["reasons"]}),
        )
        .map_err(|e| format!("invalid decision {d}: {e}"))?;
        out.insert(pd.symbol.clone(), pd);
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn cancel_stops_for<'s, B: Broker + ?Sized>(
    broker: &mut B,
    ledger: &mut Ledger,
    logs: &mut Logs,
    policy: RetryPolicy,
    x: &DayInputs<'_>,
    run_id: &str,
    (step, step_name): (u8, &str),
    symbols: impl Iterator<Item = &'s Symbol>,
    stop_log: &mut Vec<(Symbol, &'static str, Value)>,
) -> anyhow::Result<()> {
    let wanted: BTreeSet<&Symbol> = symbols.collect();
    let mut canceled = Vec::new();
    if !wanted.is_empty() {
        let open = retry(policy, logs, "open_orders", || broker.open_orders())?;
        for o in open
            .iter()
            .filter(|o| o.order_type.is_stop() && wanted.contains(&o.symbol))
        {
            let c = retry(policy, logs, "cancel", || broker.cancel(&o.client_order_id))?;
            stop_log.push((
                o.symbol.clone(),
                "canceled",
                json!({"client_order_id": o.client_order_id, "why": step_name}),
            ));
            canceled.push(c);
        }
    }
    let mut updates = Vec::new();
    for c in &canceled {
        if let Some(o) = ledger.order(&c.client_order_id)? {
            updates.push(merge(&o, c));
        }
    }
    ledger.step(run_id, step, step_name, x.now, |w| {
        for u in &updates {
            w.upsert_order(u)?;
        }
        for c in &canceled {
            w.set_stop(x.name, &c.symbol, None)?;
        }
        Ok(())
    })?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn submit_all<B: Broker + ?Sized>(
    broker: &mut B,
    ledger: &mut Ledger,
    logs: &mut Logs,
    policy: RetryPolicy,
    x: &DayInputs<'_>,
    run_id: &str,
    (step, step_name): (u8, &str),
    orders: &[&Planned],
) -> anyhow::Result<()> {
    let mut updates = Vec::new();
    for p in orders {
        let id = &p.req.client_order_id;
        let b = match retry(policy, logs, "order", || broker.order(id))? {
            Some(o) => {
                logs.write(
                    "order_submit",
                    Some(p.req.symbol.as_str()),
                    "already_at_broker",
                    json!({"client_order_id": id, "status": o.status}),
                );
                o
            }
            None if x.dry_run => {
                let pv = retry(policy, logs, "preview", || broker.preview(&p.req))?;
                logs.write(
                    "order_submit",
                    Some(p.req.symbol.as_str()),
                    "preview",
                    json!({"client_order_id": id, "accepted": pv.accepted, "why": pv.reason,
                           "est_price": pv.est_price.map(qty_text), "qty": qty_text(p.req.qty)}),
                );
                continue;
            }
            None => match retry(policy, logs, "submit", || broker.submit(&p.req)) {
                Ok(o) => o,
                Err(e) => match e.downcast_ref::<BrokerError>() {
                    // A lost answer: the broker has it; adopt it.
                    Some(BrokerError::Duplicate(_)) => {
                        retry(policy, logs, "order", || broker.order(id))?.ok_or_else(|| {
                            anyhow::anyhow!(
                                "the broker refused {id} as a duplicate but does not have it"
                            )
                        })?
                    }
                    _ => return Err(e),
                },
            },
        };
        logs.write(
            "order_submit",
            Some(p.req.symbol.as_str()),
            b.status.as_str(),
            json!({"client_order_id": id, "side": p.req.side, "qty": qty_text(p.req.qty),
                   "filled_qty": qty_text(b.filled_qty), "avg_price": b.avg_price.map(qty_text),
                   "purpose": p.purpose, "why": b.reason}),
        );
        let base = ledger
            .order(id)?
            .unwrap_or_else(|| ledger_order(x, p, OrderStatus::Submitted));
        updates.push(merge(&base, &b));
    }
    ledger.step(run_id, step, step_name, x.now, |w| {
        for u in &updates {
            w.upsert_order(u)?;
        }
        Ok(())
    })?;
    Ok(())
}

fn positions_csv(held: &BTreeMap<Symbol, Decimal>, closes: &BTreeMap<Symbol, f64>) -> String {
    let mut out = String::from("symbol,qty,last_close,value\n");
    for (s, q) in held {
        let c = closes.get(s).copied().unwrap_or(0.0);
        out.push_str(&format!(
            "{s},{},{},{:.2}\n",
            qty_text(*q),
            systrade_core::json::shortest(c),
            f(*q) * c
        ));
    }
    out
}

/// Broker positions and open stops vs the ledger's positions, per symbol.
fn reconcile_rows(
    ledger: &Ledger,
    name: &str,
    held: &[Position],
    open: &[BrokerOrder],
    uses_stops: bool,
) -> anyhow::Result<Vec<ReconRow>> {
    let ours = ledger.positions(name)?;
    let theirs: BTreeMap<&Symbol, Decimal> = held.iter().map(|p| (&p.symbol, p.qty)).collect();
    let symbols: BTreeSet<&Symbol> = ours.keys().chain(theirs.keys().copied()).collect();
    let mut rows = Vec::new();
    for s in symbols {
        let b = theirs.get(s).copied().unwrap_or(Decimal::ZERO);
        let l = ours.get(s).copied().unwrap_or(Decimal::ZERO);
        let stops = open
            .iter()
            .filter(|o| &o.symbol == s && o.order_type.is_stop())
            .count();
        let status = if l.is_zero() && !b.is_zero() {
            "missing_in_ledger"
        } else if b.is_zero() && !l.is_zero() {
            "missing_in_broker"
        } else if b != l {
            "qty_mismatch"
        } else if stops == 0 && uses_stops {
            "stop_missing"
        } else {
            "match"
        };
        rows.push(ReconRow {
            symbol: s.clone(),
            status: status.into(),
            broker_qty: b,
            ledger_qty: l,
            stops,
        });
    }
    Ok(rows)
}

/// `systrade reconcile`: the rows and the broker's cash now (the broker is opened at `day`,
/// so a paper clock does not move past it).
pub fn reconcile_now(
    l: &Desk,
    ledger: &Ledger,
    name: &str,
    day: NaiveDate,
    venue: &crate::venue::Venue,
) -> anyhow::Result<(Vec<ReconRow>, Decimal)> {
    if !venue.exists() {
        return Err(crate::bad(format!(
            "no paper account at {}",
            venue.location()
        )));
    }
    let mut broker = venue.connect(l, day, systrade_broker::Faults::none())?;
    let held = broker.positions()?;
    let open = broker.open_orders()?;
    let cash = broker.account()?.cash;
    Ok((
        reconcile_rows(ledger, name, &held, &open, l.uses_stops())?,
        cash,
    ))
}
