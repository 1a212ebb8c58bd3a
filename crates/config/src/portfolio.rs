//! `configs/portfolio.toml`: one portfolio of buckets, each a strategy config with its own
//! capital, position limit, drawdown target and account (spec/execution-and-buckets.md §3).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// What a bucket's drawdown beyond its target does to its new risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnBreach {
    /// New risk scaled by `throttle_scale`.
    Throttle,
    /// No new risk.
    Halt,
}

impl OnBreach {
    pub fn as_str(self) -> &'static str {
        match self {
            OnBreach::Throttle => "throttle",
            OnBreach::Halt => "halt",
        }
    }
}

/// One bucket.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// A short name (`A`, `crypto`): letters, digits, `_` and `-`.
    pub name: String,
    /// What it is, in words.
    #[serde(default)]
    pub label: String,
    /// The strategy config, relative to this file.
    pub config: PathBuf,
    /// Up to 1: a share of the portfolio's capital; above 1: an amount.
    pub capital: f64,
    /// At most this many positions.
    #[serde(default)]
    pub max_positions: Option<usize>,
    /// The drawdown target: beyond it (a fraction below the bucket's peak) new risk is
    /// throttled or halted.
    #[serde(default)]
    pub max_drawdown: Option<f64>,
    #[serde(default = "default_breach")]
    pub on_breach: OnBreach,
    /// New risk is multiplied by this while throttled.
    #[serde(default = "default_scale")]
    pub throttle_scale: f64,
    /// The account it trades in (the name its config's `[run]` broker uses).
    #[serde(default)]
    pub account: String,
}

fn default_breach() -> OnBreach {
    OnBreach::Throttle
}

fn default_scale() -> f64 {
    0.5
}

/// The backtest window of the whole portfolio (each bucket's own when left out).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortfolioBacktest {
    pub start: Option<chrono::NaiveDate>,
    pub end: Option<chrono::NaiveDate>,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortfolioConfig {
    pub strategy: String,
    #[serde(default)]
    pub name: String,
    /// The portfolio's capital; bucket shares are of it.
    pub capital: f64,
    pub buckets: Vec<Bucket>,
    #[serde(default)]
    pub backtest: PortfolioBacktest,
}

impl PortfolioConfig {
    pub fn parse(path: &Path, text: &str) -> Result<Self, String> {
        super::parse(path, text, PortfolioConfig::validate)
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        PortfolioConfig::parse(path, &super::read(path)?)
    }

    fn validate(&self) -> Result<(), String> {
        if self.strategy != "portfolio" {
            return Err(format!(
                "strategy: expected \"portfolio\", got {:?}",
                self.strategy
            ));
        }
        if !(self.capital.is_finite() && self.capital > 0.0) {
            return Err(format!("capital: must be positive (got {})", self.capital));
        }
        if self.buckets.is_empty() {
            return Err("buckets: none (add [[buckets]] with name, config and capital)".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, b) in self.buckets.iter().enumerate() {
            let at = format!("buckets[{i}] ({})", b.name);
            if b.name.is_empty()
                || !b
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(format!(
                    "buckets[{i}].name: {:?} must be letters, digits, _ or -",
                    b.name
                ));
            }
            if !names.insert(b.name.as_str()) {
                return Err(format!("{at}.name: given twice"));
            }
            if !(b.capital.is_finite() && b.capital > 0.0) {
                return Err(format!(
                    "{at}.capital: must be positive (got {})",
                    b.capital
                ));
            }
            if let Some(n) = b.max_positions
                && n == 0
            {
                return Err(format!("{at}.max_positions: at least 1"));
            }
            if let Some(d) = b.max_drawdown
                && !(d.is_finite() && d > 0.0 && d < 1.0)
            {
                return Err(format!("{at}.max_drawdown: a fraction in (0, 1) (got {d})"));
            }
            if !(b.throttle_scale.is_finite() && (0.0..=1.0).contains(&b.throttle_scale)) {
                return Err(format!(
                    "{at}.throttle_scale: in [0, 1] (got {})",
                    b.throttle_scale
                ));
            }
        }
        let total: f64 = self.buckets.iter().map(|b| self.amount(b)).sum();
        if total > self.capital * (1.0 + 1e-9) {
            return Err(format!(
                "buckets: their capital adds up to {total:.2}, more than the portfolio's {:.2}",
                self.capital
            ));
        }
        Ok(())
    }

    /// A bucket's capital as an amount.
    pub fn amount(&self, b: &Bucket) -> f64 {
        if b.capital <= 1.0 {
            b.capital * self.capital
        } else {
            b.capital
        }
    }

    /// A bucket's strategy config, relative to this file.
    pub fn bucket_config(&self, path: &Path, b: &Bucket) -> PathBuf {
        super::resolve(path, &b.config)
    }

    /// The keys a bucket sets on its strategy config: its limits (its capital is set by the
    /// caller, which knows whether the strategy has a cash key).
    pub fn limit_keys(b: &Bucket) -> Vec<(String, f64)> {
        let mut keys = Vec::new();
        if let Some(n) = b.max_positions {
            keys.push(("safety.max_positions".to_string(), n as f64));
        }
        if let Some(d) = b.max_drawdown {
            match b.on_breach {
                OnBreach::Throttle => {
                    keys.push(("safety.drawdown_throttle".to_string(), d));
                    keys.push(("safety.drawdown_scale".to_string(), b.throttle_scale));
                }
                OnBreach::Halt => keys.push(("safety.drawdown_block".to_string(), d)),
            }
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "strategy = \"portfolio\"\ncapital = 1000\n[[buckets]]\nname = \"A\"\nconfig = \"a.toml\"\ncapital = 0.6\nmax_drawdown = 0.2\n[[buckets]]\nname = \"B\"\nconfig = \"b.toml\"\ncapital = 300\non_breach = \"halt\"\nmax_drawdown = 0.1\nmax_positions = 4\n";

    #[test]
    fn test_portfolio_config_amounts_keys_and_refusals() {
        let p = Path::new("p.toml");
        let c = PortfolioConfig::parse(p, GOOD).unwrap();
        assert_eq!(c.amount(&c.buckets[0]), 600.0);
        assert_eq!(c.amount(&c.buckets[1]), 300.0);
        assert_eq!(
            PortfolioConfig::limit_keys(&c.buckets[0]),
            vec![
                ("safety.drawdown_throttle".to_string(), 0.2),
                ("safety.drawdown_scale".to_string(), 0.5)
            ]
        );
        assert_eq!(
            PortfolioConfig::limit_keys(&c.buckets[1]),
            vec![
                ("safety.max_positions".to_string(), 4.0),
                ("safety.drawdown_block".to_string(), 0.1)
            ]
        );
        for (from, to, msg) in [
            (
                "capital = 300\n",
                "capital = 500\n",
                "more than the portfolio",
            ),
            ("name = \"B\"", "name = \"A\"", "given twice"),
            ("max_drawdown = 0.2", "max_drawdown = 1.5", "max_drawdown"),
            ("on_breach = \"halt\"", "on_breach = \"panic\"", "on_breach"),
            ("name = \"B\"", "name = \"B c\"", "letters"),
        ] {
            let e = PortfolioConfig::parse(p, &GOOD.replacen(from, to, 1)).unwrap_err();
            assert!(e.contains(msg), "{to}: {e}");
        }
    }
}
