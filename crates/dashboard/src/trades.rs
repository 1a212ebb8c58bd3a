//! The manual trades page: every trade of the home's ledger (open first, marked from `--data`
//! when given), and — with `--allow-actions` — add, update and close, under the ledger's own
//! rules (the ones `systrade trades` applies: no future date, a positive quantity and price, a
//! close never larger than what is open, the quantity never below what was already closed).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use systrade_backtest::f;
use systrade_core::Symbol;
use systrade_core::contracts::Side;
use systrade_core::money::decimal_text;
use systrade_report::format::{money, price};
use systrade_store::{Ledger, ManualTrade, NewTrade, TradeUpdate};

use crate::actions::Refusal;
use crate::marks::Prices;
use crate::view::{ViewError, ledger};

#[derive(Debug, Clone, Serialize)]
pub struct TradeRow {
    pub id: i64,
    pub date: String,
    pub symbol: String,
    pub side: String,
    pub qty: String,
    pub open_qty: String,
    pub price: String,
    pub fees: String,
    pub stop: String,
    pub tags: String,
    pub notes: String,
    pub realized: String,
    pub last: String,
    pub unrealized: String,
    pub losing: bool,
    /// Each close: `qty @ price on date`.
    pub closes: Vec<String>,
    pub open: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TradesPage {
    pub open: Vec<TradeRow>,
    pub closed: Vec<TradeRow>,
    /// Today, the default date of the forms.
    pub today: String,
    /// Marked from `--data`.
    pub marked: bool,
}

fn row(t: &ManualTrade, mark: Option<&crate::marks::Mark>) -> TradeRow {
    let (last, unrealized) = match mark {
        Some(Ok((_, c))) if t.is_open() => {
            let u = (c - f(t.trade.price)) * f(t.sign() * t.open_qty);
            (price(*c), Some(u))
        }
        Some(Err(why)) if t.is_open() => (why.clone(), None),
        _ => ("n/a".into(), None),
    };
    TradeRow {
        id: t.id,
        date: t.trade.date.to_string(),
        symbol: t.trade.symbol.to_string(),
        side: match t.trade.side {
            Side::Buy => "long".into(),
            Side::Sell => "short".into(),
        },
        qty: decimal_text(t.trade.qty),
        open_qty: decimal_text(t.open_qty),
        price: price(f(t.trade.price)),
        fees: money(f(t.trade.fees)),
        stop: t
            .trade
            .stop
            .map(|s| price(f(s)))
            .unwrap_or_else(|| "none".into()),
        tags: t.trade.tags.join(", "),
        notes: t.trade.notes.clone(),
        realized: money(f(t.realized_pnl)),
        last,
        unrealized: unrealized.map(money).unwrap_or_else(|| "n/a".into()),
        losing: unrealized.is_some_and(|u| u < 0.0),
        closes: t
            .closes
            .iter()
            .map(|c| {
                format!(
                    "{} @ {} on {}",
                    decimal_text(c.qty),
                    price(f(c.price)),
                    c.date
                )
            })
            .collect(),
        open: t.is_open(),
    }
}

/// The page's content.
pub fn page(home: &Path, prices: &Prices, today: NaiveDate) -> Result<TradesPage, ViewError> {
    let trades = match ledger(home)? {
        Some(l) => l.trades()?,
        None => Vec::new(),
    };
    let held: BTreeSet<Symbol> = trades
        .iter()
        .filter(|t| t.is_open())
        .map(|t| t.trade.symbol.clone())
        .collect();
    let marks = if prices.is_empty() {
        BTreeMap::new()
    } else {
        prices.last_closes(&held, today)
    };
    let (open, closed): (Vec<_>, Vec<_>) = trades
        .iter()
        .map(|t| row(t, marks.get(&t.trade.symbol)))
        .partition(|r| r.open);
    Ok(TradesPage {
        open,
        closed,
        today: today.to_string(),
        marked: !prices.is_empty(),
    })
}

/// A submitted form: field → value (decoded).
pub type Form = BTreeMap<String, String>;

fn input(m: impl Into<String>) -> Refusal {
    Refusal::Input(m.into())
}

/// A field's trimmed value; `None` when absent or blank.
fn field<'a>(form: &'a Form, key: &str) -> Option<&'a str> {
    form.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn required<'a>(form: &'a Form, key: &str) -> Result<&'a str, Refusal> {
    field(form, key).ok_or_else(|| input(format!("{key}: required")))
}

fn parsed<T: FromStr>(form: &Form, key: &str, what: &str) -> Result<Option<T>, Refusal> {
    field(form, key)
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| input(format!("{key}: {v:?} is not {what}")))
        })
        .transpose()
}

fn decimal(form: &Form, key: &str) -> Result<Option<Decimal>, Refusal> {
    parsed::<Decimal>(form, key, "a number")
}

fn date(form: &Form, key: &str) -> Result<Option<NaiveDate>, Refusal> {
    parsed::<NaiveDate>(form, key, "a date (YYYY-MM-DD)")
}

fn id(form: &Form) -> Result<i64, Refusal> {
    parsed::<i64>(form, "id", "a trade id")?.ok_or_else(|| input("id: required"))
}

fn tags(v: &str) -> Vec<String> {
    v.split(',')
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

fn open(home: &Path, create: bool) -> Result<Ledger, Refusal> {
    let p = home.join("ledger.sqlite");
    if !create && !p.exists() {
        return Err(input("this home has no ledger yet: add a trade first"));
    }
    Ledger::open(&p).map_err(|e| Refusal::Failed(e.to_string()))
}

/// The ledger refused: its words are about the input.
fn refused(e: systrade_store::StoreError) -> Refusal {
    match e {
        systrade_store::StoreError::Invalid(m) => Refusal::Input(m),
        other => Refusal::Failed(other.to_string()),
    }
}

/// Adds a trade (`systrade trades add`).
pub fn add(home: &Path, form: &Form, today: NaiveDate) -> Result<String, Refusal> {
    let side = match required(form, "side")? {
        "buy" => Side::Buy,
        "sell" => Side::Sell,
        other => return Err(input(format!("side: {other:?} is not buy or sell"))),
    };
    let t = NewTrade {
        symbol: Symbol::new(required(form, "symbol")?)
            .map_err(|e| input(format!("symbol: {e}")))?,
        side,
        qty: decimal(form, "qty")?.ok_or_else(|| input("qty: required"))?,
        price: decimal(form, "price")?.ok_or_else(|| input("price: required"))?,
        date: date(form, "date")?.unwrap_or(today),
        fees: decimal(form, "fees")?.unwrap_or_default(),
        stop: decimal(form, "stop")?,
        tags: field(form, "tags").map(tags).unwrap_or_default(),
        notes: field(form, "notes").unwrap_or_default().to_string(),
    };
    let mut l = open(home, true)?;
    let id = l.add_trade(&t, today).map_err(refused)?;
    Ok(format!("added trade {id}"))
}

/// Changes the fields given (blank = unchanged; stop `none` removes it).
pub fn update(home: &Path, form: &Form, today: NaiveDate) -> Result<String, Refusal> {
    let id = id(form)?;
    let stop = match field(form, "stop") {
        Some("none") => Some(None),
        Some(_) => decimal(form, "stop")?.map(Some),
        None => None,
    };
    let u = TradeUpdate {
        qty: decimal(form, "qty")?,
        price: decimal(form, "price")?,
        date: date(form, "date")?,
        fees: decimal(form, "fees")?,
        stop,
        tags: field(form, "tags").map(tags),
        notes: field(form, "notes").map(str::to_string),
    };
    if u == TradeUpdate::default() {
        return Err(input(
            "nothing to change: fill in qty, price, date, fees, stop (or none), tags or notes",
        ));
    }
    let mut l = open(home, false)?;
    let t = l.update_trade(id, &u, today).map_err(refused)?;
    Ok(format!("updated trade {}", t.id))
}

/// Closes all of a trade, or `qty` of it (`systrade trades close`).
pub fn close(home: &Path, form: &Form, today: NaiveDate) -> Result<String, Refusal> {
    let id = id(form)?;
    let price = decimal(form, "price")?.ok_or_else(|| input("price: required"))?;
    let mut l = open(home, false)?;
    let t = l
        .close_trade(
            id,
            decimal(form, "qty")?,
            price,
            date(form, "date")?.unwrap_or(today),
            decimal(form, "fees")?.unwrap_or_default(),
            today,
        )
        .map_err(refused)?;
    Ok(format!(
        "closed trade {} (open {})",
        t.id,
        decimal_text(t.open_qty)
    ))
}
