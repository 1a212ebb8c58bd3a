//! Markets: where an instrument trades, in which time zone, on which calendar.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::CoreError;
use crate::calendar::{self, Calendar};

/// A market with its own clock and holidays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Market {
    /// US equities and ETFs: NYSE calendar, America/New_York.
    Us,
    /// Brazilian equities: B3 calendar, America/Sao_Paulo.
    B3,
    /// Crypto spot: trades every day, UTC.
    Crypto,
}

impl Market {
    /// All markets, in a fixed order.
    pub const ALL: [Market; 3] = [Market::Us, Market::B3, Market::Crypto];

    /// The market's time zone; its "today" is the local date in this zone.
    pub fn tz(self) -> Tz {
        match self {
            Market::Us => chrono_tz::America::New_York,
            Market::B3 => chrono_tz::America::Sao_Paulo,
            Market::Crypto => chrono_tz::UTC,
        }
    }

    /// The market's trading calendar.
    pub fn calendar(self) -> &'static dyn Calendar {
        match self {
            Market::Us => &calendar::us::Nyse,
            Market::B3 => &calendar::b3::B3,
            Market::Crypto => &calendar::AlwaysOpen,
        }
    }

    /// Periods per year used to annualise daily statistics (252 for exchanges, 365 for crypto).
    pub fn periods_per_year(self) -> u32 {
        match self {
            Market::Crypto => 365,
            _ => 252,
        }
    }

    /// The market-local date of an instant (e.g. the New York date for US equities).
    pub fn local_date(self, ts: DateTime<Utc>) -> NaiveDate {
        ts.with_timezone(&self.tz()).date_naive()
    }

    /// The lowercase name used on the command line and in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Market::Us => "us",
            Market::B3 => "b3",
            Market::Crypto => "crypto",
        }
    }
}

impl fmt::Display for Market {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Market {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "us" => Ok(Market::Us),
            "b3" => Ok(Market::B3),
            "crypto" => Ok(Market::Crypto),
            _ => Err(CoreError::UnknownMarket(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn test_local_date_uses_market_zone() {
        // 02:30 UTC on 2024-03-11 is still 2024-03-10 in New York (EDT, UTC-4) and São Paulo.
        let ts = Utc.with_ymd_and_hms(2024, 3, 11, 2, 30, 0).unwrap();
        assert_eq!(
            Market::Us.local_date(ts),
            NaiveDate::from_ymd_opt(2024, 3, 10).unwrap()
        );
        assert_eq!(
            Market::B3.local_date(ts),
            NaiveDate::from_ymd_opt(2024, 3, 10).unwrap()
        );
        assert_eq!(
            Market::Crypto.local_date(ts),
            NaiveDate::from_ymd_opt(2024, 3, 11).unwrap()
        );
    }

    #[test]
    fn test_parse_round_trip() {
        for m in Market::ALL {
            assert_eq!(m.as_str().parse::<Market>().unwrap(), m);
        }
        assert!("nyse".parse::<Market>().is_err());
    }
}
