//! A walk-forward cut into parts (issue 24): `walkforward --shard I/N` trains the units
//! `fold × points + point` with `k mod N = I`, tests its own best point of each fold, and writes
//! `part-I-of-N.json`; [`merge`] picks each fold's best across the parts (as one process picks
//! it) and assembles the analysis, byte for byte the one a single process writes. Numbers are
//! stored as their shortest round-trip text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use systrade_core::fsio::write_atomic;

use crate::BacktestError;
use crate::shard::{Part, check_complete};
use crate::sweep::Combo;
use crate::walkforward::{Fold, FoldOutcome, Returns, WalkForward, assemble, best_of};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct FoldWire {
    train_from: NaiveDate,
    train_to: NaiveDate,
    test_from: NaiveDate,
    test_to: NaiveDate,
    /// This part's best point of the fold (its index, its train score).
    best: Option<(usize, String)>,
    /// That point's test returns (dates, returns), `null` when the window had no bars.
    test: Option<(Vec<NaiveDate>, Vec<String>)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Wire {
    systrade_walkforward_part: u32,
    key: String,
    index: usize,
    count: usize,
    metric: String,
    anchored: bool,
    periods_per_year: String,
    /// The points every part trains (the grid's valid ones, in order).
    points: Vec<BTreeMap<String, String>>,
    folds: Vec<FoldWire>,
    /// What the report says about the run (title, data, spans…), as the command had it.
    about: BTreeMap<String, String>,
}

/// One part of a sharded walk-forward.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkForwardPart {
    /// What was run (the command and its inputs): every part of one run has the same.
    pub key: String,
    pub part: Part,
    pub metric: String,
    pub anchored: bool,
    pub periods_per_year: f64,
    pub points: Vec<Combo>,
    pub folds: Vec<Fold>,
    pub outcomes: Vec<FoldOutcome>,
    pub about: BTreeMap<String, String>,
}

fn num(x: f64) -> String {
    format!("{x}")
}

fn parse(path: &Path, what: &str, s: &str) -> Result<f64, BacktestError> {
    s.parse().map_err(|_| {
        BacktestError::Input(format!("{}: {what} {s:?} is not a number", path.display()))
    })
}

/// True when the JSON file at `path` is a walk-forward part (not a sweep's).
pub fn is_walkforward_part(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.contains("\"systrade_walkforward_part\""))
}

impl WalkForwardPart {
    /// Writes the part into `dir` as [`Part::file_name`] (atomically; a rerun of the same part
    /// replaces its own file, never another's).
    pub fn write(&self, dir: &Path) -> Result<PathBuf, BacktestError> {
        let wire = Wire {
            systrade_walkforward_part: 1,
            key: self.key.clone(),
            index: self.part.index,
            count: self.part.count,
            metric: self.metric.clone(),
            anchored: self.anchored,
            periods_per_year: num(self.periods_per_year),
            points: self
                .points
                .iter()
                .map(|c| c.iter().map(|(k, v)| (k.clone(), num(*v))).collect())
                .collect(),
            folds: self
                .folds
                .iter()
                .zip(&self.outcomes)
                .map(|(f, o)| FoldWire {
                    train_from: f.train_from,
                    train_to: f.train_to,
                    test_from: f.test_from,
                    test_to: f.test_to,
                    best: o.best.map(|(i, s)| (i, num(s))),
                    test: o
                        .test
                        .as_ref()
                        .map(|r| (r.dates.clone(), r.rets.iter().map(|x| num(*x)).collect())),
                })
                .collect(),
            about: self.about.clone(),
        };
        let path = dir.join(self.part.file_name());
        let text = serde_json::to_string(&wire)
            .map_err(|e| BacktestError::Input(format!("encoding {}: {e}", path.display())))?;
        write_atomic(&path, format!("{text}\n").as_bytes())?;
        Ok(path)
    }

    /// Reads one part file.
    pub fn read(path: &Path) -> Result<WalkForwardPart, BacktestError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BacktestError::Input(format!("{}: cannot read: {e}", path.display())))?;
        let w: Wire = serde_json::from_str(&text).map_err(|e| {
            BacktestError::Input(format!(
                "{}: not a walk-forward part (`walkforward --shard I/N` writes them): {e}",
                path.display()
            ))
        })?;
        if w.count == 0 || w.index >= w.count {
            return Err(BacktestError::Input(format!(
                "{}: part {} of {} is not a part",
                path.display(),
                w.index,
                w.count
            )));
        }
        let points = w
            .points
            .iter()
            .map(|c| {
                c.iter()
                    .map(|(k, v)| Ok((k.clone(), parse(path, k, v)?)))
                    .collect::<Result<Combo, BacktestError>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut folds = Vec::new();
        let mut outcomes = Vec::new();
        for f in &w.folds {
            folds.push(Fold {
                train_from: f.train_from,
                train_to: f.train_to,
                test_from: f.test_from,
                test_to: f.test_to,
            });
            let best = match &f.best {
                Some((i, s)) if *i < points.len() => Some((*i, parse(path, "score", s)?)),
                Some((i, _)) => {
                    return Err(BacktestError::Input(format!(
                        "{}: point {i} is not one of its {} points",
                        path.display(),
                        points.len()
                    )));
                }
                None => None,
            };
            let test = match &f.test {
                Some((dates, rets)) if dates.len() == rets.len() => Some(Returns {
                    dates: dates.clone(),
                    rets: rets
                        .iter()
                        .map(|r| parse(path, "return", r))
                        .collect::<Result<_, _>>()?,
                }),
                Some(_) => {
                    return Err(BacktestError::Input(format!(
                        "{}: a test window's dates and returns differ in length",
                        path.display()
                    )));
                }
                None => None,
            };
            outcomes.push(FoldOutcome { best, test });
        }
        Ok(WalkForwardPart {
            key: w.key,
            part: Part {
                index: w.index,
                count: w.count,
            },
            metric: w.metric,
            anchored: w.anchored,
            periods_per_year: parse(path, "periods_per_year", &w.periods_per_year)?,
            points,
            folds,
            outcomes,
            about: w.about,
        })
    }
}

/// Every part of one walk-forward, merged into the analysis one process makes, and what the
/// report says about the run.
pub fn merge(
    parts: Vec<(PathBuf, WalkForwardPart)>,
) -> Result<(WalkForward, BTreeMap<String, String>), BacktestError> {
    check_complete(
        "walkforward",
        parts
            .iter()
            .map(|(path, p)| (path.as_path(), p.key.as_str(), p.part)),
    )?;
    let Some((_, first)) = parts.first() else {
        return Err(BacktestError::Input("no walkforward parts to merge".into()));
    };
    let mut outcomes = Vec::new();
    for f in 0..first.folds.len() {
        // Each part's best of the fold, in point order: the single process's best is theirs.
        let mut bests: Vec<(usize, f64, Option<&Returns>)> = parts
            .iter()
            .filter_map(|(_, p)| {
                let o = p.outcomes.get(f)?;
                o.best.map(|(i, s)| (i, s, o.test.as_ref()))
            })
            .collect();
        bests.sort_by_key(|b| b.0);
        let best = best_of(bests.iter().map(|(i, s, _)| (*i, Some(*s))));
        let test =
            best.and_then(|(i, _)| bests.iter().find(|b| b.0 == i).and_then(|b| b.2.cloned()));
        let stop = best.is_none() || test.is_none();
        outcomes.push(FoldOutcome { best, test });
        if stop {
            break;
        }
    }
    let w = assemble(
        &first.points,
        &first.folds,
        &outcomes,
        first.anchored,
        &first.metric,
        first.periods_per_year,
    )?;
    Ok((w, first.about.clone()))
}
