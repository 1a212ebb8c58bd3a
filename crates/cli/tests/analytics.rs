//! `systrade indicators` and `systrade metrics` as a user runs them.

use std::path::Path;

use assert_cmd::Command;
use systrade_testkit::shared;

fn run(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::cargo_bin("systrade")
        .unwrap()
        .current_dir(cwd)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn test_indicators_csv_matches_talib_fixture() {
    let (Some(data), Some(fx)) = (
        shared("data/sp500_daily_alphavantage/daily"),
        shared("fixtures/indicators/AAPL.csv"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cols = "sma:20,sma:50,ema:20,ema:50,atr:14,atr:20,donchian_high:20,donchian_low:20,donchian_high:40,donchian_low:40,stdev:20,rsi:14,linreg_r2:30";
    let (code, _, err) = run(
        &[
            "indicators",
            "--data",
            data.to_str().unwrap(),
            "--symbol",
            "AAPL",
            "--ind",
            cols,
            "--adjust",
            "none",
            "--out",
            "aapl.csv",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let mut got = csv::Reader::from_path(dir.path().join("aapl.csv")).unwrap();
    let mut want = csv::Reader::from_path(fx).unwrap();
    let gh: Vec<String> = got.headers().unwrap().iter().map(String::from).collect();
    let wh: Vec<String> = want.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(gh[1..], wh[2..], "column names as in the fixture");
    let mut rows = 0;
    for (g, w) in got.records().zip(want.records()) {
        let (g, w) = (g.unwrap(), w.unwrap());
        assert_eq!(g[0], w[0]);
        for c in 1..gh.len() {
            let (gv, wv) = (&g[c], &w[c + 1]);
            assert_eq!(
                gv.is_empty(),
                wv.is_empty(),
                "{} {}: warm-up differs",
                &g[0],
                gh[c]
            );
            if !gv.is_empty() {
                let (a, b): (f64, f64) = (gv.parse().unwrap(), wv.parse().unwrap());
                let tol = if gh[c].starts_with("linreg") {
                    1e-9
                } else {
                    1e-9 * b.abs()
                };
                assert!(
                    (a - b).abs() <= tol,
                    "{} {}: expected {b}, got {a}",
                    &g[0],
                    gh[c]
                );
            }
        }
        rows += 1;
    }
    assert_eq!(rows, 5402);
}

#[test]
fn test_indicators_bad_requests_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ABC.csv"),
        "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1.5,2,1,1.8,10\n",
    )
    .unwrap();
    let (code, out, _) = run(
        &[
            "indicators",
            "--data",
            ".",
            "--symbol",
            "ABC",
            "--ind",
            "sma:2,true_range",
        ],
        dir.path(),
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "date,sma_2,true_range\n2024-01-02,,\n2024-01-03,1.65,1\n"
    );
    for (ind, msg) in [
        ("macd:3", "unknown indicator"),
        ("sma:0", "positive"),
        ("avwap:2020-01-01", "not a date in the data"),
    ] {
        let (code, _, err) = run(
            &["indicators", "--data", ".", "--symbol", "ABC", "--ind", ind],
            dir.path(),
        );
        assert_eq!(code, 2, "{ind}");
        assert!(err.contains(msg), "{ind}: {err}");
    }
    let (code, _, err) = run(
        &[
            "indicators",
            "--data",
            ".",
            "--symbol",
            "XYZ",
            "--ind",
            "sma:2",
        ],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert!(err.contains("unknown symbol XYZ"), "{err}");
}

#[test]
fn test_metrics_returns_and_equity_agree_and_undefined_ratios_are_null() {
    let dir = tempfile::tempdir().unwrap();
    let r = [0.01, -0.02, 0.015, 0.0, 0.03, -0.01];
    let mut ret = String::from("date,ret\n");
    let mut eq = String::from("date,equity\n2024-01-01,100\n");
    let mut nav: f64 = 100.0;
    for (i, x) in r.iter().enumerate() {
        nav *= 1.0 + x;
        ret.push_str(&format!("2024-01-{:02},{x}\n", i + 2));
        eq.push_str(&format!("2024-01-{:02},{nav:?}\n", i + 2));
    }
    std::fs::write(dir.path().join("r.csv"), ret).unwrap();
    std::fs::write(dir.path().join("e.csv"), eq).unwrap();
    let (c1, o1, e1) = run(
        &["metrics", "--returns", "r.csv", "--periods", "252"],
        dir.path(),
    );
    let (c2, o2, _) = run(
        &["metrics", "--equity", "e.csv", "--periods", "252"],
        dir.path(),
    );
    assert_eq!((c1, c2), (0, 0), "{e1}");
    let (a, b): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&o1).unwrap(),
        serde_json::from_str(&o2).unwrap(),
    );
    for k in [
        "cagr",
        "annual_vol",
        "sharpe",
        "sortino",
        "max_drawdown",
        "calmar",
    ] {
        let (x, y) = (a[k].as_f64().unwrap(), b[k].as_f64().unwrap());
        assert!((x - y).abs() < 1e-12 * x.abs().max(1.0), "{k}: {x} vs {y}");
    }
    assert_eq!(a["n_returns"], 6);
    assert_eq!(a["max_drawdown_trough"], "2024-01-03");

    std::fs::write(
        dir.path().join("flat.csv"),
        "date,ret\n2024-01-02,0.001\n2024-01-03,0.001\n2024-01-04,0.001\n",
    )
    .unwrap();
    let (code, out, _) = run(&["metrics", "--returns", "flat.csv"], dir.path());
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["sharpe"].is_null() && v["sortino"].is_null() && v["calmar"].is_null(),
        "{out}"
    );
    assert!(!out.contains("inf") && !out.contains("NaN"));
}

#[test]
fn test_metrics_bad_files_exit_2_with_line() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text, msg) in [
        (
            "nan.csv",
            "date,ret\n2024-01-02,0.01\n2024-01-03,NaN\n",
            "nan.csv line 3: ret: NaN value",
        ),
        (
            "dup.csv",
            "date,ret\n2024-01-02,0.01\n2024-01-02,0.02\n",
            "dup.csv line 3: duplicate date 2024-01-02",
        ),
        (
            "two.csv",
            "date,a,b\n2024-01-02,0.01,0.02\n",
            "pick one with --column",
        ),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
        let (code, _, err) = run(&["metrics", "--returns", name], dir.path());
        assert_eq!(code, 2, "{name}");
        assert!(err.contains(msg), "{name}: {err}");
    }
    std::fs::write(
        dir.path().join("neg.csv"),
        "date,nav\n2024-01-02,100\n2024-01-03,-5\n",
    )
    .unwrap();
    let (code, _, err) = run(&["metrics", "--equity", "neg.csv"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("must stay positive"), "{err}");
}
