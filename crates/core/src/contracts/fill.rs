use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ClientOrderId;
use crate::{Money, Price, Quantity};

/// One execution of (part of) an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    pub order_id: ClientOrderId,
    pub ts: DateTime<Utc>,
    /// Signed by the order side: positive for buys.
    pub qty: Quantity,
    pub price: Price,
    pub fee: Money,
}
