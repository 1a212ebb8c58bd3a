//! `systrade serve` (issue 22): the desk on one page, server-rendered from the ledger and the
//! daily runs' artifacts under a home — the overview (capital, cash, exposure, PnL, drawdown,
//! each book's equity curve), positions with their stops, orders, and each day's runs. Safe
//! by default: it listens on loopback; any other address needs `SYSTRADE_DASHBOARD_TOKEN`,
//! then asked of every request; it is read-only unless started with `--allow-actions`, and
//! every state-changing request is a POST with the page's CSRF token. The kill switch shows
//! on every page and can be set (never cleared) from it. Nothing secret is rendered.

pub mod actions;
pub mod backtests;
pub mod marks;
pub mod run;
pub mod security;
pub mod trades;
pub mod view;

mod pages;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// How the dashboard was started.
#[derive(Debug, Clone)]
pub struct Options {
    pub home: PathBuf,
    pub bind: SocketAddr,
    /// Approvals, cancels, manual trades and setting the kill switch.
    pub allow_actions: bool,
    /// Asked of every request when set (required off loopback).
    pub token: Option<String>,
    /// The books' configs: their staged orders can be approved and canceled from the page.
    pub configs: Vec<PathBuf>,
    /// Prices that mark manual and sheet positions, and the overview's benchmark.
    pub prices: marks::Prices,
    /// Folders of backtest and sweep outputs for the backtests page.
    pub backtests: Vec<PathBuf>,
}

/// What can go wrong starting the dashboard.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The user's input: exit 2.
    #[error("{0}")]
    Refused(String),
    #[error("cannot listen on {addr}: {message}")]
    Listen { addr: SocketAddr, message: String },
    #[error("{0}")]
    Setup(String),
}

/// The state every request sees.
pub(crate) struct App {
    pub opts: Options,
    /// The CSRF token of this process (random per start).
    pub csrf: String,
    /// Book name → config, for the actions.
    pub books: std::collections::BTreeMap<String, PathBuf>,
    pub templates: minijinja::Environment<'static>,
}

/// The dashboard as an axum app.
pub fn app(opts: Options) -> Result<axum::Router, DashboardError> {
    security::check_bind(&opts)?;
    check_sources(&opts)?;
    let state = Arc::new(App {
        csrf: security::random_token()?,
        books: actions::books_of(&opts.configs)?,
        templates: pages::templates(),
        opts,
    });
    Ok(pages::router(state))
}

/// Every `--data` source opens and every `--backtests` folder is one: said at start, not on
/// a page later.
fn check_sources(opts: &Options) -> Result<(), DashboardError> {
    for p in &opts.prices.data {
        systrade_data::DataSource::open(p)
            .map_err(|e| DashboardError::Refused(format!("--data {}: {e}", p.display())))?;
    }
    for d in &opts.backtests {
        if !d.is_dir() {
            return Err(DashboardError::Refused(format!(
                "--backtests {}: not a folder",
                d.display()
            )));
        }
    }
    Ok(())
}

/// A dashboard serving on a background thread (tests), until the process ends.
pub struct Running {
    pub addr: SocketAddr,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, DashboardError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DashboardError::Setup(format!("cannot start the runtime: {e}")))
}

async fn listen(addr: SocketAddr) -> Result<tokio::net::TcpListener, DashboardError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| DashboardError::Listen {
            addr,
            message: e.to_string(),
        })
}

/// Serves until Ctrl-C; `ready` hears the address once connections are accepted.
pub fn serve_blocking(opts: Options, ready: impl FnOnce(SocketAddr)) -> Result<(), DashboardError> {
    let bind = opts.bind;
    let router = app(opts)?;
    runtime()?.block_on(async move {
        let listener = listen(bind).await?;
        let addr = listener.local_addr().map_err(|e| DashboardError::Listen {
            addr: bind,
            message: e.to_string(),
        })?;
        ready(addr);
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| DashboardError::Setup(e.to_string()))
    })
}

/// Serves on a background thread; returns once it accepts connections.
pub fn spawn(opts: Options) -> Result<Running, DashboardError> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let tx2 = tx.clone();
        if let Err(e) = serve_blocking(opts, move |addr| {
            let _ = tx2.send(Ok(addr));
        }) {
            let _ = tx.send(Err(e));
        }
    });
    let addr = rx
        .recv()
        .map_err(|_| DashboardError::Setup("the dashboard thread ended".into()))??;
    Ok(Running { addr })
}
