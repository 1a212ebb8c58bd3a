//! The providers a fetch can use, what each needs from the environment, and the one trait
//! they implement.

use std::time::Duration;

use chrono::{DateTime, Utc};
use systrade_core::{Market, Symbol};
use systrade_data::Adjust;

use crate::error::FetchError;
use crate::http::{DataClient, Rules};
use crate::rows::{BarInterval, Layout, VendorRow};

/// A market-data provider (`--provider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProviderKind {
    Alpaca,
    Coinbase,
    Binance,
    Yahoo,
    AlphaVantage,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 5] = [
        ProviderKind::Alpaca,
        ProviderKind::Coinbase,
        ProviderKind::Binance,
        ProviderKind::Yahoo,
        ProviderKind::AlphaVantage,
    ];

    pub fn parse(s: &str) -> Option<ProviderKind> {
        ProviderKind::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Alpaca => "alpaca",
            ProviderKind::Coinbase => "coinbase",
            ProviderKind::Binance => "binance",
            ProviderKind::Yahoo => "yahoo",
            ProviderKind::AlphaVantage => "alphavantage",
        }
    }

    /// The variable the base URL comes from, and its default.
    pub fn base_var(self) -> (&'static str, &'static str) {
        match self {
            ProviderKind::Alpaca => ("APCA_API_DATA_URL", "https://data.alpaca.markets"),
            ProviderKind::Coinbase => ("SYSTRADE_COINBASE_BASE_URL", "https://api.coinbase.com"),
            ProviderKind::Binance => ("SYSTRADE_BINANCE_BASE_URL", "https://api.binance.com"),
            ProviderKind::Yahoo => (
                "SYSTRADE_YAHOO_BASE_URL",
                "https://query1.finance.yahoo.com",
            ),
            ProviderKind::AlphaVantage => (
                "SYSTRADE_ALPHAVANTAGE_BASE_URL",
                "https://www.alphavantage.co",
            ),
        }
    }

    /// The published request limits: Alpaca's free data plan 200 a minute; Coinbase's
    /// public REST 10 a second; Binance 6,000 request weight a minute (a 1,000-bar klines
    /// call weighs 2: 20 a second keeps far below); Yahoo publishes none (2 a second is
    /// polite); Alpha Vantage's free key 5 a minute (premium keys: `--rate-limit`).
    pub fn rules(self) -> Rules {
        let (n, per) = match self {
            ProviderKind::Alpaca => (200, Duration::from_secs(60)),
            ProviderKind::Coinbase => (10, Duration::from_secs(1)),
            ProviderKind::Binance => (20, Duration::from_secs(1)),
            ProviderKind::Yahoo => (2, Duration::from_secs(1)),
            ProviderKind::AlphaVantage => (5, Duration::from_secs(60)),
        };
        Rules::new(self.as_str(), n, per)
    }

    /// The layout its rows are stored in.
    pub fn layout(self) -> Layout {
        match self {
            ProviderKind::Yahoo => Layout::Yahoo,
            ProviderKind::AlphaVantage => Layout::AlphaVantage,
            _ => Layout::Generic,
        }
    }

    /// Whether the vendor adjusts the stored columns itself, so `--adjust` is asked of it
    /// (Alpaca's `adjustment`) rather than done at import.
    pub fn adjusts_at_source(self) -> bool {
        self == ProviderKind::Alpaca
    }
}

/// A symbol as the store names it and as the vendor does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instrument {
    /// The stored symbol (`AAPL`, `BTCUSDT`, `PETR4`).
    pub symbol: Symbol,
    /// The vendor's id (`AAPL`, `BTC-USDT`, `BTC/USD`, `PETR4.SA`).
    pub remote: String,
    pub market: Market,
}

impl Instrument {
    /// A US equity, named alike by the store and the vendor.
    pub fn us(input: &str) -> Result<Instrument, FetchError> {
        Ok(Instrument {
            symbol: stored(input)?,
            remote: input.to_string(),
            market: Market::Us,
        })
    }
}

/// The quote currencies a pair may end in, longest first.
pub const QUOTES: [&str; 6] = ["USDT", "USDC", "BUSD", "USD", "EUR", "BTC"];

/// `BTC/USD`, `BTC-USD` or `BTCUSD` → (`BTC`, `USD`); `None` for anything that is not a
/// pair.
pub fn pair(input: &str) -> Option<(String, String)> {
    if let Some((b, q)) = input.split_once(['/', '-']) {
        return (!b.is_empty() && !q.is_empty()).then(|| (b.to_string(), q.to_string()));
    }
    QUOTES.iter().find_map(|q| {
        input
            .strip_suffix(q)
            .filter(|b| b.len() >= 2)
            .map(|b| (b.to_string(), q.to_string()))
    })
}

/// A stored symbol, checked.
pub fn stored(s: &str) -> Result<Symbol, FetchError> {
    Symbol::new(s).map_err(|e| FetchError::Usage(format!("symbol {s:?}: {e}")))
}

/// What a provider does.
pub trait Vendor {
    fn kind(&self) -> ProviderKind;

    /// The instrument `input` names (`market`: the config's market, when it says).
    fn resolve(&self, input: &str, market: Option<Market>) -> Result<Instrument, FetchError>;

    /// How many symbols one call may ask for (Alpaca: many; the others: one).
    fn batch(&self) -> usize {
        1
    }

    /// The bars of each instrument that open in `[from, to]`, oldest first, each list in
    /// the order of `which`.
    fn bars(
        &mut self,
        which: &[Instrument],
        interval: BarInterval,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        adjust: Adjust,
    ) -> Result<Vec<Vec<VendorRow>>, FetchError>;

    /// The client (request counts, the vendor's clock).
    fn client(&self) -> &DataClient;

    /// What the last download of `inst` left out or noticed, for the report.
    fn notes(&self, _inst: &Instrument) -> Vec<String> {
        Vec::new()
    }

    /// The Alpha Vantage vendor, for news (no other provider has it).
    fn news(&mut self) -> Option<&mut crate::alphavantage::AlphaVantage> {
        None
    }
}

/// The base URL of `kind`: its variable when set, else the vendor's host.
pub fn base_url(kind: ProviderKind) -> String {
    let (var, default) = kind.base_var();
    std::env::var(var)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// An environment value, registered for redaction as it is read.
pub fn secret(var: &str) -> Option<String> {
    let v = std::env::var(var).ok()?.trim().to_string();
    if v.is_empty() {
        return None;
    }
    systrade_core::redact::register(&v);
    Some(v)
}

/// How a fetch may depart from a vendor's published rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Requests a minute instead of the published limit (a premium key).
    pub rate: Option<u32>,
    /// Attempts per request before a fetch gives up (default 6).
    pub attempts: Option<u32>,
}

/// The vendor for `kind` on its base URL, under `limits`.
pub fn connect(kind: ProviderKind, limits: Limits) -> Result<Box<dyn Vendor>, FetchError> {
    let mut rules = kind.rules();
    if let Some(n) = limits.rate {
        rules.per_window = n.max(1);
        rules.window = Duration::from_secs(60);
    }
    if let Some(a) = limits.attempts {
        rules.attempts = a.max(1);
    }
    let client = DataClient::new(&base_url(kind), rules);
    Ok(match kind {
        ProviderKind::Alpaca => Box::new(crate::alpaca::Alpaca::new(client)),
        ProviderKind::Coinbase => Box::new(crate::coinbase::Coinbase::new(client)),
        ProviderKind::Binance => Box::new(crate::binance::Binance::new(client)),
        ProviderKind::Yahoo => Box::new(crate::yahoo::Yahoo::new(client)),
        ProviderKind::AlphaVantage => Box::new(crate::alphavantage::AlphaVantage::new(client)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_pairs_are_read_in_every_form() {
        assert_eq!(pair("BTC/USD"), Some(("BTC".into(), "USD".into())));
        assert_eq!(pair("ETH-USDT"), Some(("ETH".into(), "USDT".into())));
        assert_eq!(pair("BTCUSDT"), Some(("BTC".into(), "USDT".into())));
        assert_eq!(pair("SOLUSD"), Some(("SOL".into(), "USD".into())));
        assert_eq!(pair("AAPL"), None);
        assert_eq!(pair("USD"), None);
        assert!(
            ProviderKind::ALL
                .iter()
                .all(|p| ProviderKind::parse(p.as_str()) == Some(*p))
        );
    }
}
