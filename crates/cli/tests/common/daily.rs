//! The daily-run tests' helpers: the binary with a home and a clean environment, and what
//! the paper account and the ledger hold.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::Run;

pub const ENV: &[&str] = &[
    "SYSTRADE_SLACK_WEBHOOK_URL",
    "SYSTRADE_SMTP_HOST",
    "SYSTRADE_SMTP_PORT",
    "SYSTRADE_SMTP_USER",
    "SYSTRADE_SMTP_PASSWORD",
    "SYSTRADE_SMTP_FROM",
    "SYSTRADE_SMTP_TO",
    "SYSTRADE_HOME",
    "SYSTRADE_PAPER_FAULTS",
    "SYSTRADE_CRASH_AFTER_STEP",
    "SYSTRADE_WEBHOOK_URL",
    "SYSTRADE_KILL_SWITCH",
    "SYSTRADE_LIVE_CONFIRM",
    "SYSTRADE_NOW",
    "SYSTRADE_DECISIONS",
];

/// Runs `systrade --home HOME args…` with `envs` (and none of ours from outside).
pub fn sys(home: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut c = Command::cargo_bin("systrade").unwrap();
    for k in ENV {
        c.env_remove(k);
    }
    c.arg("--home").arg(home).args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn days(start: &str, n: usize) -> Vec<String> {
    let d0: NaiveDate = start.parse().unwrap();
    (0..n)
        .map(|i| (d0 + chrono::Duration::days(i as i64)).to_string())
        .collect()
}

pub fn norm(x: &str) -> String {
    x.parse::<Decimal>().unwrap().normalize().to_string()
}

pub fn query(db: &Path, sql: &str) -> Vec<Vec<String>> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c.prepare(sql).unwrap();
    let n = st.column_count();
    st.query_map([], |r| {
        (0..n)
            .map(|i| {
                r.get::<_, Option<String>>(i)
                    .or_else(|_| r.get::<_, Option<i64>>(i).map(|v| v.map(|v| v.to_string())))
                    .map(|v| v.unwrap_or_default())
            })
            .collect::<Result<Vec<_>, _>>()
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

pub fn paper(home: &Path) -> PathBuf {
    home.join("paper/paper.sqlite")
}

pub fn ledger(home: &Path) -> PathBuf {
    home.join("ledger.sqlite")
}

/// Non-zero positions in a `positions(symbol, qty)` table.
pub fn positions_in(db: &Path) -> BTreeMap<String, String> {
    query(db, "SELECT symbol, qty FROM positions")
        .into_iter()
        .filter(|r| !norm(&r[1]).eq("0"))
        .map(|r| (r[0].clone(), norm(&r[1])))
        .collect()
}

pub fn broker_positions(home: &Path) -> BTreeMap<String, String> {
    positions_in(&paper(home))
}

pub fn ledger_positions(home: &Path) -> BTreeMap<String, String> {
    positions_in(&ledger(home))
}

/// Open protective stops per symbol at the broker, with their quantity.
pub fn open_stops(home: &Path) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in query(
        &paper(home),
        "SELECT symbol, qty FROM orders WHERE stop_price IS NOT NULL \
         AND status IN ('accepted', 'partially_filled')",
    ) {
        m.entry(r[0].clone()).or_default().push(norm(&r[1]));
    }
    m
}

/// Everything a day leaves behind, without run ids and clocks.
pub fn end_state(home: &Path) -> String {
    let p = query(
        &paper(home),
        "SELECT client_order_id, symbol, side, qty, stop_price, status, filled_qty FROM orders ORDER BY client_order_id",
    );
    let f = query(
        &paper(home),
        "SELECT client_order_id, qty, price, fee, date FROM fills ORDER BY client_order_id, seq",
    );
    let cash = query(&paper(home), "SELECT cash FROM account");
    let lp = query(
        &ledger(home),
        "SELECT strategy, symbol, qty FROM positions ORDER BY 1, 2",
    );
    let ls = query(
        &ledger(home),
        "SELECT strategy, symbol, level, qty, client_order_id FROM stops ORDER BY 1, 2",
    );
    let lo = query(
        &ledger(home),
        "SELECT client_order_id, status, filled_qty FROM orders ORDER BY 1",
    );
    let st = query(&ledger(home), "SELECT * FROM strategy_state ORDER BY 1, 2");
    let done = query(
        &ledger(home),
        "SELECT strategy, market_day FROM done ORDER BY 1, 2",
    );
    let fm = query(&ledger(home), "SELECT * FROM formations ORDER BY 1, 2");
    format!("{p:?}\n{f:?}\n{cash:?}\n{lp:?}\n{ls:?}\n{lo:?}\n{st:?}\n{done:?}\n{fm:?}")
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// Runs `day` from a copy of `warm` uninterrupted, then once killed after each of the 14
/// steps and rerun; every rerun must reach the uninterrupted end state and pass `check`.
/// Returns that end state.
pub fn crash_at_every_step(
    dir: &Path,
    warm: &Path,
    cfg: &Path,
    strategy: &str,
    day: &str,
    check: impl Fn(&Path),
) -> String {
    let run = ["run", "--config", super::s(cfg), "--as-of", day];
    let reference = dir.join("reference");
    copy_dir(warm, &reference);
    let r = sys(&reference, &run, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let want = end_state(&reference);
    for step in 1..=14u8 {
        let home = dir.join(format!("crash-{step}"));
        copy_dir(warm, &home);
        let r = sys(
            &home,
            &run,
            &[("SYSTRADE_CRASH_AFTER_STEP", &step.to_string())],
        );
        assert_ne!(r.code, 0, "step {step}: the hook kills the run");
        assert!(
            r.stderr.contains(&format!("after step {step}")),
            "{}",
            r.stderr
        );
        if step < 14 {
            assert!(
                !home.join(format!("runs/{strategy}/{day}/done")).exists(),
                "step {step}: no done flag before step 14"
            );
        }
        // The killed run left its lock behind: the rerun takes it over.
        let r = sys(&home, &run, &[]);
        assert_eq!(r.code, 0, "step {step}: {}{}", r.stdout, r.stderr);
        if step < 14 {
            assert!(r.stdout.contains("stale_lock"), "step {step}: {}", r.stdout);
        } else {
            // Killed after the done flag: the day is complete; the rerun only says so.
            assert!(r.stdout.contains("already_ran"), "{}", r.stdout);
        }
        assert_eq!(end_state(&home), want, "step {step}: same end state");
        check(&home);
    }
    want
}

/// Every row of every table of the ledger (to show a refused command changed nothing).
pub fn ledger_dump(home: &Path) -> String {
    let tables = query(
        &ledger(home),
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    );
    let mut out = String::new();
    for t in tables {
        out.push_str(&format!(
            "{}: {:?}\n",
            t[0],
            query(&ledger(home), &format!("SELECT * FROM \"{}\"", t[0]))
        ));
    }
    out
}
