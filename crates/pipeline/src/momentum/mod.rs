//! Cross-sectional momentum with staggered cohorts (spec/momentum-cohorts.md): monthly
//! formation at the month-end close, banded keep/add membership per cohort, strikes and
//! adaptive exit caps, a turnover budget in limited updates, capped equal weights with sector
//! balance, a composite beta overlay and EWMA volatility targeting over a CDI cash leg.

mod beta;
mod limits;
mod panel;
mod run;
mod select;

pub use beta::composite_beta;
pub use limits::{Limited, new_risk_scale, without_drawdown};
pub use panel::Panel;
pub use run::{
    CohortStats, CostGridRow, Formation, Inputs, MomentumResult, MonthCheck, NextOpen, SeriesRow,
    Summary, run,
};
pub use select::{
    CohortBook, Holding, Rationale, SideBook, SideKind, SideUpdate, TargetRow, Universe, exit_cap,
    full_rebalance, limited_update, side_weights, target_count, target_rows, turnover,
};
pub use systrade_backtest::overlay::Limits;

use serde::{Deserialize, Serialize};

use crate::PipelineError;

/// Which books are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BookKind {
    /// Long top names and short bottom names, each side at `side_gross_ls`.
    #[default]
    Ls,
    /// Long-only top decile at `side_gross_d10`.
    D10,
}

/// Every parameter of the spec, with its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MomentumParams {
    pub book: BookKind,
    pub cohorts: usize,
    // §2 eligibility
    pub lookback: usize,
    pub skip: usize,
    pub min_price: f64,
    pub min_adv: f64,
    pub adv_window: usize,
    pub min_eligible: usize,
    // §3 bands and counts
    pub add_long: f64,
    pub keep_long: f64,
    pub exit_long: f64,
    pub add_short: f64,
    pub keep_short: f64,
    pub exit_short: f64,
    pub n_min: usize,
    pub decile_frac: f64,
    // §4 strikes, exit caps, stress regime, turnover budget
    pub max_strikes: u32,
    pub exit_cap_frac: f64,
    pub stress_exit_cap_frac: f64,
    pub stress_vol_window: usize,
    pub stress_history: usize,
    pub stress_quantile: f64,
    pub turnover_budget: f64,
    // §5 weights
    pub side_gross_ls: f64,
    pub side_gross_d10: f64,
    /// Name cap as a multiple of 1/N of side gross (2 → `2/N`).
    pub max_name: f64,
    /// Name floor as a multiple of 1/N of side gross (0.5 → `0.5/N`).
    pub min_name: f64,
    pub gross_tol: f64,
    pub max_sector: f64,
    /// Sector tolerance of the pre-export check.
    pub sector_tol: f64,
    // §6 beta overlay
    pub beta_overlay: bool,
    pub beta_window: usize,
    pub beta_halflife: f64,
    pub beta_shrink: f64,
    pub overlay_cost_bps: f64,
    // §7 volatility targeting
    pub target_vol: f64,
    pub max_leverage: f64,
    pub ewma_lambda: f64,
    pub vt_warmup: usize,
    pub annualization: f64,
    // §8 costs
    pub cost_bps: f64,
    pub cost_grid: Vec<f64>,
}

impl Default for MomentumParams {
    fn default() -> Self {
        MomentumParams {
            book: BookKind::Ls,
            cohorts: 3,
            lookback: 252,
            skip: 21,
            min_price: 1.0,
            min_adv: 1e6,
            adv_window: 63,
            min_eligible: 20,
            add_long: 0.90,
            keep_long: 0.80,
            exit_long: 0.50,
            add_short: 0.10,
            keep_short: 0.20,
            exit_short: 0.50,
            n_min: 5,
            decile_frac: 0.10,
            max_strikes: 2,
            exit_cap_frac: 0.25,
            stress_exit_cap_frac: 0.50,
            stress_vol_window: 63,
            stress_history: 756,
            stress_quantile: 0.80,
            turnover_budget: 0.10,
            side_gross_ls: 0.50,
            side_gross_d10: 1.00,
            max_name: 2.0,
            min_name: 0.5,
            gross_tol: 1e-6,
            max_sector: 0.40,
            sector_tol: 1e-9,
            beta_overlay: false,
            beta_window: 252,
            beta_halflife: 63.0,
            beta_shrink: 0.67,
            overlay_cost_bps: 2.0,
            target_vol: 0.10,
            max_leverage: 2.0,
            ewma_lambda: 0.94,
            vt_warmup: 63,
            annualization: 252.0,
            cost_bps: 10.0,
            cost_grid: vec![0.0, 5.0, 10.0, 20.0, 30.0, 50.0],
        }
    }
}

impl MomentumParams {
    /// History a name needs to be eligible: `lookback + skip + 1`.
    pub fn history_needed(&self) -> usize {
        self.lookback + self.skip + 1
    }

    /// Gross of one side of a cohort's book.
    pub fn side_gross(&self) -> f64 {
        match self.book {
            BookKind::Ls => self.side_gross_ls,
            BookKind::D10 => self.side_gross_d10,
        }
    }

    /// Checks every key; the error names it.
    pub fn validate(&self) -> Result<(), PipelineError> {
        let err = |m: String| Err(PipelineError::Config(m));
        for (name, v) in [
            ("cohorts", self.cohorts),
            ("lookback", self.lookback),
            ("adv_window", self.adv_window),
            ("min_eligible", self.min_eligible),
            ("n_min", self.n_min),
            ("stress_vol_window", self.stress_vol_window),
            ("stress_history", self.stress_history),
            ("beta_window", self.beta_window),
        ] {
            if v == 0 {
                return err(format!("{name}: must be at least 1"));
            }
        }
        for (name, v) in [
            ("add_long", self.add_long),
            ("keep_long", self.keep_long),
            ("exit_long", self.exit_long),
            ("add_short", self.add_short),
            ("keep_short", self.keep_short),
            ("exit_short", self.exit_short),
            ("decile_frac", self.decile_frac),
            ("exit_cap_frac", self.exit_cap_frac),
            ("stress_exit_cap_frac", self.stress_exit_cap_frac),
            ("stress_quantile", self.stress_quantile),
            ("turnover_budget", self.turnover_budget),
            ("max_sector", self.max_sector),
            ("beta_shrink", self.beta_shrink),
            ("ewma_lambda", self.ewma_lambda),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return err(format!("{name}: must be within [0, 1] (got {v})"));
            }
        }
        if !(self.exit_long <= self.keep_long && self.keep_long <= self.add_long) {
            return err(format!(
                "keep_long: the long bands need exit_long ≤ keep_long ≤ add_long (got {}, {}, {})",
                self.exit_long, self.keep_long, self.add_long
            ));
        }
        if !(self.add_short <= self.keep_short && self.keep_short <= self.exit_short) {
            return err(format!(
                "keep_short: the short bands need add_short ≤ keep_short ≤ exit_short (got {}, {}, {})",
                self.add_short, self.keep_short, self.exit_short
            ));
        }
        for (name, v) in [
            ("min_price", self.min_price),
            ("min_adv", self.min_adv),
            ("gross_tol", self.gross_tol),
            ("sector_tol", self.sector_tol),
            ("overlay_cost_bps", self.overlay_cost_bps),
            ("cost_bps", self.cost_bps),
            ("min_name", self.min_name),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return err(format!("{name}: must be a non-negative number (got {v})"));
            }
        }
        for (name, v) in [
            ("side_gross_ls", self.side_gross_ls),
            ("side_gross_d10", self.side_gross_d10),
            ("max_name", self.max_name),
            ("beta_halflife", self.beta_halflife),
            ("target_vol", self.target_vol),
            ("max_leverage", self.max_leverage),
            ("annualization", self.annualization),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return err(format!("{name}: must be positive (got {v})"));
            }
        }
        if self.min_name > self.max_name {
            return err(format!(
                "min_name: {} is above max_name {}",
                self.min_name, self.max_name
            ));
        }
        if let Some(c) = self
            .cost_grid
            .iter()
            .find(|c| !(c.is_finite() && **c >= 0.0))
        {
            return err(format!(
                "cost_grid: levels must be non-negative bps (got {c})"
            ));
        }
        Ok(())
    }
}
