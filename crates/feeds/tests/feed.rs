//! The feed bucket in the engine on synthetic prices: a hand-checked entry (timing, size by
//! equity and by volume, the stop, the exit after the holding window), the caps as
//! invariants over random feeds, no look-ahead, and byte-identical reruns.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use proptest::prelude::*;
use systrade_backtest::{BacktestConfig, BacktestResult, run};
use systrade_core::{DailyBar, Market, Symbol};
use systrade_feeds::{FeedKind, FeedRules, FeedStrategy, Verdict, parse};

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

/// 60 US sessions from 2024-01-02 for each name: a gentle drift, a fixed volume per name.
fn market(names: &[(&str, f64, f64)]) -> BTreeMap<Symbol, Vec<DailyBar>> {
    let cal = Market::Us.calendar();
    let days = cal.trading_days(
        NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
        NaiveDate::from_ymd_opt(2024, 3, 28).unwrap(),
    );
    names
        .iter()
        .map(|(n, p0, vol)| {
            let bars = days
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let c = p0 * (1.0 + 0.002 * i as f64);
                    DailyBar {
                        ts: *d,
                        open: c * 0.999,
                        high: c * 1.01,
                        low: c * 0.99,
                        close: c,
                        volume: *vol,
                    }
                })
                .collect();
            (sym(n), bars)
        })
        .collect()
}

fn engine() -> BacktestConfig {
    BacktestConfig {
        cash: 100_000.0,
        lot_size: Some(1.0),
        ..BacktestConfig::default()
    }
}

fn backtest(
    rules: &FeedRules,
    feed: &str,
    data: &BTreeMap<Symbol, Vec<DailyBar>>,
) -> (BacktestResult, Vec<Verdict>) {
    let alerts = parse(FeedKind::LowFloat, feed, "feed.csv", Market::Us).unwrap();
    let mut s = FeedStrategy::new(
        "c",
        Market::Us,
        rules.clone(),
        alerts,
        data.keys().cloned().collect(),
    );
    let r = run(&mut s, data, &engine()).unwrap();
    (r, s.verdicts())
}

const HEADER: &str = "date,symbol,float_shares,avg_volume,price,score\n";

#[test]
fn test_an_entry_is_sized_timed_stopped_and_held_as_the_rules_say() {
    // AAA: $20, 50,000 a day → 1% of ADV = 500 shares; 5% of 100,000 / close = ~249.
    // BBB: $10, 10,000 a day → 100 shares by volume, 500 by size: volume wins.
    let data = market(&[("AAA", 20.0, 50_000.0), ("BBB", 10.0, 10_000.0)]);
    let rules = FeedRules {
        hold_days: 3,
        ..FeedRules::default()
    };
    // Known after the close of Monday 2024-02-05: traded at Tuesday's open.
    let feed = format!("{HEADER}2024-02-05,AAA,1e6,5e4,20,0.9\n2024-02-05,BBB,1e6,1e4,10,0.8\n");
    let (r, v) = backtest(&rules, &feed, &data);
    let d = |s: &str| s.parse::<NaiveDate>().unwrap();
    assert_eq!(v.len(), 2);
    let close_before = |s: &str| {
        data[&sym(s)]
            .iter()
            .rfind(|b| b.ts < d("2024-02-06"))
            .unwrap()
            .close
    };
    let a_qty = (0.05 * 100_000.0 / close_before("AAA")).floor();
    assert_eq!((v[0].status, v[0].qty), ("entered", a_qty));
    assert_eq!((v[1].status, v[1].qty), ("entered", 100.0));
    assert_eq!(v[0].decided, Some(d("2024-02-06")));
    let buys: Vec<_> = r
        .fills
        .iter()
        .filter(|f| f.side == systrade_core::contracts::Side::Buy)
        .collect();
    assert_eq!(buys.len(), 2);
    assert!(
        buys.iter().all(|f| f.date == d("2024-02-06")),
        "the first open after the alert"
    );
    // Held 3 sessions (Tue, Wed, Thu), sold at Friday's open.
    let sells: Vec<_> = r
        .fills
        .iter()
        .filter(|f| f.side == systrade_core::contracts::Side::Sell)
        .collect();
    assert_eq!(sells.len(), 2);
    assert!(sells.iter().all(|f| f.date == d("2024-02-09")), "{sells:?}");
    // The stop: 10% below the last close before the entry, on the decision.
    let decided = r
        .decisions
        .iter()
        .find(|(_, dec)| !dec.stops.is_empty())
        .unwrap();
    let stop = decided.1.stops[&sym("AAA")];
    assert!((stop - close_before("AAA") * 0.9).abs() < 1e-9);
}

#[test]
fn test_a_session_takes_the_best_alerts_up_to_max_positions_and_names_the_rest() {
    let data = market(&[
        ("AAA", 20.0, 1e6),
        ("BBB", 20.0, 1e6),
        ("CCC", 20.0, 1e6),
        ("DDD", 20.0, 1e6),
    ]);
    let rules = FeedRules {
        max_positions: 2,
        min_score: 0.5,
        ..FeedRules::default()
    };
    let feed = format!(
        "{HEADER}2024-02-05,AAA,1e6,1e6,20,0.6\n2024-02-05,BBB,1e6,1e6,20,0.9\n2024-02-05,CCC,1e6,1e6,20,0.4\n2024-02-05,DDD,1e6,1e6,20,0.7\n2024-02-05,ZZZ,1e6,1e6,20,0.95\n"
    );
    let (_, v) = backtest(&rules, &feed, &data);
    let status: Vec<(&str, &str)> = v.iter().map(|x| (x.symbol.as_str(), x.status)).collect();
    assert_eq!(
        status,
        [
            ("AAA", "max_positions"),
            ("BBB", "entered"),
            ("CCC", "score_below_min"),
            ("DDD", "entered"),
            ("ZZZ", "no_price"),
        ]
    );
}

#[test]
fn test_no_look_ahead_and_byte_identical_reruns() {
    let data = market(&[("AAA", 20.0, 1e5), ("BBB", 10.0, 2e5), ("CCC", 5.0, 3e5)]);
    let feed = format!(
        "{HEADER}2024-01-31,AAA,1,1,1,0.9\n2024-02-07,BBB,1,1,1,0.8\n2024-02-20,CCC,1,1,1,0.7\n2024-03-05,AAA,1,1,1,0.9\n"
    );
    let rules = FeedRules::default();
    let (full, vf) = backtest(&rules, &feed, &data);
    let (again, va) = backtest(&rules, &feed, &data);
    assert_eq!(format!("{full:?}{vf:?}"), format!("{again:?}{va:?}"));
    // Bars after 2024-02-23 rewritten wildly: nothing decided before then changes.
    let cut: NaiveDate = "2024-02-23".parse().unwrap();
    let mut changed = data.clone();
    for bars in changed.values_mut() {
        for b in bars.iter_mut().filter(|b| b.ts >= cut) {
            b.open *= 3.0;
            b.high *= 3.0;
            b.low *= 0.5;
            b.close *= 0.6;
            b.volume = 7.0;
        }
    }
    let (other, vo) = backtest(&rules, &feed, &changed);
    let before = |r: &BacktestResult| {
        r.series
            .iter()
            .filter(|x| x.date < cut)
            .map(|x| format!("{} {:.6}", x.date, x.equity))
            .collect::<Vec<_>>()
    };
    assert_eq!(before(&full), before(&other));
    let decided_before = |v: &[Verdict]| -> Vec<Verdict> {
        v.iter()
            .filter(|x| x.decided.is_some_and(|d| d < cut))
            .cloned()
            .collect()
    };
    assert_eq!(decided_before(&vf), decided_before(&vo));
    assert!(decided_before(&vf).len() >= 3);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Over random feeds: never more positions than max_positions, no entry costs more than
    /// position_pct of equity or buys more than max_adv_pct of the average volume, and no
    /// fill comes before its alert's first open.
    #[test]
    fn prop_the_caps_hold_and_no_fill_precedes_its_alert(
        rows in prop::collection::vec((0usize..4, 0usize..55, 0u32..100), 1..30),
        max_positions in 1usize..4,
        position_pct in 0.01f64..0.3,
        max_adv_pct in 0.0001f64..0.05,
    ) {
        let names = ["AAA", "BBB", "CCC", "DDD"];
        let data = market(&[("AAA", 20.0, 5e4), ("BBB", 8.0, 2e5), ("CCC", 50.0, 1e4), ("DDD", 3.0, 1e6)]);
        let days: Vec<NaiveDate> = data[&sym("AAA")].iter().map(|b| b.ts).collect();
        let mut feed = HEADER.to_string();
        for (n, day, score) in &rows {
            feed.push_str(&format!("{},{},1,1,1,{}\n", days[*day], names[*n], f64::from(*score) / 100.0));
        }
        let rules = FeedRules { max_positions, position_pct, max_adv_pct, ..FeedRules::default() };
        let (r, v) = backtest(&rules, &feed, &data);
        // Every session has bars: no alert misses its first open (a Friday list trades on
        // Monday, a holiday's the day after).
        prop_assert!(v.iter().all(|x| x.status != "missed_open"), "{v:?}");
        for x in v.iter().filter(|x| x.status == "entered") {
            prop_assert_eq!(x.decided, Some(x.session));
        }
        for row in &r.series {
            prop_assert!(row.n_positions <= max_positions, "{} positions on {}", row.n_positions, row.date);
        }
        for x in v.iter().filter(|x| x.status == "entered") {
            let decided = x.decided.unwrap();
            prop_assert!(decided >= x.session);
            let bars = &data[&x.symbol];
            let seen: Vec<_> = bars.iter().filter(|b| b.ts < decided).collect();
            let px = seen.last().unwrap().close;
            let adv = seen[seen.len() - 20..].iter().map(|b| b.volume).sum::<f64>() / 20.0;
            prop_assert!(x.qty <= (max_adv_pct * adv).floor());
            prop_assert!(x.qty * px <= position_pct * 100_000.0 * 1.5, "{} × {px}", x.qty);
        }
        for f in r.fills.iter().filter(|f| f.side == systrade_core::contracts::Side::Buy) {
            let first = v.iter().filter(|x| x.symbol == f.symbol && x.status == "entered").map(|x| x.session).min().unwrap();
            prop_assert!(f.date >= first);
        }
    }
}
