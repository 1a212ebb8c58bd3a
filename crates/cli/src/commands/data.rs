//! `systrade data …`

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use systrade_data::db::{ImportLine, ImportStatus, MarketDb};
use systrade_data::import::{import_folder, read_folder};
use systrade_data::inspect::{
    SeriesReport, render_flags, render_table, report_series, report_stored,
};
use systrade_data::parse::Content;
use systrade_data::synth::{SynthConfig, generate, write_folder};
use systrade_data::{ParseOptions, ParsedFile};

use super::progress;
use crate::args::{ImportArgs, InspectArgs, SynthArgs};
use crate::exit::BadInput;

fn tick(pb: &indicatif::ProgressBar, files: usize) {
    pb.set_length(files as u64);
    pb.inc(1);
}

/// Parses every file under `from` (nothing is written yet), with a progress bar.
pub fn read_files(from: &Path, opts: &ParseOptions) -> anyhow::Result<Vec<ParsedFile>> {
    let pb = progress(0, "reading");
    let parsed = read_folder(from, opts, &|_, n| tick(&pb, n));
    pb.finish_and_clear();
    Ok(parsed?)
}

/// Parses and stores, with a progress bar; bad input leaves the database untouched.
pub fn import_into(
    from: &Path,
    db_path: &Path,
    opts: &ParseOptions,
) -> anyhow::Result<Vec<ImportLine>> {
    let pb = progress(0, "reading");
    let report = import_folder(from, db_path, opts, &|_, n| tick(&pb, n));
    pb.finish_and_clear();
    report.with_context(|| format!("importing into {}", db_path.display()))
}

pub fn import(a: &ImportArgs) -> anyhow::Result<()> {
    let mut opts = a.read.parse_options();
    opts.name = a.name.clone();
    opts.rate_unit = a.rate_unit.map(|u| u.unit());
    let started = std::time::Instant::now();
    let report = import_into(&a.from, &a.db, &opts)?;
    if a.json {
        println!(
            "{}",
            systrade_core::json::to_canonical_pretty(&report)?.trim_end()
        );
        return Ok(());
    }
    print_import_report(&report, started.elapsed());
    Ok(())
}

fn print_import_report(report: &[ImportLine], took: std::time::Duration) {
    let mut by_status: BTreeMap<ImportStatus, usize> = BTreeMap::new();
    let (mut read, mut stored, mut flagged, mut skipped) = (0, 0, 0, 0);
    for l in report {
        *by_status.entry(l.status).or_default() += 1;
        read += l.rows_read;
        if l.status != ImportStatus::Unchanged {
            stored += l.rows_stored;
            flagged += l.rows_flagged;
            skipped += l.rows_skipped;
        }
    }
    for l in report
        .iter()
        .filter(|l| matches!(l.status, ImportStatus::Changed | ImportStatus::Ignored))
    {
        let what = if l.dataset.is_empty() {
            &l.file
        } else {
            &l.dataset
        };
        println!(
            "{}: {what}: {}",
            format!("{:?}", l.status).to_lowercase(),
            l.detail.as_deref().unwrap_or("")
        );
    }
    let mut flags: BTreeMap<&str, (u64, usize)> = BTreeMap::new();
    for l in report
        .iter()
        .filter(|l| l.status != ImportStatus::Unchanged)
    {
        for (f, n) in &l.flags {
            let e = flags.entry(f.as_str()).or_default();
            e.0 += n;
            e.1 += 1;
        }
    }
    if !flags.is_empty() {
        let parts: Vec<String> = flags
            .iter()
            .map(|(f, (n, s))| format!("{f} {n} in {s} series"))
            .collect();
        println!(
            "flagged (kept out of trading decisions; `systrade data inspect` lists them): {}",
            parts.join(", ")
        );
    }
    let counts: Vec<String> = by_status
        .iter()
        .map(|(s, n)| format!("{n} {}", format!("{s:?}").to_lowercase()))
        .collect();
    let secs = took.as_secs_f64().max(1e-9);
    println!(
        "imported {} file(s): {}; {stored} rows stored, {flagged} flagged, {skipped} skipped ({read} rows read in {:.2}s, {:.0} rows/s)",
        report.len(),
        counts.join(", "),
        secs,
        read as f64 / secs
    );
}

pub fn inspect(a: &InspectArgs) -> anyhow::Result<()> {
    let reports = inspect_reports(a)?;
    if a.json {
        println!(
            "{}",
            systrade_core::json::to_canonical_pretty(&reports)?.trim_end()
        );
        return Ok(());
    }
    print!("{}", render_table(&reports));
    let limit = if a.symbol.is_some() {
        usize::MAX
    } else {
        a.show_flags
    };
    let flags = render_flags(&reports, limit);
    if !flags.is_empty() {
        println!("\nflagged rows (kept out of trading decisions):\n{flags}");
    }
    Ok(())
}

pub fn inspect_reports(a: &InspectArgs) -> anyhow::Result<Vec<SeriesReport>> {
    let wanted = |s: &str| a.symbol.as_deref().is_none_or(|w| w == s);
    let reports: Vec<SeriesReport> = if let Some(db_path) = &a.db {
        let db = MarketDb::open_existing(db_path)?;
        let infos = db.instruments()?;
        infos
            .iter()
            .filter(|i| wanted(i.symbol.as_str()))
            .map(|i| report_stored(&db, i))
            .collect::<Result<_, _>>()?
    } else if let Some(dir) = &a.data {
        let parsed = read_files(dir, &a.read.parse_options())?;
        parsed
            .iter()
            .filter_map(|f| match &f.content {
                Content::Prices(p) if wanted(p.symbol.as_str()) => Some(report_series(p)),
                _ => None,
            })
            .collect()
    } else {
        return Err(BadInput("give --db or --data".into()).into());
    };
    if let Some(s) = &a.symbol
        && reports.is_empty()
    {
        return Err(BadInput(format!("unknown symbol {s}: not in the data")).into());
    }
    let mut reports = reports;
    systrade_data::inspect::mark_stale(&mut reports, systrade_live::env_now()?);
    Ok(reports)
}

pub fn synth(a: &SynthArgs) -> anyhow::Result<()> {
    let cfg = SynthConfig {
        symbols: a.symbols,
        days: a.days,
        seed: a.seed,
        start: a.start,
        market: a.market.market(),
    };
    let series = generate(&cfg)?;
    let files =
        write_folder(&series, &a.out).with_context(|| format!("writing {}", a.out.display()))?;
    let (first, last) = series
        .first()
        .and_then(|s| Some((s.bars.first()?.ts, s.bars.last()?.ts)))
        .ok_or_else(|| anyhow::anyhow!("synth produced no bars"))?;
    println!(
        "wrote {} files to {}: {} symbols × {} sessions ({first} .. {last}), seed {}",
        files.len(),
        a.out.display(),
        a.symbols,
        a.days,
        a.seed
    );
    Ok(())
}
