//! `systrade run` for bucket A (the monthly rotation) and for a portfolio of buckets, on the
//! real ETF and Binance files: the paper account follows the backtest's months (a catch-up
//! on the first day, the rebalance at the open after each deciding close, nothing between),
//! the ledger equals the account, a kill at every step of a rebalance day reruns to the same
//! end state, reruns are byte-identical, the kill switch stops entries but not exits, and a
//! portfolio runs each bucket as its own book with its capital and account.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod common;

use common::daily::*;
use common::{committed, read, rows, s};
use systrade_testkit::shared;

/// `configs/bucket_a.toml` with absolute data paths, trading at the next open (as its daily
/// run does), and `extra` TOML appended.
fn bucket_a(dir: &Path, extra: &str) -> Option<PathBuf> {
    let data = shared("data")?;
    let text = committed("bucket_a.toml")
        .replace("\"../../shared/data/", &format!("\"{}/", data.display()))
        .replace("fill = \"close\"", "fill = \"next_open\"");
    let p = dir.join("bucket_a.toml");
    std::fs::write(&p, format!("{text}\n[run]\nretry_base_ms = 1\n{extra}\n")).unwrap();
    Some(p)
}

/// The US sessions of the data from `from` to `to`, from SPY's file.
fn sessions(from: &str, to: &str) -> Vec<String> {
    let f = shared("data/us_etf_daily_yahoo/SPY.csv").unwrap();
    read(&f)
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .filter(|d| d.as_str() >= from && d.as_str() <= to)
        .collect()
}

fn paper_of(home: &Path, account: &str) -> PathBuf {
    home.join(format!("paper/{account}.sqlite"))
}

/// The names each month of the backtest selected, by its trade date.
fn months(cfg: &Path, dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let out = dir.join("bt");
    let r = common::run(&["backtest", "--config", s(cfg), "--out", s(&out)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in rows(&out.join("targets.csv")) {
        let e = m.entry(r["trade_date"].clone()).or_default();
        if r["status"] == "selected" {
            e.insert(r["symbol"].clone());
        }
    }
    m
}

#[test]
fn test_bucket_a_runs_daily_and_holds_the_backtests_months() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cfg) = bucket_a(dir.path(), "") else {
        return;
    };
    let want = months(&cfg, dir.path());
    let home = dir.path().join("home");
    let days = sessions("2021-03-24", "2021-05-12");
    assert!(days.len() > 30);
    let mut rebalances = 0;
    for (k, d) in days.iter().enumerate() {
        let r = sys(&home, &["run", "--config", s(&cfg), "--as-of", d], &[]);
        assert_eq!(r.code, 0, "{d}: {}{}", r.stdout, r.stderr);
        let broker = positions_in(&paper_of(&home, "paper"));
        assert_eq!(broker, ledger_positions(&home), "{d}: ledger = account");
        let summary: serde_json::Value = serde_json::from_str(&read(
            &home.join(format!("runs/bucket_a/{d}/daily_summary_{d}.json")),
        ))
        .unwrap();
        assert_eq!(
            summary["reconciliation"]["mismatches"],
            serde_json::json!([])
        );
        let kind = summary["targets"]["when"]["kind"]
            .as_str()
            .unwrap()
            .to_string();
        let orders = std::fs::read_to_string(
            home.join(format!("runs/bucket_a/{d}/logs/desired_trades.jsonl")),
        )
        .unwrap_or_default()
        .lines()
        .count();
        match (k, kind.as_str()) {
            (0, "catch_up") => assert!(orders > 0, "{d}: the first day buys the month"),
            (_, "at_open") => {
                rebalances += 1;
                // The rebalance the backtest trades at this open: the same names held after.
                let names: BTreeSet<String> = broker.keys().cloned().collect();
                assert_eq!(Some(&names), want.get(d.as_str()), "{d}");
            }
            (_, "hold") => assert_eq!(orders, 0, "{d}: nothing between rebalances"),
            other => panic!("{d}: {other:?}"),
        }
    }
    assert_eq!(rebalances, 2, "April's and May's rebalances");
}

#[test]
fn test_a_rotation_rebalance_day_killed_at_any_step_reruns_to_the_same_end_state() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cfg) = bucket_a(dir.path(), "") else {
        return;
    };
    let warm = dir.path().join("warm");
    for d in ["2021-03-31", "2021-04-01"] {
        let r = sys(&warm, &["run", "--config", s(&cfg), "--as-of", d], &[]);
        assert_eq!(r.code, 0, "{d}: {}", r.stderr);
    }
    // Determinism: a second home running the same days holds the same bytes.
    let twin = dir.path().join("twin");
    for d in ["2021-03-31", "2021-04-01"] {
        let r = sys(&twin, &["run", "--config", s(&cfg), "--as-of", d], &[]);
        assert_eq!(r.code, 0);
    }
    let files = |h: &Path| -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        for d in ["2021-03-31", "2021-04-01"] {
            let f = h.join(format!("runs/bucket_a/{d}"));
            for e in std::fs::read_dir(&f).unwrap() {
                let p = e.unwrap().path();
                if p.is_file() {
                    out.insert(
                        p.strip_prefix(h).unwrap().display().to_string(),
                        std::fs::read(&p).unwrap(),
                    );
                }
            }
        }
        out
    };
    assert!(files(&warm).len() >= 6);
    assert_eq!(files(&warm), files(&twin));
    // 2021-04-05 trades April's rebalance (decided on the close of 2021-04-01).
    crash_at_every_step(dir.path(), &warm, &cfg, "bucket_a", "2021-04-05", |home| {
        assert_eq!(
            positions_in(&paper_of(home, "paper")),
            ledger_positions(home)
        );
    });
}

#[test]
fn test_the_kill_switch_stops_a_rotations_entries_but_not_its_exits() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cfg) = bucket_a(dir.path(), "") else {
        return;
    };
    let home = dir.path().join("home");
    for d in ["2021-03-31", "2021-04-01"] {
        let r = sys(&home, &["run", "--config", s(&cfg), "--as-of", d], &[]);
        assert_eq!(r.code, 0, "{d}: {}", r.stderr);
    }
    let before = positions_in(&paper_of(&home, "paper"));
    let d = "2021-04-05";
    let r = sys(
        &home,
        &["run", "--config", s(&cfg), "--as-of", d],
        &[("SYSTRADE_KILL_SWITCH", "1")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let after = positions_in(&paper_of(&home, "paper"));
    let log = read(&home.join(format!("runs/bucket_a/{d}/logs/desired_trades.jsonl")));
    let (mut entries, mut exits) = (0, 0);
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let sym = v["symbol"].as_str().unwrap();
        match v["reason"].as_str().unwrap() {
            "entry" | "add" => {
                assert_eq!(after.get(sym), before.get(sym), "{sym}: new risk waits");
                entries += 1;
            }
            "exit" => {
                assert_eq!(after.get(sym), None, "{sym}: the exit goes out");
                exits += 1;
            }
            _ => {}
        }
    }
    assert!(entries > 0 && exits > 0, "{entries} entries, {exits} exits");
}

#[test]
fn test_a_portfolio_runs_each_bucket_as_its_own_book() {
    let dir = tempfile::tempdir().unwrap();
    let Some(a) = bucket_a(dir.path(), "") else {
        return;
    };
    let data = shared("data").unwrap();
    let b = dir.path().join("bucket_b.toml");
    std::fs::write(
        &b,
        committed("bucket_b.toml")
            .replace("\"../../shared/data/", &format!("\"{}/", data.display()))
            + "\n[run]\nretry_base_ms = 1\n",
    )
    .unwrap();
    let portfolio = |accounts: (&str, &str)| {
        let p = dir.path().join("portfolio.toml");
        std::fs::write(
            &p,
            format!(
                "strategy = \"portfolio\"\ncapital = 1000000.0\n\
                 [[buckets]]\nname = \"A\"\nconfig = \"{}\"\ncapital = 0.6\nmax_positions = 3\naccount = \"{}\"\n\
                 [[buckets]]\nname = \"B\"\nconfig = \"{}\"\ncapital = 0.3\nmax_positions = 2\naccount = \"{}\"\n",
                s(&a),
                accounts.0,
                s(&b),
                accounts.1
            ),
        )
        .unwrap();
        p
    };
    let home = dir.path().join("home");
    // Two buckets in one account would mix their positions: refused before anything runs.
    let same = portfolio(("acct", "acct"));
    let r = sys(
        &home,
        &["run", "--config", s(&same), "--as-of", "2021-03-31"],
        &[],
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("buckets A and B both trade in account \"acct\""),
        "{}",
        r.stderr
    );
    assert!(!home.join("ledger.sqlite").exists());
    let p = portfolio(("pa", "pb"));
    for d in ["2021-03-31", "2021-04-01", "2021-04-05"] {
        let r = sys(&home, &["run", "--config", s(&p), "--as-of", d], &[]);
        assert_eq!(r.code, 0, "{d}: {}{}", r.stdout, r.stderr);
        assert!(r.stdout.contains(&format!("A {d}: equity")), "{}", r.stdout);
        assert!(r.stdout.contains(&format!("B {d}: equity")), "{}", r.stdout);
    }
    // Each bucket's account started with its capital and holds what its book holds.
    let books = query(
        &ledger(&home),
        "SELECT strategy, account FROM books ORDER BY 1",
    );
    assert_eq!(
        books,
        vec![
            vec!["A".to_string(), "pa".into()],
            vec!["B".to_string(), "pb".into()]
        ]
    );
    let equity = |book: &str, d: &str| -> f64 {
        let v: serde_json::Value = serde_json::from_str(&read(
            &home.join(format!("runs/{book}/{d}/daily_summary_{d}.json")),
        ))
        .unwrap();
        v["equity"].as_f64().unwrap()
    };
    // The first day trades at its open: equity within 1% of the capital.
    assert!((equity("A", "2021-03-31") / 600_000.0 - 1.0).abs() < 0.01);
    assert!((equity("B", "2021-03-31") / 300_000.0 - 1.0).abs() < 0.01);
    for (book, acct, limit) in [("A", "pa", 3), ("B", "pb", 2)] {
        let held = positions_in(&paper_of(&home, acct));
        assert!(!held.is_empty() && held.len() <= limit, "{book}: {held:?}");
        let in_ledger: BTreeMap<String, String> = query(
            &ledger(&home),
            &format!("SELECT symbol, qty FROM positions WHERE strategy = '{book}'"),
        )
        .into_iter()
        .filter(|r| norm(&r[1]) != "0")
        .map(|r| (r[0].clone(), norm(&r[1])))
        .collect();
        assert_eq!(held, in_ledger, "{book}");
    }
    // `systrade portfolio` groups the books by bucket.
    let r = sys(
        &home,
        &[
            "portfolio",
            "--data",
            s(&data.join("us_etf_daily_yahoo")),
            "--data",
            s(&data.join("crypto_binance_spot/1d")),
            "--as-of",
            "2021-04-05",
            "--json",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let by = v["exposure"]["by_bucket"].as_object().unwrap();
    assert_eq!(by.keys().collect::<Vec<_>>(), ["A", "B"]);
    assert!(by["A"]["gross"].as_f64().unwrap() > 0.0);
}
