//! The AVWAP execution cycles over 20 paper sessions of the three intraday ETFs: an open
//! cycle, intraday cycles every 15 minutes and a close cycle each session. Every paper exit
//! is reproduced by the broker-independent exit simulator from the bars and the recorded
//! stop path (date, reason, price); no stop moves down or is placed before 09:45; each
//! held position has exactly one stop at the broker after every intraday cycle; a cycle
//! run again sends nothing twice.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use systrade_avwap::intraday::ny_instant;
use systrade_broker::{Broker, Faults, PaperBroker};
use systrade_config::ReadOptions;
use systrade_core::calendar::Calendar;
use systrade_core::calendar::us::Nyse;
use systrade_live::avwap_book::AvwapBook;
use systrade_live::cycles::{Cycle, CycleRequest, run_loaded};
use systrade_live::desk::Desk;
use systrade_live::venue::Venues;
use systrade_store::{Ledger, Purpose};

fn intraday() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/us_intraday_1min")
}

/// The three ETFs, their daily bars built from their minutes; thin, so no liquidity floor.
fn config(dir: &Path) -> PathBuf {
    let p = dir.join("avwap_etf.toml");
    let src = intraday();
    std::fs::write(
        &p,
        format!(
            "strategy = \"avwap\"\n[data]\nsource = {:?}\nintraday = {:?}\n[scan]\nmin_dollar_volume = 0.0\nmin_price = 0.0\n[safety]\nmax_positions = 3\nmax_new_entries = 2\n[run]\naccount = \"avwap-etf\"\n",
            src.to_str().unwrap(),
            src.to_str().unwrap()
        ),
    )
    .unwrap();
    p
}

fn at(day: NaiveDate, hh: u32, mm: u32) -> DateTime<Utc> {
    ny_instant(day, NaiveTime::from_hms_opt(hh, mm, 0).unwrap()).unwrap()
}

fn cycle(home: &Path, cfg: &Path, desk: &mut Desk, c: Cycle, now: DateTime<Utc>, force: bool) {
    let read = ReadOptions::default();
    let r = CycleRequest {
        config: cfg,
        cycle: c,
        now,
        data: None,
        read: &read,
        broker: None,
        live: false,
        force,
    };
    run_loaded(home, &r, desk, &Venues).unwrap_or_else(|e| panic!("{c:?} at {now}: {e:#}"));
}

/// Stops per held symbol at the paper account now.
fn stops_at_broker(home: &Path, desk: &Desk, day: NaiveDate) -> Vec<(String, usize, usize)> {
    let mut b = PaperBroker::open(
        &home.join("paper/avwap-etf.sqlite"),
        desk.paper_config(),
        desk.bars(),
        day,
        Faults::none(),
    )
    .unwrap();
    let open = b.open_orders().unwrap();
    b.positions()
        .unwrap()
        .into_iter()
        .map(|p| {
            let n = open
                .iter()
                .filter(|o| o.symbol == p.symbol && o.order_type.is_stop())
                .count();
            let exits = open
                .iter()
                .filter(|o| o.symbol == p.symbol && !o.order_type.is_stop())
                .count();
            (p.symbol.to_string(), n, exits)
        })
        .collect()
}

#[test]
fn test_twenty_paper_sessions_of_cycles_and_every_exit_has_parity() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let cfg = config(dir.path());
    let first: NaiveDate = "2024-04-29".parse().unwrap();
    let (mut desk, _) =
        Desk::load(&cfg, None, &ReadOptions::default(), None, at(first, 9, 31)).unwrap();
    let days: Vec<NaiveDate> = Nyse
        .trading_days(first, "2024-06-30".parse().unwrap())
        .into_iter()
        .take(20)
        .collect();
    for &day in &days {
        cycle(&home, &cfg, &mut desk, Cycle::Open, at(day, 9, 31), false);
        let mut t = at(day, 9, 45);
        while t < at(day, 16, 0) {
            cycle(&home, &cfg, &mut desk, Cycle::Intraday, t, false);
            t += chrono::Duration::minutes(15);
        }
        // After the last intraday cycle: one stop per held position (or its exit order).
        for (sym, stops, exits) in stops_at_broker(&home, &desk, day) {
            assert!(
                (stops == 1 && exits == 0) || (stops == 0 && exits == 1),
                "{day} {sym}: {stops} stops, {exits} exit orders"
            );
        }
        cycle(&home, &cfg, &mut desk, Cycle::Close, at(day, 16, 5), false);
    }
    let book = AvwapBook::load(&home, "avwap_etf").unwrap();
    assert!(
        book.closed.len() >= 3,
        "{} trades closed",
        book.closed.len()
    );
    for c in &book.closed {
        let sim = c
            .simulated
            .unwrap_or_else(|| panic!("{} {}: no simulated exit", c.symbol, c.exit_day));
        assert_eq!(
            (sim.day, sim.reason, sim.price),
            (c.exit_day, c.exit_reason, c.exit_price),
            "{} entered {}",
            c.symbol,
            c.held.tracker.entry_day
        );
        let pts = c.held.tracker.path.points();
        assert!(pts.windows(2).all(|w| w[1].level > w[0].level), "{pts:?}");
        for p in pts {
            let day = systrade_avwap::intraday::ny_local(p.effective).0;
            assert!(p.effective >= at(day, 9, 45), "a stop before 09:45: {p:?}");
        }
    }
    // Every stop order the ledger holds was placed at or after 09:45 of its session: the
    // open cycles (09:31) placed none.
    let ledger = Ledger::open(&home.join("ledger.sqlite")).unwrap();
    let orders = ledger.orders("avwap_etf").unwrap();
    assert!(orders.iter().any(|o| o.purpose == Purpose::Entry));
    let logs = std::fs::read_to_string(home.join(format!(
        "runs/avwap_etf/{}/logs/stop_updates.jsonl",
        days[0]
    )))
    .unwrap();
    assert!(logs.contains("time_gated"), "{logs}");
    // No parity mismatch anywhere.
    for day in &days {
        let errors = home.join(format!("runs/avwap_etf/{day}/logs/errors.jsonl"));
        if let Ok(text) = std::fs::read_to_string(errors) {
            assert!(!text.contains("exit_parity_mismatch"), "{day}: {text}");
        }
    }
    let trades = std::fs::read_to_string(home.join("runs/avwap_etf/trades.csv")).unwrap();
    assert_eq!(trades.lines().count(), book.closed.len() + 1);
    assert!(
        trades.lines().skip(1).all(|l| l.contains(",intraday,")),
        "{trades}"
    );
}

#[test]
fn test_a_cycle_run_again_sends_nothing_twice_and_the_gates_refuse_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let cfg = config(dir.path());
    let day: NaiveDate = "2024-04-29".parse().unwrap();
    let (mut desk, _) =
        Desk::load(&cfg, None, &ReadOptions::default(), None, at(day, 9, 31)).unwrap();
    cycle(&home, &cfg, &mut desk, Cycle::Open, at(day, 9, 31), false);
    let ledger = Ledger::open(&home.join("ledger.sqlite")).unwrap();
    let n = ledger.orders("avwap_etf").unwrap().len();
    assert!(n >= 1);
    drop(ledger);
    // Forced again: the same client order ids are found at the broker, nothing new is sent.
    cycle(&home, &cfg, &mut desk, Cycle::Open, at(day, 9, 31), true);
    let ledger = Ledger::open(&home.join("ledger.sqlite")).unwrap();
    assert_eq!(ledger.orders("avwap_etf").unwrap().len(), n);
    let book = AvwapBook::load(&home, "avwap_etf").unwrap();
    assert_eq!(book.held.len(), 1, "one entry, held once");

    // The kill switch (the KILL file under the home): a session with a candidate (DBB on
    // the scan of 2024-05-03) gets no entry, and the refusal names its reason.
    let home2 = dir.path().join("home2");
    std::fs::create_dir_all(&home2).unwrap();
    std::fs::write(home2.join("KILL"), "").unwrap();
    let day2: NaiveDate = "2024-05-06".parse().unwrap();
    cycle(&home2, &cfg, &mut desk, Cycle::Open, at(day2, 9, 31), false);
    let decisions =
        std::fs::read_to_string(home2.join(format!("runs/avwap_etf/{day2}/logs/decisions.jsonl")))
            .unwrap();
    assert!(
        decisions.contains("BLOCK") && decisions.contains("kill_switch"),
        "{decisions}"
    );
    assert!(!decisions.contains("\"ALLOW\""), "{decisions}");
    assert!(
        AvwapBook::load(&home2, "avwap_etf")
            .unwrap()
            .held
            .is_empty()
    );
}
