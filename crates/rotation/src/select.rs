//! One rebalance decision: the regime, every name's verdict, the chosen names and their
//! weights — from the panel through the decision session's close, nothing later.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use systrade_core::Symbol;

use crate::{Panel, RotationParams, Weighting};

/// Risk-on or off, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// No regime filter.
    Always,
    /// The regime symbol's close above its SMA.
    On { close: f64, sma: f64 },
    /// At or below it.
    Off { close: f64, sma: f64 },
    /// The regime symbol has no price or not enough history: risk-off (fail closed).
    Unknown,
}

impl Regime {
    pub fn risk_on(&self) -> bool {
        matches!(self, Regime::Always | Regime::On { .. })
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Regime::Always | Regime::On { .. } => "risk_on",
            Regime::Off { .. } => "risk_off",
            Regime::Unknown => "risk_off_unknown",
        }
    }
}

/// A name's verdict at a rebalance.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Selected,
    /// No price at the decision close.
    NoPrice,
    /// Not enough history for the momentum or the trend filter.
    ShortHistory,
    /// At or below its own SMA.
    BelowSma,
    /// Ranked below the top N.
    NotTopN,
    /// Correlated above `max_corr` with a name chosen before it.
    Correlated {
        with: Symbol,
        corr: f64,
    },
    /// Risk-off: nothing is chosen.
    RiskOff,
    /// The risk-off holding.
    Cash,
    /// Chosen, but the limits kept it out (`max_positions`, `drawdown_block`).
    Limited {
        why: &'static str,
    },
    /// Not held, and its news sentiment is below the block: no new entry.
    NewsRisk {
        score: f64,
        headline: String,
    },
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Selected => "selected",
            Status::NoPrice => "no_price",
            Status::ShortHistory => "short_history",
            Status::BelowSma => "below_sma",
            Status::NotTopN => "not_top_n",
            Status::Correlated { .. } => "correlated",
            Status::RiskOff => "risk_off",
            Status::Cash => "cash",
            Status::Limited { .. } => "limited",
            Status::NewsRisk { .. } => "news_risk",
        }
    }
}

/// One name at a rebalance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub symbol: Symbol,
    pub close: Option<f64>,
    pub momentum: Option<f64>,
    pub sma: Option<f64>,
    /// Rank by momentum among the eligible names (1 = strongest).
    pub rank: Option<usize>,
    pub status: Status,
    pub weight: f64,
}

/// One rebalance decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Month {
    /// The session whose close decided it.
    pub date: NaiveDate,
    /// The panel row of that session.
    pub t: usize,
    /// The session the trades fill in (the decision's close, or the next open); `None`
    /// when the data ends first.
    pub trade_date: Option<NaiveDate>,
    pub regime: Regime,
    /// Every name, in symbol order.
    pub rows: Vec<Row>,
    /// Target weights of the pre-trade value, in the order the trades resize them (chosen
    /// names by rank; the risk-off holding alone).
    pub targets: Vec<(Symbol, f64)>,
    /// How the weights were reached when the method fell back (e.g. ERC without a solution).
    pub note: Option<String>,
    /// The run's drawdown below its equity peak at the decision close, and what the
    /// limits made of it (`normal`, `throttled`, `blocked`).
    pub drawdown: f64,
    pub risk_state: &'static str,
}

/// Pearson's correlation over the rows both sides have (none under 3 rows, or when a side
/// does not move).
pub fn correlation(a: &[Option<f64>], b: &[Option<f64>]) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
        .collect();
    let n = pairs.len();
    if n < 3 {
        return None;
    }
    let nf = n as f64;
    let (ma, mb) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / nf,
        pairs.iter().map(|p| p.1).sum::<f64>() / nf,
    );
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in &pairs {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    (saa > 0.0 && sbb > 0.0).then(|| sab / (saa * sbb).sqrt())
}

/// The rebalance decided on the close of panel row `t`.
pub fn decide(panel: &Panel, t: usize, p: &RotationParams) -> Month {
    decide_with(panel, t, p, None, &[])
}

/// The rebalance decided on the close of row `t`, with the news rule: a name not `held`
/// (units per column; empty: none) whose sentiment blocks is not eligible.
pub fn decide_with(
    panel: &Panel,
    t: usize,
    p: &RotationParams,
    news: Option<&crate::news::News>,
    held: &[f64],
) -> Month {
    let regime = regime_at(panel, t, p);
    let mut rows: Vec<Row> = Vec::with_capacity(panel.symbols.len());
    let mut eligible: Vec<(f64, usize)> = Vec::new();
    for (s, symbol) in panel.symbols.iter().enumerate() {
        let close = Some(panel.close[s][t]).filter(|c| c.is_finite() && *c > 0.0);
        let momentum = panel.momentum(s, t, p.lookback, p.skip);
        let sma = (p.trend_sma > 0)
            .then(|| panel.sma(s, t, p.trend_sma))
            .flatten();
        let status = match (close, momentum) {
            (None, _) => Status::NoPrice,
            (Some(_), None) => Status::ShortHistory,
            (Some(c), Some(m)) => match (p.trend_sma > 0, sma) {
                (true, None) => Status::ShortHistory,
                (true, Some(a)) if c <= a => Status::BelowSma,
                _ => match news
                    .filter(|_| held.get(s).is_none_or(|q| *q == 0.0))
                    .and_then(|n| n.blocks(s, panel.dates[t]))
                {
                    Some(x) => Status::NewsRisk {
                        score: x.score,
                        headline: x.headline,
                    },
                    None => {
                        eligible.push((m, s));
                        Status::NotTopN
                    }
                },
            },
        };
        rows.push(Row {
            symbol: symbol.clone(),
            close,
            momentum,
            sma,
            rank: None,
            status,
            weight: 0.0,
        });
    }
    // Descending momentum; ties by symbol (the panel's order).
    eligible.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (k, (_, s)) in eligible.iter().enumerate() {
        rows[*s].rank = Some(k + 1);
    }
    let mut chosen: Vec<usize> = Vec::new();
    if regime.risk_on() {
        let returns: BTreeMap<usize, Vec<Option<f64>>> = if p.max_corr < 1.0 {
            eligible
                .iter()
                .map(|(_, s)| (*s, panel.returns(*s, t, p.corr_window)))
                .collect()
        } else {
            BTreeMap::new()
        };
        for (_, s) in &eligible {
            if chosen.len() == p.top_n {
                break;
            }
            let clash = chosen.iter().find_map(|c| {
                let r = correlation(returns.get(s)?, returns.get(c)?)?;
                (r > p.max_corr).then_some((*c, r))
            });
            match clash {
                Some((c, r)) => {
                    rows[*s].status = Status::Correlated {
                        with: panel.symbols[c].clone(),
                        corr: r,
                    };
                }
                _ => chosen.push(*s),
            }
        }
    } else {
        for r in rows.iter_mut() {
            if matches!(r.status, Status::NotTopN) {
                r.status = Status::RiskOff;
            }
        }
    }
    let (weights, note) = weights_of(panel, t, &chosen, p);
    let mut targets = Vec::new();
    for (s, w) in chosen.iter().zip(&weights) {
        rows[*s].status = Status::Selected;
        rows[*s].weight = *w;
        targets.push((panel.symbols[*s].clone(), *w));
    }
    if !regime.risk_on()
        && !p.cash_symbol.is_empty()
        && let Some(s) = panel.column(&p.cash_symbol)
        && panel.close[s][t].is_finite()
    {
        rows[s].status = Status::Cash;
        rows[s].weight = 1.0;
        targets.push((panel.symbols[s].clone(), 1.0));
    }
    Month {
        date: panel.dates[t],
        t,
        trade_date: None,
        regime,
        rows,
        targets,
        note,
        drawdown: 0.0,
        risk_state: "normal",
    }
}

/// The month's targets under `limits` at a `drawdown`, given the weights held (of the
/// pre-trade value): at most `max_positions` names; throttled, an increase is scaled by
/// `drawdown_scale`; blocked, nothing grows and no name enters. Cuts always pass.
pub fn limit(
    m: &mut Month,
    held: &BTreeMap<Symbol, f64>,
    limits: &systrade_backtest::overlay::Limits,
    drawdown: f64,
) {
    use systrade_backtest::overlay::RiskState;
    let state = limits.state(drawdown);
    m.drawdown = drawdown;
    m.risk_state = state.as_str();
    if !limits.any() {
        return;
    }
    let mut kept: Vec<(Symbol, f64)> = Vec::new();
    for (s, w) in std::mem::take(&mut m.targets) {
        let cur = held.get(&s).copied().unwrap_or(0.0);
        let why = if limits.max_positions.is_some_and(|n| kept.len() >= n) {
            Some("max_positions")
        } else if cur == 0.0 && state == RiskState::Blocked {
            Some("drawdown_block")
        } else {
            None
        };
        let row = m.rows.iter_mut().find(|r| r.symbol == s);
        if let Some(why) = why {
            if let Some(r) = row {
                r.status = Status::Limited { why };
                r.weight = 0.0;
            }
            continue;
        }
        let w2 = if w > cur {
            match state {
                RiskState::Normal => w,
                RiskState::Throttled => cur + (w - cur) * limits.drawdown_scale,
                RiskState::Blocked => cur,
            }
        } else {
            w
        };
        if let Some(r) = row {
            r.weight = w2;
        }
        kept.push((s, w2));
    }
    m.targets = kept;
}

fn regime_at(panel: &Panel, t: usize, p: &RotationParams) -> Regime {
    if p.regime_symbol.is_empty() {
        return Regime::Always;
    }
    let Some(s) = panel.column(&p.regime_symbol) else {
        return Regime::Unknown;
    };
    match (
        Some(panel.close[s][t]).filter(|c| c.is_finite()),
        panel.sma(s, t, p.regime_sma),
    ) {
        (Some(close), Some(sma)) if close > sma => Regime::On { close, sma },
        (Some(close), Some(sma)) => Regime::Off { close, sma },
        _ => Regime::Unknown,
    }
}

/// Equal weights, or ERC over the returns ending at `t`; ERC falls back to inverse
/// volatility (said in the note) when the covariance has no solution.
fn weights_of(
    panel: &Panel,
    t: usize,
    chosen: &[usize],
    p: &RotationParams,
) -> (Vec<f64>, Option<String>) {
    let n = chosen.len();
    if n == 0 {
        return (Vec::new(), None);
    }
    let equal = vec![1.0 / n as f64; n];
    if p.weighting == Weighting::Equal || n == 1 {
        return (equal, None);
    }
    let cols: Vec<Vec<Option<f64>>> = chosen
        .iter()
        .map(|s| panel.returns(*s, t, p.vol_window))
        .collect();
    let cov = match systrade_portfolio::pairwise_covariance(&cols, 1.0) {
        Ok(c) => c,
        Err(e) => return (equal, Some(format!("equal weights: covariance: {e}"))),
    };
    match systrade_portfolio::erc_weights(&cov) {
        Ok(w) => (w, None),
        Err(e) => {
            let sd: Vec<f64> = (0..n).map(|i| cov[(i, i)].sqrt()).collect();
            match systrade_portfolio::inverse_vol_weights(&sd) {
                Ok(w) => (w, Some(format!("inverse-vol weights: ERC: {e}"))),
                Err(e2) => (
                    equal,
                    Some(format!("equal weights: ERC: {e}; inverse vol: {e2}")),
                ),
            }
        }
    }
}
