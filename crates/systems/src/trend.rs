//! Trend-following configs: loading the config and its data, the engine settings, the
//! backtest with its artifacts, and the tear sheet — what `backtest`, `plan` and the daily run
//! share.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use systrade_backtest::{
    BacktestConfig, BacktestError, BacktestResult, CostModel, write_engine_files,
};
use systrade_core::{DailyBar, Market, Symbol};
use systrade_data::DataSource;
use systrade_pipeline::trend::{CapUniverse, TrendParams, TrendStrategy};

use systrade_config::ReadOptions;
use systrade_config::trend::TrendConfig;
use systrade_core::BadInput;

/// A config with its data, ready to run.
pub struct Loaded {
    pub cfg: TrendConfig,
    pub params: TrendParams,
    /// `[universe]`'s snapshots, read.
    pub universe: Option<CapUniverse>,
    pub market: Market,
    pub data: BTreeMap<Symbol, Vec<DailyBar>>,
    pub source: PathBuf,
}

pub fn bad(e: BacktestError) -> anyhow::Error {
    match e {
        BacktestError::Input(m) => BadInput(m).into(),
        other => other.into(),
    }
}

/// A config whose trade threshold is above what a position of its universe can weigh:
/// `max_gross` shared by the names held leaves each `max_gross / held` of equity, and a trade
/// smaller than `trade_threshold` of equity is skipped. When even a quarter of the `n`
/// tickers held at once would each weigh less than the threshold, most entries can never
/// happen — said with the numbers (`None`: the config fits its universe).
pub fn scale_warning(n: usize, max_gross: f64, trade_threshold: f64) -> Option<String> {
    if n < 4 || trade_threshold <= 0.0 {
        return None;
    }
    let quarter = max_gross / (n as f64 / 4.0);
    (quarter < trade_threshold).then(|| {
        format!(
            "{n} tickers share sizing.max_gross {max_gross}: with even a quarter of them held, each weighs {:.4}% of equity, below gates.trade_threshold {:.4}% — trades that small are skipped, so most names will never be entered; lower gates.trade_threshold (to about {:.6}) or trade fewer names",
            quarter * 100.0,
            trade_threshold * 100.0,
            max_gross / n as f64 / 2.0
        )
    })
}

/// Reads and checks the config, then loads every ticker's daily bars (`--data` and the read
/// flags override the config's `[data]`).
pub fn load(config: &Path, data: Option<&Path>, read: &ReadOptions) -> anyhow::Result<Loaded> {
    let cfg = TrendConfig::load(config).map_err(BadInput)?;
    let params = cfg.params().map_err(BadInput)?;
    let source = data
        .map(Path::to_path_buf)
        .unwrap_or_else(|| cfg.source(config));
    let opts = cfg.data.parse_options(read).map_err(BadInput)?;
    // Listed once: loading a ticker is then one lookup, not one folder walk.
    let src = DataSource::open(&source)
        .and_then(|s| s.listing())
        .with_context(|| format!("{}: data.source", config.display()))?;
    let mut bars = BTreeMap::new();
    let mut markets = BTreeSet::new();
    let tickers: Vec<&Symbol> = params.sleeves.iter().flat_map(|s| &s.tickers).collect();
    let series = src.daily_many(&tickers, &opts).map_err(|(i, e)| {
        anyhow::Error::new(e).context(format!(
            "{}: loading ticker {}",
            config.display(),
            tickers[i]
        ))
    })?;
    for (t, s) in tickers.iter().zip(series) {
        markets.insert(s.market);
        bars.insert((*t).clone(), s.bars);
    }
    let market = match (opts.market, markets.len()) {
        (Some(m), _) => m,
        (None, 1) => markets.into_iter().next().unwrap_or(Market::Crypto),
        _ => {
            return Err(BadInput(format!(
                "{}: the tickers belong to different markets ({}); set data.market",
                config.display(),
                markets
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into());
        }
    };
    let universe = match &cfg.universe {
        None => None,
        Some(u) => Some(read_caps(
            &systrade_config::resolve(config, &u.caps),
            u.top_n,
            &bars,
        )?),
    };
    let loaded = Loaded {
        cfg,
        params,
        universe,
        market,
        data: bars,
        source,
    };
    if let Some(w) = loaded.scale_warning() {
        eprintln!("warning: {}: {w}", config.display());
    }
    Ok(loaded)
}

impl Loaded {
    /// [`scale_warning`] of this config and universe.
    pub fn scale_warning(&self) -> Option<String> {
        let n = match &self.universe {
            Some(u) => u.top_n.min(self.data.len()),
            None => self.data.len(),
        };
        scale_warning(
            n,
            self.params.sizing.max_gross,
            self.params.gates.trade_threshold,
        )
    }

    /// The simulated broker for this config: fees from the gates' fee model, so the cost gate
    /// and the fills charge the same; slippage from `[backtest]`.
    pub fn engine(
        &self,
        cash: f64,
        start: Option<chrono::NaiveDate>,
        end: Option<chrono::NaiveDate>,
    ) -> BacktestConfig {
        engine_for(&self.cfg, &self.params, self.market, cash, (start, end))
    }

    pub fn strategy(&self) -> anyhow::Result<TrendStrategy> {
        self.strategy_with(self.params.clone())
    }

    /// The strategy with other parameters, on this config's universe.
    pub fn strategy_with(&self, params: TrendParams) -> anyhow::Result<TrendStrategy> {
        Ok(TrendStrategy::new(params, self.market)
            .map_err(|e| BadInput(format!("{}", e)))?
            .with_universe(self.universe.clone()))
    }
}

/// Reads `date,symbol,market_cap` snapshots; rows of tickers the config does not trade are
/// left out (the sleeves list the candidates), a bad row is an error naming its line.
pub fn read_caps(
    path: &Path,
    top_n: usize,
    tickers: &BTreeMap<Symbol, Vec<DailyBar>>,
) -> anyhow::Result<CapUniverse> {
    let t = crate::table::Table::read(path, &["date", "symbol", "market_cap"], &[])?;
    let mut snapshots: BTreeMap<chrono::NaiveDate, Vec<(Symbol, f64)>> = BTreeMap::new();
    for (line, rec) in &t.rows {
        let sym = t.cell(rec, "symbol");
        let date = t.date(*line, sym, "date", t.cell(rec, "date"))?;
        let symbol = Symbol::new(sym).map_err(|e| t.at(*line, e))?;
        let cap_text = t.cell(rec, "market_cap");
        let cap: f64 = cap_text
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| {
                t.at(
                    *line,
                    format!("{sym}: market_cap {cap_text:?} is not a non-negative number"),
                )
            })?;
        let day = snapshots.entry(date).or_default();
        if day.iter().any(|(s, _)| *s == symbol) {
            return Err(t.at(*line, format!("{sym}: a second market cap on {date}")));
        }
        if tickers.contains_key(&symbol) {
            day.push((symbol, cap));
        }
    }
    if snapshots.values().all(Vec::is_empty) {
        return Err(BadInput(format!(
            "{}: no snapshot names any of the config's tickers",
            path.display()
        ))
        .into());
    }
    Ok(CapUniverse { top_n, snapshots })
}

/// The simulated broker for a trend config's parameters (see [`Loaded::engine`]).
pub fn engine_for(
    cfg: &TrendConfig,
    params: &TrendParams,
    market: Market,
    cash: f64,
    (start, end): (Option<chrono::NaiveDate>, Option<chrono::NaiveDate>),
) -> BacktestConfig {
    let g = &params.gates;
    let fee = g.fee_taker * (1.0 - g.passive_rate) + g.fee_maker * g.passive_rate;
    BacktestConfig {
        cash,
        costs: CostModel {
            fee_bps: fee * 10_000.0,
            slippage_bps: cfg.backtest.slippage_bps,
            ..CostModel::default()
        },
        start,
        end,
        periods_per_year: f64::from(market.periods_per_year()),
        // Orders trade whole lots of `orders.qty_decimals` (a cash-clipped buy too).
        lot_size: Some(10f64.powi(-(params.qty_decimals as i32))),
        ..BacktestConfig::default()
    }
}

pub fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{:.2}%", v * 100.0))
        .unwrap_or_else(|| "n/a".into())
}

/// Runs the config's backtest and writes every artifact into `out`; returns the result and
/// the engine's run time in seconds.
pub fn run_backtest(
    l: &Loaded,
    cfg: &BacktestConfig,
    out: &Path,
    full_logs: bool,
) -> anyhow::Result<(BacktestResult, f64)> {
    run_checked(l, cfg, out, full_logs, |_| Ok(()))
}

/// [`run_backtest`] with `check` on the result before anything is written (a refusal
/// leaves `out` untouched).
pub fn run_checked(
    l: &Loaded,
    cfg: &BacktestConfig,
    out: &Path,
    full_logs: bool,
    check: impl FnOnce(&BacktestResult) -> anyhow::Result<()>,
) -> anyhow::Result<(BacktestResult, f64)> {
    let existed = out.exists();
    let done = (|| {
        // The per-session tables (the engine's `decisions.jsonl`, the strategy's `targets.csv`;
        // with full logs `snapshots.csv` and `logs/desired_trades.jsonl`) are written as the
        // replay goes and put in place after the engine's other files.
        let tables =
            crate::trend_tables::Shared::new(crate::trend_tables::Tables::create(out, full_logs)?);
        let strategy = l.strategy()?.stream_records(tables.sink());
        let mut observe = tables.observer();
        let engine = BacktestConfig {
            record_decisions: systrade_backtest::KeepDecisions::None,
            ..cfg.clone()
        };
        let t0 = Instant::now();
        let (result, strategy) = run_limited_observed(
            strategy,
            &l.data,
            &engine,
            limits_of(&l.cfg.safety),
            &mut *observe,
        )?;
        let secs = t0.elapsed().as_secs_f64();
        drop((strategy, observe));
        let tables = tables.into_inner()?;
        check(&result)?;
        write_engine_files(&result, out).with_context(|| format!("writing {}", out.display()))?;
        tables
            .commit(out)
            .with_context(|| format!("writing {}", out.display()))?;
        Ok((result, secs))
    })();
    if done.is_err() && !existed {
        // A run that failed before putting anything in place leaves no folder: the ones made
        // for its temporary files go (`remove_dir` removes only an empty folder).
        let _ = std::fs::remove_dir(out.join("logs"));
        let _ = std::fs::remove_dir(out);
    }
    done
}

/// The limits of `[safety]` a backtest applies: the number of positions and the drawdown
/// rules (the daily run's gates apply every key).
pub fn limits_of(s: &systrade_risk::SafetyLimits) -> systrade_backtest::overlay::Limits {
    systrade_backtest::overlay::Limits {
        max_positions: s.max_positions,
        drawdown_throttle: s.drawdown_throttle,
        drawdown_scale: s.drawdown_scale,
        drawdown_block: s.drawdown_block,
    }
}

/// The engine over `data` with the strategy under `limits` (none: the strategy alone, and
/// its timeseries has no drawdown columns); gives the strategy back for its records.
pub fn run_limited(
    strategy: TrendStrategy,
    data: &BTreeMap<Symbol, Vec<DailyBar>>,
    cfg: &BacktestConfig,
    limits: systrade_backtest::overlay::Limits,
) -> anyhow::Result<(BacktestResult, TrendStrategy)> {
    run_limited_observed(strategy, data, cfg, limits, &mut |_, _| {})
}

/// [`run_limited`], handing each decision (the limits' verdicts included) to `observe` as it
/// is made.
pub fn run_limited_observed(
    strategy: TrendStrategy,
    data: &BTreeMap<Symbol, Vec<DailyBar>>,
    cfg: &BacktestConfig,
    limits: systrade_backtest::overlay::Limits,
    observe: &mut (dyn FnMut(chrono::NaiveDate, &systrade_strategy::Decision) + Send),
) -> anyhow::Result<(BacktestResult, TrendStrategy)> {
    use systrade_backtest::run_observed;
    if limits.any() {
        let mut g = systrade_backtest::overlay::Gated::new(strategy, limits);
        let r = run_observed(&mut g, data, cfg, observe).map_err(bad)?;
        Ok((r, g.into_inner()))
    } else {
        let mut s = strategy;
        let r = run_observed(&mut s, data, cfg, observe).map_err(bad)?;
        Ok((r, s))
    }
}

/// One line of a backtest's headline numbers.
pub fn headline(result: &BacktestResult) -> String {
    let s = &result.summary;
    let m = &s.metrics;
    format!(
        "{}..{}: final equity {:.2}; CAGR {}, vol {}, Sharpe {}, max drawdown {}, turnover {:.2}×/yr, fees {:.2} ({} fills, {} stop exits)",
        s.first_date.map(|d| d.to_string()).unwrap_or_default(),
        s.last_date.map(|d| d.to_string()).unwrap_or_default(),
        s.final_equity,
        pct(m.cagr),
        pct(m.annual_vol),
        m.sharpe
            .map(|v| format!("{v:.2}"))
            .unwrap_or_else(|| "n/a".into()),
        pct(m.max_drawdown),
        s.annual_turnover,
        s.total_fees,
        s.n_fills,
        s.n_stop_exits,
    )
}

/// The tear sheet of a trend backtest: against the equal-weight buy-and-hold of its tickers.
pub fn tearsheet_of(
    l: &Loaded,
    cfg: &BacktestConfig,
    result: &BacktestResult,
    config: &Path,
) -> systrade_report::tearsheet::TearSheet {
    use crate::tearsheet as ts;
    let dates: Vec<chrono::NaiveDate> = result.series.iter().map(|x| x.date).collect();
    let s = &result.summary;
    let mut tables = Vec::new();
    tables.extend(ts::top_trades(&result.trades, 10));
    systrade_report::tearsheet::TearSheet {
        title: format!("Trend following — {}", config.display()),
        subtitle: format!(
            "{} tickers from {} · {} to {} · fees {:.1} bps + slippage {:.1} bps",
            l.data.len(),
            l.source.display(),
            s.first_date.map(|d| d.to_string()).unwrap_or_default(),
            s.last_date.map(|d| d.to_string()).unwrap_or_default(),
            cfg.costs.fee_bps,
            cfg.costs.slippage_bps
        ),
        perf: ts::engine_performance(result, cfg, ts::buy_and_hold(&l.data, &dates)),
        metrics: ts::engine_metrics_with_capacity(result, &l.data),
        tables,
        notes: s.warnings.iter().take(10).cloned().collect(),
    }
}

#[cfg(test)]
mod scale_tests {
    use super::scale_warning;

    #[test]
    fn a_threshold_no_position_of_the_universe_can_reach_is_said_with_its_numbers() {
        // 100 names at a gross of 1: a quarter held weighs 4% each — 2% trades happen.
        assert_eq!(scale_warning(100, 1.0, 0.02), None);
        // 1,998 names: a quarter held weighs 0.2% each, a tenth of the 2% threshold.
        let w = scale_warning(1998, 1.0, 0.02).unwrap();
        assert!(w.contains("1998 tickers"), "{w}");
        assert!(w.contains("0.2002%"), "{w}");
        assert!(w.contains("2.0000%"), "{w}");
        assert!(w.contains("0.000250"), "{w}");
        assert_eq!(scale_warning(1998, 1.0, 0.0), None);
        assert_eq!(scale_warning(3, 1.0, 0.5), None);
    }
}
