//! Local market-data vendors: the bar endpoints of Alpaca market data v2, Coinbase's
//! public candles, Binance klines, Yahoo's chart API and Alpha Vantage (daily adjusted and
//! news sentiment), served from price files as each vendor answers — its JSON shapes,
//! page limits, errors, 429s with `Retry-After`, Binance's 418 for a client that does not
//! wait, Alpha Vantage's throttle note inside a 200 — with a clock that hides the bars of
//! the future and stamps `Date`.
//!
//! Admin paths (tests): `POST /fake/clock {"now": RFC 3339}`, `POST /fake/faults
//! {"faults": ["bars:429", "bars:418", "bars:throttle", "bars:503"]}`, `POST /fake/revise
//! {"symbol", "date", "close"}`, `POST /fake/delay {"ms"}`, `GET /fake/stats`.

mod feed;
mod vendors;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, Method, Uri};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use systrade_core::rate::TokenBucket;

pub use feed::{Row, Series, from_daily, load, session_open};

use crate::VenueError;
use crate::faults::{FaultKind, Faults};
use crate::reply::{Reply, url_pairs};

/// How a local data vendor starts.
#[derive(Debug, Clone)]
pub struct Options {
    /// A folder of price files in any layout `data import` reads.
    pub data: PathBuf,
    /// The vendor's clock (default: this machine's).
    pub now: Option<DateTime<Utc>>,
    /// Requests allowed per `window` before it answers 429 (Alpha Vantage: its note).
    pub rate: u32,
    pub window: Duration,
    /// A page never holds more than this many bars (default: each vendor's own maximum).
    pub page_limit: Option<usize>,
    /// Articles in Alpha Vantage's `NEWS_SENTIMENT` shape (a JSON file with a `feed`).
    pub news: Option<PathBuf>,
}

impl Options {
    pub fn new(data: PathBuf) -> Options {
        Options {
            data,
            now: None,
            rate: 100_000,
            window: Duration::from_secs(60),
            page_limit: None,
            news: None,
        }
    }
}

/// Counters a test reads.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub calls: u64,
    pub rate_limited: u64,
    /// 418s: requests that came before the `Retry-After` of a 429 had passed.
    pub banned: u64,
    pub throttled: u64,
}

/// The vendor's state.
pub struct Feed {
    pub series: BTreeMap<String, Series>,
    pub now: Option<DateTime<Utc>>,
    pub page_limit: Option<usize>,
    news: Vec<Value>,
    faults: Faults,
    bucket: TokenBucket,
    rate: u32,
    retry_at: Option<Instant>,
    delay: Duration,
    pub stats: Stats,
}

/// What a data request is, by path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    AlpacaStocks,
    AlpacaCrypto,
    CoinbaseCandles(String),
    BinanceKlines,
    BinanceTime,
    YahooChart(String),
    AlphaVantage,
}

impl Endpoint {
    pub fn of(method: &str, path: &str) -> Option<Endpoint> {
        if method != "GET" {
            return None;
        }
        let candles = |p: &str| {
            p.strip_suffix("/candles")
                .filter(|id| !id.is_empty() && !id.contains('/'))
                .map(|id| Endpoint::CoinbaseCandles(id.to_string()))
        };
        Some(match path {
            "/v2/stocks/bars" => Endpoint::AlpacaStocks,
            "/v1beta3/crypto/us/bars" => Endpoint::AlpacaCrypto,
            "/api/v3/klines" => Endpoint::BinanceKlines,
            "/api/v3/time" => Endpoint::BinanceTime,
            "/query" => Endpoint::AlphaVantage,
            p => {
                if let Some(rest) = p
                    .strip_prefix("/api/v3/brokerage/market/products/")
                    .or_else(|| p.strip_prefix("/api/v3/brokerage/products/"))
                {
                    return candles(rest);
                }
                let sym = p.strip_prefix("/v8/finance/chart/")?;
                (!sym.is_empty()).then(|| Endpoint::YahooChart(sym.to_string()))?
            }
        })
    }
}

impl Feed {
    pub fn new(series: BTreeMap<String, Series>, o: &Options) -> Result<Feed, VenueError> {
        let news = match &o.news {
            None => Vec::new(),
            Some(p) => {
                let bad = |m: String| VenueError::Data {
                    path: p.display().to_string(),
                    message: m,
                };
                let text = std::fs::read_to_string(p).map_err(|e| bad(e.to_string()))?;
                let v: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
                v.get("feed")
                    .and_then(Value::as_array)
                    .cloned()
                    .ok_or_else(|| bad("no \"feed\" array (NEWS_SENTIMENT shape)".into()))?
            }
        };
        Ok(Feed {
            series,
            now: o.now,
            page_limit: o.page_limit,
            news,
            faults: Faults::default(),
            bucket: TokenBucket::new(o.rate.max(1), o.window),
            rate: o.rate.max(1),
            retry_at: None,
            delay: Duration::ZERO,
            stats: Stats::default(),
        })
    }

    /// The vendor's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.now.unwrap_or_else(Utc::now)
    }

    /// Answers a data request; `None` when `method path` is not one.
    pub fn route(&mut self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Reply> {
        let ep = Endpoint::of(method.as_str(), uri.path())?;
        let q: BTreeMap<String, String> = uri
            .query()
            .map(|q| url_pairs(q).into_iter().collect())
            .unwrap_or_default();
        self.stats.calls += 1;
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        let mut reply = self.limited(&ep).unwrap_or_else(|| {
            self.fault(&ep)
                .unwrap_or_else(|| self.answer(&ep, &q, headers))
        });
        reply
            .headers
            .push(("date", self.now().to_rfc2822().replace("+0000", "GMT")));
        Some(reply)
    }

    /// The rate limit: 429 with `Retry-After` (Alpha Vantage: its note); a request before
    /// the wait a 429 named has passed is hammering (Binance bans it: 418).
    fn limited(&mut self, ep: &Endpoint) -> Option<Reply> {
        let now = Instant::now();
        if let Some(at) = self.retry_at
            && now < at
            && *ep == Endpoint::BinanceKlines
        {
            self.stats.banned += 1;
            let secs = (at - now).as_secs() + 2;
            return Some(vendors::with_retry_after(
                Reply::status(
                    418,
                    json!({"code": -1003, "msg": format!("Way too many requests; IP banned until {secs} s from now.")}),
                ),
                secs,
            ));
        }
        let wait = self.bucket.wait(now);
        if wait.is_zero() {
            self.bucket.record(now);
            return None;
        }
        let secs = wait.as_secs() + 1;
        self.retry_at = Some(now + Duration::from_secs(secs));
        if *ep == Endpoint::AlphaVantage {
            self.stats.throttled += 1;
            return Some(vendors::av_note(self.rate));
        }
        self.stats.rate_limited += 1;
        Some(vendors::too_many(ep, secs))
    }

    fn fault(&mut self, ep: &Endpoint) -> Option<Reply> {
        let f = self.faults.take("bars")?;
        Some(match f {
            FaultKind::Throttle if *ep == Endpoint::AlphaVantage => {
                self.stats.throttled += 1;
                vendors::av_note(self.rate)
            }
            FaultKind::Status(418) => {
                self.stats.banned += 1;
                vendors::with_retry_after(
                    Reply::status(
                        418,
                        json!({"code": -1003, "msg": "Way too many requests; IP banned."}),
                    ),
                    1,
                )
            }
            FaultKind::Status(s) if s >= 500 => {
                Reply::status(s, json!({"message": "Internal Server Error"}))
            }
            _ => {
                self.stats.rate_limited += 1;
                self.retry_at = Some(Instant::now() + Duration::from_secs(1));
                vendors::too_many(ep, 1)
            }
        })
    }

    fn answer(
        &mut self,
        ep: &Endpoint,
        q: &BTreeMap<String, String>,
        headers: &HeaderMap,
    ) -> Reply {
        let now = self.now();
        match ep {
            Endpoint::AlpacaStocks => vendors::alpaca_bars(self, q, headers, false),
            Endpoint::AlpacaCrypto => vendors::alpaca_bars(self, q, headers, true),
            Endpoint::CoinbaseCandles(id) => vendors::coinbase_candles(self, id, q),
            Endpoint::BinanceKlines => vendors::binance_klines(self, q),
            Endpoint::BinanceTime => Reply::ok(json!({"serverTime": now.timestamp_millis()})),
            Endpoint::YahooChart(s) => vendors::yahoo_chart(self, s, q),
            Endpoint::AlphaVantage => vendors::alphavantage(self, q),
        }
    }

    /// The rows of `symbol` the vendor shows now (opened at or before its clock).
    pub fn visible(&self, symbol: &str) -> Option<(&Series, &[Row])> {
        let s = self.series.get(symbol)?;
        let now = self.now();
        let n = s.rows.partition_point(|r| r.open_at <= now);
        Some((s, &s.rows[..n]))
    }

    /// The admin paths; `None` for any other.
    pub fn admin(&mut self, method: &str, path: &str, body: &[u8]) -> Option<Reply> {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        Some(match (method, path) {
            ("GET", "/fake/stats") => Reply::ok(json!({
                "calls": self.stats.calls,
                "rate_limited": self.stats.rate_limited,
                "banned": self.stats.banned,
                "throttled": self.stats.throttled,
                "now": self.now().to_rfc3339(),
            })),
            ("POST", "/fake/clock") => {
                match v
                    .get("now")
                    .and_then(Value::as_str)
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                {
                    Some(t) => {
                        self.now = Some(t.with_timezone(&Utc));
                        Reply::ok(json!({"now": t.to_rfc3339()}))
                    }
                    None => {
                        Reply::status(422, json!({"message": "body must be {\"now\": RFC 3339}"}))
                    }
                }
            }
            ("POST", "/fake/delay") => {
                self.delay =
                    Duration::from_millis(v.get("ms").and_then(Value::as_u64).unwrap_or(0));
                Reply::ok(json!({"ms": self.delay.as_millis() as u64}))
            }
            ("POST", "/fake/faults") => {
                let Some(list) = v
                    .get("faults")
                    .cloned()
                    .and_then(|f| serde_json::from_value::<Vec<String>>(f).ok())
                else {
                    return Some(Reply::status(
                        422,
                        json!({"message": "body must be {\"faults\": [\"bars:429\", …]}"}),
                    ));
                };
                for f in list {
                    match f.parse() {
                        Ok(f) => self.faults.push(f),
                        Err(e) => {
                            return Some(Reply::status(422, json!({"message": e.to_string()})));
                        }
                    }
                }
                Reply::ok(json!({"queued": true}))
            }
            ("POST", "/fake/revise") => self.revise(&v),
            _ => return None,
        })
    }

    /// `{"symbol", "date", "close"}`: the vendor revises a bar's close (high and low widen
    /// to hold it).
    fn revise(&mut self, v: &Value) -> Reply {
        let sym = v.get("symbol").and_then(Value::as_str).unwrap_or("");
        let date = v
            .get("date")
            .and_then(Value::as_str)
            .and_then(|d| d.parse::<NaiveDate>().ok());
        let close = v
            .get("close")
            .and_then(Value::as_f64)
            .filter(|c| c.is_finite() && *c > 0.0);
        let (Some(d), Some(c)) = (date, close) else {
            return Reply::status(
                422,
                json!({"message": "body must be {\"symbol\", \"date\": YYYY-MM-DD, \"close\": > 0}"}),
            );
        };
        let Some(row) = self
            .series
            .get_mut(sym)
            .and_then(|s| s.rows.iter_mut().find(|r| r.date == d))
        else {
            return Reply::status(404, json!({"message": format!("no bar of {sym} on {d}")}));
        };
        row.close = c;
        row.high = row.high.max(c);
        row.low = row.low.min(c);
        Reply::ok(json!({"revised": true}))
    }
}

/// The standalone vendor: every provider's endpoints on one port.
struct DataServer {
    feed: Feed,
}

impl crate::serve::Routes for DataServer {
    fn route(&mut self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Reply {
        if let Some(r) = self.feed.admin(method.as_str(), uri.path(), body) {
            return r;
        }
        self.feed.route(method, uri, headers).unwrap_or_else(|| {
            Reply::status(
                404,
                json!({"message": "no such endpoint at this local data vendor"}),
            )
        })
    }
}

/// The standalone data vendor as an app.
pub fn app(o: &Options) -> Result<Router, VenueError> {
    let feed = Feed::new(load(&o.data)?, o)?;
    Ok(crate::serve::app_of(DataServer { feed }))
}

/// Symbols and their bar counts, for a banner.
pub fn summary(o: &Options) -> Result<String, VenueError> {
    let s = load(&o.data)?;
    let bars: usize = s.values().map(|x| x.rows.len()).sum();
    Ok(format!("{} series, {bars} bars", s.len()))
}
