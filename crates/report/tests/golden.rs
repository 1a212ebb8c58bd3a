//! Rendering is a pure function of the model: golden files hold the exact output.
//! `SYSTRADE_BLESS=1 cargo test -p systrade-report --test golden` rewrites them after a
//! deliberate change (review the diff).

use std::path::PathBuf;

use chrono::NaiveDate;
use systrade_report::newsletter::{
    AvoidLine, Fact, FillLine, Newsletter, PositionLine, Section, TradeLine, WatchLine,
};
use systrade_report::tearsheet::{Performance, Table, TearSheet};

fn golden(name: &str, got: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("SYSTRADE_BLESS").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (SYSTRADE_BLESS=1 writes it)", path.display()));
    if want != got {
        let line = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(got.lines().count()));
        panic!(
            "{name} differs from its golden file at line {}:\n  want: {:?}\n  got:  {:?}",
            line + 1,
            want.lines().nth(line),
            got.lines().nth(line)
        );
    }
}

fn letter() -> Newsletter {
    let s = |x: &str| x.to_string();
    Newsletter {
        date: s("2024-06-28"),
        warnings: vec![s(
            "momentum_br has no completed run on or before 2024-06-28",
        )],
        sections: vec![
            Section {
                name: s("trend_us"),
                kind: s("trend following"),
                as_of: s("2024-06-28"),
                facts: vec![
                    Fact {
                        label: s("equity"),
                        value: s("101,234.56"),
                    },
                    Fact {
                        label: s("execution"),
                        value: s("semi-auto"),
                    },
                ],
                trades: vec![
                    TradeLine {
                        action: s("BUY"),
                        symbol: s("XLK"),
                        shares: s("31"),
                        price: s("221.05"),
                        notional: s("6,852.55"),
                        status: s("waits for your approval (systrade approve)"),
                        why: s("new position; strong uptrend (signal +0.92)"),
                    },
                    TradeLine {
                        action: s("SELL"),
                        symbol: s("XLE"),
                        shares: s("40"),
                        price: s("91.10"),
                        notional: s("3,644.00"),
                        status: s("filled at 90.95"),
                        why: s("close the position; no trend signal"),
                    },
                ],
                watch: vec![WatchLine {
                    symbol: s("XLU"),
                    why: s(
                        "weak uptrend (signal +0.21); waits: the change to target is below the trade threshold",
                    ),
                }],
                avoid: vec![AvoidLine {
                    symbol: s("XLB"),
                    shares: s("12"),
                    why: s(
                        "sector <materials> & cyclicals: the sector's gross exposure would exceed its limit",
                    ),
                }],
                positions: vec![
                    PositionLine {
                        symbol: s("SPY"),
                        shares: s("20"),
                        avg_price: s("500.00"),
                        last: s("544.22"),
                        value: s("10,884.40"),
                        stop: s("520.00"),
                        stop_distance: s("4.45%"),
                        pnl: s("884.40"),
                        pnl_pct: s("8.84%"),
                        losing: false,
                    },
                    PositionLine {
                        symbol: s("XLV"),
                        shares: s("15"),
                        avg_price: s("150.00"),
                        last: s("145.76"),
                        value: s("2,186.40"),
                        stop: s("140.10"),
                        stop_distance: s("3.88%"),
                        pnl: s("-63.60"),
                        pnl_pct: s("-2.83%"),
                        losing: true,
                    },
                ],
                fills: vec![FillLine {
                    date: s("2024-06-27"),
                    symbol: s("XLE"),
                    side: s("SELL"),
                    shares: s("40"),
                    price: s("90.95"),
                    fee: s("0.36"),
                    purpose: s("close the position"),
                }],
                fills_period: s("2024-06-27 to 2024-06-28"),
                warnings: vec![s("data missing or stale for XLRE: no new risk there today")],
            },
            Section {
                name: s("manual trades"),
                kind: s("kept by hand"),
                as_of: s("2024-06-28"),
                facts: vec![],
                trades: vec![],
                watch: vec![],
                avoid: vec![],
                positions: vec![],
                fills: vec![],
                fills_period: s(""),
                warnings: vec![],
            },
        ],
    }
}

#[test]
fn test_newsletter_renders_exactly_its_golden_files() {
    let r = letter().render().unwrap();
    assert_eq!(
        r.subject,
        "systrade 2024-06-28: 1 buy, 1 sell, 1 to watch, 1 blocked, 2 warnings"
    );
    assert_eq!(r, letter().render().unwrap(), "deterministic");
    // Text from the model is escaped in HTML, and kept as is in plain text.
    assert!(r.html.contains("sector &lt;materials&gt; &amp; cyclicals"));
    assert!(!r.html.contains("<materials>"));
    assert!(r.text.contains("sector <materials> & cyclicals"));
    assert!(
        r.text
            .contains("  BUY 31 XLK @ 221.05 = 6,852.55 [waits for your approval")
    );
    assert!(
        r.text.contains("no trades this session"),
        "an empty section says so"
    );
    golden("newsletter.html", &r.html);
    golden("newsletter.txt", &r.text);
}

fn sheet() -> TearSheet {
    let d0 = NaiveDate::from_ymd_opt(2022, 1, 3).unwrap();
    let dates: Vec<NaiveDate> = (0..420).map(|i| d0 + chrono::Duration::days(i)).collect();
    let equity: Vec<f64> = (0..420)
        .map(|i| {
            let t = i as f64;
            100_000.0 * (1.0 + 0.0004 * t + 0.03 * (t / 17.0).sin())
        })
        .collect();
    let bench: Vec<f64> = (0..420).map(|i| 400.0 + 0.1 * i as f64).collect();
    let gross: Vec<f64> = (0..420)
        .map(|i| 0.5 + 0.3 * ((i as f64) / 40.0).cos())
        .collect();
    TearSheet {
        title: "Trend following — <demo>".into(),
        subtitle: "synthetic path for the golden file".into(),
        perf: Performance {
            dates,
            equity,
            benchmark: Some(("SPY buy & hold".into(), bench)),
            cash_rate: Some(("cash rate".into(), vec![0.0001; 420])),
            exposure: Some((gross.clone(), gross.iter().map(|g| g * 0.8).collect())),
            turnover: Some(
                (0..420)
                    .map(|i| if i % 5 == 0 { 0.1 } else { 0.0 })
                    .collect(),
            ),
            periods_per_year: 365.0,
        },
        metrics: vec![
            ("CAGR".into(), "12.34%".into()),
            ("Sharpe".into(), "0.87".into()),
        ],
        tables: vec![Table {
            caption: "Cost grid".into(),
            header: vec!["cost (bps)".into(), "CAGR".into()],
            rows: vec![
                vec!["0".into(), "13.00%".into()],
                vec!["20".into(), "-1.50%".into()],
            ],
            note: "The same run at other costs.".into(),
        }],
        notes: vec!["an order decided on the last bar was not filled".into()],
    }
}

#[test]
fn test_tear_sheet_renders_exactly_its_golden_file() {
    let s = sheet();
    let html = systrade_report::tearsheet::render(&s).unwrap();
    assert_eq!(html, systrade_report::tearsheet::render(&s).unwrap());
    assert!(html.contains("Trend following — &lt;demo&gt;"));
    // Self-contained: no external script, style sheet, image or font.
    for bad in ["src=\"http", "href=\"http", "<link", "@import", "url("] {
        assert!(!html.contains(bad), "{bad}");
    }
    assert_eq!(html.matches("<svg").count(), 5, "five inline charts");
    assert!(html.contains("<td class=\"neg\">-1.50%</td>"));
    let monthly = s.perf.monthly_table();
    assert_eq!(monthly.header.len(), 14);
    assert_eq!(monthly.rows.len(), 2, "2022 and 2023");
    golden("tearsheet.html", &html);
}

#[test]
fn test_a_short_run_leaves_out_the_rolling_sharpe_and_bad_input_is_named() {
    let mut s = sheet();
    s.perf.dates.truncate(100);
    s.perf.equity.truncate(100);
    s.perf.benchmark = None;
    s.perf.cash_rate = None;
    s.perf.exposure = None;
    s.perf.turnover = None;
    let ids: Vec<&str> = s
        .perf
        .charts()
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, ["equity", "drawdown"]);
    s.perf.equity[50] = f64::NAN;
    let e = s.perf.validate().unwrap_err().to_string();
    assert!(e.contains("equity") && e.contains("2022-02-22"), "{e}");
    s.perf.equity[50] = 1.0;
    s.perf.equity.pop();
    let e = s.perf.validate().unwrap_err().to_string();
    assert!(e.contains("99 values for 100 dates"), "{e}");
}

/// Exposure: a book with shorts shows gross and net; one without (net = gross everywhere)
/// shows one line, said to be both.
#[test]
fn test_exposure_draws_net_only_when_it_differs_from_gross() {
    let exposure = |s: &TearSheet| {
        s.perf
            .charts()
            .unwrap()
            .into_iter()
            .find(|(id, _)| *id == "exposure")
            .map(|(_, c)| {
                (
                    c.title.clone(),
                    c.lines.iter().map(|l| l.name.clone()).collect::<Vec<_>>(),
                )
            })
            .unwrap()
    };
    let mut s = sheet();
    let (title, lines) = exposure(&s);
    assert_eq!(
        (title.as_str(), lines),
        (
            "Gross and net exposure",
            vec!["gross".to_string(), "net".to_string()]
        )
    );
    let gross = s.perf.exposure.as_ref().unwrap().0.clone();
    s.perf.exposure = Some((gross.clone(), gross));
    let (title, lines) = exposure(&s);
    assert_eq!(title, "Gross exposure (= net: no shorts)");
    assert_eq!(lines, ["gross = net"]);
}
