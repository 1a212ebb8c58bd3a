//! The routes: pages (GET), the kill switch (POST, CSRF, `--allow-actions`), the token gate
//! in front of all of them, and `/changes` for pages that follow a run as it writes.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use minijinja::Environment;
use serde::Serialize;

use systrade_config::run::RunSection;

use crate::App;
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

async fn overview(State(app): State<Arc<App>>) -> Response {
    page(&app, "overview", view::overview(&app.opts.home))
}

async fn positions(State(app): State<Arc<App>>) -> Response {
    page(&app, "positions", view::positions(&app.opts.home))
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

/// The checks every action passes: `--allow-actions`, then the page's CSRF token; the
/// order id of the form.
fn action_form(app: &App, body: &[u8]) -> Result<String, Box<Response>> {
    if !app.opts.allow_actions {
        return Err(Box::new(error_page(
            StatusCode::FORBIDDEN,
            "read-only: start the dashboard with --allow-actions to act from it",
        )));
    }
    match form_field(body, "csrf") {
        Some(t) if same(&t, &app.csrf) => {}
        _ => {
            return Err(Box::new(error_page(
                StatusCode::FORBIDDEN,
                "missing or wrong CSRF token: reload the page",
            )));
        }
    }
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
        Ok(Err(crate::actions::Refusal::Input(m))) => error_page(StatusCode::BAD_REQUEST, &m),
        Ok(Err(crate::actions::Refusal::Failed(m))) => {
            error_page(StatusCode::INTERNAL_SERVER_ERROR, &m)
        }
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

/// POST /kill-switch: sets the kill switch (the home's KILL file). Clearing it is a deliberate
/// act at the desk (delete the file), never a click.
async fn set_kill_switch(State(app): State<Arc<App>>, body: Bytes) -> Response {
    if !app.opts.allow_actions {
        return error_page(
            StatusCode::FORBIDDEN,
            "read-only: start the dashboard with --allow-actions to act from it",
        );
    }
    match form_field(&body, "csrf") {
        Some(t) if same(&t, &app.csrf) => {}
        _ => {
            return error_page(
                StatusCode::FORBIDDEN,
                "missing or wrong CSRF token: reload the page",
            );
        }
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
        .route("/changes", get(changes))
        .route("/newsletter", get(newsletter))
        .route("/static/style.css", get(style))
        .route("/static/live.js", get(live_js))
        .route("/kill-switch", post(set_kill_switch))
        .route("/orders/approve", post(approve))
        .route("/orders/cancel", post(cancel))
        .layer(middleware::from_fn_with_state(app.clone(), gate))
        .layer(middleware::from_fn(headers))
        .with_state(app)
}

const LIVE: &str = include_str!("../templates/live.js");

async fn live_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        LIVE,
    )
        .into_response()
}
