//! [`CoinbaseBroker`]: the [`Broker`] trait on Coinbase Advanced Trade (spot).
//!
//! - **connect** validates the portfolio (`SYSTRADE_COINBASE_PORTFOLIO`, a uuid or name;
//!   default the `DEFAULT` one) and the quote currency's account. Its uuid is the account
//!   id the live confirmation names: Coinbase has no paper trading, every run is live.
//! - **lookups by client order id**: the venue has none, so the orders of the last 90 days
//!   and every open one are listed once per connection and kept current; a create whose
//!   answer was lost is safe to repeat, the venue answers a reused client order id with the
//!   existing order.
//! - **protection**: spot has no stop-market; a `Stop` becomes a stop-limit
//!   (`stop_limit_stop_limit_gtc`) whose limit sits `stop_limit_offset` beyond the stop.
//! - **replace** is cancel + new (stop-limits cannot be edited), the old terms put back if
//!   the new ones are refused ([`cancel_then_new`]).
//! - sizes and prices go onto the product's `base_increment` / `quote_increment`.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use systrade_broker::http::Method;
use systrade_broker::venue::{self, Refusal, cancel_then_new};
use systrade_broker::{
    Account, Broker, BrokerError, BrokerFill, BrokerOrder, OrderRequest, Position, Preview,
};
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};

use crate::http::{Endpoint, Http};
use crate::models;
use crate::parse::{self, Increments};

/// How far back the order index reaches (open orders of any age are always in it).
const INDEX_DAYS: i64 = 90;

/// How a connection is set up.
#[derive(Debug)]
pub struct Connect {
    pub endpoint: Endpoint,
    pub session: NaiveDate,
    /// The quote currency the book trades against (`USD`, `USDT`…).
    pub quote: String,
    /// The portfolio (uuid or name); `None`: the `DEFAULT` one.
    pub portfolio: Option<String>,
    /// A protective stop-limit's limit sits this fraction beyond its stop (0.02: 2%).
    pub stop_limit_offset: Decimal,
}

/// A connected Coinbase portfolio.
pub struct CoinbaseBroker {
    http: Http,
    session: NaiveDate,
    quote: String,
    offset: Decimal,
    portfolio: models::Portfolio,
    increments: HashMap<Symbol, Increments>,
    /// Orders by client order id, and the venue's ids back to ours.
    orders: HashMap<ClientOrderId, models::Order>,
    ids: HashMap<String, ClientOrderId>,
    indexed: bool,
}

fn json<T: DeserializeOwned>(what: &str, body: &str) -> Result<T, BrokerError> {
    venue::from_json("coinbase", what, body)
}

impl CoinbaseBroker {
    /// Connects: the portfolio and the quote currency's account are checked before any
    /// order can go out.
    pub fn connect(c: Connect) -> Result<CoinbaseBroker, BrokerError> {
        let mut http = Http::new(c.endpoint);
        let body = http
            .call(Method::Get, "/portfolios", &[], None, None)
            .map_err(Refusal::into_error)?;
        let all: models::Portfolios = json("the portfolios", &body)?;
        let wanted = |p: &models::Portfolio| match &c.portfolio {
            Some(w) => &p.uuid == w || &p.name == w,
            None => p.portfolio_type == "DEFAULT",
        };
        let portfolio = all
            .portfolios
            .into_iter()
            .find(|p| wanted(p) && !p.deleted)
            .ok_or_else(|| {
                BrokerError::Invalid(match &c.portfolio {
                    Some(w) => format!("coinbase has no portfolio {w:?} (SYSTRADE_COINBASE_PORTFOLIO) for this key"),
                    None => "coinbase has no DEFAULT portfolio for this key; set SYSTRADE_COINBASE_PORTFOLIO".into(),
                })
            })?;
        let mut b = CoinbaseBroker {
            http,
            session: c.session,
            quote: c.quote,
            offset: c.stop_limit_offset,
            portfolio,
            increments: HashMap::new(),
            orders: HashMap::new(),
            ids: HashMap::new(),
            indexed: false,
        };
        let accounts = b.accounts()?;
        if !accounts.iter().any(|a| a.currency == b.quote && a.active) {
            return Err(BrokerError::Invalid(format!(
                "coinbase portfolio {} has no active {} account to trade from",
                b.portfolio.name, b.quote
            )));
        }
        Ok(b)
    }

    pub fn calls(&self) -> u64 {
        self.http.calls()
    }

    fn get(&mut self, path: &str, query: &[(&str, String)]) -> Result<String, BrokerError> {
        self.http
            .call(Method::Get, path, query, None, None)
            .map_err(Refusal::into_error)
    }

    /// Every wallet of the portfolio, all pages.
    fn accounts(&mut self) -> Result<Vec<models::Account>, BrokerError> {
        let mut out = Vec::new();
        let mut cursor = String::new();
        loop {
            let mut q = vec![
                ("limit", "250".to_string()),
                ("retail_portfolio_id", self.portfolio.uuid.clone()),
            ];
            if !cursor.is_empty() {
                q.push(("cursor", cursor.clone()));
            }
            let page: models::AccountsPage = json("the accounts", &self.get("/accounts", &q)?)?;
            out.extend(page.accounts);
            if !page.has_next || page.cursor.is_empty() {
                return Ok(out);
            }
            cursor = page.cursor;
        }
    }

    fn breakdown(&mut self) -> Result<models::Breakdown, BrokerError> {
        let path = format!("/portfolios/{}", self.portfolio.uuid);
        let q = [("currency", self.quote.clone())];
        let b: models::BreakdownEnvelope = json("the portfolio", &self.get(&path, &q)?)?;
        Ok(b.breakdown)
    }

    fn remember(&mut self, o: models::Order) -> Result<BrokerOrder, BrokerError> {
        let parsed = parse::order(&o, self.session).map_err(BrokerError::from)?;
        let id = ClientOrderId(o.client_order_id.clone());
        self.ids.insert(o.order_id.clone(), id.clone());
        self.orders.insert(id, o);
        Ok(parsed)
    }

    /// Orders of a listing, all pages.
    fn list(
        &mut self,
        query: Vec<(&'static str, String)>,
    ) -> Result<Vec<BrokerOrder>, BrokerError> {
        let mut out = Vec::new();
        let mut cursor = String::new();
        loop {
            let mut q = query.clone();
            q.push(("limit", "250".into()));
            if !cursor.is_empty() {
                q.push(("cursor", cursor.clone()));
            }
            let page: models::OrdersPage =
                json("the orders", &self.get("/orders/historical/batch", &q)?)?;
            for o in page.orders {
                out.push(self.remember(o)?);
            }
            if !page.has_next || page.cursor.is_empty() {
                return Ok(out);
            }
            cursor = page.cursor;
        }
    }

    /// Lists the orders the index holds (open ones of any age, the rest of 90 days).
    fn index(&mut self) -> Result<(), BrokerError> {
        let since = self.session - Duration::days(INDEX_DAYS);
        self.list(vec![("order_status", "OPEN".into())])?;
        self.list(vec![("start_date", format!("{since}T00:00:00Z"))])?;
        self.indexed = true;
        Ok(())
    }

    fn fetch(&mut self, venue_id: &str) -> Result<BrokerOrder, BrokerError> {
        let e: models::OrderEnvelope = json(
            "an order",
            &self.get(&format!("/orders/historical/{venue_id}"), &[])?,
        )?;
        self.remember(e.order)
    }

    fn increments(&mut self, s: &Symbol) -> Result<Increments, BrokerError> {
        if let Some(i) = self.increments.get(s) {
            return Ok(*i);
        }
        let path = format!("/products/{}", parse::product_id(s));
        let p: models::Product = json("a product", &self.get(&path, &[])?)?;
        if p.trading_disabled {
            return Err(BrokerError::Invalid(format!(
                "coinbase product {} is not trading",
                p.product_id
            )));
        }
        let inc = Increments {
            base: p.base_increment,
            quote: p.quote_increment,
        };
        self.increments.insert(s.clone(), inc);
        Ok(inc)
    }

    fn create(&mut self, req: &OrderRequest) -> Result<models::CreateOrder, BrokerError> {
        let inc = self.increments(&req.symbol)?;
        parse::create_order(&venue::as_stop_limit(req, self.offset), inc).map_err(BrokerError::from)
    }
}

impl Broker for CoinbaseBroker {
    fn kind(&self) -> &str {
        "coinbase"
    }

    /// Coinbase has no paper trading.
    fn is_live(&self) -> bool {
        true
    }

    fn account(&mut self) -> Result<Account, BrokerError> {
        let accounts = self.accounts()?;
        let cash = accounts
            .iter()
            .filter(|a| a.currency == self.quote)
            .map(|a| a.available_balance.value + a.hold.value)
            .sum();
        let blocked = !accounts
            .iter()
            .any(|a| a.currency == self.quote && a.active && a.ready);
        let equity = self.breakdown()?.portfolio_balances.total_balance.value;
        Ok(Account {
            id: self.portfolio.uuid.clone(),
            currency: self.quote.clone(),
            cash,
            equity,
            paper: false,
            trading_blocked: blocked || self.portfolio.deleted,
        })
    }

    fn positions(&mut self) -> Result<Vec<Position>, BrokerError> {
        let accounts = self.accounts()?;
        let costs: HashMap<String, Decimal> = self
            .breakdown()?
            .spot_positions
            .into_iter()
            .filter(|p| !p.is_cash)
            .map(|p| (p.asset, p.cost_basis.value))
            .collect();
        let mut out = Vec::new();
        for a in accounts.iter().filter(|a| a.currency != self.quote) {
            let qty = a.available_balance.value + a.hold.value;
            if qty.is_zero() {
                continue;
            }
            let symbol = parse::symbol(
                "account",
                &a.uuid,
                &format!("{}-{}", a.currency, self.quote),
            )
            .map_err(BrokerError::from)?;
            let cost = costs.get(&a.currency).copied().unwrap_or(Decimal::ZERO);
            out.push(Position {
                symbol,
                qty,
                avg_price: if cost.is_zero() {
                    Decimal::ZERO
                } else {
                    cost / qty
                },
                reserved: a.hold.value,
            });
        }
        out.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        Ok(out)
    }

    fn open_orders(&mut self) -> Result<Vec<BrokerOrder>, BrokerError> {
        let mut open = self.list(vec![("order_status", "OPEN".into())])?;
        open.retain(|o| o.status.is_open());
        Ok(open)
    }

    fn order(&mut self, id: &ClientOrderId) -> Result<Option<BrokerOrder>, BrokerError> {
        let fresh = !self.indexed;
        if fresh {
            self.index()?;
        }
        if !fresh && !self.orders.contains_key(id) {
            // Not in the index: an order placed since (by a run killed before its answer)
            // shows in a listing of the last day's orders.
            let since = self.session - Duration::days(1);
            self.list(vec![("start_date", format!("{since}T00:00:00Z"))])?;
        }
        match self.orders.get(id).map(|o| o.order_id.clone()) {
            Some(v) => self.fetch(&v).map(Some),
            None => Ok(None),
        }
    }

    fn fills(&mut self, since: Option<NaiveDate>) -> Result<Vec<BrokerFill>, BrokerError> {
        let mut raw: Vec<models::Fill> = Vec::new();
        let mut cursor = String::new();
        loop {
            let mut q = vec![("limit", "250".to_string())];
            if let Some(d) = since.and_then(|d| d.pred_opt()) {
                q.push(("start_sequence_timestamp", format!("{d}T00:00:00Z")));
            }
            if !cursor.is_empty() {
                q.push(("cursor", cursor.clone()));
            }
            let page: models::FillsPage =
                json("the fills", &self.get("/orders/historical/fills", &q)?)?;
            let n = page.fills.len();
            raw.extend(page.fills);
            if page.cursor.is_empty() || n == 0 {
                break;
            }
            cursor = page.cursor;
        }
        let mut out = Vec::with_capacity(raw.len());
        for f in &raw {
            let cid = match self.ids.get(&f.order_id) {
                Some(c) => c.clone(),
                None => self.fetch(&f.order_id)?.client_order_id,
            };
            let fill = parse::fill(f, cid).map_err(BrokerError::from)?;
            if since.is_none_or(|d| fill.date >= d) {
                out.push(fill);
            }
        }
        out.sort_by(|a, b| a.date.cmp(&b.date).then(a.fill_id.cmp(&b.fill_id)));
        Ok(out)
    }

    fn submit(&mut self, req: &OrderRequest) -> Result<BrokerOrder, BrokerError> {
        let body = match self.create(req) {
            Ok(b) => b,
            Err(BrokerError::Invalid(why)) => return Ok(venue::refused(req, why)),
            Err(e) => return Err(e),
        };
        if body
            .order_configuration
            .values()
            .any(|c| c.base_size.is_some_and(|b| b <= Decimal::ZERO))
        {
            return Ok(venue::refused(
                req,
                "the quantity is below the product's base increment".into(),
            ));
        }
        let body = serde_json::to_value(&body).map_err(|e| BrokerError::Invalid(e.to_string()))?;
        let text = match self.http.call(
            Method::Post,
            "/orders",
            &[],
            Some(&body),
            Some(&req.client_order_id),
        ) {
            Ok(t) => t,
            Err(Refusal::Rejected(why)) => return Ok(venue::refused(req, why)),
            Err(Refusal::Error(e)) => return Err(e),
        };
        let r: models::CreateResponse = json("a new order", &text)?;
        match parse::created(&r) {
            Ok(venue_id) => self.fetch(&venue_id),
            Err(Refusal::Rejected(why)) => Ok(venue::refused(req, why)),
            Err(Refusal::Error(e)) => Err(e),
        }
    }

    fn cancel(&mut self, id: &ClientOrderId) -> Result<BrokerOrder, BrokerError> {
        let now = self
            .order(id)?
            .ok_or_else(|| BrokerError::NotFound(id.clone()))?;
        if !now.status.is_open() {
            return Err(BrokerError::Invalid(format!(
                "order {id} is already in \"{}\" state",
                now.status
            )));
        }
        let body = serde_json::json!({"order_ids": [now.broker_id]});
        let text = self
            .http
            .call(
                Method::Post,
                "/orders/batch_cancel",
                &[],
                Some(&body),
                Some(id),
            )
            .map_err(Refusal::into_error)?;
        let r: models::CancelResults = json("a cancel", &text)?;
        if let Some(fail) = r.results.iter().find(|x| !x.success) {
            let why = fail.failure_reason.clone().unwrap_or_default();
            return Err(BrokerError::Invalid(format!("cancel {id}: {why}")));
        }
        for attempt in 0..5u32 {
            let o = self.fetch(&now.broker_id)?;
            let queued = self
                .orders
                .get(id)
                .is_some_and(|x| x.status == "CANCEL_QUEUED");
            if !queued || attempt == 4 {
                return Ok(o);
            }
            std::thread::sleep(std::time::Duration::from_millis(200 << attempt));
        }
        self.fetch(&now.broker_id)
    }

    fn replace(
        &mut self,
        id: &ClientOrderId,
        new: &OrderRequest,
    ) -> Result<BrokerOrder, BrokerError> {
        let old = self
            .order(id)?
            .ok_or_else(|| BrokerError::NotFound(id.clone()))?;
        if !old.status.is_open() {
            return Err(BrokerError::Invalid(format!(
                "order {id} is already in \"{}\" state",
                old.status
            )));
        }
        cancel_then_new(self, &old, new)
    }

    fn preview(
        &mut self,
        req: &OrderRequest,
        freeing: &[ClientOrderId],
    ) -> Result<Preview, BrokerError> {
        let create = match self.create(req) {
            Ok(c) => c,
            Err(BrokerError::Invalid(why)) => {
                return Ok(Preview {
                    client_order_id: req.client_order_id.clone(),
                    accepted: false,
                    reason: Some(why),
                    est_price: None,
                    est_fee: None,
                });
            }
            Err(e) => return Err(e),
        };
        let body = serde_json::to_value(models::PreviewOrder {
            product_id: create.product_id,
            side: create.side,
            order_configuration: create.order_configuration,
        })
        .map_err(|e| BrokerError::Invalid(e.to_string()))?;
        let text = self
            .http
            .call(
                Method::Post,
                "/orders/preview",
                &[],
                Some(&body),
                Some(&req.client_order_id),
            )
            .map_err(Refusal::into_error)?;
        let p: models::PreviewResponse = json("a preview", &text)?;
        // The venue previews against what is available now; units the freed orders hold
        // will be available once they are canceled first.
        let mut errs = p.errs.clone();
        if req.side == Side::Sell && !freeing.is_empty() {
            let free = venue::free_to_sell(self, &req.symbol, freeing)?;
            if req.qty <= free {
                errs.retain(|e| e != "PREVIEW_INSUFFICIENT_FUND");
            }
        }
        let price = match req.side {
            Side::Buy => p.best_ask,
            Side::Sell => p.best_bid,
        };
        Ok(Preview {
            client_order_id: req.client_order_id.clone(),
            accepted: errs.is_empty(),
            reason: (!errs.is_empty()).then(|| errs.join(", ")),
            est_price: price,
            est_fee: p.commission_total,
        })
    }
}
