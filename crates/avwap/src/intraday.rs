//! Intraday bars of the regular New York session, grouped by session: `bar_minutes` bars
//! built from one-minute bars (pre- and post-market prints left out; a bucket with no print
//! has no bar), and the daily bars of symbols that only have intraday data.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::America::New_York;
use systrade_core::calendar::Calendar;
use systrade_core::{DailyBar, IntradayBar};

/// A symbol's intraday bars by New York session date, each session's bars in time order.
pub type Sessions = BTreeMap<NaiveDate, Vec<IntradayBar>>;

/// The UTC instant of a New York wall-clock time on `day`.
pub fn ny_instant(day: NaiveDate, t: NaiveTime) -> Option<DateTime<Utc>> {
    New_York
        .from_local_datetime(&day.and_time(t))
        .earliest()
        .map(|x| x.with_timezone(&Utc))
}

/// The New York wall-clock time and date of a UTC instant.
pub fn ny_local(ts: DateTime<Utc>) -> (NaiveDate, NaiveTime) {
    let l = ts.with_timezone(&New_York);
    (l.date_naive(), l.time())
}

/// Buckets one-minute bars (any order of sessions, each bar's `ts` its UTC open) into
/// `minutes`-minute bars of the regular session: bucket `i` opens at `open + i·minutes`.
pub fn session_bars(minute: &[IntradayBar], minutes: u32, cal: &dyn Calendar) -> Sessions {
    let step = i64::from(minutes.max(1));
    let mut out: Sessions = BTreeMap::new();
    for b in minute {
        let (day, time) = ny_local(b.ts);
        let Some(s) = cal.session(day) else { continue };
        if time < s.open || time >= s.close {
            continue;
        }
        let since = (time - s.open).num_minutes();
        let bucket_open = s.open + Duration::minutes(since / step * step);
        let Some(ts) = ny_instant(day, bucket_open) else {
            continue;
        };
        let bars = out.entry(day).or_default();
        match bars.last_mut() {
            Some(last) if last.ts == ts => {
                last.high = last.high.max(b.high);
                last.low = last.low.min(b.low);
                last.close = b.close;
                last.volume += b.volume;
            }
            _ => bars.push(IntradayBar { ts, ..*b }),
        }
    }
    out
}

/// One daily bar per session from its intraday bars (first open, extreme high and low,
/// last close, summed volume).
pub fn daily_from(sessions: &Sessions) -> Vec<DailyBar> {
    sessions
        .iter()
        .filter_map(|(day, bars)| {
            let first = bars.first()?;
            let last = bars.last()?;
            Some(DailyBar {
                ts: *day,
                open: first.open,
                high: bars.iter().map(|b| b.high).fold(f64::MIN, f64::max),
                low: bars.iter().map(|b| b.low).fold(f64::MAX, f64::min),
                close: last.close,
                volume: bars.iter().map(|b| b.volume).sum(),
            })
        })
        .collect()
}

/// The close time of a bar of `minutes` minutes opening at `ts`.
pub fn bar_end(ts: DateTime<Utc>, minutes: u32) -> DateTime<Utc> {
    ts + Duration::minutes(i64::from(minutes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use systrade_core::calendar::us::Nyse;

    fn m(ts: &str, o: f64, h: f64, l: f64, c: f64, v: f64) -> IntradayBar {
        IntradayBar {
            ts: DateTime::parse_from_rfc3339(ts)
                .unwrap()
                .with_timezone(&Utc),
            open: o,
            high: h,
            low: l,
            close: c,
            volume: v,
        }
    }

    #[test]
    fn test_five_minute_buckets_of_the_regular_session_only() {
        // 2024-07-10 (EDT): 13:30 UTC is the 09:30 open.
        let minute = [
            m("2024-07-10T13:29:00Z", 9.0, 9.0, 9.0, 9.0, 1.0), // pre-market
            m("2024-07-10T13:30:00Z", 10.0, 10.5, 9.9, 10.2, 100.0),
            m("2024-07-10T13:33:00Z", 10.2, 10.8, 10.1, 10.7, 50.0),
            m("2024-07-10T13:35:00Z", 10.7, 10.7, 10.0, 10.1, 30.0),
            m("2024-07-10T20:00:00Z", 11.0, 11.0, 11.0, 11.0, 5.0), // 16:00, after the close
        ];
        let s = session_bars(&minute, 5, &Nyse);
        let day: NaiveDate = "2024-07-10".parse().unwrap();
        let bars = &s[&day];
        assert_eq!(bars.len(), 2);
        assert_eq!(
            (
                bars[0].open,
                bars[0].high,
                bars[0].low,
                bars[0].close,
                bars[0].volume
            ),
            (10.0, 10.8, 9.9, 10.7, 150.0)
        );
        assert_eq!(bars[1].ts, m("2024-07-10T13:35:00Z", 0., 0., 0., 0., 0.).ts);
        let d = daily_from(&s);
        assert_eq!(
            (d[0].open, d[0].high, d[0].low, d[0].close),
            (10.0, 10.8, 9.9, 10.1)
        );
        // Winter (EST): the open is 14:30 UTC.
        let w = session_bars(
            &[m("2024-01-10T14:30:00Z", 1.0, 1.0, 1.0, 1.0, 1.0)],
            5,
            &Nyse,
        );
        assert_eq!(w.len(), 1);
        let w = session_bars(
            &[m("2024-01-10T13:30:00Z", 1.0, 1.0, 1.0, 1.0, 1.0)],
            5,
            &Nyse,
        );
        assert!(w.is_empty(), "08:30 EST is pre-market");
    }
}
