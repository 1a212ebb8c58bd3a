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
