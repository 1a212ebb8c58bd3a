//! The AVWAP scan and backtest on 500 synthetic US symbols × 2,520 sessions (10 years):
//! building the panels (the causal indicators of every symbol), one day's scan of all 500,
//! and the whole backtest (a scan after every close, gates, entries, exits).

use std::collections::BTreeMap;

use criterion::{Criterion, criterion_group, criterion_main};
use systrade_avwap::backtest::{self, Inputs, Settings};
use systrade_avwap::panel::Panel;
use systrade_avwap::scan::scan_unchecked;
use systrade_avwap::{AnchorKind, AvwapParams};
use systrade_core::Market;
use systrade_core::Symbol;
use systrade_data::synth::{SynthConfig, generate};
use systrade_risk::SafetyLimits;

fn panels(n: usize, p: &AvwapParams) -> BTreeMap<Symbol, Panel> {
    let series = generate(&SynthConfig {
        symbols: n,
        days: 2_520,
        ..SynthConfig::default()
    })
    .expect("synthetic market");
    series
        .into_iter()
        .map(|s| (s.symbol.clone(), Panel::new(s.symbol, s.bars, &p.scan)))
        .collect()
}

fn bench(c: &mut Criterion) {
    let p = AvwapParams::default();
    let raw = generate(&SynthConfig {
        symbols: 500,
        days: 2_520,
        ..SynthConfig::default()
    })
    .expect("synthetic market");
    let mut g = c.benchmark_group("avwap");
    g.sample_size(10);
    g.bench_function("panels_500x10y", |b| {
        b.iter(|| {
            raw.iter()
                .map(|s| Panel::new(s.symbol.clone(), s.bars.clone(), &p.scan))
                .collect::<Vec<_>>()
        })
    });
    let all = panels(500, &p);
    let last = all
        .values()
        .filter_map(|x| x.bars.last())
        .map(|b| b.ts)
        .max()
        .expect("bars");
    g.bench_function("scan_500_one_day", |b| {
        b.iter(|| {
            scan_unchecked(&all, last, AnchorKind::SwingHigh, &p.scan)
                .rows
                .len()
        })
    });
    let safety = SafetyLimits {
        max_positions: Some(10),
        max_new_entries: Some(3),
        max_gross_pct: Some(1.0),
        ..SafetyLimits::default()
    };
    let settings = Settings::default();
    let sessions = BTreeMap::new();
    g.bench_function("backtest_500x10y", |b| {
        b.iter(|| {
            backtest::run(&Inputs {
                panels: &all,
                sessions: &sessions,
                params: &p,
                safety: &safety,
                settings: &settings,
                cal: Market::Us.calendar(),
            })
            .trades
            .len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
