//! Which session a daily run without `--as-of` trades, by the market's clock: a US run after
//! the close decides on that session's bar and trades the next open; before the open it
//! decides on the previous session; during the session it is refused. Crypto keeps 00:00 UTC
//! deciding on T−1.

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, TimeZone};
use serde_json::Value;

mod common;

use common::daily::*;
use common::{committed, read, s};
use systrade_testkit::shared;

/// `now` as RFC 3339 UTC for a New York wall-clock time on `day`.
fn new_york(day: &str, hh: u32, mm: u32) -> String {
    let d: NaiveDate = day.parse().unwrap();
    chrono_tz::America::New_York
        .from_local_datetime(&d.and_hms_opt(hh, mm, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&chrono::Utc)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn synthetic_us(dir: &Path) -> (PathBuf, Vec<String>) {
    let data = dir.join("data");
    let r = sys(
        &dir.join("scratch"),
        &[
            "data",
            "synth",
            "--symbols",
            "24",
            "--days",
            "300",
            "--seed",
            "7",
            "--out",
            s(&data),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let cfg = dir.join("trend_demo.toml");
    std::fs::write(
        &cfg,
        format!(
            "{}\n[run]\nretry_base_ms = 1\n",
            committed("trend_demo.toml").replace(
                "source = \"../systrade-demo/data\"",
                &format!("source = {:?}", data.display().to_string())
            )
        ),
    )
    .unwrap();
    let sessions: Vec<String> = read(&data.join("TEC01.csv"))
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    (cfg, sessions)
}

fn summary(home: &Path, day: &str) -> Value {
    serde_json::from_str(&read(
        &home.join(format!("runs/trend_demo/{day}/daily_summary_{day}.json")),
    ))
    .unwrap()
}

#[test]
fn test_a_us_run_after_the_close_trades_the_next_open_on_that_sessions_bar() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, sessions) = synthetic_us(dir.path());
    // A session with one before it and one after it in the data.
    let (prev, day, next) = (
        sessions[sessions.len() - 3].clone(),
        sessions[sessions.len() - 2].clone(),
        sessions[sessions.len() - 1].clone(),
    );
    let run = |home: &Path, now: &str| {
        sys(
            home,
            &["run", "--config", s(&cfg)],
            &[("SYSTRADE_NOW", now)],
        )
    };
    // 16:10 New York on `day`: the run decides on `day`'s bar for the next session.
    let after = dir.path().join("after-close");
    let r = run(&after, &new_york(&day, 16, 10));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let s1 = summary(&after, &next);
    assert_eq!(s1["decided_on_bars_through"], day.as_str(), "{s1}");
    assert!(!after.join(format!("runs/trend_demo/{day}")).exists());

    // 08:00 New York on `next`, before the open: the same session, the same decision.
    let before = dir.path().join("before-open");
    let r = run(&before, &new_york(&next, 8, 0));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let s2 = summary(&before, &next);
    assert_eq!(s2["decided_on_bars_through"], day.as_str());
    assert_eq!(
        read(&after.join(format!("runs/trend_demo/{next}/targets_{next}.csv"))),
        read(&before.join(format!("runs/trend_demo/{next}/targets_{next}.csv"))),
        "after the close and before the next open decide the same"
    );
    // Before the open of `day` the decision is on `prev`.
    let early = dir.path().join("early");
    let r = run(&early, &new_york(&day, 8, 0));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        summary(&early, &day)["decided_on_bars_through"],
        prev.as_str()
    );

    // 12:00 New York: the session trades; the run is refused and touches nothing.
    let during = dir.path().join("during");
    let r = run(&during, &new_york(&next, 12, 0));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("during the us session"), "{}", r.stderr);
    assert!(!during.join("ledger.sqlite").exists());
    assert!(!during.join("paper").exists());
}

#[test]
fn test_a_crypto_run_at_midnight_utc_decides_on_the_day_that_just_closed() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let text = committed("trend_crypto.toml").replace(
        "source = \"../../shared/data/crypto_binance_spot/1d\"",
        &format!("source = {:?}", data.display().to_string()),
    );
    let cfg = dir.path().join("trend_crypto.toml");
    std::fs::write(&cfg, format!("{text}\n[run]\nretry_base_ms = 1\n")).unwrap();
    let home = dir.path().join("home");
    let r = sys(
        &home,
        &["run", "--config", s(&cfg)],
        &[("SYSTRADE_NOW", "2022-03-02T00:05:00Z")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&read(
        &home.join("runs/trend_crypto/2022-03-02/daily_summary_2022-03-02.json"),
    ))
    .unwrap();
    assert_eq!(v["decided_on_bars_through"], "2022-03-01");
}
