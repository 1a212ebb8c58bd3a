//! `systrade serve` over HTTP (issue 22, first part): every page of a home that ran a
//! portfolio of buckets for three sessions, the security rules (loopback, the token, read-only,
//! CSRF), and the kill switch set from the page.

mod common;

use std::path::{Path, PathBuf};

use common::daily::*;
use common::dash::*;
use common::{committed, s};
use systrade_testkit::shared;

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
        "<th>net exposure</th>",
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
        page.matches("<tr><td><a href=\"/runs/").count(),
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

fn post_form(url: &str, body: &str) -> (u16, String) {
    let mut r = agent()
        .post(url)
        .content_type("application/x-www-form-urlencoded")
        .send(body)
        .unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

/// A home where the crypto trend book ran 2022-04-01..03, and a folder with one backtest and
/// one sweep of it.
fn crypto_desk(dir: &Path, data: &Path) -> (PathBuf, PathBuf) {
    let text = committed("trend_crypto.toml").replace(
        "source = \"../../shared/data/crypto_binance_spot/1d\"",
        &format!("source = {:?}", data.display().to_string()),
    );
    let cfg = dir.join("trend_crypto.toml");
    std::fs::write(&cfg, format!("{text}\n[run]\nretry_base_ms = 1\n")).unwrap();
    let home = dir.join("home");
    for d in ["2022-04-01", "2022-04-02", "2022-04-03"] {
        let r = sys(&home, &["run", "--config", s(&cfg), "--as-of", d], &[]);
        assert_eq!(r.code, 0, "{d}: {}{}", r.stdout, r.stderr);
    }
    let bts = dir.join("bts");
    let common = [
        "--config",
        s(&cfg),
        "--start",
        "2021-01-01",
        "--end",
        "2021-12-31",
    ];
    let bt = bts.join("bt1");
    let r = sys(
        &home,
        &[&["backtest"][..], &common, &["--out", s(&bt)]].concat(),
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let sw = bts.join("sw1");
    let grid = "signal.donchian_window=20..60:20,sizing.target_vol=0.15..0.25:0.1";
    let r = sys(
        &home,
        &[
            "sweep",
            "--config",
            s(&cfg),
            "--grid",
            grid,
            "--out",
            s(&sw),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    (home, bts)
}

#[test]
fn test_runs_backtests_and_manual_trades_pages_follow_the_rules() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (home, bts) = crypto_desk(dir.path(), &data);
    let now = ("SYSTRADE_NOW", "2022-04-04T12:00:00Z");
    let args = [
        "--allow-actions",
        "--data",
        s(&data),
        "--benchmark",
        "BTCUSDT",
        "--backtests",
        s(&bts),
    ];
    let d = serve(&home, &args, &[now]);
    let at = |p: &str| format!("{}{p}", d.url);

    // A run's page: the 14 steps, its decisions and reconciliation.
    let (code, page, _) = get(&at("/runs/trend_crypto/2022-04-03"));
    assert_eq!(code, 200, "{page}");
    assert_eq!(
        page.matches("<tr><td class=\"n\">").count()
            + page.matches("<tr class=\"warn\"><td class=\"n\">").count(),
        14,
        "{page}"
    );
    for want in [
        "pull data",
        "portfolio decisions",
        "reconcile",
        "Broker and ledger agree",
    ] {
        assert!(page.contains(want), "{want}\n{page}");
    }
    assert_eq!(get(&at("/runs/trend_crypto/2030-01-01")).0, 404);
    assert_eq!(get(&at("/runs/..%2F..%2Fetc/2022-04-03")).0, 404);
    assert_eq!(get(&at("/runs/trend_crypto/yesterday")).0, 404);
    let (_, runs, _) = get(&at("/runs"));
    assert!(
        runs.contains("href=\"/runs/trend_crypto/2022-04-03\""),
        "{runs}"
    );

    // The overview draws each curve against the benchmark from --data.
    let (_, page, _) = get(&at("/"));
    assert!(
        page.contains("class=\"bench\"") && page.contains("against BTCUSDT"),
        "{page}"
    );

    // Backtests: the run's metrics from its summary, its tear sheet sandboxed; the sweep's
    // sensitivity table and heat map; nothing else is served.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bts.join("bt1/summary.json")).unwrap())
            .unwrap();
    let equity = systrade_report::format::money(summary["final_equity"].as_f64().unwrap());
    let (code, page, _) = get(&at("/backtests"));
    assert_eq!(code, 200, "{page}");
    assert!(
        page.contains(&format!("<td class=\"n\">{equity}</td>")),
        "{equity}\n{page}"
    );
    assert!(
        page.contains("/backtests/file?d=0&amp;r=bt1&amp;f=report.html"),
        "{page}"
    );
    assert!(page.contains("/backtests/sweep?d=0&amp;r=sw1"), "{page}");
    let (code, sheet, headers) = get(&at("/backtests/file?d=0&r=bt1&f=report.html"));
    assert_eq!(code, 200);
    assert!(sheet.contains("<html"), "the tear sheet");
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-security-policy" && v.starts_with("sandbox")),
        "{headers:?}"
    );
    for bad in [
        "/backtests/file?d=0&r=bt1&f=summary.json",
        "/backtests/file?d=0&r=..&f=report.html",
        "/backtests/file?d=0&r=bt1%2F..%2F..&f=report.html",
        "/backtests/file?d=7&r=bt1&f=report.html",
        "/backtests/sweep?d=0&r=bt1",
    ] {
        assert_eq!(get(&at(bad)).0, 404, "{bad}");
    }
    let (code, page, _) = get(&at("/backtests/sweep?d=0&r=sw1"));
    assert_eq!(code, 200, "{page}");
    assert!(
        page.contains("<th>sharp_peak</th>") && page.contains("heatmap.svg"),
        "{page}"
    );
    assert_eq!(
        page.matches("<tr><td>").count() + page.matches("<tr class=\"warn\"><td>").count(),
        6,
        "3 × 2 points\n{page}"
    );
    assert_eq!(get(&at("/backtests/file?d=0&r=sw1&f=heatmap.svg")).0, 200);

    // Manual trades: the CLI's rules, a CSRF token, and the positions page marks them.
    let (_, page, _) = get(&at("/trades"));
    let csrf = csrf_of(&page);
    let add = |body: &str| post_form(&at("/trades/add"), body);
    assert_eq!(
        add("symbol=ETHUSDT&side=buy&qty=2&price=3000").0,
        403,
        "no token"
    );
    let (code, body) = add(&format!(
        "csrf={csrf}&symbol=ETHUSDT&side=buy&qty=abc&price=3000"
    ));
    assert_eq!(code, 400);
    assert!(
        body.contains("qty: &quot;abc&quot; is not a number"),
        "{body}"
    );
    let (code, body) = add(&format!(
        "csrf={csrf}&symbol=ETHUSDT&side=buy&qty=2&price=3000&date=2022-04-05"
    ));
    assert_eq!(code, 400);
    assert!(body.contains("in the future"), "{body}");
    let (code, body) = add(&format!(
        "csrf={csrf}&symbol=ETHUSDT&side=hold&qty=2&price=3000"
    ));
    assert_eq!(code, 400, "{body}");
    let (code, _) = add(&format!(
        "csrf={csrf}&symbol=ETHUSDT&side=buy&qty=2&price=3000&date=2022-04-01&stop=2800&fees=1.5&tags=swing%2C+eth&notes=breakout+%26+retest"
    ));
    assert_eq!(code, 303);
    let rows = query(
        &ledger(&home),
        "SELECT id, symbol, qty, stop, notes FROM manual_trades",
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        rows[0][1..],
        ["ETHUSDT", "2", "2800", "breakout & retest"].map(String::from)
    );
    let id = rows[0][0].clone();
    let (_, page, _) = get(&at("/positions"));
    let eth_close = systrade_report::format::price(close_of(&data, "ETHUSDT", "2022-04-04"));
    let row = page
        .split("<tr>")
        .find(|r| r.contains("<td>ETHUSDT</td>") && r.contains("<td>manual</td>"))
        .unwrap_or_else(|| panic!("{page}"));
    assert!(
        row.contains(&eth_close),
        "marked at the last close {eth_close}: {row}"
    );
    assert!(row.contains("<td class=\"n\">3</td>"), "held 3 days: {row}");

    let update = |body: &str| post_form(&at("/trades/update"), body);
    assert_eq!(
        update(&format!("csrf={csrf}&id={id}")).0,
        400,
        "nothing to change"
    );
    assert_eq!(update(&format!("csrf={csrf}&id={id}&stop=none")).0, 303);
    assert_eq!(
        query(&ledger(&home), "SELECT stop IS NULL FROM manual_trades")[0][0],
        "1"
    );
    let close = |body: &str| post_form(&at("/trades/close"), body);
    let (code, body) = close(&format!("csrf={csrf}&id={id}&qty=5&price=3100"));
    assert_eq!(code, 400, "more than is open: {body}");
    assert_eq!(
        close(&format!("csrf={csrf}&id={id}&qty=0.5&price=3100")).0,
        303
    );
    let (_, page, _) = get(&at("/trades"));
    assert!(
        page.contains("<td class=\"n\">1.5</td>"),
        "1.5 left open\n{page}"
    );
    assert_eq!(close(&format!("csrf={csrf}&id={id}&price=3200")).0, 303);
    let (_, page, _) = get(&at("/trades"));
    assert!(page.contains("No open manual trade."), "{page}");
    assert!(page.contains("0.5 @ 3,100.00 on 2022-04-04"), "{page}");
    drop(d);

    // Read-only: nothing is written.
    let d = serve(&home, &["--data", s(&data)], &[now]);
    let (code, _) = post_form(
        &format!("{}/trades/add", d.url),
        &format!("csrf={csrf}&symbol=ETHUSDT&side=buy&qty=2&price=3000"),
    );
    assert_eq!(code, 403);
    assert_eq!(
        query(&ledger(&home), "SELECT count(*) FROM manual_trades")[0][0],
        "1"
    );
    // A benchmark the data does not have: the page says so and still shows.
    drop(d);
    let d = serve(&home, &["--data", s(&data), "--benchmark", "NOPE"], &[now]);
    let (code, page, _) = get(&format!("{}/", d.url));
    assert_eq!(code, 200);
    assert!(
        page.contains("benchmark NOPE: no --data source has its prices"),
        "{page}"
    );
    // A --backtests folder that is not there: refused at start.
    let r = sys(
        &home,
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--backtests",
            "/no/such/dir",
        ],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--backtests /no/such/dir: not a folder"),
        "{}",
        r.stderr
    );
}

/// The close of `symbol` on `day` in a Binance daily folder.
fn close_of(data: &Path, symbol: &str, day: &str) -> f64 {
    let src = systrade_data::DataSource::open(data).unwrap();
    let s = src
        .daily(
            &systrade_core::Symbol::new(symbol).unwrap(),
            &Default::default(),
        )
        .unwrap();
    s.bars
        .iter()
        .rfind(|b| b.ts.to_string().as_str() <= day)
        .unwrap()
        .close
}
