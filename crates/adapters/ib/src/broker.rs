//! [`IbBroker`]: the [`Broker`] trait on a TWS / IB Gateway session.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;
use ibapi::Client;
use ibapi::accounts::types::AccountGroup;
use ibapi::accounts::{AccountSummaryResult, PositionUpdate};
use ibapi::contracts::Contract;
use ibapi::orders::{
    Action, CancelOrder, ExecutionFilter, Executions, Order, OrderData, Orders, PlaceOrder,
};
use ibapi::subscriptions::SubscriptionItem;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use systrade_broker::venue::{self, cancel_then_new};
use systrade_broker::{
    Account, Broker, BrokerError, BrokerFill, BrokerOrder, OrderRequest, OrderStatus, OrderType,
    Position, Preview,
};
use systrade_core::contracts::{ClientOrderId, Side};

use crate::parse;

/// How a session is opened.
#[derive(Debug, Clone)]
pub struct Connect {
    pub host: String,
    pub port: u16,
    pub client_id: i32,
    /// The account to trade when the gateway manages several.
    pub account: Option<String>,
    /// The session the caller trades in.
    pub session: NaiveDate,
    /// How long an answer may take.
    pub timeout: Duration,
}

impl Connect {
    /// `SYSTRADE_IB_HOST` (127.0.0.1), `SYSTRADE_IB_PORT` (7497: TWS paper),
    /// `SYSTRADE_IB_CLIENT_ID` (1), `SYSTRADE_IB_ACCOUNT` (optional).
    pub fn from_env(session: NaiveDate) -> Result<Connect, BrokerError> {
        let var = venue::env_value;
        let port = match var("SYSTRADE_IB_PORT") {
            None => 7497,
            Some(p) => p.parse::<u16>().map_err(|_| {
                BrokerError::Invalid(format!(
                    "SYSTRADE_IB_PORT {p:?} is not a port (7497 TWS paper, 7496 TWS live, 4002 / 4001 IB Gateway)"
                ))
            })?,
        };
        let client_id = match var("SYSTRADE_IB_CLIENT_ID") {
            None => 1,
            Some(c) => c.parse::<i32>().map_err(|_| {
                BrokerError::Invalid(format!(
                    "SYSTRADE_IB_CLIENT_ID {c:?} is not a whole number (each program connected to one TWS needs its own)"
                ))
            })?,
        };
        Ok(Connect {
            host: var("SYSTRADE_IB_HOST").unwrap_or_else(|| "127.0.0.1".into()),
            port,
            client_id,
            account: var("SYSTRADE_IB_ACCOUNT"),
            session,
            timeout: Duration::from_secs(20),
        })
    }

    fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// A connected IB account.
pub struct IbBroker {
    client: Client,
    c: Connect,
    account: String,
    paper: bool,
}

/// A TWS error as a broker error: a lost connection is worth retrying (the client reconnects
/// by itself), the rest says what TWS said.
fn ib_error(e: ibapi::Error) -> BrokerError {
    use ibapi::Error as E;
    if e.is_connection_lost() {
        return BrokerError::Unreachable(format!("the TWS connection dropped: {e}"));
    }
    match e {
        E::Io(_) | E::ConnectionFailed | E::ConnectionReset | E::Shutdown => {
            BrokerError::Unreachable(format!("TWS / IB Gateway: {e}"))
        }
        E::ConnectionRejected(m) => BrokerError::Unreachable(format!(
            "TWS / IB Gateway refused the connection ({m}): check that the API is enabled and this host is trusted"
        )),
        E::ClientIdInUse { client_id } => BrokerError::Credentials(format!(
            "TWS says client id {client_id} is already connected: set SYSTRADE_IB_CLIENT_ID to one no other program uses"
        )),
        E::Timeout => BrokerError::Timeout,
        E::Notice(n) => BrokerError::Server {
            status: 500,
            message: format!("TWS error {}: {}", n.code, n.message),
        },
        other => BrokerError::Invalid(format!("TWS: {other}")),
    }
}

fn parse_err(e: venue::ParseError) -> BrokerError {
    BrokerError::from(e)
}

/// An order as the open-orders and completed-orders answers tell it.
#[derive(Debug, Clone)]
struct Seen {
    data: OrderData,
    /// Filled and its average price (from `orderStatus`; for a completed order, its own).
    filled: f64,
    avg: Option<f64>,
    status: ibapi::orders::OrderStatusKind,
    completed: bool,
}

impl IbBroker {
    /// Connects: the account is read before any order can go out, and the gateway's clock
    /// must be at the run's session.
    pub fn connect(c: Connect) -> Result<IbBroker, BrokerError> {
        let client = open(&c)?;
        let managed = client.handshake_managed_accounts().to_vec();
        let account = match (&c.account, managed.as_slice()) {
            (Some(a), list) if list.iter().any(|m| m == a) => a.clone(),
            (Some(a), list) => {
                return Err(BrokerError::Credentials(format!(
                    "SYSTRADE_IB_ACCOUNT {a} is not an account this login manages ({})",
                    list.join(", ")
                )));
            }
            (None, [one]) => one.clone(),
            (None, []) => {
                return Err(BrokerError::Invalid(
                    "TWS manages no account for this login".into(),
                ));
            }
            (None, list) => {
                return Err(BrokerError::Credentials(format!(
                    "this login manages several accounts ({}): set SYSTRADE_IB_ACCOUNT to the one this book trades",
                    list.join(", ")
                )));
            }
        };
        let mut b = IbBroker {
            paper: account.starts_with("DU"),
            client,
            account,
            c,
        };
        let at = b.venue_session()?;
        if at != b.c.session {
            return Err(BrokerError::Invalid(format!(
                "TWS's clock is at session {at}, the run is for {}: run when the venue trades that session",
                b.c.session
            )));
        }
        Ok(b)
    }

    /// The session TWS's clock is at, without trading.
    pub fn session_at(c: Connect) -> Result<NaiveDate, BrokerError> {
        let client = open(&c)?;
        server_session(&client)
    }

    pub fn account_id(&self) -> &str {
        &self.account
    }

    /// The session TWS's clock is at (New York; after the close, the next weekday).
    pub fn venue_session(&mut self) -> Result<NaiveDate, BrokerError> {
        server_session(&self.client)
    }

    /// The client again after a dropped connection (it reconnects by itself; wait for it).
    fn settle(&self) {
        let _ = self.client.wait_connected();
    }

    /// Runs a request; when the connection dropped under it, once more on the new one.
    fn twice<T>(
        &mut self,
        mut f: impl FnMut(&mut IbBroker) -> Result<T, BrokerError>,
    ) -> Result<T, BrokerError> {
        match f(self) {
            Err(BrokerError::Unreachable(_)) => {
                self.settle();
                f(self)
            }
            r => r,
        }
    }

    fn seen_orders(&mut self) -> Result<Vec<Seen>, BrokerError> {
        self.twice(|b| {
            let mut open = b.open_raw()?;
            open.extend(b.completed_raw()?);
            Ok(open)
        })
    }

    fn open_raw(&mut self) -> Result<Vec<Seen>, BrokerError> {
        let sub = self.client.all_open_orders().map_err(ib_error)?;
        let items = sub
            .collect_to_end_within(self.c.timeout)
            .map_err(ib_error)?;
        let mut by_id: BTreeMap<i32, Seen> = BTreeMap::new();
        let mut statuses = BTreeMap::new();
        for it in items {
            match it {
                Orders::OrderData(d) => {
                    let status = d.order_state.status.clone();
                    by_id.insert(
                        d.order_id,
                        Seen {
                            filled: d.order.filled_quantity,
                            avg: None,
                            status,
                            completed: false,
                            data: d,
                        },
                    );
                }
                Orders::OrderStatus(s) => {
                    statuses.insert(s.order_id, s);
                }
            }
        }
        for (id, s) in statuses {
            if let Some(seen) = by_id.get_mut(&id) {
                seen.filled = s.filled;
                seen.avg = s.average_fill_price.filter(|p| *p > 0.0);
                seen.status = s.status;
            }
        }
        Ok(by_id
            .into_values()
            .filter(|s| s.data.order.account == self.account || s.data.order.account.is_empty())
            .collect())
    }

    fn completed_raw(&mut self) -> Result<Vec<Seen>, BrokerError> {
        let sub = self.client.completed_orders(false).map_err(ib_error)?;
        let items = sub
            .collect_to_end_within(self.c.timeout)
            .map_err(ib_error)?;
        Ok(items
            .into_iter()
            .filter_map(|it| match it {
                Orders::OrderData(d) => Some(d),
                Orders::OrderStatus(_) => None,
            })
            .filter(|d| d.order.account == self.account || d.order.account.is_empty())
            .map(|d| Seen {
                filled: d.order.filled_quantity,
                avg: None,
                status: d.order_state.status.clone(),
                completed: true,
                data: d,
            })
            .collect())
    }

    fn to_order(&self, s: &Seen, avg: Option<Decimal>) -> Result<BrokerOrder, BrokerError> {
        let o = &s.data.order;
        let cid = parse::client_order_id(&o.order_ref, o.perm_id);
        let id = cid.0.clone();
        let filled = parse::decimal(s.filled, "filled", &id).map_err(parse_err)?;
        // A completed order's size is what was left unfilled (TWS's convention).
        let qty_raw = if s.completed {
            o.total_quantity + s.filled
        } else {
            o.total_quantity
        };
        let qty = parse::decimal(qty_raw, "totalQuantity", &id).map_err(parse_err)?;
        let completed_status = s.data.order_state.completed_status.clone();
        let session = if s.completed && !s.data.order_state.completed_time.is_empty() {
            parse::day_of(&s.data.order_state.completed_time, "order", &id).map_err(parse_err)?
        } else {
            self.c.session
        };
        let status = parse::status(
            &s.status,
            filled,
            (!completed_status.is_empty()).then_some(completed_status.as_str()),
            &id,
        )
        .map_err(parse_err)?;
        let avg_price = match (avg, s.avg) {
            (Some(a), _) => Some(a),
            (None, Some(a)) => Some(parse::decimal(a, "avgFillPrice", &id).map_err(parse_err)?),
            (None, None) => None,
        };
        let reason = match status {
            OrderStatus::Rejected => Some(non_empty(
                &s.data.order_state.reject_reason,
                &completed_status,
            )),
            OrderStatus::Canceled | OrderStatus::Expired if !completed_status.is_empty() => {
                Some(completed_status.clone())
            }
            _ => None,
        };
        Ok(BrokerOrder {
            client_order_id: cid,
            broker_id: o.order_id.to_string(),
            symbol: parse::symbol(&s.data.contract.symbol.to_string(), &id).map_err(parse_err)?,
            side: parse::side(&o.action, &id).map_err(parse_err)?,
            qty,
            order_type: parse::order_type(o, &id).map_err(parse_err)?,
            tif: parse::tif(&o.tif, &id).map_err(parse_err)?,
            session,
            status,
            filled_qty: filled,
            avg_price: if filled > Decimal::ZERO {
                avg_price
            } else {
                None
            },
            reason,
        })
    }

    /// Average fill prices by order, from the executions (a completed order carries none).
    fn fill_prices(&mut self) -> Result<BTreeMap<ClientOrderId, Decimal>, BrokerError> {
        let mut sums: BTreeMap<ClientOrderId, (Decimal, Decimal)> = BTreeMap::new();
        for f in self.fills(None)? {
            let e = sums.entry(f.client_order_id).or_default();
            e.0 += f.qty * f.price;
            e.1 += f.qty;
        }
        Ok(sums
            .into_iter()
            .filter(|(_, (_, q))| !q.is_zero())
            .map(|(k, (v, q))| (k, (v / q).round_dp(8).normalize()))
            .collect())
    }

    /// Our orders among `seen`, newest IB order last; completed ones priced from executions.
    fn orders_of(&mut self, seen: Vec<Seen>) -> Result<Vec<BrokerOrder>, BrokerError> {
        let need_prices = seen.iter().any(|s| s.completed && s.filled > 0.0);
        let prices = if need_prices {
            self.fill_prices()?
        } else {
            BTreeMap::new()
        };
        let mut seen = seen;
        seen.sort_by_key(|s| s.data.order.order_id);
        seen.iter()
            .map(|s| {
                let cid = parse::client_order_id(&s.data.order.order_ref, s.data.order.perm_id);
                self.to_order(s, prices.get(&cid).copied())
            })
            .collect()
    }

    fn find(&mut self, id: &ClientOrderId) -> Result<Option<(BrokerOrder, i32)>, BrokerError> {
        let seen: Vec<Seen> = self
            .seen_orders()?
            .into_iter()
            .filter(|s| s.data.order.order_ref == id.0)
            .collect();
        let ids: Vec<i32> = {
            let mut v: Vec<&Seen> = seen.iter().collect();
            v.sort_by_key(|s| s.data.order.order_id);
            v.iter().map(|s| s.data.order.order_id).collect()
        };
        let orders = self.orders_of(seen)?;
        Ok(orders.into_iter().zip(ids).next_back())
    }

    fn ib_order(&self, req: &OrderRequest) -> Order {
        let price = |p: Decimal| venue::us_equity_price(p, req.side).to_f64();
        let (kind, limit, aux) = match req.order_type {
            OrderType::Market => ("MKT", None, None),
            OrderType::Limit { limit } => ("LMT", price(limit), None),
            OrderType::Stop { stop } => ("STP", None, price(stop)),
            OrderType::StopLimit { stop, limit } => ("STP LMT", price(limit), price(stop)),
        };
        Order {
            action: match req.side {
                Side::Buy => Action::Buy,
                Side::Sell => Action::Sell,
            },
            total_quantity: req.qty.to_f64().unwrap_or(0.0),
            order_type: kind.to_string(),
            limit_price: limit,
            aux_price: aux,
            tif: parse::to_ib_tif(req.tif),
            order_ref: req.client_order_id.0.clone(),
            account: self.account.clone(),
            transmit: true,
            outside_rth: false,
            ..Order::default()
        }
    }

    /// Places `req` under a fresh IB order id and reads TWS's answer: its status, or the
    /// error that refused it.
    fn place(&mut self, req: &OrderRequest) -> Result<BrokerOrder, BrokerError> {
        let contract = Contract::stock(req.symbol.as_str()).build();
        let order = self.ib_order(req);
        let mut retried = false;
        loop {
            let id = self.client.next_order_id();
            let sub = self
                .client
                .place_order(id, &contract, &order)
                .map_err(ib_error)?;
            let deadline = std::time::Instant::now() + self.c.timeout;
            // TWS answers with openOrder and orderStatus, in either order.
            let mut data: Option<OrderData> = None;
            let mut status: Option<ibapi::orders::OrderStatus> = None;
            let mut reused = false;
            while data.is_none() || status.is_none() {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return Err(BrokerError::Timeout);
                }
                match sub.next_timeout(left) {
                    None => return Err(BrokerError::Timeout),
                    Some(Ok(SubscriptionItem::Data(PlaceOrder::OpenOrder(d)))) => data = Some(d),
                    Some(Ok(SubscriptionItem::Data(PlaceOrder::OrderStatus(s)))) => {
                        status = Some(s);
                    }
                    Some(Ok(_)) => {}
                    // A reused order id (another program took ours): ask TWS for the next.
                    Some(Err(ibapi::Error::Notice(n))) if n.code == 103 && !retried => {
                        retried = true;
                        reused = true;
                        self.client.next_valid_order_id().map_err(ib_error)?;
                        break;
                    }
                    Some(Err(ibapi::Error::Notice(n))) => {
                        return Ok(venue::refused(
                            req,
                            format!("TWS error {}: {}", n.code, n.message),
                        ));
                    }
                    Some(Err(e)) => return Err(ib_error(e)),
                }
            }
            let (Some(d), false) = (data, reused) else {
                continue;
            };
            let (filled, avg, kind) = match status {
                Some(s) => (s.filled, s.average_fill_price, s.status),
                None => (0.0, None, d.order_state.status.clone()),
            };
            let seen = Seen {
                data: d,
                filled,
                avg: avg.filter(|p| *p > 0.0),
                status: kind,
                completed: false,
            };
            return self.to_order(&seen, None);
        }
    }
}

/// A session with TWS at `c`'s address. TWS holds a dropped session's client id until it
/// notices the socket is gone (a killed run's): that refusal is tried again for a few seconds.
fn open(c: &Connect) -> Result<Client, BrokerError> {
    let mut wait = Duration::from_millis(100);
    loop {
        match Client::connect(&c.address(), c.client_id) {
            Err(ibapi::Error::ClientIdInUse { .. }) if wait < Duration::from_secs(3) => {
                std::thread::sleep(wait);
                wait *= 2;
            }
            r => return r.map_err(|e| open_error(c, e)),
        }
    }
}

fn open_error(c: &Connect, e: ibapi::Error) -> BrokerError {
    match e {
        ibapi::Error::Io(io) => BrokerError::Unreachable(format!(
            "cannot reach TWS / IB Gateway at {} ({io}): is it running and logged in, with the API enabled on that port (SYSTRADE_IB_HOST, SYSTRADE_IB_PORT)?",
            c.address()
        )),
        e => ib_error(e),
    }
}

/// The session TWS's clock is at (New York; after the close, the next weekday).
fn server_session(client: &Client) -> Result<NaiveDate, BrokerError> {
    let t = client.server_time().map_err(ib_error)?;
    let secs = t.unix_timestamp();
    let utc = chrono::DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| BrokerError::Invalid(format!("TWS time {secs} is not a time")))?;
    let ny = utc
        .with_timezone(&chrono_tz::America::New_York)
        .naive_local();
    Ok(parse::session_of(ny))
}

fn non_empty(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        a.to_string()
    }
}

impl Broker for IbBroker {
    fn kind(&self) -> &str {
        "ib"
    }

    fn is_live(&self) -> bool {
        !self.paper
    }

    fn account(&mut self) -> Result<Account, BrokerError> {
        self.twice(|b| {
            let tags = ["NetLiquidation", "TotalCashValue"];
            let sub = b
                .client
                .account_summary(&AccountGroup("All".into()), &tags)
                .map_err(ib_error)?;
            let mut values: BTreeMap<String, (String, String)> = BTreeMap::new();
            loop {
                match sub.next_timeout(b.c.timeout) {
                    None => return Err(BrokerError::Timeout),
                    Some(Ok(SubscriptionItem::Data(AccountSummaryResult::End))) => break,
                    Some(Ok(SubscriptionItem::Data(AccountSummaryResult::Summary(s)))) => {
                        if s.account == b.account {
                            values.insert(s.tag, (s.value, s.currency));
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(ib_error(e)),
                }
            }
            let money = |tag: &str| -> Result<(Decimal, String), BrokerError> {
                let (v, cur) = values.get(tag).ok_or_else(|| {
                    BrokerError::Invalid(format!(
                        "TWS's account summary of {} has no {tag}",
                        b.account
                    ))
                })?;
                let d = v.parse::<Decimal>().map_err(|_| {
                    BrokerError::Invalid(format!(
                        "TWS's account summary of {}: {tag} {v:?} is not an amount",
                        b.account
                    ))
                })?;
                Ok((d, cur.clone()))
            };
            let (cash, currency) = money("TotalCashValue")?;
            let (equity, _) = money("NetLiquidation")?;
            Ok(Account {
                id: b.account.clone(),
                currency,
                cash,
                equity,
                paper: b.paper,
                trading_blocked: false,
            })
        })
    }

    fn positions(&mut self) -> Result<Vec<Position>, BrokerError> {
        let open = self.open_orders()?;
        self.twice(|b| {
            let sub = b.client.positions().map_err(ib_error)?;
            let mut out = Vec::new();
            loop {
                match sub.next_timeout(b.c.timeout) {
                    None => return Err(BrokerError::Timeout),
                    Some(Ok(SubscriptionItem::Data(PositionUpdate::PositionEnd))) => break,
                    Some(Ok(SubscriptionItem::Data(PositionUpdate::Position(p)))) => {
                        if p.account != b.account || p.position == 0.0 {
                            continue;
                        }
                        let sym = p.contract.symbol.to_string();
                        let symbol = parse::symbol(&sym, &sym).map_err(parse_err)?;
                        let qty =
                            parse::decimal(p.position, "position", &sym).map_err(parse_err)?;
                        let reserved: Decimal = open
                            .iter()
                            .filter(|o| o.symbol == symbol && o.side == Side::Sell)
                            .map(BrokerOrder::remaining)
                            .sum();
                        out.push(Position {
                            avg_price: parse::decimal(p.average_cost, "avgCost", &sym)
                                .map_err(parse_err)?,
                            reserved: if qty > Decimal::ZERO {
                                reserved.min(qty)
                            } else {
                                Decimal::ZERO
                            },
                            qty,
                            symbol,
                        });
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(ib_error(e)),
                }
            }
            out.sort_by(|a, b| a.symbol.cmp(&b.symbol));
            Ok(out)
        })
    }

    fn open_orders(&mut self) -> Result<Vec<BrokerOrder>, BrokerError> {
        let seen = self.twice(|b| b.open_raw())?;
        Ok(self
            .orders_of(seen)?
            .into_iter()
            .filter(|o| o.status.is_open())
            .collect())
    }

    fn order(&mut self, id: &ClientOrderId) -> Result<Option<BrokerOrder>, BrokerError> {
        Ok(self.find(id)?.map(|(o, _)| o))
    }

    fn fills(&mut self, since: Option<NaiveDate>) -> Result<Vec<BrokerFill>, BrokerError> {
        self.twice(|b| {
            let filter = ExecutionFilter {
                account_code: b.account.clone(),
                time: since
                    .map(|d| format!("{} 00:00:00 US/Eastern", d.format("%Y%m%d")))
                    .unwrap_or_default(),
                ..ExecutionFilter::default()
            };
            let sub = b.client.executions(filter).map_err(ib_error)?;
            let items = sub.collect_to_end_within(b.c.timeout).map_err(ib_error)?;
            let mut execs = BTreeMap::new();
            let mut fees = BTreeMap::new();
            for it in items {
                match it {
                    Executions::ExecutionData(d) => {
                        let (base, rev) = parse::exec_revision(&d.execution.execution_id);
                        let base = base.to_string();
                        let newer = execs
                            .get(&base)
                            .is_none_or(|(r, _): &(u32, ibapi::orders::ExecutionData)| rev >= *r);
                        if newer {
                            execs.insert(base, (rev, d));
                        }
                    }
                    Executions::CommissionReport(c) => {
                        fees.insert(c.execution_id.clone(), c.commission);
                    }
                }
            }
            let mut out = Vec::new();
            for (_, (_, d)) in execs {
                let e = &d.execution;
                if e.account_number != b.account {
                    continue;
                }
                let id = e.execution_id.clone();
                let fee = fees.get(&id).copied().ok_or_else(|| BrokerError::Server {
                    status: 503,
                    message: format!(
                        "TWS sent execution {id} without its commission report yet; read the fills again"
                    ),
                })?;
                out.push(BrokerFill {
                    fill_id: id.clone(),
                    client_order_id: parse::client_order_id(&e.order_reference, e.perm_id),
                    symbol: parse::symbol(&d.contract.symbol.to_string(), &id).map_err(parse_err)?,
                    side: parse::exec_side(&e.side),
                    qty: parse::decimal(e.shares, "shares", &id).map_err(parse_err)?,
                    price: parse::decimal(e.price, "price", &id).map_err(parse_err)?,
                    fee: parse::decimal(fee, "commission", &id).map_err(parse_err)?,
                    date: parse::execution_day(e).map_err(parse_err)?,
                });
            }
            out.retain(|f| since.is_none_or(|s| f.date >= s));
            out.sort_by(|a, b| (a.date, &a.fill_id).cmp(&(b.date, &b.fill_id)));
            Ok(out)
        })
    }

    fn submit(&mut self, req: &OrderRequest) -> Result<BrokerOrder, BrokerError> {
        if req.qty <= Decimal::ZERO || !req.qty.fract().is_zero() {
            return Ok(venue::refused(
                req,
                format!(
                    "IB takes US stocks in whole shares: {} is not a positive whole quantity",
                    req.qty.normalize()
                ),
            ));
        }
        if self.find(&req.client_order_id)?.is_some() {
            return Err(BrokerError::Duplicate(req.client_order_id.clone()));
        }
        self.place(req)
    }

    fn cancel(&mut self, id: &ClientOrderId) -> Result<BrokerOrder, BrokerError> {
        let Some((o, ib_id)) = self.find(id)? else {
            return Err(BrokerError::NotFound(id.clone()));
        };
        if !o.status.is_open() {
            return Err(BrokerError::Invalid(format!(
                "order {id} is {} at IB: nothing to cancel",
                o.status
            )));
        }
        let sub = self.client.cancel_order(ib_id, "").map_err(ib_error)?;
        loop {
            match sub.next_timeout(self.c.timeout) {
                None => return Err(BrokerError::Timeout),
                Some(Ok(SubscriptionItem::Data(CancelOrder::OrderStatus(s)))) => {
                    if !matches!(
                        s.status,
                        ibapi::orders::OrderStatusKind::PendingCancel
                            | ibapi::orders::OrderStatusKind::PreSubmitted
                            | ibapi::orders::OrderStatusKind::Submitted
                    ) {
                        break;
                    }
                }
                Some(Ok(_)) => {}
                // 202: "Order Canceled" comes as an error bound to the order.
                Some(Err(ibapi::Error::Notice(n))) if n.code == 202 => break,
                Some(Err(ibapi::Error::Notice(n))) if n.code == 161 || n.code == 135 => {
                    return Err(BrokerError::Invalid(format!(
                        "TWS error {}: {}",
                        n.code, n.message
                    )));
                }
                Some(Err(e)) => return Err(ib_error(e)),
            }
        }
        self.find(id)?
            .map(|(o, _)| o)
            .ok_or_else(|| BrokerError::NotFound(id.clone()))
    }

    fn replace(
        &mut self,
        id: &ClientOrderId,
        new: &OrderRequest,
    ) -> Result<BrokerOrder, BrokerError> {
        let Some((old, _)) = self.find(id)? else {
            return Err(BrokerError::NotFound(id.clone()));
        };
        cancel_then_new(self, &old, new)
    }

    fn preview(
        &mut self,
        req: &OrderRequest,
        freeing: &[ClientOrderId],
    ) -> Result<Preview, BrokerError> {
        let refuse = |why: String| Preview {
            client_order_id: req.client_order_id.clone(),
            accepted: false,
            reason: Some(why),
            est_price: None,
            est_fee: None,
        };
        if req.side == Side::Sell {
            let free = venue::free_to_sell(self, &req.symbol, freeing)?;
            if req.qty > free {
                return Ok(refuse(format!(
                    "the account holds {} free to sell, the order is for {}",
                    free.normalize(),
                    req.qty.normalize()
                )));
            }
        }
        Ok(Preview {
            client_order_id: req.client_order_id.clone(),
            accepted: true,
            reason: None,
            est_price: None,
            est_fee: None,
        })
    }
}
