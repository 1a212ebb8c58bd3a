//! Manual trades in the ledger: realised PnL and R-multiples by hand, validation that leaves
//! the ledger unchanged, and an all-or-nothing FIFO import.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use systrade_core::Symbol;
use systrade_core::contracts::Side;
use systrade_store::{Ledger, NewTrade};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn n(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn trade(sym: &str, side: Side, qty: &str, price: &str, date: &str) -> NewTrade {
    NewTrade {
        symbol: Symbol::new(sym).unwrap(),
        side,
        qty: n(qty),
        price: n(price),
        date: d(date),
        fees: n("1"),
        stop: None,
        tags: vec!["swing".into()],
        notes: String::new(),
    }
}

const TODAY: &str = "2024-06-30";

#[test]
fn test_realised_pnl_r_multiple_and_refusals_that_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
    let today = d(TODAY);
    let mut t = trade("AAPL", Side::Buy, "100", "50", "2024-06-03");
    t.stop = Some(n("45"));
    let id = l.add_trade(&t, today).unwrap();
    // Close 40 at 56 with a 1 fee: 40 × 6 − 1 − 1 × 40/100 = 238.6.
    let after = l
        .close_trade(id, Some(n("40")), n("56"), d("2024-06-10"), n("1"), today)
        .unwrap();
    assert_eq!(after.open_qty, n("60"));
    assert_eq!(after.realized_pnl, n("238.6"));
    // Risk per share 5, exit 6 above entry: 1.2 R.
    assert_eq!(after.r_multiple(), Some(n("1.2")));
    // A short: sold 10 at 20, covered at 22 → −20 − 1 − 1.
    let s = l
        .add_trade(&trade("TSLA", Side::Sell, "10", "20", "2024-06-03"), today)
        .unwrap();
    let c = l
        .close_trade(s, None, n("22"), d("2024-06-04"), n("1"), today)
        .unwrap();
    assert_eq!((c.open_qty, c.realized_pnl), (Decimal::ZERO, n("-22")));
    assert_eq!(c.closed_on(), Some(d("2024-06-04")));

    let before = format!("{:?}", l.trades().unwrap());
    let refusals = [
        l.close_trade(id, Some(n("61")), n("50"), d("2024-06-11"), n("0"), today)
            .unwrap_err()
            .to_string(),
        l.close_trade(id, None, n("50"), d("2024-07-11"), n("0"), today)
            .unwrap_err()
            .to_string(),
        l.close_trade(s, None, n("50"), d("2024-06-11"), n("0"), today)
            .unwrap_err()
            .to_string(),
        l.close_trade(99, None, n("50"), d("2024-06-11"), n("0"), today)
            .unwrap_err()
            .to_string(),
        l.add_trade(&trade("MSFT", Side::Buy, "-5", "10", "2024-06-03"), today)
            .unwrap_err()
            .to_string(),
        l.add_trade(&trade("MSFT", Side::Buy, "5", "10", "2024-07-03"), today)
            .unwrap_err()
            .to_string(),
        l.update_trade(
            id,
            &systrade_store::TradeUpdate {
                qty: Some(n("30")),
                ..Default::default()
            },
            today,
        )
        .unwrap_err()
        .to_string(),
    ];
    for (e, want) in refusals.iter().zip([
        "closing 61 is more than the 60 still open",
        "is in the future",
        "is already closed",
        "no manual trade with id 99",
        "qty must be positive",
        "is in the future",
        "qty 30 is less than the 40 already closed",
    ]) {
        assert!(e.contains(want), "{want}: {e}");
    }
    assert_eq!(
        format!("{:?}", l.trades().unwrap()),
        before,
        "nothing changed"
    );
    // An update that is allowed.
    let u = l
        .update_trade(
            id,
            &systrade_store::TradeUpdate {
                stop: Some(Some(n("48"))),
                notes: Some("raised".into()),
                ..Default::default()
            },
            today,
        )
        .unwrap();
    assert_eq!(
        (u.trade.stop, u.trade.notes.as_str()),
        (Some(n("48")), "raised")
    );
}

#[test]
fn test_import_matches_fifo_and_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
    let today = d(TODAY);
    let rows = vec![
        (
            "f.csv line 2".to_string(),
            trade("AAPL", Side::Buy, "10", "100", "2024-06-03"),
        ),
        (
            "f.csv line 3".to_string(),
            trade("AAPL", Side::Buy, "5", "110", "2024-06-04"),
        ),
        // Sells 12: closes the first 10 and 2 of the second.
        (
            "f.csv line 4".to_string(),
            trade("AAPL", Side::Sell, "12", "120", "2024-06-05"),
        ),
    ];
    assert_eq!(l.import_trades(&rows, today).unwrap(), (2, 2));
    let t = l.trades().unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!((t[0].open_qty, t[1].open_qty), (Decimal::ZERO, n("3")));
    // First lot: 10 × 20 − 1 entry fee − 10/12 of the sale's fee.
    assert_eq!(
        t[0].realized_pnl.round_dp(6),
        (n("199") - n("10") / n("12")).round_dp(6)
    );
    let before = format!("{:?}", l.trades().unwrap());
    let bad = vec![
        (
            "g.csv line 2".to_string(),
            trade("MSFT", Side::Buy, "1", "10", "2024-06-03"),
        ),
        (
            "g.csv line 3".to_string(),
            trade("NVDA", Side::Buy, "1", "10", "2030-01-01"),
        ),
    ];
    let e = l.import_trades(&bad, today).unwrap_err().to_string();
    assert!(
        e.contains("g.csv line 3: NVDA: date 2030-01-01 is in the future"),
        "{e}"
    );
    assert_eq!(
        format!("{:?}", l.trades().unwrap()),
        before,
        "the good row was rolled back too"
    );
}
