//! The ledger: step transactions, idempotent fills, reconciliation acknowledgements.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use systrade_broker::{BrokerFill, OrderStatus};
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};
use systrade_store::{
    Approval, CashStatus, Ledger, LedgerOrder, OrderKind, Purpose, ReconRow, ReconStatus, RunStart,
    StoreError,
};

fn run() -> RunStart<'static> {
    RunStart {
        run_id: "r1",
        strategy: "trend",
        market_day: d(),
        broker: "paper",
        account: "acct",
        dry_run: false,
        now: "t0",
    }
}

fn d() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, 4).unwrap()
}

fn s(x: &str) -> Symbol {
    Symbol::new(x).unwrap()
}

fn order(status: OrderStatus) -> LedgerOrder {
    LedgerOrder {
        client_order_id: ClientOrderId("st-1".into()),
        strategy: "trend".into(),
        market_day: d(),
        symbol: s("BTC"),
        side: Side::Buy,
        kind: OrderKind::Market,
        qty: Decimal::new(15, 1),
        stop_price: None,
        purpose: Purpose::Entry,
        status,
        broker_order_id: None,
        filled_qty: Decimal::ZERO,
        avg_price: None,
        note: None,
        decision_price: None,
        limit_price: None,
        approval: None,
    }
}

#[test]
fn test_a_limit_order_keeps_its_limit_price() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(&dir.path().join("l.sqlite")).unwrap();
    let o = LedgerOrder {
        kind: OrderKind::Limit,
        limit_price: Some(Decimal::new(9167, 2)),
        ..order(OrderStatus::Staged)
    };
    l.write("t", |w| w.upsert_order(&o)).unwrap();
    let back = l.orders("trend").unwrap();
    assert_eq!(back, vec![o]);
}

#[test]
fn test_a_failed_step_writes_nothing_and_a_good_one_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
    l.start_run(&run()).unwrap();
    let r: Result<(), StoreError> = l.step("r1", 6, "orders", "t1", |w| {
        w.upsert_order(&order(OrderStatus::Staged))?;
        Err(StoreError::Invalid("boom".into()))
    });
    assert!(r.is_err());
    assert!(
        l.order(&ClientOrderId("st-1".into())).unwrap().is_none(),
        "rolled back"
    );

    l.step("r1", 6, "orders", "t1", |w| {
        w.upsert_order(&order(OrderStatus::Staged))
    })
    .unwrap();
    l.step("r1", 8, "submit", "t2", |w| {
        let mut o = order(OrderStatus::Filled);
        o.filled_qty = o.qty;
        w.upsert_order(&o)?;
        let f = BrokerFill {
            fill_id: "f1".into(),
            client_order_id: o.client_order_id.clone(),
            symbol: s("BTC"),
            side: Side::Buy,
            qty: o.qty,
            price: Decimal::new(100, 0),
            fee: Decimal::new(1, 1),
            date: d(),
        };
        assert!(w.book_fill("trend", "acct", &f, Purpose::Entry)?);
        assert!(
            !w.book_fill("trend", "acct", &f, Purpose::Entry)?,
            "a fill is booked once"
        );
        Ok(())
    })
    .unwrap();
    assert_eq!(
        l.positions("trend").unwrap()[&s("BTC")],
        Decimal::new(15, 1)
    );
    assert_eq!(l.entries_on("trend", d()).unwrap(), 1);
    let o = l.order(&ClientOrderId("st-1".into())).unwrap().unwrap();
    assert_eq!(o.status, OrderStatus::Filled);
    l.finish_run("r1", None, "t3").unwrap();
    assert_eq!(l.runs_for_day("trend", d()).unwrap(), 1);
}

#[test]
fn test_a_mismatch_blocks_until_acknowledged_and_the_ack_adopts_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
    l.start_run(&run()).unwrap();
    let rows = vec![
        ReconRow {
            symbol: s("BTC"),
            status: ReconStatus::Match,
            broker_qty: Decimal::ONE,
            ledger_qty: Decimal::ONE,
            stops: 1,
        },
        ReconRow {
            symbol: s("ETH"),
            status: ReconStatus::MissingInLedger,
            broker_qty: Decimal::new(3, 0),
            ledger_qty: Decimal::ZERO,
            stops: 0,
        },
    ];
    l.step("r1", 13, "reconcile", "t", |w| {
        w.record_reconciliation("trend", d(), &rows)
    })
    .unwrap();
    assert_eq!(
        l.unresolved_mismatches("trend")
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![s("ETH")]
    );
    assert!(
        l.ack("trend", &s("BTC"), "t").is_err(),
        "nothing to acknowledge"
    );
    assert!(l.ack("trend", &s("XRP"), "t").is_err());
    let row = l.ack("trend", &s("ETH"), "t").unwrap();
    assert_eq!(row.status, ReconStatus::MissingInLedger);
    assert!(l.unresolved_mismatches("trend").unwrap().is_empty());
    assert_eq!(l.positions("trend").unwrap()[&s("ETH")], Decimal::new(3, 0));
}

#[test]
fn test_a_corrupt_row_is_an_error_naming_table_row_and_column_never_a_default() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let mut l = Ledger::open(&path).unwrap();
    l.start_run(&run()).unwrap();
    l.step("r1", 6, "orders", "t1", |w| {
        w.upsert_order(&order(OrderStatus::Accepted))
    })
    .unwrap();
    assert!(l.order(&ClientOrderId("st-1".into())).unwrap().is_some());
    for (column, value, what) in [
        ("qty", "1.5x", "a decimal"),
        ("side", "sideways", "a side"),
        ("status", "weird", "an order status"),
        ("market_day", "yesterday", "a date"),
        ("kind", "trailing_stop", "an order kind"),
        ("purpose", "flip", "an order purpose"),
        ("approval", "maybe", "an approval"),
    ] {
        let c = rusqlite::Connection::open(&path).unwrap();
        let good: Option<String> = c
            .query_row(&format!("SELECT {column} FROM orders"), [], |r| r.get(0))
            .unwrap();
        c.execute(&format!("UPDATE orders SET {column} = ?1"), [value])
            .unwrap();
        let e = l
            .order(&ClientOrderId("st-1".into()))
            .expect_err("a corrupt row is an error")
            .to_string();
        for want in ["orders", "st-1", &format!("column {column}"), value, what] {
            assert!(e.contains(want), "{want}: {e}");
        }
        c.execute(&format!("UPDATE orders SET {column} = ?1"), [good])
            .unwrap();
    }
    assert!(l.order(&ClientOrderId("st-1".into())).unwrap().is_some());
}

#[test]
fn test_an_order_status_moves_only_along_the_lifecycle_never_back() {
    use OrderStatus::*;
    // Every pair: the ledger takes exactly the changes the lifecycle allows, and a refused
    // one leaves the stored order as it was.
    for from in OrderStatus::ALL {
        for to in OrderStatus::ALL {
            let dir = tempfile::tempdir().unwrap();
            let mut l = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
            l.start_run(&run()).unwrap();
            l.step("r1", 6, "orders", "t1", |w| w.upsert_order(&order(from)))
                .unwrap();
            let r = l.step("r1", 8, "submit", "t2", |w| w.upsert_order(&order(to)));
            let stored = l.order(&ClientOrderId("st-1".into())).unwrap().unwrap();
            let allowed = from == to
                || match from {
                    Staged | Submitted => to != Staged,
                    Accepted => !matches!(to, Staged | Submitted),
                    PartiallyFilled => matches!(to, Filled | Canceled | Expired),
                    Filled | Canceled | Rejected | Expired => false,
                };
            assert_eq!(from.can_become(to), allowed, "{from} → {to}");
            match r {
                Ok(()) => {
                    assert!(allowed, "{from} → {to} was taken");
                    assert_eq!(stored.status, to);
                }
                Err(StoreError::Transition { from: f, to: t, .. }) => {
                    assert!(!allowed, "{from} → {to} was refused");
                    assert_eq!((f, t), (from, to));
                    assert_eq!(stored.status, from, "a refused change writes nothing");
                }
                Err(e) => panic!("{from} → {to}: {e}"),
            }
        }
    }
    // A filled order never becomes canceled: the error says which order and both states.
    let e = StoreError::Transition {
        id: "st-1".into(),
        from: Filled,
        to: Canceled,
    }
    .to_string();
    assert_eq!(
        e,
        "order st-1: the ledger has it filled; it cannot become canceled"
    );
    // The approval is stored and read back as its word.
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
    l.start_run(&run()).unwrap();
    let mut o = order(Staged);
    o.approval = Some(Approval::Pending);
    l.step("r1", 6, "orders", "t1", |w| w.upsert_order(&o))
        .unwrap();
    let back = l.order(&ClientOrderId("st-1".into())).unwrap().unwrap();
    assert_eq!(back.approval, Some(Approval::Pending));
}

#[test]
fn test_the_ledgers_cash_moves_by_each_booked_fill_once_and_a_difference_waits_for_its_ack()
-> Result<(), StoreError> {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(&dir.path().join("l.sqlite"))?;
    l.start_run(&run())?;
    let dec = |x: &str| x.parse::<Decimal>().unwrap();
    let tol = dec("0.01");
    let fill = |id: &str, side: Side, qty: &str, price: &str, fee: &str| BrokerFill {
        fill_id: id.into(),
        client_order_id: ClientOrderId("st-1".into()),
        symbol: s("SPY"),
        side,
        qty: dec(qty),
        price: dec(price),
        fee: dec(fee),
        date: d(),
    };
    // A fill before the first check moves nothing: the anchor is the broker's cash then.
    let first = l.step("r1", 3, "sync", "t", |w| {
        w.book_fill(
            "trend",
            "acct",
            &fill("f0", Side::Buy, "1", "100", "0"),
            Purpose::Entry,
        )?;
        w.check_cash("trend", d(), dec("10000"), tol)
    })?;
    assert_eq!(first.status, CashStatus::Anchored);
    assert_eq!(first.ledger, dec("10000"));
    // A buy of 10 at 100.5 with a 1.25 fee and a sale of 4 at 101 with 0.5: −1005 − 1.25 +
    // 404 − 0.5 = −602.75; the same buy booked twice moves the cash once.
    let check = l.step("r1", 3, "sync", "t", |w| {
        w.book_fill(
            "trend",
            "acct",
            &fill("f1", Side::Buy, "10", "100.5", "1.25"),
            Purpose::Entry,
        )?;
        w.book_fill(
            "trend",
            "acct",
            &fill("f1", Side::Buy, "10", "100.5", "1.25"),
            Purpose::Entry,
        )?;
        w.book_fill(
            "trend",
            "acct",
            &fill("f2", Side::Sell, "4", "101", "0.5"),
            Purpose::Reduce,
        )?;
        w.check_cash("trend", d(), dec("9397.25"), tol)
    })?;
    assert_eq!(check.status, CashStatus::Match);
    assert_eq!(check.ledger, dec("9397.25"));
    assert_eq!(l.cash_mismatch("trend")?, None);
    // Within the tolerance is a match; beyond it, a mismatch that stays until acknowledged.
    let near = l.step("r1", 13, "reconcile", "t", |w| {
        w.check_cash("trend", d(), dec("9397.26"), tol)
    })?;
    assert_eq!(near.status, CashStatus::Match);
    let off = l.step("r1", 13, "reconcile", "t", |w| {
        w.check_cash("trend", d(), dec("9420.25"), tol)
    })?;
    assert_eq!(off.status, CashStatus::Mismatch);
    assert_eq!(off.difference, dec("23"));
    assert_eq!(l.cash_mismatch("trend")?, Some(dec("23")));
    assert_eq!(l.ack_cash("trend")?, dec("23"));
    assert_eq!(l.cash_mismatch("trend")?, None);
    assert!(matches!(l.ack_cash("trend"), Err(StoreError::Invalid(_))));
    let after = l.step("r1", 13, "reconcile", "t", |w| {
        w.check_cash("trend", d(), dec("9420.25"), tol)
    })?;
    assert_eq!(after.status, CashStatus::Match);
    Ok(())
}
