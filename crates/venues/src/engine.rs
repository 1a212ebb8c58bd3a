//! What every local venue runs on: the price files, the paper engine's account at the
//! venue's clock, the request budget, the queued faults, and the admin paths
//! (`/fake/clock`, `/fake/faults`, `/fake/stats`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use systrade_backtest::CostModel;
use systrade_broker::paper::PaperBroker;
use systrade_broker::rate::TokenBucket;
use systrade_broker::{BrokerError, PaperConfig};
use systrade_core::{DailyBar, Market, Symbol};

use crate::VenueError;
use crate::faults::{FaultKind, Faults};
use crate::reply::Reply;

/// How a venue's engine starts.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Price files (a folder of daily CSVs, or a market database).
    pub data: PathBuf,
    /// The account's state (a paper-broker SQLite file; kept across restarts).
    pub state: PathBuf,
    /// The session the clock starts at (default: after the data's last bar).
    pub session: Option<NaiveDate>,
    pub cash: Decimal,
    pub currency: String,
    pub adjust: systrade_data::Adjust,
    pub costs: CostModel,
    /// Requests allowed per `window` before the venue answers 429.
    pub rate: u32,
    pub window: Duration,
    /// The venue trades around the clock: an order at session S fills at S's open at once
    /// (crypto); otherwise the clock is before S's open and orders wait for it (equities).
    pub round_the_clock: bool,
}

pub struct Engine {
    file: PathBuf,
    all: BTreeMap<Symbol, Vec<DailyBar>>,
    /// The bars the account has seen at the clock.
    visible: BTreeMap<Symbol, Vec<DailyBar>>,
    pub session: NaiveDate,
    cfg: PaperConfig,
    pub rate: u32,
    bucket: TokenBucket,
    window: Duration,
    faults: Faults,
    pub calls: u64,
    round_the_clock: bool,
    /// The session has opened (its open is seen: queued market orders fill at it); its
    /// bar plays when the clock moves on.
    pub open: bool,
    /// Every series is a crypto pair.
    pub crypto_data: bool,
    /// The venue's market data (bars of the sessions before the clock).
    feed: crate::market::Feed,
}

fn next_weekday(d: NaiveDate) -> NaiveDate {
    use chrono::Datelike;
    let mut n = d.succ_opt().unwrap_or(d);
    while n.weekday().number_from_monday() > 5 {
        n = n.succ_opt().unwrap_or(n);
    }
    n
}

impl Engine {
    pub fn new(o: &EngineOptions) -> Result<Engine, VenueError> {
        let opts = systrade_data::ParseOptions {
            adjust: o.adjust,
            ..Default::default()
        };
        let data_err = |e: systrade_data::DataError| VenueError::Data {
            path: o.data.display().to_string(),
            message: e.to_string(),
        };
        let src = systrade_data::source::DataSource::open(&o.data).map_err(data_err)?;
        let series = src.all_daily(&opts).map_err(data_err)?;
        let crypto_data = !series.is_empty() && series.iter().all(|s| s.market == Market::Crypto);
        let all: BTreeMap<Symbol, Vec<DailyBar>> =
            series.into_iter().map(|s| (s.symbol, s.bars)).collect();
        let last = all
            .values()
            .filter_map(|b| b.last().map(|x| x.ts))
            .max()
            .ok_or_else(|| VenueError::Data {
                path: o.data.display().to_string(),
                message: "no daily bars".into(),
            })?;
        let stored = systrade_broker::paper::stored(&o.state)?.map(|(d, _)| d);
        let after_last = if o.round_the_clock {
            last.succ_opt().unwrap_or(last)
        } else {
            next_weekday(last)
        };
        let session = o.session.or(stored).unwrap_or(after_last);
        let cfg = PaperConfig {
            account_id: "local".into(),
            currency: o.currency.clone(),
            initial_cash: o.cash,
            costs: o.costs,
            // Equities fill in whole shares; crypto pairs in any quantity.
            lot: (!crypto_data).then_some(Decimal::ONE),
            shorting: false,
            margin: Decimal::ONE,
            tape_volume_share: None,
        };
        let market = if crypto_data {
            Market::Crypto
        } else {
            Market::Us
        };
        let feed = crate::market::Feed::new(
            crate::market::from_daily(&all, market),
            &crate::market::Options::new(o.data.clone()),
        )?;
        let mut e = Engine {
            feed,
            file: o.state.clone(),
            visible: BTreeMap::new(),
            all,
            session,
            cfg,
            rate: o.rate.max(1),
            bucket: TokenBucket::new(o.rate.max(1), o.window),
            window: o.window,
            faults: Faults::default(),
            calls: 0,
            round_the_clock: o.round_the_clock,
            open: false,
            crypto_data,
        };
        e.visible = e.seen(session);
        e.broker()?;
        Ok(e)
    }

    /// The bars seen at `d`: before it, and its open too when the venue trades around the
    /// clock.
    fn seen(&self, d: NaiveDate) -> BTreeMap<Symbol, Vec<DailyBar>> {
        self.all
            .iter()
            .map(|(s, b)| {
                let bars = b
                    .iter()
                    .filter(|x| x.ts < d || ((self.round_the_clock || self.open) && x.ts == d))
                    .cloned()
                    .collect();
                (s.clone(), bars)
            })
            .collect()
    }

    /// The account at the clock.
    pub fn broker(&self) -> Result<PaperBroker<'_>, BrokerError> {
        PaperBroker::open(
            &self.file,
            self.cfg.clone(),
            &self.visible,
            self.session,
            systrade_broker::Faults::none(),
        )
    }

    /// The latest price the venue shows for `s`: the session's open around the clock, else
    /// the last close.
    pub fn last_price(&self, s: &Symbol) -> Option<f64> {
        let b = self.visible.get(s)?.last()?;
        Some(if b.ts == self.session {
            b.open
        } else {
            b.close
        })
    }

    pub fn knows(&self, s: &Symbol) -> bool {
        self.all.contains_key(s)
    }

    /// Every session the data has between `start` and `end`.
    pub fn sessions(&self) -> std::collections::BTreeSet<NaiveDate> {
        self.all
            .values()
            .flat_map(|b| b.iter().map(|x| x.ts))
            .collect()
    }

    /// How long a request must wait for the budget (zero: it is counted now).
    pub fn over_limit(&mut self) -> Duration {
        let now = Instant::now();
        let wait = self.bucket.wait(now);
        if wait.is_zero() {
            self.bucket.record(now);
            self.calls += 1;
        }
        wait
    }

    /// A market-data request (Alpaca bars, Coinbase candles): the bars of the sessions
    /// before the clock, as the venue's vendor serves them; `None` for any other path.
    pub fn market_data(
        &mut self,
        method: &axum::http::Method,
        uri: &axum::http::Uri,
        headers: &axum::http::HeaderMap,
    ) -> Option<Reply> {
        let market = if self.crypto_data {
            Market::Crypto
        } else {
            Market::Us
        };
        // Just before the session's open: its bar is not there yet.
        self.feed.now =
            Some(crate::market::session_open(self.session, market) - chrono::Duration::seconds(60));
        self.feed.route(method, uri, headers)
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    pub fn take_fault(&mut self, op: &str) -> Option<FaultKind> {
        self.faults.take(op)
    }

    /// The admin paths; `None` for any other.
    pub fn admin(&mut self, method: &str, path: &str, body: &[u8]) -> Option<Reply> {
        Some(match (method, path) {
            ("POST", "/fake/clock") => self.set_clock(body),
            ("POST", "/fake/faults") => self.queue_faults(body),
            ("GET", "/fake/stats") => {
                Reply::ok(json!({"calls": self.calls, "session": self.session.to_string()}))
            }
            _ => return None,
        })
    }

    /// `POST /fake/clock {"session": D, "phase": "pre_open" | "open"}`: the clock moves to
    /// D (before its open by default; `open`: the open has happened, queued market orders
    /// fill at it), playing the bars between. It never goes back.
    fn set_clock(&mut self, body: &[u8]) -> Reply {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let day = v
            .get("session")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<NaiveDate>().ok());
        let open = match v.get("phase").and_then(Value::as_str) {
            None | Some("pre_open") => false,
            Some("open") => true,
            Some(other) => {
                return Reply::status(
                    422,
                    json!({"message": format!("phase {other:?}: pre_open or open")}),
                );
            }
        };
        let Some(d) = day else {
            return Reply::status(
                422,
                json!({"message": "body must be {\"session\": \"YYYY-MM-DD\"} (and \"phase\": \"open\" for after the open)"}),
            );
        };
        if (d, open) < (self.session, self.open) {
            return Reply::status(
                422,
                json!({"message": format!("the clock is at {} and never goes back", self.session)}),
            );
        }
        self.session = d;
        self.open = open;
        self.visible = self.seen(d);
        match self.broker() {
            Ok(_) => Reply::ok(
                json!({"session": d.to_string(), "phase": if open { "open" } else { "pre_open" }}),
            ),
            Err(e) => Reply::status(500, json!({"message": e.to_string()})),
        }
    }

    /// `POST /fake/faults {"faults": ["op:what", …], "clear": bool}`.
    fn queue_faults(&mut self, body: &[u8]) -> Reply {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let Some(list) = v
            .get("faults")
            .cloned()
            .and_then(|f| serde_json::from_value::<Vec<String>>(f).ok())
        else {
            return Reply::status(
                422,
                json!({"message": "body must be {\"faults\": [\"op:what\", …]}"}),
            );
        };
        if v.get("clear").and_then(Value::as_bool) == Some(true) {
            self.faults = Faults::default();
        }
        for f in list {
            match f.parse() {
                Ok(f) => self.faults.push(f),
                Err(e) => return Reply::status(422, json!({"message": e.to_string()})),
            }
        }
        Reply::ok(json!({"queued": true}))
    }
}
