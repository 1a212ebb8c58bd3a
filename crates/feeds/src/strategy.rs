//! The feed bucket as an engine strategy: at each decision (after a close; bars before the
//! view's cut only) for the next session on the market's calendar, sell what has been held
//! for `hold_days` sessions, then take the alerts whose first open after their timestamp is
//! that session — best first, through the filters and caps — as whole-share entries with a
//! protective stop. Every alert gets a verdict.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use systrade_core::{Market, Symbol};
use systrade_strategy::{Decision, MarketView, PortfolioView, Strategy, Target};

use crate::{Alert, Detail, FeedRules};

/// What became of one alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub line: usize,
    pub at: DateTime<Utc>,
    pub symbol: Symbol,
    /// The session it could first trade in.
    pub session: NaiveDate,
    /// The session it was judged for (its entry's fill; none: the data ended first).
    pub decided: Option<NaiveDate>,
    /// `entered`, or why not.
    pub status: &'static str,
    /// Shares bought.
    pub qty: f64,
    /// The entry's share of the name's average daily volume.
    pub adv_share: Option<f64>,
    /// The numbers behind the status.
    pub detail: String,
}

#[derive(Debug, Clone, Copy)]
struct Held {
    entry: NaiveDate,
    sessions: u32,
}

/// Buckets C and D in the engine.
pub struct FeedStrategy {
    name: String,
    market: Market,
    rules: FeedRules,
    /// By session, then best first, then file order.
    alerts: Vec<Alert>,
    next: usize,
    universe: Vec<Symbol>,
    held: BTreeMap<Symbol, Held>,
    verdicts: Vec<Verdict>,
}

impl FeedStrategy {
    /// `universe`: the names with prices (an alert for another name is `no_price`);
    /// `market`: the calendar whose next session a decision is for.
    pub fn new(
        name: &str,
        market: Market,
        rules: FeedRules,
        mut alerts: Vec<Alert>,
        universe: Vec<Symbol>,
    ) -> Self {
        alerts.sort_by(|a, b| {
            a.session
                .cmp(&b.session)
                .then(b.detail.priority().total_cmp(&a.detail.priority()))
                .then(a.line.cmp(&b.line))
        });
        FeedStrategy {
            name: name.to_string(),
            market,
            rules,
            alerts,
            next: 0,
            universe,
            held: BTreeMap::new(),
            verdicts: Vec::new(),
        }
    }

    /// A position entered on the session `entry`, held `sessions` sessions before the next
    /// decision's (the daily run restores its book from the ledger's fills).
    pub fn restore(&mut self, symbol: &Symbol, entry: NaiveDate, sessions: u32) {
        self.held.insert(symbol.clone(), Held { entry, sessions });
    }

    /// Passes over the alerts of the sessions up to `day`: earlier runs judged them.
    pub fn skip_through(&mut self, day: NaiveDate) {
        self.next += self.alerts[self.next..].partition_point(|a| a.session <= day);
    }

    /// Every alert's verdict so far, and `after_data` for those no decision reached, in the
    /// file's order.
    pub fn verdicts(&self) -> Vec<Verdict> {
        let mut out = self.verdicts.clone();
        out.extend(self.alerts[self.next..].iter().map(|a| Verdict {
            line: a.line,
            at: a.at,
            symbol: a.symbol.clone(),
            session: a.session,
            decided: None,
            status: "after_data",
            qty: 0.0,
            adv_share: None,
            detail: String::new(),
        }));
        out.sort_by_key(|v| v.line);
        out
    }

    /// Why an alert fails the bucket's filters on the session `cut` (none: it passes).
    fn filtered(&self, a: &Alert, cut: NaiveDate) -> Option<(&'static str, String)> {
        let r = &self.rules;
        match &a.detail {
            _ if a.detail.neutral() => Some((
                "neutral",
                "a print at the mid says nothing about direction".into(),
            )),
            _ if !a.detail.bullish() => Some(("bearish", "a bearish print (long-only)".into())),
            Detail::LowFloat {
                score,
                float_shares,
                ..
            } => {
                if *score < r.min_score {
                    Some((
                        "score_below_min",
                        format!("score {score} < {}", r.min_score),
                    ))
                } else if r.max_float > 0.0 && *float_shares > r.max_float {
                    Some((
                        "float_above_max",
                        format!("float {float_shares} > {}", r.max_float),
                    ))
                } else {
                    None
                }
            }
            Detail::Options {
                premium,
                volume,
                open_interest,
                expiry,
                ..
            } => {
                let dte = (*expiry - a.at.date_naive()).num_days();
                if *premium < r.min_premium {
                    Some((
                        "premium_below_min",
                        format!("premium {premium} < {}", r.min_premium),
                    ))
                } else if *volume < r.min_volume_oi * open_interest {
                    Some((
                        "volume_below_oi",
                        format!(
                            "volume {volume} < {} × open interest {open_interest}",
                            r.min_volume_oi
                        ),
                    ))
                } else if *expiry < cut {
                    Some(("expired", format!("expired {expiry}")))
                } else if r.max_days_to_expiry > 0 && dte > i64::from(r.max_days_to_expiry) {
                    Some((
                        "expiry_too_far",
                        format!("{dte} days to expiry > {}", r.max_days_to_expiry),
                    ))
                } else {
                    None
                }
            }
        }
    }
}

fn verdict(a: &Alert, cut: NaiveDate, status: &'static str, detail: String) -> Verdict {
    Verdict {
        line: a.line,
        at: a.at,
        symbol: a.symbol.clone(),
        session: a.session,
        decided: Some(cut),
        status,
        qty: 0.0,
        adv_share: None,
        detail,
    }
}

impl Strategy for FeedStrategy {
    fn name(&self) -> &str {
        &self.name
    }

    fn universe(&self) -> Vec<Symbol> {
        self.universe.clone()
    }

    fn decide(&mut self, view: &MarketView<'_>, pf: &PortfolioView) -> Decision {
        // The session this decision trades in: the next one after the last close it sees
        // (the engine decides after a close with the cut the day after; a plan or a daily
        // run decides on the session's own date).
        let seen = view.cut.pred_opt().unwrap_or(view.cut);
        let cut = self.market.calendar().next_trading_day(seen);
        let r = self.rules.clone();
        let mut d = Decision::default();
        // What the account no longer holds (sold, stopped out, never filled) is forgotten;
        // a holding the strategy did not enter starts its window now.
        self.held.retain(|s, _| pf.qty(s) != 0.0);
        for (s, q) in &pf.positions {
            if *q != 0.0 {
                self.held.entry(s.clone()).or_insert(Held {
                    entry: cut,
                    sessions: 0,
                });
            }
        }
        let mut open = 0;
        for (s, h) in self.held.iter_mut() {
            if cut > h.entry {
                h.sessions += 1;
            }
            if h.sessions >= r.hold_days {
                d.set(s, Target::Flat, "hold_window");
            } else {
                open += 1;
            }
        }
        let end = self.next + self.alerts[self.next..].partition_point(|a| a.session <= cut);
        let batch: Vec<Alert> = self.alerts[self.next..end].to_vec();
        self.next = end;
        for a in &batch {
            let v = if a.session < cut {
                verdict(
                    a,
                    cut,
                    "missed_open",
                    format!("no data for its first open {}", a.session),
                )
            } else if let Some((status, why)) = self.filtered(a, cut) {
                verdict(a, cut, status, why)
            } else {
                let bars = view.history(&a.symbol);
                match bars.last() {
                    None => verdict(a, cut, "no_price", "no bar before the session".into()),
                    Some(last) if last.close < r.min_price => verdict(
                        a,
                        cut,
                        "below_min_price",
                        format!("last close {} < {}", last.close, r.min_price),
                    ),
                    Some(_) if pf.qty(&a.symbol) != 0.0 || d.targets.contains_key(&a.symbol) => {
                        verdict(a, cut, "already_held", String::new())
                    }
                    Some(_) if open >= r.max_positions => {
                        verdict(a, cut, "max_positions", format!("{open} positions open"))
                    }
                    Some(_) if bars.len() < r.adv_window => verdict(
                        a,
                        cut,
                        "short_history",
                        format!("{} bars < adv_window {}", bars.len(), r.adv_window),
                    ),
                    Some(last) => {
                        let px = last.close;
                        let all = bars.bars();
                        let adv = all[all.len() - r.adv_window..]
                            .iter()
                            .map(|b| b.volume)
                            .sum::<f64>()
                            / r.adv_window as f64;
                        let by_equity = (r.position_pct * pf.equity / px).floor();
                        let by_adv = (r.max_adv_pct * adv).floor();
                        let qty = by_equity.min(by_adv);
                        if qty < 1.0 {
                            verdict(
                                a,
                                cut,
                                "too_small",
                                format!(
                                    "{by_equity} shares by position_pct, {by_adv} by max_adv_pct of {adv:.0}"
                                ),
                            )
                        } else {
                            d.set(&a.symbol, Target::Quantity(qty), "feed_entry");
                            if r.stop_pct > 0.0 {
                                d.stops.insert(a.symbol.clone(), px * (1.0 - r.stop_pct));
                            }
                            self.held.insert(
                                a.symbol.clone(),
                                Held {
                                    entry: cut,
                                    sessions: 0,
                                },
                            );
                            open += 1;
                            Verdict {
                                qty,
                                adv_share: (adv > 0.0).then(|| qty / adv),
                                detail: format!(
                                    "{qty} shares at ~{px} ({} by size, {} by volume)",
                                    by_equity, by_adv
                                ),
                                ..verdict(a, cut, "entered", String::new())
                            }
                        }
                    }
                }
            };
            self.verdicts.push(v);
        }
        d.diagnostics.insert("feed_positions".into(), open as f64);
        d
    }
}
