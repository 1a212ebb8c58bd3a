//! The newsletter of a plan: "what to buy tomorrow", one section per bucket of a portfolio
//! (or the one config) — the orders planned for the next session with shares, money and why,
//! what to watch and what to avoid, the book's positions with stops and PnL at the last
//! close (spec/execution-and-buckets.md §5). Built from `systrade_systems::bucket_plan`.

use serde_json::Value;
use systrade_core::contracts::Side;
use systrade_report::format::{money, price};
use systrade_report::newsletter::{
    AvoidLine, Fact, Newsletter, PositionLine, Section, TradeLine, WatchLine,
};
use systrade_rotation::Status;
use systrade_systems::bucket_plan::{BucketPlan, Planned, PortfolioPlan};
use systrade_systems::plan::Decided;
use systrade_systems::rotation_plan::{RotationPlan, When, qty_text, status_words};

use crate::newsletter::{fact, pct, trend_hold_words, trend_words};

/// A planned order as the newsletter shows it: shares and money at the last close.
fn order_line(
    side: Side,
    symbol: &systrade_core::Symbol,
    qty: f64,
    ref_price: f64,
    status: String,
    why: String,
) -> TradeLine {
    TradeLine {
        action: match side {
            Side::Buy => "BUY".into(),
            Side::Sell => "SELL".into(),
        },
        symbol: symbol.to_string(),
        shares: qty_text(qty),
        price: price(ref_price),
        notional: money(qty * ref_price),
        status,
        why,
    }
}

/// A position marked at `last`, with its average cost and stop when known.
pub(crate) fn position(
    symbol: &str,
    qty: f64,
    avg: Option<f64>,
    last: f64,
    stop: Option<f64>,
) -> PositionLine {
    let pnl = avg.map(|a| (last - a) * qty);
    PositionLine {
        symbol: symbol.to_string(),
        shares: qty_text(qty),
        avg_price: avg.map(price).unwrap_or_else(|| "n/a".into()),
        last: price(last),
        value: money(qty * last),
        stop: stop.map(price).unwrap_or_else(|| "none".into()),
        stop_distance: stop
            .filter(|_| last > 0.0)
            .map(|s| pct((last - s).abs() / last))
            .unwrap_or_else(|| "n/a".into()),
        pnl: pnl.map(money).unwrap_or_else(|| "n/a".into()),
        pnl_pct: match (pnl, avg) {
            (Some(p), Some(a)) if a * qty != 0.0 => pct(p / (a * qty).abs()),
            _ => "n/a".into(),
        },
        losing: pnl.is_some_and(|p| p < 0.0),
    }
}

fn header(b: &BucketPlan) -> (String, Vec<Fact>) {
    let name = if b.bucket.label.is_empty() {
        b.bucket.name.clone()
    } else {
        format!("{} — {}", b.bucket.name, b.bucket.label)
    };
    let mut facts = vec![
        fact("capital", money(b.capital)),
        fact("equity", money(b.equity())),
    ];
    if let Some(n) = b.bucket.max_positions {
        facts.push(fact("max positions", n.to_string()));
    }
    if let Some(d) = b.bucket.max_drawdown {
        facts.push(fact(
            "drawdown target",
            format!("{} ({} beyond it)", pct(d), b.bucket.on_breach.as_str()),
        ));
    }
    (name, facts)
}

fn trend_section(b: &BucketPlan, d: &Decided) -> Section {
    let r = &d.record;
    let (name, mut facts) = header(b);
    facts.push(fact("cash", money(r.cash)));
    facts.push(fact("target gross", pct(r.sizing.gross)));
    facts.push(fact("decided on closes through", r.decided.to_string()));
    let value = |row| serde_json::to_value(row).unwrap_or(Value::Null);
    let trades = r
        .rows
        .iter()
        .filter(|x| x.order_qty != 0.0)
        .map(|x| {
            let px = x.signal.last_close.unwrap_or(0.0);
            let purpose = systrade_pipeline::trend::order_purpose(x);
            let mut why = vec![purpose.as_str().replace('_', " ")];
            why.extend(trend_words(&value(x)));
            if let Some(s) = x.stop {
                why.push(format!("protective stop {}", price(s)));
            }
            TradeLine {
                action: if x.order_qty > 0.0 { "BUY" } else { "SELL" }.into(),
                symbol: x.ticker.to_string(),
                shares: qty_text(x.order_qty.abs()),
                price: price(px),
                notional: money(x.order_qty.abs() * px),
                status: format!("planned for the open of {}", r.as_of),
                why: why.join("; "),
            }
        })
        .collect();
    let watch = r
        .rows
        .iter()
        .filter(|x| x.qty == 0.0 && x.order_qty == 0.0)
        .filter_map(|x| {
            let v = value(x);
            x.signal.final_signal.filter(|s| *s != 0.0)?;
            let hold = trend_hold_words(&v)?;
            let mut why = trend_words(&v);
            why.push(format!("waits: {hold}"));
            Some(WatchLine {
                symbol: x.ticker.to_string(),
                why: why.join("; "),
            })
        })
        .collect();
    let avoid = d
        .limited
        .iter()
        .map(|(s, why)| {
            let row = r.rows.iter().find(|x| &x.ticker == s);
            AvoidLine {
                symbol: s.to_string(),
                shares: row
                    .map(|x| qty_text((x.qty_after - x.qty).abs()))
                    .unwrap_or_default(),
                why: format!(
                    "held back by the bucket's limits ({})",
                    why.replace('_', " ")
                ),
            }
        })
        .collect();
    let positions = r
        .rows
        .iter()
        .filter(|x| x.qty != 0.0)
        .map(|x| {
            position(
                x.ticker.as_str(),
                x.qty,
                d.avg_cost.get(&x.ticker).copied(),
                x.signal.last_close.unwrap_or(0.0),
                x.stop.or(x.stop_before),
            )
        })
        .collect();
    let mut warnings = Vec::new();
    let no_data: Vec<&str> = r
        .rows
        .iter()
        .filter(|x| !x.data_ok)
        .map(|x| x.ticker.as_str())
        .collect();
    if !no_data.is_empty() {
        warnings.push(format!(
            "no trustworthy bar before {} for {}: no new risk there",
            r.as_of,
            no_data.join(", ")
        ));
    }
    Section {
        name,
        kind: b.kind().into(),
        as_of: r.as_of.to_string(),
        facts,
        trades,
        watch,
        avoid,
        positions,
        fills: Vec::new(),
        fills_period: String::new(),
        warnings,
    }
}

/// The names that would have been bought but for a rule, in words.
fn rotation_avoid(p: &RotationPlan) -> Vec<AvoidLine> {
    let Some(m) = &p.month else {
        return Vec::new();
    };
    // The weakest momentum chosen: a name above it kept out by a rule is worth naming.
    let floor = m
        .rows
        .iter()
        .filter(|r| r.status == Status::Selected)
        .filter_map(|r| r.momentum)
        .fold(f64::INFINITY, f64::min);
    m.rows
        .iter()
        .filter(|r| match r.status {
            Status::Correlated { .. } | Status::Limited { .. } | Status::NewsRisk { .. } => true,
            Status::BelowSma => r.momentum.is_some_and(|x| x > floor),
            _ => false,
        })
        .map(|r| AvoidLine {
            symbol: r.symbol.to_string(),
            shares: "0".into(),
            why: format!(
                "{}{}",
                status_words(&r.status),
                r.momentum
                    .map(|x| format!(" (12-1 momentum {:+.1}%)", x * 100.0))
                    .unwrap_or_default()
            ),
        })
        .collect()
}

fn rotation_section(b: &BucketPlan, p: &RotationPlan) -> Section {
    let (name, mut facts) = header(b);
    facts.push(fact("cash", money(p.cash)));
    facts.push(fact("decided on closes through", p.decided.to_string()));
    facts.push(fact("rebalance", p.when.words(p.as_of)));
    let status = match &p.when {
        When::AtOpen { .. } => format!("planned for the open of {}", p.as_of),
        When::AtClose => format!("planned for the close of {} (provisional)", p.as_of),
        When::CatchUp { .. } => format!("planned for the open of {} (catch-up)", p.as_of),
        When::Hold { .. } | When::Stale { .. } => String::new(),
    };
    let trades = p
        .orders
        .iter()
        .map(|o| {
            let why = format!("{}: {}", o.action, o.why);
            order_line(o.side, &o.symbol, o.qty, o.ref_price, status.clone(), why)
        })
        .collect();
    // Watch: the next names in line, ranked just below the chosen ones.
    let watch = p
        .month
        .iter()
        .flat_map(|m| &m.rows)
        .filter(|r| r.status == Status::NotTopN)
        .filter(|r| r.rank.is_some_and(|k| k <= b_top(p) + 2))
        .map(|r| WatchLine {
            symbol: r.symbol.to_string(),
            why: format!(
                "momentum rank {}{}: next in line",
                r.rank.unwrap_or(0),
                r.momentum
                    .map(|x| format!(", 12-1 momentum {:+.1}%", x * 100.0))
                    .unwrap_or_default()
            ),
        })
        .collect();
    let positions = p
        .held
        .iter()
        .map(|h| position(h.symbol.as_str(), h.qty, h.avg_price, h.last, None))
        .collect();
    let mut warnings = Vec::new();
    if let Some(m) = &p.month
        && !m.regime.risk_on()
    {
        warnings.push(match &m.regime {
            systrade_rotation::Regime::Off { close, sma } => format!(
                "risk-off: the regime symbol closed at {} at or below its average {}: no new positions",
                price(*close),
                price(*sma)
            ),
            _ => "risk-off: the regime symbol has no price or too little history (fail closed)"
                .into(),
        });
    }
    if let Some(m) = &p.month
        && m.risk_state != "normal"
    {
        warnings.push(format!(
            "the bucket is {} below its peak: new risk {}",
            pct(m.drawdown),
            m.risk_state
        ));
    }
    if let When::Stale { .. } = p.when {
        warnings.push(p.when.words(p.as_of));
    }
    warnings.extend(p.unpriced.iter().cloned());
    Section {
        name,
        kind: b.kind().into(),
        as_of: p.as_of.to_string(),
        facts,
        trades,
        watch,
        avoid: rotation_avoid(p),
        positions,
        fills: Vec::new(),
        fills_period: String::new(),
        warnings,
    }
}

/// A feed bucket: the session's exits and entries (with their stops), the alerts it skipped
/// and why, the book's positions.
fn feed_section(b: &BucketPlan, p: &systrade_systems::feed::FeedPlan) -> Section {
    let (name, mut facts) = header(b);
    facts.push(fact("cash", money(p.cash)));
    facts.push(fact("alerts for the session", p.verdicts.len().to_string()));
    let trades = p
        .orders
        .iter()
        .map(|o| {
            let why = match o.stop {
                Some(s) => format!("{}: {}; protective stop {}", o.purpose, o.why, price(s)),
                None => format!("{}: {}", o.purpose, o.why),
            };
            let status = format!("planned for the open of {}", p.as_of);
            order_line(o.side, &o.symbol, o.qty, o.ref_price, status, why)
        })
        .collect();
    let avoid = p
        .verdicts
        .iter()
        .filter(|v| v.status != "entered")
        .map(|v| AvoidLine {
            symbol: v.symbol.to_string(),
            shares: "0".into(),
            why: if v.detail.is_empty() {
                v.status.replace('_', " ")
            } else {
                format!("{}: {}", v.status.replace('_', " "), v.detail)
            },
        })
        .collect();
    let positions = p
        .held
        .iter()
        .map(|h| position(h.symbol.as_str(), h.qty, h.avg_price, h.last, None))
        .collect();
    Section {
        name,
        kind: b.kind().into(),
        as_of: p.as_of.to_string(),
        facts,
        trades,
        avoid,
        positions,
        warnings: p.stale.iter().cloned().collect(),
        ..Section::default()
    }
}

/// A momentum bucket: the formation the session trades (its orders in lots, with the weight
/// they move and the name's momentum percentile), or when the next formation is; the
/// replayed book's positions.
fn momentum_section(b: &BucketPlan, p: &systrade_systems::momentum_plan::SessionPlan) -> Section {
    let (name, mut facts) = header(b);
    facts.push(fact("decided on closes through", p.close.to_string()));
    facts.push(fact("volatility scale", format!("{:.3}", p.scale)));
    facts.push(fact(
        "formation",
        match (&p.month, p.next_formation) {
            (Some(m), _) => format!(
                "the {} formation (close of {}) trades at the open of {}",
                m.month(),
                m.formation.date,
                p.as_of
            ),
            (None, Some(next)) => format!(
                "none this session: the books in force are held; the next formation is at the close of {next}"
            ),
            (None, None) => "none (see the warnings)".into(),
        },
    ));
    let status = format!("planned for the open of {}", p.as_of);
    let trades = p
        .orders
        .iter()
        .map(|o| {
            let why = format!(
                "{}: weight {:+.2}% → {:+.2}%{}",
                momentum_leg_words(&o.leg),
                o.w_from * 100.0,
                o.w_to * 100.0,
                o.rank
                    .map(|r| format!(", momentum percentile {:.0}", r * 100.0))
                    .unwrap_or_else(|| ", not ranked this month".into())
            );
            order_line(
                o.side(),
                &o.symbol,
                o.leg.shares,
                o.ref_price,
                status.clone(),
                why,
            )
        })
        .collect();
    let positions = p
        .held
        .iter()
        .map(|h| position(h.symbol.as_str(), h.shares, None, h.last, None))
        .collect();
    Section {
        name,
        kind: b.kind().into(),
        as_of: p.as_of.to_string(),
        facts,
        trades,
        positions,
        warnings: p.warnings.clone(),
        ..Section::default()
    }
}

/// What a momentum order's leg does, in words.
fn momentum_leg_words(leg: &systrade_systems::momentum::Leg) -> &'static str {
    use systrade_pipeline::momentum::SideKind::{Long, Short};
    use systrade_systems::momentum::LegAction::{Buy, Close, Open, Sell};
    match (leg.action, leg.side) {
        (Open, Long) => "open a long",
        (Open, Short) => "open a short",
        (Close, Long) => "close the long",
        (Close, Short) => "cover the short",
        (Buy, Long) => "add to the long",
        (Sell, Long) => "reduce the long",
        (Buy, Short) => "cover part of the short",
        (Sell, Short) => "add to the short",
    }
}

/// An AVWAP bucket: the scan's entries at the session's open with their stops, and the
/// candidates it did not enter and why.
fn avwap_section(b: &BucketPlan, p: &systrade_systems::avwap::SessionPlan) -> Section {
    let (name, mut facts) = header(b);
    if let Some(scan) = &p.scan {
        facts.push(fact("scan of", scan.data_date.to_string()));
    }
    facts.push(fact("candidates", p.candidates.len().to_string()));
    let status = format!("planned for the open of {}", p.as_of);
    let trades = p
        .entries()
        .map(|(c, qty, px)| {
            let why = format!(
                "pullback to the anchored VWAP{}{}",
                c.row
                    .score
                    .map(|x| format!(", score {x:.2} ATR above it"))
                    .unwrap_or_default(),
                match (c.stop, c.basis) {
                    (Some(s), Some(basis)) =>
                        format!("; protective stop {} ({})", price(s), basis.as_str()),
                    (Some(s), None) => format!("; protective stop {}", price(s)),
                    _ => String::new(),
                }
            );
            order_line(
                Side::Buy,
                &c.row.symbol,
                qty as f64,
                px,
                status.clone(),
                why,
            )
        })
        .collect();
    let avoid = p
        .candidates
        .iter()
        .filter(|c| c.outcome != "entered")
        .map(|c| AvoidLine {
            symbol: c.row.symbol.to_string(),
            shares: "0".into(),
            why: c.outcome.replace('_', " "),
        })
        .collect();
    Section {
        name,
        kind: b.kind().into(),
        as_of: p.as_of.to_string(),
        facts,
        trades,
        avoid,
        warnings: p.warnings.clone(),
        ..Section::default()
    }
}

/// How many names the month chose (its target count, the cash holding aside).
fn b_top(p: &RotationPlan) -> usize {
    p.month
        .as_ref()
        .map(|m| {
            m.rows
                .iter()
                .filter(|r| matches!(r.status, Status::Selected | Status::Limited { .. }))
                .count()
        })
        .unwrap_or(0)
}

/// The newsletter of a portfolio's (or one config's) plan for the session `p.as_of`.
pub fn build(p: &PortfolioPlan) -> Newsletter {
    let sections = p
        .buckets
        .iter()
        .map(|b| match &b.planned {
            Planned::Trend { decided, .. } => trend_section(b, decided),
            Planned::Rotation { plan, .. } => rotation_section(b, plan),
            Planned::Feed { plan, .. } => feed_section(b, plan),
            Planned::Momentum { plan, .. } => momentum_section(b, plan),
            Planned::Avwap { plan, .. } => avwap_section(b, plan),
        })
        .collect();
    Newsletter {
        date: p.as_of.to_string(),
        sections,
        warnings: Vec::new(),
    }
}
