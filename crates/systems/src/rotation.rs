//! Rotation configs (bucket A, the W3 top-N momentum) loaded with their data: the backtest
//! and its artifacts — `timeseries.csv`, `targets.csv` (every rebalance, risk-off months
//! included), `transactions.csv`, `summary.json` — and the tear sheet.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use serde_json::json;
use systrade_config::ReadOptions;
use systrade_config::rotation::RotationConfig;
use systrade_core::datetext::push_date;
use systrade_core::json::push_shortest;
use systrade_core::{DailyBar, Market, Symbol};
use systrade_data::DataSource;
use systrade_rotation::run::Settings;
use systrade_rotation::{Panel, RotationResult, Status};

use crate::bad;
use crate::capacity::Capacity;

/// A config with its data.
pub struct Loaded {
    pub cfg: RotationConfig,
    pub market: Market,
    /// The prices on the union calendar (what the strategy and the benchmark read).
    pub panel: Panel,
    pub source: PathBuf,
    /// `[news]`, read: each name's articles.
    pub news: Option<systrade_rotation::news::News>,
}

/// Loads `config`; `data` overrides `data.source`. A folder's panel is cached beside its
/// parsed series (`systrade_data::cache`: keyed by the program, the files and the options),
/// so a rerun reads the union-calendar prices back instead of rebuilding them.
pub fn load(config: &Path, data: Option<&Path>, read: &ReadOptions) -> anyhow::Result<Loaded> {
    let cfg = RotationConfig::load(config).map_err(bad)?;
    let source = data
        .map(Path::to_path_buf)
        .unwrap_or_else(|| cfg.source(config));
    let opts = cfg.parse_options(read);
    let market = opts.market.unwrap_or(Market::Us);
    let src =
        DataSource::open(&source).with_context(|| format!("{}: data.source", config.display()))?;
    let cache = match &src {
        DataSource::Files(root) => systrade_data::cache::cache_dir().and_then(|dir| {
            let files = systrade_data::cache::files_of(root)?;
            let mut key = systrade_data::cache::key(root, &files, &opts)?;
            key.push_str(&format!("rotation-panel 3\n{:?}\n", cfg.data.tickers));
            let opens_key = format!("{key}opens\n");
            Some((dir, key, opens_key))
        }),
        DataSource::Db(_) => None,
    };
    // The opens are a blob of their own, read only by a rotation that trades at the next
    // open (W3 and bucket A fill at the close: half the panel's bytes never read).
    let opens = cfg.rotation.fill == systrade_rotation::Fill::NextOpen;
    let cached = cache.as_ref().and_then(|(dir, key, opens_key)| {
        let mut r = systrade_data::cache::load_blob(dir, key)?;
        let limit = r.remaining();
        let mut panel = Panel::read_from(&mut r, limit)?;
        if !r.finish() {
            return None;
        }
        if opens {
            let mut r = systrade_data::cache::load_blob(dir, opens_key)?;
            let limit = r.remaining();
            panel.read_opens_from(&mut r, limit)?;
            if !r.finish() {
                return None;
            }
        }
        Some(panel)
    });
    let panel = match cached {
        Some(p) => p,
        None => {
            let panel = Panel::new(&series(&cfg, config, &src, &source, &opts)?);
            if let Some((dir, key, opens_key)) = &cache {
                systrade_data::cache::store_blob(dir, key, &panel.to_bytes());
                systrade_data::cache::store_blob(dir, opens_key, &panel.opens_to_bytes());
            }
            panel
        }
    };
    if panel.symbols.is_empty() {
        return Err(bad(format!(
            "{}: data.source {} holds no daily prices",
            config.display(),
            source.display()
        )));
    }
    let p = &cfg.rotation;
    for (key, name) in [
        ("rotation.regime_symbol", &p.regime_symbol),
        ("rotation.cash_symbol", &p.cash_symbol),
    ] {
        if !name.is_empty() && panel.column(name).is_none() {
            return Err(bad(format!(
                "{}: {key}: {name} is not in the universe (no prices for it in {})",
                config.display(),
                source.display()
            )));
        }
    }
    let news = load_news(&cfg, config, &panel)?;
    Ok(Loaded {
        cfg,
        market,
        panel,
        source,
        news,
    })
}

/// `[news]`: a NEWS_SENTIMENT JSON file, or a market database's fetched news, as each panel
/// name's articles in date order.
fn load_news(
    cfg: &RotationConfig,
    config: &Path,
    panel: &Panel,
) -> anyhow::Result<Option<systrade_rotation::news::News>> {
    use systrade_rotation::news::{Article, News, NewsRule};
    let Some(n) = &cfg.news else {
        return Ok(None);
    };
    let path = systrade_config::resolve(config, &n.source);
    let where_ = || format!("{}: news.source {}", config.display(), path.display());
    let items: Vec<systrade_data::news::NewsItem> = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        let text = std::fs::read_to_string(&path).with_context(where_)?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("{}: not JSON: {e}", where_())))?;
        systrade_data::news::parse_feed(&v, None).map_err(|e| bad(format!("{}: {e}", where_())))?
    } else {
        let db = systrade_data::db::MarketDb::open_existing(&path).with_context(where_)?;
        let mut all = Vec::new();
        for s in &panel.symbols {
            all.extend(db.news(s).with_context(where_)?);
        }
        all
    };
    let mut by_column: Vec<Vec<Article>> = vec![Vec::new(); panel.symbols.len()];
    for x in items {
        if let Some(j) = panel.column(x.symbol.as_str()) {
            by_column[j].push(Article {
                date: x.date,
                score: x.score,
                relevance: x.relevance,
                headline: x.headline,
            });
        }
    }
    for list in &mut by_column {
        list.sort_by_key(|a| a.date);
    }
    Ok(Some(News {
        by_column,
        rule: NewsRule {
            days: n.news_days,
            block: n.news_block,
            min_relevance: n.min_relevance,
        },
    }))
}

/// The config's daily bars (the daily run's marks and fills): `data.tickers`, or every
/// series of the source (`data` overrides `data.source`).
pub fn daily_bars(
    config: &Path,
    data: Option<&Path>,
    read: &ReadOptions,
) -> anyhow::Result<BTreeMap<Symbol, Vec<DailyBar>>> {
    let cfg = RotationConfig::load(config).map_err(bad)?;
    let source = data
        .map(Path::to_path_buf)
        .unwrap_or_else(|| cfg.source(config));
    let opts = cfg.parse_options(read);
    let src =
        DataSource::open(&source).with_context(|| format!("{}: data.source", config.display()))?;
    series(&cfg, config, &src, &source, &opts)
}

/// The config's daily series: every one in the source, or `data.tickers` (each must be
/// there).
fn series(
    cfg: &RotationConfig,
    config: &Path,
    src: &DataSource,
    source: &Path,
    opts: &systrade_data::ParseOptions,
) -> anyhow::Result<BTreeMap<Symbol, Vec<DailyBar>>> {
    let mut all: BTreeMap<Symbol, Vec<DailyBar>> = src
        .all_daily(opts)
        .with_context(|| format!("{}: loading {}", config.display(), source.display()))?
        .into_iter()
        .map(|s| (s.symbol, s.bars))
        .collect();
    let Some(t) = &cfg.data.tickers else {
        return Ok(all);
    };
    let mut kept = BTreeMap::new();
    for name in t {
        let s = Symbol::new(name).map_err(|e| bad(format!("data.tickers: {e}")))?;
        let bars = all.remove(&s).ok_or_else(|| {
            bad(format!(
                "{}: data.tickers: no daily prices for {s} in {}",
                config.display(),
                source.display()
            ))
        })?;
        kept.insert(s, bars);
    }
    Ok(kept)
}

impl Loaded {
    /// The backtest with the config's parameters over its window.
    pub fn run(&self) -> anyhow::Result<RotationResult> {
        let b = &self.cfg.backtest;
        self.run_with(&self.cfg, b.cash, (b.start, b.end))
    }

    /// The backtest of another config's parameters and limits (the same data), with this
    /// cash and window.
    pub fn run_with(
        &self,
        cfg: &RotationConfig,
        cash: f64,
        (start, end): (Option<NaiveDate>, Option<NaiveDate>),
    ) -> anyhow::Result<RotationResult> {
        let p = &cfg.rotation;
        let limits = crate::trend::limits_of(&cfg.safety);
        systrade_rotation::run::run_with(
            &self.panel,
            p,
            &Settings {
                cash,
                start,
                end,
                limits,
            },
            self.news.as_ref(),
        )
        .map_err(|e| bad(e.to_string()))
    }

    pub fn periods_per_year(&self) -> f64 {
        f64::from(self.market.periods_per_year())
    }
}

/// `x` and a comma (nothing before the comma when there is no number).
fn put(s: &mut String, x: Option<f64>) {
    if let Some(x) = x {
        push_shortest(s, x);
    }
    s.push(',');
}

/// `targets.csv`: every name at every rebalance, with the regime, its numbers, its verdict
/// and its weight; a risk-off month without a cash symbol adds a `CASH` row at weight 1.
pub fn targets_csv(r: &RotationResult) -> String {
    let rows: usize = r.months.iter().map(|m| m.rows.len() + 1).sum();
    let mut s = String::with_capacity(64 + rows * 112);
    s.push_str(
        "date,trade_date,regime,risk_state,drawdown,symbol,close,momentum,sma,rank,status,detail,weight\n",
    );
    let mut month = String::new();
    for m in &r.months {
        // What every row of the month starts with: date,trade_date,regime,risk_state,drawdown,
        month.clear();
        let _ = write!(month, "{},", m.date);
        if let Some(d) = m.trade_date {
            let _ = write!(month, "{d}");
        }
        let _ = write!(month, ",{},{},", m.regime.as_str(), m.risk_state);
        push_shortest(&mut month, m.drawdown);
        month.push(',');
        for row in &m.rows {
            s.push_str(&month);
            s.push_str(row.symbol.as_str());
            s.push(',');
            put(&mut s, row.close);
            put(&mut s, row.momentum);
            put(&mut s, row.sma);
            if let Some(k) = row.rank {
                s.push_str(itoa::Buffer::new().format(k));
            }
            s.push(',');
            s.push_str(row.status.as_str());
            s.push(',');
            match &row.status {
                Status::Correlated { with, corr } => {
                    let _ = write!(s, "{with} ");
                    push_shortest(&mut s, *corr);
                }
                Status::Limited { why } => s.push_str(why),
                Status::NewsRisk { score, .. } => push_shortest(&mut s, *score),
                _ => {}
            }
            s.push(',');
            push_shortest(&mut s, row.weight);
            s.push('\n');
        }
        if !m.regime.risk_on() && m.targets.is_empty() {
            s.push_str(&month);
            s.push_str("CASH,,,,,cash,,1\n");
        }
    }
    s
}

/// `timeseries.csv`.
pub fn timeseries_csv(r: &RotationResult) -> String {
    let mut s = String::with_capacity(64 + r.series.len() * 96);
    s.push_str("date,equity,cash,gross,n_positions,return\n");
    for x in &r.series {
        push_date(&mut s, x.date);
        s.push(',');
        put(&mut s, Some(x.equity));
        put(&mut s, Some(x.cash));
        put(&mut s, Some(x.gross));
        s.push_str(itoa::Buffer::new().format(x.n_positions));
        s.push(',');
        push_shortest(&mut s, x.ret);
        s.push('\n');
    }
    s
}

/// `transactions.csv`.
pub fn transactions_csv(r: &RotationResult) -> String {
    let mut s = String::with_capacity(64 + r.transactions.len() * 100);
    s.push_str("date,symbol,kind,qty,price,fee,adv_share\n");
    for t in &r.transactions {
        push_date(&mut s, t.date);
        s.push(',');
        s.push_str(t.symbol.as_str());
        s.push(',');
        s.push_str(t.kind.as_str());
        s.push(',');
        put(&mut s, Some(t.qty));
        put(&mut s, Some(t.price));
        put(&mut s, Some(t.fee));
        if let Some(x) = t.adv_share {
            push_shortest(&mut s, x);
        }
        s.push('\n');
    }
    s
}

/// The run's [`Capacity`]: every fill against its name's ADV before the session.
pub fn capacity(r: &RotationResult) -> Option<Capacity> {
    Capacity::of(
        r.transactions
            .iter()
            .map(|t| (&t.symbol, t.date, t.adv_share)),
        systrade_rotation::panel::ADV_WINDOW,
    )
}

/// What the reports say of a run, computed once for all of them: the metrics of its returns
/// and its capacity.
pub struct Measures {
    pub metrics: Option<systrade_metrics::Summary>,
    pub capacity: Option<Capacity>,
}

impl Measures {
    pub fn of(l: &Loaded, r: &RotationResult) -> anyhow::Result<Measures> {
        Ok(Measures {
            metrics: metrics(l, r)?,
            capacity: capacity(r),
        })
    }
}

/// The run's dated period returns (the first row's 0 left out).
pub fn returns(r: &RotationResult) -> Vec<(NaiveDate, f64)> {
    r.series.iter().skip(1).map(|x| (x.date, x.ret)).collect()
}

/// `summary.json`: the metrics of the run's returns, the checksums the peers compare, and
/// the rebalances.
pub fn summary(l: &Loaded, r: &RotationResult, m: &Measures) -> anyhow::Result<serde_json::Value> {
    let metrics = match &m.metrics {
        Some(m) => serde_json::to_value(m)?,
        None => serde_json::Value::Null,
    };
    let risk_off = r.months.iter().filter(|m| !m.regime.risk_on()).count();
    Ok(json!({
        "strategy": "rotation",
        "first_date": r.series.first().map(|x| x.date.to_string()),
        "last_date": r.series.last().map(|x| x.date.to_string()),
        "initial_cash": l.cfg.backtest.cash,
        "final_equity": r.final_equity,
        "equity_sum": r.series.iter().map(|x| x.equity).sum::<f64>(),
        "sessions": r.series.len(),
        "rebalances": r.months.len(),
        "risk_off_rebalances": risk_off,
        "transactions": r.transactions.len(),
        "fees": r.transactions.iter().map(|t| t.fee).sum::<f64>(),
        "capacity": Capacity::json(m.capacity.as_ref()),
        "final_positions": r.positions.iter().map(|(s, q)| (s.to_string(), *q)).collect::<BTreeMap<_, _>>(),
        "metrics": metrics,
        "params": l.cfg.rotation,
        "notes": r.months.iter().filter_map(|m| m.note.as_ref().map(|n| format!("{}: {n}", m.date))).collect::<Vec<_>>(),
    }))
}

/// Writes every artifact into `out`.
pub fn write_backtest(
    l: &Loaded,
    r: &RotationResult,
    m: &Measures,
    out: &Path,
) -> anyhow::Result<()> {
    let summary = summary(l, r, m)?;
    // targets.csv is the largest: formatted beside the others.
    let (targets, (timeseries, transactions)) = rayon::join(
        || targets_csv(r),
        || (timeseries_csv(r), transactions_csv(r)),
    );
    let summary = systrade_core::json::to_canonical_pretty(&summary)?;
    let paths = [
        "targets.csv",
        "timeseries.csv",
        "transactions.csv",
        "summary.json",
    ]
    .map(|f| out.join(f));
    let texts = [&targets, &timeseries, &transactions, &summary];
    let files: Vec<(&Path, &[u8])> = paths
        .iter()
        .zip(texts)
        .map(|(p, t)| (p.as_path(), t.as_bytes()))
        .collect();
    // Research artifacts a rerun rewrites byte for byte: renamed into place, not synced.
    Ok(systrade_core::fsio::write_all_atomic(
        &files,
        systrade_core::fsio::Durability::Renamed,
    )?)
}

/// The metrics of the run's returns (`None` without a return).
pub fn metrics(
    l: &Loaded,
    r: &RotationResult,
) -> anyhow::Result<Option<systrade_metrics::Summary>> {
    let rets = returns(r);
    if rets.is_empty() {
        return Ok(None);
    }
    let dates: Vec<NaiveDate> = rets.iter().map(|x| x.0).collect();
    let values: Vec<f64> = rets.iter().map(|x| x.1).collect();
    systrade_metrics::summarize(&dates, &values, None, l.periods_per_year())
        .map(Some)
        .map_err(|e| bad(format!("metrics: {e}")))
}

/// One line of headline numbers.
pub fn headline(l: &Loaded, r: &RotationResult, measures: &Measures) -> String {
    let m = measures.metrics.as_ref();
    let pct = crate::trend::pct;
    format!(
        "{} names, {}..{}: final equity {:.6}; CAGR {}, Sharpe {}, max drawdown {}; {} rebalances ({} risk-off), {} transactions; largest fill {}",
        l.panel.symbols.len(),
        r.series
            .first()
            .map(|x| x.date.to_string())
            .unwrap_or_default(),
        r.series
            .last()
            .map(|x| x.date.to_string())
            .unwrap_or_default(),
        r.final_equity,
        pct(m.and_then(|m| m.cagr)),
        m.and_then(|m| m.sharpe)
            .map_or("n/a".into(), |v| format!("{v:.2}")),
        pct(m.and_then(|m| m.max_drawdown)),
        r.months.len(),
        r.months.iter().filter(|m| !m.regime.risk_on()).count(),
        r.transactions.len(),
        Capacity::text(measures.capacity.as_ref())
    )
}

/// The equal-weight buy and hold of the names with a price on the first date: each name's
/// growth since then (its last close carried over gaps), averaged.
fn buy_and_hold(panel: &Panel, dates: &[NaiveDate]) -> Option<(String, Vec<f64>)> {
    let first = panel.dates.binary_search(dates.first()?).ok()?;
    let names: Vec<(usize, f64)> = (0..panel.symbols.len())
        .filter_map(|j| {
            let c = panel.close[j][first];
            (c.is_finite() && c > 0.0).then_some((j, c))
        })
        .collect();
    if names.is_empty() {
        return None;
    }
    // Name by name down each column (the panel is stored by name), each date's sum in name
    // order from −0 as `Iterator::sum` adds: the same bits as summing across the row.
    let mut sums = vec![-0.0_f64; dates.len()];
    for (j, c0) in &names {
        for (sum, c) in sums.iter_mut().zip(&panel.close[*j][first..]) {
            *sum += c / c0;
        }
    }
    let values = sums.iter().map(|x| x / names.len() as f64).collect();
    Some((
        format!("equal-weight buy & hold ({} names)", names.len()),
        values,
    ))
}

/// The tear sheet: against the equal-weight buy and hold of the universe; the last 12
/// rebalances' holdings.
pub fn tearsheet(
    l: &Loaded,
    r: &RotationResult,
    measures: &Measures,
    config: &Path,
) -> systrade_report::tearsheet::TearSheet {
    let dates: Vec<NaiveDate> = r.series.iter().map(|x| x.date).collect();
    let holdings = systrade_report::tearsheet::Table {
        caption: "Rebalances (the last 12)".into(),
        header: ["decided", "traded", "regime", "holdings (weight)", "skipped as correlated"]
            .map(String::from)
            .to_vec(),
        rows: r
            .months
            .iter()
            .rev()
            .take(12)
            .map(|m| {
                let held: Vec<String> = m
                    .targets
                    .iter()
                    .map(|(s, w)| format!("{s} {:.1}%", w * 100.0))
                    .collect();
                let skipped: Vec<String> = m
                    .rows
                    .iter()
                    .filter_map(|row| match &row.status {
                        Status::Correlated { with, corr } => {
                            Some(format!("{} ({with} {corr:.2})", row.symbol))
                        }
                        Status::NewsRisk { score, .. } => {
                            Some(format!("{} (news {score:+.2})", row.symbol))
                        }
                        _ => None,
                    })
                    .collect();
                vec![
                    m.date.to_string(),
                    m.trade_date.map(|d| d.to_string()).unwrap_or_default(),
                    m.regime.as_str().to_string(),
                    if held.is_empty() {
                        "cash".into()
                    } else {
                        held.join(", ")
                    },
                    skipped.join(", "),
                ]
            })
            .collect(),
        note: "Each rebalance's targets after the regime, the momentum ranking, the own-trend filter and the correlation skip.".into(),
    };
    let p = &l.cfg.rotation;
    systrade_report::tearsheet::TearSheet {
        title: format!("Rotation — {}", config.display()),
        subtitle: format!(
            "{} names from {} · top {} by {}−{} momentum · {} · fees {} bps",
            l.panel.symbols.len(),
            l.source.display(),
            p.top_n,
            p.lookback,
            p.skip,
            if p.regime_symbol.is_empty() {
                "no regime filter".to_string()
            } else {
                format!("risk-on when {} > SMA{}", p.regime_symbol, p.regime_sma)
            },
            p.fee_bps
        ),
        perf: systrade_report::tearsheet::Performance {
            equity: r.series.iter().map(|x| x.equity).collect(),
            exposure: Some((
                r.series.iter().map(|x| x.gross).collect(),
                r.series.iter().map(|x| x.gross).collect(),
            )),
            turnover: None,
            benchmark: buy_and_hold(&l.panel, &dates),
            cash_rate: None,
            periods_per_year: l.periods_per_year(),
            dates,
        },
        metrics: {
            let mut out =
                crate::tearsheet::return_metrics(r.final_equity, measures.metrics.as_ref());
            let risk_off = r.months.iter().filter(|m| !m.regime.risk_on()).count();
            let gross =
                r.series.iter().map(|x| x.gross).sum::<f64>() / r.series.len().max(1) as f64;
            out.extend([
                (
                    "rebalances".to_string(),
                    format!("{} ({risk_off} risk-off)", r.months.len()),
                ),
                ("transactions".into(), r.transactions.len().to_string()),
                (
                    "fees".into(),
                    systrade_report::format::money(r.transactions.iter().map(|t| t.fee).sum()),
                ),
                (
                    "avg gross exposure".into(),
                    systrade_report::tearsheet::pct(gross),
                ),
                (
                    "capacity (largest fill)".into(),
                    Capacity::text(measures.capacity.as_ref()),
                ),
            ]);
            out
        },
        tables: vec![holdings],
        notes: r
            .months
            .iter()
            .filter_map(|m| m.note.as_ref().map(|n| format!("{}: {n}", m.date)))
            .take(10)
            .collect(),
    }
}
