//! The SQLite store: round trips, provenance, re-imports, spreadsheets.

use std::path::Path;

use chrono::NaiveDate;
use proptest::prelude::*;
use systrade_core::{Bar, DailyBar, Ohlcv, Symbol};
use systrade_data::db::{ImportStatus, MarketDb};
use systrade_data::folder::{data_files, parse_all};
use systrade_data::layout::RateUnit;
use systrade_data::synth::to_csv;
use systrade_data::{Adjust, ParseOptions, parse_file};
use systrade_testkit::xlsx_bytes;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn import(db: &Path, from: &Path) -> Vec<systrade_data::db::ImportLine> {
    let opts = ParseOptions::default();
    let files = parse_all(&data_files(from).unwrap(), &opts, &|_| {}).unwrap();
    MarketDb::open(db).unwrap().import(&files, &opts).unwrap()
}

/// Valid daily bars: positive finite prices with a consistent range, any f64 precision.
fn bars_strategy() -> impl Strategy<Value = Vec<DailyBar>> {
    prop::collection::vec(
        (
            1e-6f64..1e6,
            0.0f64..1.0,
            0.0f64..1.0,
            0.0f64..1.0,
            0.0f64..1e12,
            1u32..5,
        ),
        1..60,
    )
    .prop_map(|rows| {
        let mut date = NaiveDate::from_ymd_opt(2001, 1, 1).unwrap();
        rows.into_iter()
            .map(|(base, a, b, c, volume, step)| {
                date += chrono::Duration::days(i64::from(step));
                let low = base;
                let high = base * (1.0 + a);
                let open = low + (high - low) * b;
                let close = low + (high - low) * c;
                Bar::new(
                    date,
                    Ohlcv {
                        open,
                        high,
                        low,
                        close,
                        volume: volume.floor() + 1.0,
                    },
                )
            })
            .collect()
    })
}

/// Shortest round-trip text of every field, as a vendor with full precision would write it.
fn csv_full_precision(bars: &[DailyBar]) -> String {
    let mut s = String::from("date,open,high,low,close,volume\n");
    for b in bars {
        s.push_str(&format!(
            "{},{:?},{:?},{:?},{:?},{:?}\n",
            b.ts, b.open, b.high, b.low, b.close, b.volume
        ));
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn prop_bars_round_trip_csv_sqlite_unchanged(bars in bars_strategy()) {
        let dir = tempfile::tempdir().unwrap();
        let csv_dir = dir.path().join("csv");
        std::fs::create_dir(&csv_dir).unwrap();
        write(&csv_dir, "RT.csv", &csv_full_precision(&bars));
        let db = dir.path().join("m.db");
        import(&db, &csv_dir);
        let back = MarketDb::open_existing(&db).unwrap().daily_bars(&Symbol::new("RT").unwrap()).unwrap();
        prop_assert_eq!(back.len(), bars.len());
        for (a, b) in back.iter().zip(&bars) {
            prop_assert_eq!(a.ts, b.ts);
            for (x, y) in [(a.open, b.open), (a.high, b.high), (a.low, b.low), (a.close, b.close), (a.volume, b.volume)] {
                prop_assert_eq!(x.to_bits(), y.to_bits());
            }
        }
    }
}

#[test]
fn test_reimport_is_noop_and_change_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let v = Ohlcv {
        open: 10.0,
        high: 11.0,
        low: 9.5,
        close: 10.5,
        volume: 1000.0,
    };
    let bars: Vec<DailyBar> = (1..=5)
        .map(|d| Bar::new(NaiveDate::from_ymd_opt(2024, 1, d + 1).unwrap(), v))
        .collect();
    write(&src, "ABC.csv", &to_csv(&bars));
    let db = dir.path().join("m.db");
    assert_eq!(import(&db, &src)[0].status, ImportStatus::New);
    assert_eq!(import(&db, &src)[0].status, ImportStatus::Unchanged);
    write(&src, "ABC.csv", &to_csv(&bars[..3]));
    let r = import(&db, &src);
    assert_eq!(r[0].status, ImportStatus::Changed);
    assert!(
        r[0].detail.as_deref().unwrap().contains("content changed"),
        "{:?}",
        r[0].detail
    );
    let m = MarketDb::open_existing(&db).unwrap();
    assert_eq!(
        m.daily_bars(&Symbol::new("ABC").unwrap()).unwrap().len(),
        3,
        "the changed file replaced the series"
    );
    assert_eq!(
        m.provenance("prices:ABC@1d").unwrap().unwrap().rows_stored,
        3
    );
    // Same file, other options: replaced and said so.
    let files = parse_all(
        &data_files(&src).unwrap(),
        &ParseOptions {
            adjust: Adjust::None,
            ..Default::default()
        },
        &|_| {},
    )
    .unwrap();
    let r = MarketDb::open(&db)
        .unwrap()
        .import(
            &files,
            &ParseOptions {
                adjust: Adjust::None,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(r[0].status, ImportStatus::Changed);
    assert!(r[0].detail.as_deref().unwrap().contains("options"));
}

#[test]
fn test_flagged_rows_are_stored_and_kept_out_of_prices() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    write(
        &src,
        "BAD.csv",
        "date,open,high,low,close,volume\n2024-01-02,10,11,9,10,5\n2024-01-03,10,10.2,10.5,10.3,5\n2024-01-04,10,11,9,10,5\n",
    );
    let db = dir.path().join("m.db");
    let r = import(&db, &src);
    assert_eq!((r[0].rows_stored, r[0].rows_flagged), (2, 1));
    let m = MarketDb::open_existing(&db).unwrap();
    let sym = Symbol::new("BAD").unwrap();
    assert_eq!(m.daily_bars(&sym).unwrap().len(), 2);
    let f = m
        .flagged_rows(&sym, systrade_data::Interval::Daily)
        .unwrap();
    assert_eq!(
        (f[0].line, f[0].ts.as_str(), f[0].detail.as_str()),
        (3, "2024-01-03", "high 10.2 < low 10.5")
    );
}

#[test]
fn test_foreign_database_with_only_prices_table_reads() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("foreign.db");
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch(
        "CREATE TABLE prices (ticker TEXT, date TEXT, open REAL, high REAL, low REAL, close REAL, volume REAL);
         INSERT INTO prices VALUES ('X', '2024-01-03', 1, 2, 0.5, 1.5, 10), ('X', '2024-01-02', 1, 2, 0.5, 1.5, 10);
         INSERT INTO prices VALUES ('Y', '2024-01-02', 1, 2, 0.5, NULL, 10);",
    )
    .unwrap();
    drop(c);
    let m = MarketDb::open_existing(&p).unwrap();
    assert_eq!(m.instruments().unwrap().len(), 2);
    assert_eq!(
        m.daily_bars(&Symbol::new("X").unwrap()).unwrap().len(),
        2,
        "ordered by date"
    );
    let err = m
        .daily_bars(&Symbol::new("Y").unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("[Y] date 2024-01-02: missing value"), "{err}");
    let err = m.daily_bars(&Symbol::new("Z").unwrap()).unwrap_err();
    assert!(err.is_bad_input() && err.to_string().contains("unknown symbol Z"));
}

#[test]
fn test_xlsx_rate_sheet_imports() {
    let dir = tempfile::tempdir().unwrap();
    // Excel serial 45293 is 2024-01-02.
    let p = dir.path().join("cdi.xlsx");
    std::fs::write(
        &p,
        xlsx_bytes(
            ["Date", "cdi"],
            &[(45293, 0.043455), (45294, 0.043455), (45295, 0.0441)],
        ),
    )
    .unwrap();
    let parsed = parse_file(&p, &ParseOptions::default()).unwrap();
    let systrade_data::parse::Content::Rates(r) = &parsed.content else {
        panic!("{:?}", parsed.content)
    };
    assert_eq!(r[0].unit, RateUnit::PctPerDay);
    assert_eq!(
        r[0].points[0],
        (NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(), 0.043455)
    );
    let db = dir.path().join("m.db");
    let mut m = MarketDb::open(&db).unwrap();
    m.import(&[parsed], &ParseOptions::default()).unwrap();
    let (unit, pts) = m.rates("cdi").unwrap();
    assert_eq!((unit, pts.len()), (RateUnit::PctPerDay, 3));
    // An unsorted sheet is rejected like an unsorted CSV, naming the row.
    std::fs::write(
        &p,
        xlsx_bytes(["Date", "cdi"], &[(45294, 0.04), (45293, 0.04)]),
    )
    .unwrap();
    let err = parse_file(&p, &ParseOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cdi.xlsx line 3") && err.contains("must ascend"),
        "{err}"
    );
}
