//! Manual trades: as the desk shows them (`systrade trades list --json`, the dashboard), and
//! read from a broker's export (`systrade trades import`) in the generic layout
//! `date,symbol,side,qty,price[,fees][,stop][,tags][,notes]`, every row checked.

use std::path::Path;

use rust_decimal::Decimal;
use serde_json::json;
use systrade_core::Symbol;
use systrade_core::contracts::Side;
use systrade_core::money::decimal_text as dtext;
use systrade_store::{ManualTrade, NewTrade};
use systrade_systems::table::Table;

/// The trade with its closes, open quantity, realised PnL and R multiple; decimals as text.
pub fn trade_json(t: &ManualTrade) -> serde_json::Value {
    json!({
        "id": t.id, "symbol": t.trade.symbol, "side": t.trade.side, "qty": dtext(t.trade.qty),
        "price": dtext(t.trade.price), "date": t.trade.date, "fees": dtext(t.trade.fees),
        "stop": t.trade.stop.map(dtext), "tags": t.trade.tags, "notes": t.trade.notes,
        "open_qty": dtext(t.open_qty), "realized_pnl": dtext(t.realized_pnl.round_dp(8)),
        "avg_exit": t.avg_exit().map(|x| dtext(x.round_dp(8))),
        "r_multiple": t.r_multiple().map(|x| dtext(x.round_dp(4))),
        "closed_on": t.closed_on(),
        "closes": t.closes.iter().map(|c| json!({"qty": dtext(c.qty), "price": dtext(c.price),
            "date": c.date, "fees": dtext(c.fees)})).collect::<Vec<_>>(),
    })
}

fn side_word(t: &ManualTrade) -> &'static str {
    if t.trade.side == Side::Buy {
        "long"
    } else {
        "short"
    }
}

/// The trade in one line: `trade ID: long QTY SYM @ PRICE on DATE; open …, realised …[, R]`.
pub fn trade_text(t: &ManualTrade) -> String {
    format!(
        "trade {}: {} {} {} @ {} on {}; open {}, realised {}{}",
        t.id,
        side_word(t),
        dtext(t.trade.qty),
        t.trade.symbol,
        dtext(t.trade.price),
        t.trade.date,
        dtext(t.open_qty),
        dtext(t.realized_pnl.round_dp(2)),
        t.r_multiple()
            .map(|r| format!(", {} R", dtext(r.round_dp(2))))
            .unwrap_or_default()
    )
}

/// The trades as a fixed-width table, a header line first.
pub fn trades_table(trades: &[ManualTrade]) -> String {
    let mut out = format!(
        "{:>4} {:<10} {:<5} {:>10} {:>10} {:<10} {:>10} {:>12} {:>7}  tags\n",
        "id", "symbol", "side", "qty", "price", "date", "open", "realised", "R"
    );
    for t in trades {
        out.push_str(&format!(
            "{:>4} {:<10} {:<5} {:>10} {:>10} {:<10} {:>10} {:>12} {:>7}  {}\n",
            t.id,
            t.trade.symbol.as_str(),
            side_word(t),
            dtext(t.trade.qty),
            dtext(t.trade.price),
            t.trade.date,
            dtext(t.open_qty),
            dtext(t.realized_pnl.round_dp(2)),
            t.r_multiple()
                .map(|r| dtext(r.round_dp(2)))
                .unwrap_or_default(),
            t.trade.tags.join(",")
        ));
    }
    out
}

/// The generic export layout: `date,symbol,side,qty,price[,fees][,stop][,tags][,notes]`.
pub fn read_export(path: &Path) -> anyhow::Result<Vec<(String, NewTrade)>> {
    let t = Table::read(
        path,
        &["date", "symbol", "side", "qty", "price"],
        &["fees", "stop", "tags", "notes"],
    )?;
    let mut out = Vec::new();
    for (line, rec) in &t.rows {
        let raw = t.cell(rec, "symbol");
        let symbol = Symbol::new(raw).map_err(|e| t.at(*line, e))?;
        let dec = |col: &str, required: bool| -> anyhow::Result<Option<Decimal>> {
            match t.cell(rec, col) {
                "" if !required => Ok(None),
                x => x
                    .parse::<Decimal>()
                    .map(Some)
                    .map_err(|_| t.at(*line, format!("{symbol}: {col} {x:?} is not a number"))),
            }
        };
        let side = match t.cell(rec, "side").to_ascii_lowercase().as_str() {
            "buy" | "b" => Side::Buy,
            "sell" | "s" => Side::Sell,
            other => {
                return Err(t.at(
                    *line,
                    format!("{symbol}: unknown side {other:?} (buy or sell)"),
                ));
            }
        };
        let trade = NewTrade {
            symbol: symbol.clone(),
            side,
            qty: dec("qty", true)?.unwrap_or_default(),
            price: dec("price", true)?.unwrap_or_default(),
            date: t.date(*line, raw, "date", t.cell(rec, "date"))?,
            fees: dec("fees", false)?.unwrap_or_default(),
            stop: dec("stop", false)?,
            tags: t
                .cell(rec, "tags")
                .split(';')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect(),
            notes: t.cell(rec, "notes").to_string(),
        };
        out.push((format!("{} line {line}", t.path), trade));
    }
    if out.is_empty() {
        return Err(crate::bad(format!("{}: no trades", t.path)));
    }
    Ok(out)
}
