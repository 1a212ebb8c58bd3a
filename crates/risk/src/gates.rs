//! The daily run's safety gates (spec/daily-run.md §3): an ALLOW/BLOCK decision with reason
//! codes for every new entry or add. Exits, reductions and protective stops never come here:
//! nothing may stand between a position and its way out.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use systrade_core::Symbol;
use systrade_core::contracts::{PortfolioDecision, ReasonCode};

/// Limits; `None` switches a gate off. Percentages are fractions of equity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SafetyLimits {
    /// When set, only these symbols may get new risk.
    pub allowlist: Option<Vec<String>>,
    /// Live trading starts on this date (paper trades any day).
    pub live_from: Option<NaiveDate>,
    /// Entry-to-stop risk of one order ≤ min(abs, pct·equity).
    pub max_risk_per_trade: Option<f64>,
    pub max_risk_per_trade_pct: Option<f64>,
    /// Gross exposure after the order ≤ min(abs, pct·equity).
    pub max_gross: Option<f64>,
    pub max_gross_pct: Option<f64>,
    /// Open positions after an entry ≤ N.
    pub max_positions: Option<usize>,
    /// New entries in one market day ≤ N.
    pub max_new_entries: Option<usize>,
    /// One position ≤ pct·equity.
    pub max_position_pct: Option<f64>,
    /// One sector's gross ≤ pct·equity.
    pub max_sector_pct: Option<f64>,
    /// Today's PnL at or below −min(abs, pct·equity) halts new risk for the day.
    pub daily_loss_limit: Option<f64>,
    pub daily_loss_limit_pct: Option<f64>,
    /// Drawdown from the equity peak beyond this scales new risk by `drawdown_scale`…
    pub drawdown_throttle: Option<f64>,
    pub drawdown_scale: f64,
    /// …and beyond this blocks it.
    pub drawdown_block: Option<f64>,
    /// One order's quantity and notional; larger ones need approval.
    pub max_order_qty: Option<f64>,
    pub max_order_notional: Option<f64>,
}

impl Default for SafetyLimits {
    fn default() -> Self {
        SafetyLimits {
            allowlist: None,
            live_from: None,
            max_risk_per_trade: None,
            max_risk_per_trade_pct: None,
            max_gross: None,
            max_gross_pct: None,
            max_positions: None,
            max_new_entries: None,
            max_position_pct: None,
            max_sector_pct: None,
            daily_loss_limit: None,
            daily_loss_limit_pct: None,
            drawdown_throttle: None,
            drawdown_scale: 0.5,
            drawdown_block: None,
            max_order_qty: None,
            max_order_notional: None,
        }
    }
}

impl SafetyLimits {
    /// Checks every limit is a sensible number; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("max_risk_per_trade", self.max_risk_per_trade),
            ("max_risk_per_trade_pct", self.max_risk_per_trade_pct),
            ("max_gross", self.max_gross),
            ("max_gross_pct", self.max_gross_pct),
            ("max_position_pct", self.max_position_pct),
            ("max_sector_pct", self.max_sector_pct),
            ("daily_loss_limit", self.daily_loss_limit),
            ("daily_loss_limit_pct", self.daily_loss_limit_pct),
            ("max_order_qty", self.max_order_qty),
            ("max_order_notional", self.max_order_notional),
        ];
        for (k, v) in positive {
            if let Some(v) = v
                && !(v.is_finite() && v > 0.0)
            {
                return Err(format!("safety.{k}: must be a positive number (got {v})"));
            }
        }
        for (k, v) in [
            ("drawdown_throttle", self.drawdown_throttle),
            ("drawdown_block", self.drawdown_block),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && v > 0.0 && v < 1.0)
            {
                return Err(format!(
                    "safety.{k}: must be a fraction in (0, 1) (got {v})"
                ));
            }
        }
        if !(self.drawdown_scale.is_finite() && (0.0..=1.0).contains(&self.drawdown_scale)) {
            return Err(format!(
                "safety.drawdown_scale: must be in [0, 1] (got {})",
                self.drawdown_scale
            ));
        }
        if let Some(list) = &self.allowlist {
            for s in list {
                Symbol::new(s.as_str()).map_err(|e| format!("safety.allowlist: {e}"))?;
            }
        }
        Ok(())
    }

    fn cap(&self, abs: Option<f64>, pct: Option<f64>, equity: f64) -> Option<f64> {
        match (abs, pct.map(|p| p * equity)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The portfolio the gates judge against (after the day's exits and reductions).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GateContext {
    pub as_of: NaiveDate,
    pub equity: f64,
    pub kill_switch: bool,
    /// Orders move real money.
    pub live: bool,
    /// `--live` and `SYSTRADE_LIVE_CONFIRM` equal to the account id.
    pub live_confirmed: bool,
    /// Market value per held symbol (after planned exits and reductions).
    pub positions: BTreeMap<Symbol, f64>,
    pub sectors: BTreeMap<Symbol, String>,
    /// Equity change since the previous market day's run.
    pub day_pnl: f64,
    /// Fraction below the equity peak (≥ 0).
    pub drawdown: f64,
    /// New entries already made today (an earlier run of the same day).
    pub entries_today: usize,
    /// Symbols whose reconciliation mismatch is not acknowledged.
    pub mismatched: BTreeSet<Symbol>,
    /// The book's cash check found a difference no one acknowledged: no new risk anywhere.
    pub cash_mismatch: bool,
}

/// One order that adds risk.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub symbol: Symbol,
    /// Units to buy (positive).
    pub qty: f64,
    pub price: f64,
    /// The protective stop the position will get.
    pub stop: Option<f64>,
    /// A new position (not an add to one held).
    pub entry: bool,
    /// The decision's inputs are complete and fresh.
    pub data_ok: bool,
}

/// The verdict on one candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub decision: PortfolioDecision,
    /// Share of the order allowed (the drawdown throttle scales it down).
    pub scale: f64,
}

/// Judges the candidates in order; each allowed one counts against the limits of the next.
pub fn evaluate(
    limits: &SafetyLimits,
    ctx: &GateContext,
    candidates: &[Candidate],
) -> Vec<Verdict> {
    let equity = ctx.equity;
    let allow: Option<BTreeSet<&str>> = limits
        .allowlist
        .as_ref()
        .map(|l| l.iter().map(String::as_str).collect());
    let mut gross: f64 = ctx.positions.values().map(|v| v.abs()).sum();
    let mut open = ctx.positions.values().filter(|v| **v != 0.0).count();
    let mut entries = ctx.entries_today;
    let mut value = ctx.positions.clone();
    let sector_of = |s: &Symbol| {
        ctx.sectors
            .get(s)
            .cloned()
            .unwrap_or_else(|| "unknown".to_string())
    };
    let mut sector_gross: BTreeMap<String, f64> = BTreeMap::new();
    for (s, v) in &ctx.positions {
        *sector_gross.entry(sector_of(s)).or_default() += v.abs();
    }
    let loss_cap = limits.cap(limits.daily_loss_limit, limits.daily_loss_limit_pct, equity);
    let risk_cap = limits.cap(
        limits.max_risk_per_trade,
        limits.max_risk_per_trade_pct,
        equity,
    );
    let gross_cap = limits.cap(limits.max_gross, limits.max_gross_pct, equity);
    let throttled = limits.drawdown_throttle.is_some_and(|l| ctx.drawdown >= l);
    let dd_blocked = limits.drawdown_block.is_some_and(|l| ctx.drawdown >= l);

    let mut out = Vec::with_capacity(candidates.len());
    for c in candidates {
        let scale = if throttled {
            limits.drawdown_scale
        } else {
            1.0
        };
        let qty = c.qty * scale;
        let notional = qty * c.price;
        let mut why = Vec::new();
        if ctx.kill_switch {
            why.push(ReasonCode::KillSwitch);
        }
        if ctx.live && !ctx.live_confirmed {
            why.push(ReasonCode::LiveNotConfirmed);
        }
        if ctx.live && limits.live_from.is_some_and(|d| ctx.as_of < d) {
            why.push(ReasonCode::BeforeEnableDate);
        }
        if allow
            .as_ref()
            .is_some_and(|a| !a.contains(c.symbol.as_str()))
        {
            why.push(ReasonCode::NotAllowlisted);
        }
        if !(c.data_ok && c.price.is_finite() && c.price > 0.0) {
            why.push(ReasonCode::NoData);
        }
        if ctx.mismatched.contains(&c.symbol) {
            why.push(ReasonCode::ReconcileMismatch);
        }
        if ctx.cash_mismatch {
            why.push(ReasonCode::CashMismatch);
        }
        if let Some(cap) = risk_cap {
            // Without a stop the whole notional is at risk.
            let per_unit = c.stop.map_or(c.price, |s| (c.price - s).max(0.0));
            if qty * per_unit > cap {
                why.push(ReasonCode::RiskPerTrade);
            }
        }
        if gross_cap.is_some_and(|cap| gross + notional > cap) {
            why.push(ReasonCode::GrossExposure);
        }
        if c.entry && limits.max_positions.is_some_and(|n| open + 1 > n) {
            why.push(ReasonCode::MaxPositions);
        }
        if c.entry && limits.max_new_entries.is_some_and(|n| entries + 1 > n) {
            why.push(ReasonCode::MaxNewEntries);
        }
        let held = value.get(&c.symbol).copied().unwrap_or(0.0);
        if limits
            .max_position_pct
            .is_some_and(|p| held.abs() + notional > p * equity)
        {
            why.push(ReasonCode::Concentration);
        }
        let sector = sector_of(&c.symbol);
        let sg = sector_gross.get(&sector).copied().unwrap_or(0.0);
        if limits
            .max_sector_pct
            .is_some_and(|p| sg + notional > p * equity)
        {
            why.push(ReasonCode::SectorLimit);
        }
        if loss_cap.is_some_and(|cap| ctx.day_pnl <= -cap) {
            why.push(ReasonCode::DailyLossLimit);
        }
        if dd_blocked || (throttled && scale == 0.0) {
            why.push(ReasonCode::DrawdownThrottle);
        }
        if limits.max_order_qty.is_some_and(|m| qty > m)
            || limits.max_order_notional.is_some_and(|m| notional > m)
        {
            why.push(ReasonCode::OrderSize);
        }
        let decision = PortfolioDecision::from_reasons(c.symbol.clone(), why);
        if decision.reasons.is_empty() {
            gross += notional;
            *value.entry(c.symbol.clone()).or_default() += notional;
            *sector_gross.entry(sector).or_default() += notional;
            if c.entry {
                open += 1;
                entries += 1;
            }
        }
        out.push(Verdict { decision, scale });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use systrade_core::contracts::Action;

    fn s(x: &str) -> Symbol {
        Symbol::new(x).unwrap()
    }

    fn ctx() -> GateContext {
        GateContext {
            as_of: NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
            equity: 100_000.0,
            positions: BTreeMap::from([(s("AAA"), 20_000.0)]),
            ..GateContext::default()
        }
    }

    fn buy(sym: &str, qty: f64, entry: bool) -> Candidate {
        Candidate {
            symbol: s(sym),
            qty,
            price: 100.0,
            stop: Some(90.0),
            entry,
            data_ok: true,
        }
    }

    fn codes(v: &Verdict) -> Vec<ReasonCode> {
        v.decision.reasons.clone()
    }

    #[test]
    fn test_no_limits_allow_everything() {
        let v = evaluate(&SafetyLimits::default(), &ctx(), &[buy("BBB", 100.0, true)]);
        assert_eq!(v[0].decision.action, Action::Allow);
        assert_eq!(v[0].scale, 1.0);
    }

    /// Each gate, alone, blocks with its own code exactly when its limit is crossed.
    #[test]
    fn test_each_gate_blocks_with_its_code() {
        let one =
            |l: SafetyLimits, c: GateContext, cand: Candidate| codes(&evaluate(&l, &c, &[cand])[0]);
        let l = SafetyLimits::default;
        let mut k = ctx();
        k.kill_switch = true;
        assert_eq!(one(l(), k, buy("BBB", 1.0, true)), [ReasonCode::KillSwitch]);
        let mut live = ctx();
        live.live = true;
        assert_eq!(
            one(l(), live.clone(), buy("BBB", 1.0, true)),
            [ReasonCode::LiveNotConfirmed]
        );
        live.live_confirmed = true;
        let lf = SafetyLimits {
            live_from: NaiveDate::from_ymd_opt(2024, 6, 1),
            ..l()
        };
        assert_eq!(
            one(lf.clone(), live.clone(), buy("BBB", 1.0, true)),
            [ReasonCode::BeforeEnableDate]
        );
        // Paper is not held to the live enable date.
        assert!(one(lf, ctx(), buy("BBB", 1.0, true)).is_empty());
        let al = SafetyLimits {
            allowlist: Some(vec!["AAA".into()]),
            ..l()
        };
        assert_eq!(
            one(al.clone(), ctx(), buy("BBB", 1.0, true)),
            [ReasonCode::NotAllowlisted]
        );
        assert!(one(al, ctx(), buy("AAA", 1.0, false)).is_empty());
        // Risk: 100 units × (100 − 90) = 1000.
        let r = SafetyLimits {
            max_risk_per_trade: Some(999.0),
            ..l()
        };
        assert_eq!(
            one(r, ctx(), buy("BBB", 100.0, true)),
            [ReasonCode::RiskPerTrade]
        );
        let r = SafetyLimits {
            max_risk_per_trade_pct: Some(0.01),
            ..l()
        };
        assert!(
            one(r, ctx(), buy("BBB", 100.0, true)).is_empty(),
            "1000 ≤ 1% of 100k"
        );
        // Gross: 20k held + 10k.
        let g = SafetyLimits {
            max_gross_pct: Some(0.29),
            ..l()
        };
        assert_eq!(
            one(g, ctx(), buy("BBB", 100.0, true)),
            [ReasonCode::GrossExposure]
        );
        let mp = SafetyLimits {
            max_positions: Some(1),
            ..l()
        };
        assert_eq!(
            one(mp.clone(), ctx(), buy("BBB", 1.0, true)),
            [ReasonCode::MaxPositions]
        );
        assert!(
            one(mp, ctx(), buy("AAA", 1.0, false)).is_empty(),
            "an add is no new position"
        );
        let mut today = ctx();
        today.entries_today = 2;
        let me = SafetyLimits {
            max_new_entries: Some(2),
            ..l()
        };
        assert_eq!(
            one(me, today, buy("BBB", 1.0, true)),
            [ReasonCode::MaxNewEntries]
        );
        let c = SafetyLimits {
            max_position_pct: Some(0.2),
            ..l()
        };
        assert_eq!(
            one(c, ctx(), buy("AAA", 1.0, false)),
            [ReasonCode::Concentration]
        );
        let mut sec = ctx();
        sec.sectors = BTreeMap::from([(s("AAA"), "tech".into()), (s("BBB"), "tech".into())]);
        let sl = SafetyLimits {
            max_sector_pct: Some(0.25),
            ..l()
        };
        assert_eq!(
            one(sl, sec, buy("BBB", 60.0, true)),
            [ReasonCode::SectorLimit]
        );
        let mut loss = ctx();
        loss.day_pnl = -2_000.0;
        let dl = SafetyLimits {
            daily_loss_limit_pct: Some(0.02),
            ..l()
        };
        assert_eq!(
            one(dl, loss, buy("BBB", 1.0, true)),
            [ReasonCode::DailyLossLimit]
        );
        let mut dd = ctx();
        dd.drawdown = 0.3;
        let db = SafetyLimits {
            drawdown_block: Some(0.25),
            ..l()
        };
        assert_eq!(
            one(db, dd.clone(), buy("BBB", 1.0, true)),
            [ReasonCode::DrawdownThrottle]
        );
        let dt = SafetyLimits {
            drawdown_throttle: Some(0.1),
            ..l()
        };
        let v = evaluate(&dt, &dd, &[buy("BBB", 10.0, true)]);
        assert_eq!(v[0].decision.action, Action::Allow);
        assert_eq!(v[0].scale, 0.5, "throttled, not blocked");
        let os = SafetyLimits {
            max_order_notional: Some(5_000.0),
            ..l()
        };
        assert_eq!(
            one(os, ctx(), buy("BBB", 60.0, true)),
            [ReasonCode::OrderSize]
        );
        let mut nd = buy("BBB", 1.0, true);
        nd.data_ok = false;
        assert_eq!(one(l(), ctx(), nd), [ReasonCode::NoData]);
        let mut mm = ctx();
        mm.mismatched.insert(s("BBB"));
        assert_eq!(
            one(l(), mm, buy("BBB", 1.0, true)),
            [ReasonCode::ReconcileMismatch]
        );
        let cash = GateContext {
            cash_mismatch: true,
            ..ctx()
        };
        assert_eq!(
            one(l(), cash, buy("AAA", 1.0, true)),
            [ReasonCode::CashMismatch]
        );
    }

    #[test]
    fn test_allowed_candidates_count_against_the_next() {
        let l = SafetyLimits {
            max_new_entries: Some(1),
            max_gross_pct: Some(0.45),
            ..SafetyLimits::default()
        };
        let v = evaluate(
            &l,
            &ctx(),
            &[
                buy("BBB", 100.0, true),
                buy("CCC", 100.0, true),
                buy("AAA", 100.0, false),
            ],
        );
        assert_eq!(v[0].decision.action, Action::Allow);
        assert_eq!(codes(&v[1]), [ReasonCode::MaxNewEntries]);
        // 20k + 10k + 10k > 45k? no: 40k ≤ 45k — the add passes.
        assert_eq!(v[2].decision.action, Action::Allow);
    }

    #[test]
    fn test_bad_limits_name_their_key() {
        let l = SafetyLimits {
            max_gross_pct: Some(-1.0),
            ..SafetyLimits::default()
        };
        assert!(l.validate().unwrap_err().contains("safety.max_gross_pct"));
        let l = SafetyLimits {
            drawdown_block: Some(1.5),
            ..SafetyLimits::default()
        };
        assert!(l.validate().unwrap_err().contains("safety.drawdown_block"));
    }
}
