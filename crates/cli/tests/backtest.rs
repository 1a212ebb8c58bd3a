//! `systrade backtest` as a user runs it.

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
fn test_w1_spy_through_the_cli_and_byte_identical_rerun() {
    let Some(data) = shared("data/us_etf_daily_yahoo") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = data.to_str().unwrap();
    for out in ["a", "b"] {
        let (code, stdout, err) = run(
            &[
                "backtest",
                "--strategy",
                "sma-cross",
                "--symbol",
                "SPY",
                "--fast",
                "10",
                "--slow",
                "30",
                "--fees-bps",
                "10",
                "--data",
                d,
                "--out",
                out,
            ],
            dir.path(),
        );
        assert_eq!(code, 0, "{err}");
        assert!(
            stdout.contains("final equity 302307.16 (139 trades + 0 open"),
            "{stdout}"
        );
    }
    for f in [
        "timeseries.csv",
        "trades.csv",
        "orders.csv",
        "fills.csv",
        "decisions.jsonl",
        "summary.json",
    ] {
        let (a, b) = (
            std::fs::read(dir.path().join("a").join(f)).unwrap(),
            std::fs::read(dir.path().join("b").join(f)).unwrap(),
        );
        assert_eq!(a, b, "{f}");
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("a/summary.json")).unwrap()).unwrap();
    assert!((summary["final_equity"].as_f64().unwrap() - 302_307.158_877).abs() < 1e-3);
    assert_eq!(summary["n_trades"], 139);
}

#[test]
fn test_backtest_bad_requests_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(
        &[
            "data",
            "synth",
            "--symbols",
            "1",
            "--days",
            "200",
            "--out",
            "syn",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let base = [
        "backtest",
        "--strategy",
        "sma-cross",
        "--data",
        "syn",
        "--out",
        "o",
    ];
    let cases: [(&[&str], &str); 6] = [
        (
            &["--start", "2016-01-01", "--end", "2015-06-01"],
            "is after --end",
        ),
        (&["--start", "2030-01-01"], "no bars between"),
        (
            &["--fast", "30", "--slow", "10"],
            "must be shorter than slow",
        ),
        (&["--size", "lots"], "--size must be"),
        (&["--fees-bps=-5"], "fee_bps must be a non-negative"),
        (&["--symbol", "NOPE"], "unknown symbol NOPE"),
    ];
    for (extra, msg) in cases {
        let mut args: Vec<&str> = base.to_vec();
        if !extra.contains(&"--symbol") {
            args.extend_from_slice(&["--symbol", "TEC01"]);
        }
        args.extend_from_slice(extra);
        let (code, _, err) = run(&args, dir.path());
        assert_eq!(code, 2, "{extra:?}: {err}");
        assert!(err.contains(msg), "{extra:?}: {err}");
        assert!(!dir.path().join("o").exists(), "{extra:?}: nothing written");
    }
    let (code, _, err) = run(
        &[
            "backtest",
            "--strategy",
            "momentum",
            "--symbol",
            "X",
            "--data",
            "syn",
            "--out",
            "o",
        ],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert!(err.contains("invalid value 'momentum'"), "{err}");
}

#[test]
fn test_sweep_writes_rows_and_sensitivity_and_refuses_bad_grids() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(
        &[
            "data",
            "synth",
            "--symbols",
            "3",
            "--days",
            "300",
            "--out",
            "syn",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(
        &[
            "sweep",
            "--strategy",
            "sma-cross",
            "--symbols",
            "all",
            "--grid",
            "fast=5..15:5,slow=20|40",
            "--fees-bps",
            "10",
            "--data",
            "syn",
            "--out",
            "sw",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("18 backtests (3 symbols × 6 combinations)"),
        "{out}"
    );
    let sweep = std::fs::read_to_string(dir.path().join("sw/sweep.csv")).unwrap();
    assert_eq!(sweep.lines().count(), 19);
    assert!(sweep.starts_with("symbol,fast,slow,final_equity"));
    let marg = std::fs::read_to_string(dir.path().join("sw/marginals.csv")).unwrap();
    assert_eq!(marg.lines().count(), 1 + 3 + 2, "{marg}");
    // One row per backtest, each next to its neighbours on the grid (a corner has two).
    let sens = std::fs::read_to_string(dir.path().join("sw/sensitivity.csv")).unwrap();
    assert_eq!(sens.lines().count(), 19, "{sens}");
    let corner = sens.lines().nth(1).unwrap();
    assert!(corner.contains(",5,20,sharpe,"), "{corner}");
    assert_eq!(corner.split(',').nth(5), Some("2"), "{corner}");
    assert!(dir.path().join("sw/heatmap.svg").exists());
    // The same sweep twice is byte-identical whatever the thread scheduling.
    let (code, _, _) = run(
        &[
            "sweep",
            "--strategy",
            "sma-cross",
            "--symbols",
            "all",
            "--grid",
            "fast=5..15:5,slow=20|40",
            "--fees-bps",
            "10",
            "--data",
            "syn",
            "--out",
            "sw2",
        ],
        dir.path(),
    );
    assert_eq!(code, 0);
    assert_eq!(
        sweep,
        std::fs::read_to_string(dir.path().join("sw2/sweep.csv")).unwrap()
    );
    for (grid, msg) in [
        ("fast=50,slow=20", "no valid combination"),
        ("fast=5|10,depth=3", "no parameter \"depth\""),
        ("fast=5..1:1", "FROM ≤ TO"),
    ] {
        let (code, _, err) = run(
            &[
                "sweep",
                "--strategy",
                "sma-cross",
                "--symbols",
                "all",
                "--grid",
                grid,
                "--data",
                "syn",
                "--out",
                "bad",
            ],
            dir.path(),
        );
        assert_eq!(code, 2, "{grid}: {err}");
        assert!(err.contains(msg), "{grid}: {err}");
        assert!(!dir.path().join("bad").exists());
    }
    let (code, _, err) = run(
        &[
            "sweep",
            "--strategy",
            "sma-cross",
            "--symbols",
            "all",
            "--grid",
            "fast=5,slow=20",
            "--metric",
            "alpha",
            "--data",
            "syn",
            "--out",
            "bad",
        ],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert!(err.contains("--metric must be one of"), "{err}");
}

#[test]
fn test_walkforward_windows_outputs_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(
        &[
            "data",
            "synth",
            "--symbols",
            "1",
            "--days",
            "1500",
            "--out",
            "syn",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let base = [
        "walkforward",
        "--strategy",
        "sma-cross",
        "--symbol",
        "TEC01",
        "--grid",
        "fast=5|10,slow=20|40",
        "--data",
        "syn",
    ];
    let mut args = base.to_vec();
    args.extend_from_slice(&["--train", "2y", "--test", "1y", "--out", "wf"]);
    let (code, out, err) = run(&args, dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("windows: mean sharpe in sample"), "{out}");
    let csv = std::fs::read_to_string(dir.path().join("wf/walkforward.csv")).unwrap();
    let n = csv.lines().count() - 1;
    assert!(
        (3..=4).contains(&n),
        "≈6 years of bars, 2y train + 1y test steps: {csv}"
    );
    // Test windows follow each other without gaps or overlap.
    let rows: Vec<Vec<String>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    for w in rows.windows(2) {
        let prev_to = chrono::NaiveDate::parse_from_str(&w[0][4], "%Y-%m-%d").unwrap();
        let next_from = chrono::NaiveDate::parse_from_str(&w[1][3], "%Y-%m-%d").unwrap();
        assert_eq!(prev_to.succ_opt().unwrap(), next_from);
    }
    let oos = std::fs::read_to_string(dir.path().join("wf/oos_timeseries.csv")).unwrap();
    assert!(oos.lines().count() > 200);
    let mut args = base.to_vec();
    args.extend_from_slice(&[
        "--train",
        "2y",
        "--test",
        "1y",
        "--anchored",
        "--out",
        "wfa",
    ]);
    let (code, _, err) = run(&args, dir.path());
    assert_eq!(code, 0, "{err}");
    let anchored = std::fs::read_to_string(dir.path().join("wfa/walkforward.csv")).unwrap();
    assert!(
        anchored
            .lines()
            .skip(1)
            .all(|l| l.split(',').nth(1) == Some("2015-01-02")),
        "anchored train windows start at the first date: {anchored}"
    );
    for (train, test, msg) in [
        ("20y", "1y", "shorter than one train window"),
        ("2w", "1y", "unit must be y, m or d"),
    ] {
        let mut args = base.to_vec();
        args.extend_from_slice(&["--train", train, "--test", test, "--out", "bad"]);
        let (code, _, err) = run(&args, dir.path());
        assert_eq!(code, 2, "{train}: {err}");
        assert!(err.contains(msg), "{train}: {err}");
        assert!(!dir.path().join("bad").exists());
    }
}
