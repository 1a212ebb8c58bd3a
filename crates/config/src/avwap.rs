//! `configs/avwap_*.toml` for the anchored-VWAP system (spec/avwap.md).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use systrade_avwap::AvwapParams;
use systrade_avwap::params::{EntryParams, ExitParams, ScanParams};

/// Where the prices come from (`--data` overrides `source`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvwapData {
    /// Daily bars: a folder of files or a market database.
    pub source: PathBuf,
    /// One-minute bars (a folder of files) for the intraday stops; symbols found only here
    /// get their daily bars from their regular-session minutes.
    #[serde(default)]
    pub intraday: Option<PathBuf>,
    #[serde(default = "default_adjust")]
    pub adjust: String,
    /// `us` (the system trades New York sessions).
    #[serde(default = "default_market")]
    pub market: String,
    /// Only these tickers (default: every daily series in the source).
    #[serde(default)]
    pub tickers: Option<Vec<String>>,
    /// A provider the daily run fetches `source` from before deciding (needs `tickers`).
    #[serde(default)]
    pub refresh: Option<String>,
}

fn default_adjust() -> String {
    "split".into()
}

fn default_market() -> String {
    "us".into()
}

/// Backtest settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AvwapBacktest {
    pub cash: f64,
    pub start: Option<chrono::NaiveDate>,
    pub end: Option<chrono::NaiveDate>,
    /// Fee, basis points of traded notional.
    pub fee_bps: f64,
    /// Half-spread slippage of simulated fills, basis points.
    pub slippage_bps: f64,
}

impl Default for AvwapBacktest {
    fn default() -> Self {
        AvwapBacktest {
            cash: 100_000.0,
            start: None,
            end: None,
            fee_bps: 0.0,
            slippage_bps: 0.0,
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvwapConfig {
    pub strategy: String,
    pub data: AvwapData,
    #[serde(default)]
    pub scan: ScanParams,
    #[serde(default)]
    pub entry: EntryParams,
    #[serde(default)]
    pub exits: ExitParams,
    #[serde(default)]
    pub backtest: AvwapBacktest,
    #[serde(default)]
    pub run: super::run::RunSection,
    #[serde(default)]
    pub safety: systrade_risk::SafetyLimits,
    #[serde(default)]
    pub decisions: super::run::DecisionsSection,
    #[serde(default)]
    pub execution: super::run::ExecutionSection,
}

impl AvwapConfig {
    /// Parses and validates; every error names the file and the key.
    pub fn parse(path: &Path, text: &str) -> Result<Self, String> {
        super::parse(path, text, AvwapConfig::validate)
    }

    /// Reads, parses and validates a file.
    pub fn load(path: &Path) -> Result<Self, String> {
        AvwapConfig::parse(path, &super::read(path)?)
    }

    fn validate(&self) -> Result<(), String> {
        if self.strategy != "avwap" {
            return Err(format!(
                "strategy: expected \"avwap\", got {:?}",
                self.strategy
            ));
        }
        if self.data.market != "us" {
            return Err(format!(
                "data.market: the AVWAP system trades New York sessions (\"us\"), got {:?}",
                self.data.market
            ));
        }
        if !matches!(self.data.adjust.as_str(), "none" | "split" | "total") {
            return Err(format!(
                "data.adjust: expected none, split or total (got {:?})",
                self.data.adjust
            ));
        }
        super::check_refresh(self.data.refresh.as_deref())?;
        if self.data.refresh.is_some() && self.data.tickers.is_none() {
            return Err("data.refresh: needs data.tickers (the names to fetch)".into());
        }
        if let Some(t) = &self.data.tickers {
            if t.is_empty() {
                return Err("data.tickers: empty (leave it out to scan every series)".into());
            }
            for s in t {
                systrade_core::Symbol::new(s).map_err(|e| format!("data.tickers: {e}"))?;
            }
        }
        self.params().validate()?;
        self.run.validate()?;
        self.safety.validate()?;
        self.decisions.validate()?;
        self.execution.validate()?;
        let b = &self.backtest;
        for (name, v) in [
            ("backtest.cash", b.cash),
            ("backtest.fee_bps", b.fee_bps),
            ("backtest.slippage_bps", b.slippage_bps),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name}: must be a non-negative number (got {v})"));
            }
        }
        if b.cash <= 0.0 {
            return Err("backtest.cash: must be positive".into());
        }
        if let (Some(a), Some(z)) = (b.start, b.end)
            && a > z
        {
            return Err(format!("backtest.start: {a} is after backtest.end {z}"));
        }
        Ok(())
    }

    /// The system's parameters.
    pub fn params(&self) -> AvwapParams {
        AvwapParams {
            scan: self.scan.clone(),
            entry: self.entry.clone(),
            exits: self.exits.clone(),
        }
    }

    /// `data.source`, relative to the config file's folder.
    pub fn source(&self, config: &Path) -> PathBuf {
        super::resolve(config, &self.data.source)
    }

    /// `data.intraday`, relative to the config file's folder.
    pub fn intraday(&self, config: &Path) -> Option<PathBuf> {
        self.data
            .intraday
            .as_ref()
            .map(|p| super::resolve(config, p))
    }

    /// The read flags, with this file's adjustment where the flags leave it open.
    pub fn parse_options(&self, read: &crate::ReadOptions) -> systrade_data::ParseOptions {
        let mut opts = read.parse.clone();
        if !read.adjust_given {
            opts.adjust = systrade_data::Adjust::parse(&self.data.adjust).unwrap_or_default();
        }
        opts.market = Some(systrade_core::Market::Us);
        opts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
strategy = "avwap"

[data]
source = "prices"

[scan]
anchor = "gap"
"#;

    fn parse(text: &str) -> Result<AvwapConfig, String> {
        AvwapConfig::parse(Path::new("a.toml"), text)
    }

    #[test]
    fn test_defaults_are_the_spec_and_bad_keys_are_named() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.scan.anchor, systrade_avwap::AnchorKind::Gap);
        assert_eq!(c.scan.pivot_k, 3);
        assert_eq!(c.scan.anchor_lookback, 60);
        assert_eq!(c.entry.max_risk_abs, 250.0);
        assert_eq!(c.exits.max_hold_days, 20);
        assert_eq!(c.exits.stop_submit_after.to_string(), "09:45:00");
        for (text, want) in [
            (GOOD.replace("\"gap\"", "\"gapp\""), "anchor"),
            (
                GOOD.replace("[scan]", "[scan]\npivot_k = 0"),
                "scan.pivot_k",
            ),
            (
                GOOD.replace("[scan]", "[scan]\nsma_fast = 300"),
                "scan.sma_fast",
            ),
            (
                GOOD.replace("[scan]", "[exits]\nstop_submit_after = \"9h45\"\n[scan]"),
                "HH:MM",
            ),
            (
                GOOD.replace("[scan]", "[entry]\nmax_risk_pct = 2.0\n[scan]"),
                "entry.max_risk_pct",
            ),
            (
                GOOD.replace("[scan]", "[exits]\nbar_minutes = 7\n[scan]"),
                "exits.bar_minutes",
            ),
            (
                GOOD.replace(
                    "source = \"prices\"",
                    "source = \"prices\"\nmarket = \"b3\"",
                ),
                "data.market",
            ),
            (GOOD.replace("[scan]", "[scan]\nbogus = 1"), "bogus"),
        ] {
            let err = parse(&text).unwrap_err();
            assert!(
                err.starts_with("a.toml: ") && err.contains(want),
                "{want}: {err}"
            );
        }
    }
}
