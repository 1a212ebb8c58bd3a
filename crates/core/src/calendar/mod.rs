//! Trading calendars: which dates a market trades, and its session hours.

pub mod b3;
mod easter;
pub mod us;

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Weekday};

pub use easter::easter_sunday;

/// One trading session in market-local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// Local opening time.
    pub open: NaiveTime,
    /// Local closing time.
    pub close: NaiveTime,
    /// True on a shortened day (early close or late open).
    pub half_day: bool,
}

/// A market's calendar. Implementations are rule-based, so they cover any year, and are
/// checked against the real data's dates in the tests.
pub trait Calendar: Send + Sync {
    /// The session on `date`, or `None` when the market is closed.
    fn session(&self, date: NaiveDate) -> Option<Session>;

    /// True when the market trades on `date`.
    fn is_trading_day(&self, date: NaiveDate) -> bool {
        self.session(date).is_some()
    }

    /// The first trading day strictly after `date`.
    fn next_trading_day(&self, date: NaiveDate) -> NaiveDate {
        let mut d = date + Duration::days(1);
        while !self.is_trading_day(d) {
            d += Duration::days(1);
        }
        d
    }

    /// The last trading day strictly before `date`.
    fn previous_trading_day(&self, date: NaiveDate) -> NaiveDate {
        let mut d = date - Duration::days(1);
        while !self.is_trading_day(d) {
            d -= Duration::days(1);
        }
        d
    }

    /// The first trading day of the month after `date`'s.
    fn first_trading_day_of_next_month(&self, date: NaiveDate) -> NaiveDate {
        let mut d = self.next_trading_day(date);
        while (d.year(), d.month()) == (date.year(), date.month()) {
            d = self.next_trading_day(d);
        }
        d
    }

    /// Trading days in `[from, to]`, in order.
    fn trading_days(&self, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        from.iter_days()
            .take_while(|d| *d <= to)
            .filter(|d| self.is_trading_day(*d))
            .collect()
    }
}

/// Crypto: every calendar day trades, around the clock (UTC).
#[derive(Debug, Clone, Copy)]
pub struct AlwaysOpen;

impl Calendar for AlwaysOpen {
    fn session(&self, _date: NaiveDate) -> Option<Session> {
        Some(Session {
            open: NaiveTime::MIN,
            close: NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN),
            half_day: false,
        })
    }
}

pub(crate) fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The `n`-th (1-based) `weekday` of a month.
pub(crate) fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n).unwrap_or(NaiveDate::MIN)
}

/// The last `weekday` of a month.
pub(crate) fn last_weekday(year: i32, month: u32, weekday: Weekday) -> NaiveDate {
    let mut d = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    }
    .unwrap_or(NaiveDate::MIN)
        - Duration::days(1);
    while d.weekday() != weekday {
        d -= Duration::days(1);
    }
    d
}

pub(crate) fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

pub(crate) fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}
