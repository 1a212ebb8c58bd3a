//! The newsletter's content: the day's email built from the ledger and the daily runs' artifacts
//! (spec/execution-and-buckets.md §5) — a section per book: the daily-run strategies, the
//! trade-sheet books and the manual trades.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;
use serde_json::Value;
use systrade_backtest::f;
use systrade_broker::OrderStatus;
use systrade_core::Symbol;
use systrade_core::contracts::Side;
use systrade_core::money::decimal_text as qty;
use systrade_report::newsletter::{
    AvoidLine, Fact, FillLine, Newsletter, PositionLine, Section, TradeLine, WatchLine,
};
use systrade_store::{Approval, Purpose};
use systrade_store::{BookKind, Ledger, LedgerOrder};

use systrade_report::format::{money, price};

use crate::artifacts::{DailySummary, PortfolioSnapshot, SnapshotPosition, read};
use crate::bad;

pub(crate) fn pct(x: f64) -> String {
    systrade_report::tearsheet::pct(x)
}

/// What an order's purpose means to a reader.
fn purpose_words(p: Purpose) -> &'static str {
    match p {
        Purpose::Entry => "new position",
        Purpose::Add => "add to the position",
        Purpose::Reduce => "trim the position",
        Purpose::Exit => "close the position",
        Purpose::Dust => "clear a residual below the dust threshold",
        Purpose::Stop => "protective stop",
        Purpose::Sheet => "from the trade sheet",
        Purpose::Adopted => "placed by a run that was killed, adopted from the broker",
    }
}

/// Where an order stands, in words.
fn status_words(o: &LedgerOrder) -> String {
    match (o.status, o.approval) {
        (OrderStatus::Staged, Some(Approval::Pending)) => {
            "waits for your approval (systrade approve)".into()
        }
        (OrderStatus::Staged, Some(Approval::Manual)) => "manual: place it yourself".into(),
        (OrderStatus::Filled, _) => match o.avg_price {
            Some(p) => format!("filled at {}", price(f(p))),
            None => "filled".into(),
        },
        (OrderStatus::PartiallyFilled, _) => format!("partly filled ({})", qty(o.filled_qty)),
        (s, _) => s.as_str().replace('_', " "),
    }
}

/// A trend record's signal in words: its strength and what drives it.
pub(crate) fn trend_words(r: &Value) -> Vec<String> {
    let g = |k: &str| r.get(k).and_then(Value::as_f64);
    let mut out = Vec::new();
    if let Some(s) = g("final_signal") {
        let strength = match s.abs() {
            x if x >= 0.75 => "strong",
            x if x >= 0.4 => "moderate",
            x if x > 0.0 => "weak",
            _ => "no",
        };
        let dir = if s < 0.0 { "down" } else { "up" };
        let mut t = if s == 0.0 {
            "no trend signal".to_string()
        } else {
            format!("{strength} {dir}trend (signal {s:+.2}")
        };
        if s != 0.0 {
            if let (Some(ma), Some(dc)) = (g("ma_signal"), g("dc_signal")) {
                t.push_str(&format!(": moving averages {ma:+.2}, breakout {dc:+.2}"));
            }
            t.push(')');
        }
        out.push(t);
    }
    if let Some(r2) = g("r2") {
        out.push(format!("trend fit R² {r2:.2}"));
    }
    if let Some(sig) = g("sigma") {
        out.push(format!("volatility {:.0}%/yr", sig * 100.0));
    }
    if let Some(sleeve) = r.get("sleeve").and_then(Value::as_str) {
        out.push(format!("sleeve {sleeve}"));
    }
    out
}

/// Why a trend record did not trade, in words (`None` when it did or had nothing to do).
pub(crate) fn trend_hold_words(r: &Value) -> Option<String> {
    Some(match r.get("reason")?.as_str()? {
        "below_threshold" => "the change to target is below the trade threshold".into(),
        "cost_gate" => "the expected edge does not cover the trading costs yet".into(),
        "cooldown" => format!(
            "cooling down after a stop-out ({} sessions left)",
            r.get("cooldown_left").and_then(Value::as_u64).unwrap_or(0)
        ),
        "stop_gate" => "no protective stop below the price yet".into(),
        "no_data" => "decision data is missing or stale".into(),
        _ => return None,
    })
}

/// A momentum record's reason in words.
fn momentum_words(r: &Value) -> Vec<String> {
    let w = r.get("weight").and_then(Value::as_f64).unwrap_or(0.0);
    let scale = r.get("scale").and_then(Value::as_f64).unwrap_or(1.0);
    // The record's own `reason` is its action (entry, add…); what set it off is `trigger`.
    let why = match r.get("trigger").and_then(Value::as_str) {
        Some("formation") => "monthly formation of the cohorts",
        Some("catch_up") => "catching up with the book in force",
        Some("vt_rescale") => "volatility-target rescale",
        _ => "book rebalance",
    };
    vec![
        why.to_string(),
        format!("target weight {} × vol-target scale {scale:.2}", pct(w)),
    ]
}

/// A rotation record's reason in words.
fn rotation_words(r: &Value) -> Vec<String> {
    let mut out = vec![match r.get("trigger").and_then(Value::as_str) {
        Some("catch_up") => "catching up with the month in force".to_string(),
        _ => "monthly rebalance".to_string(),
    }];
    if let Some(w) = r.get("why").and_then(Value::as_str) {
        out.push(w.to_string());
    }
    out
}

/// The run's desired-trades records by symbol (the last record of a symbol wins).
fn desired(folder: &Path) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string(folder.join("logs/desired_trades.jsonl")) else {
        return out;
    };
    for line in text.lines() {
        if let Ok(v) = serde_json::from_str::<Value>(line)
            && let Some(s) = v.get("symbol").and_then(Value::as_str)
        {
            out.insert(s.to_string(), v);
        }
    }
    out
}

pub(crate) fn fact(label: &str, value: String) -> Fact {
    Fact {
        label: label.into(),
        value,
    }
}

fn fill_lines(
    ledger: &Ledger,
    book: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<Vec<FillLine>> {
    Ok(ledger
        .fills(Some(book))?
        .into_iter()
        .filter(|x| x.date >= from && x.date <= to)
        .map(|x| FillLine {
            date: x.date.to_string(),
            symbol: x.symbol.to_string(),
            side: match x.side {
                Side::Buy => "BUY".into(),
                Side::Sell => "SELL".into(),
            },
            shares: qty(x.qty),
            price: price(f(x.price)),
            fee: money(f(x.fee)),
            purpose: purpose_words(x.purpose).into(),
        })
        .collect())
}

fn trade_line(o: &LedgerOrder, why: String) -> TradeLine {
    let px = o.decision_price.map(f);
    TradeLine {
        action: match o.side {
            Side::Buy => "BUY".into(),
            Side::Sell => "SELL".into(),
        },
        symbol: o.symbol.to_string(),
        shares: qty(o.qty),
        price: px.map(price).unwrap_or_else(|| "market".into()),
        notional: px
            .map(|p| money(p * f(o.qty)))
            .unwrap_or_else(|| "n/a".into()),
        status: status_words(o),
        why,
    }
}

/// A held position as the newsletter shows it; a quantity or price that is not a number is
/// an error naming the snapshot, never a silent 0.
fn position_line(p: &SnapshotPosition, folder: &Path) -> anyhow::Result<PositionLine> {
    let num = |what: &str, t: &str| -> anyhow::Result<f64> {
        t.parse().map_err(|_| {
            anyhow::anyhow!(
                "{}: portfolio snapshot: {} {what} {t:?} is not a number",
                folder.display(),
                p.symbol
            )
        })
    };
    let q = num("qty", &p.qty)?;
    let avg = num("avg_price", &p.avg_price)?;
    let last = p.last_close;
    let stop = p.stop.as_deref().map(|s| num("stop", s)).transpose()?;
    let pnl = (last - avg) * q;
    Ok(PositionLine {
        symbol: p.symbol.to_string(),
        shares: p.qty.clone(),
        avg_price: price(avg),
        last: price(last),
        value: money(q * last),
        stop: stop.map(price).unwrap_or_else(|| "none".into()),
        stop_distance: stop
            .filter(|_| last > 0.0)
            .map(|s| pct((last - s).abs() / last))
            .unwrap_or_else(|| "n/a".into()),
        pnl: money(pnl),
        pnl_pct: if avg * q != 0.0 {
            pct(pnl / (avg * q).abs())
        } else {
            "n/a".into()
        },
        losing: pnl < 0.0,
    })
}

/// A daily-run book's section for `day` from its run folder and the ledger.
fn system_section(
    home: &Path,
    ledger: &Ledger,
    book: &str,
    day: NaiveDate,
    previous: Option<NaiveDate>,
) -> anyhow::Result<Section> {
    let folder = home.join(format!("runs/{book}/{day}"));
    let summary: DailySummary = read(&folder.join(format!("daily_summary_{day}.json")))?;
    let snapshot: PortfolioSnapshot = read(&folder.join(format!("portfolio_snapshot_{day}.json")))?;
    let records = desired(&folder);
    let is_rotation = summary.targets.get("when").is_some();
    let is_momentum = !is_rotation && records.values().any(|r| r.get("weight").is_some());
    let words = |sym: &str| -> Vec<String> {
        records
            .get(sym)
            .map(|r| {
                if is_rotation {
                    rotation_words(r)
                } else if is_momentum {
                    momentum_words(r)
                } else {
                    trend_words(r)
                }
            })
            .unwrap_or_default()
    };
    let orders = ledger.orders_for_day(book, day)?;
    let trades: Vec<TradeLine> = orders
        .iter()
        .filter(|o| o.purpose != Purpose::Stop)
        .map(|o| {
            let mut why = vec![purpose_words(o.purpose).to_string()];
            why.extend(words(o.symbol.as_str()));
            trade_line(o, why.join("; "))
        })
        .collect();
    let held = &snapshot.positions;
    let is_held = |s: &str| held.iter().any(|p| p.symbol.as_str() == s);
    let traded = |s: &str| orders.iter().any(|o| o.symbol.as_str() == s);
    let avoid: Vec<AvoidLine> = summary
        .decisions
        .blocked
        .iter()
        .map(|b| AvoidLine {
            symbol: b.symbol.to_string(),
            shares: b.qty.clone(),
            why: b.why.join("; "),
        })
        .collect();
    let blocked = |s: &str| avoid.iter().any(|a| a.symbol == s);
    // Watch: a live signal in a name not held and not traded today, with why it waits.
    let watch: Vec<WatchLine> = records
        .iter()
        .filter(|(s, _)| !is_held(s) && !traded(s) && !blocked(s))
        .filter_map(|(s, r)| {
            let signal = r.get("final_signal").and_then(Value::as_f64)?;
            let hold = trend_hold_words(r)?;
            (signal != 0.0).then(|| {
                let mut why = trend_words(r);
                why.push(format!("waits: {hold}"));
                WatchLine {
                    symbol: s.clone(),
                    why: why.join("; "),
                }
            })
        })
        .collect();
    let positions = held
        .iter()
        .map(|p| position_line(p, &folder))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let from = previous.unwrap_or(day);
    let fills = fill_lines(ledger, book, from, day)?;
    let mut warnings = Vec::new();
    if summary.dry_run {
        warnings.push("this was a dry run: nothing was sent to the broker".into());
    }
    if summary.decisions.kill_switch {
        warnings.push("the kill switch is set: no new entries or adds".into());
    }
    if !summary.no_data.is_empty() {
        warnings.push(format!(
            "data missing or stale for {}: no new risk there today",
            Symbol::join(&summary.no_data)
        ));
    }
    for m in &summary.reconciliation.mismatches {
        warnings.push(format!(
            "reconciliation: {} is {} (broker {}, ledger {})",
            m.symbol,
            m.status.as_str().replace('_', " "),
            m.broker_qty,
            m.ledger_qty,
        ));
    }
    if summary.reconciliation.one_stop_per_position == Some(false) {
        warnings.push("a position is not protected by exactly one stop: check the stops".into());
    }
    if let Some(n) = summary.logs.get("errors").filter(|n| **n > 0) {
        warnings.push(format!(
            "{n} error records in runs/{book}/{day}/logs/errors.jsonl"
        ));
    }
    let eq = summary.equity;
    Ok(Section {
        name: book.to_string(),
        kind: if is_rotation {
            "monthly rotation".into()
        } else if is_momentum {
            "momentum cohorts".into()
        } else {
            "trend following".into()
        },
        as_of: day.to_string(),
        facts: vec![
            fact("equity", money(eq)),
            fact("cash", money(summary.cash)),
            fact("gross exposure", pct(summary.gross_exposure)),
            fact("positions", summary.positions.to_string()),
            fact(
                "decided on closes through",
                summary.decided_on_bars_through.to_string(),
            ),
            fact("execution", summary.orders.execution_level.clone()),
        ]
        .into_iter()
        .chain(
            summary
                .targets
                .get("words")
                .and_then(Value::as_str)
                .map(|w| fact("rebalance", w.to_string())),
        )
        .collect(),
        trades,
        watch,
        avoid,
        positions,
        fills,
        fills_period: if from == day {
            day.to_string()
        } else {
            format!("{from} to {day}")
        },
        warnings,
    })
}

/// Last closes (with their dates) of the symbols manual trades and sheet books hold, from
/// `--data`; empty without it.
pub type Marks = BTreeMap<Symbol, (NaiveDate, f64)>;

/// A trade-sheet book: the orders of its next session and what waits for approval.
fn sheet_section(
    ledger: &Ledger,
    book: &str,
    day: NaiveDate,
    marks: &Marks,
) -> anyhow::Result<Option<Section>> {
    let orders: Vec<LedgerOrder> = ledger
        .orders(book)?
        .into_iter()
        .filter(|o| o.market_day >= day || o.approval == Some(Approval::Pending))
        .filter(|o| o.purpose != Purpose::Stop)
        .collect();
    let fills = fill_lines(ledger, book, day, day)?;
    let positions = ledger.positions(book)?;
    let stops = ledger.stops(book)?;
    // Average cost from the book's fills through the day (no market data: no mark, no PnL).
    let mut cost: BTreeMap<String, systrade_portfolio::positions::Position> = BTreeMap::new();
    for x in ledger.fills(Some(book))?.iter().filter(|x| x.date <= day) {
        let sign = match x.side {
            Side::Buy => 1.0,
            Side::Sell => -1.0,
        };
        cost.entry(x.symbol.to_string()).or_default().apply(
            &systrade_portfolio::positions::Execution {
                date: x.date,
                qty: sign * f(x.qty),
                price: f(x.price),
                fee: f(x.fee),
            },
        );
    }
    if orders.is_empty() && fills.is_empty() && positions.is_empty() {
        return Ok(None);
    }
    let pending = orders
        .iter()
        .filter(|o| o.approval == Some(Approval::Pending))
        .count();
    let mut warnings = Vec::new();
    if pending > 0 {
        warnings.push(format!(
            "{pending} orders wait for approval: `systrade approve --config <book.toml> --all` or by id"
        ));
    }
    Ok(Some(Section {
        name: book.to_string(),
        kind: "trade sheet".into(),
        as_of: day.to_string(),
        facts: vec![fact("positions", positions.len().to_string())],
        trades: orders
            .iter()
            .map(|o| {
                trade_line(
                    o,
                    format!("from the trade sheet for the session of {}", o.market_day),
                )
            })
            .collect(),
        watch: Vec::new(),
        avoid: Vec::new(),
        positions: positions
            .iter()
            .map(|(s, q)| match marks.get(s) {
                Some((_, last)) => crate::newsletter_plan::position(
                    s.as_str(),
                    f(*q),
                    cost.get(s.as_str()).filter(|p| p.qty != 0.0).map(|p| p.avg),
                    *last,
                    stops.get(s).map(|x| f(x.level)),
                ),
                None => PositionLine {
                    symbol: s.to_string(),
                    shares: qty(*q),
                    avg_price: cost
                        .get(s.as_str())
                        .filter(|p| p.qty != 0.0)
                        .map(|p| price(p.avg))
                        .unwrap_or_else(|| "n/a".into()),
                    last: "n/a".into(),
                    value: cost
                        .get(s.as_str())
                        .filter(|p| p.qty != 0.0)
                        .map(|p| money(p.avg * f(*q)) + " at cost")
                        .unwrap_or_else(|| "n/a".into()),
                    stop: stops
                        .get(s)
                        .map(|x| price(f(x.level)))
                        .unwrap_or_else(|| "none".into()),
                    stop_distance: "n/a".into(),
                    pnl: "n/a".into(),
                    pnl_pct: "n/a".into(),
                    losing: false,
                },
            })
            .collect(),
        fills,
        fills_period: day.to_string(),
        warnings,
    }))
}

/// Open manual trades with their stops, and the trades closed on the day.
pub fn manual_section(
    ledger: &Ledger,
    day: NaiveDate,
    marks: &Marks,
) -> anyhow::Result<Option<Section>> {
    let trades = ledger.trades()?;
    let open: Vec<_> = trades.iter().filter(|t| t.is_open()).collect();
    let closed_today: Vec<_> = trades
        .iter()
        .filter(|t| t.closed_on() == Some(day))
        .collect();
    if open.is_empty() && closed_today.is_empty() {
        return Ok(None);
    }
    let mut warnings = Vec::new();
    for t in &open {
        if t.trade.stop.is_none() {
            warnings.push(format!(
                "manual trade #{} in {} has no stop: `systrade trades update {} --stop LEVEL`",
                t.id, t.trade.symbol, t.id
            ));
        }
    }
    Ok(Some(Section {
        name: "manual trades".into(),
        kind: "kept by hand".into(),
        as_of: day.to_string(),
        facts: vec![fact("open trades", open.len().to_string())],
        trades: Vec::new(),
        watch: Vec::new(),
        avoid: Vec::new(),
        positions: open
            .iter()
            .map(|t| {
                let entry = f(t.trade.price);
                let stop = t.trade.stop.map(f);
                if let Some((_, last)) = marks.get(&t.trade.symbol) {
                    return crate::newsletter_plan::position(
                        t.trade.symbol.as_str(),
                        f(t.sign() * t.open_qty),
                        Some(entry),
                        *last,
                        stop,
                    );
                }
                PositionLine {
                    symbol: t.trade.symbol.to_string(),
                    shares: qty(t.sign() * t.open_qty),
                    avg_price: price(entry),
                    last: "n/a".into(),
                    value: money(entry * f(t.open_qty)),
                    stop: stop.map(price).unwrap_or_else(|| "none".into()),
                    // Without a mark, the risk to the stop is shown from the entry.
                    stop_distance: stop
                        .filter(|_| entry > 0.0)
                        .map(|s| pct((entry - s).abs() / entry) + " from entry")
                        .unwrap_or_else(|| "n/a".into()),
                    pnl: "n/a".into(),
                    pnl_pct: "n/a".into(),
                    losing: false,
                }
            })
            .collect(),
        fills: closed_today
            .iter()
            .map(|t| FillLine {
                date: day.to_string(),
                symbol: t.trade.symbol.to_string(),
                side: "CLOSE".into(),
                shares: qty(t.trade.qty),
                price: t
                    .avg_exit()
                    .map(|p| price(f(p)))
                    .unwrap_or_else(|| "n/a".into()),
                fee: "n/a".into(),
                purpose: format!("realised {}", money(f(t.realized_pnl))),
            })
            .collect(),
        fills_period: day.to_string(),
        warnings,
    }))
}

/// The symbols manual trades and sheet books hold on `day`.
pub fn held_by_hand(ledger: &Ledger) -> anyhow::Result<std::collections::BTreeSet<Symbol>> {
    let mut out: std::collections::BTreeSet<Symbol> = ledger
        .trades()?
        .iter()
        .filter(|t| t.is_open())
        .map(|t| t.trade.symbol.clone())
        .collect();
    for b in ledger.books()?.iter().filter(|b| b.kind == BookKind::Sheet) {
        out.extend(ledger.positions(&b.strategy)?.into_keys());
    }
    Ok(out)
}

/// The newsletter of `day` (default: the latest day any daily-run book completed). With
/// `only`, just those books; `marks` value the manual and sheet positions.
pub fn build(
    home: &Path,
    ledger: &Ledger,
    day: Option<NaiveDate>,
    only: &[String],
    marks: &Marks,
) -> anyhow::Result<Newsletter> {
    let books = ledger.books()?;
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let mut done: BTreeMap<String, Vec<NaiveDate>> = BTreeMap::new();
    for b in books.iter().filter(|b| b.kind == BookKind::System) {
        if wanted(&b.strategy) {
            let days: Vec<NaiveDate> = ledger
                .equity(&b.strategy)?
                .into_iter()
                .map(|(d, _)| d)
                .collect();
            done.insert(b.strategy.clone(), days);
        }
    }
    for o in only {
        if !books.iter().any(|b| &b.strategy == o) {
            return Err(bad(format!(
                "--book {o}: no such book in the ledger (books: {})",
                books
                    .iter()
                    .map(|b| b.strategy.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let day = match day {
        Some(d) => d,
        None => done
            .values()
            .filter_map(|d| d.last().copied())
            .max()
            .ok_or_else(|| {
                bad("no daily run has completed in this home yet; run `systrade run` first, or pass --date")
            })?,
    };
    let mut sections = Vec::new();
    let mut warnings = Vec::new();
    for (book, days) in &done {
        // A book's section is its latest completed day on or before the newsletter's.
        let i = days.partition_point(|d| *d <= day);
        let Some(last) = i.checked_sub(1).map(|k| days[k]) else {
            warnings.push(format!("{book} has no completed run on or before {day}"));
            continue;
        };
        if last < day {
            warnings.push(format!(
                "{book}: the latest completed run is {last}, not {day}; its section shows {last}"
            ));
        }
        let previous = i.checked_sub(2).map(|k| days[k]);
        sections.push(
            system_section(home, ledger, book, last, previous)
                .with_context(|| format!("the section of {book} for {last}"))?,
        );
    }
    for b in books
        .iter()
        .filter(|b| b.kind == BookKind::Sheet && wanted(&b.strategy))
    {
        if let Some(s) = sheet_section(ledger, &b.strategy, day, marks)? {
            sections.push(s);
        }
    }
    if only.is_empty()
        && let Some(s) = manual_section(ledger, day, marks)?
    {
        sections.push(s);
    }
    Ok(Newsletter {
        date: day.to_string(),
        sections,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn test_a_trend_record_says_its_strength_drivers_and_why_it_waits() {
        let r = json!({"final_signal": 0.82, "ma_signal": 1.0, "dc_signal": 0.64, "r2": 0.71,
                       "sigma": 0.55, "reason": "cost_gate"});
        assert_eq!(
            trend_words(&r),
            [
                "strong uptrend (signal +0.82: moving averages +1.00, breakout +0.64)",
                "trend fit R² 0.71",
                "volatility 55%/yr"
            ]
        );
        assert_eq!(
            trend_hold_words(&r).unwrap(),
            "the expected edge does not cover the trading costs yet"
        );
        let c = json!({"final_signal": -0.3, "reason": "cooldown", "cooldown_left": 4});
        assert_eq!(trend_words(&c), ["weak downtrend (signal -0.30)"]);
        assert_eq!(
            trend_hold_words(&c).unwrap(),
            "cooling down after a stop-out (4 sessions left)"
        );
        // A trade or a flat name is not waiting for anything.
        assert_eq!(trend_hold_words(&json!({"reason": "trade"})), None);
        assert_eq!(trend_hold_words(&json!({"reason": "flat"})), None);
    }

    #[test]
    fn test_an_orders_state_is_said_in_words() {
        let mut o: LedgerOrder = serde_json::from_value(json!({
            "client_order_id": "st-1", "strategy": "t", "market_day": "2024-06-28",
            "symbol": "XLK", "side": "buy", "kind": "market", "qty": "31", "stop_price": null,
            "purpose": "entry", "status": "staged", "broker_order_id": null,
            "filled_qty": "0", "avg_price": null, "note": null, "decision_price": "221.05",
            "approval": "pending"
        }))
        .unwrap();
        assert_eq!(
            status_words(&o),
            "waits for your approval (systrade approve)"
        );
        let t = trade_line(&o, "new position".into());
        assert_eq!(
            (t.action.as_str(), t.notional.as_str()),
            ("BUY", "6,852.55")
        );
        o.approval = Some(Approval::Manual);
        assert_eq!(status_words(&o), "manual: place it yourself");
        o.status = OrderStatus::Filled;
        o.avg_price = Some(rust_decimal::Decimal::new(22110, 2));
        assert_eq!(status_words(&o), "filled at 221.10");
    }
}
