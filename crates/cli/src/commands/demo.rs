//! `systrade demo`: the whole pipeline on a built-in synthetic market.

use anyhow::Context;
use systrade_data::ParseOptions;
use systrade_data::db::MarketDb;
use systrade_data::inspect::{render_table, report_stored};
use systrade_data::synth::{SynthConfig, generate, write_folder};

use super::data::import_into;
use crate::args::DemoArgs;

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
    println!(
        "\nNext: `systrade data inspect --db {}` or import real files with `systrade data import`.",
        db_path.display()
    );
    Ok(())
}
