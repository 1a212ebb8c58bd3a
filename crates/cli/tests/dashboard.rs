//! `systrade serve` over HTTP (issue 22, first part): every page of a home that ran a
//! portfolio of buckets for three sessions, the security rules (loopback, the token, read-only,
//! CSRF), and the kill switch set from the page.

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::daily::*;
use common::{committed, s};
use systrade_testkit::shared;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// A dashboard child process; killed when dropped.
struct Dash {
    child: Child,
    url: String,
}

impl Drop for Dash {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(home: &Path, extra: &[&str], env: &[(&str, &str)]) -> Dash {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("systrade"));
    c.env_remove("SYSTRADE_DASHBOARD_TOKEN")
        .env_remove("SYSTRADE_KILL_SWITCH")
        .arg("--home")
        .arg(home)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let mut banner = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {banner:?}"))
        .to_string();
    Dash { child, url }
}

fn get(url: &str) -> (u16, String, Vec<(String, String)>) {
    let mut r = agent().get(url).call().unwrap();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    (
        r.status().as_u16(),
        r.body_mut().read_to_string().unwrap(),
        headers,
    )
}

/// A home where the shipped buckets A and B ran three sessions as a portfolio.
fn home(dir: &Path) -> Option<PathBuf> {
    let data = shared("data")?;
    let a = dir.join("bucket_a.toml");
    let b = dir.join("bucket_b.toml");
    for (p, name) in [(&a, "bucket_a.toml"), (&b, "bucket_b.toml")] {
        let text =
            committed(name).replace("\"../../shared/data/", &format!("\"{}/", data.display()));
        std::fs::write(p, format!("{text}\n[run]\nretry_base_ms = 1\n")).unwrap();
    }
    let pf = dir.join("portfolio.toml");
    std::fs::write(
        &pf,
        format!(
            "strategy = \"portfolio\"\ncapital = 1000000.0\n\
             [[buckets]]\nname = \"A\"\nconfig = \"{}\"\ncapital = 0.6\naccount = \"pa\"\n\
             [[buckets]]\nname = \"B\"\nconfig = \"{}\"\ncapital = 0.3\naccount = \"pb\"\n",
            s(&a),
            s(&b)
        ),
    )
    .unwrap();
    let home = dir.join("home");
    for d in ["2021-03-31", "2021-04-01", "2021-04-05"] {
        let r = sys(&home, &["run", "--config", s(&pf), "--as-of", d], &[]);
        assert_eq!(r.code, 0, "{d}: {}{}", r.stdout, r.stderr);
    }
    Some(home)
}

#[test]
fn test_every_page_shows_the_home_and_actions_follow_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let Some(home) = home(dir.path()) else {
        return;
    };
    let d = serve(&home, &[], &[]);
    let (code, page, headers) = get(&format!("{}/", d.url));
    assert_eq!(code, 200, "{page}");
    for want in [
        "<h2>A <small>daily run, account pa",
        "<h2>B <small>",
        "<svg class=\"curve\"",
        "Kill switch: off",
        "read-only dashboard",
    ] {
        assert!(page.contains(want), "{want}\n{page}");
    }
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-security-policy" && v.contains("default-src 'self'"))
    );
    // Positions: what the paper accounts hold, each with its stop (B) or none (A).
    let held_a = positions_in(&home.join("paper/pa.sqlite"));
    let (code, page, _) = get(&format!("{}/positions", d.url));
    assert_eq!(code, 200);
    for sym in held_a.keys() {
        assert!(page.contains(&format!("<td>{sym}</td>")), "{sym}\n{page}");
    }
    let (code, page, _) = get(&format!("{}/orders", d.url));
    assert_eq!(code, 200);
    assert!(
        page.contains("<td>2021-04-05</td>") && page.contains("filled"),
        "{page}"
    );
    let (code, page, _) = get(&format!("{}/runs", d.url));
    assert_eq!(code, 200);
    assert_eq!(
        page.matches("<tr><td>2021-").count(),
        6,
        "two books × three days\n{page}"
    );
    let (code, v1, _) = get(&format!("{}/changes", d.url));
    assert_eq!(code, 200);
    assert!(!v1.is_empty());
    assert_eq!(get(&format!("{}/static/style.css", d.url)).0, 200);
    // The newsletter of the latest day, as the email shows it: a section per bucket.
    let (code, page, _) = get(&format!("{}/newsletter", d.url));
    assert_eq!(code, 200, "{page}");
    for want in [
        "systrade 2021-04-05:",
        "monthly rotation",
        "trend following",
    ] {
        assert!(page.contains(want), "{want}\n{page}");
    }
    assert_eq!(get(&format!("{}/static/live.js", d.url)).0, 200);
    // Read-only: the kill switch cannot be set, and nothing is written.
    let r = agent()
        .post(&format!("{}/kill-switch", d.url))
        .content_type("application/x-www-form-urlencoded")
        .send("csrf=whatever")
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(!home.join("KILL").exists());
    drop(d);

    // With --allow-actions: a POST needs the page's CSRF token.
    let d = serve(&home, &["--allow-actions"], &[]);
    let (_, page, _) = get(&format!("{}/", d.url));
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .unwrap()
        .to_string();
    let post = |body: &str| {
        agent()
            .post(&format!("{}/kill-switch", d.url))
            .content_type("application/x-www-form-urlencoded")
            .send(body)
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(post("csrf=forged"), 403);
    assert_eq!(post(""), 403);
    assert!(!home.join("KILL").exists());
    assert_eq!(post(&format!("csrf={csrf}")), 303);
    assert!(home.join("KILL").exists());
    let (_, page, _) = get(&format!("{}/runs", d.url));
    assert!(page.contains("KILL SWITCH SET"), "{page}");
    let (_, v2, _) = get(&format!("{}/changes", d.url));
    assert_ne!(v1, v2, "the page hears that the home changed");
}

#[test]
fn test_off_loopback_needs_a_token_and_the_token_is_asked_of_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    // No token: refused before listening, exit 2.
    let r = sys(&home, &["serve", "--bind", "0.0.0.0:0"], &[]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("SYSTRADE_DASHBOARD_TOKEN"),
        "{}",
        r.stderr
    );
    let token = "tok-0123456789abcdef-secret";
    let d = serve(&home, &[], &[("SYSTRADE_DASHBOARD_TOKEN", token)]);
    let (code, body, _) = get(&format!("{}/", d.url));
    assert_eq!(code, 401);
    assert!(!body.contains(token));
    let (code, body, _) = get(&format!("{}/?token=wrong-token-value-xyz", d.url));
    assert_eq!(code, 401);
    assert!(
        !body.contains("wrong-token-value-xyz"),
        "a refusal echoes nothing"
    );
    let r = agent()
        .get(&format!("{}/orders", d.url))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (code, body, headers) = get(&format!("{}/?token={token}", d.url));
    assert_eq!(code, 200);
    assert!(body.contains("No book in this home yet"), "{body}");
    // No ledger: the newsletter page says what to do.
    let r = agent()
        .get(&format!("{}/newsletter", d.url))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert!(!body.contains(token), "the page never shows the token");
    let cookie = headers
        .iter()
        .find(|(k, _)| k == "set-cookie")
        .map(|x| x.1.clone())
        .unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let r = agent()
        .get(&format!("{}/runs", d.url))
        .header("Cookie", cookie.split(';').next().unwrap())
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

const NOW: (&str, &str) = ("SYSTRADE_NOW", "2020-01-10T21:00:00Z");

/// The staged orders' ids on the orders page, by symbol (their Approve buttons).
fn buttons(page: &str) -> Vec<String> {
    page.split("id=\"approve-")
        .skip(1)
        .filter_map(|x| x.split('"').next())
        .map(str::to_string)
        .collect()
}

fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .unwrap()
        .to_string()
}

fn status_of(home: &Path, id: &str) -> String {
    query(
        &ledger(home),
        &format!("SELECT status FROM orders WHERE client_order_id = '{id}'"),
    )[0][0]
        .clone()
}

#[test]
fn test_staged_orders_are_approved_and_canceled_from_the_page_under_the_cli_rules() {
    let Some(data) = shared("data/us_etf_daily_yahoo") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let cfg = dir.path().join("book.toml");
    std::fs::write(
        &cfg,
        format!(
            "strategy = \"sheet\"\n[data]\nsource = {:?}\n[run]\nname = \"my-signals\"\npaper_cash = 10000\nretry_base_ms = 1\n[costs]\nfee_bps = 1\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    let sheet = dir.path().join("sheet.csv");
    let stage = |text: &str| {
        std::fs::write(&sheet, text).unwrap();
        let r = sys(
            &home,
            &["orders", "stage", "--config", s(&cfg), "--sheet", s(&sheet)],
            &[NOW],
        );
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    };
    stage(
        "action,symbol,shares,last_close,as_of\nBUY,XLK,10,91.67,2019-12-31\nBUY,XLV,5,101.87,2019-12-31\n",
    );
    // Without the book's config the page shows no buttons and refuses the action.
    let d = serve(&home, &["--allow-actions"], &[NOW]);
    let (_, page, _) = get(&format!("{}/orders", d.url));
    assert!(buttons(&page).is_empty(), "{page}");
    let id_any = query(&ledger(&home), "SELECT client_order_id FROM orders LIMIT 1")[0][0].clone();
    let r = agent()
        .post(&format!("{}/orders/approve", d.url))
        .content_type("application/x-www-form-urlencoded")
        .send(&format!("csrf={}&id={id_any}", csrf_of(&page)))
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    drop(d);

    let d = serve(&home, &["--allow-actions", "--config", s(&cfg)], &[NOW]);
    let (_, page, _) = get(&format!("{}/orders", d.url));
    let ids = buttons(&page);
    assert_eq!(ids.len(), 2, "{page}");
    let csrf = csrf_of(&page);
    let post = |path: &str, body: String| {
        let mut r = agent()
            .post(&format!("{}{path}", d.url))
            .content_type("application/x-www-form-urlencoded")
            .send(&body)
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    let sym_of = |id: &str| {
        query(
            &ledger(&home),
            &format!("SELECT symbol FROM orders WHERE client_order_id = '{id}'"),
        )[0][0]
            .clone()
    };
    let xlk = ids.iter().find(|i| sym_of(i) == "XLK").unwrap().clone();
    let xlv = ids.iter().find(|i| sym_of(i) == "XLV").unwrap().clone();
    // A forged token changes nothing.
    assert_eq!(
        post("/orders/approve", format!("csrf=nope&id={xlk}")).0,
        403
    );
    assert_eq!(status_of(&home, &xlk), "staged");
    // Approve: the order reaches the paper broker (filled at the open) — once.
    assert_eq!(
        post("/orders/approve", format!("csrf={csrf}&id={xlk}")).0,
        303
    );
    assert_eq!(status_of(&home, &xlk), "filled");
    assert_eq!(
        positions_in(&paper(&home)).get("XLK").map(String::as_str),
        Some("10")
    );
    let (code, body) = post("/orders/approve", format!("csrf={csrf}&id={xlk}"));
    assert_eq!(code, 400, "{body}");
    // Cancel: the staged order never reaches the broker.
    assert_eq!(
        post("/orders/cancel", format!("csrf={csrf}&id={xlv}")).0,
        303
    );
    assert_eq!(status_of(&home, &xlv), "canceled");
    assert!(!positions_in(&paper(&home)).contains_key("XLV"));
    // An order a newer sheet superseded (expired) is refused, in words.
    stage("action,symbol,shares,last_close,as_of\nBUY,XLU,7,63.95,2019-12-31\n");
    let (_, page, _) = get(&format!("{}/orders", d.url));
    let xlu = buttons(&page)
        .into_iter()
        .find(|i| sym_of(i) == "XLU")
        .unwrap();
    stage("action,symbol,shares,last_close,as_of\nBUY,XLP,3,62.00,2019-12-31\n");
    assert_eq!(status_of(&home, &xlu), "expired");
    let (code, body) = post("/orders/approve", format!("csrf={csrf}&id={xlu}"));
    assert_eq!(code, 400, "{body}");
    assert!(body.contains(&xlu) || body.contains("approval"), "{body}");
    assert_eq!(status_of(&home, &xlu), "expired");
}
