//! The HTTP side: where the venue is, the credentials from the environment, one request at
//! a time under a token bucket, and what a non-success answer means.
//!
//! Credentials come from the environment only (`APCA_API_KEY_ID`, `APCA_API_SECRET_KEY`)
//! and are registered with [`systrade_core::redact`] the moment they are read, so no log,
//! error or echoed server text can carry them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use systrade_broker::BrokerError;
use systrade_broker::rate::TokenBucket;
use systrade_broker::venue::Refusal;
use systrade_core::contracts::ClientOrderId;

use crate::parse;

/// The paper trading host (the default: no real money without saying so).
pub const PAPER_HOST: &str = "https://paper-api.alpaca.markets";
/// The live trading host.
pub const LIVE_HOST: &str = "https://api.alpaca.markets";

/// Alpaca allows 200 requests a minute per key; the bucket stays a little under it.
const REQUESTS_PER_MINUTE: u32 = 190;
/// The longest a 429's `X-RateLimit-Reset` is waited for before giving up on the call.
const MAX_RESET_WAIT: Duration = Duration::from_secs(60);

/// A variable the adapter needs is missing (exit 2 in the CLI: the user must set it).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "{0} is not set: Alpaca needs APCA_API_KEY_ID and APCA_API_SECRET_KEY in the environment (APCA_API_BASE_URL is optional: the paper host by default)"
)]
pub struct MissingVariable(pub &'static str);

/// Where the venue is and who we are there.
#[derive(Clone)]
pub struct Endpoint {
    /// Without a trailing `/` or `/v2`.
    pub base_url: String,
    key_id: String,
    secret: String,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// From `APCA_API_KEY_ID`, `APCA_API_SECRET_KEY` and `APCA_API_BASE_URL`.
    pub fn from_env() -> Result<Endpoint, MissingVariable> {
        let var = |name: &'static str| match std::env::var(name) {
            Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
            _ => Err(MissingVariable(name)),
        };
        let key_id = var("APCA_API_KEY_ID")?;
        let secret = var("APCA_API_SECRET_KEY")?;
        let base = std::env::var("APCA_API_BASE_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| PAPER_HOST.to_string());
        Ok(Endpoint::new(&base, &key_id, &secret))
    }

    pub fn new(base_url: &str, key_id: &str, secret: &str) -> Endpoint {
        systrade_core::redact::register(key_id);
        systrade_core::redact::register(secret);
        let mut base = base_url.trim().trim_end_matches('/').to_string();
        if let Some(b) = base.strip_suffix("/v2") {
            base = b.to_string();
        }
        Endpoint {
            base_url: base,
            key_id: key_id.to_string(),
            secret: secret.to_string(),
        }
    }

    /// The paper host (by URL; a local venue says so by its account number).
    pub fn is_paper_host(&self) -> bool {
        self.base_url == PAPER_HOST
    }
}

/// An HTTP method the adapter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

/// A successful answer: its status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// The blocking client: one agent, the bucket, and a count of requests made.
pub struct Http {
    endpoint: Endpoint,
    agent: ureq::Agent,
    bucket: TokenBucket,
    calls: u64,
}

impl Http {
    pub fn new(endpoint: Endpoint) -> Http {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build()
            .into();
        Http {
            endpoint,
            agent,
            bucket: TokenBucket::new(REQUESTS_PER_MINUTE, Duration::from_secs(60)),
            calls: 0,
        }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Requests sent so far (benchmarks report it).
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// `method path?query` with a JSON `body`; an answer that is not 2xx becomes the
    /// venue's [`Refusal`] for the call about `order`. A 429 waits for the venue's
    /// `X-RateLimit-Reset` (at most a minute) and tries once more.
    pub fn call(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        order: Option<&ClientOrderId>,
    ) -> Result<Answer, Refusal> {
        let mut waited = false;
        loop {
            let (status, text, reset) = self.send(method, path, query, body)?;
            if (200..300).contains(&status) {
                return Ok(Answer { status, body: text });
            }
            if status == 429
                && !waited
                && let Some(pause) = reset.filter(|p| *p <= MAX_RESET_WAIT)
            {
                waited = true;
                std::thread::sleep(pause);
                continue;
            }
            let clean = systrade_core::redact::redact(&text);
            return Err(parse::refusal(status, &clean, order));
        }
    }

    fn send(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, String, Option<Duration>), Refusal> {
        self.bucket.take();
        self.calls += 1;
        let url = format!("{}{path}", self.endpoint.base_url);
        let key = self.endpoint.key_id.as_str();
        let secret = self.endpoint.secret.as_str();
        let result = match method {
            Method::Get | Method::Delete => {
                let mut r = match method {
                    Method::Get => self.agent.get(&url),
                    _ => self.agent.delete(&url),
                };
                for (k, v) in query {
                    r = r.query(*k, v);
                }
                r.header("APCA-API-KEY-ID", key)
                    .header("APCA-API-SECRET-KEY", secret)
                    .call()
            }
            Method::Post | Method::Patch => {
                let mut r = match method {
                    Method::Post => self.agent.post(&url),
                    _ => self.agent.patch(&url),
                };
                for (k, v) in query {
                    r = r.query(*k, v);
                }
                let payload = body.map(|b| b.to_string()).unwrap_or_default();
                r.header("APCA-API-KEY-ID", key)
                    .header("APCA-API-SECRET-KEY", secret)
                    .header("content-type", "application/json")
                    .send(payload.as_bytes())
            }
        };
        match result {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let reset = resp
                    .headers()
                    .get("x-ratelimit-reset")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(until_epoch);
                let text = resp
                    .body_mut()
                    .with_config()
                    .limit(32 * 1024 * 1024)
                    .read_to_string()
                    .map_err(|e| Refusal::Error(transport(e)))?;
                Ok((status, text, reset))
            }
            Err(e) => Err(Refusal::Error(transport(e))),
        }
    }
}

/// How long until the UNIX second `epoch` (zero when it has passed).
fn until_epoch(epoch: u64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Duration::from_secs(epoch).saturating_sub(now)
}

/// A failure below HTTP, without the URL (ureq keeps URLs in some errors).
fn transport(e: ureq::Error) -> BrokerError {
    match e {
        ureq::Error::Timeout(_) => BrokerError::Timeout,
        ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => BrokerError::Timeout,
        ureq::Error::Io(e) => BrokerError::Unreachable(format!("alpaca: {}", e.kind())),
        ureq::Error::HostNotFound => BrokerError::Unreachable("alpaca: host not found".into()),
        ureq::Error::ConnectionFailed => {
            BrokerError::Unreachable("alpaca: connection failed".into())
        }
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => BrokerError::Invalid(
            "APCA_API_BASE_URL is not a usable URL (e.g. https://paper-api.alpaca.markets)".into(),
        ),
        ureq::Error::Tls(m) => BrokerError::Unreachable(format!("alpaca: TLS: {m}")),
        other => BrokerError::Unreachable(format!(
            "alpaca: {}",
            systrade_core::redact::redact(&other.to_string())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_base_url_loses_its_trailing_slash_and_v2_and_the_paper_host_is_known() {
        let e = Endpoint::new("https://paper-api.alpaca.markets/v2/", "k", "s");
        assert_eq!(e.base_url, PAPER_HOST);
        assert!(e.is_paper_host());
        assert!(!Endpoint::new(LIVE_HOST, "k", "s").is_paper_host());
        let shown = format!("{e:?}");
        assert!(
            !shown.contains("\"s\"") && !shown.contains("\"k\""),
            "{shown}"
        );
    }

    #[test]
    fn test_a_reset_in_the_past_waits_nothing() {
        assert_eq!(until_epoch(1), Duration::ZERO);
        let soon = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 5;
        assert!(until_epoch(soon) <= Duration::from_secs(5));
    }
}
