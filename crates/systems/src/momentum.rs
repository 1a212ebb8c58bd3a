//! `backtest --config` and `plan` for momentum-cohorts configs: loading the owner's inputs
//! (prices, sectors, CDI, benchmark), the run, and the trade-ready exports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use systrade_core::fsio::{write_atomic, write_json_atomic};
use systrade_core::{DailyBar, Market, Symbol};
use systrade_data::layout::RateUnit;
use systrade_data::parse::Content;
use systrade_data::{Adjust, DataSource, parse_file};
use systrade_pipeline::momentum::{
    BookKind, Formation, Inputs, Limits, MomentumParams, MomentumResult, Panel, SideKind, run,
};

use systrade_config::ReadOptions;
use systrade_config::momentum::MomentumConfig;

use crate::bad;
use crate::capacity::Capacity;
use crate::trend::pct;

/// A config with every input loaded and aligned.
pub struct Loaded {
    pub cfg: MomentumConfig,
    pub params: MomentumParams,
    pub market: Market,
    pub panel: Panel,
    pub cdi: Vec<f64>,
    pub bench: Vec<f64>,
    pub bench_name: String,
    pub warnings: Vec<String>,
    pub source: PathBuf,
    /// The daily bars behind the panel (the paper broker fills against them).
    pub bars: BTreeMap<Symbol, Vec<DailyBar>>,
}

/// Overrides of a momentum config's inputs and parameters (the command line's flags).
#[derive(Debug, Clone, Default)]
pub struct MomentumOverrides {
    /// A SQLite database with `prices` (and `sectors`); overrides data.source.
    pub db: Option<PathBuf>,
    /// The CDI series; overrides data.cdi.
    pub cdi: Option<PathBuf>,
    pub cohorts: Option<usize>,
    /// Hold the composite beta overlay.
    pub beta_overlay: bool,
    pub book: Option<BookKind>,
}

/// The config's market, unless the read options name one.
pub fn market_of(cfg: &MomentumConfig, read: &ReadOptions) -> Market {
    match (read.parse.market, cfg.data.market.as_str()) {
        (Some(m), _) => m,
        (None, "us") => Market::Us,
        (None, "crypto") => Market::Crypto,
        _ => Market::B3,
    }
}

/// Reads the config and its inputs; flags override the config.
pub fn load(
    config: &Path,
    data: Option<&Path>,
    m: &MomentumOverrides,
    read: &ReadOptions,
    window: (Option<NaiveDate>, Option<NaiveDate>),
) -> anyhow::Result<Loaded> {
    let cfg = MomentumConfig::load(config).map_err(bad)?;
    let mut params = cfg.momentum.clone();
    if let Some(c) = m.cohorts {
        params.cohorts = c;
    }
    if m.beta_overlay {
        params.beta_overlay = true;
    }
    if let Some(b) = m.book {
        params.book = b;
    }
    systrade_config::check_windows(&[("--cohorts", params.cohorts as u64)])
        .map_err(|e| bad(format!("{}: {e}", config.display())))?;
    params
        .validate()
        .map_err(|e| bad(format!("{}: {e}", config.display())))?;
    let resolve = |p: &Path| systrade_config::resolve(config, p);

    // Prices.
    let source =
        m.db.clone()
            .or_else(|| data.map(Path::to_path_buf))
            .unwrap_or_else(|| resolve(&cfg.data.source));
    let market = market_of(&cfg, read);
    let mut opts = read.parse.clone();
    opts.market = Some(market);
    if !read.adjust_given {
        opts.adjust = match cfg.data.adjust.as_str() {
            "split" => Adjust::Split,
            "total" => Adjust::Total,
            _ => Adjust::None,
        };
    }
    let src =
        DataSource::open(&source).with_context(|| format!("{}: data.source", config.display()))?;
    let mut series: BTreeMap<Symbol, Vec<DailyBar>> = src
        .all_daily(&opts)
        .with_context(|| format!("{}: loading prices", source.display()))?
        .into_iter()
        .map(|s| (s.symbol, s.bars))
        .collect();
    if let Some(only) = &cfg.data.tickers {
        let mut kept = BTreeMap::new();
        for t in only {
            let s = Symbol::new(t).map_err(|e| bad(format!("data.tickers: {e}")))?;
            let bars = series.remove(&s).ok_or_else(|| {
                bad(format!(
                    "{}: data.tickers: unknown symbol {s} (no daily series in {})",
                    config.display(),
                    source.display()
                ))
            })?;
            kept.insert(s, bars);
        }
        series = kept;
    }
    if series.is_empty() {
        return Err(bad(format!("{}: no daily price series", source.display())));
    }

    // Sectors.
    let mut sectors: BTreeMap<Symbol, String> = BTreeMap::new();
    let sector_source = match &cfg.data.sectors {
        Some(p) => {
            let path = resolve(p);
            let parsed = parse_file(&path, &Default::default())
                .with_context(|| format!("{}: data.sectors", config.display()))?;
            match parsed.content {
                Content::Sectors(rows) => {
                    for r in rows {
                        sectors.insert(r.symbol, r.sector);
                    }
                }
                other => {
                    return Err(bad(format!(
                        "{}: data.sectors is a {} file, not a sector map",
                        path.display(),
                        other.kind()
                    )));
                }
            }
            path.display().to_string()
        }
        None => match &src {
            DataSource::Db(path) => {
                let db = systrade_data::db::MarketDb::open_existing(path)?;
                for (t, s) in db.sectors()? {
                    if let Ok(sym) = Symbol::new(&t) {
                        sectors.insert(sym, s);
                    }
                }
                format!("the sectors table of {}", path.display())
            }
            DataSource::Files(root) => format!("{} (no data.sectors given)", root.display()),
        },
    };
    let mut warnings = Vec::new();
    let missing: Vec<&Symbol> = series
        .keys()
        .filter(|s| !sectors.contains_key(*s))
        .collect();
    if !missing.is_empty() {
        match &cfg.data.unknown_sector {
            Some(u) => {
                warnings.push(format!(
                    "{} names without a sector in {sector_source}, traded as {u:?}: {}",
                    missing.len(),
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
                let fill: Vec<Symbol> = missing.into_iter().cloned().collect();
                for s in fill {
                    sectors.insert(s, u.clone());
                }
            }
            None => {
                return Err(bad(format!(
                    "{}: ticker {} has no sector in {sector_source} ({} names miss one); map it or set data.unknown_sector",
                    config.display(),
                    missing[0],
                    missing.len()
                )));
            }
        }
    }
    let panel = Panel::new(&series, &sectors);
    let (start, end) = (
        window.0.or(cfg.backtest.start),
        window.1.or(cfg.backtest.end),
    );
    let rows: Vec<usize> = (0..panel.len())
        .filter(|&t| {
            let d = panel.dates[t];
            start.is_none_or(|s| d >= s) && end.is_none_or(|e| d <= e)
        })
        .collect();
    if rows.is_empty() {
        return Err(bad(format!(
            "no price dates between {} and {}",
            start.map(|d| d.to_string()).unwrap_or_default(),
            end.map(|d| d.to_string()).unwrap_or_default()
        )));
    }

    // CDI: a daily simple rate on every date of the window.
    let cdi_path = m.cdi.clone().unwrap_or_else(|| resolve(&cfg.data.cdi));
    let parsed = parse_file(&cdi_path, &Default::default())
        .with_context(|| format!("{}: data.cdi", config.display()))?;
    let Content::Rates(mut rates) = parsed.content else {
        return Err(bad(format!(
            "{}: not a rate series (expected a date column and a CDI rate column)",
            cdi_path.display()
        )));
    };
    let Some(rate) = rates.pop() else {
        return Err(bad(format!("{}: no rate series", cdi_path.display())));
    };
    let unit = match (rate.unit, cfg.data.cdi_unit.as_deref()) {
        (_, Some("pct_per_day")) => RateUnit::PctPerDay,
        (_, Some("pct_per_year")) => RateUnit::PctPerYear,
        (RateUnit::Unspecified, _) => {
            return Err(bad(format!(
                "{}: the header does not say the CDI's unit; set data.cdi_unit = \"pct_per_day\" or \"pct_per_year\"",
                cdi_path.display()
            )));
        }
        (u, _) => u,
    };
    let daily = |v: f64| match unit {
        RateUnit::PctPerYear => (1.0 + v / 100.0).powf(1.0 / params.annualization) - 1.0,
        RateUnit::PctPerMonth => (1.0 + v / 100.0).powf(12.0 / params.annualization) - 1.0,
        _ => v / 100.0,
    };
    let by_date: BTreeMap<NaiveDate, f64> =
        rate.points.iter().map(|(d, v)| (*d, daily(*v))).collect();
    let mut cdi = vec![0.0; panel.len()];
    let mut gaps = Vec::new();
    for &t in &rows {
        match by_date.get(&panel.dates[t]) {
            Some(v) => cdi[t] = *v,
            None => gaps.push(panel.dates[t]),
        }
    }
    if !gaps.is_empty() {
        let (first, last) = (
            rate.points.first().map(|p| p.0),
            rate.points.last().map(|p| p.0),
        );
        return Err(bad(format!(
            "{}: the CDI has no rate on {} trading date(s) of the backtest, first {} (the file spans {}..{}); fill the gaps or bound the run with --start/--end",
            cdi_path.display(),
            gaps.len(),
            gaps[0],
            first.map(|d| d.to_string()).unwrap_or_default(),
            last.map(|d| d.to_string()).unwrap_or_default()
        )));
    }

    // Benchmark: the configured series when it covers the window, else the equal-weight
    // index of the universe.
    let ew = || panel.equal_weight_returns();
    let (bench, bench_name) = match &cfg.data.benchmark {
        Some(p) => {
            let path = resolve(p);
            let parsed = parse_file(&path, &opts)
                .with_context(|| format!("{}: data.benchmark", config.display()))?;
            let closes: BTreeMap<NaiveDate, f64> = match &parsed.content {
                Content::Prices(s) => s
                    .bars
                    .daily()
                    .map(|b| b.iter().map(|x| (x.ts, x.close)).collect())
                    .unwrap_or_default(),
                _ => BTreeMap::new(),
            };
            let uncovered: Vec<NaiveDate> = rows
                .iter()
                .map(|&t| panel.dates[t])
                .filter(|d| !closes.contains_key(d))
                .collect();
            if uncovered.is_empty() && !closes.is_empty() {
                let b: Vec<f64> = (0..panel.len())
                    .map(|t| {
                        let d = panel.dates[t];
                        match (closes.get(&d), closes.range(..d).next_back()) {
                            (Some(c), Some((_, p))) => c / p - 1.0,
                            _ => 0.0,
                        }
                    })
                    .collect();
                (b, format!("{}", path.display()))
            } else {
                let span = match (closes.keys().next(), closes.keys().next_back()) {
                    (Some(a), Some(b)) => format!("{a}..{b}"),
                    _ => "no prices".into(),
                };
                warnings.push(format!(
                    "benchmark {} ({span}) misses {} of the backtest's dates: the equal-weight index of the universe is the benchmark",
                    path.display(),
                    uncovered.len()
                ));
                (ew(), "equal-weight universe index".to_string())
            }
        }
        None => (ew(), "equal-weight universe index".to_string()),
    };
    Ok(Loaded {
        cfg,
        params,
        market,
        panel,
        cdi,
        bench,
        bench_name,
        warnings,
        source,
        bars: series,
    })
}

impl Loaded {
    pub fn run(
        &self,
        start: Option<NaiveDate>,
        end: Option<NaiveDate>,
    ) -> anyhow::Result<MomentumResult> {
        self.run_with(&self.params, self.limits(), start, end)
    }

    /// The book's position and drawdown limits: the config's `[safety]` (a portfolio bucket
    /// sets them there).
    pub fn limits(&self) -> Limits {
        crate::trend::limits_of(&self.cfg.safety)
    }

    /// The run with other parameters and limits over the same inputs.
    pub fn run_with(
        &self,
        params: &MomentumParams,
        limits: Limits,
        start: Option<NaiveDate>,
        end: Option<NaiveDate>,
    ) -> anyhow::Result<MomentumResult> {
        let inputs = Inputs {
            panel: &self.panel,
            cdi: &self.cdi,
            bench: &self.bench,
            bench_name: self.bench_name.clone(),
            calendar: self.market.calendar(),
            start: start.or(self.cfg.backtest.start),
            end: end.or(self.cfg.backtest.end),
            warnings: self.warnings.clone(),
            limits,
        };
        run(&inputs, params).map_err(|e| bad(e.to_string()))
    }
}

use systrade_core::json::shortest as num;

fn opt(x: Option<f64>) -> String {
    x.map(num).unwrap_or_default()
}

fn csv_text(header: &[&str], rows: Vec<Vec<String>>) -> anyhow::Result<String> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(header)?;
    for r in rows {
        w.write_record(&r)?;
    }
    Ok(String::from_utf8(
        w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
    )?)
}

pub const TARGETS_HEADER: [&str; 11] = [
    "cohort_id",
    "ticker",
    "side",
    "target_weight",
    "prev_weight",
    "delta_weight",
    "rationale",
    "sector",
    "duration_months",
    "strikes",
    "notes",
];

fn target_fields(j: usize, r: &systrade_pipeline::momentum::TargetRow) -> Vec<String> {
    vec![
        j.to_string(),
        r.ticker.to_string(),
        r.side.as_str().to_string(),
        num(r.target_weight),
        num(r.prev_weight),
        num(r.target_weight - r.prev_weight),
        r.rationale.as_str().to_string(),
        r.sector.clone(),
        r.duration_months.to_string(),
        r.strikes.to_string(),
        r.notes.clone(),
    ]
}

/// `targets_YYYY-MM.csv` of one formation.
/// The backtest in one line: book, cohorts, universe, period, the headline metrics, costs,
/// benchmark and formations.
pub fn headline(r: &MomentumResult, l: &Loaded) -> String {
    let s = &r.summary;
    format!(
        "momentum {} ({} cohorts{}, {} names from {}) {}..{}: CAGR {}, vol {}, Sharpe over CDI {}, max drawdown {}, turnover {:.2}×/yr, costs {:.2}% of NAV; CDI CAGR {}; benchmark: {}; {} formations ({} failed, {} in stress)",
        match s.book {
            BookKind::Ls => "LS",
            BookKind::D10 => "D10",
        },
        s.cohorts,
        if s.beta_overlay { ", beta overlay" } else { "" },
        l.panel.tickers.len(),
        l.source.display(),
        s.period.0.map(|d| d.to_string()).unwrap_or_default(),
        s.period.1.map(|d| d.to_string()).unwrap_or_default(),
        pct(s.cagr),
        pct(s.vol),
        s.sharpe
            .map(|v| format!("{v:.2}"))
            .unwrap_or_else(|| "n/a".into()),
        pct(s.max_dd),
        s.avg_turnover,
        s.total_cost * 100.0,
        pct(s.cdi_cagr),
        s.benchmark,
        s.formations,
        s.failed_formations.len(),
        s.stress_months
    )
}

pub fn targets_csv(f: &Formation) -> anyhow::Result<String> {
    csv_text(
        &TARGETS_HEADER,
        f.rows.iter().map(|(j, r)| target_fields(*j, r)).collect(),
    )
}

pub fn write_backtest(
    r: &MomentumResult,
    at: Option<&AtCapital>,
    out: &Path,
) -> anyhow::Result<()> {
    let ts = csv_text(
        &[
            "date",
            "nav",
            "ret",
            "ret_gross",
            "cdi",
            "excess",
            "scale",
            "beta_p",
            "overlay_h",
            "long_gross",
            "short_gross",
            "turnover",
            "cost",
        ],
        r.series
            .iter()
            .map(|x| {
                vec![
                    x.date.to_string(),
                    num(x.nav),
                    num(x.ret),
                    num(x.ret_gross),
                    num(x.cdi),
                    num(x.excess),
                    num(x.scale),
                    num(x.beta_p),
                    num(x.overlay_h),
                    num(x.long_gross),
                    num(x.short_gross),
                    num(x.turnover),
                    num(x.cost),
                ]
            })
            .collect(),
    )?;
    let grid = csv_text(
        &[
            "cost_bps",
            "cagr",
            "vol",
            "sharpe",
            "sortino",
            "max_dd",
            "calmar",
            "turnover_annual",
        ],
        r.cost_grid
            .iter()
            .map(|g| {
                vec![
                    num(g.cost_bps),
                    opt(g.cagr),
                    opt(g.vol),
                    opt(g.sharpe),
                    opt(g.sortino),
                    opt(g.max_dd),
                    opt(g.calmar),
                    num(g.turnover_annual),
                ]
            })
            .collect(),
    )?;
    let mut header = vec!["month"];
    header.extend(TARGETS_HEADER);
    let targets = csv_text(
        &header,
        r.formations
            .iter()
            .flat_map(|f| {
                let month = f.month();
                f.rows.iter().map(move |(j, row)| {
                    let mut v = vec![month.clone()];
                    v.extend(target_fields(*j, row));
                    v
                })
            })
            .collect(),
    )?;
    let mut checks = String::new();
    for f in &r.formations {
        let line = systrade_core::json::to_canonical_string(&serde_json::json!({
            "formation": f.date,
            "trade_date": f.trade_date,
            "month_index": f.month_index,
            "n_eligible": f.n_eligible,
            "n_target": f.n_target,
            "stress": f.stress,
            "failed": f.failed,
            "beta_p": f.beta_p,
            "overlay_h": f.overlay_h,
            "cohorts": f.checks,
        }))?;
        checks.push_str(&line);
        checks.push('\n');
    }
    write_atomic(&out.join("timeseries.csv"), ts.as_bytes())?;
    write_atomic(&out.join("cost_grid.csv"), grid.as_bytes())?;
    write_atomic(&out.join("targets.csv"), targets.as_bytes())?;
    write_atomic(&out.join("logs/formations.jsonl"), checks.as_bytes())?;
    let mut summary = serde_json::to_value(&r.summary)?;
    if let Some(at) = at {
        summary["capital"] = serde_json::json!(at.capital);
        summary["capacity"] = Capacity::json(at.capacity.as_ref());
    }
    write_json_atomic(&out.join("summary.json"), &summary)?;
    Ok(())
}

/// What a backtest with `backtest.capital` measured at that capital.
pub struct AtCapital {
    pub capital: f64,
    pub capacity: Option<Capacity>,
}

impl AtCapital {
    /// At the config's `backtest.capital`, when it has one.
    pub fn of(l: &Loaded, r: &MomentumResult) -> Option<AtCapital> {
        let capital = l.cfg.backtest.capital?;
        Some(AtCapital {
            capital,
            capacity: capacity(l, r, capital),
        })
    }

    /// The tear sheet's rows.
    pub fn metrics(&self) -> [(String, String); 2] {
        [
            (
                "capital".into(),
                systrade_report::format::money(self.capital),
            ),
            (
                "capacity (largest fill)".into(),
                Capacity::text(self.capacity.as_ref()),
            ),
        ]
    }
}

/// The capacity of the book at `capital` (the money its NAV of 1 stands for): each
/// formation's trade in each name — the change of its weight, at the day's volatility scale,
/// on the NAV before the trade — in shares at the trade session's open, against the name's
/// mean volume over the [`ENGINE_ADV_WINDOW`](crate::capacity::ENGINE_ADV_WINDOW) sessions
/// before it. A trade without an open or an average is counted as unmeasured.
pub fn capacity(l: &Loaded, r: &MomentumResult, capital: f64) -> Option<Capacity> {
    use crate::capacity::ENGINE_ADV_WINDOW;
    let mut fills: Vec<(&Symbol, NaiveDate, Option<f64>)> = Vec::new();
    let mut held: Option<&BTreeMap<Symbol, f64>> = None;
    for f in &r.formations {
        if f.failed.is_some() {
            continue;
        }
        let before = held.replace(&f.weights);
        let Some(td) = f.trade_date else {
            continue;
        };
        let at = r.series.partition_point(|x| x.date < td);
        let Some(row) = r.series.get(at).filter(|x| x.date == td) else {
            continue;
        };
        let nav = at.checked_sub(1).map_or(1.0, |i| r.series[i].nav);
        let money = capital * nav * row.scale;
        let names: std::collections::BTreeSet<&Symbol> = f
            .weights
            .keys()
            .chain(before.into_iter().flat_map(|b| b.keys()))
            .collect();
        for s in names {
            let was = before.and_then(|b| b.get(s)).copied().unwrap_or(0.0);
            let now = f.weights.get(s).copied().unwrap_or(0.0);
            if now == was {
                continue;
            }
            let share = l.bars.get(s).and_then(|bars| {
                let open = bars
                    .get(bars.partition_point(|b| b.ts < td))
                    .filter(|b| b.ts == td)?
                    .open;
                let adv = systrade_core::bar::mean_volume_before(bars, td, ENGINE_ADV_WINDOW)?;
                (open > 0.0 && adv.is_finite() && adv > 0.0)
                    .then(|| (now - was).abs() * money / open / adv)
            });
            fills.push((s, td, share));
        }
    }
    Capacity::of(fills, ENGINE_ADV_WINDOW)
}

/// The tear sheet of a momentum backtest.
pub fn tearsheet_of(
    r: &MomentumResult,
    l: &Loaded,
    config: &Path,
) -> systrade_report::tearsheet::TearSheet {
    let s = &r.summary;
    crate::tearsheet::momentum_tearsheet(
        r,
        format!(
            "Momentum {} — {} cohorts{}",
            match s.book {
                BookKind::Ls => "LS",
                BookKind::D10 => "D10",
            },
            s.cohorts,
            if s.beta_overlay { ", beta overlay" } else { "" }
        ),
        format!(
            "{} · {} names from {} · {} to {}",
            config.display(),
            l.panel.tickers.len(),
            l.source.display(),
            s.period.0.map(|d| d.to_string()).unwrap_or_default(),
            s.period.1.map(|d| d.to_string()).unwrap_or_default()
        ),
    )
}

/// §9 pre-export checks of one formation: (failures, warnings). A sector above max_sector
/// that the rebalance reported as impossible to fix (§5: "report and continue") is a warning.
pub fn check(f: &Formation, p: &MomentumParams) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::new();
    let mut warn = Vec::new();
    if let Some(m) = &f.failed {
        out.push(m.clone());
        return (out, warn);
    }
    if f.n_eligible < p.min_eligible {
        out.push(format!(
            "universe: {} eligible names < min_eligible {}",
            f.n_eligible, p.min_eligible
        ));
    }
    let g = p.side_gross();
    let tol = p.gross_tol;
    for c in &f.checks {
        let j = c.cohort;
        if c.full != (f.month_index % p.cohorts == j) {
            out.push(format!(
                "cohort {j}: rotation broken (month {} is {} update)",
                f.month_index,
                if c.full { "a full" } else { "a limited" }
            ));
        }
        if !c.started {
            continue;
        }
        let mut sides = vec![("long", c.long_gross, c.n_long)];
        if p.book == BookKind::Ls {
            sides.push(("short", c.short_gross, c.n_short));
        }
        for (name, gross, n) in sides {
            if n == 0 {
                out.push(format!("cohort {j}: the {name} side holds no names"));
            } else if (gross - g).abs() > tol {
                out.push(format!(
                    "cohort {j}: {name} gross {gross:.8} is not {g} ± {tol}"
                ));
            }
        }
        if c.max_weight > c.cap + 1e-12 || (c.min_weight < c.floor - 1e-12 && c.min_weight > 0.0) {
            out.push(format!(
                "cohort {j}: weights {:.6}..{:.6} outside floor {:.6} / cap {:.6}",
                c.min_weight, c.max_weight, c.floor, c.cap
            ));
        }
        if c.update.soft_exits > c.update.soft_exit_cap && !c.full {
            out.push(format!(
                "cohort {j}: {} soft exits above the cap {}",
                c.update.soft_exits, c.update.soft_exit_cap
            ));
        }
        if !c.full && c.update.turnover > p.turnover_budget.max(c.update.hard_turnover) + 1e-12 {
            out.push(format!(
                "cohort {j}: limited-update turnover {:.4} above the budget {} (hard exits {:.4})",
                c.update.turnover, p.turnover_budget, c.update.hard_turnover
            ));
        }
        if c.full && c.max_sector_share > p.max_sector + p.sector_tol {
            let msg = format!(
                "cohort {j}: a sector holds {:.1}% of a side, above max_sector {:.0}%",
                c.max_sector_share * 100.0,
                p.max_sector * 100.0
            );
            let reported = c.update.notes.iter().any(|n| n.contains("max_sector"));
            if reported {
                warn.push(format!(
                    "{msg} (no add-band name of another sector to swap in)"
                ));
            } else {
                out.push(msg);
            }
        }
    }
    (out, warn)
}

/// Reads `ticker,<value>` rows of names in `universe`; with `positive`, values must be > 0.
/// Every problem names the file, the line and the ticker.
pub fn read_map(
    path: &Path,
    value: &str,
    universe: &[Symbol],
    positive: bool,
) -> anyhow::Result<BTreeMap<Symbol, f64>> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| bad(format!("{}: {e}", path.display())))?;
    let h = rdr
        .headers()
        .map_err(|e| bad(format!("{}: {e}", path.display())))?
        .clone();
    let col = |n: &str| h.iter().position(|x| x.eq_ignore_ascii_case(n));
    let (Some(ti), Some(vi)) = (col("ticker").or(col("symbol")), col(value)) else {
        return Err(bad(format!(
            "{}: the header needs `ticker` and `{value}` columns",
            path.display()
        )));
    };
    let mut out = BTreeMap::new();
    for (k, rec) in rdr.records().enumerate() {
        let line = k + 2;
        let rec = rec.map_err(|e| bad(format!("{} line {line}: {e}", path.display())))?;
        let t = Symbol::new(rec.get(ti).unwrap_or(""))
            .map_err(|e| bad(format!("{} line {line}: {e}", path.display())))?;
        if !universe.contains(&t) {
            return Err(bad(format!(
                "{} line {line}: {t}: unknown symbol (not in the universe)",
                path.display()
            )));
        }
        let v: f64 = rec
            .get(vi)
            .unwrap_or("")
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite() && (!positive || *x > 0.0))
            .ok_or_else(|| {
                bad(format!(
                    "{} line {line}: {t}: {value} is not a {}number",
                    path.display(),
                    if positive { "positive " } else { "" }
                ))
            })?;
        if out.insert(t.clone(), v).is_some() {
            return Err(bad(format!(
                "{} line {line}: {t}: listed twice",
                path.display()
            )));
        }
    }
    Ok(out)
}

/// What one leg of an order does to a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegAction {
    /// A new position.
    Open,
    /// A position taken to zero.
    Close,
    /// More of a position held.
    Buy,
    /// Less of a position held.
    Sell,
}

impl LegAction {
    pub fn as_str(self) -> &'static str {
        match self {
            LegAction::Open => "OPEN",
            LegAction::Close => "CLOSE",
            LegAction::Buy => "BUY",
            LegAction::Sell => "SELL",
        }
    }
}

/// One leg of the move from `held` to `target` shares (signed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Leg {
    /// The side of the position the leg is on.
    pub side: SideKind,
    pub action: LegAction,
    pub shares: f64,
}

impl Leg {
    /// Whether the leg buys at the broker: opening a long, closing a short, or `BUY` (the
    /// signed position grows: a long added to, a short covered in part).
    pub fn buys(&self) -> bool {
        match self.action {
            LegAction::Open => self.side == SideKind::Long,
            LegAction::Close => self.side == SideKind::Short,
            LegAction::Buy => true,
            LegAction::Sell => false,
        }
    }
}

/// The legs from `held` to `target` shares: a side that changes (or goes to zero) closes
/// first and opens the new side; otherwise one leg buys or sells the difference.
pub fn legs(held: f64, target: f64) -> Vec<Leg> {
    let side_of = |x: f64| {
        if x < 0.0 {
            SideKind::Short
        } else {
            SideKind::Long
        }
    };
    let delta = target - held;
    if delta == 0.0 {
        return Vec::new();
    }
    let leg = |side, action, shares: f64| Leg {
        side,
        action,
        shares,
    };
    if held != 0.0 && (target == 0.0 || held.signum() != target.signum()) {
        let mut out = vec![leg(side_of(held), LegAction::Close, held.abs())];
        if target != 0.0 {
            out.push(leg(side_of(target), LegAction::Open, target.abs()));
        }
        out
    } else if held == 0.0 {
        vec![leg(side_of(target), LegAction::Open, target.abs())]
    } else {
        let action = if delta > 0.0 {
            LegAction::Buy
        } else {
            LegAction::Sell
        };
        vec![leg(side_of(target), action, delta.abs())]
    }
}

/// `orders_YYYY-MM.csv`: shares from the portfolio's target weights at `capital`, against
/// the holdings (or the previous targets), rounded to lots toward smaller risk.
pub fn orders_csv(
    f: &Formation,
    prev: &BTreeMap<Symbol, f64>,
    capital: f64,
    holdings: Option<&BTreeMap<Symbol, f64>>,
    lots: &BTreeMap<Symbol, f64>,
    default_lot: f64,
) -> anyhow::Result<String> {
    let mut names: Vec<&Symbol> = f.weights.keys().chain(prev.keys()).collect();
    if let Some(h) = holdings {
        names.extend(h.keys());
    }
    names.sort();
    names.dedup();
    let mut rows = Vec::new();
    for s in names {
        let px = *f.ref_price.get(s).ok_or_else(|| {
            bad(format!(
                "{s}: no close on the formation date {} to price the order",
                f.date
            ))
        })?;
        let lot = lots.get(s).copied().unwrap_or(default_lot);
        let to_lot = |shares: f64| (shares / lot).trunc() * lot;
        let target_w = f.weights.get(s).copied().unwrap_or(0.0);
        let held = match holdings {
            Some(h) => h.get(s).copied().unwrap_or(0.0),
            None => to_lot(prev.get(s).copied().unwrap_or(0.0) * capital / px),
        };
        let held_w = held * px / capital;
        let target = to_lot(target_w * capital / px);
        for Leg {
            side,
            action,
            shares,
        } in legs(held, target)
        {
            rows.push(vec![
                s.to_string(),
                side.as_str().to_string(),
                action.as_str().to_string(),
                num(target_w - held_w),
                num(px),
                num(shares),
                format!("{:.2}", shares * px),
            ]);
        }
    }
    csv_text(
        &[
            "ticker",
            "side",
            "action",
            "w_delta",
            "est_px_ref",
            "shares",
            "est_notional",
        ],
        rows,
    )
}

/// `state/cohort_{j}_{YYYY-MM}.json` of each cohort of a formation, under `out`.
pub fn write_cohort_states(f: &Formation, out: &Path) -> anyhow::Result<()> {
    let month = f.month();
    for (j, c) in f.cohorts.iter().enumerate() {
        let check = f.checks.iter().find(|x| x.cohort == j);
        write_json_atomic(
            &out.join(format!("state/cohort_{j}_{month}.json")),
            &serde_json::json!({
                "cohort": j,
                "month": month,
                "formation": f.date,
                "trade_date": f.trade_date,
                "full_rebalance": check.map(|x| x.full),
                "started": c.started,
                "target_count": f.n_target,
                "counts": {"long": c.long.names.len(), "short": c.short.names.len()},
                "long": c.long.names,
                "short": c.short.names,
            }),
        )?;
    }
    Ok(())
}

/// The spec's charts (§8) beside the tear sheet's own: the book's gross and beta.
pub fn charts(r: &MomentumResult, dir: &Path) -> anyhow::Result<()> {
    use systrade_report::{Chart, Line, chart};
    let dates: Vec<NaiveDate> = r.series.iter().map(|x| x.date).collect();
    let line = |name: &str, v: Vec<f64>| Line {
        name: name.to_string(),
        points: dates.iter().copied().zip(v).collect(),
    };
    let c = Chart::new(
        "Gross exposure and beta",
        "fraction of NAV",
        vec![
            line(
                "long gross × scale",
                r.series.iter().map(|x| x.long_gross * x.scale).collect(),
            ),
            line(
                "short gross × scale",
                r.series.iter().map(|x| x.short_gross * x.scale).collect(),
            ),
            line("book beta", r.series.iter().map(|x| x.beta_p).collect()),
            line("overlay h", r.series.iter().map(|x| x.overlay_h).collect()),
            line("VT scale", r.series.iter().map(|x| x.scale).collect()),
        ],
    );
    write_atomic(&dir.join("gross_beta.svg"), chart::svg(&c)?.as_bytes())?;
    write_atomic(&dir.join("gross_beta.png"), &chart::png(&c)?)?;
    Ok(())
}
