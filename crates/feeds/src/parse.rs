//! Reading a feed's CSV text: the header must be the kind's, every cell must parse, and each
//! problem names the file, the line, the symbol and the column.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use systrade_core::{Market, Symbol};

use crate::{Alert, Detail, FeedKind, FlowSide, OptionType};

/// When a feed's timestamp cell says the row was known: RFC 3339 (`2024-06-03T13:05:00Z`,
/// with an offset), a market-local time (`2024-06-03 13:05[:00]`, `T` also), or a date alone
/// (known after that day's close, local).
pub fn timestamp(cell: &str, market: Market) -> Result<DateTime<Utc>, String> {
    let tz = market.tz();
    let local = |dt: NaiveDateTime| {
        tz.from_local_datetime(&dt)
            .earliest()
            .map(|x| x.with_timezone(&Utc))
            .ok_or_else(|| format!("{cell:?} does not exist in {}", tz.name()))
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(cell) {
        return Ok(t.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(cell, f) {
            return local(dt);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(cell, "%Y-%m-%d") {
        // Known after the close: the end of the local day.
        let close = market
            .calendar()
            .session(d)
            .map(|s| s.close)
            .unwrap_or(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN));
        return local(d.and_time(close));
    }
    Err(format!(
        "{cell:?} is not a time (RFC 3339, YYYY-MM-DD HH:MM[:SS] in the market's time zone, or YYYY-MM-DD)"
    ))
}

/// The session whose open is the first strictly after `at`.
pub fn first_open_after(at: DateTime<Utc>, market: Market) -> NaiveDate {
    let tz = market.tz();
    let cal = market.calendar();
    let mut d = at.with_timezone(&tz).date_naive();
    loop {
        if let Some(s) = cal.session(d) {
            let open = tz
                .from_local_datetime(&d.and_time(s.open))
                .earliest()
                .map(|x| x.with_timezone(&Utc));
            if open.is_some_and(|o| o > at) {
                return d;
            }
        }
        d = cal.next_trading_day(d);
    }
}

fn number(cell: &str) -> Result<f64, String> {
    cell.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| format!("{cell:?} is not a number"))
}

fn non_negative(cell: &str) -> Result<f64, String> {
    let x = number(cell)?;
    if x < 0.0 {
        return Err(format!("{x} is negative"));
    }
    Ok(x)
}

/// Every row of a feed of `kind` (`name` is the file, for the errors), in file order.
pub fn parse(kind: FeedKind, text: &str, name: &str, market: Market) -> Result<Vec<Alert>, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| format!("{name}: {e}"))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    if header.join(",") != kind.header() {
        return Err(format!(
            "{name} line 1: a {} feed has the header {} (got {})",
            kind.as_str(),
            kind.header(),
            header.join(",")
        ));
    }
    let mut out = Vec::new();
    for (k, rec) in rdr.records().enumerate() {
        let line = k + 2;
        let rec = rec.map_err(|e| format!("{name} line {line}: {e}"))?;
        let cell = |i: usize| rec.get(i).unwrap_or("");
        let symbol = Symbol::new(cell(1)).map_err(|e| format!("{name} line {line}: {e}"))?;
        let at_line = |col: &str, e: String| format!("{name} line {line}, {symbol}, {col}: {e}");
        let at = timestamp(cell(0), market).map_err(|e| at_line(&header[0], e))?;
        let detail = match kind {
            FeedKind::LowFloat => {
                let score = number(cell(5)).map_err(|e| at_line("score", e))?;
                Detail::LowFloat {
                    float_shares: non_negative(cell(2)).map_err(|e| at_line("float_shares", e))?,
                    avg_volume: non_negative(cell(3)).map_err(|e| at_line("avg_volume", e))?,
                    price: non_negative(cell(4)).map_err(|e| at_line("price", e))?,
                    score,
                }
            }
            FeedKind::Options => {
                let option_type = match cell(2).to_ascii_lowercase().as_str() {
                    "call" | "c" => OptionType::Call,
                    "put" | "p" => OptionType::Put,
                    other => {
                        return Err(at_line(
                            "option_type",
                            format!("{other:?} is not call or put"),
                        ));
                    }
                };
                let side = match cell(8).to_ascii_lowercase().as_str() {
                    "ask" | "above_ask" | "buy" => FlowSide::Ask,
                    "bid" | "below_bid" | "sell" => FlowSide::Bid,
                    "mid" => FlowSide::Mid,
                    other => {
                        return Err(at_line(
                            "side",
                            format!("{other:?} is not ask, bid or mid (buy/sell also)"),
                        ));
                    }
                };
                let expiry = NaiveDate::parse_from_str(cell(4), "%Y-%m-%d")
                    .map_err(|_| at_line("expiry", format!("{:?} is not YYYY-MM-DD", cell(4))))?;
                Detail::Options {
                    option_type,
                    strike: non_negative(cell(3)).map_err(|e| at_line("strike", e))?,
                    expiry,
                    premium: non_negative(cell(5)).map_err(|e| at_line("premium", e))?,
                    volume: non_negative(cell(6)).map_err(|e| at_line("volume", e))?,
                    open_interest: non_negative(cell(7))
                        .map_err(|e| at_line("open_interest", e))?,
                    side,
                }
            }
        };
        out.push(Alert {
            line,
            session: first_open_after(at, market),
            at,
            symbol,
            detail,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn test_an_alert_trades_at_the_first_open_after_it() {
        let us = Market::Us;
        let at = |s: &str| first_open_after(timestamp(s, us).unwrap(), us);
        // Before Monday's open (09:30 New York): Monday. During or after: Tuesday.
        assert_eq!(at("2024-06-03 09:29"), d("2024-06-03"));
        assert_eq!(at("2024-06-03 09:30"), d("2024-06-04"));
        assert_eq!(at("2024-06-03T13:05:00Z"), d("2024-06-03"));
        assert_eq!(at("2024-06-03T14:05:00Z"), d("2024-06-04"));
        // A date alone is known after its close; Friday's list trades on Monday.
        assert_eq!(at("2024-05-31"), d("2024-06-03"));
        // Over a holiday (Juneteenth 2024 is a Wednesday).
        assert_eq!(at("2024-06-18 16:30"), d("2024-06-20"));
        // Crypto opens at midnight UTC every day.
        let c = Market::Crypto;
        assert_eq!(
            first_open_after(timestamp("2024-06-01T23:59:00Z", c).unwrap(), c),
            d("2024-06-02")
        );
    }

    #[test]
    fn test_feeds_parse_and_every_problem_names_line_symbol_and_column() {
        let c = "date,symbol,float_shares,avg_volume,price,score\n2024-06-03,ABCD,8000000,1200000,4.5,0.9\n";
        let a = parse(FeedKind::LowFloat, c, "c.csv", Market::Us).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].line, a[0].session), (2, d("2024-06-04")));
        let o = "ts,underlying,option_type,strike,expiry,premium,volume,open_interest,side\n2024-06-03 10:15,XYZ,call,50,2024-06-21,250000,5000,1200,ask\n";
        let a = parse(FeedKind::Options, o, "d.csv", Market::Us).unwrap();
        assert!(a[0].detail.bullish());
        for (kind, text, want) in [
            (
                FeedKind::LowFloat,
                "date,symbol,float,avg_volume,price,score\n",
                "c.csv line 1: a low_float feed has the header",
            ),
            (
                FeedKind::LowFloat,
                "date,symbol,float_shares,avg_volume,price,score\n2024-06-03,ABCD,8e6,1e6,4.5,high\n",
                "c.csv line 2, ABCD, score: \"high\" is not a number",
            ),
            (
                FeedKind::LowFloat,
                "date,symbol,float_shares,avg_volume,price,score\n2024-06-03,ABCD,-1,1e6,4.5,1\n",
                "c.csv line 2, ABCD, float_shares: -1 is negative",
            ),
            (
                FeedKind::LowFloat,
                "date,symbol,float_shares,avg_volume,price,score\nyesterday,ABCD,1,1e6,4.5,1\n",
                "c.csv line 2, ABCD, date: \"yesterday\" is not a time",
            ),
            (
                FeedKind::Options,
                "ts,underlying,option_type,strike,expiry,premium,volume,open_interest,side\n2024-06-03 10:15,XYZ,straddle,50,2024-06-21,1,1,1,ask\n",
                "c.csv line 2, XYZ, option_type: \"straddle\" is not call or put",
            ),
            (
                FeedKind::Options,
                "ts,underlying,option_type,strike,expiry,premium,volume,open_interest,side\n2024-06-03 10:15,XYZ,put,50,June,1,1,1,ask\n",
                "c.csv line 2, XYZ, expiry: \"June\" is not YYYY-MM-DD",
            ),
        ] {
            let e = parse(kind, text, "c.csv", Market::Us).unwrap_err();
            assert!(e.starts_with(want), "{e}");
        }
    }
}
