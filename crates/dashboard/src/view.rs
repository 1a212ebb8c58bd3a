//! What each page shows, read from a home: the ledger (books, equity, orders, manual trades)
//! and the daily runs' artifacts (summaries and portfolio snapshots). Numbers are formatted
//! here, so the templates only lay them out; a page never renders a secret (none is read).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use chrono::NaiveDate;
use serde::Serialize;
use systrade_backtest::f;
use systrade_core::Symbol;
use systrade_core::contracts::Side;
use systrade_desk::artifacts::{DailySummary, PortfolioSnapshot, read};
use systrade_report::format::{money, price};
use systrade_store::{BookKind, Ledger};

use crate::marks::{Prices, scaled_to};

/// A page could not be built: the file or table and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ViewError(pub String);

impl From<systrade_store::StoreError> for ViewError {
    fn from(e: systrade_store::StoreError) -> Self {
        ViewError(e.to_string())
    }
}

fn pct(x: f64) -> String {
    let s = format!("{:.2}%", x * 100.0);
    if s == "-0.00%" { "0.00%".into() } else { s }
}

/// The ledger of a home, if it has one.
pub fn ledger(home: &Path) -> Result<Option<Ledger>, ViewError> {
    let p = home.join("ledger.sqlite");
    if !p.exists() {
        return Ok(None);
    }
    Ok(Some(Ledger::open(&p)?))
}

/// The completed days of a book's daily runs, oldest first.
fn run_days(home: &Path, book: &str) -> Vec<NaiveDate> {
    let mut days: Vec<NaiveDate> = std::fs::read_dir(home.join("runs").join(book))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    days.sort();
    days
}

fn summary_of(home: &Path, book: &str, day: NaiveDate) -> Option<Result<DailySummary, ViewError>> {
    let p = home.join(format!("runs/{book}/{day}/daily_summary_{day}.json"));
    p.exists()
        .then(|| read(&p).map_err(|e| ViewError(format!("{e:#}"))))
}

fn snapshot_of(
    home: &Path,
    book: &str,
    day: NaiveDate,
) -> Option<Result<PortfolioSnapshot, ViewError>> {
    let p = home.join(format!("runs/{book}/{day}/portfolio_snapshot_{day}.json"));
    p.exists()
        .then(|| read(&p).map_err(|e| ViewError(format!("{e:#}"))))
}

/// A book's equity curve as an inline SVG polyline (600×140), and the benchmark scaled to
/// start at the curve's first value (dashed, same scale, placed by date) when there is one.
pub fn curve_svg(
    points: &[(NaiveDate, f64)],
    bench: Option<(&str, &[(NaiveDate, f64)])>,
) -> String {
    let (w, h, pad) = (600.0, 140.0, 6.0);
    let mut out = format!(
        "<svg class=\"curve\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"equity curve\">"
    );
    if points.len() >= 2 {
        let bench_pts = bench.map_or(&[][..], |b| b.1);
        let all = points.iter().chain(bench_pts.iter()).map(|p| p.1);
        let lo = all.clone().fold(f64::INFINITY, f64::min);
        let hi = all.fold(f64::NEG_INFINITY, f64::max);
        let span = if hi > lo { hi - lo } else { 1.0 };
        let index: BTreeMap<NaiveDate, usize> =
            points.iter().enumerate().map(|(i, p)| (p.0, i)).collect();
        let n = (points.len() - 1) as f64;
        let line = |out: &mut String, pts: &[(NaiveDate, f64)], attrs: &str| {
            let _ = write!(out, "<polyline fill=\"none\" {attrs} points=\"");
            for (d, v) in pts {
                let Some(i) = index.get(d) else { continue };
                let x = pad + (w - 2.0 * pad) * *i as f64 / n;
                let y = h - pad - (h - 2.0 * pad) * (v - lo) / span;
                let _ = write!(out, "{x:.1},{y:.1} ");
            }
            out.push_str("\"/>");
        };
        if let Some((name, b)) = bench.filter(|b| b.1.len() >= 2) {
            line(
                &mut out,
                b,
                "class=\"bench\" stroke=\"#8b949e\" stroke-width=\"1\" stroke-dasharray=\"4 3\"",
            );
            let _ = write!(
                out,
                "<text x=\"{:.0}\" y=\"14\" font-size=\"11\" fill=\"#57606a\" text-anchor=\"end\">— book · - - {}</text>",
                w - 8.0,
                minijinja::HtmlEscape(name)
            );
        }
        line(
            &mut out,
            points,
            "class=\"equity\" stroke=\"#1f6feb\" stroke-width=\"1.5\"",
        );
    } else {
        out.push_str("<text x=\"10\" y=\"70\">not enough runs for a curve yet</text>");
    }
    out.push_str("</svg>");
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct BookLine {
    pub name: String,
    pub kind: String,
    pub account: String,
    pub last_day: String,
    pub equity: String,
    pub cash: String,
    pub gross: String,
    pub net: String,
    pub day_pnl: String,
    pub total_pnl: String,
    pub drawdown: String,
    pub positions: usize,
    pub losing: bool,
    /// Inline SVG (numbers only).
    pub curve: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub books: Vec<BookLine>,
    pub equity: String,
    pub cash: String,
    pub gross: String,
    pub net: String,
    pub day_pnl: String,
    pub total_pnl: String,
    pub runs: usize,
    /// What the curves are drawn against (empty without `--data`).
    pub benchmark: String,
    /// What the page could not show, in words (a benchmark not in `--data`, …).
    pub warnings: Vec<String>,
}

/// Every book's latest state and curve (against the benchmark when `prices` has one), and
/// their sum.
pub fn overview(home: &Path, prices: &Prices, today: NaiveDate) -> Result<Overview, ViewError> {
    let mut books = Vec::new();
    let mut warnings = Vec::new();
    let bench = prices.benchmark_closes(today).unwrap_or_else(|e| {
        warnings.push(e.to_string());
        None
    });
    let (mut equity, mut cash, mut gross, mut net, mut day, mut total, mut runs) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0);
    if let Some(l) = ledger(home)? {
        for b in l.books()? {
            let curve: Vec<(NaiveDate, f64)> = l
                .equity(&b.strategy)?
                .into_iter()
                .map(|(d, e)| (d, f(e)))
                .collect();
            let days = run_days(home, &b.strategy);
            runs += days.len();
            let summary = match days.last() {
                Some(d) => summary_of(home, &b.strategy, *d).transpose()?,
                None => None,
            };
            let last = curve.last().map(|x| x.1);
            let first = curve.first().map(|x| x.1);
            let prev = curve.iter().rev().nth(1).map(|x| x.1);
            let peak = curve.iter().map(|x| x.1).fold(f64::NEG_INFINITY, f64::max);
            let dd = match last {
                Some(v) if peak > 0.0 => v / peak - 1.0,
                _ => 0.0,
            };
            let d_pnl = match (last, prev) {
                (Some(a), Some(b)) => a - b,
                _ => 0.0,
            };
            let t_pnl = match (last, first) {
                (Some(a), Some(b)) => a - b,
                _ => 0.0,
            };
            if let Some(v) = last {
                equity += v;
                day += d_pnl;
                total += t_pnl;
            }
            let (c, g, n) = summary.as_ref().map_or((0.0, 0.0, 0), |s| {
                (s.cash, s.gross_exposure * s.equity, s.positions)
            });
            let snap = match days.last() {
                Some(d) => snapshot_of(home, &b.strategy, *d).transpose()?,
                None => None,
            };
            cash += c;
            gross += g;
            net += snap.as_ref().map_or(0.0, |s| s.net);
            books.push(BookLine {
                name: b.strategy.clone(),
                kind: match b.kind {
                    BookKind::System => "daily run".into(),
                    BookKind::Sheet => "trade sheet".into(),
                },
                account: b.account.clone(),
                last_day: curve.last().map(|x| x.0.to_string()).unwrap_or_default(),
                equity: last.map(money).unwrap_or_else(|| "n/a".into()),
                cash: summary.as_ref().map_or("n/a".into(), |_| money(c)),
                gross: summary.as_ref().map_or("n/a".into(), |_| money(g)),
                net: snap.as_ref().map_or("n/a".into(), |s| money(s.net)),
                day_pnl: money(d_pnl),
                total_pnl: money(t_pnl),
                drawdown: pct(dd),
                positions: n,
                losing: t_pnl < 0.0,
                curve: match &bench {
                    _ if b.kind == BookKind::Sheet && curve.is_empty() => {
                        "<p class=\"muted\">A trade sheet's book keeps no daily equity: its positions, marked from --data, are on the Positions page.</p>".to_string()
                    }
                    Some((name, closes)) => curve_svg(
                        &curve,
                        Some((name.as_str(), &scaled_to(&curve, closes))),
                    ),
                    None => curve_svg(&curve, None),
                },
            });
        }
    }
    Ok(Overview {
        books,
        equity: money(equity),
        cash: money(cash),
        gross: money(gross),
        net: money(net),
        day_pnl: money(day),
        total_pnl: money(total),
        runs,
        benchmark: bench.map(|b| b.0.to_string()).unwrap_or_default(),
        warnings,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct PositionRow {
    pub book: String,
    /// `system` (a daily run's book), `sheet` (a trade sheet's book) or `manual`.
    pub source: String,
    pub symbol: String,
    pub qty: String,
    pub avg_price: String,
    pub last: String,
    pub value: String,
    pub stop: String,
    pub to_stop: String,
    pub pnl: String,
    pub losing: bool,
    /// Calendar days since the position was opened (from flat), to `as_of`.
    pub days: String,
    pub opened: String,
    /// The day it is marked at (or why it is not).
    pub as_of: String,
}

/// How far the last close is above a long's stop (below a short's), of the last close.
fn to_stop(last: f64, stop: Option<f64>, long: bool) -> String {
    match stop {
        Some(s) if last > 0.0 => pct(if long { last - s } else { s - last } / last),
        _ => "n/a".into(),
    }
}

/// When each (book, symbol) position was opened and at what average cost: the fills walked
/// in booking order, the open date reset whenever the position goes through flat.
fn opened_from_fills(
    fills: &[systrade_store::LedgerFill],
) -> BTreeMap<(String, Symbol), (NaiveDate, f64)> {
    let mut state: BTreeMap<(String, Symbol), (f64, NaiveDate, f64)> = BTreeMap::new();
    for x in fills {
        let dq = match x.side {
            Side::Buy => f(x.qty),
            Side::Sell => -f(x.qty),
        };
        let px = f(x.price);
        let e = state
            .entry((x.strategy.clone(), x.symbol.clone()))
            .or_insert((0.0, x.date, px));
        let (q, opened, avg) = *e;
        let next = q + dq;
        *e = if q.abs() < 1e-9 || q.signum() != next.signum() && next.abs() > 1e-9 {
            (next, x.date, px)
        } else if q.signum() == dq.signum() {
            (next, opened, (avg * q.abs() + px * dq.abs()) / next.abs())
        } else {
            (next, opened, avg)
        };
    }
    state
        .into_iter()
        .filter(|(_, (q, _, _))| q.abs() > 1e-9)
        .map(|(k, (_, d, avg))| (k, (d, avg)))
        .collect()
}

fn days_between(from: NaiveDate, to: NaiveDate) -> String {
    (to - from).num_days().max(0).to_string()
}

/// A position before it is marked.
struct Held<'a> {
    book: &'a str,
    source: &'a str,
    symbol: &'a Symbol,
    /// Signed.
    qty: f64,
    /// The same, as the ledger or snapshot writes it.
    qty_text: String,
    avg: f64,
    stop: Option<f64>,
    opened: Option<NaiveDate>,
}

/// One row marked at `mark` (a last close, or why there is none).
fn marked_row(h: Held<'_>, mark: Option<&crate::marks::Mark>, today: NaiveDate) -> PositionRow {
    let Held {
        book,
        source,
        symbol,
        qty,
        qty_text,
        avg,
        stop,
        opened,
    } = h;
    let (last, as_of) = match mark {
        Some(Ok((d, c))) => (Some(*c), d.to_string()),
        Some(Err(why)) => (None, why.clone()),
        None => (None, "no --data to mark it".into()),
    };
    let pnl = last.map(|c| (c - avg) * qty);
    let upto = match mark {
        Some(Ok((d, _))) => *d,
        _ => today,
    };
    PositionRow {
        book: book.to_string(),
        source: source.to_string(),
        symbol: symbol.to_string(),
        qty: qty_text,
        avg_price: price(avg),
        last: last.map(price).unwrap_or_else(|| "n/a".into()),
        value: money(last.unwrap_or(avg) * qty),
        stop: stop.map(price).unwrap_or_else(|| "none".into()),
        to_stop: last.map_or("n/a".into(), |c| to_stop(c, stop, qty > 0.0)),
        pnl: pnl.map(money).unwrap_or_else(|| "n/a".into()),
        losing: pnl.is_some_and(|p| p < 0.0),
        days: opened.map_or("n/a".into(), |d| days_between(d, upto)),
        opened: opened.map(|d| d.to_string()).unwrap_or_default(),
        as_of,
    }
}

/// Every position: each daily-run book's latest snapshot (marked at its last close, with its
/// stop), each trade sheet's book (from the ledger) and the open manual trades — the last two
/// marked from `prices` when the dashboard has `--data`. Holding days from the ledger's fills.
pub fn positions(
    home: &Path,
    prices: &Prices,
    today: NaiveDate,
) -> Result<Vec<PositionRow>, ViewError> {
    let mut out = Vec::new();
    let Some(l) = ledger(home)? else {
        return Ok(out);
    };
    let opened = opened_from_fills(&l.fills(None)?);
    let books = l.books()?;
    let trades: Vec<_> = l.trades()?.into_iter().filter(|t| t.is_open()).collect();
    let mut by_hand: BTreeSet<Symbol> = trades.iter().map(|t| t.trade.symbol.clone()).collect();
    let mut sheets = Vec::new();
    for b in books.iter().filter(|b| b.kind == BookKind::Sheet) {
        let held = l.positions(&b.strategy)?;
        by_hand.extend(held.keys().cloned());
        sheets.push((b.strategy.clone(), held, l.stops(&b.strategy)?));
    }
    let marks = if prices.is_empty() {
        BTreeMap::new()
    } else {
        prices.last_closes(&by_hand, today)
    };
    for b in books.iter().filter(|b| b.kind == BookKind::System) {
        out.extend(system_rows(home, &b.strategy, &opened)?);
    }
    for (book, held, stops) in &sheets {
        for (s, q) in held {
            let key = (book.clone(), s.clone());
            let (since, avg) = opened
                .get(&key)
                .map_or((None, 0.0), |(d, a)| (Some(*d), *a));
            let stop = stops.get(s).map(|x| f(x.level));
            let h = Held {
                book,
                source: "sheet",
                symbol: s,
                qty: f(*q),
                qty_text: systrade_core::money::decimal_text(*q),
                avg,
                stop,
                opened: since,
            };
            out.push(marked_row(h, marks.get(s), today));
        }
    }
    for t in &trades {
        let q = f(t.sign() * t.open_qty);
        let h = Held {
            book: "manual",
            source: "manual",
            symbol: &t.trade.symbol,
            qty: q,
            qty_text: systrade_core::money::decimal_text(t.sign() * t.open_qty),
            avg: f(t.trade.price),
            stop: t.trade.stop.map(f),
            opened: Some(t.trade.date),
        };
        out.push(marked_row(h, marks.get(&t.trade.symbol), today));
    }
    Ok(out)
}

/// A daily-run book's positions, from its latest portfolio snapshot.
fn system_rows(
    home: &Path,
    book: &str,
    opened: &BTreeMap<(String, Symbol), (NaiveDate, f64)>,
) -> Result<Vec<PositionRow>, ViewError> {
    let Some(day) = run_days(home, book).pop() else {
        return Ok(Vec::new());
    };
    let p = home.join(format!("runs/{book}/{day}/portfolio_snapshot_{day}.json"));
    let Some(snap) = snapshot_of(home, book, day).transpose()? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for x in &snap.positions {
        let num = |t: &str, what: &str| -> Result<f64, ViewError> {
            t.parse().map_err(|_| {
                ViewError(format!(
                    "{}: {} {what} {t:?} is not a number",
                    p.display(),
                    x.symbol
                ))
            })
        };
        let q = num(&x.qty, "qty")?;
        let avg = num(&x.avg_price, "avg_price")?;
        let stop = x.stop.as_deref().map(|s| num(s, "stop")).transpose()?;
        let since = opened
            .get(&(book.to_string(), x.symbol.clone()))
            .map(|v| v.0);
        let h = Held {
            book,
            source: "system",
            symbol: &x.symbol,
            qty: q,
            qty_text: x.qty.clone(),
            avg,
            stop,
            opened: since,
        };
        let mut row = marked_row(h, Some(&Ok((day, x.last_close))), day);
        row.value = money(x.value);
        out.push(row);
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderRow {
    /// The client order id.
    pub id: String,
    pub book: String,
    pub day: String,
    pub symbol: String,
    pub side: String,
    pub kind: String,
    pub qty: String,
    pub status: String,
    pub filled: String,
    pub avg_price: String,
    pub purpose: String,
    pub approval: String,
    pub note: String,
    pub staged: bool,
    /// Waits for approval.
    pub pending: bool,
    /// The page may approve or cancel it (set by the server: its book's config is known).
    pub actionable: bool,
}

/// Every order of every book, the latest day first.
pub fn orders(home: &Path) -> Result<Vec<OrderRow>, ViewError> {
    let mut out = Vec::new();
    let Some(l) = ledger(home)? else {
        return Ok(out);
    };
    for b in l.books()? {
        for o in l.orders(&b.strategy)? {
            out.push(OrderRow {
                id: o.client_order_id.to_string(),
                book: b.strategy.clone(),
                day: o.market_day.to_string(),
                symbol: o.symbol.to_string(),
                side: format!("{:?}", o.side).to_lowercase(),
                kind: o.kind.as_str().to_string(),
                qty: o.qty.normalize().to_string(),
                status: o.status.as_str().replace('_', " "),
                filled: o.filled_qty.normalize().to_string(),
                avg_price: o.avg_price.map(|p| price(f(p))).unwrap_or_default(),
                purpose: o.purpose.as_str().to_string(),
                approval: o
                    .approval
                    .map(|a| a.as_str().to_string())
                    .unwrap_or_default(),
                note: o.note.clone().unwrap_or_default(),
                staged: o.status.as_str() == "staged",
                pending: o.approval.is_some_and(|a| a.as_str() == "pending")
                    && o.status.as_str() == "staged",
                actionable: false,
            });
        }
    }
    out.sort_by(|a, b| (&b.day, &a.book, &a.symbol).cmp(&(&a.day, &b.book, &b.symbol)));
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub book: String,
    pub day: String,
    pub equity: String,
    pub positions: usize,
    pub planned: usize,
    pub allowed: usize,
    pub blocked: usize,
    pub blocked_why: String,
    pub mismatches: usize,
    pub stale: String,
    pub kill_switch: bool,
    pub dry_run: bool,
    pub errors: usize,
}

/// Each completed daily run, the latest first.
pub fn runs(home: &Path) -> Result<Vec<RunRow>, ViewError> {
    let mut out = Vec::new();
    let Some(l) = ledger(home)? else {
        return Ok(out);
    };
    for b in l.books()? {
        for day in run_days(home, &b.strategy) {
            let Some(s) = summary_of(home, &b.strategy, day).transpose()? else {
                continue;
            };
            let mut why: BTreeMap<String, usize> = BTreeMap::new();
            for x in &s.decisions.blocked {
                for w in &x.why {
                    *why.entry(w.clone()).or_default() += 1;
                }
            }
            out.push(RunRow {
                book: b.strategy.clone(),
                day: day.to_string(),
                equity: money(s.equity),
                positions: s.positions,
                planned: s.orders.planned,
                allowed: s.decisions.allowed,
                blocked: s.decisions.blocked.len(),
                blocked_why: why
                    .into_iter()
                    .map(|(w, n)| format!("{w} ×{n}"))
                    .collect::<Vec<_>>()
                    .join("; "),
                mismatches: s.reconciliation.mismatches.len(),
                stale: s
                    .no_data
                    .iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                kill_switch: s.decisions.kill_switch,
                dry_run: s.dry_run,
                errors: s.logs.get("errors").copied().unwrap_or(0),
            });
        }
    }
    out.sort_by(|a, b| (&b.day, &a.book).cmp(&(&a.day, &b.book)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_the_curve_spans_the_box_and_says_when_it_cannot() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let curve = [
            (d("2024-01-02"), 100.0),
            (d("2024-01-03"), 110.0),
            (d("2024-01-04"), 105.0),
        ];
        let svg = curve_svg(&curve, None);
        assert!(
            svg.contains("points=\"6.0,134.0 300.0,6.0 594.0,70.0 \""),
            "{svg}"
        );
        assert!(curve_svg(&[], None).contains("not enough runs"));
        // The benchmark shares the scale and is placed by date: 90 on the middle day sets
        // the low, and the book's 100 moves up off the floor.
        let bench = [(d("2024-01-02"), 100.0), (d("2024-01-03"), 90.0)];
        let svg = curve_svg(&curve, Some(("SPY", &bench)));
        assert!(
            svg.contains("class=\"bench\" stroke=\"#8b949e\" stroke-width=\"1\" stroke-dasharray=\"4 3\" points=\"6.0,70.0 300.0,134.0 \""),
            "{svg}"
        );
        assert!(
            svg.contains("points=\"6.0,70.0 300.0,6.0 594.0,38.0 \""),
            "{svg}"
        );
        assert!(svg.contains("- - SPY"), "{svg}");
    }
}
