//! The momentum-cohorts backtest of `configs/momentum_br.toml` (LS, 3 cohorts, beta overlay):
//! 42 B3 names, 2016-03..2025-10 (116 formations, ~2,400 days), inputs already loaded and
//! aligned. Without `../shared` a synthetic 42-name B3 market stands in.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use systrade_core::{DailyBar, Market, Symbol};
use systrade_data::parse::Content;
use systrade_data::synth::{SynthConfig, generate};
use systrade_data::{Adjust, ParseOptions, parse_file};
use systrade_pipeline::momentum::{Inputs, MomentumParams, Panel, run};

fn data() -> (BTreeMap<Symbol, Vec<DailyBar>>, &'static str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/br_b3_daily_yahoo/daily");
    let mut out = BTreeMap::new();
    let opts = ParseOptions {
        adjust: Adjust::None,
        market: Some(Market::B3),
        ..Default::default()
    };
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            if let Ok(f) = parse_file(&e.path(), &opts)
                && let Content::Prices(s) = f.content
                && let Some(b) = s.bars.daily()
            {
                out.insert(s.symbol.clone(), b.to_vec());
            }
        }
    }
    if out.len() == 42 {
        return (out, "b3_42");
    }
    let series = generate(&SynthConfig {
        symbols: 42,
        days: 2700,
        market: Market::B3,
        start: NaiveDate::from_ymd_opt(2015, 1, 2).expect("date"),
        ..SynthConfig::default()
    })
    .expect("synth");
    (
        series.into_iter().map(|s| (s.symbol, s.bars)).collect(),
        "synth_42",
    )
}

fn bench(c: &mut Criterion) {
    let (data, label) = data();
    let sectors: BTreeMap<Symbol, String> =
        data.keys().map(|s| (s.clone(), "unknown".into())).collect();
    let panel = Panel::new(&data, &sectors);
    let cdi = vec![0.0004; panel.len()];
    let bench = panel.equal_weight_returns();
    let p = MomentumParams {
        beta_overlay: true,
        ..MomentumParams::default()
    };
    let inputs = Inputs {
        panel: &panel,
        cdi: &cdi,
        bench: &bench,
        bench_name: "ew".into(),
        calendar: Market::B3.calendar(),
        start: None,
        end: None,
        warnings: Vec::new(),
        limits: Default::default(),
    };
    let mut g = c.benchmark_group("momentum");
    g.sample_size(20);
    g.bench_function(format!("ls_3_cohorts_overlay/{label}"), |b| {
        b.iter(|| run(&inputs, &p).expect("run").summary.cagr)
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
