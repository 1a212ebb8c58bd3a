//! Walk-forward analysis: optimise on each train window, evaluate on the next test window,
//! stitch the out-of-sample returns, and report how much worse out of sample is.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{Months, NaiveDate};
use rayon::prelude::*;
use serde::Serialize;
use systrade_core::fsio::{write_atomic, write_json_atomic};
use systrade_strategy::Strategy;

use crate::sweep::{Combo, Market};
use crate::{BacktestConfig, BacktestError, run};

/// A window length: `3y`, `18m` (calendar months) or `90d` (calendar days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Span {
    Months(u32),
    Days(u32),
}

impl Span {
    /// Parses `3y`, `18m`, `90d`.
    pub fn parse(s: &str) -> Result<Span, String> {
        let s = s.trim();
        let (n, unit) = s.split_at(s.len().saturating_sub(1));
        let n: u32 = n.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            format!("window {s:?}: expected a positive number and y, m or d (e.g. 3y)")
        })?;
        match unit {
            "y" => Ok(Span::Months(n * 12)),
            "m" => Ok(Span::Months(n)),
            "d" => Ok(Span::Days(n)),
            _ => Err(format!("window {s:?}: the unit must be y, m or d")),
        }
    }

    fn add(self, d: NaiveDate) -> Option<NaiveDate> {
        match self {
            Span::Months(m) => d.checked_add_months(Months::new(m)),
            Span::Days(n) => d.checked_add_days(chrono::Days::new(u64::from(n))),
        }
    }
}

/// One train/test window and what happened in it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowResult {
    pub train_from: NaiveDate,
    pub train_to: NaiveDate,
    pub test_from: NaiveDate,
    pub test_to: NaiveDate,
    pub best: Combo,
    /// The chosen metric of the best combination on the train window.
    pub in_sample: Option<f64>,
    /// The same metric of that combination on the test window.
    pub out_of_sample: Option<f64>,
}

/// The whole analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WalkForward {
    pub metric: String,
    pub anchored: bool,
    pub windows: Vec<WindowResult>,
    /// Stitched out-of-sample daily returns.
    pub oos_dates: Vec<NaiveDate>,
    pub oos_returns: Vec<f64>,
    pub oos_metrics: systrade_metrics::Summary,
    /// Mean in-sample metric over the windows.
    pub in_sample_mean: Option<f64>,
    /// Mean out-of-sample metric over the windows.
    pub out_of_sample_mean: Option<f64>,
    /// `out_of_sample_mean / in_sample_mean` (1 = no degradation); `None` when undefined.
    pub degradation_ratio: Option<f64>,
}

fn metric_of(m: &systrade_metrics::Summary, name: &str) -> Option<f64> {
    match name {
        "cagr" => m.cagr,
        "sharpe" => m.sharpe,
        "sortino" => m.sortino,
        "max_dd" => m.max_drawdown,
        "calmar" => m.calmar,
        _ => None,
    }
}

/// A run's dated period returns (its first row's 0 left out).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Returns {
    pub dates: Vec<NaiveDate>,
    pub rets: Vec<f64>,
}

/// `eval(combo, from, to)`: the strategy's returns trading from `from` to `to`.
pub type Evaluate<'a, E> =
    dyn Fn(&Combo, NaiveDate, NaiveDate) -> Result<Option<Returns>, E> + Sync + 'a;

/// How the windows are cut.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Windows {
    /// The first and last dates of the data.
    pub span: (NaiveDate, NaiveDate),
    pub train: Span,
    pub test: Span,
    /// Train windows all start at the first date (growing) instead of rolling.
    pub anchored: bool,
}

/// Runs the walk-forward. `make` builds the strategy for a combination (`None` when invalid);
/// `first`/`last` bound the data used. Windows whose test period has no bars end the analysis.
#[allow(clippy::too_many_arguments)]
pub fn walk_forward<S: Strategy>(
    data: &Market,
    combos: &[Combo],
    cfg: &BacktestConfig,
    make: impl Fn(&Combo) -> Option<S> + Sync,
    (first, last): (NaiveDate, NaiveDate),
    train: Span,
    test: Span,
    anchored: bool,
    metric: &str,
    progress: &(dyn Fn() + Sync),
) -> Result<WalkForward, BacktestError> {
    let valid: Vec<Combo> = combos
        .iter()
        .filter(|c| make(c).is_some())
        .cloned()
        .collect();
    let eval =
        |c: &Combo, from: NaiveDate, to: NaiveDate| -> Result<Option<Returns>, BacktestError> {
            let mut s =
                make(c).ok_or_else(|| BacktestError::Input("invalid combination".into()))?;
            let window = BacktestConfig {
                start: Some(from),
                end: Some(to),
                record_decisions: crate::KeepDecisions::None,
                ..cfg.clone()
            };
            match run(&mut s, data, &window) {
                Ok(r) => Ok(Some(Returns {
                    dates: r.series.iter().skip(1).map(|x| x.date).collect(),
                    rets: r.series.iter().skip(1).map(|x| x.ret).collect(),
                })),
                Err(BacktestError::Input(m)) if m.contains("no bars") => Ok(None),
                Err(e) => Err(e),
            }
        };
    let windows = Windows {
        span: (first, last),
        train,
        test,
        anchored,
    };
    walk_forward_with(
        &valid,
        windows,
        metric,
        cfg.periods_per_year,
        &eval,
        progress,
    )
}

/// The metric of a run's returns (`None` when it has none or the metric is undefined).
pub fn score(r: &Returns, metric: &str, periods_per_year: f64) -> Option<f64> {
    if r.rets.is_empty() {
        return None;
    }
    systrade_metrics::summarize(&r.dates, &r.rets, None, periods_per_year)
        .ok()
        .and_then(|m| metric_of(&m, metric))
}

/// One train/test window's dates: train on `train_from..=train_to`, then trade
/// `test_from..=test_to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fold {
    pub train_from: NaiveDate,
    pub train_to: NaiveDate,
    pub test_from: NaiveDate,
    pub test_to: NaiveDate,
}

/// The windows of a walk-forward, from the dates alone: each test window follows its train
/// window, the next starts one test span later, until a train window passes the data's end.
pub fn plan_folds(w: &Windows) -> Result<Vec<Fold>, BacktestError> {
    let (first, last) = w.span;
    let past = || BacktestError::Input("window past the calendar".into());
    let day_before = |d: NaiveDate| d.pred_opt().unwrap_or(d);
    let mut out = Vec::new();
    let mut start = first;
    loop {
        let train_to = w.train.add(start).ok_or_else(past)?;
        let test_to = w.test.add(train_to).ok_or_else(past)?;
        if train_to > last {
            break;
        }
        out.push(Fold {
            train_from: if w.anchored { first } else { start },
            train_to: day_before(train_to),
            test_from: train_to,
            test_to: day_before(test_to).min(last),
        });
        start = w.test.add(start).ok_or_else(past)?;
        if test_to > last {
            break;
        }
    }
    Ok(out)
}

/// The best of scored points, `(index, score)` in grid order: the highest score (max
/// drawdown: the least negative), ties keeping the earlier point.
pub fn best_of(scored: impl IntoIterator<Item = (usize, Option<f64>)>) -> Option<(usize, f64)> {
    scored
        .into_iter()
        .filter_map(|(i, m)| m.map(|m| (i, m)))
        .fold(None, |acc, x| match acc {
            Some(a) if a.1 >= x.1 => Some(a),
            _ => Some(x),
        })
}

/// What a fold found: the best point on its train window (index into the points, its
/// score) and that point's test returns (`None`: no bars in the test window).
#[derive(Debug, Clone, PartialEq)]
pub struct FoldOutcome {
    pub best: Option<(usize, f64)>,
    pub test: Option<Returns>,
}

/// A fold trained on the points `indices` (in parallel) and its best point tested.
fn fold_outcome<E: From<BacktestError> + Send>(
    valid: &[Combo],
    indices: &[usize],
    fold: &Fold,
    metric: &str,
    periods_per_year: f64,
    eval: &Evaluate<'_, E>,
    progress: &(dyn Fn() + Sync),
) -> Result<FoldOutcome, E> {
    let scores = train_scores(
        valid,
        indices,
        fold,
        metric,
        periods_per_year,
        eval,
        progress,
    )?;
    let best = best_of(scores);
    let test = match best {
        Some((i, _)) => eval(&valid[i], fold.test_from, fold.test_to)?,
        None => None,
    };
    Ok(FoldOutcome { best, test })
}

/// The train scores of `points` (by index) on `fold`, in parallel.
fn train_scores<E: From<BacktestError> + Send>(
    valid: &[Combo],
    indices: &[usize],
    fold: &Fold,
    metric: &str,
    periods_per_year: f64,
    eval: &Evaluate<'_, E>,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<(usize, Option<f64>)>, E> {
    indices
        .par_iter()
        .map(|&i| {
            let r = eval(&valid[i], fold.train_from, fold.train_to)?;
            progress();
            Ok((i, r.and_then(|r| score(&r, metric, periods_per_year))))
        })
        .collect()
}

/// The walk-forward of any strategy: `eval(combo, from, to)` runs the strategy with the
/// combination's parameters, trading from `from` to `to` (earlier data feeds its
/// indicators), and returns its period returns (`None`: no data in the window). Every
/// combination given must be valid. Each window's train runs are parallel.
pub fn walk_forward_with<E: From<BacktestError> + Send>(
    valid: &[Combo],
    w: Windows,
    metric: &str,
    periods_per_year: f64,
    eval: &Evaluate<'_, E>,
    progress: &(dyn Fn() + Sync),
) -> Result<WalkForward, E> {
    if valid.is_empty() {
        return Err(BacktestError::Input(
            "the grid has no valid combination for this strategy".into(),
        )
        .into());
    }
    let folds = plan_folds(&w)?;
    let all: Vec<usize> = (0..valid.len()).collect();
    let mut outcomes = Vec::new();
    for fold in &folds {
        let o = fold_outcome(valid, &all, fold, metric, periods_per_year, eval, progress)?;
        let stop = o.best.is_none() || o.test.is_none();
        outcomes.push(o);
        if stop {
            break;
        }
    }
    Ok(assemble(
        valid,
        &folds,
        &outcomes,
        w.anchored,
        metric,
        periods_per_year,
    )?)
}

/// One part of a sharded walk-forward: the units `k = fold × points + point` with
/// `k mod part.count = part.index` are trained; in each fold the part's own best point is
/// tested, so merging the parts' bests ([`best_of`] over them) finds the single process's
/// best with its test already run.
pub fn walk_forward_part<E: From<BacktestError> + Send>(
    valid: &[Combo],
    w: Windows,
    metric: &str,
    periods_per_year: f64,
    eval: &Evaluate<'_, E>,
    progress: &(dyn Fn() + Sync),
    part: crate::shard::Part,
) -> Result<(Vec<Fold>, Vec<FoldOutcome>), E> {
    let folds = plan_folds(&w)?;
    let p = valid.len();
    let mut outcomes = Vec::new();
    for (f, fold) in folds.iter().enumerate() {
        let mine: Vec<usize> = (0..p).filter(|i| part.has(f * p + i)).collect();
        outcomes.push(fold_outcome(
            valid,
            &mine,
            fold,
            metric,
            periods_per_year,
            eval,
            progress,
        )?);
    }
    Ok((folds, outcomes))
}

/// The analysis from its folds' outcomes, in order: the windows up to the first whose best
/// has no test bars, their stitched out-of-sample returns and the summary.
pub fn assemble(
    valid: &[Combo],
    folds: &[Fold],
    outcomes: &[FoldOutcome],
    anchored: bool,
    metric: &str,
    periods_per_year: f64,
) -> Result<WalkForward, BacktestError> {
    let mut windows = Vec::new();
    let mut oos_dates = Vec::new();
    let mut oos_returns = Vec::new();
    for (fold, o) in folds.iter().zip(outcomes) {
        let Some((i, in_sample)) = o.best else {
            return Err(BacktestError::Input(format!(
                "no combination has a {metric} on the train window {}..{}",
                fold.train_from, fold.test_from
            )));
        };
        let Some(r) = &o.test else {
            break;
        };
        let best = valid.get(i).ok_or_else(|| {
            BacktestError::Input(format!(
                "point {i} is not one of the {} points",
                valid.len()
            ))
        })?;
        // The first test row's return is measured from the window's starting cash (0): the
        // stitched curve uses the rows after it, plus the first bar's own move is not traded.
        oos_dates.extend_from_slice(&r.dates);
        oos_returns.extend_from_slice(&r.rets);
        windows.push(WindowResult {
            train_from: fold.train_from,
            train_to: fold.train_to,
            test_from: fold.test_from,
            test_to: fold.test_to,
            best: best.clone(),
            in_sample: Some(in_sample),
            out_of_sample: score(r, metric, periods_per_year),
        });
    }
    if windows.is_empty() {
        return Err(BacktestError::Input(
            "the data is shorter than one train window plus one test window".into(),
        ));
    }
    let oos_metrics = systrade_metrics::summarize(&oos_dates, &oos_returns, None, periods_per_year)
        .map_err(|e| BacktestError::Input(e.to_string()))?;
    let mean = |xs: Vec<f64>| {
        if xs.is_empty() {
            None
        } else {
            Some(xs.iter().sum::<f64>() / xs.len() as f64)
        }
    };
    let in_sample_mean = mean(windows.iter().filter_map(|w| w.in_sample).collect());
    let out_of_sample_mean = mean(windows.iter().filter_map(|w| w.out_of_sample).collect());
    let degradation_ratio = match (in_sample_mean, out_of_sample_mean) {
        (Some(i), Some(o)) if i != 0.0 => Some(o / i),
        _ => None,
    };
    Ok(WalkForward {
        metric: metric.to_string(),
        anchored,
        windows,
        oos_dates,
        oos_returns,
        oos_metrics,
        in_sample_mean,
        out_of_sample_mean,
        degradation_ratio,
    })
}

/// Writes `walkforward.csv`, `oos_timeseries.csv` and `walkforward.json`.
pub fn write_walk_forward(w: &WalkForward, dir: &Path) -> Result<(), BacktestError> {
    let mut s = String::from(
        "window,train_from,train_to,test_from,test_to,params,in_sample,out_of_sample\n",
    );
    for (i, x) in w.windows.iter().enumerate() {
        let params: Vec<String> = x.best.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let cell = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_default();
        let _ = writeln!(
            s,
            "{i},{},{},{},{},{},{},{}",
            x.train_from,
            x.train_to,
            x.test_from,
            x.test_to,
            params.join(" "),
            cell(x.in_sample),
            cell(x.out_of_sample)
        );
    }
    write_atomic(&dir.join("walkforward.csv"), s.as_bytes())?;
    let mut t = String::from("date,return,equity\n");
    let mut eq = 1.0f64;
    for (d, r) in w.oos_dates.iter().zip(&w.oos_returns) {
        eq *= 1.0 + r;
        let _ = writeln!(t, "{d},{r},{eq}");
    }
    write_atomic(&dir.join("oos_timeseries.csv"), t.as_bytes())?;
    let summary = serde_json::json!({
        "metric": w.metric,
        "anchored": w.anchored,
        "windows": w.windows.len(),
        "in_sample_mean": w.in_sample_mean,
        "out_of_sample_mean": w.out_of_sample_mean,
        "degradation_ratio": w.degradation_ratio,
        "oos_metrics": w.oos_metrics,
    });
    write_json_atomic(&dir.join("walkforward.json"), &summary)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_span_parse() {
        assert_eq!(Span::parse("3y"), Ok(Span::Months(36)));
        assert_eq!(Span::parse("18m"), Ok(Span::Months(18)));
        assert_eq!(Span::parse("90d"), Ok(Span::Days(90)));
        assert!(Span::parse("0y").is_err());
        assert!(Span::parse("3w").is_err());
        assert!(Span::parse("y").is_err());
    }
}
