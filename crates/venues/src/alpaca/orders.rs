//! Orders and fills at the local Alpaca: validation as the venue does it, then the paper
//! engine; answers in the venue's shapes and statuses.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;
use serde_json::{Value, json};
use systrade_broker::{
    Broker, BrokerError, BrokerOrder, OrderRequest, OrderStatus, OrderType, TimeInForce,
};
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};

use super::wire::{self, OrderExtra};
use super::{Reply, Venue};

fn invalid(message: impl Into<String>) -> Reply {
    Reply::error(422, 40010001, message)
}

/// A decimal field sent as a string (or, tolerated, a number).
fn decimal(body: &Value, key: &str) -> Result<Option<Decimal>, Reply> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s
            .parse::<Decimal>()
            .map(Some)
            .map_err(|_| invalid(format!("invalid {key}: {s:?}"))),
        Some(Value::Number(n)) => n
            .to_string()
            .parse::<Decimal>()
            .map(Some)
            .map_err(|_| invalid(format!("invalid {key}: {n}"))),
        Some(other) => Err(invalid(format!("invalid {key}: {other}"))),
    }
}

fn text<'b>(body: &'b Value, key: &str) -> Option<&'b str> {
    body.get(key).and_then(Value::as_str)
}

/// At most 2 decimals at $1 and above, 4 below (the venue's price grid).
fn sub_penny(key: &str, p: Decimal) -> Option<Reply> {
    let dp = if p >= Decimal::ONE { 2 } else { 4 };
    (p.normalize().scale() > dp).then(|| {
        Reply::error(
            422,
            42210000,
            format!(
                "invalid {key} {}. sub-penny increment does not fulfill minimum pricing criteria",
                p.normalize()
            ),
        )
    })
}

/// A refusal of the paper engine as the venue answers it: what the account cannot pay or
/// hold is a 403, the rest a 422.
fn refused(why: &str) -> Reply {
    if why.starts_with("insufficient") || why.starts_with("account is not allowed") {
        Reply::error(403, 40310000, why)
    } else {
        Reply::error(422, 42210000, why)
    }
}

fn new_id(seq: u64) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", seq, seq)
}

impl Venue {
    /// The venue's status of an order: working orders sent this session (before the open)
    /// are `accepted` — not at the exchange yet — and those of earlier sessions `new`.
    fn status_of(&self, o: &BrokerOrder) -> &'static str {
        if self.replaced.contains_key(&o.broker_id) {
            return "replaced";
        }
        match o.status {
            OrderStatus::Staged | OrderStatus::Submitted => "pending_new",
            OrderStatus::Accepted if o.session >= self.session() && !self.is_open() => "accepted",
            OrderStatus::Accepted => "new",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Canceled => "canceled",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Expired => "expired",
        }
    }

    fn order_json(&self, o: &BrokerOrder) -> Value {
        let replaces = self
            .replaced
            .iter()
            .find(|(_, new)| **new == o.broker_id)
            .map(|(old, _)| old.as_str());
        wire::order(
            o,
            &OrderExtra {
                status: self.status_of(o),
                crypto: self.crypto.contains(&o.symbol),
                replaced_by: self.replaced.get(&o.broker_id).map(String::as_str),
                replaces,
            },
        )
    }

    fn all_orders(&self) -> Result<Vec<BrokerOrder>, BrokerError> {
        self.broker()?.all_orders()
    }

    fn by_venue_id(&self, id: &str) -> Result<Option<BrokerOrder>, BrokerError> {
        Ok(self.all_orders()?.into_iter().find(|o| o.broker_id == id))
    }

    /// `POST /v2/orders`.
    pub(crate) fn submit(&mut self, body: &[u8]) -> Result<Reply, BrokerError> {
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            return Ok(invalid("request body format is invalid"));
        };
        let req = match self.new_order(&body) {
            Ok(r) => r,
            Err(reply) => return Ok(reply),
        };
        let mut b = self.broker()?;
        match b.submit(&req) {
            Ok(o) if o.status == OrderStatus::Rejected => {
                Ok(refused(o.reason.as_deref().unwrap_or("order rejected")))
            }
            Ok(o) => {
                drop(b);
                Ok(Reply::ok(self.order_json(&o)))
            }
            Err(BrokerError::Duplicate(_)) => Ok(invalid("client_order_id must be unique")),
            Err(e) => Err(e),
        }
    }

    /// The request a `POST /v2/orders` body asks for, or the venue's refusal of it.
    fn new_order(&mut self, body: &Value) -> Result<OrderRequest, Reply> {
        let raw = text(body, "symbol").ok_or_else(|| invalid("symbol is required"))?;
        let crypto = raw.contains('/');
        let symbol = Symbol::new(raw.replace('/', ""))
            .ok()
            .filter(|s| self.knows(s))
            .ok_or_else(|| Reply::error(422, 40010001, format!("asset \"{raw}\" not found")))?;
        if decimal(body, "notional")?.is_some() {
            return Err(invalid(
                "notional orders are not simulated by the local venue: send qty",
            ));
        }
        let qty = decimal(body, "qty")?
            .filter(|q| *q > Decimal::ZERO)
            .ok_or_else(|| invalid("qty must be > 0"))?;
        if qty.normalize().scale() > 9 {
            return Err(invalid("qty must have at most 9 decimals"));
        }
        let side = match text(body, "side") {
            Some("buy") => Side::Buy,
            Some("sell") => Side::Sell,
            other => return Err(invalid(format!("invalid side {other:?}"))),
        };
        let stop = decimal(body, "stop_price")?;
        let limit = decimal(body, "limit_price")?;
        let order_type = match (text(body, "type"), stop, limit) {
            (Some("market"), _, _) => OrderType::Market,
            (Some("limit"), _, Some(limit)) => OrderType::Limit { limit },
            (Some("stop"), Some(stop), _) => OrderType::Stop { stop },
            (Some("stop_limit"), Some(stop), Some(limit)) => OrderType::StopLimit { stop, limit },
            (Some("limit" | "stop_limit"), _, None) => {
                return Err(invalid("limit_price is required"));
            }
            (Some("stop" | "stop_limit"), None, _) => {
                return Err(invalid("stop_price is required"));
            }
            (other, _, _) => return Err(invalid(format!("invalid order type {other:?}"))),
        };
        for (key, p) in [("stop_price", stop), ("limit_price", limit)] {
            if let Some(r) = p.and_then(|p| sub_penny(key, p)) {
                return Err(r);
            }
        }
        let tif = match text(body, "time_in_force") {
            Some(t @ ("day" | "gtc" | "ioc")) => TimeInForce::parse(t).unwrap_or_default(),
            Some(t @ ("opg" | "cls" | "fok")) => {
                return Err(invalid(format!(
                    "time_in_force {t} is not simulated by the local venue"
                )));
            }
            other => return Err(invalid(format!("invalid time_in_force {other:?}"))),
        };
        if crypto {
            if tif == TimeInForce::Day {
                return Err(Reply::error(422, 42210000, "invalid crypto time_in_force"));
            }
            if matches!(order_type, OrderType::Stop { .. }) {
                return Err(Reply::error(
                    422,
                    42210000,
                    "invalid order type for crypto order",
                ));
            }
        } else if qty.fract() != Decimal::ZERO
            && (order_type != OrderType::Market || tif != TimeInForce::Day)
        {
            return Err(Reply::error(
                422,
                42210000,
                "fractional orders must be market orders with time_in_force day",
            ));
        }
        let id = match text(body, "client_order_id") {
            Some(c) if c.len() > 128 => {
                return Err(invalid(
                    "client_order_id must be no more than 128 characters",
                ));
            }
            Some(c) if !c.is_empty() => c.to_string(),
            _ => new_id(self.calls()),
        };
        if crypto {
            self.crypto.insert(symbol.clone());
        }
        Ok(OrderRequest {
            client_order_id: ClientOrderId(id),
            symbol,
            side,
            qty,
            order_type,
            tif,
            session: self.session(),
        })
    }

    /// `GET /v2/orders?status=open|closed|all&limit=&direction=&symbols=`.
    pub(crate) fn list_orders(&self, q: &BTreeMap<String, String>) -> Result<Reply, BrokerError> {
        let status = q.get("status").map_or("open", String::as_str);
        let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
            None => 50,
            Some(Ok(n)) if (1..=500).contains(&n) => n,
            Some(_) => return Ok(invalid("limit must be between 1 and 500")),
        };
        let symbols: Option<Vec<String>> = q
            .get("symbols")
            .map(|s| s.split(',').map(|x| x.replace('/', "")).collect());
        let mut all: Vec<BrokerOrder> = self
            .all_orders()?
            .into_iter()
            .filter(|o| {
                let open = o.status.is_open() && !self.replaced.contains_key(&o.broker_id);
                match status {
                    "open" => open,
                    "closed" => !open,
                    _ => true,
                }
            })
            .filter(|o| {
                symbols
                    .as_ref()
                    .is_none_or(|s| s.iter().any(|x| x == o.symbol.as_str()))
            })
            .collect();
        if q.get("direction").map_or("desc", String::as_str) == "desc" {
            all.reverse();
        }
        all.truncate(limit);
        Ok(Reply::ok(Value::Array(
            all.iter().map(|o| self.order_json(o)).collect(),
        )))
    }

    pub(crate) fn by_client_id(&self, q: &BTreeMap<String, String>) -> Result<Reply, BrokerError> {
        let Some(id) = q.get("client_order_id") else {
            return Ok(invalid("client_order_id is required"));
        };
        Ok(match self.broker()?.order(&ClientOrderId(id.clone()))? {
            Some(o) => Reply::ok(self.order_json(&o)),
            None => Reply::error(404, 40410000, "order not found"),
        })
    }

    pub(crate) fn get_order(&self, id: &str) -> Result<Reply, BrokerError> {
        Ok(match self.by_venue_id(id)? {
            Some(o) => Reply::ok(self.order_json(&o)),
            None => Reply::error(404, 40410000, "order not found"),
        })
    }

    /// `PATCH /v2/orders/{id}`: a new order replacing the old; refused while the old one is
    /// not at the exchange yet (`accepted`). `quirk`: replaced anyway, answered 422.
    pub(crate) fn replace(
        &mut self,
        id: &str,
        body: &[u8],
        quirk: bool,
    ) -> Result<Reply, BrokerError> {
        let Some(old) = self.by_venue_id(id)? else {
            return Ok(Reply::error(404, 40410000, "order not found"));
        };
        let status = self.status_of(&old);
        if !old.status.is_open() || status == "replaced" {
            return Ok(Reply::error(
                422,
                42210000,
                format!("order is already in \"{status}\" state"),
            ));
        }
        if status == "accepted" && !quirk {
            return Ok(Reply::error(
                422,
                42210000,
                "unable to replace order, order isn't sent to exchange yet",
            ));
        }
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            return Ok(invalid("request body format is invalid"));
        };
        let new = match self.patched(&old, &body) {
            Ok(n) => n,
            Err(r) => return Ok(r),
        };
        let mut b = self.broker()?;
        let placed = match b.replace(&old.client_order_id, &new) {
            Ok(o) => o,
            Err(BrokerError::Duplicate(_)) => return Ok(invalid("client_order_id must be unique")),
            Err(e) => return Err(e),
        };
        drop(b);
        if placed.status == OrderStatus::Rejected {
            return Ok(refused(
                placed.reason.as_deref().unwrap_or("order rejected"),
            ));
        }
        self.replaced
            .insert(old.broker_id.clone(), placed.broker_id.clone());
        if quirk {
            return Ok(Reply::error(
                422,
                42210000,
                "unable to replace order, order isn't sent to exchange yet",
            ));
        }
        Ok(Reply::ok(self.order_json(&placed)))
    }

    /// The order a PATCH body makes of `old`.
    fn patched(&self, old: &BrokerOrder, body: &Value) -> Result<OrderRequest, Reply> {
        let qty = match decimal(body, "qty")? {
            Some(q) if q.fract() != Decimal::ZERO || q <= Decimal::ZERO => {
                return Err(invalid("qty must be a whole number of shares"));
            }
            Some(q) => q,
            None => old.qty,
        };
        let tif = match text(body, "time_in_force") {
            None => old.tif,
            Some(t) => TimeInForce::parse(t)
                .ok_or_else(|| invalid(format!("invalid time_in_force {t:?}")))?,
        };
        let stop = decimal(body, "stop_price")?;
        let limit = decimal(body, "limit_price")?;
        for (key, p) in [("stop_price", stop), ("limit_price", limit)] {
            if let Some(r) = p.and_then(|p| sub_penny(key, p)) {
                return Err(r);
            }
        }
        let order_type = OrderType::of(
            stop.or(old.order_type.stop_price())
                .filter(|_| old.order_type.stop_price().is_some()),
            limit
                .or(old.order_type.limit_price())
                .filter(|_| old.order_type.limit_price().is_some()),
        );
        let id = match text(body, "client_order_id") {
            Some(c) if !c.is_empty() => c.to_string(),
            _ => new_id(self.calls()),
        };
        Ok(OrderRequest {
            client_order_id: ClientOrderId(id),
            symbol: old.symbol.clone(),
            side: old.side,
            qty,
            order_type,
            tif,
            session: self.session(),
        })
    }

    /// `DELETE /v2/orders/{id}`: 204, or 422 when the order is no longer working.
    pub(crate) fn cancel(&mut self, id: &str) -> Result<Reply, BrokerError> {
        let Some(o) = self.by_venue_id(id)? else {
            return Ok(Reply::error(404, 40410000, "order not found"));
        };
        let status = self.status_of(&o);
        if !o.status.is_open() || status == "replaced" {
            return Ok(Reply::error(
                422,
                42210000,
                format!("order is already in \"{status}\" state"),
            ));
        }
        self.broker()?.cancel(&o.client_order_id)?;
        Ok(Reply::empty(204))
    }

    /// `DELETE /v2/orders`: 207, one item per working order.
    pub(crate) fn cancel_all(&mut self) -> Result<Reply, BrokerError> {
        let mut b = self.broker()?;
        let open = b.open_orders()?;
        let mut items = Vec::new();
        for o in open
            .iter()
            .filter(|o| !self.replaced.contains_key(&o.broker_id))
        {
            match b.cancel(&o.client_order_id) {
                Ok(_) => items.push(json!({"id": o.broker_id, "status": 200})),
                Err(e) => items.push(json!({"id": o.broker_id, "status": 500,
                    "body": {"code": 50010000, "message": e.to_string()}})),
            }
        }
        Ok(Reply::status(207, Value::Array(items)))
    }

    /// `GET /v2/account/activities/FILL`: one activity per execution, oldest first with
    /// `direction=asc`, `page_size` (≤ 100) per page, the next page after `page_token`.
    pub(crate) fn activities(&self, q: &BTreeMap<String, String>) -> Result<Reply, BrokerError> {
        if let Some(t) = q.get("activity_types")
            && !t.split(',').any(|x| x == "FILL")
        {
            return Ok(Reply::ok(json!([])));
        }
        let size = match q.get("page_size").map(|s| s.parse::<usize>()) {
            None => 100,
            Some(Ok(n)) if (1..=100).contains(&n) => n,
            Some(_) => return Ok(invalid("page_size must be between 1 and 100")),
        };
        let mut b = self.broker()?;
        let fills = b.fills(None)?;
        let orders: HashMap<ClientOrderId, BrokerOrder> = b
            .all_orders()?
            .into_iter()
            .map(|o| (o.client_order_id.clone(), o))
            .collect();
        drop(b);
        let mut cum: HashMap<&ClientOrderId, Decimal> = HashMap::new();
        let mut per_day: HashMap<chrono::NaiveDate, u32> = HashMap::new();
        let mut items: Vec<(String, String, Value)> = Vec::new();
        for f in &fills {
            let Some(o) = orders.get(&f.client_order_id) else {
                continue;
            };
            let c = cum.entry(&f.client_order_id).or_default();
            *c += f.qty;
            let n = per_day.entry(f.date).or_default();
            *n += 1;
            let at = wire::utc_at(f.date, 9, 30, *n);
            let id = format!(
                "{}{:03}::{}",
                at.chars()
                    .filter(char::is_ascii_digit)
                    .take(14)
                    .collect::<String>(),
                n,
                f.fill_id
            );
            let leaves = (o.qty - *c).max(Decimal::ZERO);
            let v = json!({
                "id": id,
                "activity_type": "FILL",
                "transaction_time": at,
                "type": if leaves.is_zero() { "fill" } else { "partial_fill" },
                "price": wire::dec(f.price),
                "qty": wire::dec(f.qty),
                "side": match f.side { Side::Buy => "buy", Side::Sell => "sell" },
                "symbol": wire::order_symbol(f.symbol.as_str(), self.crypto.contains(&f.symbol)),
                "leaves_qty": wire::dec(leaves),
                "order_id": o.broker_id,
                "cum_qty": wire::dec(*c),
                "order_status": self.status_of(o),
            });
            items.push((id, at, v));
        }
        let after = q.get("after").cloned();
        let until = q.get("until").cloned();
        let date = q.get("date").cloned();
        items.retain(|(_, at, _)| {
            after.as_ref().is_none_or(|a| at.as_str() > a.as_str())
                && until.as_ref().is_none_or(|u| at.as_str() < u.as_str())
                && date.as_ref().is_none_or(|d| at.starts_with(d.as_str()))
        });
        if q.get("direction").map_or("desc", String::as_str) == "desc" {
            items.reverse();
        }
        let start = match q.get("page_token") {
            Some(t) => items
                .iter()
                .position(|(id, _, _)| id == t)
                .map_or(items.len(), |i| i + 1),
            None => 0,
        };
        Ok(Reply::ok(Value::Array(
            items
                .into_iter()
                .skip(start)
                .take(size)
                .map(|(_, _, v)| v)
                .collect(),
        )))
    }
}
