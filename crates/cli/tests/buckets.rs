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
    assert!(read(&out.join("report.html")).contains("Buckets"));
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
