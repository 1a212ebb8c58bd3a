//! Dates and timestamps as vendors write them.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use systrade_core::Market;

/// A parsed row time: a plain date, or an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RowTime {
    /// A calendar date with no time (`2024-05-01`).
    Date(NaiveDate),
    /// An instant. `local_midnight` is true when the text's own wall-clock time was 00:00:00,
    /// which for daily bars means "this date", whatever the offset.
    Instant {
        utc: DateTime<Utc>,
        local_date: NaiveDate,
        local_midnight: bool,
    },
}

impl RowTime {
    /// The market date of a daily bar. A date, or a timestamp at local midnight, is taken as
    /// written; any other timestamp is converted to the market's zone first. So a daily bar is
    /// never moved to another date by a DST change or by a vendor stamping 00:00 UTC.
    pub fn daily_date(&self, market: Market) -> NaiveDate {
        match *self {
            RowTime::Date(d) => d,
            RowTime::Instant {
                local_date,
                local_midnight: true,
                ..
            } => local_date,
            RowTime::Instant { utc, .. } => market.local_date(utc),
        }
    }

    /// The instant; a plain date is taken as 00:00 UTC.
    pub fn utc(&self) -> DateTime<Utc> {
        match *self {
            RowTime::Date(d) => d.and_time(NaiveTime::MIN).and_utc(),
            RowTime::Instant { utc, .. } => utc,
        }
    }

    /// True when the text carried no time of day.
    pub fn is_date(&self) -> bool {
        matches!(self, RowTime::Date(_))
    }
}

/// `YYYY-MM-DD` of ten ASCII digits and dashes, read without a format string (the common
/// case of every daily file): `Some(None)` for an impossible date, `None` for another shape.
fn plain_date(b: &[u8]) -> Option<Option<NaiveDate>> {
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    Some(NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d))
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` / `YYYY-MM-DDTHH:MM:SS` (naive: UTC), RFC 3339
/// with an offset, or `YYYY-MM-DD HH:MM:SS+HH:MM`.
pub fn parse_row_time(s: &str) -> Option<RowTime> {
    let s = s.trim();
    if s.len() == 10 {
        if let Some(d) = plain_date(s.as_bytes()) {
            return d.map(RowTime::Date);
        }
        return NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(RowTime::Date);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%:z"))
    {
        let local = dt.naive_local();
        return Some(RowTime::Instant {
            utc: dt.with_timezone(&Utc),
            local_date: local.date(),
            local_midnight: local.time() == NaiveTime::MIN,
        });
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(RowTime::Instant {
                utc: n.and_utc(),
                local_date: n.date(),
                local_midnight: n.time() == NaiveTime::MIN,
            });
        }
    }
    None
}

/// Parses a `dd/mm/yyyy` date (Brazilian sources).
pub fn parse_dmy(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%d/%m/%Y").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The format-free reading of `YYYY-MM-DD` agrees with chrono's `%Y-%m-%d` on every
        /// ten-character text of digits and dashes, impossible dates included.
        #[test]
        fn prop_plain_dates_read_as_chrono_does(t in "[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9-]{10}") {
            let chrono = NaiveDate::parse_from_str(&t, "%Y-%m-%d").ok();
            let got = parse_row_time(&t).map(|r| match r {
                RowTime::Date(d) => d,
                RowTime::Instant { local_date, .. } => local_date,
            });
            proptest::prop_assert_eq!(got, chrono);
        }
    }

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn test_plain_date() {
        assert_eq!(
            parse_row_time("2024-05-01"),
            Some(RowTime::Date(d(2024, 5, 1)))
        );
        assert_eq!(parse_row_time("2024-13-01"), None);
        assert_eq!(parse_row_time("01/05/2024"), None);
    }

    #[test]
    fn test_daily_bars_across_dst_keep_their_dates() {
        // A vendor stamps daily US bars at local midnight with the offset in force:
        // EST (-05:00) before the 2024-03-10 switch, EDT (-04:00) after.
        let days = [
            ("2024-03-08T00:00:00-05:00", d(2024, 3, 8)),
            ("2024-03-11T00:00:00-04:00", d(2024, 3, 11)),
            ("2024-11-01T00:00:00-04:00", d(2024, 11, 1)),
            ("2024-11-04T00:00:00-05:00", d(2024, 11, 4)),
        ];
        for (text, want) in days {
            let t = parse_row_time(text).unwrap();
            assert_eq!(t.daily_date(Market::Us), want, "{text}");
        }
        // The same days stamped at 00:00 UTC must not slide back to the previous NY date.
        let t = parse_row_time("2024-03-11 00:00:00").unwrap();
        assert_eq!(t.daily_date(Market::Us), d(2024, 3, 11));
        // A close-time stamp in UTC converts to the market date.
        let t = parse_row_time("2024-03-11T20:00:00Z").unwrap();
        assert_eq!(t.daily_date(Market::Us), d(2024, 3, 11));
        let t = parse_row_time("2024-03-12T02:00:00Z").unwrap();
        assert_eq!(
            t.daily_date(Market::Us),
            d(2024, 3, 11),
            "22:00 NY on the 11th"
        );
    }

    #[test]
    fn test_dmy() {
        assert_eq!(parse_dmy("19/12/2019"), Some(d(2019, 12, 19)));
        assert_eq!(parse_dmy("2019-12-19"), None);
    }
}
