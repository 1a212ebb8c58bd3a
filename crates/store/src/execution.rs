//! Execution levels and the books (spec/execution-and-buckets.md §2): which books the ledger
//! keeps, the fills each booked, orders waiting for approval, and writes made outside a daily
//! run (`systrade approve`, `systrade orders …`), each in one transaction.

use chrono::NaiveDate;
use rusqlite::{OptionalExtension, params};
use rust_decimal::Decimal;
use serde::Serialize;
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};

use crate::{Cells, Ledger, LedgerOrder, Purpose, StoreError, Writer, sym};

/// Who decides a book's orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BookKind {
    /// A strategy of the daily run (`systrade run`).
    System,
    /// A book traded from trade sheets (`systrade orders stage`).
    Sheet,
}

impl BookKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BookKind::System => "system",
            BookKind::Sheet => "sheet",
        }
    }

    pub fn parse(s: &str) -> Option<BookKind> {
        match s {
            "system" => Some(BookKind::System),
            "sheet" => Some(BookKind::Sheet),
            _ => None,
        }
    }
}

/// A book the ledger keeps, and the broker account it trades in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Book {
    pub strategy: String,
    pub kind: BookKind,
    pub account: String,
}

/// A fill as the ledger booked it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerFill {
    pub fill_id: String,
    pub client_order_id: ClientOrderId,
    pub strategy: String,
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Decimal,
    pub price: Decimal,
    pub fee: Decimal,
    pub date: NaiveDate,
    pub purpose: Purpose,
}

impl Ledger {
    /// Every book, by name.
    pub fn books(&self) -> Result<Vec<Book>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT strategy, kind, account FROM books ORDER BY strategy")
            .map_err(self.err())?;
        let rows = st
            .query_map([], |r| {
                Ok(Book {
                    strategy: r.get(0)?,
                    kind: r.word("books", 1, BookKind::parse, "a book kind (system or sheet)")?,
                    account: r.get(2)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// The fills booked for `strategy` (every book's when `None`), by date then booking order.
    pub fn fills(&self, strategy: Option<&str>) -> Result<Vec<LedgerFill>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT fill_id, client_order_id, strategy, symbol, side, qty, price, fee, date, \
                 purpose FROM fills WHERE ?1 IS NULL OR strategy = ?1 ORDER BY date, rowid",
            )
            .map_err(self.err())?;
        let rows = st
            .query_map(params![strategy], |r| {
                Ok(LedgerFill {
                    fill_id: r.get(0)?,
                    client_order_id: ClientOrderId(r.get(1)?),
                    strategy: r.get(2)?,
                    symbol: sym(r.get(3)?)?,
                    side: r.side("fills", 4)?,
                    qty: r.dec("fills", 5)?,
                    price: r.dec("fills", 6)?,
                    fee: r.dec("fills", 7)?,
                    date: r.date("fills", 8)?,
                    purpose: r.word("fills", 9, Purpose::parse, "an order purpose")?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Orders of `strategy` (every book's when `None`) staged and waiting for approval.
    pub fn pending(&self, strategy: Option<&str>) -> Result<Vec<LedgerOrder>, StoreError> {
        self.orders_where(
            "status = 'staged' AND approval = 'pending' AND (?1 IS NULL OR strategy = ?1)",
            &[&strategy],
        )
    }

    /// Every order of every book, in the order they were recorded.
    pub fn all_orders(&self) -> Result<Vec<LedgerOrder>, StoreError> {
        self.orders_where("1 = 1", &[])
    }

    /// Runs `f`'s writes in one transaction; `label` stands for the run id in order events
    /// (e.g. `approve 2024-03-04T13:00:00Z`).
    pub fn write<T>(
        &mut self,
        label: &str,
        f: impl FnOnce(&Writer<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let e = |x: rusqlite::Error| StoreError::Db {
            path: path.clone(),
            message: x.to_string(),
        };
        let tx = self.conn.transaction().map_err(e)?;
        let out = f(&Writer {
            tx: &tx,
            run_id: label,
            path: &path,
        })?;
        tx.commit().map_err(e)?;
        Ok(out)
    }
}

impl Writer<'_> {
    /// Records a book (a second call with another kind or account is refused: one name, one
    /// book).
    pub fn set_book(&self, b: &Book) -> Result<(), StoreError> {
        let have: Option<(String, String)> = self
            .tx
            .query_row(
                "SELECT kind, account FROM books WHERE strategy = ?1",
                params![b.strategy],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(self.e())?;
        let sharing: Option<String> = self
            .tx
            .query_row(
                "SELECT strategy FROM books WHERE account = ?1 AND strategy != ?2 \
                 ORDER BY strategy LIMIT 1",
                params![b.account, b.strategy],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.e())?;
        if let Some(other) = sharing {
            return Err(StoreError::Invalid(format!(
                "account {:?} is already the account of book {other:?}; two books cannot share one account (their positions, stops and fills would mix): give book {:?} its own run.account",
                b.account, b.strategy
            )));
        }
        match have {
            Some((kind, _)) if kind != b.kind.as_str() => Err(StoreError::Invalid(format!(
                "book {:?} is a {kind} book; it cannot also be a {} book (choose another run.name)",
                b.strategy,
                b.kind.as_str()
            ))),
            Some((_, account)) if account != b.account => Err(StoreError::Invalid(format!(
                "book {:?} trades in account {account:?}, not {:?} (choose another run.name)",
                b.strategy, b.account
            ))),
            Some(_) => Ok(()),
            None => {
                self.tx
                    .execute(
                        "INSERT INTO books (strategy, kind, account) VALUES (?1, ?2, ?3)",
                        params![b.strategy, b.kind.as_str(), b.account],
                    )
                    .map_err(self.e())?;
                Ok(())
            }
        }
    }
}
