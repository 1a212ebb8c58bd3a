//! Every numeric key of `../shared/fixtures/metrics/*.json` (empyrical values).

use std::collections::BTreeMap;
use std::path::PathBuf;

use systrade_testkit::shared;

use chrono::NaiveDate;

fn closes(rel: &str) -> BTreeMap<NaiveDate, f64> {
    systrade_testkit::raw_daily(rel)
        .iter()
        .map(|b| (b.ts, b.close))
        .collect()
}

fn returns(c: &BTreeMap<NaiveDate, f64>) -> (Vec<NaiveDate>, Vec<f64>) {
    let v: Vec<(&NaiveDate, &f64)> = c.iter().collect();
    v.windows(2)
        .map(|w| (*w[1].0, w[1].1 / w[0].1 - 1.0))
        .unzip()
}

#[test]
fn test_every_metrics_fixture_key_matches_empyrical() {
    let Some(dir) = shared("fixtures/metrics") else {
        return;
    };
    let bench = closes("data/us_etf_daily_yahoo/SPY.csv");
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let fx: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let symbol = fx["symbol"].as_str().unwrap().to_string();
        let c = closes(&systrade_testkit::fixture_source(&symbol));
        let (dates, r) = returns(&c);
        let p = fx["periods_per_year"].as_f64().unwrap();
        let take = r.len().min(1000);
        for (suffix, d, rr) in [
            ("", &dates[..], &r[..]),
            (
                "_last1000",
                &dates[dates.len() - take..],
                &r[r.len() - take..],
            ),
        ] {
            let s = systrade_metrics::summarize(d, rr, None, p).unwrap();
            let got = serde_json::to_value(&s).unwrap();
            assert_eq!(
                fx[format!("n_returns{suffix}")],
                got["n_returns"],
                "{symbol}{suffix}"
            );
            assert_eq!(
                fx[format!("first_return_date{suffix}")],
                got["first_return_date"],
                "{symbol}{suffix}"
            );
            for k in [
                "cagr",
                "annual_vol",
                "sharpe",
                "sortino",
                "max_drawdown",
                "calmar",
            ] {
                let want = fx[format!("{k}{suffix}")].as_f64().unwrap();
                let g = got[k].as_f64();
                checked += 1;
                if !g.is_some_and(|g| (g - want).abs() <= 1e-9 * want.abs()) {
                    failures.push(format!("{symbol} {k}{suffix}: expected {want}, got {g:?}"));
                }
            }
        }
        if let Some(want) = fx.get("beta_vs_bench").and_then(|v| v.as_f64()) {
            // Inner join of the two close series on date, then returns of the joined series.
            let joined: Vec<(f64, f64)> = c
                .iter()
                .filter_map(|(d, a)| bench.get(d).map(|b| (*a, *b)))
                .collect();
            let ra: Vec<f64> = joined.windows(2).map(|w| w[1].0 / w[0].0 - 1.0).collect();
            let rb: Vec<f64> = joined.windows(2).map(|w| w[1].1 / w[0].1 - 1.0).collect();
            assert_eq!(
                fx["n_beta_pairs"].as_u64().unwrap() as usize,
                ra.len(),
                "{symbol}"
            );
            let n = ra.len();
            for (suffix, a, b, want) in [
                ("", &ra[..], &rb[..], want),
                (
                    "_last1000",
                    &ra[n - 1000..],
                    &rb[n - 1000..],
                    fx["beta_vs_bench_last1000"].as_f64().unwrap(),
                ),
            ] {
                let g = systrade_metrics::beta(a, b).unwrap();
                checked += 1;
                if !g.is_some_and(|g| (g - want).abs() <= 1e-9 * want.abs()) {
                    failures.push(format!(
                        "{symbol} beta_vs_bench{suffix}: expected {want}, got {g:?}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(checked, 9 * 12 + 6 * 2);
}

/// The rolling Sharpe's last window of 1000 returns is empyrical's `sharpe_last1000`.
#[test]
fn test_rolling_sharpe_ends_on_empyricals_last_window() {
    let Some(dir) = shared("fixtures/metrics") else {
        return;
    };
    for sym in ["SPY", "BTCUSDT"] {
        let fx: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{sym}.json"))).unwrap(),
        )
        .unwrap();
        let (_, r) = returns(&closes(&systrade_testkit::fixture_source(sym)));
        let p = fx["periods_per_year"].as_f64().unwrap();
        let roll = systrade_metrics::rolling_sharpe(&r, 1000, p);
        assert_eq!(roll.len(), r.len());
        assert!(
            roll[998].is_none() && roll[999].is_some(),
            "{sym}: full from the 1000th"
        );
        let want = fx["sharpe_last1000"].as_f64().unwrap();
        let got = roll.last().copied().flatten().unwrap();
        assert!(
            (got - want).abs() < 1e-9 * want.abs().max(1.0),
            "{sym}: {got} vs {want}"
        );
    }
}
