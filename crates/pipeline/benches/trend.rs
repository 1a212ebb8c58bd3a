//! The trend-following backtest of `configs/trend_crypto.toml`: 25 Binance daily series,
//! 2018-01-01..2022-06-04 (1,616 decisions), data already loaded — signals, covariance,
//! sizing, gates, stops and the simulated broker. Without `../shared` a synthetic 25-name
//! crypto market of the same length stands in.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use systrade_backtest::{BacktestConfig, CostModel, run};
use systrade_core::{DailyBar, Market, Symbol};
use systrade_data::parse::Content;
use systrade_data::synth::{SynthConfig, generate};
use systrade_data::{Adjust, ParseOptions, parse_file};
use systrade_pipeline::trend::{Sleeve, TrendParams, TrendStrategy};

fn data() -> (BTreeMap<Symbol, Vec<DailyBar>>, &'static str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/crypto_binance_spot/1d");
    let mut out = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let opts = ParseOptions {
                adjust: Adjust::None,
                ..Default::default()
            };
            if let Ok(f) = parse_file(&e.path(), &opts)
                && let Content::Prices(s) = f.content
                && let Some(b) = s.bars.daily()
            {
                out.insert(s.symbol.clone(), b.to_vec());
            }
        }
    }
    if out.len() == 25 {
        return (out, "binance_25");
    }
    let series = generate(&SynthConfig {
        symbols: 25,
        days: 1800,
        market: Market::Crypto,
        start: NaiveDate::from_ymd_opt(2017, 8, 1).expect("date"),
        ..SynthConfig::default()
    })
    .expect("synth");
    (
        series.into_iter().map(|s| (s.symbol, s.bars)).collect(),
        "synth_25",
    )
}

fn params(data: &BTreeMap<Symbol, Vec<DailyBar>>) -> TrendParams {
    let mut names: Vec<Symbol> = data.keys().cloned().collect();
    let majors: Vec<Symbol> = names
        .iter()
        .filter(|s| ["BTCUSDT", "ETHUSDT"].contains(&s.as_str()))
        .cloned()
        .collect();
    let majors = if majors.len() == 2 {
        majors
    } else {
        names.drain(..2).collect()
    };
    let alts = names.into_iter().filter(|s| !majors.contains(s)).collect();
    TrendParams::with_sleeves(vec![
        Sleeve {
            name: "majors".into(),
            budget: 0.6,
            tickers: majors,
        },
        Sleeve {
            name: "alts".into(),
            budget: 0.4,
            tickers: alts,
        },
    ])
}

fn bench(c: &mut Criterion) {
    let (data, label) = data();
    let p = params(&data);
    let cfg = BacktestConfig {
        costs: CostModel {
            fee_bps: 60.0,
            ..CostModel::default()
        },
        periods_per_year: 365.0,
        start: NaiveDate::from_ymd_opt(2018, 1, 1),
        end: NaiveDate::from_ymd_opt(2022, 6, 4),
        ..BacktestConfig::default()
    };
    let mut g = c.benchmark_group("trend");
    g.sample_size(20);
    g.bench_function(format!("full_backtest/{label}"), |b| {
        b.iter(|| {
            let mut s = TrendStrategy::new(p.clone(), Market::Crypto).expect("params");
            run(&mut s, &data, &cfg).expect("run").summary.final_equity
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
