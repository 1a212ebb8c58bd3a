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
    let src = DataSource::open(&source)
        .and_then(|s| s.listing())
        .with_context(|| format!("{}: data.source", config.display()))?;
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
            self.market,
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
        metrics: ts::engine_metrics_with_capacity(r, &l.data),
        tables,
        notes: s.warnings.iter().take(10).cloned().collect(),
    }
}

/// One order of a feed plan.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FeedOrder {
    pub symbol: Symbol,
    pub side: systrade_core::contracts::Side,
    pub qty: f64,
    /// The last close before the session.
    pub ref_price: f64,
    /// `entry` or `exit`.
    pub purpose: &'static str,
    /// The protective stop an entry gets.
    pub stop: Option<f64>,
    pub why: String,
}

/// A position the book holds before the session.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FeedHolding {
    pub symbol: Symbol,
    pub qty: f64,
    pub avg_price: Option<f64>,
    pub last: f64,
}

/// A feed bucket's plan for one session: the book its backtest replays on the bars before
/// it, then the session's decision — exits at the end of the holding window, and the
/// alerts whose first open is this session.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FeedPlan {
    pub as_of: NaiveDate,
    pub equity: f64,
    pub cash: f64,
    pub orders: Vec<FeedOrder>,
    /// The verdicts of the alerts this session judged.
    pub verdicts: Vec<Verdict>,
    pub held: Vec<FeedHolding>,
    /// Why nothing is planned (stale data), when so.
    pub stale: Option<String>,
}

/// The plan for the session `as_of` on the book the config's backtest (with `cash`)
/// replays on the bars before it.
pub fn plan(l: &Loaded, cfg: &FeedConfig, as_of: NaiveDate, cash: f64) -> anyhow::Result<FeedPlan> {
    use systrade_strategy::Target;
    let before: BTreeMap<Symbol, Vec<DailyBar>> = l
        .data
        .iter()
        .map(|(s, bars)| {
            (
                s.clone(),
                bars[..bars.partition_point(|b| b.ts < as_of)].to_vec(),
            )
        })
        .collect();
    let start = cfg.backtest.start;
    if start.is_some_and(|s| s >= as_of) {
        return Err(bad(format!(
            "--as-of {as_of}: the simulated book starts at backtest.start {}; plan a later session",
            start.map(|d| d.to_string()).unwrap_or_default()
        )));
    }
    let strategy = FeedStrategy::new(
        &l.name,
        l.market,
        cfg.rules.clone(),
        l.alerts.clone(),
        l.data.keys().cloned().collect(),
    );
    let cal = l.market.calendar();
    if !cal.is_trading_day(as_of) {
        return Err(bad(format!(
            "--as-of {as_of} is not a {} session (the next one is {})",
            l.market.as_str(),
            cal.next_trading_day(as_of)
        )));
    }
    // The engine decides after each close for the next session: its last decision, after
    // the close before `as_of`, is the plan's.
    let engine = BacktestConfig {
        record_decisions: systrade_backtest::KeepDecisions::Last,
        ..l.engine(cfg, cash, (start, as_of.pred_opt()))
    };
    let limits = crate::trend::limits_of(&cfg.safety);
    let mut gated = systrade_backtest::overlay::Gated::new(strategy, limits);
    let r = systrade_backtest::run(&mut gated, &before, &engine).map_err(crate::trend::bad)?;
    let pf = crate::plan::final_view(&r);
    let expected = cal.previous_trading_day(as_of);
    let last_bar = before.values().filter_map(|b| b.last()).map(|b| b.ts).max();
    let stale = match last_bar {
        Some(d) if d >= expected => None,
        other => Some(format!(
            "the data ends on {}, not {expected}: nothing is planned until it is refreshed",
            other
                .map(|d| d.to_string())
                .unwrap_or_else(|| "no date".into())
        )),
    };
    let d = match r.decisions.last() {
        Some((date, dec)) if stale.is_none() && Some(*date) == last_bar => dec.clone(),
        _ => systrade_strategy::Decision::default(),
    };
    let last = |sym: &Symbol| {
        before
            .get(sym)
            .and_then(|b| b.last())
            .map_or(f64::NAN, |b| b.close)
    };
    let verdicts: Vec<Verdict> = gated
        .into_inner()
        .verdicts()
        .into_iter()
        .filter(|v| v.decided == Some(as_of))
        .collect();
    let mut orders = Vec::new();
    for (sym, t) in &d.targets {
        let held = pf.qty(sym);
        let (qty, purpose, why) = match t {
            Target::Quantity(q) if *q > held => (
                q - held,
                "entry",
                verdicts
                    .iter()
                    .find(|v| &v.symbol == sym && v.status == "entered")
                    .map(|v| format!("feed line {}: {}", v.line, v.detail))
                    .unwrap_or_default(),
            ),
            Target::Flat if held != 0.0 => (
                held,
                "exit",
                format!(
                    "held {} sessions: the holding window ends",
                    cfg.rules.hold_days
                ),
            ),
            _ => continue,
        };
        orders.push(FeedOrder {
            symbol: sym.clone(),
            side: if purpose == "entry" {
                systrade_core::contracts::Side::Buy
            } else {
                systrade_core::contracts::Side::Sell
            },
            qty,
            ref_price: last(sym),
            purpose,
            stop: d.stops.get(sym).copied(),
            why,
        });
    }
    orders
        .sort_by(|a, b| (a.purpose == "entry", &a.symbol).cmp(&(b.purpose == "entry", &b.symbol)));
    let costs = crate::plan::average_costs(&r.fills);
    let held = pf
        .positions
        .iter()
        .filter(|(_, q)| **q != 0.0)
        .map(|(sym, q)| FeedHolding {
            symbol: sym.clone(),
            qty: *q,
            avg_price: costs.get(sym).copied(),
            last: last(sym),
        })
        .collect();
    Ok(FeedPlan {
        as_of,
        equity: pf.equity,
        cash: pf.cash,
        orders,
        verdicts,
        held,
        stale,
    })
}

/// `orders_D.csv` (the trend plan's columns: the orders, then each entry's stop),
/// `alerts_D.csv` (the session's verdicts) and `plan_D.json` into `out`.
pub fn write_plan(out: &Path, name: &str, p: &FeedPlan) -> anyhow::Result<()> {
    use systrade_core::contracts::{ClientOrderId, Side};
    let d = p.as_of;
    let mut orders = format!("{}\n", systrade_pipeline::trend::ORDERS_HEADER);
    for o in &p.orders {
        let id = ClientOrderId::derive(name, d, &o.symbol, o.side, o.purpose)?;
        let _ = writeln!(
            orders,
            "{id},{d},{},{},market,{},{},{:.2},,{},feed",
            o.symbol,
            if o.side == Side::Buy { "buy" } else { "sell" },
            o.qty,
            systrade_core::json::shortest(o.ref_price),
            o.qty * o.ref_price,
            o.purpose
        );
    }
    for o in p.orders.iter().filter(|o| o.purpose == "entry") {
        let Some(stop) = o.stop else { continue };
        let id = ClientOrderId::derive(name, d, &o.symbol, Side::Sell, "stop")?;
        let _ = writeln!(
            orders,
            "{id},{d},{},sell,stop,{},{},{:.2},{},protect,stop",
            o.symbol,
            o.qty,
            systrade_core::json::shortest(o.ref_price),
            o.qty * stop,
            systrade_core::json::shortest(stop)
        );
    }
    let go = || -> anyhow::Result<()> {
        write_atomic(&out.join(format!("orders_{d}.csv")), orders.as_bytes())?;
        write_atomic(
            &out.join(format!("alerts_{d}.csv")),
            alerts_csv(&p.verdicts).as_bytes(),
        )?;
        systrade_core::fsio::write_json_atomic(&out.join(format!("plan_{d}.json")), p)?;
        Ok(())
    };
    go().with_context(|| format!("writing {}", out.display()))
}
