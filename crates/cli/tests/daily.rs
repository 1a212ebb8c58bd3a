//! `systrade run` as cron would run it: consecutive paper days that equal the backtest, the
//! one-stop invariant, ledger = broker, crash safety at every step boundary, the failure
//! modes of spec/daily-run.md §6, and every safety gate blocking new risk but never an exit
//! or a stop.

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;

use common::daily::*;
use common::{Run, committed, read, s};
use systrade_testkit::shared;

/// `configs/trend_crypto.toml` with absolute data and `extra` TOML appended.
fn crypto_cfg(dir: &Path, data: &Path, extra: &str) -> PathBuf {
    let text = committed("trend_crypto.toml").replace(
        "source = \"../../shared/data/crypto_binance_spot/1d\"",
        &format!("source = {:?}", data.display().to_string()),
    );
    let p = dir.join("trend_crypto.toml");
    std::fs::write(&p, format!("{text}\n[run]\nretry_base_ms = 1\n{extra}\n")).unwrap();
    p
}

/// Checks the invariants after a completed day.
fn check_day(home: &Path, strategy: &str, day: &str) {
    let folder = home.join(format!("runs/{strategy}/{day}"));
    let recon: Value =
        serde_json::from_str(&read(&folder.join(format!("reconciliation_{day}.json")))).unwrap();
    assert_eq!(
        recon["invariant"]["one_stop_per_position"], true,
        "{day}: {recon}"
    );
    for r in recon["rows"].as_array().unwrap() {
        assert_eq!(r["status"], "match", "{day}: {r}");
    }
    // The account's cash moved by exactly what the booked fills say.
    let cash = &recon["cash"];
    assert!(
        cash["status"] == "match" || cash["status"] == "anchored",
        "{day}: {cash}"
    );
    assert_eq!(cash["broker"], cash["ledger"], "{day}: {cash}");
    // Independently of the run's own report: straight from both files.
    let b = broker_positions(home);
    assert_eq!(b, ledger_positions(home), "{day}: ledger = broker");
    let stops = open_stops(home);
    for (sym, qty) in &b {
        assert_eq!(
            stops.get(sym),
            Some(&vec![qty.clone()]),
            "{day}: one stop for all of {sym}"
        );
    }
    assert!(
        stops.keys().all(|k| b.contains_key(k)),
        "{day}: no stop without a position: {stops:?}"
    );
}

/// The backtest's targets rows of `day` (without the as_of column).
fn backtest_rows(targets_history: &str, day: &str) -> Vec<String> {
    targets_history
        .lines()
        .skip(1)
        .filter(|l| l.starts_with(&format!("{day},")))
        .map(|l| l.split_once(',').unwrap().1.to_string())
        .collect()
}

fn day_targets(home: &Path, strategy: &str, day: &str) -> Vec<String> {
    read(&home.join(format!("runs/{strategy}/{day}/targets_{day}.csv")))
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
}

#[test]
fn test_sixty_paper_days_on_crypto_equal_the_backtest_and_keep_every_position_protected() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = crypto_cfg(dir.path(), &data, "");
    let home = dir.path().join("home");
    // Spring 2022: LUNA's collapse gives stop-outs, exits and re-entries.
    let run_days = days("2022-04-01", 60);
    let bt = dir.path().join("bt");
    let r = sys(
        &home,
        &[
            "backtest",
            "--config",
            s(&cfg),
            "--start",
            "2022-03-31",
            "--end",
            "2022-05-31",
            "--out",
            s(&bt),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let history = read(&bt.join("targets.csv"));
    let mut sells = 0;
    let mut stop_fills = 0;
    for d in &run_days {
        let r = sys(
            &home,
            &[
                "run",
                "--config",
                s(&cfg),
                "--broker",
                "paper",
                "--as-of",
                d,
            ],
            &[],
        );
        assert_eq!(r.code, 0, "{d}: {}{}", r.stdout, r.stderr);
        check_day(&home, "trend_crypto", d);
        assert_eq!(
            day_targets(&home, "trend_crypto", d),
            backtest_rows(&history, d),
            "{d}: the day's targets are the backtest's"
        );
    }
    for r in query(
        &paper(&home),
        "SELECT side, stop_price, status, reason FROM orders",
    ) {
        if r[0] == "sell" && r[1].is_empty() && r[2] == "filled" {
            sells += 1;
        }
        if !r[1].is_empty() && r[2] == "filled" {
            stop_fills += 1;
        }
        assert!(
            !r[3].contains("insufficient qty"),
            "a sell was refused for reserved quantity: {r:?}"
        );
    }
    assert!(
        sells + stop_fills >= 3,
        "exits went through: {sells} sells, {stop_fills} stops"
    );
    assert!(stop_fills >= 1, "a protective stop fired: {stop_fills}");
    // The backtest's fills agree with the paper account's.
    let bt_summary: Value = serde_json::from_str(&read(&bt.join("summary.json"))).unwrap();
    let cash: f64 = query(&paper(&home), "SELECT cash FROM account")[0][0]
        .parse()
        .unwrap();
    let last = run_days.last().unwrap();
    let snap: Value = serde_json::from_str(&read(&home.join(format!(
        "runs/trend_crypto/{last}/portfolio_snapshot_{last}.json"
    ))))
    .unwrap();
    assert_eq!(snap["cash"].as_f64().unwrap(), cash);
    assert!(bt_summary["n_stop_exits"].as_u64().unwrap() >= 1);
}

#[test]
fn test_sixty_paper_days_on_synthetic_equities_equal_the_backtest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let home = dir.path().join("home");
    let r = sys(
        &home,
        &[
            "data",
            "synth",
            "--symbols",
            "24",
            "--days",
            "400",
            "--seed",
            "20240501",
            "--out",
            s(&data),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let cfg = dir.path().join("trend_demo.toml");
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
    // The market's sessions from the data itself.
    let sessions: Vec<String> = read(&data.join("TEC01.csv"))
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    let start = sessions.len() - 70;
    let run_days = &sessions[start..start + 60];
    let bt = dir.path().join("bt");
    let r = sys(
        &home,
        &[
            "backtest",
            "--config",
            s(&cfg),
            "--start",
            &sessions[start - 1],
            "--out",
            s(&bt),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let history = read(&bt.join("targets.csv"));
    let mut traded = 0;
    for d in run_days {
        let r = sys(&home, &["run", "--config", s(&cfg), "--as-of", d], &[]);
        assert_eq!(r.code, 0, "{d}: {}{}", r.stdout, r.stderr);
        check_day(&home, "trend_demo", d);
        assert_eq!(
            day_targets(&home, "trend_demo", d),
            backtest_rows(&history, d),
            "{d}"
        );
        traded += usize::from(!broker_positions(&home).is_empty());
    }
    assert!(traded > 10, "the book held positions on {traded} days");
    // A weekend is not a session: a clean skip that writes nothing.
    let sat = "2024-06-01";
    let r = sys(&home, &["run", "--config", s(&cfg), "--as-of", sat], &[]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("market_closed"), "{}", r.stdout);
    assert!(!home.join(format!("runs/trend_demo/{sat}")).exists());
}

/// A home where the crypto config ran 2022-03-01..=2022-03-08 (positions with stops); the
/// next day sells part of a protected position and moves stops.
fn warm_home(dir: &Path, data: &Path) -> (PathBuf, PathBuf) {
    let cfg = crypto_cfg(dir, data, "");
    let home = dir.join("warm");
    for d in days("2022-03-01", 8) {
        let r = sys(&home, &["run", "--config", s(&cfg), "--as-of", &d], &[]);
        assert_eq!(r.code, 0, "{d}: {}", r.stderr);
    }
    (cfg, home)
}

/// A copy of `warm` named `name` that runs `day` with `faults` injected.
fn faulty_day(
    dir: &Path,
    warm: &Path,
    cfg: &Path,
    day: &str,
    name: &str,
    faults: &str,
) -> (Run, PathBuf) {
    let home = dir.join(name);
    copy_dir(warm, &home);
    let r = sys(
        &home,
        &["run", "--config", s(cfg), "--as-of", day],
        &[("SYSTRADE_PAPER_FAULTS", faults)],
    );
    (r, home)
}

#[test]
fn test_a_run_killed_at_any_step_boundary_completes_on_rerun_without_duplicates() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cfg, warm) = warm_home(dir.path(), &data);
    let day = "2022-03-09";
    let want = crash_at_every_step(dir.path(), &warm, &cfg, "trend_crypto", day, |home| {
        check_day(home, "trend_crypto", day)
    });
    assert!(
        want.contains("reduce") || want.contains("sell"),
        "the day trades"
    );
}

#[test]
fn test_schedule_gate_done_flag_dry_run_lock_and_notify_failure() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = crypto_cfg(dir.path(), &data, "");
    let home = dir.path().join("home");
    // The runbook's DST-safe cron: 19:01 and 20:01 New York, gated on 00:00-00:05 UTC.
    // Winter (EST): 19:01 local = 00:01 UTC passes, 20:01 = 01:01 UTC is skipped; summer
    // (EDT): 19:01 = 23:01 UTC is skipped, 20:01 = 00:01 UTC passes.
    // (The winter clock is that of a later winter: a day is never run before it happened.)
    for (now, as_of, passes) in [
        ("2023-01-15T00:01:00Z", "2022-03-01", true),
        ("2023-01-15T01:01:00Z", "2022-03-01", false),
        ("2022-07-14T23:01:00Z", "2022-03-02", false),
        ("2022-07-15T00:01:00Z", "2022-03-02", true),
    ] {
        let r = sys(
            &home,
            &[
                "run",
                "--config",
                s(&cfg),
                "--as-of",
                as_of,
                "--run-at-utc-hour",
                "0",
                "--gate-minutes",
                "5",
            ],
            &[("SYSTRADE_NOW", now)],
        );
        assert_eq!(r.code, 0, "{now}: {}", r.stderr);
        assert_eq!(
            r.stdout.contains("gate_skip"),
            !passes,
            "{now}: {}",
            r.stdout
        );
    }
    let runs = read(&home.join("logs/runs.jsonl"));
    assert_eq!(runs.matches("gate_skip").count(), 2, "{runs}");
    // Market-local gate: 16:10 New York passes at the same local time in EST and EDT.
    for (now, passes) in [
        ("2023-01-13T21:12:00Z", true),
        ("2022-07-14T21:12:00Z", false),
    ] {
        let r = sys(
            &home,
            &[
                "run",
                "--config",
                s(&cfg),
                "--as-of",
                "2022-03-02",
                "--run-at",
                "16:10",
                "--tz",
                "America/New_York",
                "--dry-run",
            ],
            &[("SYSTRADE_NOW", now)],
        );
        assert_eq!(r.code, 0);
        assert_eq!(
            r.stdout.contains("gate_skip"),
            !passes,
            "{now}: {}",
            r.stdout
        );
    }

    // already_ran: the second run of a day changes nothing.
    let before = end_state(&home);
    let r = sys(
        &home,
        &["run", "--config", s(&cfg), "--as-of", "2022-03-02"],
        &[],
    );
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("already_ran"), "{}", r.stdout);
    assert_eq!(end_state(&home), before);

    // --dry-run changes nothing but its logs and summary.
    let r = sys(
        &home,
        &[
            "run",
            "--config",
            s(&cfg),
            "--as-of",
            "2022-03-03",
            "--dry-run",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        end_state(&home),
        before,
        "a dry run leaves the ledger and the account alone"
    );
    let dry = home.join("runs/trend_crypto/2022-03-03/dry-run");
    assert!(dry.join("daily_summary_2022-03-03.json").exists());
    let submits = dry.join("logs/order_submit.jsonl");
    assert!(!submits.exists() || read(&submits).contains("\"preview\""));
    assert!(!home.join("runs/trend_crypto/2022-03-03/done").exists());

    // A live lock refuses; a stale one (dead pid) is taken over and reported.
    std::fs::write(home.join("locks/trend_crypto.lock"), "2147483000\n").unwrap();
    // The notification endpoint is down: the run still completes, and says why.
    let r = sys(
        &home,
        &["run", "--config", s(&cfg), "--as-of", "2022-03-03"],
        &[("SYSTRADE_WEBHOOK_URL", "http://127.0.0.1:9/hook")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("stale_lock"), "{}", r.stdout);
    assert!(
        r.stderr.contains("notification could not be sent"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("127.0.0.1:9"),
        "the webhook URL is a secret: {}",
        r.stderr
    );
    let errors = read(&home.join("runs/trend_crypto/2022-03-03/logs/errors.jsonl"));
    assert!(errors.contains("notify_failed"), "{errors}");
    assert!(home.join("runs/trend_crypto/2022-03-03/done").exists());
    check_day(&home, "trend_crypto", "2022-03-03");
}

#[test]
fn test_broker_faults_retries_timeouts_partial_fills_and_missing_bars() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cfg, warm) = warm_home(dir.path(), &data);
    let day = "2022-03-09";
    let reference = dir.path().join("reference");
    copy_dir(&warm, &reference);
    assert_eq!(
        sys(
            &reference,
            &["run", "--config", s(&cfg), "--as-of", day],
            &[]
        )
        .code,
        0
    );
    let want = end_state(&reference);

    // 429 on every submit: bounded retries, then a clear failure and no done flag.
    let (r, home) = faulty_day(dir.path(), &warm, &cfg, day, "rate-limited", "submit:429");
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("rate limited") && r.stderr.contains("submit"),
        "{}",
        r.stderr
    );
    let errors = read(&home.join(format!("runs/trend_crypto/{day}/logs/errors.jsonl")));
    // The failed sell, then the attempt to put its canceled stop back: each retried 3 times;
    // the outage outlasts both, and the run says to protect the position by hand.
    assert_eq!(
        errors.matches("broker_retry").count(),
        6,
        "run.max_retries = 3: {errors}"
    );
    assert!(
        r.stderr
            .contains("protect the held positions at the broker by hand"),
        "{}",
        r.stderr
    );
    assert!(!home.join(format!("runs/trend_crypto/{day}/done")).exists());
    assert!(
        !home
            .join(format!("runs/trend_crypto/{day}/daily_summary_{day}.json"))
            .exists()
    );
    // The rerun completes the day as if nothing happened.
    assert_eq!(
        sys(&home, &["run", "--config", s(&cfg), "--as-of", day], &[]).code,
        0
    );
    assert_eq!(end_state(&home), want);

    // 5xx twice, then the broker answers: the run completes unchanged.
    let (r, home) = faulty_day(dir.path(), &warm, &cfg, day, "server-errors", "any:503*2");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(end_state(&home), want);

    // A submit whose answer is lost: the retry finds the order, nothing trades twice.
    let (r, home) = faulty_day(dir.path(), &warm, &cfg, day, "timeout", "submit:timeout*1");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(end_state(&home), want);

    // A rejected order is recorded as such; the position keeps its stop.
    let (r, home) = faulty_day(dir.path(), &warm, &cfg, day, "reject", "submit:reject*1");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lo = query(
        &ledger(&home),
        "SELECT status FROM orders WHERE status = 'rejected'",
    );
    assert_eq!(lo.len(), 1);
    check_day(&home, "trend_crypto", day);

    // Missing bars: the held symbols' T-1 bars are gone, so their stops stay untouched.
    let held = broker_positions(&warm);
    assert!(!held.is_empty());
    let stops_before = query(
        &paper(&warm),
        "SELECT client_order_id, stop_price, qty FROM orders WHERE stop_price IS NOT NULL AND status = 'accepted' ORDER BY 1",
    );
    let cut = dir.path().join("cut");
    std::fs::create_dir_all(&cut).unwrap();
    for e in std::fs::read_dir(&data).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().to_string();
        let text = std::fs::read_to_string(e.path()).unwrap();
        let sym = name.split(['_', '.']).next().unwrap();
        let kept: String = if held.contains_key(sym) {
            text.lines()
                .filter(|l| !l.contains("2022-03-08"))
                .map(|l| format!("{l}\n"))
                .collect()
        } else {
            text
        };
        std::fs::write(cut.join(&name), kept).unwrap();
    }
    let home = dir.path().join("missing-bars");
    copy_dir(&warm, &home);
    let r = sys(
        &home,
        &[
            "run",
            "--config",
            s(&cfg),
            "--as-of",
            day,
            "--data",
            s(&cut),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stops_after = query(
        &paper(&home),
        "SELECT client_order_id, stop_price, qty FROM orders WHERE stop_price IS NOT NULL AND status = 'accepted' ORDER BY 1",
    );
    assert_eq!(
        stops_after, stops_before,
        "stops untouched without T-1 data"
    );
    let log = read(&home.join(format!("runs/trend_crypto/{day}/logs/stop_updates.jsonl")));
    assert_eq!(
        log.matches("\"reason\":\"skip\"").count(),
        held.len(),
        "{log}"
    );
    let summary: Value = serde_json::from_str(&read(
        &home.join(format!("runs/trend_crypto/{day}/daily_summary_{day}.json")),
    ))
    .unwrap();
    assert_eq!(summary["no_data"].as_array().unwrap().len(), held.len());
}

#[test]
fn test_partial_fill_is_protected_and_a_reconciliation_mismatch_blocks_until_acked() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = crypto_cfg(dir.path(), &data, "");
    let home = dir.path().join("home");
    // The first day buys LUNA; only half of it fills.
    let r = sys(
        &home,
        &["run", "--config", s(&cfg), "--as-of", "2022-03-01"],
        &[("SYSTRADE_PAPER_FAULTS", "submit:partial=0.5@LUNAUSDT*1")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let st = query(
        &ledger(&home),
        "SELECT status, qty, filled_qty FROM orders WHERE kind = 'market'",
    );
    assert_eq!(st[0][0], "partially_filled", "{st:?}");
    check_day(&home, "trend_crypto", "2022-03-01");
    // Next day the rest has expired, and the books still agree.
    assert_eq!(
        sys(
            &home,
            &["run", "--config", s(&cfg), "--as-of", "2022-03-02"],
            &[]
        )
        .code,
        0
    );
    let st = query(
        &ledger(&home),
        "SELECT status FROM orders WHERE market_day = '2022-03-01' AND kind = 'market'",
    );
    assert_eq!(st[0][0], "expired");
    check_day(&home, "trend_crypto", "2022-03-02");

    // Someone buys BTC by hand at the broker: the reconciliation flags it, and it stays
    // flagged (entries in BTC refused) until acknowledged.
    let c = rusqlite::Connection::open(paper(&home)).unwrap();
    c.execute(
        "INSERT INTO positions (symbol, qty, cost) VALUES ('BTCUSDT', '0.5', '20000')",
        [],
    )
    .unwrap();
    drop(c);
    let r = sys(&home, &["reconcile", "--config", s(&cfg), "--json"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rep: Value = serde_json::from_str(&r.stdout).unwrap();
    let row = |rep: &Value, sym: &str| {
        rep["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["symbol"] == sym)
            .cloned()
    };
    let btc = row(&rep, "BTCUSDT").unwrap();
    assert_eq!(btc["status"], "missing_in_ledger", "{rep}");
    assert_eq!(btc["acked"], false);
    let text = sys(&home, &["reconcile", "--config", s(&cfg)], &[]).stdout;
    assert!(
        text.contains("BTCUSDT") && text.contains("missing_in_ledger"),
        "{text}"
    );
    let r = sys(
        &home,
        &["reconcile", "--config", s(&cfg), "--ack", "BTCUSDT"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("acknowledged BTCUSDT"), "{}", r.stdout);
    assert_eq!(
        ledger_positions(&home).get("BTCUSDT").map(String::as_str),
        Some("0.5")
    );
    let rep: Value = serde_json::from_str(
        &sys(&home, &["reconcile", "--config", s(&cfg), "--json"], &[]).stdout,
    )
    .unwrap();
    assert_eq!(
        row(&rep, "BTCUSDT").unwrap()["status"],
        "stop_missing",
        "{rep}"
    );
    let r = sys(
        &home,
        &["reconcile", "--config", s(&cfg), "--ack", "XRPUSDT"],
        &[],
    );
    assert_eq!(r.code, 2, "nothing to acknowledge: {}", r.stderr);
    // The next day adopts BTC as a position to protect: it gets its stop (or is exited).
    assert_eq!(
        sys(
            &home,
            &["run", "--config", s(&cfg), "--as-of", "2022-03-03"],
            &[]
        )
        .code,
        0
    );
    check_day(&home, "trend_crypto", "2022-03-03");
}

/// The daily cash check: a paper account's cash moved by something the ledger's fills do
/// not explain (a dividend paid in) is a mismatch — reported, alerted, no new risk the next
/// day — until `reconcile --ack-cash`; then the books agree again.
#[test]
fn test_a_cash_difference_blocks_new_risk_until_acknowledged() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = crypto_cfg(dir.path(), &data, "");
    let home = dir.path().join("home");
    let run = |day: &str| {
        let r = sys(&home, &["run", "--config", s(&cfg), "--as-of", day], &[]);
        assert_eq!(r.code, 0, "{day}: {}{}", r.stdout, r.stderr);
        r
    };
    let recon = |day: &str| -> Value {
        serde_json::from_str(&read(
            &home.join(format!("runs/trend_crypto/{day}/reconciliation_{day}.json")),
        ))
        .unwrap()
    };
    run("2022-03-01");
    assert_eq!(recon("2022-03-01")["cash"]["status"], "anchored");
    run("2022-03-02");
    assert_eq!(recon("2022-03-02")["cash"]["status"], "match");
    // A dividend of 123.45 lands in the account.
    let c = rusqlite::Connection::open(paper(&home)).unwrap();
    let before: String = c
        .query_row("SELECT cash FROM account", [], |r| r.get(0))
        .unwrap();
    let broker_cash = (before.parse::<rust_decimal::Decimal>().unwrap()
        + rust_decimal::Decimal::new(12345, 2))
    .to_string();
    c.execute("UPDATE account SET cash = ?1", [&broker_cash])
        .unwrap();
    drop(c);
    let r = run("2022-03-03");
    assert!(r.stdout.contains("cash mismatch 123.45"), "{}", r.stdout);
    let cash = recon("2022-03-03")["cash"].clone();
    assert_eq!(cash["status"], "mismatch", "{cash}");
    assert_eq!(cash["difference"], "123.45", "{cash}");
    assert_eq!(
        norm(cash["broker"].as_str().unwrap()),
        norm(&broker_cash),
        "{cash}"
    );
    let errors = read(&home.join("runs/trend_crypto/2022-03-03/logs/errors.jsonl"));
    assert!(errors.contains("cash_mismatch"), "{errors}");
    let summary: Value = serde_json::from_str(&read(
        &home.join("runs/trend_crypto/2022-03-03/daily_summary_2022-03-03.json"),
    ))
    .unwrap();
    assert_eq!(summary["reconciliation"]["cash"]["status"], "mismatch");
    // From the next day on no entry goes out: every one is blocked with cash_mismatch
    // (sells and stops go on).
    let mut blocked = 0;
    let mut last = String::new();
    for day in days("2022-03-04", 40) {
        run(&day);
        assert_eq!(recon(&day)["cash"]["status"], "mismatch", "{day}");
        let d: Value = serde_json::from_str(&read(
            &home.join(format!("runs/trend_crypto/{day}/decisions_{day}.json")),
        ))
        .unwrap();
        for x in d["decisions"].as_array().unwrap() {
            assert_eq!(x["action"], "block", "{day}: {x}");
            assert!(
                x["reasons"]
                    .as_array()
                    .unwrap()
                    .contains(&"cash_mismatch".into()),
                "{day}: {x}"
            );
            blocked += 1;
        }
        last = day;
        if blocked > 0 {
            break;
        }
    }
    assert!(blocked > 0, "no entry was wanted through {last}");
    // Acknowledged: the ledger expects the broker's cash, and the next day is clean.
    let r = sys(
        &home,
        &["reconcile", "--config", s(&cfg), "--ack-cash"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("123.45"), "{}", r.stdout);
    let again = sys(
        &home,
        &["reconcile", "--config", s(&cfg), "--ack-cash"],
        &[],
    );
    assert_eq!(
        again.code, 2,
        "nothing left to acknowledge: {}",
        again.stderr
    );
    let next = days(&last, 2)[1].clone();
    run(&next);
    assert_eq!(recon(&next)["cash"]["status"], "match");
    check_day(&home, "trend_crypto", &next);
    // Fills the broker made that the ledger has not booked yet — the stops through May's crash,
    // replayed when `reconcile` moves the paper account's clock — are in the broker's cash and
    // not the ledger's: the check leaves them out of both, so it still matches.
    let r = sys(
        &home,
        &[
            "reconcile",
            "--config",
            s(&cfg),
            "--as-of",
            "2022-06-01",
            "--json",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let count = |db: &Path| query(db, "SELECT COUNT(*) FROM fills")[0][0].clone();
    let (at_broker, booked) = (count(&paper(&home)), count(&ledger(&home)));
    assert_ne!(
        at_broker, booked,
        "no fill happened between: the case is not tested"
    );
    let rep: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(rep["cash"]["status"], "match", "{rep}");
}

/// Each gate, set tight, blocks new risk with its reason code while the day's sells and
/// every protective stop go through.
#[test]
fn test_every_gate_blocks_new_risk_but_never_an_exit_or_a_stop() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, warm) = warm_home(dir.path(), &data);
    // 2022-03-10 sells nothing but buys; 2022-03-09 sells. Run 03-09 then 03-10 per gate.
    type Gate<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>);
    let gates: [Gate; 14] = [
        ("kill_switch", "", Some(("SYSTRADE_KILL_SWITCH", "1"))),
        (
            "not_allowlisted",
            "[safety]\nallowlist = [\"ETHUSDT\"]",
            None,
        ),
        ("risk_per_trade", "[safety]\nmax_risk_per_trade = 1.0", None),
        ("gross_exposure", "[safety]\nmax_gross_pct = 0.01", None),
        ("max_positions", "[safety]\nmax_positions = 1", None),
        ("max_new_entries", "[safety]\nmax_new_entries = 0", None),
        ("concentration", "[safety]\nmax_position_pct = 0.01", None),
        ("sector_limit", "[safety]\nmax_sector_pct = 0.01", None),
        (
            "daily_loss_limit",
            "[safety]\ndaily_loss_limit = 0.01",
            None,
        ),
        (
            "drawdown_throttle",
            "[safety]\ndrawdown_block = 0.0001",
            None,
        ),
        ("order_size", "[safety]\nmax_order_notional = 1.0", None),
        (
            "decision_missing",
            "[decisions]\nfile = \"nowhere/decisions_{date}.json\"",
            None,
        ),
        (
            "decision_missing",
            "[decisions]\nfile = \"stale.json\"",
            None,
        ),
        (
            "decision_missing",
            "[decisions]\nfile = \"garbage.json\"",
            None,
        ),
    ];
    std::fs::write(
        dir.path().join("stale.json"),
        r#"{"as_of": "2021-01-01", "decisions": []}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("garbage.json"), "{not json").unwrap();
    for (k, (code, extra, env)) in gates.iter().enumerate() {
        let sub = dir.path().join(format!("gate-{k}"));
        std::fs::create_dir_all(&sub).unwrap();
        for f in ["stale.json", "garbage.json"] {
            std::fs::copy(dir.path().join(f), sub.join(f)).unwrap();
        }
        let cfg = crypto_cfg(&sub, &data, extra);
        let home = sub.join("home");
        copy_dir(&warm, &home);
        let envs: Vec<(&str, &str)> = env.iter().copied().collect();
        let mut blocked_codes = Vec::new();
        let mut sold = 0;
        for day in ["2022-03-09", "2022-03-10", "2022-03-11", "2022-03-12"] {
            let r = sys(&home, &["run", "--config", s(&cfg), "--as-of", day], &envs);
            assert_eq!(r.code, 0, "{code} {day}: {}{}", r.stdout, r.stderr);
            check_day(&home, "trend_crypto", day);
            let sm: Value = serde_json::from_str(&read(
                &home.join(format!("runs/trend_crypto/{day}/daily_summary_{day}.json")),
            ))
            .unwrap();
            for b in sm["decisions"]["blocked"].as_array().unwrap() {
                blocked_codes.extend(
                    b["reasons"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c.as_str().unwrap().to_string()),
                );
            }
            sold += query(
                &ledger(&home),
                &format!(
                    "SELECT 1 FROM orders WHERE market_day = '{day}' AND side = 'sell' AND kind = 'market' AND status = 'filled'"
                ),
            )
            .len();
        }
        assert!(
            blocked_codes.iter().any(|c| c == code),
            "{code}: blocked with {blocked_codes:?}"
        );
        assert!(sold >= 1, "{code}: the sells went through");
        // Nothing bought while the gate was shut.
        let buys = query(
            &ledger(&home),
            "SELECT 1 FROM orders WHERE market_day >= '2022-03-09' AND side = 'buy' AND status = 'filled'",
        );
        if *code != "drawdown_throttle" && *code != "daily_loss_limit" {
            assert!(buys.is_empty(), "{code}: no new risk: {buys:?}");
        }
    }
}

/// Bad settings of the daily run stop before anything is written, naming the key or flag.
#[test]
fn test_bad_run_settings_name_the_key_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    for (extra, args, want) in [
        (
            "[safety]\nmax_gross_pct = -1.0",
            vec![],
            "safety.max_gross_pct",
        ),
        ("[safety]\nmax_leverage = 2.0", vec![], "max_leverage"),
        ("[decisions]\nmode = \"maybe\"", vec![], "decisions.mode"),
        ("[run]\naccount = \"a b\"", vec![], "run.account"),
        ("", vec!["--run-at", "25:00", "--tz", "UTC"], "--run-at"),
        ("", vec!["--run-at", "16:00", "--tz", "Mars/Base"], "--tz"),
        ("", vec!["--now", "yesterday"], "--now"),
    ] {
        let cfg = dir.path().join("t.toml");
        let text = committed("trend_crypto.toml").replace(
            "source = \"../../shared/data/crypto_binance_spot/1d\"",
            &format!("source = {:?}", data.display().to_string()),
        );
        std::fs::write(&cfg, format!("{text}\n{extra}\n")).unwrap();
        let home = dir.path().join("home");
        let mut a = vec!["run", "--config", s(&cfg), "--as-of", "2022-03-01"];
        a.extend(args.iter().copied());
        let r = sys(&home, &a, &[]);
        assert_eq!(r.code, 2, "{extra} {args:?}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(want), "{want}: {}", r.stderr);
        assert!(
            !home.join("ledger.sqlite").exists(),
            "{want}: nothing written"
        );
    }
    // A window no data can fill is bad input naming its key, not an allocation failure.
    for (file, from, to, want) in [
        (
            "trend_crypto.toml",
            "vol_window = 20",
            "vol_window = 4000000000",
            "signal.vol_window",
        ),
        (
            "momentum_demo.toml",
            "cohorts = 3",
            "cohorts = 3\nlookback = 4000000000",
            "momentum.lookback",
        ),
    ] {
        let cfg = dir.path().join(file);
        let text = committed(file);
        assert!(text.contains(from), "{file} has {from}");
        std::fs::write(&cfg, text.replace(from, to)).unwrap();
        let home = dir.path().join("home");
        for args in [
            vec!["run", "--config", s(&cfg), "--as-of", "2022-03-01"],
            vec!["backtest", "--config", s(&cfg), "--out", "unused"],
        ] {
            let r = sys(&home, &args, &[]);
            assert_eq!(r.code, 2, "{want} {args:?}: {}{}", r.stdout, r.stderr);
            assert!(
                r.stderr.contains(want) && r.stderr.contains("10000"),
                "{want}: {}",
                r.stderr
            );
            assert!(!home.exists(), "{want}: nothing written");
        }
    }
}

#[test]
fn test_semi_auto_orders_wait_for_approval_and_approving_each_day_trades_as_auto() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let auto_cfg = crypto_cfg(dir.path(), &data, "");
    let semi_dir = dir.path().join("semi");
    std::fs::create_dir_all(&semi_dir).unwrap();
    let semi_cfg = crypto_cfg(
        &semi_dir,
        &data,
        "[execution]\nlevel = \"semi-auto\"\napprove_above = 0\n",
    );
    let (auto_home, semi_home) = (dir.path().join("auto"), dir.path().join("semi-home"));
    let mut approved = 0;
    let mut first_held: Option<String> = None;
    let mut cancel_home: Option<PathBuf> = None;
    for d in days("2022-04-01", 12) {
        let run = |home: &Path, cfg: &Path| {
            let r = sys(home, &["run", "--config", s(cfg), "--as-of", &d], &[]);
            assert_eq!(r.code, 0, "{d}: {}{}", r.stdout, r.stderr);
        };
        run(&auto_home, &auto_cfg);
        run(&semi_home, &semi_cfg);
        let summary: Value = serde_json::from_str(&read(
            &semi_home.join(format!("runs/trend_crypto/{d}/daily_summary_{d}.json")),
        ))
        .unwrap();
        assert_eq!(summary["orders"]["execution_level"], "semi-auto");
        let held = summary["orders"]["held_back"].as_array().unwrap().clone();
        let orders_csv = read(&semi_home.join(format!("runs/trend_crypto/{d}/orders_{d}.csv")));
        for h in &held {
            let id = h["client_order_id"].as_str().unwrap();
            // Staged in the ledger, listed in the day's orders file, unknown to the broker.
            assert!(
                orders_csv.contains(&format!("{id},trend_crypto,{d},")),
                "{orders_csv}"
            );
            assert!(
                query(
                    &paper(&semi_home),
                    &format!("SELECT 1 FROM orders WHERE client_order_id = '{id}'")
                )
                .is_empty(),
                "{d}: {id} reached the broker before approval"
            );
        }
        if !held.is_empty() && first_held.is_none() {
            first_held = Some(d.clone());
        }
        if !held.is_empty() {
            let r = sys(
                &semi_home,
                &["approve", "--config", s(&semi_cfg), "--all"],
                &[],
            );
            assert_eq!(r.code, 0, "{d}: {}{}", r.stdout, r.stderr);
            approved += held.len();
        }
        // Approved the same day, semi-auto holds what auto holds, protected the same way.
        assert_eq!(
            broker_positions(&semi_home),
            broker_positions(&auto_home),
            "{d}"
        );
        assert_eq!(ledger_positions(&semi_home), broker_positions(&semi_home));
        assert_eq!(open_stops(&semi_home), open_stops(&auto_home), "{d}: stops");
        if cancel_home.is_none() && !open_stops(&semi_home).is_empty() {
            let copy = dir.path().join("with-stops");
            copy_dir(&semi_home, &copy);
            cancel_home = Some(copy);
        }
        assert_eq!(
            query(&paper(&semi_home), "SELECT cash FROM account"),
            query(&paper(&auto_home), "SELECT cash FROM account"),
            "{d}: cash"
        );
    }
    assert!(
        approved >= 2,
        "entries and exits went through approval: {approved}"
    );
    // A stop working at the broker is canceled there (only with the book's config), and the
    // ledger forgets it.
    let held = cancel_home.expect("a day with a protective stop");
    let stop = query(&ledger(&held), "SELECT client_order_id FROM stops LIMIT 1");
    let id = stop[0][0].clone();
    let r = sys(&held, &["orders", "cancel", &id], &[]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("pass --config"), "{}", r.stderr);
    let r = sys(
        &held,
        &["orders", "cancel", "--config", s(&semi_cfg), &id],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let sql = format!("SELECT status FROM orders WHERE client_order_id = '{id}'");
    assert_eq!(query(&paper(&held), &sql)[0][0], "canceled");
    assert_eq!(query(&ledger(&held), &sql)[0][0], "canceled");
    assert!(
        query(
            &ledger(&held),
            &format!("SELECT 1 FROM stops WHERE client_order_id = '{id}'")
        )
        .is_empty()
    );
    // An order left unapproved expires with the next run (a fresh account that does not
    // approve the first day's orders).
    let d = first_held.expect("a day with orders to approve");
    let late = dir.path().join("late");
    let r = sys(
        &late,
        &["run", "--config", s(&semi_cfg), "--as-of", &d],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pending = query(
        &ledger(&late),
        &format!(
            "SELECT client_order_id FROM orders WHERE approval = 'pending' AND status = 'staged' AND market_day = '{d}'"
        ),
    );
    assert!(!pending.is_empty(), "{d}: orders wait");
    let next = days(&d, 2)[1].clone();
    let r = sys(
        &late,
        &["run", "--config", s(&semi_cfg), "--as-of", &next],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    for id in &pending {
        let st = query(
            &ledger(&late),
            &format!(
                "SELECT status, note FROM orders WHERE client_order_id = '{}'",
                id[0]
            ),
        );
        assert_eq!(st[0][0], "expired", "{id:?}");
        assert!(
            st[0][1].starts_with("not approved before its session"),
            "{st:?}"
        );
    }
    // Approving an expired order is refused.
    let r = sys(
        &late,
        &["approve", "--config", s(&semi_cfg), &pending[0][0]],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("expired"), "{}", r.stderr);
}

#[test]
fn test_manual_level_never_sends_and_small_orders_skip_approval() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mdir, tdir) = (dir.path().join("m"), dir.path().join("t"));
    std::fs::create_dir_all(&mdir).unwrap();
    std::fs::create_dir_all(&tdir).unwrap();
    let manual = crypto_cfg(&mdir, &data, "[execution]\nlevel = \"manual\"\n");
    let small = crypto_cfg(
        &tdir,
        &data,
        "[execution]\nlevel = \"semi-auto\"\napprove_above = 1e12\n",
    );
    let (mh, th) = (dir.path().join("mh"), dir.path().join("th"));
    let mut seen = 0;
    for d in days("2022-04-01", 8) {
        for (home, cfg) in [(&mh, &manual), (&th, &small)] {
            let r = sys(home, &["run", "--config", s(cfg), "--as-of", &d], &[]);
            assert_eq!(r.code, 0, "{d}: {}{}", r.stdout, r.stderr);
        }
        let held = query(
            &ledger(&mh),
            &format!(
                "SELECT client_order_id, approval, status FROM orders WHERE market_day = '{d}'"
            ),
        );
        for o in &held {
            assert_eq!(
                (o[1].as_str(), o[2].as_str()),
                ("manual", "staged"),
                "{d}: {o:?}"
            );
            let r = sys(&mh, &["approve", "--config", s(&manual), &o[0]], &[]);
            assert_eq!(r.code, 2, "{}", r.stdout);
            assert!(r.stderr.contains("manual level"), "{}", r.stderr);
        }
        seen += held.len();
        // Below the threshold nothing waits.
        let waiting = query(
            &ledger(&th),
            "SELECT client_order_id FROM orders WHERE approval IS NOT NULL",
        );
        assert!(waiting.is_empty(), "{d}: {waiting:?}");
    }
    assert!(seen >= 1, "the manual book had orders to trade by hand");
    assert!(
        query(&paper(&mh), "SELECT 1 FROM orders").is_empty(),
        "the manual level sent nothing"
    );
    assert!(!query(&paper(&th), "SELECT 1 FROM orders").is_empty());
}
