//! Helpers for tests that read `../shared` (real data and reference fixtures). On a machine
//! without it they print one skip line and let the test return early, so `cargo test` passes
//! anywhere (DESIGN §8).

use std::path::PathBuf;

use systrade_core::DailyBar;
use systrade_data::parse::Content;
use systrade_data::{Adjust, ParseOptions, parse_file};

/// `../shared/<rel>` beside the workspace, or `None` after printing a skip line.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        println!(
            "skip: {} not found (real-data test needs ../shared beside the checkout)",
            p.display()
        );
        None
    }
}

/// The data file (relative to `../shared`) a fixture symbol was computed from.
pub fn fixture_source(symbol: &str) -> String {
    match symbol {
        "SPY" | "XLK" | "XLE" | "XLB" | "XLF" | "XLI" | "XLP" | "XLU" | "XLV" | "XLY" | "XLC"
        | "AGG" => {
            format!("data/us_etf_daily_yahoo/{symbol}.csv")
        }
        s if s.ends_with("USDT") => format!("data/crypto_binance_spot/1d/{symbol}_1d.csv"),
        _ => format!("data/sp500_daily_alphavantage/daily/{symbol}.csv"),
    }
}

/// The daily bars of a file under `../shared` as the fixtures read them: the file's own
/// columns (no adjustment), rows with value problems kept out (the partial Binance candle).
/// Panics when the file is missing or not a daily price file: callers check [`shared`] first.
pub fn raw_daily(rel: &str) -> Vec<DailyBar> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel);
    let parsed = parse_file(
        &path,
        &ParseOptions {
            adjust: Adjust::None,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{rel}: {e}"));
    match parsed.content {
        Content::Prices(p) => p
            .bars
            .daily()
            .unwrap_or_else(|| panic!("{rel}: not daily"))
            .to_vec(),
        other => panic!("{rel}: not a price file: {}", other.kind()),
    }
}
