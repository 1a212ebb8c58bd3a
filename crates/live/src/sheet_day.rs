//! A sheet book's step 4 (issue 23): the user's own signals auto-rebalanced. The day's
//! signals (the file's latest date on or before the last closed session, and only when it is
//! that session's) are sized into a trade sheet against what the broker holds now — not a
//! positions file — with the book's `[signals]` method and limits; a held name trades only
//! when it drifted beyond the band, enters or leaves. The sheet is the day's artifact
//! (`sheet_D.csv`); its lines are the orders the gates, the execution level and approvals
//! then take. Signals that are missing or stale fail closed: nothing is traded, loudly.
//! Wash-sale risk is flagged from the ledger's own fills.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::json;
use systrade_backtest::{dec, f};
use systrade_core::contracts::Side;
use systrade_core::fsio::write_atomic;
use systrade_core::{BadInput, DailyBar, Symbol};
use systrade_portfolio::SizingLimits;
use systrade_portfolio::sheet::{Holding, SheetAction, SheetInput, build_sheet, select_candidates};
use systrade_store::{Ledger, Purpose};
use systrade_systems::sheet::{candidate_returns, read_signals, sheet_csv};

use crate::desk::{DayBook, DayDecision, DecideCtx, SheetBook, Want};
use crate::logs::Logs;

/// Each held symbol's average cost, last purchase and last sale at a loss, from the book's
/// fills before `day` (what the wash-sale flag needs).
fn holdings(
    ledger: &Ledger,
    book: &str,
    day: NaiveDate,
    held: &BTreeMap<Symbol, Decimal>,
) -> anyhow::Result<BTreeMap<Symbol, Holding>> {
    let mut out: BTreeMap<Symbol, Holding> = BTreeMap::new();
    let mut qty: BTreeMap<Symbol, f64> = BTreeMap::new();
    for x in ledger
        .fills(Some(book))?
        .into_iter()
        .filter(|x| x.date < day)
    {
        let h = out.entry(x.symbol.clone()).or_default();
        let q = qty.entry(x.symbol.clone()).or_default();
        let (px, n) = (f(x.price), f(x.qty));
        match x.side {
            Side::Buy => {
                let avg = h.avg_price.unwrap_or(0.0);
                h.avg_price = Some(if *q + n > 0.0 {
                    (avg * *q + px * n) / (*q + n)
                } else {
                    px
                });
                *q += n;
                h.last_buy = Some(x.date);
            }
            Side::Sell => {
                if h.avg_price.is_some_and(|a| px < a) {
                    h.last_loss_sale = Some(x.date);
                }
                *q -= n;
                if *q <= 1e-12 {
                    *q = 0.0;
                    h.avg_price = None;
                }
            }
        }
    }
    for h in out.values_mut() {
        h.qty = 0.0;
    }
    for (s, q) in held {
        out.entry(s.clone()).or_default().qty = f(*q);
    }
    Ok(out)
}

/// A limit price on the venues' grid: cents from a dollar up, else six decimals.
fn limit_of(x: f64) -> Decimal {
    on_grid(dec(x))
}

/// A price on the venues' grid: cents from a dollar up, else six decimals.
pub(crate) fn on_grid(d: Decimal) -> Decimal {
    if d >= Decimal::ONE {
        d.round_dp(2)
    } else {
        d.round_dp(6)
    }
}

/// Nothing traded today, and why (the summary's `targets`, an `errors` record, stderr).
fn fail_closed(
    x: &DecideCtx<'_>,
    logs: &mut Logs,
    reason: &str,
    detail: String,
    decided_through: NaiveDate,
    held: Vec<Symbol>,
) -> DayDecision {
    eprintln!(
        "warning: {}: {detail} — no new risk today, positions held",
        x.name
    );
    logs.write("errors", None, reason, json!({"why": detail}));
    DayDecision {
        wants: Vec::new(),
        stops: BTreeMap::new(),
        stop_levels: BTreeMap::new(),
        carried: None,
        formation: None,
        decided_through,
        targets: json!({"signals": reason, "why": detail}),
        no_data: held,
    }
}

pub(crate) fn decide(
    l: &SheetBook,
    book: &DayBook,
    x: &DecideCtx<'_>,
    ledger: &Ledger,
    logs: &mut Logs,
) -> anyhow::Result<DayDecision> {
    let (Some(sig), Some(file)) = (&l.cfg.signals, l.cfg.signals_file(&l.config)) else {
        return Err(BadInput(format!("{}: no [signals] section", x.name)).into());
    };
    let day = x.day;
    let expected = l.market.calendar().previous_trading_day(day);
    let last_bar = l
        .bars
        .values()
        .filter_map(|b| b.iter().rfind(|x| x.ts < day))
        .map(|b| b.ts)
        .max();
    let decided_through = last_bar.unwrap_or(expected);
    let held: Vec<Symbol> = book
        .positions
        .iter()
        .filter(|(_, q)| !q.is_zero())
        .map(|(s, _)| s.clone())
        .collect();
    let signals = read_signals(&file).with_context(|| format!("{}: signals.file", x.name))?;
    let Some((&date, today)) = signals.range(..=expected).next_back() else {
        let why = format!(
            "{} has no signals on or before {expected}, the last closed session",
            file.display()
        );
        return Ok(fail_closed(
            x,
            logs,
            "signals_missing",
            why,
            decided_through,
            held,
        ));
    };
    if date < expected {
        let why = format!(
            "{}: the latest signals are of {date}, not of {expected} (the last closed session)",
            file.display()
        );
        return Ok(fail_closed(
            x,
            logs,
            "signals_stale",
            why,
            decided_through,
            held,
        ));
    }
    if last_bar.is_none_or(|d| d < expected) {
        let why = format!(
            "the prices end {}, before {expected} (the last closed session)",
            last_bar.map_or("nowhere".into(), |d| d.to_string())
        );
        return Ok(fail_closed(
            x,
            logs,
            "prices_stale",
            why,
            decided_through,
            held,
        ));
    }
    let method = sig.method().map_err(BadInput)?;
    let candidates = select_candidates(today, sig.max_positions);
    // Every name the sheet prices: the candidates and what the broker holds.
    let mut priced: BTreeMap<Symbol, Vec<DailyBar>> = BTreeMap::new();
    let mut no_price = Vec::new();
    for s in candidates.iter().map(|c| &c.0).chain(held.iter()) {
        match l.bars.get(s) {
            Some(b) if b.iter().any(|x| x.ts == expected) => {
                priced.insert(
                    s.clone(),
                    b.iter().filter(|x| x.ts <= expected).cloned().collect(),
                );
            }
            _ => no_price.push(s.clone()),
        }
    }
    no_price.sort();
    no_price.dedup();
    for s in &no_price {
        logs.write(
            "desired_trades",
            Some(s.as_str()),
            "no_data",
            json!({"why": format!("no bar of {expected} in the book's data")}),
        );
    }
    // A name without today's price neither enters nor is sold on a guess.
    let candidates: Vec<(Symbol, f64)> = candidates
        .into_iter()
        .filter(|(s, _)| priced.contains_key(s))
        .collect();
    let mut holdings = holdings(ledger, x.name, day, &book.positions)?;
    holdings.retain(|s, h| h.qty != 0.0 && priced.contains_key(s));
    let closes: BTreeMap<Symbol, f64> = priced
        .iter()
        .map(|(s, b)| (s.clone(), b[b.len() - 1].close))
        .collect();
    let returns = candidate_returns(
        &priced,
        &candidates,
        method,
        (sig.lookback, "signals.lookback"),
        expected,
    )
    .map_err(|e| BadInput(format!("{}: {e:#}", x.name)))?;
    let capital = sig.capital.unwrap_or(x.equity);
    let harvest_held = holdings.clone();
    let sheet = build_sheet(&SheetInput {
        as_of: expected,
        capital,
        method,
        limits: SizingLimits {
            max_weight: sig.max_weight,
            kelly_fraction: sig.kelly_fraction,
        },
        drift: sig.drift,
        limit_offset: sig.limit_offset,
        qty_decimals: l.cfg.orders.qty_decimals,
        candidates,
        returns,
        closes,
        held: holdings,
        signals: today.clone(),
    })
    .map_err(|e| BadInput(format!("{}: {e}", x.name)))?;
    write_atomic(
        &x.folder.join(format!("sheet_{day}.csv")),
        sheet_csv(&sheet, expected).as_bytes(),
    )
    .with_context(|| format!("writing the sheet of {day}"))?;
    let harvest = harvest(l, x, &sheet, &harvest_held, expected, logs)?;
    let step = Decimal::new(1, l.cfg.orders.qty_decimals);
    let mut wants = Vec::new();
    for r in &sheet.rows {
        let qty = (dec(r.shares) / step).round() * step;
        if qty.is_zero() {
            continue;
        }
        let (delta, purpose) = match r.action {
            SheetAction::Buy if r.current_shares == 0.0 => (qty, Purpose::Entry),
            SheetAction::Buy => (qty, Purpose::Add),
            SheetAction::Sell if r.target_shares == 0.0 => (-qty, Purpose::Exit),
            SheetAction::Sell => (-qty, Purpose::Reduce),
        };
        logs.write(
            "desired_trades",
            Some(r.symbol.as_str()),
            purpose.as_str(),
            json!({"delta": delta.normalize().to_string(), "signal": r.signal,
                   "target_weight": r.target_weight, "current_shares": r.current_shares,
                   "target_shares": r.target_shares, "limit_price": r.limit_price,
                   "wash_sale_risk": r.wash_sale_risk}),
        );
        let adds = matches!(purpose, Purpose::Entry | Purpose::Add);
        wants.push(Want {
            symbol: r.symbol.clone(),
            delta,
            purpose,
            reason: format!("sheet {}", r.action.as_str()),
            adds_risk: adds,
            entry: purpose == Purpose::Entry,
            data_ok: true,
            stop: None,
            limit: (sig.orders == "limit").then(|| limit_of(r.limit_price)),
        });
    }
    for s in &sheet.within_drift {
        logs.write(
            "desired_trades",
            Some(s.as_str()),
            "within_drift",
            json!({}),
        );
    }
    for s in &sheet.cut_for_cash {
        logs.write(
            "desired_trades",
            Some(s.as_str()),
            "cut_for_cash",
            json!({}),
        );
    }
    Ok(DayDecision {
        wants,
        stops: BTreeMap::new(),
        stop_levels: BTreeMap::new(),
        carried: None,
        formation: None,
        decided_through,
        targets: json!({
            "signals": "fresh", "signal_date": date, "method": method.as_str(),
            "capital": capital, "lines": sheet.rows.len(),
            "within_drift": sheet.within_drift, "cut_for_cash": sheet.cut_for_cash,
            "invested": sheet.invested, "cash_left": sheet.cash_left,
            "wash_sale_risk": sheet.rows.iter().filter(|r| r.wash_sale_risk).map(|r| r.symbol.to_string()).collect::<Vec<_>>(),
            "harvest": harvest,
        }),
        no_data: no_price,
    })
}

/// `[tax] harvest_loss`: the day's tax-loss harvest proposals of the held names (costs from the
/// book's own fills), written as `harvest_D.csv` and logged; nothing is staged. `null` when
/// the book does not ask.
fn harvest(
    l: &SheetBook,
    x: &DecideCtx<'_>,
    sheet: &systrade_portfolio::sheet::Sheet,
    held: &BTreeMap<Symbol, Holding>,
    as_of: NaiveDate,
    logs: &mut Logs,
) -> anyhow::Result<serde_json::Value> {
    use systrade_systems::harvest::{HarvestParams, proposals_csv, propose};
    let Some(min_loss) = l.cfg.tax.harvest_loss else {
        return Ok(serde_json::Value::Null);
    };
    let targets = sheet
        .weights
        .iter()
        .filter(|(_, w)| *w > 0.0)
        .map(|(s, _)| s.clone())
        .collect();
    let lookback = l.cfg.signals.as_ref().map_or(60, |s| s.lookback.max(2));
    let ps = propose(
        held,
        &l.bars,
        &targets,
        as_of,
        &HarvestParams {
            min_loss,
            min_corr: l.cfg.tax.harvest_min_corr,
            lookback,
            qty_decimals: l.cfg.orders.qty_decimals,
        },
    );
    write_atomic(
        &x.folder.join(format!("harvest_{}.csv", x.day)),
        proposals_csv(&ps).as_bytes(),
    )
    .with_context(|| format!("writing the harvest proposals of {}", x.day))?;
    let mut out = Vec::new();
    for p in &ps {
        let r = p.replacement.as_ref();
        let row = json!({"qty": p.qty, "avg_price": p.avg_price, "last_close": p.last,
            "loss": (p.loss * 100.0).round() / 100.0, "loss_pct": p.loss_pct,
            "replacement": r.map(|r| r.symbol.to_string()), "correlation": r.map(|r| r.corr),
            "replacement_shares": r.map(|r| r.shares), "notes": p.notes});
        logs.write(
            "desired_trades",
            Some(p.symbol.as_str()),
            "harvest_proposed",
            row.clone(),
        );
        let mut row = row;
        row["symbol"] = json!(p.symbol.to_string());
        out.push(row);
    }
    Ok(serde_json::Value::Array(out))
}
