//! Every quirk of the real vendor files in `../shared/data`, handled as specified.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use common::shared;
use systrade_core::Market;
use systrade_data::folder::{Dataset, data_files, parse_all};
use systrade_data::inspect::report_series;
use systrade_data::layout::RateUnit;
use systrade_data::parse::Content;
use systrade_data::{
    Adjust, BadRowPolicy, Bars, DataError, Flag, Interval, ParseOptions, PriceSeries, parse_file,
};

fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, dd).unwrap()
}

fn prices(rel: &str, opts: &ParseOptions) -> Option<PriceSeries> {
    let p = shared(rel)?;
    match parse_file(&p, opts).unwrap().content {
        Content::Prices(s) => Some(*s),
        other => panic!("{rel}: not prices: {other:?}"),
    }
}

fn daily(s: &PriceSeries) -> &[systrade_core::DailyBar] {
    s.bars.daily().expect("daily series")
}

#[test]
fn test_every_file_under_shared_data_imports() {
    let Some(root) = shared("data") else { return };
    let files = data_files(&root).unwrap();
    assert!(files.len() >= 180, "found {} files", files.len());
    let parsed = parse_all(&files, &ParseOptions::default(), &|_| {}).unwrap();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &parsed {
        *kinds.entry(f.content.kind()).or_default() += 1;
        if let Content::Prices(p) = &f.content {
            assert!(!p.bars.is_empty(), "{}", f.path.display());
        }
    }
    assert_eq!(
        kinds.get("prices"),
        Some(&170),
        "167 symbol files plus the ibovespa and dolar series: {kinds:?}"
    );
    assert_eq!(
        kinds.get("ignored"),
        Some(&1),
        "only MANIFEST.csv is not data: {kinds:?}"
    );
    assert!(kinds.get("rates").copied().unwrap_or(0) >= 5, "{kinds:?}");
    assert!(kinds.get("sectors").copied().unwrap_or(0) >= 3, "{kinds:?}");
    assert_eq!(kinds.get("cash_events"), Some(&1));
    assert_eq!(kinds.get("index_weights"), Some(&1));
    // Grouping finds no two files claiming the same symbol and interval.
    Dataset::from_files(parsed).unwrap();
}

#[test]
fn test_yahoo_without_trailing_newline_keeps_last_row() {
    let Some(s) = prices("data/us_etf_daily_yahoo/SPY.csv", &ParseOptions::default()) else {
        return;
    };
    let bars = daily(&s);
    assert_eq!(bars.len(), 8042);
    assert_eq!(bars.last().unwrap().ts, d(2025, 1, 7));
    assert_eq!(bars[0].open, 43.96875);
    assert_eq!(s.market, Market::Us);
}

#[test]
fn test_nyse_calendar_matches_every_spy_session() {
    let Some(s) = prices("data/us_etf_daily_yahoo/SPY.csv", &ParseOptions::default()) else {
        return;
    };
    let have: Vec<NaiveDate> = daily(&s).iter().map(|b| b.ts).collect();
    let expected = Market::Us
        .calendar()
        .trading_days(have[0], *have.last().unwrap());
    let missing: Vec<_> = expected.iter().filter(|x| !have.contains(x)).collect();
    let extra: Vec<_> = have.iter().filter(|x| !expected.contains(x)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?} extra {extra:?}"
    );
}

#[test]
fn test_b3_calendar_matches_sessions_in_b3_data() {
    let Some(dir) = shared("data/br_b3_daily_yahoo/daily") else {
        return;
    };
    let ds = Dataset::load(&dir, &ParseOptions::default()).unwrap();
    // A date with a real bar in most files is a session; a few Yahoo rows on holidays are
    // artifacts. Dates where every file has only placeholder rows cannot be told apart from
    // holidays by the data (Yahoo writes them on some exchange days too, e.g. 2017-05-29), so
    // they may be either; but a session with no row at all in any file would be a calendar bug.
    let mut real: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    let mut any_row: BTreeSet<NaiveDate> = BTreeSet::new();
    for s in ds.prices.values() {
        assert_eq!(s.market, Market::B3, "{}", s.symbol);
        for b in daily(s) {
            *real.entry(b.ts).or_default() += 1;
            any_row.insert(b.ts);
        }
        for f in &s.flagged {
            any_row.insert(NaiveDate::parse_from_str(&f.ts, "%Y-%m-%d").unwrap());
        }
    }
    let files = ds.prices.len();
    let cal = Market::B3.calendar();
    let closed_with_data: Vec<_> = real
        .iter()
        .filter(|(dt, n)| **n * 4 > files && !cal.is_trading_day(**dt))
        .collect();
    assert!(
        closed_with_data.is_empty(),
        "real trading on days the calendar closes: {closed_with_data:?}"
    );
    let sessions = cal.trading_days(d(2015, 1, 2), d(2025, 10, 29));
    let absent: Vec<_> = sessions.iter().filter(|dt| !any_row.contains(dt)).collect();
    assert!(
        absent.is_empty(),
        "calendar sessions with no row in any file: {absent:?}"
    );
    let thin: Vec<_> = sessions
        .iter()
        .filter(|dt| real.get(dt).copied().unwrap_or(0) * 4 <= files)
        .collect();
    assert!(
        thin.len() <= 3,
        "sessions with placeholder rows only: {thin:?}"
    );
}

#[test]
fn test_yahoo_b3_close_first_layout_and_rent3_low_above_close() {
    let Some(s) = prices(
        "data/br_b3_daily_yahoo/daily/RENT3.csv",
        &ParseOptions::default(),
    ) else {
        return;
    };
    let first = daily(&s)[0];
    assert_eq!(
        (first.ts, first.close, first.open),
        (d(2015, 1, 2), 8.444845199584961, 8.29576204348712)
    );
    let bad: Vec<_> = s
        .flagged
        .iter()
        .filter(|f| f.flag == Flag::OhlcInconsistent)
        .collect();
    assert_eq!(bad.len(), 1);
    assert_eq!((bad[0].ts.as_str(), bad[0].line), ("2016-04-19", 320));
    assert!(
        bad[0]
            .detail
            .starts_with("low 8.123014207430625 > close 8.056046485900879"),
        "{}",
        bad[0].detail
    );
    assert!(
        daily(&s).iter().all(|b| b.ts != d(2016, 4, 19)),
        "flagged row is out of the bars"
    );

    let skip = prices(
        "data/br_b3_daily_yahoo/daily/RENT3.csv",
        &ParseOptions {
            on_bad_row: BadRowPolicy::Skip,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(skip.flagged.is_empty());
    assert_eq!(skip.skipped.len(), s.flagged.len());
    assert_eq!(daily(&skip).len(), daily(&s).len());

    let path = shared("data/br_b3_daily_yahoo/daily/RENT3.csv").unwrap();
    let err = parse_file(
        &path,
        &ParseOptions {
            on_bad_row: BadRowPolicy::Fail,
            ..Default::default()
        },
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DataError::BadRow { .. }) && err.is_bad_input());
    // The first value problem in the file is a placeholder row before 2016-04-19.
    assert!(
        msg.contains("RENT3.csv line") && msg.contains("[RENT3]"),
        "{msg}"
    );
}

#[test]
fn test_b3_zero_volume_placeholders_are_flagged() {
    let Some(dir) = shared("data/br_b3_daily_yahoo/daily") else {
        return;
    };
    let ds = Dataset::load(&dir, &ParseOptions::default()).unwrap();
    let n: usize = ds
        .prices
        .values()
        .map(|s| {
            s.flagged
                .iter()
                .filter(|f| f.flag == Flag::ZeroVolumePlaceholder)
                .count()
        })
        .sum();
    assert_eq!(n, 1901, "the data README counts 1,901 placeholder rows");
    let petr3 = ds.daily(&"PETR3".parse().unwrap()).unwrap();
    assert!(
        petr3
            .flagged
            .iter()
            .any(|f| f.ts == "2017-05-29" && f.flag == Flag::ZeroVolumePlaceholder)
    );
    // Every kept bar is consistent (float-noise ranges were repaired, not kept broken).
    for s in ds.prices.values() {
        assert!(
            daily(s).iter().all(|b| b.ohlcv().is_valid()),
            "{}",
            s.symbol
        );
    }
}

#[test]
fn test_binance_partial_last_candle_is_excluded_by_default() {
    let Some(s) = prices(
        "data/crypto_binance_spot/1d/BTCUSDT_1d.csv",
        &ParseOptions::default(),
    ) else {
        return;
    };
    assert_eq!(
        (s.symbol.as_str(), s.market, s.interval),
        ("BTCUSDT", Market::Crypto, Interval::Daily)
    );
    assert_eq!(daily(&s).len(), 1753);
    assert_eq!(daily(&s).last().unwrap().ts, d(2022, 6, 4));
    assert_eq!(s.flagged.len(), 1);
    assert_eq!(
        (s.flagged[0].flag, s.flagged[0].ts.as_str()),
        (Flag::PartialCandle, "2022-06-05")
    );

    let trusted = prices(
        "data/crypto_binance_spot/1d/BTCUSDT_1d.csv",
        &ParseOptions {
            trust_last_candle: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(daily(&trusted).len(), 1754);
}

#[test]
fn test_binance_closes_match_the_fixture_doubles() {
    let (Some(s), Some(fx)) = (
        prices(
            "data/crypto_binance_spot/1d/ETHUSDT_1d.csv",
            &ParseOptions::default(),
        ),
        shared("fixtures/indicators/ETHUSDT.csv"),
    ) else {
        return;
    };
    let mut rdr = csv::Reader::from_path(fx).unwrap();
    let rows: Vec<(String, f64)> = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].parse().unwrap())
        })
        .collect();
    let bars = daily(&s);
    assert_eq!(
        bars.len(),
        rows.len(),
        "the fixture drops the partial candle too"
    );
    for (b, (date, close)) in bars.iter().zip(&rows) {
        assert_eq!(&b.ts.to_string(), date);
        assert_eq!(b.close.to_bits(), close.to_bits(), "{date}");
    }
}

#[test]
fn test_luna_hole_is_reported_as_a_gap() {
    let Some(s) = prices(
        "data/crypto_binance_spot/1d/LUNAUSDT_1d.csv",
        &ParseOptions::default(),
    ) else {
        return;
    };
    let r = report_series(&s);
    let run = &r.gaps.runs[0];
    assert_eq!(
        (run.from, run.to, run.sessions),
        (d(2022, 5, 14), d(2022, 5, 30), 17),
        "an 18-day step 05-13 → 05-31"
    );
    assert_eq!(r.gaps.missing_sessions, 17);
}

#[test]
fn test_bnb_and_ltc_hourly_candles_at_28_minutes_align_to_the_grid() {
    for sym in ["BNBUSDT", "LTCUSDT"] {
        let Some(s) = prices(
            &format!("data/crypto_binance_spot/1h/{sym}_1h.csv"),
            &ParseOptions::default(),
        ) else {
            return;
        };
        assert_eq!(s.interval, Interval::Seconds(3600));
        let Bars::Intraday(bars) = &s.bars else {
            panic!("intraday expected")
        };
        let off: Vec<_> = bars
            .iter()
            .filter(|b| b.ts.timestamp() % 3600 != 0)
            .collect();
        assert_eq!(off.len(), 43, "{sym}");
        assert!(
            off[0].ts.to_rfc3339().starts_with("2018-02-09T09:28:1"),
            "{sym}: {}",
            off[0].ts
        );
        assert!(
            s.notes
                .iter()
                .any(|n| n.contains("43 bars open off the 1h grid")),
            "{:?}",
            s.notes
        );
        let buckets: BTreeSet<_> = bars.iter().map(|b| s.interval.bucket(b.ts)).collect();
        assert_eq!(
            buckets.len(),
            bars.len(),
            "{sym}: every bar lands in its own hour"
        );
    }
}

#[test]
fn test_alphavantage_splits_in_raw_prices() {
    let raw = ParseOptions {
        adjust: Adjust::None,
        ..Default::default()
    };
    let Some(s) = prices("data/sp500_daily_alphavantage/daily/AAPL.csv", &raw) else {
        return;
    };
    let splits: Vec<(NaiveDate, f64)> = s
        .actions
        .iter()
        .filter(|a| a.kind == systrade_data::series::ActionKind::Split)
        .map(|a| (a.date, a.value))
        .collect();
    assert_eq!(
        splits.iter().map(|x| x.0).collect::<Vec<_>>(),
        vec![
            d(2000, 6, 21),
            d(2005, 2, 28),
            d(2014, 6, 9),
            d(2020, 8, 31)
        ]
    );
    let ret = |bars: &[systrade_core::DailyBar], day: NaiveDate| {
        let i = bars.iter().position(|b| b.ts == day).unwrap();
        bars[i].close / bars[i - 1].close - 1.0
    };
    assert!(
        ret(daily(&s), d(2000, 6, 21)) < -0.45,
        "raw prices show the 2:1 split as a crash"
    );
    let adj = prices(
        "data/sp500_daily_alphavantage/daily/AAPL.csv",
        &ParseOptions::default(),
    )
    .unwrap();
    for (day, _) in &splits {
        assert!(
            ret(daily(&adj), *day).abs() < 0.15,
            "split-adjusted return on {day} is ordinary"
        );
    }
    // The latest prices are the traded ones; the earliest are divided by 2·2·7·4.
    assert_eq!(
        daily(&adj).last().unwrap().close,
        daily(&s).last().unwrap().close
    );
    let k = daily(&s)[0].close / daily(&adj)[0].close;
    assert!((k - 112.0).abs() < 0.01, "cumulative split factor {k}");
    let total = prices(
        "data/sp500_daily_alphavantage/daily/AAPL.csv",
        &ParseOptions {
            adjust: Adjust::Total,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        (daily(&total)[0].close - 0.596878742448).abs() < 1e-12,
        "total uses adjusted_close"
    );
}

#[test]
fn test_one_minute_bars_naive_utc_with_extended_hours() {
    let Some(s) = prices(
        "data/us_intraday_1min/DBB_1min_2023-07-10_to_2025-07-08.csv",
        &ParseOptions::default(),
    ) else {
        return;
    };
    assert_eq!(
        (s.symbol.as_str(), s.market, s.interval),
        ("DBB", Market::Us, Interval::Seconds(60))
    );
    let Bars::Intraday(bars) = &s.bars else {
        panic!()
    };
    assert_eq!(bars.len(), 38964);
    // 13:30 UTC on 2023-07-10 is the 09:30 New York open (EDT).
    assert_eq!(bars[0].ts.to_rfc3339(), "2023-07-10T13:30:00+00:00");
    assert_eq!(Market::Us.local_date(bars[0].ts), d(2023, 7, 10));
}

#[test]
fn test_rate_series_units() {
    let Some(dir) = shared("data") else { return };
    let get = |rel: &str| match parse_file(&dir.join(rel), &ParseOptions::default())
        .unwrap()
        .content
    {
        Content::Rates(r) => r,
        other => panic!("{other:?}"),
    };
    let cdi = get("br_b3_daily_yahoo/cdi_daily_2015.csv");
    assert_eq!(
        (cdi[0].unit, cdi[0].points.len()),
        (RateUnit::PctPerDay, 2717)
    );
    assert_eq!(cdi[0].points[0], (d(2015, 1, 2), 0.043455));
    let both = get("br_reference/cdi_daily_2012_2020.csv");
    assert_eq!(both.len(), 2);
    assert_eq!(
        (both[0].unit, both[1].unit),
        (RateUnit::PctPerYear, RateUnit::PctPerDay)
    );
    assert_eq!(both[0].points[0], (d(2012, 3, 7), 10.22));
    assert_eq!(
        both[1].points[0],
        (d(2012, 3, 7), 0.038723),
        "the % string is parsed"
    );
    let selic = get("br_reference/selic.csv");
    assert_eq!(
        selic[0].unit,
        RateUnit::Unspecified,
        "Date,Value says no unit; --rate-unit sets it"
    );
    let ipca = get("br_b3_daily_yahoo/ipca_monthly.csv");
    assert_eq!(ipca[0].unit, RateUnit::PctPerMonth);
}
