//! The semi-auto execution level and the execution monitor (spec/execution-and-buckets.md
//! §2): `systrade approve`, `systrade orders list|cancel|stage|slippage`.
//!
//! Every command checks all of its input before it touches the broker or the ledger, so a
//! refusal changes nothing. Broker calls come first and the ledger records them in one
//! transaction afterwards; an order the broker already has (a crash in between) is found
//! again by its client order id, as in the daily run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use systrade_backtest::{dec, f};
use systrade_broker::{Broker, BrokerOrder, OrderRequest, OrderStatus, OrderType, RetryPolicy};
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};
use systrade_store::{Book, BookKind, Ledger, LedgerOrder, StopRow};

use crate::args::{
    ApproveArgs, OrdersCancelArgs, OrdersCommand, OrdersListArgs, OrdersSlippageArgs,
    OrdersStageArgs, ReadArgs,
};
use crate::exit::{bad, existing_ledger, refused};
use systrade_live::day::{qty_text, retry};
use systrade_live::desk::Desk;
use systrade_live::logs::Logs;
use systrade_live::orders::stop_request;
use systrade_live::strategy_name;
use systrade_live::submit::place_once;
use systrade_live::sync::{FillSync, merge};
use systrade_live::venue::Venue;
use systrade_systems::table::Table;

use systrade_live::env_now as now;

fn open_ledger(home: &Path) -> anyhow::Result<Ledger> {
    existing_ledger(home, "run `systrade run` or `systrade orders stage`")
}

/// A config loaded for its book: the desk (data, broker settings) and the book's name.
struct Loaded {
    desk: Desk,
    name: String,
}

fn load(config: &Path, data: Option<&Path>, read: &ReadArgs) -> anyhow::Result<Loaded> {
    let (desk, _) = Desk::load(config, data, &read.options(), None, now()?)?;
    let name = strategy_name(config, desk.run_cfg().name.as_deref());
    Ok(Loaded { desk, name })
}

fn policy(d: &Desk) -> RetryPolicy {
    RetryPolicy {
        max_retries: d.run_cfg().max_retries,
        base_delay: Duration::from_millis(d.run_cfg().retry_base_ms),
    }
}

/// The book's venue: its configured broker and account under `home`.
fn venue(home: &Path, d: &Desk) -> Venue {
    Venue::new(d.run_cfg().broker, home, &d.run_cfg().account)
}

fn text(o: &LedgerOrder) -> String {
    format!(
        "{} {} {} {}",
        o.client_order_id,
        if o.side == Side::Buy { "BUY" } else { "SELL" },
        qty_text(o.qty),
        o.symbol
    )
}

/// What sending a batch of approved orders did.
struct Released {
    /// The orders as the broker now has them (and any stop changed to make room for a sell).
    orders: Vec<LedgerOrder>,
    /// Stop rows to set (`None`: the symbol's stop is gone).
    stops: Vec<(Symbol, Option<StopRow>)>,
    fills: FillSync,
}

/// Sends `orders` (all of one session) to the book's broker: a sell first shrinks or
/// cancels the stop that reserves its units.
fn release(
    home: &Path,
    l: &Loaded,
    ledger: &Ledger,
    orders: &[LedgerOrder],
    stamp: &str,
) -> anyhow::Result<Released> {
    let Some(session) = orders.first().map(|o| o.market_day) else {
        return Err(bad("no orders to release"));
    };
    let d = &l.desk;
    let mut broker = venue(home, d).connect_for_orders(d, session)?;
    let broker = &mut *broker;
    let policy = policy(d);
    let label = format!("approve {stamp}");
    let mut logs = Logs::new(
        &home.join(format!("runs/{}/{session}/logs", l.name)),
        &label,
        &l.name,
        stamp,
    );
    let mut out = Vec::new();
    let mut stops = Vec::new();
    for o in orders {
        if o.side == Side::Sell
            && retry(policy, &mut logs, "order", || {
                broker.order(&o.client_order_id)
            })?
            .is_none()
        {
            make_room(
                broker,
                l,
                ledger,
                o,
                (&mut logs, policy),
                &mut out,
                &mut stops,
            )?;
        }
        let req = OrderRequest {
            client_order_id: o.client_order_id.clone(),
            symbol: o.symbol.clone(),
            side: o.side,
            qty: o.qty,
            order_type: OrderType::Market,
            session,
        };
        let b = place_once(broker, &req, &mut logs, policy)?.order();
        logs.write(
            "order_submit",
            Some(o.symbol.as_str()),
            b.status.as_str(),
            json!({"client_order_id": o.client_order_id, "side": o.side, "qty": qty_text(o.qty),
                   "filled_qty": qty_text(b.filled_qty), "avg_price": b.avg_price.map(qty_text),
                   "purpose": o.purpose, "approved": stamp, "why": b.reason}),
        );
        let mut approved = o.clone();
        approved.approval = Some("approved".into());
        approved.note = Some(format!("approved {stamp}"));
        out.push(merge(&approved, &b));
    }
    // New entries filled at once are protected now, not at the next run.
    protect(
        broker,
        l,
        ledger,
        orders,
        (&mut logs, policy),
        &mut out,
        &mut stops,
    )?;
    // The approved orders are in the ledger (staged), so their fills are matched here.
    let fills = FillSync::collect(
        broker,
        ledger,
        &l.name,
        &l.desk.run_cfg().account,
        &mut logs,
        policy,
    )?;
    fills.log(&mut logs);
    Ok(Released {
        orders: out,
        stops,
        fills,
    })
}

/// The ledger's record of a stop the broker placed.
fn stop_order(
    book: &str,
    req: &OrderRequest,
    placed: &BrokerOrder,
    note: Option<String>,
) -> LedgerOrder {
    LedgerOrder {
        client_order_id: req.client_order_id.clone(),
        strategy: book.to_string(),
        market_day: req.session,
        symbol: req.symbol.clone(),
        side: Side::Sell,
        kind: "stop".into(),
        qty: req.qty,
        stop_price: req.order_type.stop_price(),
        purpose: "stop".into(),
        status: placed.status,
        broker_order_id: Some(placed.broker_id.clone()),
        filled_qty: Decimal::ZERO,
        avg_price: None,
        note,
        decision_price: None,
        approval: None,
    }
}

/// Frees the units a protective stop reserves for sell `o`: the stop is replaced by one on
/// what stays held (one step, so the position is never without protection), or canceled
/// when nothing does.
fn make_room(
    broker: &mut dyn Broker,
    l: &Loaded,
    ledger: &Ledger,
    o: &LedgerOrder,
    (logs, policy): (&mut Logs, RetryPolicy),
    out: &mut Vec<LedgerOrder>,
    stops: &mut Vec<(Symbol, Option<StopRow>)>,
) -> anyhow::Result<()> {
    let held = retry(policy, logs, "positions", || broker.positions())?
        .into_iter()
        .find(|p| p.symbol == o.symbol);
    let Some(held) = held else {
        return Ok(());
    };
    if held.qty - held.reserved >= o.qty {
        return Ok(());
    }
    let open = retry(policy, logs, "open_orders", || broker.open_orders())?;
    let keep = (held.qty - o.qty).max(Decimal::ZERO);
    for stop in open
        .iter()
        .filter(|x| x.symbol == o.symbol && x.order_type.is_stop())
    {
        let Some(level) = stop.order_type.stop_price() else {
            continue;
        };
        let old = ledger.order(&stop.client_order_id)?;
        if keep.is_zero() {
            let c = retry(policy, logs, "cancel", || {
                broker.cancel(&stop.client_order_id)
            })?;
            if let Some(old) = &old {
                let mut x = merge(old, &c);
                x.note = Some(format!("canceled for sell {}", o.client_order_id));
                out.push(x);
            }
            stops.push((o.symbol.clone(), None));
            logs.write(
                "stop_updates",
                Some(o.symbol.as_str()),
                "canceled",
                json!({"client_order_id": stop.client_order_id, "why": format!("sell {} approved", o.client_order_id)}),
            );
            continue;
        }
        let req = stop_request(&l.name, o.market_day, &o.symbol, keep, level)?;
        let placed = retry(policy, logs, "replace", || {
            broker.replace(&stop.client_order_id, &req)
        })?;
        if placed.status == OrderStatus::Rejected {
            return Err(anyhow::anyhow!(
                "{}: the broker refused to shrink stop {} to {} ({}); the sell was not sent",
                o.symbol,
                stop.client_order_id,
                keep.normalize(),
                placed.reason.unwrap_or_default()
            ));
        }
        if let Some(old) = &old {
            let mut x = old.clone();
            x.status = OrderStatus::Canceled;
            x.note = Some(format!("replaced by {}", req.client_order_id));
            out.push(x);
        }
        out.push(stop_order(
            &l.name,
            &req,
            &placed,
            Some(format!("resized for sell {}", o.client_order_id)),
        ));
        stops.push((
            o.symbol.clone(),
            Some(StopRow {
                level,
                qty: keep,
                client_order_id: req.client_order_id.clone(),
                market_day: o.market_day,
            }),
        ));
        logs.write(
            "stop_updates",
            Some(o.symbol.as_str()),
            "placed",
            json!({"level": qty_text(level), "qty": qty_text(keep), "replaced": stop.client_order_id,
                   "why": format!("sell {} approved", o.client_order_id)}),
        );
    }
    Ok(())
}

/// Places the protective stop of each symbol an approved buy added to, at the level the
/// strategy carries for it (strategies with stops only), on everything held.
fn protect(
    broker: &mut dyn Broker,
    l: &Loaded,
    ledger: &Ledger,
    orders: &[LedgerOrder],
    (logs, policy): (&mut Logs, RetryPolicy),
    out: &mut Vec<LedgerOrder>,
    stops: &mut Vec<(Symbol, Option<StopRow>)>,
) -> anyhow::Result<()> {
    if !l.desk.uses_stops() {
        return Ok(());
    }
    let carried = ledger.carried(&l.name)?;
    let held = retry(policy, logs, "positions", || broker.positions())?;
    let bought: BTreeSet<&Symbol> = orders
        .iter()
        .filter(|o| o.side == Side::Buy)
        .map(|o| &o.symbol)
        .collect();
    for sym in bought {
        let Some(qty) = held.iter().find(|p| &p.symbol == sym).map(|p| p.qty) else {
            continue;
        };
        if qty <= Decimal::ZERO {
            continue;
        }
        let Some(level) = carried.tickers.get(sym).and_then(|t| t.0) else {
            logs.write(
                "stop_updates",
                Some(sym.as_str()),
                "rejected",
                json!({"why": "no stop level carried for it; the next run places one"}),
            );
            continue;
        };
        let level = dec(level);
        let open = retry(policy, logs, "open_orders", || broker.open_orders())?;
        let existing: Vec<&BrokerOrder> = open
            .iter()
            .filter(|o| &o.symbol == sym && o.order_type.is_stop())
            .collect();
        if let [one] = existing.as_slice()
            && one.order_type.stop_price() == Some(level)
            && one.remaining() == qty
        {
            continue;
        }
        let Some(session) = orders.first().map(|o| o.market_day) else {
            return Ok(());
        };
        let req = stop_request(&l.name, session, sym, qty, level)?;
        for extra in existing.iter().skip(1) {
            retry(policy, logs, "cancel", || {
                broker.cancel(&extra.client_order_id)
            })?;
        }
        let placed = match existing.first() {
            Some(old) => retry(policy, logs, "replace", || {
                broker.replace(&old.client_order_id, &req)
            })?,
            None => place_once(broker, &req, logs, policy)?.order(),
        };
        for old in &existing {
            if let Some(o) = ledger.order(&old.client_order_id)?
                && placed.status != OrderStatus::Rejected
            {
                out.push(LedgerOrder {
                    status: OrderStatus::Canceled,
                    note: Some(format!("replaced by {}", req.client_order_id)),
                    ..o
                });
            }
        }
        out.push(stop_order(&l.name, &req, &placed, placed.reason.clone()));
        if placed.status == OrderStatus::Rejected {
            logs.write(
                "stop_updates",
                Some(sym.as_str()),
                "rejected",
                json!({"level": qty_text(level), "qty": qty_text(qty), "why": placed.reason}),
            );
            continue;
        }
        stops.push((
            sym.clone(),
            Some(StopRow {
                level,
                qty,
                client_order_id: req.client_order_id.clone(),
                market_day: session,
            }),
        ));
        logs.write(
            "stop_updates",
            Some(sym.as_str()),
            "placed",
            json!({"level": qty_text(level), "qty": qty_text(qty), "why": "approved entry filled"}),
        );
    }
    Ok(())
}

/// Records what `release` did, in one transaction.
fn record(ledger: &mut Ledger, l: &Loaded, r: &Released, stamp: &str) -> anyhow::Result<()> {
    let name = l.name.as_str();
    ledger
        .write(&format!("approve {stamp}"), |w| {
            for o in &r.orders {
                w.upsert_order(o)?;
            }
            for (s, row) in &r.stops {
                w.set_stop(name, s, row.as_ref())?;
            }
            r.fills.book(w, name, &l.desk.run_cfg().account)
        })
        .map_err(refused)?;
    Ok(())
}

fn print_released(r: &Released, ledger: &Ledger) -> anyhow::Result<()> {
    for o in r.orders.iter().filter(|o| o.kind == "market") {
        let now = ledger
            .order(&o.client_order_id)?
            .unwrap_or_else(|| o.clone());
        println!(
            "  sent {}: {}{}",
            text(&now),
            now.status,
            match now.avg_price {
                Some(p) if !now.filled_qty.is_zero() => format!(
                    " {} @ {}",
                    qty_text(now.filled_qty),
                    qty_text(p.round_dp(6))
                ),
                _ => now.note.map(|n| format!(" ({n})")).unwrap_or_default(),
            }
        );
    }
    for o in r.orders.iter().filter(|o| o.kind == "stop") {
        println!("  stop {} {}: {}", o.symbol, o.client_order_id, o.status);
    }
    Ok(())
}

/// `systrade approve`.
pub fn approve(home: &Path, a: &ApproveArgs) -> anyhow::Result<()> {
    if !a.all && a.ids.is_empty() {
        return Err(bad(
            "name the orders to approve (client order ids, see `systrade orders list --status pending`), or pass --all",
        ));
    }
    let mut ledger = open_ledger(home)?;
    let l = load(&a.config, a.data.as_deref(), &a.read)?;
    let pending = ledger.pending(Some(&l.name))?;
    let chosen: Vec<LedgerOrder> = if a.all {
        if pending.is_empty() {
            println!("{}: no orders wait for approval", l.name);
            return Ok(());
        }
        pending
    } else {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for id in &a.ids {
            if !seen.insert(id.as_str()) {
                return Err(bad(format!("order {id} is named twice")));
            }
            let o = ledger.order(&ClientOrderId(id.clone()))?.ok_or_else(|| {
                bad(format!(
                    "order {id}: not in the ledger {}",
                    ledger.path().display()
                ))
            })?;
            if o.strategy != l.name {
                return Err(bad(format!(
                    "order {id} belongs to book {:?}, not {:?} ({})",
                    o.strategy,
                    l.name,
                    a.config.display()
                )));
            }
            if o.status != OrderStatus::Staged || o.approval.as_deref() != Some("pending") {
                return Err(bad(format!(
                    "order {id} ({} {}) does not wait for approval: it is {}{}",
                    o.symbol,
                    o.purpose,
                    o.status,
                    match o.approval.as_deref() {
                        Some("manual") => " at the manual level (trade it by hand)".to_string(),
                        Some(x) => format!(", approval {x}"),
                        None => String::new(),
                    }
                )));
            }
            out.push(o);
        }
        out
    };
    let sessions: BTreeSet<NaiveDate> = chosen.iter().map(|o| o.market_day).collect();
    if sessions.len() > 1 {
        return Err(bad(format!(
            "the orders are for different sessions ({}); approve one session at a time",
            sessions
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let stamp = now()?.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    // Sells first: their cash pays the buys, as in the daily run.
    let mut chosen = chosen;
    chosen.sort_by_key(|o| o.side == Side::Buy);
    let r = release(home, &l, &ledger, &chosen, &stamp)?;
    record(&mut ledger, &l, &r, &stamp)?;
    println!("{}: approved {} orders", l.name, chosen.len());
    print_released(&r, &ledger)
}

/// `systrade orders …`.
pub fn orders(home: &Path, c: &OrdersCommand) -> anyhow::Result<()> {
    match c {
        OrdersCommand::List(a) => list(home, a),
        OrdersCommand::Cancel(a) => cancel(home, a),
        OrdersCommand::Stage(a) => stage(home, a),
        OrdersCommand::Slippage(a) => slippage(home, a),
    }
}

/// The book named by a config without loading its data.
fn book_name(config: &Path) -> anyhow::Result<String> {
    let text = systrade_config::read(config).map_err(bad)?;
    let v: toml::Table = toml::from_str(&text)
        .map_err(|e| bad(format!("{}: {}", config.display(), e.to_string().trim())))?;
    let configured = v
        .get("run")
        .and_then(|r| r.get("name"))
        .and_then(|n| n.as_str());
    Ok(strategy_name(config, configured))
}

fn order_json(o: &LedgerOrder) -> Value {
    json!({
        "client_order_id": o.client_order_id, "book": o.strategy, "session": o.market_day,
        "symbol": o.symbol, "side": o.side, "qty": qty_text(o.qty), "kind": o.kind,
        "stop_price": o.stop_price.map(qty_text), "purpose": o.purpose, "status": o.status,
        "approval": o.approval, "decision_price": o.decision_price.map(qty_text),
        "filled_qty": qty_text(o.filled_qty), "avg_price": o.avg_price.map(|p| qty_text(p.round_dp(8))),
        "note": o.note,
    })
}

fn list(home: &Path, a: &OrdersListArgs) -> anyhow::Result<()> {
    let status = a.status.as_deref();
    if let Some(s) = status
        && s != "pending"
        && s != "open"
        && OrderStatus::parse(s).is_none()
    {
        return Err(bad(format!(
            "--status {s:?}: expected pending, open or one of {}",
            OrderStatus::ALL.map(|x| x.as_str()).join(", ")
        )));
    }
    let ledger = open_ledger(home)?;
    let book = a.config.as_deref().map(book_name).transpose()?;
    let mut rows: Vec<LedgerOrder> = match &book {
        Some(b) => ledger.orders(b)?,
        None => ledger.all_orders()?,
    };
    rows.retain(|o| match status {
        None => true,
        Some("pending") => {
            o.status == OrderStatus::Staged && o.approval.as_deref() == Some("pending")
        }
        Some("open") => o.status.is_open(),
        Some(s) => o.status.as_str() == s,
    });
    // Newest session first; within a session, as recorded.
    rows.sort_by_key(|o| std::cmp::Reverse(o.market_day));
    if a.json {
        let v: Vec<Value> = rows.iter().map(order_json).collect();
        println!(
            "{}",
            systrade_core::json::to_canonical_pretty(&json!(v))?.trim_end()
        );
        return Ok(());
    }
    if rows.is_empty() {
        println!(
            "no orders{}",
            status
                .map(|s| format!(" with status {s}"))
                .unwrap_or_default()
        );
        return Ok(());
    }
    println!(
        "{:<35} {:<14} {:<10} {:<10} {:<4} {:>12} {:<6} {:<7} {:<16} {:<9} {:>12}",
        "client_order_id",
        "book",
        "session",
        "symbol",
        "side",
        "qty",
        "kind",
        "purpose",
        "status",
        "approval",
        "decision_px"
    );
    for o in &rows {
        println!(
            "{:<35} {:<14} {:<10} {:<10} {:<4} {:>12} {:<6} {:<7} {:<16} {:<9} {:>12}",
            o.client_order_id.0,
            o.strategy,
            o.market_day,
            o.symbol,
            o.side.as_str(),
            qty_text(o.qty),
            o.kind,
            o.purpose,
            o.status,
            o.approval.as_deref().unwrap_or("-"),
            o.decision_price.map(qty_text).unwrap_or_else(|| "-".into())
        );
    }
    Ok(())
}

fn cancel(home: &Path, a: &OrdersCancelArgs) -> anyhow::Result<()> {
    let mut ledger = open_ledger(home)?;
    let book = a.config.as_deref().map(book_name).transpose()?;
    let mut staged = Vec::new();
    let mut working = Vec::new();
    for id in &a.ids {
        let o = ledger.order(&ClientOrderId(id.clone()))?.ok_or_else(|| {
            bad(format!(
                "order {id}: not in the ledger {}",
                ledger.path().display()
            ))
        })?;
        if let Some(b) = &book
            && &o.strategy != b
        {
            return Err(bad(format!(
                "order {id} belongs to book {:?}, not {b:?}",
                o.strategy
            )));
        }
        match o.status {
            OrderStatus::Staged => staged.push(o),
            s if s.is_open() => working.push(o),
            s => {
                return Err(bad(format!(
                    "order {id} ({} {}) is already {s}",
                    o.symbol, o.purpose
                )));
            }
        }
    }
    let stamp = now()?.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut updates: Vec<LedgerOrder> = staged
        .iter()
        .map(|o| LedgerOrder {
            status: OrderStatus::Canceled,
            note: Some(format!("canceled before it was sent ({stamp})")),
            ..o.clone()
        })
        .collect();
    let mut cleared = Vec::new();
    if !working.is_empty() {
        let Some(config) = &a.config else {
            return Err(bad(format!(
                "order {} is working at the broker: pass --config to cancel it there",
                working[0].client_order_id
            )));
        };
        let l = load(config, a.data.as_deref(), &a.read)?;
        // At the account's own clock: canceling must not move it.
        let venue = venue(home, &l.desk);
        let session = venue
            .current_session()?
            .ok_or_else(|| bad(format!("no paper account at {}", venue.location())))?;
        let mut broker = venue.connect_for_orders(&l.desk, session)?;
        let broker = &mut *broker;
        let policy = policy(&l.desk);
        let mut logs = Logs::new(
            &home.join(format!("runs/{}/{session}/logs", l.name)),
            &format!("cancel {stamp}"),
            &l.name,
            &stamp,
        );
        for o in &working {
            let c = retry(policy, &mut logs, "cancel", || {
                broker.cancel(&o.client_order_id)
            })?;
            logs.write(
                "order_submit",
                Some(o.symbol.as_str()),
                c.status.as_str(),
                json!({"client_order_id": o.client_order_id, "why": "canceled by hand"}),
            );
            if o.kind == "stop" && c.status.is_terminal() {
                cleared.push(o.client_order_id.clone());
            }
            updates.push(merge(o, &c));
        }
    }
    ledger
        .write(&format!("cancel {stamp}"), |w| {
            for u in &updates {
                w.upsert_order(u)?;
            }
            for id in &cleared {
                if let Some(u) = updates.iter().find(|u| &u.client_order_id == id) {
                    w.clear_stop_order(&u.strategy, id)?;
                }
            }
            Ok(())
        })
        .map_err(refused)?;
    for u in &updates {
        println!("{}: {}", text(u), u.status);
    }
    Ok(())
}

/// One line of a trade sheet to stage.
struct SheetLine {
    symbol: Symbol,
    side: Side,
    qty: Decimal,
    price: Option<Decimal>,
}

fn read_sheet(
    path: &Path,
    qty_step: Decimal,
) -> anyhow::Result<(Vec<SheetLine>, Option<NaiveDate>)> {
    let t = Table::read(
        path,
        &["action", "symbol", "shares"],
        &[
            "limit_price",
            "est_cost",
            "signal",
            "target_weight",
            "wash_sale_risk",
            "last_close",
            "as_of",
        ],
    )?;
    let mut out = Vec::new();
    let mut as_of: Option<NaiveDate> = None;
    let mut seen = BTreeSet::new();
    for (line, rec) in &t.rows {
        let s = t.cell(rec, "symbol");
        let symbol = Symbol::new(s).map_err(|e| t.at(*line, e))?;
        let side = match t.cell(rec, "action").to_ascii_uppercase().as_str() {
            "BUY" => Side::Buy,
            "SELL" => Side::Sell,
            other => {
                return Err(t.at(
                    *line,
                    format!("{symbol}: action {other:?} is not BUY or SELL"),
                ));
            }
        };
        let shares = t.cell(rec, "shares");
        let qty: Decimal = shares.parse().map_err(|_| {
            t.at(
                *line,
                format!("{symbol}: shares {shares:?} is not a number"),
            )
        })?;
        if qty <= Decimal::ZERO {
            return Err(t.at(
                *line,
                format!("{symbol}: shares must be positive (got {shares})"),
            ));
        }
        if (qty / qty_step).fract() != Decimal::ZERO {
            return Err(t.at(
                *line,
                format!(
                    "{symbol}: shares {shares} is not a multiple of the book's lot {}",
                    qty_step.normalize()
                ),
            ));
        }
        if !seen.insert(symbol.clone()) {
            return Err(t.at(*line, format!("{symbol}: listed twice")));
        }
        let price = match t.cell(rec, "last_close") {
            "" => None,
            p => {
                let v: Decimal = p.parse().map_err(|_| {
                    t.at(*line, format!("{symbol}: last_close {p:?} is not a number"))
                })?;
                if v <= Decimal::ZERO {
                    return Err(t.at(
                        *line,
                        format!("{symbol}: last_close must be positive (got {p})"),
                    ));
                }
                Some(v)
            }
        };
        match t.cell(rec, "as_of") {
            "" => {}
            d => {
                let d = t.date(*line, symbol.as_str(), "as_of", d)?;
                if as_of.is_some_and(|a| a != d) {
                    return Err(t.at(
                        *line,
                        format!("{symbol}: as_of {d} differs from the sheet's other lines"),
                    ));
                }
                as_of = Some(d);
            }
        }
        out.push(SheetLine {
            symbol,
            side,
            qty,
            price,
        });
    }
    if out.is_empty() {
        return Err(bad(format!("{}: the sheet has no lines", path.display())));
    }
    Ok((out, as_of))
}

fn stage(home: &Path, a: &OrdersStageArgs) -> anyhow::Result<()> {
    let l = load(&a.config, a.data.as_deref(), &a.read)?;
    let Desk::Sheet(book) = &l.desk else {
        return Err(bad(format!(
            "{}: `orders stage` needs a sheet book (strategy = \"sheet\"); a strategy's orders come from `systrade run`",
            a.config.display()
        )));
    };
    let (lines, as_of) = read_sheet(&a.sheet, l.desk.qty_step())?;
    let cal = l.desk.market().calendar();
    let session = match (a.session, as_of) {
        (Some(s), Some(d)) if s <= d => {
            return Err(bad(format!(
                "--session {s} is not after the sheet's as_of {d}: an order cannot trade on prices it was decided on"
            )));
        }
        (Some(s), _) => s,
        (None, Some(d)) => cal.next_trading_day(d),
        (None, None) => {
            return Err(bad(format!(
                "{}: the sheet has no as_of column; pass --session",
                a.sheet.display()
            )));
        }
    };
    if !cal.is_trading_day(session) {
        return Err(bad(format!(
            "session {session} is not a {} trading day",
            l.desk.market().as_str()
        )));
    }
    let mut orders = Vec::new();
    for s in &lines {
        let bars = l.desk.bars().get(&s.symbol).ok_or_else(|| {
            bad(format!(
                "{}: {}: unknown symbol (not in the book's data)",
                a.sheet.display(),
                s.symbol
            ))
        })?;
        let price = match s.price {
            Some(p) => p,
            None => {
                let i = bars.partition_point(|b| b.ts < session);
                let c = i.checked_sub(1).map(|k| bars[k].close).ok_or_else(|| {
                    bad(format!("{}: no price before session {session}", s.symbol))
                })?;
                dec(c)
            }
        };
        let purpose = format!("sheet {}", s.qty.normalize());
        orders.push(LedgerOrder {
            client_order_id: ClientOrderId::for_book(
                &l.name, session, &s.symbol, s.side, &purpose,
            )?,
            strategy: l.name.clone(),
            market_day: session,
            symbol: s.symbol.clone(),
            side: s.side,
            kind: "market".into(),
            qty: s.qty,
            stop_price: None,
            purpose: "sheet".into(),
            status: OrderStatus::Staged,
            broker_order_id: None,
            filled_qty: Decimal::ZERO,
            avg_price: None,
            note: Some(format!("from {}", a.sheet.display())),
            decision_price: Some(price),
            approval: l.desk.execution().hold(f(s.qty * price)).map(String::from),
        });
    }
    let mut ledger = Ledger::open(&home.join("ledger.sqlite"))?;
    let ids: BTreeSet<&ClientOrderId> = orders.iter().map(|o| &o.client_order_id).collect();
    let known: BTreeSet<ClientOrderId> = ledger
        .orders(&l.name)?
        .into_iter()
        .map(|o| o.client_order_id)
        .collect();
    // A new sheet replaces what still waits of the previous one.
    let superseded: Vec<LedgerOrder> = ledger
        .pending(Some(&l.name))?
        .into_iter()
        .filter(|o| !ids.contains(&o.client_order_id))
        .map(|o| LedgerOrder {
            status: OrderStatus::Expired,
            note: Some(format!("superseded by {}", a.sheet.display())),
            ..o
        })
        .collect();
    let fresh: Vec<&LedgerOrder> = orders
        .iter()
        .filter(|o| !known.contains(&o.client_order_id))
        .collect();
    let stamp = now()?.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    ledger
        .write(&format!("stage {stamp}"), |w| {
            w.set_book(&Book {
                strategy: l.name.clone(),
                kind: BookKind::Sheet,
                account: book.cfg.run.account.clone(),
            })?;
            for o in fresh.iter().copied().chain(&superseded) {
                w.upsert_order(o)?;
            }
            Ok(())
        })
        .map_err(refused)?;
    for o in &superseded {
        println!("expired {} (superseded)", text(o));
    }
    println!(
        "{}: staged {} orders for session {session} ({} already staged)",
        l.name,
        fresh.len(),
        orders.len() - fresh.len()
    );
    for o in &orders {
        println!(
            "  {}  notional {:.2}  {}",
            text(o),
            f(o.qty * o.decision_price.unwrap_or_default()),
            match o.approval.as_deref() {
                Some("pending") => "waits for `systrade approve`",
                Some(_) => "manual: trade it by hand",
                None => "below execution.approve_above: sent now",
            }
        );
    }
    let go: Vec<LedgerOrder> = fresh
        .into_iter()
        .filter(|o| o.approval.is_none())
        .cloned()
        .collect::<Vec<_>>();
    if !go.is_empty() {
        let mut go = go;
        go.sort_by_key(|o| o.side == Side::Buy);
        let r = release(home, &l, &ledger, &go, &stamp)?;
        record(&mut ledger, &l, &r, &stamp)?;
        print_released(&r, &ledger)?;
    }
    Ok(())
}

/// One fill measured against its order's decision price.
struct Slip {
    date: NaiveDate,
    book: String,
    symbol: Symbol,
    side: Side,
    qty: Decimal,
    price: Decimal,
    reference: Decimal,
    /// Basis points, positive = worse than the decision price.
    bps: f64,
    /// In money: what the difference cost (positive) or saved.
    cost: Decimal,
}

/// The execution monitor's measurements of every fill with a decision price (a stop's is its
/// level).
fn slippages(ledger: &Ledger, book: Option<&str>) -> anyhow::Result<Vec<(Slip, String)>> {
    let mut out = Vec::new();
    for fl in ledger.fills(book)? {
        let Some(o) = ledger.order(&fl.client_order_id)? else {
            continue;
        };
        let Some(reference) = o.decision_price.or(o.stop_price).filter(|p| !p.is_zero()) else {
            continue;
        };
        let sign = if fl.side == Side::Buy {
            Decimal::ONE
        } else {
            -Decimal::ONE
        };
        let diff = sign * (fl.price - reference);
        out.push((
            Slip {
                date: fl.date,
                book: fl.strategy.clone(),
                symbol: fl.symbol.clone(),
                side: fl.side,
                qty: fl.qty,
                price: fl.price,
                reference,
                bps: f(diff / reference) * 1e4,
                cost: diff * fl.qty,
            },
            o.purpose,
        ));
    }
    Ok(out)
}

fn slippage(home: &Path, a: &OrdersSlippageArgs) -> anyhow::Result<()> {
    let ledger = open_ledger(home)?;
    let book = a.config.as_deref().map(book_name).transpose()?;
    let rows = slippages(&ledger, book.as_deref())?;
    // Per day: fills, traded notional, notional-weighted slippage and its cost.
    let mut days: BTreeMap<NaiveDate, (usize, Decimal, Decimal)> = BTreeMap::new();
    for (s, _) in &rows {
        let e = days.entry(s.date).or_default();
        e.0 += 1;
        e.1 += s.qty * s.reference;
        e.2 += s.cost;
    }
    let bps = |cost: Decimal, notional: Decimal| {
        if notional.is_zero() {
            0.0
        } else {
            f(cost / notional) * 1e4
        }
    };
    if a.json {
        let v = json!({
            "fills": rows.iter().map(|(s, purpose)| json!({
                "date": s.date, "book": s.book, "symbol": s.symbol, "side": s.side,
                "qty": qty_text(s.qty), "price": qty_text(s.price.round_dp(8)),
                "decision_price": qty_text(s.reference), "purpose": purpose,
                "slippage_bps": (s.bps * 100.0).round() / 100.0,
                "slippage_cost": qty_text(s.cost.round_dp(6)),
            })).collect::<Vec<_>>(),
            "by_day": days.iter().map(|(d, (n, notional, cost))| json!({
                "date": d, "fills": n, "notional": qty_text(notional.round_dp(2)),
                "slippage_cost": qty_text(cost.round_dp(6)),
                "slippage_bps": (bps(*cost, *notional) * 100.0).round() / 100.0,
            })).collect::<Vec<_>>(),
        });
        println!(
            "{}",
            systrade_core::json::to_canonical_pretty(&v)?.trim_end()
        );
        return Ok(());
    }
    if rows.is_empty() {
        println!("no fills with a decision price yet");
        return Ok(());
    }
    println!(
        "{:<10} {:<14} {:<10} {:<4} {:>12} {:>14} {:>14} {:>9} {:>12}  purpose",
        "date", "book", "symbol", "side", "qty", "price", "decision", "bps", "cost"
    );
    for (s, purpose) in &rows {
        println!(
            "{:<10} {:<14} {:<10} {:<4} {:>12} {:>14} {:>14} {:>9.2} {:>12.2}  {purpose}",
            s.date,
            s.book,
            s.symbol,
            if s.side == Side::Buy { "buy" } else { "sell" },
            qty_text(s.qty),
            qty_text(s.price.round_dp(6)),
            qty_text(s.reference),
            s.bps,
            f(s.cost)
        );
    }
    println!("\nper day (positive = worse than the decision price):");
    for (d, (n, notional, cost)) in &days {
        println!(
            "  {d}: {n} fills, notional {:.2}, slippage {:.2} ({:.2} bps)",
            f(*notional),
            f(*cost),
            bps(*cost, *notional)
        );
    }
    Ok(())
}
