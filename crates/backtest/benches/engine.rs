//! W1 of `../shared/peers`: sma-cross SMA(10/30) on SPY (8,042 bars), next-open fills, all
//! cash in, 10 bps — the whole backtest in process, data already loaded. Without `../shared`
//! a synthetic 8,042-bar series stands in.

use std::collections::BTreeMap;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use systrade_backtest::{BacktestConfig, CostModel, FillAt, run};
use systrade_core::{DailyBar, Symbol};
use systrade_data::parse::Content;
use systrade_data::synth::{SynthConfig, generate};
use systrade_data::{Adjust, ParseOptions, parse_file};
use systrade_strategy::{SmaCross, SmaCrossParams};

fn spy() -> (Symbol, Vec<DailyBar>, &'static str) {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/us_etf_daily_yahoo/SPY.csv");
    if let Ok(f) = parse_file(
        &p,
        &ParseOptions {
            adjust: Adjust::None,
            ..Default::default()
        },
    ) && let Content::Prices(s) = f.content
        && let Some(b) = s.bars.daily()
    {
        return (s.symbol.clone(), b.to_vec(), "spy");
    }
    let s = generate(&SynthConfig {
        symbols: 1,
        days: 8042,
        ..SynthConfig::default()
    })
    .expect("synth")
    .remove(0);
    (s.symbol, s.bars, "synth_8042")
}

fn bench(c: &mut Criterion) {
    let (sym, bars, name) = spy();
    let n = bars.len() as u64;
    let data: BTreeMap<Symbol, Vec<DailyBar>> = [(sym.clone(), bars)].into();
    let cfg = BacktestConfig {
        fill: FillAt::NextOpen,
        costs: CostModel {
            fee_bps: 10.0,
            ..CostModel::default()
        },
        ..BacktestConfig::default()
    };
    let once = run(
        &mut SmaCross::new(SmaCrossParams {
            symbol: sym.clone(),
            fast: 10,
            slow: 30,
            size: None,
        })
        .expect("params"),
        &data,
        &cfg,
    )
    .expect("run");
    eprintln!(
        "W1 checksum: final_equity {:.6}, entries {}",
        once.summary.final_equity,
        once.trades.len()
    );
    let mut g = c.benchmark_group("w1");
    g.throughput(Throughput::Elements(n));
    g.bench_function(format!("{name}/sma_cross_10_30"), |b| {
        b.iter(|| {
            let mut s = SmaCross::new(SmaCrossParams {
                symbol: sym.clone(),
                fast: 10,
                slow: 30,
                size: None,
            })
            .expect("params");
            run(&mut s, &data, &cfg).expect("run")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
