//! Rotation configs from the command line: the W3 top-10 momentum reproduces bt's final
//! equity on the 74 S&P names, bucket A shows every month (risk-off ones included) and reruns
//! byte for byte, and the research tools take it.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::{read, run, s};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn test_w3_reproduces_bt_final_equity() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("w3");
    let cfg = repo().join("configs/momentum_top10_sp500.toml");
    let r = run(&["backtest", "--config", s(&cfg), "--out", s(&out)]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let summary: serde_json::Value =
        serde_json::from_str(&read(&out.join("summary.json"))).unwrap();
    // ../shared/peers/README.md, W3 (bt, raw close): final_equity 1,123,453.733183 over
    // 5,402 union dates and 258 RunMonthly dates.
    let fe = summary["final_equity"].as_f64().unwrap();
    assert!((fe - 1_123_453.733_183).abs() < 5e-7, "{fe}");
    assert_eq!(summary["sessions"], 5402);
    assert_eq!(summary["rebalances"], 258);
    // Trading starts at the first month with a momentum, 2000-11-01: 246 rebalances trade.
    let tx = read(&out.join("transactions.csv"));
    let traded: BTreeSet<&str> = tx
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert_eq!(traded.len(), 246);
    assert_eq!(traded.first(), Some(&"2000-11-01"));
    // Capacity: every fill against its name's mean volume over its 20 bars before the
    // session, recomputed here from the vendor files; the largest is the summary's.
    let daily = repo().join("../shared/data/sp500_daily_alphavantage/daily");
    let mut volumes: std::collections::BTreeMap<String, Vec<(String, f64)>> = Default::default();
    let mut largest = (0.0f64, String::new(), String::new());
    for t in common::rows(&out.join("transactions.csv")) {
        let v = volumes.entry(t["symbol"].clone()).or_insert_with(|| {
            let mut bars: Vec<(String, f64)> =
                common::rows(&daily.join(format!("{}.csv", t["symbol"])))
                    .iter()
                    .map(|r| (r["timestamp"].clone(), common::f(r, "volume")))
                    .collect();
            bars.sort_by(|a, b| a.0.cmp(&b.0));
            bars
        });
        let before = v.partition_point(|(d, _)| d.as_str() < t["date"].as_str());
        if before < 20 {
            assert_eq!(t["adv_share"], "", "{t:?}");
            continue;
        }
        let adv = v[before - 20..before].iter().map(|x| x.1).sum::<f64>() / 20.0;
        let share = common::f(&t, "qty").abs() / adv;
        let got = common::f(&t, "adv_share");
        assert!((got - share).abs() <= 1e-12 * share, "{t:?}: {share}");
        if share > largest.0 {
            largest = (share, t["symbol"].clone(), t["date"].clone());
        }
    }
    let c = &summary["capacity"];
    assert_eq!(c["max_adv_share"].as_f64(), Some(largest.0));
    assert_eq!(
        (c["symbol"].as_str(), c["date"].as_str()),
        (Some(largest.1.as_str()), Some(largest.2.as_str()))
    );
    assert_eq!(c["fills_without_adv"], 0);
    // The tear sheet's summary shows the run's numbers (it was empty once).
    let m = common::sheet_metrics(&read(&out.join("report.html")));
    assert_eq!(m["final equity"], "1,123,453.73");
    assert_eq!(
        m["Sharpe"],
        format!("{:.2}", summary["metrics"]["sharpe"].as_f64().unwrap())
    );
    assert_eq!(m["rebalances"], "258 (0 risk-off)");
    assert_eq!(m["transactions"], "3135");
    assert!(
        m["capacity (largest fill)"].contains(&format!("({}, {})", largest.1, largest.2)),
        "{}",
        m["capacity (largest fill)"]
    );
}

#[test]
fn test_bucket_a_shows_every_month_and_reruns_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = repo().join("configs/bucket_a.toml");
    let mut texts = Vec::new();
    for name in ["a", "b"] {
        let out = dir.path().join(name);
        let r = run(&["backtest", "--config", s(&cfg), "--out", s(&out)]);
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        texts.push(
            [
                "targets.csv",
                "timeseries.csv",
                "transactions.csv",
                "summary.json",
            ]
            .map(|f| read(&out.join(f))),
        );
    }
    assert_eq!(texts[0], texts[1], "byte-identical rerun");
    let [targets, _, _, summary] = &texts[0];
    let summary: serde_json::Value = serde_json::from_str(summary).unwrap();
    let months: BTreeSet<&str> = targets
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert_eq!(months.len() as u64, summary["rebalances"].as_u64().unwrap());
    // Risk-off months are there, each with its cash row at weight 1 and nothing selected.
    let off: BTreeSet<&str> = targets
        .lines()
        .filter(|l| l.contains(",risk_off,"))
        .filter_map(|l| l.split(',').next())
        .collect();
    assert!(off.len() > 10, "{}", off.len());
    for m in &off {
        let rows: Vec<&str> = targets.lines().filter(|l| l.starts_with(m)).collect();
        assert!(
            rows.iter()
                .any(|l| l.contains(",CASH,") && l.ends_with(",1")),
            "{m}"
        );
        assert!(!rows.iter().any(|l| l.contains(",selected,")), "{m}");
    }
    // The 2008 crash is spent in cash: no holding from October 2008 to March 2009.
    assert!(off.contains("2008-10-01") && off.contains("2009-03-02"));
    // Risk-on months hold at most 3 names whose weights add up to 1.
    for m in months.difference(&off) {
        let w: Vec<f64> = targets
            .lines()
            .filter(|l| l.starts_with(m) && l.contains(",selected,"))
            .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
            .collect();
        assert!(w.len() <= 3, "{m}");
        if !w.is_empty() {
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{m}: {w:?}");
        }
    }
    assert!(
        targets.contains(",correlated,"),
        "the correlation skip happens in real data"
    );
}

#[test]
fn test_rotation_sweeps_and_a_portfolio_is_not_one_book() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = repo().join("configs/bucket_a.toml");
    let out = dir.path().join("sw");
    let r = run(&[
        "sweep",
        "--config",
        s(&cfg),
        "--grid",
        "rotation.top_n=2|3,rotation.max_corr=0.8|0.9",
        "--out",
        s(&out),
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(read(&out.join("sweep.csv")).lines().count(), 5);
    // A portfolio is not one book: `reconcile` (one book) says so.
    let pf = repo().join("configs/portfolio.toml");
    let r = run(&[
        "reconcile",
        "--config",
        s(&pf),
        "--home",
        s(&dir.path().join("home")),
    ]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("a portfolio is not one book"),
        "{}",
        r.stderr
    );
}

#[test]
fn test_the_data_cache_changes_nothing() {
    // No cache, a cold cache (parse and store), a warm cache (read back): the same bytes.
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let cfg = repo().join("configs/momentum_top10_sp500.toml");
    let mut outs = Vec::new();
    for (name, env) in [
        ("off", "off".to_string()),
        ("cold", s(&cache).to_string()),
        ("warm", s(&cache).to_string()),
    ] {
        let out = dir.path().join(name);
        let r = assert_cmd::Command::cargo_bin("systrade")
            .unwrap()
            .env("SYSTRADE_CACHE_DIR", env)
            .args(["backtest", "--config", s(&cfg), "--out", s(&out)])
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        outs.push(
            [
                "targets.csv",
                "timeseries.csv",
                "transactions.csv",
                "summary.json",
            ]
            .map(|f| read(&out.join(f))),
        );
    }
    assert_eq!(outs[0], outs[1]);
    assert_eq!(outs[1], outs[2]);
    let files: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files.len(),
        3,
        "the parsed series, the panel and its opens: {files:?}"
    );
    // Filling at the next open reads the opens back too: the same bytes as without a cache.
    let next_open = dir.path().join("next_open.toml");
    let text = read(&cfg).replace("fill = \"close\"", "fill = \"next_open\"");
    assert!(text.contains("next_open"));
    std::fs::write(
        &next_open,
        text.replace(
            "../../shared/",
            &format!("{}/", s(&repo().join("../shared"))),
        ),
    )
    .unwrap();
    // Each cache file's name and modification time.
    let listing = |dir: &std::path::Path| -> Vec<(String, std::time::SystemTime)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .map(|d| {
                d.map(|e| {
                    let e = e.unwrap();
                    let t = e.metadata().unwrap().modified().unwrap();
                    (e.file_name().to_string_lossy().into_owned(), t)
                })
                .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let (mut outs, mut stored) = (Vec::new(), Vec::new());
    for (name, env) in [
        ("off", "off".to_string()),
        ("cold", s(&cache).to_string()),
        ("warm", s(&cache).to_string()),
    ] {
        let out = dir.path().join(format!("next_open_{name}"));
        let r = assert_cmd::Command::cargo_bin("systrade")
            .unwrap()
            .env("SYSTRADE_CACHE_DIR", env)
            .args(["backtest", "--config", s(&next_open), "--out", s(&out)])
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        outs.push(["timeseries.csv", "transactions.csv"].map(|f| read(&out.join(f))));
        stored.push(listing(&cache));
    }
    assert_eq!(outs[0], outs[1]);
    assert_eq!(outs[1], outs[2]);
    assert_eq!(
        stored[1], stored[2],
        "the warm run read, and stored nothing"
    );
    assert_ne!(outs[0][1], read(&dir.path().join("warm/transactions.csv")));
    // Its own source path, its own key: three more files, read back by the warm run.
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 6);
}

/// One NEWS_SENTIMENT article about `ticker`.
fn article(ticker: &str, published: &str, score: f64, title: &str) -> serde_json::Value {
    serde_json::json!({
        "title": title, "url": format!("https://news.example/{ticker}/{published}"),
        "time_published": published, "source": "Example Wire",
        "ticker_sentiment": [
            {"ticker": ticker, "relevance_score": "0.9", "ticker_sentiment_score": format!("{score}"),
             "ticker_sentiment_label": "Bearish"},
            {"ticker": "CRYPTO:BTC", "relevance_score": "0.1", "ticker_sentiment_score": "0.5",
             "ticker_sentiment_label": "Bullish"}
        ]
    })
}

#[test]
fn test_bucket_a_news_blocks_a_new_entry_but_not_a_held_name_and_sees_no_later_article() {
    // 2021-04-01: the month chose XLE (new), XLB and XLF (see the plan tests); XLB was held.
    let dir = tempfile::tempdir().unwrap();
    let data = repo().join("../shared/data/us_etf_daily_yahoo");
    let news = dir.path().join("news.json");
    std::fs::write(
        &news,
        serde_json::json!({"items": "4", "feed": [
            article("XLE", "20210330T141500", -0.6, "Oil majors slump on demand warning"),
            article("XLE", "20210329T090000", -0.2, "Refiners mixed"),
            article("XLB", "20210331T120000", -0.7, "Materials downgraded"),
            article("XLK", "20210402T120000", -0.9, "After the decision: never seen"),
        ]})
        .to_string(),
    )
    .unwrap();
    let base = read(&repo().join("configs/bucket_a.toml"))
        .replace("../../shared/data/us_etf_daily_yahoo", s(&data));
    let cfg = dir.path().join("a.toml");
    std::fs::write(
        &cfg,
        format!("{base}\n[news]\nsource = \"news.json\"\nnews_days = 7\nnews_block = -0.15\n"),
    )
    .unwrap();
    let plain = dir.path().join("plain.toml");
    std::fs::write(&plain, &base).unwrap();
    let month = |c: &std::path::Path, name: &str| {
        let out = dir.path().join(name);
        let r = run(&["backtest", "--config", s(c), "--out", s(&out)]);
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        common::rows(&out.join("targets.csv"))
            .into_iter()
            .filter(|r| r["date"] == "2021-04-01")
            .map(|r| {
                (
                    r["symbol"].clone(),
                    (r["status"].clone(), r["detail"].clone()),
                )
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let without = month(&plain, "plain");
    let with = month(&cfg, "news");
    assert_eq!(without["XLE"].0, "selected");
    assert_eq!(without["XLB"].0, "selected");
    // XLE: (−0.6·0.9 − 0.2·0.9) / 1.8 = −0.4 < −0.15, not held: no entry.
    assert_eq!(with["XLE"], ("news_risk".to_string(), "-0.4".to_string()));
    // XLB is held since March: bad news does not force it out.
    assert_eq!(with["XLB"].0, "selected");
    // The article dated after the decision changes nothing about XLK.
    assert_eq!(with["XLK"].0, without["XLK"].0);
    // Another name takes the freed place.
    let chosen = |m: &std::collections::BTreeMap<String, (String, String)>| {
        m.values().filter(|v| v.0 == "selected").count()
    };
    assert_eq!(chosen(&with), chosen(&without));
    // The newsletter's plan says why XLE is avoided, with the headline.
    let letter = dir.path().join("n.html");
    let r = run(&[
        "--home",
        s(&dir.path().join("home")),
        "newsletter",
        "--config",
        s(&cfg),
        "--date",
        "2021-03-31",
        "--preview",
        s(&letter),
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let text = read(&dir.path().join("n.txt"));
    assert!(
        text.contains("XLE (0): news risk: sentiment -0.40 is below the block (\"Oil majors slump on demand warning\")"),
        "{text}"
    );
    // A bad news file is one clear error naming it.
    std::fs::write(&news, "{\"feed\": [{\"time_published\": \"yesterday\"}]}").unwrap();
    let r = run(&[
        "backtest",
        "--config",
        s(&cfg),
        "--out",
        s(&dir.path().join("bad")),
    ]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("news.source") && r.stderr.contains("time_published \"yesterday\""),
        "{}",
        r.stderr
    );
}

#[test]
fn test_bucket_a_news_from_a_market_database_blocks_like_the_file() {
    // The news `systrade data fetch --news` stores, read from the database.
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("market.db");
    let mut db = systrade_data::db::MarketDb::open(&db_path).unwrap();
    let item = |sym: &str, date: &str, published: &str, score: f64| systrade_data::news::NewsItem {
        symbol: systrade_core::Symbol::new(sym).unwrap(),
        date: date.parse().unwrap(),
        published: published.into(),
        score,
        label: "Bearish".into(),
        relevance: 0.9,
        headline: "Oil majors slump on demand warning".into(),
        source: "Example Wire".into(),
        url: format!("https://news.example/{sym}/{published}"),
    };
    db.store_news(&[
        item("XLE", "2021-03-30", "20210330T141500", -0.6),
        item("XLE", "2021-03-29", "20210329T090000", -0.2),
    ])
    .unwrap();
    drop(db);
    let data = repo().join("../shared/data/us_etf_daily_yahoo");
    let base = read(&repo().join("configs/bucket_a.toml"))
        .replace("../../shared/data/us_etf_daily_yahoo", s(&data));
    let cfg = dir.path().join("a.toml");
    std::fs::write(&cfg, format!("{base}\n[news]\nsource = \"market.db\"\n")).unwrap();
    let out = dir.path().join("bt");
    let r = run(&["backtest", "--config", s(&cfg), "--out", s(&out)]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let xle = common::rows(&out.join("targets.csv"))
        .into_iter()
        .find(|r| r["date"] == "2021-04-01" && r["symbol"] == "XLE")
        .unwrap();
    assert_eq!(
        (xle["status"].as_str(), xle["detail"].as_str()),
        ("news_risk", "-0.4")
    );
    // A missing database is one clear error naming the key.
    std::fs::remove_file(&db_path).unwrap();
    let r = run(&[
        "backtest",
        "--config",
        s(&cfg),
        "--out",
        s(&dir.path().join("x")),
    ]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("news.source"), "{}", r.stderr);
}
