//! Step 14's notifications: alerts to Slack and to a JSON webhook (the run summary, blocked
//! entries, reconciliation mismatches, errors) and, after the run, the newsletter by SMTP.
//! A failure is logged and printed as a warning; it never fails the run. URLs and passwords
//! come from the environment and never reach a log or the terminal.

use std::time::Duration;

use serde_json::json;
use systrade_config::run::RunSection;
use systrade_core::Symbol;
use systrade_desk::artifacts::DailySummary;
use systrade_report::format::money;
use systrade_report::webhook::{Alert, AlertKind, Poster, json_payload, slack_payload};

use crate::logs::Logs;

/// The alerts of a finished run: always its summary; blocked entries, reconciliation
/// mismatches (and stop-invariant violations) and the run's error records when any.
pub fn alerts_of(summary: &DailySummary, errors: &[String]) -> Vec<Alert> {
    let strategy = summary.strategy.clone();
    let day = summary.as_of.to_string();
    let by_status = summary
        .orders
        .by_status
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut lines = vec![
        format!(
            "equity {} · cash {} · gross {}",
            money(summary.equity),
            money(summary.cash),
            systrade_report::tearsheet::pct(summary.gross_exposure)
        ),
        format!(
            "{} positions · orders: {}",
            summary.positions,
            if by_status.is_empty() {
                "none".into()
            } else {
                by_status
            }
        ),
    ];
    let held = summary.orders.held_back.len();
    if held > 0 {
        lines.push(format!(
            "{held} orders wait for approval (systrade approve)"
        ));
    }
    if !summary.no_data.is_empty() {
        lines.push(format!("no data: {}", Symbol::join(&summary.no_data)));
    }
    let mut out = vec![Alert {
        kind: AlertKind::RunSummary,
        strategy: strategy.clone(),
        day: day.clone(),
        title: format!(
            "{strategy} {day}{}: equity {}",
            if summary.dry_run { " (dry run)" } else { "" },
            money(summary.equity)
        ),
        lines,
        data: json!(summary),
    }];
    if !summary.no_data.is_empty() {
        out.push(Alert {
            kind: AlertKind::StaleData,
            strategy: strategy.clone(),
            day: day.clone(),
            title: format!(
                "{strategy} {day}: stale data for {} symbols — no new risk there",
                summary.no_data.len()
            ),
            lines: summary
                .no_data
                .iter()
                .map(|s| format!("{s}: no decision bar; stop kept as it is"))
                .collect(),
            data: json!({"no_data": summary.no_data}),
        });
    }
    let blocked = &summary.decisions.blocked;
    if !blocked.is_empty() {
        out.push(Alert {
            kind: AlertKind::BlockedEntries,
            strategy: strategy.clone(),
            day: day.clone(),
            title: format!("{strategy} {day}: {} entries blocked", blocked.len()),
            lines: blocked
                .iter()
                .map(|b| format!("{} {}: {}", b.symbol, b.qty, b.why.join("; ")))
                .collect(),
            data: json!({"blocked": blocked}),
        });
    }
    let mismatches = &summary.reconciliation.mismatches;
    let violations = &summary.reconciliation.violations;
    let cash = summary
        .reconciliation
        .cash
        .as_ref()
        .filter(|c| c.status == "mismatch");
    if !mismatches.is_empty() || !violations.is_empty() || cash.is_some() {
        let mut lines: Vec<String> = mismatches
            .iter()
            .map(|m| {
                format!(
                    "{}: {} (broker {}, ledger {})",
                    m.symbol, m.status, m.broker_qty, m.ledger_qty
                )
            })
            .collect();
        lines.extend(violations.iter().map(|v| {
            format!(
                "{}: {} protective stops open (one expected)",
                v.symbol, v.open_stops
            )
        }));
        if let Some(c) = cash {
            lines.push(format!(
                "cash: broker {}, ledger {} (difference {}): no new risk until `systrade reconcile --ack-cash`",
                c.broker, c.ledger, c.difference
            ));
        }
        if !mismatches.is_empty() || !violations.is_empty() {
            lines.push(
                "new entries in these symbols wait until `systrade reconcile --ack` or the next clean run"
                    .into(),
            );
        }
        out.push(Alert {
            kind: AlertKind::ReconciliationMismatch,
            strategy: strategy.clone(),
            day: day.clone(),
            title: format!(
                "{strategy} {day}: {} reconciliation mismatches, {} stop-invariant violations",
                mismatches.len(),
                violations.len()
            ),
            lines,
            data: json!({"mismatches": mismatches, "violations": violations, "cash": cash}),
        });
    }
    // Mismatches are logged as errors too (as "SYMBOL: status"); they have their own alert.
    let logged: Vec<String> = mismatches
        .iter()
        .map(|m| format!("{}: {}", m.symbol, m.status))
        .chain(cash.map(|_| "cash_mismatch".to_string()))
        .collect();
    let other: Vec<String> = errors
        .iter()
        .filter(|e| !logged.contains(e))
        .cloned()
        .collect();
    if !other.is_empty() {
        out.push(error_alert(&strategy, &day, other));
    }
    if summary.dry_run {
        // A dry run's alerts say so, every one.
        let head = format!("{strategy} {day}");
        for a in out.iter_mut().skip(1) {
            a.title = a.title.replacen(&head, &format!("{head} (dry run)"), 1);
        }
    }
    out
}

/// An alert for errors: a failed run, or error records of a finished one.
pub fn error_alert(strategy: &str, day: &str, lines: Vec<String>) -> Alert {
    Alert {
        kind: AlertKind::Error,
        strategy: strategy.to_string(),
        day: day.to_string(),
        title: format!("{strategy} {day}: {} errors", lines.len()),
        data: json!({"errors": lines}),
        lines,
    }
}

fn poster(rc: &RunSection) -> Poster {
    Poster {
        timeout: Duration::from_secs_f64(rc.notify_timeout_secs),
        retries: rc.notify_retries,
        ..Poster::default()
    }
}

/// Posts the alerts to every configured channel; each outcome is logged (`notify` when
/// sent, `errors`/`notify_failed` when not), the channel named, never its URL.
pub fn deliver(rc: &RunSection, alerts: &[Alert], logs: &mut Logs) {
    let kinds: Vec<AlertKind> = alerts.iter().map(|a| a.kind).collect();
    for (channel, env, body) in [
        ("slack", &rc.notify_slack_env, slack_payload(alerts)),
        ("webhook", &rc.notify_webhook_env, json_payload(alerts)),
    ] {
        let Some(url) = std::env::var(env).ok().filter(|u| !u.trim().is_empty()) else {
            continue;
        };
        match poster(rc).post(&url, &body) {
            Ok(attempts) => logs.write(
                "notify",
                None,
                "sent",
                json!({"channel": channel, "alerts": kinds, "attempts": attempts}),
            ),
            Err(e) => {
                logs.write(
                    "errors",
                    None,
                    "notify_failed",
                    json!({"channel": channel, "alerts": kinds, "error": e.to_string()}),
                );
                eprintln!(
                    "warning: the {channel} notification could not be sent ({}); the run itself completed",
                    systrade_core::redact::redact(&e.to_string())
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use systrade_desk::artifacts::ArtifactNames;

    fn summary() -> DailySummary {
        serde_json::from_value(json!({
            "strategy": "trend", "as_of": "2024-06-28", "broker": "paper", "account": "paper",
            "equity": 100000.0, "cash": 20000.0, "decided_on_bars_through": "2024-06-27",
            "gross_exposure": 0.8, "positions": 3, "dry_run": false, "no_data": ["XLRE"],
            "targets": {}, "stops": {}, "logs": {},
            "orders": {"planned": 3, "by_status": {"filled": 2}, "execution_level": "semi-auto",
                       "held_back": [{"client_order_id": "st-1", "symbol": "XLK", "side": "buy",
                                      "qty": "3", "purpose": "entry", "approval": "pending",
                                      "notional": 600.0}]},
            "decisions": {"mode": "enforce", "kill_switch": false, "allowed": 3, "blocked": []},
            "reconciliation": {"mismatches": [], "one_stop_per_position": true, "violations": []},
            "artifacts": ArtifactNames::of_day("2024-06-28".parse().unwrap()),
        }))
        .unwrap()
    }

    #[test]
    fn test_a_clean_run_sends_only_its_summary() {
        let mut clean = summary();
        clean.no_data.clear();
        assert_eq!(alerts_of(&clean, &[]).len(), 1);
        // A stale symbol is in the summary and gets an alert of its own.
        let a = alerts_of(&summary(), &[]);
        assert_eq!(a.len(), 2);
        assert_eq!(a[1].kind, AlertKind::StaleData);
        assert_eq!(
            a[1].title,
            "trend 2024-06-28: stale data for 1 symbols — no new risk there"
        );
        assert_eq!(a[1].lines, ["XLRE: no decision bar; stop kept as it is"]);
        assert_eq!(a[0].kind, AlertKind::RunSummary);
        assert_eq!(a[0].title, "trend 2024-06-28: equity 100,000.00");
        assert!(
            a[0].lines
                .iter()
                .any(|l| l.contains("1 orders wait for approval"))
        );
        assert!(a[0].lines.iter().any(|l| l == "no data: XLRE"));
    }

    #[test]
    fn test_blocked_entries_mismatches_and_errors_get_their_own_alerts() {
        let mut s = summary();
        s.no_data.clear();
        s.decisions.blocked = serde_json::from_value(json!([{"symbol": "XLB", "qty": "12",
            "reasons": ["kill_switch"],
            "why": ["the kill switch is set: no new entries or adds"]}]))
        .unwrap();
        s.reconciliation.mismatches = serde_json::from_value(json!([{"symbol": "XLE",
            "status": "qty_mismatch", "broker_qty": "10", "ledger_qty": "12", "stops": 1,
            "acked": false}]))
        .unwrap();
        s.reconciliation.violations = serde_json::from_value(json!([{"symbol": "SPY",
            "open_stops": 0}]))
        .unwrap();
        let errors = vec![
            "XLE: qty_mismatch".to_string(),
            "retry_exhausted".to_string(),
        ];
        let a = alerts_of(&s, &errors);
        let kinds: Vec<AlertKind> = a.iter().map(|x| x.kind).collect();
        assert_eq!(
            kinds,
            [
                AlertKind::RunSummary,
                AlertKind::BlockedEntries,
                AlertKind::ReconciliationMismatch,
                AlertKind::Error
            ]
        );
        assert_eq!(
            a[1].lines,
            ["XLB 12: the kill switch is set: no new entries or adds"]
        );
        assert!(a[2].lines[0].contains("XLE: qty_mismatch (broker 10, ledger 12)"));
        assert!(a[2].lines[1].contains("SPY: 0 protective stops open"));
        // The mismatch is not repeated as an error.
        assert_eq!(a[3].lines, ["retry_exhausted"]);
        assert_eq!(a[3].data["errors"], json!(["retry_exhausted"]));
    }
}
