//! `configs/momentum_*.toml` for the momentum-cohorts strategy (spec/momentum-cohorts.md).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use systrade_pipeline::momentum::MomentumParams;

/// Where the inputs come from; paths are relative to the config file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MomentumData {
    /// Prices: a SQLite database (tables `prices` and, optionally, `sectors`) or a folder of
    /// vendor files (`--db`/`--data` override).
    pub source: PathBuf,
    /// The CDI: a daily rate series as CSV or Excel (`--cdi` overrides).
    pub cdi: PathBuf,
    /// `pct_per_day` or `pct_per_year` when the file's header does not say.
    #[serde(default)]
    pub cdi_unit: Option<String>,
    /// A sector map (CSV/Excel); without it the database's `sectors` table is used.
    #[serde(default)]
    pub sectors: Option<PathBuf>,
    /// The sector given to names the map does not cover; without it such a name is an error.
    #[serde(default)]
    pub unknown_sector: Option<String>,
    /// A benchmark price series; when it does not cover the backtest, or is not given, the
    /// equal-weight index of the universe is the benchmark.
    #[serde(default)]
    pub benchmark: Option<PathBuf>,
    /// Only these tickers (default: every daily series in the source).
    #[serde(default)]
    pub tickers: Option<Vec<String>>,
    #[serde(default = "default_adjust")]
    pub adjust: String,
    #[serde(default = "default_market")]
    pub market: String,
    /// A provider the daily run fetches `source` from before deciding (needs `tickers`).
    #[serde(default)]
    pub refresh: Option<String>,
}

fn default_adjust() -> String {
    "none".into()
}

fn default_market() -> String {
    "b3".into()
}

/// Backtest window, and the capital the NAV stands for.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Window {
    pub start: Option<chrono::NaiveDate>,
    pub end: Option<chrono::NaiveDate>,
    /// The money the NAV (from 1) stands for: with it the backtest measures its capacity —
    /// each formation's trades against the names' average volume. A portfolio bucket sets
    /// it to the bucket's capital.
    pub capital: Option<f64>,
}

/// Orders export defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrdersSection {
    /// Shares per lot where the lot map is silent (B3's round lot).
    pub default_lot: u32,
    /// The daily run: on a session without a formation, a held name is resized to its
    /// volatility-targeted quantity only when it is off by more than this fraction of that
    /// quantity (entries and exits always trade; formation sessions trade every name).
    pub rebalance_band: f64,
}

impl Default for OrdersSection {
    fn default() -> Self {
        OrdersSection {
            default_lot: 100,
            rebalance_band: 0.10,
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MomentumConfig {
    pub strategy: String,
    pub data: MomentumData,
    #[serde(default)]
    pub momentum: MomentumParams,
    #[serde(default)]
    pub backtest: Window,
    #[serde(default)]
    pub orders: OrdersSection,
    #[serde(default)]
    pub run: super::run::RunSection,
    #[serde(default)]
    pub safety: systrade_risk::SafetyLimits,
    #[serde(default)]
    pub decisions: super::run::DecisionsSection,
    #[serde(default)]
    pub execution: super::run::ExecutionSection,
}

impl MomentumConfig {
    /// Parses and validates; every error names the file and the key.
    pub fn parse(path: &Path, text: &str) -> Result<Self, String> {
        super::parse(path, text, MomentumConfig::validate)
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        MomentumConfig::parse(path, &super::read(path)?)
    }

    fn validate(&self) -> Result<(), String> {
        if self.strategy != "momentum" {
            return Err(format!(
                "strategy: expected \"momentum\", got {:?}",
                self.strategy
            ));
        }
        let m = &self.momentum;
        crate::check_windows(&[
            ("momentum.cohorts", m.cohorts as u64),
            ("momentum.lookback", m.lookback as u64),
            ("momentum.skip", m.skip as u64),
            ("momentum.adv_window", m.adv_window as u64),
            ("momentum.min_eligible", m.min_eligible as u64),
            ("momentum.n_min", m.n_min as u64),
            ("momentum.max_strikes", u64::from(m.max_strikes)),
            ("momentum.stress_vol_window", m.stress_vol_window as u64),
            ("momentum.stress_history", m.stress_history as u64),
            ("momentum.beta_window", m.beta_window as u64),
            ("momentum.vt_warmup", m.vt_warmup as u64),
        ])?;
        self.momentum
            .validate()
            .map_err(|e| format!("momentum.{e}"))?;
        if !matches!(self.data.adjust.as_str(), "none" | "split" | "total") {
            return Err(format!(
                "data.adjust: expected none, split or total (got {:?})",
                self.data.adjust
            ));
        }
        if !matches!(self.data.market.as_str(), "us" | "b3" | "crypto") {
            return Err(format!(
                "data.market: expected us, b3 or crypto (got {:?})",
                self.data.market
            ));
        }
        crate::check_refresh(self.data.refresh.as_deref())?;
        if self.data.refresh.is_some() && self.data.tickers.is_none() {
            return Err("data.refresh: needs data.tickers (the names to fetch)".into());
        }
        if let Some(u) = &self.data.cdi_unit
            && !matches!(u.as_str(), "pct_per_day" | "pct_per_year")
        {
            return Err(format!(
                "data.cdi_unit: expected pct_per_day or pct_per_year (got {u:?})"
            ));
        }
        if self.orders.default_lot == 0 {
            return Err("orders.default_lot: must be at least 1".into());
        }
        if !(self.orders.rebalance_band.is_finite()
            && (0.0..1.0).contains(&self.orders.rebalance_band))
        {
            return Err(format!(
                "orders.rebalance_band: must be in [0, 1) (got {})",
                self.orders.rebalance_band
            ));
        }
        self.run.validate()?;
        self.safety.validate()?;
        self.decisions.validate()?;
        self.execution.validate()?;
        if let (Some(a), Some(b)) = (self.backtest.start, self.backtest.end)
            && a > b
        {
            return Err(format!("backtest.start: {a} is after backtest.end {b}"));
        }
        if let Some(c) = self.backtest.capital
            && !(c.is_finite() && c > 0.0)
        {
            return Err(format!("backtest.capital: must be positive (got {c})"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
strategy = "momentum"

[data]
source = "prices.db"
cdi = "cdi.csv"

[momentum]
cohorts = 3
"#;

    #[test]
    fn test_defaults_and_key_errors() {
        let c = MomentumConfig::parse(Path::new("m.toml"), GOOD).unwrap();
        assert_eq!(c.momentum, MomentumParams::default());
        assert_eq!(c.orders.default_lot, 100);
        for (text, want) in [
            (
                GOOD.replace("cohorts = 3", "cohorts = 0"),
                "momentum.cohorts",
            ),
            (GOOD.replace("cohorts = 3", "cohorrts = 3"), "cohorrts"),
            (
                GOOD.replace("cohorts = 3", "keep_long = 0.95"),
                "momentum.keep_long",
            ),
            (
                format!("{GOOD}\n[orders]\nrebalance_band = 1.5\n"),
                "orders.rebalance_band",
            ),
            (format!("{GOOD}\n[run]\nacount = \"x\"\n"), "acount"),
            (
                format!("{GOOD}\n[safety]\nmax_gross_pct = -1.0\n"),
                "safety.max_gross_pct",
            ),
            (
                GOOD.replace(
                    "cdi = \"cdi.csv\"",
                    "cdi = \"cdi.csv\"\ncdi_unit = \"weekly\"",
                ),
                "data.cdi_unit",
            ),
        ] {
            let e = MomentumConfig::parse(Path::new("m.toml"), &text).unwrap_err();
            assert!(e.starts_with("m.toml: ") && e.contains(want), "{want}: {e}");
        }
    }
}
