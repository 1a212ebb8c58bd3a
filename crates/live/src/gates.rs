//! Steps 5 and 6 of the day: the orders the strategy wants become planned orders on the
//! lot grid, the entries and adds meet the portfolio decisions (ALLOW/BLOCK with reasons,
//! enforced from the decisions artifact, failing closed), and the execution level holds back
//! what waits for approval. Exits, reductions and stops are never gated.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use systrade_backtest::{dec, f};
use systrade_broker::{Broker, OrderRequest, OrderStatus, OrderType, TimeInForce};
use systrade_core::Symbol;
use systrade_core::contracts::{Action, ClientOrderId, PortfolioDecision, ReasonCode, Side};
use systrade_core::fsio::write_json_atomic;
use systrade_risk::{Candidate, GateContext, Verdict, evaluate};
use systrade_store::LedgerOrder;
use systrade_store::{Approval, Purpose};

use crate::day::{Connected, DayInputs, DayRun, Decided, boundary, qty_text};
use crate::desk::{DayBook, Want};

/// An order the day wants, with the gate's verdict.
#[derive(Debug, Clone)]
pub struct Planned {
    pub req: OrderRequest,
    pub purpose: Purpose,
    pub reason: String,
    /// Reasons it was blocked (empty: it goes out).
    pub blocked: Vec<ReasonCode>,
    /// An entry or add (gated); exits, reductions and stops are not.
    pub adds_risk: bool,
    /// Held back by the execution level: `pending` (waits for `systrade approve`) or
    /// `manual` (never sent).
    pub hold: Option<Approval>,
    /// The last close the order was decided on.
    pub decision_price: Option<Decimal>,
}

impl Planned {
    /// Goes to the broker today: not blocked, not held back.
    pub fn goes_out(&self) -> bool {
        self.blocked.is_empty() && self.hold.is_none()
    }
}

/// Steps 5–6's outcome.
pub struct Gated {
    pub planned: Vec<Planned>,
    pub verdicts: Vec<Verdict>,
    pub kill_switch: bool,
    /// The book's equity at each completed day before this one.
    pub before: Vec<f64>,
}

/// The kill switch: `run.kill_switch_file` under the home exists, or SYSTRADE_KILL_SWITCH
/// is set (1, true, yes, on). Either blocks new entries and adds; exits and stops go on.
pub fn kill_switch(home: &std::path::Path, run: &systrade_config::run::RunSection) -> bool {
    home.join(&run.kill_switch_file).exists()
        || std::env::var("SYSTRADE_KILL_SWITCH")
            .is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes" | "on"))
}

/// The ledger's record of a planned order in `status`.
pub fn ledger_order(x: &DayInputs<'_>, p: &Planned, status: OrderStatus) -> LedgerOrder {
    LedgerOrder {
        client_order_id: p.req.client_order_id.clone(),
        strategy: x.name.to_string(),
        market_day: x.market_day,
        symbol: p.req.symbol.clone(),
        side: p.req.side,
        kind: crate::orders::kind_of(&p.req.order_type),
        qty: p.req.qty,
        stop_price: p.req.order_type.stop_price(),
        purpose: p.purpose,
        status,
        broker_order_id: None,
        filled_qty: Decimal::ZERO,
        avg_price: None,
        note: if p.blocked.is_empty() {
            None
        } else {
            Some(
                p.blocked
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            )
        },
        decision_price: p.decision_price,
        limit_price: p.req.order_type.limit_price(),
        approval: p.hold,
    }
}

/// The wanted orders as requests, sells first (their cash pays the buys, as the backtest
/// fills them).
fn plan(
    name: &str,
    day: NaiveDate,
    wants: &mut [Want],
    closes: &BTreeMap<Symbol, f64>,
) -> anyhow::Result<Vec<Planned>> {
    wants.sort_by_key(|w| (w.delta > Decimal::ZERO, w.symbol.clone(), w.adds_risk));
    let mut planned = Vec::new();
    for w in wants.iter() {
        let side = if w.delta > Decimal::ZERO {
            Side::Buy
        } else {
            Side::Sell
        };
        planned.push(Planned {
            req: OrderRequest {
                client_order_id: ClientOrderId::for_book(
                    name,
                    day,
                    &w.symbol,
                    side,
                    w.purpose.as_str(),
                )?,
                symbol: w.symbol.clone(),
                side,
                qty: w.delta.abs(),
                order_type: match w.limit {
                    Some(limit) => OrderType::Limit { limit },
                    None => OrderType::Market,
                },
                tif: TimeInForce::Day,
                session: day,
            },
            purpose: w.purpose,
            reason: w.reason.clone(),
            blocked: Vec::new(),
            adds_risk: w.adds_risk,
            hold: None,
            decision_price: closes.get(&w.symbol).map(|c| dec(*c)),
        });
    }
    Ok(planned)
}

/// The book after the exits and reductions, which never wait for a gate: value per symbol.
fn after_exits(
    book: &DayBook,
    wants: &[Want],
    closes: &BTreeMap<Symbol, f64>,
) -> BTreeMap<Symbol, f64> {
    let mut after = BTreeMap::new();
    for (s, q) in &book.positions {
        let reduced: Decimal = wants
            .iter()
            .filter(|w| &w.symbol == s && !w.adds_risk)
            .map(|w| w.delta)
            .sum();
        let v = f(*q + reduced) * closes.get(s).copied().unwrap_or(0.0);
        if v != 0.0 {
            after.insert(s.clone(), v);
        }
    }
    after
}

/// Reads a decisions artifact: the date must be the market day and every entry valid.
fn read_decisions(
    path: &Path,
    day: NaiveDate,
) -> Result<BTreeMap<Symbol, PortfolioDecision>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("missing: {e}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("invalid JSON: {e}"))?;
    let as_of = v["as_of"].as_str().ok_or("invalid: no as_of")?;
    if as_of != day.to_string() {
        return Err(format!("for another date: {as_of}, not {day}"));
    }
    let list = v["decisions"]
        .as_array()
        .ok_or("invalid: no decisions array")?;
    let mut out = BTreeMap::new();
    for d in list {
        let pd: PortfolioDecision = serde_json::from_value(
            json!({"symbol": d["symbol"], "action": d["action"], "reasons": d["reasons"]}),
        )
        .map_err(|e| format!("invalid decision {d}: {e}"))?;
        out.insert(pd.symbol.clone(), pd);
    }
    Ok(out)
}

impl<B: Broker + ?Sized> DayRun<'_, B> {
    /// Step 5: the portfolio decisions for the orders that add risk, written as
    /// `decisions_D.json` and recorded; then the enforcement and the execution level.
    pub(crate) fn gate(
        &mut self,
        book: &DayBook,
        decided: &Decided,
        connected: &Connected,
    ) -> anyhow::Result<Gated> {
        let (name, day) = (self.x.name, self.x.market_day);
        let closes = &decided.closes;
        let mut wants = decided.dd.wants.clone();
        let mut planned = plan(name, day, &mut wants, closes)?;
        let before: Vec<f64> = self
            .ledger
            .equity(name)?
            .iter()
            .filter(|(d, _)| *d < day)
            .map(|(_, e)| f(*e))
            .collect();
        let equity = decided.equity;
        let peak = before.iter().copied().fold(equity, f64::max);
        let own_ids: BTreeSet<&ClientOrderId> =
            planned.iter().map(|p| &p.req.client_order_id).collect();
        let entries_today = self
            .ledger
            .orders_for_day(name, day)?
            .iter()
            .filter(|o| o.purpose == Purpose::Entry && !own_ids.contains(&o.client_order_id))
            .filter(|o| {
                !matches!(
                    o.status,
                    OrderStatus::Rejected | OrderStatus::Staged | OrderStatus::Canceled
                )
            })
            .count();
        let kill_switch = kill_switch(self.x.home, self.desk.run_cfg());
        let gctx = GateContext {
            as_of: day,
            equity,
            kill_switch,
            live: connected.live,
            live_confirmed: connected.live_confirmed,
            positions: after_exits(book, &wants, closes),
            sectors: self.desk.sectors(),
            day_pnl: before.last().map_or(0.0, |prev| equity - prev),
            drawdown: if peak > 0.0 {
                (1.0 - equity / peak).max(0.0)
            } else {
                0.0
            },
            entries_today,
            mismatched: self.ledger.unresolved_mismatches(name)?,
            cash_mismatch: self.ledger.cash_mismatch(name)?.is_some(),
        };
        let buys: Vec<usize> = (0..planned.len())
            .filter(|&i| planned[i].adds_risk)
            .collect();
        let candidates: Vec<Candidate> = buys
            .iter()
            .map(|&i| {
                let w = &wants[i];
                Candidate {
                    symbol: w.symbol.clone(),
                    qty: f(w.delta.abs()),
                    price: closes.get(&w.symbol).copied().unwrap_or(0.0),
                    stop: w.stop,
                    entry: w.entry,
                    data_ok: w.data_ok,
                }
            })
            .collect();
        let verdicts = evaluate(self.desk.safety(), &gctx, &candidates);
        self.record_decisions(&verdicts)?;
        self.enforce(&buys, &verdicts, &mut planned)?;
        // The execution level holds orders back: semi-auto ones above the threshold wait for
        // `systrade approve`, manual ones are never sent.
        for p in planned.iter_mut().filter(|p| p.blocked.is_empty()) {
            let notional = f(p.req.qty) * closes.get(&p.req.symbol).copied().unwrap_or(0.0);
            p.hold = self.desk.execution().hold(notional);
        }
        Ok(Gated {
            planned,
            verdicts,
            kill_switch,
            before,
        })
    }

    /// Writes `decisions_D.json`, logs and records each verdict (step 5).
    fn record_decisions(&mut self, verdicts: &[Verdict]) -> anyhow::Result<()> {
        let (name, day) = (self.x.name, self.x.market_day);
        let enforced = self.desk.decisions().enforced();
        let batch = json!({
            "as_of": day,
            "strategy": name,
            "mode": self.desk.decisions().mode,
            "decisions": verdicts.iter().map(|v| json!({
                "symbol": v.decision.symbol, "action": v.decision.action,
                "reasons": v.decision.reasons, "scale": v.scale,
            })).collect::<Vec<_>>(),
        });
        write_json_atomic(&self.decisions_path(), &batch)?;
        for v in verdicts {
            self.logs.write(
                "decisions",
                Some(v.decision.symbol.as_str()),
                if v.decision.reasons.is_empty() {
                    "allow"
                } else {
                    v.decision.reasons[0].as_str()
                },
                json!({"action": v.decision.action, "reasons": v.decision.reasons, "scale": v.scale,
                       "enforced": enforced}),
            );
        }
        self.step(5, "portfolio_decisions", |w| {
            for v in verdicts {
                w.record_decision(name, day, &v.decision, enforced)?;
            }
            Ok(())
        })?;
        boundary(5);
        Ok(())
    }

    fn decisions_path(&self) -> std::path::PathBuf {
        self.x
            .folder
            .join(format!("decisions_{}.json", self.x.market_day))
    }

    /// Enforcement reads the decision artifact back and fails closed; the hard gates hold in
    /// shadow mode too; a drawdown throttle scales the quantity down.
    fn enforce(
        &mut self,
        buys: &[usize],
        verdicts: &[Verdict],
        planned: &mut [Planned],
    ) -> anyhow::Result<()> {
        let day = self.x.market_day;
        let enforced = self.desk.decisions().enforced();
        let applied: BTreeMap<Symbol, PortfolioDecision> = if enforced {
            let path = match &self.desk.decisions().file {
                Some(t) => systrade_config::resolve(
                    self.x.config,
                    Path::new(&t.replace("{date}", &day.to_string())),
                ),
                None => self.decisions_path(),
            };
            match read_decisions(&path, day) {
                Ok(m) => m,
                Err(why) => {
                    self.logs.write(
                        "errors",
                        None,
                        "decision_missing",
                        json!({"file": path.display().to_string(), "error": why}),
                    );
                    BTreeMap::new()
                }
            }
        } else {
            BTreeMap::new()
        };
        for (k, &i) in buys.iter().enumerate() {
            let v = &verdicts[k];
            let p = &mut planned[i];
            let mut reasons: Vec<ReasonCode> = if enforced {
                match applied.get(&p.req.symbol) {
                    Some(d) if d.action == Action::Allow => Vec::new(),
                    Some(d) => d.reasons.clone(),
                    None => vec![ReasonCode::DecisionMissing],
                }
            } else {
                Vec::new()
            };
            reasons.extend(v.decision.reasons.iter().copied().filter(|r| r.is_hard()));
            reasons.sort();
            reasons.dedup();
            p.blocked = reasons;
            if p.blocked.is_empty() && v.scale < 1.0 {
                let step = self.desk.qty_step();
                let scaled = (p.req.qty * dec(v.scale) / step).trunc() * step;
                if scaled.is_zero() {
                    p.blocked = vec![ReasonCode::DrawdownThrottle];
                } else {
                    p.req.qty = scaled;
                }
            }
        }
        Ok(())
    }

    /// Step 6: the day's orders in the ledger (staged, or rejected with their reasons), and
    /// yesterday's unapproved orders expired.
    pub(crate) fn build_orders(&mut self, gated: &Gated) -> anyhow::Result<()> {
        let (name, day) = (self.x.name, self.x.market_day);
        // Approvals are for one session: what was not approved before it expires.
        let mut expired: Vec<LedgerOrder> = self
            .ledger
            .pending(Some(name))?
            .into_iter()
            .filter(|o| o.market_day < day)
            .collect();
        for o in &mut expired {
            o.status = OrderStatus::Expired;
            o.note = Some(format!("not approved before its session {}", o.market_day));
        }
        let staged: Vec<LedgerOrder> = gated
            .planned
            .iter()
            .map(|p| {
                ledger_order(
                    self.x,
                    p,
                    if p.blocked.is_empty() {
                        OrderStatus::Staged
                    } else {
                        OrderStatus::Rejected
                    },
                )
            })
            .collect();
        let known: BTreeSet<ClientOrderId> = self
            .ledger
            .orders_for_day(name, day)?
            .into_iter()
            .map(|o| o.client_order_id)
            .collect();
        self.step(6, "build_orders", |w| {
            for o in staged
                .iter()
                .filter(|o| !known.contains(&o.client_order_id))
            {
                w.upsert_order(o)?;
            }
            for o in &expired {
                w.upsert_order(o)?;
            }
            Ok(())
        })?;
        for p in &gated.planned {
            self.logs.write(
                "order_build",
                Some(p.req.symbol.as_str()),
                match (p.blocked.first(), p.hold) {
                    (Some(r), _) => r.as_str(),
                    (None, Some(Approval::Pending)) => "awaiting_approval",
                    (None, Some(_)) => "manual",
                    (None, None) => p.purpose.as_str(),
                },
                json!({"client_order_id": p.req.client_order_id, "side": p.req.side,
                       "qty": qty_text(p.req.qty), "purpose": p.purpose, "strategy_reason": p.reason,
                       "blocked": p.blocked, "hold": p.hold,
                       "decision_price": p.decision_price.map(qty_text)}),
            );
        }
        boundary(6);
        Ok(())
    }
}
