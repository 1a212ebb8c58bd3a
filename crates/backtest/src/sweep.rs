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
            let dec = decimals(a).max(decimals(step));
            let (a, b, step) = (num(a)?, num(b)?, num(step)?);
            if step <= 0.0 || a > b {
                return Err(format!("grid {name}: need FROM ≤ TO and a positive STEP"));
            }
            let n = ((b - a) / step + 1e-9).floor() as usize + 1;
            if n > 100_000 {
                return Err(format!("grid {name}: {n} values is too many"));
            }
            // Rounded to the text's decimals: 0.15 + 3 · 0.05 is 0.3, not 0.30000000000000004.
            let scale = 10f64.powi(dec as i32);
            (0..n)
                .map(|i| ((a + step * i as f64) * scale).round() / scale)
                .collect()
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

/// The decimals a number is written with (`0.05` → 2, `20` → 0, `1e-3` → 9).
fn decimals(t: &str) -> usize {
    let t = t.trim();
    if t.contains(['e', 'E']) {
        return 9;
    }
    t.split_once('.').map_or(0, |(_, f)| f.len()).min(12)
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
    /// The symbol of a single-symbol strategy; `None` for a config's whole-book run.
    pub symbol: Option<Symbol>,
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
    pub fn new(
        symbol: Option<&Symbol>,
        params: &Combo,
        final_equity: f64,
        m: &systrade_metrics::Summary,
        entries: usize,
        exits: usize,
    ) -> Self {
        SweepRow {
            symbol: symbol.cloned(),
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
    Ok(sweep_sma_cross_part(
        series,
        combos,
        cfg,
        size,
        progress,
        crate::shard::Part::WHOLE,
    )?
    .into_iter()
    .map(|(_, r)| r)
    .collect())
}

/// The units of an `sma-cross` sweep (each symbol × valid combination, in the order
/// [`sweep_sma_cross`] returns them) that belong to `part`, each with its unit number.
pub fn sweep_sma_cross_part(
    series: &[(Symbol, Market)],
    combos: &[Combo],
    cfg: &BacktestConfig,
    size: Option<f64>,
    progress: &(dyn Fn() + Sync),
    part: crate::shard::Part,
) -> Result<Vec<(usize, SweepRow)>, BacktestError> {
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
    let jobs: Vec<(usize, (usize, &Combo))> = (0..series.len())
        .flat_map(|i| valid.iter().map(move |c| (i, *c)))
        .enumerate()
        .filter(|(k, _)| part.has(*k))
        .collect();
    jobs.par_iter()
        .map(|(k, (i, combo))| {
            let (sym, data) = &series[*i];
            let (fast, slow) = windows(combo);
            let row = match (&prefixes[*i], kernel_applies(cfg)) {
                (Some(prefix), true) => {
                    let shared = crate::KernelInputs {
                        prefix,
                        ret_dates: &ret_dates[*i],
                    };
                    let k = sma_cross_kernel(sym, data, &shared, fast, slow, size, cfg)?;
                    SweepRow::new(
                        Some(sym),
                        combo,
                        k.final_equity,
                        &k.metrics,
                        k.entries,
                        k.exits,
                    )
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
                        Some(sym),
                        combo,
                        r.summary.final_equity,
                        &r.summary.metrics,
                        r.trades.len(),
                        r.summary.n_trades,
                    )
                }
            };
            progress();
            Ok((*k, row))
        })
        .collect()
}

fn cell(x: Option<f64>) -> String {
    x.map(|v| format!("{v}")).unwrap_or_default()
}

/// One point of a sweep next to its grid neighbours (the points one step away along one
/// parameter, everything else equal, same symbol).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointSensitivity {
    pub symbol: Option<Symbol>,
    pub params: Combo,
    pub value: Option<f64>,
    pub neighbours: usize,
    pub neighbour_mean: Option<f64>,
    pub neighbour_min: Option<f64>,
    pub neighbour_max: Option<f64>,
    /// At least as good as every neighbour, and better than the median point.
    pub local_max: bool,
    /// A local maximum its neighbours do not share: their mean keeps less than half of its
    /// lead over the median point (a smooth hill's neighbours keep most of it), and it
    /// stands above them by more than three times the grid's typical step-to-step change
    /// (the median over every point of |value − neighbours' mean|).
    pub sharp_peak: bool,
}

/// The median of the values (`None` when empty).
fn median(xs: &mut [f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

/// Every point next to its neighbours, per symbol, in the rows' order. Higher is better for
/// every metric (max drawdown is negative: the least deep is the highest).
pub fn point_sensitivity(rows: &[SweepRow], grid: &Grid, metric: &str) -> Vec<PointSensitivity> {
    let index = |c: &Combo| -> Option<Vec<usize>> {
        grid.params
            .iter()
            .map(|(name, values)| {
                let v = c.get(name)?;
                values.iter().position(|x| x == v)
            })
            .collect()
    };
    let mut at: std::collections::HashMap<(Option<&Symbol>, Vec<usize>), Option<f64>> =
        std::collections::HashMap::new();
    let mut medians: BTreeMap<Option<&Symbol>, Vec<f64>> = BTreeMap::new();
    for r in rows {
        if let Some(ix) = index(&r.params) {
            at.insert((r.symbol.as_ref(), ix), r.metric(metric));
        }
        let all = medians.entry(r.symbol.as_ref()).or_default();
        all.extend(r.metric(metric));
    }
    let medians: BTreeMap<Option<&Symbol>, Option<f64>> = medians
        .into_iter()
        .map(|(k, mut v)| (k, median(&mut v)))
        .collect();
    let neighbours = |r: &SweepRow| -> Vec<f64> {
        let mut nb: Vec<f64> = Vec::new();
        if let Some(ix) = index(&r.params) {
            for d in 0..ix.len() {
                for step in [-1i64, 1] {
                    let j = ix[d] as i64 + step;
                    if j < 0 {
                        continue;
                    }
                    let mut k = ix.clone();
                    k[d] = j as usize;
                    if let Some(Some(v)) = at.get(&(r.symbol.as_ref(), k)) {
                        nb.push(*v);
                    }
                }
            }
        }
        nb
    };
    let mean_of = |nb: &[f64]| (!nb.is_empty()).then(|| nb.iter().sum::<f64>() / nb.len() as f64);
    let mut rough: BTreeMap<Option<&Symbol>, Vec<f64>> = BTreeMap::new();
    for r in rows {
        if let (Some(v), Some(m)) = (r.metric(metric), mean_of(&neighbours(r))) {
            rough
                .entry(r.symbol.as_ref())
                .or_default()
                .push((v - m).abs());
        }
    }
    let rough: BTreeMap<Option<&Symbol>, Option<f64>> = rough
        .into_iter()
        .map(|(k, mut v)| (k, median(&mut v)))
        .collect();
    rows.iter()
        .map(|r| {
            let value = r.metric(metric);
            let nb = neighbours(r);
            let mean = mean_of(&nb);
            let step = rough
                .get(&r.symbol.as_ref())
                .copied()
                .flatten()
                .unwrap_or(0.0);
            let med = medians.get(&r.symbol.as_ref()).copied().flatten();
            let local_max = match (value, med) {
                (Some(v), Some(m)) => !nb.is_empty() && v > m && nb.iter().all(|x| v >= *x),
                _ => false,
            };
            let sharp_peak = match (local_max, value, mean, med) {
                (true, Some(v), Some(n), Some(m)) => n - m < 0.5 * (v - m) && v - n > 3.0 * step,
                _ => false,
            };
            PointSensitivity {
                symbol: r.symbol.clone(),
                params: r.params.clone(),
                value,
                neighbours: nb.len(),
                neighbour_mean: mean,
                neighbour_min: nb.iter().copied().reduce(f64::min),
                neighbour_max: nb.iter().copied().reduce(f64::max),
                local_max,
                sharp_peak,
            }
        })
        .collect()
}

/// `N` distinct points of the grid drawn at random with `seed` (the same seed, the same
/// points), in grid order; the whole grid when it has no more than `N`.
pub fn sample(combos: Vec<Combo>, n: usize, seed: u64) -> Vec<Combo> {
    use rand::SeedableRng;
    if n >= combos.len() {
        return combos;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut picked = rand::seq::index::sample(&mut rng, combos.len(), n).into_vec();
    picked.sort_unstable();
    picked.into_iter().map(|i| combos[i].clone()).collect()
}

/// Parses `--search`: `grid` (every point) or `random:N`.
pub fn parse_search(text: &str) -> Result<Option<usize>, String> {
    match text.trim() {
        "grid" => Ok(None),
        t => t
            .strip_prefix("random:")
            .and_then(|n| n.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| format!("--search {t:?}: expected grid or random:N (N ≥ 1)")),
    }
}

/// Writes `sweep.csv` (one row per backtest), `sensitivity.csv` (each point's metric next to
/// its neighbours', sharp peaks flagged) and `marginals.csv` (per parameter value: how the
/// metric is spread across everything else). A config's sweep has no symbol column.
pub fn write_sweep(
    rows: &[SweepRow],
    grid: &Grid,
    metric: &str,
    dir: &Path,
) -> Result<Vec<PointSensitivity>, BacktestError> {
    let names: Vec<&str> = grid.params.iter().map(|(n, _)| n.as_str()).collect();
    let with_symbol = rows.iter().any(|r| r.symbol.is_some());
    let lead = |sym: &Option<Symbol>| match (with_symbol, sym) {
        (false, _) => String::new(),
        (true, s) => format!("{},", s.as_ref().map(Symbol::as_str).unwrap_or_default()),
    };
    let head = if with_symbol { "symbol," } else { "" };
    let vals = |c: &Combo| -> String {
        names
            .iter()
            .map(|n| c.get(*n).map(|v| format!("{v}")).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut s = format!(
        "{head}{},final_equity,cagr,sharpe,sortino,max_dd,calmar,entries,exits\n",
        names.join(",")
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{}{},{},{},{},{},{},{},{},{}",
            lead(&r.symbol),
            vals(&r.params),
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

    let points = point_sensitivity(rows, grid, metric);
    let mut p = format!(
        "{head}{},metric,value,neighbours,neighbour_mean,neighbour_min,neighbour_max,local_max,sharp_peak\n",
        names.join(",")
    );
    for x in &points {
        let _ = writeln!(
            p,
            "{}{},{metric},{},{},{},{},{},{},{}",
            lead(&x.symbol),
            vals(&x.params),
            cell(x.value),
            x.neighbours,
            cell(x.neighbour_mean),
            cell(x.neighbour_min),
            cell(x.neighbour_max),
            x.local_max,
            x.sharp_peak
        );
    }
    write_atomic(&dir.join("sensitivity.csv"), p.as_bytes())?;

    let mut t = String::from("param,value,metric,n,mean,median,min,max\n");
    for (name, values) in &grid.params {
        for v in values {
            let mut xs: Vec<f64> = rows
                .iter()
                .filter(|r| r.params.get(name) == Some(v))
                .filter_map(|r| r.metric(metric))
                .collect();
            let Some(med) = median(&mut xs) else {
                continue;
            };
            let n = xs.len();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let _ = writeln!(
                t,
                "{name},{v},{metric},{n},{mean},{med},{},{}",
                xs[0],
                xs[n - 1]
            );
        }
    }
    write_atomic(&dir.join("marginals.csv"), t.as_bytes())?;
    Ok(points)
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
        let g = parse_grid("v=0.15..0.35:0.05,w=1e-3..3e-3:1e-3").unwrap();
        assert_eq!(g.params[0].1, vec![0.15, 0.2, 0.25, 0.3, 0.35]);
        assert_eq!(g.params[1].1, vec![0.001, 0.002, 0.003]);
    }

    fn row(a: f64, b: f64, sharpe: f64) -> SweepRow {
        let params: Combo = [("a".to_string(), a), ("b".to_string(), b)].into();
        SweepRow {
            symbol: None,
            params,
            final_equity: 1.0,
            cagr: None,
            sharpe: Some(sharpe),
            sortino: None,
            max_dd: None,
            calmar: None,
            entries: 0,
            exits: 0,
        }
    }

    fn surface(f: impl Fn(f64, f64) -> f64) -> (Vec<SweepRow>, Grid) {
        let g = parse_grid("a=0..4:1,b=0..4:1").unwrap();
        let rows = g
            .combos()
            .iter()
            .map(|c| row(c["a"], c["b"], f(c["a"], c["b"])))
            .collect();
        (rows, g)
    }

    #[test]
    fn test_a_lone_spike_is_a_sharp_peak_and_a_smooth_hill_is_not() {
        // A flat plain of 0.3 with one point at 2.0: the spike is flagged, nothing else.
        let (rows, g) = surface(|a, b| {
            if (a, b) == (3.0, 1.0) {
                2.0
            } else {
                0.3 + 0.01 * a
            }
        });
        let p = point_sensitivity(&rows, &g, "sharpe");
        let flagged: Vec<&Combo> = p
            .iter()
            .filter(|x| x.sharp_peak)
            .map(|x| &x.params)
            .collect();
        assert_eq!(flagged.len(), 1);
        assert_eq!((flagged[0]["a"], flagged[0]["b"]), (3.0, 1.0));
        let spike = p.iter().find(|x| x.sharp_peak).unwrap();
        assert_eq!(spike.neighbours, 4);
        assert!((spike.neighbour_mean.unwrap() - (0.32 + 0.34 + 0.33 + 0.33) / 4.0).abs() < 1e-12);
        // A smooth hill centred on (2, 2): its top is a local maximum but not sharp.
        let (rows, g) = surface(|a, b| 2.0 - 0.1 * ((a - 2.0).powi(2) + (b - 2.0).powi(2)));
        let p = point_sensitivity(&rows, &g, "sharpe");
        assert!(p.iter().all(|x| !x.sharp_peak));
        let top: Vec<&PointSensitivity> = p.iter().filter(|x| x.local_max).collect();
        assert_eq!(top.len(), 1);
        assert_eq!((top[0].params["a"], top[0].params["b"]), (2.0, 2.0));
        // A corner has two neighbours.
        assert_eq!(p[0].neighbours, 2);
    }

    #[test]
    fn test_random_search_is_seeded_distinct_and_in_grid_order() {
        let g = parse_grid("a=0..9:1,b=0..9:1").unwrap();
        let a = sample(g.combos(), 12, 7);
        assert_eq!(a, sample(g.combos(), 12, 7));
        assert_ne!(a, sample(g.combos(), 12, 8));
        assert_eq!(a.len(), 12);
        let all = g.combos();
        let pos: Vec<usize> = a
            .iter()
            .map(|c| all.iter().position(|x| x == c).unwrap())
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sample(g.combos(), 500, 1).len(), 100);
        assert_eq!(parse_search("random:25"), Ok(Some(25)));
        assert_eq!(parse_search("grid"), Ok(None));
        assert!(parse_search("random:0").is_err());
        assert!(parse_search("random").is_err());
    }
}
