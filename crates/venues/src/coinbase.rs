//! A local Coinbase Advanced Trade (v3 brokerage, spot; `broker-apis.md` §2) over the paper
//! broker's engine.
//!
//! What it does as Coinbase does: a JWT per request, ES256-verified against the key the
//! venue was started with, for exactly the request's method, host and path, unexpired
//! (opaque 401 otherwise); 30 private requests a second (429); decimals as strings, enums in
//! SCREAMING_SNAKE_CASE, product ids `BTC-USDT`; `market_market_ioc` filling at once at the
//! price of the moment (the session's open), `limit_limit_gtc`, `sor_limit_ioc` and
//! `stop_limit_stop_limit_gtc` (triggered inside a bar, then needing its limit); sizes and
//! prices on the product's increments (`INVALID_SIZE_PRECISION`, `INVALID_PRICE_PRECISION`);
//! a failed create is HTTP 200 with `success: false`; a reused `client_order_id` answers
//! with the existing order; no partly-filled status (`OPEN` with a `filled_size`);
//! `batch_cancel`; orders and fills listed with `cursor`; a portfolio breakdown.
//!
//! What it does not: quote-sized orders, brackets, GTD, edits, futures.

mod wire;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, Method, Uri};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use systrade_broker::http::unix_now;
use systrade_broker::paper::PaperBroker;
use systrade_broker::{
    Broker, BrokerError, BrokerOrder, OrderRequest, OrderStatus, OrderType, TimeInForce,
};
use systrade_coinbase::jwt;
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};

use crate::VenueError;
use crate::engine::{Engine, EngineOptions};
use crate::faults::FaultKind;
use crate::reply::{Reply, url_pairs};

/// How a local Coinbase starts.
#[derive(Debug, Clone)]
pub struct Options {
    pub engine: EngineOptions,
    /// The key name requests must be signed for and its PEM private key (the venue
    /// verifies with its public half).
    pub key_name: String,
    pub key_pem: String,
    /// The quote currency of every product (`USDT` for the Binance-named data).
    pub quote: String,
}

impl Options {
    /// A local Coinbase on `data`: 100,000 of `quote`, 30 requests a second, taker fee 0.6%.
    pub fn new(
        data: PathBuf,
        state: PathBuf,
        key_name: &str,
        key_pem: &str,
        quote: &str,
    ) -> Options {
        Options {
            engine: EngineOptions {
                data,
                state,
                session: None,
                cash: Decimal::from(100_000),
                currency: quote.to_string(),
                adjust: systrade_data::Adjust::None,
                costs: systrade_backtest::CostModel {
                    fee_bps: 60.0,
                    ..Default::default()
                },
                rate: 30,
                window: Duration::from_secs(1),
                round_the_clock: true,
            },
            key_name: key_name.to_string(),
            key_pem: key_pem.to_string(),
            quote: quote.to_string(),
        }
    }
}

pub(crate) struct Venue {
    engine: Engine,
    key_name: String,
    public_key: Vec<u8>,
    quote: String,
    portfolio_uuid: String,
}

/// Coinbase's error body.
pub(crate) fn error(status: u16, error: &str, message: &str) -> Reply {
    Reply::status(
        status,
        json!({"error": error, "error_details": message, "message": message}),
    )
}

impl Venue {
    fn new(o: &Options) -> Result<Venue, VenueError> {
        if o.key_name.is_empty() || o.key_pem.is_empty() {
            return Err(VenueError::Setup(
                "set COINBASE_API_KEY and COINBASE_API_SECRET (a P-256 PEM key) in the venue's environment: requests must be signed with it".into(),
            ));
        }
        let signer = jwt::Signer::new(&o.key_name, &o.key_pem)
            .map_err(|e| VenueError::Setup(e.to_string()))?;
        Ok(Venue {
            engine: Engine::new(&o.engine)?,
            key_name: o.key_name.clone(),
            public_key: signer.public_key(),
            quote: o.quote.clone(),
            portfolio_uuid: "9a3b5c7d-0000-4000-8000-00000000c0b5".into(),
        })
    }

    pub(crate) fn broker(&self) -> Result<PaperBroker<'_>, BrokerError> {
        self.engine.broker()
    }

    /// `BTCUSDT` → `BTC-USDT` (the venue's quote only).
    pub(crate) fn product(&self, s: &Symbol) -> String {
        match s.as_str().strip_suffix(self.quote.as_str()) {
            Some(b) if !b.is_empty() => format!("{b}-{}", self.quote),
            _ => s.as_str().to_string(),
        }
    }

    /// `BTC-USDT` → `BTCUSDT`, when the venue lists it.
    fn symbol_of(&self, product: &str) -> Option<Symbol> {
        let (base, quote) = product.split_once('-')?;
        if quote != self.quote {
            return None;
        }
        Symbol::new(format!("{base}{quote}"))
            .ok()
            .filter(|s| self.engine.knows(s))
    }

    /// A product's increments: 1e-8 in size; a cent in price at $1 and above, 1e-4 below.
    fn increments(&self, s: &Symbol) -> (Decimal, Decimal) {
        let price = self.engine.last_price(s).unwrap_or(1.0);
        let quote = if price >= 1.0 {
            Decimal::new(1, 2)
        } else {
            Decimal::new(1, 4)
        };
        (Decimal::new(1, 8), quote)
    }

    fn authorized(&self, method: &str, path: &str, h: &HeaderMap) -> bool {
        let header = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
        let Some(token) = header("authorization").strip_prefix("Bearer ") else {
            return false;
        };
        let uri = format!("{method} {}{path}", header("host"));
        jwt::verify(token, &self.public_key, &self.key_name, &uri, unix_now()).is_ok()
    }

    fn route_request(
        &mut self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Reply {
        let path = uri.path();
        if let Some(r) = self.engine.admin(method.as_str(), path, body) {
            return r;
        }
        if let Some(r) = self.engine.market_data(method, uri, headers) {
            return r;
        }
        if !self.authorized(method.as_str(), path, headers) {
            return Reply::status(401, Value::String("Unauthorized".into()));
        }
        let wait = self.engine.over_limit();
        if !wait.is_zero() {
            return error(429, "RESOURCE_EXHAUSTED", "Too many requests");
        }
        let query: Vec<(String, String)> = uri.query().map(url_pairs).unwrap_or_default();
        let Some(rest) = path.strip_prefix("/api/v3/brokerage") else {
            return error(404, "NOT_FOUND", "Not Found");
        };
        let op = operation(method.as_str(), rest);
        let fault = self.engine.take_fault(op);
        if let Some(FaultKind::Status(s)) = fault {
            return match s {
                500 | 502 | 503 => error(s, "INTERNAL", "internal error"),
                429 => error(429, "RESOURCE_EXHAUSTED", "Too many requests"),
                s => error(s, "UNKNOWN", "injected"),
            };
        }
        let reply = self
            .serve(method.as_str(), rest, &query, body)
            .unwrap_or_else(|e| error(500, "INTERNAL", &e.to_string()));
        match fault {
            Some(FaultKind::Lost) => error(504, "DEADLINE_EXCEEDED", "Gateway Timeout"),
            _ => reply,
        }
    }

    fn serve(
        &mut self,
        method: &str,
        rest: &str,
        q: &[(String, String)],
        body: &[u8],
    ) -> Result<Reply, BrokerError> {
        Ok(match (method, rest) {
            ("GET", "/portfolios") => Reply::ok(json!({"portfolios": [self.portfolio()]})),
            ("GET", "/accounts") => self.accounts(q)?,
            ("POST", "/orders") => self.create(body)?,
            ("POST", "/orders/preview") => self.preview(body)?,
            ("POST", "/orders/batch_cancel") => self.batch_cancel(body)?,
            ("GET", "/orders/historical/batch") => self.list(q)?,
            ("GET", "/orders/historical/fills") => self.fills(q)?,
            ("GET", p) if p.starts_with("/orders/historical/") => {
                self.one(&p["/orders/historical/".len()..])?
            }
            ("GET", p) if p.starts_with("/portfolios/") => {
                if p["/portfolios/".len()..] == self.portfolio_uuid {
                    self.breakdown()?
                } else {
                    error(404, "NOT_FOUND", "portfolio not found")
                }
            }
            ("GET", p) if p.starts_with("/products/") => {
                self.product_info(&p["/products/".len()..])
            }
            _ => error(404, "NOT_FOUND", "Not Found"),
        })
    }

    fn portfolio(&self) -> Value {
        json!({"name": "Default", "uuid": self.portfolio_uuid, "type": "DEFAULT", "deleted": false})
    }

    fn product_info(&self, product: &str) -> Reply {
        let Some(s) = self.symbol_of(product) else {
            return error(404, "NOT_FOUND", "ProductID is invalid");
        };
        let (base, quote) = self.increments(&s);
        Reply::ok(json!({
            "product_id": product,
            "price": self.engine.last_price(&s).map(wire::price),
            "base_increment": base.to_string(),
            "quote_increment": quote.to_string(),
            "base_min_size": base.to_string(),
            "base_currency_id": product.split('-').next(),
            "quote_currency_id": self.quote,
            "trading_disabled": false,
            "status": "online",
            "product_type": "SPOT",
        }))
    }

    /// The quote currency's wallet and one per held asset; `hold` is what open sells
    /// reserve.
    fn accounts(&self, q: &[(String, String)]) -> Result<Reply, BrokerError> {
        let mut b = self.broker()?;
        let cash = b.account()?.cash;
        let held = b.positions()?;
        let mut accounts = vec![wire::account(
            &self.quote,
            cash,
            Decimal::ZERO,
            &self.portfolio_uuid,
        )];
        for p in &held {
            let base = self.product(&p.symbol);
            let currency = base.split('-').next().unwrap_or_default().to_string();
            accounts.push(wire::account(
                &currency,
                p.qty - p.reserved,
                p.reserved,
                &self.portfolio_uuid,
            ));
        }
        Ok(Reply::ok(wire::page("accounts", accounts, q, 250)))
    }

    fn breakdown(&self) -> Result<Reply, BrokerError> {
        let mut b = self.broker()?;
        let cash = b.account()?.cash;
        let held = b.positions()?;
        let mut total = cash;
        let mut spot = Vec::new();
        for p in &held {
            let px = self
                .engine
                .last_price(&p.symbol)
                .and_then(|x| Decimal::try_from(x).ok())
                .unwrap_or(p.avg_price);
            total += px * p.qty;
            let asset = self
                .product(&p.symbol)
                .split('-')
                .next()
                .unwrap_or_default()
                .to_string();
            spot.push(wire::spot_position(&asset, p, px, &self.quote));
        }
        Ok(Reply::ok(json!({"breakdown": {
            "portfolio": self.portfolio(),
            "portfolio_balances": {
                "total_balance": {"value": wire::dec(total.round_dp(8)), "currency": self.quote},
                "total_futures_balance": {"value": "0", "currency": self.quote},
                "total_cash_equivalent_balance": {"value": wire::dec(cash), "currency": self.quote},
                "total_crypto_balance": {"value": wire::dec((total - cash).round_dp(8)), "currency": self.quote},
            },
            "spot_positions": spot,
            "perp_positions": [],
            "futures_positions": [],
        }})))
    }

    /// The request a create (or preview) body asks for, or the failure reason.
    fn request(&self, body: &Value, id: &str) -> Result<OrderRequest, (&'static str, String)> {
        let product = body["product_id"].as_str().unwrap_or_default();
        let symbol = self.symbol_of(product).ok_or((
            "INVALID_PRODUCT_ID",
            format!("ProductID {product:?} is invalid"),
        ))?;
        let side = match body["side"].as_str() {
            Some("BUY") => Side::Buy,
            Some("SELL") => Side::Sell,
            _ => return Err(("INVALID_SIDE", "side must be BUY or SELL".into())),
        };
        let configs = body["order_configuration"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let [(key, c)] = configs.iter().collect::<Vec<_>>()[..] else {
            return Err((
                "UNSUPPORTED_ORDER_CONFIGURATION",
                "order_configuration must have exactly one entry".into(),
            ));
        };
        let num = |k: &str| -> Result<Option<Decimal>, (&'static str, String)> {
            match c.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => s
                    .parse()
                    .map(Some)
                    .map_err(|_| ("INVALID_REQUEST", format!("{k} {s:?} is not a decimal"))),
                Some(v) => Err(("INVALID_REQUEST", format!("{k} must be a string, not {v}"))),
            }
        };
        let (base_inc, quote_inc) = self.increments(&symbol);
        let qty = num("base_size")?.ok_or((
            "UNSUPPORTED_ORDER_CONFIGURATION",
            "the local venue takes orders sized in base_size only".into(),
        ))?;
        if qty <= Decimal::ZERO || (qty % base_inc) != Decimal::ZERO {
            return Err((
                "INVALID_SIZE_PRECISION",
                format!("base_size {qty} is not a positive multiple of {base_inc}"),
            ));
        }
        let price = |k: &str| -> Result<Decimal, (&'static str, String)> {
            let p = num(k)?.ok_or(("INVALID_REQUEST", format!("{k} is required")))?;
            if p <= Decimal::ZERO || (p % quote_inc) != Decimal::ZERO {
                return Err((
                    "INVALID_PRICE_PRECISION",
                    format!("{k} {p} is not a positive multiple of {quote_inc}"),
                ));
            }
            Ok(p)
        };
        let (order_type, tif) = match key.as_str() {
            "market_market_ioc" => (OrderType::Market, TimeInForce::Ioc),
            "limit_limit_gtc" => (
                OrderType::Limit {
                    limit: price("limit_price")?,
                },
                TimeInForce::Gtc,
            ),
            "sor_limit_ioc" => (
                OrderType::Limit {
                    limit: price("limit_price")?,
                },
                TimeInForce::Ioc,
            ),
            "stop_limit_stop_limit_gtc" => {
                let want = match side {
                    Side::Sell => "STOP_DIRECTION_STOP_DOWN",
                    Side::Buy => "STOP_DIRECTION_STOP_UP",
                };
                if c.get("stop_direction").and_then(Value::as_str) != Some(want) {
                    return Err((
                        "INVALID_REQUEST",
                        format!("stop_direction must be {want} for a {side} stop"),
                    ));
                }
                (
                    OrderType::StopLimit {
                        stop: price("stop_price")?,
                        limit: price("limit_price")?,
                    },
                    TimeInForce::Gtc,
                )
            }
            other => {
                return Err((
                    "UNSUPPORTED_ORDER_CONFIGURATION",
                    format!("{other} is not simulated by the local venue"),
                ));
            }
        };
        Ok(OrderRequest {
            client_order_id: ClientOrderId(id.to_string()),
            symbol,
            side,
            qty,
            order_type,
            tif,
            session: self.engine.session,
        })
    }

    /// `POST /orders`: HTTP 200 either way; a reused client order id answers with the
    /// existing order.
    fn create(&mut self, body: &[u8]) -> Result<Reply, BrokerError> {
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            return Ok(error(400, "INVALID_ARGUMENT", "request body is not JSON"));
        };
        let Some(id) = body["client_order_id"].as_str().filter(|s| !s.is_empty()) else {
            return Ok(error(
                400,
                "INVALID_ARGUMENT",
                "client_order_id is required",
            ));
        };
        let config = body["order_configuration"].clone();
        let mut b = self.broker()?;
        if let Some(o) = b.order(&ClientOrderId(id.to_string()))? {
            return Ok(Reply::ok(wire::created(
                &o,
                &self.product(&o.symbol),
                &config,
            )));
        }
        let req = match self.request(&body, id) {
            Ok(r) => r,
            Err((reason, message)) => {
                return Ok(Reply::ok(wire::failed(reason, &message, &config)));
            }
        };
        let o = b.submit(&req)?;
        if o.status == OrderStatus::Rejected {
            let why = o.reason.clone().unwrap_or_default();
            return Ok(Reply::ok(wire::failed("INSUFFICIENT_FUND", &why, &config)));
        }
        Ok(Reply::ok(wire::created(
            &o,
            &self.product(&o.symbol),
            &config,
        )))
    }

    fn preview(&mut self, body: &[u8]) -> Result<Reply, BrokerError> {
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            return Ok(error(400, "INVALID_ARGUMENT", "request body is not JSON"));
        };
        let req = match self.request(&body, "preview") {
            Ok(r) => r,
            Err((reason, _)) => {
                return Ok(Reply::ok(
                    json!({"errs": [format!("PREVIEW_{reason}")], "warning": []}),
                ));
            }
        };
        let p = self.broker()?.preview(&req, &[])?;
        let px = self.engine.last_price(&req.symbol).map(wire::price);
        let errs: Vec<&str> = if p.accepted {
            vec![]
        } else {
            vec!["PREVIEW_INSUFFICIENT_FUND"]
        };
        Ok(Reply::ok(json!({
            "order_total": p.est_price.map(|x| wire::dec(x * req.qty)),
            "commission_total": wire::dec(p.est_fee.unwrap_or_default()),
            "errs": errs, "warning": [],
            "base_size": wire::dec(req.qty),
            "best_bid": px, "best_ask": px,
            "preview_id": "local-preview", "slippage": "0",
        })))
    }

    fn batch_cancel(&mut self, body: &[u8]) -> Result<Reply, BrokerError> {
        let ids: Vec<String> = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| serde_json::from_value(v["order_ids"].clone()).ok())
            .unwrap_or_default();
        let mut b = self.broker()?;
        let all = b.all_orders()?;
        let mut results = Vec::new();
        for id in ids {
            let result = match all.iter().find(|o| o.broker_id == id) {
                None => {
                    json!({"success": false, "failure_reason": "UNKNOWN_CANCEL_ORDER", "order_id": id})
                }
                Some(o) if o.status == OrderStatus::Filled => {
                    json!({"success": false, "failure_reason": "ORDER_IS_FULLY_FILLED", "order_id": id})
                }
                Some(o) if !o.status.is_open() => {
                    json!({"success": false, "failure_reason": "INVALID_CANCEL_REQUEST", "order_id": id})
                }
                Some(o) => {
                    b.cancel(&o.client_order_id)?;
                    json!({"success": true, "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON", "order_id": id})
                }
            };
            results.push(result);
        }
        Ok(Reply::ok(json!({"results": results})))
    }

    fn fees(b: &mut PaperBroker<'_>) -> Result<BTreeMap<ClientOrderId, Decimal>, BrokerError> {
        let mut out: BTreeMap<ClientOrderId, Decimal> = BTreeMap::new();
        for f in b.fills(None)? {
            *out.entry(f.client_order_id).or_default() += f.fee;
        }
        Ok(out)
    }

    fn order_json(&self, o: &BrokerOrder, fees: &BTreeMap<ClientOrderId, Decimal>) -> Value {
        wire::order(
            o,
            &self.product(&o.symbol),
            fees.get(&o.client_order_id).copied().unwrap_or_default(),
        )
    }

    /// `GET /orders/historical/batch`: `order_status` (repeatable), `start_date`,
    /// `product_ids`, `limit`, `cursor`.
    fn list(&self, q: &[(String, String)]) -> Result<Reply, BrokerError> {
        let get = |k: &str| {
            q.iter()
                .filter(|(x, _)| x == k || *x == format!("{k}[]"))
                .map(|(_, v)| v.to_uppercase())
                .collect::<Vec<_>>()
        };
        let statuses = get("order_status");
        let products = get("product_ids");
        let start = q
            .iter()
            .find(|(k, _)| k == "start_date")
            .map(|(_, v)| v.clone());
        let mut b = self.broker()?;
        let fees = Self::fees(&mut b)?;
        let orders: Vec<Value> = b
            .all_orders()?
            .iter()
            .rev()
            .map(|o| self.order_json(o, &fees))
            .filter(|o| statuses.is_empty() || statuses.iter().any(|s| o["status"] == s.as_str()))
            .filter(|o| {
                products.is_empty() || products.iter().any(|p| o["product_id"] == p.as_str())
            })
            .filter(|o| {
                start
                    .as_ref()
                    .is_none_or(|s| o["created_time"].as_str().unwrap_or("") >= s.as_str())
            })
            .collect();
        let mut page = wire::page("orders", orders, q, 1000);
        page["sequence"] = json!("0");
        Ok(Reply::ok(page))
    }

    fn one(&self, id: &str) -> Result<Reply, BrokerError> {
        let mut b = self.broker()?;
        let fees = Self::fees(&mut b)?;
        Ok(match b.all_orders()?.iter().find(|o| o.broker_id == id) {
            Some(o) => Reply::ok(json!({"order": self.order_json(o, &fees)})),
            None => error(404, "NOT_FOUND", "order not found"),
        })
    }

    /// `GET /orders/historical/fills`: oldest first here, `start_sequence_timestamp`,
    /// `limit`, `cursor`.
    fn fills(&self, q: &[(String, String)]) -> Result<Reply, BrokerError> {
        let start = q
            .iter()
            .find(|(k, _)| k == "start_sequence_timestamp")
            .map(|(_, v)| v.clone());
        let mut b = self.broker()?;
        let orders: BTreeMap<ClientOrderId, BrokerOrder> = b
            .all_orders()?
            .into_iter()
            .map(|o| (o.client_order_id.clone(), o))
            .collect();
        let fills: Vec<Value> = b
            .fills(None)?
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                let o = orders.get(&f.client_order_id)?;
                Some(wire::fill(f, o, &self.product(&f.symbol), i))
            })
            .filter(|f| {
                start
                    .as_ref()
                    .is_none_or(|s| f["trade_time"].as_str().unwrap_or("") >= s.as_str())
            })
            .collect();
        Ok(Reply::ok(wire::page("fills", fills, q, 1000)))
    }
}

/// The name faults are queued under.
fn operation(method: &str, rest: &str) -> &'static str {
    match (method, rest) {
        ("POST", "/orders") => "submit",
        ("POST", "/orders/preview") => "preview",
        ("POST", "/orders/batch_cancel") => "cancel",
        ("GET", "/orders/historical/batch") => "orders",
        ("GET", "/orders/historical/fills") => "fills",
        ("GET", p) if p.starts_with("/orders/historical/") => "order",
        ("GET", "/accounts") => "accounts",
        _ => "other",
    }
}

pub fn app(o: &Options) -> Result<Router, VenueError> {
    Ok(crate::serve::app_of(Venue::new(o)?))
}

/// The session the venue's clock starts at, and the portfolio's uuid (the account id a
/// live confirmation names), for its banner.
pub fn starting(o: &Options) -> Result<(chrono::NaiveDate, String), VenueError> {
    let v = Venue::new(o)?;
    Ok((v.engine.session, v.portfolio_uuid))
}

impl crate::serve::Routes for Venue {
    fn route(&mut self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Reply {
        self.route_request(method, uri, headers, body)
    }
}
