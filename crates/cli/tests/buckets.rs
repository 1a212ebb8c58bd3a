//! A portfolio of buckets from the command line (issue 21): each bucket's result is its
//! standalone backtest with the bucket's capital and limits, a drawdown breach throttles the
//! bucket it belongs to and no other, and bucket B's dynamic universe follows its market-cap
//! snapshots.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{read, run, s};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared(rel: &str) -> PathBuf {
    repo().join("../shared/data").join(rel)
}

fn ok(args: &[&str]) -> String {
    let r = run(args);
    assert_eq!(r.code, 0, "{args:?}\n{}{}", r.stdout, r.stderr);
    r.stdout
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&read(p)).unwrap()
}

/// A copy of a shipped config in `dir`, its data read by absolute path, with `extra`
/// appended (TOML sections) and `replace` applied.
fn copy(dir: &Path, name: &str, data_rel: &str, replace: &[(&str, &str)], extra: &str) -> PathBuf {
    let mut text = read(&repo().join("configs").join(name));
    let rel = format!("../../shared/data/{data_rel}");
    assert!(text.contains(&rel), "{name}: {rel}");
    text = text.replace(&rel, s(&shared(data_rel)));
    for (a, b) in replace {
        assert!(text.contains(a), "{name}: {a}");
        text = text.replace(a, b);
    }
    text.push_str(extra);
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The shipped buckets, copied into `dir` with absolute data paths, and a portfolio of them.
fn portfolio(dir: &Path, b_limits: &str) -> PathBuf {
    copy(dir, "bucket_a.toml", "us_etf_daily_yahoo", &[], "");
    copy(dir, "bucket_b.toml", "crypto_binance_spot/1d", &[], "");
    let text = format!(
        "strategy = \"portfolio\"\nname = \"t\"\ncapital = 1000000.0\n\
         [[buckets]]\nname = \"A\"\nconfig = \"bucket_a.toml\"\ncapital = 0.6\nmax_positions = 3\nmax_drawdown = 0.2\non_breach = \"throttle\"\nthrottle_scale = 0.5\n\
         [[buckets]]\nname = \"B\"\nconfig = \"bucket_b.toml\"\ncapital = 300000.0\n{b_limits}"
    );
    let p = dir.join("portfolio.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn bucket_final(out: &Path, name: &str) -> f64 {
    json(&out.join("summary.json"))["buckets"][name]["final_equity"]
        .as_f64()
        .unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(1.0)
}

#[test]
fn test_each_bucket_is_its_standalone_backtest_and_the_portfolio_their_sum() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = portfolio(dir.path(), "");
    let out = dir.path().join("pf");
    let stdout = ok(&["backtest", "--config", s(&cfg), "--out", s(&out)]);
    assert!(stdout.contains("bucket A (rotation") && stdout.contains("bucket B (trend"));
    // Bucket A standalone: its config with the bucket's keys written in.
    let a = copy(
        dir.path(),
        "bucket_a.toml",
        "us_etf_daily_yahoo",
        &[("cash = 100000.0", "cash = 600000.0")],
        "\n[safety]\nmax_positions = 3\ndrawdown_throttle = 0.2\ndrawdown_scale = 0.5\n",
    );
    let a_out = dir.path().join("a");
    ok(&["backtest", "--config", s(&a), "--out", s(&a_out)]);
    let standalone = json(&a_out.join("summary.json"))["final_equity"]
        .as_f64()
        .unwrap();
    assert!(
        close(bucket_final(&out, "A"), standalone),
        "A {} vs {standalone}",
        bucket_final(&out, "A")
    );
    // The throttle bit in real data (2020): the limited run differs from the free one.
    let free = dir.path().join("free");
    ok(&[
        "backtest",
        "--config",
        s(&repo().join("configs/bucket_a.toml")),
        "--out",
        s(&free),
    ]);
    let free = json(&free.join("summary.json"))["final_equity"]
        .as_f64()
        .unwrap()
        * 6.0;
    assert!(
        !close(free, standalone),
        "the drawdown target changed nothing"
    );
    assert!(read(&a_out.join("targets.csv")).contains(",throttled,"));
    // Bucket B standalone with 300,000.
    let b_text = read(&repo().join("configs/bucket_b.toml"));
    let cash_line = b_text
        .lines()
        .find(|l| l.starts_with("cash ="))
        .expect("bucket_b.toml has backtest.cash");
    let alone = dir.path().join("alone");
    std::fs::create_dir_all(&alone).unwrap();
    let b = copy(
        &alone,
        "bucket_b.toml",
        "crypto_binance_spot/1d",
        &[(cash_line, "cash = 300000.0")],
        "",
    );
    let b_out = dir.path().join("b");
    ok(&[
        "backtest",
        "--config",
        s(&b),
        "--cost-grid",
        "none",
        "--out",
        s(&b_out),
    ]);
    let b_alone = json(&b_out.join("summary.json"))["final_equity"]
        .as_f64()
        .unwrap();
    assert!(close(bucket_final(&out, "B"), b_alone), "B");
    // Capacity: A's is its standalone run's; B's is recomputed from its standalone fills and
    // the vendor files (each fill against the mean volume of the name's 20 bars before the
    // session); the portfolio's is the larger, with its bucket.
    let buckets_json = json(&out.join("summary.json"))["buckets"].clone();
    assert_eq!(
        buckets_json["A"]["capacity"],
        json(&a_out.join("summary.json"))["capacity"]
    );
    let mut largest = (0.0f64, String::new(), String::new());
    let mut bars: std::collections::BTreeMap<String, Vec<(String, f64)>> = Default::default();
    for fill in common::rows(&b_out.join("fills.csv")) {
        let v = bars.entry(fill["symbol"].clone()).or_insert_with(|| {
            common::rows(&shared(&format!(
                "crypto_binance_spot/1d/{}_1d.csv",
                fill["symbol"]
            )))
            .iter()
            .map(|r| (r["time"][..10].to_string(), common::f(r, "volume")))
            .collect()
        });
        let before = v.partition_point(|(d, _)| d.as_str() < fill["date"].as_str());
        assert!(before >= 20, "{fill:?}");
        let adv = v[before - 20..before].iter().map(|x| x.1).sum::<f64>() / 20.0;
        let share = common::f(&fill, "qty") / adv;
        if share > largest.0 {
            largest = (share, fill["symbol"].clone(), fill["date"].clone());
        }
    }
    let b_cap = &buckets_json["B"]["capacity"];
    let got = b_cap["max_adv_share"].as_f64().unwrap();
    assert!(
        (got - largest.0).abs() <= 1e-12 * largest.0,
        "{got} vs {largest:?}"
    );
    assert_eq!(
        (b_cap["symbol"].as_str(), b_cap["date"].as_str()),
        (Some(largest.1.as_str()), Some(largest.2.as_str()))
    );
    // The standalone trend backtest's tear sheet says the same.
    let sheet = common::sheet_metrics(&read(&b_out.join("report.html")));
    assert_eq!(
        sheet["capacity (largest fill)"],
        format!(
            "{:.4}% of its 20-session ADV ({}, {})",
            largest.0 * 100.0,
            largest.1,
            largest.2
        )
    );
    let cap = &json(&out.join("summary.json"))["capacity"];
    let (a_share, b_share) = (
        buckets_json["A"]["capacity"]["max_adv_share"]
            .as_f64()
            .unwrap(),
        got,
    );
    assert_eq!(cap["bucket"], if a_share >= b_share { "A" } else { "B" });
    assert_eq!(cap["max_adv_share"].as_f64(), Some(a_share.max(b_share)));
    // The portfolio is the sum, with the 100,000 no bucket uses as cash.
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["unallocated"].as_f64(), Some(100_000.0));
    let total = summary["final_equity"].as_f64().unwrap();
    assert!(close(total, standalone + b_alone + 100_000.0), "{total}");
    let ts = read(&out.join("timeseries.csv"));
    assert!(ts.starts_with("date,equity,return,A_equity,B_equity\n"));
    for line in ts.lines().skip(1) {
        let v: Vec<f64> = line
            .split(',')
            .skip(1)
            .map(|x| x.parse().unwrap())
            .collect();
        assert!(close(v[0], v[2] + v[3] + 100_000.0), "{line}");
    }
    let buckets = read(&out.join("buckets.csv"));
    assert_eq!(buckets.lines().count(), 3);
    let html = read(&out.join("report.html"));
    assert!(html.contains("Buckets"));
    // The tear sheet's summary shows the portfolio's numbers.
    let m = common::sheet_metrics(&html);
    assert_eq!(
        m["Sharpe"],
        format!("{:.2}", summary["metrics"]["sharpe"].as_f64().unwrap())
    );
    assert_eq!(m["buckets"], "2");
    assert_eq!(m["unallocated"], "100,000.00");
}

#[test]
fn test_a_drawdown_breach_throttles_its_own_bucket_only() {
    let dir = tempfile::tempdir().unwrap();
    let loose = portfolio(dir.path(), "");
    let l_out = dir.path().join("loose");
    ok(&["backtest", "--config", s(&loose), "--out", s(&l_out)]);
    // B halts new risk 3% below its peak: B trades less; A is the same to the cent.
    let tight = portfolio(dir.path(), "max_drawdown = 0.03\non_breach = \"halt\"\n");
    let t_out = dir.path().join("tight");
    ok(&["backtest", "--config", s(&tight), "--out", s(&t_out)]);
    assert_eq!(bucket_final(&l_out, "A"), bucket_final(&t_out, "A"));
    assert_ne!(bucket_final(&l_out, "B"), bucket_final(&t_out, "B"));
    let s_tight = json(&t_out.join("summary.json"));
    assert!(s_tight["buckets"]["B"]["breach_days"].as_u64().unwrap() > 0);
    let entries = |out: &Path| -> u64 {
        let text = read(&out.join("buckets.csv"));
        let head: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        let col = head.iter().position(|h| *h == "entries").unwrap();
        let row = text.lines().find(|l| l.starts_with("B,")).unwrap();
        row.split(',').nth(col).unwrap().parse().unwrap()
    };
    assert!(entries(&t_out) < entries(&l_out), "halted: fewer entries");
    // A bad portfolio is refused before anything is written.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        read(&loose).replace("capital = 300000.0", "capital = 500000.0"),
    )
    .unwrap();
    let never = dir.path().join("never");
    let r = run(&["backtest", "--config", s(&bad), "--out", s(&never)]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("more than the portfolio"), "{}", r.stderr);
    assert!(!never.exists());
}

#[test]
fn test_bucket_b_universe_follows_the_market_cap_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    // Two snapshots: from 2019 the top 2 are BTC and ETH; from June 2020 BNB replaces ETH.
    let mut caps = String::from("date,symbol,market_cap\n");
    for (date, top) in [
        ("2018-12-31", ["BTCUSDT", "ETHUSDT", "BNBUSDT"]),
        ("2020-05-31", ["BTCUSDT", "BNBUSDT", "ETHUSDT"]),
    ] {
        for (k, sym) in top.iter().enumerate() {
            caps.push_str(&format!("{date},{sym},{}\n", 300 - 100 * k));
        }
        caps.push_str(&format!("{date},NOTTRADED,1000\n"));
    }
    std::fs::write(dir.path().join("caps.csv"), caps).unwrap();
    let cfg = copy(
        dir.path(),
        "bucket_b.toml",
        "crypto_binance_spot/1d",
        &[],
        "\n[universe]\ncaps = \"caps.csv\"\ntop_n = 2\n",
    );
    let out = dir.path().join("b");
    ok(&[
        "backtest",
        "--config",
        s(&cfg),
        "--cost-grid",
        "none",
        "--out",
        s(&out),
    ]);
    let fills = read(&out.join("fills.csv"));
    let mut by: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for l in fills.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        by.entry(f[2]).or_default().push((f[1], f[3]));
    }
    // Nothing before the first snapshot, nothing outside the top 2.
    assert!(
        by.values().flatten().all(|(d, _)| *d > "2018-12-31"),
        "{by:?}"
    );
    let traded: Vec<&str> = by.keys().copied().collect();
    assert_eq!(traded, ["BNBUSDT", "BTCUSDT", "ETHUSDT"], "{traded:?}");
    // BNB only after it joins; ETH buys nothing after it leaves, and its holding is gone by
    // the first June 2020 session.
    assert!(by["BNBUSDT"].iter().all(|(d, _)| *d >= "2020-06-01"));
    assert!(
        by["ETHUSDT"]
            .iter()
            .all(|(d, side)| *d < "2020-06-01" || *side == "sell")
    );
    let targets = read(&out.join("targets.csv"));
    let eth_june: Vec<&str> = targets
        .lines()
        .filter(|l| l.starts_with("2020-06-0") && l.contains(",ETHUSDT,"))
        .collect();
    assert!(!eth_june.is_empty());
    assert!(
        eth_june.iter().all(|l| l.contains(",0.000000,")),
        "{eth_june:?}"
    );
    // A broken snapshot row is refused with its line.
    std::fs::write(
        dir.path().join("caps.csv"),
        "date,symbol,market_cap\n2019-01-01,BTCUSDT,lots\n",
    )
    .unwrap();
    let r = run(&[
        "backtest",
        "--config",
        s(&cfg),
        "--out",
        s(&dir.path().join("x")),
    ]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("caps.csv line 2: BTCUSDT: market_cap"),
        "{}",
        r.stderr
    );
}

/// `systrade` with one environment variable set.
fn ok_env(args: &[&str], env: (&str, &str)) -> String {
    let out = assert_cmd::Command::cargo_bin("systrade")
        .unwrap()
        .env_remove("SYSTRADE_HOME")
        .env(env.0, env.1)
        .args(args)
        .output()
        .unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{args:?}\n{o}{e}");
    o
}

/// A plan's files without the client order ids (derived from the book's name).
fn plan_files(dir: &Path, d: &str) -> (String, String, String) {
    let orders: String = read(&dir.join(format!("orders_{d}.csv")))
        .lines()
        .map(|l| l.split_once(',').map_or("", |x| x.1).to_string() + "\n")
        .collect();
    let targets = std::fs::read_to_string(dir.join(format!("targets_{d}.csv"))).unwrap_or_default();
    (orders, targets, read(&dir.join(format!("plan_{d}.json"))))
}

#[test]
fn test_the_portfolio_newsletter_lists_tomorrows_orders_per_bucket() {
    // The shipped portfolio (buckets A and B) after the close of 2020-12-31: bucket A's
    // month-start rebalance (provisional, market-on-close) and bucket B's next-open orders.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("letter.html");
    let cfg = repo().join("configs/portfolio.toml");
    let home = dir.path().join("home");
    let stdout = ok(&[
        "--home",
        s(&home),
        "newsletter",
        "--config",
        s(&cfg),
        "--date",
        "2020-12-31",
        "--preview",
        s(&out),
    ]);
    assert!(
        stdout.contains("systrade 2020-12-31: 3 buys, 3 sells, 2 to watch"),
        "{stdout}"
    );
    let text = read(&dir.path().join("letter.txt"));
    let golden = repo().join("crates/cli/tests/golden/newsletter_portfolio_2020-12-31.txt");
    if std::env::var_os("SYSTRADE_BLESS").is_some() {
        std::fs::write(&golden, &text).unwrap();
    }
    assert_eq!(
        text,
        read(&golden),
        "the newsletter changed; SYSTRADE_BLESS=1 rewrites the golden file after a check by eye"
    );
    let html = read(&out);
    for want in [
        "A — safe S&amp;P",
        "B — top-cap crypto",
        "planned for the open of 2021-01-01",
    ] {
        assert!(
            html.contains(want) || html.contains(&want.replace("&amp;", "&")),
            "{want}"
        );
    }
    // Rerun: byte-identical.
    let again = dir.path().join("again.html");
    ok(&[
        "--home",
        s(&home),
        "newsletter",
        "--config",
        s(&cfg),
        "--date",
        "2020-12-31",
        "--preview",
        s(&again),
    ]);
    assert_eq!(read(&out), read(&again));
    assert!(
        !home.exists(),
        "the plan newsletter writes nothing into the home"
    );
}

#[test]
fn test_a_buckets_plan_is_its_standalone_plan_with_the_buckets_keys() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = portfolio(dir.path(), "max_positions = 2\n");
    let out = dir.path().join("plan");
    let stdout = ok(&[
        "plan",
        "--config",
        s(&cfg),
        "--as-of",
        "2021-04-01",
        "--out",
        s(&out),
    ]);
    assert!(stdout.contains("A (") && stdout.contains("B ("), "{stdout}");
    let summary = json(&out.join("portfolio_plan_2021-04-01.json"));
    assert_eq!(summary["buckets"][0]["capital"], "600000.00");
    assert_eq!(summary["buckets"][1]["capital"], "300000.00");
    // Standalone configs with the bucket's keys written in.
    let solo = dir.path().join("solo");
    std::fs::create_dir_all(&solo).unwrap();
    let a = copy(
        &solo,
        "bucket_a.toml",
        "us_etf_daily_yahoo",
        &[("cash = 100000.0", "cash = 600000.0")],
        "\n[safety]\nmax_positions = 3\ndrawdown_throttle = 0.2\ndrawdown_scale = 0.5\n",
    );
    let b = copy(
        &solo,
        "bucket_b.toml",
        "crypto_binance_spot/1d",
        &[("cash = 100000.0", "cash = 300000.0")],
        "\n[safety]\nmax_positions = 2\n",
    );
    for (cfg, bucket) in [(&a, "A"), (&b, "B")] {
        let o = dir.path().join(format!("solo_{bucket}"));
        ok(&[
            "plan",
            "--config",
            s(cfg),
            "--as-of",
            "2021-04-01",
            "--out",
            s(&o),
            "--no-refresh",
        ]);
        assert_eq!(
            plan_files(&o, "2021-04-01"),
            plan_files(&out.join(bucket), "2021-04-01"),
            "bucket {bucket}"
        );
    }
}

#[test]
fn test_the_rotation_plan_is_the_backtests_rebalance_and_sees_no_later_bar() {
    // fill = next_open: the plan for the session after a month's first session is the
    // rebalance the backtest trades at that open, on the book it replays.
    let dir = tempfile::tempdir().unwrap();
    let cfg = copy(
        dir.path(),
        "bucket_a.toml",
        "us_etf_daily_yahoo",
        &[("fill = \"close\"", "fill = \"next_open\"")],
        "",
    );
    let bt = dir.path().join("bt");
    ok(&["backtest", "--config", s(&cfg), "--out", s(&bt)]);
    let months: Vec<_> = common::rows(&bt.join("targets.csv"))
        .into_iter()
        .filter(|r| r["trade_date"] == "2021-04-05")
        .collect();
    assert!(!months.is_empty());
    assert_eq!(months[0]["date"], "2021-04-01");
    let plan = dir.path().join("plan");
    let stdout = ok(&[
        "plan",
        "--config",
        s(&cfg),
        "--as-of",
        "2021-04-05",
        "--out",
        s(&plan),
    ]);
    assert!(
        stdout.contains("rebalance at the open of 2021-04-05, decided on the close of 2021-04-01"),
        "{stdout}"
    );
    let planned = common::rows(&plan.join("targets_2021-04-05.csv"));
    let weights = |rows: &[BTreeMap<String, String>]| -> BTreeMap<String, (String, String)> {
        rows.iter()
            .map(|r| {
                (
                    r["symbol"].clone(),
                    (r["status"].clone(), r["weight"].clone()),
                )
            })
            .collect()
    };
    assert_eq!(weights(&planned), weights(&months));
    // The simulated book is the backtest's at the close before: its equity, and orders that
    // take it to the targets at that close.
    let p = json(&plan.join("plan_2021-04-05.json"));
    let series = common::rows(&bt.join("timeseries.csv"));
    let before = series.iter().find(|r| r["date"] == "2021-04-01").unwrap();
    assert!(close(
        p["equity"].as_f64().unwrap(),
        before["equity"].parse().unwrap()
    ));
    let orders = common::rows(&plan.join("orders_2021-04-05.csv"));
    assert!(!orders.is_empty());
    let equity = p["equity"].as_f64().unwrap();
    for o in &orders {
        let sym = &o["symbol"];
        let w: f64 = weights(&planned)[sym].1.parse().unwrap();
        let px: f64 = o["ref_price"].parse().unwrap();
        let target = (w * equity / px).floor();
        let held = p["held"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["symbol"] == sym.as_str())
            .map_or(0.0, |h| h["qty"].as_f64().unwrap());
        let qty: f64 = o["qty"].parse().unwrap();
        let signed = if o["side"] == "buy" { qty } else { -qty };
        if w == 0.0 {
            assert!((signed + held).abs() < 1e-6, "{sym}: sold whole");
        } else {
            assert!(
                (held + signed - target).abs() < 1.0,
                "{sym}: {held} + {signed} vs {target}"
            );
        }
    }
    // No look-ahead: the same plan from data cut after the session before.
    let cut = dir.path().join("cut");
    std::fs::create_dir_all(&cut).unwrap();
    for e in std::fs::read_dir(shared("us_etf_daily_yahoo")).unwrap() {
        let e = e.unwrap();
        let text = read(&e.path());
        let kept: String = text
            .lines()
            .filter(|l| l.starts_with("Date") || l.get(..10).is_some_and(|d| d < "2021-04-05"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(cut.join(e.file_name()), kept).unwrap();
    }
    let plan_cut = dir.path().join("plan_cut");
    ok(&[
        "plan",
        "--config",
        s(&cfg),
        "--as-of",
        "2021-04-05",
        "--data",
        s(&cut),
        "--out",
        s(&plan_cut),
    ]);
    for f in [
        "orders_2021-04-05.csv",
        "targets_2021-04-05.csv",
        "plan_2021-04-05.json",
    ] {
        assert_eq!(read(&plan.join(f)), read(&plan_cut.join(f)), "{f}");
    }
    // A session without a rebalance says when the next one trades; a holiday is refused.
    let hold = dir.path().join("hold");
    let stdout = ok(&[
        "plan",
        "--config",
        s(&cfg),
        "--as-of",
        "2021-04-14",
        "--out",
        s(&hold),
    ]);
    assert!(
        stdout.contains("no rebalance on 2021-04-14; the next one trades on 2021-05-04"),
        "{stdout}"
    );
    assert_eq!(common::rows(&hold.join("orders_2021-04-14.csv")).len(), 0);
    let r = run(&[
        "plan",
        "--config",
        s(&cfg),
        "--as-of",
        "2021-04-02",
        "--out",
        s(&hold),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("2021-04-02 is not a us session"),
        "{}",
        r.stderr
    );
}

#[test]
fn test_a_trend_plan_holds_back_what_its_limits_forbid() {
    let dir = tempfile::tempdir().unwrap();
    let b = copy(
        dir.path(),
        "bucket_b.toml",
        "crypto_binance_spot/1d",
        &[],
        "\n[safety]\nmax_positions = 1\n",
    );
    // The backtest of the same config: each plan's orders are the fills of its session.
    let bt = dir.path().join("bt");
    ok(&["backtest", "--config", s(&b), "--out", s(&bt)]);
    let fills = common::rows(&bt.join("fills.csv"));
    let mut limited = 0;
    let mut traded = 0;
    // Month starts, and the first sessions of 2021 the backtest traded in.
    let mut days: Vec<String> = ["2021-01-04", "2021-02-01", "2021-03-01", "2021-04-01"]
        .map(String::from)
        .to_vec();
    let mut trading: Vec<String> = fills
        .iter()
        .filter(|f| f["date"].as_str() >= "2021-01-01" && f["reason"] != "stop")
        .map(|f| f["date"].clone())
        .collect();
    trading.dedup();
    days.extend(trading.into_iter().take(4));
    for d in &days {
        let d = d.as_str();
        let out = dir.path().join(d);
        let stdout = ok(&[
            "plan",
            "--config",
            s(&b),
            "--as-of",
            d,
            "--out",
            s(&out),
            "--no-refresh",
        ]);
        let snap = common::rows(&out.join(format!("snapshot_{d}.csv")));
        let after = snap
            .iter()
            .filter(|r| r["stage"] == "final" && r["qty"].parse::<f64>().unwrap() > 0.0)
            .count();
        assert!(
            after <= 1,
            "{d}: {after} positions after the plan\n{stdout}"
        );
        let p = json(&out.join(format!("plan_{d}.json")));
        let n = p["limited"].as_object().unwrap().len();
        if n > 0 {
            assert!(stdout.contains("held back by the limits:"), "{stdout}");
            assert!(
                p["limited"]
                    .as_object()
                    .unwrap()
                    .values()
                    .all(|v| v == "max_positions")
            );
        }
        let mut planned: Vec<(String, String)> = common::rows(&out.join(format!("orders_{d}.csv")))
            .into_iter()
            .filter(|o| o["kind"] == "market")
            .map(|o| (o["symbol"].clone(), o["side"].clone()))
            .collect();
        let mut filled: Vec<(String, String)> = fills
            .iter()
            .filter(|f| f["date"] == d && f["reason"] != "stop")
            .map(|f| (f["symbol"].clone(), f["side"].clone()))
            .collect();
        planned.sort();
        filled.sort();
        assert_eq!(planned, filled, "{d}: the plan is the backtest's session");
        traded += filled.len();
        limited += n;
    }
    assert!(limited > 0, "max_positions = 1 held nothing back");
    assert!(traded > 0, "the sessions planned trade");
}

#[test]
fn test_the_newsletter_marks_manual_trades_with_data() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let now = ("SYSTRADE_NOW", "2021-04-30T21:00:00Z");
    ok_env(
        &[
            "--home",
            s(&home),
            "trades",
            "add",
            "--symbol",
            "XLE",
            "--side",
            "buy",
            "--qty",
            "100",
            "--price",
            "40",
            "--date",
            "2021-04-01",
            "--stop",
            "36",
        ],
        now,
    );
    let data = shared("us_etf_daily_yahoo");
    let out = dir.path().join("n.html");
    let args = |with_data: bool| {
        let mut a = vec![
            "--home".to_string(),
            s(&home).to_string(),
            "newsletter".into(),
            "--date".into(),
            "2021-04-30".into(),
            "--preview".into(),
            s(&out).to_string(),
        ];
        if with_data {
            a.extend([
                "--data".into(),
                s(&data).to_string(),
                "--adjust".into(),
                "none".into(),
            ]);
        }
        a
    };
    let plain = args(false);
    ok(&plain.iter().map(String::as_str).collect::<Vec<_>>());
    // Without --data there is no mark.
    let text = read(&dir.path().join("n.txt"));
    assert!(text.contains("XLE 100 @ avg 40.00, last n/a"), "{text}");
    // The plan newsletter carries the manual trades, marked from --data.
    let cfg = repo().join("configs/bucket_a.toml");
    let mut a = args(true);
    a.extend(["--config".into(), s(&cfg).to_string()]);
    ok_env(&a.iter().map(String::as_str).collect::<Vec<_>>(), now);
    let text = read(&dir.path().join("n.txt"));
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("XLE 100 @ avg 40.00"))
        .unwrap_or_else(|| panic!("{text}"));
    // XLE closed at 49.65 on 2021-04-30 (raw close).
    let close = read(&data.join("XLE.csv"))
        .lines()
        .find(|l| l.starts_with("2021-04-30"))
        .unwrap()
        .split(',')
        .nth(4)
        .unwrap()
        .parse::<f64>()
        .unwrap();
    let pnl = (close - 40.0) * 100.0;
    assert!(line.contains(&format!("last {close:.2}")), "{line}");
    assert!(
        line.contains(&format!("PnL {}", fmt_money(pnl))),
        "{line} vs {pnl}"
    );
    assert!(line.contains("stop 36.00"), "{line}");
}

fn fmt_money(x: f64) -> String {
    let s = format!("{x:.2}");
    let (int, frac) = s.split_once('.').unwrap();
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}.{frac}")
}

/// `configs/momentum_br.toml` copied into `dir` as `name`, its data read by absolute path,
/// with `backtest` inserted under its `[backtest]` and `extra` appended.
fn momentum(dir: &Path, name: &str, backtest: &str, extra: &str) -> PathBuf {
    shipped(dir, "momentum_br.toml", name, backtest, extra)
}

/// A shipped config copied into `dir` as `name`, every `../../shared/data/` path made
/// absolute, with `backtest` inserted under its `[backtest]` and `extra` appended.
fn shipped(dir: &Path, config: &str, name: &str, backtest: &str, extra: &str) -> PathBuf {
    let text = read(&repo().join("configs").join(config))
        .replace(
            "\"../../shared/data/",
            &format!("\"{}/", s(&repo().join("../shared/data"))),
        )
        .replace("[backtest]\n", &format!("[backtest]\n{backtest}"));
    let p = dir.join(name);
    std::fs::write(&p, format!("{text}\n{extra}")).unwrap();
    p
}

#[test]
fn test_a_momentum_bucket_takes_its_limits_and_capital_like_its_standalone_backtest() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = momentum(dir.path(), "mom.toml", "", "");
    let portfolio = |limits: &str| {
        let p = dir.path().join("pm.toml");
        std::fs::write(
            &p,
            format!(
                "strategy = \"portfolio\"\ncapital = 1000000.0\n\
                 [[buckets]]\nname = \"M\"\nconfig = \"mom.toml\"\ncapital = 0.5\n{limits}"
            ),
        )
        .unwrap();
        p
    };
    let limited = portfolio("max_positions = 12\nmax_drawdown = 0.05\nthrottle_scale = 0.5\n");
    let p_out = dir.path().join("p");
    ok(&["backtest", "--config", s(&limited), "--out", s(&p_out)]);
    // The same limits and capital written into the momentum config itself.
    let alone = momentum(
        dir.path(),
        "alone.toml",
        "capital = 500000.0\n",
        "[safety]\nmax_positions = 12\ndrawdown_throttle = 0.05\ndrawdown_scale = 0.5\n",
    );
    let a_out = dir.path().join("a");
    let said = ok(&["backtest", "--config", s(&alone), "--out", s(&a_out)]);
    let a = json(&a_out.join("summary.json"));
    let nav: Vec<f64> = read(&a_out.join("timeseries.csv"))
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    let got = bucket_final(&p_out, "M");
    assert!(
        close(got, 500_000.0 * nav.last().unwrap()),
        "{got} vs NAV {}",
        nav.last().unwrap()
    );
    let p = json(&p_out.join("summary.json"));
    assert_eq!(p["buckets"]["M"]["capacity"], a["capacity"]);
    assert!(a["capacity"]["max_adv_share"].as_f64().unwrap() > 0.0);
    assert!(
        said.contains("at a capital of 500000.00, largest fill "),
        "{said}"
    );
    assert!(p["buckets"]["M"]["breach_days"].as_u64().unwrap() > 0);
    // The limits bit: entries were refused and the result differs from the loose bucket's.
    let refused: Vec<&str> = a["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w.as_str())
        .filter(|w| w.contains("safety.max_positions 12:"))
        .collect();
    assert!(!refused.is_empty(), "{a}");
    let loose = portfolio("");
    let l_out = dir.path().join("l");
    ok(&["backtest", "--config", s(&loose), "--out", s(&l_out)]);
    assert_ne!(bucket_final(&l_out, "M"), got);
    // Without a capital the standalone backtest measures no capacity, and says nothing of it.
    let plain = dir.path().join("plain");
    let said = ok(&["backtest", "--config", s(&cfg), "--out", s(&plain)]);
    assert!(!said.contains("largest fill"), "{said}");
    assert!(json(&plain.join("summary.json")).get("capacity").is_none());
    // A capital that is not a positive amount is refused, naming the key.
    let bad = momentum(dir.path(), "bad.toml", "capital = -5.0\n", "");
    let r = run(&[
        "backtest",
        "--config",
        s(&bad),
        "--out",
        s(&dir.path().join("never")),
    ]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("backtest.capital: must be positive"),
        "{}",
        r.stderr
    );
}

#[test]
fn test_a_portfolio_plans_its_momentum_and_avwap_buckets_and_the_newsletter_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    momentum(dir.path(), "mom.toml", "", "");
    shipped(dir.path(), "avwap_us.toml", "av.toml", "", "");
    let p = dir.path().join("pp.toml");
    std::fs::write(
        &p,
        "strategy = \"portfolio\"\ncapital = 2000000.0\n\
         [[buckets]]\nname = \"M\"\nlabel = \"B3 momentum\"\nconfig = \"mom.toml\"\ncapital = 0.3\nmax_positions = 12\n\
         [[buckets]]\nname = \"V\"\nconfig = \"av.toml\"\ncapital = 400000.0\nmax_positions = 3\n",
    )
    .unwrap();
    // A formation day for M (June's last close trades at July's first open), and a scan with
    // eleven candidates for V.
    let out = dir.path().join("plan");
    let said = ok(&[
        "plan",
        "--config",
        s(&p),
        "--as-of",
        "2025-07-01",
        "--out",
        s(&out),
    ]);
    assert!(
        said.contains("the 2025-06 formation (close of 2025-06-30) trades at this open"),
        "{said}"
    );
    let plan = json(&out.join("M/plan_2025-07-01.json"));
    assert_eq!(plan["formation"], "2025-06-30");
    assert!(out.join("M/orders_2025-06.csv").exists());
    assert!(out.join("M/targets_2025-06.csv").exists());
    // The replayed book is the standalone backtest's with the bucket's keys: its NAV at the
    // close before, its volatility scale on the session.
    let alone = momentum(
        dir.path(),
        "alone.toml",
        "capital = 600000.0\n",
        "[safety]\nmax_positions = 12\n",
    );
    let bt = dir.path().join("bt");
    ok(&[
        "backtest",
        "--config",
        s(&alone),
        "--end",
        "2025-07-01",
        "--out",
        s(&bt),
    ]);
    let ts = read(&bt.join("timeseries.csv"));
    let row = |d: &str| -> Vec<String> {
        ts.lines()
            .find(|l| l.starts_with(d))
            .unwrap()
            .split(',')
            .map(String::from)
            .collect()
    };
    let f = |v: &serde_json::Value| v.as_str().unwrap().parse::<f64>().unwrap();
    let nav = f(&plan["nav"]);
    assert_eq!(nav, row("2025-06-30")[1].parse::<f64>().unwrap());
    let scale = f(&plan["scale"]);
    assert_eq!(scale, row("2025-07-01")[6].parse::<f64>().unwrap());
    let equity = f(&plan["equity"]);
    assert!((equity - 600_000.0 * nav).abs() < 0.01);
    // Each order moves the replayed book's lots to the formation's: w × scale × equity.
    let lots = |w: f64, px: f64| (w * scale * 600_000.0 * nav / px / 100.0).trunc() * 100.0;
    let orders = plan["orders"].as_array().unwrap();
    assert!(!orders.is_empty());
    let mut after: BTreeMap<String, f64> = plan["held"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["symbol"].as_str().unwrap().to_string(), f(&h["shares"])))
        .collect();
    for o in orders {
        let px = f(&o["ref_price"]);
        let sym = o["symbol"].as_str().unwrap().to_string();
        let (from, to) = (lots(f(&o["weight_from"]), px), lots(f(&o["weight_to"]), px));
        let shares = f(&o["shares"]);
        let signed = if o["side"] == "buy" { shares } else { -shares };
        *after.entry(sym.clone()).or_default() += signed;
        assert_eq!(
            after[&sym] == to,
            o["action"] != "CLOSE" || to == 0.0,
            "{o}"
        );
        assert!(from != to, "{o}");
    }
    let names = after.values().filter(|q| **q != 0.0).count();
    assert!(names <= 12 && names > 0, "{after:?}");
    // Mid-month: no orders, the books held, and when the next formation is.
    let mid = dir.path().join("mid");
    let said = ok(&[
        "plan",
        "--config",
        s(&p),
        "--as-of",
        "2025-07-15",
        "--out",
        s(&mid),
    ]);
    assert!(
        said.contains("holds its books; the next formation is at the close of 2025-07-31"),
        "{said}"
    );
    assert_eq!(
        json(&mid.join("M/plan_2025-07-15.json"))["orders"],
        serde_json::json!([])
    );
    // V: the standalone AVWAP plan with the bucket's cash and limit, file for file.
    let v_out = dir.path().join("v");
    ok(&[
        "plan",
        "--config",
        s(&p),
        "--as-of",
        "2021-04-22",
        "--out",
        s(&v_out),
    ]);
    let v_alone = shipped(dir.path(), "avwap_us.toml", "v_alone.toml", "", "");
    let text = read(&v_alone);
    assert!(text.contains("cash = 100000.0") && text.contains("max_positions = 10"));
    let text = text
        .replace("cash = 100000.0", "cash = 400000.0")
        .replace("max_positions = 10", "max_positions = 3");
    std::fs::write(&v_alone, text).unwrap();
    let va_out = dir.path().join("va");
    ok(&[
        "plan",
        "--config",
        s(&v_alone),
        "--as-of",
        "2021-04-22",
        "--out",
        s(&va_out),
    ]);
    for file in ["orders_2021-04-22.csv", "candidates_2021-04-21.csv"] {
        assert_eq!(
            read(&v_out.join("V").join(file)),
            read(&va_out.join(file)),
            "{file}"
        );
    }
    let v_plan = json(&v_out.join("V/plan_2021-04-22.json"));
    let entered = v_plan["entries"].as_array().unwrap().len();
    assert!((1..=3).contains(&entered), "{v_plan}");
    assert!(v_plan["candidates"].as_u64().unwrap() > 3, "{v_plan}");
    // The newsletter: a section per bucket with its orders, why, and what it avoided.
    let home = dir.path().join("home");
    let letter = |date: &str| -> String {
        let out = dir.path().join(format!("letter_{date}.html"));
        ok(&[
            "--home",
            s(&home),
            "newsletter",
            "--config",
            s(&p),
            "--date",
            date,
            "--preview",
            s(&out),
        ]);
        read(&dir.path().join(format!("letter_{date}.txt")))
    };
    let text = letter("2021-04-21");
    assert!(text.contains("AVWAP pullbacks"), "{text}");
    assert!(text.contains("pullback to the anchored VWAP"), "{text}");
    assert!(text.contains("max positions"), "{text}");
    // One momentum config alone needs the money its NAV stands for.
    let r = run(&[
        "--home",
        s(&home),
        "newsletter",
        "--config",
        s(&dir.path().join("mom.toml")),
        "--date",
        "2025-06-30",
        "--preview",
        s(&dir.path().join("never.html")),
    ]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("backtest.capital: not set"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("never.html").exists());
    let text = letter("2025-06-30");
    assert!(text.contains("momentum cohorts"), "{text}");
    assert!(text.contains("momentum percentile"), "{text}");
    assert!(
        text.contains(
            "the 2025-06 formation (close of 2025-06-30) trades at the open of 2025-07-01"
        ),
        "{text}"
    );
}
