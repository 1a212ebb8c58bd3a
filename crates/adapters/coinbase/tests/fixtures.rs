//! Every recorded Coinbase payload in `../shared/data/broker-fixtures/coinbase` parses, into
//! the values the venue sent; requests come out on the product's increments.

use std::path::PathBuf;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use systrade_broker::venue::ParseError;
use systrade_broker::{OrderRequest, OrderStatus, OrderType, TimeInForce};
use systrade_coinbase::models::{AccountsPage, Candles, FillsPage, OrderEnvelope, OrdersPage};
use systrade_coinbase::parse::{self, Increments};
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../../shared/data/broker-fixtures/coinbase")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn session() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 15).unwrap()
}

#[test]
fn test_every_coinbase_fixture_parses_with_the_venues_values() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../../shared/data/broker-fixtures/coinbase");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        names.len(),
        5,
        "a new fixture needs a model and a test: {names:?}"
    );

    let a: AccountsPage = serde_json::from_str(&fixture("http_accounts.json")).unwrap();
    let btc = &a.accounts[0];
    assert_eq!(
        (btc.currency.as_str(), btc.available_balance.value),
        ("BTC", dec("1.23456789"))
    );
    assert_eq!(btc.hold.value, dec("0.00500000"));

    let c: Candles = serde_json::from_str(&fixture("http_candles.json")).unwrap();
    assert_eq!(c.candles.len(), 2);
    assert_eq!(
        (c.candles[0].start.as_str(), c.candles[0].open),
        ("1712192400", dec("66312.4"))
    );

    let o: OrderEnvelope = serde_json::from_str(&fixture("http_order.json")).unwrap();
    let b = parse::order(&o.order, session()).unwrap();
    assert_eq!(b.client_order_id.0, "11111-000000-000000");
    assert_eq!(
        (b.symbol.as_str(), b.side, b.qty),
        ("BTCUSD", Side::Buy, dec("0.001"))
    );
    assert_eq!(
        b.order_type,
        OrderType::Limit {
            limit: dec("10000.00")
        }
    );
    assert_eq!(b.tif, TimeInForce::Gtc);
    // OPEN with a filled size: partly filled, at the average price.
    assert_eq!(b.status, OrderStatus::PartiallyFilled);
    assert_eq!((b.filled_qty, b.avg_price), (dec("0.001"), Some(dec("50"))));

    let page: OrdersPage = serde_json::from_str(&fixture("http_orders_list.json")).unwrap();
    let orders: Vec<_> = page
        .orders
        .iter()
        .map(|o| parse::order(o, session()).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(orders.len(), 2);
    // A finished market sell sized in quote currency: its quantity is what filled.
    assert_eq!(orders[1].order_type, OrderType::Market);
    assert_eq!(
        (orders[1].qty, orders[1].status),
        (dec("0.0325"), OrderStatus::Filled)
    );
    // While such an order still works its base quantity is unknown: refused, not guessed.
    let mut working = page.orders[1].clone();
    working.status = "OPEN".into();
    assert!(parse::order(&working, session()).is_err());

    let fills: FillsPage = serde_json::from_str(&fixture("http_fills.json")).unwrap();
    let f = parse::fill(&fills.fills[0], ClientOrderId("st-x".into())).unwrap();
    assert_eq!(f.fill_id, "1111-11111-111111");
    assert_eq!(
        (f.qty, f.price, f.fee),
        (dec("0.005"), dec("45123.45"), dec("1.14"))
    );
    assert_eq!(f.date, session());
}

#[test]
fn test_unknown_venue_values_fail_loudly() {
    let o: OrderEnvelope = serde_json::from_str(&fixture("http_order.json")).unwrap();
    let mut odd = o.order.clone();
    odd.status = "UNKNOWN_ORDER_STATUS".into();
    let e = parse::order(&odd, session()).unwrap_err();
    assert!(e.to_string().contains("UNKNOWN_ORDER_STATUS"), "{e}");
    let mut odd = o.order.clone();
    let c = odd.order_configuration.remove("limit_limit_gtc").unwrap();
    odd.order_configuration.insert("limit_limit_fok".into(), c);
    assert!(matches!(
        parse::order(&odd, session()),
        Err(ParseError::Unknown {
            field: "order_configuration",
            ..
        })
    ));
    let mut odd = o.order.clone();
    odd.side = "SHORT".into();
    assert!(parse::order(&odd, session()).is_err());
}

#[test]
fn test_orders_are_created_on_the_products_increments() {
    let inc = Increments {
        base: dec("0.00000001"),
        quote: dec("0.01"),
    };
    let req = OrderRequest {
        client_order_id: ClientOrderId("st-1a2b3c4d-00".into()),
        symbol: Symbol::new("BTCUSD").unwrap(),
        side: Side::Sell,
        qty: dec("0.123456789"),
        order_type: OrderType::StopLimit {
            stop: dec("41234.567"),
            limit: dec("41000.001"),
        },
        tif: TimeInForce::Gtc,
        session: session(),
    };
    let body = serde_json::to_value(parse::create_order(&req, inc).unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"client_order_id": "st-1a2b3c4d-00", "product_id": "BTC-USD",
            "side": "SELL", "order_configuration": {"stop_limit_stop_limit_gtc": {
                "base_size": "0.12345678", "stop_price": "41234.57", "limit_price": "41000.01",
                "stop_direction": "STOP_DIRECTION_STOP_DOWN"}}})
    );
    let market = OrderRequest {
        side: Side::Buy,
        order_type: OrderType::Market,
        tif: TimeInForce::Day,
        ..req.clone()
    };
    let body = serde_json::to_value(parse::create_order(&market, inc).unwrap()).unwrap();
    assert_eq!(
        body["order_configuration"],
        serde_json::json!({"market_market_ioc": {"base_size": "0.12345678"}})
    );
    let stop = OrderRequest {
        order_type: OrderType::Stop { stop: dec("41000") },
        ..req
    };
    let e = parse::create_order(&stop, inc).unwrap_err();
    assert!(
        matches!(&e, ParseError::Unsupported { id, .. } if id == "st-1a2b3c4d-00"),
        "{e}"
    );
    assert!(e.to_string().contains("no stop-market"), "{e}");
    assert_eq!(
        parse::product_id(&Symbol::new("ETHUSDC").unwrap()),
        "ETH-USDC"
    );
}

#[test]
fn test_the_venues_refusals_map_to_rejections_and_broker_errors() {
    use systrade_broker::BrokerError;
    use systrade_broker::venue::Refusal;
    use systrade_coinbase::models::CreateResponse;
    use systrade_coinbase::parse::{created, refusal};
    // Bodies as broker-apis.md §2 quotes them.
    let ok: CreateResponse = serde_json::from_str(
        r#"{"success":true,"success_response":{"order_id":"11111-00000-000000","product_id":"BTC-USD","side":"BUY","client_order_id":"0c1b2a9e"},"order_configuration":{"limit_limit_gtc":{"base_size":"0.001","limit_price":"10000.00","post_only":false}}}"#,
    )
    .unwrap();
    assert_eq!(created(&ok).unwrap(), "11111-00000-000000");
    let failed: CreateResponse = serde_json::from_str(
        r#"{"success":false,"failure_reason":"UNKNOWN_FAILURE_REASON","order_id":"","error_response":{"error":"INSUFFICIENT_FUND","message":"Insufficient balance in source account","error_details":"","preview_failure_reason":"PREVIEW_INSUFFICIENT_FUND","new_order_failure_reason":"INSUFFICIENT_FUND"},"order_configuration":{}}"#,
    )
    .unwrap();
    let r = created(&failed).unwrap_err();
    assert!(
        matches!(&r, Refusal::Rejected(m) if m == "INSUFFICIENT_FUND: Insufficient balance in source account"),
        "{r:?}"
    );
    let r = refusal(
        400,
        r#"{"error":"INVALID_ARGUMENT","error_details":"ProductID is invalid","message":"ProductID is invalid"}"#,
        None,
    );
    assert!(
        matches!(&r, Refusal::Rejected(m) if m == "ProductID is invalid"),
        "{r:?}"
    );
    let r = refusal(
        403,
        r#"{"error":"PERMISSION_DENIED","error_details":"Missing required scopes","message":"Missing required scopes"}"#,
        None,
    );
    assert!(matches!(&r, Refusal::Error(BrokerError::Invalid(m)) if m.contains("scopes")));
    let r = refusal(429, "", None);
    assert!(matches!(&r, Refusal::Error(e) if e.retryable()));
    let r = refusal(401, "Unauthorized: bad jwt eyJhbGciOi.SECRET", None);
    let Refusal::Error(e) = r else {
        panic!("401 is an error")
    };
    let text = e.to_string();
    assert!(
        text.contains("COINBASE_API_KEY") && !text.contains("SECRET\""),
        "{text}"
    );
    assert!(!text.contains("eyJ"), "{text}");
}
