//! `configs/bucket_a.toml` and friends: the monthly ranked rotation (bucket A, safe S&P;
//! the W3 top-N momentum).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use systrade_rotation::RotationParams;

/// Where the prices come from; paths are relative to the config file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationData {
    /// A folder of vendor files, a database or one file (`--data` overrides).
    pub source: PathBuf,
    /// Only these names (default: every daily series in the source).
    #[serde(default)]
    pub tickers: Option<Vec<String>>,
    /// `none` (raw closes), `split` or `total` (dividends reinvested: momentum on total
    /// return).
    #[serde(default = "default_adjust")]
    pub adjust: String,
    #[serde(default = "default_market")]
    pub market: String,
    /// A row with a value problem: `flag` (kept out of decisions, the default), `skip`,
    /// `fail`, or `keep` (the file as given — for parity with other engines).
    #[serde(default = "default_bad_row")]
    pub on_bad_row: String,
}

fn default_adjust() -> String {
    "total".into()
}

fn default_market() -> String {
    "us".into()
}

fn default_bad_row() -> String {
    "flag".into()
}

/// The backtest's cash and window.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RotationBacktest {
    pub cash: f64,
    pub start: Option<chrono::NaiveDate>,
    pub end: Option<chrono::NaiveDate>,
}

impl Default for RotationBacktest {
    fn default() -> Self {
        RotationBacktest {
            cash: 100_000.0,
            start: None,
            end: None,
        }
    }
}

/// The optional news input (`[news]`): a name not held whose news sentiment over the last
/// `news_days` is below `news_block` gets no new entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewsSection {
    /// A JSON file in Alpha Vantage's `NEWS_SENTIMENT` shape (`{"feed": [...]}`), or a market
    /// database holding news fetched by `systrade data fetch --news`; relative to the config.
    pub source: PathBuf,
    /// The window, in calendar days ending on the decision date.
    #[serde(default = "default_news_days")]
    pub news_days: u32,
    /// The relevance-weighted mean sentiment below which a new entry is refused (Alpha
    /// Vantage calls −0.15 and below "somewhat bearish").
    #[serde(default = "default_news_block")]
    pub news_block: f64,
    /// Articles less relevant to the name than this are left out.
    #[serde(default)]
    pub min_relevance: f64,
}

fn default_news_days() -> u32 {
    7
}

fn default_news_block() -> f64 {
    -0.15
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationConfig {
    pub strategy: String,
    pub data: RotationData,
    #[serde(default)]
    pub rotation: RotationParams,
    #[serde(default)]
    pub backtest: RotationBacktest,
    /// The limits: the backtest applies `max_positions`, `drawdown_throttle`,
    /// `drawdown_scale` and `drawdown_block`; the daily run's gates every key.
    #[serde(default)]
    pub safety: systrade_risk::SafetyLimits,
    /// The daily run: broker, account, paper cash, name.
    #[serde(default)]
    pub run: super::run::RunSection,
    #[serde(default)]
    pub decisions: super::run::DecisionsSection,
    #[serde(default)]
    pub execution: super::run::ExecutionSection,
    #[serde(default)]
    pub news: Option<NewsSection>,
}

impl RotationConfig {
    /// Parses and validates; every error names the file and the key.
    pub fn parse(path: &Path, text: &str) -> Result<Self, String> {
        super::parse(path, text, RotationConfig::validate)
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        RotationConfig::parse(path, &super::read(path)?)
    }

    fn validate(&self) -> Result<(), String> {
        if self.strategy != "rotation" {
            return Err(format!(
                "strategy: expected \"rotation\", got {:?}",
                self.strategy
            ));
        }
        let d = &self.data;
        if !matches!(d.adjust.as_str(), "none" | "split" | "total") {
            return Err(format!(
                "data.adjust: expected none, split or total (got {:?})",
                d.adjust
            ));
        }
        if !matches!(d.market.as_str(), "us" | "b3" | "crypto") {
            return Err(format!(
                "data.market: expected us, b3 or crypto (got {:?})",
                d.market
            ));
        }
        if !matches!(d.on_bad_row.as_str(), "flag" | "skip" | "fail" | "keep") {
            return Err(format!(
                "data.on_bad_row: expected flag, skip, fail or keep (got {:?})",
                d.on_bad_row
            ));
        }
        if let Some(t) = &d.tickers {
            if t.is_empty() {
                return Err("data.tickers: empty (leave it out to use every series)".into());
            }
            for s in t {
                systrade_core::Symbol::new(s).map_err(|e| format!("data.tickers: {e}"))?;
            }
        }
        crate::check_windows(&[
            ("rotation.lookback", self.rotation.lookback as u64),
            ("rotation.trend_sma", self.rotation.trend_sma as u64),
            ("rotation.regime_sma", self.rotation.regime_sma as u64),
            ("rotation.corr_window", self.rotation.corr_window as u64),
            ("rotation.vol_window", self.rotation.vol_window as u64),
        ])?;
        self.rotation.validate()?;
        if let Some(n) = &self.news {
            if n.news_days == 0 {
                return Err("news.news_days: must be at least 1".into());
            }
            if !(n.news_block.is_finite() && (-1.0..=1.0).contains(&n.news_block)) {
                return Err(format!(
                    "news.news_block: a sentiment between -1 and 1 (got {})",
                    n.news_block
                ));
            }
            if !(0.0..=1.0).contains(&n.min_relevance) {
                return Err(format!(
                    "news.min_relevance: between 0 and 1 (got {})",
                    n.min_relevance
                ));
            }
        }
        self.safety.validate()?;
        self.run.validate()?;
        self.decisions.validate()?;
        self.execution.validate()?;
        let b = &self.backtest;
        if !(b.cash.is_finite() && b.cash > 0.0) {
            return Err(format!("backtest.cash: must be positive (got {})", b.cash));
        }
        if let (Some(a), Some(z)) = (b.start, b.end)
            && a > z
        {
            return Err(format!("backtest.start: {a} is after backtest.end {z}"));
        }
        Ok(())
    }

    /// `data.source`, relative to the config file's folder.
    pub fn source(&self, config: &Path) -> PathBuf {
        super::resolve(config, &self.data.source)
    }

    /// The read flags, with this file's adjustment, market and bad-row policy where the
    /// flags leave them open.
    pub fn parse_options(&self, read: &crate::ReadOptions) -> systrade_data::ParseOptions {
        let mut opts = read.parse.clone();
        if !read.adjust_given {
            opts.adjust = systrade_data::Adjust::parse(&self.data.adjust).unwrap_or_default();
        }
        if opts.market.is_none() {
            opts.market = match self.data.market.as_str() {
                "b3" => Some(systrade_core::Market::B3),
                "crypto" => Some(systrade_core::Market::Crypto),
                _ => Some(systrade_core::Market::Us),
            };
        }
        if opts.on_bad_row == systrade_data::BadRowPolicy::default() {
            opts.on_bad_row = match self.data.on_bad_row.as_str() {
                "skip" => systrade_data::BadRowPolicy::Skip,
                "fail" => systrade_data::BadRowPolicy::Fail,
                "keep" => systrade_data::BadRowPolicy::Keep,
                _ => systrade_data::BadRowPolicy::Flag,
            };
        }
        opts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_rotation_config_defaults_and_refusals() {
        let p = Path::new("a.toml");
        let c =
            RotationConfig::parse(p, "strategy = \"rotation\"\n[data]\nsource = \"x\"\n").unwrap();
        assert_eq!(c.rotation, RotationParams::default());
        assert_eq!(c.rotation.top_n, 3);
        assert_eq!(c.data.adjust, "total");
        for (text, msg) in [
            ("[rotation]\ntop_n = 0\n", "rotation.top_n"),
            (
                "[news]\nsource = \"n.json\"\nnews_days = 0\n",
                "news.news_days",
            ),
            (
                "[news]\nsource = \"n.json\"\nnews_block = -2.0\n",
                "news.news_block",
            ),
            ("[news]\nsourc = \"n.json\"\n", "sourc"),
            ("[rotation]\nskip = 300\n", "rotation.skip"),
            ("[rotation]\nmax_corr = 1.5\n", "rotation.max_corr"),
            ("[rotation]\nweighting = \"kelly\"\n", "weighting"),
            ("[rotation]\nlookbak = 5\n", "lookbak"),
            ("[data]\non_bad_row = \"maybe\"\n", "data.on_bad_row"),
            ("[backtest]\ncash = 0\n", "backtest.cash"),
        ] {
            let text = if text.starts_with("[data]") {
                format!("strategy = \"rotation\"\n{text}source = \"x\"\n")
            } else {
                format!("strategy = \"rotation\"\n[data]\nsource = \"x\"\n{text}")
            };
            let e = RotationConfig::parse(p, &text).unwrap_err();
            assert!(e.contains(msg), "{text}: {e}");
            assert!(e.starts_with("a.toml"), "{e}");
        }
    }
}
