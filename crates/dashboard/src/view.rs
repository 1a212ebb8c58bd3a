//! What each page shows, read from a home: the ledger (books, equity, orders, manual trades)
//! and the daily runs' artifacts (summaries and portfolio snapshots). Numbers are formatted
//! here, so the templates only lay them out; a page never renders a secret (none is read).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::NaiveDate;
use serde::Serialize;
use systrade_backtest::f;
use systrade_desk::artifacts::{DailySummary, PortfolioSnapshot, read};
use systrade_report::format::{money, price};
use systrade_store::{BookKind, Ledger};

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

/// A book's equity curve as an inline SVG polyline (600×140, its own scale).
pub fn curve_svg(points: &[(NaiveDate, f64)]) -> String {
    let (w, h, pad) = (600.0, 140.0, 6.0);
    let mut out = format!(
        "<svg class=\"curve\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"equity curve\">"
    );
    if points.len() >= 2 {
        let lo = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let hi = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let span = if hi > lo { hi - lo } else { 1.0 };
        let n = (points.len() - 1) as f64;
        out.push_str("<polyline fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"1.5\" points=\"");
        for (i, (_, v)) in points.iter().enumerate() {
            let x = pad + (w - 2.0 * pad) * i as f64 / n;
            let y = h - pad - (h - 2.0 * pad) * (v - lo) / span;
            let _ = write!(out, "{x:.1},{y:.1} ");
        }
        out.push_str("\"/>");
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
    pub day_pnl: String,
    pub total_pnl: String,
    pub runs: usize,
}

/// Every book's latest state and curve, and their sum.
pub fn overview(home: &Path) -> Result<Overview, ViewError> {
    let mut books = Vec::new();
    let (mut equity, mut cash, mut gross, mut day, mut total, mut runs) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0);
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
            cash += c;
            gross += g;
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
                day_pnl: money(d_pnl),
                total_pnl: money(t_pnl),
                drawdown: pct(dd),
                positions: n,
                losing: t_pnl < 0.0,
                curve: curve_svg(&curve),
            });
        }
    }
    Ok(Overview {
        books,
        equity: money(equity),
        cash: money(cash),
        gross: money(gross),
        day_pnl: money(day),
        total_pnl: money(total),
        runs,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct PositionRow {
    pub book: String,
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
    pub as_of: String,
}

/// Every position: each daily-run book's latest snapshot (marked at its last close, with
/// its stop), and the open manual trades.
pub fn positions(home: &Path) -> Result<Vec<PositionRow>, ViewError> {
    let mut out = Vec::new();
    let Some(l) = ledger(home)? else {
        return Ok(out);
    };
    for b in l.books()? {
        let Some(day) = run_days(home, &b.strategy).pop() else {
            continue;
        };
        let p = home.join(format!(
            "runs/{}/{day}/portfolio_snapshot_{day}.json",
            b.strategy
        ));
        if !p.exists() {
            continue;
        }
        let snap: PortfolioSnapshot = read(&p).map_err(|e| ViewError(format!("{e:#}")))?;
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
            let pnl = (x.last_close - avg) * q;
            out.push(PositionRow {
                book: b.strategy.clone(),
                source: "system".into(),
                symbol: x.symbol.to_string(),
                qty: x.qty.clone(),
                avg_price: price(avg),
                last: price(x.last_close),
                value: money(x.value),
                stop: stop.map(price).unwrap_or_else(|| "none".into()),
                to_stop: stop
                    .filter(|_| x.last_close > 0.0)
                    .map(|s| pct((x.last_close - s).abs() / x.last_close))
                    .unwrap_or_else(|| "n/a".into()),
                pnl: money(pnl),
                losing: pnl < 0.0,
                as_of: day.to_string(),
            });
        }
    }
    for t in l.trades()?.iter().filter(|t| t.is_open()) {
        let entry = f(t.trade.price);
        out.push(PositionRow {
            book: "manual".into(),
            source: "manual".into(),
            symbol: t.trade.symbol.to_string(),
            qty: systrade_core::money::decimal_text(t.sign() * t.open_qty),
            avg_price: price(entry),
            last: "n/a".into(),
            value: money(entry * f(t.open_qty)),
            stop: t
                .trade
                .stop
                .map(|s| price(f(s)))
                .unwrap_or_else(|| "none".into()),
            to_stop: "n/a".into(),
            pnl: "n/a".into(),
            losing: false,
            as_of: t.trade.date.to_string(),
        });
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
        let svg = curve_svg(&[
            (d("2024-01-02"), 100.0),
            (d("2024-01-03"), 110.0),
            (d("2024-01-04"), 105.0),
        ]);
        assert!(
            svg.contains("points=\"6.0,134.0 300.0,6.0 594.0,70.0 \""),
            "{svg}"
        );
        assert!(curve_svg(&[]).contains("not enough runs"));
    }
}
