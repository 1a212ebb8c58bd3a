//! One client connection: the handshake, then each request answered from the gateway's state.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use chrono::{NaiveDate, TimeZone};
use chrono_tz::America::New_York;
use prost::Message;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use systrade_broker::{
    Broker, BrokerFill, BrokerOrder, OrderRequest, OrderStatus, OrderType, TimeInForce,
};
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};

use super::Gateway;
use super::proto::{self, incoming as inc, outgoing as out};
use crate::faults::FaultKind;

/// The newest server version this gateway speaks; older clients than 213 (text messages for
/// orders) are refused.
pub const SERVER_VERSION: i32 = 226;
const MIN_CLIENT_VERSION: i32 = 213;
/// TWS's frame limit.
const MAX_FRAME: usize = 0x00FF_FFFF;
/// How long TWS keeps executions for `reqExecutions`.
const EXECUTION_DAYS: i64 = 7;

/// A frame to send: message id (without the protobuf offset) and payload.
type Frame = (i32, Vec<u8>);

fn frame<M: Message>(id: i32, m: &M) -> Frame {
    (id, m.encode_to_vec())
}

fn error(id: i32, code: i32, msg: impl Into<String>) -> Frame {
    frame(
        inc::ERROR,
        &proto::ErrorMessage {
            id: Some(id),
            error_time: Some(chrono::Utc::now().timestamp_millis()),
            error_code: Some(code),
            error_msg: Some(msg.into()),
        },
    )
}

fn write_frames(conn: &mut TcpStream, frames: &[Frame]) -> std::io::Result<()> {
    let mut buf = Vec::new();
    for (id, payload) in frames {
        let len = (payload.len() + 4) as u32;
        buf.extend_from_slice(&len.to_be_bytes());
        buf.extend_from_slice(&(id + 200).to_be_bytes());
        buf.extend_from_slice(payload);
    }
    conn.write_all(&buf)
}

fn read_body(conn: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    conn.read_exact(&mut len)?;
    let n = u32::from_be_bytes(len) as usize;
    if n > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {n} bytes"),
        ));
    }
    let mut body = vec![0u8; n];
    conn.read_exact(&mut body)?;
    Ok(body)
}

/// `v<min>..<max>` (optionally followed by connect options) → the version range.
fn version_range(s: &str) -> Option<(i32, i32)> {
    let v = s.strip_prefix('v')?.split_whitespace().next()?;
    let (lo, hi) = v.split_once("..")?;
    Some((lo.parse().ok()?, hi.parse().ok()?))
}

/// Serves one connection until the client leaves (or a fault drops it).
pub(crate) fn serve(mut conn: TcpStream, state: &Arc<Mutex<Gateway>>) {
    let _ = conn.set_nodelay(true);
    let mut client = None;
    let _ = run(&mut conn, state, &mut client);
    if let (Some(id), Ok(mut g)) = (client, state.lock()) {
        g.clients.remove(&id);
    }
}

fn run(
    conn: &mut TcpStream,
    state: &Arc<Mutex<Gateway>>,
    client: &mut Option<i32>,
) -> std::io::Result<()> {
    let mut prefix = [0u8; 4];
    conn.read_exact(&mut prefix)?;
    if &prefix != b"API\0" {
        return Ok(());
    }
    let range = String::from_utf8_lossy(&read_body(conn)?).into_owned();
    let Some((lo, hi)) = version_range(&range) else {
        return Ok(());
    };
    if hi < MIN_CLIENT_VERSION || lo > SERVER_VERSION {
        // TWS answers with its own version; a client that cannot speak it hangs up.
        return write_text(
            conn,
            &[&SERVER_VERSION.to_string(), &connection_time(state)],
        );
    }
    let version = hi.min(SERVER_VERSION);
    write_text(conn, &[&version.to_string(), &connection_time(state)])?;
    loop {
        let body = read_body(conn)?;
        if body.len() < 4 {
            return Ok(());
        }
        let raw = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        let payload = &body[4..];
        let Ok(mut g) = state.lock() else {
            return Ok(());
        };
        g.engine.calls += 1;
        if raw <= 200 {
            drop(g);
            write_frames(conn, &[error(-1, 505, "Fatal Error: Unknown message id.")])?;
            continue;
        }
        let id = raw - 200;
        let op = op_name(id);
        let fault = g.engine.take_fault(op);
        if matches!(fault, Some(FaultKind::Status(_))) {
            return Ok(());
        }
        let answer = g.answer(id, payload, client);
        drop(g);
        if fault == Some(FaultKind::Lost) {
            return Ok(());
        }
        match answer {
            Answer::Frames(f) => write_frames(conn, &f)?,
            Answer::Close(f) => {
                write_frames(conn, &f)?;
                return Ok(());
            }
        }
    }
}

fn write_text(conn: &mut TcpStream, fields: &[&str]) -> std::io::Result<()> {
    let mut body = Vec::new();
    for f in fields {
        body.extend_from_slice(f.as_bytes());
        body.push(0);
    }
    let mut buf = (body.len() as u32).to_be_bytes().to_vec();
    buf.extend_from_slice(&body);
    conn.write_all(&buf)
}

/// The gateway's wall clock: the session's day, 08:00 New York before its open, 09:31 after.
fn clock(g: &Gateway) -> chrono::DateTime<chrono_tz::Tz> {
    let (h, m) = if g.engine.open { (9, 31) } else { (8, 0) };
    let t = g.engine.session.and_hms_opt(h, m, 0).unwrap_or_default();
    New_York
        .from_local_datetime(&t)
        .earliest()
        .unwrap_or_else(|| New_York.from_utc_datetime(&t))
}

fn connection_time(state: &Arc<Mutex<Gateway>>) -> String {
    match state.lock() {
        Ok(g) => format!("{} US/Eastern", clock(&g).format("%Y%m%d %H:%M:%S")),
        Err(_) => String::new(),
    }
}

fn op_name(id: i32) -> &'static str {
    match id {
        out::PLACE_ORDER => "place_order",
        out::CANCEL_ORDER => "cancel_order",
        out::OPEN_ORDERS | out::ALL_OPEN_ORDERS | out::AUTO_OPEN_ORDERS => "open_orders",
        out::COMPLETED_ORDERS => "completed_orders",
        out::EXECUTIONS => "executions",
        out::POSITIONS | out::CANCEL_POSITIONS => "positions",
        out::ACCOUNT_SUMMARY | out::CANCEL_ACCOUNT_SUMMARY => "account_summary",
        out::START_API => "start_api",
        out::IDS => "ids",
        out::CURRENT_TIME => "current_time",
        _ => "other",
    }
}

enum Answer {
    Frames(Vec<Frame>),
    /// Answer, then close the socket.
    Close(Vec<Frame>),
}

/// The gateway's key of an order in the engine: `<client id>|<order id>|<orderRef>`.
struct Key {
    client: i32,
    order: i32,
    order_ref: String,
}

impl Key {
    fn id(&self) -> ClientOrderId {
        ClientOrderId(format!("{}|{}|{}", self.client, self.order, self.order_ref))
    }

    fn of(id: &ClientOrderId) -> Option<Key> {
        let mut parts = id.0.splitn(3, '|');
        Some(Key {
            client: parts.next()?.parse().ok()?,
            order: parts.next()?.parse().ok()?,
            order_ref: parts.next()?.to_string(),
        })
    }
}

fn perm_id(order: i32, client: i32) -> i64 {
    1_000_000_000 + i64::from(client) * 10_000_000 + i64::from(order)
}

fn contract(symbol: &Symbol) -> proto::Contract {
    proto::Contract {
        con_id: Some(con_id(symbol)),
        symbol: Some(symbol.as_str().to_string()),
        sec_type: Some("STK".into()),
        exchange: Some("SMART".into()),
        primary_exch: None,
        currency: Some("USD".into()),
        local_symbol: Some(symbol.as_str().to_string()),
        trading_class: Some(symbol.as_str().to_string()),
    }
}

/// A stable contract id per symbol (IB's are numbers it assigns).
fn con_id(symbol: &Symbol) -> i32 {
    let h = symbol
        .as_str()
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    (h % 900_000_000) as i32 + 10_000
}

fn ib_type(t: &OrderType) -> (&'static str, Option<f64>, Option<f64>) {
    let f = |d: &Decimal| d.to_f64();
    match t {
        OrderType::Market => ("MKT", None, None),
        OrderType::Limit { limit } => ("LMT", f(limit), None),
        OrderType::Stop { stop } => ("STP", None, f(stop)),
        OrderType::StopLimit { stop, limit } => ("STP LMT", f(limit), f(stop)),
    }
}

fn ib_tif(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::Day => "DAY",
        TimeInForce::Gtc => "GTC",
        TimeInForce::Ioc => "IOC",
    }
}

fn action(s: Side) -> &'static str {
    match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

impl Gateway {
    fn answer(&mut self, id: i32, payload: &[u8], client: &mut Option<i32>) -> Answer {
        let Some(me) = *client else {
            if id != out::START_API {
                return Answer::Close(vec![error(-1, 504, "Not connected")]);
            }
            return self.start_api(payload, client);
        };
        let frames = match id {
            out::START_API => vec![error(-1, 501, "Already connected.")],
            out::PLACE_ORDER => self.place_order(payload, me),
            out::CANCEL_ORDER => self.cancel_order(payload),
            out::OPEN_ORDERS => self.open_orders(Some(me)),
            out::ALL_OPEN_ORDERS | out::AUTO_OPEN_ORDERS => self.open_orders(None),
            out::COMPLETED_ORDERS => self.completed_orders(),
            out::EXECUTIONS => self.executions(payload),
            out::POSITIONS => self.positions(),
            out::CANCEL_POSITIONS | out::CANCEL_ACCOUNT_SUMMARY => Vec::new(),
            out::ACCOUNT_SUMMARY => self.account_summary(payload),
            out::IDS => vec![self.next_valid_id()],
            out::CURRENT_TIME => vec![frame(
                inc::CURRENT_TIME,
                &proto::CurrentTime {
                    current_time: Some(clock(self).timestamp()),
                },
            )],
            _ => vec![error(
                -1,
                321,
                format!(
                    "Error validating request.-'{id}' : cause - This message is not supported by the local gateway"
                ),
            )],
        };
        Answer::Frames(frames)
    }

    fn start_api(&mut self, payload: &[u8], client: &mut Option<i32>) -> Answer {
        let Ok(req) = proto::StartApiRequest::decode(payload) else {
            return Answer::Close(vec![error(-1, 505, "Fatal Error: bad startApi")]);
        };
        let id = req.client_id.unwrap_or(0);
        if !self.clients.insert(id) {
            return Answer::Close(vec![error(
                -1,
                326,
                "Unable to connect as the client id is already in use. Retry with a unique client id.",
            )]);
        }
        *client = Some(id);
        Answer::Frames(vec![
            self.next_valid_id(),
            frame(
                inc::MANAGED_ACCOUNTS,
                &proto::ManagedAccounts {
                    accounts_list: Some(self.account.clone()),
                },
            ),
            error(-1, 2104, "Market data farm connection is OK:usfarm"),
            error(-1, 2106, "HMDS data farm connection is OK:ushmds"),
            error(-1, 2158, "Sec-def data farm connection is OK:secdefnj"),
        ])
    }

    fn all(&self) -> Vec<(Key, BrokerOrder)> {
        let orders = self
            .engine
            .broker()
            .and_then(|b| b.all_orders())
            .unwrap_or_default();
        orders
            .into_iter()
            .filter_map(|o| Key::of(&o.client_order_id).map(|k| (k, o)))
            .collect()
    }

    fn next_valid_id(&self) -> Frame {
        let next = self.all().iter().map(|(k, _)| k.order).max().unwrap_or(0) + 1;
        frame(
            inc::NEXT_VALID_ID,
            &proto::NextValidId {
                order_id: Some(next),
            },
        )
    }

    /// IB's status of an order at the clock.
    fn status(&self, o: &BrokerOrder) -> &'static str {
        match o.status {
            OrderStatus::Staged | OrderStatus::Submitted => "PendingSubmit",
            OrderStatus::Accepted | OrderStatus::PartiallyFilled => {
                if o.order_type.is_stop() || !self.engine.open || o.session > self.engine.session {
                    "PreSubmitted"
                } else {
                    "Submitted"
                }
            }
            OrderStatus::Filled => "Filled",
            OrderStatus::Canceled | OrderStatus::Expired => "Cancelled",
            OrderStatus::Rejected => "Inactive",
        }
    }

    fn ib_order(&self, k: &Key, o: &BrokerOrder) -> proto::Order {
        let (kind, lmt, aux) = ib_type(&o.order_type);
        proto::Order {
            client_id: Some(k.client),
            order_id: Some(k.order),
            perm_id: Some(perm_id(k.order, k.client)),
            action: Some(action(o.side).into()),
            total_quantity: Some(o.qty.normalize().to_string()),
            order_type: Some(kind.into()),
            lmt_price: lmt,
            aux_price: aux,
            tif: Some(ib_tif(o.tif).into()),
            account: Some(self.account.clone()),
            outside_rth: Some(false),
            order_ref: (!k.order_ref.is_empty()).then(|| k.order_ref.clone()),
            what_if: None,
            transmit: Some(true),
            filled_quantity: Some(o.filled_qty.normalize().to_string()),
        }
    }

    fn order_state(&self, o: &BrokerOrder) -> proto::OrderState {
        let done = o.status.is_terminal();
        proto::OrderState {
            status: Some(self.status(o).into()),
            commission_and_fees: None,
            commission_and_fees_currency: None,
            reject_reason: (o.status == OrderStatus::Rejected)
                .then(|| o.reason.clone())
                .flatten(),
            warning_text: None,
            completed_time: done
                .then(|| format!("{} 16:00:00 US/Eastern", o.session.format("%Y%m%d"))),
            completed_status: done.then(|| match o.status {
                OrderStatus::Filled => "Filled".to_string(),
                OrderStatus::Rejected => {
                    format!("Rejected: {}", o.reason.clone().unwrap_or_default())
                }
                OrderStatus::Expired => "Cancelled by System".to_string(),
                _ => "Cancelled by Trader".to_string(),
            }),
        }
    }

    fn order_frames(&self, k: &Key, o: &BrokerOrder) -> Vec<Frame> {
        let avg = o.avg_price.and_then(|p| p.to_f64()).unwrap_or(0.0);
        vec![
            frame(
                inc::OPEN_ORDER,
                &proto::OpenOrder {
                    order_id: Some(k.order),
                    contract: Some(contract(&o.symbol)),
                    order: Some(self.ib_order(k, o)),
                    order_state: Some(self.order_state(o)),
                },
            ),
            frame(
                inc::ORDER_STATUS,
                &proto::OrderStatus {
                    order_id: Some(k.order),
                    status: Some(self.status(o).into()),
                    filled: Some(o.filled_qty.normalize().to_string()),
                    remaining: Some(o.remaining().normalize().to_string()),
                    avg_fill_price: Some(avg),
                    perm_id: Some(perm_id(k.order, k.client)),
                    parent_id: Some(0),
                    last_fill_price: Some(avg),
                    client_id: Some(k.client),
                },
            ),
        ]
    }

    fn place_order(&mut self, payload: &[u8], me: i32) -> Vec<Frame> {
        let Ok(req) = proto::PlaceOrderRequest::decode(payload) else {
            return vec![error(-1, 320, "Error reading request: placeOrder")];
        };
        let id = req.order_id.unwrap_or(0);
        match self.order_request(&req, me) {
            Ok(r) => self.submit(r, id, me),
            Err(f) => vec![f],
        }
    }

    /// The engine's request of a `placeOrder`, or IB's error for it.
    fn order_request(
        &self,
        req: &proto::PlaceOrderRequest,
        me: i32,
    ) -> Result<OrderRequest, Frame> {
        let id = req.order_id.unwrap_or(0);
        let reject = |why: &str| error(id, 201, format!("Order rejected - reason:{why}"));
        if id <= 0 {
            return Err(error(id, 103, "Duplicate order id"));
        }
        if let Some((k, o)) = self.all().into_iter().find(|(k, _)| k.order == id) {
            return Err(if o.status.is_open() && k.client == me {
                reject(
                    "the local gateway does not modify orders in place: cancel it and place a new order",
                )
            } else {
                error(id, 103, "Duplicate order id")
            });
        }
        let (c, o) = match (&req.contract, &req.order) {
            (Some(c), Some(o)) => (c, o),
            _ => {
                return Err(error(
                    id,
                    320,
                    "Error reading request: no contract or order",
                ));
            }
        };
        let no_def = || {
            error(
                id,
                200,
                "No security definition has been found for the request",
            )
        };
        let sym = c.symbol.clone().unwrap_or_default();
        let symbol = Symbol::new(sym.clone()).map_err(|_| no_def())?;
        let stock = c.sec_type.as_deref() == Some("STK")
            && c.currency.as_deref().is_none_or(|x| x == "USD")
            && self.engine.knows(&symbol);
        if !stock {
            return Err(no_def());
        }
        if o.what_if == Some(true) {
            return Err(reject("what-if orders are not served by the local gateway"));
        }
        let side = match o.action.as_deref() {
            Some("BUY") => Side::Buy,
            Some("SELL") => Side::Sell,
            other => return Err(reject(&format!("invalid action {other:?}"))),
        };
        let qty = o
            .total_quantity
            .as_deref()
            .and_then(|q| q.parse::<Decimal>().ok())
            .filter(|q| *q > Decimal::ZERO && q.fract().is_zero())
            .ok_or_else(|| reject("the order size must be a positive whole number of shares"))?;
        let price = |p: Option<f64>, what: &str| -> Result<Decimal, Frame> {
            let d = p
                .filter(|x| x.is_finite() && *x > 0.0 && *x < f64::MAX)
                .and_then(|x| Decimal::try_from(x).ok())
                .ok_or_else(|| reject(&format!("the {what} price is missing")))?;
            let tick = if d >= Decimal::ONE {
                Decimal::new(1, 2)
            } else {
                Decimal::new(1, 4)
            };
            let on_grid = (d / tick).round_dp(6).fract().is_zero();
            if on_grid {
                Ok(d.round_dp(4))
            } else {
                Err(error(
                    id,
                    110,
                    "The price does not conform to the minimum price variation for this contract.",
                ))
            }
        };
        let order_type = match o.order_type.as_deref() {
            Some("MKT") => OrderType::Market,
            Some("LMT") => OrderType::Limit {
                limit: price(o.lmt_price, "limit")?,
            },
            Some("STP") => OrderType::Stop {
                stop: price(o.aux_price, "stop")?,
            },
            Some("STP LMT") => OrderType::StopLimit {
                stop: price(o.aux_price, "stop")?,
                limit: price(o.lmt_price, "limit")?,
            },
            other => return Err(reject(&format!("order type {other:?} is not served"))),
        };
        let tif = match o.tif.as_deref() {
            None | Some("") | Some("DAY") => TimeInForce::Day,
            Some("GTC") => TimeInForce::Gtc,
            Some("IOC") => TimeInForce::Ioc,
            Some(other) => return Err(reject(&format!("time in force {other} is not served"))),
        };
        let key = Key {
            client: me,
            order: id,
            order_ref: o.order_ref.clone().unwrap_or_default(),
        };
        Ok(OrderRequest {
            client_order_id: key.id(),
            symbol,
            side,
            qty,
            order_type,
            tif,
            session: self.engine.session,
        })
    }

    fn submit(&mut self, r: OrderRequest, id: i32, me: i32) -> Vec<Frame> {
        let placed = self.engine.broker().and_then(|mut b| b.submit(&r));
        let o = match placed {
            Ok(o) => o,
            Err(e) => return vec![error(id, 201, format!("Order rejected - reason:{e}"))],
        };
        let Some(k) = Key::of(&o.client_order_id) else {
            return vec![error(id, 201, "Order rejected - reason:internal key")];
        };
        let mut f = Vec::new();
        if o.status == OrderStatus::Rejected {
            f.push(error(
                id,
                201,
                format!(
                    "Order rejected - reason:{}",
                    o.reason.clone().unwrap_or_default()
                ),
            ));
        }
        f.extend(self.order_frames(&k, &o));
        if o.filled_qty > Decimal::ZERO {
            let fills = self
                .engine
                .broker()
                .and_then(|mut b| b.fills(None))
                .unwrap_or_default();
            for x in fills
                .iter()
                .filter(|x| x.client_order_id == o.client_order_id)
            {
                f.extend(self.execution_frames(-1, x, me));
            }
        }
        f
    }

    fn cancel_order(&mut self, payload: &[u8]) -> Vec<Frame> {
        let Ok(req) = proto::CancelOrderRequest::decode(payload) else {
            return vec![error(-1, 320, "Error reading request: cancelOrder")];
        };
        let id = req.order_id.unwrap_or(0);
        let Some((k, o)) = self.all().into_iter().find(|(k, _)| k.order == id) else {
            return vec![error(id, 135, format!("Can't find order with id ={id}"))];
        };
        if !o.status.is_open() {
            return vec![error(
                id,
                161,
                format!(
                    "Cancel attempted when order is not in a cancellable state. Order permId ={}",
                    perm_id(k.order, k.client)
                ),
            )];
        }
        match self
            .engine
            .broker()
            .and_then(|mut b| b.cancel(&o.client_order_id))
        {
            Ok(gone) => {
                let mut f = self.order_frames(&k, &gone);
                if gone.status == OrderStatus::Canceled {
                    f.push(error(id, 202, "Order Canceled - reason:"));
                }
                f
            }
            Err(e) => vec![error(
                id,
                161,
                format!("Cancel attempted when order is not in a cancellable state: {e}"),
            )],
        }
    }

    fn open_orders(&self, only: Option<i32>) -> Vec<Frame> {
        let mut f = Vec::new();
        for (k, o) in self.all() {
            if o.status.is_open() && only.is_none_or(|c| c == k.client) {
                f.extend(self.order_frames(&k, &o));
            }
        }
        f.push(frame(inc::OPEN_ORDER_END, &proto::Empty {}));
        f
    }

    fn completed_orders(&self) -> Vec<Frame> {
        let mut f = Vec::new();
        for (k, o) in self.all() {
            if o.status.is_terminal() {
                f.push(frame(
                    inc::COMPLETED_ORDER,
                    &proto::CompletedOrder {
                        contract: Some(contract(&o.symbol)),
                        order: Some(proto::Order {
                            // TWS sends a completed order's size as what was left unfilled.
                            total_quantity: Some(o.remaining().normalize().to_string()),
                            ..self.ib_order(&k, &o)
                        }),
                        order_state: Some(self.order_state(&o)),
                    },
                ));
            }
        }
        f.push(frame(inc::COMPLETED_ORDERS_END, &proto::Empty {}));
        f
    }

    fn execution_frames(&self, req_id: i32, x: &BrokerFill, _me: i32) -> Vec<Frame> {
        let Some(k) = Key::of(&x.client_order_id) else {
            return Vec::new();
        };
        let exec_id = format!("0000e215.{}.01.01", x.fill_id);
        vec![
            frame(
                inc::EXECUTION_DATA,
                &proto::ExecutionDetails {
                    req_id: Some(req_id),
                    contract: Some(contract(&x.symbol)),
                    execution: Some(proto::Execution {
                        order_id: Some(k.order),
                        exec_id: Some(exec_id.clone()),
                        time: Some(format!("{} 09:30:00 US/Eastern", x.date.format("%Y%m%d"))),
                        acct_number: Some(self.account.clone()),
                        exchange: Some("ISLAND".into()),
                        side: Some(match x.side {
                            Side::Buy => "BOT".into(),
                            Side::Sell => "SLD".into(),
                        }),
                        shares: Some(x.qty.normalize().to_string()),
                        price: x.price.to_f64(),
                        perm_id: Some(perm_id(k.order, k.client)),
                        client_id: Some(k.client),
                        cum_qty: Some(x.qty.normalize().to_string()),
                        avg_price: x.price.to_f64(),
                        order_ref: (!k.order_ref.is_empty()).then(|| k.order_ref.clone()),
                    }),
                },
            ),
            frame(
                inc::COMMISSION_REPORT,
                &proto::CommissionAndFeesReport {
                    exec_id: Some(exec_id),
                    commission_and_fees: x.fee.to_f64(),
                    currency: Some("USD".into()),
                },
            ),
        ]
    }

    fn executions(&self, payload: &[u8]) -> Vec<Frame> {
        let req = proto::ExecutionRequest::decode(payload).unwrap_or_default();
        let req_id = req.req_id.unwrap_or(-1);
        let filter = req.execution_filter.unwrap_or_default();
        let kept_from = self.engine.session - chrono::Duration::days(EXECUTION_DAYS);
        let since = filter
            .time
            .as_deref()
            .and_then(|t| NaiveDate::parse_from_str(t.get(..8)?, "%Y%m%d").ok());
        let last_n = filter
            .last_n_days
            .filter(|n| *n > 0)
            .map(|n| self.engine.session - chrono::Duration::days(i64::from(n)));
        let fills = self
            .engine
            .broker()
            .and_then(|mut b| b.fills(None))
            .unwrap_or_default();
        let mut f = Vec::new();
        for x in &fills {
            let Some(k) = Key::of(&x.client_order_id) else {
                continue;
            };
            let keep = x.date >= kept_from
                && since.is_none_or(|s| x.date >= s)
                && last_n.is_none_or(|s| x.date >= s)
                && filter.client_id.is_none_or(|c| c == 0 || c == k.client)
                && filter
                    .symbol
                    .as_deref()
                    .is_none_or(|s| s.is_empty() || s == x.symbol.as_str());
            if keep {
                f.extend(self.execution_frames(req_id, x, k.client));
            }
        }
        f.push(frame(
            inc::EXECUTION_DATA_END,
            &proto::ReqIdOnly {
                req_id: Some(req_id),
            },
        ));
        f
    }

    /// IB's average cost of each holding: commissions included, a sale taking its share of
    /// the cost (the average-cost method), replayed from the executions.
    fn avg_costs(&self) -> std::collections::BTreeMap<Symbol, Decimal> {
        let fills = self
            .engine
            .broker()
            .and_then(|mut b| b.fills(None))
            .unwrap_or_default();
        let mut book: std::collections::BTreeMap<Symbol, (Decimal, Decimal)> =
            std::collections::BTreeMap::new();
        for x in &fills {
            let (qty, cost) = book.entry(x.symbol.clone()).or_default();
            match x.side {
                Side::Buy => {
                    *cost += x.qty * x.price + x.fee;
                    *qty += x.qty;
                }
                Side::Sell => {
                    if *qty > Decimal::ZERO {
                        *cost -= *cost * (x.qty.min(*qty) / *qty);
                    }
                    *qty -= x.qty;
                }
            }
        }
        book.into_iter()
            .filter(|(_, (q, _))| *q > Decimal::ZERO)
            .map(|(s, (q, c))| (s, c / q))
            .collect()
    }

    fn positions(&self) -> Vec<Frame> {
        let held = self
            .engine
            .broker()
            .and_then(|mut b| b.positions())
            .unwrap_or_default();
        let costs = self.avg_costs();
        let mut f: Vec<Frame> = held
            .iter()
            .map(|p| {
                frame(
                    inc::POSITION,
                    &proto::Position {
                        account: Some(self.account.clone()),
                        contract: Some(contract(&p.symbol)),
                        position: Some(p.qty.normalize().to_string()),
                        avg_cost: costs.get(&p.symbol).unwrap_or(&p.avg_price).to_f64(),
                    },
                )
            })
            .collect();
        f.push(frame(inc::POSITION_END, &proto::Empty {}));
        f
    }

    fn account_summary(&self, payload: &[u8]) -> Vec<Frame> {
        let req = proto::AccountSummaryRequest::decode(payload).unwrap_or_default();
        let req_id = req.req_id.unwrap_or(-1);
        let a = match self.engine.broker().and_then(|mut b| b.account()) {
            Ok(a) => a,
            Err(e) => return vec![error(req_id, 322, format!("Error processing request:{e}"))],
        };
        let money = |d: Decimal| d.round_dp(2).to_string();
        let positions = a.equity - a.cash;
        let value = |tag: &str| -> Option<(String, bool)> {
            Some(match tag {
                "AccountType" => ("INDIVIDUAL".into(), false),
                "NetLiquidation" | "EquityWithLoanValue" => (money(a.equity), true),
                "TotalCashValue" | "SettledCash" => (money(a.cash), true),
                "BuyingPower" | "AvailableFunds" | "ExcessLiquidity" => {
                    (money(a.cash.max(Decimal::ZERO)), true)
                }
                "GrossPositionValue" => (money(positions), true),
                _ => return None,
            })
        };
        let tags = req.tags.unwrap_or_default();
        let mut f = Vec::new();
        for tag in tags.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if let Some((v, money)) = value(tag) {
                f.push(frame(
                    inc::ACCOUNT_SUMMARY,
                    &proto::AccountSummary {
                        req_id: Some(req_id),
                        account: Some(self.account.clone()),
                        tag: Some(tag.into()),
                        value: Some(v),
                        currency: money.then(|| "USD".into()),
                    },
                ));
            }
        }
        f.push(frame(
            inc::ACCOUNT_SUMMARY_END,
            &proto::ReqIdOnly {
                req_id: Some(req_id),
            },
        ));
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_version_ranges_and_order_keys_read_back() {
        assert_eq!(version_range("v213..226"), Some((213, 226)));
        assert_eq!(version_range("v100..176 +PACEAPI"), Some((100, 176)));
        assert_eq!(version_range("213..226"), None);
        let k = Key {
            client: 7,
            order: 42,
            order_ref: "st-ab|c".into(),
        };
        let back = Key::of(&k.id()).unwrap();
        assert_eq!(
            (back.client, back.order, back.order_ref.as_str()),
            (7, 42, "st-ab|c")
        );
        assert!(Key::of(&ClientOrderId("nope".into())).is_none());
    }
}
