//! A sweep cut into parts (issue 24): `--shard I/N` runs the units `k` of the grid (each
//! backtest of the single-process run, in its order) with `k mod N = I` and writes them as
//! `part-I-of-N.json`; [`merge`] puts every part back into the single process's rows, in its
//! order, so the merged files are byte for byte the ones one process writes. A part carries the
//! sweep's key (what was run: the command and its inputs) and its place; merging refuses
//! parts of another sweep, a part twice, or a missing one, naming them. Numbers are stored as
//! their shortest round-trip text, so nothing moves by a bit on the way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use systrade_core::Symbol;
use systrade_core::fsio::write_atomic;

use crate::BacktestError;
use crate::sweep::{Combo, SweepRow};

/// Which part of a sweep a process runs: units `k` with `k mod count = index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub index: usize,
    pub count: usize,
}

impl Part {
    /// The whole sweep (one process).
    pub const WHOLE: Part = Part { index: 0, count: 1 };

    /// `I/N` with `0 ≤ I < N` (a Slurm array task id or a Kubernetes completion index).
    pub fn parse(text: &str) -> Result<Part, String> {
        let bad = || {
            format!(
                "--shard {text:?}: expected I/N with 0 <= I < N, like 0/4 … 3/4 (I is SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX)"
            )
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Part { index, count })
    }

    /// True when unit `k` belongs to this part.
    pub fn has(&self, k: usize) -> bool {
        k % self.count == self.index
    }

    /// The part's file name in its folder: `part-0003-of-0016.json`.
    pub fn file_name(&self) -> String {
        format!("part-{:04}-of-{:04}.json", self.index, self.count)
    }
}

fn num(x: f64) -> String {
    format!("{x}")
}

fn opt(x: Option<f64>) -> Option<String> {
    x.map(num)
}

/// One row of a part, numbers as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct WireRow {
    unit: usize,
    symbol: Option<String>,
    params: BTreeMap<String, String>,
    final_equity: String,
    cagr: Option<String>,
    sharpe: Option<String>,
    sortino: Option<String>,
    max_dd: Option<String>,
    calmar: Option<String>,
    entries: usize,
    exits: usize,
}

/// A part file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Wire {
    systrade_sweep_part: u32,
    /// What was swept (the command and its inputs): every part of one sweep has the same.
    key: String,
    index: usize,
    count: usize,
    /// How many units the whole sweep has.
    units: usize,
    grid: String,
    metric: String,
    rows: Vec<WireRow>,
    /// Points the strategy refused, with why (unit, text).
    refused: Vec<(usize, String)>,
}

/// The rows one part ran, each with its unit (its place in the single process's order).
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPart {
    pub key: String,
    pub part: Part,
    pub units: usize,
    pub grid: String,
    pub metric: String,
    pub rows: Vec<(usize, SweepRow)>,
    pub refused: Vec<(usize, String)>,
}

fn parse_num(path: &Path, what: &str, s: &str) -> Result<f64, BacktestError> {
    s.parse().map_err(|_| {
        BacktestError::Input(format!("{}: {what} {s:?} is not a number", path.display()))
    })
}

impl SweepPart {
    /// Writes the part into `dir` as [`Part::file_name`] (atomically; a rerun of the same
    /// part replaces its own file, never another's).
    pub fn write(&self, dir: &Path) -> Result<PathBuf, BacktestError> {
        let wire = Wire {
            systrade_sweep_part: 1,
            key: self.key.clone(),
            index: self.part.index,
            count: self.part.count,
            units: self.units,
            grid: self.grid.clone(),
            metric: self.metric.clone(),
            rows: self
                .rows
                .iter()
                .map(|(unit, r)| WireRow {
                    unit: *unit,
                    symbol: r.symbol.as_ref().map(|s| s.to_string()),
                    params: r.params.iter().map(|(k, v)| (k.clone(), num(*v))).collect(),
                    final_equity: num(r.final_equity),
                    cagr: opt(r.cagr),
                    sharpe: opt(r.sharpe),
                    sortino: opt(r.sortino),
                    max_dd: opt(r.max_dd),
                    calmar: opt(r.calmar),
                    entries: r.entries,
                    exits: r.exits,
                })
                .collect(),
            refused: self.refused.clone(),
        };
        let path = dir.join(self.part.file_name());
        let text = serde_json::to_string(&wire)
            .map_err(|e| BacktestError::Input(format!("encoding {}: {e}", path.display())))?;
        write_atomic(&path, format!("{text}\n").as_bytes())?;
        Ok(path)
    }

    /// Reads one part file.
    pub fn read(path: &Path) -> Result<SweepPart, BacktestError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BacktestError::Input(format!("{}: cannot read: {e}", path.display())))?;
        let w: Wire = serde_json::from_str(&text).map_err(|e| {
            BacktestError::Input(format!(
                "{}: not a sweep part (`sweep --shard I/N` writes them): {e}",
                path.display()
            ))
        })?;
        let opt = |what: &str, x: &Option<String>| {
            x.as_deref().map(|s| parse_num(path, what, s)).transpose()
        };
        let mut rows = Vec::with_capacity(w.rows.len());
        for r in &w.rows {
            let params: Combo = r
                .params
                .iter()
                .map(|(k, v)| Ok((k.clone(), parse_num(path, k, v)?)))
                .collect::<Result<_, BacktestError>>()?;
            let symbol = r
                .symbol
                .as_deref()
                .map(|s| {
                    Symbol::new(s).map_err(|e| {
                        BacktestError::Input(format!("{}: symbol {s:?}: {e}", path.display()))
                    })
                })
                .transpose()?;
            rows.push((
                r.unit,
                SweepRow {
                    symbol,
                    params,
                    final_equity: parse_num(path, "final_equity", &r.final_equity)?,
                    cagr: opt("cagr", &r.cagr)?,
                    sharpe: opt("sharpe", &r.sharpe)?,
                    sortino: opt("sortino", &r.sortino)?,
                    max_dd: opt("max_dd", &r.max_dd)?,
                    calmar: opt("calmar", &r.calmar)?,
                    entries: r.entries,
                    exits: r.exits,
                },
            ));
        }
        if w.count == 0 || w.index >= w.count {
            return Err(BacktestError::Input(format!(
                "{}: part {} of {} is not a part",
                path.display(),
                w.index,
                w.count
            )));
        }
        Ok(SweepPart {
            key: w.key,
            part: Part {
                index: w.index,
                count: w.count,
            },
            units: w.units,
            grid: w.grid,
            metric: w.metric,
            rows,
            refused: w.refused,
        })
    }
}

/// The part files under `inputs` (each a part file, or a folder holding `part-*.json`).
pub fn part_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, BacktestError> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| BacktestError::Input(format!("{}: {e}", p.display())))?
                .flatten()
                .map(|e| e.path())
                .filter(|f| {
                    f.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("part-") && n.ends_with(".json"))
                })
                .collect();
            found.sort();
            out.extend(found);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(BacktestError::Input(format!(
                "{}: no such file or folder",
                p.display()
            )));
        }
    }
    if out.is_empty() {
        return Err(BacktestError::Input(
            "no sweep parts found (part-I-of-N.json)".into(),
        ));
    }
    Ok(out)
}

/// Checks that `parts` (each with its path, what it is a part of, and its place) are every
/// part of one command, each once: another command's part, a part twice, and missing parts
/// are refused, naming them.
pub fn check_complete<'p, K: PartialEq + Copy + 'p>(
    what: &str,
    parts: impl IntoIterator<Item = (&'p Path, K, Part)>,
) -> Result<(), BacktestError> {
    let mut first: Option<(&Path, K, Part)> = None;
    let mut seen: BTreeMap<usize, &Path> = BTreeMap::new();
    for (path, key, part) in parts {
        let (fp, fk, fpart) = *first.get_or_insert((path, key, part));
        if key != fk || part.count != fpart.count {
            return Err(BacktestError::Input(format!(
                "{} is part {} of {} of another {what} than {} (part {} of {}): merge the parts of one {what} command",
                path.display(),
                part.index,
                part.count,
                fp.display(),
                fpart.index,
                fpart.count
            )));
        }
        if let Some(other) = seen.insert(part.index, path) {
            return Err(BacktestError::Input(format!(
                "part {} of {} is given twice: {} and {}",
                part.index,
                part.count,
                other.display(),
                path.display()
            )));
        }
    }
    let Some((_, _, fpart)) = first else {
        return Err(BacktestError::Input(format!("no {what} parts to merge")));
    };
    let count = fpart.count;
    let missing: Vec<String> = (0..count)
        .filter(|i| !seen.contains_key(i))
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(BacktestError::Input(format!(
            "parts {} of {count} are missing (run `{what} … --shard I/{count}` for each)",
            missing.join(", ")
        )));
    }
    Ok(())
}

/// Every part of one sweep, merged: its rows in the single process's order, the grid text
/// and the metric. Refuses parts of different sweeps, a part given twice, and missing parts.
pub fn merge(parts: Vec<(PathBuf, SweepPart)>) -> Result<MergedSweep, BacktestError> {
    let Some((_, first)) = parts.first() else {
        return Err(BacktestError::Input("no sweep parts to merge".into()));
    };
    check_complete(
        "sweep",
        parts
            .iter()
            .map(|(path, p)| (path.as_path(), (p.key.as_str(), p.units), p.part)),
    )?;
    let grid = first.grid.clone();
    let metric = first.metric.clone();
    let mut rows: Vec<(usize, SweepRow)> = Vec::new();
    let mut refused: Vec<(usize, String)> = Vec::new();
    for (_, p) in parts {
        rows.extend(p.rows);
        refused.extend(p.refused);
    }
    rows.sort_by_key(|(k, _)| *k);
    refused.sort_by_key(|(k, _)| *k);
    Ok(MergedSweep {
        grid,
        metric,
        rows: rows.into_iter().map(|(_, r)| r).collect(),
        refused: refused.into_iter().map(|(_, r)| r).collect(),
    })
}

/// A sweep put back together from its parts.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedSweep {
    pub grid: String,
    pub metric: String,
    pub rows: Vec<SweepRow>,
    pub refused: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_read_back_to_the_bit_and_merged_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let row = |k: usize, x: f64| {
            (
                k,
                SweepRow {
                    symbol: Some(Symbol::new("SPY").unwrap()),
                    params: [("fast".to_string(), k as f64 + 0.1)].into(),
                    final_equity: x,
                    cagr: Some(x / 3.0),
                    sharpe: None,
                    sortino: Some(f64::MIN_POSITIVE),
                    max_dd: Some(-0.1234567890123456),
                    calmar: Some(1e-300),
                    entries: k,
                    exits: 1,
                },
            )
        };
        let mut paths = Vec::new();
        for i in 0..3 {
            let p = SweepPart {
                key: "k".into(),
                part: Part { index: i, count: 3 },
                units: 7,
                grid: "fast=1..7:1".into(),
                metric: "sharpe".into(),
                rows: (0..7)
                    .filter(|k| k % 3 == i)
                    .map(|k| row(k, 100_000.0 / 7.0 * k as f64))
                    .collect(),
                refused: Vec::new(),
            };
            paths.push(p.write(dir.path()).unwrap());
        }
        let parts: Vec<(PathBuf, SweepPart)> = part_files(&[dir.path().to_path_buf()])
            .unwrap()
            .into_iter()
            .map(|p| {
                let part = SweepPart::read(&p).unwrap();
                (p, part)
            })
            .collect();
        let m = merge(parts.clone()).unwrap();
        let want: Vec<SweepRow> = (0..7)
            .map(|k| row(k, 100_000.0 / 7.0 * k as f64).1)
            .collect();
        assert_eq!(m.rows, want);
        // A missing part, a part twice, another sweep's part: each refused by name.
        let e = merge(parts[..2].to_vec()).unwrap_err().to_string();
        assert!(e.contains("parts 2 of 3 are missing"), "{e}");
        let mut twice = parts.clone();
        twice.push(parts[0].clone());
        assert!(
            merge(twice)
                .unwrap_err()
                .to_string()
                .contains("given twice")
        );
        let mut other = parts.clone();
        other[1].1.key = "other".into();
        assert!(
            merge(other)
                .unwrap_err()
                .to_string()
                .contains("another sweep")
        );
        assert_eq!(Part::parse("3/4"), Ok(Part { index: 3, count: 4 }));
        assert!(Part::parse("4/4").is_err() && Part::parse("x").is_err());
    }
}
