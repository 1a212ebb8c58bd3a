//! The paper broker: a simulated account persisted in its own SQLite file.
//!
//! Its clock is the session a caller works in. Bars dated before that session are history:
//! opening the broker replays them (market orders fill at the open of their session's bar,
//! protective stops trigger inside later bars, unfilled day orders expire). Of the current
//! session's bar only the open is used — orders submitted now fill at it when the data has
//! it, and wait for it otherwise. Fills go through the backtest's fill model
//! ([`CostModel::fill_price`], [`CostModel::affordable`], [`CostModel::fee`], [`stop_trigger`]),
//! so a paper account and a backtest on the same data trade at the same prices.
//!
//! Like Coinbase and Alpaca, open sell orders (stops included) reserve quantity: a sell
//! larger than what is not reserved is rejected.
//!
//! With a [`Tape`] (the session's one-minute bars and an instant inside it) the clock has a
//! time of day: an order placed or replaced works from that instant, stops trigger on the
//! first one-minute bar at or after it that reaches them (filling at the stop, or at that
//! bar's open when it opened through it), and each minute is replayed once — an intraday
//! execution cycle sees the account a venue would show at that instant.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use rust_decimal::Decimal;
use systrade_backtest::{CostModel, dec, f, stop_trigger};
use systrade_core::contracts::{ClientOrderId, Side};
use systrade_core::{DailyBar, IntradayBar, Symbol};

use crate::faults::{FaultKind, Faults};
use crate::types::{
    Account, BrokerFill, BrokerOrder, OrderRequest, OrderStatus, OrderType, Position, Preview,
    TimeInForce,
};
use crate::{Broker, BrokerError};

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// The `kill` fault: the broker has carried the call out; the caller dies before the answer.
fn killed_after(fault: Option<&FaultKind>) {
    if fault == Some(&FaultKind::Kill) {
        eprintln!("fault hook: the process is killed after the broker carried the call out");
        std::process::abort();
    }
}

/// Copies a paper account's file into `dest` (a consistent snapshot, for dry runs).
pub fn snapshot(path: &Path, dest: &Path) -> Result<(), BrokerError> {
    let conn = Connection::open(path).map_err(|e| bad_state(path, e))?;
    conn.execute("VACUUM INTO ?1", params![dest.to_string_lossy()])
        .map_err(|e| bad_state(path, e))?;
    Ok(())
}

/// Opens the paper account in `path` at `session` as a venue like any other (see
/// [`PaperBroker::open`]).
pub fn connect<'a>(
    path: &Path,
    cfg: PaperConfig,
    data: &'a BTreeMap<Symbol, Vec<DailyBar>>,
    session: NaiveDate,
    faults: Faults,
) -> Result<Box<dyn Broker + 'a>, BrokerError> {
    connect_at(path, cfg, data, session, faults, None)
}

/// [`connect`] with the clock inside the session ([`PaperBroker::open_at`]).
pub fn connect_at<'a>(
    path: &Path,
    cfg: PaperConfig,
    data: &'a BTreeMap<Symbol, Vec<DailyBar>>,
    session: NaiveDate,
    faults: Faults,
    tape: Option<Tape<'a>>,
) -> Result<Box<dyn Broker + 'a>, BrokerError> {
    Ok(Box::new(PaperBroker::open_at(
        path, cfg, data, session, faults, tape,
    )?))
}

/// The session a paper account's clock is at and its cash, as stored (`None`: no account
/// in `path`).
pub fn stored(path: &Path) -> Result<Option<(NaiveDate, Decimal)>, BrokerError> {
    if !path.exists() {
        return Ok(None);
    }
    let conn = Connection::open(path).map_err(|e| bad_state(path, e))?;
    let s: Option<(Option<String>, String)> = conn
        .query_row("SELECT session, cash FROM account", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(|e| bad_state(path, e))?;
    Ok(s.map(|(d, c)| (d.map(|d| day(&d)).unwrap_or(NaiveDate::MIN), num(&c))))
}

/// How a new paper account starts and what its fills cost.
#[derive(Debug, Clone, PartialEq)]
pub struct PaperConfig {
    pub account_id: String,
    pub currency: String,
    /// Cash of a new account (an existing file keeps its own).
    pub initial_cash: Decimal,
    pub costs: CostModel,
    /// Market orders fill in whole multiples of this many units (`None`: any quantity).
    pub lot: Option<Decimal>,
    /// Sells beyond the long quantity open short positions (a margin account).
    pub shorting: bool,
    /// Gross exposure the account may carry, as a multiple of its equity (1: a cash account,
    /// whose buys never spend more than its cash).
    pub margin: Decimal,
    /// A limit order worked on the tape (placed while the clock is inside a session with its
    /// one-minute bars) fills at most this share of each minute's volume (`None`: all of it
    /// in the first minute that reaches its limit).
    pub tape_volume_share: Option<Decimal>,
}

/// One-minute bars of the regular session per symbol and session date.
pub type Minutes = BTreeMap<Symbol, BTreeMap<NaiveDate, Vec<IntradayBar>>>;

/// The account's clock inside a session: `now`, and the one-minute bars the venue traded.
#[derive(Clone, Copy)]
pub struct Tape<'a> {
    pub now: DateTime<Utc>,
    pub minutes: &'a Minutes,
}

/// A paper account over `data` at `session`.
pub struct PaperBroker<'a> {
    conn: Connection,
    path: PathBuf,
    cfg: PaperConfig,
    data: &'a BTreeMap<Symbol, Vec<DailyBar>>,
    session: NaiveDate,
    faults: Faults,
    tape: Option<Tape<'a>>,
}

/// One minute of the tape as a bar of its session (what fills and triggers read).
fn minute_bar(date: NaiveDate, m: &IntradayBar) -> DailyBar {
    DailyBar {
        ts: date,
        open: m.open,
        high: m.high,
        low: m.low,
        close: m.close,
        volume: m.volume,
    }
}

fn instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn instant_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn side_str(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn parse_side(s: &str) -> Side {
    if s == "buy" { Side::Buy } else { Side::Sell }
}

fn bad_state(path: &Path, what: impl std::fmt::Display) -> BrokerError {
    BrokerError::Storage {
        path: path.display().to_string(),
        message: what.to_string(),
    }
}

fn num(s: &str) -> Decimal {
    s.parse().unwrap_or(Decimal::ZERO)
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap_or(NaiveDate::MIN)
}

const ORDER_COLS: &str = "client_order_id, seq, symbol, side, qty, stop_price, session, status, \
     filled_qty, avg_price, reason, limit_price, tif";

fn order_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BrokerOrder> {
    let stop: Option<String> = r.get(5)?;
    let limit: Option<String> = r.get(11)?;
    let tif: String = r.get(12)?;
    let status: String = r.get(7)?;
    let avg: Option<String> = r.get(9)?;
    Ok(BrokerOrder {
        client_order_id: ClientOrderId(r.get(0)?),
        broker_id: format!("paper-{}", r.get::<_, i64>(1)?),
        symbol: Symbol::new(r.get::<_, String>(2)?).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e.into())
        })?,
        side: parse_side(&r.get::<_, String>(3)?),
        qty: num(&r.get::<_, String>(4)?),
        order_type: OrderType::of(stop.map(|s| num(&s)), limit.map(|l| num(&l))),
        tif: TimeInForce::parse(&tif).unwrap_or_default(),
        session: day(&r.get::<_, String>(6)?),
        status: OrderStatus::parse(&status).unwrap_or(OrderStatus::Rejected),
        filled_qty: num(&r.get::<_, String>(8)?),
        avg_price: avg.map(|a| num(&a)),
        reason: r.get(10)?,
    })
}

/// What a fill changes, applied in one transaction.
struct Exec<'o> {
    order: &'o BrokerOrder,
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
    date: NaiveDate,
}

impl<'a> PaperBroker<'a> {
    /// Opens (creating when missing) the account in `path`, sets its clock to `session` and
    /// replays the bars before it.
    pub fn open(
        path: &Path,
        cfg: PaperConfig,
        data: &'a BTreeMap<Symbol, Vec<DailyBar>>,
        session: NaiveDate,
        faults: Faults,
    ) -> Result<Self, BrokerError> {
        Self::open_at(path, cfg, data, session, faults, None)
    }

    /// [`PaperBroker::open`] with the clock inside `session` at `tape.now`: the session's
    /// one-minute bars since the last replay (never before it) are replayed against the
    /// working stops. The clock never goes back.
    pub fn open_at(
        path: &Path,
        cfg: PaperConfig,
        data: &'a BTreeMap<Symbol, Vec<DailyBar>>,
        session: NaiveDate,
        faults: Faults,
        tape: Option<Tape<'a>>,
    ) -> Result<Self, BrokerError> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| bad_state(path, e))?;
        }
        let mut conn = Connection::open(path).map_err(|e| bad_state(path, e))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
             PRAGMA busy_timeout = 5000;",
        )
        .map_err(|e| bad_state(path, e))?;
        embedded::migrations::runner()
            // One transaction for every pending migration and its history row: a process killed
            // half-way leaves the file as it was, never a change applied but not recorded.
            .set_grouped(true)
            .run(&mut conn)
            .map_err(|e| bad_state(path, e))?;
        let existing: Option<(String, Option<String>)> = conn
            .query_row("SELECT id, session FROM account", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(|e| bad_state(path, e))?;
        match existing {
            None => {
                if cfg.initial_cash < Decimal::ZERO {
                    return Err(BrokerError::Invalid(format!(
                        "a paper account cannot start with negative cash {}",
                        cfg.initial_cash
                    )));
                }
                conn.execute(
                    "INSERT INTO account (id, currency, cash, synced_through, session) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        cfg.account_id,
                        cfg.currency,
                        cfg.initial_cash.to_string(),
                        session.pred_opt().map(|d| d.to_string()),
                        session.to_string()
                    ],
                )
                .map_err(|e| bad_state(path, e))?;
            }
            Some((id, clock)) => {
                if id != cfg.account_id {
                    return Err(bad_state(
                        path,
                        format!("holds paper account {id:?}, not {:?}", cfg.account_id),
                    ));
                }
                if let Some(c) = clock.map(|c| day(&c))
                    && c > session
                {
                    return Err(BrokerError::Invalid(format!(
                        "the paper account's clock is at session {c}; it cannot go back to {session}"
                    )));
                }
                conn.execute(
                    "UPDATE account SET session = ?1",
                    params![session.to_string()],
                )
                .map_err(|e| bad_state(path, e))?;
            }
        }
        let mut b = PaperBroker {
            conn,
            path: path.to_path_buf(),
            cfg,
            data,
            session,
            faults,
            tape,
        };
        b.sync()?;
        Ok(b)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn session(&self) -> NaiveDate {
        self.session
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> BrokerError + '_ {
        move |e| bad_state(&self.path, e)
    }

    fn bar(&self, symbol: &Symbol, date: NaiveDate) -> Option<DailyBar> {
        let bars = self.data.get(symbol)?;
        bars.binary_search_by(|b| b.ts.cmp(&date))
            .ok()
            .map(|i| bars[i])
    }

    fn last_close_before(&self, symbol: &Symbol, date: NaiveDate) -> Option<f64> {
        let bars = self.data.get(symbol)?;
        let i = bars.partition_point(|b| b.ts < date);
        i.checked_sub(1).map(|k| bars[k].close)
    }

    fn inject(
        &mut self,
        op: &str,
        symbol: Option<&Symbol>,
    ) -> Result<Option<FaultKind>, BrokerError> {
        match self.faults.hit(op, symbol) {
            Some(FaultKind::RateLimited) => Err(BrokerError::RateLimited),
            Some(FaultKind::Server(status)) => Err(BrokerError::Server {
                status,
                message: "injected server error".into(),
            }),
            Some(FaultKind::Timeout) if op != "submit" => Err(BrokerError::Timeout),
            // A read killed on its way: the process dies before asking.
            Some(FaultKind::Kill) if !matches!(op, "submit" | "cancel" | "replace") => {
                killed_after(Some(&FaultKind::Kill));
                Ok(None)
            }
            other => Ok(other),
        }
    }

    fn orders_where(
        tx: &Connection,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> rusqlite::Result<Vec<BrokerOrder>> {
        let sql = format!("SELECT {ORDER_COLS} FROM orders WHERE {filter} ORDER BY seq");
        let mut st = tx.prepare(&sql)?;
        let rows = st.query_map(args, order_from_row)?;
        rows.collect()
    }

    fn held(tx: &Connection, symbol: &Symbol) -> rusqlite::Result<Decimal> {
        Ok(tx
            .query_row(
                "SELECT qty FROM positions WHERE symbol = ?1",
                params![symbol.as_str()],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .map(|q| num(&q))
            .unwrap_or(Decimal::ZERO))
    }

    fn cash(tx: &Connection) -> rusqlite::Result<Decimal> {
        tx.query_row("SELECT cash FROM account", [], |r| r.get::<_, String>(0))
            .map(|c| num(&c))
    }

    /// What new exposure may still be bought or shorted on `date`: the cash of a cash account,
    /// else `margin × equity − gross`, both marked at the last closes before `date`.
    fn buying_power(&self, tx: &Connection, date: NaiveDate) -> rusqlite::Result<Decimal> {
        let cash = Self::cash(tx)?;
        if !self.cfg.shorting && self.cfg.margin == Decimal::ONE {
            return Ok(cash);
        }
        let mut st = tx.prepare("SELECT symbol, qty, cost FROM positions")?;
        let rows: Vec<(String, String, String)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let (mut equity, mut gross) = (cash, Decimal::ZERO);
        for (sym, qty, cost) in rows {
            let qty = num(&qty);
            let px = Symbol::new(sym)
                .ok()
                .and_then(|s| self.last_close_before(&s, date))
                .map(dec)
                .unwrap_or_else(|| {
                    if qty.is_zero() {
                        Decimal::ZERO
                    } else {
                        num(&cost) / qty
                    }
                });
            equity += qty * px;
            gross += (qty * px).abs();
        }
        Ok((self.cfg.margin * equity - gross).max(Decimal::ZERO))
    }

    /// Units of `symbol` held but not reserved by open sell orders (other than `except`).
    fn available(
        tx: &Connection,
        symbol: &Symbol,
        except: &[ClientOrderId],
    ) -> rusqlite::Result<Decimal> {
        let held = Self::held(tx, symbol)?;
        let open = Self::orders_where(
            tx,
            "symbol = ?1 AND side = 'sell' AND status IN ('accepted', 'partially_filled')",
            &[&symbol.as_str()],
        )?;
        let reserved: Decimal = open
            .iter()
            .filter(|o| !except.contains(&o.client_order_id))
            .map(BrokerOrder::remaining)
            .sum();
        Ok(held.max(Decimal::ZERO) - reserved)
    }

    /// Why the broker would refuse `req` now (`None`: it takes it).
    fn refusal(
        &self,
        tx: &Connection,
        req: &OrderRequest,
        except: &[ClientOrderId],
    ) -> rusqlite::Result<Option<String>> {
        if req.qty <= Decimal::ZERO {
            return Ok(Some(format!("qty must be positive, got {}", req.qty)));
        }
        if !self.data.contains_key(&req.symbol) {
            return Ok(Some(format!("unknown symbol {}", req.symbol)));
        }
        if let Some(stop) = req.order_type.stop_price()
            && stop <= Decimal::ZERO
        {
            return Ok(Some(format!("stop price must be positive, got {stop}")));
        }
        if let Some(limit) = req.order_type.limit_price()
            && limit <= Decimal::ZERO
        {
            return Ok(Some(format!("limit price must be positive, got {limit}")));
        }
        if req.side == Side::Sell {
            let available = Self::available(tx, &req.symbol, except)?;
            let long = Self::held(tx, &req.symbol)?.max(Decimal::ZERO);
            // A margin account may sell short, but never the units a stop reserves.
            let refused = if self.cfg.shorting {
                available < long && req.qty > available
            } else {
                req.qty > available
            };
            if refused {
                // The venues' wording (Alpaca 403 40310000).
                return Ok(Some(format!(
                    "insufficient qty available for order (requested: {}, available: {})",
                    req.qty.normalize(),
                    available.normalize()
                )));
            }
        }
        Ok(None)
    }

    fn insert(
        &self,
        tx: &Transaction<'_>,
        req: &OrderRequest,
        status: OrderStatus,
        reason: Option<&str>,
        partial: Option<Decimal>,
    ) -> rusqlite::Result<()> {
        tx.execute(
            "INSERT INTO orders (client_order_id, symbol, side, qty, stop_price, session, status, \
             reason, partial, limit_price, tif, active_from) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                req.client_order_id.0,
                req.symbol.as_str(),
                side_str(req.side),
                req.qty.to_string(),
                req.order_type.stop_price().map(|s| s.to_string()),
                req.session.to_string(),
                status.as_str(),
                reason,
                partial.map(|p| p.to_string()),
                req.order_type.limit_price().map(|l| l.to_string()),
                req.tif.as_str(),
                self.tape.map(|t| instant_text(t.now)),
            ],
        )?;
        Ok(())
    }

    fn get(tx: &Connection, id: &ClientOrderId) -> rusqlite::Result<Option<BrokerOrder>> {
        Ok(Self::orders_where(tx, "client_order_id = ?1", &[&id.0])?
            .into_iter()
            .next())
    }

    fn set_status(
        tx: &Connection,
        id: &ClientOrderId,
        status: OrderStatus,
        reason: Option<&str>,
    ) -> rusqlite::Result<()> {
        tx.execute(
            "UPDATE orders SET status = ?2, reason = COALESCE(?3, reason) WHERE client_order_id = ?1",
            params![id.0, status.as_str(), reason],
        )?;
        Ok(())
    }

    /// Books one execution: the fill, the order's progress, cash and the position.
    fn execute(tx: &Transaction<'_>, x: Exec<'_>) -> rusqlite::Result<()> {
        let o = x.order;
        let signed = if o.side == Side::Buy { x.qty } else { -x.qty };
        tx.execute(
            "INSERT INTO fills (client_order_id, symbol, side, qty, price, fee, date) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                o.client_order_id.0,
                o.symbol.as_str(),
                side_str(o.side),
                x.qty.to_string(),
                x.price.to_string(),
                x.fee.to_string(),
                x.date.to_string()
            ],
        )?;
        let filled = o.filled_qty + x.qty;
        let avg = match o.avg_price {
            Some(a) if !o.filled_qty.is_zero() => (a * o.filled_qty + x.price * x.qty) / filled,
            _ => x.price,
        };
        let status = if filled >= o.qty {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        };
        tx.execute(
            "UPDATE orders SET filled_qty = ?2, avg_price = ?3, status = ?4 WHERE client_order_id = ?1",
            params![
                o.client_order_id.0,
                filled.to_string(),
                avg.to_string(),
                status.as_str()
            ],
        )?;
        // The simulated broker's own arithmetic, so the books agree to the last digit.
        let cash = Self::cash(tx)? - (signed * x.price + x.fee);
        tx.execute("UPDATE account SET cash = ?1", params![cash.to_string()])?;
        let held = Self::held(tx, &o.symbol)?;
        let cost: Decimal = tx
            .query_row(
                "SELECT cost FROM positions WHERE symbol = ?1",
                params![o.symbol.as_str()],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .map(|c| num(&c))
            .unwrap_or(Decimal::ZERO);
        let new = held + signed;
        let new_cost = if new.is_zero() {
            Decimal::ZERO
        } else if held.is_zero() || (held > Decimal::ZERO) == (signed > Decimal::ZERO) {
            cost + signed * x.price
        } else if (new > Decimal::ZERO) == (held > Decimal::ZERO) {
            // A reduction keeps the average price of what is left.
            cost * new / held
        } else {
            new * x.price
        };
        if new.is_zero() {
            tx.execute(
                "DELETE FROM positions WHERE symbol = ?1",
                params![o.symbol.as_str()],
            )?;
        } else {
            tx.execute(
                "INSERT INTO positions (symbol, qty, cost) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(symbol) DO UPDATE SET qty = excluded.qty, cost = excluded.cost",
                params![o.symbol.as_str(), new.to_string(), new_cost.to_string()],
            )?;
        }
        Ok(())
    }

    /// A market order's one try at the open of `bar` (dated `date`).
    fn fill_at_open(
        &self,
        tx: &Transaction<'_>,
        o: &BrokerOrder,
        bar: &DailyBar,
        date: NaiveDate,
    ) -> rusqlite::Result<()> {
        Self::tried(tx, o, date)?;
        self.fill_at(tx, o, dec(bar.open), bar, date)
    }

    /// Records the session of an order's first try (day and IOC orders expire after it).
    fn tried(tx: &Transaction<'_>, o: &BrokerOrder, date: NaiveDate) -> rusqlite::Result<()> {
        tx.execute(
            "UPDATE orders SET tried_on = COALESCE(tried_on, ?2) WHERE client_order_id = ?1",
            params![o.client_order_id.0, date.to_string()],
        )?;
        Ok(())
    }

    /// Fills what it can of `o` at `raw` (before slippage; a limit order never fills worse
    /// than its limit) inside `bar`: buying power, the long quantity, lots and injected
    /// partial fills bound the quantity.
    fn fill_at(
        &self,
        tx: &Transaction<'_>,
        o: &BrokerOrder,
        raw: Decimal,
        bar: &DailyBar,
        date: NaiveDate,
    ) -> rusqlite::Result<()> {
        self.fill_upto(tx, o, raw, bar, date, o.remaining())
    }

    /// [`PaperBroker::fill_at`] of at most `most` units (what one minute of the tape offers).
    fn fill_upto(
        &self,
        tx: &Transaction<'_>,
        o: &BrokerOrder,
        raw: Decimal,
        bar: &DailyBar,
        date: NaiveDate,
        most: Decimal,
    ) -> rusqlite::Result<()> {
        let costs = self.cfg.costs;
        let side: i8 = if o.side == Side::Buy { 1 } else { -1 };
        let mut price = costs.fill_price(raw, side, 0.0, bar);
        if let Some(limit) = o.order_type.limit_price() {
            price = if o.side == Side::Buy {
                price.min(limit)
            } else {
                price.max(limit)
            };
        }
        let mut qty = o.remaining().min(most);
        let mut short_of = None;
        let held = Self::held(tx, &o.symbol)?;
        if o.side == Side::Buy {
            // Covering a short frees exposure; only the rest needs buying power.
            let cover = qty.min((-held).max(Decimal::ZERO));
            let rest = qty - cover;
            let can = costs.affordable(rest, price, self.buying_power(tx, date)?);
            if can < rest {
                short_of = Some("insufficient buying power for the rest");
            }
            qty = cover + can;
        } else {
            let long = held.max(Decimal::ZERO);
            if qty > long {
                if self.cfg.shorting {
                    let short = qty - long;
                    let can = costs.affordable(short, price, self.buying_power(tx, date)?);
                    if can < short {
                        short_of = Some("insufficient buying power to sell short");
                    }
                    qty = long + can;
                } else {
                    short_of = Some("account is not allowed to short");
                    qty = long;
                }
            }
        }
        let partial: Option<String> = tx.query_row(
            "SELECT partial FROM orders WHERE client_order_id = ?1",
            params![o.client_order_id.0],
            |r| r.get(0),
        )?;
        if let Some(frac) = partial.map(|p| num(&p)) {
            qty = (qty * frac).round_dp_with_strategy(8, rust_decimal::RoundingStrategy::ToZero);
        }
        // The simulated broker's lot rule: whole lots, rounded toward zero.
        if let Some(lot) = self.cfg.lot.filter(|l| *l > Decimal::ZERO) {
            qty = (qty / lot).trunc() * lot;
        }
        if qty <= Decimal::ZERO {
            // An order that already filled in part is not rejected after the fact: its rest
            // is canceled, the fills stand.
            let status = if o.filled_qty > Decimal::ZERO {
                OrderStatus::Canceled
            } else {
                OrderStatus::Rejected
            };
            return Self::set_status(
                tx,
                &o.client_order_id,
                status,
                Some(short_of.unwrap_or("nothing to fill")),
            );
        }
        let fee = costs.fee(qty, price);
        Self::execute(
            tx,
            Exec {
                order: o,
                qty,
                price,
                fee,
                date,
            },
        )?;
        if let Some(why) = short_of {
            tx.execute(
                "UPDATE orders SET reason = ?2 WHERE client_order_id = ?1",
                params![o.client_order_id.0, why],
            )?;
        }
        Ok(())
    }

    /// Market orders of `date` fill at its open (sells first: their cash pays the buys, as in
    /// the backtest); when the bar is complete, stops trigger inside it and day orders that
    /// had their try expire.
    fn process(
        &self,
        tx: &Transaction<'_>,
        date: NaiveDate,
        complete: bool,
    ) -> rusqlite::Result<()> {
        let mut due = Self::orders_where(
            tx,
            "stop_price IS NULL AND limit_price IS NULL \
             AND status IN ('accepted', 'partially_filled') AND tried_on IS NULL AND session <= ?1",
            &[&date.to_string()],
        )?;
        due.sort_by_key(|o| o.side == Side::Buy);
        for o in &due {
            if let Some(bar) = self.bar(&o.symbol, date) {
                self.fill_at_open(tx, o, &bar, date)?;
            }
        }
        self.work_limits(tx, date, complete)?;
        if !complete {
            return Self::expire_ioc(tx);
        }
        let through = self.tape_through_in(tx)?;
        self.trigger_stops(tx, date, None, through)?;
        self.trigger_stop_limits(tx, date)?;
        tx.execute(
            "UPDATE orders SET status = 'expired', \
             reason = COALESCE(reason, 'day order: the unfilled rest expired with the session') \
             WHERE tif != 'gtc' AND status IN ('accepted', 'partially_filled') \
             AND tried_on IS NOT NULL AND tried_on <= ?1",
            params![date.to_string()],
        )?;
        Self::expire_ioc(tx)
    }

    fn tape_through_in(&self, tx: &Connection) -> rusqlite::Result<Option<DateTime<Utc>>> {
        Ok(tx
            .query_row("SELECT tape_through FROM account", [], |r| {
                r.get::<_, Option<String>>(0)
            })?
            .and_then(|t| instant(&t)))
    }

    /// Where a working stop triggers on `date`: on the tape when the session's one-minute
    /// bars are known (from the instant the order works and after the minutes already
    /// replayed, through `until` — `None`: the whole session), else in the complete daily
    /// bar. Returns the trigger price and the bar it filled in.
    fn stop_hit(
        &self,
        tx: &Connection,
        o: &BrokerOrder,
        date: NaiveDate,
        until: Option<DateTime<Utc>>,
        replayed: Option<DateTime<Utc>>,
    ) -> rusqlite::Result<Option<(f64, DailyBar)>> {
        let Some(level) = o.order_type.stop_price().map(f) else {
            return Ok(None);
        };
        let long = o.side == Side::Sell;
        let tape = self
            .tape
            .and_then(|t| t.minutes.get(&o.symbol))
            .and_then(|d| d.get(&date));
        if let Some(minutes) = tape {
            let active: Option<String> = tx.query_row(
                "SELECT active_from FROM orders WHERE client_order_id = ?1",
                params![o.client_order_id.0],
                |r| r.get(0),
            )?;
            let from = active.and_then(|a| instant(&a)).max(replayed);
            for m in minutes {
                if from.is_some_and(|t| m.ts < t) {
                    continue;
                }
                if until.is_some_and(|u| m.ts + Duration::minutes(1) > u) {
                    break;
                }
                let bar = minute_bar(date, m);
                if let Some(t) = stop_trigger(level, long, &bar) {
                    return Ok(Some((t, bar)));
                }
            }
            return Ok(None);
        }
        if until.is_some() {
            // Inside a session without its tape: the daily bar is not complete yet.
            return Ok(None);
        }
        Ok(self
            .bar(&o.symbol, date)
            .and_then(|bar| stop_trigger(level, long, &bar).map(|t| (t, bar))))
    }

    /// Working stops that trigger on `date` (through `until` inside the session) fill.
    fn trigger_stops(
        &self,
        tx: &Transaction<'_>,
        date: NaiveDate,
        until: Option<DateTime<Utc>>,
        replayed: Option<DateTime<Utc>>,
    ) -> rusqlite::Result<()> {
        let stops = Self::orders_where(
            tx,
            "stop_price IS NOT NULL AND limit_price IS NULL \
             AND status IN ('accepted', 'partially_filled') AND session <= ?1",
            &[&date.to_string()],
        )?;
        for o in &stops {
            let Some((trigger, bar)) = self.stop_hit(tx, o, date, until, replayed)? else {
                continue;
            };
            let held = Self::held(tx, &o.symbol)?;
            let long = o.side == Side::Sell;
            let qty = o.remaining().min(held.abs());
            if qty.is_zero() || (long && held <= Decimal::ZERO) {
                Self::set_status(
                    tx,
                    &o.client_order_id,
                    OrderStatus::Canceled,
                    Some("triggered with nothing left to protect"),
                )?;
                continue;
            }
            let side: i8 = if long { -1 } else { 1 };
            let price = self.cfg.costs.fill_price(dec(trigger), side, 0.0, &bar);
            let fee = self.cfg.costs.fee(qty, price);
            Self::execute(
                tx,
                Exec {
                    order: o,
                    qty,
                    price,
                    fee,
                    date,
                },
            )?;
            if qty < o.remaining() {
                Self::set_status(
                    tx,
                    &o.client_order_id,
                    OrderStatus::Filled,
                    Some("triggered; sold the whole position"),
                )?;
            }
        }
        Ok(())
    }

    /// An immediate-or-cancel order keeps nothing after its try.
    fn expire_ioc(tx: &Transaction<'_>) -> rusqlite::Result<()> {
        tx.execute(
            "UPDATE orders SET status = 'expired', \
             reason = COALESCE(reason, 'immediate or cancel: the unfilled rest was canceled') \
             WHERE tif = 'ioc' AND status IN ('accepted', 'partially_filled') \
             AND tried_on IS NOT NULL",
            [],
        )?;
        Ok(())
    }

    /// Working limit orders (and stop-limits already triggered) at `date`: with only the
    /// open known (`complete = false`), those the open reaches fill at it; in a complete bar,
    /// those the bar trades through fill at the open or their limit, whichever is better.
    fn work_limits(
        &self,
        tx: &Transaction<'_>,
        date: NaiveDate,
        complete: bool,
    ) -> rusqlite::Result<()> {
        let mut working = Self::orders_where(
            tx,
            "limit_price IS NOT NULL AND (stop_price IS NULL OR triggered = 1) \
             AND status IN ('accepted', 'partially_filled') AND session <= ?1 \
             AND (tried_on IS NULL OR tried_on = ?1 OR tif = 'gtc')",
            &[&date.to_string()],
        )?;
        working.sort_by_key(|o| o.side == Side::Buy);
        for o in &working {
            // Placed inside this session: worked on its tape, never against the open or the
            // whole bar, which it may not have seen.
            if o.order_type.stop_price().is_none() && self.placed_inside(tx, o, date)?.is_some() {
                if complete {
                    let replayed = self.tape_through_in(tx)?;
                    self.work_tape_limit(tx, o, date, None, replayed)?;
                }
                continue;
            }
            self.try_limit(tx, o, date, complete)?;
        }
        Ok(())
    }

    /// The session's one-minute bars of `symbol`, when the account's tape has them.
    fn minutes(&self, symbol: &Symbol, date: NaiveDate) -> Option<&'a [IntradayBar]> {
        self.tape
            .and_then(|t| t.minutes.get(symbol))
            .and_then(|d| d.get(&date))
            .map(Vec::as_slice)
    }

    /// When `o` was placed inside `date`'s session on its tape — after the session's first
    /// minute started — (its `active_from`), else `None` (placed before the session, without
    /// a clock, or for a symbol whose minutes the tape lacks: worked on the daily bar).
    fn placed_inside(
        &self,
        tx: &Connection,
        o: &BrokerOrder,
        date: NaiveDate,
    ) -> rusqlite::Result<Option<DateTime<Utc>>> {
        if o.session != date {
            return Ok(None);
        }
        let active: Option<String> = tx.query_row(
            "SELECT active_from FROM orders WHERE client_order_id = ?1",
            params![o.client_order_id.0],
            |r| r.get(0),
        )?;
        let Some(at) = active.and_then(|a| instant(&a)) else {
            return Ok(None);
        };
        let first = self
            .minutes(&o.symbol, date)
            .and_then(|m| m.first())
            .map(|m| m.ts);
        Ok(first.filter(|open| at > *open).map(|_| at))
    }

    /// A limit order placed inside the session, worked minute by minute on the tape from the
    /// instant it was placed (and after the minutes already replayed) through `until`
    /// (`None`: the whole session): a minute that trades through the limit fills at the
    /// minute's open or the limit, whichever is better, at most
    /// [`PaperConfig::tape_volume_share`] of the minute's volume.
    fn work_tape_limit(
        &self,
        tx: &Transaction<'_>,
        o: &BrokerOrder,
        date: NaiveDate,
        until: Option<DateTime<Utc>>,
        replayed: Option<DateTime<Utc>>,
    ) -> rusqlite::Result<()> {
        let (Some(minutes), Some(limit)) =
            (self.minutes(&o.symbol, date), o.order_type.limit_price())
        else {
            return Ok(());
        };
        Self::tried(tx, o, date)?;
        let Some(from) = self.placed_inside(tx, o, date)? else {
            return Ok(());
        };
        let from = Some(from).max(replayed);
        let buy = o.side == Side::Buy;
        let id = o.client_order_id.clone();
        for m in minutes {
            if from.is_some_and(|t| m.ts < t) {
                continue;
            }
            if until.is_some_and(|u| m.ts + Duration::minutes(1) > u) {
                break;
            }
            let Some(now) = Self::get(tx, &id)? else {
                return Ok(());
            };
            if !now.status.is_open() || now.remaining() <= Decimal::ZERO {
                return Ok(());
            }
            let (open, reach) = if buy {
                (dec(m.open), dec(m.low))
            } else {
                (dec(m.open), dec(m.high))
            };
            if (buy && reach > limit) || (!buy && reach < limit) {
                continue;
            }
            let mut most = now.remaining();
            if let Some(share) = self.cfg.tape_volume_share {
                most = most.min(
                    (dec(m.volume) * share)
                        .round_dp_with_strategy(8, rust_decimal::RoundingStrategy::ToZero),
                );
            }
            if let Some(lot) = self.cfg.lot.filter(|l| *l > Decimal::ZERO) {
                most = (most / lot).trunc() * lot;
            }
            if most <= Decimal::ZERO {
                continue;
            }
            let raw = if buy {
                open.min(limit)
            } else {
                open.max(limit)
            };
            self.fill_upto(tx, &now, raw, &minute_bar(date, m), date, most)?;
        }
        Ok(())
    }

    /// The limit orders placed inside the session, worked on the tape through `until`.
    fn work_tape_limits(
        &self,
        tx: &Transaction<'_>,
        date: NaiveDate,
        until: DateTime<Utc>,
        replayed: Option<DateTime<Utc>>,
    ) -> rusqlite::Result<()> {
        let mut working = Self::orders_where(
            tx,
            "limit_price IS NOT NULL AND stop_price IS NULL \
             AND status IN ('accepted', 'partially_filled') AND session = ?1",
            &[&date.to_string()],
        )?;
        working.sort_by_key(|o| o.side == Side::Buy);
        for o in &working {
            self.work_tape_limit(tx, o, date, Some(until), replayed)?;
        }
        Ok(())
    }

    /// One limit order's try at `date`'s bar (only its open when `complete = false`).
    fn try_limit(
        &self,
        tx: &Transaction<'_>,
        o: &BrokerOrder,
        date: NaiveDate,
        complete: bool,
    ) -> rusqlite::Result<()> {
        let (Some(bar), Some(limit)) = (self.bar(&o.symbol, date), o.order_type.limit_price())
        else {
            return Ok(());
        };
        Self::tried(tx, o, date)?;
        let buy = o.side == Side::Buy;
        let open = dec(bar.open);
        let reach = match (complete, buy) {
            (false, _) => open,
            (true, true) => dec(bar.low),
            (true, false) => dec(bar.high),
        };
        if (buy && reach <= limit) || (!buy && reach >= limit) {
            let raw = if buy {
                open.min(limit)
            } else {
                open.max(limit)
            };
            self.fill_at(tx, o, raw, &bar, date)?;
        }
        Ok(())
    }

    /// Stop-limits whose stop `date`'s bar trades through: triggered, then filled at the
    /// trigger price when it is within the limit; past it (a gap), they wait as limit
    /// orders for the next bars.
    fn trigger_stop_limits(&self, tx: &Transaction<'_>, date: NaiveDate) -> rusqlite::Result<()> {
        let armed = Self::orders_where(
            tx,
            "stop_price IS NOT NULL AND limit_price IS NOT NULL AND triggered = 0 \
             AND status IN ('accepted', 'partially_filled') AND session <= ?1",
            &[&date.to_string()],
        )?;
        for o in &armed {
            let (Some(bar), Some(stop), Some(limit)) = (
                self.bar(&o.symbol, date),
                o.order_type.stop_price(),
                o.order_type.limit_price(),
            ) else {
                continue;
            };
            let sell = o.side == Side::Sell;
            let Some(trigger) = stop_trigger(f(stop), sell, &bar) else {
                continue;
            };
            tx.execute(
                "UPDATE orders SET triggered = 1 WHERE client_order_id = ?1",
                params![o.client_order_id.0],
            )?;
            let held = Self::held(tx, &o.symbol)?;
            if sell && held <= Decimal::ZERO {
                Self::set_status(
                    tx,
                    &o.client_order_id,
                    OrderStatus::Canceled,
                    Some("triggered with nothing left to protect"),
                )?;
                continue;
            }
            let t = dec(trigger);
            if (sell && t >= limit) || (!sell && t <= limit) {
                self.fill_at(tx, o, t, &bar, date)?;
            }
        }
        Ok(())
    }

    /// Replays the bars between the last sync and the current session.
    fn sync(&mut self) -> Result<(), BrokerError> {
        let through: Option<NaiveDate> = self
            .conn
            .query_row("SELECT synced_through FROM account", [], |r| {
                r.get::<_, Option<String>>(0)
            })
            .map_err(self.err())?
            .map(|s| day(&s));
        let open = Self::orders_where(
            &self.conn,
            "status IN ('accepted', 'partially_filled')",
            &[],
        )
        .map_err(self.err())?;
        let mut dates: Vec<NaiveDate> = open
            .iter()
            .filter_map(|o| self.data.get(&o.symbol))
            .flat_map(|bars| bars.iter().map(|b| b.ts))
            .filter(|d| *d < self.session && through.is_none_or(|t| *d > t))
            .collect();
        dates.sort();
        dates.dedup();
        let path = self.path.clone();
        let e = |x: rusqlite::Error| bad_state(&path, x);
        let tx = self.conn.unchecked_transaction().map_err(e)?;
        for d in dates {
            self.process(&tx, d, true).map_err(e)?;
        }
        self.process(&tx, self.session, false).map_err(e)?;
        if let Some(tape) = self.tape {
            let replayed = self.tape_through_in(&tx).map_err(e)?;
            if let Some(t) = replayed
                && t > tape.now
            {
                return Err(BrokerError::Invalid(format!(
                    "the paper account's clock is at {}; it cannot go back to {}",
                    instant_text(t),
                    instant_text(tape.now)
                )));
            }
            self.trigger_stops(&tx, self.session, Some(tape.now), replayed)
                .map_err(e)?;
            self.work_tape_limits(&tx, self.session, tape.now, replayed)
                .map_err(e)?;
            tx.execute(
                "UPDATE account SET tape_through = ?1",
                params![instant_text(tape.now)],
            )
            .map_err(e)?;
        }
        let new_through = self.session.pred_opt().max(through);
        tx.execute(
            "UPDATE account SET synced_through = ?1",
            params![new_through.map(|d| d.to_string())],
        )
        .map_err(e)?;
        tx.commit().map_err(e)
    }
}

impl Broker for PaperBroker<'_> {
    fn kind(&self) -> &str {
        "paper"
    }

    fn is_live(&self) -> bool {
        false
    }

    fn account(&mut self) -> Result<Account, BrokerError> {
        self.inject("account", None)?;
        let cash = Self::cash(&self.conn).map_err(self.err())?;
        let mut equity = cash;
        for p in self.positions_now()? {
            let close = self
                .last_close_before(&p.symbol, self.session)
                .map(dec)
                .unwrap_or(p.avg_price);
            equity += p.qty * close;
        }
        Ok(Account {
            id: self.cfg.account_id.clone(),
            currency: self.cfg.currency.clone(),
            cash,
            equity,
            paper: true,
            trading_blocked: false,
        })
    }

    fn positions(&mut self) -> Result<Vec<Position>, BrokerError> {
        self.inject("positions", None)?;
        self.positions_now()
    }

    fn open_orders(&mut self) -> Result<Vec<BrokerOrder>, BrokerError> {
        self.inject("open_orders", None)?;
        Self::orders_where(
            &self.conn,
            "status IN ('accepted', 'partially_filled')",
            &[],
        )
        .map_err(self.err())
    }

    fn order(&mut self, id: &ClientOrderId) -> Result<Option<BrokerOrder>, BrokerError> {
        self.inject("order", None)?;
        Self::get(&self.conn, id).map_err(self.err())
    }

    fn fills(&mut self, since: Option<NaiveDate>) -> Result<Vec<BrokerFill>, BrokerError> {
        self.inject("fills", None)?;
        let since = since.unwrap_or(NaiveDate::MIN).to_string();
        let mut st = self
            .conn
            .prepare(
                "SELECT seq, client_order_id, symbol, side, qty, price, fee, date FROM fills \
                 WHERE date >= ?1 ORDER BY seq",
            )
            .map_err(self.err())?;
        let rows = st
            .query_map(params![since], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                ))
            })
            .map_err(|e| bad_state(&self.path, e))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, id, sym, side, qty, price, fee, date) =
                row.map_err(|e| bad_state(&self.path, e))?;
            out.push(BrokerFill {
                fill_id: format!("paper-fill-{seq}"),
                client_order_id: ClientOrderId(id),
                symbol: Symbol::new(sym).map_err(|e| bad_state(&self.path, e))?,
                side: parse_side(&side),
                qty: num(&qty),
                price: num(&price),
                fee: num(&fee),
                date: day(&date),
            });
        }
        Ok(out)
    }

    fn submit(&mut self, req: &OrderRequest) -> Result<BrokerOrder, BrokerError> {
        let fault = self.inject("submit", Some(&req.symbol))?;
        let path = self.path.clone();
        let e = |x: rusqlite::Error| bad_state(&path, x);
        let tx = self.conn.unchecked_transaction().map_err(e)?;
        if Self::get(&tx, &req.client_order_id).map_err(e)?.is_some() {
            return Err(BrokerError::Duplicate(req.client_order_id.clone()));
        }
        let refusal = if fault == Some(FaultKind::Reject) {
            Some("rejected by the broker (injected fault)".to_string())
        } else {
            self.refusal(&tx, req, &[]).map_err(e)?
        };
        match refusal {
            Some(why) => self
                .insert(&tx, req, OrderStatus::Rejected, Some(&why), None)
                .map_err(e)?,
            None => {
                let partial = match fault {
                    Some(FaultKind::Partial(p)) => Some(p),
                    _ => None,
                };
                self.insert(&tx, req, OrderStatus::Accepted, None, partial)
                    .map_err(e)?;
                if req.session <= self.session
                    && let Some(bar) = self.bar(&req.symbol, self.session)
                    && let Some(o) = Self::get(&tx, &req.client_order_id).map_err(e)?
                {
                    match req.order_type {
                        OrderType::Market => {
                            self.fill_at_open(&tx, &o, &bar, self.session).map_err(e)?
                        }
                        OrderType::Limit { .. } => {
                            // Placed inside the session, it works on the tape from now on
                            // (the next time the clock moves), not at the open.
                            if self
                                .placed_inside(&tx, &o, self.session)
                                .map_err(e)?
                                .is_none()
                            {
                                self.try_limit(&tx, &o, self.session, false).map_err(e)?;
                            }
                            Self::expire_ioc(&tx).map_err(e)?;
                        }
                        OrderType::Stop { .. } | OrderType::StopLimit { .. } => {}
                    }
                }
            }
        }
        let out = Self::get(&tx, &req.client_order_id)
            .map_err(e)?
            .ok_or_else(|| BrokerError::NotFound(req.client_order_id.clone()))?;
        tx.commit().map_err(e)?;
        killed_after(fault.as_ref());
        if fault == Some(FaultKind::Timeout) {
            // The broker took the order; the answer never arrived.
            return Err(BrokerError::Timeout);
        }
        Ok(out)
    }

    fn cancel(&mut self, id: &ClientOrderId) -> Result<BrokerOrder, BrokerError> {
        let fault = self.inject("cancel", None)?;
        let path = self.path.clone();
        let e = |x: rusqlite::Error| bad_state(&path, x);
        let tx = self.conn.unchecked_transaction().map_err(e)?;
        let o = Self::get(&tx, id)
            .map_err(e)?
            .ok_or_else(|| BrokerError::NotFound(id.clone()))?;
        if !o.status.is_open() {
            return Err(BrokerError::Invalid(format!(
                "order {id} is already in \"{}\" state",
                o.status
            )));
        }
        Self::set_status(
            &tx,
            id,
            OrderStatus::Canceled,
            Some("canceled by the client"),
        )
        .map_err(e)?;
        let out = Self::get(&tx, id)
            .map_err(e)?
            .ok_or_else(|| BrokerError::NotFound(id.clone()))?;
        tx.commit().map_err(e)?;
        killed_after(fault.as_ref());
        Ok(out)
    }

    fn replace(
        &mut self,
        id: &ClientOrderId,
        new: &OrderRequest,
    ) -> Result<BrokerOrder, BrokerError> {
        let fault = self.inject("replace", Some(&new.symbol))?;
        let path = self.path.clone();
        let e = |x: rusqlite::Error| bad_state(&path, x);
        let tx = self.conn.unchecked_transaction().map_err(e)?;
        let old = Self::get(&tx, id)
            .map_err(e)?
            .ok_or_else(|| BrokerError::NotFound(id.clone()))?;
        if !old.status.is_open() {
            return Err(BrokerError::Invalid(format!(
                "order {id} is already in \"{}\" state",
                old.status
            )));
        }
        if Self::get(&tx, &new.client_order_id).map_err(e)?.is_some() {
            return Err(BrokerError::Duplicate(new.client_order_id.clone()));
        }
        let refusal = if fault == Some(FaultKind::Reject) {
            Some("rejected by the broker (injected fault)".to_string())
        } else {
            self.refusal(&tx, new, std::slice::from_ref(id))
                .map_err(e)?
        };
        match refusal {
            // The old order keeps working: a failed replace never strips protection.
            Some(why) => self
                .insert(&tx, new, OrderStatus::Rejected, Some(&why), None)
                .map_err(e)?,
            None => {
                Self::set_status(
                    &tx,
                    id,
                    OrderStatus::Canceled,
                    Some(&format!("replaced by {}", new.client_order_id)),
                )
                .map_err(e)?;
                self.insert(&tx, new, OrderStatus::Accepted, None, None)
                    .map_err(e)?;
            }
        }
        let out = Self::get(&tx, &new.client_order_id)
            .map_err(e)?
            .ok_or_else(|| BrokerError::NotFound(new.client_order_id.clone()))?;
        tx.commit().map_err(e)?;
        killed_after(fault.as_ref());
        if fault == Some(FaultKind::Timeout) {
            return Err(BrokerError::Timeout);
        }
        Ok(out)
    }

    fn preview(
        &mut self,
        req: &OrderRequest,
        freeing: &[ClientOrderId],
    ) -> Result<Preview, BrokerError> {
        self.inject("preview", Some(&req.symbol))?;
        let refusal = self.refusal(&self.conn, req, freeing).map_err(self.err())?;
        let est_price = match req.order_type {
            OrderType::Stop { stop } => Some(stop),
            OrderType::Limit { limit } | OrderType::StopLimit { limit, .. } => Some(limit),
            OrderType::Market => self
                .bar(&req.symbol, self.session)
                .map(|b| b.open)
                .or_else(|| self.last_close_before(&req.symbol, self.session))
                .map(dec),
        };
        Ok(Preview {
            client_order_id: req.client_order_id.clone(),
            accepted: refusal.is_none(),
            reason: refusal,
            est_price,
            est_fee: est_price.map(|p| self.cfg.costs.fee(req.qty, p)),
        })
    }
}

impl PaperBroker<'_> {
    /// Every order the account has had, in any state, oldest first (a venue's "all
    /// orders" list; the trait needs only the open ones).
    pub fn all_orders(&self) -> Result<Vec<BrokerOrder>, BrokerError> {
        Self::orders_where(&self.conn, "1 = 1", &[]).map_err(self.err())
    }

    fn positions_now(&self) -> Result<Vec<Position>, BrokerError> {
        let mut st = self
            .conn
            .prepare("SELECT symbol, qty, cost FROM positions ORDER BY symbol")
            .map_err(self.err())?;
        let rows: Vec<(String, String, String)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        let mut out = Vec::new();
        for (sym, qty, cost) in rows {
            let symbol = Symbol::new(sym).map_err(|e| bad_state(&self.path, e))?;
            let qty = num(&qty);
            if qty.is_zero() {
                continue;
            }
            let available = Self::available(&self.conn, &symbol, &[]).map_err(self.err())?;
            out.push(Position {
                // Only sell orders reserve, and only long units.
                reserved: if qty > Decimal::ZERO {
                    qty - available.max(Decimal::ZERO)
                } else {
                    Decimal::ZERO
                },
                avg_price: num(&cost) / qty,
                symbol,
                qty,
            });
        }
        Ok(out)
    }
}
