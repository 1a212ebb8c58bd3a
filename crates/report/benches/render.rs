//! What a report costs: the tear sheet of a 6-year daily run (five inline SVG charts), one
//! chart as PNG, and a newsletter.

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use systrade_report::chart;
use systrade_report::newsletter::{Newsletter, PositionLine, Section, TradeLine};
use systrade_report::tearsheet::{Performance, TearSheet, render};

fn perf(n: usize) -> Performance {
    let d0 = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap();
    let dates: Vec<NaiveDate> = (0..n)
        .map(|i| d0 + chrono::Duration::days(i as i64))
        .collect();
    // A deterministic wiggle: no RNG, so every run draws the same thing.
    let equity: Vec<f64> = (0..n)
        .map(|i| {
            let t = i as f64;
            1e5 * (1.0 + 0.0003 * t + 0.05 * (t / 23.0).sin() + 0.02 * (t / 3.7).cos())
        })
        .collect();
    let gross: Vec<f64> = (0..n)
        .map(|i| 0.6 + 0.3 * (i as f64 / 50.0).sin())
        .collect();
    Performance {
        benchmark: Some((
            "buy & hold".into(),
            (0..n).map(|i| 100.0 + i as f64 * 0.05).collect(),
        )),
        cash_rate: Some(("cash".into(), vec![0.0001; n])),
        exposure: Some((gross.clone(), gross)),
        turnover: Some((0..n).map(|i| if i % 7 == 0 { 0.2 } else { 0.0 }).collect()),
        periods_per_year: 365.0,
        dates,
        equity,
    }
}

fn bench(c: &mut Criterion) {
    let sheet = TearSheet {
        title: "bench".into(),
        subtitle: String::new(),
        perf: perf(2200),
        metrics: vec![("CAGR".into(), "1.00%".into())],
        tables: Vec::new(),
        notes: Vec::new(),
    };
    c.bench_function("tearsheet_2200_days_5_svg_charts", |b| {
        b.iter(|| render(&sheet).unwrap().len())
    });
    let (_, equity) = sheet.perf.charts().unwrap().remove(0);
    c.bench_function("chart_png_2200_points", |b| {
        b.iter(|| chart::png(&equity).unwrap().len())
    });
    let s = |x: &str| x.to_string();
    let letter = Newsletter {
        date: s("2024-06-28"),
        warnings: Vec::new(),
        sections: (0..5)
            .map(|k| Section {
                name: format!("book{k}"),
                kind: s("trend following"),
                as_of: s("2024-06-28"),
                facts: Vec::new(),
                trades: (0..10)
                    .map(|i| TradeLine {
                        action: s(if i % 2 == 0 { "BUY" } else { "SELL" }),
                        symbol: format!("SYM{i}"),
                        shares: s("10"),
                        price: s("100.00"),
                        notional: s("1,000.00"),
                        status: s("filled at 100.10"),
                        why: s("new position; strong uptrend (signal +0.90)"),
                    })
                    .collect(),
                watch: Vec::new(),
                avoid: Vec::new(),
                positions: (0..20)
                    .map(|i| PositionLine {
                        symbol: format!("SYM{i}"),
                        shares: s("10"),
                        avg_price: s("100.00"),
                        last: s("101.00"),
                        value: s("1,010.00"),
                        stop: s("95.00"),
                        stop_distance: s("5.94%"),
                        pnl: s("10.00"),
                        pnl_pct: s("1.00%"),
                        losing: false,
                    })
                    .collect(),
                fills: Vec::new(),
                fills_period: s("2024-06-28"),
                warnings: Vec::new(),
            })
            .collect(),
    };
    c.bench_function("newsletter_5_books_150_rows", |b| {
        b.iter(|| letter.render().unwrap().html.len())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
