//! Serving a venue on 127.0.0.1: blocking (the CLI) or on a background thread (tests).

use std::net::SocketAddr;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use serde_json::json;

use crate::reply::Reply;

use crate::VenueError;

/// A venue's state: every request is answered in arrival order, under one lock.
pub(crate) trait Routes: Send + 'static {
    fn route(&mut self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Reply;
}

async fn handle<V: Routes>(
    State(v): State<Arc<Mutex<V>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    match v.lock() {
        Ok(mut venue) => venue.route(&method, &uri, &headers, &body),
        Err(_) => Reply::status(500, json!({"message": "Internal Server Error"})),
    }
}

/// `venue` as an axum app: every path goes through its one router.
pub(crate) fn app_of<V: Routes>(venue: V) -> Router {
    Router::new()
        .fallback(handle::<V>)
        .with_state(Arc::new(Mutex::new(venue)))
}

/// A venue serving on a background thread until the process ends.
pub struct Running {
    pub addr: SocketAddr,
}

impl Running {
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, VenueError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| VenueError::Setup(format!("cannot start the venue's runtime: {e}")))
}

async fn bind(port: u16) -> Result<tokio::net::TcpListener, VenueError> {
    let addr = format!("127.0.0.1:{port}");
    tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| VenueError::Listen {
            addr,
            message: e.to_string(),
        })
}

/// Serves `app` on `127.0.0.1:port` (0: any free port). Blocking: `ready` hears the address
/// once the venue accepts connections; returns on Ctrl-C.
pub fn serve_blocking(
    app: Router,
    port: u16,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), VenueError> {
    runtime()?.block_on(async move {
        let listener = bind(port).await?;
        let addr = listener.local_addr().map_err(|e| VenueError::Listen {
            addr: format!("127.0.0.1:{port}"),
            message: e.to_string(),
        })?;
        ready(addr);
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| VenueError::Setup(format!("the venue stopped: {e}")))
    })
}

/// Serves `app` on a background thread (any free port) and returns once it listens.
pub fn serve(app: Router) -> Result<Running, VenueError> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let sent = tx.clone();
        if let Err(e) = serve_blocking(app, 0, move |a| {
            let _ = sent.send(Ok(a));
        }) {
            let _ = tx.send(Err(e));
        }
    });
    let addr = rx
        .recv()
        .map_err(|_| VenueError::Setup("the venue thread ended before listening".into()))??;
    Ok(Running { addr })
}
