//! The backtests page: the run folders under `serve --backtests DIR…` (the folder itself and
//! its sub-folders) — each backtest (`summary.json`) with its metrics and its tear sheet
//! (`report.html`), each sweep (`sensitivity.csv`) with its sensitivity table and heat map.
//! A file is served only by the names a run folder writes, from a folder this listing found.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;
use systrade_report::format::money;

use crate::view::ViewError;

/// A backtest's folder.
#[derive(Debug, Clone, Serialize)]
pub struct BacktestRow {
    /// The index of its `--backtests` folder (the links carry it and the name).
    pub d: usize,
    pub name: String,
    pub strategy: String,
    pub period: String,
    pub final_equity: String,
    pub cagr: String,
    pub sharpe: String,
    pub max_drawdown: String,
    pub trades: String,
    pub has_report: bool,
    pub warnings: usize,
}

/// A sweep's folder.
#[derive(Debug, Clone, Serialize)]
pub struct SweepRow {
    pub d: usize,
    pub name: String,
    pub points: usize,
    pub sharp_peaks: usize,
    pub has_heatmap: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct BacktestsPage {
    pub dirs: Vec<String>,
    pub backtests: Vec<BacktestRow>,
    pub sweeps: Vec<SweepRow>,
}

/// A sweep's sensitivity table.
#[derive(Debug, Clone, Serialize)]
pub struct SweepPage {
    pub d: usize,
    pub name: String,
    pub header: Vec<String>,
    /// Each row's cells, and whether it is a sharp peak.
    pub rows: Vec<(Vec<String>, bool)>,
    pub has_heatmap: bool,
}

/// The files a run folder may serve, and their content types.
pub const FILES: [(&str, &str); 2] = [
    ("report.html", "text/html; charset=utf-8"),
    ("heatmap.svg", "image/svg+xml"),
];

/// The run folders of `dirs[d]`: the folder itself when it is one, then its sub-folders that
/// are, by name.
fn folders(dirs: &[PathBuf], d: usize) -> Vec<(String, PathBuf)> {
    let Some(root) = dirs.get(d) else {
        return Vec::new();
    };
    let is_run = |p: &Path| p.join("summary.json").is_file() || p.join("sensitivity.csv").is_file();
    let mut out = Vec::new();
    if is_run(root) {
        out.push((".".to_string(), root.clone()));
    }
    let mut subs: Vec<(String, PathBuf)> = std::fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_str()?.to_string();
                    let p = e.path();
                    (p.is_dir() && is_run(&p)).then_some((name, p))
                })
                .collect()
        })
        .unwrap_or_default();
    subs.sort();
    out.extend(subs);
    out
}

/// The run folder `name` of `dirs[d]`, when the listing has it (never a path of the user's).
pub fn folder(dirs: &[PathBuf], d: usize, name: &str) -> Option<PathBuf> {
    folders(dirs, d)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, p)| p)
}

fn num(v: &Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_f64()
}

fn pct(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |x| format!("{:.2}%", x * 100.0))
}

fn backtest_row(d: usize, name: &str, dir: &Path) -> Result<BacktestRow, ViewError> {
    let p = dir.join("summary.json");
    let text =
        std::fs::read_to_string(&p).map_err(|e| ViewError(format!("{}: {e}", p.display())))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| ViewError(format!("{}: not JSON ({e})", p.display())))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    Ok(BacktestRow {
        d,
        name: name.to_string(),
        strategy: s("strategy"),
        period: format!("{} .. {}", s("first_date"), s("last_date")),
        final_equity: num(&v, &["final_equity"]).map_or("n/a".into(), money),
        cagr: pct(num(&v, &["metrics", "cagr"])),
        sharpe: num(&v, &["metrics", "sharpe"]).map_or("n/a".into(), |x| format!("{x:.2}")),
        max_drawdown: pct(num(&v, &["metrics", "max_drawdown"])),
        trades: num(&v, &["n_trades"]).map_or("n/a".into(), |x| format!("{x:.0}")),
        has_report: dir.join("report.html").is_file(),
        warnings: v
            .get("warnings")
            .and_then(Value::as_array)
            .map_or(0, Vec::len),
    })
}

fn read_csv(p: &Path) -> Result<(Vec<String>, Vec<Vec<String>>), ViewError> {
    let bad = |e: csv::Error| ViewError(format!("{}: {e}", p.display()));
    let mut r = csv::Reader::from_path(p).map_err(bad)?;
    let header = r
        .headers()
        .map_err(bad)?
        .iter()
        .map(str::to_string)
        .collect();
    let rows = r
        .records()
        .map(|x| x.map(|x| x.iter().map(str::to_string).collect()))
        .collect::<Result<_, _>>()
        .map_err(bad)?;
    Ok((header, rows))
}

/// Every run folder under the directories.
pub fn page(dirs: &[PathBuf]) -> Result<BacktestsPage, ViewError> {
    let mut backtests = Vec::new();
    let mut sweeps = Vec::new();
    for d in 0..dirs.len() {
        for (name, dir) in folders(dirs, d) {
            if dir.join("summary.json").is_file() {
                backtests.push(backtest_row(d, &name, &dir)?);
            }
            if dir.join("sensitivity.csv").is_file() {
                let (header, rows) = read_csv(&dir.join("sensitivity.csv"))?;
                let peak = header.iter().position(|h| h == "sharp_peak");
                sweeps.push(SweepRow {
                    d,
                    name,
                    points: rows.len(),
                    sharp_peaks: peak.map_or(0, |i| {
                        rows.iter()
                            .filter(|r| r.get(i).is_some_and(|v| v == "true"))
                            .count()
                    }),
                    has_heatmap: dir.join("heatmap.svg").is_file(),
                });
            }
        }
    }
    Ok(BacktestsPage {
        dirs: dirs.iter().map(|d| d.display().to_string()).collect(),
        backtests,
        sweeps,
    })
}

/// One sweep's sensitivity table.
pub fn sweep(dirs: &[PathBuf], d: usize, name: &str) -> Result<Option<SweepPage>, ViewError> {
    let Some(dir) = folder(dirs, d, name) else {
        return Ok(None);
    };
    let p = dir.join("sensitivity.csv");
    if !p.is_file() {
        return Ok(None);
    }
    let (header, rows) = read_csv(&p)?;
    let peak = header.iter().position(|h| h == "sharp_peak");
    let rows = rows
        .into_iter()
        .map(|r| {
            let sharp = peak.is_some_and(|i| r.get(i).is_some_and(|v| v == "true"));
            (r, sharp)
        })
        .collect();
    Ok(Some(SweepPage {
        d,
        name: name.to_string(),
        header,
        rows,
        has_heatmap: dir.join("heatmap.svg").is_file(),
    }))
}
