//! The rebalance accounting (bt's `Rebalance`, exactly): on each rebalance the pre-trade
//! value is the base; names no longer wanted are sold whole; every target name is resized to
//! its weight of the base with the fee inside the amount (a buy of `amount` spends `amount`
//! including the fee, a sale raises it net of the fee). Fractional quantities, float64 as
//! the peers compute, no interest; cash may end a rebalance a few fees below zero.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use systrade_core::Symbol;

use crate::select::{Month, decide_with, limit};
use crate::{Fill, Panel, RotationError, RotationParams};

/// A day of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub date: NaiveDate,
    pub equity: f64,
    pub cash: f64,
    /// Market value of the holdings / equity.
    pub gross: f64,
    pub n_positions: usize,
    /// `equity / previous equity − 1` (0 on the first row).
    pub ret: f64,
}

/// What a transaction did to a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TxKind {
    /// A new name bought.
    Buy,
    /// A held name resized to its weight.
    Resize,
    /// A name no longer wanted, sold whole.
    Sell,
}

impl TxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TxKind::Buy => "buy",
            TxKind::Resize => "resize",
            TxKind::Sell => "sell",
        }
    }
}

/// One fill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transaction {
    pub date: NaiveDate,
    pub symbol: Symbol,
    /// Signed units (a sale is negative).
    pub qty: f64,
    pub price: f64,
    pub fee: f64,
    pub kind: TxKind,
    /// `|qty|` over the name's average daily volume before the session
    /// ([`crate::panel::ADV_WINDOW`] bars; `None` without one): the fill's capacity need.
    pub adv_share: Option<f64>,
}

/// Everything a run produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RotationResult {
    pub series: Vec<Row>,
    /// Every rebalance decision inside the window, risk-off ones included.
    pub months: Vec<Month>,
    pub transactions: Vec<Transaction>,
    /// Units held after the last row.
    pub positions: BTreeMap<Symbol, f64>,
    pub final_equity: f64,
}

/// Starting cash and the window traded (either side open).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub cash: f64,
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    /// A bucket's limits on new risk (none by default).
    pub limits: systrade_backtest::overlay::Limits,
}

impl Settings {
    /// All the data, no limits.
    pub fn cash(cash: f64) -> Settings {
        Settings {
            cash,
            start: None,
            end: None,
            limits: systrade_backtest::overlay::Limits::default(),
        }
    }
}

/// The run over the panel's sessions inside the window: a rebalance on each of its month
/// starts (the panel's, so a window that opens mid-month waits for the next one).
pub fn run(
    panel: &Panel,
    p: &RotationParams,
    s: &Settings,
) -> Result<RotationResult, RotationError> {
    run_with(panel, p, s, None)
}

/// [`run`] with the news rule (a name not held whose sentiment blocks gets no new entry).
pub fn run_with(
    panel: &Panel,
    p: &RotationParams,
    s: &Settings,
    news: Option<&crate::news::News>,
) -> Result<RotationResult, RotationError> {
    p.validate().map_err(RotationError::Input)?;
    if p.fill == Fill::NextOpen && panel.open.len() != panel.symbols.len() {
        return Err(RotationError::Input(
            "fill = \"next_open\" needs the opens, and this panel was read without them".into(),
        ));
    }
    if !(s.cash.is_finite() && s.cash > 0.0) {
        return Err(RotationError::Input(format!(
            "starting cash must be positive, got {}",
            s.cash
        )));
    }
    let inside: Vec<usize> = (0..panel.dates.len())
        .filter(|t| {
            let d = panel.dates[*t];
            s.start.is_none_or(|a| d >= a) && s.end.is_none_or(|b| d <= b)
        })
        .collect();
    let (Some(&first), Some(&last)) = (inside.first(), inside.last()) else {
        return Err(RotationError::Input(format!(
            "no session in the window {}..{} (the data has {})",
            s.start.map(|d| d.to_string()).unwrap_or_default(),
            s.end.map(|d| d.to_string()).unwrap_or_default(),
            match (panel.dates.first(), panel.dates.last()) {
                (Some(a), Some(b)) => format!("{a}..{b}"),
                _ => "no sessions".into(),
            }
        )));
    };
    let starts: Vec<usize> = panel
        .month_starts()
        .into_iter()
        .filter(|t| (first..=last).contains(t))
        .collect();
    let fee = p.fee_bps / 10_000.0;
    let k = panel.symbols.len();
    let mut pos = vec![0.0f64; k];
    // The names held (ascending): the book changes only when it trades.
    let mut held_names: Vec<usize> = Vec::new();
    let mut cash = s.cash;
    let mut months: Vec<Month> = Vec::with_capacity(starts.len());
    // Room for every month to sell its book and buy a new one (a hint: it grows past it).
    let mut transactions = Vec::with_capacity(starts.len() * 2 * p.top_n.min(k));
    // A decision waiting for the next open (fill = next_open).
    let mut pending: Option<usize> = None;
    let mut next_start = starts.iter().copied().peekable();
    let mut series: Vec<Row> = Vec::with_capacity(last - first + 1);
    let mut peak = f64::NEG_INFINITY;
    // Without news a month's decision reads only the prices: all of them side by side, in
    // month order. With news it also reads what is held (a held name is not blocked): each in
    // turn below.
    let mut decided = match news {
        None => {
            use rayon::prelude::*;
            starts
                .par_iter()
                .map(|t| decide_with(panel, *t, p, None, &[]))
                .collect::<Vec<Month>>()
        }
        Some(_) => Vec::new(),
    }
    .into_iter();
    for t in first..=last {
        if let Some(m) = pending.take() {
            let book = (&mut pos[..], &mut cash);
            trade(
                panel,
                &mut months[m],
                &panel.open,
                t,
                fee,
                book,
                &mut transactions,
            );
            held_names = names_held(&pos);
        }
        if next_start.peek() == Some(&t) {
            next_start.next();
            let mut month = match decided.next() {
                Some(m) => m,
                None => decide_with(panel, t, p, news, &pos),
            };
            // The limits judge the run's value at this close against its peak so far.
            let value = cash + held_value(panel, &pos, &held_names, t);
            let peak = peak.max(value);
            let drawdown = if peak > 0.0 {
                (1.0 - value / peak).max(0.0)
            } else {
                0.0
            };
            let held: BTreeMap<Symbol, f64> = (0..k)
                .filter(|j| pos[*j] != 0.0 && value > 0.0)
                .map(|j| {
                    (
                        panel.symbols[j].clone(),
                        pos[j] * finite(panel.close[j][t]) / value,
                    )
                })
                .collect();
            limit(&mut month, &held, &s.limits, drawdown);
            months.push(month);
            let m = months.len() - 1;
            match p.fill {
                Fill::Close => {
                    let book = (&mut pos[..], &mut cash);
                    trade(
                        panel,
                        &mut months[m],
                        &panel.close,
                        t,
                        fee,
                        book,
                        &mut transactions,
                    );
                    held_names = names_held(&pos);
                }
                Fill::NextOpen if t < last => pending = Some(m),
                Fill::NextOpen => {}
            }
        }
        let held = held_value(panel, &pos, &held_names, t);
        let equity = cash + held;
        peak = peak.max(equity);
        let ret = series.last().map_or(0.0, |r: &Row| equity / r.equity - 1.0);
        series.push(Row {
            date: panel.dates[t],
            equity,
            cash,
            gross: if equity != 0.0 { held / equity } else { 0.0 },
            n_positions: held_names.len(),
            ret,
        });
    }
    let positions = panel
        .symbols
        .iter()
        .zip(&pos)
        .filter(|(_, q)| **q != 0.0)
        .map(|(s, q)| (s.clone(), *q))
        .collect();
    let final_equity = series.last().map_or(s.cash, |r| r.equity);
    Ok(RotationResult {
        series,
        months,
        transactions,
        positions,
        final_equity,
    })
}

/// The names with a position, ascending.
fn names_held(pos: &[f64]) -> Vec<usize> {
    (0..pos.len()).filter(|j| pos[*j] != 0.0).collect()
}

/// The holdings' value at row `t`'s closes, summed in name order; `held` is
/// [`names_held`]`(pos)`.
fn held_value(panel: &Panel, pos: &[f64], held: &[usize], t: usize) -> f64 {
    debug_assert_eq!(held, names_held(pos));
    held.iter()
        .map(|j| pos[*j] * finite(panel.close[*j][t]))
        .sum()
}

/// Trades a month's targets at row `t` of `prices` (the closes or the opens).
fn trade(
    panel: &Panel,
    month: &mut Month,
    prices: &[Vec<f64>],
    t: usize,
    fee: f64,
    book: (&mut [f64], &mut f64),
    out: &mut Vec<Transaction>,
) {
    let px: Vec<f64> = prices.iter().map(|c| c[t]).collect();
    month.trade_date = Some(panel.dates[t]);
    let targets = month.targets.clone();
    rebalance(panel, &targets, &px, fee, book, t, out);
}

/// A missing price values a holding at 0 (as the peers' `nan_to_num`).
fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// One rebalance at prices `px`.
fn rebalance(
    panel: &Panel,
    targets: &[(Symbol, f64)],
    px: &[f64],
    fee: f64,
    (pos, cash): (&mut [f64], &mut f64),
    t: usize,
    out: &mut Vec<Transaction>,
) {
    let k = pos.len();
    let held: Vec<f64> = (0..k)
        .map(|j| {
            if pos[j] != 0.0 {
                pos[j] * finite(px[j])
            } else {
                0.0
            }
        })
        .collect();
    let base = *cash + held.iter().sum::<f64>();
    if base <= 0.0 {
        return;
    }
    let cols: Vec<(usize, f64)> = targets
        .iter()
        .filter_map(|(s, w)| Some((panel.column(s.as_str())?, *w)))
        .collect();
    let date = panel.dates[t];
    let mut fill = |j: usize, q: f64, kind: crate::run::TxKind, cash: &mut f64, pos: &mut [f64]| {
        let p = px[j];
        *cash -= q * p + q.abs() * p * fee;
        pos[j] += q;
        out.push(Transaction {
            date,
            symbol: panel.symbols[j].clone(),
            qty: q,
            price: p,
            fee: q.abs() * p * fee,
            kind,
            adv_share: panel.adv(j, t).map(|a| q.abs() / a),
        });
    };
    for j in 0..k {
        if !cols.iter().any(|(c, _)| *c == j) && pos[j] != 0.0 && held[j] != 0.0 {
            let q = -pos[j];
            fill(j, q, TxKind::Sell, cash, pos);
            pos[j] = 0.0;
        }
    }
    for (j, w) in cols {
        let p = px[j];
        if !(p.is_finite() && p > 0.0) {
            continue;
        }
        let weight = held[j] / base;
        let amount = (w - weight) * base;
        if amount == 0.0 {
            continue;
        }
        let q = if (amount + held[j]).abs() < 1e-12 * amount.abs().max(1.0) {
            -pos[j]
        } else if amount > 0.0 {
            amount / (p * (1.0 + fee))
        } else {
            amount / (p * (1.0 - fee))
        };
        let kind = if pos[j] == 0.0 {
            TxKind::Buy
        } else {
            TxKind::Resize
        };
        fill(j, q, kind, cash, pos);
    }
}
