//! The NYSE calendar: regular 09:30–16:00 America/New_York sessions, holidays and early closes.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

use super::{Calendar, Session, easter_sunday, hm, is_weekend, last_weekday, nth_weekday, ymd};

/// New York Stock Exchange.
#[derive(Debug, Clone, Copy)]
pub struct Nyse;

/// Unscheduled full-day closures (national days of mourning, 9/11, hurricane Sandy).
const SPECIAL_CLOSURES: [(i32, u32, u32); 12] = [
    (1985, 9, 27),
    (1994, 4, 27),
    (2001, 9, 11),
    (2001, 9, 12),
    (2001, 9, 13),
    (2001, 9, 14),
    (2004, 6, 11),
    (2007, 1, 2),
    (2012, 10, 29),
    (2012, 10, 30),
    (2018, 12, 5),
    (2025, 1, 9),
];

/// A fixed-date holiday moved to Friday when on Saturday, Monday when on Sunday.
fn observed(d: NaiveDate) -> NaiveDate {
    match d.weekday() {
        Weekday::Sat => d - Duration::days(1),
        Weekday::Sun => d + Duration::days(1),
        _ => d,
    }
}

/// True when the NYSE is closed all day on `d` for a holiday (weekends excluded).
pub fn is_holiday(d: NaiveDate) -> bool {
    let y = d.year();
    // New Year's Day on a Saturday is not moved back into the old year.
    let new_year = ymd(y, 1, 1);
    if d == new_year || (new_year.weekday() == Weekday::Sun && d == ymd(y, 1, 2)) {
        return true;
    }
    let mut rules = vec![
        nth_weekday(y, 2, Weekday::Mon, 3),
        easter_sunday(y) - Duration::days(2),
        last_weekday(y, 5, Weekday::Mon),
        observed(ymd(y, 7, 4)),
        nth_weekday(y, 9, Weekday::Mon, 1),
        nth_weekday(y, 11, Weekday::Thu, 4),
        observed(ymd(y, 12, 25)),
    ];
    if y >= 1998 {
        rules.push(nth_weekday(y, 1, Weekday::Mon, 3));
    }
    if y >= 2022 {
        rules.push(observed(ymd(y, 6, 19)));
    }
    rules.contains(&d) || SPECIAL_CLOSURES.contains(&(y, d.month(), d.day()))
}

/// True on a scheduled 13:00 early close: the day after Thanksgiving, July 3 when it is a
/// Monday–Thursday, and December 24 when it is a Monday–Thursday.
pub fn is_early_close(d: NaiveDate) -> bool {
    let y = d.year();
    let mon_thu = !matches!(d.weekday(), Weekday::Fri | Weekday::Sat | Weekday::Sun);
    d == nth_weekday(y, 11, Weekday::Thu, 4) + Duration::days(1)
        || (d == ymd(y, 7, 3) && mon_thu)
        || (d == ymd(y, 12, 24) && mon_thu)
}

impl Calendar for Nyse {
    fn session(&self, date: NaiveDate) -> Option<Session> {
        if is_weekend(date) || is_holiday(date) {
            return None;
        }
        let early = is_early_close(date);
        Some(Session {
            open: hm(9, 30),
            close: if early { hm(13, 0) } else { hm(16, 0) },
            half_day: early,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_2024_holidays() {
        let closed = [
            (1, 1),
            (1, 15),
            (2, 19),
            (3, 29),
            (5, 27),
            (6, 19),
            (7, 4),
            (9, 2),
            (11, 28),
            (12, 25),
        ];
        for (m, d) in closed {
            assert!(
                !Nyse.is_trading_day(ymd(2024, m, d)),
                "2024-{m}-{d} should be closed"
            );
        }
        assert!(Nyse.is_trading_day(ymd(2024, 7, 5)));
        let s = Nyse.session(ymd(2024, 11, 29)).unwrap();
        assert!(s.half_day && s.close == hm(13, 0));
        assert!(Nyse.session(ymd(2024, 7, 3)).unwrap().half_day);
        assert!(Nyse.session(ymd(2024, 12, 24)).unwrap().half_day);
    }

    #[test]
    fn test_new_year_on_saturday_is_not_observed_on_friday() {
        // 2022-01-01 was a Saturday; the NYSE traded on Friday 2021-12-31.
        assert!(Nyse.is_trading_day(ymd(2021, 12, 31)));
    }
}
