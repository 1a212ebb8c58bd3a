//! `systrade run --broker ib` against the local IB Gateway (`systrade fake-venue ib`: the TWS
//! API socket, IB's protobuf messages): the contract the Alpaca and Coinbase adapters pass —
//! consecutive sessions equal to the backtest with every position protected, real SIGKILLs,
//! the venue's failures (a dropped connection before and after the gateway acted), refusals
//! (a client id in use, another session, a live account, a foreign order).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::daily::{ENV, query};
use common::venue::{Rng, Venue, day_decisions, decisions};
use common::{read, s};
use rust_decimal::Decimal;
use serde_json::Value;

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/us_etf_daily_yahoo")
}

fn config() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs/trend_us_alpaca.toml")
}

const BOOK: &str = "trend_us_alpaca";

/// A local IB Gateway in its own process.
struct Gateway {
    venue: Venue,
    /// The API socket's port.
    port: String,
}

fn start(state: &Path, session: &str, extra: &[&str]) -> Gateway {
    let venue = Venue::start(
        "ib",
        &data(),
        state,
        session,
        extra,
        &[],
        Box::new(|_, _| Vec::new()),
    );
    let port = venue
        .banner
        .split("API on ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|a| a.rsplit(':').next())
        .unwrap_or_else(|| panic!("no API port in {:?}", venue.banner))
        .to_string();
    Gateway { venue, port }
}

impl Gateway {
    fn state(&self) -> Value {
        self.venue.get("/fake/state")
    }

    fn all_orders(&self) -> Vec<Value> {
        self.state()["orders"].as_array().unwrap().clone()
    }

    fn open_orders(&self) -> Vec<Value> {
        self.all_orders()
            .into_iter()
            .filter(|o| matches!(o["status"].as_str(), Some("accepted" | "partially_filled")))
            .collect()
    }

    fn fills(&self) -> Vec<Value> {
        self.state()["fills"].as_array().unwrap().clone()
    }

    /// Symbol → units held.
    fn positions(&self) -> BTreeMap<String, Decimal> {
        self.state()["positions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["symbol"].as_str().unwrap().to_string(), dec(&p["qty"])))
            .collect()
    }

    /// The orderRef of a gateway key `<client>|<order id>|<orderRef>`.
    fn order_refs(&self) -> Vec<String> {
        self.all_orders()
            .iter()
            .map(|o| {
                let k = o["client_order_id"].as_str().unwrap();
                k.splitn(3, '|').nth(2).unwrap().to_string()
            })
            .collect()
    }
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

fn sessions(start: &str, n: usize) -> Vec<String> {
    read(&data().join("SPY.csv"))
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .filter(|d| *d >= start)
        .take(n)
        .map(str::to_string)
        .collect()
}

fn systrade(home: &Path, gw: &Gateway, args: &[&str]) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("systrade"));
    for k in ENV {
        c.env_remove(k);
    }
    c.arg("--home")
        .arg(home)
        .args(args)
        .args(["--config", s(&config()), "--data", s(&data())])
        .env("SYSTRADE_IB_HOST", "127.0.0.1")
        .env("SYSTRADE_IB_PORT", &gw.port)
        .env("SYSTRADE_IB_CLIENT_ID", "7")
        .env_remove("SYSTRADE_IB_ACCOUNT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn run_cmd(home: &Path, gw: &Gateway, day: &str, extra: &[&str]) -> Command {
    let mut c = systrade(home, gw, &["run"]);
    c.args(["--broker", "ib", "--as-of", day]).args(extra);
    c
}

struct Out {
    code: i32,
    text: String,
}

fn finish(mut c: Command) -> Out {
    let o = c.output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    }
}

fn run(home: &Path, gw: &Gateway, day: &str, extra: &[&str]) -> Out {
    finish(run_cmd(home, gw, day, extra))
}

fn protect(home: &Path, gw: &Gateway) -> Out {
    let mut c = systrade(home, gw, &["protect"]);
    c.args(["--broker", "ib"]);
    finish(c)
}

fn ledger_fill_ids(home: &Path) -> Vec<String> {
    query(
        &home.join("ledger.sqlite"),
        "SELECT fill_id FROM fills ORDER BY fill_id",
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect()
}

/// After a session: every held position has exactly one working stop at the gateway, sized to
/// what working market sells leave, GTC, on the cent grid; no stop without a position; the
/// ledger holds what the gateway holds; cash reconciles.
fn check_venue(home: &Path, gw: &Gateway, day: &str) {
    let held = gw.positions();
    let open = gw.open_orders();
    for (sym, qty) in &held {
        let selling: Decimal = open
            .iter()
            .filter(|o| {
                o["symbol"] == *sym && o["side"] == "sell" && o["order_type"]["type"] == "market"
            })
            .map(|o| dec(&o["qty"]) - dec(&o["filled_qty"]))
            .sum();
        let stops: Vec<&Value> = open
            .iter()
            .filter(|o| o["symbol"] == *sym && o["order_type"]["type"] == "stop")
            .collect();
        let want = *qty - selling;
        if want.is_zero() {
            assert!(
                stops.is_empty(),
                "{day} {sym}: sold whole, yet stops {stops:?}"
            );
            continue;
        }
        assert_eq!(stops.len(), 1, "{day} {sym}: exactly one stop: {stops:?}");
        assert_eq!(
            dec(&stops[0]["qty"]),
            want,
            "{day} {sym}: the stop covers the position"
        );
        assert_eq!(stops[0]["tif"], "gtc", "{day} {sym}");
        let p = dec(&stops[0]["order_type"]["stop"]);
        assert!(
            p.normalize().scale() <= 2,
            "{day} {sym}: stop {p} on the cent grid"
        );
    }
    for o in open.iter().filter(|o| o["order_type"]["type"] == "stop") {
        assert!(
            held.contains_key(o["symbol"].as_str().unwrap()),
            "{day}: a stop without a position: {o}"
        );
    }
    let ledger: BTreeMap<String, Decimal> = query(
        &home.join("ledger.sqlite"),
        &format!("SELECT symbol, qty FROM positions WHERE strategy = '{BOOK}'"),
    )
    .into_iter()
    .map(|r| (r[0].clone(), r[1].parse::<Decimal>().unwrap()))
    .filter(|(_, q)| !q.is_zero())
    .collect();
    assert_eq!(ledger, held, "{day}: ledger = gateway");
    let recon: Value = serde_json::from_str(&read(
        &home.join(format!("runs/{BOOK}/{day}/reconciliation_{day}.json")),
    ))
    .unwrap();
    assert_eq!(
        recon["invariant"]["one_stop_per_position"], true,
        "{day}: {recon}"
    );
    let cash = &recon["cash"];
    assert!(
        cash["status"] == "match" || cash["status"] == "anchored",
        "{day}: {cash}"
    );
}

fn unique_refs(gw: &Gateway, day: &str) {
    let refs = gw.order_refs();
    let mut unique = refs.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        refs.len(),
        "{day}: an orderRef twice: {refs:?}"
    );
}

#[test]
fn test_twenty_ib_sessions_equal_the_backtest_keep_every_position_protected_and_rerun_clean() {
    let dir = tempfile::tempdir().unwrap();
    let days = sessions("2024-06-03", 20);
    let gw = start(&dir.path().join("gw.sqlite"), &days[0], &[]);
    let home = dir.path().join("home");
    let bt = dir.path().join("bt");
    let r = common::run(&[
        "backtest",
        "--config",
        s(&config()),
        "--data",
        s(&data()),
        "--start",
        "2024-05-31",
        "--end",
        days.last().unwrap(),
        "--out",
        s(&bt),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let history = read(&bt.join("targets.csv"));
    for day in &days {
        gw.venue.clock(day);
        let r = run(&home, &gw, day, &[]);
        assert_eq!(r.code, 0, "{day}: {}", r.text);
        check_venue(&home, &gw, day);
        assert_eq!(
            day_decisions(&read(
                &home.join(format!("runs/{BOOK}/{day}/targets_{day}.csv"))
            )),
            decisions(&history, day),
            "{day}: targets"
        );
        // A forced rerun of the finished day sends nothing and books nothing twice.
        let (orders, fills) = (gw.all_orders().len(), ledger_fill_ids(&home));
        let again = run(&home, &gw, day, &["--force-run"]);
        assert_eq!(again.code, 0, "{day} rerun: {}", again.text);
        assert_eq!(
            gw.all_orders().len(),
            orders,
            "{day}: the rerun sent orders"
        );
        assert_eq!(
            ledger_fill_ids(&home),
            fills,
            "{day}: the rerun booked fills"
        );
        // After the open: the entries filled at it get their stops in their own session.
        gw.venue.clock_open(day);
        let p = protect(&home, &gw);
        assert_eq!(p.code, 0, "{day} protect: {}", p.text);
        check_venue(&home, &gw, day);
        let orders = gw.all_orders().len();
        let again = protect(&home, &gw);
        assert!(
            again.text.contains(", 0 stops placed"),
            "{day}: {}",
            again.text
        );
        assert_eq!(gw.all_orders().len(), orders, "{day}: protect twice");
        unique_refs(&gw, day);
    }
    // Every execution the gateway made is in the ledger exactly once, under IB's exec id.
    let mut at_gw: Vec<String> = gw
        .fills()
        .iter()
        .map(|f| format!("0000e215.{}.01.01", f["fill_id"].as_str().unwrap()))
        .collect();
    at_gw.sort();
    assert_eq!(ledger_fill_ids(&home), at_gw);
    assert!(at_gw.len() >= 10, "the book traded: {} fills", at_gw.len());
    // The backtest's stop exits of the first session are the gateway's.
    let bt_stops: Vec<String> = read(&bt.join("fills.csv"))
        .lines()
        .filter(|l| l.ends_with(",stop") && l.contains(&format!(",{},", days[0])))
        .map(|l| l.split(',').nth(2).unwrap().to_string())
        .collect();
    assert!(
        !bt_stops.is_empty(),
        "the backtest stops out on its first day"
    );
    for sym in &bt_stops {
        assert!(
            gw.fills().iter().any(|f| f["symbol"] == sym.as_str()
                && f["side"] == "sell"
                && f["date"] == days[0].as_str()),
            "{sym}: stopped out on {} at the gateway too",
            days[0]
        );
    }
    // `reconcile --broker ib` reads the gateway: clean, nothing sent.
    let before = gw.all_orders().len();
    let mut c = systrade(&home, &gw, &["reconcile"]);
    c.args(["--broker", "ib", "--json"]);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = report["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["status"] == "match"), "{report}");
    assert_eq!(gw.all_orders().len(), before);
}

#[test]
fn test_fifty_sigkills_against_ib_duplicate_nothing_lose_nothing_and_leave_no_position_unprotected()
{
    let dir = tempfile::tempdir().unwrap();
    let days = sessions("2024-07-01", 25);
    let reference = start(&dir.path().join("ref.sqlite"), &days[0], &[]);
    let gw = start(&dir.path().join("gw.sqlite"), &days[0], &[]);
    let (ref_home, home) = (dir.path().join("ref"), dir.path().join("home"));
    let mut rng = Rng(0x5eed_1b1b_ca00_0023);
    let mut killed = 0;
    for day in &days {
        reference.venue.clock(day);
        gw.venue.clock(day);
        let t0 = std::time::Instant::now();
        let r = run(&ref_home, &reference, day, &[]);
        assert_eq!(r.code, 0, "{day} reference: {}", r.text);
        let span = t0.elapsed().as_millis() as u64;
        for _ in 0..3 {
            let mut child = run_cmd(&home, &gw, day, &[]).spawn().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(rng.below(span + 1)));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                killed += 1;
            }
            let _ = child.wait();
        }
        let r = run(&home, &gw, day, &[]);
        assert_eq!(r.code, 0, "{day}: the rerun after the kills: {}", r.text);
        check_venue(&home, &gw, day);
        unique_refs(&gw, day);
        let entries = |g: &Gateway| {
            g.all_orders()
                .iter()
                .filter(|o| o["order_type"]["type"] == "market")
                .count()
        };
        assert_eq!(entries(&gw), entries(&reference), "{day}: market orders");
        assert_eq!(gw.positions(), reference.positions(), "{day}: positions");
        assert_eq!(gw.state()["cash"], reference.state()["cash"], "{day}: cash");
        assert_eq!(
            ledger_fill_ids(&home).len(),
            gw.fills().len(),
            "{day}: fills"
        );
    }
    assert!(killed >= 50, "at least 50 runs really killed ({killed})");
}

#[test]
fn test_dropped_connections_are_survived_before_and_after_the_gateway_acted() {
    let dir = tempfile::tempdir().unwrap();
    let days = sessions("2024-06-03", 4);
    let gw = start(&dir.path().join("gw.sqlite"), &days[0], &[]);
    let home = dir.path().join("home");
    // Day 1: the gateway takes the first order and the connection drops before its answer;
    // then the connection drops before an open-orders request is served.
    gw.venue.clock(&days[0]);
    gw.venue.faults(&["place_order:lost", "open_orders:503"]);
    let r = run(&home, &gw, &days[0], &[]);
    assert_eq!(r.code, 0, "{}", r.text);
    unique_refs(&gw, &days[0]);
    assert!(!gw.all_orders().is_empty());
    let placed = gw.all_orders().len();
    // Day 2: the entries filled at the open; executions are lost twice (once after TWS
    // sent nothing, once after it acted): the client reconnects and asks again; every fill
    // is booked once, and stops go out.
    gw.venue.clock(&days[1]);
    gw.venue.faults(&["executions:503", "executions:lost"]);
    let r = run(&home, &gw, &days[1], &[]);
    assert_eq!(r.code, 0, "{}", r.text);
    check_venue(&home, &gw, &days[1]);
    assert_eq!(ledger_fill_ids(&home).len(), gw.fills().len());
    assert!(gw.fills().len() >= placed.min(1));
    // Day 3: every order the run sends is dropped before the gateway acts: the run fails
    // loudly and every held position keeps its one stop.
    gw.venue.clock(&days[2]);
    gw.venue.faults(&["place_order:503"; 60]);
    gw.venue.faults(&["cancel_order:503"; 60]);
    let r = run(&home, &gw, &days[2], &[]);
    assert_ne!(r.code, 0, "{}", r.text);
    for (sym, _) in gw.positions() {
        let stops = gw
            .open_orders()
            .iter()
            .filter(|o| o["symbol"] == sym.as_str() && o["order_type"]["type"] == "stop")
            .count();
        assert_eq!(stops, 1, "{sym} keeps one stop through the outage");
    }
    // The gateway is back: the rerun finishes the day.
    gw.venue.clear_faults();
    let r = run(&home, &gw, &days[2], &[]);
    assert_eq!(r.code, 0, "{}", r.text);
    check_venue(&home, &gw, &days[2]);
    unique_refs(&gw, &days[2]);
}

/// An order placed at the gateway by someone else (TWS's window: no orderRef), through the
/// same protocol as the adapter.
fn foreign_order(port: &str) {
    use ibapi::client::Client;
    use ibapi::contracts::Contract;
    use ibapi::orders::{Action, Order, TimeInForce};
    let client = Client::connect(&format!("127.0.0.1:{port}"), 0).unwrap();
    let id = client.next_order_id();
    let order = Order {
        action: Action::Buy,
        total_quantity: 1.0,
        order_type: "LMT".into(),
        limit_price: Some(100.0),
        tif: TimeInForce::GoodTillCanceled,
        transmit: true,
        ..Order::default()
    };
    let sub = client
        .place_order(id, &Contract::stock("SPY").build(), &order)
        .unwrap();
    let first = sub.next_timeout(std::time::Duration::from_secs(10));
    assert!(matches!(first, Some(Ok(_))), "{first:?}");
}

#[test]
fn test_a_client_id_in_use_another_session_a_live_account_and_a_foreign_order_stop_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let day = sessions("2024-06-03", 1).remove(0);
    let gw = start(&dir.path().join("gw.sqlite"), &day, &[]);
    let home = dir.path().join("home");
    // No gateway on the port: a clear failure naming what to check.
    let mut c = run_cmd(&home, &gw, &day, &[]);
    c.env("SYSTRADE_IB_PORT", "1");
    let r = finish(c);
    assert_ne!(r.code, 0);
    assert!(r.text.contains("SYSTRADE_IB_PORT"), "{}", r.text);
    // A malformed port: bad input, exit 2.
    let mut c = run_cmd(&home, &gw, &day, &[]);
    c.env("SYSTRADE_IB_PORT", "seventy");
    let r = finish(c);
    assert_eq!(r.code, 2, "{}", r.text);
    // Another program holds client id 7: exit 2 naming the variable.
    let holder = ibapi::client::Client::connect(&format!("127.0.0.1:{}", gw.port), 7).unwrap();
    let r = run(&home, &gw, &day, &[]);
    assert_eq!(r.code, 2, "{}", r.text);
    assert!(r.text.contains("SYSTRADE_IB_CLIENT_ID"), "{}", r.text);
    drop(holder);
    // A run for another session than the gateway's clock is refused.
    let r = run(&home, &gw, "2024-06-10", &[]);
    assert_eq!(r.code, 2, "{}", r.text);
    assert!(r.text.contains("clock is at session"), "{}", r.text);
    assert!(gw.all_orders().is_empty(), "nothing sent");
    // A foreign order working in the account fails the run loudly, naming it.
    foreign_order(&gw.port);
    let r = run(&home, &gw, &day, &[]);
    assert_ne!(r.code, 0, "{}", r.text);
    assert!(r.text.contains("ib-perm-"), "{}", r.text);
    assert_eq!(gw.all_orders().len(), 1, "nothing sent beside it");

    // A live account (not DU…): refused without --live and the confirmation.
    let live = start(&dir.path().join("live.sqlite"), &day, &["--live"]);
    let home = dir.path().join("live-home");
    let r = run(&home, &live, &day, &[]);
    assert_eq!(r.code, 2, "{}", r.text);
    assert!(
        r.text.contains("SYSTRADE_LIVE_CONFIRM=U7654321"),
        "{}",
        r.text
    );
    assert!(live.all_orders().is_empty(), "nothing sent");
    let mut c = run_cmd(&home, &live, &day, &["--live"]);
    c.env("SYSTRADE_LIVE_CONFIRM", "U7654321");
    let r = finish(c);
    assert_eq!(r.code, 0, "{}", r.text);
    assert!(!live.all_orders().is_empty(), "confirmed: orders went out");
}
