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
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
