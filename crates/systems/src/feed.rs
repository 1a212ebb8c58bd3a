//! Feed configs (buckets C and D) loaded with their feed and prices: the backtest on the
//! engine (fills at the open, stops intraday, the config's costs), every alert's verdict in
//! `alerts.csv`, and the tear sheet.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use systrade_backtest::{BacktestConfig, BacktestResult, CostModel};
use systrade_config::ReadOptions;
use systrade_config::feed::FeedConfig;
use systrade_core::fsio::write_atomic;
use systrade_core::{DailyBar, Market, Symbol};
use systrade_data::{DataError, DataSource};
use systrade_feeds::{Alert, FeedStrategy, Verdict};

use crate::bad;

/// A config with its alerts and the prices of the names they point at.
pub struct Loaded {
    pub cfg: FeedConfig,
    pub market: Market,
    pub alerts: Vec<Alert>,
    pub data: BTreeMap<Symbol, Vec<DailyBar>>,
    /// Names the feed points at that the price source does not have (their alerts are
    /// `no_price`).
    pub missing: Vec<Symbol>,
    pub source: PathBuf,
    pub feed: PathBuf,
    pub name: String,
}

/// Loads `config`; `data` overrides `data.source`.
pub fn load(config: &Path, data: Option<&Path>, read: &ReadOptions) -> anyhow::Result<Loaded> {
    let cfg = FeedConfig::load(config).map_err(bad)?;
    let feed = systrade_config::resolve(config, &cfg.feed.source);
    let text = std::fs::read_to_string(&feed)
        .with_context(|| format!("{}: feed.source {}", config.display(), feed.display()))?;
    let market = cfg.market();
    let alerts = systrade_feeds::parse(cfg.feed.kind, &text, &feed.display().to_string(), market)
        .map_err(bad)?;
    let source = data
        .map(Path::to_path_buf)
        .unwrap_or_else(|| systrade_config::resolve(config, &cfg.data.source));
    let src =
        DataSource::open(&source).with_context(|| format!("{}: data.source", config.display()))?;
    let opts = cfg.parse_options(read);
    let names: BTreeSet<&Symbol> = alerts.iter().map(|a| &a.symbol).collect();
    let mut bars = BTreeMap::new();
    let mut missing = Vec::new();
    for s in names {
        match src.daily(s, &opts) {
            Ok(series) => {
                bars.insert(s.clone(), series.bars);
            }
            Err(DataError::NotFound(_)) => missing.push(s.clone()),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "{}: loading {s} from {}",
                        config.display(),
                        source.display()
                    )
                });
            }
        }
    }
    if bars.is_empty() {
        return Err(bad(format!(
            "{}: none of the {} names in {} has prices in {}",
            config.display(),
            missing.len(),
            feed.display(),
            source.display()
        )));
    }
    Ok(Loaded {
        name: config
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "feed".into()),
        cfg,
        market,
        alerts,
        data: bars,
        missing,
        source,
        feed,
    })
}

impl Loaded {
    /// The engine for `cfg`'s costs with this cash and window: fills at the open, whole units.
    pub fn engine(
        &self,
        cfg: &FeedConfig,
        cash: f64,
        (start, end): (Option<NaiveDate>, Option<NaiveDate>),
    ) -> BacktestConfig {
        BacktestConfig {
            cash,
            costs: CostModel {
                fee_bps: cfg.backtest.fee_bps,
                slippage_bps: cfg.backtest.slippage_bps,
                ..CostModel::default()
            },
            start,
            end,
            periods_per_year: f64::from(self.market.periods_per_year()),
            lot_size: Some(1.0),
            ..BacktestConfig::default()
        }
    }

    /// The backtest of `cfg`'s rules and limits (the same feed and prices) with this cash
    /// and window, and every alert's verdict.
    pub fn run_with(
        &self,
        cfg: &FeedConfig,
        cash: f64,
        window: (Option<NaiveDate>, Option<NaiveDate>),
    ) -> anyhow::Result<(BacktestResult, Vec<Verdict>)> {
        let strategy = FeedStrategy::new(
            &self.name,
            cfg.rules.clone(),
            self.alerts.clone(),
            self.data.keys().cloned().collect(),
        );
        let engine = self.engine(cfg, cash, window);
        let limits = crate::trend::limits_of(&cfg.safety);
        let mut gated = systrade_backtest::overlay::Gated::new(strategy, limits);
        let r =
            systrade_backtest::run(&mut gated, &self.data, &engine).map_err(crate::trend::bad)?;
        let verdicts = gated.into_inner().verdicts();
        Ok((r, verdicts))
    }

    /// The config's own backtest.
    pub fn run(&self) -> anyhow::Result<(BacktestResult, Vec<Verdict>)> {
        let b = &self.cfg.backtest;
        self.run_with(&self.cfg, b.cash, (b.start, b.end))
    }
}

/// `alerts.csv`: every row of the feed with what became of it.
pub fn alerts_csv(verdicts: &[Verdict]) -> String {
    let mut out = String::from("line,at,symbol,first_open,decided,status,qty,adv_share,detail\n");
    for v in verdicts {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{}",
            v.line,
            v.at.format("%Y-%m-%dT%H:%M:%SZ"),
            v.symbol,
            v.session,
            v.decided.map(|d| d.to_string()).unwrap_or_default(),
            v.status,
            v.qty,
            v.adv_share.map(|x| format!("{x:.6}")).unwrap_or_default(),
            v.detail.replace(',', ";")
        );
    }
    out
}

/// Alerts by status, most frequent first (ties by name).
pub fn status_counts(verdicts: &[Verdict]) -> Vec<(&'static str, usize)> {
    let mut m: BTreeMap<&'static str, usize> = BTreeMap::new();
    for v in verdicts {
        *m.entry(v.status).or_default() += 1;
    }
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v
}

/// The largest share of a name's average daily volume any entry took.
pub fn capacity(verdicts: &[Verdict]) -> Option<f64> {
    verdicts
        .iter()
        .filter_map(|v| v.adv_share)
        .fold(None, |m, x| Some(m.map_or(x, |y: f64| y.max(x))))
}

/// The engine's outputs and `alerts.csv` into `out`.
pub fn write(r: &BacktestResult, verdicts: &[Verdict], out: &Path) -> anyhow::Result<()> {
    systrade_backtest::write_outputs(r, out).map_err(crate::trend::bad)?;
    write_atomic(&out.join("alerts.csv"), alerts_csv(verdicts).as_bytes())?;
    Ok(())
}

/// One line for the terminal.
pub fn headline(l: &Loaded, r: &BacktestResult, verdicts: &[Verdict]) -> String {
    let counts = status_counts(verdicts)
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{} alerts ({}); {}; largest entry {} of a name's average volume",
        verdicts.len(),
        counts,
        crate::trend::headline(r),
        capacity(verdicts)
            .map(|x| format!("{:.4}%", x * 100.0))
            .unwrap_or_else(|| "n/a".into())
    ) + &if l.missing.is_empty() {
        String::new()
    } else {
        format!(
            "; no prices for {} names ({}…)",
            l.missing.len(),
            l.missing.first().map(|s| s.to_string()).unwrap_or_default()
        )
    }
}

/// The tear sheet: the engine's performance and metrics, the alerts by status, the top
/// trades.
pub fn tearsheet(
    l: &Loaded,
    engine: &BacktestConfig,
    r: &BacktestResult,
    verdicts: &[Verdict],
    config: &Path,
) -> systrade_report::tearsheet::TearSheet {
    use crate::tearsheet as ts;
    let dates: Vec<NaiveDate> = r.series.iter().map(|x| x.date).collect();
    let s = &r.summary;
    let mut tables = vec![systrade_report::tearsheet::Table {
        caption: "Alerts by status".into(),
        header: vec!["status".into(), "alerts".into()],
        rows: status_counts(verdicts)
            .into_iter()
            .map(|(k, n)| vec![k.to_string(), n.to_string()])
            .collect(),
        note: format!(
            "Every row of the feed; alerts.csv has each one. Largest entry: {} of the name's average daily volume.",
            capacity(verdicts)
                .map(|x| format!("{:.2}%", x * 100.0))
                .unwrap_or_else(|| "n/a".into())
        ),
    }];
    tables.extend(ts::top_trades(&r.trades, 10));
    systrade_report::tearsheet::TearSheet {
        title: format!(
            "Feed bucket ({}) — {}",
            l.cfg.feed.kind.as_str(),
            config.display()
        ),
        subtitle: format!(
            "{} alerts from {} on {} names · {} to {} · fees {:.1} bps + slippage {:.1} bps",
            l.alerts.len(),
            l.feed.display(),
            l.data.len(),
            s.first_date.map(|d| d.to_string()).unwrap_or_default(),
            s.last_date.map(|d| d.to_string()).unwrap_or_default(),
            engine.costs.fee_bps,
            engine.costs.slippage_bps
        ),
        perf: ts::engine_performance(r, engine, ts::buy_and_hold(&l.data, &dates)),
        metrics: ts::engine_metrics(r),
        tables,
        notes: s.warnings.iter().take(10).cloned().collect(),
    }
}
