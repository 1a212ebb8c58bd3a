//! `systrade trades add|list|update|close|import`: manual trades in the ledger.

use std::path::Path;

use chrono::NaiveDate;
use serde_json::json;
use systrade_core::Symbol;
use systrade_core::contracts::Side;
use systrade_store::{Ledger, ManualTrade, NewTrade, TradeUpdate};

use crate::args::{TradeSideArg, TradesCommand};
use crate::exit::{bad, existing_ledger, refused};
use systrade_desk::trades::{read_export, trade_json, trade_text, trades_table};

/// Today (UTC), or the date of `SYSTRADE_NOW` when set (tests and replays).
fn today() -> anyhow::Result<NaiveDate> {
    Ok(systrade_live::env_now()?.date_naive())
}

fn side(s: TradeSideArg) -> Side {
    match s {
        TradeSideArg::Buy => Side::Buy,
        TradeSideArg::Sell => Side::Sell,
    }
}

fn open_ledger(home: &Path, create: bool) -> anyhow::Result<Ledger> {
    if create {
        Ok(Ledger::open(&home.join("ledger.sqlite"))?)
    } else {
        existing_ledger(home, "add a trade")
    }
}

fn print_trade(verb: &str, t: &ManualTrade) {
    println!("{verb} {}", trade_text(t));
}

pub fn run(home: &Path, c: &TradesCommand) -> anyhow::Result<()> {
    let today = today()?;
    match c {
        TradesCommand::Add(a) => {
            let t = NewTrade {
                symbol: Symbol::new(&a.symbol).map_err(|e| bad(e.to_string()))?,
                side: side(a.side),
                qty: a.qty,
                price: a.price,
                date: a.date,
                fees: a.fees,
                stop: a.stop,
                tags: a.tags.iter().map(|t| t.trim().to_string()).collect(),
                notes: a.notes.clone(),
            };
            let mut l = open_ledger(home, true)?;
            let id = l.add_trade(&t, today).map_err(refused)?;
            print_trade("added", &l.trade(id).map_err(refused)?);
        }
        TradesCommand::List(a) => {
            let l = open_ledger(home, false)?;
            let trades: Vec<ManualTrade> = l
                .trades()?
                .into_iter()
                .filter(|t| a.all || t.is_open())
                .collect();
            if a.json {
                let v: Vec<_> = trades.iter().map(trade_json).collect();
                println!(
                    "{}",
                    systrade_core::json::to_canonical_pretty(&json!(v))?.trim_end()
                );
            } else {
                print!("{}", trades_table(&trades));
                if trades.is_empty() {
                    println!("  no {}manual trades", if a.all { "" } else { "open " });
                }
            }
        }
        TradesCommand::Update(a) => {
            let u = TradeUpdate {
                qty: a.qty,
                price: a.price,
                date: a.date,
                fees: a.fees,
                stop: if a.no_stop {
                    Some(None)
                } else {
                    a.stop.map(Some)
                },
                tags: a
                    .tags
                    .as_ref()
                    .map(|v| v.iter().map(|t| t.trim().to_string()).collect()),
                notes: a.notes.clone(),
            };
            if u == TradeUpdate::default() {
                return Err(bad(
                    "trades update: nothing to change (pass --qty, --price, --date, --fees, --stop/--no-stop, --tags or --notes)",
                ));
            }
            let mut l = open_ledger(home, false)?;
            print_trade(
                "updated",
                &l.update_trade(a.id, &u, today).map_err(refused)?,
            );
        }
        TradesCommand::Close(a) => {
            let mut l = open_ledger(home, false)?;
            let t = l
                .close_trade(a.id, a.qty, a.price, a.date, a.fees, today)
                .map_err(refused)?;
            print_trade("closed", &t);
        }
        TradesCommand::Import(a) => {
            let rows = read_export(&a.file)?;
            let mut l = open_ledger(home, true)?;
            let (opened, closed) = l.import_trades(&rows, today).map_err(refused)?;
            println!(
                "imported {} rows of {}: {opened} trades opened, {closed} closes",
                rows.len(),
                a.file.display()
            );
        }
    }
    Ok(())
}
