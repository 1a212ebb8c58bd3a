//! `strategy = "sheet"`: a book traded from trade sheets (spec/execution-and-buckets.md §1–2).
//! It has no strategy of its own: `systrade orders stage` stages a sheet's orders in the
//! ledger under the book's name, `systrade approve` sends them to its broker. With a
//! `[signals]` section it also has a daily run (`systrade run --config book.toml`): the day's
//! signals file sized into a sheet against the broker's positions, rebalanced on drift, gated
//! by its `[safety]` limits, submitted or staged by its `[execution]` level.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::run::{ExecutionSection, RunSection};
use super::trend::DataConfig;

/// What the book's paper fills cost.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostsSection {
    /// Fee in basis points of the traded notional.
    pub fee_bps: f64,
    /// Fee per share.
    pub per_share: f64,
    /// Minimum fee of a fill that pays one.
    pub min_fee: f64,
    /// Half-spread slippage of a fill, basis points.
    pub slippage_bps: f64,
}

/// `[orders]` of a sheet book.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BookOrders {
    /// Decimals of share quantities (0: whole shares).
    pub qty_decimals: u32,
}

fn semi_auto() -> ExecutionSection {
    ExecutionSection {
        level: "semi-auto".into(),
        ..ExecutionSection::default()
    }
}

/// `[signals]`: the user's own signals, auto-rebalanced by the daily run.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignalsSection {
    /// `date,symbol,signal` (strength in [−1, 1]); relative to the config's folder. The run
    /// uses the latest date on or before its last closed session, and only that: an older
    /// file means no new risk.
    pub file: PathBuf,
    /// `equal`, `signal`, `inverse-vol`, `risk-parity`, `min-variance` or `kelly`.
    pub method: String,
    /// Capital the sheet sizes (the book's value after it); default: the account's equity.
    pub capital: Option<f64>,
    pub max_positions: Option<usize>,
    pub max_weight: f64,
    /// A held name trades only when |current − target| exceeds this fraction of its target.
    pub drift: f64,
    /// Daily returns the risk-based methods use.
    pub lookback: usize,
    pub kelly_fraction: f64,
    /// Limit price = last close × (1 ± this): the sheet's, and the orders' with `orders =
    /// "limit"`.
    pub limit_offset: f64,
    /// `limit` (default: each order a day limit order at the sheet's limit price; what does
    /// not fill expires with the session and the next run sizes again) or `market`.
    pub orders: String,
}

impl Default for SignalsSection {
    fn default() -> Self {
        SignalsSection {
            file: PathBuf::new(),
            method: "equal".into(),
            capital: None,
            max_positions: None,
            max_weight: 1.0,
            drift: 0.05,
            lookback: 60,
            kelly_fraction: 0.25,
            limit_offset: 0.002,
            orders: "limit".into(),
        }
    }
}

impl SignalsSection {
    pub fn method(&self) -> Result<systrade_portfolio::SizingMethod, String> {
        self.method
            .parse()
            .map_err(|e: String| format!("signals.method: {e}"))
    }

    fn validate(&self) -> Result<(), String> {
        if self.file.as_os_str().is_empty() {
            return Err("signals.file: the signals CSV (date,symbol,signal) is required".into());
        }
        let m = self.method()?;
        if let Some(c) = self.capital
            && !(c.is_finite() && c > 0.0)
        {
            return Err(format!(
                "signals.capital: must be a positive amount (got {c})"
            ));
        }
        if self.max_positions == Some(0) {
            return Err("signals.max_positions: at least 1".into());
        }
        if !matches!(self.orders.as_str(), "limit" | "market") {
            return Err(format!(
                "signals.orders: expected \"limit\" or \"market\", got {:?}",
                self.orders
            ));
        }
        for (k, v, lo, hi) in [
            ("signals.max_weight", self.max_weight, 0.0, 1.0),
            ("signals.drift", self.drift, 0.0, 10.0),
            ("signals.kelly_fraction", self.kelly_fraction, 0.0, 1.0),
            ("signals.limit_offset", self.limit_offset, 0.0, 0.5),
        ] {
            if !(v.is_finite() && v >= lo && v <= hi) || (k == "signals.max_weight" && v == 0.0) {
                return Err(format!("{k}: must be in ({lo}, {hi}] (got {v})"));
            }
        }
        if m.needs_returns() && self.lookback < 2 {
            return Err(format!(
                "signals.lookback: {} needs at least 2 returns (got {})",
                m.as_str(),
                self.lookback
            ));
        }
        Ok(())
    }
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookConfig {
    pub strategy: String,
    pub data: DataConfig,
    #[serde(default)]
    pub run: RunSection,
    /// `semi-auto` by default: a sheet's orders wait for `systrade approve`.
    #[serde(default = "semi_auto")]
    pub execution: ExecutionSection,
    #[serde(default)]
    pub costs: CostsSection,
    #[serde(default)]
    pub orders: BookOrders,
    /// The daily run's signals (no daily run without it).
    pub signals: Option<SignalsSection>,
    /// The daily run's gates (the same as a strategy's; the kill switch always applies).
    #[serde(default)]
    pub safety: systrade_risk::SafetyLimits,
    #[serde(default)]
    pub decisions: super::run::DecisionsSection,
    /// Tax awareness of the daily run: tax-loss harvest proposals.
    #[serde(default)]
    pub tax: TaxSection,
}

/// `[tax]`: with `harvest_loss`, each daily run proposes selling every held name at least
/// that fraction below its cost (from the ledger's own fills) with the most correlated name
/// of the data that is neither held nor a target (`harvest_D.csv`; proposals only).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaxSection {
    pub harvest_loss: Option<f64>,
    /// The replacement's correlation of daily returns with the loser, at least.
    pub harvest_min_corr: f64,
}

impl Default for TaxSection {
    fn default() -> Self {
        TaxSection {
            harvest_loss: None,
            harvest_min_corr: 0.8,
        }
    }
}

impl TaxSection {
    fn validate(&self) -> Result<(), String> {
        if let Some(l) = self.harvest_loss
            && !(l.is_finite() && l > 0.0 && l < 1.0)
        {
            return Err(format!(
                "tax.harvest_loss: a fraction in (0, 1), e.g. 0.1 for 10% below cost (got {l})"
            ));
        }
        let c = self.harvest_min_corr;
        if !(c.is_finite() && (-1.0..=1.0).contains(&c)) {
            return Err(format!(
                "tax.harvest_min_corr: a correlation in [-1, 1] (got {c})"
            ));
        }
        Ok(())
    }
}

impl BookConfig {
    pub fn load(path: &Path) -> Result<Self, String> {
        super::parse(path, &super::read(path)?, BookConfig::validate)
    }

    fn validate(&self) -> Result<(), String> {
        if self.strategy != "sheet" {
            return Err(format!(
                "strategy: expected \"sheet\", got {:?}",
                self.strategy
            ));
        }
        self.data.validate()?;
        self.run.validate()?;
        self.execution.validate_with_twap()?;
        self.safety.validate()?;
        self.decisions.validate()?;
        self.tax.validate()?;
        if let Some(s) = &self.signals {
            s.validate()?;
        }
        for (k, v) in [
            ("costs.fee_bps", self.costs.fee_bps),
            ("costs.per_share", self.costs.per_share),
            ("costs.min_fee", self.costs.min_fee),
            ("costs.slippage_bps", self.costs.slippage_bps),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{k}: must be a non-negative number (got {v})"));
            }
        }
        if self.orders.qty_decimals > 12 {
            return Err(format!(
                "orders.qty_decimals: at most 12 (got {})",
                self.orders.qty_decimals
            ));
        }
        if self.run.paper_cash.is_none() && self.run.broker == crate::run::BrokerKind::Paper {
            return Err(
                "run.paper_cash: a sheet book on the paper broker needs the cash of its paper account"
                    .into(),
            );
        }
        Ok(())
    }

    pub fn source(&self, config_path: &Path) -> PathBuf {
        super::resolve(config_path, &self.data.source)
    }

    /// The signals file, resolved against the config's folder.
    pub fn signals_file(&self, config_path: &Path) -> Option<PathBuf> {
        self.signals
            .as_ref()
            .map(|s| super::resolve(config_path, &s.file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
strategy = "sheet"

[data]
source = "prices"

[run]
name = "my-signals"
paper_cash = 10000
"#;

    #[test]
    fn a_sheet_book_defaults_to_semi_auto_with_every_order_waiting() {
        let c = BookConfig::parse_text(GOOD).unwrap();
        assert_eq!(c.execution.level, "semi-auto");
        assert_eq!(
            c.execution.hold(1.0),
            Some(systrade_core::vocab::Approval::Pending)
        );
        assert_eq!(c.orders.qty_decimals, 0);
    }

    #[test]
    fn bad_keys_and_values_are_named() {
        let e = BookConfig::parse_text(&GOOD.replace("[run]", "[run]\nnope = 1")).unwrap_err();
        assert!(e.contains("nope"), "{e}");
        let e = BookConfig::parse_text(&format!("{GOOD}\n[execution]\nlevel = \"sometimes\"\n"))
            .unwrap_err();
        assert!(e.contains("execution.level"), "{e}");
        let e = BookConfig::parse_text(&format!("{GOOD}\n[costs]\nfee_bps = -1\n")).unwrap_err();
        assert!(e.contains("costs.fee_bps"), "{e}");
        let e = BookConfig::parse_text(&GOOD.replace("paper_cash = 10000", "")).unwrap_err();
        assert!(e.contains("run.paper_cash"), "{e}");
    }

    #[test]
    fn a_signals_section_gives_the_daily_run_its_sheet_and_bad_values_are_named() {
        let c = BookConfig::parse_text(&format!(
            "{GOOD}\n[signals]\nfile = \"sig.csv\"\nmethod = \"risk-parity\"\n[safety]\nmax_positions = 3\n"
        ))
        .unwrap();
        let s = c.signals.as_ref().unwrap();
        assert_eq!(s.method().unwrap().as_str(), "risk-parity");
        assert_eq!((s.drift, s.lookback, s.max_weight), (0.05, 60, 1.0));
        assert_eq!(c.safety.max_positions, Some(3));
        assert_eq!(
            c.signals_file(Path::new("/a/book.toml")),
            Some(PathBuf::from("/a/sig.csv"))
        );
        for (bad, key) in [
            ("method = \"magic\"", "signals.method"),
            ("drift = -0.1", "signals.drift"),
            ("max_weight = 0", "signals.max_weight"),
            ("capital = -5", "signals.capital"),
            ("max_positions = 0", "signals.max_positions"),
            ("method = \"kelly\"\nlookback = 1", "signals.lookback"),
        ] {
            let e =
                BookConfig::parse_text(&format!("{GOOD}\n[signals]\nfile = \"sig.csv\"\n{bad}\n"))
                    .unwrap_err();
            assert!(e.contains(key), "{bad}: {e}");
        }
        let e = BookConfig::parse_text(&format!("{GOOD}\n[signals]\nmethod = \"equal\"\n"))
            .unwrap_err();
        assert!(e.contains("signals.file"), "{e}");
    }

    #[test]
    fn above_approve_above_an_order_waits_at_every_level() {
        let at = |level: &str, above: f64| crate::run::ExecutionSection {
            level: level.into(),
            approve_above: above,
            ..Default::default()
        };
        let pending = Some(systrade_core::vocab::Approval::Pending);
        assert_eq!(at("auto", 10_000.0).hold(10_001.0), pending);
        assert_eq!(at("auto", 10_000.0).hold(9_999.0), None);
        assert_eq!(
            at("auto", 0.0).hold(1e12),
            None,
            "auto: 0 means no threshold"
        );
        assert_eq!(
            at("semi-auto", 0.0).hold(1.0),
            pending,
            "semi-auto: 0 means all wait"
        );
        assert_eq!(at("semi-auto", 10_000.0).hold(9_999.0), None);
    }

    impl BookConfig {
        fn parse_text(text: &str) -> Result<Self, String> {
            super::super::parse(Path::new("book.toml"), text, BookConfig::validate)
        }
    }
}
