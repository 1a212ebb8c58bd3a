//! The daily loop: fill at the open, stops inside the bar, decide after the close, record.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use systrade_core::contracts::{ClientOrderId, Side};
use systrade_core::symbol::{walk_sorted, worth_walking};
use systrade_core::{DailyBar, Symbol};
use systrade_strategy::{Decision, MarketView, PortfolioView, Strategy, Target};

use crate::BacktestError;
use crate::broker::{CostModel, FillAt, dec, f, stop_trigger};

/// What happens to the part of an order the participation cap did not let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Remainder {
    /// Try again at the next bar (the target is re-resolved there).
    #[default]
    Carry,
    /// Drop it.
    Cancel,
}

/// How a backtest runs.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestConfig {
    /// Starting cash.
    pub cash: f64,
    pub fill: FillAt,
    pub costs: CostModel,
    /// First date traded and recorded (earlier bars still feed the strategy's history).
    pub start: Option<NaiveDate>,
    /// Last date traded and recorded.
    pub end: Option<NaiveDate>,
    /// Periods per year for the metrics and per-period costs (252 exchanges, 365 crypto).
    pub periods_per_year: f64,
    /// Largest share of a bar's volume one fill may take (`None`: no cap).
    pub max_participation: Option<f64>,
    pub remainder: Remainder,
    /// Interest on positive cash: the simple rate earned over each dated period (a fraction,
    /// e.g. CDI's daily factor − 1), applied after that date's close.
    pub cash_rate: BTreeMap<NaiveDate, f64>,
    /// Which decisions the result keeps: every one (decisions.jsonl, look-ahead checks), the
    /// last (a plan replaying the book to decide one session), or none (sweeps that only need
    /// the metrics).
    pub record_decisions: KeepDecisions,
    /// Trade in multiples of this many units (rounded toward zero: smaller risk); `None`:
    /// fractional.
    pub lot_size: Option<f64>,
    /// Skip an order whose notional is below this (closing a position always trades).
    pub min_notional: f64,
    /// Skip an order whose notional is below this fraction of equity (closing always trades).
    pub trade_threshold: f64,
}

/// Which of a run's decisions its result keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepDecisions {
    All,
    Last,
    None,
}

impl Default for BacktestConfig {
    fn default() -> Self {
        BacktestConfig {
            cash: 100_000.0,
            fill: FillAt::NextOpen,
            costs: CostModel::default(),
            start: None,
            end: None,
            periods_per_year: 252.0,
            max_participation: None,
            remainder: Remainder::Carry,
            cash_rate: BTreeMap::new(),
            record_decisions: KeepDecisions::All,
            lot_size: None,
            min_notional: 0.0,
            trade_threshold: 0.0,
        }
    }
}

/// One row of `timeseries.csv`: the portfolio after a date's close.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesRow {
    pub date: NaiveDate,
    pub equity: f64,
    pub cash: f64,
    /// Σ |position value| / equity.
    pub gross: f64,
    /// Simple return since the previous row (0 on the first).
    pub ret: f64,
    pub n_positions: usize,
    pub fees: f64,
    /// Traded notional / equity on this date.
    pub turnover: f64,
    /// The decision's diagnostics (extra columns).
    pub extra: BTreeMap<String, f64>,
}

/// One round trip (or the open position at the end), as in the `sma_cross` fixtures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TradeRecord {
    pub symbol: Symbol,
    pub side: Side,
    pub entry_date: NaiveDate,
    pub entry_price: f64,
    pub exit_date: Option<NaiveDate>,
    pub exit_price: Option<f64>,
    pub qty: f64,
    pub entry_fee: f64,
    pub exit_fee: Option<f64>,
    /// Net of fees; for an open trade, marked to the last close (entry fee included).
    pub pnl: f64,
    /// `pnl / (qty · entry_price)`.
    pub ret: f64,
    pub open: bool,
}

/// An order as resolved at its fill (or left unfilled at the end).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderRecord {
    pub id: ClientOrderId,
    pub decided: NaiveDate,
    pub symbol: Symbol,
    pub target: Target,
    pub reason: String,
    /// `filled`, `partial` (capped, remainder carried), `partial_cancelled`, `no_change`
    /// (target already held), `superseded` (a later decision replaced it before it filled),
    /// `unfilled` (no later bar).
    pub status: String,
}

/// One execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FillRecord {
    pub order_id: ClientOrderId,
    pub date: NaiveDate,
    pub symbol: Symbol,
    pub side: Side,
    /// Units, exact.
    pub qty: Decimal,
    /// Price after slippage and impact, exact.
    pub price: Decimal,
    pub fee: Decimal,
    /// |fill price − bar price| · qty.
    pub slippage: Decimal,
    /// Share of the bar's volume this fill took (0 when the bar had no volume).
    pub pct_of_volume: f64,
    /// Why: the order's reason, or `stop` for a protective stop.
    pub reason: String,
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub strategy: String,
    pub fill: FillAt,
    pub costs: CostModel,
    pub max_participation: Option<f64>,
    pub initial_cash: f64,
    pub first_date: Option<NaiveDate>,
    pub last_date: Option<NaiveDate>,
    pub bars: usize,
    pub final_equity: f64,
    pub final_cash: f64,
    pub final_positions: BTreeMap<Symbol, f64>,
    pub n_trades: usize,
    pub n_open_trades: usize,
    pub n_orders: usize,
    pub n_fills: usize,
    pub n_stop_exits: usize,
    pub n_partial_fills: usize,
    pub total_fees: f64,
    pub total_slippage: f64,
    pub total_borrow: f64,
    pub total_interest: f64,
    /// Largest share of a bar's volume any fill needed.
    pub capacity_max_pct_of_volume: f64,
    pub avg_gross_exposure: f64,
    /// Mean traded notional / equity per period × periods per year.
    pub annual_turnover: f64,
    pub metrics: systrade_metrics::Summary,
    pub warnings: Vec<String>,
}

/// Everything a backtest produced.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestResult {
    pub series: Vec<SeriesRow>,
    pub trades: Vec<TradeRecord>,
    pub orders: Vec<OrderRecord>,
    pub fills: Vec<FillRecord>,
    /// The decisions `record_decisions` keeps, each with the date of the close it was made
    /// after.
    pub decisions: Vec<(NaiveDate, Decision)>,
    pub summary: Summary,
}

struct Pending {
    id: ClientOrderId,
    decided: NaiveDate,
    symbol: Symbol,
    target: Target,
    reason: String,
}

#[derive(Default)]
struct OpenTrade {
    side: i8,
    entry_date: Option<NaiveDate>,
    entry_qty: Decimal,
    entry_value: Decimal,
    entry_fee: Decimal,
    exit_qty: Decimal,
    exit_value: Decimal,
    exit_fee: Decimal,
    exit_date: Option<NaiveDate>,
}

/// Daily volatility of simple returns and mean volume over the 20 bars before `date`.
fn sigma_and_adv(bars: &[DailyBar], date: NaiveDate) -> (f64, f64) {
    let end = bars.partition_point(|b| b.ts < date);
    let w = &bars[end.saturating_sub(21)..end];
    if w.len() < 3 {
        return (f64::NAN, 0.0);
    }
    let rets: Vec<f64> = w
        .windows(2)
        .map(|p| p[1].close / p[0].close - 1.0)
        .collect();
    let m = rets.iter().sum::<f64>() / rets.len() as f64;
    let var = rets.iter().map(|r| (r - m) * (r - m)).sum::<f64>() / (rets.len() as f64 - 1.0);
    let adv = w[1..].iter().map(|b| b.volume).sum::<f64>() / (w.len() - 1) as f64;
    (var.sqrt(), adv)
}

struct State<'a> {
    cfg: &'a BacktestConfig,
    data: &'a BTreeMap<Symbol, Vec<DailyBar>>,
    cash: Decimal,
    pos: BTreeMap<Symbol, Decimal>,
    /// f64 mirrors of cash and positions for marking and for the strategy's view, refreshed
    /// on every fill (the exact values stay the books).
    view: PortfolioView,
    last_close: BTreeMap<Symbol, f64>,
    stops: BTreeMap<Symbol, f64>,
    trades: Vec<TradeRecord>,
    open: BTreeMap<Symbol, OpenTrade>,
    orders: Vec<OrderRecord>,
    fills: Vec<FillRecord>,
    day_fees: Decimal,
    day_traded: Decimal,
    borrow: Decimal,
    interest: Decimal,
}

impl<'a> State<'a> {
    fn new(cfg: &'a BacktestConfig, data: &'a BTreeMap<Symbol, Vec<DailyBar>>) -> Self {
        State {
            cfg,
            data,
            cash: dec(cfg.cash),
            pos: BTreeMap::new(),
            view: PortfolioView {
                equity: cfg.cash,
                cash: cfg.cash,
                ..PortfolioView::default()
            },
            last_close: BTreeMap::new(),
            stops: BTreeMap::new(),
            trades: Vec::new(),
            open: BTreeMap::new(),
            orders: Vec::new(),
            fills: Vec::new(),
            day_fees: Decimal::ZERO,
            day_traded: Decimal::ZERO,
            borrow: Decimal::ZERO,
            interest: Decimal::ZERO,
        }
    }

    fn equity_at(&self, symbol: &Symbol, price: Decimal) -> Decimal {
        let mut eq = self.cash;
        for (s, q) in &self.pos {
            let p = if s == symbol {
                price
            } else {
                dec(self.last_close.get(s).copied().unwrap_or(0.0))
            };
            eq += *q * p;
        }
        eq
    }

    fn marked_equity(&self) -> f64 {
        let held: f64 = self
            .view
            .positions
            .iter()
            .map(|(s, q)| q * self.last_close.get(s).copied().unwrap_or(0.0))
            .sum();
        self.view.cash + held
    }

    fn refresh_view(&mut self, symbol: &Symbol) {
        self.view.cash = f(self.cash);
        match self.pos.get(symbol) {
            Some(q) => {
                self.view.positions.insert(symbol.clone(), f(*q));
            }
            None => {
                self.view.positions.remove(symbol);
                // A flat position has nothing left to protect.
                self.stops.remove(symbol);
            }
        }
    }

    fn record_order(&mut self, o: &Pending, status: &str) {
        self.orders.push(OrderRecord {
            id: o.id.clone(),
            decided: o.decided,
            symbol: o.symbol.clone(),
            target: o.target,
            reason: o.reason.clone(),
            status: status.to_string(),
        });
    }

    /// Resolves and executes one order at `price` on `bar` of `date`, taking at most `cap` of
    /// the bar's volume. Returns the order when part of it must be carried to the next bar.
    fn execute(
        &mut self,
        o: Pending,
        date: NaiveDate,
        price: f64,
        bar: &DailyBar,
        cap: Option<f64>,
    ) -> Option<Pending> {
        let costs: CostModel = self.cfg.costs;
        let p = dec(price);
        let held = self.pos.get(&o.symbol).copied().unwrap_or(Decimal::ZERO);
        let mut delta = match o.target {
            Target::Hold => Decimal::ZERO,
            Target::Flat => -held,
            Target::Quantity(q) => dec(q) - held,
            Target::Weight(w) => {
                let eq = self.equity_at(&o.symbol, p);
                if p.is_zero() {
                    Decimal::ZERO
                } else {
                    dec(w) * eq / p - held
                }
            }
        };
        let side: i8 = if delta > Decimal::ZERO { 1 } else { -1 };
        let impact = if costs.impact_k > 0.0 {
            let (sigma, adv) = self
                .data
                .get(&o.symbol)
                .map_or((f64::NAN, 0.0), |b| sigma_and_adv(b, date));
            costs.impact(f(delta), sigma, adv)
        } else {
            0.0
        };
        let fill_price = costs.fill_price(p, side, impact, bar);
        if delta > Decimal::ZERO {
            delta = costs.affordable(delta, fill_price, self.cash);
        }
        let mut capped = false;
        if let Some(cap) = cap {
            let limit = dec(cap * bar.volume.max(0.0));
            if delta.abs() > limit {
                delta = if delta > Decimal::ZERO { limit } else { -limit };
                capped = true;
            }
        }
        if let Some(lot) = self.cfg.lot_size.filter(|l| *l > 0.0)
            && !matches!(o.target, Target::Flat)
        {
            let lot = dec(lot);
            delta = (delta / lot).trunc() * lot;
        }
        if !delta.is_zero() && !matches!(o.target, Target::Flat) {
            let notional = f(delta.abs() * p);
            let floor = self
                .cfg
                .min_notional
                .max(self.cfg.trade_threshold * f(self.equity_at(&o.symbol, p)));
            if notional < floor {
                self.record_order(&o, "below_threshold");
                return None;
            }
        }
        if delta.is_zero() {
            if capped {
                return self.leftover(o);
            }
            self.record_order(&o, "no_change");
            return None;
        }
        let qty = delta.abs();
        let fee = costs.fee(qty, fill_price);
        self.cash -= delta * fill_price + fee;
        let new_pos = held + delta;
        if new_pos.is_zero() {
            self.pos.remove(&o.symbol);
        } else {
            self.pos.insert(o.symbol.clone(), new_pos);
        }
        self.refresh_view(&o.symbol);
        self.day_fees += fee;
        self.day_traded += qty * fill_price;
        self.fills.push(FillRecord {
            order_id: o.id.clone(),
            date,
            symbol: o.symbol.clone(),
            side: if side > 0 { Side::Buy } else { Side::Sell },
            qty,
            price: fill_price,
            fee,
            slippage: qty * (fill_price - p).abs(),
            pct_of_volume: if bar.volume > 0.0 {
                f(qty) / bar.volume
            } else {
                0.0
            },
            reason: o.reason.clone(),
        });
        self.book_trade(&o.symbol, date, held, delta, fill_price, fee);
        if capped {
            return self.leftover(o);
        }
        self.record_order(&o, "filled");
        None
    }

    fn leftover(&mut self, o: Pending) -> Option<Pending> {
        match self.cfg.remainder {
            Remainder::Carry => {
                self.record_order(&o, "partial");
                Some(o)
            }
            Remainder::Cancel => {
                self.record_order(&o, "partial_cancelled");
                None
            }
        }
    }

    /// Protective stops inside today's bar: a long's stop triggers when the low reaches it and
    /// fills at the stop, or at the open when the bar gapped through it (a short mirrors).
    fn check_stops(
        &mut self,
        date: NaiveDate,
        today: &[(&Symbol, DailyBar)],
    ) -> Result<(), BacktestError> {
        let due: Vec<(Symbol, f64, f64, DailyBar)> = self
            .stops
            .iter()
            .filter_map(|(s, level)| {
                let bar = bar_on(today, s)?;
                let held = self.view.qty(s);
                if held == 0.0 {
                    return None;
                }
                stop_trigger(*level, held > 0.0, &bar).map(|px| (s.clone(), *level, px, bar))
            })
            .collect();
        for (s, _level, price, bar) in due {
            let side = if self.view.qty(&s) > 0.0 {
                Side::Sell
            } else {
                Side::Buy
            };
            let id = ClientOrderId::derive("stop", date, &s, side, "stop")?;
            let o = Pending {
                id,
                decided: date,
                symbol: s.clone(),
                target: Target::Flat,
                reason: "stop".into(),
            };
            // A protective stop is the exit that must happen: no participation cap.
            let _ = self.execute(o, date, price, &bar, None);
            self.view.stopped_out.insert(s, date);
        }
        Ok(())
    }

    /// Round-trip accounting; a fill through zero closes one trade and opens the next.
    fn book_trade(
        &mut self,
        symbol: &Symbol,
        date: NaiveDate,
        held: Decimal,
        delta: Decimal,
        price: Decimal,
        fee: Decimal,
    ) {
        let side: i8 = if delta > Decimal::ZERO { 1 } else { -1 };
        let held_side: i8 = if held > Decimal::ZERO {
            1
        } else if held < Decimal::ZERO {
            -1
        } else {
            0
        };
        if held_side == 0 || held_side == side {
            let t = self.open.entry(symbol.clone()).or_default();
            t.side = side;
            t.entry_date.get_or_insert(date);
            t.entry_qty += delta.abs();
            t.entry_value += delta.abs() * price;
            t.entry_fee += fee;
            return;
        }
        let closing = delta.abs().min(held.abs());
        let opening = delta.abs() - closing;
        let share = if delta.abs().is_zero() {
            Decimal::ONE
        } else {
            closing / delta.abs()
        };
        if let Some(t) = self.open.get_mut(symbol) {
            t.exit_qty += closing;
            t.exit_value += closing * price;
            t.exit_fee += fee * share;
            t.exit_date = Some(date);
            if t.exit_qty >= t.entry_qty
                && let Some(t) = self.open.remove(symbol)
            {
                self.trades.push(close_record(symbol, &t, None));
            }
        }
        if opening > Decimal::ZERO {
            let t = self.open.entry(symbol.clone()).or_default();
            t.side = side;
            t.entry_date = Some(date);
            t.entry_qty = opening;
            t.entry_value = opening * price;
            t.entry_fee = fee * (Decimal::ONE - share);
        }
    }

    /// After the close: interest on positive cash and borrow on shorts for the period.
    fn carry(&mut self, date: NaiveDate) {
        if let Some(r) = self.cfg.cash_rate.get(&date)
            && self.cash > Decimal::ZERO
        {
            let earned = self.cash * dec(*r);
            self.cash += earned;
            self.interest += earned;
        }
        if self.cfg.costs.borrow_bps > 0.0 {
            let per_period = dec(self.cfg.costs.borrow_bps)
                / Decimal::from(10_000)
                / dec(self.cfg.periods_per_year);
            let short_value: Decimal = self
                .pos
                .iter()
                .filter(|(_, q)| **q < Decimal::ZERO)
                .map(|(s, q)| -*q * dec(self.last_close.get(s).copied().unwrap_or(0.0)))
                .sum();
            let cost = short_value * per_period;
            self.cash -= cost;
            self.borrow += cost;
        }
        self.view.cash = f(self.cash);
    }
}

fn close_record(symbol: &Symbol, t: &OpenTrade, mark: Option<(NaiveDate, f64)>) -> TradeRecord {
    let sign = if t.side >= 0 {
        Decimal::ONE
    } else {
        -Decimal::ONE
    };
    let entry_price = if t.entry_qty.is_zero() {
        Decimal::ZERO
    } else {
        t.entry_value / t.entry_qty
    };
    let (exit_price, exit_fee, open) = match mark {
        Some((_, close)) => (dec(close), Decimal::ZERO, true),
        None => (
            if t.exit_qty.is_zero() {
                Decimal::ZERO
            } else {
                t.exit_value / t.exit_qty
            },
            t.exit_fee,
            false,
        ),
    };
    let qty = t.entry_qty;
    let pnl = (exit_price - entry_price) * qty * sign - t.entry_fee - exit_fee;
    let basis = qty * entry_price;
    TradeRecord {
        symbol: symbol.clone(),
        side: if t.side >= 0 { Side::Buy } else { Side::Sell },
        entry_date: t.entry_date.unwrap_or(NaiveDate::MIN),
        entry_price: f(entry_price),
        exit_date: if open { None } else { t.exit_date },
        exit_price: if open { None } else { Some(f(exit_price)) },
        qty: f(qty),
        entry_fee: f(t.entry_fee),
        exit_fee: if open { None } else { Some(f(exit_fee)) },
        pnl: f(pnl),
        ret: if basis.is_zero() { 0.0 } else { f(pnl / basis) },
        open,
    }
}

/// The bar of `symbol` among today's (kept in symbol order).
fn bar_on(today: &[(&Symbol, DailyBar)], symbol: &Symbol) -> Option<DailyBar> {
    today
        .binary_search_by(|(s, _)| (*s).cmp(symbol))
        .ok()
        .map(|i| today[i].1)
}

/// Sets each of today's closes in `closes`. Today's bars come in universe order; when that
/// is ascending (a strategy's universe usually is), one walk along the map finds them all
/// instead of a search per symbol and session.
fn set_closes(closes: &mut BTreeMap<Symbol, f64>, today: &[(&Symbol, DailyBar)]) {
    let mut new = Vec::new();
    let walked = worth_walking(today.len(), closes.len())
        .then(|| walk_sorted(closes.iter_mut(), today.iter().map(|(s, _)| *s)))
        .flatten();
    match walked {
        Some(slots) => {
            for (slot, (s, b)) in slots.into_iter().zip(today) {
                match slot {
                    Some(c) => *c = b.close,
                    None => new.push((*s, b.close)),
                }
            }
        }
        None => {
            for (s, b) in today {
                match closes.get_mut(*s) {
                    Some(c) => *c = b.close,
                    None => new.push((*s, b.close)),
                }
            }
        }
    }
    for (s, c) in new {
        closes.insert(s.clone(), c);
    }
}

/// True when an order only shrinks the position toward zero (it frees cash).
fn reduces(target: Target, held: f64) -> bool {
    match target {
        Target::Hold => false,
        Target::Flat => held != 0.0,
        Target::Quantity(q) => q * held >= 0.0 && q.abs() < held.abs(),
        // Whether a weight shrinks the position depends on the fill price; only 0 surely does.
        Target::Weight(w) => w == 0.0 && held != 0.0,
    }
}

/// The side an order moves the position (for its id): up is a buy.
fn side_of(target: Target, held: f64) -> Side {
    let up = match target {
        Target::Flat => held < 0.0,
        Target::Weight(w) => w > 0.0 || (w == 0.0 && held < 0.0),
        Target::Quantity(q) => q > held,
        Target::Hold => true,
    };
    if up { Side::Buy } else { Side::Sell }
}

/// Runs `strategy` over `data` (daily bars per symbol, sorted by date).
pub fn run(
    strategy: &mut dyn Strategy,
    data: &BTreeMap<Symbol, Vec<DailyBar>>,
    cfg: &BacktestConfig,
) -> Result<BacktestResult, BacktestError> {
    run_observed(strategy, data, cfg, &mut |_, _| {})
}

/// [`run`], handing each decision to `observe` as it is made (with the date of the close it
/// was made after), whatever `record_decisions` keeps: a long run can write its decisions as
/// it goes instead of holding them.
pub fn run_observed(
    strategy: &mut dyn Strategy,
    data: &BTreeMap<Symbol, Vec<DailyBar>>,
    cfg: &BacktestConfig,
    observe: &mut (dyn FnMut(NaiveDate, &Decision) + Send),
) -> Result<BacktestResult, BacktestError> {
    // The replay runs on a thread of the pool: a strategy that works its tickers in parallel
    // every session then joins its helpers there instead of putting the caller to sleep and
    // waking it once per session (on the caller's own thread it would wait on the pool).
    rayon::scope(|_| replay(strategy, data, cfg, observe))
}

fn replay(
    strategy: &mut dyn Strategy,
    data: &BTreeMap<Symbol, Vec<DailyBar>>,
    cfg: &BacktestConfig,
    observe: &mut (dyn FnMut(NaiveDate, &Decision) + Send),
) -> Result<BacktestResult, BacktestError> {
    if !(cfg.cash.is_finite() && cfg.cash > 0.0) {
        return Err(BacktestError::Input(format!(
            "starting cash must be positive, got {}",
            cfg.cash
        )));
    }
    cfg.costs.validate().map_err(BacktestError::Input)?;
    if let Some(c) = cfg.max_participation
        && !(c.is_finite() && c > 0.0 && c <= 1.0)
    {
        return Err(BacktestError::Input(format!(
            "max participation must be in (0, 1], got {c}"
        )));
    }
    if let (Some(s), Some(e)) = (cfg.start, cfg.end)
        && s > e
    {
        return Err(BacktestError::Input(format!(
            "--start {s} is after --end {e}"
        )));
    }
    let universe = strategy.universe();
    for s in &universe {
        if !data.contains_key(s) {
            return Err(BacktestError::Input(format!(
                "unknown symbol {s}: not in the data"
            )));
        }
    }
    let in_range =
        |d: &NaiveDate| cfg.start.is_none_or(|s| *d >= s) && cfg.end.is_none_or(|e| *d <= e);
    let mut dates: Vec<NaiveDate> = universe
        .iter()
        .flat_map(|s| data[s].iter().map(|b| b.ts))
        .filter(in_range)
        .collect();
    dates.sort();
    dates.dedup();
    let Some(&first_date) = dates.first() else {
        return Err(BacktestError::Input(
            "no bars between --start and --end for the strategy's symbols".into(),
        ));
    };

    let mut st = State::new(cfg, data);
    // Closes before the first recorded date mark positions from the start.
    for s in &universe {
        if let Some(b) = data[s].iter().take_while(|b| b.ts < first_date).last() {
            st.last_close.insert(s.clone(), b.close);
        }
    }
    let series_of: Vec<(&Symbol, &[DailyBar])> =
        universe.iter().map(|s| (s, data[s].as_slice())).collect();
    let mut cursor: Vec<usize> = series_of
        .iter()
        .map(|(_, b)| b.partition_point(|x| x.ts < first_date))
        .collect();
    // Today's bars in universe (symbol) order; the buffer is reused across dates.
    let mut today: Vec<(&Symbol, DailyBar)> = Vec::with_capacity(universe.len());
    let mut pending: Vec<Pending> = Vec::new();
    let mut series: Vec<SeriesRow> = Vec::with_capacity(dates.len());
    let mut decisions = Vec::with_capacity(match cfg.record_decisions {
        KeepDecisions::All => dates.len(),
        KeepDecisions::Last => 1,
        KeepDecisions::None => 0,
    });
    let mut prev_equity = cfg.cash;

    for &date in &dates {
        st.day_fees = Decimal::ZERO;
        st.day_traded = Decimal::ZERO;
        today.clear();
        for ((sym, bars), i) in series_of.iter().zip(cursor.iter_mut()) {
            if let Some(b) = bars.get(*i).filter(|b| b.ts == date) {
                today.push((sym, *b));
                *i += 1;
            }
        }
        if matches!(cfg.fill, FillAt::NextOpen | FillAt::NextVwap) && !pending.is_empty() {
            let mut carried = Vec::new();
            // Reductions first, as a broker would: their cash pays for the buys.
            let mut due = std::mem::take(&mut pending);
            due.sort_by_key(|o| !reduces(o.target, st.view.qty(&o.symbol)));
            for o in due {
                match bar_on(&today, &o.symbol) {
                    Some(bar) => carried.extend(st.execute(
                        o,
                        date,
                        if cfg.fill == FillAt::NextVwap {
                            bar.ohlcv().typical()
                        } else {
                            bar.open
                        },
                        &bar,
                        cfg.max_participation,
                    )),
                    None => carried.push(o),
                }
            }
            pending = carried;
        }
        if !st.stops.is_empty() {
            st.check_stops(date, &today)?;
        }
        set_closes(&mut st.last_close, &today);

        // Decide after the close: the view holds bars dated on or before `date`.
        let cut = date.succ_opt().unwrap_or(date);
        let view = MarketView::new(cut, data);
        st.view.equity = st.marked_equity();
        let decision = strategy.decide(&view, &st.view);
        for (sym, target) in &decision.targets {
            if matches!(target, Target::Hold) {
                continue;
            }
            let reason = decision
                .reasons
                .get(sym)
                .map(|r| r.to_string())
                .unwrap_or_default();
            let side = side_of(*target, st.view.qty(sym));
            let id = ClientOrderId::derive(strategy.name(), date, sym, side, &reason)?;
            let o = Pending {
                id,
                decided: date,
                symbol: sym.clone(),
                target: *target,
                reason,
            };
            // A new target replaces any order still waiting for this symbol.
            if pending.iter().any(|p| &p.symbol == sym) {
                let (stale, keep): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut pending)
                    .into_iter()
                    .partition(|p| &p.symbol == sym);
                pending = keep;
                for p in &stale {
                    st.record_order(p, "superseded");
                }
            }
            match (cfg.fill, bar_on(&today, sym)) {
                (FillAt::SameClose, Some(bar)) => {
                    pending.extend(st.execute(o, date, bar.close, &bar, cfg.max_participation))
                }
                _ => pending.push(o),
            }
        }
        for (sym, level) in &decision.stops {
            if level.is_finite()
                && (st.view.qty(sym) != 0.0 || pending.iter().any(|o| &o.symbol == sym))
            {
                st.stops.insert(sym.clone(), *level);
            }
        }
        let extra = decision.diagnostics.clone();
        observe(date, &decision);
        match cfg.record_decisions {
            KeepDecisions::All => decisions.push((date, decision)),
            KeepDecisions::Last => {
                decisions.clear();
                decisions.push((date, decision));
            }
            KeepDecisions::None => {}
        }
        st.carry(date);

        let equity = st.marked_equity();
        let gross: f64 = st
            .view
            .positions
            .iter()
            .map(|(s, q)| (q * st.last_close.get(s).copied().unwrap_or(0.0)).abs())
            .sum();
        series.push(SeriesRow {
            date,
            equity,
            cash: st.view.cash,
            gross: if equity != 0.0 { gross / equity } else { 0.0 },
            ret: if series.is_empty() {
                0.0
            } else {
                equity / prev_equity - 1.0
            },
            n_positions: st.pos.len(),
            fees: if st.day_fees.is_zero() {
                0.0
            } else {
                f(st.day_fees)
            },
            turnover: if equity != 0.0 && !st.day_traded.is_zero() {
                f(st.day_traded) / equity
            } else {
                0.0
            },
            extra,
        });
        prev_equity = equity;
    }
    for o in std::mem::take(&mut pending) {
        st.record_order(&o, "unfilled");
    }
    let last_date = dates[dates.len() - 1];
    let open_trades: Vec<(Symbol, OpenTrade)> = std::mem::take(&mut st.open).into_iter().collect();
    for (s, t) in &open_trades {
        let close = st.last_close.get(s).copied().unwrap_or(0.0);
        st.trades.push(close_record(s, t, Some((last_date, close))));
    }

    let rets: Vec<f64> = series.iter().skip(1).map(|r| r.ret).collect();
    let ret_dates: Vec<NaiveDate> = series.iter().skip(1).map(|r| r.date).collect();
    let metrics = systrade_metrics::summarize(&ret_dates, &rets, None, cfg.periods_per_year)
        .map_err(|e| BacktestError::Input(format!("metrics: {e}")))?;
    let mut warnings = Vec::new();
    if st.orders.iter().any(|o| o.status == "unfilled") {
        warnings
            .push("an order decided on the last bar(s) was not filled (no later bar)".to_string());
    }
    let partial = st
        .orders
        .iter()
        .filter(|o| o.status.starts_with("partial"))
        .count();
    if partial > 0 {
        warnings.push(format!("{partial} fills were capped by max participation"));
    }
    let summary = Summary {
        strategy: strategy.name().to_string(),
        fill: cfg.fill,
        costs: cfg.costs,
        max_participation: cfg.max_participation,
        initial_cash: cfg.cash,
        first_date: Some(first_date),
        last_date: Some(last_date),
        bars: dates.len(),
        final_equity: st.marked_equity(),
        final_cash: f(st.cash),
        final_positions: st.pos.iter().map(|(s, q)| (s.clone(), f(*q))).collect(),
        n_trades: st.trades.iter().filter(|t| !t.open).count(),
        n_open_trades: st.trades.iter().filter(|t| t.open).count(),
        n_orders: st.orders.iter().filter(|o| o.status == "filled").count(),
        n_fills: st.fills.len(),
        n_stop_exits: st.fills.iter().filter(|x| x.reason == "stop").count(),
        n_partial_fills: partial,
        total_fees: st.fills.iter().map(|x| f(x.fee)).sum(),
        total_slippage: st.fills.iter().map(|x| f(x.slippage)).sum(),
        total_borrow: f(st.borrow),
        total_interest: f(st.interest),
        capacity_max_pct_of_volume: st.fills.iter().map(|x| x.pct_of_volume).fold(0.0, f64::max),
        avg_gross_exposure: series.iter().map(|r| r.gross).sum::<f64>() / series.len() as f64,
        annual_turnover: series.iter().map(|r| r.turnover).sum::<f64>() / series.len() as f64
            * cfg.periods_per_year,
        metrics,
        warnings,
    };
    Ok(BacktestResult {
        series,
        trades: st.trades,
        orders: st.orders,
        fills: st.fills,
        decisions,
        summary,
    })
}

/// The parts of a run a parameter sweep reports.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelResult {
    pub final_equity: f64,
    /// Entries filled (round trips plus the open one).
    pub entries: usize,
    /// Exits filled.
    pub exits: usize,
    pub metrics: systrade_metrics::Summary,
}

/// What a sweep computes once per symbol and shares across combinations.
#[derive(Debug, Clone, Copy)]
pub struct KernelInputs<'a> {
    /// `prefix[i]` = Σ of the first `i` exact closes at one scale (`exact_prefix`).
    pub prefix: &'a [i128],
    /// The bars' dates after the first: the dates of the returns.
    pub ret_dates: &'a [NaiveDate],
}

/// True when `sma_cross_kernel` reproduces the engine for this config: no stops, no
/// participation cap, no impact, no borrow, no interest, no date bounds.
pub fn kernel_applies(cfg: &BacktestConfig) -> bool {
    cfg.max_participation.is_none()
        && cfg.fill != FillAt::NextVwap
        && cfg.lot_size.is_none()
        && cfg.min_notional == 0.0
        && cfg.trade_threshold == 0.0
        && cfg.costs.impact_k == 0.0
        && cfg.costs.borrow_bps == 0.0
        && cfg.cash_rate.is_empty()
        && cfg.start.is_none()
        && cfg.end.is_none()
}

/// `sma-cross` on one symbol for a sweep: the engine's own fills and books (`State::execute`),
/// driven by exact prefix sums shared across combinations (`prefix[i]` = Σ of the first `i`
/// exact closes at one scale), without the per-bar view, decision records or order ids a
/// sweep does not report. `ret_dates` are the bars' dates after the first (the dates of the
/// returns), shared across combinations too. Tests check it equals [`run`] with `SmaCross`
/// bit for bit.
pub fn sma_cross_kernel(
    symbol: &Symbol,
    data: &BTreeMap<Symbol, Vec<DailyBar>>,
    shared: &KernelInputs<'_>,
    fast: usize,
    slow: usize,
    size: Option<f64>,
    cfg: &BacktestConfig,
) -> Result<KernelResult, BacktestError> {
    use std::cmp::Ordering;
    let (prefix, ret_dates) = (shared.prefix, shared.ret_dates);
    let bars = data
        .get(symbol)
        .ok_or_else(|| BacktestError::Input(format!("unknown symbol {symbol}: not in the data")))?;
    if prefix.len() != bars.len() + 1
        || ret_dates.len() + 1 != bars.len().max(1)
        || fast == 0
        || fast >= slow
    {
        return Err(BacktestError::Input(
            "sma-cross kernel: bad prefix sums or windows".into(),
        ));
    }
    if bars.is_empty() {
        return Err(BacktestError::Input(
            "no bars between --start and --end for the strategy's symbols".into(),
        ));
    }
    // Window sums times window lengths stay far below i128's range unless prices are absurd;
    // then the checked products (a library call each) are used instead.
    let small = prefix.iter().all(|p| p.unsigned_abs() < 1u128 << 100);
    let relation = |end: usize| -> Option<Ordering> {
        if end < slow {
            return None;
        }
        let sf = prefix[end] - prefix[end - fast];
        let ss = prefix[end] - prefix[end - slow];
        if small {
            Some((sf * slow as i128).cmp(&(ss * fast as i128)))
        } else {
            Some(
                sf.checked_mul(slow as i128)?
                    .cmp(&ss.checked_mul(fast as i128)?),
            )
        }
    };
    let mut st = State::new(cfg, data);
    let entry = size.map_or(Target::Weight(1.0), Target::Quantity);
    let order = |target: Target, date: NaiveDate| Pending {
        id: ClientOrderId(String::new()),
        decided: date,
        symbol: symbol.clone(),
        target,
        reason: String::new(),
    };
    let mut pending: Option<Pending> = None;
    let mut rets = Vec::with_capacity(bars.len());
    let mut prev_equity = cfg.cash;
    st.last_close.insert(symbol.clone(), bars[0].close);
    // The held quantity mirrors the books and changes only on fills; marking it here is the
    // same sum `marked_equity` makes for one position.
    let mut held = 0.0f64;
    let mut before = relation(0);
    for (i, bar) in bars.iter().enumerate() {
        if let Some(o) = pending.take() {
            let _ = st.execute(o, bar.ts, bar.open, bar, None);
            held = st.view.qty(symbol);
        }
        let now = relation(i + 1);
        let target = match (now, before) {
            (Some(Ordering::Greater), Some(Ordering::Less | Ordering::Equal)) if held == 0.0 => {
                Some(entry)
            }
            (Some(Ordering::Less), Some(Ordering::Greater | Ordering::Equal)) if held > 0.0 => {
                Some(Target::Flat)
            }
            _ => None,
        };
        before = now;
        if let Some(t) = target {
            match cfg.fill {
                FillAt::SameClose => {
                    if let Some(c) = st.last_close.get_mut(symbol) {
                        *c = bar.close;
                    }
                    let _ = st.execute(order(t, bar.ts), bar.ts, bar.close, bar, None);
                    held = st.view.qty(symbol);
                }
                FillAt::NextOpen | FillAt::NextVwap => pending = Some(order(t, bar.ts)),
            }
        }
        // Cash changes only on fills here (no interest or borrow), which refresh the mirror.
        let equity = st.view.cash + if held == 0.0 { 0.0 } else { held * bar.close };
        if i > 0 {
            rets.push(equity / prev_equity - 1.0);
        }
        prev_equity = equity;
    }
    if let (Some(c), Some(last)) = (st.last_close.get_mut(symbol), bars.last()) {
        *c = last.close;
    }
    let metrics = systrade_metrics::summarize(ret_dates, &rets, None, cfg.periods_per_year)
        .map_err(|e| BacktestError::Input(format!("metrics: {e}")))?;
    let exits = st.trades.len();
    Ok(KernelResult {
        final_equity: st.marked_equity(),
        entries: exits + st.open.len(),
        exits,
        metrics,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The walk along the map sets exactly what one search per symbol sets.
        #[test]
        fn set_closes_equals_a_search_per_symbol(
            known in proptest::collection::btree_map(0usize..40, 0.0f64..10.0, 0..40),
            today in proptest::collection::vec((0usize..40, 0.0f64..10.0), 0..40),
            ascending in any::<bool>(),
        ) {
            let name = |i: usize| Symbol::new(format!("S{i:02}")).unwrap();
            let mut today: Vec<(Symbol, f64)> = today.into_iter().map(|(i, c)| (name(i), c)).collect();
            if ascending {
                today.sort_by(|a, b| a.0.cmp(&b.0));
                today.dedup_by(|a, b| a.0 == b.0);
            }
            let bars: Vec<(&Symbol, DailyBar)> = today
                .iter()
                .map(|(s, c)| {
                    let ts = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
                    (s, DailyBar { ts, open: *c, high: *c, low: *c, close: *c, volume: 1.0 })
                })
                .collect();
            let start: BTreeMap<Symbol, f64> = known.into_iter().map(|(i, c)| (name(i), c)).collect();
            let mut walked = start.clone();
            set_closes(&mut walked, &bars);
            let mut searched = start;
            for (s, b) in &bars {
                searched.insert((*s).clone(), b.close);
            }
            prop_assert_eq!(walked, searched);
        }
    }
}
