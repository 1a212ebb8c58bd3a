//! The tear sheet's rolling 12-month Sharpe over W3's 5,401 daily returns (252-return
//! windows), four windows side by side, against one window at a time.

use criterion::{Criterion, criterion_group, criterion_main};

fn returns(n: usize) -> Vec<f64> {
    // A deterministic wiggle: every run computes the same thing.
    (0..n)
        .map(|i| 0.0004 + 0.01 * ((i as f64) / 7.3).sin() + 0.003 * ((i as f64) / 1.9).cos())
        .collect()
}

fn bench(c: &mut Criterion) {
    let r = returns(5401);
    let mut g = c.benchmark_group("rolling_sharpe");
    g.bench_function("252_over_5401", |b| {
        b.iter(|| systrade_metrics::rolling_sharpe(std::hint::black_box(&r), 252, 252.0));
    });
    g.bench_function("252_over_5401_one_window_at_a_time", |b| {
        b.iter(|| {
            let r = std::hint::black_box(&r);
            (251..r.len())
                .map(|i| systrade_metrics::sharpe(&r[i - 251..=i], None, 252.0))
                .collect::<Vec<_>>()
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
