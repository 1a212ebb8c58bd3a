//! `systrade demo`: the whole pipeline on a built-in synthetic market.

use anyhow::Context;
use systrade_data::ParseOptions;
use systrade_data::db::MarketDb;
use systrade_data::inspect::{render_table, report_stored};
use systrade_data::synth::{SynthConfig, generate, write_folder};

use super::data::import_into;
use crate::args::{DemoArgs, FormatArg, MarketArg, PolicyArg, ReadArgs};
use systrade_systems::trend::{headline, load, run_backtest};

/// The committed demo configs; the demo writes copies beside its data.
const TREND_DEMO: &str = include_str!("../../../../configs/trend_demo.toml");
const MOMENTUM_DEMO: &str = include_str!("../../../../configs/momentum_demo.toml");

/// The demo's cash rate: a flat 4% a year, as a daily CDI-style series on every session.
fn flat_cdi(dates: &[chrono::NaiveDate]) -> String {
    let daily = (1.04f64.powf(1.0 / 252.0) - 1.0) * 100.0;
    let mut out = String::from("Date,cdi\n");
    for d in dates {
        out.push_str(&format!("{d},{daily:.6}\n"));
    }
    out
}

/// The demo market: fixed, so every run of the demo shows the same thing.
fn demo_config() -> SynthConfig {
    SynthConfig {
        symbols: 24,
        days: 1500,
        seed: 20_240_501,
        ..SynthConfig::default()
    }
}

pub fn run(a: &DemoArgs) -> anyhow::Result<()> {
    let out = &a.out;
    let data_dir = out.join("data");
    let series = generate(&demo_config())?;
    write_folder(&series, &data_dir).with_context(|| format!("writing {}", data_dir.display()))?;
    println!(
        "1. synthetic market: {} symbols × {} sessions → {}",
        series.len(),
        demo_config().days,
        data_dir.display()
    );

    let db_path = out.join("market.db");
    let report = import_into(&data_dir, &db_path, &ParseOptions::default())?;
    let stored: u64 = report.iter().map(|l| l.rows_stored).sum();
    println!(
        "2. imported {} files into {} ({stored} rows)",
        report.len(),
        db_path.display()
    );

    let db = MarketDb::open_existing(&db_path)?;
    let reports = db
        .instruments()?
        .iter()
        .map(|i| report_stored(&db, i))
        .collect::<Result<Vec<_>, _>>()?;
    let inspect_path = out.join("inspect.json");
    systrade_core::fsio::write_json_atomic(&inspect_path, &reports)?;
    println!("3. inspected → {}\n", inspect_path.display());
    print!("{}", render_table(&reports));

    // The trend-following strategy on the same data: a backtest, then a plan for the session
    // after the last bar, both from a copy of configs/trend_demo.toml that reads ./data.
    let config_path = out.join("trend_demo.toml");
    let text = TREND_DEMO.replace("source = \"../systrade-demo/data\"", "source = \"data\"");
    systrade_core::fsio::write_atomic(&config_path, text.as_bytes())?;
    let read = ReadArgs {
        format: FormatArg::Auto,
        market: MarketArg::Auto,
        adjust: None,
        on_bad_row: PolicyArg::Flag,
        trust_last_candle: false,
    };
    let l = load(&config_path, None, &read.options())?;
    let bt_dir = out.join("trend");
    let b = &l.cfg.backtest;
    let engine = l.engine(b.cash, b.start, b.end);
    // The demo shows every artifact, the full desired-trades log included.
    let (result, _) = run_backtest(&l, &engine, &bt_dir, true)?;
    println!(
        "\n4. trend-following backtest ({}) → {}\n   {}",
        config_path.display(),
        bt_dir.display(),
        headline(&result)
    );
    let report = systrade_systems::tearsheet::emit(
        &systrade_systems::trend::tearsheet_of(&l, &engine, &result, &config_path),
        out,
        true,
    )?;
    println!(
        "   tear sheet: {} (charts as SVG and PNG in {})",
        report.display(),
        out.join("charts").display()
    );
    let last = result
        .summary
        .last_date
        .ok_or_else(|| anyhow::anyhow!("the demo backtest recorded no dates"))?;
    let as_of = l.market.calendar().next_trading_day(last);
    let plan_dir = out.join("plan");
    print!("5. ");
    super::plan::plan(&l, as_of, None, &plan_dir)?;
    println!(
        "   targets_{as_of}.csv, orders_{as_of}.csv (market orders + protective stops), snapshot_{as_of}.csv, logs/desired_trades.jsonl"
    );

    // Momentum cohorts on the same market, with a flat synthetic CDI.
    let dates: Vec<chrono::NaiveDate> = series
        .first()
        .map(|s| s.bars.iter().map(|b| b.ts).collect())
        .unwrap_or_default();
    systrade_core::fsio::write_atomic(&out.join("cdi.csv"), flat_cdi(&dates).as_bytes())?;
    let mom_config = out.join("momentum_demo.toml");
    let text = MOMENTUM_DEMO
        .replace("\"../systrade-demo/data\"", "\"data\"")
        .replace("\"../systrade-demo/cdi.csv\"", "\"cdi.csv\"")
        .replace(
            "\"../systrade-demo/data/sectors.csv\"",
            "\"data/sectors.csv\"",
        );
    systrade_core::fsio::write_atomic(&mom_config, text.as_bytes())?;
    let mom_dir = out.join("momentum");
    super::momentum::demo(&mom_config, &read, &mom_dir, &out.join("momentum-plan"))?;
    // A few paper days of the trend strategy through the daily run, in its own home.
    let home = out.join("home");
    if home.exists() {
        std::fs::remove_dir_all(&home)
            .with_context(|| format!("clearing the demo's home {}", home.display()))?;
    }
    let paper_days: Vec<chrono::NaiveDate> = dates.iter().rev().take(5).rev().copied().collect();
    println!(
        "\n8. daily run on the paper broker, {} sessions, home {}",
        paper_days.len(),
        home.display()
    );
    let mut last_summary = None;
    for d in &paper_days {
        let req = systrade_live::RunRequest {
            configs: vec![config_path.clone()],
            broker: None,
            as_of: Some(*d),
            dry_run: false,
            force_run: false,
            live: false,
            schedule: systrade_live::schedule::Schedule::from_flags(None, None, None, 5)
                .map_err(crate::exit::BadInput)?,
            data: None,
            now: systrade_live::now_of(None)?,
            read: read.options(),
            refresh: false,
        };
        print!("   ");
        last_summary = systrade_live::run(&home, &req)?.pop().or(last_summary);
    }
    if let Some(p) = last_summary {
        println!("   daily summary: {}", p.display());
    }
    let ledger = crate::exit::existing_ledger(&home, "run the daily run")?;
    let letter = systrade_desk::newsletter::build(&home, &ledger, None, &[], &Default::default())?
        .render()?;
    let html = out.join("newsletter.html");
    let text = out.join("newsletter.txt");
    systrade_core::fsio::write_atomic(&html, letter.html.as_bytes())?;
    systrade_core::fsio::write_atomic(&text, letter.text.as_bytes())?;
    println!(
        "\n9. newsletter \"{}\" → {} (plain text: {})",
        letter.subject,
        html.display(),
        text.display()
    );
    println!(
        "\nNext: `systrade data inspect --db {}`, `systrade backtest --config {} --plots --out bt`, `systrade --home {} reconcile --config {}`, `systrade --home {} portfolio --data {}`, `systrade --home {} orders slippage`, `systrade --home {} newsletter --preview newsletter.html` (or --send with SYSTRADE_SMTP_* set), or import real files with `systrade data import`.",
        db_path.display(),
        config_path.display(),
        home.display(),
        config_path.display(),
        home.display(),
        db_path.display(),
        home.display(),
        home.display()
    );
    Ok(())
}
