//! `strategy = "sheet"`: a book traded from trade sheets (spec/execution-and-buckets.md §1–2).
//! It has no strategy of its own: `systrade orders stage` stages a sheet's orders in the
//! ledger under the book's name, `systrade approve` sends them to its paper account.

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
        approve_above: 0.0,
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
        self.execution.validate()?;
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

    impl BookConfig {
        fn parse_text(text: &str) -> Result<Self, String> {
            super::super::parse(Path::new("book.toml"), text, BookConfig::validate)
        }
    }
}
