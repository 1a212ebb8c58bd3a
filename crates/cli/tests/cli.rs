//! The command line as a user meets it: exit codes, messages, files written or not.

use std::path::{Path, PathBuf};

mod common;

use common::run_in as run;

fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const GOOD: &str = "date,open,high,low,close,volume\n2024-01-02,10,11,9,10.5,100\n2024-01-03,10.5,11,10,10.8,120\n2024-01-04,10.8,11.2,10.1,11,90\n";

/// Structural problems: exit 2, one message naming file and line, and no database created.
#[test]
fn test_structural_errors_exit_2_name_file_and_line_and_write_nothing() {
    let cases: [(&str, &str, &str); 7] = [
        (
            "HDR.csv",
            "day,o,h,l,c,v\n2024-01-02,1,1,1,1,1\n",
            "HDR.csv line 1: unrecognised header",
        ),
        (
            "DUP.csv",
            "date,open,high,low,close,volume\n2024-01-02,10,11,9,10,1\n2024-01-02,10,11,9,10,1\n",
            "DUP.csv line 3 [DUP]: duplicate date 2024-01-02 (also on line 2)",
        ),
        (
            "UNS.csv",
            "date,open,high,low,close,volume\n2024-01-03,10,11,9,10,1\n2024-01-02,10,11,9,10,1\n",
            "UNS.csv line 3 [UNS]: date 2024-01-02 is before the previous row's (line 2)",
        ),
        (
            "NAN.csv",
            "date,open,high,low,close,volume\n2024-01-02,10,11,9,NaN,1\n",
            "NAN.csv line 2 [NAN]: close: NaN value",
        ),
        (
            "TXT.csv",
            "date,open,high,low,close,volume\n2024-01-02,10,11,9,ten,1\n",
            "TXT.csv line 2 [TXT]: close: unparseable number \"ten\"",
        ),
        ("EMPTY.csv", "", "EMPTY.csv: empty file"),
        (
            "HEAD.csv",
            "date,open,high,low,close,volume\n",
            "HEAD.csv [HEAD]: no data rows",
        ),
    ];
    for (name, text, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("in");
        std::fs::create_dir(&src).unwrap();
        file(&src, "OK.csv", GOOD);
        file(&src, name, text);
        let r = run(
            &["data", "import", "--from", "in", "--db", "out/m.db"],
            dir.path(),
        );
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        assert!(
            r.stderr.contains(want),
            "{name}: expected {want:?} in {:?}",
            r.stderr
        );
        assert_eq!(
            r.stderr.lines().count(),
            1,
            "one clear message: {:?}",
            r.stderr
        );
        assert!(
            !dir.path().join("out").exists(),
            "{name}: nothing may be written"
        );
    }
}

#[test]
fn test_unknown_format_and_forced_format_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    file(dir.path(), "X.csv", GOOD);
    let r = run(
        &[
            "data", "import", "--from", "X.csv", "--db", "m.db", "--format", "binance",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("X.csv line 1: header looks like generic but --format binance was given"),
        "{}",
        r.stderr
    );
    let r = run(
        &[
            "data",
            "import",
            "--from",
            "X.csv",
            "--db",
            "m.db",
            "--format",
            "bloomberg",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 2, "clap rejects an unknown value");
    assert!(!dir.path().join("m.db").exists());
}

/// Value problems follow --on-bad-row.
#[test]
fn test_value_problems_fail_flag_or_skip() {
    let text = "date,open,high,low,close,volume\n2024-01-02,10,11,9,10,1\n2024-01-03,10,10.2,10.5,10.3,1\n2024-01-04,-1,11,9,10,1\n2024-01-05,10,11,9,10,1\n";
    let dir = tempfile::tempdir().unwrap();
    file(dir.path(), "AAPL.csv", text);

    let r = run(
        &[
            "data",
            "import",
            "--from",
            "AAPL.csv",
            "--db",
            "fail.db",
            "--on-bad-row",
            "fail",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("AAPL.csv line 3 [AAPL]: high 10.2 < low 10.5"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("fail.db").exists());

    let r = run(
        &["data", "import", "--from", "AAPL.csv", "--db", "flag.db"],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("non_positive_price 1 in 1 series")
            && r.stdout.contains("ohlc_inconsistent 1 in 1 series"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("2 rows stored, 2 flagged, 0 skipped"),
        "{}",
        r.stdout
    );
    let r = run(
        &["data", "inspect", "--db", "flag.db", "--symbol", "AAPL"],
        dir.path(),
    );
    assert_eq!(r.code, 0);
    assert!(
        r.stdout
            .contains("line      3  2024-01-03  ohlc_inconsistent: high 10.2 < low 10.5"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("line      4  2024-01-04  non_positive_price: open -1 is not positive"),
        "{}",
        r.stdout
    );

    let r = run(
        &[
            "data",
            "import",
            "--from",
            "AAPL.csv",
            "--db",
            "skip.db",
            "--on-bad-row",
            "skip",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("2 rows stored, 0 flagged, 2 skipped"),
        "{}",
        r.stdout
    );
}

#[test]
fn test_reimport_unchanged_then_changed() {
    let dir = tempfile::tempdir().unwrap();
    file(dir.path(), "ABC.csv", GOOD);
    assert_eq!(
        run(
            &["data", "import", "--from", "ABC.csv", "--db", "m.db"],
            dir.path()
        )
        .code,
        0
    );
    let r = run(
        &["data", "import", "--from", "ABC.csv", "--db", "m.db"],
        dir.path(),
    );
    assert!(
        r.stdout.contains("1 unchanged; 0 rows stored"),
        "{}",
        r.stdout
    );
    file(
        dir.path(),
        "ABC.csv",
        &GOOD
            .replace("10.8,100", "10.9,100")
            .replace("11,90", "11.1,90"),
    );
    let r = run(
        &["data", "import", "--from", "ABC.csv", "--db", "m.db"],
        dir.path(),
    );
    assert!(
        r.stdout.contains("changed: prices:ABC@1d: content changed"),
        "{}",
        r.stdout
    );
}

#[test]
fn test_inspect_unknown_symbol_and_missing_db_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    file(dir.path(), "ABC.csv", GOOD);
    run(
        &["data", "import", "--from", "ABC.csv", "--db", "m.db"],
        dir.path(),
    );
    let r = run(
        &["data", "inspect", "--db", "m.db", "--symbol", "NOPE"],
        dir.path(),
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown symbol NOPE"), "{}", r.stderr);
    let r = run(&["data", "inspect", "--db", "missing.db"], dir.path());
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("missing.db: no such database"),
        "{}",
        r.stderr
    );
    assert!(
        !dir.path().join("missing.db").exists(),
        "inspect never creates a database"
    );
    let r = run(&["data", "inspect"], dir.path());
    assert_eq!(r.code, 2, "--db or --data is required");
}

#[test]
fn test_inspect_reads_a_csv_folder_directly() {
    let dir = tempfile::tempdir().unwrap();
    file(dir.path(), "ABC.csv", GOOD);
    let r = run(&["data", "inspect", "--data", ".", "--json"], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v[0]["symbol"], "ABC");
    assert_eq!(v[0]["rows"], 3);
    assert_eq!(v[0]["gaps"]["missing_sessions"], 0);
}

#[test]
fn test_synth_is_byte_identical_for_a_seed() {
    let dir = tempfile::tempdir().unwrap();
    for out in ["a", "b", "c"] {
        let seed = if out == "c" { "8" } else { "7" };
        let r = run(
            &[
                "data",
                "synth",
                "--symbols",
                "5",
                "--days",
                "300",
                "--seed",
                seed,
                "--out",
                out,
            ],
            dir.path(),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let read = |d: &str, f: &str| std::fs::read(dir.path().join(d).join(f)).unwrap();
    let names: Vec<String> = std::fs::read_dir(dir.path().join("a"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 6, "5 symbols + sectors.csv: {names:?}");
    for n in &names {
        assert_eq!(read("a", n), read("b", n), "{n}");
    }
    assert_ne!(read("a", "TEC01.csv"), read("c", "TEC01.csv"));
    // The synthetic files import cleanly: 1500 bars and 5 sector rows, no flags.
    let r = run(
        &["data", "import", "--from", "a", "--db", "s.db"],
        dir.path(),
    );
    assert!(
        r.stdout.contains("1505 rows stored, 0 flagged"),
        "{}",
        r.stdout
    );
}

#[test]
fn test_demo_runs_and_reruns_identically() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(&["demo"], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = dir.path().join("systrade-demo");
    for f in [
        "market.db",
        "inspect.json",
        "data/sectors.csv",
        "data/TEC01.csv",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    // The trend strategy's backtest and the plan for the session after the last bar.
    assert!(
        r.stdout.contains("4. trend-following backtest"),
        "{}",
        r.stdout
    );
    let plan_targets = out.join("plan/targets_2020-12-16.csv");
    let artifacts = [
        out.join("inspect.json"),
        out.join("trend/timeseries.csv"),
        out.join("trend/targets.csv"),
        out.join("trend/summary.json"),
        out.join("trend/logs/desired_trades.jsonl"),
        plan_targets.clone(),
        out.join("plan/orders_2020-12-16.csv"),
        out.join("momentum/timeseries.csv"),
        out.join("momentum/targets.csv"),
        out.join("momentum-plan/targets_2020-11.csv"),
        out.join("momentum-plan/orders_2020-11.csv"),
        out.join("momentum-plan/state/cohort_0_2020-11.json"),
        out.join("report.html"),
        out.join("charts/equity.png"),
        out.join("momentum/report.html"),
        out.join("newsletter.html"),
        out.join("newsletter.txt"),
    ];
    let first: Vec<Vec<u8>> = artifacts
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    // The plan is the backtest's last decision.
    let history = String::from_utf8(first[2].clone()).unwrap();
    let last: String = history
        .lines()
        .filter_map(|l| l.strip_prefix("2020-12-16,"))
        .map(|l| format!("{l}\n"))
        .collect();
    let plan = std::fs::read_to_string(&plan_targets).unwrap();
    assert_eq!(plan.split_once('\n').unwrap().1, last);
    let r = run(&["demo"], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    for (p, before) in artifacts.iter().zip(&first) {
        assert_eq!(
            before,
            &std::fs::read(p).unwrap(),
            "byte-identical rerun: {p:?}"
        );
    }
    let first = first[0].clone();
    let v: serde_json::Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 24);
}

#[test]
fn test_help_explains_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["data", "import", "--help"],
        vec!["data", "inspect", "--help"],
        vec!["data", "synth", "--help"],
        vec!["demo", "--help"],
    ] {
        let r = run(&args, dir.path());
        assert_eq!(r.code, 0);
        assert!(r.stdout.contains("Example"), "{args:?}: {}", r.stdout);
    }
}
