//! A momentum config's plan for the last formation on or before a day (`systrade plan`):
//! the spec's pre-export checks, the targets, and — given the live capital — the orders that
//! take the current holdings to them, rounded to lots; written as trade-ready files.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;
use systrade_core::Symbol;
use systrade_core::contracts::Side;
use systrade_core::fsio::write_atomic;
use systrade_pipeline::momentum::Formation;

use crate::bad;
use crate::momentum::{
    Leg, Loaded, check, legs, orders_csv, read_map, targets_csv, write_cohort_states,
};

/// The live book the orders start from.
pub struct LiveBook<'a> {
    /// The capital the target weights are of.
    pub capital: f64,
    /// `symbol,shares` held now (none: a flat book).
    pub holdings: Option<&'a Path>,
    /// `symbol,lot` per name (default: the config's `orders.default_lot`).
    pub lots: Option<&'a Path>,
}

/// What a month's plan holds.
pub struct MonthPlan {
    pub formation: Formation,
    /// `targets_MONTH.csv`.
    pub targets: String,
    /// `orders_MONTH.csv` (with a live book only).
    pub orders: Option<String>,
    /// The checks that passed with a caution.
    pub cautions: Vec<String>,
}

impl MonthPlan {
    /// `YYYY-MM` of the formation.
    pub fn month(&self) -> String {
        self.formation.month()
    }
}

/// The plan of the last formation on or before `as_of`; nothing is returned (and so nothing
/// exported) when a pre-export check fails.
pub fn plan_month(
    l: &Loaded,
    as_of: NaiveDate,
    live: Option<&LiveBook<'_>>,
) -> anyhow::Result<MonthPlan> {
    let r = l.run(None, Some(as_of))?;
    let Some(idx) = r.formations.iter().rposition(|f| f.date <= as_of) else {
        return Err(bad(format!("no formation on or before {as_of}")));
    };
    let f = &r.formations[idx];
    let (failures, cautions) = check(f, &l.params);
    if !failures.is_empty() {
        return Err(bad(format!(
            "pre-export checks failed for the {} formation ({}); nothing exported:\n  {}",
            f.month(),
            f.date,
            failures.join("\n  ")
        )));
    }
    let targets = targets_csv(f)?;
    let orders = match live {
        Some(book) => {
            if !(book.capital.is_finite() && book.capital > 0.0) {
                return Err(bad(format!(
                    "--live-capital must be positive, got {}",
                    book.capital
                )));
            }
            let prev = r.formations[..idx]
                .iter()
                .rev()
                .find(|x| x.failed.is_none())
                .map(|x| x.weights.clone())
                .unwrap_or_default();
            let tickers = &l.panel.tickers;
            let holdings = book
                .holdings
                .map(|p| read_map(p, "shares", tickers, false))
                .transpose()?;
            let lots = match book.lots {
                Some(p) => read_map(p, "lot", tickers, true)?,
                None => BTreeMap::new(),
            };
            Some(orders_csv(
                f,
                &prev,
                book.capital,
                holdings.as_ref(),
                &lots,
                f64::from(l.cfg.orders.default_lot),
            )?)
        }
        None => None,
    };
    Ok(MonthPlan {
        formation: f.clone(),
        targets,
        orders,
        cautions,
    })
}

/// Writes the plan into `out`: `targets_MONTH.csv`, `orders_MONTH.csv` (with a live book)
/// and the cohort states, each atomically.
pub fn write_month_plan(p: &MonthPlan, out: &Path) -> anyhow::Result<()> {
    let month = p.month();
    let write = || -> anyhow::Result<()> {
        write_atomic(
            &out.join(format!("targets_{month}.csv")),
            p.targets.as_bytes(),
        )?;
        if let Some(o) = &p.orders {
            write_atomic(&out.join(format!("orders_{month}.csv")), o.as_bytes())?;
        }
        write_cohort_states(&p.formation, out)?;
        Ok(())
    };
    write().with_context(|| format!("writing {}", out.display()))
}

/// One order of a session's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionOrder {
    pub symbol: Symbol,
    pub leg: Leg,
    /// The formation close the order is priced at.
    pub ref_price: f64,
    /// The portfolio weight before and after (signed).
    pub w_from: f64,
    pub w_to: f64,
    /// The name's momentum percentile at the formation (`None`: not ranked).
    pub rank: Option<f64>,
}

impl SessionOrder {
    /// The broker's side.
    pub fn side(&self) -> Side {
        if self.leg.buys() {
            Side::Buy
        } else {
            Side::Sell
        }
    }
}

/// A position of the replayed book before the session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionHolding {
    pub symbol: Symbol,
    pub weight: f64,
    /// Signed, in lots.
    pub shares: f64,
    pub last: f64,
}

/// A momentum book's plan for one session (a portfolio bucket's `plan` and newsletter): the
/// book its backtest replays through the close before the session, at `capital` — the
/// formation that close made, traded at the session's open as the daily run trades it
/// (weights × the volatility scale × equity, in lots), or no orders and when the next
/// formation is. Fails closed: stale data, a failed formation or failed pre-export checks
/// plan no orders and say why.
pub struct SessionPlan {
    /// The session planned.
    pub as_of: NaiveDate,
    /// The close the plan is made from (the session before).
    pub close: NaiveDate,
    /// The replayed NAV there, and the equity it stands for at the capital.
    pub nav: f64,
    pub equity: f64,
    /// The volatility-targeting scale the session's book trades at.
    pub scale: f64,
    /// The formation traded at this session's open (its targets and orders files).
    pub month: Option<MonthPlan>,
    pub orders: Vec<SessionOrder>,
    pub held: Vec<SessionHolding>,
    /// The next formation's close (the last session of the month) when this session has none.
    pub next_formation: Option<NaiveDate>,
    /// Why nothing is planned, the limits that held entries back, the checks' cautions.
    pub warnings: Vec<String>,
}

/// The plan of `session` at `capital` (see [`SessionPlan`]).
pub fn plan_session(l: &Loaded, session: NaiveDate, capital: f64) -> anyhow::Result<SessionPlan> {
    let cal = l.market.calendar();
    let close = cal.previous_trading_day(session);
    let r = l.run(None, Some(close))?;
    let nav = r.series.last().map_or(1.0, |x| x.nav);
    let equity = capital * nav;
    let scale = r.next.scale;
    let good: Vec<&Formation> = r.formations.iter().filter(|f| f.failed.is_none()).collect();
    let today = r.formations.last().filter(|f| f.date == close);
    let before = good.iter().rev().find(|f| f.date < close).copied();
    let in_force = match today {
        Some(f) if f.failed.is_none() => before,
        _ => good.last().copied(),
    };
    let lot = f64::from(l.cfg.orders.default_lot);
    let to_lot = |shares: f64| (shares / lot).trunc() * lot;
    let shares = |w: f64, px: f64| to_lot(w * scale * equity / px);
    let last_close = |s: &Symbol| -> Option<f64> {
        let bars = l.bars.get(s)?;
        bars[..bars.partition_point(|b| b.ts <= close)]
            .last()
            .map(|b| b.close)
    };
    let mut held = Vec::new();
    if let Some(f) = in_force {
        for (s, w) in f.weights.iter().filter(|(_, w)| **w != 0.0) {
            let last =
                last_close(s).ok_or_else(|| bad(format!("{s}: no close through {close}")))?;
            held.push(SessionHolding {
                symbol: s.clone(),
                weight: *w,
                shares: shares(*w, last),
                last,
            });
        }
    }
    let mut plan = SessionPlan {
        as_of: session,
        close,
        nav,
        equity,
        scale,
        month: None,
        orders: Vec::new(),
        held,
        next_formation: None,
        warnings: Vec::new(),
    };
    if r.next.after != close {
        plan.warnings.push(format!(
            "stale data: the prices end at {}, not at the close before the session ({close}); nothing planned",
            r.next.after
        ));
        return Ok(plan);
    }
    let Some(f) = today else {
        // The next formation is at the close of the month's last session.
        plan.next_formation =
            Some(cal.previous_trading_day(cal.first_trading_day_of_next_month(session)));
        return Ok(plan);
    };
    if let Some(why) = &f.failed {
        plan.warnings.push(format!(
            "the {} formation failed ({why}): the books in force are kept, no orders",
            f.month()
        ));
        return Ok(plan);
    }
    let (failures, cautions) = check(f, &l.params);
    if !failures.is_empty() {
        plan.warnings.push(format!(
            "pre-export checks failed for the {} formation; no orders: {}",
            f.month(),
            failures.join("; ")
        ));
        return Ok(plan);
    }
    plan.warnings.extend(cautions);
    plan.warnings.extend(
        f.limited
            .iter()
            .map(|x| format!("{}: {}", f.date, x.describe(&l.limits()))),
    );
    let prev = in_force.map(|x| x.weights.clone()).unwrap_or_default();
    let mut names: Vec<&Symbol> = f.weights.keys().chain(prev.keys()).collect();
    names.sort();
    names.dedup();
    for s in names {
        let px = *f
            .ref_price
            .get(s)
            .ok_or_else(|| bad(format!("{s}: no close on the formation date {}", f.date)))?;
        let (w_from, w_to) = (
            prev.get(s).copied().unwrap_or(0.0),
            f.weights.get(s).copied().unwrap_or(0.0),
        );
        for leg in legs(shares(w_from, px), shares(w_to, px)) {
            plan.orders.push(SessionOrder {
                symbol: s.clone(),
                leg,
                ref_price: px,
                w_from,
                w_to,
                rank: f.ranks.get(s).copied(),
            });
        }
    }
    plan.month = Some(MonthPlan {
        formation: f.clone(),
        targets: targets_csv(f)?,
        orders: Some(orders_csv(
            f,
            &prev,
            equity * scale,
            None,
            &BTreeMap::new(),
            lot,
        )?),
        cautions: Vec::new(),
    });
    Ok(plan)
}

impl SessionPlan {
    /// `plan_D.json`: the replayed book, the session's orders (or when the next formation
    /// is) and the warnings.
    pub fn json(&self) -> serde_json::Value {
        use systrade_core::json::shortest as num;
        serde_json::json!({
            "strategy": "momentum",
            "as_of": self.as_of,
            "close": self.close,
            "nav": num(self.nav),
            "equity": format!("{:.2}", self.equity),
            "scale": num(self.scale),
            "formation": self.month.as_ref().map(|m| m.formation.date),
            "next_formation": self.next_formation,
            "orders": self.orders.iter().map(|o| serde_json::json!({
                "symbol": o.symbol.as_str(),
                "side": match o.side() { Side::Buy => "buy", Side::Sell => "sell" },
                "action": o.leg.action.as_str(),
                "position": o.leg.side.as_str(),
                "shares": num(o.leg.shares),
                "ref_price": num(o.ref_price),
                "weight_from": num(o.w_from),
                "weight_to": num(o.w_to),
            })).collect::<Vec<_>>(),
            "held": self.held.iter().map(|h| serde_json::json!({
                "symbol": h.symbol.as_str(),
                "weight": num(h.weight),
                "shares": num(h.shares),
                "last": num(h.last),
            })).collect::<Vec<_>>(),
            "warnings": self.warnings,
        })
    }
}

/// Writes a session's plan into `out`: the formation's month files when it trades one
/// ([`write_month_plan`]), and `plan_D.json`.
pub fn write_session_plan(p: &SessionPlan, out: &Path) -> anyhow::Result<()> {
    if let Some(m) = &p.month {
        write_month_plan(m, out)?;
    }
    systrade_core::fsio::write_json_atomic(&out.join(format!("plan_{}.json", p.as_of)), &p.json())
        .with_context(|| format!("writing {}", out.display()))
}
