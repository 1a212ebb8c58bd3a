//! Fetch + validate + store of 500 symbols × 10 years of daily bars from a local vendor
//! (`systrade_venues::market`, Alpaca's multi-symbol bars and Yahoo's one-symbol charts),
//! and the daily top-up of those 500 the next session. The requests each makes are
//! printed once (they do not vary).

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use systrade_core::Market;
use systrade_data::ParseOptions;
use systrade_fetch::http::{DataClient, Rules};
use systrade_fetch::{DbStore, Plan, Vendor};

const SYMBOLS: usize = 500;
const DAYS: usize = 2_520;

fn rules(name: &'static str) -> Rules {
    Rules::new(name, 1_000_000, Duration::from_secs(1))
}

fn vendor(kind: &str, url: &str) -> Box<dyn Vendor> {
    match kind {
        "alpaca" => Box::new(
            systrade_fetch::alpaca::Alpaca::new(DataClient::new(url, rules("alpaca")))
                .with_keys("bench", "bench-secret"),
        ),
        _ => Box::new(systrade_fetch::yahoo::Yahoo::new(DataClient::new(
            url,
            rules("yahoo"),
        ))),
    }
}

/// Fetches every symbol through `end` into `db`; the requests it took.
fn fetch(
    kind: &str,
    url: &str,
    db: &Path,
    symbols: &[(String, Option<Market>)],
    end: NaiveDate,
) -> u64 {
    let mut v = vendor(kind, url);
    let mut store = DbStore::open(db).unwrap();
    let plan = Plan {
        start: Some("2000-01-01".parse().unwrap()),
        end: Some(end),
        ..Plan::default()
    };
    let r = systrade_fetch::fetch(
        v.as_mut(),
        &mut store,
        symbols,
        &plan,
        &ParseOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(r.symbols.len(), symbols.len());
    r.requests
}

fn post(url: &str, path: &str, body: &str) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let r = agent
        .post(format!("{url}{path}"))
        .send(body.as_bytes())
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = systrade_data::synth::SynthConfig {
        symbols: SYMBOLS,
        days: DAYS + 1,
        seed: 7,
        start: "2014-01-02".parse().unwrap(),
        market: Market::Us,
    };
    let series = systrade_data::synth::generate(&cfg).unwrap();
    let data = dir.path().join("data");
    systrade_data::synth::write_folder(&series, &data).unwrap();
    let dates: Vec<NaiveDate> = series[0].bars.iter().map(|b| b.ts).collect();
    let (before_last, last) = (dates[dates.len() - 2], dates[dates.len() - 1]);
    let symbols: Vec<(String, Option<Market>)> = series
        .iter()
        .map(|s| (s.symbol.to_string(), Some(Market::Us)))
        .collect();
    // The vendor's clock: after the close of the day before the last one.
    let evening = |d: NaiveDate| -> DateTime<Utc> { d.and_hms_opt(22, 0, 0).unwrap().and_utc() };
    let mut o = systrade_venues::market::Options::new(data.clone());
    o.now = Some(evening(before_last));
    let running = systrade_venues::serve(systrade_venues::market::app(&o).unwrap()).unwrap();
    let url = running.url();

    let mut g = c.benchmark_group("fetch");
    g.sample_size(10).measurement_time(Duration::from_secs(60));
    for kind in ["alpaca", "yahoo"] {
        let base = dir.path().join(format!("{kind}.db"));
        let n = fetch(kind, &url, &base, &symbols, before_last);
        eprintln!(
            "{kind}: {SYMBOLS} symbols × {} sessions: {n} requests",
            dates.len() - 1
        );
        g.bench_function(format!("{kind}/{SYMBOLS}x10y_fresh"), |b| {
            b.iter_batched(
                || {
                    let p = dir.path().join(format!("{kind}-fresh.db"));
                    let _ = std::fs::remove_file(&p);
                    p
                },
                |p| fetch(kind, &url, &p, &symbols, before_last),
                BatchSize::PerIteration,
            )
        });
        // The next session's top-up: one new bar each (and the overlap compared).
        post(
            &url,
            "/fake/clock",
            &format!("{{\"now\": \"{}\"}}", evening(last).to_rfc3339()),
        );
        let up = dir.path().join(format!("{kind}-up.db"));
        std::fs::copy(&base, &up).unwrap();
        let n = fetch(kind, &url, &up, &symbols, last);
        eprintln!("{kind}: daily top-up of {SYMBOLS} symbols: {n} requests");
        g.bench_function(format!("{kind}/{SYMBOLS}_daily_top_up"), |b| {
            b.iter_batched(
                || {
                    std::fs::copy(&base, &up).unwrap();
                    up.clone()
                },
                |p| fetch(kind, &url, &p, &symbols, last),
                BatchSize::PerIteration,
            )
        });
        post(
            &url,
            "/fake/clock",
            &format!("{{\"now\": \"{}\"}}", evening(before_last).to_rfc3339()),
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
