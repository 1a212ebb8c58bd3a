//! What people read of a run: charts (SVG and PNG), the HTML tear sheet of a backtest, the
//! daily newsletter (HTML with a plain-text alternative) and its delivery by SMTP, and the
//! Slack and JSON-webhook alerts. Inputs are plain models the caller fills from its
//! contracts; rendering is deterministic (no clock, sorted inputs), so golden files hold.

pub mod chart;
pub mod email;
pub mod format;
pub mod heatmap;
pub mod newsletter;
pub mod tearsheet;
pub mod webhook;

mod templates;

pub use chart::{Chart, Line};

/// Errors of rendering and delivery. Messages never carry a secret (webhook URLs, SMTP
/// passwords): they say what failed, not where to.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("chart {chart}: {message}")]
    Draw { chart: String, message: String },
    #[error("chart {0}: no data to draw")]
    Empty(String),
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
    #[error("{0}")]
    Input(String),
    #[error("writing {path}: {message}")]
    Write { path: String, message: String },
    #[error("email: {0}")]
    Email(String),
}
