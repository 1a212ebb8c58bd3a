//! A portfolio's plan for one session (`systrade plan --config portfolio.toml`, the
//! newsletter's "what to buy tomorrow"): each bucket's own plan, on the book its backtest
//! replays with the bucket's capital and limits — the same keys `backtest` sets, so a
//! bucket's plan is its standalone plan with those keys.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use serde::Serialize;
use systrade_config::portfolio::{Bucket, PortfolioConfig};
use systrade_config::{ReadOptions, StrategyKind};
use systrade_core::fsio::write_json_atomic;
use systrade_core::json::shortest as num;

use crate::bad;
use crate::plan::Decided;
use crate::rotation_plan::RotationPlan;

/// What a bucket plans.
pub enum Planned {
    Trend {
        loaded: Box<crate::trend::Loaded>,
        decided: Box<Decided>,
    },
    Rotation {
        loaded: Box<crate::rotation::Loaded>,
        plan: Box<RotationPlan>,
    },
    Feed {
        loaded: Box<crate::feed::Loaded>,
        plan: Box<crate::feed::FeedPlan>,
    },
    Momentum {
        loaded: Box<crate::momentum::Loaded>,
        plan: Box<crate::momentum_plan::SessionPlan>,
    },
    Avwap {
        loaded: Box<crate::avwap::Loaded>,
        plan: Box<crate::avwap::SessionPlan>,
    },
}

/// One bucket's plan.
pub struct BucketPlan {
    pub bucket: Bucket,
    pub config: PathBuf,
    pub capital: f64,
    pub planned: Planned,
}

impl BucketPlan {
    pub fn kind(&self) -> &'static str {
        match &self.planned {
            Planned::Trend { .. } => "trend following",
            Planned::Rotation { .. } => "monthly rotation",
            Planned::Feed { loaded, .. } => match loaded.cfg.feed.kind {
                systrade_feeds::FeedKind::LowFloat => "low-float feed",
                systrade_feeds::FeedKind::Options => "options-flow feed",
            },
            Planned::Momentum { .. } => "momentum cohorts",
            Planned::Avwap { .. } => "AVWAP pullbacks",
        }
    }

    /// The book's equity the orders were sized on.
    pub fn equity(&self) -> f64 {
        match &self.planned {
            Planned::Trend { decided, .. } => decided.record.equity,
            Planned::Rotation { plan, .. } => plan.equity,
            Planned::Feed { plan, .. } => plan.equity,
            Planned::Momentum { plan, .. } => plan.equity,
            Planned::Avwap { plan, .. } => plan.equity,
        }
    }

    /// Orders (stops left out): count, money bought, money sold.
    pub fn order_totals(&self) -> (usize, f64, f64) {
        let mut t = (0, 0.0, 0.0);
        let mut add = |buy: bool, notional: f64| {
            t.0 += 1;
            if buy {
                t.1 += notional;
            } else {
                t.2 += notional;
            }
        };
        match &self.planned {
            Planned::Trend { decided, .. } => {
                for r in decided.record.rows.iter().filter(|r| r.order_qty != 0.0) {
                    add(r.order_qty > 0.0, r.trade_notional.abs());
                }
            }
            Planned::Rotation { plan, .. } => {
                for o in &plan.orders {
                    add(
                        o.side == systrade_core::contracts::Side::Buy,
                        o.qty * o.ref_price,
                    );
                }
            }
            Planned::Feed { plan, .. } => {
                for o in &plan.orders {
                    add(
                        o.side == systrade_core::contracts::Side::Buy,
                        o.qty * o.ref_price,
                    );
                }
            }
            Planned::Momentum { plan, .. } => {
                for o in &plan.orders {
                    add(o.leg.buys(), o.leg.shares * o.ref_price);
                }
            }
            Planned::Avwap { plan, .. } => {
                for (_, qty, px) in plan.entries() {
                    add(true, qty as f64 * px);
                }
            }
        }
        t
    }
}

/// Which session a plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// This session.
    On(NaiveDate),
    /// Each bucket's next session after this day on its market's calendar (the newsletter
    /// written after a close plans the next open).
    After(NaiveDate),
}

impl Session {
    fn of(self, market: systrade_core::Market) -> NaiveDate {
        match self {
            Session::On(d) => d,
            Session::After(d) => market.calendar().next_trading_day(d),
        }
    }

    pub fn date(self) -> NaiveDate {
        match self {
            Session::On(d) | Session::After(d) => d,
        }
    }
}

/// The portfolio's plan.
pub struct PortfolioPlan {
    pub name: String,
    /// The session planned (`Session::On`), or the day after which each bucket plans.
    pub as_of: NaiveDate,
    pub capital: f64,
    pub buckets: Vec<BucketPlan>,
}

/// The bucket's config text with its capital and limits set.
fn configured_text(config: &Path, keys: &[(String, f64)]) -> anyhow::Result<String> {
    let text = systrade_config::read(config).map_err(bad)?;
    systrade_config::overrides::with_overrides(&text, keys)
        .map_err(|e| bad(format!("{}: {e}", config.display())))
}

fn plan_bucket(
    config: PathBuf,
    b: &Bucket,
    capital: f64,
    session: Session,
    read: &ReadOptions,
) -> anyhow::Result<BucketPlan> {
    let kind = StrategyKind::of(&config).map_err(bad)?;
    let capital_key = match kind {
        StrategyKind::Momentum => "backtest.capital",
        _ => "backtest.cash",
    };
    let mut keys = vec![(capital_key.to_string(), capital)];
    keys.extend(PortfolioConfig::limit_keys(b));
    let text = configured_text(&config, &keys)?;
    let planned = match kind {
        StrategyKind::Trend => {
            let mut l = crate::trend::load(&config, None, read)?;
            l.cfg = systrade_config::trend::TrendConfig::parse(&config, &text).map_err(bad)?;
            l.params = l.cfg.params().map_err(bad)?;
            let d = crate::plan::decide(&l, session.of(l.market), None)?;
            Planned::Trend {
                loaded: Box::new(l),
                decided: Box::new(d),
            }
        }
        StrategyKind::Rotation => {
            let mut l = crate::rotation::load(&config, None, read)?;
            l.cfg =
                systrade_config::rotation::RotationConfig::parse(&config, &text).map_err(bad)?;
            let plan = crate::rotation_plan::plan(&l, session.of(l.market), capital, None)?;
            Planned::Rotation {
                loaded: Box::new(l),
                plan: Box::new(plan),
            }
        }
        StrategyKind::Feed => {
            let l = crate::feed::load(&config, None, read)?;
            let cfg = systrade_config::feed::FeedConfig::parse(&config, &text).map_err(bad)?;
            let plan = crate::feed::plan(&l, &cfg, session.of(l.market), capital)?;
            Planned::Feed {
                loaded: Box::new(l),
                plan: Box::new(plan),
            }
        }
        StrategyKind::Momentum => {
            let mut l = crate::momentum::load(
                &config,
                None,
                &crate::momentum::MomentumOverrides::default(),
                read,
                (None, None),
            )?;
            l.cfg =
                systrade_config::momentum::MomentumConfig::parse(&config, &text).map_err(bad)?;
            let plan = crate::momentum_plan::plan_session(&l, session.of(l.market), capital)?;
            Planned::Momentum {
                loaded: Box::new(l),
                plan: Box::new(plan),
            }
        }
        StrategyKind::Avwap => {
            let mut l = crate::avwap::load(&config, None, read)?;
            l.cfg = systrade_config::avwap::AvwapConfig::parse(&config, &text).map_err(bad)?;
            l.params = l.cfg.params();
            let plan =
                crate::avwap::plan_session(&l, session.of(systrade_core::Market::Us), capital);
            Planned::Avwap {
                loaded: Box::new(l),
                plan: Box::new(plan),
            }
        }
        other => {
            return Err(bad(format!(
                "{}: a {} config is not a portfolio bucket (trend, rotation, feed, momentum and AVWAP buckets)",
                config.display(),
                other.as_str(),
            )));
        }
    };
    Ok(BucketPlan {
        bucket: b.clone(),
        config,
        capital,
        planned,
    })
}

/// The plan of the config at `path` for the session `as_of`: a portfolio's every bucket, or
/// a trend, rotation, feed, momentum or AVWAP config alone (one bucket named after the file, with its own
/// `backtest.cash`).
pub fn plan(path: &Path, session: Session, read: &ReadOptions) -> anyhow::Result<PortfolioPlan> {
    let as_of = session.date();
    let kind = StrategyKind::of(path).map_err(bad)?;
    if kind != StrategyKind::Portfolio {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = systrade_config::read(path).map_err(bad)?;
        let capital = match kind {
            StrategyKind::Trend => {
                systrade_config::trend::TrendConfig::parse(path, &text)
                    .map_err(bad)?
                    .backtest
                    .cash
            }
            StrategyKind::Rotation => {
                systrade_config::rotation::RotationConfig::parse(path, &text)
                    .map_err(bad)?
                    .backtest
                    .cash
            }
            StrategyKind::Feed => {
                systrade_config::feed::FeedConfig::parse(path, &text)
                    .map_err(bad)?
                    .backtest
                    .cash
            }
            StrategyKind::Avwap => {
                systrade_config::avwap::AvwapConfig::parse(path, &text)
                    .map_err(bad)?
                    .backtest
                    .cash
            }
            StrategyKind::Momentum => systrade_config::momentum::MomentumConfig::parse(path, &text)
                .map_err(bad)?
                .backtest
                .capital
                .ok_or_else(|| {
                    bad(format!(
                        "{}: backtest.capital: not set; a momentum book's newsletter needs the money its NAV stands for (or make it a bucket of a portfolio)",
                        path.display()
                    ))
                })?,
            other => {
                return Err(bad(format!(
                    "{}: a {} config is planned with `systrade plan --config {}`; the newsletter plans trend, rotation, feed, momentum, AVWAP and portfolio configs",
                    path.display(),
                    other.as_str(),
                    path.display()
                )));
            }
        };
        let bucket = Bucket {
            name: name.clone(),
            label: String::new(),
            config: path.to_path_buf(),
            capital,
            max_positions: None,
            max_drawdown: None,
            on_breach: systrade_config::portfolio::OnBreach::Throttle,
            throttle_scale: 1.0,
            account: String::new(),
        };
        let one = plan_bucket(path.to_path_buf(), &bucket, capital, session, read)?;
        return Ok(PortfolioPlan {
            name,
            as_of,
            capital,
            buckets: vec![one],
        });
    }
    let cfg = PortfolioConfig::load(path).map_err(bad)?;
    let mut buckets = Vec::with_capacity(cfg.buckets.len());
    for b in &cfg.buckets {
        buckets.push(
            plan_bucket(cfg.bucket_config(path, b), b, cfg.amount(b), session, read)
                .map_err(|e| bad(format!("bucket {}: {e:#}", b.name)))?,
        );
    }
    Ok(PortfolioPlan {
        name: crate::buckets::portfolio_name(&cfg, path),
        as_of,
        capital: cfg.capital,
        buckets,
    })
}

#[derive(Serialize)]
struct BucketLine<'a> {
    name: &'a str,
    label: &'a str,
    kind: &'a str,
    config: String,
    capital: String,
    equity: String,
    orders: usize,
    buy_notional: String,
    sell_notional: String,
}

/// Writes each bucket's plan into `out/<bucket>/` and `portfolio_plan_D.json` beside them.
pub fn write(p: &PortfolioPlan, out: &Path) -> anyhow::Result<()> {
    let mut lines = Vec::new();
    for b in &p.buckets {
        let dir = out.join(&b.bucket.name);
        match &b.planned {
            Planned::Trend { decided, .. } => {
                let d = decided.as_ref();
                let summary = crate::plan::summary(&d.record, d.book, &d.limited);
                crate::plan::write(&dir, &d.record, &summary)?;
            }
            Planned::Rotation { plan, .. } => {
                crate::rotation_plan::write(&dir, &b.bucket.name, plan)?;
            }
            Planned::Feed { plan, .. } => {
                crate::feed::write_plan(&dir, &b.bucket.name, plan)?;
            }
            Planned::Momentum { plan, .. } => {
                crate::momentum_plan::write_session_plan(plan, &dir)?;
            }
            Planned::Avwap { plan, .. } => {
                crate::avwap::write_session_plan(plan, &dir)?;
            }
        }
        let (n, buy, sell) = b.order_totals();
        lines.push(BucketLine {
            name: &b.bucket.name,
            label: &b.bucket.label,
            kind: b.kind(),
            config: b.config.display().to_string(),
            capital: format!("{:.2}", b.capital),
            equity: format!("{:.2}", b.equity()),
            orders: n,
            buy_notional: format!("{buy:.2}"),
            sell_notional: format!("{sell:.2}"),
        });
    }
    let summary = serde_json::json!({
        "portfolio": p.name,
        "as_of": p.as_of,
        "capital": num(p.capital),
        "buckets": lines,
    });
    write_json_atomic(
        &out.join(format!("portfolio_plan_{}.json", p.as_of)),
        &summary,
    )
    .with_context(|| format!("writing {}", out.display()))
}
