//! Research tools on top of the engine: the cost grid and date splits.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::NaiveDate;
use rayon::prelude::*;
use serde::Serialize;
use systrade_core::fsio::write_artifact;
use systrade_core::{DailyBar, Symbol};
use systrade_strategy::Strategy;

use crate::{BacktestConfig, BacktestError, BacktestResult, CostModel, SeriesRow, run};

/// Default fee levels of `cost_grid.csv`, in basis points.
pub const DEFAULT_COST_LEVELS: [f64; 6] = [0.0, 5.0, 10.0, 20.0, 30.0, 50.0];

/// One row of `cost_grid.csv`: the same run at another fee level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostRow {
    pub cost_bps: f64,
    pub final_equity: f64,
    pub cagr: Option<f64>,
    pub vol: Option<f64>,
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    pub max_dd: Option<f64>,
    pub calmar: Option<f64>,
    /// One-way traded notional over mean equity, per year.
    pub turnover_annual: f64,
}

/// Annualised one-way turnover of a run.
pub fn turnover_annual(series: &[SeriesRow], periods_per_year: f64) -> f64 {
    if series.is_empty() {
        return 0.0;
    }
    series.iter().map(|r| r.turnover).sum::<f64>() / 2.0 * periods_per_year / series.len() as f64
}

/// Re-runs the strategy (made fresh by `make`) at each fee level, in parallel; rows come back
/// in the order of `levels` whatever the scheduling.
pub fn cost_grid<S: Strategy>(
    make: impl Fn() -> Result<S, BacktestError> + Sync,
    data: &BTreeMap<Symbol, Vec<DailyBar>>,
    cfg: &BacktestConfig,
    levels: &[f64],
) -> Result<Vec<CostRow>, BacktestError> {
    levels
        .par_iter()
        .map(|&bps| {
            let c = BacktestConfig {
                costs: CostModel {
                    fee_bps: bps,
                    ..cfg.costs
                },
                // Only the summary counts: no decision is kept.
                record_decisions: crate::KeepDecisions::None,
                ..cfg.clone()
            };
            let r = run(&mut make()?, data, &c)?;
            let m = &r.summary.metrics;
            Ok(CostRow {
                cost_bps: bps,
                final_equity: r.summary.final_equity,
                cagr: m.cagr,
                vol: m.annual_vol,
                sharpe: m.sharpe,
                sortino: m.sortino,
                max_dd: m.max_drawdown,
                calmar: m.calmar,
                turnover_annual: turnover_annual(&r.series, c.periods_per_year),
            })
        })
        .collect()
}

fn cell(x: Option<f64>) -> String {
    x.map(|v| format!("{v}")).unwrap_or_default()
}

/// Writes `cost_grid.csv`.
pub fn write_cost_grid(rows: &[CostRow], dir: &Path) -> Result<(), BacktestError> {
    let mut s = String::from(
        "cost_bps,final_equity,cagr,vol,sharpe,sortino,max_dd,calmar,turnover_annual\n",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{}",
            r.cost_bps,
            r.final_equity,
            cell(r.cagr),
            cell(r.vol),
            cell(r.sharpe),
            cell(r.sortino),
            cell(r.max_dd),
            cell(r.calmar),
            r.turnover_annual
        );
    }
    write_artifact(&dir.join("cost_grid.csv"), s.as_bytes())?;
    Ok(())
}

/// A named date range (`train=..2012-12-31`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Split {
    pub name: String,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// Parses `train=..2012-12-31,validation=2013-01-01..2016-12-31,holdout=2017-01-01..`.
pub fn parse_splits(text: &str) -> Result<Vec<Split>, String> {
    let mut out: Vec<Split> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, range) = item
            .split_once('=')
            .ok_or_else(|| format!("split {item:?}: expected name=FROM..TO"))?;
        let (a, b) = range.split_once("..").ok_or_else(|| {
            format!("split {item:?}: expected FROM..TO (either side may be empty)")
        })?;
        let date = |t: &str| -> Result<Option<NaiveDate>, String> {
            if t.trim().is_empty() {
                Ok(None)
            } else {
                NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| format!("split {name}: bad date {t:?} (YYYY-MM-DD)"))
            }
        };
        let (from, to) = (date(a)?, date(b)?);
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(format!("split {name}: {f} is after {t}"));
        }
        if out.iter().any(|s| s.name == name) {
            return Err(format!("split {name} is given twice"));
        }
        out.push(Split {
            name: name.trim().to_string(),
            from,
            to,
        });
    }
    if out.is_empty() {
        return Err("no split given".into());
    }
    Ok(out)
}

/// Metrics of one split of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitReport {
    pub split: Split,
    pub metrics: systrade_metrics::Summary,
}

/// Metrics per split, from the run's daily returns inside each range. A split with no return
/// in it is an error naming it.
pub fn split_reports(
    r: &BacktestResult,
    splits: &[Split],
    periods_per_year: f64,
) -> Result<Vec<SplitReport>, BacktestError> {
    let rows: Vec<(NaiveDate, f64)> = r
        .series
        .iter()
        .skip(1)
        .map(|x: &SeriesRow| (x.date, x.ret))
        .collect();
    split_returns(&rows, splits, periods_per_year)
}

/// Metrics per split of any strategy's dated period returns (its first row's return, 0,
/// left out by the caller).
pub fn split_returns(
    returns: &[(NaiveDate, f64)],
    splits: &[Split],
    periods_per_year: f64,
) -> Result<Vec<SplitReport>, BacktestError> {
    splits
        .iter()
        .map(|sp| {
            let rows: Vec<&(NaiveDate, f64)> = returns
                .iter()
                .filter(|(d, _)| sp.from.is_none_or(|f| *d >= f) && sp.to.is_none_or(|t| *d <= t))
                .collect();
            if rows.is_empty() {
                return Err(BacktestError::Input(format!(
                    "split {} has no data in the backtest's range",
                    sp.name
                )));
            }
            let dates: Vec<NaiveDate> = rows.iter().map(|x| x.0).collect();
            let rets: Vec<f64> = rows.iter().map(|x| x.1).collect();
            let metrics = systrade_metrics::summarize(&dates, &rets, None, periods_per_year)
                .map_err(|e| BacktestError::Input(e.to_string()))?;
            Ok(SplitReport {
                split: sp.clone(),
                metrics,
            })
        })
        .collect()
}

/// Writes `splits.csv`.
pub fn write_splits(reports: &[SplitReport], dir: &Path) -> Result<(), BacktestError> {
    let mut s = String::from("split,first,last,n_returns,cagr,vol,sharpe,sortino,max_dd,calmar\n");
    for r in reports {
        let m = &r.metrics;
        let d = |x: Option<NaiveDate>| x.map(|v| v.to_string()).unwrap_or_default();
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{}",
            r.split.name,
            d(m.first_return_date),
            d(m.last_return_date),
            m.n_returns,
            cell(m.cagr),
            cell(m.annual_vol),
            cell(m.sharpe),
            cell(m.sortino),
            cell(m.max_drawdown),
            cell(m.calmar)
        );
    }
    write_artifact(&dir.join("splits.csv"), s.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_splits() {
        let s = parse_splits(
            "train=..2012-12-31,validation=2013-01-01..2016-12-31,holdout=2017-01-01..",
        )
        .unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].from, s[2].to), (None, None));
        assert!(
            parse_splits("a=2013-01-01..2012-01-01")
                .unwrap_err()
                .contains("after")
        );
        assert!(parse_splits("a=..x").is_err());
        assert!(parse_splits("a=..,a=..").unwrap_err().contains("twice"));
        assert!(parse_splits("train").is_err());
    }
}
