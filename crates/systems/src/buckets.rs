//! A portfolio of buckets backtested together (spec/execution-and-buckets.md §3): each
//! bucket is its strategy config run alone with the bucket's capital and limits (so its
//! result is exactly its standalone backtest with those keys), and the portfolio is their
//! sum on the union of their calendars, with the capital no bucket uses kept as cash.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::json;
use systrade_backtest::sweep::Combo;
use systrade_config::portfolio::{Bucket, PortfolioConfig};
use systrade_config::{ReadOptions, StrategyKind};
use systrade_core::fsio::{write_atomic, write_json_atomic};
use systrade_core::json::shortest as num;

use crate::bad;
use crate::capacity::Capacity;
use crate::study::Study;

/// One bucket's run.
#[derive(Debug, Clone)]
pub struct BucketRun {
    pub bucket: Bucket,
    pub kind: StrategyKind,
    pub config: PathBuf,
    pub capital: f64,
    /// The keys the bucket set on its config (capital and limits), as `key=value`.
    pub keys: Vec<(String, f64)>,
    pub dates: Vec<NaiveDate>,
    /// `capital · Π(1 + r)` on each return date.
    pub equity: Vec<f64>,
    pub returns: Vec<f64>,
    pub entries: usize,
    pub exits: usize,
    pub metrics: Option<systrade_metrics::Summary>,
    /// The deepest fall below the bucket's own running peak (negative).
    pub max_drawdown: f64,
    /// Sessions spent at or beyond its drawdown target.
    pub breach_days: usize,
    /// Its largest fill against the name's average daily volume, at the bucket's capital.
    pub capacity: Option<Capacity>,
}

impl BucketRun {
    pub fn final_equity(&self) -> f64 {
        self.equity.last().copied().unwrap_or(self.capital)
    }

    /// The bucket's equity on `d`: its capital before its first date, its last value after.
    fn equity_on(&self, d: NaiveDate) -> f64 {
        match self.dates.partition_point(|x| *x <= d) {
            0 => self.capital,
            i => self.equity[i - 1],
        }
    }
}

/// The whole portfolio's run.
#[derive(Debug, Clone)]
pub struct PortfolioRun {
    pub name: String,
    pub capital: f64,
    /// Capital no bucket uses.
    pub unallocated: f64,
    pub buckets: Vec<BucketRun>,
    pub dates: Vec<NaiveDate>,
    /// Σ bucket equity + unallocated, on the union calendar.
    pub equity: Vec<f64>,
    pub periods_per_year: f64,
    pub metrics: Option<systrade_metrics::Summary>,
}

/// The keys a bucket sets on its strategy config: its capital (a momentum backtest is a NAV
/// from 1: its capital is what the NAV stands for, for its capacity) and its limits.
fn bucket_keys(kind: StrategyKind, b: &Bucket, capital: f64) -> Vec<(String, f64)> {
    let key = match kind {
        StrategyKind::Momentum => "backtest.capital",
        _ => "backtest.cash",
    };
    let mut keys = vec![(key.to_string(), capital)];
    keys.extend(PortfolioConfig::limit_keys(b));
    keys
}

fn drawdown_stats(equity: &[f64], target: Option<f64>) -> (f64, usize) {
    let (mut peak, mut worst, mut breach) = (f64::NEG_INFINITY, 0.0f64, 0usize);
    for e in equity {
        peak = peak.max(*e);
        let dd = if peak > 0.0 { e / peak - 1.0 } else { 0.0 };
        worst = worst.min(dd);
        if target.is_some_and(|t| -dd >= t) {
            breach += 1;
        }
    }
    (worst, breach)
}

fn metrics_of(dates: &[NaiveDate], rets: &[f64], ppy: f64) -> Option<systrade_metrics::Summary> {
    if rets.is_empty() {
        return None;
    }
    systrade_metrics::summarize(dates, rets, None, ppy).ok()
}

/// The portfolio's `name`, else its file's stem.
pub fn portfolio_name(cfg: &PortfolioConfig, path: &Path) -> String {
    if cfg.name.is_empty() {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        cfg.name.clone()
    }
}

/// Runs every bucket of the portfolio at `path` and merges them.
pub fn backtest(path: &Path, read: &ReadOptions) -> anyhow::Result<PortfolioRun> {
    let cfg = PortfolioConfig::load(path).map_err(bad)?;
    let window = (cfg.backtest.start, cfg.backtest.end);
    let mut runs = Vec::with_capacity(cfg.buckets.len());
    let mut ppy: f64 = 0.0;
    for b in &cfg.buckets {
        let config = cfg.bucket_config(path, b);
        let study = Study::load(&config, None, read)
            .map_err(|e| bad(format!("bucket {}: {e:#}", b.name)))?;
        if study.kind == StrategyKind::Portfolio {
            return Err(bad(format!(
                "bucket {}: {} is itself a portfolio",
                b.name,
                config.display()
            )));
        }
        let capital = cfg.amount(b);
        let keys = bucket_keys(study.kind, b, capital);
        let combo: Combo = keys.iter().cloned().collect();
        let e = study
            .evaluate(&combo, window)
            .map_err(|e| bad(format!("bucket {}: {e:#}", b.name)))?;
        let mut equity = Vec::with_capacity(e.returns.len());
        let mut level = capital;
        for r in &e.returns {
            level *= 1.0 + r;
            equity.push(level);
        }
        let (max_drawdown, breach_days) = drawdown_stats(
            &std::iter::once(capital)
                .chain(equity.iter().copied())
                .collect::<Vec<_>>(),
            b.max_drawdown,
        );
        ppy = ppy.max(study.periods_per_year);
        runs.push(BucketRun {
            bucket: b.clone(),
            kind: study.kind,
            config,
            capital,
            keys,
            metrics: metrics_of(&e.dates, &e.returns, study.periods_per_year),
            dates: e.dates,
            equity,
            returns: e.returns,
            entries: e.entries,
            exits: e.exits,
            max_drawdown,
            breach_days,
            capacity: e.capacity,
        });
    }
    let unallocated = cfg.capital - runs.iter().map(|r| r.capital).sum::<f64>();
    let dates: Vec<NaiveDate> = runs
        .iter()
        .flat_map(|r| r.dates.iter().copied())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let equity: Vec<f64> = dates
        .iter()
        .map(|d| unallocated + runs.iter().map(|r| r.equity_on(*d)).sum::<f64>())
        .collect();
    let rets: Vec<f64> = std::iter::once(cfg.capital)
        .chain(equity.iter().copied())
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| w[1] / w[0] - 1.0)
        .collect();
    Ok(PortfolioRun {
        name: portfolio_name(&cfg, path),
        capital: cfg.capital,
        unallocated,
        metrics: metrics_of(&dates, &rets, ppy),
        buckets: runs,
        dates,
        equity,
        periods_per_year: ppy,
    })
}

fn opt(x: Option<f64>) -> String {
    x.map(num).unwrap_or_default()
}

/// `timeseries.csv`: the portfolio's equity and return, and each bucket's equity.
pub fn timeseries_csv(p: &PortfolioRun) -> String {
    let mut s = String::from("date,equity,return");
    for b in &p.buckets {
        let _ = write!(s, ",{}_equity", b.bucket.name);
    }
    s.push('\n');
    let mut prev = p.capital;
    for (d, e) in p.dates.iter().zip(&p.equity) {
        let _ = write!(s, "{d},{},{}", num(*e), num(e / prev - 1.0));
        for b in &p.buckets {
            let _ = write!(s, ",{}", num(b.equity_on(*d)));
        }
        s.push('\n');
        prev = *e;
    }
    s
}

/// `buckets.csv`: each bucket's capital, result, share of the portfolio's PnL and metrics.
pub fn buckets_csv(p: &PortfolioRun) -> String {
    let total_pnl: f64 = p.buckets.iter().map(|b| b.final_equity() - b.capital).sum();
    let mut s = String::from(
        "bucket,label,strategy,config,capital,final_equity,pnl,pnl_share,cagr,vol,sharpe,max_drawdown,max_drawdown_target,on_breach,breach_days,max_positions,entries,exits,account\n",
    );
    for b in &p.buckets {
        let pnl = b.final_equity() - b.capital;
        let m = b.metrics.as_ref();
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            b.bucket.name,
            b.bucket.label.replace(',', ";"),
            b.kind.as_str(),
            b.config.display(),
            num(b.capital),
            num(b.final_equity()),
            num(pnl),
            if total_pnl != 0.0 {
                num(pnl / total_pnl)
            } else {
                String::new()
            },
            opt(m.and_then(|m| m.cagr)),
            opt(m.and_then(|m| m.annual_vol)),
            opt(m.and_then(|m| m.sharpe)),
            num(b.max_drawdown),
            opt(b.bucket.max_drawdown),
            b.bucket.on_breach.as_str(),
            b.breach_days,
            b.bucket
                .max_positions
                .map(|n| n.to_string())
                .unwrap_or_default(),
            b.entries,
            b.exits,
            b.bucket.account
        );
    }
    s
}

/// The bucket whose fill needed the largest share of a name's average volume.
fn largest(p: &PortfolioRun) -> Option<(&str, &Capacity)> {
    p.buckets
        .iter()
        .filter_map(|b| Some((b.bucket.name.as_str(), b.capacity.as_ref()?)))
        .fold(None, |best: Option<(&str, &Capacity)>, (n, c)| match best {
            Some((_, b)) if b.max_adv_share >= c.max_adv_share => best,
            _ => Some((n, c)),
        })
}

/// A bucket's capacity in a table cell.
fn capacity_cell(b: &BucketRun) -> String {
    match &b.capacity {
        Some(c) => format!("{:.4}% ({} {})", c.max_adv_share * 100.0, c.symbol, c.date),
        None => "n/a".into(),
    }
}

/// `summary.json`.
pub fn summary(p: &PortfolioRun) -> serde_json::Value {
    let buckets: BTreeMap<&str, serde_json::Value> = p
        .buckets
        .iter()
        .map(|b| {
            (
                b.bucket.name.as_str(),
                json!({
                    "strategy": b.kind.as_str(),
                    "config": b.config.display().to_string(),
                    "capital": b.capital,
                    "keys": b.keys.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
                    "first_date": b.dates.first().map(|d| d.to_string()),
                    "last_date": b.dates.last().map(|d| d.to_string()),
                    "final_equity": b.final_equity(),
                    "max_drawdown": b.max_drawdown,
                    "breach_days": b.breach_days,
                    "capacity": Capacity::json(b.capacity.as_ref()),
                    "metrics": b.metrics,
                }),
            )
        })
        .collect();
    json!({
        "strategy": "portfolio",
        "name": p.name,
        "capital": p.capital,
        "unallocated": p.unallocated,
        "first_date": p.dates.first().map(|d| d.to_string()),
        "last_date": p.dates.last().map(|d| d.to_string()),
        "final_equity": p.equity.last().copied().unwrap_or(p.capital),
        "periods_per_year": p.periods_per_year,
        "metrics": p.metrics,
        "capacity": largest(p).map(|(b, c)| {
            let mut v = Capacity::json(Some(c));
            v["bucket"] = json!(b);
            v
        }),
        "buckets": buckets,
    })
}

/// Writes `timeseries.csv`, `buckets.csv`, `summary.json` into `out`.
pub fn write(p: &PortfolioRun, out: &Path) -> anyhow::Result<()> {
    write_atomic(&out.join("timeseries.csv"), timeseries_csv(p).as_bytes())?;
    write_atomic(&out.join("buckets.csv"), buckets_csv(p).as_bytes())?;
    write_json_atomic(&out.join("summary.json"), &summary(p))?;
    Ok(())
}

/// The tear sheet: the merged equity, and the buckets' table.
pub fn tearsheet(p: &PortfolioRun, config: &Path) -> systrade_report::tearsheet::TearSheet {
    use crate::tearsheet::{opt_num, opt_pct};
    let table = systrade_report::tearsheet::Table {
        caption: "Buckets".into(),
        header: [
            "bucket", "strategy", "capital", "final equity", "PnL share", "CAGR", "Sharpe",
            "max DD", "target", "days in breach", "largest fill (% of ADV)",
        ]
        .map(String::from)
        .to_vec(),
        rows: {
            let total: f64 = p.buckets.iter().map(|b| b.final_equity() - b.capital).sum();
            p.buckets
                .iter()
                .map(|b| {
                    let m = b.metrics.as_ref();
                    vec![
                        format!("{} {}", b.bucket.name, b.bucket.label),
                        b.kind.as_str().to_string(),
                        format!("{:.2}", b.capital),
                        format!("{:.2}", b.final_equity()),
                        if total != 0.0 {
                            opt_pct(Some((b.final_equity() - b.capital) / total))
                        } else {
                            String::new()
                        },
                        opt_pct(m.and_then(|m| m.cagr)),
                        opt_num(m.and_then(|m| m.sharpe)),
                        opt_pct(Some(b.max_drawdown)),
                        b.bucket
                            .max_drawdown
                            .map(|t| format!("{:.0}% {}", t * 100.0, b.bucket.on_breach.as_str()))
                            .unwrap_or_default(),
                        b.breach_days.to_string(),
                        capacity_cell(b),
                    ]
                })
                .collect()
        },
        note: "Each bucket is its strategy config run alone with the bucket's capital and limits; the portfolio is their sum, with unallocated capital as cash. Largest fill: the fill that needed the largest share of its name's mean volume over the 20 bars before its session (a momentum bucket: a formation's trade at the bucket's capital).".into(),
    };
    systrade_report::tearsheet::TearSheet {
        title: format!("Portfolio {} — {}", p.name, config.display()),
        subtitle: format!(
            "{} buckets · capital {:.2} ({:.2} unallocated) · {} to {}",
            p.buckets.len(),
            p.capital,
            p.unallocated,
            p.dates.first().map(|d| d.to_string()).unwrap_or_default(),
            p.dates.last().map(|d| d.to_string()).unwrap_or_default()
        ),
        perf: systrade_report::tearsheet::Performance {
            dates: p.dates.clone(),
            equity: p.equity.clone(),
            benchmark: None,
            cash_rate: None,
            exposure: None,
            turnover: None,
            periods_per_year: p.periods_per_year,
        },
        metrics: {
            let mut out = crate::tearsheet::return_metrics(
                p.equity.last().copied().unwrap_or(p.capital),
                p.metrics.as_ref(),
            );
            out.extend([
                ("buckets".to_string(), p.buckets.len().to_string()),
                (
                    "unallocated".into(),
                    systrade_report::format::money(p.unallocated),
                ),
                (
                    "capacity (largest fill)".into(),
                    match largest(p) {
                        Some((b, c)) => format!("bucket {b}: {}", Capacity::text(Some(c))),
                        None => Capacity::text(None),
                    },
                ),
                ("sessions in breach".into(), {
                    let breached: Vec<String> = p
                        .buckets
                        .iter()
                        .filter(|b| b.breach_days > 0)
                        .map(|b| format!("{} {}", b.bucket.name, b.breach_days))
                        .collect();
                    if breached.is_empty() {
                        "none".into()
                    } else {
                        breached.join(", ")
                    }
                }),
            ]);
            out
        },
        tables: vec![table],
        notes: Vec::new(),
    }
}
