//! `systrade serve` pages over HTTP on a home with a year of daily runs and 5,000 fills: the
//! demo's home (real daily runs of the trend book on the paper broker) grown to 252 run
//! folders (the last run's artifacts, re-dated) and, in the ledger, 252 days of equity and
//! 5,000 filled orders across its 24 names, plus 40 manual trades marked from the demo's
//! market DB. Each sample is one GET, from the request to the last byte of the page.

use std::path::Path;

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};

mod common;
use common::sys;
use rust_decimal::Decimal;
use systrade_broker::{BrokerFill, OrderStatus};
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};
use systrade_store::{Ledger, LedgerOrder, NewTrade, OrderKind, Purpose};

const BOOK: &str = "trend_demo";

/// Weekdays ending at `last`, oldest first.
fn weekdays(last: NaiveDate, n: usize) -> Vec<NaiveDate> {
    use chrono::Datelike;
    let mut out = Vec::new();
    let mut d = last;
    while out.len() < n {
        if d.weekday().num_days_from_monday() < 5 {
            out.push(d);
        }
        d = d.pred_opt().unwrap();
    }
    out.reverse();
    out
}

/// Copies the last run folder to every other day of the year, re-dated.
fn grow_runs(home: &Path, days: &[NaiveDate]) {
    let runs = home.join("runs").join(BOOK);
    let last = *days.last().unwrap();
    let src = runs.join(last.to_string());
    let files: Vec<(String, String)> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    for d in &days[..days.len() - 1] {
        let dir = runs.join(d.to_string());
        if dir.exists() {
            continue;
        }
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in &files {
            let (l, n) = (last.to_string(), d.to_string());
            std::fs::write(dir.join(name.replace(&l, &n)), text.replace(&l, &n)).unwrap();
        }
    }
}

/// A year of equity and 5,000 fills in the ledger, and 40 manual trades.
fn grow_ledger(home: &Path, days: &[NaiveDate], symbols: &[Symbol]) {
    let mut l = Ledger::open(&home.join("ledger.sqlite")).unwrap();
    let account = l
        .books()
        .unwrap()
        .into_iter()
        .find(|b| b.strategy == BOOK)
        .unwrap()
        .account;
    l.write("bench", |w| {
        for (i, d) in days.iter().enumerate() {
            let e = Decimal::from(100_000 + (i as i64 * 37) % 5_000);
            w.record_equity(BOOK, *d, e)?;
        }
        for i in 0..5_000usize {
            let d = days[i * days.len() / 5_000];
            let sym = symbols[i % symbols.len()].clone();
            let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
            let id = ClientOrderId(format!("bench-{i}"));
            let px = Decimal::new(5_000 + (i as i64 % 700), 2);
            w.upsert_order(&LedgerOrder {
                client_order_id: id.clone(),
                strategy: BOOK.into(),
                market_day: d,
                symbol: sym.clone(),
                side,
                kind: OrderKind::Market,
                qty: Decimal::from(10),
                stop_price: None,
                purpose: if i % 2 == 0 {
                    Purpose::Entry
                } else {
                    Purpose::Exit
                },
                status: OrderStatus::Filled,
                broker_order_id: Some(format!("b-{i}")),
                filled_qty: Decimal::from(10),
                avg_price: Some(px),
                note: None,
                decision_price: Some(px),
                limit_price: None,
                approval: None,
            })?;
            let fill = BrokerFill {
                fill_id: format!("bench-fill-{i}"),
                client_order_id: id,
                symbol: sym,
                side,
                qty: Decimal::from(10),
                price: px,
                fee: Decimal::new(25, 2),
                date: d,
            };
            w.book_fill(BOOK, &account, &fill, Purpose::Entry)?;
        }
        Ok(())
    })
    .unwrap();
    for i in 0..40usize {
        let t = NewTrade {
            symbol: symbols[i % symbols.len()].clone(),
            side: Side::Buy,
            qty: Decimal::from(5 + i as i64),
            price: Decimal::from(50),
            date: days[i * 6],
            fees: Decimal::ONE,
            stop: Some(Decimal::from(45)),
            tags: vec!["bench".into()],
            notes: String::new(),
        };
        l.add_trade(&t, *days.last().unwrap()).unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let p = |x: &Path| x.to_str().unwrap().to_string();
    sys(&[
        "demo",
        "--out",
        &p(&out),
        "--home",
        &p(&dir.path().join("h")),
    ]);
    let home = out.join("home");
    let last: NaiveDate = std::fs::read_dir(home.join("runs").join(BOOK))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .max()
        .unwrap();
    let days = weekdays(last, 252);
    grow_runs(&home, &days);
    let symbols: Vec<Symbol> = std::fs::read_dir(out.join("data"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            let s = n.strip_suffix(".csv")?.to_string();
            (s != "sectors").then(|| Symbol::new(&s).unwrap())
        })
        .collect();
    grow_ledger(&home, &days, &symbols);
    let dash = systrade_dashboard::spawn(systrade_dashboard::Options {
        home: home.clone(),
        bind: "127.0.0.1:0".parse().unwrap(),
        allow_actions: true,
        token: None,
        configs: Vec::new(),
        prices: systrade_dashboard::marks::Prices {
            data: vec![out.join("market.db")],
            benchmark: Some(Symbol::new("IND01").unwrap()),
            parse: Default::default(),
        },
        backtests: vec![out.clone()],
    })
    .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut g = c.benchmark_group("dashboard_page");
    g.sample_size(30);
    let pages: Vec<(&str, String)> = vec![
        ("overview", "/".into()),
        ("positions", "/positions".into()),
        ("orders", "/orders".into()),
        ("runs", "/runs".into()),
        ("run", format!("/runs/{BOOK}/{last}")),
        ("trades", "/trades".into()),
        ("backtests", "/backtests".into()),
    ];
    for (name, path) in &pages {
        let url = format!("{}{path}", dash.url());
        let mut first = agent.get(&url).call().unwrap();
        assert_eq!(first.status().as_u16(), 200, "{path}");
        let body = first.body_mut().read_to_string().unwrap();
        eprintln!("{name}: {} bytes", body.len());
        g.bench_function(*name, |b| {
            b.iter(|| {
                let mut r = agent.get(&url).call().unwrap();
                r.body_mut().read_to_string().unwrap().len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
