//! The anchored-VWAP system from the command line on the real S&P data (74 names of
//! ../shared/data/sp500_daily_alphavantage) and the three intraday ETFs: the backtest keeps
//! every rule, sees nothing ahead, reruns byte for byte; the scan agrees with it and
//! refuses stale data.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::{f, read, rows, run, s};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn config() -> PathBuf {
    repo().join("configs/avwap_us.toml")
}

fn sp500() -> PathBuf {
    repo().join("../shared/data/sp500_daily_alphavantage/daily")
}

fn backtest(cfg: &Path, out: &Path) {
    let r = run(&["backtest", "--config", s(cfg), "--out", s(out)]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn test_backtest_keeps_every_rule_and_the_scan_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bt");
    backtest(&config(), &out);
    let trades = rows(&out.join("trades.csv"));
    let cands = rows(&out.join("candidates.csv"));
    let series = rows(&out.join("timeseries.csv"));
    let stops = rows(&out.join("stops.csv"));
    assert!(trades.len() > 500, "{} trades", trades.len());
    // The sessions of the backtest, in order: an entry's scan is the session before it.
    let dates: Vec<&str> = series.iter().map(|r| r["date"].as_str()).collect();
    let prev: BTreeMap<&str, &str> = dates.windows(2).map(|w| (w[1], w[0])).collect();
    let equity: BTreeMap<&str, f64> = series
        .iter()
        .map(|r| (r["date"].as_str(), f(r, "equity")))
        .collect();
    let entered: BTreeSet<(String, String, String)> = cands
        .iter()
        .filter(|c| c["outcome"] == "entered")
        .map(|c| {
            (
                c["scan_date"].clone(),
                c["symbol"].clone(),
                c["entry_date"].clone(),
            )
        })
        .collect();
    let reasons = [
        "stop_initial",
        "stop_intraday",
        "stop_daily",
        "avwap_loss",
        "time_stop",
        "end_of_data",
    ];
    let mut modes = BTreeSet::new();
    for t in &trades {
        let key = (
            t["scan_date"].clone(),
            t["symbol"].clone(),
            t["entry_date"].clone(),
        );
        assert!(
            entered.contains(&key),
            "trade {} was no entered candidate: {key:?}",
            t["trade_id"]
        );
        assert_eq!(
            prev[t["entry_date"].as_str()],
            t["scan_date"],
            "trade {}",
            t["trade_id"]
        );
        // Risk per trade within min(250, 0.5% of the equity at the scan's close).
        let cap = 250f64.min(0.005 * equity[t["scan_date"].as_str()]);
        assert!(
            f(t, "risk") <= cap + 0.01,
            "trade {}: risk {} > {cap}",
            t["trade_id"],
            t["risk"]
        );
        assert!(f(t, "initial_stop") < f(t, "entry_price"));
        assert!(
            reasons.contains(&t["exit_reason"].as_str()),
            "{}",
            t["exit_reason"]
        );
        assert_eq!(t["open"] == "1", t["exit_reason"] == "end_of_data");
        if t["exit_reason"].starts_with("stop_") {
            assert!(
                f(t, "exit_price") <= f(t, "final_stop") + 1e-9,
                "trade {}",
                t["trade_id"]
            );
        }
        assert!(t["exit_date"] >= t["entry_date"]);
        modes.insert(t["stop_mode"].clone());
    }
    assert!(
        modes.contains("daily") && modes.contains("intraday"),
        "{modes:?}"
    );
    // No stop ever moved down, nor took effect before 09:45 New York.
    let mut by_trade: BTreeMap<&str, Vec<&BTreeMap<String, String>>> = BTreeMap::new();
    for r in &stops {
        by_trade.entry(r["trade_id"].as_str()).or_default().push(r);
    }
    assert_eq!(by_trade.len(), trades.len());
    for (id, path) in &by_trade {
        assert_eq!(path[0]["source"], "initial", "trade {id}");
        for w in path.windows(2) {
            assert!(
                f(w[1], "level") > f(w[0], "level"),
                "trade {id}: {:?} then {:?}",
                w[0],
                w[1]
            );
            assert!(w[1]["effective"] >= w[0]["effective"], "trade {id}");
        }
        for r in path {
            let utc = &r["effective"][11..16];
            // 09:45 New York is 13:45 UTC in summer, 14:45 in winter.
            assert!(utc >= "13:45", "trade {id}: {utc}");
        }
    }
    // `systrade scan` on a few entries' scan dates lists the entered symbol.
    let picks: Vec<&BTreeMap<String, String>> =
        trades.iter().step_by(trades.len() / 4).take(4).collect();
    for t in picks {
        let sd = &t["scan_date"];
        let scan_out = dir.path().join(format!("scan-{sd}"));
        let r = run(&[
            "scan",
            "--config",
            s(&config()),
            "--as-of",
            sd,
            "--out",
            s(&scan_out),
        ]);
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        let listed = rows(&scan_out.join(format!("candidates_{sd}.csv")));
        let row = listed
            .iter()
            .find(|c| c["symbol"] == t["symbol"])
            .unwrap_or_else(|| panic!("{} not in the scan of {sd}", t["symbol"]));
        assert_eq!(row["anchor_date"], t["anchor_date"]);
        // Sorted by score, then symbol.
        let keys: Vec<(f64, String)> = listed
            .iter()
            .map(|c| (f(c, "score"), c["symbol"].clone()))
            .collect();
        assert!(
            keys.windows(2)
                .all(|w| w[0].0 < w[1].0 || (w[0].0 == w[1].0 && w[0].1 < w[1].1))
        );
    }
}

#[test]
fn test_rerun_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    backtest(&config(), &a);
    backtest(&config(), &b);
    for f in [
        "trades.csv",
        "stops.csv",
        "candidates.csv",
        "timeseries.csv",
        "summary.json",
        "report.html",
    ] {
        assert!(
            read(&a.join(f)) == read(&b.join(f)),
            "{f} differs between reruns"
        );
    }
}

/// A config over `source` without intraday bars, on the files' own prices: back-adjusting
/// splits rescales every earlier price by splits after the cut (a property of adjusted
/// data, not of a decision), so the truncation test compares unadjusted prices.
fn daily_config(dir: &Path, name: &str, source: &Path) -> PathBuf {
    let text = read(&config())
        .replace("adjust = \"split\"", "adjust = \"none\"")
        .replace(
            "source = \"../../shared/data/sp500_daily_alphavantage/daily\"",
            &format!("source = {:?}", s(source)),
        )
        .replace("intraday = \"../../shared/data/us_intraday_1min\"\n", "");
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn test_no_look_ahead_truncated_data_decides_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let cut = "2012-06-29";
    let short = dir.path().join("short");
    std::fs::create_dir(&short).unwrap();
    for e in std::fs::read_dir(sp500()).unwrap() {
        let p = e.unwrap().path();
        let text = read(&p);
        let kept: Vec<&str> = text
            .lines()
            .enumerate()
            .filter(|(i, l)| *i == 0 || l[..10] <= *cut)
            .map(|(_, l)| l)
            .collect();
        if kept.len() > 1 {
            std::fs::write(short.join(p.file_name().unwrap()), kept.join("\n") + "\n").unwrap();
        }
    }
    let full_cfg = daily_config(dir.path(), "full.toml", &sp500());
    let short_cfg = daily_config(dir.path(), "short.toml", &short);
    backtest(&full_cfg, &dir.path().join("full"));
    backtest(&short_cfg, &dir.path().join("cut"));
    let before = |file: &str, key: &str, strict: bool| -> Vec<String> {
        let body = |d: &str| -> Vec<String> {
            read(&dir.path().join(d).join(file))
                .lines()
                .skip(1)
                .filter(|l| {
                    let v = field(file, l, key);
                    if strict {
                        v.as_str() < cut
                    } else {
                        v.as_str() <= cut
                    }
                })
                .map(str::to_string)
                .collect()
        };
        let (a, b) = (body("full"), body("cut"));
        same(&a, &b, file);
        a
    };
    // The account through the cut, every trade closed before it and every scan before it.
    assert!(before("timeseries.csv", "date", false).len() > 2000);
    let closed = |file: &str| -> Vec<String> {
        read(&dir.path().join(file).join("trades.csv"))
            .lines()
            .skip(1)
            .filter(|l| {
                field("trades.csv", l, "exit_date").as_str() < cut
                    && field("trades.csv", l, "open") == "0"
            })
            .map(str::to_string)
            .collect()
    };
    let (a, b) = (closed("full"), closed("cut"));
    assert!(a.len() > 100, "{} trades closed before the cut", a.len());
    same(&a, &b, "trades.csv (closed before the cut)");
    assert!(before("candidates.csv", "scan_date", true).len() > 100);
}

/// The two runs' lines agree; on a difference, the first one is shown.
fn same(a: &[String], b: &[String], what: &str) {
    if let Some(i) = (0..a.len().max(b.len())).find(|i| a.get(*i) != b.get(*i)) {
        panic!(
            "{what}: line {} differs with the data cut:\n full: {:?}\n  cut: {:?}",
            i + 2,
            a.get(i),
            b.get(i)
        );
    }
}

/// A named field of a line of one of the backtest's CSV files.
fn field(file: &str, line: &str, key: &str) -> String {
    let header = match file {
        "timeseries.csv" => "date,equity,cash,gross,n_positions,ret".to_string(),
        "candidates.csv" => "scan_date,symbol,anchor_kind,anchor_date,avwap,close,sma50,sma200,adv20,atr14,score,tags,entry_date,outcome,qty,stop,entry_price".to_string(),
        _ => systrade_systems::avwap::TRADES_HEADER.to_string(),
    };
    let i = header.split(',').position(|h| h == key).unwrap();
    line.split(',').nth(i).unwrap_or("").to_string()
}

#[test]
fn test_scan_refuses_a_stale_watchlist_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = daily_config(dir.path(), "a.toml", &sp500());
    let out = dir.path().join("scan");
    // The S&P files end on 2021-04-21: a scan of 2021-04-23 has no fresh data.
    let r = run(&[
        "scan",
        "--config",
        s(&cfg),
        "--as-of",
        "2021-04-23",
        "--out",
        s(&out),
    ]);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("stale_watchlist")
            && r.stderr.contains("2021-04-21")
            && r.stderr.contains("2021-04-23"),
        "{}",
        r.stderr
    );
    assert!(!out.exists(), "nothing is written from stale data");
    // The weekend after the last session is not stale.
    let r = run(&[
        "scan",
        "--config",
        s(&cfg),
        "--as-of",
        "2021-04-18",
        "--out",
        s(&out),
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(out.join("candidates_2021-04-16.csv").exists());
    let header = read(&out.join("candidates_2021-04-16.csv"));
    assert!(header.starts_with(
        "symbol,anchor_kind,anchor_date,avwap,close,sma50,sma200,adv20,atr14,score,tags\n"
    ));
    // A config of another strategy is refused with the reason.
    let r = run(&[
        "scan",
        "--config",
        s(&repo().join("configs/trend_demo.toml")),
        "--out",
        s(&out),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("avwap"), "{}", r.stderr);
}

#[test]
fn test_plan_sizes_the_previous_sessions_candidates() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan");
    let r = run(&[
        "plan",
        "--config",
        s(&config()),
        "--as-of",
        "2021-04-21",
        "--capital",
        "40000",
        "--no-refresh",
        "--out",
        s(&out),
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let orders = rows(&out.join("orders_2021-04-21.csv"));
    let cands = rows(&out.join("candidates_2021-04-20.csv"));
    assert_eq!(orders.len(), cands.len());
    assert!(!orders.is_empty());
    for o in &orders {
        if o["outcome"] == "entered" {
            // 0.5% of 40,000 = 200 < 250.
            assert!(
                f(o, "risk") <= 200.0 && f(o, "risk_budget") == 200.0,
                "{o:?}"
            );
            let q = f(o, "qty");
            let per = f(o, "ref_price") - f(o, "stop");
            assert_eq!(q, (200.0 / per).floor(), "{o:?}");
        }
    }
}

/// The three intraday ETFs as an AVWAP book (daily bars from their minutes).
fn etf_config(dir: &Path) -> PathBuf {
    let src = repo().join("../shared/data/us_intraday_1min");
    let p = dir.join("etf.toml");
    std::fs::write(
        &p,
        format!(
            "strategy = \"avwap\"\n[data]\nsource = {:?}\nintraday = {:?}\n[scan]\nmin_dollar_volume = 0.0\nmin_price = 0.0\n[run]\naccount = \"etf\"\n",
            s(&src),
            s(&src)
        ),
    )
    .unwrap();
    p
}

#[test]
fn test_run_cycles_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = etf_config(dir.path());
    let home = dir.path().join("home");
    let h = s(&home);
    // The daily run of an AVWAP config needs its cycle.
    let r = run(&[
        "run",
        "--home",
        h,
        "--config",
        s(&cfg),
        "--now",
        "2024-04-29T13:31:00Z",
    ]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("--cycle open|intraday|close"),
        "{}",
        r.stderr
    );
    // An intraday cycle outside the session, a close cycle before the close: refused.
    let cyc = |c: &str, now: &str| {
        run(&[
            "run",
            "--home",
            h,
            "--config",
            s(&cfg),
            "--cycle",
            c,
            "--now",
            now,
        ])
    };
    let r = cyc("intraday", "2024-04-29T13:00:00Z");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("during the session"), "{}", r.stderr);
    let r = cyc("close", "2024-04-29T19:00:00Z");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("after 16:00"), "{}", r.stderr);
    // 09:31: DBB (a candidate of 2024-04-26) is bought; its stop waits for 09:45, and says so.
    let r = cyc("open", "2024-04-29T13:31:00Z");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let open = read(&home.join("runs/etf/2024-04-29/cycle_open.json"));
    assert!(
        open.contains("\"entered\"") && open.contains("time_gated"),
        "{open}"
    );
    assert!(open.contains("09:45"), "{open}");
    // The same cycle again: already ran, nothing sent.
    let r = cyc("open", "2024-04-29T13:31:00Z");
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("already_ran"), "{}", r.stdout);
    // 09:45: the stop goes in.
    let r = cyc("intraday", "2024-04-29T13:45:00Z");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let intraday = read(&home.join("runs/etf/2024-04-29/cycle_intraday_0945.json"));
    assert!(intraday.contains("stop_placed"), "{intraday}");
    // Hourly through the session: the stop follows the higher lows.
    for hh in 15..20 {
        let r = cyc("intraday", &format!("2024-04-29T{hh}:15:00Z"));
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    }
    // `auto` picks the cycle due: after the close, the close (the summary, the next
    // session's scan)…
    let r = cyc("auto", "2024-04-29T20:05:00Z");
    assert!(r.stdout.contains("cycle_close.json"), "{}", r.stdout);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        home.join("runs/etf/2024-04-29/candidates_2024-04-29.csv")
            .exists()
    );
    // The day's DBB trade stopped out intraday; `systrade portfolio` shows its analytics
    // (prices of an intraday-only symbol come from its one-minute bars).
    let trades = rows(&home.join("runs/etf/trades.csv"));
    assert_eq!(trades.len(), 1, "{trades:?}");
    let t = &trades[0];
    assert_eq!(t["exit_reason"], "stop_intraday");
    assert_eq!(t["stop_mode"], "intraday");
    let e = f(t, "stop_efficiency");
    assert!((0.0..=1.0).contains(&e), "{t:?}");
    let src = repo().join("../shared/data/us_intraday_1min");
    let r = run(&[
        "portfolio",
        "--home",
        h,
        "--as-of",
        "2024-04-29",
        "--data",
        s(&src),
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("etf: 1 closed trades"), "{}", r.stdout);
    assert!(r.stdout.contains("stop_intraday"), "{}", r.stdout);
    // …before the next session's open, the open.
    let r = cyc("auto", "2024-04-30T13:20:00Z");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("2024-04-30/cycle_open.json"),
        "{}",
        r.stdout
    );
}

/// Orders at the paper account: (side, is a stop, status) of each.
fn paper_orders(home: &Path) -> Vec<(String, bool, String)> {
    let c = rusqlite::Connection::open(home.join("paper/etf.sqlite")).unwrap();
    let mut st = c
        .prepare("SELECT side, stop_price IS NOT NULL, status FROM orders ORDER BY seq")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn test_a_cycle_killed_after_the_broker_took_its_order_finishes_on_rerun_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = etf_config(dir.path());
    let home = dir.path().join("home");
    let cyc = |c: &str, now: &str, faults: &str| {
        common::daily::sys(
            &home,
            &["run", "--config", s(&cfg), "--cycle", c, "--now", now],
            &[("SYSTRADE_PAPER_FAULTS", faults)],
        )
    };
    // The entry reaches the broker, then the process dies before it hears the answer.
    let r = cyc("open", "2024-04-29T13:31:00Z", "submit:kill*1");
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!home.join("runs/etf/2024-04-29/cycle_open.json").exists());
    let r = cyc("open", "2024-04-29T13:31:00Z", "");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let buys = paper_orders(&home)
        .into_iter()
        .filter(|o| o.0 == "buy")
        .count();
    assert_eq!(
        buys,
        1,
        "one entry at the broker: {:?}",
        paper_orders(&home)
    );
    let open = read(&home.join("runs/etf/2024-04-29/cycle_open.json"));
    assert!(
        open.contains("\"symbol\":\"DBB\"") && open.contains("\"qty\":"),
        "{open}"
    );
    // The stop reaches the broker, then the process dies; the rerun finds it: one stop.
    let r = cyc("intraday", "2024-04-29T13:45:00Z", "submit:kill*1");
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = cyc("intraday", "2024-04-29T13:45:00Z", "");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let stops: Vec<_> = paper_orders(&home)
        .into_iter()
        .filter(|o| o.1 && o.2 == "accepted")
        .collect();
    assert_eq!(stops.len(), 1, "{:?}", paper_orders(&home));
}

#[test]
fn test_split_works_for_config_strategies_or_refuses_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    for (cfg, split, names) in [
        (
            config(),
            "train=..2012-12-31,validation=2013-01-01..2016-12-31,holdout=2017-01-01..",
            vec!["train", "validation", "holdout"],
        ),
        (
            repo().join("configs/trend_us_alpaca.toml"),
            "a=..2020-12-31,b=2021-01-01..",
            vec!["a", "b"],
        ),
    ] {
        let out = dir.path().join(cfg.file_stem().unwrap());
        let r = run(&[
            "backtest",
            "--config",
            s(&cfg),
            "--split",
            split,
            "--out",
            s(&out),
        ]);
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        let rows = rows(&out.join("splits.csv"));
        let got: Vec<&str> = rows.iter().map(|r| r["split"].as_str()).collect();
        assert_eq!(got, names);
        for r in &rows {
            assert!(f(r, "n_returns") > 100.0, "{r:?}");
        }
        // The splits partition the run: their returns add up to the run's.
        let n: f64 = rows.iter().map(|r| f(r, "n_returns")).sum();
        let series = read(&out.join("timeseries.csv")).lines().count() - 2;
        assert_eq!(n as usize, series, "{}", cfg.display());
        assert!(read(&out.join("report.html")).contains(&format!(">{}<", names[0])));
        // A split outside the run: refused, nothing written.
        let bad = dir.path().join("bad");
        let r = run(&[
            "backtest",
            "--config",
            s(&cfg),
            "--split",
            "x=2030-01-01..",
            "--out",
            s(&bad),
        ]);
        assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("split x has no data"), "{}", r.stderr);
        assert!(!bad.exists());
    }
}

#[test]
fn test_a_portfolios_avwap_bucket_runs_in_cycles_as_its_own_book() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = etf_config(dir.path());
    let home = dir.path().join("home");
    let h = s(&home);
    let p = dir.path().join("pv.toml");
    std::fs::write(
        &p,
        format!(
            "strategy = \"portfolio\"\ncapital = 100000.0\n\
             [[buckets]]\nname = \"V\"\nconfig = {:?}\ncapital = 0.5\nmax_positions = 1\naccount = \"pv\"\n",
            s(&cfg)
        ),
    )
    .unwrap();
    // The daily run leaves an AVWAP bucket to its cycles, and says so.
    let r = run(&[
        "run",
        "--home",
        h,
        "--config",
        s(&p),
        "--now",
        "2024-04-29T13:31:00Z",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("bucket V (") && r.stdout.contains("--cycle open|intraday|close"),
        "{}",
        r.stdout
    );
    assert!(!home.join("runs/V").exists());
    let cyc = |c: &str, now: &str| {
        run(&[
            "run",
            "--home",
            h,
            "--config",
            s(&p),
            "--cycle",
            c,
            "--now",
            now,
        ])
    };
    let r = cyc("open", "2024-04-29T13:31:00Z");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("runs/V/2024-04-29/cycle_open.json"),
        "{}",
        r.stdout
    );
    let open: serde_json::Value =
        serde_json::from_str(&read(&home.join("runs/V/2024-04-29/cycle_open.json"))).unwrap();
    let text = open.to_string();
    assert!(text.contains("\"entered\""), "{text}");
    // The bucket's capital is its paper account's (the fill's costs aside).
    let equity: f64 = open["equity"].as_str().unwrap().parse().unwrap();
    assert!((equity / 50_000.0 - 1.0).abs() < 0.01, "{text}");
    let r = cyc("intraday", "2024-04-29T13:45:00Z");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let intraday = read(&home.join("runs/V/2024-04-29/cycle_intraday_0945.json"));
    assert!(intraday.contains("stop_placed"), "{intraday}");
    let c = rusqlite::Connection::open(home.join("ledger.sqlite")).unwrap();
    let books: Vec<(String, String)> = c
        .prepare("SELECT strategy, account FROM books")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(books, vec![("V".to_string(), "pv".to_string())]);
    assert!(home.join("paper/pv.sqlite").exists());
    assert!(!home.join("paper/etf.sqlite").exists());
    // A portfolio without an AVWAP bucket has no cycle.
    let trend = dir.path().join("t.toml");
    std::fs::write(&trend, read(&repo().join("configs/trend_demo.toml"))).unwrap();
    let q = dir.path().join("pt.toml");
    std::fs::write(
        &q,
        "strategy = \"portfolio\"\ncapital = 100000.0\n[[buckets]]\nname = \"T\"\nconfig = \"t.toml\"\ncapital = 0.5\n",
    )
    .unwrap();
    let r = run(&[
        "run",
        "--home",
        h,
        "--config",
        s(&q),
        "--cycle",
        "open",
        "--now",
        "2024-04-29T13:31:00Z",
    ]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("no AVWAP bucket"), "{}", r.stderr);
}
