//! The adapter at the trait level against the local IB Gateway in this process: every order
//! type, IB's refusals as rejected orders, duplicates, cancel, replace as cancel + new,
//! executions with their commission reports, positions that know what stops reserve.

use std::path::PathBuf;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use systrade_broker::{Broker, BrokerError, OrderRequest, OrderStatus, OrderType, TimeInForce};
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};
use systrade_ib::{Connect, IbBroker};
use systrade_venues::ib;

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/data/us_etf_daily_yahoo")
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// SPY's open on `day`, read from the price file (split-adjusted = raw for SPY).
fn spy_open(day: &str) -> Decimal {
    let text = std::fs::read_to_string(data().join("SPY.csv")).unwrap();
    let row = text.lines().find(|l| l.starts_with(day)).unwrap();
    dec(row.split(',').nth(1).unwrap())
}

struct Local {
    port: u16,
    admin: String,
    _dir: tempfile::TempDir,
}

impl Local {
    fn start(session: &str) -> Local {
        let dir = tempfile::tempdir().unwrap();
        let mut o = ib::Options::new(data(), dir.path().join("gw.sqlite"));
        o.engine.session = Some(d(session));
        // IB's US tiered pricing, roughly: $0.005 a share, at least $1 an order.
        o.engine.costs = systrade_backtest::CostModel {
            per_share: 0.005,
            min_fee: 1.0,
            ..Default::default()
        };
        let bound = ib::bind(&o, 0).unwrap();
        let port = bound.api.port();
        let admin = systrade_venues::serve(bound.admin()).unwrap().url();
        bound.spawn();
        Local {
            port,
            admin,
            _dir: dir,
        }
    }

    fn post(&self, path: &str, body: Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let r = agent
            .post(format!("{}{path}", self.admin))
            .send(body.to_string().as_bytes())
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }

    fn clock(&self, session: &str, open: bool) {
        let phase = if open { "open" } else { "pre_open" };
        self.post("/fake/clock", json!({"session": session, "phase": phase}));
    }

    fn connect(&self, session: &str, client_id: i32) -> Result<IbBroker, BrokerError> {
        IbBroker::connect(Connect {
            host: "127.0.0.1".into(),
            port: self.port,
            client_id,
            account: None,
            session: d(session),
            timeout: std::time::Duration::from_secs(10),
        })
    }
}

fn req(id: &str, sym: &str, side: Side, qty: i64, t: OrderType, session: &str) -> OrderRequest {
    OrderRequest {
        client_order_id: ClientOrderId(id.into()),
        symbol: Symbol::new(sym.to_string()).unwrap(),
        side,
        qty: Decimal::from(qty),
        order_type: t,
        tif: t.default_tif(),
        session: d(session),
    }
}

#[test]
fn test_the_adapter_keeps_the_broker_contract_at_the_local_gateway() {
    let day = "2024-06-03";
    let gw = Local::start(day);
    let mut b = gw.connect(day, 11).unwrap();
    assert_eq!((b.kind(), b.is_live()), ("ib", false));
    let a = b.account().unwrap();
    assert_eq!(
        (a.id.as_str(), a.cash, a.equity),
        ("DU7654321", dec("100000"), dec("100000"))
    );
    assert!(a.paper && !a.trading_blocked);
    assert_eq!(a.currency, "USD");

    // A market order before the open: accepted (PreSubmitted), found by its orderRef, once.
    let buy = req("st-buy-1", "SPY", Side::Buy, 10, OrderType::Market, day);
    let o = b.submit(&buy).unwrap();
    assert_eq!(
        (o.status, o.filled_qty, o.tif),
        (OrderStatus::Accepted, Decimal::ZERO, TimeInForce::Day)
    );
    assert_eq!(
        b.order(&buy.client_order_id).unwrap().unwrap().qty,
        dec("10")
    );
    assert!(matches!(b.submit(&buy), Err(BrokerError::Duplicate(_))));
    assert_eq!(b.order(&ClientOrderId("st-none".into())).unwrap(), None);

    // A limit buy off the cent grid goes out rounded down (never worse for its owner).
    let lim = req(
        "st-lim-1",
        "XLK",
        Side::Buy,
        3,
        OrderType::Limit {
            limit: dec("150.1299"),
        },
        day,
    );
    let o = b.submit(&lim).unwrap();
    assert_eq!(
        o.order_type,
        OrderType::Limit {
            limit: dec("150.12")
        }
    );
    // A stop-limit sell of what is not held: IB's refusal is a rejected order with its reason.
    let sl = req(
        "st-sl-1",
        "XLK",
        Side::Sell,
        3,
        OrderType::StopLimit {
            stop: dec("140"),
            limit: dec("139.5"),
        },
        day,
    );
    let o = b.submit(&sl).unwrap();
    assert_eq!(o.status, OrderStatus::Rejected);
    assert!(
        o.reason.as_deref().unwrap_or("").contains("TWS error 201"),
        "{o:?}"
    );
    // An unknown symbol: error 200, rejected.
    let bad = req("st-bad-1", "ZZZZQ", Side::Buy, 1, OrderType::Market, day);
    let o = b.submit(&bad).unwrap();
    assert_eq!(o.status, OrderStatus::Rejected);
    assert!(
        o.reason
            .as_deref()
            .unwrap_or("")
            .contains("No security definition"),
        "{o:?}"
    );
    // Fractional shares are refused before reaching IB.
    let mut frac = req("st-frac-1", "SPY", Side::Buy, 1, OrderType::Market, day);
    frac.qty = dec("0.5");
    assert_eq!(b.submit(&frac).unwrap().status, OrderStatus::Rejected);

    // Cancel: canceled once; again it is not cancelable; an unknown id is not found.
    let gone = b.cancel(&lim.client_order_id).unwrap();
    assert_eq!(gone.status, OrderStatus::Canceled);
    assert!(matches!(
        b.cancel(&lim.client_order_id),
        Err(BrokerError::Invalid(_))
    ));
    assert!(matches!(
        b.cancel(&ClientOrderId("st-none".into())),
        Err(BrokerError::NotFound(_))
    ));
    let open: Vec<String> = b
        .open_orders()
        .unwrap()
        .into_iter()
        .map(|o| o.client_order_id.0)
        .collect();
    assert_eq!(open, vec!["st-buy-1".to_string()]);
    drop(b);

    // The open: the market order fills at SPY's open, with IB's commission.
    gw.clock(day, true);
    let mut b = gw.connect(day, 11).unwrap();
    let o = b.order(&buy.client_order_id).unwrap().unwrap();
    assert_eq!((o.status, o.filled_qty), (OrderStatus::Filled, dec("10")));
    assert_eq!(
        o.qty,
        dec("10"),
        "a completed order's size is ordered, not what was left"
    );
    assert_eq!(o.avg_price, Some(spy_open(day)));
    let fills = b.fills(None).unwrap();
    assert_eq!(fills.len(), 1);
    let f = &fills[0];
    assert_eq!(
        (f.side, f.qty, f.price, f.fee, f.date),
        (Side::Buy, dec("10"), spy_open(day), dec("1"), d(day))
    );
    assert_eq!(f.client_order_id, buy.client_order_id);
    assert!(
        f.fill_id.ends_with(".01.01"),
        "IB's execution id: {}",
        f.fill_id
    );
    assert!(
        b.fills(Some(d("2024-06-04"))).unwrap().is_empty(),
        "since filters"
    );
    let a = b.account().unwrap();
    // TWS reports the account in cents.
    assert_eq!(
        a.cash,
        (dec("100000") - dec("10") * spy_open(day) - dec("1")).round_dp(2)
    );

    // A protective stop reserves the position; a preview of a sell sees it, unless freed.
    let stop = req(
        "st-stop-1",
        "SPY",
        Side::Sell,
        10,
        OrderType::Stop {
            stop: dec("500.004"),
        },
        day,
    );
    let o = b.submit(&stop).unwrap();
    assert_eq!((o.status, o.tif), (OrderStatus::Accepted, TimeInForce::Gtc));
    assert_eq!(
        o.order_type,
        OrderType::Stop {
            stop: dec("500.01")
        },
        "a sell stop rounds up"
    );
    let p = b.positions().unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!((p[0].qty, p[0].reserved), (dec("10"), dec("10")));
    assert_eq!(
        p[0].avg_price.round_dp(2),
        (spy_open(day) + dec("0.1")).round_dp(2)
    );
    let sell = req("st-sell-1", "SPY", Side::Sell, 10, OrderType::Market, day);
    assert!(!b.preview(&sell, &[]).unwrap().accepted);
    assert!(
        b.preview(&sell, std::slice::from_ref(&stop.client_order_id))
            .unwrap()
            .accepted
    );

    // Replace: cancel + new under the new id; the old one is canceled, one stop works.
    let moved = req(
        "st-stop-2",
        "SPY",
        Side::Sell,
        10,
        OrderType::Stop { stop: dec("510") },
        day,
    );
    let o = b.replace(&stop.client_order_id, &moved).unwrap();
    assert_eq!(
        (o.status, o.client_order_id.0.as_str()),
        (OrderStatus::Accepted, "st-stop-2")
    );
    assert_eq!(
        b.order(&stop.client_order_id).unwrap().unwrap().status,
        OrderStatus::Canceled
    );
    let stops: Vec<_> = b
        .open_orders()
        .unwrap()
        .into_iter()
        .filter(|o| o.order_type.is_stop())
        .collect();
    assert_eq!(stops.len(), 1);

    // The next session: the stop at 510 holds (SPY's low 2024-06-04 is 524.96); the clock
    // check refuses a session other than the gateway's.
    gw.clock("2024-06-04", false);
    assert!(
        matches!(gw.connect(day, 12), Err(BrokerError::Invalid(m)) if m.contains("clock is at session 2024-06-04"))
    );
    let mut b = gw.connect("2024-06-04", 12).unwrap();
    assert_eq!(b.open_orders().unwrap().len(), 1);
    assert_eq!(b.positions().unwrap()[0].qty, dec("10"));
}

#[test]
fn test_a_dropped_connection_is_reconnected_and_the_executions_asked_again() {
    let day = "2024-06-03";
    let gw = Local::start(day);
    let mut b = gw.connect(day, 21).unwrap();
    b.submit(&req("st-a", "SPY", Side::Buy, 5, OrderType::Market, day))
        .unwrap();
    gw.clock(day, true);
    // The connection drops after the gateway sent nothing, then after it acted.
    gw.post(
        "/fake/faults",
        json!({"faults": ["executions:503", "executions:lost"]}),
    );
    let fills = b.fills(None);
    // One retry per call: the first drop is healed inside the call; the second surfaces as
    // retryable (the caller's retries ask again), never as a short answer.
    match fills {
        Ok(f) => assert_eq!(f.len(), 1),
        Err(e) => {
            assert!(e.retryable(), "{e}");
            assert_eq!(b.fills(None).unwrap().len(), 1);
        }
    }
    assert_eq!(b.fills(None).unwrap().len(), 1);
}
