//! `systrade run` for the momentum-cohorts strategy on the real B3 files: sixty paper
//! sessions across three month-end formations equal the backtest (the cohort weights in
//! force and the volatility-targeting scale), long and short positions agree between the
//! ledger and the paper account, a kill at every step boundary of a formation day reruns to
//! the same end state, and the gates stop new risk while exits go through.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::Datelike;
use serde_json::Value;

mod common;

use common::daily::*;
use common::{committed, read, s};
use systrade_testkit::shared;

/// `configs/momentum_br.toml` with absolute input paths and `extra` TOML appended.
fn momentum_cfg(dir: &Path, extra: &str) -> Option<PathBuf> {
    let data = shared("data")?;
    let text = committed("momentum_br.toml")
        .replace("\"../../shared/data/", &format!("\"{}/", data.display()));
    let p = dir.join("momentum_br.toml");
    std::fs::write(&p, format!("{text}\n[run]\nretry_base_ms = 1\n{extra}\n")).unwrap();
    Some(p)
}

/// The B3 sessions of the data, from one liquid name's file.
fn sessions() -> Vec<String> {
    let f = shared("data/br_b3_daily_yahoo/daily/ABEV3.csv").unwrap();
    read(&f)
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect()
}

fn csv_rows(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            head.iter()
                .zip(l.split(','))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn summary(home: &Path, day: &str) -> Value {
    serde_json::from_str(&read(
        &home.join(format!("runs/momentum_br/{day}/daily_summary_{day}.json")),
    ))
    .unwrap()
}

/// After a completed day: ledger = broker, clean reconciliation, no stops anywhere.
fn check_momentum_day(home: &Path, day: &str) {
    let folder = home.join(format!("runs/momentum_br/{day}"));
    let recon: Value =
        serde_json::from_str(&read(&folder.join(format!("reconciliation_{day}.json")))).unwrap();
    assert_eq!(recon["invariant"]["no_stray_stops"], true, "{day}: {recon}");
    for r in recon["rows"].as_array().unwrap() {
        assert_eq!(r["status"], "match", "{day}: {r}");
    }
    assert_eq!(
        broker_positions(home),
        ledger_positions(home),
        "{day}: ledger = broker"
    );
    assert!(
        open_stops(home).is_empty(),
        "{day}: momentum places no stops"
    );
}

#[test]
fn test_sixty_momentum_sessions_on_b3_equal_the_backtest_long_and_short() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cfg) = momentum_cfg(dir.path(), "") else {
        return;
    };
    let all = sessions();
    let start = all.iter().position(|d| d.as_str() >= "2025-04-22").unwrap();
    let run_days = &all[start..start + 60];
    let home = dir.path().join("home");
    let bt = dir.path().join("bt");
    let last = run_days.last().unwrap();
    let r = sys(
        &home,
        &[
            "backtest",
            "--config",
            s(&cfg),
            "--end",
            last,
            "--out",
            s(&bt),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let scale: BTreeMap<String, String> = csv_rows(&read(&bt.join("timeseries.csv")))
        .into_iter()
        .map(|r| (r["date"].clone(), r["scale"].clone()))
        .collect();
    // Portfolio weights per formation month: the mean of the cohort books.
    let mut month_w: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for r in csv_rows(&read(&bt.join("targets.csv"))) {
        // Short rows carry signed weights.
        let w: f64 = r["target_weight"].parse().unwrap();
        *month_w
            .entry(r["month"].clone())
            .or_default()
            .entry(r["ticker"].clone())
            .or_default() += w / 3.0;
    }
    let mut formations = 0;
    let mut shorts_held = 0;
    let mut traded = 0;
    for d in run_days {
        let r = sys(&home, &["run", "--config", s(&cfg), "--as-of", d], &[]);
        assert_eq!(r.code, 0, "{d}: {}{}", r.stdout, r.stderr);
        check_momentum_day(&home, d);
        let rows = csv_rows(&read(
            &home.join(format!("runs/momentum_br/{d}/targets_{d}.csv")),
        ));
        // The weights in force were formed at the previous month's last close.
        let day: chrono::NaiveDate = d.parse().unwrap();
        let prev = day.with_day0(0).unwrap().pred_opt().unwrap();
        let want = &month_w[&prev.format("%Y-%m").to_string()];
        let got: BTreeMap<String, f64> = rows
            .iter()
            .map(|r| (r["symbol"].clone(), r["weight"].parse::<f64>().unwrap()))
            .filter(|(_, w)| *w != 0.0)
            .collect();
        let want: BTreeMap<String, f64> = want
            .iter()
            .filter(|(_, w)| w.abs() > 1e-15)
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{d}"
        );
        for (k, w) in &got {
            assert!((w - want[k]).abs() < 1e-12, "{d} {k}: {w} vs {}", want[k]);
        }
        for r in &rows {
            assert_eq!(r["scale"], scale[d], "{d}: the backtest's VT scale");
        }
        // What traded is now held: the target quantity, in whole lots.
        let held = broker_positions(&home);
        for r in rows.iter().filter(|r| {
            matches!(
                r["action"].as_str(),
                "entry" | "exit" | "add" | "reduce" | "flip"
            )
        }) {
            traded += 1;
            let now = held
                .get(&r["symbol"])
                .cloned()
                .unwrap_or_else(|| "0".into());
            assert_eq!(now, r["target_qty"], "{d} {}: {r:?}", r["symbol"]);
            assert_eq!(now.parse::<i64>().unwrap() % 100, 0, "{d}: whole lots");
        }
        let sm = summary(&home, d);
        if sm["targets"]["formation"] == true {
            formations += 1;
            let month = sm["targets"]["month"].as_str().unwrap();
            assert!(
                home.join(format!("runs/momentum_br/{d}/targets_{month}.csv"))
                    .exists()
            );
            assert!(
                home.join(format!("runs/momentum_br/{d}/state/cohort_2_{month}.json"))
                    .exists()
            );
        }
        shorts_held += held.values().filter(|q| q.starts_with('-')).count();
    }
    assert_eq!(formations, 3, "April, May and June formations traded");
    assert!(shorts_held > 0, "the long/short book holds shorts");
    assert!(traded > 30, "{traded} orders");
    let recorded = query(&ledger(&home), "SELECT month FROM formations ORDER BY 1");
    assert_eq!(
        recorded,
        vec![
            vec!["2025-04".to_string()],
            vec!["2025-05".into()],
            vec!["2025-06".into()]
        ]
    );
}

/// A home that ran the two sessions before the July formation's trade day.
fn warm(dir: &Path, cfg: &Path) -> PathBuf {
    let home = dir.join("warm");
    for d in ["2025-06-27", "2025-06-30"] {
        let r = sys(&home, &["run", "--config", s(cfg), "--as-of", d], &[]);
        assert_eq!(r.code, 0, "{d}: {}", r.stderr);
    }
    home
}

#[test]
fn test_a_momentum_formation_day_killed_at_any_step_reruns_to_the_same_end_state() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cfg) = momentum_cfg(dir.path(), "") else {
        return;
    };
    let warm = warm(dir.path(), &cfg);
    let day = "2025-07-01";
    let want = crash_at_every_step(dir.path(), &warm, &cfg, "momentum_br", day, |home| {
        check_momentum_day(home, day)
    });
    assert!(want.contains("2025-06"), "the formation is recorded");
}

/// Every file under the home's run folders, by relative path.
fn artifacts(home: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&home.join("runs"), &home.join("runs"), &mut out);
    out
}

#[test]
fn test_momentum_gates_stop_new_risk_but_not_exits_and_reruns_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cfg) = momentum_cfg(dir.path(), "") else {
        return;
    };
    let warm = warm(dir.path(), &cfg);
    // Determinism: the same sessions in a second home leave byte-identical artifacts.
    let twin = dir.path().join("twin");
    for d in ["2025-06-27", "2025-06-30"] {
        let r = sys(&twin, &["run", "--config", s(&cfg), "--as-of", d], &[]);
        assert_eq!(r.code, 0);
    }
    let a = artifacts(&warm);
    assert!(a.len() > 20, "{:?}", a.keys());
    assert_eq!(a, artifacts(&twin));

    // The kill switch on the formation day: entries and adds (long or short) wait; exits
    // and reductions go out.
    let day = "2025-07-01";
    let home = dir.path().join("killed");
    copy_dir(&warm, &home);
    let before = broker_positions(&home);
    let r = sys(
        &home,
        &["run", "--config", s(&cfg), "--as-of", day],
        &[("SYSTRADE_KILL_SWITCH", "1")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    check_momentum_day(&home, day);
    let rows = csv_rows(&read(
        &home.join(format!("runs/momentum_br/{day}/targets_{day}.csv")),
    ));
    let after = broker_positions(&home);
    let (mut blocked, mut reduced) = (0, 0);
    for r in &rows {
        let sym = &r["symbol"];
        let was: i64 = before.get(sym).map_or(0, |q| q.parse().unwrap());
        let now: i64 = after.get(sym).map_or(0, |q| q.parse().unwrap());
        match r["action"].as_str() {
            "entry" | "add" => {
                assert_eq!(now, was, "{sym}: new risk waits");
                blocked += 1;
            }
            "exit" | "reduce" => {
                assert_eq!(now.to_string(), r["target_qty"], "{sym}: exits go out");
                reduced += 1;
            }
            _ => assert!(now.abs() <= was.abs(), "{sym}"),
        }
    }
    assert!(
        blocked > 0 && reduced > 0,
        "{blocked} blocked, {reduced} exits"
    );
    let sm = summary(&home, day);
    let reasons = sm["decisions"]["blocked"].to_string();
    assert!(reasons.contains("kill_switch"), "{reasons}");

    // Stale data (the session before the day has no bars): no new risk, reported.
    let stale = dir.path().join("stale");
    let r = sys(
        &stale,
        &["run", "--config", s(&cfg), "--as-of", "2025-10-31"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sm = summary(&stale, "2025-10-31");
    assert!(
        sm["targets"]["problems"].to_string().contains("stale_data"),
        "{sm}"
    );
    assert!(
        broker_positions(&stale).is_empty(),
        "no entries on stale data"
    );
    assert!(sm["decisions"]["blocked"].to_string().contains("no_data"));
}

/// Data revised after a formation traded: the books recomputed from it are not the ones the
/// ledger recorded, so new risk waits (`state_drift`) while exits still go out.
#[test]
fn test_books_that_drift_from_the_recorded_formation_block_new_risk() {
    let Some(b3) = shared("data/br_b3_daily_yahoo/daily") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("daily");
    copy_dir(&b3, &data);
    let cfg = momentum_cfg(dir.path(), "").unwrap();
    let text = read(&cfg).replace(
        &format!("source = {:?}", b3.display().to_string()),
        &format!("source = {:?}", data.display().to_string()),
    );
    assert!(text.contains(&data.display().to_string()));
    std::fs::write(&cfg, text).unwrap();
    let home = dir.path().join("home");
    for d in ["2025-06-30", "2025-07-01"] {
        let r = sys(&home, &["run", "--config", s(&cfg), "--as-of", d], &[]);
        assert_eq!(r.code, 0, "{d}: {}", r.stderr);
        let sm = summary(&home, d);
        assert_eq!(sm["targets"]["problems"], serde_json::json!([]), "{d}");
    }
    // A vendor revises ABEV3's May and June: its momentum, and so the June books, change.
    let f = data.join("ABEV3.csv");
    let revised: Vec<String> = read(&f)
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let date = l.split(',').next().unwrap();
            if i == 0 || !("2025-05-01".."2025-06-28").contains(&date) {
                return l.to_string();
            }
            let mut cells: Vec<String> = l.split(',').map(str::to_string).collect();
            for c in &mut cells[1..5] {
                *c = (c.parse::<f64>().unwrap() * 3.0).to_string();
            }
            cells.join(",")
        })
        .collect();
    std::fs::write(&f, revised.join("\n") + "\n").unwrap();
    let day = "2025-07-02";
    let r = sys(&home, &["run", "--config", s(&cfg), "--as-of", day], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    check_momentum_day(&home, day);
    let sm = summary(&home, day);
    let problems = sm["targets"]["problems"].to_string();
    assert!(
        problems.contains("state_drift") && problems.contains("2025-06"),
        "{problems}"
    );
    let rows = csv_rows(&read(
        &home.join(format!("runs/momentum_br/{day}/targets_{day}.csv")),
    ));
    assert!(
        rows.iter().all(|r| r["data_ok"] == "0"),
        "no new risk on drifted books"
    );
    let errors = read(&home.join(format!("runs/momentum_br/{day}/logs/errors.jsonl")));
    assert!(errors.contains("state_drift"), "{errors}");
}

#[test]
fn test_a_momentum_bucket_runs_as_its_own_book_within_its_position_limit() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cfg) = momentum_cfg(dir.path(), "") else {
        return;
    };
    // The unlimited book in force in July (formed at June's last close) holds more than 8.
    let bt = dir.path().join("bt");
    let r = sys(
        &dir.path().join("bt_home"),
        &[
            "backtest",
            "--config",
            s(&cfg),
            "--end",
            "2025-07-02",
            "--out",
            s(&bt),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut june: BTreeMap<String, f64> = BTreeMap::new();
    for r in csv_rows(&read(&bt.join("targets.csv"))) {
        if r["month"] == "2025-06" {
            *june.entry(r["ticker"].clone()).or_default() +=
                r["target_weight"].parse::<f64>().unwrap();
        }
    }
    let unlimited = june.values().filter(|w| w.abs() > 1e-15).count();
    assert!(unlimited > 8, "{unlimited} names");
    let p = dir.path().join("portfolio.toml");
    std::fs::write(
        &p,
        format!(
            "strategy = \"portfolio\"\ncapital = 2000000.0\n\
             [[buckets]]\nname = \"M\"\nconfig = \"{}\"\ncapital = 0.5\nmax_positions = 8\nmax_drawdown = 0.3\naccount = \"pm\"\n",
            s(&cfg)
        ),
    )
    .unwrap();
    let home = dir.path().join("home");
    for d in ["2025-06-30", "2025-07-01", "2025-07-02"] {
        let r = sys(&home, &["run", "--config", s(&p), "--as-of", d], &[]);
        assert_eq!(r.code, 0, "{d}: {}{}", r.stdout, r.stderr);
        let rows = csv_rows(&read(&home.join(format!("runs/M/{d}/targets_{d}.csv"))));
        let wanted = rows
            .iter()
            .filter(|r| r["weight"].parse::<f64>().unwrap() != 0.0)
            .count();
        assert_eq!(wanted, 8, "{d}: the bucket's book holds its limit");
        let held = positions_in(&home.join("paper/pm.sqlite"));
        assert!(!held.is_empty() && held.len() <= 8, "{d}: {held:?}");
        let in_ledger: BTreeMap<String, String> = query(
            &ledger(&home),
            "SELECT symbol, qty FROM positions WHERE strategy = 'M'",
        )
        .into_iter()
        .filter(|r| norm(&r[1]) != "0")
        .map(|r| (r[0].clone(), norm(&r[1])))
        .collect();
        assert_eq!(held, in_ledger, "{d}");
    }
    let sm: Value = serde_json::from_str(&read(
        &home.join("runs/M/2025-06-30/daily_summary_2025-06-30.json"),
    ))
    .unwrap();
    let equity = sm["equity"].as_f64().unwrap();
    assert!(
        (equity / 1_000_000.0 - 1.0).abs() < 0.01,
        "the bucket's capital: {equity}"
    );
    assert_eq!(
        query(&ledger(&home), "SELECT strategy, account FROM books"),
        vec![vec!["M".to_string(), "pm".into()]]
    );
}
