//! The scan's conditions, each on a hand-built series whose numbers are checked by hand.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use systrade_avwap::panel::Panel;
use systrade_avwap::params::ScanParams;
use systrade_avwap::scan::{Miss, scan, scan_bar};
use systrade_avwap::{AnchorKind, AvwapError};
use systrade_core::calendar::Calendar;
use systrade_core::calendar::us::Nyse;
use systrade_core::{DailyBar, Symbol};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// 260 sessions of a steady uptrend (close 50 + 0.2·i, range ±0.5, open at the previous
/// close + 0.05, volume 1M), then `edit` changes what a case needs.
fn series(edit: impl Fn(&mut [DailyBar])) -> Vec<DailyBar> {
    let days = Nyse.trading_days(d("2023-01-03"), d("2024-12-31"));
    let mut bars: Vec<DailyBar> = days
        .iter()
        .take(260)
        .enumerate()
        .map(|(i, day)| {
            let c = 50.0 + 0.2 * i as f64;
            let o = if i == 0 { c } else { c - 0.15 };
            DailyBar {
                ts: *day,
                open: o,
                high: c.max(o) + 0.5,
                low: c.min(o) - 0.5,
                close: c,
                volume: 1e6,
            }
        })
        .collect();
    edit(&mut bars);
    bars
}

/// A swing high at bar 230, a pullback below its AVWAP, and the close of bar 255
/// reclaiming it.
fn reclaim(bars: &mut [DailyBar]) {
    bars[230].high = 120.0;
    for (k, b) in bars[231..255].iter_mut().enumerate() {
        // A pullback: closes drift down from 94 (well under the spike's VWAP).
        let c = 94.0 - 0.1 * k as f64;
        b.open = c + 0.05;
        b.close = c;
        b.high = c + 0.5;
        b.low = c - 0.5;
    }
    let c = 104.0;
    bars[255].open = 96.0;
    bars[255].close = c;
    bars[255].high = c + 0.3;
    bars[255].low = 95.9;
    for (k, b) in bars[256..260].iter_mut().enumerate() {
        let c = 104.5 + 0.2 * k as f64;
        b.open = c - 0.1;
        b.close = c;
        b.high = c + 0.5;
        b.low = c - 0.5;
    }
}

/// `Σ tp·v / Σ v` over `bars[from..=to]`, written out.
fn hand_avwap(bars: &[DailyBar], from: usize, to: usize) -> f64 {
    let mut pv = 0.0;
    let mut v = 0.0;
    for b in &bars[from..=to] {
        pv += (b.high + b.low + b.close) / 3.0 * b.volume;
        v += b.volume;
    }
    pv / v
}

fn panel(bars: Vec<DailyBar>) -> Panel {
    Panel::new(Symbol::new("TEST").unwrap(), bars, &ScanParams::default())
}

#[test]
fn test_a_reclaim_on_the_day_is_a_candidate_and_not_the_day_before_or_after() {
    let bars = series(reclaim);
    let p = panel(bars.clone());
    let params = ScanParams::default();
    // The scan day: 255. Its AVWAP from the swing high at 230 (confirmed at 233).
    let row = scan_bar(&p, 255, AnchorKind::SwingHigh, &params);
    assert!(row.is_candidate(), "{:?}", row.misses);
    assert_eq!(row.anchor_date, Some(bars[230].ts));
    let avwap = hand_avwap(&bars, 230, 255);
    let prev = hand_avwap(&bars, 230, 254);
    assert!((row.avwap.unwrap() - avwap).abs() < 1e-9);
    assert!((row.avwap_prev.unwrap() - prev).abs() < 1e-9);
    assert!(
        bars[255].close > avwap && bars[254].close <= prev,
        "the case is a cross"
    );
    let atr = row.atr.unwrap();
    assert!((row.score.unwrap() - (104.0 - avwap) / atr).abs() < 1e-12);
    assert!(row.tags.contains(&"reclaim") && row.tags.contains(&"anchor_swing_high"));
    // The day before: still below the AVWAP.
    let before = scan_bar(&p, 254, AnchorKind::SwingHigh, &params);
    assert!(
        before.misses.contains(&Miss::BelowAvwap),
        "{:?}",
        before.misses
    );
    // The day after: above, but it was above the day before too — no cross.
    let after = scan_bar(&p, 256, AnchorKind::SwingHigh, &params);
    assert_eq!(after.misses, vec![Miss::AlreadyAbove]);
}

#[test]
fn test_trend_liquidity_and_price_each_fail_with_their_code() {
    let params = ScanParams::default();
    // A downtrend before the reclaim: SMA50 under SMA200.
    let bars = series(|b| {
        reclaim(b);
        for (i, x) in b.iter_mut().enumerate().take(230) {
            let c = 150.0 - 0.2 * i as f64;
            x.open = c + 0.15;
            x.close = c;
            x.high = c + 0.65;
            x.low = c - 0.5;
        }
    });
    let row = scan_bar(&panel(bars), 255, AnchorKind::SwingHigh, &params);
    assert!(row.misses.contains(&Miss::Trend), "{:?}", row.misses);
    // Thin: 100 shares a day at ~$100 is $10k of ADV.
    let bars = series(|b| {
        reclaim(b);
        for x in b.iter_mut() {
            x.volume = 100.0;
        }
    });
    let row = scan_bar(&panel(bars), 255, AnchorKind::SwingHigh, &params);
    assert_eq!(row.misses, vec![Miss::Liquidity]);
    // A price floor above the close.
    let p = ScanParams {
        min_price: 200.0,
        ..ScanParams::default()
    };
    let bars = series(reclaim);
    let pn = Panel::new(Symbol::new("TEST").unwrap(), bars, &p);
    assert_eq!(
        scan_bar(&pn, 255, AnchorKind::SwingHigh, &p).misses,
        vec![Miss::Price]
    );
    // Too little history for the 200-session SMA.
    let short: Vec<DailyBar> = series(reclaim).into_iter().take(150).collect();
    let row = scan_bar(&panel(short), 149, AnchorKind::SwingHigh, &params);
    assert_eq!(row.misses, vec![Miss::Warmup]);
}

#[test]
fn test_a_gap_anchor_is_the_latest_open_beyond_gap_min() {
    let params = ScanParams::default();
    let bars = series(|b| {
        reclaim(b);
        // Bar 240 opens 4% under the previous close (a down gap); 2.9% at 245 is not a gap.
        b[240].open = b[239].close * 0.96;
        b[240].low = b[240].open.min(b[240].low);
        b[240].high = b[240].high.max(b[240].open);
        b[245].open = b[244].close * 1.029;
        b[245].high = b[245].high.max(b[245].open);
    });
    let p = panel(bars.clone());
    let row = scan_bar(&p, 255, AnchorKind::Gap, &params);
    // Bar 255 itself opens at 96 after a 91.6 close: a 4.8% up gap, the most recent.
    assert_eq!(row.anchor_date, Some(bars[255].ts));
    assert_eq!(
        row.misses,
        vec![Miss::AnchorToday],
        "no AVWAP the day before to reclaim"
    );
    let row = scan_bar(&p, 254, AnchorKind::Gap, &params);
    assert_eq!(
        row.anchor_date,
        Some(bars[240].ts),
        "2.9% at 245 is under gap_min"
    );
    assert!((row.avwap.unwrap() - hand_avwap(&bars, 240, 254)).abs() < 1e-9);
    // The volume spike: the highest-volume session of the lookback.
    let bars = series(|b| {
        reclaim(b);
        b[236].volume = 5e6;
    });
    let row = scan_bar(&panel(bars.clone()), 255, AnchorKind::VolumeSpike, &params);
    assert_eq!(row.anchor_date, Some(bars[236].ts));
    assert!((row.avwap.unwrap() - hand_avwap(&bars, 236, 255)).abs() < 1e-9);
}

#[test]
fn test_a_stale_watchlist_is_refused() {
    let bars = series(reclaim);
    let last = bars.last().unwrap().ts;
    let mut panels = BTreeMap::new();
    panels.insert(Symbol::new("TEST").unwrap(), panel(bars));
    let params = ScanParams::default();
    // The data's last session is the scan day: fresh.
    let s = scan(&panels, last, AnchorKind::SwingHigh, &params, &Nyse).unwrap();
    assert_eq!(s.data_date, last);
    // A weekend after it: still the last session on or before the scan date.
    let next = Nyse.next_trading_day(last);
    let weekend = last
        .iter_days()
        .skip(1)
        .take_while(|x| *x < next)
        .find(|x| !Nyse.is_trading_day(*x));
    if let Some(w) = weekend {
        assert!(scan(&panels, w, AnchorKind::SwingHigh, &params, &Nyse).is_ok());
    }
    // A session later without its bar: refused, naming both dates.
    match scan(&panels, next, AnchorKind::SwingHigh, &params, &Nyse) {
        Err(AvwapError::StaleWatchlist {
            data_date,
            expected,
        }) => {
            assert_eq!((data_date, expected), (last, next));
        }
        other => panic!("expected stale_watchlist, got {other:?}"),
    }
}
