//! Every column of every file in `../shared/fixtures/indicators` (TA-Lib values), past
//! warm-up, within the spec's tolerance; warm-up patterns identical.

use std::path::PathBuf;

use systrade_testkit::shared;

use systrade_core::DailyBar;
use systrade_indicators as ind;

/// The source file of a fixture symbol, read as the fixture generator did.
fn bars(symbol: &str) -> Vec<DailyBar> {
    systrade_testkit::raw_daily(&systrade_testkit::fixture_source(symbol))
}

fn compute(column: &str, b: &[DailyBar]) -> ind::Series {
    let close: Vec<f64> = b.iter().map(|x| x.close).collect();
    let high: Vec<f64> = b.iter().map(|x| x.high).collect();
    let low: Vec<f64> = b.iter().map(|x| x.low).collect();
    let (name, n) = column.rsplit_once('_').unwrap();
    let n: usize = n.parse().unwrap();
    match name {
        "sma" => ind::sma(&close, n),
        "ema" => ind::ema(&close, n),
        "atr" => ind::atr(&high, &low, &close, n),
        "donchian_high" => ind::donchian_high(&high, n),
        "donchian_low" => ind::donchian_low(&low, n),
        "stdev" => ind::stdev(&close, n),
        "rsi" => ind::rsi(&close, n),
        "linreg_r2" => ind::linreg_r2(&close, n),
        other => panic!("fixture column {other} has no indicator"),
    }
    .unwrap()
}

#[test]
fn test_every_indicator_fixture_column_matches_talib() {
    let Some(dir) = shared("fixtures/indicators") else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 9);
    let mut failures = Vec::new();
    let mut checked = 0usize;
    for f in files {
        let symbol = f.file_stem().unwrap().to_str().unwrap().to_string();
        let b = bars(&symbol);
        let mut rdr = csv::Reader::from_path(&f).unwrap();
        let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
        let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), b.len(), "{symbol}: row count");
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r[0], b[i].ts.to_string(), "{symbol}: dates align");
            assert_eq!(
                r[1].parse::<f64>().unwrap().to_bits(),
                b[i].close.to_bits(),
                "{symbol} {}: close",
                &r[0]
            );
        }
        for (c, column) in header.iter().enumerate().skip(2) {
            let got = compute(column, &b);
            for (i, r) in rows.iter().enumerate() {
                let want: Option<f64> = if r[c].is_empty() {
                    None
                } else {
                    Some(r[c].parse().unwrap())
                };
                let ok = match (want, got.get(i)) {
                    (None, None) => true,
                    (Some(w), Some(g)) if column.starts_with("linreg_r2") => (w - g).abs() <= 1e-9,
                    (Some(w), Some(g)) => (w - g).abs() <= 1e-9 * w.abs().max(1e-300) || w == g,
                    _ => false,
                };
                checked += 1;
                if !ok {
                    failures.push(format!(
                        "{symbol} {} {column}: expected {want:?}, got {:?}",
                        &r[0],
                        got.get(i)
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} values differ; first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(15)]
    );
    assert!(checked > 400_000, "{checked}");
}
