//! The broker-independent exit simulator reproduces every exit of the AVWAP backtest on the
//! real data (74 S&P names, three intraday ETFs) from the bars and the recorded stop path
//! alone: date, bar, reason and price.

use std::path::PathBuf;

use systrade_avwap::exits::{ExitReason, Recorded, simulate};
use systrade_avwap::stops::StopPath;
use systrade_config::ReadOptions;
use systrade_core::Market;

#[test]
fn test_simulator_reproduces_every_backtest_exit() {
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs/avwap_us.toml");
    let l = systrade_systems::avwap::load(&config, None, &ReadOptions::default()).unwrap();
    let o = l.backtest();
    let cal = Market::Us.calendar();
    let mut checked = 0;
    let mut intraday = 0;
    for t in o.trades.iter().filter(|t| !t.open) {
        let panel = &l.panels[&t.symbol];
        let rec = Recorded {
            entry_day: t.entry_date,
            entry_price: t.entry_price,
            anchor_index: t.scan.anchor.map(|a| a.index).unwrap(),
            path: StopPath::from_points(t.path.clone()),
        };
        let sim = simulate(
            panel,
            l.sessions.get(&t.symbol),
            &rec,
            t.exit.day,
            &l.params.exits,
            cal,
        )
        .unwrap_or_else(|| panic!("trade {} ({}): the simulator found no exit", t.id, t.symbol));
        assert_eq!(sim, t.exit, "trade {} ({})", t.id, t.symbol);
        checked += 1;
        intraday +=
            usize::from(matches!(t.exit.reason, ExitReason::Stop(_)) && t.exit.at.is_some());
    }
    assert!(checked > 1000, "{checked} exits");
    assert!(intraday > 0, "no exit in an intraday bar was replayed");
}

/// Capacity on the real data: every entry and every exit before the data ended, against the
/// mean volume of its name's 20 bars before that session, recomputed from the bars; the
/// largest is the summary's.
#[test]
fn test_capacity_is_the_largest_fill_against_the_20_bars_before_it() {
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs/avwap_us.toml");
    let l = systrade_systems::avwap::load(&config, None, &ReadOptions::default()).unwrap();
    let o = l.backtest();
    let window = l.params.scan.adv_window;
    let share = |s: &systrade_core::Symbol, day: chrono::NaiveDate, qty: u64| {
        let bars = &l.panels[s].bars;
        let t = bars.iter().position(|b| b.ts == day).unwrap();
        (t >= window).then(|| {
            qty as f64 / (bars[t - window..t].iter().map(|b| b.volume).sum::<f64>() / window as f64)
        })
    };
    let mut fills = Vec::new();
    for t in &o.trades {
        fills.push((
            share(&t.symbol, t.entry_date, t.qty),
            &t.symbol,
            t.entry_date,
        ));
        if !t.open {
            fills.push((share(&t.symbol, t.exit.day, t.qty), &t.symbol, t.exit.day));
        }
    }
    let (max, symbol, date) = fills
        .iter()
        .filter_map(|(x, s, d)| x.map(|x| (x, *s, *d)))
        .fold(None, |b: Option<(f64, _, _)>, f| {
            if b.is_some_and(|b| b.0 >= f.0) {
                b
            } else {
                Some(f)
            }
        })
        .unwrap();
    let c = systrade_systems::avwap::capacity(&l, &o).unwrap();
    assert!(
        (c.max_adv_share - max).abs() <= 1e-12 * max,
        "{} vs {max}",
        c.max_adv_share
    );
    assert_eq!((&c.symbol, c.date), (symbol, date));
    assert_eq!(c.unmeasured, fills.iter().filter(|f| f.0.is_none()).count());
    assert!(fills.len() > 1000, "{} fills", fills.len());
}
