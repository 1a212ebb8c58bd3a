//! One `systrade run --broker alpaca` of 25 symbols against the local Alpaca, end to end: the
//! release binary reads 25 synthetic daily series (1,500 sessions), connects (account,
//! clock), reconciles with the venue, decides, submits over HTTP, trails the stops
//! (replacing them at the venue), reconciles again and writes the day. Each sample starts
//! from a fresh copy of a home and a venue account that traded the session before. The
//! venue's request count for one run is printed once.

use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

mod common;
use common::copy_dir;
use systrade_venues::alpaca;

const KEY: &str = "bench-key-id";
const SECRET: &str = "bench-secret-value";

fn sys(args: &[&str], url: Option<&str>) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_systrade"));
    c.args(args).env_remove("SYSTRADE_HOME");
    if let Some(u) = url {
        c.env("APCA_API_KEY_ID", KEY)
            .env("APCA_API_SECRET_KEY", SECRET)
            .env("APCA_API_BASE_URL", u);
    }
    let out = c.output().expect("systrade runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A venue on `state` at `session`, serving on a background thread.
fn venue(data: &Path, state: &Path, session: &str) -> String {
    let mut o = alpaca::Options::new(data.to_path_buf(), state.to_path_buf(), KEY, SECRET);
    o.engine.session = Some(session.parse().unwrap());
    o.engine.adjust = systrade_data::Adjust::None;
    systrade_venues::serve(alpaca::app(&o).unwrap())
        .unwrap()
        .url()
}

fn calls(url: &str) -> u64 {
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let text = agent
        .get(format!("{url}/fake/stats"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["calls"]
        .as_u64()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = |x: &Path| x.to_str().unwrap().to_string();
    sys(
        &[
            "data",
            "synth",
            "--symbols",
            "25",
            "--days",
            "1500",
            "--seed",
            "7",
            "--out",
            &p(&data),
        ],
        None,
    );
    let mut names: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".csv") && n != "sectors.csv")
        .map(|n| n.trim_end_matches(".csv").to_string())
        .collect();
    names.sort();
    assert_eq!(names.len(), 25);
    let list = |v: &[String]| {
        v.iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let cfg: PathBuf = dir.path().join("trend25.toml");
    std::fs::write(
        &cfg,
        format!(
            "strategy = \"trend\"\n[data]\nsource = {:?}\nadjust = \"none\"\nmarket = \"us\"\n\
             [sleeves.a]\nbudget = 0.5\ntickers = [{}]\n[sleeves.b]\nbudget = 0.5\ntickers = [{}]\n\
             [sizing]\ntarget_vol = 0.12\nannualization = 252.0\n[orders]\nqty_decimals = 0\n\
             [run]\nbroker = \"alpaca\"\naccount = \"bench\"\n",
            p(&data),
            list(&names[..12]),
            list(&names[12..])
        ),
    )
    .unwrap();
    let sessions: Vec<String> = std::fs::read_to_string(data.join(format!("{}.csv", names[0])))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    let (prev2, prev, day) = (
        &sessions[sessions.len() - 4],
        &sessions[sessions.len() - 3],
        &sessions[sessions.len() - 2],
    );
    // Two sessions before: entries go out, fill at the next open, get their stops.
    let warm = dir.path().join("warm");
    let warm_state = dir.path().join("warm.sqlite");
    let url = venue(&data, &warm_state, prev2);
    let run = |home: &Path, d: &str, url: &str| {
        sys(
            &[
                "--home",
                &p(home),
                "run",
                "--config",
                &p(&cfg),
                "--as-of",
                d,
            ],
            Some(url),
        )
    };
    let _ = run(&warm, prev2, &url);
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let clock = |url: &str, d: &str| {
        agent
            .post(format!("{url}/fake/clock"))
            .send(format!("{{\"session\":\"{d}\"}}").as_bytes())
            .unwrap();
    };
    clock(&url, prev);
    let _ = run(&warm, prev, &url);
    let mut n = 0u32;
    let printed = std::cell::Cell::new(false);
    c.bench_function("venue_run/alpaca/trend_25_symbols_1500_sessions", |b| {
        b.iter_batched(
            || {
                n += 1;
                let home = dir.path().join(format!("home{n}"));
                copy_dir(&warm, &home);
                let state = dir.path().join(format!("state{n}.sqlite"));
                std::fs::copy(&warm_state, &state).unwrap();
                let url = venue(&data, &state, day);
                (home, url)
            },
            |(home, url)| {
                let before = calls(&url);
                let said = run(&home, day, &url);
                if !printed.replace(true) {
                    eprintln!(
                        "HTTP requests of one run: {} ({})",
                        calls(&url) - before - 1,
                        said.lines().next().unwrap_or_default()
                    );
                }
            },
            BatchSize::PerIteration,
        )
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
