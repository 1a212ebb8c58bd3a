//! The strategy side of the daily run: a config of either kind loaded for one market day,
//! and its step 4 — the backtest's own decision turned into the orders the day wants.
//!
//! Trend runs `TrendStrategy::decide` on the day's book. Momentum runs the monthly cohort
//! backtest through T−1 and trades what it holds at the next open: the new books after a
//! month-end formation, and the volatility-targeting scale every session.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use systrade_backtest::{dec, f};
use systrade_broker::PaperConfig;
use systrade_core::fsio::write_atomic;
use systrade_core::json::shortest;
use systrade_core::{DailyBar, Market, Symbol};
use systrade_pipeline::trend::{
    DayRecord, SNAPSHOT_HEADER, desired_trades_jsonl, order_purpose, snapshot_rows, targets_csv,
};
use systrade_risk::SafetyLimits;
use systrade_store::Purpose;
use systrade_store::{CarriedState, Ledger};
use systrade_strategy::{MarketView, PortfolioView, Strategy, Target};

use systrade_config::book::BookConfig;
use systrade_config::run::{DecisionsSection, ExecutionSection, RunSection};
use systrade_config::{ReadOptions, StrategyKind};
use systrade_core::BadInput;
use systrade_systems::momentum::MomentumOverrides;
use systrade_systems::{momentum, trend};

use crate::logs::Logs;

/// A strategy config loaded for the daily run.
pub enum Desk {
    Trend(Box<trend::Loaded>),
    Momentum(Box<momentum::Loaded>),
    /// A book traded from trade sheets: no daily run, only staging and approvals.
    Sheet(Box<SheetBook>),
    /// The anchored-VWAP system: traded in execution cycles ([`crate::cycles`]).
    Avwap(Box<AvwapDesk>),
    /// A monthly rotation (bucket A): the month in force traded at the next open.
    Rotation(Box<RotationDesk>),
    /// A feed bucket (C, D): the session's alerts entered, the holding window sold.
    Feed(Box<systrade_systems::feed::Loaded>),
}

/// A rotation config loaded for the daily run: its union-calendar panel (the decision) and
/// its daily bars (marks and fills).
pub struct RotationDesk {
    pub l: systrade_systems::rotation::Loaded,
    pub bars: BTreeMap<Symbol, Vec<DailyBar>>,
}

/// An AVWAP config loaded for a cycle: its data, and the instant the cycle runs at (a paper
/// account's clock inside the session, so its stops trigger on the tape up to then).
pub struct AvwapDesk {
    pub l: systrade_systems::avwap::Loaded,
    /// Daily bars per symbol (the panels' bars), as every venue reads them.
    pub bars: BTreeMap<Symbol, Vec<DailyBar>>,
    pub now: Option<DateTime<Utc>>,
    decisions: DecisionsSection,
}

impl AvwapDesk {
    pub fn new(l: systrade_systems::avwap::Loaded, now: Option<DateTime<Utc>>) -> AvwapDesk {
        let bars = l
            .panels
            .iter()
            .map(|(s, p)| (s.clone(), p.bars.clone()))
            .collect();
        AvwapDesk {
            decisions: l.cfg.decisions.clone(),
            l,
            bars,
            now,
        }
    }
}

/// The paper account's currency in a market.
fn currency(m: Market) -> &'static str {
    match m {
        Market::B3 => "BRL",
        Market::Us => "USD",
        Market::Crypto => "USDT",
    }
}

/// A sheet book loaded with every series of its data source.
pub struct SheetBook {
    pub cfg: BookConfig,
    pub market: Market,
    pub bars: BTreeMap<Symbol, Vec<DailyBar>>,
    pub sectors: BTreeMap<Symbol, String>,
    /// Where the config is (its signals file is relative to it).
    pub config: std::path::PathBuf,
    /// How large orders are worked as limit slices (`[execution] twap_*`).
    pub twap: Option<systrade_config::run::Twap>,
    /// The one-minute bars of `execution.twap_bars`, by symbol and session (regular hours).
    pub minutes: systrade_broker::paper::Minutes,
    /// The instant of an intraday (TWAP) cycle: the paper account's clock inside the session.
    pub now: Option<chrono::DateTime<chrono::Utc>>,
}

impl SheetBook {
    fn load(config: &Path, data: Option<&Path>, read: &ReadOptions) -> anyhow::Result<SheetBook> {
        let cfg = BookConfig::load(config).map_err(BadInput)?;
        let source = data
            .map(Path::to_path_buf)
            .unwrap_or_else(|| cfg.source(config));
        let opts = cfg.data.parse_options(read).map_err(BadInput)?;
        let configured = cfg.data.market().map_err(BadInput)?;
        let src = systrade_data::DataSource::open(&source)
            .with_context(|| format!("{}: data.source", config.display()))?;
        let all = src
            .all_daily(&opts)
            .with_context(|| format!("{}: loading {}", config.display(), source.display()))?;
        let market = match (configured, all.first()) {
            (Some(m), _) => m,
            (None, Some(s)) => s.market,
            (None, None) => {
                return Err(BadInput(format!(
                    "{}: data.source {} holds no daily prices",
                    config.display(),
                    source.display()
                ))
                .into());
            }
        };
        let mut bars: BTreeMap<Symbol, Vec<DailyBar>> =
            all.into_iter().map(|s| (s.symbol, s.bars)).collect();
        let twap = cfg.execution.twap(config);
        let mut minutes = systrade_broker::paper::Minutes::new();
        if let Some(t) = &twap {
            if market != Market::Us {
                return Err(BadInput(format!(
                    "{}: execution.twap_slices: TWAP windows are New York session times; this book trades the {} market",
                    config.display(),
                    market.as_str()
                ))
                .into());
            }
            let cal = Market::Us.calendar();
            for (sym, minute) in systrade_systems::avwap::read_intraday(
                config,
                "execution.twap_bars",
                &t.bars,
                &opts,
            )? {
                let s = systrade_avwap::intraday::session_bars(&minute, 1, cal);
                // A symbol with minutes and no daily file gets its daily bars from them.
                bars.entry(sym.clone())
                    .or_insert_with(|| systrade_avwap::intraday::daily_from(&s));
                minutes.insert(sym, s);
            }
        }
        Ok(SheetBook {
            sectors: systrade_systems::table::sectors_of(&source)?,
            bars,
            market,
            cfg,
            config: config.to_path_buf(),
            twap,
            minutes,
            now: None,
        })
    }
}

/// The book a day is decided on (kept in the ledger so a re-run decides the same).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayBook {
    pub cash: Decimal,
    pub positions: BTreeMap<Symbol, Decimal>,
    pub stopped_out: BTreeMap<Symbol, NaiveDate>,
    pub carried: BTreeMap<Symbol, (Option<f64>, u32)>,
    pub last_decided: Option<NaiveDate>,
}

/// One order the day wants, before the gates.
#[derive(Debug, Clone)]
pub struct Want {
    pub symbol: Symbol,
    /// Signed quantity, on the strategy's lot grid.
    pub delta: Decimal,
    pub purpose: Purpose,
    /// The strategy's own reason, for the logs.
    pub reason: String,
    /// Entries and adds (long or short) are gated; exits and reductions never are.
    pub adds_risk: bool,
    /// Opens a position that was flat.
    pub entry: bool,
    pub data_ok: bool,
    /// The protective stop the position will get (the risk-per-trade gate's input).
    pub stop: Option<f64>,
    /// A limit order at this price (a market order without).
    pub limit: Option<Decimal>,
}

/// What step 12 does with a held position's stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopPlan {
    /// `data_ok = 0`: the stop in force is left as it is.
    Skip,
    Level(f64),
    /// The strategy could not compute a level.
    NoLevel,
}

/// Step 4's outcome.
pub struct DayDecision {
    pub wants: Vec<Want>,
    /// Per ticker the strategy decided (trend); empty for a strategy without stops.
    pub stops: BTreeMap<Symbol, StopPlan>,
    /// Stop levels the strategy computed, for the `not_open` status of unheld names.
    pub stop_levels: BTreeMap<Symbol, f64>,
    /// State carried to the next day (trend: stops, cooldowns, the last decided bar).
    pub carried: Option<CarriedState>,
    /// A formation traded today: `(month, formation date, cohort state)` for the ledger.
    pub formation: Option<(String, NaiveDate, String)>,
    pub decided_through: NaiveDate,
    /// The summary's `targets` section.
    pub targets: Value,
    pub no_data: Vec<Symbol>,
}

/// Where a decision's inputs and artifacts go.
pub struct DecideCtx<'a> {
    pub name: &'a str,
    pub day: NaiveDate,
    pub folder: &'a Path,
    pub equity: f64,
    pub closes: &'a BTreeMap<Symbol, f64>,
}

impl Desk {
    /// Loads `config` (any kind); the market day is `as_of`, else the session a run at `now`
    /// trades in ([`crate::market_session`]).
    pub fn load(
        config: &Path,
        data: Option<&Path>,
        read: &ReadOptions,
        as_of: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(Desk, NaiveDate)> {
        match StrategyKind::of(config).map_err(BadInput)? {
            StrategyKind::Trend => {
                let l = trend::load(config, data, read)?;
                let day = as_of.unwrap_or_else(|| crate::session_or_today(l.market, now));
                Ok((Desk::Trend(Box::new(l)), day))
            }
            StrategyKind::Momentum => {
                let cfg =
                    systrade_config::momentum::MomentumConfig::load(config).map_err(BadInput)?;
                let market = momentum::market_of(&cfg, read);
                let day = as_of.unwrap_or_else(|| crate::session_or_today(market, now));
                // Inputs (the CDI above all) must cover the sessions before the day only.
                let l = momentum::load(
                    config,
                    data,
                    &MomentumOverrides::default(),
                    read,
                    (None, day.pred_opt()),
                )?;
                Ok((Desk::Momentum(Box::new(l)), day))
            }
            StrategyKind::Avwap => {
                let l = systrade_systems::avwap::load(config, data, read)?;
                let day = as_of.unwrap_or_else(|| crate::session_or_today(Market::Us, now));
                Ok((Desk::Avwap(Box::new(AvwapDesk::new(l, Some(now)))), day))
            }
            StrategyKind::Rotation => {
                let l = systrade_systems::rotation::load(config, data, read)?;
                let bars = systrade_systems::rotation::daily_bars(config, data, read)?;
                let day = as_of.unwrap_or_else(|| crate::session_or_today(l.market, now));
                Ok((Desk::Rotation(Box::new(RotationDesk { l, bars })), day))
            }
            StrategyKind::Portfolio => Err(no_daily_run(config)),
            StrategyKind::Feed => {
                let l = systrade_systems::feed::load(config, data, read)?;
                let day = as_of.unwrap_or_else(|| crate::session_or_today(l.market, now));
                Ok((Desk::Feed(Box::new(l)), day))
            }
            StrategyKind::Sheet => {
                let l = SheetBook::load(config, data, read)?;
                let day = as_of.unwrap_or_else(|| crate::session_or_today(l.market, now));
                Ok((Desk::Sheet(Box::new(l)), day))
            }
        }
    }

    pub fn run_cfg(&self) -> &RunSection {
        match self {
            Desk::Trend(l) => &l.cfg.run,
            Desk::Momentum(l) => &l.cfg.run,
            Desk::Sheet(l) => &l.cfg.run,
            Desk::Avwap(l) => &l.l.cfg.run,
            Desk::Rotation(r) => &r.l.cfg.run,
            Desk::Feed(l) => &l.cfg.run,
        }
    }

    pub fn safety(&self) -> &SafetyLimits {
        match self {
            Desk::Trend(l) => &l.cfg.safety,
            Desk::Momentum(l) => &l.cfg.safety,
            Desk::Sheet(l) => &l.cfg.safety,
            Desk::Avwap(l) => &l.l.cfg.safety,
            Desk::Rotation(r) => &r.l.cfg.safety,
            Desk::Feed(l) => &l.cfg.safety,
        }
    }

    pub fn decisions(&self) -> &DecisionsSection {
        match self {
            Desk::Trend(l) => &l.cfg.decisions,
            Desk::Momentum(l) => &l.cfg.decisions,
            Desk::Sheet(l) => &l.cfg.decisions,
            Desk::Avwap(l) => &l.decisions,
            Desk::Rotation(r) => &r.l.cfg.decisions,
            Desk::Feed(l) => &l.cfg.decisions,
        }
    }

    pub fn execution(&self) -> &ExecutionSection {
        match self {
            Desk::Trend(l) => &l.cfg.execution,
            Desk::Momentum(l) => &l.cfg.execution,
            Desk::Sheet(l) => &l.cfg.execution,
            Desk::Avwap(l) => &l.l.cfg.execution,
            Desk::Rotation(r) => &r.l.cfg.execution,
            Desk::Feed(l) => &l.cfg.execution,
        }
    }

    pub fn market(&self) -> Market {
        match self {
            Desk::Trend(l) => l.market,
            Desk::Momentum(l) => l.market,
            Desk::Sheet(l) => l.market,
            Desk::Avwap(_) => Market::Us,
            Desk::Rotation(r) => r.l.market,
            Desk::Feed(l) => l.market,
        }
    }

    pub fn bars(&self) -> &BTreeMap<Symbol, Vec<DailyBar>> {
        match self {
            Desk::Trend(l) => &l.data,
            Desk::Momentum(l) => &l.bars,
            Desk::Sheet(l) => &l.bars,
            Desk::Avwap(l) => &l.bars,
            Desk::Rotation(r) => &r.bars,
            Desk::Feed(l) => &l.data,
        }
    }

    /// Trend positions carry one protective stop each; the momentum spec defines none.
    pub fn uses_stops(&self) -> bool {
        matches!(self, Desk::Trend(_) | Desk::Avwap(_) | Desk::Feed(_))
    }

    /// How a sheet book works its large orders as TWAP slices (none for the strategies).
    pub fn twap(&self) -> Option<&systrade_config::run::Twap> {
        match self {
            Desk::Sheet(l) => l.twap.as_ref(),
            _ => None,
        }
    }

    /// A paper account's clock inside the session: the AVWAP cycle's instant and its
    /// one-minute bars.
    pub fn tape(&self) -> Option<systrade_broker::paper::Tape<'_>> {
        match self {
            Desk::Avwap(l) => l.now.map(|now| systrade_broker::paper::Tape {
                now,
                minutes: &l.l.sessions,
            }),
            Desk::Sheet(l) => l.now.map(|now| systrade_broker::paper::Tape {
                now,
                minutes: &l.minutes,
            }),
            _ => None,
        }
    }

    /// The smallest tradable quantity step.
    pub fn qty_step(&self) -> Decimal {
        match self {
            Desk::Trend(l) => Decimal::new(1, l.params.qty_decimals.min(28)),
            Desk::Momentum(l) => Decimal::from(l.cfg.orders.default_lot),
            Desk::Sheet(l) => Decimal::new(1, l.cfg.orders.qty_decimals),
            Desk::Avwap(_) => Decimal::ONE,
            Desk::Rotation(r) => dec(systrade_systems::rotation_plan::lot_of(r.l.market)),
            Desk::Feed(_) => Decimal::ONE,
        }
    }

    pub fn sectors(&self) -> BTreeMap<Symbol, String> {
        match self {
            Desk::Trend(l) => l
                .params
                .sleeves
                .iter()
                .flat_map(|s| s.tickers.iter().map(move |t| (t.clone(), s.name.clone())))
                .collect(),
            Desk::Momentum(l) => l
                .panel
                .tickers
                .iter()
                .cloned()
                .zip(l.panel.sectors.iter().cloned())
                .collect(),
            Desk::Sheet(l) => l.sectors.clone(),
            Desk::Avwap(_) | Desk::Rotation(_) | Desk::Feed(_) => BTreeMap::new(),
        }
    }

    /// The paper account: the backtest's costs and lot rule; a margin account (shorts,
    /// leverage up to the volatility target's cap) for momentum.
    pub fn paper_config(&self) -> PaperConfig {
        match self {
            Desk::Trend(l) => {
                let engine = l.engine(1.0, None, None);
                PaperConfig {
                    account_id: l.cfg.run.account.clone(),
                    currency: "USD".into(),
                    initial_cash: dec(l.cfg.run.paper_cash.unwrap_or(l.cfg.backtest.cash)),
                    costs: engine.costs,
                    lot: engine.lot_size.map(dec),
                    shorting: false,
                    margin: Decimal::ONE,
                    tape_volume_share: None,
                }
            }
            Desk::Momentum(l) => PaperConfig {
                account_id: l.cfg.run.account.clone(),
                currency: currency(l.market).into(),
                initial_cash: dec(l.cfg.run.paper_cash.unwrap_or(1_000_000.0)),
                costs: systrade_backtest::CostModel {
                    fee_bps: l.params.cost_bps,
                    ..Default::default()
                },
                lot: Some(Decimal::from(l.cfg.orders.default_lot)),
                shorting: l.params.book == systrade_pipeline::momentum::BookKind::Ls,
                margin: dec(l.params.max_leverage.max(1.0)),
                tape_volume_share: None,
            },
            Desk::Avwap(l) => {
                let b = &l.l.cfg.backtest;
                PaperConfig {
                    account_id: l.l.cfg.run.account.clone(),
                    currency: "USD".into(),
                    initial_cash: dec(l.l.cfg.run.paper_cash.unwrap_or(b.cash)),
                    costs: systrade_backtest::CostModel {
                        fee_bps: b.fee_bps,
                        slippage_bps: b.slippage_bps,
                        ..Default::default()
                    },
                    lot: Some(Decimal::ONE),
                    shorting: false,
                    margin: Decimal::ONE,
                    tape_volume_share: None,
                }
            }
            Desk::Rotation(r) => PaperConfig {
                account_id: r.l.cfg.run.account.clone(),
                currency: currency(r.l.market).into(),
                initial_cash: dec(r.l.cfg.run.paper_cash.unwrap_or(r.l.cfg.backtest.cash)),
                costs: systrade_backtest::CostModel {
                    fee_bps: r.l.cfg.rotation.fee_bps,
                    ..Default::default()
                },
                lot: Some(dec(systrade_systems::rotation_plan::lot_of(r.l.market))),
                shorting: false,
                margin: Decimal::ONE,
                tape_volume_share: None,
            },
            Desk::Feed(l) => PaperConfig {
                account_id: l.cfg.run.account.clone(),
                currency: currency(l.market).into(),
                initial_cash: dec(l.cfg.run.paper_cash.unwrap_or(l.cfg.backtest.cash)),
                costs: systrade_backtest::CostModel {
                    fee_bps: l.cfg.backtest.fee_bps,
                    slippage_bps: l.cfg.backtest.slippage_bps,
                    ..Default::default()
                },
                lot: Some(Decimal::ONE),
                shorting: false,
                margin: Decimal::ONE,
                tape_volume_share: None,
            },
            Desk::Sheet(l) => PaperConfig {
                account_id: l.cfg.run.account.clone(),
                currency: currency(l.market).into(),
                initial_cash: dec(l.cfg.run.paper_cash.unwrap_or(0.0)),
                costs: systrade_backtest::CostModel {
                    fee_bps: l.cfg.costs.fee_bps,
                    per_share: l.cfg.costs.per_share,
                    min_fee: l.cfg.costs.min_fee,
                    slippage_bps: l.cfg.costs.slippage_bps,
                    ..Default::default()
                },
                lot: Some(Decimal::new(1, l.cfg.orders.qty_decimals)),
                shorting: false,
                margin: Decimal::ONE,
                tape_volume_share: l.twap.as_ref().map(|t| dec(t.volume_share)),
            },
        }
    }

    /// Step 4: the strategy's decision on `book`, its artifacts, and the orders it wants.
    pub fn decide(
        &self,
        book: &DayBook,
        x: &DecideCtx<'_>,
        ledger: &Ledger,
        logs: &mut Logs,
    ) -> anyhow::Result<DayDecision> {
        match self {
            Desk::Trend(l) => decide_trend(l, book, x, logs),
            Desk::Momentum(l) => decide_momentum(l, book, x, ledger, logs),
            Desk::Rotation(r) => decide_rotation(&r.l, book, x, ledger, logs),
            Desk::Feed(l) => crate::feed_day::decide(l, book, x, ledger, logs),
            Desk::Sheet(l) if l.cfg.signals.is_some() => {
                crate::sheet_day::decide(l, book, x, ledger, logs)
            }
            Desk::Sheet(_) => Err(BadInput(format!(
                "{}: a sheet book without a [signals] section has no daily decision; stage its orders with `systrade orders stage`, or give it [signals] file = \"signals.csv\" to rebalance daily",
                x.name
            ))
            .into()),
            Desk::Avwap(_) => Err(BadInput(format!(
                "{}: the AVWAP system runs in execution cycles: `systrade run --cycle open|intraday|close`",
                x.name
            ))
            .into()),
        }
    }
}

fn decide_trend(
    l: &trend::Loaded,
    book: &DayBook,
    x: &DecideCtx<'_>,
    logs: &mut Logs,
) -> anyhow::Result<DayDecision> {
    let day = x.day;
    let mut strategy = l.strategy()?.keep_records(false);
    for (s, (stop, cd)) in &book.carried {
        strategy.restore(s, *stop, *cd);
    }
    strategy.restore_last_decided(book.last_decided);
    let pf = PortfolioView {
        equity: x.equity,
        cash: f(book.cash),
        positions: book
            .positions
            .iter()
            .map(|(s, q)| (s.clone(), f(*q)))
            .collect(),
        stopped_out: book.stopped_out.clone(),
    };
    let decision = strategy.decide(&MarketView::new(day, &l.data), &pf);
    let record: DayRecord = strategy
        .take_records()
        .pop()
        .ok_or_else(|| anyhow::anyhow!("the strategy's step left no record"))?;
    write_atomic(
        &x.folder.join(format!("targets_{day}.csv")),
        targets_csv(&record).as_bytes(),
    )?;
    write_atomic(
        &x.folder.join("snapshots/post_desired_trades.csv"),
        format!("{SNAPSHOT_HEADER}\n{}", snapshot_rows(&record)).as_bytes(),
    )?;
    for line in desired_trades_jsonl(std::slice::from_ref(&record))?.lines() {
        let v: Value = serde_json::from_str(line)?;
        let sym = v["ticker"].as_str().map(str::to_string);
        let reason = v["reason"].as_str().unwrap_or("").to_string();
        logs.write("desired_trades", sym.as_deref(), &reason, v);
    }
    let lot = l
        .engine(1.0, None, None)
        .lot_size
        .map_or(Decimal::ZERO, dec);
    let rows: BTreeMap<&Symbol, _> = record.rows.iter().map(|r| (&r.ticker, r)).collect();
    let mut wants = Vec::new();
    for (sym, target) in &decision.targets {
        let held = book.positions.get(sym).copied().unwrap_or(Decimal::ZERO);
        let delta = match target {
            Target::Hold => continue,
            Target::Flat => -held,
            Target::Quantity(q) => dec(*q) - held,
            Target::Weight(_) => bail!("{sym}: the trend step gave a weight target"),
        };
        // Whole lots, toward zero, as the simulated broker fills them (an exit sells all).
        let delta = if lot > Decimal::ZERO && !matches!(target, Target::Flat) {
            (delta / lot).trunc() * lot
        } else {
            delta
        };
        if delta.is_zero() {
            continue;
        }
        let Some(row) = rows.get(sym) else { continue };
        wants.push(Want {
            symbol: sym.clone(),
            delta,
            purpose: order_purpose(row),
            reason: row.reason.as_str().to_string(),
            adds_risk: delta > Decimal::ZERO,
            entry: held.is_zero(),
            data_ok: row.data_ok,
            stop: row.stop,
            limit: None,
        });
    }
    let stops = record
        .rows
        .iter()
        .map(|r| {
            let plan = if !r.data_ok {
                StopPlan::Skip
            } else {
                match decision.stops.get(&r.ticker).copied().or(r.stop) {
                    Some(level) => StopPlan::Level(level),
                    None => StopPlan::NoLevel,
                }
            };
            (r.ticker.clone(), plan)
        })
        .collect();
    Ok(DayDecision {
        wants,
        stops,
        stop_levels: decision.stops.clone(),
        carried: Some(CarriedState {
            tickers: record
                .rows
                .iter()
                .map(|r| (r.ticker.clone(), (r.stop, r.cooldown_left)))
                .collect(),
            last_decided: Some(record.decided),
        }),
        formation: None,
        decided_through: record.decided,
        targets: json!({"vol_pre_cap": record.sizing.vol_pre_cap, "vol_post_cap": record.sizing.vol_post_cap,
                        "target_gross": record.sizing.gross, "n_eff": record.sizing.n_eff}),
        no_data: record
            .rows
            .iter()
            .filter(|r| !r.data_ok)
            .map(|r| r.ticker.clone())
            .collect(),
    })
}

/// The cohort books of a formation as the ledger records them.
fn formation_state(f: &systrade_pipeline::momentum::Formation) -> anyhow::Result<String> {
    Ok(systrade_core::json::to_canonical_string(&json!({
        "date": f.date, "cohorts": f.cohorts, "weights": f.weights,
    }))?)
}

fn decide_momentum(
    l: &momentum::Loaded,
    book: &DayBook,
    x: &DecideCtx<'_>,
    ledger: &Ledger,
    logs: &mut Logs,
) -> anyhow::Result<DayDecision> {
    let day = x.day;
    let end = day
        .pred_opt()
        .ok_or_else(|| BadInput(format!("{day} is out of range")))?;
    // The position limit shapes the books as in the backtest; a drawdown is judged by the
    // gates on the ledger's equity (the simulated NAV's would apply it twice).
    let r = l
        .run_with(
            &l.params,
            systrade_pipeline::momentum::without_drawdown(l.limits()),
            None,
            Some(end),
        )
        .with_context(|| {
            format!("the momentum backtest through {end} (the daily run trades what it holds next)")
        })?;
    let next = &r.next;
    let p = &l.params;
    let cal = l.market.calendar();
    let session_before = cal.previous_trading_day(day);
    let fresh = next.after == session_before;
    // Day-level problems (none names a symbol): logged as errors and listed in the summary.
    let mut problems: Vec<(&str, Value)> = Vec::new();
    if !fresh {
        problems.push((
            "stale_data",
            json!({"latest_close": next.after, "expected": session_before}),
        ));
    }
    // Today's formation: the month-end close just before the day.
    let latest = r.formations.last().filter(|fm| fm.date == next.after);
    let mut formation = None;
    let mut blocked_all = !fresh;
    if let Some(fm) = latest {
        if let Some(why) = &fm.failed {
            problems.push(("formation_failed", json!({"why": why})));
        } else {
            let (failures, cautions) = momentum::check(fm, p);
            for c in cautions {
                logs.write(
                    "desired_trades",
                    None,
                    "formation_warning",
                    json!({"warning": c}),
                );
            }
            if failures.is_empty() {
                let month = fm.month();
                write_atomic(
                    &x.folder.join(format!("targets_{month}.csv")),
                    momentum::targets_csv(fm)?.as_bytes(),
                )?;
                momentum::write_cohort_states(fm, x.folder)?;
                formation = Some((month, fm.date, formation_state(fm)?));
            } else {
                blocked_all = true;
                problems.push(("formation_checks_failed", json!({"failures": failures})));
            }
        }
    }
    // The books in force were formed at the latest good formation: recomputed, they must be
    // what the ledger recorded when they were traded.
    if let Some(fm) = r
        .formations
        .iter()
        .rev()
        .find(|fm| fm.failed.is_none() && fm.date < next.after)
        && let Some((_, recorded)) = ledger.formation(x.name, &fm.month())?
        && recorded != formation_state(fm)?
    {
        blocked_all = true;
        problems.push((
            "state_drift",
            json!({"month": fm.month(), "formation": fm.date,
                   "why": "the books recomputed from today's data differ from those the ledger recorded; new risk waits until the data is checked"}),
        ));
    }
    let lot = Decimal::from(l.cfg.orders.default_lot);
    let to_lot = |q: f64| (dec(q) / lot).trunc() * lot;
    let last_bar = |s: &Symbol| {
        l.bars
            .get(s)
            .and_then(|b| b[..b.partition_point(|x| x.ts < day)].last())
            .map(|b| b.ts)
    };
    let mut names: Vec<&Symbol> = next.weights.keys().chain(book.positions.keys()).collect();
    names.sort();
    names.dedup();
    let mut wants = Vec::new();
    let mut csv = String::from(
        "symbol,side,weight,scale,equity,ref_price,target_qty,held_qty,delta_qty,action,data_ok\n",
    );
    let mut no_data = Vec::new();
    for s in names {
        let w = next.weights.get(s).copied().unwrap_or(0.0);
        let held = book.positions.get(s).copied().unwrap_or(Decimal::ZERO);
        let px = x.closes.get(s).copied();
        let data_ok = !blocked_all && last_bar(s) == Some(next.after) && px.is_some();
        if !data_ok {
            no_data.push(s.clone());
        }
        let target = match px {
            Some(px) if px > 0.0 => to_lot(next.scale * w * x.equity / px),
            // Without a price only an exit can be sized.
            _ if w == 0.0 => Decimal::ZERO,
            _ => held,
        };
        let same_side = held.is_sign_positive() == target.is_sign_positive();
        let within_band = !next.formation
            && !held.is_zero()
            && !target.is_zero()
            && same_side
            && f((target - held).abs()) <= l.cfg.orders.rebalance_band * f(target.abs());
        let action = if target == held {
            "hold"
        } else if within_band {
            "within_band"
        } else if held.is_zero() {
            "entry"
        } else if target.is_zero() {
            "exit"
        } else if !same_side {
            "flip"
        } else if target.abs() > held.abs() {
            "add"
        } else {
            "reduce"
        };
        csv.push_str(&format!(
            "{s},{},{},{},{:.2},{},{},{},{},{action},{}\n",
            if w < 0.0 {
                "short"
            } else if w > 0.0 {
                "long"
            } else {
                ""
            },
            shortest(w),
            shortest(next.scale),
            x.equity,
            px.map(shortest).unwrap_or_default(),
            target.normalize(),
            held.normalize(),
            (target - held).normalize(),
            u8::from(data_ok)
        ));
        let reason = if next.formation {
            "formation"
        } else if matches!(action, "entry" | "exit" | "flip") {
            "catch_up"
        } else {
            "vt_rescale"
        };
        logs.write(
            "desired_trades",
            Some(s.as_str()),
            action,
            json!({"weight": w, "scale": next.scale, "target_qty": target.normalize().to_string(),
                   "held_qty": held.normalize().to_string(), "trigger": reason, "data_ok": data_ok}),
        );
        let mut push = |delta: Decimal, purpose: Purpose, adds_risk: bool, entry: bool| {
            wants.push(Want {
                symbol: s.clone(),
                delta,
                purpose,
                reason: reason.to_string(),
                adds_risk,
                entry,
                data_ok,
                stop: None,
                limit: None,
            })
        };
        match action {
            "entry" => push(target, Purpose::Entry, true, true),
            "exit" => push(-held, Purpose::Exit, false, false),
            // Through zero in two orders: the exit is never gated, the new side is.
            "flip" => {
                push(-held, Purpose::Exit, false, false);
                push(target, Purpose::Entry, true, true);
            }
            "add" => push(target - held, Purpose::Add, true, false),
            "reduce" => push(target - held, Purpose::Reduce, false, false),
            _ => {}
        }
    }
    write_atomic(&x.folder.join(format!("targets_{day}.csv")), csv.as_bytes())?;
    write_atomic(
        &x.folder.join("snapshots/post_desired_trades.csv"),
        csv.as_bytes(),
    )?;
    for (why, v) in &problems {
        logs.write("errors", None, why, v.clone());
    }
    let long: f64 = next.weights.values().filter(|w| **w > 0.0).sum();
    let short: f64 = -next.weights.values().filter(|w| **w < 0.0).sum::<f64>();
    Ok(DayDecision {
        wants,
        stops: BTreeMap::new(),
        stop_levels: BTreeMap::new(),
        carried: None,
        formation,
        decided_through: next.after,
        targets: json!({
            "formation": next.formation,
            "formation_date": latest.map(|fm| fm.date),
            "month": latest.map(|fm| fm.month()),
            "scale": next.scale,
            "long_weight": long, "short_weight": short,
            "long_gross": long * next.scale, "short_gross": short * next.scale,
            "names": next.weights.len(),
            // The futures hedge is not traded by this account: it is the desk's instruction.
            "overlay": {"h": next.overlay_h, "beta_p": next.beta_p,
                        "notional": next.overlay_h * next.scale * x.equity},
            "problems": problems.iter().map(|(why, v)| json!({"problem": why, "detail": v})).collect::<Vec<_>>(),
        }),
        no_data,
    })
}

/// A bucket of a portfolio run as its own book: its name, account and capital, and the
/// limits its config takes (`systrade_config::portfolio::PortfolioConfig::limit_keys`).
#[derive(Debug, Clone, PartialEq)]
pub struct BucketBook {
    pub name: String,
    /// The bucket's `account` (empty: its config's `[run] account`).
    pub account: String,
    pub capital: f64,
    pub keys: Vec<(String, f64)>,
    /// Its strategy: an AVWAP bucket trades in execution cycles (`--cycle`), the others once
    /// a day.
    pub kind: StrategyKind,
}

impl BucketBook {
    /// Whether the bucket trades in execution cycles rather than once a day.
    pub fn in_cycles(&self) -> bool {
        self.kind == StrategyKind::Avwap
    }

    /// Every bucket of the portfolio at `path`, with its config.
    pub fn of_portfolio(path: &Path) -> anyhow::Result<Vec<(std::path::PathBuf, BucketBook)>> {
        use systrade_config::portfolio::PortfolioConfig;
        let cfg = PortfolioConfig::load(path).map_err(BadInput)?;
        let mut out = Vec::new();
        for b in &cfg.buckets {
            let config = cfg.bucket_config(path, b);
            let kind = StrategyKind::of(&config)
                .map_err(|e| BadInput(format!("bucket {}: {e}", b.name)))?;
            let keys = PortfolioConfig::limit_keys(b);
            match kind {
                StrategyKind::Trend
                | StrategyKind::Rotation
                | StrategyKind::Feed
                | StrategyKind::Momentum
                | StrategyKind::Avwap => {}
                other => {
                    return Err(BadInput(format!(
                        "{}: bucket {} is a {} config, which a portfolio's run does not take (trend, rotation, feed, momentum and AVWAP buckets)",
                        path.display(),
                        b.name,
                        other.as_str(),
                    ))
                    .into());
                }
            }
            out.push((
                config,
                BucketBook {
                    name: b.name.clone(),
                    account: b.account.clone(),
                    capital: cfg.amount(b),
                    keys,
                    kind,
                },
            ));
        }
        let mut accounts: BTreeMap<String, &str> = BTreeMap::new();
        for (config, b) in &out {
            let account = if b.account.is_empty() {
                crate::reconcile::book_of(config)?.0.account
            } else {
                b.account.clone()
            };
            if let Some(other) = accounts.insert(account.clone(), &b.name) {
                return Err(BadInput(format!(
                    "{}: buckets {other} and {} both trade in account {account:?}; give each bucket its own account",
                    path.display(),
                    b.name
                ))
                .into());
            }
        }
        Ok(out)
    }
}

impl Desk {
    /// Makes this desk a portfolio's bucket: the book's name, account and paper capital, and
    /// the bucket's limits written into its config (as `backtest --config portfolio.toml`
    /// does).
    pub fn apply_bucket(&mut self, config: &Path, b: &BucketBook) -> anyhow::Result<()> {
        let text = || -> anyhow::Result<String> {
            let t = systrade_config::read(config).map_err(BadInput)?;
            Ok(systrade_config::overrides::with_overrides(&t, &b.keys)
                .map_err(|e| BadInput(format!("{}: {e}", config.display())))?)
        };
        let run = match self {
            Desk::Trend(l) => {
                l.cfg = systrade_config::trend::TrendConfig::parse(config, &text()?)
                    .map_err(BadInput)?;
                l.params = l.cfg.params().map_err(BadInput)?;
                &mut l.cfg.run
            }
            Desk::Rotation(r) => {
                r.l.cfg = systrade_config::rotation::RotationConfig::parse(config, &text()?)
                    .map_err(BadInput)?;
                &mut r.l.cfg.run
            }
            Desk::Feed(l) => {
                l.cfg =
                    systrade_config::feed::FeedConfig::parse(config, &text()?).map_err(BadInput)?;
                &mut l.cfg.run
            }
            Desk::Momentum(l) => {
                l.cfg = systrade_config::momentum::MomentumConfig::parse(config, &text()?)
                    .map_err(BadInput)?;
                &mut l.cfg.run
            }
            Desk::Avwap(a) => {
                a.l.cfg = systrade_config::avwap::AvwapConfig::parse(config, &text()?)
                    .map_err(BadInput)?;
                a.l.params = a.l.cfg.params();
                a.decisions = a.l.cfg.decisions.clone();
                &mut a.l.cfg.run
            }
            Desk::Sheet(_) => {
                return Err(BadInput(format!(
                    "{}: a sheet book is not a portfolio bucket",
                    config.display()
                ))
                .into());
            }
        };
        run.name = Some(b.name.clone());
        if !b.account.is_empty() {
            run.account = b.account.clone();
        }
        run.paper_cash = Some(b.capital);
        Ok(())
    }
}

/// A portfolio is run bucket by bucket (`systrade run --config portfolio.toml` expands it);
/// what takes one book refuses it, and says so.
pub fn no_daily_run(config: &Path) -> anyhow::Error {
    BadInput(format!(
        "{}: a portfolio is not one book: `systrade run --config` runs each of its buckets as its own book; name a bucket's book (its config) here",
        config.display()
    ))
    .into()
}

/// The rotation's step 4: the month in force (decided on the latest month-start close before
/// the day) traded at the day's open on the rebalance day, or as a catch-up when the
/// account's names differ from its targets; sized on the account's equity at the last
/// closes; the drawdown limits judged against the book's equity peak in the ledger.
fn decide_rotation(
    l: &systrade_systems::rotation::Loaded,
    book: &DayBook,
    x: &DecideCtx<'_>,
    ledger: &Ledger,
    logs: &mut Logs,
) -> anyhow::Result<DayDecision> {
    use systrade_systems::rotation_plan::{When, for_account, targets_csv};
    let held: BTreeMap<Symbol, f64> = book
        .positions
        .iter()
        .map(|(s, q)| (s.clone(), f(*q)))
        .collect();
    let peak = ledger
        .equity(x.name)?
        .iter()
        .map(|(_, e)| f(*e))
        .fold(x.equity, f64::max);
    let plan = for_account(l, x.day, &held, x.equity, f(book.cash), peak)?;
    if let Some(m) = &plan.month {
        write_atomic(
            &x.folder.join(format!("targets_{}.csv", x.day)),
            targets_csv(m).as_bytes(),
        )?;
    }
    let stale = matches!(plan.when, When::Stale { .. });
    let reason = match plan.when {
        When::CatchUp { .. } => "catch_up",
        _ => "rebalance",
    };
    let mut wants = Vec::new();
    for o in &plan.orders {
        let q = dec(o.qty);
        let delta = if o.side == systrade_core::contracts::Side::Buy {
            q
        } else {
            -q
        };
        logs.write(
            "desired_trades",
            Some(o.symbol.as_str()),
            o.action,
            json!({"weight": o.weight, "target_qty": shortest(o.target_qty),
                   "held_qty": shortest(o.held_qty), "ref_price": o.ref_price,
                   "trigger": reason, "why": o.why}),
        );
        wants.push(Want {
            symbol: o.symbol.clone(),
            delta,
            purpose: match o.action {
                "entry" => Purpose::Entry,
                "add" => Purpose::Add,
                "exit" => Purpose::Exit,
                _ => Purpose::Reduce,
            },
            reason: reason.to_string(),
            adds_risk: delta > Decimal::ZERO,
            entry: o.held_qty == 0.0,
            data_ok: true,
            stop: None,
            limit: None,
        });
    }
    for w in &plan.unpriced {
        logs.write("errors", None, "rotation_warning", json!({"warning": w}));
    }
    let no_data = if stale {
        l.panel.symbols.clone()
    } else {
        Vec::new()
    };
    Ok(DayDecision {
        wants,
        stops: BTreeMap::new(),
        stop_levels: BTreeMap::new(),
        carried: None,
        formation: None,
        decided_through: plan.decided,
        targets: json!({
            "when": plan.when,
            "words": plan.when.words(x.day),
            "month": plan.month.as_ref().map(|m| m.date),
            "regime": plan.month.as_ref().map(|m| m.regime.as_str()),
            "risk_state": plan.month.as_ref().map(|m| m.risk_state),
            "drawdown": plan.month.as_ref().map(|m| m.drawdown),
            "targets": plan.month.as_ref().map(|m| m.targets.iter().map(|(s, w)| json!({"symbol": s, "weight": w})).collect::<Vec<_>>()),
        }),
        no_data,
    })
}
