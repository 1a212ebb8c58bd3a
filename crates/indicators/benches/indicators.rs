//! W4 of `../shared/peers`: SMA(20), EMA(20), ATR(14), RSI(14) over every bar of the 74 S&P
//! files (raw high/low/close, each symbol on its own rows), arrays built before timing, one
//! thread. Without `../shared` a synthetic 74 × 5,402 market stands in.

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use systrade_data::folder::{data_files, parse_all};
use systrade_data::parse::Content;
use systrade_data::synth::{SynthConfig, generate};
use systrade_data::{Adjust, ParseOptions};
use systrade_indicators as ind;

struct Columns {
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
}

fn load() -> (Vec<Columns>, &'static str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/sp500_daily_alphavantage/daily");
    let bars: Vec<Vec<systrade_core::DailyBar>> = if dir.exists() {
        let opts = ParseOptions {
            adjust: Adjust::None,
            on_bad_row: systrade_data::BadRowPolicy::Flag,
            ..Default::default()
        };
        let files = data_files(&dir).expect("files");
        // W4 uses every raw row, flagged placeholders included.
        parse_all(&files, &opts, &|_| {})
            .expect("parse")
            .into_iter()
            .map(|f| match f.content {
                Content::Prices(p) => {
                    let mut all: Vec<systrade_core::DailyBar> =
                        p.bars.daily().expect("daily").to_vec();
                    for r in &p.flagged {
                        let d = chrono::NaiveDate::parse_from_str(&r.ts, "%Y-%m-%d").expect("date");
                        all.push(systrade_core::Bar::new(d, r.values));
                    }
                    all.sort_by_key(|b| b.ts);
                    all
                }
                _ => panic!("not prices"),
            })
            .collect()
    } else {
        generate(&SynthConfig {
            symbols: 74,
            days: 5402,
            ..SynthConfig::default()
        })
        .expect("synth")
        .into_iter()
        .map(|s| s.bars)
        .collect()
    };
    let name = if dir.exists() {
        "sp500"
    } else {
        "synth_74x5402"
    };
    let cols = bars
        .iter()
        .map(|b| Columns {
            high: b.iter().map(|x| x.high).collect(),
            low: b.iter().map(|x| x.low).collect(),
            close: b.iter().map(|x| x.close).collect(),
        })
        .collect();
    (cols, name)
}

/// Per symbol the four outputs, as TA-Lib's W4 returns a list of tuples.
fn w4(data: &[Columns]) -> Vec<[ind::Series; 4]> {
    data.iter()
        .map(|c| {
            [
                ind::sma(&c.close, 20).expect("sma"),
                ind::ema(&c.close, 20).expect("ema"),
                ind::atr(&c.high, &c.low, &c.close, 14).expect("atr"),
                ind::rsi(&c.close, 14).expect("rsi"),
            ]
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let (data, name) = load();
    let bars: u64 = data.iter().map(|c| c.close.len() as u64).sum();
    // The W4 checksum: per indicator, the sum of all defined outputs and their count.
    let all = w4(&data);
    for (k, label) in ["SMA20", "EMA20", "ATR14", "RSI14"].iter().enumerate() {
        let defined: Vec<f64> = all.iter().flat_map(|s| s[k].iter().flatten()).collect();
        eprintln!(
            "checksum {label}: sum {:.4} count {} ({bars} bars, {name})",
            defined.iter().sum::<f64>(),
            defined.len()
        );
    }
    let mut g = c.benchmark_group("w4");
    g.throughput(Throughput::Elements(bars));
    g.bench_function(format!("{name}/sma20_ema20_atr14_rsi14"), |b| {
        b.iter(|| w4(&data))
    });
    g.bench_function(format!("{name}/sma20"), |b| {
        b.iter(|| {
            data.iter()
                .map(|c| ind::sma(&c.close, 20).expect("sma"))
                .collect::<Vec<_>>()
        })
    });
    g.bench_function(format!("{name}/ema20"), |b| {
        b.iter(|| {
            data.iter()
                .map(|c| ind::ema(&c.close, 20).expect("ema"))
                .collect::<Vec<_>>()
        })
    });
    g.bench_function(format!("{name}/atr14"), |b| {
        b.iter(|| {
            data.iter()
                .map(|c| ind::atr(&c.high, &c.low, &c.close, 14).expect("atr"))
                .collect::<Vec<_>>()
        })
    });
    g.bench_function(format!("{name}/rsi14"), |b| {
        b.iter(|| {
            data.iter()
                .map(|c| ind::rsi(&c.close, 14).expect("rsi"))
                .collect::<Vec<_>>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
