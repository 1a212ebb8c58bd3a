//! Position accounting for the merged portfolio (spec/execution-and-buckets.md §6): fills
//! replayed at average cost, long or short, with fees carried in the cost of what is open,
//! so that realised + unrealised PnL is always everything the fills earned net of fees.

use chrono::NaiveDate;
use serde::Serialize;

/// One execution: `qty` signed (+ buy, − sell).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Execution {
    pub date: NaiveDate,
    pub qty: f64,
    pub price: f64,
    pub fee: f64,
}

/// A round trip: from flat to flat (or to a flip).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trip {
    pub opened: NaiveDate,
    pub closed: NaiveDate,
    /// +1 long, −1 short.
    pub sign: f64,
    /// Average price of the units opened and of the units closed.
    pub avg_entry: f64,
    pub avg_exit: f64,
    /// The largest size held during the trip.
    pub max_qty: f64,
    /// Realised PnL of the trip, net of every fee it paid.
    pub pnl: f64,
}

/// A position in one symbol of one book.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Position {
    /// Signed units held.
    pub qty: f64,
    /// Average entry price of what is held.
    pub avg: f64,
    /// Entry fees of what is held, not yet realised.
    pub open_fees: f64,
    /// Realised PnL net of fees, since the first execution.
    pub realized: f64,
    /// Every fee paid.
    pub fees: f64,
    /// When the current trip opened.
    pub opened: Option<NaiveDate>,
    trip: TripSoFar,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct TripSoFar {
    in_qty: f64,
    in_value: f64,
    out_qty: f64,
    out_value: f64,
    max_qty: f64,
    pnl: f64,
}

const EPS: f64 = 1e-9;

impl Position {
    /// Applies one execution; returns the trip it completed, if any.
    pub fn apply(&mut self, e: &Execution) -> Option<Trip> {
        if e.qty.abs() < EPS {
            // Nothing traded; a fee charged anyway is a cost all the same.
            self.fees += e.fee;
            self.realized -= e.fee;
            return None;
        }
        self.fees += e.fee;
        let same = self.qty.abs() < EPS || (self.qty > 0.0) == (e.qty > 0.0);
        if same {
            if self.qty.abs() < EPS {
                self.opened = Some(e.date);
                self.trip = TripSoFar::default();
                self.qty = 0.0;
            }
            let q = self.qty.abs() + e.qty.abs();
            self.avg = (self.avg * self.qty.abs() + e.price * e.qty.abs()) / q;
            self.open_fees += e.fee;
            self.qty += e.qty;
            self.trip.in_qty += e.qty.abs();
            self.trip.in_value += e.qty.abs() * e.price;
            self.trip.max_qty = self.trip.max_qty.max(self.qty.abs());
            return None;
        }
        let held = self.qty.abs();
        let closing = e.qty.abs().min(held);
        let sign = self.qty.signum();
        let fee_close = e.fee * closing / e.qty.abs();
        let fee_open_share = self.open_fees * closing / held;
        let pnl = sign * (e.price - self.avg) * closing - fee_close - fee_open_share;
        self.realized += pnl;
        self.open_fees -= fee_open_share;
        self.qty += sign * -closing;
        self.trip.out_qty += closing;
        self.trip.out_value += closing * e.price;
        self.trip.pnl += pnl;
        let rest = e.qty.abs() - closing;
        if self.qty.abs() >= EPS {
            return None;
        }
        let t = &self.trip;
        let trip = Trip {
            opened: self.opened.unwrap_or(e.date),
            closed: e.date,
            sign,
            avg_entry: t.in_value / t.in_qty.max(EPS),
            avg_exit: t.out_value / t.out_qty.max(EPS),
            max_qty: t.max_qty,
            pnl: t.pnl,
        };
        self.qty = 0.0;
        self.avg = 0.0;
        self.open_fees = 0.0;
        self.opened = None;
        self.trip = TripSoFar::default();
        if rest >= EPS {
            // A flip: the rest opens the other side at this price.
            self.apply(&Execution {
                date: e.date,
                qty: e.qty.signum() * rest,
                price: e.price,
                fee: e.fee - fee_close,
            });
            // The opening part's fee was counted once above already.
            self.fees -= e.fee - fee_close;
        }
        Some(trip)
    }

    /// PnL of what is held, marked at `close`, net of its entry fees.
    pub fn unrealized(&self, close: f64) -> f64 {
        self.qty * (close - self.avg) - self.open_fees
    }

    /// Everything earned so far, marked at `close`.
    pub fn pnl(&self, close: f64) -> f64 {
        self.realized + self.unrealized(close)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(k: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Duration::days(k)
    }

    fn x(k: i64, qty: f64, price: f64, fee: f64) -> Execution {
        Execution {
            date: d(k),
            qty,
            price,
            fee,
        }
    }

    #[test]
    fn a_long_round_trip_by_hand() {
        let mut p = Position::default();
        assert!(p.apply(&x(0, 10.0, 100.0, 1.0)).is_none());
        assert!(p.apply(&x(1, 10.0, 110.0, 1.0)).is_none());
        assert!((p.avg - 105.0).abs() < 1e-12);
        // Sell half at 120: (120 − 105) × 10 − 1 − half of the 2 entry fees.
        assert!(p.apply(&x(2, -10.0, 120.0, 1.0)).is_none());
        assert!((p.realized - 148.0).abs() < 1e-9, "{}", p.realized);
        assert!((p.unrealized(130.0) - (250.0 - 1.0)).abs() < 1e-9);
        let t = p.apply(&x(5, -10.0, 90.0, 1.0)).unwrap();
        assert!((t.pnl - (148.0 - 150.0 - 2.0)).abs() < 1e-9, "{t:?}");
        assert_eq!(
            (t.opened, t.closed, t.sign, t.max_qty),
            (d(0), d(5), 1.0, 20.0)
        );
        assert!((t.avg_entry - 105.0).abs() < 1e-12 && (t.avg_exit - 105.0).abs() < 1e-12);
        assert!(p.qty.abs() < EPS && p.opened.is_none());
    }

    #[test]
    fn a_short_and_a_flip_by_hand() {
        let mut p = Position::default();
        p.apply(&x(0, -5.0, 50.0, 0.5));
        // Buy 8 at 40: covers 5 (+50 − 0.5·5/8 − 0.5), then 3 long at 40.
        let t = p.apply(&x(1, 8.0, 40.0, 0.8)).unwrap();
        assert!((t.pnl - (50.0 - 0.5 - 0.5)).abs() < 1e-9, "{t:?}");
        assert_eq!(t.sign, -1.0);
        assert!((p.qty - 3.0).abs() < 1e-12 && (p.avg - 40.0).abs() < 1e-12);
        assert!((p.open_fees - 0.3).abs() < 1e-12);
        assert!((p.fees - 1.3).abs() < 1e-12);
        assert_eq!(p.opened, Some(d(1)));
    }

    proptest! {
        /// Realised + unrealised is always the cash the fills moved plus what is held, at
        /// any mark: nothing is lost or counted twice, long, short or flipping.
        #[test]
        fn pnl_is_the_cash_flows_plus_the_mark(
            fills in prop::collection::vec((-20i32..20, 1u32..500, 0u32..300), 1..40),
            mark in 1u32..500,
        ) {
            let mut p = Position::default();
            let mut cash = 0.0;
            let mut fees = 0.0;
            for (k, (q, px, fee)) in fills.iter().enumerate() {
                let e = x(k as i64, f64::from(*q), f64::from(*px), f64::from(*fee) / 100.0);
                p.apply(&e);
                cash -= e.qty * e.price + e.fee;
                fees += e.fee;
            }
            let held: f64 = fills.iter().map(|f| f64::from(f.0)).sum();
            prop_assert!((p.qty - held).abs() < 1e-6);
            let want = cash + held * f64::from(mark);
            prop_assert!((p.pnl(f64::from(mark)) - want).abs() < 1e-6, "{} vs {}", p.pnl(f64::from(mark)), want);
            prop_assert!((p.fees - fees).abs() < 1e-9);
        }
    }
}
