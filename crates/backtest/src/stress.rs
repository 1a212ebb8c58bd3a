//! Stress tests: a run's metrics inside named market crises (a documented table) or any
//! `from..to` window, from the run's own returns — the strategy arrives in each window with
//! the positions its own history gave it.

use std::fmt::Write as _;
use std::path::Path;

use chrono::NaiveDate;
use serde::Serialize;
use systrade_core::fsio::write_atomic;

use crate::BacktestError;
use crate::research::Split;

/// The named windows: `(name, first day, last day, what happened)`.
pub const NAMED: [(&str, &str, &str, &str); 8] = [
    (
        "2000-dotcom",
        "2000-03-24",
        "2002-10-09",
        "S&P 500 peak to trough after the dot-com bubble",
    ),
    (
        "2008-09",
        "2008-09-01",
        "2009-03-09",
        "Lehman's month to the S&P 500 low of the financial crisis",
    ),
    (
        "2011-08",
        "2011-07-22",
        "2011-10-03",
        "US downgrade and euro debt crisis",
    ),
    (
        "2018-crypto",
        "2017-12-17",
        "2018-12-15",
        "bitcoin's 2017 peak to its 2018 low",
    ),
    (
        "2018-q4",
        "2018-09-20",
        "2018-12-24",
        "S&P 500 fourth-quarter sell-off",
    ),
    (
        "2020-03",
        "2020-02-19",
        "2020-03-23",
        "COVID crash, S&P 500 peak to trough",
    ),
    (
        "2022-crypto",
        "2021-11-10",
        "2022-11-21",
        "bitcoin's 2021 peak through LUNA (May) to the FTX low",
    ),
    (
        "2022-rates",
        "2022-01-03",
        "2022-10-12",
        "S&P 500 bear market of the rate hikes",
    ),
];

/// Parses `--stress 2008-09,2020-03,2022-crypto,2015-06-01..2015-09-30` (named windows or
/// `FROM..TO`, optionally `label=FROM..TO`).
pub fn parse_stress(text: &str) -> Result<Vec<Split>, String> {
    let mut out: Vec<Split> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let w = if let Some((_, from, to, _)) = NAMED.iter().find(|n| n.0 == item) {
            let d = |t: &str| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok();
            Split {
                name: item.to_string(),
                from: d(from),
                to: d(to),
            }
        } else if item.contains("..") {
            let (label, range) = item.split_once('=').unwrap_or((item, item));
            let (a, b) = range.split_once("..").unwrap_or((range, ""));
            let date = |t: &str| {
                NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d")
                    .map_err(|_| format!("stress window {item:?}: bad date {t:?} (YYYY-MM-DD)"))
            };
            let (from, to) = (date(a)?, date(b)?);
            if from > to {
                return Err(format!("stress window {item:?}: {from} is after {to}"));
            }
            Split {
                name: label.trim().to_string(),
                from: Some(from),
                to: Some(to),
            }
        } else {
            return Err(format!(
                "stress window {item:?}: not a named window ({}) nor FROM..TO",
                NAMED.map(|n| n.0).join(", ")
            ));
        };
        if out.iter().any(|x| x.name == w.name) {
            return Err(format!("stress window {} is given twice", w.name));
        }
        out.push(w);
    }
    if out.is_empty() {
        return Err("no stress window given".into());
    }
    Ok(out)
}

/// A run inside one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StressReport {
    pub window: Split,
    /// The run's first and last return dates inside the window.
    pub covered: (NaiveDate, NaiveDate),
    /// The run covers only part of the window (it starts or ends more than a week inside).
    pub partial: bool,
    pub n_returns: usize,
    /// Compounded return over the window.
    pub total_return: f64,
    /// The deepest drawdown inside the window (negative), from its own start.
    pub max_drawdown: f64,
    /// The worst period return and its date.
    pub worst: (NaiveDate, f64),
    pub annual_vol: Option<f64>,
}

/// Each window's metrics from the run's dated period returns. A window the run does not
/// reach is an error naming it and the run's range.
pub fn stress_returns(
    returns: &[(NaiveDate, f64)],
    windows: &[Split],
    periods_per_year: f64,
) -> Result<Vec<StressReport>, BacktestError> {
    let range = match (returns.first(), returns.last()) {
        (Some(a), Some(b)) => format!("{}..{}", a.0, b.0),
        _ => "no returns".to_string(),
    };
    windows
        .iter()
        .map(|w| {
            let rows: Vec<(NaiveDate, f64)> = returns
                .iter()
                .filter(|(d, _)| w.from.is_none_or(|f| *d >= f) && w.to.is_none_or(|t| *d <= t))
                .copied()
                .collect();
            let Some(worst) = rows
                .iter()
                .copied()
                .reduce(|a, b| if b.1 < a.1 { b } else { a })
            else {
                return Err(BacktestError::Input(format!(
                    "stress window {} ({}..{}) is outside the backtest ({range})",
                    w.name,
                    w.from.map(|d| d.to_string()).unwrap_or_default(),
                    w.to.map(|d| d.to_string()).unwrap_or_default()
                )));
            };
            let (mut eq, mut peak, mut dd) = (1.0f64, 1.0f64, 0.0f64);
            for (_, r) in &rows {
                eq *= 1.0 + r;
                peak = peak.max(eq);
                dd = dd.min(eq / peak - 1.0);
            }
            let n = rows.len();
            let covered = (rows[0].0, rows[n - 1].0);
            let week = chrono::Duration::days(7);
            let partial = w.from.is_some_and(|f| covered.0 > f + week)
                || w.to.is_some_and(|t| covered.1 < t - week);
            let annual_vol = (n > 1).then(|| {
                let mean = rows.iter().map(|x| x.1).sum::<f64>() / n as f64;
                let var = rows.iter().map(|x| (x.1 - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
                (var * periods_per_year).sqrt()
            });
            Ok(StressReport {
                window: w.clone(),
                covered,
                partial,
                n_returns: n,
                total_return: eq - 1.0,
                max_drawdown: dd,
                worst,
                annual_vol,
            })
        })
        .collect()
}

/// Writes `stress.csv`.
pub fn write_stress(reports: &[StressReport], dir: &Path) -> Result<(), BacktestError> {
    let mut s = String::from(
        "window,from,to,first,last,partial,n_returns,total_return,max_drawdown,worst_date,worst_return,annual_vol\n",
    );
    let d = |x: Option<NaiveDate>| x.map(|v| v.to_string()).unwrap_or_default();
    for r in reports {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            r.window.name,
            d(r.window.from),
            d(r.window.to),
            r.covered.0,
            r.covered.1,
            r.partial,
            r.n_returns,
            r.total_return,
            r.max_drawdown,
            r.worst.0,
            r.worst.1,
            r.annual_vol.map(|v| v.to_string()).unwrap_or_default()
        );
    }
    write_atomic(&dir.join("stress.csv"), s.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn test_named_and_dated_windows_parse_and_bad_ones_are_refused() {
        let w = parse_stress("2008-09,2020-03,2022-crypto,q=2015-06-01..2015-09-30").unwrap();
        assert_eq!(w.len(), 4);
        assert_eq!(
            (w[1].from, w[1].to),
            (Some(d("2020-02-19")), Some(d("2020-03-23")))
        );
        assert_eq!(w[3].name, "q");
        assert_eq!(
            parse_stress("2019-01-01..2019-02-01").unwrap()[0].name,
            "2019-01-01..2019-02-01"
        );
        assert!(
            parse_stress("1987-10")
                .unwrap_err()
                .contains("not a named window")
        );
        assert!(
            parse_stress("2019-02-01..2019-01-01")
                .unwrap_err()
                .contains("after")
        );
        assert!(
            parse_stress("2020-03,2020-03")
                .unwrap_err()
                .contains("twice")
        );
        assert!(parse_stress("2019-01-01..").is_err());
        for (_, a, b, _) in NAMED {
            assert!(d(a) < d(b));
        }
    }

    #[test]
    fn test_window_metrics_are_hand_checked() {
        let rets = [
            (d("2020-02-18"), 0.5),
            (d("2020-02-19"), 0.10),
            (d("2020-02-20"), -0.20),
            (d("2020-02-21"), -0.10),
            (d("2020-02-24"), 0.05),
            (d("2020-03-24"), 0.5),
        ];
        let r = stress_returns(&rets, &parse_stress("2020-03").unwrap(), 252.0).unwrap();
        let r = &r[0];
        assert_eq!(r.n_returns, 4);
        // 1.1 · 0.8 · 0.9 · 1.05 − 1
        assert!((r.total_return - (1.1 * 0.8 * 0.9 * 1.05 - 1.0)).abs() < 1e-12);
        // From the peak 1.1 to 1.1 · 0.8 · 0.9.
        assert!((r.max_drawdown - (0.8 * 0.9 - 1.0)).abs() < 1e-12);
        assert_eq!(r.worst, (d("2020-02-20"), -0.20));
        assert_eq!(r.covered, (d("2020-02-19"), d("2020-02-24")));
        assert!(
            r.partial,
            "the run's returns stop a month before the window ends"
        );
        let err = stress_returns(&rets, &parse_stress("2008-09").unwrap(), 252.0).unwrap_err();
        assert!(
            err.to_string()
                .contains("outside the backtest (2020-02-18..2020-03-24)"),
            "{err}"
        );
    }
}
