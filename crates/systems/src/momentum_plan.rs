//! A momentum config's plan for the last formation on or before a day (`systrade plan`):
//! the spec's pre-export checks, the targets, and — given the live capital — the orders that
//! take the current holdings to them, rounded to lots; written as trade-ready files.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;
use systrade_core::fsio::write_atomic;
use systrade_pipeline::momentum::Formation;

use crate::bad;
use crate::momentum::{Loaded, check, orders_csv, read_map, targets_csv, write_cohort_states};

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
