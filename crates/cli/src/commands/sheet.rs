//! `systrade sheet`: a trade sheet from the user's own signals (spec/execution-and-buckets.md
//! §1). Reading and checking the files lives here; the sizing and the sheet are
//! `systrade_portfolio::{size, sheet}`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;
use systrade_core::Symbol;
use systrade_core::json::shortest;
use systrade_data::DataSource;
use systrade_portfolio::SizingLimits;
use systrade_portfolio::SizingMethod;
use systrade_portfolio::sheet::{Holding, Sheet, SheetInput, build_sheet, select_candidates};

use crate::args::{MethodArg, SheetArgs};
use crate::exit::bad;
use systrade_systems::table::Table;

/// `date,symbol,signal`, every date's signals by symbol.
fn read_signals(path: &Path) -> anyhow::Result<BTreeMap<NaiveDate, BTreeMap<Symbol, f64>>> {
    let t = Table::read(path, &["date", "symbol", "signal"], &[])?;
    let mut out: BTreeMap<NaiveDate, BTreeMap<Symbol, f64>> = BTreeMap::new();
    for (line, rec) in &t.rows {
        let raw = t.cell(rec, "symbol");
        let sym = Symbol::new(raw).map_err(|e| t.at(*line, e))?;
        let date = t.date(*line, raw, "date", t.cell(rec, "date"))?;
        let text = t.cell(rec, "signal");
        let v: f64 = text
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && (-1.0..=1.0).contains(v))
            .ok_or_else(|| {
                t.at(
                    *line,
                    format!("{sym}: signal {text:?} is not a number in [-1, 1]"),
                )
            })?;
        if out
            .entry(date)
            .or_default()
            .insert(sym.clone(), v)
            .is_some()
        {
            return Err(t.at(*line, format!("{sym}: a second signal for {date}")));
        }
    }
    if out.is_empty() {
        return Err(bad(format!("{}: no signals", t.path)));
    }
    Ok(out)
}

/// `symbol,qty[,avg_price][,last_buy][,last_loss_sale]`.
fn read_positions(path: &Path) -> anyhow::Result<BTreeMap<Symbol, Holding>> {
    let t = Table::read(
        path,
        &["symbol", "qty"],
        &["avg_price", "last_buy", "last_loss_sale"],
    )?;
    let mut out = BTreeMap::new();
    for (line, rec) in &t.rows {
        let raw = t.cell(rec, "symbol");
        let sym = Symbol::new(raw).map_err(|e| t.at(*line, e))?;
        let num = |col: &str, positive: bool| -> anyhow::Result<Option<f64>> {
            match t.cell(rec, col) {
                "" => Ok(None),
                x => x
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && (*v > 0.0 || (!positive && *v == 0.0)))
                    .map(Some)
                    .ok_or_else(|| {
                        t.at(
                            *line,
                            format!(
                                "{sym}: {col} {x:?} is not a {} number",
                                if positive { "positive" } else { "non-negative" }
                            ),
                        )
                    }),
            }
        };
        let qty =
            num("qty", false)?.ok_or_else(|| t.at(*line, format!("{sym}: qty is missing")))?;
        let date = |col: &str| -> anyhow::Result<Option<NaiveDate>> {
            match t.cell(rec, col) {
                "" => Ok(None),
                x => t.date(*line, raw, col, x).map(Some),
            }
        };
        let h = Holding {
            qty,
            avg_price: num("avg_price", true)?,
            last_buy: date("last_buy")?,
            last_loss_sale: date("last_loss_sale")?,
        };
        if out.insert(sym.clone(), h).is_some() {
            return Err(t.at(*line, format!("{sym}: listed twice")));
        }
    }
    Ok(out)
}

fn method(m: MethodArg) -> SizingMethod {
    match m {
        MethodArg::Equal => SizingMethod::Equal,
        MethodArg::Signal => SizingMethod::Signal,
        MethodArg::InverseVol => SizingMethod::InverseVol,
        MethodArg::RiskParity => SizingMethod::RiskParity,
        MethodArg::MinVariance => SizingMethod::MinVariance,
        MethodArg::Kelly => SizingMethod::Kelly,
    }
}

/// The sheet as CSV.
/// The sheet as CSV: the columns, then what staging it needs (`last_close`, the
/// decision price, and `as_of`, the date of its prices).
pub fn sheet_csv(sh: &Sheet, as_of: NaiveDate) -> String {
    let mut out = String::from(
        "action,symbol,shares,limit_price,est_cost,signal,target_weight,wash_sale_risk,last_close,as_of\n",
    );
    for r in &sh.rows {
        out.push_str(&format!(
            "{},{},{},{},{:.2},{},{},{},{},{as_of}\n",
            r.action.as_str(),
            r.symbol,
            shortest(r.shares),
            shortest(r.limit_price),
            r.est_cost,
            r.signal.map(shortest).unwrap_or_default(),
            shortest(r.target_weight),
            u8::from(r.wash_sale_risk),
            shortest(r.last_close)
        ));
    }
    out
}

pub fn run(a: &SheetArgs) -> anyhow::Result<()> {
    let m = method(a.method);
    let signals = read_signals(&a.signals)?;
    let (&date, today) = match a.as_of {
        Some(d) => signals.range(..=d).next_back().ok_or_else(|| {
            bad(format!(
                "{}: no signals on or before --as-of {d}",
                a.signals.display()
            ))
        })?,
        None => signals
            .iter()
            .next_back()
            .ok_or_else(|| bad("no signals"))?,
    };
    let as_of = a.as_of.unwrap_or(date);
    let held = match &a.positions {
        Some(p) => read_positions(p)?,
        None => BTreeMap::new(),
    };
    if a.max_positions == Some(0) {
        return Err(bad("--max-positions must be at least 1"));
    }
    if a.lookback < 2 && m.needs_returns() {
        return Err(bad("--lookback must be at least 2 returns"));
    }
    let source = DataSource::open(&a.data)?;
    let opts = a.read.parse_options();
    let mut bars = BTreeMap::new();
    let mut symbols: Vec<&Symbol> = today.keys().chain(held.keys()).collect();
    symbols.sort();
    symbols.dedup();
    for s in symbols {
        let series = source.daily(s, &opts).with_context(|| {
            format!(
                "{s}: named in {} but not readable from {}",
                if today.contains_key(s) {
                    a.signals.display()
                } else {
                    a.positions.as_deref().unwrap_or(Path::new("")).display()
                },
                a.data.display()
            )
        })?;
        let upto: Vec<_> = series.bars.into_iter().filter(|b| b.ts <= as_of).collect();
        if upto.is_empty() {
            return Err(bad(format!("{s}: no price on or before {as_of}")));
        }
        bars.insert(s.clone(), upto);
    }
    let closes: BTreeMap<Symbol, f64> = bars
        .iter()
        .map(|(s, b)| (s.clone(), b[b.len() - 1].close))
        .collect();
    let candidates = select_candidates(today, a.max_positions);
    let mut returns = BTreeMap::new();
    if m.needs_returns() && !candidates.is_empty() {
        // Dates every candidate has, the last lookback + 1 of them.
        let mut common: Option<std::collections::BTreeSet<NaiveDate>> = None;
        for (s, _) in &candidates {
            let d: std::collections::BTreeSet<NaiveDate> = bars[s].iter().map(|b| b.ts).collect();
            common = Some(match common {
                None => d,
                Some(c) => c.intersection(&d).copied().collect(),
            });
        }
        let common: Vec<NaiveDate> = common.unwrap_or_default().into_iter().collect();
        if common.len() < a.lookback + 1 {
            return Err(bad(format!(
                "{}: the {} candidates share {} dates up to {as_of}; {} needs {} (--lookback {} returns)",
                m.as_str(),
                candidates.len(),
                common.len(),
                m.as_str(),
                a.lookback + 1,
                a.lookback
            )));
        }
        let window = &common[common.len() - a.lookback - 1..];
        for (s, _) in &candidates {
            let by: BTreeMap<NaiveDate, f64> = bars[s].iter().map(|b| (b.ts, b.close)).collect();
            let px: Vec<f64> = window.iter().map(|d| by[d]).collect();
            returns.insert(
                s.clone(),
                px.windows(2).map(|w| w[1] / w[0] - 1.0).collect::<Vec<_>>(),
            );
        }
    }
    let sheet = build_sheet(&SheetInput {
        as_of,
        capital: a.capital,
        method: m,
        limits: SizingLimits {
            max_weight: a.max_weight,
            kelly_fraction: a.kelly_fraction,
        },
        drift: a.drift,
        limit_offset: a.limit_offset,
        qty_decimals: a.qty_decimals,
        candidates,
        returns,
        closes,
        held,
        signals: today.clone(),
    })
    .map_err(|e| bad(e.to_string()))?;
    let csv = sheet_csv(&sheet, as_of);
    if let Some(out) = &a.out {
        systrade_core::fsio::write_atomic(out, csv.as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
    }
    print_table(&sheet, m, date, a.capital);
    if let Some(out) = &a.out {
        println!("wrote {}", out.display());
    }
    Ok(())
}

fn print_table(sh: &Sheet, m: SizingMethod, date: NaiveDate, capital: f64) {
    println!(
        "trade sheet: {} signals of {date}, capital {capital:.2}",
        m.as_str()
    );
    println!(
        "{:<6} {:<12} {:>12} {:>12} {:>14} {:>8} {:>8}  flags",
        "action", "symbol", "shares", "limit", "est_cost", "signal", "weight"
    );
    for r in &sh.rows {
        println!(
            "{:<6} {:<12} {:>12} {:>12} {:>14.2} {:>8} {:>8.4}  {}",
            r.action.as_str(),
            r.symbol.as_str(),
            shortest(r.shares),
            shortest(r.limit_price),
            r.est_cost,
            r.signal.map(|s| format!("{s:.3}")).unwrap_or_default(),
            r.target_weight,
            if r.wash_sale_risk {
                "wash_sale_risk"
            } else {
                ""
            }
        );
    }
    if sh.rows.is_empty() {
        println!("  nothing to trade");
    }
    if !sh.within_drift.is_empty() {
        println!(
            "held within the drift band (no trade): {}",
            sh.within_drift
                .iter()
                .map(Symbol::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    if !sh.cut_for_cash.is_empty() {
        println!(
            "buys cut to fit the capital: {}",
            sh.cut_for_cash
                .iter()
                .map(Symbol::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    println!(
        "after the sheet: invested {:.2}, cash {:.2}",
        sh.invested, sh.cash_left
    );
}
