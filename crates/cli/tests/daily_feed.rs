//! `systrade run` for bucket C (a low-float feed) on real prices: the paper account enters
//! each alert at the first open after it and sells after the holding window, exactly on the
//! backtest's sessions; every held position has exactly one stop at the broker; the ledger
//! equals the account; a day killed at every step reruns to the same end state; the kill
//! switch stops entries but not the window's exits; reruns are byte-identical.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod common;

use common::daily::*;
use common::{committed, read, rows, s};
use systrade_testkit::shared;

/// `configs/bucket_c.toml` with absolute paths (its feed beside the repository's configs).
fn bucket_c(dir: &Path) -> Option<PathBuf> {
    let data = shared("data")?;
    let feeds = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs/feeds");
    let text = committed("bucket_c.toml")
        .replace("\"../../shared/data/", &format!("\"{}/", data.display()))
        .replace("\"feeds/", &format!("\"{}/", feeds.display()));
    let p = dir.join("bucket_c.toml");
    std::fs::write(&p, format!("{text}\n[run]\nretry_base_ms = 1\n")).unwrap();
    Some(p)
}

/// The sessions of the S&P files from `from` to `to`.
fn sessions(from: &str, to: &str) -> Vec<String> {
    let f = shared("data/sp500_daily_alphavantage/daily/AAPL.csv").unwrap();
    let mut d: Vec<String> = read(&f)
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .filter(|d| d.as_str() >= from && d.as_str() <= to)
        .collect();
    d.sort();
    d
}

/// After a completed day: ledger = account, one stop per held position.
fn check_day(home: &Path, day: &str) {
    let held = broker_positions(home);
    assert_eq!(held, ledger_positions(home), "{day}: ledger = account");
    let stops = open_stops(home);
    assert_eq!(
        stops.keys().collect::<BTreeSet<_>>(),
        held.keys().collect::<BTreeSet<_>>(),
        "{day}: a stop for every held position"
    );
    for (sym, qs) in &stops {
        assert_eq!(
            qs,
            &vec![held[sym].clone()],
            "{day}: {sym}: exactly one stop"
        );
    }
}

#[test]
fn test_bucket_c_runs_daily_on_the_backtests_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cfg) = bucket_c(dir.path()) else {
        return;
    };
    let bt = dir.path().join("bt");
    let r = common::run(&["backtest", "--config", s(&cfg), "--out", s(&bt)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // What the backtest traded (not stops) per session, from 2021-01-04 on.
    let mut want: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for f in rows(&bt.join("fills.csv")) {
        if f["reason"] != "stop"
            && f["date"].as_str() >= "2021-01-05"
            && f["date"].as_str() <= "2021-02-26"
        {
            want.entry(f["date"].clone())
                .or_default()
                .insert((f["symbol"].clone(), f["side"].clone()));
        }
    }
    assert!(want.len() >= 4, "{want:?}");
    let home = dir.path().join("home");
    let mut got: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for d in sessions("2021-01-04", "2021-02-26") {
        let r = sys(&home, &["run", "--config", s(&cfg), "--as-of", &d], &[]);
        assert_eq!(r.code, 0, "{d}: {}{}", r.stdout, r.stderr);
        check_day(&home, &d);
        for o in query(
            &paper(&home),
            &format!(
                "SELECT DISTINCT o.symbol, o.side FROM fills f JOIN orders o ON o.client_order_id = f.client_order_id \
                 WHERE f.date = '{d}' AND o.stop_price IS NULL"
            ),
        ) {
            got.entry(d.clone())
                .or_default()
                .insert((o[0].clone(), o[1].clone()));
        }
        assert!(
            home.join(format!("runs/bucket_c/{d}/alerts_{d}.csv"))
                .exists()
        );
    }
    // A stop that fired in the backtest fires at the broker too; the rest is the same.
    assert_eq!(got, want);
}

/// A home that ran the sessions before 2021-02-02 (entries on 2021-02-02).
fn warm(dir: &Path, cfg: &Path) -> PathBuf {
    let home = dir.join("warm");
    for d in sessions("2021-01-26", "2021-02-01") {
        let r = sys(&home, &["run", "--config", s(cfg), "--as-of", &d], &[]);
        assert_eq!(r.code, 0, "{d}: {}", r.stderr);
    }
    home
}

#[test]
fn test_a_feed_entry_day_killed_at_any_step_reruns_to_the_same_end_state() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cfg) = bucket_c(dir.path()) else {
        return;
    };
    let warm = warm(dir.path(), &cfg);
    let day = "2021-02-02";
    crash_at_every_step(dir.path(), &warm, &cfg, "bucket_c", day, |home| {
        check_day(home, day)
    });
}

#[test]
fn test_the_kill_switch_stops_feed_entries_and_reruns_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cfg) = bucket_c(dir.path()) else {
        return;
    };
    let warm = warm(dir.path(), &cfg);
    let twin = dir.path().join("twin");
    for d in sessions("2021-01-26", "2021-02-01") {
        let r = sys(&twin, &["run", "--config", s(&cfg), "--as-of", &d], &[]);
        assert_eq!(r.code, 0);
    }
    let files = |h: &Path| -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        for d in sessions("2021-01-26", "2021-02-01") {
            let f = h.join(format!("runs/bucket_c/{d}"));
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
    assert_eq!(files(&warm), files(&twin));
    let home = dir.path().join("killed");
    copy_dir(&warm, &home);
    let day = "2021-02-02";
    let r = sys(
        &home,
        &["run", "--config", s(&cfg), "--as-of", day],
        &[("SYSTRADE_KILL_SWITCH", "1")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    check_day(&home, day);
    let alerts = rows(&home.join(format!("runs/bucket_c/{day}/alerts_{day}.csv")));
    let entered: Vec<&String> = alerts
        .iter()
        .filter(|a| a["status"] == "entered")
        .map(|a| &a["symbol"])
        .collect();
    assert!(!entered.is_empty());
    let held = broker_positions(&home);
    for sym in entered {
        assert!(
            !held.contains_key(sym),
            "{sym}: no entry under the kill switch"
        );
    }
}
