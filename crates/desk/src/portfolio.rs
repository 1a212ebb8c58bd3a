//! The merged portfolio: one view of everything held (spec/execution-and-buckets.md §6) —
//! the daily-run strategies' books (`system`), the trade-sheet books executed on paper
//! (`paper`) and the trades kept by hand (`manual`), marked at the last close on or before
//! `--as-of`, with the PnL of each, exposures, the merged equity curve's drawdown and
//! volatility, open stops, and the closed trades' R-multiples, MAE/MFE and holding days.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use systrade_backtest::f;
use systrade_core::contracts::Side;
use systrade_core::{DailyBar, Market, Symbol};
use systrade_data::DataSource;
use systrade_portfolio::positions::{Execution, Position, Trip};
use systrade_store::{Book, BookKind, Ledger, LedgerFill};

use crate::bad;

/// What the merged view is asked for.
#[derive(Debug, Clone)]
pub struct PortfolioRequest {
    /// Price sources (SQLite files or CSV folders), searched in order.
    pub data: Vec<PathBuf>,
    /// The day the view is marked at.
    pub as_of: NaiveDate,
    /// Cash of the manual account.
    pub manual_cash: f64,
    /// Returns in the rolling volatility.
    pub vol_window: usize,
    pub parse: systrade_data::ParseOptions,
}

/// Money and ratios are printed rounded: the file must not change with float noise.
fn r(x: f64, dp: i32) -> f64 {
    let k = 10f64.powi(dp);
    let v = (x * k).round() / k;
    if v == 0.0 { 0.0 } else { v }
}

/// One position's identity in the merged view.
#[derive(Debug, Clone)]
struct Holding {
    source: &'static str,
    book: String,
    bucket: String,
    symbol: Symbol,
    /// The manual trade it is, with its tags, notes and stop.
    trade: Option<(i64, Vec<String>, String, Option<f64>)>,
    executions: Vec<Execution>,
}

/// A symbol's prices and where they come from.
struct Prices {
    bars: Vec<DailyBar>,
    market: Market,
}

impl Prices {
    /// The last close on or before `d`.
    fn close(&self, d: NaiveDate) -> Option<f64> {
        let i = self.bars.partition_point(|b| b.ts <= d);
        i.checked_sub(1).map(|k| self.bars[k].close)
    }

    /// Lowest low and highest high over `[from, to]`.
    fn range(&self, from: NaiveDate, to: NaiveDate) -> Option<(f64, f64)> {
        let mut it = self.bars.iter().filter(|b| b.ts >= from && b.ts <= to);
        let first = it.next()?;
        Some(it.fold((first.low, first.high), |(lo, hi), b| {
            (lo.min(b.low), hi.max(b.high))
        }))
    }
}

fn asset_class(m: Market) -> &'static str {
    match m {
        Market::Crypto => "crypto",
        Market::Us => "us_equity",
        Market::B3 => "br_equity",
    }
}

fn bucket_of(tags: &[String]) -> Option<String> {
    tags.iter().find_map(|t| {
        t.strip_prefix("bucket=")
            .or_else(|| t.strip_prefix("bucket:"))
            .map(str::to_string)
    })
}

fn signed(side: Side, q: Decimal) -> f64 {
    if side == Side::Buy { f(q) } else { -f(q) }
}

/// Everything the ledger holds, up to `as_of`.
fn holdings(
    ledger: &Ledger,
    books: &[Book],
    fills: &[LedgerFill],
    as_of: NaiveDate,
) -> anyhow::Result<Vec<Holding>> {
    let mut out = Vec::new();
    for b in books {
        let mut by: BTreeMap<Symbol, Vec<Execution>> = BTreeMap::new();
        for fl in fills
            .iter()
            .filter(|x| x.strategy == b.strategy && x.date <= as_of)
        {
            by.entry(fl.symbol.clone()).or_default().push(Execution {
                date: fl.date,
                qty: signed(fl.side, fl.qty),
                price: f(fl.price),
                fee: f(fl.fee),
            });
        }
        for (symbol, executions) in by {
            out.push(Holding {
                source: match b.kind {
                    BookKind::System => "system",
                    BookKind::Sheet => "paper",
                },
                book: b.strategy.clone(),
                bucket: b.strategy.clone(),
                symbol,
                trade: None,
                executions,
            });
        }
    }
    for t in ledger.trades()? {
        if t.trade.date > as_of {
            continue;
        }
        let sign = if t.trade.side == Side::Buy { 1.0 } else { -1.0 };
        let mut executions = vec![Execution {
            date: t.trade.date,
            qty: sign * f(t.trade.qty),
            price: f(t.trade.price),
            fee: f(t.trade.fees),
        }];
        for c in t.closes.iter().filter(|c| c.date <= as_of) {
            executions.push(Execution {
                date: c.date,
                qty: -sign * f(c.qty),
                price: f(c.price),
                fee: f(c.fees),
            });
        }
        out.push(Holding {
            source: "manual",
            book: "manual".into(),
            bucket: bucket_of(&t.trade.tags).unwrap_or_else(|| "manual".into()),
            symbol: t.trade.symbol.clone(),
            trade: Some((
                t.id,
                t.trade.tags.clone(),
                t.trade.notes.clone(),
                t.trade.stop.map(f),
            )),
            executions,
        });
    }
    Ok(out)
}

fn load_prices(
    a: &PortfolioRequest,
    symbols: &BTreeSet<Symbol>,
    as_of: NaiveDate,
) -> anyhow::Result<BTreeMap<Symbol, Prices>> {
    prices_from(&a.data, &a.parse, symbols, as_of)
}

/// Each symbol's last close on or before `as_of` from the first of `data` that has it; a
/// symbol no source has, or one without a price by then, is an error naming it.
pub fn last_closes(
    data: &[PathBuf],
    parse: &systrade_data::ParseOptions,
    symbols: &BTreeSet<Symbol>,
    as_of: NaiveDate,
) -> anyhow::Result<BTreeMap<Symbol, (NaiveDate, f64)>> {
    Ok(prices_from(data, parse, symbols, as_of)?
        .into_iter()
        .filter_map(|(s, p)| p.bars.last().map(|b| (s, (b.ts, b.close))))
        .collect())
}

/// Each symbol's daily bars on or before `as_of`, from the first of `data` that has it; a
/// symbol no source has is an error naming it.
pub fn daily_bars(
    data: &[PathBuf],
    parse: &systrade_data::ParseOptions,
    symbols: &BTreeSet<Symbol>,
    as_of: NaiveDate,
) -> anyhow::Result<BTreeMap<Symbol, Vec<DailyBar>>> {
    Ok(prices_from(data, parse, symbols, as_of)?
        .into_iter()
        .map(|(s, p)| (s, p.bars))
        .collect())
}

fn prices_from(
    data: &[PathBuf],
    parse: &systrade_data::ParseOptions,
    symbols: &BTreeSet<Symbol>,
    as_of: NaiveDate,
) -> anyhow::Result<BTreeMap<Symbol, Prices>> {
    let sources: Vec<systrade_data::source::Listing> = data
        .iter()
        .map(|p| {
            DataSource::open(p)
                .and_then(|s| s.listing())
                .with_context(|| format!("--data {}", p.display()))
        })
        .collect::<anyhow::Result<_>>()?;
    let opts = parse.clone();
    let mut out = BTreeMap::new();
    for s in symbols {
        let found = sources
            .iter()
            .find_map(|src| src.daily(s, &opts).ok())
            .or_else(|| sessions_of(data, s, &opts));
        let Some(series) = found else {
            return Err(bad(format!(
                "{s}: no --data source has its prices ({})",
                data.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let bars: Vec<DailyBar> = series.bars.into_iter().filter(|b| b.ts <= as_of).collect();
        if bars.is_empty() {
            return Err(bad(format!("{s}: no price on or before {as_of}")));
        }
        out.insert(
            s.clone(),
            Prices {
                bars,
                market: series.market,
            },
        );
    }
    Ok(out)
}

/// The daily bars of a US symbol that a `--data` folder holds only as intraday bars (the
/// AVWAP system's one-minute files): one bar per New York regular session.
fn sessions_of(
    data: &[PathBuf],
    s: &Symbol,
    opts: &systrade_data::ParseOptions,
) -> Option<systrade_data::DailySeries> {
    data.iter().filter(|p| p.is_dir()).find_map(|dir| {
        let files = systrade_data::import::read_folder(dir, opts, &|_, _| {}).ok()?;
        files.into_iter().find_map(|f| match f.content {
            systrade_data::parse::Content::Prices(p)
                if &p.symbol == s && p.market == systrade_core::Market::Us =>
            {
                let systrade_data::Bars::Intraday(bars) = &p.bars else {
                    return None;
                };
                let cal = systrade_core::Market::Us.calendar();
                let sessions = systrade_avwap::intraday::session_bars(bars, 1, cal);
                Some(systrade_data::DailySeries {
                    symbol: s.clone(),
                    market: p.market,
                    bars: systrade_avwap::intraday::daily_from(&sessions),
                })
            }
            _ => None,
        })
    })
}

/// The initial risk of a book's trip: the first protective stop placed for it.
fn first_stop(
    stops: &BTreeMap<(String, Symbol), Vec<(NaiveDate, f64)>>,
    h: &Holding,
    opened: NaiveDate,
) -> Option<f64> {
    match &h.trade {
        Some((_, _, _, stop)) => *stop,
        None => stops
            .get(&(h.book.clone(), h.symbol.clone()))
            .and_then(|v| v.iter().find(|(d, _)| *d >= opened).map(|(_, l)| *l)),
    }
}

fn trip_json(h: &Holding, t: &Trip, stop: Option<f64>, px: &Prices) -> Value {
    let r_multiple = stop.filter(|s| (t.avg_entry - s).abs() > 1e-12).map(|s| {
        r(
            t.sign * (t.avg_exit - t.avg_entry) / (t.avg_entry - s).abs(),
            4,
        )
    });
    let (mae, mfe) = match px.range(t.opened, t.closed) {
        Some((lo, hi)) if t.avg_entry > 0.0 => {
            if t.sign > 0.0 {
                (lo / t.avg_entry - 1.0, hi / t.avg_entry - 1.0)
            } else {
                (1.0 - hi / t.avg_entry, 1.0 - lo / t.avg_entry)
            }
        }
        _ => (0.0, 0.0),
    };
    json!({
        "source": h.source, "book": h.book, "bucket": h.bucket, "symbol": h.symbol,
        "side": if t.sign > 0.0 { "long" } else { "short" },
        "opened": t.opened, "closed": t.closed, "holding_days": (t.closed - t.opened).num_days(),
        "qty": r(t.max_qty, 8), "avg_entry": r(t.avg_entry, 6), "avg_exit": r(t.avg_exit, 6),
        "pnl": r(t.pnl, 2), "r_multiple": r_multiple, "initial_stop": stop,
        "mae": r(mae.min(0.0), 6), "mfe": r(mfe.max(0.0), 6),
        "trade_id": h.trade.as_ref().map(|t| t.0),
        "tags": h.trade.as_ref().map(|t| t.1.clone()).unwrap_or_default(),
    })
}

#[derive(Default)]
struct Exposure {
    gross: f64,
    net: f64,
}

fn exposure_json(m: &BTreeMap<String, Exposure>, capital: f64) -> Value {
    let v: serde_json::Map<String, Value> = m
        .iter()
        .map(|(k, e)| {
            (
                k.clone(),
                json!({"gross": r(e.gross, 2), "net": r(e.net, 2),
                       "gross_of_capital": if capital > 0.0 { r(e.gross / capital, 6) } else { 0.0 },
                       "net_of_capital": if capital > 0.0 { r(e.net / capital, 6) } else { 0.0 }}),
            )
        })
        .collect();
    Value::Object(v)
}

/// The merged portfolio of everything `ledger` (under `home`) holds, marked at the last close
/// on or before `a.as_of`: the snapshot `portfolio_snapshot_D.json` holds.
pub fn snapshot(home: &Path, ledger: &Ledger, a: &PortfolioRequest) -> anyhow::Result<Value> {
    if !(a.manual_cash.is_finite()) {
        return Err(bad(format!(
            "--manual-cash {} is not a number",
            a.manual_cash
        )));
    }
    if a.vol_window < 2 {
        return Err(bad("--vol-window must be at least 2 returns"));
    }
    let as_of = a.as_of;
    let books = ledger.books()?;
    let all_fills = ledger.fills(None)?;
    let holdings = holdings(ledger, &books, &all_fills, as_of)?;
    let symbols: BTreeSet<Symbol> = holdings.iter().map(|h| h.symbol.clone()).collect();
    let prices = load_prices(a, &symbols, as_of)?;
    let mut sectors = BTreeMap::new();
    for d in &a.data {
        sectors.extend(systrade_systems::table::sectors_of(d)?);
    }

    // Cash: each paper account the books trade in, as it stood at the close of as_of, plus
    // the cash of the manual account.
    let accounts: BTreeSet<String> = books.iter().map(|b| b.account.clone()).collect();
    let mut cash_by: BTreeMap<String, f64> = BTreeMap::new();
    for acct in &accounts {
        let p = home.join(format!("paper/{acct}.sqlite"));
        let Some((_, cash)) = systrade_broker::paper::stored(&p)? else {
            continue;
        };
        let later: f64 = all_fills
            .iter()
            .filter(|x| {
                x.date > as_of
                    && books
                        .iter()
                        .any(|b| &b.account == acct && b.strategy == x.strategy)
            })
            .map(|x| -(signed(x.side, x.qty) * f(x.price) + f(x.fee)))
            .sum();
        cash_by.insert(acct.clone(), f(cash) - later);
    }
    let cash: f64 = cash_by.values().sum::<f64>() + a.manual_cash;

    // Stop orders of each book, for the initial risk of its trips.
    let mut book_stops: BTreeMap<(String, Symbol), Vec<(NaiveDate, f64)>> = BTreeMap::new();
    for o in ledger
        .all_orders()?
        .into_iter()
        .filter(|o| o.kind.is_stop())
    {
        if let Some(l) = o.stop_price {
            book_stops
                .entry((o.strategy.clone(), o.symbol.clone()))
                .or_default()
                .push((o.market_day, f(l)));
        }
    }
    for v in book_stops.values_mut() {
        v.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)));
    }

    // Replay every holding day by day: the merged PnL curve, then today's positions.
    let first = holdings
        .iter()
        .flat_map(|h| h.executions.iter().map(|e| e.date))
        .min();
    let mut dates: BTreeSet<NaiveDate> = BTreeSet::new();
    if let Some(first) = first {
        for p in prices.values() {
            dates.extend(p.bars.iter().map(|b| b.ts).filter(|d| *d >= first));
        }
        dates.insert(as_of);
    }
    let mut state: Vec<(Position, usize)> = vec![(Position::default(), 0); holdings.len()];
    let mut trips: Vec<(usize, Trip)> = Vec::new();
    let mut curve: Vec<(NaiveDate, f64)> = Vec::new();
    for d in &dates {
        let mut pnl = 0.0;
        for (k, h) in holdings.iter().enumerate() {
            let (pos, next) = &mut state[k];
            while *next < h.executions.len() && h.executions[*next].date <= *d {
                if let Some(t) = pos.apply(&h.executions[*next]) {
                    trips.push((k, t));
                }
                *next += 1;
            }
            let close = prices[&h.symbol].close(*d).unwrap_or(pos.avg);
            pnl += pos.pnl(close);
        }
        curve.push((*d, pnl));
    }
    let total_pnl = curve.last().map_or(0.0, |c| c.1);

    let mut positions = Vec::new();
    let (mut gross, mut net, mut realized, mut unrealized, mut fees) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut by_source: BTreeMap<String, Exposure> = BTreeMap::new();
    let mut by_bucket: BTreeMap<String, Exposure> = BTreeMap::new();
    let mut by_sector: BTreeMap<String, Exposure> = BTreeMap::new();
    let mut by_class: BTreeMap<String, Exposure> = BTreeMap::new();
    let mut contribution: BTreeMap<Symbol, f64> = BTreeMap::new();
    let mut pnl_by_source: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    let mut stops_out = Vec::new();
    let ledger_stops: BTreeMap<String, BTreeMap<Symbol, systrade_store::StopRow>> = books
        .iter()
        .map(|b| Ok((b.strategy.clone(), ledger.stops(&b.strategy)?)))
        .collect::<anyhow::Result<_>>()?;
    for (k, h) in holdings.iter().enumerate() {
        let pos = &state[k].0;
        let px = &prices[&h.symbol];
        let close = px.close(as_of).unwrap_or(pos.avg);
        let value = pos.qty * close;
        let un = pos.unrealized(close);
        realized += pos.realized;
        unrealized += un;
        fees += pos.fees;
        *contribution.entry(h.symbol.clone()).or_default() += pos.pnl(close);
        let e = pnl_by_source.entry(h.source).or_default();
        e.0 += pos.realized;
        e.1 += un;
        if pos.qty.abs() < 1e-9 {
            continue;
        }
        gross += value.abs();
        net += value;
        let sector = sectors
            .get(&h.symbol)
            .cloned()
            .unwrap_or_else(|| "unknown".into());
        let class = asset_class(px.market).to_string();
        for (m, key) in [
            (&mut by_source, h.source.to_string()),
            (&mut by_bucket, h.bucket.clone()),
            (&mut by_sector, sector.clone()),
            (&mut by_class, class.clone()),
        ] {
            let x = m.entry(key).or_default();
            x.gross += value.abs();
            x.net += value;
        }
        let stop = match &h.trade {
            Some((_, _, _, s)) => s.map(|l| (l, pos.qty.abs())),
            None => ledger_stops
                .get(&h.book)
                .and_then(|m| m.get(&h.symbol))
                .map(|s| (f(s.level), f(s.qty))),
        };
        if let Some((level, qty)) = stop {
            stops_out.push(
                json!({"source": h.source, "book": h.book, "symbol": h.symbol,
                "level": level, "qty": r(qty, 8),
                "distance": if close > 0.0 { r(level / close - 1.0, 6) } else { 0.0 },
                "trade_id": h.trade.as_ref().map(|t| t.0)}),
            );
        }
        positions.push(json!({
            "source": h.source, "book": h.book, "bucket": h.bucket, "symbol": h.symbol,
            "qty": r(pos.qty, 8), "avg_price": r(pos.avg, 6), "last_close": close,
            "value": r(value, 2), "unrealized_pnl": r(un, 2), "realized_pnl": r(pos.realized, 2),
            "opened": pos.opened, "stop": stop.map(|s| s.0), "sector": sector, "asset_class": class,
            "trade_id": h.trade.as_ref().map(|t| t.0),
            "tags": h.trade.as_ref().map(|t| t.1.clone()).unwrap_or_default(),
            "notes": h.trade.as_ref().map(|t| t.2.clone()).unwrap_or_default(),
        }));
    }
    let capital = cash + net;
    let base = capital - total_pnl;
    let equity: Vec<f64> = curve.iter().map(|(_, p)| base + p).collect();
    let mut peak = f64::MIN;
    let mut max_dd: f64 = 0.0;
    for e in &equity {
        peak = peak.max(*e);
        if peak > 0.0 {
            max_dd = max_dd.max(1.0 - e / peak);
        }
    }
    let drawdown = match equity.last() {
        Some(e) if peak > 0.0 => (1.0 - e / peak).max(0.0),
        _ => 0.0,
    };
    let rets: Vec<f64> = equity
        .windows(2)
        .filter(|w| w[0] > 0.0)
        .map(|w| w[1] / w[0] - 1.0)
        .collect();
    let vol = (rets.len() >= a.vol_window).then(|| {
        let w = &rets[rets.len() - a.vol_window..];
        let m = w.iter().sum::<f64>() / w.len() as f64;
        let var = w.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (w.len() - 1) as f64;
        var.sqrt() * 252f64.sqrt()
    });
    let closed: Vec<Value> = trips
        .iter()
        .map(|(k, t)| {
            let h = &holdings[*k];
            trip_json(
                h,
                t,
                first_stop(&book_stops, h, t.opened),
                &prices[&h.symbol],
            )
        })
        .collect();
    let snapshot = json!({
        "as_of": as_of,
        "capital": r(capital, 2),
        "cash": {"total": r(cash, 2), "paper_accounts": cash_by.iter().map(|(k, v)| (k.clone(), json!(r(*v, 2)))).collect::<serde_json::Map<_, _>>(), "manual": a.manual_cash},
        "gross": r(gross, 2), "net": r(net, 2),
        "gross_exposure": if capital > 0.0 { r(gross / capital, 6) } else { 0.0 },
        "net_exposure": if capital > 0.0 { r(net / capital, 6) } else { 0.0 },
        "realized_pnl": r(realized, 2), "unrealized_pnl": r(unrealized, 2), "fees": r(fees, 2),
        "pnl_by_source": pnl_by_source.iter().map(|(k, (re, un))| ((*k).to_string(), json!({"realized": r(*re, 2), "unrealized": r(*un, 2)}))).collect::<serde_json::Map<_, _>>(),
        "drawdown": r(drawdown, 6), "max_drawdown": r(max_dd, 6),
        "rolling_vol": {"window": a.vol_window, "annualized": vol.map(|v| r(v, 6)), "days_per_year": 252},
        "exposure": {"by_source": exposure_json(&by_source, capital), "by_bucket": exposure_json(&by_bucket, capital),
                     "by_sector": exposure_json(&by_sector, capital), "by_asset_class": exposure_json(&by_class, capital)},
        "contribution": contribution.iter().map(|(s, p)| (s.to_string(), json!({"pnl": r(*p, 2), "of_capital": if base > 0.0 { r(p / base, 6) } else { 0.0 }}))).collect::<serde_json::Map<_, _>>(),
        "positions": positions,
        "open_stops": stops_out,
        "closed_trades": closed,
        "system_trades": system_trades(home, &books)?,
    });
    Ok(snapshot)
}

/// Each book's own `runs/<book>/trades.csv` (the AVWAP cycles write one: entry, exit, exit
/// reason, R-multiple, MAE/MFE in price and in R, stop efficiency, holding days, stop mode),
/// as rows of named fields, numbers as numbers.
fn system_trades(home: &Path, books: &[systrade_store::Book]) -> anyhow::Result<Value> {
    let mut out = serde_json::Map::new();
    for b in books {
        let p = home.join(format!("runs/{}/trades.csv", b.strategy));
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {}", p.display()))),
        };
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
        let rows: Vec<Value> = lines
            .map(|l| {
                let m: serde_json::Map<String, Value> = header
                    .iter()
                    .zip(l.split(','))
                    .map(|(k, v)| {
                        let val = match v.parse::<f64>() {
                            Ok(x) if x.is_finite() && !k.ends_with("date") => json!(x),
                            _ if v.is_empty() => Value::Null,
                            _ => json!(v),
                        };
                        ((*k).to_string(), val)
                    })
                    .collect();
                Value::Object(m)
            })
            .collect();
        out.insert(b.strategy.clone(), Value::Array(rows));
    }
    Ok(Value::Object(out))
}
