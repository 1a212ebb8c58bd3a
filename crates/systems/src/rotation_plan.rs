//! A rotation config's orders for one session (`systrade plan`, the newsletter's "what to buy
//! tomorrow"): on the book its backtest replays through the session before, or on holdings
//! from a positions file; a rebalance due in the session sized on the book's equity in whole
//! units of the market's lot, from the closes through the session before — nothing later.
//!
//! When a rebalance is due follows the backtest: `fill = "next_open"` trades at the open of
//! the session after a month's first session what its close decided (the plan is exact);
//! `fill = "close"` trades at the close of the month's first session on that close (the plan
//! shows the targets the closes through the session before give: provisional, said so).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use systrade_core::contracts::{ClientOrderId, Side};
use systrade_core::fsio::{write_atomic, write_json_atomic};
use systrade_core::json::shortest as num;
use systrade_core::{BadInput, Market, Symbol};
use systrade_rotation::run::Settings;
use systrade_rotation::run::TxKind;
use systrade_rotation::select::limit;
use systrade_rotation::{Fill, Month, Panel, RotationResult, Status};

use crate::plan::PlanBook;
use crate::rotation::Loaded;

/// When the session trades the rotation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum When {
    /// The rebalance decided at the close of `decided` fills at this session's open.
    AtOpen { decided: NaiveDate },
    /// The session opens a month: the rebalance is decided on its close and fills there; the
    /// targets shown are from the closes through the session before.
    AtClose,
    /// No rebalance in the session; the next one trades on `next`.
    Hold { next: NaiveDate },
    /// An account whose names differ from the month's targets (a rebalance missed or cut
    /// short): the month decided on the close of `decided` is traded at this session's open.
    CatchUp { decided: NaiveDate },
    /// The data stops before the session before: nothing is planned (fail closed).
    Stale {
        latest: NaiveDate,
        expected: NaiveDate,
    },
}

impl When {
    pub fn words(&self, as_of: NaiveDate) -> String {
        match self {
            When::AtOpen { decided } => {
                format!("rebalance at the open of {as_of}, decided on the close of {decided}")
            }
            When::AtClose => format!(
                "rebalance at the close of {as_of} (market-on-close, decided on that close): the orders are provisional, from the closes through the session before"
            ),
            When::Hold { next } => {
                format!("no rebalance on {as_of}; the next one trades on {next}")
            }
            When::CatchUp { decided } => format!(
                "catch-up at the open of {as_of}: the account's names differ from the month decided on the close of {decided}"
            ),
            When::Stale { latest, expected } => format!(
                "the data ends on {latest}, not {expected}: nothing is planned until it is refreshed"
            ),
        }
    }
}

/// One order of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanOrder {
    pub symbol: Symbol,
    pub side: Side,
    /// Units, positive.
    pub qty: f64,
    /// The last close before the session (what the size was computed at).
    pub ref_price: f64,
    pub held_qty: f64,
    pub target_qty: f64,
    pub weight: f64,
    /// `entry`, `add`, `reduce` or `exit`.
    pub action: &'static str,
    pub why: String,
}

/// A name the book holds before the session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanHolding {
    pub symbol: Symbol,
    pub qty: f64,
    /// Average cost (the replayed book's fills; unknown for a positions file).
    pub avg_price: Option<f64>,
    pub last: f64,
}

/// A rotation's plan for one session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RotationPlan {
    pub as_of: NaiveDate,
    /// The last close the plan read.
    pub decided: NaiveDate,
    #[serde(serialize_with = "book_str")]
    pub book: PlanBook,
    pub equity: f64,
    pub cash: f64,
    pub when: When,
    /// The decision behind the orders (none on a hold or stale day).
    pub month: Option<Month>,
    pub orders: Vec<PlanOrder>,
    pub held: Vec<PlanHolding>,
    /// Orders are whole multiples of this.
    pub lot: f64,
    /// Targets no order could be sized for (no price), in words.
    pub unpriced: Vec<String>,
}

fn book_str<S: serde::Serializer>(b: &PlanBook, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(b.as_str())
}

/// The unit an order is a multiple of: whole shares on exchanges, 10⁻⁶ of a coin.
pub fn lot_of(market: Market) -> f64 {
    match market {
        Market::Us | Market::B3 => 1.0,
        Market::Crypto => 1e-6,
    }
}

/// The book the plan decides on.
struct Book {
    kind: PlanBook,
    equity: f64,
    cash: f64,
    /// Units per panel column.
    pos: Vec<f64>,
    avg: Vec<Option<f64>>,
    /// The replay (simulated book only): its months and series for the limits.
    replay: Option<RotationResult>,
}

impl Book {
    /// What the book holds, marked at row `t`'s closes.
    fn holdings(&self, panel: &Panel, t: usize) -> Vec<PlanHolding> {
        (0..self.pos.len())
            .filter(|j| self.pos[*j] != 0.0)
            .map(|j| PlanHolding {
                symbol: panel.symbols[j].clone(),
                qty: self.pos[j],
                avg_price: self.avg[j],
                last: panel.close[j][t],
            })
            .collect()
    }
}

/// Average cost per column from the replay's fills (a sale keeps the average; a position
/// that closes forgets it).
fn average_costs(panel: &Panel, r: &RotationResult) -> Vec<Option<f64>> {
    let mut qty = vec![0.0f64; panel.symbols.len()];
    let mut avg: Vec<Option<f64>> = vec![None; panel.symbols.len()];
    for x in &r.transactions {
        let Some(j) = panel.column(x.symbol.as_str()) else {
            continue;
        };
        let before = qty[j];
        qty[j] += x.qty;
        if x.kind == TxKind::Sell || qty[j].abs() < 1e-12 {
            qty[j] = if x.kind == TxKind::Sell { 0.0 } else { qty[j] };
            if qty[j] == 0.0 {
                avg[j] = None;
            }
        } else if x.qty > 0.0 {
            let cost = avg[j].unwrap_or(0.0) * before + x.qty * x.price;
            avg[j] = Some(cost / qty[j]);
        }
    }
    avg
}

fn replayed(l: &Loaded, cash: f64, end: NaiveDate) -> anyhow::Result<Book> {
    let b = &l.cfg.backtest;
    if b.start.is_some_and(|s| s > end) {
        return Err(BadInput(format!(
            "the simulated book starts at backtest.start {}; plan a later session or pass --positions",
            b.start.map(|d| d.to_string()).unwrap_or_default()
        ))
        .into());
    }
    let r = systrade_rotation::run::run_with(
        &l.panel,
        &l.cfg.rotation,
        &Settings {
            cash,
            start: b.start,
            end: Some(end),
            limits: crate::trend::limits_of(&l.cfg.safety),
        },
        l.news.as_ref(),
    )
    .map_err(|e| BadInput(e.to_string()))?;
    let last = r.series.last().ok_or_else(|| {
        BadInput(format!(
            "no session before {}",
            end.succ_opt().unwrap_or(end)
        ))
    })?;
    let pos = l
        .panel
        .symbols
        .iter()
        .map(|s| r.positions.get(s).copied().unwrap_or(0.0))
        .collect();
    Ok(Book {
        kind: PlanBook::Simulated,
        equity: last.equity,
        cash: last.cash,
        pos,
        avg: average_costs(&l.panel, &r),
        replay: Some(r),
    })
}

fn from_file(l: &Loaded, path: &Path, capital: f64, t: usize) -> anyhow::Result<Book> {
    if !(capital.is_finite() && capital > 0.0) {
        return Err(BadInput(format!("--capital must be positive, got {capital}")).into());
    }
    let held = crate::plan::read_positions(path, &l.panel.symbols)?;
    let mut pos = vec![0.0; l.panel.symbols.len()];
    let mut value = 0.0;
    for (s, h) in &held {
        let Some(j) = l.panel.column(s.as_str()) else {
            continue;
        };
        let close = l.panel.close[j][t];
        if h.qty != 0.0 && !close.is_finite() {
            return Err(BadInput(format!(
                "{}: {s} is held but has no close on or before {} to value it",
                path.display(),
                l.panel.dates[t]
            ))
            .into());
        }
        pos[j] = h.qty;
        value += h.qty * if close.is_finite() { close } else { 0.0 };
    }
    Ok(Book {
        kind: PlanBook::Positions,
        equity: capital,
        cash: capital - value,
        avg: vec![None; pos.len()],
        pos,
        replay: None,
    })
}

/// The first session of the month after `d`'s (and the one after it for `next_open`).
fn next_rebalance(market: Market, d: NaiveDate, fill: Fill) -> NaiveDate {
    let cal = market.calendar();
    let x = cal.first_trading_day_of_next_month(d);
    match fill {
        Fill::Close => x,
        Fill::NextOpen => cal.next_trading_day(x),
    }
}

/// The month decided on the close of row `t` for a book, under the config's limits at the
/// book's drawdown below `peak` (the replay's or the account's equity peak; the book's own
/// equity when none is known).
fn decide_on(l: &Loaded, t: usize, book: &Book, peak: Option<f64>) -> Month {
    let mut m = systrade_rotation::select::decide_with(
        &l.panel,
        t,
        &l.cfg.rotation,
        l.news.as_ref(),
        &book.pos,
    );
    let value = book.equity;
    let held: BTreeMap<Symbol, f64> = (0..book.pos.len())
        .filter(|j| book.pos[*j] != 0.0 && value > 0.0)
        .map(|j| {
            let c = l.panel.close[j][t];
            let c = if c.is_finite() { c } else { 0.0 };
            (l.panel.symbols[j].clone(), book.pos[j] * c / value)
        })
        .collect();
    let peak = book
        .replay
        .as_ref()
        .map(|r| {
            r.series
                .iter()
                .map(|x| x.equity)
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .or(peak)
        .unwrap_or(value)
        .max(value);
    let drawdown = if peak > 0.0 {
        (1.0 - value / peak).max(0.0)
    } else {
        0.0
    };
    limit(
        &mut m,
        &held,
        &crate::trend::limits_of(&l.cfg.safety),
        drawdown,
    );
    m
}

/// A name's verdict in words.
pub fn status_words(s: &Status) -> String {
    match s {
        Status::Selected => "selected".into(),
        Status::NoPrice => "no price at the decision close".into(),
        Status::ShortHistory => "not enough history for momentum or its trend filter".into(),
        Status::BelowSma => "below its own trend average".into(),
        Status::NotTopN => "ranked below the top N".into(),
        Status::Correlated { with, corr } => {
            format!("correlated {corr:.2} with {with}, chosen before it")
        }
        Status::RiskOff => "risk-off: nothing is bought".into(),
        Status::Cash => "the risk-off holding".into(),
        Status::Limited { why } => format!("chosen, but kept out by {why}"),
        Status::NewsRisk { score, headline } => {
            format!("news risk: sentiment {score:+.2} is below the block (\"{headline}\")")
        }
    }
}

/// Why a name is bought or kept, in words.
fn why_of(m: &Month, s: &Symbol) -> String {
    let Some(r) = m.rows.iter().find(|r| &r.symbol == s) else {
        return String::new();
    };
    let mut w = Vec::new();
    match r.status {
        Status::Cash => w.push("risk-off: the cash holding".to_string()),
        _ => {
            if let Some(k) = r.rank {
                w.push(format!("momentum rank {k}"));
            }
            if let Some(mo) = r.momentum {
                w.push(format!("12-1 momentum {:+.1}%", mo * 100.0));
            }
            if let (Some(c), Some(a)) = (r.close, r.sma) {
                w.push(format!(
                    "{:.1}% above its trend average",
                    (c / a - 1.0) * 100.0
                ));
            }
        }
    }
    w.push(format!("target weight {:.1}%", r.weight * 100.0));
    w.join("; ")
}

/// The orders that take the book to the month's targets at the closes of row `t`.
fn orders_of(
    l: &Loaded,
    m: &Month,
    book: &Book,
    t: usize,
    lot: f64,
) -> (Vec<PlanOrder>, Vec<String>) {
    let mut orders = Vec::new();
    let mut unpriced = Vec::new();
    let targets: BTreeMap<&Symbol, f64> = m.targets.iter().map(|(s, w)| (s, *w)).collect();
    for (j, s) in l.panel.symbols.iter().enumerate() {
        let held = book.pos[j];
        let w = targets.get(s).copied().unwrap_or(0.0);
        if held == 0.0 && w == 0.0 {
            continue;
        }
        let px = l.panel.close[j][t];
        if !(px.is_finite() && px > 0.0) {
            if w > 0.0 {
                unpriced.push(format!("{s}: no close before the session to size it"));
            }
            continue;
        }
        let target = if w > 0.0 {
            (w * book.equity / px / lot).floor() * lot
        } else {
            0.0
        };
        let delta = if target == 0.0 {
            -held
        } else {
            ((target - held) / lot).trunc() * lot
        };
        if delta == 0.0 || (target != 0.0 && delta.abs() < lot) {
            continue;
        }
        let action = if held == 0.0 {
            "entry"
        } else if target == 0.0 {
            "exit"
        } else if delta > 0.0 {
            "add"
        } else {
            "reduce"
        };
        let why = if target == 0.0 {
            let r = m.rows.iter().find(|r| &r.symbol == s);
            format!(
                "no longer wanted: {}",
                r.map(|r| status_words(&r.status))
                    .unwrap_or_else(|| "not in the decision".into())
            )
        } else {
            why_of(m, s)
        };
        orders.push(PlanOrder {
            symbol: s.clone(),
            side: if delta > 0.0 { Side::Buy } else { Side::Sell },
            qty: delta.abs(),
            ref_price: px,
            held_qty: held,
            target_qty: target,
            weight: w,
            action,
            why,
        });
    }
    // Sales first (they fund the buys), then by symbol.
    orders.sort_by(|a, b| (a.side == Side::Buy, &a.symbol).cmp(&(b.side == Side::Buy, &b.symbol)));
    (orders, unpriced)
}

/// The plan for the session `as_of` on the simulated book with `cash` (the config's
/// `backtest.cash` for a standalone plan, the bucket's capital in a portfolio), or on
/// `holdings` (a positions file and the capital).
pub fn plan(
    l: &Loaded,
    as_of: NaiveDate,
    cash: f64,
    holdings: Option<(&Path, f64)>,
) -> anyhow::Result<RotationPlan> {
    let panel = &l.panel;
    let t = panel.dates.partition_point(|d| *d < as_of);
    let Some(t) = t.checked_sub(1) else {
        return Err(BadInput(format!(
            "--as-of {as_of}: the data has no session before it (it starts {})",
            panel
                .dates
                .first()
                .map(|d| d.to_string())
                .unwrap_or_default()
        ))
        .into());
    };
    let last = panel.dates[t];
    let cal = l.market.calendar();
    if !cal.is_trading_day(as_of) {
        return Err(BadInput(format!(
            "--as-of {as_of} is not a {} session (the next one is {})",
            l.market.as_str(),
            cal.next_trading_day(as_of)
        ))
        .into());
    }
    let book = match holdings {
        Some((p, c)) => from_file(l, p, c, t)?,
        None => replayed(l, cash, last).with_context(|| format!("--as-of {as_of}"))?,
    };
    let p = &l.cfg.rotation;
    let expected = cal.previous_trading_day(as_of);
    let month_start = |i: usize| i == 0 || panel.dates[i - 1].month() != panel.dates[i].month();
    let opens_month = last.month() != as_of.month() || last.year() != as_of.year();
    let when = if last < expected {
        When::Stale {
            latest: last,
            expected,
        }
    } else {
        match p.fill {
            Fill::NextOpen if month_start(t) => When::AtOpen { decided: last },
            Fill::Close if opens_month => When::AtClose,
            fill => When::Hold {
                next: next_rebalance(l.market, as_of, fill),
            },
        }
    };
    let month = match &when {
        // The replay decided that close with the book's own limits: the backtest's month.
        When::AtOpen { .. } => Some(
            book.replay
                .as_ref()
                .and_then(|r| r.months.last().filter(|m| m.t == t).cloned())
                .unwrap_or_else(|| decide_on(l, t, &book, None)),
        ),
        When::AtClose => Some(decide_on(l, t, &book, None)),
        When::Hold { .. } | When::Stale { .. } | When::CatchUp { .. } => None,
    };
    let lot = lot_of(l.market);
    let (orders, unpriced) = match &month {
        Some(m) => orders_of(l, m, &book, t, lot),
        None => (Vec::new(), Vec::new()),
    };
    let held = book.holdings(panel, t);
    Ok(RotationPlan {
        as_of,
        decided: last,
        book: book.kind,
        equity: book.equity,
        cash: book.cash,
        when,
        month,
        orders,
        held,
        lot,
        unpriced,
    })
}

/// An account's plan for the session `as_of` (the daily run): the month in force is the
/// latest one decided on a close before the session; it is traded at the session's open when
/// that close is the session before (the rebalance; a market-on-close config trades one open
/// later than its backtest), or when the account's names differ from its targets (a
/// catch-up); otherwise the account holds. `held` are the account's units; `peak` its equity
/// peak so far (the drawdown limits).
pub fn for_account(
    l: &Loaded,
    as_of: NaiveDate,
    held: &BTreeMap<Symbol, f64>,
    equity: f64,
    cash: f64,
    peak: f64,
) -> anyhow::Result<RotationPlan> {
    let panel = &l.panel;
    let Some(t) = panel.dates.partition_point(|d| *d < as_of).checked_sub(1) else {
        return Err(BadInput(format!("{as_of}: the data has no session before it")).into());
    };
    let last = panel.dates[t];
    let mut pos = vec![0.0; panel.symbols.len()];
    let mut unpriced = Vec::new();
    for (s, q) in held.iter().filter(|(_, q)| **q != 0.0) {
        match panel.column(s.as_str()) {
            Some(j) => pos[j] = *q,
            None => unpriced.push(format!(
                "{s}: held at the broker but not in the config's universe; left alone"
            )),
        }
    }
    let book = Book {
        kind: PlanBook::Positions,
        equity,
        cash,
        avg: vec![None; pos.len()],
        pos,
        replay: None,
    };
    let expected = l.market.calendar().previous_trading_day(as_of);
    let decided = panel.month_starts().into_iter().filter(|m| *m <= t).max();
    let lot = lot_of(l.market);
    let (when, month) = match decided {
        _ if last < expected => (
            When::Stale {
                latest: last,
                expected,
            },
            None,
        ),
        None => (
            When::Hold {
                next: next_rebalance(l.market, as_of, Fill::NextOpen),
            },
            None,
        ),
        Some(m) => {
            let month = decide_on(l, m, &book, Some(peak));
            let wanted: std::collections::BTreeSet<&Symbol> = month
                .targets
                .iter()
                .filter(|x| x.1 > 0.0)
                .map(|x| &x.0)
                .collect();
            let names: std::collections::BTreeSet<&Symbol> = (0..book.pos.len())
                .filter(|j| book.pos[*j] != 0.0)
                .map(|j| &panel.symbols[j])
                .collect();
            let when = if m == t {
                When::AtOpen {
                    decided: panel.dates[m],
                }
            } else if wanted != names {
                When::CatchUp {
                    decided: panel.dates[m],
                }
            } else {
                When::Hold {
                    next: next_rebalance(l.market, as_of, Fill::NextOpen),
                }
            };
            (when, Some(month))
        }
    };
    let (orders, more) = match (&month, &when) {
        (Some(m), When::AtOpen { .. } | When::CatchUp { .. }) => orders_of(l, m, &book, t, lot),
        _ => (Vec::new(), Vec::new()),
    };
    unpriced.extend(more);
    let held_lines = book.holdings(panel, t);
    Ok(RotationPlan {
        as_of,
        decided: last,
        book: book.kind,
        equity,
        cash,
        when,
        month,
        orders,
        held: held_lines,
        lot,
        unpriced,
    })
}

/// Units as an order shows them (up to 8 decimals, no trailing zeros).
pub fn qty_text(x: f64) -> String {
    let s = format!("{x:.8}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `orders_D.csv`, in the trend plan's columns (`client_order_id` derived from the strategy
/// name, the session, the symbol, the side and the action, as the daily run derives them).
pub fn orders_csv(name: &str, plan: &RotationPlan) -> anyhow::Result<String> {
    let mut out = format!("{}\n", systrade_pipeline::trend::ORDERS_HEADER);
    for o in &plan.orders {
        let id = ClientOrderId::derive(name, plan.as_of, &o.symbol, o.side, o.action)?;
        let kind = match plan.when {
            When::AtClose => "market_on_close",
            _ => "market",
        };
        let _ = writeln!(
            out,
            "{id},{},{},{},{kind},{},{},{:.2},,{},rebalance",
            plan.as_of,
            o.symbol,
            if o.side == Side::Buy { "buy" } else { "sell" },
            qty_text(o.qty),
            num(o.ref_price),
            o.qty * o.ref_price,
            o.action,
        );
    }
    Ok(out)
}

/// `targets_D.csv`: every name of the decision with its verdict.
pub fn targets_csv(m: &Month) -> String {
    let opt = |x: Option<f64>| x.map(num).unwrap_or_default();
    let mut out =
        String::from("decided,regime,symbol,close,momentum,sma,rank,status,detail,weight\n");
    for r in &m.rows {
        let detail = match &r.status {
            Status::Correlated { with, corr } => format!("{with} {corr:.4}"),
            Status::Limited { why } => (*why).to_string(),
            Status::NewsRisk { score, .. } => format!("{score:.4}"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{detail},{}",
            m.date,
            m.regime.as_str(),
            r.symbol,
            opt(r.close),
            opt(r.momentum),
            opt(r.sma),
            r.rank.map(|k| k.to_string()).unwrap_or_default(),
            r.status.as_str(),
            num(r.weight)
        );
    }
    out
}

/// Writes `orders_D.csv`, `targets_D.csv` (when a decision stands behind the orders) and
/// `plan_D.json` into `out`, each atomically.
pub fn write(out: &Path, name: &str, plan: &RotationPlan) -> anyhow::Result<()> {
    let d = plan.as_of;
    let orders = orders_csv(name, plan)?;
    let go = || -> anyhow::Result<()> {
        write_atomic(&out.join(format!("orders_{d}.csv")), orders.as_bytes())?;
        if let Some(m) = &plan.month {
            write_atomic(
                &out.join(format!("targets_{d}.csv")),
                targets_csv(m).as_bytes(),
            )?;
        }
        write_json_atomic(&out.join(format!("plan_{d}.json")), plan)?;
        Ok(())
    };
    go().with_context(|| format!("writing {}", out.display()))
}
