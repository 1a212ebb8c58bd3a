//! Buckets C (low-float) and D (unusual options), spec/execution-and-buckets.md §3: external
//! feeds of candidates and alerts, read from CSV, turned into long entries in the names they
//! point at — with stricter caps than the other buckets (positions, size per position, a
//! share of the name's average daily volume, a holding window, a protective stop) and honest
//! timing: an alert is traded at the first session open after its timestamp, never on a
//! price it could not have seen.
//!
//! - C, `date,symbol,float_shares,avg_volume,price,score`: the day's candidates, known after
//!   that day's close (traded at the next open), best score first.
//! - D, `ts,underlying,option_type,strike,expiry,premium,volume,open_interest,side`: options
//!   flow; a bullish print (a call bought at the ask, a put sold at the bid) with enough
//!   premium and volume over open interest buys the underlying; bearish prints are named and
//!   skipped (long-only).

pub mod parse;
pub mod rules;
pub mod strategy;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use systrade_core::Symbol;

pub use parse::parse;
pub use rules::FeedRules;
pub use strategy::{FeedStrategy, Verdict};

/// Which feed a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    /// Bucket C: low-float candidates.
    LowFloat,
    /// Bucket D: unusual options activity.
    Options,
}

impl FeedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::LowFloat => "low_float",
            FeedKind::Options => "options",
        }
    }

    /// The CSV header a feed of this kind has.
    pub fn header(self) -> &'static str {
        match self {
            FeedKind::LowFloat => "date,symbol,float_shares,avg_volume,price,score",
            FeedKind::Options => {
                "ts,underlying,option_type,strike,expiry,premium,volume,open_interest,side"
            }
        }
    }
}

/// A call or a put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OptionType {
    Call,
    Put,
}

/// Where the print traded: at (or above) the ask — bought — or at (or below) the bid — sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowSide {
    Ask,
    Bid,
    Mid,
}

/// What a row says.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Detail {
    LowFloat {
        float_shares: f64,
        avg_volume: f64,
        price: f64,
        score: f64,
    },
    Options {
        option_type: OptionType,
        strike: f64,
        expiry: NaiveDate,
        premium: f64,
        volume: f64,
        open_interest: f64,
        side: FlowSide,
    },
}

impl Detail {
    /// Bullish for the underlying: every low-float candidate; a call bought or a put sold.
    pub fn bullish(&self) -> bool {
        match self {
            Detail::LowFloat { .. } => true,
            Detail::Options {
                option_type, side, ..
            } => matches!(
                (option_type, side),
                (OptionType::Call, FlowSide::Ask) | (OptionType::Put, FlowSide::Bid)
            ),
        }
    }

    /// A print that says nothing about direction: traded at the mid.
    pub fn neutral(&self) -> bool {
        matches!(
            self,
            Detail::Options {
                side: FlowSide::Mid,
                ..
            }
        )
    }

    /// The rank among the alerts of one session: the score, or the premium paid.
    pub fn priority(&self) -> f64 {
        match self {
            Detail::LowFloat { score, .. } => *score,
            Detail::Options { premium, .. } => *premium,
        }
    }
}

/// One row of a feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// The file's line (header = 1).
    pub line: usize,
    /// When it was known.
    pub at: DateTime<Utc>,
    /// The session whose open is the first after `at`: the earliest fill.
    pub session: NaiveDate,
    pub symbol: Symbol,
    pub detail: Detail,
}
