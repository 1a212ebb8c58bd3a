//! Each vendor's answer, in its own shapes and errors.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, NaiveDate, NaiveTime, Offset, TimeZone, Utc};
use serde_json::{Map, Value, json};
use systrade_core::Market;

use super::{Endpoint, Feed, Row, Series};
use crate::reply::Reply;

pub(super) fn with_retry_after(mut r: Reply, secs: u64) -> Reply {
    r.headers.push(("retry-after", secs.to_string()));
    r
}

/// A 429 in the vendor's body, with `Retry-After`.
pub(super) fn too_many(ep: &Endpoint, secs: u64) -> Reply {
    let body = match ep {
        Endpoint::BinanceKlines | Endpoint::BinanceTime => {
            json!({"code": -1003, "msg": "Too many requests; current limit is exceeded."})
        }
        Endpoint::CoinbaseCandles(_) => {
            json!({"error": "RESOURCE_EXHAUSTED", "error_details": "Too many requests", "message": "Too many requests"})
        }
        Endpoint::YahooChart(_) => {
            json!({"finance": {"result": null, "error": {"code": "Too Many Requests", "description": "Rate limited"}}})
        }
        _ => json!({"code": 42910000, "message": "too many requests."}),
    };
    let mut r = with_retry_after(Reply::status(429, body), secs);
    r.headers.push(("x-ratelimit-remaining", "0".into()));
    r
}

/// Alpha Vantage's throttle: a 200 whose body is a note.
pub(super) fn av_note(rate: u32) -> Reply {
    Reply::ok(
        json!({"Note": format!("Thank you for using Alpha Vantage! Our standard API call frequency is {rate} calls per minute and 500 calls per day. Please visit https://www.alphavantage.co/premium/ if you would like to target a higher API call frequency.")}),
    )
}

fn instant(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = s.parse::<NaiveDate>() {
        return Some(d.and_time(NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A bar's own instant as each vendor stamps a daily bar: Alpaca stocks at midnight New
/// York, Alpaca crypto at midnight Central, Coinbase and Binance at 00:00 UTC.
fn stamp(series: &Series, r: &Row, tz: Option<chrono_tz::Tz>) -> DateTime<Utc> {
    if !series.daily() {
        return r.open_at;
    }
    match tz {
        Some(tz) => tz
            .from_local_datetime(&r.date.and_time(NaiveTime::MIN))
            .earliest()
            .map_or(r.open_at, |t| t.with_timezone(&Utc)),
        None => r.date.and_time(NaiveTime::MIN).and_utc(),
    }
}

fn alpaca_error(status: u16, message: &str) -> Reply {
    Reply::status(status, json!({"message": message}))
}

fn alpaca_timeframe(tf: &str) -> Option<i64> {
    Some(match tf {
        "1Day" | "1D" => 86_400,
        "1Hour" | "1H" => 3_600,
        "5Min" | "5T" => 300,
        "1Min" | "1T" => 60,
        _ => return None,
    })
}

/// `GET /v2/stocks/bars` and `/v1beta3/crypto/us/bars`: symbol-major, the limit across all
/// symbols, an opaque `next_page_token`.
pub(super) fn alpaca_bars(
    f: &Feed,
    q: &BTreeMap<String, String>,
    headers: &HeaderMap,
    crypto: bool,
) -> Reply {
    let has = |h: &str| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| !v.trim().is_empty())
    };
    let keyed = has("apca-api-key-id") && has("apca-api-secret-key");
    if !crypto && !keyed {
        return alpaca_error(401, "unauthorized.");
    }
    let Some(symbols) = q.get("symbols").filter(|s| !s.is_empty()) else {
        return alpaca_error(400, "missing symbols");
    };
    let Some(step) = q.get("timeframe").and_then(|t| alpaca_timeframe(t)) else {
        return alpaca_error(400, "invalid timeframe");
    };
    if !crypto {
        if let Some(a) = q.get("adjustment")
            && !a
                .split(',')
                .all(|x| matches!(x, "raw" | "split" | "dividend" | "spin-off" | "all"))
        {
            return alpaca_error(400, &format!("invalid adjustment: {a}"));
        }
        if let Some(feed) = q.get("feed")
            && !matches!(feed.as_str(), "sip" | "iex" | "otc" | "boats")
        {
            return alpaca_error(400, &format!("invalid feed: {feed}"));
        }
    }
    let now = f.now();
    let start = match q.get("start") {
        Some(s) => match instant(s) {
            Some(t) => t,
            None => return alpaca_error(400, &format!("invalid start: {s}")),
        },
        None => now.date_naive().and_time(NaiveTime::MIN).and_utc(),
    };
    let end = match q.get("end") {
        Some(s) => match instant(s) {
            Some(t) => t,
            None => return alpaca_error(400, &format!("invalid end: {s}")),
        },
        None => now,
    };
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 1000,
        Some(Ok(l)) if (1..=10_000).contains(&l) => l,
        Some(_) => return alpaca_error(400, "invalid limit: must be between 1 and 10000"),
    };
    let limit = f.page_limit.map_or(limit, |p| limit.min(p));
    let offset: usize = match q.get("page_token") {
        None => 0,
        Some(t) => match STANDARD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("off|").and_then(|n| n.parse().ok()))
        {
            Some(o) => o,
            None => return alpaca_error(400, "invalid page token"),
        },
    };
    let tz = if crypto {
        chrono_tz::America::Chicago
    } else {
        chrono_tz::America::New_York
    };
    let mut wanted: Vec<String> = symbols
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    wanted.sort();
    wanted.dedup();
    // The matching bars, symbol-major; the page is a window of them (only its bars are
    // built).
    let mut seen = 0usize;
    let mut bars: Map<String, Value> = Map::new();
    for sym in &wanted {
        let key = if crypto {
            sym.replace('/', "")
        } else {
            sym.clone()
        };
        let Some((series, rows)) = f.visible(&key) else {
            continue;
        };
        if series.interval != step {
            return alpaca_error(
                400,
                &format!(
                    "{sym}: this local venue serves {sym} at its file's bar length only ({} s)",
                    series.interval
                ),
            );
        }
        // Stamps rise with the rows: the range by bisection, then only the page's part.
        let lo = rows.partition_point(|r| stamp(series, r, Some(tz)) < start);
        let hi = rows
            .partition_point(|r| stamp(series, r, Some(tz)) <= end)
            .max(lo);
        let (first, count) = (seen, hi - lo);
        seen += count;
        let skip = offset.saturating_sub(first).min(count);
        let take = (offset + limit)
            .saturating_sub(first + skip)
            .min(count - skip);
        for r in &rows[lo + skip..lo + skip + take] {
            let t = stamp(series, r, Some(tz));
            let bar = json!({
                "t": t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "o": r.open, "h": r.high, "l": r.low, "c": r.close, "v": r.volume,
                "n": 1, "vw": (r.high + r.low + r.close) / 3.0,
            });
            if let Some(list) = bars
                .entry(sym.clone())
                .or_insert_with(|| Value::Array(vec![]))
                .as_array_mut()
            {
                list.push(bar);
            }
        }
    }
    let next = offset + limit;
    let token = (next < seen).then(|| STANDARD.encode(format!("off|{next}")));
    Reply::ok(json!({"bars": bars, "next_page_token": token}))
}

fn coinbase_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::status(
        status,
        json!({"error": code, "error_details": message, "message": message}),
    )
}

/// `GET …/products/{id}/candles`: newest first, at most 350 buckets, strings.
pub(super) fn coinbase_candles(f: &Feed, id: &str, q: &BTreeMap<String, String>) -> Reply {
    let g: i64 = match q.get("granularity").map(String::as_str) {
        Some("ONE_MINUTE") => 60,
        Some("FIVE_MINUTE") => 300,
        Some("FIFTEEN_MINUTE") => 900,
        Some("THIRTY_MINUTE") => 1800,
        Some("ONE_HOUR") => 3600,
        Some("TWO_HOUR") => 7200,
        Some("SIX_HOUR") => 21_600,
        Some("ONE_DAY") => 86_400,
        _ => return coinbase_error(400, "INVALID_ARGUMENT", "granularity argument is invalid"),
    };
    let secs = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok());
    let (Some(start), Some(end)) = (secs("start"), secs("end")) else {
        return coinbase_error(
            400,
            "INVALID_ARGUMENT",
            "start and end are required UNIX seconds",
        );
    };
    if end < start {
        return coinbase_error(400, "INVALID_ARGUMENT", "end must be after start");
    }
    if (end - start) / g + 1 > 350 {
        return coinbase_error(
            400,
            "INVALID_ARGUMENT",
            "start and end must be within 350 candles",
        );
    }
    let Some((series, rows)) = f.visible(&id.replace('-', "")) else {
        return coinbase_error(400, "INVALID_ARGUMENT", "ProductID is invalid");
    };
    if series.interval != g {
        return coinbase_error(
            400,
            "INVALID_ARGUMENT",
            "granularity not served for this product by the local venue",
        );
    }
    let mut candles: Vec<Value> = rows
        .iter()
        .map(|r| (stamp(series, r, None).timestamp(), r))
        .filter(|(t, _)| *t >= start && *t <= end)
        .map(|(t, r)| json!({
            "start": t.to_string(), "low": r.low.to_string(), "high": r.high.to_string(),
            "open": r.open.to_string(), "close": r.close.to_string(), "volume": r.volume.to_string(),
        }))
        .collect();
    candles.reverse();
    Reply::ok(json!({"candles": candles}))
}

fn binance_error(code: i64, msg: &str) -> Reply {
    Reply::status(400, json!({"code": code, "msg": msg}))
}

/// `GET /api/v3/klines`: arrays, strings for decimals, at most 1,000.
pub(super) fn binance_klines(f: &Feed, q: &BTreeMap<String, String>) -> Reply {
    let Some(sym) = q.get("symbol") else {
        return binance_error(
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        );
    };
    let step: i64 = match q.get("interval").map(String::as_str) {
        Some("1m") => 60,
        Some("5m") => 300,
        Some("15m") => 900,
        Some("1h") => 3600,
        Some("4h") => 14_400,
        Some("12h") => 43_200,
        Some("1d") => 86_400,
        _ => return binance_error(-1120, "Invalid interval."),
    };
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 500,
        Some(Ok(l)) if (1..=1000).contains(&l) => l,
        Some(_) => return binance_error(-1130, "Data sent for parameter 'limit' is not valid."),
    };
    let limit = f.page_limit.map_or(limit, |p| limit.min(p));
    let Some((series, rows)) = f.visible(sym) else {
        return binance_error(-1121, "Invalid symbol.");
    };
    if series.interval != step {
        return binance_error(-1120, "Invalid interval.");
    }
    let ms = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok());
    let (lo, hi) = (
        ms("startTime").unwrap_or(i64::MIN),
        ms("endTime").unwrap_or(i64::MAX),
    );
    let klines: Vec<Value> = rows
        .iter()
        .map(|r| (stamp(series, r, None).timestamp_millis(), r))
        .filter(|(t, _)| *t >= lo && *t <= hi)
        .take(limit)
        .map(|(t, r)| {
            json!([
                t,
                r.open.to_string(),
                r.high.to_string(),
                r.low.to_string(),
                r.close.to_string(),
                r.volume.to_string(),
                t + step * 1000 - 1,
                "0",
                0,
                "0",
                "0",
                "0"
            ])
        })
        .collect();
    Reply::ok(Value::Array(klines))
}

fn yahoo_error(status: u16, code: &str, description: &str) -> Reply {
    Reply::status(
        status,
        json!({"chart": {"result": null, "error": {"code": code, "description": description}}}),
    )
}

/// `GET /v8/finance/chart/{symbol}`: timestamps of the bars' opens, quote arrays, adjclose.
pub(super) fn yahoo_chart(f: &Feed, symbol: &str, q: &BTreeMap<String, String>) -> Reply {
    let key = symbol.strip_suffix(".SA").unwrap_or(symbol);
    let Some((series, rows)) = f.visible(key) else {
        return yahoo_error(404, "Not Found", "No data found, symbol may be delisted");
    };
    let step: i64 = match q.get("interval").map(String::as_str).unwrap_or("1d") {
        "1m" => 60,
        "5m" => 300,
        "60m" | "1h" => 3600,
        "1d" => 86_400,
        other => {
            return yahoo_error(
                422,
                "Unprocessable Entity",
                &format!("Invalid input - interval={other} is not supported."),
            );
        }
    };
    if step != series.interval {
        return yahoo_error(
            422,
            "Unprocessable Entity",
            "interval not served for this symbol by the local vendor",
        );
    }
    let secs = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok());
    let (p1, p2) = (
        secs("period1").unwrap_or(0),
        secs("period2").unwrap_or(i64::MAX),
    );
    let picked: Vec<&Row> = rows
        .iter()
        .filter(|r| r.open_at.timestamp() >= p1 && r.open_at.timestamp() < p2)
        .collect();
    let tz = match series.market {
        Market::B3 => chrono_tz::America::Sao_Paulo,
        Market::Crypto => chrono_tz::UTC,
        Market::Us => chrono_tz::America::New_York,
    };
    let offset = tz
        .offset_from_utc_datetime(&f.now().naive_utc())
        .fix()
        .local_minus_utc();
    let col = |g: fn(&Row) -> f64| picked.iter().map(|r| json!(g(r))).collect::<Vec<_>>();
    Reply::ok(json!({"chart": {"result": [{
        "meta": {
            "currency": if series.market == Market::B3 { "BRL" } else { "USD" },
            "symbol": symbol,
            "instrumentType": if series.market == Market::Crypto { "CRYPTOCURRENCY" } else { "EQUITY" },
            "exchangeTimezoneName": tz.name(),
            "gmtoffset": offset,
            "dataGranularity": q.get("interval").cloned().unwrap_or_else(|| "1d".into()),
        },
        "timestamp": picked.iter().map(|r| r.open_at.timestamp()).collect::<Vec<_>>(),
        "indicators": {
            "quote": [{"open": col(|r| r.open), "high": col(|r| r.high), "low": col(|r| r.low), "close": col(|r| r.close), "volume": col(|r| r.volume)}],
            "adjclose": [{"adjclose": col(|r| r.adj_close.unwrap_or(r.close))}],
        },
    }], "error": null}}))
}

/// `GET /query?function=…`: daily adjusted and news sentiment; errors inside a 200.
pub(super) fn alphavantage(f: &Feed, q: &BTreeMap<String, String>) -> Reply {
    if q.get("apikey").is_none_or(|k| k.trim().is_empty()) {
        return Reply::ok(
            json!({"Error Message": "the parameter apikey is invalid or missing. Please claim your free API key on (https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."}),
        );
    }
    match q.get("function").map(String::as_str) {
        Some("TIME_SERIES_DAILY_ADJUSTED") => av_daily(f, q),
        Some("NEWS_SENTIMENT") => av_news(f, q),
        other => Reply::ok(
            json!({"Error Message": format!("This API function ({}) does not exist.", other.unwrap_or(""))}),
        ),
    }
}

fn av_daily(f: &Feed, q: &BTreeMap<String, String>) -> Reply {
    let sym = q.get("symbol").cloned().unwrap_or_default();
    let Some((series, rows)) = f.visible(&sym).filter(|(s, _)| s.daily()) else {
        return Reply::ok(
            json!({"Error Message": "Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY_ADJUSTED."}),
        );
    };
    let _ = series;
    let compact = q.get("outputsize").is_none_or(|o| o != "full");
    let from = if compact {
        rows.len().saturating_sub(100)
    } else {
        0
    };
    let mut ts = Map::new();
    for r in rows[from..].iter().rev() {
        ts.insert(r.date.to_string(), json!({
            "1. open": r.open.to_string(), "2. high": r.high.to_string(), "3. low": r.low.to_string(),
            "4. close": r.close.to_string(), "5. adjusted close": r.adj_close.unwrap_or(r.close).to_string(),
            "6. volume": r.volume.to_string(), "7. dividend amount": r.dividend.unwrap_or(0.0).to_string(),
            "8. split coefficient": r.split.unwrap_or(1.0).to_string(),
        }));
    }
    let last = rows.last().map(|r| r.date.to_string()).unwrap_or_default();
    Reply::ok(json!({
        "Meta Data": {
            "1. Information": "Daily Time Series with Splits and Dividend Events",
            "2. Symbol": sym, "3. Last Refreshed": last,
            "4. Output Size": if compact { "Compact" } else { "Full size" }, "5. Time Zone": "US/Eastern",
        },
        "Time Series (Daily)": ts,
    }))
}

fn av_news(f: &Feed, q: &BTreeMap<String, String>) -> Reply {
    let tickers: Vec<String> = q
        .get("tickers")
        .map(|t| t.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let to_key = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let lo = q.get("time_from").map(|t| to_key(t)).unwrap_or_default();
    let hi = q
        .get("time_to")
        .map(|t| to_key(t))
        .unwrap_or_else(|| "9".repeat(14));
    let now = to_key(&f.now().format("%Y%m%dT%H%M%S").to_string());
    let feed: Vec<Value> = f
        .news
        .iter()
        .filter(|a| {
            let t = to_key(
                a.get("time_published")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            );
            let about = a
                .get("ticker_sentiment")
                .and_then(Value::as_array)
                .is_some_and(|l| {
                    l.iter().any(|x| {
                        x.get("ticker")
                            .and_then(Value::as_str)
                            .is_some_and(|k| tickers.iter().any(|w| w == k))
                    })
                });
            about
                && t[..12.min(t.len())] >= *lo.as_str()
                && t[..12.min(t.len())] <= *hi.as_str()
                && t <= now
        })
        .cloned()
        .collect();
    Reply::ok(json!({
        "items": feed.len().to_string(),
        "sentiment_score_definition": "x <= -0.35: Bearish; -0.35 < x <= -0.15: Somewhat-Bearish; -0.15 < x < 0.15: Neutral; 0.15 <= x < 0.35: Somewhat_Bullish; x >= 0.35: Bullish",
        "relevance_score_definition": "0 < x <= 1, with a higher score indicating higher relevance.",
        "feed": feed,
    }))
}
