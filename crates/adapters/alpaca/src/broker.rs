//! [`AlpacaBroker`]: the [`Broker`] trait on Alpaca's trading API v2.
//!
//! - **connect** reads the account (its id, whether it is paper, `trading_blocked`) and,
//!   for equities, the clock: a run for another session than the venue's is refused.
//! - **order lookups** go by client order id (`GET /v2/orders:by_client_order_id`), so the
//!   idempotent submit above this layer finds what an earlier, killed run sent.
//! - **fills** are the account's `FILL` activities, paged with `page_token`; each names the
//!   venue's order id, mapped back to our client order id (looked up once per order).
//! - **replace** is a `PATCH`; when the venue refuses it (an order accepted outside market
//!   hours is not at the exchange yet: 422) the replacement is first looked up — users
//!   report it sometimes happened anyway — then done as cancel + new. If the new order is
//!   refused, the old one is put back under its own terms, so a stop is never simply lost.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate};
use chrono_tz::America::New_York;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde_json::json;
use systrade_broker::venue::{self, Refusal, cancel_then_new};
use systrade_broker::{
    Account, Broker, BrokerError, BrokerFill, BrokerOrder, OrderRequest, Position, Preview,
};
use systrade_core::contracts::{ClientOrderId, Side};

use systrade_broker::http::Method;

use crate::http::{Endpoint, Http};
use crate::{models, parse};

/// Activities per page (the venue's maximum).
const PAGE: usize = 100;

/// How a connection is set up.
#[derive(Debug, Clone)]
pub struct Connect {
    pub endpoint: Endpoint,
    /// The session the caller trades in.
    pub session: NaiveDate,
    /// The book trades crypto pairs (`BTC/USD`): 24/7, `gtc`/`ioc` only, no clock check,
    /// and no stop-market orders…
    pub crypto: bool,
    /// …so a crypto stop is a stop-limit this fraction beyond its stop.
    pub stop_limit_offset: Decimal,
}

/// A connected Alpaca account.
pub struct AlpacaBroker {
    http: Http,
    session: NaiveDate,
    crypto: bool,
    offset: Decimal,
    paper: bool,
    account_id: String,
    /// The venue's order ids → our client order ids (fills name the former).
    ids: HashMap<String, ClientOrderId>,
}

/// A connection refused before any order: the answer names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error(
        "alpaca's clock is at session {venue}, the run is for {run}: run when the venue trades that session (a run cannot trade a session the venue is not at)"
    )]
    OtherSession { venue: NaiveDate, run: NaiveDate },
}

fn json<T: DeserializeOwned>(what: &str, body: &str) -> Result<T, BrokerError> {
    venue::from_json("alpaca", what, body)
}

/// The session the venue's clock is at: today's while it trades, else the next open's.
pub fn clock_session(c: &models::Clock) -> Result<NaiveDate, BrokerError> {
    let field = if c.is_open {
        &c.timestamp
    } else {
        &c.next_open
    };
    DateTime::parse_from_rfc3339(field)
        .map(|t| t.with_timezone(&New_York).date_naive())
        .map_err(|_| {
            BrokerError::Invalid(format!("alpaca clock: {field:?} is not an RFC 3339 time"))
        })
}

impl AlpacaBroker {
    /// Connects: the account (and, for equities, the venue's session) is read before any
    /// order can go out.
    pub fn connect(c: Connect) -> Result<AlpacaBroker, ConnectError> {
        let mut b = AlpacaBroker {
            http: Http::new(c.endpoint),
            session: c.session,
            crypto: c.crypto,
            offset: c.stop_limit_offset,
            paper: false,
            account_id: String::new(),
            ids: HashMap::new(),
        };
        let a = b.raw_account()?;
        // Paper account numbers start with PA; the paper host is paper by definition.
        // Anything else counts as live: it then needs the live confirmation.
        b.paper = b.http.endpoint().is_paper_host() || a.account_number.starts_with("PA");
        b.account_id = a.id;
        if !c.crypto {
            let venue = b.venue_session()?;
            if venue != c.session {
                return Err(ConnectError::OtherSession {
                    venue,
                    run: c.session,
                });
            }
        }
        Ok(b)
    }

    /// The session the venue at `endpoint` is at, without connecting an account.
    pub fn session_at(endpoint: Endpoint) -> Result<NaiveDate, BrokerError> {
        let mut http = Http::new(endpoint);
        let body = http
            .call(Method::Get, "/v2/clock", &[], None, None)
            .map_err(Refusal::into_error)?;
        clock_session(&json("the clock", &body)?)
    }

    /// The session the venue's clock is at (`GET /v2/clock`).
    pub fn venue_session(&mut self) -> Result<NaiveDate, BrokerError> {
        let a = self.get("/v2/clock", &[], None)?;
        clock_session(&json("the clock", &a)?)
    }

    /// Requests made so far.
    pub fn calls(&self) -> u64 {
        self.http.calls()
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    fn get(
        &mut self,
        path: &str,
        query: &[(&str, String)],
        order: Option<&ClientOrderId>,
    ) -> Result<String, BrokerError> {
        self.http
            .call(Method::Get, path, query, None, order)
            .map_err(Refusal::into_error)
    }

    fn raw_account(&mut self) -> Result<models::Account, BrokerError> {
        let body = self.get("/v2/account", &[], None)?;
        json("the account", &body)
    }

    fn parse_order(&mut self, o: &models::Order) -> Result<BrokerOrder, BrokerError> {
        self.ids
            .insert(o.id.clone(), ClientOrderId(o.client_order_id.clone()));
        parse::order(o, self.session).map_err(BrokerError::from)
    }

    /// The venue's order with our client order id (`None`: the venue has none).
    fn raw_order(&mut self, id: &ClientOrderId) -> Result<Option<models::Order>, BrokerError> {
        let q = [("client_order_id", id.0.clone())];
        match self.http.call(
            Method::Get,
            "/v2/orders:by_client_order_id",
            &q,
            None,
            Some(id),
        ) {
            Ok(a) => Ok(Some(json("an order", &a)?)),
            Err(Refusal::Error(BrokerError::NotFound(_))) => Ok(None),
            Err(r) => Err(r.into_error()),
        }
    }

    /// Our client order id of the venue's order `order_id` (one lookup per unknown order).
    fn client_id_of(&mut self, order_id: &str) -> Result<ClientOrderId, BrokerError> {
        if let Some(c) = self.ids.get(order_id) {
            return Ok(c.clone());
        }
        let body = self.get(&format!("/v2/orders/{order_id}"), &[], None)?;
        let o: models::Order = json("an order", &body)?;
        self.ids
            .insert(o.id.clone(), ClientOrderId(o.client_order_id.clone()));
        Ok(ClientOrderId(o.client_order_id))
    }

    fn post_order(&mut self, req: &OrderRequest) -> Result<BrokerOrder, BrokerError> {
        let body = serde_json::to_value(parse::new_order(&self.at_venue(req), self.crypto))
            .map_err(|e| BrokerError::Invalid(e.to_string()))?;
        match self.http.call(
            Method::Post,
            "/v2/orders",
            &[],
            Some(&body),
            Some(&req.client_order_id),
        ) {
            Ok(a) => {
                let o: models::Order = json("a new order", &a)?;
                self.parse_order(&o)
            }
            Err(Refusal::Rejected(why)) => Ok(venue::refused(req, why)),
            Err(Refusal::Error(e)) => Err(e),
        }
    }

    /// `DELETE /v2/orders/{id}`, then the order as it now is (the venue answers 204 and
    /// cancels asynchronously: a few reads wait for it to settle).
    fn cancel_raw(&mut self, o: &models::Order, id: &ClientOrderId) -> Result<(), BrokerError> {
        match self.http.call(
            Method::Delete,
            &format!("/v2/orders/{}", o.id),
            &[],
            None,
            Some(id),
        ) {
            Ok(_) => Ok(()),
            Err(Refusal::Rejected(m)) => Err(BrokerError::Invalid(format!("cancel {id}: {m}"))),
            Err(Refusal::Error(e)) => Err(e),
        }
    }

    fn settled(&mut self, id: &ClientOrderId) -> Result<BrokerOrder, BrokerError> {
        for attempt in 0..5u32 {
            let o = self
                .raw_order(id)?
                .ok_or_else(|| BrokerError::NotFound(id.clone()))?;
            if !matches!(o.status.as_str(), "pending_cancel" | "pending_replace") || attempt == 4 {
                return self.parse_order(&o);
            }
            std::thread::sleep(std::time::Duration::from_millis(200 << attempt));
        }
        Err(BrokerError::NotFound(id.clone()))
    }

    /// The request as the venue takes it: crypto has no stop-market order.
    fn at_venue(&self, req: &OrderRequest) -> OrderRequest {
        if self.crypto {
            venue::as_stop_limit(req, self.offset)
        } else {
            req.clone()
        }
    }

    /// The PATCH body that turns `old` into `new`, when only what a PATCH may change
    /// differs (symbol, side and type must stay; the quantity must be whole).
    fn patch_body(&self, old: &BrokerOrder, new: &OrderRequest) -> Option<serde_json::Value> {
        let same_kind =
            std::mem::discriminant(&old.order_type) == std::mem::discriminant(&new.order_type);
        if old.symbol != new.symbol
            || old.side != new.side
            || !same_kind
            || new.qty.fract() != Decimal::ZERO
            || self.crypto
        {
            return None;
        }
        let wire = parse::new_order(&self.at_venue(new), self.crypto);
        let mut body = json!({
            "qty": wire.qty,
            "time_in_force": wire.time_in_force,
            "client_order_id": wire.client_order_id,
        });
        if let Some(s) = wire.stop_price {
            body["stop_price"] = json!(s);
        }
        if let Some(l) = wire.limit_price {
            body["limit_price"] = json!(l);
        }
        Some(body)
    }
}

impl Broker for AlpacaBroker {
    fn kind(&self) -> &str {
        "alpaca"
    }

    fn is_live(&self) -> bool {
        !self.paper
    }

    fn account(&mut self) -> Result<Account, BrokerError> {
        let a = self.raw_account()?;
        Ok(parse::account(&a, self.paper))
    }

    fn positions(&mut self) -> Result<Vec<Position>, BrokerError> {
        let body = self.get("/v2/positions", &[], None)?;
        let raw: Vec<models::Position> = json("the positions", &body)?;
        let mut out = raw
            .iter()
            .map(parse::position)
            .collect::<Result<Vec<_>, _>>()
            .map_err(BrokerError::from)?;
        out.retain(|p| p.qty != Decimal::ZERO);
        out.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        Ok(out)
    }

    fn open_orders(&mut self) -> Result<Vec<BrokerOrder>, BrokerError> {
        let q = [
            ("status", "open".to_string()),
            ("limit", "500".to_string()),
            ("direction", "asc".to_string()),
        ];
        let body = self.get("/v2/orders", &q, None)?;
        let raw: Vec<models::Order> = json("the open orders", &body)?;
        raw.iter().map(|o| self.parse_order(o)).collect()
    }

    fn order(&mut self, id: &ClientOrderId) -> Result<Option<BrokerOrder>, BrokerError> {
        match self.raw_order(id)? {
            Some(o) => Ok(Some(self.parse_order(&o)?)),
            None => Ok(None),
        }
    }

    fn fills(&mut self, since: Option<NaiveDate>) -> Result<Vec<BrokerFill>, BrokerError> {
        let mut raw: Vec<models::FillActivity> = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = vec![
                ("direction", "asc".to_string()),
                ("page_size", PAGE.to_string()),
            ];
            // A day early: `after` is exclusive and a time zone away from the session.
            if let Some(d) = since.and_then(|d| d.pred_opt()) {
                q.push(("after", format!("{d}T00:00:00Z")));
            }
            if let Some(t) = &token {
                q.push(("page_token", t.clone()));
            }
            let body = self.get("/v2/account/activities/FILL", &q, None)?;
            let page: Vec<models::FillActivity> = json("the fill activities", &body)?;
            let n = page.len();
            token = page.last().map(|a| a.id.clone());
            raw.extend(page);
            if n < PAGE || token.is_none() {
                break;
            }
        }
        let mut out = Vec::with_capacity(raw.len());
        for a in raw.iter().filter(|a| a.activity_type == "FILL") {
            let cid = self.client_id_of(&a.order_id)?;
            let f = parse::fill(a, cid).map_err(BrokerError::from)?;
            if since.is_none_or(|d| f.date >= d) {
                out.push(f);
            }
        }
        Ok(out)
    }

    fn submit(&mut self, req: &OrderRequest) -> Result<BrokerOrder, BrokerError> {
        self.post_order(req)
    }

    fn cancel(&mut self, id: &ClientOrderId) -> Result<BrokerOrder, BrokerError> {
        let o = self
            .raw_order(id)?
            .ok_or_else(|| BrokerError::NotFound(id.clone()))?;
        let now = self.parse_order(&o)?;
        if !now.status.is_open() {
            return Err(BrokerError::Invalid(format!(
                "order {id} is already in \"{}\" state",
                now.status
            )));
        }
        self.cancel_raw(&o, id)?;
        self.settled(id)
    }

    fn replace(
        &mut self,
        id: &ClientOrderId,
        new: &OrderRequest,
    ) -> Result<BrokerOrder, BrokerError> {
        let old = self
            .raw_order(id)?
            .ok_or_else(|| BrokerError::NotFound(id.clone()))?;
        let old_parsed = self.parse_order(&old)?;
        if !old_parsed.status.is_open() {
            return Err(BrokerError::Invalid(format!(
                "order {id} is already in \"{}\" state",
                old_parsed.status
            )));
        }
        let Some(body) = self.patch_body(&old_parsed, new) else {
            return cancel_then_new(self, &old_parsed, new);
        };
        match self.http.call(
            Method::Patch,
            &format!("/v2/orders/{}", old.id),
            &[],
            Some(&body),
            Some(&new.client_order_id),
        ) {
            Ok(a) => {
                let o: models::Order = json("a replacing order", &a)?;
                self.parse_order(&o)
            }
            Err(Refusal::Rejected(_)) => {
                // Not replaceable now (422) — unless it was replaced anyway.
                if let Some(o) = self.raw_order(&new.client_order_id)? {
                    return self.parse_order(&o);
                }
                cancel_then_new(self, &old_parsed, new)
            }
            Err(Refusal::Error(e)) => Err(e),
        }
    }

    fn preview(
        &mut self,
        req: &OrderRequest,
        freeing: &[ClientOrderId],
    ) -> Result<Preview, BrokerError> {
        // Alpaca has no preview: the account and positions say what it would refuse.
        let a = self.account()?;
        let refuse = |why: String| Preview {
            client_order_id: req.client_order_id.clone(),
            accepted: false,
            reason: Some(why),
            est_price: None,
            est_fee: None,
        };
        if a.trading_blocked {
            return Ok(refuse("the account is blocked for trading".into()));
        }
        if req.side == Side::Sell {
            let free = venue::free_to_sell(self, &req.symbol, freeing)?;
            if req.qty > free {
                return Ok(refuse(format!(
                    "insufficient qty available for order (requested: {}, available: {})",
                    req.qty.normalize(),
                    free.normalize()
                )));
            }
        }
        Ok(Preview {
            client_order_id: req.client_order_id.clone(),
            accepted: true,
            reason: None,
            est_price: None,
            est_fee: Some(Decimal::ZERO),
        })
    }
}
