//! Cash reconciliation: the cash the ledger expects a book's account to hold, against the
//! broker's. Anchored at the broker's cash the first time the book is reconciled, then moved
//! by every fill the ledger books (a buy costs qty × price + fee, a sale brings qty × price −
//! fee), so each day's check asks: did the account's cash move by exactly what the fills
//! say? A difference beyond the tolerance (a dividend, interest, a fee, a transfer, or a fill
//! the ledger never saw) stays unresolved — blocking new risk — until acknowledged.

use chrono::NaiveDate;
use rusqlite::{OptionalExtension, params};
use rust_decimal::Decimal;
use serde::Serialize;
use systrade_core::contracts::Side;

use crate::{Ledger, StoreError, Writer};

/// What a day's cash check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CashStatus {
    /// The first check: the ledger's cash starts at the broker's.
    Anchored,
    Match,
    /// The broker's cash differs from the ledger's by more than the tolerance.
    Mismatch,
}

impl CashStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CashStatus::Anchored => "anchored",
            CashStatus::Match => "match",
            CashStatus::Mismatch => "mismatch",
        }
    }
}

/// One day's cash check of a book.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CashCheck {
    pub status: CashStatus,
    pub broker: Decimal,
    /// What the ledger expects: the anchor moved by every fill booked since.
    pub ledger: Decimal,
    /// Broker minus ledger.
    pub difference: Decimal,
}

/// What a fill does to its account's cash.
pub fn cash_effect(side: Side, qty: Decimal, price: Decimal, fee: Decimal) -> Decimal {
    match side {
        Side::Buy => -(qty * price) - fee,
        Side::Sell => qty * price - fee,
    }
}

fn num(what: &str, s: &str) -> Result<Decimal, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("table book_cash, {what}: {s:?} is not a number")))
}

impl Writer<'_> {
    /// Moves the book's expected cash by one newly booked fill (no anchor yet: nothing).
    pub(crate) fn move_cash(&self, strategy: &str, delta: Decimal) -> Result<(), StoreError> {
        let Some(cash) = self.book_cash(strategy)? else {
            return Ok(());
        };
        self.tx
            .execute(
                "UPDATE book_cash SET cash = ?2 WHERE strategy = ?1",
                params![strategy, (cash + delta).to_string()],
            )
            .map_err(self.e())?;
        Ok(())
    }

    fn book_cash(&self, strategy: &str) -> Result<Option<Decimal>, StoreError> {
        let c: Option<String> = self
            .tx
            .query_row(
                "SELECT cash FROM book_cash WHERE strategy = ?1",
                params![strategy],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.e())?;
        c.map(|c| num(&format!("strategy {strategy}, column cash"), &c))
            .transpose()
    }

    /// The day's check of the broker's cash against the ledger's (recorded; the first one
    /// anchors the ledger's cash at the broker's).
    pub fn check_cash(
        &self,
        strategy: &str,
        day: NaiveDate,
        broker: Decimal,
        tolerance: Decimal,
    ) -> Result<CashCheck, StoreError> {
        let Some(ledger) = self.book_cash(strategy)? else {
            self.tx
                .execute(
                    "INSERT INTO book_cash (strategy, cash, anchored_day, checked_day) VALUES (?1, ?2, ?3, ?3)",
                    params![strategy, broker.to_string(), day.to_string()],
                )
                .map_err(self.e())?;
            return Ok(CashCheck {
                status: CashStatus::Anchored,
                broker,
                ledger: broker,
                difference: Decimal::ZERO,
            });
        };
        let difference = broker - ledger;
        let status = if difference.abs() > tolerance {
            CashStatus::Mismatch
        } else {
            CashStatus::Match
        };
        self.tx
            .execute(
                "UPDATE book_cash SET checked_day = ?2, mismatch = ?3 WHERE strategy = ?1",
                params![
                    strategy,
                    day.to_string(),
                    (status == CashStatus::Mismatch).then(|| difference.to_string())
                ],
            )
            .map_err(self.e())?;
        Ok(CashCheck {
            status,
            broker,
            ledger,
            difference,
        })
    }
}

impl Ledger {
    /// The book's unresolved cash difference (broker minus ledger), if its last check found
    /// one no one acknowledged.
    pub fn cash_mismatch(&self, strategy: &str) -> Result<Option<Decimal>, StoreError> {
        let m: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT mismatch FROM book_cash WHERE strategy = ?1",
                params![strategy],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        m.flatten()
            .map(|m| num(&format!("strategy {strategy}, column mismatch"), &m))
            .transpose()
    }

    /// Accepts the broker's cash as the book's: the unresolved difference (a dividend, a
    /// transfer…) moves the ledger's cash and no longer blocks. Returns the difference
    /// taken; refused when there is none.
    pub fn ack_cash(&mut self, strategy: &str) -> Result<Decimal, StoreError> {
        let Some(diff) = self.cash_mismatch(strategy)? else {
            return Err(StoreError::Invalid(format!(
                "book {strategy:?} has no unresolved cash difference to acknowledge"
            )));
        };
        self.write("ack-cash", |w| {
            let cash = w.book_cash(strategy)?.unwrap_or_default();
            w.tx.execute(
                "UPDATE book_cash SET cash = ?2, mismatch = NULL WHERE strategy = ?1",
                params![strategy, (cash + diff).to_string()],
            )
            .map_err(w.e())?;
            Ok(())
        })?;
        Ok(diff)
    }
}
