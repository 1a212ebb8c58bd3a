//! `systrade approve`, `systrade protect`, `systrade orders list|cancel|stage|slippage`: the semi-auto execution
//! level and the execution monitor (spec/execution-and-buckets.md §2). The work is
//! `systrade_live::{approvals, staging, slippage}`; this module parses, wires and prints.

use std::path::Path;

use serde_json::{Value, json};
use systrade_backtest::f;
use systrade_store::{Approval, Ledger};

use crate::args::{
    ApproveArgs, OrdersCancelArgs, OrdersCommand, OrdersListArgs, OrdersSlippageArgs,
    OrdersStageArgs, ProtectArgs, ReadArgs, VenueArgs,
};
use crate::exit::{bad, existing_ledger};
use systrade_desk::orders::{self, OrderFilter, order_json, orders_table};
use systrade_desk::slippage::{by_day, slippage_json, slippage_table, slippages};
use systrade_live::approvals::{self, ApprovalBook, Released, current, order_text as text};
use systrade_live::day::qty_text;
use systrade_live::reconcile::book_of;
use systrade_live::staging;

use systrade_live::env_now as now;

fn open_ledger(home: &Path) -> anyhow::Result<Ledger> {
    existing_ledger(home, "run `systrade run` or `systrade orders stage`")
}

fn load(
    config: &Path,
    data: Option<&Path>,
    read: &ReadArgs,
    venue: &VenueArgs,
) -> anyhow::Result<ApprovalBook> {
    let mut book = ApprovalBook::load(config, data, &read.options(), now()?)?;
    book.broker = venue.broker.map(super::daily::broker_kind);
    book.live = venue.live;
    Ok(book)
}

fn stamp() -> anyhow::Result<String> {
    Ok(now()?.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn print_released(r: &Released, ledger: &Ledger) -> anyhow::Result<()> {
    for o in r.orders.iter().filter(|o| !o.kind.is_stop()) {
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
    for o in r.orders.iter().filter(|o| o.kind.is_stop()) {
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
    let book = load(&a.config, a.data.as_deref(), &a.read, &a.venue)?;
    let chosen = approvals::choose(&ledger, &book, &a.ids, a.all)?;
    if chosen.is_empty() {
        println!("{}: no orders wait for approval", book.name);
        return Ok(());
    }
    let r = approvals::release(home, &book, &mut ledger, &chosen, &stamp()?)?;
    println!("{}: approved {} orders", book.name, chosen.len());
    print_released(&r, &ledger)
}

/// `systrade protect`.
pub fn protect(home: &Path, a: &ProtectArgs) -> anyhow::Result<()> {
    let mut ledger = open_ledger(home)?;
    let book = load(&a.config, a.data.as_deref(), &a.read, &a.venue)?;
    let session = match a.as_of {
        Some(d) => d,
        None => book.venue(home).current_session()?.ok_or_else(|| {
            bad(format!(
                "{}: no account at the venue yet; run the book first",
                a.config.display()
            ))
        })?,
    };
    let r = approvals::protect_held(home, &book, &mut ledger, session, &stamp()?)?;
    println!(
        "{} {session}: {} new fills booked, {} stops placed",
        book.name,
        r.fills.new.len(),
        r.stops.iter().filter(|(_, row)| row.is_some()).count()
    );
    for (sym, row) in &r.stops {
        if let Some(row) = row {
            println!(
                "  {sym}: stop {} on {}",
                qty_text(row.level.round_dp(4)),
                qty_text(row.qty)
            );
        }
    }
    Ok(())
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

/// The book a config names (the config is checked; its data is not loaded).
fn book_name(config: &Path) -> anyhow::Result<String> {
    Ok(book_of(config)?.1)
}

fn list(home: &Path, a: &OrdersListArgs) -> anyhow::Result<()> {
    let filter = a.status.as_deref().map(OrderFilter::parse).transpose()?;
    let ledger = open_ledger(home)?;
    let book = a.config.as_deref().map(book_name).transpose()?;
    let rows = orders::orders(&ledger, book.as_deref(), filter)?;
    if a.json {
        let v: Vec<Value> = rows.iter().map(order_json).collect();
        println!(
            "{}",
            systrade_core::json::to_canonical_pretty(&json!(v))?.trim_end()
        );
    } else if rows.is_empty() {
        println!(
            "no orders{}",
            a.status
                .as_deref()
                .map(|s| format!(" with status {s}"))
                .unwrap_or_default()
        );
    } else {
        print!("{}", orders_table(&rows));
    }
    Ok(())
}

fn cancel(home: &Path, a: &OrdersCancelArgs) -> anyhow::Result<()> {
    let mut ledger = open_ledger(home)?;
    let name = a.config.as_deref().map(book_name).transpose()?;
    let load_book = || {
        a.config
            .as_deref()
            .map(|config| load(config, a.data.as_deref(), &a.read, &a.venue))
            .transpose()
    };
    let done = approvals::cancel_ids(
        home,
        &mut ledger,
        &a.ids,
        name.as_deref(),
        load_book,
        &stamp()?,
    )?;
    for u in &done.orders {
        println!("{}: {}", text(u), u.status);
    }
    Ok(())
}

fn stage(home: &Path, a: &OrdersStageArgs) -> anyhow::Result<()> {
    let book = load(&a.config, a.data.as_deref(), &a.read, &a.venue)?;
    let mut planned = staging::sheet_orders(&book, &a.sheet, a.session)?;
    let n = staging::hold_buys(home, &book, &mut planned.1);
    if n > 0 {
        eprintln!(
            "warning: the kill switch is set: {n} buy orders wait for approval instead of going out"
        );
    }
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
    let mut rows = slippages(&ledger, book.as_deref())?;
    if let (false, Some(last)) = (a.data.is_empty(), rows.iter().map(|r| r.date).max()) {
        let symbols = rows.iter().map(|r| r.symbol.clone()).collect();
        let bars =
            systrade_desk::portfolio::daily_bars(&a.data, &a.read.parse_options(), &symbols, last)?;
        systrade_desk::slippage::with_arrivals(&mut rows, &bars);
    }
    let days = by_day(&rows);
    if a.json {
        let v = slippage_json(&rows, &days);
        println!(
            "{}",
            systrade_core::json::to_canonical_pretty(&v)?.trim_end()
        );
    } else if rows.is_empty() {
        println!("no fills with a decision price yet");
    } else {
        print!("{}", slippage_table(&rows, &days));
    }
    Ok(())
}
