//! `configs/bucket_c.toml` and `configs/bucket_d.toml`: a feed bucket (low-float candidates
//! or unusual options) — the feed file, the prices its names trade at, the caps.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use systrade_feeds::{FeedKind, FeedRules};

/// The feed file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSection {
    pub kind: FeedKind,
    /// The CSV, relative to the config file.
    pub source: PathBuf,
}

/// The prices of the names the feed points at.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedData {
    /// A folder of vendor files or a market database (`--data` overrides).
    pub source: PathBuf,
    /// `none`, `split` (the default: prices as traded, split-consistent) or `total`.
    #[serde(default = "default_adjust")]
    pub adjust: String,
    /// `us` (the default) or `crypto`: the calendar and the time zone of the feed's times.
    #[serde(default = "default_market")]
    pub market: String,
}

fn default_adjust() -> String {
    "split".into()
}

fn default_market() -> String {
    "us".into()
}

/// The backtest's cash, window and costs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedBacktest {
    pub cash: f64,
    pub start: Option<chrono::NaiveDate>,
    pub end: Option<chrono::NaiveDate>,
    pub fee_bps: f64,
    /// Small names trade wide: the default half-spread is 25 bps.
    pub slippage_bps: f64,
}

impl Default for FeedBacktest {
    fn default() -> Self {
        FeedBacktest {
            cash: 100_000.0,
            start: None,
            end: None,
            fee_bps: 5.0,
            slippage_bps: 25.0,
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    pub strategy: String,
    pub feed: FeedSection,
    pub data: FeedData,
    #[serde(default)]
    pub rules: FeedRules,
    #[serde(default)]
    pub backtest: FeedBacktest,
    /// A portfolio's limits on the bucket (`max_positions`, the drawdown keys), as the other
    /// buckets' backtests apply them.
    #[serde(default)]
    pub safety: systrade_risk::SafetyLimits,
    /// The daily run: broker, account, paper cash, name.
    #[serde(default)]
    pub run: super::run::RunSection,
    #[serde(default)]
    pub decisions: super::run::DecisionsSection,
    #[serde(default)]
    pub execution: super::run::ExecutionSection,
}

impl FeedConfig {
    pub fn parse(path: &Path, text: &str) -> Result<Self, String> {
        super::parse(path, text, FeedConfig::validate)
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        FeedConfig::parse(path, &super::read(path)?)
    }

    fn validate(&self) -> Result<(), String> {
        if self.strategy != "feed" {
            return Err(format!(
                "strategy: expected \"feed\", got {:?}",
                self.strategy
            ));
        }
        if !matches!(self.data.adjust.as_str(), "none" | "split" | "total") {
            return Err(format!(
                "data.adjust: expected none, split or total (got {:?})",
                self.data.adjust
            ));
        }
        if !matches!(self.data.market.as_str(), "us" | "crypto") {
            return Err(format!(
                "data.market: expected us or crypto (got {:?})",
                self.data.market
            ));
        }
        self.rules.validate()?;
        crate::check_windows(&[
            ("rules.adv_window", self.rules.adv_window as u64),
            ("rules.hold_days", u64::from(self.rules.hold_days)),
        ])?;
        self.safety.validate()?;
        self.run.validate()?;
        self.decisions.validate()?;
        self.execution.validate()?;
        let b = &self.backtest;
        if !(b.cash.is_finite() && b.cash > 0.0) {
            return Err(format!("backtest.cash: must be positive (got {})", b.cash));
        }
        for (k, x) in [("fee_bps", b.fee_bps), ("slippage_bps", b.slippage_bps)] {
            if !(x.is_finite() && x >= 0.0) {
                return Err(format!("backtest.{k}: zero or more (got {x})"));
            }
        }
        if let (Some(a), Some(z)) = (b.start, b.end)
            && a > z
        {
            return Err(format!("backtest.start: {a} is after backtest.end {z}"));
        }
        Ok(())
    }

    pub fn market(&self) -> systrade_core::Market {
        match self.data.market.as_str() {
            "crypto" => systrade_core::Market::Crypto,
            _ => systrade_core::Market::Us,
        }
    }

    /// The read flags with this file's adjustment and market where the flags leave them open.
    pub fn parse_options(&self, read: &crate::ReadOptions) -> systrade_data::ParseOptions {
        let mut opts = read.parse.clone();
        if !read.adjust_given {
            opts.adjust = systrade_data::Adjust::parse(&self.data.adjust).unwrap_or_default();
        }
        if opts.market.is_none() {
            opts.market = Some(self.market());
        }
        opts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_feed_config_defaults_and_refusals() {
        let p = Path::new("c.toml");
        let base = "strategy = \"feed\"\n[feed]\nkind = \"low_float\"\nsource = \"c.csv\"\n[data]\nsource = \"prices\"\n";
        let c = FeedConfig::parse(p, base).unwrap();
        assert_eq!(c.rules, FeedRules::default());
        assert_eq!((c.rules.max_positions, c.rules.hold_days), (5, 5));
        for (extra, msg) in [
            ("[rules]\nposition_pct = 0\n", "rules.position_pct"),
            ("[rules]\nmax_adv_pct = 2\n", "rules.max_adv_pct"),
            ("[rules]\nhold_days = 0\n", "rules.hold_days"),
            ("[rules]\nmax_positons = 3\n", "max_positons"),
            ("[backtest]\ncash = -1\n", "backtest.cash"),
        ] {
            let e = FeedConfig::parse(p, &format!("{base}{extra}")).unwrap_err();
            assert!(e.contains(msg), "{extra}: {e}");
        }
        let e = FeedConfig::parse(p, &base.replace("low_float", "tips")).unwrap_err();
        assert!(e.contains("kind") || e.contains("tips"), "{e}");
    }
}
