//! `backtest --config` and `plan` for trend following, as a user runs them: plan = backtest
//! byte for byte, reruns identical, bad configs and position files named precisely.

use std::path::{Path, PathBuf};

mod common;

use common::{committed, read, run, s};
use systrade_testkit::shared;

/// `configs/trend_crypto.toml` with its data path made absolute and the backtest window set.
fn crypto_config(dir: &Path, data: &Path, start: &str, end: &str) -> PathBuf {
    let text = committed("trend_crypto.toml")
        .replace(
            "source = \"../../shared/data/crypto_binance_spot/1d\"",
            &format!("source = {:?}", data.display().to_string()),
        )
        .replace("start = \"2018-01-01\"", &format!("start = \"{start}\""))
        .replace("end = \"2022-06-04\"", &format!("end = \"{end}\""));
    let p = dir.join("trend.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn test_plan_equals_backtest_byte_for_byte() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = crypto_config(dir.path(), &data, "2021-01-01", "2021-12-31");
    let bt = dir.path().join("bt");
    let r = run(&[
        "backtest",
        "--config",
        s(&cfg),
        "--logs",
        "full",
        "--out",
        s(&bt),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("CAGR"), "{}", r.stdout);
    let history = read(&bt.join("targets.csv"));
    let snapshots = read(&bt.join("snapshots.csv"));
    let timeseries = read(&bt.join("timeseries.csv"));
    let mut traded_days = 0;
    for as_of in ["2021-02-15", "2021-05-12", "2021-09-30", "2021-12-31"] {
        let out = dir.path().join(format!("plan-{as_of}"));
        let r = run(&[
            "plan",
            "--config",
            s(&cfg),
            "--as-of",
            as_of,
            "--out",
            s(&out),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let want: String = history
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{as_of},")))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(want.lines().count(), 25, "{as_of}: one row per ticker");
        let plan = read(&out.join(format!("targets_{as_of}.csv")));
        let (header, rows) = plan.split_once('\n').unwrap();
        assert_eq!(
            header,
            "ticker,sleeve,final_signal,target_weight,target_notional,current,delta,reason,stop"
        );
        assert_eq!(
            rows, want,
            "{as_of}: plan targets differ from the backtest's"
        );
        traded_days += usize::from(rows.contains(",trade,"));
        for f in [
            format!("orders_{as_of}.csv"),
            format!("snapshot_{as_of}.csv"),
            format!("plan_{as_of}.json"),
            "logs/desired_trades.jsonl".to_string(),
        ] {
            assert!(out.join(&f).exists(), "{f}");
        }
        assert_eq!(
            read(&out.join("logs/desired_trades.jsonl")).lines().count(),
            25
        );

        // The same decision from a positions file: the book the backtest held (its refresh
        // snapshot for that session) and its equity the day before.
        let mut book = String::from("symbol,qty,stop,cooldown_left\n");
        for l in snapshots
            .lines()
            .filter(|l| l.starts_with(&format!("{as_of},refresh,")))
        {
            let c: Vec<&str> = l.split(',').collect();
            book.push_str(&format!("{},{},{},{}\n", c[2], c[4], c[10], c[11]));
        }
        let prev = chrono::NaiveDate::parse_from_str(as_of, "%Y-%m-%d")
            .unwrap()
            .pred_opt()
            .unwrap()
            .to_string();
        let equity = timeseries
            .lines()
            .find(|l| l.starts_with(&format!("{prev},")))
            .unwrap()
            .split(',')
            .nth(1)
            .unwrap()
            .to_string();
        let book_path = dir.path().join(format!("book-{as_of}.csv"));
        std::fs::write(&book_path, book).unwrap();
        let out2 = dir.path().join(format!("plan2-{as_of}"));
        let r = run(&[
            "plan",
            "--config",
            s(&cfg),
            "--as-of",
            as_of,
            "--positions",
            s(&book_path),
            "--capital",
            &equity,
            "--out",
            s(&out2),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let from_book = read(&out2.join(format!("targets_{as_of}.csv")));
        assert_eq!(from_book, plan, "{as_of} from a positions file");
    }
    assert!(traded_days > 0, "at least one of the dates trades");
}

#[test]
fn test_reruns_are_byte_identical_and_data_overrides_the_config() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A config whose own source does not exist: --data must take over.
    let cfg = crypto_config(
        dir.path(),
        Path::new("/nonexistent/data"),
        "2021-03-01",
        "2021-08-31",
    );
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    // By default a backtest writes what a person reads; the per-ticker log is `--logs full`.
    let lean = dir.path().join("lean");
    let lean_into = |out: &Path| {
        let r = run(&[
            "backtest",
            "--config",
            s(&cfg),
            "--data",
            s(&data),
            "--out",
            s(out),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    };
    lean_into(&lean);
    assert!(!lean.join("logs/desired_trades.jsonl").exists());
    assert!(!lean.join("snapshots.csv").exists());
    for out in [&a, &b] {
        let r = run(&[
            "backtest",
            "--config",
            s(&cfg),
            "--data",
            s(&data),
            "--logs",
            "full",
            "--out",
            s(out),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let r = run(&[
            "plan",
            "--config",
            s(&cfg),
            "--data",
            s(&data),
            "--as-of",
            "2021-07-01",
            "--out",
            &format!("{}/plan", out.display()),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    for f in [
        "timeseries.csv",
        "targets.csv",
        "snapshots.csv",
        "trades.csv",
        "fills.csv",
        "summary.json",
        "decisions.jsonl",
        "logs/desired_trades.jsonl",
        "plan/targets_2021-07-01.csv",
        "plan/orders_2021-07-01.csv",
        "plan/snapshot_2021-07-01.csv",
        "plan/plan_2021-07-01.json",
    ] {
        assert_eq!(read(&a.join(f)), read(&b.join(f)), "{f}");
    }
    // The lean run is the same run: every file it writes equals the full run's.
    for f in [
        "timeseries.csv",
        "targets.csv",
        "trades.csv",
        "fills.csv",
        "summary.json",
        "decisions.jsonl",
    ] {
        assert_eq!(read(&lean.join(f)), read(&a.join(f)), "{f}");
    }
    // A lean run into a full run's folder leaves none of the full tables behind.
    lean_into(&b);
    assert!(!b.join("snapshots.csv").exists());
    assert!(!b.join("logs/desired_trades.jsonl").exists());
    assert_eq!(read(&b.join("targets.csv")), read(&a.join("targets.csv")));
    let ts = read(&a.join("timeseries.csv"));
    let header = ts.lines().next().unwrap();
    for col in [
        "date",
        "equity",
        "return",
        "gross",
        "n_positions",
        "vol_pre_cap",
        "vol_post_cap",
        "n_eff",
        "turnover",
        "fees",
    ] {
        assert!(header.split(',').any(|c| c == col), "{col} in {header}");
    }
    // Without --data the missing source is named.
    let r = run(&["backtest", "--config", s(&cfg), "--out", s(&a)]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("/nonexistent/data"), "{}", r.stderr);
}

#[test]
fn test_bad_configs_exit_2_and_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = committed("trend_crypto.toml");
    let cases = [
        (
            good.replace("target_vol = 0.25", "target_vol = 0.25\ntarget_voll = 1"),
            "target_voll",
        ),
        (
            good.replace("tickers = [\"BTCUSDT\", \"ETHUSDT\"]", "tickers = []"),
            "sleeves.majors.tickers",
        ),
        (
            good.replace("target_vol = 0.25", "target_vol = -0.25"),
            "sizing.target_vol",
        ),
        (
            good.replace("budget = 0.4", "budget = 0.3"),
            "budgets must sum to 1",
        ),
        (
            good.replace("cooldown_days = 7", "cooldown_days = -1"),
            "cooldown_days",
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let cfg = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&cfg, text).unwrap();
        let out = dir.path().join(format!("out{i}"));
        for args in [
            vec!["backtest", "--config", s(&cfg), "--out", s(&out)],
            vec![
                "plan",
                "--config",
                s(&cfg),
                "--as-of",
                "2022-01-01",
                "--out",
                s(&out),
            ],
        ] {
            let r = run(&args);
            assert_eq!(r.code, 2, "{want}: {}", r.stderr);
            assert!(
                r.stderr.contains(want) && r.stderr.contains(&format!("bad{i}.toml")),
                "{want}: {}",
                r.stderr
            );
            assert!(!out.exists(), "nothing written for a bad config");
        }
    }
}

#[test]
fn test_bad_positions_files_name_file_line_and_symbol() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = crypto_config(dir.path(), &data, "2021-01-01", "2021-12-31");
    let cases = [
        (
            "symbol,qty\nBTCUSDT,0.5\nDOGEUSDT,10\n",
            "line 3: DOGEUSDT: unknown symbol",
        ),
        (
            "symbol,qty\nBTCUSDT,-1\n",
            "line 2: BTCUSDT: qty -1 is negative",
        ),
        (
            "symbol,qty\nBTCUSDT,abc\n",
            "line 2: BTCUSDT: qty \"abc\" is not a number",
        ),
        (
            "symbol,qty\nBTCUSDT,1\nBTCUSDT,2\n",
            "line 3: BTCUSDT: listed twice",
        ),
        ("symbol,amount\nBTCUSDT,1\n", "needs `symbol` and `qty`"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let book = dir.path().join(format!("book{i}.csv"));
        std::fs::write(&book, text).unwrap();
        let out = dir.path().join(format!("out{i}"));
        let r = run(&[
            "plan",
            "--config",
            s(&cfg),
            "--as-of",
            "2021-06-01",
            "--positions",
            s(&book),
            "--capital",
            "100000",
            "--out",
            s(&out),
        ]);
        assert_eq!(r.code, 2, "{want}: {}", r.stderr);
        assert!(
            r.stderr.contains(want) && r.stderr.contains(&format!("book{i}.csv")),
            "{want}: {}",
            r.stderr
        );
        assert!(!out.exists());
    }
    // --positions without --capital is a usage error.
    let r = run(&[
        "plan",
        "--config",
        s(&cfg),
        "--as-of",
        "2021-06-01",
        "--positions",
        "x.csv",
        "--out",
        "o",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--capital"), "{}", r.stderr);
    let _ = r.stdout;
}

/// A universe too wide for its trade threshold is said at start, with the numbers.
#[test]
fn test_a_threshold_no_position_can_reach_is_warned_about_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("synth");
    let r = run(&[
        "data",
        "synth",
        "--symbols",
        "40",
        "--days",
        "300",
        "--out",
        s(&data),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let names: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".csv") && n != "sectors.csv")
        .map(|n| format!("{:?}", n.trim_end_matches(".csv")))
        .collect();
    let cfg = dir.path().join("wide.toml");
    let write = |threshold: f64| {
        std::fs::write(
            &cfg,
            format!(
                "strategy = \"trend\"\n[data]\nsource = {:?}\nadjust = \"none\"\nmarket = \"us\"\n\
                 [sleeves.all]\nbudget = 1.0\ntickers = [{}]\n[sizing]\nannualization = 252.0\n\
                 [gates]\ntrade_threshold = {threshold}\n[orders]\nqty_decimals = 0\n",
                data.display().to_string(),
                names.join(", ")
            ),
        )
        .unwrap();
    };
    write(0.2);
    let out = dir.path().join("bt");
    let r = run(&["backtest", "--config", s(&cfg), "--out", s(&out)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("warning:")
            && r.stderr.contains("40 tickers")
            && r.stderr.contains("gates.trade_threshold 20.0000%"),
        "{}",
        r.stderr
    );
    // A threshold a quarter of the names can reach says nothing.
    write(0.02);
    let r = run(&["backtest", "--config", s(&cfg), "--out", s(&out)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("trade_threshold"), "{}", r.stderr);
}

/// The parsed-data cache changes nothing: no cache, a cold cache (parse and store) and a
/// warm one (read back) give the same bytes; a data file that changes is parsed again, and a
/// cache file a crash left torn is not trusted.
#[test]
fn test_the_data_cache_changes_nothing_and_follows_the_files() {
    let Some(shared_data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    for e in std::fs::read_dir(&shared_data).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), data.join(e.file_name())).unwrap();
    }
    let cfg = crypto_config(dir.path(), &data, "2021-03-01", "2021-08-31");
    let cache = dir.path().join("cache");
    let backtest = |name: &str, cache_dir: &str| -> [String; 4] {
        let out = dir.path().join(name);
        let r = assert_cmd::Command::cargo_bin("systrade")
            .unwrap()
            .env("SYSTRADE_CACHE_DIR", cache_dir)
            .args(["backtest", "--config", s(&cfg), "--out", s(&out)])
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        ["fills.csv", "targets.csv", "timeseries.csv", "summary.json"].map(|f| read(&out.join(f)))
    };
    let off = backtest("off", "off");
    assert_eq!(backtest("cold", s(&cache)), off);
    let cached: Vec<PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert_eq!(backtest("warm", s(&cache)), off);
    // A torn cache file is parsed again (and rewritten).
    let bytes = std::fs::read(&cached[0]).unwrap();
    std::fs::write(&cached[0], &bytes[..bytes.len() / 2]).unwrap();
    assert_eq!(backtest("torn", s(&cache)), off);
    assert_eq!(std::fs::read(&cached[0]).unwrap(), bytes);
    // ETH's prices in 2021 half as high again: the cache must not answer for the old file.
    let eth = data.join("ETHUSDT_1d.csv");
    let text = read(&eth);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let head: Vec<&str> = lines[0].split(',').collect();
    let t = head.iter().position(|h| *h == "time").unwrap();
    let prices: Vec<usize> = ["open", "high", "low", "close"]
        .iter()
        .map(|p| head.iter().position(|h| h == p).unwrap())
        .collect();
    for l in lines.iter_mut().skip(1) {
        let mut cells: Vec<String> = l.split(',').map(str::to_string).collect();
        if cells[t].starts_with("2021-0") {
            for c in &prices {
                cells[*c] = format!("{}", cells[*c].parse::<f64>().unwrap() * 1.5);
            }
            *l = cells.join(",");
        }
    }
    std::fs::write(&eth, lines.join("\n") + "\n").unwrap();
    let changed_off = backtest("changed_off", "off");
    assert_ne!(changed_off, off);
    assert_eq!(backtest("changed", s(&cache)), changed_off);
}

/// The per-ticker tables are written as the replay goes, into temporary files: a run refused
/// after its replay leaves no folder behind, and an earlier run's files exactly as they were.
#[test]
fn test_a_refused_backtest_leaves_the_folder_as_it_was() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = crypto_config(dir.path(), &data, "2021-03-01", "2021-08-31");
    // Valid text, refused once the run's returns are known (no data in the window).
    let refused = "train=2015-01-01..2015-06-30,holdout=2015-07-01..2015-12-31";
    let new = dir.path().join("new");
    let r = run(&[
        "backtest",
        "--config",
        s(&cfg),
        "--split",
        refused,
        "--out",
        s(&new),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("no data in the backtest's range"),
        "{}",
        r.stderr
    );
    assert!(!new.exists(), "a refused run made its folder");

    let out = dir.path().join("out");
    let r = run(&[
        "backtest",
        "--config",
        s(&cfg),
        "--logs",
        "full",
        "--out",
        s(&out),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let files = |d: &Path| -> Vec<(String, Vec<u8>)> {
        let mut all: Vec<(String, Vec<u8>)> = walk(d)
            .into_iter()
            .map(|p| {
                let name = p.strip_prefix(d).unwrap().display().to_string();
                (name, std::fs::read(&p).unwrap())
            })
            .collect();
        all.sort();
        all
    };
    let before = files(&out);
    let names: Vec<&str> = before.iter().map(|(n, _)| n.as_str()).collect();
    for f in ["targets.csv", "snapshots.csv", "logs/desired_trades.jsonl"] {
        assert!(names.contains(&f), "{f} missing: {names:?}");
    }
    let r = run(&[
        "backtest",
        "--config",
        s(&cfg),
        "--split",
        refused,
        "--out",
        s(&out),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(files(&out), before, "a refused run changed the folder");
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
