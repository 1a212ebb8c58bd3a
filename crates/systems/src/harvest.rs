//! Tax-loss harvesting (issue 23): a held name whose last close is more than `min_loss`
//! below its average cost is proposed for sale, with a replacement that keeps the exposure —
//! the name of the data whose daily returns are most correlated with it over the last
//! `lookback` returns (at least `min_corr`), bought for the same money. Proposals only:
//! nothing is staged. What the wash-sale rule may catch is said: the loser bought within 30
//! days (the loss may be disallowed), a replacement so correlated it may count as
//! substantially identical.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use systrade_core::{DailyBar, Symbol};
use systrade_portfolio::sheet::Holding;

/// What counts as a loss worth harvesting and as a replacement.
#[derive(Debug, Clone, Copy)]
pub struct HarvestParams {
    /// The last close at least this fraction below the average cost (0.05 = 5%).
    pub min_loss: f64,
    /// The replacement's return correlation with the loser, at least.
    pub min_corr: f64,
    /// Daily returns the correlation is measured on.
    pub lookback: usize,
    /// Decimals of share quantities.
    pub qty_decimals: u32,
}

/// A correlation at or above this may make the replacement "substantially identical".
pub const IDENTICAL_CORR: f64 = 0.98;

#[derive(Debug, Clone, PartialEq)]
pub struct Replacement {
    pub symbol: Symbol,
    pub corr: f64,
    pub shares: f64,
    pub last: f64,
}

/// One proposal: sell the loser, buy the replacement (when one qualifies).
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub symbol: Symbol,
    pub qty: f64,
    pub avg_price: f64,
    pub last: f64,
    /// The loss realized by the sale (negative money).
    pub loss: f64,
    pub loss_pct: f64,
    pub replacement: Option<Replacement>,
    /// What to check before acting, in words (empty when nothing).
    pub notes: Vec<String>,
}

/// The daily simple returns of the last `n` + 1 dates `a` and `b` share, up to `as_of`.
fn paired_returns(
    a: &[DailyBar],
    b: &[DailyBar],
    n: usize,
    as_of: NaiveDate,
) -> Option<(Vec<f64>, Vec<f64>)> {
    let bm: BTreeMap<NaiveDate, f64> = b
        .iter()
        .filter(|x| x.ts <= as_of)
        .map(|x| (x.ts, x.close))
        .collect();
    let common: Vec<(f64, f64)> = a
        .iter()
        .filter(|x| x.ts <= as_of)
        .filter_map(|x| bm.get(&x.ts).map(|c| (x.close, *c)))
        .collect();
    if common.len() < n + 1 {
        return None;
    }
    let w = &common[common.len() - n - 1..];
    let ra = w.windows(2).map(|p| p[1].0 / p[0].0 - 1.0).collect();
    let rb = w.windows(2).map(|p| p[1].1 / p[0].1 - 1.0).collect();
    Some((ra, rb))
}

/// Pearson's correlation of two return series (the rotation's: none under 3 returns, or
/// when a side does not move).
pub fn correlation(a: &[f64], b: &[f64]) -> Option<f64> {
    let wrap = |v: &[f64]| v.iter().map(|x| Some(*x)).collect::<Vec<_>>();
    systrade_rotation::select::correlation(&wrap(a), &wrap(b))
}

fn floor_to(x: f64, decimals: u32) -> f64 {
    let k = 10f64.powi(decimals as i32);
    (x * k).floor() / k
}

/// The proposals for `held` on `as_of`: every loser by loss (largest first), with the most
/// correlated name of `bars` not in `excluded` (ties by symbol).
pub fn propose(
    held: &BTreeMap<Symbol, Holding>,
    bars: &BTreeMap<Symbol, Vec<DailyBar>>,
    excluded: &BTreeSet<Symbol>,
    as_of: NaiveDate,
    p: &HarvestParams,
) -> Vec<Proposal> {
    let last_close = |s: &Symbol| {
        bars.get(s)
            .and_then(|b| b.iter().rfind(|x| x.ts <= as_of))
            .map(|x| x.close)
    };
    let mut out = Vec::new();
    for (sym, h) in held.iter().filter(|(_, h)| h.qty > 0.0) {
        let (Some(avg), Some(last)) = (h.avg_price, last_close(sym)) else {
            continue;
        };
        let loss_pct = last / avg - 1.0;
        if loss_pct > -p.min_loss {
            continue;
        }
        let mut notes = Vec::new();
        if h.last_buy.is_some_and(|d| (as_of - d).num_days() <= 30) {
            notes.push(format!(
                "bought within 30 days ({}): the loss may be disallowed as a wash sale",
                h.last_buy.map(|d| d.to_string()).unwrap_or_default()
            ));
        }
        let mut best: Option<Replacement> = None;
        for (cand, cb) in bars {
            if cand == sym || excluded.contains(cand) || held.contains_key(cand) {
                continue;
            }
            let Some(c_last) = last_close(cand).filter(|c| *c > 0.0) else {
                continue;
            };
            let Some((ra, rb)) = paired_returns(&bars[sym], cb, p.lookback, as_of) else {
                continue;
            };
            let Some(corr) = correlation(&ra, &rb).filter(|c| *c >= p.min_corr) else {
                continue;
            };
            if best.as_ref().is_none_or(|b| corr > b.corr) {
                best = Some(Replacement {
                    symbol: cand.clone(),
                    corr,
                    shares: floor_to(h.qty * last / c_last, p.qty_decimals),
                    last: c_last,
                });
            }
        }
        match &best {
            Some(r) if r.corr >= IDENTICAL_CORR => notes.push(format!(
                "{} moves with {sym} at {:.3}: it may count as substantially identical",
                r.symbol, r.corr
            )),
            None => notes.push(format!(
                "no name of the data correlates with {sym} at {} or more over {} returns: sell only, or keep",
                p.min_corr, p.lookback
            )),
            _ => {}
        }
        out.push(Proposal {
            symbol: sym.clone(),
            qty: h.qty,
            avg_price: avg,
            last,
            loss: (last - avg) * h.qty,
            loss_pct,
            replacement: best,
            notes,
        });
    }
    out.sort_by(|a, b| a.loss.total_cmp(&b.loss).then(a.symbol.cmp(&b.symbol)));
    out
}

/// The proposals for the holdings of a positions file (each needs its `avg_price`) on the
/// sheet's date, every name of `data` a candidate replacement but the sheet's targets;
/// `min_loss` and `min_corr` checked first.
pub fn from_files(
    positions: &std::path::Path,
    data: &std::path::Path,
    parse: &systrade_data::ParseOptions,
    made: &crate::sheet::MadeSheet,
    p: &HarvestParams,
) -> anyhow::Result<Vec<Proposal>> {
    use anyhow::Context;
    let bad = |m: String| anyhow::Error::from(systrade_core::BadInput(m));
    if !(p.min_loss.is_finite() && p.min_loss > 0.0 && p.min_loss < 1.0) {
        return Err(bad(format!(
            "--harvest-loss {}: a fraction in (0, 1)",
            p.min_loss
        )));
    }
    if !(p.min_corr.is_finite() && p.min_corr.abs() <= 1.0) {
        return Err(bad(format!(
            "--harvest-min-corr {}: a correlation in [-1, 1]",
            p.min_corr
        )));
    }
    let held = crate::sheet::read_positions(positions)?;
    if let Some((s, _)) = held
        .iter()
        .find(|(_, h)| h.qty > 0.0 && h.avg_price.is_none())
    {
        return Err(bad(format!(
            "{}: {s} has no avg_price: a loss cannot be measured without it",
            positions.display()
        )));
    }
    let bars = systrade_data::DataSource::open(data)
        .and_then(|src| src.all_daily(parse))
        .with_context(|| format!("--data {}", data.display()))?
        .into_iter()
        .map(|s| (s.symbol, s.bars))
        .collect();
    let targets = made
        .sheet
        .weights
        .iter()
        .filter(|(_, w)| *w > 0.0)
        .map(|(s, _)| s.clone())
        .collect();
    Ok(propose(&held, &bars, &targets, made.as_of, p))
}

/// The proposals as CSV.
pub fn proposals_csv(ps: &[Proposal]) -> String {
    use systrade_core::json::shortest;
    let mut s = String::from(
        "symbol,qty,avg_price,last_close,loss,loss_pct,replacement,correlation,replacement_shares,replacement_last_close,notes\n",
    );
    for p in ps {
        let r = p.replacement.as_ref();
        s.push_str(&format!(
            "{},{},{},{},{:.2},{:.6},{},{},{},{},{}\n",
            p.symbol,
            shortest(p.qty),
            shortest(p.avg_price),
            shortest(p.last),
            p.loss,
            p.loss_pct,
            r.map(|r| r.symbol.to_string()).unwrap_or_default(),
            r.map(|r| format!("{:.4}", r.corr)).unwrap_or_default(),
            r.map(|r| shortest(r.shares)).unwrap_or_default(),
            r.map(|r| shortest(r.last)).unwrap_or_default(),
            p.notes.join("; ").replace(',', ";")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(closes: &[f64]) -> Vec<DailyBar> {
        let d0: NaiveDate = "2024-01-01".parse().unwrap();
        closes
            .iter()
            .enumerate()
            .map(|(i, c)| DailyBar {
                ts: d0 + chrono::Duration::days(i as i64),
                open: *c,
                high: *c,
                low: *c,
                close: *c,
                volume: 1.0,
            })
            .collect()
    }

    #[test]
    fn test_a_loser_gets_the_most_correlated_free_name_for_the_same_money() {
        let s = |x: &str| Symbol::new(x).unwrap();
        let loser = [100.0, 98.0, 99.0, 95.0, 96.0, 90.0];
        // TWIN moves as the loser (corr 1), HALF as well (corr 1 too but held), ODD against it.
        let twin: Vec<f64> = loser.iter().map(|x| x / 2.0).collect();
        let odd = [10.0, 11.0, 10.5, 11.5, 11.0, 12.0];
        let mut data = BTreeMap::new();
        data.insert(s("LOSE"), bars(&loser));
        data.insert(s("TWIN"), bars(&twin));
        data.insert(s("HELD"), bars(&twin));
        data.insert(s("ODD"), bars(&odd));
        let mut held = BTreeMap::new();
        held.insert(
            s("LOSE"),
            Holding {
                qty: 10.0,
                avg_price: Some(120.0),
                ..Default::default()
            },
        );
        held.insert(
            s("HELD"),
            Holding {
                qty: 1.0,
                avg_price: Some(1.0),
                ..Default::default()
            },
        );
        let as_of: NaiveDate = "2024-01-06".parse().unwrap();
        let p = HarvestParams {
            min_loss: 0.05,
            min_corr: 0.8,
            lookback: 5,
            qty_decimals: 0,
        };
        let got = propose(&held, &data, &BTreeSet::new(), as_of, &p);
        assert_eq!(got.len(), 1, "HELD is a gain");
        let g = &got[0];
        assert_eq!(g.symbol, s("LOSE"));
        assert!((g.loss - (90.0 - 120.0) * 10.0).abs() < 1e-9);
        let r = g.replacement.as_ref().unwrap();
        assert_eq!(r.symbol, s("TWIN"));
        assert!((r.corr - 1.0).abs() < 1e-12);
        assert_eq!(r.shares, 20.0, "900 of value at 45");
        assert!(
            g.notes[0].contains("substantially identical"),
            "{:?}",
            g.notes
        );
        // Nothing correlated enough: a sale only, said so.
        let none = propose(&held, &data, &[s("TWIN")].into_iter().collect(), as_of, &p);
        assert!(none[0].replacement.is_none());
        assert!(
            none[0].notes[0].contains("sell only"),
            "{:?}",
            none[0].notes
        );
        assert_eq!(correlation(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(correlation(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
    }
}
