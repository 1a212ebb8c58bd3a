//! The B3 (São Paulo) calendar: national holidays, Carnival, the year-end closure, and the
//! São Paulo city/state holidays the exchange observed until 2021.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

use super::{Calendar, Session, easter_sunday, hm, is_weekend, ymd};

/// B3 — Brasil, Bolsa, Balcão.
#[derive(Debug, Clone, Copy)]
pub struct B3;

/// True when B3 is closed all day on `d` for a holiday (weekends excluded).
pub fn is_holiday(d: NaiveDate) -> bool {
    let y = d.year();
    let easter = easter_sunday(y);
    let mut days = vec![
        ymd(y, 1, 1),
        easter - Duration::days(48), // Carnival Monday
        easter - Duration::days(47), // Carnival Tuesday
        easter - Duration::days(2),  // Good Friday
        ymd(y, 4, 21),               // Tiradentes
        ymd(y, 5, 1),                // Labour Day
        easter + Duration::days(60), // Corpus Christi
        ymd(y, 9, 7),                // Independence
        ymd(y, 10, 12),              // Nossa Senhora Aparecida
        ymd(y, 11, 2),               // All Souls
        ymd(y, 11, 15),              // Proclamation of the Republic
        ymd(y, 12, 24),
        ymd(y, 12, 25),
        last_weekday_of_year(y), // no trading on the last business day of the year
    ];
    // São Paulo city anniversary and state holiday: observed by the exchange until 2021
    // (in 2020 the state moved the 9 July holiday to May, and B3 traded on 9 July).
    if y <= 2021 {
        days.push(ymd(y, 1, 25));
        if y != 2020 {
            days.push(ymd(y, 7, 9));
        }
    }
    // Black Consciousness Day: a São Paulo city holiday the exchange kept until 2021,
    // then a national holiday from 2024.
    if y <= 2021 || y >= 2024 {
        days.push(ymd(y, 11, 20));
    }
    days.contains(&d)
}

fn last_weekday_of_year(y: i32) -> NaiveDate {
    let mut d = ymd(y, 12, 31);
    while is_weekend(d) {
        d -= Duration::days(1);
    }
    d
}

impl Calendar for B3 {
    fn session(&self, date: NaiveDate) -> Option<Session> {
        if is_weekend(date) || is_holiday(date) {
            return None;
        }
        // Ash Wednesday opens at 13:00 after Carnival.
        let ash_wednesday = easter_sunday(date.year()) - Duration::days(46);
        let late_open = date == ash_wednesday && date.weekday() == Weekday::Wed;
        Some(Session {
            open: if late_open { hm(13, 0) } else { hm(10, 0) },
            close: hm(17, 0),
            half_day: late_open,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_the_first_trading_day_of_the_next_month_skips_holidays_and_years() {
        // 2024-01-01 is a holiday: December 2023's next month opens on the 2nd.
        assert_eq!(
            B3.first_trading_day_of_next_month(ymd(2023, 12, 28)),
            ymd(2024, 1, 2)
        );
        assert_eq!(
            B3.first_trading_day_of_next_month(ymd(2023, 12, 1)),
            ymd(2024, 1, 2)
        );
        // A month's last session: the next day is already next month's first.
        assert_eq!(
            B3.first_trading_day_of_next_month(ymd(2025, 6, 30)),
            ymd(2025, 7, 1)
        );
    }

    #[test]
    fn test_carnival_and_year_end() {
        assert!(!B3.is_trading_day(ymd(2015, 2, 16)));
        assert!(!B3.is_trading_day(ymd(2015, 2, 17)));
        assert!(B3.session(ymd(2015, 2, 18)).unwrap().half_day);
        assert!(
            !B3.is_trading_day(ymd(2023, 12, 29)),
            "last weekday of 2023"
        );
        assert!(B3.is_trading_day(ymd(2023, 11, 20)));
        assert!(!B3.is_trading_day(ymd(2024, 11, 20)));
    }
}
