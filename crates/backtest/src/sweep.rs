//! Parameter sweeps: a grid of parameters × symbols, backtested in parallel, with a
//! sensitivity table per parameter so a sharp peak is visible.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;
use systrade_core::fsio::write_atomic;
use systrade_core::{DailyBar, Symbol};

use crate::{BacktestConfig, BacktestError, kernel_applies, run, sma_cross_kernel};

/// A parameter grid in the order the user gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub params: Vec<(String, Vec<f64>)>,
}

/// One combination of parameter values.
pub type Combo = BTreeMap<String, f64>;

/// Daily bars keyed by symbol, as the engine takes them.
pub type Market = BTreeMap<Symbol, Vec<DailyBar>>;

/// Parses `fast=5..50:5,slow=20..200:20` (inclusive ranges with a step) or `fast=5|10|20`.
pub fn parse_grid(text: &str) -> Result<Grid, String> {
    let mut params: Vec<(String, Vec<f64>)> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, spec) = item.split_once('=').ok_or_else(|| {
            format!("grid item {item:?}: expected name=FROM..TO:STEP or name=A|B|C")
        })?;
        let name = name.trim().to_string();
        let num = |t: &str| {
            t.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("grid {name}: {t:?} is not a number"))
        };
        let values: Vec<f64> = if let Some((range, step)) = spec.split_once(':') {
            let (a, b) = range
                .split_once("..")
                .ok_or_else(|| format!("grid {name}: expected FROM..TO:STEP"))?;
            let (a, b, step) = (num(a)?, num(b)?, num(step)?);
            if step <= 0.0 || a > b {
                return Err(format!("grid {name}: need FROM ≤ TO and a positive STEP"));
            }
            let n = ((b - a) / step + 1e-9).floor() as usize + 1;
            if n > 100_000 {
                return Err(format!("grid {name}: {n} values is too many"));
            }
            (0..n).map(|i| a + step * i as f64).collect()
        } else {
            spec.split('|').map(num).collect::<Result<_, _>>()?
        };
        if values.is_empty() {
            return Err(format!("grid {name}: no values"));
        }
        if params.iter().any(|(n, _)| *n == name) {
            return Err(format!("grid {name} is given twice"));
        }
        params.push((name, values));
    }
    if params.is_empty() {
        return Err("empty grid, e.g. --grid 'fast=5..50:5,slow=20..200:20'".into());
    }
    Ok(Grid { params })
}

impl Grid {
    /// Every combination, the last parameter varying fastest.
    pub fn combos(&self) -> Vec<Combo> {
        let mut out: Vec<Combo> = vec![Combo::new()];
        for (name, values) in &self.params {
            out = out
                .into_iter()
                .flat_map(|c| {
                    values.iter().map(move |v| {
                        let mut c = c.clone();
                        c.insert(name.clone(), *v);
                        c
                    })
                })
                .collect();
        }
        out
    }
}

/// One backtest of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepRow {
    pub symbol: Symbol,
    pub params: Combo,
    pub final_equity: f64,
    pub cagr: Option<f64>,
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    pub max_dd: Option<f64>,
    pub calmar: Option<f64>,
    pub entries: usize,
    pub exits: usize,
}

impl SweepRow {
    fn new(
        symbol: &Symbol,
        params: &Combo,
        final_equity: f64,
        m: &systrade_metrics::Summary,
        entries: usize,
        exits: usize,
    ) -> Self {
        SweepRow {
            symbol: symbol.clone(),
            params: params.clone(),
            final_equity,
            cagr: m.cagr,
            sharpe: m.sharpe,
            sortino: m.sortino,
            max_dd: m.max_drawdown,
            calmar: m.calmar,
            entries,
            exits,
        }
    }

    /// A metric by name (`final_equity`, `cagr`, `sharpe`, `sortino`, `max_dd`, `calmar`).
    pub fn metric(&self, name: &str) -> Option<f64> {
        match name {
            "final_equity" => Some(self.final_equity),
            "cagr" => self.cagr,
            "sharpe" => self.sharpe,
            "sortino" => self.sortino,
            "max_dd" => self.max_dd,
            "calmar" => self.calmar,
            _ => None,
        }
    }
}

/// Metric names a sweep can rank by.
pub const METRICS: [&str; 6] = [
    "final_equity",
    "cagr",
    "sharpe",
    "sortino",
    "max_dd",
    "calmar",
];

/// An `sma-cross` sweep: each symbol's exact prefix sums are computed once and shared by all
/// combinations, and each backtest runs the engine's sweep kernel when the config allows
/// (else the full engine). Combinations with `fast ≥ slow` are skipped; rows come back in
/// symbol order, then grid order.
pub fn sweep_sma_cross(
    series: &[(Symbol, Market)],
    combos: &[Combo],
    cfg: &BacktestConfig,
    size: Option<f64>,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<SweepRow>, BacktestError> {
    let windows = |c: &Combo| {
        (
            c.get("fast").map_or(10, |v| v.round() as usize),
            c.get("slow").map_or(30, |v| v.round() as usize),
        )
    };
    let valid: Vec<&Combo> = combos
        .iter()
        .filter(|c| {
            let (f, s) = windows(c);
            f >= 1 && f < s
        })
        .collect();
    if valid.is_empty() {
        return Err(BacktestError::Input(
            "the grid has no valid combination for this strategy".into(),
        ));
    }
    let ret_dates: Vec<Vec<chrono::NaiveDate>> = series
        .iter()
        .map(|(s, d)| {
            d.get(s)
                .map(|b| b.iter().skip(1).map(|x| x.ts).collect())
                .unwrap_or_default()
        })
        .collect();
    let prefixes: Vec<Option<Vec<i128>>> = series
        .par_iter()
        .map(|(s, d)| {
            d.get(s).and_then(|b| {
                systrade_strategy::exact::exact_prefix(
                    &b.iter().map(|x| x.close).collect::<Vec<f64>>(),
                )
            })
        })
        .collect();
    let jobs: Vec<(usize, &Combo)> = (0..series.len())
        .flat_map(|i| valid.iter().map(move |c| (i, *c)))
        .collect();
    jobs.par_iter()
        .map(|(i, combo)| {
            let (sym, data) = &series[*i];
            let (fast, slow) = windows(combo);
            let row = match (&prefixes[*i], kernel_applies(cfg)) {
                (Some(prefix), true) => {
                    let shared = crate::KernelInputs {
                        prefix,
                        ret_dates: &ret_dates[*i],
                    };
                    let k = sma_cross_kernel(sym, data, &shared, fast, slow, size, cfg)?;
                    SweepRow::new(sym, combo, k.final_equity, &k.metrics, k.entries, k.exits)
                }
                _ => {
                    let params = systrade_strategy::SmaCrossParams {
                        symbol: sym.clone(),
                        fast,
                        slow,
                        size,
                    };
                    let mut strat = systrade_strategy::SmaCross::new(params)
                        .map_err(|e| BacktestError::Input(e.to_string()))?;
                    let r = run(&mut strat, data, cfg)?;
                    SweepRow::new(
                        sym,
                        combo,
                        r.summary.final_equity,
                        &r.summary.metrics,
                        r.trades.len(),
                        r.summary.n_trades,
                    )
                }
            };
            progress();
            Ok(row)
        })
        .collect()
}

fn cell(x: Option<f64>) -> String {
    x.map(|v| format!("{v}")).unwrap_or_default()
}

/// Writes `sweep.csv` (one row per backtest) and `sensitivity.csv` (per parameter value: how
/// the chosen metric is spread across everything else).
pub fn write_sweep(
    rows: &[SweepRow],
    grid: &Grid,
    metric: &str,
    dir: &Path,
) -> Result<(), BacktestError> {
    let names: Vec<&str> = grid.params.iter().map(|(n, _)| n.as_str()).collect();
    let mut s = format!(
        "symbol,{},final_equity,cagr,sharpe,sortino,max_dd,calmar,entries,exits\n",
        names.join(",")
    );
    for r in rows {
        let vals: Vec<String> = names
            .iter()
            .map(|n| r.params.get(*n).map(|v| format!("{v}")).unwrap_or_default())
            .collect();
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{}",
            r.symbol,
            vals.join(","),
            r.final_equity,
            cell(r.cagr),
            cell(r.sharpe),
            cell(r.sortino),
            cell(r.max_dd),
            cell(r.calmar),
            r.entries,
            r.exits
        );
    }
    write_atomic(&dir.join("sweep.csv"), s.as_bytes())?;

    let mut t = String::from("param,value,metric,n,mean,median,min,max\n");
    for (name, values) in &grid.params {
        for v in values {
            let mut xs: Vec<f64> = rows
                .iter()
                .filter(|r| r.params.get(name) == Some(v))
                .filter_map(|r| r.metric(metric))
                .collect();
            if xs.is_empty() {
                continue;
            }
            xs.sort_by(|a, b| a.total_cmp(b));
            let n = xs.len();
            let median = if n % 2 == 1 {
                xs[n / 2]
            } else {
                (xs[n / 2 - 1] + xs[n / 2]) / 2.0
            };
            let mean = xs.iter().sum::<f64>() / n as f64;
            let _ = writeln!(
                t,
                "{name},{v},{metric},{n},{mean},{median},{},{}",
                xs[0],
                xs[n - 1]
            );
        }
    }
    write_atomic(&dir.join("sensitivity.csv"), t.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_w2_grid_has_90_valid_pairs() {
        let g = parse_grid("fast=5..50:5,slow=20..200:20").unwrap();
        let c = g.combos();
        assert_eq!(c.len(), 100);
        assert_eq!(c.iter().filter(|c| c["fast"] < c["slow"]).count(), 90);
        assert_eq!(
            parse_grid("a=1|2|3").unwrap().params[0].1,
            vec![1.0, 2.0, 3.0]
        );
        assert!(parse_grid("a=5..1:1").is_err());
        assert!(parse_grid("a=1..5:0").is_err());
        assert!(parse_grid("a=x").is_err());
        assert!(parse_grid("").is_err());
    }
}
