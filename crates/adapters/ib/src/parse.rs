//! IB's answers (as `ibapi` decodes them) read as systrade's broker types; nothing guessed.

use chrono::{NaiveDate, NaiveDateTime};
use ibapi::orders::{
    Action, Execution, ExecutionSide, Order, OrderStatusKind, TimeInForce as IbTif,
};
use rust_decimal::Decimal;
use systrade_broker::venue::ParseError;
use systrade_broker::{OrderStatus, OrderType, TimeInForce};
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};

const VENUE: &str = "ib";

/// An IB quantity or price (sent as a decimal string, decoded by `ibapi` into `f64`) back as a
/// decimal: at most 8 places, exactly what the wire said for any quantity or price IB uses.
pub fn decimal(x: f64, what: &'static str, id: &str) -> Result<Decimal, ParseError> {
    Decimal::try_from(x)
        .map(|d| d.round_dp(8).normalize())
        .map_err(|_| ParseError::Unknown {
            venue: VENUE,
            what: "number",
            id: id.to_string(),
            field: what,
            value: x.to_string(),
            known: "a finite decimal",
        })
}

/// Our client order id of an IB order: its `orderRef`; an order placed elsewhere (TWS, the
/// mobile app) without one is named by its permanent id, so it reads as foreign.
pub fn client_order_id(order_ref: &str, perm_id: i64) -> ClientOrderId {
    if order_ref.is_empty() {
        ClientOrderId(format!("ib-perm-{perm_id}"))
    } else {
        ClientOrderId(order_ref.to_string())
    }
}

pub fn side(a: &Action, id: &str) -> Result<Side, ParseError> {
    match a {
        Action::Buy => Ok(Side::Buy),
        Action::Sell | Action::SellLong => Ok(Side::Sell),
        Action::SellShort => Err(ParseError::Unsupported {
            venue: VENUE,
            id: id.to_string(),
            why: "a short sale (SSHORT) is not an order systrade places or adopts",
        }),
    }
}

pub fn exec_side(s: &ExecutionSide) -> Side {
    match s {
        ExecutionSide::Sold => Side::Sell,
        ExecutionSide::Bought => Side::Buy,
    }
}

pub fn order_type(o: &Order, id: &str) -> Result<OrderType, ParseError> {
    let price = |p: Option<f64>, field: &'static str| -> Result<Decimal, ParseError> {
        match p {
            Some(x) if x.is_finite() && x > 0.0 && x < f64::MAX => decimal(x, field, id),
            other => Err(ParseError::Unknown {
                venue: VENUE,
                what: "order",
                id: id.to_string(),
                field,
                value: format!("{other:?}"),
                known: "a positive price",
            }),
        }
    };
    Ok(match o.order_type.as_str() {
        "MKT" => OrderType::Market,
        "LMT" => OrderType::Limit {
            limit: price(o.limit_price, "lmtPrice")?,
        },
        "STP" => OrderType::Stop {
            stop: price(o.aux_price, "auxPrice")?,
        },
        "STP LMT" => OrderType::StopLimit {
            stop: price(o.aux_price, "auxPrice")?,
            limit: price(o.limit_price, "lmtPrice")?,
        },
        other => {
            return Err(ParseError::Unknown {
                venue: VENUE,
                what: "order",
                id: id.to_string(),
                field: "orderType",
                value: other.to_string(),
                known: "MKT, LMT, STP, STP LMT",
            });
        }
    })
}

pub fn tif(t: &IbTif, id: &str) -> Result<TimeInForce, ParseError> {
    match t {
        IbTif::Day => Ok(TimeInForce::Day),
        IbTif::GoodTillCanceled => Ok(TimeInForce::Gtc),
        IbTif::ImmediateOrCancel => Ok(TimeInForce::Ioc),
        other => Err(ParseError::Unknown {
            venue: VENUE,
            what: "order",
            id: id.to_string(),
            field: "tif",
            value: format!("{other:?}"),
            known: "DAY, GTC, IOC",
        }),
    }
}

pub fn to_ib_tif(t: TimeInForce) -> IbTif {
    match t {
        TimeInForce::Day => IbTif::Day,
        TimeInForce::Gtc => IbTif::GoodTillCanceled,
        TimeInForce::Ioc => IbTif::ImmediateOrCancel,
    }
}

/// An order's lifecycle from IB's status and what filled. IB tells a day order that expired
/// from one canceled only in the completed order's text (`Cancelled by System`).
pub fn status(
    kind: &OrderStatusKind,
    filled: Decimal,
    completed: Option<&str>,
    id: &str,
) -> Result<OrderStatus, ParseError> {
    use OrderStatusKind as K;
    Ok(match kind {
        K::ApiPending | K::PendingSubmit => OrderStatus::Submitted,
        K::PreSubmitted | K::Submitted | K::PendingCancel => {
            if filled > Decimal::ZERO {
                OrderStatus::PartiallyFilled
            } else {
                OrderStatus::Accepted
            }
        }
        K::Filled => OrderStatus::Filled,
        K::Cancelled | K::ApiCancelled => {
            if completed.is_some_and(|c| c.contains("by System")) {
                OrderStatus::Expired
            } else {
                OrderStatus::Canceled
            }
        }
        K::Inactive => OrderStatus::Rejected,
        #[allow(unreachable_patterns)]
        other => {
            return Err(ParseError::Unknown {
                venue: VENUE,
                what: "order",
                id: id.to_string(),
                field: "status",
                value: format!("{other:?}"),
                known: "PendingSubmit, PreSubmitted, Submitted, Filled, Cancelled, Inactive",
            });
        }
    })
}

pub fn symbol(s: &str, id: &str) -> Result<Symbol, ParseError> {
    Symbol::new(s.to_string()).map_err(|e| ParseError::Symbol {
        venue: VENUE,
        what: "contract",
        id: id.to_string(),
        value: s.to_string(),
        problem: e.to_string(),
    })
}

/// The day of an IB time (`20240105 09:30:00 US/Eastern`, `20240105-14:30:00`, `20240105`).
pub fn day_of(t: &str, what: &'static str, id: &str) -> Result<NaiveDate, ParseError> {
    t.get(..8)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok())
        .ok_or_else(|| ParseError::Time {
            venue: VENUE,
            what,
            id: id.to_string(),
            field: "time",
            value: t.to_string(),
        })
}

/// The execution id without its revision (`0000e0d5.65f1.01.01` → `0000e0d5.65f1.01`) and
/// the revision: IB corrects an execution by sending it again with the next revision.
pub fn exec_revision(exec_id: &str) -> (&str, u32) {
    match exec_id.rsplit_once('.') {
        Some((base, rev)) if rev.len() == 2 => match rev.parse::<u32>() {
            Ok(r) => (base, r),
            Err(_) => (exec_id, 0),
        },
        _ => (exec_id, 0),
    }
}

/// The date and the shares of an execution, checked.
pub fn execution_day(e: &Execution) -> Result<NaiveDate, ParseError> {
    day_of(&e.time, "execution", &e.execution_id)
}

/// The session a wall-clock time in New York belongs to: the day itself when it trades and it
/// is before 16:00, else the US calendar's next trading day (weekends and holidays skipped).
pub fn session_of(t: NaiveDateTime) -> NaiveDate {
    let cal = systrade_core::Market::Us.calendar();
    let d = t.date();
    let before_close = t.time() < chrono::NaiveTime::from_hms_opt(16, 0, 0).unwrap_or_default();
    if before_close && cal.is_trading_day(d) {
        d
    } else {
        cal.next_trading_day(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_statuses_times_and_revisions_read_as_ib_sends_them() {
        let k = OrderStatusKind::PreSubmitted;
        assert_eq!(
            status(&k, Decimal::ZERO, None, "x").unwrap(),
            OrderStatus::Accepted
        );
        assert_eq!(
            status(&OrderStatusKind::Submitted, Decimal::ONE, None, "x").unwrap(),
            OrderStatus::PartiallyFilled
        );
        assert_eq!(
            status(
                &OrderStatusKind::Cancelled,
                Decimal::ZERO,
                Some("Cancelled by System"),
                "x"
            )
            .unwrap(),
            OrderStatus::Expired
        );
        assert_eq!(
            status(&OrderStatusKind::Cancelled, Decimal::ZERO, None, "x").unwrap(),
            OrderStatus::Canceled
        );
        assert_eq!(
            status(&OrderStatusKind::Inactive, Decimal::ZERO, None, "x").unwrap(),
            OrderStatus::Rejected
        );
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            day_of("20240105 09:30:00 US/Eastern", "e", "x").unwrap(),
            d("2024-01-05")
        );
        assert_eq!(
            day_of("20240105-14:30:00", "e", "x").unwrap(),
            d("2024-01-05")
        );
        assert!(day_of("2024-01-05", "e", "x").is_err());
        assert_eq!(
            exec_revision("0000e0d5.65f1.01.02"),
            ("0000e0d5.65f1.01", 2)
        );
        assert_eq!(exec_revision("abc"), ("abc", 0));
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        assert_eq!(session_of(at("2024-01-05 08:00")), d("2024-01-05"));
        assert_eq!(session_of(at("2024-01-05 16:00")), d("2024-01-08"));
        assert_eq!(session_of(at("2024-01-06 10:00")), d("2024-01-08"));
        assert_eq!(client_order_id("", 77).0, "ib-perm-77");
        assert_eq!(client_order_id("st-1", 77).0, "st-1");
        assert_eq!(decimal(101.37, "p", "x").unwrap().to_string(), "101.37");
    }
}
