//! A sheet book's orders staged from a trade sheet (`systrade orders stage`): every line
//! checked before anything is written, the session after the sheet's prices, the approval
//! level of each order from the book's `[execution]` section.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use systrade_backtest::{dec, f};
use systrade_broker::OrderStatus;
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};
use systrade_store::{Book, BookKind, Ledger, LedgerOrder, OrderKind, Purpose};
use systrade_systems::table::Table;

use crate::approvals::ApprovalBook;
use crate::desk::Desk;
use crate::{bad, refused};

/// One line of a trade sheet to stage.
pub struct SheetLine {
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Decimal,
    pub price: Option<Decimal>,
    /// The sheet's limit price: the order goes out as a limit order (a market one without).
    pub limit: Option<Decimal>,
}

/// A trade sheet's lines and its `as_of` (the date its prices are from), checked: known
/// actions, positive quantities in whole lots, each symbol once, one `as_of`.
pub fn read_sheet(
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
        let limit = match t.cell(rec, "limit_price") {
            "" => None,
            p => {
                let v: Decimal = p.parse().map_err(|_| {
                    t.at(
                        *line,
                        format!("{symbol}: limit_price {p:?} is not a number"),
                    )
                })?;
                if v <= Decimal::ZERO {
                    return Err(t.at(
                        *line,
                        format!("{symbol}: limit_price must be positive (got {p})"),
                    ));
                }
                Some(v)
            }
        };
        let d = t.cell(rec, "as_of");
        if !d.is_empty() {
            let d = t.date(*line, symbol.as_str(), "as_of", d)?;
            if as_of.is_some_and(|a| a != d) {
                return Err(t.at(
                    *line,
                    format!("{symbol}: as_of {d} differs from the sheet's other lines"),
                ));
            }
            as_of = Some(d);
        }
        out.push(SheetLine {
            symbol,
            side,
            qty,
            price,
            limit,
        });
    }
    if out.is_empty() {
        return Err(bad(format!("{}: the sheet has no lines", path.display())));
    }
    Ok((out, as_of))
}

/// What staging a sheet did.
pub struct Staged {
    pub session: NaiveDate,
    /// Every order of the sheet (new or staged before).
    pub orders: Vec<LedgerOrder>,
    /// The orders new to the ledger.
    pub fresh: Vec<LedgerOrder>,
    /// What still waited of the previous sheet, now expired.
    pub superseded: Vec<LedgerOrder>,
}

impl Staged {
    /// The new orders below the approval threshold: they go out now, sells first.
    pub fn to_send(&self) -> Vec<LedgerOrder> {
        let mut go: Vec<LedgerOrder> = self
            .fresh
            .iter()
            .filter(|o| o.approval.is_none())
            .cloned()
            .collect();
        go.sort_by_key(|o| o.side == Side::Buy);
        go
    }
}

/// Under the kill switch (of `home`, for `book`) a sheet's buys do not go out at once,
/// whatever the level: each waits for `systrade approve` (which refuses them while the switch
/// is set); returns how many were held.
pub fn hold_buys(home: &Path, book: &ApprovalBook, orders: &mut [LedgerOrder]) -> usize {
    if !crate::gates::kill_switch(home, book.desk.run_cfg()) {
        return 0;
    }
    let mut n = 0;
    for o in orders
        .iter_mut()
        .filter(|o| o.side == Side::Buy && o.approval.is_none())
    {
        o.approval = Some(systrade_store::Approval::Pending);
        o.note = Some("kill switch set: waits for approval".into());
        n += 1;
    }
    n
}

/// A sheet's orders for `book` (a sheet book), checked, before anything is written: for
/// `session` (else the session after the sheet's `as_of`), each with its decision price and
/// approval level.
pub fn sheet_orders(
    book: &ApprovalBook,
    sheet: &Path,
    session: Option<NaiveDate>,
) -> anyhow::Result<(NaiveDate, Vec<LedgerOrder>)> {
    if !matches!(book.desk, Desk::Sheet(_)) {
        return Err(bad(format!(
            "{}: `orders stage` needs a sheet book (strategy = \"sheet\"); a strategy's orders come from `systrade run`",
            book.config.display()
        )));
    }
    let (lines, as_of) = read_sheet(sheet, book.desk.qty_step())?;
    let session = session_of(&book.desk, sheet, session, as_of)?;
    let orders = lines
        .iter()
        .map(|s| staged_order(book, sheet, session, s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((session, orders))
}

/// Stages a sheet's checked orders ([`sheet_orders`]) in the ledger; what still waited of an
/// earlier sheet expires.
pub fn stage(
    ledger: &mut Ledger,
    book: &ApprovalBook,
    sheet: &Path,
    (session, orders): (NaiveDate, Vec<LedgerOrder>),
    stamp: &str,
) -> anyhow::Result<Staged> {
    let ids: BTreeSet<&ClientOrderId> = orders.iter().map(|o| &o.client_order_id).collect();
    let known: BTreeSet<ClientOrderId> = ledger
        .orders(&book.name)?
        .into_iter()
        .map(|o| o.client_order_id)
        .collect();
    let superseded: Vec<LedgerOrder> = ledger
        .pending(Some(&book.name))?
        .into_iter()
        .filter(|o| !ids.contains(&o.client_order_id))
        .map(|o| LedgerOrder {
            status: OrderStatus::Expired,
            note: Some(format!("superseded by {}", sheet.display())),
            ..o
        })
        .collect();
    let fresh: Vec<LedgerOrder> = orders
        .iter()
        .filter(|o| !known.contains(&o.client_order_id))
        .cloned()
        .collect();
    ledger
        .write(&format!("stage {stamp}"), |w| {
            w.set_book(&Book {
                strategy: book.name.clone(),
                kind: BookKind::Sheet,
                account: book.desk.run_cfg().account.clone(),
            })?;
            for o in fresh.iter().chain(&superseded) {
                w.upsert_order(o)?;
            }
            Ok(())
        })
        .map_err(refused)?;
    Ok(Staged {
        session,
        orders,
        fresh,
        superseded,
    })
}

/// The session the sheet's orders trade in: after the prices they were decided on.
fn session_of(
    desk: &Desk,
    sheet: &Path,
    session: Option<NaiveDate>,
    as_of: Option<NaiveDate>,
) -> anyhow::Result<NaiveDate> {
    let cal = desk.market().calendar();
    let session = match (session, as_of) {
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
                sheet.display()
            )));
        }
    };
    if !cal.is_trading_day(session) {
        return Err(bad(format!(
            "session {session} is not a {} trading day",
            desk.market().as_str()
        )));
    }
    Ok(session)
}

/// The staged order of one sheet line, priced at its `last_close` or the last close before
/// the session.
fn staged_order(
    book: &ApprovalBook,
    sheet: &Path,
    session: NaiveDate,
    s: &SheetLine,
) -> anyhow::Result<LedgerOrder> {
    let bars = book.desk.bars().get(&s.symbol).ok_or_else(|| {
        bad(format!(
            "{}: {}: unknown symbol (not in the book's data)",
            sheet.display(),
            s.symbol
        ))
    })?;
    let price = match s.price {
        Some(p) => p,
        None => {
            let i = bars.partition_point(|b| b.ts < session);
            let c = i
                .checked_sub(1)
                .map(|k| bars[k].close)
                .ok_or_else(|| bad(format!("{}: no price before session {session}", s.symbol)))?;
            dec(c)
        }
    };
    let purpose = format!("sheet {}", s.qty.normalize());
    Ok(LedgerOrder {
        client_order_id: ClientOrderId::for_book(&book.name, session, &s.symbol, s.side, &purpose)?,
        strategy: book.name.clone(),
        market_day: session,
        symbol: s.symbol.clone(),
        side: s.side,
        kind: if s.limit.is_some() {
            OrderKind::Limit
        } else {
            OrderKind::Market
        },
        qty: s.qty,
        stop_price: None,
        purpose: Purpose::Sheet,
        status: OrderStatus::Staged,
        broker_order_id: None,
        filled_qty: Decimal::ZERO,
        avg_price: None,
        note: Some(format!("from {}", sheet.display())),
        decision_price: Some(price),
        limit_price: s.limit,
        approval: book.desk.execution().hold(f(s.qty * price)),
    })
}
