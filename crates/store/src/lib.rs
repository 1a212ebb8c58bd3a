//! The ledger: an SQLite file (WAL) holding what systrade decided and did — runs and their
//! steps, the book each day was decided on, gate decisions, orders with their lifecycle,
//! fills, positions, protective stops, the strategies' carried state, equity,
//! reconciliation results with acknowledgements, and done flags.
//!
//! Every write of a daily-run step goes through [`Ledger::step`]: one transaction that also
//! records the step as done, so a crash leaves each step either fully written or not at all.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use systrade_broker::{BrokerFill, OrderStatus};
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, PortfolioDecision, Side};

mod cash;
mod execution;
mod manual;

pub use cash::{CashCheck, CashStatus, cash_effect};
pub use execution::{Book, BookKind, LedgerFill};
pub use manual::{ManualTrade, NewTrade, TradeClose, TradeUpdate};
pub use systrade_core::vocab::{Approval, OrderKind, Purpose, ReconStatus};

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Ledger failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("ledger {path}: {message}")]
    Db { path: PathBuf, message: String },
    #[error("ledger: {0}")]
    Invalid(String),
    /// A stored row that cannot be what its table says (names table, row and column).
    #[error("ledger is corrupt: {0}")]
    Corrupt(String),
    /// An order status change the lifecycle does not allow ([`OrderStatus::can_become`]).
    #[error("order {id}: the ledger has it {from}; it cannot become {to}")]
    Transition {
        id: String,
        from: OrderStatus,
        to: OrderStatus,
    },
}

/// A corrupt stored value as the error rusqlite's row mapping carries.
fn corrupt(msg: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::new(StoreError::Corrupt(msg)),
    )
}

/// Typed reads of a stored row: a value that is not what its column holds is an error naming
/// the table, the row (by its first column) and the column — never a silent 0, sell or
/// rejected.
pub(crate) trait Cells {
    fn at(&self, table: &str, i: usize, got: &str, what: &str) -> rusqlite::Error;
    fn text(&self, i: usize) -> rusqlite::Result<String>;
    fn text_opt(&self, i: usize) -> rusqlite::Result<Option<String>>;

    fn dec(&self, table: &str, i: usize) -> rusqlite::Result<Decimal> {
        let t = self.text(i)?;
        t.parse().map_err(|_| self.at(table, i, &t, "a decimal"))
    }

    fn dec_opt(&self, table: &str, i: usize) -> rusqlite::Result<Option<Decimal>> {
        self.word_opt(table, i, |t| t.parse().ok(), "a decimal")
    }

    fn date(&self, table: &str, i: usize) -> rusqlite::Result<NaiveDate> {
        let t = self.text(i)?;
        t.parse()
            .map_err(|_| self.at(table, i, &t, "a date (YYYY-MM-DD)"))
    }

    fn side(&self, table: &str, i: usize) -> rusqlite::Result<Side> {
        match self.text(i)?.as_str() {
            "buy" => Ok(Side::Buy),
            "sell" => Ok(Side::Sell),
            t => Err(self.at(table, i, t, "a side (buy or sell)")),
        }
    }

    /// A ledger enum stored as its word.
    fn word<T>(
        &self,
        table: &str,
        i: usize,
        parse: fn(&str) -> Option<T>,
        what: &str,
    ) -> rusqlite::Result<T> {
        let t = self.text(i)?;
        parse(&t).ok_or_else(|| self.at(table, i, &t, what))
    }

    fn word_opt<T>(
        &self,
        table: &str,
        i: usize,
        parse: fn(&str) -> Option<T>,
        what: &str,
    ) -> rusqlite::Result<Option<T>> {
        match self.text_opt(i)? {
            None => Ok(None),
            Some(t) => parse(&t)
                .map(Some)
                .ok_or_else(|| self.at(table, i, &t, what)),
        }
    }

    fn status(&self, table: &str, i: usize) -> rusqlite::Result<OrderStatus> {
        self.word(table, i, OrderStatus::parse, "an order status")
    }
}

impl Cells for rusqlite::Row<'_> {
    fn at(&self, table: &str, i: usize, got: &str, what: &str) -> rusqlite::Error {
        let key = match self.get::<_, rusqlite::types::Value>(0) {
            Ok(rusqlite::types::Value::Text(t)) => t,
            Ok(rusqlite::types::Value::Integer(n)) => n.to_string(),
            _ => "?".into(),
        };
        let column = self
            .as_ref()
            .column_name(i)
            .map_or_else(|_| format!("#{i}"), str::to_string);
        corrupt(format!(
            "table {table}, row {key}, column {column}: {got:?} is not {what}"
        ))
    }

    fn text(&self, i: usize) -> rusqlite::Result<String> {
        self.get(i)
    }

    fn text_opt(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.get(i)
    }
}

/// A stored text of row `key` parsed as `what`; corrupt is an error naming table, row and
/// column.
pub(crate) fn parsed<T: std::str::FromStr>(
    table: &str,
    key: &str,
    column: &str,
    t: &str,
    what: &str,
) -> rusqlite::Result<T> {
    t.parse().map_err(|_| {
        corrupt(format!(
            "table {table}, row {key}, column {column}: {t:?} is not {what}"
        ))
    })
}

/// A stored date read outside a row mapping (an aggregate): corrupt is an error naming where.
fn stored_date(table: &str, column: &str, t: &str) -> Result<NaiveDate, StoreError> {
    t.parse().map_err(|_| {
        StoreError::Corrupt(format!(
            "table {table}, column {column}: {t:?} is not a date (YYYY-MM-DD)"
        ))
    })
}

fn side_str(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn sym(s: String) -> rusqlite::Result<Symbol> {
    Symbol::new(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

/// An order as the ledger knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerOrder {
    pub client_order_id: ClientOrderId,
    pub strategy: String,
    pub market_day: NaiveDate,
    pub symbol: Symbol,
    pub side: Side,
    pub kind: OrderKind,
    pub qty: Decimal,
    pub stop_price: Option<Decimal>,
    pub purpose: Purpose,
    pub status: OrderStatus,
    pub broker_order_id: Option<String>,
    pub filled_qty: Decimal,
    pub avg_price: Option<Decimal>,
    pub note: Option<String>,
    /// The price the order was decided at (the last close): the execution monitor measures
    /// each fill's slippage against it.
    #[serde(default)]
    pub decision_price: Option<Decimal>,
    /// A limit order's price (`kind = limit`).
    #[serde(default)]
    pub limit_price: Option<Decimal>,
    /// `None`: no approval needed.
    #[serde(default)]
    pub approval: Option<Approval>,
}

/// The stop in force for a held symbol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopRow {
    pub level: Decimal,
    pub qty: Decimal,
    pub client_order_id: ClientOrderId,
    pub market_day: NaiveDate,
}

/// One symbol's reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconRow {
    pub symbol: Symbol,
    pub status: ReconStatus,
    pub broker_qty: Decimal,
    pub ledger_qty: Decimal,
    /// Open protective stops at the broker.
    pub stops: usize,
}

/// A strategy's state carried between days.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CarriedState {
    /// Per ticker: the stop level in force and the cooldown counter.
    pub tickers: BTreeMap<Symbol, (Option<f64>, u32)>,
    /// The latest bar date of the previous decision.
    pub last_decided: Option<NaiveDate>,
}

/// A run as it starts.
#[derive(Debug, Clone, Copy)]
pub struct RunStart<'a> {
    pub run_id: &'a str,
    pub strategy: &'a str,
    pub market_day: NaiveDate,
    pub broker: &'a str,
    pub account: &'a str,
    pub dry_run: bool,
    pub now: &'a str,
}

/// The ledger file.
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
}

const ORDER_COLS: &str = "client_order_id, strategy, market_day, symbol, side, kind, qty, \
     stop_price, purpose, status, broker_order_id, filled_qty, avg_price, note, decision_price, \
     approval, limit_price";

fn order_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LedgerOrder> {
    const T: &str = "orders";
    Ok(LedgerOrder {
        client_order_id: ClientOrderId(r.get(0)?),
        strategy: r.get(1)?,
        market_day: r.date(T, 2)?,
        symbol: sym(r.get(3)?)?,
        side: r.side(T, 4)?,
        kind: r.word(T, 5, OrderKind::parse, "an order kind")?,
        qty: r.dec(T, 6)?,
        stop_price: r.dec_opt(T, 7)?,
        purpose: r.word(T, 8, Purpose::parse, "an order purpose")?,
        status: r.status(T, 9)?,
        broker_order_id: r.get(10)?,
        filled_qty: r.dec(T, 11)?,
        avg_price: r.dec_opt(T, 12)?,
        note: r.get(13)?,
        decision_price: r.dec_opt(T, 14)?,
        approval: r.word_opt(T, 15, Approval::parse, "an approval")?,
        limit_price: r.dec_opt(T, 16)?,
    })
}

impl Ledger {
    /// Opens (creating when missing) the ledger and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let err = |e: &dyn std::fmt::Display| StoreError::Db {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        }
        let mut conn = Connection::open(path).map_err(|e| err(&e))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
             PRAGMA busy_timeout = 5000;",
        )
        .map_err(|e| err(&e))?;
        embedded::migrations::runner()
            // One transaction for every pending migration and its history row: a process killed
            // half-way leaves the file as it was, never a change applied but not recorded.
            .set_grouped(true)
            .run(&mut conn)
            .map_err(|e| err(&e))?;
        Ok(Ledger {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |e| StoreError::Db {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Records a run's start (its own transaction: the run exists even if step 1 fails).
    pub fn start_run(&mut self, r: &RunStart<'_>) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO runs (run_id, strategy, market_day, broker, account, dry_run, status, \
                 started_utc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7)",
                params![
                    r.run_id,
                    r.strategy,
                    r.market_day.to_string(),
                    r.broker,
                    r.account,
                    r.dry_run,
                    r.now
                ],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Marks a run completed or failed.
    pub fn finish_run(
        &mut self,
        run_id: &str,
        error: Option<&str>,
        now: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE runs SET status = ?2, error = ?3, finished_utc = ?4 WHERE run_id = ?1",
                params![
                    run_id,
                    if error.is_some() {
                        "failed"
                    } else {
                        "completed"
                    },
                    error,
                    now
                ],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Marks the strategy's runs still `running` as `aborted` (they were killed: the caller
    /// holds the strategy's lock, so none of them is alive); returns each run id with the
    /// last step it completed.
    pub fn abort_running(
        &mut self,
        strategy: &str,
        now: &str,
    ) -> Result<Vec<(String, u8)>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT run_id, last_step FROM runs WHERE strategy = ?1 AND status = 'running' \
                 ORDER BY started_utc, run_id",
            )
            .map_err(self.err())?;
        let rows = st
            .query_map(params![strategy], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(self.err())?;
        let mut out = Vec::new();
        for row in rows {
            let (id, step) = row.map_err(self.err())?;
            let step = u8::try_from(step).map_err(|_| {
                StoreError::Corrupt(format!("runs row {id}: last_step {step} is not a step"))
            })?;
            out.push((id, step));
        }
        drop(st);
        for (id, step) in &out {
            self.conn
                .execute(
                    "UPDATE runs SET status = 'aborted', finished_utc = ?2, error = ?3 \
                     WHERE run_id = ?1",
                    params![
                        id,
                        now,
                        format!("killed after step {step}; found by the next run")
                    ],
                )
                .map_err(self.err())?;
        }
        Ok(out)
    }

    /// Attempts made for a strategy's market day so far.
    pub fn runs_for_day(&self, strategy: &str, market_day: NaiveDate) -> Result<usize, StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM runs WHERE strategy = ?1 AND market_day = ?2",
                params![strategy, market_day.to_string()],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as usize)
            .map_err(self.err())
    }

    /// Runs one step's writes in one transaction and records the step as done.
    pub fn step<T>(
        &mut self,
        run_id: &str,
        step: u8,
        name: &str,
        now: &str,
        f: impl FnOnce(&Writer<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write(run_id, |w| {
            let out = f(w)?;
            w.tx.execute(
                "INSERT OR REPLACE INTO steps (run_id, step, name, done_utc) VALUES (?1, ?2, ?3, ?4)",
                params![run_id, step, name, now],
            )
            .map_err(w.e())?;
            w.tx.execute(
                "UPDATE runs SET last_step = ?2 WHERE run_id = ?1",
                params![run_id, step],
            )
            .map_err(w.e())?;
            Ok(out)
        })
    }

    /// The run that completed a strategy's market day, if one did.
    pub fn done(
        &self,
        strategy: &str,
        market_day: NaiveDate,
    ) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT run_id FROM done WHERE strategy = ?1 AND market_day = ?2",
                params![strategy, market_day.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// The latest market day a strategy completed.
    pub fn last_done(&self, strategy: &str) -> Result<Option<NaiveDate>, StoreError> {
        self.conn
            .query_row(
                "SELECT MAX(market_day) FROM done WHERE strategy = ?1",
                params![strategy],
                |r| r.get::<_, Option<String>>(0),
            )
            .map_err(self.err())?
            .map(|d| stored_date("done", "market_day", &d))
            .transpose()
    }

    /// The book (canonical JSON) a market day was decided on.
    pub fn day_book(
        &self,
        strategy: &str,
        market_day: NaiveDate,
    ) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT book FROM day_books WHERE strategy = ?1 AND market_day = ?2",
                params![strategy, market_day.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    pub fn order(&self, id: &ClientOrderId) -> Result<Option<LedgerOrder>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {ORDER_COLS} FROM orders WHERE client_order_id = ?1"),
                params![id.0],
                order_row,
            )
            .optional()
            .map_err(self.err())
    }

    fn orders_where(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<LedgerOrder>, StoreError> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {ORDER_COLS} FROM orders WHERE {filter} ORDER BY rowid"
            ))
            .map_err(self.err())?;
        let rows = st.query_map(args, order_row).map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// A strategy's orders of one market day, in the order they were recorded.
    pub fn orders_for_day(
        &self,
        strategy: &str,
        market_day: NaiveDate,
    ) -> Result<Vec<LedgerOrder>, StoreError> {
        self.orders_where(
            "strategy = ?1 AND market_day = ?2",
            &[&strategy, &market_day.to_string()],
        )
    }

    /// Every order of a strategy.
    pub fn orders(&self, strategy: &str) -> Result<Vec<LedgerOrder>, StoreError> {
        self.orders_where("strategy = ?1", &[&strategy])
    }

    /// Orders the ledger believes are still working at the broker.
    pub fn working_orders(&self, strategy: &str) -> Result<Vec<LedgerOrder>, StoreError> {
        self.orders_where(
            "strategy = ?1 AND status IN ('submitted', 'accepted', 'partially_filled')",
            &[&strategy],
        )
    }

    /// Fill ids already booked of `account` (brokers number fills per account).
    pub fn fill_ids(&self, account: &str) -> Result<BTreeSet<String>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT fill_id FROM fills WHERE account = ?1")
            .map_err(self.err())?;
        let rows = st
            .query_map(params![account], |r| r.get::<_, String>(0))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// The date of each symbol's latest protective-stop fill.
    pub fn stop_outs(&self, strategy: &str) -> Result<BTreeMap<Symbol, NaiveDate>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT symbol, MAX(date) FROM fills WHERE strategy = ?1 AND purpose = 'stop' \
                 GROUP BY symbol",
            )
            .map_err(self.err())?;
        let rows = st
            .query_map(params![strategy], |r| {
                Ok((sym(r.get(0)?)?, r.date("fills", 1)?))
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// The latest fill date booked for a strategy (later fills are the only new ones).
    pub fn last_fill_date(&self, strategy: &str) -> Result<Option<NaiveDate>, StoreError> {
        self.conn
            .query_row(
                "SELECT MAX(date) FROM fills WHERE strategy = ?1",
                params![strategy],
                |r| r.get::<_, Option<String>>(0),
            )
            .map_err(self.err())?
            .map(|d| stored_date("fills", "date", &d))
            .transpose()
    }

    /// The ledger's positions of a strategy (non-zero).
    pub fn positions(&self, strategy: &str) -> Result<BTreeMap<Symbol, Decimal>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT symbol, qty FROM positions WHERE strategy = ?1 ORDER BY symbol")
            .map_err(self.err())?;
        let rows = st
            .query_map(params![strategy], |r| {
                Ok((sym(r.get(0)?)?, r.dec("positions", 1)?))
            })
            .map_err(self.err())?;
        let all: Vec<(Symbol, Decimal)> = rows.collect::<Result<_, _>>().map_err(self.err())?;
        Ok(all.into_iter().filter(|(_, q)| !q.is_zero()).collect())
    }

    /// The protective stops in force.
    pub fn stops(&self, strategy: &str) -> Result<BTreeMap<Symbol, StopRow>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT symbol, level, qty, client_order_id, market_day FROM stops \
                 WHERE strategy = ?1 ORDER BY symbol",
            )
            .map_err(self.err())?;
        let rows = st
            .query_map(params![strategy], |r| {
                Ok((
                    sym(r.get(0)?)?,
                    StopRow {
                        level: r.dec("stops", 1)?,
                        qty: r.dec("stops", 2)?,
                        client_order_id: ClientOrderId(r.get(3)?),
                        market_day: r.date("stops", 4)?,
                    },
                ))
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// The strategy's carried state.
    /// The recorded formation of `month` (`YYYY-MM`): its date and state.
    pub fn formation(
        &self,
        strategy: &str,
        month: &str,
    ) -> Result<Option<(NaiveDate, String)>, StoreError> {
        let row: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT formation_date, state FROM formations WHERE strategy = ?1 AND month = ?2",
                params![strategy, month],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())?;
        row.map(|(d, s)| Ok((stored_date("formations", "formation_date", &d)?, s)))
            .transpose()
    }

    pub fn carried(&self, strategy: &str) -> Result<CarriedState, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT symbol, stop, cooldown_left FROM strategy_state WHERE strategy = ?1")
            .map_err(self.err())?;
        let rows = st
            .query_map(params![strategy], |r| {
                let stop: Option<String> = r.get(1)?;
                Ok((
                    sym(r.get(0)?)?,
                    (
                        stop.and_then(|s| s.parse::<f64>().ok()),
                        r.get::<_, i64>(2)?.max(0) as u32,
                    ),
                ))
            })
            .map_err(self.err())?;
        let tickers = rows.collect::<Result<_, _>>().map_err(self.err())?;
        let last_decided = self
            .conn
            .query_row(
                "SELECT last_decided FROM strategy_meta WHERE strategy = ?1",
                params![strategy],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map_err(self.err())?
            .flatten()
            .map(|d| stored_date("strategy_meta", "last_decided", &d))
            .transpose()?;
        Ok(CarriedState {
            tickers,
            last_decided,
        })
    }

    /// Equity after each completed market day.
    pub fn equity(&self, strategy: &str) -> Result<Vec<(NaiveDate, Decimal)>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT market_day, equity FROM equity WHERE strategy = ?1 ORDER BY market_day",
            )
            .map_err(self.err())?;
        let rows = st
            .query_map(params![strategy], |r| {
                Ok((r.date("equity", 0)?, r.dec("equity", 1)?))
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// New entries filled or working for a market day.
    pub fn entries_on(&self, strategy: &str, market_day: NaiveDate) -> Result<usize, StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM orders WHERE strategy = ?1 AND market_day = ?2 \
                 AND purpose = 'entry' AND status NOT IN ('rejected', 'staged', 'canceled')",
                params![strategy, market_day.to_string()],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as usize)
            .map_err(self.err())
    }

    /// The latest reconciliation of a strategy: its market day and rows.
    pub fn last_reconciliation(
        &self,
        strategy: &str,
    ) -> Result<Option<(NaiveDate, Vec<ReconRow>)>, StoreError> {
        let last: Option<String> = self
            .conn
            .query_row(
                "SELECT MAX(market_day) FROM reconciliation WHERE strategy = ?1",
                params![strategy],
                |r| r.get(0),
            )
            .map_err(self.err())?;
        let Some(d) = last else { return Ok(None) };
        let mut st = self
            .conn
            .prepare(
                "SELECT symbol, status, broker_qty, ledger_qty, stops FROM reconciliation \
                 WHERE strategy = ?1 AND market_day = ?2 ORDER BY symbol",
            )
            .map_err(self.err())?;
        let rows = st
            .query_map(params![strategy, d], |r| {
                Ok(ReconRow {
                    symbol: sym(r.get(0)?)?,
                    status: r.word(
                        "reconciliation",
                        1,
                        ReconStatus::parse,
                        "a reconciliation status",
                    )?,
                    broker_qty: r.dec("reconciliation", 2)?,
                    ledger_qty: r.dec("reconciliation", 3)?,
                    stops: r.get::<_, i64>(4)?.max(0) as usize,
                })
            })
            .map_err(self.err())?;
        Ok(Some((
            stored_date("reconciliation", "market_day", &d)?,
            rows.collect::<Result<_, _>>().map_err(self.err())?,
        )))
    }

    /// Symbols whose latest reconciliation found the books apart and that no one has
    /// acknowledged: they get no new entries.
    pub fn unresolved_mismatches(&self, strategy: &str) -> Result<BTreeSet<Symbol>, StoreError> {
        let Some((d, rows)) = self.last_reconciliation(strategy)? else {
            return Ok(BTreeSet::new());
        };
        let mut out = BTreeSet::new();
        for r in rows.into_iter().filter(|r| r.status != ReconStatus::Match) {
            let acked: Option<i64> = self
                .conn
                .query_row(
                    "SELECT 1 FROM acks WHERE strategy = ?1 AND symbol = ?2 AND market_day = ?3",
                    params![strategy, r.symbol.as_str(), d.to_string()],
                    |x| x.get(0),
                )
                .optional()
                .map_err(self.err())?;
            if acked.is_none() {
                out.insert(r.symbol);
            }
        }
        Ok(out)
    }

    /// Acknowledges a symbol's mismatch in the latest reconciliation: the ledger adopts the
    /// broker's quantity (an adjustment, logged) and the symbol may get new entries again.
    /// Returns the reconciliation row acknowledged.
    pub fn ack(
        &mut self,
        strategy: &str,
        symbol: &Symbol,
        now: &str,
    ) -> Result<ReconRow, StoreError> {
        let Some((d, rows)) = self.last_reconciliation(strategy)? else {
            return Err(StoreError::Invalid(format!(
                "strategy {strategy} has no reconciliation to acknowledge"
            )));
        };
        let Some(row) = rows.into_iter().find(|r| &r.symbol == symbol) else {
            return Err(StoreError::Invalid(format!(
                "{symbol} is not in strategy {strategy}'s reconciliation of {d}"
            )));
        };
        if row.status == ReconStatus::Match {
            return Err(StoreError::Invalid(format!(
                "{symbol} matched in the reconciliation of {d}; nothing to acknowledge"
            )));
        }
        let path = self.path.clone();
        let e = |x: rusqlite::Error| StoreError::Db {
            path: path.clone(),
            message: x.to_string(),
        };
        let tx = self.conn.transaction().map_err(e)?;
        tx.execute(
            "INSERT OR REPLACE INTO acks (strategy, symbol, market_day, acked_utc) VALUES (?1, ?2, ?3, ?4)",
            params![strategy, symbol.as_str(), d.to_string(), now],
        )
        .map_err(e)?;
        if matches!(
            row.status,
            ReconStatus::QtyMismatch | ReconStatus::MissingInLedger | ReconStatus::MissingInBroker
        ) {
            tx.execute(
                "INSERT INTO positions (strategy, symbol, qty) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(strategy, symbol) DO UPDATE SET qty = excluded.qty",
                params![strategy, symbol.as_str(), row.broker_qty.to_string()],
            )
            .map_err(e)?;
        }
        tx.commit().map_err(e)?;
        Ok(row)
    }

    /// Records a reconciliation made outside a daily run (`systrade reconcile`).
    pub fn record_reconciliation(
        &mut self,
        strategy: &str,
        market_day: NaiveDate,
        rows: &[ReconRow],
        source: &str,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let e = |x: rusqlite::Error| StoreError::Db {
            path: path.clone(),
            message: x.to_string(),
        };
        let tx = self.conn.transaction().map_err(e)?;
        Writer {
            tx: &tx,
            run_id: source,
            path: &path,
        }
        .record_reconciliation(strategy, market_day, rows)?;
        tx.commit().map_err(e)
    }

    /// Decisions recorded for a market day.
    pub fn decisions(
        &self,
        strategy: &str,
        market_day: NaiveDate,
    ) -> Result<Vec<(Symbol, String, Vec<String>)>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT symbol, action, reasons FROM decisions WHERE strategy = ?1 AND market_day = ?2 \
                 ORDER BY symbol",
            )
            .map_err(self.err())?;
        let rows = st
            .query_map(params![strategy, market_day.to_string()], |r| {
                let reasons: String = r.get(2)?;
                Ok((
                    sym(r.get(0)?)?,
                    r.get::<_, String>(1)?,
                    serde_json::from_str(&reasons).unwrap_or_default(),
                ))
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Strategies the ledger knows.
    pub fn strategies(&self) -> Result<Vec<String>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT DISTINCT strategy FROM runs ORDER BY strategy")
            .map_err(self.err())?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Copies the ledger into a new file (a consistent snapshot, for dry runs).
    pub fn snapshot_to(&self, dest: &Path) -> Result<(), StoreError> {
        self.conn
            .execute("VACUUM INTO ?1", params![dest.to_string_lossy()])
            .map_err(self.err())?;
        Ok(())
    }
}

/// The writes of one step (inside its transaction).
pub struct Writer<'t> {
    tx: &'t Transaction<'t>,
    run_id: &'t str,
    path: &'t Path,
}

impl Writer<'_> {
    fn e(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |x| StoreError::Db {
            path: self.path.to_path_buf(),
            message: x.to_string(),
        }
    }

    pub fn run_id(&self) -> &str {
        self.run_id
    }

    pub fn save_day_book(
        &self,
        strategy: &str,
        market_day: NaiveDate,
        book: &str,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT OR IGNORE INTO day_books (strategy, market_day, book) VALUES (?1, ?2, ?3)",
                params![strategy, market_day.to_string(), book],
            )
            .map_err(self.e())?;
        Ok(())
    }

    pub fn record_decision(
        &self,
        strategy: &str,
        market_day: NaiveDate,
        d: &PortfolioDecision,
        enforced: bool,
    ) -> Result<(), StoreError> {
        let reasons: Vec<&str> = d.reasons.iter().map(|r| r.as_str()).collect();
        self.tx
            .execute(
                "INSERT OR REPLACE INTO decisions (strategy, market_day, symbol, action, reasons, \
                 enforced, run_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    strategy,
                    market_day.to_string(),
                    d.symbol.as_str(),
                    match d.action {
                        systrade_core::contracts::Action::Allow => "allow",
                        systrade_core::contracts::Action::Block => "block",
                    },
                    serde_json::to_string(&reasons).unwrap_or_default(),
                    enforced,
                    self.run_id
                ],
            )
            .map_err(self.e())?;
        Ok(())
    }

    /// Inserts an order or updates its broker-side fields; a status change is an event.
    pub fn upsert_order(&self, o: &LedgerOrder) -> Result<(), StoreError> {
        let before: Option<String> = self
            .tx
            .query_row(
                "SELECT status FROM orders WHERE client_order_id = ?1",
                params![o.client_order_id.0],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.e())?;
        if let Some(b) = &before {
            let from = OrderStatus::parse(b).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "table orders, row {}, column status: {b:?} is not an order status",
                    o.client_order_id
                ))
            })?;
            if !from.can_become(o.status) {
                return Err(StoreError::Transition {
                    id: o.client_order_id.0.clone(),
                    from,
                    to: o.status,
                });
            }
        }
        self.tx
            .execute(
                "INSERT INTO orders (client_order_id, strategy, market_day, symbol, side, kind, qty, \
                 stop_price, purpose, status, broker_order_id, filled_qty, avg_price, note, run_id, \
                 decision_price, approval, limit_price) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18) \
                 ON CONFLICT(client_order_id) DO UPDATE SET status = excluded.status, \
                 broker_order_id = COALESCE(excluded.broker_order_id, broker_order_id), \
                 filled_qty = excluded.filled_qty, avg_price = excluded.avg_price, \
                 note = COALESCE(excluded.note, note), \
                 decision_price = COALESCE(excluded.decision_price, decision_price), \
                 approval = excluded.approval",
                params![
                    o.client_order_id.0,
                    o.strategy,
                    o.market_day.to_string(),
                    o.symbol.as_str(),
                    side_str(o.side),
                    o.kind.as_str(),
                    o.qty.to_string(),
                    o.stop_price.map(|s| s.to_string()),
                    o.purpose.as_str(),
                    o.status.as_str(),
                    o.broker_order_id,
                    o.filled_qty.to_string(),
                    o.avg_price.map(|a| a.to_string()),
                    o.note,
                    self.run_id,
                    o.decision_price.map(|p| p.to_string()),
                    o.approval.map(Approval::as_str),
                    o.limit_price.map(|p| p.to_string())
                ],
            )
            .map_err(self.e())?;
        if before.as_deref() != Some(o.status.as_str()) {
            self.tx
                .execute(
                    "INSERT INTO order_events (client_order_id, status, note, run_id) VALUES (?1, ?2, ?3, ?4)",
                    params![o.client_order_id.0, o.status.as_str(), o.note, self.run_id],
                )
                .map_err(self.e())?;
        }
        Ok(())
    }

    /// Books a broker fill of `account` once (a fill id the account had before is ignored);
    /// returns whether it was new.
    pub fn book_fill(
        &self,
        strategy: &str,
        account: &str,
        f: &BrokerFill,
        purpose: Purpose,
    ) -> Result<bool, StoreError> {
        let n = self
            .tx
            .execute(
                "INSERT OR IGNORE INTO fills (account, fill_id, client_order_id, strategy, symbol, \
                 side, qty, price, fee, date, purpose) \
                 VALUES (?11, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    f.fill_id,
                    f.client_order_id.0,
                    strategy,
                    f.symbol.as_str(),
                    side_str(f.side),
                    f.qty.to_string(),
                    f.price.to_string(),
                    f.fee.to_string(),
                    f.date.to_string(),
                    purpose.as_str(),
                    account
                ],
            )
            .map_err(self.e())?;
        if n == 0 {
            return Ok(false);
        }
        let held: Decimal = self
            .tx
            .query_row(
                "SELECT symbol, qty FROM positions WHERE strategy = ?1 AND symbol = ?2",
                params![strategy, f.symbol.as_str()],
                |r| r.dec("positions", 1),
            )
            .optional()
            .map_err(self.e())?
            .unwrap_or(Decimal::ZERO);
        let signed = if f.side == Side::Buy { f.qty } else { -f.qty };
        self.tx
            .execute(
                "INSERT INTO positions (strategy, symbol, qty) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(strategy, symbol) DO UPDATE SET qty = excluded.qty",
                params![strategy, f.symbol.as_str(), (held + signed).to_string()],
            )
            .map_err(self.e())?;
        self.move_cash(strategy, cash::cash_effect(f.side, f.qty, f.price, f.fee))?;
        Ok(true)
    }

    pub fn set_stop(
        &self,
        strategy: &str,
        symbol: &Symbol,
        stop: Option<&StopRow>,
    ) -> Result<(), StoreError> {
        match stop {
            Some(s) => self.tx.execute(
                "INSERT INTO stops (strategy, symbol, level, qty, client_order_id, market_day) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(strategy, symbol) DO UPDATE SET \
                 level = excluded.level, qty = excluded.qty, client_order_id = excluded.client_order_id, \
                 market_day = excluded.market_day",
                params![
                    strategy,
                    symbol.as_str(),
                    s.level.to_string(),
                    s.qty.to_string(),
                    s.client_order_id.0,
                    s.market_day.to_string()
                ],
            ),
            None => self.tx.execute(
                "DELETE FROM stops WHERE strategy = ?1 AND symbol = ?2",
                params![strategy, symbol.as_str()],
            ),
        }
        .map_err(self.e())?;
        Ok(())
    }

    /// Forgets the stop in force when it is this order (it fired, expired or was canceled).
    pub fn clear_stop_order(&self, strategy: &str, id: &ClientOrderId) -> Result<(), StoreError> {
        self.tx
            .execute(
                "DELETE FROM stops WHERE strategy = ?1 AND client_order_id = ?2",
                params![strategy, id.0],
            )
            .map_err(self.e())?;
        Ok(())
    }

    /// Records the cohort books of a formation (kept: the first record of a month stays).
    pub fn save_formation(
        &self,
        strategy: &str,
        month: &str,
        formation_date: NaiveDate,
        state: &str,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT OR IGNORE INTO formations (strategy, month, formation_date, state) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![strategy, month, formation_date.to_string(), state],
            )
            .map_err(self.e())?;
        Ok(())
    }

    /// Replaces the strategy's carried state.
    pub fn save_carried(&self, strategy: &str, s: &CarriedState) -> Result<(), StoreError> {
        self.tx
            .execute(
                "DELETE FROM strategy_state WHERE strategy = ?1",
                params![strategy],
            )
            .map_err(self.e())?;
        for (sym, (stop, cd)) in &s.tickers {
            if stop.is_none() && *cd == 0 {
                continue;
            }
            self.tx
                .execute(
                    "INSERT INTO strategy_state (strategy, symbol, stop, cooldown_left) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        strategy,
                        sym.as_str(),
                        stop.map(systrade_core::json::shortest),
                        i64::from(*cd)
                    ],
                )
                .map_err(self.e())?;
        }
        self.tx
            .execute(
                "INSERT INTO strategy_meta (strategy, last_decided) VALUES (?1, ?2) \
                 ON CONFLICT(strategy) DO UPDATE SET last_decided = excluded.last_decided",
                params![strategy, s.last_decided.map(|d| d.to_string())],
            )
            .map_err(self.e())?;
        Ok(())
    }

    pub fn record_equity(
        &self,
        strategy: &str,
        market_day: NaiveDate,
        equity: Decimal,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO equity (strategy, market_day, equity) VALUES (?1, ?2, ?3)",
                params![strategy, market_day.to_string(), equity.to_string()],
            )
            .map_err(self.e())?;
        Ok(())
    }

    pub fn record_reconciliation(
        &self,
        strategy: &str,
        market_day: NaiveDate,
        rows: &[ReconRow],
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "DELETE FROM reconciliation WHERE strategy = ?1 AND market_day = ?2",
                params![strategy, market_day.to_string()],
            )
            .map_err(self.e())?;
        for r in rows {
            self.tx
                .execute(
                    "INSERT INTO reconciliation (strategy, market_day, symbol, status, broker_qty, \
                     ledger_qty, stops, run_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        strategy,
                        market_day.to_string(),
                        r.symbol.as_str(),
                        r.status.as_str(),
                        r.broker_qty.to_string(),
                        r.ledger_qty.to_string(),
                        r.stops as i64,
                        self.run_id
                    ],
                )
                .map_err(self.e())?;
        }
        Ok(())
    }

    pub fn mark_done(&self, strategy: &str, market_day: NaiveDate) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO done (strategy, market_day, run_id) VALUES (?1, ?2, ?3)",
                params![strategy, market_day.to_string(), self.run_id],
            )
            .map_err(self.e())?;
        Ok(())
    }
}
