//! A feed bucket's step 4 (buckets C and D): the backtest's own strategy on the account's
//! book — positions and their entry sessions from the ledger's fills before the day, the
//! alerts whose first open is the day (those of sessions no run decided since the last
//! completed one are named `missed_open`) — giving the exits at the end of the holding
//! window, the entries with their stops, and one stop per held position at its level.

use std::collections::BTreeMap;

use anyhow::Context;
use rust_decimal::Decimal;
use serde_json::json;
use systrade_backtest::{dec, f};
use systrade_core::Symbol;
use systrade_core::contracts::Side;
use systrade_core::fsio::write_atomic;
use systrade_feeds::FeedStrategy;
use systrade_store::{Ledger, Purpose};
use systrade_strategy::{MarketView, PortfolioView, Strategy, Target};

use crate::desk::{DayBook, DayDecision, DecideCtx, StopPlan, Want};
use crate::logs::Logs;

/// Per held symbol: the session its position opened and its average cost, from the book's
/// fills dated before `day`.
fn entries(
    ledger: &Ledger,
    book: &str,
    day: chrono::NaiveDate,
) -> anyhow::Result<BTreeMap<Symbol, (chrono::NaiveDate, f64)>> {
    let mut pos: BTreeMap<
        Symbol,
        (
            Decimal,
            chrono::NaiveDate,
            systrade_portfolio::positions::Position,
        ),
    > = BTreeMap::new();
    for x in ledger
        .fills(Some(book))?
        .into_iter()
        .filter(|x| x.date < day)
    {
        let e = pos.entry(x.symbol.clone()).or_insert((
            Decimal::ZERO,
            x.date,
            systrade_portfolio::positions::Position::default(),
        ));
        let signed = match x.side {
            Side::Buy => x.qty,
            Side::Sell => -x.qty,
        };
        if e.0.is_zero() {
            e.1 = x.date;
        }
        e.0 += signed;
        e.2.apply(&systrade_portfolio::positions::Execution {
            date: x.date,
            qty: f(signed),
            price: f(x.price),
            fee: f(x.fee),
        });
    }
    Ok(pos
        .into_iter()
        .filter(|(_, (q, _, _))| !q.is_zero())
        .map(|(s, (_, d, p))| (s, (d, p.avg)))
        .collect())
}

pub(crate) fn decide(
    l: &systrade_systems::feed::Loaded,
    book: &DayBook,
    x: &DecideCtx<'_>,
    ledger: &Ledger,
    logs: &mut Logs,
) -> anyhow::Result<DayDecision> {
    let day = x.day;
    let cal = l.market.calendar();
    let rules = &l.cfg.rules;
    let mut s = FeedStrategy::new(
        x.name,
        l.market,
        rules.clone(),
        l.alerts.clone(),
        l.data.keys().cloned().collect(),
    );
    // Alerts of sessions up to the last completed run were that run's; a first run starts
    // with the day's own.
    let last_run = ledger
        .equity(x.name)?
        .into_iter()
        .map(|(d, _)| d)
        .filter(|d| *d < day)
        .max();
    s.skip_through(last_run.unwrap_or_else(|| cal.previous_trading_day(day)));
    let opened = entries(ledger, x.name, day)?;
    for (sym, q) in &book.positions {
        if q.is_zero() {
            continue;
        }
        let entry = opened.get(sym).map_or(day, |e| e.0);
        let before = cal.trading_days(entry, cal.previous_trading_day(day)).len() as u32;
        s.restore(sym, entry, before.saturating_sub(1));
    }
    let pf = PortfolioView {
        equity: x.equity,
        cash: f(book.cash),
        positions: book
            .positions
            .iter()
            .map(|(k, q)| (k.clone(), f(*q)))
            .collect(),
        stopped_out: book.stopped_out.clone(),
    };
    let decision = s.decide(&MarketView::new(day, &l.data), &pf);
    let verdicts: Vec<_> = s
        .verdicts()
        .into_iter()
        .filter(|v| v.decided == Some(day))
        .collect();
    write_atomic(
        &x.folder.join(format!("alerts_{day}.csv")),
        systrade_systems::feed::alerts_csv(&verdicts).as_bytes(),
    )
    .with_context(|| format!("writing the alerts of {day}"))?;
    let expected = cal.previous_trading_day(day);
    let last_bar = l
        .data
        .values()
        .filter_map(|b| b.iter().rfind(|x| x.ts < day))
        .map(|b| b.ts)
        .max();
    let fresh = last_bar.is_some_and(|d| d >= expected);
    let mut wants = Vec::new();
    let mut stops = BTreeMap::new();
    let mut levels = BTreeMap::new();
    let recorded = ledger.stops(x.name)?;
    for (sym, t) in &decision.targets {
        let held = book.positions.get(sym).copied().unwrap_or(Decimal::ZERO);
        let (delta, purpose, reason) = match t {
            Target::Quantity(q) if dec(*q) > held => (dec(*q) - held, Purpose::Entry, "feed_entry"),
            Target::Flat if !held.is_zero() => (-held, Purpose::Exit, "hold_window"),
            _ => continue,
        };
        let stop = decision.stops.get(sym).copied();
        let v = verdicts.iter().find(|v| &v.symbol == sym);
        logs.write(
            "desired_trades",
            Some(sym.as_str()),
            reason,
            json!({"delta": delta.normalize().to_string(), "held_qty": held.normalize().to_string(),
                   "stop": stop, "line": v.map(|v| v.line), "why": v.map(|v| v.detail.clone())}),
        );
        if let (Purpose::Entry, Some(level)) = (purpose, stop) {
            stops.insert(sym.clone(), StopPlan::Level(level));
            levels.insert(sym.clone(), level);
        }
        wants.push(Want {
            symbol: sym.clone(),
            delta,
            purpose,
            reason: reason.to_string(),
            adds_risk: purpose == Purpose::Entry,
            entry: purpose == Purpose::Entry,
            data_ok: fresh || purpose == Purpose::Exit,
            stop,
            limit: None,
        });
    }
    // Every other held position keeps its stop: the level in force, else the rule's from
    // its average cost.
    for (sym, q) in &book.positions {
        if q.is_zero() || stops.contains_key(sym) {
            continue;
        }
        let level = recorded.get(sym).map(|r| f(r.level)).or_else(|| {
            opened
                .get(sym)
                .map(|e| e.1 * (1.0 - rules.stop_pct))
                .filter(|_| rules.stop_pct > 0.0)
        });
        stops.insert(
            sym.clone(),
            level.map_or(StopPlan::NoLevel, StopPlan::Level),
        );
        if let Some(level) = level {
            levels.insert(sym.clone(), level);
        }
    }
    for v in verdicts.iter().filter(|v| v.status != "entered") {
        logs.write(
            "desired_trades",
            Some(v.symbol.as_str()),
            v.status,
            json!({"line": v.line, "why": v.detail}),
        );
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for v in &verdicts {
        *counts.entry(v.status).or_default() += 1;
    }
    Ok(DayDecision {
        wants,
        stops,
        stop_levels: levels,
        carried: None,
        formation: None,
        decided_through: last_bar.unwrap_or(expected),
        targets: json!({"alerts": verdicts.len(), "verdicts": counts,
                        "positions_after": decision.diagnostics.get("feed_positions")}),
        no_data: if fresh {
            Vec::new()
        } else {
            l.data.keys().cloned().collect()
        },
    })
}
