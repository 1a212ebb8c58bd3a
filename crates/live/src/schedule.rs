//! The schedule gate (spec/daily-run.md §1): outside its window a run exits 0 with
//! `gate_skip`. A local cron that fires at two local times across DST passes exactly once.

use chrono::{DateTime, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;

/// When a run may start.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// No gate.
    Any,
    /// During `hour` UTC, minutes 0..=`minutes`.
    UtcHour { hour: u32, minutes: u32 },
    /// From `at` local time in `tz` to `minutes` after it.
    Local { at: NaiveTime, tz: Tz, minutes: u32 },
}

impl Schedule {
    /// From the command line's flags; errors name the flag.
    pub fn from_flags(
        utc_hour: Option<u32>,
        run_at: Option<&str>,
        tz: Option<&str>,
        minutes: u32,
    ) -> Result<Self, String> {
        if minutes > 59 {
            return Err(format!("--gate-minutes must be 0..=59, got {minutes}"));
        }
        match (utc_hour, run_at, tz) {
            (Some(hour), None, None) => Ok(Schedule::UtcHour { hour, minutes }),
            (None, Some(at), Some(tz)) => {
                let at = NaiveTime::parse_from_str(at, "%H:%M")
                    .map_err(|_| format!("--run-at {at:?}: expected HH:MM"))?;
                let tz: Tz = tz
                    .parse()
                    .map_err(|_| format!("--tz {tz:?}: not an IANA time zone name"))?;
                Ok(Schedule::Local { at, tz, minutes })
            }
            (None, None, None) => Ok(Schedule::Any),
            _ => Err("use --run-at-utc-hour H, or --run-at HH:MM with --tz ZONE".into()),
        }
    }

    /// `None` when a run may start at `now`; otherwise why not.
    pub fn check(&self, now: DateTime<Utc>) -> Option<String> {
        match self {
            Schedule::Any => None,
            Schedule::UtcHour { hour, minutes } => {
                if now.hour() == *hour && now.minute() <= *minutes {
                    None
                } else {
                    Some(format!(
                        "now {} is outside the window {hour:02}:00-{hour:02}:{minutes:02} UTC",
                        now.format("%Y-%m-%dT%H:%M:%SZ")
                    ))
                }
            }
            Schedule::Local { at, tz, minutes } => {
                let local = now.with_timezone(tz);
                let t = local.time();
                let secs = t.signed_duration_since(*at).num_seconds();
                if (0..=i64::from(*minutes) * 60 + 59).contains(&secs) {
                    None
                } else {
                    Some(format!(
                        "local time {} ({tz}) is outside the window {}+{minutes}min",
                        local.format("%Y-%m-%d %H:%M"),
                        at.format("%H:%M")
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn test_utc_gate_window() {
        let g = Schedule::from_flags(Some(0), None, None, 5).unwrap();
        assert!(g.check(utc("2024-01-10T00:00:00Z")).is_none());
        assert!(g.check(utc("2024-01-10T00:05:59Z")).is_none());
        assert!(g.check(utc("2024-01-10T00:06:00Z")).is_some());
        assert!(g.check(utc("2024-01-09T23:59:00Z")).is_some());
    }

    /// The runbook's macOS cron fires at 19:01 and 20:01 New York time; with the UTC gate
    /// exactly one of them passes, in winter (EST) and in summer (EDT).
    #[test]
    fn test_two_local_cron_times_pass_once_across_dst() {
        let g = Schedule::from_flags(Some(0), None, None, 5).unwrap();
        let ny = chrono_tz::America::New_York;
        for (y, m, d, passing) in [(2024, 1, 15, 19), (2024, 7, 15, 20)] {
            let fired: Vec<u32> = [19, 20]
                .into_iter()
                .filter(|h| {
                    let local = ny.with_ymd_and_hms(y, m, d, *h, 1, 0).unwrap();
                    g.check(local.with_timezone(&Utc)).is_none()
                })
                .collect();
            assert_eq!(fired, vec![passing], "{y}-{m}-{d}");
        }
        // A market-local gate passes at the same local time on both sides of DST.
        let l = Schedule::from_flags(None, Some("16:10"), Some("America/New_York"), 5).unwrap();
        assert!(l.check(utc("2024-01-16T21:12:00Z")).is_none(), "EST: 16:12");
        assert!(l.check(utc("2024-07-16T20:12:00Z")).is_none(), "EDT: 16:12");
        assert!(l.check(utc("2024-07-16T21:12:00Z")).is_some(), "EDT: 17:12");
        assert!(Schedule::from_flags(None, Some("25:00"), Some("UTC"), 5).is_err());
        assert!(Schedule::from_flags(None, Some("16:00"), Some("Mars/Base"), 5).is_err());
    }
}
