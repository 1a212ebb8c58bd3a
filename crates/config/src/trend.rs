//! `configs/*.toml` for the trend-following strategy (spec/trend-following.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use systrade_pipeline::trend::{Sleeve as SleeveSpec, TrendParams};
use systrade_portfolio::VolTargetParams;
use systrade_risk::{DustParams, GateParams};
use systrade_strategy::trend::SignalParams;

/// A sleeve: a risk budget and the tickers in it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sleeve {
    pub budget: f64,
    pub tickers: Vec<String>,
}

/// Where the data comes from (`--data` overrides `source`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub source: PathBuf,
    #[serde(default = "default_adjust")]
    pub adjust: String,
    /// `us`, `b3` or `crypto`; by default the market the data belongs to.
    #[serde(default)]
    pub market: Option<String>,
    /// A provider the daily run fetches `source` from before deciding (`alpaca`,
    /// `coinbase`, `binance`, `yahoo`, `alphavantage`); none: the files are kept by hand.
    #[serde(default)]
    pub refresh: Option<String>,
}

impl DataConfig {
    /// The market named by `data.market`, if any.
    pub fn market(&self) -> Result<Option<systrade_core::Market>, String> {
        match self.market.as_deref() {
            None => Ok(None),
            Some("us") => Ok(Some(systrade_core::Market::Us)),
            Some("b3") => Ok(Some(systrade_core::Market::B3)),
            Some("crypto") => Ok(Some(systrade_core::Market::Crypto)),
            Some(other) => Err(format!(
                "data.market: expected us, b3 or crypto (got {other:?})"
            )),
        }
    }

    /// The read flags, with this section's adjustment and market where the flags leave
    /// them open.
    pub fn parse_options(
        &self,
        read: &crate::ReadOptions,
    ) -> Result<systrade_data::ParseOptions, String> {
        let mut opts = read.parse.clone();
        if !read.adjust_given {
            opts.adjust = match self.adjust.as_str() {
                "none" => systrade_data::Adjust::None,
                "total" => systrade_data::Adjust::Total,
                _ => systrade_data::Adjust::Split,
            };
        }
        if opts.market.is_none() {
            opts.market = self.market()?;
        }
        Ok(opts)
    }

    /// `data.adjust` must be one of the three adjustments.
    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.adjust.as_str(), "none" | "split" | "total") {
            return Err(format!(
                "data.adjust: expected none, split or total (got {:?})",
                self.adjust
            ));
        }
        crate::check_refresh(self.refresh.as_deref())?;
        self.market().map(|_| ())
    }
}

fn default_adjust() -> String {
    "split".into()
}

/// Order settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrdersSection {
    /// Quantities are rounded toward zero to this many decimals (the exchange's lot).
    pub qty_decimals: u32,
}

impl Default for OrdersSection {
    fn default() -> Self {
        OrdersSection { qty_decimals: 8 }
    }
}

/// Backtest settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BacktestSection {
    pub cash: f64,
    pub start: Option<chrono::NaiveDate>,
    pub end: Option<chrono::NaiveDate>,
    /// Half-spread slippage of simulated fills, basis points (fees come from `[gates]`).
    pub slippage_bps: f64,
}

impl Default for BacktestSection {
    fn default() -> Self {
        BacktestSection {
            cash: 100_000.0,
            start: None,
            end: None,
            slippage_bps: 0.0,
        }
    }
}

/// `[universe]`: market-cap snapshots and how many names to trade.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UniverseSection {
    /// A CSV `date,symbol,market_cap` (relative to the config file): snapshots of market
    /// caps, any number of dates.
    pub caps: PathBuf,
    /// How many of the sleeves' tickers are traded each month.
    pub top_n: usize,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrendConfig {
    pub strategy: String,
    pub data: DataConfig,
    pub sleeves: BTreeMap<String, Sleeve>,
    #[serde(default)]
    pub signal: SignalParams,
    #[serde(default)]
    pub sizing: VolTargetParams,
    #[serde(default)]
    pub gates: GateParams,
    #[serde(default)]
    pub dust: DustParams,
    #[serde(default)]
    pub orders: OrdersSection,
    #[serde(default)]
    pub backtest: BacktestSection,
    /// A dynamic universe (bucket B): each month only the top N of the sleeves' tickers by
    /// market cap are traded.
    #[serde(default)]
    pub universe: Option<UniverseSection>,
    #[serde(default)]
    pub run: super::run::RunSection,
    #[serde(default)]
    pub safety: systrade_risk::SafetyLimits,
    #[serde(default)]
    pub decisions: super::run::DecisionsSection,
    #[serde(default)]
    pub execution: super::run::ExecutionSection,
}

impl TrendConfig {
    /// Parses and validates; every error names the file and the key.
    pub fn parse(path: &Path, text: &str) -> Result<Self, String> {
        super::parse(path, text, TrendConfig::validate)
    }

    /// Reads, parses and validates a file.
    pub fn load(path: &Path) -> Result<Self, String> {
        TrendConfig::parse(path, &super::read(path)?)
    }

    fn validate(&self) -> Result<(), String> {
        if self.strategy != "trend" {
            return Err(format!(
                "strategy: expected \"trend\", got {:?}",
                self.strategy
            ));
        }
        if let Some(u) = &self.universe
            && u.top_n == 0
        {
            return Err("universe.top_n: at least 1".into());
        }
        let g = &self.signal;
        let mut windows: Vec<(String, u64)> = vec![
            ("signal.donchian_window".into(), g.donchian_window as u64),
            ("signal.smooth_span".into(), g.smooth_span as u64),
            ("signal.r2_window".into(), g.r2_window as u64),
            ("signal.vov_window".into(), g.vov_window as u64),
            ("signal.vol_window".into(), g.vol_window as u64),
            ("signal.atr_window".into(), g.atr_window as u64),
            ("signal.stop_lookback".into(), g.stop_lookback as u64),
            ("sizing.cov_window".into(), self.sizing.cov_window as u64),
            (
                "sizing.sleeve_rounds".into(),
                self.sizing.sleeve_rounds as u64,
            ),
            ("sizing.cap_rounds".into(), self.sizing.cap_rounds as u64),
            (
                "gates.cooldown_days".into(),
                u64::from(self.gates.cooldown_days),
            ),
        ];
        for (fast, slow) in &g.ma_pairs {
            windows.push(("signal.ma_pairs".into(), (*fast).max(*slow) as u64));
        }
        let keys: Vec<(&str, u64)> = windows.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        crate::check_windows(&keys)?;
        self.params()?.validate().map_err(|e| e.to_string())?;
        self.run.validate()?;
        self.safety.validate()?;
        self.decisions.validate()?;
        self.execution.validate()?;
        for (name, v) in [
            ("backtest.cash", self.backtest.cash),
            ("backtest.slippage_bps", self.backtest.slippage_bps),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name}: must be a non-negative number (got {v})"));
            }
        }
        if self.backtest.cash <= 0.0 {
            return Err("backtest.cash: must be positive".into());
        }
        if let (Some(a), Some(b)) = (self.backtest.start, self.backtest.end)
            && a > b
        {
            return Err(format!("backtest.start: {a} is after backtest.end {b}"));
        }
        self.data.validate()
    }

    /// The strategy's parameters (sleeves in name order).
    pub fn params(&self) -> Result<TrendParams, String> {
        let mut sleeves = Vec::with_capacity(self.sleeves.len());
        for (name, s) in &self.sleeves {
            let tickers = s
                .tickers
                .iter()
                .map(|t| {
                    systrade_core::Symbol::new(t)
                        .map_err(|e| format!("sleeves.{name}.tickers: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            sleeves.push(SleeveSpec {
                name: name.clone(),
                budget: s.budget,
                tickers,
            });
        }
        Ok(TrendParams {
            sleeves,
            signal: self.signal.clone(),
            sizing: self.sizing.clone(),
            gates: self.gates.clone(),
            dust: self.dust.clone(),
            qty_decimals: self.orders.qty_decimals,
        })
    }

    /// The data source: `data.source`, relative to the config file's folder.
    pub fn source(&self, config_path: &Path) -> PathBuf {
        super::resolve(config_path, &self.data.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
strategy = "trend"

[data]
source = "../shared/data/crypto_binance_spot/1d"

[sleeves.majors]
budget = 0.6
tickers = ["BTCUSDT", "ETHUSDT"]

[sleeves.alts]
budget = 0.4
tickers = ["SOLUSDT", "ADAUSDT"]

[sizing]
target_vol = 0.25
"#;

    fn parse(text: &str) -> Result<TrendConfig, String> {
        TrendConfig::parse(Path::new("t.toml"), text)
    }

    #[test]
    fn test_good_config_gets_spec_defaults() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.signal, SignalParams::default());
        assert_eq!(c.gates, GateParams::default());
        assert_eq!(c.sizing.cap_narrow, 0.35);
        assert_eq!(c.sleeves["majors"].tickers.len(), 2);
    }

    #[test]
    fn test_bad_configs_name_the_key() {
        let cases = [
            (
                GOOD.replace("target_vol = 0.25", "target_vol = 0.25\ntarget_voll = 1"),
                "target_voll",
            ),
            (
                GOOD.replace("target_vol = 0.25", "target_vol = -0.1"),
                "sizing.target_vol",
            ),
            (
                GOOD.replace("budget = 0.4", "budget = 0.5"),
                "budgets must sum to 1",
            ),
            (
                GOOD.replace("tickers = [\"SOLUSDT\", \"ADAUSDT\"]", "tickers = []"),
                "sleeves.alts.tickers",
            ),
            (
                GOOD.replace("[sizing]", "[signal]\ndonchian_window = 0\n[sizing]"),
                "signal.donchian_window",
            ),
            (
                GOOD.replace("[sizing]", "[gates]\npassive_rate = 3\n[sizing]"),
                "gates.passive_rate",
            ),
            (
                GOOD.replace("\"SOLUSDT\"", "\"BTCUSDT\""),
                "already in sleeve",
            ),
            (
                GOOD.replace("strategy = \"trend\"", "strategy = \"trend\"\nbogus = 1"),
                "bogus",
            ),
        ];
        for (text, want) in cases {
            let err = parse(&text).unwrap_err();
            assert!(
                err.starts_with("t.toml: ") && err.contains(want),
                "{want}: {err}"
            );
        }
    }
}

#[cfg(test)]
mod committed_configs {
    use super::*;

    #[test]
    fn test_trend_crypto_config_parses_and_names_real_files() {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs/trend_crypto.toml");
        let c = TrendConfig::load(&path).unwrap();
        assert_eq!(
            c.signal,
            SignalParams::default(),
            "the file spells out the defaults"
        );
        assert_eq!(c.sizing, VolTargetParams::default());
        assert_eq!(c.gates, GateParams::default());
        assert_eq!(c.sleeves["majors"].tickers, ["BTCUSDT", "ETHUSDT"]);
        let data = c.source(&path);
        if !data.exists() {
            println!(
                "skip: {} not found (real-data check needs ../shared beside the checkout)",
                data.display()
            );
            return;
        }
        for t in c.sleeves.values().flat_map(|s| &s.tickers) {
            assert!(
                data.join(format!("{t}_1d.csv")).exists(),
                "{t} has no daily file"
            );
        }
    }
}
