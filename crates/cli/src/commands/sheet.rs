//! `systrade sheet`: a trade sheet from the user's own signals (spec/execution-and-buckets.md
//! §1). The work is `systrade_systems::sheet`; this module wires and prints.

use anyhow::Context;
use chrono::NaiveDate;
use systrade_core::Symbol;
use systrade_core::json::shortest;
use systrade_portfolio::SizingMethod;
use systrade_portfolio::sheet::Sheet;

use crate::args::{MethodArg, SheetArgs};
use systrade_systems::sheet::{SheetFiles, SheetParams, make_sheet, sheet_csv};

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

pub fn run(a: &SheetArgs) -> anyhow::Result<()> {
    let parse = a.read.parse_options();
    let files = SheetFiles {
        signals: &a.signals,
        positions: a.positions.as_deref(),
        data: &a.data,
        parse: &parse,
    };
    let m = method(a.method);
    let made = make_sheet(
        &files,
        &SheetParams {
            as_of: a.as_of,
            capital: a.capital,
            method: m,
            max_positions: a.max_positions,
            max_weight: a.max_weight,
            kelly_fraction: a.kelly_fraction,
            drift: a.drift,
            lookback: a.lookback,
            limit_offset: a.limit_offset,
            qty_decimals: a.qty_decimals,
        },
    )?;
    let csv = sheet_csv(&made.sheet, made.as_of);
    if let Some(out) = &a.out {
        systrade_core::fsio::write_atomic(out, csv.as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
    }
    print_table(&made.sheet, m, made.signal_date, a.capital);
    if let Some(out) = &a.out {
        println!("wrote {}", out.display());
    }
    if let Some(loss) = a.harvest_loss {
        harvest(a, &made, loss)?;
    }
    Ok(())
}

/// `--harvest-loss`: the tax-loss harvest proposals of the held names.
fn harvest(
    a: &SheetArgs,
    made: &systrade_systems::sheet::MadeSheet,
    loss: f64,
) -> anyhow::Result<()> {
    use systrade_systems::harvest::{HarvestParams, from_files, proposals_csv};
    let Some(positions) = &a.positions else {
        return Err(crate::exit::BadInput(
            "--harvest-loss needs --positions with each holding's avg_price".into(),
        )
        .into());
    };
    let ps = from_files(
        positions,
        &a.data,
        &a.read.parse_options(),
        made,
        &HarvestParams {
            min_loss: loss,
            min_corr: a.harvest_min_corr,
            lookback: a.lookback,
            qty_decimals: a.qty_decimals,
        },
    )?;
    println!(
        "\ntax-loss harvest (losses of {:.1}% or more):",
        loss * 100.0
    );
    if ps.is_empty() {
        println!("  no held name is that far below its cost");
    }
    for p in &ps {
        println!(
            "  SELL {} {} (cost {}, last {}: {:.2}, {:.1}%){}",
            shortest(p.qty),
            p.symbol,
            shortest(p.avg_price),
            shortest(p.last),
            p.loss,
            p.loss_pct * 100.0,
            p.replacement
                .as_ref()
                .map(|r| format!(
                    "; BUY {} {} (correlation {:.3})",
                    shortest(r.shares),
                    r.symbol,
                    r.corr
                ))
                .unwrap_or_default()
        );
        for n in &p.notes {
            println!("    note: {n}");
        }
    }
    if let Some(out) = &a.harvest_out {
        systrade_core::fsio::write_atomic(out, proposals_csv(&ps).as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
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
