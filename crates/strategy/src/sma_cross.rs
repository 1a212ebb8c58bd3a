//! The reference strategy `sma-cross` (spec/indicators-and-metrics.md): one symbol, long only.
//! Enter when the fast SMA crosses above the slow one, exit when it crosses below, comparing
//! exact window sums of the prices as written (an exact tie is "not above").

use std::cmp::Ordering;

use systrade_core::Symbol;

use crate::exact::exact;
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
    /// Prefix sums of the exact closes seen so far (`prefix[i]` = Σ of the first `i`), in
    /// units of `10^-scale`; the view only ever grows, so each bar adds one entry.
    prefix: Vec<i128>,
    scale: u32,
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
            prefix: vec![0],
            scale: 0,
        })
    }

    /// Appends one close exactly; `false` when it cannot be represented (non-finite or more
    /// than 18 decimals).
    fn push(&mut self, close: f64) -> bool {
        let Some(e) = exact(close) else { return false };
        if e.scale > self.scale {
            // A price with more decimals: bring everything seen so far to the finer unit.
            let Some(k) = 10i128.checked_pow(e.scale - self.scale) else {
                return false;
            };
            for v in &mut self.prefix {
                match v.checked_mul(k) {
                    Some(x) => *v = x,
                    None => return false,
                }
            }
            self.scale = e.scale;
        }
        let (Some(units), Some(&last)) = (e.at_scale(self.scale), self.prefix.last()) else {
            return false;
        };
        match last.checked_add(units) {
            Some(next) => {
                self.prefix.push(next);
                true
            }
            None => false,
        }
    }

    /// Sign of fast − slow over the first `end` closes, if both are defined: exactly,
    /// `sign(S_fast·slow − S_slow·fast)`.
    fn relation(&self, end: usize) -> Option<Ordering> {
        let (f, s) = (self.p.fast, self.p.slow);
        if end < s {
            return None;
        }
        let sf = self.prefix[end] - self.prefix[end - f];
        let ss = self.prefix[end] - self.prefix[end - s];
        Some(sf.checked_mul(s as i128)?.cmp(&ss.checked_mul(f as i128)?))
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
        let sym = self.p.symbol.clone();
        let sym = &sym;
        let bars = view.history(sym).bars();
        // The view only grows between decisions of one run; rebuild if it was cut shorter.
        if bars.len() + 1 < self.prefix.len() {
            self.prefix = vec![0];
            self.scale = 0;
        }
        for b in &bars[self.prefix.len() - 1..] {
            if !self.push(b.close) {
                d.set(sym, Target::Hold, "no_data");
                return d;
            }
        }
        let n = self.prefix.len() - 1;
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
