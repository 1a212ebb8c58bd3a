//! Dates appended to text as `YYYY-MM-DD`, byte for byte what chrono's `{}` writes, without
//! the formatting machinery (large CSV files write a date on every row).

use chrono::{Datelike, NaiveDate};
use std::fmt::Write as _;

/// `d` as `YYYY-MM-DD` appended to `out`; years outside 0–9999 as chrono writes them
/// (`+10000-01-01`, `-0001-12-31`).
pub fn push_date(out: &mut String, d: NaiveDate) {
    let y = d.year();
    if !(0..=9999).contains(&y) {
        let _ = write!(out, "{d}");
        return;
    }
    // Years checked above, months and days at most 31: every digit is one ASCII byte.
    let (y, m, day) = (y as u32, d.month(), d.day());
    let text = [
        b'0' + (y / 1000) as u8,
        b'0' + (y / 100 % 10) as u8,
        b'0' + (y / 10 % 10) as u8,
        b'0' + (y % 10) as u8,
        b'-',
        b'0' + (m / 10) as u8,
        b'0' + (m % 10) as u8,
        b'-',
        b'0' + (day / 10) as u8,
        b'0' + (day % 10) as u8,
    ];
    out.extend(text.iter().map(|b| char::from(*b)));
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn test_dates_read_as_chrono_writes_them() {
        for (y, m, d) in [
            (2024, 2, 29),
            (1999, 11, 1),
            (1, 1, 1),
            (0, 1, 1),
            (9999, 12, 31),
        ] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            let mut s = String::from("x,");
            push_date(&mut s, date);
            assert_eq!(s, format!("x,{date}"));
        }
        for date in [
            NaiveDate::MIN,
            NaiveDate::MAX,
            NaiveDate::from_ymd_opt(-1, 12, 31).unwrap(),
        ] {
            let mut s = String::new();
            push_date(&mut s, date);
            assert_eq!(s, date.to_string());
        }
    }

    proptest! {
        #[test]
        fn prop_every_date_is_written_as_chrono_writes_it(days in -400_000i32..4_000_000) {
            let date = NaiveDate::from_num_days_from_ce_opt(days).unwrap();
            let mut s = String::new();
            push_date(&mut s, date);
            prop_assert_eq!(s, date.to_string());
        }
    }
}
