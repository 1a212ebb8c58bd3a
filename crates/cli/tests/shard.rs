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
