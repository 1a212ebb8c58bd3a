//! The routes: pages (GET), the kill switch (POST, CSRF, `--allow-actions`), the token gate
//! in front of all of them, and `/changes` for pages that follow a run as it writes.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use minijinja::Environment;
use serde::Serialize;

use systrade_config::run::RunSection;

use crate::App;
use crate::actions::Refusal;
use crate::security::{presented, same};
use crate::view;

const STYLE: &str = include_str!("../templates/style.css");

/// The pages' templates, compiled once at start.
pub(crate) fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, text) in [
        ("base.html", include_str!("../templates/base.html")),
        ("overview.html", include_str!("../templates/overview.html")),
        (
            "positions.html",
            include_str!("../templates/positions.html"),
        ),
        ("orders.html", include_str!("../templates/orders.html")),
        ("runs.html", include_str!("../templates/runs.html")),
        ("run.html", include_str!("../templates/run.html")),
        ("trades.html", include_str!("../templates/trades.html")),
        (
            "backtests.html",
            include_str!("../templates/backtests.html"),
        ),
        ("sweep.html", include_str!("../templates/sweep.html")),
    ] {
        // The templates are part of the binary: a bad one fails the tests, not a user.
        if let Err(e) = env.add_template(name, text) {
            eprintln!("dashboard template {name}: {e}");
        }
    }
    env
}

/// What every page's frame shows.
#[derive(Serialize)]
struct Frame<'a, T: Serialize> {
    page: &'a str,
    home: String,
    kill_switch: bool,
    allow_actions: bool,
    csrf: &'a str,
    version: String,
    data: T,
}

/// The daily run's own rule (the home's KILL file, or SYSTRADE_KILL_SWITCH).
fn kill_switch_on(app: &App) -> bool {
    systrade_live::gates::kill_switch(&app.opts.home, &RunSection::default())
}

/// A fingerprint of what the pages read (the ledger and the runs' folders): it changes
/// when a run writes.
fn version(app: &App) -> String {
    let home = &app.opts.home;
    let mut parts = Vec::new();
    for p in [
        home.join("ledger.sqlite"),
        home.join("ledger.sqlite-wal"),
        home.join(RunSection::default().kill_switch_file),
    ] {
        if let Ok(m) = std::fs::metadata(&p) {
            let t = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            parts.push(format!("{}:{t}", m.len()));
        } else {
            parts.push("-".into());
        }
    }
    parts.join(".")
}

fn render<T: Serialize>(app: &App, page: &str, data: T) -> Response {
    let frame = Frame {
        page,
        home: app.opts.home.display().to_string(),
        kill_switch: kill_switch_on(app),
        allow_actions: app.opts.allow_actions,
        csrf: &app.csrf,
        version: version(app),
        data,
    };
    match app
        .templates
        .get_template(&format!("{page}.html"))
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(&frame))))
    {
        Ok(html) => Html(html).into_response(),
        Err(e) => error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("template {page}: {e}"),
        ),
    }
}

fn error_page(code: StatusCode, why: &str) -> Response {
    let body = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>systrade — {}</title><p>{}</p>",
        code.as_u16(),
        minijinja::HtmlEscape(why)
    );
    (code, Html(body)).into_response()
}

fn page<T: Serialize>(app: &App, name: &str, data: Result<T, view::ViewError>) -> Response {
    match data {
        Ok(d) => render(app, name, d),
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// Today (UTC, or `SYSTRADE_NOW`): what positions are marked at.
fn today() -> Result<chrono::NaiveDate, view::ViewError> {
    systrade_live::env_now()
        .map(|t| t.date_naive())
        .map_err(|e| view::ViewError(format!("{e:#}")))
}

/// Builds a page's content off the async threads (it reads files and the ledger).
async fn blocking<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&App) -> Result<T, view::ViewError> + Send + 'static,
) -> Result<T, view::ViewError> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || f(&app))
        .await
        .map_err(|e| view::ViewError(e.to_string()))?
}

async fn overview(State(app): State<Arc<App>>) -> Response {
    let data = blocking(&app, |a| {
        view::overview(&a.opts.home, &a.opts.prices, today()?)
    })
    .await;
    page(&app, "overview", data)
}

async fn positions(State(app): State<Arc<App>>) -> Response {
    let data = blocking(&app, |a| {
        view::positions(&a.opts.home, &a.opts.prices, today()?)
    })
    .await;
    page(&app, "positions", data)
}

async fn trades(State(app): State<Arc<App>>) -> Response {
    let data = blocking(&app, |a| {
        crate::trades::page(&a.opts.home, &a.opts.prices, today()?)
    })
    .await;
    page(&app, "trades", data)
}

async fn run_detail(
    State(app): State<Arc<App>>,
    Path((book, day)): Path<(String, String)>,
) -> Response {
    let Ok(day) = day.parse::<chrono::NaiveDate>() else {
        return error_page(StatusCode::NOT_FOUND, "no such run: the day is not a date");
    };
    if book.is_empty()
        || !book
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        || book.starts_with('.')
    {
        return error_page(StatusCode::NOT_FOUND, "no such book");
    }
    let data = blocking(&app, move |a| crate::run::detail(&a.opts.home, &book, day)).await;
    match data {
        Ok(Some(d)) => render(&app, "run", d),
        Ok(None) => error_page(StatusCode::NOT_FOUND, "no run of this book on this day"),
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn backtests(State(app): State<Arc<App>>) -> Response {
    let data = blocking(&app, |a| crate::backtests::page(&a.opts.backtests)).await;
    page(&app, "backtests", data)
}

/// Which run folder (`d`: the `--backtests` folder's index, `r`: the run's name) and file.
#[derive(serde::Deserialize)]
struct RunRef {
    d: usize,
    r: String,
    #[serde(default)]
    f: String,
}

async fn sweep(State(app): State<Arc<App>>, Query(q): Query<RunRef>) -> Response {
    let data = blocking(&app, move |a| {
        crate::backtests::sweep(&a.opts.backtests, q.d, &q.r)
    })
    .await;
    match data {
        Ok(Some(d)) => render(&app, "sweep", d),
        Ok(None) => error_page(StatusCode::NOT_FOUND, "no such sweep"),
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// A run folder's tear sheet or heat map. The tear sheet is self-contained with its own
/// inline script: it is served sandboxed (an opaque origin: no cookie, no request back).
async fn backtest_file(State(app): State<Arc<App>>, Query(q): Query<RunRef>) -> Response {
    let Some((name, kind)) = crate::backtests::FILES.iter().find(|(n, _)| *n == q.f) else {
        return error_page(StatusCode::NOT_FOUND, "not a file a run folder serves");
    };
    let Some(dir) = crate::backtests::folder(&app.opts.backtests, q.d, &q.r) else {
        return error_page(StatusCode::NOT_FOUND, "no such run folder");
    };
    let file = dir.join(name);
    let read = tokio::task::spawn_blocking(move || std::fs::read(file)).await;
    match read.map_err(|e| std::io::Error::other(e.to_string())).and_then(|r| r) {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, *kind),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "sandbox allow-scripts; default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:",
                ),
            ],
            body,
        )
            .into_response(),
        Err(_) => error_page(StatusCode::NOT_FOUND, "this run folder has no such file"),
    }
}

async fn orders(State(app): State<Arc<App>>) -> Response {
    let rows = view::orders(&app.opts.home).map(|mut rows| {
        for r in &mut rows {
            r.actionable = app.books.contains_key(&r.book);
        }
        rows
    });
    page(&app, "orders", rows)
}

/// The checks every action passes: `--allow-actions`, then the page's CSRF token.
fn may_act(app: &App, csrf: Option<&str>) -> Result<(), Box<Response>> {
    if !app.opts.allow_actions {
        return Err(Box::new(error_page(
            StatusCode::FORBIDDEN,
            "read-only: start the dashboard with --allow-actions to act from it",
        )));
    }
    match csrf {
        Some(t) if same(t, &app.csrf) => Ok(()),
        _ => Err(Box::new(error_page(
            StatusCode::FORBIDDEN,
            "missing or wrong CSRF token: reload the page",
        ))),
    }
}

/// An order action's checks, and the order id of the form.
fn action_form(app: &App, body: &[u8]) -> Result<String, Box<Response>> {
    may_act(app, form_field(body, "csrf").as_deref())?;
    match form_field(body, "id") {
        Some(id) if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
            Ok(id)
        }
        _ => Err(Box::new(error_page(
            StatusCode::BAD_REQUEST,
            "no order id in the form",
        ))),
    }
}

/// An action on one order of a home: approve or cancel.
type Action = fn(
    &std::path::Path,
    &std::collections::BTreeMap<String, std::path::PathBuf>,
    &str,
) -> Result<String, crate::actions::Refusal>;

async fn act(app: Arc<App>, body: Bytes, f: Action) -> Response {
    let id = match action_form(&app, &body) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let app2 = app.clone();
    let done = tokio::task::spawn_blocking(move || f(&app2.opts.home, &app2.books, &id)).await;
    match done {
        Ok(Ok(_)) => (StatusCode::SEE_OTHER, [(header::LOCATION, "/orders")]).into_response(),
        Ok(Err(Refusal::Input(m))) => error_page(StatusCode::BAD_REQUEST, &m),
        Ok(Err(Refusal::Failed(m))) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &m),
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn approve(State(app): State<Arc<App>>, body: Bytes) -> Response {
    act(app, body, crate::actions::approve).await
}

async fn cancel(State(app): State<Arc<App>>, body: Bytes) -> Response {
    act(app, body, crate::actions::cancel).await
}

async fn runs(State(app): State<Arc<App>>) -> Response {
    page(&app, "runs", view::runs(&app.opts.home))
}

/// The newsletter of the latest completed day, as the email would show it.
async fn newsletter(State(app): State<Arc<App>>) -> Response {
    let home = app.opts.home.clone();
    let built = tokio::task::spawn_blocking(move || -> Result<String, String> {
        let Some(ledger) = view::ledger(&home).map_err(|e| e.to_string())? else {
            return Err("no ledger in this home yet: run `systrade run` first".into());
        };
        let n = systrade_desk::newsletter::build(&home, &ledger, None, &[], &Default::default())
            .map_err(|e| format!("{e:#}"))?;
        Ok(n.render().map_err(|e| e.to_string())?.html)
    })
    .await;
    match built {
        // The email's own inline styles; no script, nothing else loaded.
        Ok(Ok(html)) => (
            [(
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
            )],
            Html(html),
        )
            .into_response(),
        Ok(Err(why)) => error_page(StatusCode::NOT_FOUND, &why),
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn changes(State(app): State<Arc<App>>) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], version(&app)).into_response()
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

/// The form's `csrf` field.
fn form_field(body: &[u8], key: &str) -> Option<String> {
    std::str::from_utf8(body).ok()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.to_string())
    })
}

/// A manual-trade action on a home, with the day it is done.
type TradeAction =
    fn(&std::path::Path, &crate::trades::Form, chrono::NaiveDate) -> Result<String, Refusal>;

async fn trade_act(app: Arc<App>, form: crate::trades::Form, f: TradeAction) -> Response {
    if let Err(r) = may_act(&app, form.get("csrf").map(String::as_str)) {
        return *r;
    }
    let app2 = app.clone();
    let done = tokio::task::spawn_blocking(move || {
        let today = today().map_err(|e| Refusal::Failed(e.to_string()))?;
        f(&app2.opts.home, &form, today)
    })
    .await;
    match done {
        Ok(Ok(_)) => (StatusCode::SEE_OTHER, [(header::LOCATION, "/trades")]).into_response(),
        Ok(Err(Refusal::Input(m))) => error_page(StatusCode::BAD_REQUEST, &m),
        Ok(Err(Refusal::Failed(m))) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &m),
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn trade_add(State(app): State<Arc<App>>, Form(form): Form<crate::trades::Form>) -> Response {
    trade_act(app, form, crate::trades::add).await
}

async fn trade_update(
    State(app): State<Arc<App>>,
    Form(form): Form<crate::trades::Form>,
) -> Response {
    trade_act(app, form, crate::trades::update).await
}

async fn trade_close(
    State(app): State<Arc<App>>,
    Form(form): Form<crate::trades::Form>,
) -> Response {
    trade_act(app, form, crate::trades::close).await
}

/// POST /kill-switch: sets the kill switch (the home's KILL file). Clearing it is a deliberate
/// act at the desk (delete the file), never a click.
async fn set_kill_switch(State(app): State<Arc<App>>, body: Bytes) -> Response {
    if let Err(r) = may_act(&app, form_field(&body, "csrf").as_deref()) {
        return *r;
    }
    let path = app.opts.home.join(RunSection::default().kill_switch_file);
    let stamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    if let Err(e) = std::fs::create_dir_all(&app.opts.home)
        .and_then(|_| std::fs::write(&path, format!("set from the dashboard at {stamp}\n")))
    {
        return error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("could not write {}: {e}", path.display()),
        );
    }
    (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response()
}

/// Every request shows the token when one is set; `?token=` sets a cookie for the pages
/// after it. A refusal never echoes what was sent.
async fn gate(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let Some(want) = app.opts.token.clone() else {
        return next.run(req).await;
    };
    let got = presented(req.headers(), req.uri().query());
    let from_query = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("token=")));
    match got {
        Some(t) if same(&t, &want) => {
            let mut resp = next.run(req).await;
            if from_query
                && let Ok(v) = HeaderValue::from_str(&format!(
                    "systrade_token={want}; HttpOnly; SameSite=Strict; Path=/"
                ))
            {
                resp.headers_mut().insert(header::SET_COOKIE, v);
            }
            resp
        }
        _ => error_page(
            StatusCode::UNAUTHORIZED,
            "this dashboard needs its token (SYSTRADE_DASHBOARD_TOKEN): send it as a bearer token or open the page once with ?token=",
        ),
    }
}

/// Adds the security headers every answer carries.
async fn headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
            ),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(overview))
        .route("/positions", get(positions))
        .route("/orders", get(orders))
        .route("/runs", get(runs))
        .route("/runs/{book}/{day}", get(run_detail))
        .route("/trades", get(trades))
        .route("/trades/add", post(trade_add))
        .route("/trades/update", post(trade_update))
        .route("/trades/close", post(trade_close))
        .route("/backtests", get(backtests))
        .route("/backtests/sweep", get(sweep))
        .route("/backtests/file", get(backtest_file))
        .route("/changes", get(changes))
        .route("/newsletter", get(newsletter))
        .route("/static/style.css", get(style))
        .route("/static/live.js", get(live_js))
        .route("/static/icon.svg", get(icon))
        .route("/favicon.ico", get(icon))
        .route("/kill-switch", post(set_kill_switch))
        .route("/orders/approve", post(approve))
        .route("/orders/cancel", post(cancel))
        .layer(middleware::from_fn_with_state(app.clone(), gate))
        .layer(middleware::from_fn(headers))
        .with_state(app)
}

const LIVE: &str = include_str!("../templates/live.js");
const ICON: &str = include_str!("../templates/icon.svg");

async fn icon() -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml")], ICON).into_response()
}

async fn live_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        LIVE,
    )
        .into_response()
}
