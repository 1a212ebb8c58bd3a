//! Strategies: from what the market showed before a decision time to a target per symbol.
//!
//! A strategy never knows whether it runs in a backtest, a plan or a live run. It receives a
//! [`MarketView`] that holds, per symbol, only the bars that closed before the decision, and
//! the current portfolio; it answers with a [`Decision`]: one [`Target`] and one reason per
//! symbol, and optionally a protective stop level. Sizing beyond the target, portfolio
//! construction and risk gates are separate layers called by the step, not by strategies.

pub mod exact;
mod sma_cross;
pub mod trend;

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use systrade_core::symbol::{walk_sorted, worth_walking};
use systrade_core::{DailyBar, HistoryView, Symbol};

pub use sma_cross::{SmaCross, SmaCrossParams};

/// What a strategy wants held in one symbol after the next fill.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Target {
    /// Keep whatever is held; no order.
    Hold,
    /// This fraction of equity (negative for shorts); `1.0` from flat means all cash in.
    Weight(f64),
    /// This many units (negative for shorts).
    Quantity(f64),
    /// Close the position.
    Flat,
}

/// The strategy's answer for one decision.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Decision {
    /// One target per symbol the strategy has an opinion on, in symbol order.
    pub targets: BTreeMap<Symbol, Target>,
    /// One reason code per symbol (`entry_cross`, `exit_cross`, `hold`, `warmup`, …).
    pub reasons: BTreeMap<Symbol, Cow<'static, str>>,
    /// Protective stop levels for positions the strategy holds or enters. A held symbol left
    /// out keeps the stop already in force.
    pub stops: BTreeMap<Symbol, f64>,
    /// Per-decision numbers a strategy reports (e.g. `vol_pre_cap`); a backtest writes them
    /// as extra `timeseries.csv` columns.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub diagnostics: BTreeMap<String, f64>,
}

impl Decision {
    /// Records a target with its reason code.
    pub fn set(&mut self, symbol: &Symbol, target: Target, reason: impl Into<Cow<'static, str>>) {
        self.targets.insert(symbol.clone(), target);
        self.reasons.insert(symbol.clone(), reason.into());
    }
}

/// What the market showed before a decision: per symbol, the bars strictly before the cut.
/// Cutting happens when a history is asked for, so building a view costs nothing.
#[derive(Debug, Clone, Copy)]
pub struct MarketView<'a> {
    /// The first date the decision may not see: bars dated on or after it are cut off.
    pub cut: NaiveDate,
    data: &'a BTreeMap<Symbol, Vec<DailyBar>>,
}

impl<'a> MarketView<'a> {
    /// A view of every series cut at `cut` (bars dated before it stay visible).
    pub fn new(cut: NaiveDate, data: &'a BTreeMap<Symbol, Vec<DailyBar>>) -> Self {
        MarketView { cut, data }
    }

    /// The visible history of a symbol (empty when unknown).
    pub fn history(&self, symbol: &Symbol) -> HistoryView<'a> {
        HistoryView::before(
            self.data.get(symbol).map_or(&[][..], |v| v.as_slice()),
            self.cut,
        )
    }

    /// [`MarketView::history`] scanning on from the first `hint` bars (what the caller saw
    /// visible at its previous, earlier cut); the same view for any hint.
    pub fn history_from(&self, symbol: &Symbol, hint: usize) -> HistoryView<'a> {
        HistoryView::before_from(
            self.data.get(symbol).map_or(&[][..], |v| v.as_slice()),
            self.cut,
            hint,
        )
    }

    /// The visible histories of `symbols`, the `i`-th scanned on from `hint(i)` (as
    /// [`MarketView::history_from`]). Symbols in ascending order, many against the data's, are
    /// found in one walk along the data's sorted keys instead of a search each.
    pub fn histories_from(
        &self,
        symbols: &[Symbol],
        hint: impl Fn(usize) -> usize,
    ) -> Vec<HistoryView<'a>> {
        let walked = worth_walking(symbols.len(), self.data.len())
            .then(|| walk_sorted(self.data.iter(), symbols))
            .flatten();
        match walked {
            Some(found) => found
                .into_iter()
                .enumerate()
                .map(|(i, bars)| {
                    let bars = bars.map_or(&[][..], Vec::as_slice);
                    HistoryView::before_from(bars, self.cut, hint(i))
                })
                .collect(),
            None => symbols
                .iter()
                .enumerate()
                .map(|(i, s)| self.history_from(s, hint(i)))
                .collect(),
        }
    }

    /// Symbols in the view, in order.
    pub fn symbols(&self) -> impl Iterator<Item = &'a Symbol> + 'a {
        self.data.keys()
    }
}

/// The portfolio a strategy may look at: current holdings (units) and equity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PortfolioView {
    pub equity: f64,
    pub cash: f64,
    pub positions: BTreeMap<Symbol, f64>,
    /// The last date each symbol's protective stop closed its position (for cooldowns).
    pub stopped_out: BTreeMap<Symbol, NaiveDate>,
}

impl PortfolioView {
    /// Units held of a symbol (0 when flat).
    pub fn qty(&self, symbol: &Symbol) -> f64 {
        self.positions.get(symbol).copied().unwrap_or(0.0)
    }
}

/// A trading strategy. Implementations keep whatever state they need between decisions, but
/// their decisions depend only on the view and the portfolio they are given, so a rerun on
/// the same data is byte-identical and changing future bars changes nothing before them.
pub trait Strategy: Send {
    /// A stable name (used in ids and outputs).
    fn name(&self) -> &str;
    /// Symbols the strategy trades.
    fn universe(&self) -> Vec<Symbol>;
    /// Decides targets from the visible market and the portfolio.
    fn decide(&mut self, view: &MarketView<'_>, portfolio: &PortfolioView) -> Decision;
}

/// Errors of strategy configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategyError {
    #[error("{0}")]
    Config(String),
}
