//! Momentum cohorts from the command line on the real B3 data (spec/momentum-cohorts.md §9):
//! the checks on every formation of a backtest, plan = backtest, the cost grid, orders and
//! bad inputs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod common;

use common::{read, run, s};
use systrade_testkit::{shared, xlsx_bytes};

/// `configs/momentum_br.toml` with absolute paths and `edit` applied.
fn config(dir: &Path, edit: &[(&str, &str)]) -> Option<PathBuf> {
    let root = shared("data")?;
    let mut text =
        read(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs/momentum_br.toml"))
            .replace("\"../../shared/data", &format!("\"{}", root.display()));
    for (a, b) in edit {
        assert!(text.contains(a), "{a}");
        text = text.replace(a, b);
    }
    let p = dir.join(format!("mom{}.toml", edit.len()));
    std::fs::write(&p, text).unwrap();
    Some(p)
}

fn rows(csv_text: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let h = r.headers().unwrap().clone();
    r.records()
        .map(|x| {
            let x = x.unwrap();
            h.iter()
                .zip(x.iter())
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        })
        .collect()
}

fn f(x: &str) -> f64 {
    x.parse().unwrap()
}

#[test]
fn test_every_formation_of_the_real_backtest_passes_the_spec_checks() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cfg) = config(dir.path(), &[]) else {
        return;
    };
    let out = dir.path().join("bt");
    let r = run(&[
        "backtest",
        "--config",
        s(&cfg),
        "--cohorts",
        "3",
        "--beta-overlay",
        "--out",
        s(&out),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Sharpe over CDI"), "{}", r.stdout);
    let targets = rows(&read(&out.join("targets.csv")));
    let formations: Vec<serde_json::Value> = read(&out.join("logs/formations.jsonl"))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(formations.len() > 100);
    let first = &formations[0]["formation"].as_str().unwrap()[..7];
    let month_no = |ym: &str| -> i64 {
        let (y, m) = ym.split_at(4);
        y.parse::<i64>().unwrap() * 12 + m[1..].parse::<i64>().unwrap()
    };
    let (mut full_seen, mut limited_seen, mut sector_checked) = (0, 0, 0);
    for fm in &formations {
        let month = &fm["formation"].as_str().unwrap()[..7];
        let m = (month_no(month) - month_no(first)) as usize;
        let n = fm["n_target"].as_f64().unwrap();
        let stress = fm["stress"].as_bool().unwrap();
        for c in fm["cohorts"].as_array().unwrap() {
            let j = c["cohort"].as_u64().unwrap() as usize;
            let full = c["full"].as_bool().unwrap();
            // Rotation: a full rebalance exactly every third month.
            assert_eq!(full, m % 3 == j, "{month} cohort {j}");
            if !c["started"].as_bool().unwrap() {
                continue;
            }
            let mine: Vec<&BTreeMap<String, String>> = targets
                .iter()
                .filter(|r| r["month"] == month && r["cohort_id"] == j.to_string())
                .collect();
            let w = |side: &str| -> Vec<f64> {
                mine.iter()
                    .filter(|r| r["side"] == side && f(&r["target_weight"]) != 0.0)
                    .map(|r| f(&r["target_weight"]).abs())
                    .collect()
            };
            for side in ["L", "S"] {
                let ws = w(side);
                assert!(!ws.is_empty(), "{month} cohort {j} side {side} is empty");
                let gross: f64 = ws.iter().sum();
                assert!(
                    (gross - 0.5).abs() <= 1e-6,
                    "{month} {j} {side}: gross {gross}"
                );
                let cap = (2.0 / n * 0.5).max(0.5 / ws.len() as f64);
                let floor = 0.5 / n * 0.5;
                for x in &ws {
                    assert!(
                        *x <= cap + 1e-12 && *x >= floor - 1e-12,
                        "{month} {j} {side}: {x}"
                    );
                }
            }
            // Turnover within the cohort's book, recomputed from the targets.
            let turnover: f64 = mine
                .iter()
                .map(|r| f(&r["delta_weight"]).abs())
                .sum::<f64>()
                / 2.0;
            if full {
                full_seen += 1;
                // Sector shares of known sectors, per side, unless the log says it was
                // impossible that month.
                let impossible = c["notes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x.as_str().unwrap().contains("max_sector"));
                if !impossible {
                    for side in ["L", "S"] {
                        let mut by: BTreeMap<&str, f64> = BTreeMap::new();
                        for r in mine.iter().filter(|r| r["side"] == side) {
                            if f(&r["target_weight"]) != 0.0 && r["sector"] != "unknown" {
                                *by.entry(r["sector"].as_str()).or_insert(0.0) +=
                                    f(&r["target_weight"]).abs() / 0.5;
                            }
                        }
                        for (sec, share) in by {
                            assert!(share <= 0.40 + 1e-9, "{month} {j} {side}: {sec} {share}");
                        }
                    }
                    sector_checked += 1;
                }
            } else {
                limited_seen += 1;
                let hard = c["hard_turnover"].as_f64().unwrap();
                assert!(
                    turnover <= 0.10_f64.max(hard) + 1e-9,
                    "{month} cohort {j}: turnover {turnover} (hard exits {hard})"
                );
                // Soft exits per side within the cap in force.
                let cap = ((if stress { 0.5 } else { 0.25 } * n).ceil()).max(1.0) as usize;
                for side in ["L", "S"] {
                    let soft = mine
                        .iter()
                        .filter(|r| {
                            r["side"] == side
                                && r["rationale"] == "exit"
                                && !r["notes"].starts_with("hard exit")
                        })
                        .count();
                    assert!(soft <= cap, "{month} {j} {side}: {soft} soft exits > {cap}");
                }
            }
        }
    }
    assert!(full_seen > 100 && limited_seen > 200 && sector_checked > 50);

    // The summary and the timeseries carry the spec's fields.
    let summary: serde_json::Value =
        serde_json::from_str(&read(&out.join("summary.json"))).unwrap();
    for k in [
        "cagr",
        "vol",
        "sharpe",
        "max_dd",
        "avg_turnover",
        "per_cohort",
        "benchmark",
    ] {
        assert!(!summary[k].is_null(), "{k}");
    }
    assert_eq!(summary["benchmark"], "equal-weight universe index");
    let ts = read(&out.join("timeseries.csv"));
    assert!(ts.starts_with(
        "date,nav,ret,ret_gross,cdi,excess,scale,beta_p,overlay_h,long_gross,short_gross,turnover,cost\n"
    ));
}

#[test]
fn test_plan_targets_are_the_backtests_and_orders_round_to_lots() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cfg) = config(dir.path(), &[]) else {
        return;
    };
    let bt = dir.path().join("bt");
    let r = run(&["backtest", "--config", s(&cfg), "--out", s(&bt)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let history = read(&bt.join("targets.csv"));
    for (as_of, month) in [
        ("2018-07-31", "2018-07"),
        ("2021-02-15", "2021-01"),
        ("2025-10-29", "2025-09"),
    ] {
        let out = dir.path().join(format!("plan-{as_of}"));
        let r = run(&[
            "plan",
            "--config",
            s(&cfg),
            "--as-of",
            as_of,
            "--live-capital",
            "1000000",
            "--out",
            s(&out),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let plan = read(&out.join(format!("targets_{month}.csv")));
        let want: String = history
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{month},")))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(plan.split_once('\n').unwrap().1, want, "{month}");
        for j in 0..3 {
            assert!(out.join(format!("state/cohort_{j}_{month}.json")).exists());
        }
        // Shares are whole lots of 100 (closes always trade whole holdings).
        for o in rows(&read(&out.join(format!("orders_{month}.csv")))) {
            let shares = f(&o["shares"]);
            assert_eq!(shares % 100.0, 0.0, "{o:?}");
            assert!(["OPEN", "CLOSE", "BUY", "SELL"].contains(&o["action"].as_str()));
        }
    }

    // Holdings: a name the model opens that is already held becomes a BUY of the rest;
    // odd lots round toward the smaller position.
    let out = dir.path().join("plan-h");
    let plan = |extra: &[&str]| {
        let mut args = vec![
            "plan",
            "--config",
            s(&cfg),
            "--as-of",
            "2025-10-29",
            "--live-capital",
            "1000000",
            "--out",
            s(&out),
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let r = plan(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let orders = rows(&read(&out.join("orders_2025-09.csv")));
    let long = orders
        .iter()
        .find(|o| o["side"] == "L" && (o["action"] == "OPEN" || o["action"] == "BUY"))
        .expect("a long being bought");
    let t = long["ticker"].clone();
    let holdings = dir.path().join("holdings.csv");
    std::fs::write(&holdings, format!("ticker,shares\n{t},100\n")).unwrap();
    let lots = dir.path().join("lots.csv");
    std::fs::write(&lots, format!("ticker,lot\n{t},1\n")).unwrap();
    let r = plan(&["--holdings", s(&holdings), "--lots", s(&lots)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let orders = rows(&read(&out.join("orders_2025-09.csv")));
    let o = orders.iter().find(|o| o["ticker"] == t).unwrap();
    // Held already: a BUY of the rest, in single shares (its lot is 1 now).
    assert_eq!(o["action"], "BUY", "{o:?}");
    assert_eq!(f(&o["shares"]).fract(), 0.0);
    // Every other long the model holds but the file does not is now an OPEN.
    assert!(orders.iter().filter(|o| o["action"] == "OPEN").count() >= 1);
}

#[test]
fn test_cost_grid_equals_separate_backtests() {
    let dir = tempfile::tempdir().unwrap();
    let Some(base) = config(dir.path(), &[]) else {
        return;
    };
    let out = dir.path().join("base");
    assert_eq!(
        run(&[
            "backtest",
            "--config",
            s(&base),
            "--book",
            "d10",
            "--out",
            s(&out)
        ])
        .code,
        0
    );
    let grid = rows(&read(&out.join("cost_grid.csv")));
    for level in ["20.0", "50.0"] {
        let cfg = config(
            dir.path(),
            &[("cost_bps = 10.0", &format!("cost_bps = {level}"))],
        )
        .unwrap();
        let o = dir.path().join(format!("c{level}"));
        let r = run(&[
            "backtest",
            "--config",
            s(&cfg),
            "--book",
            "d10",
            "--out",
            s(&o),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let sm: serde_json::Value = serde_json::from_str(&read(&o.join("summary.json"))).unwrap();
        let row = grid.iter().find(|g| f(&g["cost_bps"]) == f(level)).unwrap();
        for (a, b) in [
            ("cagr", "cagr"),
            ("vol", "vol"),
            ("sharpe", "sharpe"),
            ("max_dd", "max_dd"),
        ] {
            assert_eq!(f(&row[a]), sm[b].as_f64().unwrap(), "{level} bps: {a}");
        }
    }
    // D10 is long-only at gross 1 per cohort.
    let targets = rows(&read(&out.join("targets.csv")));
    assert!(targets.iter().all(|r| r["side"] == "L"));
}

#[test]
fn test_reruns_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cfg) = config(dir.path(), &[]) else {
        return;
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for o in [&a, &b] {
        assert_eq!(
            run(&[
                "backtest",
                "--config",
                s(&cfg),
                "--beta-overlay",
                "--plots",
                "--start",
                "2019-01-01",
                "--end",
                "2022-12-31",
                "--out",
                s(o)
            ])
            .code,
            0
        );
    }
    for f in [
        "timeseries.csv",
        "summary.json",
        "cost_grid.csv",
        "targets.csv",
        "logs/formations.jsonl",
        "charts/equity.svg",
        "charts/drawdown.svg",
        "charts/rolling_sharpe_12m.svg",
        "charts/exposure.svg",
        "charts/gross_beta.svg",
        "charts/turnover.svg",
        "report.html",
    ] {
        assert_eq!(read(&a.join(f)), read(&b.join(f)), "{f}");
    }
    for f in ["equity", "gross_beta", "turnover"] {
        assert_eq!(
            std::fs::read(a.join(format!("charts/{f}.png"))).unwrap(),
            std::fs::read(b.join(format!("charts/{f}.png"))).unwrap(),
            "{f}.png"
        );
    }
    let nav = read(&a.join("charts/equity.svg"));
    assert!(nav.starts_with("<svg") && nav.contains("Equity vs CDI") && nav.contains("CDI"));
    let report = read(&a.join("report.html"));
    assert!(report.contains("Rolling 12-month Sharpe over CDI") && report.contains("Cohorts"));
}

#[test]
fn test_bad_inputs_are_named_and_nothing_is_exported() {
    let dir = tempfile::tempdir().unwrap();
    let Some(root) = shared("data") else {
        return;
    };
    // Too few eligible names for the plan's month.
    let cfg = config(dir.path(), &[("min_eligible = 20", "min_eligible = 41")]).unwrap();
    let out = dir.path().join("o1");
    let r = run(&[
        "plan",
        "--config",
        s(&cfg),
        "--as-of",
        "2020-01-31",
        "--out",
        s(&out),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("min_eligible 41"), "{}", r.stderr);
    assert!(!out.exists());

    // A CDI with a gap.
    let cdi = read(&root.join("br_b3_daily_yahoo/cdi_daily_2015.csv"));
    let gappy: String = cdi
        .lines()
        .filter(|l| !l.starts_with("2019-03-1"))
        .map(|l| format!("{l}\n"))
        .collect();
    let gap_file = dir.path().join("cdi_gap.csv");
    std::fs::write(&gap_file, gappy).unwrap();
    let cfg = config(dir.path(), &[]).unwrap();
    let out = dir.path().join("o2");
    let r = run(&[
        "backtest",
        "--config",
        s(&cfg),
        "--cdi",
        s(&gap_file),
        "--out",
        s(&out),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("cdi_gap.csv") && r.stderr.contains("first 2019-03-1"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());

    // A ticker without a sector when no fallback is configured.
    let cfg = config(dir.path(), &[("unknown_sector = \"unknown\"\n", "")]).unwrap();
    let r = run(&["backtest", "--config", s(&cfg), "--out", s(&out)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("ticker AZZA3 has no sector"),
        "{}",
        r.stderr
    );

    // Holdings and lot files: unknown tickers and bad lots are named with their line.
    let cfg = config(dir.path(), &[]).unwrap();
    for (name, text, want) in [
        (
            "holdings",
            "ticker,shares\nVALE3,100\nXXXX3,5\n",
            "line 3: XXXX3: unknown symbol",
        ),
        (
            "lots",
            "ticker,lot\nVALE3,0\n",
            "line 2: VALE3: lot is not a positive number",
        ),
    ] {
        let f = dir.path().join(format!("{name}.csv"));
        std::fs::write(&f, text).unwrap();
        let out = dir.path().join(format!("o-{name}"));
        let r = run(&[
            "plan",
            "--config",
            s(&cfg),
            "--as-of",
            "2025-09-30",
            "--live-capital",
            "100000",
            &format!("--{name}"),
            s(&f),
            "--out",
            s(&out),
        ]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(
            r.stderr.contains(want) && r.stderr.contains(&format!("{name}.csv")),
            "{}",
            r.stderr
        );
        assert!(!out.exists());
    }

    // An .xlsx CDI without the expected columns.
    let bad = dir.path().join("cdi.xlsx");
    std::fs::write(
        &bad,
        xlsx_bytes(["Foo", "Bar"], &[(45293, 1.0), (45294, 2.0)]),
    )
    .unwrap();
    let cfg = config(dir.path(), &[]).unwrap();
    let r = run(&[
        "backtest",
        "--config",
        s(&cfg),
        "--cdi",
        s(&bad),
        "--out",
        s(&out),
    ]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("cdi.xlsx"), "{}", r.stderr);
    assert!(!out.exists());
    let _ = r.stdout;
}

#[test]
fn test_the_owners_sqlite_layout_with_holiday_rows_backtests_as_the_csv_folder_does() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cfg) = config(dir.path(), &[]) else {
        return;
    };
    let root = shared("data").unwrap();
    // The owner's database: a bare `prices` table written by another tool, with the B3
    // holiday rows (volume 0, every price the same) the Yahoo files carry, and `sectors`.
    let db = dir.path().join("owner.db");
    let mut conn = rusqlite::Connection::open(&db).unwrap();
    let c = conn.transaction().unwrap();
    c.execute_batch(
        "CREATE TABLE prices (ticker TEXT, date TEXT, open REAL, high REAL, low REAL, close REAL, volume INTEGER);
         CREATE TABLE sectors (ticker TEXT, sector TEXT);",
    )
    .unwrap();
    let mut holiday_rows = 0;
    for e in std::fs::read_dir(root.join("br_b3_daily_yahoo/daily")).unwrap() {
        let p = e.unwrap().path();
        let ticker = p.file_stem().unwrap().to_str().unwrap().to_string();
        for r in rows(&read(&p)) {
            let v: f64 = f(&r["Volume"]);
            if v == 0.0 && r["Open"] == r["Close"] {
                holiday_rows += 1;
            }
            c.execute(
                "INSERT INTO prices VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                rusqlite::params![
                    ticker,
                    r["Date"],
                    f(&r["Open"]),
                    f(&r["High"]),
                    f(&r["Low"]),
                    f(&r["Close"]),
                    v as i64
                ],
            )
            .unwrap();
        }
    }
    assert!(holiday_rows > 0, "the data has holiday placeholder rows");
    c.commit().unwrap();
    drop(conn);
    let (csv_out, db_out) = (dir.path().join("csv"), dir.path().join("db"));
    let r = run(&["backtest", "--config", s(&cfg), "--out", s(&csv_out)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&[
        "backtest",
        "--config",
        s(&cfg),
        "--db",
        s(&db),
        "--out",
        s(&db_out),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for f in ["targets.csv", "timeseries.csv"] {
        assert_eq!(read(&csv_out.join(f)), read(&db_out.join(f)), "{f}");
    }
    // `data inspect` shows the placeholder rows of the foreign database as flagged.
    let r = run(&[
        "data",
        "inspect",
        "--db",
        s(&db),
        "--symbol",
        "ABEV3",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("zero_volume_placeholder"), "{}", r.stdout);
}
