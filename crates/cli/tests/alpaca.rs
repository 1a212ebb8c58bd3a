//! `systrade run --broker alpaca` against the local Alpaca (`systrade fake-venue alpaca`):
//! consecutive sessions with the venue's clock advanced between them, the failure modes of
//! real venues, and real SIGKILLs.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::daily::{ENV, query};
use common::venue::{Auth, Rng, Venue, day_decisions, decisions, walk};
use common::{read, s};
use rust_decimal::Decimal;
use serde_json::{Value, json};

const KEY: &str = "PKLOCALTESTKEY01";
const SECRET: &str = "local-secret-9f3a1c77e2";

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/us_etf_daily_yahoo")
}

fn config() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs/trend_us_alpaca.toml")
}

/// A local Alpaca in its own process with the test's key pair.
fn start(state: &Path, session: &str, extra: &[&str]) -> Venue {
    let auth: Auth = Box::new(|_, _| {
        vec![
            ("APCA-API-KEY-ID".to_string(), KEY.to_string()),
            ("APCA-API-SECRET-KEY".to_string(), SECRET.to_string()),
        ]
    });
    Venue::start(
        "alpaca",
        &data(),
        state,
        session,
        extra,
        &[("APCA_API_KEY_ID", KEY), ("APCA_API_SECRET_KEY", SECRET)],
        auth,
    )
}

trait Alpaca {
    fn all_orders(&self) -> Vec<Value>;
    fn open_orders(&self) -> Vec<Value>;
    fn fills(&self) -> Vec<Value>;
    fn positions(&self) -> BTreeMap<String, Decimal>;
}

impl Alpaca for Venue {
    fn all_orders(&self) -> Vec<Value> {
        self.get("/v2/orders?status=all&limit=500&direction=asc")
            .as_array()
            .unwrap()
            .clone()
    }

    fn open_orders(&self) -> Vec<Value> {
        self.get("/v2/orders?status=open&limit=500")
            .as_array()
            .unwrap()
            .clone()
    }

    fn fills(&self) -> Vec<Value> {
        self.get("/v2/account/activities/FILL?direction=asc&page_size=100")
            .as_array()
            .unwrap()
            .clone()
    }

    /// Symbol → units held.
    fn positions(&self) -> BTreeMap<String, Decimal> {
        self.get("/v2/positions")
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["symbol"].as_str().unwrap().to_string(),
                    p["qty"].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect()
    }
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

/// The sessions of the data from `start` on (the venue's calendar).
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

fn run_cmd(home: &Path, venue: &Venue, day: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("systrade"));
    for k in ENV {
        c.env_remove(k);
    }
    c.arg("--home")
        .arg(home)
        .args(["run", "--config", s(&config()), "--data", s(&data())])
        .args(["--broker", "alpaca", "--as-of", day])
        .args(extra)
        .env("APCA_API_KEY_ID", KEY)
        .env("APCA_API_SECRET_KEY", SECRET)
        .env("APCA_API_BASE_URL", &venue.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

struct Out {
    code: i32,
    text: String,
}

fn run(home: &Path, venue: &Venue, day: &str, extra: &[&str]) -> Out {
    finish(run_cmd(home, venue, day, extra))
}

/// Runs `c` to its end: its exit code and what it printed.
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

/// `systrade protect` of the book at the venue.
fn protect(home: &Path, venue: &Venue) -> Out {
    let o = Command::new(assert_cmd::cargo::cargo_bin("systrade"))
        .arg("--home")
        .arg(home)
        .args(["protect", "--config", s(&config()), "--data", s(&data())])
        .env("APCA_API_KEY_ID", KEY)
        .env("APCA_API_SECRET_KEY", SECRET)
        .env("APCA_API_BASE_URL", &venue.url)
        .output()
        .unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    }
}

/// After a session: every held position has exactly one working stop at the venue, sized
/// to what working sells leave (none when a sell takes it all), no stop without a position,
/// every stop price on the venue's grid, and the ledger holds what the venue holds.
fn check_venue(home: &Path, venue: &Venue, day: &str) {
    let held = venue.positions();
    let open = venue.open_orders();
    for (sym, qty) in &held {
        let selling: Decimal = open
            .iter()
            .filter(|o| o["symbol"] == *sym && o["side"] == "sell" && o["type"] == "market")
            .map(|o| dec(&o["qty"]) - dec(&o["filled_qty"]))
            .sum();
        let stops: Vec<&Value> = open
            .iter()
            .filter(|o| o["symbol"] == *sym && o["type"] == "stop")
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
        assert_eq!(stops[0]["time_in_force"], "gtc", "{day} {sym}");
        let p = dec(&stops[0]["stop_price"]);
        assert!(
            p.scale() <= 2,
            "{day} {sym}: stop {p} is on the venue's grid"
        );
    }
    for o in open.iter().filter(|o| o["type"] == "stop") {
        assert!(
            held.contains_key(o["symbol"].as_str().unwrap()),
            "{day}: a stop without a position: {o}"
        );
    }
    let ledger: BTreeMap<String, Decimal> = query(
        &home.join("ledger.sqlite"),
        "SELECT symbol, qty FROM positions WHERE strategy = 'trend_us_alpaca'",
    )
    .into_iter()
    .map(|r| (r[0].clone(), r[1].parse::<Decimal>().unwrap()))
    .filter(|(_, q)| !q.is_zero())
    .collect();
    assert_eq!(ledger, held, "{day}: ledger = venue");
    let recon: Value = serde_json::from_str(&read(&home.join(format!(
        "runs/trend_us_alpaca/{day}/reconciliation_{day}.json"
    ))))
    .unwrap();
    assert_eq!(
        recon["invariant"]["one_stop_per_position"], true,
        "{day}: {recon}"
    );
    // The venue's cash moved by exactly what the booked fills (price, size, fees) say.
    let cash = &recon["cash"];
    assert!(
        cash["status"] == "match" || cash["status"] == "anchored",
        "{day}: {cash}"
    );
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

#[test]
fn test_twenty_alpaca_sessions_equal_the_backtest_keep_every_position_protected_and_rerun_clean() {
    let dir = tempfile::tempdir().unwrap();
    let days = sessions("2024-06-03", 20);
    // The test's own inspection calls must not spend the runs' request budget.
    // The test's own inspection calls must not spend the runs' request budget.
    let venue = start(
        &dir.path().join("venue.sqlite"),
        &days[0],
        &["--rate-limit", "100000"],
    );
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
    let mut traded = 0;
    for day in &days {
        venue.clock(day);
        let r = run(&home, &venue, day, &[]);
        assert_eq!(r.code, 0, "{day}: {}", r.text);
        check_venue(&home, &venue, day);
        // The decision (symbol, sleeve, signal, weight) is the backtest's. Sizes drift by
        // design: Alpaca charges no commission where the backtest charges the config's 5
        // bps, and its stops sit on the cent grid (a sell stop rounded up, in the owner's
        // favour), so a bar that only touches the level stops the live book out first.
        assert_eq!(
            day_decisions(&read(
                &home.join(format!("runs/trend_us_alpaca/{day}/targets_{day}.csv"))
            )),
            decisions(&history, day),
            "{day}: targets"
        );
        // A rerun of the finished day (forced) sends nothing new and books nothing twice.
        let (orders, fills) = (venue.all_orders().len(), ledger_fill_ids(&home));
        let again = run(&home, &venue, day, &["--force-run"]);
        assert_eq!(again.code, 0, "{day} rerun: {}", again.text);
        assert_eq!(
            venue.all_orders().len(),
            orders,
            "{day}: the rerun sent orders"
        );
        assert_eq!(
            ledger_fill_ids(&home),
            fills,
            "{day}: the rerun booked fills"
        );
        check_venue(&home, &venue, day);
        // After the open: the entries filled at it get their stops in their own session.
        venue.clock_open(day);
        let p = protect(&home, &venue);
        assert_eq!(p.code, 0, "{day} protect: {}", p.text);
        check_venue(&home, &venue, day);
        let orders = venue.all_orders().len();
        let again = protect(&home, &venue);
        assert!(
            again.text.contains(", 0 stops placed"),
            "{day}: {}",
            again.text
        );
        assert_eq!(venue.all_orders().len(), orders, "{day}: protect twice");
        traded = venue.fills().len();
    }
    // Every fill the venue made is in the ledger exactly once.
    let venue_fills: Vec<String> = venue
        .fills()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = venue_fills.clone();
    sorted.sort();
    assert_eq!(ledger_fill_ids(&home), sorted);
    assert!(traded >= 10, "the book traded: {traded} fills");
    // The entries protected after the open are stopped out in their own session, as the
    // backtest stops them out: the backtest's stop exits of the first session are the
    // venue's.
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
            venue.fills().iter().any(|f| f["symbol"] == sym.as_str()
                && f["side"] == "sell"
                && f["transaction_time"]
                    .as_str()
                    .unwrap()
                    .starts_with(&days[0])),
            "{sym}: stopped out on {} at the venue too",
            days[0]
        );
    }
    // `reconcile --broker alpaca` reads the venue at its clock: clean, nothing sent.
    let before = venue.all_orders().len();
    let o = Command::new(assert_cmd::cargo::cargo_bin("systrade"))
        .arg("--home")
        .arg(&home)
        .args(["reconcile", "--config", s(&config()), "--data", s(&data())])
        .args(["--broker", "alpaca", "--json"])
        .env("APCA_API_KEY_ID", KEY)
        .env("APCA_API_SECRET_KEY", SECRET)
        .env("APCA_API_BASE_URL", &venue.url)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["as_of"], days.last().unwrap().as_str(), "{report}");
    let rows = report["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["status"] == "match"), "{report}");
    assert_eq!(venue.all_orders().len(), before);
}

#[test]
fn test_fifty_sigkills_against_alpaca_duplicate_nothing_lose_nothing_and_leave_no_position_unprotected()
 {
    let dir = tempfile::tempdir().unwrap();
    let days = sessions("2024-07-01", 25);
    let fast = ["--rate-limit", "100000"];
    let reference = start(&dir.path().join("ref.sqlite"), &days[0], &fast);
    let venue = start(&dir.path().join("venue.sqlite"), &days[0], &fast);
    let (ref_home, home) = (dir.path().join("ref"), dir.path().join("home"));
    let mut rng = Rng(0x5eed_a1a0_ca00_0018);
    let mut killed = 0;
    for day in &days {
        reference.clock(day);
        venue.clock(day);
        let t0 = std::time::Instant::now();
        let r = run(&ref_home, &reference, day, &[]);
        assert_eq!(r.code, 0, "{day} reference: {}", r.text);
        let span = t0.elapsed().as_millis() as u64;
        // Real SIGKILLs at random instants of a run as long as the reference's (three
        // tries a day: a run may finish before its instant comes).
        for _ in 0..3 {
            let mut child = run_cmd(&home, &venue, day, &[]).spawn().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(rng.below(span + 1)));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                killed += 1;
            }
            let _ = child.wait();
        }
        let r = run(&home, &venue, day, &[]);
        assert_eq!(r.code, 0, "{day}: the rerun after the kills: {}", r.text);
        check_venue(&home, &venue, day);
        // Nothing duplicated: every client order id once, the reference's positions.
        let ids: Vec<String> = venue
            .all_orders()
            .iter()
            .map(|o| o["client_order_id"].as_str().unwrap().to_string())
            .collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "{day}: a client order id twice");
        let entries = |v: &Venue| {
            v.all_orders()
                .iter()
                .filter(|o| o["type"] == "market")
                .count()
        };
        assert_eq!(entries(&venue), entries(&reference), "{day}: market orders");
        assert_eq!(venue.positions(), reference.positions(), "{day}: positions");
        assert_eq!(
            venue.get("/v2/account")["cash"],
            reference.get("/v2/account")["cash"],
            "{day}: cash"
        );
        assert_eq!(
            ledger_fill_ids(&home).len(),
            venue.fills().len(),
            "{day}: fills"
        );
    }
    assert!(killed >= 50, "at least 50 runs really killed ({killed})");
}

#[test]
fn test_the_venues_failures_are_survived_lost_answers_429_a_replace_that_happened_anyway_and_5xx() {
    let dir = tempfile::tempdir().unwrap();
    let days = sessions("2024-06-03", 4);
    let venue = start(&dir.path().join("venue.sqlite"), &days[0], &[]);
    let home = dir.path().join("home");
    // Day 1: the answer to the first order is lost (the venue took it), then a 429.
    venue.clock(&days[0]);
    venue.faults(&["submit:lost", "any:429"]);
    let r = run(&home, &venue, &days[0], &[]);
    assert_eq!(r.code, 0, "{}", r.text);
    let ids: Vec<String> = venue
        .all_orders()
        .iter()
        .map(|o| o["client_order_id"].as_str().unwrap().to_string())
        .collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(
        ids.len(),
        unique.len(),
        "the lost order was found, not re-sent"
    );
    assert!(!ids.is_empty());
    // Day 2: stops go out (the entries filled at the open).
    venue.clock(&days[1]);
    let r = run(&home, &venue, &days[1], &[]);
    assert_eq!(r.code, 0, "{}", r.text);
    check_venue(&home, &venue, &days[1]);
    // Day 3: the stops are at the exchange now (`new`): a PATCH that the venue carries out
    // but answers 422 is found by the replacement's id; no stop is doubled.
    venue.clock(&days[2]);
    assert!(venue.open_orders().iter().any(|o| o["status"] == "new"));
    venue.faults(&["replace:quirk"]);
    let r = run(&home, &venue, &days[2], &[]);
    assert_eq!(r.code, 0, "{}", r.text);
    check_venue(&home, &venue, &days[2]);
    assert!(
        venue.all_orders().iter().any(|o| o["status"] == "replaced"),
        "stops were replaced by PATCH"
    );
    // Day 4: the venue fails every order call with 503: the run fails loudly, and every
    // held position still has its stop.
    venue.clock(&days[3]);
    venue.faults(&["submit:503"; 40]);
    venue.faults(&["replace:503"; 40]);
    venue.faults(&["cancel:503"; 40]);
    let r = run(&home, &venue, &days[3], &[]);
    assert_ne!(r.code, 0, "{}", r.text);
    assert!(r.text.contains("503"), "{}", r.text);
    for (sym, _) in venue.positions() {
        let stops = venue
            .open_orders()
            .iter()
            .filter(|o| o["symbol"] == sym && o["type"] == "stop")
            .count();
        assert_eq!(stops, 1, "{sym} keeps one stop through the outage");
    }
    // The outage is over: the rerun finishes the day.
    venue.clear_faults();
    let r = run(&home, &venue, &days[3], &[]);
    assert_eq!(r.code, 0, "{}", r.text);
    check_venue(&home, &venue, &days[3]);
}

#[test]
fn test_bad_credentials_a_live_account_without_confirmation_and_a_foreign_order_stop_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let day = sessions("2024-06-03", 1).remove(0);
    let venue = start(&dir.path().join("venue.sqlite"), &day, &[]);
    let home = dir.path().join("home");
    // A wrong secret: 401, exit 2, the variables named, neither value printed.
    let o = run_cmd(&home, &venue, &day, &[])
        .env("APCA_API_SECRET_KEY", "wrong-secret-5d1e")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(text.contains("APCA_API_SECRET_KEY"), "{text}");
    assert!(
        !text.contains("wrong-secret-5d1e") && !text.contains(KEY),
        "{text}"
    );
    // A missing key: exit 2 naming it.
    let o = run_cmd(&home, &venue, &day, &[])
        .env_remove("APCA_API_KEY_ID")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("APCA_API_KEY_ID is not set"));
    // A run for another session than the venue's clock is refused.
    let r = run(&home, &venue, "2024-06-10", &[]);
    assert_eq!(r.code, 2, "{}", r.text);
    assert!(r.text.contains("clock is at session"), "{}", r.text);
    // A foreign order working in the account fails the run loudly, naming it.
    let (code, body) = venue.post(
        "/v2/orders",
        &json!({"symbol": "SPY", "qty": "1", "side": "buy", "type": "limit",
                "limit_price": "100", "time_in_force": "gtc", "client_order_id": "manual-1"}),
    );
    assert_eq!(code, 200, "{body}");
    let r = run(&home, &venue, &day, &[]);
    assert_ne!(r.code, 0);
    assert!(r.text.contains("manual-1"), "{}", r.text);
    // Nothing was sent by these runs.
    assert_eq!(venue.all_orders().len(), 1);

    // A live account: refused without --live and the confirmation, nothing sent.
    let live = start(&dir.path().join("live.sqlite"), &day, &["--live"]);
    let home = dir.path().join("live-home");
    let r = run(&home, &live, &day, &[]);
    assert_eq!(r.code, 2, "{}", r.text);
    assert!(r.text.contains("SYSTRADE_LIVE_CONFIRM"), "{}", r.text);
    assert!(live.all_orders().is_empty(), "nothing sent");
    let id = live.get("/v2/account")["id"].as_str().unwrap().to_string();
    let o = run_cmd(&home, &live, &day, &["--live"])
        .env("SYSTRADE_LIVE_CONFIRM", &id)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!live.all_orders().is_empty(), "confirmed: orders went out");
    // The secrets are in no file under the home, nor in any output above.
    for entry in walk(&home)
        .into_iter()
        .chain(walk(&dir.path().join("home")))
    {
        let bytes = std::fs::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(SECRET) && !text.contains(KEY),
            "{}: holds a credential",
            entry.display()
        );
    }
    assert!(venue.calls() > 0);
}

#[test]
fn test_crypto_at_alpaca_trades_pairs_with_a_slash_and_protects_them_with_stop_limits() {
    let dir = tempfile::tempdir().unwrap();
    let crypto = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/crypto_binance_spot/1d");
    let cfg = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs/trend_crypto.toml");
    let auth: Auth = Box::new(|_, _| {
        vec![
            ("APCA-API-KEY-ID".to_string(), KEY.to_string()),
            ("APCA-API-SECRET-KEY".to_string(), SECRET.to_string()),
        ]
    });
    let venue = Venue::start(
        "alpaca",
        &crypto,
        &dir.path().join("venue.sqlite"),
        "2022-03-24",
        &["--adjust", "none", "--rate-limit", "100000"],
        &[("APCA_API_KEY_ID", KEY), ("APCA_API_SECRET_KEY", SECRET)],
        auth,
    );
    let home = dir.path().join("home");
    for day in ["2022-03-24", "2022-03-25", "2022-03-26", "2022-03-27"] {
        venue.clock(day);
        let o = Command::new(assert_cmd::cargo::cargo_bin("systrade"))
            .arg("--home")
            .arg(&home)
            .args(["run", "--config", s(&cfg), "--data", s(&crypto)])
            .args(["--broker", "alpaca", "--as-of", day])
            .env("APCA_API_KEY_ID", KEY)
            .env("APCA_API_SECRET_KEY", SECRET)
            .env("APCA_API_BASE_URL", &venue.url)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{day}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let held = venue.positions();
        let open = venue.open_orders();
        for sym in held.keys() {
            let pair = format!("{}/USDT", sym.trim_end_matches("USDT"));
            let stops: Vec<&Value> = open
                .iter()
                .filter(|o| o["symbol"] == pair.as_str() && o["type"] == "stop_limit")
                .collect();
            assert_eq!(stops.len(), 1, "{day} {pair}: one stop-limit: {open:?}");
            assert_eq!(stops[0]["time_in_force"], "gtc");
            assert!(dec(&stops[0]["limit_price"]) < dec(&stops[0]["stop_price"]));
        }
    }
    assert!(!venue.positions().is_empty(), "the book bought pairs");
    assert!(
        venue
            .all_orders()
            .iter()
            .all(|o| o["symbol"].as_str().unwrap().contains('/')),
        "crypto orders name their pair with a slash"
    );
}

#[test]
fn test_approved_sheet_orders_go_to_alpaca_once_and_a_live_account_needs_its_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let now = ("SYSTRADE_NOW", "2020-01-02T13:00:00Z");
    let signals = dir.path().join("signals.csv");
    std::fs::write(
        &signals,
        "date,symbol,signal\n2019-12-31,XLK,0.9\n2019-12-31,XLV,0.6\n2019-12-31,XLU,0.4\n",
    )
    .unwrap();
    let sheet = dir.path().join("sheet.csv");
    let cfg = dir.path().join("book.toml");
    std::fs::write(
        &cfg,
        format!(
            "strategy = \"sheet\"\n[data]\nsource = {:?}\n[run]\nname = \"my-signals\"\nbroker = \"alpaca\"\naccount = \"alpaca-sheet\"\nretry_base_ms = 1\n",
            data().display().to_string()
        ),
    )
    .unwrap();
    let sys = |args: &[&str], url: &str, extra: &[(&str, &str)]| {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("systrade"));
        for k in ENV {
            c.env_remove(k);
        }
        c.arg("--home").arg(&home).args(args).env(now.0, now.1);
        c.env("APCA_API_KEY_ID", KEY)
            .env("APCA_API_SECRET_KEY", SECRET)
            .env("APCA_API_BASE_URL", url);
        for (k, v) in extra {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        (
            o.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        )
    };
    let paper = start(&dir.path().join("paper.sqlite"), "2020-01-02", &[]);
    let (code, text) = sys(
        &[
            "sheet",
            "--signals",
            s(&signals),
            "--capital",
            "10000",
            "--method",
            "inverse-vol",
            "--data",
            s(&data()),
            "--out",
            s(&sheet),
        ],
        &paper.url,
        &[],
    );
    assert_eq!(code, 0, "{text}");
    let (code, text) = sys(
        &["orders", "stage", "--config", s(&cfg), "--sheet", s(&sheet)],
        &paper.url,
        &[],
    );
    assert_eq!(code, 0, "{text}");
    // A live account: approving is refused before anything reaches it.
    let live = start(&dir.path().join("live.sqlite"), "2020-01-02", &["--live"]);
    let (code, text) = sys(
        &[
            "approve",
            "--config",
            s(&cfg),
            "--all",
            "--broker",
            "alpaca",
        ],
        &live.url,
        &[],
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("SYSTRADE_LIVE_CONFIRM"), "{text}");
    assert!(
        live.all_orders().is_empty(),
        "nothing reached the live account"
    );
    // The paper account at Alpaca: the three orders go out, with the sheet book's ids.
    let (code, text) = sys(
        &[
            "approve",
            "--config",
            s(&cfg),
            "--all",
            "--broker",
            "alpaca",
        ],
        &paper.url,
        &[],
    );
    assert_eq!(code, 0, "{text}");
    let sent = paper.all_orders();
    assert_eq!(sent.len(), 3, "{sent:?}");
    // Each as a day limit order at the sheet's limit price.
    let limits: BTreeMap<String, Decimal> = read(&sheet)
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[1].to_string(), c[3].parse().unwrap())
        })
        .collect();
    for o in &sent {
        assert_eq!(o["status"], "accepted", "{o}");
        assert_eq!(o["type"], "limit", "{o}");
        assert_eq!(o["time_in_force"], "day", "{o}");
        assert_eq!(
            dec(&o["limit_price"]),
            limits[o["symbol"].as_str().unwrap()],
            "{o}"
        );
    }
    // Approving again sends nothing more.
    let (code, _) = sys(
        &[
            "approve",
            "--config",
            s(&cfg),
            "--all",
            "--broker",
            "alpaca",
        ],
        &paper.url,
        &[],
    );
    assert_eq!(code, 0);
    assert_eq!(paper.all_orders().len(), 3);
    // A working order is canceled at the venue.
    let id = sent[0]["client_order_id"].as_str().unwrap().to_string();
    let (code, text) = sys(
        &[
            "orders",
            "cancel",
            "--config",
            s(&cfg),
            "--broker",
            "alpaca",
            &id,
        ],
        &paper.url,
        &[],
    );
    assert_eq!(code, 0, "{text}");
    let after = paper.all_orders();
    let canceled = after
        .iter()
        .find(|o| o["client_order_id"] == id.as_str())
        .unwrap();
    assert_eq!(canceled["status"], "canceled", "{canceled}");
}

/// `systrade run` of `cfg` at the venue with no `--data`: the config's own source, which
/// its `[data] refresh` keeps; the venue serves trading and market data on one port unless
/// `data_url` says otherwise.
fn run_refreshing(
    home: &Path,
    cfg: &Path,
    venue: &Venue,
    day: &str,
    data_url: &str,
    extra: &[&str],
) -> Out {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("systrade"));
    for k in ENV {
        c.env_remove(k);
    }
    c.arg("--home")
        .arg(home)
        .args([
            "run",
            "--config",
            s(cfg),
            "--broker",
            "alpaca",
            "--as-of",
            day,
        ])
        .args(extra)
        .env("APCA_API_KEY_ID", KEY)
        .env("APCA_API_SECRET_KEY", SECRET)
        .env("APCA_API_BASE_URL", &venue.url)
        .env("APCA_API_DATA_URL", data_url);
    finish(c)
}

#[test]
fn test_twenty_sessions_refresh_their_own_data_from_the_venue_and_decide_as_the_backtest() {
    let dir = tempfile::tempdir().unwrap();
    let days = sessions("2024-06-03", 21);
    let venue = start(
        &dir.path().join("venue.sqlite"),
        &days[0],
        &["--rate-limit", "100000"],
    );
    // The book's data is a market database nobody touches by hand: empty at first, then
    // brought through each decision bar by the run itself.
    let text = read(&config()).replace(
        "source = \"../../shared/data/us_etf_daily_yahoo\"",
        "source = \"market.db\"\nrefresh = \"alpaca\"",
    );
    assert!(text.contains("refresh = \"alpaca\""));
    let cfg = dir.path().join("trend_us_alpaca.toml");
    std::fs::write(&cfg, text).unwrap();
    let db = dir.path().join("market.db");
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
        &days[19],
        "--out",
        s(&bt),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let history = read(&bt.join("targets.csv"));
    for (i, day) in days[..20].iter().enumerate() {
        venue.clock(day);
        let r = run_refreshing(&home, &cfg, &venue, day, &venue.url, &[]);
        assert_eq!(r.code, 0, "{day}: {}", r.text);
        assert!(
            r.text.contains("data refresh from alpaca into --db"),
            "{day}: {}",
            r.text
        );
        let want = if i == 0 { "12 new" } else { "12 updated" };
        assert!(r.text.contains(want), "{day}: {}", r.text);
        // The decision bar is in the database now, and nothing after it.
        let last = query(&db, "SELECT MAX(date) FROM prices WHERE ticker = 'SPY'");
        let prev = if i == 0 {
            "2024-05-31".to_string()
        } else {
            days[i - 1].clone()
        };
        assert_eq!(last, vec![vec![prev]], "{day}");
        assert_eq!(
            day_decisions(&read(
                &home.join(format!("runs/trend_us_alpaca/{day}/targets_{day}.csv"))
            )),
            decisions(&history, day),
            "{day}: targets"
        );
        venue.clock_open(day);
        let p = protect(&home, &venue);
        assert_eq!(p.code, 0, "{day} protect: {}", p.text);
    }
    // The 21st session with the data vendor down: the refresh fails loudly, every symbol
    // lacks its decision bar, no new risk is taken, stops stay, and the run exits 3.
    let day = &days[20];
    venue.clock(day);
    let orders = venue.all_orders().len();
    let r = run_refreshing(
        &home,
        &cfg,
        &venue,
        day,
        "http://127.0.0.1:9",
        &["--no-refresh"],
    );
    assert_eq!(r.code, 3, "{}", r.text);
    assert!(r.text.contains("stale data: trend_us_alpaca"), "{}", r.text);
    assert!(
        r.text.contains(&format!(
            "SPY has no decision bar (its last bar is {})",
            days[18]
        )),
        "{}",
        r.text
    );
    assert!(
        r.text
            .contains("ran with stale data: every symbol of trend_us_alpaca"),
        "{}",
        r.text
    );
    let summary: Value = serde_json::from_str(&read(&home.join(format!(
        "runs/trend_us_alpaca/{day}/daily_summary_{day}.json"
    ))))
    .unwrap();
    assert_eq!(
        summary["no_data"].as_array().unwrap().len(),
        12,
        "{summary}"
    );
    let new_buys = venue.all_orders()[orders..]
        .iter()
        .filter(|o| o["side"] == "buy")
        .count();
    assert_eq!(new_buys, 0, "a stale day takes no new risk");
    check_venue(&home, &venue, day);
    let r = run_refreshing(
        &home,
        &cfg,
        &venue,
        day,
        "http://127.0.0.1:9",
        &["--force-run"],
    );
    assert_eq!(r.code, 3, "{}", r.text);
    assert!(r.text.contains("data refresh failed"), "{}", r.text);
}

#[test]
fn test_a_sheet_book_rebalances_twenty_alpaca_sessions_to_its_daily_signals() {
    const NAMES: [&str; 8] = ["XLE", "XLF", "XLI", "XLK", "XLP", "XLU", "XLV", "XLY"];
    let dir = tempfile::tempdir().unwrap();
    let days = sessions("2019-12-02", 20);
    let signals = common::daily_signals(&NAMES, "2019-11-01", "2020-01-31");
    std::fs::write(dir.path().join("signals.csv"), &signals).unwrap();
    let cfg = dir.path().join("book.toml");
    std::fs::write(
        &cfg,
        format!(
            "strategy = \"sheet\"\n[data]\nsource = {:?}\n[run]\nname = \"my-signals\"\nbroker = \"alpaca\"\naccount = \"alpaca-sheet\"\nretry_base_ms = 1\n\
             [execution]\nlevel = \"auto\"\n[signals]\nfile = \"signals.csv\"\nmethod = \"equal\"\nmax_positions = 4\ndrift = 0.1\norders = \"market\"\n",
            data().display().to_string()
        ),
    )
    .unwrap();
    let venue = start(
        &dir.path().join("venue.sqlite"),
        &days[0],
        &["--rate-limit", "100000"],
    );
    let home = dir.path().join("home");
    let run_day = |day: &str, extra: &[&str]| {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("systrade"));
        for k in ENV {
            c.env_remove(k);
        }
        c.arg("--home")
            .arg(&home)
            .args(["run", "--config", s(&cfg), "--as-of", day])
            .args(extra)
            .env("APCA_API_KEY_ID", KEY)
            .env("APCA_API_SECRET_KEY", SECRET)
            .env("APCA_API_BASE_URL", &venue.url)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        finish(c)
    };
    for day in &days {
        venue.clock(day);
        let r = run_day(day, &[]);
        assert_eq!(r.code, 0, "{day}: {}", r.text);
        let summary: Value = serde_json::from_str(&read(
            &home.join(format!("runs/my-signals/{day}/daily_summary_{day}.json")),
        ))
        .unwrap();
        assert_eq!(summary["targets"]["signals"], "fresh", "{day}");
        assert!(
            summary["reconciliation"]["mismatches"]
                .as_array()
                .unwrap()
                .is_empty(),
            "{day}: {summary}"
        );
        // The day's orders fill at its open: the account then holds the top of the signals
        // of the session before.
        venue.clock_open(day);
        let decided = summary["decided_on_bars_through"].as_str().unwrap();
        let held: std::collections::BTreeSet<String> = venue.positions().keys().cloned().collect();
        assert_eq!(held, common::top_signals(&signals, decided, 4), "{day}");
        // A forced rerun of the day sends nothing new.
        let n = venue.all_orders().len();
        let again = run_day(day, &["--force-run"]);
        assert_eq!(again.code, 0, "{day} rerun: {}", again.text);
        assert_eq!(venue.all_orders().len(), n, "{day}: the rerun sent orders");
    }
    let ledger_qty: BTreeMap<String, Decimal> = query(
        &home.join("ledger.sqlite"),
        "SELECT symbol, qty FROM positions WHERE strategy = 'my-signals' AND qty != '0'",
    )
    .into_iter()
    .map(|r| (r[0].clone(), r[1].parse().unwrap()))
    .collect();
    assert_eq!(ledger_qty, venue.positions(), "the ledger is the venue");
}
