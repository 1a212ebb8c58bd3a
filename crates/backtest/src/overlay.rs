//! Limits a backtest applies on top of any strategy's decisions: a bucket's (or a
//! config's `[safety]`) maximum number of positions and its drawdown rules — beyond
//! `drawdown_throttle` below the equity peak new risk is scaled by `drawdown_scale`, beyond
//! `drawdown_block` it is refused. Exits and reductions always pass. The same rules the
//! daily run's gates apply (`systrade_risk::gates`), so a backtest of a limited bucket
//! trades as the bucket would.

use std::borrow::Cow;

use systrade_core::Symbol;
use systrade_strategy::{Decision, MarketView, PortfolioView, Strategy, Target};

/// The limits.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Limits {
    pub max_positions: Option<usize>,
    pub drawdown_throttle: Option<f64>,
    /// New risk is multiplied by this while throttled.
    pub drawdown_scale: f64,
    pub drawdown_block: Option<f64>,
}

impl Limits {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.max_positions.is_some()
            || self.drawdown_throttle.is_some()
            || self.drawdown_block.is_some()
    }

    /// The state at a drawdown (a fraction below the peak, ≥ 0).
    pub fn state(&self, drawdown: f64) -> RiskState {
        if self.drawdown_block.is_some_and(|l| drawdown >= l) {
            RiskState::Blocked
        } else if self.drawdown_throttle.is_some_and(|l| drawdown >= l) {
            RiskState::Throttled
        } else {
            RiskState::Normal
        }
    }
}

/// Where a drawdown puts new risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RiskState {
    Normal,
    Throttled,
    Blocked,
}

impl RiskState {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskState::Normal => "normal",
            RiskState::Throttled => "throttled",
            RiskState::Blocked => "blocked",
        }
    }

    /// 0, 1, 2 (a timeseries column).
    pub fn code(self) -> f64 {
        match self {
            RiskState::Normal => 0.0,
            RiskState::Throttled => 1.0,
            RiskState::Blocked => 2.0,
        }
    }
}

/// A strategy with [`Limits`] on its new risk. Reports `drawdown` and `risk_state` (0
/// normal, 1 throttled, 2 blocked) as diagnostics, so `timeseries.csv` shows them.
pub struct Gated<S> {
    inner: S,
    limits: Limits,
    peak: f64,
}

impl<S: Strategy> Gated<S> {
    pub fn new(inner: S, limits: Limits) -> Self {
        Gated {
            inner,
            limits,
            peak: 0.0,
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// Units a target asks for, given what is held and the last price.
fn wanted(t: Target, held: f64, equity: f64, price: Option<f64>) -> Option<f64> {
    match t {
        Target::Quantity(q) => Some(q),
        Target::Weight(w) => price.filter(|p| *p > 0.0).map(|p| w * equity / p),
        Target::Hold => None,
        Target::Flat => Some(0.0).filter(|_| held != 0.0),
    }
}

impl<S: Strategy> Strategy for Gated<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn universe(&self) -> Vec<Symbol> {
        self.inner.universe()
    }

    fn decide(&mut self, view: &MarketView<'_>, pf: &PortfolioView) -> Decision {
        let mut d = self.inner.decide(view, pf);
        self.peak = self.peak.max(pf.equity);
        let drawdown = if self.peak > 0.0 {
            (1.0 - pf.equity / self.peak).max(0.0)
        } else {
            0.0
        };
        let state = self.limits.state(drawdown);
        let mut open = pf.positions.values().filter(|q| **q != 0.0).count();
        for (sym, t) in d.targets.iter_mut() {
            // Holding, or a zero weight, never adds risk: no price to look up (a search of
            // the symbol's whole history, per symbol and session).
            if matches!(*t, Target::Hold) || matches!(*t, Target::Weight(w) if w == 0.0) {
                continue;
            }
            let held = pf.qty(sym);
            let price = view.history(sym).last().map(|b| b.close);
            let Some(want) = wanted(*t, held, pf.equity, price) else {
                continue;
            };
            let adds = want.abs() > held.abs() || (held != 0.0 && want * held < 0.0);
            if !adds {
                continue;
            }
            let entry = held == 0.0;
            let mut why: Option<&'static str> = None;
            if entry && self.limits.max_positions.is_some_and(|n| open >= n) {
                *t = Target::Hold;
                why = Some("max_positions");
            } else {
                match state {
                    RiskState::Normal => {}
                    RiskState::Blocked => {
                        *t = Target::Hold;
                        why = Some("drawdown_block");
                    }
                    RiskState::Throttled => {
                        let scaled = held + (want - held) * self.limits.drawdown_scale;
                        *t = match *t {
                            Target::Weight(w) => Target::Weight(
                                w * self.limits.drawdown_scale
                                    + price.map_or(0.0, |p| held * p / pf.equity)
                                        * (1.0 - self.limits.drawdown_scale),
                            ),
                            _ => Target::Quantity(scaled),
                        };
                        why = Some("drawdown_throttle");
                    }
                }
            }
            if let Some(w) = why {
                d.reasons.insert(sym.clone(), Cow::Borrowed(w));
            }
            if entry && !matches!(t, Target::Hold) {
                open += 1;
            }
        }
        d.diagnostics.insert("drawdown".into(), drawdown);
        d.diagnostics.insert("risk_state".into(), state.code());
        d
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::NaiveDate;
    use systrade_core::DailyBar;

    use super::*;

    /// Wants 10 units of every symbol, always.
    struct Greedy(Vec<Symbol>);

    impl Strategy for Greedy {
        fn name(&self) -> &str {
            "greedy"
        }
        fn universe(&self) -> Vec<Symbol> {
            self.0.clone()
        }
        fn decide(&mut self, _: &MarketView<'_>, _: &PortfolioView) -> Decision {
            let mut d = Decision::default();
            for s in &self.0 {
                d.set(s, Target::Quantity(10.0), "want");
            }
            d
        }
    }

    fn sym(s: &str) -> Symbol {
        Symbol::new(s).unwrap()
    }

    #[test]
    fn test_limits_scale_block_and_cap_new_risk_only() {
        let day = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        let bar = DailyBar {
            ts: day,
            open: 10.0,
            high: 10.0,
            low: 10.0,
            close: 10.0,
            volume: 1.0,
        };
        let data: BTreeMap<Symbol, Vec<DailyBar>> = [
            (sym("A"), vec![bar]),
            (sym("B"), vec![bar]),
            (sym("C"), vec![bar]),
        ]
        .into();
        let view = MarketView::new(day.succ_opt().unwrap(), &data);
        let limits = Limits {
            max_positions: Some(2),
            drawdown_throttle: Some(0.1),
            drawdown_scale: 0.5,
            drawdown_block: Some(0.2),
        };
        let mut g = Gated::new(Greedy(vec![sym("A"), sym("B"), sym("C")]), limits);
        let pf = |equity: f64, held: &[(&str, f64)]| PortfolioView {
            equity,
            cash: 0.0,
            positions: held.iter().map(|(s, q)| (sym(s), *q)).collect(),
            stopped_out: BTreeMap::new(),
        };
        // At the peak: A held (4 → 10 passes); B enters; C would be a third position.
        let d = g.decide(&view, &pf(1000.0, &[("A", 4.0)]));
        assert_eq!(d.targets[&sym("A")], Target::Quantity(10.0));
        assert_eq!(d.targets[&sym("B")], Target::Quantity(10.0));
        assert_eq!(d.targets[&sym("C")], Target::Hold);
        assert_eq!(d.reasons[&sym("C")], "max_positions");
        assert_eq!(d.diagnostics["risk_state"], 0.0);
        // 15% below the peak: the add is halved (4 + 6 · 0.5).
        let d = g.decide(&view, &pf(850.0, &[("A", 4.0)]));
        assert_eq!(d.targets[&sym("A")], Target::Quantity(7.0));
        assert_eq!(d.reasons[&sym("A")], "drawdown_throttle");
        assert_eq!(d.diagnostics["risk_state"], 1.0);
        assert!((d.diagnostics["drawdown"] - 0.15).abs() < 1e-12);
        // 25% below: nothing new; a reduction still passes.
        let d = g.decide(&view, &pf(750.0, &[("A", 20.0)]));
        assert_eq!(
            d.targets[&sym("A")],
            Target::Quantity(10.0),
            "a cut is never blocked"
        );
        assert_eq!(d.targets[&sym("B")], Target::Hold);
        assert_eq!(d.reasons[&sym("B")], "drawdown_block");
        assert_eq!(d.diagnostics["risk_state"], 2.0);
    }
}
