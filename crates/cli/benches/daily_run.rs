//! One `systrade run` with 100 symbols, end to end as cron runs it: the release binary reads
//! 100 synthetic daily series (1,500 sessions each), decides on the full history, opens the
//! ledger and the paper account, submits, trails stops, reconciles and writes the day's
//! artifacts. Each sample starts from a fresh home whose account already ran the day before,
//! so the day trades, moves stops and reconciles positions. The momentum run does the same
//! with a long/short cohort book (3 cohorts, beta overlay) on the same 100 series: it replays
//! the monthly backtest through the previous close and trades a formation day.

use std::path::{Path, PathBuf};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

mod common;
use common::{copy_dir, sys};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = |x: &Path| x.to_str().unwrap().to_string();
    sys(&[
        "data",
        "synth",
        "--symbols",
        "100",
        "--days",
        "1500",
        "--seed",
        "7",
        "--out",
        &p(&data),
    ]);
    let mut names: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".csv") && n != "sectors.csv")
        .map(|n| n.trim_end_matches(".csv").to_string())
        .collect();
    names.sort();
    assert_eq!(names.len(), 100);
    let list = |v: &[String]| {
        v.iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let cfg: PathBuf = dir.path().join("trend100.toml");
    std::fs::write(
        &cfg,
        format!(
            "strategy = \"trend\"\n[data]\nsource = {:?}\nadjust = \"none\"\nmarket = \"us\"\n\
             [sleeves.a]\nbudget = 0.5\ntickers = [{}]\n[sleeves.b]\nbudget = 0.5\ntickers = [{}]\n\
             [sizing]\ntarget_vol = 0.12\nannualization = 252.0\n[orders]\nqty_decimals = 0\n",
            p(&data),
            list(&names[..50]),
            list(&names[50..])
        ),
    )
    .unwrap();
    let sessions: Vec<String> = std::fs::read_to_string(data.join(format!("{}.csv", names[0])))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    let (prev, day) = (&sessions[sessions.len() - 3], &sessions[sessions.len() - 2]);
    let warm = dir.path().join("warm");
    sys(&[
        "--home",
        &p(&warm),
        "run",
        "--config",
        &p(&cfg),
        "--as-of",
        prev,
    ]);
    // Momentum on the same market: a flat CDI and the synthetic sector map.
    let cdi = dir.path().join("cdi.csv");
    let daily = (1.04f64.powf(1.0 / 252.0) - 1.0) * 100.0;
    let mut text = String::from("Date,cdi\n");
    for d in &sessions {
        text.push_str(&format!("{d},{daily:.6}\n"));
    }
    std::fs::write(&cdi, text).unwrap();
    let mcfg: PathBuf = dir.path().join("momentum100.toml");
    std::fs::write(
        &mcfg,
        format!(
            "strategy = \"momentum\"\n[data]\nsource = {:?}\ncdi = {:?}\ncdi_unit = \"pct_per_day\"\n\
             sectors = {:?}\nadjust = \"none\"\nmarket = \"us\"\n[momentum]\nbook = \"ls\"\n\
             cohorts = 3\nbeta_overlay = true\n",
            p(&data),
            p(&cdi),
            p(&data.join("sectors.csv"))
        ),
    )
    .unwrap();
    // The last month-end in the data: the next session trades a formation.
    let month_end = (1..sessions.len() - 1)
        .rev()
        .find(|&i| sessions[i][..7] != sessions[i + 1][..7])
        .unwrap();
    let (mprev, mday) = (&sessions[month_end], &sessions[month_end + 1]);
    let mwarm = dir.path().join("mwarm");
    sys(&[
        "--home",
        &p(&mwarm),
        "run",
        "--config",
        &p(&mcfg),
        "--as-of",
        mprev,
    ]);
    let mut g = c.benchmark_group("daily_run");
    g.sample_size(10);
    let mut k = 0;
    for (name, warm, cfg, day) in [
        ("trend_100_symbols_1500_sessions", &warm, &cfg, day),
        (
            "momentum_ls_100_symbols_1500_sessions_formation_day",
            &mwarm,
            &mcfg,
            mday,
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    k += 1;
                    let home = dir.path().join(format!("home-{k}"));
                    copy_dir(warm, &home);
                    home
                },
                |home| {
                    sys(&[
                        "--home",
                        &p(&home),
                        "run",
                        "--config",
                        &p(cfg),
                        "--as-of",
                        day,
                    ])
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
