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
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use systrade_broker::paper::PaperBroker;
use systrade_broker::rate::TokenBucket;
use systrade_broker::{BrokerError, PaperConfig};
use systrade_core::{DailyBar, Symbol};

use crate::VenueError;
use crate::faults::{FaultKind, Faults};

/// How a local Alpaca starts.
#[derive(Debug, Clone)]
pub struct Options {
    /// Price files (a folder of daily CSVs, or a market database).
    pub data: PathBuf,
    /// The account's state (a paper-broker SQLite file; kept across restarts).
    pub state: PathBuf,
    /// The session the clock starts at (default: the session after the data's last bar).
    pub session: Option<NaiveDate>,
    pub cash: Decimal,
    /// The key pair requests must carry.
    pub key_id: String,
    pub secret: String,
    /// Answer as a live account (its number does not start with `PA`).
    pub live: bool,
    /// Requests a minute before 429.
    pub rate_per_minute: u32,
    pub adjust: systrade_data::Adjust,
}

/// An answer: status, JSON body (none for 204) and extra headers.
pub(crate) struct Reply {
    status: u16,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub(crate) fn ok(body: Value) -> Reply {
        Reply {
            status: 200,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    pub(crate) fn status(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    /// The venue's error body: `{"code": <status>…, "message": …}`.
    pub(crate) fn error(status: u16, code: u64, message: impl Into<String>) -> Reply {
        Reply::status(status, json!({"code": code, "message": message.into()}))
    }

    pub(crate) fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: None,
            headers: Vec::new(),
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = match self.body {
            Some(b) => (status, axum::Json(b)).into_response(),
            None => status.into_response(),
        };
        for (k, v) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                resp.headers_mut().insert(k, v);
            }
        }
        resp
    }
}

/// The venue's state behind one lock: every request is served in order.
pub(crate) struct Venue {
    file: PathBuf,
    all: BTreeMap<Symbol, Vec<DailyBar>>,
    /// The bars before the clock's session: what the account has seen.
    visible: BTreeMap<Symbol, Vec<DailyBar>>,
    session: NaiveDate,
    cfg: PaperConfig,
    key_id: String,
    secret: String,
    live: bool,
    account_uuid: String,
    rate_per_minute: u32,
    bucket: TokenBucket,
    faults: Faults,
    /// Pairs ordered as `BTC/USD`: answered with the slash in orders.
    crypto: BTreeSet<Symbol>,
    /// Replaced order (venue id) → the order replacing it.
    replaced: HashMap<String, String>,
    calls: u64,
}

fn before(all: &BTreeMap<Symbol, Vec<DailyBar>>, d: NaiveDate) -> BTreeMap<Symbol, Vec<DailyBar>> {
    all.iter()
        .map(|(s, b)| (s.clone(), b.iter().filter(|x| x.ts < d).cloned().collect()))
        .collect()
}

fn next_weekday(d: NaiveDate) -> NaiveDate {
    use chrono::Datelike;
    let mut n = d.succ_opt().unwrap_or(d);
    while n.weekday().number_from_monday() > 5 {
        n = n.succ_opt().unwrap_or(n);
    }
    n
}

impl Venue {
    fn new(o: &Options) -> Result<Venue, VenueError> {
        if o.key_id.is_empty() || o.secret.is_empty() {
            return Err(VenueError::Setup(
                "set APCA_API_KEY_ID and APCA_API_SECRET_KEY (any values) in the venue's environment: requests must carry the same pair".into(),
            ));
        }
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
        // Equities fill in whole shares unless the order asked for a fraction; a venue of
        // crypto pairs fills any quantity.
        let crypto_data = series
            .iter()
            .any(|s| s.market == systrade_core::Market::Crypto);
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
        let session = o.session.or(stored).unwrap_or_else(|| next_weekday(last));
        let cfg = PaperConfig {
            account_id: "alpaca-local".into(),
            currency: "USD".into(),
            initial_cash: o.cash,
            costs: Default::default(),
            lot: (!crypto_data).then_some(Decimal::ONE),
            shorting: false,
            margin: Decimal::ONE,
        };
        let v = Venue {
            file: o.state.clone(),
            visible: before(&all, session),
            all,
            session,
            cfg,
            key_id: o.key_id.clone(),
            secret: o.secret.clone(),
            live: o.live,
            account_uuid: "e6fe16f3-64a4-4921-8928-cadf02f92f98".into(),
            rate_per_minute: o.rate_per_minute.max(1),
            bucket: TokenBucket::new(o.rate_per_minute.max(1), std::time::Duration::from_secs(60)),
            faults: Faults::default(),
            crypto: BTreeSet::new(),
            replaced: HashMap::new(),
            calls: 0,
        };
        v.broker()?;
        Ok(v)
    }

    pub(crate) fn broker(&self) -> Result<PaperBroker<'_>, BrokerError> {
        PaperBroker::open(
            &self.file,
            self.cfg.clone(),
            &self.visible,
            self.session,
            systrade_broker::Faults::none(),
        )
    }

    /// The last close the account has seen of `s`.
    pub(crate) fn last_close(&self, s: &Symbol) -> Option<f64> {
        self.visible.get(s).and_then(|b| b.last()).map(|b| b.close)
    }

    pub(crate) fn knows(&self, s: &Symbol) -> bool {
        self.all.contains_key(s)
    }

    fn authorized(&self, h: &HeaderMap) -> bool {
        let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
        get("apca-api-key-id") == self.key_id && get("apca-api-secret-key") == self.secret
    }

    /// A 429 when the minute's requests are spent, else the request is counted.
    fn throttle(&mut self) -> Option<Reply> {
        let now = Instant::now();
        let wait = self.bucket.wait(now);
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        if !wait.is_zero() {
            let mut r = Reply::error(429, 42910000, "rate limit exceeded");
            r.headers = vec![
                ("x-ratelimit-limit", self.rate_per_minute.to_string()),
                ("x-ratelimit-remaining", "0".into()),
                (
                    "x-ratelimit-reset",
                    (epoch + wait.as_secs() + 1).to_string(),
                ),
            ];
            return Some(r);
        }
        self.bucket.record(now);
        None
    }

    fn status_fault(status: u16) -> Reply {
        match status {
            401 => Reply::error(401, 40110000, "request is not authorized"),
            429 => {
                let epoch = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs();
                let mut r = Reply::error(429, 42910000, "rate limit exceeded");
                r.headers = vec![
                    ("x-ratelimit-limit", "200".into()),
                    ("x-ratelimit-remaining", "0".into()),
                    ("x-ratelimit-reset", (epoch + 1).to_string()),
                ];
                r
            }
            500 => Reply::status(500, json!({"message": "Internal Server Error"})),
            s => Reply::status(s, json!({"message": format!("HTTP {s}")})),
        }
    }

    /// `POST /fake/clock {"session": D}`: the clock moves to D's pre-open, playing the bars
    /// in between.
    fn set_clock(&mut self, body: &[u8]) -> Reply {
        let Some(d) = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("session").and_then(Value::as_str).map(str::to_string))
            .and_then(|s| s.parse::<NaiveDate>().ok())
        else {
            return Reply::error(422, 40010001, "body must be {\"session\": \"YYYY-MM-DD\"}");
        };
        if d < self.session {
            return Reply::error(
                422,
                40010001,
                format!("the clock is at {} and never goes back", self.session),
            );
        }
        self.session = d;
        self.visible = before(&self.all, d);
        match self.broker() {
            Ok(_) => Reply::ok(json!({"session": d.to_string()})),
            Err(e) => Reply::status(500, json!({"message": e.to_string()})),
        }
    }

    fn queue_faults(&mut self, body: &[u8]) -> Reply {
        let list: Vec<String> = match serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("faults").cloned())
            .and_then(|f| serde_json::from_value(f).ok())
        {
            Some(l) => l,
            None => {
                return Reply::error(422, 40010001, "body must be {\"faults\": [\"op:what\", …]}");
            }
        };
        if serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("clear").and_then(Value::as_bool))
            == Some(true)
        {
            self.faults = Faults::default();
        }
        for f in list {
            match f.parse() {
                Ok(f) => self.faults.push(f),
                Err(e) => return Reply::error(422, 40010001, e.to_string()),
            }
        }
        Reply::ok(json!({"queued": true}))
    }

    fn route(&mut self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Reply {
        let path = uri.path();
        let query: BTreeMap<String, String> = uri
            .query()
            .map(|q| {
                url_pairs(q)
                    .into_iter()
                    .collect::<BTreeMap<String, String>>()
            })
            .unwrap_or_default();
        match (method.as_str(), path) {
            ("POST", "/fake/clock") => return self.set_clock(body),
            ("POST", "/fake/faults") => return self.queue_faults(body),
            ("GET", "/fake/stats") => {
                return Reply::ok(
                    json!({"calls": self.calls, "session": self.session.to_string()}),
                );
            }
            _ => {}
        }
        if !self.authorized(headers) {
            return Reply::error(401, 40110000, "request is not authorized");
        }
        if let Some(r) = self.throttle() {
            return r;
        }
        self.calls += 1;
        let Some(op) = operation(method.as_str(), path) else {
            return Reply::error(404, 40410000, "endpoint not found");
        };
        let fault = self.faults.take(op.name());
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
            Operation::Clock => Ok(Reply::ok(wire::clock(self.session))),
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
            .all
            .values()
            .flat_map(|b| b.iter().map(|x| x.ts))
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
                        self.last_close(&p.symbol),
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

/// `a=1&b=x%2Fy` → pairs, percent-decoded.
fn url_pairs(q: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                    match u8::from_str_radix(hex, 16) {
                        Ok(v) => {
                            out.push(v);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

type Shared = Arc<Mutex<Venue>>;

async fn handle(
    State(v): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    match v.lock() {
        Ok(mut venue) => venue.route(&method, &uri, &headers, &body),
        Err(_) => Reply::status(500, json!({"message": "Internal Server Error"})),
    }
}

/// The venue as an axum app (every path goes through one handler, in order).
pub fn app(o: &Options) -> Result<Router, VenueError> {
    let venue: Shared = Arc::new(Mutex::new(Venue::new(o)?));
    Ok(Router::new().fallback(handle).with_state(venue))
}

/// The session the venue's clock starts at, for its banner.
pub fn starting_session(o: &Options) -> Result<NaiveDate, VenueError> {
    Ok(Venue::new(o)?.session)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_query_pairs_are_decoded() {
        assert_eq!(
            url_pairs("client_order_id=a%2Fb&x=1+2&flag"),
            vec![
                ("client_order_id".into(), "a/b".into()),
                ("x".into(), "1 2".into()),
                ("flag".into(), String::new())
            ]
        );
    }

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
