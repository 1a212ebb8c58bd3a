//! Which market a date series belongs to, when nobody said.

use chrono::{Datelike, NaiveDate, Weekday};
use systrade_core::Market;
use systrade_core::calendar::{b3, us};

fn is_weekend(d: &NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Crypto when bars exist on at least half of the weekend days spanned; otherwise the
/// exchange whose holidays the dates avoid best (ties go to the US). `dates` must ascend.
pub fn infer_market(dates: &[NaiveDate]) -> Market {
    let (Some(first), Some(last)) = (dates.first(), dates.last()) else {
        return Market::Us;
    };
    let weekend_days = first
        .iter_days()
        .take_while(|d| d <= last)
        .filter(is_weekend)
        .count();
    let mut distinct = dates.to_vec();
    distinct.dedup();
    let on_weekend = distinct.iter().filter(|d| is_weekend(d)).count();
    if weekend_days > 0 && on_weekend * 2 >= weekend_days {
        return Market::Crypto;
    }
    let us_hits = distinct.iter().filter(|d| us::is_holiday(**d)).count();
    let b3_hits = distinct.iter().filter(|d| b3::is_holiday(**d)).count();
    if b3_hits < us_hits {
        Market::B3
    } else {
        Market::Us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_each_calendar_is_recognised() {
        let from = NaiveDate::from_ymd_opt(2016, 1, 4).unwrap();
        let to = NaiveDate::from_ymd_opt(2019, 12, 31).unwrap();
        for m in Market::ALL {
            let days = m.calendar().trading_days(from, to);
            assert_eq!(infer_market(&days), m);
        }
        assert_eq!(infer_market(&[]), Market::Us);
    }
}
