//! Research tools on strategy configs from the command line (issue 21 §5): `sweep`,
//! `walkforward`, `--search random`, `--split` and `--stress` on the trend and momentum
//! configs over the shared real data — each point is the strategy's own backtest, windows
//! are hand-checked against the run's own returns, and bad asks are refused before anything
//! is written.

mod common;

use std::path::{Path, PathBuf};

use common::{f, read, rows, run, s};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn trend() -> PathBuf {
    repo().join("configs/trend_crypto.toml")
}

fn momentum() -> PathBuf {
    repo().join("configs/momentum_br.toml")
}

fn ok(args: &[&str]) -> String {
    let r = run(args);
    assert_eq!(r.code, 0, "{args:?}\n{}{}", r.stdout, r.stderr);
    r.stdout
}

/// A copy of the trend config with `key = value` in place of the file's line, reading the
/// shared data by absolute path.
fn trend_copy(dir: &Path, from: &str, to: &str) -> PathBuf {
    let text = read(&trend());
    assert!(text.contains(from), "{from}");
    let data = repo().join("../shared/data/crypto_binance_spot/1d");
    let text = text
        .replace(from, to)
        .replace("../../shared/data/crypto_binance_spot/1d", s(&data));
    let p = dir.join(format!("copy_{}.toml", to.replace([' ', '=', '.'], "_")));
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn test_config_sweep_points_are_the_strategy_s_own_backtests_and_rerun_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sw");
    let grid = "signal.donchian_window=20..60:40,sizing.target_vol=0.15..0.25:0.1";
    let stdout = ok(&[
        "sweep",
        "--config",
        s(&trend()),
        "--grid",
        grid,
        "--out",
        s(&out),
    ]);
    assert!(stdout.contains("4 backtests of 4 points"), "{stdout}");
    let sweep = rows(&out.join("sweep.csv"));
    assert_eq!(sweep.len(), 4);
    // A config's sweep has no symbol column; the grid keys come first, as given.
    assert!(
        read(&out.join("sweep.csv"))
            .starts_with("signal.donchian_window,sizing.target_vol,final_equity,"),
    );
    let got: Vec<(f64, f64)> = sweep
        .iter()
        .map(|r| (f(r, "signal.donchian_window"), f(r, "sizing.target_vol")))
        .collect();
    assert_eq!(
        got,
        vec![(20.0, 0.15), (20.0, 0.25), (60.0, 0.15), (60.0, 0.25)]
    );
    // Point (60, 0.25) is the config with donchian_window = 60: the standalone backtest of
    // that file ends on the same equity.
    let copy = trend_copy(dir.path(), "donchian_window = 40", "donchian_window = 60");
    let bt = dir.path().join("bt60");
    ok(&[
        "backtest",
        "--config",
        s(&copy),
        "--cost-grid",
        "none",
        "--out",
        s(&bt),
    ]);
    let summary: serde_json::Value = serde_json::from_str(&read(&bt.join("summary.json"))).unwrap();
    let standalone = summary["final_equity"].as_f64().unwrap();
    let point = f(&sweep[3], "final_equity");
    assert!(
        (point - standalone).abs() < 1e-6,
        "sweep {point} vs backtest {standalone}"
    );
    // Different points really run different strategies.
    assert_ne!(f(&sweep[0], "final_equity"), f(&sweep[2], "final_equity"));
    // Every point next to its neighbours, and a heat map.
    let sens = rows(&out.join("sensitivity.csv"));
    assert_eq!(sens.len(), 4);
    assert!(sens.iter().all(|r| r["neighbours"] == "2"), "{sens:?}");
    let svg = read(&out.join("heatmap.svg"));
    assert!(svg.starts_with("<svg") && svg.contains("signal.donchian_window"));
    // The same sweep again: byte for byte.
    let again = dir.path().join("sw2");
    ok(&[
        "sweep",
        "--config",
        s(&trend()),
        "--grid",
        grid,
        "--out",
        s(&again),
    ]);
    for file in [
        "sweep.csv",
        "sensitivity.csv",
        "marginals.csv",
        "heatmap.svg",
    ] {
        assert_eq!(read(&out.join(file)), read(&again.join(file)), "{file}");
    }
}

#[test]
fn test_random_search_draws_the_seeded_points_of_the_grid() {
    let dir = tempfile::tempdir().unwrap();
    let draw = |seed: &str, out: &str| {
        let out = dir.path().join(out);
        ok(&[
            "sweep",
            "--config",
            s(&momentum()),
            "--grid",
            "momentum.cohorts=1..6:1,momentum.skip=0|21",
            "--search",
            "random:3",
            "--seed",
            seed,
            "--out",
            s(&out),
        ]);
        rows(&out.join("sweep.csv"))
            .iter()
            .map(|r| (f(r, "momentum.cohorts"), f(r, "momentum.skip")))
            .collect::<Vec<_>>()
    };
    let a = draw("7", "a");
    assert_eq!(a.len(), 3);
    assert_eq!(a, draw("7", "b"), "the same seed draws the same points");
    assert!(
        a.iter()
            .all(|(c, k)| (1.0..=6.0).contains(c) && (*k == 0.0 || *k == 21.0))
    );
    let others: Vec<Vec<(f64, f64)>> = ["8", "9", "10"].iter().map(|s| draw(s, s)).collect();
    assert!(
        others.iter().any(|o| *o != a),
        "seeds draw different points"
    );
    // A momentum point is the momentum run with that many cohorts: more cohorts, another
    // result.
    let full = dir.path().join("full");
    ok(&[
        "sweep",
        "--config",
        s(&momentum()),
        "--grid",
        "momentum.cohorts=1|3",
        "--out",
        s(&full),
    ]);
    let r = rows(&full.join("sweep.csv"));
    assert_eq!(r.len(), 2);
    assert_ne!(r[0]["final_equity"], r[1]["final_equity"]);
    assert!(!full.join("heatmap.svg").exists(), "one key: no heat map");
}

#[test]
fn test_walkforward_on_trend_and_momentum_configs() {
    let dir = tempfile::tempdir().unwrap();
    for (cfg, grid, train, anchored) in [
        (trend(), "signal.donchian_window=20|60", "2y", false),
        (momentum(), "momentum.cohorts=1|3", "3y", true),
    ] {
        let out = dir.path().join(cfg.file_stem().unwrap());
        let mut args = vec![
            "walkforward",
            "--config",
            s(&cfg),
            "--grid",
            grid,
            "--train",
            train,
            "--test",
            "1y",
            "--out",
            s(&out),
        ];
        if anchored {
            args.push("--anchored");
        }
        let stdout = ok(&args);
        let windows = rows(&out.join("walkforward.csv"));
        assert!(windows.len() >= 2, "{stdout}");
        let key = grid.split('=').next().unwrap();
        for w in &windows {
            assert!(w["params"].starts_with(&format!("{key}=")), "{w:?}");
            assert!(w["test_from"] > w["train_to"], "{w:?}");
            if anchored {
                assert_eq!(w["train_from"], windows[0]["train_from"]);
            }
        }
        // The stitched curve is every test window's returns, in order, and nothing else.
        let oos = rows(&out.join("oos_timeseries.csv"));
        assert!(!oos.is_empty());
        for r in &oos {
            let d = r["date"].as_str();
            assert!(
                windows
                    .iter()
                    .any(|w| w["test_from"].as_str() <= d && d <= w["test_to"].as_str()),
                "{d} is in no test window"
            );
        }
        let dates: Vec<&str> = oos.iter().map(|r| r["date"].as_str()).collect();
        assert!(dates.windows(2).all(|w| w[0] < w[1]));
        assert!(read(&out.join("report.html")).contains("Walk-forward"));
    }
}

#[test]
fn test_stress_and_split_on_trend_and_momentum_match_the_run_s_own_returns() {
    let dir = tempfile::tempdir().unwrap();
    for (cfg, ret_col, skip_first, windows) in [
        (
            trend(),
            "return",
            true,
            "2020-03,2022-crypto,x=2019-06-01..2019-06-30",
        ),
        (momentum(), "ret", false, "2020-03,2022-rates"),
    ] {
        let out = dir.path().join(cfg.file_stem().unwrap());
        let stdout = ok(&[
            "backtest",
            "--config",
            s(&cfg),
            "--stress",
            windows,
            "--split",
            "a=..2019-12-31,b=2020-01-01..",
            "--cost-grid",
            "none",
            "--out",
            s(&out),
        ]);
        let series = rows(&out.join("timeseries.csv"));
        let rets: Vec<(String, f64)> = series
            .iter()
            .skip(usize::from(skip_first))
            .map(|r| (r["date"].clone(), f(r, ret_col)))
            .collect();
        let stress = rows(&out.join("stress.csv"));
        assert_eq!(stress.len(), windows.split(',').count(), "{stdout}");
        for w in &stress {
            let inside: Vec<f64> = rets
                .iter()
                .filter(|(d, _)| w["from"] <= *d && *d <= w["to"])
                .map(|x| x.1)
                .collect();
            assert_eq!(inside.len() as f64, f(w, "n_returns"), "{w:?}");
            let total = inside.iter().fold(1.0, |e, r| e * (1.0 + r)) - 1.0;
            assert!((total - f(w, "total_return")).abs() < 1e-9, "{w:?}");
            let worst = inside.iter().copied().fold(f64::INFINITY, f64::min);
            assert_eq!(worst, f(w, "worst_return"));
            assert!(f(w, "max_drawdown") <= 0.0 && f(w, "max_drawdown") >= -1.0);
        }
        // The crypto run ends in June 2022: its 2022 window is partial, and says so.
        if let Some(w) = stress.iter().find(|w| w["window"] == "2022-crypto") {
            assert_eq!(w["partial"], "true");
            assert!(stdout.contains("2022-crypto") && stdout.contains("partial"));
        }
        let splits = rows(&out.join("splits.csv"));
        let n: f64 = splits.iter().map(|r| f(r, "n_returns")).sum();
        assert_eq!(n as usize, rets.len(), "the splits partition the run");
        let html = read(&out.join("report.html"));
        assert!(html.contains("Stress windows") && html.contains(">2020-03<"));
        // A window outside the run: refused, nothing written.
        let bad = dir.path().join("bad");
        let r = run(&[
            "backtest",
            "--config",
            s(&cfg),
            "--stress",
            "2000-dotcom",
            "--out",
            s(&bad),
        ]);
        assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("outside the backtest"), "{}", r.stderr);
        assert!(!bad.exists());
    }
}

#[test]
fn test_research_refuses_bad_asks_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never");
    let cfg = trend();
    for (args, msg) in [
        (
            vec!["sweep", "--grid", "data.adjust=1|2"],
            "chooses the inputs",
        ),
        (
            vec!["sweep", "--grid", "signal.filter_mode=1|2"],
            "not a number",
        ),
        (
            vec!["sweep", "--grid", "signal.donchian_windw=20|40"],
            "unknown field `donchian_windw`",
        ),
        (
            vec!["sweep", "--grid", "signal.donchian_window=20.5|40.5"],
            "whole number",
        ),
        (
            vec![
                "sweep",
                "--grid",
                "signal.donchian_window=20|40",
                "--fees-bps",
                "5",
            ],
            "--fees-bps does not apply with --config",
        ),
        (
            vec![
                "sweep",
                "--grid",
                "signal.donchian_window=20|40",
                "--search",
                "random",
            ],
            "random:N",
        ),
        (
            vec![
                "walkforward",
                "--grid",
                "signal.donchian_window=20|40",
                "--train",
                "20y",
                "--test",
                "1y",
            ],
            "shorter than one train window",
        ),
        (
            vec!["backtest", "--stress", "1987-10"],
            "not a named window",
        ),
    ] {
        let mut a = args.clone();
        a.extend(["--config", s(&cfg), "--out", s(&out)]);
        let r = run(&a);
        assert_eq!(r.code, 2, "{a:?}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(msg), "{a:?}: {}", r.stderr);
        assert!(!out.exists(), "{a:?} wrote {}", out.display());
    }
}
