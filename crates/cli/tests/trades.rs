//! `systrade trades`: manual trades in the ledger from the command line — hand-computed
//! realised PnL and R, a FIFO import, and every refusal exiting 2 with the ledger unchanged.

use std::path::Path;

use serde_json::Value;

mod common;

use common::daily::sys;
use common::s;

fn list(home: &Path) -> Value {
    let r = sys(home, &["trades", "list", "--all", "--json"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

const NOW: (&str, &str) = ("SYSTRADE_NOW", "2024-06-30T20:00:00Z");

#[test]
fn test_manual_trades_add_close_import_and_refusals_that_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let r = sys(
        &home,
        &[
            "trades",
            "add",
            "--symbol",
            "AAPL",
            "--side",
            "buy",
            "--qty",
            "100",
            "--price",
            "187.20",
            "--date",
            "2024-06-03",
            "--fees",
            "1",
            "--stop",
            "178",
            "--tags",
            "swing,earnings",
            "--notes",
            "breakout",
        ],
        &[NOW],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("added trade 1: long 100 AAPL"),
        "{}",
        r.stdout
    );
    let r = sys(
        &home,
        &[
            "trades",
            "close",
            "1",
            "--qty",
            "40",
            "--price",
            "200",
            "--date",
            "2024-06-10",
            "--fees",
            "1",
        ],
        &[NOW],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let csv = dir.path().join("export.csv");
    std::fs::write(
        &csv,
        "date,symbol,side,qty,price,fees,tags\n\
         2024-06-05,MSFT,sell,4,410,1,\n\
         2024-06-03,MSFT,buy,10,400,1,core;long-term\n",
    )
    .unwrap();
    let r = sys(&home, &["trades", "import", "--file", s(&csv)], &[NOW]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("1 trades opened, 1 closes"),
        "{}",
        r.stdout
    );
    let v = list(&home);
    let t = v.as_array().unwrap();
    assert_eq!(t.len(), 2);
    // 40 × (200 − 187.2) − 1 − 1 × 40/100 = 510.6; (200 − 187.2)/(187.2 − 178) = 1.3913 R.
    assert_eq!(t[0]["open_qty"], "60");
    assert_eq!(t[0]["realized_pnl"], "510.6");
    assert_eq!(t[0]["r_multiple"], "1.3913");
    assert_eq!(t[0]["tags"], serde_json::json!(["swing", "earnings"]));
    // MSFT: bought 10 at 400 (fee 1), sold 4 at 410 (fee 1): 40 − 1 − 0.4 = 38.6.
    assert_eq!(
        (t[1]["symbol"].as_str(), t[1]["open_qty"].as_str()),
        (Some("MSFT"), Some("6"))
    );
    assert_eq!(t[1]["realized_pnl"], "38.6");
    assert_eq!(t[1]["tags"], serde_json::json!(["core", "long-term"]));

    let before = list(&home);
    let bad_export = dir.path().join("bad.csv");
    for (args, file, want) in [
        (
            vec![
                "trades",
                "close",
                "1",
                "--qty",
                "61",
                "--price",
                "190",
                "--date",
                "2024-06-11",
            ],
            None,
            "closing 61 is more than the 60 still open",
        ),
        (
            vec![
                "trades",
                "close",
                "7",
                "--price",
                "190",
                "--date",
                "2024-06-11",
            ],
            None,
            "no manual trade with id 7",
        ),
        (
            vec![
                "trades",
                "add",
                "--symbol",
                "X",
                "--side",
                "buy",
                "--qty",
                "1",
                "--price",
                "5",
                "--date",
                "2024-07-02",
            ],
            None,
            "date 2024-07-02 is in the future (today is 2024-06-30)",
        ),
        (
            vec![
                "trades",
                "add",
                "--symbol",
                "X",
                "--side",
                "buy",
                "--qty=-3",
                "--price",
                "5",
                "--date",
                "2024-06-02",
            ],
            None,
            "qty must be positive",
        ),
        (
            vec![
                "trades",
                "add",
                "--symbol",
                "X",
                "--side",
                "long",
                "--qty",
                "3",
                "--price",
                "5",
                "--date",
                "2024-06-02",
            ],
            None,
            "invalid value 'long'",
        ),
        (
            vec!["trades", "update", "1", "--qty", "30"],
            None,
            "qty 30 is less than the 40 already closed",
        ),
        (vec!["trades", "update", "1"], None, "nothing to change"),
        (
            vec!["trades", "import", "--file"],
            Some(
                "date,symbol,side,qty,price\n2024-06-03,NVDA,buy,10,100\n2024-06-04,NVDA,short,1,100\n",
            ),
            "bad.csv line 3: NVDA: unknown side \"short\"",
        ),
        (
            vec!["trades", "import", "--file"],
            Some(
                "date,symbol,side,qty,price\n2024-06-03,NVDA,buy,10,100\n2024-06-04,NVDA,sell,11,90\n2024-06-04,AMD,buy,1,abc\n",
            ),
            "line 4: AMD: price \"abc\" is not a number",
        ),
        (
            vec!["trades", "import", "--file"],
            Some(
                "date,symbol,side,qty,price\n2024-06-03,NVDA,buy,10,100\n2099-06-04,AMD,buy,1,5\n",
            ),
            "line 3: AMD: date 2099-06-04 is in the future",
        ),
    ] {
        let mut args: Vec<&str> = args;
        if let Some(text) = file {
            std::fs::write(&bad_export, text).unwrap();
            args.push(s(&bad_export));
        }
        let r = sys(&home, &args, &[NOW]);
        assert_eq!(r.code, 2, "{want}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(want), "{want}: {}", r.stderr);
        assert_eq!(list(&home), before, "{want}: the ledger is unchanged");
    }
}
