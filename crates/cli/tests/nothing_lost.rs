//! Nothing lost, nothing invented: every order and fill the broker has ends up in the ledger
//! exactly once, whatever instant a run was killed at, and whichever accounts share a home.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;

use common::daily::*;
use common::{committed, read, s};
use systrade_testkit::shared;

/// `configs/trend_crypto.toml` on `data`, with `extra` TOML in its `[run]` section.
fn crypto_cfg(dir: &Path, data: &Path, file: &str, run: &str) -> PathBuf {
    let text = committed("trend_crypto.toml").replace(
        "source = \"../../shared/data/crypto_binance_spot/1d\"",
        &format!("source = {:?}", data.display().to_string()),
    );
    let p = dir.join(file);
    std::fs::write(&p, format!("{text}\n[run]\nretry_base_ms = 1\n{run}\n")).unwrap();
    p
}

/// Two books of the crypto config, each in its own paper account: `trend_a` in `acct_a`,
/// `trend_b` in `acct_b` (with other cash).
fn two_books(dir: &Path, data: &Path) -> (PathBuf, PathBuf) {
    (
        crypto_cfg(
            dir,
            data,
            "a.toml",
            "name = \"trend_a\"\naccount = \"acct_a\"",
        ),
        crypto_cfg(
            dir,
            data,
            "b.toml",
            "name = \"trend_b\"\naccount = \"acct_b\"\npaper_cash = 250000",
        ),
    )
}

/// Client order ids of one paper account's orders.
fn broker_order_ids(account_file: &Path) -> BTreeSet<String> {
    query(account_file, "SELECT client_order_id FROM orders")
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
}

fn ledger_order_ids(home: &Path, strategy: &str) -> BTreeSet<String> {
    query(
        &ledger(home),
        &format!("SELECT client_order_id FROM orders WHERE strategy = '{strategy}'"),
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect()
}

/// Per symbol: (qty, fills) of an account's fills, as the broker has them and as the ledger
/// booked them for `strategy`.
fn fill_totals(rows: Vec<Vec<String>>) -> BTreeMap<String, (String, usize)> {
    let mut m: BTreeMap<String, (rust_decimal::Decimal, usize)> = BTreeMap::new();
    for r in rows {
        let q: rust_decimal::Decimal = r[2].parse().unwrap();
        let e = m.entry(r[0].clone()).or_default();
        e.0 += if r[1] == "buy" { q } else { -q };
        e.1 += 1;
    }
    m.into_iter()
        .map(|(k, (q, n))| (k, (q.normalize().to_string(), n)))
        .collect()
}

fn assert_books_equal(home: &Path, strategy: &str, account: &str, when: &str) {
    let account_file = home.join(format!("paper/{account}.sqlite"));
    let broker = fill_totals(query(
        &account_file,
        "SELECT f.symbol, o.side, f.qty FROM fills f JOIN orders o USING (client_order_id)",
    ));
    let booked = fill_totals(query(
        &ledger(home),
        &format!(
            "SELECT symbol, side, qty FROM fills WHERE strategy = '{strategy}' AND account = '{account}'"
        ),
    ));
    assert_eq!(
        broker, booked,
        "{when}: every fill of {account} booked once"
    );
    assert_eq!(
        positions_in(&account_file),
        query(
            &ledger(home),
            &format!("SELECT symbol, qty FROM positions WHERE strategy = '{strategy}'")
        )
        .into_iter()
        .filter(|r| norm(&r[1]) != "0")
        .map(|r| (r[0].clone(), norm(&r[1])))
        .collect::<BTreeMap<_, _>>(),
        "{when}: {strategy}'s ledger positions = account {account}"
    );
    let missing: Vec<String> = broker_order_ids(&account_file)
        .difference(&ledger_order_ids(home, strategy))
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "{when}: orders at the broker the ledger does not know: {missing:?}"
    );
}

/// Every held position of the account has exactly one working stop for all of it.
fn assert_one_stop_each(home: &Path, account: &str, when: &str) {
    let account_file = home.join(format!("paper/{account}.sqlite"));
    let held = positions_in(&account_file);
    let mut stops: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in query(
        &account_file,
        "SELECT symbol, qty FROM orders WHERE stop_price IS NOT NULL \
         AND status IN ('accepted', 'partially_filled')",
    ) {
        stops.entry(r[0].clone()).or_default().push(norm(&r[1]));
    }
    for (sym, qty) in &held {
        assert_eq!(
            stops.get(sym),
            Some(&vec![qty.clone()]),
            "{when}: one stop for all of {sym} in {account}"
        );
    }
    assert!(
        stops.keys().all(|k| held.contains_key(k)),
        "{when}: no stop without a position in {account}: {stops:?}"
    );
}

/// After a completed day: every fill booked once, positions equal, one stop each, and the
/// run's own reconciliation all `match`.
fn assert_day_clean(home: &Path, strategy: &str, account: &str, day: &str) {
    assert_books_equal(home, strategy, account, day);
    assert_one_stop_each(home, account, day);
    let recon: Value = serde_json::from_str(&read(
        &home.join(format!("runs/{strategy}/{day}/reconciliation_{day}.json")),
    ))
    .unwrap();
    for row in recon["rows"].as_array().unwrap() {
        assert_eq!(row["status"], "match", "{strategy} {day}: {row}");
    }
}

#[test]
fn test_a_run_killed_after_the_broker_replaced_a_stop_adopts_it_and_books_its_fill() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = crypto_cfg(dir.path(), &data, "trend_crypto.toml", "");
    let home = dir.path().join("home");
    let run = |d: &str, envs: &[(&str, &str)]| {
        sys(&home, &["run", "--config", s(&cfg), "--as-of", d], envs)
    };
    for d in days("2022-03-01", 8) {
        let r = run(&d, &[]);
        assert_eq!(r.code, 0, "{d}: {}", r.stderr);
    }
    // 2022-03-09 moves stops: the broker carries out the first replacement, then the run
    // is killed before the ledger hears of it.
    let r = run("2022-03-09", &[("SYSTRADE_PAPER_FAULTS", "replace:kill*1")]);
    assert_ne!(r.code, 0, "the fault kills the run");
    assert!(r.stderr.contains("fault hook"), "{}", r.stderr);
    let r = run("2022-03-09", &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        read(&home.join("runs/trend_crypto/2022-03-09/logs/errors.jsonl"))
            .contains("order_adopted"),
        "the rerun says it adopted the replacement"
    );
    assert_books_equal(&home, "trend_crypto", "paper", "2022-03-09");
    assert_one_stop_each(&home, "paper", "2022-03-09");
    // The killed run does not stay `running`: the rerun marks it aborted at its last step.
    let runs = query(
        &ledger(&home),
        "SELECT status, error FROM runs WHERE market_day = '2022-03-09' ORDER BY run_id",
    );
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0][0], "aborted", "{runs:?}");
    assert!(runs[0][1].contains("killed after step 11"), "{runs:?}");
    assert_eq!(runs[1][0], "completed");
    // The days after: stops fire and ratchet; each fill lands in the ledger exactly once.
    for d in days("2022-03-10", 40) {
        let r = run(&d, &[]);
        assert_eq!(r.code, 0, "{d}: {}", r.stderr);
        assert_day_clean(&home, "trend_crypto", "paper", &d);
    }
    let stop_fills = query(
        &ledger(&home),
        "SELECT COUNT(*) FROM fills WHERE purpose = 'stop'",
    );
    assert_ne!(stop_fills[0][0], "0", "some stop fired in 40 days");
}

#[test]
fn test_two_paper_accounts_in_one_home_keep_their_fills_apart_and_cannot_be_shared() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_books(dir.path(), &data);
    let home = dir.path().join("home");
    for d in days("2022-03-01", 12) {
        let r = sys(
            &home,
            &["run", "--config", s(&a), "--config", s(&b), "--as-of", &d],
            &[],
        );
        assert_eq!(r.code, 0, "{d}: {}{}", r.stdout, r.stderr);
        for (strategy, account) in [("trend_a", "acct_a"), ("trend_b", "acct_b")] {
            assert_day_clean(&home, strategy, account, &d);
        }
    }
    // Both accounts number their fills from 1: the same fill ids, both booked.
    let ids = query(
        &ledger(&home),
        "SELECT fill_id FROM fills GROUP BY fill_id HAVING COUNT(*) = 2",
    );
    assert!(!ids.is_empty(), "the two accounts share fill ids");

    // A third book on account acct_a is refused before anything is written.
    let c = crypto_cfg(
        dir.path(),
        &data,
        "c.toml",
        "name = \"trend_c\"\naccount = \"acct_a\"",
    );
    let before = ledger_dump(&home);
    let r = sys(
        &home,
        &["run", "--config", s(&c), "--as-of", "2022-03-13"],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("acct_a") && r.stderr.contains("trend_a"),
        "{}",
        r.stderr
    );
    assert_eq!(ledger_dump(&home), before, "nothing written");
}

#[test]
fn test_a_run_that_fails_after_canceling_a_stop_puts_it_back_before_exiting() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = crypto_cfg(dir.path(), &data, "trend_crypto.toml", "");
    let warm = dir.path().join("warm");
    for d in days("2022-03-01", 8) {
        let r = sys(&warm, &["run", "--config", s(&cfg), "--as-of", &d], &[]);
        assert_eq!(r.code, 0, "{d}: {}", r.stderr);
    }
    // Which protected position 2022-03-09 sells (its stop is canceled first, step 7).
    let reference = dir.path().join("reference");
    copy_dir(&warm, &reference);
    let day = "2022-03-09";
    let r = sys(
        &reference,
        &["run", "--config", s(&cfg), "--as-of", day],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let held_before = positions_in(&warm.join("paper/paper.sqlite"));
    let sold = query(
        &ledger(&reference),
        &format!(
            "SELECT symbol FROM orders WHERE market_day = '{day}' AND side = 'sell' \
             AND kind = 'market' ORDER BY symbol"
        ),
    )
    .into_iter()
    .map(|r| r[0].clone())
    .find(|s| held_before.contains_key(s))
    .expect("the day sells part of a held position");
    // The logs number things in the order they happened: the stop was canceled (step 7)
    // before the sell went out (step 8).
    let seq_of = |file: &str, reason: &str| -> u64 {
        read(&reference.join(format!("runs/trend_crypto/{day}/logs/{file}.jsonl")))
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|v| v["symbol"] == sold.as_str() && v["reason"] == reason)
            .and_then(|v| v["seq"].as_u64())
            .unwrap_or_else(|| panic!("no {reason} of {sold} in {file}"))
    };
    assert!(seq_of("stop_updates", "canceled") < seq_of("order_submit", "filled"));

    // The sell meets a broker outage (1 try + 3 retries): the run fails after step 7.
    let home = dir.path().join("home");
    copy_dir(&warm, &home);
    let faults = format!("submit:503@{sold}*4");
    let r = sys(
        &home,
        &["run", "--config", s(&cfg), "--as-of", day],
        &[("SYSTRADE_PAPER_FAULTS", &faults)],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("put the protective stop back on") && r.stderr.contains(&sold),
        "{}",
        r.stderr
    );
    assert_one_stop_each(&home, "paper", "after the failed run");
    assert!(
        read(&home.join(format!("runs/trend_crypto/{day}/logs/errors.jsonl")))
            .contains("stop_restored")
    );
    assert_books_equal(&home, "trend_crypto", "paper", "after the failed run");
    // The ledger knows the restored stop as the one in force.
    let stop = query(
        &ledger(&home),
        &format!("SELECT qty FROM stops WHERE strategy = 'trend_crypto' AND symbol = '{sold}'"),
    );
    assert_eq!(
        stop.first().map(|r| norm(&r[0])),
        held_before.get(&sold).cloned()
    );

    // The rerun finishes the day as if nothing had happened.
    let r = sys(&home, &["run", "--config", s(&cfg), "--as-of", day], &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_books_equal(&home, "trend_crypto", "paper", "after the rerun");
    assert_one_stop_each(&home, "paper", "after the rerun");
    assert_eq!(
        positions_in(&home.join("paper/paper.sqlite")),
        positions_in(&reference.join("paper/paper.sqlite")),
        "same positions as the uninterrupted day"
    );
}

#[test]
fn test_an_as_of_after_the_markets_today_is_refused_and_touches_nothing() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = crypto_cfg(dir.path(), &data, "trend_crypto.toml", "");
    let home = dir.path().join("home");
    let r = sys(
        &home,
        &["run", "--config", s(&cfg), "--as-of", "2022-03-01"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let before = ledger_dump(&home);
    let account = std::fs::read(home.join("paper/paper.sqlite")).unwrap();
    let r = sys(
        &home,
        &["run", "--config", s(&cfg), "--as-of", "2099-01-02"],
        &[("SYSTRADE_NOW", "2022-03-02T01:00:00Z")],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("2099-01-02") && r.stderr.contains("2022-03-02"),
        "{}",
        r.stderr
    );
    assert_eq!(ledger_dump(&home), before);
    assert_eq!(
        std::fs::read(home.join("paper/paper.sqlite")).unwrap(),
        account
    );
    assert!(!home.join("runs/trend_crypto/2099-01-02").exists());
    // reconcile refuses it too.
    let r = sys(
        &home,
        &["reconcile", "--config", s(&cfg), "--as-of", "2099-01-02"],
        &[("SYSTRADE_NOW", "2022-03-02T01:00:00Z")],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
}

/// A small deterministic generator for the kill instants (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

#[test]
fn test_fifty_runs_killed_with_sigkill_at_random_instants_lose_nothing() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_books(dir.path(), &data);
    let bin = assert_cmd::cargo::cargo_bin("systrade");
    let command = |home: &Path, day: &str| {
        let mut c = std::process::Command::new(&bin);
        for k in ENV {
            c.env_remove(k);
        }
        c.arg("--home")
            .arg(home)
            .args(["run", "--config", s(&a), "--config", s(&b), "--as-of", day])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        c
    };
    let reference = dir.path().join("reference");
    let home = dir.path().join("home");
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    let mut killed = 0;
    for day in days("2022-03-01", 50) {
        let t0 = std::time::Instant::now();
        let out = command(&reference, &day).output().unwrap();
        assert!(out.status.success(), "{day}: reference run failed");
        let span = t0.elapsed().as_millis() as u64;
        // A real SIGKILL at a random instant of a run as long as the reference's.
        let mut child = command(&home, &day).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(rng.below(span + 1)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        let _ = child.wait().unwrap();
        // The rerun finishes the day.
        let out = command(&home, &day).output().unwrap();
        assert!(
            out.status.success(),
            "{day}: rerun after the kill failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for (strategy, account) in [("trend_a", "acct_a"), ("trend_b", "acct_b")] {
            assert_day_clean(&home, strategy, account, &day);
            // Nothing duplicated: the same positions and cash as the uninterrupted home.
            let file = |h: &Path| h.join(format!("paper/{account}.sqlite"));
            assert_eq!(
                positions_in(&file(&home)),
                positions_in(&file(&reference)),
                "{strategy} {day}: positions"
            );
            assert_eq!(
                query(&file(&home), "SELECT cash FROM account"),
                query(&file(&reference), "SELECT cash FROM account"),
                "{strategy} {day}: cash"
            );
        }
    }
    assert!(
        killed >= 25,
        "most runs were really killed ({killed} of 50)"
    );
}

#[test]
fn test_a_dry_run_predicts_the_real_run_without_false_alarms() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = crypto_cfg(dir.path(), &data, "trend_crypto.toml", "");
    let home = dir.path().join("home");
    let run = |d: &str, extra: &[&str]| {
        let mut args = vec!["run", "--config", s(&cfg), "--as-of", d];
        args.extend_from_slice(extra);
        sys(&home, &args, &[])
    };
    for d in days("2022-03-01", 8) {
        let r = run(&d, &[]);
        assert_eq!(r.code, 0, "{d}: {}", r.stderr);
    }
    // 2022-03-09 sells part of a protected position and moves stops.
    let day = "2022-03-09";
    let r = run(day, &["--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("reconciliation clean"), "{}", r.stdout);
    let folder = home.join(format!("runs/trend_crypto/{day}"));
    let dry: Value = serde_json::from_str(&read(
        &folder.join(format!("dry-run/daily_summary_{day}.json")),
    ))
    .unwrap();
    assert_eq!(dry["reconciliation"]["mismatches"], serde_json::json!([]));
    assert_eq!(dry["reconciliation"]["one_stop_per_position"], true);
    assert!(dry["stops"].get("rejected").is_none(), "{}", dry["stops"]);
    let dry_errors = folder.join("dry-run/logs/errors.jsonl");
    assert!(
        !dry_errors.exists() || !read(&dry_errors).contains("stop_missing"),
        "{}",
        read(&dry_errors)
    );
    let previews = read(&folder.join("dry-run/logs/order_submit.jsonl"));
    assert!(previews.contains("\"preview\""), "{previews}");
    assert!(!previews.contains("\"accepted\":false"), "{previews}");

    // The real run does what the dry run said: the same orders and stop changes.
    let r = run(day, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let real: Value =
        serde_json::from_str(&read(&folder.join(format!("daily_summary_{day}.json")))).unwrap();
    assert_eq!(dry["orders"]["planned"], real["orders"]["planned"]);
    assert_eq!(dry["decisions"], real["decisions"]);
    assert_eq!(
        dry["stops"]["canceled"], real["stops"]["canceled"],
        "{} vs {}",
        dry["stops"], real["stops"]
    );
    assert_eq!(real["reconciliation"]["mismatches"], serde_json::json!([]));
}
