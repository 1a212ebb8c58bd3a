//! `../shared/fixtures/portfolio/sector_etfs_2019.json`: PyPortfolioOpt min-variance,
//! riskfolio ERC, inverse-vol and the annualised log-return covariance.

use std::collections::BTreeMap;
use systrade_testkit::shared;

use chrono::NaiveDate;
use systrade_portfolio as pf;

#[test]
fn test_sector_etfs_2019_fixture() {
    let Some(fx_path) = shared("fixtures/portfolio/sector_etfs_2019.json") else {
        return;
    };
    let fx: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fx_path).unwrap()).unwrap();
    let symbols: Vec<String> = fx["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    let end = NaiveDate::from_ymd_opt(2019, 12, 31).unwrap();
    // Inner join of the symbols' dates, the last 253 closes up to the end date.
    let mut series: Vec<BTreeMap<NaiveDate, f64>> = Vec::new();
    for s in &symbols {
        let bars = systrade_testkit::raw_daily(&systrade_testkit::fixture_source(s));
        series.push(
            bars.iter()
                .filter(|b| b.ts <= end)
                .map(|b| (b.ts, b.close))
                .collect(),
        );
    }
    let common: Vec<NaiveDate> = series[0]
        .keys()
        .filter(|d| series.iter().all(|s| s.contains_key(d)))
        .copied()
        .collect();
    let dates = &common[common.len() - 253..];
    assert_eq!(
        dates[0].to_string(),
        fx["window"]["first_price_date"].as_str().unwrap()
    );
    let simple: Vec<Vec<f64>> = series
        .iter()
        .map(|s| {
            dates
                .windows(2)
                .map(|w| s[&w[1]] / s[&w[0]] - 1.0)
                .collect()
        })
        .collect();
    let logr: Vec<Vec<f64>> = series
        .iter()
        .map(|s| {
            dates
                .windows(2)
                .map(|w| (s[&w[1]] / s[&w[0]]).ln())
                .collect()
        })
        .collect();
    let cols: Vec<&[f64]> = simple.iter().map(|c| c.as_slice()).collect();
    let cov = pf::sample_covariance(&cols).unwrap();
    let weights = |key: &str, sub: &str| -> Vec<f64> {
        symbols
            .iter()
            .map(|s| fx[key][sub][s].as_f64().unwrap())
            .collect()
    };
    let mut failures = Vec::new();
    let mut cmp = |what: &str, got: &[f64], want: &[f64], tol: f64| {
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            if (g - w).abs() > tol {
                failures.push(format!("{what} {}: expected {w}, got {g}", symbols[i]));
            }
        }
    };

    let lcols: Vec<&[f64]> = logr.iter().map(|c| c.as_slice()).collect();
    let lcov = pf::sample_covariance(&lcols).unwrap() * 252.0;
    let want_rows = fx["cov_log_annual"]["matrix"].as_array().unwrap();
    for (i, row) in want_rows.iter().enumerate() {
        let want: Vec<f64> = row
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let got: Vec<f64> = (0..symbols.len()).map(|j| lcov[(i, j)]).collect();
        cmp("cov_log_annual", &got, &want, 1e-12 * want[i].abs());
    }

    let sd: Vec<f64> = (0..symbols.len()).map(|i| cov[(i, i)].sqrt()).collect();
    cmp(
        "inverse_vol daily_stdev",
        &sd,
        &weights("inverse_vol", "daily_stdev"),
        1e-15,
    );
    cmp(
        "inverse_vol",
        &pf::inverse_vol_weights(&sd).unwrap(),
        &weights("inverse_vol", "weights"),
        1e-14,
    );

    let erc = pf::erc_weights(&cov).unwrap();
    cmp("erc", &erc, &weights("erc", "weights_exact"), 1e-12);
    cmp("erc vs riskfolio", &erc, &weights("erc", "weights"), 1e-10);
    let rc = pf::risk_contributions(&cov, &erc);
    cmp(
        "erc risk contributions",
        &rc,
        &weights("erc", "risk_contributions_exact"),
        1e-12,
    );

    let n = symbols.len();
    let mv =
        pf::min_variance_weights(&(cov.clone() * 252.0), &vec![0.0; n], &vec![1.0; n]).unwrap();
    cmp(
        "min_variance",
        &mv,
        &weights("min_variance", "weights_exact"),
        1e-12,
    );
    let vol = (pf::portfolio_variance(&(cov * 252.0), &mv)).sqrt();
    let want_vol = fx["min_variance"]["annual_vol"].as_f64().unwrap();
    assert!(
        (vol - want_vol).abs() < 1e-12,
        "min-variance vol {vol} vs {want_vol}"
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
