//! `systrade approve`, `systrade orders list|cancel|stage|slippage`: the semi-auto execution
//! level and the execution monitor (spec/execution-and-buckets.md §2). The work is
//! `systrade_live::{approvals, staging, slippage}`; this module parses, wires and prints.

use std::path::Path;

use serde_json::{Value, json};
use systrade_backtest::f;
use systrade_broker::OrderStatus;
use systrade_core::contracts::Side;
use systrade_store::{Approval, Ledger, LedgerOrder, OrderKind};

use crate::args::{
    ApproveArgs, OrdersCancelArgs, OrdersCommand, OrdersListArgs, OrdersSlippageArgs,
    OrdersStageArgs, ReadArgs,
};
use crate::exit::{bad, existing_ledger};
use systrade_live::approvals::{self, ApprovalBook, Released, current, order_text as text};
use systrade_live::day::qty_text;
use systrade_live::slippage::{by_day, slippages};
use systrade_live::staging;
use systrade_live::strategy_name;

use systrade_live::env_now as now;

fn open_ledger(home: &Path) -> anyhow::Result<Ledger> {
    existing_ledger(home, "run `systrade run` or `systrade orders stage`")
}

fn load(config: &Path, data: Option<&Path>, read: &ReadArgs) -> anyhow::Result<ApprovalBook> {
    ApprovalBook::load(config, data, &read.options(), now()?)
}

fn stamp() -> anyhow::Result<String> {
    Ok(now()?.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn print_released(r: &Released, ledger: &Ledger) -> anyhow::Result<()> {
    for o in r.orders.iter().filter(|o| o.kind == OrderKind::Market) {
        let now = current(ledger, o)?;
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
    for o in r.orders.iter().filter(|o| o.kind == OrderKind::Stop) {
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
    let book = load(&a.config, a.data.as_deref(), &a.read)?;
    let chosen = approvals::choose(&ledger, &book, &a.ids, a.all)?;
    if chosen.is_empty() {
        println!("{}: no orders wait for approval", book.name);
        return Ok(());
    }
    let r = approvals::release(home, &book, &mut ledger, &chosen, &stamp()?)?;
    println!("{}: approved {} orders", book.name, chosen.len());
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
        Some("pending") => o.status == OrderStatus::Staged && o.approval == Some(Approval::Pending),
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
            o.approval.map_or("-", Approval::as_str),
            o.decision_price.map(qty_text).unwrap_or_else(|| "-".into())
        );
    }
    Ok(())
}

fn cancel(home: &Path, a: &OrdersCancelArgs) -> anyhow::Result<()> {
    let mut ledger = open_ledger(home)?;
    let name = a.config.as_deref().map(book_name).transpose()?;
    let (staged, working) = approvals::cancelable(&ledger, &a.ids, name.as_deref())?;
    let book = match (&a.config, working.is_empty()) {
        (Some(config), false) => Some(load(config, a.data.as_deref(), &a.read)?),
        _ => None,
    };
    let done = approvals::cancel(
        home,
        &mut ledger,
        (&staged, &working),
        book.as_ref(),
        &stamp()?,
    )?;
    for u in &done.orders {
        println!("{}: {}", text(u), u.status);
    }
    Ok(())
}

fn stage(home: &Path, a: &OrdersStageArgs) -> anyhow::Result<()> {
    let book = load(&a.config, a.data.as_deref(), &a.read)?;
    let planned = staging::sheet_orders(&book, &a.sheet, a.session)?;
    let mut ledger = Ledger::open(&home.join("ledger.sqlite"))?;
    let stamp = stamp()?;
    let staged = staging::stage(&mut ledger, &book, &a.sheet, planned, &stamp)?;
    for o in &staged.superseded {
        println!("expired {} (superseded)", text(o));
    }
    println!(
        "{}: staged {} orders for session {} ({} already staged)",
        book.name,
        staged.fresh.len(),
        staged.session,
        staged.orders.len() - staged.fresh.len()
    );
    for o in &staged.orders {
        println!(
            "  {}  notional {:.2}  {}",
            text(o),
            f(o.qty * o.decision_price.unwrap_or_default()),
            match o.approval {
                Some(Approval::Pending) => "waits for `systrade approve`",
                Some(_) => "manual: trade it by hand",
                None => "below execution.approve_above: sent now",
            }
        );
    }
    let go = staged.to_send();
    if !go.is_empty() {
        let r = approvals::release(home, &book, &mut ledger, &go, &stamp)?;
        print_released(&r, &ledger)?;
    }
    Ok(())
}

fn slippage(home: &Path, a: &OrdersSlippageArgs) -> anyhow::Result<()> {
    let ledger = open_ledger(home)?;
    let book = a.config.as_deref().map(book_name).transpose()?;
    let rows = slippages(&ledger, book.as_deref())?;
    let days = by_day(&rows);
    if a.json {
        let v = json!({
            "fills": rows.iter().map(|s| json!({
                "date": s.date, "book": s.book, "symbol": s.symbol, "side": s.side,
                "qty": qty_text(s.qty), "price": qty_text(s.price.round_dp(8)),
                "decision_price": qty_text(s.reference), "purpose": s.purpose,
                "slippage_bps": (s.bps * 100.0).round() / 100.0,
                "slippage_cost": qty_text(s.cost.round_dp(6)),
            })).collect::<Vec<_>>(),
            "by_day": days.iter().map(|(d, day)| json!({
                "date": d, "fills": day.fills, "notional": qty_text(day.notional.round_dp(2)),
                "slippage_cost": qty_text(day.cost.round_dp(6)),
                "slippage_bps": (day.bps() * 100.0).round() / 100.0,
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
    for s in &rows {
        println!(
            "{:<10} {:<14} {:<10} {:<4} {:>12} {:>14} {:>14} {:>9.2} {:>12.2}  {}",
            s.date,
            s.book,
            s.symbol,
            if s.side == Side::Buy { "buy" } else { "sell" },
            qty_text(s.qty),
            qty_text(s.price.round_dp(6)),
            qty_text(s.reference),
            s.bps,
            f(s.cost),
            s.purpose
        );
    }
    println!("\nper day (positive = worse than the decision price):");
    for (d, day) in &days {
        println!(
            "  {d}: {} fills, notional {:.2}, slippage {:.2} ({:.2} bps)",
            day.fills,
            f(day.notional),
            f(day.cost),
            day.bps()
        );
    }
    Ok(())
}
