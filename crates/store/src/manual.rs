//! Manual trades (spec/execution-and-buckets.md §6): positions the user opens and closes by
//! hand, kept in the ledger beside the system's own. Every call validates first and writes
//! in one transaction, so a refused call leaves the ledger as it was.

use chrono::NaiveDate;
use rusqlite::params;
use rusqlite::types::Value;
use rust_decimal::Decimal;
use serde::Serialize;
use systrade_core::Symbol;
use systrade_core::contracts::Side;

use crate::{Cells, Ledger, StoreError, parsed, side_str};

/// A new manual trade: `side` buy opens a long, sell a short.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewTrade {
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Decimal,
    pub price: Decimal,
    pub date: NaiveDate,
    pub fees: Decimal,
    pub stop: Option<Decimal>,
    pub tags: Vec<String>,
    pub notes: String,
}

/// One close of (part of) a trade.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TradeClose {
    pub qty: Decimal,
    pub price: Decimal,
    pub date: NaiveDate,
    pub fees: Decimal,
}

/// A trade with its closes and what they realised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManualTrade {
    pub id: i64,
    #[serde(flatten)]
    pub trade: NewTrade,
    pub closes: Vec<TradeClose>,
    pub open_qty: Decimal,
    /// Of the closed part, net of its share of the entry fees and of the close fees.
    pub realized_pnl: Decimal,
}

impl ManualTrade {
    /// +1 for a long, −1 for a short.
    pub fn sign(&self) -> Decimal {
        sign_of(self.trade.side)
    }

    pub fn is_open(&self) -> bool {
        self.open_qty > Decimal::ZERO
    }

    /// The last close's date once nothing is open.
    pub fn closed_on(&self) -> Option<NaiveDate> {
        if self.is_open() {
            None
        } else {
            self.closes.iter().map(|c| c.date).max()
        }
    }

    /// Average exit price of the closed part.
    pub fn avg_exit(&self) -> Option<Decimal> {
        let q: Decimal = self.closes.iter().map(|c| c.qty).sum();
        (!q.is_zero()).then(|| self.closes.iter().map(|c| c.qty * c.price).sum::<Decimal>() / q)
    }

    /// The closed part's move per share in units of the initial risk (entry to stop).
    pub fn r_multiple(&self) -> Option<Decimal> {
        let stop = self.trade.stop?;
        let risk = (self.trade.price - stop).abs();
        let exit = self.avg_exit()?;
        (!risk.is_zero()).then(|| self.sign() * (exit - self.trade.price) / risk)
    }
}

/// Which fields an update changes (`None`: left as is).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TradeUpdate {
    pub qty: Option<Decimal>,
    pub price: Option<Decimal>,
    pub date: Option<NaiveDate>,
    pub fees: Option<Decimal>,
    /// `Some(None)` removes the stop.
    pub stop: Option<Option<Decimal>>,
    pub tags: Option<Vec<String>>,
    pub notes: Option<String>,
}

fn invalid(m: impl Into<String>) -> StoreError {
    StoreError::Invalid(m.into())
}

fn check_trade(t: &NewTrade, today: NaiveDate) -> Result<(), StoreError> {
    let s = &t.symbol;
    if t.qty <= Decimal::ZERO {
        return Err(invalid(format!("{s}: qty must be positive, got {}", t.qty)));
    }
    if t.price <= Decimal::ZERO {
        return Err(invalid(format!(
            "{s}: price must be positive, got {}",
            t.price
        )));
    }
    if t.fees < Decimal::ZERO {
        return Err(invalid(format!(
            "{s}: fees cannot be negative, got {}",
            t.fees
        )));
    }
    if let Some(st) = t.stop
        && st <= Decimal::ZERO
    {
        return Err(invalid(format!(
            "{s}: stop must be a positive price, got {st}"
        )));
    }
    if t.date > today {
        return Err(invalid(format!(
            "{s}: date {} is in the future (today is {today})",
            t.date
        )));
    }
    if t.tags
        .iter()
        .any(|x| x.contains(',') || x.trim().is_empty())
    {
        return Err(invalid(format!("{s}: a tag is empty or contains a comma")));
    }
    Ok(())
}

fn check_close(t: &ManualTrade, c: &TradeClose, today: NaiveDate) -> Result<(), StoreError> {
    let s = &t.trade.symbol;
    if c.qty <= Decimal::ZERO {
        return Err(invalid(format!(
            "trade {} ({s}): close qty must be positive, got {}",
            t.id, c.qty
        )));
    }
    if c.qty > t.open_qty {
        return Err(invalid(format!(
            "trade {} ({s}): closing {} is more than the {} still open",
            t.id,
            c.qty.normalize(),
            t.open_qty.normalize()
        )));
    }
    if c.price <= Decimal::ZERO {
        return Err(invalid(format!(
            "trade {} ({s}): close price must be positive, got {}",
            t.id, c.price
        )));
    }
    if c.fees < Decimal::ZERO {
        return Err(invalid(format!(
            "trade {} ({s}): fees cannot be negative, got {}",
            t.id, c.fees
        )));
    }
    if c.date > today {
        return Err(invalid(format!(
            "trade {} ({s}): close date {} is in the future (today is {today})",
            t.id, c.date
        )));
    }
    if c.date < t.trade.date {
        return Err(invalid(format!(
            "trade {} ({s}): close date {} is before the trade's date {}",
            t.id, c.date, t.trade.date
        )));
    }
    Ok(())
}

fn sign_of(side: Side) -> Decimal {
    if side == Side::Buy {
        Decimal::ONE
    } else {
        -Decimal::ONE
    }
}

/// Derived fields from the rows.
fn assemble(id: i64, trade: NewTrade, closes: Vec<TradeClose>) -> ManualTrade {
    let closed: Decimal = closes.iter().map(|c| c.qty).sum();
    let sign = sign_of(trade.side);
    let realized = closes
        .iter()
        .map(|c| sign * (c.price - trade.price) * c.qty - c.fees - trade.fees * c.qty / trade.qty)
        .sum();
    ManualTrade {
        id,
        open_qty: trade.qty - closed,
        trade,
        closes,
        realized_pnl: realized,
    }
}

/// The stored columns of a trade, in table order (symbol … notes).
fn columns(t: &NewTrade) -> Vec<Value> {
    let text = |x: String| Value::Text(x);
    vec![
        text(t.symbol.to_string()),
        text(side_str(t.side).to_string()),
        text(t.qty.normalize().to_string()),
        text(t.price.normalize().to_string()),
        text(t.date.to_string()),
        text(t.fees.normalize().to_string()),
        t.stop
            .map_or(Value::Null, |x| text(x.normalize().to_string())),
        text(t.tags.join(",")),
        text(t.notes.clone()),
    ]
}

type Row = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
);

impl Ledger {
    fn trade_rows(
        tx: &rusqlite::Connection,
        id: Option<i64>,
    ) -> rusqlite::Result<Vec<ManualTrade>> {
        let mut st = tx.prepare(
            "SELECT id, symbol, side, qty, price, date, fees, stop, tags, notes FROM manual_trades \
             WHERE ?1 IS NULL OR id = ?1 ORDER BY id",
        )?;
        let rows: Vec<Row> = st
            .query_map(params![id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        let mut cs = tx.prepare(
            "SELECT id, qty, price, date, fees FROM manual_closes WHERE trade_id = ?1 ORDER BY id",
        )?;
        let mut out = Vec::new();
        for (id, sym, side, qty, price, date, fees, stop, tags, notes) in rows {
            let closes: Vec<TradeClose> = cs
                .query_map(params![id], |r| {
                    Ok(TradeClose {
                        qty: r.dec("manual_closes", 1)?,
                        price: r.dec("manual_closes", 2)?,
                        date: r.date("manual_closes", 3)?,
                        fees: r.dec("manual_closes", 4)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            let symbol = Symbol::new(&sym).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into())
            })?;
            let key = id.to_string();
            let cell = |column: &str, t: &str| -> rusqlite::Result<Decimal> {
                parsed("manual_trades", &key, column, t, "a decimal")
            };
            let trade = NewTrade {
                symbol,
                side: match side.as_str() {
                    "buy" => Side::Buy,
                    "sell" => Side::Sell,
                    other => {
                        return Err(rusqlite::Error::FromSqlConversionFailure(
                            2,
                            rusqlite::types::Type::Text,
                            Box::new(crate::StoreError::Corrupt(format!(
                                "table manual_trades, row {key}, column side: {other:?} is not a side (buy or sell)"
                            ))),
                        ));
                    }
                },
                qty: cell("qty", &qty)?,
                price: cell("price", &price)?,
                date: parsed("manual_trades", &key, "date", &date, "a date (YYYY-MM-DD)")?,
                fees: cell("fees", &fees)?,
                stop: stop.map(|s| cell("stop", &s)).transpose()?,
                tags: tags
                    .split(',')
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect(),
                notes,
            };
            out.push(assemble(id, trade, closes));
        }
        Ok(out)
    }

    fn insert_trade(tx: &rusqlite::Connection, t: &NewTrade) -> rusqlite::Result<i64> {
        tx.execute(
            "INSERT INTO manual_trades (symbol, side, qty, price, date, fees, stop, tags, notes) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            rusqlite::params_from_iter(columns(t)),
        )?;
        Ok(tx.last_insert_rowid())
    }

    fn insert_close(tx: &rusqlite::Connection, id: i64, c: &TradeClose) -> rusqlite::Result<()> {
        tx.execute(
            "INSERT INTO manual_closes (trade_id, qty, price, date, fees) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                id,
                c.qty.normalize().to_string(),
                c.price.normalize().to_string(),
                c.date.to_string(),
                c.fees.normalize().to_string()
            ],
        )?;
        Ok(())
    }

    /// Every manual trade, oldest first.
    pub fn trades(&self) -> Result<Vec<ManualTrade>, StoreError> {
        Self::trade_rows(&self.conn, None).map_err(self.err())
    }

    /// One manual trade.
    pub fn trade(&self, id: i64) -> Result<ManualTrade, StoreError> {
        Self::trade_rows(&self.conn, Some(id))
            .map_err(self.err())?
            .pop()
            .ok_or_else(|| invalid(format!("no manual trade with id {id}")))
    }

    /// Records a trade; returns its id.
    pub fn add_trade(&mut self, t: &NewTrade, today: NaiveDate) -> Result<i64, StoreError> {
        check_trade(t, today)?;
        Self::insert_trade(&self.conn, t).map_err(self.err())
    }

    /// Changes fields of a trade; the quantity cannot go below what was already closed.
    pub fn update_trade(
        &mut self,
        id: i64,
        u: &TradeUpdate,
        today: NaiveDate,
    ) -> Result<ManualTrade, StoreError> {
        let old = self.trade(id)?;
        let t = NewTrade {
            symbol: old.trade.symbol.clone(),
            side: old.trade.side,
            qty: u.qty.unwrap_or(old.trade.qty),
            price: u.price.unwrap_or(old.trade.price),
            date: u.date.unwrap_or(old.trade.date),
            fees: u.fees.unwrap_or(old.trade.fees),
            stop: u.stop.unwrap_or(old.trade.stop),
            tags: u.tags.clone().unwrap_or(old.trade.tags.clone()),
            notes: u.notes.clone().unwrap_or(old.trade.notes.clone()),
        };
        check_trade(&t, today)?;
        let closed = old.trade.qty - old.open_qty;
        if t.qty < closed {
            return Err(invalid(format!(
                "trade {id} ({}): qty {} is less than the {} already closed",
                t.symbol,
                t.qty.normalize(),
                closed.normalize()
            )));
        }
        if let Some(first) = old.closes.iter().map(|c| c.date).min()
            && t.date > first
        {
            return Err(invalid(format!(
                "trade {id} ({}): date {} is after its first close on {first}",
                t.symbol, t.date
            )));
        }
        let mut values = columns(&t);
        values.push(Value::Integer(id));
        self.conn
            .execute(
                "UPDATE manual_trades SET symbol = ?1, side = ?2, qty = ?3, price = ?4, date = ?5, \
                 fees = ?6, stop = ?7, tags = ?8, notes = ?9 WHERE id = ?10",
                rusqlite::params_from_iter(values),
            )
            .map_err(self.err())?;
        self.trade(id)
    }

    /// Closes `c.qty` of a trade (all that is open when `qty` is `None`).
    pub fn close_trade(
        &mut self,
        id: i64,
        qty: Option<Decimal>,
        price: Decimal,
        date: NaiveDate,
        fees: Decimal,
        today: NaiveDate,
    ) -> Result<ManualTrade, StoreError> {
        let t = self.trade(id)?;
        if !t.is_open() {
            return Err(invalid(format!(
                "trade {id} ({}) is already closed",
                t.trade.symbol
            )));
        }
        let c = TradeClose {
            qty: qty.unwrap_or(t.open_qty),
            price,
            date,
            fees,
        };
        check_close(&t, &c, today)?;
        Self::insert_close(&self.conn, id, &c).map_err(self.err())?;
        self.trade(id)
    }

    /// Imports executions in date order: a fill against open manual trades of the other side
    /// closes them first in, first out; the rest opens a new trade. All or nothing: a bad row
    /// (its `where` names file, line and symbol) leaves the ledger as it was.
    pub fn import_trades(
        &mut self,
        rows: &[(String, NewTrade)],
        today: NaiveDate,
    ) -> Result<(usize, usize), StoreError> {
        let path = self.path.clone();
        let e = |x: rusqlite::Error| StoreError::Db {
            path: path.clone(),
            message: x.to_string(),
        };
        let tx = self.conn.transaction().map_err(e)?;
        let (mut opened, mut closed) = (0, 0);
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| rows[i].1.date);
        for i in order {
            let (at, t) = &rows[i];
            check_trade(t, today).map_err(|x| invalid(format!("{at}: {}", strip(&x))))?;
            let mut left = t.qty;
            let open: Vec<ManualTrade> = Self::trade_rows(&tx, None)
                .map_err(e)?
                .into_iter()
                .filter(|m| m.is_open() && m.trade.symbol == t.symbol && m.trade.side != t.side)
                .collect();
            for m in open {
                if left.is_zero() {
                    break;
                }
                let q = left.min(m.open_qty);
                let c = TradeClose {
                    qty: q,
                    price: t.price,
                    date: t.date,
                    // The row's fees split by quantity between what it closes and opens.
                    fees: t.fees * q / t.qty,
                };
                check_close(&m, &c, today).map_err(|x| invalid(format!("{at}: {}", strip(&x))))?;
                Self::insert_close(&tx, m.id, &c).map_err(e)?;
                left -= q;
                closed += 1;
            }
            if !left.is_zero() {
                let rest = NewTrade {
                    qty: left,
                    fees: t.fees * left / t.qty,
                    ..t.clone()
                };
                Self::insert_trade(&tx, &rest).map_err(e)?;
                opened += 1;
            }
        }
        tx.commit().map_err(e)?;
        Ok((opened, closed))
    }
}

/// The message of an `Invalid` error without the `ledger:` prefix.
fn strip(e: &StoreError) -> String {
    match e {
        StoreError::Invalid(m) => m.clone(),
        other => other.to_string(),
    }
}
