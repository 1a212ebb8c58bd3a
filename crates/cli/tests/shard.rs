//! A sweep cut into parts (issue 24): four `sweep --shard I/4` processes running at once and
//! `systrade merge` give, byte for byte, the files one process writes — for a strategy
//! config's grid and for sma-cross over symbols × parameters; a failed part re-runs alone;
//! merging refuses a missing part, a part twice and a part of another sweep.

mod common;

use std::path::Path;

use common::{run, s};
use systrade_testkit::shared;

/// Runs `systrade` with `args` plus `--shard i/n --out parts` for every i at once.
fn shards(args: &[&str], n: usize, parts: &Path) {
    let children: Vec<_> = (0..n)
        .map(|i| {
            let shard = format!("{i}/{n}");
            std::process::Command::new(assert_cmd::cargo::cargo_bin("systrade"))
                .args(args)
                .args(["--shard", &shard, "--out", s(parts)])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn test_four_config_sweep_shards_merge_into_the_single_process_files_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cfg) = common::trend_crypto_copy(dir.path()) else {
        return;
    };
    let args = [
        "sweep",
        "--config",
        s(&cfg),
        "--grid",
        "signal.donchian_window=20..60:20,sizing.target_vol=0.15..0.25:0.1",
    ];
    let one = dir.path().join("one");
    let r = run(&[&args[..], &["--out", s(&one)]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let parts = dir.path().join("parts");
    shards(&args, 4, &parts);
    let listed: Vec<String> = std::fs::read_dir(&parts)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(listed.len(), 4, "{listed:?}");
    // Part 2 fails (here: is lost) and re-runs alone.
    let lost = parts.join("part-0002-of-0004.json");
    let before = std::fs::read(&lost).unwrap();
    std::fs::remove_file(&lost).unwrap();
    let merged = dir.path().join("merged");
    let r = run(&["merge", s(&parts), "--out", s(&merged)]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stderr.contains("parts 2 of 4 are missing"),
        "{}",
        r.stderr
    );
    assert!(!merged.join("sweep.csv").exists());
    let r = run(&[&args[..], &["--shard", "2/4", "--out", s(&parts)]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read(&lost).unwrap(), before);
    let r = run(&["merge", s(&parts), "--out", s(&merged)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("merged 6 backtests"), "{}", r.stdout);
    common::same_sweep_files(&one, &merged);

    // A part of another sweep (another grid) is refused, naming it.
    let other = dir.path().join("other");
    let r = run(&[
        "sweep",
        "--config",
        s(&cfg),
        "--grid",
        "signal.donchian_window=20..40:20",
        "--shard",
        "1/4",
        "--out",
        s(&other),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&[
        "merge",
        s(&parts.join("part-0000-of-0004.json")),
        s(&other.join("part-0001-of-0004.json")),
        "--out",
        s(&merged),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("another sweep"), "{}", r.stderr);
    // The same part twice.
    let r = run(&[
        "merge",
        s(&parts),
        s(&parts.join("part-0003-of-0004.json")),
        "--out",
        s(&merged),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("given twice"), "{}", r.stderr);
    let r = run(&[&args[..], &["--shard", "4/4", "--out", s(&parts)]].concat());
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("0 <= I < N"), "{}", r.stderr);
}

#[test]
fn test_sma_cross_shards_split_symbols_and_parameters_and_merge_byte_for_byte() {
    let Some(data) = shared("data/us_etf_daily_yahoo") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "sweep",
        "--strategy",
        "sma-cross",
        "--symbols",
        "SPY,XLE,XLF",
        "--grid",
        "fast=5..20:5,slow=30..60:30",
        "--fees-bps",
        "10",
        "--data",
        s(&data),
    ];
    let one = dir.path().join("one");
    let r = run(&[&args[..], &["--out", s(&one)]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let parts = dir.path().join("parts");
    // 3 symbols × 8 points = 24 backtests in 5 parts of 4 or 5.
    shards(&args, 5, &parts);
    let merged = dir.path().join("merged");
    let r = run(&["merge", s(&parts), "--out", s(&merged)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("merged 24 backtests"), "{}", r.stdout);
    common::same_sweep_files(&one, &merged);
}

/// `walkforward --config CFG --grid GRID …` as one process and as `n` shard processes merged:
/// every file the same, byte for byte.
fn walkforward_shards_equal_one_process(
    dir: &Path,
    cfg: &Path,
    grid: &str,
    spans: &[&str],
    n: usize,
) {
    let name = cfg.file_stem().unwrap().to_string_lossy().to_string();
    let args: Vec<&str> = [
        &["walkforward", "--config", s(cfg), "--grid", grid][..],
        spans,
    ]
    .concat();
    let one = dir.join(format!("{name}-one"));
    let r = run(&[&args[..], &["--out", s(&one)]].concat());
    assert_eq!(r.code, 0, "{name}: {}", r.stderr);
    let parts = dir.join(format!("{name}-parts"));
    shards(&args, n, &parts);
    let merged = dir.join(format!("{name}-merged"));
    let r = run(&["merge", s(&parts), "--out", s(&merged)]);
    assert_eq!(r.code, 0, "{name}: {}", r.stderr);
    let mut files: Vec<String> = std::fs::read_dir(&one)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    files.sort();
    for f in [
        "walkforward.csv",
        "oos_timeseries.csv",
        "walkforward.json",
        "report.html",
    ] {
        assert!(files.contains(&f.to_string()), "{name}: {f} in {files:?}");
    }
    for f in &files {
        let (a, b) = (one.join(f), merged.join(f));
        if a.is_dir() {
            continue;
        }
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap_or_default(),
            "{name}: {f} differs"
        );
    }
    // More than one window, and the windows chose different points somewhere or the same: the
    // merge picked each window's best across the parts.
    assert!(
        common::read(&one.join("walkforward.csv")).lines().count() >= 3,
        "{name}"
    );
}

#[test]
fn test_walkforward_shards_merge_into_the_single_process_files_for_every_strategy() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Trend (rolling windows), momentum (anchored), bucket A's rotation, bucket C's feed, AVWAP.
    walkforward_shards_equal_one_process(
        dir.path(),
        &repo.join("configs/trend_crypto.toml"),
        "signal.donchian_window=20..60:20,sizing.target_vol=0.15|0.25",
        &["--train", "2y", "--test", "1y"],
        4,
    );
    walkforward_shards_equal_one_process(
        dir.path(),
        &repo.join("configs/momentum_br.toml"),
        "momentum.cohorts=1..3:1",
        &["--train", "3y", "--test", "1y", "--anchored"],
        3,
    );
    walkforward_shards_equal_one_process(
        dir.path(),
        &repo.join("configs/bucket_a.toml"),
        "rotation.top_n=2..4:1",
        &["--train", "4y", "--test", "2y"],
        5,
    );
    walkforward_shards_equal_one_process(
        dir.path(),
        &repo.join("configs/bucket_c.toml"),
        "rules.hold_days=3..7:2",
        &["--train", "45d", "--test", "30d", "--metric", "cagr"],
        2,
    );
    walkforward_shards_equal_one_process(
        dir.path(),
        &repo.join("configs/avwap_us.toml"),
        "entry.atr_stop_mult=0.5|1",
        &["--train", "4y", "--test", "3y"],
        2,
    );
}

#[test]
fn test_walkforward_parts_of_another_run_or_missing_are_refused_and_sma_cross_has_no_shards() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cfg = repo.join("configs/trend_crypto.toml");
    let base = |grid: &'static str| {
        vec![
            "walkforward",
            "--config",
            s(&cfg),
            "--grid",
            grid,
            "--train",
            "2y",
            "--test",
            "1y",
        ]
    };
    let parts = dir.path().join("parts");
    shards(&base("signal.donchian_window=20|40"), 2, &parts);
    std::fs::remove_file(parts.join("part-0001-of-0002.json")).unwrap();
    let out = dir.path().join("merged");
    let r = run(&["merge", s(&parts), "--out", s(&out)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("parts 1 of 2 are missing"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
    // The missing part re-run alone completes it; a part of another grid is refused.
    let other = dir.path().join("other");
    shards(&base("signal.donchian_window=20|60"), 2, &other);
    std::fs::copy(
        other.join("part-0001-of-0002.json"),
        parts.join("part-0001-of-0002.json"),
    )
    .unwrap();
    let r = run(&["merge", s(&parts), "--out", s(&out)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("of another walkforward"), "{}", r.stderr);
    let r = run(&[
        &base("signal.donchian_window=20|40")[..],
        &["--shard", "1/2", "--out", s(&parts)],
    ]
    .concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&["merge", s(&parts), "--out", s(&out)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(out.join("walkforward.csv").is_file());
    // sma-cross walk-forwards run in one process.
    let r = run(&[
        "walkforward",
        "--strategy",
        "sma-cross",
        "--symbol",
        "SPY",
        "--grid",
        "fast=5|10",
        "--train",
        "2y",
        "--test",
        "1y",
        "--shard",
        "0/2",
        "--out",
        s(&out),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--config"), "{}", r.stderr);
}
