//! Bucket A's rules on a month computed by hand, the risk-off switch, bt's rebalance
//! arithmetic, no look-ahead and weights that always add up.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use proptest::prelude::*;
use systrade_core::{DailyBar, Symbol};
use systrade_rotation::run::{Settings, TxKind};
use systrade_rotation::select::decide;
use systrade_rotation::{Fill, Panel, Regime, RotationParams, Status, Weighting, run};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

const DATES: [&str; 8] = [
    "2024-01-25",
    "2024-01-26",
    "2024-01-29",
    "2024-01-30",
    "2024-01-31",
    "2024-02-01",
    "2024-02-02",
    "2024-02-05",
];

/// Bars from closes (`None`: no bar that session); opens are the close + 1.
fn market(cols: &[(&str, Vec<Option<f64>>)]) -> BTreeMap<Symbol, Vec<DailyBar>> {
    cols.iter()
        .map(|(s, closes)| {
            let bars = closes
                .iter()
                .zip(DATES)
                .filter_map(|(c, day)| {
                    let c = (*c)?;
                    Some(DailyBar {
                        ts: d(day),
                        open: c + 1.0,
                        high: c + 2.0,
                        low: c - 1.0,
                        close: c,
                        volume: 1000.0,
                    })
                })
                .collect();
            (Symbol::new(*s).unwrap(), bars)
        })
        .collect()
}

fn some(xs: &[f64]) -> Vec<Option<f64>> {
    xs.iter().map(|x| Some(*x)).collect()
}

/// Five names and SPY; the rebalance of 2024-02-01 (row 5) is worked out by hand below.
fn hand_market(spy_last: f64) -> BTreeMap<Symbol, Vec<DailyBar>> {
    market(&[
        (
            "SPY",
            some(&[100.0, 101.0, 102.0, 103.0, 104.0, spy_last, 106.0, 107.0]),
        ),
        (
            "AAA",
            some(&[10.0, 10.0, 10.0, 11.0, 12.0, 13.0, 13.5, 14.0]),
        ),
        (
            "BBB",
            some(&[20.0, 20.0, 20.0, 22.0, 23.9, 26.0, 27.0, 28.0]),
        ),
        (
            "CCC",
            some(&[50.0, 52.0, 50.0, 52.0, 54.0, 53.0, 53.0, 53.0]),
        ),
        (
            "DDD",
            some(&[30.0, 31.0, 30.0, 31.5, 31.0, 33.0, 33.0, 33.0]),
        ),
        (
            "EEE",
            vec![
                None,
                None,
                None,
                Some(5.0),
                Some(6.0),
                Some(7.0),
                Some(7.0),
                Some(7.0),
            ],
        ),
    ])
}

fn hand_params() -> RotationParams {
    RotationParams {
        top_n: 2,
        lookback: 4,
        skip: 1,
        trend_sma: 3,
        regime_symbol: "SPY".into(),
        regime_sma: 3,
        cash_symbol: String::new(),
        max_corr: 0.9,
        corr_window: 4,
        weighting: Weighting::Equal,
        vol_window: 4,
        fee_bps: 0.0,
        fill: Fill::Close,
    }
}

#[test]
fn test_a_hand_computed_month_with_the_correlation_skip() {
    let panel = Panel::new(&hand_market(105.0));
    assert_eq!(
        panel.month_starts(),
        vec![0, 5],
        "first session, then February's"
    );
    let m = decide(&panel, 5, &hand_params());
    // SPY 105 > SMA3 (103 + 104 + 105)/3 = 104: risk-on.
    assert_eq!(
        m.regime,
        Regime::On {
            close: 105.0,
            sma: 104.0
        }
    );
    let row = |s: &str| m.rows.iter().find(|r| r.symbol.as_str() == s).unwrap();
    // Momentum close[4] / close[1] − 1.
    assert_eq!(row("AAA").momentum, Some(12.0 / 10.0 - 1.0));
    assert_eq!(row("BBB").momentum, Some(23.9 / 20.0 - 1.0));
    assert_eq!(row("SPY").momentum, Some(104.0 / 101.0 - 1.0));
    assert_eq!(row("DDD").momentum, Some(31.0 / 31.0 - 1.0));
    // Ranks among the eligible: AAA 0.2, BBB 0.195, SPY 0.0297, DDD 0.
    assert_eq!(
        ["AAA", "BBB", "SPY", "DDD"].map(|s| row(s).rank),
        [Some(1), Some(2), Some(3), Some(4)]
    );
    assert_eq!(row("AAA").status, Status::Selected);
    // BBB moves with AAA (daily-return correlation 0.9968 over the 4 sessions): the later of
    // the pair is skipped, and SPY (correlation −0.68 with AAA) takes the second place.
    match &row("BBB").status {
        Status::Correlated { with, corr } => {
            assert_eq!(with.as_str(), "AAA");
            assert!((corr - 0.996_779_391).abs() < 1e-8, "{corr}");
        }
        other => panic!("BBB: {other:?}"),
    }
    assert_eq!(row("SPY").status, Status::Selected);
    assert_eq!(row("DDD").status, Status::NotTopN);
    // CCC closes at 53, exactly its SMA3 (52 + 54 + 53)/3: not above it.
    assert_eq!(row("CCC").status, Status::BelowSma);
    assert_eq!(row("CCC").sma, Some(53.0));
    // EEE listed on row 3: no close four sessions back.
    assert_eq!(row("EEE").status, Status::ShortHistory);
    let targets: Vec<(&str, f64)> = m.targets.iter().map(|(s, w)| (s.as_str(), *w)).collect();
    assert_eq!(targets, vec![("AAA", 0.5), ("SPY", 0.5)]);
}

#[test]
fn test_risk_off_holds_cash_or_the_cash_symbol_and_unknown_fails_closed() {
    // SPY 103.5 ≤ SMA3 (103 + 104 + 103.5)/3 = 103.5: risk-off, nothing chosen.
    let panel = Panel::new(&hand_market(103.5));
    let m = decide(&panel, 5, &hand_params());
    assert!(matches!(m.regime, Regime::Off { .. }), "{:?}", m.regime);
    assert!(m.targets.is_empty());
    assert!(
        m.rows
            .iter()
            .filter(|r| r.rank.is_some())
            .all(|r| r.status == Status::RiskOff && r.weight == 0.0)
    );
    // With a cash symbol, risk-off holds it whole.
    let p = RotationParams {
        cash_symbol: "DDD".into(),
        ..hand_params()
    };
    let m = decide(&panel, 5, &p);
    let targets: Vec<(&str, f64)> = m.targets.iter().map(|(s, w)| (s.as_str(), *w)).collect();
    assert_eq!(targets, vec![("DDD", 1.0)]);
    // Not enough history for SPY's SMA: unknown, which is risk-off.
    let m = decide(&panel, 1, &hand_params());
    assert_eq!(m.regime, Regime::Unknown);
    assert!(!m.regime.risk_on() && m.targets.is_empty());
    // A run into a risk-off month sells everything it held.
    let dates = [
        "2024-01-02",
        "2024-01-03",
        "2024-02-01",
        "2024-02-02",
        "2024-03-01",
        "2024-03-04",
    ];
    let panel = Panel {
        dates: dates.iter().map(|x| d(x)).collect(),
        symbols: vec![Symbol::new("AAA").unwrap(), Symbol::new("SPY").unwrap()],
        close: vec![
            vec![10.0, 11.0, 12.0, 13.0, 14.0, 15.0],
            vec![100.0, 101.0, 102.0, 103.0, 99.0, 99.0],
        ],
        open: vec![vec![10.0; 6], vec![100.0; 6]],
        liquidity: Default::default(),
    };
    let p = RotationParams {
        top_n: 1,
        lookback: 1,
        skip: 0,
        trend_sma: 0,
        regime_sma: 2,
        ..hand_params()
    };
    let r = run(&panel, &p, &Settings::cash(1000.0)).unwrap();
    let regimes: Vec<&str> = r.months.iter().map(|m| m.regime.as_str()).collect();
    assert_eq!(regimes, ["risk_off_unknown", "risk_on", "risk_off"]);
    let kinds: Vec<(&str, TxKind)> = r
        .transactions
        .iter()
        .map(|t| (t.symbol.as_str(), t.kind))
        .collect();
    assert_eq!(kinds, [("AAA", TxKind::Buy), ("AAA", TxKind::Sell)]);
    assert!(r.positions.is_empty(), "{:?}", r.positions);
    assert_eq!(r.series.last().unwrap().n_positions, 0);
}

#[test]
fn test_rebalance_follows_bt_arithmetic_with_fees() {
    // One name, 10 bps, two months: all in at the first, then resized at the second.
    let data = market(&[(
        "AAA",
        some(&[10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0]),
    )]);
    let panel = Panel::new(&data);
    let p = RotationParams {
        top_n: 1,
        lookback: 1,
        skip: 0,
        trend_sma: 0,
        regime_symbol: String::new(),
        max_corr: 1.0,
        weighting: Weighting::Equal,
        fee_bps: 10.0,
        ..hand_params()
    };
    let r = run(&panel, &p, &Settings::cash(1000.0)).unwrap();
    let fee = 0.001;
    // Row 0 has no momentum: nothing. Row 5 (2024-02-01, close 15): buy 1000 including the fee.
    let q = 1000.0 / (15.0 * (1.0 + fee));
    assert_eq!(r.transactions.len(), 1);
    let t = &r.transactions[0];
    assert_eq!(
        (t.date, t.kind, t.price),
        (d("2024-02-01"), TxKind::Buy, 15.0)
    );
    assert!((t.qty - q).abs() < 1e-12);
    let cash = 1000.0 - (q * 15.0 + q * 15.0 * fee);
    assert!(cash.abs() < 1e-9, "all in: {cash}");
    assert!((r.final_equity - (cash + q * 17.0)).abs() < 1e-9);
    // The series: flat before, then the holding's value; returns chain to the final equity.
    assert_eq!(r.series.len(), 8);
    assert_eq!(r.series[4].equity, 1000.0);
    let chained = r
        .series
        .iter()
        .skip(1)
        .fold(1000.0, |e, x| e * (1.0 + x.ret));
    assert!((chained - r.final_equity).abs() < 1e-6);
    // Next open: the same decision fills at row 6's open (16 + 1).
    let r = run(
        &panel,
        &RotationParams {
            fill: Fill::NextOpen,
            ..p.clone()
        },
        &Settings::cash(1000.0),
    )
    .unwrap();
    assert_eq!(r.transactions[0].date, d("2024-02-02"));
    assert_eq!(r.transactions[0].price, 17.0);
    assert_eq!(r.months[1].trade_date, Some(d("2024-02-02")));
    // A panel read back without its opens refuses to trade at them; with them, the same run.
    let next_open = RotationParams {
        fill: Fill::NextOpen,
        ..p.clone()
    };
    let mut back = Panel::from_bytes(&panel.to_bytes()).unwrap();
    let err = run(&back, &next_open, &Settings::cash(1000.0)).unwrap_err();
    assert!(err.to_string().contains("next_open"), "{err}");
    assert_eq!(
        run(&back, &p, &Settings::cash(1000.0)).unwrap(),
        run(&panel, &p, &Settings::cash(1000.0)).unwrap()
    );
    let opens = panel.opens_to_bytes();
    back.read_opens_from(&mut &opens[..], opens.len() as u64)
        .unwrap();
    assert_eq!(
        run(&back, &next_open, &Settings::cash(1000.0)).unwrap(),
        run(&panel, &next_open, &Settings::cash(1000.0)).unwrap()
    );
}

#[test]
fn test_erc_weights_equalise_risk_and_fall_back_loudly() {
    let panel = Panel::new(&hand_market(105.0));
    let p = RotationParams {
        weighting: Weighting::Erc,
        max_corr: 1.0,
        top_n: 3,
        ..hand_params()
    };
    let m = decide(&panel, 5, &p);
    let w: Vec<f64> = m.targets.iter().map(|x| x.1).collect();
    assert_eq!(w.len(), 3);
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(w.iter().all(|x| *x > 0.0));
    // SPY's returns are the calmest: it carries the largest weight.
    let spy = m.targets.iter().find(|x| x.0.as_str() == "SPY").unwrap().1;
    assert!(w.iter().all(|x| spy >= *x), "{:?}", m.targets);
}

fn random_market(seed: u64, n: usize, days: usize) -> BTreeMap<Symbol, Vec<DailyBar>> {
    let start = d("2020-01-01");
    let mut x = seed | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 2001) as f64 / 1000.0 - 1.0
    };
    (0..n)
        .map(|k| {
            let mut c = 50.0 + k as f64;
            let bars = (0..days)
                .map(|i| {
                    c *= 1.0 + 0.02 * next();
                    DailyBar {
                        ts: start + chrono::Duration::days(i as i64),
                        open: c,
                        high: c * 1.01,
                        low: c * 0.99,
                        close: c,
                        volume: 1.0,
                    }
                })
                .collect();
            (Symbol::new(format!("S{k:02}")).unwrap(), bars)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Every month's weights are non-negative and add up to 1 (or nothing), and a decision
    /// made at row t is the same when every later bar is removed (no look-ahead).
    #[test]
    fn prop_weights_add_up_and_decisions_ignore_the_future(seed in 1u64..10_000, erc in any::<bool>()) {
        let data = random_market(seed, 8, 120);
        let p = RotationParams {
            lookback: 40,
            skip: 5,
            trend_sma: 20,
            regime_symbol: "S00".into(),
            regime_sma: 20,
            corr_window: 20,
            vol_window: 20,
            weighting: if erc { Weighting::Erc } else { Weighting::Equal },
            ..RotationParams::default()
        };
        let panel = Panel::new(&data);
        let r = run(&panel, &p, &Settings::cash(1e5)).unwrap();
        for m in &r.months {
            let total: f64 = m.targets.iter().map(|x| x.1).sum();
            prop_assert!(m.targets.is_empty() || (total - 1.0).abs() < 1e-9, "{total}");
            prop_assert!(m.targets.iter().all(|x| x.1 >= 0.0));
            prop_assert!(m.targets.len() <= p.top_n);
            let cut: BTreeMap<Symbol, Vec<DailyBar>> = data
                .iter()
                .map(|(s, b)| (s.clone(), b.iter().filter(|x| x.ts <= m.date).cloned().collect()))
                .collect();
            let again = decide(&Panel::new(&cut), m.t, &p);
            prop_assert_eq!(&again.targets, &m.targets);
            prop_assert_eq!(&again.rows, &m.rows);
        }
        // The same panel twice: the same run.
        let r2 = run(&panel, &p, &Settings::cash(1e5)).unwrap();
        prop_assert_eq!(r, r2);
    }
}

#[test]
fn test_limits_throttle_block_and_cap_the_month() {
    use systrade_backtest::overlay::Limits;
    use systrade_rotation::select::limit;
    let panel = Panel::new(&hand_market(105.0));
    let held: BTreeMap<Symbol, f64> = [(Symbol::new("AAA").unwrap(), 0.2)].into();
    let limits = Limits {
        max_positions: None,
        drawdown_throttle: Some(0.1),
        drawdown_scale: 0.5,
        drawdown_block: Some(0.2),
    };
    let weights = |m: &systrade_rotation::Month| -> Vec<(String, f64)> {
        m.targets.iter().map(|(s, w)| (s.to_string(), *w)).collect()
    };
    // 15% below the peak: each increase halved — AAA 0.2 → 0.2 + 0.3 · 0.5, SPY 0 → 0.25.
    let mut m = decide(&panel, 5, &hand_params());
    limit(&mut m, &held, &limits, 0.15);
    assert_eq!(m.risk_state, "throttled");
    assert_eq!(
        weights(&m),
        vec![("AAA".to_string(), 0.35), ("SPY".to_string(), 0.25)]
    );
    // 25% below: AAA keeps what it holds, SPY may not enter.
    let mut m = decide(&panel, 5, &hand_params());
    limit(&mut m, &held, &limits, 0.25);
    assert_eq!(m.risk_state, "blocked");
    assert_eq!(weights(&m), vec![("AAA".to_string(), 0.2)]);
    let spy = m.rows.iter().find(|r| r.symbol.as_str() == "SPY").unwrap();
    assert_eq!(
        spy.status,
        Status::Limited {
            why: "drawdown_block"
        }
    );
    // One position at most: the strongest stays.
    let mut m = decide(&panel, 5, &hand_params());
    let one = Limits {
        max_positions: Some(1),
        ..Limits::default()
    };
    limit(&mut m, &BTreeMap::new(), &one, 0.0);
    assert_eq!(weights(&m), vec![("AAA".to_string(), 0.5)]);
    // No limits: the month is untouched.
    let mut m = decide(&panel, 5, &hand_params());
    let before = m.targets.clone();
    limit(&mut m, &held, &Limits::default(), 0.5);
    assert_eq!(m.targets, before);
}

#[test]
fn test_panel_bytes_round_trip_exactly() {
    let panel = Panel::new(&hand_market(105.0));
    let bytes = panel.to_bytes();
    let back = Panel::from_bytes(&bytes).unwrap();
    assert_eq!(back.dates, panel.dates);
    assert_eq!(back.symbols, panel.symbols);
    for (a, b) in back
        .close
        .iter()
        .flatten()
        .zip(panel.close.iter().flatten())
    {
        assert_eq!(a.to_bits(), b.to_bits(), "NaN and all, bit for bit");
    }
    assert!(Panel::from_bytes(&bytes[..bytes.len() - 1]).is_none());
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Panel::from_bytes(&longer).is_none());
    // Streamed with the exact length: the same panel; with less allowed than it needs, none.
    let streamed = Panel::read_from(&mut &bytes[..], bytes.len() as u64).unwrap();
    assert_eq!(streamed.to_bytes(), bytes);
    assert!(Panel::read_from(&mut &bytes[..], bytes.len() as u64 - 1).is_none());
    // The opens: their own bytes, bit for bit; refused for a panel of another shape or with
    // less allowed than they need.
    assert!(streamed.open.is_empty());
    let opens = panel.opens_to_bytes();
    let mut with = streamed;
    with.read_opens_from(&mut &opens[..], opens.len() as u64)
        .unwrap();
    for (a, b) in with.open.iter().flatten().zip(panel.open.iter().flatten()) {
        assert_eq!(a.to_bits(), b.to_bits());
    }
    assert_eq!(with.open.len(), panel.open.len());
    assert_eq!(with.opens_to_bytes(), opens);
    let mut short = Panel::from_bytes(&bytes).unwrap();
    assert!(
        short
            .read_opens_from(&mut &opens[..], opens.len() as u64 - 1)
            .is_none()
    );
    assert!(short.open.is_empty());
    let mut other = Panel::new(&hand_market(90.0));
    other.dates.pop();
    assert!(
        other
            .read_opens_from(&mut &opens[..], opens.len() as u64)
            .is_none()
    );
    // A damaged date count asks for more than the stream holds: refused, nothing allocated.
    let mut huge = bytes.clone();
    huge[..8].copy_from_slice(&(u64::MAX / 16).to_le_bytes());
    assert!(Panel::from_bytes(&huge).is_none());
}

/// The liquidity a fill is measured against: a name's mean volume over its 20 bars before a
/// month's first session or the one after; nothing with fewer bars, nothing on other rows;
/// a gap in one name's bars is skipped, not carried.
#[test]
fn test_adv_is_the_mean_of_the_20_bars_before_a_rebalance_session() {
    let day0 = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    let bar = |i: i64, volume: f64| DailyBar {
        ts: day0 + chrono::Duration::days(i),
        open: 10.0 + i as f64,
        high: 10.0 + i as f64,
        low: 10.0 + i as f64,
        close: 10.0 + i as f64,
        volume,
    };
    let mut data = BTreeMap::new();
    // AAA trades every day of January and February with volume 100·(i+1).
    data.insert(
        Symbol::new("AAA").unwrap(),
        (0..60).map(|i| bar(i, 100.0 * (i + 1) as f64)).collect(),
    );
    // BBB has no bar on day 40.
    data.insert(
        Symbol::new("BBB").unwrap(),
        (0..60).filter(|i| *i != 40).map(|i| bar(i, 7.0)).collect(),
    );
    let panel = Panel::new(&data);
    let feb1 = 31; // the first session of February
    assert_eq!(panel.month_starts(), vec![0, feb1]);
    assert_eq!(panel.liquidity.rows, vec![0, 1, feb1, feb1 + 1]);
    let mean = |from: i64| {
        (from..from + 20)
            .map(|i| 100.0 * (i + 1) as f64)
            .sum::<f64>()
            / 20.0
    };
    assert_eq!(panel.adv(0, feb1), Some(mean(11)));
    assert_eq!(panel.adv(0, feb1 + 1), Some(mean(12)));
    assert_eq!(panel.adv(1, feb1 + 1), Some(7.0));
    assert_eq!(panel.adv(0, 1), None, "one bar before it");
    assert_eq!(panel.adv(0, 45), None, "not a rebalance session");
    // A fill on February's first session: its share of that ADV.
    let p = RotationParams {
        top_n: 1,
        lookback: 20,
        skip: 0,
        trend_sma: 0,
        regime_symbol: String::new(),
        fill: Fill::Close,
        ..hand_params()
    };
    let r = run(&panel, &p, &Settings::cash(1000.0)).unwrap();
    let t = r.transactions.first().expect("a fill");
    let j = panel.column(t.symbol.as_str()).unwrap();
    assert_eq!(t.date, panel.dates[feb1]);
    assert_eq!(t.adv_share, Some(t.qty.abs() / panel.adv(j, feb1).unwrap()));
}
