//! The exit rules on hand-built sessions: the 09:45 gate, intraday higher lows, the daily
//! swing-low fallback, the ratchet, the AVWAP and time exits — and the simulator replaying
//! the recorded stop path to the same exit.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use systrade_avwap::exits::{ExitReason, Recorded, Tracker, simulate};
use systrade_avwap::intraday::Sessions;
use systrade_avwap::panel::Panel;
use systrade_avwap::params::{ExitParams, ScanParams};
use systrade_avwap::stops::{StopPath, StopPoint, StopSource, submit_from};
use systrade_core::calendar::Calendar;
use systrade_core::calendar::us::Nyse;
use systrade_core::{DailyBar, IntradayBar, Symbol};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn daily(day: NaiveDate, o: f64, h: f64, l: f64, c: f64) -> DailyBar {
    DailyBar {
        ts: day,
        open: o,
        high: h,
        low: l,
        close: c,
        volume: 1000.0,
    }
}

/// Five-minute bars from 09:30 New York (EDT: 13:30 UTC) with these (open, low) and
/// high = max(open, low) + 0.3, close = low + 0.2.
fn five(day: &str, bars: &[(f64, f64)]) -> Vec<IntradayBar> {
    let open = at(&format!("{day}T13:30:00Z"));
    bars.iter()
        .enumerate()
        .map(|(i, (o, l))| IntradayBar {
            ts: open + Duration::minutes(5 * i as i64),
            open: *o,
            high: o.max(*l) + 0.3,
            low: *l,
            close: l + 0.2,
            volume: 100.0,
        })
        .collect()
}

fn initial(day: NaiveDate, level: f64) -> StopPath {
    let p = ExitParams::default();
    StopPath::new(StopPoint {
        effective: submit_from(day, p.stop_submit_after).unwrap(),
        level,
        source: StopSource::Initial,
    })
}

#[test]
fn test_no_stop_before_0945_then_a_confirmed_higher_low_raises_it_and_fills() {
    let day = d("2024-07-10");
    let p = ExitParams::default();
    // 09:30 dips to 9.4 under the 9.5 stop: no stop order exists before 09:45.
    // 09:35..: lows 9.9, 9.85, 9.8 (pivot), 9.9, 9.95 → the pivot at 09:45 (9.8) is
    // confirmed when the 09:55 bar closes (10:00); the 10:00 bar falls to 9.7: stopped at 9.8.
    let bars = five(
        "2024-07-10",
        &[
            (10.0, 9.4),
            (9.9, 9.9),
            (9.95, 9.85),
            (9.9, 9.8),
            (9.9, 9.9),
            (10.0, 9.95),
            (9.95, 9.7),
        ],
    );
    let bar = daily(day, 10.0, 10.4, 9.4, 9.9);
    let mut t = Tracker::new(day, 10.0, 0, initial(day, 9.5));
    let exit = t
        .session(&bar, Some(&bars), &p, &Nyse, true)
        .expect("stopped");
    assert_eq!(exit.reason, ExitReason::Stop(StopSource::Intraday));
    assert_eq!(exit.price, 9.8);
    assert_eq!(exit.at, Some(at("2024-07-10T14:00:00Z")));
    let levels: Vec<f64> = t.path.points().iter().map(|x| x.level).collect();
    assert_eq!(levels, vec![9.5, 9.8]);
    assert_eq!(t.path.points()[1].effective, at("2024-07-10T14:00:00Z"));
    assert_eq!(t.worst, 9.4, "the pre-09:45 dip was lived through");
    // A bar that opens under the stop fills at its open.
    let gap = five(
        "2024-07-10",
        &[
            (10.0, 9.9),
            (9.9, 9.9),
            (9.95, 9.85),
            (9.9, 9.8),
            (9.9, 9.9),
            (10.0, 9.95),
            (9.6, 9.5),
        ],
    );
    let mut t = Tracker::new(day, 10.0, 0, initial(day, 9.5));
    let exit = t.session(&bar, Some(&gap), &p, &Nyse, true).unwrap();
    assert_eq!(exit.price, 9.6);
}

#[test]
fn test_the_simulator_replays_the_recorded_path_to_the_same_exit() {
    let day = d("2024-07-10");
    let p = ExitParams::default();
    let bars = five(
        "2024-07-10",
        &[
            (10.0, 9.4),
            (9.9, 9.9),
            (9.95, 9.85),
            (9.9, 9.8),
            (9.9, 9.9),
            (10.0, 9.95),
            (9.95, 9.7),
        ],
    );
    let daily_bars = vec![daily(day, 10.0, 10.4, 9.4, 9.9)];
    let panel = Panel::new(
        Symbol::new("X").unwrap(),
        daily_bars.clone(),
        &ScanParams::default(),
    );
    let mut sessions = Sessions::new();
    sessions.insert(day, bars.clone());
    let mut t = Tracker::new(day, 10.0, 0, initial(day, 9.5));
    let live = t
        .session(&daily_bars[0], Some(&bars), &p, &Nyse, true)
        .unwrap();
    let rec = Recorded {
        entry_day: day,
        entry_price: 10.0,
        anchor_index: 0,
        path: t.path.clone(),
    };
    let sim = simulate(&panel, Some(&sessions), &rec, day, &p, &Nyse).unwrap();
    assert_eq!(sim, live);
    // Replayed against only the initial stop, the same bars never reach 9.5 after 09:45:
    // the recorded path decides the exit, the simulator raises nothing itself.
    let rec = Recorded {
        path: initial(day, 9.5),
        ..rec
    };
    assert_eq!(
        simulate(&panel, Some(&sessions), &rec, day, &p, &Nyse),
        None
    );
}

/// Sessions from 2024-07-01: a rise, a pivot low at index 6 (confirmed at 9), more rise.
fn swing_days() -> Vec<DailyBar> {
    let days = Nyse.trading_days(d("2024-07-01"), d("2024-08-30"));
    let closes = [
        10.0, 10.2, 10.4, 10.6, 10.5, 10.3, 10.1, 10.4, 10.7, 10.9, 11.0, 11.1, 11.2, 10.0, 11.3,
    ];
    closes
        .iter()
        .zip(days)
        .map(|(c, day)| daily(day, *c, c + 0.2, c - 0.2, *c))
        .collect()
}

#[test]
fn test_daily_fallback_raises_after_the_close_and_fills_the_next_session() {
    let p = ExitParams::default();
    let bars = swing_days();
    let panel = Panel::new(
        Symbol::new("X").unwrap(),
        bars.clone(),
        &ScanParams::default(),
    );
    let entry = bars[5].ts;
    let mut t = Tracker::new(entry, 10.3, 0, initial(entry, 9.0));
    for (i, bar) in bars.iter().enumerate().skip(5).take(8) {
        assert!(t.session(bar, None, &p, &Nyse, true).is_none(), "day {i}");
        t.at_close(&panel, i, false, &p, &Nyse, true);
        if i < 9 {
            assert_eq!(t.path.points().len(), 1, "no pivot confirmed before bar 9");
        }
    }
    // The pivot low of bar 6 (10.1 − 0.2 = 9.9) was confirmed at bar 9, effective at the
    // next session's 09:45.
    let last = t.path.current().unwrap();
    assert_eq!((last.level, last.source), (9.9, StopSource::Daily));
    assert_eq!(
        last.effective,
        submit_from(bars[10].ts, p.stop_submit_after).unwrap()
    );
    // Bar 13 opens at 10.0 and trades down to 9.8: stopped at 9.9.
    let exit = t.session(&bars[13], None, &p, &Nyse, true).unwrap();
    assert_eq!(
        (exit.price, exit.reason),
        (9.9, ExitReason::Stop(StopSource::Daily))
    );
    // The ratchet: every level above the one before.
    let levels: Vec<f64> = t.path.points().iter().map(|x| x.level).collect();
    assert!(levels.windows(2).all(|w| w[1] > w[0]), "{levels:?}");
}

#[test]
fn test_two_closes_below_the_avwap_and_the_time_stop_exit_at_the_next_open() {
    let bars = swing_days();
    let panel = Panel::new(
        Symbol::new("X").unwrap(),
        bars.clone(),
        &ScanParams::default(),
    );
    let p = ExitParams::default();
    // Anchored at bar 3 (tp 10.6): closes 10.5 (bar 4) and 10.3 (bar 5) are under it.
    let mut t = Tracker::new(bars[3].ts, 10.6, 3, initial(bars[3].ts, 5.0));
    for (i, bar) in bars.iter().enumerate().take(6).skip(3) {
        assert!(t.session(bar, None, &p, &Nyse, true).is_none());
        t.at_close(&panel, i, false, &p, &Nyse, true);
    }
    assert_eq!(t.below, 2);
    assert_eq!(t.pending, Some(ExitReason::AvwapLoss));
    let exit = t.at_open(&bars[6]).unwrap();
    assert_eq!(
        (exit.day, exit.price, exit.reason),
        (bars[6].ts, 10.1, ExitReason::AvwapLoss)
    );
    // One close under it is not enough; max_hold_days = 3 exits at the 4th open.
    let p3 = ExitParams {
        max_hold_days: 3,
        ..ExitParams::default()
    };
    let mut t = Tracker::new(bars[7].ts, 10.4, 7, initial(bars[7].ts, 5.0));
    for (i, bar) in bars.iter().enumerate().take(10).skip(7) {
        assert!(t.session(bar, None, &p3, &Nyse, true).is_none());
        t.at_close(&panel, i, false, &p3, &Nyse, true);
    }
    assert_eq!(t.pending, Some(ExitReason::TimeStop));
    assert_eq!(t.at_open(&bars[10]).unwrap().price, 11.0);
}
