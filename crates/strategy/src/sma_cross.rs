//! The reference strategy `sma-cross` (spec/indicators-and-metrics.md): one symbol, long only.
//! Enter when the fast SMA crosses above the slow one, exit when it crosses below, comparing
//! exact window sums of the prices as written (an exact tie is "not above").

use std::cmp::Ordering;

use systrade_core::Symbol;

use crate::exact::{ExactPrice, compare_means, exact};
use crate::{Decision, MarketView, PortfolioView, Strategy, StrategyError, Target};

/// Parameters of `sma-cross`.
#[derive(Debug, Clone, PartialEq)]
pub struct SmaCrossParams {
    pub symbol: Symbol,
    pub fast: usize,
    pub slow: usize,
    /// `None`: all cash in (weight 1); `Some(q)`: a fixed quantity.
    pub size: Option<f64>,
}

/// The reference moving-average crossover.
#[derive(Debug, Clone)]
pub struct SmaCross {
    p: SmaCrossParams,
    /// Exact closes of the bars seen so far (the view only ever grows).
    closes: Vec<ExactPrice>,
}

impl SmaCross {
    pub fn new(p: SmaCrossParams) -> Result<Self, StrategyError> {
        if p.fast == 0 || p.slow == 0 {
            return Err(StrategyError::Config(
                "sma-cross: windows must be positive".into(),
            ));
        }
        if p.fast >= p.slow {
            return Err(StrategyError::Config(format!(
                "sma-cross: fast ({}) must be shorter than slow ({})",
                p.fast, p.slow
            )));
        }
        if let Some(q) = p.size
            && !(q.is_finite() && q > 0.0)
        {
            return Err(StrategyError::Config(format!(
                "sma-cross: size must be a positive quantity, got {q}"
            )));
        }
        Ok(SmaCross {
            p,
            closes: Vec::new(),
        })
    }

    /// Sign of fast − slow at the bar ending at `end` (exclusive), if both are defined.
    fn relation(&self, end: usize) -> Option<Ordering> {
        if end < self.p.slow {
            return None;
        }
        compare_means(
            &self.closes[end - self.p.fast..end],
            &self.closes[end - self.p.slow..end],
        )
    }
}

impl Strategy for SmaCross {
    fn name(&self) -> &str {
        "sma-cross"
    }

    fn universe(&self) -> Vec<Symbol> {
        vec![self.p.symbol.clone()]
    }

    fn decide(&mut self, view: &MarketView<'_>, portfolio: &PortfolioView) -> Decision {
        let mut d = Decision::default();
        let sym = &self.p.symbol;
        let bars = view.history(sym).bars();
        // The view only grows between decisions of one run; rebuild if it was cut shorter.
        if bars.len() < self.closes.len() {
            self.closes.clear();
        }
        for b in &bars[self.closes.len()..] {
            match exact(b.close) {
                Some(e) => self.closes.push(e),
                None => {
                    d.set(sym, Target::Hold, "no_data");
                    return d;
                }
            }
        }
        let n = self.closes.len();
        let (now, before) = (
            self.relation(n),
            if n >= 1 { self.relation(n - 1) } else { None },
        );
        let held = portfolio.qty(sym);
        match (now, before) {
            (Some(Ordering::Greater), Some(Ordering::Less | Ordering::Equal)) if held == 0.0 => {
                let t = self.p.size.map_or(Target::Weight(1.0), Target::Quantity);
                d.set(sym, t, "entry_cross");
            }
            (Some(Ordering::Less), Some(Ordering::Greater | Ordering::Equal)) if held > 0.0 => {
                d.set(sym, Target::Flat, "exit_cross")
            }
            (None, _) | (_, None) => d.set(sym, Target::Hold, "warmup"),
            _ => d.set(sym, Target::Hold, "hold"),
        }
        d
    }
}
