//! `systrade run --broker coinbase` against the local Coinbase (`systrade fake-venue
//! coinbase`): consecutive sessions, protection as stop-limits, every run live (confirmed),
//! a JWT the venue refuses, and real SIGKILLs.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::daily::{ENV, query};
use common::venue::{Auth, Rng, Venue, day_decisions, decisions, walk};
use common::{read, s};
use rust_decimal::Decimal;
use serde_json::Value;
use systrade_coinbase::jwt::Signer;

const KEY_NAME: &str = "organizations/local-test/apiKeys/systrade-1";
/// A SEC1 test key as OpenSSL writes it, with its newlines escaped as `\n` the way it sits
/// in an environment file: never used anywhere but here.
const KEY: &str = "-----BEGIN EC PRIVATE KEY-----\\nMHcCAQEEICKZmLlqLuUSIT+yJsKREG91jIVup27owVuX1uOw4XjCoAoGCCqGSM49\\nAwEHoUQDQgAEFmRFRfkvmtApUMVCQ5xMNmbh0CRWygMFJAMKe4rwG8yU++3al4sw\\n2Z2hFaAzkioPVni3I1ifTNiAoxSP29rTDQ==\\n-----END EC PRIVATE KEY-----\\n";
const PORTFOLIO: &str = "9a3b5c7d-0000-4000-8000-00000000c0b5";

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/crypto_binance_spot/1d")
}

fn config() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs/trend_crypto_coinbase.toml")
}

fn start(state: &Path, session: &str, extra: &[&str]) -> Venue {
    let signer = Signer::new(KEY_NAME, KEY).unwrap();
    let host = std::rc::Rc::new(std::cell::RefCell::new(String::new()));
    let h = host.clone();
    let auth: Auth = Box::new(move |method, path| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let token = signer
            .token(method, &format!("{}{path}", h.borrow()), now)
            .unwrap();
        vec![("Authorization".to_string(), format!("Bearer {token}"))]
    });
    let v = Venue::start(
        "coinbase",
        &data(),
        state,
        session,
        extra,
        &[("COINBASE_API_KEY", KEY_NAME), ("COINBASE_API_SECRET", KEY)],
        auth,
    );
    *host.borrow_mut() = v.authority();
    assert!(v.banner.contains(PORTFOLIO), "{}", v.banner);
    v
}

trait Coinbase {
    fn orders(&self, status: Option<&str>) -> Vec<Value>;
    fn fills(&self) -> Vec<Value>;
    fn holdings(&self) -> BTreeMap<String, Decimal>;
}

impl Coinbase for Venue {
    fn orders(&self, status: Option<&str>) -> Vec<Value> {
        let q = status.map_or(String::new(), |s| format!("&order_status={s}"));
        self.get(&format!(
            "/api/v3/brokerage/orders/historical/batch?limit=1000{q}"
        ))["orders"]
            .as_array()
            .unwrap()
            .clone()
    }

    fn fills(&self) -> Vec<Value> {
        self.get("/api/v3/brokerage/orders/historical/fills?limit=1000")["fills"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// `BTCUSDT` → units held (available + hold).
    fn holdings(&self) -> BTreeMap<String, Decimal> {
        self.get("/api/v3/brokerage/accounts?limit=250")["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["currency"] != "USDT")
            .map(|a| {
                let n = |k: &str| a[k]["value"].as_str().unwrap().parse::<Decimal>().unwrap();
                (
                    format!("{}USDT", a["currency"].as_str().unwrap()),
                    n("available_balance") + n("hold"),
                )
            })
            .filter(|(_, q)| !q.is_zero())
            .collect()
    }
}

fn run_cmd(home: &Path, venue: &Venue, day: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("systrade"));
    for k in ENV {
        c.env_remove(k);
    }
    c.arg("--home")
        .arg(home)
        .args(["run", "--config", s(&config()), "--data", s(&data())])
        .args(["--broker", "coinbase", "--as-of", day])
        .args(extra)
        .env("COINBASE_API_KEY", KEY_NAME)
        .env("COINBASE_API_SECRET", KEY)
        .env("SYSTRADE_COINBASE_BASE_URL", &venue.url)
        .env_remove("SYSTRADE_COINBASE_PORTFOLIO")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// A confirmed live run.
fn live(home: &Path, venue: &Venue, day: &str, extra: &[&str]) -> Command {
    let mut c = run_cmd(home, venue, day, &[&["--live"], extra].concat());
    c.env("SYSTRADE_LIVE_CONFIRM", PORTFOLIO);
    c
}

fn outcome(mut c: Command) -> (i32, String) {
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

/// After a session: one working stop-limit per holding, on all of it, its limit below its
/// stop, on the product's grid; no stop without a holding; the ledger holds what the venue
/// holds; the run's own reconciliation is clean.
fn check_venue(home: &Path, venue: &Venue, day: &str) {
    let held = venue.holdings();
    let open = venue.orders(Some("OPEN"));
    for (sym, qty) in &held {
        let product = format!("{}-USDT", sym.trim_end_matches("USDT"));
        let stops: Vec<&Value> = open
            .iter()
            .filter(|o| o["product_id"] == product.as_str() && o["order_type"] == "STOP_LIMIT")
            .collect();
        assert_eq!(stops.len(), 1, "{day} {sym}: exactly one stop: {stops:?}");
        let c = &stops[0]["order_configuration"]["stop_limit_stop_limit_gtc"];
        assert_eq!(
            dec(&c["base_size"]),
            *qty,
            "{day} {sym}: the stop covers the holding"
        );
        assert_eq!(c["stop_direction"], "STOP_DIRECTION_STOP_DOWN");
        let (stop, limit) = (dec(&c["stop_price"]), dec(&c["limit_price"]));
        assert!(limit < stop, "{day} {sym}: limit {limit} below stop {stop}");
    }
    for o in open.iter().filter(|o| o["order_type"] == "STOP_LIMIT") {
        let p = o["product_id"].as_str().unwrap().replace('-', "");
        assert!(
            held.contains_key(&p),
            "{day}: a stop without a holding: {o}"
        );
    }
    let ledger: BTreeMap<String, Decimal> = query(
        &home.join("ledger.sqlite"),
        "SELECT symbol, qty FROM positions WHERE strategy = 'trend_crypto_coinbase'",
    )
    .into_iter()
    .map(|r| (r[0].clone(), r[1].parse::<Decimal>().unwrap()))
    .filter(|(_, q)| !q.is_zero())
    .collect();
    assert_eq!(ledger, held, "{day}: ledger = venue");
    let recon: Value = serde_json::from_str(&read(&home.join(format!(
        "runs/trend_crypto_coinbase/{day}/reconciliation_{day}.json"
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

fn ledger_fills(home: &Path) -> usize {
    query(&home.join("ledger.sqlite"), "SELECT fill_id FROM fills").len()
}

fn days(start: &str, n: usize) -> Vec<String> {
    let d0: chrono::NaiveDate = start.parse().unwrap();
    (0..n)
        .map(|i| (d0 + chrono::Duration::days(i as i64)).to_string())
        .collect()
}

#[test]
fn test_twenty_coinbase_sessions_equal_the_backtest_keep_every_holding_under_one_stop_limit() {
    let dir = tempfile::tempdir().unwrap();
    let days = days("2022-03-24", 20);
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
        "2022-03-23",
        "--end",
        days.last().unwrap(),
        "--out",
        s(&bt),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let history = read(&bt.join("targets.csv"));
    for day in &days {
        venue.clock(day);
        let (code, text) = outcome(live(&home, &venue, day, &[]));
        assert_eq!(code, 0, "{day}: {text}");
        check_venue(&home, &venue, day);
        assert_eq!(
            day_decisions(&read(&home.join(format!(
                "runs/trend_crypto_coinbase/{day}/targets_{day}.csv"
            )))),
            decisions(&history, day),
            "{day}: the backtest's decision"
        );
        let (orders, fills) = (venue.orders(None).len(), ledger_fills(&home));
        let (code, text) = outcome(live(&home, &venue, day, &["--force-run"]));
        assert_eq!(code, 0, "{day} rerun: {text}");
        assert_eq!(
            venue.orders(None).len(),
            orders,
            "{day}: the rerun sent orders"
        );
        assert_eq!(ledger_fills(&home), fills, "{day}: the rerun booked fills");
    }
    assert_eq!(ledger_fills(&home), venue.fills().len(), "every fill once");
    assert!(venue.fills().len() >= 4, "the book traded");
}

#[test]
fn test_coinbase_kills_a_refused_jwt_and_an_unconfirmed_live_run() {
    let dir = tempfile::tempdir().unwrap();
    let days = days("2022-03-24", 8);
    let fast = ["--rate-limit", "100000"];
    let reference = start(&dir.path().join("ref.sqlite"), &days[0], &fast);
    let venue = start(&dir.path().join("venue.sqlite"), &days[0], &fast);
    let (ref_home, home) = (dir.path().join("ref"), dir.path().join("home"));

    // Not confirmed: exit 2 before anything is sent.
    let (code, text) = outcome(run_cmd(&home, &venue, &days[0], &[]));
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("SYSTRADE_LIVE_CONFIRM"), "{text}");
    assert!(venue.orders(None).is_empty());
    // Signed with another key: the venue answers 401; exit 2 naming the variables, no key
    // material in the output.
    let other = systrade_coinbase::jwt::generate_pkcs8_pem().unwrap();
    let mut c = live(&home, &venue, &days[0], &[]);
    c.env("COINBASE_API_SECRET", &other);
    let (code, text) = outcome(c);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("COINBASE_API_KEY"), "{text}");
    assert!(
        !text.contains("PRIVATE KEY") && !text.contains("MHcCAQEE"),
        "{text}"
    );

    let mut rng = Rng(0x5eed_c0b5_0000_0018);
    let mut killed = 0;
    for day in &days {
        reference.clock(day);
        venue.clock(day);
        if day == &days[1] {
            // A dry run sends nothing and asks the venue's preview of each order (with the
            // confirmation, or a live account's entries are blocked as in the real run).
            let before = venue.orders(None).len();
            let (code, text) = outcome(live(&home, &venue, day, &["--dry-run"]));
            assert_eq!(code, 0, "{text}");
            assert_eq!(venue.orders(None).len(), before, "a dry run sent orders");
            let submits = read(&home.join(format!(
                "runs/trend_crypto_coinbase/{day}/dry-run/logs/order_submit.jsonl"
            )));
            assert!(submits.contains("\"preview\""), "{submits}");
        }
        let t0 = std::time::Instant::now();
        let (code, text) = outcome(live(&ref_home, &reference, day, &[]));
        assert_eq!(code, 0, "{day} reference: {text}");
        let span = t0.elapsed().as_millis() as u64;
        for _ in 0..3 {
            let mut child = live(&home, &venue, day, &[]).spawn().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(rng.below(span + 1)));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                killed += 1;
            }
            let _ = child.wait();
        }
        let (code, text) = outcome(live(&home, &venue, day, &[]));
        assert_eq!(code, 0, "{day}: the rerun after the kills: {text}");
        check_venue(&home, &venue, day);
        let ids: Vec<String> = venue
            .orders(None)
            .iter()
            .map(|o| o["client_order_id"].as_str().unwrap().to_string())
            .collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "{day}: a client order id twice");
        assert_eq!(venue.holdings(), reference.holdings(), "{day}: holdings");
        assert_eq!(ledger_fills(&home), venue.fills().len(), "{day}: fills");
    }
    assert!(killed >= 12, "runs really killed ({killed})");
    // The key is in no file under the home.
    for f in walk(&home) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(!text.contains("MHcCAQEE"), "{}: holds the key", f.display());
    }
}
