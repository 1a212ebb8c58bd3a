//! W3 of `../shared/peers` (bt's monthly top-10 12−1 momentum on the 74 S&P names, equal
//! weight, 10 bps) as `configs/momentum_top10_sp500.toml`, the whole process as a user runs
//! it: the release binary reads the config and the prices, runs 258 rebalances over 5,402
//! union dates, and writes timeseries, targets, transactions, summary and the tear sheet.
//! `warm`: the data cache holds the parse (every run after the first); `cold`: no cache, the
//! 74 files parsed every time (`SYSTRADE_CACHE_DIR=off`).

use std::path::PathBuf;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cfg = repo.join("configs/momentum_top10_sp500.toml");
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = dir.path().join("w3");
    let run = |cache_dir: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_systrade"))
            .env("SYSTRADE_CACHE_DIR", cache_dir)
            .args(["backtest", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(&out)
            .output()
            .expect("systrade runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(text.contains("final equity 1123453.733183"), "{text}");
    };
    let warm = cache.to_str().unwrap().to_string();
    run(&warm);
    let mut g = c.benchmark_group("w3_rotation");
    g.sample_size(30);
    g.bench_function("warm", |b| b.iter(|| run(&warm)));
    g.sample_size(10);
    g.bench_function("cold", |b| b.iter(|| run("off")));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
