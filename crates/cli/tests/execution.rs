//! Execution levels end to end (spec/execution-and-buckets.md §1, §2, §6): signals → trade
//! sheet → orders staged for approval → `systrade approve` → paper fills → the merged
//! portfolio with manual trades, with PnL computed here by hand from the data files; the
//! semi-auto daily run; and bad input to every command leaving the ledger as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;

use common::daily::*;
use common::{read, s};
use systrade_testkit::shared;

const NOW: (&str, &str) = ("SYSTRADE_NOW", "2020-01-10T21:00:00Z");

/// `date → (open, close)` of a Yahoo CSV.
fn prices(data: &Path, sym: &str) -> BTreeMap<String, (f64, f64)> {
    read(&data.join(format!("{sym}.csv")))
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (
                c[0].to_string(),
                (c[1].parse().unwrap(), c[4].parse().unwrap()),
            )
        })
        .collect()
}

fn book(dir: &Path, data: &Path, extra: &str) -> PathBuf {
    let p = dir.join("book.toml");
    std::fs::write(
        &p,
        format!(
            "strategy = \"sheet\"\n[data]\nsource = {:?}\n[run]\nname = \"my-signals\"\npaper_cash = 10000\nretry_base_ms = 1\n[costs]\nfee_bps = 1\n{extra}\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    p
}

fn json_of(r: &common::Run) -> Value {
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

#[test]
fn test_signals_to_sheet_to_approval_to_paper_fills_to_the_merged_portfolio() {
    let Some(data) = shared("data/us_etf_daily_yahoo") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let signals = dir.path().join("signals.csv");
    std::fs::write(
        &signals,
        "date,symbol,signal\n2019-12-31,XLK,0.9\n2019-12-31,XLV,0.6\n2019-12-31,XLU,0.4\n",
    )
    .unwrap();
    let sheet = dir.path().join("sheet.csv");
    let r = sys(
        &home,
        &[
            "sheet",
            "--signals",
            s(&signals),
            "--capital",
            "10000",
            "--method",
            "inverse-vol",
            "--data",
            s(&data),
            // Limits 5% through the last close: each fills at the open (a limit or better).
            "--limit-offset",
            "0.05",
            "--out",
            s(&sheet),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let shares: BTreeMap<String, f64> = read(&sheet)
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            assert_eq!(c[0], "BUY");
            assert_eq!(c[9], "2019-12-31");
            (c[1].to_string(), c[2].parse().unwrap())
        })
        .collect();
    assert_eq!(shares.len(), 3);

    // Stage: every line waits (approve_above 0); a rerun stages nothing twice.
    let cfg = book(dir.path(), &data, "");
    for again in [false, true] {
        let r = sys(
            &home,
            &["orders", "stage", "--config", s(&cfg), "--sheet", s(&sheet)],
            &[NOW],
        );
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains(if again {
                "staged 0 orders"
            } else {
                "staged 3 orders for session 2020-01-02"
            }),
            "{}",
            r.stdout
        );
    }
    let pending = json_of(&sys(
        &home,
        &["orders", "list", "--status", "pending", "--json"],
        &[NOW],
    ));
    let pending = pending.as_array().unwrap();
    assert_eq!(pending.len(), 3);
    assert!(
        !paper(&home).exists(),
        "nothing reached the broker before approval"
    );
    let xlk = pending.iter().find(|o| o["symbol"] == "XLK").unwrap();
    let xlk_id = xlk["client_order_id"].as_str().unwrap().to_string();

    // Approve one, then the rest.
    let r = sys(&home, &["approve", "--config", s(&cfg), &xlk_id], &[NOW]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        json_of(&sys(
            &home,
            &["orders", "list", "--status", "pending", "--json"],
            &[NOW]
        ))
        .as_array()
        .unwrap()
        .len(),
        2
    );
    let r = sys(&home, &["approve", "--config", s(&cfg), "--all"], &[NOW]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    // Paper fills: at the open of 2020-01-02, 1 bp fee.
    let mut cash = 10_000.0;
    let mut unrealized = 0.0;
    let mut fills = Vec::new();
    for (sym, q) in &shares {
        let px = prices(&data, sym);
        let open = px["2020-01-02"].0;
        let close = px["2020-01-10"].1;
        let fee = q * open * 1e-4;
        cash -= q * open + fee;
        unrealized += q * (close - open) - fee;
        fills.push((sym.clone(), open));
    }
    let filled = json_of(&sys(
        &home,
        &["orders", "list", "--status", "filled", "--json"],
        &[NOW],
    ));
    for (sym, open) in &fills {
        let o = filled
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["symbol"] == sym.as_str())
            .unwrap();
        assert_eq!(o["approval"], "approved");
        assert_eq!(
            o["kind"], "limit",
            "the sheet's limit price went to the broker"
        );
        let avg: f64 = o["avg_price"].as_str().unwrap().parse().unwrap();
        assert!(
            (avg - open).abs() < 1e-9,
            "{sym}: filled at {avg}, open {open}"
        );
    }
    // The execution monitor: slippage vs the sheet's last close, per fill and per day.
    let slip = json_of(&sys(&home, &["orders", "slippage", "--json"], &[NOW]));
    assert_eq!(slip["fills"].as_array().unwrap().len(), 3);
    let mut cost = 0.0;
    let mut notional = 0.0;
    for fl in slip["fills"].as_array().unwrap() {
        let sym = fl["symbol"].as_str().unwrap();
        let last = prices(&data, sym)["2019-12-31"].1;
        let open = prices(&data, sym)["2020-01-02"].0;
        let bps = fl["slippage_bps"].as_f64().unwrap();
        assert!((bps - (open / last - 1.0) * 1e4).abs() < 0.01, "{fl}");
        cost += shares[sym] * (open - last);
        notional += shares[sym] * last;
    }
    let day = &slip["by_day"][0];
    assert_eq!(day["date"], "2020-01-02");
    assert_eq!(day["fills"], 3);
    let day_cost: f64 = day["slippage_cost"].as_str().unwrap().parse().unwrap();
    assert!((day_cost - cost).abs() < 1e-6, "{day} vs {cost}");
    assert!((day["slippage_bps"].as_f64().unwrap() - cost / notional * 1e4).abs() < 0.01);

    // The newsletter's section of the sheet book: its fills and positions at their cost.
    let letter = dir.path().join("letter.html");
    let r = sys(
        &home,
        &[
            "newsletter",
            "--preview",
            s(&letter),
            "--date",
            "2020-01-02",
        ],
        &[NOW],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = read(&letter.with_extension("txt"));
    assert!(text.contains("(trade sheet, session 2020-01-02)"), "{text}");
    for (sym, open) in &fills {
        let q = shares[sym];
        assert!(
            text.contains(&format!("  {sym} {q} @ avg {open:.2}, last n/a, value ")),
            "{sym}: {text}"
        );
        assert!(
            text.contains(&format!("  2020-01-02 BUY {q} {sym} @ {open:.2}")),
            "{sym}: {text}"
        );
    }

    // Two manual trades: SPY still open, XLE closed at a profit.
    for args in [
        vec![
            "trades",
            "add",
            "--symbol",
            "SPY",
            "--side",
            "buy",
            "--qty",
            "10",
            "--price",
            "320",
            "--date",
            "2020-01-03",
            "--fees",
            "1",
            "--stop",
            "310",
            "--tags",
            "bucket=core",
        ],
        vec![
            "trades",
            "add",
            "--symbol",
            "XLE",
            "--side",
            "buy",
            "--qty",
            "20",
            "--price",
            "60",
            "--date",
            "2020-01-02",
            "--fees",
            "1",
            "--stop",
            "57",
        ],
        vec![
            "trades",
            "close",
            "2",
            "--price",
            "61",
            "--date",
            "2020-01-08",
            "--fees",
            "1",
        ],
    ] {
        let r = sys(&home, &args, &[NOW]);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    }
    let spy_close = prices(&data, "SPY")["2020-01-10"].1;
    unrealized += 10.0 * (spy_close - 320.0) - 1.0;
    let realized = (61.0 - 60.0) * 20.0 - 2.0;

    let out = dir.path().join("snap");
    let args = [
        "portfolio",
        "--data",
        s(&data),
        "--as-of",
        "2020-01-10",
        "--manual-cash",
        "500",
        "--json",
        "--out",
        s(&out),
    ];
    let p = json_of(&sys(&home, &args, &[NOW]));
    let close = |a: &Value, b: f64| (a.as_f64().unwrap() - b).abs() < 0.006;
    assert!(close(&p["realized_pnl"], realized), "{}", p["realized_pnl"]);
    assert!(
        close(&p["unrealized_pnl"], unrealized),
        "{} vs {unrealized}",
        p["unrealized_pnl"]
    );
    assert!(close(&p["cash"]["total"], cash + 500.0), "{}", p["cash"]);
    let positions = p["positions"].as_array().unwrap();
    assert_eq!(positions.len(), 4, "{positions:?}");
    let by_source: BTreeMap<&str, usize> = positions.iter().fold(BTreeMap::new(), |mut m, x| {
        *m.entry(x["source"].as_str().unwrap()).or_default() += 1;
        m
    });
    assert_eq!(by_source, BTreeMap::from([("manual", 1), ("paper", 3)]));
    let net: f64 = positions.iter().map(|x| x["value"].as_f64().unwrap()).sum();
    assert!(close(&p["capital"], cash + 500.0 + net));
    assert!(
        p["exposure"]["by_bucket"]["core"]["gross"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(
        p["exposure"]["by_source"]["paper"]["gross"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert_eq!(
        p["open_stops"].as_array().unwrap().len(),
        1,
        "the manual SPY stop"
    );
    let t = &p["closed_trades"][0];
    assert_eq!(
        (t["symbol"].as_str(), t["holding_days"].as_i64()),
        (Some("XLE"), Some(6))
    );
    assert!((t["r_multiple"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-3);
    assert!(t["mae"].as_f64().unwrap() <= 0.0 && t["mfe"].as_f64().unwrap() >= 0.0);
    // Deterministic: the same call writes the same bytes.
    let file = out.join("portfolio_snapshot_2020-01-10.json");
    let first = read(&file);
    json_of(&sys(&home, &args, &[NOW]));
    assert_eq!(read(&file), first);
}

#[test]
fn test_bad_input_to_every_execution_command_leaves_the_ledger_unchanged() {
    let Some(data) = shared("data/us_etf_daily_yahoo") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let cfg = book(dir.path(), &data, "");
    let sheet = dir.path().join("sheet.csv");
    let good = "action,symbol,shares,last_close,as_of\nBUY,XLK,10,91.67,2019-12-31\n";
    std::fs::write(&sheet, good).unwrap();
    let r = sys(
        &home,
        &["orders", "stage", "--config", s(&cfg), "--sheet", s(&sheet)],
        &[NOW],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let before = ledger_dump(&home);
    let trend = dir.path().join("trend.toml");
    std::fs::write(&trend, "strategy = \"trend\"\n").unwrap();
    let bad_book = dir.path().join("bad_book.toml");
    std::fs::write(
        &bad_book,
        read(&cfg).replace("[costs]", "[costs]\nspread = 2"),
    )
    .unwrap();
    let bad_sheet = dir.path().join("bad.csv");
    for (text, args, want) in [
        (
            "action,symbol,shares,as_of\nBUY,NOPE,10,2019-12-31\n",
            vec![],
            "NOPE: unknown symbol",
        ),
        (
            "action,symbol,shares,as_of\nHOLD,XLK,10,2019-12-31\n",
            vec![],
            "line 2: XLK: action \"HOLD\"",
        ),
        (
            "action,symbol,shares,as_of\nBUY,XLK,-5,2019-12-31\n",
            vec![],
            "line 2: XLK: shares must be positive",
        ),
        (
            "action,symbol,shares,as_of\nBUY,XLK,2.5,2019-12-31\n",
            vec![],
            "not a multiple of the book's lot 1",
        ),
        (
            "action,symbol,shares,as_of\nBUY,XLK,1,2019-12-31\nSELL,XLK,1,2019-12-31\n",
            vec![],
            "line 3: XLK: listed twice",
        ),
        (
            "action,symbol,shares,as_of\nBUY,XLK,1,2019-13-31\n",
            vec![],
            "as_of \"2019-13-31\" is not a date",
        ),
        (
            "action,symbol,qty\nBUY,XLK,1\n",
            vec![],
            "needs a `shares` column",
        ),
        (
            "action,symbol,shares,as_of\nBUY,XLK,1,2019-12-31\n",
            vec!["--session", "2019-12-30"],
            "is not after the sheet's as_of",
        ),
        (
            "action,symbol,shares,as_of\nBUY,XLK,1,2019-12-31\n",
            vec!["--session", "2020-01-04"],
            "not a us trading day",
        ),
    ] {
        std::fs::write(&bad_sheet, text).unwrap();
        let mut a = vec![
            "orders",
            "stage",
            "--config",
            s(&cfg),
            "--sheet",
            s(&bad_sheet),
        ];
        a.extend(args);
        let r = sys(&home, &a, &[NOW]);
        assert_eq!(r.code, 2, "{a:?}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(want), "{want}: {}", r.stderr);
        assert_eq!(ledger_dump(&home), before, "{a:?} changed the ledger");
    }
    let filled_like = query(&ledger(&home), "SELECT client_order_id FROM orders")[0][0].clone();
    for (args, want) in [
        (
            vec![
                "orders",
                "stage",
                "--config",
                s(&trend),
                "--sheet",
                s(&sheet),
            ],
            "trend.toml",
        ),
        (
            vec![
                "orders",
                "stage",
                "--config",
                s(&bad_book),
                "--sheet",
                s(&sheet),
            ],
            "spread",
        ),
        (
            vec!["approve", "--config", s(&cfg)],
            "name the orders to approve",
        ),
        (
            vec!["approve", "--config", s(&cfg), "st-nope"],
            "order st-nope: not in the ledger",
        ),
        (
            vec!["approve", "--config", s(&cfg), &filled_like, &filled_like],
            "is named twice",
        ),
        (
            vec!["orders", "cancel", "st-nope"],
            "order st-nope: not in the ledger",
        ),
        (
            vec!["orders", "list", "--status", "bogus"],
            "--status \"bogus\"",
        ),
        (
            vec![
                "trades",
                "add",
                "--symbol",
                "SPY",
                "--side",
                "buy",
                "--qty",
                "-1",
                "--price",
                "1",
                "--date",
                "2020-01-02",
            ],
            "qty",
        ),
        (
            vec![
                "trades",
                "add",
                "--symbol",
                "SPY",
                "--side",
                "buy",
                "--qty",
                "1",
                "--price",
                "1",
                "--date",
                "2021-01-02",
            ],
            "future",
        ),
        (
            vec![
                "portfolio",
                "--data",
                s(&dir.path().join("nowhere")),
                "--as-of",
                "2020-01-10",
            ],
            "nowhere",
        ),
        (
            vec!["run", "--config", s(&cfg), "--as-of", "2020-01-02"],
            "a sheet book without a [signals] section has no daily run",
        ),
    ] {
        let r = sys(&home, &args, &[NOW]);
        assert_ne!(r.code, 0, "{args:?}: {}", r.stdout);
        assert!(r.stderr.contains(want), "{args:?} → {want}: {}", r.stderr);
        assert_eq!(ledger_dump(&home), before, "{args:?} changed the ledger");
    }
    // A canceled order cannot be approved or canceled again.
    let r = sys(&home, &["orders", "cancel", &filled_like], &[NOW]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let after_cancel = ledger_dump(&home);
    for args in [
        vec!["approve", "--config", s(&cfg), &filled_like],
        vec!["orders", "cancel", &filled_like],
    ] {
        let r = sys(&home, &args, &[NOW]);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stdout);
        assert!(r.stderr.contains("canceled"), "{}", r.stderr);
        assert_eq!(ledger_dump(&home), after_cancel);
    }
}
