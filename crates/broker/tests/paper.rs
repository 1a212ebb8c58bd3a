//! The paper broker against hand-made bars: fills, stops, reservations, faults, persistence.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use systrade_backtest::CostModel;
use systrade_broker::{
    Broker, BrokerError, Faults, OrderRequest, OrderStatus, OrderType, PaperBroker, PaperConfig,
    TimeInForce,
};
use systrade_core::contracts::{ClientOrderId, Side};
use systrade_core::{Bar, DailyBar, Ohlcv, Symbol};

fn d(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, day).unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn sym() -> Symbol {
    Symbol::new("XYZ").unwrap()
}

/// Bars on March 1..=10: (open, high, low, close).
fn data() -> BTreeMap<Symbol, Vec<DailyBar>> {
    let rows = [
        (100.0, 101.0, 99.0, 100.0),
        (100.0, 102.0, 99.0, 101.0),
        (101.0, 103.0, 100.0, 102.0),
        (102.0, 104.0, 101.0, 103.0),
        (103.0, 104.0, 94.0, 95.0), // day 5: trades down through 96
        (90.0, 92.0, 88.0, 91.0),   // day 6: gaps below 96
        (91.0, 93.0, 90.0, 92.0),
        (92.0, 94.0, 91.0, 93.0),
        (93.0, 95.0, 92.0, 94.0),
        (94.0, 96.0, 93.0, 95.0),
    ];
    let bars = rows
        .iter()
        .enumerate()
        .map(|(i, (o, h, l, c))| {
            Bar::new(
                d(i as u32 + 1),
                Ohlcv {
                    open: *o,
                    high: *h,
                    low: *l,
                    close: *c,
                    volume: 1e6,
                },
            )
        })
        .collect();
    BTreeMap::from([(sym(), bars)])
}

fn cfg() -> PaperConfig {
    PaperConfig {
        account_id: "paper-test".into(),
        currency: "USD".into(),
        initial_cash: dec("10000"),
        costs: CostModel {
            fee_bps: 10.0,
            ..CostModel::default()
        },
        lot: None,
        shorting: false,
        margin: Decimal::ONE,
        tape_volume_share: None,
    }
}

fn order(id: &str, side: Side, qty: &str, kind: OrderType, session: NaiveDate) -> OrderRequest {
    OrderRequest {
        client_order_id: ClientOrderId(id.into()),
        symbol: sym(),
        side,
        qty: dec(qty),
        order_type: kind,
        tif: kind.default_tif(),
        session,
    }
}

#[test]
fn test_market_orders_fill_at_the_sessions_open_with_fees_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paper.sqlite");
    let data = data();
    {
        let mut b = PaperBroker::open(&path, cfg(), &data, d(2), Faults::none()).unwrap();
        let o = b
            .submit(&order("buy-1", Side::Buy, "10", OrderType::Market, d(2)))
            .unwrap();
        assert_eq!(o.status, OrderStatus::Filled);
        assert_eq!(o.avg_price, Some(dec("100")));
        let a = b.account().unwrap();
        // 10 × 100 + 10 bps fee = 1001.
        assert_eq!(a.cash, dec("8999"));
        // Marked at the last close before the session (day 1: 100).
        assert_eq!(a.equity, dec("9999"));
    }
    // Reopened a session later: the state is on disk.
    let mut b = PaperBroker::open(&path, cfg(), &data, d(3), Faults::none()).unwrap();
    let p = b.positions().unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].qty, dec("10"));
    assert_eq!(b.fills(None).unwrap().len(), 1);
    // The clock never goes back.
    drop(b);
    let err = PaperBroker::open(&path, cfg(), &data, d(2), Faults::none())
        .err()
        .unwrap();
    assert!(err.to_string().contains("cannot go back"), "{err}");
    // Another account id in the same file is refused.
    let mut other = cfg();
    other.account_id = "someone-else".into();
    assert!(PaperBroker::open(&path, other, &data, d(3), Faults::none()).is_err());
}

#[test]
fn test_an_order_waits_for_its_bar_and_stops_trigger_gap_aware_in_later_bars() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.sqlite");
    let data = data();
    let mut short = data.clone();
    // Data that ends before the session: the order waits for the open it needs.
    short.get_mut(&sym()).unwrap().truncate(3);
    {
        let mut b = PaperBroker::open(&path, cfg(), &short, d(4), Faults::none()).unwrap();
        let o = b
            .submit(&order("buy", Side::Buy, "10", OrderType::Market, d(4)))
            .unwrap();
        assert_eq!(o.status, OrderStatus::Accepted);
        assert!(b.positions().unwrap().is_empty());
    }
    {
        // Day 4's bar arrives: the order fills at its open (102).
        let mut b = PaperBroker::open(&path, cfg(), &data, d(4), Faults::none()).unwrap();
        let o = b.order(&ClientOrderId("buy".into())).unwrap().unwrap();
        assert_eq!(
            (o.status, o.avg_price),
            (OrderStatus::Filled, Some(dec("102")))
        );
        b.submit(&order(
            "stop",
            Side::Sell,
            "10",
            OrderType::Stop { stop: dec("96") },
            d(4),
        ))
        .unwrap();
    }
    // Day 5 trades through 96 from an open above it: the stop fills at 96.
    let mut b = PaperBroker::open(&path, cfg(), &data, d(7), Faults::none()).unwrap();
    let stop = b.order(&ClientOrderId("stop".into())).unwrap().unwrap();
    assert_eq!(stop.status, OrderStatus::Filled);
    assert_eq!(stop.avg_price, Some(dec("96")));
    let fills = b.fills(None).unwrap();
    assert_eq!(fills.last().unwrap().date, d(5));
    assert!(b.positions().unwrap().is_empty());

    // A stop the market gaps through fills at the open.
    let path2 = dir.path().join("gap.sqlite");
    let mut g = PaperBroker::open(&path2, cfg(), &data, d(5), Faults::none()).unwrap();
    g.submit(&order("b", Side::Buy, "5", OrderType::Market, d(5)))
        .unwrap();
    g.submit(&order(
        "s",
        Side::Sell,
        "5",
        OrderType::Stop { stop: dec("93") },
        d(5),
    ))
    .unwrap();
    drop(g);
    let mut g = PaperBroker::open(&path2, cfg(), &data, d(8), Faults::none()).unwrap();
    let s = g.order(&ClientOrderId("s".into())).unwrap().unwrap();
    // Day 5's low 94 stays above 93; day 6 opens at 90, below it.
    assert_eq!(
        (s.status, s.avg_price),
        (OrderStatus::Filled, Some(dec("90")))
    );
}

#[test]
fn test_open_stops_reserve_quantity_and_replace_never_strips_protection() {
    let dir = tempfile::tempdir().unwrap();
    let data = data();
    let mut b = PaperBroker::open(
        &dir.path().join("p.sqlite"),
        cfg(),
        &data,
        d(2),
        Faults::none(),
    )
    .unwrap();
    b.submit(&order("buy", Side::Buy, "10", OrderType::Market, d(2)))
        .unwrap();
    b.submit(&order(
        "stop",
        Side::Sell,
        "10",
        OrderType::Stop { stop: dec("90") },
        d(2),
    ))
    .unwrap();
    assert_eq!(b.positions().unwrap()[0].reserved, dec("10"));
    // Selling without cancelling the stop first is refused, as on Coinbase.
    let sell = b
        .submit(&order("sell", Side::Sell, "4", OrderType::Market, d(2)))
        .unwrap();
    assert_eq!(sell.status, OrderStatus::Rejected);
    assert!(
        sell.reason
            .as_deref()
            .unwrap()
            .contains("insufficient qty available"),
        "{sell:?}"
    );
    // A second stop on the same units is refused too.
    let extra = b
        .submit(&order(
            "stop2",
            Side::Sell,
            "10",
            OrderType::Stop { stop: dec("91") },
            d(2),
        ))
        .unwrap();
    assert_eq!(extra.status, OrderStatus::Rejected);
    // A replace the broker refuses (too many units) leaves the old stop working.
    let bad = b
        .replace(
            &ClientOrderId("stop".into()),
            &order(
                "stop3",
                Side::Sell,
                "11",
                OrderType::Stop { stop: dec("92") },
                d(2),
            ),
        )
        .unwrap();
    assert_eq!(bad.status, OrderStatus::Rejected);
    let open = b.open_orders().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].client_order_id.0, "stop");
    // A good replace swaps them in one step.
    let good = b
        .replace(
            &ClientOrderId("stop".into()),
            &order(
                "stop4",
                Side::Sell,
                "10",
                OrderType::Stop { stop: dec("92") },
                d(2),
            ),
        )
        .unwrap();
    assert_eq!(good.status, OrderStatus::Accepted);
    let open = b.open_orders().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].client_order_id.0, "stop4");
    // Cancel, then the sell goes through.
    b.cancel(&ClientOrderId("stop4".into())).unwrap();
    assert!(matches!(
        b.cancel(&ClientOrderId("stop4".into())),
        Err(BrokerError::Invalid(_))
    ));
    let sell = b
        .submit(&order("sell2", Side::Sell, "4", OrderType::Market, d(2)))
        .unwrap();
    assert_eq!(sell.status, OrderStatus::Filled);
    assert_eq!(b.positions().unwrap()[0].qty, dec("6"));
}

#[test]
fn test_injected_faults_behave_like_the_venues() {
    let dir = tempfile::tempdir().unwrap();
    let data = data();
    let faults: Faults = "submit:timeout*1,submit:429*1,cancel:503*1"
        .parse()
        .unwrap();
    let mut b =
        PaperBroker::open(&dir.path().join("p.sqlite"), cfg(), &data, d(2), faults).unwrap();
    let req = order("buy", Side::Buy, "10", OrderType::Market, d(2));
    // The answer is lost but the order was taken: a retry with the same id is a duplicate,
    // and the order can be looked up.
    assert!(matches!(b.submit(&req), Err(BrokerError::Timeout)));
    assert!(matches!(b.submit(&req), Err(BrokerError::RateLimited)));
    assert!(matches!(b.submit(&req), Err(BrokerError::Duplicate(_))));
    let o = b.order(&req.client_order_id).unwrap().unwrap();
    assert_eq!(o.status, OrderStatus::Filled);
    assert_eq!(b.fills(None).unwrap().len(), 1, "filled once");

    let mut p: Faults = "submit:partial=0.5@XYZ*1,submit:reject*1".parse().unwrap();
    assert!(p.hit("account", None).is_none());
    let mut b2 = PaperBroker::open(&dir.path().join("q.sqlite"), cfg(), &data, d(2), p).unwrap();
    let half = b2
        .submit(&order("half", Side::Buy, "10", OrderType::Market, d(2)))
        .unwrap();
    assert_eq!(
        (half.status, half.filled_qty),
        (OrderStatus::PartiallyFilled, dec("5"))
    );
    let rej = b2
        .submit(&order("rej", Side::Buy, "1", OrderType::Market, d(2)))
        .unwrap();
    assert_eq!(rej.status, OrderStatus::Rejected);
    drop(b2);
    // The rest of a day order expires with its session.
    let mut b2 = PaperBroker::open(
        &dir.path().join("q.sqlite"),
        cfg(),
        &data,
        d(3),
        Faults::none(),
    )
    .unwrap();
    let half = b2.order(&ClientOrderId("half".into())).unwrap().unwrap();
    assert_eq!(
        (half.status, half.filled_qty),
        (OrderStatus::Expired, dec("5"))
    );
    assert_eq!(b2.positions().unwrap()[0].qty, dec("5"));
}

#[test]
fn test_buys_never_spend_more_cash_than_there_is() {
    let dir = tempfile::tempdir().unwrap();
    let data = data();
    let mut b = PaperBroker::open(
        &dir.path().join("p.sqlite"),
        cfg(),
        &data,
        d(2),
        Faults::none(),
    )
    .unwrap();
    let o = b
        .submit(&order("big", Side::Buy, "1000", OrderType::Market, d(2)))
        .unwrap();
    assert!(
        o.filled_qty < dec("100") && o.filled_qty > dec("99"),
        "{o:?}"
    );
    let a = b.account().unwrap();
    assert!(a.cash >= Decimal::ZERO && a.cash < dec("0.000001"), "{a:?}");
}

/// A margin account sells short and buys up to `margin × equity` of gross exposure; a cash
/// account does neither; a stop's reserved units stay unsellable either way.
#[test]
fn test_margin_accounts_short_and_lever_within_their_buying_power() {
    let dir = tempfile::tempdir().unwrap();
    let data = data();
    let margin = PaperConfig {
        shorting: true,
        margin: dec("2"),
        ..cfg()
    };
    let path = dir.path().join("m.sqlite");
    let mut b = PaperBroker::open(&path, margin.clone(), &data, d(2), Faults::none()).unwrap();
    let o = b
        .submit(&order("short", Side::Sell, "30", OrderType::Market, d(2)))
        .unwrap();
    assert_eq!((o.status, o.filled_qty), (OrderStatus::Filled, dec("30")));
    let p = b.positions().unwrap();
    assert_eq!((p[0].qty, p[0].reserved), (dec("-30"), Decimal::ZERO));
    // Proceeds 3000 less the 3 fee; equity marked at day 1's close of 100.
    let a = b.account().unwrap();
    assert_eq!((a.cash, a.equity), (dec("12997"), dec("9997")));
    // Buying power: 2 × 9997 − 3000 of gross. A buy of 200 covers 30 and buys what fits.
    let o = b
        .submit(&order("flip", Side::Buy, "200", OrderType::Market, d(2)))
        .unwrap();
    assert_eq!(o.status, OrderStatus::PartiallyFilled, "{o:?}");
    let long = o.filled_qty - dec("30");
    let power = dec("2") * dec("9997") - dec("3000");
    assert!(long * dec("100.1") <= power && (long + Decimal::ONE) * dec("100.1") > power);
    drop(b);

    // A cash account refuses to go short and never borrows.
    let mut c = PaperBroker::open(
        &dir.path().join("c.sqlite"),
        cfg(),
        &data,
        d(2),
        Faults::none(),
    )
    .unwrap();
    let r = c
        .submit(&order("s", Side::Sell, "5", OrderType::Market, d(2)))
        .unwrap();
    assert_eq!(r.status, OrderStatus::Rejected);
    assert!(c.positions().unwrap().is_empty());

    // On margin, units under a stop stay reserved: selling them is refused, shorting the
    // rest of the book is not possible through them.
    let mut m = PaperBroker::open(
        &dir.path().join("m2.sqlite"),
        margin,
        &data,
        d(2),
        Faults::none(),
    )
    .unwrap();
    m.submit(&order("b", Side::Buy, "10", OrderType::Market, d(2)))
        .unwrap();
    m.submit(&order(
        "stop",
        Side::Sell,
        "10",
        OrderType::Stop { stop: dec("80") },
        d(2),
    ))
    .unwrap();
    let r = m
        .submit(&order("x", Side::Sell, "15", OrderType::Market, d(2)))
        .unwrap();
    assert_eq!(r.status, OrderStatus::Rejected);
    assert!(r.reason.unwrap().contains("insufficient qty available"));
}

fn limit(id: &str, side: Side, qty: &str, at: &str, tif: TimeInForce) -> OrderRequest {
    OrderRequest {
        tif,
        ..order(id, side, qty, OrderType::Limit { limit: dec(at) }, d(2))
    }
}

#[test]
fn test_limit_orders_fill_when_a_bar_trades_through_them_at_the_open_or_their_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.sqlite");
    let data = data();
    {
        let mut b = PaperBroker::open(&path, cfg(), &data, d(2), Faults::none()).unwrap();
        // Day 2 opens at 100: a buy limit at 101 is marketable and fills at the open.
        let o = b
            .submit(&limit("at-open", Side::Buy, "1", "101", TimeInForce::Day))
            .unwrap();
        assert_eq!(
            (o.status, o.avg_price),
            (OrderStatus::Filled, Some(dec("100")))
        );
        // Below the open: they wait for the bar.
        for (id, at, tif) in [
            ("day-995", "99.5", TimeInForce::Day),
            ("day-98", "98", TimeInForce::Day),
            ("gtc-98", "98", TimeInForce::Gtc),
        ] {
            let o = b.submit(&limit(id, Side::Buy, "1", at, tif)).unwrap();
            assert_eq!(o.status, OrderStatus::Accepted, "{id}");
        }
        // Immediate or cancel: what the open cannot fill is canceled at once.
        let o = b
            .submit(&limit("ioc", Side::Buy, "1", "99.5", TimeInForce::Ioc))
            .unwrap();
        assert_eq!(o.status, OrderStatus::Expired);
        let p = b.preview(&limit("pv", Side::Buy, "1", "99.5", TimeInForce::Day), &[]);
        assert_eq!(p.unwrap().est_price, Some(dec("99.5")));
    }
    // Day 2 traded down to 99: the 99.5 limit filled at its limit; the day's 98 expired.
    let mut b = PaperBroker::open(&path, cfg(), &data, d(3), Faults::none()).unwrap();
    let get = |b: &mut PaperBroker, id: &str| b.order(&ClientOrderId(id.into())).unwrap().unwrap();
    let o = get(&mut b, "day-995");
    assert_eq!(
        (o.status, o.avg_price),
        (OrderStatus::Filled, Some(dec("99.5")))
    );
    assert_eq!(get(&mut b, "day-98").status, OrderStatus::Expired);
    assert_eq!(get(&mut b, "gtc-98").status, OrderStatus::Accepted);
    drop(b);
    // Good until canceled: day 5 trades down to 94 from an open of 103 → filled at 98.
    let mut b = PaperBroker::open(&path, cfg(), &data, d(6), Faults::none()).unwrap();
    let o = get(&mut b, "gtc-98");
    assert_eq!(
        (o.status, o.avg_price),
        (OrderStatus::Filled, Some(dec("98")))
    );
    let fills = b.fills(None).unwrap();
    assert_eq!(fills.len(), 3);
    assert_eq!(
        fills.iter().map(|f| f.date).collect::<Vec<_>>(),
        [d(2), d(2), d(5)]
    );
    // A non-positive limit is refused as the venues do.
    let o = b
        .submit(&OrderRequest {
            session: d(6),
            ..limit("zero", Side::Buy, "1", "0", TimeInForce::Day)
        })
        .unwrap();
    assert_eq!(o.status, OrderStatus::Rejected);
    assert!(o.reason.unwrap().contains("limit price must be positive"));
}

#[test]
fn test_a_stop_limit_triggers_then_needs_its_limit_and_waits_out_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.sqlite");
    let data = data();
    let stop_limit = |id: &str, stop: &str, lim: &str, session| OrderRequest {
        session,
        ..order(
            id,
            Side::Sell,
            "10",
            OrderType::StopLimit {
                stop: dec(stop),
                limit: dec(lim),
            },
            session,
        )
    };
    {
        let mut b = PaperBroker::open(&path, cfg(), &data, d(2), Faults::none()).unwrap();
        b.submit(&order("buy", Side::Buy, "20", OrderType::Market, d(2)))
            .unwrap();
        // Protects 10 from day 2; good until canceled by default, and it reserves its units.
        let o = b.submit(&stop_limit("sl-a", "96", "95", d(2))).unwrap();
        assert_eq!((o.status, o.tif), (OrderStatus::Accepted, TimeInForce::Gtc));
        assert_eq!(b.positions().unwrap()[0].reserved, dec("10"));
    }
    // Day 5 opens at 103 and trades down to 94: triggered at 96, within the 95 limit → 96.
    let mut b = PaperBroker::open(&path, cfg(), &data, d(6), Faults::none()).unwrap();
    let get = |b: &mut PaperBroker, id: &str| b.order(&ClientOrderId(id.into())).unwrap().unwrap();
    let o = get(&mut b, "sl-a");
    assert_eq!(
        (o.status, o.avg_price),
        (OrderStatus::Filled, Some(dec("96")))
    );
    // The other 10 get a stop-limit for day 6, which gaps to 90: triggered, but its 95.5
    // limit is out of reach — it waits, still reserving, until day 10 trades up to 96.
    b.submit(&stop_limit("sl-b", "96", "95.5", d(6))).unwrap();
    drop(b);
    let mut b = PaperBroker::open(&path, cfg(), &data, d(9), Faults::none()).unwrap();
    let o = get(&mut b, "sl-b");
    assert_eq!(
        (o.status, o.filled_qty),
        (OrderStatus::Accepted, Decimal::ZERO)
    );
    assert_eq!(b.positions().unwrap()[0].reserved, dec("10"));
    drop(b);
    let mut b = PaperBroker::open(&path, cfg(), &data, d(11), Faults::none()).unwrap();
    let o = get(&mut b, "sl-b");
    assert_eq!(
        (o.status, o.avg_price),
        (OrderStatus::Filled, Some(dec("95.5")))
    );
    assert!(b.positions().unwrap().is_empty());
    let dates: Vec<NaiveDate> = b.fills(None).unwrap().iter().map(|f| f.date).collect();
    assert_eq!(dates, [d(2), d(5), d(10)]);
}

/// One-minute bars of March 5 from 14:30 UTC (09:30 New York, EST): (open, low), high =
/// open + 0.5, close = low + 0.2.
fn tape_minutes(rows: &[(f64, f64)]) -> systrade_broker::paper::Minutes {
    let open = chrono::DateTime::parse_from_rfc3339("2024-03-05T14:30:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let bars = rows
        .iter()
        .enumerate()
        .map(|(i, (o, l))| systrade_core::IntradayBar {
            ts: open + chrono::Duration::minutes(i as i64),
            open: *o,
            high: o + 0.5,
            low: *l,
            close: l + 0.2,
            volume: 100.0,
        })
        .collect();
    BTreeMap::from([(sym(), BTreeMap::from([(d(5), bars)]))])
}

fn at(t: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(t)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

#[test]
fn test_with_a_tape_stops_work_from_the_instant_they_were_placed_and_minutes_replay_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paper.sqlite");
    let data = data();
    // 09:30 100 … 09:32 dips to 95.5; 09:36 falls to 96.8; 09:38 opens at 96.4 (through 96.5).
    let minutes = tape_minutes(&[
        (103.0, 102.0),
        (102.0, 99.0),
        (99.0, 95.5),
        (98.0, 97.5),
        (98.0, 97.6),
        (98.0, 97.8),
        (97.9, 96.8),
        (97.5, 97.0),
        (96.4, 96.0),
        (96.5, 96.2),
    ]);
    let tape = |now: &str| systrade_broker::paper::Tape {
        now: at(now),
        minutes: &minutes,
    };
    {
        // Bought at day 4's open; the stop goes in at 09:34, after the dip to 95.5.
        let mut b = PaperBroker::open(&path, cfg(), &data, d(4), Faults::none()).unwrap();
        b.submit(&order("buy", Side::Buy, "10", OrderType::Market, d(4)))
            .unwrap();
    }
    {
        let mut b = PaperBroker::open_at(
            &path,
            cfg(),
            &data,
            d(5),
            Faults::none(),
            Some(tape("2024-03-05T14:34:00Z")),
        )
        .unwrap();
        let stop = OrderType::Stop { stop: dec("96") };
        b.submit(&order("stop-1", Side::Sell, "10", stop, d(5)))
            .unwrap();
        assert!(
            b.fills(None)
                .unwrap()
                .iter()
                .all(|f| f.client_order_id.0 != "stop-1")
        );
    }
    {
        // 09:36: raised to 97 from 09:36 on (a replace); 09:36's own minute reached 96.8 < 97
        // but had not been replayed when the cycle looked (its bar closes at 09:37).
        let mut b = PaperBroker::open_at(
            &path,
            cfg(),
            &data,
            d(5),
            Faults::none(),
            Some(tape("2024-03-05T14:36:00Z")),
        )
        .unwrap();
        let up = OrderType::Stop { stop: dec("97") };
        b.replace(
            &ClientOrderId("stop-1".into()),
            &order("stop-2", Side::Sell, "10", up, d(5)),
        )
        .unwrap();
    }
    {
        // 09:40: 09:36 (low 96.8) triggers the 97 stop, at 97.
        let mut b = PaperBroker::open_at(
            &path,
            cfg(),
            &data,
            d(5),
            Faults::none(),
            Some(tape("2024-03-05T14:40:00Z")),
        )
        .unwrap();
        let fills = b.fills(None).unwrap();
        let f: Vec<_> = fills
            .iter()
            .filter(|f| f.client_order_id.0 == "stop-2")
            .collect();
        assert_eq!(f.len(), 1, "{fills:?}");
        assert_eq!(f[0].price, dec("97"));
        assert!(b.positions().unwrap().is_empty());
        // The clock never goes back.
        drop(b);
        let back = PaperBroker::open_at(
            &path,
            cfg(),
            &data,
            d(5),
            Faults::none(),
            Some(tape("2024-03-05T14:39:00Z")),
        );
        assert!(back.is_err());
    }
    {
        // The next session replays day 5's rest once: nothing is filled twice.
        let mut b = PaperBroker::open(&path, cfg(), &data, d(6), Faults::none()).unwrap();
        let n = b
            .fills(None)
            .unwrap()
            .iter()
            .filter(|f| f.symbol == sym())
            .count();
        assert_eq!(n, 2, "the buy and one stop fill");
    }
}
