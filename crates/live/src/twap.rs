//! TWAP (issue 23): a sheet book's large orders worked as limit slices across a window.
//!
//! The daily run (before the open) leaves every order of at least `execution.twap_above`
//! notional staged in the ledger: it is the **parent**. `systrade run --config book.toml
//! --cycle intraday` (or `auto`), called every few minutes on the session's day, works it:
//! the window `twap_start` + `twap_minutes` is cut into `twap_slices` equal parts; in part
//! `k` slice `k` goes out as a day limit order for the parent's rest divided by the slices
//! left, priced through the close of the last completed one-minute bar (`twap_offset`, never
//! past the parent's own limit); when the next part is due the slice's unfilled rest is
//! canceled and rolls into the next slice. After the window every open slice is canceled
//! and the parent is final: filled, or canceled with its leftover reported (summary, log,
//! alert). Partial fills are tracked per slice (each is a ledger order with its fills).
//!
//! Crash-only like the daily run: slice ids are derived from the parent and the slice
//! number and looked up at the broker before anything is sent, so a cycle killed anywhere
//! and run again places no slice twice; a slice placed but not recorded is adopted by the
//! fill sync and counted. Fail closed: no quote fresher than [`QUOTE_MAX_AGE_MINUTES`] —
//! no slice (said loudly); the kill switch — no buy slice.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use systrade_avwap::intraday::{ny_instant, ny_local};
use systrade_backtest::{dec, f};
use systrade_broker::{Broker, BrokerError, OrderRequest, OrderStatus, OrderType, TimeInForce};
use systrade_config::run::Twap;
use systrade_core::contracts::{ClientOrderId, Side};
use systrade_core::fsio::write_atomic;
use systrade_core::vocab::{Approval, OrderKind};
use systrade_core::{Market, Symbol};
use systrade_store::{Book, BookKind, Ledger, LedgerOrder, Purpose};

use crate::cycles::{Cycle, CycleRequest};
use crate::day::{policy_of, qty_text, retry};
use crate::desk::{Desk, SheetBook};
use crate::logs::Logs;
use crate::submit::place_once;
use crate::sync::{FillSync, merge};
use crate::{bad, venue};

/// A slice is priced only from a one-minute bar that ended at most this long ago.
pub const QUOTE_MAX_AGE_MINUTES: i64 = 15;

/// A day's TWAP window, cut into equal parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub slices: u32,
}

/// Where the window stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Before the window: nothing to place yet.
    Waiting,
    /// Part `k` (from 0): slice `k` works, the earlier ones are done.
    Slice(u32),
    /// The window is over: nothing may work any more.
    Ended,
}

impl Window {
    /// The window of `day` (a New York session opening at `open`, local time).
    pub fn of(t: &Twap, day: NaiveDate, open: chrono::NaiveTime) -> Option<Window> {
        let start = ny_instant(day, t.start.unwrap_or(open))?;
        Some(Window {
            start,
            end: start + Duration::minutes(i64::from(t.minutes)),
            slices: t.slices,
        })
    }

    /// When part `k` starts (`k = slices`: the window's end).
    pub fn part_start(&self, k: u32) -> DateTime<Utc> {
        let secs = (self.end - self.start).num_seconds();
        self.start + Duration::seconds(secs * i64::from(k) / i64::from(self.slices))
    }

    pub fn due(&self, now: DateTime<Utc>) -> Due {
        if now < self.start {
            return Due::Waiting;
        }
        if now >= self.end {
            return Due::Ended;
        }
        let k = (0..self.slices)
            .rev()
            .find(|k| self.part_start(*k) <= now)
            .unwrap_or(0);
        Due::Slice(k)
    }
}

/// True when the daily run leaves this order to the TWAP cycles: it is neither a stop nor
/// dust, and its notional at the decision price is at least `twap_above` (an order without
/// a decision price counts as large).
pub fn works(t: &Twap, qty: Decimal, decision_price: Option<Decimal>, purpose: Purpose) -> bool {
    !matches!(purpose, Purpose::Stop | Purpose::Dust | Purpose::Adopted)
        && decision_price.is_none_or(|p| f(p * qty) >= t.above)
}

/// The client order id of slice `k` (from 0) of `parent`.
pub fn slice_id(book: &str, parent: &LedgerOrder, k: u32) -> anyhow::Result<ClientOrderId> {
    Ok(ClientOrderId::for_book(
        book,
        parent.market_day,
        &parent.symbol,
        parent.side,
        &format!("{}-twap-{:03}", parent.purpose.as_str(), k + 1),
    )?)
}

/// The parents of a book that are not final: today's staged or working ones, and any left
/// over from earlier days (settled by the next cycle).
fn parents(
    ledger: &Ledger,
    name: &str,
    day: NaiveDate,
    t: &Twap,
) -> anyhow::Result<Vec<LedgerOrder>> {
    let mut out: Vec<LedgerOrder> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for o in ledger
        .working_orders(name)?
        .into_iter()
        .chain(ledger.orders_for_day(name, day)?)
    {
        let staged_ok = o.status != OrderStatus::Staged
            || matches!(o.approval, None | Some(Approval::Approved));
        let shape = o.broker_order_id.is_none()
            && matches!(o.kind, OrderKind::Market | OrderKind::Limit)
            && matches!(
                o.status,
                OrderStatus::Staged | OrderStatus::Accepted | OrderStatus::PartiallyFilled
            );
        if shape
            && staged_ok
            && o.market_day <= day
            && works(t, o.qty, o.decision_price, o.purpose)
            && seen.insert(o.client_order_id.clone())
        {
            out.push(o);
        }
    }
    out.sort_by(|a, b| {
        (a.market_day, a.side == Side::Buy, &a.client_order_id).cmp(&(
            b.market_day,
            b.side == Side::Buy,
            &b.client_order_id,
        ))
    });
    Ok(out)
}

/// The close of the last one-minute bar of `sym` completed by `now` on `day`, and when it
/// ended — only when that is at most [`QUOTE_MAX_AGE_MINUTES`] ago.
fn quote(l: &SheetBook, sym: &Symbol, day: NaiveDate, now: DateTime<Utc>) -> Option<f64> {
    let bars = l.minutes.get(sym)?.get(&day)?;
    let last = bars
        .iter()
        .rev()
        .find(|m| m.ts + Duration::minutes(1) <= now)?;
    let ended = last.ts + Duration::minutes(1);
    (now - ended <= Duration::minutes(QUOTE_MAX_AGE_MINUTES)).then_some(last.close)
}

/// What one cycle did to one parent, for the summary.
struct Worked {
    report: Value,
    /// Lines for the alert (a leftover, a missing quote).
    alerts: Vec<String>,
}

struct TwapRun<'a> {
    l: &'a SheetBook,
    t: &'a Twap,
    desk: &'a Desk,
    ledger: &'a mut Ledger,
    logs: &'a mut Logs,
    name: &'a str,
    day: NaiveDate,
    now: DateTime<Utc>,
    window: Window,
    kill_switch: bool,
}

impl TwapRun<'_> {
    /// Cancels an open slice; returns the broker's order (already final: as it is).
    fn cancel<B: Broker + ?Sized>(
        &mut self,
        broker: &mut B,
        s: &LedgerOrder,
    ) -> anyhow::Result<LedgerOrder> {
        let policy = policy_of(self.desk);
        let id = &s.client_order_id;
        let b = match retry(policy, self.logs, "cancel", || broker.cancel(id)) {
            Ok(b) => b,
            Err(e) => match e.downcast_ref::<BrokerError>() {
                // Filled or expired meanwhile: the broker's state is the truth.
                Some(BrokerError::Invalid(_) | BrokerError::NotFound(_)) => {
                    retry(policy, self.logs, "order", || broker.order(id))?.ok_or_else(|| {
                        anyhow::anyhow!("TWAP slice {id} is in the ledger but not at the broker")
                    })?
                }
                _ => return Err(e),
            },
        };
        let m = merge(s, &b);
        self.logs.write(
            "order_submit",
            Some(s.symbol.as_str()),
            "twap_slice_canceled",
            json!({"client_order_id": id, "status": m.status, "filled_qty": qty_text(m.filled_qty),
                   "unfilled": qty_text(m.qty - m.filled_qty)}),
        );
        Ok(m)
    }

    /// Works one parent at `now`: cancels what is past, places the slice due, settles it
    /// after the window. Returns its ledger writes and its report.
    fn work<B: Broker + ?Sized>(
        &mut self,
        broker: &mut B,
        parent: &LedgerOrder,
    ) -> anyhow::Result<(Vec<LedgerOrder>, Worked)> {
        let n = self.window.slices;
        let due = if parent.market_day < self.day {
            Due::Ended
        } else {
            self.window.due(self.now)
        };
        let mut slices: Vec<(u32, LedgerOrder)> = Vec::new();
        for k in 0..n {
            if let Some(o) = self.ledger.order(&slice_id(self.name, parent, k)?)? {
                slices.push((k, o));
            }
        }
        let mut writes = Vec::new();
        let mut alerts = Vec::new();
        let filled_of = |v: &[(u32, LedgerOrder)]| v.iter().map(|(_, s)| s.filled_qty).sum();
        // What is past (or everything, once the window ended or the parent filled) stops.
        let mut filled: Decimal = filled_of(&slices);
        for (k, s) in &mut slices {
            let past = match due {
                Due::Ended => true,
                Due::Slice(d) => *k < d,
                Due::Waiting => false,
            };
            if s.status.is_open() && (past || filled >= parent.qty) {
                *s = self.cancel(broker, s)?;
                writes.push(s.clone());
            }
        }
        filled = filled_of(&slices);
        let remaining = parent.qty - filled;
        let mut note = None;
        if let Due::Slice(k) = due
            && remaining > Decimal::ZERO
            && !slices.iter().any(|(i, _)| *i == k)
        {
            match self.slice(broker, parent, k, remaining)? {
                Ok(o) => {
                    writes.push(o.clone());
                    slices.push((k, o));
                }
                Err(why) => {
                    alerts.push(format!(
                        "TWAP {} {} {}: slice {}/{n} not placed — {why}",
                        parent.side,
                        qty_text(parent.qty),
                        parent.symbol,
                        k + 1
                    ));
                    note = Some(why);
                }
            }
        }
        filled = filled_of(&slices);
        let cost: Decimal = slices
            .iter()
            .filter_map(|(_, s)| s.avg_price.map(|p| p * s.filled_qty))
            .sum();
        let avg = (filled > Decimal::ZERO).then(|| (cost / filled).round_dp(8));
        let leftover = parent.qty - filled;
        let done = due == Due::Ended || leftover <= Decimal::ZERO;
        let status = if done && leftover <= Decimal::ZERO {
            OrderStatus::Filled
        } else if done && parent.status == OrderStatus::Staged && slices.is_empty() {
            OrderStatus::Expired
        } else if done {
            OrderStatus::Canceled
        } else if filled > Decimal::ZERO {
            OrderStatus::PartiallyFilled
        } else if slices.is_empty() {
            parent.status
        } else {
            OrderStatus::Accepted
        };
        let parent_note = if done {
            let ended = ny_local(self.now.min(self.window.end)).1.format("%H:%M");
            let text = format!(
                "TWAP over {n} slices: filled {} of {} (avg {}); leftover {} {}",
                qty_text(filled),
                qty_text(parent.qty),
                avg.map_or("-".into(), qty_text),
                qty_text(leftover.max(Decimal::ZERO)),
                if leftover > Decimal::ZERO {
                    format!("canceled at the window's end ({ended} New York)")
                } else {
                    "(none)".into()
                }
            );
            if leftover > Decimal::ZERO {
                alerts.push(format!(
                    "TWAP {} {} {}: {text}",
                    parent.side,
                    qty_text(parent.qty),
                    parent.symbol
                ));
                self.logs.write(
                    "errors",
                    Some(parent.symbol.as_str()),
                    "twap_leftover",
                    json!({"client_order_id": parent.client_order_id, "why": text}),
                );
            }
            self.logs.write(
                "order_submit",
                Some(parent.symbol.as_str()),
                "twap_done",
                json!({"client_order_id": parent.client_order_id, "filled_qty": qty_text(filled),
                       "leftover": qty_text(leftover.max(Decimal::ZERO)), "avg_price": avg.map(qty_text)}),
            );
            Some(text)
        } else {
            parent.note.clone()
        };
        let updated = LedgerOrder {
            status,
            filled_qty: filled,
            avg_price: avg,
            note: parent_note,
            ..parent.clone()
        };
        if updated != *parent {
            writes.push(updated.clone());
        }
        slices.sort_by_key(|(k, _)| *k);
        let report = json!({
            "parent": parent.client_order_id,
            "symbol": parent.symbol,
            "side": parent.side,
            "qty": qty_text(parent.qty),
            "filled": qty_text(filled),
            "leftover": qty_text(leftover.max(Decimal::ZERO)),
            "avg_price": avg.map(qty_text),
            "status": status,
            "due": match due {
                Due::Waiting => "waiting".to_string(),
                Due::Slice(k) => format!("slice {}/{n}", k + 1),
                Due::Ended => "ended".to_string(),
            },
            "not_placed": note,
            "slices": slices.iter().map(|(k, s)| json!({
                "slice": k + 1, "client_order_id": s.client_order_id, "qty": qty_text(s.qty),
                "limit": s.limit_price.map(qty_text), "filled": qty_text(s.filled_qty),
                "avg_price": s.avg_price.map(|p| qty_text(p.round_dp(8))), "status": s.status,
            })).collect::<Vec<_>>(),
        });
        Ok((writes, Worked { report, alerts }))
    }

    /// Places slice `k` of `parent` for its share of `remaining`; `Err(why)` when it may not
    /// go out (no fresh quote, the kill switch, nothing left after rounding).
    fn slice<B: Broker + ?Sized>(
        &mut self,
        broker: &mut B,
        parent: &LedgerOrder,
        k: u32,
        remaining: Decimal,
    ) -> anyhow::Result<Result<LedgerOrder, String>> {
        let sym = &parent.symbol;
        if self.kill_switch && parent.purpose.adds_risk() {
            self.logs.write(
                "order_submit",
                Some(sym.as_str()),
                "twap_kill_switch",
                json!({"client_order_id": parent.client_order_id, "slice": k + 1}),
            );
            return Ok(Err(
                "the kill switch is on: no new risk (exits keep working)".into(),
            ));
        }
        let Some(close) = quote(self.l, sym, self.day, self.now) else {
            let why = format!(
                "no one-minute bar of {sym} in execution.twap_bars ended within {QUOTE_MAX_AGE_MINUTES} minutes of {} — no price to work it at",
                self.now.format("%Y-%m-%dT%H:%M:%SZ")
            );
            self.logs.write(
                "errors",
                Some(sym.as_str()),
                "twap_no_quote",
                json!({"client_order_id": parent.client_order_id, "slice": k + 1, "why": why}),
            );
            return Ok(Err(why));
        };
        let step = self.desk.qty_step();
        let left = self.window.slices - k;
        let qty = if left <= 1 {
            remaining
        } else {
            let share = remaining / Decimal::from(left);
            ((share / step).trunc() * step).max(step).min(remaining)
        };
        let qty = (qty / step).trunc() * step;
        if qty <= Decimal::ZERO {
            return Ok(Err(format!(
                "the rest {} is below one quantity step {}",
                qty_text(remaining),
                qty_text(step)
            )));
        }
        let buy = parent.side == Side::Buy;
        let through = dec(close)
            * if buy {
                Decimal::ONE + dec(self.t.offset)
            } else {
                Decimal::ONE - dec(self.t.offset)
            };
        let mut limit = crate::sheet_day::on_grid(through);
        if let Some(cap) = parent.limit_price {
            limit = if buy { limit.min(cap) } else { limit.max(cap) };
        }
        let req = OrderRequest {
            client_order_id: slice_id(self.name, parent, k)?,
            symbol: sym.clone(),
            side: parent.side,
            qty,
            order_type: OrderType::Limit { limit },
            tif: TimeInForce::Day,
            session: self.day,
        };
        let b = place_once(&mut *broker, &req, self.logs, policy_of(self.desk))?.order();
        let base = LedgerOrder {
            client_order_id: req.client_order_id.clone(),
            strategy: self.name.to_string(),
            market_day: self.day,
            symbol: sym.clone(),
            side: parent.side,
            kind: OrderKind::Limit,
            qty,
            stop_price: None,
            purpose: parent.purpose,
            status: OrderStatus::Submitted,
            broker_order_id: None,
            filled_qty: Decimal::ZERO,
            avg_price: None,
            note: Some(format!(
                "TWAP slice {}/{} of {}",
                k + 1,
                self.window.slices,
                parent.client_order_id
            )),
            decision_price: parent.decision_price,
            limit_price: Some(limit),
            approval: None,
        };
        let o = merge(&base, &b);
        self.logs.write(
            "order_submit",
            Some(sym.as_str()),
            "twap_slice",
            json!({"client_order_id": o.client_order_id, "parent": parent.client_order_id,
                   "slice": k + 1, "qty": qty_text(qty), "limit": qty_text(limit),
                   "last_close": close, "status": o.status, "filled_qty": qty_text(o.filled_qty)}),
        );
        Ok(Ok(o))
    }
}

/// One TWAP cycle of a sheet book at `r.now`; returns its summary (`None`: nothing due).
pub fn run_cycle(
    home: &Path,
    r: &CycleRequest<'_>,
    desk: &Desk,
    connector: &dyn venue::Connector,
) -> anyhow::Result<Option<PathBuf>> {
    let Desk::Sheet(l) = desk else {
        bail!("TWAP cycles are a sheet book's");
    };
    let Some(t) = &l.twap else {
        return Err(bad(format!(
            "{}: --cycle works a sheet book's orders as TWAP slices; this book has no [execution] twap_slices — its daily run (`systrade run` without --cycle) sends them whole",
            r.config.display()
        )));
    };
    if matches!(r.cycle, Cycle::Open | Cycle::Close) {
        return Err(bad(format!(
            "{}: a sheet book has one intraday cycle (`--cycle intraday` or `auto`: its TWAP slices); its orders come from the daily run (`systrade run` without --cycle)",
            r.config.display()
        )));
    }
    let name = crate::strategy_name(r.config, l.cfg.run.name.as_deref());
    let (day, time) = ny_local(r.now);
    let cal = Market::Us.calendar();
    let Some(session) = cal.session(day) else {
        println!("market_closed [{name}]: {day} is not a New York trading day; nothing to do");
        return Ok(None);
    };
    let mut ledger = Ledger::open(&home.join("ledger.sqlite"))?;
    if ledger.done(&name, day)?.is_none() {
        let why = format!(
            "the daily run of {name} for {day} has not completed: its orders are not final, so no TWAP slice goes out — run `systrade run --config {}` first",
            r.config.display()
        );
        if r.cycle == Cycle::Auto {
            println!("nothing due [{name}]: {why}");
            return Ok(None);
        }
        return Err(bad(why));
    }
    let window = Window::of(t, day, session.open)
        .with_context(|| format!("{day}: no New York instant for the TWAP window"))?;
    let folder = home.join(format!("runs/{name}/{day}"));
    let label = format!("twap_{}", time.format("%H%M"));
    let summary = folder.join(format!("cycle_{label}.json"));
    let Some(_lock) =
        crate::cycles::lock_unless_ran(home, (&name, day), &label, &summary, r.force)?
    else {
        return Ok(None);
    };
    let stamp = r.now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let account = l.cfg.run.account.clone();
    let crate::cycles::Started {
        run_id,
        mut logs,
        venue,
    } = crate::cycles::start_cycle(
        home,
        &mut ledger,
        (&name, &account, day),
        (&label, &stamp),
        r.broker.unwrap_or(l.cfg.run.broker),
    )?;
    let result = (|| -> anyhow::Result<(Value, Vec<String>)> {
        let mut broker = connector.connect(&venue, desk, day)?;
        let policy = policy_of(desk);
        if broker.is_live() {
            let id = retry(policy, &mut logs, "account", || broker.account())?.id;
            venue::confirm_live(r.live, &id, broker.kind())?;
        }
        let sync = FillSync::collect(&mut *broker, &ledger, &name, &account, &mut logs, policy)?;
        ledger.step(&run_id, 1, "sync", &stamp, |w| {
            w.set_book(&Book {
                strategy: name.clone(),
                kind: BookKind::Sheet,
                account: account.clone(),
            })?;
            sync.book(w, &name, &account)
        })?;
        sync.log(&mut logs);
        let todo = parents(&ledger, &name, day, t)?;
        let mut run = TwapRun {
            l,
            t,
            desk,
            ledger: &mut ledger,
            logs: &mut logs,
            name: &name,
            day,
            now: r.now,
            window,
            kill_switch: crate::gates::kill_switch(home, &l.cfg.run),
        };
        let mut reports = Vec::new();
        let mut alerts = Vec::new();
        for p in &todo {
            let (writes, worked) = run.work(&mut *broker, p)?;
            // Each parent's slices and its own state in one transaction, as the broker has them.
            run.ledger.step(&run_id, 2, "twap", &stamp, |w| {
                for o in &writes {
                    w.upsert_order(o)?;
                }
                Ok(())
            })?;
            reports.push(worked.report);
            alerts.extend(worked.alerts);
        }
        let summary = json!({
            "strategy": name,
            "cycle": "twap",
            "session": day,
            "now": stamp,
            "window": {
                "start": window.start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "end": window.end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "slices": window.slices,
            },
            "due": match window.due(r.now) {
                Due::Waiting => "waiting".to_string(),
                Due::Slice(k) => format!("slice {}/{}", k + 1, window.slices),
                Due::Ended => "ended".to_string(),
            },
            "kill_switch": run.kill_switch,
            "orders": reports,
        });
        Ok((summary, alerts))
    })();
    match result {
        Ok((v, alerts)) => {
            write_atomic(
                &summary,
                format!("{}\n", systrade_core::json::to_canonical_string(&v)?).as_bytes(),
            )?;
            if !alerts.is_empty() {
                crate::notify::deliver(
                    &l.cfg.run,
                    &[crate::notify::error_alert(&name, &day.to_string(), alerts)],
                    &mut logs,
                );
            }
            ledger.finish_run(&run_id, None, &stamp)?;
            Ok(Some(summary))
        }
        Err(e) => {
            let why = systrade_core::redact::redact(&format!("{e:#}"));
            logs.write("errors", None, "run_failed", json!({"error": why}));
            let _ = ledger.finish_run(&run_id, Some(&why), &stamp);
            crate::notify::deliver(
                &l.cfg.run,
                &[crate::notify::error_alert(
                    &name,
                    &day.to_string(),
                    vec![format!("the TWAP cycle stopped: {why}")],
                )],
                &mut logs,
            );
            Err(e.context(format!(
                "the {label} cycle of {name} for {day} stopped; slices already at the broker are found by their ids when it runs again"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn twap(slices: u32, minutes: u32, start: Option<&str>) -> Twap {
        Twap {
            slices,
            minutes,
            start: start.map(|s| chrono::NaiveTime::parse_from_str(s, "%H:%M").unwrap()),
            above: 0.0,
            bars: PathBuf::from("m"),
            volume_share: 0.1,
            offset: 0.0,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_window_is_cut_into_equal_parts_from_its_start() {
        let day = NaiveDate::from_ymd_opt(2024, 3, 12).unwrap();
        let open = chrono::NaiveTime::from_hms_opt(9, 30, 0).unwrap();
        // 09:35 New York in March 2024 (EDT) is 13:35 UTC; 10 slices over 30 minutes.
        let w = Window::of(&twap(10, 30, Some("09:35")), day, open).unwrap();
        assert_eq!(w.start, at("2024-03-12T13:35:00Z"));
        assert_eq!(w.end, at("2024-03-12T14:05:00Z"));
        assert_eq!(w.due(at("2024-03-12T13:34:59Z")), Due::Waiting);
        assert_eq!(w.due(at("2024-03-12T13:35:00Z")), Due::Slice(0));
        assert_eq!(w.due(at("2024-03-12T13:37:59Z")), Due::Slice(0));
        assert_eq!(w.due(at("2024-03-12T13:38:00Z")), Due::Slice(1));
        assert_eq!(w.due(at("2024-03-12T14:04:59Z")), Due::Slice(9));
        assert_eq!(w.due(at("2024-03-12T14:05:00Z")), Due::Ended);
        // Without a start, the window opens with the session; 7 parts of 20 minutes.
        let w = Window::of(&twap(7, 20, None), day, open).unwrap();
        assert_eq!(w.start, at("2024-03-12T13:30:00Z"));
        assert_eq!(w.part_start(1), w.start + Duration::seconds(171));
        assert_eq!(w.part_start(7), w.end);
    }

    #[test]
    fn only_large_orders_that_are_not_stops_are_worked() {
        let t = Twap {
            above: 10_000.0,
            ..twap(4, 20, None)
        };
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert!(works(&t, d("100"), Some(d("100")), Purpose::Entry));
        assert!(!works(&t, d("99"), Some(d("100")), Purpose::Entry));
        assert!(!works(&t, d("1000"), Some(d("100")), Purpose::Stop));
        assert!(!works(&t, d("1000"), Some(d("100")), Purpose::Dust));
        assert!(works(&t, d("1"), None, Purpose::Exit));
    }
}
