//! `systrade portfolio`: the merged view (`systrade_desk::portfolio`) written as
//! `portfolio_snapshot_D.json` and printed.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;
use systrade_desk::portfolio::{PortfolioRequest, snapshot};

use crate::args::PortfolioArgs;
use crate::exit::existing_ledger;

/// `systrade portfolio`.
pub fn run(home: &Path, a: &PortfolioArgs) -> anyhow::Result<()> {
    let ledger = existing_ledger(
        home,
        "run `systrade run`, `systrade orders stage` or `systrade trades add`",
    )?;
    let as_of = match a.as_of {
        Some(d) => d,
        None => systrade_live::env_now()?.date_naive(),
    };
    let snapshot = snapshot(
        home,
        &ledger,
        &PortfolioRequest {
            data: a.data.clone(),
            as_of,
            manual_cash: a.manual_cash,
            vol_window: a.vol_window,
            parse: a.read.parse_options(),
        },
    )?;
    let out_dir: PathBuf = a.out.clone().unwrap_or_else(|| home.join("portfolio"));
    let file = out_dir.join(format!("portfolio_snapshot_{as_of}.json"));
    systrade_core::fsio::write_json_atomic(&file, &snapshot)
        .with_context(|| format!("writing {}", file.display()))?;
    if a.json {
        println!(
            "{}",
            systrade_core::json::to_canonical_pretty(&snapshot)?.trim_end()
        );
        return Ok(());
    }
    print_view(&snapshot);
    println!("wrote {}", file.display());
    Ok(())
}

fn print_view(s: &Value) {
    let n = |v: &Value| v.as_f64().unwrap_or(0.0);
    println!(
        "portfolio on {}: capital {:.2}, cash {:.2}, gross {:.2} ({:.1}%), net {:.2} ({:.1}%)",
        s["as_of"].as_str().unwrap_or(""),
        n(&s["capital"]),
        n(&s["cash"]["total"]),
        n(&s["gross"]),
        100.0 * n(&s["gross_exposure"]),
        n(&s["net"]),
        100.0 * n(&s["net_exposure"])
    );
    println!(
        "PnL net of fees: realised {:.2}, unrealised {:.2} (fees {:.2}); drawdown {:.2}% (max {:.2}%), vol {}",
        n(&s["realized_pnl"]),
        n(&s["unrealized_pnl"]),
        n(&s["fees"]),
        100.0 * n(&s["drawdown"]),
        100.0 * n(&s["max_drawdown"]),
        s["rolling_vol"]["annualized"].as_f64().map_or(
            "n/a (too few days)".to_string(),
            |v| format!(
                "{:.2}% a year over {} days",
                100.0 * v,
                s["rolling_vol"]["window"]
            )
        )
    );
    println!(
        "{:<7} {:<14} {:<10} {:>12} {:>12} {:>12} {:>12} {:>12} {:>10}",
        "source", "book", "symbol", "qty", "avg", "close", "value", "unrealised", "stop"
    );
    for p in s["positions"].as_array().into_iter().flatten() {
        println!(
            "{:<7} {:<14} {:<10} {:>12} {:>12.4} {:>12.4} {:>12.2} {:>12.2} {:>10}",
            p["source"].as_str().unwrap_or(""),
            p["book"].as_str().unwrap_or(""),
            p["symbol"].as_str().unwrap_or(""),
            n(&p["qty"]),
            n(&p["avg_price"]),
            n(&p["last_close"]),
            n(&p["value"]),
            n(&p["unrealized_pnl"]),
            p["stop"].as_f64().map_or("-".into(), |v| format!("{v:.4}"))
        );
    }
    for (title, key) in [
        ("source", "by_source"),
        ("bucket", "by_bucket"),
        ("sector", "by_sector"),
        ("asset class", "by_asset_class"),
    ] {
        let m = s["exposure"][key].as_object().cloned().unwrap_or_default();
        let parts: Vec<String> = m
            .iter()
            .map(|(k, v)| format!("{k} {:.1}%", 100.0 * n(&v["gross_of_capital"])))
            .collect();
        println!("exposure by {title}: {}", parts.join(", "));
    }
    for (book, rows) in s["system_trades"].as_object().into_iter().flatten() {
        let rows = rows.as_array().cloned().unwrap_or_default();
        let rs: Vec<f64> = rows
            .iter()
            .filter_map(|r| r["r_multiple"].as_f64())
            .collect();
        let eff: Vec<f64> = rows
            .iter()
            .filter_map(|r| r["stop_efficiency"].as_f64())
            .collect();
        let mean = |v: &[f64]| {
            (!v.is_empty())
                .then(|| v.iter().sum::<f64>() / v.len() as f64)
                .map_or("n/a".to_string(), |m| format!("{m:.2}"))
        };
        println!(
            "{book}: {} closed trades, mean R {}, mean stop efficiency {}",
            rows.len(),
            mean(&rs),
            mean(&eff)
        );
        println!(
            "  {:<8} {:<10} {:<10} {:<14} {:>6} {:>7} {:>7} {:>6} {:>4} {:<8}",
            "symbol", "entry", "exit", "reason", "R", "MAE R", "MFE R", "eff", "days", "stops"
        );
        for r in rows.iter().rev().take(10) {
            let x = |k: &str| r[k].as_f64().map_or("-".into(), |v| format!("{v:.2}"));
            println!(
                "  {:<8} {:<10} {:<10} {:<14} {:>6} {:>7} {:>7} {:>6} {:>4} {:<8}",
                r["symbol"].as_str().unwrap_or(""),
                r["entry_date"].as_str().unwrap_or(""),
                r["exit_date"].as_str().unwrap_or(""),
                r["exit_reason"].as_str().unwrap_or(""),
                x("r_multiple"),
                x("mae_r"),
                x("mfe_r"),
                x("stop_efficiency"),
                r["holding_days"]
                    .as_f64()
                    .map_or("-".into(), |v| format!("{v}")),
                r["stop_mode"].as_str().unwrap_or("")
            );
        }
    }
    let closed = s["closed_trades"].as_array().map_or(0, Vec::len);
    if closed > 0 {
        println!("closed trades: {closed} (R-multiples, MAE/MFE and holding days in the snapshot)");
    }
}
