//! A local Alpaca (trading API v2, `broker-apis.md` §1) over the paper broker's engine.
//!
//! What it does as Alpaca does: the `APCA-API-KEY-ID`/`APCA-API-SECRET-KEY` headers (401
//! otherwise), 200 requests a minute (429 with `X-RateLimit-*`), decimals as strings,
//! `BTC/USD` in orders and `BTCUSD` in positions, an order placed before the open is
//! `accepted` and cannot be PATCHed until it reaches the exchange (422), a GTC order from an
//! earlier session is `new`, replaced orders are `replaced` with `replaced_by`, a sub-penny
//! price is a 422, a fractional quantity only in a market day order, a duplicate
//! `client_order_id` is a 422, what the account cannot pay or hold is a 403, cancel-all is a
//! 207, fills are `FILL` activities paged by `page_token`.
//!
//! What it does not: notional orders, `opg`/`cls`/`fok`, trailing stops, brackets, partial
//! fills of its own (a queued fault can make them).

mod orders;
mod wire;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{HeaderMap, Method, Uri};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use systrade_broker::BrokerError;
use systrade_broker::paper::PaperBroker;
use systrade_core::Symbol;

use crate::VenueError;
use crate::engine::{Engine, EngineOptions};
use crate::faults::FaultKind;
use crate::reply::{Reply, url_pairs};

/// How a local Alpaca starts.
#[derive(Debug, Clone)]
pub struct Options {
    pub engine: EngineOptions,
    /// The key pair requests must carry.
    pub key_id: String,
    pub secret: String,
    /// Answer as a live account (its number does not start with `PA`).
    pub live: bool,
}

impl Options {
    /// A local Alpaca on `data` with its state in `state`: $100k, 200 requests a minute,
    /// equities before the open of `session`.
    pub fn new(data: PathBuf, state: PathBuf, key_id: &str, secret: &str) -> Options {
        Options {
            engine: EngineOptions {
                data,
                state,
                session: None,
                cash: Decimal::from(100_000),
                currency: "USD".into(),
                adjust: systrade_data::Adjust::Split,
                costs: Default::default(),
                rate: 200,
                window: Duration::from_secs(60),
                round_the_clock: false,
            },
            key_id: key_id.to_string(),
            secret: secret.to_string(),
            live: false,
        }
    }
}

/// The venue's state behind one lock: every request is served in order.
pub(crate) struct Venue {
    engine: Engine,
    key_id: String,
    secret: String,
    live: bool,
    account_uuid: String,
    /// Pairs ordered as `BTC/USD`: answered with the slash in orders.
    crypto: BTreeSet<Symbol>,
    /// Replaced order (venue id) → the order replacing it.
    replaced: HashMap<String, String>,
}

fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Alpaca's 429: its error body and the rate-limit headers, reset in `wait`.
fn too_many(limit: u32, wait: Duration) -> Reply {
    let mut r = Reply::error(429, 42910000, "rate limit exceeded");
    r.headers = vec![
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", "0".into()),
        (
            "x-ratelimit-reset",
            (epoch_now() + wait.as_secs() + 1).to_string(),
        ),
    ];
    r
}

impl Venue {
    fn new(o: &Options) -> Result<Venue, VenueError> {
        if o.key_id.is_empty() || o.secret.is_empty() {
            return Err(VenueError::Setup(
                "set APCA_API_KEY_ID and APCA_API_SECRET_KEY (any values) in the venue's environment: requests must carry the same pair".into(),
            ));
        }
        let mut engine = Engine::new(&o.engine)?;
        if engine.crypto_data && !o.engine.round_the_clock {
            // Crypto pairs trade around the clock at Alpaca too.
            let mut around = o.engine.clone();
            around.round_the_clock = true;
            engine = Engine::new(&around)?;
        }
        Ok(Venue {
            engine,
            key_id: o.key_id.clone(),
            secret: o.secret.clone(),
            live: o.live,
            account_uuid: "e6fe16f3-64a4-4921-8928-cadf02f92f98".into(),
            crypto: BTreeSet::new(),
            replaced: HashMap::new(),
        })
    }

    pub(crate) fn broker(&self) -> Result<PaperBroker<'_>, BrokerError> {
        self.engine.broker()
    }

    pub(crate) fn session(&self) -> NaiveDate {
        self.engine.session
    }

    /// The session has opened: orders sent now are at the exchange.
    pub(crate) fn is_open(&self) -> bool {
        self.engine.open
    }

    pub(crate) fn calls(&self) -> u64 {
        self.engine.calls
    }

    pub(crate) fn knows(&self, s: &Symbol) -> bool {
        self.engine.knows(s)
    }

    fn authorized(&self, h: &HeaderMap) -> bool {
        let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
        get("apca-api-key-id") == self.key_id && get("apca-api-secret-key") == self.secret
    }

    fn status_fault(status: u16) -> Reply {
        match status {
            401 => Reply::error(401, 40110000, "request is not authorized"),
            429 => too_many(200, Duration::ZERO),
            500 => Reply::status(500, json!({"message": "Internal Server Error"})),
            s => Reply::status(s, json!({"message": format!("HTTP {s}")})),
        }
    }

    fn route_request(
        &mut self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Reply {
        let path = uri.path();
        let query: BTreeMap<String, String> = uri
            .query()
            .map(|q| {
                url_pairs(q)
                    .into_iter()
                    .collect::<BTreeMap<String, String>>()
            })
            .unwrap_or_default();
        if let Some(r) = self.engine.admin(method.as_str(), path, body) {
            return r;
        }
        if let Some(r) = self.engine.market_data(method, uri, headers) {
            return r;
        }
        if !self.authorized(headers) {
            return Reply::error(401, 40110000, "request is not authorized");
        }
        let wait = self.engine.over_limit();
        if !wait.is_zero() {
            return too_many(self.engine.rate, wait);
        }
        let Some(op) = operation(method.as_str(), path) else {
            return Reply::error(404, 40410000, "endpoint not found");
        };
        let fault = self.engine.take_fault(op.name());
        if let Some(FaultKind::Status(s)) = fault {
            return Self::status_fault(s);
        }
        let reply = self.serve(op, &query, body, fault == Some(FaultKind::Quirk));
        match fault {
            Some(FaultKind::Lost) => Reply::status(504, json!({"message": "Gateway Timeout"})),
            _ => reply,
        }
    }

    fn serve(
        &mut self,
        op: Operation<'_>,
        query: &BTreeMap<String, String>,
        body: &[u8],
        quirk: bool,
    ) -> Reply {
        let r = match op {
            Operation::Account => self.account(),
            Operation::Clock => Ok(Reply::ok(wire::clock(
                self.engine.session,
                self.engine.open,
            ))),
            Operation::Calendar => Ok(self.calendar(query)),
            Operation::Positions => self.positions(),
            Operation::Orders => self.list_orders(query),
            Operation::Submit => self.submit(body),
            Operation::CancelAll => self.cancel_all(),
            Operation::ByClientId => self.by_client_id(query),
            Operation::Order(id) => self.get_order(id),
            Operation::Replace(id) => self.replace(id, body, quirk),
            Operation::Cancel(id) => self.cancel(id),
            Operation::Activities => self.activities(query),
        };
        r.unwrap_or_else(|e| Reply::status(500, json!({"message": e.to_string()})))
    }

    fn account(&self) -> Result<Reply, BrokerError> {
        use systrade_broker::Broker;
        let a = self.broker()?.account()?;
        Ok(Reply::ok(wire::account(&self.account_uuid, self.live, &a)))
    }

    fn calendar(&self, q: &BTreeMap<String, String>) -> Reply {
        let start = q
            .get("start")
            .and_then(|s| s.get(..10)?.parse::<NaiveDate>().ok());
        let end = q
            .get("end")
            .and_then(|s| s.get(..10)?.parse::<NaiveDate>().ok());
        let days: BTreeSet<NaiveDate> = self
            .engine
            .sessions()
            .into_iter()
            .filter(|d| start.is_none_or(|s| *d >= s) && end.is_none_or(|e| *d <= e))
            .collect();
        Reply::ok(Value::Array(
            days.into_iter().map(wire::calendar_day).collect(),
        ))
    }

    fn positions(&self) -> Result<Reply, BrokerError> {
        use systrade_broker::Broker;
        let held = self.broker()?.positions()?;
        Ok(Reply::ok(Value::Array(
            held.iter()
                .map(|p| {
                    wire::position(
                        p,
                        self.engine.last_price(&p.symbol),
                        self.crypto.contains(&p.symbol),
                    )
                })
                .collect(),
        )))
    }
}

/// What a request asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Operation<'p> {
    Account,
    Clock,
    Calendar,
    Positions,
    Orders,
    Submit,
    CancelAll,
    ByClientId,
    Order(&'p str),
    Replace(&'p str),
    Cancel(&'p str),
    Activities,
}

impl Operation<'_> {
    /// The name faults are queued under.
    fn name(&self) -> &'static str {
        match self {
            Operation::Account => "account",
            Operation::Clock => "clock",
            Operation::Calendar => "calendar",
            Operation::Positions => "positions",
            Operation::Orders => "orders",
            Operation::Submit => "submit",
            Operation::CancelAll => "cancel_all",
            Operation::ByClientId | Operation::Order(_) => "order",
            Operation::Replace(_) => "replace",
            Operation::Cancel(_) => "cancel",
            Operation::Activities => "activities",
        }
    }
}

fn operation<'p>(method: &str, path: &'p str) -> Option<Operation<'p>> {
    let path = path.trim_end_matches('/');
    Some(match (method, path) {
        ("GET", "/v2/account") => Operation::Account,
        ("GET", "/v2/clock") => Operation::Clock,
        ("GET", "/v2/calendar") => Operation::Calendar,
        ("GET", "/v2/positions") => Operation::Positions,
        ("GET", "/v2/orders") => Operation::Orders,
        ("POST", "/v2/orders") => Operation::Submit,
        ("DELETE", "/v2/orders") => Operation::CancelAll,
        ("GET", "/v2/orders:by_client_order_id") => Operation::ByClientId,
        ("GET", "/v2/account/activities/FILL") | ("GET", "/v2/account/activities") => {
            Operation::Activities
        }
        (m, p) => {
            let id = p.strip_prefix("/v2/orders/").filter(|i| !i.contains('/'))?;
            match m {
                "GET" => Operation::Order(id),
                "PATCH" => Operation::Replace(id),
                "DELETE" => Operation::Cancel(id),
                _ => return None,
            }
        }
    })
}

pub fn app(o: &Options) -> Result<Router, VenueError> {
    Ok(crate::serve::app_of(Venue::new(o)?))
}

/// The session the venue's clock starts at, for its banner.
pub fn starting_session(o: &Options) -> Result<NaiveDate, VenueError> {
    Ok(Venue::new(o)?.engine.session)
}

impl crate::serve::Routes for Venue {
    fn route(&mut self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Reply {
        self.route_request(method, uri, headers, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_paths_name_their_operation() {
        assert!(matches!(
            operation("GET", "/v2/orders/abc"),
            Some(Operation::Order("abc"))
        ));
        assert!(matches!(
            operation("PATCH", "/v2/orders/abc"),
            Some(Operation::Replace("abc"))
        ));
        assert!(matches!(
            operation("GET", "/v2/orders:by_client_order_id"),
            Some(Operation::ByClientId)
        ));
        assert!(operation("PUT", "/v2/orders/abc").is_none());
        assert!(operation("GET", "/v2/nothing").is_none());
    }
}
