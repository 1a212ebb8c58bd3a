//! TWAP (issue 23): a sheet book's large order worked as 10 limit slices across a 30-minute
//! window on the paper broker, on the real one-minute bars of FXY: each slice is priced from
//! the last completed minute, fills on the tape at most the configured share of each
//! minute's volume (partial fills), its rest is canceled when the next one is due, and after
//! the window the leftover is canceled and reported. A cycle killed right after the broker
//! took a slice, or a cancel, is run again without a second order; the kill switch sends no
//! buy slice.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::daily::*;
use common::read;
use rust_decimal::Decimal;
use serde_json::Value;
use systrade_testkit::shared;

const DAY: &str = "2024-03-12";
/// 09:35 New York (EDT) to 10:05, every 3 minutes: the slices' parts.
const SHARE: f64 = 0.1;

fn book(dir: &Path, minutes: &Path, etf: &Path) -> PathBuf {
    std::fs::write(
        dir.join("signals.csv"),
        "date,symbol,signal\n2024-03-08,FXY,1.0\n2024-03-11,FXY,1.0\n",
    )
    .unwrap();
    let p = dir.join("book.toml");
    std::fs::write(
        &p,
        format!(
            "strategy = \"sheet\"\n[data]\nsource = {:?}\nmarket = \"us\"\n[run]\nname = \"twap-book\"\npaper_cash = 200000\nretry_base_ms = 1\n\
             [costs]\nfee_bps = 1\n[execution]\nlevel = \"auto\"\ntwap_slices = 10\ntwap_minutes = 30\ntwap_start = \"09:35\"\n\
             twap_bars = {:?}\ntwap_volume_share = {SHARE}\n\
             [signals]\nfile = \"signals.csv\"\nmethod = \"equal\"\nmax_positions = 1\norders = \"market\"\n",
            etf.display().to_string(),
            minutes.display().to_string(),
        ),
    )
    .unwrap();
    p
}

/// FXY's one-minute bars of the day from the shared file: (UTC minute "HH:MM", low, high,
/// volume).
fn fxy_minutes(minutes: &Path) -> Vec<(String, f64, f64, f64)> {
    let text = read(&minutes.join("FXY_1min_2023-07-10_to_2025-07-08.csv"));
    text.lines()
        .filter(|l| l.starts_with(DAY))
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (
                c[0][11..16].to_string(),
                c[3].parse().unwrap(),
                c[2].parse().unwrap(),
                c[5].parse().unwrap(),
            )
        })
        .collect()
}

/// The instants of the cycles: 13:35Z … 14:05Z every 3 minutes.
fn cycle_times() -> Vec<String> {
    (0..=10)
        .map(|i| {
            let m = 35 + 3 * i;
            format!("{DAY}T{:02}:{:02}:00Z", 13 + m / 60, m % 60)
        })
        .collect()
}

fn cycle(home: &Path, cfg: &Path, now: &str, env: &[(&str, &str)]) -> common::Run {
    sys(
        home,
        &[
            "run",
            "--config",
            common::s(cfg),
            "--cycle",
            "intraday",
            "--now",
            now,
        ],
        env,
    )
}

fn summary(home: &Path, now: &str) -> Value {
    let hhmm = {
        // New York time of the UTC instant (EDT, UTC−4).
        let h: u32 = now[11..13].parse().unwrap();
        format!("{:02}{}", h - 4, &now[14..16])
    };
    serde_json::from_str(&read(
        &home.join(format!("runs/twap-book/{DAY}/cycle_twap_{hhmm}.json")),
    ))
    .unwrap()
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    home: PathBuf,
    cfg: PathBuf,
    minutes: PathBuf,
}

fn setup() -> Option<Setup> {
    let minutes = shared("data/us_intraday_1min")?;
    let etf = shared("data/us_etf_daily_yahoo")?;
    let dir = tempfile::tempdir().unwrap();
    let cfg = book(dir.path(), &minutes, &etf);
    let home = dir.path().join("home");
    Some(Setup {
        _dir: dir,
        home,
        cfg,
        minutes,
    })
}

/// The daily run before the open: the buy stays staged, the parent of the slices.
fn daily_run(s: &Setup) -> (String, Decimal) {
    let r = sys(
        &s.home,
        &["run", "--config", common::s(&s.cfg), "--as-of", DAY],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let rows = query(
        &ledger(&s.home),
        "SELECT client_order_id, qty, status, note FROM orders WHERE symbol = 'FXY'",
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][2], "staged", "{rows:?}");
    assert!(
        rows[0][3].contains("worked as TWAP: 10 limit slices"),
        "{rows:?}"
    );
    // Nothing went to the broker.
    assert!(query(&paper(&s.home), "SELECT * FROM orders").is_empty());
    (rows[0][0].clone(), d(&rows[0][1]))
}

#[test]
fn test_a_large_order_is_worked_as_10_limit_slices_with_partial_fills_and_its_leftover_canceled_and_reported()
 {
    let Some(s) = setup() else {
        return;
    };
    // Before the daily run, no slice may go out.
    let early = cycle(&s.home, &s.cfg, "2024-03-12T13:35:00Z", &[]);
    assert_eq!(early.code, 2, "{}{}", early.stdout, early.stderr);
    assert!(
        early.stderr.contains("has not completed"),
        "{}",
        early.stderr
    );
    let (parent, qty) = daily_run(&s);
    assert!(qty > d("1000"), "{qty}");
    let times = cycle_times();
    for (i, now) in times.iter().enumerate() {
        // A cycle killed right after the broker took its slice (the 4th) or a cancel (the
        // 6th) is run again at the same instant.
        let fault = match i {
            3 => Some("submit:kill"),
            5 => Some("cancel:kill"),
            _ => None,
        };
        if let Some(f) = fault {
            let r = cycle(&s.home, &s.cfg, now, &[("SYSTRADE_PAPER_FAULTS", f)]);
            assert_ne!(r.code, 0, "{now}: the injected kill must stop the cycle");
        }
        let r = cycle(&s.home, &s.cfg, now, &[]);
        assert_eq!(r.code, 0, "{now}: {}{}", r.stdout, r.stderr);
    }
    // The same instant again does nothing.
    let again = cycle(&s.home, &s.cfg, times.last().unwrap(), &[]);
    assert!(again.stdout.contains("already_ran"), "{}", again.stdout);

    // Ten slices at the broker, one per part, none twice.
    let slices = query(
        &paper(&s.home),
        "SELECT client_order_id, qty, limit_price, status, filled_qty, active_from FROM orders ORDER BY active_from",
    );
    assert_eq!(slices.len(), 10, "{slices:#?}");
    for (i, row) in slices.iter().enumerate() {
        assert_eq!(
            &row[5],
            &times[i],
            "slice {} placed at its part's start",
            i + 1
        );
        assert!(
            row[3] == "canceled" || row[3] == "filled",
            "slice {}: {row:?}",
            i + 1
        );
    }
    // Each slice fills only on the minutes of its own part, within the volume share, and
    // never above its limit; partial fills happen.
    let tape = fxy_minutes(&s.minutes);
    let fills = query(
        &paper(&s.home),
        "SELECT client_order_id, qty, price FROM fills",
    );
    let mut partial = 0;
    let mut filled_total = Decimal::ZERO;
    for (i, row) in slices.iter().enumerate() {
        let (from, to) = (&times[i][11..16], &times[i + 1][11..16]);
        let limit: f64 = row[2].parse().unwrap();
        let reachable: f64 = tape
            .iter()
            .filter(|m| m.0.as_str() >= from && m.0.as_str() < to && m.1 <= limit)
            .map(|m| (m.3 * SHARE).floor())
            .sum();
        let mine: Vec<&Vec<String>> = fills.iter().filter(|f| f[0] == row[0]).collect();
        let got: f64 = mine.iter().map(|f| f[1].parse::<f64>().unwrap()).sum();
        assert_eq!(
            got,
            reachable.min(row[1].parse().unwrap()),
            "slice {} ({from}–{to} UTC, limit {limit}): filled {got}, the tape offered {reachable}",
            i + 1
        );
        for f in &mine {
            assert!(f[2].parse::<f64>().unwrap() <= limit, "{f:?} above {limit}");
        }
        let q = d(&row[1]);
        let fq = d(&row[4]);
        if fq > Decimal::ZERO && fq < q {
            partial += 1;
        }
        filled_total += fq;
    }
    assert!(partial >= 2, "partial fills: {partial}");
    assert!(filled_total > Decimal::ZERO);
    assert!(
        filled_total < qty,
        "the tape cannot fill {qty} in 30 minutes at {SHARE}"
    );

    // The ledger has every fill once, and the parent's account of them.
    assert_eq!(
        ledger_positions(&s.home),
        BTreeMap::from([("FXY".to_string(), filled_total.normalize().to_string())])
    );
    assert_eq!(ledger_positions(&s.home), broker_positions(&s.home));
    let booked = query(&ledger(&s.home), "SELECT COUNT(*) FROM fills");
    assert_eq!(booked[0][0], fills.len().to_string());
    let p = query(
        &ledger(&s.home),
        &format!("SELECT status, filled_qty, note FROM orders WHERE client_order_id = '{parent}'"),
    );
    assert_eq!(p[0][0], "canceled", "{p:?}");
    assert_eq!(d(&p[0][1]), filled_total);
    let leftover = qty - filled_total;
    assert!(
        p[0][2].contains(&format!("leftover {}", leftover.normalize())),
        "{p:?}"
    );
    // The last cycle reports it, and so do the errors log and the alert.
    let last = summary(&s.home, times.last().unwrap());
    assert_eq!(last["due"], "ended");
    let o = &last["orders"][0];
    assert_eq!(o["leftover"], leftover.normalize().to_string());
    assert_eq!(o["slices"].as_array().unwrap().len(), 10);
    let errors = read(
        &s.home
            .join(format!("runs/twap-book/{DAY}/logs/errors.jsonl")),
    );
    assert!(errors.contains("twap_leftover"), "{errors}");
    // A cycle in the middle shows the slice due and the one before it canceled.
    let mid = summary(&s.home, &times[4]);
    assert_eq!(mid["due"], "slice 5/10");
}

#[test]
fn test_the_kill_switch_sends_no_buy_slice() {
    let Some(s) = setup() else {
        return;
    };
    daily_run(&s);
    let r = cycle(
        &s.home,
        &s.cfg,
        "2024-03-12T13:35:00Z",
        &[("SYSTRADE_KILL_SWITCH", "1")],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(query(&paper(&s.home), "SELECT * FROM orders").is_empty());
    let sm = summary(&s.home, "2024-03-12T13:35:00Z");
    assert!(
        sm["orders"][0]["not_placed"]
            .as_str()
            .unwrap()
            .contains("kill switch"),
        "{sm}"
    );
}
