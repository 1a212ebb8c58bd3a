use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::MetricsError;

/// Calendar buckets for per-period returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Month,
    Year,
}

/// Compounded returns per calendar month or year: `(label, return)` with labels `YYYY-MM`
/// or `YYYY`, in date order. Gaps in the dates simply contribute nothing.
pub fn period_returns(
    dates: &[NaiveDate],
    returns: &[f64],
    period: Period,
) -> Result<Vec<(String, f64)>, MetricsError> {
    if dates.len() != returns.len() {
        return Err(MetricsError::LengthMismatch {
            what: "period returns",
            a: dates.len(),
            b: returns.len(),
        });
    }
    let key = |d: &NaiveDate| match period {
        Period::Month => (d.year(), d.month()),
        Period::Year => (d.year(), 0),
    };
    // The label is written once per period, not once per day.
    let label = |(y, m): (i32, u32)| match period {
        Period::Month => format!("{y:04}-{m:02}"),
        Period::Year => format!("{y:04}"),
    };
    let mut out: Vec<(String, f64)> = Vec::new();
    let mut current = None;
    for (d, r) in dates.iter().zip(returns) {
        let k = key(d);
        match out.last_mut() {
            Some((_, g)) if current == Some(k) => *g = (1.0 + *g) * (1.0 + r) - 1.0,
            _ => {
                out.push((label(k), *r));
                current = Some(k);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The rule as first written: a label per day, a new row when the label changes.
    fn by_label(dates: &[NaiveDate], returns: &[f64], period: Period) -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> = Vec::new();
        for (d, r) in dates.iter().zip(returns) {
            let label = match period {
                Period::Month => format!("{:04}-{:02}", d.year(), d.month()),
                Period::Year => format!("{:04}", d.year()),
            };
            match out.last_mut() {
                Some((l, g)) if *l == label => *g = (1.0 + *g) * (1.0 + r) - 1.0,
                _ => out.push((label, *r)),
            }
        }
        out
    }

    proptest! {
        /// Ordered or not, with gaps and repeats: the same rows, the same bits.
        #[test]
        fn prop_period_rows_equal_the_per_day_labels(
            days in proptest::collection::vec((-800i64..800, -0.2f64..0.2), 0..300),
            sorted in any::<bool>(),
        ) {
            let mut days = days;
            if sorted {
                days.sort_by_key(|x| x.0);
            }
            let d0 = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
            let dates: Vec<NaiveDate> =
                days.iter().map(|x| d0 + chrono::Duration::days(x.0)).collect();
            let rets: Vec<f64> = days.iter().map(|x| x.1).collect();
            for period in [Period::Month, Period::Year] {
                let got = period_returns(&dates, &rets, period).unwrap();
                let want = by_label(&dates, &rets, period);
                prop_assert_eq!(got.len(), want.len());
                for (g, w) in got.iter().zip(&want) {
                    prop_assert_eq!(&g.0, &w.0);
                    prop_assert_eq!(g.1.to_bits(), w.1.to_bits());
                }
            }
        }
    }

    #[test]
    fn test_months_compound_and_gaps_are_fine() {
        let d = |m, dd| NaiveDate::from_ymd_opt(2024, m, dd).unwrap();
        let got = period_returns(
            &[d(1, 30), d(1, 31), d(3, 1)],
            &[0.1, 0.1, -0.05],
            Period::Month,
        )
        .unwrap();
        assert_eq!(got.len(), 2, "February has no data: no row");
        assert!((got[0].1 - 0.21).abs() < 1e-15);
        assert_eq!(got[1].0, "2024-03");
        let y = period_returns(&[d(1, 30), d(3, 1)], &[0.1, 0.1], Period::Year).unwrap();
        assert_eq!(y[0].0, "2024");
    }
}
