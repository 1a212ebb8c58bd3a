//! Buckets C and D from the command line on real prices: each alert is filled at the first
//! open after its timestamp (a date after that day's close, a pre-open print that morning),
//! with the half-spread on the open; every row of the feed has a verdict in alerts.csv; the
//! research tools and a portfolio take feed buckets; what has no daily run says so.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{read, rows, run, s};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ok(args: &[&str]) -> String {
    let r = run(args);
    assert_eq!(r.code, 0, "{args:?}\n{}{}", r.stdout, r.stderr);
    r.stdout
}

fn by_line(out: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    rows(&out.join("alerts.csv"))
        .into_iter()
        .map(|r| (r["line"].clone(), r))
        .collect()
}

/// The open of `symbol` on `day` in the shared S&P files.
fn open_of(symbol: &str, day: &str) -> f64 {
    let f = repo().join(format!(
        "../shared/data/sp500_daily_alphavantage/daily/{symbol}.csv"
    ));
    read(&f)
        .lines()
        .find(|l| l.starts_with(day))
        .unwrap_or_else(|| panic!("{symbol} {day}"))
        .split(',')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn test_bucket_c_trades_each_candidate_at_the_next_open_within_its_caps() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c");
    let cfg = repo().join("configs/bucket_c.toml");
    let stdout = ok(&["backtest", "--config", s(&cfg), "--out", s(&out)]);
    assert!(stdout.contains("14 alerts"), "{stdout}");
    let a = by_line(&out);
    assert_eq!(a.len(), 14, "every row has a verdict");
    // AAL on 2021-01-04's list: bought at the open of 2021-01-05, 25 bps above it.
    assert_eq!(a["2"]["first_open"], "2021-01-05");
    assert_eq!(a["2"]["status"], "entered");
    let fills = rows(&out.join("fills.csv"));
    let aal = fills
        .iter()
        .find(|f| f["symbol"] == "AAL" && f["side"] == "buy")
        .unwrap();
    assert_eq!(aal["date"], "2021-01-05");
    let px: f64 = aal["price"].parse().unwrap();
    assert!(
        (px - open_of("AAL", "2021-01-05") * 1.0025).abs() < 1e-9,
        "{px}"
    );
    // The caps: 4 positions at most, 5% of equity, 1% of ADV; a name without prices and
    // scores below the minimum are named.
    for r in rows(&out.join("timeseries.csv")) {
        assert!(r["n_positions"].parse::<usize>().unwrap() <= 4, "{r:?}");
    }
    assert_eq!(a["15"]["status"], "no_price");
    assert_eq!(a["7"]["status"], "score_below_min");
    for r in a.values().filter(|r| r["status"] == "entered") {
        assert!(r["adv_share"].parse::<f64>().unwrap() <= 0.01);
    }
    // Held 5 sessions: AAL is sold at the open of 2021-01-12.
    let sold = fills
        .iter()
        .find(|f| f["symbol"] == "AAL" && f["side"] == "sell")
        .unwrap();
    assert_eq!(sold["date"], "2021-01-12");
    // A rerun writes the same bytes.
    let again = dir.path().join("again");
    ok(&["backtest", "--config", s(&cfg), "--out", s(&again)]);
    for f in ["alerts.csv", "fills.csv", "timeseries.csv", "summary.json"] {
        assert_eq!(read(&out.join(f)), read(&again.join(f)), "{f}");
    }
}

#[test]
fn test_bucket_d_fills_a_print_at_the_first_open_after_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d");
    let cfg = repo().join("configs/bucket_d.toml");
    ok(&["backtest", "--config", s(&cfg), "--out", s(&out)]);
    let a = by_line(&out);
    // 10:42 New York on 2021-01-05: after that day's open, so the next day's.
    assert_eq!(a["2"]["first_open"], "2021-01-06");
    // 08:15 New York on 2021-01-06: before the open, so that very day's.
    assert_eq!(a["4"]["symbol"], "MSFT");
    assert_eq!(a["4"]["first_open"], "2021-01-06");
    assert_eq!(a["4"]["status"], "entered");
    let fills = rows(&out.join("fills.csv"));
    let msft = fills
        .iter()
        .find(|f| f["symbol"] == "MSFT" && f["side"] == "buy")
        .unwrap();
    assert_eq!(msft["date"], "2021-01-06");
    // A put bought at the ask is bearish, a print at the mid says nothing, small premium
    // and volume under twice the open interest are filtered.
    assert_eq!(a["3"]["status"], "bearish");
    assert_eq!(a["10"]["status"], "neutral");
    assert_eq!(a["9"]["status"], "premium_below_min");
    assert_eq!(a["5"]["status"], "volume_below_oi");
    // A put sold at the bid is bullish.
    assert_eq!(a["8"]["symbol"], "BA");
    assert_eq!(a["8"]["status"], "entered");
}

#[test]
fn test_feed_buckets_take_the_research_tools_and_join_a_portfolio() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = repo().join("configs/bucket_c.toml");
    let sw = dir.path().join("sw");
    let stdout = ok(&[
        "sweep",
        "--config",
        s(&cfg),
        "--grid",
        "rules.hold_days=3..7:2,rules.max_positions=2..4:2",
        "--out",
        s(&sw),
    ]);
    assert!(stdout.contains("best"), "{stdout}");
    assert_eq!(read(&sw.join("sweep.csv")).lines().count(), 7);
    ok(&[
        "backtest",
        "--config",
        s(&cfg),
        "--split",
        "train=2020-12-01..2021-02-15,validation=2021-02-16..2021-03-15,holdout=2021-03-16..2021-04-20",
        "--out",
        s(&dir.path().join("split")),
    ]);
    // A portfolio of buckets C and D: each bucket's result is its standalone backtest.
    let pf = dir.path().join("pf.toml");
    std::fs::write(
        &pf,
        format!(
            "strategy = \"portfolio\"\ncapital = 200000.0\n\
             [[buckets]]\nname = \"C\"\nconfig = \"{}\"\ncapital = 100000.0\n\
             [[buckets]]\nname = \"D\"\nconfig = \"{}\"\ncapital = 100000.0\n",
            s(&cfg),
            s(&repo().join("configs/bucket_d.toml"))
        ),
    )
    .unwrap();
    let out = dir.path().join("pf");
    ok(&["backtest", "--config", s(&pf), "--out", s(&out)]);
    let summary: serde_json::Value =
        serde_json::from_str(&read(&out.join("summary.json"))).unwrap();
    let solo = dir.path().join("solo");
    ok(&["backtest", "--config", s(&cfg), "--out", s(&solo)]);
    let solo_sum: serde_json::Value =
        serde_json::from_str(&read(&solo.join("summary.json"))).unwrap();
    let a = summary["buckets"]["C"]["final_equity"].as_f64().unwrap();
    let b = solo_sum["final_equity"].as_f64().unwrap();
    assert!((a - b).abs() < 1e-6 * b, "{a} vs {b}");
}

#[test]
fn test_a_feed_plan_is_the_backtests_session_and_sees_no_later_bar() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = repo().join("configs/bucket_c.toml");
    let bt = dir.path().join("bt");
    ok(&["backtest", "--config", s(&cfg), "--out", s(&bt)]);
    let fills = rows(&bt.join("fills.csv"));
    // Sessions with feed entries and with holding-window exits.
    for day in ["2021-02-02", "2021-01-12", "2021-02-09"] {
        let out = dir.path().join(day);
        ok(&[
            "plan",
            "--config",
            s(&cfg),
            "--as-of",
            day,
            "--out",
            s(&out),
        ]);
        let orders = rows(&out.join(format!("orders_{day}.csv")));
        let mut planned: Vec<(String, String, String)> = orders
            .iter()
            .filter(|o| o["kind"] == "market")
            .map(|o| (o["symbol"].clone(), o["side"].clone(), o["qty"].clone()))
            .collect();
        let mut filled: Vec<(String, String, String)> = fills
            .iter()
            .filter(|f| f["date"] == day && f["reason"] != "stop")
            .map(|f| (f["symbol"].clone(), f["side"].clone(), f["qty"].clone()))
            .collect();
        planned.sort();
        filled.sort();
        assert!(!filled.is_empty(), "{day}: the backtest trades that day");
        assert_eq!(planned, filled, "{day}");
        // Each entry has its protective stop in the file.
        let stops = orders.iter().filter(|o| o["kind"] == "stop").count();
        let buys = planned.iter().filter(|p| p.1 == "buy").count();
        assert_eq!(stops, buys, "{day}");
    }
    // No look-ahead: the plan from prices cut before the session is the same.
    let data = repo().join("../shared/data/sp500_daily_alphavantage/daily");
    let cut = dir.path().join("cut");
    std::fs::create_dir_all(&cut).unwrap();
    for e in std::fs::read_dir(&data).unwrap() {
        let e = e.unwrap();
        let kept: String = read(&e.path())
            .lines()
            .filter(|l| l.starts_with("timestamp") || l.get(..10).is_some_and(|d| d < "2021-02-02"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(cut.join(e.file_name()), kept).unwrap();
    }
    let a = dir.path().join("2021-02-02");
    let b = dir.path().join("cut-plan");
    ok(&[
        "plan",
        "--config",
        s(&cfg),
        "--as-of",
        "2021-02-02",
        "--data",
        s(&cut),
        "--out",
        s(&b),
    ]);
    for f in [
        "orders_2021-02-02.csv",
        "alerts_2021-02-02.csv",
        "plan_2021-02-02.json",
    ] {
        assert_eq!(read(&a.join(f)), read(&b.join(f)), "{f}");
    }
    // The newsletter of a portfolio with bucket C shows the entries with their stops.
    let pf = dir.path().join("pf.toml");
    std::fs::write(
        &pf,
        format!(
            "strategy = \"portfolio\"\ncapital = 100000.0\n[[buckets]]\nname = \"C\"\nlabel = \"low-float\"\nconfig = \"{}\"\ncapital = 1.0\n",
            s(&cfg)
        ),
    )
    .unwrap();
    let letter = dir.path().join("n.html");
    ok(&[
        "--home",
        s(&dir.path().join("home")),
        "newsletter",
        "--config",
        s(&pf),
        "--date",
        "2021-02-01",
        "--preview",
        s(&letter),
    ]);
    let text = read(&dir.path().join("n.txt"));
    assert!(
        text.contains("== C — low-float (low-float feed, session 2021-02-02) =="),
        "{text}"
    );
    assert!(text.contains("BUY 177 FCX"), "{text}");
    assert!(text.contains("protective stop"), "{text}");
}
