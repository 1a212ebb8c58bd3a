//! The venue's JSON, field for field (`broker-apis.md` §1). Decimals are strings on the
//! wire and stay exact here; unknown fields are ignored, missing required ones are errors.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `GET /v2/account`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Account {
    pub id: String,
    pub account_number: String,
    pub status: String,
    pub currency: String,
    pub cash: Decimal,
    pub buying_power: Decimal,
    pub equity: Decimal,
    #[serde(default)]
    pub multiplier: Option<Decimal>,
    pub trading_blocked: bool,
    pub account_blocked: bool,
    #[serde(default)]
    pub shorting_enabled: bool,
}

/// `GET /v2/clock`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Clock {
    pub timestamp: String,
    pub is_open: bool,
    pub next_open: String,
    pub next_close: String,
}

/// One element of `GET /v2/positions`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Position {
    pub symbol: String,
    pub asset_class: String,
    pub avg_entry_price: Decimal,
    /// Negative for a short position.
    pub qty: Decimal,
    /// `qty` less what open orders hold.
    pub qty_available: Decimal,
    pub side: String,
    pub market_value: Option<Decimal>,
    pub current_price: Option<Decimal>,
}

/// An order as the venue reports it (`POST /v2/orders`, `GET /v2/orders…`, the body of a
/// 207 item).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Order {
    pub id: String,
    pub client_order_id: String,
    pub created_at: String,
    pub submitted_at: Option<String>,
    pub filled_at: Option<String>,
    pub symbol: String,
    pub asset_class: String,
    /// `null` for a notional order.
    pub qty: Option<Decimal>,
    pub notional: Option<Decimal>,
    pub filled_qty: Decimal,
    pub filled_avg_price: Option<Decimal>,
    #[serde(rename = "type")]
    pub order_type: String,
    pub side: String,
    pub time_in_force: String,
    pub limit_price: Option<Decimal>,
    pub stop_price: Option<Decimal>,
    pub status: String,
    #[serde(default)]
    pub replaced_by: Option<String>,
    #[serde(default)]
    pub replaces: Option<String>,
}

/// `POST /v2/orders` body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewOrder {
    pub symbol: String,
    /// Decimal string, as the venue wants it.
    pub qty: String,
    pub side: &'static str,
    #[serde(rename = "type")]
    pub order_type: &'static str,
    pub time_in_force: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_price: Option<String>,
    pub client_order_id: String,
}

/// One `FILL` of `GET /v2/account/activities`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FillActivity {
    /// `<yyyymmddhhmmssmmm>::<uuid>`: the page token of the next page when last.
    pub id: String,
    pub activity_type: String,
    pub transaction_time: String,
    /// `fill` or `partial_fill`.
    #[serde(rename = "type")]
    pub fill_type: String,
    pub price: Decimal,
    pub qty: Decimal,
    pub side: String,
    pub symbol: String,
    pub order_id: String,
    pub cum_qty: Decimal,
    pub leaves_qty: Decimal,
    pub order_status: String,
}

/// The venue's error body: `{"code": 40310000, "message": "…", …context}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ApiError {
    #[serde(default)]
    pub code: Option<u64>,
    pub message: String,
}

/// One element of a 207 multi-status answer (`DELETE /v2/orders`, `DELETE /v2/positions`):
/// per order or symbol, an HTTP status and, when it failed or returned an order, a body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MultiStatus {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub symbol: Option<String>,
    pub status: u16,
    #[serde(default)]
    pub body: Option<serde_json::Value>,
}

/// A bar of market data v2 (numbers, not strings, on this API).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Bar {
    pub t: String,
    pub o: f64,
    pub h: f64,
    pub l: f64,
    pub c: f64,
    pub v: f64,
    pub n: u64,
    pub vw: f64,
}

/// A page of `GET /v2/stocks/bars` or `/v1beta3/crypto/us/bars`: bars by symbol, then the
/// token of the next page (`null` on the last).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BarsPage {
    pub bars: BTreeMap<String, Vec<Bar>>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}
