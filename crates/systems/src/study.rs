//! A strategy config as a study: loaded once with its data, then run in memory with numeric
//! keys overridden (`signal.donchian_window=40`) over a window of dates — what `sweep`,
//! `walkforward` and `--stress` share for every config strategy (trend, momentum, AVWAP).
//!
//! Every point is the strategy's own backtest of the config with those keys set: the
//! config's loader checks the values, so a point the strategy refuses is reported with the
//! loader's words, and a key that changes the data (`data.*`) is refused up front.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rayon::prelude::*;
use systrade_backtest::BacktestError;
use systrade_backtest::sweep::{Combo, SweepRow};
use systrade_backtest::walkforward::{Returns, Span, WalkForward, Windows, walk_forward_with};
use systrade_config::avwap::AvwapConfig;
use systrade_config::momentum::MomentumConfig;
use systrade_config::trend::TrendConfig;
use systrade_config::{ReadOptions, StrategyKind};
use systrade_core::Symbol;

use crate::{avwap, bad, momentum, rotation, trend};

/// One run of a study: the strategy's dated period returns (an engine's first row, whose
/// return is 0 by construction, left out) and what the strategy did.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub dates: Vec<NaiveDate>,
    pub returns: Vec<f64>,
    /// The run's ending equity in its own unit (momentum: NAV from 1).
    pub final_equity: f64,
    /// Positions opened (momentum: names entering a cohort book at a formation).
    pub entries: usize,
    /// Positions closed (an open one at the end is not counted).
    pub exits: usize,
    /// The largest fill against its name's average daily volume (`None`: no fill measured;
    /// a momentum NAV without `backtest.capital` has no units to measure).
    pub capacity: Option<crate::capacity::Capacity>,
}

enum Inputs {
    Trend(Box<trend::Loaded>),
    Momentum(Box<momentum::Loaded>),
    Avwap(Box<avwap::Loaded>),
    Rotation(Box<rotation::Loaded>),
    Feed(Box<crate::feed::Loaded>),
}

/// A sweep's runs, and the points the strategy refused with its words.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepOutcome {
    pub rows: Vec<SweepRow>,
    pub refused: Vec<(Combo, String)>,
}

/// A config loaded with its data.
pub struct Study {
    path: PathBuf,
    text: String,
    inputs: Inputs,
    pub kind: StrategyKind,
    pub periods_per_year: f64,
}

impl Study {
    /// Loads the config at `path` and its data (`data` overrides `data.source`).
    pub fn load(path: &Path, data: Option<&Path>, read: &ReadOptions) -> anyhow::Result<Study> {
        let kind = StrategyKind::of(path).map_err(bad)?;
        let text = systrade_config::read(path).map_err(bad)?;
        let (inputs, periods_per_year) = match kind {
            StrategyKind::Trend => {
                let l = trend::load(path, data, read)?;
                let ppy = f64::from(l.market.periods_per_year());
                (Inputs::Trend(Box::new(l)), ppy)
            }
            StrategyKind::Momentum => {
                let l = momentum::load(
                    path,
                    data,
                    &momentum::MomentumOverrides::default(),
                    read,
                    (None, None),
                )?;
                let ppy = f64::from(l.market.periods_per_year());
                (Inputs::Momentum(Box::new(l)), ppy)
            }
            StrategyKind::Avwap => (
                Inputs::Avwap(Box::new(avwap::load(path, data, read)?)),
                252.0,
            ),
            StrategyKind::Rotation => {
                let l = rotation::load(path, data, read)?;
                let ppy = l.periods_per_year();
                (Inputs::Rotation(Box::new(l)), ppy)
            }
            StrategyKind::Feed => {
                let l = crate::feed::load(path, data, read)?;
                let ppy = f64::from(l.market.periods_per_year());
                (Inputs::Feed(Box::new(l)), ppy)
            }
            StrategyKind::Portfolio => {
                return Err(bad(format!(
                    "{}: a portfolio is studied bucket by bucket (sweep each bucket's config)",
                    path.display()
                )));
            }
            StrategyKind::Sheet => {
                return Err(bad(format!(
                    "{}: a sheet book has no parameters to study (trend, momentum, avwap or rotation configs)",
                    path.display()
                )));
            }
        };
        Ok(Study {
            path: path.to_path_buf(),
            text,
            inputs,
            kind,
            periods_per_year,
        })
    }

    /// Every key can be set on this config (each value is checked per point).
    pub fn check_keys(&self, keys: &[&str]) -> anyhow::Result<()> {
        systrade_config::overrides::check_keys(&self.text, keys)
            .map_err(|e| bad(format!("{}: --grid {e}", self.path.display())))
    }

    /// The config's own backtest window.
    pub fn window(&self) -> (Option<NaiveDate>, Option<NaiveDate>) {
        match &self.inputs {
            Inputs::Trend(l) => (l.cfg.backtest.start, l.cfg.backtest.end),
            Inputs::Momentum(l) => (l.cfg.backtest.start, l.cfg.backtest.end),
            Inputs::Avwap(l) => (l.cfg.backtest.start, l.cfg.backtest.end),
            Inputs::Rotation(l) => (l.cfg.backtest.start, l.cfg.backtest.end),
            Inputs::Feed(l) => (l.cfg.backtest.start, l.cfg.backtest.end),
        }
    }

    /// The first and last dates of the data.
    pub fn span(&self) -> Option<(NaiveDate, NaiveDate)> {
        let dates: BTreeSet<NaiveDate> = match &self.inputs {
            Inputs::Trend(l) => ends(&l.data),
            Inputs::Momentum(l) => l.panel.dates.iter().copied().collect(),
            Inputs::Avwap(l) => l
                .panels
                .values()
                .flat_map(|p| [p.bars.first(), p.bars.last()])
                .flatten()
                .map(|b| b.ts)
                .collect(),
            Inputs::Rotation(l) => l.panel.dates.iter().copied().collect(),
            Inputs::Feed(l) => ends(&l.data),
        };
        Some((*dates.first()?, *dates.last()?))
    }

    /// The config's text with `combo`'s keys set.
    fn text_with(&self, combo: &Combo) -> anyhow::Result<String> {
        let keys: Vec<(String, f64)> = combo.iter().map(|(k, v)| (k.clone(), *v)).collect();
        systrade_config::overrides::with_overrides(&self.text, &keys)
            .map_err(|e| bad(format!("{}: {e}", self.path.display())))
    }

    /// The config with `combo`'s keys set, checked by the strategy's own loader; a point it
    /// refuses is bad input naming the point.
    fn configure(&self, combo: &Combo) -> anyhow::Result<Configured> {
        let point = combo
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        // The loader's words without the TOML excerpt, whose line numbers are those of the
        // rewritten text, not of the file.
        let refused = |e: String| {
            let e = if e.contains("TOML parse error") {
                e.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or(&e)
                    .to_string()
            } else {
                e.replace(&format!("{}: ", self.path.display()), "")
            };
            bad(format!("point {point}: {e}"))
        };
        let text = self.text_with(combo)?;
        match &self.inputs {
            Inputs::Trend(l) => {
                let cfg = TrendConfig::parse(&self.path, &text).map_err(refused)?;
                let params = cfg.params().map_err(refused)?;
                let tickers: BTreeSet<&Symbol> =
                    params.sleeves.iter().flat_map(|s| &s.tickers).collect();
                if tickers != l.data.keys().collect::<BTreeSet<_>>() {
                    return Err(refused("the point changes the universe".into()));
                }
                systrade_pipeline::trend::TrendStrategy::new(params.clone(), l.market)
                    .map_err(|e| refused(e.to_string()))?;
                Ok(Configured::Trend(Box::new(cfg), Box::new(params)))
            }
            Inputs::Momentum(_) => {
                let cfg = MomentumConfig::parse(&self.path, &text).map_err(refused)?;
                cfg.momentum
                    .validate()
                    .map_err(|e| refused(e.to_string()))?;
                Ok(Configured::Momentum(Box::new(cfg)))
            }
            Inputs::Avwap(_) => {
                let cfg = AvwapConfig::parse(&self.path, &text).map_err(refused)?;
                let params = cfg.params();
                Ok(Configured::Avwap(Box::new(cfg), Box::new(params)))
            }
            Inputs::Rotation(_) => {
                let cfg = systrade_config::rotation::RotationConfig::parse(&self.path, &text)
                    .map_err(refused)?;
                Ok(Configured::Rotation(Box::new(cfg)))
            }
            Inputs::Feed(_) => {
                let cfg =
                    systrade_config::feed::FeedConfig::parse(&self.path, &text).map_err(refused)?;
                Ok(Configured::Feed(Box::new(cfg)))
            }
        }
    }

    /// Whether the strategy accepts `combo` (the loader's words when it does not).
    pub fn check(&self, combo: &Combo) -> anyhow::Result<()> {
        self.configure(combo).map(|_| ())
    }

    /// The backtest of the config with `combo`'s keys set, over `window` (either side open:
    /// the config's own).
    pub fn evaluate(
        &self,
        combo: &Combo,
        window: (Option<NaiveDate>, Option<NaiveDate>),
    ) -> anyhow::Result<Evaluation> {
        let own = self.window();
        let window = (window.0.or(own.0), window.1.or(own.1));
        match (self.configure(combo)?, &self.inputs) {
            (Configured::Trend(cfg, params), Inputs::Trend(l)) => {
                let engine = trend::engine_for(&cfg, &params, l.market, cfg.backtest.cash, window);
                // Only the result counts: no decision's per-ticker record is kept.
                let strategy = l.strategy_with(*params)?.keep_records(false);
                let (r, _) = trend::run_limited(
                    strategy,
                    &l.data,
                    &systrade_backtest::BacktestConfig {
                        record_decisions: systrade_backtest::KeepDecisions::None,
                        ..engine
                    },
                    trend::limits_of(&cfg.safety),
                )?;
                let rows = r.series.iter().skip(1);
                Ok(Evaluation {
                    dates: rows.clone().map(|x| x.date).collect(),
                    returns: rows.map(|x| x.ret).collect(),
                    final_equity: r.summary.final_equity,
                    entries: r.trades.len(),
                    exits: r.summary.n_trades,
                    capacity: crate::capacity::of_engine_fills(&r.fills, &l.data),
                })
            }
            (Configured::Momentum(cfg), Inputs::Momentum(l)) => {
                let limits = trend::limits_of(&cfg.safety);
                let r = l.run_with(&cfg.momentum, limits, window.0, window.1)?;
                // Every row is a return (the first one pays the first formation's costs).
                let rows = r.series.iter();
                Ok(Evaluation {
                    dates: rows.clone().map(|x| x.date).collect(),
                    returns: rows.map(|x| x.ret).collect(),
                    final_equity: r.series.last().map_or(1.0, |x| x.nav),
                    entries: changes(&r.formations, |was, now| was == 0.0 && now != 0.0),
                    exits: changes(&r.formations, |was, now| was != 0.0 && now == 0.0),
                    capacity: cfg
                        .backtest
                        .capital
                        .and_then(|c| momentum::capacity(l, &r, c)),
                })
            }
            (Configured::Avwap(cfg, params), Inputs::Avwap(l)) => {
                // The panels' indicators depend on the scan parameters: rebuilt when they
                // differ from the loaded ones.
                let rebuilt: Option<BTreeMap<Symbol, systrade_avwap::panel::Panel>> =
                    (params.scan != l.params.scan).then(|| {
                        l.panels
                            .iter()
                            .map(|(s, p)| {
                                let panel = systrade_avwap::panel::Panel::new(
                                    s.clone(),
                                    p.bars.clone(),
                                    &params.scan,
                                );
                                (s.clone(), panel)
                            })
                            .collect()
                    });
                let panels = rebuilt.as_ref().unwrap_or(&l.panels);
                let o = l.backtest_with(&cfg, &params, panels, window);
                let rows = o.series.iter().skip(1);
                Ok(Evaluation {
                    dates: rows.clone().map(|x| x.date).collect(),
                    returns: rows.map(|x| x.ret).collect(),
                    final_equity: o.series.last().map_or(cfg.backtest.cash, |x| x.equity),
                    entries: o.trades.len(),
                    exits: o
                        .trades
                        .iter()
                        .filter(|t| t.exit.reason != systrade_avwap::exits::ExitReason::EndOfData)
                        .count(),
                    capacity: avwap::capacity_with(panels, &params, &o),
                })
            }
            (Configured::Rotation(cfg), Inputs::Rotation(l)) => {
                let r = l.run_with(&cfg, cfg.backtest.cash, window)?;
                let rows = r.series.iter().skip(1);
                let count = |k: systrade_rotation::run::TxKind| {
                    r.transactions.iter().filter(|t| t.kind == k).count()
                };
                Ok(Evaluation {
                    dates: rows.clone().map(|x| x.date).collect(),
                    returns: rows.map(|x| x.ret).collect(),
                    final_equity: r.final_equity,
                    entries: count(systrade_rotation::run::TxKind::Buy),
                    exits: count(systrade_rotation::run::TxKind::Sell),
                    capacity: rotation::capacity(&r),
                })
            }
            (Configured::Feed(cfg), Inputs::Feed(l)) => {
                let (r, verdicts) = l.run_with(&cfg, cfg.backtest.cash, window)?;
                let rows = r.series.iter().skip(1);
                Ok(Evaluation {
                    dates: rows.clone().map(|x| x.date).collect(),
                    returns: rows.map(|x| x.ret).collect(),
                    final_equity: r.summary.final_equity,
                    entries: verdicts.iter().filter(|v| v.status == "entered").count(),
                    exits: r.summary.n_trades,
                    capacity: crate::capacity::of_engine_fills(&r.fills, &l.data),
                })
            }
            _ => Err(bad("the study's inputs do not match its config")),
        }
    }

    /// The config's backtest at every valid point, in parallel, in the points' order; the
    /// points the strategy refuses come back with the loader's words. Metrics are computed
    /// from each run's own period returns (risk-free 0).
    pub fn sweep(
        &self,
        points: &[Combo],
        progress: &(dyn Fn() + Sync),
    ) -> anyhow::Result<SweepOutcome> {
        let mut valid = Vec::new();
        let mut refused = Vec::new();
        for c in points {
            match self.check(c) {
                Ok(()) => valid.push(c),
                Err(e) => refused.push((c.clone(), e.to_string())),
            }
        }
        let rows = valid
            .par_iter()
            .map(|c| {
                let e = self.evaluate(c, (None, None))?;
                let m = self.summary(&e.dates, &e.returns).map_err(|m| {
                    bad(format!(
                        "point {}: {m}",
                        c.iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ))
                })?;
                progress();
                Ok(SweepRow::new(
                    None,
                    c,
                    e.final_equity,
                    &m,
                    e.entries,
                    e.exits,
                ))
            })
            .collect::<anyhow::Result<Vec<SweepRow>>>()?;
        Ok(SweepOutcome { rows, refused })
    }

    /// The walk-forward of the valid `points` (see [`walk_forward_with`]).
    pub fn walk_forward(
        &self,
        points: &[Combo],
        (train, test, anchored): (Span, Span, bool),
        metric: &str,
        progress: &(dyn Fn() + Sync),
    ) -> anyhow::Result<WalkForward> {
        let windows = self.windows((train, test, anchored))?;
        let eval = |c: &Combo, from: NaiveDate, to: NaiveDate| self.window_returns(c, from, to);
        walk_forward_with(
            points,
            windows,
            metric,
            self.periods_per_year,
            &eval,
            progress,
        )
        .map_err(input_is_bad)
    }

    /// One part of the walk-forward ([`systrade_backtest::walkforward::walk_forward_part`]).
    pub fn walk_forward_part(
        &self,
        points: &[Combo],
        spans: (Span, Span, bool),
        metric: &str,
        progress: &(dyn Fn() + Sync),
        part: systrade_backtest::shard::Part,
    ) -> anyhow::Result<(
        Vec<systrade_backtest::walkforward::Fold>,
        Vec<systrade_backtest::walkforward::FoldOutcome>,
    )> {
        if points.is_empty() {
            return Err(bad("the grid has no valid combination for this strategy"));
        }
        let windows = self.windows(spans)?;
        let eval = |c: &Combo, from: NaiveDate, to: NaiveDate| self.window_returns(c, from, to);
        systrade_backtest::walkforward::walk_forward_part(
            points,
            windows,
            metric,
            self.periods_per_year,
            &eval,
            progress,
            part,
        )
        .map_err(input_is_bad)
    }

    /// Periods a year of the study's market (what its metrics annualise with).
    pub fn periods_per_year(&self) -> f64 {
        self.periods_per_year
    }

    fn windows(&self, (train, test, anchored): (Span, Span, bool)) -> anyhow::Result<Windows> {
        let span = self
            .span()
            .ok_or_else(|| bad(format!("{}: the data holds no bars", self.path.display())))?;
        Ok(Windows {
            span,
            train,
            test,
            anchored,
        })
    }

    /// The config's returns trading `from..=to` with the point's values (`None`: no bars).
    fn window_returns(
        &self,
        c: &Combo,
        from: NaiveDate,
        to: NaiveDate,
    ) -> anyhow::Result<Option<Returns>> {
        let e = self.evaluate(c, (Some(from), Some(to)))?;
        Ok((!e.returns.is_empty()).then_some(Returns {
            dates: e.dates,
            rets: e.returns,
        }))
    }

    fn summary(
        &self,
        dates: &[NaiveDate],
        returns: &[f64],
    ) -> Result<systrade_metrics::Summary, String> {
        if returns.is_empty() {
            return Err("the backtest has no returns in its window".into());
        }
        systrade_metrics::summarize(dates, returns, None, self.periods_per_year)
            .map_err(|e| e.to_string())
    }
}

/// A config with a point's keys set, checked.
enum Configured {
    Trend(Box<TrendConfig>, Box<systrade_pipeline::trend::TrendParams>),
    Momentum(Box<MomentumConfig>),
    Avwap(Box<AvwapConfig>, Box<systrade_avwap::AvwapParams>),
    Rotation(Box<systrade_config::rotation::RotationConfig>),
    Feed(Box<systrade_config::feed::FeedConfig>),
}

/// The first and last dates of each series.
fn ends(data: &BTreeMap<Symbol, Vec<systrade_core::DailyBar>>) -> BTreeSet<NaiveDate> {
    data.values()
        .flat_map(|b| [b.first(), b.last()])
        .flatten()
        .map(|b| b.ts)
        .collect()
}

/// Cohort-book rows of every formation whose (previous, target) weights pass `f`.
fn changes(
    formations: &[systrade_pipeline::momentum::Formation],
    f: impl Fn(f64, f64) -> bool,
) -> usize {
    formations
        .iter()
        .flat_map(|x| &x.rows)
        .filter(|(_, r)| f(r.prev_weight, r.target_weight))
        .count()
}

/// A backtest's refusal of its input is the user's bad input (exit 2).
fn input_is_bad(e: anyhow::Error) -> anyhow::Error {
    match e.downcast::<BacktestError>() {
        Ok(BacktestError::Input(m)) => bad(m),
        Ok(other) => other.into(),
        Err(e) => e,
    }
}
