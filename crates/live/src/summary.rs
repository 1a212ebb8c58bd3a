//! Step 14 of the day: the artifacts a person and the reports read (the final positions,
//! the portfolio snapshot, the orders CSV, `daily_summary_D.json`), the done flag, then the
//! alerts (a failed alert is logged, never fatal) and the one line the run prints.

use std::collections::BTreeMap;
use std::path::PathBuf;

use systrade_backtest::f;
use systrade_broker::{Broker, OrderStatus};
use systrade_core::contracts::Action;
use systrade_core::fsio::{write_atomic, write_json_atomic};

use crate::day::{DayRun, Decided, boundary, qty_text};
use crate::gates::Gated;
use crate::reconcile::Reconciled;
use systrade_desk::artifacts::{
    ArtifactNames, BlockedOrder, DailySummary, DecisionSummary, HeldBack, OrderSummary,
    PortfolioSnapshot, ReconSummary, RunStamp, SnapshotPosition,
};

impl<B: Broker + ?Sized> DayRun<'_, B> {
    /// Step 14: artifacts and the done flag; then notify and print the day's line.
    pub(crate) fn persist(
        &mut self,
        decided: &Decided,
        gated: &Gated,
        recon: &Reconciled,
    ) -> anyhow::Result<PathBuf> {
        let (name, day) = (self.x.name, self.x.market_day);
        let account = self.call("account", |b| b.account())?;
        let (gross, net, positions) = self.write_positions(decided, recon)?;
        let eq_f = f(account.equity);
        let peak_now = gated.before.iter().copied().fold(eq_f, f64::max);
        let snapshot = PortfolioSnapshot {
            as_of: day,
            strategy: name.to_string(),
            capital: eq_f,
            cash: f(account.cash),
            gross,
            net,
            positions,
            drawdown: if peak_now > 0.0 {
                (1.0 - eq_f / peak_now).max(0.0)
            } else {
                0.0
            },
        };
        write_json_atomic(
            &self.x.folder.join(format!("portfolio_snapshot_{day}.json")),
            &snapshot,
        )?;
        let orders_today = self.ledger.orders_for_day(name, day)?;
        write_atomic(
            &self.x.folder.join(format!("orders_{day}.csv")),
            crate::orders::orders_csv(&orders_today).as_bytes(),
        )?;
        let awaiting: Vec<HeldBack> = orders_today
            .iter()
            .filter(|o| o.status == OrderStatus::Staged && o.approval.is_some())
            .map(|o| HeldBack {
                client_order_id: o.client_order_id.0.clone(),
                symbol: o.symbol.clone(),
                side: o.side,
                qty: qty_text(o.qty),
                purpose: o.purpose,
                approval: o.approval,
                notional: o.decision_price.map(|p| f(p * o.qty)),
            })
            .collect();
        let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
        for o in &orders_today {
            *by_status.entry(o.status.as_str().to_string()).or_default() += 1;
        }
        let mut stop_status: BTreeMap<String, usize> = BTreeMap::new();
        for (_, s, _) in &self.stop_log {
            *stop_status.entry((*s).to_string()).or_default() += 1;
        }
        let blocked: Vec<BlockedOrder> = gated
            .planned
            .iter()
            .filter(|p| !p.blocked.is_empty())
            .map(|p| BlockedOrder {
                symbol: p.req.symbol.clone(),
                qty: qty_text(p.req.qty),
                reasons: p.blocked.clone(),
                why: p.blocked.iter().map(|r| r.describe().to_string()).collect(),
            })
            .collect();
        let n_blocked = blocked.len();
        let dd = &decided.dd;
        let summary_path = self.x.folder.join(format!("daily_summary_{day}.json"));
        let summary = DailySummary {
            as_of: day,
            strategy: name.to_string(),
            broker: self.x.broker.as_str().to_string(),
            account: self.x.account.to_string(),
            dry_run: self.x.dry_run,
            decided_on_bars_through: dd.decided_through,
            equity: eq_f,
            cash: f(account.cash),
            gross_exposure: if eq_f != 0.0 { gross / eq_f } else { 0.0 },
            positions: recon.held.len(),
            targets: dd.targets.clone(),
            no_data: dd.no_data.clone(),
            decisions: DecisionSummary {
                mode: self.desk.decisions().mode.clone(),
                kill_switch: gated.kill_switch,
                allowed: gated
                    .verdicts
                    .iter()
                    .filter(|v| v.decision.action == Action::Allow)
                    .count(),
                blocked,
            },
            orders: OrderSummary {
                planned: gated.planned.len(),
                by_status,
                execution_level: self.desk.execution().level.clone(),
                held_back: awaiting,
            },
            stops: stop_status,
            reconciliation: ReconSummary {
                mismatches: recon.mismatch_lines(),
                one_stop_per_position: recon.one_stop_per_position,
                violations: recon.violations.clone(),
                cash: Some(crate::reconcile::cash_line(&recon.cash)),
            },
            logs: self.logs.counts.clone(),
            artifacts: ArtifactNames::of_day(day),
            run: self.x.stamp_artifacts.then(|| RunStamp {
                run_id: self.run_id.to_string(),
                started_utc: self.x.now.to_string(),
            }),
        };
        write_json_atomic(&summary_path, &summary)?;
        if !self.x.dry_run {
            let equity = account.equity;
            self.step(14, "persist_artifacts", |w| {
                w.record_equity(name, day, equity)?;
                w.mark_done(name, day)
            })?;
            write_atomic(
                &self.x.folder.join("done"),
                format!("{}\n", self.run_id).as_bytes(),
            )?;
        }
        boundary(14);
        let alerts = crate::notify::alerts_of(&summary, &self.logs.errors);
        crate::notify::deliver(self.desk.run_cfg(), &alerts, self.logs);
        println!(
            "{name} {day}{}: equity {eq_f:.2}, {} positions, orders {}, {n_blocked} blocked, stops {}, reconciliation {}",
            if self.x.dry_run { " (dry run)" } else { "" },
            recon.held.len(),
            orders_today.len(),
            if summary.stops.is_empty() {
                "none".to_string()
            } else {
                summary
                    .stops
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            if recon.clean() {
                "clean".to_string()
            } else {
                format!(
                    "{} mismatches, {} stop-invariant violations{}",
                    recon.mismatches(),
                    recon.violations.len(),
                    if recon.cash.status == systrade_store::CashStatus::Mismatch {
                        format!(
                            ", cash mismatch {} (broker {}, ledger {})",
                            qty_text(recon.cash.difference),
                            qty_text(recon.cash.broker),
                            qty_text(recon.cash.ledger)
                        )
                    } else {
                        String::new()
                    }
                )
            }
        );
        Ok(summary_path)
    }

    /// `snapshots/final.csv` of the positions held at the end with their stops; returns the
    /// gross and net exposure and the snapshot's positions.
    fn write_positions(
        &mut self,
        decided: &Decided,
        recon: &Reconciled,
    ) -> anyhow::Result<(f64, f64, Vec<SnapshotPosition>)> {
        let final_stops = self.ledger.stops(self.x.name)?;
        let mut gross = 0.0;
        let mut net = 0.0;
        let mut csv = String::from("symbol,qty,last_close,value,stop,stop_qty\n");
        let mut positions = Vec::new();
        for p in &recon.held {
            let c = decided.closes.get(&p.symbol).copied().unwrap_or(0.0);
            let v = f(p.qty) * c;
            gross += v.abs();
            net += v;
            let st = final_stops.get(&p.symbol);
            csv.push_str(&format!(
                "{},{},{},{:.2},{},{}\n",
                p.symbol,
                qty_text(p.qty),
                systrade_core::json::shortest(c),
                v,
                st.map(|s| qty_text(s.level)).unwrap_or_default(),
                st.map(|s| qty_text(s.qty)).unwrap_or_default()
            ));
            positions.push(SnapshotPosition {
                symbol: p.symbol.clone(),
                qty: qty_text(p.qty),
                avg_price: qty_text(p.avg_price.round_dp(8)),
                last_close: c,
                value: v,
                stop: st.map(|s| qty_text(s.level)),
            });
        }
        write_atomic(&self.x.folder.join("snapshots/final.csv"), csv.as_bytes())?;
        Ok((gross, net, positions))
    }
}
