//! Every recorded Alpaca payload in `../shared/data/broker-fixtures/alpaca` parses, into
//! the values the venue sent; requests come out on the venue's grid.

use std::path::PathBuf;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use systrade_alpaca::models::{
    Account, ApiError, BarsPage, Clock, FillActivity, MultiStatus, Order, Position,
};
use systrade_alpaca::parse;
use systrade_broker::venue::ParseError;
use systrade_broker::{OrderRequest, OrderStatus, OrderType, TimeInForce};
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../../shared/data/broker-fixtures/alpaca")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn session() -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, 12, 13).unwrap()
}

#[test]
fn test_every_alpaca_fixture_parses() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../../shared/data/broker-fixtures/alpaca");
    let mut seen = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        let text = fixture(&name);
        let ok = match name.as_str() {
            "account.json" => serde_json::from_str::<Account>(&text).is_ok(),
            "clock.json" => serde_json::from_str::<Clock>(&text).is_ok(),
            "positions.json" => serde_json::from_str::<Vec<Position>>(&text).is_ok(),
            "activities_fill.json" => serde_json::from_str::<Vec<FillActivity>>(&text).is_ok(),
            n if n.starts_with("order_") => serde_json::from_str::<Order>(&text).is_ok(),
            n if n.ends_with("_207_alpacapy.json") => {
                serde_json::from_str::<Vec<MultiStatus>>(&text).is_ok()
            }
            "close_position_response_item.json" => {
                serde_json::from_str::<MultiStatus>(&text).is_ok()
            }
            n if n.contains("_bars_") => serde_json::from_str::<BarsPage>(&text).is_ok(),
            other => panic!("{other}: a new fixture — give it a model and a test"),
        };
        assert!(ok, "{name} does not parse");
        seen += 1;
    }
    assert_eq!(seen, 15, "every file of the folder");
}

#[test]
fn test_orders_parse_into_systrades_types_with_the_venues_values() {
    let o: Order = serde_json::from_str(&fixture("order_equity_limit_accepted.json")).unwrap();
    let b = parse::order(&o, session()).unwrap();
    assert_eq!(b.client_order_id.0, "5680c4bc-9ac1-4a12-a44c-df427ba53032");
    assert_eq!(b.broker_id, "7b08df51-c1ac-453c-99f9-323a5f075f0d");
    assert_eq!(b.symbol.as_str(), "AAPL");
    assert_eq!((b.side, b.qty), (Side::Buy, dec("2")));
    assert_eq!(b.order_type, OrderType::Limit { limit: dec("150") });
    assert_eq!((b.tif, b.status), (TimeInForce::Gtc, OrderStatus::Accepted));
    assert_eq!((b.filled_qty, b.avg_price), (Decimal::ZERO, None));
    // Crypto: `ETH/USD` in orders is systrade's `ETHUSD`; pending_new still works.
    let o: Order = serde_json::from_str(&fixture("order_crypto_limit_pending_new.json")).unwrap();
    let b = parse::order(&o, session()).unwrap();
    assert_eq!(b.symbol.as_str(), "ETHUSD");
    assert_eq!(b.qty, dec("0.02"));
    assert_eq!(b.status, OrderStatus::Accepted);
    // The orders inside 207 answers too.
    let items: Vec<MultiStatus> =
        serde_json::from_str(&fixture("close_all_positions_207_alpacapy.json")).unwrap();
    let body = items[0].body.clone().unwrap();
    let b = parse::order(&serde_json::from_value(body).unwrap(), session()).unwrap();
    assert_eq!((b.symbol.as_str(), b.side), ("BTCUSD", Side::Sell));
    assert_eq!(b.order_type, OrderType::Market);
    // What systrade does not know fails loudly, naming the order and the value.
    let mut odd = o.clone();
    odd.status = "teleported".into();
    let e = parse::order(&odd, session()).unwrap_err();
    assert!(
        e.to_string().contains("status \"teleported\"") && e.to_string().contains(&o.id),
        "{e}"
    );
    odd = o.clone();
    odd.time_in_force = "fok".into();
    assert!(matches!(
        parse::order(&odd, session()),
        Err(ParseError::Unknown {
            field: "time_in_force",
            ..
        })
    ));
    odd = o.clone();
    odd.qty = None;
    assert!(matches!(
        parse::order(&odd, session()),
        Err(ParseError::Unsupported { id, .. }) if id == o.id
    ));
}

#[test]
fn test_account_positions_fills_and_errors_parse() {
    let a: Account = serde_json::from_str(&fixture("account.json")).unwrap();
    let acct = parse::account(&a, true);
    assert_eq!(acct.id, "e6fe16f3-64a4-4921-8928-cadf02f92f98");
    assert_eq!(
        (acct.cash, acct.equity),
        (dec("-23140.2"), dec("103820.56"))
    );
    assert!(acct.paper && !acct.trading_blocked);
    let mut closed = a.clone();
    closed.status = "ACCOUNT_CLOSED".into();
    assert!(parse::account(&closed, false).trading_blocked);

    let ps: Vec<Position> = serde_json::from_str(&fixture("positions.json")).unwrap();
    let p = parse::position(&ps[0]).unwrap();
    // 5 held, 4 available: 1 is held for an open order.
    assert_eq!(
        (p.qty, p.reserved, p.avg_price),
        (dec("5"), dec("1"), dec("100.0"))
    );

    let fills: Vec<FillActivity> = serde_json::from_str(&fixture("activities_fill.json")).unwrap();
    let f = parse::fill(&fills[0], ClientOrderId("st-x".into())).unwrap();
    assert_eq!(
        f.fill_id,
        "20220202135509981::2d7be4ff-d1f3-43e9-856a-0f5cf5c5088e"
    );
    assert_eq!(
        (f.qty, f.price, f.fee),
        (dec("2"), dec("174.78"), Decimal::ZERO)
    );
    assert_eq!(f.date, NaiveDate::from_ymd_opt(2022, 2, 2).unwrap());

    let items: Vec<MultiStatus> =
        serde_json::from_str(&fixture("cancel_all_orders_207_alpacapy.json")).unwrap();
    assert_eq!(
        items.iter().map(|i| i.status).collect::<Vec<_>>(),
        [200, 404]
    );
    let e: ApiError = serde_json::from_value(items[1].body.clone().unwrap()).unwrap();
    assert_eq!(
        (e.code, e.message.as_str()),
        (Some(40410000), "order not found")
    );

    let c: Clock = serde_json::from_str(&fixture("clock.json")).unwrap();
    assert!(c.is_open);
    let page: BarsPage =
        serde_json::from_str(&fixture("stock_bars_1day_page1_alpacapy.json")).unwrap();
    assert_eq!(page.bars["AAPL"].len(), 2);
    assert!(page.next_page_token.is_some());
    let empty: BarsPage = serde_json::from_str(&fixture("stock_bars_empty_alpacapy.json")).unwrap();
    assert!(empty.bars.is_empty() && empty.next_page_token.is_none());
}

#[test]
fn test_requests_are_sent_on_the_venues_grid_and_symbols() {
    let sym = |s: &str| Symbol::new(s).unwrap();
    assert_eq!(parse::venue_symbol(&sym("BTCUSD"), true), "BTC/USD");
    assert_eq!(parse::venue_symbol(&sym("ETHUSDT"), true), "ETH/USDT");
    assert_eq!(parse::venue_symbol(&sym("SPY"), false), "SPY");
    // 2 decimals at $1 and above, 4 below; never worse for the owner than asked.
    assert_eq!(parse::round_price(dec("95.757"), Side::Sell), dec("95.76"));
    assert_eq!(parse::round_price(dec("95.751"), Side::Buy), dec("95.75"));
    assert_eq!(
        parse::round_price(dec("0.123456"), Side::Sell),
        dec("0.1235")
    );
    assert_eq!(
        parse::round_price(dec("0.123456"), Side::Buy),
        dec("0.1234")
    );
    let req = OrderRequest {
        client_order_id: ClientOrderId("st-1a2b3c4d-00".into()),
        symbol: sym("SPY"),
        side: Side::Sell,
        qty: dec("10"),
        order_type: OrderType::Stop {
            stop: dec("412.34567"),
        },
        tif: TimeInForce::Gtc,
        session: session(),
    };
    let body = serde_json::to_value(parse::new_order(&req, false)).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"symbol": "SPY", "qty": "10", "side": "sell", "type": "stop",
            "time_in_force": "gtc", "stop_price": "412.35", "client_order_id": "st-1a2b3c4d-00"})
    );
    // Crypto trades gtc or ioc only: a day market order goes gtc.
    let crypto = OrderRequest {
        symbol: sym("BTCUSD"),
        side: Side::Buy,
        qty: dec("0.0283"),
        order_type: OrderType::Market,
        tif: TimeInForce::Day,
        ..req
    };
    let body = serde_json::to_value(parse::new_order(&crypto, true)).unwrap();
    assert_eq!(body["symbol"], "BTC/USD");
    assert_eq!(body["time_in_force"], "gtc");
    assert!(body.get("stop_price").is_none());
}

#[test]
fn test_the_venues_refusals_map_to_rejections_and_broker_errors() {
    use systrade_alpaca::parse::refusal;
    use systrade_broker::BrokerError;
    use systrade_broker::venue::Refusal;
    let id = ClientOrderId("st-1a2b3c4d-00".into());
    // Bodies as broker-apis.md §1.1 quotes them.
    let r = refusal(
        403,
        r#"{"available":"0","code":40310000,"existing_qty":"1000","held_for_orders":"1000","message":"insufficient qty available for order (requested: 1000, available: 0)","symbol":"SQQQ"}"#,
        Some(&id),
    );
    assert!(
        matches!(&r, Refusal::Rejected(m) if m.starts_with("insufficient qty available")),
        "{r:?}"
    );
    let r = refusal(
        422,
        r#"{"code":40010001,"message":"client_order_id must be unique"}"#,
        Some(&id),
    );
    assert!(
        matches!(&r, Refusal::Error(BrokerError::Duplicate(x)) if *x == id),
        "{r:?}"
    );
    let r = refusal(
        422,
        r#"{"code":42210000,"message":"invalid limit_price 290.123. sub-penny increment does not fulfill minimum pricing criteria"}"#,
        Some(&id),
    );
    assert!(
        matches!(&r, Refusal::Rejected(m) if m.contains("sub-penny")),
        "{r:?}"
    );
    let r = refusal(
        404,
        r#"{"code":40410000,"message":"order not found"}"#,
        Some(&id),
    );
    assert!(
        matches!(&r, Refusal::Error(BrokerError::NotFound(x)) if *x == id),
        "{r:?}"
    );
    let r = refusal(429, "", None);
    assert!(matches!(&r, Refusal::Error(e) if e.retryable()), "{r:?}");
    let r = refusal(503, r#"{"message":"Internal Server Error"}"#, None);
    assert!(
        matches!(&r, Refusal::Error(e @ BrokerError::Server { status: 503, .. }) if e.retryable())
    );
    // A 401 never repeats what the server said (it may echo the key); it names the variables.
    let r = refusal(
        401,
        r#"{"code":40110000,"message":"request is not authorized PKSECRET"}"#,
        None,
    );
    let Refusal::Error(e) = r else {
        panic!("401 is an error")
    };
    let text = e.to_string();
    assert!(
        text.contains("APCA_API_KEY_ID") && !text.contains("PKSECRET"),
        "{text}"
    );
}
