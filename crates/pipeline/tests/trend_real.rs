//! The trend-following step on the real Binance daily candles (spec/trend-following.md §9):
//! sizing and cap invariants on every date, stops that never loosen, cooldowns, the data gate,
//! no look-ahead and byte-identical reruns.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use systrade_backtest::lookahead::{Perturbation, check};
use systrade_backtest::{BacktestConfig, BacktestResult, CostModel, run};
use systrade_core::{DailyBar, Market, Symbol};
use systrade_pipeline::trend::{DayRecord, Sleeve, TrendParams, TrendStrategy};
use systrade_testkit::{raw_daily, shared};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Every daily Binance file, as `configs/trend_crypto.toml` uses them.
fn load() -> Option<BTreeMap<Symbol, Vec<DailyBar>>> {
    let dir = shared("data/crypto_binance_spot/1d")?;
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        if let Some(sym) = name.strip_suffix("_1d.csv") {
            out.insert(
                Symbol::new(sym).unwrap(),
                raw_daily(&format!("data/crypto_binance_spot/1d/{name}")),
            );
        }
    }
    assert_eq!(out.len(), 25);
    Some(out)
}

fn params(data: &BTreeMap<Symbol, Vec<DailyBar>>) -> TrendParams {
    let majors: Vec<Symbol> = ["BTCUSDT", "ETHUSDT"]
        .iter()
        .map(|s| Symbol::new(*s).unwrap())
        .collect();
    let alts = data
        .keys()
        .filter(|s| !majors.contains(s))
        .cloned()
        .collect();
    TrendParams::with_sleeves(vec![
        Sleeve {
            name: "majors".into(),
            budget: 0.6,
            tickers: majors,
        },
        Sleeve {
            name: "alts".into(),
            budget: 0.4,
            tickers: alts,
        },
    ])
}

fn engine(start: &str, end: &str) -> BacktestConfig {
    BacktestConfig {
        costs: CostModel {
            fee_bps: 60.0,
            ..CostModel::default()
        },
        periods_per_year: 365.0,
        start: Some(d(start)),
        end: Some(d(end)),
        ..BacktestConfig::default()
    }
}

fn backtest(
    data: &BTreeMap<Symbol, Vec<DailyBar>>,
    cfg: &BacktestConfig,
) -> (BacktestResult, Vec<DayRecord>) {
    let mut s = TrendStrategy::new(params(data), Market::Crypto).unwrap();
    let r = run(&mut s, data, cfg).unwrap();
    let records = s.take_records();
    (r, records)
}

/// An independent ex-ante volatility: closes aligned on the union of dates, the last
/// `cov_window + 1` of them up to the decision, log returns, pairwise-complete covariance ×365.
fn ex_ante_vol(
    data: &BTreeMap<Symbol, Vec<DailyBar>>,
    all_dates: &[NaiveDate],
    r: &DayRecord,
) -> f64 {
    let end = all_dates.partition_point(|x| *x <= r.decided);
    let grid = &all_dates[end.saturating_sub(61)..end];
    let held: Vec<(&Symbol, f64)> = r
        .rows
        .iter()
        .filter(|x| x.target_weight > 0.0)
        .map(|x| (&x.ticker, x.target_weight))
        .collect();
    let rets: Vec<Vec<Option<f64>>> = held
        .iter()
        .map(|(s, _)| {
            let by_date: BTreeMap<NaiveDate, f64> =
                data[*s].iter().map(|b| (b.ts, b.close)).collect();
            grid.windows(2)
                .map(|w| Some((by_date.get(&w[1])? / by_date.get(&w[0])?).ln()))
                .collect()
        })
        .collect();
    let mut var = 0.0;
    for (i, (_, wi)) in held.iter().enumerate() {
        for (j, (_, wj)) in held.iter().enumerate() {
            let pairs: Vec<(f64, f64)> = rets[i]
                .iter()
                .zip(&rets[j])
                .filter_map(|(a, b)| Some(((*a)?, (*b)?)))
                .collect();
            let n = pairs.len() as f64;
            let (ma, mb) = (
                pairs.iter().map(|p| p.0).sum::<f64>() / n,
                pairs.iter().map(|p| p.1).sum::<f64>() / n,
            );
            let c = pairs.iter().map(|p| (p.0 - ma) * (p.1 - mb)).sum::<f64>() / (n - 1.0);
            var += wi * wj * c * 365.0;
        }
    }
    var.max(0.0).sqrt()
}

#[test]
fn test_spec_checks_on_the_real_backtest() {
    let Some(data) = load() else { return };
    let (result, records) = backtest(&data, &engine("2018-01-01", "2022-06-04"));
    assert_eq!(records.len(), result.series.len());
    let p = params(&data);
    let all_dates: Vec<NaiveDate> = data
        .values()
        .flat_map(|b| b.iter().map(|x| x.ts))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();

    let (mut sized_days, mut narrow_days) = (0, 0);
    for r in &records {
        let gross: f64 = r.rows.iter().map(|x| x.target_weight).sum();
        let names = r.rows.iter().filter(|x| x.target_weight > 0.0).count();
        // Sizing: the ex-ante vol of the final weights, recomputed from the data, and gross.
        let vol = ex_ante_vol(&data, &all_dates, r);
        assert!(
            vol <= p.sizing.target_vol + 1e-9,
            "{}: ex-ante vol {vol}",
            r.as_of
        );
        assert!((vol - r.sizing.vol_post_cap).abs() < 1e-9, "{}", r.as_of);
        assert!(
            gross <= p.sizing.max_gross + 1e-12,
            "{}: gross {gross}",
            r.as_of
        );
        // Cap: never above the cap in force; the narrow cap with three names or fewer.
        for x in &r.rows {
            assert!(
                x.target_weight <= r.sizing.cap_used + 1e-12,
                "{} {}: {} above cap {}",
                r.as_of,
                x.ticker,
                x.target_weight,
                r.sizing.cap_used
            );
        }
        if names > 0 {
            sized_days += 1;
        }
        if (1..=3).contains(&names) {
            narrow_days += 1;
            assert_eq!(r.sizing.cap_used, p.sizing.cap_narrow, "{}", r.as_of);
        }
        // Stops never loosen while a position is held.
        for x in &r.rows {
            if let (Some(before), Some(after)) = (x.stop_before, x.stop) {
                assert!(
                    after >= before,
                    "{} {}: {before} → {after}",
                    r.as_of,
                    x.ticker
                );
            }
            assert_eq!(
                x.stop.is_some(),
                x.qty_after > 0.0,
                "{} {}",
                r.as_of,
                x.ticker
            );
        }
    }
    assert!(
        sized_days > 500 && narrow_days > 50,
        "{sized_days} {narrow_days}"
    );

    // A stopped-out ticker takes no new risk for cooldown_days decisions.
    let stops: Vec<(Symbol, NaiveDate)> = result
        .fills
        .iter()
        .filter(|f| f.reason == "stop")
        .map(|f| (f.symbol.clone(), f.date))
        .collect();
    assert!(stops.len() > 50, "{} stop-outs", stops.len());
    let by_day: BTreeMap<NaiveDate, &DayRecord> = records.iter().map(|r| (r.decided, r)).collect();
    let days = i64::from(p.gates.cooldown_days);
    let mut blocked = 0;
    for (sym, date) in &stops {
        for k in 0..days {
            let Some(r) = by_day.get(&(*date + chrono::Duration::days(k))) else {
                continue;
            };
            let row = r.rows.iter().find(|x| &x.ticker == sym).unwrap();
            assert!(row.order_qty <= 0.0, "{sym} bought {k} days after its stop");
            assert!(row.cooldown_left > 0, "{sym} {k} days after its stop");
            blocked += usize::from(row.reason.as_str() == "cooldown");
        }
    }
    assert!(blocked > 0, "some cooldown blocked a wanted entry");
    // The day after the cooldown the counter is spent.
    for (sym, date) in &stops {
        if let Some(r) = by_day.get(&(*date + chrono::Duration::days(days))) {
            let row = r.rows.iter().find(|x| &x.ticker == sym).unwrap();
            let again = stops
                .iter()
                .any(|(s, d2)| s == sym && *d2 > *date && *d2 <= r.decided);
            assert!(again || row.cooldown_left == 0, "{sym} {}", r.decided);
        }
    }
}

#[test]
fn test_a_day_without_data_leaves_the_stop_untouched() {
    let Some(mut data) = load() else { return };
    let cfg = engine("2020-06-01", "2021-12-31");
    let (_, records) = backtest(&data, &cfg);
    // A day BTC is held with a stop, after it has held one for a while.
    let btc = Symbol::new("BTCUSDT").unwrap();
    let (day, stop_before) = records
        .iter()
        .filter_map(|r| {
            let x = r.rows.iter().find(|x| x.ticker == btc)?;
            (x.qty > 0.0 && x.stop_before.is_some() && x.stop > x.stop_before)
                .then_some((r.decided, x.stop_before))
        })
        .nth(3)
        .expect("BTC held with a rising stop");
    // Remove that day's bar: the decision after it has no T−1 bar for BTC.
    data.get_mut(&btc).unwrap().retain(|b| b.ts != day);
    let mut s = TrendStrategy::new(params(&data), Market::Crypto).unwrap();
    let result = run(&mut s, &data, &cfg).unwrap();
    let records = s.take_records();
    let r = records.iter().find(|r| r.decided == day).unwrap();
    let x = r.rows.iter().find(|x| x.ticker == btc).unwrap();
    assert!(!x.data_ok);
    assert!(x.qty > 0.0, "still held");
    assert_eq!(x.stop_before, stop_before);
    assert_eq!(
        x.stop, x.stop_before,
        "the stop is neither raised nor dropped"
    );
    assert!(x.order_qty <= 0.0, "no new risk without data");
    let (_, decision) = result.decisions.iter().find(|(d, _)| *d == day).unwrap();
    assert!(
        !decision.stops.contains_key(&btc),
        "no cancel/replace of the stop order"
    );
}

#[test]
fn test_no_look_ahead() {
    let Some(data) = load() else { return };
    let cfg = engine("2020-09-01", "2021-06-30");
    let cuts = [d("2020-11-15"), d("2021-02-01"), d("2021-05-20")];
    for how in [Perturbation::Delete, Perturbation::Scale(1.7)] {
        check(
            |data| TrendStrategy::new(params(data), Market::Crypto).unwrap(),
            &data,
            &cfg,
            &cuts,
            how,
        )
        .unwrap();
    }
}

#[test]
fn test_reruns_are_identical() {
    let Some(data) = load() else { return };
    let cfg = engine("2021-01-01", "2021-12-31");
    let text = |(r, recs): (BacktestResult, Vec<DayRecord>)| {
        format!(
            "{}\n{}\n{:?}",
            systrade_pipeline::trend::targets_history_csv(&recs),
            systrade_pipeline::trend::desired_trades_jsonl(&recs).unwrap(),
            r.series
        )
    };
    let a = text(backtest(&data, &cfg));
    let b = text(backtest(&data, &cfg));
    assert!(a == b, "reruns differ");
}
