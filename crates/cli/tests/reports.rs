//! What people read: the newsletter mailed through a real SMTP server, alerts posted to a
//! real local HTTP server (2xx, 4xx, 5xx, timeouts), the tear sheet and its charts (PNG
//! decoded, HTML opened in headless Chromium), all from the demo's home and data.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

mod common;

use common::daily::{copy_dir, sys};
use common::http::{Answer, serve};
use common::{read, run_in, s};

/// The demo, run once for this file's tests (its output is only read, or copied first).
fn demo() -> &'static Path {
    static DEMO: OnceLock<PathBuf> = OnceLock::new();
    DEMO.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let r = run_in(&["demo"], &dir);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let out = dir.join("systrade-demo");
        // It says where the newsletter preview and the tear sheet are.
        for p in ["systrade-demo/newsletter.html", "systrade-demo/report.html"] {
            assert!(r.stdout.contains(p), "{p}: {}", r.stdout);
        }
        out
    })
    .as_path()
}

/// The demo's last paper day.
const DAY: &str = "2020-12-15";

/// The orders of the demo's last day that are trades (not protective stops):
/// (side, qty, symbol).
fn day_trades(home: &Path) -> Vec<(String, String, String)> {
    let csv = read(&home.join(format!("runs/trend_demo/{DAY}/orders_{DAY}.csv")));
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| r[col("purpose")] != "stop")
        .map(|r| {
            (
                r[col("side")].to_uppercase(),
                r[col("qty")].to_string(),
                r[col("symbol")].to_string(),
            )
        })
        .collect()
}

/// (symbol, qty) of the positions after the demo's last day.
fn day_positions(home: &Path) -> Vec<(String, String)> {
    read(&home.join(format!("runs/trend_demo/{DAY}/snapshots/final.csv")))
        .lines()
        .skip(1)
        .map(|l| {
            let r: Vec<&str> = l.split(',').collect();
            (r[0].to_string(), r[1].to_string())
        })
        .collect()
}

#[test]
fn test_demo_writes_a_newsletter_preview_that_the_command_reproduces() {
    let out = demo();
    let home = out.join("home");
    let html = read(&out.join("newsletter.html"));
    let text = read(&out.join("newsletter.txt"));
    let trades = day_trades(&home);
    assert!(!trades.is_empty());
    for (side, qty, sym) in &trades {
        assert!(
            text.contains(&format!("{side} {qty} {sym} @")),
            "{side} {qty} {sym}: {text}"
        );
        assert!(html.contains(&format!(">{sym}</td>")), "{sym}");
    }
    for (sym, qty) in day_positions(&home) {
        assert!(
            text.contains(&format!("  {sym} {qty} @ avg")),
            "{sym}: {text}"
        );
    }
    // The command on the demo's home writes the same files.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("n.html");
    let r = sys(&home, &["newsletter", "--preview", s(&p)], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(read(&p), html);
    assert_eq!(read(&dir.path().join("n.txt")), text);
    assert!(
        r.stdout.starts_with(&format!("wrote {}", p.display())),
        "{}",
        r.stdout
    );

    // Bad requests: nothing to do, an unknown book, no ledger.
    let r = sys(&home, &["newsletter"], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--preview FILE, --send"), "{}", r.stderr);
    let r = sys(
        &home,
        &["newsletter", "--preview", s(&p), "--book", "nope"],
        &[],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--book nope") && r.stderr.contains("trend_demo"),
        "{}",
        r.stderr
    );
    let r = sys(dir.path(), &["newsletter", "--preview", s(&p)], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no ledger"), "{}", r.stderr);
    let r = sys(&home, &["newsletter", "--send"], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("SYSTRADE_SMTP_HOST"), "{}", r.stderr);
    let r = sys(
        &home,
        &["newsletter", "--send"],
        &[
            ("SYSTRADE_SMTP_HOST", "127.0.0.1"),
            ("SYSTRADE_SMTP_FROM", "desk@example.com"),
            ("SYSTRADE_SMTP_TO", "me@example.com"),
            ("SYSTRADE_SMTP_PORT", "smtp"),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("SYSTRADE_SMTP_PORT must be a port number"),
        "{}",
        r.stderr
    );
}

/// Python's aiosmtpd on a free port, writing what it receives to a JSON-lines file.
struct SmtpSink {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl SmtpSink {
    /// `None` (after one line saying why) when Python or aiosmtpd is missing and CI did not
    /// ask for it (`SYSTRADE_REQUIRE_SMTP=1`, set by .ci/run).
    fn start(dir: &Path) -> Option<SmtpSink> {
        let ok = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var_os("SYSTRADE_REQUIRE_SMTP").is_none(),
                "SYSTRADE_REQUIRE_SMTP is set but python3 -c 'import aiosmtpd' fails"
            );
            eprintln!("skipped: no python3 with aiosmtpd (pip install aiosmtpd)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = dir.join("mail.jsonl");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(&out)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        Some(SmtpSink { child, port, out })
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SYSTRADE_SMTP_HOST", "127.0.0.1".into()),
            ("SYSTRADE_SMTP_PORT", self.port.to_string()),
            ("SYSTRADE_SMTP_FROM", "systrade <desk@example.com>".into()),
            (
                "SYSTRADE_SMTP_TO",
                "me@example.com, partner@example.com".into(),
            ),
        ]
    }

    fn messages(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn envs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, x)| (*k, x.as_str())).collect()
}

/// The text and HTML parts of a received message, checked to be exactly those two.
fn parts(m: &Value) -> (String, String) {
    assert_eq!(m["content_type"], "multipart/alternative", "{m}");
    let p = m["parts"].as_array().unwrap();
    assert_eq!(p.len(), 2, "{m}");
    assert_eq!(p[0]["type"], "text/plain");
    assert_eq!(p[1]["type"], "text/html");
    // SMTP carries CRLF line ends; the files have LF.
    let lf = |v: &Value| v.as_str().unwrap().replace("\r\n", "\n");
    (lf(&p[0]["content"]), lf(&p[1]["content"]))
}

#[test]
fn test_newsletter_is_mailed_through_a_real_smtp_server() {
    let dir = tempfile::tempdir().unwrap();
    let Some(smtp) = SmtpSink::start(dir.path()) else {
        return;
    };
    let home = demo().join("home");
    let mut env = smtp.env();
    env.push(("SYSTRADE_NOW", "2020-12-16T07:30:00Z".into()));
    let r = sys(&home, &["newsletter", "--send"], &envs(&env));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    let subject = r.stdout.trim().strip_prefix("sent: ").unwrap();
    assert_eq!(m["subject"], subject);
    assert!(
        subject.starts_with(&format!("systrade {DAY}: ")),
        "{subject}"
    );
    assert_eq!(m["date"], "Wed, 16 Dec 2020 07:30:00 +0000");
    assert_eq!(m["mail_from"], "desk@example.com");
    assert_eq!(
        m["rcpt_tos"],
        serde_json::json!(["me@example.com", "partner@example.com"])
    );
    let (text, html) = parts(m);
    // The parts are the preview's, row for row.
    assert_eq!(text, read(&demo().join("newsletter.txt")));
    assert_eq!(html, read(&demo().join("newsletter.html")));
    for (side, qty, sym) in day_trades(&home) {
        assert!(text.contains(&format!("{side} {qty} {sym} @")), "{sym}");
        assert!(html.contains(&format!(">{sym}</td>")), "{sym}");
    }
    for (sym, qty) in day_positions(&home) {
        assert!(text.contains(&format!("  {sym} {qty} @ avg")), "{sym}");
    }

    // A server that is not there: a clear error, exit 1, and no password anywhere.
    let mut env = smtp.env();
    env.retain(|(k, _)| *k != "SYSTRADE_SMTP_PORT");
    env.push(("SYSTRADE_SMTP_PORT", "9".into()));
    env.push(("SYSTRADE_SMTP_USER", "desk".into()));
    env.push(("SYSTRADE_SMTP_PASSWORD", "pa55-secret".into()));
    let r = sys(&home, &["newsletter", "--send"], &envs(&env));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("127.0.0.1:9"), "{}", r.stderr);
    assert!(!r.stderr.contains("pa55-secret"));
}

/// The demo's trend config, copied beside its data with `[run]` settings for the alerts.
fn alert_config(dir: &Path, run: &str) -> PathBuf {
    let text = read(&demo().join("trend_demo.toml")).replace(
        "source = \"data\"",
        &format!("source = {:?}", demo().join("data").display().to_string()),
    );
    let p = dir.join("trend_demo.toml");
    std::fs::write(&p, format!("{text}\n[run]\nretry_base_ms = 1\n{run}\n")).unwrap();
    p
}

/// Every file under `dir`, as text (lossy).
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.push_str(&all_text(&p));
        } else if p.extension().is_none_or(|x| x != "sqlite") {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    out
}

#[test]
fn test_the_daily_run_posts_alerts_and_mails_the_newsletter() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    copy_dir(&demo().join("home"), &home);
    let cfg = alert_config(dir.path(), "notify_timeout_secs = 2");
    let hooks = serve(|_| Answer::Status(200));
    let slack = hooks.url("/services/T000/B000/slack-secret");
    let webhook = hooks.url("/hooks/json-secret");
    let smtp = SmtpSink::start(dir.path());
    let mut env: Vec<(&'static str, String)> = vec![
        ("SYSTRADE_SLACK_WEBHOOK_URL", slack.clone()),
        ("SYSTRADE_WEBHOOK_URL", webhook.clone()),
    ];
    if let Some(m) = &smtp {
        env.extend(m.env());
    }
    let r = sys(
        &home,
        &["run", "--config", s(&cfg), "--as-of", DAY, "--force-run"],
        &envs(&env),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let reqs = hooks.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    let by_path = |p: &str| reqs.iter().find(|x| x.path == p).unwrap().clone();
    let sl = by_path("/services/T000/B000/slack-secret");
    let wh = by_path("/hooks/json-secret");
    assert_eq!(
        (sl.method.as_str(), sl.content_type.as_str()),
        ("POST", "application/json")
    );
    let summary: Value = serde_json::from_str(&read(
        &home.join(format!("runs/trend_demo/{DAY}/daily_summary_{DAY}.json")),
    ))
    .unwrap();
    let sl: Value = serde_json::from_str(&sl.body).unwrap();
    assert!(
        sl["text"]
            .as_str()
            .unwrap()
            .starts_with(&format!("trend_demo {DAY}: equity ")),
        "{sl}"
    );
    assert!(
        sl["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("positions · orders:")
    );
    let wh: Value = serde_json::from_str(&wh.body).unwrap();
    assert_eq!(wh["source"], "systrade");
    assert_eq!(wh["alerts"][0]["kind"], "run_summary");
    assert_eq!(wh["alerts"][0]["strategy"], "trend_demo");
    assert_eq!(wh["alerts"][0]["data"]["equity"], summary["equity"]);
    let notify = read(&home.join(format!("runs/trend_demo/{DAY}/logs/notify.jsonl")));
    assert_eq!(notify.matches("\"sent\"").count(), 2, "{notify}");
    if let Some(m) = &smtp {
        let msgs = m.messages();
        assert_eq!(msgs.len(), 1, "one email for the run");
        let (text, _) = parts(&msgs[0]);
        assert!(
            msgs[0]["subject"]
                .as_str()
                .unwrap()
                .starts_with(&format!("systrade {DAY}:"))
        );
        for (side, qty, sym) in day_trades(&home) {
            assert!(
                text.contains(&format!("{side} {qty} {sym} @")),
                "{sym}: {text}"
            );
        }
        assert!(read(&home.join("logs/runs.jsonl")).contains("newsletter_sent"));
    }
    let logged = all_text(&home);
    assert!(
        !logged.contains("secret"),
        "a webhook URL was written to the home"
    );
    assert!(!r.stderr.contains("secret") && !r.stdout.contains("secret"));
}

#[test]
fn test_webhook_and_mail_failures_are_logged_and_never_fail_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    copy_dir(&demo().join("home"), &home);
    let cfg = alert_config(dir.path(), "notify_timeout_secs = 1\nnotify_retries = 1");
    let refuse = serve(|_| Answer::Status(400));
    let broken = serve(|_| Answer::Status(503));
    let silent = serve(|_| Answer::Hang(Duration::from_secs(4)));
    let day_log = home.join(format!("runs/trend_demo/{DAY}/logs/errors.jsonl"));

    // Slack says 400 (not retried); the webhook never answers (retried once, then given up).
    let r = sys(
        &home,
        &["run", "--config", s(&cfg), "--as-of", DAY, "--force-run"],
        &[
            ("SYSTRADE_SLACK_WEBHOOK_URL", &refuse.url("/slack-secret")),
            ("SYSTRADE_WEBHOOK_URL", &silent.url("/hook-secret")),
            // The mail server is down too.
            ("SYSTRADE_SMTP_HOST", "127.0.0.1"),
            ("SYSTRADE_SMTP_PORT", "9"),
            ("SYSTRADE_SMTP_FROM", "desk@example.com"),
            ("SYSTRADE_SMTP_TO", "me@example.com"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(refuse.requests().len(), 1, "a 4xx is not retried");
    assert_eq!(silent.requests().len(), 2, "a timeout is retried once");
    assert!(
        r.stderr.contains(
            "slack notification could not be sent (the server answered HTTP 400: invalid_payload)"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("webhook notification could not be sent (no answer within 1s)"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("the newsletter could not be sent"),
        "{}",
        r.stderr
    );
    let errors = read(&day_log);
    assert_eq!(errors.matches("notify_failed").count(), 2, "{errors}");
    assert!(read(&home.join("logs/runs.jsonl")).contains("newsletter_failed"));

    // A 503 is retried once, then logged.
    let r = sys(
        &home,
        &["run", "--config", s(&cfg), "--as-of", DAY, "--force-run"],
        &[("SYSTRADE_WEBHOOK_URL", &broken.url("/hook-secret"))],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(broken.requests().len(), 2);
    assert!(r.stderr.contains("HTTP 503"), "{}", r.stderr);
    assert_eq!(read(&day_log).matches("notify_failed").count(), 3);
    // The day is complete, and no URL was written or printed.
    assert!(home.join(format!("runs/trend_demo/{DAY}/done")).exists());
    assert!(!all_text(&home).contains("secret"));
    assert!(!r.stderr.contains("secret"));

    // A URL in the config instead of a variable's name is refused before any work.
    let bad = alert_config(
        dir.path(),
        "notify_webhook_env = \"https://hooks.example.com/x\"",
    );
    let r = sys(
        &home,
        &["run", "--config", s(&bad), "--as-of", DAY, "--force-run"],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("run.notify_webhook_env"), "{}", r.stderr);
    assert!(!r.stderr.contains("hooks.example.com"));
}

/// Decodes a PNG: (width, height, RGB(A) pixels, channels).
fn decode(p: &Path) -> (u32, u32, Vec<u8>, usize) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(p).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf, info.color_type.samples())
}

#[test]
fn test_backtest_plots_are_real_pictures_and_reruns_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = demo().join("trend_demo.toml");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for o in [&a, &b] {
        let r = run_in(
            &["backtest", "--config", s(&cfg), "--plots", "--out", s(o)],
            Path::new("."),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("tear sheet: "), "{}", r.stdout);
    }
    let charts = [
        "equity",
        "drawdown",
        "rolling_sharpe_12m",
        "exposure",
        "turnover",
    ];
    for f in charts
        .iter()
        .flat_map(|c| [format!("charts/{c}.svg"), format!("charts/{c}.png")])
        .chain(["report.html".to_string()])
    {
        assert_eq!(
            std::fs::read(a.join(&f)).unwrap(),
            std::fs::read(b.join(&f)).unwrap(),
            "{f}"
        );
    }
    for c in charts {
        let (w, h, px, n) = decode(&a.join(format!("charts/{c}.png")));
        assert_eq!((w, h), (900, 420), "{c}");
        let pixels = px.chunks(n);
        let total = (w * h) as usize;
        let ink = pixels
            .clone()
            .filter(|p| p.iter().take(3).any(|v| *v < 200))
            .count();
        // The series' colours: blue (first) or orange (second; it covers the first where
        // they coincide, as gross and net do for a long-only book).
        let series = pixels
            .filter(|p| {
                (p[2] > 150 && p[0] < 120 && p[1] > 90 && p[1] < 170)
                    || (p[0] > 200 && p[1] > 90 && p[1] < 170 && p[2] < 80)
            })
            .count();
        assert!(
            ink * 100 > total,
            "{c}: only {ink} of {total} pixels are not white"
        );
        assert!(
            ink * 2 < total,
            "{c}: {ink} of {total} pixels inked — not a chart"
        );
        assert!(series > 200, "{c}: no series drawn ({series} pixels)");
        let svg = read(&a.join(format!("charts/{c}.svg")));
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"), "{c}");
    }
    let html = read(&a.join("report.html"));
    for part in [
        "Monthly returns",
        "Equity vs equal-weight buy &amp; hold (24 names)",
        "Top 10 trades",
        "Worst 10 trades",
        "Cost grid",
        "max drawdown",
    ] {
        assert!(html.contains(part), "{part}");
    }
    assert_eq!(html.matches("<svg").count(), 5);
    // The default cost grid: the config's run at 6 fee levels, written beside it too.
    assert_eq!(read(&a.join("cost_grid.csv")).lines().count(), 7);

    // The one-symbol backtest's tear sheet carries its cost grid and splits.
    let o = dir.path().join("sma");
    let r = run_in(
        &[
            "backtest",
            "--strategy",
            "sma-cross",
            "--symbol",
            "TEC01",
            "--data",
            s(&demo().join("data")),
            "--fast",
            "10",
            "--slow",
            "40",
            "--cost-grid",
            "0,10,25",
            "--split",
            "train=..2018-12-31,test=2019-01-01..",
            "--out",
            s(&o),
        ],
        Path::new("."),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = read(&o.join("report.html"));
    for part in [
        "Cost grid",
        "Splits (train, validation, holdout)",
        "TEC01 buy &amp; hold",
        ">train<",
        ">test<",
    ] {
        assert!(html.contains(part), "{part}");
    }
    assert!(!o.join("charts").exists(), "charts only with --plots");
}

/// Headless Chromium: `Some((dom, console lines))` for a file, `None` when absent.
fn chromium(page: &Path, profile: &Path) -> Option<(String, Vec<String>)> {
    let bin = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })?;
    let out = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    Some((String::from_utf8_lossy(&out.stdout).into_owned(), console))
}

#[test]
fn test_the_tear_sheet_renders_in_headless_chromium_without_console_errors() {
    let dir = tempfile::tempdir().unwrap();
    // The check itself can fail: a page with a script error is caught.
    let broken = dir.path().join("broken.html");
    std::fs::write(
        &broken,
        "<!DOCTYPE html><html><body><script>notDefined();</script></body></html>",
    )
    .unwrap();
    let Some((_, console)) = chromium(&broken, &dir.path().join("p0")) else {
        assert!(
            std::env::var_os("SYSTRADE_REQUIRE_CHROMIUM").is_none(),
            "SYSTRADE_REQUIRE_CHROMIUM is set but no chromium was found"
        );
        eprintln!("skipped: no chromium (apt-get install chromium) to open the tear sheet");
        return;
    };
    assert!(
        console
            .iter()
            .any(|l| l.contains("Uncaught ReferenceError")),
        "{console:?}"
    );
    for (page, charts) in [
        (demo().join("report.html"), 5),
        (demo().join("momentum/report.html"), 5),
    ] {
        let (dom, console) = chromium(&page, &dir.path().join("p1")).unwrap();
        assert!(console.is_empty(), "{}: {console:?}", page.display());
        assert!(
            dom.contains(&format!("data-charts=\"{charts}\"")),
            "{}: the page's script did not see its {charts} charts",
            page.display()
        );
        assert!(dom.contains("Monthly returns"));
    }
    // The newsletter too (mail clients are stricter, but it must at least render cleanly).
    let (dom, console) = chromium(&demo().join("newsletter.html"), &dir.path().join("p2")).unwrap();
    assert!(console.is_empty(), "{console:?}");
    assert!(dom.contains("Open positions"));
}

#[test]
fn test_walk_forward_writes_a_tear_sheet_of_its_stitched_test_windows() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("wf");
    let r = run_in(
        &[
            "walkforward",
            "--strategy",
            "sma-cross",
            "--symbol",
            "TEC01",
            "--grid",
            "fast=5..15:5,slow=30..60:30",
            "--train",
            "2y",
            "--test",
            "1y",
            "--data",
            s(&demo().join("data")),
            "--out",
            s(&o),
        ],
        Path::new("."),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = read(&o.join("report.html"));
    let windows = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("window "))
        .count();
    assert!(windows >= 2, "{}", r.stdout);
    assert!(html.contains("Walk-forward windows"));
    // One table row per window, each with its chosen parameters.
    assert_eq!(html.matches("fast=").count(), windows, "{}", r.stdout);
    assert!(html.contains("TEC01 buy &amp; hold"));
    assert!(
        !html.contains("Gross and net exposure"),
        "a stitched run has no exposure"
    );
}

#[test]
fn test_a_momentum_books_newsletter_says_why_in_its_own_words() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let cfg = demo().join("momentum_demo.toml");
    for d in ["2020-11-30", "2020-12-01"] {
        let r = sys(&home, &["run", "--config", s(&cfg), "--as-of", d], &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let p = dir.path().join("n.html");
    let r = sys(&home, &["newsletter", "--preview", s(&p)], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = read(&dir.path().join("n.txt"));
    assert!(text.contains("== momentum_demo (momentum cohorts, session 2020-12-01) =="));
    let orders = read(&home.join("runs/momentum_demo/2020-12-01/orders_2020-12-01.csv"));
    let n = orders.lines().skip(1).count();
    assert!(n > 0);
    // The first trading day after the month-end formation: every order says so.
    assert_eq!(
        text.matches("monthly formation of the cohorts").count(),
        n,
        "{text}"
    );
    // Momentum books carry no protective stops, and shorts show as negative shares.
    assert!(text.contains(", no stop, PnL"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("  ") && l.contains(" -") && l.contains("@ avg"))
    );
}

#[test]
fn test_manual_trades_get_their_section_and_an_eml_preview_is_a_whole_message() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    copy_dir(&demo().join("home"), &home);
    let now = [("SYSTRADE_NOW", "2020-12-16T07:00:00Z")];
    for args in [
        vec![
            "trades",
            "add",
            "--symbol",
            "SPY",
            "--side",
            "buy",
            "--qty",
            "10",
            "--price",
            "360.50",
            "--date",
            "2020-12-10",
            "--stop",
            "340",
        ],
        vec![
            "trades",
            "add",
            "--symbol",
            "QQQ",
            "--side",
            "sell",
            "--qty",
            "5",
            "--price",
            "300",
            "--date",
            "2020-12-11",
        ],
    ] {
        let r = sys(&home, &args, &now);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let p = dir.path().join("n.html");
    let r = sys(&home, &["newsletter", "--preview", s(&p)], &now);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = read(&dir.path().join("n.txt"));
    assert!(
        text.contains("== manual trades (kept by hand, session 2020-12-15) =="),
        "{text}"
    );
    assert!(text.contains("  SPY 10 @ avg 360.50, last n/a, value 3,605.00, stop 340.00 (5.69% from entry to the stop)"), "{text}");
    assert!(text.contains("  QQQ -5 @ avg 300.00"), "{text}");
    assert!(
        text.contains("manual trade #2 in QQQ has no stop"),
        "{text}"
    );
    assert!(r.stdout.contains("1 warning"), "{}", r.stdout);

    // An .eml preview is the message a server would get: both parts, subject and date.
    let eml = dir.path().join("n.eml");
    let r = sys(
        &home,
        &["newsletter", "--preview", s(&eml)],
        &[("SYSTRADE_NOW", "2020-12-16T07:00:00Z")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = read(&eml);
    for h in [
        "Subject: systrade 2020-12-15:",
        "Date: Wed, 16 Dec 2020 07:00:00 +0000",
        "multipart/alternative",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Type: text/html; charset=utf-8",
    ] {
        assert!(m.contains(h), "{h}: {}", &m[..m.len().min(800)]);
    }
}

/// Every byte under `dir`, the SQLite files too, as text (for "the secret is nowhere").
fn all_bytes(dir: &Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.push_str(&all_bytes(&p));
        } else {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    out
}

#[test]
fn test_secrets_a_server_echoes_back_are_never_printed_or_stored() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    copy_dir(&demo().join("home"), &home);
    let cfg = alert_config(dir.path(), "notify_retries = 0");

    // A webhook whose 500 page quotes the request line, secret path and all.
    let echo = serve(|_| Answer::Echo(500));
    let token = "T0ECHO/B0ECHO/zz9SecretToken42";
    let r = sys(
        &home,
        &["run", "--config", s(&cfg), "--as-of", DAY, "--force-run"],
        &[(
            "SYSTRADE_WEBHOOK_URL",
            &echo.url(&format!("/services/{token}")),
        )],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(echo.requests().len(), 1);
    assert!(r.stderr.contains("HTTP 500"), "{}", r.stderr);
    assert!(r.stderr.contains("[redacted]"), "{}", r.stderr);
    for text in [&r.stdout, &r.stderr, &all_bytes(&home)] {
        assert!(
            !text.contains("zz9SecretToken42"),
            "the webhook token leaked"
        );
    }

    // An SMTP server that refuses the login and quotes the AUTH line (base64 of the password).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let auth_log = dir.path().join("auth.log");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_auth_echo.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(port.to_string())
        .arg(&auth_log)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the test's SMTP server");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    let password = "Pw-4u9Kx7!";
    let r = sys(
        &home,
        &["newsletter", "--send"],
        &[
            ("SYSTRADE_SMTP_HOST", "127.0.0.1"),
            ("SYSTRADE_SMTP_PORT", &port.to_string()),
            ("SYSTRADE_SMTP_FROM", "desk@example.com"),
            ("SYSTRADE_SMTP_TO", "me@example.com"),
            ("SYSTRADE_SMTP_USER", "desk@example.com"),
            ("SYSTRADE_SMTP_PASSWORD", password),
        ],
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let tried = std::fs::read_to_string(&auth_log).unwrap_or_default();
    assert!(
        tried.contains("AUTH"),
        "the login was really tried: {tried:?}"
    );
    assert!(r.stderr.contains("535"), "{}", r.stderr);
    let encoded: Vec<String> = tried
        .lines()
        .flat_map(|l| l.split_whitespace().last())
        .filter(|w| w.len() >= 8)
        .map(str::to_string)
        .collect();
    assert!(!encoded.is_empty(), "{tried}");
    for text in [&r.stdout, &r.stderr, &all_bytes(&home)] {
        assert!(!text.contains(password), "the password leaked");
        for e in &encoded {
            assert!(!text.contains(e.as_str()), "an encoded login leaked: {e}");
        }
    }
}
