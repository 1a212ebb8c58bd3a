//! The AVWAP backtest: after each close the scan (the same as `systrade scan`); at the next
//! open the candidates are sized, gated (the daily run's [`systrade_risk::gates::evaluate`])
//! and entered; exits run through [`Tracker`] — intraday stops where the symbol has
//! intraday bars that session, the daily fallback elsewhere — and each trade says which.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use systrade_core::calendar::Calendar;
use systrade_core::{DailyBar, Symbol};
use systrade_risk::SafetyLimits;
use systrade_risk::gates::{Candidate, GateContext, evaluate};

use crate::analytics::{TradeStats, stats};
use crate::entry::{self, StopBasis};
use crate::exits::{Exit, ExitReason, Tracker};
use crate::intraday::Sessions;
use crate::panel::Panel;
use crate::params::AvwapParams;
use crate::scan::{ScanRow, scan_unchecked};
use crate::stops::{StopPath, StopPoint, StopSource, submit_from};

/// The simulated account.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub cash: f64,
    /// First session traded (earlier bars feed the indicators).
    pub start: Option<NaiveDate>,
    /// Last session traded.
    pub end: Option<NaiveDate>,
    /// Fee, basis points of traded notional.
    pub fee_bps: f64,
    /// Half-spread slippage, basis points, against every fill.
    pub slippage_bps: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            cash: 100_000.0,
            start: None,
            end: None,
            fee_bps: 0.0,
            slippage_bps: 0.0,
        }
    }
}

/// What a backtest reads.
pub struct Inputs<'a> {
    pub panels: &'a BTreeMap<Symbol, Panel>,
    /// One-minute bars of the regular session per symbol, by session; symbols (or sessions)
    /// without them use the daily fallback.
    pub sessions: &'a BTreeMap<Symbol, Sessions>,
    pub params: &'a AvwapParams,
    pub safety: &'a SafetyLimits,
    pub settings: &'a Settings,
    pub cal: &'a dyn Calendar,
}

/// A candidate of a scan and what became of it at the next open.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateOutcome {
    pub row: ScanRow,
    /// The session it could be entered in (`None`: the data ended).
    pub entry_date: Option<NaiveDate>,
    /// `entered`, or the reason codes it was not (`;`-joined).
    pub outcome: String,
    pub qty: Option<u64>,
    pub stop: Option<f64>,
    pub basis: Option<StopBasis>,
    /// The risk budget the quantity was sized to.
    pub budget: Option<f64>,
    pub entry_price: Option<f64>,
    /// The gates that refused it (empty: allowed, or skipped before the gates).
    pub gates: Vec<systrade_core::contracts::ReasonCode>,
}

impl CandidateOutcome {
    /// A candidate of `row`'s scan, not sized yet.
    pub fn new(row: ScanRow, entry_date: Option<NaiveDate>, outcome: &str) -> Self {
        CandidateOutcome {
            row,
            entry_date,
            outcome: outcome.to_string(),
            qty: None,
            stop: None,
            basis: None,
            budget: None,
            entry_price: None,
            gates: Vec::new(),
        }
    }
}

/// One trade.
#[derive(Debug, Clone, PartialEq)]
pub struct Trade {
    pub id: usize,
    pub symbol: Symbol,
    pub scan: ScanRow,
    pub entry_date: NaiveDate,
    /// Fill price (slippage included).
    pub entry_price: f64,
    pub qty: u64,
    pub initial_stop: f64,
    pub stop_basis: StopBasis,
    /// `qty · (entry − initial stop)`.
    pub risk: f64,
    /// The risk budget the quantity was sized to.
    pub budget: f64,
    pub exit: Exit,
    /// Exit fill price (slippage included); the mark for an open trade.
    pub exit_price: f64,
    pub fees: f64,
    /// Net of fees.
    pub pnl: f64,
    pub stats: TradeStats,
    pub holding_days: u32,
    pub intraday_days: u32,
    pub daily_days: u32,
    pub path: Vec<StopPoint>,
    pub open: bool,
}

impl Trade {
    /// `intraday`, `daily` or `mixed`: how the stops were managed while held.
    pub fn stop_mode(&self) -> &'static str {
        crate::analytics::stop_mode(self.intraday_days, self.daily_days)
    }
}

/// The portfolio after a session's close.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub date: NaiveDate,
    pub equity: f64,
    pub cash: f64,
    /// Market value of the positions / equity.
    pub gross: f64,
    pub n_positions: usize,
    pub ret: f64,
}

/// Everything a backtest produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub series: Vec<Row>,
    pub trades: Vec<Trade>,
    pub candidates: Vec<CandidateOutcome>,
}

struct Open {
    id: usize,
    symbol: Symbol,
    scan: ScanRow,
    entry_date: NaiveDate,
    entry_price: f64,
    qty: u64,
    initial_stop: f64,
    basis: StopBasis,
    budget: f64,
    entry_fee: f64,
    tracker: Tracker,
}

struct Book<'a> {
    x: &'a Inputs<'a>,
    cash: f64,
    open: Vec<Open>,
    trades: Vec<Trade>,
    last_close: BTreeMap<Symbol, f64>,
    next_id: usize,
}

impl Book<'_> {
    fn fee(&self, notional: f64) -> f64 {
        notional.abs() * self.x.settings.fee_bps / 10_000.0
    }

    fn slip(&self) -> f64 {
        self.x.settings.slippage_bps / 10_000.0
    }

    fn equity(&self) -> f64 {
        self.cash
            + self
                .open
                .iter()
                .map(|o| {
                    o.qty as f64
                        * self
                            .last_close
                            .get(&o.symbol)
                            .copied()
                            .unwrap_or(o.entry_price)
                })
                .sum::<f64>()
    }

    fn close_trade(&mut self, o: Open, exit: Exit, bar_low: f64, open_trade: bool) {
        let fill = if open_trade {
            exit.price
        } else {
            (exit.price * (1.0 - self.slip())).max(bar_low.min(exit.price))
        };
        let exit_fee = if open_trade {
            0.0
        } else {
            self.fee(fill * o.qty as f64)
        };
        if !open_trade {
            self.cash += fill * o.qty as f64 - exit_fee;
        }
        let fees = o.entry_fee + exit_fee;
        let t = &o.tracker;
        self.trades.push(Trade {
            id: o.id,
            stats: stats(o.entry_price, o.initial_stop, fill, t.worst, t.best),
            holding_days: t.held,
            intraday_days: t.intraday_days,
            daily_days: t.daily_days,
            path: t.path.points().to_vec(),
            symbol: o.symbol,
            scan: o.scan,
            entry_date: o.entry_date,
            entry_price: o.entry_price,
            qty: o.qty,
            initial_stop: o.initial_stop,
            stop_basis: o.basis,
            risk: o.qty as f64 * (o.entry_price - o.initial_stop),
            budget: o.budget,
            exit,
            exit_price: fill,
            fees,
            pnl: (fill - o.entry_price) * o.qty as f64 - fees,
            open: open_trade,
        });
    }
}

/// Runs the backtest.
pub fn run(x: &Inputs<'_>) -> Outcome {
    let mut dates: Vec<NaiveDate> = x
        .panels
        .values()
        .flat_map(|p| p.bars.iter().map(|b| b.ts))
        .collect();
    dates.sort_unstable();
    dates.dedup();
    let start = x.settings.start;
    let end = x.settings.end;
    let in_range = |d: NaiveDate| start.is_none_or(|s| d >= s) && end.is_none_or(|e| d <= e);
    let mut book = Book {
        x,
        cash: x.settings.cash,
        open: Vec::new(),
        trades: Vec::new(),
        last_close: BTreeMap::new(),
        next_id: 1,
    };
    let mut series: Vec<Row> = Vec::new();
    let mut candidates: Vec<CandidateOutcome> = Vec::new();
    let mut pending: Vec<ScanRow> = Vec::new();
    let mut prev_equity = x.settings.cash;
    for (i, &day) in dates.iter().enumerate() {
        let trading = in_range(day);
        exits_at_open(&mut book, day);
        if trading {
            let first = candidates.len();
            candidates.extend(enter(
                &mut book,
                day,
                std::mem::take(&mut pending),
                prev_equity,
            ));
            debug_assert!(
                candidates[first..]
                    .iter()
                    .all(|c| c.entry_date == Some(day))
            );
        } else {
            pending.clear();
        }
        sessions_and_closes(&mut book, day);
        for p in x.panels.values() {
            if let Some(t) = p.index_of(day) {
                book.last_close.insert(p.symbol.clone(), p.bars[t].close);
            }
        }
        let equity = book.equity();
        if trading {
            let gross: f64 = equity - book.cash;
            series.push(Row {
                date: day,
                equity,
                cash: book.cash,
                gross: if equity > 0.0 { gross / equity } else { 0.0 },
                n_positions: book.open.len(),
                ret: if series.is_empty() || prev_equity == 0.0 {
                    0.0
                } else {
                    equity / prev_equity - 1.0
                },
            });
            let has_next = dates.get(i + 1).is_some_and(|d| in_range(*d));
            let scan = scan_unchecked(x.panels, day, x.params.scan.anchor, &x.params.scan);
            let rows: Vec<ScanRow> = scan.candidates().into_iter().cloned().collect();
            if has_next {
                pending = rows;
            } else {
                candidates.extend(
                    rows.into_iter()
                        .map(|row| CandidateOutcome::new(row, None, "no_next_session")),
                );
            }
        }
        prev_equity = equity;
    }
    // Still open at the end: marked to the last close.
    for o in std::mem::take(&mut book.open) {
        let last = x.panels.get(&o.symbol).and_then(|p| p.bars.last());
        let (day, price) = last.map_or((o.entry_date, o.entry_price), |b| (b.ts, b.close));
        let exit = Exit {
            day,
            at: None,
            price,
            reason: ExitReason::EndOfData,
        };
        book.close_trade(o, exit, price, true);
    }
    book.trades.sort_by_key(|t| t.id);
    Outcome {
        series,
        trades: book.trades,
        candidates,
    }
}

/// Close-based exits decided the evening before fill at the open.
fn exits_at_open(book: &mut Book<'_>, day: NaiveDate) {
    let open = std::mem::take(&mut book.open);
    for mut o in open {
        let bar = bar_on(book.x.panels, &o.symbol, day).copied();
        match bar.and_then(|b| o.tracker.at_open(&b).map(|x| (x, b))) {
            Some((exit, b)) => {
                o.tracker.held += 1;
                book.close_trade(o, exit, b.low, false);
            }
            None => book.open.push(o),
        }
    }
}

fn bar_on<'a>(
    panels: &'a BTreeMap<Symbol, Panel>,
    s: &Symbol,
    day: NaiveDate,
) -> Option<&'a DailyBar> {
    let p = panels.get(s)?;
    p.index_of(day).map(|t| &p.bars[t])
}

/// The previous close's candidates: sized at today's open, gated in score order, entered.
fn enter(
    book: &mut Book<'_>,
    day: NaiveDate,
    rows: Vec<ScanRow>,
    equity: f64,
) -> Vec<CandidateOutcome> {
    let x = book.x;
    let slip = book.slip();
    let held: BTreeMap<Symbol, f64> = book
        .open
        .iter()
        .map(|o| {
            let px = book
                .last_close
                .get(&o.symbol)
                .copied()
                .unwrap_or(o.entry_price);
            (o.symbol.clone(), o.qty as f64 * px)
        })
        .collect();
    let price = |s: &Symbol| bar_on(x.panels, s, day).map(|b| b.open * (1.0 + slip));
    let ctx = GateContext {
        as_of: day,
        equity,
        positions: held,
        ..GateContext::default()
    };
    let mut out = plan_entries(x.panels, rows, day, &price, &ctx, x.safety, x.params);
    for o in &mut out {
        if o.outcome != "entered" {
            continue;
        }
        let (Some(price), Some(qty), Some(stop), Some(basis), Some(budget)) =
            (o.entry_price, o.qty, o.stop, o.basis, o.budget)
        else {
            continue;
        };
        let notional = price * qty as f64;
        let fee = book.fee(notional);
        let Some(effective) = submit_from(day, x.params.exits.stop_submit_after) else {
            o.outcome = "no_session_time".into();
            continue;
        };
        if notional + fee > book.cash {
            o.outcome = "insufficient_cash".into();
            continue;
        }
        book.cash -= notional + fee;
        let path = StopPath::new(StopPoint {
            effective,
            level: stop,
            source: StopSource::Initial,
        });
        let anchor = o.row.anchor.map_or(0, |a| a.index);
        let id = book.next_id;
        book.next_id += 1;
        book.open.push(Open {
            id,
            symbol: o.row.symbol.clone(),
            scan: o.row.clone(),
            entry_date: day,
            entry_price: price,
            qty,
            initial_stop: stop,
            basis,
            budget,
            entry_fee: fee,
            tracker: Tracker::new(day, price, anchor, path),
        });
    }
    out
}

/// Sizes a scan's candidates at their entry prices (`price`: the open, or the quote a
/// marketable order goes out at) and gates them in score order against `ctx` (the book's
/// held market values, equity, kill switch…). Each gets an outcome: `entered` (allowed),
/// `already_held`, `no_bar`, `stop_above_entry`, `size_zero`, or the gates' reason codes.
pub fn plan_entries(
    panels: &BTreeMap<Symbol, Panel>,
    rows: Vec<ScanRow>,
    day: NaiveDate,
    price: &dyn Fn(&Symbol) -> Option<f64>,
    ctx: &GateContext,
    safety: &SafetyLimits,
    params: &AvwapParams,
) -> Vec<CandidateOutcome> {
    let mut out: Vec<CandidateOutcome> = Vec::new();
    let mut sized = Vec::new();
    for row in rows {
        let mut o = CandidateOutcome::new(row, Some(day), "");
        let sym = o.row.symbol.clone();
        let (Some(panel), Some(px)) = (panels.get(&sym), price(&sym)) else {
            o.outcome = "no_bar".into();
            out.push(o);
            continue;
        };
        if ctx.positions.get(&sym).is_some_and(|v| *v != 0.0) {
            o.outcome = "already_held".into();
            out.push(o);
            continue;
        }
        o.entry_price = Some(px);
        let swing = panel
            .index_of(o.row.date)
            .and_then(|t| panel.swing_low(t))
            .map(|(_, l)| l);
        let (Some(avwap), Some(atr)) = (o.row.avwap, o.row.atr) else {
            o.outcome = "no_data".into();
            out.push(o);
            continue;
        };
        match entry::size(px, swing, avwap, atr, ctx.equity, &params.entry) {
            Err(skip) => o.outcome = skip.as_str().into(),
            Ok(s) => {
                o.qty = Some(s.qty);
                o.stop = Some(s.stop);
                o.basis = Some(s.basis);
                o.budget = Some(s.budget);
                sized.push(out.len());
            }
        }
        out.push(o);
    }
    let cands: Vec<Candidate> = sized
        .iter()
        .map(|i| Candidate {
            symbol: out[*i].row.symbol.clone(),
            qty: out[*i].qty.unwrap_or(0) as f64,
            price: out[*i].entry_price.unwrap_or(0.0),
            stop: out[*i].stop,
            entry: true,
            data_ok: true,
        })
        .collect();
    let verdicts = evaluate(safety, ctx, &cands);
    for (i, v) in sized.into_iter().zip(verdicts) {
        out[i].gates = v.decision.reasons.clone();
        out[i].outcome = if v.decision.reasons.is_empty() {
            "entered".into()
        } else {
            v.decision
                .reasons
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(";")
        };
    }
    out
}

/// Each held position's session (stops) and close (AVWAP and time exits, daily fallback).
fn sessions_and_closes(book: &mut Book<'_>, day: NaiveDate) {
    let x = book.x;
    let open = std::mem::take(&mut book.open);
    for mut o in open {
        let panel = &x.panels[&o.symbol];
        let Some(t) = panel.index_of(day) else {
            book.open.push(o);
            continue;
        };
        let bar = panel.bars[t];
        let intraday = x
            .sessions
            .get(&o.symbol)
            .and_then(|s| s.get(&day))
            .map(Vec::as_slice)
            .filter(|b| !b.is_empty());
        if let Some(exit) = o
            .tracker
            .session(&bar, intraday, &x.params.exits, x.cal, true)
        {
            o.tracker.held += 1;
            book.close_trade(o, exit, bar.low, false);
            continue;
        }
        o.tracker
            .at_close(panel, t, intraday.is_some(), &x.params.exits, x.cal, true);
        book.open.push(o);
    }
}
