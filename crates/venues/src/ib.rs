//! A local IB Gateway (the TWS API socket protocol, `broker-apis.md` §3) over the paper
//! broker's engine, for the Interactive Brokers adapter's tests and for trying it without an
//! account.
//!
//! What it does as TWS / IB Gateway does at server versions ≥ 213: the `API\0` handshake with
//! the client's version range answered by a server version and the connection time, `startApi`
//! answered by `nextValidId` and `managedAccounts` (and the farm notices 2104/2106/2158), then
//! length-prefixed frames whose message id + 200 marks IB's protobuf messages: `placeOrder`
//! (contract by symbol, `STK` / `SMART` / `USD`; `MKT`, `LMT`, `STP`, `STP LMT`; `DAY`, `GTC`,
//! `IOC`; `orderRef` kept) answered by `openOrder` + `orderStatus` (`PreSubmitted` before the
//! open and for stops, `Submitted`, `Filled`, `Cancelled`, `Inactive` for a rejection with error
//! 201), `cancelOrder` (`Cancelled` + error 202; 135 for an unknown id, 161 for a finished
//! order), `reqOpenOrders` / `reqAllOpenOrders`, `reqCompletedOrders`, `reqExecutions`
//! (`execDetails` + `commissionReport`, then `execDetailsEnd`; the last seven days, as TWS
//! keeps them), `reqPositions`, `reqAccountSummary`, `reqIds`, `reqCurrentTime`. A reused
//! order id is error 103, an unknown symbol error 200, a price off the $0.01 grid error 110,
//! a second connection with a client id in use error 326 and the socket closed.
//!
//! The clock and faults are driven over HTTP on a second port (`/fake/clock`, `/fake/faults`,
//! `/fake/stats`, as every local venue; `/fake/state` shows the account): a fault `<op>:lost` does the request and then drops
//! the connection without answering; `<op>:<status>` drops it before doing anything (a
//! gateway restart). Ops: `place_order`, `cancel_order`, `open_orders`, `completed_orders`,
//! `executions`, `positions`, `account_summary`, `start_api`, or `any`.
//!
//! What it does not: modify an order in place (a `placeOrder` with the id of a working order
//! is refused with error 201; the adapter replaces as cancel + new), push order events to a
//! client that did not ask (TWS does; the adapter always asks), market data, options,
//! futures, FX, combos, what-if orders.

mod proto;
mod session;

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, Method, Uri};
use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::VenueError;
use crate::engine::{Engine, EngineOptions};
use crate::reply::Reply;

/// How a local gateway starts.
#[derive(Debug, Clone)]
pub struct Options {
    pub engine: EngineOptions,
    /// The one managed account: `DU…` is a paper account, anything else live.
    pub account: String,
}

impl Options {
    /// A local gateway on `data` with its state in `state`: a $100k paper account `DU7654321`,
    /// 50 messages a second (TWS's pacing), equities before the open of `session`.
    pub fn new(data: PathBuf, state: PathBuf) -> Options {
        Options {
            engine: EngineOptions {
                data,
                state,
                session: None,
                cash: Decimal::from(100_000),
                currency: "USD".into(),
                adjust: systrade_data::Adjust::Split,
                costs: Default::default(),
                rate: 50,
                window: Duration::from_secs(1),
                round_the_clock: false,
            },
            account: "DU7654321".into(),
        }
    }
}

/// The gateway's state behind one lock: every message is answered in arrival order.
pub(crate) struct Gateway {
    pub(crate) engine: Engine,
    pub(crate) account: String,
    /// Client ids of the connections open now.
    pub(crate) clients: BTreeSet<i32>,
}

impl Gateway {
    fn new(o: &Options) -> Result<Gateway, VenueError> {
        if o.account.trim().is_empty() {
            return Err(VenueError::Setup("the gateway needs an account id".into()));
        }
        let engine = Engine::new(&o.engine)?;
        if engine.crypto_data {
            return Err(VenueError::Setup(
                "the local IB gateway trades US stocks and ETFs: the data holds crypto pairs"
                    .into(),
            ));
        }
        Ok(Gateway {
            engine,
            account: o.account.clone(),
            clients: BTreeSet::new(),
        })
    }
}

impl Gateway {
    /// `GET /fake/state`: the account as the gateway keeps it (orders under the gateway's
    /// `<client id>|<order id>|<orderRef>` keys, positions, fills), for tests to check
    /// without going through the adapter under test.
    fn state(&self) -> Reply {
        use systrade_broker::Broker;
        let read = || -> Result<serde_json::Value, systrade_broker::BrokerError> {
            let mut b = self.engine.broker()?;
            Ok(serde_json::json!({
                "session": self.engine.session.to_string(),
                "orders": b.all_orders()?,
                "positions": b.positions()?,
                "fills": b.fills(None)?,
                "cash": b.account()?.cash,
            }))
        };
        match read() {
            Ok(v) => Reply::ok(v),
            Err(e) => Reply::status(500, serde_json::json!({"message": e.to_string()})),
        }
    }
}

/// The admin paths over HTTP, on the same state as the socket.
struct Admin(Arc<Mutex<Gateway>>);

impl crate::serve::Routes for Admin {
    fn route(&mut self, method: &Method, uri: &Uri, _h: &HeaderMap, body: &[u8]) -> Reply {
        let Ok(mut g) = self.0.lock() else {
            return Reply::status(
                500,
                serde_json::json!({"message": "gateway state poisoned"}),
            );
        };
        if method == Method::GET && uri.path() == "/fake/state" {
            return g.state();
        }
        g.engine
            .admin(method.as_str(), uri.path(), body)
            .unwrap_or_else(|| {
                Reply::status(404, serde_json::json!({"message": "not an admin path"}))
            })
    }
}

/// A gateway ready to serve: its API socket is bound, its admin app built.
pub struct Bound {
    pub api: SocketAddr,
    listener: TcpListener,
    state: Arc<Mutex<Gateway>>,
    pub session: NaiveDate,
    pub paper: bool,
}

impl Bound {
    /// The admin app (`/fake/clock`, `/fake/faults`, `/fake/stats`).
    pub fn admin(&self) -> Router {
        crate::serve::app_of(Admin(self.state.clone()))
    }

    /// Serves the API socket on background threads (one per connection) until the process
    /// ends.
    pub fn spawn(self) {
        let Bound {
            listener, state, ..
        } = self;
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let state = state.clone();
                std::thread::spawn(move || session::serve(conn, &state));
            }
        });
    }
}

/// Binds the API socket on `127.0.0.1:port` (0: any free port).
pub fn bind(o: &Options, port: u16) -> Result<Bound, VenueError> {
    let g = Gateway::new(o)?;
    let addr = format!("127.0.0.1:{port}");
    let listener = TcpListener::bind(&addr).map_err(|e| VenueError::Listen {
        addr: addr.clone(),
        message: e.to_string(),
    })?;
    let api = listener.local_addr().map_err(|e| VenueError::Listen {
        addr,
        message: e.to_string(),
    })?;
    Ok(Bound {
        api,
        listener,
        session: g.engine.session,
        paper: o.account.starts_with("DU"),
        state: Arc::new(Mutex::new(g)),
    })
}
