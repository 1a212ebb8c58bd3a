//! A trend config's decision for one session (`systrade plan`): on the book its backtest
//! replays up to the session, or on holdings from a positions file — written as trade-ready
//! files (targets, orders, snapshot, desired trades, the plan's summary).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;
use serde::Serialize;
use systrade_core::BadInput;
use systrade_core::Symbol;
use systrade_core::fsio::{write_atomic, write_json_atomic};
use systrade_pipeline::trend::{
    DayRecord, SNAPSHOT_HEADER, TrendStrategy, desired_trades_jsonl, orders_csv, snapshot_rows,
    targets_csv,
};
use systrade_strategy::{MarketView, PortfolioView, Strategy};

use crate::trend::{Loaded, bad};

/// A holding read from `--positions`.
#[derive(Debug, Clone, PartialEq)]
pub struct Holding {
    pub qty: f64,
    pub stop: Option<f64>,
    pub cooldown_left: u32,
    pub stopped_out: Option<NaiveDate>,
}

/// Reads `symbol,qty[,stop][,cooldown_left][,stopped_out]`; every problem names the file, the
/// line and the symbol.
pub fn read_positions(
    path: &Path,
    universe: &[Symbol],
) -> anyhow::Result<BTreeMap<Symbol, Holding>> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
    let headers = rdr
        .headers()
        .map_err(|e| BadInput(format!("{}: {e}", path.display())))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(sym_i), Some(qty_i)) = (col("symbol"), col("qty")) else {
        return Err(BadInput(format!(
            "{}: the header needs `symbol` and `qty` columns (optional: stop, cooldown_left, stopped_out)",
            path.display()
        ))
        .into());
    };
    let known = ["symbol", "qty", "stop", "cooldown_left", "stopped_out"];
    if let Some(h) = headers
        .iter()
        .find(|h| !known.iter().any(|k| h.eq_ignore_ascii_case(k)))
    {
        return Err(BadInput(format!(
            "{}: unknown column {h:?} (known: {})",
            path.display(),
            known.join(", ")
        ))
        .into());
    }
    let (stop_i, cd_i, so_i) = (col("stop"), col("cooldown_left"), col("stopped_out"));
    let mut out = BTreeMap::new();
    for (k, rec) in rdr.records().enumerate() {
        let line = k + 2;
        let rec = rec.map_err(|e| BadInput(format!("{} line {line}: {e}", path.display())))?;
        let at = |what: String| BadInput(format!("{} line {line}: {what}", path.display()));
        let cell = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or("");
        let sym = Symbol::new(cell(Some(sym_i))).map_err(|e| at(e.to_string()))?;
        if !universe.contains(&sym) {
            return Err(at(format!(
                "{sym}: unknown symbol (not in the config's sleeves)"
            ))
            .into());
        }
        let qty: f64 = cell(Some(qty_i))
            .parse()
            .ok()
            .filter(|q: &f64| q.is_finite())
            .ok_or_else(|| {
                at(format!(
                    "{sym}: qty {:?} is not a number",
                    cell(Some(qty_i))
                ))
            })?;
        if qty < 0.0 {
            return Err(at(format!(
                "{sym}: qty {qty} is negative; the strategy is long-only"
            ))
            .into());
        }
        let stop = match cell(stop_i) {
            "" => None,
            t => Some(
                t.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x > 0.0)
                    .ok_or_else(|| at(format!("{sym}: stop {t:?} is not a positive price")))?,
            ),
        };
        let cooldown_left = match cell(cd_i) {
            "" => 0,
            t => t
                .parse::<u32>()
                .map_err(|_| at(format!("{sym}: cooldown_left {t:?} is not a day count")))?,
        };
        let stopped_out = match cell(so_i) {
            "" => None,
            t => Some(
                NaiveDate::parse_from_str(t, "%Y-%m-%d")
                    .map_err(|_| at(format!("{sym}: stopped_out {t:?} is not YYYY-MM-DD")))?,
            ),
        };
        let h = Holding {
            qty,
            stop,
            cooldown_left,
            stopped_out,
        };
        if out.insert(sym.clone(), h).is_some() {
            return Err(at(format!("{sym}: listed twice")).into());
        }
    }
    Ok(out)
}

/// The decision for `as_of` on the simulated book: the config's backtest (with its `[safety]`
/// limits, as `backtest` applies them) replayed up to the last bar before it, whose last step
/// decides the session — the limits' gate included: an order they hold back is taken out of
/// the record and named in the returned map. When the data stops short of the session before
/// `as_of`, one more step is taken on the final book (every ticker then has `data_ok = 0`).
fn simulated(l: &Loaded, as_of: NaiveDate) -> anyhow::Result<Decided> {
    let b = &l.cfg.backtest;
    let end = as_of
        .pred_opt()
        .ok_or_else(|| BadInput(format!("--as-of {as_of} is out of range")))?;
    if b.start.is_some_and(|s| s > end) {
        return Err(BadInput(format!(
            "--as-of {as_of}: the simulated book starts at backtest.start {}; plan a later session or pass --positions",
            b.start.map(|d| d.to_string()).unwrap_or_default()
        ))
        .into());
    }
    let mut cfg = l.engine(b.cash, b.start, Some(end));
    // The engine's decisions carry the limits' verdicts (the strategy's record does not).
    cfg.record_decisions = systrade_backtest::KeepDecisions::Last;
    let limits = crate::trend::limits_of(&l.cfg.safety);
    let mut gated =
        systrade_backtest::overlay::Gated::new(l.strategy()?.keep_records(false), limits);
    let result = systrade_backtest::run(&mut gated, &l.data, &cfg).map_err(bad)?;
    let last = gated
        .inner_mut()
        .take_records()
        .pop()
        .ok_or_else(|| BadInput(format!("no decision before {as_of}")))?;
    let (mut record, decision) = match result.decisions.last() {
        // The replay's last step decided this session.
        Some((_, d)) if last.as_of == as_of => (last, d.clone()),
        // The data stops short of the session before: one more step on the final book.
        _ => {
            let pf = final_view(&result);
            let decision = gated.decide(&MarketView::new(as_of, &l.data), &pf);
            let record = gated
                .inner_mut()
                .take_records()
                .pop()
                .ok_or_else(|| anyhow::anyhow!("the step left no record"))?;
            (record, decision)
        }
    };
    let limited = apply_limits(&mut record, &decision, limits, cfg.lot_size);
    Ok(Decided {
        record,
        book: PlanBook::Simulated,
        limited,
        avg_cost: average_costs(&result.fills),
    })
}

/// Average entry price of each position the fills leave open.
pub(crate) fn average_costs(fills: &[systrade_backtest::FillRecord]) -> BTreeMap<Symbol, f64> {
    use systrade_backtest::f;
    let mut pos: BTreeMap<&Symbol, systrade_portfolio::positions::Position> = BTreeMap::new();
    for x in fills {
        let sign = match x.side {
            systrade_core::contracts::Side::Buy => 1.0,
            systrade_core::contracts::Side::Sell => -1.0,
        };
        pos.entry(&x.symbol)
            .or_default()
            .apply(&systrade_portfolio::positions::Execution {
                date: x.date,
                qty: sign * f(x.qty),
                price: f(x.price),
                fee: f(x.fee),
            });
    }
    pos.into_iter()
        .filter(|(_, p)| p.qty != 0.0)
        .map(|(s, p)| (s.clone(), p.avg))
        .collect()
}

/// A plan's decision and what stands around it.
pub struct Decided {
    pub record: DayRecord,
    pub book: PlanBook,
    /// Orders the `[safety]` limits held back or scaled.
    pub limited: Limited,
    /// Average entry price per held ticker (the simulated book's fills; empty for a
    /// positions file, which carries no cost).
    pub avg_cost: BTreeMap<Symbol, f64>,
}

/// The book a replay ends with, as a strategy sees it (stop-outs dated).
pub(crate) fn final_view(r: &systrade_backtest::BacktestResult) -> PortfolioView {
    let s = &r.summary;
    let mut stopped_out = BTreeMap::new();
    for f in r.fills.iter().filter(|f| f.reason == "stop") {
        stopped_out.insert(f.symbol.clone(), f.date);
    }
    PortfolioView {
        equity: s.final_equity,
        cash: s.final_cash,
        positions: s.final_positions.clone(),
        stopped_out,
    }
}

/// Orders the limits held back or scaled, by ticker, with the limit's name.
pub type Limited = BTreeMap<Symbol, &'static str>;

/// Takes the gate's verdicts into the record: an order held back is cancelled, a throttled
/// one sized to the gate's quantity (whole lots toward zero, as the strategy rounds).
fn apply_limits(
    record: &mut DayRecord,
    decision: &systrade_strategy::Decision,
    limits: systrade_backtest::overlay::Limits,
    lot: Option<f64>,
) -> Limited {
    let mut out = Limited::new();
    if !limits.any() {
        return out;
    }
    for row in record.rows.iter_mut().filter(|r| r.order_qty != 0.0) {
        let why = match decision.reasons.get(&row.ticker).map(|w| w.as_ref()) {
            Some("max_positions") => "max_positions",
            Some("drawdown_block") => "drawdown_block",
            Some("drawdown_throttle") => "drawdown_throttle",
            _ => continue,
        };
        let to = match decision.targets.get(&row.ticker) {
            Some(systrade_strategy::Target::Quantity(q)) => *q,
            _ => row.qty,
        };
        let mut order = to - row.qty;
        if let Some(lot) = lot.filter(|x| *x > 0.0) {
            order = (order / lot).trunc() * lot;
        }
        if order.abs() < row.order_qty.abs() {
            row.order_qty = order;
            row.qty_after = row.qty + order;
            row.trade_notional = order.abs() * row.signal.last_close.unwrap_or(0.0);
            out.insert(row.ticker.clone(), why);
        }
    }
    out
}

/// The decision for `as_of` on holdings from a file.
fn from_positions(
    l: &Loaded,
    as_of: NaiveDate,
    path: &Path,
    capital: f64,
) -> anyhow::Result<Decided> {
    if !(capital.is_finite() && capital > 0.0) {
        return Err(BadInput(format!("--capital must be positive, got {capital}")).into());
    }
    let mut strategy: TrendStrategy = l.strategy()?.keep_records(false);
    let book = read_positions(path, &strategy.universe())?;
    let view = MarketView::new(as_of, &l.data);
    let mut held_value = 0.0;
    let mut pf = PortfolioView {
        equity: capital,
        ..PortfolioView::default()
    };
    for (sym, h) in &book {
        strategy.restore(sym, h.stop, h.cooldown_left);
        if let Some(d) = h.stopped_out {
            pf.stopped_out.insert(sym.clone(), d);
        }
        if h.qty > 0.0 {
            let close = view.history(sym).last().map(|b| b.close).ok_or_else(|| {
                BadInput(format!(
                    "{}: {sym} is held but has no bar before {as_of} to value it",
                    path.display()
                ))
            })?;
            held_value += h.qty * close;
            pf.positions.insert(sym.clone(), h.qty);
        }
    }
    pf.cash = capital - held_value;
    // The limits at no drawdown (the file has no history): max_positions applies.
    let limits = crate::trend::limits_of(&l.cfg.safety);
    let mut gated = systrade_backtest::overlay::Gated::new(strategy, limits);
    let decision = gated.decide(&view, &pf);
    let mut record = gated
        .into_inner()
        .take_records()
        .pop()
        .ok_or_else(|| anyhow::anyhow!("the step left no record"))?;
    let lot = l.engine(capital, None, None).lot_size;
    let limited = apply_limits(&mut record, &decision, limits, lot);
    Ok(Decided {
        record,
        book: PlanBook::Positions,
        limited,
        avg_cost: BTreeMap::new(),
    })
}

#[derive(Serialize)]
pub struct PlanSummary<'a> {
    pub as_of: NaiveDate,
    pub decided: NaiveDate,
    pub strategy: &'a str,
    pub book: &'a str,
    pub equity: f64,
    pub cash: f64,
    pub vol_pre_cap: f64,
    pub vol_post_cap: f64,
    pub n_eff: f64,
    pub cap_used: f64,
    pub target_gross: f64,
    pub sleeve_risk_shares: &'a BTreeMap<String, f64>,
    pub sleeve_residual: f64,
    pub reasons: BTreeMap<&'static str, usize>,
    pub n_orders: usize,
    pub no_data: Vec<&'a Symbol>,
    /// Orders the `[safety]` limits held back or scaled, with the limit.
    pub limited: &'a Limited,
}

/// Which book a plan decided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanBook {
    /// The config's backtest replayed up to the session.
    Simulated,
    /// Holdings from a positions file and the capital.
    Positions,
}

impl PlanBook {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanBook::Simulated => "simulated",
            PlanBook::Positions => "positions",
        }
    }
}

/// The decision for `as_of` on the simulated book, or on `holdings` (a positions file and
/// the capital); with the orders the config's `[safety]` limits held back (simulated book).
pub fn decide(
    l: &Loaded,
    as_of: NaiveDate,
    holdings: Option<(&Path, f64)>,
) -> anyhow::Result<Decided> {
    match holdings {
        Some((p, c)) => from_positions(l, as_of, p, c),
        None => simulated(l, as_of),
    }
}

/// The plan's summary (`plan_D.json`).
pub fn summary<'a>(record: &'a DayRecord, book: PlanBook, limited: &'a Limited) -> PlanSummary<'a> {
    let mut reasons = BTreeMap::new();
    for r in &record.rows {
        *reasons.entry(r.reason.as_str()).or_insert(0) += 1;
    }
    PlanSummary {
        as_of: record.as_of,
        decided: record.decided,
        strategy: "trend",
        book: book.as_str(),
        equity: record.equity,
        cash: record.cash,
        vol_pre_cap: record.sizing.vol_pre_cap,
        vol_post_cap: record.sizing.vol_post_cap,
        n_eff: record.sizing.n_eff,
        cap_used: record.sizing.cap_used,
        target_gross: record.sizing.gross,
        sleeve_risk_shares: &record.sizing.sleeve_shares,
        sleeve_residual: record.sizing.sleeve_residual,
        reasons,
        n_orders: record.rows.iter().filter(|r| r.order_qty != 0.0).count(),
        no_data: record
            .rows
            .iter()
            .filter(|r| !r.data_ok)
            .map(|r| &r.ticker)
            .collect(),
        limited,
    }
}

/// Writes the plan's files into `out`: `targets_D.csv`, `orders_D.csv`, `snapshot_D.csv`,
/// `logs/desired_trades.jsonl` and `plan_D.json`, each atomically.
pub fn write(out: &Path, record: &DayRecord, summary: &PlanSummary<'_>) -> anyhow::Result<()> {
    let d = record.as_of;
    let orders = orders_csv("trend", record)?;
    let log = desired_trades_jsonl(std::slice::from_ref(record))?;
    let write = || -> anyhow::Result<()> {
        write_atomic(
            &out.join(format!("targets_{d}.csv")),
            targets_csv(record).as_bytes(),
        )?;
        write_atomic(&out.join(format!("orders_{d}.csv")), orders.as_bytes())?;
        write_atomic(
            &out.join(format!("snapshot_{d}.csv")),
            format!("{SNAPSHOT_HEADER}\n{}", snapshot_rows(record)).as_bytes(),
        )?;
        write_atomic(&out.join("logs/desired_trades.jsonl"), log.as_bytes())?;
        write_json_atomic(&out.join(format!("plan_{d}.json")), summary)?;
        Ok(())
    };
    write().with_context(|| format!("writing {}", out.display()))
}
