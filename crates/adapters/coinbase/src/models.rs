//! The venue's JSON, field for field (`broker-apis.md` §2). Decimals are strings on the
//! wire and stay exact here; unknown fields are ignored, missing required ones are errors.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `{"value": "1.23", "currency": "BTC"}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Balance {
    pub value: Decimal,
    pub currency: String,
}

/// One wallet of `GET /accounts`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Account {
    pub uuid: String,
    pub name: String,
    pub currency: String,
    pub available_balance: Balance,
    /// What open orders hold.
    pub hold: Balance,
    pub active: bool,
    #[serde(default)]
    pub ready: bool,
    #[serde(rename = "type")]
    pub account_type: String,
    #[serde(default)]
    pub retail_portfolio_id: Option<String>,
}

/// A page of `GET /accounts`: more while `has_next`, from `cursor`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AccountsPage {
    pub accounts: Vec<Account>,
    pub has_next: bool,
    pub cursor: String,
}

/// A candle of `GET /products/{id}/candles` (all strings; `start` in UNIX seconds).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Candle {
    pub start: String,
    pub low: Decimal,
    pub high: Decimal,
    pub open: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
}

/// `GET /products/{id}/candles`: newest first.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Candles {
    pub candles: Vec<Candle>,
}

/// The fields of one `order_configuration` entry (which fields are set depends on its key).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_size: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_size: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_price: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_price: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_direction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
}

/// An order of `GET /orders/historical/{id}` and `…/batch`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Order {
    pub order_id: String,
    pub product_id: String,
    /// Exactly one key (`market_market_ioc`, `limit_limit_gtc`, …).
    pub order_configuration: BTreeMap<String, OrderConfig>,
    pub side: String,
    pub client_order_id: String,
    pub status: String,
    pub time_in_force: String,
    pub created_time: String,
    pub filled_size: Decimal,
    pub average_filled_price: Decimal,
    pub total_fees: Decimal,
    pub order_type: String,
    #[serde(default)]
    pub trigger_status: Option<String>,
    #[serde(default)]
    pub reject_reason: Option<String>,
    #[serde(default)]
    pub reject_message: Option<String>,
}

/// `GET /orders/historical/{id}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OrderEnvelope {
    pub order: Order,
}

/// A page of `GET /orders/historical/batch`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OrdersPage {
    pub orders: Vec<Order>,
    pub has_next: bool,
    pub cursor: String,
}

/// One execution of `GET /orders/historical/fills`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Fill {
    pub entry_id: String,
    pub trade_id: String,
    pub order_id: String,
    pub trade_time: String,
    pub trade_type: String,
    pub price: Decimal,
    pub size: Decimal,
    pub commission: Decimal,
    pub product_id: String,
    pub size_in_quote: bool,
    pub side: String,
}

/// A page of `GET /orders/historical/fills`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FillsPage {
    pub fills: Vec<Fill>,
    #[serde(default)]
    pub cursor: String,
}

/// `POST /orders` body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateOrder {
    pub client_order_id: String,
    pub product_id: String,
    pub side: &'static str,
    pub order_configuration: BTreeMap<&'static str, OrderConfig>,
}

/// The venue's error object, in a failed create and in 4xx bodies.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub error_details: String,
}

/// `POST /orders` answer (HTTP 200 also when the order failed).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CreateResponse {
    pub success: bool,
    #[serde(default)]
    pub success_response: Option<CreateSuccess>,
    #[serde(default)]
    pub error_response: Option<CreateFailure>,
    #[serde(default)]
    pub failure_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CreateSuccess {
    pub order_id: String,
    pub product_id: String,
    pub side: String,
    pub client_order_id: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CreateFailure {
    pub error: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub error_details: String,
    #[serde(default)]
    pub new_order_failure_reason: Option<String>,
}

/// One portfolio of `GET /portfolios`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Portfolio {
    pub name: String,
    pub uuid: String,
    #[serde(rename = "type")]
    pub portfolio_type: String,
    #[serde(default)]
    pub deleted: bool,
}

/// `GET /portfolios`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Portfolios {
    pub portfolios: Vec<Portfolio>,
}

/// `GET /portfolios/{uuid}`: the totals and spot positions (their numbers are JSON
/// numbers, not strings — only the cost basis is exact).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BreakdownEnvelope {
    pub breakdown: Breakdown,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Breakdown {
    pub portfolio: Portfolio,
    pub portfolio_balances: PortfolioBalances,
    #[serde(default)]
    pub spot_positions: Vec<SpotPosition>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PortfolioBalances {
    pub total_balance: Balance,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SpotPosition {
    pub asset: String,
    pub cost_basis: Balance,
    #[serde(default)]
    pub is_cash: bool,
}

/// `GET /products/{product_id}`: what sizes and prices the product takes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Product {
    pub product_id: String,
    #[serde(default)]
    pub price: Option<Decimal>,
    pub base_increment: Decimal,
    pub quote_increment: Decimal,
    #[serde(default)]
    pub base_min_size: Option<Decimal>,
    #[serde(default)]
    pub trading_disabled: bool,
}

/// `POST /orders/preview` body (a create without its client order id).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviewOrder {
    pub product_id: String,
    pub side: &'static str,
    pub order_configuration: BTreeMap<&'static str, OrderConfig>,
}

/// `POST /orders/preview` answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PreviewResponse {
    #[serde(default)]
    pub commission_total: Option<Decimal>,
    #[serde(default)]
    pub errs: Vec<String>,
    #[serde(default)]
    pub best_bid: Option<Decimal>,
    #[serde(default)]
    pub best_ask: Option<Decimal>,
}

/// `POST /orders/batch_cancel` answer: one result per id.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CancelResults {
    pub results: Vec<CancelResult>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CancelResult {
    pub success: bool,
    #[serde(default)]
    pub failure_reason: Option<String>,
    pub order_id: String,
}
