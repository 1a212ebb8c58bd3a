//! `systrade data fetch` against the local market-data vendors (`systrade fake-venue data`)
//! serving the shared real data: a fetch gives exactly the database an import of the same
//! files gives, across page boundaries, through 429s, 418s and Alpha Vantage's throttle
//! note, after a SIGKILL and a resume, and with a vendor's revision reported and applied.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::venue::{Venue, data_vendor};
use common::{read, s};
use rusqlite::types::Value as Sql;
use serde_json::{Value, json};

fn shared(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(p)
}

/// Every row of `sql`, values exact.
fn rows(db: &Path, sql: &str) -> Vec<Vec<Sql>> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c.prepare(sql).unwrap();
    let n = st.column_count();
    st.query_map([], |r| (0..n).map(|i| r.get::<_, Sql>(i)).collect())
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The market data two databases hold, row by row: bars, flagged rows, corporate actions
/// and what each series is (its market and adjustment).
fn assert_same_market(a: &Path, b: &Path) {
    for sql in [
        "SELECT ticker, date, open, high, low, close, volume FROM prices ORDER BY ticker, date",
        "SELECT ticker, interval_s, ts, open, high, low, close, volume FROM prices_intraday ORDER BY 1, 2, 3",
        "SELECT ticker, interval_s, ts, flag, open, high, low, close, volume FROM flagged_rows ORDER BY 1, 2, 3",
        "SELECT ticker, date, kind, value FROM corporate_actions ORDER BY 1, 2, 3",
        "SELECT ticker, interval_s, market, adjust FROM instruments ORDER BY 1, 2",
    ] {
        let (x, y) = (rows(a, sql), rows(b, sql));
        assert_eq!(x.len(), y.len(), "{sql}");
        if let Some((i, (p, q))) = x.iter().zip(&y).enumerate().find(|(_, (p, q))| p != q) {
            panic!("{sql}: row {i} differs: fetched {p:?}, imported {q:?}");
        }
    }
}

/// `systrade` with `env`; (exit code, stdout, stderr).
fn systrade(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("systrade"));
    c.args(args).env_remove("SYSTRADE_HOME");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every base URL and key pointed at `v`.
fn env_of(v: &Venue) -> Vec<(&'static str, String)> {
    let mut e: Vec<(&'static str, String)> = [
        "APCA_API_DATA_URL",
        "SYSTRADE_COINBASE_BASE_URL",
        "SYSTRADE_BINANCE_BASE_URL",
        "SYSTRADE_YAHOO_BASE_URL",
        "SYSTRADE_ALPHAVANTAGE_BASE_URL",
    ]
    .into_iter()
    .map(|k| (k, v.url.clone()))
    .collect();
    e.push(("APCA_API_KEY_ID", "test-key".into()));
    e.push(("APCA_API_SECRET_KEY", "test-secret".into()));
    e.push(("ALPHAVANTAGE_API_KEY", "test-av-key".into()));
    e
}

fn fetch(v: &Venue, args: &[&str]) -> (i32, String, String) {
    let env = env_of(v);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut all = vec!["data", "fetch", "--rate-limit", "100000"];
    all.extend_from_slice(args);
    systrade(&all, &env)
}

/// A folder with copies of `files` from `dir`.
fn copies(dir: &Path, files: &[String], to: &Path) -> PathBuf {
    std::fs::create_dir_all(to).unwrap();
    for f in files {
        std::fs::copy(dir.join(f), to.join(f)).unwrap();
    }
    to.to_path_buf()
}

fn import(from: &Path, db: &Path, extra: &[&str]) {
    let mut args = vec!["data", "import", "--from", s(from), "--db", s(db)];
    args.extend_from_slice(extra);
    let (code, out, err) = systrade(&args, &[]);
    assert_eq!(code, 0, "{out}{err}");
}

fn post(v: &Venue, path: &str, body: Value) {
    let (code, answer) = v.post(path, &body);
    assert_eq!(code, 200, "{path}: {answer}");
}

#[test]
fn test_every_provider_fetches_the_database_an_import_of_the_same_files_gives() {
    let t = tempfile::tempdir().unwrap();
    // US ETFs (Yahoo's layout) through Alpaca's multi-symbol pages of 500 bars.
    let etf = shared("us_etf_daily_yahoo");
    let v = data_vendor(&etf, &["--page-limit", "500"]);
    let (code, out, err) = fetch(
        &v,
        &[
            "--provider",
            "alpaca",
            "--symbols",
            "SPY,XLK,XLE,AGG",
            "--start",
            "1990-01-01",
            "--end",
            "2025-01-07",
            "--db",
            s(&t.path().join("alpaca.db")),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("4 new"), "{out}");
    let files: Vec<String> = ["SPY", "XLK", "XLE", "AGG"]
        .iter()
        .map(|x| format!("{x}.csv"))
        .collect();
    import(
        &copies(&etf, &files, &t.path().join("etf")),
        &t.path().join("etf.db"),
        &[],
    );
    assert_same_market(&t.path().join("alpaca.db"), &t.path().join("etf.db"));
    // 20,000+ bars at 500 a page: pages crossed symbol boundaries.
    assert!(v.calls() > 40, "{}", v.calls());
    // Yahoo's chart of the same files: its Yahoo layout, adjusted close and all.
    for adjust in ["split", "total"] {
        let db = t.path().join(format!("yahoo_{adjust}.db"));
        let (code, out, err) = fetch(
            &v,
            &[
                "--provider",
                "yahoo",
                "--symbols",
                "SPY,XLK,XLE,AGG",
                "--start",
                "1990-01-01",
                "--end",
                "2025-01-07",
                "--db",
                s(&db),
                "--adjust",
                adjust,
            ],
        );
        assert_eq!(code, 0, "{out}{err}");
        let imported = t.path().join(format!("etf_{adjust}.db"));
        import(&t.path().join("etf"), &imported, &["--adjust", adjust]);
        assert_same_market(&db, &imported);
    }
    drop(v);

    // Binance klines (1,000 a call, the 2022-06-05 candle still open at the vendor's clock)
    // and Coinbase candles (350-bucket windows) of the same pairs.
    let crypto = shared("crypto_binance_spot/1d");
    let v = data_vendor(&crypto, &["--now", "2022-06-05T12:00:00Z"]);
    let pairs = ["BTCUSDT", "ETHUSDT", "LUNAUSDT", "SOLUSDT"];
    for provider in ["binance", "coinbase"] {
        let db = t.path().join(format!("{provider}.db"));
        let (code, out, err) = fetch(
            &v,
            &[
                "--provider",
                provider,
                "--symbols",
                &pairs.join(","),
                "--start",
                "2017-01-01",
                "--db",
                s(&db),
                "--adjust",
                "none",
            ],
        );
        assert_eq!(code, 0, "{provider}: {out}{err}");
        assert!(out.contains("still open: BTCUSDT 2022-06-05"), "{out}");
    }
    let files: Vec<String> = pairs.iter().map(|x| format!("{x}_1d.csv")).collect();
    import(
        &copies(&crypto, &files, &t.path().join("crypto")),
        &t.path().join("crypto.db"),
        &["--adjust", "none"],
    );
    assert_same_market(&t.path().join("binance.db"), &t.path().join("crypto.db"));
    assert_same_market(&t.path().join("coinbase.db"), &t.path().join("crypto.db"));
    drop(v);

    // Alpha Vantage daily adjusted (raw prices, splits, dividends: adjusted at import)
    // and Yahoo's chart of the same files, split- and total-adjusted.
    let sp = shared("sp500_daily_alphavantage/daily");
    let v = data_vendor(&sp, &["--now", "2021-04-22T12:00:00Z"]);
    let names = ["AAPL", "NVDA", "BRK.B"];
    let files: Vec<String> = names.iter().map(|x| format!("{x}.csv")).collect();
    let src = copies(&sp, &files, &t.path().join("sp"));
    for adjust in ["split", "total"] {
        let av = t.path().join(format!("av_{adjust}.db"));
        let (code, out, err) = fetch(
            &v,
            &[
                "--provider",
                "alphavantage",
                "--symbols",
                &names.join(","),
                "--start",
                "1990-01-01",
                "--db",
                s(&av),
                "--adjust",
                adjust,
            ],
        );
        assert_eq!(code, 0, "{out}{err}");
        let imported = t.path().join(format!("sp_{adjust}.db"));
        import(&src, &imported, &["--adjust", adjust]);
        assert_same_market(&av, &imported);
    }
    let (code, out, err) = fetch(
        &v,
        &[
            "--provider",
            "yahoo",
            "--symbols",
            "AAPL",
            "--start",
            "1990-01-01",
            "--db",
            s(&t.path().join("yahoo.db")),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        rows(&t.path().join("yahoo.db"), "SELECT COUNT(*) FROM prices"),
        vec![vec![Sql::Integer(5402)]]
    );
}

#[test]
fn test_a_second_fetch_takes_only_what_is_missing_and_reports_a_revised_bar() {
    let t = tempfile::tempdir().unwrap();
    let v = data_vendor(&shared("us_etf_daily_yahoo"), &[]);
    let db = t.path().join("m.db");
    let first = fetch(
        &v,
        &[
            "--provider",
            "alpaca",
            "--symbols",
            "SPY,XLK",
            "--start",
            "2020-01-01",
            "--end",
            "2020-06-30",
            "--db",
            s(&db),
        ],
    );
    assert_eq!(first.0, 0, "{first:?}");
    let calls = v.calls();
    // Nothing new: one request (the overlap), nothing written.
    let again = fetch(
        &v,
        &[
            "--provider",
            "alpaca",
            "--symbols",
            "SPY,XLK",
            "--start",
            "2020-01-01",
            "--end",
            "2020-06-30",
            "--db",
            s(&db),
        ],
    );
    assert!(again.1.contains("2 up to date"), "{}", again.1);
    assert_eq!(v.calls(), calls + 1);
    // An earlier --start backfills once; asked again, nothing is fetched but the overlap.
    let back = fetch(
        &v,
        &[
            "--provider",
            "alpaca",
            "--symbols",
            "SPY,XLK",
            "--start",
            "2019-06-01",
            "--end",
            "2020-06-30",
            "--db",
            s(&db),
            "--json",
        ],
    );
    let report: Value = serde_json::from_str(&back.1).unwrap();
    assert_eq!(report["symbols"][0]["status"], "updated", "{report}");
    assert_eq!(report["symbols"][0]["first"], "2019-06-03", "{report}");
    assert_eq!(report["symbols"][0]["added"], 148, "{report}");
    let calls = v.calls();
    let again = fetch(
        &v,
        &[
            "--provider",
            "alpaca",
            "--symbols",
            "SPY,XLK",
            "--start",
            "2019-06-01",
            "--end",
            "2020-06-30",
            "--db",
            s(&db),
        ],
    );
    assert!(again.1.contains("2 up to date"), "{}", again.1);
    assert_eq!(v.calls(), calls + 1);
    // The vendor revises SPY's 2020-06-29 close (inside the overlap), and the next
    // top-up reports it and applies it.
    post(
        &v,
        "/fake/revise",
        json!({"symbol": "SPY", "date": "2020-06-29", "close": 303.5}),
    );
    let (code, out, err) = fetch(
        &v,
        &[
            "--provider",
            "alpaca",
            "--symbols",
            "SPY,XLK",
            "--start",
            "2020-01-01",
            "--end",
            "2020-07-31",
            "--db",
            s(&db),
            "--json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let spy = &report["symbols"][0];
    assert_eq!(spy["symbol"], "SPY");
    assert_eq!(spy["status"], "revised");
    assert_eq!(spy["revisions"][0]["time"], "2020-06-29");
    assert!(
        spy["revisions"][0]["change"]
            .as_str()
            .unwrap()
            .contains("→ 303.5"),
        "{spy}"
    );
    assert_eq!(report["symbols"][1]["status"], "updated");
    assert_eq!(
        rows(
            &db,
            "SELECT close FROM prices WHERE ticker = 'SPY' AND date = '2020-06-29'"
        ),
        vec![vec![Sql::Real(303.5)]]
    );
    // And as text.
    post(
        &v,
        "/fake/revise",
        json!({"symbol": "XLK", "date": "2020-07-30", "close": 107.25}),
    );
    let (_, out, _) = fetch(
        &v,
        &[
            "--provider",
            "alpaca",
            "--symbols",
            "SPY,XLK",
            "--end",
            "2020-08-05",
            "--db",
            s(&db),
        ],
    );
    assert!(
        out.contains("revised by alpaca: XLK 2020-07-30: close"),
        "{out}"
    );
    assert!(out.contains("→ 107.25 (applied)"), "{out}");
}

#[test]
fn test_rate_limits_are_waited_out_never_hammered() {
    let t = tempfile::tempdir().unwrap();
    let v = data_vendor(
        &shared("crypto_binance_spot/1d"),
        &["--now", "2022-06-06T00:00:00Z", "--page-limit", "200"],
    );
    // A 429 and a 418, each with Retry-After: 1, on the way.
    v.faults(&["bars:429", "bars:418", "bars:503"]);
    let db = t.path().join("b.db");
    let (code, out, err) = fetch(
        &v,
        &[
            "--provider",
            "binance",
            "--symbols",
            "BTCUSDT,ETHUSDT",
            "--start",
            "2017-01-01",
            "--db",
            s(&db),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let stats = v.get("/fake/stats");
    assert_eq!(stats["rate_limited"], 1, "{stats}");
    // The one 418 is the injected one: after the 429 nothing came before its Retry-After.
    assert_eq!(stats["banned"], 1, "{stats}");
    assert!(out.contains("2 new"), "{out}");
    assert_eq!(
        rows(&db, "SELECT COUNT(*) FROM prices"),
        vec![vec![Sql::Integer(2 * 1754)]]
    );

    // Alpha Vantage's throttle note inside a 200 is a rate limit, backed off.
    let v = data_vendor(
        &shared("sp500_daily_alphavantage/daily"),
        &["--now", "2021-04-22T12:00:00Z"],
    );
    v.faults(&["bars:throttle"]);
    let db = t.path().join("av.db");
    let (code, out, err) = fetch(
        &v,
        &[
            "--provider",
            "alphavantage",
            "--symbols",
            "MSFT",
            "--start",
            "2021-01-01",
            "--db",
            s(&db),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(v.get("/fake/stats")["throttled"], 1);
    assert!(!rows(&db, "SELECT date FROM prices").is_empty());
    // A note that keeps coming stops the fetch loudly (exit 1), naming the throttle, and
    // what was stored stays.
    v.faults(&["bars:throttle"; 3]);
    let (code, out, err) = fetch(
        &v,
        &[
            "--provider",
            "alphavantage",
            "--symbols",
            "AAPL",
            "--start",
            "2021-01-01",
            "--db",
            s(&db),
            "--max-retries",
            "3",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("rate limited") && err.contains("call frequency"),
        "{err}"
    );
    assert!(!err.contains("test-av-key"), "{err}");
    assert!(!rows(&db, "SELECT date FROM prices WHERE ticker = 'MSFT'").is_empty());
}

#[test]
fn test_a_fetch_killed_mid_way_resumes_to_the_database_an_uninterrupted_one_gives() {
    let t = tempfile::tempdir().unwrap();
    let crypto = shared("crypto_binance_spot/1d");
    let v = data_vendor(
        &crypto,
        &["--now", "2022-06-06T00:00:00Z", "--page-limit", "50"],
    );
    let pairs = "BTCUSDT,ETHUSDT,BNBUSDT,ADAUSDT,SOLUSDT,DOTUSDT";
    let whole = t.path().join("whole.db");
    let (code, out, err) = fetch(
        &v,
        &[
            "--provider",
            "binance",
            "--symbols",
            pairs,
            "--start",
            "2017-01-01",
            "--db",
            s(&whole),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    // Slow the vendor down and kill the fetch at several instants.
    post(&v, "/fake/delay", json!({"ms": 15}));
    let db = t.path().join("killed.db");
    let env = env_of(&v);
    let mut kills = 0;
    for wait_ms in [150u64, 400, 900] {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("systrade"));
        c.args([
            "data",
            "fetch",
            "--rate-limit",
            "100000",
            "--provider",
            "binance",
            "--symbols",
            pairs,
            "--start",
            "2017-01-01",
            "--db",
            s(&db),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        for (k, val) in &env {
            c.env(k, val);
        }
        let mut child = c.spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(wait_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills > 0, "no fetch was killed mid-way");
    let (code, out, err) = fetch(
        &v,
        &[
            "--provider",
            "binance",
            "--symbols",
            pairs,
            "--start",
            "2017-01-01",
            "--db",
            s(&db),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_same_market(&db, &whole);
    let files = rows(&db, "SELECT dataset FROM fetched ORDER BY dataset");
    assert_eq!(files.len(), 6);
}

#[test]
fn test_a_folder_fetch_is_read_by_import_and_leaves_the_open_candle_out() {
    let t = tempfile::tempdir().unwrap();
    let v = data_vendor(
        &shared("crypto_binance_spot/1d"),
        &["--now", "2022-06-05T12:00:00Z"],
    );
    let out_dir = t.path().join("bars");
    let (code, out, err) = fetch(
        &v,
        &[
            "--provider",
            "binance",
            "--symbols",
            "BTCUSDT",
            "--start",
            "2022-01-01",
            "--out",
            s(&out_dir),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let text = read(&out_dir.join("BTCUSDT.csv"));
    assert!(
        text.starts_with("timestamp,open,high,low,close,volume\n2022-01-01,"),
        "{text}"
    );
    assert!(
        text.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("2022-06-04,"),
        "{text}"
    );
    // The next day the candle has closed: it is added, nothing else changes.
    post(&v, "/fake/clock", json!({"now": "2022-06-06T00:00:01Z"}));
    let (code, out, _) = fetch(
        &v,
        &[
            "--provider",
            "binance",
            "--symbols",
            "BTCUSDT",
            "--out",
            s(&out_dir),
        ],
    );
    assert_eq!(code, 0);
    assert!(out.contains("1 updated"), "{out}");
    let text2 = read(&out_dir.join("BTCUSDT.csv"));
    assert!(text2.starts_with(&text));
    assert!(
        text2
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("2022-06-05,")
    );
    // `data import` reads the folder (its `.fetch.json` aside).
    import(&out_dir, &t.path().join("i.db"), &[]);
    let manifest: Value = serde_json::from_str(&read(&out_dir.join(".fetch.json"))).unwrap();
    assert_eq!(
        manifest["BTCUSDT.csv"],
        json!({"provider": "binance", "since": "2022-01-01"})
    );
    // Another vendor does not write into the same series; a later --start does not backfill.
    let (code, _, err) = fetch(
        &v,
        &[
            "--provider",
            "coinbase",
            "--symbols",
            "BTC-USDT",
            "--out",
            s(&out_dir),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("BTCUSDT.csv was fetched from binance"),
        "{err}"
    );
    let (code, out, _) = fetch(
        &v,
        &[
            "--provider",
            "binance",
            "--symbols",
            "BTCUSDT",
            "--start",
            "2022-03-01",
            "--out",
            s(&out_dir),
            "--json",
        ],
    );
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["symbols"][0]["status"], "up_to_date", "{report}");
    // Only the overlap (three stored bars and the last) came again.
    assert_eq!(report["symbols"][0]["fetched"], 4, "{report}");
}

#[test]
fn test_bad_requests_fail_with_one_clear_error() {
    let t = tempfile::tempdir().unwrap();
    let v = data_vendor(
        &shared("crypto_binance_spot/1d"),
        &["--now", "2022-06-06T00:00:00Z"],
    );
    let db = t.path().join("m.db");
    let (code, _, err) = fetch(
        &v,
        &[
            "--provider",
            "binance",
            "--symbols",
            "NOPEUSDT",
            "--db",
            s(&db),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("NOPEUSDT") && err.contains("Invalid symbol"),
        "{err}"
    );
    let (code, _, err) = fetch(
        &v,
        &["--provider", "binance", "--symbols", "AAPL", "--db", s(&db)],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("\"AAPL\" is not a pair"), "{err}");
    // Alpaca stock bars without keys.
    let (code, _, err) = systrade(
        &[
            "data",
            "fetch",
            "--provider",
            "alpaca",
            "--symbols",
            "SPY",
            "--db",
            s(&db),
        ],
        &[
            ("APCA_API_DATA_URL", &v.url),
            ("APCA_API_KEY_ID", ""),
            ("APCA_API_SECRET_KEY", ""),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("APCA_API_KEY_ID"), "{err}");
    // One series is not mixed from two vendors.
    let (code, ..) = fetch(
        &v,
        &[
            "--provider",
            "binance",
            "--symbols",
            "BTCUSDT",
            "--start",
            "2022-05-01",
            "--db",
            s(&db),
        ],
    );
    assert_eq!(code, 0);
    let (code, _, err) = fetch(
        &v,
        &[
            "--provider",
            "coinbase",
            "--symbols",
            "BTC-USDT",
            "--start",
            "2022-05-01",
            "--db",
            s(&db),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("was fetched from binance"), "{err}");
    // Intraday from Alpha Vantage is refused.
    let (code, _, err) = fetch(
        &v,
        &[
            "--provider",
            "alphavantage",
            "--symbols",
            "AAPL",
            "--interval",
            "1h",
            "--db",
            s(&db),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("only daily bars"), "{err}");
}

/// Articles in Alpha Vantage's NEWS_SENTIMENT shape.
const NEWS: &str = r#"{"items": "3", "feed": [
 {"title": "Apple beats on services", "url": "https://news.example/a1", "time_published": "20210419T133000",
  "summary": "…", "source": "Example Wire", "overall_sentiment_score": 0.3, "overall_sentiment_label": "Somewhat-Bullish",
  "ticker_sentiment": [{"ticker": "AAPL", "relevance_score": "0.91", "ticker_sentiment_score": "0.412", "ticker_sentiment_label": "Bullish"},
                       {"ticker": "MSFT", "relevance_score": "0.10", "ticker_sentiment_score": "0.01", "ticker_sentiment_label": "Neutral"}]},
 {"title": "Supply worries weigh on Apple", "url": "https://news.example/a2", "time_published": "20210420T090500",
  "summary": "…", "source": "Example Daily", "overall_sentiment_score": -0.2, "overall_sentiment_label": "Somewhat-Bearish",
  "ticker_sentiment": [{"ticker": "AAPL", "relevance_score": "0.75", "ticker_sentiment_score": "-0.387", "ticker_sentiment_label": "Bearish"}]},
 {"title": "Tomorrow's story", "url": "https://news.example/a3", "time_published": "20210423T090500",
  "summary": "…", "source": "Example Daily", "overall_sentiment_score": 0.0, "overall_sentiment_label": "Neutral",
  "ticker_sentiment": [{"ticker": "AAPL", "relevance_score": "0.5", "ticker_sentiment_score": "0.0", "ticker_sentiment_label": "Neutral"}]}
]}"#;

#[test]
fn test_news_sentiment_is_fetched_per_symbol_and_article_once() {
    let t = tempfile::tempdir().unwrap();
    let news = t.path().join("news.json");
    std::fs::write(&news, NEWS).unwrap();
    let v = data_vendor(
        &shared("sp500_daily_alphavantage/daily"),
        &["--now", "2021-04-22T12:00:00Z", "--news", s(&news)],
    );
    let db = t.path().join("m.db");
    let args = [
        "--provider",
        "alphavantage",
        "--symbols",
        "AAPL,MSFT",
        "--start",
        "2021-04-01",
        "--news",
        "--db",
        s(&db),
    ];
    let (code, out, err) = fetch(&v, &args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("news: AAPL: 2 articles, 2 new"), "{out}");
    assert!(out.contains("news: MSFT: 1 articles, 1 new"), "{out}");
    let got = common::daily::query(
        &db,
        "SELECT ticker, date, label, headline, source, url FROM news ORDER BY ticker, published",
    );
    assert_eq!(
        got[0],
        [
            "AAPL",
            "2021-04-19",
            "Bullish",
            "Apple beats on services",
            "Example Wire",
            "https://news.example/a1"
        ]
    );
    assert_eq!(got[1][2], "Bearish");
    assert_eq!(got.len(), 3);
    assert_eq!(
        rows(&db, "SELECT score FROM news WHERE url LIKE '%a2'"),
        vec![vec![Sql::Real(-0.387)]]
    );
    // Again: nothing new; the article of the 23rd is not out yet at the vendor's clock.
    let (code, out, _) = fetch(&v, &args);
    assert_eq!(code, 0);
    assert!(out.contains("news: AAPL: 1 articles, 0 new"), "{out}");
    // Into a folder: one CSV per symbol.
    let dir = t.path().join("out");
    let mut a = args.to_vec();
    a.truncate(a.len() - 2);
    a.extend(["--out", s(&dir)]);
    let (code, out, err) = fetch(&v, &a);
    assert_eq!(code, 0, "{out}{err}");
    let text = read(&dir.join("news/AAPL.csv"));
    assert!(
        text.starts_with("symbol,date,published,score,label,relevance,headline,source,url\n"),
        "{text}"
    );
    assert!(text.contains("AAPL,2021-04-20,20210420T090500,-0.387,Bearish,0.75,Supply worries weigh on Apple,Example Daily,https://news.example/a2"), "{text}");
}

#[test]
fn test_plan_refreshes_its_data_and_inspect_says_how_stale_a_series_is() {
    let t = tempfile::tempdir().unwrap();
    let v = data_vendor(
        &shared("us_etf_daily_yahoo"),
        &["--now", "2024-06-03T12:00:00Z"],
    );
    let text =
        read(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs/trend_us_alpaca.toml"))
            .replace(
                "source = \"../../shared/data/us_etf_daily_yahoo\"",
                "source = \"market.db\"\nrefresh = \"alpaca\"",
            );
    let cfg = t.path().join("trend.toml");
    std::fs::write(&cfg, text).unwrap();
    let env = env_of(&v);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out_dir = t.path().join("plan");
    let (code, out, err) = systrade(
        &[
            "plan",
            "--config",
            s(&cfg),
            "--as-of",
            "2024-06-03",
            "--out",
            s(&out_dir),
        ],
        &env,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("data refresh from alpaca into --db"), "{out}");
    assert!(out.contains("12 new"), "{out}");
    let db = t.path().join("market.db");
    assert_eq!(
        common::daily::query(&db, "SELECT MAX(date) FROM prices"),
        vec![vec!["2024-05-31".to_string()]]
    );
    // --no-refresh plans on the data as it is (nothing fetched).
    let calls = v.calls();
    let (code, out, err) = systrade(
        &[
            "plan",
            "--config",
            s(&cfg),
            "--as-of",
            "2024-06-03",
            "--out",
            s(&out_dir),
            "--no-refresh",
        ],
        &env,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(v.calls(), calls);
    // A week later the series are stale by five sessions.
    let (code, out, err) = systrade(
        &["data", "inspect", "--db", s(&db), "--symbol", "SPY"],
        &[("SYSTRADE_NOW", "2024-06-07T21:00:00Z")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("STALE by 5 sessions (last completed session 2024-06-07)"),
        "{out}"
    );
}

#[test]
fn test_hourly_klines_with_outages_and_off_grid_opens_fetch_as_they_import() {
    let t = tempfile::tempdir().unwrap();
    let hourly = shared("crypto_binance_spot/1h");
    // The vendor's clock inside the last hour of the files: that candle is still open.
    let v = data_vendor(&hourly, &["--now", "2022-06-05T00:30:00Z"]);
    let db = t.path().join("h.db");
    let (code, out, err) = fetch(
        &v,
        &[
            "--provider",
            "binance",
            "--symbols",
            "ADAUSDT,BNBUSDT",
            "--interval",
            "1h",
            "--start",
            "2017-01-01",
            "--db",
            s(&db),
            "--adjust",
            "none",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let files: Vec<String> = ["ADAUSDT_1h.csv", "BNBUSDT_1h.csv"]
        .iter()
        .map(|x| x.to_string())
        .collect();
    let imported = t.path().join("i.db");
    import(
        &copies(&hourly, &files, &t.path().join("src")),
        &imported,
        &["--adjust", "none"],
    );
    assert_same_market(&db, &imported);
    // 36,000+ hours each at 1,000 a call.
    assert!(v.calls() >= 76, "{}", v.calls());
    // BNB's bars opening at :28:15 after the 2018-02 outage are kept at their own instants.
    let off = rows(
        &db,
        "SELECT COUNT(*) FROM prices_intraday WHERE ticker = 'BNBUSDT' AND ts LIKE '%:28:15Z'",
    );
    assert!(matches!(off[0][0], Sql::Integer(n) if n > 0), "{off:?}");
}
