//! Import throughput (rows/s): parsing + validation of a whole data tree, and the full import
//! into a fresh SQLite database. Uses `../shared/data` when present, else a synthetic folder.

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use systrade_data::ParseOptions;
use systrade_data::db::MarketDb;
use systrade_data::folder::{data_files, parse_all};
use systrade_data::synth::{SynthConfig, generate, write_folder};

fn data_root(scratch: &std::path::Path) -> (PathBuf, &'static str) {
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if shared.exists() {
        return (shared, "shared_data");
    }
    let dir = scratch.join("synth");
    let series = generate(&SynthConfig {
        symbols: 100,
        days: 2500,
        ..SynthConfig::default()
    })
    .expect("synth");
    write_folder(&series, &dir).expect("write synth");
    (dir, "synth_100x2500")
}

fn bench_import(c: &mut Criterion) {
    let scratch = tempfile::tempdir().expect("tempdir");
    let (root, name) = data_root(scratch.path());
    let files = data_files(&root).expect("data files");
    let opts = ParseOptions::default();
    let rows: u64 = parse_all(&files, &opts, &|_| {})
        .expect("parse")
        .iter()
        .map(|f| f.rows_read)
        .sum();

    let mut g = c.benchmark_group("import");
    g.sample_size(10);
    g.throughput(Throughput::Elements(rows));
    g.bench_function(format!("parse_validate/{name}"), |b| {
        b.iter(|| parse_all(&files, &opts, &|_| {}).expect("parse"))
    });
    let mut n = 0u64;
    g.bench_function(format!("parse_validate_store/{name}"), |b| {
        b.iter(|| {
            n += 1;
            let db_path = scratch.path().join(format!("bench-{n}.db"));
            let parsed = parse_all(&files, &opts, &|_| {}).expect("parse");
            let mut db = MarketDb::open(&db_path).expect("open");
            let report = db.import(&parsed, &opts).expect("import");
            drop(db);
            let _ = std::fs::remove_file(&db_path);
            report
        })
    });
    g.finish();
}

criterion_group!(benches, bench_import);
criterion_main!(benches);
