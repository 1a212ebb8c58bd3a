//! The broker vocabulary: orders and their lifecycle, fills, positions, the account.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};

/// An order's lifecycle: `staged → submitted → accepted → partially_filled → filled |
/// canceled | rejected | expired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Built and recorded, not sent (waiting for approval, or a dry run).
    Staged,
    /// Sent; no answer yet.
    Submitted,
    Accepted,
    PartiallyFilled,
    Filled,
    Canceled,
    Rejected,
    Expired,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::Staged,
        OrderStatus::Submitted,
        OrderStatus::Accepted,
        OrderStatus::PartiallyFilled,
        OrderStatus::Filled,
        OrderStatus::Canceled,
        OrderStatus::Rejected,
        OrderStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Staged => "staged",
            OrderStatus::Submitted => "submitted",
            OrderStatus::Accepted => "accepted",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Canceled => "canceled",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Still working at the broker.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            OrderStatus::Submitted | OrderStatus::Accepted | OrderStatus::PartiallyFilled
        )
    }

    /// Final: nothing more will happen to the order.
    /// The one order lifecycle: staged → sent (submitted, accepted or at once a final
    /// state), canceled or expired; a working order → partly filled, filled, canceled,
    /// rejected or expired; a partly filled one → more fills, canceled or expired. A final
    /// state stays as it is; no order goes back to staged or forward from a final state.
    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        if self == next {
            return true;
        }
        match self {
            Staged => next != Staged,
            Submitted => next != Staged,
            Accepted => !matches!(next, Staged | Submitted),
            PartiallyFilled => matches!(next, Filled | Canceled | Expired),
            Filled | Canceled | Rejected | Expired => false,
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled
                | OrderStatus::Canceled
                | OrderStatus::Rejected
                | OrderStatus::Expired
        )
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an order executes. Protective stops are `Stop` (a market order once triggered) or,
/// where the venue has no stop-market (Coinbase spot), `StopLimit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderType {
    Market,
    /// Fills at `limit` or better.
    Limit {
        limit: Decimal,
    },
    /// Becomes a market order when the price trades through `stop`.
    Stop {
        stop: Decimal,
    },
    /// Becomes a limit order at `limit` when the price trades through `stop`.
    StopLimit {
        stop: Decimal,
        limit: Decimal,
    },
}

impl OrderType {
    pub fn stop_price(&self) -> Option<Decimal> {
        match self {
            OrderType::Market | OrderType::Limit { .. } => None,
            OrderType::Stop { stop } | OrderType::StopLimit { stop, .. } => Some(*stop),
        }
    }

    pub fn limit_price(&self) -> Option<Decimal> {
        match self {
            OrderType::Market | OrderType::Stop { .. } => None,
            OrderType::Limit { limit } | OrderType::StopLimit { limit, .. } => Some(*limit),
        }
    }

    /// The order type of a stop price and a limit price, either optional.
    pub fn of(stop: Option<Decimal>, limit: Option<Decimal>) -> OrderType {
        match (stop, limit) {
            (None, None) => OrderType::Market,
            (None, Some(limit)) => OrderType::Limit { limit },
            (Some(stop), None) => OrderType::Stop { stop },
            (Some(stop), Some(limit)) => OrderType::StopLimit { stop, limit },
        }
    }

    /// A stop order of either kind (what protects a position).
    pub fn is_stop(&self) -> bool {
        matches!(self, OrderType::Stop { .. } | OrderType::StopLimit { .. })
    }

    /// How long the order works when the request does not say: market orders for the
    /// session, protective stops until canceled.
    pub fn default_tif(&self) -> TimeInForce {
        if self.is_stop() {
            TimeInForce::Gtc
        } else {
            TimeInForce::Day
        }
    }
}

/// How long an order works.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeInForce {
    /// Until the end of its session.
    #[default]
    Day,
    /// Until canceled.
    Gtc,
    /// Immediately, what can fill now; the rest is canceled.
    Ioc,
}

impl TimeInForce {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Day => "day",
            TimeInForce::Gtc => "gtc",
            TimeInForce::Ioc => "ioc",
        }
    }

    pub fn parse(s: &str) -> Option<TimeInForce> {
        match s {
            "day" => Some(TimeInForce::Day),
            "gtc" => Some(TimeInForce::Gtc),
            "ioc" => Some(TimeInForce::Ioc),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRequest {
    pub client_order_id: ClientOrderId,
    pub symbol: Symbol,
    pub side: Side,
    /// Units, positive.
    pub qty: Decimal,
    pub order_type: OrderType,
    /// How long it works ([`OrderType::default_tif`] unless the caller says otherwise).
    pub tif: TimeInForce,
    /// The market session the order is for: a market order fills at this session's open
    /// (or the next one the symbol trades); a stop protects from this session on.
    pub session: NaiveDate,
}

/// An order as the broker reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerOrder {
    pub client_order_id: ClientOrderId,
    pub broker_id: String,
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Decimal,
    pub order_type: OrderType,
    pub tif: TimeInForce,
    pub session: NaiveDate,
    pub status: OrderStatus,
    pub filled_qty: Decimal,
    pub avg_price: Option<Decimal>,
    /// Why it was rejected, expired or canceled by the broker.
    pub reason: Option<String>,
}

impl BrokerOrder {
    /// Quantity still working.
    pub fn remaining(&self) -> Decimal {
        (self.qty - self.filled_qty).max(Decimal::ZERO)
    }
}

/// One execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerFill {
    pub fill_id: String,
    pub client_order_id: ClientOrderId,
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Decimal,
    pub price: Decimal,
    pub fee: Decimal,
    /// The session (bar) it executed in.
    pub date: NaiveDate,
}

/// A holding at the broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub symbol: Symbol,
    /// Signed units (negative: short).
    pub qty: Decimal,
    pub avg_price: Decimal,
    /// Units held for open sell orders (stops included): a sell may use only `qty − reserved`.
    pub reserved: Decimal,
}

/// The account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub currency: String,
    pub cash: Decimal,
    /// Cash plus positions at the latest close the broker knows.
    pub equity: Decimal,
    pub paper: bool,
    /// The broker refuses new orders (a blocked or closed account).
    pub trading_blocked: bool,
}

/// What an order would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    pub client_order_id: ClientOrderId,
    pub accepted: bool,
    pub reason: Option<String>,
    pub est_price: Option<Decimal>,
    pub est_fee: Option<Decimal>,
}
