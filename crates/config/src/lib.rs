//! Run configuration files (TOML). Every spec parameter is a key with the spec's default;
//! unknown keys are refused with their name.

pub mod avwap;
pub mod book;
pub mod feed;
pub mod momentum;
pub mod overrides;
pub mod portfolio;
pub mod rotation;
pub mod run;
pub mod trend;

use std::path::{Path, PathBuf};

/// How price files are read: the parse options the user asked for, and whether the
/// adjustment was given explicitly (otherwise a config's `data.adjust` decides).
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub parse: systrade_data::ParseOptions,
    /// `--adjust` was given: it wins over the config's `data.adjust`.
    pub adjust_given: bool,
}

/// The kind of a strategy config, from its `strategy` key: parsed once, then matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StrategyKind {
    Trend,
    Momentum,
    /// The anchored-VWAP system (spec/avwap.md).
    Avwap,
    /// Monthly ranked rotation (bucket A, spec/execution-and-buckets.md §3).
    Rotation,
    /// A portfolio of buckets, each a strategy config with its capital and limits.
    Portfolio,
    /// A book traded from trade sheets: no daily decision, only staging and approvals.
    Sheet,
    /// A feed bucket (C, low-float; D, unusual options): alerts from a CSV.
    Feed,
}

impl StrategyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::Trend => "trend",
            StrategyKind::Momentum => "momentum",
            StrategyKind::Avwap => "avwap",
            StrategyKind::Rotation => "rotation",
            StrategyKind::Portfolio => "portfolio",
            StrategyKind::Sheet => "sheet",
            StrategyKind::Feed => "feed",
        }
    }

    /// The kind of the config at `path`: its `strategy` key, which must name a known kind.
    pub fn of(path: &Path) -> Result<StrategyKind, String> {
        let v: toml::Table = parse(path, &read(path)?, |_| Ok(()))?;
        match v.get("strategy").and_then(|s| s.as_str()) {
            Some("trend") => Ok(StrategyKind::Trend),
            Some("momentum") => Ok(StrategyKind::Momentum),
            Some("avwap") => Ok(StrategyKind::Avwap),
            Some("rotation") => Ok(StrategyKind::Rotation),
            Some("portfolio") => Ok(StrategyKind::Portfolio),
            Some("sheet") => Ok(StrategyKind::Sheet),
            Some("feed") => Ok(StrategyKind::Feed),
            Some(other) => Err(format!(
                "{}: strategy: unknown {other:?} (\"trend\", \"momentum\", \"avwap\", \"rotation\", \"feed\", \"portfolio\" or \"sheet\")",
                path.display()
            )),
            None => Err(format!(
                "{}: strategy: missing (\"trend\", \"momentum\", \"avwap\", \"rotation\", \"feed\", \"portfolio\" or \"sheet\")",
                path.display()
            )),
        }
    }
}

/// The longest window or count a config key may ask for: 10,000 sessions (40 years of
/// daily bars; 27 years of crypto). Longer asks for memory no data can fill, so it is bad
/// input rather than an allocation failure halfway through a run.
pub const MAX_WINDOW: u64 = 10_000;

/// Every `(key, value)` window or count must be at most [`MAX_WINDOW`]; the error names the
/// key.
pub fn check_windows(keys: &[(&str, u64)]) -> Result<(), String> {
    for (key, v) in keys {
        if *v > MAX_WINDOW {
            return Err(format!(
                "{key}: {v} is longer than any data can use (at most {MAX_WINDOW} sessions)"
            ));
        }
    }
    Ok(())
}

/// Parses a config text and validates it; every error starts with the file's path and names
/// the key.
pub fn parse<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
    validate: impl FnOnce(&T) -> Result<(), String>,
) -> Result<T, String> {
    let cfg: T = toml::from_str(text)
        .map_err(|e| format!("{}: {}", path.display(), e.to_string().trim()))?;
    validate(&cfg).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(cfg)
}

/// Reads a config file's text.
pub fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The providers `data.refresh` may name.
pub const PROVIDERS: [&str; 5] = ["alpaca", "coinbase", "binance", "yahoo", "alphavantage"];

/// `data.refresh` must name a known provider.
pub fn check_refresh(refresh: Option<&str>) -> Result<(), String> {
    match refresh {
        Some(p) if !PROVIDERS.contains(&p) => Err(format!(
            "data.refresh: unknown provider {p:?} ({})",
            PROVIDERS.join(", ")
        )),
        _ => Ok(()),
    }
}

/// What a strategy config trades and where its prices live: what `data fetch --config`
/// and the daily run's refresh fetch.
#[derive(Debug, Clone, PartialEq)]
pub struct Universe {
    /// The tickers, in the config's order.
    pub tickers: Vec<String>,
    /// `data.market`, when the config says.
    pub market: Option<systrade_core::Market>,
    /// `data.adjust`.
    pub adjust: systrade_data::Adjust,
    /// `data.source`, resolved against the config's folder.
    pub source: PathBuf,
    /// `data.refresh`: the provider the daily run fetches from.
    pub refresh: Option<String>,
}

fn market_of(m: &str) -> Option<systrade_core::Market> {
    match m {
        "us" => Some(systrade_core::Market::Us),
        "b3" => Some(systrade_core::Market::B3),
        "crypto" => Some(systrade_core::Market::Crypto),
        _ => None,
    }
}

/// The universe of the strategy config at `path` (trend: every sleeve's tickers; momentum:
/// `data.tickers`, empty when it does not name them). A sheet book has none.
pub fn universe(path: &Path) -> Result<Universe, String> {
    let adjust = |a: &str| systrade_data::Adjust::parse(a).unwrap_or_default();
    match StrategyKind::of(path)? {
        StrategyKind::Trend => {
            let c = trend::TrendConfig::load(path)?;
            let mut tickers: Vec<String> = Vec::new();
            for s in c.sleeves.values() {
                for t in &s.tickers {
                    if !tickers.contains(t) {
                        tickers.push(t.clone());
                    }
                }
            }
            Ok(Universe {
                tickers,
                market: c.data.market.as_deref().and_then(market_of),
                adjust: adjust(&c.data.adjust),
                source: c.source(path),
                refresh: c.data.refresh.clone(),
            })
        }
        StrategyKind::Momentum => {
            let c = momentum::MomentumConfig::load(path)?;
            Ok(Universe {
                tickers: c.data.tickers.clone().unwrap_or_default(),
                market: market_of(&c.data.market),
                adjust: adjust(&c.data.adjust),
                source: resolve(path, &c.data.source),
                refresh: c.data.refresh.clone(),
            })
        }
        StrategyKind::Avwap => {
            let c = avwap::AvwapConfig::load(path)?;
            Ok(Universe {
                tickers: c.data.tickers.clone().unwrap_or_default(),
                market: Some(systrade_core::Market::Us),
                adjust: adjust(&c.data.adjust),
                source: c.source(path),
                refresh: c.data.refresh.clone(),
            })
        }
        StrategyKind::Rotation => {
            let c = rotation::RotationConfig::load(path)?;
            Ok(Universe {
                tickers: c.data.tickers.clone().unwrap_or_default(),
                market: market_of(&c.data.market),
                adjust: adjust(&c.data.adjust),
                source: c.source(path),
                refresh: None,
            })
        }
        StrategyKind::Feed => {
            let c = feed::FeedConfig::load(path)?;
            let file = resolve(path, &c.feed.source);
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("{}: feed.source {}: {e}", path.display(), file.display()))?;
            let alerts =
                systrade_feeds::parse(c.feed.kind, &text, &file.display().to_string(), c.market())?;
            let mut tickers: Vec<String> = Vec::new();
            for a in alerts {
                if !tickers.iter().any(|t| t == a.symbol.as_str()) {
                    tickers.push(a.symbol.to_string());
                }
            }
            Ok(Universe {
                tickers,
                market: Some(c.market()),
                adjust: adjust(&c.data.adjust),
                source: resolve(path, &c.data.source),
                refresh: None,
            })
        }
        StrategyKind::Portfolio => Err(format!(
            "{}: a portfolio has no universe of its own (fetch each bucket's config)",
            path.display()
        )),
        StrategyKind::Sheet => Err(format!(
            "{}: a sheet book has no universe to fetch (its signals file names the tickers)",
            path.display()
        )),
    }
}

/// A path written in a config file: relative paths are relative to the file's folder.
pub fn resolve(config: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        config.parent().unwrap_or(Path::new(".")).join(p)
    }
}
