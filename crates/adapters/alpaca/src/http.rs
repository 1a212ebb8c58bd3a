//! The HTTP side: where the venue is, the credentials from the environment, and the shared
//! transport ([`systrade_broker::http`]) with Alpaca's rules — 200 requests a minute per
//! key, `X-RateLimit-Reset` on a 429, its refusals ([`crate::parse::refusal`]).
//!
//! Credentials come from the environment only (`APCA_API_KEY_ID`, `APCA_API_SECRET_KEY`)
//! and are registered with [`systrade_core::redact`] the moment they are read, so no log,
//! error or echoed server text can carry them.

use std::time::Duration;

use systrade_broker::http::{Client, Method, Request, VenueRules};
use systrade_broker::venue::{Refusal, env_value};
use systrade_core::contracts::ClientOrderId;

use crate::parse;

/// The paper trading host (the default: no real money without saying so).
pub const PAPER_HOST: &str = "https://paper-api.alpaca.markets";
/// The live trading host.
pub const LIVE_HOST: &str = "https://api.alpaca.markets";

/// Alpaca allows 200 requests a minute per key; the bucket stays a little under it.
const REQUESTS_PER_MINUTE: u32 = 190;

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
        let var = |name: &'static str| env_value(name).ok_or(MissingVariable(name));
        let key_id = var("APCA_API_KEY_ID")?;
        let secret = var("APCA_API_SECRET_KEY")?;
        let base = env_value("APCA_API_BASE_URL").unwrap_or_else(|| PAPER_HOST.to_string());
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

/// The client: the shared transport with Alpaca's key headers on every request.
pub struct Http {
    endpoint: Endpoint,
    client: Client,
}

impl Http {
    pub fn new(endpoint: Endpoint) -> Http {
        let rules = VenueRules {
            name: "alpaca",
            base_var: "APCA_API_BASE_URL",
            reset_header: "x-ratelimit-reset",
            refusal: parse::refusal,
        };
        let client = Client::new(
            &endpoint.base_url,
            rules,
            REQUESTS_PER_MINUTE,
            Duration::from_secs(60),
        );
        Http { endpoint, client }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Requests sent so far (benchmarks report it).
    pub fn calls(&self) -> u64 {
        self.client.calls()
    }

    /// `method path?query` with a JSON `body`; the body of a 2xx answer, else the venue's
    /// refusal of the call about `order`.
    pub fn call(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        order: Option<&ClientOrderId>,
    ) -> Result<String, Refusal> {
        let (key, secret) = (self.endpoint.key_id.clone(), self.endpoint.secret.clone());
        let auth = move |_: Method, _: &str| {
            Ok(vec![
                ("APCA-API-KEY-ID", key.clone()),
                ("APCA-API-SECRET-KEY", secret.clone()),
            ])
        };
        self.client.call(
            &Request {
                method,
                path,
                query,
                body,
                order,
            },
            &auth,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_base_url_loses_its_trailing_slash_and_v2_and_the_paper_host_is_known() {
        let e = Endpoint::new(
            "https://paper-api.alpaca.markets/v2/",
            "test-key-id-7",
            "test-secret-7",
        );
        assert_eq!(e.base_url, PAPER_HOST);
        assert!(e.is_paper_host());
        assert!(!Endpoint::new(LIVE_HOST, "test-key-id-7", "test-secret-7").is_paper_host());
        let shown = format!("{e:?}");
        assert!(
            !shown.contains("test-secret-7") && !shown.contains("test-key-id-7"),
            "{shown}"
        );
    }
}
